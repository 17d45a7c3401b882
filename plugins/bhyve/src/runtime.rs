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
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail, domain_event_type as event_type,
    domain_running_reason as running_reason, domain_shutoff_reason as shutoff_reason,
    domain_state as state,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::command as run_command;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::process::{self, Output, SpawnRequest};
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

/// A defined (or running transient) domain.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct DomainRecord {
    pub uuid: String,
    pub name: String,
    /// The definition as the driver keeps it (prepared, inactive).
    pub xml: String,
    pub persistent: bool,
    pub autostart: bool,
    pub shutoff_reason: i32,
    pub live: Option<Live>,
}

/// A running guest.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Live {
    pub handle: u64,
    pub pid: i32,
    pub taps: Vec<String>,
    /// Why the driver is stopping it, once it asked (a `virDomainShutoffReason`).
    pub stopping: Option<i32>,
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

/// The record a reference names (by UUID, as libvirt resolves a `virDomainPtr`).
pub fn resolve(dom: &DomainRef) -> Result<DomainRecord, Error> {
    by_uuid(&Uuid::from(dom.uuid))
}

fn store(record: &DomainRecord) {
    DOMAINS.store(&record.uuid, record);
}

/// What the installed bhyve can do, probed once per space as libvirt probes it.
pub fn caps() -> BhyveCaps {
    if let Ok(Some(bits)) = PROBED.load::<u32>("bhyve") {
        return BhyveCaps(bits);
    }
    let caps = probe();
    PROBED.store("bhyve", &caps.0);
    caps
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

/// `bhyve -h` tells the options, `bhyve -s 0,DEVICE` whether a device exists (an unknown
/// one is named in the error), as libvirt's `virBhyveProbeCaps` asks.
fn probe() -> BhyveCaps {
    let mut bits = 0;
    if let Some(help) = run("bhyve", &["-h"]) {
        let text = String::from_utf8_lossy(&help.stderr).into_owned()
            + &String::from_utf8_lossy(&help.stdout);
        if text.contains("-u:") {
            bits |= BhyveCaps::RTC_UTC;
        }
        if !text.contains("-c vcpus") {
            bits |= BhyveCaps::CPUTOPOLOGY;
        }
    }
    for (device, flag) in [
        ("ahci", BhyveCaps::AHCI32SLOT),
        ("e1000", BhyveCaps::NET_E1000),
        ("lpc", BhyveCaps::LPC_BOOTROM),
        ("fbuf", BhyveCaps::FBUF),
        ("xhci", BhyveCaps::XHCI),
        ("hda", BhyveCaps::SOUND_HDA),
        ("virtio-9p", BhyveCaps::VIRTIO_9P),
    ] {
        if let Some(output) = run("bhyve", &["-s", &format!("0,{device}")]) {
            let text = String::from_utf8_lossy(&output.stderr);
            if !text.contains("pci slot 0:0: unknown device") {
                bits |= flag;
            }
        }
    }
    if bits & BhyveCaps::FBUF != 0 {
        bits |= BhyveCaps::VNC_PASSWORD;
    }
    BhyveCaps(bits)
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

pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let domain = prepare(xml)?;
    let uuid = domain.uuid.unwrap_or_default().hyphenated().to_string();
    let name = domain.name().to_string();
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    if let Some(other) = all()?
        .into_iter()
        .find(|record| record.name == name && record.uuid != uuid)
    {
        return Err(bhyve_error(
            ErrorNumber::OPERATION_FAILED,
            format!("domain '{name}' already exists with uuid {}", other.uuid),
        ));
    }
    let existing = DOMAINS.load::<DomainRecord>(&uuid)?;
    let record = DomainRecord {
        uuid: uuid.clone(),
        name,
        xml: domain.to_xml(),
        persistent: true,
        autostart: existing.as_ref().is_some_and(|r| r.autostart),
        shutoff_reason: existing
            .as_ref()
            .map_or(shutoff_reason::UNKNOWN, |r| r.shutoff_reason),
        live: existing.and_then(|r| r.live),
    };
    store(&record);
    emit(&record, event_type::DEFINED, 0);
    Ok(reference(&record))
}

pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let mut record = resolve(dom)?;
    jobs::begin(&job_name(&record.uuid)).map_err(Error::from)?;
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

fn operation_invalid(message: impl AsRef<str>) -> Error {
    bhyve_error(ErrorNumber::OPERATION_INVALID, message)
}

/// Starts a defined guest: the loader, then bhyve (libvirt's `virBhyveProcessStart`).
pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let mut record = resolve(dom)?;
    jobs::begin(&job_name(&record.uuid)).map_err(Error::from)?;
    if record.live.is_some() {
        return Err(operation_invalid("Domain is already running"));
    }
    let domain = Domain::parse(&record.xml)?;
    let dirs = files::dirs();
    let name = domain.name().to_string();
    let log = format!("{}/{name}.log", dirs.log);

    let mut taps = Vec::new();
    let mut tap_handles = Vec::new();
    let cleanup_taps = |taps: &[String]| {
        for tap in taps {
            let _ = net::delete_link(tap);
        }
    };
    for interface in &domain.devices.interfaces {
        let bridge = interface
            .source
            .as_ref()
            .and_then(|source| source.bridge.clone());
        match net::create_tap("vnet%d", bridge.as_deref(), None) {
            Ok(tap) => {
                taps.push(tap.name);
                tap_handles.push(tap.handle);
            }
            Err(error) => {
                cleanup_taps(&taps);
                return Err(error.into());
            }
        }
    }
    let started = start_processes(&domain, &taps, &tap_handles, &log, &dirs.run);
    let (handle, pid) = match started {
        Ok(started) => started,
        Err(error) => {
            cleanup_taps(&taps);
            destroy_vm(&name);
            return Err(error);
        }
    };
    record.live = Some(Live {
        handle,
        pid,
        taps,
        stopping: None,
    });
    store(&record);
    emit(&record, event_type::STARTED, started_detail::BOOTED);
    Ok(reference(&record))
}

/// Runs the loader (with its device map in `run_dir` while it runs), then spawns bhyve.
fn start_processes(
    domain: &Domain,
    taps: &[String],
    tap_handles: &[u64],
    log: &str,
    run_dir: &str,
) -> Result<(u64, i32), Error> {
    let mut no_vnc_port = || -> Result<u16, Error> {
        virt_plugin_sdk::host::ports::reserve(5900, 65535).map_err(Error::from)
    };
    let mut env = Environment {
        caps: caps(),
        grub_caps: GRUB_CONSDEV,
        taps,
        vnc_port: &mut no_vnc_port,
    };
    // bhyve's command line first: a definition bhyve cannot run never reaches the loader.
    let mut bhyve = command::bhyve_argv(domain, &mut env)?;
    let device_map_path = format!("{run_dir}/grub_bhyve-{}-device.map", domain.name());
    if let Some(loader) = command::loader_command(domain, &env, &device_map_path)? {
        if let Some(map) = &loader.device_map {
            files::write(&device_map_path, map.as_bytes()).map_err(Error::from)?;
        }
        let program = bare(&loader.argv[0]);
        let output = run_command::run(&run_command::RunRequest {
            program,
            args: loader.argv[1..].to_vec(),
            env: vec![],
            cwd: None,
            stdin: vec![],
            timeout_ms: 300_000,
        });
        if loader.device_map.is_some() {
            let _ = files::remove(&device_map_path);
        }
        let output = output.map_err(Error::from)?;
        append_log(log, &loader.argv, &output.stdout, &output.stderr);
        if output.exit_code != Some(0) {
            return Err(bhyve_error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "Failed to load domain '{}': {} exited with status {}: {}",
                    domain.name(),
                    loader.argv[0],
                    output
                        .exit_code
                        .map_or("?".to_string(), |code| code.to_string()),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            ));
        }
    }
    bhyve[0] = bare(&bhyve[0]);
    append_log(log, &bhyve, &[], &[]);
    let handle = process::spawn(&SpawnRequest {
        program: bhyve[0].clone(),
        args: bhyve[1..].to_vec(),
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::AppendFile(log.to_string()),
        stderr: Output::AppendFile(log.to_string()),
        pass_fds: tap_handles.to_vec(),
    })
    .map_err(Error::from)?;
    let status = process::status(handle).map_err(Error::from)?;
    Ok((handle, status.pid))
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

/// The command line, and what a loader printed, added to the guest's log as libvirt does.
fn append_log(log: &str, argv: &[String], stdout: &[u8], stderr: &[u8]) {
    let mut text = files::read(log).unwrap_or_default();
    text.extend_from_slice(argv.join(" ").as_bytes());
    text.push(b'\n');
    text.extend_from_slice(stdout);
    text.extend_from_slice(stderr);
    let _ = files::write(log, &text);
}

/// `bhyvectl --destroy --vm=NAME`: the VM's kernel state goes, and bhyve with it.
fn destroy_vm(name: &str) {
    let _ = run("bhyvectl", &["--destroy", &format!("--vm={name}")]);
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let mut record = resolve(dom)?;
    jobs::begin(&job_name(&record.uuid)).map_err(Error::from)?;
    let Some(mut live) = record.live.clone() else {
        return Err(operation_invalid("Domain is not running"));
    };
    live.stopping = Some(shutoff_reason::DESTROYED);
    record.live = Some(live.clone());
    store(&record);
    destroy_vm(&record.name);
    // bhyve ends when its VM is destroyed; one that does not is killed.
    let ended = process::wait(live.handle, 10_000).is_ok_and(|status| !status.running);
    if !ended {
        let _ = process::kill(live.handle, SIGKILL);
        let _ = process::wait(live.handle, 5_000);
    }
    finish_stop(record, shutoff_reason::DESTROYED, stopped_detail::DESTROYED);
    Ok(())
}

/// ACPI power button: bhyve turns SIGTERM into one; its exit says the rest.
pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let mut record = resolve(dom)?;
    jobs::begin(&job_name(&record.uuid)).map_err(Error::from)?;
    let Some(mut live) = record.live.clone() else {
        return Err(operation_invalid("Domain is not running"));
    };
    live.stopping = Some(shutoff_reason::SHUTDOWN);
    record.live = Some(live.clone());
    store(&record);
    process::kill(live.handle, SIGTERM).map_err(Error::from)
}

/// Forgets the running guest: taps, the process handle, the VM; a transient domain goes.
fn finish_stop(mut record: DomainRecord, reason: i32, detail: i32) {
    if let Some(live) = record.live.take() {
        for tap in &live.taps {
            let _ = net::delete_link(tap);
        }
        process::release(live.handle);
    }
    record.shutoff_reason = reason;
    if record.persistent {
        store(&record);
    } else {
        DOMAINS.delete(&record.uuid);
    }
    emit(&record, event_type::STOPPED, detail);
}

/// bhyve exited (bhyve(8)'s statuses): reboot starts it again, power off and halt are a
/// shutdown, anything else a failure; a signal is a crash.
pub fn process_exited(handle: u64, exit_code: Option<i32>, signal: Option<i32>) {
    let Ok(records) = all() else { return };
    let Some(record) = records.into_iter().find(|record| {
        record
            .live
            .as_ref()
            .is_some_and(|live| live.handle == handle)
    }) else {
        return;
    };
    let _ = jobs::begin(&job_name(&record.uuid));
    // The call that stopped it finishes the stop itself.
    let record = match resolve(&reference(&record)) {
        Ok(record)
            if record
                .live
                .as_ref()
                .is_some_and(|live| live.handle == handle) =>
        {
            record
        }
        _ => return,
    };
    let stopping = record.live.as_ref().and_then(|live| live.stopping);
    if stopping == Some(shutoff_reason::DESTROYED) {
        return;
    }
    destroy_vm(&record.name);
    match (exit_code, signal) {
        (Some(0), _) if stopping.is_none() => {
            let dom = reference(&record);
            finish_stop(record, shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN);
            if let Err(error) = create(&dom) {
                virt_plugin_sdk::warn!(
                    "cannot restart domain '{}' after its reboot: {}",
                    dom.name,
                    error.message()
                );
            }
        }
        (Some(0..=2), _) => finish_stop(record, shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN),
        (Some(_), _) => finish_stop(record, shutoff_reason::UNKNOWN, stopped_detail::FAILED),
        (None, _) => finish_stop(record, shutoff_reason::CRASHED, stopped_detail::CRASHED),
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

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let record = resolve(dom)?;
    let domain = Domain::parse(&record.xml)?;
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
        updated: false,
        has_managed_save: false,
    })
}

/// The definition; while the guest runs, with its id.
pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    let record = resolve(dom)?;
    let mut domain = Domain::parse(&record.xml)?;
    domain.id = record.live.as_ref().map(|live| live.pid);
    Ok(domain.to_xml())
}

pub fn set_autostart(dom: &DomainRef, autostart: bool) -> Result<(), Error> {
    let mut record = resolve(dom)?;
    if !record.persistent {
        return Err(operation_invalid(
            "cannot set autostart for transient domain",
        ));
    }
    record.autostart = autostart;
    store(&record);
    Ok(())
}
