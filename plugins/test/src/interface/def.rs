//! A host interface definition, through `virt-xml`'s host interface model.

use virt_core::Result;
use virt_xml::interface::HostInterface;
use virt_xml::xml::{Node, XmlElement};

#[derive(Clone, Debug)]
pub(crate) struct InterfaceDef(HostInterface);

impl InterfaceDef {
    /// An `<interface>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<InterfaceDef> {
        Ok(InterfaceDef(HostInterface::from_node(node)?))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<InterfaceDef> {
        Ok(InterfaceDef(HostInterface::parse(
            &String::from_utf8_lossy(bytes),
        )?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0.to_xml().into_bytes()
    }

    /// `virInterfaceDefFormat`.
    pub fn format(&self) -> String {
        self.0.to_xml()
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn mac(&self) -> Option<&str> {
        self.0.mac_address()
    }
}
