//! A node device definition, through `virt-xml`.

use virt_core::Result;
use virt_xml::xml::Node;

use crate::pending::not_yet;

#[derive(Clone, Debug)]
pub(crate) struct NodeDeviceDef {
    name: String,
}

impl NodeDeviceDef {
    pub fn from_node(_node: &Node<'_>) -> Result<NodeDeviceDef> {
        Err(not_yet("node device"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<NodeDeviceDef> {
        Err(not_yet("node device"))
    }
    pub fn to_stored(&self) -> Vec<u8> {
        Vec::new()
    }
    pub fn format(&self) -> String {
        String::new()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn parent(&self) -> Option<&str> {
        None
    }
    /// Capability types, outermost first.
    pub fn capability_types(&self) -> Vec<String> {
        Vec::new()
    }
    /// Capabilities nested in others that listing filters also match.
    pub fn nested_capability_types(&self) -> Vec<String> {
        Vec::new()
    }
}
