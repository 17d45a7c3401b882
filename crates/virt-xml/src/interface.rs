//! Host interface XML (`<interface>` of the interface driver, `virInterfaceDefineXML`):
//! ethernet devices, bridges, bonds and VLANs with their addressing.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{expect_root, parse_document, Node, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

crate::xml_enum! {
    /// `virInterfaceType`.
    pub enum HostInterfaceType {
        Ethernet = "ethernet",
        Bridge = "bridge",
        Bond = "bond",
        Vlan = "vlan",
    }
}

/// `<start mode='none|onboot|hotplug'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct StartMode {
    #[xml(attr)]
    pub mode: Option<String>,
}

/// `<mtu size/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceMtu {
    #[xml(attr)]
    pub size: Option<u32>,
}

/// `<dhcp peerdns/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Dhcp {
    #[xml(attr)]
    pub peerdns: Option<YesNo>,
}

/// `<ip address prefix/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ProtocolIp {
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub prefix: Option<u32>,
}

/// `<route gateway/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ProtocolRoute {
    #[xml(attr)]
    pub gateway: Option<String>,
}

/// `<protocol family='ipv4|ipv6'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Protocol {
    #[xml(attr)]
    pub family: Option<String>,
    #[xml(flag = "autoconf")]
    pub autoconf: bool,
    #[xml(child)]
    pub dhcp: Option<Dhcp>,
    #[xml(child = "ip")]
    pub ips: Vec<ProtocolIp>,
    #[xml(child)]
    pub route: Option<ProtocolRoute>,
}

/// `<link speed state/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceLink {
    #[xml(attr)]
    pub speed: Option<u32>,
    #[xml(attr)]
    pub state: Option<String>,
}

/// `<mac address/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceMac {
    #[xml(attr)]
    pub address: Option<String>,
}

/// `<bridge stp delay>` with its member interfaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Bridge {
    #[xml(attr)]
    pub stp: Option<String>,
    #[xml(attr)]
    pub delay: Option<String>,
    #[xml(child = "interface")]
    pub interfaces: Vec<HostInterface>,
}

/// `<miimon freq downdelay updelay carrier/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MiiMon {
    #[xml(attr)]
    pub freq: Option<u32>,
    #[xml(attr)]
    pub downdelay: Option<u32>,
    #[xml(attr)]
    pub updelay: Option<u32>,
    #[xml(attr)]
    pub carrier: Option<String>,
}

/// `<arpmon interval target validate/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ArpMon {
    #[xml(attr)]
    pub interval: Option<u32>,
    #[xml(attr)]
    pub target: Option<String>,
    #[xml(attr)]
    pub validate: Option<String>,
}

/// `<bond mode>` with its link monitor and member interfaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Bond {
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(child)]
    pub miimon: Option<MiiMon>,
    #[xml(child)]
    pub arpmon: Option<ArpMon>,
    #[xml(child = "interface")]
    pub interfaces: Vec<HostInterface>,
}

/// `<interface name/>` inside `<vlan>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VlanDevice {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<vlan tag>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Vlan {
    #[xml(attr)]
    pub tag: Option<String>,
    #[xml(child)]
    pub interface: Option<VlanDevice>,
}

/// A host interface (also a member of a bridge or bond).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostInterface {
    #[xml(attr = "type")]
    pub interface_type: Option<HostInterfaceType>,
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(child)]
    pub start: Option<StartMode>,
    #[xml(child)]
    pub mtu: Option<InterfaceMtu>,
    #[xml(child = "protocol")]
    pub protocols: Vec<Protocol>,
    #[xml(child)]
    pub link: Option<InterfaceLink>,
    #[xml(child)]
    pub mac: Option<InterfaceMac>,
    #[xml(child)]
    pub bridge: Option<Bridge>,
    #[xml(child)]
    pub bond: Option<Bond>,
    #[xml(child)]
    pub vlan: Option<Vlan>,
}

/// What libvirt calls the document in parse errors.
pub const DOC_NAME: &str = "(interface_definition)";

impl HostInterface {
    /// Parses host interface XML as written; the top level needs a type and (except for a
    /// VLAN) a name.
    pub fn parse(xml: &str) -> Result<HostInterface> {
        let doc = parse_document(xml, DOC_NAME, ErrorDomain::INTERFACE)?;
        expect_root(&doc.root, "interface")?;
        let iface = HostInterface::from_node(&doc.root)?;
        iface.check(&doc.root)?;
        Ok(iface)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(1024);
        self.write_element(&mut w, "interface");
        w.finish()
    }

    /// The interface name, or an empty string.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The MAC address of an ethernet interface.
    pub fn mac_address(&self) -> Option<&str> {
        self.mac.as_ref().and_then(|mac| mac.address.as_deref())
    }

    fn check(&self, node: &Node<'_>) -> Result<()> {
        let Some(kind) = self.interface_type else {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::INTERFACE,
                match node.attr("type") {
                    Some(_) => "unknown interface type",
                    None => "interface misses the type attribute",
                },
            ));
        };
        if self.name.is_none() && kind != HostInterfaceType::Vlan {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::INTERFACE,
                "interface has no name",
            ));
        }
        if kind == HostInterfaceType::Vlan
            && self.vlan.as_ref().is_none_or(|vlan| vlan.tag.is_none())
        {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::INTERFACE,
                "vlan interface misses the tag attribute",
            ));
        }
        Ok(())
    }
}
