//! Network port XML (`<networkport>`): one guest interface's connection to a virtual
//! network, as the network driver hands it to a hypervisor driver.

use virt_core::{ErrorDomain, Uuid};

use crate::domain::disk::NameAttr;
use crate::domain::interface::{Bandwidth, PortOptions, VirtualPort, Vlan};
use crate::storage::ParentPciAddress;
use crate::xml::{expect_root, parse_document, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

/// `<owner><name/><uuid/></owner>`: the domain the port belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct PortOwner {
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(text_child)]
    pub uuid: Option<String>,
}

/// `<mac address/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PortMac {
    #[xml(attr)]
    pub address: Option<String>,
}

/// `<rxfilters trustGuest/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct RxFilters {
    #[xml(attr = "trustGuest")]
    pub trust_guest: Option<YesNo>,
}

/// `<plug type='network|bridge|direct|hostdev-pci' ...>`: how the port is wired on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Plug {
    #[xml(attr = "type")]
    pub plug_type: Option<String>,
    #[xml(attr)]
    pub bridge: Option<String>,
    #[xml(attr = "macTableManager")]
    pub mac_table_manager: Option<String>,
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(child)]
    pub driver: Option<NameAttr>,
    #[xml(child)]
    pub address: Option<ParentPciAddress>,
}

/// A network port.
#[derive(Debug, Clone, Default, PartialEq, XmlElement)]
#[xml(expanded)]
pub struct NetworkPort {
    #[xml(text_child)]
    pub uuid: Option<Uuid>,
    #[xml(child)]
    pub owner: Option<PortOwner>,
    #[xml(text_child)]
    pub group: Option<String>,
    #[xml(child)]
    pub mac: Option<PortMac>,
    #[xml(child)]
    pub virtualport: Option<VirtualPort>,
    #[xml(child)]
    pub bandwidth: Option<Bandwidth>,
    #[xml(child)]
    pub vlan: Option<Vlan>,
    #[xml(child)]
    pub port: Option<PortOptions>,
    #[xml(child)]
    pub rxfilters: Option<RxFilters>,
    #[xml(child)]
    pub plug: Option<Plug>,
}

impl NetworkPort {
    /// Parses network port XML.
    pub fn parse(xml: &str) -> Result<NetworkPort> {
        let doc = parse_document(xml, "(network_port_definition)", ErrorDomain::NETWORK)?;
        expect_root(&doc.root, "networkport")?;
        NetworkPort::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(512);
        self.write_element(&mut w, "networkport");
        w.finish()
    }
}
