//! Storage pool and volume definitions, through `virt-xml`'s storage models, read the way
//! `virStoragePoolDefParse` / `virStorageVolDefParse` read them: volumes in the context of
//! their pool (default format, type, sizes).
//!
//! Definitions are stored as canonical XML; a pool's space figures are kept apart by the
//! driver and put in when the pool is formatted.

use virt_core::consts::storage_vol_type;
use virt_core::{Error, ErrorDomain, ErrorNumber, Result, Uuid};
use virt_xml::domain::ScaledBytes;
use virt_xml::storage::{
    FormatType, PoolSource, PoolType, StoragePool, StorageVolume, VolumeTarget,
};
use virt_xml::xml::{parse_document, Node, XmlElement};

/// A pool definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct PoolDef(StoragePool);

impl PoolDef {
    /// `virStoragePoolDefParse` (`VIR_STORAGE_POOL_DEFINE_VALIDATE`'s RNG check is not made:
    /// rvirt has no RNG validator).
    pub fn parse(xml: &str, _validate: bool) -> Result<PoolDef> {
        PoolDef::accept(StoragePool::parse(xml)?)
    }

    /// A `<pool>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<PoolDef> {
        PoolDef::accept(StoragePool::from_node(node)?)
    }

    fn accept(mut pool: StoragePool) -> Result<PoolDef> {
        pool.post_parse()?;
        if pool.has_target()
            && pool
                .target
                .as_ref()
                .and_then(|t| t.path.as_deref())
                .is_none()
        {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::STORAGE,
                "missing storage pool target path",
            ));
        }
        // libvirt always writes the (possibly empty) source of a pool.
        pool.source.get_or_insert_with(PoolSource::default);
        Ok(PoolDef(pool))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<PoolDef> {
        Ok(PoolDef(StoragePool::parse(&String::from_utf8_lossy(
            bytes,
        ))?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0.to_xml().into_bytes()
    }

    /// `virStoragePoolDefFormat` with the pool's current space figures.
    pub fn format(&self, capacity: u64, allocation: u64, available: u64) -> String {
        let mut pool = self.0.clone();
        pool.capacity = Some(ScaledBytes(capacity));
        pool.allocation = Some(ScaledBytes(allocation));
        pool.available = Some(ScaledBytes(available));
        pool.to_xml()
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn uuid(&self) -> Uuid {
        self.0.uuid.unwrap_or_default()
    }

    /// The pool type keyword (`dir`, `fs`, ...).
    pub fn pool_type(&self) -> &str {
        self.0.pool_type.map_or("", PoolType::as_str)
    }

    pub fn target_path(&self) -> Option<&str> {
        self.0
            .target
            .as_ref()
            .and_then(|target| target.path.as_deref())
    }

    /// `virStoragePoolObjSourceFindDuplicate`, for the backends the test driver uses:
    /// directory-like pools of one type on the same path, device pools on the same device.
    pub fn source_conflicts_with(&self, other: &PoolDef) -> bool {
        use PoolType::*;
        let (Some(mine), Some(theirs)) = (self.0.pool_type, other.0.pool_type) else {
            return false;
        };
        match mine {
            Dir | Gluster | Netfs => mine == theirs && self.dir_source_matches(other),
            Iscsi | Fs | Logical | Disk | Zfs => {
                matches!(theirs, Iscsi | Fs | Logical | Disk | Zfs)
                    && self.device_source_matches(other)
            }
            Mpath => mine == theirs,
            _ => false,
        }
    }

    /// `virStoragePoolObjSourceMatchTypeDIR`: a directory pool by target path, a netfs or
    /// gluster pool by host and directory.
    fn dir_source_matches(&self, other: &PoolDef) -> bool {
        if self.0.pool_type == Some(PoolType::Dir) {
            return self.target_path().is_some() && self.target_path() == other.target_path();
        }
        let host = |p: &PoolDef| {
            p.0.source
                .as_ref()
                .and_then(|s| s.hosts.first())
                .and_then(|h| h.name.clone())
        };
        let dir = |p: &PoolDef| {
            p.0.source
                .as_ref()
                .and_then(|s| s.dir.as_ref())
                .and_then(|d| d.path.clone())
        };
        host(self).is_some() && host(self) == host(other) && dir(self) == dir(other)
    }

    /// `virStoragePoolObjSourceMatchTypeDEVICE`: any device path in common.
    fn device_source_matches(&self, other: &PoolDef) -> bool {
        let devices = |p: &PoolDef| {
            p.0.source.as_ref().map(|s| {
                s.devices
                    .iter()
                    .filter_map(|d| d.path.clone())
                    .collect::<Vec<_>>()
            })
        };
        match (devices(self), devices(other)) {
            (Some(mine), Some(theirs)) => mine.iter().any(|path| theirs.contains(path)),
            _ => false,
        }
    }

    /// `testStorageVolumeTypeForPool`: the `virStorageVolType` of this pool's volumes.
    pub fn volume_type(&self) -> i32 {
        use PoolType::*;
        match self.0.pool_type {
            Some(Sheepdog | IscsiDirect | Gluster | Rbd) => storage_vol_type::NETWORK,
            Some(Logical | Disk | Mpath | Iscsi | Scsi | Zfs) => storage_vol_type::BLOCK,
            _ => storage_vol_type::FILE,
        }
    }

    /// The volume format libvirt fills in for this pool's volumes
    /// (`virStorageVolOptions.defaultFormat`).
    fn default_volume_format(&self) -> Option<&'static str> {
        use PoolType::*;
        match self.0.pool_type {
            Some(Dir | Fs | Netfs | Rbd | Gluster | Vstorage) => Some("raw"),
            Some(Disk) => Some("none"),
            _ => None,
        }
    }
}

/// A volume definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct VolumeDef(StorageVolume);

fn missing_capacity() -> Error {
    Error::new(
        ErrorNumber::XML_ERROR,
        ErrorDomain::STORAGE,
        "missing capacity element",
    )
}

impl VolumeDef {
    /// `virStorageVolDefParse` for a volume of `pool`.
    pub fn parse(pool: &PoolDef, xml: &str, _validate: bool) -> Result<VolumeDef> {
        let doc = parse_document(
            xml,
            virt_xml::storage::VOLUME_DOC_NAME,
            ErrorDomain::STORAGE,
        )?;
        virt_xml::xml::expect_root(&doc.root, "volume")?;
        VolumeDef::from_node(pool, &doc.root)
    }

    /// A `<volume>` element (of a node document's pool, or a whole document).
    pub fn from_node(pool: &PoolDef, node: &Node<'_>) -> Result<VolumeDef> {
        let mut volume = StorageVolume::from_node(node)?;
        let Some(capacity) = volume.capacity else {
            return Err(missing_capacity());
        };
        volume.allocation.get_or_insert(capacity);
        if let Some(format) = pool.default_volume_format() {
            let target = volume.target.get_or_insert_with(VolumeTarget::default);
            target.format.get_or_insert_with(|| FormatType {
                format_type: Some(format.to_string()),
            });
        }
        Ok(VolumeDef(volume))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<VolumeDef> {
        Ok(VolumeDef(StorageVolume::parse(&String::from_utf8_lossy(
            bytes,
        ))?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0.to_xml().into_bytes()
    }

    /// `virStorageVolDefFormat`.
    pub fn format(&self, _pool: &PoolDef) -> String {
        self.0.to_xml()
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn key(&self) -> Option<&str> {
        self.0.key.as_deref()
    }

    pub fn set_key(&mut self, key: &str) {
        self.0.key = Some(key.to_string());
    }

    pub fn path(&self) -> Option<&str> {
        self.0
            .target
            .as_ref()
            .and_then(|target| target.path.as_deref())
    }

    pub fn set_path(&mut self, path: &str) {
        self.0.target.get_or_insert_with(VolumeTarget::default).path = Some(path.to_string());
    }

    pub fn capacity(&self) -> u64 {
        self.0.capacity.map_or(0, |c| c.0)
    }

    pub fn allocation(&self) -> u64 {
        self.0.allocation.map_or(0, |a| a.0)
    }
}

/// The `<host name>` of a pool source specification (`virStoragePoolDefParseSourceString`).
pub(crate) fn source_host_name(spec: &str, _pool_type: &str) -> Result<Option<String>> {
    let doc = parse_document(spec, "(storage_source_specification)", ErrorDomain::STORAGE)?;
    let source = if doc.root.name() == "source" {
        Some(&doc.root)
    } else {
        doc.root.child("source")
    };
    let Some(source) = source else {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::STORAGE,
            "root element was not source",
        ));
    };
    Ok(source
        .child("host")
        .and_then(|host| host.attr("name"))
        .map(str::to_string))
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
