//! Hot upgrade and listing of driver plugins (issue 10, parts 5 and 6), with the real
//! compiled plugins: `rvirsh plugin-list` / `plugin-reload` in-process and against a real
//! rvirtd, a swap of the test plugin under 1,000 python3-libvirt calls, refused components
//! that leave the running version serving, and a QEMU plugin upgrade under a running TCG
//! guest whose serial console keeps answering.
//!
//! Each test copies `target/plugins` (`cargo xtask plugins`) into its own plugin directory,
//! so it can rewrite the files a reload reads without touching the build's.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use virt_core::blocking::{Connect, Domain};
use virt_core::consts::domain_state;
use virt_core::{ConnectUri, ErrorNumber};
use virt_host::{DirLayout, Host, HostConfig};

use crate::common::{plugins_dir, test_plugins_dir, workspace_root};

/// A private plugin directory (a copy of the built plugins), state root and compile cache.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new(plugins: &[&str]) -> Sandbox {
        crate::common::init_logging();
        let dir = tempfile::Builder::new()
            .prefix("rvirt-reload-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("plugins")).expect("plugin dir");
        let sandbox = Sandbox { dir };
        for name in plugins {
            sandbox.install(name);
        }
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn plugin_dir(&self) -> PathBuf {
        self.path("plugins")
    }

    fn wasm(&self, name: &str) -> PathBuf {
        self.plugin_dir().join(format!("{name}.wasm"))
    }

    fn manifest(&self, name: &str) -> PathBuf {
        self.plugin_dir().join(format!("{name}.toml"))
    }

    /// Copies the built plugin `name` (component and manifest) into the plugin directory.
    fn install(&self, name: &str) {
        for ext in ["wasm", "toml"] {
            let from = plugins_dir().join(format!("{name}.{ext}"));
            assert!(
                from.is_file(),
                "{} is missing: cargo xtask plugins",
                from.display()
            );
            // Write a new file (new inode) the way an installer does: rename over the old.
            let to = self.plugin_dir().join(format!("{name}.{ext}"));
            let staged = to.with_extension(format!("{ext}.new"));
            std::fs::copy(&from, &staged).expect("copy plugin");
            std::fs::rename(&staged, &to).expect("install plugin");
        }
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("RVIRT_PLUGIN_PATH", self.plugin_dir())
            .env("RVIRT_CACHE_DIR", self.path("compiled"))
            .env("RVIRT_STATE_ROOT", self.path("state"))
            .env_remove("RVIRSH_DEFAULT_URI")
            .env_remove("LIBVIRT_DEFAULT_URI")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        command
    }

    fn rvirsh(&self, args: &[&str]) -> Output {
        self.command(&crate::common::built_binaries().0, args)
            .env_remove("RUST_LOG")
            .output()
            .expect("run rvirsh")
    }

    /// A host in this process over the sandbox's plugins (what rvirtd runs, minus the wire).
    fn host(&self) -> Host {
        Host::new(HostConfig {
            plugin_path: vec![self.plugin_dir()],
            compile_cache: Some(self.path("compiled")),
            grants: rvirt_tests::checkout_grants(),
            grants_source: None,
            dirs: DirLayout::Root(self.path("state")),
            call_cpu_budget: Duration::from_secs(10),
            memory_limit_mib: 256,
            max_idle_instances: 4,
            helper_dirs: virt_host::config::default_helper_dirs(),
            auth_file: None,
        })
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

/// rvirtd over a sandbox, killed when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(sandbox: &Sandbox) -> Daemon {
        let sock_dir = sandbox.path("sock");
        let config = sandbox.path("rvirtd.conf");
        std::fs::write(&config, "").expect("config");
        let log = sandbox.path("rvirtd.log");
        let child = sandbox
            .command(
                &crate::common::built_binaries().1,
                &[
                    "--unix-sock-dir",
                    &sock_dir.to_string_lossy(),
                    "-f",
                    &config.to_string_lossy(),
                ],
            )
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("start rvirtd");
        let daemon = Daemon {
            child,
            socket: sock_dir.join("rvirt-sock"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !daemon.socket.exists() {
            assert!(Instant::now() < deadline, "no socket: {}", daemon.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn sighup(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .expect("SIGHUP rvirtd");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon is this test's own child.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plugin's generation as rvirtd reports it.
fn generation(sandbox: &Sandbox, uri: &str, plugin: &str) -> u64 {
    let list = json(&sandbox.rvirsh(&["-c", uri, "plugin-list", "--json"]));
    list.as_array()
        .and_then(|plugins| plugins.iter().find(|p| p["name"] == plugin))
        .and_then(|p| p["generation"].as_u64())
        .unwrap_or_else(|| panic!("{plugin} in {list}"))
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn plugin_list_in_process_and_through_rvirtd() {
    let sandbox = Sandbox::new(&["test"]);
    let manifest = std::fs::read_to_string(sandbox.manifest("test")).expect("manifest");
    let wit = manifest
        .lines()
        .find_map(|line| line.strip_prefix("wit = "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .expect("wit in manifest");

    // In-process: the host embedded in rvirsh, which opened test:///default and so loaded it.
    let list = json(&sandbox.rvirsh(&["-c", "test:///default", "plugin-list", "--json"]));
    let named = |list: &Value, name: &str| -> Value {
        list.as_array()
            .and_then(|plugins| plugins.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {list}"))
    };
    let test = named(&list, "test");
    let expected_path = sandbox.wasm("test");
    assert_eq!(test["path"], expected_path.to_string_lossy().as_ref());
    assert_eq!(test["wit_version"], wit.as_str());
    assert_eq!(test["uri_schemes"], serde_json::json!(["test"]));
    assert_eq!(test["requested"]["files-read"], serde_json::json!(["/"]));
    assert_eq!(test["loaded"], true);
    assert_eq!(test["cached"], true, "the first load filled the cache");
    assert_eq!(test["generation"], 0);
    assert!(test["granted"].is_object(), "{test}");

    // Through rvirtd: the daemon's host, same record.
    let daemon = Daemon::start(&sandbox);
    let uri = daemon.uri();
    let remote = json(&sandbox.rvirsh(&["-c", &uri, "plugin-list", "--json"]));
    let remote_test = named(&remote, "test");
    assert_eq!(remote_test["loaded"], true);
    assert_eq!(remote_test["granted"], test["granted"]);
    // Plugins further down the plugin path are listed too.
    assert!(
        remote.as_array().is_some_and(|all| all.len() >= 2),
        "{remote}"
    );
    let table = sandbox.rvirsh(&["-c", &uri, "plugin-list"]);
    let shown = text(&table.stdout);
    assert!(table.status.success(), "{table:?}");
    assert!(
        shown.starts_with(" Name ") && shown.contains("Capabilities (granted/requested)"),
        "{shown}"
    );
    let row = shown
        .lines()
        .find(|line| line.starts_with(" test "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(row.contains("loaded, cached"), "{row}");

    // The admin call over a read-only connection lists but does not reload.
    let listed = sandbox.rvirsh(&["-r", "-c", &uri, "plugin-list", "--json"]);
    assert!(listed.status.success(), "{listed:?}");
    let refused = sandbox.rvirsh(&["-r", "-c", &uri, "plugin-reload", "test"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        text(&refused.stderr).contains("read only access prevents rvirtPluginReload"),
        "{refused:?}"
    );
    let unknown = sandbox.rvirsh(&["-c", &uri, "plugin-reload", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(1), "{unknown:?}");
    assert!(
        text(&unknown.stderr).contains("no driver plugin named 'nosuch'"),
        "{unknown:?}"
    );
}

/// python3-libvirt's loop: one connection opened before the swaps, `CALLS` calls on it. At a
/// third, two thirds and the last call it waits until the test has counted 1, 2 and 3 reloads
/// in the file `RELOADS`, so the swaps fall between its calls however loaded the machine is.
const PYTHON_LOOP: &str = r#"
import json, os, sys, time, libvirt
conn = libvirt.open(sys.argv[1])
calls = int(sys.argv[2])
reloads_file = sys.argv[3]
def reloads():
    try:
        with open(reloads_file) as f:
            return int(f.read() or 0)
    except (OSError, ValueError):
        return 0
failed, latencies = [], []
for i in range(calls):
    for at, wanted in ((calls // 3, 1), (2 * calls // 3, 2), (calls - 1, 3)):
        deadline = time.monotonic() + 120
        while i == at and reloads() < wanted and time.monotonic() < deadline:
            time.sleep(0.01)
    started = time.monotonic()
    try:
        if i % 2:
            conn.lookupByName("test").info()
        else:
            conn.listAllDomains(0)
    except libvirt.libvirtError as error:
        failed.append("%d: %s" % (i, error))
    latencies.append(time.monotonic() - started)
    time.sleep(0.002)
print(json.dumps({"calls": calls, "failed": failed, "max_ms": max(latencies) * 1000}))
"#;

fn have_python_libvirt() -> bool {
    let present = Command::new("/usr/bin/python3")
        .args(["-c", "import libvirt"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        println!("SKIP: python3-libvirt is not installed (apt-get install python3-libvirt)");
    }
    present
}

#[test]
fn test_plugin_swaps_under_a_thousand_python_calls() {
    if !have_python_libvirt() {
        return;
    }
    let sandbox = Sandbox::new(&["test"]);
    let daemon = Daemon::start(&sandbox);
    let uri = daemon.uri();
    let reloads_file = sandbox.path("reloads");
    let python = Command::new("/usr/bin/python3")
        .args(["-c", PYTHON_LOOP, &uri, "1000"])
        .arg(&reloads_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    // Swap while the loop runs: through the admin call, and by SIGHUP after a reinstall.
    let mut n_reloads = 0;
    let mut python = Some(python);
    let mut outcome = None;
    while outcome.is_none() {
        let reload = sandbox.rvirsh(&["-c", &uri, "plugin-reload", "test"]);
        assert!(reload.status.success(), "{reload:?}\n{}", daemon.log());
        n_reloads += 1;
        std::fs::write(&reloads_file, n_reloads.to_string()).expect("write the reload count");
        if n_reloads == 3 {
            sandbox.install("test");
            daemon.sighup();
        }
        if let Some(child) = python.as_mut() {
            if child.try_wait().expect("wait python").is_some() {
                outcome = python
                    .take()
                    .map(|c| c.wait_with_output().expect("python output"));
            }
        }
    }
    let output = outcome.expect("python finished");
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).expect("python report");
    assert_eq!(report["calls"], 1000);
    assert_eq!(
        report["failed"],
        serde_json::json!([]),
        "calls failed during the swaps; daemon log:\n{}",
        daemon.log()
    );
    assert!(n_reloads >= 3, "only {n_reloads} reloads during the loop");
    // Every rvirsh reload counted, plus the SIGHUP one (it runs off the signal handler).
    wait_until("the SIGHUP reload", Duration::from_secs(30), || {
        generation(&sandbox, &uri, "test") > n_reloads
    });
    assert!(
        daemon.log().contains("SIGHUP: plugin reloaded"),
        "{}",
        daemon.log()
    );
    eprintln!(
        "{n_reloads} reloads + 1 SIGHUP during 1000 python3-libvirt calls; slowest call {:.1} ms",
        report["max_ms"].as_f64().unwrap_or(0.0)
    );
}

#[test]
fn broken_components_are_refused_and_the_old_version_keeps_serving() {
    let sandbox = Sandbox::new(&["test"]);
    let daemon = Daemon::start(&sandbox);
    let uri = daemon.uri();
    let good_wasm = std::fs::read(sandbox.wasm("test")).expect("wasm");
    let good_manifest = std::fs::read_to_string(sandbox.manifest("test")).expect("manifest");
    // A connection held across everything below keeps the test driver's state (its space
    // lives while a connection does) and must survive the refusals and the final swap.
    virt_rpc::register();
    let held = Connect::open(&uri).expect("connect to rvirtd");
    let domain = held.domain_lookup_by_name("test").expect("test domain");
    domain.suspend().expect("suspend");
    let paused = || assert_eq!(domain.state(0).expect("state").state, domain_state::PAUSED);

    let refused = |what: &str, expected: &[&str]| {
        let reload = sandbox.rvirsh(&["-c", &uri, "plugin-reload", "test"]);
        let stderr = text(&reload.stderr);
        assert_eq!(reload.status.code(), Some(1), "{what}: {reload:?}");
        for needle in expected {
            assert!(
                stderr.contains(needle),
                "{what}: wanted '{needle}' in {stderr}"
            );
        }
        // The old version still serves, with the state it had.
        paused();
        assert_eq!(generation(&sandbox, &uri, "test"), 0, "{what}");
    };

    // A truncated component.
    std::fs::write(sandbox.wasm("test"), &good_wasm[..good_wasm.len() / 2]).expect("truncate");
    refused(
        "truncated",
        &["test.wasm", "not a valid WebAssembly component"],
    );

    // Another plugin's component under this plugin's manifest: refused (by its checksum,
    // WIT version or URI schemes, whichever disagrees first).
    let misbehave = test_plugins_dir().join("misbehave.wasm");
    if misbehave.is_file() {
        std::fs::copy(&misbehave, sandbox.wasm("test")).expect("copy misbehave");
        refused("another plugin's component", &["test.wasm"]);
    }

    // A manifest naming a WIT version the component does not speak.
    std::fs::write(sandbox.wasm("test"), &good_wasm).expect("restore wasm");
    let future: String = good_manifest
        .lines()
        .map(|line| {
            if line.starts_with("wit = ") {
                "wit = \"9.9.0\"".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(sandbox.manifest("test"), future).expect("manifest");
    refused("wrong WIT", &["test.wasm", "WIT version"]);

    // A manifest that does not parse.
    std::fs::write(
        sandbox.manifest("test"),
        good_manifest.replace("version = ", "version = 3 # "),
    )
    .expect("manifest");
    refused("bad manifest", &["test.toml", "version"]);

    // A manifest whose checksum the component does not match (or, on a host without
    // checksums, a manifest with a field it does not know): refused either way.
    let with_checksum: String = good_manifest
        .lines()
        .filter(|line| !line.starts_with("sha256"))
        .map(|line| {
            if line.starts_with("wit = ") {
                format!("{line}\nsha256 = \"{}\"", "0".repeat(64))
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(sandbox.manifest("test"), with_checksum).expect("manifest");
    refused("checksum mismatch", &["sha256"]);

    // A manifest asking for more than the running version may do.
    std::fs::write(
        sandbox.manifest("test"),
        good_manifest.replace("files-read = [\"/\"]", "files-read = [\"/\", \"/extra\"]"),
    )
    .expect("manifest");
    refused("new capabilities", &["test.toml", "field `capabilities`"]);

    // Put right again, the reload goes through and the state is still there.
    sandbox.install("test");
    let reload = sandbox.rvirsh(&["-c", &uri, "plugin-reload", "test"]);
    assert!(reload.status.success(), "{reload:?}");
    assert!(
        text(&reload.stdout).starts_with("Driver plugin test reloaded: version "),
        "{reload:?}"
    );
    assert_eq!(generation(&sandbox, &uri, "test"), 1);
    paused();
    domain.resume().expect("the new version resumes it");
    assert_eq!(domain.state(0).expect("state").state, domain_state::RUNNING);
}

// ---- the QEMU plugin under a running guest ----

const QEMU: &str = "/usr/bin/qemu-system-x86_64";

/// The test guest's kernel and initramfs (`tests/guest/build.sh`).
fn guest_image() -> (PathBuf, PathBuf) {
    let output = Command::new(workspace_root().join("tests/guest/build.sh"))
        .output()
        .expect("run tests/guest/build.sh");
    assert!(output.status.success(), "tests/guest/build.sh: {output:?}");
    let dir = PathBuf::from(text(&output.stdout).trim().lines().last().unwrap_or(""));
    (dir.join("vmlinuz"), dir.join("initrd.img"))
}

fn guest_xml(name: &str, serial_log: &Path) -> String {
    let (kernel, initrd) = guest_image();
    format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>{QEMU}</emulator>
    <serial type='pty'>
      <log file='{log}' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>",
        kernel = kernel.display(),
        initrd = initrd.display(),
        log = serial_log.display(),
    )
}

/// Sends `echo N` to the guest's console every 100 ms and counts its answers in the serial
/// log, for as long as it lives: the guest keeps printing through the swap.
struct Echoes {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Echoes {
    /// Starts echoing on the guest's serial pty, as the live XML names it.
    fn start(domain: &Domain) -> Echoes {
        let xml = domain.xml_desc(0).expect("live XML");
        let path = xml
            .split("<source path='")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .filter(|path| path.starts_with("/dev/pts/"))
            .unwrap_or_else(|| panic!("no pty in the live XML: {xml}"))
            .to_string();
        use std::os::unix::fs::OpenOptionsExt;
        // Held open (and drained) as `virsh console` holds it: QEMU drops input to a pty
        // nobody keeps open.
        let mut pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(0o400) // O_NOCTTY
            .open(&path)
            .expect("open pty");
        let mut reader = pty.try_clone().expect("dup pty");
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            while matches!(std::io::Read::read(&mut reader, &mut sink), Ok(n) if n > 0) {}
        });
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, sent) = (Arc::clone(&stop), Arc::clone(&sent));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let n = sent.fetch_add(1, Ordering::SeqCst);
                    if pty.write_all(format!("echo tick{n}\n").as_bytes()).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        Echoes {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Echoes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Kills a QEMU a failed test left running.
struct KillLeftovers(String);

impl Drop for KillLeftovers {
    fn drop(&mut self) {
        for pid in crate::qemu::qemu_pids_with(&self.0) {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}

#[test]
fn qemu_plugin_upgrades_under_a_running_guest() {
    assert!(
        Path::new(QEMU).is_file(),
        "{QEMU} is missing: apt-get install qemu-system-x86"
    );
    let sandbox = Sandbox::new(&["qemu"]);
    let _cleanup = KillLeftovers(sandbox.dir.path().to_string_lossy().into_owned());
    let serial_log = sandbox.path("serial.log");
    let serial = || std::fs::read_to_string(&serial_log).unwrap_or_default();
    let daemon = Daemon::start(&sandbox);
    let uri = format!("qemu+unix:///session?socket={}", daemon.socket.display());
    virt_rpc::register();
    let conn = Connect::open(&uri).expect("connect to rvirtd");
    let domain = conn
        .domain_define_xml(&guest_xml("upgraded", &serial_log), 0)
        .expect("define");
    domain.create(0).expect("start");
    wait_until("the guest to boot", Duration::from_secs(120), || {
        serial().contains("RVIRT-READY")
    });
    let qemu_pid = crate::qemu::qemu_pids_with(&sandbox.dir.path().to_string_lossy());
    assert_eq!(qemu_pid.len(), 1, "one QEMU");
    let echoes = Echoes::start(&domain);
    wait_until("the guest to echo", Duration::from_secs(30), || {
        serial().contains("RVIRT-ECHO tick1")
    });

    // Upgrade with rvirsh against rvirtd: a rebuilt file (here: the same bytes under a new
    // inode, as an installer leaves it).
    sandbox.install("qemu");
    let sent_before = echoes.sent();
    let started = Instant::now();
    let reload = sandbox.rvirsh(&["-c", &uri, "plugin-reload", "qemu"]);
    eprintln!("rvirsh plugin-reload qemu took {:?}", started.elapsed());
    assert!(reload.status.success(), "{reload:?}\n{}", daemon.log());
    assert!(text(&reload.stdout).contains("generation 1"), "{reload:?}");
    // The guest kept printing, and keeps printing, through the swap.
    wait_until("echoes after the swap", Duration::from_secs(30), || {
        serial().contains(&format!("RVIRT-ECHO tick{}", sent_before + 3))
    });

    // The same QEMU, and the new code controls it over the connection opened before the
    // swap: state from records, QMP through the host-owned monitor stream, QMP events
    // through the handler dispatch.
    assert_eq!(
        crate::qemu::qemu_pids_with(&sandbox.dir.path().to_string_lossy()),
        qemu_pid
    );
    let dominfo = domain.info().expect("dominfo after the swap");
    assert_eq!(i32::from(dominfo.state), domain_state::RUNNING);
    assert!(dominfo.cpu_time_ns > 0);
    let status = domain
        .qemu_monitor_command(r#"{"execute":"query-status"}"#, 0)
        .expect("monitor after the swap");
    assert!(status.contains(r#""status":"running""#), "{status}");
    domain.suspend().expect("suspend after the swap");
    assert_eq!(domain.state(0).expect("state").state, domain_state::PAUSED);
    domain.resume().expect("resume after the swap");

    // A second swap, by SIGHUP after another install, while the guest runs.
    let sent_before = echoes.sent();
    sandbox.install("qemu");
    daemon.sighup();
    wait_until("the SIGHUP reload", Duration::from_secs(60), || {
        conn.plugin_list(0).is_ok_and(|plugins| {
            plugins
                .iter()
                .any(|p| p.name == "qemu" && p.loaded && p.generation == 2)
        })
    });
    wait_until(
        "echoes after the second swap",
        Duration::from_secs(30),
        || serial().contains(&format!("RVIRT-ECHO tick{}", sent_before + 3)),
    );
    drop(echoes);

    // Destroy: the new code kills QEMU and the exit reaches it through the dispatcher.
    domain.destroy(0).expect("destroy after the swap");
    wait_until("shutoff", Duration::from_secs(30), || {
        domain
            .state(0)
            .is_ok_and(|s| s.state == domain_state::SHUTOFF)
    });
    wait_until("QEMU to exit", Duration::from_secs(30), || {
        crate::qemu::qemu_pids_with(&sandbox.dir.path().to_string_lossy()).is_empty()
    });
    domain.undefine(0).expect("undefine");
}

/// The embedded host (rvirsh without a daemon) reloads through the same host API, and a
/// connection opened before the swap goes on with the same space.
#[test]
fn in_process_reload_keeps_open_connections_and_state() {
    let sandbox = Sandbox::new(&["test"]);
    let host = sandbox.host();
    let uri = ConnectUri::parse("test:///default").expect("uri");
    let conn = Connect::from_connection(
        Arc::new(
            host.open(&uri, 0)
                .expect("open")
                .expect("test serves test:"),
        ),
        uri,
        false,
    );
    let domain = conn.domain_lookup_by_name("test").expect("test domain");
    domain.suspend().expect("suspend");
    let info = conn
        .plugin_reload("test", 0)
        .expect("reload through the connection");
    assert_eq!((info.generation, info.loaded), (1, true));
    assert_eq!(domain.state(0).expect("state").state, domain_state::PAUSED);
    domain.resume().expect("the new version resumes it");
    host.reload_plugin("test")
        .expect("reload through the host API");
    assert_eq!(domain.state(0).expect("state").state, domain_state::RUNNING);
    let error = conn.plugin_reload("nosuch", 0).expect_err("unknown plugin");
    assert_eq!(error.code(), ErrorNumber::NO_CONNECT);
    // The CLI in-process: one rvirsh invocation, one embedded host.
    let out = sandbox.rvirsh(&[
        "-c",
        "test:///default",
        "plugin-reload test; plugin-reload test --json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Driver plugin test reloaded: version ")
            && stdout.contains("generation 1"),
        "{stdout}"
    );
    assert!(stdout.contains("\"generation\": 2"), "{stdout}");
}
