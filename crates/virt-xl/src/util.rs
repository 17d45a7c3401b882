//! Small readers and writers libvirt's Xen code leans on: C-style number parsing (a whole
//! string, `strtol` rules) and CPU sets (`0-3,^2,8`).

use std::collections::BTreeSet;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// Splits an optional sign and the digits' start as `strtol` does (leading white space,
/// `+`/`-`, a `0x` prefix in base 16).
fn sign_and_digits(text: &str, base: u32) -> (bool, &str) {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let text = if base == 16 {
        text.strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_hexdigit()))
            .unwrap_or(text)
    } else {
        text
    };
    (negative, text)
}

fn magnitude(digits: &str, base: u32) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, base).ok()
}

/// A whole string as a signed number in `base` (libvirt's `virStrToLong_i` without an end
/// pointer); `None` when anything but the number is there or it does not fit.
pub fn parse_int(text: &str, base: u32) -> Option<i32> {
    let (negative, digits) = sign_and_digits(text, base);
    let value = i64::try_from(magnitude(digits, base)?).ok()?;
    i32::try_from(if negative { -value } else { value }).ok()
}

/// A whole string as an unsigned number (`virStrToLong_ui`: `-N` wraps as C's does).
pub fn parse_uint(text: &str, base: u32) -> Option<u32> {
    let (negative, digits) = sign_and_digits(text, base);
    let value = magnitude(digits, base)?;
    let value = u32::try_from(value).ok()?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A whole string as an unsigned long (`virStrToLong_ul`).
pub fn parse_ulong(text: &str, base: u32) -> Option<u64> {
    let (negative, digits) = sign_and_digits(text, base);
    let value = magnitude(digits, base)?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A whole string as an unsigned long long, refusing a sign (`virStrToLong_ull`).
pub fn parse_ullong(text: &str, base: u32) -> Option<u64> {
    parse_ulong(text, base)
}

/// The leading number of `text` and what follows it (`strtoull` with an end pointer).
pub fn leading_ullong(text: &str) -> Option<(u64, &str)> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let value = text[..digits_end].parse().ok()?;
    Some((value, &text[digits_end..]))
}

/// libvirt's "Failed to parse bitmap" error.
fn bitmap_error(text: &str) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::NONE,
        format!("Failed to parse bitmap '{text}'"),
    )
}

/// A CPU set (`virBitmapParse`): comma-separated numbers and `N-M` ranges, `^N` removing
/// one; every number below `limit`.
pub fn parse_bitmap(text: &str, limit: u32) -> Result<BTreeSet<u32>> {
    let mut set = BTreeSet::new();
    let mut removed = Vec::new();
    let mut any = false;
    for part in text.split(',') {
        let part = part.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\n');
        if part.is_empty() {
            return Err(bitmap_error(text));
        }
        let (negate, part) = match part.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let number = |digits: &str| -> Result<u32> {
            digits
                .parse::<u32>()
                .ok()
                .filter(|value| *value < limit)
                .ok_or_else(|| bitmap_error(text))
        };
        match part.split_once('-') {
            Some((start, end)) if !negate => {
                let (start, end) = (number(start)?, number(end)?);
                if end < start {
                    return Err(bitmap_error(text));
                }
                set.extend(start..=end);
                any = true;
            }
            Some(_) => return Err(bitmap_error(text)),
            None if negate => removed.push(number(part)?),
            None => {
                set.insert(number(part)?);
                any = true;
            }
        }
    }
    if !any && removed.is_empty() {
        return Err(bitmap_error(text));
    }
    for bit in removed {
        set.remove(&bit);
    }
    Ok(set)
}

/// A CPU set as libvirt writes it (`virBitmapFormat`): runs as `N-M`, single bits as `N`.
pub fn format_bitmap(set: &BTreeSet<u32>) -> String {
    let mut out = String::new();
    let mut bits = set.iter().copied().peekable();
    while let Some(start) = bits.next() {
        let mut end = start;
        while bits.peek() == Some(&(end + 1)) {
            end += 1;
            bits.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_strtol() {
        assert_eq!(parse_int("1a", 16), Some(0x1a));
        assert_eq!(parse_int("0x1a", 16), Some(0x1a));
        assert_eq!(parse_int(" 12", 10), Some(12));
        assert_eq!(parse_int("12 ", 10), None);
        assert_eq!(parse_int("", 10), None);
        assert_eq!(parse_int("-3", 10), Some(-3));
        assert_eq!(parse_uint("4294967295", 10), Some(u32::MAX));
        assert_eq!(parse_uint("4294967296", 10), None);
    }

    #[test]
    fn bitmaps_round_trip() {
        let set = parse_bitmap("0-3,^2,8,10-11", 4096).expect("parses");
        assert_eq!(format_bitmap(&set), "0-1,3,8,10-11");
        assert_eq!(
            format_bitmap(&parse_bitmap("5,6", 64).expect("parses")),
            "5-6"
        );
        assert!(parse_bitmap("0-", 64).is_err());
        assert!(parse_bitmap("64", 64).is_err());
        assert!(parse_bitmap("", 64).is_err());
        assert!(parse_bitmap("3-1", 64).is_err());
    }
}
