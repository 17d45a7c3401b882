//! `<cpu>` (guest CPU model, topology, features and NUMA cells; also the host CPU in
//! capabilities) and `<numatune>`.

use crate::domain::memory::scale_integer;
use crate::xml::{Node, Writer, XmlElement, YesNo};
use crate::{Result, XmlElement};

/// `<model fallback vendor_id>name</model>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuModel {
    #[xml(attr)]
    pub fallback: Option<String>,
    #[xml(attr)]
    pub vendor_id: Option<String>,
    #[xml(text)]
    pub name: Option<String>,
}

/// `<microcode version='N'/>` (host CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Microcode {
    #[xml(attr)]
    pub version: Option<u32>,
}

/// `<signature family model stepping/>` (host CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuSignature {
    #[xml(attr)]
    pub family: Option<u32>,
    #[xml(attr)]
    pub model: Option<u32>,
    #[xml(attr)]
    pub stepping: Option<u32>,
}

/// `<counter name='tsc' frequency scaling/>` (host CPU).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuCounter {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub frequency: Option<u64>,
    #[xml(attr)]
    pub scaling: Option<YesNo>,
}

/// `<topology sockets dies cores threads/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuTopology {
    #[xml(attr)]
    pub sockets: Option<u32>,
    #[xml(attr)]
    pub dies: Option<u32>,
    #[xml(attr)]
    pub cores: Option<u32>,
    #[xml(attr)]
    pub threads: Option<u32>,
}

/// `<cache level mode/>` of a CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuCache {
    #[xml(attr)]
    pub level: Option<i32>,
    #[xml(attr)]
    pub mode: Option<String>,
}

/// `<maxphysaddr mode bits/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MaxPhysAddr {
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub bits: Option<i32>,
}

/// `<feature policy name/>` of a CPU.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CpuFeature {
    #[xml(attr)]
    pub policy: Option<String>,
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<sibling id value/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NumaSibling {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub value: Option<u32>,
}

/// `<distances>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct NumaDistances {
    #[xml(child = "sibling")]
    pub siblings: Vec<NumaSibling>,
}

/// `<size value unit/>` or `<line value unit/>` of a NUMA cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ValueUnit {
    #[xml(attr)]
    pub value: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
}

/// `<cache level associativity policy>` of a NUMA cell.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NumaCache {
    #[xml(attr)]
    pub level: Option<u32>,
    #[xml(attr)]
    pub associativity: Option<String>,
    #[xml(attr)]
    pub policy: Option<String>,
    #[xml(child)]
    pub size: Option<ValueUnit>,
    #[xml(child)]
    pub line: Option<ValueUnit>,
}

crate::xml_enum! {
    /// `virDomainMemoryAccess`: how guest memory is shared with other processes.
    pub enum MemoryAccess { Shared = "shared", Private = "private" }
}

/// `<cell id cpus memory unit memAccess discard>`: a guest NUMA node. `memory` is held in KiB
/// (input in any unit is scaled, as libvirt does).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(validate = "NumaCell::scale_memory")]
pub struct NumaCell {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr)]
    pub cpus: Option<String>,
    #[xml(attr)]
    pub memory: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
    /// `shared` or `private` (checked while reading).
    #[xml(attr = "memAccess")]
    pub mem_access: Option<String>,
    #[xml(attr)]
    pub discard: Option<YesNo>,
    #[xml(child)]
    pub distances: Option<NumaDistances>,
    #[xml(child = "cache")]
    pub caches: Vec<NumaCache>,
}

impl NumaCell {
    fn scale_memory(cell: &mut NumaCell, node: &Node<'_>) -> Result<()> {
        if let Some(access) = &cell.mem_access {
            if MemoryAccess::from_keyword(access).is_none() {
                return Err(crate::xml::invalid_attr(node, "memAccess", access, ""));
            }
        }
        if let Some(memory) = cell.memory {
            let bytes = scale_integer(memory, cell.unit.as_deref().unwrap_or(""), 1024)?;
            cell.memory = Some(bytes.div_ceil(1024));
            cell.unit = Some("KiB".to_string());
        }
        Ok(())
    }
}

/// One `<latency>` or `<bandwidth>` of `<interconnects>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NumaInterconnectAttrs {
    #[xml(attr)]
    pub initiator: Option<u32>,
    #[xml(attr)]
    pub target: Option<u32>,
    #[xml(attr)]
    pub cache: Option<u32>,
    #[xml(attr = "type")]
    pub access_type: Option<String>,
    #[xml(attr)]
    pub value: Option<u64>,
    #[xml(attr)]
    pub unit: Option<String>,
}

/// An interconnect entry; latencies and bandwidths keep their document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumaInterconnect {
    Latency(NumaInterconnectAttrs),
    Bandwidth(NumaInterconnectAttrs),
}

/// `<interconnects>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumaInterconnects {
    pub entries: Vec<NumaInterconnect>,
}

impl XmlElement for NumaInterconnects {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let mut entries = Vec::new();
        for child in node.children() {
            match child.name() {
                "latency" => entries.push(NumaInterconnect::Latency(
                    NumaInterconnectAttrs::from_node(child)?,
                )),
                "bandwidth" => entries.push(NumaInterconnect::Bandwidth(
                    NumaInterconnectAttrs::from_node(child)?,
                )),
                _ => {}
            }
        }
        Ok(NumaInterconnects { entries })
    }
    fn write_attrs(&self, _w: &mut Writer) {}
    fn write_body(&self, w: &mut Writer) {
        for entry in &self.entries {
            match entry {
                NumaInterconnect::Latency(attrs) => attrs.write_element(w, "latency"),
                NumaInterconnect::Bandwidth(attrs) => attrs.write_element(w, "bandwidth"),
            }
        }
    }
    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Omit
    }
}

/// `<numa>` inside `<cpu>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Numa {
    #[xml(child = "cell")]
    pub cells: Vec<NumaCell>,
    #[xml(child)]
    pub interconnects: Option<NumaInterconnects>,
}

/// `<cpu>`: the guest CPU (or the host CPU in capabilities).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Cpu {
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr = "match")]
    pub match_policy: Option<String>,
    #[xml(attr)]
    pub check: Option<String>,
    #[xml(attr)]
    pub migratable: Option<crate::xml::OnOff>,
    /// Host CPU architecture.
    #[xml(text_child)]
    pub arch: Option<String>,
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
    pub features: Vec<CpuFeature>,
    #[xml(child)]
    pub numa: Option<Numa>,
}

impl Cpu {
    /// The CPU model name, if any.
    pub fn model_name(&self) -> Option<&str> {
        self.model.as_ref().and_then(|model| model.name.as_deref())
    }
}

/// `<memory mode nodeset placement/>` of `<numatune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NumatuneMemory {
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub nodeset: Option<String>,
    #[xml(attr)]
    pub placement: Option<String>,
}

/// `<memnode cellid mode nodeset/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Memnode {
    #[xml(attr)]
    pub cellid: Option<u32>,
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub nodeset: Option<String>,
}

/// `<numatune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct Numatune {
    #[xml(child)]
    pub memory: Option<NumatuneMemory>,
    #[xml(child = "memnode")]
    pub memnodes: Vec<Memnode>,
}
