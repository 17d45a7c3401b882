//! A domain written as an `xl` configuration, as libvirt's `xenFormatXL` writes it: the
//! settings in libvirt's order (general, memory, CPUs, features, clock, lifecycle, device
//! model, display, interfaces, PCI, character devices, sound, boot, cpuid, vNUMA, xenbus
//! limits, disks, SPICE, USB, channels, device model arguments).

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::devices::HostdevSourceAddress;
use virt_xml::domain::{
    BootDevice, ChrDevice, ChrType, ClockBasis, ClockOffset, ControllerType, Disk, DiskDevice,
    Domain, GraphicsListenType, GraphicsType, InputBus, InputType, Interface, InterfaceType,
    MouseMode, StorageFormat, StorageType, TimerMode, TimerName,
};
use virt_xml::xml::{OnOff, YesNo};

use crate::conf::{XlConfig, XlValue};
use crate::cpuid::libxl_feature_name;
use crate::facts::XenHostFacts;
use crate::postparse::{self, GuestKind};
use crate::util::{format_bitmap, parse_bitmap};
use crate::Result;

fn xen_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XEN, message)
}

fn xenxl_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XENXL, message)
}

fn flag(on: bool) -> i64 {
    i64::from(on)
}

/// A VNC or SDL display's automatic port: `autoport='yes'` or the legacy `port='-1'`.
fn vnc_autoport(graphics: &virt_xml::domain::Graphics) -> bool {
    match graphics.autoport {
        Some(autoport) => autoport.is_yes(),
        None => graphics.port.is_none_or(|port| port == -1),
    }
}

/// The first listen address of a display.
fn listen_address(graphics: &virt_xml::domain::Graphics) -> Option<&str> {
    let first = graphics.listens.first()?;
    match first.listen_type {
        Some(GraphicsListenType::Address) | None => first.address.as_deref(),
        _ => None,
    }
}

fn format_general(conf: &mut XlConfig, domain: &Domain) {
    conf.set_string("name", domain.name());
    if let Some(uuid) = domain.uuid {
        conf.set_string("uuid", uuid.hyphenated().to_string());
    }
}

fn format_memory(conf: &mut XlConfig, domain: &Domain) {
    conf.set_int("maxmem", domain.memory_kib().div_ceil(1024) as i64);
    conf.set_int("memory", domain.current_memory_kib().div_ceil(1024) as i64);
}

fn format_cpus(conf: &mut XlConfig, domain: &Domain) -> Result<()> {
    let (current, maximum) = (domain.current_vcpus(), domain.max_vcpus());
    if current < maximum {
        conf.set_int("maxvcpus", i64::from(maximum));
    }
    conf.set_int("vcpus", i64::from(current));
    if let Some(cpuset) = domain.vcpu.as_ref().and_then(|vcpu| vcpu.cpuset.as_deref()) {
        conf.set_string("cpus", format_bitmap(&parse_bitmap(cpuset, 4096)?));
    }
    Ok(())
}

/// Whether the `<xen>` feature is on, and the state of its `passthrough` and `e820_host`.
fn xen_features(domain: &Domain) -> Option<&virt_xml::domain::XenFeatures> {
    domain.features.as_ref().and_then(|f| f.xen.as_ref())
}

fn format_features(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) -> Result<()> {
    let features = domain.features.clone().unwrap_or_default();
    let xen = xen_features(domain);
    if kind == GuestKind::Hvm {
        conf.set_int("pae", flag(features.pae));
        conf.set_int("acpi", flag(features.acpi));
        conf.set_int("apic", flag(features.apic.is_some()));
        if features
            .hap
            .as_ref()
            .is_some_and(|hap| hap.state == Some(OnOff::Off))
        {
            conf.set_int("hap", 0);
        }
        conf.set_int("viridian", flag(features.viridian));
    } else if xen
        .and_then(|xen| xen.e820_host.as_ref())
        .is_some_and(|e820| e820.state != Some(OnOff::Off))
    {
        conf.set_int("e820_host", 1);
    }
    if let Some(passthrough) = xen.and_then(|xen| xen.passthrough.as_ref()) {
        if passthrough.state != Some(OnOff::Off) {
            match passthrough.mode.as_deref() {
                Some(mode @ ("sync_pt" | "share_pt")) => conf.set_string("passthrough", mode),
                _ => conf.set_string("passthrough", "enabled"),
            }
        }
    }
    for timer in domain.clock.iter().flat_map(|clock| &clock.timers) {
        match timer.name {
            Some(TimerName::Tsc) => {
                let mode = match timer.mode {
                    Some(TimerMode::Native) => "native",
                    Some(TimerMode::Paravirt) => "native_paravirt",
                    Some(TimerMode::Emulate) => "always_emulate",
                    _ => "default",
                };
                conf.set_string("tsc_mode", mode);
            }
            Some(TimerName::Hpet) if kind == GuestKind::Hvm => {
                conf.set_int("hpet", flag(timer.present != Some(YesNo::No)));
            }
            Some(name) => {
                return Err(xen_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!("unsupported timer type (name) '{}'", name.as_str()),
                ))
            }
            None => {}
        }
    }
    Ok(())
}

fn format_time_offset(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) -> Result<()> {
    let clock = domain.clock.clone().unwrap_or_default();
    let offset = clock.offset.unwrap_or(ClockOffset::Utc);
    let reset = clock.adjustment.as_deref() == Some("reset");
    let unsupported_reset = || {
        xen_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            "unsupported clock adjustment='reset'",
        )
    };
    let unsupported_offset = || {
        xen_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!("unsupported clock offset='{}'", offset.as_str()),
        )
    };
    let localtime = if kind == GuestKind::Hvm {
        let (localtime, adjustment) = match offset {
            ClockOffset::Variable => (
                clock.basis == Some(ClockBasis::Localtime),
                clock
                    .adjustment
                    .as_deref()
                    .and_then(|text| text.parse::<i64>().ok())
                    .unwrap_or(0) as i32,
            ),
            ClockOffset::Utc if reset => return Err(unsupported_reset()),
            ClockOffset::Utc => (false, 0),
            ClockOffset::Localtime if reset => return Err(unsupported_reset()),
            ClockOffset::Localtime => (true, 0),
            _ => return Err(unsupported_offset()),
        };
        conf.set_int("rtc_timeoffset", i64::from(adjustment));
        localtime
    } else {
        match offset {
            ClockOffset::Utc => false,
            ClockOffset::Localtime => true,
            _ => return Err(unsupported_offset()),
        }
    };
    conf.set_int("localtime", flag(localtime));
    Ok(())
}

fn format_lifecycle(conf: &mut XlConfig, domain: &Domain) {
    use virt_xml::domain::LifecycleAction;
    let action = |action: Option<LifecycleAction>, default: LifecycleAction| {
        action.unwrap_or(default).as_str()
    };
    conf.set_string(
        "on_poweroff",
        action(domain.on_poweroff, LifecycleAction::Destroy),
    );
    conf.set_string(
        "on_reboot",
        action(domain.on_reboot, LifecycleAction::Restart),
    );
    conf.set_string(
        "on_crash",
        action(domain.on_crash, LifecycleAction::Destroy),
    );
}

fn format_vfb(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) {
    let [graphics] = domain.devices.graphics.as_slice() else {
        return;
    };
    if graphics.graphics_type == Some(GraphicsType::Spice) {
        return;
    }
    let sdl = graphics.graphics_type == Some(GraphicsType::Sdl);
    let autoport = vnc_autoport(graphics);
    let display = graphics.port.unwrap_or(0).max(0) - 5900;
    if kind == GuestKind::Hvm {
        if sdl {
            conf.set_int("sdl", 1);
            conf.set_int("vnc", 0);
            if let Some(value) = &graphics.display {
                conf.set_string("display", value.as_str());
            }
            if let Some(value) = &graphics.xauth {
                conf.set_string("xauthority", value.as_str());
            }
        } else {
            conf.set_int("sdl", 0);
            conf.set_int("vnc", 1);
            conf.set_int("vncunused", flag(autoport));
            if !autoport {
                conf.set_int("vncdisplay", i64::from(display));
            }
            if let Some(address) = listen_address(graphics) {
                conf.set_string("vnclisten", address);
            }
            if let Some(passwd) = &graphics.passwd {
                conf.set_string("vncpasswd", passwd.as_str());
            }
            if let Some(keymap) = &graphics.keymap {
                conf.set_string("keymap", keymap.as_str());
            }
        }
        return;
    }
    let mut vfb = String::new();
    if sdl {
        vfb.push_str("type=sdl");
        if let Some(value) = &graphics.display {
            vfb.push_str(&format!(",display={value}"));
        }
        if let Some(value) = &graphics.xauth {
            vfb.push_str(&format!(",xauthority={value}"));
        }
    } else {
        vfb.push_str(&format!("type=vnc,vncunused={}", flag(autoport)));
        if !autoport {
            vfb.push_str(&format!(",vncdisplay={display}"));
        }
        if let Some(address) = listen_address(graphics) {
            vfb.push_str(&format!(",vnclisten={address}"));
        }
        if let Some(passwd) = &graphics.passwd {
            vfb.push_str(&format!(",vncpasswd={passwd}"));
        }
        if let Some(keymap) = &graphics.keymap {
            vfb.push_str(&format!(",keymap={keymap}"));
        }
    }
    conf.set("vfb", XlValue::string_list([vfb]));
}

fn ip_list(iface: &Interface) -> Option<String> {
    let ips: Vec<&str> = iface
        .ips
        .iter()
        .filter_map(|ip| ip.address.as_deref())
        .collect();
    (!ips.is_empty()).then(|| ips.join(" "))
}

/// The bridge of an interface, with `.TAG` or `:TAG:TAG` on an Open vSwitch bridge, and
/// whether it is one.
pub(crate) fn bridge_with_vlans(iface: &Interface) -> (String, bool) {
    let mut bridge = iface
        .source
        .as_ref()
        .and_then(|source| source.bridge.clone())
        .unwrap_or_default();
    let ovs = iface
        .virtualport
        .as_ref()
        .and_then(|port| port.port_type.as_deref())
        == Some("openvswitch");
    if ovs {
        if let Some(vlan) = iface.vlan.as_ref().filter(|vlan| !vlan.tags.is_empty()) {
            let tags = vlan.tags.iter().map(|tag| tag.id.unwrap_or(0));
            if vlan.trunk == Some(YesNo::Yes) {
                for tag in tags {
                    bridge.push_str(&format!(":{tag}"));
                }
            } else if let Some(tag) = tags.into_iter().next() {
                bridge.push_str(&format!(".{tag}"));
            }
        }
    }
    (bridge, ovs)
}

fn format_vif(iface: &Interface, kind: GuestKind) -> Result<String> {
    let mac = iface.mac_address().unwrap_or("00:00:00:00:00:00");
    let mut out = format!("mac={mac}");
    let script = iface.script.as_ref().and_then(|s| s.path.as_deref());
    match iface.interface_type {
        Some(InterfaceType::Bridge) => {
            let (bridge, ovs) = bridge_with_vlans(iface);
            out.push_str(&format!(",bridge={bridge}"));
            if let Some(ips) = ip_list(iface) {
                out.push_str(&format!(",ip={ips}"));
            }
            let default = if ovs { "vif-openvswitch" } else { "vif-bridge" };
            out.push_str(&format!(",script={}", script.unwrap_or(default)));
        }
        Some(InterfaceType::Ethernet) => {
            if let Some(script) = script {
                out.push_str(&format!(",script={script}"));
            }
            if let Some(ips) = ip_list(iface) {
                out.push_str(&format!(",ip={ips}"));
            }
        }
        Some(InterfaceType::Network) => {
            // The bridge of a virtual network comes from the network driver, which a
            // configuration converter does not have (libvirt asks its connection).
            return Err(Error::new(
                ErrorNumber::NO_SUPPORT,
                ErrorDomain::XEN,
                "virNetworkLookupByName",
            ));
        }
        other => {
            return Err(xen_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                format!(
                    "Unsupported net type '{}'",
                    other.map_or("", |kind| kind.as_str())
                ),
            ))
        }
    }
    if let Some(model) = iface.model_type() {
        if kind == GuestKind::Hvm && model == "netfront" {
            out.push_str(",type=vif");
        } else {
            out.push_str(&format!(",model={model}"));
        }
    }
    if let Some(dev) = iface
        .target
        .as_ref()
        .and_then(|target| target.dev.as_deref())
    {
        out.push_str(&format!(",vifname={dev}"));
    }
    let average = iface
        .bandwidth
        .as_ref()
        .and_then(|bandwidth| bandwidth.outbound.as_ref())
        .and_then(|rate| rate.average)
        .unwrap_or(0);
    if average != 0 {
        out.push_str(&format!(",rate={average}KB/s"));
    }
    Ok(out)
}

fn format_vifs(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) -> Result<()> {
    let mut vifs = Vec::new();
    for iface in &domain.devices.interfaces {
        vifs.push(format_vif(iface, kind)?);
    }
    if !vifs.is_empty() {
        conf.set("vif", XlValue::string_list(vifs));
    }
    Ok(())
}

fn format_pci(conf: &mut XlConfig, domain: &Domain) {
    let mut entries = Vec::new();
    for hostdev in &domain.devices.hostdevs {
        if hostdev.hostdev_type.as_deref() != Some("pci") {
            continue;
        }
        let Some(source) = &hostdev.source else {
            continue;
        };
        let Some(HostdevSourceAddress::Pci { address, .. }) = &source.address else {
            continue;
        };
        let permissive = match source.write_filtering {
            Some(YesNo::Yes) => ",permissive=0",
            Some(YesNo::No) => ",permissive=1",
            None => "",
        };
        entries.push(format!(
            "{:04x}:{:02x}:{:02x}.{:x}{permissive}",
            address.domain, address.bus, address.slot, address.function
        ));
    }
    if !entries.is_empty() {
        conf.set("pci", XlValue::string_list(entries));
    }
}

fn format_chardevs(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) -> Result<()> {
    if kind != GuestKind::Hvm {
        return Ok(());
    }
    let devices = &domain.devices;
    match devices.parallels.first() {
        Some(parallel) => conf.set_string("parallel", crate::chr::format_sxpr_char(parallel)?),
        None => conf.set_string("parallel", "none"),
    }
    let serials = &devices.serials;
    if serials.is_empty() {
        conf.set_string("serial", "none");
    } else if serials.len() == 1 && serials[0].target_port().unwrap_or(0) == 0 {
        conf.set_string("serial", crate::chr::format_sxpr_char(&serials[0])?);
    } else {
        let max_port = serials
            .iter()
            .map(|serial| serial.target_port().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let mut entries = Vec::new();
        for port in 0..=max_port {
            let serial: Option<&ChrDevice> = serials
                .iter()
                .find(|serial| serial.target_port().unwrap_or(0) == port);
            entries.push(match serial {
                Some(serial) => crate::chr::format_sxpr_char(serial)?,
                None => "none".to_string(),
            });
        }
        conf.set("serial", XlValue::string_list(entries));
    }
    Ok(())
}

fn format_sound(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) {
    if kind != GuestKind::Hvm || domain.devices.sounds.is_empty() {
        return;
    }
    let models: Vec<&str> = domain
        .devices
        .sounds
        .iter()
        .map(|sound| sound.model.map_or("", |model| model.as_str()))
        .collect();
    conf.set_string("soundhw", models.join(","));
}

fn format_os(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) {
    let os = domain.os.clone().unwrap_or_default();
    if kind == GuestKind::Hvm {
        conf.set_string("builder", "hvm");
        let pflash = os.loader.as_ref().and_then(|loader| loader.loader_type)
            == Some(virt_xml::domain::LoaderType::Pflash);
        if pflash {
            conf.set_string("bios", "ovmf");
        }
        let slic = os
            .acpi
            .iter()
            .flat_map(|acpi| &acpi.tables)
            .find_map(|table| table.path.clone());
        if let Some(slic) = slic {
            conf.set_string("acpi_firmware", slic);
        }
        if let Some(kernel) = &os.kernel {
            conf.set_string("kernel", kernel.as_str());
        }
        if let Some(initrd) = &os.initrd {
            conf.set_string("ramdisk", initrd.as_str());
        }
        if let Some(cmdline) = &os.cmdline {
            conf.set_string("cmdline", cmdline.as_str());
        }
        let mut boot: String = os
            .boot
            .iter()
            .take(4)
            .map(|boot| match boot.dev {
                Some(BootDevice::Fd) => 'a',
                Some(BootDevice::Cdrom) => 'd',
                Some(BootDevice::Network) => 'n',
                _ => 'c',
            })
            .collect();
        if boot.is_empty() {
            boot.push('c');
        }
        conf.set_string("boot", boot);
        if let Some(cpu) = domain
            .cpu
            .as_ref()
            .filter(|cpu| cpu.mode.as_deref() == Some("host-passthrough"))
        {
            let hw_virt_off = cpu.features.iter().any(|feature| {
                matches!(feature.policy.as_deref(), Some("disable" | "forbid"))
                    && matches!(feature.name.as_deref(), Some("vmx" | "svm"))
            });
            conf.set_int("nestedhvm", flag(!hw_virt_off));
        }
    } else {
        if kind == GuestKind::Pvh {
            conf.set_string("type", "pvh");
        }
        if let Some(bootloader) = &domain.bootloader {
            conf.set_string("bootloader", bootloader.as_str());
        }
        if let Some(args) = &domain.bootloader_args {
            conf.set_string("bootargs", args.as_str());
        }
        if let Some(kernel) = &os.kernel {
            conf.set_string("kernel", kernel.as_str());
        }
        if let Some(initrd) = &os.initrd {
            conf.set_string("ramdisk", initrd.as_str());
        }
        if let Some(cmdline) = &os.cmdline {
            conf.set_string("cmdline", cmdline.as_str());
        }
    }
}

fn format_cpuid(conf: &mut XlConfig, domain: &Domain) {
    let Some(cpu) = &domain.cpu else {
        return;
    };
    // libvirt warns about, and ignores, any other CPU mode.
    if cpu.mode.as_deref() != Some("host-passthrough") {
        return;
    }
    let mut pairs = vec!["host".to_string()];
    for feature in &cpu.features {
        let name = libxl_feature_name(feature.name.as_deref().unwrap_or(""));
        if name == "vmx" || name == "svm" {
            continue;
        }
        let policy = match feature.policy.as_deref() {
            Some("optional") => "x",
            Some("disable" | "forbid") => "0",
            _ => "1",
        };
        pairs.push(format!("{name}={policy}"));
    }
    if pairs.len() > 1 {
        conf.set_string("cpuid", pairs.join(","));
    }
}

fn format_vnuma(conf: &mut XlConfig, domain: &Domain) -> Result<()> {
    let Some(cells) = domain
        .cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .map(|numa| &numa.cells)
        .filter(|cells| !cells.is_empty())
    else {
        return Ok(());
    };
    let distances = crate::numa::distance_matrix(domain);
    let mut nodes = Vec::with_capacity(cells.len());
    for (idx, cell) in cells.iter().enumerate() {
        let cpus = cell.cpus.as_deref().ok_or_else(|| {
            xenxl_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                format!("vnuma node {idx} has no vcpus"),
            )
        })?;
        let vcpus = format_bitmap(&parse_bitmap(cpus, 16384)?);
        let vdistances: Vec<String> = distances[idx].iter().map(u32::to_string).collect();
        nodes.push(XlValue::string_list([
            format!("pnode={idx}"),
            format!("size={}", cell.memory.unwrap_or(0) / 1024),
            format!("vcpus={vcpus}"),
            format!("vdistances={}", vdistances.join(",")),
        ]));
    }
    conf.set("vnuma", XlValue::List(nodes));
    Ok(())
}

fn format_xenbus_limits(conf: &mut XlConfig, domain: &Domain, facts: &XenHostFacts) {
    for controller in &domain.devices.controllers {
        if controller.controller_type != Some(ControllerType::Xenbus) {
            continue;
        }
        if let Some(channels) = controller.max_event_channels.filter(|n| *n > 0) {
            conf.set_int("max_event_channels", i64::from(channels));
        }
        if facts.grant_limits {
            if let Some(frames) = controller.max_grant_frames.filter(|n| *n > 0) {
                conf.set_int("max_grant_frames", i64::from(frames));
            }
        }
    }
}

/// What `target=` says for a disk's source; `None` for an empty drive.
fn disk_target(disk: &Disk) -> Result<Option<String>> {
    let Some(source) = &disk.source else {
        return Ok(None);
    };
    match disk.actual_type() {
        StorageType::Network => {
            let protocol = source.protocol;
            if protocol != Some(virt_xml::domain::NetProtocol::Rbd) {
                return Err(Error::new(
                    ErrorNumber::NO_SUPPORT,
                    ErrorDomain::XENXL,
                    format!(
                        "Unsupported network block protocol '{}'",
                        protocol.map_or("none", |p| p.as_str())
                    ),
                ));
            }
            crate::rbd::format_rbd(source, crate::rbd::Escaping::XlFile, None).map(Some)
        }
        // libvirt reads an empty path as no source (a CD-ROM without media).
        StorageType::File | StorageType::Block | StorageType::Dir => Ok(source
            .file
            .clone()
            .or_else(|| source.dev.clone())
            .or_else(|| source.dir.clone())
            .filter(|path| !path.is_empty())),
        _ => Ok(None),
    }
}

fn format_disk(disk: &Disk) -> Result<String> {
    let driver = disk.driver.as_ref();
    let format = match driver.and_then(|driver| driver.format) {
        Some(StorageFormat::Vhd) => "xvhd",
        Some(StorageFormat::Qcow) => "qcow",
        Some(StorageFormat::Qcow2) => "qcow2",
        Some(StorageFormat::Qed) => "qed",
        _ => "raw",
    };
    let mut out = format!("format={format},vdev={}", disk.target_dev().unwrap_or(""));
    out.push_str(if disk.readonly {
        ",access=ro"
    } else if disk.shareable {
        ",access=!"
    } else {
        ",access=rw"
    });
    if disk.transient.is_some() {
        return Err(xenxl_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            "transient disks not supported yet",
        ));
    }
    if let Some(name) = driver.and_then(|driver| driver.name.as_deref()) {
        out.push_str(",backendtype=");
        out.push_str(match name {
            "qemu" | "file" => "qdisk",
            "tap" => "tap",
            "phy" => "phy",
            _ => "",
        });
    }
    if disk.device == Some(DiskDevice::Cdrom) {
        out.push_str(",devtype=cdrom");
    }
    if let Some(target) = disk_target(disk)? {
        out.push_str(&format!(",target={target}"));
    }
    Ok(out)
}

fn format_disks(conf: &mut XlConfig, domain: &Domain) -> Result<()> {
    let mut disks = Vec::new();
    for disk in &domain.devices.disks {
        if disk.device == Some(DiskDevice::Floppy) {
            continue;
        }
        disks.push(format_disk(disk)?);
    }
    if !disks.is_empty() {
        conf.set("disk", XlValue::string_list(disks));
    }
    Ok(())
}

fn format_spice(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) {
    if kind != GuestKind::Hvm {
        return;
    }
    let Some(graphics) = domain.devices.graphics.first() else {
        return;
    };
    if graphics.graphics_type != Some(GraphicsType::Spice) {
        return;
    }
    conf.set_int("sdl", 0);
    conf.set_int("vnc", 0);
    conf.set_int("spice", 1);
    if let Some(address) = listen_address(graphics) {
        conf.set_string("spicehost", address);
    }
    conf.set_int("spiceport", i64::from(graphics.port.unwrap_or(0).max(0)));
    conf.set_int(
        "spicetls_port",
        i64::from(graphics.tls_port.unwrap_or(0).max(0)),
    );
    match &graphics.passwd {
        Some(passwd) => {
            conf.set_int("spicedisable_ticketing", 0);
            conf.set_string("spicepasswd", passwd.as_str());
        }
        None => conf.set_int("spicedisable_ticketing", 1),
    }
    match graphics.mouse.as_ref().and_then(|mouse| mouse.mode) {
        Some(MouseMode::Server) => conf.set_int("spiceagent_mouse", 0),
        Some(MouseMode::Client) => {
            conf.set_int("spiceagent_mouse", 1);
            conf.set_int("spicevdagent", 1);
        }
        None => {}
    }
    let copypaste = graphics
        .clipboard
        .as_ref()
        .and_then(|clipboard| clipboard.copypaste);
    if copypaste == Some(YesNo::Yes) {
        conf.set_int("spice_clipboard_sharing", 1);
        conf.set_int("spicevdagent", 1);
    }
}

fn format_usb_inputs(conf: &mut XlConfig, domain: &Domain, kind: GuestKind) {
    if kind != GuestKind::Hvm {
        return;
    }
    let mut devices = Vec::new();
    for input in &domain.devices.inputs {
        if input.bus != Some(InputBus::Usb) {
            continue;
        }
        conf.set_int("usb", 1);
        match input.input_type {
            Some(InputType::Mouse) => devices.push("mouse"),
            Some(InputType::Tablet) => devices.push("tablet"),
            Some(InputType::Keyboard) => devices.push("keyboard"),
            _ => {}
        }
    }
    match devices.as_slice() {
        [] => {}
        // A single device in the older syntax, which Xen 4.2 and earlier understand.
        [device] => conf.set_string("usbdevice", *device),
        _ => conf.set("usbdevice", XlValue::string_list(devices)),
    }
}

fn format_usb_hostdevs(conf: &mut XlConfig, domain: &Domain) {
    let entries: Vec<String> = domain
        .devices
        .hostdevs
        .iter()
        .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("usb"))
        .filter_map(|hostdev| match hostdev.source.as_ref()?.address.as_ref()? {
            HostdevSourceAddress::Usb { bus, device, .. } => {
                Some(format!("hostbus={bus:x},hostaddr={device:x}"))
            }
            _ => None,
        })
        .collect();
    if !entries.is_empty() {
        conf.set("usbdev", XlValue::string_list(entries));
    }
}

fn format_usb_controllers(conf: &mut XlConfig, domain: &Domain) -> Result<()> {
    let mut entries = Vec::new();
    for controller in &domain.devices.controllers {
        if controller.controller_type != Some(ControllerType::Usb) {
            continue;
        }
        let mut entry = match controller.model.as_deref() {
            None => String::new(),
            Some("qusb1") => "type=qusb,version=1,".to_string(),
            Some("qusb2") => "type=qusb,version=2,".to_string(),
            Some(other) => {
                return Err(xenxl_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!("unsupported usb controller model '{other}'"),
                ))
            }
        };
        if let Some(ports) = controller.ports.filter(|ports| *ports != -1) {
            entry.push_str(&format!("ports={ports:x}"));
        }
        entries.push(entry);
    }
    if !entries.is_empty() {
        conf.set("usbctrl", XlValue::string_list(entries));
    }
    Ok(())
}

fn format_channels(conf: &mut XlConfig, domain: &Domain) -> Result<()> {
    let mut entries = Vec::new();
    for channel in &domain.devices.channels {
        if channel.target_type() != Some("xen") {
            continue;
        }
        let mut entry = String::from("connection=");
        match channel.chr_type {
            Some(ChrType::Pty) => entry.push_str("pty,"),
            Some(ChrType::Unix) => {
                entry.push_str("socket,");
                if let Some(path) = channel.source().and_then(|s| s.path.as_deref()) {
                    entry.push_str(&format!("path={path},"));
                }
            }
            other => {
                return Err(xenxl_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!(
                        "unsupported channel type '{}'",
                        other.map_or("", |kind| kind.as_str())
                    ),
                ))
            }
        }
        let name = channel.target.as_ref().and_then(|t| t.name.as_deref());
        entry.push_str(&format!("name={}", name.unwrap_or("(null)")));
        entries.push(entry);
    }
    if !entries.is_empty() {
        conf.set("channel", XlValue::string_list(entries));
    }
    Ok(())
}

fn format_device_model_args(conf: &mut XlConfig, domain: &Domain) {
    if let Some(xen) = domain.xen.as_ref().filter(|xen| !xen.args.is_empty()) {
        conf.set("device_model_args", XlValue::string_list(xen.args.clone()));
    }
}

/// The configuration for a domain.
pub fn domain_to_xl_config(domain: &Domain, facts: &XenHostFacts) -> Result<XlConfig> {
    let mut domain = domain.clone();
    let kind = postparse::post_parse(&mut domain, facts)?;
    let domain = &domain;
    let mut conf = XlConfig::default();
    format_general(&mut conf, domain);
    format_memory(&mut conf, domain);
    format_cpus(&mut conf, domain)?;
    format_features(&mut conf, domain, kind)?;
    format_time_offset(&mut conf, domain, kind)?;
    format_lifecycle(&mut conf, domain);
    if let Some(emulator) = &domain.devices.emulator {
        conf.set_string("device_model_override", emulator.as_str());
    }
    format_vfb(&mut conf, domain, kind);
    format_vifs(&mut conf, domain, kind)?;
    format_pci(&mut conf, domain);
    format_chardevs(&mut conf, domain, kind)?;
    format_sound(&mut conf, domain, kind);
    format_os(&mut conf, domain, kind);
    format_cpuid(&mut conf, domain);
    format_vnuma(&mut conf, domain)?;
    format_xenbus_limits(&mut conf, domain, facts);
    format_disks(&mut conf, domain)?;
    format_spice(&mut conf, domain, kind);
    format_usb_inputs(&mut conf, domain, kind);
    format_usb_hostdevs(&mut conf, domain);
    format_usb_controllers(&mut conf, domain)?;
    format_channels(&mut conf, domain)?;
    format_device_model_args(&mut conf, domain);
    Ok(conf)
}

/// The text of the configuration for a domain.
pub fn domain_to_xl(domain: &Domain, facts: &XenHostFacts) -> Result<String> {
    Ok(domain_to_xl_config(domain, facts)?.to_text())
}
