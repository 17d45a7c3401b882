//! PCI address assignment for devices that have none (libvirt's
//! `qemuDomainAssignPCIAddresses`).
//!
//! i440fx: the PIIX3 functions on slot 1, the primary video card on slot 2, then every other
//! PCI device in libvirt's order on the first slot nothing uses.
//!
//! Q35: the ICH9 functions on slot 0x1f and the primary video on slot 1 sit on `pcie.0`;
//! every other device goes behind a controller libvirt adds for it, as libvirt does: each
//! PCIe device gets a `pcie-root-port` of its own (the ports fill `pcie.0` eight functions a
//! slot), conventional PCI devices share a `pcie-to-pci-bridge`, and one spare root port is
//! added for hotplug. A first pass counts the controllers needed, a second assigns.

use std::collections::BTreeSet;

use virt_xml::domain::address::DeviceInfo;
use virt_xml::domain::devices::{Controller, ControllerTarget};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, DiskBus, Domain, PciAddress};
use virt_xml::xml::{Hex, OnOff};

use super::prepare::{chipset, Chipset};
use crate::error::{internal, unsupported_config};
use virt_plugin_sdk::types::Error;

/// How a device plugs into PCI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// A PCI Express endpoint (virtio, XHCI, e1000e, ...): a root port of its own on Q35.
    Pcie,
    /// A conventional PCI device: a PCI bridge slot on Q35.
    Pci,
    /// A device that must sit on the root bus itself (virtio-iommu).
    Integrated,
}

fn pci_address(bus: u32, slot: u32, function: u32) -> PciAddress {
    PciAddress {
        domain: 0,
        bus,
        slot,
        function,
        multifunction: None,
        zpci: None,
    }
}

/// The functions in use, per (bus, slot), and the `pcie.0` slots that hold root ports (which
/// take more root ports on their free functions).
#[derive(Debug, Default)]
struct UsedSlots {
    functions: BTreeSet<(u32, u32, u32)>,
    root_port_slots: BTreeSet<u32>,
}

impl UsedSlots {
    fn reserve(&mut self, address: &PciAddress) {
        self.functions
            .insert((address.bus, address.slot, address.function));
    }

    fn slot_in_use(&self, bus: u32, slot: u32) -> bool {
        self.functions
            .range((bus, slot, 0)..=(bus, slot, 7))
            .next()
            .is_some()
    }

    fn bus_in_use(&self, bus: u32) -> bool {
        self.functions
            .range((bus, 0, 0)..=(bus, 31, 7))
            .next()
            .is_some()
    }

    /// The first completely free slot of `bus` from `min_slot`.
    fn free_slot(&self, bus: u32, min_slot: u32, max_slot: u32) -> Option<u32> {
        (min_slot..=max_slot).find(|slot| !self.slot_in_use(bus, *slot))
    }
}

/// Visits every device that takes a PCI address, in libvirt's assignment order, with how it
/// connects; `visit` decides what to do with devices that already have an address.
fn walk_devices(
    def: &mut Domain,
    mut visit: impl FnMut(&mut DeviceInfo, Connect) -> Result<(), Error>,
) -> Result<(), Error> {
    let devices = &mut def.devices;
    for controller in &mut devices.controllers {
        if controller.controller_type == Some(ControllerType::Pci)
            && !matches!(controller.model.as_deref(), Some("pci-root" | "pcie-root"))
        {
            let connect = match controller.model.as_deref() {
                Some("pci-bridge") => Connect::Pci,
                _ => Connect::Pcie,
            };
            visit(&mut controller.info, connect)?;
        }
    }
    for fs in &mut devices.filesystems {
        let connect = if fs.model.as_deref() == Some("virtio-transitional") {
            Connect::Pci
        } else {
            Connect::Pcie
        };
        visit(&mut fs.info, connect)?;
    }
    for net in &mut devices.interfaces {
        if net.interface_type == Some(InterfaceType::Hostdev) {
            continue;
        }
        let model = net
            .model
            .as_ref()
            .and_then(|model| model.value.as_deref())
            .unwrap_or("rtl8139");
        let connect = if matches!(
            model,
            "virtio" | "virtio-non-transitional" | "e1000e" | "vmxnet3"
        ) {
            Connect::Pcie
        } else {
            Connect::Pci
        };
        visit(&mut net.info, connect)?;
    }
    for sound in &mut devices.sounds {
        if !matches!(
            sound.model,
            Some(SoundModel::Sb16 | SoundModel::Pcspk | SoundModel::Usb)
        ) {
            visit(&mut sound.info, Connect::Pci)?;
        }
    }
    for controller in &mut devices.controllers {
        let index = controller.index.unwrap_or(0);
        let model = controller.model.as_deref();
        let connect = match controller.controller_type {
            Some(ControllerType::Pci) | None => continue,
            Some(ControllerType::Usb) => match model {
                Some("none") => continue,
                Some("qemu-xhci" | "nec-xhci") => Connect::Pcie,
                _ => Connect::Pci,
            },
            Some(
                ControllerType::Fdc
                | ControllerType::Ccid
                | ControllerType::Isa
                | ControllerType::Xenbus,
            ) => continue,
            Some(ControllerType::Ide) if index == 0 => continue,
            Some(ControllerType::Scsi) => match model {
                Some("ncr53c90") => continue,
                Some("virtio-scsi" | "virtio-non-transitional") => Connect::Pcie,
                _ => Connect::Pci,
            },
            Some(ControllerType::VirtioSerial) => match model {
                Some("virtio-transitional") => Connect::Pci,
                _ => Connect::Pcie,
            },
            Some(ControllerType::Sata) => Connect::Pcie,
            Some(ControllerType::Ide) => Connect::Pci,
        };
        visit(&mut controller.info, connect)?;
    }
    for disk in &mut devices.disks {
        if disk.target_bus() != Some(DiskBus::Virtio) {
            continue;
        }
        match &disk.info.address {
            None | Some(Address::Pci(_)) => {}
            Some(Address::Ccw { .. } | Address::VirtioMmio) => continue,
            Some(other) => {
                return Err(unsupported_config(format!(
                    "virtio disk cannot have an address of type '{}'",
                    other.type_name()
                )))
            }
        }
        let connect = if disk.model == Some(DiskModel::VirtioTransitional) {
            Connect::Pci
        } else {
            Connect::Pcie
        };
        visit(&mut disk.info, connect)?;
    }
    for hostdev in &mut devices.hostdevs {
        let kind = hostdev.hostdev_type.as_deref();
        let is_pci = matches!(kind, Some("pci" | "scsi_host"))
            || kind == Some("mdev") && hostdev.model.as_deref() == Some("vfio-pci");
        if is_pci && !matches!(hostdev.info.address, Some(Address::Unassigned)) {
            let connect = if hostdev.model.as_deref() == Some("virtio-transitional") {
                Connect::Pci
            } else {
                Connect::Pcie
            };
            visit(&mut hostdev.info, connect)?;
        }
    }
    if let Some(balloon) = devices.memballoon.as_mut() {
        match balloon.model {
            Some(MemballoonModel::Virtio | MemballoonModel::VirtioNonTransitional) => {
                visit(&mut balloon.info, Connect::Pcie)?
            }
            Some(MemballoonModel::VirtioTransitional) => visit(&mut balloon.info, Connect::Pci)?,
            _ => {}
        }
    }
    for rng in &mut devices.rngs {
        let connect = if rng.model == Some(RngModel::VirtioTransitional) {
            Connect::Pci
        } else {
            Connect::Pcie
        };
        visit(&mut rng.info, connect)?;
    }
    if let Some(watchdog) = devices.watchdog.as_mut() {
        if watchdog.model == Some(WatchdogModel::I6300esb) {
            visit(&mut watchdog.info, Connect::Pci)?;
        }
    }
    for video in &mut devices.videos {
        let kind = video.model.as_ref().and_then(|model| model.model_type);
        let connect = match kind {
            Some(VideoModel::None | VideoModel::Ramfb) => continue,
            Some(VideoModel::Virtio) => Connect::Pcie,
            _ => Connect::Pci,
        };
        visit(&mut video.info, connect)?;
    }
    for shmem in &mut devices.shmems {
        visit(&mut shmem.info, Connect::Pci)?;
    }
    for input in &mut devices.inputs {
        if input.bus == Some(InputBus::Virtio) {
            visit(&mut input.info, Connect::Pcie)?;
        }
    }
    for serial in &mut devices.serials {
        if serial.target_type() == Some("pci-serial") {
            visit(&mut serial.info, Connect::Pci)?;
        }
    }
    if let Some(iommu) = devices.iommu.as_mut() {
        if iommu.model == Some(IommuModel::Virtio) {
            visit(&mut iommu.info, Connect::Integrated)?;
        }
    }
    if let Some(vsock) = devices.vsock.as_mut() {
        let connect = if vsock.model == Some(VsockModel::VirtioTransitional) {
            Connect::Pci
        } else {
            Connect::Pcie
        };
        visit(&mut vsock.info, connect)?;
    }
    for memory in &mut devices.memories {
        if matches!(
            memory.model,
            Some(MemoryModel::VirtioPmem | MemoryModel::VirtioMem)
        ) {
            visit(&mut memory.info, Connect::Pcie)?;
        }
    }
    Ok(())
}

/// Addresses the definition already has.
fn collect_existing(def: &mut Domain, used: &mut UsedSlots) {
    let mut reserve = |info: &DeviceInfo| {
        if let Some(Address::Pci(address)) = &info.address {
            used.reserve(address);
        }
    };
    let devices = &def.devices;
    devices.disks.iter().for_each(|d| reserve(&d.info));
    devices.controllers.iter().for_each(|d| reserve(&d.info));
    devices.interfaces.iter().for_each(|d| reserve(&d.info));
    devices.filesystems.iter().for_each(|d| reserve(&d.info));
    devices.sounds.iter().for_each(|d| reserve(&d.info));
    devices.hostdevs.iter().for_each(|d| reserve(&d.info));
    devices.videos.iter().for_each(|d| reserve(&d.info));
    devices.inputs.iter().for_each(|d| reserve(&d.info));
    devices.serials.iter().for_each(|d| reserve(&d.info));
    devices.shmems.iter().for_each(|d| reserve(&d.info));
    devices.rngs.iter().for_each(|d| reserve(&d.info));
    devices.memories.iter().for_each(|d| reserve(&d.info));
    devices.watchdog.iter().for_each(|d| reserve(&d.info));
    devices.memballoon.iter().for_each(|d| reserve(&d.info));
    devices.vsock.iter().for_each(|d| reserve(&d.info));
    devices.iommu.iter().for_each(|d| reserve(&d.info));
}

/// Assigns PCI addresses (see the module docs).
pub fn assign_pci_addresses(def: &mut Domain) -> Result<(), Error> {
    match chipset(def) {
        Chipset::I440fx => assign_i440fx(def),
        Chipset::Q35 => assign_q35(def),
        Chipset::Other => Ok(()),
    }
}

fn assign_i440fx(def: &mut Domain) -> Result<(), Error> {
    let mut used = UsedSlots::default();
    collect_existing(def, &mut used);
    reserve_piix3(def, &mut used)?;
    // pci-root and any PCI bridges the domain defines, each with slots 1-31.
    let mut buses = vec![0];
    for controller in &def.devices.controllers {
        if controller.controller_type == Some(ControllerType::Pci)
            && controller.model.as_deref() == Some("pci-bridge")
        {
            buses.push(controller.index.unwrap_or(0));
        }
    }
    assign_usb2_companions(def, &mut used, &buses)?;
    walk_devices(def, |info, _| {
        if info.address.is_some() {
            return Ok(());
        }
        for &bus in &buses {
            if let Some(slot) = used.free_slot(bus, 1, 31) {
                let address = pci_address(bus, slot, 0);
                used.reserve(&address);
                info.address = Some(Address::Pci(address));
                return Ok(());
            }
        }
        Err(internal("No more available PCI slots"))
    })
}

/// The PIIX3 at slot 1 (ISA bridge, IDE at .1, USB at .2, ACPI at .3) and the primary video
/// card at slot 2.
fn reserve_piix3(def: &mut Domain, used: &mut UsedSlots) -> Result<(), Error> {
    for controller in &mut def.devices.controllers {
        let index = controller.index.unwrap_or(0);
        let wanted = match controller.controller_type {
            Some(ControllerType::Ide) if index == 0 => Some((
                pci_address(0, 1, 1),
                "Primary IDE controller must have PCI address 0:0:1.1",
            )),
            Some(ControllerType::Usb)
                if index == 0
                    && matches!(controller.model.as_deref(), None | Some("piix3-uhci")) =>
            {
                Some((
                    pci_address(0, 1, 2),
                    "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2",
                ))
            }
            _ => None,
        };
        if let Some((address, message)) = wanted {
            match &controller.info.address {
                Some(Address::Pci(existing))
                    if !(existing.bus == 0
                        && existing.slot == 1
                        && existing.function == address.function) =>
                {
                    return Err(internal(message));
                }
                Some(Address::Pci(_)) => {}
                _ => controller.info.address = Some(Address::Pci(address.clone())),
            }
            used.reserve(&address);
        }
    }
    used.reserve(&pci_address(0, 1, 0));
    used.reserve(&pci_address(0, 1, 3));
    reserve_primary_video(def, used, 2)
}

fn reserve_primary_video(def: &mut Domain, used: &mut UsedSlots, slot: u32) -> Result<(), Error> {
    let Some(video) = def.devices.videos.first_mut() else {
        return Ok(());
    };
    let kind = video.model.as_ref().and_then(|model| model.model_type);
    if matches!(kind, Some(VideoModel::None | VideoModel::Ramfb)) || video.info.address.is_some() {
        return Ok(());
    }
    let slot = if used.slot_in_use(0, slot) {
        used.free_slot(0, 1, 31)
            .ok_or_else(|| internal("No more available PCI slots"))?
    } else {
        slot
    };
    let address = pci_address(0, slot, 0);
    used.reserve(&address);
    video.info.address = Some(Address::Pci(address));
    Ok(())
}

/// USB2 controllers (ICH9 EHCI with its UHCI companions) share one slot: EHCI on function 7,
/// UHCI1-3 on functions 0-2.
fn assign_usb2_companions(
    def: &mut Domain,
    used: &mut UsedSlots,
    buses: &[u32],
) -> Result<(), Error> {
    let function_of = |model: Option<&str>| match model {
        Some("ich9-ehci1") => Some(7),
        Some("ich9-uhci1") => Some(0),
        Some("ich9-uhci2") => Some(1),
        Some("ich9-uhci3") => Some(2),
        _ => None,
    };
    let count = def.devices.controllers.len();
    for position in 0..count {
        let controller = &def.devices.controllers[position];
        if controller.controller_type != Some(ControllerType::Usb)
            || controller.info.address.is_some()
        {
            continue;
        }
        let Some(function) = function_of(controller.model.as_deref()) else {
            continue;
        };
        let index = controller.index.unwrap_or(0);
        let sibling = def.devices.controllers.iter().find_map(|other| {
            let same_group = other.controller_type == Some(ControllerType::Usb)
                && function_of(other.model.as_deref()).is_some()
                && other.index.unwrap_or(0) == index;
            match (&other.info.address, same_group) {
                (Some(Address::Pci(address)), true) => Some((address.bus, address.slot)),
                _ => None,
            }
        });
        let (bus, slot) = match sibling {
            Some(found) => found,
            None => buses
                .iter()
                .find_map(|&bus| used.free_slot(bus, 1, 31).map(|slot| (bus, slot)))
                .ok_or_else(|| internal("No more available PCI slots"))?,
        };
        let mut address = pci_address(bus, slot, function);
        used.reserve(&address);
        if function == 0 {
            address.multifunction = Some(OnOff::On);
        }
        def.devices.controllers[position].info.address = Some(Address::Pci(address));
    }
    Ok(())
}

/// A controller the Q35 plan adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddedBus {
    RootPort,
    PciBridge,
}

fn assign_q35(def: &mut Domain) -> Result<(), Error> {
    let mut used = UsedSlots::default();
    collect_existing(def, &mut used);
    reserve_ich9(def, &mut used)?;
    assign_q35_pci_controllers(def, &mut used)?;

    // The buses the domain already has: explicit root ports (one device each) and bridges.
    let max_index = def
        .devices
        .controllers
        .iter()
        .filter(|controller| controller.controller_type == Some(ControllerType::Pci))
        .filter_map(|controller| controller.index)
        .max()
        .unwrap_or(0);
    let mut root_ports: Vec<u32> = Vec::new();
    let mut bridges: Vec<u32> = Vec::new();
    for controller in &def.devices.controllers {
        if controller.controller_type != Some(ControllerType::Pci) {
            continue;
        }
        let index = controller.index.unwrap_or(0);
        match controller.model.as_deref() {
            Some("pcie-root-port" | "pcie-switch-downstream-port") => root_ports.push(index),
            Some("pci-bridge" | "pcie-to-pci-bridge") => bridges.push(index),
            _ => {}
        }
    }

    // Pass 1: which controllers must be added for the devices without an address.
    let mut planned: Vec<AddedBus> = Vec::new();
    let mut free_ports = root_ports
        .iter()
        .filter(|bus| !used.bus_in_use(**bus))
        .count();
    let mut bridge_slots: usize = bridges
        .iter()
        .map(|bus| {
            (1..32)
                .filter(|slot| !used.slot_in_use(*bus, *slot))
                .count()
        })
        .sum();
    walk_devices(def, |info, connect| {
        if info.address.is_some() {
            return Ok(());
        }
        match connect {
            Connect::Integrated => {}
            Connect::Pcie => {
                if free_ports > 0 {
                    free_ports -= 1;
                } else {
                    planned.push(AddedBus::RootPort);
                }
            }
            Connect::Pci => {
                if bridge_slots > 0 {
                    bridge_slots -= 1;
                } else {
                    planned.push(AddedBus::RootPort);
                    planned.push(AddedBus::PciBridge);
                    bridge_slots = 30;
                }
            }
        }
        Ok(())
    })?;
    if !planned.is_empty() && max_index == 0 {
        // One spare root port, so that a device can be hotplugged later.
        planned.push(AddedBus::RootPort);
    }

    // The added controllers, in bus order; root ports fill pcie.0 eight functions a slot.
    let mut previous_root_port: Option<u32> = None;
    for (index, added) in (max_index + 1..).zip(planned) {
        match added {
            AddedBus::RootPort => {
                let address = next_root_port_address(&mut used)?;
                let mut controller = Controller {
                    controller_type: Some(ControllerType::Pci),
                    index: Some(index),
                    model: Some("pcie-root-port".into()),
                    ..Default::default()
                };
                controller.info.address = Some(Address::Pci(address));
                def.devices.controllers.push(controller);
                root_ports.push(index);
                previous_root_port = Some(index);
            }
            AddedBus::PciBridge => {
                let port =
                    previous_root_port.ok_or_else(|| internal("PCI bridge without a root port"))?;
                root_ports.retain(|bus| *bus != port);
                let address = pci_address(port, 0, 0);
                used.reserve(&address);
                let mut controller = Controller {
                    controller_type: Some(ControllerType::Pci),
                    index: Some(index),
                    model: Some("pcie-to-pci-bridge".into()),
                    ..Default::default()
                };
                controller.info.address = Some(Address::Pci(address));
                def.devices.controllers.push(controller);
                bridges.push(index);
            }
        }
    }
    fill_pci_controller_targets(def);

    // Pass 2: each device on its bus.
    walk_devices(def, |info, connect| {
        if info.address.is_some() {
            return Ok(());
        }
        let address = match connect {
            Connect::Integrated => used.free_slot(0, 1, 31).map(|slot| pci_address(0, slot, 0)),
            Connect::Pcie => root_ports
                .iter()
                .find(|bus| !used.bus_in_use(**bus))
                .map(|bus| pci_address(*bus, 0, 0)),
            Connect::Pci => bridges.iter().find_map(|bus| {
                used.free_slot(*bus, 1, 31)
                    .map(|slot| pci_address(*bus, slot, 0))
            }),
        }
        .ok_or_else(|| internal("No more available PCI slots"))?;
        used.reserve(&address);
        info.address = Some(Address::Pci(address));
        Ok(())
    })
}

/// PCI controllers the definition lists without an address, by index, each where its model
/// plugs in: root ports packed on `pcie.0`, the DMI-to-PCI bridge at its usual 0x1e, switch
/// upstream ports and PCIe-to-PCI bridges behind a free root port, downstream ports on an
/// upstream port, PCI bridges on a PCI bus.
fn assign_q35_pci_controllers(def: &mut Domain, used: &mut UsedSlots) -> Result<(), Error> {
    let mut order: Vec<usize> = (0..def.devices.controllers.len())
        .filter(|position| {
            let controller = &def.devices.controllers[*position];
            controller.controller_type == Some(ControllerType::Pci)
                && controller.info.address.is_none()
                && !matches!(
                    controller.model.as_deref(),
                    Some("pci-root" | "pcie-root") | None
                )
        })
        .collect();
    order.sort_by_key(|position| def.devices.controllers[*position].index.unwrap_or(0));
    let buses_of = |def: &Domain, models: &[&str]| -> Vec<(u32, u32)> {
        let mut buses: Vec<(u32, u32)> = def
            .devices
            .controllers
            .iter()
            .filter(|controller| {
                controller.controller_type == Some(ControllerType::Pci)
                    && controller.info.address.is_some()
                    && models.contains(&controller.model.as_deref().unwrap_or(""))
            })
            .map(|controller| {
                let min_slot = match controller.model.as_deref() {
                    Some("dmi-to-pci-bridge" | "pcie-switch-upstream-port") => 0,
                    _ => 1,
                };
                (controller.index.unwrap_or(0), min_slot)
            })
            .collect();
        buses.sort();
        buses
    };
    for position in order {
        let model = def.devices.controllers[position]
            .model
            .clone()
            .unwrap_or_default();
        let address = match model.as_str() {
            "pcie-root-port" => Some(next_root_port_address(used)?),
            "dmi-to-pci-bridge" if !used.slot_in_use(0, 0x1e) => Some(pci_address(0, 0x1e, 0)),
            "dmi-to-pci-bridge" | "pci-expander-bus" | "pcie-expander-bus" => {
                used.free_slot(0, 1, 31).map(|slot| pci_address(0, slot, 0))
            }
            "pcie-switch-upstream-port" | "pcie-to-pci-bridge" => {
                buses_of(def, &["pcie-root-port", "pcie-switch-downstream-port"])
                    .into_iter()
                    .find(|(bus, _)| !used.bus_in_use(*bus))
                    .map(|(bus, _)| pci_address(bus, 0, 0))
            }
            "pcie-switch-downstream-port" => buses_of(def, &["pcie-switch-upstream-port"])
                .into_iter()
                .find_map(|(bus, _)| {
                    used.free_slot(bus, 0, 31)
                        .map(|slot| pci_address(bus, slot, 0))
                }),
            "pci-bridge" => buses_of(
                def,
                &["dmi-to-pci-bridge", "pcie-to-pci-bridge", "pci-bridge"],
            )
            .into_iter()
            .find_map(|(bus, min_slot)| {
                used.free_slot(bus, min_slot, 31)
                    .map(|slot| pci_address(bus, slot, 0))
            }),
            _ => None,
        };
        if let Some(address) = address {
            used.reserve(&address);
            def.devices.controllers[position].info.address = Some(Address::Pci(address));
        }
    }
    Ok(())
}

/// The next function for a root port on `pcie.0`: functions of one slot first.
fn next_root_port_address(used: &mut UsedSlots) -> Result<PciAddress, Error> {
    // A slot already holding root ports (and nothing else) takes more of them.
    for slot in 1..32 {
        let functions: Vec<u32> = (0..8)
            .filter(|function| used.functions.contains(&(0, slot, *function)))
            .collect();
        if functions.is_empty() {
            let mut address = pci_address(0, slot, 0);
            used.reserve(&address);
            used.root_port_slots.insert(slot);
            address.multifunction = Some(OnOff::On);
            return Ok(address);
        }
        if used.root_port_slots.contains(&slot) {
            if let Some(function) = (0..8).find(|function| !functions.contains(function)) {
                let address = pci_address(0, slot, function);
                used.reserve(&address);
                return Ok(address);
            }
        }
    }
    Err(internal("No more available PCI slots"))
}

/// Root port `port` and `chassis` numbers libvirt derives from the address and index.
fn fill_pci_controller_targets(def: &mut Domain) {
    for controller in &mut def.devices.controllers {
        if controller.controller_type != Some(ControllerType::Pci) {
            continue;
        }
        let index = controller.index.unwrap_or(0) as i32;
        match controller.model.as_deref() {
            Some(model @ ("pcie-root-port" | "pcie-switch-downstream-port")) => {
                let root_port = model == "pcie-root-port";
                let target = controller
                    .target
                    .get_or_insert_with(ControllerTarget::default);
                if target.chassis.is_none() {
                    target.chassis = Some(index);
                }
                if target.port.is_none() {
                    if let Some(Address::Pci(address)) = &controller.info.address {
                        // A root port is numbered by slot and function, a downstream port by
                        // its slot on the switch.
                        let port = if root_port {
                            address.slot * 8 + address.function
                        } else {
                            address.slot
                        };
                        target.port = Some(Hex(u64::from(port)));
                    }
                }
            }
            Some("pci-bridge") => {
                let target = controller
                    .target
                    .get_or_insert_with(ControllerTarget::default);
                if target.chassis_nr.is_none() {
                    target.chassis_nr = Some(index);
                }
            }
            _ => {}
        }
    }
}

/// The ICH9 functions at slot 0x1f (ISA bridge, SATA at .2, SMBus at .3), the primary video
/// card at slot 1 and an ICH9 sound card at its usual 0x1b.
fn reserve_ich9(def: &mut Domain, used: &mut UsedSlots) -> Result<(), Error> {
    for controller in &mut def.devices.controllers {
        if controller.controller_type == Some(ControllerType::Sata)
            && controller.index.unwrap_or(0) == 0
        {
            let address = pci_address(0, 0x1f, 2);
            match &controller.info.address {
                Some(Address::Pci(existing)) if existing.slot != 0x1f || existing.function != 2 => {
                    return Err(internal(
                        "Primary SATA controller must have PCI address 0:0:1f.2",
                    ));
                }
                Some(Address::Pci(_)) => {}
                _ => controller.info.address = Some(Address::Pci(address.clone())),
            }
            used.reserve(&address);
        }
    }
    used.reserve(&pci_address(0, 0x1f, 0));
    used.reserve(&pci_address(0, 0x1f, 3));
    reserve_primary_video(def, used, 1)?;
    if !used.slot_in_use(0, 0x1b) {
        if let Some(sound) = def
            .devices
            .sounds
            .iter_mut()
            .find(|sound| sound.model == Some(SoundModel::Ich9) && sound.info.address.is_none())
        {
            let address = pci_address(0, 0x1b, 0);
            used.reserve(&address);
            sound.info.address = Some(Address::Pci(address));
        }
    }
    // Explicit root ports in the definition mark their slots as root-port slots.
    used.root_port_slots = def
        .devices
        .controllers
        .iter()
        .filter(|controller| controller.model.as_deref() == Some("pcie-root-port"))
        .filter_map(|controller| match &controller.info.address {
            Some(Address::Pci(address)) if address.bus == 0 => Some(address.slot),
            _ => None,
        })
        .collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q35_with(devices: &str) -> Domain {
        let xml = format!(
            "<domain type='qemu'><name>t</name><memory>65536</memory>\
             <os><type arch='x86_64' machine='q35'>hvm</type></os>\
             <devices>{devices}</devices></domain>"
        );
        let mut def = Domain::parse(&xml).expect("test domain parses");
        assign_pci_addresses(&mut def).expect("addresses assigned");
        def
    }

    fn pci_of(def: &Domain, model: &str) -> Vec<(u32, u32, u32)> {
        def.devices
            .controllers
            .iter()
            .filter(|controller| controller.model.as_deref() == Some(model))
            .filter_map(|controller| match &controller.info.address {
                Some(Address::Pci(address)) => Some((address.bus, address.slot, address.function)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn q35_controllers_without_addresses_go_where_their_model_plugs_in() {
        let def = q35_with(
            "<controller type='pci' index='0' model='pcie-root'/>\
             <controller type='pci' index='1' model='dmi-to-pci-bridge'/>\
             <controller type='pci' index='2' model='pci-bridge'/>\
             <controller type='pci' index='3' model='pcie-root-port'/>\
             <controller type='pci' index='4' model='pcie-root-port'/>\
             <controller type='pci' index='5' model='pcie-switch-upstream-port'/>\
             <controller type='pci' index='6' model='pcie-switch-downstream-port'/>",
        );
        assert_eq!(pci_of(&def, "dmi-to-pci-bridge"), vec![(0, 0x1e, 0)]);
        assert_eq!(pci_of(&def, "pci-bridge"), vec![(1, 0, 0)]);
        assert_eq!(pci_of(&def, "pcie-root-port"), vec![(0, 1, 0), (0, 1, 1)]);
        assert_eq!(pci_of(&def, "pcie-switch-upstream-port"), vec![(3, 0, 0)]);
        assert_eq!(pci_of(&def, "pcie-switch-downstream-port"), vec![(5, 0, 0)]);
    }

    #[test]
    fn virtio_iommu_sits_on_the_root_bus() {
        let def =
            q35_with("<controller type='pci' index='0' model='pcie-root'/><iommu model='virtio'/>");
        let address = def
            .devices
            .iommu
            .as_ref()
            .and_then(|iommu| iommu.info.address.clone());
        assert_eq!(address, Some(Address::Pci(pci_address(0, 1, 0))));
        assert!(pci_of(&def, "pcie-root-port").is_empty());
    }
}
