//! A bhyve domain as libvirt's bhyve driver keeps it after parsing: its defaults and implicit
//! devices (a `pci-root`, the LPC bridge a UEFI guest, a serial port or a framebuffer needs,
//! SATA controllers for the disks) and a PCI slot for every device that needs one.
//!
//! bhyve has one PCI bus of 32 slots and no functions to spare: slot 0 is the host bridge,
//! slot 1 is kept for the LPC bridge (bhyve puts the legacy devices there), and the rest go
//! first come, first served in libvirt's order: controllers, NICs, virtio disks, video,
//! sound, filesystems.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::address::{Address, DeviceInfo, PciAddress};
use virt_xml::domain::devices::Controller;
use virt_xml::domain::enums::{ChrType, ControllerType, DiskBus, VideoModel};
use virt_xml::domain::postparse::{disk_name_to_index, PostParseDriver};
use virt_xml::domain::Domain;

use crate::caps::BhyveCaps;

/// The architecture of every bhyve guest.
pub const GUEST_ARCH: &str = "x86_64";
/// Slots of bhyve's single PCI bus.
const SLOTS: u32 = 32;
/// Where bhyve wants its LPC bridge.
const LPC_SLOT: u32 = 1;
/// Disks one AHCI controller holds when bhyve takes `ahci,hd:...,cd:...`.
const AHCI_PORTS: u32 = 32;

fn xml_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::DOMAIN, message)
}

/// What the bhyve driver answers libvirt's generic post-parse.
struct BhyveDefaults;

impl PostParseDriver for BhyveDefaults {
    fn default_video_model(&self, _domain: &Domain) -> Option<VideoModel> {
        Some(VideoModel::Gop)
    }
}

/// Turns a parsed definition into the one the driver keeps: bhyve's device defaults, the
/// generic post-parse, bhyve's implicit controllers, then PCI slots.
pub fn prepare(domain: &mut Domain, caps: BhyveCaps) -> Result<(), Error> {
    let uuid = domain.ensure_uuid();
    // bhyve runs amd64 guests only: the one guest architecture its capabilities list.
    if let Some(os_type) = domain.os.as_mut().and_then(|os| os.os_type.as_mut()) {
        os_type.arch.get_or_insert_with(|| GUEST_ARCH.to_string());
    }
    assign_sata_addresses(domain, caps)?;
    for serial in domain
        .devices
        .serials
        .iter_mut()
        .chain(domain.devices.consoles.iter_mut())
    {
        if serial.chr_type != Some(ChrType::Nmdm) {
            continue;
        }
        if let Some(source) = serial.sources.first_mut() {
            if source.master.is_none() {
                source.master = Some(format!("/dev/nmdm{uuid}A"));
                source.slave = Some(format!("/dev/nmdm{uuid}B"));
            }
        } else {
            serial.sources.push(virt_xml::domain::chr::ChrSource {
                master: Some(format!("/dev/nmdm{uuid}A")),
                slave: Some(format!("/dev/nmdm{uuid}B")),
                ..Default::default()
            });
        }
    }
    for controller in &domain.devices.controllers {
        let root = matches!(controller.model.as_deref(), Some("pci-root" | "pcie-root"));
        if controller.controller_type == Some(ControllerType::Pci)
            && root
            && controller.index.unwrap_or(0) != 0
        {
            return Err(xml_error(
                "The PCI controller with index=0 can't be associated with a PCI bus",
            ));
        }
    }
    // bhyve's own controllers come before the generic ones (SATA) in the device list.
    if !has_controller(domain, ControllerType::Pci, 0) {
        insert_controller(
            domain,
            Controller {
                controller_type: Some(ControllerType::Pci),
                index: Some(0),
                model: Some("pci-root".into()),
                ..Default::default()
            },
        );
    }
    if needs_lpc(domain) && !has_controller(domain, ControllerType::Isa, 0) {
        insert_controller(
            domain,
            Controller {
                controller_type: Some(ControllerType::Isa),
                index: Some(0),
                ..Default::default()
            },
        );
    }
    domain.post_parse_with(&BhyveDefaults)?;
    for controller in &domain.devices.controllers {
        if controller.controller_type == Some(ControllerType::Isa)
            && controller.index.unwrap_or(0) != 0
        {
            return Err(xml_error("ISA controller index must be 0"));
        }
    }
    assign_pci_slots(domain, caps)
}

/// SATA disks without an address go on the controller their name says: 32 to a controller
/// when bhyve takes that many, one each when it does not.
fn assign_sata_addresses(domain: &mut Domain, caps: BhyveCaps) -> Result<(), Error> {
    for disk in &mut domain.devices.disks {
        if disk.info.address.is_some() || disk.target_bus() != Some(DiskBus::Sata) {
            continue;
        }
        let dst = disk.target_dev().unwrap_or("").to_string();
        let index = disk_name_to_index(&dst).ok_or_else(|| {
            xml_error(format!(
                "Unknown disk name '{dst}' and no address specified"
            ))
        })?;
        let (controller, unit) = if caps.has(BhyveCaps::AHCI32SLOT) {
            (index / AHCI_PORTS, index % AHCI_PORTS)
        } else {
            (index, 0)
        };
        disk.info.address = Some(Address::Drive {
            controller,
            bus: 0,
            target: 0,
            unit,
        });
    }
    Ok(())
}

/// A UEFI ROM, a serial port, or a framebuffer with its video needs bhyve's LPC bridge.
fn needs_lpc(domain: &Domain) -> bool {
    let os = domain.os.as_ref();
    let uefi_loader = os.is_some_and(|os| os.loader.is_some()) && domain.bootloader.is_none();
    let efi_firmware = os
        .and_then(|os| os.firmware)
        .is_some_and(|firmware| firmware == virt_xml::domain::enums::Firmware::Efi);
    uefi_loader
        || efi_firmware
        || !domain.devices.serials.is_empty()
        || !domain.devices.consoles.is_empty()
        || (!domain.devices.graphics.is_empty() && !domain.devices.videos.is_empty())
}

fn has_controller(domain: &Domain, kind: ControllerType, index: u32) -> bool {
    domain
        .devices
        .controllers
        .iter()
        .any(|c| c.controller_type == Some(kind) && c.index.unwrap_or(0) == index)
}

/// After the last controller of its type with a lower index, else at the end, as libvirt
/// inserts an implicit controller.
fn insert_controller(domain: &mut Domain, controller: Controller) {
    let controllers = &mut domain.devices.controllers;
    let position = controllers
        .iter()
        .rposition(|c| {
            c.controller_type == controller.controller_type && c.index <= controller.index
        })
        .map(|last| last + 1)
        .unwrap_or(controllers.len());
    controllers.insert(position, controller);
}

/// The slots of bhyve's bus that are taken, by function.
struct Bus {
    taken: Vec<(u32, u32)>,
}

impl Bus {
    fn is_free(&self, slot: u32) -> bool {
        !self.taken.iter().any(|(taken, _)| *taken == slot)
    }

    fn reserve(&mut self, slot: u32, function: u32) {
        self.taken.push((slot, function));
    }

    /// The first free slot from 1 up, reserved.
    fn next(&mut self) -> Result<PciAddress, Error> {
        let slot = (1..SLOTS).find(|slot| self.is_free(*slot)).ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::DOMAIN,
                "No more available PCI slots",
            )
        })?;
        self.reserve(slot, 0);
        Ok(PciAddress {
            slot,
            ..PciAddress::default()
        })
    }
}

/// Whether a device still needs a slot: no address, or a PCI one that is all zeros.
fn wants_slot(info: &DeviceInfo) -> bool {
    match &info.address {
        None => true,
        Some(Address::Pci(pci)) => is_zero(pci),
        Some(_) => false,
    }
}

fn is_zero(pci: &PciAddress) -> bool {
    pci.domain == 0 && pci.bus == 0 && pci.slot == 0 && pci.function == 0
}

fn give_slot(info: &mut DeviceInfo, bus: &mut Bus) -> Result<(), Error> {
    if wants_slot(info) {
        info.address = Some(Address::Pci(bus.next()?));
    }
    Ok(())
}

/// libvirt's bhyve address assignment (`bhyveAssignDevicePCISlots`).
pub fn assign_pci_slots(domain: &mut Domain, _caps: BhyveCaps) -> Result<(), Error> {
    let mut bus = Bus {
        taken: vec![(0, 0)],
    };
    let mut duplicate = None;
    domain.for_each_device_info(|info| {
        if let Some(Address::Pci(pci)) = &info.address {
            if is_zero(pci) {
                return;
            }
            if bus.taken.contains(&(pci.slot, pci.function)) && duplicate.is_none() {
                duplicate = Some(pci.clone());
            }
            bus.reserve(pci.slot, pci.function);
        }
    });
    if let Some(pci) = duplicate {
        return Err(xml_error(format!(
            "Attempted double use of PCI Address {:04x}:{:02x}:{:02x}.{}",
            pci.domain, pci.bus, pci.slot, pci.function
        )));
    }
    // Slot 1 is the LPC bridge's, whether or not there is one, unless the domain took it.
    if bus.is_free(LPC_SLOT) {
        bus.reserve(LPC_SLOT, 0);
        if let Some(isa) = domain
            .devices
            .controllers
            .iter_mut()
            .find(|c| c.controller_type == Some(ControllerType::Isa) && wants_slot(&c.info))
        {
            isa.info.address = Some(Address::Pci(PciAddress {
                slot: LPC_SLOT,
                ..PciAddress::default()
            }));
        }
    }
    for controller in &mut domain.devices.controllers {
        let slotted = match controller.controller_type {
            Some(ControllerType::Pci) => controller.model.as_deref() != Some("pci-root"),
            Some(ControllerType::Sata | ControllerType::Isa) => true,
            Some(ControllerType::Usb) => controller.model.as_deref() == Some("nec-xhci"),
            _ => false,
        };
        if slotted {
            give_slot(&mut controller.info, &mut bus)?;
        }
    }
    for interface in &mut domain.devices.interfaces {
        give_slot(&mut interface.info, &mut bus)?;
    }
    for disk in &mut domain.devices.disks {
        if disk.target_bus() == Some(DiskBus::Virtio) {
            give_slot(&mut disk.info, &mut bus)?;
        }
    }
    for video in &mut domain.devices.videos {
        give_slot(&mut video.info, &mut bus)?;
    }
    for sound in &mut domain.devices.sounds {
        give_slot(&mut sound.info, &mut bus)?;
    }
    for filesystem in &mut domain.devices.filesystems {
        give_slot(&mut filesystem.info, &mut bus)?;
    }
    Ok(())
}
