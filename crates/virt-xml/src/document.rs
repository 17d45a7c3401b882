//! Any libvirt document, with its kind told by the caller or detected from the root element
//! (what `rvirt-xml` and the corpus checks use).

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::capabilities::Capabilities;
use crate::domain::Domain;
use crate::domain_capabilities::DomainCapabilities;
use crate::interface::HostInterface;
use crate::network::Network;
use crate::network_port::NetworkPort;
use crate::nodedev::NodeDevice;
use crate::nwfilter::{NwFilter, NwFilterBinding};
use crate::secret::Secret;
use crate::snapshot::{DomainCheckpoint, DomainSnapshot};
use crate::storage::{StoragePool, StorageVolume};
use crate::Result;

/// The document kinds this crate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Domain,
    Network,
    NetworkPort,
    StoragePool,
    StorageVolume,
    Capabilities,
    DomainCapabilities,
    DomainSnapshot,
    DomainCheckpoint,
    Secret,
    NodeDevice,
    NwFilter,
    NwFilterBinding,
    Interface,
}

impl Kind {
    /// Every kind, with its command-line name and root element.
    pub const ALL: &'static [(Kind, &'static str, &'static str)] = &[
        (Kind::Domain, "domain", "domain"),
        (Kind::Network, "network", "network"),
        (Kind::NetworkPort, "network-port", "networkport"),
        (Kind::StoragePool, "pool", "pool"),
        (Kind::StorageVolume, "volume", "volume"),
        (Kind::Capabilities, "capabilities", "capabilities"),
        (
            Kind::DomainCapabilities,
            "domain-capabilities",
            "domainCapabilities",
        ),
        (Kind::DomainSnapshot, "snapshot", "domainsnapshot"),
        (Kind::DomainCheckpoint, "checkpoint", "domaincheckpoint"),
        (Kind::Secret, "secret", "secret"),
        (Kind::NodeDevice, "nodedev", "device"),
        (Kind::NwFilter, "nwfilter", "filter"),
        (Kind::NwFilterBinding, "nwfilter-binding", "filterbinding"),
        (Kind::Interface, "interface", "interface"),
    ];

    /// The kind for a command-line name such as `pool` or `domain`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(kind, _, _)| *kind)
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(kind, _, _)| *kind == self)
            .map_or("", |(_, name, _)| name)
    }

    /// The kind whose root element is `root`.
    pub fn from_root(root: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .find(|(_, _, r)| *r == root)
            .map(|(kind, _, _)| *kind)
    }

    /// Detects the kind from the first element of `xml`.
    pub fn detect(xml: &str) -> Result<Kind> {
        let root = first_element_name(xml).ok_or_else(|| {
            Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::XML,
                "no root element found",
            )
        })?;
        Kind::from_root(root).ok_or_else(|| {
            Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::XML,
                format!("unknown document kind: root element '{root}'"),
            )
        })
    }
}

/// The name of the first element in `xml`, skipping the prolog.
fn first_element_name(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        return Some(&rest[..end]);
    }
}

/// A parsed document of any kind.
#[derive(Debug, Clone)]
pub enum Document {
    Domain(Box<Domain>),
    Network(Box<Network>),
    StoragePool(Box<StoragePool>),
    StorageVolume(Box<StorageVolume>),
    Capabilities(Box<Capabilities>),
    DomainSnapshot(Box<DomainSnapshot>),
    DomainCheckpoint(Box<DomainCheckpoint>),
    NodeDevice(Box<NodeDevice>),
    DomainCapabilities(Box<DomainCapabilities>),
    NetworkPort(Box<NetworkPort>),
    Secret(Box<Secret>),
    NwFilter(Box<NwFilter>),
    NwFilterBinding(Box<NwFilterBinding>),
    Interface(Box<HostInterface>),
}

impl Document {
    /// Parses `xml` as a document of `kind`.
    pub fn parse_as(kind: Kind, xml: &str) -> Result<Document> {
        Ok(match kind {
            Kind::Domain => Document::Domain(Box::new(Domain::parse(xml)?)),
            Kind::Network => Document::Network(Box::new(Network::parse(xml)?)),
            Kind::StoragePool => Document::StoragePool(Box::new(StoragePool::parse(xml)?)),
            Kind::StorageVolume => Document::StorageVolume(Box::new(StorageVolume::parse(xml)?)),
            Kind::Capabilities => Document::Capabilities(Box::new(Capabilities::parse(xml)?)),
            Kind::DomainSnapshot => Document::DomainSnapshot(Box::new(DomainSnapshot::parse(xml)?)),
            Kind::NodeDevice => Document::NodeDevice(Box::new(NodeDevice::parse(xml)?)),
            Kind::DomainCapabilities => {
                Document::DomainCapabilities(Box::new(DomainCapabilities::parse(xml)?))
            }
            Kind::NetworkPort => Document::NetworkPort(Box::new(NetworkPort::parse(xml)?)),
            Kind::Secret => Document::Secret(Box::new(Secret::parse(xml)?)),
            Kind::NwFilter => Document::NwFilter(Box::new(NwFilter::parse(xml)?)),
            Kind::NwFilterBinding => {
                Document::NwFilterBinding(Box::new(NwFilterBinding::parse(xml)?))
            }
            Kind::Interface => Document::Interface(Box::new(HostInterface::parse(xml)?)),
            Kind::DomainCheckpoint => {
                Document::DomainCheckpoint(Box::new(DomainCheckpoint::parse(xml)?))
            }
        })
    }

    /// Parses `xml`, detecting its kind from the root element.
    pub fn parse(xml: &str) -> Result<Document> {
        Document::parse_as(Kind::detect(xml)?, xml)
    }

    /// Formats the document as libvirt does.
    pub fn to_xml(&self) -> String {
        match self {
            Document::Domain(domain) => domain.to_xml(),
            Document::Network(network) => network.to_xml(),
            Document::StoragePool(pool) => pool.to_xml(),
            Document::StorageVolume(volume) => volume.to_xml(),
            Document::Capabilities(caps) => caps.to_xml(),
            Document::DomainSnapshot(snapshot) => snapshot.to_xml(),
            Document::DomainCheckpoint(checkpoint) => checkpoint.to_xml(),
            Document::NodeDevice(device) => device.to_xml(),
            Document::DomainCapabilities(caps) => caps.to_xml(),
            Document::NetworkPort(port) => port.to_xml(),
            Document::Secret(secret) => secret.to_xml(),
            Document::NwFilter(filter) => filter.to_xml(),
            Document::NwFilterBinding(binding) => binding.to_xml(),
            Document::Interface(iface) => iface.to_xml(),
        }
    }

    /// Runs the define-time checks libvirt applies to this kind.
    pub fn validate(&mut self) -> Result<()> {
        match self {
            Document::Domain(domain) => {
                domain.post_parse()?;
                domain.validate()
            }
            Document::Network(network) => network.post_parse(),
            Document::StoragePool(pool) => pool.post_parse(),
            Document::StorageVolume(_)
            | Document::Capabilities(_)
            | Document::DomainSnapshot(_)
            | Document::DomainCheckpoint(_)
            | Document::NodeDevice(_)
            | Document::DomainCapabilities(_)
            | Document::NetworkPort(_)
            | Document::NwFilter(_)
            | Document::NwFilterBinding(_)
            | Document::Interface(_) => Ok(()),
            Document::Secret(secret) => {
                secret.post_parse();
                Ok(())
            }
        }
    }
}
