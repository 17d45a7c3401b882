//! The VMX file format itself: `name = "value"` lines, read the way libvirt's `virconf`
//! reads them in its VMX mode (names are looked up without regard to case, the first
//! assignment of a name wins, values are always quoted strings), the typed look-ups the
//! converters use with libvirt's error messages, the writer, and VMware's `|22`/`%2f` hex
//! escaping of names and annotations.
//!
//! Nothing here knows what an entry means for a domain.

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// The name libvirt's configuration parser reports errors under for text read from memory.
const PARSE_ERROR_SOURCE: &str = "memory conf";

/// The `name = "value"` entries of a VMX file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmxFile {
    entries: Vec<(String, String)>,
}

impl VmxFile {
    /// Reads VMX text. Malformed text is `VIR_ERR_CONF_SYNTAX` naming the line, as libvirt's
    /// parser reports it ("memory conf:3: expecting a value").
    pub fn parse(text: &str) -> Result<VmxFile> {
        Parser {
            bytes: text.as_bytes(),
            position: 0,
            line: 1,
            entries: Vec::new(),
        }
        .run()
    }

    /// The value of the first entry called `name` (compared without regard to ASCII case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The value of `name`; a missing entry is an error when it is `required`.
    pub(crate) fn string(&self, name: &str, required: bool) -> Result<Option<String>> {
        match self.get(name) {
            Some(value) => Ok(Some(value.to_string())),
            None if required => Err(missing_entry(name)),
            None => Ok(None),
        }
    }

    /// An integer entry (`"unlimited"` reads as -1), `default` when missing and optional.
    pub(crate) fn long(&self, name: &str, default: i64, required: bool) -> Result<i64> {
        let Some(text) = self.string(name, required)? else {
            return Ok(default);
        };
        if text.eq_ignore_ascii_case("unlimited") {
            return Ok(-1);
        }
        parse_whole_i64(&text).ok_or_else(|| {
            internal_error(format!(
                "Config entry '{name}' must represent an integer value"
            ))
        })
    }

    /// A `true`/`false` entry (any case), `default` when missing.
    pub(crate) fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        if text.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if text.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(internal_error(format!(
                "Config entry '{name}' must represent a boolean value (true|false)"
            )))
        }
    }

    /// A UUID entry such as `"56 4d 9b ef ac d9 b4 e0-c8 f0 ae a8 b9 10 35 15"`.
    pub(crate) fn uuid(&self, name: &str) -> Result<Option<virt_core::Uuid>> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        parse_uuid(text)
            .map(Some)
            .ok_or_else(|| internal_error(format!("Could not parse UUID from string '{text}'")))
    }
}

/// libvirt's "Missing essential config entry" error.
pub(crate) fn missing_entry(name: &str) -> Error {
    internal_error(format!("Missing essential config entry '{name}'"))
}

/// `VIR_ERR_INTERNAL_ERROR`, which is what most of libvirt's VMX messages are.
pub(crate) fn internal_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::NONE, message)
}

/// `VIR_ERR_CONFIG_UNSUPPORTED`.
pub(crate) fn unsupported(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::CONFIG_UNSUPPORTED, ErrorDomain::NONE, message)
}

/// A UUID as libvirt reads one: 32 hex digits, spaces and hyphens allowed between the
/// byte pairs, surrounding white space ignored.
pub(crate) fn parse_uuid(text: &str) -> Option<virt_core::Uuid> {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let bytes = text.as_bytes();
    let mut uuid = [0u8; 16];
    let mut position = 0;
    let mut filled = 0;
    while filled < 16 {
        match bytes.get(position)? {
            b'-' | b' ' => position += 1,
            high => {
                let high = (*high as char).to_digit(16)?;
                let low = (*bytes.get(position + 1)? as char).to_digit(16)?;
                uuid[filled] = (high * 16 + low) as u8;
                filled += 1;
                position += 2;
            }
        }
    }
    bytes[position..]
        .iter()
        .all(u8::is_ascii_whitespace)
        .then(|| virt_core::Uuid::from_bytes(uuid))
}

/// A UUID the way VMX files write it: `"42 1a 61 77 5a a9 ab b7-59 24 fc 37 6c 18 a1 b4"`.
pub(crate) fn format_uuid(uuid: &virt_core::Uuid) -> String {
    let bytes = uuid.as_bytes();
    let mut out = String::with_capacity(47);
    for (position, byte) in bytes.iter().enumerate() {
        if position == 8 {
            out.push('-');
        } else if position > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The leading integer of `text` as C's `strtol` reads it (leading white space, a sign,
/// decimal digits), with the rest of the text; `None` without digits or on overflow.
pub(crate) fn parse_leading_integer(text: &str) -> Option<(i128, &str)> {
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let n_digits = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if n_digits == 0 {
        return None;
    }
    let magnitude: i128 = unsigned[..n_digits].parse().ok()?;
    let value = if negative { -magnitude } else { magnitude };
    Some((value, &unsigned[n_digits..]))
}

/// A whole-text signed 64-bit integer (libvirt's `virStrToLong_ll` without an end pointer).
pub(crate) fn parse_whole_i64(text: &str) -> Option<i64> {
    match parse_leading_integer(text)? {
        (value, "") => i64::try_from(value).ok(),
        _ => None,
    }
}

/// A whole-text unsigned 64-bit integer as `strtoull` reads it: a minus sign negates
/// modulo 2^64 (libvirt's `virStrToLong_ull`).
pub(crate) fn parse_whole_u64(text: &str) -> Option<u64> {
    match parse_leading_integer(text)? {
        (value, "") if value.unsigned_abs() <= u128::from(u64::MAX) => {
            let magnitude = value.unsigned_abs() as u64;
            Some(if value < 0 {
                magnitude.wrapping_neg()
            } else {
                magnitude
            })
        }
        _ => None,
    }
}

/// Replaces `escape` and every byte in `special` by `escape` and two lower-case hex digits
/// (`|22` for a double quote with the pipe escape).
pub fn escape_hex(text: &str, escape: char, special: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == escape || special.contains(c) {
            let _ = write!(out, "{escape}{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Undoes [`escape_hex`]: `escape` must be followed by two hex digits. `None` when it is
/// not, or when the bytes decoded are not UTF-8.
pub fn unescape_hex(text: &str, escape: char) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find(escape) {
        bytes.extend_from_slice(&rest.as_bytes()[..position]);
        let digits = rest.get(position + 1..position + 3)?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        bytes.push(u8::from_str_radix(digits, 16).ok()?);
        rest = &rest[position + 3..];
    }
    bytes.extend_from_slice(rest.as_bytes());
    String::from_utf8(bytes).ok()
}

/// The pipe escape VMware uses in display names and annotations (`"` → `|22`).
pub(crate) fn escape_pipe(text: &str) -> String {
    escape_hex(text, '|', "\"")
}

/// The percent escape VMware uses in display names (`/` → `%2f`).
pub(crate) fn escape_percent(text: &str) -> String {
    escape_hex(text, '%', "/\\")
}

/// VMX text from the bytes of a file, converted from the character set its `.encoding`
/// entry names (UTF-8 when there is none): UTF-8, US-ASCII, ISO-8859-1 and windows-1252
/// are understood. Bytes that are not valid in the character set are replaced.
pub fn decode_vmx(bytes: &[u8]) -> Result<String> {
    let as_utf8 = String::from_utf8_lossy(bytes);
    // The entry names are ASCII, so the declared encoding can be read before decoding.
    let encoding = VmxFile::parse(&as_utf8)
        .ok()
        .and_then(|file| file.get(".encoding").map(str::to_ascii_lowercase));
    match encoding.as_deref() {
        None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => Ok(as_utf8.into_owned()),
        Some("iso-8859-1" | "latin1" | "iso_8859-1" | "l1") => {
            Ok(bytes.iter().map(|byte| char::from(*byte)).collect())
        }
        Some("windows-1252" | "cp1252") => Ok(bytes.iter().map(|byte| cp1252(*byte)).collect()),
        Some(other) => Err(internal_error(format!(
            "Could not convert from {other} to UTF-8 encoding"
        ))),
    }
}

/// windows-1252: ISO-8859-1 but for the printable characters in 0x80..0xa0.
fn cp1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '\u{20ac}', '\u{fffd}', '\u{201a}', '\u{0192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{02c6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{fffd}',
        '\u{017d}', '\u{fffd}', '\u{fffd}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}',
        '\u{2022}', '\u{2013}', '\u{2014}', '\u{02dc}', '\u{2122}', '\u{0161}', '\u{203a}',
        '\u{0153}', '\u{fffd}', '\u{017e}', '\u{0178}',
    ];
    match byte {
        0x80..=0x9f => HIGH[usize::from(byte - 0x80)],
        _ => char::from(byte),
    }
}

/// Builds VMX text one `name = "value"` line at a time. Values are written as given:
/// VMX has no quoting inside values beyond what [`escape_hex`] does for names.
#[derive(Debug, Default)]
pub struct VmxWriter {
    text: String,
}

impl VmxWriter {
    /// An empty file.
    pub fn new() -> VmxWriter {
        VmxWriter::default()
    }

    /// Appends `name = "value"`.
    pub fn set(&mut self, name: impl AsRef<str>, value: impl std::fmt::Display) {
        let _ = writeln!(self.text, "{} = \"{value}\"", name.as_ref());
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.text
    }
}

/// libvirt's configuration parser in its VMX mode, byte by byte; the end of the text
/// reads as a NUL, as in C.
struct Parser<'a> {
    bytes: &'a [u8],
    position: usize,
    line: usize,
    entries: Vec<(String, String)>,
}

impl Parser<'_> {
    fn run(mut self) -> Result<VmxFile> {
        while self.position < self.bytes.len() {
            self.statement()?;
            self.separator()?;
        }
        Ok(VmxFile {
            entries: self.entries,
        })
    }

    fn current(&self) -> u8 {
        self.bytes.get(self.position).copied().unwrap_or(0)
    }

    fn at_end(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn error(&self, message: &str) -> Error {
        Error::new(
            ErrorNumber::CONF_SYNTAX,
            ErrorDomain::CONF,
            format!("{PARSE_ERROR_SOURCE}:{}: {message}", self.line),
        )
    }

    fn skip_blanks(&mut self) {
        while !self.at_end() && matches!(self.current(), b' ' | b'\t') {
            self.position += 1;
        }
    }

    fn skip_blanks_and_newlines(&mut self) {
        while !self.at_end() && matches!(self.current(), b' ' | b'\t' | b'\n' | b'\r') {
            if self.current() == b'\n' {
                self.line += 1;
            }
            self.position += 1;
        }
    }

    fn skip_to_end_of_line(&mut self) {
        while !self.at_end() && !matches!(self.current(), b'\n' | b'\r') {
            self.position += 1;
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        String::from_utf8_lossy(&self.bytes[start..end]).into_owned()
    }

    fn statement(&mut self) -> Result<()> {
        self.skip_blanks_and_newlines();
        if self.current() == b'#' {
            self.skip_to_end_of_line();
            return Ok(());
        }
        let name = self.name()?;
        self.skip_blanks();
        if self.current() != b'=' {
            return Err(self.error("expecting an assignment"));
        }
        self.position += 1;
        self.skip_blanks();
        let value = self.value()?;
        self.skip_blanks();
        if self.current() == b'#' {
            self.skip_to_end_of_line();
        }
        self.entries.push((name, value));
        Ok(())
    }

    fn name(&mut self) -> Result<String> {
        self.skip_blanks();
        let start = self.position;
        let first = self.current();
        if !(first.is_ascii_alphabetic() || first == b'.') {
            return Err(self.error("expecting a name"));
        }
        while !self.at_end()
            && (self.current().is_ascii_alphanumeric()
                || matches!(self.current(), b'_' | b':' | b'.' | b'-'))
        {
            self.position += 1;
        }
        Ok(self.text(start, self.position))
    }

    fn value(&mut self) -> Result<String> {
        self.skip_blanks();
        if self.at_end() {
            return Err(self.error("expecting a value"));
        }
        match self.current() {
            b'"' | b'\'' => self.string(),
            b'[' => Err(self.error("lists not allowed in VMX format")),
            b'0'..=b'9' | b'-' | b'+' => Err(self.error("numbers not allowed in VMX format")),
            _ => Err(self.error("expecting a value")),
        }
    }

    fn string(&mut self) -> Result<String> {
        let quote = self.current();
        let triple = quote == b'"'
            && self.position + 6 < self.bytes.len()
            && self.bytes[self.position..].starts_with(b"\"\"\"");
        if triple {
            self.position += 3;
            let start = self.position;
            while self.position + 2 < self.bytes.len()
                && !self.bytes[self.position..].starts_with(b"\"\"\"")
            {
                if self.current() == b'\n' {
                    self.line += 1;
                }
                self.position += 1;
            }
            if !self.bytes[self.position..].starts_with(b"\"\"\"") {
                return Err(self.error("unterminated string"));
            }
            let value = self.text(start, self.position);
            self.position += 3;
            return Ok(value);
        }
        self.position += 1;
        let start = self.position;
        while !self.at_end() && self.current() != quote && !matches!(self.current(), b'\n' | b'\r')
        {
            self.position += 1;
        }
        if self.current() != quote {
            return Err(self.error("unterminated string"));
        }
        let value = self.text(start, self.position);
        self.position += 1;
        Ok(value)
    }

    fn separator(&mut self) -> Result<()> {
        self.skip_blanks();
        if self.at_end() {
            return Ok(());
        }
        match self.current() {
            b'\n' | b'\r' => self.skip_blanks_and_newlines(),
            b';' => {
                self.position += 1;
                self.skip_blanks_and_newlines();
            }
            _ => return Err(self.error("expecting a separator")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_case_insensitively_first_wins() {
        let file = VmxFile::parse(
            ".encoding = \"UTF-8\"\n# comment\nmemSize = \"64\" # trailing\nmemsize = \"128\"\n",
        )
        .expect("parses");
        assert_eq!(file.get(".encoding"), Some("UTF-8"));
        assert_eq!(file.get("MEMSIZE"), Some("64"));
        assert_eq!(file.entries().count(), 3);
    }

    #[test]
    fn reports_syntax_errors_with_their_line() {
        let error = VmxFile::parse("a = \"1\"\nb = 2\n").expect_err("numbers are refused");
        assert_eq!(error.code(), ErrorNumber::CONF_SYNTAX);
        assert!(error
            .message()
            .contains("memory conf:2: numbers not allowed in VMX format"));
        assert!(VmxFile::parse("a = \"unterminated\n").is_err());
        assert!(VmxFile::parse("a \"x\"\n").is_err());
        assert!(VmxFile::parse("a = [\"x\"]\n").is_err());
    }

    #[test]
    fn typed_lookups_follow_libvirt() {
        let file = VmxFile::parse(
            "n = \"42\"\nu = \"unlimited\"\nbad = \"4x\"\nyes = \"TRUE\"\nno = \"maybe\"\n",
        )
        .expect("parses");
        assert_eq!(file.long("n", 0, true).ok(), Some(42));
        assert_eq!(file.long("u", 0, true).ok(), Some(-1));
        assert_eq!(file.long("absent", 7, false).ok(), Some(7));
        assert!(file.long("bad", 0, false).is_err());
        let missing = file.long("absent", 0, true).expect_err("required");
        assert!(missing
            .message()
            .contains("Missing essential config entry 'absent'"));
        assert_eq!(file.boolean("yes", false).ok(), Some(true));
        assert!(file.boolean("no", false).is_err());
    }

    #[test]
    fn uuids_round_trip_in_vmx_spelling() {
        let text = "42 1a 61 77 5a a9 ab b7-59 24 fc 37 6c 18 a1 b4";
        let uuid = parse_uuid(text).expect("parses");
        assert_eq!(
            uuid.hyphenated().to_string(),
            "421a6177-5aa9-abb7-5924-fc376c18a1b4"
        );
        assert_eq!(format_uuid(&uuid), text);
        assert!(parse_uuid("42 1a").is_none());
    }

    #[test]
    fn hex_escapes() {
        assert_eq!(escape_pipe("a \"b\" |c"), "a |22b|22 |7cc");
        assert_eq!(escape_percent("a/b%c\\"), "a%2fb%25c%5c");
        assert_eq!(unescape_hex("a|22b|7c", '|').as_deref(), Some("a\"b|"));
        assert_eq!(unescape_hex("bad|2", '|'), None);
        assert_eq!(unescape_hex("bad|zz", '|'), None);
    }

    #[test]
    fn integers_read_as_c_does() {
        assert_eq!(parse_whole_i64(" -12"), Some(-12));
        assert_eq!(parse_whole_i64("12 "), None);
        assert_eq!(parse_whole_u64("-1"), Some(u64::MAX));
        assert_eq!(parse_leading_integer("3.x"), Some((3, ".x")));
    }

    #[test]
    fn decodes_declared_character_sets() {
        let latin1 = b".encoding = \"ISO-8859-1\"\ndisplayName = \"caf\xe9\"\n";
        let text = decode_vmx(latin1).expect("decodes");
        assert!(text.contains("café"));
        assert!(decode_vmx(b".encoding = \"EBCDIC\"\n").is_err());
    }

    #[test]
    fn writer_writes_quoted_lines() {
        let mut writer = VmxWriter::new();
        writer.set("config.version", 8);
        writer.set("displayName", "x");
        assert_eq!(
            writer.finish(),
            "config.version = \"8\"\ndisplayName = \"x\"\n"
        );
    }
}
