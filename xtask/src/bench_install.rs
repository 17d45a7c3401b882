//! `cargo xtask bench-install [--runs N] [--plugin NAME]`: how long a released plugin takes
//! from its archive to its first answered call.
//!
//! The plugin (default `test`) is packaged once; then each run installs the archive into a
//! fresh plugin directory, builds a `virt_host::Host` on it, opens `NAME:///default` and
//! lists its domains. "cold" runs with an empty compiled-plugin cache (the host compiles the
//! component), "cached" runs again on the cache the cold run filled, as a daemon restart or
//! a reinstall of the same bytes does.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use virt_core::driver::Connection;
use virt_core::ConnectUri;
use virt_host::manifest::Grants;
use virt_host::{DirLayout, Host, HostConfig};

use crate::package::{self, Source};
use crate::plugins::workspace_root;

/// The phases of one install-to-first-call.
#[derive(Clone, Copy, Debug, Default)]
struct Phases {
    install: Duration,
    host_new: Duration,
    open: Duration,
    first_call: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.install + self.host_new + self.open + self.first_call
    }
}

fn config(plugin_dir: &Path, cache: &Path, state: &Path) -> Result<HostConfig, String> {
    let grants_path = workspace_root().join("etc/grants.toml");
    let grants_text = std::fs::read_to_string(&grants_path)
        .map_err(|e| format!("{}: {e}", grants_path.display()))?;
    Ok(HostConfig {
        plugin_path: vec![plugin_dir.to_path_buf()],
        compile_cache: Some(cache.to_path_buf()),
        grants: Grants::parse(&grants_text, &grants_path).map_err(|e| e.to_string())?,
        grants_source: Some(grants_path),
        dirs: DirLayout::Root(state.to_path_buf()),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    })
}

/// Installs `archive` into a fresh directory under `scratch` and makes the first call.
fn one_run(archive: &Path, scheme: &str, scratch: &Path, cache: &Path) -> Result<Phases, String> {
    let plugin_dir = scratch.join("plugins");
    let state = scratch.join("state");
    let started = Instant::now();
    package::install(archive, &plugin_dir)?;
    let installed = Instant::now();
    let host = Host::new(config(&plugin_dir, cache, &state)?);
    let built = Instant::now();
    let uri = ConnectUri::parse(&format!("{scheme}:///default")).map_err(|e| e.to_string())?;
    let connection = host
        .open(&uri, 0)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "no plugin serves {scheme}:// (problems: {:?})",
                host.problems
            )
        })?;
    let opened = Instant::now();
    let domains = connection.domain_list_all(0).map_err(|e| e.to_string())?;
    let called = Instant::now();
    std::hint::black_box(domains);
    Ok(Phases {
        install: installed - started,
        host_new: built - installed,
        open: opened - built,
        first_call: called - opened,
    })
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e3)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn bench(plugin: &str, runs: usize) -> Result<(), String> {
    let packaging = Instant::now();
    let built = package::build(&Source::Workspace(plugin.to_string()), None)?;
    let release = package::release(&built)?;
    let scheme = release
        .manifest
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| {
            t.get("uri-schemes")?
                .as_array()?
                .first()?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| plugin.to_string());
    let scratch = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let archive = package::write_archive(&release, scratch.path())?;
    println!(
        "{} ({} KiB component), packaged in {} ms (build included)",
        archive.display(),
        release.wasm.len() / 1024,
        ms(packaging.elapsed())
    );
    println!(
        "{:<8} {:>4} {:>10} {:>10} {:>10} {:>11} {:>10}",
        "cache", "run", "install", "Host::new", "open", "first call", "total ms"
    );
    let mut totals: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for run in 0..runs {
        let cache = scratch.path().join(format!("cache-{run}"));
        for (idx, label) in ["cold", "cached"].iter().enumerate() {
            let dir = scratch.path().join(format!("run-{run}-{label}"));
            let phases = one_run(&archive, &scheme, &dir, &cache)?;
            println!(
                "{label:<8} {run:>4} {:>10} {:>10} {:>10} {:>11} {:>10}",
                ms(phases.install),
                ms(phases.host_new),
                ms(phases.open),
                ms(phases.first_call),
                ms(phases.total())
            );
            totals[idx].push(phases.total());
        }
    }
    let [cold, cached] = totals;
    println!(
        "install-to-first-call ({plugin}, median of {runs}): cold {} ms, cached {} ms",
        ms(median(cold)),
        ms(median(cached))
    );
    Ok(())
}

pub fn run(args: &[String]) -> ExitCode {
    let mut runs = 3;
    let mut plugin = "test".to_string();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--runs", Some(n)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
                runs = n.parse().unwrap_or(runs)
            }
            ("--plugin", Some(name)) => plugin = name.clone(),
            _ => {
                eprintln!("usage: cargo xtask bench-install [--runs N] [--plugin NAME]");
                return ExitCode::from(2);
            }
        }
    }
    match bench(&plugin, runs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
