//! `<disk>` and the storage-source pieces it shares with other documents (`<source>`,
//! `<backingStore>`, `<auth>`, `<encryption>`, `<reservations>`, `<seclabel>`).

use crate::domain::address::{DeviceInfo, PciAddress};
use crate::domain::enums::*;
use crate::xml::{Node, OnOff, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

/// `<secret type='...' uuid='...'/>` or `usage='...'` (libvirt's secret lookup).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SecretRef {
    #[xml(attr = "type")]
    pub secret_type: Option<String>,
    #[xml(attr)]
    pub uuid: Option<String>,
    #[xml(attr)]
    pub usage: Option<String>,
}

/// `<auth>`: credentials for a network disk, a pool source or an NVRAM source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct StorageAuth {
    #[xml(attr = "type")]
    pub auth_type: Option<String>,
    #[xml(attr)]
    pub username: Option<String>,
    #[xml(child)]
    pub secret: Option<SecretRef>,
}

/// `<cipher>` of a LUKS encryption.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct EncryptionCipher {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub size: Option<u32>,
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub hash: Option<String>,
}

/// `<ivgen>` of a LUKS encryption.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct EncryptionIvgen {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub hash: Option<String>,
}

/// `<encryption format='luks' engine='...'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Encryption {
    #[xml(attr)]
    pub format: Option<String>,
    #[xml(attr)]
    pub engine: Option<String>,
    #[xml(child = "secret")]
    pub secrets: Vec<SecretRef>,
    #[xml(child)]
    pub cipher: Option<EncryptionCipher>,
    #[xml(child)]
    pub ivgen: Option<EncryptionIvgen>,
}

/// A unix socket endpoint (`<source type='unix' path='...' mode='...'/>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct UnixSocketSource {
    #[xml(attr = "type")]
    pub source_type: Option<String>,
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(attr)]
    pub mode: Option<String>,
}

/// `<reservations managed='...'>` (SCSI persistent reservations).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Reservations {
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(child)]
    pub source: Option<UnixSocketSource>,
}

/// A device-level `<seclabel>` (on a disk source or a character device source).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DeviceSeclabel {
    #[xml(attr)]
    pub model: Option<String>,
    #[xml(attr)]
    pub labelskip: Option<YesNo>,
    #[xml(attr)]
    pub relabel: Option<YesNo>,
    #[xml(text_child)]
    pub label: Option<String>,
}

/// `<host name='...' port='...' transport='...' socket='...'/>` of a network source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SourceHost {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub port: Option<u32>,
    #[xml(attr)]
    pub transport: Option<HostTransport>,
    #[xml(attr)]
    pub socket: Option<String>,
}

/// `<identity user='...' group='...'/>` (NFS).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SourceIdentity {
    #[xml(attr)]
    pub user: Option<String>,
    #[xml(attr)]
    pub group: Option<String>,
}

/// An element with only a `name` attribute (`<snapshot name=..>`, `<backenddomain name=..>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NameAttr {
    #[xml(attr)]
    pub name: Option<String>,
}

/// An element with only a `file` attribute (`<config file=..>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct FileAttr {
    #[xml(attr)]
    pub file: Option<String>,
}

/// `<initiator><iqn name='...'/></initiator>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Initiator {
    #[xml(child)]
    pub iqn: Option<NameAttr>,
}

/// `<ssl verify='yes|no'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SslVerify {
    #[xml(attr)]
    pub verify: Option<YesNo>,
}

/// `<cookie name='...'>value</cookie>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Cookie {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(text)]
    pub value: Option<String>,
}

/// `<cookies>`: shown only in secure XML.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cookies {
    pub cookies: Vec<Cookie>,
}

impl XmlElement for Cookies {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        Ok(Cookies {
            cookies: crate::xml::ChildField::parse_child(node, "cookie")?,
        })
    }
    fn write_attrs(&self, _w: &mut Writer) {}
    fn write_body(&self, w: &mut Writer) {
        crate::xml::ChildField::write_child(&self.cookies, w, "cookie");
    }
    fn write_element(&self, w: &mut Writer, name: &str) {
        if !w.flags().secure || self.cookies.is_empty() {
            return;
        }
        let mark = w.open(name);
        self.write_body(w);
        w.close(mark, name, true);
    }
}

/// `<readahead size='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Readahead {
    #[xml(attr)]
    pub size: Option<u64>,
}

/// `<timeout seconds='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SourceTimeout {
    #[xml(attr)]
    pub seconds: Option<u64>,
}

/// `<reconnect enabled='yes' timeout='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Reconnect {
    #[xml(attr)]
    pub enabled: Option<YesNo>,
    #[xml(attr)]
    pub timeout: Option<u32>,
}

/// `<slice type='storage' offset='N' size='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Slice {
    #[xml(attr = "type")]
    pub slice_type: Option<String>,
    #[xml(attr)]
    pub offset: Option<u64>,
    #[xml(attr)]
    pub size: Option<u64>,
}

/// `<slices>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Slices {
    #[xml(child = "slice")]
    pub slices: Vec<Slice>,
}

/// A host PCI address written without a `type` (`virPCIDeviceAddressFormat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPciAddress(pub PciAddress);

impl XmlElement for HostPciAddress {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        PciAddress::from_node(node).map(HostPciAddress)
    }
    fn write_attrs(&self, w: &mut Writer) {
        self.0.write_numbers(w);
    }
    fn write_body(&self, _w: &mut Writer) {}
}

/// `<source>` of a disk, a backing store or a mirror: one struct for every storage type,
/// the attributes each type uses in libvirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct DiskSource {
    #[xml(attr)]
    pub file: Option<String>,
    #[xml(attr)]
    pub fdgroup: Option<String>,
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub dir: Option<String>,
    #[xml(attr)]
    pub protocol: Option<NetProtocol>,
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub query: Option<String>,
    #[xml(attr)]
    pub tls: Option<YesNo>,
    #[xml(attr = "tlsHostname")]
    pub tls_hostname: Option<String>,
    #[xml(attr)]
    pub pool: Option<String>,
    #[xml(attr)]
    pub volume: Option<String>,
    #[xml(attr)]
    pub mode: Option<String>,
    /// `pci` for NVMe, `unix` for vhost-user.
    #[xml(attr = "type")]
    pub source_type: Option<String>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(attr)]
    pub namespace: Option<u64>,
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(attr = "startupPolicy")]
    pub startup_policy: Option<StartupPolicy>,
    #[xml(attr)]
    pub index: Option<u32>,
    #[xml(child = "host")]
    pub hosts: Vec<SourceHost>,
    #[xml(child)]
    pub identity: Option<SourceIdentity>,
    #[xml(child)]
    pub snapshot: Option<NameAttr>,
    #[xml(child)]
    pub config: Option<FileAttr>,
    #[xml(child)]
    pub initiator: Option<Initiator>,
    #[xml(child)]
    pub ssl: Option<SslVerify>,
    #[xml(child)]
    pub cookies: Option<Cookies>,
    #[xml(child)]
    pub readahead: Option<Readahead>,
    #[xml(child)]
    pub timeout: Option<SourceTimeout>,
    /// The NVMe controller's PCI address.
    #[xml(child)]
    pub address: Option<HostPciAddress>,
    #[xml(child)]
    pub reconnect: Option<Reconnect>,
    #[xml(child)]
    pub slices: Option<Slices>,
    #[xml(child = "seclabel")]
    pub seclabels: Vec<DeviceSeclabel>,
    #[xml(child)]
    pub auth: Option<StorageAuth>,
    #[xml(child)]
    pub encryption: Option<Encryption>,
    #[xml(child)]
    pub reservations: Option<Reservations>,
}

impl DiskSource {
    /// The path this source names, whatever its type (file, dev, dir or network name).
    pub fn path(&self) -> Option<&str> {
        self.file
            .as_deref()
            .or(self.dev.as_deref())
            .or(self.dir.as_deref())
            .or(self.name.as_deref())
            .or(self.path.as_deref())
    }
}

/// `<max_size unit='bytes'>N</max_size>` inside `<metadata_cache>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MetadataCache {
    #[xml(child = "max_size")]
    pub max_size: Option<crate::domain::memory::ScaledBytes>,
}

/// `<format type='qcow2'>` of a backing store or a mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct StorageFormatElement {
    #[xml(attr = "type")]
    pub format_type: Option<StorageFormat>,
    #[xml(child)]
    pub metadata_cache: Option<MetadataCache>,
}

/// `<backingStore>`: one link of a disk's backing chain (empty when the chain ends).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BackingStore {
    #[xml(attr = "type")]
    pub storage_type: Option<StorageType>,
    #[xml(attr)]
    pub index: Option<u32>,
    #[xml(child)]
    pub format: Option<StorageFormatElement>,
    #[xml(child)]
    pub source: Option<DiskSource>,
    #[xml(child = "backingStore")]
    pub backing_store: Option<Box<BackingStore>>,
}

/// `<driver>` of a disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct DiskDriver {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr = "type")]
    pub format: Option<StorageFormat>,
    #[xml(attr)]
    pub cache: Option<DiskCache>,
    #[xml(attr)]
    pub error_policy: Option<DiskErrorPolicy>,
    #[xml(attr)]
    pub rerror_policy: Option<DiskErrorPolicy>,
    #[xml(attr)]
    pub io: Option<DiskIo>,
    #[xml(attr)]
    pub ioeventfd: Option<OnOff>,
    #[xml(attr)]
    pub event_idx: Option<OnOff>,
    #[xml(attr)]
    pub copy_on_read: Option<OnOff>,
    #[xml(attr)]
    pub discard: Option<DiskDiscard>,
    #[xml(attr)]
    pub iothread: Option<u32>,
    #[xml(attr)]
    pub detect_zeroes: Option<DiskDetectZeroes>,
    #[xml(attr)]
    pub queues: Option<u32>,
    #[xml(attr)]
    pub queue_size: Option<u32>,
    #[xml(flatten)]
    pub virtio: VirtioOptions,
    #[xml(child)]
    pub metadata_cache: Option<MetadataCache>,
}

/// The virtio transport options several `<driver>` elements carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VirtioOptions {
    #[xml(attr)]
    pub iommu: Option<OnOff>,
    #[xml(attr)]
    pub ats: Option<OnOff>,
    #[xml(attr)]
    pub packed: Option<OnOff>,
    #[xml(attr)]
    pub page_per_vq: Option<OnOff>,
}

/// `<geometry cyls heads secs trans/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DiskGeometry {
    #[xml(attr)]
    pub cyls: Option<u32>,
    #[xml(attr)]
    pub heads: Option<u32>,
    #[xml(attr)]
    pub secs: Option<u32>,
    #[xml(attr)]
    pub trans: Option<String>,
}

/// `<blockio logical_block_size physical_block_size/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BlockIo {
    #[xml(attr)]
    pub logical_block_size: Option<u32>,
    #[xml(attr)]
    pub physical_block_size: Option<u32>,
}

/// `<mirror>`: an active block copy or commit (live XML only).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DiskMirror {
    #[xml(attr = "type")]
    pub storage_type: Option<StorageType>,
    #[xml(attr)]
    pub file: Option<String>,
    #[xml(attr)]
    pub format: Option<String>,
    #[xml(attr)]
    pub job: Option<String>,
    #[xml(attr)]
    pub ready: Option<String>,
    #[xml(child = "format")]
    pub format_element: Option<StorageFormatElement>,
    #[xml(child)]
    pub source: Option<DiskSource>,
    #[xml(child = "backingStore")]
    pub backing_store: Option<Box<BackingStore>>,
}

/// `<target dev='vda' bus='virtio' .../>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DiskTarget {
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub bus: Option<DiskBus>,
    #[xml(attr)]
    pub tray: Option<DiskTray>,
    #[xml(attr)]
    pub removable: Option<OnOff>,
    #[xml(attr)]
    pub rotation_rate: Option<u32>,
}

/// `<iotune>`: per-disk I/O limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct IoTune {
    #[xml(text_child)]
    pub total_bytes_sec: Option<u64>,
    #[xml(text_child)]
    pub read_bytes_sec: Option<u64>,
    #[xml(text_child)]
    pub write_bytes_sec: Option<u64>,
    #[xml(text_child)]
    pub total_iops_sec: Option<u64>,
    #[xml(text_child)]
    pub read_iops_sec: Option<u64>,
    #[xml(text_child)]
    pub write_iops_sec: Option<u64>,
    #[xml(text_child)]
    pub total_bytes_sec_max: Option<u64>,
    #[xml(text_child)]
    pub read_bytes_sec_max: Option<u64>,
    #[xml(text_child)]
    pub write_bytes_sec_max: Option<u64>,
    #[xml(text_child)]
    pub total_iops_sec_max: Option<u64>,
    #[xml(text_child)]
    pub read_iops_sec_max: Option<u64>,
    #[xml(text_child)]
    pub write_iops_sec_max: Option<u64>,
    #[xml(text_child)]
    pub size_iops_sec: Option<u64>,
    #[xml(text_child)]
    pub group_name: Option<String>,
    #[xml(text_child)]
    pub total_bytes_sec_max_length: Option<u64>,
    #[xml(text_child)]
    pub read_bytes_sec_max_length: Option<u64>,
    #[xml(text_child)]
    pub write_bytes_sec_max_length: Option<u64>,
    #[xml(text_child)]
    pub total_iops_sec_max_length: Option<u64>,
    #[xml(text_child)]
    pub read_iops_sec_max_length: Option<u64>,
    #[xml(text_child)]
    pub write_iops_sec_max_length: Option<u64>,
}

/// `<transient shareBacking='yes'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Transient {
    #[xml(attr = "shareBacking")]
    pub share_backing: Option<YesNo>,
}

/// `<disk>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Disk {
    #[xml(attr = "type")]
    pub disk_type: Option<StorageType>,
    #[xml(attr)]
    pub device: Option<DiskDevice>,
    #[xml(attr)]
    pub model: Option<DiskModel>,
    #[xml(attr)]
    pub rawio: Option<YesNo>,
    #[xml(attr)]
    pub sgio: Option<DeviceSgio>,
    #[xml(attr)]
    pub snapshot: Option<SnapshotLocation>,
    #[xml(child)]
    pub driver: Option<DiskDriver>,
    /// `<auth>` written directly under `<disk>` (older syntax; kept where it was found).
    #[xml(child)]
    pub auth: Option<StorageAuth>,
    #[xml(child)]
    pub source: Option<DiskSource>,
    #[xml(child = "backingStore")]
    pub backing_store: Option<BackingStore>,
    #[xml(child = "backenddomain")]
    pub backend_domain: Option<NameAttr>,
    #[xml(child)]
    pub geometry: Option<DiskGeometry>,
    #[xml(child)]
    pub blockio: Option<BlockIo>,
    #[xml(child)]
    pub mirror: Option<DiskMirror>,
    #[xml(child)]
    pub target: Option<DiskTarget>,
    #[xml(child)]
    pub iotune: Option<IoTune>,
    #[xml(flag = "readonly")]
    pub readonly: bool,
    #[xml(flag = "shareable")]
    pub shareable: bool,
    #[xml(child)]
    pub transient: Option<Transient>,
    #[xml(text_child)]
    pub serial: Option<String>,
    #[xml(text_child)]
    pub wwn: Option<String>,
    #[xml(text_child)]
    pub vendor: Option<String>,
    #[xml(text_child)]
    pub product: Option<String>,
    /// `<encryption>` written directly under `<disk>` (older syntax).
    #[xml(child)]
    pub encryption: Option<Encryption>,
    #[xml(flatten)]
    pub info: DeviceInfo,
}

impl Disk {
    /// The guest device name (`<target dev>`), e.g. `vda`.
    pub fn target_dev(&self) -> Option<&str> {
        self.target
            .as_ref()
            .and_then(|target| target.dev.as_deref())
    }

    /// The guest bus (`<target bus>`).
    pub fn target_bus(&self) -> Option<DiskBus> {
        self.target.as_ref().and_then(|target| target.bus)
    }

    /// The host path or network name of the source.
    pub fn source_path(&self) -> Option<&str> {
        self.source.as_ref().and_then(DiskSource::path)
    }

    /// The kind of storage a hypervisor opens, as libvirt's `virStorageSourceGetActualType`:
    /// the disk's type, except that a `volume` disk whose pool gave it a path is the block
    /// device, directory or file that path names, and one an iSCSI pool made a LUN for QEMU's
    /// own initiator (`mode='direct'`) is a network disk.
    pub fn actual_type(&self) -> StorageType {
        match (self.disk_type, &self.source) {
            (Some(StorageType::Volume), Some(source)) if source.protocol.is_some() => {
                StorageType::Network
            }
            (Some(StorageType::Volume), Some(source)) if source.dev.is_some() => StorageType::Block,
            (Some(StorageType::Volume), Some(source)) if source.dir.is_some() => StorageType::Dir,
            (Some(StorageType::Volume), _) => StorageType::File,
            (kind, _) => kind.unwrap_or(StorageType::File),
        }
    }
}
