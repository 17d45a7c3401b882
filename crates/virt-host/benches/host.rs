//! `cargo bench -p virt-host --bench host`: what the plugin host costs.
//!
//! Prints: a host→plugin→host call (an export that makes one host call), plugin load time
//! from the compiled cache and without it, and `rvirsh -c test:///default list --all` wall
//! time (when a release rvirsh is built). Run `cargo xtask plugins` first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::ConnectUri;
use virt_host::manifest::Grants;
use virt_host::{DirLayout, Host, HostConfig};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(state: &Path, cache: Option<PathBuf>) -> HostConfig {
    let grants_path = workspace().join("etc/grants.toml");
    let grants = std::fs::read_to_string(&grants_path)
        .ok()
        .and_then(|text| Grants::parse(&text, &grants_path).ok())
        .unwrap_or_default();
    HostConfig {
        plugin_path: vec![
            workspace().join("target/test-plugins"),
            workspace().join("target/plugins"),
        ],
        compile_cache: cache,
        grants,
        grants_source: None,
        dirs: DirLayout::Root(state.to_path_buf()),
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 64,
        max_idle_instances: 4,
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let state = tempfile::tempdir().expect("tempdir");
    let cache = state.path().join("compiled");

    // Load without a cache: compile every time.
    let uncached: Vec<Duration> = (0..3)
        .map(|_| {
            let host = Host::new(config(state.path(), None));
            let started = Instant::now();
            host.plugin("test")
                .expect("load the test plugin (run `cargo xtask plugins`)");
            started.elapsed()
        })
        .collect();
    // Load from the compiled cache (the first load fills it).
    Host::new(config(state.path(), Some(cache.clone())))
        .plugin("test")
        .expect("fill cache");
    let cached: Vec<Duration> = (0..20)
        .map(|_| {
            let host = Host::new(config(state.path(), Some(cache.clone())));
            let started = Instant::now();
            host.plugin("test").expect("load from cache");
            started.elapsed()
        })
        .collect();

    // host -> plugin -> host: `lookup-by-name` reads one record through `state.get`.
    let host = Host::new(config(state.path(), Some(cache)));
    let uri = ConnectUri::parse("misbehave:///bench").expect("uri");
    let connection = host
        .open(&uri, 0)
        .expect("open")
        .expect("misbehave plugin installed");
    let conn = Connect::from_connection(Arc::new(connection), uri, false);
    conn.domain_define_xml("kept", 0).expect("define");
    for _ in 0..1_000 {
        conn.domain_lookup_by_name("kept").expect("warm up");
    }
    let n_calls = 200_000;
    let started = Instant::now();
    for _ in 0..n_calls {
        conn.domain_lookup_by_name("kept").expect("call");
    }
    let per_call = started.elapsed() / n_calls;

    println!("rvirt plugin host benchmark");
    println!("  host->plugin->host call (lookup-by-name, one state.get): {:.2} µs/call ({n_calls} calls)", per_call.as_secs_f64() * 1e6);
    println!(
        "  plugin load, compiled cache:  median {} (min {})",
        ms(median(cached.clone())),
        ms(*cached.iter().min().expect("samples"))
    );
    println!(
        "  plugin load, no cache:        median {} (min {})",
        ms(median(uncached.clone())),
        ms(*uncached.iter().min().expect("samples"))
    );

    let rvirsh = workspace().join("target/release/rvirsh");
    if rvirsh.exists() {
        let run = || {
            let started = Instant::now();
            let output = std::process::Command::new(&rvirsh)
                .args(["-c", "test:///default", "list", "--all"])
                .output()
                .expect("run rvirsh");
            assert!(
                output.status.success(),
                "rvirsh failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            started.elapsed()
        };
        run();
        let samples: Vec<Duration> = (0..20).map(|_| run()).collect();
        println!(
            "  rvirsh -c test:///default list --all: median {} (min {})",
            ms(median(samples.clone())),
            ms(*samples.iter().min().expect("samples"))
        );
    } else {
        println!(
            "  rvirsh -c test:///default list --all: skipped (build target/release/rvirsh first)"
        );
    }
}
