//! Probing a QEMU binary: start it with `-machine none` and a QMP socket, ask, quit.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::{files, process};
use virt_plugin_sdk::types::Error;

use super::{CpuModel, MachineType, QemuCaps};
use crate::error::qemu_error;
use crate::qmp::{Monitor, QmpError};
use crate::util::unique_suffix;

/// How long a probe may take before it is abandoned. A 2-core host running several TCG
/// guests took more than 20 s to bring a probe QEMU up (a clean-clone CI run), and a failed
/// probe fails every define.
const PROBE_TIMEOUT_MS: u32 = 60_000;

/// Probes `binary` (whose mtime is `mtime_ns`), using a socket in `run_dir`.
pub fn probe(binary: &str, mtime_ns: u64, run_dir: &str) -> Result<QemuCaps, Error> {
    files::create_dir_all(run_dir)?;
    let socket = format!("{run_dir}/probe-{}.sock", unique_suffix());
    let request = process::SpawnRequest {
        program: binary.to_string(),
        args: [
            "-S",
            "-no-user-config",
            "-nodefaults",
            "-nographic",
            "-machine",
            "none,accel=tcg",
            "-qmp",
            &format!("unix:{socket},server=on,wait=off"),
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect(),
        env: vec![("LC_ALL".into(), "C".into())],
        cwd: None,
        stdout: process::Output::Discard,
        stderr: process::Output::Discard,
        pass_fds: Vec::new(),
    };
    let handle = process::spawn(&request)?;
    let result = query_binary(binary, mtime_ns, &socket, handle);
    // Whatever happened, the probe process must not outlive the call.
    if process::status(handle)
        .map(|status| status.running)
        .unwrap_or(false)
    {
        let _ = process::kill(handle, libc_signal::SIGKILL);
        let _ = process::wait(handle, 2_000);
    }
    process::release(handle);
    let _ = files::remove(&socket);
    result
}

mod libc_signal {
    pub const SIGKILL: i32 = 9;
}

fn query_binary(
    binary: &str,
    mtime_ns: u64,
    socket: &str,
    handle: process::ProcessHandle,
) -> Result<QemuCaps, Error> {
    let failed = |why: String| {
        qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("Failed to probe capabilities for {binary}: {why}"),
        )
    };
    let (mut monitor, version) =
        connect_while_alive(socket, handle).map_err(|error| failed(describe(&error)))?;
    let mut ask = |command: &str, arguments: Option<Value>| {
        monitor
            .execute(command, arguments)
            .map_err(|error| failed(format!("{command}: {}", describe(&error))))
    };
    let package = String::new();
    let target = ask("query-target", None)?;
    let machines = ask("query-machines", None)?;
    let cpus = ask("query-cpu-definitions", None).unwrap_or(Value::Array(Vec::new()));
    let devices = ask(
        "qom-list-types",
        Some(json!({"implements": "device", "abstract": false})),
    )?;
    let all_types = ask("qom-list-types", Some(json!({"abstract": false})))?;
    let commands = ask("query-commands", None)?;
    let kvm = ask("query-kvm", None)?;
    let _ = ask("quit", None);

    let names = |value: &Value| -> BTreeSet<String> {
        value
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|entry| entry.get("name")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let devices = names(&devices);
    let objects = names(&all_types).difference(&devices).cloned().collect();
    let kvm_present = kvm.get("present").and_then(Value::as_bool).unwrap_or(false);
    let dev_kvm = files::stat("/dev/kvm").ok().flatten().is_some();
    Ok(QemuCaps {
        binary: binary.to_string(),
        binary_mtime_ns: mtime_ns,
        version: version.as_number(),
        package,
        arch: target
            .get("arch")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        kvm: kvm_present && dev_kvm,
        machines: parse_machines(&machines),
        cpu_models: parse_cpu_models(&cpus),
        devices,
        objects,
        commands: names(&commands),
    })
}

/// Connects to the probe's socket, giving up as soon as the process is gone.
fn connect_while_alive(
    socket: &str,
    handle: process::ProcessHandle,
) -> Result<(Monitor, crate::qmp::QemuVersion), QmpError> {
    let deadline = crate::util::now_ms() + u64::from(PROBE_TIMEOUT_MS);
    loop {
        match Monitor::connect(socket, 100, PROBE_TIMEOUT_MS) {
            Ok(connected) => return Ok(connected),
            Err(error) => {
                let alive = process::status(handle)
                    .map(|status| status.running)
                    .unwrap_or(false);
                if !alive || crate::util::now_ms() > deadline {
                    return Err(if alive {
                        QmpError::Timeout
                    } else {
                        QmpError::Closed
                    });
                }
                if !matches!(error, QmpError::Host(_)) {
                    return Err(error);
                }
            }
        }
    }
}

fn describe(error: &QmpError) -> String {
    match error {
        QmpError::Command { desc, .. } => desc.clone(),
        QmpError::Closed => "QEMU exited while being probed".into(),
        QmpError::Timeout => "QEMU did not answer in time".into(),
        QmpError::Protocol(line) => format!("unexpected reply '{line}'"),
        QmpError::Host(error) => error.0.message.clone(),
    }
}

pub fn parse_machines(reply: &Value) -> Vec<MachineType> {
    let Some(entries) = reply.as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
            let flag = |key: &str| entry.get(key).and_then(Value::as_bool).unwrap_or(false);
            Some(MachineType {
                name: text("name")?,
                alias: text("alias"),
                is_default: flag("is-default"),
                max_cpus: entry.get("cpu-max").and_then(Value::as_u64).unwrap_or(1) as u32,
                hotpluggable_cpus: flag("hotpluggable-cpus"),
                default_cpu_type: text("default-cpu-type"),
                default_ram_id: text("default-ram-id"),
                deprecated: flag("deprecated"),
                numa_mem_supported: flag("numa-mem-supported"),
            })
        })
        .collect()
}

pub fn parse_cpu_models(reply: &Value) -> Vec<CpuModel> {
    let Some(entries) = reply.as_array() else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let unavailable = entry
                .get("unavailable-features")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            Some(CpuModel {
                name: entry.get("name")?.as_str()?.to_string(),
                typename: entry
                    .get("typename")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                usable: unavailable == 0,
                deprecated: entry
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_and_cpus_from_qmp_replies() {
        let machines = json!([
            {"hotpluggable-cpus": true, "name": "pc-i440fx-7.2", "numa-mem-supported": false,
             "default-cpu-type": "qemu64-x86_64-cpu", "is-default": true, "cpu-max": 255,
             "deprecated": false, "default-ram-id": "pc.ram", "alias": "pc"},
            {"name": "none", "cpu-max": 1}
        ]);
        let parsed = parse_machines(&machines);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].alias.as_deref(), Some("pc"));
        assert!(parsed[0].is_default && parsed[0].hotpluggable_cpus);
        assert_eq!(parsed[0].max_cpus, 255);
        let caps = QemuCaps {
            machines: parsed,
            ..QemuCaps::default()
        };
        assert_eq!(caps.canonical_machine("pc"), "pc-i440fx-7.2");
        assert_eq!(
            caps.machine("pc").map(|m| m.name.as_str()),
            Some("pc-i440fx-7.2")
        );
        assert!(caps.machine("nope").is_none());

        let cpus = json!([{"name": "host", "typename": "host-x86_64-cpu", "unavailable-features": ["kvm"]},
                          {"name": "qemu64", "unavailable-features": []}]);
        let parsed = parse_cpu_models(&cpus);
        assert!(!parsed[0].usable && parsed[1].usable);
    }
}
