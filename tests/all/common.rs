//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The workspace root.
pub use rvirt_tests::workspace_root;

/// Shows the host's and plugins' log lines (warnings by default, `RVIRT_TEST_LOG` to change)
/// in the output of a failing test.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("RVIRT_TEST_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Where `cargo xtask plugins` installs the driver plugins.
pub fn plugins_dir() -> PathBuf {
    workspace_root().join("target/plugins")
}

/// Where `cargo xtask plugins` installs the misbehaving test plugins.
pub fn test_plugins_dir() -> PathBuf {
    workspace_root().join("target/test-plugins")
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The start of a python3-libvirt script that receives events: libvirt's default event
/// loop, run on a thread of its own.
pub const PYTHON_EVENT_LOOP: &str = "
import libvirt, sys, threading, time
libvirt.virEventRegisterDefaultImpl()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
";

/// A Linux bridge that exists for the test's lifetime.
pub struct Bridge {
    pub name: String,
}

impl Bridge {
    pub fn new() -> Bridge {
        let name = unique("rvbr");
        run("ip", &["link", "add", &name, "type", "bridge"]);
        run("ip", &["link", "set", &name, "up"]);
        Bridge { name }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
    }
}

pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The bridge's member interfaces.
pub fn bridge_members(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A plugin host configuration for tests: plugins from `plugin_path`, state and the compile
/// cache under `state_root`, the checkout's grants, a 500 ms CPU budget per call, 64 MiB of
/// memory per instance.
pub fn host_config(
    plugin_path: Vec<PathBuf>,
    state_root: &std::path::Path,
) -> virt_host::HostConfig {
    virt_host::HostConfig {
        plugin_path,
        compile_cache: Some(state_root.join("compiled")),
        grants: rvirt_tests::checkout_grants(),
        grants_source: None,
        dirs: virt_host::DirLayout::Root(state_root.to_path_buf()),
        call_cpu_budget: std::time::Duration::from_millis(500),
        memory_limit_mib: 64,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    }
}

/// Opens `uri` in `host`, in this process, as a read-write blocking connection.
pub fn open_in(
    host: &virt_host::Host,
    uri: &str,
) -> virt_core::Result<virt_core::blocking::Connect> {
    let parsed = virt_core::ConnectUri::parse(uri)?;
    let connection = host.open(&parsed, 0)?.expect("a plugin serves this scheme");
    Ok(virt_core::blocking::Connect::from_connection(
        std::sync::Arc::new(connection),
        parsed,
        false,
    ))
}

/// Rewrites the payload of a component's `rvirt:wit-version` section (same length).
pub fn with_wit_version(wasm: &[u8], version: &str) -> Vec<u8> {
    let marker = b"rvirt:wit-version";
    let at = wasm
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("version section")
        + marker.len();
    let mut patched = wasm.to_vec();
    patched[at..at + version.len()].copy_from_slice(version.as_bytes());
    patched
}

/// rvirsh and rvirtd, built once per test run into this test binary's target directory.
pub fn built_binaries() -> &'static (PathBuf, PathBuf) {
    static BINARIES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps")
            .to_path_buf();
        let target = profile_dir.parent().expect("<target>").to_path_buf();
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(workspace_root())
            .args([
                "build",
                "--quiet",
                "-p",
                "rvirsh",
                "-p",
                "rvirtd",
                "--target-dir",
            ])
            .arg(&target);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p rvirsh -p rvirtd");
        assert!(status.success(), "cargo build -p rvirsh -p rvirtd failed");
        (profile_dir.join("rvirsh"), profile_dir.join("rvirtd"))
    })
}

/// An rvirtd of its own: the checkout's plugins and grants, its state and socket in a
/// temporary directory, stopped when dropped. `env` adds to its environment (helper
/// directories, `LIBVIRT_AUTH_FILE`).
pub struct Rvirtd {
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl Rvirtd {
    pub fn start(env: &[(&str, &std::ffi::OsStr)]) -> Rvirtd {
        let (_, rvirtd) = built_binaries();
        let dir = tempfile::tempdir().expect("daemon dir");
        std::fs::write(dir.path().join("rvirtd.conf"), "").expect("config");
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let mut command = Command::new(rvirtd);
        command
            .arg("--unix-sock-dir")
            .arg(dir.path())
            .arg("-f")
            .arg(dir.path().join("rvirtd.conf"))
            .env("RVIRT_STATE_ROOT", dir.path().join("state"))
            .env("RVIRT_PLUGIN_PATH", plugins_dir())
            .env("RVIRT_GRANTS", workspace_root().join("etc/grants.toml"))
            .env(
                "RVIRT_CACHE_DIR",
                std::env::temp_dir().join("rvirt-test-daemon-compiled"),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("rvirtd starts");
        let socket = dir.path().join("rvirt-sock");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "rvirtd's socket did not appear"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Rvirtd { child, dir }
    }

    /// `driver_uri` reached through this daemon's socket: `bhyve:///system` becomes
    /// `bhyve+unix:///system?socket=...`; a URI naming a host (`phyp://user@hmc/sys`) is
    /// passed whole in libvirt's `name` parameter.
    pub fn uri(&self, driver_uri: &str) -> String {
        let socket = self.dir.path().join("rvirt-sock");
        let (scheme, rest) = driver_uri.split_once("://").expect("a URI");
        if rest.starts_with('/') {
            return format!("{scheme}+unix://{rest}?socket={}", socket.display());
        }
        let encoded: String = driver_uri
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        format!(
            "{scheme}+unix:///?socket={}&name={encoded}",
            socket.display()
        )
    }

    /// What the daemon has logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }
}

impl Drop for Rvirtd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs real virsh on `uri`: whether it succeeded, and its stdout then stderr.
pub fn virsh_status(uri: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .expect("virsh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Runs real virsh on `uri` and returns its output; a failure fails the test.
pub fn virsh_ok(uri: &str, args: &[&str]) -> String {
    let (success, output) = virsh_status(uri, args);
    assert!(success, "virsh {args:?}: {output}");
    output
}

/// A stand-in server from `tests/peers/` (a Python script that prints `LISTENING <port>`
/// once it listens on 127.0.0.1), stopped when dropped.
pub struct PeerServer {
    child: std::process::Child,
    pub port: u16,
}

impl PeerServer {
    pub fn start(script: &str, args: &[&std::ffi::OsStr]) -> PeerServer {
        use std::io::BufRead;
        let mut child = Command::new("/usr/bin/python3")
            .arg(workspace_root().join("tests/peers").join(script))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{script} starts: {e}"));
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("its first line");
        let port = line
            .trim()
            .strip_prefix("LISTENING ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script}: unexpected first line {line:?}"));
        PeerServer { child, port }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory of stand-in programs a test writes (labelled scripts that play a tool this
/// machine lacks), put first on the plugin host's helper path; removed when dropped.
pub struct StandInDir {
    pub dir: tempfile::TempDir,
}

impl StandInDir {
    /// Writes each `(name, script)` as an executable in a new directory named `prefix...`.
    pub fn new(prefix: &str, scripts: &[(&str, &str)]) -> StandInDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("stand-in dir");
        for (name, script) in scripts {
            let path = dir.path().join(name);
            std::fs::write(&path, script).expect("stand-in");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        StandInDir { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A plugin host (a daemon, in process) that finds the stand-ins first.
    pub fn host(&self, state_root: &Path) -> virt_host::Host {
        let mut config = host_config(vec![plugins_dir()], state_root);
        config.helper_dirs.insert(0, self.dir.path().to_path_buf());
        virt_host::Host::new(config)
    }

    /// The lines of a file in the directory (a stand-in's record of its arguments); none
    /// when it does not exist yet.
    pub fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// Writes libvirt's auth file giving `user`/`password` for `service` on 127.0.0.1, as an
/// operator writes it for a remote endpoint a driver logs in to.
pub fn write_auth_file(path: &Path, service: &str, user: &str, password: &str) {
    std::fs::write(
        path,
        format!(
            "[credentials-test]\nusername={user}\npassword={password}\n\n\
             [auth-{service}-127.0.0.1]\ncredentials=test\n"
        ),
    )
    .expect("auth.conf");
}
