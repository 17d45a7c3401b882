//! Define-time checks libvirt runs on every domain whatever the driver
//! (`virDomainDefValidate` and the device checks in `domain_validate.c`): duplicate device
//! addresses and targets, values out of range, combinations that cannot work.

use std::collections::HashSet;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::domain::address::Address;
use crate::domain::enums::*;
use crate::domain::Domain;
use crate::Result;

fn xml_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::DOMAIN, message)
}

impl Domain {
    /// Runs the driver-independent define-time checks.
    pub fn validate(&self) -> Result<()> {
        self.validate_name()?;
        self.validate_vcpus()?;
        self.validate_disks()?;
        self.validate_duplicate_drive_addresses()?;
        self.validate_interfaces()?;
        self.validate_chardevs()?;
        self.validate_controllers()?;
        self.validate_hostdevs()?;
        self.validate_hugepages()?;
        self.validate_os()?;
        self.validate_videos()?;
        Ok(())
    }

    fn validate_name(&self) -> Result<()> {
        let name = self.name();
        if name.contains('/') {
            return Err(xml_error(format!("name {name} cannot contain '/'")));
        }
        Ok(())
    }

    fn validate_vcpus(&self) -> Result<()> {
        let max = self.max_vcpus();
        if max == 0 {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::DOMAIN,
                "Invalid number of vCPUs '0'",
            ));
        }
        if self.current_vcpus() > max {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::DOMAIN,
                "maxvcpus must not be less than current vcpus",
            ));
        }
        if self.current_vcpus() == 0 {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::DOMAIN,
                "Invalid current vcpus '0'",
            ));
        }
        Ok(())
    }

    fn validate_disks(&self) -> Result<()> {
        let mut targets = HashSet::new();
        for disk in &self.devices.disks {
            let Some(dst) = disk.target_dev() else {
                return Err(Error::new(
                    ErrorNumber::NO_TARGET,
                    ErrorDomain::DOMAIN,
                    disk.source_path().unwrap_or(""),
                ));
            };
            if !targets.insert(dst) {
                return Err(xml_error(format!(
                    "target '{dst}' duplicated for disk sources"
                )));
            }
            self.validate_disk(disk, dst)?;
            if disk.device == Some(DiskDevice::Floppy)
                && disk.target_bus().is_some_and(|bus| bus != DiskBus::Fdc)
            {
                return Err(xml_error(format!(
                    "Invalid bus type '{}' for floppy disk",
                    disk.target_bus().map_or("", DiskBus::as_str)
                )));
            }
        }
        Ok(())
    }

    fn validate_interfaces(&self) -> Result<()> {
        for iface in &self.devices.interfaces {
            if let Some(mac) = iface.mac_address() {
                let Some(bytes) = super::parse_mac(mac) else {
                    return Err(Error::new(
                        ErrorNumber::INVALID_MAC,
                        ErrorDomain::DOMAIN,
                        format!("unable to parse mac address '{mac}'"),
                    ));
                };
                if bytes[0] & 1 == 1 {
                    return Err(xml_error(format!(
                        "expected unicast mac address, found multicast '{mac}'"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Two devices may not share a PCI slot/function, a drive address, a virtio-serial port
    /// or a CCW device number. libvirt leaves this to the driver's address assignment (the
    /// QEMU driver runs it at define time), so [`Domain::validate`] does not call it.
    pub fn validate_addresses(&self) -> Result<()> {
        let mut used: HashSet<String> = HashSet::new();
        let mut check = |address: Option<&Address>| -> Result<()> {
            let Some(address) = address else {
                return Ok(());
            };
            let key = match address {
                Address::Pci(pci) if !pci.is_empty() => format!(
                    "pci {:04x}:{:02x}:{:02x}.{:x}",
                    pci.domain, pci.bus, pci.slot, pci.function
                ),
                Address::Drive {
                    controller,
                    bus,
                    target,
                    unit,
                } => {
                    format!("drive {controller}:{bus}:{target}:{unit}")
                }
                Address::VirtioSerial {
                    controller,
                    bus,
                    port,
                } if *port > 0 => {
                    format!("virtio-serial {controller}:{bus}:{port}")
                }
                Address::Ccw { cssid, ssid, devno } => {
                    format!("ccw {cssid:x}.{ssid:x}.{devno:04x}")
                }
                _ => return Ok(()),
            };
            if !used.insert(key.clone()) {
                let detail = key.split_once(' ').map_or(key.as_str(), |(_, rest)| rest);
                let kind = key.split(' ').next().unwrap_or("");
                return Err(xml_error(match kind {
                    "pci" => format!("Attempted double use of PCI Address {detail}"),
                    _ => format!("Attempted double use of {kind} address {detail}"),
                }));
            }
            Ok(())
        };
        let devices = &self.devices;
        for disk in &devices.disks {
            check(disk.info.address.as_ref())?;
        }
        for controller in &devices.controllers {
            check(controller.info.address.as_ref())?;
        }
        for fs in &devices.filesystems {
            check(fs.info.address.as_ref())?;
        }
        for iface in &devices.interfaces {
            check(iface.info.address.as_ref())?;
        }
        for chr in devices
            .serials
            .iter()
            .chain(&devices.parallels)
            .chain(&devices.channels)
        {
            check(chr.info.address.as_ref())?;
        }
        for input in &devices.inputs {
            check(input.info.address.as_ref())?;
        }
        for sound in &devices.sounds {
            check(sound.info.address.as_ref())?;
        }
        for video in &devices.videos {
            check(video.info.address.as_ref())?;
        }
        for hostdev in &devices.hostdevs {
            check(hostdev.info.address.as_ref())?;
        }
        if let Some(balloon) = &devices.memballoon {
            check(balloon.info.address.as_ref())?;
        }
        for rng in &devices.rngs {
            check(rng.info.address.as_ref())?;
        }
        for shmem in &devices.shmems {
            check(shmem.info.address.as_ref())?;
        }
        if let Some(watchdog) = &devices.watchdog {
            check(watchdog.info.address.as_ref())?;
        }
        if let Some(vsock) = &devices.vsock {
            check(vsock.info.address.as_ref())?;
        }
        Ok(())
    }
}
