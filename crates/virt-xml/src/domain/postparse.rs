//! libvirt's driver-independent steps between parsing a domain and keeping it
//! (`virDomainDefPostParse`): fill the defaults libvirt always writes, generate what the user
//! left out (UUID, MAC addresses), and refuse definitions that cannot describe a guest.
//!
//! [`Domain::parse`] never runs these, so that a document libvirt wrote reads back unchanged;
//! a driver defining a domain calls [`Domain::post_parse`] (or [`Domain::parse_for_define`])
//! and then its own hypervisor-specific defaults.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use crate::domain::devices::{Controller, Devices};
use crate::domain::enums::*;
use crate::domain::general::{Clock, Vcpu};
use crate::domain::interface::Mac;
use crate::domain::memory::ScaledKib;
use crate::domain::{format_mac, parse_mac, Domain};
use crate::Result;

fn xml_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::DOMAIN, message)
}

impl Domain {
    /// Parses and runs the post-parse steps and define-time validation: what
    /// `virDomainDefineXML` does before a driver sees the definition.
    pub fn parse_for_define(xml: &str) -> Result<Domain> {
        let mut domain = Domain::parse(xml)?;
        domain.post_parse()?;
        domain.validate()?;
        Ok(domain)
    }

    /// Runs every driver-independent post-parse step.
    pub fn post_parse(&mut self) -> Result<()> {
        self.ensure_uuid();
        self.assign_controller_indexes();
        self.post_parse_memory()?;
        self.post_parse_vcpus();
        self.post_parse_defaults();
        self.post_parse_os()?;
        self.assign_mac_addresses(random_mac);
        self.post_parse_consoles();
        self.reject_duplicate_controllers()?;
        Ok(())
    }

    /// Gives each controller without an `index` the lowest free one of its type; USB2
    /// companions (ICH9 EHCI/UHCI) join the group of the USB2 controller just before them
    /// (`virDomainAssignControllerIndexes`).
    pub fn assign_controller_indexes(&mut self) {
        fn is_usb2(controller: &Controller) -> bool {
            controller.controller_type == Some(ControllerType::Usb)
                && matches!(
                    controller.model.as_deref(),
                    Some("ich9-ehci1" | "ich9-uhci1" | "ich9-uhci2" | "ich9-uhci3")
                )
        }
        let controllers = &mut self.devices.controllers;
        for outer in 0..controllers.len() {
            if controllers[outer].index.is_some() {
                continue;
            }
            let mut chosen = None;
            if outer > 0 && is_usb2(&controllers[outer]) {
                let prev = controllers[..outer]
                    .iter()
                    .rev()
                    .find(|c| c.controller_type == Some(ControllerType::Usb))
                    .filter(|prev| is_usb2(prev));
                if let Some(prev) = prev {
                    let prev_index = prev.index;
                    let model = controllers[outer].model.clone();
                    let taken = controllers.iter().any(|c| {
                        c.controller_type == Some(ControllerType::Usb)
                            && c.index == prev_index
                            && c.model == model
                    });
                    if !taken {
                        chosen = prev_index;
                    }
                }
            }
            let index = chosen.unwrap_or_else(|| {
                let kind = controllers[outer].controller_type;
                (0..)
                    .find(|candidate| {
                        !controllers
                            .iter()
                            .any(|c| c.controller_type == kind && c.index == Some(*candidate))
                    })
                    .unwrap_or(0)
            });
            controllers[outer].index = Some(index);
        }
    }

    /// Two controllers of one type may not share an index, except USB controllers
    /// (companions share their group's index).
    pub fn reject_duplicate_controllers(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for controller in &self.devices.controllers {
            let Some(kind) = controller.controller_type else {
                continue;
            };
            if kind == ControllerType::Usb {
                continue;
            }
            let index = controller.index.unwrap_or(0);
            if !seen.insert((kind, index)) {
                return Err(xml_error(format!(
                    "Multiple '{}' controllers with index '{}'",
                    kind.as_str(),
                    index
                )));
            }
        }
        Ok(())
    }

    /// Generates a UUID when the definition has none (libvirt does this while parsing).
    pub fn ensure_uuid(&mut self) -> Uuid {
        *self.uuid.get_or_insert_with(Uuid::new_v4)
    }

    /// Memory sizes: infer the total from NUMA cells when `<memory>` is missing, check that
    /// one was given, clamp `<currentMemory>` to the total, check `<maxMemory>`.
    pub fn post_parse_memory(&mut self) -> Result<()> {
        let numa_kib: u64 = self
            .cpu
            .as_ref()
            .and_then(|cpu| cpu.numa.as_ref())
            .map_or(0, |numa| {
                numa.cells.iter().filter_map(|cell| cell.memory).sum()
            });
        let hotplug_kib: u64 = self
            .devices
            .memories
            .iter()
            .filter_map(|mem| mem.target.as_ref().and_then(|target| target.size))
            .map(|size| size.0)
            .sum();
        let mut total = self.memory_kib();
        if total == 0 && numa_kib > 0 {
            total = numa_kib + hotplug_kib;
            self.set_memory_kib(total);
        } else if hotplug_kib > total {
            return Err(xml_error(
                "Total size of memory devices exceeds the total memory size",
            ));
        }
        if total.saturating_sub(hotplug_kib) == 0 {
            return Err(xml_error(
                "Memory size must be specified via <memory> or in the <numa> configuration",
            ));
        }
        let current = self.current_memory.map_or(0, |current| current.0);
        if current == 0 || current > total {
            self.current_memory = Some(ScaledKib(total));
        }
        let max = self.max_memory.as_ref();
        let max_kib = max.map_or(0, |max| max.size.0);
        let slots = max.and_then(|max| max.slots).unwrap_or(0);
        if (max_kib > 0 || slots > 0) && !(max_kib > 0 && slots > 0) {
            return Err(xml_error(
                "both maximum memory size and memory slot count must be specified",
            ));
        }
        if max_kib > 0 && max_kib < total {
            return Err(xml_error(
                "maximum memory size must be equal or greater than the actual memory size",
            ));
        }
        Ok(())
    }

    /// `<vcpu>`: placement defaults to `static`, the count to 1.
    pub fn post_parse_vcpus(&mut self) {
        let vcpu = self.vcpu.get_or_insert_with(Vcpu::default);
        if vcpu.count.is_none() {
            vcpu.count = Some(1);
        }
        if vcpu.placement.is_none() {
            vcpu.placement = Some(CpuPlacement::Static);
        }
        if vcpu.current == vcpu.count {
            vcpu.current = None;
        }
    }

    /// Lifecycle actions and the clock: libvirt writes them even when not given.
    pub fn post_parse_defaults(&mut self) {
        self.on_poweroff.get_or_insert(LifecycleAction::Destroy);
        self.on_reboot.get_or_insert(LifecycleAction::Restart);
        self.on_crash.get_or_insert(LifecycleAction::Destroy);
        let clock = self.clock.get_or_insert_with(Clock::default);
        clock.offset.get_or_insert(ClockOffset::Utc);
    }

    /// `<os>`: a loader with a path defaults to `type='rom'`.
    pub fn post_parse_os(&mut self) -> Result<()> {
        if let Some(loader) = self.os.as_mut().and_then(|os| os.loader.as_mut()) {
            if loader.path.is_some() && loader.loader_type.is_none() {
                loader.loader_type = Some(LoaderType::Rom);
            }
        }
        Ok(())
    }

    /// Gives every interface without a MAC address one from `generate`
    /// (libvirt's 52:54:00 prefix for QEMU/KVM guests).
    pub fn assign_mac_addresses(&mut self, mut generate: impl FnMut() -> [u8; 6]) {
        for iface in &mut self.devices.interfaces {
            let has_mac = iface
                .mac
                .as_ref()
                .and_then(|mac| mac.address.as_deref())
                .and_then(parse_mac)
                .is_some();
            if !has_mac {
                let mac = iface.mac.get_or_insert_with(Mac::default);
                mac.address = Some(format_mac(generate()));
            }
        }
    }

    /// For HVM guests libvirt shows the first serial port also as `<console type='serial'>`.
    pub fn post_parse_consoles(&mut self) {
        let hvm = self.os_type() == Some(OsType::Hvm);
        post_parse_consoles(&mut self.devices, hvm);
    }
}

fn post_parse_consoles(devices: &mut Devices, hvm: bool) {
    if !hvm {
        return;
    }
    if devices.consoles.is_empty() {
        if let Some(serial) = devices.serials.first() {
            let mut console = serial.clone();
            console.info = Default::default();
            let target = console.target.get_or_insert_with(Default::default);
            target.target_type = Some("serial".to_string());
            target.model = None;
            target.port = Some(0);
            devices.consoles.push(console);
        }
    }
}

/// A random MAC address in QEMU's `52:54:00` range.
pub fn random_mac() -> [u8; 6] {
    let bytes = *Uuid::new_v4().as_bytes();
    [0x52, 0x54, 0x00, bytes[0], bytes[1], bytes[2]]
}
