//! Drivers released on their own, as their authors and operators handle them:
//!
//! - the "Writing a driver out of tree" walkthrough of `plugins/README.md`, for real: `cargo
//!   xtask new-plugin` outside the workspace, `cargo build --release`, `package-plugin`,
//!   `install-plugin`, then the real `rvirtd` finds it on `RVIRT_PLUGIN_PATH` and `virsh`
//!   lists its example domain (skipped, saying so, when virsh is not installed);
//! - a packaged release of the `test` plugin installs and serves calls through a
//!   `virt_host::Host`; the same files tampered with, truncated or misnamed are refused with a
//!   message naming the file and the field.
//!
//! The out-of-tree crate builds into `target/third-party`, shared between runs so that only
//! the first run pays for compiling the SDK for wasm.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::ConnectUri;
use virt_host::{DirLayout, Host, HostConfig};

use crate::common::{init_logging, workspace_root};

/// `cargo ARGS` in the workspace (or `dir`), failing the test with cargo's output.
fn cargo(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let output = Command::new(env!("CARGO"))
        .current_dir(dir)
        .args(args)
        .envs(envs.iter().map(|(k, v)| (*k, *v)))
        .output()
        .unwrap_or_else(|e| panic!("cargo {args:?}: {e}"));
    assert!(
        output.status.success(),
        "cargo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `cargo xtask ARGS`, as an author types it in the checkout.
fn xtask(args: &[&str]) -> String {
    let mut full = vec!["run", "--quiet", "--package", "xtask", "--"];
    full.extend_from_slice(args);
    let output = cargo(&workspace_root(), &full, &[]);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Packages workspace plugin `name` (or the crate at `path`) into `out`; the archive's path.
fn package(name: &str, path: Option<&Path>, target_dir: Option<&Path>, out: &Path) -> PathBuf {
    let mut args = vec![
        "package-plugin",
        name,
        "--out",
        out.to_str().expect("utf-8"),
    ];
    if let Some(path) = path {
        args.extend(["--path", path.to_str().expect("utf-8")]);
    }
    if let Some(dir) = target_dir {
        args.extend(["--target-dir", dir.to_str().expect("utf-8")]);
    }
    let printed = xtask(&args);
    let archive = PathBuf::from(printed.trim());
    assert!(archive.exists(), "package-plugin printed {printed:?}");
    archive
}

fn install(archive: &Path, dir: &Path) {
    xtask(&[
        "install-plugin",
        archive.to_str().expect("utf-8"),
        "--dir",
        dir.to_str().expect("utf-8"),
    ]);
}

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// rvirtd, started on a private socket directory, killed when dropped.
struct Daemon {
    child: std::process::Child,
    dir: PathBuf,
}

impl Daemon {
    fn start(dir: &Path, plugin_dir: &Path) -> Daemon {
        cargo(
            &workspace_root(),
            &["build", "--quiet", "-p", "rvirtd"],
            &[],
        );
        let exe = std::env::current_exe().expect("test binary");
        // The test binary is <target>/<profile>/deps/all-*; rvirtd is <target>/<profile>/rvirtd.
        let rvirtd = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>")
            .join("rvirtd");
        std::fs::write(dir.join("rvirtd.conf"), "").expect("config");
        let log = std::fs::File::create(dir.join("log")).expect("log");
        let child = Command::new(rvirtd)
            .arg("--unix-sock-dir")
            .arg(dir)
            .arg("-f")
            .arg(dir.join("rvirtd.conf"))
            .env("RVIRT_PLUGIN_PATH", plugin_dir)
            .env("RVIRT_STATE_ROOT", dir.join("state"))
            .env("RVIRT_CACHE_DIR", dir.join("cache"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rvirtd starts");
        let mut daemon = Daemon {
            child,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !daemon.socket().exists() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("rvirtd exited with {status}: {}", daemon.log());
            }
            assert!(
                Instant::now() < deadline,
                "rvirtd did not create its socket: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("rvirt-sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The daemon is this test's own child.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_out_of_tree_walkthrough_ends_in_virsh_listing_the_driver_domain() {
    if !Path::new("/usr/bin/virsh").exists() {
        println!("SKIP: /usr/bin/virsh is not installed (apt-get install libvirt-clients)");
        return;
    }
    let scratch = temp_dir("rvirt-3p-");
    let crate_dir = scratch.path().join("hello");
    // 1. A new crate, outside the workspace.
    xtask(&[
        "new-plugin",
        "hello",
        "--dir",
        crate_dir.to_str().expect("utf-8"),
    ]);
    // 2. One command builds it (its .cargo/config.toml picks wasm32-wasip2).
    let target_dir = workspace_root().join("target/third-party");
    cargo(
        &crate_dir,
        &["build", "--release"],
        &[("CARGO_TARGET_DIR", &target_dir)],
    );
    assert!(target_dir.join("wasm32-wasip2/release/hello.wasm").exists());
    // 3. A release archive, installed into a plugin directory.
    let archive = package(
        "hello",
        Some(&crate_dir),
        Some(&target_dir),
        &scratch.path().join("out"),
    );
    let archive_name = archive.file_name().and_then(|n| n.to_str()).unwrap_or("");
    assert!(
        archive_name.starts_with("hello-0.1.0-wit") && archive_name.ends_with(".tar.gz"),
        "{archive_name}"
    );
    let plugin_dir = scratch.path().join("plugins");
    install(&archive, &plugin_dir);
    // 4. rvirtd finds it on RVIRT_PLUGIN_PATH; virsh lists the driver's domain.
    let daemon_dir = scratch.path().join("daemon");
    std::fs::create_dir_all(&daemon_dir).expect("daemon dir");
    let daemon = Daemon::start(&daemon_dir, &plugin_dir);
    let uri = format!("hello+unix:///x?socket={}", daemon.socket().display());
    let output = Command::new("/usr/bin/virsh")
        .args(["-c", &uri, "list --all; domstate example; domuuid example"])
        .output()
        .expect("virsh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "virsh failed: {}\n{stdout}\nrvirtd: {}",
        String::from_utf8_lossy(&output.stderr),
        daemon.log()
    );
    let listed = stdout
        .lines()
        .any(|line| line.split_whitespace().collect::<Vec<_>>() == ["1", "example", "running"]);
    assert!(listed, "virsh list --all:\n{stdout}");
    assert!(
        stdout.contains("6695eb01-f6a4-8304-79aa-97f2502e193f"),
        "{stdout}"
    );
}

fn host_config(plugin_dir: &Path, state_root: &Path) -> HostConfig {
    HostConfig {
        plugin_path: vec![plugin_dir.to_path_buf()],
        compile_cache: Some(state_root.join("compiled")),
        grants: rvirt_tests::checkout_grants(),
        grants_source: None,
        dirs: DirLayout::Root(state_root.to_path_buf()),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 2,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    }
}

/// Opens `uri` through a host built on `plugin_dir` and lists its domains.
fn first_call(plugin_dir: &Path, state_root: &Path, uri: &str) -> virt_core::Result<usize> {
    let host = Host::new(host_config(plugin_dir, state_root));
    let parsed = ConnectUri::parse(uri)?;
    let connection = host.open(&parsed, 0)?.ok_or_else(|| {
        virt_core::Error::new(
            virt_core::ErrorNumber::NO_CONNECT,
            virt_core::ErrorDomain::NONE,
            format!("no plugin serves {uri}; problems: {:?}", host.problems),
        )
    })?;
    let conn = Connect::from_connection(Arc::new(connection), parsed, false);
    Ok(conn.list_all_domains(0)?.len())
}

#[test]
fn a_packaged_release_installs_and_a_tampered_one_is_refused() {
    init_logging();
    let scratch = temp_dir("rvirt-pkg-");
    let archive = package("test", None, None, &scratch.path().join("out"));
    let plugin_dir = scratch.path().join("plugins");
    install(&archive, &plugin_dir);
    let manifest = std::fs::read_to_string(plugin_dir.join("test.toml")).expect("manifest");
    assert!(manifest.contains("sha256 = \""), "{manifest}");
    let state = scratch.path().join("state");
    let n_domains = first_call(&plugin_dir, &state, "test:///default").expect("serves calls");
    assert!(n_domains > 0, "test:///default starts with a domain");

    let wasm_path = plugin_dir.join("test.wasm");
    let good = std::fs::read(&wasm_path).expect("component");
    let refused = |what: &str| {
        let error = first_call(&plugin_dir, &state, "test:///default")
            .expect_err(what)
            .to_string();
        assert!(
            error.contains(&*wasm_path.to_string_lossy()),
            "{what}: {error}"
        );
        error
    };

    // One byte changed: the checksum no longer matches.
    let mut tampered = good.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x40;
    std::fs::write(&wasm_path, &tampered).expect("tamper");
    let error = refused("a tampered component");
    assert!(error.contains("sha256"), "{error}");

    // Truncated: refused by the checksum, and without one, as a broken component.
    std::fs::write(&wasm_path, &good[..good.len() / 2]).expect("truncate");
    let error = refused("a truncated component");
    assert!(error.contains("sha256"), "{error}");
    let unsigned: String = manifest
        .lines()
        .filter(|line| !line.starts_with("sha256"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(plugin_dir.join("test.toml"), &unsigned).expect("unsigned manifest");
    let error = refused("a truncated component without a checksum");
    assert!(
        error.contains("not a valid WebAssembly component"),
        "{error}"
    );

    // A manifest whose name is not its file's stem is refused at discovery, naming both.
    std::fs::write(&wasm_path, &good).expect("restore");
    std::fs::write(plugin_dir.join("test.toml"), &manifest).expect("restore");
    std::fs::rename(plugin_dir.join("test.toml"), plugin_dir.join("other.toml")).expect("rename");
    std::fs::rename(&wasm_path, plugin_dir.join("other.wasm")).expect("rename");
    let host = Host::new(host_config(&plugin_dir, &state));
    assert!(host.discovered().is_empty());
    let problem = host.problems.join("\n");
    assert!(
        problem.contains("other.toml") && problem.contains("field `name`"),
        "{problem}"
    );
}
