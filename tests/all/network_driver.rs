//! The network plugin behind a real rvirtd, driven by real virsh over the wire through
//! `qemu:///system` and `lxc:///` (whose networks it serves) and `network:///system`.
//!
//! The daemon runs in a network namespace of its own (`ip netns`, which also gives it its own
//! /sys/class/net), so the bridges, nftables rules and dnsmasq it makes are the test's alone
//! and never touch the host's networking.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{built_binaries, plugins_dir, unique};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn have(program: &str) -> bool {
    Path::new(program).exists()
}

/// A named network namespace, deleted (with whatever still runs in it) on drop.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    pub(crate) fn new() -> Netns {
        let name = unique("rvtns");
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Runs a command inside the namespace; its output.
    fn exec(&self, program: &str, args: &[&str]) -> String {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("ip netns exec");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn pids(&self) -> Vec<i32> {
        String::from_utf8_lossy(
            &Command::new("ip")
                .args(["netns", "pids", &self.name])
                .output()
                .expect("ip netns pids")
                .stdout,
        )
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed: {status}");
}

/// `ip netns exec` mounts a fresh sysfs (so /sys/class/net is the namespace's), which hides
/// the cgroup mounts below /sys/fs/cgroup: mount the host's hierarchies again (the same ones:
/// a cgroup v1 hierarchy mounted twice is one hierarchy), then run the command ("$0" "$@").
const REMOUNT_CGROUPS: &str = r#"mount -t tmpfs cgroup_root /sys/fs/cgroup || exit 1
while read -r source dir type options rest; do
    case "$type:$dir" in
    cgroup:/sys/fs/cgroup/* | cgroup2:/sys/fs/cgroup/*)
        mkdir -p "$dir" && mount -t "$type" -o "$options" "$source" "$dir" || exit 1 ;;
    cgroup2:/sys/fs/cgroup)
        mount -t cgroup2 -o "$options" "$source" /sys/fs/cgroup || exit 1 ;;
    esac
done </proc/1/mounts
exec "$0" "$@""#;

/// rvirtd inside `netns`, over a state root that outlives it.
pub(crate) struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    /// The daemon's process id: `ip netns exec` and the shell exec into rvirtd.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn start(netns: &Netns, dir: &Path) -> Daemon {
        let (_, rvirtd) = built_binaries();
        std::fs::write(dir.join("rvirtd.conf"), "").expect("config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log"))
            .expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &netns.name, "sh", "-c", REMOUNT_CGROUPS])
            .arg(rvirtd)
            .arg("--unix-sock-dir")
            .arg(dir)
            .arg("-f")
            .arg(dir.join("rvirtd.conf"))
            .env("RVIRT_STATE_ROOT", dir.join("state"))
            .env("RVIRT_PLUGIN_PATH", plugins_dir())
            .env("RVIRT_GRANTS", workspace_root().join("etc/grants.toml"))
            .env(
                "RVIRT_CACHE_DIR",
                std::env::temp_dir().join("rvirt-network-test-compiled"),
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rvirtd starts");
        let daemon = Daemon {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !daemon.socket().exists() {
            assert!(
                Instant::now() < deadline,
                "rvirtd did not start: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("rvirt-sock")
    }

    pub(crate) fn uri(&self, driver: &str) -> String {
        format!("{driver}+unix:///system?socket={}", self.socket().display())
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// SIGKILL: what a crash does.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.socket());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn virsh(uri: &str, commands: &str) -> Output {
    Command::new("/usr/bin/virsh")
        .args(["-q", "-c", uri, commands])
        .output()
        .expect("virsh")
}

pub(crate) fn ok(uri: &str, commands: &str) -> String {
    let output = virsh(uri, commands);
    assert!(
        output.status.success(),
        "virsh {commands}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn refused(uri: &str, commands: &str) -> String {
    let output = virsh(uri, commands);
    assert!(!output.status.success(), "virsh {commands} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn nat_network(name: &str, third_octet: u8) -> String {
    format!(
        "<network>\n  <name>{name}</name>\n  <forward mode='nat'/>\n  \
         <ip address='192.168.{third_octet}.1' netmask='255.255.255.0'>\n    <dhcp>\n      \
         <range start='192.168.{third_octet}.2' end='192.168.{third_octet}.254'/>\n    \
         </dhcp>\n  </ip>\n</network>\n"
    )
}

fn dnsmasq_pids(netns: &Netns, name: &str) -> Vec<i32> {
    netns
        .pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| {
                    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    cmdline.contains("dnsmasq") && cmdline.contains(&format!("{name}.conf"))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// One test's world: a namespace, a directory, a daemon in the namespace, and a NAT network
/// defined from `nat_network(name, third_octet)`.
struct World {
    sandbox: Sandbox,
    network: String,
}

/// A daemon in a network namespace of its own, over a state directory that outlives it.
pub(crate) struct Sandbox {
    // Field order is drop order: the daemon goes before its namespace and directory.
    pub(crate) daemon: Option<Daemon>,
    pub(crate) netns: Netns,
    pub(crate) dir: tempfile::TempDir,
}

impl Sandbox {
    /// `prefix` names the state directory under /tmp.
    pub(crate) fn new(prefix: &str) -> Sandbox {
        let netns = Netns::new();
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .expect("dir");
        let daemon = Daemon::start(&netns, dir.path());
        Sandbox {
            daemon: Some(daemon),
            netns,
            dir,
        }
    }

    pub(crate) fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("a daemon runs")
    }

    pub(crate) fn uri(&self, driver: &str) -> String {
        self.daemon().uri(driver)
    }

    /// Kills the daemon (as a crash would) and starts a new one over the same state.
    pub(crate) fn restart_daemon(&mut self) {
        if let Some(daemon) = self.daemon.take() {
            daemon.kill();
        }
        self.daemon = Some(Daemon::start(&self.netns, self.dir.path()));
    }
}

impl std::ops::Deref for World {
    type Target = Sandbox;
    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut Sandbox {
        &mut self.sandbox
    }
}

impl World {
    fn new(third_octet: u8) -> World {
        assert!(
            have("/usr/bin/virsh") && have("/usr/sbin/dnsmasq") && have("/usr/sbin/nft"),
            "virsh, dnsmasq and nft are needed: ./x.sh test installs them"
        );
        let world = World {
            sandbox: Sandbox::new("rvirt-net-"),
            network: unique("rvtnet"),
        };
        world.define(&nat_network(&world.network, third_octet));
        world
    }

    /// `virsh net-define` of `xml` through `qemu:///system`.
    fn define(&self, xml: &str) {
        let path = self.dir.path().join("net.xml");
        std::fs::write(&path, xml).expect("xml");
        ok(&self.uri("qemu"), &format!("net-define {}", path.display()));
    }

    fn dnsmasq_pids(&self) -> Vec<i32> {
        dnsmasq_pids(&self.netns, &self.network)
    }
}

#[test]
fn nat_network_lifecycle_through_virsh_in_its_own_namespace() {
    let mut world = World::new(150);
    let qemu = world.uri("qemu");
    let lxc = world.uri("lxc");
    let name = world.network.clone();

    let listed = ok(&lxc, "net-list --all");
    assert!(
        listed.contains(&name) && listed.contains("inactive"),
        "the LXC connection sees the same networks: {listed}"
    );
    let xml = ok(&qemu, &format!("net-dumpxml {name}"));
    assert!(
        xml.contains("<bridge name='virbr0' stp='on' delay='0'/>"),
        "{xml}"
    );
    assert!(xml.contains("<mac address='52:54:00:"), "{xml}");

    ok(&qemu, &format!("net-start {name}"));
    let netns = &world.netns;
    let addresses = netns.exec("ip", &["-o", "addr", "show", "dev", "virbr0"]);
    assert!(addresses.contains("192.168.150.1/24"), "{addresses}");
    let ruleset = netns.exec("nft", &["list", "ruleset"]);
    assert!(
        ruleset.contains("virbr0") && ruleset.contains("masquerade"),
        "{ruleset}"
    );
    let dnsmasq = world.dnsmasq_pids();
    assert_eq!(dnsmasq.len(), 1, "one dnsmasq: {}", world.daemon().log());
    let listening = netns.exec("ss", &["-lunp"]);
    assert!(
        listening.contains(":67 "),
        "dnsmasq serves DHCP: {listening}"
    );
    assert!(ok(&qemu, "net-list").contains(&name));
    let info = ok(&qemu, &format!("net-info {name}"));
    assert!(info.contains("virbr0"), "{info}");

    // A live update reaches dnsmasq's hosts file; the persistent one the definition.
    ok(
        &qemu,
        &format!(
            "net-update {name} add ip-dhcp-host \"<host mac='52:54:00:00:00:42' name='h42' \
             ip='192.168.150.42'/>\" --live --config"
        ),
    );
    let hostsfile = std::fs::read_to_string(
        world
            .dir
            .path()
            .join(format!("state/lib/network/dnsmasq/{name}.hostsfile")),
    )
    .unwrap_or_default();
    assert!(
        hostsfile.contains("52:54:00:00:00:42,192.168.150.42,h42"),
        "{hostsfile}"
    );
    let inactive = ok(&qemu, &format!("net-dumpxml {name} --inactive"));
    assert!(inactive.contains("h42"), "{inactive}");
    // Modes as libvirt's: the configuration private, the hosts files (which dnsmasq reads
    // again as its own user) readable, and the driver's other directories private.
    let state = world.dir.path().join("state/lib/network");
    let mode = |path: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        meta.permissions().mode() & 0o7777
    };
    let dnsmasq_dir = state.join("dnsmasq");
    assert_eq!(mode(&dnsmasq_dir.join(format!("{name}.conf"))), 0o600);
    assert_eq!(mode(&dnsmasq_dir.join(format!("{name}.hostsfile"))), 0o644);
    assert_eq!(mode(&dnsmasq_dir.join(format!("{name}.addnhosts"))), 0o644);
    assert_eq!(mode(&dnsmasq_dir), 0o755);
    assert_eq!(mode(&state), 0o711);
    assert_eq!(mode(&world.dir.path().join("state/etc/network")), 0o700);
    assert_eq!(
        mode(
            &world
                .dir
                .path()
                .join(format!("state/etc/network/{name}.xml"))
        ),
        0o600
    );

    // A second network on the same subnet cannot start, and leaves nothing behind.
    let clash = unique("rvtnet");
    world.define(&nat_network(&clash, 150));
    let error = refused(&qemu, &format!("net-start {clash}"));
    assert!(error.contains("already in use"), "{error}");
    assert!(
        !world.netns.exec("ip", &["-o", "link"]).contains("virbr1"),
        "a failed start leaves no bridge"
    );
    ok(&qemu, &format!("net-undefine {clash}"));

    // The daemon dies; the next one finds the network running and its dnsmasq re-adopted.
    world.restart_daemon();
    assert!(
        ok(&qemu, "net-list").contains(&name),
        "{}",
        world.daemon().log()
    );
    assert_eq!(
        world.dnsmasq_pids(),
        dnsmasq,
        "dnsmasq is adopted, not restarted"
    );

    ok(&qemu, &format!("net-destroy {name}"));
    let netns = &world.netns;
    assert!(
        !netns.exec("ip", &["-o", "link"]).contains("virbr0"),
        "the bridge is gone"
    );
    let ruleset = netns.exec("nft", &["list", "ruleset"]);
    assert!(!ruleset.contains("virbr0"), "the rules are gone: {ruleset}");
    assert!(world.dnsmasq_pids().is_empty(), "dnsmasq is gone");

    // Autostart: a daemon that starts finds the network down and brings it up.
    ok(&qemu, &format!("net-autostart {name}"));
    world.restart_daemon();
    assert!(
        ok(&qemu, "net-list --autostart").contains(&name),
        "{}",
        world.daemon().log()
    );
    assert_eq!(
        world.dnsmasq_pids().len(),
        1,
        "autostarted with its dnsmasq"
    );

    // A host reboot: daemon, bridge, rules and dnsmasq all gone, the records still saying
    // "running". The next daemon sees the network down and autostarts it again.
    if let Some(daemon) = world.daemon.take() {
        daemon.kill();
    }
    for pid in world.dnsmasq_pids() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    world.netns.exec("ip", &["link", "delete", "virbr0"]);
    world.netns.exec("nft", &["flush", "ruleset"]);
    world.restart_daemon();
    // The daemon opens its drivers after its socket is up: a call waits for them.
    assert!(
        ok(&qemu, "net-list").contains(&name),
        "{}",
        world.daemon().log()
    );
    let addresses = world
        .netns
        .exec("ip", &["-o", "addr", "show", "dev", "virbr0"]);
    assert!(
        addresses.contains("192.168.150.1/24"),
        "autostarted again after the reboot: {addresses} {}",
        world.daemon().log()
    );
    assert_eq!(world.dnsmasq_pids().len(), 1, "with a dnsmasq of its own");
    ok(&qemu, &format!("net-destroy {name}"));
    ok(&qemu, &format!("net-undefine {name}"));
    assert!(!ok(&qemu, "net-list --all").contains(&name));
}

/// The guest's console pty, held open (QEMU drops input to a pty nobody keeps open) and
/// drained (it stops the serial port when nobody reads).
fn open_console(uri: &str, domain: &str) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    let path = ok(uri, &format!("ttyconsole {domain}")).trim().to_string();
    let pty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(0o400) // O_NOCTTY
        .open(&path)
        .unwrap_or_else(|e| panic!("open {path}: {e}"));
    let mut reader = pty.try_clone().expect("dup pty");
    std::thread::spawn(move || {
        let mut sink = [0u8; 4096];
        while matches!(std::io::Read::read(&mut reader, &mut sink), Ok(n) if n > 0) {}
    });
    pty
}

#[test]
fn qemu_guest_on_a_nat_network_gets_a_lease_and_reaches_the_host() {
    use std::io::Write;
    let world = World::new(151);
    let qemu = world.uri("qemu");
    let network = world.network.clone();
    let dir = world.dir.path();
    let netns = &world.netns;

    let guest = unique("rvtguest");
    let files = crate::qemu::GuestFiles::new(&dir.join("guest"));
    let nic = format!(
        "<interface type='network'>\n      <source network='{network}'/>\n      \
         <mac address='52:54:00:aa:bb:01'/>\n      <model type='virtio'/>\n    </interface>"
    );
    let domain_path = dir.join("domain.xml");
    std::fs::write(&domain_path, crate::qemu::domain_xml(&guest, &files, &nic)).expect("xml");
    ok(&qemu, &format!("define {}", domain_path.display()));
    let error = refused(&qemu, &format!("start {guest}"));
    assert!(
        error.contains(&format!("network '{network}' is not active")),
        "a guest on a stopped network does not start: {error}"
    );

    ok(&qemu, &format!("net-start {network}"));
    ok(&qemu, &format!("start {guest}"));
    let boot = Duration::from_secs(120);
    files.wait_for("RVIRT-READY", 0, boot);
    let ports = netns.exec("ip", &["-o", "link", "show", "master", "virbr0"]);
    assert!(
        ports.contains("vnet"),
        "the guest's tap is on the bridge: {ports}"
    );
    let live = ok(&qemu, &format!("dumpxml {guest}"));
    assert!(
        live.contains(&format!("<source network='{network}' bridge='virbr0'/>")),
        "{live}"
    );

    let serial = files.serial();
    let guest_nic = serial
        .lines()
        .find_map(|line| line.strip_prefix("RVIRT-NICS "))
        .and_then(|nics| nics.split_whitespace().next())
        .unwrap_or_else(|| panic!("the guest lists its NICs: {serial}"))
        .to_string();
    let mut console = open_console(&qemu, &guest);
    console
        .write_all(format!("dhcp {guest_nic}\n").as_bytes())
        .expect("write console");
    files.wait_for("RVIRT-DHCP", 0, Duration::from_secs(60));
    let answer = files
        .serial()
        .lines()
        .find(|line| line.starts_with("RVIRT-DHCP"))
        .unwrap_or_default()
        .to_string();
    assert!(
        answer.contains("ip=192.168.151.") && answer.contains("router=192.168.151.1"),
        "dnsmasq gave the guest a lease: {answer}"
    );
    assert!(
        answer.contains("ping=ok"),
        "the guest reaches the host: {answer}"
    );
    let leases: String = crate::qemu::walk(&dir.join("state"))
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "leases"))
        .map(|path| std::fs::read_to_string(path).unwrap_or_default())
        .collect();
    assert!(
        leases.contains("52:54:00:aa:bb:01"),
        "dnsmasq's lease file has the guest: {leases}"
    );
    let listed = ok(&qemu, &format!("net-dhcp-leases {network}"));
    assert!(
        listed.contains("52:54:00:aa:bb:01") && listed.contains("192.168.151."),
        "virsh net-dhcp-leases lists the guest: {listed}"
    );
    let other = ok(
        &qemu,
        &format!("net-dhcp-leases {network} --mac 52:54:00:aa:bb:99"),
    );
    assert!(!other.contains("52:54:00"), "--mac filters: {other}");
    let python = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import libvirt, sys\n\
             net = libvirt.open(sys.argv[1]).networkLookupByName(sys.argv[2])\n\
             for lease in net.DHCPLeases():\n    \
                 print(lease['mac'], lease['ipaddr'], lease['prefix'], lease['iface'])",
            &qemu,
            &network,
        ])
        .output()
        .expect("python3");
    let python = String::from_utf8_lossy(&python.stdout);
    assert!(
        python.contains("52:54:00:aa:bb:01 192.168.151.") && python.contains(" 24 virbr0"),
        "python DHCPLeases: {python}"
    );

    // A second NIC on the network, hotplugged.
    let before = files.count("RVIRT-NIC-ADDED");
    ok(
        &qemu,
        &format!("attach-interface {guest} network {network} --model virtio --live"),
    );
    files.wait_for("RVIRT-NIC-ADDED", before, Duration::from_secs(60));
    let ports = netns.exec("ip", &["-o", "link", "show", "master", "virbr0"]);
    assert_eq!(ports.matches("vnet").count(), 2, "{ports}");

    ok(&qemu, &format!("destroy {guest}"));
    ok(&qemu, &format!("net-destroy {network}"));
}

#[test]
fn lxc_container_on_a_nat_network_gets_a_lease_and_reaches_the_host() {
    let world = World::new(152);
    let lxc = world.uri("lxc");
    let network = world.network.clone();
    ok(&lxc, &format!("net-start {network}"));

    let rootfs = crate::lxc::Rootfs::new();
    std::fs::write(
        rootfs.root().join("bin/dhcp.script"),
        "#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n\
         ifconfig \"$interface\" \"$ip\" netmask \"$subnet\" up\n\
         echo \"$ip $router\" >/data/lease\n",
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        rootfs.root().join("bin/dhcp.script"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let script = "ifconfig eth0 up; udhcpc -i eth0 -n -q -t 20 -T 1 -s /bin/dhcp.script \
                  && ping -c 1 -W 3 192.168.152.1 && echo reached >/data/ping; \
                  while true; do sleep 1; done";
    let nic = format!(
        "<interface type='network'>\n      <source network='{network}'/>\n    </interface>"
    );
    let name = unique("rvtct");
    let path = world.dir.path().join("container.xml");
    std::fs::write(
        &path,
        crate::lxc::driver::domain_xml(&name, &rootfs, script, &nic),
    )
    .expect("xml");
    ok(&lxc, &format!("define {}", path.display()));
    ok(&lxc, &format!("start {name}"));
    let ports = world
        .netns
        .exec("ip", &["-o", "link", "show", "master", "virbr0"]);
    assert!(
        ports.contains("vr"),
        "the container's veth is on the bridge: {ports}"
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    while !rootfs.data().join("ping").exists() {
        assert!(
            Instant::now() < deadline,
            "the container got no lease or no answer: lease {:?}; {}",
            std::fs::read_to_string(rootfs.data().join("lease")).ok(),
            world.daemon().log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let lease = std::fs::read_to_string(rootfs.data().join("lease")).expect("lease");
    assert!(lease.starts_with("192.168.152."), "{lease}");
    let address = lease.split_whitespace().next().unwrap_or_default();
    let listed = ok(&lxc, &format!("net-dhcp-leases {network}"));
    assert!(
        listed.contains(&format!("{address}/24")),
        "virsh net-dhcp-leases lists the container's lease {address}: {listed}"
    );

    ok(&lxc, &format!("destroy {name}"));
    ok(&lxc, &format!("undefine {name}"));
    ok(&lxc, &format!("net-destroy {network}"));
}

/// libvirt's "Done means" for a first guest: `virt-install --network network=NET --disk size=1
/// --import` against rvirtd makes a qcow2 volume in the default pool and a NIC on the network,
/// and the guest's lease shows in `virsh net-dhcp-leases`.
#[test]
fn virt_install_makes_a_guest_on_the_default_pool_and_a_network_that_gets_a_lease() {
    let world = World::new(153);
    let qemu = world.uri("qemu");
    let network = world.network.clone();
    ok(&qemu, &format!("net-start {network}"));
    let images = world.dir.path().join("images");
    std::fs::create_dir_all(&images).expect("images");
    let pool = world.dir.path().join("pool.xml");
    std::fs::write(
        &pool,
        format!(
            "<pool type='dir'><name>default</name><target><path>{}</path></target></pool>",
            images.display()
        ),
    )
    .expect("pool xml");
    ok(
        &qemu,
        &format!("pool-define {}; pool-start default", pool.display()),
    );

    let image = crate::qemu::guest_image();
    let name = unique("rvtinstall");
    // `--virt-type qemu`: KVM hangs on this machine (TCG guests only).
    let output = Command::new("virt-install")
        .args(["--connect", &qemu, "--virt-type", "qemu", "--name", &name])
        .args(["--memory", "256", "--vcpus", "1", "--osinfo", "generic"])
        .args(["--network", &format!("network={network},model=virtio")])
        .args(["--disk", "size=1", "--import", "--graphics", "none"])
        .arg("--boot")
        .arg(format!(
            "kernel={},initrd={},kernel_args=console=ttyS0 quiet rvirt.dhcp",
            image.kernel.display(),
            image.initrd.display()
        ))
        .arg("--noautoconsole")
        .output()
        .expect("virt-install runs");
    assert!(
        output.status.success(),
        "virt-install: {}{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        world.daemon().log()
    );

    let volume = images.join(format!("{name}.qcow2"));
    let header = std::fs::read(&volume).expect("the volume is a file of the pool");
    assert!(header.starts_with(b"QFI\xfb"), "a qcow2 volume");
    let volumes = ok(&qemu, "vol-list default");
    assert!(volumes.contains(&format!("{name}.qcow2")), "{volumes}");
    let xml = ok(&qemu, &format!("dumpxml {name}"));
    assert!(
        xml.contains(&format!("<source file='{}'/>", volume.display()))
            && xml.contains("type='qcow2'"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<source network='{network}' bridge='virbr0'/>")),
        "{xml}"
    );
    let mac = xml
        .split("<mac address='")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("a MAC: {xml}"))
        .to_string();

    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let leases = ok(&qemu, &format!("net-dhcp-leases {network}"));
        if leases.contains(&mac) && leases.contains("192.168.153.") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guest got no lease: {leases}\n{}",
            world.daemon().log()
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    ok(
        &qemu,
        &format!("destroy {name}; undefine {name} --remove-all-storage"),
    );
    assert!(!volume.exists(), "undefine removed the volume");
    ok(&qemu, &format!("net-destroy {network}"));
}

/// `<forward mode='bridge'>` onto a bridge the host already has: no dnsmasq, no rules, no
/// bridge made or removed by the network; a guest's tap joins that bridge.
#[test]
fn bridge_forward_network_puts_guests_on_an_existing_bridge() {
    let world = World::new(154);
    let qemu = world.uri("qemu");
    world
        .netns
        .exec("ip", &["link", "add", "rvtbr0", "type", "bridge"]);
    world.netns.exec("ip", &["link", "set", "rvtbr0", "up"]);
    let name = unique("rvthostbr");
    world.define(&format!(
        "<network><name>{name}</name><forward mode='bridge'/><bridge name='rvtbr0'/></network>"
    ));
    let tables_before = world.netns.exec("nft", &["list", "tables"]);
    ok(&qemu, &format!("net-start {name}"));
    let xml = ok(&qemu, &format!("net-dumpxml {name}"));
    assert!(
        xml.contains("<forward mode='bridge'/>") && xml.contains("<bridge name='rvtbr0'/>"),
        "{xml}"
    );
    assert!(
        dnsmasq_pids(&world.netns, &name).is_empty(),
        "a bridged network runs no dnsmasq"
    );
    assert_eq!(
        world.netns.exec("nft", &["list", "tables"]),
        tables_before,
        "a bridged network loads no rules"
    );

    let guest = unique("rvtbrguest");
    let files = crate::qemu::GuestFiles::new(&world.dir.path().join("guest"));
    let nic = format!(
        "<interface type='network'>\n      <source network='{name}'/>\n      \
         <model type='virtio'/>\n    </interface>"
    );
    let domain = world.dir.path().join("domain.xml");
    std::fs::write(&domain, crate::qemu::domain_xml(&guest, &files, &nic)).expect("xml");
    ok(
        &qemu,
        &format!("define {}; start {guest}", domain.display()),
    );
    let ports = world
        .netns
        .exec("ip", &["-o", "link", "show", "master", "rvtbr0"]);
    assert!(
        ports.contains("vnet"),
        "the guest's tap is on the bridge: {ports}"
    );
    let live = ok(&qemu, &format!("dumpxml {guest}"));
    assert!(
        live.contains(&format!("<source network='{name}' bridge='rvtbr0'/>")),
        "{live}"
    );
    ok(&qemu, &format!("destroy {guest}; net-destroy {name}"));
    let links = world.netns.exec("ip", &["-o", "link", "show", "rvtbr0"]);
    assert!(
        links.contains("rvtbr0"),
        "destroying the network leaves the host's bridge: {links}"
    );
}
