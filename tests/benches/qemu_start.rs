//! `cargo bench -p rvirt-tests --bench qemu_start -- [--runs N] [--warmup N]` (or
//! `cargo xtask qemu-bench`): VM start latency, from the start call to the guest's first
//! serial output (`HELLO-FROM-GUEST`), for
//! - plain `qemu-system-x86_64` with the very command line the plugin runs (minus the QMP
//!   monitor and the master key, as `start_latency.py --kind plain-qemu` does),
//! - the `qemu` plugin through the plugin host in this process (`define`, then `create`),
//!
//! next to libvirt's own QEMU driver as `../shared/bench/RESULTS.md` recorded it on this
//! machine type. The guest is `start_latency.py`'s: TCG, 256 MiB, direct kernel boot of the
//! test guest (`tests/guest`), serial console to a file, powering off right after the marker.
//! Prints a table and a JSON line.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvirt_tests::workspace_root;
use virt_core::blocking::Connect;
use virt_core::ConnectUri;
use virt_host::{DirLayout, Host, HostConfig};

const QEMU: &str = "/usr/bin/qemu-system-x86_64";
const MARKER: &str = "HELLO-FROM-GUEST";
const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy)]
struct Sample {
    create_s: f64,
    marker_s: f64,
    exit_s: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// The test guest (kernel, initramfs), built by `tests/guest/build.sh` when missing.
fn guest() -> Result<(PathBuf, PathBuf), String> {
    let output = Command::new(workspace_root().join("tests/guest/build.sh"))
        .output()
        .map_err(|e| format!("tests/guest/build.sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "tests/guest/build.sh: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let dir = PathBuf::from(
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .lines()
            .last()
            .unwrap_or(""),
    );
    Ok((dir.join("vmlinuz"), dir.join("initrd.img")))
}

/// `start_latency.py`'s domain, with the test guest told to power off after the marker.
fn domain_xml(name: &str, kernel: &Path, initrd: &Path, serial: &Path) -> String {
    format!(
        r#"<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{}</kernel>
    <initrd>{}</initrd>
    <cmdline>console=ttyS0 panic=-1 rvirt.poweroff</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{QEMU}</emulator>
    <controller type='usb' model='none'/>
    <serial type='file'><source path='{}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"#,
        kernel.display(),
        initrd.display(),
        serial.display()
    )
}

/// Polls a file every 2 ms until it contains `marker` (as `start_latency.py` does).
fn wait_file(path: &Path, marker: &str, deadline: Instant) -> Option<Instant> {
    while Instant::now() < deadline {
        if std::fs::read(path).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(marker)) {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn host(root: &Path) -> Result<Host, String> {
    let grants = rvirt_tests::checkout_grants();
    Ok(Host::new(HostConfig {
        plugin_path: vec![workspace_root().join("target/plugins")],
        compile_cache: Some(root.join("compiled")),
        grants,
        grants_source: None,
        dirs: DirLayout::Root(root.join("state")),
        helper_dirs: virt_host::config::default_helper_dirs(),
        auth_file: None,
        call_cpu_budget: Duration::from_secs(10),
        memory_limit_mib: 256,
        max_idle_instances: 4,
    }))
}

fn open(host: &Host) -> Result<Connect, String> {
    let uri = ConnectUri::parse("qemu:///session").map_err(|e| e.to_string())?;
    let connection = host
        .open(&uri, 0)
        .map_err(|e| e.to_string())?
        .ok_or("no qemu plugin in target/plugins")?;
    Ok(Connect::from_connection(Arc::new(connection), uri, false))
}

/// One start through the plugin.
fn run_rvirt(
    conn: &Connect,
    dir: &Path,
    run: usize,
    kernel: &Path,
    initrd: &Path,
) -> Result<Sample, String> {
    let serial = dir.join(format!("rvirt-{run}.serial"));
    let domain = conn
        .domain_define_xml(
            &domain_xml(&format!("bench-{run}"), kernel, initrd, &serial),
            0,
        )
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + TIMEOUT;
    let t0 = Instant::now();
    domain.create(0).map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    let marker = wait_file(&serial, MARKER, deadline).ok_or("no marker")?;
    let mut exited = None;
    while Instant::now() < deadline {
        if !domain.is_active().map_err(|e| e.to_string())? {
            exited = Some(Instant::now());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if domain.is_active().unwrap_or(false) {
        let _ = domain.destroy(0);
    }
    let _ = domain.undefine(0);
    let exited = exited.ok_or("the guest did not power off")?;
    Ok(Sample {
        create_s: (t1 - t0).as_secs_f64(),
        marker_s: (marker - t0).as_secs_f64(),
        exit_s: (exited - t0).as_secs_f64(),
    })
}

/// A command line: its environment assignments and its words.
type CommandLine = (Vec<(String, String)>, Vec<String>);

/// The plugin's command line for the same domain, without what only a managed QEMU needs.
fn plain_argv(
    conn: &Connect,
    dir: &Path,
    kernel: &Path,
    initrd: &Path,
) -> Result<CommandLine, String> {
    let serial = dir.join("plain.serial");
    let line = conn
        .domain_xml_to_native(
            "qemu-argv",
            &domain_xml("bench-plain", kernel, initrd, &serial),
            0,
        )
        .map_err(|e| e.to_string())?;
    let words = rvirt_driver_qemu::argv::command::shell_split(&line);
    let program = words
        .iter()
        .position(|word| word.starts_with('/'))
        .ok_or("no program")?;
    let env = words[..program]
        .iter()
        .filter_map(|word| {
            word.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let mut argv = vec![words[program].clone()];
    let mut rest = words[program + 1..].iter().peekable();
    while let Some(word) = rest.next() {
        let value = rest.peek().map(|value| value.as_str()).unwrap_or("");
        let drop_pair = (word == "-object" && value.contains("masterKey0"))
            || (word == "-chardev" && value.contains("id=charmonitor"))
            || word == "-mon";
        if drop_pair {
            rest.next();
            continue;
        }
        if word == "-S" {
            continue;
        }
        argv.push(word.clone());
    }
    Ok((env, argv))
}

fn run_plain(
    env: &[(String, String)],
    argv: &[String],
    dir: &Path,
    run: usize,
) -> Result<Sample, String> {
    let serial = dir.join(format!("plain-{run}.serial"));
    let plain_serial = dir.join("plain.serial");
    let argv: Vec<String> = argv
        .iter()
        .map(|arg| {
            arg.replace(
                plain_serial.to_str().unwrap_or(""),
                serial.to_str().unwrap_or(""),
            )
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    let t0 = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t1 = Instant::now();
    let marker = wait_file(&serial, MARKER, deadline);
    // The plain run has no driver to stop QEMU after the guest powers off (-no-shutdown):
    // its exit time is when the guest is off, which is what the marker run measures anyway.
    let exited = loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break Some(Instant::now());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    Ok(Sample {
        create_s: (t1 - t0).as_secs_f64(),
        marker_s: (marker.ok_or("no marker")? - t0).as_secs_f64(),
        exit_s: exited.map_or(f64::NAN, |exited| (exited - t0).as_secs_f64()),
    })
}

/// libvirt's figures from `../shared/bench/RESULTS.md`: (kind, create, marker, exit).
fn libvirt_figures() -> Vec<(String, f64, f64, f64)> {
    let path = workspace_root().join("../shared/bench/RESULTS.md");
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter(|line| {
            line.starts_with("| qemu via libvirtd") || line.starts_with("| plain `qemu-system")
        })
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .split('|')
                .map(str::trim)
                .filter(|cell| !cell.is_empty())
                .collect();
            let number = |index: usize| cells.get(index).and_then(|cell| cell.parse::<f64>().ok());
            Some((
                format!("{} ({})", cells.first()?, cells.get(1)?),
                number(2)?,
                number(3)?,
                number(4)?,
            ))
        })
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option = |name: &str, default: usize| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|index| args.get(index + 1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (runs, warmup) = (option("--runs", 5), option("--warmup", 1));
    match bench(runs, warmup) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("qemu_start: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bench(runs: usize, warmup: usize) -> Result<(), String> {
    let (kernel, initrd) = guest()?;
    let dir = std::env::temp_dir().join(format!("rvirt-qemu-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let host = host(&dir)?;
    let conn = open(&host)?;
    let (env, argv) = plain_argv(&conn, &dir, &kernel, &initrd)?;

    let mut plain = Vec::new();
    let mut rvirt = Vec::new();
    println!("qemu start latency: {runs} runs after {warmup} warm-up, medians in seconds");
    println!(
        "{:<8} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "run", "plain_mk", "rvirt_cr", "rvirt_mk", "rvirt_ex", "mk_delta"
    );
    for run in 0..warmup + runs {
        let p = run_plain(&env, &argv, &dir, run)?;
        let r = run_rvirt(&conn, &dir, run, &kernel, &initrd)?;
        let tag = if run < warmup {
            format!("warmup{run}")
        } else {
            format!("run{}", run - warmup + 1)
        };
        println!(
            "{tag:<8} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            p.marker_s,
            r.create_s,
            r.marker_s,
            r.exit_s,
            r.marker_s - p.marker_s
        );
        if run >= warmup {
            plain.push(p);
            rvirt.push(r);
        }
    }
    drop(conn);
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);

    let med = |samples: &[Sample], pick: fn(&Sample) -> f64| {
        median(&mut samples.iter().map(pick).collect::<Vec<_>>())
    };
    let plain_marker = med(&plain, |s| s.marker_s);
    let rvirt_create = med(&rvirt, |s| s.create_s);
    let rvirt_marker = med(&rvirt, |s| s.marker_s);
    let rvirt_exit = med(&rvirt, |s| s.exit_s);
    let deltas: Vec<f64> = rvirt
        .iter()
        .zip(&plain)
        .map(|(r, p)| r.marker_s - p.marker_s)
        .collect();
    let delta = median(&mut deltas.clone());
    println!();
    println!("| kind | create | marker | exit | marker over plain |");
    println!("|---|---|---|---|---|");
    println!(
        "| plain qemu-system-x86_64, same argv | {:.3} | {plain_marker:.3} | – | – |",
        med(&plain, |s| s.create_s)
    );
    println!("| rvirt qemu plugin, in-process (qemu:///session) | {rvirt_create:.3} | {rvirt_marker:.3} | {rvirt_exit:.3} | {delta:+.3} |");
    let figures = libvirt_figures();
    let libvirt_plain = figures
        .iter()
        .find(|(kind, ..)| kind.starts_with("plain"))
        .map(|(_, _, marker, _)| *marker);
    for (kind, create, marker, exit) in &figures {
        let over = libvirt_plain
            .filter(|_| kind.starts_with("qemu via"))
            .map_or("–".to_string(), |plain| format!("{:+.3}", marker - plain));
        println!(
            "| libvirt 9.0 (RESULTS.md): {kind} | {create:.3} | {marker:.3} | {exit:.3} | {over} |"
        );
    }
    println!();
    println!(
        "targets: create <= 0.100 s ({}), marker over plain <= 0.050 s ({})",
        if rvirt_create <= 0.1 { "met" } else { "missed" },
        if delta <= 0.05 { "met" } else { "missed" }
    );
    println!(
        "{{\"bench\": \"qemu_start\", \"runs\": {runs}, \"plain_marker_s\": {plain_marker:.4}, \"rvirt_create_s\": {rvirt_create:.4}, \"rvirt_marker_s\": {rvirt_marker:.4}, \"rvirt_exit_s\": {rvirt_exit:.4}, \"marker_over_plain_s\": {delta:.4}}}"
    );
    Ok(())
}
