//! Read-only domain calls: lookups, listing, state, info, XML, console.

use virt_core::consts::{
    connect_list_all_domains_flags as list_flags, domain_state, domain_xml_flags,
};
use virt_core::{Error, ErrorDomain};
use virt_plugin_sdk::types::{ConsoleEndpoint, DomainInfo, DomainRef, DomainState, ObjectStatus};

use crate::def;
use crate::error::{no_domain_id, no_domain_name, not_running};
use crate::lifecycle::{self, resolve};
use crate::records::{self, DomainRecord};

pub fn lookup_by_name(name: &str) -> Result<DomainRef, Error> {
    records::find_by_name(name)?
        .map(|r| r.reference())
        .ok_or_else(|| no_domain_name(name))
}

pub fn lookup_by_uuid(uuid: virt_core::Uuid) -> Result<DomainRef, Error> {
    let text = uuid.to_string();
    records::load(&text)?.map(|r| r.reference()).ok_or_else(|| {
        crate::error::lxc_error(
            virt_core::ErrorNumber::NO_DOMAIN,
            format!("no domain with matching uuid '{text}'"),
        )
    })
}

pub fn lookup_by_id(id: i32) -> Result<DomainRef, Error> {
    records::all()?
        .into_iter()
        .find(|r| r.is_active() && r.id() == id)
        .map(|r| r.reference())
        .ok_or_else(|| no_domain_id(id))
}

fn matches(record: &DomainRecord, flags: u32) -> bool {
    let active = record.is_active();
    let persistent = record.config.is_some();
    let pairs = [
        (list_flags::ACTIVE, list_flags::INACTIVE, active),
        (list_flags::PERSISTENT, list_flags::TRANSIENT, persistent),
        (
            list_flags::AUTOSTART,
            list_flags::NO_AUTOSTART,
            record.autostart,
        ),
        (list_flags::MANAGEDSAVE, list_flags::NO_MANAGEDSAVE, false),
        (list_flags::HAS_SNAPSHOT, list_flags::NO_SNAPSHOT, false),
        (list_flags::HAS_CHECKPOINT, list_flags::NO_CHECKPOINT, false),
    ];
    for (yes, no, value) in pairs {
        if flags & (yes | no) != 0 && !((flags & yes != 0 && value) || (flags & no != 0 && !value))
        {
            return false;
        }
    }
    let state_flags =
        list_flags::RUNNING | list_flags::PAUSED | list_flags::SHUTOFF | list_flags::OTHER;
    if flags & state_flags != 0 {
        let state = record.state;
        let ok = (flags & list_flags::RUNNING != 0 && state == domain_state::RUNNING)
            || (flags & list_flags::PAUSED != 0 && state == domain_state::PAUSED)
            || (flags & list_flags::SHUTOFF != 0 && state == domain_state::SHUTOFF)
            || (flags & list_flags::OTHER != 0
                && ![
                    domain_state::RUNNING,
                    domain_state::PAUSED,
                    domain_state::SHUTOFF,
                ]
                .contains(&state));
        if !ok {
            return false;
        }
    }
    true
}

pub fn list_all(flags: u32) -> Result<Vec<DomainRef>, Error> {
    let mut records = records::all()?;
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records
        .iter()
        .filter(|r| matches(r, flags))
        .map(DomainRecord::reference)
        .collect())
}

pub fn get_state(dom: &DomainRef, flags: u32) -> Result<DomainState, Error> {
    Error::check_flags(ErrorDomain::LXC, flags, 0, "virDomainGetState")?;
    let record = resolve(dom)?;
    Ok(DomainState {
        state: record.state,
        reason: record.reason,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let record = resolve(dom)?;
    Ok(ObjectStatus {
        active: record.is_active(),
        persistent: record.config.is_some(),
        autostart: record.autostart,
        updated: record.is_active()
            && record.config.is_some()
            && record.live.as_ref().is_some_and(|live| {
                let running = def::parse_stored(&live.xml).ok().map(|mut d| {
                    d.id = None;
                    d.format(&virt_xml::FormatFlags {
                        inactive: true,
                        secure: true,
                        ..Default::default()
                    })
                });
                running.as_deref() != record.config.as_deref()
            }),
        has_managed_save: false,
    })
}

fn definition(record: &DomainRecord) -> Result<virt_xml::domain::Domain, Error> {
    let xml = record
        .current_xml()
        .ok_or_else(|| crate::error::internal("domain record without definition"))?;
    def::parse_stored(xml)
}

pub fn get_xml(dom: &DomainRef, flags: u32) -> Result<String, Error> {
    let allowed = domain_xml_flags::SECURE
        | domain_xml_flags::INACTIVE
        | domain_xml_flags::UPDATE_CPU
        | domain_xml_flags::MIGRATABLE;
    Error::check_flags(ErrorDomain::LXC, flags, allowed, "virDomainGetXMLDesc")?;
    let record = resolve(dom)?;
    let xml = if flags & domain_xml_flags::INACTIVE != 0 {
        record.config.as_deref().or(record.current_xml())
    } else {
        record.current_xml()
    };
    let domain = def::parse_stored(
        xml.ok_or_else(|| crate::error::internal("domain record without definition"))?,
    )?;
    let inactive = flags & domain_xml_flags::INACTIVE != 0 || !record.is_active();
    Ok(domain.format(&virt_xml::FormatFlags {
        inactive,
        secure: flags & domain_xml_flags::SECURE != 0,
        ..Default::default()
    }))
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let record = resolve(dom)?;
    let domain = definition(&record)?;
    let max_mem_kib = domain.memory_kib();
    let (memory_kib, cpu_time_ns) = match lifecycle::container_info(dom)? {
        Some(info) => (info.memory_kib, info.cpu_time_ns),
        None => (domain.current_memory_kib(), 0),
    };
    Ok(DomainInfo {
        state: record.state as u8,
        max_mem_kib,
        memory_kib,
        nr_virt_cpu: domain.current_vcpus() as u16,
        cpu_time_ns,
    })
}

pub fn get_max_memory(dom: &DomainRef) -> Result<u64, Error> {
    Ok(definition(&resolve(dom)?)?.memory_kib())
}

pub fn get_os_type(dom: &DomainRef) -> Result<String, Error> {
    resolve(dom)?;
    Ok("exe".to_string())
}

pub fn open_console(dom: &DomainRef, dev_name: Option<&str>) -> Result<ConsoleEndpoint, Error> {
    let record = resolve(dom)?;
    if !record.is_active() {
        return Err(not_running());
    }
    if let Some(name) = dev_name {
        if name != "console0" && name != "console" {
            return Err(crate::error::lxc_error(
                virt_core::ErrorNumber::INTERNAL_ERROR,
                format!("cannot find console device '{name}'"),
            ));
        }
    }
    let run_dir = std::path::PathBuf::from(records::dirs().run);
    let socket = rvirt_lxc_controller::paths::console_socket(&run_dir, &record.name);
    Ok(ConsoleEndpoint::UnixSocket(
        socket.to_string_lossy().into_owned(),
    ))
}
