//! A network definition, through `virt-xml`.

use virt_core::{Result, Uuid};
use virt_xml::xml::Node;

use crate::pending::not_yet;

/// A network definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct NetworkDef {
    name: String,
    uuid: Uuid,
}

impl NetworkDef {
    pub fn parse(_xml: &str, _validate: bool) -> Result<NetworkDef> {
        Err(not_yet("network"))
    }
    pub fn from_node(_node: &Node<'_>) -> Result<NetworkDef> {
        Err(not_yet("network"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<NetworkDef> {
        Err(not_yet("network"))
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
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }
    pub fn bridge(&self) -> Option<&str> {
        None
    }
    /// `virNetworkDefUpdateSection`.
    pub fn update(
        &mut self,
        _command: u32,
        _section: u32,
        _parent_index: i32,
        _xml: &str,
    ) -> Result<()> {
        Err(not_yet("network"))
    }
}
