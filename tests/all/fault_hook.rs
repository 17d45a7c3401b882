//! The host's test-only fault hook (`crates/virt-host/src/fault.rs`, debug builds only), which
//! the soak (`./x.sh soak`) drives, checked through a real rvirtd: an armed trap fails exactly
//! one call with VIR_ERR_INTERNAL_ERROR, an armed spin is stopped at the CPU budget without
//! stalling other clients, and a daemon aborted in the middle of a journal write comes back
//! with every complete entry and without the torn one. In a release build the hook must not
//! exist: the same control files are left untouched.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::ErrorNumber;

use crate::common::{plugins_dir, workspace_root};

/// A state root, a fault control directory and a socket directory that outlive daemons.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("rvirt-fault-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("faults")).expect("fault dir");
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Arms one fault (see `fault.rs` for the names).
    fn arm(&self, name: &str) -> PathBuf {
        let marker = self.path("faults").join(name);
        std::fs::write(&marker, "").expect("arm the fault");
        marker
    }

    fn uri(&self, base: &str) -> String {
        let (scheme, rest) = base.split_once("://").expect("a URI");
        format!(
            "{scheme}+unix://{rest}?socket={}",
            self.path("sock/rvirt-sock").display()
        )
    }
}

/// rvirtd over a sandbox, with the fault hook pointed at its control directory.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(sandbox: &Sandbox) -> Daemon {
        let config = sandbox.path("rvirtd.conf");
        std::fs::write(&config, "").expect("config");
        let socket = sandbox.path("sock/rvirt-sock");
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(sandbox.path("rvirtd.log"))
            .expect("log");
        let child = Command::new(&crate::common::built_binaries().1)
            .arg("--unix-sock-dir")
            .arg(sandbox.path("sock"))
            .arg("-f")
            .arg(&config)
            .env("RVIRT_PLUGIN_PATH", plugins_dir())
            .env(
                "RVIRT_CACHE_DIR",
                plugins_dir().join("../fault-hook-compiled"),
            )
            .env("RVIRT_STATE_ROOT", sandbox.path("state"))
            .env("RVIRT_GRANTS", workspace_root().join("etc/grants.toml"))
            .env("RVIRT_FAULT_DIR", sandbox.path("faults"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start rvirtd");
        let mut daemon = Daemon { child };
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("rvirtd exited with {status}: {}", log_of(sandbox));
            }
            assert!(
                Instant::now() < deadline,
                "rvirtd did not listen: {}",
                log_of(sandbox)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    /// Waits for the daemon to exit by itself; its status.
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for rvirtd") {
                return status;
            }
            assert!(Instant::now() < deadline, "rvirtd did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon is this test's own child.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_of(sandbox: &Sandbox) -> String {
    std::fs::read_to_string(sandbox.path("rvirtd.log")).unwrap_or_default()
}

fn open(uri: &str) -> Connect {
    virt_rpc::register();
    Connect::open(uri).unwrap_or_else(|e| panic!("connect to {uri}: {e}"))
}

#[test]
fn fault_hook_trap_and_spin_fail_one_call_each_as_internal_error() {
    let sandbox = Sandbox::new();
    let _daemon = Daemon::start(&sandbox);
    let uri = sandbox.uri("test:///default");
    let conn = open(&uri);
    let other = open(&uri);
    conn.list_all_domains(0).expect("a call before any fault");

    let marker = sandbox.arm("trap.test");
    let result = conn.list_all_domains(0);
    if !cfg!(debug_assertions) {
        // A release build has no hook: the call succeeds and the file stays.
        result.expect("no fault in a release build");
        assert!(
            marker.exists(),
            "release builds must not read the control files"
        );
        return;
    }
    let error = result.expect_err("the armed trap fails the call");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(error.message().contains("trapped"), "{error}");
    assert!(!marker.exists(), "a fault fires once and is disarmed");
    let domains = conn.list_all_domains(0).expect("the next call succeeds");
    assert!(domains.iter().any(|d| d.name() == "test"), "state intact");

    // A spin burns to the call's CPU budget (rvirtd's: 10 s) and is interrupted there;
    // another client's calls go on meanwhile.
    sandbox.arm("spin.test");
    let started = Instant::now();
    let spinning = std::thread::spawn(move || {
        let result = conn.list_all_domains(0).map(|d| d.len());
        (result, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    let quick = Instant::now();
    other.list_all_domains(0).expect("another client's call");
    assert!(
        quick.elapsed() < Duration::from_secs(2),
        "a spinning call stalled another client for {:?}",
        quick.elapsed()
    );
    let (result, took) = spinning.join().expect("spinning client");
    let error = result.expect_err("the spinning call is interrupted");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(error.message().contains("CPU time budget"), "{error}");
    assert!(
        took >= Duration::from_secs(10),
        "interrupted after {took:?}"
    );
    other
        .list_all_domains(0)
        .expect("the plugin serves after the spin");
}

const QEMU_DOMAIN: &str = "<domain type='qemu'><name>NAME</name><memory unit='MiB'>64</memory>\
    <os><type arch='x86_64' machine='pc'>hvm</type></os>\
    <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>";

#[test]
fn fault_hook_journal_abort_keeps_every_complete_entry() {
    let sandbox = Sandbox::new();
    let mut daemon = Daemon::start(&sandbox);
    let uri = sandbox.uri("qemu:///system");
    let conn = open(&uri);
    conn.domain_define_xml(&QEMU_DOMAIN.replace("NAME", "kept"), 0)
        .expect("define before the fault");

    let marker = sandbox.arm("abort-journal");
    let result = conn.domain_define_xml(&QEMU_DOMAIN.replace("NAME", "torn"), 0);
    if !cfg!(debug_assertions) {
        result.expect("no fault in a release build");
        assert!(
            marker.exists(),
            "release builds must not read the control files"
        );
        return;
    }
    result.expect_err("the daemon died in the middle of the define");
    let status = daemon.wait_exit(Duration::from_secs(20));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "aborted: {status}");
    drop(conn);
    drop(daemon);

    let _daemon = Daemon::start(&sandbox);
    let conn = open(&uri);
    let names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list after the restart")
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    assert_eq!(names, ["kept"], "{}", log_of(&sandbox));
    assert!(
        log_of(&sandbox).contains("dropping a torn entry"),
        "{}",
        log_of(&sandbox)
    );
    // The repaired journal takes new entries that survive the next restart.
    conn.domain_define_xml(&QEMU_DOMAIN.replace("NAME", "after"), 0)
        .expect("define after the repair");
    assert_eq!(conn.list_all_domains(0).expect("list").len(), 2);
}
