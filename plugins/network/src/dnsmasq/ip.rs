//! The address arithmetic the dnsmasq configuration needs from an `<ip>` element: its
//! prefix as libvirt derives it (`virNetworkIPDefPrefix`), the IPv4 netmask dnsmasq wants in
//! a `dhcp-range`, the size of a DHCP range with libvirt's checks (`virSocketAddrGetRange`),
//! and the reverse-lookup zone of a network (`virSocketAddrPTRDomain`).
//!
//! Addresses arrive as the text virt-xml keeps (already in libvirt's canonical form) and
//! leave in `inet_ntop`'s form, so a definition read by virt-xml comes out unchanged. It
//! knows nothing of dnsmasq's option names.

use std::net::{IpAddr, Ipv4Addr};

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::network::NetworkIp;

use super::Result;

/// `virSocketAddrParse`'s refusal, for an address in a model that was not read by virt-xml.
pub fn parse(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>().map_err(|_| {
        Error::new(
            ErrorNumber::SYSTEM_ERROR,
            ErrorDomain::NONE,
            format!("Cannot parse socket address '{text}': Name or service not known"),
        )
    })
}

/// `virSocketAddrFormat`: `inet_ntop`'s text, which writes an IPv4-compatible IPv6 address
/// as `::a.b.c.d` where `std` writes hexadecimal groups.
pub fn format(address: &IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if segments[..6].iter().all(|segment| *segment == 0) && segments[6] != 0 {
                let [.., a, b, c, d] = v6.octets();
                format!("::{a}.{b}.{c}.{d}")
            } else {
                v6.to_string()
            }
        }
    }
}

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
        let address = address_text.parse::<IpAddr>().map_err(|_| {
            Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::NETWORK,
                format!("Invalid address '{address_text}' in network '{network_name}'"),
            )
        })?;
        let netmask = match def.netmask.as_deref() {
            None => None,
            Some(text) => Some(text.parse::<IpAddr>().map_err(|_| {
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
            prefix: prefix_of(&address, netmask.as_ref(), def.prefix),
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

/// `virSocketAddrGetIPPrefix`: the prefix given, else the netmask's length, else the classful
/// prefix of an IPv4 address (64 for IPv6; 0 for the unspecified address).
fn prefix_of(address: &IpAddr, netmask: Option<&IpAddr>, prefix: Option<u32>) -> i64 {
    if let Some(prefix) = prefix.filter(|prefix| *prefix > 0) {
        return i64::from(prefix);
    }
    if let Some(netmask) = netmask {
        return netmask_length(netmask).map_or(-1, i64::from);
    }
    match address {
        IpAddr::V4(v4) if v4.is_unspecified() => 0,
        IpAddr::V4(v4) => match v4.octets()[0] {
            octet if octet & 0x80 == 0 => 8,
            octet if octet & 0xc0 == 0x80 => 16,
            octet if octet & 0xe0 == 0xc0 => 24,
            _ => -1,
        },
        IpAddr::V6(v6) if v6.is_unspecified() => 0,
        IpAddr::V6(_) => 64,
    }
}

/// The address as a number aligned to the left of 128 bits, and its width in bits.
fn left_aligned_bits(address: &IpAddr) -> (u128, u32) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(*v4)) << 96, 32),
        IpAddr::V6(v6) => (u128::from(*v6), 128),
    }
}

/// `virSocketAddrGetNumNetmaskBits`: the number of leading ones of a contiguous netmask.
fn netmask_length(netmask: &IpAddr) -> Option<u32> {
    let (bits, _) = left_aligned_bits(netmask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

/// `virSocketAddrPrefixToNetmask` for IPv4: `None` past 32 bits.
pub fn ipv4_netmask(prefix: i64) -> Option<Ipv4Addr> {
    let prefix = u32::try_from(prefix).ok().filter(|prefix| *prefix <= 32)?;
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    Some(Ipv4Addr::from(mask))
}

/// `virSocketAddrGetRange` with the network the range belongs to: the number of addresses
/// from `start` to `end`, after libvirt's checks (same family, inside the network, not on
/// the IPv4 network or broadcast address, at most 65536 addresses, not reversed). Its
/// failures are internal errors of no particular part of libvirt, as libvirt reports them.
pub fn range_size(start: &IpAddr, end: &IpAddr, network: &IpAddr, prefix: i64) -> Result<u32> {
    let internal =
        |detail: String| Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::NONE, detail);
    let (start_text, end_text, network_text) = (format(start), format(end), format(network));
    if start.is_ipv4() != end.is_ipv4() {
        return Err(internal(format!(
            "mismatch of address family in range {start_text} - {end_text}"
        )));
    }
    if start.is_ipv4() != network.is_ipv4() {
        return Err(internal(format!(
            "mismatch of address family in range {start_text} - {end_text} for network {network_text}"
        )));
    }
    let (start_bits, width) = left_aligned_bits(start);
    let (end_bits, _) = left_aligned_bits(end);
    let (network_bits, _) = left_aligned_bits(network);
    let Some(prefix_bits) = u32::try_from(prefix).ok().filter(|bits| *bits <= width) else {
        // libvirt's message has two spaces there.
        return Err(internal(format!(
            "bad prefix {prefix} for network {network_text} when  checking range {start_text} - {end_text}"
        )));
    };
    let netmask = (!0u128).checked_shl(128 - prefix_bits).unwrap_or(0);
    if start_bits & netmask != network_bits & netmask
        || end_bits & netmask != network_bits & netmask
    {
        return Err(internal(format!(
            "range {start_text} - {end_text} is not entirely within network {network_text}/{prefix}"
        )));
    }
    if start.is_ipv4() {
        let width_mask = (!0u128) << 96;
        if start_bits == network_bits & netmask {
            return Err(internal(format!(
                "start of range {start_text} - {end_text} in network {network_text}/{prefix} is the network address"
            )));
        }
        if end_bits == (network_bits & netmask) | (!netmask & width_mask) {
            return Err(internal(format!(
                "end of range {start_text} - {end_text} in network {network_text}/{prefix} is the broadcast address"
            )));
        }
    }
    // libvirt's legacy limit: only the last 16 bits of the range may differ.
    let low_shift = 128 - width;
    let (start_low, end_low) = (start_bits >> low_shift, end_bits >> low_shift);
    if start_low >> 16 != end_low >> 16 {
        return Err(internal(format!(
            "range {start_text} - {end_text} is too large (> 65535)"
        )));
    }
    if start_low > end_low {
        return Err(internal(if start.is_ipv4() {
            // libvirt's message ends with a space.
            format!("range {start_text} - {end_text} is reversed ")
        } else {
            format!("range {start_text} - {end_text} start larger than end")
        }));
    }
    // Both differ in their last 16 bits only: the difference fits.
    Ok(u32::try_from(end_low - start_low).unwrap_or(u32::MAX) + 1)
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
    fn formats_as_inet_ntop() {
        assert_eq!(format(&addr("::10.1.2.3")), "::10.1.2.3");
        assert_eq!(format(&addr("::ffff:10.1.2.3")), "::ffff:10.1.2.3");
        assert_eq!(format(&addr("::0.0.1.2")), "::102");
        assert_eq!(format(&addr("fd00:0:0::7")), "fd00::7");
    }

    #[test]
    fn prefixes_follow_libvirt() {
        assert_eq!(prefix_of(&addr("10.9.8.7"), None, None), 8);
        assert_eq!(prefix_of(&addr("172.30.1.1"), None, None), 16);
        assert_eq!(prefix_of(&addr("198.51.100.1"), None, None), 24);
        assert_eq!(prefix_of(&addr("233.1.1.1"), None, None), -1);
        assert_eq!(prefix_of(&addr("0.0.0.0"), None, None), 0);
        assert_eq!(prefix_of(&addr("fd12::1"), None, None), 64);
        let netmask = addr("255.255.240.0");
        assert_eq!(prefix_of(&addr("10.1.1.1"), Some(&netmask), None), 20);
        let holes = addr("255.0.255.0");
        assert_eq!(prefix_of(&addr("10.1.1.1"), Some(&holes), None), -1);
        assert_eq!(prefix_of(&addr("10.1.1.1"), None, Some(27)), 27);
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
    fn range_sizes_and_refusals() {
        let net = addr("10.20.0.1");
        let size = |start: &str, end: &str, prefix| {
            range_size(&addr(start), &addr(end), &net, prefix).map_err(|e| e.to_string())
        };
        assert_eq!(size("10.20.0.2", "10.20.0.254", 24), Ok(253));
        assert_eq!(size("10.20.1.0", "10.20.2.255", 16), Ok(512));
        assert_eq!(
            size("10.20.0.0", "10.20.0.9", 24),
            Err("internal error: start of range 10.20.0.0 - 10.20.0.9 in network 10.20.0.1/24 is the network address".into())
        );
        assert_eq!(
            size("10.20.0.9", "10.20.0.255", 24),
            Err("internal error: end of range 10.20.0.9 - 10.20.0.255 in network 10.20.0.1/24 is the broadcast address".into())
        );
        assert_eq!(
            size("10.20.0.9", "10.20.0.3", 24),
            Err("internal error: range 10.20.0.9 - 10.20.0.3 is reversed ".into())
        );
        assert_eq!(
            size("10.21.0.9", "10.21.0.30", 16),
            Err("internal error: range 10.21.0.9 - 10.21.0.30 is not entirely within network 10.20.0.1/16".into())
        );
        assert_eq!(
            size("10.20.0.9", "10.21.0.30", 8),
            Err("internal error: range 10.20.0.9 - 10.21.0.30 is too large (> 65535)".into())
        );
        assert_eq!(
            size("10.20.0.9", "10.20.0.30", -1),
            Err("internal error: bad prefix -1 for network 10.20.0.1 when  checking range 10.20.0.9 - 10.20.0.30".into())
        );
        let v6 = addr("fd00:1::1");
        assert_eq!(
            range_size(&addr("fd00:1::100"), &addr("fd00:1::1ff"), &v6, 64).ok(),
            Some(256)
        );
        assert_eq!(
            range_size(&addr("fd00:1::100"), &addr("fd00:1::ff"), &v6, 64)
                .map_err(|e| e.to_string()),
            Err("internal error: range fd00:1::100 - fd00:1::ff start larger than end".into())
        );
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
