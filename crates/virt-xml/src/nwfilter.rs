//! Network filter XML (`<filter>`) and filter bindings (`<filterbinding>`).
//!
//! A rule's protocol element (`<tcp>`, `<mac>`, `<ip>`, ...) keeps its match attributes in
//! the order they were written; libvirt re-orders them by its per-protocol attribute table.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use crate::domain::interface::FilterRef;
use crate::xml::{attr, expect_root, parse_document, AttrField, Node, Writer, XmlElement};
use crate::{Result, XmlElement};

/// A rule's protocol match: element name and attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleMatch {
    pub protocol: String,
    pub attrs: Vec<(String, String)>,
}

/// `<rule action direction priority statematch>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub action: Option<String>,
    pub direction: Option<String>,
    pub priority: Option<i32>,
    pub statematch: Option<String>,
    pub matches: Vec<RuleMatch>,
}

impl XmlElement for Rule {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        Ok(Rule {
            action: attr(node, "action")?,
            direction: attr(node, "direction")?,
            priority: attr(node, "priority")?,
            statematch: attr(node, "statematch")?,
            matches: node
                .children()
                .map(|child| RuleMatch {
                    protocol: child.name().to_string(),
                    attrs: child
                        .attrs()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                })
                .collect(),
        })
    }
    fn write_attrs(&self, w: &mut Writer) {
        self.action.write_attr(w, "action");
        self.direction.write_attr(w, "direction");
        // libvirt always writes the priority (500 by default).
        w.attr("priority", &self.priority.unwrap_or(500).to_string());
        self.statematch.write_attr(w, "statematch");
    }
    fn write_body(&self, w: &mut Writer) {
        for rule_match in &self.matches {
            let mark = w.open(&rule_match.protocol);
            for (key, value) in &rule_match.attrs {
                w.attr(key, value);
            }
            w.close(mark, &rule_match.protocol, false);
        }
    }
}

/// An entry of a filter: a rule or a reference to another filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterEntry {
    Rule(Rule),
    Reference(FilterRef),
}

/// A network filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NwFilter {
    pub name: Option<String>,
    pub chain: Option<String>,
    pub priority: Option<i32>,
    pub uuid: Option<Uuid>,
    pub entries: Vec<FilterEntry>,
}

impl NwFilter {
    /// Parses filter XML.
    pub fn parse(xml: &str) -> Result<NwFilter> {
        let doc = parse_document(xml, "(nwfilter_definition)", ErrorDomain::NWFILTER)?;
        expect_root(&doc.root, "filter")?;
        NwFilter::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(1024);
        self.write_element(&mut w, "filter");
        w.finish()
    }
}

impl XmlElement for NwFilter {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let name: Option<String> = attr(node, "name")?;
        if name.is_none() {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::NWFILTER,
                "filter has no name",
            ));
        }
        let uuid = match node.child("uuid").map(|uuid| uuid.text().into_owned()) {
            None => None,
            Some(text) => Some(virt_core::parse_uuid(&text).ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::NWFILTER,
                    "malformed uuid element",
                )
            })?),
        };
        let mut entries = Vec::new();
        for child in node.children() {
            match child.name() {
                "rule" => entries.push(FilterEntry::Rule(Rule::from_node(child)?)),
                "filterref" => entries.push(FilterEntry::Reference(FilterRef::from_node(child)?)),
                _ => {}
            }
        }
        Ok(NwFilter {
            name,
            chain: attr(node, "chain")?,
            priority: attr(node, "priority")?,
            uuid,
            entries,
        })
    }
    fn write_attrs(&self, w: &mut Writer) {
        self.name.write_attr(w, "name");
        w.attr("chain", self.chain.as_deref().unwrap_or("root"));
        self.priority.filter(|p| *p != 0).write_attr(w, "priority");
    }
    fn write_body(&self, w: &mut Writer) {
        if let Some(uuid) = &self.uuid {
            w.text_element("uuid", &uuid.hyphenated().to_string());
        }
        for entry in &self.entries {
            match entry {
                FilterEntry::Rule(rule) => rule.write_element(w, "rule"),
                FilterEntry::Reference(reference) => reference.write_element(w, "filterref"),
            }
        }
    }
    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Expanded
    }
}

/// `<owner>` of a filter binding.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct BindingOwner {
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(text_child)]
    pub uuid: Option<String>,
}

/// `<portdev name/>`, `<linkdev name/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DevName {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<mac address/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BindingMac {
    #[xml(attr)]
    pub address: Option<String>,
}

/// A filter binding: which filter applies to which guest port.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct NwFilterBinding {
    #[xml(child)]
    pub owner: Option<BindingOwner>,
    #[xml(child)]
    pub portdev: Option<DevName>,
    #[xml(child)]
    pub linkdev: Option<DevName>,
    #[xml(child)]
    pub mac: Option<BindingMac>,
    #[xml(child)]
    pub filterref: Option<FilterRef>,
}

impl NwFilterBinding {
    /// Parses filter binding XML.
    pub fn parse(xml: &str) -> Result<NwFilterBinding> {
        let doc = parse_document(xml, "(nwfilterbinding_definition)", ErrorDomain::NWFILTER)?;
        expect_root(&doc.root, "filterbinding")?;
        NwFilterBinding::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(512);
        self.write_element(&mut w, "filterbinding");
        w.finish()
    }
}
