//! The driver's memory: one record per domain in the host's persistent space (JSON, so that a
//! newer plugin reads an older plugin's records), mirrored to libvirt-style files: the
//! persistent definition in `$config/NAME.xml`, the live one in `$run/NAME.xml` while the
//! container runs, and an autostart marker in `$config/autostart/NAME`.
//!
//! A record is the whole truth about a domain: the plugin keeps nothing between calls.

use serde::{Deserialize, Serialize};
use virt_core::consts::domain_state;
use virt_core::{Error, ErrorDomain, Uuid};
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{DomainRef, Uuid as WitUuid};

/// The domains, one record each under its UUID; a corrupt one is an LXC driver error.
const DOMAINS: Records = Records::new("domain", ErrorDomain::LXC);

/// One domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition; `None` for a transient domain.
    #[serde(default)]
    pub config: Option<String>,
    #[serde(default)]
    pub autostart: bool,
    /// `virDomainState` and its reason.
    pub state: i32,
    pub reason: i32,
    /// Set while a controller runs the container.
    #[serde(default)]
    pub live: Option<Live>,
}

/// A running container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// The definition the container runs with (live XML, with its id).
    pub xml: String,
    /// The host's handle on the controller process (valid in this daemon process only).
    pub controller: u64,
    /// The controller's pid: the domain id, as in libvirt's LXC driver.
    pub controller_pid: i32,
    /// With the pid, identifies the controller across a daemon restart.
    pub controller_start_time: u64,
    /// The host's handle on the monitor connection.
    #[serde(default)]
    pub monitor: Option<u64>,
    /// The container's init, as the host sees it.
    #[serde(default)]
    pub init_pid: Option<u64>,
    /// The EXIT reason the controller reported (wire value), once it did.
    #[serde(default)]
    pub exit: Option<i32>,
    /// The controller's last ERROR event: error number and message.
    #[serde(default)]
    pub error: Option<(i32, String)>,
}

impl DomainRecord {
    pub fn is_active(&self) -> bool {
        self.live.is_some()
    }

    pub fn id(&self) -> i32 {
        self.live.as_ref().map_or(-1, |live| live.controller_pid)
    }

    pub fn uuid(&self) -> Uuid {
        virt_core::parse_uuid(&self.uuid).unwrap_or_default()
    }

    pub fn reference(&self) -> DomainRef {
        DomainRef {
            name: self.name.clone(),
            uuid: WitUuid::from(self.uuid()),
            id: self.id(),
        }
    }

    pub fn core_reference(&self) -> virt_core::DomainRef {
        virt_core::DomainRef {
            name: self.name.clone(),
            uuid: self.uuid(),
            id: self.id(),
        }
    }

    /// The definition a caller sees: live while running, else the persistent one.
    pub fn current_xml(&self) -> Option<&str> {
        self.live
            .as_ref()
            .map(|live| live.xml.as_str())
            .or(self.config.as_deref())
    }

    pub fn is_paused(&self) -> bool {
        self.live.is_some() && self.state == domain_state::PAUSED
    }
}

pub fn load(uuid: &str) -> Result<Option<DomainRecord>, Error> {
    DOMAINS.load(uuid)
}

pub fn all() -> Result<Vec<DomainRecord>, Error> {
    DOMAINS.all()
}

pub fn store(record: &DomainRecord) {
    DOMAINS.store(&record.uuid, record);
}

pub fn delete(uuid: &str) {
    DOMAINS.delete(uuid);
}

pub fn find_by_name(name: &str) -> Result<Option<DomainRecord>, Error> {
    Ok(all()?.into_iter().find(|record| record.name == name))
}

/// The domain whose controller or monitor connection is `handle`.
pub fn find_by_handle(handle: u64) -> Result<Option<DomainRecord>, Error> {
    Ok(all()?.into_iter().find(|record| {
        record
            .live
            .as_ref()
            .is_some_and(|live| live.controller == handle || live.monitor == Some(handle))
    }))
}

/// The driver's directories.
pub struct Dirs {
    pub config: String,
    pub run: String,
    pub log: String,
}

pub fn dirs() -> Dirs {
    let dirs = files::dirs();
    Dirs {
        config: dirs.config,
        run: dirs.run,
        log: dirs.log,
    }
}

impl Dirs {
    pub fn config_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.config)
    }
    pub fn autostart_file(&self, name: &str) -> String {
        format!("{}/autostart/{name}", self.config)
    }
    pub fn status_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.run)
    }
    pub fn log_file(&self, name: &str) -> String {
        format!("{}/{name}.log", self.log)
    }

    pub fn create(&self) -> Result<(), Error> {
        for dir in [
            &self.config,
            &format!("{}/autostart", self.config),
            &self.run,
            &self.log,
        ] {
            files::create_dir_all(dir).map_err(crate::error::from_host)?;
        }
        Ok(())
    }
}

/// Mirrors the persistent definition (or its absence) to `$config/NAME.xml`.
pub fn write_config_file(record: &DomainRecord) -> Result<(), Error> {
    let dirs = dirs();
    match &record.config {
        Some(xml) => files::write(&dirs.config_file(&record.name), xml.as_bytes())
            .map_err(crate::error::from_host),
        None => files::remove(&dirs.config_file(&record.name)).map_err(crate::error::from_host),
    }
}
