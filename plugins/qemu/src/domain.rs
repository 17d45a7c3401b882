//! Domains as objects: lookup, listing, define/undefine, XML, state queries, autostart, and
//! the persistent files (config XML, autostart marker, status XML) libvirt keeps for them.

use virt_core::consts::{
    connect_list_all_domains_flags as list_flags,
    domain_event_defined_detail_type as defined_detail, domain_event_type as event_type,
    domain_event_undefined_detail_type as undefined_detail, domain_state as state,
    domain_undefine_flags_values as undefine_flags, domain_xml_flags as xml_flags,
};
use virt_core::{ErrorNumber, Uuid};
use virt_plugin_sdk::host::{events, files, jobs, state as host_state};
use virt_plugin_sdk::types::{DomainRef, Error, Event};
use virt_xml::domain::Domain;
use virt_xml::FormatFlags;

use crate::argv::prepare;
use crate::capabilities::cache::{binary_for_arch, capabilities_for};
use crate::capabilities::QemuCaps;
use crate::error::{check_flags, invalid_operation, qemu_error, unsupported_config};
use crate::records::{self, DomainRecord, LiveRecord};
use crate::space::SpaceLayout;

/// A domain as the records describe it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub record: DomainRecord,
    pub live: Option<LiveRecord>,
}

impl Loaded {
    pub fn uuid(&self) -> &str {
        &self.record.uuid
    }

    pub fn is_active(&self) -> bool {
        self.live
            .as_ref()
            .is_some_and(|live| live.state != state::SHUTOFF)
    }

    pub fn reference(&self) -> DomainRef {
        reference(&self.record, self.live.as_ref())
    }

    /// The definition currently in effect: the live one while running, else the persistent one.
    pub fn current_xml(&self) -> Option<&str> {
        match &self.live {
            Some(live) => Some(live.xml.as_str()),
            None => self.record.config_xml.as_deref(),
        }
    }

    /// The state and reason libvirt would report.
    pub fn state(&self) -> (i32, i32) {
        match &self.live {
            Some(live) => (live.state, live.reason),
            None => (state::SHUTOFF, self.record.shutoff_reason),
        }
    }
}

/// The WIT reference of a domain.
pub fn reference(record: &DomainRecord, live: Option<&LiveRecord>) -> DomainRef {
    let uuid = virt_core::parse_uuid(&record.uuid).unwrap_or_default();
    DomainRef {
        name: record.name.clone(),
        uuid: uuid.into(),
        id: live.map_or(-1, |live| live.id),
    }
}

/// The UUID text of a WIT reference.
pub fn uuid_text(dom: &DomainRef) -> String {
    Uuid::from(dom.uuid).hyphenated().to_string()
}

/// Reads a domain by UUID.
pub fn load(uuid: &str) -> Option<Loaded> {
    let record: DomainRecord = records::get_json(records::DOMAIN, uuid)?;
    let live = records::get_json(records::LIVE, uuid);
    Some(Loaded { record, live })
}

/// Reads the domain a reference names, or libvirt's "Domain not found".
pub fn get(dom: &DomainRef) -> Result<Loaded, Error> {
    let uuid = uuid_text(dom);
    load(&uuid).ok_or_else(|| {
        qemu_error(
            ErrorNumber::NO_DOMAIN,
            format!("no domain with matching uuid '{uuid}' ({})", dom.name),
        )
    })
}

/// Every domain of the space.
pub fn all() -> Vec<Loaded> {
    let lives: std::collections::HashMap<String, LiveRecord> =
        records::list_json(records::LIVE).into_iter().collect();
    records::list_json::<DomainRecord>(records::DOMAIN)
        .into_iter()
        .map(|(uuid, record)| Loaded {
            live: lives.get(&uuid).cloned(),
            record,
        })
        .collect()
}

pub fn lookup_by_name(name: &str) -> Result<DomainRef, Error> {
    all()
        .into_iter()
        .find(|domain| domain.record.name == name)
        .map(|domain| domain.reference())
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::NO_DOMAIN,
                format!("no domain with matching name '{name}'"),
            )
        })
}

pub fn lookup_by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    let text = uuid.hyphenated().to_string();
    load(&text).map(|domain| domain.reference()).ok_or_else(|| {
        qemu_error(
            ErrorNumber::NO_DOMAIN,
            format!("no domain with matching uuid '{text}'"),
        )
    })
}

pub fn lookup_by_id(id: i32) -> Result<DomainRef, Error> {
    all()
        .into_iter()
        .find(|domain| domain.is_active() && domain.live.as_ref().is_some_and(|live| live.id == id))
        .map(|domain| domain.reference())
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::NO_DOMAIN,
                format!("no domain with matching id {id}"),
            )
        })
}

/// `virConnectListAllDomains` with its filters.
pub fn list_all(flags: u32) -> Result<Vec<DomainRef>, Error> {
    check_flags("qemuConnectListAllDomains", flags, 0xffff)?;
    let pairs = [
        (list_flags::ACTIVE, list_flags::INACTIVE),
        (list_flags::PERSISTENT, list_flags::TRANSIENT),
        (list_flags::MANAGEDSAVE, list_flags::NO_MANAGEDSAVE),
        (list_flags::AUTOSTART, list_flags::NO_AUTOSTART),
        (list_flags::HAS_SNAPSHOT, list_flags::NO_SNAPSHOT),
        (list_flags::HAS_CHECKPOINT, list_flags::NO_CHECKPOINT),
    ];
    let state_mask =
        list_flags::RUNNING | list_flags::PAUSED | list_flags::SHUTOFF | list_flags::OTHER;
    let mut domains: Vec<Loaded> = all()
        .into_iter()
        .filter(|domain| {
            let has_snapshot = crate::snapshots::count(domain.uuid()) > 0;
            let facts = [
                domain.is_active(),
                domain.record.persistent(),
                domain.record.has_managed_save,
                domain.record.autostart,
                has_snapshot,
                false,
            ];
            for ((yes, no), fact) in pairs.iter().zip(facts) {
                if flags & (yes | no) != 0 && flags & (yes | no) != (yes | no) {
                    let wanted = flags & yes != 0;
                    if fact != wanted {
                        return false;
                    }
                }
            }
            if flags & state_mask != 0 {
                let (current, _) = domain.state();
                let bit = match current {
                    state::RUNNING => list_flags::RUNNING,
                    state::PAUSED => list_flags::PAUSED,
                    state::SHUTOFF => list_flags::SHUTOFF,
                    _ => list_flags::OTHER,
                };
                if flags & bit == 0 {
                    return false;
                }
            }
            true
        })
        .collect();
    domains.sort_by(|a, b| a.record.name.cmp(&b.record.name));
    Ok(domains.iter().map(Loaded::reference).collect())
}

/// Parses domain XML the way a define does: libvirt's post-parse, define-time checks, then
/// the QEMU driver's own defaults and addresses, against the emulator's capabilities.
pub fn parse_for_qemu(
    xml: &str,
    layout: &SpaceLayout,
) -> Result<(Domain, std::sync::Arc<QemuCaps>), Error> {
    let mut def = Domain::parse_for_define(xml).map_err(Error::from)?;
    match def.virt_type {
        Some(virt_xml::domain::VirtType::Qemu | virt_xml::domain::VirtType::Kvm) | None => {}
        Some(other) => {
            return Err(qemu_error(
                ErrorNumber::INVALID_ARG,
                format!(
                    "unsupported configuration: Emulator does not support virt type '{}'",
                    other.as_str()
                ),
            ))
        }
    }
    let emulator = match def.devices.emulator.clone() {
        Some(emulator) => emulator,
        None => binary_for_arch(prepare::guest_arch(&def))?,
    };
    let caps = capabilities_for(layout, &emulator)?;
    prepare::apply_qemu_defaults(&mut def, &caps)?;
    check_against_caps(&def, &caps)?;
    prepare::assign_addresses(&mut def)?;
    Ok((def, caps))
}

/// What libvirt's QEMU validation refuses because this emulator cannot do it.
fn check_against_caps(def: &Domain, caps: &QemuCaps) -> Result<(), Error> {
    let machine = prepare::machine_name(def);
    if caps.machine(machine).is_none() {
        return Err(unsupported_config(format!(
            "Emulator '{}' does not support machine type '{machine}'",
            caps.binary
        )));
    }
    if def.virt_type == Some(virt_xml::domain::VirtType::Kvm) && !caps.kvm {
        return Err(unsupported_config(format!(
            "Emulator '{}' does not support virt type 'kvm'",
            caps.binary
        )));
    }
    let arch = prepare::guest_arch(def);
    let compatible = arch == caps.libvirt_arch() || (arch == "i686" && caps.arch == "x86_64");
    if !compatible {
        return Err(unsupported_config(format!(
            "Emulator '{}' does not support arch '{arch}'",
            caps.binary
        )));
    }
    Ok(())
}

/// The persistent form of a definition: no runtime aliases, no id.
pub fn inactive_xml(def: &Domain) -> String {
    let mut def = def.clone();
    def.id = None;
    prepare::strip_generated_aliases(&mut def);
    def.format(&FormatFlags {
        secure: true,
        inactive: true,
        ..FormatFlags::default()
    })
}

/// `virDomainDefineXML`.
pub fn define(xml: &str, flags: u32) -> Result<DomainRef, Error> {
    check_flags(
        "qemuDomainDefineXMLFlags",
        flags,
        virt_core::consts::domain_define_flags::VALIDATE,
    )?;
    let layout = SpaceLayout::current()?;
    let (def, _) = parse_for_qemu(xml, &layout)?;
    let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
    let name = def.name().to_string();
    jobs::begin(&format!("domain/{uuid}"))?;
    check_unique(&uuid, &name)?;
    let existing = load(&uuid);
    let config_xml = inactive_xml(&def);
    let mut record = existing
        .as_ref()
        .map(|domain| domain.record.clone())
        .unwrap_or_else(|| DomainRecord {
            uuid: uuid.clone(),
            name: name.clone(),
            ..DomainRecord::default()
        });
    let detail = if record.persistent() {
        defined_detail::UPDATED
    } else {
        defined_detail::ADDED
    };
    record.config_xml = Some(config_xml.clone());
    files::write(&layout.config_file(&name), config_xml.as_bytes())?;
    records::put_json(records::DOMAIN, &uuid, &record);
    let live = existing.and_then(|domain| domain.live);
    let reference = reference(&record, live.as_ref());
    events::emit(&Event::DomainLifecycle((
        reference.clone(),
        event_type::DEFINED,
        detail,
    )));
    Ok(reference)
}

/// libvirt's name/UUID uniqueness rules for a new or redefined domain.
pub fn check_unique(uuid: &str, name: &str) -> Result<(), Error> {
    for domain in all() {
        if domain.record.uuid == uuid && domain.record.name != name {
            return Err(qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "domain '{}' is already defined with uuid {uuid}",
                    domain.record.name
                ),
            ));
        }
        if domain.record.name == name && domain.record.uuid != uuid {
            return Err(qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "domain '{name}' already exists with uuid {}",
                    domain.record.uuid
                ),
            ));
        }
    }
    Ok(())
}

/// `virDomainUndefineFlags`.
pub fn undefine(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainUndefineFlags",
        flags,
        undefine_flags::MANAGED_SAVE
            | undefine_flags::SNAPSHOTS_METADATA
            | undefine_flags::NVRAM
            | undefine_flags::KEEP_NVRAM
            | undefine_flags::CHECKPOINTS_METADATA
            | undefine_flags::TPM
            | undefine_flags::KEEP_TPM,
    )?;
    let uuid = uuid_text(dom);
    jobs::begin(&format!("domain/{uuid}"))?;
    let domain = get(dom)?;
    let layout = SpaceLayout::current()?;
    if !domain.record.persistent() {
        return Err(invalid_operation("cannot undefine transient domain"));
    }
    let n_snapshots = crate::snapshots::count(&uuid);
    if n_snapshots > 0 && flags & undefine_flags::SNAPSHOTS_METADATA == 0 {
        return Err(invalid_operation(format!(
            "cannot delete inactive domain with {n_snapshots} snapshots"
        )));
    }
    if domain.record.has_managed_save {
        if flags & undefine_flags::MANAGED_SAVE == 0 {
            return Err(invalid_operation(
                "Refusing to undefine while domain managed save image exists",
            ));
        }
        files::remove(&layout.managed_save_file(&domain.record.name))?;
    }
    crate::snapshots::delete_all_metadata(&uuid, &domain.record.name, &layout);
    if flags & undefine_flags::KEEP_TPM == 0 {
        crate::lifecycle::remove_tree(&crate::swtpm::state_root(&layout, &uuid));
    }
    files::remove(&layout.config_file(&domain.record.name))?;
    files::remove(&layout.autostart_file(&domain.record.name))?;
    let reference = domain.reference();
    if domain.is_active() {
        // A running domain becomes transient and disappears when it stops.
        let mut record = domain.record.clone();
        record.config_xml = None;
        record.autostart = false;
        record.has_managed_save = false;
        records::put_json(records::DOMAIN, &uuid, &record);
    } else {
        host_state::delete(records::DOMAIN, &uuid);
    }
    events::emit(&Event::DomainLifecycle((
        reference,
        event_type::UNDEFINED,
        undefined_detail::REMOVED,
    )));
    Ok(())
}

/// `virDomainGetXMLDesc`.
pub fn xml_desc(dom: &DomainRef, flags: u32) -> Result<String, Error> {
    check_flags(
        "qemuDomainGetXMLDesc",
        flags,
        xml_flags::SECURE | xml_flags::INACTIVE | xml_flags::UPDATE_CPU | xml_flags::MIGRATABLE,
    )?;
    let domain = get(dom)?;
    let inactive = flags & xml_flags::INACTIVE != 0;
    let xml = match (&domain.live, inactive) {
        (Some(_), true) if domain.record.config_xml.is_some() => {
            domain.record.config_xml.clone().unwrap_or_default()
        }
        (Some(live), _) if flags & xml_flags::MIGRATABLE != 0 => migratable_def(live)?.to_xml(),
        (Some(live), _) => live.xml.clone(),
        (None, _) => domain.record.config_xml.clone().unwrap_or_default(),
    };
    if flags & xml_flags::SECURE != 0 {
        return Ok(xml);
    }
    // Passwords only show with VIR_DOMAIN_XML_SECURE.
    let def = Domain::parse(&xml).map_err(Error::from)?;
    Ok(def.format(&FormatFlags {
        secure: false,
        inactive: def.id.is_none() || inactive,
        ..FormatFlags::default()
    }))
}

/// `virDomainSetAutostart`: the record plus libvirt's marker file in `autostart/`.
pub fn set_autostart(dom: &DomainRef, autostart: bool) -> Result<(), Error> {
    let uuid = uuid_text(dom);
    jobs::begin(&format!("domain/{uuid}"))?;
    let domain = get(dom)?;
    if !domain.record.persistent() {
        return Err(invalid_operation(
            "cannot set autostart for transient domain",
        ));
    }
    let layout = SpaceLayout::current()?;
    let marker = layout.autostart_file(&domain.record.name);
    if autostart {
        files::write(
            &marker,
            domain
                .record
                .config_xml
                .clone()
                .unwrap_or_default()
                .as_bytes(),
        )?;
    } else {
        files::remove(&marker)?;
    }
    let mut record = domain.record;
    record.autostart = autostart;
    records::put_json(records::DOMAIN, &uuid, &record);
    Ok(())
}

/// Writes a changed persistent definition: the config file and the domain's record.
pub fn store_config(loaded: &Loaded, def: &Domain, layout: &SpaceLayout) -> Result<(), Error> {
    let xml = inactive_xml(def);
    files::write(&layout.config_file(&loaded.record.name), xml.as_bytes())?;
    // The record as this call last wrote it, which may be newer than `loaded`.
    let mut record = records::get_json::<records::DomainRecord>(records::DOMAIN, loaded.uuid())
        .unwrap_or_else(|| loaded.record.clone());
    record.config_xml = Some(xml);
    records::put_json(records::DOMAIN, loaded.uuid(), &record);
    Ok(())
}

/// The live definition as another QEMU may start it (libvirt's `VIR_DOMAIN_XML_MIGRATABLE`):
/// paths the driver generated under this run's directory (guest agent and other channel
/// sockets) are dropped, so the next start generates its own.
pub fn migratable_def(live: &LiveRecord) -> Result<Domain, Error> {
    let mut def = live_def(live)?;
    let run_dir = format!("{}/", live.run_dir);
    for channel in &mut def.devices.channels {
        for source in &mut channel.sources {
            if source
                .path
                .as_deref()
                .is_some_and(|path| path.starts_with(&run_dir))
            {
                source.path = None;
            }
        }
    }
    Ok(def)
}

/// The live definition of a running domain.
pub fn live_def(live: &LiveRecord) -> Result<Domain, Error> {
    Domain::parse(&live.xml).map_err(Error::from)
}

/// Writes the status file (`<run>/<name>.xml`) of a running domain, libvirt's `<domstatus>`
/// wrapper around the live XML, atomically.
pub fn write_status_file(layout: &SpaceLayout, name: &str, live: &LiveRecord) -> Result<(), Error> {
    let state_name = match live.state {
        state::RUNNING => "running",
        state::PAUSED => "paused",
        state::SHUTDOWN => "shutdown",
        state::CRASHED => "crashed",
        state::PMSUSPENDED => "pmsuspended",
        _ => "shutoff",
    };
    let mut monitor_path = String::new();
    virt_xml::xml::escape_into(&mut monitor_path, &live.monitor_path);
    let mut text = format!(
        "<domstatus state='{state_name}' reason='{}' pid='{}'>\n  <monitor path='{monitor_path}' type='unix'/>\n",
        live.reason, live.pid
    );
    for line in live.xml.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text.push_str("</domstatus>\n");
    files::write(&layout.status_file(name), text.as_bytes())
}

/// `virConnectDomainXMLToNative` with format `qemu-argv`: the command line a start would
/// run (as libvirt, with `-S` and id -1), as one shell line.
pub fn xml_to_native(format: &str, xml: &str, flags: u32) -> Result<String, Error> {
    check_flags("qemuConnectDomainXMLToNative", flags, 0)?;
    if format != "qemu-argv" {
        return Err(qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("unsupported config type {format}"),
        ));
    }
    let layout = SpaceLayout::current()?;
    let (mut def, caps) = parse_for_qemu(xml, &layout)?;
    prepare::prepare_for_start(&mut def);
    prepare::assign_aliases(&mut def);
    let run_dir = layout.domain_run_dir(-1, def.name());
    let config = layout.driver_config()?;
    crate::argv::devices::assign_spice_ports(
        &mut def,
        &config,
        &mut crate::argv::devices::pretend_spice_port,
    )?;
    let ctx = crate::argv::BuildContext {
        domain_dir: run_dir.clone(),
        monitor_socket: format!("{run_dir}/monitor.sock"),
        channel_dir: run_dir.clone(),
        privileged: matches!(layout.kind, crate::space::SpaceKind::System),
        start_paused: true,
        master_key: true,
        secret_values: crate::lifecycle::secret_values(&def, &config)?,
        pretend: true,
        ..crate::argv::BuildContext::default()
    };
    let cmd = crate::argv::build_with_config(&def, &caps, &ctx, &config)?;
    Ok(cmd.to_shell_line())
}

/// A fresh space finds the domains libvirt's files describe: persistent definitions in the
/// config directory (autostart markers beside them) and running ones in status files.
pub fn import_config_dir(layout: &SpaceLayout) {
    let Ok(names) = files::list_dir(&layout.config_dir) else {
        return;
    };
    let autostart: Vec<String> = files::list_dir(&layout.autostart_dir()).unwrap_or_default();
    for file in names.iter().filter(|name| name.ends_with(".xml")) {
        let path = format!("{}/{file}", layout.config_dir);
        let Ok(bytes) = files::read(&path) else {
            continue;
        };
        let xml = String::from_utf8_lossy(&bytes).into_owned();
        let def = match parse_for_qemu(&xml, layout) {
            Ok((def, _)) => def,
            Err(error) => {
                virt_plugin_sdk::warn!("ignoring domain config {path}: {}", error.message);
                continue;
            }
        };
        let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
        if load(&uuid).is_some() {
            continue;
        }
        let record = DomainRecord {
            uuid: uuid.clone(),
            name: def.name().to_string(),
            config_xml: Some(inactive_xml(&def)),
            autostart: autostart.iter().any(|marker| marker == file),
            ..DomainRecord::default()
        };
        records::put_json(records::DOMAIN, &uuid, &record);
    }
    import_status_files(layout);
}

/// Status files of domains that were running when the records were lost: their QEMU is
/// found again by pid (and its start time from /proc) and reattached.
fn import_status_files(layout: &SpaceLayout) {
    let Ok(names) = files::list_dir(&layout.run_dir) else {
        return;
    };
    for file in names.iter().filter(|name| name.ends_with(".xml")) {
        let path = format!("{}/{file}", layout.run_dir);
        let Ok(bytes) = files::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let attribute = |name: &str| -> Option<String> {
            let needle = format!(" {name}='");
            let start = text.find(&needle)? + needle.len();
            let end = text[start..].find('\'')? + start;
            Some(text[start..end].to_string())
        };
        let (Some(pid), Some(monitor_path)) = (
            attribute("pid").and_then(|pid| pid.parse::<i32>().ok()),
            attribute("path"),
        ) else {
            continue;
        };
        let Some(start) = text.find("<domain") else {
            continue;
        };
        let Some(end) = text.rfind("</domain>") else {
            continue;
        };
        let xml = &text[start..end + "</domain>".len()];
        let Ok(def) = Domain::parse(xml) else {
            continue;
        };
        let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
        let start_time = process_start_time(pid).unwrap_or(0);
        let live = LiveRecord {
            id: def.id.unwrap_or(0),
            xml: def.to_xml(),
            state: state::RUNNING,
            reason: 0,
            pid,
            start_time,
            monitor_path: monitor_path.clone(),
            run_dir: monitor_path
                .rsplit_once('/')
                .map_or(String::new(), |(dir, _)| dir.to_string()),
            log_path: layout.log_file(def.name()),
            ..LiveRecord::default()
        };
        if load(&uuid).is_none() {
            let record = DomainRecord {
                uuid: uuid.clone(),
                name: def.name().to_string(),
                ..DomainRecord::default()
            };
            records::put_json(records::DOMAIN, &uuid, &record);
        }
        records::put_json(records::LIVE, &uuid, &live);
    }
    crate::lifecycle::reattach_all();
}

/// A process's start time in clock ticks since boot (/proc/PID/stat field 22).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let bytes = files::read(&format!("/proc/{pid}/stat")).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let rest = text.rsplit_once(')')?.1;
    // After the command name: field 3 is at index 0, so field 22 is at index 19.
    rest.split_whitespace().nth(19)?.parse().ok()
}
