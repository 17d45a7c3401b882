//! The LXC driver and its controller against the real kernel: real namespaces, cgroups,
//! veths on a real bridge, busybox (Debian's `busybox-static`) as the containers' init, and
//! what the containers print on their consoles as the evidence.
//!
//! `lxc_controller.rs` drives `rvirt-lxc-controller` directly (spec in, monitor protocol and
//! console out); `lxc_driver.rs` goes through the plugin host and the compiled `lxc` plugin,
//! as an embedder or rvirtd would. Both need root.
//!
//! Every test names its containers and bridges uniquely, and checks that nothing is left
//! behind: no cgroup, veth, socket, staging directory or process of the container.

#[path = "lxc_controller.rs"]
mod controller;
#[path = "lxc_driver.rs"]
pub(crate) mod driver;

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::workspace_root;
pub use crate::common::{bridge_members, run, unique, Bridge};

fn require_root() {
    assert!(
        nix_is_root(),
        "the LXC tests create namespaces, cgroups and veths: run them as root"
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The controller binary, freshly built (once per test run) in the target directory whose
/// `debug/` the host counts among its helper directories (the test binary lives in
/// `debug/deps/`).
pub fn controller_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        require_root();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "rvirt-lxc-controller",
                "--bin",
                "rvirt-lxc-controller",
            ])
            .status()
            .expect("run cargo build for the controller");
        assert!(status.success(), "building rvirt-lxc-controller failed");
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        let built = target_dir.join("debug/rvirt-lxc-controller");
        assert!(
            built.exists(),
            "{} is missing after the build",
            built.display()
        );
        built
    })
}

/// Debian's static busybox: the containers' only binary.
pub fn busybox() -> PathBuf {
    let path = PathBuf::from("/bin/busybox");
    assert!(
        path.exists(),
        "/bin/busybox is missing: apt-get install busybox-static"
    );
    path
}

/// A container root: busybox with its applet links, the usual directories, and a data
/// directory on the host that tests bind-mount into the container.
pub struct Rootfs {
    dir: tempfile::TempDir,
}

impl Rootfs {
    pub fn new() -> Rootfs {
        let dir = tempfile::Builder::new()
            .prefix("rvirt-lxc-root")
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        for sub in [
            "bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "root", "run", "data",
        ] {
            std::fs::create_dir_all(root.join(sub)).expect("rootfs directory");
        }
        std::fs::copy(busybox(), root.join("bin/busybox")).expect("copy busybox");
        for applet in [
            "sh", "cat", "echo", "hostname", "ip", "ls", "sleep", "mount", "reboot", "poweroff",
            "id", "grep", "tr", "touch", "true", "read", "udhcpc", "ifconfig", "ping",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
                .expect("applet link");
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
        std::fs::create_dir_all(dir.path().join("data")).expect("data directory");
        Rootfs { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The host directory bind-mounted at `/data` in the container.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A private run directory for a controller's sockets and state.
    pub fn run_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("run");
        std::fs::create_dir_all(&dir).expect("run directory");
        dir
    }
}

/// Reads a console socket until `marker` has been seen (and returns everything read), or
/// panics after `timeout`.
pub fn read_console_until(socket: &Path, marker: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut stream = loop {
        match UnixStream::connect(socket) {
            Ok(stream) => break stream,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => panic!("cannot connect to console {}: {error}", socket.display()),
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                seen.extend_from_slice(&buffer[..n]);
                if String::from_utf8_lossy(&seen).contains(marker) {
                    return String::from_utf8_lossy(&seen).replace('\r', "");
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => panic!("console read failed: {error}"),
        }
    }
    panic!(
        "'{marker}' did not appear on the console within {timeout:?}; got:\n{}",
        String::from_utf8_lossy(&seen)
    );
}

/// The value of `key=value` printed by the container on a line of its own.
pub fn console_value<'a>(output: &'a str, key: &str) -> Option<&'a str> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key}=")).map(str::trim))
}

/// Everything container `name` could have left on the host (empty when clean).
pub fn leftovers(name: &str, run_dir: &Path, veths: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let leaf = format!("{name}.rvirt-lxc");
    // Any cgroup hierarchy, at any depth below the controller's own group.
    let output = Command::new("find")
        .args([
            "/sys/fs/cgroup",
            "-maxdepth",
            "6",
            "-type",
            "d",
            "-name",
            &leaf,
        ])
        .output()
        .expect("find");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        found.push(format!("cgroup {line}"));
    }
    for veth in veths {
        if Path::new("/sys/class/net").join(veth).exists() {
            found.push(format!("veth {veth}"));
        }
    }
    for file in [
        format!("{name}.sock"),
        format!("{name}.console"),
        format!("{name}.controller"),
        format!("{name}.root"),
    ] {
        if run_dir.join(&file).exists() {
            found.push(format!("{}", run_dir.join(file).display()));
        }
    }
    // Live processes still in the container's cgroups (and so in its namespaces). Zombies
    // waiting for the host's init to reap them (orphans after a controller was killed) are
    // gone in every sense but their pid.
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let cgroup = std::fs::read_to_string(entry.path().join("cgroup")).unwrap_or_default();
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
            if cgroup.contains(&leaf) && !zombie {
                found.push(format!("process {}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Waits until `check` holds, or panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
