//! The driver's calls as web service calls through the host's `http` call.
//!
//! Each connection has a private, volatile space holding its [`Link`]: the endpoint and the
//! `IVirtualBox` reference its logon returned. Object references are the server's, valid for
//! that logon; nothing else is cached, VirtualBox being the record of its machines.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_state as dstate,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::credentials::{self, CredentialKind};
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::http::{self, Request, TlsOptions};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, NodeInfo, ObjectStatus};
use virt_xml::domain::{Domain, FormatOptions, VirtType};
use virt_xml::snapshot::DomainSnapshot;

use crate::uri::Target;
use crate::webservice::{self, Answer, Arg};

const LINK_KIND: &str = "link";
const LINK_KEY: &str = "this";
const REQUEST_TIMEOUT_MS: u32 = 120_000;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Link {
    target: Target,
    /// The `IVirtualBox` reference of this connection's logon.
    vbox: String,
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::VBOX, message)
}

fn current() -> Result<Link, Error> {
    state::get(LINK_KIND, LINK_KEY)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "the connection has no VirtualBox web service session".to_string(),
            )
        })
}

/// One call; a fault comes back as the service's message and result code.
fn try_call(
    target: &Target,
    method: &str,
    this: Option<&str>,
    args: &[Arg<'_>],
) -> Result<Result<Answer, webservice::ServiceFault>, Error> {
    let request = Request {
        method: "POST".to_string(),
        url: target.url(),
        headers: vec![
            (
                "Content-Type".to_string(),
                "text/xml; charset=utf-8".to_string(),
            ),
            ("SOAPAction".to_string(), "\"\"".to_string()),
        ],
        body: webservice::envelope(method, this, args).into_bytes(),
        tls: TlsOptions {
            no_verify: false,
            ca_pem: None,
        },
        timeout_ms: REQUEST_TIMEOUT_MS,
    };
    let response = http::send(&request)?;
    let text = String::from_utf8_lossy(&response.body);
    if !(200..300).contains(&response.status) && !text.contains("Fault") {
        return Err(error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "the VirtualBox web service at '{}' answered HTTP {} to {method}",
                target.url(),
                response.status
            ),
        ));
    }
    webservice::answer(&text, method)
}

/// One call whose fault is libvirt's internal error carrying VirtualBox's message.
fn call(link: &Link, method: &str, this: &str, args: &[Arg<'_>]) -> Result<Answer, Error> {
    try_call(&link.target, method, Some(this), args)?.map_err(|fault| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!("{method} failed: {}", fault.message),
        )
    })
}

fn value(link: &Link, method: &str, this: &str) -> Result<String, Error> {
    Ok(call(link, method, this, &[])?.value().to_string())
}

fn number(link: &Link, method: &str, this: &str) -> Result<u64, Error> {
    let text = value(link, method, this)?;
    text.parse().map_err(|_| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!("{method} answered '{text}', not a number"),
        )
    })
}

/// Waits for an `IProgress` and fails with its error when it ends badly.
fn wait(link: &Link, progress: &str, what: &str) -> Result<(), Error> {
    if progress.is_empty() {
        return Ok(());
    }
    call(
        link,
        "IProgress_waitForCompletion",
        progress,
        &[Arg::One("timeout", "-1".into())],
    )?;
    let code = value(link, "IProgress_getResultCode", progress)?;
    if code != "0" {
        return Err(error(
            ErrorNumber::OPERATION_FAILED,
            format!("{what} failed: VirtualBox result code {code}"),
        ));
    }
    Ok(())
}

/// Logon with the URI's user (or the auth file's) and the auth file's password; a web
/// service without authentication takes any (vboxwebsrv's `null` method).
pub fn open(target: Target) -> Result<(), Error> {
    state::bind_space("private:vbox", Persistence::Volatile)?;
    let lookup = |kind| -> Result<Option<String>, Error> {
        Ok(credentials::lookup("vbox", &target.host, kind)?)
    };
    let user = match &target.user {
        Some(user) => user.clone(),
        None => lookup(CredentialKind::Username)?.unwrap_or_default(),
    };
    let password = lookup(CredentialKind::Password)?.unwrap_or_default();
    let logon = try_call(
        &target,
        "IWebsessionManager_logon",
        None,
        &[
            Arg::One("username", user.clone()),
            Arg::One("password", password),
        ],
    )?;
    let vbox = match logon {
        Ok(answer) => answer.value().to_string(),
        Err(fault) if fault.result_code == Some(webservice::E_ACCESSDENIED) => {
            return Err(error(
                ErrorNumber::AUTH_FAILED,
                format!(
                    "authentication failed for '{user}' at '{}': {}",
                    target.url(),
                    fault.message
                ),
            ))
        }
        Err(fault) => {
            return Err(error(
                ErrorNumber::INTERNAL_ERROR,
                format!("IWebsessionManager_logon failed: {}", fault.message),
            ))
        }
    };
    let link = Link { target, vbox };
    state::put(
        LINK_KIND,
        LINK_KEY,
        &serde_json::to_vec(&link).unwrap_or_default(),
    );
    Ok(())
}

pub fn close() {
    if let Ok(link) = current() {
        let _ = try_call(
            &link.target,
            "IWebsessionManager_logoff",
            None,
            &[Arg::One("refIVirtualBox", link.vbox.clone())],
        );
        state::delete(LINK_KIND, LINK_KEY);
    }
}

pub fn version() -> Result<String, Error> {
    let link = current()?;
    value(&link, "IVirtualBox_getVersion", &link.vbox)
}

/// A machine as the driver needs it for a reference.
#[derive(Clone, Debug)]
struct Machine {
    reference: String,
    name: String,
    uuid: Uuid,
    state: String,
    /// libvirt's id for a running machine: its position in the machine list, from 1.
    position: i32,
}

impl Machine {
    /// libvirt's `vboxConvertState`.
    fn domain_state(&self) -> i32 {
        match self.state.as_str() {
            "Running" => dstate::RUNNING,
            "Stuck" => dstate::BLOCKED,
            "Paused" => dstate::PAUSED,
            "Stopping" => dstate::SHUTDOWN,
            "PoweredOff" | "Saved" => dstate::SHUTOFF,
            "Aborted" => dstate::CRASHED,
            _ => dstate::NOSTATE,
        }
    }

    /// VirtualBox's "online" states: the machine has a process.
    fn is_active(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "PoweredOff" | "Saved" | "Aborted" | "Teleported" | "AbortedSaved" | "Null"
        )
    }

    fn reference(&self) -> DomainRef {
        DomainRef {
            name: self.name.clone(),
            uuid: self.uuid.into(),
            id: if self.is_active() { self.position } else { -1 },
        }
    }
}

fn machines(link: &Link) -> Result<Vec<Machine>, Error> {
    let references = call(link, "IVirtualBox_getMachines", &link.vbox, &[])?.values;
    let mut machines = Vec::with_capacity(references.len());
    for (index, reference) in references.into_iter().enumerate() {
        let id = value(link, "IMachine_getId", &reference)?;
        let uuid = virt_core::parse_uuid(&id).ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!("machine id '{id}' is not a UUID"),
            )
        })?;
        machines.push(Machine {
            name: value(link, "IMachine_getName", &reference)?,
            state: value(link, "IMachine_getState", &reference)?,
            uuid,
            position: i32::try_from(index + 1).unwrap_or(i32::MAX),
            reference,
        });
    }
    Ok(machines)
}

fn no_domain(message: String) -> Error {
    error(ErrorNumber::NO_DOMAIN, message)
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    Ok(machines(&current()?)?
        .iter()
        .map(|m| (m.reference(), m.is_active()))
        .collect())
}

fn find(predicate: impl Fn(&Machine) -> bool, missing: String) -> Result<DomainRef, Error> {
    machines(&current()?)?
        .iter()
        .find(|m| predicate(m))
        .map(Machine::reference)
        .ok_or_else(|| no_domain(missing))
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    find(
        |m| m.name == name,
        format!("no domain with matching name '{name}'"),
    )
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    find(
        |m| m.uuid == *uuid,
        format!("no domain with matching uuid '{uuid}'"),
    )
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    find(
        |m| m.is_active() && m.position == id,
        format!("no domain with matching id {id}"),
    )
}

fn resolve(dom: &DomainRef) -> Result<(Link, Machine), Error> {
    let link = current()?;
    let uuid: Uuid = dom.uuid.into();
    let machine = machines(&link)?
        .into_iter()
        .find(|m| m.uuid == uuid)
        .ok_or_else(|| no_domain(format!("no domain with matching uuid '{uuid}'")))?;
    Ok((link, machine))
}

struct Resources {
    memory_mb: u64,
    cpus: u64,
    description: String,
}

fn resources(link: &Link, machine: &Machine) -> Result<Resources, Error> {
    Ok(Resources {
        memory_mb: number(link, "IMachine_getMemorySize", &machine.reference)?,
        cpus: number(link, "IMachine_getCPUCount", &machine.reference)?,
        description: value(link, "IMachine_getDescription", &machine.reference)?,
    })
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let (link, machine) = resolve(dom)?;
    let r = resources(&link, &machine)?;
    Ok(DomainInfo {
        state: u8::try_from(machine.domain_state()).unwrap_or(0),
        max_mem_kib: r.memory_mb * 1024,
        memory_kib: r.memory_mb * 1024,
        nr_virt_cpu: u16::try_from(r.cpus).unwrap_or(u16::MAX),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let (_, machine) = resolve(dom)?;
    Ok(DomainState {
        state: machine.domain_state(),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let (_, machine) = resolve(dom)?;
    Ok(ObjectStatus {
        active: machine.is_active(),
        persistent: true,
        autostart: false,
        updated: false,
        // A saved machine is libvirt's managed save.
        has_managed_save: machine.state == "Saved",
    })
}

fn escaped(text: &str) -> String {
    let mut out = String::new();
    virt_xml::xml::escape_into(&mut out, text);
    out
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let r = resources(&link, &machine)?;
    let reference = machine.reference();
    let id = if reference.id > 0 {
        format!(" id='{}'", reference.id)
    } else {
        String::new()
    };
    let description = if r.description.is_empty() {
        String::new()
    } else {
        format!("<description>{}</description>", escaped(&r.description))
    };
    let text = format!(
        "<domain type='vbox'{id}><name>{}</name><uuid>{}</uuid>{description}\
         <memory unit='KiB'>{kib}</memory><currentMemory unit='KiB'>{kib}</currentMemory>\
         <vcpu placement='static'>{}</vcpu><os><type arch='x86_64'>hvm</type></os></domain>",
        escaped(&machine.name),
        machine.uuid,
        r.cpus,
        kib = r.memory_mb * 1024,
    );
    Ok(Domain::parse(&text)?.format(&FormatOptions::default()))
}

fn emit(machine: &Machine, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((
        machine.reference(),
        event,
        detail,
    )));
}

/// A new `ISession` of this logon.
fn session_object(link: &Link) -> Result<String, Error> {
    try_call(
        &link.target,
        "IWebsessionManager_getSessionObject",
        None,
        &[Arg::One("refIVirtualBox", link.vbox.clone())],
    )?
    .map(|answer| answer.value().to_string())
    .map_err(|fault| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "IWebsessionManager_getSessionObject failed: {}",
                fault.message
            ),
        )
    })
}

/// A session locked on the machine for as long as `work` runs (unlocked whatever happens).
fn with_session<T>(
    link: &Link,
    machine: &Machine,
    lock: &str,
    work: impl FnOnce(&str) -> Result<T, Error>,
) -> Result<T, Error> {
    let session = session_object(link)?;
    call(
        link,
        "IMachine_lockMachine",
        &machine.reference,
        &[
            Arg::One("session", session.clone()),
            Arg::One("lockType", lock.to_string()),
        ],
    )?;
    let result = work(&session);
    let _ = call(link, "ISession_unlockMachine", &session, &[]);
    result
}

fn console_call(
    dom: &DomainRef,
    method: &str,
    allowed: &[&str],
    refusal: &str,
) -> Result<Machine, Error> {
    let (link, machine) = resolve(dom)?;
    if !allowed.contains(&machine.state.as_str()) {
        return Err(error(ErrorNumber::OPERATION_FAILED, refusal.to_string()));
    }
    with_session(&link, &machine, "Shared", |session| {
        let console = value(&link, "ISession_getConsole", session)?;
        let answer = call(&link, method, &console, &[])?;
        wait(&link, answer.value(), method)
    })?;
    Ok(machine)
}

/// `launchVMProcess` headless, as libvirt starts a machine without a display.
pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let (link, machine) = resolve(dom)?;
    if !matches!(machine.state.as_str(), "PoweredOff" | "Saved" | "Aborted") {
        return Err(error(
            ErrorNumber::OPERATION_FAILED,
            "machine is not in poweroff|saved|aborted state, so couldn't start it".to_string(),
        ));
    }
    let session = session_object(&link)?;
    let progress = call(
        &link,
        "IMachine_launchVMProcess",
        &machine.reference,
        &[
            Arg::One("session", session.clone()),
            Arg::One("name", "headless".into()),
            Arg::Many("environmentChanges", Vec::new()),
        ],
    )?;
    let started = wait(&link, progress.value(), "launching the machine");
    let _ = call(&link, "ISession_unlockMachine", &session, &[]);
    started?;
    let (_, running) = resolve(dom)?;
    emit(&running, event_type::STARTED, started_detail::BOOTED);
    Ok(running.reference())
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let machine = console_call(
        dom,
        "IConsole_powerDown",
        &["Running", "Paused", "Stuck"],
        "machine already powered down",
    )?;
    emit(&machine, event_type::STOPPED, stopped_detail::DESTROYED);
    Ok(())
}

/// The ACPI power button: the guest decides (libvirt's shutdown of a VirtualBox guest).
pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let (_, machine) = resolve(dom)?;
    if machine.state == "Paused" {
        return Err(error(
            ErrorNumber::OPERATION_FAILED,
            "machine paused, so can't power it down".to_string(),
        ));
    }
    console_call(
        dom,
        "IConsole_powerButton",
        &["Running"],
        "machine already powered down",
    )?;
    Ok(())
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    console_call(
        dom,
        "IConsole_reset",
        &["Running"],
        "machine not running, so can't reboot it",
    )
    .map(|_| ())
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let machine = console_call(
        dom,
        "IConsole_pause",
        &["Running"],
        "machine not in running state to suspend it",
    )?;
    emit(&machine, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let machine = console_call(
        dom,
        "IConsole_resume",
        &["Paused"],
        "machine not paused, so can't resume it",
    )?;
    emit(&machine, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}

/// `createMachine`, its memory, processors and description set while it is still
/// unregistered (so a refusal leaves nothing behind), then `registerMachine`.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let domain = Domain::parse(xml)?;
    if domain.virt_type != Some(VirtType::Vbox) {
        let found = domain
            .virt_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        return Err(error(
            ErrorNumber::INVALID_ARG,
            format!("could not find capabilities for domaintype={found}"),
        ));
    }
    let devices = &domain.devices;
    if let Some((device, _)) = [
        ("disk", devices.disks.len()),
        ("interface", devices.interfaces.len()),
        ("filesystem", devices.filesystems.len()),
        ("hostdev", devices.hostdevs.len()),
    ]
    .iter()
    .find(|(_, n)| *n > 0)
    {
        return Err(error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!("vbox: defining a machine with <{device}> devices is not supported yet"),
        ));
    }
    let link = current()?;
    let name = domain.name().to_string();
    let memory_kib = domain
        .current_memory
        .as_ref()
        .map(|m| m.0)
        .or(domain.memory.as_ref().map(|m| m.size.0))
        .unwrap_or(128 * 1024);
    let cpus = domain.vcpu.as_ref().and_then(|v| v.count).unwrap_or(1);
    let arch_64 = domain
        .os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|t| t.arch.as_deref())
        .is_none_or(|arch| arch == "x86_64");
    let machine = call(
        &link,
        "IVirtualBox_createMachine",
        &link.vbox,
        &[
            Arg::One("settingsFile", String::new()),
            Arg::One("name", name.clone()),
            Arg::Many("groups", Vec::new()),
            Arg::One(
                "osTypeId",
                if arch_64 { "Other_64" } else { "Other" }.to_string(),
            ),
            Arg::One("flags", String::new()),
        ],
    )?
    .value()
    .to_string();
    call(
        &link,
        "IMachine_setMemorySize",
        &machine,
        &[Arg::One(
            "memorySize",
            memory_kib.div_ceil(1024).to_string(),
        )],
    )?;
    call(
        &link,
        "IMachine_setCPUCount",
        &machine,
        &[Arg::One("CPUCount", cpus.to_string())],
    )?;
    if let Some(description) = &domain.description {
        call(
            &link,
            "IMachine_setDescription",
            &machine,
            &[Arg::One("description", description.clone())],
        )?;
    }
    call(&link, "IMachine_saveSettings", &machine, &[])?;
    call(
        &link,
        "IVirtualBox_registerMachine",
        &link.vbox,
        &[Arg::One("machine", machine)],
    )?;
    let defined = machines(&link)?
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| no_domain(format!("no domain with matching name '{name}'")))?;
    emit(&defined, event_type::DEFINED, defined_detail::ADDED);
    Ok(defined.reference())
}

/// `unregister` (disks detached, kept) and `deleteConfig`, as libvirt's undefine.
pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if machine.is_active() {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "cannot undefine an active domain".to_string(),
        ));
    }
    let media = call(
        &link,
        "IMachine_unregister",
        &machine.reference,
        &[Arg::One("cleanupMode", "DetachAllReturnNone".into())],
    )?
    .values;
    let progress = call(
        &link,
        "IMachine_deleteConfig",
        &machine.reference,
        &[Arg::Many("media", media)],
    )?;
    wait(&link, progress.value(), "deleting the machine's settings")?;
    emit(&machine, event_type::UNDEFINED, 0);
    Ok(())
}

pub fn node_info() -> Result<NodeInfo, Error> {
    let link = current()?;
    let host = value(&link, "IVirtualBox_getHost", &link.vbox)?;
    let cpus = u32::try_from(number(&link, "IHost_getProcessorCount", &host)?).unwrap_or(1);
    let cores = u32::try_from(number(&link, "IHost_getProcessorCoreCount", &host)?)
        .unwrap_or(cpus)
        .max(1);
    let cpu0 = [Arg::One("cpuId", "0".into())];
    let speed = call(&link, "IHost_getProcessorSpeed", &host, &cpu0)?;
    let model = call(&link, "IHost_getProcessorDescription", &host, &cpu0)?;
    Ok(NodeInfo {
        model: model.value().chars().take(31).collect(),
        memory_kib: number(&link, "IHost_getMemorySize", &host)? * 1024,
        cpus,
        mhz: speed.value().parse().unwrap_or(0),
        nodes: 1,
        sockets: 1,
        cores,
        threads: (cpus / cores).max(1),
    })
}

// Snapshots: VirtualBox's tree of a machine's snapshots, named as libvirt names them.

fn no_snapshot(message: String) -> Error {
    error(ErrorNumber::NO_DOMAIN_SNAPSHOT, message)
}

fn snapshot_by_name(link: &Link, machine: &Machine, name: &str) -> Result<String, Error> {
    try_call(
        &link.target,
        "IMachine_findSnapshot",
        Some(&machine.reference),
        &[Arg::One("nameOrId", name.to_string())],
    )?
    .map(|a| a.value().to_string())
    .map_err(|_| no_snapshot(format!("no domain snapshot with matching name '{name}'")))
}

fn snapshot_names(link: &Link, machine: &Machine) -> Result<Vec<String>, Error> {
    if number(link, "IMachine_getSnapshotCount", &machine.reference)? == 0 {
        return Ok(Vec::new());
    }
    let root = call(
        link,
        "IMachine_findSnapshot",
        &machine.reference,
        &[Arg::One("nameOrId", String::new())],
    )?
    .value()
    .to_string();
    let mut names = Vec::new();
    let mut pending = vec![root];
    while let Some(snapshot) = pending.pop() {
        names.push(value(link, "ISnapshot_getName", &snapshot)?);
        let children = call(link, "ISnapshot_getChildren", &snapshot, &[])?.values;
        pending.extend(children.into_iter().rev());
    }
    Ok(names)
}

pub fn snapshot_list(dom: &DomainRef, roots_only: bool) -> Result<Vec<String>, Error> {
    let (link, machine) = resolve(dom)?;
    let names = snapshot_names(&link, &machine)?;
    Ok(if roots_only {
        names.into_iter().take(1).collect()
    } else {
        names
    })
}

pub fn snapshot_lookup(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    snapshot_by_name(&link, &machine, name)?;
    Ok(name.to_string())
}

fn current_snapshot(link: &Link, machine: &Machine) -> Result<Option<String>, Error> {
    let current = value(link, "IMachine_getCurrentSnapshot", &machine.reference)?;
    if current.is_empty() {
        return Ok(None);
    }
    Ok(Some(value(link, "ISnapshot_getName", &current)?))
}

pub fn snapshot_current(dom: &DomainRef) -> Result<Option<String>, Error> {
    let (link, machine) = resolve(dom)?;
    current_snapshot(&link, &machine)
}

pub fn snapshot_parent(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let parent = value(&link, "ISnapshot_getParent", &snapshot)?;
    if parent.is_empty() {
        return Err(no_snapshot(format!(
            "snapshot '{name}' does not have a parent"
        )));
    }
    value(&link, "ISnapshot_getName", &parent)
}

pub fn snapshot_xml(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let description = value(&link, "ISnapshot_getDescription", &snapshot)?;
    let online = value(&link, "ISnapshot_getOnline", &snapshot)? == "true";
    let millis = number(&link, "ISnapshot_getTimeStamp", &snapshot)?;
    let parent = value(&link, "ISnapshot_getParent", &snapshot)?;
    let parent = if parent.is_empty() {
        String::new()
    } else {
        format!(
            "<parent><name>{}</name></parent>",
            escaped(&value(&link, "ISnapshot_getName", &parent)?)
        )
    };
    let description = if description.is_empty() {
        String::new()
    } else {
        format!("<description>{}</description>", escaped(&description))
    };
    let text = format!(
        "<domainsnapshot><name>{}</name>{description}<state>{}</state>{parent}\
         <creationTime>{}</creationTime></domainsnapshot>",
        escaped(name),
        if online { "running" } else { "shutoff" },
        millis / 1000,
    );
    Ok(DomainSnapshot::parse(&text)?.to_xml())
}

/// `takeSnapshot` on the locked session's machine: the new snapshot becomes current.
pub fn snapshot_create(dom: &DomainRef, xml: &str) -> Result<String, Error> {
    let definition = DomainSnapshot::parse(xml)?;
    let (link, machine) = resolve(dom)?;
    let name = definition
        .name
        .clone()
        .unwrap_or_else(|| format!("{}", virt_core::Uuid::new_v4()));
    with_session(&link, &machine, "Shared", |session| {
        let mutable = value(&link, "ISession_getMachine", session)?;
        let answer = call(
            &link,
            "IMachine_takeSnapshot",
            &mutable,
            &[
                Arg::One("name", name.clone()),
                Arg::One(
                    "description",
                    definition.description.clone().unwrap_or_default(),
                ),
                Arg::One("pause", "false".into()),
            ],
        )?;
        wait(&link, answer.value(), "taking the snapshot")
    })?;
    Ok(name)
}

pub fn snapshot_revert(dom: &DomainRef, name: &str) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if machine.is_active() {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "cannot revert snapshot of running domain".to_string(),
        ));
    }
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    with_session(&link, &machine, "Write", |session| {
        let mutable = value(&link, "ISession_getMachine", session)?;
        let progress = call(
            &link,
            "IMachine_restoreSnapshot",
            &mutable,
            &[Arg::One("snapshot", snapshot)],
        )?;
        wait(&link, progress.value(), "restoring the snapshot")
    })
}

pub fn snapshot_delete(dom: &DomainRef, name: &str) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let id = value(&link, "ISnapshot_getId", &snapshot)?;
    with_session(&link, &machine, "Write", |session| {
        let mutable = value(&link, "ISession_getMachine", session)?;
        let progress = call(
            &link,
            "IMachine_deleteSnapshot",
            &mutable,
            &[Arg::One("id", id)],
        )?;
        wait(&link, progress.value(), "deleting the snapshot")
    })
}
