//! `<metadata>`: application-owned XML kept verbatim, one element per XML namespace.
//!
//! libvirt keeps these foreign elements as a libxml2 subtree and writes them back with
//! libxml2's serializer (double-quoted attributes, two-space indentation unless an element
//! holds text). Elements without a namespace are dropped, and of several elements in the
//! same namespace only the first is kept, as `virXMLNodeSanitizeNamespaces` does.
//! [`Metadata::get`], [`Metadata::set`] and [`Metadata::remove`] implement
//! `virDomainGetMetadata`/`virDomainSetMetadata` for the `ELEMENT` type.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{parse_document, Content, Node, Writer};
use crate::Result;

/// An owned XML element, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawElement {
    /// Qualified name, e.g. `app1:foo`.
    pub name: String,
    /// Attributes including namespace declarations, in document order.
    pub attrs: Vec<(String, String)>,
    pub children: Vec<RawContent>,
}

/// Content of a [`RawElement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawContent {
    Element(RawElement),
    Text(String),
}

impl RawElement {
    /// Copies a parsed node. Whitespace-only text between child elements is dropped (libvirt
    /// parses with `xmlKeepBlanksDefault(0)`).
    pub fn from_node(node: &Node<'_>) -> RawElement {
        let has_elements = node.children().next().is_some();
        let children = node
            .content()
            .iter()
            .filter_map(|content| match content {
                Content::Element(child) => Some(RawContent::Element(RawElement::from_node(child))),
                Content::Text(text) if has_elements && text.trim().is_empty() => None,
                Content::Text(text) => Some(RawContent::Text(text.to_string())),
            })
            .collect();
        // libxml2 keeps namespace declarations apart from attributes and writes them first.
        let (mut attrs, others): (Vec<_>, Vec<_>) = node
            .attrs()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .partition(|(key, _)| is_namespace_declaration(key));
        attrs.extend(others);
        RawElement {
            name: node.name().to_string(),
            attrs,
            children,
        }
    }

    /// The namespace prefix of the element name.
    pub fn prefix(&self) -> Option<&str> {
        self.name.split_once(':').map(|(prefix, _)| prefix)
    }

    /// The namespace URI declared on this element for its own prefix (or the default
    /// namespace when it has none).
    pub fn declared_namespace(&self) -> Option<&str> {
        let key = match self.prefix() {
            Some(prefix) => format!("xmlns:{prefix}"),
            None => "xmlns".to_string(),
        };
        self.attrs
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.as_str())
    }

    /// Serializes the element as libxml2's `xmlNodeDump(..., level, format=1)` does.
    pub fn dump(&self, out: &mut String, level: usize, format: bool) {
        out.push('<');
        out.push_str(&self.name);
        for (key, value) in &self.attrs {
            out.push(' ');
            out.push_str(key);
            out.push_str("=\"");
            escape_attr(out, value);
            out.push('"');
        }
        if self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        let format = format
            && self
                .children
                .iter()
                .all(|child| matches!(child, RawContent::Element(_)));
        if format {
            out.push('\n');
        }
        for child in &self.children {
            match child {
                RawContent::Element(element) => {
                    if format {
                        push_indent(out, level + 1);
                    }
                    element.dump(out, level + 1, format);
                    if format {
                        out.push('\n');
                    }
                }
                RawContent::Text(text) => escape_text(out, text),
            }
        }
        if format {
            push_indent(out, level);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }

    /// Writes the element in libvirt's own style (single quotes, two-space indentation), for
    /// content libvirt formats itself but this crate keeps as written.
    pub fn write_libvirt(&self, w: &mut Writer) {
        let mark = w.open(&self.name);
        for (key, value) in &self.attrs {
            w.attr(key, value);
        }
        let has_elements = self
            .children
            .iter()
            .any(|c| matches!(c, RawContent::Element(_)));
        for child in &self.children {
            match child {
                RawContent::Element(element) => element.write_libvirt(w),
                RawContent::Text(text) if !has_elements => w.text(text),
                RawContent::Text(_) => {}
            }
        }
        w.close(mark, &self.name, false);
    }

    /// The element serialized on its own, starting at indentation level 0.
    pub fn to_xml(&self) -> String {
        let mut out = String::new();
        self.dump(&mut out, 0, true);
        out
    }
}

fn push_indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn escape_attr(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// One foreign element of `<metadata>` with the namespace it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataEntry {
    pub namespace: String,
    pub element: RawElement,
}

/// `<metadata>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub entries: Vec<MetadataEntry>,
}

impl Metadata {
    /// Reads `<metadata>`; `inherited` are namespace declarations in scope from ancestors
    /// (`(prefix, uri)`, the empty prefix for the default namespace).
    pub fn from_node(node: &Node<'_>, inherited: &[(String, String)]) -> Metadata {
        let mut scope: Vec<(String, String)> = inherited.to_vec();
        for (key, value) in node.attrs() {
            if let Some(prefix) = key.strip_prefix("xmlns:") {
                scope.push((prefix.to_string(), value.to_string()));
            } else if key == "xmlns" {
                scope.push((String::new(), value.to_string()));
            }
        }
        let mut entries: Vec<MetadataEntry> = Vec::new();
        for child in node.children() {
            let mut element = RawElement::from_node(child);
            let namespace = match element.declared_namespace() {
                Some(uri) => uri.to_string(),
                None => {
                    let prefix = element.prefix().unwrap_or("").to_string();
                    let Some((_, uri)) = scope.iter().rev().find(|(p, _)| *p == prefix) else {
                        continue;
                    };
                    // The copy carries its own declaration, as libxml2's node copy does.
                    let key = if prefix.is_empty() {
                        "xmlns".to_string()
                    } else {
                        format!("xmlns:{prefix}")
                    };
                    element.attrs.insert(0, (key, uri.clone()));
                    uri.clone()
                }
            };
            if namespace.is_empty() || entries.iter().any(|entry| entry.namespace == namespace) {
                continue;
            }
            entries.push(MetadataEntry { namespace, element });
        }
        Metadata { entries }
    }

    /// Writes `<metadata>` at the writer's current depth.
    pub fn write(&self, w: &mut Writer) {
        let level = w.depth();
        let mut out = String::new();
        if self.entries.is_empty() {
            out.push_str("<metadata/>");
        } else {
            out.push_str("<metadata>\n");
            for entry in &self.entries {
                push_indent(&mut out, level + 1);
                entry.element.dump(&mut out, level + 1, true);
                out.push('\n');
            }
            push_indent(&mut out, level);
            out.push_str("</metadata>");
        }
        w.raw_element(&out);
    }

    /// The element in namespace `uri`, serialized (`virDomainGetMetadata`): elements of
    /// that namespace lose their prefix and the top element's first declaration of `uri` is
    /// dropped, as `virXMLExtractNamespaceXML` does.
    pub fn get(&self, uri: &str) -> Option<String> {
        let entry = self.entries.iter().find(|entry| entry.namespace == uri)?;
        let mut element = entry.element.clone();
        let mut scope = Vec::new();
        strip_namespace(&mut element, uri, &mut scope);
        if let Some(index) = element
            .attrs
            .iter()
            .position(|(name, value)| is_namespace_declaration(name) && value == uri)
        {
            element.attrs.remove(index);
        }
        Some(element.to_xml())
    }

    /// Replaces (or adds) the element in namespace `uri` with `xml`
    /// (`virDomainSetMetadata` with `VIR_DOMAIN_METADATA_ELEMENT`): `xmlns:key='uri'` is
    /// declared on the top element and every element without a namespace is put into it;
    /// elements that already have a namespace keep it.
    pub fn set(&mut self, xml: &str, key: &str, uri: &str) -> Result<()> {
        let doc = parse_document(xml, "(metadata_xml)", ErrorDomain::DOMAIN)?;
        if !is_ncname(key) {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::DOMAIN,
                "failed to validate prefix for a new XML namespace",
            ));
        }
        let mut element = RawElement::from_node(&doc.root);
        let mut scope = Vec::new();
        inject_namespace(&mut element, key, &mut scope);
        let at = element
            .attrs
            .iter()
            .take_while(|(name, _)| is_namespace_declaration(name))
            .count();
        element
            .attrs
            .insert(at, (format!("xmlns:{key}"), uri.to_string()));
        let namespace = element_namespace(&element, &[]).unwrap_or(uri).to_string();
        self.entries.retain(|entry| entry.namespace != uri);
        self.entries.push(MetadataEntry { namespace, element });
        Ok(())
    }

    /// Removes the element in namespace `uri`; whether there was one.
    pub fn remove(&mut self, uri: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.namespace != uri);
        self.entries.len() != before
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn is_namespace_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

/// `xmlValidateNCName`, for the prefixes this crate creates.
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '\u{b7}'))
}

/// The namespace URI of `element` given the declarations in scope (`(prefix, uri)`, the
/// empty prefix for the default namespace) plus its own.
fn element_namespace<'a>(
    element: &'a RawElement,
    scope: &'a [(String, String)],
) -> Option<&'a str> {
    let prefix = element.prefix().unwrap_or("");
    let own = element.attrs.iter().rev().find_map(|(name, value)| {
        let declared = if name == "xmlns" {
            ""
        } else {
            name.strip_prefix("xmlns:")?
        };
        (declared == prefix).then_some(value.as_str())
    });
    let uri = own.or_else(|| {
        scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.as_str())
    })?;
    // `xmlns=''` undeclares the default namespace.
    (!uri.is_empty()).then_some(uri)
}

fn push_declarations(element: &RawElement, scope: &mut Vec<(String, String)>) -> usize {
    let before = scope.len();
    for (name, value) in &element.attrs {
        if name == "xmlns" {
            scope.push((String::new(), value.clone()));
        } else if let Some(prefix) = name.strip_prefix("xmlns:") {
            scope.push((prefix.to_string(), value.clone()));
        }
    }
    before
}

fn inject_namespace(element: &mut RawElement, key: &str, scope: &mut Vec<(String, String)>) {
    let before = push_declarations(element, scope);
    if element_namespace(element, scope).is_none() {
        element.name = format!("{key}:{}", element.name);
    }
    for child in &mut element.children {
        if let RawContent::Element(child) = child {
            inject_namespace(child, key, scope);
        }
    }
    scope.truncate(before);
}

fn strip_namespace(element: &mut RawElement, uri: &str, scope: &mut Vec<(String, String)>) {
    let before = push_declarations(element, scope);
    if element_namespace(element, scope) == Some(uri) {
        if let Some((_, local)) = element.name.split_once(':') {
            element.name = local.to_string();
        }
    }
    for child in &mut element.children {
        if let RawContent::Element(child) = child {
            strip_namespace(child, uri, scope);
        }
    }
    scope.truncate(before);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(xml: &str) -> Metadata {
        let doc = parse_document(xml, "(test)", ErrorDomain::DOMAIN).expect("valid");
        Metadata::from_node(&doc.root, &[])
    }

    #[test]
    fn keeps_foreign_elements_like_libxml2() {
        let meta = metadata(
            "<metadata>\n  <a:x xmlns:a='urn:a' k='v'>text</a:x>\n <b:y xmlns:b='urn:b'>\n<b:z/>\n</b:y><plain/><a:dup xmlns:a='urn:a'/></metadata>",
        );
        assert_eq!(meta.entries.len(), 2);
        let mut w = Writer::with_depth(1);
        meta.write(&mut w);
        assert_eq!(
            w.finish(),
            "  <metadata>\n    <a:x xmlns:a=\"urn:a\" k=\"v\">text</a:x>\n    <b:y xmlns:b=\"urn:b\">\n      <b:z/>\n    </b:y>\n  </metadata>\n"
        );
    }

    #[test]
    fn set_get_like_libvirt() {
        let cases = [
            (
                "<app><k>v</k></app>",
                "k0",
                "<k0:app xmlns:k0=\"U\"><k0:k>v</k0:k></k0:app>",
                "<app>\n  <k>v</k>\n</app>",
            ),
            (
                "<app xmlns='U'><k a='1'>v</k></app>",
                "k1",
                "<app xmlns=\"U\" xmlns:k1=\"U\"><k a=\"1\">v</k></app>",
                "<app xmlns:k1=\"U\">\n  <k a=\"1\">v</k>\n</app>",
            ),
            (
                "<x:app xmlns:x='U'><x:k>v</x:k></x:app>",
                "k2",
                "<x:app xmlns:x=\"U\" xmlns:k2=\"U\"><x:k>v</x:k></x:app>",
                "<app xmlns:k2=\"U\">\n  <k>v</k>\n</app>",
            ),
            (
                "<app a='1' xmlns:o='V'><o:z/><y/></app>",
                "k3",
                "<k3:app xmlns:o=\"V\" xmlns:k3=\"U\" a=\"1\"><o:z/><k3:y/></k3:app>",
                "<app xmlns:o=\"V\" a=\"1\">\n  <o:z/>\n  <y/>\n</app>",
            ),
        ];
        for (xml, key, stored, got) in cases {
            let mut meta = Metadata::default();
            meta.set(xml, key, "U").expect("set");
            let mut compact = String::new();
            meta.entries[0].element.dump(&mut compact, 0, false);
            assert_eq!(compact, stored, "{xml}");
            assert_eq!(meta.get("U").as_deref(), Some(got), "{xml}");
        }
        let mut meta = Metadata::default();
        let err = meta.set("<a/>", "1bad", "U").expect_err("bad prefix");
        assert_eq!(err.code(), ErrorNumber::INTERNAL_ERROR);
    }

    #[test]
    fn set_get_remove() {
        let mut meta = Metadata::default();
        meta.set("<foo><bar>1</bar></foo>", "app", "urn:app")
            .expect("set");
        assert_eq!(
            meta.get("urn:app").as_deref(),
            Some("<foo>\n  <bar>1</bar>\n</foo>")
        );
        assert!(meta.remove("urn:app"));
        assert!(meta.get("urn:app").is_none());
    }
}
