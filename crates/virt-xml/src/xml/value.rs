//! Scalar values in attributes and text: how each parses (as libvirt's `virStrToLong*`,
//! `virXMLPropEnum`, ... accept it) and how it is written back.

use std::fmt::Write as _;

use virt_core::Uuid;

use super::writer::escape_into;

/// A value that lives in an attribute or in an element's text.
pub trait XmlValue: Sized {
    /// What libvirt appends to "Invalid value for attribute ..." for this type.
    const EXPECTED: &'static str = "";

    /// Parses the text; `None` when it is not a valid value.
    fn parse_value(text: &str) -> Option<Self>;

    /// Whether the text is the keyword libvirt reads as "not set" (the zero value of its
    /// enum, such as a disk's `cache='default'`), which it accepts and never writes back.
    fn parse_unset(_text: &str) -> bool {
        false
    }

    /// Appends the value, escaped for XML.
    fn write_value(&self, out: &mut String);
}

impl XmlValue for String {
    fn parse_value(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
    fn write_value(&self, out: &mut String) {
        escape_into(out, self);
    }
}

macro_rules! unsigned_value {
    ($($ty:ty),*) => {$(
        impl XmlValue for $ty {
            const EXPECTED: &'static str = " Expected non-negative integer value";
            fn parse_value(text: &str) -> Option<Self> {
                parse_unsigned(text).and_then(|value| <$ty>::try_from(value).ok())
            }
            fn write_value(&self, out: &mut String) {
                let _ = write!(out, "{}", self);
            }
        }
    )*};
}
unsigned_value!(u8, u16, u32, u64, usize);

macro_rules! signed_value {
    ($($ty:ty),*) => {$(
        impl XmlValue for $ty {
            const EXPECTED: &'static str = " Expected integer value";
            fn parse_value(text: &str) -> Option<Self> {
                parse_signed(text).and_then(|value| <$ty>::try_from(value).ok())
            }
            fn write_value(&self, out: &mut String) {
                let _ = write!(out, "{}", self);
            }
        }
    )*};
}
signed_value!(i8, i16, i32, i64);

impl XmlValue for f64 {
    fn parse_value(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn write_value(&self, out: &mut String) {
        let _ = write!(out, "{}", self);
    }
}

impl XmlValue for Uuid {
    const EXPECTED: &'static str = " Expected UUID";
    fn parse_value(text: &str) -> Option<Self> {
        virt_core::parse_uuid(text)
    }
    fn write_value(&self, out: &mut String) {
        let _ = write!(out, "{}", self.hyphenated());
    }
}

/// Decimal, or hexadecimal with `0x` (libvirt reads most numbers with `strtoul` base 10, but
/// accepting `0x` is harmless and some attributes take it).
pub fn parse_unsigned(text: &str) -> Option<u64> {
    let text = text.trim_start();
    let text = text.strip_prefix('+').unwrap_or(text);
    if text.is_empty() || text.starts_with('-') {
        return None;
    }
    text.parse().ok()
}

/// A signed decimal integer.
pub fn parse_signed(text: &str) -> Option<i64> {
    let text = text.trim_start();
    text.parse().ok()
}

/// Unsigned integer in base 16 or 10 (`strtoul(.., 0)`: `0x` prefix means hex, a leading `0`
/// octal).
pub fn parse_unsigned_auto(text: &str) -> Option<u64> {
    let text = text.trim_start();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

/// A number libvirt writes in hexadecimal, zero-padded to `WIDTH` digits (`0x%04x` for a
/// PCI domain, `0x%02x` for a bus, `0x%x` for a function), and reads in base 16 or 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hex<const WIDTH: usize>(pub u64);

impl<const WIDTH: usize> XmlValue for Hex<WIDTH> {
    const EXPECTED: &'static str = " Expected non-negative integer value";
    fn parse_value(text: &str) -> Option<Self> {
        parse_unsigned_auto(text).map(Hex)
    }
    fn write_value(&self, out: &mut String) {
        let _ = write!(out, "0x{:0width$x}", self.0, width = WIDTH);
    }
}

/// Defines an enum whose variants are XML keywords, with its [`XmlValue`] impl.
///
/// ```ignore
/// xml_enum! { pub enum DiskDevice { Disk = "disk", Cdrom = "cdrom" } }
/// ```
#[macro_export]
macro_rules! xml_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
        $(unset = $unset:literal)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in libvirt's enum order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The XML keyword.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value for an XML keyword.
            pub fn from_keyword(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::xml::XmlValue for $name {
            fn parse_value(text: &str) -> Option<Self> {
                Self::from_keyword(text)
            }
            fn write_value(&self, out: &mut String) {
                out.push_str(self.as_str());
            }
            $(fn parse_unset(text: &str) -> bool {
                text == $unset
            })?
        }
    };
}

xml_enum! {
    /// libvirt's `virTristateBool` as written: `yes`/`no`.
    pub enum YesNo { Yes = "yes", No = "no" }
}

xml_enum! {
    /// libvirt's `virTristateSwitch` as written: `on`/`off`.
    pub enum OnOff { On = "on", Off = "off" }
}

impl YesNo {
    pub fn from_bool(value: bool) -> Self {
        if value {
            YesNo::Yes
        } else {
            YesNo::No
        }
    }
    pub fn is_yes(self) -> bool {
        self == YesNo::Yes
    }
}

impl OnOff {
    pub fn from_bool(value: bool) -> Self {
        if value {
            OnOff::On
        } else {
            OnOff::Off
        }
    }
    pub fn is_on(self) -> bool {
        self == OnOff::On
    }
}

/// Scales `value` given in `unit` to bytes, as libvirt's `virScaleInteger` does (`b`/`bytes`,
/// `k`/`KiB`, `KB`, `M`/`MiB`, `MB`, ... up to exbibytes). `None` for an unknown unit or an
/// overflow.
pub fn scale_to_bytes(value: u64, unit: &str) -> Option<u64> {
    let (base, power): (u64, u32) = match unit {
        "" | "b" | "B" | "byte" | "bytes" => return Some(value),
        _ => {
            let first = unit.chars().next()?.to_ascii_lowercase();
            let power = match first {
                'k' => 1,
                'm' => 2,
                'g' => 3,
                't' => 4,
                'p' => 5,
                'e' => 6,
                _ => return None,
            };
            let rest = &unit[1..];
            let base = match rest {
                "" | "iB" | "ib" => 1024,
                "B" | "b" => 1000,
                _ => return None,
            };
            (base, power)
        }
    };
    value.checked_mul(base.checked_pow(power)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_keeps_libvirt_width() {
        let mut out = String::new();
        Hex::<4>(0).write_value(&mut out);
        out.push(' ');
        Hex::<2>(0x1f).write_value(&mut out);
        out.push(' ');
        Hex::<0>(7).write_value(&mut out);
        assert_eq!(out, "0x0000 0x1f 0x7");
        assert_eq!(Hex::<2>::parse_value("0x1F"), Some(Hex(0x1f)));
        assert_eq!(Hex::<2>::parse_value("31"), Some(Hex(31)));
    }

    #[test]
    fn scales_units_like_libvirt() {
        assert_eq!(scale_to_bytes(1, "KiB"), Some(1024));
        assert_eq!(scale_to_bytes(1, "k"), Some(1024));
        assert_eq!(scale_to_bytes(1, "KB"), Some(1000));
        assert_eq!(scale_to_bytes(2, "G"), Some(2 << 30));
        assert_eq!(scale_to_bytes(1, "bogus"), None);
        assert_eq!(scale_to_bytes(u64::MAX, "KiB"), None);
    }

    #[test]
    fn numbers_reject_garbage() {
        assert_eq!(u32::parse_value("12"), Some(12));
        assert_eq!(u32::parse_value("-1"), None);
        assert_eq!(u32::parse_value("12x"), None);
        assert_eq!(i32::parse_value("-3"), Some(-3));
    }
}
