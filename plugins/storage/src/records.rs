//! The driver's memory: one record per pool in the host's persistent space (JSON, so that a
//! newer plugin reads an older plugin's records), mirrored to libvirt-style files: the
//! persistent definition in `$config/NAME.xml` and the autostart marker in
//! `$config/autostart/NAME.xml`.
//!
//! A running pool's record holds what its last refresh found (figures and volumes), as
//! libvirt keeps them in memory between refreshes; the plugin keeps nothing between calls.

use serde::{Deserialize, Serialize};
use virt_core::{Error, ErrorDomain, Uuid};
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{PoolRef, Uuid as WitUuid, VolumeRef};

use crate::definition::{Ownership, PoolFigures, VolumeFormat};
use crate::error::from_host;

const POOL: &str = "pool";

/// One pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition (inactive XML); `None` for a transient pool.
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub autostart: bool,
    /// The figures of the last refresh (kept after a destroy, as libvirt does).
    #[serde(default)]
    pub figures: PoolFigures,
    /// Set while the pool runs.
    #[serde(default)]
    pub live: Option<Live>,
}

/// A running pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// The definition it runs with (a define while it runs changes `config` only).
    pub xml: String,
    /// The target directory's mode and owner.
    #[serde(default)]
    pub directory: Option<Ownership>,
    #[serde(default)]
    pub volumes: Vec<VolumeRecord>,
}

/// One volume of a running pool: a regular file in its directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    /// Also the volume's key, as libvirt's for file volumes.
    pub path: String,
    pub format: VolumeFormat,
    pub capacity: u64,
    pub allocation: u64,
    /// The file's size.
    pub physical: u64,
    #[serde(default)]
    pub ownership: Option<Ownership>,
    /// qcow2's compatibility level.
    #[serde(default)]
    pub compat: Option<String>,
    /// A block device (a logical volume), not a file.
    #[serde(default)]
    pub block: bool,
}

impl VolumeRecord {
    pub fn reference(&self, pool: &str) -> VolumeRef {
        VolumeRef {
            pool: pool.to_string(),
            name: self.name.clone(),
            key: self.path.clone(),
        }
    }
}

impl PoolRecord {
    pub fn is_active(&self) -> bool {
        self.live.is_some()
    }

    pub fn uuid(&self) -> Uuid {
        virt_core::parse_uuid(&self.uuid).unwrap_or_default()
    }

    pub fn reference(&self) -> PoolRef {
        PoolRef {
            name: self.name.clone(),
            uuid: WitUuid::from(self.uuid()),
        }
    }

    /// The definition a caller sees: live while running, else the persistent one.
    pub fn current_xml(&self) -> Option<&str> {
        self.live
            .as_ref()
            .map(|live| live.xml.as_str())
            .or(self.config.as_deref())
    }

    pub fn volumes(&self) -> &[VolumeRecord] {
        self.live
            .as_ref()
            .map_or(&[], |live| live.volumes.as_slice())
    }
}

/// Pools, keyed by UUID.
const POOLS: Records = Records::new(POOL, ErrorDomain::STORAGE);

pub fn load(uuid: &str) -> Result<Option<PoolRecord>, Error> {
    POOLS.load(uuid)
}

/// Every pool, by name.
pub fn all() -> Result<Vec<PoolRecord>, Error> {
    let mut records: Vec<PoolRecord> = POOLS.all()?;
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// Keeps `record`, or forgets it when it is a transient pool that stopped (such a pool no
/// longer exists), and mirrors its state to `$run/NAME.xml`: the XML it runs with while it
/// runs, as libvirt's storage driver keeps its state files, which is where a hypervisor
/// driver resolving a `<disk type='volume'>` finds the pool.
pub fn store(record: &PoolRecord) {
    let status_file = dirs().status_file(&record.name);
    match &record.live {
        Some(live) => {
            let written = files::create_dir_all(&dirs().run)
                .and_then(|()| files::write(&status_file, live.xml.as_bytes()));
            if let Err(error) = written {
                virt_plugin_sdk::warn!("cannot write {status_file}: {}", error.message);
            }
        }
        None => {
            let _ = files::remove(&status_file);
        }
    }
    if record.config.is_none() && record.live.is_none() {
        POOLS.delete(&record.uuid);
    } else {
        POOLS.store(&record.uuid, record);
    }
}

pub fn delete(uuid: &str) {
    POOLS.delete(uuid);
}

pub fn find_by_name(name: &str) -> Result<Option<PoolRecord>, Error> {
    Ok(all()?.into_iter().find(|record| record.name == name))
}

/// The driver's configuration and run directories.
pub struct Dirs {
    pub config: String,
    pub run: String,
}

pub fn dirs() -> Dirs {
    let host = files::dirs();
    Dirs {
        config: host.config,
        run: host.run,
    }
}

impl Dirs {
    pub fn status_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.run)
    }

    pub fn config_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.config)
    }

    pub fn autostart_file(&self, name: &str) -> String {
        format!("{}/autostart/{name}.xml", self.config)
    }

    pub fn create(&self) -> Result<(), Error> {
        files::create_dir_all(&format!("{}/autostart", self.config)).map_err(from_host)
    }
}

/// Writes (or removes, for a transient pool) `$config/NAME.xml` and the autostart marker.
pub fn write_config_files(record: &PoolRecord) -> Result<(), Error> {
    let dirs = dirs();
    dirs.create()?;
    match &record.config {
        Some(xml) => files::write(&dirs.config_file(&record.name), xml.as_bytes()),
        None => files::remove(&dirs.config_file(&record.name)),
    }
    .map_err(from_host)?;
    if record.autostart && record.config.is_some() {
        files::write(&dirs.autostart_file(&record.name), b"").map_err(from_host)
    } else {
        files::remove(&dirs.autostart_file(&record.name)).map_err(from_host)
    }
}

/// Removes both files of a pool.
pub fn remove_config_files(name: &str) -> Result<(), Error> {
    let dirs = dirs();
    files::remove(&dirs.config_file(name)).map_err(from_host)?;
    files::remove(&dirs.autostart_file(name)).map_err(from_host)
}
