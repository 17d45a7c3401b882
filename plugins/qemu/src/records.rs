//! What this driver keeps in the host's state store, and the helpers to read and write it.
//!
//! The plugin holds nothing between calls: every fact about a domain lives in a record (JSON,
//! keyed by the domain's UUID) in the space's persistent store, and is mirrored to libvirt's
//! files (config XML, status XML) so that both survive a daemon restart.
//!
//! - `domain/<uuid>`: [`DomainRecord`], the definition side (persistent XML, autostart, ...),
//!   written only under the domain's job.
//! - `live/<uuid>`: [`LiveRecord`], a running domain: its live XML, state, QEMU process and
//!   monitor. Written under the job, and by event handlers for state changes.
//! - `handle/process-<n>`, `handle/stream-<n>`: which domain a host handle belongs to, so a
//!   handler finds its domain without scanning.
//! - `snapshot/<uuid>/<name>`: snapshot metadata (see `crate::snapshots`).
//! - `meta/*`: the space's layout and its next domain id.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use virt_plugin_sdk::host::state;

pub const DOMAIN: &str = "domain";
pub const LIVE: &str = "live";
pub const HANDLE: &str = "handle";
pub const SNAPSHOT: &str = "snapshot";
pub const META: &str = "meta";
pub const META_LAYOUT: &str = "layout";
pub const META_NEXT_ID: &str = "next-id";

/// Reads a JSON record; a missing or unreadable record is `None`.
pub fn get_json<T: DeserializeOwned>(kind: &str, key: &str) -> Option<T> {
    let bytes = state::get(kind, key)?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes a JSON record (staged until the call returns).
pub fn put_json<T: Serialize>(kind: &str, key: &str, value: &T) {
    // Serializing plain structs of strings and numbers cannot fail.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    state::put(kind, key, &bytes);
}

/// Every record of a kind, decoded; undecodable ones are skipped.
pub fn list_json<T: DeserializeOwned>(kind: &str) -> Vec<(String, T)> {
    state::list(kind)
        .into_iter()
        .filter_map(|(key, bytes)| {
            serde_json::from_slice(&bytes)
                .ok()
                .map(|value| (key, value))
        })
        .collect()
}

/// The definition side of a domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition as libvirt formats it; `None` for a transient domain.
    pub config_xml: Option<String>,
    #[serde(default)]
    pub autostart: bool,
    /// A managed-save image exists (`crate::save`).
    #[serde(default)]
    pub has_managed_save: bool,
    /// The current snapshot's name.
    #[serde(default)]
    pub current_snapshot: Option<String>,
    /// Why the domain last stopped (`virDomainShutoffReason`), reported while it is off.
    #[serde(default)]
    pub shutoff_reason: i32,
}

impl DomainRecord {
    pub fn persistent(&self) -> bool {
        self.config_xml.is_some()
    }
}

/// Why a running domain will stop or just stopped, decided by whoever caused it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingStop {
    #[default]
    None,
    /// `destroy` is killing QEMU.
    Destroyed,
    /// The guest powered off (QMP SHUTDOWN) and QEMU is being told to exit.
    Shutdown,
    /// The guest crashed and `on_crash` says destroy.
    Crashed,
    /// Saved (save, managed save): QEMU exits after its state is written.
    Saved,
    /// A snapshot revert replaces this QEMU.
    FromSnapshot,
}

/// A running (or paused) domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveRecord {
    pub id: i32,
    /// The live definition: the config plus what starting it decided (aliases, PCI
    /// addresses, pty paths).
    pub xml: String,
    /// `virDomainState` and its reason.
    pub state: i32,
    pub reason: i32,
    pub pid: i32,
    /// The process's start time (clock ticks since boot), to re-adopt it after a restart.
    pub start_time: u64,
    /// Host handle of the QEMU process, valid in this daemon's lifetime.
    pub process: u64,
    /// Host handle of the QMP stream.
    pub monitor: Option<u64>,
    pub monitor_path: String,
    /// The per-run directory (socket, master key).
    pub run_dir: String,
    pub log_path: String,
    /// QEMU's version as its greeting reported it (libvirt's number form).
    pub qemu_version: u64,
    /// Tap devices created for the domain's interfaces, deleted when it stops.
    #[serde(default)]
    pub taps: Vec<String>,
    /// Set by the party that is stopping the domain, read when the process exits.
    #[serde(default)]
    pub pending_stop: PendingStop,
    /// The guest should be reset and resumed when it powers off (virDomainReboot in ACPI mode).
    #[serde(default)]
    pub fake_reboot: bool,
    /// The guest powered off on its way to a reset; the next STOP is part of it.
    #[serde(default)]
    pub paused_shutdown: bool,
    /// Aliases of devices whose unplug QEMU has not confirmed yet.
    #[serde(default)]
    pub pending_unplugs: Vec<String>,
    /// Wall-clock time the domain started, ns since the epoch.
    #[serde(default)]
    pub started_ns: u64,
    /// Counter for `-blockdev` node names (`libvirt-<n>-storage`), continued by hotplug.
    #[serde(default)]
    pub next_node_index: u32,
    /// Per disk alias, the node indexes of its image chain, top first.
    #[serde(default)]
    pub disk_nodes: Vec<(String, Vec<u32>)>,
}

impl LiveRecord {
    /// The node indexes of the disk with `alias`, top first (empty if unknown).
    pub fn nodes_of(&self, alias: &str) -> Vec<u32> {
        self.disk_nodes
            .iter()
            .find(|(name, _)| name == alias)
            .map(|(_, nodes)| nodes.clone())
            .unwrap_or_default()
    }
}

/// The domain a process or stream handle belongs to.
pub fn owner_of(handle_kind: &str, handle: u64) -> Option<String> {
    let bytes = state::get(HANDLE, &format!("{handle_kind}-{handle}"))?;
    String::from_utf8(bytes).ok()
}

pub fn set_owner(handle_kind: &str, handle: u64, uuid: &str) {
    state::put(HANDLE, &format!("{handle_kind}-{handle}"), uuid.as_bytes());
}

pub fn clear_owner(handle_kind: &str, handle: u64) {
    state::delete(HANDLE, &format!("{handle_kind}-{handle}"));
}

/// The next domain id of this space (ids start at 1 and are never reused while it lives).
pub fn allocate_domain_id() -> i32 {
    let next: i32 = get_json(META, META_NEXT_ID).unwrap_or(1);
    put_json(META, META_NEXT_ID, &(next + 1));
    next
}
