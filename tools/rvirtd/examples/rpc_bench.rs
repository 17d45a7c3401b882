//! rpc_bench — the twin of ../shared/bench/api_bench.py, driven through rvirt's own virt-rpc
//! client instead of python3-libvirt, so that the client's share of api_bench's numbers shows.
//! Same ops, same timing, same options, table and JSON line (plus `"client": "virt-rpc"`).
//!
//!   cargo run --release -p rvirtd --example rpc_bench -- URI [-n N] [--iters K]
//!       [--list-iters R] [--threads T] [--label L] [--json-out FILE]
//!
//! ops/s = count / sum of the timed calls (for g: total calls / wall time of the phase).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Barrier;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use serde::Serialize;
use virt_core::blocking::{Connect, Domain};
use virt_core::types::Uuid;

#[derive(Parser)]
#[command(about = "libvirt API benchmark (rvirt's virt-rpc client)")]
struct Args {
    uri: String,
    /// Domains to define.
    #[arg(short, default_value_t = 1000)]
    n: usize,
    /// Iterations for a/d/e and per thread for g.
    #[arg(long, default_value_t = 5000)]
    iters: usize,
    /// listAllDomains calls.
    #[arg(long, default_value_t = 50)]
    list_iters: usize,
    /// Threads (each with its own connection) for g.
    #[arg(long, default_value_t = 8)]
    threads: usize,
    /// Label stored in the JSON line.
    #[arg(long, default_value = "")]
    label: String,
    /// File the JSON line is appended to.
    #[arg(long)]
    json_out: Option<String>,
}

#[derive(Serialize)]
struct Stats {
    count: usize,
    ops_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    mean_us: f64,
    max_us: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    domains_listed: Option<usize>,
}

/// api_bench's JSON line, keys in its order; `client` stands where api_bench says `python`.
#[derive(Serialize)]
struct Output<'a> {
    bench: &'static str,
    uri: &'a str,
    label: &'a str,
    n: usize,
    iters: usize,
    threads: usize,
    driver_type: &'a str,
    lib_version: u64,
    client: &'static str,
    host_cpus: libc::c_long,
    time: String,
    results: &'a BTreeMap<String, Stats>,
}

/// Python's round(x, 1), which rounds half to even.
fn round1(x: f64) -> f64 {
    (x * 10.0).round_ties_even() / 10.0
}

/// api_bench.py's pct(), index formula and rounding included, so both report the same sample.
fn pct(sorted_ns: &[u64], p: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let len = sorted_ns.len();
    let k = ((p / 100.0 * len as f64 + 0.5).round_ties_even() as i64 - 1).clamp(0, len as i64 - 1);
    sorted_ns[k as usize] as f64
}

fn summarize(mut lat: Vec<u64>, wall_s: Option<f64>) -> Stats {
    lat.sort_unstable();
    let sum = lat.iter().sum::<u64>() as f64;
    let len = lat.len();
    let per_us = |ns: f64| if len == 0 { 0.0 } else { round1(ns / 1000.0) };
    let ops = if len == 0 {
        0.0
    } else {
        len as f64 / wall_s.unwrap_or(sum / 1e9)
    };
    Stats {
        count: len,
        ops_per_s: round1(ops),
        p50_us: round1(pct(&lat, 50.0) / 1000.0),
        p99_us: round1(pct(&lat, 99.0) / 1000.0),
        mean_us: per_us(sum / len.max(1) as f64),
        max_us: per_us(lat.last().copied().unwrap_or(0) as f64),
        domains_listed: None,
    }
}

/// Times each call of `f(i)` for i in 0..n, in nanoseconds.
fn timed(n: usize, mut f: impl FnMut(usize) -> Result<()>) -> Result<Vec<u64>> {
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        f(i)?;
        lat.push(t0.elapsed().as_nanos() as u64);
    }
    Ok(lat)
}

fn dom_xml(name: &str) -> String {
    format!(
        "<domain type='test'><name>{name}</name><uuid>{}</uuid>\
         <memory unit='KiB'>131072</memory><currentMemory unit='KiB'>131072</currentMemory>\
         <vcpu placement='static'>1</vcpu><os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>\
         <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
         <devices/></domain>",
        Uuid::new_v4()
    )
}

/// Phases c..g; b's domains are undefined by the caller whatever happens here.
fn measure(
    a: &Args,
    conn: &Connect,
    names: &[String],
    doms: &[Domain],
    res: &mut BTreeMap<String, Stats>,
) -> Result<()> {
    // c) listAllDomains with N defined
    let total = conn.list_all_domains(0)?.len();
    let mut list = summarize(
        timed(a.list_iters, |_| {
            conn.list_all_domains(0)?;
            Ok(())
        })?,
        None,
    );
    list.domains_listed = Some(total);
    res.insert("c_listAllDomains".into(), list);

    // d) lookupByName + XMLDesc
    let lat = timed(a.iters, |i| {
        conn.domain_lookup_by_name(&names[i % names.len()])?
            .xml_desc(0)?;
        Ok(())
    })?;
    res.insert("d_lookup_XMLDesc".into(), summarize(lat, None));

    // e) info()
    let d0 = doms.first().context("-n must be at least 1")?;
    let lat = timed(a.iters, |_| {
        d0.info()?;
        Ok(())
    })?;
    res.insert("e_info".into(), summarize(lat, None));

    // f) create + destroy, the pair timed
    let d1 = &doms[1 % doms.len()];
    let lat = timed((a.iters / 10).max(10), |_| {
        d1.create(0)?;
        d1.destroy(0)?;
        Ok(())
    })?;
    res.insert("f_create_destroy".into(), summarize(lat, None));

    // g) T threads, each on its own connection, released together; wall time from the release.
    let conns = (0..a.threads)
        .map(|_| Connect::open(&a.uri))
        .collect::<Result<Vec<_>, _>>()?;
    let barrier = Barrier::new(a.threads + 1);
    let (lats, wall) = std::thread::scope(|s| {
        let workers: Vec<_> = conns
            .iter()
            .map(|c| {
                let barrier = &barrier;
                s.spawn(move || -> Result<Vec<u64>> {
                    // Warm up; a failure must still reach the barrier, or main waits forever.
                    let warm = (0..20).try_for_each(|_| c.get_version().map(drop));
                    barrier.wait();
                    warm?;
                    timed(a.iters, |_| {
                        c.get_version()?;
                        Ok(())
                    })
                })
            })
            .collect();
        barrier.wait();
        let t0 = Instant::now();
        let lats: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().expect("bench thread panicked"))
            .collect();
        (lats, t0.elapsed().as_secs_f64())
    });
    let all = lats.into_iter().collect::<Result<Vec<_>>>()?.concat();
    res.insert(
        format!("g_getVersion_x{}", a.threads),
        summarize(all, Some(wall)),
    );
    for c in conns {
        c.close()?;
    }
    Ok(())
}

/// Local time as Python's time.strftime("%Y-%m-%dT%H:%M:%S%z").
fn local_time() -> String {
    let mut buf = [0u8; 64];
    // SAFETY: localtime_r fills `tm` from a valid time_t; strftime writes at most buf.len()
    // bytes into `buf` and returns how many, from a NUL-terminated format.
    let len = unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut tm);
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%Y-%m-%dT%H:%M:%S%z".as_ptr(),
            &tm,
        )
    };
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

fn main() -> Result<()> {
    let a = Args::parse();
    virt_rpc::register();
    let conn = Connect::open(&a.uri).with_context(|| format!("cannot open {}", a.uri))?;
    let tag = format!("ab{}", &Uuid::new_v4().simple().to_string()[..6]);
    let names: Vec<String> = (0..a.n).map(|i| format!("{tag}-{i}")).collect();
    let mut res = BTreeMap::new();

    // warm up
    for _ in 0..50 {
        conn.get_version()?;
    }

    // a) getVersion round trip
    let lat = timed(a.iters, |_| {
        conn.get_version()?;
        Ok(())
    })?;
    res.insert("a_getVersion".to_string(), summarize(lat, None));

    // b) defineXML of N domains (XML built outside the timed calls, as api_bench does)
    let xmls: Vec<String> = names.iter().map(|n| dom_xml(n)).collect();
    let mut doms = Vec::with_capacity(a.n);
    let defined = timed(a.n, |i| {
        doms.push(conn.domain_define_xml(&xmls[i], 0)?);
        Ok(())
    });
    let measured = defined.and_then(|lat| {
        res.insert("b_defineXML".into(), summarize(lat, None));
        measure(&a, &conn, &names, &doms, &mut res)
    });

    // z) cleanup: undefine all, errors ignored (it is cleanup), then report what failed above.
    // is_active() is virt-core's status(): five pipelined calls where python sends one, and
    // that is the client's share z shows.
    let lat = timed(doms.len(), |i| {
        let d = &doms[i];
        if d.is_active().unwrap_or(false) {
            let _ = d.destroy(0);
        }
        let _ = d.undefine(0);
        Ok(())
    })?;
    res.insert("z_undefine".into(), summarize(lat, None));
    measured?;

    let driver_type = conn.get_type()?;
    // os.cpu_count(), as api_bench reports it (all online CPUs, not this process's share).
    // SAFETY: sysconf only reads a system value.
    let host_cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let out = Output {
        bench: "api_bench",
        uri: &a.uri,
        label: &a.label,
        n: a.n,
        iters: a.iters,
        threads: a.threads,
        driver_type: &driver_type,
        lib_version: conn.get_lib_version()?,
        client: "virt-rpc",
        host_cpus,
        time: local_time(),
        results: &res,
    };
    conn.close()?;

    println!(
        "api_bench  uri={}  n={} iters={} threads={}  driver={}  client=virt-rpc",
        a.uri, a.n, a.iters, a.threads, driver_type
    );
    println!(
        "{:<22} {:>8} {:>12} {:>10} {:>10} {:>10}",
        "op", "count", "ops/s", "p50 us", "p99 us", "mean us"
    );
    for (k, v) in &res {
        println!(
            "{k:<22} {:>8} {:>12.1} {:>10.1} {:>10.1} {:>10.1}",
            v.count, v.ops_per_s, v.p50_us, v.p99_us, v.mean_us
        );
    }
    let line = serde_json::to_string(&out).context("cannot format the JSON line")?;
    println!("{line}");
    if let Some(path) = &a.json_out {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {path}"))?;
        writeln!(f, "{line}").with_context(|| format!("cannot write {path}"))?;
    }
    Ok(())
}
