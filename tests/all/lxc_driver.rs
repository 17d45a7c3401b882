//! The `lxc` plugin through the plugin host, as an embedder (or rvirtd) uses it: domain XML
//! in, containers started by real controllers, libvirt's events and states out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_core::blocking::{Connect, Domain, EventStream};
use virt_core::consts::{
    domain_event_started_detail_type as started, domain_event_stopped_detail_type as stopped,
    domain_event_type as event_type, domain_running_reason, domain_shutoff_reason, domain_state,
};
use virt_core::{ConnectUri, ErrorNumber, Event};
use virt_host::manifest::Grants;
use virt_host::{DirLayout, Host, HostConfig};

use super::{
    bridge_members, console_value, controller_binary, leftovers, read_console_until, unique,
    wait_until, Bridge, Rootfs,
};
use crate::common::plugins_dir;

fn grants() -> Grants {
    rvirt_tests::checkout_grants()
}

/// A host of its own (a "daemon") over a state directory that outlives it.
fn host(state_root: &Path) -> Host {
    controller_binary();
    let mut plugin_path: Vec<PathBuf> = std::env::var_os("RVIRT_PLUGIN_PATH")
        .map(|paths| std::env::split_paths(&paths).collect())
        .unwrap_or_default();
    plugin_path.push(plugins_dir());
    assert!(
        plugin_path.iter().any(|dir| dir.join("lxc.wasm").exists()),
        "the lxc plugin is not built: run `cargo xtask plugins`"
    );
    Host::new(HostConfig {
        plugin_path,
        compile_cache: Some(std::env::temp_dir().join("rvirt-lxc-test-compiled")),
        grants: grants(),
        grants_source: None,
        dirs: DirLayout::Root(state_root.to_path_buf()),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    })
}

fn open(host: &Host) -> Connect {
    let uri = ConnectUri::parse("lxc:///system").expect("uri");
    let connection = host
        .open(&uri, 0)
        .expect("open lxc:///system")
        .expect("the lxc plugin serves lxc://");
    Connect::from_connection(Arc::new(connection), uri, false)
}

/// One test's world: a daemon state directory, a root filesystem, a connection.
struct World {
    state: tempfile::TempDir,
    rootfs: Rootfs,
    host: Option<Host>,
    conn: Connect,
}

impl World {
    fn new() -> World {
        let state = tempfile::Builder::new()
            .prefix("rvirt-lxc-state")
            .tempdir()
            .expect("tempdir");
        let host = host(state.path());
        let conn = open(&host);
        World {
            state,
            rootfs: Rootfs::new(),
            host: Some(host),
            conn,
        }
    }

    fn run_dir(&self) -> PathBuf {
        self.state.path().join("run/lxc")
    }

    /// "Kills the daemon" (drops the host with its plugin instances, handles and threads'
    /// view of the containers) and starts a new one over the same state.
    fn restart_daemon(&mut self) {
        drop(self.host.take());
        let host = host(self.state.path());
        self.conn = open(&host);
        self.host = Some(host);
    }
}

pub(crate) fn domain_xml(name: &str, rootfs: &Rootfs, script: &str, extra_devices: &str) -> String {
    format!(
        "<domain type='lxc'>\n  <name>{name}</name>\n  <memory unit='MiB'>64</memory>\n  <os>\n    <type>exe</type>\n    \
         <init>/bin/sh</init>\n    <initarg>-c</initarg>\n    <initarg>{script}</initarg>\n  </os>\n  <devices>\n    \
         <filesystem type='mount'>\n      <source dir='{root}'/>\n      <target dir='/'/>\n    </filesystem>\n    \
         <filesystem type='mount'>\n      <source dir='{data}'/>\n      <target dir='/data'/>\n    </filesystem>\n    \
         {extra_devices}\n    <console type='pty'/>\n  </devices>\n</domain>\n",
        root = rootfs.root().display(),
        data = rootfs.data().display(),
        script = script.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
    )
}

/// Lifecycle events of `name`, waiting until `count` have arrived.
fn lifecycle_events(
    events: &mut EventStream,
    name: &str,
    count: usize,
    timeout: Duration,
) -> Vec<(i32, i32)> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while seen.len() < count {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, detail }) if dom.name == name => {
                seen.push((event, detail))
            }
            Some(Event::DomainReboot { dom }) if dom.name == name => seen.push((-1, -1)),
            Some(_) => {}
            None => {
                assert!(
                    Instant::now() < deadline,
                    "only {seen:?} of {count} events for {name} within {timeout:?}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    seen
}

fn state_of(domain: &Domain) -> (i32, i32) {
    let state = domain.state(0).expect("domstate");
    (state.state, state.reason)
}

fn console_socket(domain: &Domain) -> PathBuf {
    match domain.open_console(None, 0).expect("open console") {
        virt_core::ConsoleEndpoint::UnixSocket(path) => PathBuf::from(path),
        other => panic!("unexpected console endpoint {other:?}"),
    }
}

#[test]
fn started_container_checks_its_world_from_inside() {
    let world = World::new();
    let bridge = Bridge::new();
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    let xml = domain_xml(
        &name,
        &world.rootfs,
        "echo hostname=$(hostname); echo pid=$$; echo links=$(ls /sys/class/net | tr '\\n' ' '); \
         echo memlimit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
         echo from-inside > /data/written; echo READY; sleep 30",
        &format!("<interface type='bridge'>\n      <source bridge='{}'/>\n    </interface>", bridge.name),
    );
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    domain.create(0).expect("start");
    assert_eq!(
        lifecycle_events(&mut events, &name, 2, Duration::from_secs(5)),
        [
            (event_type::DEFINED, 0),
            (event_type::STARTED, started::BOOTED)
        ]
    );
    assert_eq!(
        state_of(&domain),
        (domain_state::RUNNING, domain_running_reason::BOOTED)
    );
    let domain = world.conn.domain_lookup_by_name(&name).expect("lookup");
    assert!(
        domain.id() > 0,
        "a running container has the controller's pid as id"
    );

    let console = read_console_until(&console_socket(&domain), "READY", Duration::from_secs(10));
    assert_eq!(
        console_value(&console, "hostname"),
        Some(name.as_str()),
        "{console}"
    );
    assert_eq!(console_value(&console, "pid"), Some("1"), "{console}");
    let links = console_value(&console, "links").unwrap_or_default();
    assert!(
        links.contains("eth0") && !links.contains(&bridge.name),
        "own netns with its veth: {console}"
    );
    assert_eq!(
        console_value(&console, "memlimit"),
        Some("67108864"),
        "{console}"
    );
    assert_eq!(
        std::fs::read_to_string(world.rootfs.data().join("written")).expect("bind mount"),
        "from-inside\n"
    );
    let veth = format!("vr{}0", &domain.uuid_string().replace('-', "")[..10]);
    assert!(
        bridge_members(&bridge.name).contains(&veth),
        "{veth} on {}",
        bridge.name
    );
    let live_xml = domain.xml_desc(0).expect("live XML");
    assert!(
        live_xml.contains(&format!("id='{}'", domain.id())) && live_xml.contains(&veth),
        "{live_xml}"
    );

    let info = domain.info().expect("info");
    assert_eq!(info.max_mem_kib, 65536);
    assert!(info.memory_kib > 0 && info.cpu_time_ns > 0, "{info:?}");

    domain.suspend().expect("suspend");
    assert_eq!(state_of(&domain).0, domain_state::PAUSED);
    domain.resume().expect("resume");
    assert_eq!(state_of(&domain).0, domain_state::RUNNING);

    domain.destroy(0).expect("destroy");
    let seen = lifecycle_events(&mut events, &name, 3, Duration::from_secs(10));
    assert_eq!(
        seen.last(),
        Some(&(event_type::STOPPED, stopped::DESTROYED)),
        "{seen:?}"
    );
    assert_eq!(
        state_of(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::DESTROYED)
    );
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[&veth]),
        Vec::<String>::new()
    );
    domain.undefine(0).expect("undefine");
}

/// Starts `script` as a container, waits for its STARTED event, then for one more lifecycle
/// event, which it returns with the state it leaves.
fn run_until_stopped(world: &World, script: &str) -> (Domain, (i32, i32), (i32, i32)) {
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    let domain = world
        .conn
        .domain_define_xml(&domain_xml(&name, &world.rootfs, script, ""), 0)
        .expect("define");
    domain.create(0).expect("start");
    let seen = lifecycle_events(&mut events, &name, 3, Duration::from_secs(20));
    assert_eq!(
        &seen[..2],
        [
            (event_type::DEFINED, 0),
            (event_type::STARTED, started::BOOTED)
        ]
    );
    (domain.clone(), seen[2], state_of(&domain))
}

#[test]
fn poweroff_inside_is_stopped_shutdown() {
    let world = World::new();
    let (domain, event, state) = run_until_stopped(&world, "sleep 0.3; poweroff -f");
    assert_eq!(event, (event_type::STOPPED, stopped::SHUTDOWN));
    assert_eq!(
        state,
        (domain_state::SHUTOFF, domain_shutoff_reason::SHUTDOWN)
    );
    assert_eq!(
        leftovers(&domain.name(), &world.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn init_exiting_is_stopped_shutdown() {
    let world = World::new();
    let (domain, event, state) = run_until_stopped(&world, "sleep 0.3; exit 7");
    assert_eq!(event, (event_type::STOPPED, stopped::SHUTDOWN));
    assert_eq!(
        state,
        (domain_state::SHUTOFF, domain_shutoff_reason::SHUTDOWN)
    );
    assert_eq!(
        leftovers(&domain.name(), &world.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn reboot_inside_comes_back_booted() {
    let world = World::new();
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    // The first boot reboots; the second stays up (the marker file survives on /data).
    let script = "if [ -e /data/booted-once ]; then echo SECOND-BOOT; sleep 30; else touch /data/booted-once; sleep 0.3; reboot -f; fi";
    let domain = world
        .conn
        .domain_define_xml(&domain_xml(&name, &world.rootfs, script, ""), 0)
        .expect("define");
    domain.create(0).expect("start");
    let first_id = world
        .conn
        .domain_lookup_by_name(&name)
        .expect("lookup")
        .id();
    let seen = lifecycle_events(&mut events, &name, 4, Duration::from_secs(20));
    assert_eq!(
        seen,
        [
            (event_type::DEFINED, 0),
            (event_type::STARTED, started::BOOTED),
            (-1, -1),
            (event_type::STARTED, started::BOOTED)
        ],
        "defined, started, reboot, started again"
    );
    assert_eq!(
        state_of(&domain),
        (domain_state::RUNNING, domain_running_reason::BOOTED)
    );
    let again = world.conn.domain_lookup_by_name(&name).expect("lookup");
    assert_ne!(again.id(), first_id, "a new controller runs it");
    read_console_until(
        &console_socket(&again),
        "SECOND-BOOT",
        Duration::from_secs(10),
    );
    again.destroy(0).expect("destroy");
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn killed_controller_is_stopped_crashed() {
    let world = World::new();
    let bridge = Bridge::new();
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    let xml = domain_xml(
        &name,
        &world.rootfs,
        "sleep 60",
        &format!(
            "<interface type='bridge'>\n      <source bridge='{}'/>\n    </interface>",
            bridge.name
        ),
    );
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    domain.create(0).expect("start");
    let controller_pid = world
        .conn
        .domain_lookup_by_name(&name)
        .expect("lookup")
        .id();
    let veth = format!("vr{}0", &domain.uuid_string().replace('-', "")[..10]);
    super::run("kill", &["-9", &controller_pid.to_string()]);
    let seen = lifecycle_events(&mut events, &name, 3, Duration::from_secs(20));
    assert_eq!(seen[2], (event_type::STOPPED, stopped::CRASHED), "{seen:?}");
    assert_eq!(
        state_of(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::CRASHED)
    );
    wait_until(
        "the cleanup after the crash",
        Duration::from_secs(10),
        || leftovers(&name, &world.run_dir(), &[&veth]).is_empty(),
    );
}

#[test]
fn controller_failure_is_stopped_failed() {
    let world = World::new();
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    let xml = domain_xml(&name, &world.rootfs, "true", "")
        .replace("<init>/bin/sh</init>", "<init>/bin/nosuch-init</init>");
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    let error = domain.create(0).expect_err("init does not exist");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert_eq!(
        error.message(),
        "operation failed: cannot execute init /bin/nosuch-init in the container: No such file or directory"
    );
    let seen = lifecycle_events(&mut events, &name, 2, Duration::from_secs(5));
    assert_eq!(seen[1], (event_type::STOPPED, stopped::FAILED));
    assert_eq!(
        state_of(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::FAILED)
    );
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_nothing() {
    let world = World::new();
    // A root that does not exist.
    let name = unique("ld");
    let xml = domain_xml(&name, &world.rootfs, "true", "").replace(
        &format!("<source dir='{}'/>", world.rootfs.root().display()),
        "<source dir='/nonexistent/rvirt-root'/>",
    );
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    let error = domain.create(0).expect_err("missing root");
    assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
    assert_eq!(
        error.message(),
        "cannot use the root filesystem source /nonexistent/rvirt-root: No such file or directory"
    );
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[]),
        Vec::<String>::new()
    );

    // A bridge that does not exist.
    let name = unique("ld");
    let xml = domain_xml(
        &name,
        &world.rootfs,
        "true",
        "<interface type='bridge'><source bridge='rvnosuchbr0'/></interface>",
    );
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    let veth = format!("vr{}0", &domain.uuid_string().replace('-', "")[..10]);
    let error = domain.create(0).expect_err("unknown bridge");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert!(
        error
            .message()
            .contains("bridge 'rvnosuchbr0': no such bridge on this host"),
        "{error:?}"
    );
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[&veth]),
        Vec::<String>::new()
    );

    // What the driver refuses before starting anything.
    let name = unique("ld");
    let xml = domain_xml(
        &name,
        &world.rootfs,
        "true",
        "<interface type='direct'><source dev='eth0' mode='bridge'/></interface>",
    );
    let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
    let error = domain.create(0).expect_err("direct interfaces");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
    assert!(
        error
            .message()
            .contains("network interface type 'direct' is not supported"),
        "{error:?}"
    );
    let error = world
        .conn
        .domain_define_xml("<domain type='kvm'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>", 0)
        .expect_err("kvm");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
}

#[test]
fn daemon_restart_keeps_containers_running_and_manageable() {
    let mut world = World::new();
    let name = unique("ld");
    let domain = world
        .conn
        .domain_define_xml(
            &domain_xml(
                &name,
                &world.rootfs,
                "echo UP; while true; do sleep 0.1; done",
                "",
            ),
            0,
        )
        .expect("define");
    domain.create(0).expect("start");
    let id = world
        .conn
        .domain_lookup_by_name(&name)
        .expect("lookup")
        .id();
    world.restart_daemon();

    let domain = world
        .conn
        .domain_lookup_by_name(&name)
        .expect("the domain survives the restart");
    assert_eq!(domain.id(), id, "the same controller still runs it");
    assert_eq!(
        state_of(&domain),
        (domain_state::RUNNING, domain_running_reason::BOOTED)
    );
    let info = domain.info().expect("info through the reconnected monitor");
    assert!(info.memory_kib > 0, "{info:?}");
    read_console_until(&console_socket(&domain), "UP", Duration::from_secs(5));
    let mut events = world.conn.events().expect("events");
    domain.destroy(0).expect("destroy after the restart");
    assert_eq!(
        lifecycle_events(&mut events, &name, 1, Duration::from_secs(10)),
        [(event_type::STOPPED, stopped::DESTROYED)]
    );
    assert_eq!(
        leftovers(&name, &world.run_dir(), &[]),
        Vec::<String>::new()
    );
}

#[test]
fn transient_container_disappears_when_it_stops() {
    let world = World::new();
    let name = unique("ld");
    let mut events = world.conn.events().expect("events");
    let domain = world
        .conn
        .domain_create_xml(&domain_xml(&name, &world.rootfs, "sleep 0.3", ""), 0)
        .expect("create transient");
    assert!(!domain.is_persistent().expect("persistent?"));
    let seen = lifecycle_events(&mut events, &name, 2, Duration::from_secs(10));
    assert_eq!(
        seen,
        [
            (event_type::STARTED, started::BOOTED),
            (event_type::STOPPED, stopped::SHUTDOWN)
        ]
    );
    wait_until("the transient domain to go", Duration::from_secs(5), || {
        world.conn.domain_lookup_by_name(&name).is_err()
    });
}

/// The daemon died just after spawning a controller, before it wrote `NAME.starting` or
/// committed anything: the next daemon finds the spec in the run directory, withdraws the
/// start (the controller stops, whether it already runs the container or is still starting)
/// and leaves nothing behind, for a defined domain and for a transient one (no record at all).
#[test]
fn start_interrupted_right_after_spawning_the_controller_is_undone() {
    let mut world = World::new();
    let persistent = unique("ld");
    let transient = unique("ld");
    let script = "echo UP; while true; do sleep 0.1; done";
    let mut specs = Vec::new();
    for (name, define) in [(&persistent, true), (&transient, false)] {
        let xml = domain_xml(name, &world.rootfs, script, "");
        let domain = if define {
            let domain = world.conn.domain_define_xml(&xml, 0).expect("define");
            domain.create(0).expect("start");
            domain
        } else {
            world.conn.domain_create_xml(&xml, 0).expect("create")
        };
        // What the driver hands its controller, kept to replay the spawn below.
        let spec_path = world.run_dir().join(format!("{name}.spec.json"));
        let spec = std::fs::read(&spec_path).expect("the spec of a running container");
        domain.destroy(0).expect("destroy");
        specs.push((name.clone(), spec_path, spec));
    }

    // The spawns of a start the daemon never got to record.
    let mut controllers = KilledOnDrop(Vec::new());
    for (index, (name, spec_path, spec)) in specs.iter().enumerate() {
        std::fs::write(spec_path, spec).expect("write the spec");
        let child = std::process::Command::new(controller_binary())
            .args(["run", "--spec"])
            .arg(spec_path)
            .args(["--name", name])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn a controller");
        if index == 0 {
            // The first container is up before the daemon comes back; the second may not be.
            read_console_until(
                &world.run_dir().join(format!("{name}.console")),
                "UP",
                Duration::from_secs(10),
            );
        }
        controllers.0.push(child);
    }
    world.restart_daemon();

    for child in &mut controllers.0 {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the controller of an interrupted start still runs"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let domain = world
        .conn
        .domain_lookup_by_name(&persistent)
        .expect("the defined domain stays");
    assert_eq!(state_of(&domain).0, domain_state::SHUTOFF);
    assert!(world.conn.domain_lookup_by_name(&transient).is_err());
    for (name, spec_path, _) in &specs {
        wait_until(
            "the cleanup of the withdrawn start",
            Duration::from_secs(10),
            || leftovers(name, &world.run_dir(), &[]).is_empty(),
        );
        assert!(!spec_path.exists(), "{} is left", spec_path.display());
    }
}

/// Controllers a test spawned itself: a failing test must not leave them running.
struct KilledOnDrop(Vec<std::process::Child>);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
