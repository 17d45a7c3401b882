//! The capabilities document of the test driver (`testBuildCapabilities`), built with
//! `virt-xml`'s capabilities model: an i686 host with the node's NUMA cells, and `hvm` and
//! `xen` guests of type `test`.

use virt_core::Result;
use virt_xml::capabilities::{
    Capabilities, CellCpu, CellCpus, CellPages, ElementNames, Guest, GuestArch, GuestDomain,
    GuestFeature, GuestFeatures, Host, HostCell, HostCells, HostCpu, HostTopology, IommuSupport,
    PageSize, SecModel,
};
use virt_xml::domain::ScaledKib;
use virt_xml::xml::YesNo;

use crate::node::NodeRecord;

const ARCH: &str = "i686";
const EMULATOR: &str = "/usr/bin/test-hv";
/// The page sizes the test host offers, in KiB.
const PAGE_SIZES_KIB: [u64; 4] = [4, 8, 2048, 1024 * 1024];

fn names(names: &[&str]) -> ElementNames {
    ElementNames(names.iter().map(|name| name.to_string()).collect())
}

/// `virCapabilitiesFormatXML` of the test driver's capabilities for `node`.
pub(crate) fn format(node: &NodeRecord) -> Result<String> {
    let mut first_cpu = 0u32;
    let cells = node
        .cells
        .iter()
        .enumerate()
        .map(|(idx, cell)| {
            // Cell 1 uses the second page size as its base pages, the others the first.
            let base = if idx == 1 {
                PAGE_SIZES_KIB[1]
            } else {
                PAGE_SIZES_KIB[0]
            };
            let mut pages = vec![CellPages {
                unit: Some("KiB".to_string()),
                size: Some(base),
                count: Some(cell.memory_kib / base),
            }];
            pages.extend(PAGE_SIZES_KIB[2..].iter().map(|size| CellPages {
                unit: Some("KiB".to_string()),
                size: Some(*size),
                count: Some(0),
            }));
            let cpus = (0..cell.n_cpus)
                .map(|core| {
                    let id = first_cpu + core;
                    CellCpu {
                        id: Some(id),
                        socket_id: Some(idx as i32),
                        die_id: Some(0),
                        core_id: Some(core as i32),
                        siblings: Some(id.to_string()),
                    }
                })
                .collect();
            first_cpu += cell.n_cpus;
            HostCell {
                id: Some(idx as u32),
                memory: Some(ScaledKib(cell.memory_kib)),
                pages,
                cpus: Some(CellCpus {
                    num: Some(cell.n_cpus),
                    cpus,
                }),
                ..HostCell::default()
            }
        })
        .collect::<Vec<_>>();
    let host = Host {
        cpu: Some(HostCpu {
            arch: Some(ARCH.to_string()),
            features: Some(names(&["pae", "nonpae"])),
            pages: PAGE_SIZES_KIB
                .iter()
                .map(|size| PageSize {
                    unit: Some("KiB".to_string()),
                    size: Some(*size),
                })
                .collect(),
            ..HostCpu::default()
        }),
        power_management: Some(ElementNames(Vec::new())),
        iommu: Some(IommuSupport {
            support: Some(YesNo::No),
        }),
        topology: Some(HostTopology {
            cells: Some(HostCells {
                num: Some(cells.len() as u32),
                cells,
            }),
            ..HostTopology::default()
        }),
        secmodels: vec![SecModel {
            model: Some("testSecurity".to_string()),
            doi: Some(String::new()),
            ..SecModel::default()
        }],
        ..Host::default()
    };
    let guest = |os_type: &str| Guest {
        os_type: Some(os_type.to_string()),
        arch: Some(GuestArch {
            name: Some(ARCH.to_string()),
            wordsize: Some(32),
            emulator: Some(EMULATOR.to_string()),
            domains: vec![GuestDomain {
                virt_type: Some("test".to_string()),
                ..GuestDomain::default()
            }],
            ..GuestArch::default()
        }),
        features: Some(GuestFeatures(
            ["pae", "nonpae"]
                .iter()
                .map(|name| GuestFeature {
                    name: name.to_string(),
                    default: None,
                    toggle: None,
                })
                .collect(),
        )),
    };
    let capabilities = Capabilities {
        host: Some(host),
        guests: vec![guest("hvm"), guest("xen")],
        pool_types: None,
    };
    Ok(capabilities.to_xml())
}
