//! The command lines that run a bhyve guest, as libvirt's bhyve driver builds them
//! (`virBhyveProcessBuildBhyveCmd`, `virBhyveProcessBuildLoadCmd`): the loader that puts
//! the guest's kernel in memory (`bhyveload`, `grub-bhyve` with its device map, or a custom
//! one; none for a UEFI ROM), then `bhyve` itself.
//!
//! Pure: the tap devices, the VNC port and what the installed programs can do are given.
//! The definition is expected to have been through [`crate::address::prepare`].

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::address::{Address, DeviceInfo};
use virt_xml::domain::devices::{Controller, Graphics, Video};
use virt_xml::domain::disk::Disk;
use virt_xml::domain::enums::{
    AudioType, BootDevice, ChrType, ClockOffset, ControllerType, DiskBus, DiskDevice,
    FilesystemType, GraphicsListenType, GraphicsType, InputBus, InputType, InterfaceType,
    SoundModel, StorageType,
};
use virt_xml::domain::Domain;

use crate::caps::{BhyveCaps, GRUB_CONSDEV};

pub const BHYVE: &str = "/usr/sbin/bhyve";
pub const BHYVELOAD: &str = "/usr/sbin/bhyveload";

/// What the command lines depend on besides the definition.
pub struct Environment<'a> {
    pub caps: BhyveCaps,
    /// `virBhyveGrubCapsFlags`.
    pub grub_caps: u32,
    /// The tap device of each `<interface>`, in order.
    pub taps: &'a [String],
    /// A free port for a VNC server with `autoport`.
    pub vnc_port: &'a mut dyn FnMut() -> Result<u16, Error>,
}

/// The loader's command line, and the device map `grub-bhyve` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderCommand {
    pub argv: Vec<String>,
    pub device_map: Option<String>,
}

fn unsupported(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::CONFIG_UNSUPPORTED, ErrorDomain::BHYVE, message)
}

fn internal(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::BHYVE, message)
}

/// `SLOT:FUNCTION` of a device's PCI address (0:0 when it has none).
fn slot(info: &DeviceInfo) -> String {
    match &info.address {
        Some(Address::Pci(pci)) => format!("{}:{}", pci.slot, pci.function),
        _ => "0:0".to_string(),
    }
}

/// `bhyve`'s command line.
pub fn bhyve_argv(domain: &Domain, env: &mut Environment<'_>) -> Result<Vec<String>, Error> {
    let caps = env.caps;
    let mut argv = vec![BHYVE.to_string()];
    let mut push = |args: &[&str]| argv.extend(args.iter().map(|arg| arg.to_string()));

    let vcpus = domain.current_vcpus();
    match domain.cpu.as_ref().and_then(|cpu| cpu.topology.as_ref()) {
        Some(topology) if topology.sockets.unwrap_or(0) != 0 => {
            if topology.dies.unwrap_or(1) != 1 {
                return Err(unsupported("Only 1 die per socket is supported"));
            }
            let (sockets, cores, threads) = (
                topology.sockets.unwrap_or(0),
                topology.cores.unwrap_or(0),
                topology.threads.unwrap_or(0),
            );
            if sockets * cores * threads != vcpus {
                return Err(unsupported(
                    "Invalid CPU topology: total number of vCPUs must equal the product of sockets, cores, and threads",
                ));
            }
            if !caps.has(BhyveCaps::CPUTOPOLOGY) {
                return Err(unsupported(
                    "Installed bhyve binary does not support defining CPU topology",
                ));
            }
            push(&[
                "-c",
                &format!("cpus={vcpus},sockets={sockets},cores={cores},threads={threads}"),
            ]);
        }
        _ => push(&["-c", &vcpus.to_string()]),
    }
    push(&["-m", &domain.memory_kib().div_ceil(1024).to_string()]);
    if domain
        .memory_backing
        .as_ref()
        .is_some_and(|backing| backing.locked)
    {
        push(&["-S"]);
    }
    if let Some(features) = &domain.features {
        if features.acpi {
            push(&["-A"]);
        }
        if features.apic.is_some() {
            push(&["-I"]);
        }
        if features
            .msrs
            .as_ref()
            .is_some_and(|msrs| msrs.unknown.as_deref() == Some("ignore"))
        {
            push(&["-w"]);
        }
    }
    match domain
        .clock
        .as_ref()
        .and_then(|clock| clock.offset)
        .unwrap_or(ClockOffset::Utc)
    {
        ClockOffset::Localtime => {}
        ClockOffset::Utc => {
            if !caps.has(BhyveCaps::RTC_UTC) {
                return Err(unsupported(
                    "Installed bhyve binary does not support UTC clock",
                ));
            }
            push(&["-u"]);
        }
        other => {
            return Err(unsupported(format!(
                "unsupported clock offset '{}'",
                other.as_str()
            )))
        }
    }
    push(&["-H", "-P", "-s", "0:0,hostbridge"]);
    if let Some(loader) = uefi_loader(domain) {
        if !caps.has(BhyveCaps::LPC_BOOTROM) {
            return Err(unsupported(
                "Installed bhyve binary does not support UEFI loader",
            ));
        }
        push(&["-l", &format!("bootrom,{loader}")]);
    }

    let mut usb_seen = false;
    let mut isa_seen = false;
    for controller in &domain.devices.controllers {
        match controller.controller_type {
            Some(ControllerType::Pci) if controller.model.as_deref() != Some("pci-root") => {
                return Err(unsupported(
                    "unsupported PCI controller model: only PCI root supported",
                ));
            }
            Some(ControllerType::Sata) => {
                push(&["-s", &ahci_spec(domain, controller, caps)?]);
            }
            Some(ControllerType::Usb) => {
                if usb_seen {
                    return Err(unsupported("only single USB controller is supported"));
                }
                usb_seen = true;
                push(&["-s", &xhci_spec(domain, controller)?]);
            }
            Some(ControllerType::Isa) => {
                if isa_seen {
                    return Err(unsupported("only single ISA controller is supported"));
                }
                isa_seen = true;
                push(&["-s", &format!("{},lpc", slot(&controller.info))]);
            }
            _ => {}
        }
    }

    for (index, interface) in domain.devices.interfaces.iter().enumerate() {
        let model = match interface.model_type() {
            Some("virtio") => "virtio-net",
            Some("e1000") => {
                if !caps.has(BhyveCaps::NET_E1000) {
                    return Err(unsupported(
                        "NIC model 'e1000' is not supported by given bhyve binary",
                    ));
                }
                "e1000"
            }
            _ => return Err(unsupported("NIC model is not supported")),
        };
        let kind = interface
            .actual
            .as_ref()
            .and_then(|actual| actual.interface_type)
            .or(interface.interface_type);
        if kind != Some(InterfaceType::Bridge) {
            return Err(unsupported(format!(
                "Network type {} is not supported",
                kind.map(interface_type_number).unwrap_or(0)
            )));
        }
        let tap = env.taps.get(index).map(String::as_str).unwrap_or("tap0");
        let mac = interface.mac_address().unwrap_or("").to_ascii_lowercase();
        push(&[
            "-s",
            &format!("{},{model},{tap},mac={mac}", slot(&interface.info)),
        ]);
    }

    for disk in &domain.devices.disks {
        match disk.target_bus() {
            Some(DiskBus::Sata) => {}
            Some(DiskBus::Virtio) => {
                if disk.device.unwrap_or(DiskDevice::Disk) != DiskDevice::Disk {
                    return Err(unsupported("unsupported disk device"));
                }
                if !matches!(disk.actual_type(), StorageType::File | StorageType::Volume) {
                    return Err(unsupported("unsupported disk type"));
                }
                push(&[
                    "-s",
                    &format!(
                        "{},virtio-blk,{}",
                        slot(&disk.info),
                        disk.source_path().unwrap_or("")
                    ),
                ]);
            }
            _ => return Err(unsupported("unsupported disk device")),
        }
    }

    let graphics = &domain.devices.graphics;
    let videos = &domain.devices.videos;
    if !graphics.is_empty() && !videos.is_empty() {
        if graphics.len() != 1 || videos.len() != 1 {
            return Err(unsupported("Multiple graphics devices are not supported"));
        }
        let spec = fbuf_spec(domain, &graphics[0], &videos[0], env)?;
        argv.extend(["-s".to_string(), spec]);
    }
    let mut push = |args: &[&str]| argv.extend(args.iter().map(|arg| arg.to_string()));

    for sound in &domain.devices.sounds {
        if !caps.has(BhyveCaps::SOUND_HDA) {
            return Err(unsupported(
                "Sound devices emulation is not supported by given bhyve binary",
            ));
        }
        if sound.model != Some(SoundModel::Ich7) {
            return Err(unsupported("Sound device model is not supported"));
        }
        let mut spec = format!("{},hda", slot(&sound.info));
        let wanted = sound.audio.as_ref().and_then(|audio| audio.id).unwrap_or(0);
        let audio = if wanted == 0 {
            domain.devices.audios.first()
        } else {
            domain
                .devices
                .audios
                .iter()
                .find(|audio| audio.id == Some(wanted))
        };
        if let Some(audio) = audio {
            match audio.audio_type {
                Some(AudioType::Oss) => {
                    // bhyve's `play` device is the host's input, `rec` its output (libvirt's
                    // mapping, kept as is).
                    if let Some(dev) = audio.input.as_ref().and_then(|io| io.dev.as_deref()) {
                        spec.push_str(&format!(",play={dev}"));
                    }
                    if let Some(dev) = audio.output.as_ref().and_then(|io| io.dev.as_deref()) {
                        spec.push_str(&format!(",rec={dev}"));
                    }
                }
                other => {
                    return Err(unsupported(format!(
                        "unsupported audio backend '{}'",
                        other.map(|kind| kind.as_str()).unwrap_or("none")
                    )))
                }
            }
        }
        push(&["-s", &spec]);
    }

    for filesystem in &domain.devices.filesystems {
        let kind = filesystem.fs_type.unwrap_or(FilesystemType::Mount);
        if kind != FilesystemType::Mount {
            return Err(unsupported(format!(
                "unsupported filesystem type '{}'",
                kind.as_str()
            )));
        }
        if let Some(driver) = filesystem
            .driver
            .as_ref()
            .and_then(|driver| driver.driver_type.as_deref())
        {
            return Err(unsupported(format!(
                "unsupported filesystem driver '{driver}'"
            )));
        }
        let accessmode = filesystem.accessmode.as_deref().unwrap_or("passthrough");
        if accessmode != "passthrough" {
            return Err(unsupported(format!(
                "unsupported filesystem accessmode '{accessmode}'"
            )));
        }
        let target = filesystem
            .target
            .as_ref()
            .and_then(|target| target.dir.as_deref())
            .unwrap_or("");
        let source = filesystem
            .source
            .as_ref()
            .and_then(|source| source.dir.as_deref())
            .unwrap_or("");
        let mut spec = format!("{},virtio-9p,{target}={source}", slot(&filesystem.info));
        if filesystem.readonly {
            spec.push_str(",ro");
        }
        push(&["-s", &spec]);
    }

    if let Some(serial) = domain.devices.serials.first() {
        if serial.chr_type != Some(ChrType::Nmdm) {
            return Err(unsupported("only nmdm console types are supported"));
        }
        let port = serial.target_port().unwrap_or(0);
        if port > 2 {
            return Err(unsupported("only two serial ports are supported"));
        }
        let master = serial
            .source()
            .and_then(|source| source.master.as_deref())
            .unwrap_or("");
        push(&["-l", &format!("com{},{master}", port + 1)]);
    }

    if let Some(bhyve) = &domain.bhyve {
        argv.extend(bhyve.args.iter().cloned());
    }
    argv.push(domain.name().to_string());
    Ok(argv)
}

/// The UEFI ROM bhyve loads itself (`<loader>` without a `<bootloader>`).
fn uefi_loader(domain: &Domain) -> Option<&str> {
    if domain.bootloader.is_some() {
        return None;
    }
    domain
        .os
        .as_ref()
        .and_then(|os| os.loader.as_ref())
        .and_then(|loader| loader.path.as_deref())
}

/// libvirt's `virDomainNetType` number, which its error message shows.
fn interface_type_number(kind: InterfaceType) -> u32 {
    match kind {
        InterfaceType::User => 0,
        InterfaceType::Ethernet => 1,
        InterfaceType::Vhostuser => 2,
        InterfaceType::Server => 3,
        InterfaceType::Client => 4,
        InterfaceType::Mcast => 5,
        InterfaceType::Network => 6,
        InterfaceType::Bridge => 7,
        InterfaceType::Internal => 8,
        InterfaceType::Direct => 9,
        InterfaceType::Hostdev => 10,
        InterfaceType::Udp => 11,
        _ => 12,
    }
}

/// `SLOT:0,ahci,hd:PATH,cd:PATH` (or one `ahci-hd,PATH` when each disk has its own
/// controller): the SATA disks on `controller`, in the domain's order.
fn ahci_spec(domain: &Domain, controller: &Controller, caps: BhyveCaps) -> Result<String, Error> {
    let index = controller.index.unwrap_or(0);
    let mut spec = format!("{},ahci", slot(&controller.info));
    let on_controller = |disk: &&Disk| {
        disk.target_bus() == Some(DiskBus::Sata)
            && matches!(disk.info.address, Some(Address::Drive { controller, .. }) if controller == index)
    };
    for disk in domain.devices.disks.iter().filter(on_controller) {
        if !matches!(disk.actual_type(), StorageType::File | StorageType::Volume) {
            return Err(unsupported("unsupported disk type"));
        }
        let path = disk.source_path();
        let kind = match disk.device.unwrap_or(DiskDevice::Disk) {
            DiskDevice::Disk => "hd",
            DiskDevice::Cdrom => {
                if path.is_none() {
                    return Err(unsupported(
                        "cdrom device without source path not supported",
                    ));
                }
                "cd"
            }
            _ => return Err(unsupported("unsupported disk device")),
        };
        let path = path.unwrap_or("");
        if caps.has(BhyveCaps::AHCI32SLOT) {
            spec.push_str(&format!(",{kind}:{path}"));
        } else {
            spec.push_str(&format!("-{kind},{path}"));
        }
    }
    Ok(spec)
}

/// `SLOT:FN,xhci,tablet`: bhyve's USB controller takes exactly one tablet.
fn xhci_spec(domain: &Domain, controller: &Controller) -> Result<String, Error> {
    for input in &domain.devices.inputs {
        if input.bus != Some(InputBus::Usb) {
            return Err(unsupported("only USB input devices are supported"));
        }
        if input.input_type != Some(InputType::Tablet) {
            return Err(unsupported("only tablet input devices are supported"));
        }
    }
    if domain.devices.inputs.len() != 1 {
        return Err(unsupported("only single input device is supported"));
    }
    Ok(format!("{},xhci,tablet", slot(&controller.info)))
}

/// `SLOT:FN,fbuf,tcp=ADDRESS:PORT[,password=..][,w=..,h=..][,vga=..]`: the framebuffer
/// a UEFI guest draws on, shown over VNC.
fn fbuf_spec(
    domain: &Domain,
    graphics: &Graphics,
    video: &Video,
    env: &mut Environment<'_>,
) -> Result<String, Error> {
    let caps = env.caps;
    let uefi = caps.has(BhyveCaps::LPC_BOOTROM)
        && domain.bootloader.is_none()
        && domain.os.as_ref().is_some_and(|os| os.loader.is_some());
    if !uefi {
        return Err(unsupported(
            "Graphics are only supported when booting using UEFI",
        ));
    }
    if !caps.has(BhyveCaps::FBUF) {
        return Err(unsupported("Bhyve version does not support framebuffer"));
    }
    if graphics.graphics_type != Some(GraphicsType::Vnc) {
        return Err(unsupported("Only VNC supported"));
    }
    let listen = graphics
        .listens
        .first()
        .ok_or_else(|| internal("Missing listen element"))?;
    let mut spec = format!("{},fbuf", slot(&video.info));
    match listen.listen_type.unwrap_or(GraphicsListenType::Address) {
        GraphicsListenType::Address | GraphicsListenType::Network => {
            spec.push_str(",tcp=");
            let autoport = graphics.autoport == Some(virt_xml::xml::YesNo::Yes);
            let port = if autoport {
                i32::from((env.vnc_port)()?)
            } else {
                let port = graphics.port.unwrap_or(0);
                if !(5900..=65535).contains(&port) {
                    return Err(unsupported("vnc port must be in range [5900,65535]"));
                }
                port
            };
            match listen.address.as_deref() {
                Some(address) if address.contains(':') => spec.push_str(&format!("[{address}]")),
                Some(address) => spec.push_str(address),
                None => {}
            }
            spec.push_str(&format!(":{port}"));
        }
        _ => return Err(unsupported("Unsupported listen type")),
    }
    if let Some(password) = &graphics.passwd {
        if !caps.has(BhyveCaps::VNC_PASSWORD) {
            return Err(unsupported(
                "VNC Password authentication not supported by bhyve",
            ));
        }
        if password.contains(',') {
            return Err(unsupported("Password may not contain ',' character"));
        }
        spec.push_str(&format!(",password={password}"));
    }
    if let Some(resolution) = video
        .model
        .as_ref()
        .and_then(|model| model.resolution.as_ref())
    {
        spec.push_str(&format!(
            ",w={},h={}",
            resolution.x.unwrap_or(0),
            resolution.y.unwrap_or(0)
        ));
    }
    if let Some(driver) = &video.driver {
        spec.push_str(&format!(
            ",vga={}",
            driver.vgaconf.as_deref().unwrap_or("io")
        ));
    }
    Ok(spec)
}

/// The loader's command line, or `None` when bhyve boots a UEFI ROM itself.
/// `device_map_path` is where `grub-bhyve` is told its device map is.
pub fn loader_command(
    domain: &Domain,
    env: &Environment<'_>,
    device_map_path: &str,
) -> Result<Option<LoaderCommand>, Error> {
    if uefi_loader(domain).is_some() {
        return Ok(None);
    }
    let memory = domain.memory_kib().div_ceil(1024).to_string();
    let name = domain.name().to_string();
    let explicit_args = |program: &str| LoaderCommand {
        argv: std::iter::once(program.to_string())
            .chain(
                domain
                    .bootloader_args
                    .as_deref()
                    .unwrap_or("")
                    .split(' ')
                    .map(str::to_string),
            )
            .collect(),
        device_map: None,
    };
    let Some(bootloader) = domain.bootloader.as_deref() else {
        if domain.bootloader_args.is_some() {
            return Ok(Some(explicit_args(BHYVELOAD)));
        }
        let disk = bhyveload_disk(domain)?;
        return Ok(Some(LoaderCommand {
            argv: vec![
                BHYVELOAD.to_string(),
                "-m".into(),
                memory,
                "-d".into(),
                disk.source_path().unwrap_or("").to_string(),
                name,
            ],
            device_map: None,
        }));
    };
    if !bootloader.contains("grub-bhyve") || domain.bootloader_args.is_some() {
        if domain.bootloader_args.is_none() {
            return Err(unsupported(
                "Custom loader requires explicit bootloader_args configuration",
            ));
        }
        return Ok(Some(explicit_args(bootloader)));
    }
    // grub-bhyve: the disk with the lowest boot order, else the first disk and the first CD.
    let mut chosen: Option<&Disk> = None;
    let mut lowest = u32::MAX;
    let (mut first_cd, mut first_hd): (Option<&Disk>, Option<&Disk>) = (None, None);
    for disk in usable_disks(domain) {
        if let Some(order) = disk.info.boot_order().filter(|order| *order < lowest) {
            lowest = order;
            chosen = Some(disk);
            continue;
        }
        if disk.device == Some(DiskDevice::Cdrom) {
            first_cd = first_cd.or(Some(disk));
        } else {
            first_hd = first_hd.or(Some(disk));
        }
    }
    let line = |disk: &Disk| {
        let device = if disk.device == Some(DiskDevice::Cdrom) {
            "cd"
        } else {
            "hd0"
        };
        format!("({device}) {}\n", disk.source_path().unwrap_or(""))
    };
    let (device_map, root) = match chosen {
        Some(disk) => (
            line(disk),
            if disk.device == Some(DiskDevice::Cdrom) {
                "cd"
            } else {
                "hd0,msdos1"
            },
        ),
        None => (
            first_hd.map(line).unwrap_or_default() + &first_cd.map(line).unwrap_or_default(),
            if first_cd.is_some() {
                "cd"
            } else {
                "hd0,msdos1"
            },
        ),
    };
    let mut argv = vec![
        bootloader.to_string(),
        "--root".into(),
        root.into(),
        "--device-map".into(),
        device_map_path.into(),
        "--memory".into(),
        memory,
    ];
    if env.grub_caps & GRUB_CONSDEV != 0 {
        if let Some(serial) = domain.devices.serials.first() {
            if serial.chr_type != Some(ChrType::Nmdm) {
                return Err(unsupported("only nmdm console types are supported"));
            }
            let master = serial
                .source()
                .and_then(|source| source.master.as_deref())
                .unwrap_or("");
            argv.extend(["--cons-dev".into(), master.to_string()]);
        }
    }
    argv.push(name);
    Ok(Some(LoaderCommand {
        argv,
        device_map: Some(device_map),
    }))
}

/// Disks a loader can read: files (or volumes) that are disks or CDs.
fn usable_disks(domain: &Domain) -> impl Iterator<Item = &Disk> {
    domain.devices.disks.iter().filter(|disk| {
        matches!(
            disk.device.unwrap_or(DiskDevice::Disk),
            DiskDevice::Disk | DiskDevice::Cdrom
        ) && matches!(disk.actual_type(), StorageType::File | StorageType::Volume)
    })
}

/// The disk `bhyveload` boots: of the `<os><boot dev>` kind, else the one with a boot
/// order, else (as libvirt's loop leaves it) the last usable disk.
fn bhyveload_disk(domain: &Domain) -> Result<&Disk, Error> {
    if domain.devices.disks.is_empty() {
        return Err(unsupported("Domain should have at least one disk defined"));
    }
    let boot: Vec<BootDevice> = domain
        .os
        .as_ref()
        .map(|os| os.boot.iter().filter_map(|boot| boot.dev).collect())
        .unwrap_or_default();
    if boot.len() > 1 {
        return Err(unsupported("Only one boot device is supported"));
    }
    if let Some(dev) = boot.first() {
        let wanted = match dev {
            BootDevice::Cdrom => DiskDevice::Cdrom,
            BootDevice::Hd => DiskDevice::Disk,
            other => {
                return Err(unsupported(format!(
                    "Cannot boot from device {}",
                    other.as_str()
                )))
            }
        };
        return usable_disks(domain)
            .find(|disk| disk.device.unwrap_or(DiskDevice::Disk) == wanted)
            .ok_or_else(|| {
                unsupported(format!(
                    "Cannot find boot device of requested type {}",
                    dev.as_str()
                ))
            });
    }
    let ordered: Vec<&Disk> = usable_disks(domain)
        .filter(|disk| disk.info.boot_order().is_some())
        .collect();
    match ordered.as_slice() {
        [one] => Ok(one),
        [] => usable_disks(domain)
            .last()
            .ok_or_else(|| unsupported("Domain should have at least one disk defined")),
        _ => Err(unsupported("Only one boot device is supported")),
    }
}

/// A command line as libvirt's tests write it: the program's base name, then each option
/// on a line of its own with its value, and the words after the last option one to a line,
/// lines joined by ` \`; words shell-quoted.
pub fn to_test_string(argv: &[String]) -> String {
    let quote = virt_plugin_sdk::command_line::shell_quote;
    let mut text = String::new();
    let program = argv.first().map(String::as_str).unwrap_or("");
    text.push_str(&quote(program.rsplit('/').next().unwrap_or(program)));
    let mut seen_option = false;
    for (index, word) in argv.iter().enumerate().skip(1) {
        let option = word.starts_with('-');
        // A word stays on the line before it when an option came earlier and one comes at
        // or after the word before it: an option's value, not the trailing words.
        let same_line =
            !option && seen_option && argv[index - 1..].iter().any(|w| w.starts_with('-'));
        text.push_str(if same_line { " " } else { " \\\n" });
        seen_option |= option;
        text.push_str(&quote(word));
    }
    text.push('\n');
    text
}
