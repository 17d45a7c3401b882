//! rvirtd's configuration file (TOML), with libvirtd's setting names where one exists.
//!
//! ```toml
//! unix_sock_dir = "/run/rvirt"      # rvirt-sock and rvirt-sock-ro go here
//! unix_sock_rw_perms = "0700"       # the read-write socket: owner only
//! unix_sock_ro_perms = "0777"       # the read-only socket: everyone
//! max_clients = 5000
//! max_workers = 32                 # calls that may wait (domain jobs) in flight at once
//! prio_workers = 5                  # runtime threads; high-priority calls run on them
//! max_client_requests = 16
//! busy_poll_us = 50                 # after a reply, poll a quick client's socket this long
//!                                   # for its next call instead of sleeping (only while the
//!                                   # CPUs have time to spare); 0 disables
//! keepalive_interval = 5            # seconds; 0 disables server PINGs
//! keepalive_count = 5
//! listen_tls = false                # TCP with TLS (libvirt's x509 file layout)
//! listen_tcp = false                # plain TCP without authentication (libvirtd's
//!                                   # listen_tcp with auth_tcp = "none": trusted networks
//!                                   # only, e.g. a migration network)
//! listen_addr = "0.0.0.0"
//! tls_port = 16514
//! tcp_port = 16509
//! key_file = "/etc/pki/libvirt/private/serverkey.pem"
//! cert_file = "/etc/pki/libvirt/servercert.pem"
//! ca_file = "/etc/pki/CA/cacert.pem"
//! crl_file = "/etc/pki/CA/cacrl.pem"
//! tls_no_verify_certificate = false # true: accept clients without a certificate
//! default_uri = ["qemu:///system"]  # what CONNECT_OPEN with no URI opens
//! log_filter = "info"               # tracing filter; RUST_LOG overrides
//! access_drivers = ["rules"]        # per-API access control (libvirt's access_drivers);
//!                                   # absent: only the read-only/read-write split
//! access_rules_file = "/etc/rvirt/access.toml"   # see virt-access's rules format
//! access_audit_file = "/var/log/rvirt/access-audit.log"  # one line per denial
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::sync::Arc;

use anyhow::{bail, Context};
use serde::Deserialize;
use virt_access::AccessRules;
use virt_rpc::server::{AccessControl, ServerConfig};

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub unix_sock_dir: Option<PathBuf>,
    pub unix_sock_rw_perms: String,
    pub unix_sock_ro_perms: String,
    pub max_clients: usize,
    pub max_workers: usize,
    /// The runtime's worker threads. High-priority calls (lookups, getters, defines) run
    /// inline on them, so this many slow ones at once stall the daemon, as libvirtd's
    /// `prio_workers` pool does.
    pub prio_workers: usize,
    pub max_client_requests: usize,
    /// µs a Unix-socket client's reader polls for the next call after answering one
    /// (`ServerConfig::busy_poll`: only for clients that call again quickly, only while the
    /// CPUs have time to spare). It saves the wake-up of an idle CPU per call at up to this
    /// much CPU, spent only where a CPU would otherwise idle (the pressure gate), so it is on
    /// by default (50 µs); 0 turns it off, e.g. on a host whose spare CPU belongs to others.
    pub busy_poll_us: u64,
    pub keepalive_interval: u64,
    pub keepalive_count: u32,
    pub listen_tls: bool,
    pub listen_tcp: bool,
    pub listen_addr: String,
    pub tls_port: u16,
    pub tcp_port: u16,
    pub key_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub crl_file: Option<PathBuf>,
    pub tls_no_verify_certificate: bool,
    pub default_uri: Option<Vec<String>>,
    pub log_filter: String,
    /// libvirtd's `access_drivers`: `["rules"]` turns on per-API access control decided by
    /// `access_rules_file` (libvirtd's only other value, "polkit", is not offered).
    pub access_drivers: Vec<String>,
    pub access_rules_file: Option<PathBuf>,
    pub access_audit_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            unix_sock_dir: None,
            unix_sock_rw_perms: "0700".into(),
            unix_sock_ro_perms: "0777".into(),
            max_clients: 5000,
            max_workers: 32,
            prio_workers: 5,
            max_client_requests: 16,
            busy_poll_us: 50,
            keepalive_interval: 5,
            keepalive_count: 5,
            listen_tls: false,
            listen_tcp: false,
            listen_addr: "0.0.0.0".into(),
            tls_port: 16514,
            tcp_port: 16509,
            key_file: None,
            cert_file: None,
            ca_file: None,
            crl_file: None,
            tls_no_verify_certificate: false,
            default_uri: None,
            log_filter: "info".into(),
            access_drivers: Vec::new(),
            access_rules_file: None,
            access_audit_file: None,
        }
    }
}

impl Config {
    /// The default file: `/etc/rvirt/rvirtd.conf` for root, else
    /// `$XDG_CONFIG_HOME/rvirt/rvirtd.conf`.
    pub fn default_path() -> PathBuf {
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/etc/rvirt/rvirtd.conf");
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        config_home.join("rvirt/rvirtd.conf")
    }

    /// Reads `path`; a missing default file means the defaults, a missing explicit one is an
    /// error.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if !explicit && error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default())
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read configuration file {}", path.display()))
            }
        };
        let config: Config = toml::from_str(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
        config
            .check()
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        parse_mode(&self.unix_sock_rw_perms).context("unix_sock_rw_perms")?;
        parse_mode(&self.unix_sock_ro_perms).context("unix_sock_ro_perms")?;
        if self.max_clients == 0 {
            bail!("max_clients must be at least 1");
        }
        if self.max_workers == 0 || self.prio_workers == 0 || self.max_client_requests == 0 {
            bail!("max_workers, prio_workers and max_client_requests must be at least 1");
        }
        for driver in &self.access_drivers {
            if driver != "rules" {
                bail!("access_drivers: '{driver}' is not an access driver rvirtd has (it has \"rules\")");
            }
        }
        Ok(())
    }

    /// The rules file access control reads.
    pub fn access_rules_path(&self) -> PathBuf {
        self.access_rules_file.clone().unwrap_or_else(|| {
            Config::default_path()
                .parent()
                .unwrap_or(Path::new("/etc/rvirt"))
                .join("access.toml")
        })
    }

    /// The access control `access_drivers` asks for, with its rules file read now.
    fn access_control(&self) -> anyhow::Result<Option<Arc<AccessControl>>> {
        if self.access_drivers.is_empty() {
            return Ok(None);
        }
        let rules = AccessRules::load(&self.access_rules_path())?;
        let audit = self.access_audit_file.as_deref();
        let access = AccessControl::new(rules, audit).with_context(|| {
            format!(
                "cannot open access audit file {}",
                audit
                    .map(Path::display)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            )
        })?;
        tracing::info!(rules = %self.access_rules_path().display(), count = access.rules().len(), "access control on");
        Ok(Some(Arc::new(access)))
    }

    /// The protocol layer's share of the settings (reads the access rules file).
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let mut server = ServerConfig {
            max_client_requests: self.max_client_requests,
            max_workers: self.max_workers,
            keepalive_interval: Duration::from_secs(self.keepalive_interval),
            keepalive_count: self.keepalive_count,
            busy_poll: Duration::from_micros(self.busy_poll_us),
            ..ServerConfig::default()
        };
        if let Some(uris) = &self.default_uri {
            server.default_uris = uris.clone();
        }
        server.access = self.access_control()?;
        Ok(server)
    }
}

/// An octal permission string such as "0700".
pub fn parse_mode(text: &str) -> anyhow::Result<u32> {
    let mode = u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .with_context(|| format!("'{text}' is not an octal permission mode"))?;
    if mode > 0o7777 {
        bail!("'{text}' is not a permission mode");
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libvirt_style_settings() {
        let config: Config = toml::from_str(
            "max_clients = 10\nunix_sock_ro_perms = \"0666\"\nkeepalive_interval = 0\n",
        )
        .expect("parses");
        assert_eq!(config.max_clients, 10);
        assert_eq!(parse_mode(&config.unix_sock_ro_perms).expect("mode"), 0o666);
        assert!(config
            .server_config()
            .expect("no access rules to read")
            .keepalive_interval
            .is_zero());
        assert_eq!(config.max_workers, 32, "unset settings keep their defaults");
    }

    #[test]
    fn unknown_settings_are_refused() {
        assert!(toml::from_str::<Config>("max_cleints = 10\n").is_err());
        assert!(parse_mode("0999").is_err());
    }
}
