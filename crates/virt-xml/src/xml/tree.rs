//! The transient element tree a document is read into before it becomes a typed model.
//!
//! libvirt reads its documents with XPath: a child is found by name wherever it sits, the first
//! match wins and unknown elements are ignored. A borrowed tree (names and most values are
//! slices of the input) gives the typed parsers the same freedom; it lives only for the
//! duration of one `parse` call.
//!
//! This is also where hostile input stops: no DTD, no entity other than XML's predefined and
//! numeric ones, a depth limit, a size limit, valid UTF-8 and XML characters, no duplicate
//! attributes. Every refusal is a `VIR_ERR_XML_DETAIL` naming line and column.

use std::borrow::Cow;

use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use virt_core::{Error, ErrorDomain, ErrorNumber};

/// Largest document accepted: libvirt's RPC string limit (`VIR_NET_MESSAGE_STRING_MAX`).
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// Deepest element nesting accepted (libxml2's default `xmlParserMaxDepth`).
pub const MAX_DEPTH: usize = 256;

/// One element: its qualified name as written, its attributes in document order, and its
/// content (child elements and text) in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    name: &'a str,
    attrs: Vec<(&'a str, Cow<'a, str>)>,
    content: Vec<Content<'a>>,
    /// Byte offset of the element's `<` in the document, for error messages.
    offset: usize,
}

/// A piece of an element's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Content<'a> {
    Element(Node<'a>),
    Text(Cow<'a, str>),
}

impl<'a> Node<'a> {
    /// A node built by hand (tests, and documents assembled from parts).
    pub fn new(name: &'a str) -> Self {
        Node {
            name,
            attrs: Vec::new(),
            content: Vec::new(),
            offset: 0,
        }
    }

    /// The qualified name, e.g. `disk` or `qemu:commandline`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name without its namespace prefix.
    pub fn local_name(&self) -> &'a str {
        match self.name.split_once(':') {
            Some((_, local)) => local,
            None => self.name,
        }
    }

    /// The namespace prefix, if the name has one.
    pub fn prefix(&self) -> Option<&'a str> {
        self.name.split_once(':').map(|(prefix, _)| prefix)
    }

    /// Byte offset of this element in its document.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The value of attribute `name` (qualified name as written).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_ref())
    }

    /// All attributes, in document order.
    pub fn attrs(&self) -> impl Iterator<Item = (&'a str, &str)> {
        self.attrs.iter().map(|(key, value)| (*key, value.as_ref()))
    }

    /// Child elements, in document order.
    pub fn children(&self) -> impl Iterator<Item = &Node<'a>> {
        self.content.iter().filter_map(|content| match content {
            Content::Element(node) => Some(node),
            Content::Text(_) => None,
        })
    }

    /// The content (elements and text), in document order.
    pub fn content(&self) -> &[Content<'a>] {
        &self.content
    }

    /// The first child element called `name`, as libvirt's `./name` XPath finds it.
    pub fn child(&self, name: &str) -> Option<&Node<'a>> {
        self.children().find(|node| node.name == name)
    }

    /// Every child element called `name`.
    pub fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Node<'a>> + 's {
        self.children().filter(move |node| node.name == name)
    }

    /// Follows a `/`-separated path of first-match children, e.g. `"os/type"`.
    pub fn path(&self, path: &str) -> Option<&Node<'a>> {
        let mut node = self;
        for step in path.split('/') {
            node = node.child(step)?;
        }
        Some(node)
    }

    /// The element's direct text, concatenated (libvirt's `string(./x)` for leaf elements).
    pub fn text(&self) -> Cow<'_, str> {
        let mut texts = self.content.iter().filter_map(|content| match content {
            Content::Text(text) => Some(text),
            Content::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first.as_ref()),
            Some(second) => {
                let mut joined = String::from(first.as_ref());
                joined.push_str(second);
                for text in texts {
                    joined.push_str(text);
                }
                Cow::Owned(joined)
            }
        }
    }

    /// Whether the element has any child element or non-blank text.
    pub fn is_empty(&self) -> bool {
        self.content.iter().all(|content| match content {
            Content::Element(_) => false,
            Content::Text(text) => text.trim().is_empty(),
        })
    }

    /// Resolves namespace `prefix` as declared on this element (the only scope the
    /// typed parsers need: libvirt's namespaced extensions declare their prefix on the root or
    /// on the element itself).
    pub fn namespace_of(&self, prefix: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key.strip_prefix("xmlns:") == Some(prefix))
            .map(|(_, value)| value.as_ref())
    }

    /// Adds an attribute (tests and hand-built nodes).
    pub fn push_attr(&mut self, name: &'a str, value: impl Into<Cow<'a, str>>) {
        self.attrs.push((name, value.into()));
    }

    /// Adds a child element (tests and hand-built nodes).
    pub fn push_child(&mut self, child: Node<'a>) {
        self.content.push(Content::Element(child));
    }

    /// Adds text content (tests and hand-built nodes).
    pub fn push_text(&mut self, text: impl Into<Cow<'a, str>>) {
        self.content.push(Content::Text(text.into()));
    }
}

/// A parsed document: the root element plus what error messages need to point into the text.
#[derive(Debug)]
pub struct Document<'a> {
    pub root: Node<'a>,
    pub source: &'a str,
    pub name: &'static str,
    pub error_domain: ErrorDomain,
}

impl Document<'_> {
    /// Line (1-based) and column (1-based, in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        line_column(self.source, offset)
    }
}

/// Line and column (both 1-based) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|byte| **byte == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |pos| pos + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// A `VIR_ERR_XML_DETAIL` error in libvirt's shape: `NAME:LINE:COLUMN: MESSAGE`, then the
/// offending line and a pointer under the column.
pub fn detail_error(
    source: &str,
    doc_name: &str,
    error_domain: ErrorDomain,
    offset: usize,
    message: &str,
) -> Error {
    let (line, column) = line_column(source, offset);
    let line_start = source.as_bytes()[..offset.min(source.len())]
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |pos| pos + 1);
    let context: String = source[line_start..]
        .chars()
        .take_while(|c| *c != '\n' && *c != '\r')
        .take(200)
        .collect();
    let pointer: String = context
        .chars()
        .take(column - 1)
        .map(|c| if c == '\t' { '\t' } else { '-' })
        .chain(std::iter::once('^'))
        .collect();
    Error::new(
        ErrorNumber::XML_DETAIL,
        error_domain,
        format!("{doc_name}:{line}:{column}: {message}\n{context}\n{pointer}"),
    )
}

/// A byte slice checked the way libxml2 checks its input: valid UTF-8 (the error names the
/// line and column of the first bad byte).
pub fn check_utf8<'a>(
    bytes: &'a [u8],
    doc_name: &str,
    error_domain: ErrorDomain,
) -> Result<&'a str, Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(error) => {
            let valid = error.valid_up_to();
            // Safe prefix for the context line.
            let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
            let bad = bytes.get(valid).copied().unwrap_or(0);
            Err(detail_error(
                prefix,
                doc_name,
                error_domain,
                valid,
                &format!("Input is not proper UTF-8, indicate encoding ! Bytes: 0x{bad:02X}"),
            ))
        }
    }
}

/// Reads `source` into a tree, enforcing the limits above. `doc_name` labels error messages
/// the way libvirt does, e.g. `(domain_definition)`.
pub fn parse_document<'a>(
    source: &'a str,
    doc_name: &'static str,
    error_domain: ErrorDomain,
) -> Result<Document<'a>, Error> {
    let fail = |offset: usize, message: &str| {
        detail_error(source, doc_name, error_domain, offset, message)
    };
    if source.len() > MAX_DOCUMENT_BYTES {
        return Err(fail(
            MAX_DOCUMENT_BYTES,
            &format!(
                "document is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES} bytes",
                source.len()
            ),
        ));
    }
    if let Some(offset) = find_invalid_char(source) {
        let bad = source[offset..].chars().next().unwrap_or('\0');
        return Err(fail(
            offset,
            &format!("invalid XML character U+{:04X}", bad as u32),
        ));
    }

    // quick-xml skips a byte order mark without counting it in its positions, which are
    // offsets into `source` here: the reader starts after the mark.
    let bom = if source.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut reader = Reader::from_str(&source[bom..]);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<Node<'a>> = Vec::new();
    let mut root: Option<Node<'a>> = None;
    loop {
        let event_start = bom + reader.buffer_position() as usize;
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) => {
                let offset = bom + reader.error_position() as usize;
                return Err(fail(offset, &describe_reader_error(&error)));
            }
        };
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() && stack.is_empty() => {
                let _ = start;
                return Err(fail(
                    event_start,
                    "Extra content at the end of the document",
                ));
            }
            Event::Start(start) => {
                if let Some(parent) = stack.last_mut() {
                    drop_indentation(parent);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(
                        event_start,
                        &format!("Excessive depth in document: {MAX_DEPTH}"),
                    ));
                }
                stack.push(element(source, start, event_start, doc_name, error_domain)?);
            }
            Event::Empty(start) => {
                let node = element(source, start, event_start, doc_name, error_domain)?;
                match stack.last_mut() {
                    Some(parent) => {
                        drop_indentation(parent);
                        parent.content.push(Content::Element(node))
                    }
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err(fail(event_start, "Unexpected end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.content.push(Content::Element(node)),
                    None => root = Some(node),
                }
            }
            Event::Text(text) => {
                let raw: &'a str = slice_of(source, text.as_ref());
                match stack.last_mut() {
                    // Indentation after a child element is not content.
                    Some(parent)
                        if raw.bytes().all(|b| b.is_ascii_whitespace())
                            && matches!(parent.content.last(), Some(Content::Element(_))) => {}
                    Some(parent) => {
                        let value = unescape(raw)
                            .map_err(|message| fail(event_start + message.0, &message.1))?;
                        parent
                            .content
                            .push(Content::Text(normalize_newlines(value)));
                    }
                    None if raw.trim().is_empty() => {}
                    None if root.is_some() => {
                        return Err(fail(
                            event_start,
                            "Extra content at the end of the document",
                        ))
                    }
                    None => return Err(fail(event_start, "Start tag expected, '<' not found")),
                }
            }
            Event::CData(cdata) => {
                let raw: &'a str = slice_of(source, cdata.as_ref());
                // Line ends are normalized before parsing, in CDATA sections too.
                let text = normalize_newlines(Cow::Borrowed(raw));
                match stack.last_mut() {
                    Some(parent) => parent.content.push(Content::Text(text)),
                    None => return Err(fail(event_start, "CDATA outside of the root element")),
                }
            }
            Event::DocType(_) => {
                return Err(fail(
                    event_start,
                    "DOCTYPE is not allowed: no DTD, no entity declarations",
                ));
            }
            Event::Decl(_) => {
                if root.is_some() || !stack.is_empty() || source[bom..event_start].trim() != "" {
                    return Err(fail(
                        event_start,
                        "XML declaration allowed only at the start of the document",
                    ));
                }
            }
            Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(fail(
            source.len(),
            &format!(
                "Premature end of data in tag {} line {}",
                open.name,
                line_column(source, open.offset).0
            ),
        ));
    }
    match root {
        Some(root) => Ok(Document {
            root,
            source,
            name: doc_name,
            error_domain,
        }),
        None if source.trim().is_empty() => Err(fail(source.len(), "Document is empty")),
        None => Err(fail(source.len(), "Start tag expected, '<' not found")),
    }
}

/// XML end-of-line handling: `\r\n` and a lone `\r` in text read as `\n`.
fn normalize_newlines(text: Cow<'_, str>) -> Cow<'_, str> {
    if !text.contains('\r') {
        return text;
    }
    Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Removes whitespace-only text that precedes a child element (indentation); libvirt parses
/// with blanks dropped, so it never is content.
fn drop_indentation(parent: &mut Node<'_>) {
    if let Some(Content::Text(text)) = parent.content.last() {
        if text.bytes().all(|b| b.is_ascii_whitespace()) {
            parent.content.pop();
        }
    }
}

fn element<'a>(
    source: &'a str,
    start: BytesStart<'a>,
    offset: usize,
    doc_name: &str,
    error_domain: ErrorDomain,
) -> Result<Node<'a>, Error> {
    let fail = |at: usize, message: &str| detail_error(source, doc_name, error_domain, at, message);
    let name: &'a str = slice_of(source, start.name().into_inner());
    // quick-xml takes whatever follows `<` as the name, even nothing (`< a/>`): a tree with
    // such a node formats to something that no longer parses.
    if !is_xml_name(name) {
        return Err(fail(offset + 1, "StartTag: invalid element name"));
    }
    let mut attrs = Vec::new();
    // Attributes start after `<` and the name.
    let attrs_base = offset + 1;
    for attr in start.attributes() {
        let attr = match attr {
            Ok(attr) => attr,
            Err(AttrError::Duplicated(at, _)) => {
                let key: String = source[attrs_base + at..]
                    .chars()
                    .take_while(|c| *c != '=' && !c.is_whitespace())
                    .collect();
                return Err(fail(attrs_base + at, &format!("Attribute {key} redefined")));
            }
            Err(error) => {
                let at = match &error {
                    AttrError::ExpectedEq(at)
                    | AttrError::ExpectedValue(at)
                    | AttrError::UnquotedValue(at)
                    | AttrError::ExpectedQuote(at, _) => *at,
                    _ => 0,
                };
                return Err(fail(
                    attrs_base + at,
                    &format!("malformed attribute: {error}"),
                ));
            }
        };
        let key: &'a str = slice_of(source, attr.key.into_inner());
        if !is_xml_name(key) {
            return Err(fail(offset, "error parsing attribute name"));
        }
        let raw: &'a str = match &attr.value {
            Cow::Borrowed(bytes) => slice_of(source, bytes),
            Cow::Owned(_) => return Err(fail(offset, "attribute value could not be read")),
        };
        if !raw
            .bytes()
            .any(|b| matches!(b, b'<' | b'&' | b'\t' | b'\n' | b'\r'))
        {
            attrs.push((key, Cow::Borrowed(raw)));
            continue;
        }
        if raw.contains('<') {
            return Err(fail(
                offset,
                &format!("Unescaped '<' not allowed in attribute '{key}'"),
            ));
        }
        // XML attribute-value normalization: literal tab/newline become spaces (before
        // character references are expanded, which may produce them deliberately).
        let value: Cow<'a, str> = if raw.contains(['\t', '\n', '\r']) {
            let normalized = raw.replace("\r\n", " ").replace(['\t', '\n', '\r'], " ");
            Cow::Owned(
                unescape(&normalized)
                    .map_err(|(_, message)| fail(offset, &message))?
                    .into_owned(),
            )
        } else {
            unescape(raw).map_err(|(_, message)| fail(offset, &message))?
        };
        attrs.push((key, value));
    }
    Ok(Node {
        name,
        attrs,
        content: Vec::new(),
        offset,
    })
}

/// An XML `Name`: a letter, `_` or `:` first, then letters, digits, `-`, `.`, `_`, `:`.
/// Characters beyond ASCII are let through (the spec allows nearly all of them).
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | ':') || !c.is_ascii())
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':') || !c.is_ascii()
        })
}

/// The `&str` of `source` that `bytes` (a sub-slice handed out by quick-xml) covers.
fn slice_of<'a>(source: &'a str, bytes: &[u8]) -> &'a str {
    let base = source.as_ptr() as usize;
    let start = (bytes.as_ptr() as usize)
        .saturating_sub(base)
        .min(source.len());
    let end = (start + bytes.len()).min(source.len());
    // quick-xml splits only at ASCII delimiters, so both ends are character boundaries.
    source.get(start..end).unwrap_or_default()
}

/// Replaces XML's predefined and numeric character references. Anything else (a general
/// entity, which would need a DTD) is refused. Errors carry the offset within `raw`.
fn unescape(raw: &str) -> Result<Cow<'_, str>, (usize, String)> {
    let Some(first_amp) = raw.find('&') else {
        return Ok(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first_amp]);
    let mut rest = &raw[first_amp..];
    let mut consumed = first_amp;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            return Err((consumed + amp, "EntityRef: expecting ';'".to_string()));
        };
        let entity = &after[..semi];
        let replacement = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    return Err((consumed + amp, format!("Entity '{entity}' not defined")));
                };
                match code.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
                    Some(c) => c,
                    None => {
                        return Err((
                            consumed + amp,
                            format!("xmlParseCharRef: invalid xmlChar value in '&{entity};'"),
                        ))
                    }
                }
            }
        };
        out.push(replacement);
        let step = amp + 1 + semi + 1;
        consumed += step;
        rest = &rest[step..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Offset of the first character XML 1.0 forbids (C0 controls other than tab/LF/CR,
/// U+FFFE and U+FFFF).
fn find_invalid_char(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    // Branch-free scan first (vectorizes); only a suspicious chunk is looked at closely.
    let suspicious =
        |b: u8| ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xef);
    for (chunk_idx, chunk) in bytes.chunks(64).enumerate() {
        if !chunk.iter().fold(false, |acc, &b| acc | suspicious(b)) {
            continue;
        }
        let base = chunk_idx * 64;
        for (idx, byte) in chunk.iter().enumerate() {
            let at = base + idx;
            match *byte {
                b'\t' | b'\n' | b'\r' => {}
                0..=0x1f => return Some(at),
                0xef if bytes.get(at + 1) == Some(&0xbf)
                    && matches!(bytes.get(at + 2), Some(0xbe) | Some(0xbf)) =>
                {
                    return Some(at)
                }
                _ => {}
            }
        }
    }
    None
}

fn describe_reader_error(error: &quick_xml::Error) -> String {
    use quick_xml::errors::{Error as QxError, IllFormedError, SyntaxError};
    match error {
        QxError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            if found.contains(|c: char| c.is_whitespace() || c == '<') || found == expected {
                "expected '>'".to_string()
            } else {
                format!("Opening and ending tag mismatch: {expected} and {found}")
            }
        }
        QxError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
            format!("Unexpected end tag : {name}")
        }
        QxError::IllFormed(IllFormedError::MissingEndTag(name)) => {
            format!("Premature end of data in tag {name}")
        }
        QxError::IllFormed(IllFormedError::DoubleHyphenInComment) => {
            "Double hyphen within comment".to_string()
        }
        QxError::Syntax(SyntaxError::UnclosedTag) => "Couldn't find end of Start Tag".to_string(),
        QxError::Syntax(SyntaxError::UnclosedComment) => "Comment not terminated".to_string(),
        QxError::Syntax(SyntaxError::UnclosedCData) => "CData section not finished".to_string(),
        QxError::Syntax(other) => format!("{other}"),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Node<'_>, Error> {
        parse_document(text, "(test)", ErrorDomain::XML).map(|doc| doc.root)
    }

    #[test]
    fn reads_elements_attributes_and_text() {
        let root = parse("<a x='1' y=\"2\"><b>t&amp;u</b><c/>tail</a>").expect("valid");
        assert_eq!(root.name(), "a");
        assert_eq!(root.attr("y"), Some("2"));
        assert_eq!(root.child("b").expect("b").text(), "t&u");
        assert!(root.child("c").expect("c").is_empty());
        assert_eq!(root.text(), "tail");
    }

    #[test]
    fn refuses_doctype_and_entities() {
        let error = parse("<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>").expect_err("dtd");
        assert_eq!(error.code(), ErrorNumber::XML_DETAIL);
        assert!(error.message().contains("DOCTYPE"), "{}", error.message());
        let error = parse("<a>&e;</a>").expect_err("entity");
        assert!(
            error.message().contains("Entity 'e' not defined"),
            "{}",
            error.message()
        );
        assert!(
            error.message().starts_with("(test):1:4:"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn reports_line_and_column() {
        let error = parse("<a>\n  <b></c>\n</a>").expect_err("mismatch");
        assert_eq!(error.code(), ErrorNumber::XML_DETAIL);
        assert!(
            error.message().starts_with("(test):2:"),
            "{}",
            error.message()
        );
        assert!(error.message().contains("mismatch"), "{}", error.message());
    }

    #[test]
    fn refuses_duplicate_attributes() {
        let error = parse("<a>\n<b x='1' x='2'/></a>").expect_err("dup");
        assert!(
            error.message().contains("Attribute x redefined"),
            "{}",
            error.message()
        );
        assert!(
            error.message().starts_with("(test):2:"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn limits_depth_and_size() {
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        let error = parse(&deep).expect_err("deep");
        assert!(
            error.message().contains("Excessive depth"),
            "{}",
            error.message()
        );
        let big = format!("<a>{}</a>", "x".repeat(MAX_DOCUMENT_BYTES));
        let error = parse(&big).expect_err("big");
        assert!(error.message().contains("limit"), "{}", error.message());
    }

    #[test]
    fn refuses_bad_bytes_and_empty_documents() {
        let error = check_utf8(b"<a>\n\xff</a>", "(test)", ErrorDomain::XML).expect_err("utf8");
        assert!(
            error.message().starts_with("(test):2:1:"),
            "{}",
            error.message()
        );
        let error = parse("<a>\u{1}</a>").expect_err("control");
        assert!(error.message().contains("U+0001"), "{}", error.message());
        let error = parse("  ").expect_err("empty");
        assert!(
            error.message().contains("Document is empty"),
            "{}",
            error.message()
        );
        let error = parse("<a/><b/>").expect_err("two roots");
        assert!(
            error.message().contains("Extra content"),
            "{}",
            error.message()
        );
        let error = parse("<a><b></a>").expect_err("unclosed");
        assert_eq!(error.code(), ErrorNumber::XML_DETAIL);
    }

    /// Found by the `any_xml` fuzz target: `< x supported='no'/>` inside a domain
    /// capabilities' `<features>` was read as an element named "" and formatted as `</>`.
    #[test]
    fn element_without_a_name_is_refused() {
        let input = "<domainCapabilities><features>\n  cgv < ilanported='no'/>\n  \
                     <genid supported='yes'/></features></domainCapabilities>";
        let error = parse(input).expect_err("no name");
        assert_eq!(error.code(), ErrorNumber::XML_DETAIL);
        assert!(
            error.message().contains("invalid element name"),
            "{}",
            error.message()
        );
        for bad in [
            "< a/>",
            "<a><1b/></a>",
            "<a><-b/></a>",
            "<a ='1'/>",
            "<a b'c='1'/>",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        for good in ["<_a/>", "<a:b c:d='1'/>", "<a-b.c_d e-f.g='1'/>", "<été/>"] {
            assert!(parse(good).is_ok(), "{good}");
        }
    }

    /// The `any_xml` fuzz target met a byte order mark before a misplaced declaration:
    /// quick-xml's positions did not count the mark, and slicing at one panicked.
    #[test]
    fn a_byte_order_mark_counts_in_positions() {
        let crash = "\u{feff} <?xml 1.0\"?>[\n <domain t.l";
        assert!(parse(crash).is_err());
        assert!(parse("\u{feff} <?xml version='1.0'?><a/>").is_ok());
        let error = parse("\u{feff}<a/><?xml version='1.0'?>").expect_err("misplaced");
        assert!(
            error
                .message()
                .contains("XML declaration allowed only at the start"),
            "{}",
            error.message()
        );
        let error = parse("\u{feff}<a>\n<b></a>").expect_err("mismatched");
        assert!(
            error.message().contains("(test):2:4:"),
            "{}",
            error.message()
        );
    }

    /// The `any_xml` fuzz target met a CR in a CDATA section of domain metadata: it was kept,
    /// written as `&#13;` and read back as a CR that ordinary text turns into a line end.
    #[test]
    fn cdata_line_ends_are_normalized_as_text_ones() {
        let root = parse("<a><![CDATA[x\r\ny\rz<]]></a>").expect("valid");
        assert_eq!(root.text(), "x\ny\nz<");
    }

    #[test]
    fn normalizes_attribute_whitespace() {
        let root = parse("<a x='1\n2\t3'/>").expect("valid");
        assert_eq!(root.attr("x"), Some("1 2 3"));
    }
}
