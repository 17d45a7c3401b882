//! The checks libvirt makes while it reads a domain (`virDomainDefParseXML` and the helpers
//! it calls): a document failing one of them is refused by [`Domain::parse`] with libvirt's
//! error, exactly as `virDomainDefineXML` refuses it before any driver sees it.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::domain::address::{Address, DeviceInfo};
use crate::domain::disk::DeviceSeclabel;
use crate::domain::enums::*;
use crate::domain::Domain;
use crate::Result;

fn error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::DOMAIN, message)
}

impl Domain {
    /// Runs every parse-time check (called by [`Domain::parse`]).
    pub(crate) fn parse_checks(&self) -> Result<()> {
        self.check_seclabels()?;
        self.check_numa()?;
        self.check_numatune()?;
        self.check_cputune()?;
        self.check_sysinfo()?;
        self.check_devices()?;
        Ok(())
    }

    fn check_seclabels(&self) -> Result<()> {
        for (idx, label) in self.seclabels.iter().enumerate() {
            if self.seclabels[..idx]
                .iter()
                .any(|earlier| earlier.model == label.model)
            {
                return Err(error(
                    ErrorNumber::XML_DETAIL,
                    format!(
                        "seclabel for model {} is already provided",
                        label.model.as_deref().unwrap_or("(null)")
                    ),
                ));
            }
        }
        if self.seclabels.len() > 1 && self.seclabels.iter().any(|label| label.model.is_none()) {
            return Err(error(
                ErrorNumber::XML_ERROR,
                "missing security model when using multiple labels",
            ));
        }
        Ok(())
    }

    fn check_numa(&self) -> Result<()> {
        let Some(numa) = self.cpu.as_ref().and_then(|cpu| cpu.numa.as_ref()) else {
            return Ok(());
        };
        let count = numa.cells.len();
        let mut seen = vec![false; count];
        for (idx, cell) in numa.cells.iter().enumerate() {
            let id = cell.id.map_or(idx, |id| id as usize);
            if id >= count {
                return Err(error(
                    ErrorNumber::XML_ERROR,
                    "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not starting from 0 are not allowed",
                ));
            }
            if seen[id] {
                return Err(error(
                    ErrorNumber::XML_ERROR,
                    format!("Duplicate NUMA cell info for cell id '{id}'"),
                ));
            }
            seen[id] = true;
        }
        Ok(())
    }

    fn check_numatune(&self) -> Result<()> {
        let Some(numatune) = &self.numatune else {
            return Ok(());
        };
        let vcpu_static = self
            .vcpu
            .as_ref()
            .and_then(|vcpu| vcpu.placement)
            .is_none_or(|placement| placement == CpuPlacement::Static);
        if let Some(memory) = &numatune.memory {
            let placement = match memory.placement.as_deref() {
                Some(placement) => Some(placement),
                None if memory.nodeset.is_some() || vcpu_static => Some("static"),
                None => Some("auto"),
            };
            if placement == Some("static") && memory.nodeset.is_none() {
                return Err(error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
                ));
            }
            if !numatune.memnodes.is_empty() && placement == Some("auto") {
                return Err(error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    "Per-node binding is not compatible with automatic NUMA placement.",
                ));
            }
        }
        let restrictive =
            numatune.memory.as_ref().and_then(|m| m.mode.as_deref()) == Some("restrictive");
        for memnode in &numatune.memnodes {
            let mode = memnode.mode.as_deref().unwrap_or("strict");
            if restrictive && mode != "restrictive" {
                return Err(error(
                    ErrorNumber::XML_ERROR,
                    "'restrictive' mode is required in memnode element when mode is 'restrictive' in memory element",
                ));
            }
        }
        Ok(())
    }

    /// The IOThread ids this domain defines (`<iothreadids>`, else `1..=<iothreads>`).
    pub fn iothread_ids(&self) -> Vec<u32> {
        match &self.iothreadids {
            Some(ids) if !ids.iothreads.is_empty() => ids
                .iothreads
                .iter()
                .filter_map(|thread| thread.id)
                .collect(),
            _ => (1..=self.iothreads.unwrap_or(0)).collect(),
        }
    }

    fn check_cputune(&self) -> Result<()> {
        let Some(cputune) = &self.cputune else {
            return Ok(());
        };
        let ids = self.iothread_ids();
        for sched in &cputune.iothreadscheds {
            let Some(set) = sched.iothreads.as_deref() else {
                continue;
            };
            for id in parse_id_set(set) {
                if !ids.contains(&id) {
                    return Err(error(
                        ErrorNumber::CONFIG_UNSUPPORTED,
                        format!("Cannot find 'iothread' : {id}"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_sysinfo(&self) -> Result<()> {
        for sysinfo in &self.sysinfo {
            if let Some(bios) = &sysinfo.bios {
                for entry in &bios.entries {
                    if entry.name.as_deref() == Some("date") {
                        if let Some(date) = &entry.value {
                            if !valid_bios_date(date) {
                                return Err(error(
                                    ErrorNumber::XML_DETAIL,
                                    "Invalid BIOS 'date' format",
                                ));
                            }
                        }
                    }
                }
            }
            if let Some(system) = &sysinfo.system {
                for entry in &system.entries {
                    if entry.name.as_deref() != Some("uuid") {
                        continue;
                    }
                    let Some(text) = &entry.value else { continue };
                    let Some(uuid) = virt_core::parse_uuid(text) else {
                        return Err(error(
                            ErrorNumber::XML_DETAIL,
                            "malformed <sysinfo> uuid element",
                        ));
                    };
                    if self.uuid.is_some_and(|domain_uuid| domain_uuid != uuid) {
                        return Err(error(
                            ErrorNumber::XML_DETAIL,
                            "UUID mismatch between <uuid> and <sysinfo>",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_devices(&self) -> Result<()> {
        let devices = &self.devices;
        for disk in &devices.disks {
            if disk.auth.is_some() && disk.source.as_ref().is_some_and(|s| s.auth.is_some()) {
                return Err(error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    "an <auth> definition already found for disk source",
                ));
            }
            if disk.encryption.is_some()
                && disk.source.as_ref().is_some_and(|s| s.encryption.is_some())
            {
                return Err(error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    "an <encryption> definition already found for disk source",
                ));
            }
            if let Some(source) = &disk.source {
                check_device_seclabels(&source.seclabels)?;
            }
        }
        for chr in devices
            .serials
            .iter()
            .chain(&devices.parallels)
            .chain(&devices.consoles)
            .chain(&devices.channels)
        {
            for source in &chr.sources {
                check_device_seclabels(&source.seclabels)?;
            }
        }
        for shmem in &devices.shmems {
            if shmem.msi.is_some() && shmem.server.is_none() {
                return Err(error(
                    ErrorNumber::XML_ERROR,
                    "msi option is only supported with a server",
                ));
            }
        }
        for tpm in &devices.tpms {
            if tpm
                .backend
                .as_ref()
                .is_none_or(|backend| backend.backend_type.is_none())
            {
                return Err(error(ErrorNumber::XML_ERROR, "missing TPM device backend"));
            }
        }
        let mut usb_none = false;
        let mut usb_other = false;
        for controller in &devices.controllers {
            if controller.controller_type != Some(ControllerType::Usb) {
                continue;
            }
            let is_none = controller.model.as_deref() == Some("none");
            if usb_none || (is_none && usb_other) {
                return Err(error(
                    ErrorNumber::XML_DETAIL,
                    "Can't add another USB controller: USB is disabled for this domain",
                ));
            }
            if is_none {
                usb_none = true;
            } else {
                usb_other = true;
            }
        }
        if usb_none
            && devices
                .inputs
                .iter()
                .any(|input| input.bus == Some(InputBus::Usb))
        {
            return Err(error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                "Can't add USB input device. USB bus is disabled",
            ));
        }
        let mut result = Ok(());
        self.for_each_device_info(|info| {
            if result.is_ok() {
                result = check_device_info(info);
            }
        });
        result
    }

    /// Calls `visit` with the [`DeviceInfo`] of every device.
    pub fn for_each_device_info(&self, mut visit: impl FnMut(&DeviceInfo)) {
        let d = &self.devices;
        d.disks.iter().for_each(|x| visit(&x.info));
        d.controllers.iter().for_each(|x| visit(&x.info));
        d.filesystems.iter().for_each(|x| visit(&x.info));
        d.interfaces.iter().for_each(|x| visit(&x.info));
        d.smartcards.iter().for_each(|x| visit(&x.info));
        d.serials.iter().for_each(|x| visit(&x.info));
        d.parallels.iter().for_each(|x| visit(&x.info));
        d.consoles.iter().for_each(|x| visit(&x.info));
        d.channels.iter().for_each(|x| visit(&x.info));
        d.inputs.iter().for_each(|x| visit(&x.info));
        d.tpms.iter().for_each(|x| visit(&x.info));
        d.sounds.iter().for_each(|x| visit(&x.info));
        d.videos.iter().for_each(|x| visit(&x.info));
        d.hostdevs.iter().for_each(|x| visit(&x.info));
        d.redirdevs.iter().for_each(|x| visit(&x.info));
        d.hubs.iter().for_each(|x| visit(&x.info));
        d.watchdog.iter().for_each(|x| visit(&x.info));
        d.memballoon.iter().for_each(|x| visit(&x.info));
        d.rngs.iter().for_each(|x| visit(&x.info));
        d.nvram.iter().for_each(|x| visit(&x.info));
        d.panics.iter().for_each(|x| visit(&x.info));
        d.shmems.iter().for_each(|x| visit(&x.info));
        d.memories.iter().for_each(|x| visit(&x.info));
        d.iommu.iter().for_each(|x| visit(&x.info));
        d.vsock.iter().for_each(|x| visit(&x.info));
    }

    /// Calls `visit` with the [`DeviceInfo`] of every device, mutably.
    pub fn for_each_device_info_mut(&mut self, mut visit: impl FnMut(&mut DeviceInfo)) {
        let d = &mut self.devices;
        d.disks.iter_mut().for_each(|x| visit(&mut x.info));
        d.controllers.iter_mut().for_each(|x| visit(&mut x.info));
        d.filesystems.iter_mut().for_each(|x| visit(&mut x.info));
        d.interfaces.iter_mut().for_each(|x| visit(&mut x.info));
        d.smartcards.iter_mut().for_each(|x| visit(&mut x.info));
        d.serials.iter_mut().for_each(|x| visit(&mut x.info));
        d.parallels.iter_mut().for_each(|x| visit(&mut x.info));
        d.consoles.iter_mut().for_each(|x| visit(&mut x.info));
        d.channels.iter_mut().for_each(|x| visit(&mut x.info));
        d.inputs.iter_mut().for_each(|x| visit(&mut x.info));
        d.tpms.iter_mut().for_each(|x| visit(&mut x.info));
        d.sounds.iter_mut().for_each(|x| visit(&mut x.info));
        d.videos.iter_mut().for_each(|x| visit(&mut x.info));
        d.hostdevs.iter_mut().for_each(|x| visit(&mut x.info));
        d.redirdevs.iter_mut().for_each(|x| visit(&mut x.info));
        d.hubs.iter_mut().for_each(|x| visit(&mut x.info));
        d.watchdog.iter_mut().for_each(|x| visit(&mut x.info));
        d.memballoon.iter_mut().for_each(|x| visit(&mut x.info));
        d.rngs.iter_mut().for_each(|x| visit(&mut x.info));
        d.nvram.iter_mut().for_each(|x| visit(&mut x.info));
        d.panics.iter_mut().for_each(|x| visit(&mut x.info));
        d.shmems.iter_mut().for_each(|x| visit(&mut x.info));
        d.memories.iter_mut().for_each(|x| visit(&mut x.info));
        d.iommu.iter_mut().for_each(|x| visit(&mut x.info));
        d.vsock.iter_mut().for_each(|x| visit(&mut x.info));
    }
}

fn check_device_seclabels(labels: &[DeviceSeclabel]) -> Result<()> {
    for (idx, label) in labels.iter().enumerate() {
        let Some(model) = &label.model else { continue };
        if labels[..idx]
            .iter()
            .any(|earlier| earlier.model.as_ref() == Some(model))
        {
            return Err(error(
                ErrorNumber::XML_DETAIL,
                format!("seclabel for model {model} is already provided"),
            ));
        }
    }
    Ok(())
}

fn check_device_info(info: &DeviceInfo) -> Result<()> {
    if let Some(loadparm) = info.boot.as_ref().and_then(|boot| boot.loadparm.as_deref()) {
        if loadparm.is_empty() || loadparm.len() > 8 {
            return Err(error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "loadparm value '{}' must be between 1 and 8 characters",
                    loadparm.to_ascii_uppercase()
                ),
            ));
        }
        if !loadparm
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == ' ')
        {
            return Err(error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "invalid loadparm value '{}', expecting chars in set of [a-zA-Z0-9.] and blank spaces",
                    loadparm.to_ascii_uppercase()
                ),
            ));
        }
    }
    match &info.address {
        Some(Address::Pci(pci)) if !pci.is_empty() => {
            let xml_error = |message: String| {
                Err(Error::new(
                    ErrorNumber::XML_ERROR,
                    ErrorDomain::NONE,
                    message,
                ))
            };
            if pci.bus > 0xff {
                return xml_error(format!(
                    "Invalid PCI address bus='0x{:x}', must be <= 0xFF",
                    pci.bus
                ));
            }
            if pci.slot > 0x1f {
                return xml_error(format!(
                    "Invalid PCI address slot='0x{:x}', must be <= 0x1F",
                    pci.slot
                ));
            }
            if pci.function > 7 {
                return xml_error(format!(
                    "Invalid PCI address function=0x{:x}, must be <= 7",
                    pci.function
                ));
            }
        }
        Some(Address::Usb {
            port: Some(port), ..
        }) => {
            let parts: Vec<&str> = port.split('.').collect();
            let valid = parts.len() <= 4
                && parts
                    .iter()
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
            if !valid {
                return Err(error(
                    ErrorNumber::INTERNAL_ERROR,
                    "Cannot parse <address> 'port' attribute",
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// `mm/dd/yyyy` or `mm/dd/yy` (`yy` meaning 19yy), as libvirt accepts a BIOS date.
fn valid_bios_date(date: &str) -> bool {
    let parts: Vec<&str> = date.split('/').collect();
    let [month, day, year] = parts.as_slice() else {
        return false;
    };
    let number = |text: &str| -> Option<i64> {
        let text = text.trim_start();
        if text.is_empty()
            || !text
                .trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit())
        {
            return None;
        }
        text.parse().ok()
    };
    let (Some(month), Some(day), Some(year)) = (number(month), number(day), number(year)) else {
        return false;
    };
    (1..=12).contains(&month) && (1..=31).contains(&day) && (0..100).contains(&year)
        || (1..=12).contains(&month) && (1..=31).contains(&day) && year >= 1900
}

/// Expands a libvirt id set such as `0-3,^2,5` into its members.
pub fn parse_id_set(text: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = Vec::new();
    let mut excluded: Vec<u32> = Vec::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (negate, part) = match part.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let range: Vec<u32> = match part.split_once('-') {
            Some((start, end)) => match (start.trim().parse::<u32>(), end.trim().parse::<u32>()) {
                (Ok(start), Ok(end)) if start <= end && end - start < 65536 => {
                    (start..=end).collect()
                }
                _ => Vec::new(),
            },
            None => part.parse().ok().into_iter().collect(),
        };
        if negate {
            excluded.extend(range);
        } else {
            ids.extend(range);
        }
    }
    ids.retain(|id| !excluded.contains(id));
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets() {
        assert_eq!(parse_id_set("0-3,^2,5"), vec![0, 1, 3, 5]);
        assert_eq!(parse_id_set("7"), vec![7]);
    }

    #[test]
    fn bios_dates() {
        assert!(valid_bios_date("01/31/2024"));
        assert!(valid_bios_date("12/01/99"));
        assert!(!valid_bios_date("13/01/2024"));
        assert!(!valid_bios_date("01/01/1800"));
        assert!(!valid_bios_date("2024-01-01"));
    }
}
