//! IP addresses the way libvirt's `virSocketAddr` reads, compares and writes them in network
//! XML: numeric `getaddrinfo` forms on input (`10.1` and `0x0a.0.0.1` are IPv4 addresses
//! too), `inet_ntop` forms on output, classful default prefixes, the sanity checks made on a
//! DHCP range, and the network an address belongs to at a prefix.
//!
//! The parser reads documents with it, and the network driver uses it for what it derives
//! from a model (a bridge's addresses, dnsmasq's ranges, firewall subnets), so that both
//! agree on every prefix and give libvirt's errors in libvirt's words. A model's own text
//! (what the parser wrote) is read back with [`parse_model`]; [`NetworkIp::ip_address`] and
//! [`NetworkIp::network_prefix`] do that for an `<ip>` element.
//!
//! `std::net` does the IPv6 parsing; IPv4 is read here because `std` refuses the `inet_aton`
//! forms (`010.1`, hexadecimal parts, fewer than four parts) that libvirt accepts.
//!
//! [`NetworkIp::ip_address`]: super::NetworkIp::ip_address
//! [`NetworkIp::network_prefix`]: super::NetworkIp::network_prefix

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// `virSocketAddrParse(.., AF_UNSPEC)`: the address, or libvirt's system error naming it.
pub fn parse(text: &str) -> Result<IpAddr> {
    parse_quiet(text).ok_or_else(|| unparsable(text))
}

/// An address as a model holds it: the plain dotted quad or IPv6 text that `std` reads and
/// [`format`] writes, or the system error [`parse`] gives. The `inet_aton` shorthands are
/// refused: the parser never leaves one in a model, so one there was put in by hand.
pub fn parse_model(text: &str) -> Result<IpAddr> {
    parse_model_quiet(text).ok_or_else(|| unparsable(text))
}

/// [`parse_model`] without the error.
pub fn parse_model_quiet(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

fn unparsable(text: &str) -> Error {
    Error::new(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::NONE,
        format!("Cannot parse socket address '{text}': Name or service not known"),
    )
}

/// The address, or `None` when `getaddrinfo(AI_NUMERICHOST)` would refuse it.
pub fn parse_quiet(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        // Zone indexes (`fe80::1%eth0`) are refused: network XML never carries one.
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    parse_ipv4(text).map(IpAddr::V4)
}

/// `inet_aton`: one to four dot-separated parts, each decimal, octal (leading `0`) or
/// hexadecimal (`0x`); the last part fills the remaining bytes.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        values.push(parse_ipv4_part(part)?);
    }
    let (last, leading) = values.split_last()?;
    let mut address: u32 = 0;
    for (idx, value) in leading.iter().enumerate() {
        if *value > 0xff {
            return None;
        }
        address |= value << (24 - 8 * idx);
    }
    let remaining_bits = 32 - 8 * leading.len() as u32;
    if remaining_bits < 32 && u64::from(*last) >> remaining_bits != 0 {
        return None;
    }
    Some(Ipv4Addr::from(address | last))
}

fn parse_ipv4_part(part: &str) -> Option<u32> {
    let (digits, radix) =
        if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (hex, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// `virSocketAddrFormat`: dotted quad, or `inet_ntop`'s IPv6 form (which writes an
/// IPv4-compatible address `::a.b.c.d` where `std` would write hexadecimal groups).
pub fn format(address: &IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if segments[..6].iter().all(|s| *s == 0) && segments[6] != 0 {
                let [_, _, _, _, _, _, _, _, _, _, _, _, a, b, c, d] = v6.octets();
                format!("::{a}.{b}.{c}.{d}")
            } else {
                v6.to_string()
            }
        }
    }
}

/// Whether `text` is written the way libvirt would write the address it holds.
pub fn canonical(text: &str) -> Option<String> {
    parse_quiet(text).map(|address| format(&address))
}

/// `virSocketAddrGetIPPrefix`: the prefix given, else the netmask's length, else the classful
/// default for IPv4 (`-1` for class D/E addresses) and 64 for IPv6.
pub fn prefix_of(address: &IpAddr, netmask: Option<&IpAddr>, prefix: Option<u32>) -> i64 {
    if let Some(prefix) = prefix.filter(|p| *p > 0) {
        return i64::from(prefix);
    }
    if let Some(netmask) = netmask {
        return netmask_bits(netmask).map_or(-1, i64::from);
    }
    match address {
        IpAddr::V4(v4) => {
            if v4.is_unspecified() {
                return 0;
            }
            let octet = v4.octets()[0];
            if octet & 0x80 == 0 {
                8
            } else if octet & 0xc0 == 0x80 {
                16
            } else if octet & 0xe0 == 0xc0 {
                24
            } else {
                -1
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_unspecified() {
                0
            } else {
                64
            }
        }
    }
}

/// `virSocketAddrGetNumNetmaskBits`: the length of a contiguous netmask.
fn netmask_bits(netmask: &IpAddr) -> Option<u32> {
    let bits: u128 = match netmask {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)) << 96,
        IpAddr::V6(v6) => u128::from(*v6),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones)
}

/// The first `prefix` bits of `address` set, as a 128-bit value aligned to the left.
fn mask(prefix: u32, width: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        (!0u128 << (width - prefix)) & if width == 32 { 0xffff_ffff } else { !0 }
    }
}

fn bits(address: &IpAddr) -> (u128, u32) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(*v4)), 32),
        IpAddr::V6(v6) => (u128::from(*v6), 128),
    }
}

/// `virSocketAddrMaskByPrefix`: the network `address` belongs to at `prefix`, its host bits
/// cleared (`192.168.122.7` at 24 is `192.168.122.0`). A prefix past the address's width
/// clears nothing.
pub fn mask_by_prefix(address: &IpAddr, prefix: u32) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let netmask = u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(*v4) & netmask))
        }
        IpAddr::V6(v6) => {
            let netmask = u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(*v6) & netmask))
        }
    }
}

/// `virSocketAddrGetRange`: the number of addresses from `start` to `end`, after checking
/// that they are a range of at most 65536 addresses of one family and, given a
/// `(network, prefix)`, that it lies inside that network without starting on the network
/// address nor ending on the broadcast address (IPv4). Failures are libvirt's internal errors
/// of no particular part of libvirt, as libvirt reports them.
pub fn range_size(start: &IpAddr, end: &IpAddr, network: Option<(&IpAddr, i64)>) -> Result<u32> {
    let internal =
        |detail: String| Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::NONE, detail);
    let (start_text, end_text) = (format(start), format(end));
    if start.is_ipv4() != end.is_ipv4() {
        return Err(internal(format!(
            "mismatch of address family in range {start_text} - {end_text}"
        )));
    }
    let (start_bits, width) = bits(start);
    let (end_bits, _) = bits(end);
    if let Some((network, prefix)) = network {
        let net_text = format(network);
        if start.is_ipv4() != network.is_ipv4() {
            return Err(internal(format!(
                "mismatch of address family in range {start_text} - {end_text} for network {net_text}"
            )));
        }
        let (net_bits, _) = bits(network);
        if prefix < 0 || prefix > i64::from(width) {
            // libvirt's message has two spaces there.
            return Err(internal(format!(
                "bad prefix {prefix} for network {net_text} when  checking range {start_text} - {end_text}"
            )));
        }
        let netmask = mask(prefix as u32, width);
        if start_bits & netmask != net_bits & netmask || end_bits & netmask != net_bits & netmask {
            return Err(internal(format!(
                "range {start_text} - {end_text} is not entirely within network {net_text}/{prefix}"
            )));
        }
        if width == 32 {
            let host_bits = !netmask & 0xffff_ffff;
            if start_bits == net_bits & netmask {
                return Err(internal(format!(
                    "start of range {start_text} - {end_text} in network {net_text}/{prefix} is the network address"
                )));
            }
            if end_bits == (net_bits & netmask) | host_bits {
                return Err(internal(format!(
                    "end of range {start_text} - {end_text} in network {net_text}/{prefix} is the broadcast address"
                )));
            }
        }
    }
    // libvirt's legacy size limit: only the last 16 bits may differ.
    if start_bits >> 16 != end_bits >> 16 {
        return Err(internal(format!(
            "range {start_text} - {end_text} is too large (> 65535)"
        )));
    }
    if start_bits > end_bits {
        return Err(internal(if width == 32 {
            // libvirt's message ends with a space.
            format!("range {start_text} - {end_text} is reversed ")
        } else {
            format!("range {start_text} - {end_text} start larger than end")
        }));
    }
    // Both differ in their last 16 bits only: the difference fits.
    Ok(u32::try_from(end_bits - start_bits).map_or(u32::MAX, |span| span + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_takes_inet_aton_forms() {
        let v4 = |text: &str| parse_quiet(text).map(|a| format(&a));
        assert_eq!(v4("10.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(v4("0x7f.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(v4("010.0.0.1").as_deref(), Some("8.0.0.1"));
        assert_eq!(v4("1.2.65535").as_deref(), Some("1.2.255.255"));
        assert_eq!(v4("4294967295").as_deref(), Some("255.255.255.255"));
        for bad in [
            "1.",
            "1..2",
            "0x",
            "08",
            "1.2.3.4.",
            " 1.2.3.4",
            "+1",
            "1.2.65536",
            "256.1.1.1",
            "1e1",
            "",
        ] {
            assert_eq!(v4(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ipv6_is_written_as_inet_ntop_writes_it() {
        let v6 = |text: &str| parse_quiet(text).map(|a| format(&a));
        assert_eq!(v6("::1.2.3.4").as_deref(), Some("::1.2.3.4"));
        assert_eq!(v6("::FFFF:1.2.3.4").as_deref(), Some("::ffff:1.2.3.4"));
        assert_eq!(v6("::0.0.1.2").as_deref(), Some("::102"));
        assert_eq!(
            v6("2001:0db8:0000:0000:0000:0000:0000:0001").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(v6("::1").as_deref(), Some("::1"));
        assert_eq!(v6("fe80::1%lo"), None);
    }

    #[test]
    fn model_text_is_read_without_shorthands() {
        assert_eq!(
            parse_model_quiet("10.77.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1)))
        );
        assert_eq!(parse_model_quiet("::1.2.3.4"), parse_quiet("::1.2.3.4"));
        assert_eq!(parse_model_quiet("10.77"), None);
        assert_eq!(
            parse_model("010.0.0.1").expect_err("shorthand").message(),
            "Cannot parse socket address '010.0.0.1': Name or service not known"
        );
    }

    #[test]
    fn parse_error_is_a_system_error() {
        let error = parse("192.168.122.300").expect_err("bad address");
        assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
        assert_eq!(error.domain(), ErrorDomain::NONE);
        assert_eq!(
            error.message(),
            "Cannot parse socket address '192.168.122.300': Name or service not known"
        );
    }

    #[test]
    fn prefixes() {
        let a = |text: &str| parse_quiet(text).expect("address");
        assert_eq!(prefix_of(&a("10.0.0.1"), None, None), 8);
        assert_eq!(prefix_of(&a("172.16.0.1"), None, None), 16);
        assert_eq!(prefix_of(&a("192.168.1.1"), None, None), 24);
        assert_eq!(prefix_of(&a("224.0.0.1"), None, None), -1);
        assert_eq!(prefix_of(&a("fd00::1"), None, None), 64);
        assert_eq!(
            prefix_of(&a("192.168.1.1"), Some(&a("255.255.254.0")), None),
            23
        );
        assert_eq!(prefix_of(&a("192.168.1.1"), None, Some(20)), 20);
        assert_eq!(prefix_of(&a("192.168.1.1"), None, Some(33)), 33);
        assert_eq!(prefix_of(&a("10.1.1.1"), Some(&a("255.0.255.0")), None), -1);
        assert_eq!(prefix_of(&a("0.0.0.0"), None, None), 0);
        assert_eq!(prefix_of(&a("::"), None, None), 0);
    }

    #[test]
    fn network_prefixes_of_ip_elements() {
        let ip = |address: &str, netmask: Option<&str>, prefix: Option<u32>| {
            crate::network::NetworkIp {
                address: Some(address.to_string()),
                netmask: netmask.map(str::to_string),
                prefix,
                ..Default::default()
            }
            .network_prefix()
        };
        assert_eq!(ip("10.0.0.1", None, None), Some(8));
        assert_eq!(ip("172.16.0.1", None, None), Some(16));
        assert_eq!(ip("192.168.0.1", None, None), Some(24));
        assert_eq!(ip("224.0.1.1", None, None), None);
        assert_eq!(ip("192.168.0.1", Some("255.255.254.0"), None), Some(23));
        assert_eq!(ip("192.168.0.1", Some("255.0.255.0"), None), None);
        assert_eq!(ip("192.168.0.1", Some("255.255"), None), None);
        assert_eq!(ip("fd00::1", None, None), Some(64));
        assert_eq!(ip("fd00::1", None, Some(48)), Some(48));
        assert_eq!(ip("10.0.0.1", None, Some(33)), Some(33));
        assert_eq!(ip("10.77", None, Some(24)), None);
    }

    #[test]
    fn networks_of_addresses() {
        let network = |text: &str, prefix| {
            mask_by_prefix(&parse_quiet(text).expect("address"), prefix).to_string()
        };
        assert_eq!(network("192.168.122.1", 24), "192.168.122.0");
        assert_eq!(network("10.1.2.3", 0), "0.0.0.0");
        assert_eq!(network("10.1.2.3", 32), "10.1.2.3");
        assert_eq!(network("10.1.2.3", 40), "10.1.2.3");
        assert_eq!(network("fd00:1:2:3::1", 64), "fd00:1:2:3::");
        assert_eq!(network("fd00::1", 128), "fd00::1");
    }

    #[test]
    fn ranges() {
        let a = |text: &str| parse_quiet(text).expect("address");
        let net = a("192.168.122.1");
        let check = |s: &str, e: &str| {
            range_size(&a(s), &a(e), Some((&net, 24))).map_err(|e| e.to_string())
        };
        assert_eq!(check("192.168.122.2", "192.168.122.254"), Ok(253));
        assert_eq!(
            check("10.0.0.1", "10.0.0.5").expect_err("outside"),
            "internal error: range 10.0.0.1 - 10.0.0.5 is not entirely within network 192.168.122.1/24"
        );
        assert!(check("192.168.122.0", "192.168.122.5")
            .expect_err("network")
            .contains("is the network address"));
        assert!(check("192.168.122.5", "192.168.122.255")
            .expect_err("broadcast")
            .contains("is the broadcast address"));
        assert!(check("192.168.122.9", "192.168.122.5")
            .expect_err("reversed")
            .ends_with("is reversed "));
        let wide = a("10.0.0.1");
        assert!(range_size(&a("10.0.0.2"), &a("10.2.0.1"), Some((&wide, 8)))
            .expect_err("too large")
            .to_string()
            .contains("is too large (> 65535)"));
        assert_eq!(
            range_size(
                &a("10.20.1.0"),
                &a("10.20.2.255"),
                Some((&a("10.20.0.1"), 16))
            )
            .ok(),
            Some(512)
        );
        assert_eq!(
            range_size(&a("192.168.122.9"), &a("192.168.122.30"), Some((&net, -1)))
                .expect_err("bad prefix")
                .to_string(),
            "internal error: bad prefix -1 for network 192.168.122.1 when  checking range 192.168.122.9 - 192.168.122.30"
        );
        let v6 = a("fd00:1::1");
        assert_eq!(
            range_size(&a("fd00:1::100"), &a("fd00:1::1ff"), Some((&v6, 64))).ok(),
            Some(256)
        );
        assert_eq!(
            range_size(&a("fd00:1::100"), &a("fd00:1::ff"), Some((&v6, 64)))
                .expect_err("reversed")
                .to_string(),
            "internal error: range fd00:1::100 - fd00:1::ff start larger than end"
        );
    }
}
