//! The disks of a VMX file: the SCSI and SATA controllers and their slots, the IDE
//! buses and the floppy drives, each slot read as a hard disk or as a CD-ROM the way
//! libvirt's `virVMXParseDisk` tells them apart.

use virt_xml::domain::disk::Transient;
use virt_xml::domain::{
    Address, ControllerType, Devices, Disk, DiskBus, DiskCache, DiskDevice, DiskDriver, DiskSource,
    DiskTarget, StartupPolicy, StorageType,
};

use super::{add_controller, Reader};
use crate::address::{default_drive_address, index_to_disk_name};
use crate::context::ScsiControllerModel;
use crate::vmx::internal_error;
use crate::Result;

/// The kind of device a VMX disk slot is read as (each slot is tried as a hard disk, then
/// as a CD-ROM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotDevice {
    Disk,
    Cdrom,
    Floppy,
}

impl Reader<'_> {
    /// SCSI, SATA, IDE and floppy disks in that order, with the SCSI and SATA controllers
    /// up to the one the last disk of their bus sits on.
    pub(super) fn read_disks(&self, devices: &mut Devices) -> Result<()> {
        let mut scsi_models: [Option<ScsiControllerModel>; 4] = [None; 4];
        for controller in 0..4u32 {
            let Some(model) = self.read_scsi_controller(controller)? else {
                continue;
            };
            scsi_models[controller as usize] = model;
            for unit in 0..self.scsi_bus_max_unit {
                // Unit 7 is the controller itself.
                if unit == 7 {
                    continue;
                }
                devices
                    .disks
                    .extend(self.read_disk_or_cdrom(DiskBus::Scsi, controller, unit)?);
            }
        }
        if let Some(last) = devices.disks.last() {
            for index in 0..=drive_controller(last) {
                let model = scsi_models.get(index as usize).copied().flatten();
                add_controller(devices, ControllerType::Scsi, index, model);
            }
        }
        let n_scsi_disks = devices.disks.len();
        for controller in 0..4u32 {
            if !self
                .file
                .boolean(&format!("sata{controller}.present"), false)?
            {
                continue;
            }
            for unit in 0..30 {
                devices
                    .disks
                    .extend(self.read_disk_or_cdrom(DiskBus::Sata, controller, unit)?);
            }
        }
        if devices.disks.len() > n_scsi_disks {
            if let Some(last) = devices.disks.last() {
                for index in 0..=drive_controller(last) {
                    add_controller(devices, ControllerType::Sata, index, None);
                }
            }
        }
        for bus in 0..2u32 {
            for unit in 0..2u32 {
                devices
                    .disks
                    .extend(self.read_disk_or_cdrom(DiskBus::Ide, bus, unit)?);
            }
        }
        for unit in 0..2u32 {
            devices
                .disks
                .extend(self.read_disk(SlotDevice::Floppy, DiskBus::Fdc, 0, unit)?);
        }
        Ok(())
    }

    /// `Some(model)` when `scsiN.present` says the controller is there.
    fn read_scsi_controller(&self, controller: u32) -> Result<Option<Option<ScsiControllerModel>>> {
        let file = self.file;
        if !file.boolean(&format!("scsi{controller}.present"), false)? {
            return Ok(None);
        }
        let name = format!("scsi{controller}.virtualDev");
        let Some(virtual_dev) = file.string(&name, false)? else {
            return Ok(Some(None));
        };
        let virtual_dev = virtual_dev.to_ascii_lowercase();
        match ScsiControllerModel::from_vmx_name(&virtual_dev) {
            Some(model) => Ok(Some(Some(model))),
            None => Err(internal_error(format!(
                "Expecting VMX entry '{name}' to be 'buslogic' or 'lsilogic' or 'lsisas1068' or 'pvscsi' but found '{virtual_dev}'"
            ))),
        }
    }

    fn read_disk_or_cdrom(
        &self,
        bus: DiskBus,
        controller_or_bus: u32,
        unit: u32,
    ) -> Result<Option<Disk>> {
        match self.read_disk(SlotDevice::Disk, bus, controller_or_bus, unit)? {
            Some(disk) => Ok(Some(disk)),
            None => self.read_disk(SlotDevice::Cdrom, bus, controller_or_bus, unit),
        }
    }

    /// One disk slot read as `device`; `None` when the slot is empty, unplugged, a client
    /// device, or holds a device of the other kind.
    fn read_disk(
        &self,
        device: SlotDevice,
        bus: DiskBus,
        controller_or_bus: u32,
        unit: u32,
    ) -> Result<Option<Disk>> {
        let file = self.file;
        let (prefix, dst) = match bus {
            DiskBus::Scsi => {
                let index = controller_or_bus * 15 + if unit < 7 { unit } else { unit - 1 };
                (
                    format!("scsi{controller_or_bus}:{unit}"),
                    index_to_disk_name(index, "sd"),
                )
            }
            DiskBus::Sata => (
                format!("sata{controller_or_bus}:{unit}"),
                index_to_disk_name(controller_or_bus * 30 + unit, "sd"),
            ),
            DiskBus::Ide => (
                format!("ide{controller_or_bus}:{unit}"),
                index_to_disk_name(controller_or_bus * 2 + unit, "hd"),
            ),
            _ => (format!("floppy{unit}"), index_to_disk_name(unit, "fd")),
        };
        let entry = |suffix: &str| format!("{prefix}.{suffix}");
        let present = file.boolean(&entry("present"), false)?;
        // Read for its errors only: a device not connected at start is still defined.
        file.boolean(&entry("startConnected"), true)?;
        if !present {
            return Ok(None);
        }
        let device_type = file.string(&entry("deviceType"), false)?;
        let client_device = file.boolean(&entry("clientDevice"), false)?;
        let mode = file.string(&entry("mode"), false)?;
        if client_device {
            // A device the VI client attaches has nothing libvirt can show.
            return Ok(None);
        }
        let file_type = file.string(&entry("fileType"), false)?;
        let file_name = file.string(&entry("fileName"), false)?;
        let write_through = file.boolean(&entry("writeThrough"), false)?;

        let device_type_is = |name: &str| {
            device_type
                .as_deref()
                .is_some_and(|device_type| device_type.eq_ignore_ascii_case(name))
        };
        let file_name_ends = |suffix: &str| {
            file_name
                .as_deref()
                .is_some_and(|name| has_suffix_ignore_case(name, suffix))
        };
        let not_handled = || {
            internal_error(format!(
                "Invalid or not yet handled value '{}' for VMX entry '{}' for device type '{}'",
                file_name.as_deref().unwrap_or("<null>"),
                entry("fileName"),
                device_type.as_deref().unwrap_or("unknown")
            ))
        };
        let expecting_cdrom_image = || {
            internal_error(format!(
                "Expecting VMX entry '{}' to be 'cdrom-image' but found '{}'",
                entry("deviceType"),
                device_type.as_deref().unwrap_or("")
            ))
        };

        let mut disk = Disk {
            device: Some(match device {
                SlotDevice::Disk => DiskDevice::Disk,
                SlotDevice::Cdrom => DiskDevice::Cdrom,
                SlotDevice::Floppy => DiskDevice::Floppy,
            }),
            ..Disk::default()
        };
        let mut source = DiskSource::default();
        match device {
            SlotDevice::Disk => {
                let cdrom_passthrough = device_type_is("scsi-passthru")
                    && file_name
                        .as_deref()
                        .is_some_and(|name| name.starts_with("/vmfs/devices/cdrom/"));
                if file_name.is_none()
                    || file_name_ends(".iso")
                    || file_name.as_deref() == Some("emptyBackingString")
                    || device_type_is("atapi-cdrom")
                    || device_type_is("cdrom-raw")
                    || device_type_is("cdrom-image")
                    || cdrom_passthrough
                {
                    // A CD-ROM: the second look at this slot reads it.
                    return Ok(None);
                }
                if !file_name_ends(".vmdk") {
                    return Err(not_handled());
                }
                if let Some(found) = device_type.as_deref() {
                    let expected = match bus {
                        DiskBus::Scsi => Some("scsi-hardDisk"),
                        DiskBus::Ide => Some("ata-hardDisk"),
                        _ => None,
                    };
                    if let Some(expected) = expected {
                        if !found.eq_ignore_ascii_case(expected)
                            && !found.eq_ignore_ascii_case("disk")
                        {
                            return Err(internal_error(format!(
                                "Expecting VMX entry '{}' to be '{expected}' or 'disk' but found '{found}'",
                                entry("deviceType")
                            )));
                        }
                    }
                }
                disk.disk_type = Some(StorageType::File);
                source.file = self.map_file_name(&entry("fileName"), &file_name, false)?;
                if write_through {
                    disk.driver = Some(DiskDriver {
                        cache: Some(DiskCache::Writethrough),
                        ..DiskDriver::default()
                    });
                }
                if mode.is_some_and(|mode| mode.eq_ignore_ascii_case("independent-nonpersistent")) {
                    disk.transient = Some(Transient::default());
                }
            }
            SlotDevice::Cdrom => {
                disk.readonly = true;
                let auto_detect = file_name
                    .as_deref()
                    .is_some_and(|name| name.eq_ignore_ascii_case("auto detect"));
                if file_name_ends(".vmdk") {
                    // A hard disk, read by the first look at this slot.
                    return Ok(None);
                } else if file_name_ends(".iso") {
                    if device_type.is_some() && !device_type_is("cdrom-image") {
                        return Err(expecting_cdrom_image());
                    }
                    disk.disk_type = Some(StorageType::File);
                    source.file = self.map_file_name(&entry("fileName"), &file_name, true)?;
                } else if device_type_is("atapi-cdrom") || device_type_is("cdrom-raw") {
                    if device_type_is("cdrom-raw") {
                        // Raw access makes the drive a LUN.
                        disk.device = Some(DiskDevice::Lun);
                    }
                    disk.disk_type = Some(StorageType::Block);
                    if auto_detect {
                        source.startup_policy = Some(StartupPolicy::Optional);
                    } else {
                        source.dev = file_name.clone();
                    }
                } else if bus == DiskBus::Scsi && device_type_is("scsi-passthru") {
                    if !file_name
                        .as_deref()
                        .is_some_and(|name| name.starts_with("/vmfs/devices/cdrom/"))
                    {
                        // Not a CD-ROM after all.
                        return Ok(None);
                    }
                    disk.device = Some(DiskDevice::Lun);
                    disk.disk_type = Some(StorageType::Block);
                    source.dev = file_name.clone();
                } else if file_name.as_deref() == Some("emptyBackingString") {
                    if device_type.is_some() && !device_type_is("cdrom-image") {
                        return Err(expecting_cdrom_image());
                    }
                    disk.disk_type = Some(StorageType::File);
                } else {
                    return Err(not_handled());
                }
            }
            SlotDevice::Floppy => {
                let file_type = file_type.as_deref().unwrap_or("");
                if file_type.eq_ignore_ascii_case("device") {
                    disk.disk_type = Some(StorageType::Block);
                    source.dev = file_name.clone();
                } else if file_type.eq_ignore_ascii_case("file") {
                    disk.disk_type = Some(StorageType::File);
                    if file_name.is_some() {
                        source.file = self.map_file_name(&entry("fileName"), &file_name, false)?;
                    }
                } else {
                    return Err(not_handled());
                }
            }
        }
        if source != DiskSource::default() {
            disk.source = Some(source);
        }
        let address =
            default_drive_address(bus, &dst, self.scsi_bus_max_unit).ok_or_else(|| {
                internal_error(format!(
                    "Could not assign address to disk '{}'",
                    disk.source_path().unwrap_or("")
                ))
            })?;
        disk.target = Some(DiskTarget {
            dev: Some(dst),
            bus: Some(bus),
            ..DiskTarget::default()
        });
        disk.info.address = Some(Address::Drive {
            controller: address.controller,
            bus: address.bus,
            target: 0,
            unit: address.unit,
        });
        Ok(Some(disk))
    }
}

/// The drive controller a disk read from VMX sits on.
fn drive_controller(disk: &Disk) -> u32 {
    match disk.info.address {
        Some(Address::Drive { controller, .. }) => controller,
        _ => 0,
    }
}

fn has_suffix_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}
