//! The disks of a definition as VMX slots: the drive addresses, controllers and disk
//! order libvirt's parser gives a definition, the checks `virVMXFormatConfig` makes on
//! them, and the `scsiN`, `ideN:M` and `floppyN` entries.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::{
    Address, ControllerType, Disk, DiskBus, DiskCache, DiskDevice, Domain, StartupPolicy,
    StorageType,
};

use crate::address::{
    default_drive_address, disk_name_to_index, DriveAddress, SCSI_WIDE_BUS_MAX_UNIT,
};
use crate::context::{ScsiControllerModel, VmxContext};
use crate::vmx::{internal_error, unsupported, VmxWriter};
use crate::Result;

/// libvirt's SCSI controller models, in its order (`virDomainControllerModelSCSI`).
const SCSI_MODEL_NAMES: [&str; 13] = [
    "auto",
    "buslogic",
    "lsilogic",
    "lsisas1068",
    "vmpvscsi",
    "ibmvscsi",
    "virtio-scsi",
    "lsisas1078",
    "virtio-transitional",
    "virtio-non-transitional",
    "ncr53c90",
    "dc390",
    "am53c974",
];

/// The SCSI controllers the disks use, then every disk and floppy drive; whether there is
/// a SCSI controller.
pub(super) fn write_disks(
    vmx: &mut VmxWriter,
    ctx: &dyn VmxContext,
    domain: &Domain,
) -> Result<bool> {
    let disks = prepared_disks(domain)?;
    let mut controllers = prepared_controllers(domain, &disks)?;
    for disk in &disks {
        verify_disk_address(disk)?;
        apply_legacy_driver_name(&mut controllers, disk)?;
    }
    let scsi_models = gather_scsi_controllers(ctx, &controllers, &disks)?;
    let mut has_scsi = false;
    for (index, model) in scsi_models.iter().enumerate() {
        let Some(model) = model else {
            continue;
        };
        has_scsi = true;
        vmx.set(format!("scsi{index}.present"), "true");
        if let Some(model) = model {
            vmx.set(format!("scsi{index}.virtualDev"), model.vmx_name());
        }
    }
    let mut floppy_present = [false; 2];
    for disk in &disks {
        match disk.device {
            DiskDevice::Floppy => write_floppy(vmx, ctx, disk, &mut floppy_present)?,
            _ => write_disk(vmx, ctx, disk)?,
        }
    }
    for (unit, present) in floppy_present.iter().enumerate() {
        // A floppy drive is there unless the file says otherwise.
        if !present {
            vmx.set(format!("floppy{unit}.present"), "false");
        }
    }
    Ok(has_scsi)
}

/// A disk with what libvirt's parser fills in: its device, bus, storage type and drive
/// address.
struct PreparedDisk<'a> {
    disk: &'a Disk,
    device: DiskDevice,
    bus: DiskBus,
    dst: String,
    storage: StorageType,
    address: Option<&'a Address>,
    /// The address the target name gives, `None` for a name that is no disk name.
    default_address: Option<DriveAddress>,
}

impl PreparedDisk<'_> {
    fn source(&self) -> Option<&str> {
        self.disk.source_path()
    }

    fn drive_controller(&self) -> Option<u32> {
        match self.address {
            Some(Address::Drive { controller, .. }) => Some(*controller),
            None => self.default_address.map(|address| address.controller),
            _ => None,
        }
    }
}

/// The disks in the order libvirt keeps them (grouped by bus, by target name within a bus).
fn prepared_disks(domain: &Domain) -> Result<Vec<PreparedDisk<'_>>> {
    let mut disks: Vec<PreparedDisk<'_>> = Vec::new();
    for disk in &domain.devices.disks {
        let Some(dst) = disk.target_dev() else {
            return Err(Error::new(
                ErrorNumber::NO_TARGET,
                ErrorDomain::DOMAIN,
                disk.source_path().unwrap_or(""),
            ));
        };
        let device = disk.device.unwrap_or(DiskDevice::Disk);
        let bus = disk
            .target_bus()
            .unwrap_or(if device == DiskDevice::Floppy {
                DiskBus::Fdc
            } else if dst.starts_with("sd") {
                DiskBus::Scsi
            } else if dst.starts_with("vd") {
                DiskBus::Virtio
            } else if dst.starts_with("xvd") {
                DiskBus::Xen
            } else if dst.starts_with("ubd") {
                DiskBus::Uml
            } else {
                DiskBus::Ide
            });
        let prepared = PreparedDisk {
            disk,
            device,
            bus,
            dst: dst.to_string(),
            storage: disk.disk_type.unwrap_or(StorageType::File),
            address: disk.info.address.as_ref(),
            default_address: default_drive_address(bus, dst, SCSI_WIDE_BUS_MAX_UNIT),
        };
        // virDomainDiskInsert: after the last disk of its bus, before the first of them
        // with a higher index.
        let index = disk_name_to_index(dst).map_or(-1, i64::from);
        let mut insert_at: Option<usize> = None;
        for position in (0..disks.len()).rev() {
            let other = &disks[position];
            if other.bus != bus {
                continue;
            }
            if disk_name_to_index(&other.dst).map_or(-1, i64::from) > index {
                insert_at = Some(position);
            } else if insert_at.is_none() {
                insert_at = Some(position + 1);
            }
        }
        match insert_at {
            Some(position) => disks.insert(position, prepared),
            None => disks.push(prepared),
        }
    }
    Ok(disks)
}

/// A controller as far as the SCSI model decisions go: its type, index and model keyword
/// (libvirt's SCSI model names; `None` for the default).
struct PreparedController {
    controller_type: Option<ControllerType>,
    index: u32,
    model: Option<&'static str>,
}

/// The controllers in libvirt's order: those written, grouped by type as its parser
/// inserts them, then the ones the disks imply (SCSI, floppy, IDE, SATA).
fn prepared_controllers(
    domain: &Domain,
    disks: &[PreparedDisk<'_>],
) -> Result<Vec<PreparedController>> {
    let mut controllers: Vec<PreparedController> = Vec::new();
    for controller in &domain.devices.controllers {
        let model = match (&controller.model, controller.controller_type) {
            (None, _) => None,
            (Some(model), Some(ControllerType::Scsi)) => {
                Some(SCSI_MODEL_NAMES.iter().copied().find(|name| name == model).ok_or_else(|| {
                    Error::new(
                        ErrorNumber::XML_ERROR,
                        ErrorDomain::DOMAIN,
                        format!("Invalid value for attribute 'model' in element 'controller': '{model}'."),
                    )
                })?)
            }
            // Other controller types' models mean nothing to VMware.
            (Some(_), _) => None,
        };
        let prepared = PreparedController {
            controller_type: controller.controller_type,
            index: controller.index.unwrap_or(0),
            model,
        };
        let mut insert_at: Option<usize> = None;
        for position in (0..controllers.len()).rev() {
            let current = &controllers[position];
            if current.controller_type != prepared.controller_type {
                continue;
            }
            if current.index > prepared.index {
                insert_at = Some(position);
            } else if insert_at.is_none() {
                insert_at = Some(position + 1);
            }
        }
        match insert_at {
            Some(position) => controllers.insert(position, prepared),
            None => controllers.push(prepared),
        }
    }
    for (controller_type, bus) in [
        (ControllerType::Scsi, DiskBus::Scsi),
        (ControllerType::Fdc, DiskBus::Fdc),
        (ControllerType::Ide, DiskBus::Ide),
        (ControllerType::Sata, DiskBus::Sata),
    ] {
        let highest = disks
            .iter()
            .filter(|disk| disk.bus == bus)
            .filter_map(PreparedDisk::drive_controller)
            .max();
        for index in highest.map_or(0..0, |highest| 0..highest + 1) {
            let present = controllers.iter().any(|controller| {
                controller.controller_type == Some(controller_type) && controller.index == index
            });
            if !present {
                controllers.push(PreparedController {
                    controller_type: Some(controller_type),
                    index,
                    model: None,
                });
            }
        }
    }
    Ok(controllers)
}

/// The disk's address must be the one its target name gives, on a bus VMX has, within
/// that bus's range.
fn verify_disk_address(disk: &PreparedDisk<'_>) -> Result<()> {
    let (controller, bus, unit) = match disk.address {
        Some(Address::Drive {
            controller,
            bus,
            unit,
            ..
        }) => (*controller, *bus, *unit),
        None => match disk.default_address {
            Some(address) => (address.controller, address.bus, address.unit),
            None => {
                return Err(Error::new(
                    ErrorNumber::XML_ERROR,
                    ErrorDomain::DOMAIN,
                    format!("Unknown disk name '{}' and no address specified", disk.dst),
                ))
            }
        },
        Some(other) => {
            return Err(unsupported(format!(
                "Unsupported disk address type '{}'",
                other.type_name()
            )))
        }
    };
    let Some(expected) = disk.default_address else {
        return Err(internal_error("Could not verify disk address"));
    };
    if (expected.controller, expected.bus, expected.unit) != (controller, bus, unit) {
        return Err(internal_error(format!(
            "Disk address {controller}:{bus}:{unit} doesn't match target device '{}'",
            disk.dst
        )));
    }
    let range_error = |what: &str, value: u32, range: &str| {
        Err(internal_error(format!(
            "{what} index {value} out of [{range}] range"
        )))
    };
    match disk.bus {
        DiskBus::Scsi => {
            if controller > 3 {
                return range_error("SCSI controller", controller, "0..3");
            }
            if bus != 0 {
                return range_error("SCSI bus", bus, "0");
            }
            if unit > 15 || unit == 7 {
                return range_error("SCSI unit", unit, "0..6,8..15");
            }
        }
        DiskBus::Ide => {
            if controller != 0 {
                return range_error("IDE controller", controller, "0");
            }
            if bus > 1 {
                return range_error("IDE bus", bus, "0..1");
            }
            if unit > 1 {
                return range_error("IDE unit", unit, "0..1");
            }
        }
        DiskBus::Fdc => {
            if controller != 0 {
                return range_error("FDC controller", controller, "0");
            }
            if bus != 0 {
                return range_error("FDC bus", bus, "0");
            }
            if unit > 1 {
                return range_error("FDC unit", unit, "0..1");
            }
        }
        other => {
            return Err(unsupported(format!(
                "Unsupported bus type '{}'",
                other.as_str()
            )));
        }
    }
    Ok(())
}

/// Old domain XML named a SCSI disk's controller model as the disk's driver name; it sets
/// the model of the controller with the disk's controller index, or must agree with it.
fn apply_legacy_driver_name(
    controllers: &mut [PreparedController],
    disk: &PreparedDisk<'_>,
) -> Result<()> {
    let driver = disk
        .disk
        .driver
        .as_ref()
        .and_then(|driver| driver.name.as_deref());
    let (DiskBus::Scsi, Some(driver)) = (disk.bus, driver) else {
        return Ok(());
    };
    let lower = driver.to_ascii_lowercase();
    let Some(model) = SCSI_MODEL_NAMES.iter().copied().find(|name| *name == lower) else {
        return Err(internal_error(format!("Unknown driver name '{driver}'")));
    };
    let index = disk.drive_controller().unwrap_or(0);
    // libvirt looks the index up among all controllers, whatever their type.
    let Some(controller) = controllers
        .iter_mut()
        .find(|controller| controller.index == index)
    else {
        return Err(internal_error(format!(
            "Missing SCSI controller for index {index}"
        )));
    };
    match controller.model {
        None => controller.model = Some(model),
        Some(current) if current == model => {}
        Some(current) => {
            return Err(internal_error(format!(
                "Inconsistent SCSI controller model ('{driver}' is not '{current}') for SCSI controller index {}",
                controller.index
            )))
        }
    }
    Ok(())
}

/// For each SCSI controller index 0..3: `None` when no disk uses it, else its model (`None`
/// for VMware's default).
fn gather_scsi_controllers(
    ctx: &dyn VmxContext,
    controllers: &[PreparedController],
    disks: &[PreparedDisk<'_>],
) -> Result<[Option<Option<ScsiControllerModel>>; 4]> {
    let mut models: [Option<Option<ScsiControllerModel>>; 4] = [None; 4];
    for controller in controllers {
        if controller.controller_type != Some(ControllerType::Scsi) {
            continue;
        }
        let attached: Vec<&PreparedDisk<'_>> = disks
            .iter()
            .filter(|disk| {
                disk.bus == DiskBus::Scsi && disk.drive_controller() == Some(controller.index)
            })
            .collect();
        if attached.is_empty() {
            continue;
        }
        let mut model_name = controller.model;
        let mut model = None;
        if model_name == Some("auto") {
            let mut detected: Vec<ScsiControllerModel> = Vec::new();
            for disk in &attached {
                match ctx.autodetect_scsi_controller_model(disk.disk) {
                    Some(found) => detected.push(found?),
                    None => break,
                }
            }
            if let Some(first) = detected.first().copied() {
                if detected.iter().any(|found| *found != first) {
                    return Err(internal_error(format!(
                        "Disks on SCSI controller {} have inconsistent controller models, cannot autodetect model",
                        controller.index
                    )));
                }
                model_name = Some(first.xml_name());
            }
        }
        if let Some(name) = model_name {
            model = Some(
                [
                    ScsiControllerModel::Buslogic,
                    ScsiControllerModel::Lsilogic,
                    ScsiControllerModel::Lsisas1068,
                    ScsiControllerModel::Vmpvscsi,
                ]
                .into_iter()
                .find(|model| model.xml_name() == name)
                .ok_or_else(|| {
                    internal_error(format!(
                        "Expecting domain XML attribute 'model' of entry 'controller' to be 'buslogic' or 'lsilogic' or 'lsisas1068' or 'vmpvscsi' but found '{name}'"
                    ))
                })?,
            );
        }
        if let Some(slot) = models.get_mut(controller.index as usize) {
            *slot = Some(model);
        }
    }
    Ok(models)
}

fn write_disk(vmx: &mut VmxWriter, ctx: &dyn VmxContext, disk: &PreparedDisk<'_>) -> Result<()> {
    let bus = disk.bus.as_str();
    let device = disk.device.as_str();
    let dst = &disk.dst;
    if disk.storage != StorageType::File && disk.storage != StorageType::Block {
        return Err(unsupported(format!(
            "{bus} {device} '{dst}' has unsupported type '{}', expecting 'file' or 'block'",
            disk.storage.as_str()
        )));
    }
    let index = disk_name_to_index(dst);
    let (controller_or_bus, unit) = match disk.bus {
        DiskBus::Scsi => {
            if !dst.starts_with("sd") {
                return Err(internal_error(
                    "Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'sd'",
                ));
            }
            let index = index.ok_or_else(|| {
                internal_error(format!("Could not parse valid disk index from '{dst}'"))
            })?;
            // Four controllers of one bus with 15 units each.
            if index >= 4 * 15 {
                return Err(internal_error(format!(
                    "SCSI disk index (parsed from '{dst}') is too large"
                )));
            }
            let unit = index % 15;
            (index / 15, if unit >= 7 { unit + 1 } else { unit })
        }
        DiskBus::Ide => {
            if !dst.starts_with("hd") {
                return Err(internal_error(
                    "Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'hd'",
                ));
            }
            let index = index.ok_or_else(|| {
                internal_error(format!("Could not parse valid disk index from '{dst}'"))
            })?;
            if index >= 2 * 2 {
                return Err(internal_error(format!(
                    "IDE disk index (parsed from '{dst}') is too large"
                )));
            }
            (index / 2, index % 2)
        }
        _ => {
            return Err(unsupported(format!(
                "Unsupported bus type '{bus}' for {device}"
            )));
        }
    };
    let source = disk.source();
    let device_type = match (disk.device, disk.storage) {
        (DiskDevice::Disk, StorageType::File) => {
            if disk.bus == DiskBus::Scsi {
                "scsi-hardDisk"
            } else {
                "ata-hardDisk"
            }
        }
        (DiskDevice::Cdrom, StorageType::File) => "cdrom-image",
        (DiskDevice::Cdrom, _) => "atapi-cdrom",
        (DiskDevice::Lun, _) => {
            if disk.bus == DiskBus::Scsi
                && source.is_some_and(|source| source.starts_with("/vmfs/devices/cdrom/"))
            {
                "scsi-passthru"
            } else {
                "cdrom-raw"
            }
        }
        (_, storage) => {
            return Err(unsupported(format!(
                "{bus} {device} '{dst}' has an unsupported type '{}'",
                storage.as_str()
            )))
        }
    };
    let prefix = format!("{bus}{controller_or_bus}:{unit}");
    vmx.set(format!("{prefix}.present"), "true");
    vmx.set(format!("{prefix}.deviceType"), device_type);
    if disk.storage == StorageType::File {
        let extension = if disk.device == DiskDevice::Disk {
            ".vmdk"
        } else {
            ".iso"
        };
        let file_name = match source {
            Some(source) => {
                let matches = source.len() >= extension.len()
                    && source.as_bytes()[source.len() - extension.len()..]
                        .eq_ignore_ascii_case(extension.as_bytes());
                if !matches {
                    return Err(internal_error(format!(
                        "Image file for {bus} {device} '{dst}' has unsupported suffix, expecting '{extension}'"
                    )));
                }
                ctx.format_file_name(source)?
            }
            None if disk.device == DiskDevice::Cdrom => "emptyBackingString".to_string(),
            None => {
                return Err(unsupported(format!("{bus} {device} '{dst}' has no source")));
            }
        };
        vmx.set(format!("{prefix}.fileName"), file_name);
    } else {
        let startup_policy = disk
            .disk
            .source
            .as_ref()
            .and_then(|source| source.startup_policy);
        match source {
            None if startup_policy == Some(StartupPolicy::Optional) => {
                vmx.set(format!("{prefix}.autodetect"), "true");
                vmx.set(format!("{prefix}.fileName"), "auto detect");
            }
            Some(source) => vmx.set(format!("{prefix}.fileName"), source),
            None => {
                return Err(unsupported(format!("{bus} {device} '{dst}' has no source")));
            }
        }
    }
    if disk.bus == DiskBus::Scsi {
        match disk.disk.driver.as_ref().and_then(|driver| driver.cache) {
            None => {}
            Some(DiskCache::Writethrough) => vmx.set(format!("{prefix}.writeThrough"), "true"),
            Some(other) => {
                return Err(unsupported(format!(
                    "{bus} harddisk '{dst}' has unsupported cache mode '{}'",
                    other.as_str()
                )))
            }
        }
    }
    if disk.disk.transient.is_some() {
        vmx.set(format!("{prefix}.mode"), "independent-nonpersistent");
    }
    Ok(())
}

fn write_floppy(
    vmx: &mut VmxWriter,
    ctx: &dyn VmxContext,
    disk: &PreparedDisk<'_>,
    floppy_present: &mut [bool; 2],
) -> Result<()> {
    let dst = &disk.dst;
    if !dst.starts_with("fd") {
        return Err(internal_error(
            "Expecting domain XML attribute 'dev' of entry 'devices/disk/target' to start with 'fd'",
        ));
    }
    let unit = disk_name_to_index(dst)
        .ok_or_else(|| internal_error(format!("Could not parse valid disk index from '{dst}'")))?;
    if unit >= 2 {
        return Err(internal_error(format!(
            "Floppy disk index (parsed from '{dst}') is too large"
        )));
    }
    floppy_present[unit as usize] = true;
    let prefix = format!("floppy{unit}");
    vmx.set(format!("{prefix}.present"), "true");
    match disk.storage {
        StorageType::File => {
            vmx.set(format!("{prefix}.fileType"), "file");
            if let Some(source) = disk.source() {
                vmx.set(format!("{prefix}.fileName"), ctx.format_file_name(source)?);
            }
        }
        StorageType::Block => {
            vmx.set(format!("{prefix}.fileType"), "device");
            if let Some(source) = disk.source() {
                vmx.set(format!("{prefix}.fileName"), source);
            }
        }
        other => {
            return Err(unsupported(format!(
                "Floppy '{dst}' has unsupported type '{}', expecting 'file' or 'block'",
                other.as_str()
            )))
        }
    }
    Ok(())
}
