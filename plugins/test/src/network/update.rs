//! `virNetworkDefUpdateSection`: adding, changing and removing one entry of a network
//! definition (a DHCP host or range, a DNS host, TXT or SRV record, a port group, a forward
//! interface), with libvirt's matching rules and messages. The entries are `virt-xml`'s
//! network model types; this module only decides where they go.

use std::net::IpAddr;

use virt_core::consts::{network_update_command as command, network_update_section as section};
use virt_core::{Error, ErrorDomain, ErrorNumber, Result};
use virt_xml::network::{
    Dhcp, DhcpHost, DhcpRange, Dns, DnsHost, DnsSrv, DnsTxt, ForwardInterface, Network, NetworkIp,
    PortGroup,
};
use virt_xml::xml::{parse_document, Node, XmlElement};

fn net_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::NETWORK, detail)
}

fn invalid(detail: impl AsRef<str>) -> Error {
    net_error(ErrorNumber::OPERATION_INVALID, detail)
}

fn xml_error(detail: impl AsRef<str>) -> Error {
    net_error(ErrorNumber::XML_ERROR, detail)
}

fn unsupported(detail: impl AsRef<str>) -> Error {
    net_error(ErrorNumber::OPERATION_UNSUPPORTED, detail)
}

/// What an update does with its entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Command {
    Modify,
    Delete,
    AddLast,
    AddFirst,
}

impl Command {
    fn from_code(code: u32) -> Result<Command> {
        match code as i32 {
            command::MODIFY => Ok(Command::Modify),
            command::DELETE => Ok(Command::Delete),
            command::ADD_LAST => Ok(Command::AddLast),
            command::ADD_FIRST => Ok(Command::AddFirst),
            _ => Err(unsupported(format!(
                "unrecognized network update command code {code}"
            ))),
        }
    }

    fn is_add(self) -> bool {
        matches!(self, Command::AddLast | Command::AddFirst)
    }

    /// Inserts at the front or the back, as the command says.
    fn insert<T>(self, list: &mut Vec<T>, item: T) {
        match self {
            Command::AddFirst => list.insert(0, item),
            _ => list.push(item),
        }
    }
}

/// Applies one update to `network`; nothing changes when it fails.
pub(crate) fn update(
    network: &mut Network,
    command_code: u32,
    section_code: u32,
    parent_index: i32,
    xml: &str,
) -> Result<()> {
    let doc = parse_document(xml, "network_update_xml", ErrorDomain::NETWORK)?;
    let node = &doc.root;
    let name = network.name().to_string();
    let no_support =
        |what: &str| unsupported(format!("can't update '{what}' section of network '{name}'"));
    let mut changed = network.clone();
    match section_code as i32 {
        section::BRIDGE => return Err(no_support("bridge")),
        section::DOMAIN => return Err(no_support("domain")),
        section::IP => return Err(no_support("ip")),
        section::FORWARD => return Err(no_support("forward")),
        section::FORWARD_PF => return Err(no_support("forward pf")),
        section::IP_DHCP_HOST => dhcp_host(
            &mut changed,
            Command::from_code(command_code)?,
            parent_index,
            node,
        )?,
        section::IP_DHCP_RANGE => dhcp_range(
            &mut changed,
            Command::from_code(command_code)?,
            parent_index,
            node,
        )?,
        section::FORWARD_INTERFACE => {
            forward_interface(&mut changed, Command::from_code(command_code)?, node)?
        }
        section::PORTGROUP => portgroup(&mut changed, Command::from_code(command_code)?, node)?,
        section::DNS_HOST => dns_host(&mut changed, Command::from_code(command_code)?, node)?,
        section::DNS_TXT => dns_txt(&mut changed, Command::from_code(command_code)?, node)?,
        section::DNS_SRV => dns_srv(&mut changed, Command::from_code(command_code)?, node)?,
        _ => return Err(unsupported("can't update unrecognized section of network")),
    }
    *network = changed;
    Ok(())
}

/// `virNetworkDefUpdateCheckElementName`.
fn expect_element(network: &Network, node: &Node<'_>, section: &str) -> Result<()> {
    if node.name() != section {
        return Err(xml_error(format!(
            "unexpected element <{}>, expecting <{section}>, while updating network '{}'",
            node.name(),
            network.name()
        )));
    }
    Ok(())
}

fn family(ip: &NetworkIp) -> Option<bool> {
    if ip.family.as_deref() == Some("ipv6") {
        return Some(true);
    }
    ip.address
        .as_deref()
        .and_then(|a| a.parse::<IpAddr>().ok())
        .map(|a| a.is_ipv6())
}

fn has_dhcp_entries(ip: &NetworkIp) -> bool {
    ip.dhcp
        .as_ref()
        .is_some_and(|dhcp| !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty())
}

/// `virNetworkIPDefByIndex`: the `<ip>` a DHCP change applies to.
fn ip_by_index(network: &mut Network, parent_index: i32) -> Result<usize> {
    let name = network.name().to_string();
    if parent_index >= 0 {
        if (parent_index as usize) < network.ips.len() {
            return Ok(parent_index as usize);
        }
        return Err(invalid(format!(
            "couldn't update dhcp host entry - no <ip> element found at index {parent_index} in network '{name}'"
        )));
    }
    if let Some(idx) = network.ips.iter().position(has_dhcp_entries) {
        return Ok(idx);
    }
    let first = |v6: bool| network.ips.iter().position(|ip| family(ip) == Some(v6));
    first(false).or_else(|| first(true)).ok_or_else(|| {
        invalid(format!(
            "couldn't update dhcp host entry - no <ip> element found in network '{name}'"
        ))
    })
}

/// `virNetworkDefUpdateCheckMultiDHCP`: DHCP on one address per family only.
fn check_single_dhcp(network: &Network, idx: usize) -> Result<()> {
    let v6 = family(&network.ips[idx]);
    let other = network
        .ips
        .iter()
        .enumerate()
        .any(|(i, ip)| i != idx && family(ip) == v6 && has_dhcp_entries(ip));
    if other {
        let name = if v6 == Some(true) { "IPv6" } else { "IPv4" };
        return Err(invalid(format!(
            "dhcp is supported only for a single {name} address on each network"
        )));
    }
    Ok(())
}

fn same_ip(a: Option<&str>, b: Option<&str>) -> bool {
    match (
        a.and_then(|a| a.parse::<IpAddr>().ok()),
        b.and_then(|b| b.parse::<IpAddr>().ok()),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn same_mac(a: Option<&str>, b: Option<&str>) -> bool {
    match (
        a.and_then(virt_xml::domain::parse_mac),
        b.and_then(virt_xml::domain::parse_mac),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `virNetworkDHCPHostDefParseXML`.
fn parse_dhcp_host(network: &str, v6: bool, node: &Node<'_>, partial: bool) -> Result<DhcpHost> {
    let host = DhcpHost::from_node(node)?;
    if let Some(mac) = host.mac.clone() {
        if v6 {
            return Err(xml_error(format!(
                "Invalid to specify MAC address '{mac}' in network '{network}' IPv6 static host definition"
            )));
        }
        let Some(bytes) = virt_xml::domain::parse_mac(&mac) else {
            return Err(xml_error(format!(
                "Cannot parse MAC address '{mac}' in network '{network}'"
            )));
        };
        if bytes[0] & 1 != 0 {
            return Err(xml_error(format!(
                "expected unicast mac address, found multicast '{mac}' in network '{network}'"
            )));
        }
    }
    if let Some(id) = &host.id {
        if let Some(bad) = id.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
            return Err(xml_error(format!(
                "Invalid character '{bad}' in id '{id}' of network '{network}'"
            )));
        }
    }
    if let Some(name) = &host.name {
        if !name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        {
            return Err(xml_error(format!(
                "Cannot use host name '{name}' in network '{network}'"
            )));
        }
    }
    if let Some(ip) = &host.ip {
        if ip.parse::<IpAddr>().is_err() {
            return Err(xml_error(format!(
                "Invalid IP address in static host definition for network '{network}'"
            )));
        }
    }
    if partial {
        if host.mac.is_none() && host.name.is_none() && host.ip.is_none() {
            return Err(xml_error(format!(
                "At least one of name, mac, or ip attribute must be specified for static host definition in network '{network}' "
            )));
        }
    } else {
        if v6 && host.id.is_none() && host.name.is_none() {
            return Err(xml_error(format!(
                "Static host definition in IPv6 network '{network}' must have id or name attribute"
            )));
        }
        if !v6 && host.mac.is_none() && host.name.is_none() {
            return Err(xml_error(format!(
                "Static host definition in IPv4 network '{network}' must have mac or name attribute"
            )));
        }
        if host.ip.is_none() {
            return Err(xml_error(format!(
                "Missing IP address in static host definition for network '{network}'"
            )));
        }
    }
    Ok(host)
}

/// `virNetworkDefUpdateIPDHCPHost`.
fn dhcp_host(
    network: &mut Network,
    cmd: Command,
    parent_index: i32,
    node: &Node<'_>,
) -> Result<()> {
    let name = network.name().to_string();
    expect_element(network, node, "host")?;
    let idx = ip_by_index(network, parent_index)?;
    let v6 = family(&network.ips[idx]) == Some(true);
    let host = parse_dhcp_host(&name, v6, node, cmd == Command::Delete)?;
    let host_v6 = host
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .map(|ip| ip.is_ipv6());
    if cmd != Command::Delete && host_v6 != Some(v6) {
        return Err(invalid(
            "the address family of a host entry IP must match the address family of the dhcp element's parent",
        ));
    }
    let describe = |host: &DhcpHost| {
        format!(
            "\"mac='{}'\" \"name='{}'\" \"ip='{}'\"",
            host.mac.as_deref().unwrap_or("unknown"),
            host.name.as_deref().unwrap_or("(null)"),
            host.ip.as_deref().unwrap_or("unknown")
        )
    };
    if cmd.is_add() {
        check_single_dhcp(network, idx)?;
    }
    let hosts = &mut network.ips[idx]
        .dhcp
        .get_or_insert_with(Dhcp::default)
        .hosts;
    let matches_any = |existing: &DhcpHost| {
        same_mac(host.mac.as_deref(), existing.mac.as_deref())
            || (host.name.is_some() && host.name == existing.name)
            || same_ip(host.ip.as_deref(), existing.ip.as_deref())
    };
    match cmd {
        Command::Modify => {
            let Some(found) = hosts.iter().position(matches_any) else {
                return Err(invalid(format!(
                    "couldn't locate an existing dhcp host entry with {} in network '{name}'",
                    describe(&host)
                )));
            };
            hosts[found] = host;
        }
        Command::AddFirst | Command::AddLast => {
            if hosts.iter().any(matches_any) {
                return Err(invalid(format!(
                    "there is an existing dhcp host entry in network '{name}' that matches \"<host mac='{}' name='{}' ip='{}'/>\"",
                    host.mac.as_deref().unwrap_or("unknown"),
                    host.name.as_deref().unwrap_or("(null)"),
                    host.ip.as_deref().unwrap_or("unknown")
                )));
            }
            cmd.insert(hosts, host);
        }
        Command::Delete => {
            let found = hosts.iter().position(|existing| {
                (host.mac.is_none()
                    || existing.mac.is_none()
                    || same_mac(host.mac.as_deref(), existing.mac.as_deref()))
                    && (host.name.is_none() || host.name == existing.name)
                    && (host.ip.is_none() || same_ip(host.ip.as_deref(), existing.ip.as_deref()))
            });
            let Some(found) = found else {
                return Err(invalid(format!(
                    "couldn't locate a matching dhcp host entry in network '{name}'"
                )));
            };
            hosts.remove(found);
        }
    }
    Ok(())
}

/// `virNetworkDefUpdateIPDHCPRange`.
fn dhcp_range(
    network: &mut Network,
    cmd: Command,
    parent_index: i32,
    node: &Node<'_>,
) -> Result<()> {
    let name = network.name().to_string();
    expect_element(network, node, "range")?;
    let idx = ip_by_index(network, parent_index)?;
    if cmd == Command::Modify {
        return Err(unsupported(
            "dhcp ranges cannot be modified, only added or deleted",
        ));
    }
    let range = DhcpRange::from_node(node)?;
    let parse = |attr: &Option<String>, what: &str| -> Result<IpAddr> {
        let Some(text) = attr else {
            return Err(xml_error(format!(
                "Missing '{what}' attribute in dhcp range for network '{name}'"
            )));
        };
        text.parse::<IpAddr>().map_err(|_| {
            net_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Cannot parse address '{text}'"),
            )
        })
    };
    let start = parse(&range.start, "start")?;
    let end = parse(&range.end, "end")?;
    let v6 = family(&network.ips[idx]) == Some(true);
    if start.is_ipv6() != v6 || end.is_ipv6() != v6 {
        return Err(invalid(
            "the address family of a dhcp range must match the address family of the dhcp element's parent",
        ));
    }
    if cmd.is_add() {
        check_single_dhcp(network, idx)?;
    }
    let ranges = &mut network.ips[idx]
        .dhcp
        .get_or_insert_with(Dhcp::default)
        .ranges;
    let found = ranges.iter().position(|existing| {
        same_ip(existing.start.as_deref(), range.start.as_deref())
            && same_ip(existing.end.as_deref(), range.end.as_deref())
    });
    match (cmd, found) {
        (Command::Delete, Some(found)) => {
            ranges.remove(found);
        }
        (Command::Delete, None) => {
            return Err(invalid(format!(
                "couldn't locate a matching dhcp range entry in network '{name}'"
            )));
        }
        (_, Some(_)) => {
            return Err(invalid(format!(
                "there is an existing dhcp range entry in network '{name}' that matches \"<range start='{start}' end='{end}'/>\""
            )));
        }
        (_, None) => cmd.insert(ranges, range),
    }
    Ok(())
}

/// `virNetworkDefUpdateForwardInterface`.
fn forward_interface(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let name = network.name().to_string();
    expect_element(network, node, "interface")?;
    if cmd == Command::Modify {
        return Err(unsupported(
            "forward interface entries cannot be modified, only added or deleted",
        ));
    }
    let iface = ForwardInterface::from_node(node)?;
    let Some(dev) = iface.dev.clone() else {
        return Err(xml_error("missing dev attribute in <interface> element"));
    };
    let interfaces = &mut network
        .forward
        .get_or_insert_with(Default::default)
        .interfaces;
    let found = interfaces
        .iter()
        .position(|existing| existing.dev.as_deref() == Some(dev.as_str()));
    match (cmd, found) {
        (Command::Delete, Some(found)) => {
            interfaces.remove(found);
        }
        (Command::Delete, None) => {
            return Err(invalid(format!(
                "couldn't find an interface entry in network '{name}' matching <interface dev='{dev}'>"
            )));
        }
        (_, Some(_)) => {
            return Err(invalid(format!(
                "there is an existing interface entry in network '{name}' that matches \"<interface dev='{dev}'>\""
            )));
        }
        (_, None) => cmd.insert(interfaces, iface),
    }
    Ok(())
}

/// `virNetworkDefUpdatePortGroup`.
fn portgroup(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let name = network.name().to_string();
    expect_element(network, node, "portgroup")?;
    let group = PortGroup::from_node(node)?;
    let Some(group_name) = group.name.clone() else {
        return Err(xml_error("Missing required name attribute in portgroup"));
    };
    let is_default = |g: &PortGroup| g.default.is_some_and(|d| d.is_yes());
    let found_name = network
        .portgroups
        .iter()
        .position(|g| g.name.as_deref() == Some(group_name.as_str()));
    let found_default = network.portgroups.iter().position(is_default);
    match (cmd, found_name) {
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
        _ => {}
    }
    if cmd != Command::Delete
        && is_default(&group)
        && found_default.is_some()
        && found_default != found_name
    {
        return Err(invalid(format!(
            "a different portgroup entry in network '{name}' is already set as the default. Only one default is allowed."
        )));
    }
    match (cmd, found_name) {
        (Command::Modify, Some(found)) => network.portgroups[found] = group,
        (Command::Delete, Some(found)) => {
            network.portgroups.remove(found);
        }
        _ => cmd.insert(&mut network.portgroups, group),
    }
    Ok(())
}

fn dns(network: &mut Network) -> &mut Dns {
    network.dns.get_or_insert_with(Dns::default)
}

/// `virNetworkDefUpdateDNSHost`.
fn dns_host(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let name = network.name().to_string();
    if cmd == Command::Modify {
        return Err(unsupported(
            "DNS HOST records cannot be modified, only added or deleted",
        ));
    }
    expect_element(network, node, "host")?;
    let host = DnsHost::from_node(node)?;
    let detail = |text: String| net_error(ErrorNumber::XML_DETAIL, text);
    match &host.ip {
        Some(ip) if ip.parse::<IpAddr>().is_err() => {
            return Err(detail(format!(
                "Invalid IP address in network '{name}' DNS HOST record"
            )));
        }
        None if cmd.is_add() => {
            return Err(detail(format!(
                "Missing IP address in network '{name}' DNS HOST record"
            )));
        }
        _ => {}
    }
    if host.hostnames.iter().any(String::is_empty) || (cmd.is_add() && host.hostnames.is_empty()) {
        return Err(detail(format!(
            "Missing hostname in network '{name}' DNS HOST record"
        )));
    }
    if host.ip.is_none() && host.hostnames.is_empty() {
        return Err(detail(format!(
            "Missing ip and hostname in network '{name}' DNS HOST record"
        )));
    }
    let hosts = &mut dns(network).hosts;
    let matching: Vec<usize> = hosts
        .iter()
        .enumerate()
        .filter(|(_, existing)| {
            same_ip(host.ip.as_deref(), existing.ip.as_deref())
                || (!cmd.is_add()
                    && host
                        .hostnames
                        .iter()
                        .any(|n| existing.hostnames.contains(n)))
        })
        .map(|(idx, _)| idx)
        .collect();
    if cmd.is_add() {
        if !matching.is_empty() {
            return Err(invalid(format!(
                "there is already at least one DNS HOST record with a matching field in network {name}"
            )));
        }
        cmd.insert(hosts, host);
    } else {
        match matching.as_slice() {
            [] => {
                return Err(invalid(format!(
                    "couldn't locate a matching DNS HOST record in network {name}"
                )))
            }
            [found] => {
                hosts.remove(*found);
            }
            _ => {
                return Err(invalid(format!(
                    "multiple matching DNS HOST records were found in network {name}"
                )))
            }
        }
    }
    Ok(())
}

/// `virNetworkDefUpdateDNSTxt`.
fn dns_txt(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let name = network.name().to_string();
    if cmd == Command::Modify {
        return Err(unsupported(
            "DNS TXT records cannot be modified, only added or deleted",
        ));
    }
    expect_element(network, node, "txt")?;
    let txt = DnsTxt::from_node(node)?;
    let detail = |text: String| net_error(ErrorNumber::XML_DETAIL, text);
    let Some(txt_name) = txt.name.clone() else {
        return Err(detail(format!(
            "missing required name attribute in DNS TXT record of network {name}"
        )));
    };
    if txt_name.contains([' ', '\t']) {
        return Err(detail(format!(
            "prohibited character in DNS TXT record name '{txt_name}' of network {name}"
        )));
    }
    if cmd.is_add() && txt.value.is_none() {
        return Err(detail(format!(
            "missing required value attribute in DNS TXT record named '{txt_name}' of network {name}"
        )));
    }
    let txts = &mut dns(network).txts;
    let found = txts
        .iter()
        .position(|existing| existing.name.as_deref() == Some(txt_name.as_str()));
    match (cmd.is_add(), found) {
        (true, Some(_)) => Err(invalid(format!(
            "there is already a DNS TXT record with name '{txt_name}' in network {name}"
        ))),
        (true, None) => {
            cmd.insert(txts, txt);
            Ok(())
        }
        (false, Some(found)) => {
            txts.remove(found);
            Ok(())
        }
        (false, None) => Err(invalid(format!(
            "couldn't locate a matching DNS TXT record in network {name}"
        ))),
    }
}

/// `virNetworkDefUpdateDNSSrv`.
fn dns_srv(network: &mut Network, cmd: Command, node: &Node<'_>) -> Result<()> {
    let name = network.name().to_string();
    if cmd == Command::Modify {
        return Err(unsupported(
            "DNS SRV records cannot be modified, only added or deleted",
        ));
    }
    expect_element(network, node, "srv")?;
    let srv = DnsSrv::from_node(node)?;
    if srv.service.is_none() && cmd.is_add() {
        return Err(net_error(
            ErrorNumber::XML_DETAIL,
            format!("missing required service attribute in DNS SRV record of network '{name}'"),
        ));
    }
    let srvs = &mut dns(network).srvs;
    let field = |mine: &Option<String>, theirs: &Option<String>| mine.is_none() || mine == theirs;
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
    if cmd.is_add() {
        if !matching.is_empty() {
            return Err(invalid(format!(
                "there is already at least one DNS SRV record matching all specified fields in network {name}"
            )));
        }
        cmd.insert(srvs, srv);
        return Ok(());
    }
    match matching.as_slice() {
        [] => Err(invalid(format!(
            "couldn't locate a matching DNS SRV record in network {name}"
        ))),
        [found] => {
            srvs.remove(*found);
            Ok(())
        }
        _ => Err(invalid(format!(
            "multiple DNS SRV records matching all specified fields were found in network {name}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_network() -> Network {
        let mut network = Network::parse(
            "<network><name>default</name><bridge name='virbr0'/><forward/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
        )
        .expect("network");
        network.post_parse().expect("post parse");
        network
    }

    const ADD_LAST: u32 = command::ADD_LAST as u32;
    const DELETE: u32 = command::DELETE as u32;
    const MODIFY: u32 = command::MODIFY as u32;
    const DHCP_HOST: u32 = section::IP_DHCP_HOST as u32;

    #[test]
    fn dhcp_hosts() {
        let mut network = default_network();
        let host = "<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>";
        update(&mut network, ADD_LAST, DHCP_HOST, -1, host).expect("add");
        assert!(network
            .format(&Default::default())
            .contains("<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>"));
        let error = update(&mut network, ADD_LAST, DHCP_HOST, -1, host).expect_err("duplicate");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        update(
            &mut network,
            MODIFY,
            DHCP_HOST,
            -1,
            "<host mac='52:54:00:00:00:01' name='b' ip='192.168.122.11'/>",
        )
        .expect("modify");
        update(&mut network, DELETE, DHCP_HOST, -1, "<host name='b'/>").expect("delete");
        assert!(!network.format(&Default::default()).contains("<host "));
        let before = network.clone();
        let error =
            update(&mut network, ADD_LAST, DHCP_HOST, -1, "<range/>").expect_err("wrong element");
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
        let error = update(&mut network, ADD_LAST, DHCP_HOST, 3, host).expect_err("no such ip");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        let error = update(
            &mut network,
            ADD_LAST,
            section::BRIDGE as u32,
            -1,
            "<bridge/>",
        )
        .expect_err("bridge");
        assert_eq!(
            error.message(),
            "Operation not supported: can't update 'bridge' section of network 'default'"
        );
        assert_eq!(network, before, "failed updates change nothing");
    }

    #[test]
    fn dns_and_portgroups() {
        let mut network = default_network();
        update(
            &mut network,
            ADD_LAST,
            section::DNS_HOST as u32,
            -1,
            "<host ip='10.0.0.1'><hostname>h</hostname></host>",
        )
        .expect("dns host");
        update(
            &mut network,
            ADD_LAST,
            section::DNS_TXT as u32,
            -1,
            "<txt name='t' value='v'/>",
        )
        .expect("txt");
        update(
            &mut network,
            ADD_LAST,
            section::PORTGROUP as u32,
            -1,
            "<portgroup name='pg' default='yes'/>",
        )
        .expect("portgroup");
        let error = update(
            &mut network,
            ADD_LAST,
            section::PORTGROUP as u32,
            -1,
            "<portgroup name='pg2' default='yes'/>",
        )
        .expect_err("second default");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        update(
            &mut network,
            DELETE,
            section::DNS_HOST as u32,
            -1,
            "<host><hostname>h</hostname></host>",
        )
        .expect("delete");
        let xml = network.format(&Default::default());
        assert!(
            xml.contains("<txt name='t' value='v'/>")
                && xml.contains("<portgroup name='pg' default='yes'"),
            "{xml}"
        );
    }
}
