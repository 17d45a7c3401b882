//! Domain snapshot XML (`<domainsnapshot>`).
//!
//! A snapshot embeds the domain definition it was taken of; libvirt writes that definition as
//! inactive XML (secrets only in secure XML) one level in.

use virt_core::{ErrorDomain, Uuid};

use crate::domain::disk::{DiskSource, MetadataCache};
use crate::domain::enums::{SnapshotLocation, StorageType};
use crate::domain::Domain;
use crate::metadata::RawElement;
use crate::xml::{
    expect_root, parse_document, ChildField, Node, TextChildField, Writer, XmlElement,
};
use crate::{FormatFlags, Result, XmlElement};

crate::xml_enum! {
    /// `virDomainSnapshotState`: the domain state a snapshot captured.
    pub enum SnapshotState {
        Nostate = "nostate",
        Running = "running",
        Blocked = "blocked",
        Paused = "paused",
        Shutdown = "shutdown",
        Shutoff = "shutoff",
        Crashed = "crashed",
        Pmsuspended = "pmsuspended",
        DiskSnapshot = "disk-snapshot",
    }
}

/// `<driver type>` of a snapshot disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct SnapshotDiskDriver {
    #[xml(attr = "type")]
    pub format: Option<String>,
    #[xml(child)]
    pub metadata_cache: Option<MetadataCache>,
}

/// `<disk name snapshot type>` of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct SnapshotDisk {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub snapshot: Option<SnapshotLocation>,
    #[xml(attr = "type")]
    pub storage_type: Option<StorageType>,
    #[xml(flag = "snapshotDeleteInProgress")]
    pub delete_in_progress: bool,
    #[xml(child)]
    pub driver: Option<SnapshotDiskDriver>,
    #[xml(child)]
    pub source: Option<DiskSource>,
}

/// `<disks>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SnapshotDisks {
    #[xml(child = "disk")]
    pub disks: Vec<SnapshotDisk>,
}

/// `<memory snapshot file/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SnapshotMemory {
    #[xml(attr)]
    pub snapshot: Option<SnapshotLocation>,
    #[xml(attr)]
    pub file: Option<String>,
}

/// `<parent><name>..</name></parent>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct ParentName {
    #[xml(text_child)]
    pub name: Option<String>,
}

/// The domain a snapshot or checkpoint belongs to: the full definition, or only its UUID.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotDomain {
    Full(Box<Domain>),
    Uuid(Uuid),
}

impl SnapshotDomain {
    fn from_node(node: &Node<'_>) -> Result<Option<SnapshotDomain>> {
        if node.attr("type").is_some() {
            return Ok(Some(SnapshotDomain::Full(Box::new(Domain::from_node(
                node,
            )?))));
        }
        Ok(node
            .child("uuid")
            .and_then(|uuid| virt_core::parse_uuid(&uuid.text()))
            .map(SnapshotDomain::Uuid))
    }

    fn write(&self, w: &mut Writer, name: &str) {
        match self {
            SnapshotDomain::Full(domain) => domain.write_element(w, name),
            SnapshotDomain::Uuid(uuid) => {
                let mark = w.open(name);
                w.text_element("uuid", &uuid.hyphenated().to_string());
                w.close(mark, name, false);
            }
        }
    }
}

/// A domain snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainSnapshot {
    pub name: Option<String>,
    pub description: Option<String>,
    pub state: Option<SnapshotState>,
    pub parent: Option<ParentName>,
    pub creation_time: Option<i64>,
    pub memory: Option<SnapshotMemory>,
    pub disks: Option<SnapshotDisks>,
    pub domain: Option<SnapshotDomain>,
    pub inactive_domain: Option<Box<Domain>>,
    /// The hypervisor's save cookie (QEMU: the guest CPU at snapshot time), kept as written.
    pub cookie: Option<RawElement>,
    /// Internal (status) XML: whether this is the current snapshot.
    pub active: Option<u32>,
}

/// What libvirt calls the document in parse errors.
pub const DOC_NAME: &str = "(domain_snapshot)";

impl DomainSnapshot {
    /// Parses snapshot XML as written.
    pub fn parse(xml: &str) -> Result<DomainSnapshot> {
        let doc = parse_document(xml, DOC_NAME, ErrorDomain::DOMAIN_SNAPSHOT)?;
        expect_root(&doc.root, "domainsnapshot")?;
        DomainSnapshot::from_node(&doc.root)
    }

    /// Formats as libvirt does (secure).
    pub fn to_xml(&self) -> String {
        self.format(true)
    }

    /// Formats; `secure` includes secrets of the embedded domain.
    pub fn format(&self, secure: bool) -> String {
        let mut w = Writer::with_capacity(4096);
        w.set_flags(FormatFlags {
            secure,
            inactive: true,
            ..FormatFlags::default()
        });
        self.write_element(&mut w, "domainsnapshot");
        w.finish()
    }

    /// The snapshot name (generated from the creation time when missing, by the driver).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

impl XmlElement for DomainSnapshot {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        Ok(DomainSnapshot {
            name: TextChildField::parse_text_child(node, "name")?,
            description: TextChildField::parse_text_child(node, "description")?,
            state: TextChildField::parse_text_child(node, "state")?,
            parent: ChildField::parse_child(node, "parent")?,
            creation_time: TextChildField::parse_text_child(node, "creationTime")?,
            memory: ChildField::parse_child(node, "memory")?,
            disks: ChildField::parse_child(node, "disks")?,
            domain: match node.child("domain") {
                Some(domain) => SnapshotDomain::from_node(domain)?,
                None => None,
            },
            inactive_domain: node
                .child("inactiveDomain")
                .map(Domain::from_node)
                .transpose()?
                .map(Box::new),
            cookie: node.child("cookie").map(RawElement::from_node),
            active: TextChildField::parse_text_child(node, "active")?,
        })
    }

    fn write_attrs(&self, _w: &mut Writer) {}

    fn write_body(&self, w: &mut Writer) {
        self.name.write_text_child(w, "name");
        self.description.write_text_child(w, "description");
        self.state.write_text_child(w, "state");
        self.parent.write_child(w, "parent");
        self.creation_time.write_text_child(w, "creationTime");
        self.memory.write_child(w, "memory");
        self.disks.write_child(w, "disks");
        if let Some(domain) = &self.domain {
            domain.write(w, "domain");
        }
        if let Some(inactive) = &self.inactive_domain {
            inactive.write_element(w, "inactiveDomain");
        }
        if let Some(cookie) = &self.cookie {
            cookie.write_libvirt(w);
        }
        self.active.write_text_child(w, "active");
    }

    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Expanded
    }
}

/// `<disk name checkpoint bitmap size/>` of a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CheckpointDisk {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub checkpoint: Option<String>,
    #[xml(attr)]
    pub bitmap: Option<String>,
    #[xml(attr)]
    pub size: Option<u64>,
}

/// `<disks>` of a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct CheckpointDisks {
    #[xml(child = "disk")]
    pub disks: Vec<CheckpointDisk>,
}

/// A domain checkpoint (`<domaincheckpoint>`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DomainCheckpoint {
    pub name: Option<String>,
    pub description: Option<String>,
    pub parent: Option<ParentName>,
    pub creation_time: Option<i64>,
    pub disks: Option<CheckpointDisks>,
    pub domain: Option<SnapshotDomain>,
}

impl DomainCheckpoint {
    /// Parses checkpoint XML as written.
    pub fn parse(xml: &str) -> Result<DomainCheckpoint> {
        let doc = parse_document(xml, "(domain_checkpoint)", ErrorDomain::DOMAIN_CHECKPOINT)?;
        expect_root(&doc.root, "domaincheckpoint")?;
        DomainCheckpoint::from_node(&doc.root)
    }

    /// Formats as libvirt does (secure, with the domain).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(2048);
        w.set_flags(FormatFlags {
            secure: true,
            inactive: true,
            ..FormatFlags::default()
        });
        self.write_element(&mut w, "domaincheckpoint");
        w.finish()
    }
}

impl XmlElement for DomainCheckpoint {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        Ok(DomainCheckpoint {
            name: TextChildField::parse_text_child(node, "name")?,
            description: TextChildField::parse_text_child(node, "description")?,
            parent: ChildField::parse_child(node, "parent")?,
            creation_time: TextChildField::parse_text_child(node, "creationTime")?,
            disks: ChildField::parse_child(node, "disks")?,
            domain: match node.child("domain") {
                Some(domain) => SnapshotDomain::from_node(domain)?,
                None => None,
            },
        })
    }

    fn write_attrs(&self, _w: &mut Writer) {}

    fn write_body(&self, w: &mut Writer) {
        self.name.write_text_child(w, "name");
        self.description.write_text_child(w, "description");
        self.parent.write_child(w, "parent");
        self.creation_time.write_text_child(w, "creationTime");
        self.disks.write_child(w, "disks");
        if let Some(domain) = &self.domain {
            domain.write(w, "domain");
        }
    }

    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Expanded
    }
}
