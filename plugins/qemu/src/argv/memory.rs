//! Guest memory: `-m`, the RAM backends (`memory-backend-ram|file|memfd`, preallocated by a
//! `thread-context` pinned to the chosen host nodes), guest NUMA nodes (`-numa node|dist|
//! hmat-lb|hmat-cache`) and memory devices (`pc-dimm`, `nvdimm`, `virtio-pmem-pci`,
//! `virtio-mem-pci`), as libvirt's `qemuBuildMemoryBackendProps` decides them.
//!
//! A backend is plain RAM unless something asks for more: huge pages (a file on the
//! hugetlbfs mount of the page size, under `libvirt/qemu/<short name>`), shared or private
//! access or `<source type='file'/>` (a file under the memory backing directory), memfd,
//! an NVDIMM's own file, or host NUMA nodes from `<numatune>`.

use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, Domain};

use super::command::CommandLine;
use super::machine::{align_kib, parse_nodeset};
use super::props::{Prop, Props};
use super::{alias_of, device, pci_address_props, BuildContext, DriverConfig};
use crate::capabilities::QemuCaps;
use crate::error::{internal, unsupported_config};
use virt_plugin_sdk::types::Error;

/// The page size of ordinary memory; a "huge" page of this size is no huge page.
const SYSTEM_PAGE_KIB: u64 = 4;

/// One memory backend to describe (libvirt's `virDomainMemoryDef` as the builder sees it).
#[derive(Debug, Clone, Default)]
struct Backend {
    /// The QOM id of the backend object.
    id: String,
    size_kib: u64,
    /// The guest NUMA node the memory belongs to.
    node: Option<usize>,
    /// `shared` or `private`, when the device says.
    access: Option<String>,
    discard: Option<bool>,
    /// An explicit page size (memory devices), 0 for "as the domain says".
    pagesize_kib: u64,
    /// Host nodes of a memory device's own `<nodemask>`.
    source_nodes: Option<String>,
    /// An NVDIMM's or virtio-pmem's backing file.
    path: Option<String>,
    pmem: bool,
    align_kib: u64,
    model: Option<MemoryModel>,
    /// The alias the memory backing file is named after.
    file_name: String,
}

/// How a backend's pages are allocated.
struct Pages {
    size_kib: u64,
    /// Huge pages were asked for this memory specifically.
    needed: bool,
    /// Huge pages back this memory (asked for here or for the whole domain).
    used: bool,
    prealloc: bool,
}

fn memory_backing(def: &Domain) -> Option<&virt_xml::domain::general::MemoryBacking> {
    def.memory_backing.as_ref()
}

fn backing_source(def: &Domain) -> Option<MemoryBackingSource> {
    memory_backing(def)
        .and_then(|backing| backing.source.as_ref())
        .and_then(|source| source.source_type)
}

/// `<hugepages>`' pages as (size KiB, nodeset); a bare `<hugepages/>` is one page of the
/// default size.
fn hugepages(def: &Domain) -> Vec<(u64, Option<String>)> {
    let Some(hugepages) = memory_backing(def).and_then(|backing| backing.hugepages.as_ref()) else {
        return Vec::new();
    };
    if hugepages.pages.is_empty() {
        return vec![(0, None)];
    }
    hugepages
        .pages
        .iter()
        .map(|page| (page.size.unwrap_or(0), page.nodeset.clone()))
        .collect()
}

fn default_pagesize(config: &DriverConfig) -> Result<u64, Error> {
    config
        .hugetlbfs
        .iter()
        .find(|mount| mount.default)
        .or_else(|| config.hugetlbfs.first())
        .map(|mount| mount.page_size_kib)
        .ok_or_else(|| {
            internal("hugetlbfs filesystem is not mounted or disabled by administrator config")
        })
}

fn pages(def: &Domain, config: &DriverConfig, backend: &Backend) -> Result<Pages, Error> {
    let mut size = backend.pagesize_kib;
    let mut needed = size != 0;
    let mut used = size != 0;
    if size == 0 {
        let pages = hugepages(def);
        let master = pages.iter().find(|(_, nodeset)| nodeset.is_none());
        let specific = backend.node.and_then(|node| {
            pages.iter().find(|(_, nodeset)| {
                nodeset
                    .as_deref()
                    .is_some_and(|nodeset| parse_nodeset(nodeset).contains(&(node as u32)))
            })
        });
        if specific.is_some() {
            needed = true;
        }
        if let Some((page_size, _)) = specific.or(master) {
            size = *page_size;
            used = true;
        }
    }
    if size == SYSTEM_PAGE_KIB {
        size = 0;
        needed = false;
        used = false;
    } else if used && size == 0 {
        size = default_pagesize(config)?;
    }
    let mut prealloc = memory_backing(def)
        .and_then(|backing| backing.allocation.as_ref())
        .and_then(|allocation| allocation.mode)
        == Some(MemoryAllocation::Immediate);
    if backend.path.is_some() {
        if !backend.pmem && backend.model != Some(MemoryModel::VirtioPmem) {
            prealloc = true;
        }
    } else if used {
        prealloc = true;
    }
    Ok(Pages {
        size_kib: size,
        needed,
        used,
        prealloc,
    })
}

/// `<hugetlbfs mount>/libvirt/qemu/<short name>` for pages of `size_kib`.
fn hugepage_path(
    config: &DriverConfig,
    ctx: &BuildContext,
    size_kib: u64,
) -> Result<String, Error> {
    let mount = config
        .hugetlbfs
        .iter()
        .find(|mount| mount.page_size_kib == size_kib)
        .ok_or_else(|| {
            unsupported_config(format!(
                "Unable to find any usable hugetlbfs mount for {size_kib} KiB"
            ))
        })?;
    Ok(format!("{}/libvirt/qemu/{}", mount.path, ctx.short_name()))
}

fn cell(def: &Domain, node: usize) -> Option<&virt_xml::domain::NumaCell> {
    def.cpu.as_ref()?.numa.as_ref()?.cells.get(node)
}

/// The `<numatune>` mode for a guest node (its `<memnode>`, else the domain's), libvirt's
/// QEMU policy name, or `None` for "restrictive" (left to cgroups).
fn numatune_policy(def: &Domain, node: Option<usize>) -> Option<&'static str> {
    let numatune = def.numatune.as_ref();
    let memnode = node.and_then(|node| {
        numatune?
            .memnodes
            .iter()
            .find(|memnode| memnode.cellid == Some(node as u32))
    });
    let mode = memnode
        .and_then(|memnode| memnode.mode.clone())
        .or_else(|| numatune?.memory.as_ref()?.mode.clone());
    match mode.as_deref() {
        Some("preferred") => Some("preferred"),
        Some("interleave") => Some("interleave"),
        Some("restrictive") => None,
        _ => Some("bind"),
    }
}

/// The host nodes `<numatune>` binds a guest node (or the whole guest) to.
fn numatune_nodeset(def: &Domain, node: Option<usize>) -> Option<String> {
    let numatune = def.numatune.as_ref()?;
    if let Some(nodeset) = node.and_then(|node| {
        numatune
            .memnodes
            .iter()
            .find(|memnode| memnode.cellid == Some(node as u32))
            .and_then(|memnode| memnode.nodeset.clone())
    }) {
        return Some(nodeset);
    }
    numatune.memory.as_ref()?.nodeset.clone()
}

fn node_specified(def: &Domain, node: Option<usize>) -> bool {
    node.is_some_and(|node| {
        def.numatune.as_ref().is_some_and(|numatune| {
            numatune
                .memnodes
                .iter()
                .any(|memnode| memnode.cellid == Some(node as u32) && memnode.nodeset.is_some())
        })
    })
}

/// The backend object of one piece of guest memory, and whether it is needed at all (plain
/// RAM without host placement needs no backend for a NUMA node of an old machine type).
#[allow(clippy::too_many_arguments)]
fn backend_props(
    def: &Domain,
    caps: &QemuCaps,
    ctx: &BuildContext,
    config: &DriverConfig,
    backend: &Backend,
    force: bool,
    system_memory: bool,
    mem_prealloc: bool,
) -> Result<(Props, bool), Error> {
    let cell = backend.node.and_then(|node| cell(def, node));
    let access = backend
        .access
        .clone()
        .or_else(|| cell.and_then(|cell| cell.mem_access.clone()))
        .or_else(|| {
            memory_backing(def)
                .and_then(|backing| backing.access.as_ref())
                .and_then(|access| access.mode.clone())
        });
    let discard = backend
        .discard
        .or_else(|| cell.and_then(|cell| cell.discard.map(|discard| discard.is_yes())))
        .or_else(|| memory_backing(def).and_then(|backing| backing.discard.then_some(true)));
    let pages = pages(def, config, backend)?;
    let mut prealloc = pages.prealloc;
    let source = backing_source(def);
    let mut props = Props::new();
    let mut disable_canonical_path = false;
    let share = |props: Props| match access.as_deref() {
        Some("shared") => props.bool("share", true),
        Some("private") => props.bool("share", false),
        _ => props,
    };
    let backend_type = if backend.model == Some(MemoryModel::SgxEpc) {
        if !mem_prealloc {
            prealloc = true;
        }
        "memory-backend-epc"
    } else if backend.path.is_none() && source == Some(MemoryBackingSource::Memfd) {
        if pages.used {
            props = props
                .bool("hugetlb", true)
                .uint("hugetlbsize", pages.size_kib << 10);
        }
        props = share(props);
        disable_canonical_path = system_memory;
        "memory-backend-memfd"
    } else if pages.used
        || backend.path.is_some()
        || access.is_some()
        || source == Some(MemoryBackingSource::File)
    {
        let path = match &backend.path {
            Some(path) => path.clone(),
            None if pages.used => hugepage_path(config, ctx, pages.size_kib)?,
            None => format!(
                "{}/{}/{}",
                config.memory_backing_dir,
                ctx.short_name(),
                backend.file_name
            ),
        };
        props = props.str("mem-path", path);
        if backend.path.is_none() {
            props = props.opt_bool("discard-data", discard);
        }
        props = share(props);
        disable_canonical_path = system_memory;
        "memory-backend-file"
    } else {
        "memory-backend-ram"
    };
    if disable_canonical_path && caps.version >= 4_000_000 {
        props = props.bool("x-use-canonical-path-for-ramblock-id", false);
    }
    if backend.model == Some(MemoryModel::VirtioMem) {
        if caps.version < 7_000_000 && mem_prealloc {
            props = props.bool("prealloc", false);
        }
        if caps.version >= 6_001_000 {
            props = props.bool("reserve", false);
        }
    } else if !mem_prealloc {
        if prealloc {
            props = props.bool("prealloc", true);
        }
        if let Some(threads) = memory_backing(def)
            .and_then(|backing| backing.allocation.as_ref())
            .and_then(|allocation| allocation.threads)
            .filter(|threads| *threads > 0)
        {
            props = props.uint("prealloc-threads", threads.into());
        }
    }
    props = props.uint("size", backend.size_kib * 1024);
    if backend.align_kib > 0 {
        props = props.uint("align", backend.align_kib * 1024);
    }
    if backend.pmem {
        props = props.bool("pmem", true);
    }
    let nodeset = backend
        .source_nodes
        .clone()
        .or_else(|| numatune_nodeset(def, backend.node));
    if let (Some(nodeset), Some(policy)) = (&nodeset, numatune_policy(def, backend.node)) {
        let nodes = parse_nodeset(nodeset)
            .into_iter()
            .map(|node| Prop::UInt(node.into()))
            .collect();
        props = props.array("host-nodes", nodes).str("policy", policy);
    }
    let needed = pages.needed
        || backend.source_nodes.is_some()
        || node_specified(def, backend.node)
        || backend.path.is_some()
        || access.is_some()
        || matches!(
            source,
            Some(MemoryBackingSource::File | MemoryBackingSource::Memfd)
        )
        || force;
    let mut object = Props::new()
        .str("qom-type", backend_type)
        .str("id", backend.id.clone());
    object = object.extend(props);
    Ok((object, needed))
}

/// Emits a backend object, preceded by the `thread-context` that preallocates it on its host
/// nodes when QEMU has thread contexts (7.2).
fn emit_backend(cmd: &mut CommandLine, caps: &QemuCaps, mut props: Props) {
    let nodes = props.get("host-nodes").cloned();
    let prealloc = matches!(props.get("prealloc"), Some(Prop::Bool(true)));
    if let (Some(Prop::Array(nodes)), true, true) = (nodes, prealloc, caps.version >= 7_002_000) {
        let context = format!("tc-{}", props.get_str("id").unwrap_or(""));
        cmd.opt(
            "-object",
            Props::new()
                .str("qom-type", "thread-context")
                .str("id", context.clone())
                .array("node-affinity", nodes)
                .to_json(),
        );
        props = props.str("prealloc-context", context);
    }
    cmd.opt("-object", props.to_json());
}

pub(crate) fn has_numa(def: &Domain) -> bool {
    def.cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .is_some_and(|numa| !numa.cells.is_empty())
}

/// The id QEMU gives the machine's RAM (`pc.ram` on PCs).
pub(crate) fn default_ram_id<'a>(def: &Domain, caps: &'a QemuCaps) -> Option<&'a str> {
    use super::prepare::{chipset, machine_name, Chipset};
    match caps.machine(machine_name(def)) {
        Some(machine) => machine.default_ram_id.as_deref(),
        None if chipset(def) != Chipset::Other => Some("pc.ram"),
        None => None,
    }
}

/// Guest RAM outside memory devices, aligned (libvirt's virDomainDefGetMemoryInitial).
pub(crate) fn initial_memory_kib(def: &Domain) -> u64 {
    if has_numa(def) {
        return numa_cells_kib(def).iter().sum();
    }
    let hotplugged: u64 = def
        .devices
        .memories
        .iter()
        .filter_map(|memory| memory.target.as_ref().and_then(|target| target.size))
        .map(|size| align_kib(size.0))
        .sum();
    align_kib(def.memory_kib()).saturating_sub(hotplugged)
}

fn numa_cells_kib(def: &Domain) -> Vec<u64> {
    def.cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .map(|numa| {
            numa.cells
                .iter()
                .map(|cell| align_kib(cell_kib(cell)))
                .collect()
        })
        .unwrap_or_default()
}

fn cell_kib(cell: &virt_xml::domain::NumaCell) -> u64 {
    let memory = cell.memory.unwrap_or(0);
    match cell.unit.as_deref() {
        Some("b" | "bytes") => memory / 1024,
        Some("M" | "MiB") => memory * 1024,
        Some("G" | "GiB") => memory * 1024 * 1024,
        _ => memory,
    }
}

/// Whether `-mem-prealloc` went on the command line (old machine types with NUMA nodes and
/// no backends): backends then leave preallocation alone.
fn global_prealloc(def: &Domain, caps: &QemuCaps, config: &DriverConfig) -> Result<bool, Error> {
    let old_style = if has_numa(def) {
        !numa_needs_backends(def, caps, config)?
    } else {
        default_ram_id(def, caps).is_none()
    };
    Ok(old_style && mem_path_prealloc(def, config)?.0)
}

/// `-mem-prealloc`/`-mem-path` of the old style (no backend objects): hugepages or file
/// memory for the whole guest.
fn mem_path_prealloc(def: &Domain, config: &DriverConfig) -> Result<(bool, bool), Error> {
    let pages = hugepages(def);
    let mut prealloc = false;
    let mut path = false;
    if let Some((size, _)) = pages.first().filter(|(size, _)| *size != SYSTEM_PAGE_KIB) {
        if *size == 0 {
            default_pagesize(config)?;
        }
        prealloc = true;
        path = true;
    } else if backing_source(def) == Some(MemoryBackingSource::File) {
        path = true;
    }
    if memory_backing(def)
        .and_then(|backing| backing.allocation.as_ref())
        .and_then(|allocation| allocation.mode)
        == Some(MemoryAllocation::Immediate)
    {
        prealloc = true;
    }
    Ok((prealloc, path))
}

/// `-m`, the default RAM backend (no NUMA nodes) and `-overcommit`.
pub fn build_memory(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    let initial_kib = initial_memory_kib(def);
    match &def.max_memory {
        Some(max) if max.size.0 > 0 => {
            cmd.opt(
                "-m",
                format!(
                    "size={}k,slots={},maxmem={}k",
                    initial_kib,
                    max.slots.unwrap_or(0),
                    align_kib(max.size.0)
                ),
            );
        }
        _ => cmd.opt("-m", (initial_kib / 1024).to_string()),
    }
    if !has_numa(def) {
        if let Some(ram_id) = default_ram_id(def, caps) {
            let backend = Backend {
                id: ram_id.to_string(),
                size_kib: initial_kib,
                file_name: ram_id.to_string(),
                ..Backend::default()
            };
            let (props, _) = backend_props(def, caps, ctx, config, &backend, false, true, false)?;
            emit_backend(cmd, caps, props);
        } else {
            emit_mem_path(cmd, def, ctx, config)?;
        }
    }
    let locked = memory_backing(def).is_some_and(|backing| backing.locked);
    cmd.opt(
        "-overcommit",
        format!("mem-lock={}", if locked { "on" } else { "off" }),
    );
    Ok(())
}

fn emit_mem_path(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    let (prealloc, path) = mem_path_prealloc(def, config)?;
    if prealloc {
        cmd.arg("-mem-prealloc");
    }
    if path {
        let pages = hugepages(def);
        let mem_path = match pages.first().filter(|(size, _)| *size != SYSTEM_PAGE_KIB) {
            Some((size, _)) => {
                let size = if *size == 0 {
                    default_pagesize(config)?
                } else {
                    *size
                };
                hugepage_path(config, ctx, size)?
            }
            None => format!("{}/{}/ram", config.memory_backing_dir, ctx.short_name()),
        };
        cmd.opt("-mem-path", mem_path);
    }
    Ok(())
}

fn cell_backend(index: usize, size_kib: u64) -> Backend {
    let id = format!("ram-node{index}");
    Backend {
        id: id.clone(),
        size_kib,
        node: Some(index),
        file_name: id,
        ..Backend::default()
    }
}

fn numa_needs_backends(
    def: &Domain,
    caps: &QemuCaps,
    config: &DriverConfig,
) -> Result<bool, Error> {
    use super::prepare::machine_name;
    let numa_mem = caps
        .machine(machine_name(def))
        .is_some_and(|machine| machine.numa_mem_supported);
    if !numa_mem || has_hmat(def) {
        return Ok(true);
    }
    let ctx = BuildContext::default();
    for (index, size) in numa_cells_kib(def).into_iter().enumerate() {
        let backend = cell_backend(index, size);
        if backend_props(def, caps, &ctx, config, &backend, false, false, false)?.1 {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn has_hmat(def: &Domain) -> bool {
    def.cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .is_some_and(|numa| {
            numa.interconnects
                .as_ref()
                .is_some_and(|interconnects| !interconnects.entries.is_empty())
                || numa.cells.iter().any(|cell| !cell.caches.is_empty())
        })
}

/// The initiator of a guest node for HMAT: itself when it has CPUs, else the node with the
/// best latency (or bandwidth) to it.
fn initiator(numa: &virt_xml::domain::cpu::Numa, node: usize) -> Option<usize> {
    use virt_xml::domain::cpu::NumaInterconnect;
    if numa.cells.get(node)?.cpus.is_some() {
        return Some(node);
    }
    let mut best_latency: Option<(u64, u32)> = None;
    let mut best_bandwidth: Option<(u64, u32)> = None;
    for entry in numa.interconnects.iter().flat_map(|i| i.entries.iter()) {
        let (attrs, latency) = match entry {
            NumaInterconnect::Latency(attrs) => (attrs, true),
            NumaInterconnect::Bandwidth(attrs) => (attrs, false),
        };
        if attrs.target != Some(node as u32) {
            continue;
        }
        let (value, from) = (attrs.value.unwrap_or(0), attrs.initiator.unwrap_or(0));
        if latency {
            if best_latency.is_none_or(|(best, _)| value < best) {
                best_latency = Some((value, from));
            }
        } else if value > best_bandwidth.map_or(0, |(best, _)| best) {
            best_bandwidth = Some((value, from));
        }
    }
    best_latency
        .or(best_bandwidth)
        .map(|(_, from)| from as usize)
}

/// Scales a value with a unit to KiB (HMAT bandwidths and cache sizes).
fn to_kib(value: u64, unit: Option<&str>) -> u64 {
    match unit.unwrap_or("KiB") {
        "b" | "B" | "bytes" => value / 1024,
        "M" | "MiB" => value * 1024,
        "G" | "GiB" => value * 1024 * 1024,
        "MB" => value * 1_000_000 / 1024,
        "KB" => value * 1000 / 1024,
        _ => value,
    }
}

/// One backend and `-numa node` per guest NUMA cell, the distances, then HMAT.
pub fn build_numa(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    let Some(numa) = def.cpu.as_ref().and_then(|cpu| cpu.numa.as_ref()) else {
        return Ok(());
    };
    if numa.cells.is_empty() {
        return Ok(());
    }
    let hmat = has_hmat(def);
    let need_backends = numa_needs_backends(def, caps, config)?;
    if !need_backends {
        emit_mem_path(cmd, def, ctx, config)?;
    }
    let master = numa
        .cells
        .iter()
        .position(|cell| cell.cpus.is_some())
        .ok_or_else(|| unsupported_config("At least one NUMA node has to have CPUs"))?;
    let sizes = numa_cells_kib(def);
    for (index, cell) in numa.cells.iter().enumerate() {
        if need_backends {
            let backend = cell_backend(index, sizes[index]);
            let (props, _) = backend_props(def, caps, ctx, config, &backend, false, false, false)?;
            emit_backend(cmd, caps, props);
        }
        let mut node = format!("node,nodeid={index}");
        if let Some(cpus) = &cell.cpus {
            for range in cpus.split(',').filter(|range| !range.is_empty()) {
                node.push_str(&format!(",cpus={range}"));
            }
        }
        if hmat {
            let initiator = initiator(numa, index).unwrap_or(master);
            node.push_str(&format!(",initiator={initiator}"));
        }
        if need_backends {
            node.push_str(&format!(",memdev=ram-node{index}"));
        } else {
            node.push_str(&format!(",mem={}", sizes[index] / 1024));
        }
        cmd.opt("-numa", node);
    }
    let declared = |from: usize, to: usize| -> Option<u32> {
        numa.cells
            .get(from)?
            .distances
            .as_ref()?
            .siblings
            .iter()
            .find(|sibling| sibling.id == Some(to as u32))?
            .value
    };
    // libvirt fills the reverse direction of a distance given one way.
    let distance = |from: usize, to: usize| -> u32 {
        declared(from, to)
            .or_else(|| declared(to, from))
            .unwrap_or(if from == to { 10 } else { 20 })
    };
    let any_distance = numa.cells.iter().any(|cell| {
        cell.distances
            .as_ref()
            .is_some_and(|distances| !distances.siblings.is_empty())
    });
    if any_distance {
        let count = numa.cells.len();
        for from in 0..count {
            for to in 0..count {
                cmd.opt(
                    "-numa",
                    format!("dist,src={from},dst={to},val={}", distance(from, to)),
                );
            }
        }
    }
    if hmat {
        build_hmat(cmd, numa);
    }
    Ok(())
}

fn build_hmat(cmd: &mut CommandLine, numa: &virt_xml::domain::cpu::Numa) {
    use virt_xml::domain::cpu::NumaInterconnect;
    const HIERARCHY: [&str; 4] = ["memory", "first-level", "second-level", "third-level"];
    for entry in numa.interconnects.iter().flat_map(|i| i.entries.iter()) {
        let (attrs, latency) = match entry {
            NumaInterconnect::Latency(attrs) => (attrs, true),
            NumaInterconnect::Bandwidth(attrs) => (attrs, false),
        };
        let hierarchy = HIERARCHY
            .get(attrs.cache.unwrap_or(0) as usize)
            .copied()
            .unwrap_or("memory");
        let mut value = format!(
            "hmat-lb,initiator={},target={},hierarchy={hierarchy},data-type={}-",
            attrs.initiator.unwrap_or(0),
            attrs.target.unwrap_or(0),
            attrs.access_type.as_deref().unwrap_or("access"),
        );
        if latency {
            value.push_str(&format!("latency,latency={}", attrs.value.unwrap_or(0)));
        } else {
            value.push_str(&format!(
                "bandwidth,bandwidth={}K",
                to_kib(attrs.value.unwrap_or(0), attrs.unit.as_deref())
            ));
        }
        cmd.opt("-numa", value);
    }
    for (index, cell) in numa.cells.iter().enumerate() {
        for cache in &cell.caches {
            let size = cache.size.as_ref().map_or(0, |size| {
                to_kib(size.value.unwrap_or(0), size.unit.as_deref())
            });
            let mut value = format!(
                "hmat-cache,node-id={index},size={size}K,level={}",
                cache.level.unwrap_or(0)
            );
            match cache.associativity.as_deref() {
                Some("none") => value.push_str(",associativity=none"),
                Some("direct") => value.push_str(",associativity=direct"),
                Some("full") => value.push_str(",associativity=complex"),
                _ => {}
            }
            match cache.policy.as_deref() {
                Some("none") => value.push_str(",policy=none"),
                Some("writeback") => value.push_str(",policy=write-back"),
                Some("writethrough") => value.push_str(",policy=write-through"),
                _ => {}
            }
            if let Some(line) = cache.line.as_ref() {
                let bytes = match line.unit.as_deref() {
                    Some("KiB" | "K") => line.value.unwrap_or(0) * 1024,
                    _ => line.value.unwrap_or(0),
                };
                if bytes > 0 {
                    value.push_str(&format!(",line={bytes}"));
                }
            }
            cmd.opt("-numa", value);
        }
    }
}

/// Memory device sizes are aligned to 2 MiB on x86.
fn module_kib(kib: u64) -> u64 {
    kib.div_ceil(2048) * 2048
}

/// Each memory device: its backend object, then its `-device`.
pub fn build_memory_devices(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    let mem_prealloc = global_prealloc(def, caps, config)?;
    let mut used_slots = used_memory_slots(def);
    for memory in &def.devices.memories {
        let alias = alias_of(&memory.info);
        let target = memory.target.clone().unwrap_or_default();
        let source = memory.source.clone().unwrap_or_default();
        let model = memory.model.unwrap_or(MemoryModel::Dimm);
        let backend = Backend {
            id: format!("mem{alias}"),
            size_kib: module_kib(target.size.map_or(0, |size| size.0)),
            node: target.node.and_then(|node| usize::try_from(node).ok()),
            access: memory.access.clone(),
            discard: memory.discard.map(|discard| discard.is_yes()),
            pagesize_kib: source.pagesize.map_or(0, |size| size.0),
            source_nodes: source.nodemask.clone(),
            path: source.path.clone(),
            pmem: source.pmem,
            align_kib: source.alignsize.map_or(0, |size| size.0),
            model: Some(model),
            file_name: alias.clone(),
        };
        let (props, _) =
            backend_props(def, caps, ctx, config, &backend, true, false, mem_prealloc)?;
        emit_backend(cmd, caps, props);
        let driver = match model {
            MemoryModel::Dimm => "pc-dimm",
            MemoryModel::Nvdimm => "nvdimm",
            MemoryModel::VirtioPmem => "virtio-pmem-pci",
            MemoryModel::VirtioMem => "virtio-mem-pci",
            MemoryModel::SgxEpc => continue,
        };
        let prealloc = model == MemoryModel::VirtioMem
            && caps.version >= 7_000_000
            && pages(def, config, &backend)?.prealloc;
        let mut props = Props::new().str("driver", driver);
        if let Some(node) = target.node.filter(|node| *node >= 0) {
            props = props.uint("node", node as u64);
        }
        let kib = |size: Option<virt_xml::domain::memory::ScaledKib>| {
            size.map(|size| size.0 * 1024).filter(|bytes| *bytes > 0)
        };
        props = props
            .opt_uint(
                "label-size",
                kib(target.label.as_ref().and_then(|label| label.size)),
            )
            .opt_uint("block-size", kib(target.block))
            .opt_uint("requested-size", kib(target.requested))
            .opt_str("uuid", memory.uuid.clone());
        if target.readonly {
            props = props.bool("unarmed", true);
        }
        props = props.str("memdev", format!("mem{alias}"));
        if prealloc {
            props = props.bool("prealloc", true);
        }
        props = props.str("id", alias);
        match (&memory.info.address, model) {
            (Some(Address::Dimm { slot, base }), _) => {
                props = props.uint("slot", (*slot).into());
                if let Some(base) = base {
                    props = props.uint("addr", *base);
                }
            }
            (None, MemoryModel::Dimm | MemoryModel::Nvdimm) => {
                let slot = (0..).find(|slot| !used_slots.contains(slot)).unwrap_or(0);
                used_slots.push(slot);
                props = props.uint("slot", slot.into());
            }
            _ => props = pci_address_props(props, &memory.info, def),
        }
        device(cmd, props);
    }
    Ok(())
}

/// The DIMM slots memory devices already have.
pub(crate) fn used_memory_slots(def: &Domain) -> Vec<u32> {
    def.devices
        .memories
        .iter()
        .filter_map(|memory| match memory.info.address {
            Some(Address::Dimm { slot, .. }) => Some(slot),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmat_units_and_module_alignment() {
        assert_eq!(to_kib(204_800, Some("KiB")), 204_800);
        assert_eq!(to_kib(2, Some("MiB")), 2048);
        assert_eq!(module_kib(524_287), 524_288);
        assert_eq!(module_kib(523_264), 524_288);
    }
}
