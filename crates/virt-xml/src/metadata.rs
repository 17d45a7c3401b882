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
        RawElement {
            name: node.name().to_string(),
            attrs: node
                .attrs()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
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

    /// The element in namespace `uri`, serialized (`virDomainGetMetadata`).
    pub fn get(&self, uri: &str) -> Option<String> {
        self.entries
            .iter()
            .find(|entry| entry.namespace == uri)
            .map(|entry| entry.element.to_xml())
    }

    /// Replaces (or adds) the element in namespace `uri` with `xml`, renamed into prefix
    /// `key` (`virDomainSetMetadata` with `VIR_DOMAIN_METADATA_ELEMENT`).
    pub fn set(&mut self, xml: &str, key: &str, uri: &str) -> Result<()> {
        if key.is_empty() || uri.is_empty() {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::DOMAIN,
                "metadata key and namespace URI must not be empty",
            ));
        }
        let doc = parse_document(xml, "(metadata_xml)", ErrorDomain::DOMAIN)?;
        let mut element = RawElement::from_node(&doc.root);
        rename_into_namespace(&mut element, key, true);
        element.attrs.retain(|(name, _)| !name.starts_with("xmlns"));
        element
            .attrs
            .insert(0, (format!("xmlns:{key}"), uri.to_string()));
        match self.entries.iter_mut().find(|entry| entry.namespace == uri) {
            Some(entry) => entry.element = element,
            None => self.entries.push(MetadataEntry {
                namespace: uri.to_string(),
                element,
            }),
        }
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

fn rename_into_namespace(element: &mut RawElement, prefix: &str, _top: bool) {
    let local = element
        .name
        .rsplit(':')
        .next()
        .unwrap_or(&element.name)
        .to_string();
    element.name = format!("{prefix}:{local}");
    for child in &mut element.children {
        if let RawContent::Element(child) = child {
            rename_into_namespace(child, prefix, false);
        }
    }
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
    fn set_get_remove() {
        let mut meta = Metadata::default();
        meta.set("<foo><bar>1</bar></foo>", "app", "urn:app")
            .expect("set");
        assert_eq!(
            meta.get("urn:app").as_deref(),
            Some("<app:foo xmlns:app=\"urn:app\">\n  <app:bar>1</app:bar>\n</app:foo>")
        );
        assert!(meta.remove("urn:app"));
        assert!(meta.get("urn:app").is_none());
    }
}
