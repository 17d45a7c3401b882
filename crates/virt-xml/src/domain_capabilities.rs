//! Domain capabilities XML (`<domainCapabilities>`, `virConnectGetDomainCapabilities`): what
//! one emulator/machine/virt-type combination supports, mostly as `supported` flags with
//! `<enum name='...'><value>..</value></enum>` lists.

use virt_core::ErrorDomain;

use crate::domain::cpu::{CpuFeature, MaxPhysAddr};
use crate::metadata::RawElement;
use crate::xml::{
    attr, expect_root, parse_document, AttrField, ChildField, EmptyStyle, Node, TextChildField,
    Writer, XmlElement, YesNo,
};
use crate::{Result, XmlElement};

/// `<enum name='...'>` with its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct CapsEnum {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(text_child = "value")]
    pub values: Vec<String>,
}

impl CapsEnum {
    pub fn new(name: &str, values: &[&str]) -> CapsEnum {
        CapsEnum {
            name: Some(name.to_string()),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }
}

/// An element with `supported='yes|no'` and, when supported, its values, enums and
/// details (`<os>`, `<loader>`, `<disk>`, `<gic>`, `<sev>`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Supported {
    pub supported: Option<YesNo>,
    /// Plain `<value>` children (loader paths).
    pub values: Vec<String>,
    pub enums: Vec<CapsEnum>,
    /// `<loader>` of `<os>`.
    pub loader: Option<Box<Supported>>,
    /// Other details kept as written (SEV's `<cbitpos>`, SGX's `<sections>`, ...).
    pub details: Vec<RawElement>,
}

impl Supported {
    /// `supported='yes'` with these enums.
    pub fn yes(enums: Vec<CapsEnum>) -> Supported {
        Supported {
            supported: Some(YesNo::Yes),
            enums,
            ..Supported::default()
        }
    }

    /// `supported='no'`.
    pub fn no() -> Supported {
        Supported {
            supported: Some(YesNo::No),
            ..Supported::default()
        }
    }

    /// The values of enum `name`.
    pub fn enum_values(&self, name: &str) -> &[String] {
        self.enums
            .iter()
            .find(|e| e.name.as_deref() == Some(name))
            .map_or(&[], |e| e.values.as_slice())
    }
}

/// Elements libvirt writes as a bare `supported` flag (`virDomainCapsFeatureFormatSimple`).
const SIMPLE_FLAGS: &[&str] = &[
    "iothreads",
    "vmcoreinfo",
    "genid",
    "backingStoreInput",
    "backup",
    "async-teardown",
    "s390-pv",
];

impl XmlElement for Supported {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let details = node
            .children()
            .filter(|child| !matches!(child.name(), "value" | "enum" | "loader"))
            .map(RawElement::from_node)
            .collect();
        Ok(Supported {
            supported: attr(node, "supported")?,
            values: TextChildField::parse_text_child(node, "value")?,
            enums: ChildField::parse_child(node, "enum")?,
            loader: node
                .child("loader")
                .map(Supported::from_node)
                .transpose()?
                .map(Box::new),
            details,
        })
    }
    fn write_attrs(&self, w: &mut Writer) {
        self.supported.write_attr(w, "supported");
    }
    fn write_body(&self, w: &mut Writer) {
        if self.supported == Some(YesNo::No) {
            return;
        }
        self.values.write_text_child(w, "value");
        self.enums.write_child(w, "enum");
        if let Some(loader) = &self.loader {
            loader.write_element(w, "loader");
        }
        for detail in &self.details {
            detail.write_libvirt(w);
        }
    }
    fn write_element(&self, w: &mut Writer, name: &str) {
        let mark = w.open(name);
        self.write_attrs(w);
        self.write_body(w);
        // Plain flags (`<genid supported='yes'/>`) close at once; groups that may list
        // values open their body when supported.
        let flag = SIMPLE_FLAGS.contains(&name);
        let style = if self.supported == Some(YesNo::Yes) && !flag {
            EmptyStyle::Expanded
        } else {
            EmptyStyle::SelfClose
        };
        w.close_as(mark, name, style);
    }
}

/// `<model fallback vendor_id usable deprecated vendor>name</model>` of a CPU mode.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuModeModel {
    #[xml(attr)]
    pub fallback: Option<String>,
    #[xml(attr)]
    pub vendor_id: Option<String>,
    #[xml(attr)]
    pub usable: Option<String>,
    #[xml(attr)]
    pub deprecated: Option<YesNo>,
    #[xml(attr)]
    pub vendor: Option<String>,
    #[xml(text)]
    pub name: Option<String>,
}

/// `<mode name supported>` of `<cpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuMode {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub supported: Option<YesNo>,
    #[xml(child = "enum")]
    pub enums: Vec<CapsEnum>,
    #[xml(child = "model")]
    pub models: Vec<CpuModeModel>,
    #[xml(text_child)]
    pub vendor: Option<String>,
    #[xml(child)]
    pub maxphysaddr: Option<MaxPhysAddr>,
    #[xml(child = "feature")]
    pub features: Vec<CpuFeature>,
}

/// `<cpu>` of domain capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct CpuModes {
    #[xml(child = "mode")]
    pub modes: Vec<CpuMode>,
}

/// `<vcpu max/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VcpuMax {
    #[xml(attr)]
    pub max: Option<u32>,
}

/// `<devices>` of domain capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct CapsDevices {
    #[xml(child)]
    pub disk: Option<Supported>,
    #[xml(child)]
    pub graphics: Option<Supported>,
    #[xml(child)]
    pub video: Option<Supported>,
    #[xml(child)]
    pub hostdev: Option<Supported>,
    #[xml(child)]
    pub rng: Option<Supported>,
    #[xml(child)]
    pub filesystem: Option<Supported>,
    #[xml(child)]
    pub tpm: Option<Supported>,
    #[xml(child)]
    pub redirdev: Option<Supported>,
    #[xml(child)]
    pub channel: Option<Supported>,
}

/// `<features>` of domain capabilities, in document (libvirt's) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapsFeatures(pub Vec<(String, Supported)>);

impl CapsFeatures {
    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&Supported> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

impl XmlElement for CapsFeatures {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        node.children()
            .map(|child| Ok((child.name().to_string(), Supported::from_node(child)?)))
            .collect::<Result<Vec<_>>>()
            .map(CapsFeatures)
    }
    fn write_attrs(&self, _w: &mut Writer) {}
    fn write_body(&self, w: &mut Writer) {
        for (name, feature) in &self.0 {
            feature.write_element(w, name);
        }
    }
    fn empty_style() -> EmptyStyle {
        EmptyStyle::Omit
    }
}

/// Domain capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct DomainCapabilities {
    #[xml(text_child)]
    pub path: Option<String>,
    #[xml(text_child)]
    pub domain: Option<String>,
    #[xml(text_child)]
    pub machine: Option<String>,
    #[xml(text_child)]
    pub arch: Option<String>,
    #[xml(child)]
    pub vcpu: Option<VcpuMax>,
    #[xml(child)]
    pub iothreads: Option<Supported>,
    #[xml(child)]
    pub os: Option<Supported>,
    #[xml(child)]
    pub cpu: Option<CpuModes>,
    #[xml(child = "memoryBacking")]
    pub memory_backing: Option<Supported>,
    #[xml(child)]
    pub devices: Option<CapsDevices>,
    #[xml(child)]
    pub features: Option<CapsFeatures>,
}

impl DomainCapabilities {
    /// Parses domain capabilities XML.
    pub fn parse(xml: &str) -> Result<DomainCapabilities> {
        let doc = parse_document(xml, "(domain_capabilities)", ErrorDomain::CAPABILITIES)?;
        expect_root(&doc.root, "domainCapabilities")?;
        DomainCapabilities::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(4096);
        self.write_element(&mut w, "domainCapabilities");
        w.finish()
    }
}
