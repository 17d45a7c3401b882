//! The packed listings of WIT 0.2.0's `state-bulk` import and `domain-listing` export
//! (`wit/listing.wit`): a whole listing in one `list<u8>`, so that crossing the plugin
//! boundary costs one copy instead of an allocation (and a lift or a lowering) per item.
//!
//! Both sides use this module: the host writes record listings and reads domain listings,
//! a plugin the other way round. A buffer from a plugin is untrusted: every reader checks
//! each length against what is left and answers [`Malformed`] instead of panicking.
//!
//! Layouts (integers little-endian):
//! - records (`state-bulk.list-packed`): per record `u32` key length, the key (UTF-8),
//!   `u32` value length, the value; nothing else, ordered by key.
//! - domains (`domain-listing.list-all-packed`): `u32` count, then per domain the 16 bytes of
//!   its UUID (RFC 4122 order), its id (`i32`, -1 while inactive), `u32` name length, the
//!   name (UTF-8); nothing after the last.

use crate::types::{DomainRef, Uuid};

/// What is wrong with a packed buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Malformed {}

/// Bytes per domain besides its name.
const DOMAIN_FIXED: usize = 16 + 4 + 4;

/// Appends one record to a packed record listing.
pub fn push_record(buf: &mut Vec<u8>, key: &str, value: &[u8]) {
    buf.reserve(8 + key.len() + value.len());
    buf.extend_from_slice(&len_u32(key.len()).to_le_bytes());
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(&len_u32(value.len()).to_le_bytes());
    buf.extend_from_slice(value);
}

/// The records of a packed record listing, in order; an item is `Err` (and the last) where
/// the buffer stops making sense.
pub fn records(buf: &[u8]) -> Records<'_> {
    Records {
        reader: Reader { buf, at: 0 },
        failed: false,
    }
}

/// Iterator returned by [`records`].
pub struct Records<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<(&'a str, &'a [u8]), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.at == self.reader.buf.len() {
            return None;
        }
        let item = (|| {
            let key = self.reader.str("record key")?;
            let len = self.reader.u32("record value length")? as usize;
            let value = self.reader.bytes(len, "record value")?;
            Ok((key, value))
        })();
        self.failed = item.is_err();
        Some(item)
    }
}

/// Writes a packed domain listing.
#[derive(Debug)]
pub struct DomainListWriter {
    buf: Vec<u8>,
    count: u32,
}

impl DomainListWriter {
    /// A listing with room for `domains` domains whose names average 16 bytes.
    pub fn with_capacity(domains: usize) -> DomainListWriter {
        let mut buf = Vec::with_capacity(4 + domains * (DOMAIN_FIXED + 16));
        buf.extend_from_slice(&0u32.to_le_bytes());
        DomainListWriter { buf, count: 0 }
    }

    /// Appends one domain.
    pub fn push(&mut self, uuid: &[u8; 16], id: i32, name: &str) {
        self.buf.reserve(DOMAIN_FIXED + name.len());
        self.buf.extend_from_slice(uuid);
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf
            .extend_from_slice(&len_u32(name.len()).to_le_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.count += 1;
    }

    /// The listing, its count written in.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[..4].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// Packs `domains` as [`DomainListWriter`] does.
pub fn pack_domains(domains: &[DomainRef]) -> Vec<u8> {
    let mut writer = DomainListWriter::with_capacity(domains.len());
    for d in domains {
        writer.push(d.uuid.as_bytes(), d.id, &d.name);
    }
    writer.finish()
}

/// Reads a packed domain listing.
pub fn unpack_domains(buf: &[u8]) -> Result<Vec<DomainRef>, Malformed> {
    let mut reader = Reader { buf, at: 0 };
    let count = reader.u32("domain count")? as usize;
    // A count the buffer cannot hold is a lie: never allocate for more than it can.
    if count > buf.len().saturating_sub(4) / DOMAIN_FIXED {
        return Err(Malformed(format!(
            "{count} domains announced in {} bytes",
            buf.len()
        )));
    }
    let mut domains = Vec::with_capacity(count);
    for _ in 0..count {
        let uuid: [u8; 16] = reader
            .bytes(16, "domain UUID")?
            .try_into()
            .expect("16 bytes were taken");
        let id = reader.u32("domain id")? as i32;
        let name = reader.str("domain name")?;
        domains.push(DomainRef {
            name: name.to_string(),
            uuid: Uuid::from_bytes(uuid),
            id,
        });
    }
    if reader.at != buf.len() {
        return Err(Malformed(format!(
            "{} bytes after the last of {count} domains",
            buf.len() - reader.at
        )));
    }
    Ok(domains)
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("a packed item is under 4 GiB")
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, len: usize, what: &str) -> Result<&'a [u8], Malformed> {
        let left = self.buf.len() - self.at;
        if len > left {
            return Err(Malformed(format!(
                "{what} of {len} bytes at offset {} runs past the end ({left} bytes left)",
                self.at
            )));
        }
        let bytes = &self.buf[self.at..self.at + len];
        self.at += len;
        Ok(bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32, Malformed> {
        let bytes = self.bytes(4, what)?;
        Ok(u32::from_le_bytes(
            bytes.try_into().expect("4 bytes were taken"),
        ))
    }

    fn str(&mut self, what: &str) -> Result<&'a str, Malformed> {
        let at = self.at;
        let len = self.u32(what)? as usize;
        let bytes = self.bytes(len, what)?;
        std::str::from_utf8(bytes)
            .map_err(|_| Malformed(format!("{what} at offset {at} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(name: &str, n: u8, id: i32) -> DomainRef {
        DomainRef {
            name: name.to_string(),
            uuid: Uuid::from_bytes([n; 16]),
            id,
        }
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        push_record(&mut buf, "a", b"\x01\x02");
        push_record(&mut buf, "", b"");
        push_record(&mut buf, "ünïcode", &[0; 300]);
        let got: Vec<_> = records(&buf)
            .collect::<Result<_, _>>()
            .expect("well formed");
        assert_eq!(
            got,
            vec![
                ("a", &b"\x01\x02"[..]),
                ("", &b""[..]),
                ("ünïcode", &[0u8; 300][..])
            ]
        );
        assert_eq!(records(&[]).count(), 0);
    }

    #[test]
    fn truncated_records_are_an_error() {
        let mut buf = Vec::new();
        push_record(&mut buf, "key", b"value");
        for cut in 1..buf.len() {
            let items: Vec<_> = records(&buf[..cut]).collect();
            assert_eq!(items.len(), 1, "cut at {cut}");
            assert!(items[0].is_err(), "cut at {cut}");
        }
        // A length that claims everything.
        let mut garbled = buf.clone();
        garbled[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(records(&garbled).next().expect("an item").is_err());
        // A key that is not UTF-8.
        let mut garbled = buf;
        garbled[4] = 0xff;
        let error = records(&garbled)
            .next()
            .expect("well formed")
            .expect_err("malformed");
        assert!(error.0.contains("not UTF-8"), "{error}");
    }

    #[test]
    fn domains_round_trip() {
        let domains = vec![
            domain("test", 1, 1),
            domain("", 2, -1),
            domain("dömäin-with-a-long-name", 0xab, i32::MAX),
        ];
        assert_eq!(
            unpack_domains(&pack_domains(&domains)).expect("well formed"),
            domains
        );
        assert_eq!(
            unpack_domains(&pack_domains(&[])).expect("well formed"),
            vec![]
        );
        let mut writer = DomainListWriter::with_capacity(0);
        writer.push(&[7; 16], 3, "w");
        assert_eq!(
            unpack_domains(&writer.finish()).expect("well formed"),
            vec![domain("w", 7, 3)]
        );
    }

    #[test]
    fn malformed_domains_are_an_error() {
        let buf = pack_domains(&[domain("one", 1, -1), domain("two", 2, 5)]);
        for cut in 0..buf.len() {
            assert!(unpack_domains(&buf[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = buf.clone();
        longer.push(0);
        assert!(unpack_domains(&longer)
            .expect_err("malformed")
            .0
            .contains("after the last"));
        // A count the buffer cannot hold allocates nothing.
        let mut lie = buf.clone();
        lie[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack_domains(&lie)
            .expect_err("malformed")
            .0
            .contains("announced"));
        // A name length past the end, and a name that is not UTF-8.
        let mut garbled = buf.clone();
        garbled[4 + 20..4 + 24].copy_from_slice(&1000u32.to_le_bytes());
        assert!(unpack_domains(&garbled)
            .expect_err("malformed")
            .0
            .contains("past the end"));
        let mut garbled = buf;
        garbled[4 + 24] = 0xc3;
        assert!(unpack_domains(&garbled)
            .expect_err("malformed")
            .0
            .contains("not UTF-8"));
        // Arbitrary bytes never panic.
        let mut state = 0x1234_5678u32;
        for len in 0..200 {
            let noise: Vec<u8> = (0..len)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (state >> 16) as u8
                })
                .collect();
            let _ = unpack_domains(&noise);
            let _ = records(&noise).count();
        }
    }
}
