//! What the QEMU driver adds to a definition before QEMU sees it: its own defaults (the
//! machine type, implicit controllers, device models libvirt picks), device addresses
//! (drive, virtio-serial and PCI slots), and at start the device aliases QEMU's ids come from.
//!
//! These mirror the steps libvirt's QEMU driver runs after parsing (`qemuDomainDefPostParse`,
//! `qemuDomainAssignAddresses`) and before building the command line
//! (`qemuAssignDeviceAliases`), so that the persistent XML carries the same addresses libvirt
//! would assign and the live XML the same aliases.

use virt_xml::domain::address::{Alias, DeviceInfo};
use virt_xml::domain::devices::{Controller, Memballoon};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, DiskBus, Domain, PciAddress};

use crate::capabilities::QemuCaps;
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// The chipset family of a machine type, which decides where integrated devices sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chipset {
    I440fx,
    Q35,
    Other,
}

pub fn chipset(def: &Domain) -> Chipset {
    let machine = machine_name(def);
    if machine == "pc"
        || machine.starts_with("pc-i440fx-")
        || machine.starts_with("pc-") && !machine.contains("q35")
    {
        Chipset::I440fx
    } else if machine == "q35" || machine.starts_with("pc-q35-") {
        Chipset::Q35
    } else {
        Chipset::Other
    }
}

/// The machine type named in `<os><type machine=...>`.
pub fn machine_name(def: &Domain) -> &str {
    def.os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|os_type| os_type.machine.as_deref())
        .unwrap_or("")
}

/// The guest architecture named in `<os><type arch=...>`, `x86_64` when absent.
pub fn guest_arch(def: &Domain) -> &str {
    def.os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|os_type| os_type.arch.as_deref())
        .unwrap_or("x86_64")
}

fn set_machine(def: &mut Domain, machine: &str) {
    let os = def.os.get_or_insert_with(Default::default);
    let os_type = os.os_type.get_or_insert_with(Default::default);
    os_type.machine = Some(machine.to_string());
}

/// The QEMU driver's post-parse defaults (`qemuDomainDefPostParse` and the per-device
/// post-parse callbacks), run when a definition is stored and before it is started.
pub fn apply_qemu_defaults(def: &mut Domain, caps: &QemuCaps) -> Result<(), Error> {
    if def.bootloader.is_some() || def.bootloader_args.is_some() {
        return Err(unsupported_config("bootloader is not supported by QEMU"));
    }
    if def.devices.emulator.is_none() {
        def.devices.emulator = Some(caps.binary.clone());
    }
    {
        let os = def.os.get_or_insert_with(Default::default);
        let os_type = os.os_type.get_or_insert_with(Default::default);
        if os_type.arch.is_none() {
            os_type.arch = Some(caps.libvirt_arch().to_string());
        }
        if os_type.os_type.is_none() {
            os_type.os_type = Some(OsType::Hvm);
        }
    }
    if machine_name(def).is_empty() {
        let machine = caps
            .default_machine()
            .map(|machine| machine.name.clone())
            .ok_or_else(|| {
                virt_plugin_sdk::error(
                    virt_core::ErrorNumber::INVALID_ARG,
                    virt_core::ErrorDomain::QEMU,
                    format!(
                        "could not get preferred machine for {} type={}",
                        caps.binary,
                        virt_type_name(def)
                    ),
                )
            })?;
        set_machine(def, &machine);
    }
    let canonical = caps.canonical_machine(machine_name(def)).to_string();
    set_machine(def, &canonical);

    sort_disks(def);
    add_console_compat(def);
    add_implicit_inputs(def);
    add_default_controllers(def, caps);
    add_implicit_controllers(def);
    if def.devices.memballoon.is_none() && chipset(def) != Chipset::Other {
        def.devices.memballoon = Some(Memballoon {
            model: Some(MemballoonModel::Virtio),
            ..Default::default()
        });
    }
    add_default_video(def);
    apply_device_defaults(def, caps);
    Ok(())
}

fn virt_type_name(def: &Domain) -> &'static str {
    def.virt_type.map_or("qemu", VirtType::as_str)
}

/// libvirt keeps disks grouped by bus and, within a bus, in target order (the order its
/// parser inserts them in, virDomainDiskInsert).
fn sort_disks(def: &mut Domain) {
    let disks = std::mem::take(&mut def.devices.disks);
    let mut sorted: Vec<virt_xml::domain::Disk> = Vec::with_capacity(disks.len());
    for disk in disks {
        let index = disk.target_dev().and_then(disk_name_index);
        let mut insert_at: Option<usize> = None;
        for position in (0..sorted.len()).rev() {
            let other = &sorted[position];
            if other.target_bus() != disk.target_bus() {
                continue;
            }
            let other_index = other.target_dev().and_then(disk_name_index);
            if let (Some(other_index), Some(index)) = (other_index, index) {
                if other_index > index {
                    insert_at = Some(position);
                    continue;
                }
            }
            if insert_at.is_none() {
                insert_at = Some(position + 1);
            }
        }
        match insert_at {
            Some(position) => sorted.insert(position, disk),
            None => sorted.push(disk),
        }
    }
    def.devices.disks = sorted;
}

/// A serial console with no `<serial>` describes serial port 0 (libvirt's console compat).
fn add_console_compat(def: &mut Domain) {
    if !def.devices.serials.is_empty() {
        return;
    }
    let Some(console) = def.devices.consoles.first() else {
        return;
    };
    if !matches!(console.target_type(), None | Some("serial")) {
        return;
    }
    let mut serial = console.clone();
    serial.info = Default::default();
    let target = serial.target.get_or_insert_with(Default::default);
    target.target_type = None;
    target.port = Some(0);
    def.devices.serials.push(serial);
    if let Some(target) = def.devices.consoles[0].target.as_mut() {
        target.target_type.get_or_insert_with(|| "serial".into());
    }
}

/// x86 guests always have a PS/2 mouse and keyboard.
fn add_implicit_inputs(def: &mut Domain) {
    if !matches!(guest_arch(def), "x86_64" | "i686") {
        return;
    }
    for kind in [InputType::Mouse, InputType::Keyboard] {
        let present = def
            .devices
            .inputs
            .iter()
            .any(|input| input.input_type == Some(kind) && input.bus == Some(InputBus::Ps2));
        if !present {
            def.devices.inputs.push(virt_xml::domain::devices::Input {
                input_type: Some(kind),
                bus: Some(InputBus::Ps2),
                ..Default::default()
            });
        }
    }
}

fn has_controller(def: &Domain, kind: ControllerType, index: u32) -> bool {
    def.devices.controllers.iter().any(|controller| {
        controller.controller_type == Some(kind) && controller.index.unwrap_or(0) == index
    })
}

fn push_controller(def: &mut Domain, kind: ControllerType, index: u32, model: Option<&str>) {
    def.devices.controllers.push(Controller {
        controller_type: Some(kind),
        index: Some(index),
        model: model.map(str::to_string),
        ..Default::default()
    });
}

/// The USB controller, PCI root and SATA controller every PC machine has.
fn add_default_controllers(def: &mut Domain, caps: &QemuCaps) {
    let chipset = chipset(def);
    if machine_name(def) == "isapc" || chipset == Chipset::Other {
        return;
    }
    if !has_controller(def, ControllerType::Usb, 0) {
        let model = match chipset {
            Chipset::Q35 if caps.has_device("qemu-xhci") || caps.devices.is_empty() => {
                Some("qemu-xhci")
            }
            Chipset::Q35 => Some("ich9-ehci1"),
            _ => None,
        };
        push_controller(def, ControllerType::Usb, 0, model);
    }
    if chipset == Chipset::Q35 && !has_controller(def, ControllerType::Sata, 0) {
        push_controller(def, ControllerType::Sata, 0, None);
    }
    if !has_controller(def, ControllerType::Pci, 0) {
        let model = if chipset == Chipset::Q35 {
            "pcie-root"
        } else {
            "pci-root"
        };
        push_controller(def, ControllerType::Pci, 0, Some(model));
    }
}

/// Controllers the devices need (libvirt's virDomainDefAddImplicitControllers): an IDE, SATA,
/// SCSI or floppy controller for each disk address, a virtio-serial controller for virtio
/// consoles and channels, a CCID controller for smartcards.
fn add_implicit_controllers(def: &mut Domain) {
    let mut wanted: Vec<(ControllerType, u32)> = Vec::new();
    for disk in &def.devices.disks {
        let kind = match disk.target_bus() {
            Some(DiskBus::Ide) => ControllerType::Ide,
            Some(DiskBus::Sata) => ControllerType::Sata,
            Some(DiskBus::Scsi) => ControllerType::Scsi,
            Some(DiskBus::Fdc) => ControllerType::Fdc,
            _ => continue,
        };
        if let Some(Address::Drive { controller, .. }) = &disk.info.address {
            wanted.push((kind, *controller));
        }
    }
    let virtio_serial = def
        .devices
        .channels
        .iter()
        .chain(def.devices.consoles.iter())
        .filter(|chr| chr.target_type() == Some("virtio"))
        .map(|chr| match &chr.info.address {
            Some(Address::VirtioSerial { controller, .. }) => *controller,
            _ => 0,
        });
    wanted.extend(virtio_serial.map(|controller| (ControllerType::VirtioSerial, controller)));
    if !def.devices.smartcards.is_empty() {
        wanted.push((ControllerType::Ccid, 0));
    }
    for (kind, index) in wanted {
        // The first IDE controller of a Q35 machine is its SATA controller.
        if kind == ControllerType::Ide && chipset(def) == Chipset::Q35 {
            continue;
        }
        if !has_controller(def, kind, index) {
            push_controller(def, kind, index, None);
        }
    }
}

/// A display needs a video device: libvirt adds the machine's default one.
fn add_default_video(def: &mut Domain) {
    let needs_video = def
        .devices
        .graphics
        .iter()
        .any(|graphics| !matches!(graphics.graphics_type, Some(GraphicsType::Rdp)));
    if needs_video && def.devices.videos.is_empty() {
        // The model is the machine's default, chosen with the other device defaults.
        def.devices.videos.push(virt_xml::domain::devices::Video {
            model: Some(virt_xml::domain::devices::VideoModelElement {
                heads: Some(1),
                primary: None,
                ..Default::default()
            }),
            ..Default::default()
        });
    }
}

/// The per-device defaults alone, for a device about to be hotplugged.
pub fn apply_qemu_defaults_for_devices(def: &mut Domain, caps: &QemuCaps) {
    apply_device_defaults(def, caps);
}

/// Per-device defaults: disk driver and format, drive addresses, NIC models, video memory.
fn apply_device_defaults(def: &mut Domain, caps: &QemuCaps) {
    let chipset = chipset(def);
    for disk in &mut def.devices.disks {
        if disk.target.as_ref().and_then(|target| target.bus).is_none() {
            let dev = disk.target_dev().unwrap_or("").to_string();
            let bus = if dev.starts_with("vd") {
                DiskBus::Virtio
            } else if dev.starts_with("sd") {
                DiskBus::Scsi
            } else if dev.starts_with("fd") {
                DiskBus::Fdc
            } else if chipset == Chipset::Q35 {
                DiskBus::Sata
            } else {
                DiskBus::Ide
            };
            disk.target.get_or_insert_with(Default::default).bus = Some(bus);
        }
        if disk.device == Some(DiskDevice::Cdrom) {
            disk.readonly = true;
        }
        let has_source = disk
            .source
            .as_ref()
            .is_some_and(|source| source.path().is_some() || source.protocol.is_some());
        let driver = disk.driver.get_or_insert_with(Default::default);
        if driver.name.is_none() {
            driver.name = Some("qemu".into());
        }
        if driver.format.is_none() && has_source && disk.disk_type != Some(StorageType::Vhostuser) {
            driver.format = Some(StorageFormat::Raw);
        }
        if disk.info.address.is_none() {
            if let Some(address) = default_drive_address(disk) {
                disk.info.address = Some(address);
            }
        }
    }
    for interface in &mut def.devices.interfaces {
        if interface
            .model
            .as_ref()
            .and_then(|model| model.value.as_ref())
            .is_none()
            && interface.interface_type != Some(InterfaceType::Hostdev)
        {
            let model = if interface.interface_type == Some(InterfaceType::Vdpa) {
                "virtio"
            } else if caps.devices.is_empty() || caps.has_device("rtl8139") {
                "rtl8139"
            } else {
                "e1000"
            };
            interface.model = Some(virt_xml::domain::interface::TypeAttr {
                value: Some(model.into()),
            });
        }
    }
    for video in &mut def.devices.videos {
        let model = video.model.get_or_insert_with(Default::default);
        // libvirt's qemuDomainDefaultVideoDevice for x86: Cirrus when QEMU has it.
        let default = if caps.devices.is_empty() || caps.has_device("cirrus-vga") {
            VideoModel::Cirrus
        } else {
            VideoModel::Vga
        };
        let kind = *model.model_type.get_or_insert(default);
        if model.heads.is_none() && kind != VideoModel::None {
            model.heads = Some(1);
        }
        if model.vram.is_none() {
            model.vram = match kind {
                VideoModel::Vga | VideoModel::Cirrus | VideoModel::Vmvga | VideoModel::Bochs => {
                    Some(16384)
                }
                VideoModel::Qxl => Some(65536),
                _ => None,
            };
        }
        if kind == VideoModel::Qxl {
            model.ram.get_or_insert(65536);
            model.vgamem.get_or_insert(16384);
        }
    }
    let several_videos = def.devices.videos.len() > 1;
    if let Some(first) = def.devices.videos.first_mut() {
        if let Some(model) = first.model.as_mut() {
            if model.primary.is_none() && several_videos {
                model.primary = Some(virt_xml::xml::YesNo::Yes);
            }
        }
    }
    for controller in &mut def.devices.controllers {
        if controller.controller_type == Some(ControllerType::Scsi) && controller.model.is_none() {
            let model = if caps.devices.is_empty() || caps.has_device("lsi53c895a") {
                "lsilogic"
            } else {
                "virtio-scsi"
            };
            controller.model = Some(model.into());
        }
        if controller.controller_type == Some(ControllerType::Usb) && controller.model.is_none() {
            controller.model = Some(
                match chipset {
                    Chipset::Q35 => "qemu-xhci",
                    _ => "piix3-uhci",
                }
                .into(),
            );
        }
    }
    // Serials without a target get the next free port; ISA serials are the default model.
    let mut next_port = 0;
    for serial in &mut def.devices.serials {
        let target = serial.target.get_or_insert_with(Default::default);
        match target.port {
            Some(port) => next_port = next_port.max(port + 1),
            None => {
                target.port = Some(next_port);
                next_port += 1;
            }
        }
    }
}

/// libvirt's virDomainDiskDefAssignAddress: the drive address implied by the target name.
fn default_drive_address(disk: &virt_xml::domain::Disk) -> Option<Address> {
    let index = disk_name_index(disk.target_dev()?)?;
    match disk.target_bus()? {
        DiskBus::Ide => Some(Address::Drive {
            controller: index / 4,
            bus: (index % 4) / 2,
            target: 0,
            unit: index % 2,
        }),
        DiskBus::Sata => Some(Address::Drive {
            controller: index / 6,
            bus: 0,
            target: 0,
            unit: index % 6,
        }),
        DiskBus::Scsi => Some(Address::Drive {
            controller: index / 7,
            bus: 0,
            target: 0,
            unit: index % 7,
        }),
        DiskBus::Fdc => Some(Address::Drive {
            controller: 0,
            bus: 0,
            target: 0,
            unit: index % 2,
        }),
        _ => None,
    }
}

/// libvirt's virDiskNameToIndex: `hda` → 0, `vdb` → 1, `sdaa` → 26.
pub fn disk_name_index(name: &str) -> Option<u32> {
    let letters = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    let letters: String = letters
        .chars()
        .take_while(|c| c.is_ascii_lowercase())
        .collect();
    if letters.is_empty() {
        return None;
    }
    let mut index: u32 = 0;
    for (position, c) in letters.chars().enumerate() {
        let digit = c as u32 - 'a' as u32;
        index = if position == 0 {
            digit
        } else {
            (index + 1) * 26 + digit
        };
    }
    Some(index)
}

/// Assigns virtio-serial ports and PCI slots to every device that needs one and has none
/// (`qemuDomainAssignAddresses`).
pub fn assign_addresses(def: &mut Domain) -> Result<(), Error> {
    assign_virtio_serial_ports(def);
    if chipset(def) != Chipset::Other {
        super::pci::assign_pci_addresses(def)?;
    }
    assign_usb_addresses(def);
    Ok(())
}

/// One USB port: taken by a device, or by a hub with ports of its own.
#[derive(Debug, Clone)]
enum UsbPort {
    Used,
    Hub(Vec<Option<UsbPort>>),
}

/// The ports of a USB bus (a controller), or of a hub.
type UsbPorts = Vec<Option<UsbPort>>;

const USB_HUB_PORTS: usize = 8;

/// How many ports a USB controller model offers (UHCI companions of an EHCI offer none of
/// their own).
fn usb_controller_ports(controller: &Controller) -> usize {
    match controller.model.as_deref() {
        None | Some("piix3-uhci" | "piix4-uhci" | "vt82c686b-uhci") => 2,
        Some("ehci" | "ich9-ehci1") => 6,
        Some("pci-ohci") => 3,
        Some("nec-xhci" | "qemu-xhci") => controller.ports.map_or(4, |ports| ports as usize),
        Some("qusb1" | "qusb2") => controller.ports.map_or(8, |ports| ports as usize),
        _ => 0,
    }
}

/// Marks a dotted port path (`2`, `1.3`) as taken; the ports it passes through are hubs.
fn reserve_usb_port(ports: &mut UsbPorts, path: &[usize], hub: bool) {
    let Some((&first, rest)) = path.split_first() else {
        return;
    };
    let Some(slot) = first.checked_sub(1).and_then(|index| ports.get_mut(index)) else {
        return;
    };
    if rest.is_empty() {
        *slot = Some(if hub {
            UsbPort::Hub(vec![None; USB_HUB_PORTS])
        } else {
            UsbPort::Used
        });
        return;
    }
    if !matches!(slot, Some(UsbPort::Hub(_))) {
        *slot = Some(UsbPort::Hub(vec![None; USB_HUB_PORTS]));
    }
    if let Some(UsbPort::Hub(children)) = slot {
        reserve_usb_port(children, rest, hub);
    }
}

/// The first free port of a hub, else the first free port behind one of its hubs
/// (libvirt's `virDomainUSBAddressFindFreePort`).
fn free_usb_port(ports: &UsbPorts) -> Option<Vec<usize>> {
    if let Some(index) = ports.iter().position(Option::is_none) {
        return Some(vec![index + 1]);
    }
    ports
        .iter()
        .enumerate()
        .find_map(|(index, port)| match port {
            Some(UsbPort::Hub(children)) => free_usb_port(children).map(|mut path| {
                path.insert(0, index + 1);
                path
            }),
            _ => None,
        })
}

/// USB ports for the USB devices that have none (libvirt's `qemuDomainAssignUSBAddresses`):
/// existing addresses are reserved, then hubs and every other USB device, in libvirt's
/// device order, take the first free port of the first bus that has one.
fn assign_usb_addresses(def: &mut Domain) {
    let mut buses: Vec<(u32, UsbPorts)> = def
        .devices
        .controllers
        .iter()
        .filter(|controller| controller.controller_type == Some(ControllerType::Usb))
        .map(|controller| {
            (
                controller.index.unwrap_or(0),
                vec![None; usb_controller_ports(controller)],
            )
        })
        .filter(|(_, ports)| !ports.is_empty())
        .collect();
    buses.sort_by_key(|(index, _)| *index);
    if buses.is_empty() {
        return;
    }
    let path_of = |port: &str| -> Vec<usize> {
        port.split('.')
            .map(|part| part.parse().unwrap_or(0))
            .collect()
    };
    let devices = &mut def.devices;
    let is_usb_hostdev = |hostdev: &virt_xml::domain::devices::Hostdev| {
        hostdev.hostdev_type.as_deref() == Some("usb")
    };
    // Every USB device but the hubs, in libvirt's order.
    let mut others: Vec<&mut DeviceInfo> = Vec::new();
    others.extend(
        devices
            .hostdevs
            .iter_mut()
            .filter(|hostdev| is_usb_hostdev(hostdev))
            .map(|hostdev| &mut hostdev.info),
    );
    others.extend(
        devices
            .disks
            .iter_mut()
            .filter(|disk| disk.target_bus() == Some(DiskBus::Usb))
            .map(|disk| &mut disk.info),
    );
    others.extend(
        devices
            .controllers
            .iter_mut()
            .filter(|controller| controller.controller_type == Some(ControllerType::Ccid))
            .map(|controller| &mut controller.info),
    );
    others.extend(
        devices
            .inputs
            .iter_mut()
            .filter(|input| input.bus == Some(InputBus::Usb))
            .map(|input| &mut input.info),
    );
    others.extend(
        devices
            .serials
            .iter_mut()
            .filter(|serial| serial.target_type() == Some("usb-serial"))
            .map(|serial| &mut serial.info),
    );
    others.extend(
        devices
            .sounds
            .iter_mut()
            .filter(|sound| sound.model == Some(SoundModel::Usb))
            .map(|sound| &mut sound.info),
    );
    others.extend(
        devices
            .redirdevs
            .iter_mut()
            .filter(|redirdev| redirdev.bus.is_none_or(|bus| bus == RedirdevBus::Usb))
            .map(|redirdev| &mut redirdev.info),
    );
    let has_port = |info: &DeviceInfo| {
        matches!(&info.address, Some(Address::Usb { port: Some(port), .. })
            if !port.is_empty() && !port.starts_with('0'))
    };
    for info in others.iter() {
        if let Some(Address::Usb {
            bus,
            port: Some(port),
        }) = &info.address
        {
            if has_port(info) {
                if let Some((_, ports)) = buses.iter_mut().find(|(index, _)| index == bus) {
                    reserve_usb_port(ports, &path_of(port), false);
                }
            }
        }
    }
    for hub in devices.hubs.iter() {
        if let Some(Address::Usb {
            bus,
            port: Some(port),
        }) = &hub.info.address
        {
            if has_port(&hub.info) {
                if let Some((_, ports)) = buses.iter_mut().find(|(index, _)| index == bus) {
                    reserve_usb_port(ports, &path_of(port), true);
                }
            }
        }
    }
    let mut assign = |info: &mut DeviceInfo, hub: bool| {
        let wanted_bus = match &info.address {
            Some(Address::Usb { bus, .. }) => Some(*bus),
            _ => None,
        };
        for (index, ports) in buses.iter_mut() {
            if wanted_bus.is_some_and(|bus| bus != *index) {
                continue;
            }
            if let Some(path) = free_usb_port(ports) {
                reserve_usb_port(ports, &path, hub);
                info.address = Some(Address::Usb {
                    bus: *index,
                    port: Some(
                        path.iter()
                            .map(usize::to_string)
                            .collect::<Vec<_>>()
                            .join("."),
                    ),
                });
                return;
            }
        }
    };
    for hub in devices.hubs.iter_mut() {
        if !has_port(&hub.info) {
            assign(&mut hub.info, true);
        }
    }
    for info in others {
        if !has_port(info) {
            assign(info, false);
        }
    }
}

fn assign_virtio_serial_ports(def: &mut Domain) {
    let mut used: Vec<(u32, u32, u32)> = Vec::new();
    let chrs = def
        .devices
        .channels
        .iter()
        .chain(def.devices.consoles.iter());
    for chr in chrs {
        if let Some(Address::VirtioSerial {
            controller,
            bus,
            port,
        }) = &chr.info.address
        {
            used.push((*controller, *bus, *port));
        }
    }
    // Virtio consoles come first and may take port 0, but keep no address: QEMU places
    // them itself (libvirt reserves their ports and leaves them unaddressed).
    for console in &def.devices.consoles {
        if console.target_type() != Some("virtio")
            || matches!(
                &console.info.address,
                Some(Address::VirtioSerial { port, .. }) if *port != 0
            )
        {
            continue;
        }
        let (controller, bus) = match &console.info.address {
            Some(Address::VirtioSerial {
                controller, bus, ..
            }) => (*controller, *bus),
            _ => (0, 0),
        };
        let port = (0..)
            .find(|candidate| !used.contains(&(controller, bus, *candidate)))
            .unwrap_or(0);
        used.push((controller, bus, port));
    }
    for chr in &mut def.devices.channels {
        if chr.target_type() != Some("virtio") {
            continue;
        }
        let (controller, bus) = match &chr.info.address {
            None => (0, 0),
            Some(Address::VirtioSerial {
                controller,
                bus,
                port: 0,
            }) => (*controller, *bus),
            Some(_) => continue,
        };
        let port = (1..)
            .find(|candidate| !used.contains(&(controller, bus, *candidate)))
            .unwrap_or(1);
        used.push((controller, bus, port));
        chr.info.address = Some(Address::VirtioSerial {
            controller,
            bus,
            port,
        });
    }
}

fn set_alias(info: &mut DeviceInfo, alias: String) {
    if info.alias_name().is_none() {
        info.alias = Some(Alias { name: Some(alias) });
    }
}

/// What starting a domain adds to its definition beyond addresses and aliases
/// (qemuDomainPrepareDiskCachemode and friends).
pub fn prepare_for_start(def: &mut Domain) {
    for disk in &mut def.devices.disks {
        let driver = disk.driver.get_or_insert_with(Default::default);
        if driver.cache.is_none() && disk.shareable && !disk.readonly {
            driver.cache = Some(DiskCache::None);
        }
    }
    assign_memory_slots(def);
}

/// DIMMs and NVDIMMs without an address take the lowest free slot (libvirt's
/// `qemuDomainAssignMemorySlots`, at start).
fn assign_memory_slots(def: &mut Domain) {
    let mut used = super::memory::used_memory_slots(def);
    for memory in &mut def.devices.memories {
        if memory.info.address.is_none()
            && matches!(
                memory.model,
                None | Some(MemoryModel::Dimm | MemoryModel::Nvdimm)
            )
        {
            let slot = (0..).find(|slot| !used.contains(slot)).unwrap_or(0);
            used.push(slot);
            memory.info.address = Some(Address::Dimm { slot, base: None });
        }
    }
}

/// Gives every device the alias QEMU will know it by (`qemuAssignDeviceAliases`).
pub fn assign_aliases(def: &mut Domain) {
    let chipset = chipset(def);
    let scsi_models: Vec<(u32, Option<String>)> = def
        .devices
        .controllers
        .iter()
        .filter(|controller| controller.controller_type == Some(ControllerType::Scsi))
        .map(|controller| (controller.index.unwrap_or(0), controller.model.clone()))
        .collect();
    for disk in &mut def.devices.disks {
        let bus = disk.target_bus().unwrap_or(DiskBus::Ide);
        let alias = match (&disk.info.address, bus) {
            (
                Some(Address::Drive {
                    controller,
                    bus: drive_bus,
                    target,
                    unit,
                }),
                bus,
            ) => {
                let lsi = bus == DiskBus::Scsi
                    && scsi_models
                        .iter()
                        .find(|(index, _)| index == controller)
                        .is_some_and(|(_, model)| model.as_deref() == Some("lsilogic"));
                if bus != DiskBus::Scsi || lsi {
                    format!("{}{controller}-{drive_bus}-{unit}", bus.as_str())
                } else {
                    format!("{}{controller}-{drive_bus}-{target}-{unit}", bus.as_str())
                }
            }
            (_, bus) => format!(
                "{}-disk{}",
                bus.as_str(),
                disk.target_dev().and_then(disk_name_index).unwrap_or(0)
            ),
        };
        set_alias(&mut disk.info, alias);
    }
    let mut next_net = next_index(def.devices.interfaces.iter().map(|net| &net.info), "net");
    let mut next_hostdev = next_index(
        def.devices.hostdevs.iter().map(|hostdev| &hostdev.info),
        "hostdev",
    );
    for interface in &mut def.devices.interfaces {
        if interface.info.alias_name().is_some() {
            continue;
        }
        if interface.interface_type == Some(InterfaceType::Hostdev) {
            set_alias(&mut interface.info, format!("hostdev{next_hostdev}"));
            next_hostdev += 1;
        } else {
            set_alias(&mut interface.info, format!("net{next_net}"));
            next_net += 1;
        }
    }
    for (index, fs) in def.devices.filesystems.iter_mut().enumerate() {
        set_alias(&mut fs.info, format!("fs{index}"));
    }
    for (index, sound) in def.devices.sounds.iter_mut().enumerate() {
        set_alias(&mut sound.info, format!("sound{index}"));
    }
    for hostdev in &mut def.devices.hostdevs {
        if hostdev.info.alias_name().is_none() {
            set_alias(&mut hostdev.info, format!("hostdev{next_hostdev}"));
            next_hostdev += 1;
        }
    }
    for (index, redirdev) in def.devices.redirdevs.iter_mut().enumerate() {
        set_alias(&mut redirdev.info, format!("redir{index}"));
    }
    for (index, video) in def.devices.videos.iter_mut().enumerate() {
        set_alias(&mut video.info, format!("video{index}"));
    }
    for controller in &mut def.devices.controllers {
        let index = controller.index.unwrap_or(0);
        let alias = match controller.controller_type {
            Some(ControllerType::Pci) if controller.model.as_deref() == Some("pcie-root") => {
                format!("pcie.{index}")
            }
            Some(ControllerType::Pci) => format!("pci.{index}"),
            Some(ControllerType::Ide) if index == 0 && chipset == Chipset::I440fx => "ide".into(),
            Some(ControllerType::Sata) if index == 0 && chipset == Chipset::Q35 => "ide".into(),
            Some(ControllerType::Usb) if index == 0 => "usb".into(),
            Some(ControllerType::Scsi)
                if index == 0 && controller.model.as_deref() == Some("ncr53c90") =>
            {
                "scsi".into()
            }
            Some(kind) => format!("{}{index}", kind.as_str()),
            None => continue,
        };
        set_alias(&mut controller.info, alias);
    }
    for (index, input) in def.devices.inputs.iter_mut().enumerate() {
        set_alias(&mut input.info, format!("input{index}"));
    }
    for (prefix, list) in [
        ("parallel", &mut def.devices.parallels),
        ("serial", &mut def.devices.serials),
        ("channel", &mut def.devices.channels),
        ("console", &mut def.devices.consoles),
    ] {
        for (index, chr) in list.iter_mut().enumerate() {
            set_alias(&mut chr.info, format!("{prefix}{index}"));
        }
    }
    for (index, hub) in def.devices.hubs.iter_mut().enumerate() {
        set_alias(&mut hub.info, format!("hub{index}"));
    }
    for (index, shmem) in def.devices.shmems.iter_mut().enumerate() {
        set_alias(&mut shmem.info, format!("shmem{index}"));
    }
    for (index, smartcard) in def.devices.smartcards.iter_mut().enumerate() {
        set_alias(&mut smartcard.info, format!("smartcard{index}"));
    }
    if let Some(watchdog) = def.devices.watchdog.as_mut() {
        set_alias(&mut watchdog.info, "watchdog0".into());
    }
    if let Some(balloon) = def.devices.memballoon.as_mut() {
        if balloon.model != Some(MemballoonModel::None) {
            set_alias(&mut balloon.info, "balloon0".into());
        }
    }
    for (index, rng) in def.devices.rngs.iter_mut().enumerate() {
        set_alias(&mut rng.info, format!("rng{index}"));
    }
    for (index, tpm) in def.devices.tpms.iter_mut().enumerate() {
        set_alias(&mut tpm.info, format!("tpm{index}"));
    }
    // DIMMs are named after their slot, the others count per model.
    let mut counts = std::collections::BTreeMap::new();
    for memory in &mut def.devices.memories {
        let prefix = match memory.model {
            Some(MemoryModel::Nvdimm) => "nvdimm",
            Some(MemoryModel::VirtioPmem) => "virtiopmem",
            Some(MemoryModel::VirtioMem) => "virtiomem",
            Some(MemoryModel::SgxEpc) => "epc",
            _ => "dimm",
        };
        let index = match (&memory.info.address, prefix) {
            (Some(Address::Dimm { slot, .. }), "dimm" | "nvdimm") => *slot,
            _ => {
                let count = counts.entry(prefix).or_insert(0u32);
                *count += 1;
                *count - 1
            }
        };
        set_alias(&mut memory.info, format!("{prefix}{index}"));
    }
    if let Some(vsock) = def.devices.vsock.as_mut() {
        set_alias(&mut vsock.info, "vsock0".into());
    }
    if let Some(iommu) = def.devices.iommu.as_mut() {
        set_alias(&mut iommu.info, "iommu0".into());
    }
}

/// The next free `<prefix>N` index among existing aliases.
fn next_index<'a>(infos: impl Iterator<Item = &'a DeviceInfo>, prefix: &str) -> u32 {
    infos
        .filter_map(|info| info.alias_name()?.strip_prefix(prefix)?.parse::<u32>().ok())
        .map(|index| index + 1)
        .max()
        .unwrap_or(0)
}

/// Drops the aliases the driver generated (user aliases `ua-*` stay), for the persistent XML.
pub fn strip_generated_aliases(def: &mut Domain) {
    fn strip(info: &mut DeviceInfo) {
        if !info
            .alias_name()
            .is_some_and(|alias| alias.starts_with("ua-"))
        {
            info.alias = None;
        }
    }
    let devices = &mut def.devices;
    devices.disks.iter_mut().for_each(|d| strip(&mut d.info));
    devices
        .controllers
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices
        .interfaces
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices
        .filesystems
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices.sounds.iter_mut().for_each(|d| strip(&mut d.info));
    devices.hostdevs.iter_mut().for_each(|d| strip(&mut d.info));
    devices
        .redirdevs
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices.videos.iter_mut().for_each(|d| strip(&mut d.info));
    devices.inputs.iter_mut().for_each(|d| strip(&mut d.info));
    devices
        .parallels
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices.serials.iter_mut().for_each(|d| strip(&mut d.info));
    devices.channels.iter_mut().for_each(|d| strip(&mut d.info));
    devices.consoles.iter_mut().for_each(|d| strip(&mut d.info));
    devices.hubs.iter_mut().for_each(|d| strip(&mut d.info));
    devices.shmems.iter_mut().for_each(|d| strip(&mut d.info));
    devices
        .smartcards
        .iter_mut()
        .for_each(|d| strip(&mut d.info));
    devices.rngs.iter_mut().for_each(|d| strip(&mut d.info));
    devices.tpms.iter_mut().for_each(|d| strip(&mut d.info));
    devices.memories.iter_mut().for_each(|d| strip(&mut d.info));
    if let Some(d) = devices.watchdog.as_mut() {
        strip(&mut d.info);
    }
    if let Some(d) = devices.memballoon.as_mut() {
        strip(&mut d.info);
    }
    if let Some(d) = devices.vsock.as_mut() {
        strip(&mut d.info);
    }
    if let Some(d) = devices.iommu.as_mut() {
        strip(&mut d.info);
    }
}

/// A PCI address with `multifunction='on'`, as the integrated devices use.
pub fn pci(slot: u32, function: u32) -> PciAddress {
    PciAddress {
        domain: 0,
        bus: 0,
        slot,
        function,
        multifunction: None,
        zpci: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_to_indexes() {
        assert_eq!(disk_name_index("hda"), Some(0));
        assert_eq!(disk_name_index("vdb"), Some(1));
        assert_eq!(disk_name_index("sdz"), Some(25));
        assert_eq!(disk_name_index("sdaa"), Some(26));
        assert_eq!(disk_name_index("xvdc"), Some(2));
        assert_eq!(disk_name_index("nope"), None);
    }
}
