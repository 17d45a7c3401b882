//! The leases a network's dnsmasq has handed out, read from its lease file
//! (`--dhcp-leasefile`), as `virNetworkGetDHCPLeases` reports them.
//!
//! libvirt has dnsmasq run a helper script that keeps a JSON status file; rvirt reads
//! dnsmasq's own file instead, whose lines are `EXPIRY MAC IP HOSTNAME CLIENT-ID` for IPv4
//! and, after a `duid SERVER-DUID` line, `EXPIRY IAID IP HOSTNAME CLIENT-DUID` for IPv6
//! (`*` for an unknown hostname or client id, expiry 0 for a lease that does not expire).
//! dnsmasq does not record an IPv6 client's MAC there, so IPv6 leases come without one.
//! Pure: no host calls, tested natively.

use virt_core::NetworkDhcpLease as Lease;
use virt_xml::network::{address, Network};

/// `virIPAddrType`.
const IPV4: i32 = 0;
const IPV6: i32 = 1;

/// The leases in `text` that are current at `now` (seconds since the epoch), on `network`
/// (whose bridge and address prefixes they report), only `mac`'s when given (compared
/// without regard to case). Lines dnsmasq would not write are skipped.
pub fn current(text: &str, network: &Network, mac: Option<&str>, now: i64) -> Vec<Lease> {
    let iface = network
        .bridge
        .as_ref()
        .and_then(|bridge| bridge.name.clone())
        .unwrap_or_default();
    let mut ipv6_section = false;
    let mut leases = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"duid") {
            ipv6_section = true;
            continue;
        }
        let [expiry, id, ip, hostname, client_id, ..] = fields[..] else {
            continue;
        };
        let Ok(expiry_time) = expiry.parse::<i64>() else {
            continue;
        };
        if expiry_time > 0 && expiry_time < now {
            continue;
        }
        let known = |field: &str| (field != "*").then(|| field.to_string());
        let ipv6 = ipv6_section || ip.contains(':');
        let (lease_mac, iaid) = if ipv6 {
            (None, Some(id.to_string()))
        } else {
            (Some(id.to_string()), None)
        };
        if let Some(wanted) = mac {
            if !lease_mac
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(wanted))
            {
                continue;
            }
        }
        leases.push(Lease {
            iface: iface.clone(),
            expiry_time,
            kind: if ipv6 { IPV6 } else { IPV4 },
            mac: lease_mac,
            iaid,
            address: ip.to_string(),
            prefix: prefix_for(network, ipv6),
            hostname: known(hostname),
            client_id: known(client_id),
        });
    }
    leases
}

/// The prefix of the network's first address of the lease's family (0 when it has none).
fn prefix_for(network: &Network, ipv6: bool) -> u32 {
    network
        .ips
        .iter()
        .find_map(|ip| {
            let parsed = address::parse_quiet(ip.address.as_deref()?)?;
            if parsed.is_ipv6() != ipv6 {
                return None;
            }
            let netmask = ip.netmask.as_deref().and_then(address::parse_quiet);
            let prefix = address::prefix_of(&parsed, netmask.as_ref(), ip.prefix);
            Some(u32::try_from(prefix).unwrap_or(0))
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NETWORK: &str = "<network><name>default</name><bridge name='virbr7'/>\
        <ip address='192.168.122.1' netmask='255.255.255.0'/>\
        <ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/></network>";

    const LEASES: &str = "\
1700000100 52:54:00:aa:bb:cc 192.168.122.10 guest1 01:52:54:00:aa:bb:cc
0 52:54:00:dd:ee:ff 192.168.122.11 * *
1600000000 52:54:00:00:00:01 192.168.122.12 stale *
garbage line
duid 00:01:00:01:2c:5f:1e:2a:52:54:00:11:22:33
1700000200 1234567 2001:db8:ca2:2::10 guest1 00:04:aa:bb
";

    fn network() -> Network {
        Network::parse(NETWORK).expect("network")
    }

    #[test]
    fn current_leases_of_both_families_with_their_network_prefix() {
        let leases = current(LEASES, &network(), None, 1_700_000_000);
        assert_eq!(
            leases,
            vec![
                Lease {
                    iface: "virbr7".into(),
                    expiry_time: 1_700_000_100,
                    kind: IPV4,
                    mac: Some("52:54:00:aa:bb:cc".into()),
                    iaid: None,
                    address: "192.168.122.10".into(),
                    prefix: 24,
                    hostname: Some("guest1".into()),
                    client_id: Some("01:52:54:00:aa:bb:cc".into()),
                },
                Lease {
                    iface: "virbr7".into(),
                    expiry_time: 0,
                    kind: IPV4,
                    mac: Some("52:54:00:dd:ee:ff".into()),
                    iaid: None,
                    address: "192.168.122.11".into(),
                    prefix: 24,
                    hostname: None,
                    client_id: None,
                },
                Lease {
                    iface: "virbr7".into(),
                    expiry_time: 1_700_000_200,
                    kind: IPV6,
                    mac: None,
                    iaid: Some("1234567".into()),
                    address: "2001:db8:ca2:2::10".into(),
                    prefix: 64,
                    hostname: Some("guest1".into()),
                    client_id: Some("00:04:aa:bb".into()),
                },
            ]
        );
    }

    #[test]
    fn a_mac_selects_its_leases_whatever_its_case() {
        let leases = current(LEASES, &network(), Some("52:54:00:DD:EE:FF"), 1_700_000_000);
        assert_eq!(leases.len(), 1);
        assert_eq!(leases[0].address, "192.168.122.11");
        assert!(current(LEASES, &network(), Some("52:54:00:99:99:99"), 0).is_empty());
    }

    #[test]
    fn an_empty_file_has_no_leases() {
        assert!(current("", &network(), None, 0).is_empty());
    }
}
