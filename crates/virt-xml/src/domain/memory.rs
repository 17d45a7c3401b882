//! Sizes with units: libvirt reads `<x unit='GiB'>2</x>` in any unit and writes one canonical
//! unit back (`KiB` for memory, `bytes` for byte counts).

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{parse_unsigned, Node, Writer, XmlElement};
use crate::Result;

/// Scales `value` given in `unit` (empty = `default_scale`) to bytes, as `virScaleInteger`
/// does: `b`/`byte(s)`, then `k`, `m`, `g`, `t`, `p`, `e` optionally followed by `iB` (powers of
/// 1024) or `B` (powers of 1000), case-insensitive.
pub fn scale_integer(value: u64, unit: &str, default_scale: u64) -> Result<u64> {
    let scale = if unit.is_empty() {
        default_scale
    } else if ["b", "byte", "bytes"]
        .iter()
        .any(|b| unit.eq_ignore_ascii_case(b))
    {
        1
    } else {
        let rest = &unit[unit.chars().next().map_or(0, char::len_utf8)..];
        let base: u64 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
            1024
        } else if rest.eq_ignore_ascii_case("B") {
            1000
        } else {
            return Err(unknown_suffix(unit));
        };
        let power = match unit.chars().next().map(|c| c.to_ascii_lowercase()) {
            Some('k') => 1,
            Some('m') => 2,
            Some('g') => 3,
            Some('t') => 4,
            Some('p') => 5,
            Some('e') => 6,
            _ => return Err(unknown_suffix(unit)),
        };
        base.pow(power)
    };
    value
        .checked_mul(scale)
        .ok_or_else(|| Error::new(ErrorNumber::OVERFLOW, ErrorDomain::NONE, "value too large"))
}

fn unknown_suffix(unit: &str) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::NONE,
        format!("unknown suffix '{unit}'"),
    )
}

/// Reads `<x unit='...'>N</x>` into bytes (`default_scale` when there is no unit).
pub fn parse_scaled(node: &Node<'_>, default_scale: u64) -> Result<u64> {
    let text = node.text();
    let value = parse_unsigned(text.trim()).ok_or_else(|| {
        Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::DOMAIN,
            format!(
                "Invalid value '{}' for element or attribute './{}'",
                text,
                node.name()
            ),
        )
    })?;
    scale_integer(value, node.attr("unit").unwrap_or(""), default_scale)
}

/// A memory size held in KiB; written as `unit='KiB'`. Reading rounds up to whole KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScaledKib(pub u64);

impl XmlElement for ScaledKib {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let bytes = parse_scaled(node, 1024)?;
        Ok(ScaledKib(bytes.div_ceil(1024)))
    }
    fn write_attrs(&self, w: &mut Writer) {
        w.attr("unit", "KiB");
    }
    fn write_body(&self, w: &mut Writer) {
        w.text_with(|out| {
            let _ = write!(out, "{}", self.0);
        });
    }
}

/// A size held in bytes; written as `unit='bytes'`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScaledBytes(pub u64);

impl XmlElement for ScaledBytes {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        parse_scaled(node, 1).map(ScaledBytes)
    }
    fn write_attrs(&self, w: &mut Writer) {
        w.attr("unit", "bytes");
    }
    fn write_body(&self, w: &mut Writer) {
        w.text_with(|out| {
            let _ = write!(out, "{}", self.0);
        });
    }
}

/// A size held in bytes, written in the largest unit that divides it exactly
/// (`virFormatIntPretty`: `B`, `KiB`, `MiB`, ...). Unitless input is read in `DEFAULT` units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrettyBytes<const DEFAULT: u64 = 1>(pub u64);

/// `virFormatIntPretty`: the value in the largest binary unit that divides it.
pub fn format_int_pretty(bytes: u64) -> (u64, &'static str) {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes == 0 || !bytes.is_multiple_of(1024) {
        return (bytes, "B");
    }
    let mut value = bytes;
    let mut idx = 0;
    while idx < UNITS.len() - 1 && value.is_multiple_of(1024) {
        value /= 1024;
        idx += 1;
    }
    (value, UNITS[idx])
}

impl<const DEFAULT: u64> XmlElement for PrettyBytes<DEFAULT> {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        parse_scaled(node, DEFAULT).map(PrettyBytes)
    }
    fn write_attrs(&self, w: &mut Writer) {
        w.attr("unit", format_int_pretty(self.0).1);
    }
    fn write_body(&self, w: &mut Writer) {
        w.text_with(|out| {
            let _ = write!(out, "{}", format_int_pretty(self.0).0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_like_libvirt() {
        assert_eq!(scale_integer(1, "", 1024).ok(), Some(1024));
        assert_eq!(scale_integer(1, "KiB", 1).ok(), Some(1024));
        assert_eq!(scale_integer(1, "kb", 1).ok(), Some(1000));
        assert_eq!(scale_integer(2, "G", 1).ok(), Some(2 << 30));
        assert_eq!(scale_integer(3, "bytes", 1024).ok(), Some(3));
        assert_eq!(
            scale_integer(1, "x", 1).map_err(|e| e.code()),
            Err(ErrorNumber::INVALID_ARG)
        );
        assert_eq!(
            scale_integer(u64::MAX, "k", 1).map_err(|e| e.code()),
            Err(ErrorNumber::OVERFLOW)
        );
    }

    #[test]
    fn pretty_units() {
        assert_eq!(format_int_pretty(0), (0, "B"));
        assert_eq!(format_int_pretty(1000), (1000, "B"));
        assert_eq!(format_int_pretty(48 << 20), (48, "MiB"));
        assert_eq!(format_int_pretty(3 << 10), (3, "KiB"));
    }
}
