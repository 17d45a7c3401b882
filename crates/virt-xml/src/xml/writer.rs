//! The formatter every document type writes through: libvirt's two-space indentation,
//! single-quoted attributes, `<x/>` for empty elements, and libvirt's escaping
//! (`virBufferEscapeString`: `< > & ' "` become entities, other C0 controls are dropped).

/// libvirt's `VIR_DOMAIN_DEF_FORMAT_*` choices that change what a document shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatFlags {
    /// Include secrets (VNC/SPICE passwords, cookies): `VIR_DOMAIN_XML_SECURE`.
    pub secure: bool,
    /// The persistent configuration rather than the live state (no `id`, no runtime-only
    /// elements): `VIR_DOMAIN_XML_INACTIVE`.
    pub inactive: bool,
    /// Leave out what an older libvirt on a migration target would reject:
    /// `VIR_DOMAIN_XML_MIGRATABLE`.
    pub migratable: bool,
    /// The daemon's private status file (runtime bookkeeping included).
    pub status: bool,
}

/// Builds one document (or fragment) as a `String`.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    flags: FormatFlags,
    depth: usize,
    /// A start tag is open (`<name attr='v'` written, `>` not yet).
    start_tag_open: bool,
    /// The innermost element got text, so its end tag follows on the same line.
    after_text: bool,
}

/// How an element with no content is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyStyle {
    /// `<x a='1'/>`.
    SelfClose,
    /// Nothing at all when there are no attributes either (`virXMLFormatElement`); `<x a='1'/>`
    /// otherwise.
    Omit,
    /// `<x a='1'>` and `</x>` on separate lines (libvirt's hand-written `">\n"` elements).
    Expanded,
}

/// Where an element started, so that [`Writer::close`] can drop it when it turned out empty.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    line_start: usize,
    after_name: usize,
    /// Where the parent's start tag ended if opening this element closed it (so that an
    /// omitted element leaves the parent as it was).
    parent_tag_end: Option<usize>,
}

impl Writer {
    pub fn new() -> Self {
        Writer::default()
    }

    /// A writer whose top-level elements are indented by `depth` levels (for fragments that
    /// libvirt embeds in other documents, e.g. a domain inside a snapshot).
    pub fn with_depth(depth: usize) -> Self {
        Writer {
            depth,
            ..Writer::default()
        }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            ..Writer::default()
        }
    }

    /// Sets the format flags the element writers consult.
    pub fn set_flags(&mut self, flags: FormatFlags) {
        self.flags = flags;
    }

    /// The format flags in force.
    pub fn flags(&self) -> FormatFlags {
        self.flags
    }

    /// Current nesting depth (number of open elements plus the initial indentation).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The text written so far.
    pub fn finish(self) -> String {
        self.out
    }

    /// Read access to what has been written (for callers that post-process a fragment).
    pub fn as_str(&self) -> &str {
        &self.out
    }

    fn end_start_tag(&mut self) {
        if self.start_tag_open {
            self.out.push_str(">\n");
            self.start_tag_open = false;
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// Writes `<name` on a new line; attributes and content follow, then [`Writer::close`].
    pub fn open(&mut self, name: &str) -> Mark {
        let parent_tag_end = self.start_tag_open.then_some(self.out.len());
        self.end_start_tag();
        let line_start = self.out.len();
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.depth += 1;
        self.start_tag_open = true;
        self.after_text = false;
        Mark {
            line_start,
            after_name: self.out.len(),
            parent_tag_end,
        }
    }

    /// Ends the element opened at `mark`: `/>` when it has no content, `</name>` otherwise.
    /// With `omit_if_empty` an element with neither attributes nor content disappears
    /// (libvirt's `virXMLFormatElement`).
    pub fn close(&mut self, mark: Mark, name: &str, omit_if_empty: bool) {
        let style = if omit_if_empty {
            EmptyStyle::Omit
        } else {
            EmptyStyle::SelfClose
        };
        self.close_as(mark, name, style);
    }

    /// Ends the element opened at `mark`, writing an empty element in `style`.
    pub fn close_as(&mut self, mark: Mark, name: &str, style: EmptyStyle) {
        self.depth -= 1;
        if self.start_tag_open {
            self.start_tag_open = false;
            match style {
                EmptyStyle::Omit if self.out.len() == mark.after_name => {
                    match mark.parent_tag_end {
                        Some(parent_tag_end) => {
                            self.out.truncate(parent_tag_end);
                            self.start_tag_open = true;
                        }
                        None => self.out.truncate(mark.line_start),
                    }
                }
                EmptyStyle::Expanded => {
                    self.out.push_str(">\n");
                    self.indent();
                    self.out.push_str("</");
                    self.out.push_str(name);
                    self.out.push_str(">\n");
                }
                _ => self.out.push_str("/>\n"),
            }
        } else if self.after_text {
            self.after_text = false;
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push_str(">\n");
        } else {
            self.indent();
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push_str(">\n");
        }
    }

    /// ` name='value'` with `value` escaped.
    pub fn attr(&mut self, name: &str, value: &str) {
        debug_assert!(
            self.start_tag_open,
            "attribute {name} written outside a start tag"
        );
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("='");
        escape_into(&mut self.out, value);
        self.out.push('\'');
    }

    /// ` name='...'` where `write` appends the already-escaped value.
    pub fn attr_with(&mut self, name: &str, write: impl FnOnce(&mut String)) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("='");
        write(&mut self.out);
        self.out.push('\'');
    }

    /// Text content of the element being written (escaped).
    pub fn text(&mut self, text: &str) {
        if self.start_tag_open {
            self.out.push('>');
            self.start_tag_open = false;
        }
        escape_into(&mut self.out, text);
        self.after_text = true;
    }

    /// Text content where `write` appends the already-escaped text.
    pub fn text_with(&mut self, write: impl FnOnce(&mut String)) {
        if self.start_tag_open {
            self.out.push('>');
            self.start_tag_open = false;
        }
        write(&mut self.out);
        self.after_text = true;
    }

    /// `<name/>`.
    pub fn empty_element(&mut self, name: &str) {
        let mark = self.open(name);
        self.close(mark, name, false);
    }

    /// `<name>text</name>`.
    pub fn text_element(&mut self, name: &str, text: &str) {
        let mark = self.open(name);
        self.text(text);
        self.close(mark, name, false);
    }

    /// Appends already-formatted lines verbatim, each indented to the current depth
    /// (for content libvirt serializes through libxml2, such as `<metadata>` children).
    pub fn raw_lines(&mut self, text: &str) {
        self.end_start_tag();
        for line in text.lines() {
            self.indent();
            self.out.push_str(line);
            self.out.push('\n');
        }
    }

    /// Appends one pre-formatted element: indentation for its first line, the text (which
    /// carries its own indentation on later lines), a newline.
    pub fn raw_element(&mut self, text: &str) {
        self.end_start_tag();
        self.indent();
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// An empty line (capabilities XML separates its sections with them).
    pub fn blank_line(&mut self) {
        self.end_start_tag();
        self.out.push('\n');
    }

    /// Appends `text` exactly as given, with no indentation or newline handling.
    pub fn raw(&mut self, text: &str) {
        self.end_start_tag();
        self.out.push_str(text);
    }
}

/// Appends `text` escaped as libvirt's `virBufferEscapeString` does.
pub fn escape_into(out: &mut String, text: &str) {
    let needs_escape = |byte: u8| {
        matches!(byte, b'<' | b'>' | b'&' | b'\'' | b'"')
            || (byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r'))
    };
    if !text.bytes().any(needs_escape) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_and_closes_like_libvirt() {
        let mut w = Writer::new();
        let domain = w.open("domain");
        w.attr("type", "kvm");
        w.text_element("name", "a<b>'c'");
        let os = w.open("os");
        let ty = w.open("type");
        w.attr("arch", "x86_64");
        w.text("hvm");
        w.close(ty, "type", false);
        w.empty_element("boot");
        w.close(os, "os", false);
        let empty = w.open("features");
        w.close(empty, "features", true);
        w.close(domain, "domain", false);
        // An omitted first child leaves its parent self-closed.
        let parent = w.open("disk");
        let omitted = w.open("driver");
        w.close(omitted, "driver", true);
        w.close(parent, "disk", false);
        assert_eq!(
            w.finish(),
            "<domain type='kvm'>\n  <name>a&lt;b&gt;&apos;c&apos;</name>\n  <os>\n    <type arch='x86_64'>hvm</type>\n    <boot/>\n  </os>\n</domain>\n<disk/>\n"
        );
    }

    /// libvirt's `virBufferEscapeString` keeps a tab, newline or CR as it is, in attribute
    /// values too, so XML reads it back as a space: libvirt's output (and rvirt's) settles
    /// only in the second round. The `domain_xml` fuzz target met it with `&#9;` in a path.
    #[test]
    fn attribute_whitespace_is_written_as_libvirt_does() {
        let mut w = Writer::new();
        let source = w.open("source");
        w.attr("file", "/a\tb");
        w.close(source, "source", false);
        let once = w.finish();
        assert_eq!(once, "<source file='/a\tb'/>\n");
        let root = crate::xml::parse_document(&once, "(test)", virt_core::ErrorDomain::XML)
            .expect("parses")
            .root;
        assert_eq!(root.attr("file"), Some("/a b"));
    }

    /// The same in text: a CR is written as it is, and XML reads a CR LF pair or a lone CR
    /// back as one LF. The `any_xml` fuzz target met it in a CDATA node device name.
    #[test]
    fn text_carriage_returns_are_written_as_libvirt_does() {
        let mut w = Writer::new();
        w.text_element("name", "a\r\r\nb");
        let once = w.finish();
        assert_eq!(once, "<name>a\r\r\nb</name>\n");
        let root = crate::xml::parse_document(&once, "(test)", virt_core::ErrorDomain::XML)
            .expect("parses")
            .root;
        assert_eq!(root.text(), "a\n\nb");
    }
}
