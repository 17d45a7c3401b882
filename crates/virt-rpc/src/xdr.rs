//! XDR (RFC 4506) as libvirt's remote protocol uses it.
//!
//! Written by hand rather than taken from a generic XDR or serde crate: the protocol needs a
//! few encodings those do not model (`char` arrays widened to one 4-byte word per character,
//! fixed opaque UUIDs, optional values as a 4-byte presence flag) and, above all, a decoder
//! that never allocates more than the input can justify. Every length read from the wire is
//! checked against the bytes actually left before anything is reserved, so a 28-byte frame
//! claiming a 4-billion-element array costs nothing.
//!
//! [`Xdr`] is implemented for the primitives, `String`, `Option<T>` (pointer), `Vec<T>`
//! (variable array), tuples (a struct is its fields in order), the object references of
//! `virt-core`, and the wire-only helpers [`Opaque`], [`CharArray`] and [`FixedChars`].

use std::fmt;

use virt_core::{
    DomainRef, InterfaceRef, NetworkRef, SecretRef, StoragePoolRef, StorageVolRef, TypedParam,
    TypedValue, Uuid,
};

/// `REMOTE_STRING_MAX`: the longest string either side accepts.
pub const STRING_MAX: usize = 4_194_304;

/// Why bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XdrError {
    #[error("message payload ends after {have} bytes, {need} more needed")]
    Truncated { have: usize, need: usize },
    #[error("string of {len} bytes exceeds the limit of {max}")]
    StringTooLong { len: usize, max: usize },
    #[error("array of {count} elements exceeds the limit of {max}")]
    ArrayTooLong { count: usize, max: usize },
    #[error("array claims {count} elements but only {left} bytes follow")]
    ArrayPastEnd { count: usize, left: usize },
    #[error("invalid value {value} for {what}")]
    InvalidValue { what: &'static str, value: i64 },
}

/// A cursor over bytes being decoded.
pub struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
}

impl fmt::Debug for Decoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Decoder {{ pos: {}, len: {} }}",
            self.pos,
            self.data.len()
        )
    }
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Decoder { data, pos: 0 }
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        if self.remaining() < n {
            return Err(XdrError::Truncated {
                have: self.remaining(),
                need: n,
            });
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// Takes `n` bytes plus the padding that aligns them to 4.
    fn take_padded(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        let padded = n.checked_add(pad_len(n)).ok_or(XdrError::Truncated {
            have: self.remaining(),
            need: n,
        })?;
        if self.remaining() < padded {
            return Err(XdrError::Truncated {
                have: self.remaining(),
                need: padded,
            });
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += padded;
        Ok(bytes)
    }

    fn word(&mut self) -> Result<[u8; 4], XdrError> {
        let bytes = self.take(4)?;
        Ok([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    /// Reads an array count and checks it against `max` and against the bytes left, given
    /// that each element takes at least `min_element_size` bytes.
    pub fn array_len(&mut self, max: usize, min_element_size: usize) -> Result<usize, XdrError> {
        let count = u32::decode(self)? as usize;
        if count > max {
            return Err(XdrError::ArrayTooLong { count, max });
        }
        if count.saturating_mul(min_element_size.max(1)) > self.remaining() {
            return Err(XdrError::ArrayPastEnd {
                count,
                left: self.remaining(),
            });
        }
        Ok(count)
    }
}

fn pad_len(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn put_padded(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(bytes);
    out.extend_from_slice(&[0u8; 3][..pad_len(bytes.len())]);
}

/// A value with an XDR encoding.
pub trait Xdr: Sized {
    /// The fewest bytes any encoding of this type takes; used to reject array counts that
    /// cannot fit in the input before allocating for them.
    const MIN_SIZE: usize = 4;

    fn encode(&self, out: &mut Vec<u8>);
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError>;
}

/// Encodes `value` into a fresh buffer.
pub fn to_bytes<T: Xdr>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

/// Decodes a `T` from the start of `bytes`; trailing bytes are ignored, as libvirtd does.
pub fn from_bytes<T: Xdr>(bytes: &[u8]) -> Result<T, XdrError> {
    T::decode(&mut Decoder::new(bytes))
}

impl Xdr for () {
    const MIN_SIZE: usize = 0;
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(_input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(())
    }
}

impl Xdr for u32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(u32::from_be_bytes(input.word()?))
    }
}

impl Xdr for i32 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(i32::from_be_bytes(input.word()?))
    }
}

impl Xdr for u64 {
    const MIN_SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let bytes = input.take(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_be_bytes(word))
    }
}

impl Xdr for i64 {
    const MIN_SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(u64::decode(input)? as i64)
    }
}

impl Xdr for f64 {
    const MIN_SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        self.to_bits().encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(f64::from_bits(u64::decode(input)?))
    }
}

/// XDR `bool`: a 4-byte 0 or 1 (any non-zero value reads as true, as libvirt's peers treat
/// the `int` flags they actually send).
impl Xdr for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        (*self as u32).encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(u32::decode(input)? != 0)
    }
}

/// `remote_nonnull_string`: length, bytes, padding; at most [`STRING_MAX`] bytes. Bytes that
/// are not UTF-8 are replaced rather than rejected (C peers send whatever `char *` holds).
impl Xdr for String {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.len() as u32).encode(out);
        put_padded(out, self.as_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let len = u32::decode(input)? as usize;
        if len > STRING_MAX {
            return Err(XdrError::StringTooLong {
                len,
                max: STRING_MAX,
            });
        }
        let bytes = input.take_padded(len)?;
        Ok(match std::str::from_utf8(bytes) {
            Ok(text) => text.to_string(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        })
    }
}

/// An optional value (`T *` in XDR): a 4-byte presence flag, then the value if present.
impl<T: Xdr> Xdr for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => 0u32.encode(out),
            Some(value) => {
                1u32.encode(out);
                value.encode(out);
            }
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        match u32::decode(input)? {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            other => Err(XdrError::InvalidValue {
                what: "optional-value flag",
                value: other as i64,
            }),
        }
    }
}

/// Largest element count a variable array may claim; the real bound is what the input holds.
const ARRAY_MAX: usize = u32::MAX as usize;

/// A variable-length array `T<>`.
impl<T: Xdr> Xdr for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.len() as u32).encode(out);
        for item in self {
            item.encode(out);
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let count = input.array_len(ARRAY_MAX, T::MIN_SIZE)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(input)?);
        }
        Ok(items)
    }
}

/// `remote_uuid`: 16 raw bytes, no length word.
impl Xdr for Uuid {
    const MIN_SIZE: usize = 16;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let bytes = input.take(16)?;
        let mut raw = [0u8; 16];
        raw.copy_from_slice(bytes);
        Ok(Uuid::from_bytes(raw))
    }
}

/// Variable-length opaque data (`opaque<N>`): length, raw bytes, padding.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Opaque(pub Vec<u8>);

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opaque({} bytes)", self.0.len())
    }
}

impl Xdr for Opaque {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u32).encode(out);
        put_padded(out, &self.0);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let len = u32::decode(input)? as usize;
        Ok(Opaque(input.take_padded(len)?.to_vec()))
    }
}

/// A variable `char` array (`char x<N>`): rpcgen widens every character to a 4-byte word.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharArray(pub Vec<u8>);

impl CharArray {
    /// The characters as a C string: stops at the first NUL.
    pub fn to_string_lossy(&self) -> String {
        let end = self.0.iter().position(|b| *b == 0).unwrap_or(self.0.len());
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }

    /// `text` followed by the terminating NUL C readers expect; empty text gives an empty array.
    pub fn c_string(text: &str) -> CharArray {
        if text.is_empty() {
            return CharArray(Vec::new());
        }
        let mut bytes = text.as_bytes().to_vec();
        bytes.push(0);
        CharArray(bytes)
    }
}

impl Xdr for CharArray {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.0.len() as u32).encode(out);
        for byte in &self.0 {
            (*byte as i8 as i32).encode(out);
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let count = input.array_len(ARRAY_MAX, 4)?;
        let mut bytes = Vec::with_capacity(count);
        for _ in 0..count {
            bytes.push(i32::decode(input)? as u8);
        }
        Ok(CharArray(bytes))
    }
}

/// A fixed `char x[N]` array: N words, no count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedChars<const N: usize>(pub [u8; N]);

impl<const N: usize> FixedChars<N> {
    /// `text` truncated to fit with a terminating NUL, the rest zero-filled.
    pub fn from_str_truncated(text: &str) -> Self {
        let mut raw = [0u8; N];
        let len = text.len().min(N.saturating_sub(1));
        raw[..len].copy_from_slice(&text.as_bytes()[..len]);
        FixedChars(raw)
    }

    pub fn to_string_lossy(&self) -> String {
        let end = self.0.iter().position(|b| *b == 0).unwrap_or(N);
        String::from_utf8_lossy(&self.0[..end]).into_owned()
    }
}

impl<const N: usize> Xdr for FixedChars<N> {
    const MIN_SIZE: usize = 4 * N;
    fn encode(&self, out: &mut Vec<u8>) {
        for byte in &self.0 {
            (*byte as i8 as i32).encode(out);
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let mut raw = [0u8; N];
        for slot in raw.iter_mut() {
            *slot = i32::decode(input)? as u8;
        }
        Ok(FixedChars(raw))
    }
}

macro_rules! tuple_xdr {
    ($($name:ident)+) => {
        #[allow(non_snake_case)]
        impl<$($name: Xdr),+> Xdr for ($($name,)+) {
            const MIN_SIZE: usize = 0 $(+ $name::MIN_SIZE)+;
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
            fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
                Ok(($($name::decode(input)?,)+))
            }
        }
    };
}

tuple_xdr!(A);
tuple_xdr!(A B);
tuple_xdr!(A B C);
tuple_xdr!(A B C D);
tuple_xdr!(A B C D E);
tuple_xdr!(A B C D E F);
tuple_xdr!(A B C D E F G);
tuple_xdr!(A B C D E F G H);

/// Declares a struct whose XDR encoding is its fields in order.
#[macro_export]
macro_rules! xdr_struct {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* pub $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name { $($(#[$field_meta])* pub $field: $ty),* }

        impl $crate::xdr::Xdr for $name {
            const MIN_SIZE: usize = 0 $(+ <$ty as $crate::xdr::Xdr>::MIN_SIZE)*;
            fn encode(&self, out: &mut Vec<u8>) {
                $($crate::xdr::Xdr::encode(&self.$field, out);)*
            }
            fn decode(input: &mut $crate::xdr::Decoder<'_>) -> Result<Self, $crate::xdr::XdrError> {
                Ok($name { $($field: <$ty as $crate::xdr::Xdr>::decode(input)?),* })
            }
        }
    };
}

// ---- rvirt's admin program: plugin records (layout in `protocol.rs`) ----

impl Xdr for virt_core::PluginCapability {
    const MIN_SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        self.kind.encode(out);
        self.patterns.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(virt_core::PluginCapability {
            kind: String::decode(input)?,
            patterns: Vec::decode(input)?,
        })
    }
}

impl Xdr for virt_core::PluginInfo {
    const MIN_SIZE: usize = 4 * 10;
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        self.version.encode(out);
        self.wit_version.encode(out);
        self.uri_schemes.encode(out);
        self.requested.encode(out);
        self.granted.encode(out);
        self.loaded.encode(out);
        self.cached.encode(out);
        self.path.encode(out);
        self.generation.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(virt_core::PluginInfo {
            name: String::decode(input)?,
            version: String::decode(input)?,
            wit_version: String::decode(input)?,
            uri_schemes: Vec::decode(input)?,
            requested: Vec::decode(input)?,
            granted: Vec::decode(input)?,
            loaded: bool::decode(input)?,
            cached: bool::decode(input)?,
            path: String::decode(input)?,
            generation: u32::decode(input)?,
        })
    }
}

// ---- virt-core's object references are exactly the remote protocol's non-null structs ----

/// `remote_nonnull_domain`: name, uuid, id.
impl Xdr for DomainRef {
    const MIN_SIZE: usize = 4 + 16 + 4;
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        self.uuid.encode(out);
        self.id.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(DomainRef {
            name: String::decode(input)?,
            uuid: Uuid::decode(input)?,
            id: i32::decode(input)?,
        })
    }
}

/// `remote_nonnull_network`: name, uuid.
impl Xdr for NetworkRef {
    const MIN_SIZE: usize = 4 + 16;
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        self.uuid.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(NetworkRef {
            name: String::decode(input)?,
            uuid: Uuid::decode(input)?,
        })
    }
}

/// `remote_nonnull_storage_pool`: name, uuid.
impl Xdr for StoragePoolRef {
    const MIN_SIZE: usize = 4 + 16;
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        self.uuid.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(StoragePoolRef {
            name: String::decode(input)?,
            uuid: Uuid::decode(input)?,
        })
    }
}

/// `remote_nonnull_storage_vol`: pool name, name, key.
impl Xdr for StorageVolRef {
    const MIN_SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        self.pool.encode(out);
        self.name.encode(out);
        self.key.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(StorageVolRef {
            pool: String::decode(input)?,
            name: String::decode(input)?,
            key: String::decode(input)?,
        })
    }
}

/// `remote_nonnull_interface`: name, mac.
impl Xdr for InterfaceRef {
    const MIN_SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        self.mac.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(InterfaceRef {
            name: String::decode(input)?,
            mac: String::decode(input)?,
        })
    }
}

/// `remote_nonnull_secret`: uuid, usage type, usage id.
impl Xdr for SecretRef {
    const MIN_SIZE: usize = 16 + 4 + 4;
    fn encode(&self, out: &mut Vec<u8>) {
        self.uuid.encode(out);
        self.usage_type.encode(out);
        self.usage_id.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(SecretRef {
            uuid: Uuid::decode(input)?,
            usage_type: i32::decode(input)?,
            usage_id: String::decode(input)?,
        })
    }
}

/// `remote_typed_param`: field name, then a union discriminated by the type code.
impl Xdr for TypedParam {
    const MIN_SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        self.field.encode(out);
        self.value.type_code().encode(out);
        match &self.value {
            TypedValue::Int(v) => v.encode(out),
            TypedValue::UInt(v) => v.encode(out),
            TypedValue::LLong(v) => v.encode(out),
            TypedValue::ULLong(v) => v.encode(out),
            TypedValue::Double(v) => v.encode(out),
            TypedValue::Boolean(v) => (*v as i32).encode(out),
            TypedValue::String(v) => v.encode(out),
        }
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        let field = String::decode(input)?;
        let value = match i32::decode(input)? {
            1 => TypedValue::Int(i32::decode(input)?),
            2 => TypedValue::UInt(u32::decode(input)?),
            3 => TypedValue::LLong(i64::decode(input)?),
            4 => TypedValue::ULLong(u64::decode(input)?),
            5 => TypedValue::Double(f64::decode(input)?),
            6 => TypedValue::Boolean(i32::decode(input)? != 0),
            7 => TypedValue::String(String::decode(input)?),
            other => {
                return Err(XdrError::InvalidValue {
                    what: "typed parameter type",
                    value: other as i64,
                })
            }
        };
        Ok(TypedParam { field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Xdr + PartialEq + fmt::Debug>(value: T, wire: &[u8]) {
        assert_eq!(to_bytes(&value), wire, "encoding of {value:?}");
        assert_eq!(from_bytes::<T>(wire).expect("decodes"), value);
    }

    #[test]
    fn primitives_are_big_endian_words() {
        round_trip(42u32, &[0, 0, 0, 42]);
        round_trip(-1i32, &[0xff; 4]);
        round_trip(9_000_000u64, &[0, 0, 0, 0, 0, 0x89, 0x54, 0x40]);
        round_trip(true, &[0, 0, 0, 1]);
    }

    #[test]
    fn strings_are_padded_without_terminator() {
        round_trip("test".to_string(), b"\0\0\0\x04test");
        round_trip("probe1".to_string(), b"\0\0\0\x06probe1\0\0");
        round_trip(String::new(), &[0, 0, 0, 0]);
        round_trip(None::<String>, &[0, 0, 0, 0]);
        round_trip(Some(String::new()), &[0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn domain_reference_matches_the_captured_bytes() {
        let uuid = virt_core::parse_uuid("6695eb01f6a4830479aa97f2502e193f").expect("uuid");
        let dom = DomainRef {
            name: "test".into(),
            uuid,
            id: 1,
        };
        let mut wire = b"\0\0\0\x04test".to_vec();
        wire.extend_from_slice(uuid.as_bytes());
        wire.extend_from_slice(&[0, 0, 0, 1]);
        round_trip(dom, &wire);
    }

    #[test]
    fn char_arrays_take_a_word_per_character() {
        round_trip(
            CharArray(b"ab\0".to_vec()),
            &[0, 0, 0, 3, 0, 0, 0, b'a', 0, 0, 0, b'b', 0, 0, 0, 0],
        );
        let model = FixedChars::<4>::from_str_truncated("i686");
        assert_eq!(model.0, *b"i68\0");
        assert_eq!(to_bytes(&model).len(), 16);
    }

    #[test]
    fn typed_parameter_matches_the_captured_bytes() {
        let param = TypedParam::new("weight", TypedValue::UInt(50));
        round_trip(param, b"\0\0\0\x06weight\0\0\0\0\0\x02\0\0\0\x32");
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        assert!(matches!(
            from_bytes::<u64>(&[0, 0, 0]),
            Err(XdrError::Truncated { .. })
        ));
        assert!(matches!(
            from_bytes::<String>(&[0, 0, 0, 9, b'a']),
            Err(XdrError::Truncated { .. })
        ));
        assert!(matches!(
            from_bytes::<Uuid>(&[1; 15]),
            Err(XdrError::Truncated { .. })
        ));
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let wire = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];
        assert!(matches!(
            from_bytes::<Vec<DomainRef>>(&wire),
            Err(XdrError::ArrayPastEnd { .. })
        ));
        assert!(matches!(
            from_bytes::<String>(&wire),
            Err(XdrError::StringTooLong { .. })
        ));
        assert!(matches!(
            from_bytes::<Opaque>(&wire),
            Err(XdrError::Truncated { .. })
        ));
        assert!(matches!(
            from_bytes::<CharArray>(&wire),
            Err(XdrError::ArrayPastEnd { .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_ignored() {
        assert_eq!(from_bytes::<u32>(&[0, 0, 0, 7, 1, 2, 3]), Ok(7));
    }
}
