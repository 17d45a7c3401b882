//! A network definition, through `virt-xml`'s network model, read the way
//! `virNetworkDefParse` reads it (a UUID when none was given, STP defaults on the bridge).
//!
//! Definitions are stored as the canonical XML of the inactive definition.

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
