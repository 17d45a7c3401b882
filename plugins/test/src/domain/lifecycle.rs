//! Defining, starting, stopping and renaming domains, and the read-only calls about their
//! state, as libvirt's test driver does them.
//!
//! State checks follow the test driver: a few invalid states are VIR_ERR_INTERNAL_ERROR
//! ("domain 'x' not running", "Domain 'x' is already running"), the rest the shared
//! `virDomainObjCheckActive` VIR_ERR_OPERATION_INVALID. Messages name the domain as the
//! caller's handle names it.

use virt_core::consts::{
    domain_create_flags, domain_define_flags, domain_destroy_flags_values,
    domain_event_defined_detail_type, domain_event_resumed_detail_type,
    domain_event_started_detail_type, domain_event_stopped_detail_type,
    domain_event_suspended_detail_type, domain_event_type, domain_event_undefined_detail_type,
    domain_lifecycle_action, domain_paused_reason, domain_reboot_flag_values,
    domain_running_reason, domain_shutoff_reason, domain_state, domain_undefine_flags_values,
    domain_xml_flags,
};
use virt_core::{ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState};

use super::def::DomainDef;
use super::{Defs, Domain, Existing, DOMAINS_JOB};
use crate::error;
use crate::space::Space;

/// `virDomainDefineXMLFlags`.
pub(crate) fn define_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<DomainRef> {
    error::check_flags(
        flags,
        domain_define_flags::VALIDATE,
        "testDomainDefineXMLFlags",
    )?;
    let new_def = DomainDef::parse(xml)?;
    if new_def.name().contains('\n') {
        return Err(virt_core::Error::new(
            ErrorNumber::XML_DETAIL,
            ErrorDomain::XML,
            "invalid char in name: \n",
        ));
    }
    space.begin_job(DOMAINS_JOB)?;
    match super::find_existing(space, &new_def)? {
        Existing::None => {
            let mut d = Domain {
                uuid: new_def.uuid(),
                rec: super::new_record(&new_def),
            };
            d.rec.persistent = true;
            let defs = Defs {
                def: new_def,
                new_def: None,
            };
            super::insert(space, &mut d, &defs)?;
            d.emit_lifecycle(
                space,
                domain_event_type::DEFINED,
                domain_event_defined_detail_type::ADDED,
            );
            Ok(d.reference())
        }
        Existing::Same(existing) => {
            space.begin_job(&existing.job())?;
            let mut d = existing;
            let mut defs = d.defs(space)?;
            // virDomainObjAssignDef: a running domain keeps its live definition and gets a
            // new persistent one; an inactive one is simply replaced.
            let had_old = if d.rec.is_active() {
                let had = defs.new_def.is_some();
                defs.new_def = Some(new_def);
                had
            } else {
                defs.def = new_def;
                true
            };
            d.rec.persistent = true;
            d.write_all(space, &defs)?;
            let detail = if had_old {
                domain_event_defined_detail_type::UPDATED
            } else {
                domain_event_defined_detail_type::ADDED
            };
            d.emit_lifecycle(space, domain_event_type::DEFINED, detail);
            Ok(d.reference())
        }
    }
}

/// `virDomainCreateXML`: a transient domain, running at once.
pub(crate) fn create_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<DomainRef> {
    error::check_flags(
        flags,
        domain_create_flags::START_VALIDATE,
        "testDomainCreateXML",
    )?;
    let new_def = DomainDef::parse(xml)?;
    space.begin_job(DOMAINS_JOB)?;
    let (mut d, mut defs, is_new) = add_live(space, new_def)?;
    super::start_state(space, &mut d, &mut defs, domain_running_reason::BOOTED)?;
    if is_new {
        super::insert(space, &mut d, &defs)?;
    } else {
        d.write_all(space, &defs)?;
    }
    d.emit_lifecycle(
        space,
        domain_event_type::STARTED,
        domain_event_started_detail_type::BOOTED,
    );
    Ok(d.reference())
}

/// `virDomainObjListAdd` with `ADD_LIVE | ADD_CHECK_LIVE`: the definition a domain is about
/// to run with, for createXML and restore. Nothing is written; the caller holds
/// [`DOMAINS_JOB`]. The flag says whether the domain is new.
pub(crate) fn add_live(space: &dyn Space, new_def: DomainDef) -> Result<(Domain, Defs, bool)> {
    match super::find_existing(space, &new_def)? {
        Existing::None => {
            let d = Domain {
                uuid: new_def.uuid(),
                rec: super::new_record(&new_def),
            };
            Ok((
                d,
                Defs {
                    def: new_def,
                    new_def: None,
                },
                true,
            ))
        }
        Existing::Same(existing) => {
            if existing.rec.is_active() {
                return Err(error::domain_conf(
                    ErrorNumber::OPERATION_INVALID,
                    format!("domain '{}' is already active", existing.rec.name),
                ));
            }
            if !existing.rec.persistent {
                return Err(error::domain_conf(
                    ErrorNumber::OPERATION_INVALID,
                    format!("domain '{}' is already being started", existing.rec.name),
                ));
            }
            space.begin_job(&existing.job())?;
            let mut defs = existing.defs(space)?;
            // The persistent definition is kept aside to come back at shutdown.
            if defs.new_def.is_none() {
                defs.new_def = Some(std::mem::replace(&mut defs.def, new_def));
            } else {
                defs.def = new_def;
            }
            Ok((existing, defs, false))
        }
    }
}

/// `virDomainUndefineFlags`: an inactive domain is removed, a running one becomes transient.
pub(crate) fn undefine(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        domain_undefine_flags_values::MANAGED_SAVE
            | domain_undefine_flags_values::SNAPSHOTS_METADATA,
        "testDomainUndefineFlags",
    )?;
    let mut d = super::get_for_membership_change(space, dom)?;
    if d.rec.has_managed_save && flags & domain_undefine_flags_values::MANAGED_SAVE == 0 {
        return Err(error::operation_invalid(
            "Refusing to undefine while domain managed save image exists",
        ));
    }
    if !d.rec.is_active()
        && d.rec.n_snapshots > 0
        && flags & domain_undefine_flags_values::SNAPSHOTS_METADATA == 0
    {
        return Err(error::operation_invalid(format!(
            "cannot delete inactive domain with {} snapshots",
            d.rec.n_snapshots
        )));
    }
    d.emit_lifecycle(
        space,
        domain_event_type::UNDEFINED,
        domain_event_undefined_detail_type::REMOVED,
    );
    d.rec.has_managed_save = false;
    if d.rec.is_active() {
        d.rec.persistent = false;
        d.write_record(space)
    } else {
        d.remove(space);
        Ok(())
    }
}

/// `virDomainCreateWithFlags`: starts a defined domain.
pub(crate) fn create(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
    error::check_flags(flags, 0, "testDomainCreateWithFlags")?;
    let mut d = super::get_for_membership_change(space, dom)?;
    if d.rec.state != domain_state::SHUTOFF {
        return Err(error::internal(format!(
            "Domain '{}' is already running",
            dom.name
        )));
    }
    let mut defs = d.defs(space)?;
    super::start_state(space, &mut d, &mut defs, domain_running_reason::BOOTED)?;
    d.write_all(space, &defs)?;
    d.emit_lifecycle(
        space,
        domain_event_type::STARTED,
        domain_event_started_detail_type::BOOTED,
    );
    Ok(d.reference())
}

/// Stops a running domain for `reason`, emits STOPPED/`detail`, and removes it when
/// transient. The caller holds the jobs and has checked the state.
pub(crate) fn stop(space: &dyn Space, mut d: Domain, reason: i32, detail: i32) -> Result<()> {
    let mut defs = d.defs(space)?;
    super::shutdown_state(space, &mut d, &mut defs, reason);
    d.emit_lifecycle(space, domain_event_type::STOPPED, detail);
    super::finish_stop(space, &mut d, &defs)
}

/// `virDomainDestroyFlags`.
pub(crate) fn destroy(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        domain_destroy_flags_values::GRACEFUL,
        "testDomainDestroyFlags",
    )?;
    let d = super::get_for_membership_change(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    stop(
        space,
        d,
        domain_shutoff_reason::DESTROYED,
        domain_event_stopped_detail_type::DESTROYED,
    )
}

/// `testDomainActionSetState`: what a guest-initiated power-off or reboot leads to.
fn apply_lifecycle_action(space: &dyn Space, mut d: Domain, action: i32) -> Result<()> {
    match action {
        domain_lifecycle_action::RESTART | domain_lifecycle_action::RESTART_RENAME => {
            d.set_state(domain_state::RUNNING, domain_running_reason::BOOTED);
            d.write_record(space)
        }
        _ => stop(
            space,
            d,
            domain_shutoff_reason::SHUTDOWN,
            domain_event_stopped_detail_type::SHUTDOWN,
        ),
    }
}

/// `virDomainShutdownFlags`: the domain's `on_poweroff` action, at once.
pub(crate) fn shutdown(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testDomainShutdownFlags")?;
    let d = super::get_for_membership_change(space, dom)?;
    if d.rec.state == domain_state::SHUTOFF {
        return Err(error::internal(format!(
            "domain '{}' not running",
            dom.name
        )));
    }
    let action = d.defs(space)?.def.on_poweroff();
    apply_lifecycle_action(space, d, action)
}

/// `virDomainReboot`: the domain's `on_reboot` action, at once.
pub(crate) fn reboot(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        domain_reboot_flag_values::ACPI_POWER_BTN
            | domain_reboot_flag_values::GUEST_AGENT
            | domain_reboot_flag_values::INITCTL
            | domain_reboot_flag_values::SIGNAL
            | domain_reboot_flag_values::PARAVIRT,
        "testDomainReboot",
    )?;
    let d = super::get_for_membership_change(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    let action = d.defs(space)?.def.on_reboot();
    apply_lifecycle_action(space, d, action)
}

/// `virDomainReset`: nothing to do for a running domain.
pub(crate) fn reset(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testDomainReset")?;
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    Ok(())
}

/// `virDomainSuspend`.
pub(crate) fn suspend(space: &dyn Space, dom: &DomainRef) -> Result<()> {
    let mut d = super::get_for_change(space, dom)?;
    if d.rec.state == domain_state::SHUTOFF || d.rec.state == domain_state::PAUSED {
        return Err(error::internal(format!(
            "domain '{}' not running",
            dom.name
        )));
    }
    d.set_state(domain_state::PAUSED, domain_paused_reason::USER);
    d.write_record(space)?;
    d.emit_lifecycle(
        space,
        domain_event_type::SUSPENDED,
        domain_event_suspended_detail_type::PAUSED,
    );
    Ok(())
}

/// `virDomainResume`.
pub(crate) fn resume(space: &dyn Space, dom: &DomainRef) -> Result<()> {
    let mut d = super::get_for_change(space, dom)?;
    if d.rec.state != domain_state::PAUSED {
        return Err(error::internal(format!("domain '{}' not paused", dom.name)));
    }
    d.set_state(domain_state::RUNNING, domain_running_reason::UNPAUSED);
    d.write_record(space)?;
    d.emit_lifecycle(
        space,
        domain_event_type::RESUMED,
        domain_event_resumed_detail_type::UNPAUSED,
    );
    Ok(())
}

/// `virDomainRename`: only a persistent, shut off domain can be renamed.
pub(crate) fn rename(
    space: &dyn Space,
    dom: &DomainRef,
    new_name: &str,
    flags: u32,
) -> Result<DomainRef> {
    error::check_flags(flags, 0, "testDomainRename")?;
    let mut d = super::get_for_membership_change(space, dom)?;
    if d.rec.is_active() {
        return Err(error::operation_invalid("cannot rename active domain"));
    }
    if !d.rec.persistent {
        return Err(error::operation_invalid("cannot rename a transient domain"));
    }
    if d.rec.state != domain_state::SHUTOFF {
        return Err(error::operation_invalid(
            "domain has to be shutoff before renaming",
        ));
    }
    if d.rec.name == new_name {
        return Err(error::domain_conf(
            ErrorNumber::OPERATION_INVALID,
            "Can't rename domain to itself",
        ));
    }
    if super::find_by_name(space, new_name)?.is_some() {
        return Err(error::domain_conf(
            ErrorNumber::OPERATION_INVALID,
            format!("domain with name '{new_name}' already exists"),
        ));
    }
    if new_name.contains('/') {
        return Err(error::test(
            ErrorNumber::XML_ERROR,
            format!("name {new_name} cannot contain '/'"),
        ));
    }
    let mut defs = d.defs(space)?;
    defs.def.set_name(new_name);
    let old_name = std::mem::replace(&mut d.rec.name, new_name.to_string());
    super::move_name(space, &d, &old_name)?;
    d.write_all(space, &defs)?;
    super::emit_rename(space, &d, &old_name);
    Ok(d.reference())
}

/// `virDomainGetInfo`.
pub(crate) fn info(space: &dyn Space, dom: &DomainRef) -> Result<DomainInfo> {
    let d = super::get(space, dom)?;
    Ok(DomainInfo {
        state: d.rec.state as u8,
        max_mem_kib: d.rec.max_memory_kib,
        memory_kib: d.rec.current_memory_kib,
        nr_virt_cpu: d.rec.vcpus as u16,
        cpu_time_ns: crate::clock::now_micros().saturating_mul(1000),
    })
}

/// `virDomainGetState`.
pub(crate) fn state(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<DomainState> {
    error::check_flags(flags, 0, "testDomainGetState")?;
    let d = super::get(space, dom)?;
    Ok(DomainState {
        state: d.rec.state,
        reason: d.rec.reason,
    })
}

/// `virDomainGetXMLDesc`: the live definition, or with INACTIVE the persistent one.
pub(crate) fn xml(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<String> {
    error::check_flags(
        flags,
        domain_xml_flags::SECURE | domain_xml_flags::INACTIVE | domain_xml_flags::MIGRATABLE,
        "testDomainGetXMLDesc",
    )?;
    let d = super::get(space, dom)?;
    d.xml(space, flags & domain_xml_flags::INACTIVE != 0, flags)
}

/// `virDomainGetOSType`: the test driver answers "linux" for every domain.
pub(crate) fn os_type(_space: &dyn Space, _dom: &DomainRef) -> Result<String> {
    Ok("linux".to_string())
}

/// `virDomainGetHostname`: "<name>host" for a running domain.
pub(crate) fn hostname(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testDomainGetHostname")?;
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    Ok(format!("{}host", dom.name))
}

/// `virDomainSetAutostart` (the test driver allows it on transient domains too).
pub(crate) fn set_autostart(space: &dyn Space, dom: &DomainRef, autostart: bool) -> Result<()> {
    let mut d = super::get_for_change(space, dom)?;
    d.rec.autostart = autostart;
    d.write_record(space)
}
