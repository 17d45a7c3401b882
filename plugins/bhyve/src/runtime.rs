//! The driver's calls (`bhyve:///system`): definitions kept as records in the host's
//! persistent space, guests started as libvirt's bhyve driver starts them (the loader run to
//! completion, then `bhyve` supervised by the host, its output in `$log/NAME.log`), stopped
//! with `bhyvectl --destroy`, and their end read from bhyve's exit status (bhyve(8): 0
//! reboot, 1 power off, 2 halt, 3 triple fault, 4 error).
//!
//! The programs are found by name (the host looks in its helper directories, then PATH), so
//! the same driver drives the real FreeBSD tools or stand-ins that behave like them.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail, domain_event_type as event_type,
    domain_running_reason as running_reason, domain_shutoff_reason as shutoff_reason,
    domain_state as state,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::command as run_command;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::process::{self, Output, SpawnRequest};
use virt_plugin_sdk::host::state::SpaceStatus;
use virt_plugin_sdk::host::{files, jobs, net};
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, ObjectStatus};
use virt_xml::domain::Domain;

use crate::caps::{BhyveCaps, GRUB_CONSDEV};
use crate::command::{self, Environment};

const DOMAINS: Records = Records::new("domain", ErrorDomain::BHYVE);
const PROBED: Records = Records::new("probed-caps", ErrorDomain::BHYVE);
const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;
/// Serializes definitions: names are unique across all of them.
const DEFINITIONS_JOB: &str = "definitions";
/// How long a loader may run (grub-bhyve waits at its menu).
const LOADER_TIMEOUT_MS: u32 = 300_000;

/// A defined (or running transient) domain.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct DomainRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition as the driver keeps it (prepared, inactive).
    pub xml: String,
    pub persistent: bool,
    pub autostart: bool,
    pub shutoff_reason: i32,
    pub live: Option<Live>,
}

/// A running guest.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Live {
    /// The host's handle of bhyve, valid in this daemon only: `pid` and `start_time`
    /// find the process again after a restart.
    pub handle: u64,
    pub pid: i32,
    pub start_time: u64,
    pub taps: Vec<String>,
    /// The definition it runs with (its VNC port filled in).
    pub xml: String,
    /// The VNC port reserved for it, given back when it stops.
    pub vnc_port: Option<u16>,
    /// Set by `destroy`: the exit that follows is the destroy's, not the guest's.
    pub destroying: bool,
    /// The persistent definition changed while it ran (`virDomainIsUpdated`).
    pub config_changed: bool,
}

fn bhyve_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::BHYVE, message)
}

fn no_domain(what: impl AsRef<str>) -> Error {
    bhyve_error(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching {}", what.as_ref()),
    )
}

fn operation_invalid(message: impl AsRef<str>) -> Error {
    bhyve_error(ErrorNumber::OPERATION_INVALID, message)
}

fn job_name(uuid: &str) -> String {
    format!("domain:{uuid}")
}

pub fn reference(record: &DomainRecord) -> DomainRef {
    let uuid = virt_core::parse_uuid(&record.uuid).unwrap_or_default();
    DomainRef {
        name: record.name.clone(),
        uuid: uuid.into(),
        id: record.live.as_ref().map_or(-1, |live| live.pid),
    }
}

fn emit(record: &DomainRecord, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((reference(record), event, detail)));
}

pub fn all() -> Result<Vec<DomainRecord>, Error> {
    DOMAINS.all()
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRecord, Error> {
    let key = uuid.hyphenated().to_string();
    DOMAINS
        .load(&key)?
        .ok_or_else(|| no_domain(format!("uuid '{key}'")))
}

pub fn by_name(name: &str) -> Result<DomainRecord, Error> {
    all()?
        .into_iter()
        .find(|record| record.name == name)
        .ok_or_else(|| no_domain(format!("name '{name}'")))
}

pub fn by_id(id: i32) -> Result<DomainRecord, Error> {
    all()?
        .into_iter()
        .find(|record| record.live.as_ref().is_some_and(|live| live.pid == id))
        .ok_or_else(|| no_domain(format!("id {id}")))
}

/// The record a reference names (by UUID, as libvirt resolves a `virDomainPtr`), for reading.
pub fn resolve(dom: &DomainRef) -> Result<DomainRecord, Error> {
    by_uuid(&Uuid::from(dom.uuid))
}

/// The record a reference names, read after taking its job: what a call that changes it
/// acts on (another call that held the job has finished writing).
fn lock(dom: &DomainRef) -> Result<DomainRecord, Error> {
    let uuid = Uuid::from(dom.uuid).hyphenated().to_string();
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    resolve(dom)
}

fn store(record: &DomainRecord) {
    DOMAINS.store(&record.uuid, record);
}

/// What the installed bhyve can do: probed when the space is loaded (each daemon start, as
/// libvirt probes at its start), read by every call after.
pub fn caps() -> BhyveCaps {
    match PROBED.load::<u32>("bhyve") {
        Ok(Some(bits)) => BhyveCaps(bits),
        _ => probe_and_store(),
    }
}

fn probe_and_store() -> BhyveCaps {
    let caps = probe();
    PROBED.store("bhyve", &caps.0);
    PROBED.store("grub", &probe_grub());
    caps
}

/// `virBhyveGrubCapsFlags` of the installed grub-bhyve.
pub fn grub_caps() -> u32 {
    PROBED.load::<u32>("grub").ok().flatten().unwrap_or(0)
}

fn run(program: &str, args: &[&str]) -> Option<run_command::RunOutput> {
    run_command::run(&run_command::RunRequest {
        program: program.into(),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: 10_000,
    })
    .ok()
}

fn output_text(output: &run_command::RunOutput) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

/// libvirt's questions (`virBhyveProbeCaps`): `bhyve -h` for the options, then a device
/// bhyve does not know is named in its error.
fn probe() -> BhyveCaps {
    let Some(help) = run("bhyve", &["-h"]) else {
        return BhyveCaps(0);
    };
    let mut bits = 0;
    let text = output_text(&help);
    if text.contains("-u:") {
        bits |= BhyveCaps::RTC_UTC;
    }
    if !text.contains("-c vcpus") {
        bits |= BhyveCaps::CPUTOPOLOGY;
    }
    for (args, refusal, flag) in [
        (
            ["-s", "0,ahci"],
            "pci slot 0:0: unknown device \"ahci\"",
            BhyveCaps::AHCI32SLOT,
        ),
        (
            ["-s", "0,e1000"],
            "pci slot 0:0: unknown device \"e1000\"",
            BhyveCaps::NET_E1000,
        ),
        (
            ["-l", "bootrom"],
            "bhyve: invalid lpc device configuration 'bootrom'",
            BhyveCaps::LPC_BOOTROM,
        ),
        (
            ["-s", "0,fbuf"],
            "pci slot 0:0: unknown device \"fbuf\"",
            BhyveCaps::FBUF,
        ),
        (
            ["-s", "0,xhci"],
            "pci slot 0:0: unknown device \"xhci\"",
            BhyveCaps::XHCI,
        ),
        (
            ["-s", "0,hda"],
            "pci slot 0:0: unknown device \"hda\"",
            BhyveCaps::SOUND_HDA,
        ),
        (
            ["-s", "0,fbuf,password="],
            "Invalid fbuf emulation \"password\"",
            BhyveCaps::VNC_PASSWORD,
        ),
        (
            ["-s", "0,virtio-9p"],
            "pci slot 0:0: unknown device \"virtio-9p\"",
            BhyveCaps::VIRTIO_9P,
        ),
    ] {
        if run("bhyve", &args).is_some_and(|output| !output_text(&output).contains(refusal)) {
            bits |= flag;
        }
    }
    BhyveCaps(bits)
}

fn probe_grub() -> u32 {
    match run("grub-bhyve", &["--help"]) {
        Some(output) if output_text(&output).contains("--cons-dev") => GRUB_CONSDEV,
        _ => 0,
    }
}

/// A definition as the driver keeps it: parsed, checked as libvirt checks a bhyve domain.
pub fn prepare(xml: &str) -> Result<Domain, Error> {
    let mut domain = Domain::parse(xml)?;
    if domain.virt_type.map(|kind| kind.as_str()) != Some("bhyve") {
        return Err(bhyve_error(
            ErrorNumber::NO_SUPPORT,
            format!(
                "Emulator '/usr/sbin/bhyve' does not support virt type '{}'",
                domain.virt_type.map_or("none", |kind| kind.as_str())
            ),
        ));
    }
    crate::address::prepare(&mut domain, caps())?;
    domain.validate()?;
    Ok(domain)
}

/// When the connection's space is loaded: probe the programs; after a daemon restart, find
/// the running guests again (those gone are shut off) and start the autostart ones, as
/// libvirt's bhyve driver does when it starts.
pub fn space_loaded(status: SpaceStatus) {
    if status == SpaceStatus::Existing {
        return;
    }
    probe_and_store();
    let Ok(records) = all() else { return };
    for mut record in records {
        let Some(mut live) = record.live.clone() else {
            continue;
        };
        match process::adopt(live.pid, live.start_time) {
            Ok(handle) => {
                live.handle = handle;
                record.live = Some(live);
                store(&record);
            }
            Err(_) => {
                virt_plugin_sdk::warn!(
                    "bhyve of domain '{}' (pid {}) is gone",
                    record.name,
                    live.pid
                );
                record.live = Some(live);
                finish_stop(
                    record,
                    shutoff_reason::UNKNOWN,
                    stopped_detail::FAILED,
                    false,
                );
            }
        }
    }
    let Ok(records) = all() else { return };
    for record in records {
        if record.autostart && record.persistent && record.live.is_none() {
            if let Err(error) = create(&reference(&record)) {
                virt_plugin_sdk::warn!(
                    "cannot autostart domain '{}': {}",
                    record.name,
                    error.message()
                );
            }
        }
    }
}

pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let domain = prepare(xml)?;
    let uuid = domain.uuid.unwrap_or_default().hyphenated().to_string();
    let name = domain.name().to_string();
    jobs::begin(DEFINITIONS_JOB).map_err(Error::from)?;
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    let records = all()?;
    if let Some(other) = records.iter().find(|r| r.name == name && r.uuid != uuid) {
        return Err(bhyve_error(
            ErrorNumber::OPERATION_FAILED,
            format!("domain '{name}' already exists with uuid {}", other.uuid),
        ));
    }
    let existing = records.into_iter().find(|r| r.uuid == uuid);
    if let Some(existing) = existing.as_ref().filter(|r| r.name != name) {
        return Err(bhyve_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "domain '{}' is already defined with uuid {uuid}",
                existing.name
            ),
        ));
    }
    let detail = if existing.is_some() {
        defined_detail::UPDATED
    } else {
        defined_detail::ADDED
    };
    // A running guest keeps the definition it runs with; the new one is for its next start.
    let record = DomainRecord {
        uuid: uuid.clone(),
        name,
        xml: domain.to_xml(),
        persistent: true,
        autostart: existing.as_ref().is_some_and(|r| r.autostart),
        shutoff_reason: existing
            .as_ref()
            .map_or(shutoff_reason::UNKNOWN, |r| r.shutoff_reason),
        live: existing.and_then(|r| r.live).map(|live| Live {
            config_changed: true,
            ..live
        }),
    };
    store(&record);
    emit(&record, event_type::DEFINED, detail);
    Ok(reference(&record))
}

pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    jobs::begin(DEFINITIONS_JOB).map_err(Error::from)?;
    let mut record = lock(dom)?;
    if !record.persistent {
        return Err(operation_invalid("cannot undefine transient domain"));
    }
    if record.live.is_some() {
        // A running guest stays, transient, until it stops.
        record.persistent = false;
        store(&record);
    } else {
        DOMAINS.delete(&record.uuid);
    }
    emit(&record, event_type::UNDEFINED, 0);
    Ok(())
}

/// Starts a defined guest: the loader, then bhyve (libvirt's `virBhyveProcessStart`).
pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let mut record = lock(dom)?;
    if record.live.is_some() {
        return Err(operation_invalid("Domain is already running"));
    }
    let live = start(&record)?;
    record.live = Some(live);
    store(&record);
    emit(&record, event_type::STARTED, started_detail::BOOTED);
    Ok(reference(&record))
}

/// Everything a start makes, undone when a later step fails.
#[derive(Default)]
struct Started {
    taps: Vec<String>,
    tap_handles: Vec<u64>,
    vnc_port: Option<u16>,
}

impl Started {
    fn undo(&self, name: &str) {
        self.close_taps();
        for tap in &self.taps {
            let _ = net::delete_link(tap);
        }
        if let Some(port) = self.vnc_port {
            virt_plugin_sdk::host::ports::release(port);
        }
        destroy_vm(name);
    }

    /// bhyve holds its taps once it runs: the host's descriptors are not needed any more.
    fn close_taps(&self) {
        for handle in &self.tap_handles {
            files::close(*handle);
        }
    }
}

/// The taps, the loader, then bhyve, for the persistent definition.
fn start(record: &DomainRecord) -> Result<Live, Error> {
    let mut domain = Domain::parse(&record.xml)?;
    let mut made = Started::default();
    let started = start_with(&mut domain, &mut made);
    match started {
        Ok((handle, pid, start_time)) => {
            made.close_taps();
            Ok(Live {
                handle,
                pid,
                start_time,
                taps: made.taps,
                xml: domain.to_xml(),
                vnc_port: made.vnc_port,
                destroying: false,
                config_changed: false,
            })
        }
        Err(error) => {
            made.undo(domain.name());
            Err(error)
        }
    }
}

fn start_with(domain: &mut Domain, made: &mut Started) -> Result<(u64, i32, u64), Error> {
    let dirs = files::dirs();
    let name = domain.name().to_string();
    let log = format!("{}/{name}.log", dirs.log);
    files::create_dir_all(&dirs.log).map_err(Error::from)?;
    for interface in &domain.devices.interfaces {
        let bridge = interface
            .source
            .as_ref()
            .and_then(|source| source.bridge.clone());
        let tap = net::create_tap("vnet%d", bridge.as_deref(), None).map_err(Error::from)?;
        made.taps.push(tap.name);
        made.tap_handles.push(tap.handle);
    }
    let caps = caps();
    let mut reserve_vnc_port = || -> Result<u16, Error> {
        let port = virt_plugin_sdk::host::ports::reserve(5900, 65535).map_err(Error::from)?;
        made.vnc_port = Some(port);
        Ok(port)
    };
    let taps = made.taps.clone();
    let mut env = Environment {
        caps,
        grub_caps: grub_caps(),
        taps: &taps,
        vnc_port: &mut reserve_vnc_port,
    };
    // bhyve's command line first: a definition bhyve cannot run never reaches the loader.
    let mut bhyve = command::bhyve_argv(domain, &mut env)?;
    let device_map_path = format!("{}/grub_bhyve-{name}-device.map", dirs.run);
    let loader = command::loader_command(domain, &env, &device_map_path)?;
    // The live definition shows the port VNC listens on, as libvirt's does.
    if let (Some(port), Some(graphics)) = (made.vnc_port, domain.devices.graphics.first_mut()) {
        graphics.port = Some(i32::from(port));
    }
    if let Some(loader) = loader {
        if let Some(map) = &loader.device_map {
            files::write(&device_map_path, map.as_bytes()).map_err(Error::from)?;
        }
        let loaded = run_loader(&name, &loader.argv, &log);
        if loader.device_map.is_some() {
            let _ = files::remove(&device_map_path);
        }
        loaded?;
    }
    bhyve[0] = bare(&bhyve[0]);
    virt_plugin_sdk::info!("starting domain '{name}': {}", bhyve.join(" "));
    let handle = process::spawn(&SpawnRequest {
        program: bhyve[0].clone(),
        args: bhyve[1..].to_vec(),
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::AppendFile(log.clone()),
        stderr: Output::AppendFile(log),
        pass_fds: made.tap_handles.clone(),
    })
    .map_err(Error::from)?;
    let facts =
        process::status(handle).and_then(|status| Ok((status.pid, process::start_time(handle)?)));
    match facts {
        Ok((pid, start_time)) => Ok((handle, pid, start_time)),
        Err(error) => {
            let _ = process::kill(handle, SIGKILL);
            process::release(handle);
            Err(error.into())
        }
    }
}

/// Runs a loader to completion, its output in the guest's log; its failure is the start's,
/// with the end of what it printed.
fn run_loader(name: &str, argv: &[String], log: &str) -> Result<(), Error> {
    virt_plugin_sdk::info!("loading domain '{name}': {}", argv.join(" "));
    let log_size = files::stat(log).ok().flatten().map_or(0, |stat| stat.size);
    let handle = process::spawn(&SpawnRequest {
        program: bare(&argv[0]),
        args: argv[1..].to_vec(),
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::AppendFile(log.to_string()),
        stderr: Output::AppendFile(log.to_string()),
        pass_fds: vec![],
    })
    .map_err(Error::from)?;
    let status = process::wait(handle, LOADER_TIMEOUT_MS);
    if status.as_ref().is_ok_and(|status| status.running) {
        let _ = process::kill(handle, SIGKILL);
        let _ = process::wait(handle, 5_000);
    }
    process::release(handle);
    let status = status.map_err(Error::from)?;
    if status.exit_code == Some(0) {
        return Ok(());
    }
    let printed = files::read_range(log, log_size, 4096).unwrap_or_default();
    Err(bhyve_error(
        ErrorNumber::INTERNAL_ERROR,
        format!(
            "Failed to load domain '{name}': {} {}: {}",
            argv[0],
            match (status.running, status.exit_code, status.signal) {
                (true, _, _) => "did not finish".to_string(),
                (_, Some(code), _) => format!("exited with status {code}"),
                (_, _, Some(signal)) => format!("was killed by signal {signal}"),
                _ => "failed".to_string(),
            },
            String::from_utf8_lossy(&printed).trim()
        ),
    ))
}

/// `/usr/sbin/bhyve` is asked for as `bhyve`: the host finds it (or a stand-in) by name.
fn bare(program: &str) -> String {
    match program {
        command::BHYVE | command::BHYVELOAD => {
            program.rsplit('/').next().unwrap_or(program).to_string()
        }
        other => other.to_string(),
    }
}

/// `bhyvectl --destroy --vm=NAME`: the VM's kernel state goes, and bhyve with it.
fn destroy_vm(name: &str) {
    let _ = run("bhyvectl", &["--destroy", &format!("--vm={name}")]);
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let mut record = lock(dom)?;
    let Some(mut live) = record.live.clone() else {
        return Err(operation_invalid("Domain is not running"));
    };
    live.destroying = true;
    record.live = Some(live.clone());
    store(&record);
    destroy_vm(&record.name);
    // bhyve ends when its VM is destroyed; one that does not is killed.
    let ended = process::wait(live.handle, 10_000).is_ok_and(|status| !status.running);
    if !ended {
        let _ = process::kill(live.handle, SIGKILL);
        let _ = process::wait(live.handle, 5_000);
    }
    finish_stop(
        record,
        shutoff_reason::DESTROYED,
        stopped_detail::DESTROYED,
        false,
    );
    Ok(())
}

/// ACPI power button: bhyve turns SIGTERM into one; its exit says the rest.
pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let record = lock(dom)?;
    let Some(live) = record.live else {
        return Err(operation_invalid("Domain is not running"));
    };
    process::kill(live.handle, SIGTERM).map_err(Error::from)
}

/// Forgets the running guest (taps, its VNC port, the process handle, the VM) and records
/// why it stopped; a transient domain goes unless it is about to start again.
fn finish_stop(mut record: DomainRecord, reason: i32, detail: i32, restarting: bool) {
    if let Some(live) = record.live.take() {
        for tap in &live.taps {
            let _ = net::delete_link(tap);
        }
        if let Some(port) = live.vnc_port {
            virt_plugin_sdk::host::ports::release(port);
        }
        process::release(live.handle);
    }
    record.shutoff_reason = reason;
    if record.persistent || restarting {
        store(&record);
    } else {
        DOMAINS.delete(&record.uuid);
    }
    if !restarting {
        emit(&record, event_type::STOPPED, detail);
    }
}

/// bhyve exited (bhyve(8)'s statuses, as libvirt's monitor reads them): 0 is a reboot (the
/// guest is loaded and started again), 1 and 2 a power-off or halt, 3 and 4 a failure; a
/// signal is a crash.
pub fn process_exited(handle: u64, exit_code: Option<i32>) {
    let Ok(records) = all() else { return };
    let Some(found) = records.into_iter().find(|record| {
        record
            .live
            .as_ref()
            .is_some_and(|live| live.handle == handle)
    }) else {
        return;
    };
    let Ok(record) = lock(&reference(&found)) else {
        return;
    };
    let Some(live) = record.live.clone().filter(|live| live.handle == handle) else {
        return;
    };
    // The call that destroyed it finishes the stop itself.
    if live.destroying {
        return;
    }
    destroy_vm(&record.name);
    match exit_code {
        Some(0) => restart(record),
        Some(1 | 2) => finish_stop(
            record,
            shutoff_reason::SHUTDOWN,
            stopped_detail::SHUTDOWN,
            false,
        ),
        Some(_) => finish_stop(
            record,
            shutoff_reason::UNKNOWN,
            stopped_detail::FAILED,
            false,
        ),
        None => finish_stop(
            record,
            shutoff_reason::CRASHED,
            stopped_detail::CRASHED,
            false,
        ),
    }
}

/// A guest's reboot: the same domain loaded and started again (`virBhyveProcessRestart`),
/// with the definition it ran with; if that fails it is shut off.
fn restart(record: DomainRecord) {
    let Some(live) = record.live.clone() else {
        return;
    };
    let mut stopped = record.clone();
    finish_stop(
        stopped.clone(),
        shutoff_reason::SHUTDOWN,
        stopped_detail::SHUTDOWN,
        true,
    );
    stopped.live = None;
    let run_with = DomainRecord {
        xml: live.xml.clone(),
        ..stopped.clone()
    };
    match start(&run_with) {
        Ok(next) => {
            stopped.live = Some(next);
            store(&stopped);
        }
        Err(error) => {
            virt_plugin_sdk::warn!(
                "cannot restart domain '{}' after its reboot: {}",
                stopped.name,
                error.message()
            );
            stopped.shutoff_reason = shutoff_reason::SHUTDOWN;
            if stopped.persistent {
                store(&stopped);
            } else {
                DOMAINS.delete(&stopped.uuid);
            }
            emit(&stopped, event_type::STOPPED, stopped_detail::FAILED);
        }
    }
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let record = resolve(dom)?;
    Ok(match &record.live {
        Some(_) => DomainState {
            state: state::RUNNING,
            reason: running_reason::BOOTED,
        },
        None => DomainState {
            state: state::SHUTOFF,
            reason: record.shutoff_reason,
        },
    })
}

/// The definition in effect: the one it runs with, else the persistent one.
fn current_xml(record: &DomainRecord) -> &str {
    record
        .live
        .as_ref()
        .map_or(record.xml.as_str(), |live| live.xml.as_str())
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let record = resolve(dom)?;
    let domain = Domain::parse(current_xml(&record))?;
    let running = record.live.is_some();
    Ok(DomainInfo {
        state: if running {
            state::RUNNING
        } else {
            state::SHUTOFF
        } as u8,
        max_mem_kib: domain.memory_kib(),
        memory_kib: if running {
            domain.current_memory_kib()
        } else {
            0
        },
        nr_virt_cpu: domain.current_vcpus() as u16,
        cpu_time_ns: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let record = resolve(dom)?;
    Ok(ObjectStatus {
        active: record.live.is_some(),
        persistent: record.persistent,
        autostart: record.autostart,
        updated: record.live.as_ref().is_some_and(|live| live.config_changed),
        has_managed_save: false,
    })
}

/// The definition; while the guest runs, the one it runs with, with its id (or with
/// `VIR_DOMAIN_XML_INACTIVE`, the persistent one).
pub fn get_xml(dom: &DomainRef, inactive: bool) -> Result<String, Error> {
    let record = resolve(dom)?;
    let xml = if inactive {
        record.xml.as_str()
    } else {
        current_xml(&record)
    };
    let mut domain = Domain::parse(xml)?;
    domain.id = record
        .live
        .as_ref()
        .filter(|_| !inactive)
        .map(|live| live.pid);
    Ok(domain.to_xml())
}

pub fn set_autostart(dom: &DomainRef, autostart: bool) -> Result<(), Error> {
    let mut record = lock(dom)?;
    if !record.persistent {
        return Err(operation_invalid(
            "cannot set autostart for transient domain",
        ));
    }
    record.autostart = autostart;
    store(&record);
    Ok(())
}
