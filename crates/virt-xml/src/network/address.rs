//! IP addresses the way libvirt's `virSocketAddr` reads, compares and writes them in network
//! XML: numeric `getaddrinfo` forms on input (`10.1` and `0x0a.0.0.1` are IPv4 addresses
//! too), `inet_ntop` forms on output, classful default prefixes, and the sanity checks made on
//! a DHCP range.
//!
//! `std::net` does the IPv6 parsing; IPv4 is read here because `std` refuses the `inet_aton`
//! forms (`010.1`, hexadecimal parts, fewer than four parts) that libvirt accepts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// `virSocketAddrParse(.., AF_UNSPEC)`: the address, or libvirt's system error naming it.
pub fn parse(text: &str) -> Result<IpAddr> {
    parse_quiet(text).ok_or_else(|| {
        Error::new(
            ErrorNumber::SYSTEM_ERROR,
            ErrorDomain::NONE,
            format!("Cannot parse socket address '{text}': Name or service not known"),
        )
    })
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

/// `virSocketAddrGetRange`: that `start`..`end` is a range of at most 65536 addresses and,
/// given a `(network, prefix)`, lies inside it without starting on the network address nor
/// ending on the broadcast address (IPv4). Failures are libvirt's internal errors.
pub fn check_range(start: &IpAddr, end: &IpAddr, network: Option<(&IpAddr, i64)>) -> Result<()> {
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
            format!("range {start_text} - {end_text} is reversed ")
        } else {
            format!("range {start_text} - {end_text} start larger than end")
        }));
    }
    Ok(())
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
    }

    #[test]
    fn ranges() {
        let a = |text: &str| parse_quiet(text).expect("address");
        let net = a("192.168.122.1");
        let check = |s: &str, e: &str| {
            check_range(&a(s), &a(e), Some((&net, 24))).map_err(|e| e.to_string())
        };
        assert!(check("192.168.122.2", "192.168.122.254").is_ok());
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
        assert!(
            check_range(&a("10.0.0.2"), &a("10.2.0.1"), Some((&wide, 8)))
                .expect_err("too large")
                .to_string()
                .contains("is too large (> 65535)")
        );
    }
}
