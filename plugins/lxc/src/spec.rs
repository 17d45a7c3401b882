//! From a domain definition to the controller's [`ContainerSpec`]: every libvirt LXC semantic
//! the controller must not need to know (defaults, environment, capabilities policy, which
//! `<filesystem>`/`<interface>` types exist and what they mean) is decided here, and
//! everything the driver cannot do is refused here, before anything is started.

use std::path::{Path, PathBuf};

use rvirt_lxc_controller::paths;
use rvirt_lxc_controller::spec::{
    capability, ContainerSpec, Filesystem, FilesystemSource, IdMap, IdRange, Init, Network,
    Resources, Route, Veth,
};
use virt_core::Error;
use virt_xml::domain::{Domain, FilesystemType, InterfaceType};
use virt_xml::xml::OnOff;

use crate::error::unsupported;

/// Where the container's files go, and how to find a network's bridge.
pub struct Context<'a> {
    pub run_dir: &'a Path,
    /// The bridge of libvirt network `name`, if it can be found.
    pub network_bridge: &'a dyn Fn(&str) -> Result<String, Error>,
}

/// Builds the spec for `domain` (a parsed, post-parsed definition).
pub fn build(domain: &Domain, context: &Context<'_>) -> Result<ContainerSpec, Error> {
    let name = domain.name().to_string();
    let uuid = domain.uuid.map(|uuid| uuid.to_string()).unwrap_or_default();
    let state_file = paths::state_file(context.run_dir, &name);
    let os = domain.os.as_ref();
    let init_path = os
        .and_then(|os| os.init.clone())
        .unwrap_or_else(|| "/sbin/init".into());
    if !init_path.starts_with('/') {
        return Err(unsupported(format!(
            "init '{init_path}' must be an absolute path"
        )));
    }

    let mut env = vec![
        ("PATH".to_string(), "/bin:/sbin".to_string()),
        ("TERM".to_string(), "linux".to_string()),
        ("container".to_string(), "lxc-libvirt".to_string()),
        ("HOME".to_string(), "/".to_string()),
        ("container_uuid".to_string(), uuid.clone()),
        ("LIBVIRT_LXC_UUID".to_string(), uuid.clone()),
        ("LIBVIRT_LXC_NAME".to_string(), name.clone()),
    ];
    if let Some(cmdline) = os.and_then(|os| os.cmdline.clone()) {
        env.push(("LIBVIRT_LXC_CMDLINE".to_string(), cmdline));
    }
    for initenv in os.map(|os| os.initenvs.as_slice()).unwrap_or_default() {
        let Some(key) = initenv.name.clone() else {
            continue;
        };
        let value = initenv.value.clone().unwrap_or_default();
        match env.iter_mut().find(|(existing, _)| *existing == key) {
            Some(entry) => entry.1 = value,
            None => env.push((key, value)),
        }
    }

    Ok(ContainerSpec {
        monitor_socket: paths::monitor_socket(context.run_dir, &name),
        console_socket: paths::console_socket(context.run_dir, &name),
        state_file,
        hostname: hostname_for(&name),
        filesystems: filesystems(domain)?,
        init: Init {
            path: PathBuf::from(init_path),
            args: os.map(|os| os.initargs.clone()).unwrap_or_default(),
            env,
            workdir: os.and_then(|os| os.initdir.clone()).map(PathBuf::from),
            user: os.and_then(|os| os.inituser.clone()),
            group: os.and_then(|os| os.initgroup.clone()),
        },
        idmap: idmap(domain)?,
        resources: resources(domain),
        network: network(domain, context)?,
        drop_capabilities: dropped_capabilities(domain)?,
        name,
        uuid,
    })
}

/// The hostname: the domain name, with what a hostname may not contain replaced.
fn hostname_for(name: &str) -> String {
    let mut hostname: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if hostname.is_empty() {
        hostname = "localhost".into();
    }
    hostname
}

/// `<source usage= units=>` of a `type='ram'` filesystem, in KiB.
fn usage_kib(usage: u64, units: Option<&str>) -> Result<u64, Error> {
    let factor: u64 = match units.unwrap_or("KiB") {
        "b" | "bytes" => return Ok(usage.div_ceil(1024)),
        "KB" => return Ok((usage * 1000).div_ceil(1024)),
        "k" | "KiB" => 1,
        "MB" => return Ok((usage * 1_000_000).div_ceil(1024)),
        "M" | "MiB" => 1024,
        "GB" => return Ok((usage * 1_000_000_000).div_ceil(1024)),
        "G" | "GiB" => 1024 * 1024,
        "T" | "TiB" => 1024 * 1024 * 1024,
        other => {
            return Err(unsupported(format!(
                "unknown unit '{other}' for a ram filesystem"
            )))
        }
    };
    Ok(usage.saturating_mul(factor))
}

fn filesystems(domain: &Domain) -> Result<Vec<Filesystem>, Error> {
    let mut out = Vec::new();
    for fs in &domain.devices.filesystems {
        let target = fs
            .target
            .as_ref()
            .and_then(|target| target.dir.clone())
            .ok_or_else(|| unsupported("a <filesystem> needs <target dir='...'/>"))?;
        if !target.starts_with('/') {
            return Err(unsupported(format!(
                "filesystem target '{target}' must be an absolute path"
            )));
        }
        let source = fs.source.as_ref();
        let source = match fs.fs_type.unwrap_or(FilesystemType::Mount) {
            FilesystemType::Mount => {
                let dir = source.and_then(|s| s.dir.clone()).ok_or_else(|| {
                    unsupported(format!("filesystem {target} needs <source dir='...'/>"))
                })?;
                if !dir.starts_with('/') {
                    return Err(unsupported(format!(
                        "filesystem source '{dir}' must be an absolute path"
                    )));
                }
                FilesystemSource::Bind { dir: dir.into() }
            }
            FilesystemType::Ram => {
                let usage = source.and_then(|s| s.usage).unwrap_or(0);
                FilesystemSource::Ram {
                    size_kib: usage_kib(usage, source.and_then(|s| s.units.as_deref()))?,
                }
            }
            other => {
                return Err(unsupported(format!(
                "filesystem type '{}' is not supported by the LXC driver (use 'mount' or 'ram')",
                other.as_str()
            )))
            }
        };
        out.push(Filesystem {
            source,
            target: target.into(),
            readonly: fs.readonly,
        });
    }
    Ok(out)
}

fn idmap(domain: &Domain) -> Result<Option<IdMap>, Error> {
    let Some(idmap) = &domain.idmap else {
        return Ok(None);
    };
    let ranges =
        |entries: &[virt_xml::domain::IdMapEntry], what: &str| -> Result<Vec<IdRange>, Error> {
            entries
                .iter()
                .map(|entry| match (entry.start, entry.target, entry.count) {
                    (Some(start), Some(target), Some(count)) => Ok(IdRange {
                        start,
                        target,
                        count,
                    }),
                    _ => Err(unsupported(format!(
                        "every <idmap><{what}> needs start, target and count"
                    ))),
                })
                .collect()
        };
    let map = IdMap {
        uid: ranges(&idmap.uids, "uid")?,
        gid: ranges(&idmap.gids, "gid")?,
    };
    if map.uid.is_empty() || map.gid.is_empty() {
        return Err(unsupported("<idmap> must map both uids and gids"));
    }
    if map.host_root_uid().is_none() || map.host_root_gid().is_none() {
        return Err(unsupported(
            "<idmap> must map the container's uid 0 and gid 0",
        ));
    }
    Ok(Some(map))
}

fn resources(domain: &Domain) -> Resources {
    let memtune = domain.memtune.as_ref();
    let memory = domain.memory_kib();
    Resources {
        // libvirt's LXC driver limits the container to <memory>; <hard_limit> overrides it.
        memory_hard_limit_kib: memtune
            .and_then(|m| m.hard_limit.map(|v| v.0))
            .or((memory > 0).then_some(memory)),
        memory_soft_limit_kib: memtune.and_then(|m| m.soft_limit.map(|v| v.0)),
        swap_hard_limit_kib: memtune.and_then(|m| m.swap_hard_limit.map(|v| v.0)),
        cpu_shares: domain.cputune.as_ref().and_then(|c| c.shares),
        cpu_period_us: domain.cputune.as_ref().and_then(|c| c.period),
        cpu_quota_us: domain.cputune.as_ref().and_then(|c| c.quota),
        blkio_weight: domain.blkiotune.as_ref().and_then(|b| b.weight),
        pids_max: None,
        cpuset_cpus: domain.vcpu.as_ref().and_then(|v| v.cpuset.clone()),
    }
}

/// The host end's name: `<target dev>` or one derived from the UUID (unique, ≤ 15 bytes).
pub fn host_veth_name(domain: &Domain, index: usize) -> String {
    let hex: String = domain
        .uuid
        .map(|u| u.simple().to_string())
        .unwrap_or_default()
        .chars()
        .take(10)
        .collect();
    format!("vr{hex}{index}")
}

fn network(domain: &Domain, context: &Context<'_>) -> Result<Option<Network>, Error> {
    let privnet = domain.features.as_ref().is_some_and(|f| f.privnet);
    if domain.devices.interfaces.is_empty() {
        return Ok(privnet.then(Network::default));
    }
    let mut interfaces = Vec::new();
    for (index, iface) in domain.devices.interfaces.iter().enumerate() {
        let source = iface.source.as_ref();
        let bridge = match iface.interface_type {
            Some(InterfaceType::Bridge) => Some(
                source
                    .and_then(|s| s.bridge.clone())
                    .ok_or_else(|| unsupported("a bridge interface needs <source bridge='...'/>"))?,
            ),
            Some(InterfaceType::Network) => {
                let network = source
                    .and_then(|s| s.network.clone())
                    .ok_or_else(|| unsupported("a network interface needs <source network='...'/>"))?;
                Some((context.network_bridge)(&network)?)
            }
            Some(InterfaceType::Ethernet) => None,
            other => {
                return Err(unsupported(format!(
                    "network interface type '{}' is not supported by the LXC driver (use bridge, network or ethernet)",
                    other.map_or("(none)", |t| t.as_str())
                )))
            }
        };
        let host_name = iface
            .target
            .as_ref()
            .and_then(|t| t.dev.clone())
            .unwrap_or_else(|| host_veth_name(domain, index));
        let guest_name = iface
            .guest
            .as_ref()
            .and_then(|g| g.dev.clone())
            .unwrap_or_else(|| format!("eth{index}"));
        let addresses = iface
            .ips
            .iter()
            .filter_map(|ip| {
                let address = ip.address.clone()?;
                Some(match ip.prefix {
                    Some(prefix) => format!("{address}/{prefix}"),
                    None if address.contains(':') => format!("{address}/64"),
                    None => format!("{address}/24"),
                })
            })
            .collect();
        let routes = iface
            .routes
            .iter()
            .filter_map(|route| {
                let address = route.address.clone()?;
                let gateway = route.gateway.clone()?;
                let prefix = route
                    .prefix
                    .unwrap_or(if address.contains(':') { 128 } else { 32 });
                Some(Route {
                    destination: format!("{address}/{prefix}"),
                    gateway,
                })
            })
            .collect();
        interfaces.push(Veth {
            host_name,
            guest_name,
            bridge,
            mac: iface.mac_address().map(str::to_string),
            mtu: iface.mtu.as_ref().and_then(|m| m.size),
            addresses,
            routes,
        });
    }
    Ok(Some(Network { interfaces }))
}

/// libvirt's defaults (no module loading, clock, mknod, audit or LSM control) adjusted by
/// `<features><capabilities policy=...>`.
fn dropped_capabilities(domain: &Domain) -> Result<Vec<u32>, Error> {
    use virt_xml::domain::CapabilitiesPolicy;
    let feature = domain
        .features
        .as_ref()
        .and_then(|f| f.capabilities.as_ref());
    let policy = feature
        .and_then(|f| f.policy)
        .unwrap_or(CapabilitiesPolicy::Default);
    let mut drop: Vec<u32> = match policy {
        CapabilitiesPolicy::Default => capability::DEFAULT_DROP.to_vec(),
        CapabilitiesPolicy::Allow => Vec::new(),
        CapabilitiesPolicy::Deny => (0..=capability::LAST).collect(),
    };
    for (name, state) in feature
        .map(|f| f.capabilities.as_slice())
        .unwrap_or_default()
    {
        let number = capability::number(name)
            .ok_or_else(|| unsupported(format!("unknown capability '{name}'")))?;
        match state {
            OnOff::On => drop.retain(|cap| *cap != number),
            OnOff::Off => {
                if !drop.contains(&number) {
                    drop.push(number);
                }
            }
        }
    }
    drop.sort_unstable();
    Ok(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context_error(network: &str) -> Result<String, Error> {
        Err(crate::error::lxc_error(
            virt_core::ErrorNumber::NO_NETWORK,
            format!("no network with matching name '{network}'"),
        ))
    }

    fn build_xml(xml: &str) -> Result<ContainerSpec, Error> {
        let domain = crate::def::parse_for_define(xml)?;
        build(
            &domain,
            &Context {
                run_dir: Path::new("/run/rvirt/lxc"),
                network_bridge: &context_error,
            },
        )
    }

    #[test]
    fn a_typical_container() {
        let spec = build_xml(
            "<domain type='lxc'><name>web1</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\
             <memory unit='MiB'>64</memory><os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>\
             <initarg>echo hi</initarg><initenv name='FOO'>bar</initenv></os>\
             <idmap><uid start='0' target='100000' count='65536'/><gid start='0' target='100000' count='65536'/></idmap>\
             <features><capabilities policy='default'><mknod state='on'/><sys_rawio state='off'/></capabilities></features>\
             <devices><filesystem type='mount'><source dir='/srv/web1'/><target dir='/'/></filesystem>\
             <filesystem type='ram'><source usage='2' units='MiB'/><target dir='/tmp'/></filesystem>\
             <interface type='bridge'><mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/>\
             <ip address='10.0.0.5' prefix='24'/><route address='0.0.0.0' prefix='0' gateway='10.0.0.1'/></interface>\
             <console type='pty'/></devices></domain>",
        )
        .expect("valid");
        assert_eq!(spec.hostname, "web1");
        assert_eq!(spec.monitor_socket, Path::new("/run/rvirt/lxc/web1.sock"));
        assert_eq!(spec.init.args, ["-c", "echo hi"]);
        assert!(spec.init.env.contains(&("FOO".into(), "bar".into())));
        assert!(spec
            .init
            .env
            .contains(&("container".into(), "lxc-libvirt".into())));
        assert_eq!(spec.resources.memory_hard_limit_kib, Some(65536));
        assert_eq!(
            spec.filesystems[1].source,
            FilesystemSource::Ram { size_kib: 2048 }
        );
        let veth = &spec.network.as_ref().expect("network").interfaces[0];
        assert_eq!(veth.host_name, "vr6695eb01f60");
        assert_eq!(veth.guest_name, "eth0");
        assert_eq!(veth.bridge.as_deref(), Some("br0"));
        assert_eq!(veth.addresses, ["10.0.0.5/24"]);
        assert_eq!(veth.routes[0].destination, "0.0.0.0/0");
        assert!(!spec.drop_capabilities.contains(&capability::MKNOD));
        assert!(spec.drop_capabilities.contains(&capability::SYS_MODULE));
        assert!(spec
            .drop_capabilities
            .contains(&capability::number("sys_rawio").expect("known")));
        assert_eq!(
            spec.idmap.as_ref().and_then(IdMap::host_root_uid),
            Some(100_000)
        );
        spec.check().expect("a valid spec");
    }

    #[test]
    fn unsupported_devices_are_refused_before_anything_starts() {
        let error = build_xml(
            "<domain type='lxc'><name>c</name><memory>1024</memory><os><type>exe</type><init>/bin/sh</init></os>\
             <devices><filesystem type='file'><source file='/img'/><target dir='/'/></filesystem></devices></domain>",
        )
        .expect_err("file filesystems");
        assert!(
            error
                .message()
                .contains("filesystem type 'file' is not supported"),
            "{error:?}"
        );
        let error = build_xml(
            "<domain type='lxc'><name>c</name><memory>1024</memory><os><type>exe</type><init>/bin/sh</init></os>\
             <devices><interface type='network'><source network='nosuch'/></interface></devices></domain>",
        )
        .expect_err("unknown network");
        assert_eq!(error.code(), virt_core::ErrorNumber::NO_NETWORK);
    }

    #[test]
    fn hostnames_are_sanitized() {
        assert_eq!(hostname_for("my_box 1"), "my-box-1");
    }
}
