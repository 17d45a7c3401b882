//! Define-time device and firmware rules (`domain_validate.c`): drive address conflicts,
//! character device sources, PCI controller options, duplicate host devices, huge pages,
//! firmware/loader/NVRAM combinations, video, and each disk's own rules.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::domain::address::Address;
use crate::domain::checks::parse_id_set;
use crate::domain::devices::{Hostdev, HostdevSource, Video};
use crate::domain::disk::{Disk, DiskSource};
use crate::domain::enums::*;
use crate::domain::Domain;
use crate::xml::YesNo;
use crate::Result;

fn unsupported(message: impl AsRef<str>) -> Error {
    Error::new(
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::DOMAIN,
        message,
    )
}

fn xml_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::DOMAIN, message)
}

fn detail(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_DETAIL, ErrorDomain::DOMAIN, message)
}

fn internal(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::DOMAIN, message)
}

impl Domain {
    pub(super) fn validate_duplicate_drive_addresses(&self) -> Result<()> {
        let disks = &self.devices.disks;
        for (idx, disk) in disks.iter().enumerate() {
            let Some(Address::Drive {
                controller,
                bus,
                target,
                unit,
            }) = &disk.info.address
            else {
                continue;
            };
            for other in &disks[idx + 1..] {
                if other.target_bus() == disk.target_bus()
                    && other.info.address == disk.info.address
                {
                    return Err(unsupported(format!(
                        "Found duplicate drive address for disk with target name '{}' controller='{controller}' bus='{bus}' target='{target}' unit='{unit}'",
                        disk.target_dev().unwrap_or("")
                    )));
                }
            }
        }
        let scsi_hostdevs: Vec<&Hostdev> = self
            .devices
            .hostdevs
            .iter()
            .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("scsi"))
            .collect();
        for (idx, hostdev) in scsi_hostdevs.iter().enumerate() {
            let Some(Address::Drive {
                controller,
                bus,
                target,
                unit,
            }) = &hostdev.info.address
            else {
                continue;
            };
            // libvirt prints bus and controller the other way round in these messages.
            if scsi_hostdevs[idx + 1..]
                .iter()
                .any(|other| other.info.address == hostdev.info.address)
            {
                return Err(unsupported(format!(
                    "SCSI host address controller='{bus}' bus='{controller}' target='{target}' unit='{unit}' in use by another SCSI host device"
                )));
            }
            if disks.iter().any(|disk| {
                disk.target_bus() == Some(DiskBus::Scsi)
                    && disk.info.address == hostdev.info.address
            }) {
                return Err(unsupported(format!(
                    "SCSI host address controller='{bus}' bus='{controller}' target='{target}' unit='{unit}' in use by another SCSI disk"
                )));
            }
        }
        Ok(())
    }

    /// The backends of character devices, and of the devices that embed one (USB
    /// redirection, smartcard passthrough, an EGD random number source), have what their
    /// type needs (`virDomainChrSourceDefValidate`); USB redirection needs USB.
    pub(super) fn validate_chardevs(&self) -> Result<()> {
        let devices = &self.devices;
        let all = devices
            .serials
            .iter()
            .chain(devices.parallels.iter())
            .chain(devices.consoles.iter())
            .map(|chr| (chr.chr_type, chr.sources.first(), false));
        let channels = devices.channels.iter().map(|chr| {
            let auto_path = matches!(chr.target_type(), Some("virtio") | Some("xen"));
            (chr.chr_type, chr.sources.first(), auto_path)
        });
        let redirdevs = devices
            .redirdevs
            .iter()
            .map(|redirdev| (redirdev.chr_type, redirdev.sources.first(), false));
        let smartcards = devices
            .smartcards
            .iter()
            .filter(|card| card.mode == Some(SmartcardMode::Passthrough))
            .map(|card| (card.chr_type, card.sources.first(), false));
        let rngs = devices
            .rngs
            .iter()
            .filter_map(|rng| rng.backend.as_ref())
            .filter(|backend| backend.model == Some(RngBackend::Egd))
            .map(|backend| (backend.chr_type, backend.sources.first(), false));
        for (kind, source, auto_path) in all
            .chain(channels)
            .chain(redirdevs)
            .chain(smartcards)
            .chain(rngs)
        {
            validate_chr_source(kind, source, auto_path)?;
        }
        let usb_disabled = devices
            .controllers
            .iter()
            .any(|c| c.controller_type == Some(ControllerType::Usb))
            && devices.controllers.iter().all(|c| {
                c.controller_type != Some(ControllerType::Usb) || c.model.as_deref() == Some("none")
            });
        // A domain without any USB controller may still get the driver's default one, so
        // only an explicit `model='none'` refuses USB redirection here.
        if usb_disabled
            && devices
                .redirdevs
                .iter()
                .any(|redirdev| redirdev.bus.is_none_or(|bus| bus == RedirdevBus::Usb))
        {
            return Err(unsupported(
                "cannot add redirected USB device: USB is disabled for this domain",
            ));
        }
        Ok(())
    }

    pub(super) fn validate_controllers(&self) -> Result<()> {
        for controller in &self.devices.controllers {
            if controller.controller_type != Some(ControllerType::Pci) {
                continue;
            }
            let index = controller.index.unwrap_or(0);
            let model = controller.model.as_deref();
            if matches!(model, Some("pci-root") | Some("pcie-root"))
                && controller.info.address.is_some()
            {
                return Err(unsupported(
                    "pci-root and pcie-root controllers should not have an address",
                ));
            }
            if index > 255 {
                return Err(unsupported(format!(
                    "PCI controller index {index} too high, maximum is 255"
                )));
            }
            let Some(target) = &controller.target else {
                continue;
            };
            if let Some(target_index) = target.index {
                if !(0..=30).contains(&target_index) {
                    return Err(unsupported(format!(
                        "PCI controller target index '{target_index}' out of range - must be 0-30"
                    )));
                }
                if (index == 0) != (target_index == 0) {
                    return Err(unsupported(
                        "Only the PCI controller with index 0 can have target index 0, and vice versa",
                    ));
                }
            }
            if let Some(chassis_nr) = target.chassis_nr.filter(|n| !(1..=255).contains(n)) {
                return Err(unsupported(format!(
                    "PCI controller chassisNr '{chassis_nr}' out of range - must be 1-255"
                )));
            }
            if let Some(chassis) = target.chassis.filter(|n| !(0..=255).contains(n)) {
                return Err(unsupported(format!(
                    "PCI controller chassis '{chassis}' out of range - must be 0-255"
                )));
            }
            if let Some(bus_nr) = target.bus_nr.filter(|n| !(1..=254).contains(n)) {
                return Err(unsupported(format!(
                    "PCI controller busNr '{bus_nr}' out of range - must be 1-254"
                )));
            }
            if target.node.is_some_and(|node| node >= 0) && index == 0 {
                return Err(unsupported(
                    "The PCI controller with index=0 can't be associated with a NUMA node",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn validate_hostdevs(&self) -> Result<()> {
        let hostdevs = &self.devices.hostdevs;
        for (idx, hostdev) in hostdevs.iter().enumerate() {
            if hostdevs[idx + 1..]
                .iter()
                .any(|other| hostdev_matches(hostdev, other))
            {
                return Err(xml_error(
                    "Hostdev already exists in the domain configuration",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn validate_hugepages(&self) -> Result<()> {
        let Some(pages) = self
            .memory_backing
            .as_ref()
            .and_then(|backing| backing.hugepages.as_ref())
            .map(|hugepages| &hugepages.pages)
        else {
            return Ok(());
        };
        let numa_cells = self
            .cpu
            .as_ref()
            .and_then(|cpu| cpu.numa.as_ref())
            .map_or(0, |numa| numa.cells.len()) as u32;
        for (idx, page) in pages.iter().enumerate() {
            let nodes = page.nodeset.as_deref().map(parse_id_set);
            for earlier in &pages[..idx] {
                let earlier_nodes = earlier.nodeset.as_deref().map(parse_id_set);
                match (&nodes, &earlier_nodes) {
                    (Some(a), Some(b)) if a.iter().any(|node| b.contains(node)) => {
                        return Err(detail(format!(
                            "nodeset attribute of hugepages of sizes {} and {} intersect",
                            page.size.unwrap_or(0),
                            earlier.size.unwrap_or(0)
                        )));
                    }
                    (None, None) => {
                        return Err(detail(format!(
                            "two master hugepages detected: {} and {}",
                            page.size.unwrap_or(0),
                            earlier.size.unwrap_or(0)
                        )));
                    }
                    _ => {}
                }
            }
            // Without guest NUMA, libvirt treats node 0 as the only node.
            if let Some(missing) = nodes
                .unwrap_or_default()
                .into_iter()
                .find(|node| *node >= numa_cells.max(1))
            {
                return Err(detail(format!("hugepages: node {missing} not found")));
            }
        }
        Ok(())
    }

    /// Firmware and loader combinations (`virDomainDefOSValidate`), for a driver that
    /// supports firmware auto-selection.
    pub(super) fn validate_os(&self) -> Result<()> {
        let Some(os) = &self.os else { return Ok(()) };
        let loader = os.loader.as_ref();
        let nvram = os.nvram.as_ref();
        let has_nvram = nvram.is_some_and(|nvram| nvram.path.is_some() || nvram.source.is_some());
        let has_template = nvram.is_some_and(|nvram| nvram.template.is_some());
        if let Some(firmware) = os.firmware {
            // `<nvram>` alone still describes a loader.
            if loader.is_none() && !has_nvram && !has_template {
                return Ok(());
            }
            let default_loader = crate::domain::general::Loader::default();
            let loader = loader.unwrap_or(&default_loader);
            if loader.readonly.is_some() {
                return Err(detail("loader attribute 'readonly' cannot be specified when firmware autoselection is enabled"));
            }
            if loader.loader_type.is_some() {
                return Err(detail("loader attribute 'type' cannot be specified when firmware autoselection is enabled"));
            }
            if loader.path.is_some() {
                return Err(detail(
                    "loader path cannot be specified when firmware autoselection is enabled",
                ));
            }
            if has_template {
                return Err(detail("nvram attribute 'template' cannot be specified when firmware autoselection is enabled"));
            }
            if loader.secure == Some(YesNo::No) {
                return Err(detail("loader attribute 'secure' cannot be specified when firmware autoselection is enabled"));
            }
            if has_nvram && firmware != Firmware::Efi {
                return Err(detail(format!(
                    "firmware type '{}' does not support nvram",
                    firmware.as_str()
                )));
            }
        } else {
            if os.firmware_features.is_some() {
                return Err(detail("cannot use feature-based firmware autoselection when firmware autoselection is disabled"));
            }
            let Some(loader) = loader else { return Ok(()) };
            if loader.path.is_none() {
                return Err(detail(
                    "no loader path specified and firmware auto selection disabled",
                ));
            }
        }
        let Some(loader) = loader else { return Ok(()) };
        match loader.stateless {
            Some(YesNo::Yes) if has_template => Err(detail(
                "NVRAM template is not permitted when loader is stateless",
            )),
            Some(YesNo::Yes) if has_nvram => {
                Err(detail("NVRAM is not permitted when loader is stateless"))
            }
            Some(YesNo::No) => match os.firmware {
                None if loader.loader_type != Some(LoaderType::Pflash) => {
                    Err(detail("Only pflash loader type permits NVRAM"))
                }
                Some(firmware) if firmware != Firmware::Efi => {
                    Err(detail("Only EFI firmware permits NVRAM"))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub(super) fn validate_videos(&self) -> Result<()> {
        let videos = &self.devices.videos;
        let is_none = |video: &Video| {
            video.model.as_ref().and_then(|model| model.model_type) == Some(VideoModel::None)
        };
        if videos.len() > 1 && videos.iter().any(is_none) {
            return Err(unsupported(
                "a 'none' video type must be the only video device defined for the domain",
            ));
        }
        Ok(())
    }

    /// One disk's own rules (`virDomainDiskDefValidate`).
    pub(super) fn validate_disk(&self, disk: &Disk, dst: &str) -> Result<()> {
        if let Some(source) = &disk.source {
            validate_disk_source(disk, source)?;
        }
        if disk.device == Some(DiskDevice::Lun) {
            match disk.disk_type {
                Some(StorageType::Network) => {
                    let protocol = disk.source.as_ref().and_then(|s| s.protocol);
                    if protocol != Some(NetProtocol::Iscsi) {
                        return Err(unsupported(format!(
                            "disk device='lun' is not supported for protocol='{}'",
                            protocol.map_or("", NetProtocol::as_str)
                        )));
                    }
                }
                Some(StorageType::Block) | Some(StorageType::Volume) => {}
                _ => {
                    return Err(unsupported(
                        "disk device='lun' is only valid for block type disk source",
                    ))
                }
            }
        } else {
            if disk
                .source
                .as_ref()
                .is_some_and(|source| source.reservations.is_some())
            {
                return Err(unsupported("<reservations/> allowed only for lun devices"));
            }
            if disk.rawio.is_some() {
                return Err(unsupported("rawio can be used only with device='lun'"));
            }
            if disk.sgio.is_some() {
                return Err(unsupported("sgio can be used only with device='lun'"));
            }
        }
        if let (Some(bus), Some(address)) = (disk.target_bus(), &disk.info.address) {
            let drive_only = matches!(
                bus,
                DiskBus::Ide | DiskBus::Fdc | DiskBus::Scsi | DiskBus::Sata
            );
            if drive_only && !matches!(address, Address::Drive { .. }) {
                return Err(unsupported(format!(
                    "Invalid address type '{}' for the disk '{dst}' with the bus type '{}'",
                    address.type_name(),
                    bus.as_str()
                )));
            }
        }
        Ok(())
    }
}

/// Authentication and encryption of a disk source.
fn validate_disk_source(disk: &Disk, source: &DiskSource) -> Result<()> {
    let auth = source.auth.as_ref().or(disk.auth.as_ref());
    if let (Some(StorageType::Network), Some(auth)) = (disk.disk_type, auth) {
        let protocol = source.protocol;
        if matches!(
            protocol,
            Some(
                NetProtocol::Nbd
                    | NetProtocol::Sheepdog
                    | NetProtocol::Gluster
                    | NetProtocol::Tftp
                    | NetProtocol::Vxhs
                    | NetProtocol::Nfs
            )
        ) {
            return Err(unsupported(format!(
                "authentication is not supported for protocol '{}'",
                protocol.map_or("", NetProtocol::as_str)
            )));
        }
        let secret_type = auth
            .secret
            .as_ref()
            .and_then(|secret| secret.secret_type.as_deref());
        const KNOWN: [&str; 6] = ["none", "volume", "ceph", "iscsi", "tls", "vtpm"];
        match secret_type {
            Some(kind) if KNOWN.contains(&kind) => {
                let expected = match protocol {
                    Some(NetProtocol::Iscsi) => Some("iscsi"),
                    Some(NetProtocol::Rbd) => Some("ceph"),
                    _ => None,
                };
                if expected.is_some_and(|expected| expected != kind) {
                    return Err(unsupported(format!("invalid secret type '{kind}'")));
                }
            }
            other => {
                return Err(unsupported(format!(
                    "unknown secret type '{}'",
                    other.unwrap_or("<null>")
                )))
            }
        }
    }
    let encryption = source.encryption.as_ref().or(disk.encryption.as_ref());
    if encryption.is_some_and(|e| e.format.as_deref() == Some("luks") && e.cipher.is_some()) {
        return Err(unsupported(
            "supplying <cipher> for domain disk definition is unnecessary",
        ));
    }
    Ok(())
}

/// Whether two hostdevs name the same host device (`virDomainHostdevMatch`).
fn hostdev_matches(a: &Hostdev, b: &Hostdev) -> bool {
    if a.mode != b.mode || a.hostdev_type != b.hostdev_type {
        return false;
    }
    let (Some(sa), Some(sb)) = (&a.source, &b.source) else {
        return false;
    };
    match a.hostdev_type.as_deref() {
        Some("usb") => {
            let ids = |s: &HostdevSource| (s.vendor.clone(), s.product.clone());
            if sa.vendor.is_some() || sb.vendor.is_some() {
                ids(sa) == ids(sb)
            } else {
                sa.address == sb.address
            }
        }
        Some("pci") | Some("mdev") => sa.address.is_some() && sa.address == sb.address,
        Some("scsi") if sa.protocol.as_deref() == Some("iscsi") => {
            sa.name == sb.name && sa.host == sb.host
        }
        Some("scsi") => sa.adapter == sb.adapter && sa.address == sb.address,
        Some("scsi_host") => sa.wwpn == sb.wwpn,
        Some("storage") => sa.block.is_some() && sa.block == sb.block,
        Some("misc") => sa.chardev.is_some() && sa.chardev == sb.chardev,
        Some("net") => sa.interface.is_some() && sa.interface == sb.interface,
        _ => false,
    }
}

/// One character backend: its source has what its type needs. `auto_path`: a UNIX socket
/// the driver names itself (virtio and Xen channels).
fn validate_chr_source(
    kind: Option<ChrType>,
    source: Option<&crate::domain::chr::ChrSource>,
    auto_path: bool,
) -> Result<()> {
    let Some(kind) = kind else {
        return Ok(());
    };
    let path = source.and_then(|source| source.path.as_deref());
    let listen = source.and_then(|source| source.mode.as_deref()) == Some("bind");
    let reconnect = source
        .and_then(|source| source.reconnect.as_ref())
        .and_then(|reconnect| reconnect.enabled)
        .is_some_and(YesNo::is_yes);
    match kind {
        ChrType::File | ChrType::Dev | ChrType::Pipe if path.is_none() => {
            return Err(internal("Missing source path attribute for char device"));
        }
        ChrType::Tcp => {
            if source.and_then(|s| s.host.as_ref()).is_none() {
                return Err(internal("Missing source host attribute for char device"));
            }
            if source.and_then(|s| s.service.as_ref()).is_none() {
                return Err(internal("Missing source service attribute for char device"));
            }
            if listen && reconnect {
                return Err(internal(
                    "chardev reconnect is possible only for connect mode",
                ));
            }
        }
        ChrType::Unix => {
            if path.is_none() && !auto_path {
                return Err(internal("Missing source path attribute for char device"));
            }
            if listen && reconnect {
                return Err(internal(
                    "chardev reconnect is possible only for connect mode",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}
