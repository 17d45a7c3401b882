//! A host interface definition, through `virt-xml`.

use virt_core::Result;
use virt_xml::xml::Node;

use crate::pending::not_yet;

#[derive(Clone, Debug)]
pub(crate) struct InterfaceDef {
    name: String,
}

impl InterfaceDef {
    pub fn from_node(_node: &Node<'_>) -> Result<InterfaceDef> {
        Err(not_yet("interface"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<InterfaceDef> {
        Err(not_yet("interface"))
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
    pub fn mac(&self) -> Option<&str> {
        None
    }
}
