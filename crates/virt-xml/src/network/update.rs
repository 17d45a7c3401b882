//! `virNetworkUpdate` on a definition (libvirt's `virNetworkDefUpdateSection`): adding,
//! replacing or removing one entry of a network (a DHCP host or range, a forward interface,
//! a port group, a DNS host, SRV or TXT record) given as an XML fragment, with libvirt's
//! rules for which `<ip>` is meant, what counts as the same entry and what each section
//! allows, and libvirt's error numbers and messages.
//!
//! Which definitions an update applies to (live, persistent) is the driver's business; this
//! module changes one definition, and changes nothing when it fails.

use std::net::IpAddr;

use virt_core::consts::{network_update_command as command, network_update_section as section};
use virt_core::{Error, ErrorDomain, ErrorNumber};

use super::address;
use super::parse::{self, error, or_null, same_mac, IpScope};
use super::{Dhcp, DhcpHost, Dns, ForwardInterface, Network};
use crate::xml::{parse_document, Node};
use crate::Result;

/// What libvirt calls the fragment in parse errors.
const FRAGMENT_NAME: &str = "network_update_xml";

/// A `virNetworkUpdateCommand`, decoded; an unknown code is refused only by the section
/// handlers that get as far as looking at it, as in libvirt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Modify,
    Delete,
    AddLast,
    AddFirst,
    Unknown(u32),
}

impl Command {
    fn from_code(code: u32) -> Command {
        match i32::try_from(code) {
            Ok(command::MODIFY) => Command::Modify,
            Ok(command::DELETE) => Command::Delete,
            Ok(command::ADD_LAST) => Command::AddLast,
            Ok(command::ADD_FIRST) => Command::AddFirst,
            _ => Command::Unknown(code),
        }
    }

    /// Where an added entry goes.
    fn insert<T>(self, list: &mut Vec<T>, item: T) {
        if self == Command::AddFirst {
            list.insert(0, item);
        } else {
            list.push(item);
        }
    }
}

/// What a section whose entries can only be added or deleted makes of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddOrDelete {
    Add,
    Delete,
    Unknown(u32),
}

impl Command {
    /// Refuses `modify` for a section where `entries` (libvirt's word for them) cannot be
    /// modified.
    fn add_or_delete(self, entries: &str) -> Result<AddOrDelete> {
        match self {
            Command::Modify => Err(unsupported(format!(
                "{entries} cannot be modified, only added or deleted"
            ))),
            Command::AddFirst | Command::AddLast => Ok(AddOrDelete::Add),
            Command::Delete => Ok(AddOrDelete::Delete),
            Command::Unknown(code) => Ok(AddOrDelete::Unknown(code)),
        }
    }
}

fn unknown_command(code: u32) -> Error {
    // libvirt prints the unsigned code with `%d`.
    error(
        ErrorNumber::OPERATION_UNSUPPORTED,
        format!("unrecognized network update command code {}", code as i32),
    )
}

fn invalid(detail: impl AsRef<str>) -> Error {
    error(ErrorNumber::OPERATION_INVALID, detail)
}

fn unsupported(detail: impl AsRef<str>) -> Error {
    error(ErrorNumber::OPERATION_UNSUPPORTED, detail)
}

impl Network {
    /// Applies one `virNetworkUpdate` change to this definition, as libvirt's
    /// `virNetworkDefUpdateSection` followed by the format-and-read-back check of
    /// `virNetworkObjUpdate`.
    ///
    /// `command` is a `virNetworkUpdateCommand` (modify, delete, add-last, add-first),
    /// `section` a `virNetworkUpdateSection`, `xml` the entry (`<host>`, `<range>`,
    /// `<interface>`, `<portgroup>`, `<txt>`, `<srv>`). `parent_index` picks the `<ip>` of a
    /// DHCP change (`-1`: the one that already has DHCP entries, else the first IPv4, else the
    /// first IPv6 address). `flags` (`virNetworkUpdateFlags`) choose the definitions in the
    /// driver; no section reads them. The bridge, domain, ip, forward and forward-pf sections
    /// cannot be updated, as in libvirt. On failure the definition is unchanged.
    pub fn update_section(
        &mut self,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        let _ = flags;
        let doc = parse_document(xml, FRAGMENT_NAME, ErrorDomain::NETWORK)?;
        let node = &doc.root;
        let command = Command::from_code(command);
        let mut changed = self.clone();
        let no_support = |what: &str| {
            unsupported(format!(
                "can't update '{what}' section of network '{}'",
                self.name()
            ))
        };
        match i32::try_from(section) {
            Ok(section::BRIDGE) => return Err(no_support("bridge")),
            Ok(section::DOMAIN) => return Err(no_support("domain")),
            Ok(section::IP) => return Err(no_support("ip")),
            Ok(section::FORWARD) => return Err(no_support("forward")),
            Ok(section::FORWARD_PF) => return Err(no_support("forward pf")),
            Ok(section::IP_DHCP_HOST) => dhcp_host(&mut changed, command, parent_index, node)?,
            Ok(section::IP_DHCP_RANGE) => dhcp_range(&mut changed, command, parent_index, node)?,
            Ok(section::FORWARD_INTERFACE) => forward_interface(&mut changed, command, node)?,
            Ok(section::PORTGROUP) => portgroup(&mut changed, command, node)?,
            Ok(section::DNS_HOST) => dns_host(&mut changed, command, node)?,
            Ok(section::DNS_TXT) => dns_txt(&mut changed, command, node)?,
            Ok(section::DNS_SRV) => dns_srv(&mut changed, command, node)?,
            _ => return Err(unsupported("can't update unrecognized section of network")),
        }
        // libvirt formats the changed definition and reads it back, so that an update cannot
        // leave something a definition may not hold (two forward devices on a NAT network,
        // records in a disabled DNS server, ...).
        Network::parse(&changed.to_xml())?;
        *self = changed;
        Ok(())
    }
}

/// `virNetworkDefUpdateCheckElementName`.
fn expect_element(network: &Network, node: &Node<'_>, element: &str) -> Result<()> {
    if node.name() != element {
        return Err(error(
            ErrorNumber::XML_ERROR,
            format!(
                "unexpected element <{}>, expecting <{element}>, while updating network '{}'",
                node.name(),
                network.name()
            ),
        ));
    }
    Ok(())
}

/// The address family of an `<ip>` element (`None` for a model built without a valid
/// address).
fn ip_is_v6(network: &Network, idx: usize) -> Option<bool> {
    network.ips[idx]
        .address
        .as_deref()
        .and_then(address::parse_quiet)
        .map(|address| address.is_ipv6())
}

fn has_dhcp_entries(network: &Network, idx: usize) -> bool {
    network.ips[idx]
        .dhcp
        .as_ref()
        .is_some_and(|dhcp| !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty())
}

/// `virNetworkIPDefByIndex`: the `<ip>` a DHCP change applies to.
fn ip_by_index(network: &Network, parent_index: i32) -> Result<usize> {
    let name = network.name();
    if let Ok(idx) = usize::try_from(parent_index) {
        if idx < network.ips.len() {
            return Ok(idx);
        }
        return Err(invalid(format!(
            "couldn't update dhcp host entry - no <ip> element found at index {parent_index} in network '{name}'"
        )));
    }
    let first_of =
        |v6: bool| (0..network.ips.len()).find(|idx| ip_is_v6(network, *idx) == Some(v6));
    (0..network.ips.len())
        .find(|idx| has_dhcp_entries(network, *idx))
        .or_else(|| first_of(false))
        .or_else(|| first_of(true))
        .ok_or_else(|| {
            invalid(format!(
                "couldn't update dhcp host entry - no <ip> element found in network '{name}'"
            ))
        })
}

/// The scope of the `<ip>` at `idx`, which a definition read by this crate always has.
fn ip_scope(network: &Network, idx: usize) -> Result<IpScope> {
    IpScope::of(&network.ips[idx]).ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "<ip> element {idx} of network '{}' has no valid address",
                network.name()
            ),
        )
    })
}

/// `virNetworkDefUpdateCheckMultiDHCP`: DHCP runs on one address of each family only.
fn check_single_dhcp(network: &Network, idx: usize) -> Result<()> {
    let v6 = ip_is_v6(network, idx);
    let other = (0..network.ips.len()).any(|other| {
        other != idx && ip_is_v6(network, other) == v6 && has_dhcp_entries(network, other)
    });
    if other {
        return Err(invalid(format!(
            "dhcp is supported only for a single {} address on each network",
            if v6 == Some(true) { "IPv6" } else { "IPv4" }
        )));
    }
    Ok(())
}

fn parsed_ip(text: Option<&str>) -> Option<IpAddr> {
    text.and_then(address::parse_quiet)
}

/// Both set and the same address.
fn same_ip(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((parsed_ip(a), parsed_ip(b)), (Some(a), Some(b)) if a == b)
}

/// Both set and the same MAC address.
fn both_same_mac(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if same_mac(a, b))
}

/// The DHCP list of the `<ip>` at `idx`, created when missing.
fn dhcp_of(network: &mut Network, idx: usize) -> &mut Dhcp {
    network.ips[idx].dhcp.get_or_insert_with(Dhcp::default)
}

/// libvirt writes `<dhcp>` only around ranges or hosts.
fn drop_empty_dhcp(network: &mut Network, idx: usize) {
    let ip = &mut network.ips[idx];
    if ip
        .dhcp
        .as_ref()
        .is_some_and(|dhcp| dhcp.ranges.is_empty() && dhcp.hosts.is_empty())
    {
        ip.dhcp = None;
    }
}

/// `virNetworkDefUpdateIPDHCPHost`.
fn dhcp_host(
    network: &mut Network,
    cmd: Command,
    parent_index: i32,
    node: &Node<'_>,
) -> Result<()> {
    expect_element(network, node, "host")?;
    let idx = ip_by_index(network, parent_index)?;
    let scope = ip_scope(network, idx)?;
    let name = network.name().to_string();
    let partial = cmd == Command::Delete;
    let host = parse::dhcp_host(&name, &scope, node, partial)?;
    if !partial && parsed_ip(host.ip.as_deref()).map(|ip| ip.is_ipv6()) != Some(scope.is_ipv6()) {
        return Err(invalid(
            "the address family of a host entry IP must match the address family of the dhcp element's parent",
        ));
    }
    let mac_shown = host.mac.as_deref().unwrap_or("unknown");
    let name_shown = or_null(host.name.as_deref());
    let ip_shown = host.ip.as_deref().unwrap_or("unknown");
    let same_entry = |existing: &DhcpHost| {
        both_same_mac(host.mac.as_deref(), existing.mac.as_deref())
            || same_ip(host.ip.as_deref(), existing.ip.as_deref())
            || (host.name.is_some() && host.name == existing.name)
    };
    match cmd {
        Command::Modify => {
            let hosts = &mut dhcp_of(network, idx).hosts;
            let Some(found) = hosts.iter().position(same_entry) else {
                return Err(invalid(format!(
                    "couldn't locate an existing dhcp host entry with \"mac='{mac_shown}'\" \"name='{name_shown}'\" \"ip='{ip_shown}'\" in network '{name}'"
                )));
            };
            hosts[found] = host.clone();
        }
        Command::AddFirst | Command::AddLast => {
            check_single_dhcp(network, idx)?;
            let hosts = &mut dhcp_of(network, idx).hosts;
            if hosts.iter().any(same_entry) {
                return Err(invalid(format!(
                    "there is an existing dhcp host entry in network '{name}' that matches \"<host mac='{mac_shown}' name='{name_shown}' ip='{ip_shown}'/>\""
                )));
            }
            cmd.insert(hosts, host.clone());
        }
        Command::Delete => {
            // Every attribute given must match; a MAC address matches an entry without one.
            let matches_all = |existing: &DhcpHost| {
                (host.mac.is_none()
                    || existing.mac.is_none()
                    || both_same_mac(host.mac.as_deref(), existing.mac.as_deref()))
                    && (host.name.is_none() || host.name == existing.name)
                    && (host.ip.is_none() || same_ip(host.ip.as_deref(), existing.ip.as_deref()))
            };
            let hosts = &mut dhcp_of(network, idx).hosts;
            let Some(found) = hosts.iter().position(matches_all) else {
                return Err(invalid(format!(
                    "couldn't locate a matching dhcp host entry in network '{name}'"
                )));
            };
            hosts.remove(found);
        }
        Command::Unknown(code) => return Err(unknown_command(code)),
    }
    drop_empty_dhcp(network, idx);
    Ok(())
}

/// `virNetworkDefUpdateIPDHCPRange`.
fn dhcp_range(
    network: &mut Network,
    cmd: Command,
    parent_index: i32,
    node: &Node<'_>,
) -> Result<()> {
    expect_element(network, node, "range")?;
    let idx = ip_by_index(network, parent_index)?;
    let change = cmd.add_or_delete("dhcp ranges")?;
    let scope = ip_scope(network, idx)?;
    let name = network.name().to_string();
    let range = parse::dhcp_range(&name, &scope, node)?;
    if parsed_ip(range.start.as_deref()).map(|ip| ip.is_ipv6()) != Some(scope.is_ipv6()) {
        return Err(invalid(
            "the address family of a dhcp range must match the address family of the dhcp element's parent",
        ));
    }
    let found = network.ips[idx].dhcp.as_ref().and_then(|dhcp| {
        dhcp.ranges.iter().position(|existing| {
            same_ip(range.start.as_deref(), existing.start.as_deref())
                && same_ip(range.end.as_deref(), existing.end.as_deref())
        })
    });
    match change {
        AddOrDelete::Add => {
            check_single_dhcp(network, idx)?;
            if found.is_some() {
                return Err(invalid(format!(
                    "there is an existing dhcp range entry in network '{name}' that matches \"<range start='{}' end='{}'/>\"",
                    range.start.as_deref().unwrap_or("unknown"),
                    range.end.as_deref().unwrap_or("unknown")
                )));
            }
            cmd.insert(&mut dhcp_of(network, idx).ranges, range);
        }
        AddOrDelete::Delete => {
            let Some(found) = found else {
                return Err(invalid(format!(
                    "couldn't locate a matching dhcp range entry in network '{name}'"
                )));
            };
            dhcp_of(network, idx).ranges.remove(found);
        }
        AddOrDelete::Unknown(code) => return Err(unknown_command(code)),
    }
    drop_empty_dhcp(network, idx);
    Ok(())
}

/// `virNetworkDefUpdateForwardInterface`. A network without `<forward>` (isolated) has no
/// forward device list libvirt would write out: an added interface is accepted and not kept.
fn forward_interface(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    expect_element(network, node, "interface")?;
    let change = cmd.add_or_delete("forward interface entries")?;
    let Some(dev) = node.attr("dev") else {
        return Err(error(
            ErrorNumber::XML_ERROR,
            "missing dev attribute in <interface> element",
        ));
    };
    let name = network.name().to_string();
    let mut no_forward = Vec::new();
    let forward = network.forward.as_mut();
    let has_addresses = forward.as_ref().is_some_and(|f| !f.addresses.is_empty());
    let interfaces = match forward {
        Some(forward) => &mut forward.interfaces,
        None => &mut no_forward,
    };
    let found = interfaces
        .iter()
        .position(|existing| existing.dev.as_deref() == Some(dev));
    match change {
        AddOrDelete::Add => {
            if found.is_some() {
                return Err(invalid(format!(
                    "there is an existing interface entry in network '{name}' that matches \"<interface dev='{dev}'>\""
                )));
            }
            if cmd == Command::AddFirst && has_addresses {
                // libvirt would now write this device as `dev` next to the PCI addresses,
                // which its own reader refuses.
                return Err(error(
                    ErrorNumber::XML_ERROR,
                    "the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network %s",
                ));
            }
            cmd.insert(
                interfaces,
                ForwardInterface {
                    dev: Some(dev.to_string()),
                    connections: None,
                },
            );
        }
        AddOrDelete::Delete => {
            let Some(found) = found else {
                return Err(invalid(format!(
                    "couldn't find an interface entry in network '{name}' matching <interface dev='{dev}'>"
                )));
            };
            let connections = interfaces[found].connections.unwrap_or(0);
            if connections > 0 {
                return Err(invalid(format!(
                    "unable to delete interface '{dev}' in network '{name}'. It is currently being used  by {connections} domains."
                )));
            }
            interfaces.remove(found);
        }
        AddOrDelete::Unknown(code) => return Err(unknown_command(code)),
    }
    if let Some(forward) = &mut network.forward {
        forward.sync_dev();
    }
    Ok(())
}

/// `virNetworkDefUpdatePortGroup`.
fn portgroup(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    expect_element(network, node, "portgroup")?;
    let group = parse::portgroup(node)?;
    let name = network.name().to_string();
    let group_name = group.name.clone().unwrap_or_default();
    let is_default = |g: &super::PortGroup| g.default.is_some_and(|d| d.is_yes());
    let found_name = network
        .portgroups
        .iter()
        .position(|g| g.name.as_deref() == Some(group_name.as_str()));
    // The last default, as libvirt's scan leaves it.
    let found_default = network.portgroups.iter().rposition(is_default);
    let found = match (cmd, found_name) {
        (Command::Modify | Command::Delete, None) => {
            return Err(invalid(format!(
                "couldn't find a portgroup entry in network '{name}' matching <portgroup name='{group_name}'>"
            )));
        }
        (Command::AddFirst | Command::AddLast, Some(_)) => {
            return Err(invalid(format!(
                "there is an existing portgroup entry in network '{name}' that matches \"<portgroup name='{group_name}'>\""
            )));
        }
        (_, found) => found,
    };
    if cmd != Command::Delete
        && is_default(&group)
        && found_default.is_some()
        && found_default != found
    {
        return Err(invalid(format!(
            "a different portgroup entry in network '{name}' is already set as the default. Only one default is allowed."
        )));
    }
    match cmd {
        Command::Modify => {
            if let Some(found) = found {
                network.portgroups[found] = group;
            }
        }
        Command::Delete => {
            if let Some(found) = found {
                network.portgroups.remove(found);
            }
        }
        Command::AddFirst | Command::AddLast => cmd.insert(&mut network.portgroups, group),
        Command::Unknown(code) => return Err(unknown_command(code)),
    }
    Ok(())
}

fn dns_of(network: &mut Network) -> &mut Dns {
    network.dns.get_or_insert_with(Dns::default)
}

/// Removes the one entry `matching` names, with libvirt's messages for none and several.
fn delete_one<T>(
    list: &mut Vec<T>,
    matching: &[usize],
    none: String,
    several: String,
) -> Result<()> {
    match matching {
        [] => Err(invalid(none)),
        [found] => {
            list.remove(*found);
            Ok(())
        }
        _ => Err(invalid(several)),
    }
}

/// `virNetworkDefUpdateDNSHost`: an added host must not reuse an address (several hosts may
/// share a name); a deleted one is found by address or by any of its names.
fn dns_host(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let change = cmd.add_or_delete("DNS HOST records")?;
    expect_element(network, node, "host")?;
    let name = network.name().to_string();
    let host = parse::dns_host(&name, node, change != AddOrDelete::Add)?;
    let hosts = &mut dns_of(network).hosts;
    let matching: Vec<usize> = hosts
        .iter()
        .enumerate()
        .filter(|(_, existing)| {
            same_ip(host.ip.as_deref(), existing.ip.as_deref())
                || (change != AddOrDelete::Add
                    && host
                        .hostnames
                        .iter()
                        .any(|hostname| existing.hostnames.contains(hostname)))
        })
        .map(|(idx, _)| idx)
        .collect();
    match change {
        AddOrDelete::Add => {
            if !matching.is_empty() {
                return Err(invalid(format!(
                    "there is already at least one DNS HOST record with a matching field in network {name}"
                )));
            }
            cmd.insert(hosts, host);
        }
        AddOrDelete::Delete => delete_one(
            hosts,
            &matching,
            format!("couldn't locate a matching DNS HOST record in network {name}"),
            format!("multiple matching DNS HOST records were found in network {name}"),
        )?,
        AddOrDelete::Unknown(code) => return Err(unknown_command(code)),
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSSrv`: records match on every field the fragment gives among
/// domain, service, protocol and target.
fn dns_srv(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let change = cmd.add_or_delete("DNS SRV records")?;
    expect_element(network, node, "srv")?;
    let name = network.name().to_string();
    let srv = parse::dns_srv(&name, node, change != AddOrDelete::Add)?;
    let field = |mine: &Option<String>, theirs: &Option<String>| mine.is_none() || mine == theirs;
    let srvs = &mut dns_of(network).srvs;
    let matching: Vec<usize> = srvs
        .iter()
        .enumerate()
        .filter(|(_, existing)| {
            field(&srv.domain, &existing.domain)
                && field(&srv.service, &existing.service)
                && field(&srv.protocol, &existing.protocol)
                && field(&srv.target, &existing.target)
        })
        .map(|(idx, _)| idx)
        .collect();
    match change {
        AddOrDelete::Add => {
            if !matching.is_empty() {
                return Err(invalid(format!(
                    "there is already at least one DNS SRV record matching all specified fields in network {name}"
                )));
            }
            cmd.insert(srvs, srv);
        }
        AddOrDelete::Delete => delete_one(
            srvs,
            &matching,
            format!("couldn't locate a matching DNS SRV record in network {name}"),
            format!(
                "multiple DNS SRV records matching all specified fields were found in network {name}"
            ),
        )?,
        AddOrDelete::Unknown(code) => return Err(unknown_command(code)),
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSTxt`: records are identified by name.
fn dns_txt(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let change = cmd.add_or_delete("DNS TXT records")?;
    expect_element(network, node, "txt")?;
    let name = network.name().to_string();
    let txt = parse::dns_txt(&name, node, change != AddOrDelete::Add)?;
    let txt_name = txt.name.clone().unwrap_or_default();
    let txts = &mut dns_of(network).txts;
    let found = txts
        .iter()
        .position(|existing| existing.name.as_deref() == Some(txt_name.as_str()));
    match (change, found) {
        (AddOrDelete::Add, Some(_)) => Err(invalid(format!(
            "there is already a DNS TXT record with name '{txt_name}' in network {name}"
        ))),
        (AddOrDelete::Add, None) => {
            cmd.insert(txts, txt);
            Ok(())
        }
        (AddOrDelete::Delete, Some(found)) => {
            txts.remove(found);
            Ok(())
        }
        (AddOrDelete::Delete, None) => Err(invalid(format!(
            "couldn't locate a matching DNS TXT record in network {name}"
        ))),
        (AddOrDelete::Unknown(code), _) => Err(unknown_command(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADD_LAST: u32 = command::ADD_LAST as u32;
    const ADD_FIRST: u32 = command::ADD_FIRST as u32;
    const DELETE: u32 = command::DELETE as u32;
    const DHCP_HOST: u32 = section::IP_DHCP_HOST as u32;
    const FORWARD_INTERFACE: u32 = section::FORWARD_INTERFACE as u32;

    fn network(xml: &str) -> Network {
        Network::parse(xml).expect("test network")
    }

    fn refused(network: &mut Network, cmd: u32, sec: u32, index: i32, xml: &str) -> Error {
        let before = network.clone();
        let error = network
            .update_section(cmd, sec, index, xml, 0)
            .expect_err("update refused");
        assert_eq!(*network, before, "a refused update changes nothing");
        error
    }

    #[test]
    fn interface_in_use_is_not_deleted() {
        let mut net = network(
            "<network><name>pool</name><forward mode='bridge'>\
             <interface dev='eth0' connections='2'/><interface dev='eth1'/></forward></network>",
        );
        let error = refused(
            &mut net,
            DELETE,
            FORWARD_INTERFACE,
            -1,
            "<interface dev='eth0'/>",
        );
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        assert_eq!(
            error.message(),
            "Requested operation is not valid: unable to delete interface 'eth0' in network \
             'pool'. It is currently being used  by 2 domains."
        );
        net.update_section(DELETE, FORWARD_INTERFACE, -1, "<interface dev='eth1'/>", 0)
            .expect("unused interface");
        assert_eq!(
            net.forward.as_ref().and_then(|f| f.dev.as_deref()),
            Some("eth0")
        );
    }

    #[test]
    fn interface_first_in_a_pci_pool_is_refused() {
        let mut net = network(
            "<network><name>vfs</name><forward mode='hostdev' managed='yes'>\
             <address type='pci' domain='0' bus='3' slot='0' function='1'/></forward></network>",
        );
        let error = refused(
            &mut net,
            ADD_FIRST,
            FORWARD_INTERFACE,
            -1,
            "<interface dev='eth0'/>",
        );
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
        assert!(error.message().contains("'dev' attribute cannot be used"));
    }

    #[test]
    fn unknown_command_is_printed_signed() {
        let mut net =
            network("<network><name>n</name><ip address='10.0.0.1' prefix='24'/></network>");
        let error = refused(
            &mut net,
            u32::MAX,
            DHCP_HOST,
            -1,
            "<host name='a' ip='10.0.0.2'/>",
        );
        assert_eq!(error.code(), ErrorNumber::OPERATION_UNSUPPORTED);
        assert_eq!(
            error.message(),
            "Operation not supported: unrecognized network update command code -1"
        );
        // Sections libvirt cannot update refuse before looking at the command.
        let error = refused(&mut net, 77, section::BRIDGE as u32, -1, "<bridge/>");
        assert_eq!(
            error.message(),
            "Operation not supported: can't update 'bridge' section of network 'n'"
        );
    }

    #[test]
    fn automatic_parent_is_the_ip_with_dhcp_entries() {
        let mut net = network(
            "<network><name>n</name>\
             <ip address='10.0.0.1' prefix='24'/>\
             <ip address='10.0.1.1' prefix='24'><dhcp>\
             <range start='10.0.1.10' end='10.0.1.20'/></dhcp></ip></network>",
        );
        net.update_section(ADD_LAST, DHCP_HOST, -1, "<host name='a' ip='10.0.1.5'/>", 0)
            .expect("added to the second <ip>");
        assert!(net.ips[0].dhcp.is_none());
        assert_eq!(net.ips[1].dhcp.as_ref().map(|d| d.hosts.len()), Some(1));
        // Without any DHCP entry, the first IPv4 address is chosen over an IPv6 one.
        let mut net = network(
            "<network><name>n</name><ip family='ipv6' address='fd00::1' prefix='64'/>\
             <ip address='10.0.0.1' prefix='24'/></network>",
        );
        net.update_section(ADD_LAST, DHCP_HOST, -1, "<host name='a' ip='10.0.0.5'/>", 0)
            .expect("added to the IPv4 <ip>");
        assert_eq!(net.ips[1].dhcp.as_ref().map(|d| d.hosts.len()), Some(1));
    }

    #[test]
    fn second_ipv6_dhcp_is_refused() {
        let mut net = network(
            "<network><name>n</name>\
             <ip family='ipv6' address='fd00::1' prefix='64'><dhcp>\
             <host name='a' ip='fd00::5'/></dhcp></ip>\
             <ip family='ipv6' address='fd01::1' prefix='64'/></network>",
        );
        let error = refused(
            &mut net,
            ADD_LAST,
            DHCP_HOST,
            1,
            "<host name='b' ip='fd01::5'/>",
        );
        assert_eq!(
            error.message(),
            "Requested operation is not valid: dhcp is supported only for a single IPv6 \
             address on each network"
        );
    }

    #[test]
    fn delete_with_mac_matches_a_host_without_one() {
        let mut net = network(
            "<network><name>n</name><ip address='10.0.0.1' prefix='24'><dhcp>\
             <host name='a' ip='10.0.0.5'/></dhcp></ip></network>",
        );
        net.update_section(
            DELETE,
            DHCP_HOST,
            -1,
            "<host mac='52:54:00:00:00:01' name='a'/>",
            0,
        )
        .expect("deleted");
        assert!(net.ips[0].dhcp.is_none(), "an emptied <dhcp> is dropped");
    }

    #[test]
    fn malformed_fragment_names_the_update() {
        let mut net = network("<network><name>n</name></network>");
        let error = refused(&mut net, ADD_LAST, DHCP_HOST, -1, "");
        assert_eq!(error.code(), ErrorNumber::XML_DETAIL);
        assert_eq!(error.domain(), ErrorDomain::NETWORK);
        assert!(
            error.message().starts_with("network_update_xml:"),
            "{error:?}"
        );
    }

    #[test]
    fn mac_addresses_compare_as_libvirt_compares_them() {
        assert!(same_mac("52:54:00:0A:00:01", "52:54:0:a:0:1"));
        assert!(!same_mac("52:54:00:0a:00:01", "52:54:00:0a:00:10"));
        assert_eq!(
            parse::parse_mac("52:54:00:0a:00:01 trailing"),
            Some([0x52, 0x54, 0, 0x0a, 0, 1])
        );
        assert_eq!(parse::parse_mac("52:54:00:0a:00"), None);
        assert_eq!(parse::parse_mac("52:54:00:0a:00:001"), None);
        assert_eq!(parse::parse_mac("52-54-00-0a-00-01"), None);
    }
}
