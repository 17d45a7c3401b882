//! A network definition, through `virt-xml`'s network model, read the way
//! `virNetworkDefParse` reads it (a UUID when none was given, STP defaults on the bridge).
//!
//! Definitions are stored as the canonical XML of the inactive definition.

use std::net::IpAddr;

use virt_core::{Result, Uuid};
use virt_xml::network::Network;
use virt_xml::xml::{Node, XmlElement};
use virt_xml::FormatFlags;

/// A network definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct NetworkDef(Network);

impl NetworkDef {
    /// `virNetworkDefParse` (`VIR_NETWORK_DEFINE_VALIDATE`'s RNG check is not made: rvirt
    /// has no RNG validator).
    pub fn parse(xml: &str, _validate: bool) -> Result<NetworkDef> {
        NetworkDef::accept(Network::parse(xml)?)
    }

    /// A `<network>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<NetworkDef> {
        NetworkDef::accept(Network::from_node(node)?)
    }

    fn accept(mut network: Network) -> Result<NetworkDef> {
        network.post_parse()?;
        Ok(NetworkDef(network))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<NetworkDef> {
        let text = String::from_utf8_lossy(bytes);
        Ok(NetworkDef(Network::parse(&text)?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0
            .format(&FormatFlags {
                inactive: true,
                ..FormatFlags::default()
            })
            .into_bytes()
    }

    /// `virNetworkDefFormat` without flags.
    pub fn format(&self) -> String {
        self.0.format(&FormatFlags::default())
    }

    /// The first IP definition's first address a guest could get (the start of its first
    /// DHCP range, else the host address), with its prefix (`virSocketAddrGetIPPrefix`).
    pub fn first_guest_address(&self) -> Option<(IpAddr, u32)> {
        let ip = self.0.ips.first()?;
        let host: IpAddr = ip.address.as_deref()?.parse().ok()?;
        let prefix = match (
            ip.prefix,
            ip.netmask.as_deref().and_then(|m| m.parse::<IpAddr>().ok()),
        ) {
            (Some(prefix), _) if prefix > 0 => prefix,
            (_, Some(IpAddr::V4(mask))) => u32::from(mask).leading_ones(),
            _ => match host {
                IpAddr::V4(v4) => match v4.octets()[0] {
                    0..=127 => 8,
                    128..=191 => 16,
                    192..=223 => 24,
                    _ => 0,
                },
                IpAddr::V6(_) => 64,
            },
        };
        let first = ip
            .dhcp
            .as_ref()
            .and_then(|dhcp| dhcp.ranges.first())
            .and_then(|range| range.start.as_deref())
            .and_then(|start| start.parse().ok())
            .unwrap_or(host);
        Some((first, prefix))
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn uuid(&self) -> Uuid {
        self.0.uuid.unwrap_or_default()
    }

    pub fn bridge(&self) -> Option<&str> {
        self.0
            .bridge
            .as_ref()
            .and_then(|bridge| bridge.name.as_deref())
    }

    /// `virNetworkDefUpdateSection`.
    pub fn update(
        &mut self,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
    ) -> Result<()> {
        super::update::update(&mut self.0, command, section, parent_index, xml)
    }
}
