//! What a network needs from the host, worked out from its definition: the bridge name and
//! MAC libvirt assigns at define time, the conflicts libvirt refuses (a bridge name or a
//! subnet another network uses), the bridge request, and the glue to the dnsmasq and
//! firewall text builders.

use std::net::IpAddr;

use virt_core::{Error, ErrorNumber};
use virt_plugin_sdk::host::bridges::{BridgeAddress, BridgeRequest};
use virt_xml::network::{address, Network, NetworkBridge, NetworkMac};
use virt_xml::xml::OnOff;

use crate::error::network_error;
use crate::lifecycle::has_bridge;
use crate::records::{Dirs, NetworkRecord};

/// The bridge names other networks claim, from their current definitions.
fn bridges_of(others: &[NetworkRecord]) -> Vec<String> {
    others
        .iter()
        .filter_map(|record| record.current_xml())
        .filter_map(|xml| Network::parse(xml).ok())
        .filter_map(|network| network.bridge.and_then(|bridge| bridge.name))
        .collect()
}

/// libvirt's define-time completion: `virbrN` for a missing (or `%d`-templated) bridge name,
/// the first N no network and no host link uses, and a `52:54:00` MAC for the bridge.
pub fn complete_bridge(network: &mut Network, others: &[NetworkRecord]) -> Result<(), Error> {
    let taken = bridges_of(others);
    let bridge = network.bridge.get_or_insert_with(NetworkBridge::default);
    let template = match bridge.name.as_deref() {
        None => Some("virbr%d".to_string()),
        Some(name) if name.contains("%d") => Some(name.to_string()),
        Some(_) => None,
    };
    if let Some(template) = template {
        let free = (0..256)
            .map(|n| template.replacen("%d", &n.to_string(), 1))
            .find(|name| {
                !taken.contains(name) && !virt_plugin_sdk::host::bridges::link_exists(name)
            })
            .ok_or_else(|| {
                network_error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!("Bridge generation exceeded max id {}", 256),
                )
            })?;
        bridge.name = Some(free);
    }
    if network
        .mac
        .as_ref()
        .and_then(|mac| mac.address.as_ref())
        .is_none()
    {
        network.mac = Some(NetworkMac {
            address: Some(generated_mac(network.uuid.unwrap_or_default().as_bytes())),
        });
    }
    Ok(())
}

/// A MAC in QEMU's `52:54:00` range, from the network's UUID (stable for a definition, and
/// as unlikely to collide as random bytes).
fn generated_mac(seed: &[u8; 16]) -> String {
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        seed[13], seed[14], seed[15]
    )
}

/// Define-time conflicts: a bridge name another network has.
pub fn check_conflicts(network: &Network, others: &[NetworkRecord]) -> Result<(), Error> {
    let Some(bridge) = network.bridge.as_ref().and_then(|b| b.name.as_deref()) else {
        return Ok(());
    };
    for record in others {
        let Some(other) = record
            .current_xml()
            .and_then(|xml| Network::parse(xml).ok())
        else {
            continue;
        };
        if other.bridge.as_ref().and_then(|b| b.name.as_deref()) == Some(bridge) {
            return Err(network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("bridge name '{bridge}' already in use."),
            ));
        }
    }
    Ok(())
}

/// Start-time conflicts: the bridge exists on the host already, or a subnet overlaps one of
/// a running network.
pub fn check_start_conflicts(network: &Network, others: &[NetworkRecord]) -> Result<(), Error> {
    if has_bridge(network) {
        if let Some(bridge) = network.bridge.as_ref().and_then(|b| b.name.as_deref()) {
            if virt_plugin_sdk::host::bridges::link_exists(bridge) {
                return Err(network_error(
                    ErrorNumber::SYSTEM_ERROR,
                    format!("error creating bridge interface {bridge}: File exists"),
                ));
            }
        }
    }
    let mine = subnets(network)?;
    // Routes of the host (another libvirt's virbr0, a VPN): libvirt's networkCheckRouteCollision.
    for (own, own_prefix) in &mine {
        if let Some(device) = routed_elsewhere(*own, *own_prefix) {
            return Err(network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Network is already in use by interface {device}"),
            ));
        }
    }
    for record in others.iter().filter(|r| r.is_active()) {
        let Some(other) = record
            .current_xml()
            .and_then(|xml| Network::parse(xml).ok())
        else {
            continue;
        };
        for (address, prefix) in subnets(&other)? {
            for (own, own_prefix) in &mine {
                if overlaps(*own, *own_prefix, address, prefix) {
                    return Err(network_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!(
                            "Network is already in use by interface {}",
                            other
                                .bridge
                                .as_ref()
                                .and_then(|b| b.name.clone())
                                .unwrap_or_else(|| record.name.clone())
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The interface of a host route to exactly `address`'s network at `prefix`, if there is
/// one (`/proc/net/route`, `/proc/net/ipv6_route`: the daemon's own network namespace).
fn routed_elsewhere(address: IpAddr, prefix: u8) -> Option<String> {
    let read = |path: &str| {
        virt_plugin_sdk::host::files::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            let network = u32::from(v4) & mask;
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses are
            // little-endian hex.
            read("/proc/net/route").lines().skip(1).find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let hex = |i: usize| {
                    fields
                        .get(i)
                        .and_then(|f| u32::from_str_radix(f, 16).ok())
                        .map(u32::swap_bytes)
                };
                let (destination, route_mask) = (hex(1)?, hex(7)?);
                (route_mask == mask && destination == network && mask != 0)
                    .then(|| fields[0].to_string())
            })
        }
        IpAddr::V6(v6) => {
            let bits = u32::from(prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            let network = u128::from(v6) & mask;
            // Destination PrefixLen Source SourcePrefix NextHop Metric RefCnt Use Flags Iface
            read("/proc/net/ipv6_route").lines().find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let destination = u128::from_str_radix(fields.first()?, 16).ok()?;
                let route_prefix = u32::from_str_radix(fields.get(1)?, 16).ok()?;
                (route_prefix == bits && destination == network && bits != 0)
                    .then(|| fields.get(9).map(|f| f.to_string()))
                    .flatten()
            })
        }
    }
}

/// Each `<ip>`'s address and its prefix as libvirt works it out (`virNetworkIPDefPrefix`);
/// an address without one is refused as libvirt refuses to put it on the bridge.
fn subnets(network: &Network) -> Result<Vec<(IpAddr, u8)>, Error> {
    let mut subnets = Vec::with_capacity(network.ips.len());
    for ip in &network.ips {
        let Some(text) = ip.address.as_deref() else {
            continue;
        };
        let address = ip.ip_address().ok_or_else(|| {
            network_error(
                ErrorNumber::XML_ERROR,
                format!("Invalid address '{text}' in network ip"),
            )
        })?;
        let prefix = ip.network_prefix().ok_or_else(|| {
            network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "bridge '{}' has an invalid netmask or IP address",
                    network
                        .bridge
                        .as_ref()
                        .and_then(|b| b.name.as_deref())
                        .unwrap_or_default()
                ),
            )
        })?;
        // The parser keeps a prefix within its address's width; at most 128, it fits a byte.
        subnets.push((address, prefix.min(128) as u8));
    }
    Ok(subnets)
}

/// Whether two subnets share addresses: one holds the other's network.
fn overlaps(a: IpAddr, a_prefix: u8, b: IpAddr, b_prefix: u8) -> bool {
    let prefix = u32::from(a_prefix.min(b_prefix));
    a.is_ipv4() == b.is_ipv4()
        && address::mask_by_prefix(&a, prefix) == address::mask_by_prefix(&b, prefix)
}

/// What the host is asked to make for the network's bridge.
pub fn bridge_request(network: &Network) -> Result<BridgeRequest, Error> {
    let bridge = network.bridge.clone().unwrap_or_default();
    let name = bridge.name.ok_or_else(|| {
        network_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("network '{}' has no bridge name", network.name()),
        )
    })?;
    let addresses = subnets(network)?
        .into_iter()
        .map(|(address, prefix)| BridgeAddress {
            address: address.to_string(),
            prefix,
            // libvirt sets the IPv4 broadcast address with the address.
            broadcast: match address {
                IpAddr::V4(v4) if prefix < 31 => {
                    let host_bits = u32::MAX >> u32::from(prefix);
                    Some(std::net::Ipv4Addr::from(u32::from(v4) | host_bits).to_string())
                }
                _ => None,
            },
        })
        .collect();
    Ok(BridgeRequest {
        name,
        mac: network.mac.as_ref().and_then(|mac| mac.address.clone()),
        mtu: network.mtu.as_ref().and_then(|mtu| mtu.size),
        stp: bridge.stp != Some(OnOff::Off),
        delay: u32::try_from(bridge.delay.unwrap_or(0)).unwrap_or(0),
        addresses,
    })
}

/// The nft scripts that add and remove the network's rules, if it has any.
pub fn firewall_scripts(network: &Network) -> Result<Option<(String, String)>, Error> {
    let plan = crate::firewall::rules(network)?;
    Ok((!plan.is_empty()).then(|| (plan.add_script(), plan.remove_script())))
}

/// The dnsmasq files a network needs and where its configuration is.
pub struct DnsmasqFiles {
    pub conf_path: String,
    /// (path, text) of every file to write before dnsmasq starts.
    pub files: Vec<(String, String)>,
}

impl DnsmasqFiles {
    /// Writes the files. The configuration stays private (dnsmasq reads it as root, before it
    /// drops its privileges); the hosts files are read again on SIGHUP by dnsmasq's own user,
    /// so they are made readable, as libvirt's are, and so is the way to them (the host makes
    /// a driver's directories 0700).
    pub fn write(&self, dirs: &Dirs) -> Result<(), Error> {
        use virt_plugin_sdk::host::{file_attributes, files};
        for (path, text) in &self.files {
            files::write(path, text.as_bytes()).map_err(crate::error::from_host)?;
        }
        let dnsmasq_dir = dirs.dnsmasq_dir();
        let hosts_files = self
            .files
            .iter()
            .filter(|(path, _)| *path != self.conf_path)
            .map(|(path, _)| (path.as_str(), 0o644));
        for (path, mode) in [(dirs.state.as_str(), 0o711), (dnsmasq_dir.as_str(), 0o755)]
            .into_iter()
            .chain(hosts_files)
        {
            file_attributes::set_mode(path, mode).map_err(crate::error::from_host)?;
        }
        Ok(())
    }
}

/// The files of the network's dnsmasq, or `None` when the network has no DHCP or DNS to
/// serve (no IP address, or not a network libvirt runs dnsmasq for).
pub fn dnsmasq_files(network: &Network, dirs: &Dirs) -> Result<Option<DnsmasqFiles>, Error> {
    // libvirt runs dnsmasq only on the networks it makes a bridge for.
    if !has_bridge(network) || !crate::dnsmasq::needs_dnsmasq(network) {
        return Ok(None);
    }
    let config = dnsmasq_config(network, dirs)?;
    Ok(Some(DnsmasqFiles {
        conf_path: config.conf_path.clone(),
        files: vec![
            (config.conf_path, config.conf),
            (config.hostsfile_path, config.hostsfile),
            (config.addnhosts_path, config.addnhosts),
        ],
    }))
}

fn dnsmasq_config(network: &Network, dirs: &Dirs) -> Result<crate::dnsmasq::DnsmasqConfig, Error> {
    let paths = crate::dnsmasq::DnsmasqPaths {
        state_dir: dirs.dnsmasq_dir(),
        pid_file: None,
    };
    // libvirt 9.0 writes the same configuration for every dnsmasq it accepts.
    let caps = crate::dnsmasq::DnsmasqCaps::libvirt_test_harness();
    crate::dnsmasq::config(network, &paths, &caps)
}

/// Where the network's dnsmasq configuration is (its lease file is beside it), if the
/// network runs one.
pub fn dnsmasq_conf_path(network: &Network, dirs: &Dirs) -> Option<String> {
    if !has_bridge(network) || !crate::dnsmasq::needs_dnsmasq(network) {
        return None;
    }
    dnsmasq_config(network, dirs)
        .ok()
        .map(|config| config.conf_path)
}

/// Every file a network's dnsmasq may have (removed at destroy).
pub fn dnsmasq_paths(network: &Network, dirs: &Dirs) -> Vec<String> {
    match dnsmasq_config(network, dirs) {
        Ok(config) => vec![
            crate::lifecycle::sibling(&config.conf_path, "leases"),
            crate::lifecycle::sibling(&config.conf_path, "pid"),
            config.conf_path,
            config.hostsfile_path,
            config.addnhosts_path,
        ],
        Err(_) => Vec::new(),
    }
}
