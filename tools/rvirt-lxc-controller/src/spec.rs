//! What a controller is told to build: the container spec.
//!
//! The LXC driver plugin turns a domain XML into a [`ContainerSpec`] (all libvirt semantics,
//! defaults and validation of the XML happen there) and writes it as JSON next to the
//! controller's sockets; the controller only executes it. The spec knows nothing about XML,
//! and the controller never parses XML: the privileged side reads one small, flat document.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Everything the controller needs to start one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The domain name: used for the hostname, cgroup and log lines.
    pub name: String,
    /// The domain UUID (canonical text form).
    pub uuid: String,
    /// Where the controller serves the monitor protocol.
    pub monitor_socket: PathBuf,
    /// Where the controller serves the console.
    pub console_socket: PathBuf,
    /// Where the controller records what it created, for `cleanup` after it died.
    pub state_file: PathBuf,
    /// The hostname set in the container's UTS namespace.
    pub hostname: String,
    /// The container's filesystems, in mount order. The one whose target is `/` (if any) is
    /// the root; without one the container sees the host's root (with its own /dev, /proc,
    /// /sys), as libvirt does.
    #[serde(default)]
    pub filesystems: Vec<Filesystem>,
    /// What runs as the container's pid 1.
    pub init: Init,
    /// User namespace id maps (`<idmap>`); none means no user namespace.
    #[serde(default)]
    pub idmap: Option<IdMap>,
    /// cgroup placement and limits.
    #[serde(default)]
    pub resources: Resources,
    /// Networking: `None` shares the host's network namespace (libvirt's behaviour for a
    /// container without interfaces); `Some` gives the container its own, with these veths.
    #[serde(default)]
    pub network: Option<Network>,
    /// Capabilities removed from every set (libvirt's defaults plus `<features><capabilities>`),
    /// as Linux capability numbers.
    #[serde(default)]
    pub drop_capabilities: Vec<u32>,
}

/// One `<filesystem>` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    pub source: FilesystemSource,
    /// Absolute path inside the container.
    pub target: PathBuf,
    #[serde(default)]
    pub readonly: bool,
}

/// Where a filesystem's contents come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilesystemSource {
    /// `type='mount'`: a host directory, bind-mounted (recursively).
    Bind { dir: PathBuf },
    /// `type='ram'`: a fresh tmpfs of at most `size_kib` (0: the kernel's default).
    Ram { size_kib: u64 },
}

/// `<os><init>`, `<initarg>`, `<initenv>`, `<initdir>`, `<inituser>`, `<initgroup>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Init {
    /// Absolute path inside the container.
    pub path: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    /// The complete environment of init (the plugin adds libvirt's standard variables).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    #[serde(default)]
    pub workdir: Option<PathBuf>,
    /// A user name (looked up in the container's /etc/passwd) or a numeric uid.
    #[serde(default)]
    pub user: Option<String>,
    /// A group name (looked up in the container's /etc/group) or a numeric gid.
    #[serde(default)]
    pub group: Option<String>,
}

/// `<idmap>`: the container's uid and gid ranges and where they land on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub uid: Vec<IdRange>,
    pub gid: Vec<IdRange>,
}

/// One `<uid start= target= count=>` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    /// First id inside the container.
    pub start: u32,
    /// First id on the host.
    pub target: u32,
    pub count: u32,
}

impl IdMap {
    /// The host uid the container's root maps to, if root is mapped.
    pub fn host_root_uid(&self) -> Option<u32> {
        Self::host_id(&self.uid, 0)
    }

    /// The host gid the container's root group maps to, if mapped.
    pub fn host_root_gid(&self) -> Option<u32> {
        Self::host_id(&self.gid, 0)
    }

    fn host_id(ranges: &[IdRange], id: u32) -> Option<u32> {
        ranges
            .iter()
            .find(|range| id >= range.start && id - range.start < range.count)
            .map(|range| range.target + (id - range.start))
    }
}

/// cgroup placement and limits. Every limit is optional; `None` leaves the kernel default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// `<memory>`/`<memtune><hard_limit>` in KiB.
    #[serde(default)]
    pub memory_hard_limit_kib: Option<u64>,
    /// `<memtune><soft_limit>` in KiB.
    #[serde(default)]
    pub memory_soft_limit_kib: Option<u64>,
    /// `<memtune><swap_hard_limit>` in KiB (memory + swap, as libvirt defines it).
    #[serde(default)]
    pub swap_hard_limit_kib: Option<u64>,
    /// `<cputune><shares>` (cgroup v1 scale, 2..262144; converted to a v2 weight there).
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// `<cputune><period>` in µs.
    #[serde(default)]
    pub cpu_period_us: Option<u64>,
    /// `<cputune><quota>` in µs; negative means unlimited.
    #[serde(default)]
    pub cpu_quota_us: Option<i64>,
    /// `<blkiotune><weight>` (10..1000 on v1; scaled to 1..10000 on v2).
    #[serde(default)]
    pub blkio_weight: Option<u32>,
    /// Largest number of tasks (the `pids` controller).
    #[serde(default)]
    pub pids_max: Option<u64>,
    /// Host CPUs the container may run on (`<vcpu cpuset=>`), in cpuset list syntax.
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
}

/// The container's own network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    #[serde(default)]
    pub interfaces: Vec<Veth>,
}

/// One veth pair: the host end goes onto a bridge, the other end into the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    /// The host end's name (at most 15 bytes).
    pub host_name: String,
    /// The container end's name inside the container (`<guest dev=>`, default eth0, eth1...).
    pub guest_name: String,
    /// The bridge the host end joins; `None` leaves it unattached (`type='ethernet'`).
    #[serde(default)]
    pub bridge: Option<String>,
    /// The container end's MAC address, `aa:bb:cc:dd:ee:ff`.
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Addresses configured inside, as `address/prefix`.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Routes configured inside.
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// A route inside the container: `destination` as `address/prefix` (`0.0.0.0/0` for the
/// default route) via `gateway`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: String,
    pub gateway: String,
}

/// Why a spec cannot be used, found before anything is created.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("invalid container spec: {0}")]
    Json(#[from] serde_json::Error),
    #[error("invalid container spec: {0}")]
    Invalid(String),
}

impl ContainerSpec {
    /// Reads a spec from its JSON text and checks what does not depend on the host.
    pub fn from_json(text: &str) -> Result<ContainerSpec, SpecError> {
        let spec: ContainerSpec = serde_json::from_str(text)?;
        spec.check()?;
        Ok(spec)
    }

    /// The spec as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a spec is plain data and always serializes")
    }

    /// The root filesystem entry, if the spec has one.
    pub fn root(&self) -> Option<&Filesystem> {
        self.filesystems
            .iter()
            .find(|fs| fs.target == std::path::Path::new("/"))
    }

    /// Checks what can be checked without looking at the host.
    pub fn check(&self) -> Result<(), SpecError> {
        let invalid = |what: String| Err(SpecError::Invalid(what));
        if self.name.is_empty() || self.name.contains('/') || self.name.contains('\0') {
            return invalid(format!("container name '{}' is not usable", self.name));
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return invalid(format!(
                "hostname '{}' must be 1 to 64 bytes",
                self.hostname
            ));
        }
        if !self.init.path.is_absolute() {
            return invalid(format!(
                "init path '{}' is not absolute",
                self.init.path.display()
            ));
        }
        for fs in &self.filesystems {
            if !fs.target.is_absolute() {
                return invalid(format!(
                    "filesystem target '{}' is not absolute",
                    fs.target.display()
                ));
            }
            if let FilesystemSource::Bind { dir } = &fs.source {
                if !dir.is_absolute() {
                    return invalid(format!(
                        "filesystem source '{}' is not absolute",
                        dir.display()
                    ));
                }
            }
        }
        if self
            .filesystems
            .iter()
            .filter(|fs| fs.target == std::path::Path::new("/"))
            .count()
            > 1
        {
            return invalid("more than one filesystem targets '/'".into());
        }
        if let Some(idmap) = &self.idmap {
            if idmap.host_root_uid().is_none() || idmap.host_root_gid().is_none() {
                return invalid("the idmap must map uid 0 and gid 0 of the container".into());
            }
            if idmap
                .uid
                .iter()
                .chain(&idmap.gid)
                .any(|range| range.count == 0)
            {
                return invalid("idmap ranges must not be empty".into());
            }
        }
        if let Some(network) = &self.network {
            for veth in &network.interfaces {
                for name in [&veth.host_name, &veth.guest_name] {
                    if name.is_empty()
                        || name.len() > 15
                        || name.contains('/')
                        || name.contains(' ')
                    {
                        return invalid(format!(
                            "interface name '{name}' must be 1 to 15 bytes without '/' or spaces"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Linux capability numbers, by the names libvirt's `<features><capabilities>` uses.
pub mod capability {
    /// Every capability libvirt knows, with its Linux number.
    pub const ALL: [(&str, u32); 37] = [
        ("chown", 0),
        ("dac_override", 1),
        ("dac_read_search", 2),
        ("fowner", 3),
        ("fsetid", 4),
        ("kill", 5),
        ("setgid", 6),
        ("setuid", 7),
        ("setpcap", 8),
        ("linux_immutable", 9),
        ("net_bind_service", 10),
        ("net_broadcast", 11),
        ("net_admin", 12),
        ("net_raw", 13),
        ("ipc_lock", 14),
        ("ipc_owner", 15),
        ("sys_module", 16),
        ("sys_rawio", 17),
        ("sys_chroot", 18),
        ("sys_ptrace", 19),
        ("sys_pacct", 20),
        ("sys_admin", 21),
        ("sys_boot", 22),
        ("sys_nice", 23),
        ("sys_resource", 24),
        ("sys_time", 25),
        ("sys_tty_config", 26),
        ("mknod", 27),
        ("lease", 28),
        ("audit_write", 29),
        ("audit_control", 30),
        ("setfcap", 31),
        ("mac_override", 32),
        ("mac_admin", 33),
        ("syslog", 34),
        ("wake_alarm", 35),
        ("block_suspend", 36),
    ];
    /// The highest capability number the kernel may know (CAP_CHECKPOINT_RESTORE); dropping
    /// an unknown one is harmless.
    pub const LAST: u32 = 40;

    pub const AUDIT_CONTROL: u32 = 30;
    pub const MAC_ADMIN: u32 = 33;
    pub const MKNOD: u32 = 27;
    pub const SYS_MODULE: u32 = 16;
    pub const SYS_TIME: u32 = 25;

    /// What a container loses unless its XML keeps it: no module loading, no clock changes,
    /// no device nodes, no audit or LSM configuration. `CAP_SYS_BOOT` stays: a reboot inside a
    /// pid namespace only ends that namespace.
    pub const DEFAULT_DROP: [u32; 5] = [SYS_MODULE, SYS_TIME, MKNOD, AUDIT_CONTROL, MAC_ADMIN];

    /// The number of capability `name` (libvirt's lower-case name without `cap_`).
    pub fn number(name: &str) -> Option<u32> {
        ALL.iter()
            .find(|(known, _)| *known == name)
            .map(|(_, number)| *number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> ContainerSpec {
        ContainerSpec {
            name: "c1".into(),
            uuid: "6695eb01-f6a4-8304-79aa-97f2502e193f".into(),
            monitor_socket: "/run/x/c1.sock".into(),
            console_socket: "/run/x/c1.console".into(),
            state_file: "/run/x/c1.state".into(),
            hostname: "c1".into(),
            filesystems: vec![Filesystem {
                source: FilesystemSource::Bind {
                    dir: "/srv/c1".into(),
                },
                target: "/".into(),
                readonly: false,
            }],
            init: Init {
                path: "/bin/sh".into(),
                args: vec![],
                env: vec![],
                workdir: None,
                user: None,
                group: None,
            },
            idmap: None,
            resources: Resources::default(),
            network: None,
            drop_capabilities: capability::DEFAULT_DROP.to_vec(),
        }
    }

    #[test]
    fn json_round_trip() {
        let spec = minimal();
        let back = ContainerSpec::from_json(&spec.to_json()).expect("valid");
        assert_eq!(back, spec);
        assert_eq!(back.root().map(|fs| fs.target.clone()), Some("/".into()));
    }

    #[test]
    fn relative_init_is_refused() {
        let mut spec = minimal();
        spec.init.path = "bin/sh".into();
        let error = spec.check().expect_err("relative init");
        assert!(
            error
                .to_string()
                .contains("init path 'bin/sh' is not absolute"),
            "{error}"
        );
    }

    #[test]
    fn idmap_must_map_root() {
        let mut spec = minimal();
        spec.idmap = Some(IdMap {
            uid: vec![IdRange {
                start: 1,
                target: 100_000,
                count: 10,
            }],
            gid: vec![IdRange {
                start: 0,
                target: 100_000,
                count: 10,
            }],
        });
        assert!(spec.check().is_err());
        let idmap = IdMap {
            uid: vec![IdRange {
                start: 0,
                target: 100_000,
                count: 65536,
            }],
            gid: vec![IdRange {
                start: 0,
                target: 200_000,
                count: 65536,
            }],
        };
        assert_eq!(idmap.host_root_uid(), Some(100_000));
        assert_eq!(idmap.host_root_gid(), Some(200_000));
    }

    #[test]
    fn long_interface_names_are_refused() {
        let mut spec = minimal();
        spec.network = Some(Network {
            interfaces: vec![Veth {
                host_name: "a-very-long-interface-name".into(),
                guest_name: "eth0".into(),
                bridge: None,
                mac: None,
                mtu: None,
                addresses: vec![],
                routes: vec![],
            }],
        });
        assert!(spec.check().is_err());
    }
}
