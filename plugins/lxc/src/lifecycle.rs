//! A container's life: define, start, the controller's events, stop.
//!
//! **Starting** writes the spec to `$run/NAME.spec.json`, spawns `rvirt-lxc-controller run`,
//! connects to its monitor socket and asks WAIT_INIT, which answers with init's pid once init
//! runs, or with the controller's own error (missing root, unknown bridge, missing init...),
//! after which the controller has already removed everything it created.
//!
//! **Ending a container.** The controller reports the end with an EXIT event (shutdown,
//! reboot, error: preceded by an ERROR event saying why) and then waits for the driver to
//! hang up. The host delivers the EXIT frame, the monitor's close and the controller's exit
//! to the `handlers` export in the order its threads see them, so:
//! - an EXIT frame ends the container with its reason (a reboot starts it again);
//! - the monitor closing without EXIT means the controller vanished: the reason comes from
//!   its exit status if the host knows it, else the container crashed (STOPPED/CRASHED, with
//!   `rvirt-lxc-controller cleanup` removing what the dead controller left);
//! - the controller's exit only decides when there is no monitor connection to tell.
//!
//! Whatever arrives for a container that already ended is ignored: records name the handles
//! of the current run only.
//!
//! **Reattach.** After a daemon restart the space is `reloaded`: every running container's
//! controller is adopted by pid and start time, and its monitor socket reconnected.

use rvirt_lxc_controller::monitor::{ExitStatus, Message, Request, Response};
use rvirt_lxc_controller::paths;
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_event_undefined_detail_type as undefined_detail, domain_paused_reason,
    domain_running_reason, domain_shutoff_reason, domain_state,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::process::{self, Output, SpawnRequest};
use virt_plugin_sdk::host::stream::{self, Framing};
use virt_plugin_sdk::host::{events, files, jobs};
use virt_plugin_sdk::types::{DomainRef, Event};
use virt_xml::domain::Domain;

use crate::error::{already_running, failed, from_host, lxc_error, no_domain_uuid, not_running};
use crate::monitor;
use crate::records::{self, DomainRecord, Live};
use crate::{def, spec};

/// The controller, as the plugin asks the host to start it (see NEEDS.md).
pub const CONTROLLER: &str = "rvirt-lxc-controller";
/// How long a start may take until init runs.
const START_TIMEOUT_MS: u32 = 30_000;
/// How long a controller may take to go away once asked to.
const STOP_TIMEOUT_MS: u32 = 15_000;
/// How long `shutdown` waits for the container after signalling init.
const SHUTDOWN_WAIT_MS: u32 = 5_000;

fn job(uuid: &str) -> Result<(), Error> {
    jobs::begin(&format!("domain/{uuid}")).map_err(from_host)
}

fn end_job(uuid: &str) {
    jobs::end(&format!("domain/{uuid}"));
}

fn emit(record: &DomainRecord, kind: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((record.reference(), kind, detail)));
}

/// The record behind a reference (resolved by UUID, as libvirt does).
pub fn resolve(dom: &DomainRef) -> Result<DomainRecord, Error> {
    let uuid = virt_core::Uuid::from(dom.uuid).to_string();
    records::load(&uuid)?.ok_or_else(|| no_domain_uuid(&uuid, &dom.name))
}

/// The record again, under the domain's job.
fn locked(dom: &DomainRef) -> Result<DomainRecord, Error> {
    let record = resolve(dom)?;
    job(&record.uuid)?;
    resolve(dom)
}

fn set_state(record: &mut DomainRecord, state: i32, reason: i32) {
    record.state = state;
    record.reason = reason;
}

/// Stores the record, or forgets a transient domain that stopped.
fn save(record: &DomainRecord) {
    if record.config.is_none() && record.live.is_none() {
        records::delete(&record.uuid);
    } else {
        records::store(record);
    }
}

// ---- definitions ----

/// Checks that `domain`'s name and UUID do not clash with another domain.
fn check_identity(domain: &Domain) -> Result<Option<DomainRecord>, Error> {
    let name = domain.name();
    let uuid = domain.uuid.map(|u| u.to_string()).unwrap_or_default();
    let by_uuid = records::load(&uuid)?;
    if let Some(existing) = &by_uuid {
        if existing.name != name {
            return Err(lxc_error(
                ErrorNumber::OPERATION_FAILED,
                format!("domain '{}' already exists with uuid {uuid}", existing.name),
            ));
        }
    } else if let Some(other) = records::find_by_name(name)? {
        return Err(lxc_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "domain '{name}' is already defined with uuid {}",
                other.uuid
            ),
        ));
    }
    Ok(by_uuid)
}

pub fn define_xml(xml: &str, _flags: u32) -> Result<DomainRef, Error> {
    let domain = def::parse_for_define(xml)?;
    let existing = check_identity(&domain)?;
    let uuid = domain.uuid.map(|u| u.to_string()).unwrap_or_default();
    if existing.is_some() {
        job(&uuid)?;
    }
    let mut record = records::load(&uuid)?.unwrap_or(DomainRecord {
        uuid: uuid.clone(),
        name: domain.name().to_string(),
        config: None,
        autostart: false,
        state: domain_state::SHUTOFF,
        reason: domain_shutoff_reason::UNKNOWN,
        live: None,
    });
    let updated = record.config.is_some();
    record.config = Some(domain.format(&virt_xml::FormatFlags {
        inactive: true,
        secure: true,
        ..Default::default()
    }));
    records::dirs().create()?;
    records::write_config_file(&record)?;
    records::store(&record);
    emit(
        &record,
        event_type::DEFINED,
        if updated {
            defined_detail::UPDATED
        } else {
            defined_detail::ADDED
        },
    );
    Ok(record.reference())
}

pub fn undefine(dom: &DomainRef, _flags: u32) -> Result<(), Error> {
    let mut record = locked(dom)?;
    if record.config.is_none() {
        return Err(lxc_error(
            ErrorNumber::OPERATION_INVALID,
            "cannot undefine transient domain",
        ));
    }
    record.config = None;
    record.autostart = false;
    let dirs = records::dirs();
    records::write_config_file(&record)?;
    let _ = files::remove(&dirs.autostart_file(&record.name));
    emit(&record, event_type::UNDEFINED, undefined_detail::REMOVED);
    save(&record);
    Ok(())
}

pub fn set_autostart(dom: &DomainRef, autostart: bool) -> Result<(), Error> {
    let mut record = locked(dom)?;
    if record.config.is_none() {
        return Err(lxc_error(
            ErrorNumber::OPERATION_INVALID,
            "cannot set autostart for transient domain",
        ));
    }
    let marker = records::dirs().autostart_file(&record.name);
    if autostart {
        files::write(&marker, record.name.as_bytes()).map_err(from_host)?;
    } else {
        files::remove(&marker).map_err(from_host)?;
    }
    record.autostart = autostart;
    records::store(&record);
    Ok(())
}

// ---- starting ----

pub fn create(dom: &DomainRef, flags: u32) -> Result<DomainRef, Error> {
    Error::check_flags(ErrorDomain::LXC, flags, 0, "virDomainCreateWithFlags")?;
    let mut record = locked(dom)?;
    if record.is_active() {
        return Err(already_running());
    }
    let xml = record
        .config
        .clone()
        .ok_or_else(|| no_domain_uuid(&record.uuid, &record.name))?;
    let domain = def::parse_stored(&xml)?;
    let result = start(&mut record, &domain);
    finish_start(&mut record, result, false)
}

pub fn create_xml(xml: &str, flags: u32) -> Result<DomainRef, Error> {
    Error::check_flags(ErrorDomain::LXC, flags, 0, "virDomainCreateXML")?;
    let domain = def::parse_for_define(xml)?;
    let existing = check_identity(&domain)?;
    let uuid = domain.uuid.map(|u| u.to_string()).unwrap_or_default();
    job(&uuid)?;
    if existing.as_ref().is_some_and(DomainRecord::is_active) {
        return Err(already_running());
    }
    let mut record = existing.unwrap_or(DomainRecord {
        uuid,
        name: domain.name().to_string(),
        config: None,
        autostart: false,
        state: domain_state::SHUTOFF,
        reason: domain_shutoff_reason::UNKNOWN,
        live: None,
    });
    let result = start(&mut record, &domain);
    finish_start(&mut record, result, false)
}

/// Records the outcome of a start and emits its event.
fn finish_start(
    record: &mut DomainRecord,
    result: Result<(), Error>,
    reboot: bool,
) -> Result<DomainRef, Error> {
    match result {
        Ok(()) => {
            set_state(record, domain_state::RUNNING, domain_running_reason::BOOTED);
            if reboot {
                events::emit(&Event::DomainReboot(record.reference()));
            }
            emit(record, event_type::STARTED, started_detail::BOOTED);
            save(record);
            Ok(record.reference())
        }
        Err(error) => {
            set_state(record, domain_state::SHUTOFF, domain_shutoff_reason::FAILED);
            emit(record, event_type::STOPPED, stopped_detail::FAILED);
            save(record);
            Err(error)
        }
    }
}

/// The bridge of libvirt network `name`, from its definition.
fn network_bridge(name: &str) -> Result<String, Error> {
    // rvirt's network driver publishes running networks beside this driver's run directory;
    // libvirt's own files are read too.
    let run = records::dirs().run;
    let rvirt_networks = run
        .rsplit_once('/')
        .map_or(String::new(), |(parent, _)| format!("{parent}/network"));
    for dir in [
        rvirt_networks.as_str(),
        "/run/libvirt/network",
        "/etc/libvirt/qemu/networks",
    ] {
        let path = format!("{dir}/{name}.xml");
        if let Ok(bytes) = files::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            let network = virt_xml::network::Network::parse(&text)?;
            if let Some(bridge) = network.bridge.and_then(|b| b.name) {
                return Ok(bridge);
            }
        }
    }
    Err(lxc_error(
        ErrorNumber::NO_NETWORK,
        format!("no network with matching name '{name}'"),
    ))
}

/// Starts the container of `domain`; on success `record.live` describes it.
fn start(record: &mut DomainRecord, domain: &Domain) -> Result<(), Error> {
    let dirs = records::dirs();
    dirs.create()?;
    let run_dir = std::path::PathBuf::from(&dirs.run);
    let spec = spec::build(
        domain,
        &spec::Context {
            run_dir: &run_dir,
            network_bridge: &network_bridge,
        },
    )?;
    spec.check()
        .map_err(|e| crate::error::unsupported(e.to_string()))?;
    let spec_file = paths::spec_file(&run_dir, &record.name);
    let spec_path = spec_file.to_string_lossy().into_owned();
    files::write(&spec_path, spec.to_json().as_bytes()).map_err(from_host)?;

    let starting_path = starting_file(&run_dir, &record.name);
    let log = dirs.log_file(&record.name);
    let spawned = process::spawn(&SpawnRequest {
        program: CONTROLLER.into(),
        args: vec![
            "run".into(),
            "--spec".into(),
            spec_path.clone(),
            "--name".into(),
            record.name.clone(),
        ],
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::AppendFile(log.clone()),
        stderr: Output::AppendFile(log.clone()),
        pass_fds: vec![],
    });
    let controller = match spawned {
        Ok(controller) => controller,
        Err(error) => {
            forget_start(&spec_path, &starting_path);
            return Err(from_host(error));
        }
    };
    let pid = process::status(controller).map_err(from_host)?.pid;
    let start_time = process::start_time(controller).map_err(from_host)?;
    // Written at once (records are committed when the call returns): if the daemon dies
    // before that, the next one finds this controller here and stops it (`reattach_all`).
    if let Err(error) = files::write(&starting_path, format!("{pid} {start_time}").as_bytes()) {
        kill_and_clean(controller, None, &spec_path, &starting_path);
        return Err(from_host(error));
    }

    let socket = spec.monitor_socket.to_string_lossy().into_owned();
    let connected = connect_monitor(controller, &socket, &log);
    let monitor = match connected {
        Ok(monitor) => monitor,
        Err(error) => {
            abandon(controller, None, &spec_path, &starting_path);
            return Err(error);
        }
    };
    let outcome = monitor::call(monitor, Request::WaitInit, START_TIMEOUT_MS);
    let init_pid = match outcome.result {
        Ok(Response::Init { pid }) => pid,
        Ok(other) => {
            abandon(controller, Some(monitor), &spec_path, &starting_path);
            return Err(failed(format!("unexpected answer {other:?} to WAIT_INIT")));
        }
        Err(error) => {
            let error = if outcome.closed {
                controller_failure(controller, &log).unwrap_or(error)
            } else {
                error
            };
            abandon(controller, Some(monitor), &spec_path, &starting_path);
            return Err(error);
        }
    };
    let mut live = Live {
        xml: String::new(),
        controller,
        controller_pid: pid,
        controller_start_time: start_time,
        monitor: Some(monitor),
        init_pid: Some(init_pid),
        exit: None,
        error: None,
    };
    for event in outcome.events {
        apply_event(&mut live, event);
    }
    live.xml = live_xml(domain, pid);
    if let Err(error) = files::write(&dirs.status_file(&record.name), live.xml.as_bytes()) {
        // A full disk: the container runs, but the start fails, so it must not stay.
        kill_and_clean(controller, Some(monitor), &spec_path, &starting_path);
        return Err(from_host(error));
    }
    monitor::release(monitor);
    record.live = Some(live);
    Ok(())
}

/// The definition as it runs: with its id and the real names of its veths.
fn live_xml(domain: &Domain, id: i32) -> String {
    let mut live = domain.clone();
    live.id = Some(id);
    for (index, iface) in live.devices.interfaces.iter_mut().enumerate() {
        let host_name = spec::host_veth_name(domain, index);
        let target = iface.target.get_or_insert_with(Default::default);
        if target.dev.is_none() {
            target.dev = Some(host_name);
        }
    }
    live.to_xml()
}

/// Connects to the controller's monitor socket, giving up early if the controller exits.
fn connect_monitor(controller: u64, socket: &str, log: &str) -> Result<u64, Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match stream::connect(socket, Framing::LengthPrefixed, 100) {
            Ok(handle) => return Ok(handle),
            Err(error) => {
                let running = process::status(controller)
                    .map(|s| s.running)
                    .unwrap_or(false);
                if !running {
                    return Err(
                        controller_failure(controller, log).unwrap_or_else(|| from_host(error))
                    );
                }
                if std::time::Instant::now() >= deadline {
                    return Err(from_host(error));
                }
            }
        }
    }
}

/// Why a controller that is gone (or going) failed: its last error line in the log.
fn controller_failure(controller: u64, log: &str) -> Option<Error> {
    let status = process::wait(controller, 5_000).ok()?;
    let text = files::read(log)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let line = text.lines().rev().find_map(|line| {
        line.split_once(" ERROR ")
            .map(|(_, message)| message.trim().to_string())
    });
    match (line, status.exit_code, status.signal) {
        (Some(message), _, _) => Some(failed(message)),
        (None, Some(code), _) => Some(failed(format!(
            "the container's controller exited with status {code}; see {log}"
        ))),
        (None, None, Some(signal)) => Some(failed(format!(
            "the container's controller was killed by signal {signal}; see {log}"
        ))),
        (None, None, None) => None,
    }
}

/// Gives up on a controller that did not start the container: lets it finish its own
/// teardown, and cleans up after it if it cannot.
fn abandon(controller: u64, monitor: Option<u64>, spec_path: &str, starting_path: &str) {
    if let Some(monitor) = monitor {
        stream::close(monitor);
    }
    let status = process::wait(controller, STOP_TIMEOUT_MS).ok();
    if status.is_none_or(|s| s.running) {
        let _ = process::kill(controller, libc_signal::SIGKILL);
        let _ = process::wait(controller, 5_000);
    }
    // Also after a controller that exited by itself: one that failed half-way (a panic, a
    // full disk) may not have removed its cgroups and sockets, and a left cgroup refuses
    // every later start of the container. Cleanup is idempotent.
    run_cleanup(spec_path, Cleanup::AfterExit);
    process::release(controller);
    forget_start(spec_path, starting_path);
}

/// Stops a controller whose start cannot be completed, at once, and removes what it made.
fn kill_and_clean(controller: u64, monitor: Option<u64>, spec_path: &str, starting_path: &str) {
    if let Some(monitor) = monitor {
        stream::close(monitor);
    }
    let _ = process::kill(controller, libc_signal::SIGKILL);
    let _ = process::wait(controller, 5_000);
    run_cleanup(spec_path, Cleanup::AfterExit);
    process::release(controller);
    forget_start(spec_path, starting_path);
}

/// `$run/NAME.starting`: "PID START_TIME" of a controller whose start is not committed yet.
fn starting_file(run_dir: &std::path::Path, name: &str) -> String {
    run_dir
        .join(format!("{name}.starting"))
        .to_string_lossy()
        .into_owned()
}

/// Removes the files of a start that did not happen.
fn forget_start(spec_path: &str, starting_path: &str) {
    let _ = files::remove(spec_path);
    let _ = files::remove(starting_path);
}

/// After a restart: a container that is not running by its record (or has no record: a
/// transient one) but has files of a start in the run directory was being started when the
/// daemon died, before the start was committed. Its controller (if it runs, or is still
/// starting) is stopped and what it made removed, so the record's word holds: it is not
/// running.
fn reap_interrupted_start(name: &str, run_dir: &std::path::Path) {
    let dirs = records::dirs();
    let spec_path = paths::spec_file(run_dir, name)
        .to_string_lossy()
        .into_owned();
    let starting_path = starting_file(run_dir, name);
    let exists = |path: &str| files::stat(path).ok().flatten().is_some();
    if !exists(&spec_path) && !exists(&starting_path) {
        return;
    }
    let spawned = files::read(&starting_path)
        .ok()
        .and_then(|bytes| {
            let text = String::from_utf8(bytes).ok()?;
            let mut fields = text.split_whitespace();
            Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
        })
        .and_then(|(pid, start_time)| process::adopt(pid, start_time).ok());
    virt_plugin_sdk::warn!(
        "container '{name}' was being started when the daemon stopped: undoing the start"
    );
    if let Some(controller) = spawned {
        let _ = process::kill(controller, libc_signal::SIGKILL);
        let _ = process::wait(controller, 5_000);
        process::release(controller);
    }
    // Without `.starting` the daemon may have died just after spawning the controller: the
    // withdrawing cleanup finds and stops it through the controller's own state file.
    if exists(&spec_path) && !run_cleanup(&spec_path, Cleanup::Withdraw) {
        // What is left says where to look next time: `.starting` names the controller.
        virt_plugin_sdk::warn!(
            "container '{name}': the interrupted start could not be undone; will try again at the next daemon start"
        );
        return;
    }
    let _ = files::remove(&dirs.status_file(name));
    forget_start(&spec_path, &starting_path);
}

/// Names of containers with start files in the run directory but no record: transient
/// domains whose start the daemon did not commit.
fn unrecorded_starts(run_dir: &std::path::Path, recorded: &[DomainRecord]) -> Vec<String> {
    let entries = files::list_dir(&run_dir.to_string_lossy()).unwrap_or_default();
    let mut names: Vec<String> = entries
        .iter()
        .filter_map(|entry| {
            entry
                .strip_suffix(".spec.json")
                .or_else(|| entry.strip_suffix(".starting"))
        })
        .filter(|name| !recorded.iter().any(|record| record.name == *name))
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Signal numbers (the plugin has no libc).
pub mod libc_signal {
    pub const SIGHUP: i32 = 1;
    pub const SIGKILL: i32 = 9;
    pub const SIGTERM: i32 = 15;
}

/// What `rvirt-lxc-controller cleanup` may do to a controller that still runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    /// Leave it: clean up only after a dead controller.
    AfterExit,
    /// Withdraw an uncommitted start: remove the spec, stop the controller, clean up.
    Withdraw,
}

/// `rvirt-lxc-controller cleanup`: removes what a dead controller left behind; whether it
/// did.
fn run_cleanup(spec_path: &str, mode: Cleanup) -> bool {
    let mut args = vec!["cleanup".into(), "--spec".into(), spec_path.into()];
    if mode == Cleanup::Withdraw {
        args.push("--withdraw".into());
    }
    let spawned = process::spawn(&SpawnRequest {
        program: CONTROLLER.into(),
        args,
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::Discard,
        stderr: Output::Discard,
        pass_fds: vec![],
    });
    match spawned {
        Ok(handle) => {
            let cleaned = match process::wait(handle, STOP_TIMEOUT_MS) {
                Ok(status) if status.exit_code == Some(0) => true,
                Ok(status) => {
                    virt_plugin_sdk::warn!("cleanup after the container failed: {status:?}");
                    false
                }
                Err(error) => {
                    virt_plugin_sdk::warn!("cleanup after the container failed: {}", error.message);
                    false
                }
            };
            process::release(handle);
            cleaned
        }
        Err(error) => {
            virt_plugin_sdk::warn!("cannot run the controller's cleanup: {}", error.message);
            false
        }
    }
}

// ---- the controller's events ----

/// Applies a monitor event to a running container's record.
fn apply_event(live: &mut Live, event: Message) {
    match event {
        Message::Init { pid } => live.init_pid = Some(pid),
        Message::Error(error) => live.error = Some((error.code, error.message)),
        Message::Exit(status) => live.exit = Some(status as i32),
        Message::Call { .. } | Message::Reply { .. } => {}
    }
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ending {
    Shutdown,
    Reboot,
    Destroyed,
    /// The controller failed; its message, if it sent one.
    Failed(Option<String>),
    /// The controller vanished without saying why.
    Crashed,
}

impl Ending {
    fn from_exit(status: i32, error: Option<(i32, String)>) -> Ending {
        match status {
            s if s == ExitStatus::Shutdown as i32 => Ending::Shutdown,
            s if s == ExitStatus::Reboot as i32 => Ending::Reboot,
            _ => Ending::Failed(error.map(|(_, message)| message)),
        }
    }

    fn from_process(status: &process::ProcessStatus) -> Ending {
        match (status.exit_code, status.signal) {
            (Some(code), _) => match ExitStatus::from_exit_code(code) {
                ExitStatus::Shutdown => Ending::Shutdown,
                ExitStatus::Reboot => Ending::Reboot,
                ExitStatus::Error => Ending::Failed(None),
            },
            _ => Ending::Crashed,
        }
    }
}

/// Ends the current run of `record`'s container (the controller is gone or going).
fn end(record: &mut DomainRecord, ending: Ending) {
    let Some(live) = record.live.take() else {
        return;
    };
    if let Some(monitor) = live.monitor {
        stream::close(monitor);
    }
    let dirs = records::dirs();
    let run_dir = std::path::PathBuf::from(&dirs.run);
    let spec_path = paths::spec_file(&run_dir, &record.name)
        .to_string_lossy()
        .into_owned();
    if matches!(ending, Ending::Crashed | Ending::Failed(_)) {
        // The controller died without tearing down, or failed while it did: remove what
        // it left (cleanup refuses while the controller still runs).
        run_cleanup(&spec_path, Cleanup::AfterExit);
    }
    if live.controller != 0 {
        process::release(live.controller);
    }
    let _ = files::remove(&dirs.status_file(&record.name));
    match ending {
        Ending::Shutdown => {
            set_state(
                record,
                domain_state::SHUTOFF,
                domain_shutoff_reason::SHUTDOWN,
            );
            emit(record, event_type::STOPPED, stopped_detail::SHUTDOWN);
        }
        Ending::Destroyed => {
            set_state(
                record,
                domain_state::SHUTOFF,
                domain_shutoff_reason::DESTROYED,
            );
            emit(record, event_type::STOPPED, stopped_detail::DESTROYED);
        }
        Ending::Failed(message) => {
            if let Some(message) = message {
                virt_plugin_sdk::warn!("container '{}' failed: {message}", record.name);
            }
            set_state(record, domain_state::SHUTOFF, domain_shutoff_reason::FAILED);
            emit(record, event_type::STOPPED, stopped_detail::FAILED);
        }
        Ending::Crashed => {
            virt_plugin_sdk::warn!("the controller of container '{}' vanished", record.name);
            set_state(
                record,
                domain_state::SHUTOFF,
                domain_shutoff_reason::CRASHED,
            );
            emit(record, event_type::STOPPED, stopped_detail::CRASHED);
        }
        Ending::Reboot => {
            // The same definition starts again: the persistent one if there is one.
            let xml = record.config.clone().unwrap_or(live.xml);
            let result = def::parse_stored(&xml).and_then(|mut domain| {
                domain.id = None;
                start(record, &domain)
            });
            if let Err(error) = &result {
                virt_plugin_sdk::warn!(
                    "container '{}' could not restart after a reboot: {}",
                    record.name,
                    error.message()
                );
            }
            let _ = finish_start(record, result, true);
            return;
        }
    }
    let _ = files::remove(&spec_path);
    let _ = files::remove(&starting_file(&run_dir, &record.name));
    save(record);
}

/// `handlers.stream-frame`: an event from a controller.
pub fn on_stream_frame(handle: u64, frame: &[u8]) -> Result<(), Error> {
    let Some(record) = records::find_by_handle(handle)? else {
        return Ok(());
    };
    job(&record.uuid)?;
    let Some(mut record) = records::load(&record.uuid)? else {
        return Ok(());
    };
    let Some(live) = record
        .live
        .as_mut()
        .filter(|live| live.monitor == Some(handle))
    else {
        return Ok(());
    };
    let message = match rvirt_lxc_controller::monitor::Message::decode(frame) {
        Ok(message) => message,
        Err(error) => {
            virt_plugin_sdk::warn!(
                "container '{}': undecodable monitor frame: {error}",
                record.name
            );
            return Ok(());
        }
    };
    apply_event(live, message);
    match live.exit {
        Some(status) => {
            let ending = Ending::from_exit(status, live.error.clone());
            end(&mut record, ending);
        }
        None => records::store(&record),
    }
    Ok(())
}

/// `handlers.stream-closed`: a controller's monitor connection ended.
pub fn on_stream_closed(handle: u64) -> Result<(), Error> {
    let Some(record) = records::find_by_handle(handle)? else {
        return Ok(());
    };
    job(&record.uuid)?;
    let Some(mut record) = records::load(&record.uuid)? else {
        return Ok(());
    };
    let Some(live) = record
        .live
        .as_mut()
        .filter(|live| live.monitor == Some(handle))
    else {
        return Ok(());
    };
    if let Some(status) = live.exit {
        let ending = Ending::from_exit(status, live.error.clone());
        end(&mut record, ending);
        return Ok(());
    }
    // No EXIT: the controller went away without a word. Its status says how, if known.
    let status = process::wait(live.controller, 2_000).ok();
    match status {
        Some(status) if !status.running => {
            let ending = Ending::from_process(&status);
            end(&mut record, ending);
        }
        _ => {
            // Alive but not talking to us: try once to reconnect.
            stream::close(handle);
            let socket =
                paths::monitor_socket(std::path::Path::new(&records::dirs().run), &record.name);
            live.monitor =
                stream::connect(&socket.to_string_lossy(), Framing::LengthPrefixed, 1_000).ok();
            records::store(&record);
        }
    }
    Ok(())
}

/// `handlers.process-exited`: decides only for a controller without a monitor connection.
pub fn on_process_exited(handle: u64, status: &process::ProcessStatus) -> Result<(), Error> {
    let Some(record) = records::find_by_handle(handle)? else {
        return Ok(());
    };
    job(&record.uuid)?;
    let Some(mut record) = records::load(&record.uuid)? else {
        return Ok(());
    };
    let Some(live) = record
        .live
        .as_ref()
        .filter(|live| live.controller == handle)
    else {
        return Ok(());
    };
    if live.monitor.is_some() {
        return Ok(());
    }
    let ending = match live.exit {
        Some(exit) => Ending::from_exit(exit, live.error.clone()),
        None => Ending::from_process(status),
    };
    end(&mut record, ending);
    Ok(())
}

// ---- stopping and the other state changes ----

fn live_of(record: &DomainRecord) -> Result<&Live, Error> {
    record.live.as_ref().ok_or_else(not_running)
}

/// Runs a monitor call for a running container, applying events that came with the reply.
fn monitor_call(
    record: &mut DomainRecord,
    request: Request,
    timeout_ms: u32,
) -> Result<Response, Error> {
    let live = record.live.as_mut().ok_or_else(not_running)?;
    let monitor = live
        .monitor
        .ok_or_else(|| failed("the container's controller is not connected; try again shortly"))?;
    let outcome = monitor::call(monitor, request, timeout_ms);
    for event in outcome.events {
        apply_event(live, event);
    }
    monitor::release(monitor);
    outcome.result
}

pub fn destroy(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::LXC, flags, 1, "virDomainDestroyFlags")?;
    let mut record = locked(dom)?;
    let live = live_of(&record)?.clone();
    let asked = monitor_call(&mut record, Request::Destroy, 5_000).is_ok();
    if let Some(monitor) = live.monitor {
        // Hanging up lets the controller exit as soon as it has torn down.
        stream::close(monitor);
        if let Some(live) = record.live.as_mut() {
            live.monitor = None;
        }
    }
    if !asked {
        let _ = process::kill(live.controller, libc_signal::SIGTERM);
    }
    let status = process::wait(live.controller, STOP_TIMEOUT_MS).map_err(from_host)?;
    if status.running {
        let _ = process::kill(live.controller, libc_signal::SIGKILL);
        let _ = process::wait(live.controller, 5_000);
        let run_dir = std::path::PathBuf::from(records::dirs().run);
        run_cleanup(
            &paths::spec_file(&run_dir, &record.name).to_string_lossy(),
            Cleanup::AfterExit,
        );
    }
    end(&mut record, Ending::Destroyed);
    Ok(())
}

pub fn shutdown(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    use virt_core::consts::domain_shutdown_flag_values as shutdown_flags;
    Error::check_flags(
        ErrorDomain::LXC,
        flags,
        shutdown_flags::SIGNAL | shutdown_flags::INITCTL,
        "virDomainShutdownFlags",
    )?;
    if flags & shutdown_flags::INITCTL != 0 && flags & shutdown_flags::SIGNAL == 0 {
        return Err(lxc_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "the initctl shutdown method is not supported; use the signal method",
        ));
    }
    let mut record = locked(dom)?;
    let controller = live_of(&record)?.controller;
    // libvirt's signal method: SIGTERM to init.
    monitor_call(
        &mut record,
        Request::SignalInit {
            signal: libc_signal::SIGTERM,
        },
        5_000,
    )?;
    records::store(&record);
    // Let the handlers end the container meanwhile, then wait a little for it.
    end_job(&record.uuid);
    let _ = process::wait(controller, SHUTDOWN_WAIT_MS);
    Ok(())
}

pub fn reboot(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    use virt_core::consts::domain_reboot_flag_values as reboot_flags;
    Error::check_flags(
        ErrorDomain::LXC,
        flags,
        reboot_flags::SIGNAL | reboot_flags::INITCTL,
        "virDomainReboot",
    )?;
    let mut record = locked(dom)?;
    live_of(&record)?;
    // The controller restarts the container: init is killed, EXIT(REBOOT) follows and the
    // handlers start it again.
    monitor_call(&mut record, Request::Reboot, 5_000)?;
    records::store(&record);
    Ok(())
}

pub fn reset(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::LXC, flags, 0, "virDomainReset")?;
    reboot(dom, 0)
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let mut record = locked(dom)?;
    live_of(&record)?;
    if record.state != domain_state::PAUSED {
        monitor_call(&mut record, Request::Freeze, 10_000)?;
        set_state(
            &mut record,
            domain_state::PAUSED,
            domain_paused_reason::USER,
        );
        emit(&record, event_type::SUSPENDED, suspended_detail::PAUSED);
    }
    records::store(&record);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let mut record = locked(dom)?;
    live_of(&record)?;
    if record.state == domain_state::PAUSED {
        monitor_call(&mut record, Request::Thaw, 10_000)?;
        set_state(
            &mut record,
            domain_state::RUNNING,
            domain_running_reason::UNPAUSED,
        );
        emit(&record, event_type::RESUMED, resumed_detail::UNPAUSED);
    }
    records::store(&record);
    Ok(())
}

pub fn set_memory(dom: &DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
    use virt_core::consts::domain_memory_mod_flags as mod_flags;
    Error::check_flags(
        ErrorDomain::LXC,
        flags,
        mod_flags::LIVE | mod_flags::CONFIG,
        "virDomainSetMemoryFlags",
    )?;
    let mut record = locked(dom)?;
    let live =
        flags & mod_flags::LIVE != 0 || (flags & mod_flags::CONFIG == 0 && record.is_active());
    let config = flags & mod_flags::CONFIG != 0;
    if live {
        live_of(&record)?;
        monitor_call(&mut record, Request::SetMemory { kib }, 5_000)?;
        if let Some(live) = record.live.as_mut() {
            let mut domain = def::parse_stored(&live.xml)?;
            domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
            live.xml = domain.to_xml();
        }
    }
    if config {
        let xml = record.config.clone().ok_or_else(|| {
            lxc_error(
                ErrorNumber::OPERATION_INVALID,
                "cannot change persistent config of a transient domain",
            )
        })?;
        let mut domain = def::parse_stored(&xml)?;
        domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
        record.config = Some(domain.format(&virt_xml::FormatFlags {
            inactive: true,
            secure: true,
            ..Default::default()
        }));
        records::write_config_file(&record)?;
    }
    records::store(&record);
    Ok(())
}

/// Usage figures of a running container, from its cgroups (through the controller).
pub fn container_info(
    dom: &DomainRef,
) -> Result<Option<rvirt_lxc_controller::monitor::ContainerInfo>, Error> {
    let mut record = resolve(dom)?;
    if !record.is_active() {
        return Ok(None);
    }
    match monitor_call(&mut record, Request::GetInfo, 5_000)? {
        Response::Info(info) => Ok(Some(info)),
        other => Err(failed(format!("unexpected answer {other:?} to GET_INFO"))),
    }
}

// ---- after a daemon restart ----

/// Reattaches to every container that was running, then starts autostart domains.
pub fn reattach_all() -> Result<(), Error> {
    let dirs = records::dirs();
    dirs.create()?;
    let run_dir = std::path::PathBuf::from(&dirs.run);
    let recorded = records::all()?;
    for name in unrecorded_starts(&run_dir, &recorded) {
        reap_interrupted_start(&name, &run_dir);
    }
    for mut record in recorded {
        let Some(live) = record.live.as_mut() else {
            reap_interrupted_start(&record.name, &run_dir);
            continue;
        };
        // Handles belong to the process that made them: forget the old ones first.
        live.controller = 0;
        live.monitor = None;
        match process::adopt(live.controller_pid, live.controller_start_time) {
            Ok(handle) => {
                live.controller = handle;
                let socket = paths::monitor_socket(&run_dir, &record.name);
                live.monitor =
                    stream::connect(&socket.to_string_lossy(), Framing::LengthPrefixed, 2_000).ok();
                virt_plugin_sdk::info!(
                    "reattached to container '{}' (controller {})",
                    record.name,
                    live.controller_pid
                );
                records::store(&record);
            }
            Err(_) => {
                // Gone while the daemon was away. A controller that tore down cleanly removed
                // its state file; one that died left it behind.
                let state_file = paths::state_file(&run_dir, &record.name);
                let crashed = files::stat(&state_file.to_string_lossy())
                    .ok()
                    .flatten()
                    .is_some();
                end(
                    &mut record,
                    if crashed {
                        Ending::Crashed
                    } else {
                        Ending::Shutdown
                    },
                );
            }
        }
    }
    for mut record in records::all()? {
        if record.autostart && !record.is_active() {
            let Some(xml) = record.config.clone() else {
                continue;
            };
            let result = def::parse_stored(&xml).and_then(|domain| start(&mut record, &domain));
            if let Err(error) = &result {
                virt_plugin_sdk::warn!(
                    "cannot autostart container '{}': {}",
                    record.name,
                    error.message()
                );
            }
            let _ = finish_start(&mut record, result, false);
        }
    }
    Ok(())
}
