//! `cargo xtask xml-bench DIR [SECONDS]`: parse+format throughput of virt-xml on one core.
//!
//! Loads every domain `.xml` of DIR (libvirt's `qemuxml2xmloutdata` is the reference load),
//! then parses and formats the whole set repeatedly on the current thread for SECONDS
//! (default 5) and prints documents/s and MB/s. Run it on a release build:
//! `cargo xtask xml-bench` goes through the `xtask` alias, which builds in dev mode, so use
//! `cargo run --release -p xtask -- xml-bench DIR`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use virt_xml::domain::Domain;

pub fn run(args: &[String]) -> ExitCode {
    let Some(dir) = args.first() else {
        eprintln!("usage: cargo run --release -p xtask -- xml-bench DIR [SECONDS]");
        return ExitCode::from(2);
    };
    let seconds: f64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
            .collect(),
        Err(error) => {
            eprintln!("cannot read {dir}: {error}");
            return ExitCode::FAILURE;
        }
    };
    paths.sort();
    let mut documents = Vec::new();
    let mut skipped = 0;
    for path in &paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            skipped += 1;
            continue;
        };
        if Domain::parse(&text).is_ok() {
            documents.push(text);
        } else {
            skipped += 1;
        }
    }
    if documents.is_empty() {
        eprintln!("no domain documents in {dir}");
        return ExitCode::FAILURE;
    }
    let total_bytes: usize = documents.iter().map(String::len).sum();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; figures are not representative (use --release)");
    }

    // Warm up once, then measure whole passes until the time is up.
    let mut sink = 0usize;
    for text in &documents {
        if let Ok(domain) = Domain::parse(text) {
            sink += domain.to_xml().len();
        }
    }
    let budget = Duration::from_secs_f64(seconds);
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let mut n_docs = 0usize;
    let mut n_bytes = 0usize;
    while start.elapsed() < budget {
        for text in &documents {
            if let Ok(domain) = Domain::parse(text) {
                sink += domain.to_xml().len();
            }
            n_docs += 1;
            n_bytes += text.len();
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_time()) {
        (Some(begin), Some(end)) if end > begin => Some((end - begin).as_secs_f64()),
        _ => None,
    };
    println!(
        "corpus: {} documents, {:.2} MB ({} skipped as unparsable)",
        documents.len(),
        total_bytes as f64 / 1e6,
        skipped
    );
    println!(
        "parse+format, one core: {:.0} documents/s, {:.1} MB/s ({} documents in {:.2} s)",
        n_docs as f64 / elapsed,
        n_bytes as f64 / 1e6 / elapsed,
        n_docs,
        elapsed
    );
    if let Some(cpu) = cpu {
        // Other processes share the machine: the rate per CPU-second of this thread is what
        // one dedicated core achieves.
        println!(
            "per CPU-second of this thread: {:.0} documents/s, {:.1} MB/s ({:.2} s on CPU, {:.0}% of wall time)",
            n_docs as f64 / cpu,
            n_bytes as f64 / 1e6 / cpu,
            cpu,
            100.0 * cpu / elapsed
        );
    }
    std::hint::black_box(sink);
    ExitCode::SUCCESS
}

/// CPU time this thread has run, from Linux's `/proc/thread-self/schedstat` (first field,
/// nanoseconds); `None` elsewhere.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
