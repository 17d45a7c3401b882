//! The driver's memory: one record per network in the host's persistent space (JSON, so that
//! a newer plugin reads an older plugin's records), mirrored to libvirt-style files: the
//! persistent definition in `$config/NAME.xml`, the live one in `$run/NAME.xml` while the
//! network runs (the QEMU and LXC drivers read a network's bridge there), and the dnsmasq
//! files in `$state/dnsmasq/`.
//!
//! A record is the whole truth about a network: the plugin keeps nothing between calls.

use serde::{Deserialize, Serialize};
use virt_core::{Error, ErrorDomain, Uuid};
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{NetworkRef, Uuid as WitUuid};

use crate::error::from_host;

/// The networks, one record each under its UUID; a corrupt one is a network driver error.
const NETWORKS: Records = Records::new("network", ErrorDomain::NETWORK);

/// One network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition (inactive XML); `None` for a transient network.
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub autostart: bool,
    /// Set while the network runs.
    #[serde(default)]
    pub live: Option<Live>,
}

/// What a running network is made of, so that destroy (in this daemon or the next) undoes
/// exactly that.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// The definition it runs with.
    pub xml: String,
    /// The bridge the host made for it.
    #[serde(default)]
    pub bridge: Option<String>,
    /// The nft script that removes its firewall rules.
    #[serde(default)]
    pub firewall_removal: Option<String>,
    /// Its dnsmasq, if it has one.
    #[serde(default)]
    pub dnsmasq: Option<Process>,
}

/// A process the network owns, identified across daemon restarts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub start_time: u64,
    /// The host's handle (valid in this daemon process only; 0 after a restart until adopted).
    pub handle: u64,
}

impl NetworkRecord {
    pub fn is_active(&self) -> bool {
        self.live.is_some()
    }

    pub fn uuid(&self) -> Uuid {
        virt_core::parse_uuid(&self.uuid).unwrap_or_default()
    }

    pub fn reference(&self) -> NetworkRef {
        NetworkRef {
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
}

pub fn load(uuid: &str) -> Result<Option<NetworkRecord>, Error> {
    NETWORKS.load(uuid)
}

pub fn all() -> Result<Vec<NetworkRecord>, Error> {
    NETWORKS.all()
}

pub fn store(record: &NetworkRecord) {
    NETWORKS.store(&record.uuid, record);
}

pub fn delete(uuid: &str) {
    NETWORKS.delete(uuid);
}

pub fn find_by_name(name: &str) -> Result<Option<NetworkRecord>, Error> {
    Ok(all()?.into_iter().find(|record| record.name == name))
}

/// The driver's directories.
pub struct Dirs {
    pub config: String,
    pub state: String,
    pub run: String,
}

pub fn dirs() -> Dirs {
    let dirs = files::dirs();
    Dirs {
        config: dirs.config,
        state: dirs.state,
        run: dirs.run,
    }
}

impl Dirs {
    pub fn config_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.config)
    }

    pub fn autostart_file(&self, name: &str) -> String {
        format!("{}/autostart/{name}.xml", self.config)
    }

    pub fn status_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.run)
    }

    pub fn dnsmasq_dir(&self) -> String {
        format!("{}/dnsmasq", self.state)
    }

    pub fn create(&self) -> Result<(), Error> {
        for dir in [
            &self.config,
            &format!("{}/autostart", self.config),
            &self.run,
            &self.dnsmasq_dir(),
        ] {
            files::create_dir_all(dir).map_err(from_host)?;
        }
        Ok(())
    }
}

/// Writes (or removes, for a transient network) `$config/NAME.xml` and the autostart marker.
pub fn write_config_files(record: &NetworkRecord) -> Result<(), Error> {
    let dirs = dirs();
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
