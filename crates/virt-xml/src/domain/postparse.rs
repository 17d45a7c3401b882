//! libvirt's driver-independent steps between parsing a domain and keeping it
//! (`virDomainDefPostParse`): fill the defaults libvirt always writes, generate what the user
//! left out (UUID, MAC addresses), and refuse definitions that cannot describe a guest.
//!
//! [`Domain::parse`] never runs these, so that a document libvirt wrote reads back unchanged;
//! a driver defining a domain calls [`Domain::post_parse`] (or [`Domain::parse_for_define`])
//! and then its own hypervisor-specific defaults.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use crate::domain::address::Address;
use crate::domain::devices::Controller;
use crate::domain::enums::*;
use crate::domain::general::{Clock, Vcpu};
use crate::domain::interface::Mac;
use crate::domain::memory::ScaledKib;
use crate::domain::{format_mac, parse_mac, Domain};
use crate::Result;

/// What libvirt asks the hypervisor driver during the generic post-parse steps (the
/// callbacks of its `virDomainDefParserConfig`). Every method has the answer "the driver
/// does not say", which leaves the value unset.
pub trait PostParseDriver {
    /// The model of a `<video>` that names none, including the one libvirt adds for a
    /// display without video (`devicesPostParseCallback` for `VIR_DOMAIN_VIDEO_TYPE_DEFAULT`).
    /// Without an answer that implicit video is not added.
    fn default_video_model(&self, _domain: &Domain) -> Option<VideoModel> {
        None
    }

    /// The target type of a `<console>` that names none, decided before libvirt's generic
    /// default (`serial`) applies; libvirt's LXC driver says `lxc`.
    fn default_console_target_type(&self, _domain: &Domain) -> Option<&'static str> {
        None
    }
}

/// No driver: [`Domain::post_parse`].
struct GenericOnly;

impl PostParseDriver for GenericOnly {}

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

    /// Runs every driver-independent post-parse step; what a driver decides (the model of a
    /// video device without one) is left undecided.
    pub fn post_parse(&mut self) -> Result<()> {
        self.post_parse_with(&GenericOnly)
    }

    /// Runs every driver-independent post-parse step, asking `driver` where libvirt asks
    /// the hypervisor driver's parser callbacks.
    pub fn post_parse_with(&mut self, driver: &dyn PostParseDriver) -> Result<()> {
        self.adopt_sysinfo_uuid();
        self.ensure_uuid();
        if self.genid == Some(None) {
            self.genid = Some(Some(Uuid::new_v4()));
        }
        // What libvirt's parser checks and fills in while reading the definition.
        self.check_resctrl()?;
        self.drop_live_state();
        self.post_parse_chardevs(driver)?;
        self.post_parse_graphics()?;
        self.post_parse_cpu();
        self.post_parse_iothreads();
        self.post_parse_thread_scheds()?;
        self.post_parse_numatune()?;
        self.post_parse_usb_companions();
        self.sort_controllers();
        self.post_parse_disks()?;
        self.post_parse_device_defaults();
        // virDomainDefPostParse proper.
        self.assign_controller_indexes();
        self.assign_disk_addresses()?;
        self.assign_scsi_hostdev_addresses()?;
        self.post_parse_hostdevs()?;
        if self.os_type() == Some(OsType::Exe)
            && self.os.as_ref().is_none_or(|os| os.init.is_none())
        {
            return Err(xml_error("init binary must be specified"));
        }
        self.post_parse_memory()?;
        self.post_parse_vcpus();
        self.post_parse_defaults();
        self.post_parse_os()?;
        self.post_parse_memtune();
        self.reject_duplicate_controllers()?;
        if self.os_type() == Some(OsType::Hvm) {
            self.post_parse_boot_order()?;
        }
        self.assign_mac_addresses(random_mac);
        // virDomainDefAddImplicitDevices, then the video devices.
        self.add_console_compat()?;
        self.add_implicit_controllers()?;
        self.post_parse_videos(driver);
        Ok(())
    }

    /// Without a `<uuid>`, libvirt takes the one `<sysinfo>` gives for the system.
    fn adopt_sysinfo_uuid(&mut self) {
        if self.uuid.is_some() {
            return;
        }
        let from_sysinfo = self
            .sysinfo
            .iter()
            .filter_map(|sysinfo| sysinfo.system.as_ref())
            .flat_map(|system| &system.entries)
            .find(|entry| entry.name.as_deref() == Some("uuid"))
            .and_then(|entry| entry.value.as_deref())
            .and_then(virt_core::parse_uuid);
        if let Some(uuid) = from_sysinfo {
            self.uuid = Some(uuid);
        }
    }

    /// Disks on IDE, SATA, SCSI and floppy buses get a drive address derived from their
    /// target name (`sdb` is unit 1), as `virDomainDiskDefAssignAddress` does.
    pub fn assign_disk_addresses(&mut self) -> Result<()> {
        let scsi_hostdev_addresses: Vec<Address> = self
            .devices
            .hostdevs
            .iter()
            .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("scsi"))
            .filter_map(|hostdev| hostdev.info.address.clone())
            .collect();
        for disk in &mut self.devices.disks {
            if disk.info.address.is_some() {
                continue;
            }
            let Some(bus) = disk.target_bus() else {
                continue;
            };
            if !matches!(
                bus,
                DiskBus::Ide | DiskBus::Sata | DiskBus::Scsi | DiskBus::Fdc
            ) {
                continue;
            }
            let dst = disk.target_dev().unwrap_or("").to_string();
            let Some(idx) = disk_name_to_index(&dst) else {
                return Err(xml_error(format!(
                    "Unknown disk name '{dst}' and no address specified"
                )));
            };
            let (controller, bus_no, unit) = match bus {
                DiskBus::Ide => (idx / 4, (idx % 4) / 2, idx % 2),
                DiskBus::Sata => (idx / 6, 0, idx % 6),
                DiskBus::Fdc => (idx / 2, 0, idx % 2),
                _ => (idx / 7, 0, idx % 7),
            };
            let address = Address::Drive {
                controller,
                bus: bus_no,
                target: 0,
                unit,
            };
            if bus == DiskBus::Scsi && scsi_hostdev_addresses.contains(&address) {
                return Err(Error::new(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    ErrorDomain::DOMAIN,
                    format!(
                        "using disk target name '{dst}' conflicts with SCSI host device address controller='{controller}' bus='0' target='0' unit='{unit}"
                    ),
                ));
            }
            disk.info.address = Some(address);
        }
        Ok(())
    }

    /// A mediated device's address must suit its model (PCI for vfio-pci, CCW for vfio-ccw).
    fn post_parse_hostdevs(&self) -> Result<()> {
        for hostdev in &self.devices.hostdevs {
            if hostdev.hostdev_type.as_deref() != Some("mdev") {
                continue;
            }
            let Some(address) = &hostdev.info.address else {
                continue;
            };
            let model = hostdev.model.as_deref().unwrap_or("");
            let wrong = (model == "vfio-pci" && !matches!(address, Address::Pci(_)))
                || (model == "vfio-ccw" && !matches!(address, Address::Ccw { .. }));
            if wrong {
                return Err(xml_error(format!(
                    "Unsupported address type '{}' with mediated device model '{model}'",
                    address.type_name()
                )));
            }
        }
        Ok(())
    }

    /// Per-device `<boot order>` and `<os><boot dev>` exclude each other, orders are unique,
    /// and with neither the guest boots from its first disk.
    pub fn post_parse_boot_order(&mut self) -> Result<()> {
        let mut orders: Vec<u32> = Vec::new();
        let mut duplicate = None;
        self.for_each_device_info(|info| {
            if let Some(order) = info.boot_order().filter(|order| *order > 0) {
                if orders.contains(&order) && duplicate.is_none() {
                    duplicate = Some(order);
                }
                orders.push(order);
            }
        });
        if let Some(order) = duplicate {
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::DOMAIN,
                format!("boot order '{order}' used for more than one device"),
            ));
        }
        let os = self.os.get_or_insert_with(Default::default);
        if !os.boot.is_empty() && !orders.is_empty() {
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::DOMAIN,
                "per-device boot elements cannot be used together with os/boot elements",
            ));
        }
        if os.boot.is_empty() && orders.is_empty() {
            os.boot.push(crate::domain::general::OsBoot {
                dev: Some(BootDevice::Hd),
            });
        }
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

    /// Lifecycle actions, the clock and filesystem access modes: libvirt writes them even
    /// when not given.
    pub fn post_parse_defaults(&mut self) {
        self.on_poweroff.get_or_insert(LifecycleAction::Destroy);
        self.on_reboot.get_or_insert(LifecycleAction::Restart);
        self.on_crash.get_or_insert(LifecycleAction::Destroy);
        let clock = self.clock.get_or_insert_with(Clock::default);
        clock.offset.get_or_insert(ClockOffset::Utc);
        // A filesystem not served through a virtiofsd socket is passed through.
        for fs in &mut self.devices.filesystems {
            let has_socket = fs.source.as_ref().is_some_and(|s| s.socket.is_some());
            if fs.accessmode.is_none() && !has_socket {
                fs.accessmode = Some("passthrough".to_string());
            }
        }
    }

    /// `<os>`: a loader with a path defaults to `type='rom'`; a boot menu that is not
    /// enabled has no timeout.
    pub fn post_parse_os(&mut self) -> Result<()> {
        if let Some(bootmenu) = self.os.as_mut().and_then(|os| os.bootmenu.as_mut()) {
            if !bootmenu.enable.is_some_and(crate::xml::YesNo::is_yes) {
                bootmenu.timeout = None;
            }
        }
        if let Some(loader) = self.os.as_mut().and_then(|os| os.loader.as_mut()) {
            if loader.path.is_some() && loader.loader_type.is_none() {
                loader.loader_type = Some(LoaderType::Rom);
            }
        }
        Ok(())
    }

    /// Without guest NUMA, a huge page size bound to node 0 only is the default size
    /// (`virDomainDefPostParseMemtune`).
    pub fn post_parse_memtune(&mut self) {
        let has_numa = self
            .cpu
            .as_ref()
            .and_then(|cpu| cpu.numa.as_ref())
            .is_some_and(|numa| !numa.cells.is_empty());
        if has_numa {
            return;
        }
        if let Some(hugepages) = self
            .memory_backing
            .as_mut()
            .and_then(|b| b.hugepages.as_mut())
        {
            for page in &mut hugepages.pages {
                if page
                    .nodeset
                    .as_deref()
                    .map(crate::domain::checks::parse_id_set)
                    == Some(vec![0])
                {
                    page.nodeset = None;
                }
            }
        }
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
}

/// The index a disk target name stands for (`sda` → 0, `hdz` → 25, `vdaa` → 26), as
/// `virDiskNameToIndex` computes it; `None` for names it does not recognise.
pub fn disk_name_to_index(name: &str) -> Option<u32> {
    let rest = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    let letters: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(rest.len())];
    if letters.is_empty() || !rest[letters.len()..].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut idx: u32 = 0;
    for (pos, c) in letters.bytes().enumerate() {
        idx = (idx + u32::from(pos > 0)).checked_mul(26)?;
        idx = idx.checked_add(u32::from(c - b'a'))?;
    }
    Some(idx)
}

/// A random MAC address in QEMU's `52:54:00` range.
pub fn random_mac() -> [u8; 6] {
    let bytes = *Uuid::new_v4().as_bytes();
    [0x52, 0x54, 0x00, bytes[0], bytes[1], bytes[2]]
}
