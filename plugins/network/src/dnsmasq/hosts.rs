//! The two host files dnsmasq rereads on SIGHUP, as libvirt writes them (`virdnsmasq.c`):
//! the DHCP hosts file (`dhcp-hostsfile=`, one `dhcp-host` entry a line) and the DNS hosts
//! file (`addn-hosts=`, `/etc/hosts` syntax, one line per address).
//!
//! Also the lease time of a range or a host, which both files' callers write the same way.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::network::{address, DhcpHost, DhcpLease, DnsHost};

use super::Result;

/// `networkBuildDnsmasqLeaseTime`: `infinite`, or the number with the unit's first letter
/// (`30m`, `2h`, `300s`); `None` when the element has no expiry.
pub fn lease_time(lease: &DhcpLease) -> Result<Option<String>> {
    let Some(expiry) = lease.expiry else {
        return Ok(None);
    };
    if expiry == 0 {
        return Ok(Some("infinite".to_string()));
    }
    let unit_letter = match lease.unit.as_deref() {
        // libvirt's default unit.
        None | Some("minutes") => 'm',
        Some("seconds") => 's',
        Some("hours") => 'h',
        Some(other) => {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::XML,
                format!("Invalid value for attribute 'unit' in element 'lease': '{other}'."),
            ));
        }
    };
    Ok(Some(format!("{expiry}{unit_letter}")))
}

/// One line of the DHCP hosts file for a static host of an `<ip>` (`hostsfileAdd`), or
/// `None` for a host without an address, which libvirt leaves out.
///
/// IPv4: `MAC,IP,NAME`, `NAME,IP` or `MAC,IP`. IPv6: `id:CLIENT-ID,NAME,[IP]`, `NAME,[IP]` or
/// `id:CLIENT-ID,[IP]`. Then `,LEASE` when the host has its own lease time.
pub fn dhcp_host_line(network_name: &str, host: &DhcpHost, ipv6: bool) -> Result<Option<String>> {
    let Some(ip_text) = host.ip.as_deref() else {
        return Ok(None);
    };
    let address = address::format(&address::parse_model(ip_text)?);
    let (mac, id, name) = (
        host.mac.as_deref(),
        host.id.as_deref(),
        host.name.as_deref(),
    );
    let mut line = if ipv6 {
        let client = match (id, name) {
            (Some(id), Some(name)) => format!("id:{id},{name}"),
            (None, Some(name)) => name.to_string(),
            (Some(id), None) => format!("id:{id}"),
            // libvirt would write `,[IP]`; its parser never lets such a host in.
            (None, None) => return Err(anonymous_host(network_name, "IPv6", "id")),
        };
        format!("{client},[{address}]")
    } else {
        // An IPv4 host is found by its MAC address (or name); a client id is not used.
        match (mac, name) {
            (Some(mac), Some(name)) => format!("{mac},{address},{name}"),
            (None, Some(name)) => format!("{name},{address}"),
            (Some(mac), None) => format!("{mac},{address}"),
            // libvirt would write `(null),IP`; its parser never lets such a host in.
            (None, None) => return Err(anonymous_host(network_name, "IPv4", "mac")),
        }
    };
    if let Some(lease) = host.lease.as_ref().map(lease_time).transpose()?.flatten() {
        line.push(',');
        line.push_str(&lease);
    }
    Ok(Some(line))
}

/// The refusal virt-xml's parser makes for a static host that names no client.
fn anonymous_host(network_name: &str, family: &str, key: &str) -> Error {
    Error::new(
        ErrorNumber::XML_ERROR,
        ErrorDomain::NETWORK,
        format!(
            "Static host definition in {family} network '{network_name}' must have {key} or name attribute"
        ),
    )
}

/// The DNS hosts file: each address once, in the order it first appears, followed by every
/// name given to it (`addnhostsAdd` merges the `<host>` elements of one address).
pub fn addn_hosts(hosts: &[DnsHost]) -> Result<String> {
    let mut addresses: Vec<(String, Vec<&str>)> = Vec::new();
    for host in hosts {
        let Some(ip_text) = host.ip.as_deref() else {
            continue;
        };
        let address = address::format(&address::parse_model(ip_text)?);
        let names = host.hostnames.iter().map(String::as_str);
        match addresses.iter_mut().find(|(known, _)| *known == address) {
            Some((_, known_names)) => known_names.extend(names),
            None => addresses.push((address, names.collect())),
        }
    }
    let mut text = String::new();
    for (address, names) in &addresses {
        // libvirt ends every field, the last one too, with a tab.
        text.push_str(address);
        text.push('\t');
        for name in names {
            text.push_str(name);
            text.push('\t');
        }
        text.push('\n');
    }
    Ok(text)
}
