//! Which QEMU driver instance a connection talks to, and where that instance keeps its files.
//!
//! `qemu:///system` and `qemu:///session` are the two shared spaces libvirt has (one per
//! daemon there, one per space here); `qemu:///embed?root=DIR` is an application's private
//! driver whose every file lives under DIR, as libvirt's embedded mode. The space's layout is
//! written into its state when the space is created, so event handlers (which run without a
//! connection) find the same directories as API calls.

use serde::{Deserialize, Serialize};
use virt_core::{ConnectUri, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{files, state};
use virt_plugin_sdk::types::Error;

use crate::argv::DriverConfig;
use crate::records;

/// The kind of QEMU driver instance a URI names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpaceKind {
    System,
    Session,
    Embed { root: String },
}

/// Where a space keeps its files (libvirt's cfg->configDir, libDir, stateDir, logDir, cacheDir).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceLayout {
    pub kind: SpaceKind,
    /// Persistent domain XML (`<name>.xml`) and `autostart/`.
    pub config_dir: String,
    /// Persistent driver state: snapshots, managed-save images.
    pub lib_dir: String,
    /// Runtime state: status XML (`<name>.xml`) and per-domain dirs with the QMP socket.
    pub run_dir: String,
    /// Per-domain QEMU logs (`<name>.log`).
    pub log_dir: String,
    /// The capabilities cache.
    pub cache_dir: String,
}

impl SpaceKind {
    /// Parses a `qemu:` URI; `None` when the path is not one the QEMU driver serves.
    pub fn from_uri(uri: &str) -> Result<SpaceKind, Error> {
        let parsed = ConnectUri::parse(uri).map_err(Error::from)?;
        let no_connect = |detail: String| {
            virt_plugin_sdk::error(ErrorNumber::NO_CONNECT, ErrorDomain::QEMU, detail)
        };
        if parsed.driver != "qemu" {
            return Err(no_connect(format!("URI '{uri}' is not a qemu URI")));
        }
        match parsed.path.as_str() {
            "/system" => Ok(SpaceKind::System),
            "/session" => Ok(SpaceKind::Session),
            "/embed" => {
                let root = parsed
                    .param("root")
                    .filter(|root| !root.is_empty())
                    .ok_or_else(|| {
                        virt_plugin_sdk::error(
                            ErrorNumber::INVALID_ARG,
                            ErrorDomain::QEMU,
                            "root parameter is required for embedded driver",
                        )
                    })?;
                if !root.starts_with('/') {
                    return Err(virt_plugin_sdk::error(
                        ErrorNumber::INVALID_ARG,
                        ErrorDomain::QEMU,
                        format!("root path must be absolute, got '{root}'"),
                    ));
                }
                Ok(SpaceKind::Embed {
                    root: root.trim_end_matches('/').to_string(),
                })
            }
            other => Err(virt_plugin_sdk::error(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::QEMU,
                format!(
                    "unexpected QEMU URI path '{other}', try qemu:///system or qemu:///session"
                ),
            )),
        }
    }

    /// The name of the host space holding this instance's records.
    pub fn space_name(&self) -> String {
        match self {
            SpaceKind::System => "qemu-system".into(),
            SpaceKind::Session => "qemu-session".into(),
            SpaceKind::Embed { root } => format!("qemu-embed:{root}"),
        }
    }

    /// The canonical URI of this instance.
    pub fn uri(&self) -> String {
        match self {
            SpaceKind::System => "qemu:///system".into(),
            SpaceKind::Session => "qemu:///session".into(),
            SpaceKind::Embed { root } => format!("qemu:///embed?root={root}"),
        }
    }

    /// The directories of this instance, given the host's directories for the call's space
    /// (for an embedded space the host already answers those under its root).
    pub fn layout(&self, host_dirs: &files::DriverDirs) -> SpaceLayout {
        match self {
            SpaceKind::System | SpaceKind::Embed { .. } => SpaceLayout {
                kind: self.clone(),
                config_dir: host_dirs.config.clone(),
                lib_dir: host_dirs.state.clone(),
                run_dir: host_dirs.run.clone(),
                log_dir: host_dirs.log.clone(),
                cache_dir: host_dirs.cache.clone(),
            },
            // One process may serve both shared spaces; the session instance keeps its files
            // in a subdirectory of each so the two never see each other's domains.
            SpaceKind::Session => SpaceLayout {
                kind: self.clone(),
                config_dir: format!("{}/session", host_dirs.config),
                lib_dir: format!("{}/session", host_dirs.state),
                run_dir: format!("{}/session", host_dirs.run),
                log_dir: format!("{}/session", host_dirs.log),
                cache_dir: host_dirs.cache.clone(),
            },
        }
    }
}

impl SpaceLayout {
    /// The layout of the space the current call runs in.
    pub fn current() -> Result<SpaceLayout, Error> {
        if let Some(layout) = records::get_json::<SpaceLayout>(records::META, records::META_LAYOUT)
        {
            return Ok(layout);
        }
        // A space bound before the layout record existed: derive it from the URI again.
        let kind = SpaceKind::from_uri(&state::connection_uri())?;
        Ok(kind.layout(&files::dirs()))
    }

    /// Creates the directories the driver writes to.
    pub fn create_dirs(&self) -> Result<(), Error> {
        for dir in [
            &self.config_dir,
            &self.autostart_dir(),
            &self.lib_dir,
            &format!("{}/save", self.lib_dir),
            &self.nvram_dir(),
            &self.memory_backing_dir(),
            &self.run_dir,
            &self.log_dir,
            &self.cache_dir,
        ] {
            files::create_dir_all(dir)?;
        }
        Ok(())
    }

    /// Firmware variable stores the driver creates (libvirt's `nvram_dir`).
    pub fn nvram_dir(&self) -> String {
        format!("{}/nvram", self.lib_dir)
    }

    /// File-backed guest RAM (libvirt's `memory_backing_dir`).
    pub fn memory_backing_dir(&self) -> String {
        format!("{}/ram", self.lib_dir)
    }

    /// The settings libvirt reads from `qemu.conf`, as this space has them: its own
    /// directories, the host's hugetlbfs mounts, libvirt's defaults for the rest.
    /// Where `qemu.conf` is: beside the driver's own configuration directory, as libvirt's
    /// `/etc/libvirt/qemu.conf` beside `/etc/libvirt/qemu/` (`/etc/rvirt/qemu.conf`,
    /// `~/.config/rvirt/qemu.conf`, `ROOT/etc/qemu.conf` for an embedded driver).
    pub fn qemu_conf_path(&self) -> String {
        let driver_config = match self.kind {
            SpaceKind::Session => self.config_dir.trim_end_matches("/session"),
            _ => self.config_dir.as_str(),
        };
        let parent = driver_config
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent);
        format!("{parent}/qemu.conf")
    }

    /// The driver's settings: libvirt's defaults for this space, what `qemu.conf` says over
    /// them, and the host's hugetlbfs mounts.
    pub fn driver_config(&self) -> Result<DriverConfig, Error> {
        let default_page_kib = files::read("/proc/meminfo")
            .ok()
            .and_then(|meminfo| {
                String::from_utf8_lossy(&meminfo)
                    .lines()
                    .find_map(|line| line.strip_prefix("Hugepagesize:"))
                    .and_then(|size| size.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(2048);
        let hugetlbfs = files::read("/proc/mounts")
            .map(|mounts| {
                DriverConfig::hugetlbfs_from_mounts(
                    &String::from_utf8_lossy(&mounts),
                    default_page_kib,
                )
            })
            .unwrap_or_default();
        let mut config = DriverConfig {
            hugetlbfs,
            memory_backing_dir: self.memory_backing_dir(),
            nvram_dir: self.nvram_dir(),
            ..DriverConfig::default()
        };
        let path = self.qemu_conf_path();
        if files::stat(&path)?.is_some() {
            let text = files::read(&path)?;
            let settings = crate::qemu_conf::parse(&String::from_utf8_lossy(&text), &path)?;
            let dir_exists = |dir: &str| files::stat(dir).ok().flatten().is_some_and(|s| s.is_dir);
            crate::qemu_conf::apply(&settings, &path, &mut config, &dir_exists)?;
        }
        Ok(config)
    }

    pub fn autostart_dir(&self) -> String {
        format!("{}/autostart", self.config_dir)
    }

    /// The persistent config file of a domain.
    pub fn config_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.config_dir)
    }

    /// The autostart marker of a domain (libvirt uses a symlink to the config file).
    pub fn autostart_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.autostart_dir())
    }

    /// The live status file of a running domain.
    pub fn status_file(&self, name: &str) -> String {
        format!("{}/{name}.xml", self.run_dir)
    }

    /// The QEMU log of a domain.
    pub fn log_file(&self, name: &str) -> String {
        format!("{}/{name}.log", self.log_dir)
    }

    /// The managed-save image of a domain.
    pub fn managed_save_file(&self, name: &str) -> String {
        format!("{}/save/{name}.save", self.lib_dir)
    }

    /// The directory holding a domain's snapshot metadata.
    pub fn snapshot_dir(&self, name: &str) -> String {
        format!("{}/snapshot/{name}", self.lib_dir)
    }

    /// The per-run directory of a domain (QMP socket, master key), named as libvirt names it.
    pub fn domain_run_dir(&self, id: i32, name: &str) -> String {
        format!("{}/domain-{}", self.run_dir, short_name(id, name))
    }
}

/// libvirt's short domain name for paths: `<id>-<first 20 characters of the name>`, which
/// keeps unix socket paths under the 108-byte limit.
pub fn short_name(id: i32, name: &str) -> String {
    let truncated: String = name.chars().take(20).collect();
    format!("{id}-{truncated}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            SpaceKind::from_uri("qemu:///system").ok(),
            Some(SpaceKind::System)
        );
        assert_eq!(
            SpaceKind::from_uri("qemu:///session").ok(),
            Some(SpaceKind::Session)
        );
        assert_eq!(
            SpaceKind::from_uri("qemu:///embed?root=/tmp/app/").ok(),
            Some(SpaceKind::Embed {
                root: "/tmp/app".into()
            })
        );
        assert!(SpaceKind::from_uri("qemu:///embed").is_err());
        assert!(SpaceKind::from_uri("qemu:///embed?root=rel").is_err());
        assert!(SpaceKind::from_uri("qemu:///nope").is_err());
    }

    #[test]
    fn short_names_fit_socket_paths() {
        assert_eq!(
            short_name(3, "a-very-long-domain-name-indeed"),
            "3-a-very-long-domain-n"
        );
        assert_eq!(short_name(-1, "QEMUGuest1"), "-1-QEMUGuest1");
    }
}
