//! Storage pool and volume definitions, through `virt-xml`.

use virt_core::{Result, Uuid};
use virt_xml::xml::Node;

use crate::pending::not_yet;

/// A pool definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct PoolDef {
    name: String,
    uuid: Uuid,
}

impl PoolDef {
    pub fn parse(_xml: &str, _validate: bool) -> Result<PoolDef> {
        Err(not_yet("storage pool"))
    }
    pub fn from_node(_node: &Node<'_>) -> Result<PoolDef> {
        Err(not_yet("storage pool"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<PoolDef> {
        Err(not_yet("storage pool"))
    }
    pub fn to_stored(&self) -> Vec<u8> {
        Vec::new()
    }
    /// `virStoragePoolDefFormat` with the pool's current space figures.
    pub fn format(&self, _capacity: u64, _allocation: u64, _available: u64) -> String {
        String::new()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }
    /// The pool type keyword (`dir`, `fs`, ...).
    pub fn pool_type(&self) -> &str {
        "dir"
    }
    pub fn target_path(&self) -> Option<&str> {
        None
    }
    /// `virStoragePoolObjSourceFindDuplicate`: both pools would use the same source.
    pub fn source_conflicts_with(&self, _other: &PoolDef) -> bool {
        false
    }
    /// `testStorageVolumeTypeForPool`: the `virStorageVolType` of this pool's volumes.
    pub fn volume_type(&self) -> i32 {
        virt_core::consts::storage_vol_type::FILE
    }
}

/// A volume definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct VolumeDef {
    name: String,
}

impl VolumeDef {
    pub fn parse(_pool: &PoolDef, _xml: &str, _validate: bool) -> Result<VolumeDef> {
        Err(not_yet("storage volume"))
    }
    pub fn from_node(_pool: &PoolDef, _node: &Node<'_>) -> Result<VolumeDef> {
        Err(not_yet("storage volume"))
    }
    pub fn from_stored(_bytes: &[u8]) -> Result<VolumeDef> {
        Err(not_yet("storage volume"))
    }
    pub fn to_stored(&self) -> Vec<u8> {
        Vec::new()
    }
    pub fn format(&self, _pool: &PoolDef) -> String {
        String::new()
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn key(&self) -> Option<&str> {
        None
    }
    pub fn set_key(&mut self, _key: &str) {}
    pub fn path(&self) -> Option<&str> {
        None
    }
    pub fn set_path(&mut self, _path: &str) {}
    pub fn capacity(&self) -> u64 {
        0
    }
    pub fn allocation(&self) -> u64 {
        0
    }
}

/// `<source><host name='...'/></source>` of a pool source specification.
pub(crate) fn source_host_name(_spec: &str, _pool_type: &str) -> Result<Option<String>> {
    Err(not_yet("storage pool source"))
}

/// The test driver's answer for logical pool sources.
pub(crate) const LOGICAL_SOURCES: &str = "<sources>\n  <source>\n    <device path='/dev/sda20'/>\n    \
<name>testvg1</name>\n    <format type='lvm2'/>\n  </source>\n  <source>\n    <device path='/dev/sda21'/>\n    \
<name>testvg2</name>\n    <format type='lvm2'/>\n  </source>\n</sources>\n";

/// The test driver's answer for netfs pool sources on `host`.
pub(crate) fn netfs_sources(host: &str) -> String {
    // The test driver prints the name as given, unescaped.
    format!(
        "<sources>\n  <source>\n    <host name='{host}'/>\n    <dir path='/testshare'/>\n    \
         <format type='nfs'/>\n  </source>\n</sources>\n"
    )
}
