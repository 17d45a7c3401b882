//! The machinery under every document type: the transient [`Node`] tree, the [`Writer`],
//! and the traits `#[derive(XmlElement)]` generates calls to.
//!
//! A typed model implements [`XmlElement`] (read itself from a node; write its attributes and
//! its body). Scalar values implement [`XmlValue`]. The `*Field` traits adapt the container a
//! field uses (`Option`, `Vec`, `Box`) so that the derive needs no type inspection.

mod tree;
mod value;
mod writer;

pub use tree::{
    check_utf8, detail_error, line_column, parse_document, Content, Document, Node, MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
};
pub use value::*;
pub use writer::{escape_into, EmptyStyle, FormatFlags, Mark, Writer};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// A typed element: read from a [`Node`], written back through a [`Writer`].
pub trait XmlElement: Sized {
    /// Reads the element's attributes and content. Unknown attributes and children are
    /// ignored, as libvirt ignores them.
    fn from_node(node: &Node<'_>) -> Result<Self>;

    /// Writes the attributes, in libvirt's order.
    fn write_attrs(&self, w: &mut Writer);

    /// Writes the content (child elements in libvirt's order, or text).
    fn write_body(&self, w: &mut Writer);

    /// How the element is written when it has no content.
    fn empty_style() -> EmptyStyle {
        EmptyStyle::SelfClose
    }

    /// Writes the whole element under `name`.
    fn write_element(&self, w: &mut Writer, name: &str) {
        let mark = w.open(name);
        self.write_attrs(w);
        self.write_body(w);
        w.close_as(mark, name, Self::empty_style());
    }
}

impl<T: XmlElement> XmlElement for Box<T> {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        T::from_node(node).map(Box::new)
    }
    fn write_attrs(&self, w: &mut Writer) {
        (**self).write_attrs(w)
    }
    fn write_body(&self, w: &mut Writer) {
        (**self).write_body(w)
    }
    fn empty_style() -> EmptyStyle {
        T::empty_style()
    }
}

/// An attribute field.
pub trait AttrField: Sized {
    fn parse_attr(node: &Node<'_>, name: &str) -> Result<Self>;
    fn write_attr(&self, w: &mut Writer, name: &str);
}

impl<T: XmlValue> AttrField for Option<T> {
    fn parse_attr(node: &Node<'_>, name: &str) -> Result<Self> {
        match node.attr(name) {
            None => Ok(None),
            Some(text) if T::parse_unset(text) => Ok(None),
            Some(text) => parse_attr_value(node, name, text).map(Some),
        }
    }
    fn write_attr(&self, w: &mut Writer, name: &str) {
        if let Some(value) = self {
            w.attr_with(name, |out| value.write_value(out));
        }
    }
}

/// Reads attribute `name` of `node` as `T`, with libvirt's message on failure.
pub fn parse_attr_value<T: XmlValue>(node: &Node<'_>, name: &str, text: &str) -> Result<T> {
    T::parse_value(text).ok_or_else(|| invalid_attr(node, name, text, T::EXPECTED))
}

/// Reads an optional attribute.
pub fn attr<T: XmlValue>(node: &Node<'_>, name: &str) -> Result<Option<T>> {
    Option::<T>::parse_attr(node, name)
}

/// Reads a required attribute: `Missing required attribute 'x' in element 'y'` when absent.
pub fn required_attr<T: XmlValue>(node: &Node<'_>, name: &str) -> Result<T> {
    match node.attr(name) {
        Some(text) => parse_attr_value(node, name, text),
        None => Err(missing_attr(node, name)),
    }
}

/// libvirt's `virXMLProp*` message for an attribute value that does not parse.
pub fn invalid_attr(node: &Node<'_>, name: &str, text: &str, expected: &str) -> Error {
    Error::new(
        ErrorNumber::XML_ERROR,
        ErrorDomain::XML,
        format!(
            "Invalid value for attribute '{name}' in element '{}': '{text}'.{expected}",
            node.name()
        ),
    )
}

/// libvirt's `virXMLProp*` message for a required attribute that is absent.
pub fn missing_attr(node: &Node<'_>, name: &str) -> Error {
    Error::new(
        ErrorNumber::XML_ERROR,
        ErrorDomain::XML,
        format!(
            "Missing required attribute '{name}' in element '{}'",
            node.name()
        ),
    )
}

/// A child-element field.
pub trait ChildField: Sized {
    fn parse_child(node: &Node<'_>, name: &str) -> Result<Self>;
    fn write_child(&self, w: &mut Writer, name: &str);
}

impl<T: XmlElement> ChildField for Option<T> {
    fn parse_child(node: &Node<'_>, name: &str) -> Result<Self> {
        node.child(name).map(T::from_node).transpose()
    }
    fn write_child(&self, w: &mut Writer, name: &str) {
        if let Some(value) = self {
            value.write_element(w, name);
        }
    }
}

impl<T: XmlElement> ChildField for Vec<T> {
    fn parse_child(node: &Node<'_>, name: &str) -> Result<Self> {
        node.children_named(name).map(T::from_node).collect()
    }
    fn write_child(&self, w: &mut Writer, name: &str) {
        for value in self {
            value.write_element(w, name);
        }
    }
}

/// A `<name>value</name>` field.
pub trait TextChildField: Sized {
    fn parse_text_child(node: &Node<'_>, name: &str) -> Result<Self>;
    fn write_text_child(&self, w: &mut Writer, name: &str);
}

impl<T: XmlValue> TextChildField for Option<T> {
    fn parse_text_child(node: &Node<'_>, name: &str) -> Result<Self> {
        match node.child(name) {
            None => Ok(None),
            Some(child) => parse_text_value(child).map(Some),
        }
    }
    fn write_text_child(&self, w: &mut Writer, name: &str) {
        if let Some(value) = self {
            let mark = w.open(name);
            w.text_with(|out| value.write_value(out));
            w.close(mark, name, false);
        }
    }
}

impl<T: XmlValue> TextChildField for Vec<T> {
    fn parse_text_child(node: &Node<'_>, name: &str) -> Result<Self> {
        node.children_named(name).map(parse_text_value).collect()
    }
    fn write_text_child(&self, w: &mut Writer, name: &str) {
        for value in self {
            let mark = w.open(name);
            w.text_with(|out| value.write_value(out));
            w.close(mark, name, false);
        }
    }
}

/// The element's own text.
pub trait TextField: Sized {
    fn parse_text(node: &Node<'_>) -> Result<Self>;
    fn write_text(&self, w: &mut Writer);
}

impl<T: XmlValue> TextField for Option<T> {
    fn parse_text(node: &Node<'_>) -> Result<Self> {
        // An element with child elements has no text of its own in libvirt's schemas (and
        // indentation around children is not text).
        if node.children().next().is_some() {
            return Ok(None);
        }
        let text = node.text();
        if text.is_empty() {
            return Ok(None);
        }
        parse_text_value(node).map(Some)
    }
    fn write_text(&self, w: &mut Writer) {
        if let Some(value) = self {
            w.text_with(|out| value.write_value(out));
        }
    }
}

/// Reads the text of `node` as `T`.
pub fn parse_text_value<T: XmlValue>(node: &Node<'_>) -> Result<T> {
    let text = node.text();
    T::parse_value(&text).ok_or_else(|| invalid_text(node, &text))
}

/// The message for element text that does not parse.
pub fn invalid_text(node: &Node<'_>, text: &str) -> Error {
    Error::new(
        ErrorNumber::XML_ERROR,
        ErrorDomain::XML,
        format!("Invalid value for element '{}': '{text}'", node.name()),
    )
}

/// Reads every child element of `node` in order through `parse`, which gets the element's
/// name (the dispatch libvirt does for heterogeneous lists such as `<devices>`).
pub fn for_each_child<'a>(
    node: &Node<'a>,
    mut parse: impl FnMut(&str, &Node<'a>) -> Result<()>,
) -> Result<()> {
    for child in node.children() {
        parse(child.name(), child)?;
    }
    Ok(())
}

/// Formats one element through the [`Writer`] into a `String`.
pub fn to_string<T: XmlElement>(value: &T, name: &str) -> String {
    let mut w = Writer::new();
    value.write_element(&mut w, name);
    w.finish()
}

/// Parses a whole document whose root must be `root` and reads it as `T`.
pub fn from_str<T: XmlElement>(
    xml: &str,
    root: &str,
    doc_name: &'static str,
    error_domain: ErrorDomain,
) -> Result<T> {
    let doc = parse_document(xml, doc_name, error_domain)?;
    expect_root(&doc.root, root)?;
    T::from_node(&doc.root)
}

/// libvirt's `expecting root element of 'x', not 'y'`.
pub fn expect_root(node: &Node<'_>, root: &str) -> Result<()> {
    if node.name() != root {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::XML,
            format!("expecting root element of '{root}', not '{}'", node.name()),
        ));
    }
    Ok(())
}
