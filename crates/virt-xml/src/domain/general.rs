//! The domain's top-level settings other than devices and CPU: memory and its tuning,
//! vCPUs and their tuning, `<os>`, `<features>`, `<clock>`, power management, security
//! labels, `<sysinfo>`, `<idmap>`, launch security.

use crate::domain::enums::*;
use crate::domain::memory::{scale_integer, PrettyBytes, ScaledKib};
use crate::xml::{Hex, Node, OnOff, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

/// `<memory dumpCore unit>` — total guest memory in KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MemorySize {
    #[xml(attr = "dumpCore")]
    pub dump_core: Option<OnOff>,
    #[xml(flatten)]
    pub size: ScaledKib,
}

/// `<maxMemory slots unit>` — the hotplug ceiling in KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MaxMemory {
    #[xml(attr)]
    pub slots: Option<u32>,
    #[xml(flatten)]
    pub size: ScaledKib,
}

/// `<device>` of `<blkiotune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BlkioDevice {
    #[xml(text_child)]
    pub path: Option<String>,
    #[xml(text_child)]
    pub weight: Option<u32>,
    #[xml(text_child)]
    pub read_iops_sec: Option<u32>,
    #[xml(text_child)]
    pub write_iops_sec: Option<u32>,
    #[xml(text_child)]
    pub read_bytes_sec: Option<u64>,
    #[xml(text_child)]
    pub write_bytes_sec: Option<u64>,
}

/// `<blkiotune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Blkiotune {
    #[xml(text_child)]
    pub weight: Option<u32>,
    #[xml(child = "device")]
    pub devices: Vec<BlkioDevice>,
}

/// `<memtune>`: limits in KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Memtune {
    #[xml(child)]
    pub hard_limit: Option<ScaledKib>,
    #[xml(child)]
    pub soft_limit: Option<ScaledKib>,
    #[xml(child)]
    pub min_guarantee: Option<ScaledKib>,
    #[xml(child)]
    pub swap_hard_limit: Option<ScaledKib>,
}

/// `<page size unit nodeset/>` of `<hugepages>`; `size` held in KiB.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(validate = "HugePage::scale_size")]
pub struct HugePage {
    #[xml(attr)]
    pub size: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
    #[xml(attr)]
    pub nodeset: Option<String>,
}

impl HugePage {
    fn scale_size(page: &mut HugePage, _node: &Node<'_>) -> Result<()> {
        if let Some(size) = page.size {
            let bytes = scale_integer(size, page.unit.as_deref().unwrap_or(""), 1024)?;
            page.size = Some(bytes.div_ceil(1024));
            page.unit = Some("KiB".to_string());
        }
        Ok(())
    }
}

/// `<hugepages>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct HugePages {
    #[xml(child = "page")]
    pub pages: Vec<HugePage>,
}

/// `<source type='file|anonymous|memfd'/>` of `<memoryBacking>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MemoryBackingSourceElement {
    #[xml(attr = "type")]
    pub source_type: Option<MemoryBackingSource>,
}

/// `<access mode='shared|private'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct AccessMode {
    #[xml(attr)]
    pub mode: Option<String>,
}

/// `<allocation mode threads/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct MemoryAllocationElement {
    #[xml(attr)]
    pub mode: Option<MemoryAllocation>,
    #[xml(attr)]
    pub threads: Option<u32>,
}

/// `<memoryBacking>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct MemoryBacking {
    #[xml(child)]
    pub hugepages: Option<HugePages>,
    #[xml(flag = "nosharepages")]
    pub nosharepages: bool,
    #[xml(flag = "locked")]
    pub locked: bool,
    #[xml(child)]
    pub source: Option<MemoryBackingSourceElement>,
    #[xml(child)]
    pub access: Option<AccessMode>,
    #[xml(child)]
    pub allocation: Option<MemoryAllocationElement>,
    #[xml(flag = "discard")]
    pub discard: bool,
}

/// `<vcpu placement cpuset current>N</vcpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Vcpu {
    #[xml(attr)]
    pub placement: Option<CpuPlacement>,
    #[xml(attr)]
    pub cpuset: Option<String>,
    #[xml(attr)]
    pub current: Option<u32>,
    /// The maximum number of vCPUs.
    #[xml(text)]
    pub count: Option<u32>,
}

/// `<vcpu id enabled hotpluggable order/>` of `<vcpus>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VcpuState {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub enabled: Option<YesNo>,
    #[xml(attr)]
    pub hotpluggable: Option<YesNo>,
    #[xml(attr)]
    pub order: Option<u32>,
}

/// `<vcpus>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Vcpus {
    #[xml(child = "vcpu")]
    pub vcpus: Vec<VcpuState>,
}

/// `<iothread id thread_pool_min thread_pool_max/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IothreadId {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub thread_pool_min: Option<i32>,
    #[xml(attr)]
    pub thread_pool_max: Option<i32>,
}

/// `<iothreadids>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct IothreadIds {
    #[xml(child = "iothread")]
    pub iothreads: Vec<IothreadId>,
}

/// `<defaultiothread thread_pool_min thread_pool_max/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct DefaultIothread {
    #[xml(attr)]
    pub thread_pool_min: Option<i32>,
    #[xml(attr)]
    pub thread_pool_max: Option<i32>,
}

/// `<vcpupin vcpu cpuset/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VcpuPin {
    #[xml(attr)]
    pub vcpu: Option<u32>,
    #[xml(attr)]
    pub cpuset: Option<String>,
}

/// `<emulatorpin cpuset/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpusetPin {
    #[xml(attr)]
    pub cpuset: Option<String>,
}

/// `<iothreadpin iothread cpuset/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IothreadPin {
    #[xml(attr)]
    pub iothread: Option<u32>,
    #[xml(attr)]
    pub cpuset: Option<String>,
}

/// `<emulatorsched>`/`<vcpusched>`/`<iothreadsched>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ThreadSched {
    #[xml(attr)]
    pub vcpus: Option<String>,
    #[xml(attr)]
    pub iothreads: Option<String>,
    #[xml(attr)]
    pub scheduler: Option<String>,
    #[xml(attr)]
    pub priority: Option<i32>,
}

/// `<cache id level type size unit/>` of a cachetune.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CacheTuneCache {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub level: Option<u32>,
    #[xml(attr = "type")]
    pub cache_type: Option<String>,
    #[xml(attr)]
    pub size: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
}

/// `<monitor level vcpus/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ResctrlMonitor {
    #[xml(attr)]
    pub level: Option<u32>,
    #[xml(attr)]
    pub vcpus: Option<String>,
}

/// `<cachetune vcpus id>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CacheTune {
    #[xml(attr)]
    pub vcpus: Option<String>,
    #[xml(attr)]
    pub id: Option<String>,
    #[xml(child = "cache")]
    pub caches: Vec<CacheTuneCache>,
    #[xml(child = "monitor")]
    pub monitors: Vec<ResctrlMonitor>,
}

/// `<node id bandwidth/>` of a memorytune.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MemoryTuneNode {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub bandwidth: Option<u32>,
}

/// `<memorytune vcpus id>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MemoryTune {
    #[xml(attr)]
    pub vcpus: Option<String>,
    #[xml(attr)]
    pub id: Option<String>,
    #[xml(child = "node")]
    pub nodes: Vec<MemoryTuneNode>,
    #[xml(child = "monitor")]
    pub monitors: Vec<ResctrlMonitor>,
}

/// `<cputune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Cputune {
    #[xml(text_child)]
    pub shares: Option<u64>,
    #[xml(text_child)]
    pub period: Option<u64>,
    #[xml(text_child)]
    pub quota: Option<i64>,
    #[xml(text_child)]
    pub global_period: Option<u64>,
    #[xml(text_child)]
    pub global_quota: Option<i64>,
    #[xml(text_child)]
    pub emulator_period: Option<u64>,
    #[xml(text_child)]
    pub emulator_quota: Option<i64>,
    #[xml(text_child)]
    pub iothread_period: Option<u64>,
    #[xml(text_child)]
    pub iothread_quota: Option<i64>,
    #[xml(child = "vcpupin")]
    pub vcpupins: Vec<VcpuPin>,
    #[xml(child)]
    pub emulatorpin: Option<CpusetPin>,
    #[xml(child = "iothreadpin")]
    pub iothreadpins: Vec<IothreadPin>,
    #[xml(child)]
    pub emulatorsched: Option<ThreadSched>,
    #[xml(child = "vcpusched")]
    pub vcpuscheds: Vec<ThreadSched>,
    #[xml(child = "iothreadsched")]
    pub iothreadscheds: Vec<ThreadSched>,
    #[xml(child = "cachetune")]
    pub cachetunes: Vec<CacheTune>,
    #[xml(child = "memorytune")]
    pub memorytunes: Vec<MemoryTune>,
}

/// `<fibrechannel appid/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct FibreChannel {
    #[xml(attr)]
    pub appid: Option<String>,
}

/// `<resource>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Resource {
    #[xml(text_child)]
    pub partition: Option<String>,
    #[xml(child)]
    pub fibrechannel: Option<FibreChannel>,
}

/// `<entry name file>value</entry>` of `<sysinfo>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SysinfoEntry {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub file: Option<String>,
    #[xml(text)]
    pub value: Option<String>,
}

/// A `<bios>`, `<system>`, `<baseBoard>`, `<chassis>`, `<processor>`, `<memory_device>` or
/// `<oemStrings>` block of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SysinfoBlock {
    #[xml(child = "entry")]
    pub entries: Vec<SysinfoEntry>,
}

/// `<sysinfo type='smbios|fwcfg'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Sysinfo {
    #[xml(attr = "type")]
    pub sysinfo_type: Option<String>,
    #[xml(child)]
    pub bios: Option<SysinfoBlock>,
    #[xml(child)]
    pub system: Option<SysinfoBlock>,
    #[xml(child = "baseBoard")]
    pub base_boards: Vec<SysinfoBlock>,
    #[xml(child)]
    pub chassis: Option<SysinfoBlock>,
    #[xml(child = "processor")]
    pub processors: Vec<SysinfoBlock>,
    #[xml(child = "memory_device")]
    pub memory_devices: Vec<SysinfoBlock>,
    #[xml(child = "oemStrings")]
    pub oem_strings: Option<SysinfoBlock>,
    /// `fwcfg` entries.
    #[xml(child = "entry")]
    pub entries: Vec<SysinfoEntry>,
}

/// `<type arch machine>hvm</type>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct OsTypeElement {
    #[xml(attr)]
    pub arch: Option<String>,
    #[xml(attr)]
    pub machine: Option<String>,
    #[xml(text)]
    pub os_type: Option<OsType>,
}

/// `<feature enabled name/>` of `<os><firmware>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct FirmwareFeature {
    #[xml(attr)]
    pub enabled: Option<YesNo>,
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<firmware>` of `<os>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct OsFirmware {
    #[xml(child = "feature")]
    pub features: Vec<FirmwareFeature>,
}

/// `<initenv name>value</initenv>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InitEnv {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(text)]
    pub value: Option<String>,
}

/// `<loader readonly secure type stateless>path</loader>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Loader {
    #[xml(attr)]
    pub readonly: Option<YesNo>,
    #[xml(attr)]
    pub secure: Option<YesNo>,
    #[xml(attr = "type")]
    pub loader_type: Option<LoaderType>,
    #[xml(attr)]
    pub stateless: Option<YesNo>,
    #[xml(text)]
    pub path: Option<String>,
}

/// `<nvram template type>path</nvram>` or with a `<source>` child (network NVRAM).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Nvram {
    #[xml(attr)]
    pub template: Option<String>,
    #[xml(attr = "type")]
    pub storage_type: Option<StorageType>,
    #[xml(text)]
    pub path: Option<String>,
    #[xml(child)]
    pub source: Option<crate::domain::disk::DiskSource>,
}

/// `<table type='slic'>path</table>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct AcpiTable {
    #[xml(attr = "type")]
    pub table_type: Option<String>,
    #[xml(text)]
    pub path: Option<String>,
}

/// `<acpi>` of `<os>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct OsAcpi {
    #[xml(child = "table")]
    pub tables: Vec<AcpiTable>,
}

/// `<boot dev/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct OsBoot {
    #[xml(attr)]
    pub dev: Option<BootDevice>,
}

/// `<bootmenu enable timeout/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BootMenu {
    #[xml(attr)]
    pub enable: Option<YesNo>,
    #[xml(attr)]
    pub timeout: Option<u32>,
}

/// `<bios useserial rebootTimeout/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct OsBios {
    #[xml(attr)]
    pub useserial: Option<YesNo>,
    #[xml(attr = "rebootTimeout")]
    pub reboot_timeout: Option<i32>,
}

/// `<smbios mode/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct OsSmbios {
    #[xml(attr)]
    pub mode: Option<SmbiosMode>,
}

/// `<os>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Os {
    #[xml(attr)]
    pub firmware: Option<Firmware>,
    #[xml(child = "type")]
    pub os_type: Option<OsTypeElement>,
    #[xml(child = "firmware")]
    pub firmware_features: Option<OsFirmware>,
    #[xml(text_child)]
    pub init: Option<String>,
    #[xml(text_child = "initarg")]
    pub initargs: Vec<String>,
    #[xml(child = "initenv")]
    pub initenvs: Vec<InitEnv>,
    #[xml(text_child)]
    pub initdir: Option<String>,
    #[xml(text_child)]
    pub inituser: Option<String>,
    #[xml(text_child)]
    pub initgroup: Option<String>,
    #[xml(child)]
    pub loader: Option<Loader>,
    #[xml(child)]
    pub nvram: Option<Nvram>,
    #[xml(text_child)]
    pub kernel: Option<String>,
    #[xml(text_child)]
    pub initrd: Option<String>,
    #[xml(text_child)]
    pub cmdline: Option<String>,
    #[xml(text_child)]
    pub dtb: Option<String>,
    #[xml(text_child)]
    pub root: Option<String>,
    #[xml(child)]
    pub acpi: Option<OsAcpi>,
    #[xml(child = "boot")]
    pub boot: Vec<OsBoot>,
    #[xml(child)]
    pub bootmenu: Option<BootMenu>,
    #[xml(child)]
    pub bios: Option<OsBios>,
    #[xml(child)]
    pub smbios: Option<OsSmbios>,
}

impl Os {
    /// The `<type>` keyword (`hvm`, `exe`, `xen`, ...).
    pub fn kind(&self) -> Option<OsType> {
        self.os_type.as_ref().and_then(|os_type| os_type.os_type)
    }

    /// The architecture name.
    pub fn arch(&self) -> Option<&str> {
        self.os_type
            .as_ref()
            .and_then(|os_type| os_type.arch.as_deref())
    }

    /// The machine type.
    pub fn machine(&self) -> Option<&str> {
        self.os_type
            .as_ref()
            .and_then(|os_type| os_type.machine.as_deref())
    }
}

/// `<uid start target count/>`/`<gid .../>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IdMapEntry {
    #[xml(attr)]
    pub start: Option<u32>,
    #[xml(attr)]
    pub target: Option<u32>,
    #[xml(attr)]
    pub count: Option<u32>,
}

/// `<idmap>` (container user namespaces).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct IdMap {
    #[xml(child = "uid")]
    pub uids: Vec<IdMapEntry>,
    #[xml(child = "gid")]
    pub gids: Vec<IdMapEntry>,
}

/// A feature switched by `state='on|off'` (written as `<name state='on'/>`; a bare `<name/>`
/// reads as on).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(validate = "StateFeature::default_on")]
pub struct StateFeature {
    #[xml(attr)]
    pub state: Option<OnOff>,
}

impl StateFeature {
    fn default_on(feature: &mut StateFeature, _node: &Node<'_>) -> Result<()> {
        if feature.state.is_none() {
            feature.state = Some(OnOff::On);
        }
        Ok(())
    }

    pub fn on() -> Self {
        StateFeature {
            state: Some(OnOff::On),
        }
    }
}

/// `<apic eoi/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ApicFeature {
    #[xml(attr)]
    pub eoi: Option<OnOff>,
}

/// `<spinlocks state retries/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct HypervSpinlocks {
    #[xml(attr)]
    pub state: Option<OnOff>,
    #[xml(attr)]
    pub retries: Option<u32>,
}

/// `<stimer state><direct state/></stimer>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct HypervStimer {
    #[xml(attr)]
    pub state: Option<OnOff>,
    #[xml(child)]
    pub direct: Option<StateFeature>,
}

/// `<vendor_id state value/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct HypervVendorId {
    #[xml(attr)]
    pub state: Option<OnOff>,
    #[xml(attr)]
    pub value: Option<String>,
}

/// `<hyperv mode>` enlightenments, in libvirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HypervFeatures {
    #[xml(attr)]
    pub mode: Option<HypervMode>,
    #[xml(child)]
    pub relaxed: Option<StateFeature>,
    #[xml(child)]
    pub vapic: Option<StateFeature>,
    #[xml(child)]
    pub spinlocks: Option<HypervSpinlocks>,
    #[xml(child)]
    pub vpindex: Option<StateFeature>,
    #[xml(child)]
    pub runtime: Option<StateFeature>,
    #[xml(child)]
    pub synic: Option<StateFeature>,
    #[xml(child)]
    pub stimer: Option<HypervStimer>,
    #[xml(child)]
    pub reset: Option<StateFeature>,
    #[xml(child)]
    pub vendor_id: Option<HypervVendorId>,
    #[xml(child)]
    pub frequencies: Option<StateFeature>,
    #[xml(child)]
    pub reenlightenment: Option<StateFeature>,
    #[xml(child)]
    pub tlbflush: Option<StateFeature>,
    #[xml(child)]
    pub ipi: Option<StateFeature>,
    #[xml(child)]
    pub evmcs: Option<StateFeature>,
    #[xml(child)]
    pub avic: Option<StateFeature>,
}

/// `<dirty-ring state size/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct DirtyRing {
    #[xml(attr)]
    pub state: Option<OnOff>,
    #[xml(attr)]
    pub size: Option<u32>,
}

/// `<kvm>` features.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct KvmFeatures {
    #[xml(child)]
    pub hidden: Option<StateFeature>,
    #[xml(child = "hint-dedicated")]
    pub hint_dedicated: Option<StateFeature>,
    #[xml(child = "poll-control")]
    pub poll_control: Option<StateFeature>,
    #[xml(child = "pv-ipi")]
    pub pv_ipi: Option<StateFeature>,
    #[xml(child = "dirty-ring")]
    pub dirty_ring: Option<DirtyRing>,
}

/// `<passthrough state mode/>` of Xen features.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct XenPassthrough {
    #[xml(attr)]
    pub state: Option<OnOff>,
    #[xml(attr)]
    pub mode: Option<String>,
}

/// `<xen>` features.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct XenFeatures {
    #[xml(child)]
    pub e820_host: Option<StateFeature>,
    #[xml(child)]
    pub passthrough: Option<XenPassthrough>,
}

/// `<capabilities policy>` (container process capabilities).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitiesFeature {
    pub policy: Option<CapabilitiesPolicy>,
    /// `(capability name, state)` in libvirt's enum order.
    pub capabilities: Vec<(String, OnOff)>,
}

impl XmlElement for CapabilitiesFeature {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let mut capabilities = Vec::new();
        for child in node.children() {
            let state = crate::xml::attr::<OnOff>(child, "state")?.unwrap_or(OnOff::On);
            capabilities.push((child.name().to_string(), state));
        }
        Ok(CapabilitiesFeature {
            policy: crate::xml::attr(node, "policy")?,
            capabilities,
        })
    }
    fn write_attrs(&self, w: &mut Writer) {
        crate::xml::AttrField::write_attr(&self.policy, w, "policy");
    }
    fn write_body(&self, w: &mut Writer) {
        for (name, state) in &self.capabilities {
            let mark = w.open(name);
            w.attr("state", state.as_str());
            w.close(mark, name, false);
        }
    }
    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Omit
    }
}

/// `<gic version/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct GicFeature {
    #[xml(attr)]
    pub version: Option<String>,
}

/// `<smm state><tseg unit>N</tseg></smm>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct SmmFeature {
    #[xml(attr)]
    pub state: Option<OnOff>,
    /// SMM TSEG size in bytes (unitless input is MiB).
    #[xml(child)]
    pub tseg: Option<PrettyBytes<1048576>>,
}

/// `<ioapic driver/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IoapicFeature {
    #[xml(attr)]
    pub driver: Option<IoapicDriver>,
}

/// `<hpt resizing><maxpagesize/></hpt>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct HptFeature {
    #[xml(attr)]
    pub resizing: Option<String>,
    #[xml(child)]
    pub maxpagesize: Option<ScaledKib>,
}

/// `<msrs unknown/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MsrsFeature {
    #[xml(attr)]
    pub unknown: Option<String>,
}

/// `<cfpc value/>`, `<sbbc value/>`, `<ibs value/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ValueFeature {
    #[xml(attr)]
    pub value: Option<String>,
}

/// `<tcg><tb-cache unit>N</tb-cache></tcg>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct TcgFeature {
    #[xml(child = "tb-cache")]
    pub tb_cache: Option<ScaledKib>,
}

/// `<features>`, in libvirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Features {
    #[xml(flag = "acpi")]
    pub acpi: bool,
    #[xml(child)]
    pub apic: Option<ApicFeature>,
    #[xml(flag = "pae")]
    pub pae: bool,
    #[xml(child)]
    pub hap: Option<StateFeature>,
    #[xml(flag = "viridian")]
    pub viridian: bool,
    #[xml(flag = "privnet")]
    pub privnet: bool,
    #[xml(child)]
    pub hyperv: Option<HypervFeatures>,
    #[xml(child)]
    pub kvm: Option<KvmFeatures>,
    #[xml(child)]
    pub pvspinlock: Option<StateFeature>,
    #[xml(child)]
    pub capabilities: Option<CapabilitiesFeature>,
    #[xml(child)]
    pub pmu: Option<StateFeature>,
    #[xml(child)]
    pub vmport: Option<StateFeature>,
    #[xml(child)]
    pub gic: Option<GicFeature>,
    #[xml(child)]
    pub smm: Option<SmmFeature>,
    #[xml(child)]
    pub ioapic: Option<IoapicFeature>,
    #[xml(child)]
    pub hpt: Option<HptFeature>,
    #[xml(child)]
    pub vmcoreinfo: Option<StateFeature>,
    #[xml(child)]
    pub htm: Option<StateFeature>,
    #[xml(child = "nested-hv")]
    pub nested_hv: Option<StateFeature>,
    #[xml(child)]
    pub msrs: Option<MsrsFeature>,
    #[xml(child = "ccf-assist")]
    pub ccf_assist: Option<StateFeature>,
    #[xml(child)]
    pub xen: Option<XenFeatures>,
    #[xml(child)]
    pub cfpc: Option<ValueFeature>,
    #[xml(child)]
    pub sbbc: Option<ValueFeature>,
    #[xml(child)]
    pub ibs: Option<ValueFeature>,
    #[xml(child)]
    pub tcg: Option<TcgFeature>,
}

/// `<catchup threshold slew limit/>` of a timer.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct TimerCatchup {
    #[xml(attr)]
    pub threshold: Option<u64>,
    #[xml(attr)]
    pub slew: Option<u64>,
    #[xml(attr)]
    pub limit: Option<u64>,
}

/// `<timer name present tickpolicy track frequency mode>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Timer {
    #[xml(attr)]
    pub name: Option<TimerName>,
    #[xml(attr)]
    pub present: Option<YesNo>,
    #[xml(attr)]
    pub tickpolicy: Option<TimerTickpolicy>,
    #[xml(attr)]
    pub track: Option<TimerTrack>,
    #[xml(attr)]
    pub frequency: Option<u64>,
    #[xml(attr)]
    pub mode: Option<TimerMode>,
    #[xml(child)]
    pub catchup: Option<TimerCatchup>,
}

/// `<clock offset adjustment basis timezone start>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Clock {
    #[xml(attr)]
    pub offset: Option<ClockOffset>,
    #[xml(attr)]
    pub adjustment: Option<String>,
    #[xml(attr)]
    pub basis: Option<ClockBasis>,
    #[xml(attr)]
    pub adjustment0: Option<i64>,
    #[xml(attr)]
    pub timezone: Option<String>,
    #[xml(attr)]
    pub start: Option<u64>,
    #[xml(child = "timer")]
    pub timers: Vec<Timer>,
}

/// `<suspend-to-mem enabled/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PmState {
    #[xml(attr)]
    pub enabled: Option<YesNo>,
}

/// `<pm>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Pm {
    #[xml(child = "suspend-to-mem")]
    pub suspend_to_mem: Option<PmState>,
    #[xml(child = "suspend-to-disk")]
    pub suspend_to_disk: Option<PmState>,
}

/// `<event name enabled/>` of `<perf>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PerfEvent {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub enabled: Option<YesNo>,
}

/// `<perf>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Perf {
    #[xml(child = "event")]
    pub events: Vec<PerfEvent>,
}

/// A domain-level `<seclabel type model relabel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Seclabel {
    #[xml(attr = "type")]
    pub label_type: Option<String>,
    #[xml(attr)]
    pub model: Option<String>,
    #[xml(attr)]
    pub relabel: Option<YesNo>,
    #[xml(text_child)]
    pub label: Option<String>,
    #[xml(text_child)]
    pub imagelabel: Option<String>,
    #[xml(text_child)]
    pub baselabel: Option<String>,
}

/// `<cipher name state/>` of `<keywrap>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct KeywrapCipher {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub state: Option<OnOff>,
}

/// `<keywrap>` (s390).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Keywrap {
    #[xml(child = "cipher")]
    pub ciphers: Vec<KeywrapCipher>,
}

/// `<launchSecurity type='sev|s390-pv'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct LaunchSecurity {
    #[xml(attr = "type")]
    pub security_type: Option<LaunchSecurityType>,
    #[xml(attr = "kernelHashes")]
    pub kernel_hashes: Option<YesNo>,
    #[xml(text_child)]
    pub cbitpos: Option<u32>,
    #[xml(text_child = "reducedPhysBits")]
    pub reduced_phys_bits: Option<u32>,
    #[xml(text_child)]
    pub policy: Option<Hex<4>>,
    #[xml(text_child = "dhCert")]
    pub dh_cert: Option<String>,
    #[xml(text_child)]
    pub session: Option<String>,
}
