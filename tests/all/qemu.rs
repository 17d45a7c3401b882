//! The QEMU driver plugin with real QEMU (TCG) and a real guest (`tests/guest`): what the
//! guest prints on its serial console is the evidence. One long test walks a guest through
//! the lifecycle (boot, console, monitor passthrough, pause, disk and NIC hotplug (user and a
//! tap on a real bridge), balloon and stats, internal snapshots, save/restore, managed save,
//! a daemon restart with reattach, reboot, reset, external snapshots deleted live and
//! offline, ACPI and agent shutdown, crash); the others check bad input, embedded mode and
//! the documents that need no guest.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use virt_core::blocking::{Connect, Domain};
use virt_core::consts::{
    domain_event_type, domain_shutdown_flag_values, domain_shutoff_reason, domain_state,
};
use virt_core::{ConnectUri, ConsoleEndpoint, ErrorNumber, Event};
use virt_host::{DirLayout, Host, HostConfig};

use crate::common::{bridge_members, plugins_dir, workspace_root, Bridge};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// How long a TCG guest may take to boot on a loaded two-core machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// The test guest's kernel and initramfs, built once by `tests/guest/build.sh`.
pub(crate) struct GuestImage {
    pub(crate) kernel: PathBuf,
    pub(crate) initrd: PathBuf,
}

pub(crate) fn guest_image() -> &'static GuestImage {
    static IMAGE: OnceLock<GuestImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let script = workspace_root().join("tests/guest/build.sh");
        let output = Command::new(&script)
            .output()
            .expect("run tests/guest/build.sh");
        assert!(
            output.status.success(),
            "tests/guest/build.sh failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let dir = PathBuf::from(
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
        );
        let image = GuestImage {
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
        };
        assert!(
            image.kernel.is_file() && image.initrd.is_file(),
            "guest image in {}",
            dir.display()
        );
        image
    })
}

fn host(root: &Path) -> Host {
    crate::common::init_logging();
    assert!(
        Path::new(QEMU).is_file(),
        "{QEMU} is missing: apt-get install qemu-system-x86"
    );
    assert!(
        plugins_dir().join("qemu.wasm").is_file(),
        "target/plugins/qemu.wasm is missing: cargo xtask plugins"
    );
    let grants = rvirt_tests::checkout_grants();
    Host::new(HostConfig {
        plugin_path: vec![plugins_dir()],
        compile_cache: Some(root.join("compiled")),
        grants,
        grants_source: None,
        dirs: DirLayout::Root(root.join("state")),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    })
}

fn open(host: &Host, uri: &str) -> Connect {
    let parsed = ConnectUri::parse(uri).expect("uri");
    let connection = host
        .open(&parsed, 0)
        .expect("open")
        .expect("the qemu plugin serves qemu:");
    Connect::from_connection(Arc::new(connection), parsed, false)
}

/// What a daemon's death does to its resources: sockets close, processes stay.
fn simulate_daemon_exit(host: Host) {
    host.shutdown();
    drop(host);
}

/// One guest's files: its disk image and serial log.
pub(crate) struct GuestFiles {
    dir: PathBuf,
    serial_log: PathBuf,
    disk: PathBuf,
}

impl GuestFiles {
    pub(crate) fn new(dir: &Path) -> GuestFiles {
        std::fs::create_dir_all(dir).expect("guest dir");
        let disk = dir.join("root.qcow2");
        let status = Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&disk)
            .arg("64M")
            .status()
            .expect("qemu-img (apt-get install qemu-utils)");
        assert!(status.success(), "qemu-img create");
        GuestFiles {
            dir: dir.to_path_buf(),
            serial_log: dir.join("serial.log"),
            disk,
        }
    }

    pub(crate) fn serial(&self) -> String {
        std::fs::read_to_string(&self.serial_log).unwrap_or_default()
    }

    pub(crate) fn count(&self, marker: &str) -> usize {
        self.serial().matches(marker).count()
    }

    /// Waits until the serial log holds more than `before` occurrences of `marker`.
    pub(crate) fn wait_for(&self, marker: &str, before: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.count(marker) > before {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "the guest did not print '{marker}' within {timeout:?}; serial log:\n{}",
            self.serial()
        );
    }
}

pub(crate) fn domain_xml(name: &str, files: &GuestFiles, extra_devices: &str) -> String {
    let image = guest_image();
    format!(
        r#"<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{QEMU}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'>
      <log file='{log}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='virtio'/>
    <panic model='isa'/>
    {extra_devices}
  </devices>
</domain>"#,
        kernel = image.kernel.display(),
        initrd = image.initrd.display(),
        disk = files.disk.display(),
        log = files.serial_log.display(),
    )
}

/// The first bytes of a qcow2 image's guest-visible content, read by `qemu-img`.
pub(crate) fn disk_head(image: &Path) -> String {
    let out = image.with_extension("head");
    let status = Command::new("qemu-img")
        .args(["dd", "-f", "qcow2", "-O", "raw", "bs=64", "count=1"])
        .arg(format!("if={}", image.display()))
        .arg(format!("of={}", out.display()))
        .status()
        .expect("qemu-img dd");
    assert!(status.success(), "qemu-img dd {}", image.display());
    String::from_utf8_lossy(&std::fs::read(&out).expect("head")).into_owned()
}

/// The guest's console, held open the way `virsh console` holds it: QEMU forgets input
/// written to a pty nobody keeps open, and stops the serial port when nobody reads it.
struct Console {
    pty: std::fs::File,
    path: String,
}

impl Console {
    fn open(domain: &Domain) -> Console {
        let endpoint = domain.open_console(None, 0).expect("open console");
        let ConsoleEndpoint::Pty(path) = endpoint else {
            panic!("console is not a pty: {endpoint:?}")
        };
        use std::os::unix::fs::OpenOptionsExt;
        let pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc_o_noctty())
            .open(&path)
            .expect("open pty");
        let mut reader = pty.try_clone().expect("dup pty");
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            while matches!(std::io::Read::read(&mut reader, &mut sink), Ok(n) if n > 0) {}
        });
        Console { pty, path }
    }
}

fn libc_o_noctty() -> i32 {
    0o400
}

thread_local! {
    static CONSOLE: std::cell::RefCell<Option<Console>> = const { std::cell::RefCell::new(None) };
}

/// Writes a command line to the guest's console, opening (or reopening, after the domain
/// got a new QEMU) the pty first.
fn send_console(domain: &Domain, line: &str) {
    let endpoint = domain.open_console(None, 0).expect("open console");
    let ConsoleEndpoint::Pty(path) = endpoint else {
        panic!("console is not a pty: {endpoint:?}")
    };
    CONSOLE.with(|console| {
        let mut console = console.borrow_mut();
        if console.as_ref().is_none_or(|open| open.path != path) {
            *console = Some(Console::open(domain));
        }
        let open = console.as_mut().expect("console");
        open.pty
            .write_all(format!("{line}\n").as_bytes())
            .expect("write pty");
    });
}

/// Sends a command and waits for the guest's answer.
fn ask(domain: &Domain, files: &GuestFiles, line: &str, answer: &str) {
    let before = files.count(answer);
    send_console(domain, line);
    files.wait_for(answer, before, STEP_TIMEOUT);
}

fn state(domain: &Domain) -> (i32, i32) {
    let state = domain.state(0).expect("state");
    (state.state, state.reason)
}

fn wait_state(domain: &Domain, wanted: i32, timeout: Duration) -> (i32, i32) {
    let deadline = Instant::now() + timeout;
    loop {
        let current = state(domain);
        if current.0 == wanted || Instant::now() > deadline {
            return current;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn lifecycle_events(events: &mut virt_core::blocking::EventStream) -> Vec<(i32, i32)> {
    let mut seen = Vec::new();
    while let Some(event) = events.try_next() {
        if let Event::DomainLifecycle { event, detail, .. } = event {
            seen.push((event, detail));
        }
    }
    seen
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
}

/// The command line of the QEMU running guest `name` (`-name guest=NAME,...`), its words
/// joined by spaces; empty when none runs.
pub(crate) fn qemu_command_line(name: &str) -> String {
    qemu_pids_with(&format!("guest={name},"))
        .first()
        .and_then(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
        .map(|cmdline| String::from_utf8_lossy(&cmdline).replace('\0', " "))
        .unwrap_or_default()
}

/// The disks the test guest found at boot (its `RVIRT-DISKS` line), once it is up.
pub(crate) fn booted_disks(files: &GuestFiles) -> String {
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    files
        .serial()
        .lines()
        .find_map(|line| line.strip_prefix("RVIRT-DISKS ").map(str::to_string))
        .unwrap_or_default()
}

/// QEMU processes whose command line mentions `needle` (a test's private directory).
pub(crate) fn qemu_pids_with(needle: &str) -> Vec<u32> {
    pids_of("qemu-system", needle)
}

/// Processes of `program` whose command line mentions `needle`.
fn pids_of(program: &str, needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline);
            (text.contains(program) && text.contains(needle) && pid_alive(pid)).then_some(pid)
        })
        .collect()
}

/// Kills what a failed test left running (QEMU and its helpers outlive their host on
/// purpose).
struct KillLeftovers(PathBuf);

impl Drop for KillLeftovers {
    fn drop(&mut self) {
        let needle = self.0.to_string_lossy();
        for program in ["qemu-system", "virtiofsd", "vhost-user-gpu"] {
            for pid in pids_of(program, &needle) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

/// virtiofs and vhost-user video: the plugin starts virtiofsd and vhost-user-gpu (found
/// through QEMU's vhost-user descriptors) before QEMU. The guest mounts the share and reads
/// what the host wrote there, and virtiofsd ends with QEMU. QEMU 7.2 under TCG refuses a
/// vhost-user GPU ("requires kvm"): that start fails with QEMU's reason and leaves neither
/// QEMU nor vhost-user-gpu running. A share that does not exist is refused before anything
/// runs.
#[test]
fn qemu_starts_virtiofsd_and_vhost_user_gpu() {
    let root = tempfile::tempdir().expect("tempdir");
    let _cleanup = KillLeftovers(root.path().to_path_buf());
    let files = GuestFiles::new(&root.path().join("guest"));
    let host = host(root.path());
    let conn = open(&host, "qemu:///session");
    let needle = root.path().to_string_lossy().into_owned();
    let share = root.path().join("share");
    std::fs::create_dir_all(&share).expect("share");
    std::fs::write(share.join("hello.txt"), "shared-from-the-host").expect("hello");
    let filesystem = |dir: &Path| {
        format!(
            "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>\
             <source dir='{}'/><target dir='rvirt-share'/></filesystem>",
            dir.display()
        )
    };
    // vhost-user back ends map the guest's RAM: it must be shared.
    let shared_memory = |xml: String| {
        xml.replace(
            "<vcpu placement",
            "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\
             <vcpu placement",
        )
    };
    let gone = |program: &str| {
        let deadline = Instant::now() + STEP_TIMEOUT;
        while !pids_of(program, &needle).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        pids_of(program, &needle).is_empty()
    };

    let xml = shared_memory(domain_xml("virtiofs", &files, &filesystem(&share)));
    let domain = conn.domain_define_xml(&xml, 0).expect("define");
    domain.create(0).expect("start");
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    let serial = files.serial();
    assert!(
        serial.contains("RVIRT-VIRTIOFS shared-from-the-host"),
        "the guest reads the share: {serial}"
    );
    // (virtiofsd's sandbox is a child in new namespaces: two processes.)
    assert!(!pids_of("virtiofsd", &needle).is_empty(), "virtiofsd runs");
    domain.destroy(0).expect("destroy");
    assert!(gone("virtiofsd"), "virtiofsd ends with QEMU");
    domain.undefine(0).expect("undefine");

    let video = "<video><driver name='vhostuser'/><model type='virtio' heads='1'/></video>";
    let xml = shared_memory(domain_xml("vhostgpu", &files, video));
    let domain = conn.domain_define_xml(&xml, 0).expect("define");
    let error = domain.create(0).expect_err("TCG has no vhost-user GPU");
    assert!(error.message().contains("vhost"), "QEMU's reason: {error}");
    let gpu_log = root
        .path()
        .join("state/log/qemu/session/vhostgpu-video0-vhost-user-gpu.log");
    assert!(gpu_log.exists(), "vhost-user-gpu was started");
    assert!(qemu_pids_with(&needle).is_empty(), "no QEMU left");
    assert!(gone("vhost-user-gpu"), "no vhost-user-gpu left");
    domain.undefine(0).expect("undefine");

    let missing = root.path().join("missing");
    let xml = shared_memory(domain_xml("noshare", &files, &filesystem(&missing)));
    let domain = conn.domain_define_xml(&xml, 0).expect("define");
    let error = domain.create(0).expect_err("refused");
    let wanted = format!(
        "the virtiofs export directory '{}' does not exist",
        missing.display()
    );
    assert!(error.message().contains(&wanted), "{error}");
    assert!(qemu_pids_with(&needle).is_empty(), "no QEMU");
    domain.undefine(0).expect("undefine");
}

/// SPICE with `autoport` (virt-manager's default graphics): the driver reserves a free port
/// from 5900 for each guest, the live XML shows it, QEMU's SPICE server listens there, two
/// guests never share one, and a stopped guest's port is given back. A VNC server beside it
/// gets a reserved port of its own the same way (not one QEMU looks for itself).
#[test]
fn qemu_spice_autoport_reserves_free_ports() {
    let root = tempfile::tempdir().expect("tempdir");
    let _cleanup = KillLeftovers(root.path().to_path_buf());
    let host = host(root.path());
    let conn = open(&host, "qemu:///session");
    let spice = "<graphics type='spice' autoport='yes'>\
                 <listen type='address' address='127.0.0.1'/></graphics>\
                 <graphics type='vnc' autoport='yes'>\
                 <listen type='address' address='127.0.0.1'/></graphics>";
    let start = |name: &str| {
        let files = GuestFiles::new(&root.path().join(name));
        let domain = conn
            .domain_define_xml(&domain_xml(name, &files, spice), 0)
            .expect("define");
        domain.create(0).expect("start");
        let xml = domain.xml_desc(0).expect("live xml");
        let port: u16 = xml
            .split("<graphics type='spice' port='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("a port in the live XML: {xml}"));
        assert!(port >= 5900, "{xml}");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "SPICE listens on {port}"
        );
        let vnc: u16 = xml
            .split("<graphics type='vnc' port='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("a VNC port in the live XML: {xml}"));
        assert!(vnc >= 5900 && vnc != port, "{xml}");
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", vnc)).is_ok(),
            "VNC listens on {vnc}"
        );
        (domain, port)
    };
    let (first, first_port) = start("spice-a");
    let (second, second_port) = start("spice-b");
    assert_ne!(first_port, second_port, "two guests, two ports");
    first.destroy(0).expect("destroy");
    // The lowest free port is the first guest's again once it is given back.
    let (third, third_port) = start("spice-c");
    assert_eq!(third_port, first_port.min(second_port).min(third_port));
    assert_eq!(
        third_port, first_port,
        "the stopped guest's port is given back"
    );
    for domain in [&second, &third] {
        domain.destroy(0).expect("destroy");
    }
    for domain in [first, second, third] {
        domain.undefine(0).expect("undefine");
    }
}

#[test]
fn qemu_guest_walks_the_whole_lifecycle() {
    let root = tempfile::tempdir().expect("tempdir");
    let _cleanup = KillLeftovers(root.path().to_path_buf());
    let files = GuestFiles::new(&root.path().join("guest"));
    let qemu_pid_of = |_: &str| {
        qemu_pids_with(&root.path().to_string_lossy())
            .first()
            .copied()
    };
    let host1 = host(root.path());
    let conn = open(&host1, "qemu:///session");
    let mut events = conn.events().expect("events");

    // Define and boot.
    let domain = conn
        .domain_define_xml(&domain_xml("walker", &files, ""), 0)
        .expect("define");
    assert_eq!(
        state(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::UNKNOWN)
    );
    let started = Instant::now();
    domain.create(0).expect("start");
    eprintln!("create() took {:?}", started.elapsed());
    assert_eq!(state(&domain).0, domain_state::RUNNING);
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    assert!(lifecycle_events(&mut events).contains(&(domain_event_type::STARTED, 0)));
    let live_xml = domain.xml_desc(0).expect("xml");
    assert!(
        live_xml.contains("<alias name='virtio-disk0'/>"),
        "{live_xml}"
    );
    assert!(
        live_xml.contains("/dev/pts/"),
        "pty path in live XML: {live_xml}"
    );
    let info = domain.info().expect("info");
    assert_eq!(info.max_mem_kib, 256 * 1024);
    assert!(info.cpu_time_ns > 0);

    // The guest's master key is the daemon's alone (libvirt's 0600), in a driver directory
    // only root enters.
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).map_or(0, |meta| meta.permissions().mode() & 0o7777)
    };
    let keys: Vec<PathBuf> = walk(&root.path().join("state/run/qemu"))
        .into_iter()
        .filter(|path| path.ends_with("master-key.aes"))
        .collect();
    assert_eq!(keys.len(), 1, "one master key: {keys:?}");
    assert_eq!(mode(&keys[0]), 0o600, "{}", keys[0].display());
    assert_eq!(mode(&root.path().join("state/run/qemu")), 0o700);

    // The console reaches the guest.
    ask(&domain, &files, "set alpha", "RVIRT-SET alpha");

    // Monitor passthrough: QMP as written, QEMU's reply as libvirt hands it on; HMP too.
    let reply = domain
        .qemu_monitor_command(r#"{"execute":"query-status"}"#, 0)
        .expect("qmp passthrough");
    assert!(
        reply.starts_with(r#"{"return":{"status":"running","#),
        "{reply}"
    );
    let reply = domain
        .qemu_monitor_command(r#"{"execute":"no-such-command"}"#, 0)
        .expect("a QMP error is a reply");
    assert!(reply.contains(r#""class":"CommandNotFound""#), "{reply}");
    let reply = domain
        .qemu_monitor_command("info status", 1)
        .expect("hmp passthrough");
    assert!(reply.contains("VM status: running"), "{reply}");

    // Pause and resume.
    domain.suspend().expect("suspend");
    assert_eq!(state(&domain), (domain_state::PAUSED, 1));
    domain.resume().expect("resume");
    assert_eq!(state(&domain).0, domain_state::RUNNING);
    ask(
        &domain,
        &files,
        "echo after-resume",
        "RVIRT-ECHO after-resume",
    );

    // Disk hotplug the guest sees, resize, unplug.
    let extra = files.dir.join("extra.raw");
    let mut image = vec![0u8; 4 << 20];
    image[..12].copy_from_slice(b"HOTPLUG-DISK");
    std::fs::write(&extra, &image).expect("extra disk");
    let disk_xml = format!(
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{}'/><target dev='vdb' bus='virtio'/></disk>",
        extra.display()
    );
    let before = files.count("RVIRT-DISK-ADDED vdb");
    domain.attach_device(&disk_xml, 1).expect("attach disk");
    files.wait_for(
        "RVIRT-DISK-ADDED vdb label=HOTPLUG-DISK",
        before,
        STEP_TIMEOUT,
    );
    assert!(domain.xml_desc(0).expect("xml").contains("extra.raw"));
    domain
        .block_resize("vdb", 8 << 20, 1)
        .expect("block resize");
    ask(&domain, &files, "size vdb", "RVIRT-SIZE vdb sectors=16384");
    let removed_before = files.count("RVIRT-DISK-REMOVED vdb");
    domain.detach_device(&disk_xml, 1).expect("detach disk");
    files.wait_for("RVIRT-DISK-REMOVED vdb", removed_before, STEP_TIMEOUT);
    let deadline = Instant::now() + STEP_TIMEOUT;
    while domain.xml_desc(0).expect("xml").contains("extra.raw") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !domain.xml_desc(0).expect("xml").contains("extra.raw"),
        "detached disk left the live XML"
    );

    // A user-mode NIC hotplugged.
    let nic_before = files.count("RVIRT-NIC-ADDED");
    domain
        .attach_device("<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>", 1)
        .expect("attach nic");
    files.wait_for(
        "RVIRT-NIC-ADDED eth0 mac=52:54:00:aa:bb:01",
        nic_before,
        STEP_TIMEOUT,
    );

    // A tap on a bridge, hotplugged: the tap goes to QEMU over the monitor (`getfd`).
    let bridge = Bridge::new();
    let tap_nic = format!(
        "<interface type='bridge'><source bridge='{}'/><mac address='52:54:00:aa:bb:02'/><model type='virtio'/></interface>",
        bridge.name
    );
    let nic_before = files.count("RVIRT-NIC-ADDED eth1");
    domain
        .attach_device(&tap_nic, 1)
        .expect("attach a tap-backed nic");
    files.wait_for("RVIRT-NIC-ADDED eth1", nic_before, STEP_TIMEOUT);
    assert!(files
        .serial()
        .contains("RVIRT-NIC-ADDED eth1 mac=52:54:00:aa:bb:02"));
    let members = bridge_members(&bridge.name);
    assert_eq!(members.len(), 1, "one tap joined the bridge: {members:?}");
    let tap = members[0].clone();
    assert!(
        domain
            .xml_desc(0)
            .expect("xml")
            .contains(&format!("<target dev='{tap}'/>")),
        "the live XML names the tap {tap}"
    );
    let traffic = domain.interface_stats(&tap).expect("interface stats");
    assert!(
        traffic.iter().any(|param| param.field == "rx_bytes"),
        "{traffic:?}"
    );
    let removed_before = files.count("RVIRT-NIC-REMOVED eth1");
    domain.detach_device(&tap_nic, 1).expect("detach tap nic");
    files.wait_for("RVIRT-NIC-REMOVED eth1", removed_before, STEP_TIMEOUT);
    let tap_path = PathBuf::from(format!("/sys/class/net/{tap}"));
    let deadline = Instant::now() + STEP_TIMEOUT;
    while tap_path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !tap_path.exists(),
        "the detached NIC's tap {tap} was deleted"
    );

    // Balloon.
    domain.set_memory(192 * 1024, 1).expect("set memory");
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        ask(&domain, &files, "mem", "RVIRT-MEM");
        let last = files
            .serial()
            .lines()
            .rfind(|line| line.starts_with("RVIRT-MEM kib="))
            .map(str::to_string)
            .unwrap_or_default();
        let kib: u64 = last
            .trim_start_matches("RVIRT-MEM kib=")
            .trim()
            .parse()
            .unwrap_or(u64::MAX);
        if kib < 200 * 1024 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the guest never saw the balloon inflate: {last}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // What the guest has used, as QEMU counts it.
    // The balloon driver inflates in steps; QEMU reports where it is.
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut info = domain.info().expect("info");
    while info.memory_kib != 192 * 1024 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        info = domain.info().expect("info");
    }
    assert_eq!(info.state, domain_state::RUNNING as u8);
    assert_eq!(
        (info.max_mem_kib, info.memory_kib),
        (256 * 1024, 192 * 1024)
    );
    assert!(info.cpu_time_ns > 0, "{info:?}");
    let balloon = domain.memory_stats(16, 0).expect("memory stats");
    assert!(
        balloon.contains(&(
            virt_core::consts::domain_memory_stat_tags::ACTUAL_BALLOON,
            192 * 1024
        )),
        "{balloon:?}"
    );
    let counter = |params: &[virt_core::TypedParam], field: &str| {
        params
            .iter()
            .find(|param| param.field == field)
            .and_then(|param| match param.value {
                virt_core::TypedValue::LLong(value) => Some(value),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{field} in {params:?}"))
    };
    ask(
        &domain,
        &files,
        "write-disk vda STATS",
        "RVIRT-DISK-WRITTEN vda label=STATS",
    );
    let block = domain.block_stats("vda", 0).expect("block stats");
    assert!(
        counter(&block, "rd_operations") > 0,
        "the guest read vda: {block:?}"
    );
    assert!(
        counter(&block, "wr_bytes") > 0,
        "the guest wrote vda: {block:?}"
    );

    // Internal snapshot and revert: the guest's memory goes back.
    ask(
        &domain,
        &files,
        "set before-snapshot",
        "RVIRT-SET before-snapshot",
    );
    let snapshot = domain
        .snapshot_create_xml("<domainsnapshot><name>snap1</name></domainsnapshot>", 0)
        .expect("snapshot");
    assert_eq!(domain.list_all_snapshots(0).expect("list").len(), 1);
    assert!(snapshot
        .xml_desc(0)
        .expect("snapshot xml")
        .contains("<state>running</state>"));
    ask(
        &domain,
        &files,
        "set after-snapshot",
        "RVIRT-SET after-snapshot",
    );
    snapshot.revert(0).expect("revert");
    assert_eq!(state(&domain).0, domain_state::RUNNING);
    ask(&domain, &files, "get", "RVIRT-VALUE before-snapshot");
    snapshot.delete(0).expect("delete snapshot");
    assert!(domain.list_all_snapshots(0).expect("list").is_empty());

    // Save to a file and restore.
    ask(&domain, &files, "set saved-value", "RVIRT-SET saved-value");
    let save_path = files.dir.join("walker.save");
    domain
        .save(save_path.to_str().expect("utf-8"), None, 0)
        .expect("save");
    assert_eq!(
        state(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::SAVED)
    );
    // One file in libvirt's layout: header, XML, then QEMU's migration stream.
    let image = std::fs::read(&save_path).expect("save image");
    assert!(image.starts_with(b"LibvirtQemudSave"), "libvirt's magic");
    assert!(image.len() > 1 << 20, "the state follows the header");
    assert!(conn
        .domain_save_image_get_xml(save_path.to_str().expect("utf-8"), 0)
        .expect("image xml")
        .contains("<name>walker</name>"));
    conn.domain_restore(save_path.to_str().expect("utf-8"), None, 0)
        .expect("restore");
    assert_eq!(state(&domain).0, domain_state::RUNNING);
    ask(&domain, &files, "get", "RVIRT-VALUE saved-value");

    // Managed save, then start resumes from it.
    ask(
        &domain,
        &files,
        "set managed-value",
        "RVIRT-SET managed-value",
    );
    domain.managed_save(0).expect("managed save");
    assert!(domain.has_managed_save().expect("has managed save"));
    assert_eq!(
        state(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::SAVED)
    );
    domain.create(0).expect("start from managed save");
    assert!(!domain.has_managed_save().expect("managed save consumed"));
    ask(&domain, &files, "get", "RVIRT-VALUE managed-value");

    // The daemon goes away and comes back: the guest keeps running and is found again.
    let pid = qemu_pid_of("walker").expect("QEMU runs");
    drop(events);
    drop(domain);
    drop(conn);
    simulate_daemon_exit(host1);
    assert!(pid_alive(pid), "the guest outlives the daemon");
    let host2 = host(root.path());
    let conn = open(&host2, "qemu:///session");
    let mut events = conn.events().expect("events");
    let domain = conn.domain_lookup_by_name("walker").expect("still defined");
    assert_eq!(
        state(&domain).0,
        domain_state::RUNNING,
        "reattached: {:?}",
        state(&domain)
    );
    assert!(
        pid_alive(pid) && qemu_pid_of("walker") == Some(pid),
        "the same QEMU keeps running"
    );
    ask(&domain, &files, "get", "RVIRT-VALUE managed-value");
    domain
        .suspend()
        .expect("the monitor answers after reattach");
    domain.resume().expect("resume after reattach");

    // Reboot through the power button (the driver resets and resumes the guest when it powers
    // off, libvirt's fake reboot), through the agent, and reset: the guest boots each time.
    let ready = files.count("RVIRT-READY");
    domain
        .reboot(virt_core::consts::domain_reboot_flag_values::ACPI_POWER_BTN)
        .expect("reboot");
    files.wait_for("RVIRT-READY", ready, BOOT_TIMEOUT);
    assert!(
        files.count("RVIRT-POWER-BUTTON") > 0,
        "the reboot went through the power button"
    );
    let seen = lifecycle_events(&mut events);
    assert!(
        !seen
            .iter()
            .any(|(event, _)| *event == domain_event_type::STOPPED),
        "a reboot does not stop the domain: {seen:?}"
    );
    let ready = files.count("RVIRT-READY");
    domain
        .reboot(virt_core::consts::domain_reboot_flag_values::GUEST_AGENT)
        .expect("agent reboot");
    files.wait_for("RVIRT-READY", ready, BOOT_TIMEOUT);
    assert!(
        files.count("RVIRT-AGENT-SHUTDOWN") > 0,
        "the agent got the reboot"
    );
    let ready = files.count("RVIRT-READY");
    domain.reset(0).expect("reset");
    files.wait_for("RVIRT-READY", ready, BOOT_TIMEOUT);

    // External disk-only snapshot: a qcow2 overlay the guest now writes to.
    let ext = domain
        .snapshot_create_xml(
            "<domainsnapshot><name>ext1</name></domainsnapshot>",
            virt_core::consts::domain_snapshot_create_flags::DISK_ONLY,
        )
        .expect("external snapshot");
    let overlay = files.dir.join("root.ext1");
    assert!(overlay.is_file(), "overlay {} created", overlay.display());
    let live_xml = domain.xml_desc(0).expect("xml");
    assert!(
        live_xml.contains("root.ext1") && live_xml.contains("<backingStore"),
        "{live_xml}"
    );
    ask(
        &domain,
        &files,
        "write-disk vda OVERLAY-WRITE",
        "RVIRT-DISK-WRITTEN vda label=OVERLAY-WRITE",
    );
    // Deleting it commits the overlay into the image below while the guest runs.
    ext.delete(0).expect("delete the external snapshot");
    assert!(!overlay.exists(), "overlay {} removed", overlay.display());
    let live_xml = domain.xml_desc(0).expect("xml");
    assert!(
        !live_xml.contains("root.ext1") && !live_xml.contains("<backingStore"),
        "{live_xml}"
    );
    ask(
        &domain,
        &files,
        "read-disk vda",
        "RVIRT-DISK-LABEL vda label=OVERLAY-WRITE",
    );

    // Another one, deleted once the domain is off (a helper QEMU commits it).
    let ext = domain
        .snapshot_create_xml(
            "<domainsnapshot><name>ext2</name></domainsnapshot>",
            virt_core::consts::domain_snapshot_create_flags::DISK_ONLY,
        )
        .expect("second external snapshot");
    let overlay = files.dir.join("root.ext2");
    assert!(overlay.is_file(), "overlay {} created", overlay.display());
    ask(
        &domain,
        &files,
        "write-disk vda OVERLAY-TWO",
        "RVIRT-DISK-WRITTEN vda label=OVERLAY-TWO",
    );

    // ACPI shutdown: the guest sees the power button and the domain stops.
    let presses = files.count("RVIRT-POWER-BUTTON");
    domain
        .shutdown(domain_shutdown_flag_values::ACPI_POWER_BTN)
        .expect("shutdown");
    files.wait_for("RVIRT-POWER-BUTTON", presses, STEP_TIMEOUT);
    assert_eq!(
        wait_state(&domain, domain_state::SHUTOFF, STEP_TIMEOUT),
        (domain_state::SHUTOFF, domain_shutoff_reason::SHUTDOWN)
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !pid_alive(pid),
        "QEMU {pid} is gone after shutdown: {:?}",
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
    );
    let seen = lifecycle_events(&mut events);
    assert!(seen.contains(&(domain_event_type::STOPPED, 0)), "{seen:?}");
    ext.delete(0).expect("delete the external snapshot offline");
    assert!(!overlay.exists(), "overlay {} removed", overlay.display());
    let config_xml = domain.xml_desc(0).expect("xml");
    assert!(
        !config_xml.contains("root.ext2") && !config_xml.contains("<backingStore"),
        "{config_xml}"
    );
    assert!(
        disk_head(&files.disk).contains("OVERLAY-TWO"),
        "the overlay's write reached the base image"
    );
    // An external snapshot of the shut-off domain, and its deletion.
    let ext = domain
        .snapshot_create_xml(
            "<domainsnapshot><name>ext3</name></domainsnapshot>",
            virt_core::consts::domain_snapshot_create_flags::DISK_ONLY,
        )
        .expect("external snapshot of a shut-off domain");
    let overlay = files.dir.join("root.ext3");
    assert!(overlay.is_file(), "overlay {} created", overlay.display());
    assert!(ext
        .xml_desc(0)
        .expect("snapshot xml")
        .contains("<state>shutoff</state>"));
    assert!(domain.xml_desc(0).expect("xml").contains("root.ext3"));
    ext.delete(0).expect("delete the offline external snapshot");
    assert!(!overlay.exists(), "overlay {} removed", overlay.display());
    assert!(!domain.xml_desc(0).expect("xml").contains("root.ext3"));

    // Agent shutdown.
    let ready = files.count("RVIRT-READY");
    domain.create(0).expect("start again");
    files.wait_for("RVIRT-READY", ready, BOOT_TIMEOUT);
    let agent_shutdowns = files.count("RVIRT-AGENT-SHUTDOWN");
    domain
        .shutdown(domain_shutdown_flag_values::GUEST_AGENT)
        .expect("agent shutdown");
    files.wait_for("RVIRT-AGENT-SHUTDOWN", agent_shutdowns, STEP_TIMEOUT);
    assert_eq!(
        wait_state(&domain, domain_state::SHUTOFF, STEP_TIMEOUT).0,
        domain_state::SHUTOFF
    );

    // A crash with on_crash=destroy.
    let ready = files.count("RVIRT-READY");
    domain.create(0).expect("start for the crash");
    files.wait_for("RVIRT-READY", ready, BOOT_TIMEOUT);
    ask(&domain, &files, "crash", "RVIRT-CRASHING");
    // The guest's panic path (a stack dump over the serial line, then pvpanic) runs at TCG
    // speed: on a loaded 2-core host it has taken more than STEP_TIMEOUT.
    let stopped = wait_state(&domain, domain_state::SHUTOFF, BOOT_TIMEOUT);
    let seen = lifecycle_events(&mut events);
    let log = std::fs::read_to_string(root.path().join("state/log/qemu/session/walker.log"))
        .unwrap_or_default();
    assert_eq!(
        stopped,
        (domain_state::SHUTOFF, domain_shutoff_reason::CRASHED),
        "state {stopped:?}, events {seen:?}\nserial:\n{}\nQEMU log:\n{log}",
        files
            .serial()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(seen.contains(&(domain_event_type::CRASHED, 0)), "{seen:?}");

    // Destroy, undefine: nothing is left behind.
    domain.create(0).expect("start to destroy");
    domain.destroy(0).expect("destroy");
    assert_eq!(
        state(&domain),
        (domain_state::SHUTOFF, domain_shutoff_reason::DESTROYED)
    );
    domain.undefine(0).expect("undefine");
    assert!(conn.domain_lookup_by_name("walker").is_err());
    assert!(qemu_pid_of("walker").is_none(), "no QEMU left");
    let run = root.path().join("state/run/qemu/session");
    let leftovers: Vec<String> = std::fs::read_dir(&run)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".xml") || n.ends_with(".sock"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "stale files in {}: {leftovers:?}",
        run.display()
    );
}

#[test]
fn qemu_bad_input_is_refused_and_leaves_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let _cleanup = KillLeftovers(root.path().to_path_buf());
    let files = GuestFiles::new(&root.path().join("guest"));
    let host = host(root.path());
    let conn = open(&host, "qemu:///session");
    let run = root.path().join("state/run/qemu/session");
    let qemu_pid_of = |_: &str| {
        qemu_pids_with(&root.path().to_string_lossy())
            .first()
            .copied()
    };

    let assert_clean = |name: &str| {
        assert!(qemu_pid_of(name).is_none(), "{name}: QEMU left running");
        let status = run.join(format!("{name}.xml"));
        assert!(!status.exists(), "{name}: {} left behind", status.display());
        // Neither the status file nor the per-run directory (socket, key) stays.
        let left: Vec<PathBuf> = std::fs::read_dir(&run)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().contains(name))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.is_empty(), "{name}: left in the run dir: {left:?}");
    };

    // A missing disk image.
    let missing = domain_xml("missing-disk", &files, "").replace(
        files.disk.to_str().expect("utf-8"),
        "/nonexistent/disk.qcow2",
    );
    let domain = conn.domain_define_xml(&missing, 0).expect("define");
    let error = domain.create(0).expect_err("start with a missing disk");
    assert!(
        error.message().contains("/nonexistent/disk.qcow2"),
        "{error:?}"
    );
    assert_eq!(state(&domain).0, domain_state::SHUTOFF);
    assert_clean("missing-disk");

    // An unknown machine type.
    let bad_machine =
        domain_xml("bad-machine", &files, "").replace("machine='pc'", "machine='no-such-machine'");
    let error = conn
        .domain_define_xml(&bad_machine, 0)
        .expect_err("unknown machine");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED, "{error:?}");
    assert!(error.message().contains("no-such-machine"), "{error:?}");

    // A bridge that does not exist.
    let bad_bridge = domain_xml(
        "bad-bridge",
        &files,
        "<interface type='bridge'><source bridge='rvirtnobr0'/><model type='virtio'/></interface>",
    );
    let domain = conn.domain_define_xml(&bad_bridge, 0).expect("define");
    let error = domain.create(0).expect_err("start with a missing bridge");
    assert!(error.message().contains("rvirtnobr0"), "{error:?}");
    assert_clean("bad-bridge");

    // A SCSI host device the host does not have (this machine has no SCSI bus at all): its
    // /dev/sgN is looked up in sysfs as libvirt does, and the start is refused.
    let scsi = domain_xml(
        "no-scsi-device",
        &files,
        "<controller type='scsi' model='virtio-scsi'/>\
         <hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host7'/>\
         <address bus='0' target='3' unit='1'/></source></hostdev>",
    );
    let domain = conn.domain_define_xml(&scsi, 0).expect("define");
    let error = domain.create(0).expect_err("no such SCSI device");
    assert!(
        error
            .message()
            .contains("/sys/bus/scsi/devices/7:0:3:1/scsi_generic"),
        "{error:?}"
    );
    assert_clean("no-scsi-device");

    // QEMU exits at once: its own message comes back.
    let exits = domain_xml("exits-at-once", &files, "")
        .replace(
            "<domain type='qemu'>",
            "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>",
        )
        .replace(
            "</domain>",
            "<qemu:commandline><qemu:arg value='-no-such-option'/></qemu:commandline></domain>",
        );
    let domain = conn.domain_define_xml(&exits, 0).expect("define");
    let error = domain.create(0).expect_err("QEMU exits at once");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error:?}");
    assert!(
        error.message().contains("-no-such-option"),
        "QEMU's own message: {error:?}"
    );
    assert_eq!(state(&domain).0, domain_state::SHUTOFF);
    assert_clean("exits-at-once");
}

#[test]
fn qemu_capabilities_and_native_argv() {
    let root = tempfile::tempdir().expect("tempdir");
    let files = GuestFiles::new(&root.path().join("guest"));
    let host = host(root.path());
    let conn = open(&host, "qemu:///session");
    assert_eq!(conn.get_type().expect("type"), "QEMU");

    let caps = conn.get_capabilities().expect("capabilities");
    assert!(caps.contains("<arch name='x86_64'>"), "{caps}");
    assert!(
        caps.contains(QEMU) && caps.contains("<domain type='qemu'"),
        "{caps}"
    );
    let domcaps = conn
        .get_domain_capabilities(None, Some("x86_64"), None, Some("qemu"), 0)
        .expect("domcapabilities");
    assert!(
        domcaps.contains("<domain>qemu</domain>")
            && domcaps.contains("<mode name='custom' supported='yes'>"),
        "{domcaps}"
    );

    let xml = domain_xml("native", &files, "");
    let argv = conn
        .domain_xml_to_native("qemu-argv", &xml, 0)
        .expect("native");
    assert!(
        argv.contains("-accel tcg")
            && argv.contains("virtio-blk-pci")
            && argv.contains("-blockdev"),
        "{argv}"
    );
    let kvm = xml.replace("<domain type='qemu'>", "<domain type='kvm'>");
    if Path::new("/dev/kvm").exists() {
        let argv = conn
            .domain_xml_to_native("qemu-argv", &kvm, 0)
            .expect("native kvm");
        assert!(argv.contains("-accel kvm"), "{argv}");
    }
    let error = conn
        .domain_xml_to_native("xen-xm", &xml, 0)
        .expect_err("unknown format");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);

    // qemu.conf beside the driver's configuration directory (libvirt's
    // /etc/libvirt/qemu.conf): its VNC address is the default listen address, and a syntax
    // error is libvirt's, naming the file and line.
    let conf = root.path().join("state/etc/qemu.conf");
    std::fs::write(&conf, "# rvirt test\nvnc_listen = \"127.0.0.2\"\n").expect("qemu.conf");
    let vnc = domain_xml("native", &files, "<graphics type='vnc' autoport='yes'/>");
    let argv = conn
        .domain_xml_to_native("qemu-argv", &vnc, 0)
        .expect("native with qemu.conf");
    assert!(argv.contains("-vnc 127.0.0.2:"), "{argv}");
    std::fs::write(&conf, "vnc_tls = 1\nvnc_listen =\n").expect("qemu.conf");
    let error = conn
        .domain_xml_to_native("qemu-argv", &vnc, 0)
        .expect_err("syntax error");
    assert_eq!(error.code(), ErrorNumber::CONF_SYNTAX);
    assert!(
        error
            .message()
            .contains(&format!("{}:2: expecting a value", conf.display())),
        "{error}"
    );
}

#[test]
fn qemu_embed_keeps_every_file_under_its_root() {
    let root = tempfile::tempdir().expect("tempdir");
    let _cleanup = KillLeftovers(root.path().to_path_buf());
    let files = GuestFiles::new(&root.path().join("guest"));
    let host = host(root.path());
    let app = root.path().join("app");
    let conn = open(&host, &format!("qemu:///embed?root={}", app.display()));
    // File-backed guest RAM: its directory is the space's too.
    let xml = domain_xml("embedded", &files, "").replace(
        "<vcpu placement",
        "<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking><vcpu placement",
    );
    let domain = conn.domain_define_xml(&xml, 0).expect("define");
    assert!(
        app.join("etc/qemu/embedded.xml").is_file(),
        "config under the root"
    );

    domain.create(0).expect("start");
    files.wait_for("RVIRT-READY", 0, BOOT_TIMEOUT);
    assert!(
        app.join("run/qemu/embedded.xml").is_file(),
        "status under the root"
    );
    assert!(
        app.join("log/qemu/embedded.log").is_file(),
        "log under the root"
    );
    let ram_dirs: Vec<PathBuf> = std::fs::read_dir(app.join("lib/qemu/ram"))
        .expect("memory backing dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(
        ram_dirs.len(),
        1,
        "one domain's RAM directory: {ram_dirs:?}"
    );
    let argv = std::fs::read_to_string(format!(
        "/proc/{}/cmdline",
        qemu_pids_with(&root.path().to_string_lossy())[0]
    ))
    .expect("QEMU's command line");
    assert!(
        argv.contains("memory-backend-file")
            && argv.contains(&ram_dirs[0].to_string_lossy().to_string()),
        "guest RAM is a file under {}: {argv:?}",
        ram_dirs[0].display()
    );
    // The host's own directories for the driver hold nothing of this space.
    let host_dirs = root.path().join("state");
    let stray: Vec<PathBuf> = walk(&host_dirs)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("embedded"))
        .collect();
    assert!(stray.is_empty(), "files outside the root: {stray:?}");

    domain.destroy(0).expect("destroy");
    let run_left: Vec<PathBuf> = std::fs::read_dir(app.join("run/qemu"))
        .expect("run dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert!(run_left.is_empty(), "left in the run dir: {run_left:?}");
    assert!(
        !ram_dirs[0].exists(),
        "the RAM directory went with the domain"
    );
}

/// Every path under `dir`, recursively.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}
