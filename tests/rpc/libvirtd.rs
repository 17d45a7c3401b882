//! rvirt's client against the real libvirtd: a session daemon of its own, run as an
//! unprivileged user in a private directory, serving libvirt's test driver.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::scenario::{run_scenario, Target};

const LIBVIRTD: &str = "/usr/sbin/libvirtd";
/// The unprivileged user the daemon runs as (Debian's `nobody`).
const NOBODY: u32 = 65534;

/// A libvirtd in session mode, stopped (by its pid) when dropped.
pub struct SessionLibvirtd {
    child: Child,
    dir: tempfile::TempDir,
}

impl SessionLibvirtd {
    /// Starts the daemon, or says why it cannot (not installed, not root).
    pub fn start() -> Result<SessionLibvirtd, String> {
        if !Path::new(LIBVIRTD).exists() {
            return Err(format!(
                "{LIBVIRTD} is not installed (apt-get install libvirt-daemon)"
            ));
        }
        if !nix::unistd::geteuid().is_root() {
            return Err("starting a private libvirtd as another user needs root".into());
        }
        // Short paths: Unix socket paths are limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("rvt-")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        for sub in ["home", "run"] {
            let path = dir.path().join(sub);
            std::fs::create_dir(&path).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| e.to_string())?;
            nix::unistd::chown(
                &path,
                Some(nix::unistd::Uid::from_raw(NOBODY)),
                Some(nix::unistd::Gid::from_raw(NOBODY)),
            )
            .map_err(|e| e.to_string())?;
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("libvirtd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(LIBVIRTD)
            .env_clear()
            .env("HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .args(["--timeout", "120"])
            .uid(NOBODY)
            .gid(NOBODY)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {LIBVIRTD}: {e}"))?;
        let mut daemon = SessionLibvirtd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.socket().exists() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                return Err(format!("libvirtd exited with {status}: {}", daemon.log()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "libvirtd did not create its socket: {}",
                    daemon.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(daemon)
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/libvirt/libvirt-sock")
    }

    pub fn test_uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket().display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("libvirtd.log")).unwrap_or_default()
    }
}

impl Drop for SessionLibvirtd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn rvirt_client_passes_the_scenario_against_libvirtd() {
    let daemon = match SessionLibvirtd::start() {
        Ok(daemon) => daemon,
        Err(why) => {
            println!("SKIP rvirt client against libvirtd: {why}");
            return;
        }
    };
    virt_rpc::register();
    // A connection held open for the whole run: the test driver's state lives as long as
    // one connection does.
    let anchor =
        virt_core::blocking::Connect::open(&daemon.test_uri()).expect("connect to libvirtd");
    let target = Target {
        uri: daemon.test_uri(),
        ro_uri: None,
        daemon: "libvirtd 9.0",
    };
    run_scenario(&target);
    drop(anchor);
}
