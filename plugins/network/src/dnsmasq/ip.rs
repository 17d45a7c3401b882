//! What the dnsmasq configuration needs from an `<ip>` element beyond virt-xml's address
//! arithmetic ([`virt_xml::network::address`]): the element with its address read and its
//! prefix worked out as libvirt does (`virNetworkIPDefPrefix`), the IPv4 netmask dnsmasq
//! wants in a `dhcp-range`, and the reverse-lookup zone of a network
//! (`virSocketAddrPTRDomain`).
//!
//! Addresses arrive as the text virt-xml keeps (already in libvirt's canonical form) and
//! leave in `inet_ntop`'s form, so a definition read by virt-xml comes out unchanged. It
//! knows nothing of dnsmasq's option names.

use std::net::{IpAddr, Ipv4Addr};

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::network::address;
use virt_xml::network::NetworkIp;

use super::Result;

/// An `<ip>` element with its address read and its prefix worked out.
#[derive(Debug, Clone, Copy)]
pub struct IpDef<'a> {
    pub def: &'a NetworkIp,
    pub address: IpAddr,
    /// `virNetworkIPDefPrefix`: `-1` when an IPv4 address has no prefix, no netmask and no
    /// class (class D and E), or when its netmask is not contiguous.
    pub prefix: i64,
}

impl<'a> IpDef<'a> {
    pub fn of(network_name: &str, def: &'a NetworkIp) -> Result<IpDef<'a>> {
        let Some(address_text) = def.address.as_deref() else {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::NETWORK,
                format!("Missing required address attribute in network '{network_name}'"),
            ));
        };
        let address = address::parse_model_quiet(address_text).ok_or_else(|| {
            Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::NETWORK,
                format!("Invalid address '{address_text}' in network '{network_name}'"),
            )
        })?;
        let netmask = match def.netmask.as_deref() {
            None => None,
            Some(text) => Some(address::parse_model_quiet(text).ok_or_else(|| {
                Error::new(
                    ErrorNumber::XML_ERROR,
                    ErrorDomain::NETWORK,
                    format!("Invalid netmask '{text}' in network '{network_name}'"),
                )
            })?),
        };
        Ok(IpDef {
            def,
            address,
            prefix: address::prefix_of(&address, netmask.as_ref(), def.prefix),
        })
    }

    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }

    /// Whether the element asks for DHCP: at least one range or one static host.
    pub fn has_dhcp(&self) -> bool {
        self.def
            .dhcp
            .as_ref()
            .is_some_and(|dhcp| !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty())
    }
}

/// `virSocketAddrPrefixToNetmask` for IPv4: `None` past 32 bits.
pub fn ipv4_netmask(prefix: i64) -> Option<Ipv4Addr> {
    let prefix = u32::try_from(prefix).ok().filter(|prefix| *prefix <= 32)?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    Some(Ipv4Addr::from(mask))
}

/// `virSocketAddrPTRDomain`: the reverse-lookup zone of a network, or `None` when the
/// prefix does not fall on an octet (IPv4) or a nibble (IPv6) boundary inside the address.
pub fn ptr_domain(address: &IpAddr, prefix: u32) -> Option<String> {
    match address {
        IpAddr::V4(v4) => {
            if prefix == 0 || prefix >= 32 || !prefix.is_multiple_of(8) {
                return None;
            }
            let octets = v4.octets();
            let mut zone: Vec<String> = octets[..(prefix / 8) as usize]
                .iter()
                .rev()
                .map(u8::to_string)
                .collect();
            zone.push("in-addr.arpa".to_string());
            Some(zone.join("."))
        }
        IpAddr::V6(v6) => {
            if prefix == 0 || prefix >= 128 || !prefix.is_multiple_of(4) {
                return None;
            }
            let nibbles: Vec<u8> = v6
                .octets()
                .iter()
                .flat_map(|octet| [octet >> 4, octet & 0xf])
                .collect();
            let mut zone: Vec<String> = nibbles[..(prefix / 4) as usize]
                .iter()
                .rev()
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            zone.push("ip6.arpa".to_string());
            Some(zone.join("."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn netmasks() {
        assert_eq!(ipv4_netmask(24), Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(ipv4_netmask(0), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ipv4_netmask(32), Some(Ipv4Addr::BROADCAST));
        assert_eq!(ipv4_netmask(33), None);
        assert_eq!(ipv4_netmask(-1), None);
    }

    #[test]
    fn ptr_zones() {
        assert_eq!(
            ptr_domain(&addr("10.20.30.1"), 16).as_deref(),
            Some("20.10.in-addr.arpa")
        );
        assert_eq!(ptr_domain(&addr("10.20.30.1"), 20), None);
        assert_eq!(ptr_domain(&addr("10.20.30.1"), 32), None);
        assert_eq!(
            ptr_domain(&addr("fd00:ab:12::1"), 48).as_deref(),
            Some("2.1.0.0.b.a.0.0.0.0.d.f.ip6.arpa")
        );
        assert_eq!(ptr_domain(&addr("fd00:ab:12::1"), 50), None);
    }
}
