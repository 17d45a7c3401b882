//! The host's devices as libvirt's udev backend names and describes them, read from sysfs:
//! the `computer` (DMI), PCI devices (walked down from each `pciDDDD:BB` root, so every
//! device's real path and parent come from the walk rather than from symlinks), network
//! interfaces and disks (found under their PCI device, or virtual).
//!
//! Pure: everything is read through [`Tree`], which the plugin serves from the host's files
//! and the tests from a map, so the walk is tested natively.

use std::collections::BTreeMap;

use virt_xml::nodedev::{
    Capability, DeviceDriver, Devnode, IdName, IommuGroup, Link, NestedCapability, NodeDevice,
    NumaNode, Parent, PciAddressElement, SystemFirmware, SystemHardware,
};
use virt_xml::xml::Hex;

/// Read access to a sysfs tree.
pub trait Tree {
    /// A file's text, without its trailing newline; `None` when it cannot be read.
    fn read(&self, path: &str) -> Option<String>;
    /// A directory's entries (empty when it is not one).
    fn list(&self, dir: &str) -> Vec<String>;
}

/// Names of PCI vendors and devices (`pci.ids`).
pub trait PciNames {
    fn vendor(&self, vendor: u16) -> Option<String>;
    fn product(&self, vendor: u16, device: u16) -> Option<String>;
}

/// No names: libvirt writes the ids alone then.
pub struct NoNames;

impl PciNames for NoNames {
    fn vendor(&self, _: u16) -> Option<String> {
        None
    }
    fn product(&self, _: u16, _: u16) -> Option<String> {
        None
    }
}

/// The root device.
pub const COMPUTER: &str = "computer";

/// A PCI address `DDDD:BB:SS.F`.
fn parse_pci_address(text: &str) -> Option<(u32, u32, u32, u32)> {
    let (domain, rest) = text.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (slot, function) = rest.split_once('.')?;
    if domain.len() != 4 || bus.len() != 2 || slot.len() != 2 || function.len() != 1 {
        return None;
    }
    Some((
        u32::from_str_radix(domain, 16).ok()?,
        u32::from_str_radix(bus, 16).ok()?,
        u32::from_str_radix(slot, 16).ok()?,
        u32::from_str_radix(function, 16).ok()?,
    ))
}

fn hex_u32(text: &str) -> Option<u32> {
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// A `KEY=value` of a `uevent` file.
fn uevent(tree: &dyn Tree, dir: &str, key: &str) -> Option<String> {
    tree.read(&format!("{dir}/uevent"))?
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Every device, the computer first, then in sysfs order; each names its parent.
pub fn enumerate(tree: &dyn Tree, names: &dyn PciNames) -> Vec<NodeDevice> {
    let mut devices = vec![computer(tree)];
    // Directories of PCI devices, by path, with their node device name.
    let mut pci_dirs: Vec<(String, String)> = Vec::new();
    let iommu = iommu_groups(tree);
    let mut roots: Vec<String> = tree
        .list("/sys/devices")
        .into_iter()
        .filter(|entry| entry.starts_with("pci"))
        .collect();
    roots.sort();
    for root in roots {
        walk_pci(
            tree,
            names,
            &iommu,
            &format!("/sys/devices/{root}"),
            COMPUTER,
            &mut devices,
            &mut pci_dirs,
        );
    }
    let homes = ClassHomes::read(tree, &pci_dirs);
    devices.extend(net_devices(tree, &homes));
    devices.extend(block_devices(tree, &homes));
    devices
}

fn computer(tree: &dyn Tree) -> NodeDevice {
    let dmi = |file: &str| {
        tree.read(&format!("/sys/class/dmi/id/{file}"))
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty())
    };
    let hardware = SystemHardware {
        vendor: dmi("sys_vendor"),
        version: dmi("product_version"),
        serial: dmi("product_serial"),
        uuid: dmi("product_uuid"),
    };
    let firmware = SystemFirmware {
        vendor: dmi("bios_vendor"),
        version: dmi("bios_version"),
        release_date: dmi("bios_date"),
    };
    NodeDevice {
        name: Some(COMPUTER.to_string()),
        capabilities: vec![Capability {
            capability_type: Some("system".to_string()),
            product: dmi("product_name").map(|name| IdName {
                id: None,
                name: Some(name),
            }),
            hardware: (hardware != SystemHardware::default()).then_some(hardware),
            firmware: (firmware != SystemFirmware::default()).then_some(firmware),
            ..Capability::default()
        }],
        ..NodeDevice::default()
    }
}

/// IOMMU group number per PCI address (`/sys/kernel/iommu_groups/N/devices/ADDR`).
fn iommu_groups(tree: &dyn Tree) -> BTreeMap<String, u32> {
    let mut groups = BTreeMap::new();
    for group in tree.list("/sys/kernel/iommu_groups") {
        let Ok(number) = group.parse::<u32>() else {
            continue;
        };
        for address in tree.list(&format!("/sys/kernel/iommu_groups/{group}/devices")) {
            groups.insert(address, number);
        }
    }
    groups
}

fn pci_name((domain, bus, slot, function): (u32, u32, u32, u32)) -> String {
    format!("pci_{domain:04x}_{bus:02x}_{slot:02x}_{function:x}")
}

fn pci_address_element((domain, bus, slot, function): (u32, u32, u32, u32)) -> PciAddressElement {
    virt_xml::storage::ParentPciAddress(virt_xml::domain::PciAddress {
        domain,
        bus,
        slot,
        function,
        ..virt_xml::domain::PciAddress::default()
    })
}

fn walk_pci(
    tree: &dyn Tree,
    names: &dyn PciNames,
    iommu: &BTreeMap<String, u32>,
    dir: &str,
    parent: &str,
    devices: &mut Vec<NodeDevice>,
    pci_dirs: &mut Vec<(String, String)>,
) {
    let mut entries = tree.list(dir);
    entries.sort();
    for entry in entries {
        let Some(address) = parse_pci_address(&entry) else {
            continue;
        };
        let path = format!("{dir}/{entry}");
        let name = pci_name(address);
        devices.push(pci_device(
            tree, names, iommu, &path, &entry, address, parent,
        ));
        pci_dirs.push((path.clone(), name.clone()));
        walk_pci(tree, names, iommu, &path, &name, devices, pci_dirs);
    }
}

fn pci_device(
    tree: &dyn Tree,
    names: &dyn PciNames,
    iommu: &BTreeMap<String, u32>,
    path: &str,
    address_text: &str,
    address: (u32, u32, u32, u32),
    parent: &str,
) -> NodeDevice {
    let read_hex = |file: &str| {
        tree.read(&format!("{path}/{file}"))
            .and_then(|t| hex_u32(&t))
    };
    let vendor = read_hex("vendor").unwrap_or(0) as u16;
    let device = read_hex("device").unwrap_or(0) as u16;
    let class = read_hex("class").unwrap_or(0);
    let numa = tree
        .read(&format!("{path}/numa_node"))
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|node| *node >= 0);
    // A bridge's header type is 1 (the low 7 bits of the config space byte libvirt reads);
    // its class says so too.
    let bridge = class >> 8 == 0x0604;
    NodeDevice {
        name: Some(pci_name(address)),
        path: Some(path.to_string()),
        parent: Some(Parent {
            name: Some(parent.to_string()),
            ..Parent::default()
        }),
        driver: uevent(tree, path, "DRIVER").map(|name| DeviceDriver { name: Some(name) }),
        capabilities: vec![Capability {
            capability_type: Some("pci".to_string()),
            class: Some(format!("0x{class:06x}")),
            domain: Some(address.0),
            bus: Some(address.1.to_string()),
            slot: Some(address.2),
            function: Some(address.3),
            product: Some(IdName {
                id: Some(Hex(u64::from(device))),
                name: names.product(vendor, device),
            }),
            vendor: Some(IdName {
                id: Some(Hex(u64::from(vendor))),
                name: names.vendor(vendor),
            }),
            capabilities: bridge
                .then(|| NestedCapability {
                    capability_type: Some("pci-bridge".to_string()),
                    ..NestedCapability::default()
                })
                .into_iter()
                .collect(),
            iommu_group: iommu.get(address_text).map(|number| IommuGroup {
                number: Some(*number),
                addresses: vec![pci_address_element(address)],
            }),
            numa: numa.map(|node| NumaNode { node: Some(node) }),
            ..Capability::default()
        }],
        ..NodeDevice::default()
    }
}

/// The class devices (`net/eth0`, `block/vda`) that sit under a PCI device, directly or
/// through its virtio device (`.../0000:00:03.0/virtio2/net/eth0`): their paths and parents,
/// by class and name. Read once per walk; a device not in it is virtual.
struct ClassHomes(BTreeMap<(String, String), (String, String)>);

/// The classes whose devices rvirt reports.
const CLASSES: [&str; 2] = ["net", "block"];

impl ClassHomes {
    fn read(tree: &dyn Tree, pci_dirs: &[(String, String)]) -> ClassHomes {
        let mut homes = BTreeMap::new();
        for (dir, pci) in pci_dirs {
            let virtio = tree
                .list(dir)
                .into_iter()
                .filter(|child| child.starts_with("virtio"))
                .map(|child| format!("{dir}/{child}"));
            for holder in std::iter::once(dir.clone()).chain(virtio) {
                for class in CLASSES {
                    for name in tree.list(&format!("{holder}/{class}")) {
                        let path = format!("{holder}/{class}/{name}");
                        homes
                            .entry((class.to_string(), name))
                            .or_insert((path, pci.clone()));
                    }
                }
            }
        }
        ClassHomes(homes)
    }

    /// The path and parent of `class` device `name`.
    fn of(&self, class: &str, name: &str) -> (String, String) {
        self.0
            .get(&(class.to_string(), name.to_string()))
            .cloned()
            .unwrap_or_else(|| {
                (
                    format!("/sys/devices/virtual/{class}/{name}"),
                    COMPUTER.to_string(),
                )
            })
    }
}

/// libvirt's `ARPHRD` types it names a sub-capability for.
fn net_link_type(tree: &dyn Tree, interface: &str) -> Option<&'static str> {
    let base = format!("/sys/class/net/{interface}");
    if !tree.list(&format!("{base}/wireless")).is_empty() {
        return Some("80211");
    }
    match tree.read(&format!("{base}/type"))?.trim() {
        "1" => Some("80203"),
        _ => None,
    }
}

fn net_devices(tree: &dyn Tree, homes: &ClassHomes) -> Vec<NodeDevice> {
    let mut interfaces = tree.list("/sys/class/net");
    interfaces.sort();
    interfaces
        .into_iter()
        .map(|interface| {
            let base = format!("/sys/class/net/{interface}");
            let mac = tree
                .read(&format!("{base}/address"))
                .map(|text| text.trim().to_string())
                .unwrap_or_default();
            let (path, parent) = homes.of("net", &interface);
            let state = tree
                .read(&format!("{base}/operstate"))
                .map(|text| text.trim().to_string());
            let speed = tree
                .read(&format!("{base}/speed"))
                .and_then(|text| text.trim().parse::<i64>().ok())
                .filter(|speed| *speed > 0);
            NodeDevice {
                name: Some(format!("net_{interface}_{}", mac.replace(':', "_"))),
                path: Some(path),
                parent: Some(Parent {
                    name: Some(parent),
                    ..Parent::default()
                }),
                capabilities: vec![Capability {
                    capability_type: Some("net".to_string()),
                    interface: Some(interface.clone()),
                    address: Some(mac),
                    link: state.map(|state| Link {
                        speed: speed.map(|speed| speed.to_string()),
                        state: Some(state),
                        ..Link::default()
                    }),
                    capabilities: net_link_type(tree, &interface)
                        .map(|kind| NestedCapability {
                            capability_type: Some(kind.to_string()),
                            ..NestedCapability::default()
                        })
                        .into_iter()
                        .collect(),
                    ..Capability::default()
                }],
                ..NodeDevice::default()
            }
        })
        .collect()
}

/// Disks on a bus (virtual ones, loop and zram devices, are not devices of the host).
fn block_devices(tree: &dyn Tree, homes: &ClassHomes) -> Vec<NodeDevice> {
    let mut disks = tree.list("/sys/block");
    disks.sort();
    disks
        .into_iter()
        .filter_map(|disk| {
            let (path, parent) = homes.of("block", &disk);
            if parent == COMPUTER {
                return None;
            }
            let base = format!("/sys/block/{disk}");
            let sectors = tree
                .read(&format!("{base}/size"))
                .and_then(|text| text.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let block_size = tree
                .read(&format!("{base}/queue/logical_block_size"))
                .and_then(|text| text.trim().parse::<u64>().ok())
                .filter(|size| *size > 0)
                .unwrap_or(512);
            let serial = tree
                .read(&format!("{base}/serial"))
                .or_else(|| tree.read(&format!("{base}/device/serial")))
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty());
            let model = tree
                .read(&format!("{base}/device/model"))
                .map(|text| text.trim().to_string())
                .filter(|text| !text.is_empty());
            let bus = if path.contains("/virtio") {
                "virtio"
            } else {
                "pci"
            };
            let name = match &serial {
                Some(serial) => format!("block_{disk}_{}", serial.replace([' ', '-'], "_")),
                None => format!("block_{disk}"),
            };
            let bytes = sectors * 512;
            Some(NodeDevice {
                name: Some(name),
                path: Some(path),
                devnodes: vec![Devnode {
                    devnode_type: Some("dev".to_string()),
                    path: Some(format!("/dev/{disk}")),
                }],
                parent: Some(Parent {
                    name: Some(parent),
                    ..Parent::default()
                }),
                capabilities: vec![Capability {
                    capability_type: Some("storage".to_string()),
                    block: Some(format!("/dev/{disk}")),
                    bus: Some(bus.to_string()),
                    drive_type: Some("disk".to_string()),
                    model,
                    serial,
                    size: Some(bytes),
                    logical_block_size: Some(block_size),
                    num_blocks: Some(bytes / block_size),
                    ..Capability::default()
                }],
                ..NodeDevice::default()
            })
        })
        .collect()
}

/// `pci.ids`: vendor lines start in column 0 (`1af4  Red Hat, Inc.`), their devices are
/// indented by one tab (`\t1041  Virtio 1.0 network device`).
pub struct PciIds(pub String);

impl PciIds {
    fn vendor_block(&self, vendor: u16) -> Option<&str> {
        let key = format!("{vendor:04x}  ");
        let start = self.0.lines().position(|line| line.starts_with(&key))?;
        let offset: usize = self.0.lines().take(start).map(|l| l.len() + 1).sum();
        Some(&self.0[offset..])
    }
}

impl PciNames for PciIds {
    fn vendor(&self, vendor: u16) -> Option<String> {
        let line = self.vendor_block(vendor)?.lines().next()?;
        Some(line.get(6..)?.trim().to_string())
    }

    fn product(&self, vendor: u16, device: u16) -> Option<String> {
        let key = format!("\t{device:04x}  ");
        self.vendor_block(vendor)?
            .lines()
            .skip(1)
            .take_while(|line| line.starts_with('\t') || line.starts_with('#') || line.is_empty())
            .find_map(|line| line.strip_prefix(&key))
            .map(|name| name.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A sysfs tree as files and the directories that hold them.
    #[derive(Default)]
    struct FakeTree {
        files: BTreeMap<String, String>,
    }

    impl FakeTree {
        fn file(mut self, path: &str, text: &str) -> Self {
            self.files.insert(path.to_string(), text.to_string());
            self
        }
    }

    impl Tree for FakeTree {
        fn read(&self, path: &str) -> Option<String> {
            self.files.get(path).cloned()
        }
        fn list(&self, dir: &str) -> Vec<String> {
            let prefix = format!("{dir}/");
            let entries: BTreeSet<String> = self
                .files
                .keys()
                .filter_map(|path| path.strip_prefix(&prefix))
                .filter_map(|rest| rest.split('/').next())
                .map(str::to_string)
                .collect();
            entries.into_iter().collect()
        }
    }

    const PCI: &str = "/sys/devices/pci0000:00";

    fn host() -> FakeTree {
        FakeTree::default()
            .file("/sys/class/dmi/id/sys_vendor", "QEMU\n")
            .file(
                "/sys/class/dmi/id/product_name",
                "Standard PC (i440FX + PIIX, 1996)\n",
            )
            .file(&format!("{PCI}/0000:00:00.0/vendor"), "0x8086\n")
            .file(&format!("{PCI}/0000:00:00.0/device"), "0x1237\n")
            .file(&format!("{PCI}/0000:00:00.0/class"), "0x060000\n")
            .file(&format!("{PCI}/0000:00:00.0/numa_node"), "-1\n")
            .file(&format!("{PCI}/0000:00:03.0/vendor"), "0x1af4\n")
            .file(&format!("{PCI}/0000:00:03.0/device"), "0x1041\n")
            .file(&format!("{PCI}/0000:00:03.0/class"), "0x020000\n")
            .file(&format!("{PCI}/0000:00:03.0/numa_node"), "0\n")
            .file(
                &format!("{PCI}/0000:00:03.0/uevent"),
                "DRIVER=virtio-pci\nPCI_CLASS=20000\n",
            )
            .file(&format!("{PCI}/0000:00:03.0/virtio2/net/eth0/uevent"), "")
            .file(&format!("{PCI}/0000:00:04.0/vendor"), "0x1af4\n")
            .file(&format!("{PCI}/0000:00:04.0/device"), "0x1042\n")
            .file(&format!("{PCI}/0000:00:04.0/class"), "0x010000\n")
            .file(&format!("{PCI}/0000:00:04.0/virtio1/block/vda/uevent"), "")
            .file("/sys/kernel/iommu_groups/3/devices/0000:00:03.0", "")
            .file("/sys/class/net/eth0/address", "52:54:00:12:34:56\n")
            .file("/sys/class/net/eth0/operstate", "up\n")
            .file("/sys/class/net/eth0/speed", "-1\n")
            .file("/sys/class/net/eth0/type", "1\n")
            .file("/sys/class/net/lo/address", "00:00:00:00:00:00\n")
            .file("/sys/class/net/lo/operstate", "unknown\n")
            .file("/sys/class/net/lo/type", "772\n")
            .file("/sys/block/vda/size", "2048\n")
            .file("/sys/block/vda/serial", "disk-1\n")
            .file("/sys/block/vda/queue/logical_block_size", "512\n")
            .file("/sys/block/loop0/size", "0\n")
    }

    const IDS: &str = "# comment\n1af4  Red Hat, Inc.\n\t1041  Virtio 1.0 network device\n\
        \t1042  Virtio 1.0 block device\n8086  Intel Corporation\n\t1237  440FX - 82441FX PMC [Natoma]\n";

    fn device<'a>(devices: &'a [NodeDevice], name: &str) -> &'a NodeDevice {
        devices
            .iter()
            .find(|d| d.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} in {devices:?}"))
    }

    #[test]
    fn names_parents_and_xml_as_libvirts_udev_backend() {
        let devices = enumerate(&host(), &PciIds(IDS.to_string()));
        let names: Vec<&str> = devices.iter().filter_map(|d| d.name.as_deref()).collect();
        assert_eq!(
            names,
            [
                "computer",
                "pci_0000_00_00_0",
                "pci_0000_00_03_0",
                "pci_0000_00_04_0",
                "net_eth0_52_54_00_12_34_56",
                "net_lo_00_00_00_00_00_00",
                "block_vda_disk_1",
            ]
        );
        assert_eq!(
            device(&devices, "pci_0000_00_03_0").to_xml(),
            "<device>\n  <name>pci_0000_00_03_0</name>\n  \
             <path>/sys/devices/pci0000:00/0000:00:03.0</path>\n  <parent>computer</parent>\n  \
             <driver>\n    <name>virtio-pci</name>\n  </driver>\n  <capability type='pci'>\n    \
             <class>0x020000</class>\n    <domain>0</domain>\n    <bus>0</bus>\n    <slot>3</slot>\n    \
             <function>0</function>\n    <product id='0x1041'>Virtio 1.0 network device</product>\n    \
             <vendor id='0x1af4'>Red Hat, Inc.</vendor>\n    <iommuGroup number='3'>\n      \
             <address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n    </iommuGroup>\n    \
             <numa node='0'/>\n  </capability>\n</device>\n"
        );
        let eth0 = device(&devices, "net_eth0_52_54_00_12_34_56");
        assert_eq!(eth0.parent_name(), Some("pci_0000_00_03_0"));
        assert_eq!(
            eth0.path.as_deref(),
            Some("/sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0")
        );
        let xml = eth0.to_xml();
        assert!(xml.contains("<link state='up'/>"), "{xml}");
        assert!(xml.contains("<capability type='80203'/>"), "{xml}");
        let lo = device(&devices, "net_lo_00_00_00_00_00_00");
        assert_eq!(lo.parent_name(), Some("computer"));
        let vda = device(&devices, "block_vda_disk_1");
        assert_eq!(vda.parent_name(), Some("pci_0000_00_04_0"));
        let xml = vda.to_xml();
        assert!(
            xml.contains("<block>/dev/vda</block>")
                && xml.contains("<size>1048576</size>")
                && xml.contains("<num_blocks>2048</num_blocks>"),
            "{xml}"
        );
        let computer = device(&devices, "computer").to_xml();
        assert!(
            computer.contains("<product>Standard PC (i440FX + PIIX, 1996)</product>")
                && computer.contains("<vendor>QEMU</vendor>"),
            "{computer}"
        );
    }

    #[test]
    fn without_names_the_ids_alone() {
        let devices = enumerate(&host(), &NoNames);
        let xml = device(&devices, "pci_0000_00_00_0").to_xml();
        assert!(xml.contains("<product id='0x1237'/>"), "{xml}");
        assert!(!xml.contains("<numa"), "no NUMA node for -1: {xml}");
    }
}
