//! Storage pool (`<pool>`) and storage volume (`<volume>`) XML.

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use crate::domain::address::PciAddress;
use crate::domain::disk::{Encryption, Initiator, StorageAuth};
use crate::domain::memory::{parse_scaled, ScaledBytes};
use crate::xml::{
    expect_root, parse_document, AttrField, ChildField, Node, Writer, XmlElement, XmlValue, YesNo,
};
use crate::{Result, XmlElement};

crate::xml_enum! {
    /// `virStoragePool`: the pool backends.
    pub enum PoolType {
        Dir = "dir",
        Fs = "fs",
        Netfs = "netfs",
        Logical = "logical",
        Disk = "disk",
        Iscsi = "iscsi",
        IscsiDirect = "iscsi-direct",
        Scsi = "scsi",
        Mpath = "mpath",
        Rbd = "rbd",
        Sheepdog = "sheepdog",
        Gluster = "gluster",
        Zfs = "zfs",
        Vstorage = "vstorage",
    }
}

crate::xml_enum! {
    /// `virStorageVol`: what a volume is on the host.
    pub enum VolumeType {
        File = "file",
        Block = "block",
        Dir = "dir",
        Network = "network",
        Netdir = "netdir",
        Ploop = "ploop",
    }
}

/// A file mode written in octal with a leading zero (`<mode>0755</mode>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OctalMode(pub u32);

impl XmlValue for OctalMode {
    fn parse_value(text: &str) -> Option<Self> {
        u32::from_str_radix(text.trim(), 8).ok().map(OctalMode)
    }
    fn write_value(&self, out: &mut String) {
        let _ = write!(out, "0{:o}", self.0);
    }
}

/// `<permissions>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Permissions {
    #[xml(text_child)]
    pub mode: Option<OctalMode>,
    #[xml(text_child)]
    pub owner: Option<i64>,
    #[xml(text_child)]
    pub group: Option<i64>,
    #[xml(text_child)]
    pub label: Option<String>,
}

impl Permissions {
    /// libvirt reads `-1` as "not set".
    pub fn normalize(&mut self) {
        if self.owner == Some(-1) {
            self.owner = None;
        }
        if self.group == Some(-1) {
            self.group = None;
        }
    }
}

/// `virFileSanitizePath`: no repeated `/`, no trailing `/` (except for the root).
pub fn sanitize_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut last_slash = false;
    for c in path.chars() {
        if c == '/' {
            if !last_slash {
                out.push(c);
            }
            last_slash = true;
        } else {
            out.push(c);
            last_slash = false;
        }
    }
    if out.len() > 1 && out.ends_with('/') {
        out.pop();
    }
    out
}

/// `<host name port/>` of a pool source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PoolHost {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub port: Option<u32>,
}

/// `<freeExtent start end/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Extent {
    #[xml(attr)]
    pub start: Option<u64>,
    #[xml(attr)]
    pub end: Option<u64>,
}

/// `<device path part_separator>` of a pool source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PoolDevice {
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(attr)]
    pub part_separator: Option<YesNo>,
    #[xml(child = "freeExtent")]
    pub free_extents: Vec<Extent>,
}

/// `<dir path/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PathAttr {
    #[xml(attr)]
    pub path: Option<String>,
}

/// A PCI address inside `<parentaddr>` (written without a type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParentPciAddress(pub PciAddress);

impl XmlElement for ParentPciAddress {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        PciAddress::from_node(node).map(ParentPciAddress)
    }
    fn write_attrs(&self, w: &mut Writer) {
        self.0.write_numbers(w);
    }
    fn write_body(&self, _w: &mut Writer) {}
}

/// `<parentaddr unique_id>` of a SCSI host adapter.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ParentAddr {
    #[xml(attr)]
    pub unique_id: Option<u32>,
    #[xml(child)]
    pub address: Option<ParentPciAddress>,
}

/// `<adapter type='scsi_host|fc_host' ...>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Adapter {
    #[xml(attr = "type")]
    pub adapter_type: Option<String>,
    #[xml(attr)]
    pub parent: Option<String>,
    #[xml(attr)]
    pub parent_wwnn: Option<String>,
    #[xml(attr)]
    pub parent_wwpn: Option<String>,
    #[xml(attr)]
    pub parent_fabric_wwn: Option<String>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(attr)]
    pub wwnn: Option<String>,
    #[xml(attr)]
    pub wwpn: Option<String>,
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(child)]
    pub parentaddr: Option<ParentAddr>,
}

/// `<format type/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct FormatType {
    #[xml(attr = "type")]
    pub format_type: Option<String>,
}

/// `<protocol ver/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ProtocolVer {
    #[xml(attr)]
    pub ver: Option<String>,
}

/// `<vendor name/>`, `<product name/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NameAttr {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<source>` of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct PoolSource {
    #[xml(child = "host")]
    pub hosts: Vec<PoolHost>,
    #[xml(child = "device")]
    pub devices: Vec<PoolDevice>,
    #[xml(child)]
    pub dir: Option<PathAttr>,
    #[xml(child)]
    pub adapter: Option<Adapter>,
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(child)]
    pub initiator: Option<Initiator>,
    #[xml(child)]
    pub format: Option<FormatType>,
    #[xml(child)]
    pub auth: Option<StorageAuth>,
    #[xml(child)]
    pub protocol: Option<ProtocolVer>,
    #[xml(child)]
    pub vendor: Option<NameAttr>,
    #[xml(child)]
    pub product: Option<NameAttr>,
}

/// `<target>` of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct PoolTarget {
    #[xml(text_child)]
    pub path: Option<String>,
    #[xml(child)]
    pub permissions: Option<Permissions>,
}

/// `<cow state/>` of pool `<features>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CowFeature {
    #[xml(attr)]
    pub state: Option<YesNo>,
}

/// Pool `<features>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct PoolFeatures {
    #[xml(child)]
    pub cow: Option<CowFeature>,
}

/// `<volume allocation/>` of `<refresh>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct RefreshVolume {
    #[xml(attr)]
    pub allocation: Option<String>,
}

/// `<refresh>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Refresh {
    #[xml(child)]
    pub volume: Option<RefreshVolume>,
}

pub const FS_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/fs/1.0";
pub const RBD_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/rbd/1.0";

/// Backend-specific options in a pool's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolNamespace {
    /// `<fs:mount_opts><fs:option name/>`.
    FsMountOptions(Vec<String>),
    /// `<rbd:config_opts><rbd:option name value/>`.
    RbdConfigOptions(Vec<(String, String)>),
}

/// A storage pool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoragePool {
    pub pool_type: Option<PoolType>,
    pub name: Option<String>,
    pub uuid: Option<Uuid>,
    /// Bytes.
    pub capacity: Option<ScaledBytes>,
    pub allocation: Option<ScaledBytes>,
    pub available: Option<ScaledBytes>,
    pub features: Option<PoolFeatures>,
    pub source: Option<PoolSource>,
    pub target: Option<PoolTarget>,
    pub refresh: Option<Refresh>,
    pub namespace: Option<PoolNamespace>,
}

/// What libvirt calls a pool document in parse errors.
pub const POOL_DOC_NAME: &str = "(storage_pool_definition)";
/// What libvirt calls a volume document in parse errors.
pub const VOLUME_DOC_NAME: &str = "(storage_volume_definition)";

fn storage_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::STORAGE, message)
}

impl StoragePool {
    /// Parses pool XML as written.
    pub fn parse(xml: &str) -> Result<StoragePool> {
        let doc = parse_document(xml, POOL_DOC_NAME, ErrorDomain::STORAGE)?;
        expect_root(&doc.root, "pool")?;
        StoragePool::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(1024);
        self.write_element(&mut w, "pool");
        w.finish()
    }

    /// The pool name, or an empty string.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// libvirt's post-parse defaults: a UUID, the sizes (0 when unknown), and a target for
    /// backends that use one.
    pub fn post_parse(&mut self) -> Result<()> {
        self.uuid.get_or_insert_with(Uuid::new_v4);
        self.capacity.get_or_insert(ScaledBytes(0));
        self.allocation.get_or_insert(ScaledBytes(0));
        self.available.get_or_insert(ScaledBytes(0));
        Ok(())
    }

    /// What libvirt checks and fills in while it reads a pool (`virStoragePoolDefParseXML`):
    /// the source parts each backend requires, the default source format and name, the
    /// target path (sanitized), unset permissions, and zero sizes.
    fn apply_parse_rules(&mut self) -> Result<()> {
        let Some(kind) = self.pool_type else {
            return Ok(());
        };
        self.capacity.get_or_insert(ScaledBytes(0));
        self.allocation.get_or_insert(ScaledBytes(0));
        self.available.get_or_insert(ScaledBytes(0));
        let (host, dir, name, device_only, network) = match kind {
            PoolType::Fs | PoolType::Disk => (false, false, false, true, false),
            PoolType::Netfs => (true, true, false, false, false),
            PoolType::Iscsi => (true, false, false, false, false),
            PoolType::IscsiDirect => (true, false, false, false, true),
            PoolType::Rbd | PoolType::Sheepdog => (true, false, true, false, true),
            PoolType::Gluster => (true, true, true, false, true),
            PoolType::Logical | PoolType::Zfs | PoolType::Vstorage => {
                (false, false, true, false, false)
            }
            _ => (false, false, false, false, false),
        };
        let xml_error = |message: &str| Err(storage_error(ErrorNumber::XML_ERROR, message));
        if let Some(source) = &mut self.source {
            if source.format.is_none() {
                let default = match kind {
                    PoolType::Logical => Some("lvm2"),
                    PoolType::Fs | PoolType::Netfs => Some("auto"),
                    PoolType::Disk => Some("unknown"),
                    _ => None,
                };
                source.format = default.map(|f| FormatType {
                    format_type: Some(f.to_string()),
                });
            }
        }
        let source = self.source.as_ref();
        if host && source.is_none_or(|s| s.hosts.is_empty()) {
            return xml_error("missing storage pool source host name");
        }
        if dir && source.and_then(|s| s.dir.as_ref()).is_none() {
            return xml_error("missing storage pool source path");
        }
        if name {
            let pool_name = self.name.clone();
            let source = self.source.get_or_insert_with(PoolSource::default);
            if source.name.is_none() {
                source.name = pool_name;
            }
        }
        if device_only && self.source.as_ref().is_none_or(|s| s.devices.is_empty()) {
            return xml_error("missing storage pool source device name");
        }
        if !network {
            let source_name = self
                .source
                .as_ref()
                .and_then(|s| s.name.clone())
                .unwrap_or_default();
            let computed = match kind {
                PoolType::Logical => Some(format!("/dev/{source_name}")),
                PoolType::Zfs => Some(format!("/dev/zvol/{source_name}")),
                _ => None,
            };
            match computed {
                Some(path) => self.target.get_or_insert_with(PoolTarget::default).path = Some(path),
                None if self.target.as_ref().and_then(|t| t.path.as_ref()).is_none() => {
                    return xml_error("missing storage pool target path");
                }
                None => {}
            }
            if let Some(target) = &mut self.target {
                if let Some(path) = &mut target.path {
                    *path = sanitize_path(path);
                }
                if let Some(perms) = &mut target.permissions {
                    perms.normalize();
                }
            }
        }
        if kind == PoolType::IscsiDirect
            && self
                .source
                .as_ref()
                .and_then(|s| s.initiator.as_ref())
                .and_then(|i| i.iqn.as_ref())
                .is_none()
        {
            return Err(storage_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                "missing initiator IQN",
            ));
        }
        Ok(())
    }

    /// Whether libvirt writes a `<target>` for this backend (network backends have none).
    pub fn has_target(&self) -> bool {
        !matches!(
            self.pool_type,
            Some(PoolType::Rbd | PoolType::Sheepdog | PoolType::Gluster | PoolType::IscsiDirect)
        )
    }
}

impl XmlElement for StoragePool {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let pool_type = Some(crate::xml::required_attr::<PoolType>(node, "type")?);
        // Backends whose source is named (a volume group, a ceph pool...) take that name when
        // the pool has none.
        let source_named = matches!(
            pool_type,
            Some(
                PoolType::Logical
                    | PoolType::Zfs
                    | PoolType::Vstorage
                    | PoolType::Rbd
                    | PoolType::Sheepdog
                    | PoolType::Gluster
            )
        );
        let text_of = |node: Option<&Node<'_>>| {
            node.map(|name| name.text().into_owned())
                .filter(|n| !n.is_empty())
        };
        let name = text_of(node.child("name")).or_else(|| {
            source_named
                .then(|| text_of(node.child("source").and_then(|source| source.child("name"))))
                .flatten()
        });
        let Some(name) = name else {
            return Err(storage_error(
                ErrorNumber::XML_ERROR,
                "missing pool source name element",
            ));
        };
        if name.contains('/') {
            return Err(storage_error(
                ErrorNumber::XML_ERROR,
                format!("name {name} cannot contain '/'"),
            ));
        }
        let uuid = match node.child("uuid").map(|uuid| uuid.text().into_owned()) {
            None => None,
            Some(text) => Some(virt_core::parse_uuid(&text).ok_or_else(|| {
                storage_error(ErrorNumber::INTERNAL_ERROR, "malformed uuid element")
            })?),
        };
        let scope: Vec<(String, String)> = node
            .attrs()
            .filter_map(|(key, value)| {
                key.strip_prefix("xmlns:")
                    .map(|prefix| (prefix.to_string(), value.to_string()))
            })
            .collect();
        let prefix_of = |uri: &str| scope.iter().find(|(_, u)| u == uri).map(|(p, _)| p.clone());
        let mut namespace = None;
        if let Some(prefix) = prefix_of(FS_NAMESPACE) {
            if let Some(opts) = node.child(&format!("{prefix}:mount_opts")) {
                let option = format!("{prefix}:option");
                namespace = Some(PoolNamespace::FsMountOptions(
                    opts.children_named(&option)
                        .filter_map(|o| o.attr("name").map(str::to_string))
                        .collect(),
                ));
            }
        }
        if let Some(prefix) = prefix_of(RBD_NAMESPACE) {
            if let Some(opts) = node.child(&format!("{prefix}:config_opts")) {
                let option = format!("{prefix}:option");
                namespace = Some(PoolNamespace::RbdConfigOptions(
                    opts.children_named(&option)
                        .map(|o| {
                            (
                                o.attr("name").unwrap_or("").to_string(),
                                o.attr("value").unwrap_or("").to_string(),
                            )
                        })
                        .collect(),
                ));
            }
        }
        let mut pool = StoragePool {
            pool_type,
            name: Some(name),
            uuid,
            capacity: ChildField::parse_child(node, "capacity")?,
            allocation: ChildField::parse_child(node, "allocation")?,
            available: ChildField::parse_child(node, "available")?,
            features: ChildField::parse_child(node, "features")?,
            source: ChildField::parse_child(node, "source")?,
            target: ChildField::parse_child(node, "target")?,
            refresh: ChildField::parse_child(node, "refresh")?,
            namespace,
        };
        pool.apply_parse_rules()?;
        Ok(pool)
    }

    fn write_attrs(&self, w: &mut Writer) {
        self.pool_type.write_attr(w, "type");
        match &self.namespace {
            Some(PoolNamespace::FsMountOptions(_)) => w.attr("xmlns:fs", FS_NAMESPACE),
            Some(PoolNamespace::RbdConfigOptions(_)) => w.attr("xmlns:rbd", RBD_NAMESPACE),
            None => {}
        }
    }

    fn write_body(&self, w: &mut Writer) {
        crate::xml::TextChildField::write_text_child(&self.name, w, "name");
        if let Some(uuid) = &self.uuid {
            w.text_element("uuid", &uuid.hyphenated().to_string());
        }
        self.capacity.write_child(w, "capacity");
        self.allocation.write_child(w, "allocation");
        self.available.write_child(w, "available");
        self.features.write_child(w, "features");
        self.source.write_child(w, "source");
        if self.has_target() {
            self.target.write_child(w, "target");
        }
        self.refresh.write_child(w, "refresh");
        match &self.namespace {
            Some(PoolNamespace::FsMountOptions(options)) => {
                let mark = w.open("fs:mount_opts");
                for name in options {
                    let m = w.open("fs:option");
                    w.attr("name", name);
                    w.close(m, "fs:option", false);
                }
                w.close(mark, "fs:mount_opts", false);
            }
            Some(PoolNamespace::RbdConfigOptions(options)) => {
                let mark = w.open("rbd:config_opts");
                for (name, value) in options {
                    let m = w.open("rbd:option");
                    w.attr("name", name);
                    w.attr("value", value);
                    w.close(m, "rbd:option", false);
                }
                w.close(mark, "rbd:config_opts", false);
            }
            None => {}
        }
    }
}

/// `<extent start end/>` of a volume source device.
pub type VolumeExtent = Extent;

/// `<device path>` of a volume source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VolumeSourceDevice {
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(child = "extent")]
    pub extents: Vec<VolumeExtent>,
}

/// `<source>` of a volume (the physical extents of a logical volume). libvirt keeps an
/// empty `<source>` it was given, written open and closed on two lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct VolumeSource {
    #[xml(child = "device")]
    pub devices: Vec<VolumeSourceDevice>,
}

/// `<timestamps>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Timestamps {
    #[xml(text_child)]
    pub atime: Option<String>,
    #[xml(text_child)]
    pub mtime: Option<String>,
    #[xml(text_child)]
    pub ctime: Option<String>,
    #[xml(text_child)]
    pub btime: Option<String>,
}

/// A size written with `unit='B'` (qcow2 cluster size), held in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterSize(pub u64);

impl XmlElement for ClusterSize {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        parse_scaled(node, 1).map(ClusterSize)
    }
    fn write_attrs(&self, w: &mut Writer) {
        w.attr("unit", "B");
    }
    fn write_body(&self, w: &mut Writer) {
        w.text_with(|out| {
            let _ = write!(out, "{}", self.0);
        });
    }
}

/// qcow2 `<features>` of a volume target.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VolumeFeatures {
    #[xml(flag = "lazy_refcounts")]
    pub lazy_refcounts: bool,
    #[xml(flag = "extended_l2")]
    pub extended_l2: bool,
}

/// `<target>` (or `<backingStore>`) of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct VolumeTarget {
    #[xml(text_child)]
    pub path: Option<String>,
    #[xml(child)]
    pub format: Option<FormatType>,
    #[xml(child)]
    pub permissions: Option<Permissions>,
    #[xml(child)]
    pub timestamps: Option<Timestamps>,
    #[xml(child)]
    pub encryption: Option<Encryption>,
    #[xml(text_child)]
    pub compat: Option<String>,
    #[xml(child = "clusterSize")]
    pub cluster_size: Option<ClusterSize>,
    #[xml(child)]
    pub features: Option<VolumeFeatures>,
    /// `<nocow/>`: libvirt reads it (a new image gets `nocow=on`) but never writes it back.
    #[xml(skip)]
    pub nocow: bool,
}

/// A storage volume.
#[derive(Debug, Clone, Default, PartialEq, XmlElement)]
#[xml(validate = "StorageVolume::check")]
pub struct StorageVolume {
    #[xml(attr = "type")]
    pub volume_type: Option<VolumeType>,
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(text_child)]
    pub key: Option<String>,
    #[xml(child)]
    pub source: Option<VolumeSource>,
    /// Bytes.
    #[xml(child)]
    pub capacity: Option<ScaledBytes>,
    #[xml(child)]
    pub allocation: Option<ScaledBytes>,
    #[xml(child)]
    pub physical: Option<ScaledBytes>,
    #[xml(child)]
    pub target: Option<VolumeTarget>,
    #[xml(child = "backingStore")]
    pub backing_store: Option<VolumeTarget>,
}

impl StorageVolume {
    /// Parses volume XML as written.
    pub fn parse(xml: &str) -> Result<StorageVolume> {
        let doc = parse_document(xml, VOLUME_DOC_NAME, ErrorDomain::STORAGE)?;
        expect_root(&doc.root, "volume")?;
        StorageVolume::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(1024);
        self.write_element(&mut w, "volume");
        w.finish()
    }

    /// The volume name, or an empty string.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    fn check(volume: &mut StorageVolume, node: &Node<'_>) -> Result<()> {
        if volume.name.as_deref().is_none_or(str::is_empty) {
            return Err(storage_error(
                ErrorNumber::XML_ERROR,
                "missing volume name element",
            ));
        }
        volume.volume_type.get_or_insert(VolumeType::File);
        if let Some(target) = &mut volume.target {
            target.nocow = node
                .child("target")
                .is_some_and(|target| target.child("nocow").is_some());
        }
        for target in volume
            .target
            .iter_mut()
            .chain(volume.backing_store.iter_mut())
        {
            // Timestamps are reported, never read.
            target.timestamps = None;
            if let Some(perms) = &mut target.permissions {
                perms.normalize();
            }
        }
        Ok(())
    }
}
