//! `cargo bench -p rvirt-tests --bench hot_reload -- [--reloads N] [--clients N]` (or
//! `./x.sh bench reload`): the hot-upgrade pause, as clients of a real rvirtd see it.
//!
//! rvirtd (`$RVIRTD`, default `target/release/rvirtd`) serves a private copy of the test
//! plugin. Client threads, each on its own connection, loop over `lookupByName` + `getInfo`
//! while another connection reloads the plugin N times (`plugin-reload`, rvirt's admin
//! program), twice over: with the same component (compiled artifact cached) and with a
//! rebuilt one (new bytes each time, so each reload compiles). Calls that overlap a reload
//! (from the request to the reply, plus 20 ms) are "during swap"; the others are the
//! baseline. Prints max/p99/p50 latency per mode and a JSON line; the target for the pause
//! (the longest call during a swap) is 50 ms.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rvirt_tests::workspace_root;
use virt_core::blocking::Connect;

/// How long after a reload's reply a call still counts as "during swap".
const SWAP_TAIL: Duration = Duration::from_millis(20);
const TARGET_MS: f64 = 50.0;

struct Daemon {
    child: Child,
    uri: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Our own child.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(dir: &Path) -> Result<Daemon, String> {
    // Relative to the workspace (cargo runs benches in the package's directory).
    let rvirtd = workspace_root().join(
        std::env::var_os("RVIRTD")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/release/rvirtd")),
    );
    if !rvirtd.is_file() {
        return Err(format!(
            "{} is missing: cargo build --release -p rvirtd (or set RVIRTD)",
            rvirtd.display()
        ));
    }
    std::fs::write(dir.join("rvirtd.conf"), "").map_err(|e| e.to_string())?;
    let child = Command::new(&rvirtd)
        .arg("--unix-sock-dir")
        .arg(dir.join("sock"))
        .arg("-f")
        .arg(dir.join("rvirtd.conf"))
        .env("RVIRT_PLUGIN_PATH", dir.join("plugins"))
        .env("RVIRT_CACHE_DIR", dir.join("compiled"))
        .env("RVIRT_STATE_ROOT", dir.join("state"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", rvirtd.display()))?;
    let socket = dir.join("sock/rvirt-sock");
    let daemon = Daemon {
        child,
        uri: format!("test+unix:///default?socket={}", socket.display()),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !socket.exists() {
        if Instant::now() > deadline {
            return Err("rvirtd did not create its socket".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(daemon)
}

/// Appends a custom section to a component: the same code, new bytes (so a new cache key).
fn rebuilt(wasm: &[u8], n: u32) -> Vec<u8> {
    fn leb(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"rvirt-bench-build";
    let payload = n.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = wasm.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

/// Installs `wasm` as the test plugin, keeping a `sha256` line of the manifest true.
fn install(dir: &Path, wasm: &[u8], manifest: &str) -> Result<(), String> {
    let plugins = dir.join("plugins");
    let staged = plugins.join("test.wasm.new");
    std::fs::write(&staged, wasm).map_err(|e| e.to_string())?;
    let manifest = if manifest.lines().any(|l| l.starts_with("sha256")) {
        let out = Command::new("sha256sum")
            .arg(&staged)
            .output()
            .map_err(|e| format!("sha256sum: {e}"))?;
        let digest = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string();
        manifest
            .lines()
            .map(|l| {
                if l.starts_with("sha256") {
                    format!("sha256 = \"{digest}\"")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    } else {
        manifest.to_string()
    };
    std::fs::write(plugins.join("test.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::rename(&staged, plugins.join("test.wasm")).map_err(|e| e.to_string())
}

#[derive(Default)]
struct Figures {
    during: Vec<f64>,
    outside: Vec<f64>,
    reloads: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn summary(values: &mut [f64]) -> (usize, f64, f64, f64) {
    values.sort_by(|a, b| a.total_cmp(b));
    (
        values.len(),
        percentile(values, 0.5),
        percentile(values, 0.99),
        values.last().copied().unwrap_or(0.0),
    )
}

fn run_mode(
    daemon: &Daemon,
    dir: &Path,
    wasm: &[u8],
    manifest: &str,
    recompile: bool,
    n_reloads: u32,
    n_clients: usize,
) -> Result<Figures, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    // Every call as (start, end) since `epoch`, in seconds.
    let calls: Arc<Mutex<Vec<(f64, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..n_clients {
        let (stop, calls, failures, uri) = (
            Arc::clone(&stop),
            Arc::clone(&calls),
            Arc::clone(&failures),
            daemon.uri.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let conn = match Connect::open(&uri) {
                Ok(conn) => conn,
                Err(error) => {
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(error.to_string());
                    return;
                }
            };
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = epoch.elapsed().as_secs_f64();
                let result = conn
                    .domain_lookup_by_name("test")
                    .and_then(|domain| domain.info());
                let ended = epoch.elapsed().as_secs_f64();
                if let Err(error) = result {
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(error.to_string());
                }
                mine.push((started, ended));
            }
            calls.lock().unwrap_or_else(|p| p.into_inner()).extend(mine);
        }));
    }
    let admin = Connect::open(&daemon.uri).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_millis(500));
    let mut windows = Vec::new();
    let mut figures = Figures::default();
    for n in 0..n_reloads {
        if recompile {
            install(dir, &rebuilt(wasm, n), manifest)?;
        }
        let started = epoch.elapsed().as_secs_f64();
        admin
            .plugin_reload("test", 0)
            .map_err(|e| format!("reload {n}: {e}"))?;
        let ended = epoch.elapsed().as_secs_f64();
        windows.push((started, ended + SWAP_TAIL.as_secs_f64()));
        figures.reloads.push((ended - started) * 1000.0);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    let failures = failures.lock().unwrap_or_else(|p| p.into_inner());
    if !failures.is_empty() {
        return Err(format!(
            "{} calls failed, first: {}",
            failures.len(),
            failures[0]
        ));
    }
    for (started, ended) in calls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let latency_ms = (ended - started) * 1000.0;
        if windows
            .iter()
            .any(|(from, to)| started < to && ended > from)
        {
            figures.during.push(latency_ms);
        } else {
            figures.outside.push(latency_ms);
        }
    }
    Ok(figures)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n_reloads = option("--reloads", 20) as u32;
    let n_clients = option("--clients", 4);
    match run(n_reloads, n_clients) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hot_reload bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(n_reloads: u32, n_clients: usize) -> Result<(), String> {
    virt_rpc::register();
    let built = workspace_root().join("target/plugins");
    let wasm = std::fs::read(built.join("test.wasm"))
        .map_err(|e| format!("target/plugins/test.wasm ({e}): cargo xtask plugins"))?;
    let manifest = std::fs::read_to_string(built.join("test.toml")).map_err(|e| e.to_string())?;
    let dir = tempfile::Builder::new()
        .prefix("rvirt-reload-bench-")
        .tempdir_in("/tmp")
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.path().join("plugins")).map_err(|e| e.to_string())?;
    install(dir.path(), &wasm, &manifest)?;
    let daemon = start_daemon(dir.path())?;
    println!(
        "hot-upgrade pause: {n_clients} clients looping lookupByName+getInfo through rvirtd, {n_reloads} reloads per mode"
    );
    println!(
        "{:<12} {:>8} {:>9} {:>9} {:>9}   {:>8} {:>9} {:>9}   {:>10}",
        "mode", "n swap", "p50 ms", "p99 ms", "max ms", "n other", "p99 ms", "max ms", "reload ms"
    );
    let mut json = Vec::new();
    for (mode, recompile) in [("cached", false), ("recompiled", true)] {
        let mut figures = run_mode(
            &daemon,
            dir.path(),
            &wasm,
            &manifest,
            recompile,
            n_reloads,
            n_clients,
        )?;
        let (n_during, p50_during, p99_during, max_during) = summary(&mut figures.during);
        let (n_outside, _, p99_outside, max_outside) = summary(&mut figures.outside);
        let (_, reload_p50, _, _) = summary(&mut figures.reloads);
        println!(
            "{mode:<12} {n_during:>8} {p50_during:>9.2} {p99_during:>9.2} {max_during:>9.2}   {n_outside:>8} {p99_outside:>9.2} {max_outside:>9.2}   {reload_p50:>10.1}"
        );
        println!(
            "  pause (longest call during a swap) {max_during:.1} ms: target <= {TARGET_MS} ms {}",
            if max_during <= TARGET_MS {
                "met"
            } else {
                "MISSED"
            }
        );
        json.push(format!(
            "\"{mode}\":{{\"calls_during_swap\":{n_during},\"p50_ms\":{p50_during:.3},\"p99_ms\":{p99_during:.3},\"max_ms\":{max_during:.3},\"calls_outside\":{n_outside},\"p99_outside_ms\":{p99_outside:.3},\"max_outside_ms\":{max_outside:.3},\"reload_p50_ms\":{reload_p50:.2}}}"
        ));
    }
    println!("{{\"bench\":\"hot_reload\",{}}}", json.join(","));
    Ok(())
}
