//! `cargo bench -p rvirt-tests --bench lxc_start -- [--runs N] [--warmup N]`: container start latency, from the start
//! call to the container's first console output, for
//! - plain `unshare` + `chroot` running the same init (the floor, as `start_latency.py
//!   --kind plain-lxc` measures it),
//! - `rvirt-lxc-controller` started by hand with the same spec the driver writes,
//! - the `lxc` plugin through the plugin host (define once, then `create` + console),
//!
//! next to libvirt's own LXC driver as `../shared/bench/RESULTS.md` recorded it on this
//! machine type. The container is what `start_latency.py` runs: busybox `sh -c 'echo READY;
//! sleep 1'` on a bind-mounted root, 64 MiB memory limit. Needs root. Prints one table and a
//! JSON line.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvirt_tests::workspace_root;

const MARKER: &str = "READY";
const SCRIPT: &str = "echo READY; sleep 1";

struct Sample {
    create_s: f64,
    marker_s: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rvirt-lxc-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// A busybox root like `start_latency.py`'s.
fn make_rootfs(dir: &Path) -> Result<PathBuf, String> {
    let root = dir.join("rootfs");
    for sub in ["bin", "proc", "sys", "dev", "tmp", "etc", "root", "run"] {
        std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .map_err(|e| format!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
    let _ = std::os::unix::fs::symlink("busybox", root.join("bin/sh"));
    Ok(root)
}

/// Reads `reader` until the marker appears; the time it did.
fn wait_marker(mut reader: impl Read, deadline: Instant) -> Option<Instant> {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.read(&mut buffer) {
            Ok(0) => return None,
            Ok(n) => {
                seen.extend_from_slice(&buffer[..n]);
                if seen.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()) {
                    return Some(Instant::now());
                }
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Connects to a console socket as soon as it exists and waits for the marker.
fn console_marker(socket: &Path, deadline: Instant) -> Option<Instant> {
    let stream = loop {
        match UnixStream::connect(socket) {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_micros(200)),
            Err(_) => return None,
        }
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .ok()?;
    wait_marker(stream, deadline)
}

fn plain_unshare(root: &Path) -> Result<Sample, String> {
    let t0 = Instant::now();
    let mut child = Command::new("unshare")
        .args([
            "--mount",
            "--uts",
            "--ipc",
            "--pid",
            "--fork",
            "--propagation",
            "private",
        ])
        .arg(format!("--mount-proc={}/proc", root.display()))
        .arg("chroot")
        .arg(root)
        .args(["/bin/busybox", "sh", "-c", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("unshare: {e}"))?;
    let t1 = Instant::now();
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let marker = wait_marker(stdout, t0 + Duration::from_secs(10));
    let _ = child.kill();
    let _ = child.wait();
    let marker = marker.ok_or("plain unshare: no marker")?;
    Ok(Sample {
        create_s: (t1 - t0).as_secs_f64(),
        marker_s: (marker - t0).as_secs_f64(),
    })
}

fn spec(name: &str, root: &Path, run_dir: &Path) -> rvirt_lxc_controller::spec::ContainerSpec {
    use rvirt_lxc_controller::paths;
    use rvirt_lxc_controller::spec::*;
    ContainerSpec {
        name: name.into(),
        uuid: "00000000-0000-0000-0000-000000000001".into(),
        monitor_socket: paths::monitor_socket(run_dir, name),
        console_socket: paths::console_socket(run_dir, name),
        state_file: paths::state_file(run_dir, name),
        hostname: name.into(),
        filesystems: vec![Filesystem {
            source: FilesystemSource::Bind {
                dir: root.to_path_buf(),
            },
            target: "/".into(),
            readonly: false,
        }],
        init: Init {
            path: "/bin/busybox".into(),
            args: vec!["sh".into(), "-c".into(), SCRIPT.into()],
            env: vec![("PATH".into(), "/bin:/sbin".into())],
            workdir: None,
            user: None,
            group: None,
        },
        idmap: None,
        resources: Resources {
            memory_hard_limit_kib: Some(65536),
            ..Resources::default()
        },
        network: None,
        drop_capabilities: capability::DEFAULT_DROP.to_vec(),
    }
}

fn controller_direct(
    controller: &Path,
    root: &Path,
    run_dir: &Path,
    index: usize,
) -> Result<Sample, String> {
    let name = format!("bench{}x{index}", std::process::id());
    let spec = spec(&name, root, run_dir);
    let spec_path = run_dir.join(format!("{name}.spec.json"));
    std::fs::write(&spec_path, spec.to_json()).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let mut child = Command::new(controller)
        .args(["run", "--spec"])
        .arg(&spec_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", controller.display()))?;
    let t1 = Instant::now();
    let marker = console_marker(&spec.console_socket, t0 + Duration::from_secs(10));
    // SIGTERM destroys the container; the controller tears down and exits.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let marker = marker.ok_or("controller: no marker")?;
    Ok(Sample {
        create_s: (t1 - t0).as_secs_f64(),
        marker_s: (marker - t0).as_secs_f64(),
    })
}

fn domain_xml(name: &str, root: &Path) -> String {
    // start_latency.py's lxc_xml, with rvirt's emulator.
    format!(
        "<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory><vcpu placement='static'>1</vcpu>\
         <os><type>exe</type><init>/bin/busybox</init><initarg>sh</initarg><initarg>-c</initarg>\
         <initarg>{SCRIPT}</initarg></os><on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>\
         <on_crash>destroy</on_crash><devices><filesystem type='mount' accessmode='passthrough'>\
         <source dir='{}'/><target dir='/'/></filesystem><console type='pty'/></devices></domain>",
        root.display()
    )
}

struct Driver {
    conn: virt_core::blocking::Connect,
    _host: virt_host::Host,
}

fn driver(state: &Path) -> Result<Driver, String> {
    let grants = rvirt_tests::checkout_grants();
    let host = virt_host::Host::new(virt_host::HostConfig {
        plugin_path: vec![workspace_root().join("target/plugins")],
        compile_cache: Some(std::env::temp_dir().join("rvirt-lxc-bench-compiled")),
        grants,
        grants_source: None,
        dirs: virt_host::DirLayout::Root(state.to_path_buf()),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    });
    let uri = virt_core::ConnectUri::parse("lxc:///system").map_err(|e| e.to_string())?;
    let connection = host
        .open(&uri, 0)
        .map_err(|e| e.to_string())?
        .ok_or("no plugin serves lxc:/// (run `cargo xtask plugins`)")?;
    let conn = virt_core::blocking::Connect::from_connection(Arc::new(connection), uri, false);
    Ok(Driver { conn, _host: host })
}

fn through_driver(driver: &Driver, root: &Path, index: usize) -> Result<Sample, String> {
    let name = format!("benchd{}x{index}", std::process::id());
    let domain = driver
        .conn
        .domain_define_xml(&domain_xml(&name, root), 0)
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let started = domain.create(0);
    let t1 = Instant::now();
    let marker = match &started {
        Ok(()) => match domain.open_console(None, 0) {
            Ok(virt_core::ConsoleEndpoint::UnixSocket(path)) => {
                console_marker(Path::new(&path), t0 + Duration::from_secs(10))
            }
            _ => None,
        },
        Err(_) => None,
    };
    let _ = domain.destroy(0);
    let _ = domain.undefine(0);
    started.map_err(|e| e.to_string())?;
    let marker = marker.ok_or("driver: no marker")?;
    Ok(Sample {
        create_s: (t1 - t0).as_secs_f64(),
        marker_s: (marker - t0).as_secs_f64(),
    })
}

/// Builds the controller in release mode, in `target/release/`: a helper directory of this
/// benchmark's host (the benchmark runs from `target/release/deps/`).
fn build_controller() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "rvirt-lxc-controller",
            "--bin",
            "rvirt-lxc-controller",
        ])
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("building rvirt-lxc-controller failed".into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let built = target.join("release/rvirt-lxc-controller");
    if !built.exists() {
        return Err(format!("{} is missing after the build", built.display()));
    }
    Ok(built)
}

/// libvirt's LXC rows of `../shared/bench/RESULTS.md`, when that folder is there.
fn libvirt_reference() -> Vec<String> {
    let path = workspace_root().join("../shared/bench/RESULTS.md");
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter(|line| {
                    line.starts_with("| lxc via libvirtd") || line.starts_with("| plain `unshare")
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn report(label: &str, samples: &mut [Sample], floor: Option<f64>) -> (f64, f64) {
    let mut create: Vec<f64> = samples.iter().map(|s| s.create_s).collect();
    let mut marker: Vec<f64> = samples.iter().map(|s| s.marker_s).collect();
    let (min, max) = marker
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    let create_median = median(&mut create);
    let marker_median = median(&mut marker);
    let over = floor
        .map(|floor| format!("{:+7.1} ms", (marker_median - floor) * 1000.0))
        .unwrap_or_default();
    println!(
        "{label:<34} {:>9.1} {:>9.1} [{:.1}-{:.1}] {over}",
        create_median * 1000.0,
        marker_median * 1000.0,
        min * 1000.0,
        max * 1000.0
    );
    (create_median, marker_median)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let args = &args[..];
    let mut runs = 10usize;
    let mut warmup = 1usize;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--runs" => runs = iter.next().and_then(|v| v.parse().ok()).unwrap_or(runs),
            "--warmup" => warmup = iter.next().and_then(|v| v.parse().ok()).unwrap_or(warmup),
            other => {
                eprintln!(
                    "usage: cargo xtask lxc-bench [--runs N] [--warmup N] (unknown '{other}')"
                );
                return ExitCode::from(2);
            }
        }
    }
    match bench(runs.max(1), warmup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lxc-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench(runs: usize, warmup: usize) -> Result<(), String> {
    let controller = build_controller()?;
    let dir = temp_dir("work");
    let root = make_rootfs(&dir)?;
    let run_dir = dir.join("run");
    std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
    let driver = driver(&dir.join("state"))?;

    let mut plain = Vec::new();
    let mut direct = Vec::new();
    let mut via_driver = Vec::new();
    // Interleaved, so that the machine's background load hits every kind alike.
    for index in 0..warmup + runs {
        let samples = (
            plain_unshare(&root)?,
            controller_direct(&controller, &root, &run_dir, index)?,
            through_driver(&driver, &root, index)?,
        );
        if index >= warmup {
            plain.push(samples.0);
            direct.push(samples.1);
            via_driver.push(samples.2);
        }
    }
    println!("lxc start latency: busybox `sh -c '{SCRIPT}'`, {runs} runs after {warmup} warm-up; medians in ms");
    println!(
        "{:<34} {:>9} {:>9} {:>13} marker over plain",
        "kind", "create", "marker", "[min-max]"
    );
    let (_, floor) = report("plain unshare + chroot", &mut plain, None);
    let (_, controller_marker) = report("rvirt-lxc-controller (by hand)", &mut direct, Some(floor));
    let (driver_create, driver_marker) = report(
        "rvirt lxc plugin (in-process host)",
        &mut via_driver,
        Some(floor),
    );
    let reference = libvirt_reference();
    if !reference.is_empty() {
        println!("libvirt 9.0.0 on this machine type (../shared/bench/RESULTS.md, seconds: create, marker, exit):");
        for line in reference {
            println!("  {line}");
        }
    }
    println!(
        "{{\"bench\": \"lxc_start_latency\", \"runs\": {runs}, \"plain_marker_ms\": {:.2}, \"controller_marker_ms\": {:.2}, \
         \"driver_create_ms\": {:.2}, \"driver_marker_ms\": {:.2}, \"driver_over_plain_ms\": {:.2}}}",
        floor * 1000.0,
        controller_marker * 1000.0,
        driver_create * 1000.0,
        driver_marker * 1000.0,
        (driver_marker - floor) * 1000.0
    );
    drop(driver);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
