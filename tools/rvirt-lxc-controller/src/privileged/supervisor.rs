//! The controller's life: start the container, serve the monitor and console sockets while
//! it runs, and tear everything down when its init ends.
//!
//! Start: check what can be checked on the host (sources, bridges, names) before creating
//! anything; record the plan in the state file; create the cgroup, the console pty and
//! socket, the staging directory; clone the container; write its id maps, move it into its
//! cgroup, create its veths; let it go and wait until it has executed init (or reported why
//! not); send INIT.
//!
//! Run: one `poll` loop, single-threaded (the clone above requires it), over a signalfd
//! (SIGCHLD: init ended; SIGTERM/SIGINT: destroy), the monitor socket and the console relay.
//!
//! End: flush the console, kill what is left in the cgroup, remove cgroups, veths, staging
//! directory, console socket and the monitor socket's name, then queue EXIT (and, after a
//! failure of the controller's own, an ERROR event before it), drain the queue and exit
//! with the code that repeats the EXIT reason. On any start failure everything created so
//! far is removed the same way.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, setsid, Pid};
use tracing::{error, info, warn};

use super::cgroups::{ContainerCgroup, Layout};
use super::console::{Console, Pty};
use super::container::{self, ChildContext, GO, JOINED};
use super::error::{Context, Failure, Result};
use super::monitor_server::{bind_unix, MonitorServer};
use super::namespaces::{self, Namespaces};
use super::network::{self, Rtnetlink};
use super::state::ControllerState;
use rvirt_lxc_controller::monitor::{
    ContainerInfo, ExitStatus, Message, RemoteError, Request, Response,
};
use rvirt_lxc_controller::paths;
use rvirt_lxc_controller::spec::{ContainerSpec, FilesystemSource};

/// How long a failing controller waits for the driver to connect and hear why.
const REPORT_WAIT: Duration = Duration::from_secs(5);
/// How long the EXIT event may take to be written.
const DRAIN_WAIT: Duration = Duration::from_secs(5);
/// How long the controller waits, after EXIT is written, for the driver to hang up.
const LINGER_WAIT: Duration = Duration::from_secs(2);
/// How long the container may take from `clone` to `exec` of init.
const SETUP_WAIT: Duration = Duration::from_secs(30);

/// Runs a container described by `spec` (read from `spec_path`) until it ends; returns the
/// process exit code.
pub fn run(spec: ContainerSpec, spec_path: std::path::PathBuf, spec_identity: (u64, u64)) -> i32 {
    umask(Mode::from_bits_truncate(0o077));
    // Its own session: a signal to the daemon's process group does not reach containers.
    let _ = setsid();
    let signals = match block_signals() {
        Ok(signals) => signals,
        Err(failure) => {
            error!("{failure}");
            return ExitStatus::Error.exit_code();
        }
    };
    let listener = match bind_unix(&spec.monitor_socket, "monitor socket") {
        Ok(listener) => listener,
        Err(failure) => {
            error!("{failure}");
            return ExitStatus::Error.exit_code();
        }
    };
    let mut supervisor = Supervisor {
        monitor: MonitorServer::new(listener),
        staging: paths::staging_dir(&spec.state_file),
        spec,
        spec_path,
        spec_identity,
        signals,
        console: None,
        cgroup: None,
        veths: Vec::new(),
        staging_created: false,
        init: None,
        state: ControllerState::default(),
        destroying: false,
        reboot_requested: false,
    };
    if let Err(failure) = supervisor.start() {
        return supervisor.fail(failure);
    }
    let outcome = supervisor.serve();
    supervisor.finish(outcome)
}

/// SIGCHLD and the stop signals are read from a signalfd; SIGPIPE is ignored (a client that
/// goes away must not kill the controller).
fn block_signals() -> Result<SignalFd> {
    let mut mask = SigSet::empty();
    for signal in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
    ] {
        mask.add(signal);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)
        .context(|| "cannot block signals")?;
    // SAFETY: ignoring SIGPIPE installs no handler code.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigIgn) }
        .context(|| "cannot ignore SIGPIPE")?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context(|| "cannot create a signalfd")
}

enum Outcome {
    /// Init ended with this status.
    Ended(WaitStatus),
    /// The controller itself failed while the container ran.
    Failed(Failure),
}

struct Supervisor {
    spec: ContainerSpec,
    /// Where the driver wrote the spec: removed by `cleanup --withdraw` when the driver's
    /// daemon died before committing the start.
    spec_path: std::path::PathBuf,
    /// (device, inode) of the spec file this controller read.
    spec_identity: (u64, u64),
    monitor: MonitorServer,
    signals: SignalFd,
    console: Option<Console>,
    cgroup: Option<ContainerCgroup>,
    /// Host ends created so far.
    veths: Vec<String>,
    staging: std::path::PathBuf,
    staging_created: bool,
    init: Option<Pid>,
    state: ControllerState,
    destroying: bool,
    /// The driver asked for a restart: however init ends, report a reboot.
    reboot_requested: bool,
}

impl Supervisor {
    fn check_host(&self) -> Result<()> {
        for fs in &self.spec.filesystems {
            if let FilesystemSource::Bind { dir } = &fs.source {
                let what = if fs.target == Path::new("/") {
                    "the root filesystem source".to_string()
                } else {
                    format!("the source of filesystem {}", fs.target.display())
                };
                let metadata = std::fs::metadata(dir)
                    .context(|| format!("cannot use {what} {}", dir.display()))?;
                if fs.target == Path::new("/") && !metadata.is_dir() {
                    return Err(Failure::failed(format!(
                        "{what} {} is not a directory",
                        dir.display()
                    )));
                }
            }
        }
        if let Some(network) = &self.spec.network {
            for veth in &network.interfaces {
                if let Some(bridge) = &veth.bridge {
                    if !network::bridge_exists(bridge) {
                        return Err(Failure::failed(format!("cannot attach interface {} to bridge '{bridge}': no such bridge on this host", veth.host_name)));
                    }
                }
                if network::link_exists(&veth.host_name) {
                    return Err(Failure::failed(format!(
                        "interface name '{}' is already in use on this host",
                        veth.host_name
                    )));
                }
            }
        }
        if self.spec.idmap.is_some() {
            namespaces::user_namespaces_available()?;
        }
        Ok(())
    }

    /// A start whose driver died before committing it is withdrawn by `cleanup --withdraw`,
    /// which removes the spec file and then reads the state file. Checked after the state file
    /// is written, either the cleanup sees this controller's pid there and stops it, or this
    /// check sees the spec gone: no order of the two leaves a container nobody knows of.
    fn check_not_withdrawn(&self) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        // Gone, or replaced by the spec of a later start of the same name: either way this
        // controller's start is not the one the driver knows of.
        let withdrawn = match std::fs::symlink_metadata(&self.spec_path) {
            Err(error) => error.kind() == std::io::ErrorKind::NotFound,
            Ok(metadata) => (metadata.dev(), metadata.ino()) != self.spec_identity,
        };
        if withdrawn {
            return Err(Failure::failed(format!(
                "the start of container '{}' was withdrawn: {} is gone or replaced",
                self.spec.name,
                self.spec_path.display()
            )));
        }
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        let started = Instant::now();
        self.check_host()?;
        let layout = Layout::detect()?;
        let stage = |what: &str| tracing::debug!("{what} after {:?}", started.elapsed());
        stage("host checked");
        // Record the plan before creating anything: whatever happens next, `cleanup` finds it.
        self.state = ControllerState {
            controller_pid: getpid().as_raw(),
            init_pid: None,
            cgroup_dirs: ContainerCgroup::planned(&layout, &self.spec.name).dirs,
            veths: self
                .spec
                .network
                .iter()
                .flat_map(|n| n.interfaces.iter().map(|v| v.host_name.clone()))
                .collect(),
            staging_dir: Some(self.staging.clone()),
            sockets: vec![
                self.spec.monitor_socket.clone(),
                self.spec.console_socket.clone(),
            ],
        };
        self.state.save(&self.spec.state_file)?;
        self.check_not_withdrawn()?;

        self.cgroup = Some(ContainerCgroup::create(
            &layout,
            &self.spec.name,
            &self.spec.resources,
        )?);
        let owner = self
            .spec
            .idmap
            .as_ref()
            .and_then(|idmap| Some((idmap.host_root_uid()?, idmap.host_root_gid()?)));
        stage("cgroups created");
        let pty = Pty::open(owner)?;
        let console_listener = bind_unix(&self.spec.console_socket, "console socket")?;
        self.console = Some(Console::new(pty, console_listener));

        match std::fs::remove_dir(&self.staging) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(Failure::io(
                    format!("cannot reuse {}", self.staging.display()),
                    &error,
                ))
            }
        }
        std::fs::create_dir(&self.staging)
            .context(|| format!("cannot create {}", self.staging.display()))?;
        self.staging_created = true;

        let (parent_sync, child_sync) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context(|| "cannot create the container's sync socket")?;
        let namespaces = Namespaces {
            network: self.spec.network.is_some(),
            user: self.spec.idmap.is_some(),
        };
        let child = {
            let console = self
                .console
                .as_ref()
                .ok_or_else(|| Failure::internal("console missing"))?;
            let context = ChildContext {
                spec: &self.spec,
                layout: &layout,
                staging: &self.staging,
                namespaces,
                console_slave: console.slave(),
                console_slave_path: console.slave_path(),
                sync: child_sync.as_fd(),
                parent_sync: parent_sync.as_raw_fd(),
            };
            namespaces::spawn(
                namespaces,
                Box::new(move || {
                    let code = container::run(&context);
                    // SAFETY: the child ends here without running the parent's destructors or
                    // atexit handlers, which belong to the controller, not to this copy.
                    unsafe { libc::_exit(code as i32) }
                }),
            )?
        };
        drop(child_sync);
        stage("cloned");
        self.init = Some(child);
        info!("container '{}' cloned as pid {child}", self.spec.name);

        if let Some(idmap) = &self.spec.idmap {
            namespaces::write_id_maps(child, idmap)?;
        }
        nix::unistd::write(&parent_sync, &[GO]).context(|| "cannot tell the container to go on")?;
        if let Err(failure) = self.join_container(child) {
            // The child may have failed first (and died): its reason is the better one.
            return Err(child_report(&parent_sync).unwrap_or(failure));
        }
        stage("namespaces prepared");
        // A child that already failed has closed its end: its report follows.
        let _ = nix::unistd::write(&parent_sync, &[JOINED]);
        wait_for_exec(&parent_sync)?;

        self.state.init_pid = Some(child.as_raw());
        self.state.save(&self.spec.state_file)?;
        info!(
            "container '{}' runs init {} as pid {child} (started in {:?})",
            self.spec.name,
            self.spec.init.path.display(),
            started.elapsed()
        );
        self.monitor.accept();
        self.monitor.send(&Message::Init {
            pid: child.as_raw() as u64,
        });
        Ok(())
    }

    /// Moves the cloned child into the container's cgroups and gives it its veths.
    fn join_container(&mut self, child: Pid) -> Result<()> {
        if let Some(cgroup) = &self.cgroup {
            cgroup.add_process(child)?;
        }
        if let Some(network) = &self.spec.network {
            let mut rtnetlink = Rtnetlink::open()?;
            for veth in &network.interfaces {
                rtnetlink.create_veth(
                    &veth.host_name,
                    &network::peer_temp_name(&veth.host_name),
                    child,
                    veth.mtu,
                )?;
                self.veths.push(veth.host_name.clone());
                rtnetlink.attach_and_up(&veth.host_name, veth.bridge.as_deref())?;
            }
        }
        Ok(())
    }

    fn serve(&mut self) -> Outcome {
        loop {
            let mut sources: Vec<(Source, libc::pollfd)> = Vec::with_capacity(7);
            let mut add = |source: Source, fd: RawFd, events: libc::c_short| {
                sources.push((
                    source,
                    libc::pollfd {
                        fd,
                        events,
                        revents: 0,
                    },
                ));
            };
            add(Source::Signals, self.signals.as_raw_fd(), libc::POLLIN);
            if let Some(fd) = self.monitor.listener() {
                add(Source::MonitorListener, fd.as_raw_fd(), libc::POLLIN);
            }
            if let Some(fd) = self.monitor.client() {
                let events = libc::POLLIN
                    | if self.monitor.wants_write() {
                        libc::POLLOUT
                    } else {
                        0
                    };
                add(Source::MonitorClient, fd.as_raw_fd(), events);
            }
            if let Some(console) = &self.console {
                let interest = console.interest();
                add(
                    Source::ConsoleListener,
                    console.listener().as_raw_fd(),
                    libc::POLLIN,
                );
                let master_events = (if interest.master_read {
                    libc::POLLIN
                } else {
                    0
                }) | (if interest.master_write {
                    libc::POLLOUT
                } else {
                    0
                });
                add(
                    Source::ConsoleMaster,
                    console.master().as_raw_fd(),
                    master_events,
                );
                if let Some(client) = console.client() {
                    let events = (if interest.client_read {
                        libc::POLLIN
                    } else {
                        0
                    }) | (if interest.client_write {
                        libc::POLLOUT
                    } else {
                        0
                    });
                    add(Source::ConsoleClient, client.as_raw_fd(), events);
                }
            }
            let mut poll_fds: Vec<libc::pollfd> = sources.iter().map(|(_, fd)| *fd).collect();
            // SAFETY: `poll_fds` is a valid array of pollfd records for descriptors owned by
            // `self`, none of which is closed during the call.
            let n =
                unsafe { libc::poll(poll_fds.as_mut_ptr(), poll_fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                let errno = nix::errno::Errno::last();
                if errno == nix::errno::Errno::EINTR {
                    continue;
                }
                return Outcome::Failed(Failure::system(
                    "the controller's event loop failed",
                    errno,
                ));
            }
            for ((source, _), ready) in sources.iter().zip(&poll_fds) {
                if ready.revents == 0 {
                    continue;
                }
                let readable = ready.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0;
                let writable = ready.revents & libc::POLLOUT != 0;
                match source {
                    Source::Signals => {
                        if let Some(outcome) = self.on_signals() {
                            return outcome;
                        }
                    }
                    Source::MonitorListener => {
                        if self.monitor.accept() {
                            if let Some(init) = self.init {
                                self.monitor.send(&Message::Init {
                                    pid: init.as_raw() as u64,
                                });
                            }
                        }
                    }
                    Source::MonitorClient => {
                        if readable {
                            for message in self.monitor.read() {
                                self.on_message(message);
                            }
                        }
                        if writable {
                            self.monitor.flush();
                        }
                    }
                    Source::ConsoleListener => self.with_console(Console::accept),
                    Source::ConsoleMaster => {
                        if readable {
                            self.with_console(Console::master_readable);
                        }
                        if writable {
                            self.with_console(Console::master_writable);
                        }
                    }
                    Source::ConsoleClient => {
                        if readable {
                            self.with_console(Console::client_readable);
                        }
                        if writable {
                            self.with_console(Console::client_writable);
                        }
                    }
                }
            }
        }
    }

    fn with_console(&mut self, action: impl FnOnce(&mut Console)) {
        if let Some(console) = self.console.as_mut() {
            action(console);
        }
    }

    fn on_signals(&mut self) -> Option<Outcome> {
        loop {
            let info = match self.signals.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => return None,
                Err(errno) => {
                    return Some(Outcome::Failed(Failure::system(
                        "cannot read the controller's signals",
                        errno,
                    )))
                }
            };
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGCHLD) => {
                    if let Some(status) = self.reap() {
                        return Some(Outcome::Ended(status));
                    }
                }
                Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT) => {
                    info!("asked to stop: destroying container '{}'", self.spec.name);
                    self.destroy();
                }
                _ => {}
            }
        }
    }

    /// Reaps init if it ended.
    fn reap(&mut self) -> Option<WaitStatus> {
        let init = self.init?;
        match waitpid(init, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => None,
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                self.init = None;
                Some(status)
            }
            Ok(_) => None,
            Err(errno) => {
                warn!("cannot wait for init {init}: {}", errno.desc());
                None
            }
        }
    }

    fn destroy(&mut self) {
        self.destroying = true;
        if let Some(init) = self.init {
            let _ = kill(init, Signal::SIGKILL);
        }
        // A frozen task dies only once thawed.
        if let Some(cgroup) = &self.cgroup {
            if cgroup.frozen() {
                if let Err(failure) = cgroup.set_frozen(false) {
                    warn!("cannot thaw the container to kill it: {failure}");
                }
            }
        }
    }

    fn on_message(&mut self, message: Message) {
        let Message::Call { serial, request } = message else {
            return;
        };
        let procedure = request.procedure();
        let result = self.on_request(request).map_err(|failure| RemoteError {
            code: failure.code.0,
            message: failure.message,
        });
        self.monitor.send(&Message::Reply {
            serial,
            procedure,
            result,
        });
    }

    fn on_request(&mut self, request: Request) -> Result<Response> {
        let cgroup = self
            .cgroup
            .as_ref()
            .ok_or_else(|| Failure::invalid("the container has no cgroup"))?;
        match request {
            Request::GetInfo => {
                let (memory_kib, memory_limit_kib) = cgroup.memory();
                Ok(Response::Info(ContainerInfo {
                    memory_kib,
                    memory_limit_kib,
                    cpu_time_ns: cgroup.cpu_time_ns(),
                    n_tasks: cgroup.n_tasks(),
                    frozen: cgroup.frozen(),
                }))
            }
            Request::Freeze => cgroup.set_frozen(true).map(|()| Response::Void),
            Request::Thaw => cgroup.set_frozen(false).map(|()| Response::Void),
            Request::SetMemory { kib } => cgroup.set_memory_limit(kib).map(|()| Response::Void),
            Request::SignalInit { signal } => {
                let signal = Signal::try_from(signal)
                    .map_err(|_| Failure::invalid(format!("invalid signal number {signal}")))?;
                let init = self
                    .init
                    .ok_or_else(|| Failure::invalid("the container's init is not running"))?;
                kill(init, signal)
                    .context(|| format!("cannot send {signal} to the container's init"))?;
                Ok(Response::Void)
            }
            Request::Destroy => {
                self.destroy();
                Ok(Response::Void)
            }
            Request::Reboot => {
                self.reboot_requested = true;
                self.destroy();
                Ok(Response::Void)
            }
            Request::WaitInit => {
                let init = self
                    .init
                    .ok_or_else(|| Failure::invalid("the container's init is not running"))?;
                Ok(Response::Init {
                    pid: init.as_raw() as u64,
                })
            }
        }
    }

    /// Removes everything the controller created; returns what could not be removed.
    fn teardown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(mut console) = self.console.take() {
            console.flush(Duration::from_millis(200));
        }
        let _ = std::fs::remove_file(&self.spec.console_socket);
        if let Some(cgroup) = self.cgroup.take() {
            if let Err(failure) = cgroup.kill_all() {
                problems.push(failure.message);
            }
            for (dir, errno) in cgroup.remove() {
                problems.push(format!(
                    "cannot remove cgroup {}: {}",
                    dir.display(),
                    errno.desc()
                ));
            }
        }
        if !self.veths.is_empty() {
            match Rtnetlink::open() {
                Ok(mut rtnetlink) => {
                    for veth in std::mem::take(&mut self.veths) {
                        if let Err(failure) = rtnetlink.delete_link(&veth) {
                            problems.push(failure.message);
                        }
                    }
                }
                Err(failure) => problems.push(failure.message),
            }
        }
        if self.staging_created {
            match std::fs::remove_dir(&self.staging) {
                Ok(()) => self.staging_created = false,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    self.staging_created = false
                }
                Err(error) => problems.push(
                    Failure::io(format!("cannot remove {}", self.staging.display()), &error)
                        .message,
                ),
            }
        }
        if problems.is_empty() {
            ControllerState::remove(&self.spec.state_file);
        }
        problems
    }

    /// A start failure: undo, tell the driver, exit.
    fn fail(&mut self, failure: Failure) -> i32 {
        error!("{failure}");
        if let Some(init) = self.init.take() {
            let _ = kill(init, Signal::SIGKILL);
            let _ = waitpid(init, None);
        }
        for problem in self.teardown() {
            error!("{problem}");
        }
        self.monitor.wait_for_client(Instant::now() + REPORT_WAIT);
        self.report_exit(ExitStatus::Error, Some(failure))
    }

    fn finish(&mut self, outcome: Outcome) -> i32 {
        let (mut status, mut failure) = match outcome {
            Outcome::Ended(wait_status) => {
                let status = match wait_status {
                    _ if self.reboot_requested => ExitStatus::Reboot,
                    WaitStatus::Signaled(_, Signal::SIGHUP, _) if !self.destroying => {
                        ExitStatus::Reboot
                    }
                    _ => ExitStatus::Shutdown,
                };
                match wait_status {
                    WaitStatus::Exited(_, code) => info!(
                        "container '{}': init exited with status {code}",
                        self.spec.name
                    ),
                    WaitStatus::Signaled(_, signal, _) => info!(
                        "container '{}': init was killed by {signal}",
                        self.spec.name
                    ),
                    _ => {}
                }
                (status, None)
            }
            Outcome::Failed(failure) => {
                error!("{failure}");
                if let Some(init) = self.init.take() {
                    let _ = kill(init, Signal::SIGKILL);
                    let _ = waitpid(init, None);
                }
                (ExitStatus::Error, Some(failure))
            }
        };
        let problems = self.teardown();
        if !problems.is_empty() {
            for problem in &problems {
                error!("{problem}");
            }
            if failure.is_none() {
                failure = Some(Failure::failed(format!(
                    "cannot clean up after the container: {}",
                    problems.join("; ")
                )));
                status = ExitStatus::Error;
            }
        }
        self.report_exit(status, failure)
    }

    /// Stops listening, sends ERROR (if any) and EXIT, waits until they are written.
    fn report_exit(&mut self, status: ExitStatus, failure: Option<Failure>) -> i32 {
        self.monitor.stop_listening(&self.spec.monitor_socket);
        // What a late WAIT_INIT learns: the pid if init ran, else why it did not.
        let init_reply = match (self.state.init_pid, &failure) {
            (Some(pid), _) => Ok(Response::Init { pid: pid as u64 }),
            (None, Some(failure)) => Err(RemoteError {
                code: failure.code.0,
                message: failure.message.clone(),
            }),
            (None, None) => Err(RemoteError {
                code: virt_core::ErrorNumber::INTERNAL_ERROR.0,
                message: "the container ended before init ran".into(),
            }),
        };
        if let Some(failure) = failure {
            self.monitor.send(&Message::Error(RemoteError {
                code: failure.code.0,
                message: failure.message,
            }));
        }
        self.monitor.send(&Message::Exit(status));
        let delivered =
            self.monitor.close(
                Instant::now() + DRAIN_WAIT,
                LINGER_WAIT,
                |request| match request {
                    Request::WaitInit => init_reply.clone(),
                    _ => Err(RemoteError {
                        code: virt_core::ErrorNumber::OPERATION_INVALID.0,
                        message: "the container is shutting down".into(),
                    }),
                },
            );
        if !delivered {
            warn!("the EXIT event could not be delivered; the exit code carries it");
        }
        info!("controller of '{}' exits: {status:?}", self.spec.name);
        status.exit_code()
    }
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Signals,
    MonitorListener,
    MonitorClient,
    ConsoleListener,
    ConsoleMaster,
    ConsoleClient,
}

/// A failure report the child already sent, if any (without waiting).
fn child_report(sync: &OwnedFd) -> Option<Failure> {
    let mut poll_fd = libc::pollfd {
        fd: sync.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor that stays open during the call.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, 100) };
    if ready <= 0 {
        return None;
    }
    let mut report = [0u8; 4096];
    match nix::unistd::read(sync.as_raw_fd(), &mut report) {
        Ok(n) if n > 0 => Some(container::decode_report(&report[..n])),
        _ => None,
    }
}

/// Waits until the child has executed init (the sync socket closes) or reported a failure.
fn wait_for_exec(sync: &OwnedFd) -> Result<()> {
    let mut poll_fd = libc::pollfd {
        fd: sync.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for a descriptor that stays open during the call.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, SETUP_WAIT.as_millis() as i32) };
    if ready == 0 {
        return Err(Failure::failed(format!(
            "the container did not start init within {} s",
            SETUP_WAIT.as_secs()
        )));
    }
    let mut report = [0u8; 4096];
    match nix::unistd::read(sync.as_raw_fd(), &mut report) {
        Ok(0) => Ok(()),
        Ok(n) => Err(container::decode_report(&report[..n])),
        Err(errno) => Err(Failure::system(
            "cannot read the container's start report",
            errno,
        )),
    }
}
