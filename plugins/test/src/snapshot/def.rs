//! A snapshot definition (`<domainsnapshot>`), through `virt-xml`.

use virt_core::{Result, Uuid};

use crate::domain::def::DomainDef;
use crate::pending::not_yet;

#[derive(Clone, Debug)]
pub(crate) struct SnapshotDef {
    name: String,
}

impl SnapshotDef {
    /// `virDomainSnapshotDefParseString`; without `redefine`, a missing name becomes the
    /// creation time.
    pub fn parse(_xml: &str, _redefine: bool, _validate: bool) -> Result<SnapshotDef> {
        Err(not_yet("snapshot"))
    }
    /// A `<test:domainsnapshot>` of a node document (`<active>` marks the current one).
    pub fn from_node_document(_node: &virt_xml::xml::Node<'_>) -> Result<(SnapshotDef, bool)> {
        Err(not_yet("snapshot"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<SnapshotDef> {
        Err(not_yet("snapshot"))
    }
    pub fn to_stored(&self) -> Vec<u8> {
        Vec::new()
    }
    /// `virDomainSnapshotDefFormat` for the domain `uuid`, with `parent` as the parent.
    pub fn format(&self, _uuid: &Uuid, _parent: Option<&str>, _secure: bool) -> String {
        String::new()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn parent(&self) -> Option<&str> {
        None
    }
    /// The `virDomainSnapshotState` recorded.
    pub fn state(&self) -> i32 {
        0
    }
    pub fn is_external(&self) -> bool {
        false
    }
    pub fn creation_time(&self) -> i64 {
        0
    }
    pub fn has_domain(&self) -> bool {
        false
    }
    /// Keeps `other`'s domain definition (redefining without one).
    pub fn take_domain_from(&mut self, _other: SnapshotDef) {}
    /// The domain definition recorded, if any.
    pub fn domain(&self) -> Result<Option<DomainDef>> {
        Err(not_yet("snapshot"))
    }
    /// Records the domain as it is now: its definition, its state, and one internal disk
    /// snapshot per disk (`testDomainSnapshotAlignDisks`).
    pub fn record_domain(&mut self, _def: &DomainDef, _state: i32, _active: bool) -> Result<()> {
        Err(not_yet("snapshot"))
    }
}
