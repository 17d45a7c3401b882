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
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        let name = unique("rvtns");
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
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

/// rvirtd inside `netns`, over a state root that outlives it.
struct Daemon {
    child: Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(netns: &Netns, dir: &Path) -> Daemon {
        let (_, rvirtd) = built_binaries();
        std::fs::write(dir.join("rvirtd.conf"), "").expect("config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log"))
            .expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &netns.name])
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

    fn uri(&self, driver: &str) -> String {
        format!("{driver}+unix:///system?socket={}", self.socket().display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// SIGKILL: what a crash does.
    fn kill(mut self) {
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

fn virsh(uri: &str, commands: &str) -> Output {
    Command::new("/usr/bin/virsh")
        .args(["-q", "-c", uri, commands])
        .output()
        .expect("virsh")
}

fn ok(uri: &str, commands: &str) -> String {
    let output = virsh(uri, commands);
    assert!(
        output.status.success(),
        "virsh {commands}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(uri: &str, commands: &str) -> String {
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

#[test]
fn nat_network_lifecycle_through_virsh_in_its_own_namespace() {
    assert!(
        have("/usr/bin/virsh") && have("/usr/sbin/dnsmasq") && have("/usr/sbin/nft"),
        "virsh, dnsmasq and nft are needed: ./x.sh test installs them"
    );
    let netns = Netns::new();
    let dir = tempfile::Builder::new()
        .prefix("rvirt-net-")
        .tempdir_in("/tmp")
        .expect("dir");
    let daemon = Daemon::start(&netns, dir.path());
    let qemu = daemon.uri("qemu");
    let lxc = daemon.uri("lxc");
    let name = unique("rvtnet");
    let xml_path = dir.path().join("net.xml");
    std::fs::write(&xml_path, nat_network(&name, 150)).expect("xml");

    ok(&qemu, &format!("net-define {}", xml_path.display()));
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
    let addresses = netns.exec("ip", &["-o", "addr", "show", "dev", "virbr0"]);
    assert!(addresses.contains("192.168.150.1/24"), "{addresses}");
    let ruleset = netns.exec("nft", &["list", "ruleset"]);
    assert!(
        ruleset.contains("virbr0") && ruleset.contains("masquerade"),
        "{ruleset}"
    );
    let dnsmasq = dnsmasq_pids(&netns, &name);
    assert_eq!(dnsmasq.len(), 1, "one dnsmasq: {}", daemon.log());
    let listening = netns.exec("ss", &["-lunp"]);
    assert!(
        listening.contains(":67 "),
        "dnsmasq serves DHCP: {listening}"
    );
    assert!(ok(&qemu, "net-list").contains(&name));
    let info = ok(&qemu, &format!("net-info {name}"));
    assert!(info.contains("virbr0"), "{info}");

    // A second network on the same subnet cannot start, and leaves nothing behind.
    let clash = unique("rvtnet");
    std::fs::write(&xml_path, nat_network(&clash, 150)).expect("xml");
    ok(&qemu, &format!("net-define {}", xml_path.display()));
    let error = refused(&qemu, &format!("net-start {clash}"));
    assert!(error.contains("already in use"), "{error}");
    assert!(
        !netns.exec("ip", &["-o", "link"]).contains("virbr1"),
        "a failed start leaves no bridge"
    );
    ok(&qemu, &format!("net-undefine {clash}"));

    // The daemon dies; the next one finds the network running and its dnsmasq re-adopted.
    daemon.kill();
    let daemon = Daemon::start(&netns, dir.path());
    assert!(ok(&qemu, "net-list").contains(&name), "{}", daemon.log());
    assert_eq!(
        dnsmasq_pids(&netns, &name),
        dnsmasq,
        "dnsmasq is adopted, not restarted"
    );

    ok(&qemu, &format!("net-destroy {name}"));
    assert!(
        !netns.exec("ip", &["-o", "link"]).contains("virbr0"),
        "the bridge is gone"
    );
    let ruleset = netns.exec("nft", &["list", "ruleset"]);
    assert!(!ruleset.contains("virbr0"), "the rules are gone: {ruleset}");
    assert!(dnsmasq_pids(&netns, &name).is_empty(), "dnsmasq is gone");
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
    let netns = Netns::new();
    let dir = tempfile::Builder::new()
        .prefix("rvirt-net-")
        .tempdir_in("/tmp")
        .expect("dir");
    let daemon = Daemon::start(&netns, dir.path());
    let qemu = daemon.uri("qemu");
    let network = unique("rvtnet");
    let xml_path = dir.path().join("net.xml");
    std::fs::write(&xml_path, nat_network(&network, 151)).expect("xml");
    ok(&qemu, &format!("net-define {}", xml_path.display()));

    let guest = unique("rvtguest");
    let files = crate::qemu::GuestFiles::new(&dir.path().join("guest"));
    let nic = format!(
        "<interface type='network'>\n      <source network='{network}'/>\n      \
         <mac address='52:54:00:aa:bb:01'/>\n      <model type='virtio'/>\n    </interface>"
    );
    let domain_path = dir.path().join("domain.xml");
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
    let leases = std::fs::read_dir(dir.path().join("state"))
        .ok()
        .map(|_| {
            let mut found = String::new();
            for entry in walk(&dir.path().join("state")) {
                if entry.extension().is_some_and(|ext| ext == "leases") {
                    found.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
                }
            }
            found
        })
        .unwrap_or_default();
    assert!(
        leases.contains("52:54:00:aa:bb:01"),
        "dnsmasq's lease file has the guest: {leases}"
    );

    ok(&qemu, &format!("destroy {guest}"));
    ok(&qemu, &format!("net-destroy {network}"));
    drop(daemon);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
