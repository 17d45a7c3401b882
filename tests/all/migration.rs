//! Live migration of a real TCG guest between two rvirtds on this machine, each a "host" of
//! its own: its own network namespace (joined to the other's by a veth pair), state, run
//! and socket directories, and host UUID (a machine-id bind-mounted in its mount
//! namespace). Unmodified virsh drives them: peer-to-peer (`--p2p`, the source daemon opens
//! `qemu+tcp://OTHER/system` and runs the phases) and managed (virsh runs them), with
//! storage copy over NBD, post-copy, an abort, a destination QEMU killed mid-way and bad
//! destinations. The evidence is the guest's own serial counter (`tick` in
//! `tests/guest/init`): it goes on across every move without starting again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    built_binaries, plugins_dir, run, unique, virsh_ok, virsh_status, workspace_root,
};
use crate::qemu::{domain_xml, guest_image, GuestFiles, STEP_TIMEOUT};

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
/// A slowed migration (1 MiB/s) lasts long enough to act on it while it runs.
const SLOW_MIB_S: &str = "1";

/// One "host": an rvirtd in its own network namespace.
struct MigrationHost {
    netns: String,
    address: String,
    dir: PathBuf,
    daemon: Child,
}

impl MigrationHost {
    fn start(netns: &str, address: &str, dir: &Path, machine_id: u32) -> MigrationHost {
        let (_, rvirtd) = built_binaries();
        std::fs::create_dir_all(dir).expect("host dir");
        std::fs::write(
            dir.join("rvirtd.conf"),
            format!("listen_tcp = true\nlisten_addr = \"{address}\"\n"),
        )
        .expect("config");
        std::fs::write(dir.join("machine-id"), format!("{machine_id:032x}\n")).expect("id");
        let log = std::fs::File::create(dir.join("log")).expect("log");
        // `ip netns exec` gives the daemon a mount namespace of its own, where its
        // machine-id (the host UUID libvirt compares) differs from the other host's.
        let script = format!(
            "mount --bind {dir}/machine-id /etc/machine-id && exec {rvirtd} --unix-sock-dir {dir} -f {dir}/rvirtd.conf",
            dir = dir.display(),
            rvirtd = rvirtd.display(),
        );
        let daemon = Command::new("ip")
            .args(["netns", "exec", netns, "sh", "-c", &script])
            .env("RVIRT_STATE_ROOT", dir.join("state"))
            .env("RVIRT_PLUGIN_PATH", plugins_dir())
            .env("RVIRT_GRANTS", workspace_root().join("etc/grants.toml"))
            .env(
                "RVIRT_CACHE_DIR",
                std::env::temp_dir().join("rvirt-test-daemon-compiled"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("ip netns exec rvirtd");
        let host = MigrationHost {
            netns: netns.to_string(),
            address: address.to_string(),
            dir: dir.to_path_buf(),
            daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dir.join("rvirt-sock").exists() {
            assert!(
                Instant::now() < deadline,
                "rvirtd did not start: {}",
                host.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        host
    }

    /// The daemon's QEMU driver, reached from the test over its unix socket.
    fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}/rvirt-sock",
            self.dir.display()
        )
    }

    /// The daemon as the other host reaches it.
    fn tcp_uri(&self) -> String {
        format!("qemu+tcp://{}/system", self.address)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// The pids of QEMUs this host's daemon started.
    fn qemu_pids(&self) -> Vec<u32> {
        let needle = format!("{}/state/", self.dir.display());
        crate::qemu::qemu_pids_with(&needle)
    }

    fn virsh(&self, args: &[&str]) -> String {
        virsh_ok(&self.uri(), args)
    }

    fn list(&self) -> String {
        self.virsh(&["list", "--all", "--name"])
    }
}

impl Drop for MigrationHost {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        for pid in self.qemu_pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// Two network namespaces joined by a veth pair, 10.R.0.1 and 10.R.0.2: (name, address).
fn namespace_pair() -> [(String, String); 2] {
    let tag = unique("rm");
    let subnet = 100 + std::process::id() % 100;
    let (ns_a, ns_b) = (format!("{tag}a"), format!("{tag}b"));
    for ns in [&ns_a, &ns_b] {
        run("ip", &["netns", "add", ns]);
    }
    let (veth_a, veth_b) = (format!("{tag}va"), format!("{tag}vb"));
    run(
        "ip",
        &[
            "link", "add", &veth_a, "type", "veth", "peer", "name", &veth_b,
        ],
    );
    let address_a = format!("10.{subnet}.0.1");
    let address_b = format!("10.{subnet}.0.2");
    for (ns, veth, address) in [(&ns_a, &veth_a, &address_a), (&ns_b, &veth_b, &address_b)] {
        run("ip", &["link", "set", veth, "netns", ns]);
        let cidr = format!("{address}/24");
        run("ip", &["-n", ns, "addr", "add", &cidr, "dev", veth]);
        run("ip", &["-n", ns, "link", "set", "lo", "up"]);
        run("ip", &["-n", ns, "link", "set", veth, "up"]);
    }
    [(ns_a, address_a), (ns_b, address_b)]
}

/// Two rvirtd hosts.
fn two_hosts(root: &Path) -> (MigrationHost, MigrationHost) {
    let [(ns_a, address_a), (ns_b, address_b)] = namespace_pair();
    let a = MigrationHost::start(&ns_a, &address_a, &root.join("a"), 0xa1);
    let b = MigrationHost::start(&ns_b, &address_b, &root.join("b"), 0xb2);
    (a, b)
}

/// The reference libvirtd 9.0 as a host (`tests/peers/libvirtd/netns-libvirtd.sh`).
struct LibvirtdHost {
    netns: String,
    address: String,
    dir: PathBuf,
    socket: String,
}

impl LibvirtdHost {
    fn start(netns: &str, address: &str, dir: &Path) -> LibvirtdHost {
        let script = workspace_root().join("tests/peers/libvirtd/netns-libvirtd.sh");
        let output = Command::new(&script)
            .args(["start", netns, address])
            .arg(dir)
            .arg("00000000-0000-4000-8000-0000000000c3")
            .output()
            .expect("netns-libvirtd.sh");
        let host = LibvirtdHost {
            netns: netns.to_string(),
            address: address.to_string(),
            dir: dir.to_path_buf(),
            socket: String::from_utf8_lossy(&output.stdout).trim().to_string(),
        };
        assert!(
            output.status.success(),
            "libvirtd did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        host
    }

    fn uri(&self) -> String {
        format!("qemu+unix:///system?socket={}", self.socket)
    }
}

impl Drop for LibvirtdHost {
    fn drop(&mut self) {
        let script = workspace_root().join("tests/peers/libvirtd/netns-libvirtd.sh");
        let _ = Command::new(script)
            .args(["stop", &self.netns])
            .arg(&self.dir)
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

/// Types lines on a domain's serial console through `virsh console`.
fn type_on_console(uri: &str, domain: &str, lines: &[&str]) {
    let script = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp("virsh", ["virsh", "-c", sys.argv[1], "console", "--force", sys.argv[2]])
time.sleep(1.5)
for line in sys.argv[3:]:
    os.write(fd, (line + "\r").encode())
    time.sleep(0.4)
os.write(fd, b"\x1d")
time.sleep(0.3)
os.waitpid(pid, 0)
"#;
    let status = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(uri)
        .arg(domain)
        .args(lines)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("python3");
    assert!(status.success(), "typing on the console of {domain}");
}

/// The guest's counter values so far, in the order it printed them.
fn ticks(files: &GuestFiles) -> Vec<u64> {
    files
        .serial()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("RVIRT-TICK "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

/// Waits for the counter to pass its current value, and checks it never restarted.
fn assert_counter_goes_on(files: &GuestFiles, after: &str) -> u64 {
    let last = ticks(files).last().copied().unwrap_or(0);
    let deadline = Instant::now() + STEP_TIMEOUT;
    while ticks(files).last().copied().unwrap_or(0) <= last + 2 {
        assert!(
            Instant::now() < deadline,
            "the guest's counter stopped at {last} {after}; serial log:\n{}",
            files.serial()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A line garbled by the guest's other output may be missing; going back may not.
    let all = ticks(files);
    let restarted = all.windows(2).find(|pair| pair[1] <= pair[0]);
    assert!(
        restarted.is_none(),
        "the counter went {restarted:?} {after}: the guest restarted"
    );
    *all.last().unwrap_or(&0)
}

fn domstate(host: &MigrationHost, name: &str) -> String {
    host.virsh(&["domstate", "--reason", name])
        .trim()
        .to_string()
}

/// Starts `virsh migrate` without waiting for it.
fn start_migration(uri: &str, args: &[&str]) -> Child {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .arg("migrate")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("virsh migrate")
}

fn finish(child: Child) -> (bool, String) {
    let output = child.wait_with_output().expect("virsh migrate ends");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Waits until `host` reports a running migration job of `name` with data moving.
fn wait_for_job(host: &MigrationHost, name: &str) -> String {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let (_, info) = virsh_status(&host.uri(), &["domjobinfo", name]);
        if info.contains("Unbounded") && info.contains("Data processed") {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "no migration job on {name}: {info}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn migration_moves_a_running_guest_between_two_daemons() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the migration test creates network namespaces: run it as root"
    );
    crate::common::init_logging();
    guest_image();
    let root = tempfile::tempdir().expect("root");
    let (a, b) = two_hosts(root.path());
    let files = GuestFiles::new(&root.path().join("guest"));
    let name = unique("mg");
    let xml_path = root.path().join("guest.xml");
    std::fs::write(&xml_path, domain_xml(&name, &files, "")).expect("xml");
    a.virsh(&["define", &xml_path.to_string_lossy()]);
    a.virsh(&["start", &name]);
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    type_on_console(
        &a.uri(),
        &name,
        &["tick", "dirty 16", "write-disk vda MOVED-WITH-NBD"],
    );
    files.wait_for("RVIRT-DISK-WRITTEN", 0, STEP_TIMEOUT);
    assert_counter_goes_on(&files, "before any migration");
    let migrate_uri = |host: &MigrationHost| format!("tcp://{}", host.address);

    // 1. Peer-to-peer, with a full storage copy into another image (both "hosts" share
    // this machine's disk, so the destination's definition names its own file), made
    // persistent there and undefined here.
    let dest_disk = root.path().join("guest/dest.qcow2");
    run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            &dest_disk.to_string_lossy(),
            "64M",
        ],
    );
    let source_disk = root.path().join("guest/root.qcow2");
    let dest_xml = a.virsh(&["dumpxml", "--migratable", &name]).replace(
        &*source_disk.to_string_lossy(),
        &dest_disk.to_string_lossy(),
    );
    let dest_xml_path = root.path().join("dest.xml");
    std::fs::write(&dest_xml_path, dest_xml).expect("dest xml");
    let moved = a.virsh(&[
        "migrate",
        "--live",
        "--p2p",
        "--verbose",
        "--copy-storage-all",
        "--persistent",
        "--undefinesource",
        "--xml",
        &dest_xml_path.to_string_lossy(),
        &name,
        &b.tcp_uri(),
        "--migrateuri",
        &migrate_uri(&b),
    ]);
    assert!(
        moved.contains("Migration: [100 %]"),
        "virsh --verbose: {moved}"
    );
    assert_eq!(a.list().trim(), "", "undefined on the source");
    assert!(a.qemu_pids().is_empty(), "the source QEMU is gone");
    assert_eq!(domstate(&b, &name), "running (migrated)");
    assert!(b.virsh(&["dominfo", &name]).contains("Persistent:     yes"));
    assert!(b
        .virsh(&["dumpxml", &name])
        .contains(&*dest_disk.to_string_lossy()));
    assert_counter_goes_on(&files, "after the peer-to-peer move with storage");
    let completed = b.virsh(&["domjobinfo", "--completed", &name]);
    assert!(
        completed.contains("Incoming migration") && completed.contains("Total downtime:"),
        "{completed}"
    );

    // 2. Managed (virsh runs the phases against both daemons) back to A; B keeps its
    // definition, shut off as "migrated".
    let back = virsh_ok(
        &b.uri(),
        &[
            "migrate",
            "--live",
            "--unsafe",
            &name,
            &a.uri(),
            "--migrateuri",
            &migrate_uri(&a),
        ],
    );
    assert!(!back.contains("error"), "{back}");
    assert_eq!(domstate(&a, &name), "running (migrated)");
    assert_eq!(domstate(&b, &name), "shut off (migrated)");
    let completed = a.virsh(&["domjobinfo", "--completed", &name]);
    assert!(completed.contains("Total downtime:"), "{completed}");
    let source_completed = b.virsh(&["domjobinfo", "--completed", &name]);
    assert!(
        source_completed.contains("Outgoing migration")
            && source_completed.contains("Memory total:"),
        "{source_completed}"
    );
    b.virsh(&["undefine", &name]);
    assert_counter_goes_on(&files, "after the managed move");

    // 3. An aborted migration: the guest stays where it was, nothing on the destination.
    a.virsh(&["migrate-setspeed", &name, SLOW_MIB_S]);
    assert_eq!(a.virsh(&["migrate-getspeed", &name]).trim(), SLOW_MIB_S);
    let migration = start_migration(
        &a.uri(),
        &[
            "--live",
            "--unsafe",
            "--p2p",
            &name,
            &b.tcp_uri(),
            "--migrateuri",
            &migrate_uri(&b),
        ],
    );
    let progress = wait_for_job(&a, &name);
    assert!(progress.contains("Outgoing migration"), "{progress}");
    assert_eq!(
        domstate(&b, &name),
        "paused (migrating)",
        "the incoming domain"
    );
    a.virsh(&["domjobabort", &name]);
    let (ok, output) = finish(migration);
    assert!(!ok && output.contains("operation aborted"), "{output}");
    assert_eq!(b.list().trim(), "", "nothing left on the destination");
    assert!(b.qemu_pids().is_empty(), "no QEMU left on the destination");
    assert!(domstate(&a, &name).starts_with("running"));
    assert_counter_goes_on(&files, "after an aborted migration");

    // 4. The destination QEMU dies mid-way: the migration fails, the guest runs on.
    let migration = start_migration(
        &a.uri(),
        &[
            "--live",
            "--unsafe",
            "--p2p",
            &name,
            &b.tcp_uri(),
            "--migrateuri",
            &migrate_uri(&b),
        ],
    );
    wait_for_job(&a, &name);
    for pid in b.qemu_pids() {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the destination QEMU");
    }
    let (ok, output) = finish(migration);
    assert!(!ok && output.contains("operation failed"), "{output}");
    assert_eq!(b.list().trim(), "", "nothing left on the destination");
    assert!(domstate(&a, &name).starts_with("running"));
    assert_counter_goes_on(&files, "after a failed migration");

    // 5. Post-copy: started slow as pre-copy, switched with migrate-postcopy; the guest
    // runs on the destination while its memory follows.
    let migration = start_migration(
        &a.uri(),
        &[
            "--live",
            "--unsafe",
            "--p2p",
            "--postcopy",
            &name,
            &b.tcp_uri(),
            "--migrateuri",
            &migrate_uri(&b),
        ],
    );
    wait_for_job(&a, &name);
    a.virsh(&["migrate-postcopy", &name]);
    let (ok, output) = finish(migration);
    assert!(ok, "post-copy migration: {output}");
    assert_eq!(domstate(&b, &name), "running (migrated)");
    assert_eq!(a.list().trim(), "", "a transient source domain is gone");
    assert_counter_goes_on(&files, "after the post-copy move");

    // 6. Bad destinations: each refused with libvirt's error, the guest untouched.
    let unreachable = format!("qemu+tcp://{}9/system", &a.address[..a.address.len() - 1]);
    let (a_tcp, b_tcp) = (a.tcp_uri(), b.tcp_uri());
    let a_migrate_uri = migrate_uri(&a);
    let refusals = [
        (
            vec!["--live", "--p2p", &name, &unreachable],
            "Failed to connect to remote libvirt URI",
        ),
        (
            vec!["--live", "--p2p", &name, "qemu+tcp://127.0.0.1/system"],
            "Failed to connect",
        ),
        (
            vec![
                "--live",
                "--unsafe",
                "--p2p",
                &name,
                &b_tcp,
                "--migrateuri",
                "tcp://10.0.0.1",
            ],
            "Attempt to migrate guest to the same host",
        ),
        (
            vec![
                "--live",
                "--p2p",
                "--unsafe",
                &name,
                &a_tcp,
                "--migrateuri",
                "rdma://x",
            ],
            "unsupported scheme",
        ),
        (
            vec![
                "--live",
                "--p2p",
                &name,
                &a_tcp,
                "--migrateuri",
                &a_migrate_uri,
            ],
            "Migration without shared storage is unsafe",
        ),
    ];
    for (args, expected) in refusals {
        let mut full = vec!["migrate"];
        full.extend(args.iter().copied());
        let (ok, output) = virsh_status(&b.uri(), &full);
        assert!(
            !ok && output.contains(expected),
            "migrate {args:?}: {output}"
        );
        assert_eq!(
            domstate(&b, &name),
            "running (migrated)",
            "after migrate {args:?}"
        );
        assert_eq!(a.list().trim(), "", "nothing on A after migrate {args:?}");
    }
    let test_dest = format!("test+tcp://{}/default", a.address);
    let (ok, output) = virsh_status(&b.uri(), &["migrate", "--live", "--p2p", &name, &test_dest]);
    assert!(
        !ok && output.contains("does not support peer-to-peer migration"),
        "{output}"
    );

    // 7. rvirsh drives it too, with virsh's progress lines.
    let (rvirsh, _) = built_binaries();
    let output = Command::new(rvirsh)
        .args([
            "-c",
            &b.uri(),
            "migrate",
            "--live",
            "--unsafe",
            "--p2p",
            "--verbose",
            &name,
        ])
        .arg(a.tcp_uri())
        .args(["--migrateuri", &migrate_uri(&a)])
        .output()
        .expect("rvirsh migrate");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "rvirsh migrate: {stderr}");
    assert!(stderr.contains("Migration: [100 %]"), "{stderr}");
    assert_eq!(domstate(&a, &name), "running (migrated)");
    assert_counter_goes_on(&files, "after rvirsh's move");

    // The copied disk holds what the guest wrote before the storage copy.
    a.virsh(&["destroy", &name]);
    let head = crate::qemu::disk_head(&dest_disk);
    assert!(head.contains("MOVED-WITH-NBD"), "the copied disk: {head:?}");
    assert!(a.qemu_pids().is_empty() && b.qemu_pids().is_empty());
    let _ = (a.log(), b.log());
}

/// An rvirtd and the reference libvirtd 9.0 move one guest to each other, peer to peer:
/// the wire, the phases and the cookies are libvirt's on both sides.
#[test]
fn migration_between_rvirtd_and_libvirtd_both_ways() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the migration test creates network namespaces: run it as root"
    );
    crate::common::init_logging();
    guest_image();
    let root = tempfile::tempdir().expect("root");
    let root = root.path();
    let [(ns_a, address_a), (ns_b, address_b)] = namespace_pair();
    let rvirtd = MigrationHost::start(&ns_a, &address_a, &root.join("rvirtd"), 0xa1);
    let libvirtd = LibvirtdHost::start(&ns_b, &address_b, &root.join("lvd"));
    let files = GuestFiles::new(&root.join("guest"));
    let name = unique("mx");
    let xml_path = root.join("guest.xml");
    std::fs::write(&xml_path, domain_xml(&name, &files, "")).expect("xml");
    rvirtd.virsh(&["create", &xml_path.to_string_lossy()]);
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    type_on_console(&rvirtd.uri(), &name, &["tick"]);
    assert_counter_goes_on(&files, "before the migrations");

    let to_libvirtd = rvirtd.virsh(&[
        "migrate",
        "--live",
        "--p2p",
        "--unsafe",
        &name,
        &format!("qemu+tcp://{}/system", libvirtd.address),
        "--migrateuri",
        &format!("tcp://{}", libvirtd.address),
    ]);
    assert!(!to_libvirtd.contains("error"), "{to_libvirtd}");
    assert_eq!(rvirtd.list().trim(), "", "gone from rvirtd");
    let state = virsh_ok(&libvirtd.uri(), &["domstate", "--reason", &name]);
    assert_eq!(state.trim(), "running (migrated)", "on libvirtd");
    assert_counter_goes_on(&files, "on libvirtd");

    let back = virsh_ok(
        &libvirtd.uri(),
        &[
            "migrate",
            "--live",
            "--p2p",
            "--unsafe",
            &name,
            &rvirtd.tcp_uri(),
            "--migrateuri",
            &format!("tcp://{}", rvirtd.address),
        ],
    );
    assert!(!back.contains("error"), "{back}");
    assert_eq!(domstate(&rvirtd, &name), "running (migrated)");
    let left = virsh_ok(&libvirtd.uri(), &["list", "--all", "--name"]);
    assert_eq!(left.trim(), "", "gone from libvirtd");
    assert_counter_goes_on(&files, "back on rvirtd");
    rvirtd.virsh(&["destroy", &name]);
}
