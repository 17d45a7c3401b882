//! `rvirt-lxc-controller` on its own: a spec in, real containers, the monitor protocol and
//! the console out.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rvirt_lxc_controller::monitor::{ExitStatus, FrameBuffer, Message, Request, Response};
use rvirt_lxc_controller::paths;
use rvirt_lxc_controller::spec::{
    capability, ContainerSpec, Filesystem, FilesystemSource, IdMap, IdRange, Init, Network,
    Resources, Veth,
};

use super::{
    bridge_members, console_value, controller_binary, leftovers, read_console_until, unique,
    wait_until, Bridge, Rootfs,
};

/// A spec for a busybox container running `script` with `/data` bound to the host.
fn spec(name: &str, rootfs: &Rootfs, script: &str) -> ContainerSpec {
    let run_dir = rootfs.run_dir();
    ContainerSpec {
        name: name.to_string(),
        uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
        monitor_socket: paths::monitor_socket(&run_dir, name),
        console_socket: paths::console_socket(&run_dir, name),
        state_file: paths::state_file(&run_dir, name),
        hostname: format!("{name}-host"),
        filesystems: vec![
            Filesystem {
                source: FilesystemSource::Bind { dir: rootfs.root() },
                target: "/".into(),
                readonly: false,
            },
            Filesystem {
                source: FilesystemSource::Bind { dir: rootfs.data() },
                target: "/data".into(),
                readonly: false,
            },
        ],
        init: Init {
            path: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), "/bin:/sbin".into())],
            workdir: None,
            user: None,
            group: None,
        },
        idmap: None,
        resources: Resources {
            memory_hard_limit_kib: Some(65536),
            ..Resources::default()
        },
        network: None,
        drop_capabilities: capability::DEFAULT_DROP.to_vec(),
    }
}

/// A running controller and the test's monitor connection to it.
struct Controller {
    child: Child,
    spec: ContainerSpec,
    monitor: UnixStream,
    frames: FrameBuffer,
    /// Events that arrived while a call waited for its reply.
    pending: std::collections::VecDeque<Message>,
    /// The pids INIT events announced (kept aside: every new client gets one).
    init_events: Vec<u64>,
}

impl Controller {
    fn start(spec: ContainerSpec) -> Controller {
        let spec_path = spec.state_file.with_extension("spec.json");
        std::fs::write(&spec_path, spec.to_json()).expect("write spec");
        let log = std::fs::File::create(spec.state_file.with_extension("log")).expect("log");
        let child = Command::new(controller_binary())
            .args(["run", "--spec"])
            .arg(&spec_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn the controller");
        let deadline = Instant::now() + Duration::from_secs(10);
        let monitor = loop {
            match UnixStream::connect(&spec.monitor_socket) {
                Ok(stream) => break stream,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot connect to the monitor: {error}"
                    );
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        };
        monitor
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Controller {
            child,
            spec,
            monitor,
            frames: FrameBuffer::default(),
            pending: Default::default(),
            init_events: Vec::new(),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.spec.state_file.with_extension("log")).unwrap_or_default()
    }

    /// The next monitor message, or `None` once the controller hung up.
    /// The next monitor message other than INIT (which [`Controller::init_events`] keeps).
    fn next(&mut self, timeout: Duration) -> Option<Message> {
        loop {
            let message = match self.pending.pop_front() {
                Some(message) => message,
                None => self.receive(timeout)?,
            };
            match message {
                Message::Init { pid } => self.init_events.push(pid),
                other => return Some(other),
            }
        }
    }

    fn receive(&mut self, timeout: Duration) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.frames.next_frame().expect("valid framing") {
                return Some(Message::decode(&frame).expect("valid message"));
            }
            let mut buffer = [0u8; 4096];
            match self.monitor.read(&mut buffer) {
                Ok(0) => return None,
                Ok(n) => self.frames.push(&buffer[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    assert!(
                        Instant::now() < deadline,
                        "no monitor message within {timeout:?}; log:\n{}",
                        self.log()
                    );
                }
                Err(_) => return None,
            }
        }
    }

    fn call(&mut self, request: Request) -> Result<Response, String> {
        let procedure = request.procedure();
        self.monitor
            .write_all(
                &Message::Call {
                    serial: 77,
                    request,
                }
                .encode(),
            )
            .expect("send call");
        loop {
            match self.receive(Duration::from_secs(10)) {
                Some(Message::Reply {
                    serial: 77,
                    procedure: p,
                    result,
                }) if p == procedure => return result.map_err(|e| e.message),
                Some(event) => self.pending.push_back(event),
                None => return Err("controller hung up".into()),
            }
        }
    }

    /// The init pid from WAIT_INIT.
    fn wait_init(&mut self) -> u64 {
        match self.call(Request::WaitInit) {
            Ok(Response::Init { pid }) => pid,
            other => panic!("WAIT_INIT: {other:?}; log:\n{}", self.log()),
        }
    }

    /// Messages until EXIT (ERROR events included), then the controller's exit code.
    fn until_exit(&mut self) -> (Vec<Message>, ExitStatus, std::process::ExitStatus) {
        let mut seen = Vec::new();
        let exit = loop {
            match self.next(Duration::from_secs(20)) {
                Some(Message::Exit(status)) => break status,
                Some(message) => seen.push(message),
                None => panic!(
                    "the monitor closed without EXIT; seen {seen:?}; log:\n{}",
                    self.log()
                ),
            }
        };
        // Hanging up lets the controller exit at once.
        let _ = self.monitor.shutdown(std::net::Shutdown::Both);
        let status = self.child.wait().expect("wait for the controller");
        (seen, exit, status)
    }
}

#[test]
fn container_sees_its_own_world_and_exit_is_shutdown() {
    let rootfs = Rootfs::new();
    let bridge = Bridge::new();
    let name = unique("lc");
    let veth = format!("vt{}", &name[2..]);
    let mut spec = spec(
        &name,
        &rootfs,
        "echo hostname=$(hostname); echo pid=$$; \
         echo links=$(ls /sys/class/net | tr '\\n' ' '); \
         echo memlimit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
         echo written > /data/from-container; echo DONE; sleep 0.3; exit 3",
    );
    spec.network = Some(Network {
        interfaces: vec![Veth {
            host_name: veth.clone(),
            guest_name: "eth0".into(),
            bridge: Some(bridge.name.clone()),
            mac: Some("52:54:00:12:34:56".into()),
            mtu: None,
            addresses: vec!["10.213.0.2/24".into()],
            routes: vec![],
        }],
    });
    let mut controller = Controller::start(spec);
    let init_pid = controller.wait_init();
    assert!(init_pid > 1, "init's host pid is reported");
    assert!(
        std::fs::read_to_string(format!("/proc/{init_pid}/status"))
            .is_ok_and(|status| status.contains("NSpid:")),
        "it is a live process of the host"
    );
    assert!(
        bridge_members(&bridge.name).contains(&veth),
        "the host end is on the bridge"
    );
    let console = read_console_until(
        &controller.spec.console_socket,
        "DONE",
        Duration::from_secs(10),
    );
    assert_eq!(
        console_value(&console, "hostname"),
        Some(format!("{name}-host").as_str()),
        "{console}"
    );
    assert_eq!(
        console_value(&console, "pid"),
        Some("1"),
        "init is pid 1 in its own namespace: {console}"
    );
    let links = console_value(&console, "links").unwrap_or_default();
    assert!(
        links.contains("eth0") && links.contains("lo"),
        "own netns with the veth: {console}"
    );
    assert!(
        !links.contains(&bridge.name),
        "the host's links are not visible: {console}"
    );
    assert_eq!(
        console_value(&console, "memlimit"),
        Some("67108864"),
        "64 MiB limit in its cgroup: {console}"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.data().join("from-container")).expect("bind mount"),
        "written\n"
    );

    let (_, exit, status) = controller.until_exit();
    assert_eq!(
        controller.init_events,
        [init_pid],
        "INIT was pushed to the new client, with the same pid"
    );
    assert_eq!(
        exit,
        ExitStatus::Shutdown,
        "init exiting (status 3) is a shutdown"
    );
    assert_eq!(status.code(), Some(0));
    assert!(
        controller.log().contains("init exited with status 3"),
        "{}",
        controller.log()
    );
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[&veth]),
        Vec::<String>::new()
    );
}

#[test]
fn reboot_inside_is_reported_as_reboot() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(&name, &rootfs, "sleep 0.2; reboot -f"));
    controller.wait_init();
    let (_, exit, status) = controller.until_exit();
    assert_eq!(
        exit,
        ExitStatus::Reboot,
        "the kernel kills a namespace's init with SIGHUP on reboot"
    );
    assert_eq!(status.code(), Some(2), "the exit code repeats the reason");
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn poweroff_inside_is_reported_as_shutdown() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(&name, &rootfs, "sleep 0.2; poweroff -f"));
    controller.wait_init();
    let (_, exit, status) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Shutdown);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn destroy_freeze_thaw_and_info_through_calls() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(&name, &rootfs, "while true; do sleep 0.05; done"));
    controller.wait_init();
    let info = match controller.call(Request::GetInfo) {
        Ok(Response::Info(info)) => info,
        other => panic!("GET_INFO: {other:?}"),
    };
    assert_eq!(info.memory_limit_kib, 65536);
    assert!(
        info.memory_kib > 0 && info.n_tasks >= 1 && !info.frozen,
        "{info:?}"
    );
    controller.call(Request::Freeze).expect("freeze");
    match controller.call(Request::GetInfo) {
        Ok(Response::Info(info)) => assert!(info.frozen),
        other => panic!("GET_INFO: {other:?}"),
    }
    controller.call(Request::Thaw).expect("thaw");
    controller
        .call(Request::SetMemory { kib: 32768 })
        .expect("set memory");
    match controller.call(Request::GetInfo) {
        Ok(Response::Info(info)) => assert_eq!(info.memory_limit_kib, 32768),
        other => panic!("GET_INFO: {other:?}"),
    }
    // Destroying a frozen container works too.
    controller.call(Request::Freeze).expect("freeze");
    controller.call(Request::Destroy).expect("destroy");
    let (_, exit, status) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Shutdown);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn sigterm_to_the_controller_destroys_the_container() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(&name, &rootfs, "sleep 60"));
    controller.wait_init();
    nix_kill(controller.child.id() as i32, 15);
    let (_, exit, status) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Shutdown);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[]),
        Vec::<String>::new()
    );
}

fn nix_kill(pid: i32, signal: i32) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn killed_controller_takes_its_container_along_and_cleanup_removes_the_rest() {
    let rootfs = Rootfs::new();
    let bridge = Bridge::new();
    let name = unique("lc");
    let veth = format!("vt{}", &name[2..]);
    let mut spec = spec(&name, &rootfs, "sleep 60");
    spec.network = Some(Network {
        interfaces: vec![Veth {
            host_name: veth.clone(),
            guest_name: "eth0".into(),
            bridge: Some(bridge.name.clone()),
            mac: None,
            mtu: None,
            addresses: vec![],
            routes: vec![],
        }],
    });
    let spec_path = spec.state_file.with_extension("spec.json");
    let mut controller = Controller::start(spec);
    let init_pid = controller.wait_init();
    controller.child.kill().expect("SIGKILL the controller");
    let status = controller.child.wait().expect("wait");
    assert_eq!(status.signal(), Some(9));
    // The container's init had the controller's death as its own (PR_SET_PDEATHSIG).
    wait_until(
        "the container's init to die",
        Duration::from_secs(5),
        || {
            std::fs::read_to_string(format!("/proc/{init_pid}/stat"))
                .map(|stat| stat.contains(") Z "))
                .unwrap_or(true)
        },
    );
    assert!(
        controller.next(Duration::from_secs(2)).is_none(),
        "no EXIT from a killed controller"
    );
    assert!(
        !leftovers(&name, &rootfs.run_dir(), &[]).is_empty(),
        "a killed controller leaves its cgroups and state"
    );
    let cleanup = Command::new(controller_binary())
        .args(["cleanup", "--spec"])
        .arg(&spec_path)
        .status()
        .expect("cleanup");
    assert!(cleanup.success());
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[&veth]),
        Vec::<String>::new()
    );
}

/// What the driver learns when a start fails: the ERROR event, EXIT(ERROR), exit code 1.
fn expect_start_failure(spec: ContainerSpec, veths: &[&str]) -> String {
    let name = spec.name.clone();
    let run_dir = spec
        .monitor_socket
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut controller = Controller::start(spec);
    // A driver asking WAIT_INIT gets the reason as the reply, even this late.
    let reply = controller.call(Request::WaitInit);
    let message = reply.expect_err("the start fails");
    let (seen, exit, status) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Error);
    assert_eq!(status.code(), Some(1));
    assert!(
        seen.iter()
            .any(|m| matches!(m, Message::Error(e) if e.message == message)),
        "{seen:?}"
    );
    assert_eq!(
        leftovers(&name, &run_dir, veths),
        Vec::<String>::new(),
        "nothing is left behind"
    );
    message
}

#[test]
fn missing_root_is_a_clear_error_and_leaves_nothing() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut spec = spec(&name, &rootfs, "true");
    spec.filesystems[0].source = FilesystemSource::Bind {
        dir: PathBuf::from("/nonexistent/rvirt-root"),
    };
    let message = expect_start_failure(spec, &[]);
    assert_eq!(
        message,
        "cannot use the root filesystem source /nonexistent/rvirt-root: No such file or directory"
    );
}

#[test]
fn unknown_bridge_is_a_clear_error_and_leaves_nothing() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let veth = format!("vt{}", &name[2..]);
    let mut spec = spec(&name, &rootfs, "true");
    spec.network = Some(Network {
        interfaces: vec![Veth {
            host_name: veth.clone(),
            guest_name: "eth0".into(),
            bridge: Some("rvnosuchbr0".into()),
            mac: None,
            mtu: None,
            addresses: vec![],
            routes: vec![],
        }],
    });
    let message = expect_start_failure(spec, &[&veth]);
    assert_eq!(
        message,
        format!(
            "cannot attach interface {veth} to bridge 'rvnosuchbr0': no such bridge on this host"
        )
    );
}

#[test]
fn missing_init_is_a_clear_error_and_leaves_nothing() {
    let rootfs = Rootfs::new();
    let bridge = Bridge::new();
    let name = unique("lc");
    let veth = format!("vt{}", &name[2..]);
    let mut spec = spec(&name, &rootfs, "true");
    spec.init.path = "/sbin/nosuch-init".into();
    // With a veth and a user namespace too: everything set up is torn down again.
    spec.network = Some(Network {
        interfaces: vec![Veth {
            host_name: veth.clone(),
            guest_name: "eth0".into(),
            bridge: Some(bridge.name.clone()),
            mac: None,
            mtu: None,
            addresses: vec![],
            routes: vec![],
        }],
    });
    let message = expect_start_failure(spec, &[&veth]);
    assert_eq!(
        message,
        "cannot execute init /sbin/nosuch-init in the container: No such file or directory"
    );
}

#[test]
fn user_namespace_maps_root_to_the_idmap() {
    let rootfs = Rootfs::new();
    std::fs::set_permissions(
        rootfs.data(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let name = unique("lc");
    let mut spec = spec(
        &name,
        &rootfs,
        "echo uidmap=$(cat /proc/self/uid_map | tr -s ' '); echo id=$(id -u); \
         echo memlimit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
         echo x > /data/owned; echo DONE; sleep 0.2",
    );
    spec.idmap = Some(IdMap {
        uid: vec![IdRange {
            start: 0,
            target: 200_000,
            count: 65536,
        }],
        gid: vec![IdRange {
            start: 0,
            target: 200_000,
            count: 65536,
        }],
    });
    let mut controller = Controller::start(spec);
    controller.wait_init();
    let console = read_console_until(
        &controller.spec.console_socket,
        "DONE",
        Duration::from_secs(10),
    );
    assert_eq!(
        console_value(&console, "uidmap"),
        Some("0 200000 65536"),
        "{console}"
    );
    assert_eq!(console_value(&console, "id"), Some("0"), "{console}");
    assert_eq!(
        console_value(&console, "memlimit"),
        Some("67108864"),
        "{console}"
    );
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(rootfs.data().join("owned")).expect("file"),
    );
    assert_eq!(owner, 200_000, "the container's root is host uid 200000");
    let (_, exit, _) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Shutdown);
    assert_eq!(
        leftovers(&name, &rootfs.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn exit_event_is_written_before_the_controller_exits() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(&name, &rootfs, "sleep 0.2"));
    controller.wait_init();
    // Read nothing until the controller process is gone: the EXIT frame must already be in
    // the socket, fully written, by then.
    let status = controller
        .child
        .wait()
        .expect("the controller exits on its own after lingering");
    assert_eq!(status.code(), Some(0));
    match controller.next(Duration::from_secs(1)) {
        Some(Message::Exit(ExitStatus::Shutdown)) => {}
        other => panic!("expected EXIT(SHUTDOWN), got {other:?}"),
    }
    assert!(
        controller.next(Duration::from_secs(1)).is_none(),
        "then the connection ends"
    );
}

#[test]
fn console_keeps_output_for_a_late_client() {
    let rootfs = Rootfs::new();
    let name = unique("lc");
    let mut controller = Controller::start(spec(
        &name,
        &rootfs,
        "echo EARLY-OUTPUT; read line; echo got=$line; sleep 0.2",
    ));
    controller.wait_init();
    std::thread::sleep(Duration::from_millis(200));
    let console = read_console_until(
        &controller.spec.console_socket,
        "EARLY-OUTPUT",
        Duration::from_secs(5),
    );
    assert!(console.contains("EARLY-OUTPUT"));
    // A client that attaches types into the container's console.
    let mut stream = UnixStream::connect(&controller.spec.console_socket).expect("console");
    stream.write_all(b"typed\n").expect("type");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while !seen.contains("got=typed") {
        assert!(
            Instant::now() < deadline,
            "typed input did not reach init: {seen}"
        );
        let mut buffer = [0u8; 1024];
        if let Ok(n) = stream.read(&mut buffer) {
            seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    }
    let (_, exit, _) = controller.until_exit();
    assert_eq!(exit, ExitStatus::Shutdown);
}
