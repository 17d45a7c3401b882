//! Secret XML (`<secret>`): metadata of a secret value (the value itself never appears).

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use crate::xml::{expect_root, parse_document, TextChildField, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

crate::xml_enum! {
    /// `virSecretUsageType`: what a secret is used for.
    pub enum SecretUsageType {
        None = "none",
        Volume = "volume",
        Ceph = "ceph",
        Iscsi = "iscsi",
        Tls = "tls",
        Vtpm = "vtpm",
    }
}

/// `<usage type>`: the object the secret belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SecretUsage {
    #[xml(attr = "type")]
    pub usage_type: Option<SecretUsageType>,
    /// `volume` usage: the volume path.
    #[xml(text_child)]
    pub volume: Option<String>,
    /// `ceph`, `tls` and `vtpm` usage: the usage name.
    #[xml(text_child)]
    pub name: Option<String>,
    /// `iscsi` usage: the target.
    #[xml(text_child)]
    pub target: Option<String>,
}

impl SecretUsage {
    /// The usage id libvirt looks secrets up by (volume path, name or target).
    pub fn usage_id(&self) -> Option<&str> {
        self.volume
            .as_deref()
            .or(self.name.as_deref())
            .or(self.target.as_deref())
    }
}

/// A secret definition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Secret {
    pub ephemeral: Option<YesNo>,
    pub private: Option<YesNo>,
    pub uuid: Option<Uuid>,
    pub description: Option<String>,
    pub usage: Option<SecretUsage>,
}

/// What libvirt calls the document in parse errors.
pub const DOC_NAME: &str = "(definition_of_secret)";

impl Secret {
    /// Parses secret XML.
    pub fn parse(xml: &str) -> Result<Secret> {
        let doc = parse_document(xml, DOC_NAME, ErrorDomain::SECRET)?;
        expect_root(&doc.root, "secret")?;
        Secret::from_node(&doc.root)
    }

    /// Formats as libvirt does (`ephemeral` and `private` always written).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(512);
        self.write_element(&mut w, "secret");
        w.finish()
    }

    /// libvirt's defaults: a UUID, `ephemeral='no'`, `private='no'`.
    pub fn post_parse(&mut self) {
        self.uuid.get_or_insert_with(Uuid::new_v4);
        self.ephemeral.get_or_insert(YesNo::No);
        self.private.get_or_insert(YesNo::No);
    }
}

impl XmlElement for Secret {
    fn from_node(node: &crate::xml::Node<'_>) -> Result<Self> {
        let uuid = match node.child("uuid").map(|uuid| uuid.text().into_owned()) {
            None => None,
            Some(text) if text.is_empty() => None,
            Some(text) => Some(virt_core::parse_uuid(&text).ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::SECRET,
                    "malformed uuid element",
                )
            })?),
        };
        let usage: Option<SecretUsage> = crate::xml::ChildField::parse_child(node, "usage")?;
        if let Some(usage) = &usage {
            let missing = match usage.usage_type {
                Some(SecretUsageType::Volume) if usage.volume.is_none() => {
                    Some("volume usage specified, but volume path is missing")
                }
                Some(SecretUsageType::Ceph) if usage.name.is_none() => {
                    Some("Ceph usage specified, but name is missing")
                }
                Some(SecretUsageType::Iscsi) if usage.target.is_none() => {
                    Some("iSCSI usage specified, but target is missing")
                }
                Some(SecretUsageType::Tls) if usage.name.is_none() => {
                    Some("TLS usage specified, but name is missing")
                }
                Some(SecretUsageType::Vtpm) if usage.name.is_none() => {
                    Some("vTPM usage specified, but name is missing")
                }
                None => Some("unknown secret usage type"),
                _ => None,
            };
            if let Some(message) = missing {
                return Err(Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::SECRET,
                    message,
                ));
            }
        }
        Ok(Secret {
            ephemeral: crate::xml::attr(node, "ephemeral")?,
            private: crate::xml::attr(node, "private")?,
            uuid,
            description: TextChildField::parse_text_child(node, "description")?,
            usage,
        })
    }

    fn write_attrs(&self, w: &mut Writer) {
        w.attr("ephemeral", self.ephemeral.unwrap_or(YesNo::No).as_str());
        w.attr("private", self.private.unwrap_or(YesNo::No).as_str());
    }

    fn write_body(&self, w: &mut Writer) {
        if let Some(uuid) = &self.uuid {
            w.text_element("uuid", &uuid.hyphenated().to_string());
        }
        self.description.write_text_child(w, "description");
        if self
            .usage
            .as_ref()
            .is_some_and(|u| u.usage_type != Some(SecretUsageType::None))
        {
            crate::xml::ChildField::write_child(&self.usage, w, "usage");
        }
    }

    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Expanded
    }
}
