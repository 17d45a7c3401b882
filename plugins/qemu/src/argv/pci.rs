//! PCI address assignment for devices that have none (libvirt's
//! `qemuDomainAssignPCIAddresses`): the integrated PIIX3/ICH9 functions first, the primary
//! video card next, then every other PCI device in libvirt's order, each on the first slot
//! nothing uses yet.

use std::collections::BTreeSet;

use virt_xml::domain::address::DeviceInfo;
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, DiskBus, Domain, PciAddress};
use virt_xml::xml::OnOff;

use super::prepare::{chipset, Chipset};
use crate::error::{internal, unsupported_config};
use virt_plugin_sdk::types::Error;

/// The functions in use, per (bus, slot).
#[derive(Debug, Default)]
pub struct PciSlots {
    used: BTreeSet<(u32, u32, u32)>,
    /// Buses devices may be placed on, with their first usable slot.
    buses: Vec<(u32, u32)>,
}

impl PciSlots {
    fn reserve(&mut self, address: &PciAddress) {
        self.used.insert((address.bus, address.slot, address.function));
    }

    fn slot_in_use(&self, bus: u32, slot: u32) -> bool {
        self.used.range((bus, slot, 0)..=(bus, slot, 7)).next().is_some()
    }

    /// The first slot with no function in use, on the first bus that has one.
    fn next_free(&mut self) -> Result<PciAddress, Error> {
        for &(bus, min_slot) in &self.buses {
            if let Some(slot) = (min_slot..32).find(|slot| !self.slot_in_use(bus, *slot)) {
                let address = PciAddress { domain: 0, bus, slot, function: 0, multifunction: None, zpci: None };
                self.reserve(&address);
                return Ok(address);
            }
        }
        Err(internal("No more available PCI slots"))
    }

    /// Gives `info` the next free slot unless it has an address already.
    fn assign(&mut self, info: &mut DeviceInfo) -> Result<(), Error> {
        if info.address.is_some() {
            return Ok(());
        }
        let address = self.next_free()?;
        info.address = Some(Address::Pci(address));
        Ok(())
    }
}

fn pci_address(slot: u32, function: u32) -> PciAddress {
    PciAddress { domain: 0, bus: 0, slot, function, multifunction: None, zpci: None }
}

/// Assigns PCI addresses (see the module docs).
pub fn assign_pci_addresses(def: &mut Domain) -> Result<(), Error> {
    let chipset = chipset(def);
    let mut slots = PciSlots::default();
    // Bus 0 (pci-root / pcie-root) and any PCI bridges the domain defines.
    slots.buses.push((0, 1));
    for controller in &def.devices.controllers {
        if controller.controller_type == Some(ControllerType::Pci)
            && matches!(controller.model.as_deref(), Some("pci-bridge"))
        {
            slots.buses.push((controller.index.unwrap_or(0), 1));
        }
    }
    collect_existing(def, &mut slots);

    match chipset {
        Chipset::I440fx => reserve_piix3(def, &mut slots)?,
        Chipset::Q35 => reserve_ich9(def, &mut slots)?,
        Chipset::Other => return Ok(()),
    }

    let devices = &mut def.devices;
    for controller in &mut devices.controllers {
        if controller.controller_type == Some(ControllerType::Pci)
            && !matches!(controller.model.as_deref(), Some("pci-root" | "pcie-root"))
        {
            slots.assign(&mut controller.info)?;
        }
    }
    for fs in &mut devices.filesystems {
        slots.assign(&mut fs.info)?;
    }
    for net in &mut devices.interfaces {
        if net.interface_type != Some(InterfaceType::Hostdev) {
            slots.assign(&mut net.info)?;
        }
    }
    for sound in &mut devices.sounds {
        if !matches!(sound.model, Some(SoundModel::Sb16 | SoundModel::Pcspk | SoundModel::Usb)) {
            slots.assign(&mut sound.info)?;
        }
    }
    assign_device_controllers(def, &mut slots)?;
    let devices = &mut def.devices;
    for disk in &mut devices.disks {
        if disk.target_bus() != Some(DiskBus::Virtio) {
            continue;
        }
        match &disk.info.address {
            None | Some(Address::Pci(_)) => slots.assign(&mut disk.info)?,
            Some(Address::Ccw { .. } | Address::VirtioMmio) => {}
            Some(other) => {
                return Err(unsupported_config(format!(
                    "virtio disk cannot have an address of type '{}'",
                    other.type_name()
                )))
            }
        }
    }
    for hostdev in &mut devices.hostdevs {
        let is_pci = hostdev
            .hostdev_type
            .as_deref()
            .is_some_and(|kind| matches!(kind, "pci" | "scsi_host") || kind == "mdev" && hostdev.model.as_deref() == Some("vfio-pci"));
        if is_pci && !matches!(hostdev.info.address, Some(Address::Unassigned)) {
            slots.assign(&mut hostdev.info)?;
        }
    }
    if let Some(balloon) = devices.memballoon.as_mut() {
        if !matches!(balloon.model, Some(MemballoonModel::None) | None) {
            slots.assign(&mut balloon.info)?;
        }
    }
    for rng in &mut devices.rngs {
        slots.assign(&mut rng.info)?;
    }
    if let Some(watchdog) = devices.watchdog.as_mut() {
        if watchdog.model == Some(WatchdogModel::I6300esb) {
            slots.assign(&mut watchdog.info)?;
        }
    }
    for video in &mut devices.videos {
        let kind = video.model.as_ref().and_then(|model| model.model_type);
        if !matches!(kind, Some(VideoModel::None | VideoModel::Ramfb)) {
            slots.assign(&mut video.info)?;
        }
    }
    for shmem in &mut devices.shmems {
        slots.assign(&mut shmem.info)?;
    }
    for input in &mut devices.inputs {
        if input.bus == Some(InputBus::Virtio) {
            slots.assign(&mut input.info)?;
        }
    }
    for serial in &mut devices.serials {
        if serial.target_type() == Some("pci-serial") {
            slots.assign(&mut serial.info)?;
        }
    }
    if let Some(iommu) = devices.iommu.as_mut() {
        if iommu.model == Some(IommuModel::Virtio) {
            slots.assign(&mut iommu.info)?;
        }
    }
    if let Some(vsock) = devices.vsock.as_mut() {
        slots.assign(&mut vsock.info)?;
    }
    for memory in &mut devices.memories {
        if matches!(memory.model, Some(MemoryModel::VirtioPmem | MemoryModel::VirtioMem)) {
            slots.assign(&mut memory.info)?;
        }
    }
    Ok(())
}

/// Addresses the definition already has.
fn collect_existing(def: &Domain, slots: &mut PciSlots) {
    let mut infos: Vec<&DeviceInfo> = Vec::new();
    let devices = &def.devices;
    infos.extend(devices.disks.iter().map(|d| &d.info));
    infos.extend(devices.controllers.iter().map(|d| &d.info));
    infos.extend(devices.interfaces.iter().map(|d| &d.info));
    infos.extend(devices.filesystems.iter().map(|d| &d.info));
    infos.extend(devices.sounds.iter().map(|d| &d.info));
    infos.extend(devices.hostdevs.iter().map(|d| &d.info));
    infos.extend(devices.videos.iter().map(|d| &d.info));
    infos.extend(devices.inputs.iter().map(|d| &d.info));
    infos.extend(devices.serials.iter().map(|d| &d.info));
    infos.extend(devices.shmems.iter().map(|d| &d.info));
    infos.extend(devices.rngs.iter().map(|d| &d.info));
    infos.extend(devices.memories.iter().map(|d| &d.info));
    infos.extend(devices.watchdog.iter().map(|d| &d.info));
    infos.extend(devices.memballoon.iter().map(|d| &d.info));
    infos.extend(devices.vsock.iter().map(|d| &d.info));
    infos.extend(devices.iommu.iter().map(|d| &d.info));
    for info in infos {
        if let Some(Address::Pci(address)) = &info.address {
            slots.reserve(address);
        }
    }
}

/// i440fx: the PIIX3 at slot 1 (ISA bridge, IDE at .1, USB at .2, ACPI at .3), the primary
/// video card at slot 2.
fn reserve_piix3(def: &mut Domain, slots: &mut PciSlots) -> Result<(), Error> {
    for controller in &mut def.devices.controllers {
        let index = controller.index.unwrap_or(0);
        let wanted = match controller.controller_type {
            Some(ControllerType::Ide) if index == 0 => Some((pci_address(1, 1), "Primary IDE controller must have PCI address 0:0:1.1")),
            Some(ControllerType::Usb) if index == 0 && matches!(controller.model.as_deref(), None | Some("piix3-uhci")) => {
                Some((pci_address(1, 2), "PIIX3 USB controller at index 0 must have PCI address 0:0:1.2"))
            }
            _ => None,
        };
        if let Some((address, message)) = wanted {
            match &controller.info.address {
                Some(Address::Pci(existing)) if !(existing.bus == 0 && existing.slot == address.slot && existing.function == address.function) => {
                    return Err(internal(message));
                }
                Some(Address::Pci(_)) => {}
                _ => controller.info.address = Some(Address::Pci(address.clone())),
            }
            slots.reserve(&address);
        }
    }
    slots.reserve(&pci_address(1, 0));
    slots.reserve(&pci_address(1, 3));
    reserve_primary_video(def, slots, 2)
}

/// Q35: the ICH9 functions at slot 0x1f (ISA bridge, SATA at .2, SMBus at .3).
fn reserve_ich9(def: &mut Domain, slots: &mut PciSlots) -> Result<(), Error> {
    for controller in &mut def.devices.controllers {
        if controller.controller_type == Some(ControllerType::Sata) && controller.index.unwrap_or(0) == 0 {
            let address = pci_address(0x1f, 2);
            match &controller.info.address {
                Some(Address::Pci(existing)) if existing.slot != 0x1f || existing.function != 2 => {
                    return Err(internal("Primary SATA controller must have PCI address 0:0:1f.2"));
                }
                Some(Address::Pci(_)) => {}
                _ => controller.info.address = Some(Address::Pci(address.clone())),
            }
            slots.reserve(&address);
        }
    }
    let mut isa = pci_address(0x1f, 0);
    isa.multifunction = Some(OnOff::On);
    slots.reserve(&isa);
    slots.reserve(&pci_address(0x1f, 3));
    reserve_primary_video(def, slots, 1)?;
    if !slots.slot_in_use(0, 0x1b) {
        if let Some(sound) = def
            .devices
            .sounds
            .iter_mut()
            .find(|sound| sound.model == Some(SoundModel::Ich9) && sound.info.address.is_none())
        {
            let address = pci_address(0x1b, 0);
            slots.reserve(&address);
            sound.info.address = Some(Address::Pci(address));
        }
    }
    Ok(())
}

fn reserve_primary_video(def: &mut Domain, slots: &mut PciSlots, slot: u32) -> Result<(), Error> {
    let Some(video) = def.devices.videos.first_mut() else { return Ok(()) };
    let kind = video.model.as_ref().and_then(|model| model.model_type);
    if matches!(kind, Some(VideoModel::None | VideoModel::Ramfb)) || video.info.address.is_some() {
        return Ok(());
    }
    if slots.slot_in_use(0, slot) {
        return slots.assign(&mut video.info);
    }
    let address = pci_address(slot, 0);
    slots.reserve(&address);
    video.info.address = Some(Address::Pci(address));
    Ok(())
}

/// SCSI, USB, virtio-serial, SATA and other non-PCI-bridge controllers, with USB2 companion
/// controllers sharing one slot.
fn assign_device_controllers(def: &mut Domain, slots: &mut PciSlots) -> Result<(), Error> {
    let is_usb2 = |model: Option<&str>| matches!(model, Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3"));
    let count = def.devices.controllers.len();
    for position in 0..count {
        let controller = &def.devices.controllers[position];
        let index = controller.index.unwrap_or(0);
        let skip = match controller.controller_type {
            Some(ControllerType::Pci) | None => true,
            Some(ControllerType::Usb) => controller.model.as_deref() == Some("none"),
            Some(ControllerType::Fdc | ControllerType::Ccid | ControllerType::Isa | ControllerType::Xenbus) => true,
            Some(ControllerType::Ide) => index == 0,
            Some(ControllerType::Scsi) => controller.model.as_deref() == Some("ncr53c90"),
            _ => false,
        };
        if skip || controller.info.address.is_some() {
            continue;
        }
        if controller.controller_type == Some(ControllerType::Usb) && is_usb2(controller.model.as_deref()) {
            let function = match controller.model.as_deref() {
                Some("ich9-ehci1") => 7,
                Some("ich9-uhci2") => 1,
                Some("ich9-uhci3") => 2,
                _ => 0,
            };
            let sibling = def.devices.controllers.iter().find_map(|other| {
                let same_group = other.controller_type == Some(ControllerType::Usb)
                    && is_usb2(other.model.as_deref())
                    && other.index.unwrap_or(0) == index;
                match (&other.info.address, same_group) {
                    (Some(Address::Pci(address)), true) => Some(address.clone()),
                    _ => None,
                }
            });
            let mut address = match sibling {
                Some(mut address) => {
                    address.function = function;
                    address.multifunction = None;
                    slots.reserve(&address);
                    address
                }
                None => {
                    let mut address = slots.next_free()?;
                    slots.used.remove(&(address.bus, address.slot, 0));
                    address.function = function;
                    slots.reserve(&address);
                    address
                }
            };
            address.multifunction = if function == 0 { Some(OnOff::On) } else { None };
            def.devices.controllers[position].info.address = Some(Address::Pci(address));
        } else {
            slots.assign(&mut def.devices.controllers[position].info)?;
        }
    }
    Ok(())
}
