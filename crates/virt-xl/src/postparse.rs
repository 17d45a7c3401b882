//! What libvirt's libxl driver adds to a definition after parsing it (its post-parse
//! callbacks in `libxl_domain.c`), around virt-xml's driver-independent steps: a PV console,
//! the implicit mouse and keyboard, PAE, the Xen balloon and xenbus controller, Xen's
//! defaults for video, disks and PCI host devices, MAC addresses in Xen's `00:16:3e` range,
//! and the check that the host runs the guest type at all.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::devices::HostdevDriver;
use virt_xml::domain::{
    ChrDevice, ChrTarget, ChrType, Controller, ControllerType, Disk, Domain, Features, Input,
    InputBus, InputType, InterfaceType, Mac, Memballoon, MemballoonModel, OsType, PostParseDriver,
    StorageFormat, StorageType, Video, VideoModel, VideoModelElement, VirtType,
};

use crate::facts::{DeviceModelVersion, XenHostFacts};
use crate::Result;

/// The guest type a domain asks for, `linux` read as the PV type it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuestKind {
    Hvm,
    Pv,
    Pvh,
}

impl GuestKind {
    pub(crate) fn of(domain: &Domain) -> Option<GuestKind> {
        match domain.os_type() {
            Some(OsType::Hvm) => Some(GuestKind::Hvm),
            Some(OsType::Xen | OsType::Linux) => Some(GuestKind::Pv),
            Some(OsType::Xenpvh) => Some(GuestKind::Pvh),
            _ => None,
        }
    }

    /// The machine type capabilities give the guest type.
    pub(crate) fn machine(self) -> &'static str {
        match self {
            GuestKind::Hvm => "xenfv",
            GuestKind::Pv => "xenpv",
            GuestKind::Pvh => "xenpvh",
        }
    }

    /// The `<os><type>` keyword libvirt writes (`linux` for PV guests of the Xen driver).
    pub(crate) fn os_type(self) -> OsType {
        match self {
            GuestKind::Hvm => OsType::Hvm,
            GuestKind::Pv => OsType::Linux,
            GuestKind::Pvh => OsType::Xenpvh,
        }
    }

    /// libvirt's name of the type in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GuestKind::Hvm => "hvm",
            GuestKind::Pv => "xen",
            GuestKind::Pvh => "xenpvh",
        }
    }

    pub(crate) fn supported(self, facts: &XenHostFacts) -> bool {
        match self {
            GuestKind::Hvm => facts.hvm,
            GuestKind::Pv => facts.pv,
            GuestKind::Pvh => facts.pvh,
        }
    }
}

/// libvirt's "could not find capabilities for ..." of a guest type the host does not run.
pub(crate) fn no_capabilities(ostype: &str, arch: Option<&str>, virt_type: &str) -> Error {
    let arch = arch.map(|arch| format!("arch={arch} ")).unwrap_or_default();
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::CAPABILITIES,
        format!("could not find capabilities for ostype={ostype} {arch}domaintype={virt_type} "),
    )
}

/// The guest type of a definition, checked against what the host runs (libvirt's libxl
/// `domainValidateCallback`).
pub(crate) fn guest_kind(domain: &Domain, facts: &XenHostFacts) -> Result<GuestKind> {
    let Some(os_type) = domain.os_type() else {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::DOMAIN,
            "an os <type> must be specified",
        ));
    };
    let arch = domain
        .os
        .as_ref()
        .and_then(|os| os.arch())
        .unwrap_or(&facts.arch);
    let virt_type = domain.virt_type.map_or("none", |kind| kind.as_str());
    let kind = GuestKind::of(domain);
    let name = kind.map_or(os_type.as_str(), GuestKind::name);
    match kind {
        Some(kind)
            if kind.supported(facts)
                && arch == facts.arch
                && domain.virt_type == Some(VirtType::Xen) =>
        {
            Ok(kind)
        }
        _ => Err(no_capabilities(name, Some(arch), virt_type)),
    }
}

/// A random MAC address in Xen's `00:16:3e` range.
fn random_xen_mac() -> String {
    let bytes = *Uuid::new_v4().as_bytes();
    virt_xml::domain::format_mac([0x00, 0x16, 0x3e, bytes[0], bytes[1], bytes[2]])
}

struct LibxlDriver {
    kind: GuestKind,
}

impl PostParseDriver for LibxlDriver {
    fn default_video_model(&self, _domain: &Domain) -> Option<VideoModel> {
        // The implicit video device is added, with Xen's defaults, before the generic steps.
        None
    }

    fn default_console_target_type(&self, _domain: &Domain) -> Option<&'static str> {
        (self.kind != GuestKind::Hvm).then_some("xen")
    }
}

/// The video model and memory libxl's device callback gives a video device.
fn video_defaults(video: &mut Video, kind: GuestKind, arch: &str, facts: &XenHostFacts) {
    let model = video.model.get_or_insert_with(VideoModelElement::default);
    if model.model_type.is_none() {
        model.model_type = Some(if kind == GuestKind::Pv {
            VideoModel::Xen
        } else if arch == "ppc64" || arch == "ppc64le" {
            VideoModel::Vga
        } else {
            VideoModel::Cirrus
        });
    }
    if kind != GuestKind::Hvm || model.vram.is_some_and(|vram| vram != 0) {
        return;
    }
    let traditional = facts.device_model == DeviceModelVersion::QemuXenTraditional;
    let vram = match model.model_type {
        Some(VideoModel::Vga | VideoModel::Xen) => Some(if traditional { 8 } else { 16 } * 1024),
        Some(VideoModel::Cirrus) => Some(if traditional { 4 } else { 8 } * 1024),
        Some(VideoModel::Qxl) => Some(128 * 1024),
        _ => None,
    };
    if vram.is_some() {
        model.vram = vram;
    }
}

/// Disks: a network disk is served by QEMU unless told otherwise, and the image format
/// defaults to raw (xl's default).
fn disk_defaults(disk: &mut Disk) {
    let network = disk.actual_type() == StorageType::Network;
    let driver = disk.driver.get_or_insert_with(Default::default);
    if network && driver.name.is_none() {
        driver.name = Some("qemu".to_string());
    }
    if driver.format.is_none() {
        driver.format = Some(StorageFormat::Raw);
    }
}

/// libxl's domain post-parse callback.
fn domain_callback(domain: &mut Domain, kind: GuestKind, arch: &str) {
    let devices = &mut domain.devices;
    if kind != GuestKind::Hvm && devices.consoles.is_empty() {
        devices.consoles.push(ChrDevice {
            chr_type: Some(ChrType::Pty),
            target: Some(ChrTarget {
                target_type: Some("xen".to_string()),
                port: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    let bus = if kind == GuestKind::Hvm {
        InputBus::Ps2
    } else {
        InputBus::Xen
    };
    for input_type in [InputType::Mouse, InputType::Keyboard] {
        let present = devices
            .inputs
            .iter()
            .any(|input| input.input_type == Some(input_type) && input.bus == Some(bus));
        if !present {
            devices.inputs.push(Input {
                input_type: Some(input_type),
                bus: Some(bus),
                ..Default::default()
            });
        }
    }
    if kind == GuestKind::Hvm && arch == "x86_64" {
        let has_numa = domain
            .cpu
            .as_ref()
            .and_then(|cpu| cpu.numa.as_ref())
            .is_some_and(|numa| !numa.cells.is_empty());
        let features = domain.features.get_or_insert_with(Features::default);
        features.pae = true;
        if has_numa {
            features.acpi = true;
        }
    }
    let devices = &mut domain.devices;
    if devices.memballoon.is_none() {
        devices.memballoon = Some(Memballoon {
            model: Some(MemballoonModel::Xen),
            ..Default::default()
        });
    }
    add_xenbus(domain);
}

/// Adds the xenbus controller when there is none (`virDomainDefAddController` at the
/// lowest unused index); returns its position.
pub(crate) fn add_xenbus(domain: &mut Domain) -> usize {
    let controllers = &mut domain.devices.controllers;
    if let Some(position) = controllers
        .iter()
        .position(|c| c.controller_type == Some(ControllerType::Xenbus))
    {
        return position;
    }
    controllers.push(Controller {
        controller_type: Some(ControllerType::Xenbus),
        index: Some(0),
        ..Default::default()
    });
    controllers.len() - 1
}

/// libxl's device post-parse callback, for every device that has one.
fn device_callbacks(
    domain: &mut Domain,
    kind: GuestKind,
    arch: &str,
    facts: &XenHostFacts,
) -> Result<()> {
    let devices = &mut domain.devices;
    for hostdev in &mut devices.hostdevs {
        if hostdev.mode == Some(virt_xml::domain::HostdevMode::Capabilities) {
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::LIBXL,
                "hostdev mode 'capabilities' is not supported in xen",
            ));
        }
        if hostdev.hostdev_type.as_deref() == Some("pci") {
            let driver = hostdev.driver.get_or_insert_with(HostdevDriver::default);
            driver.name.get_or_insert_with(|| "xen".to_string());
        }
    }
    for iface in &mut devices.interfaces {
        if iface.interface_type == Some(InterfaceType::Hostdev) {
            let driver = iface
                .hostdev_driver
                .get_or_insert_with(HostdevDriver::default);
            driver.name.get_or_insert_with(|| "xen".to_string());
        }
        let has_mac = iface
            .mac_address()
            .and_then(virt_xml::domain::parse_mac)
            .is_some();
        if !has_mac {
            iface.mac.get_or_insert_with(Mac::default).address = Some(random_xen_mac());
        }
    }
    for video in &mut devices.videos {
        video_defaults(video, kind, arch, facts);
    }
    if devices.videos.is_empty() && !devices.graphics.is_empty() {
        let mut video = Video::default();
        video_defaults(&mut video, kind, arch, facts);
        devices.videos.push(video);
    }
    for disk in &mut devices.disks {
        disk_defaults(disk);
    }
    Ok(())
}

/// Runs libvirt's post-parse steps for a domain of the libxl driver, checking first that
/// the host runs its guest type.
pub(crate) fn post_parse(domain: &mut Domain, facts: &XenHostFacts) -> Result<GuestKind> {
    let kind = guest_kind(domain, facts)?;
    let arch = domain
        .os
        .as_ref()
        .and_then(|os| os.arch())
        .unwrap_or(&facts.arch)
        .to_string();
    domain_callback(domain, kind, &arch);
    device_callbacks(domain, kind, &arch, facts)?;
    domain.post_parse_with(&LibxlDriver { kind })?;
    Ok(kind)
}
