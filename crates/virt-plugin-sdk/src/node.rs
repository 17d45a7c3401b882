//! What a driver reports about the machine it runs on, read through the host's `files`:
//! `virNodeGetInfo`'s figures (CPUs and memory from /proc) and the host UUID libvirt puts in
//! its capabilities (SMBIOS, else the machine ID). Every hypervisor driver answers these the
//! same way; the plugin needs `files-read` on `/proc/cpuinfo`, `/proc/meminfo`,
//! `/sys/class/dmi/id/product_uuid` and `/etc/machine-id` (a missing one reads as empty).

use crate::host::files;
use crate::types::NodeInfo;

/// Host facts from /proc.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub arch: String,
    pub model: String,
    pub mhz: u32,
    pub cpus: u32,
    pub memory_kib: u64,
    pub free_kib: u64,
}

fn read_text(path: &str) -> String {
    files::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

pub fn host_facts() -> HostFacts {
    let cpuinfo = read_text("/proc/cpuinfo");
    let meminfo = read_text("/proc/meminfo");
    let field = |text: &str, name: &str| -> Option<String> {
        text.lines()
            .find(|line| line.split(':').next().map(str::trim) == Some(name))
            .and_then(|line| line.split_once(':'))
            .map(|(_, value)| value.trim().to_string())
    };
    let kib = |name: &str| {
        field(&meminfo, name)
            .and_then(|value| value.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let cpus = cpuinfo
        .lines()
        .filter(|line| line.starts_with("processor"))
        .count()
        .max(1) as u32;
    HostFacts {
        arch: "x86_64".into(),
        model: "x86_64".into(),
        mhz: field(&cpuinfo, "cpu MHz")
            .and_then(|mhz| mhz.parse::<f64>().ok())
            .map_or(0, |mhz| mhz as u32),
        cpus,
        memory_kib: kib("MemTotal"),
        free_kib: kib("MemFree") + kib("Buffers") + kib("Cached"),
    }
}

/// `virNodeGetInfo`.
pub fn node_info() -> NodeInfo {
    let facts = host_facts();
    NodeInfo {
        model: facts.model,
        memory_kib: facts.memory_kib,
        cpus: facts.cpus,
        mhz: facts.mhz,
        nodes: 1,
        sockets: 1,
        cores: facts.cpus,
        threads: 1,
    }
}

/// The host's UUID as libvirt reports it (SMBIOS, else machine-id).
pub fn host_uuid() -> Option<String> {
    let smbios = read_text("/sys/class/dmi/id/product_uuid")
        .trim()
        .to_lowercase();
    if virt_core::parse_uuid(&smbios).is_some() {
        return Some(smbios);
    }
    let machine_id = read_text("/etc/machine-id");
    virt_core::parse_uuid(machine_id.trim()).map(|uuid| uuid.hyphenated().to_string())
}
