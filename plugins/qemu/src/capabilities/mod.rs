//! What one QEMU binary can do, learned by asking it over QMP, cached by binary path + mtime.
//!
//! [`QemuCaps`] is the driver's view of a binary: version, target architecture, machine types
//! (with aliases and defaults), CPU models, the device and object types it implements, its QMP
//! commands, and whether KVM is there. [`probe`] fills it by starting the binary with
//! `-machine none` and a QMP socket; [`cache`] keeps the answer in memory (per instance) and in
//! the driver's cache directory, keyed by the binary's path and mtime, so a binary is probed
//! once until it changes. [`documents`] turns it into the capabilities and domain capabilities
//! XML documents.

pub mod cache;
pub mod documents;
pub mod probe;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// A machine type, as `query-machines` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineType {
    pub name: String,
    pub alias: Option<String>,
    pub is_default: bool,
    pub max_cpus: u32,
    pub hotpluggable_cpus: bool,
    /// QOM type of the default CPU, e.g. `qemu64-x86_64-cpu`.
    pub default_cpu_type: Option<String>,
    /// Id of the default RAM backend, e.g. `pc.ram`.
    pub default_ram_id: Option<String>,
    pub deprecated: bool,
    /// The machine still takes `-numa node,mem=` (machine types before QEMU 5.1).
    #[serde(default)]
    pub numa_mem_supported: bool,
}

/// A CPU model, as `query-cpu-definitions` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuModel {
    pub name: String,
    pub typename: Option<String>,
    /// Runnable under TCG as probed (no unavailable features).
    pub usable: bool,
    pub deprecated: bool,
}

/// Everything the driver knows about one QEMU binary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QemuCaps {
    pub binary: String,
    /// The binary's mtime when probed (ns since the epoch): the cache key with `binary`.
    pub binary_mtime_ns: u64,
    /// libvirt's number form, e.g. 7002022 for 7.2.22.
    pub version: u64,
    pub package: String,
    /// QEMU's target architecture, e.g. `x86_64`.
    pub arch: String,
    /// `/dev/kvm` is usable and QEMU has KVM support.
    pub kvm: bool,
    pub machines: Vec<MachineType>,
    pub cpu_models: Vec<CpuModel>,
    /// QOM types implementing `device`.
    pub devices: BTreeSet<String>,
    /// Other QOM types (memory backends, secrets, rng backends, ...).
    pub objects: BTreeSet<String>,
    pub commands: BTreeSet<String>,
}

impl QemuCaps {
    pub fn has_device(&self, name: &str) -> bool {
        self.devices.contains(name)
    }

    pub fn has_object(&self, name: &str) -> bool {
        self.objects.contains(name) || self.devices.contains(name)
    }

    pub fn has_command(&self, name: &str) -> bool {
        self.commands.contains(name)
    }

    /// The machine type `name` names, resolving aliases (`pc` → `pc-i440fx-7.2`).
    pub fn machine(&self, name: &str) -> Option<&MachineType> {
        self.machines
            .iter()
            .find(|machine| machine.name == name)
            .or_else(|| {
                self.machines
                    .iter()
                    .find(|machine| machine.alias.as_deref() == Some(name))
            })
    }

    /// The canonical name of a machine type, or the name itself when unknown.
    pub fn canonical_machine<'a>(&'a self, name: &'a str) -> &'a str {
        self.machines
            .iter()
            .find(|machine| machine.alias.as_deref() == Some(name))
            .map_or(name, |machine| machine.name.as_str())
    }

    /// The machine type QEMU picks when none is given.
    pub fn default_machine(&self) -> Option<&MachineType> {
        self.machines.iter().find(|machine| machine.is_default)
    }

    pub fn cpu_model(&self, name: &str) -> Option<&CpuModel> {
        self.cpu_models.iter().find(|model| model.name == name)
    }

    /// The emulator's target architecture in libvirt's spelling.
    pub fn libvirt_arch(&self) -> &str {
        match self.arch.as_str() {
            "i386" => "i686",
            other => other,
        }
    }

    /// Machine types in the order libvirt lists them: the default first, then by name.
    pub fn machines_for_listing(&self) -> Vec<&MachineType> {
        let mut machines: Vec<&MachineType> = self
            .machines
            .iter()
            .filter(|machine| machine.name != "none")
            .collect();
        machines.sort_by(|a, b| {
            b.is_default
                .cmp(&a.is_default)
                .then_with(|| a.name.cmp(&b.name))
        });
        machines
    }
}
