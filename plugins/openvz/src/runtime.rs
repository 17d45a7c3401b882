//! The driver's calls as `vzctl` and `vzlist` runs through the host's `command` call.
//!
//! libvirt's driver also checks `/proc/vz` at open; here the tools are the test of OpenVZ
//! (on a kernel without it, `vzlist` fails and says why), which lets the driver be tested
//! against stand-ins on a kernel without OpenVZ.

use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_state as dstate,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::command as run_command;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, ObjectStatus};

use crate::container::{self, Container, COLUMNS};

/// Running containers this driver suspended (`vzctl chkpnt --suspend`).
const PAUSED: Records = Records::new("paused", ErrorDomain::OPENVZ);
const TIMEOUT_MS: u32 = 300_000;

fn internal(message: String) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::OPENVZ, message)
}

fn tool(program: &str, args: &[String]) -> Result<String, Error> {
    virt_plugin_sdk::command_line::run_tool(program, args, TIMEOUT_MS, ErrorDomain::OPENVZ)
}

fn vzctl(args: &[&str]) -> Result<String, Error> {
    let mut argv = vec!["--quiet".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    tool("vzctl", &argv)
}

/// `connect.open`: vzctl's version (libvirt parses `vzctl --help`), then one listing, which
/// fails on a host without OpenVZ.
pub fn open() -> Result<(), Error> {
    // Persistent: which containers this driver paused must outlive the connection.
    state::bind_space("system", Persistence::Persistent)?;
    let help = run_command::run(&run_command::RunRequest {
        program: "vzctl".into(),
        args: vec!["--help".into()],
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: 30_000,
    })
    .map_err(|_| internal("Could not extract vzctl version".to_string()))?;
    let text =
        String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    if !text.contains("vzctl version ") {
        return Err(internal("Could not extract vzctl version".to_string()));
    }
    containers().map(|_| ())
}

fn containers() -> Result<Vec<Container>, Error> {
    let text = tool("vzlist", &["-a", "-H", "-o", COLUMNS].map(str::to_string))?;
    container::parse_list(&text)
}

fn is_paused(container: &Container) -> bool {
    container.is_active() && PAUSED.load::<bool>(&container.name()).ok().flatten() == Some(true)
}

fn state_of(container: &Container) -> i32 {
    if !container.is_active() {
        dstate::SHUTOFF
    } else if is_paused(container) {
        dstate::PAUSED
    } else {
        dstate::RUNNING
    }
}

fn reference(container: &Container) -> DomainRef {
    DomainRef {
        name: container.name(),
        uuid: container.uuid().into(),
        id: if container.is_active() {
            container.ctid as i32
        } else {
            -1
        },
    }
}

fn no_domain(message: String) -> Error {
    Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::OPENVZ, message)
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    Ok(containers()?
        .iter()
        .map(|c| (reference(c), c.is_active()))
        .collect())
}

fn find(predicate: impl Fn(&Container) -> bool, missing: String) -> Result<Container, Error> {
    containers()?
        .into_iter()
        .find(|c| predicate(c))
        .ok_or_else(|| no_domain(missing))
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    find(
        |c| c.name() == name,
        format!("no domain with matching name '{name}'"),
    )
    .map(|c| reference(&c))
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    find(
        |c| c.uuid() == *uuid,
        format!("no domain with matching uuid '{uuid}'"),
    )
    .map(|c| reference(&c))
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    find(
        |c| c.is_active() && c.ctid as i32 == id,
        format!("no domain with matching id {id}"),
    )
    .map(|c| reference(&c))
}

fn resolve(dom: &DomainRef) -> Result<Container, Error> {
    let uuid: Uuid = dom.uuid.into();
    find(
        |c| c.uuid() == uuid,
        format!("no domain with matching uuid '{uuid}' ({})", dom.name),
    )
}

fn host_cpus() -> u32 {
    virt_plugin_sdk::node::node_info().cpus.max(1)
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    resolve(dom)?.domain_xml(host_cpus())
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let container = resolve(dom)?;
    let memory = container.memory_kib().unwrap_or(0);
    Ok(DomainInfo {
        state: u8::try_from(state_of(&container)).unwrap_or(0),
        max_mem_kib: memory,
        memory_kib: memory,
        nr_virt_cpu: u16::try_from(container.cpus.unwrap_or_else(host_cpus)).unwrap_or(1),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let container = resolve(dom)?;
    Ok(DomainState {
        state: state_of(&container),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let container = resolve(dom)?;
    Ok(ObjectStatus {
        active: container.is_active(),
        persistent: true,
        autostart: false,
        updated: false,
        has_managed_save: false,
    })
}

fn emit(container: &Container, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((
        reference(container),
        event,
        detail,
    )));
}

fn operation_invalid(message: &str) -> Error {
    Error::new(ErrorNumber::OPERATION_INVALID, ErrorDomain::OPENVZ, message)
}

/// `vzctl create` (with its template), then `vzctl set --save` for vCPUs and memory; a
/// container whose settings fail is destroyed again, so nothing is left half-made.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let definition = container::definition(xml)?;
    let id = definition.ctid.to_string();
    let exists = containers()?.into_iter().any(|c| c.ctid == definition.ctid);
    if !exists {
        let args = definition.create_args();
        tool("vzctl", &args)?;
    }
    if let Some(args) = definition.set_args() {
        if let Err(failure) = tool("vzctl", &args) {
            if !exists {
                let _ = vzctl(&["destroy", &id]);
            }
            return Err(failure);
        }
    }
    let container = find(
        |c| c.ctid == definition.ctid,
        format!("no domain with matching name '{id}'"),
    )?;
    emit(
        &container,
        event_type::DEFINED,
        if exists {
            defined_detail::UPDATED
        } else {
            defined_detail::ADDED
        },
    );
    Ok(reference(&container))
}

pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let container = resolve(dom)?;
    if container.is_active() {
        return Err(operation_invalid("cannot delete active domain"));
    }
    vzctl(&["destroy", &container.name()])?;
    emit(&container, event_type::UNDEFINED, 0);
    Ok(())
}

pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let container = resolve(dom)?;
    if container.is_active() {
        return Err(operation_invalid("domain is not in shutoff state"));
    }
    vzctl(&["start", &container.name()])?;
    let started = resolve(dom)?;
    PAUSED.delete(&started.name());
    emit(&started, event_type::STARTED, started_detail::BOOTED);
    Ok(reference(&started))
}

fn active(dom: &DomainRef) -> Result<Container, Error> {
    let container = resolve(dom)?;
    if !container.is_active() {
        return Err(operation_invalid("domain is not running"));
    }
    Ok(container)
}

/// libvirt's shutdown and destroy are both `vzctl stop`.
fn stop(dom: &DomainRef, detail: i32) -> Result<(), Error> {
    let container = active(dom)?;
    vzctl(&["stop", &container.name()])?;
    PAUSED.delete(&container.name());
    emit(&container, event_type::STOPPED, detail);
    Ok(())
}

pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    stop(dom, stopped_detail::SHUTDOWN)
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    stop(dom, stopped_detail::DESTROYED)
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    let container = active(dom)?;
    vzctl(&["restart", &container.name()]).map(|_| ())
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let container = active(dom)?;
    if is_paused(&container) {
        return Ok(());
    }
    vzctl(&["chkpnt", &container.name(), "--suspend"])?;
    PAUSED.store(&container.name(), &true);
    emit(&container, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let container = active(dom)?;
    if !is_paused(&container) {
        return Ok(());
    }
    vzctl(&["chkpnt", &container.name(), "--resume"])?;
    PAUSED.delete(&container.name());
    emit(&container, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}
