//! Reading `<network>` with the rules of libvirt's `virNetworkDefParseXML`: which attributes
//! are required, which values are refused (with libvirt's message and error number), and what
//! libvirt normalises while reading (canonical IP addresses, the lease unit, a portgroup's
//! `default`, the forward device).
//!
//! The entry readers (DHCP host and range, DNS host, SRV and TXT record, port group) are also
//! what `virNetworkUpdate` parses its fragment with, some of them in a "partial" mode where an
//! entry only has to name what it matches.

use std::net::IpAddr;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use super::address;
use super::{
    Bootp, Dhcp, DhcpHost, DhcpLease, DhcpRange, Dns, DnsForwarder, DnsHost, DnsSrv, DnsTxt,
    Forward, ForwardInterface, ForwardMode, Nat, Network, NetworkBridge, NetworkDomain, NetworkIp,
    NetworkMac, NetworkMtu, PortGroup, Tftp, DNSMASQ_NAMESPACE,
};
use crate::domain::address::Address;
use crate::metadata::Metadata;
use crate::xml::{
    self, parse_unsigned, parse_unsigned_auto, ChildField, Node, OnOff, XmlElement, YesNo,
};
use crate::Result;

/// An error of the network configuration code (`VIR_FROM_NETWORK`).
pub(super) fn error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::NETWORK, detail)
}

fn xml_error(detail: impl AsRef<str>) -> Error {
    error(ErrorNumber::XML_ERROR, detail)
}

fn xml_detail(detail: impl AsRef<str>) -> Error {
    error(ErrorNumber::XML_DETAIL, detail)
}

fn config_unsupported(detail: impl AsRef<str>) -> Error {
    error(ErrorNumber::CONFIG_UNSUPPORTED, detail)
}

/// How C's `printf("%s")` shows an absent string.
pub(super) fn or_null(text: Option<&str>) -> &str {
    text.unwrap_or("(null)")
}

/// An attribute as libvirt's XPath `string(./@name)` reads it: an empty value is no value.
fn xpath_attr<'n>(node: &'n Node<'_>, name: &str) -> Option<&'n str> {
    node.attr(name).filter(|value| !value.is_empty())
}

/// `virXPathUInt`: absent, not a number, or the number.
enum XpathUint {
    Absent,
    Invalid,
    Value(u32),
}

fn xpath_uint(node: &Node<'_>, name: &str) -> XpathUint {
    match xpath_attr(node, name) {
        None => XpathUint::Absent,
        Some(text) => match parse_unsigned(text).and_then(|n| u32::try_from(n).ok()) {
            Some(value) => XpathUint::Value(value),
            None => XpathUint::Invalid,
        },
    }
}

/// `virMacAddrParse`: six colon-separated groups of one or two hex digits, optionally
/// followed by a blank or control character and anything after it.
pub(super) fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let bytes = text.as_bytes();
    let mut mac = [0u8; 6];
    let mut pos = 0;
    for (idx, byte) in mac.iter_mut().enumerate() {
        let digits = bytes[pos..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if !(1..=2).contains(&digits) {
            return None;
        }
        *byte = u8::from_str_radix(&text[pos..pos + digits], 16).ok()?;
        pos += digits;
        let next = bytes.get(pos).copied().unwrap_or(0);
        if idx == 5 {
            return (next <= b' ').then_some(mac);
        }
        if next != b':' {
            return None;
        }
        pos += 1;
    }
    None
}

/// `virMacAddrCompare`: equal ignoring case and leading zeros.
pub(super) fn same_mac(a: &str, b: &str) -> bool {
    fn skip_zeros(text: &[u8], mut pos: usize) -> usize {
        while text.get(pos) == Some(&b'0') && text.get(pos + 1).is_some_and(u8::is_ascii_hexdigit) {
            pos += 1;
        }
        pos
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        i = skip_zeros(a, i);
        j = skip_zeros(b, j);
        let c = a.get(i).map_or(0, u8::to_ascii_lowercase);
        let d = b.get(j).map_or(0, u8::to_ascii_lowercase);
        if c == 0 || d == 0 || c != d {
            return c == d;
        }
        i += 1;
        j += 1;
    }
}

/// The `<ip>` element a DHCP entry belongs to: its address and prefix.
#[derive(Debug, Clone, Copy)]
pub(super) struct IpScope {
    pub address: IpAddr,
    pub prefix: i64,
}

impl IpScope {
    /// The scope of an `<ip>` of a network read by this module (`None` only for a model
    /// built by hand without a valid address).
    pub fn of(ip: &NetworkIp) -> Option<IpScope> {
        let address = address::parse_quiet(ip.address.as_deref()?)?;
        let netmask = ip.netmask.as_deref().and_then(address::parse_quiet);
        Some(IpScope {
            address,
            prefix: address::prefix_of(&address, netmask.as_ref(), ip.prefix),
        })
    }

    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }
}

/// `virNetworkDHCPLeaseTimeDefParseXML` over every `<lease>` child (the last one with an
/// `expiry` wins, as in libvirt).
fn lease(parent: &Node<'_>) -> Result<Option<DhcpLease>> {
    let mut lease = None;
    for node in parent.children_named("lease") {
        let Some(text) = node.attr("expiry") else {
            continue;
        };
        let expiry = parse_unsigned_auto(text).ok_or_else(|| {
            xml::invalid_attr(node, "expiry", text, " Expected non-negative integer value")
        })?;
        let unit = match node.attr("unit") {
            None => "minutes",
            Some(unit @ ("seconds" | "minutes" | "hours")) => unit,
            Some(unit) => return Err(xml::invalid_attr(node, "unit", unit, "")),
        };
        if expiry > 0 && ((unit == "seconds" && expiry < 120) || (unit == "minutes" && expiry < 2))
        {
            return Err(config_unsupported(
                "The minimum lease time should be greater than 2 minutes",
            ));
        }
        lease = Some(DhcpLease {
            expiry: Some(expiry),
            // libvirt writes no unit for an infinite lease.
            unit: (expiry > 0).then(|| unit.to_string()),
        });
    }
    Ok(lease)
}

/// `virNetworkDHCPRangeDefParseXML`.
pub(super) fn dhcp_range(network: &str, scope: &IpScope, node: &Node<'_>) -> Result<DhcpRange> {
    let start_text = node.attr("start").ok_or_else(|| {
        xml_error(format!(
            "Missing 'start' attribute in dhcp range for network '{network}'"
        ))
    })?;
    let start = address::parse(start_text)?;
    let end_text = node.attr("end").ok_or_else(|| {
        xml_error(format!(
            "Missing 'end' attribute in dhcp range for network '{network}'"
        ))
    })?;
    let end = address::parse(end_text)?;
    address::range_size(&start, &end, Some((&scope.address, scope.prefix)))?;
    Ok(DhcpRange {
        start: Some(address::format(&start)),
        end: Some(address::format(&end)),
        lease: lease(node)?,
    })
}

/// `virNetworkDHCPHostDefParseXML`. With `partial` (a delete), one of `mac`, `name` and
/// `ip` is enough.
pub(super) fn dhcp_host(
    network: &str,
    scope: &IpScope,
    node: &Node<'_>,
    partial: bool,
) -> Result<DhcpHost> {
    let mac = node.attr("mac");
    if let Some(mac) = mac {
        if scope.is_ipv6() {
            return Err(xml_error(format!(
                "Invalid to specify MAC address '{mac}' in network '{network}' IPv6 static host definition"
            )));
        }
        let Some(bytes) = parse_mac(mac) else {
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
    let id = node.attr("id");
    if let Some(id) = id {
        if let Some(bad) = id.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
            return Err(xml_error(format!(
                "Invalid character '{bad}' in id '{id}' of network '{network}'"
            )));
        }
    }
    let name = node.attr("name");
    if let Some(name) = name {
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
    let ip = match node.attr("ip") {
        None => None,
        Some(text) => Some(address::parse_quiet(text).ok_or_else(|| {
            xml_error(format!(
                "Invalid IP address in static host definition for network '{network}'"
            ))
        })?),
    };
    if partial {
        if mac.is_none() && name.is_none() && ip.is_none() {
            return Err(xml_error(format!(
                "At least one of name, mac, or ip attribute must be specified for static host definition in network '{network}' "
            )));
        }
    } else {
        if scope.is_ipv6() {
            if id.is_none() && name.is_none() {
                return Err(xml_error(format!(
                    "Static host definition in IPv6 network '{network}' must have id or name attribute"
                )));
            }
        } else if mac.is_none() && name.is_none() {
            return Err(xml_error(format!(
                "Static host definition in IPv4 network '{network}' must have mac or name attribute"
            )));
        }
        if ip.is_none() {
            return Err(xml_error(format!(
                "Missing IP address in static host definition for network '{network}'"
            )));
        }
    }
    Ok(DhcpHost {
        // libvirt keeps a host's MAC address as written (only the bridge MAC is rewritten).
        mac: mac.map(str::to_string),
        id: id.map(str::to_string),
        name: name.map(str::to_string),
        ip: ip.map(|ip| address::format(&ip)),
        lease: lease(node)?,
    })
}

/// `virNetworkDHCPDefParseXML`: ranges and hosts in document order; `<bootp>` only on IPv4.
fn dhcp(network: &str, scope: &IpScope, node: &Node<'_>) -> Result<Option<Dhcp>> {
    let mut dhcp = Dhcp::default();
    for child in node.children() {
        match child.name() {
            "range" => dhcp.ranges.push(dhcp_range(network, scope, child)?),
            "host" => dhcp.hosts.push(dhcp_host(network, scope, child, false)?),
            "bootp" if !scope.is_ipv6() => {
                let Some(file) = child.attr("file") else {
                    continue;
                };
                let server = match child.attr("server") {
                    None => None,
                    Some(text) => Some(address::format(&address::parse(text)?)),
                };
                dhcp.bootp = Some(Bootp {
                    file: Some(file.to_string()),
                    server,
                });
            }
            _ => {}
        }
    }
    // libvirt writes `<dhcp>` (and with it `<bootp>`) only around ranges or hosts.
    Ok((!dhcp.ranges.is_empty() || !dhcp.hosts.is_empty()).then_some(dhcp))
}

/// `virNetworkIPDefParseXML`.
fn ip(network: &str, node: &Node<'_>) -> Result<NetworkIp> {
    let family = xpath_attr(node, "family");
    let address_text = xpath_attr(node, "address").ok_or_else(|| {
        xml_error(format!(
            "Missing required address attribute in network '{network}'"
        ))
    })?;
    let address = address::parse_quiet(address_text).ok_or_else(|| {
        xml_error(format!(
            "Invalid address '{address_text}' in network '{network}'"
        ))
    })?;
    let netmask_text = xpath_attr(node, "netmask");
    let netmask = match netmask_text {
        None => None,
        Some(text) => Some(address::parse_quiet(text).ok_or_else(|| {
            xml_error(format!("Invalid netmask '{text}' in network '{network}'"))
        })?),
    };
    let prefix: Option<u32> = xml::attr(node, "prefix")?;
    let local_ptr: Option<YesNo> = xml::attr(node, "localPtr")?;
    let prefix_value = prefix.unwrap_or(0);
    match family {
        None | Some("ipv4") => {
            if address.is_ipv6() {
                return Err(config_unsupported(format!(
                    "{} family specified for non-IPv4 address '{address_text}' in network '{network}'",
                    if family.is_none() { "no" } else { "ipv4" }
                )));
            }
            if let (Some(netmask), Some(netmask_text)) = (&netmask, netmask_text) {
                if netmask.is_ipv6() {
                    return Err(config_unsupported(format!(
                        "Invalid netmask '{netmask_text}' for address '{address_text}' in network '{network}' (both must be IPv4)"
                    )));
                }
                if prefix_value > 0 {
                    return Err(config_unsupported(format!(
                        "Network '{network}' IP address cannot have both a prefix and a netmask"
                    )));
                }
            } else if prefix_value > 32 {
                return Err(config_unsupported(format!(
                    "Invalid IPv4 prefix '{prefix_value}' in network '{network}'"
                )));
            }
        }
        Some("ipv6") => {
            if !address.is_ipv6() {
                return Err(config_unsupported(format!(
                    "Family 'ipv6' specified for non-IPv6 address '{address_text}' in network '{network}'"
                )));
            }
            if netmask.is_some() {
                return Err(config_unsupported(format!(
                    "netmask not allowed for IPv6 address '{address_text}' in network '{network}'"
                )));
            }
            if prefix_value > 128 {
                return Err(config_unsupported(format!(
                    "Invalid IPv6 prefix '{prefix_value}' in network '{network}'"
                )));
            }
        }
        Some(other) => {
            return Err(xml_error(format!(
                "Unrecognized family '{other}' in network '{network}'"
            )));
        }
    }
    let scope = IpScope {
        address,
        prefix: address::prefix_of(&address, netmask.as_ref(), prefix),
    };
    let dhcp = match node.child("dhcp") {
        Some(dhcp_node) => dhcp(network, &scope, dhcp_node)?,
        None => None,
    };
    let tftp = match node.child("tftp") {
        None => None,
        Some(_) if address.is_ipv6() => {
            return Err(config_unsupported(format!(
                "Unsupported <tftp> element in an IPv6 element in network '{network}'"
            )));
        }
        Some(tftp) => xpath_attr(tftp, "root").map(|root| Tftp {
            root: Some(root.to_string()),
        }),
    };
    Ok(NetworkIp {
        family: family.map(str::to_string),
        address: Some(address::format(&address)),
        netmask: netmask.map(|netmask| address::format(&netmask)),
        prefix: prefix.filter(|p| *p > 0),
        local_ptr,
        tftp,
        dhcp,
    })
}

/// `virNetworkDNSHostDefParseXML`. With `partial` (a delete), an address or a host name is
/// enough.
pub(super) fn dns_host(network: &str, node: &Node<'_>, partial: bool) -> Result<DnsHost> {
    let ip_text = node.attr("ip");
    if ip_text.is_none() && !partial {
        return Err(xml_detail(format!(
            "Missing IP address in network '{network}' DNS HOST record"
        )));
    }
    let ip = match ip_text {
        None => None,
        Some(text) => Some(address::parse_quiet(text).ok_or_else(|| {
            xml_detail(format!(
                "Invalid IP address in network '{network}' DNS HOST record"
            ))
        })?),
    };
    let mut hostnames = Vec::new();
    for hostname in node.children_named("hostname") {
        // An element with no content at all is skipped; one with only empty content is not.
        if hostname.content().is_empty() {
            continue;
        }
        let name = hostname.text();
        if name.is_empty() {
            return Err(xml_detail(format!(
                "Missing hostname in network '{network}' DNS HOST record"
            )));
        }
        hostnames.push(name.into_owned());
    }
    if hostnames.is_empty() && !partial {
        return Err(xml_detail(format!(
            "Missing hostname in network '{network}' DNS HOST record"
        )));
    }
    if ip.is_none() && hostnames.is_empty() {
        return Err(xml_detail(format!(
            "Missing ip and hostname in network '{network}' DNS HOST record"
        )));
    }
    Ok(DnsHost {
        ip: ip.map(|ip| address::format(&ip)),
        hostnames,
    })
}

/// Longest SRV service name: the DNS record limit minus the SRV overhead (RFC 2782).
const DNS_SRV_SERVICE_MAX: usize = 512 - 30;

fn is_protocol_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '/')
}

fn is_service_char(c: char) -> bool {
    is_protocol_char(c) || matches!(c, '_' | '*')
}

/// `virNetworkDNSSrvDefParseXML`. With `partial` (a delete), service and protocol may be
/// left out.
pub(super) fn dns_srv(network: &str, node: &Node<'_>, partial: bool) -> Result<DnsSrv> {
    let service = node.attr("service");
    match service {
        None if !partial => {
            return Err(xml_detail(format!(
                "missing required service attribute in DNS SRV record of network '{network}'"
            )));
        }
        Some(service) if service.len() > DNS_SRV_SERVICE_MAX => {
            return Err(xml_detail(format!(
                "service attribute '{service}' in network '{network}' is too long, limit is {DNS_SRV_SERVICE_MAX} bytes"
            )));
        }
        Some(service) if !service.chars().all(is_service_char) => {
            return Err(xml_detail(format!(
                "invalid character in service attribute '{service}' in DNS SRV record of network '{network}'"
            )));
        }
        _ => {}
    }
    let service_shown = or_null(service);
    let protocol = node.attr("protocol");
    match protocol {
        None if !partial => {
            return Err(xml_detail(format!(
                "missing required protocol attribute in DNS SRV record '{service_shown}' of network '{network}'"
            )));
        }
        Some(protocol) if !protocol.chars().all(is_protocol_char) => {
            return Err(xml_detail(format!(
                "invalid character in protocol attribute '{protocol}' in DNS SRV record of network '{network}'"
            )));
        }
        _ => {}
    }
    let domain = node.attr("domain");
    let target = node.attr("target");
    // port, priority and weight: only with a target, and within 16 bits (port from 1).
    let mut numbers = [None; 3];
    for (slot, (attr, invalid_word, min)) in numbers.iter_mut().zip([
        ("port", "invalid", 1),
        ("priority", "Invalid", 0),
        ("weight", "invalid", 0),
    ]) {
        let value = xpath_uint(node, attr);
        if !matches!(value, XpathUint::Absent | XpathUint::Invalid) && target.is_none() {
            return Err(xml_detail(format!(
                "DNS SRV {attr} attribute not permitted without target for service '{service_shown}' in network '{network}'"
            )));
        }
        match value {
            XpathUint::Absent => {}
            XpathUint::Value(n) if (min..=65535).contains(&n) => *slot = Some(n),
            _ => {
                return Err(xml_detail(format!(
                    "{invalid_word} DNS SRV {attr} attribute for service '{service_shown}' in network '{network}'"
                )));
            }
        }
    }
    let [port, priority, weight] = numbers;
    Ok(DnsSrv {
        service: service.map(str::to_string),
        protocol: protocol.map(str::to_string),
        domain: domain.map(str::to_string),
        target: target.map(str::to_string),
        // libvirt writes none of the three when it is zero.
        port,
        priority: priority.filter(|n| *n > 0),
        weight: weight.filter(|n| *n > 0),
    })
}

/// `virNetworkDNSTxtDefParseXML`. With `partial` (a delete), the value may be left out.
pub(super) fn dns_txt(network: &str, node: &Node<'_>, partial: bool) -> Result<DnsTxt> {
    let Some(name) = node.attr("name") else {
        return Err(xml_detail(format!(
            "missing required name attribute in DNS TXT record of network {network}"
        )));
    };
    if name.contains([' ', ',']) {
        return Err(xml_detail(format!(
            "prohibited character in DNS TXT record name '{name}' of network {network}"
        )));
    }
    let value = node.attr("value");
    if value.is_none() && !partial {
        return Err(xml_detail(format!(
            "missing required value attribute in DNS TXT record named '{name}' of network {network}"
        )));
    }
    Ok(DnsTxt {
        name: Some(name.to_string()),
        value: value.map(str::to_string),
    })
}

/// `virNetworkDNSDefParseXML`.
fn dns(network: &str, node: &Node<'_>) -> Result<Dns> {
    let enable: Option<YesNo> = xml::attr(node, "enable")?;
    let forward_plain_names: Option<YesNo> = xml::attr(node, "forwardPlainNames")?;
    let mut forwarders = Vec::new();
    for forwarder in node.children_named("forwarder") {
        let addr = match forwarder.attr("addr") {
            None => None,
            Some(text) => Some(address::canonical(text).ok_or_else(|| {
                xml_error(format!(
                    "Invalid forwarder IP address '{text}' in network '{network}'"
                ))
            })?),
        };
        let domain = forwarder.attr("domain").map(str::to_string);
        if addr.is_none() && domain.is_none() {
            return Err(xml_error(
                "Invalid forwarder element, must contain at least one of addr or domain",
            ));
        }
        forwarders.push(DnsForwarder { domain, addr });
    }
    let hosts = node
        .children_named("host")
        .map(|host| dns_host(network, host, false))
        .collect::<Result<Vec<_>>>()?;
    let srvs = node
        .children_named("srv")
        .map(|srv| dns_srv(network, srv, false))
        .collect::<Result<Vec<_>>>()?;
    let txts = node
        .children_named("txt")
        .map(|txt| dns_txt(network, txt, false))
        .collect::<Result<Vec<_>>>()?;
    let dns = Dns {
        enable,
        forward_plain_names,
        forwarders,
        txts,
        srvs,
        hosts,
    };
    check_dns_enabled(network, &dns)?;
    Ok(dns)
}

/// A disabled DNS server carries no records.
pub(super) fn check_dns_enabled(network: &str, dns: &Dns) -> Result<()> {
    if dns.enable == Some(YesNo::No)
        && !(dns.forwarders.is_empty()
            && dns.hosts.is_empty()
            && dns.srvs.is_empty()
            && dns.txts.is_empty())
    {
        return Err(xml_error(format!(
            "Extra data in disabled network '{network}'"
        )));
    }
    Ok(())
}

/// `virNetworkPortGroupParseXML`.
pub(super) fn portgroup(node: &Node<'_>) -> Result<PortGroup> {
    let name = xpath_attr(node, "name")
        .ok_or_else(|| xml_error("Missing required name attribute in portgroup"))?;
    // Anything but a case-insensitive "yes" means "not the default", without complaint.
    let default = xpath_attr(node, "default")
        .filter(|value| value.eq_ignore_ascii_case("yes"))
        .map(|_| YesNo::Yes);
    Ok(PortGroup {
        name: Some(name.to_string()),
        default,
        trust_guest_rx_filters: xml::attr(node, "trustGuestRxFilters")?,
        virtualport: ChildField::parse_child(node, "virtualport")?,
        bandwidth: ChildField::parse_child(node, "bandwidth")?,
        vlan: ChildField::parse_child(node, "vlan")?,
    })
}

/// `<bridge>`: any `stp` other than `off` is on; `delay` and `macTableManager` checked.
fn bridge(network: &str, node: &Node<'_>) -> Result<NetworkBridge> {
    let delay = match xpath_attr(node, "delay") {
        None => None,
        Some(text) => Some(
            parse_unsigned(text)
                .and_then(|delay| i64::try_from(delay).ok())
                .ok_or_else(|| xml_error(format!("Invalid delay value in network '{network}'")))?,
        ),
    };
    let mac_table_manager = match xpath_attr(node, "macTableManager") {
        None => None,
        Some(value @ ("kernel" | "libvirt")) => Some(value.to_string()),
        Some(value) => {
            return Err(xml_error(format!(
                "Invalid macTableManager setting '{value}' in network '{network}'"
            )));
        }
    };
    Ok(NetworkBridge {
        name: xpath_attr(node, "name").map(str::to_string),
        zone: xpath_attr(node, "zone").map(str::to_string),
        stp: xpath_attr(node, "stp").map(|stp| OnOff::from_bool(stp != "off")),
        delay,
        mac_table_manager,
    })
}

/// `virNetworkForwardNatDefParseXML`'s checks (the model itself is read by the derive).
fn check_nat(network: &str, mode: Option<ForwardMode>, node: &Node<'_>) -> Result<()> {
    if mode != Some(ForwardMode::Nat) {
        return Err(xml_error(format!(
            "The <nat> element can only be used when <forward> 'mode' is 'nat' in network {network}"
        )));
    }
    xml::attr::<YesNo>(node, "ipv6")?;
    let addresses: Vec<&Node<'_>> = node.children_named("address").collect();
    if addresses.len() > 1 {
        return Err(xml_error(format!(
            "Only one <address> element is allowed in <nat> in <forward> in network {network}"
        )));
    }
    if let Some(range) = addresses.first() {
        let Some(start) = range.attr("start") else {
            return Err(xml_error(format!(
                "missing 'start' attribute in <address> element in <nat> in <forward> in network {network}"
            )));
        };
        let Some(end) = range.attr("end") else {
            return Err(xml_error(format!(
                "missing 'end' attribute in <address> element in <nat> in <forward> in network {network}"
            )));
        };
        let v4 = |text: &str| address::parse_quiet(text).filter(IpAddr::is_ipv4);
        let start_addr = v4(start).ok_or_else(|| {
            xml_error(format!(
                "Bad ipv4 start address '{start}' in <nat> in <forward> in network '{network}'"
            ))
        })?;
        let end_addr = v4(end).ok_or_else(|| {
            xml_error(format!(
                "Bad ipv4 end address '{end}' in <nat> in <forward> in network '{network}'"
            ))
        })?;
        address::range_size(&start_addr, &end_addr, None)?;
    }
    let ports: Vec<&Node<'_>> = node.children_named("port").collect();
    if ports.len() > 1 {
        return Err(xml_error(format!(
            "Only one <port> element is allowed in <nat> in <forward> in network {network}"
        )));
    }
    if let Some(port) = ports.first() {
        let start = match xpath_uint(port, "start") {
            XpathUint::Value(start) if start <= 65535 => start,
            _ => {
                return Err(xml_detail(format!(
                    "Missing or invalid 'start' attribute in <port> in <nat> in <forward> in network {network}"
                )));
            }
        };
        if !matches!(xpath_uint(port, "end"), XpathUint::Value(end) if end <= 65535 && end >= start)
        {
            return Err(xml_detail(format!(
                "Missing or invalid 'end' attribute in <port> in <nat> in <forward> in network {network}"
            )));
        }
    }
    Ok(())
}

/// `virNetworkForwardDefParseXML`'s checks, then the derived reader, then what libvirt keeps:
/// interfaces win over PCI addresses, which win over a `<pf>`; `dev` names the first
/// interface; `managed` exists only in hostdev mode.
fn forward(network: &str, node: &Node<'_>) -> Result<Forward> {
    let mode = match xpath_attr(node, "mode") {
        None => ForwardMode::Nat,
        Some(text) => ForwardMode::from_keyword(text)
            .ok_or_else(|| config_unsupported(format!("unknown forwarding type '{text}'")))?,
    };
    if let Some(driver) = node.child("driver").and_then(|d| xpath_attr(d, "name")) {
        if !matches!(driver, "kvm" | "vfio") {
            return Err(config_unsupported(format!(
                "Unknown forward <driver name='{driver}'/> in network {network}"
            )));
        }
    }
    let interface_nodes: Vec<&Node<'_>> = node.children_named("interface").collect();
    let address_nodes: Vec<&Node<'_>> = node.children_named("address").collect();
    let pf_nodes: Vec<&Node<'_>> = node.children_named("pf").collect();
    let nat_nodes: Vec<&Node<'_>> = node.children_named("nat").collect();
    if nat_nodes.len() > 1 {
        return Err(xml_error(format!(
            "Only one <nat> element is allowed in <forward> of network {network}"
        )));
    }
    if let Some(nat) = nat_nodes.first() {
        check_nat(network, Some(mode), nat)?;
    }
    let dev = xpath_attr(node, "dev");
    if dev.is_some() && (!address_nodes.is_empty() || !pf_nodes.is_empty()) {
        // libvirt's message has a format directive and no argument for it.
        return Err(xml_error(
            "the <forward> 'dev' attribute cannot be used when <address> or <pf> sub-elements are present in network %s",
        ));
    }
    if !interface_nodes.is_empty() || dev.is_some() {
        let mut devs: Vec<&str> = dev.into_iter().collect();
        for (idx, interface) in interface_nodes.iter().enumerate() {
            let Some(interface_dev) = interface.attr("dev") else {
                return Err(xml_error(format!(
                    "Missing required dev attribute in <forward> <interface> element of network {network}"
                )));
            };
            if idx == 0 {
                if let Some(dev) = dev {
                    if dev != interface_dev {
                        return Err(xml_error(format!(
                            "<forward dev='{dev}'> must match first <interface dev='{interface_dev}'/> in network {network}"
                        )));
                    }
                    continue;
                }
            }
            if devs.contains(&interface_dev) {
                return Err(xml_error(format!(
                    "interface '{interface_dev}' can only be listed once in network {network}"
                )));
            }
            devs.push(interface_dev);
        }
    } else if !address_nodes.is_empty() {
        let mut seen: Vec<(u32, u32, u32, u32)> = Vec::new();
        for address_node in &address_nodes {
            match address_node.attr("type") {
                None => {
                    return Err(xml_error(format!(
                        "missing address type in network {network}"
                    )));
                }
                Some("pci") => {
                    if let Address::Pci(pci) = Address::from_node(address_node)? {
                        let id = (pci.domain, pci.bus, pci.slot, pci.function);
                        if seen.contains(&id) {
                            return Err(xml_error(format!(
                                "PCI device '{:04x}:{:02x}:{:02x}.{:x}' can only be listed once in network {network}",
                                id.0, id.1, id.2, id.3
                            )));
                        }
                        seen.push(id);
                    }
                }
                Some(other @ ("none" | "netdev")) => {
                    return Err(xml_error(format!(
                        "unsupported address type '{other}' in network {network}"
                    )));
                }
                Some(other) => {
                    return Err(config_unsupported(format!(
                        "unknown address type '{other}' in network {network}"
                    )));
                }
            }
        }
    } else if pf_nodes.len() > 1 {
        return Err(xml_error(format!(
            "Only one <pf> element is allowed in <forward> of network {network}"
        )));
    } else if let Some(pf) = pf_nodes.first() {
        if pf.attr("dev").is_none() {
            return Err(xml_error(format!(
                "Missing required dev attribute in <pf> element of network '{network}'"
            )));
        }
    }
    let mut forward = Forward {
        dev: dev.map(str::to_string),
        mode: Some(mode),
        managed: (mode == ForwardMode::Hostdev).then(|| {
            YesNo::from_bool(
                xpath_attr(node, "managed").is_some_and(|m| m.eq_ignore_ascii_case("yes")),
            )
        }),
        driver: ChildField::parse_child(node, "driver")?,
        nat: match nat_nodes.first() {
            Some(nat) => Some(<Nat as XmlElement>::from_node(nat)?),
            None => None,
        },
        pf: ChildField::parse_child(node, "pf")?,
        interfaces: ChildField::parse_child(node, "interface")?,
        addresses: ChildField::parse_child(node, "address")?,
    };
    if let Some(nat) = &mut forward.nat {
        if let Some(range) = &mut nat.address {
            range.start = range.start.as_deref().and_then(address::canonical);
            range.end = range.end.as_deref().and_then(address::canonical);
        }
    }
    if let (Some(dev), None) = (dev, forward.interfaces.first()) {
        forward.interfaces.push(ForwardInterface {
            dev: Some(dev.to_string()),
            connections: None,
        });
    }
    if !forward.interfaces.is_empty() {
        forward.addresses.clear();
        forward.pf = None;
    } else if !forward.addresses.is_empty() {
        forward.pf = None;
    }
    forward.sync_dev();
    Ok(forward)
}

/// The checks libvirt makes once the whole definition is read: what each forward mode allows.
pub(super) fn check_forward_mode(network: &Network, raw_stp: bool) -> Result<()> {
    let name = network.name();
    let Some(forward) = &network.forward else {
        return Ok(());
    };
    let mode = forward.mode.unwrap_or(ForwardMode::Nat);
    let bridge = network.bridge.as_ref();
    let bridge_name = bridge.and_then(|b| b.name.as_deref());
    let zone = bridge.and_then(|b| b.zone.as_deref());
    let n_interfaces = forward.interfaces.len() + forward.addresses.len();
    match mode {
        ForwardMode::Route | ForwardMode::Nat | ForwardMode::Open => {
            if network.ips.is_empty() {
                return Err(xml_error(format!(
                    "{mode} forwarding requested, but no IP address provided for network '{name}'"
                )));
            }
            if n_interfaces > 1 {
                return Err(xml_error(format!(
                    "multiple forwarding interfaces specified for network '{name}', only one is supported"
                )));
            }
            if mode == ForwardMode::Open && n_interfaces > 0 {
                return Err(xml_error(format!(
                    "forward dev not allowed for network '{name}' with forward mode='{mode}'"
                )));
            }
        }
        ForwardMode::Bridge
        | ForwardMode::Private
        | ForwardMode::Vepa
        | ForwardMode::Passthrough
        | ForwardMode::Hostdev => {
            if mode != ForwardMode::Bridge {
                if bridge_name.is_some() {
                    return Err(xml_error(format!(
                        "bridge name not allowed in {mode} mode (network '{name}')"
                    )));
                }
                if zone.is_some() {
                    return Err(xml_error(format!(
                        "bridge zone not allowed in {mode} mode (network '{name}')"
                    )));
                }
                if bridge.is_some_and(|b| b.mac_table_manager.is_some()) {
                    return Err(xml_error(format!(
                        "bridge macTableManager setting not allowed in {mode} mode (network '{name}')"
                    )));
                }
            }
            let delay = bridge.and_then(|b| b.delay).unwrap_or(0);
            if delay != 0 || raw_stp || zone.is_some() {
                return Err(xml_error(format!(
                    "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, not in {mode} (network '{name}')"
                )));
            }
            if bridge_name.is_some() && (n_interfaces > 0 || forward.pf.is_some()) {
                return Err(xml_error(format!(
                    "A network with forward mode='{mode}' can specify a bridge name or a forward dev, but not both (network '{name}')"
                )));
            }
            if network.mtu.is_some() {
                return Err(xml_error(format!(
                    "mtu size only allowed in open, route, nat, and isolated mode, not in {mode} (network '{name}')"
                )));
            }
        }
    }
    Ok(())
}

/// `virNetworkDefParseXML`.
pub(super) fn network(node: &Node<'_>) -> Result<Network> {
    let name = node
        .child("name")
        .map(|name| name.text().into_owned())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| Error::new(ErrorNumber::NO_NAME, ErrorDomain::NETWORK, ""))?;
    if name.contains('/') {
        return Err(Error::new(
            ErrorNumber::XML_DETAIL,
            ErrorDomain::XML,
            "invalid char in name: /",
        ));
    }
    let uuid = match node.child("uuid").map(|uuid| uuid.text().into_owned()) {
        None => None,
        Some(text) if text.is_empty() => None,
        Some(text) => Some(virt_core::parse_uuid(&text).ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::NETWORK,
                "malformed uuid element",
            )
        })?),
    };
    let ipv6 = match xpath_attr(node, "ipv6") {
        None | Some("no") => None,
        Some("yes") => Some(YesNo::Yes),
        Some(other) => {
            return Err(xml_error(format!(
                "Invalid ipv6 setting '{other}' in network '{name}'"
            )));
        }
    };
    let trust_guest_rx_filters = xml::attr(node, "trustGuestRxFilters")?;
    let domain = match node.child("domain") {
        None => None,
        Some(domain) => Some(NetworkDomain {
            name: domain.attr("name").map(str::to_string),
            local_only: xml::attr(domain, "localOnly")?,
        })
        .filter(|domain| domain.name.is_some()),
    };
    let bandwidth = ChildField::parse_child(node, "bandwidth")?;
    let vlan = ChildField::parse_child(node, "vlan")?;
    let port = ChildField::parse_child(node, "port")?;
    let bridge_node = node.child("bridge");
    let bridge = bridge_node.map(|b| bridge(&name, b)).transpose()?;
    let mac = match node.child("mac").and_then(|mac| xpath_attr(mac, "address")) {
        None => None,
        Some(text) => {
            let bytes = parse_mac(text).ok_or_else(|| {
                xml_error(format!(
                    "Invalid bridge mac address '{text}' in network '{name}'"
                ))
            })?;
            if bytes[0] & 1 != 0 {
                return Err(xml_error(format!(
                    "Invalid multicast bridge mac address '{text}' in network '{name}'"
                )));
            }
            Some(NetworkMac {
                address: Some(crate::domain::format_mac(bytes)),
            })
        }
    };
    let mtu = match node.child("mtu").and_then(|mtu| xpath_attr(mtu, "size")) {
        None => None,
        Some(text) => {
            let size = parse_unsigned(text)
                .and_then(|size| u32::try_from(size).ok())
                .ok_or_else(|| {
                    xml_error(format!("Invalid mtu size '{text}' in network '{name}'"))
                })?;
            (size > 0).then_some(NetworkMtu { size: Some(size) })
        }
    };
    let dns = node.child("dns").map(|d| dns(&name, d)).transpose()?;
    let virtualport = ChildField::parse_child(node, "virtualport")?;
    let portgroups = node
        .children_named("portgroup")
        .map(portgroup)
        .collect::<Result<Vec<_>>>()?;
    let ips = node
        .children_named("ip")
        .map(|ip_node| ip(&name, ip_node))
        .collect::<Result<Vec<_>>>()?;
    let routes = ChildField::parse_child(node, "route")?;
    let forward = match node.child("forward") {
        // `mode='none'` is libvirt's "no forwarding": an isolated network.
        Some(f) if xpath_attr(f, "mode") == Some("none") => None,
        Some(f) => Some(forward(&name, f)?),
        None => None,
    };
    let scope: Vec<(String, String)> = node
        .attrs()
        .filter_map(|(key, value)| {
            key.strip_prefix("xmlns:")
                .map(|prefix| (prefix.to_string(), value.to_string()))
        })
        .collect();
    let dnsmasq_prefix = scope
        .iter()
        .find(|(_, uri)| uri == DNSMASQ_NAMESPACE)
        .map(|(prefix, _)| prefix.clone());
    // As libvirt: every option needs a value, and no options at all is no namespace data.
    let dnsmasq_options = match dnsmasq_prefix {
        None => None,
        Some(prefix) => {
            let option_name = format!("{prefix}:option");
            let values = node
                .children_named(&format!("{prefix}:options"))
                .flat_map(|options| options.children_named(&option_name))
                .map(|option| {
                    option.attr("value").map(str::to_string).ok_or_else(|| {
                        Error::new(
                            ErrorNumber::INTERNAL_ERROR,
                            ErrorDomain::NETWORK,
                            "No dnsmasq options value specified",
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            (!values.is_empty()).then_some(values)
        }
    };
    let mut network = Network {
        connections: xml::attr(node, "connections")?,
        ipv6,
        trust_guest_rx_filters,
        name: Some(name),
        uuid,
        metadata: node
            .child("metadata")
            .map(|metadata| Metadata::from_node(metadata, &scope)),
        forward,
        bridge,
        mtu,
        mac,
        domain,
        dns,
        vlan,
        bandwidth,
        port,
        ips,
        routes,
        virtualport,
        portgroups,
        dnsmasq_options,
    };
    let raw_stp = bridge_node.is_some_and(|b| xpath_attr(b, "stp").is_some());
    check_forward_mode(&network, raw_stp)?;
    network.apply_bridge_rules();
    Ok(network)
}
