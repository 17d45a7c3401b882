//! Host capabilities XML (`<capabilities>`, what `virConnectGetCapabilities` returns): the
//! host (CPU, NUMA topology, caches, security models) and the guests each driver can run.

use virt_core::ErrorDomain;

use crate::domain::cpu::{
    CpuCache, CpuCounter, CpuFeature, CpuModel, CpuSignature, CpuTopology, MaxPhysAddr, Microcode,
    NumaCache, NumaDistances, NumaInterconnects,
};
use crate::domain::memory::ScaledKib;
use crate::xml::{
    attr, expect_root, parse_document, AttrField, ChildField, EmptyStyle, Node, TextChildField,
    Writer, XmlElement, YesNo,
};
use crate::{Result, XmlElement};

/// A list of empty elements whose names are the values (`<features><pae/><nonpae/>`,
/// `<power_management><suspend_mem/>...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElementNames(pub Vec<String>);

impl XmlElement for ElementNames {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        Ok(ElementNames(
            node.children()
                .map(|child| child.name().to_string())
                .collect(),
        ))
    }
    fn write_attrs(&self, _w: &mut Writer) {}
    fn write_body(&self, w: &mut Writer) {
        for name in &self.0 {
            w.empty_element(name);
        }
    }
}

/// `<pages unit size/>` of the host CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PageSize {
    #[xml(attr)]
    pub unit: Option<String>,
    #[xml(attr)]
    pub size: Option<u64>,
}

/// The host `<cpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostCpu {
    #[xml(text_child)]
    pub arch: Option<String>,
    #[xml(child)]
    pub features: Option<ElementNames>,
    #[xml(child)]
    pub model: Option<CpuModel>,
    #[xml(text_child)]
    pub vendor: Option<String>,
    #[xml(child)]
    pub microcode: Option<Microcode>,
    #[xml(child)]
    pub signature: Option<CpuSignature>,
    #[xml(child)]
    pub counter: Option<CpuCounter>,
    #[xml(child)]
    pub topology: Option<CpuTopology>,
    #[xml(child)]
    pub cache: Option<CpuCache>,
    #[xml(child)]
    pub maxphysaddr: Option<MaxPhysAddr>,
    #[xml(child = "feature")]
    pub cpu_features: Vec<CpuFeature>,
    #[xml(child = "pages")]
    pub pages: Vec<PageSize>,
}

/// `<iommu support/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IommuSupport {
    #[xml(attr)]
    pub support: Option<YesNo>,
}

/// `<uri_transports>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct UriTransports {
    #[xml(text_child = "uri_transport")]
    pub transports: Vec<String>,
}

/// `<migration_features>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct MigrationFeatures {
    #[xml(flag = "live")]
    pub live: bool,
    #[xml(child)]
    pub uri_transports: Option<UriTransports>,
}

/// `<pages unit size>N</pages>` of a NUMA cell (free huge pages).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CellPages {
    #[xml(attr)]
    pub unit: Option<String>,
    #[xml(attr)]
    pub size: Option<u64>,
    #[xml(text)]
    pub count: Option<u64>,
}

/// `<cpu id socket_id die_id core_id siblings/>` of a NUMA cell.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CellCpu {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub socket_id: Option<i32>,
    #[xml(attr)]
    pub die_id: Option<i32>,
    #[xml(attr)]
    pub core_id: Option<i32>,
    #[xml(attr)]
    pub siblings: Option<String>,
}

/// `<cpus num>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CellCpus {
    #[xml(attr)]
    pub num: Option<u32>,
    #[xml(child = "cpu")]
    pub cpus: Vec<CellCpu>,
}

/// A host NUMA `<cell id>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostCell {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(child)]
    pub memory: Option<ScaledKib>,
    #[xml(child = "pages")]
    pub pages: Vec<CellPages>,
    #[xml(child)]
    pub distances: Option<NumaDistances>,
    #[xml(child = "cache")]
    pub caches: Vec<NumaCache>,
    #[xml(child)]
    pub cpus: Option<CellCpus>,
}

/// `<cells num>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostCells {
    #[xml(attr)]
    pub num: Option<u32>,
    #[xml(child = "cell")]
    pub cells: Vec<HostCell>,
}

/// The host NUMA `<topology>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostTopology {
    #[xml(child)]
    pub cells: Option<HostCells>,
    #[xml(child)]
    pub interconnects: Option<NumaInterconnects>,
}

/// `<control granularity min unit type maxAllocs/>` of a cache bank or memory node.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ResctrlControl {
    #[xml(attr)]
    pub granularity: Option<u64>,
    #[xml(attr)]
    pub min: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
    #[xml(attr = "type")]
    pub control_type: Option<String>,
    #[xml(attr = "maxAllocs")]
    pub max_allocs: Option<u32>,
}

/// `<bank id level type size unit cpus>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CacheBank {
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
    #[xml(attr)]
    pub cpus: Option<String>,
    #[xml(child = "control")]
    pub controls: Vec<ResctrlControl>,
}

/// `<feature name/>` of a resctrl monitor.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NamedFeature {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<monitor level reuseThreshold maxMonitors>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct ResctrlMonitorCaps {
    #[xml(attr)]
    pub level: Option<u32>,
    #[xml(attr = "reuseThreshold")]
    pub reuse_threshold: Option<u32>,
    #[xml(attr = "maxMonitors")]
    pub max_monitors: Option<u32>,
    #[xml(child = "feature")]
    pub features: Vec<NamedFeature>,
}

/// Host `<cache>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct HostCache {
    #[xml(child = "bank")]
    pub banks: Vec<CacheBank>,
    #[xml(child)]
    pub monitor: Option<ResctrlMonitorCaps>,
}

/// `<node id cpus>` of `<memory_bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MemoryBandwidthNode {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub cpus: Option<String>,
    #[xml(child)]
    pub control: Option<ResctrlControl>,
}

/// `<memory_bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct MemoryBandwidth {
    #[xml(child = "node")]
    pub nodes: Vec<MemoryBandwidthNode>,
    #[xml(child)]
    pub monitor: Option<ResctrlMonitorCaps>,
}

/// `<baselabel type>label</baselabel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BaseLabel {
    #[xml(attr = "type")]
    pub label_type: Option<String>,
    #[xml(text)]
    pub label: Option<String>,
}

/// `<secmodel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SecModel {
    #[xml(text_child)]
    pub model: Option<String>,
    #[xml(text_child)]
    pub doi: Option<String>,
    #[xml(child = "baselabel")]
    pub baselabels: Vec<BaseLabel>,
}

/// `<host>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Host {
    #[xml(text_child)]
    pub uuid: Option<String>,
    #[xml(child)]
    pub cpu: Option<HostCpu>,
    /// Suspend targets (`suspend_mem`, `suspend_disk`, `suspend_hybrid`).
    #[xml(child)]
    pub power_management: Option<ElementNames>,
    #[xml(child)]
    pub iommu: Option<IommuSupport>,
    #[xml(child)]
    pub migration_features: Option<MigrationFeatures>,
    #[xml(text_child)]
    pub netprefix: Option<String>,
    #[xml(child)]
    pub topology: Option<HostTopology>,
    #[xml(child)]
    pub cache: Option<HostCache>,
    #[xml(child)]
    pub memory_bandwidth: Option<MemoryBandwidth>,
    #[xml(child = "secmodel")]
    pub secmodels: Vec<SecModel>,
}

/// `<machine canonical maxCpus deprecated>name</machine>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Machine {
    #[xml(attr)]
    pub canonical: Option<String>,
    #[xml(attr = "maxCpus")]
    pub max_cpus: Option<u32>,
    #[xml(attr)]
    pub deprecated: Option<YesNo>,
    #[xml(text)]
    pub name: Option<String>,
}

/// `<domain type>` of a guest architecture: a virtualization type and its own emulator,
/// loader and machines when they differ from the architecture's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct GuestDomain {
    #[xml(attr = "type")]
    pub virt_type: Option<String>,
    #[xml(text_child)]
    pub emulator: Option<String>,
    #[xml(text_child)]
    pub loader: Option<String>,
    #[xml(child = "machine")]
    pub machines: Vec<Machine>,
}

/// `<arch name>` of a guest.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct GuestArch {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(text_child)]
    pub wordsize: Option<u32>,
    #[xml(text_child)]
    pub emulator: Option<String>,
    #[xml(text_child)]
    pub loader: Option<String>,
    #[xml(child = "machine")]
    pub machines: Vec<Machine>,
    #[xml(child = "domain")]
    pub domains: Vec<GuestDomain>,
}

/// A guest feature (`<acpi default='on' toggle='yes'/>`, `<pae/>`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestFeature {
    pub name: String,
    pub default: Option<String>,
    pub toggle: Option<YesNo>,
}

/// `<features>` of a guest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestFeatures(pub Vec<GuestFeature>);

impl XmlElement for GuestFeatures {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        node.children()
            .map(|child| {
                Ok(GuestFeature {
                    name: child.name().to_string(),
                    default: attr(child, "default")?,
                    toggle: attr(child, "toggle")?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(GuestFeatures)
    }
    fn write_attrs(&self, _w: &mut Writer) {}
    fn write_body(&self, w: &mut Writer) {
        for feature in &self.0 {
            let mark = w.open(&feature.name);
            feature.default.write_attr(w, "default");
            feature.toggle.write_attr(w, "toggle");
            w.close(mark, &feature.name, false);
        }
    }
    fn empty_style() -> EmptyStyle {
        EmptyStyle::Omit
    }
}

/// `<guest>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Guest {
    #[xml(text_child)]
    pub os_type: Option<String>,
    #[xml(child)]
    pub arch: Option<GuestArch>,
    #[xml(child)]
    pub features: Option<GuestFeatures>,
}

impl Guest {
    /// A guest of `os_type` on `arch` with one domain type and nothing else (no emulator,
    /// loader or machines): what the drivers that do not run an emulator advertise.
    pub fn simple(os_type: &str, arch: &str, wordsize: u32, virt_type: &str) -> Guest {
        Guest {
            os_type: Some(os_type.to_string()),
            arch: Some(GuestArch {
                name: Some(arch.to_string()),
                wordsize: Some(wordsize),
                emulator: None,
                loader: None,
                machines: Vec::new(),
                domains: vec![GuestDomain {
                    virt_type: Some(virt_type.to_string()),
                    ..GuestDomain::default()
                }],
            }),
            features: None,
        }
    }
}

/// `<pool><enum name='type'>` listing the storage pool backends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolTypes(pub Vec<String>);

/// Host capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub host: Option<Host>,
    pub guests: Vec<Guest>,
    pub pool_types: Option<PoolTypes>,
}

impl Capabilities {
    /// Parses capabilities XML.
    pub fn parse(xml: &str) -> Result<Capabilities> {
        let doc = parse_document(xml, "(capabilities)", ErrorDomain::CAPABILITIES)?;
        expect_root(&doc.root, "capabilities")?;
        Capabilities::from_node(&doc.root)
    }

    /// Formats as libvirt does, blank lines between sections included.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(4096);
        self.write_element(&mut w, "capabilities");
        w.finish()
    }
}

impl XmlElement for Capabilities {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let pool_types = node.child("pool").map(|pool| {
            PoolTypes(
                pool.children_named("enum")
                    .filter(|e| e.attr("name") == Some("type"))
                    .flat_map(|e| e.children_named("value").map(|v| v.text().into_owned()))
                    .collect(),
            )
        });
        Ok(Capabilities {
            host: ChildField::parse_child(node, "host")?,
            guests: ChildField::parse_child(node, "guest")?,
            pool_types,
        })
    }

    fn write_attrs(&self, _w: &mut Writer) {}

    fn write_body(&self, w: &mut Writer) {
        w.blank_line();
        if let Some(host) = &self.host {
            host.write_element(w, "host");
            w.blank_line();
        }
        for guest in &self.guests {
            guest.write_element(w, "guest");
            w.blank_line();
        }
        if let Some(PoolTypes(types)) = &self.pool_types {
            if !types.is_empty() {
                let pool = w.open("pool");
                let e = w.open("enum");
                w.attr("name", "type");
                for value in types {
                    TextChildField::write_text_child(&Some(value.clone()), w, "value");
                }
                w.close(e, "enum", false);
                w.close(pool, "pool", false);
                w.blank_line();
            }
        }
    }
}
