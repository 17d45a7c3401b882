//! Everything else on the command line: controllers, filesystems, input devices, audio, VNC,
//! video, sound, watchdog, memory balloon, RNG and panic devices.

use virt_xml::domain::devices::{Controller, Video};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, Domain};

use super::command::CommandLine;
use super::disk::virtio_options;
use super::prepare::{chipset, Chipset};
use super::props::Props;
use super::{
    address_props, alias_of, device, escape_option, pci_address_props, BuildContext, DriverConfig,
};
use crate::capabilities::QemuCaps;
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// Controllers by type in libvirt's order (PCI, USB, SCSI, IDE, SATA, virtio-serial), then
/// the CCID controller on the USB bus.
pub fn build_controllers(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
) -> Result<(), Error> {
    let order = [
        ControllerType::Pci,
        ControllerType::Usb,
        ControllerType::Scsi,
        ControllerType::Ide,
        ControllerType::Sata,
        ControllerType::VirtioSerial,
    ];
    for kind in order {
        // Within a type, by index, a USB master before its companions (the order libvirt's
        // parser keeps controllers in).
        let mut controllers: Vec<&Controller> = def
            .devices
            .controllers
            .iter()
            .filter(|controller| controller.controller_type == Some(kind))
            .collect();
        controllers.sort_by_key(|controller| {
            (
                controller.index.unwrap_or(0),
                controller.info.master.is_some(),
            )
        });
        for controller in controllers {
            if let Some(props) = controller_props(def, controller, caps)? {
                device(cmd, props);
            }
        }
    }
    Ok(())
}

/// USB hubs, then the CCID controller on the USB bus (after memory devices, as libvirt
/// orders them).
pub fn build_usb_hubs_and_ccid(cmd: &mut CommandLine, def: &Domain) {
    for hub in &def.devices.hubs {
        let props = Props::new()
            .str("driver", "usb-hub")
            .str("id", alias_of(&hub.info));
        device(cmd, address_props(props, &hub.info, def));
    }
    for controller in def
        .devices
        .controllers
        .iter()
        .filter(|c| c.controller_type == Some(ControllerType::Ccid))
    {
        let props = Props::new()
            .str("driver", "usb-ccid")
            .str("id", alias_of(&controller.info));
        device(cmd, address_props(props, &controller.info, def));
    }
}

/// The `-device` of one controller, `None` for the integrated ones.
pub fn controller_props(
    def: &Domain,
    controller: &Controller,
    _caps: &QemuCaps,
) -> Result<Option<Props>, Error> {
    let index = controller.index.unwrap_or(0);
    let alias = alias_of(&controller.info);
    let model = controller.model.as_deref();
    let driver_options = controller.driver.as_ref();
    let props = match controller.controller_type {
        Some(ControllerType::Pci) => {
            let driver = match model {
                Some("pci-root" | "pcie-root") | None => return Ok(None),
                Some("pci-bridge") => "pci-bridge",
                Some("dmi-to-pci-bridge") => "i82801b11-bridge",
                Some("pcie-root-port") => "pcie-root-port",
                Some("pcie-switch-upstream-port") => "x3130-upstream",
                Some("pcie-switch-downstream-port") => "xio3130-downstream",
                Some("pci-expander-bus") => "pxb",
                Some("pcie-expander-bus") => "pxb-pcie",
                Some("pcie-to-pci-bridge") => "pcie-pci-bridge",
                Some(other) => {
                    return Err(unsupported_config(format!(
                        "unsupported PCI controller model '{other}'"
                    )))
                }
            };
            let driver = controller
                .model_name
                .as_ref()
                .and_then(|name| name.name.as_deref())
                .unwrap_or(driver);
            let target = controller.target.clone().unwrap_or_default();
            let mut props = Props::new().str("driver", driver);
            match model {
                Some("pci-bridge") => {
                    props = props.uint(
                        "chassis_nr",
                        target.chassis_nr.unwrap_or(index as i32) as u64,
                    );
                }
                Some("pcie-root-port") | Some("pcie-switch-downstream-port") => {
                    if let Some(port) = target.port {
                        props = props.uint("port", port.0);
                    }
                    props = props.uint("chassis", target.chassis.unwrap_or(index as i32) as u64);
                }
                Some("pci-expander-bus") | Some("pcie-expander-bus") => {
                    props = props.uint("bus_nr", target.bus_nr.unwrap_or(0) as u64);
                    if let Some(node) = target.node {
                        props = props.uint("numa_node", node as u64);
                    }
                }
                _ => {}
            }
            props = props.str("id", alias);
            if let Some(hotplug) = target.hotplug {
                props = props.bool("hotplug", hotplug.is_on());
            }
            pci_address_props(props, &controller.info, def)
        }
        Some(ControllerType::Usb) => {
            let driver = match model {
                Some("none") => return Ok(None),
                Some("piix3-uhci") | None => "piix3-usb-uhci",
                Some("piix4-uhci") => "piix4-usb-uhci",
                Some("ehci") => "usb-ehci",
                Some("ich9-ehci1") => "ich9-usb-ehci1",
                Some("ich9-uhci1") => "ich9-usb-uhci1",
                Some("ich9-uhci2") => "ich9-usb-uhci2",
                Some("ich9-uhci3") => "ich9-usb-uhci3",
                Some("vt82c686b-uhci") => "vt82c686b-usb-uhci",
                Some("pci-ohci") => "pci-ohci",
                Some("nec-xhci") => "nec-usb-xhci",
                Some("qemu-xhci") => "qemu-xhci",
                Some(other) => {
                    return Err(unsupported_config(format!(
                        "unsupported USB controller model '{other}'"
                    )))
                }
            };
            let mut props = Props::new().str("driver", driver);
            if matches!(model, Some("nec-xhci" | "qemu-xhci")) {
                if let Some(ports) = controller.ports {
                    props = props.uint("p2", ports as u64).uint("p3", ports as u64);
                }
            }
            if let Some(master) = controller.info.master.as_ref() {
                // A companion controller shares its master's bus and has no id of its own.
                let master_alias = def
                    .devices
                    .controllers
                    .iter()
                    .find(|other| {
                        other.controller_type == Some(ControllerType::Usb)
                            && other.index.unwrap_or(0) == index
                            && other.info.master.is_none()
                    })
                    .and_then(|other| other.info.alias_name().map(str::to_string))
                    .unwrap_or_else(|| alias.clone());
                props = props
                    .str("masterbus", format!("{master_alias}.0"))
                    .int("firstport", master.startport.unwrap_or(0).into());
            } else {
                props = props.str("id", alias);
            }
            pci_address_props(props, &controller.info, def)
        }
        Some(ControllerType::Scsi) => {
            let driver = match model {
                Some("virtio-scsi") => "virtio-scsi-pci",
                Some("virtio-transitional") => "virtio-scsi-pci-transitional",
                Some("virtio-non-transitional") => "virtio-scsi-pci-non-transitional",
                Some("lsilogic") | None => "lsi",
                Some("lsisas1068") => "mptsas1068",
                Some("lsisas1078") => "megasas",
                Some("vmpvscsi") => "pvscsi",
                Some("am53c974") => "am53c974",
                Some("dc390") => "dc-390",
                Some("ncr53c90") => return Ok(None),
                Some(other) => {
                    return Err(unsupported_config(format!(
                        "unsupported SCSI controller model '{other}'"
                    )))
                }
            };
            let mut props = Props::new().str("driver", driver);
            if driver.starts_with("virtio-scsi") {
                props = virtio_options(props, driver_options.map(|driver| &driver.virtio));
                if let Some(iothread) = driver_options.and_then(|driver| driver.iothread) {
                    props = props.str("iothread", format!("iothread{iothread}"));
                }
                props = props.str("id", alias);
                if let Some(queues) = driver_options.and_then(|driver| driver.queues) {
                    props = props.uint("num_queues", queues.into());
                }
                if let Some(cmd_per_lun) = driver_options.and_then(|driver| driver.cmd_per_lun) {
                    props = props.uint("cmd_per_lun", cmd_per_lun.into());
                }
                if let Some(max_sectors) = driver_options.and_then(|driver| driver.max_sectors) {
                    props = props.uint("max_sectors", max_sectors.into());
                }
                if let Some(ioeventfd) = driver_options.and_then(|driver| driver.ioeventfd) {
                    props = props.bool("ioeventfd", ioeventfd.is_on());
                }
            } else {
                props = props.str("id", alias);
            }
            pci_address_props(props, &controller.info, def)
        }
        Some(ControllerType::Ide) => {
            if index == 0 && chipset(def) == Chipset::I440fx {
                return Ok(None);
            }
            pci_address_props(
                Props::new().str("driver", "piix3-ide").str("id", alias),
                &controller.info,
                def,
            )
        }
        Some(ControllerType::Sata) => {
            if index == 0 && chipset(def) == Chipset::Q35 {
                return Ok(None);
            }
            pci_address_props(
                Props::new().str("driver", "ahci").str("id", alias),
                &controller.info,
                def,
            )
        }
        Some(ControllerType::VirtioSerial) => {
            let driver = match model {
                Some("virtio-transitional") => "virtio-serial-pci-transitional",
                Some("virtio-non-transitional") => "virtio-serial-pci-non-transitional",
                _ => "virtio-serial-pci",
            };
            let mut props = virtio_options(
                Props::new().str("driver", driver),
                driver_options.map(|driver| &driver.virtio),
            )
            .str("id", alias);
            if let Some(ports) = controller.ports {
                props = props.uint("max_ports", ports as u64);
            }
            if let Some(vectors) = controller.vectors {
                props = props.uint("vectors", vectors as u64);
            }
            pci_address_props(props, &controller.info, def)
        }
        _ => return Ok(None),
    };
    Ok(Some(props))
}

/// Whether a filesystem is virtiofs (`vhost-user-fs-pci` and a virtiofsd).
pub fn is_virtiofs(fs: &virt_xml::domain::Filesystem) -> bool {
    fs.driver
        .as_ref()
        .and_then(|driver| driver.driver_type.as_deref())
        == Some("virtiofs")
}

/// `<filesystem>` as virtio-9p (`-fsdev` + `virtio-9p-pci`) or virtiofs (`vhost-user-fs-pci`
/// connected to a virtiofsd).
pub fn build_filesystems(
    cmd: &mut CommandLine,
    def: &Domain,
    domain_dir: &str,
) -> Result<(), Error> {
    for fs in &def.devices.filesystems {
        let alias = alias_of(&fs.info);
        if is_virtiofs(fs) {
            // The source socket of a virtiofsd someone else runs, or the one the driver
            // starts.
            let socket = fs
                .source
                .as_ref()
                .and_then(|source| source.socket.clone())
                .unwrap_or_else(|| virtiofsd_socket(domain_dir, fs));
            let chardev = format!("chr-vu-{alias}");
            cmd.opt(
                "-chardev",
                format!("socket,id={chardev},path={}", escape_option(&socket)),
            );
            let props = virtio_options(
                Props::new().str("driver", "vhost-user-fs-pci"),
                fs.driver.as_ref().map(|driver| &driver.virtio),
            )
            .str("id", alias.clone())
            .str("chardev", chardev)
            .opt_uint(
                "queue-size",
                fs.driver
                    .as_ref()
                    .and_then(|driver| driver.queue)
                    .filter(|queue| *queue > 0),
            )
            .str(
                "tag",
                fs.target
                    .as_ref()
                    .and_then(|target| target.dir.clone())
                    .unwrap_or_default(),
            )
            .opt_uint("bootindex", fs.info.boot_order().map(u64::from));
            device(cmd, address_props(props, &fs.info, def));
            continue;
        }
        let source = fs
            .source
            .as_ref()
            .and_then(|source| source.dir.clone())
            .unwrap_or_default();
        let target = fs
            .target
            .as_ref()
            .and_then(|target| target.dir.clone())
            .unwrap_or_default();
        let security = match fs.accessmode.as_deref() {
            Some("mapped") => "mapped",
            Some("squash") => "none",
            _ => "passthrough",
        };
        let mut fsdev = format!("local,security_model={security}");
        if let Some(multidevs) = &fs.multidevs {
            fsdev.push_str(&format!(",multidevs={multidevs}"));
        }
        for (name, mode) in [("fmode", &fs.fmode), ("dmode", &fs.dmode)] {
            if let Some(mode) = mode {
                let value = u32::from_str_radix(mode, 8).map_err(|_| {
                    unsupported_config(format!("invalid {name} '{mode}' of a filesystem"))
                })?;
                if value != 0 {
                    fsdev.push_str(&format!(",{name}={value:04o}"));
                }
            }
        }
        if let Some(policy) = fs
            .driver
            .as_ref()
            .and_then(|driver| driver.wrpolicy.as_ref())
        {
            fsdev.push_str(&format!(",writeout={policy}"));
        }
        fsdev.push_str(&format!(
            ",id=fsdev-{alias},path={}",
            escape_option(&source)
        ));
        if fs.readonly {
            fsdev.push_str(",readonly=on");
        }
        cmd.opt("-fsdev", fsdev);
        let driver = match fs.model.as_deref() {
            Some("virtio-transitional") => "virtio-9p-pci-transitional",
            Some("virtio-non-transitional") => "virtio-9p-pci-non-transitional",
            _ => "virtio-9p-pci",
        };
        let props = virtio_options(
            Props::new().str("driver", driver),
            fs.driver.as_ref().map(|driver| &driver.virtio),
        )
        .str("id", alias.clone())
        .str("fsdev", format!("fsdev-{alias}"))
        .str("mount_tag", target);
        device(cmd, pci_address_props(props, &fs.info, def));
    }
    Ok(())
}

/// USB and virtio input devices (PS/2 ones are built into the machine).
pub fn build_inputs(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    for input in &def.devices.inputs {
        let alias = alias_of(&input.info);
        let driver = match (input.bus, input.input_type) {
            (Some(InputBus::Usb), Some(InputType::Mouse)) => "usb-mouse",
            (Some(InputBus::Usb), Some(InputType::Tablet)) => "usb-tablet",
            (Some(InputBus::Usb), Some(InputType::Keyboard)) => "usb-kbd",
            (Some(InputBus::Virtio), Some(InputType::Mouse)) => "virtio-mouse-pci",
            (Some(InputBus::Virtio), Some(InputType::Tablet)) => "virtio-tablet-pci",
            (Some(InputBus::Virtio), Some(InputType::Keyboard)) => "virtio-keyboard-pci",
            (Some(InputBus::Virtio), Some(InputType::Passthrough)) => "virtio-input-host-pci",
            (_, Some(InputType::Evdev)) => {
                // `<input type='evdev'>` names its device in `dev`.
                let evdev = input
                    .source
                    .as_ref()
                    .and_then(|source| source.dev.clone().or_else(|| source.evdev.clone()))
                    .unwrap_or_default();
                let mut props = Props::new()
                    .str("qom-type", "input-linux")
                    .str("id", alias)
                    .str("evdev", evdev);
                if let Some(source) = &input.source {
                    if let Some(repeat) = source.repeat {
                        props = props.bool("repeat", repeat.is_on());
                    }
                    if source.grab.as_deref() == Some("all") {
                        props = props.bool("grab_all", true);
                    }
                    props = props.opt_str("grab-toggle", source.grab_toggle.clone());
                }
                cmd.opt("-object", props.to_json());
                continue;
            }
            _ => continue,
        };
        let mut props = Props::new().str("driver", driver);
        if input.bus != Some(InputBus::Usb) {
            props = virtio_options(props, input.driver.as_ref().map(|driver| &driver.virtio));
        }
        props = props.str("id", alias);
        if input.bus == Some(InputBus::Usb) {
            props = address_props(props, &input.info, def);
        } else {
            if input.input_type == Some(InputType::Passthrough) {
                let evdev = input
                    .source
                    .as_ref()
                    .and_then(|source| source.evdev.clone())
                    .unwrap_or_default();
                props = props.str("evdev", evdev);
            }
            props = pci_address_props(props, &input.info, def);
        }
        device(cmd, props);
    }
    Ok(())
}

/// `-audiodev`: the domain's `<audio>` backends, or the implicit `none` backend libvirt adds.
pub fn build_audio(cmd: &mut CommandLine, def: &Domain, config: &DriverConfig) {
    if def.devices.audios.is_empty() {
        // libvirt's default backend: none, or SPICE's, or the host's (QEMU_AUDIO_DRV of the
        // daemon) for displays allowed to use host audio; nothing when that is unset.
        let mut backend = Some("none".to_string());
        let mut host_audio = false;
        let mut add = def.devices.graphics.is_empty();
        for graphics in &def.devices.graphics {
            match graphics.graphics_type {
                Some(GraphicsType::Vnc) => {
                    host_audio = config.vnc_allow_host_audio;
                    backend = Some("none".into());
                    add = true;
                }
                Some(GraphicsType::Spice) => {
                    host_audio = false;
                    backend = Some("spice".into());
                    add = true;
                }
                Some(GraphicsType::Sdl) => {
                    host_audio = true;
                    add = true;
                }
                _ => {}
            }
        }
        if !add {
            return;
        }
        if def.devices.graphics.is_empty() {
            host_audio = config.nographics_allow_host_audio;
        }
        if host_audio {
            backend = config.host_audio_driver.clone();
        }
        let Some(backend) = backend else { return };
        let driver = match backend.as_str() {
            "pulseaudio" => "pa".to_string(),
            "file" => "wav".to_string(),
            other => other.to_string(),
        };
        if driver == "sdl" {
            if let Some(sdl) = &config.sdl_audio_driver {
                cmd.env("SDL_AUDIODRIVER", sdl.clone());
            }
        }
        cmd.opt(
            "-audiodev",
            Props::new()
                .str("id", "audio1")
                .str("driver", driver)
                .to_json(),
        );
        return;
    }
    for audio in &def.devices.audios {
        let props = audiodev_props(cmd, audio);
        cmd.opt("-audiodev", props.to_json());
    }
}

/// The `-audiodev` object of one `<audio>` backend: common settings, then the backend's
/// own, then the `in`/`out` directions (each only when it has something to say).
fn audiodev_props(cmd: &mut CommandLine, audio: &virt_xml::domain::devices::Audio) -> Props {
    let kind = audio.audio_type.unwrap_or(AudioType::None);
    let driver = match kind {
        AudioType::Pulseaudio => "pa",
        AudioType::File => "wav",
        other => other.as_str(),
    };
    let mut props = Props::new()
        .str("id", format!("audio{}", audio.id.unwrap_or(1)))
        .str("driver", driver);
    if let Some(period) = audio.timer_period.filter(|period| *period > 0) {
        props = props.uint("timer-period", period.into());
    }
    let directions = [audio.input.as_ref(), audio.output.as_ref()].map(|io| {
        let Some(io) = io else { return Props::new() };
        let mut props = audio_io_common_props(io);
        match kind {
            AudioType::Alsa => props = props.opt_str("dev", io.dev.clone()),
            AudioType::Coreaudio | AudioType::Sdl => {
                props = props.opt_uint("buffer-count", positive(io.buffer_count));
            }
            AudioType::Jack => {
                props = props
                    .opt_str("server-name", io.server_name.clone())
                    .opt_str("client-name", io.client_name.clone())
                    .opt_str("connect-ports", io.connect_ports.clone())
                    .opt_bool("exact-name", io.exact_name.map(|value| value.is_yes()));
            }
            AudioType::Oss => {
                props = props
                    .opt_str("dev", io.dev.clone())
                    .opt_uint("buffer-count", positive(io.buffer_count))
                    .opt_bool("try-poll", io.try_poll.map(|value| value.is_yes()));
            }
            AudioType::Pulseaudio => {
                props = props
                    .opt_str("name", io.name.clone())
                    .opt_str("stream-name", io.stream_name.clone())
                    .opt_uint("latency", positive(io.latency));
            }
            _ => {}
        }
        props
    });
    match kind {
        AudioType::Oss => {
            props = props
                .opt_bool("try-mmap", audio.try_mmap.map(|value| value.is_yes()))
                .opt_bool("exclusive", audio.exclusive.map(|value| value.is_yes()));
            if let Some(policy) = audio.dsp_policy {
                props = props.int("dsp-policy", policy.into());
            }
        }
        AudioType::Pulseaudio => props = props.opt_str("server", audio.server_name.clone()),
        AudioType::File => props = props.opt_str("path", audio.path.clone()),
        AudioType::Sdl => {
            if let Some(driver) = &audio.driver {
                cmd.env("SDL_AUDIODRIVER", driver.clone());
            }
        }
        _ => {}
    }
    let [input, output] = directions;
    if !input.is_empty() {
        props = props.object("in", input);
    }
    if !output.is_empty() {
        props = props.object("out", output);
    }
    props
}

fn positive(value: Option<u32>) -> Option<u64> {
    value.filter(|value| *value > 0).map(u64::from)
}

/// The settings every backend's direction takes; the fixed frequency, channels and format
/// only count with `fixedSettings='yes'`.
fn audio_io_common_props(io: &virt_xml::domain::devices::AudioIo) -> Props {
    let fixed = io.fixed_settings.is_some_and(|fixed| fixed.is_yes());
    let settings = io.settings.as_ref().filter(|_| fixed);
    Props::new()
        .opt_bool(
            "mixing-engine",
            io.mixing_engine.map(|value| value.is_yes()),
        )
        .opt_bool(
            "fixed-settings",
            io.fixed_settings.map(|value| value.is_yes()),
        )
        .opt_uint("voices", positive(io.voices))
        .opt_uint("buffer-length", positive(io.buffer_length))
        .opt_uint(
            "frequency",
            positive(settings.and_then(|settings| settings.frequency)),
        )
        .opt_uint(
            "channels",
            positive(settings.and_then(|settings| settings.channels)),
        )
        .opt_str(
            "format",
            settings
                .and_then(|settings| settings.format.clone())
                .filter(|format| format != "default"),
        )
}

/// The audio backend id graphics and sound devices refer to.
fn default_audio_id(def: &Domain) -> String {
    def.devices
        .audios
        .first()
        .and_then(|audio| audio.id)
        .map_or_else(|| "audio1".into(), |id| format!("audio{id}"))
}

/// Where a VNC server listens.
enum VncListen {
    Socket(String),
    Address(String),
    None,
}

/// The VNC listen of a definition as libvirt settles it at start: a socket (given, or
/// `<domain dir>/vnc.sock` when asked for without a path or by `vnc_auto_unix_socket`),
/// nothing, or an address (the configured `vnc_listen` when none is given). A socket in the
/// driver's own directory is one an older libvirt generated: it becomes an address again.
fn vnc_listen(
    graphics: &virt_xml::domain::devices::Graphics,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> VncListen {
    let auto_socket = || VncListen::Socket(format!("{}/vnc.sock", ctx.domain_dir));
    let driver_dir = ctx
        .domain_dir
        .rsplit_once('/')
        .map(|(parent, _)| format!("{parent}/"));
    let generated = |path: &str| {
        driver_dir
            .as_deref()
            .is_some_and(|dir| !dir.is_empty() && dir != "/" && path.starts_with(dir))
    };
    let address = |address: Option<&String>| {
        VncListen::Address(
            address
                .cloned()
                .unwrap_or_else(|| config.vnc_listen.clone()),
        )
    };
    match graphics.listens.first() {
        Some(listen) => match listen.listen_type {
            Some(GraphicsListenType::Socket) => match &listen.socket {
                Some(path) if listen.auto_generated.is_some_and(|auto| auto.is_yes()) => {
                    if config.vnc_auto_unix_socket {
                        VncListen::Socket(path.clone())
                    } else {
                        address(None)
                    }
                }
                Some(path) if generated(path) => address(None),
                Some(path) => VncListen::Socket(path.clone()),
                None => auto_socket(),
            },
            Some(GraphicsListenType::None) => VncListen::None,
            _ => match listen.address.as_ref().or(graphics.listen.as_ref()) {
                // No address: the auto socket when configured, else the configured address.
                None if config.vnc_auto_unix_socket => auto_socket(),
                listen_address => address(listen_address),
            },
        },
        None => match &graphics.socket {
            Some(path) if generated(path) => address(None),
            Some(path) => VncListen::Socket(path.clone()),
            None if graphics.listen.is_some() => address(graphics.listen.as_ref()),
            None if config.vnc_auto_unix_socket => auto_socket(),
            None => address(None),
        },
    }
}

/// The audio backend a display or sound device refers to (`<audio id>`, else the first).
fn audio_id(def: &Domain, id: Option<u32>) -> String {
    match id.filter(|id| *id > 0) {
        Some(id) => format!("audio{id}"),
        None => default_audio_id(def),
    }
}

/// `-vnc` with its TLS credentials object (SPICE and SDL are not supported by this driver).
pub fn build_graphics(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for graphics in &def.devices.graphics {
        match graphics.graphics_type {
            Some(GraphicsType::Vnc) => {
                let mut value = match vnc_listen(graphics, ctx, config) {
                    VncListen::Socket(path) => format!("vnc=unix:{}", escape_option(&path)),
                    VncListen::None => "none".to_string(),
                    VncListen::Address(address) => {
                        let address = if address.contains(':') {
                            format!("[{address}]")
                        } else {
                            address
                        };
                        // Without a fixed port QEMU takes the first free one from 5900 (libvirt
                        // reserves one itself; the plugin cannot probe host ports).
                        let autoport = graphics.autoport.is_none_or(|autoport| autoport.is_yes())
                            && graphics.port.is_none_or(|port| port < 5900);
                        let port = graphics.port.filter(|port| *port >= 5900).unwrap_or(5900);
                        let mut value = format!("{address}:{}", port - 5900);
                        if autoport {
                            value.push_str(",to=99");
                        }
                        if let Some(websocket) = graphics.websocket.filter(|port| *port > 0) {
                            value.push_str(&format!(",websocket={websocket}"));
                        }
                        value
                    }
                };
                if let Some(policy) = &graphics.share_policy {
                    value.push_str(&format!(",share={policy}"));
                }
                if graphics.passwd.is_some() {
                    value.push_str(",password=on");
                }
                if config.vnc_tls {
                    let id = "vnc-tls-creds0";
                    super::tls_creds_objects(
                        cmd,
                        ctx,
                        super::tls_creds_props(
                            id,
                            &config.vnc_tls_x509_cert_dir,
                            true,
                            config.vnc_tls_x509_verify,
                        ),
                        config.vnc_tls_x509_secret_uuid.as_deref(),
                        &format!("{id}-secret0"),
                    )?;
                    value.push_str(&format!(",tls-creds={id}"));
                }
                if config.vnc_sasl {
                    value.push_str(",sasl=on");
                    if let Some(dir) = &config.vnc_sasl_dir {
                        cmd.env("SASL_CONF_PATH", dir.clone());
                    }
                }
                if let Some(power) = graphics.power_control {
                    value.push_str(if power.is_yes() {
                        ",power-control=on"
                    } else {
                        ",power-control=off"
                    });
                }
                let audio = graphics.audio.as_ref().and_then(|audio| audio.id);
                value.push_str(&format!(",audiodev={}", audio_id(def, audio)));
                cmd.opt("-vnc", value);
                if let Some(keymap) = &graphics.keymap {
                    cmd.opt("-k", keymap.clone());
                }
            }
            Some(GraphicsType::Spice) => build_spice(cmd, graphics, ctx, config)?,
            Some(GraphicsType::EglHeadless) => {
                let mut value = "egl-headless".to_string();
                if let Some(node) = graphics
                    .gl
                    .as_ref()
                    .and_then(|gl| gl.rendernode.as_ref())
                    .or(config.default_rendernode.as_ref())
                {
                    value.push_str(&format!(",rendernode={}", escape_option(node)));
                }
                cmd.opt("-display", value);
            }
            Some(GraphicsType::Sdl) => {
                if let Some(xauth) = &graphics.xauth {
                    cmd.env("XAUTHORITY", xauth.clone());
                }
                if let Some(display) = &graphics.display {
                    cmd.env("DISPLAY", display.clone());
                }
                if graphics.fullscreen.is_some_and(|full| full.is_yes()) {
                    cmd.arg("-full-screen");
                }
                let mut value = "sdl".to_string();
                if let Some(enable) = graphics.gl.as_ref().and_then(|gl| gl.enable) {
                    value.push_str(if enable.is_yes() { ",gl=on" } else { ",gl=off" });
                }
                cmd.opt("-display", value);
            }
            Some(other) => {
                return Err(unsupported_config(format!(
                    "graphics type '{}' is not supported by this driver",
                    other.as_str()
                )))
            }
            None => {}
        }
    }
    Ok(())
}

/// SPICE's channels in libvirt's order.
const SPICE_CHANNELS: [&str; 8] = [
    "main",
    "display",
    "inputs",
    "cursor",
    "playback",
    "record",
    "smartcard",
    "usbredir",
];

/// The first port libvirt hands a graphics server (`remote_display_port_min`) and the last.
pub const DISPLAY_PORTS: (u16, u16) = (5900, 65535);

/// Which ports a SPICE server with `autoport` needs, as libvirt's
/// `qemuProcessSPICEAllocatePorts` decides: (plain, TLS). A plain port for insecure channels
/// or channels of any kind, a TLS port for secure ones, and for channels of any kind when
/// qemu.conf turns SPICE TLS on. A TLS port without SPICE TLS is libvirt's refusal.
pub fn spice_ports_to_allocate(
    graphics: &virt_xml::domain::devices::Graphics,
    config: &DriverConfig,
) -> Result<(bool, bool), Error> {
    if graphics.graphics_type != Some(GraphicsType::Spice)
        || !graphics.autoport.is_some_and(|autoport| autoport.is_yes())
    {
        return Ok((false, false));
    }
    let modes = graphics.channels.iter().filter_map(|channel| channel.mode);
    let mut plain = modes.clone().any(|mode| mode == SpiceChannelMode::Insecure);
    let mut tls = modes.clone().any(|mode| mode == SpiceChannelMode::Secure);
    match graphics.default_mode.unwrap_or(SpiceChannelMode::Any) {
        SpiceChannelMode::Secure => tls = true,
        SpiceChannelMode::Insecure => plain = true,
        SpiceChannelMode::Any => {
            tls |= config.spice_tls;
            plain = true;
        }
    }
    if tls && !config.spice_tls {
        return Err(unsupported_config(
            "Auto allocation of spice TLS port requested but spice TLS is disabled in qemu.conf",
        ));
    }
    Ok((plain, tls))
}

/// Gives each SPICE server with `autoport` the ports it needs (`reserve(tls)` picks one;
/// the domain keeps them, as libvirt's live XML shows them).
pub fn assign_spice_ports(
    def: &mut Domain,
    config: &DriverConfig,
    reserve: &mut dyn FnMut(bool) -> Result<u16, Error>,
) -> Result<(), Error> {
    for graphics in &mut def.devices.graphics {
        let (plain, tls) = spice_ports_to_allocate(graphics, config)?;
        if plain {
            graphics.port = Some(reserve(false)?.into());
        }
        if tls {
            graphics.tls_port = Some(reserve(true)?.into());
        }
    }
    Ok(())
}

/// Gives each VNC server listening on an address with `autoport` a free port, as libvirt's
/// `qemuProcessVNCAllocatePorts` does: QEMU is then told that port, not left to look for
/// one (which could take a port reserved for another guest's SPICE server not yet bound).
pub fn assign_vnc_ports(
    def: &mut Domain,
    reserve: &mut dyn FnMut(bool) -> Result<u16, Error>,
) -> Result<(), Error> {
    for graphics in &mut def.devices.graphics {
        let on_address = graphics.listens.first().is_none_or(|listen| {
            matches!(
                listen.listen_type,
                None | Some(GraphicsListenType::Address) | Some(GraphicsListenType::Network)
            )
        });
        if graphics.graphics_type == Some(GraphicsType::Vnc)
            && on_address
            && graphics.autoport.is_none_or(|autoport| autoport.is_yes())
            && graphics.port.is_none_or(|port| port < 5900)
        {
            graphics.port = Some(reserve(false)?.into());
            // The live XML says so, as libvirt's does; it also marks the port as ours to
            // give back.
            graphics.autoport = Some(virt_xml::xml::YesNo::Yes);
        }
    }
    Ok(())
}

/// The ports libvirt shows where it does not allocate (`domxml-to-native`, its tests): 5901
/// for plain SPICE, 5902 for TLS.
pub fn pretend_spice_port(tls: bool) -> Result<u16, Error> {
    Ok(if tls { 5902 } else { 5901 })
}

/// `-spice`: where it listens (a socket, ports on an address, or nowhere), SASL, the agent
/// mouse, ticketing, TLS channels, compression and the GL render node.
fn build_spice(
    cmd: &mut CommandLine,
    graphics: &virt_xml::domain::devices::Graphics,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    let port = graphics.port.filter(|port| *port > 0);
    let tls_port = graphics.tls_port.filter(|port| *port > 0);
    let autoport = graphics.autoport.is_some_and(|autoport| autoport.is_yes());
    let mut value = String::new();
    let (mut secure, mut insecure) = (false, false);
    let listen = graphics.listens.first();
    let auto_socket = format!("{}/spice.sock", ctx.domain_dir);
    let socket = match listen {
        Some(listen) if listen.listen_type == Some(GraphicsListenType::Socket) => {
            Some(listen.socket.clone().unwrap_or(auto_socket))
        }
        Some(listen)
            if config.spice_auto_unix_socket
                && listen.listen_type == Some(GraphicsListenType::Address)
                && listen.address.is_none()
                && graphics.listen.is_none() =>
        {
            Some(auto_socket)
        }
        None if config.spice_auto_unix_socket && port.is_none() && tls_port.is_none() => {
            Some(auto_socket)
        }
        _ => None,
    };
    let listen_none = listen.map_or(
        port.is_none() && tls_port.is_none() && !autoport,
        |listen| listen.listen_type == Some(GraphicsListenType::None),
    );
    if let Some(socket) = socket {
        value.push_str(&format!("unix,addr={},", escape_option(&socket)));
        insecure = true;
    } else if listen_none {
        value.push_str("port=0,");
        insecure = true;
    } else {
        if port.is_none() && tls_port.is_none() {
            // The driver reserves ports for autoport before the build
            // (`spice_ports_to_allocate`); SPICE cannot pick its own.
            return Err(unsupported_config(
                "SPICE listens on an address but has neither a port nor a TLS port",
            ));
        }
        if let Some(port) = port {
            value.push_str(&format!("port={port},"));
            insecure = true;
        }
        if let Some(port) = tls_port {
            value.push_str(&format!("tls-port={port},"));
            secure = true;
        }
        if port.is_some() || tls_port.is_some() {
            let address = listen
                .and_then(|listen| listen.address.clone())
                .or_else(|| graphics.listen.clone())
                .unwrap_or_else(|| config.spice_listen.clone());
            value.push_str(&format!("addr={address},"));
        }
    }
    if config.spice_sasl {
        value.push_str("sasl=on,");
        if let Some(dir) = &config.spice_sasl_dir {
            cmd.env("SASL_CONF_PATH", dir.clone());
        }
    }
    match graphics.mouse.as_ref().and_then(|mouse| mouse.mode) {
        Some(MouseMode::Server) => value.push_str("agent-mouse=off,"),
        Some(MouseMode::Client) => value.push_str("agent-mouse=on,"),
        None => {}
    }
    // A password is set over the monitor, never on the command line.
    if graphics.passwd.is_none() && !config.spice_password {
        value.push_str("disable-ticketing=on,");
    }
    if secure {
        value.push_str(&format!(
            "x509-dir={},",
            escape_option(&config.spice_tls_x509_cert_dir)
        ));
    }
    let channel_mode = |mode: SpiceChannelMode, name: &str| -> Result<String, Error> {
        match mode {
            SpiceChannelMode::Secure if !secure => Err(unsupported_config(
                "spice secure channels set in XML configuration, but TLS connection is not available",
            )),
            SpiceChannelMode::Secure => Ok(format!("tls-channel={name},")),
            SpiceChannelMode::Insecure if !insecure => Err(unsupported_config(
                "spice insecure channels set in XML configuration, but plaintext connection is not available",
            )),
            SpiceChannelMode::Insecure => Ok(format!("plaintext-channel={name},")),
            SpiceChannelMode::Any => Ok(String::new()),
        }
    };
    if let Some(mode) = graphics.default_mode {
        value.push_str(&channel_mode(mode, "default")?);
    }
    for name in SPICE_CHANNELS {
        if let Some(mode) = graphics
            .channels
            .iter()
            .find(|channel| channel.name.as_deref() == Some(name))
            .and_then(|channel| channel.mode)
        {
            value.push_str(&channel_mode(mode, name)?);
        }
    }
    let compression = |element: &Option<virt_xml::domain::devices::Compression>| {
        element
            .as_ref()
            .and_then(|element| element.compression.clone())
    };
    for (key, setting) in [
        ("image-compression", compression(&graphics.image)),
        ("jpeg-wan-compression", compression(&graphics.jpeg)),
        ("zlib-glz-wan-compression", compression(&graphics.zlib)),
        ("playback-compression", compression(&graphics.playback)),
        (
            "streaming-video",
            graphics
                .streaming
                .as_ref()
                .and_then(|streaming| streaming.mode.clone()),
        ),
    ] {
        if let Some(setting) = setting {
            value.push_str(&format!("{key}={setting},"));
        }
    }
    if graphics
        .clipboard
        .as_ref()
        .and_then(|clipboard| clipboard.copypaste)
        .is_some_and(|copypaste| !copypaste.is_yes())
    {
        value.push_str("disable-copy-paste=on,");
    }
    if graphics
        .filetransfer
        .as_ref()
        .and_then(|filetransfer| filetransfer.enable)
        .is_some_and(|enable| !enable.is_yes())
    {
        value.push_str("disable-agent-file-xfer=on,");
    }
    if let Some(gl) = graphics
        .gl
        .as_ref()
        .filter(|gl| gl.enable.is_some_and(|enable| enable.is_yes()))
    {
        value.push_str("gl=on,");
        if let Some(node) = gl
            .rendernode
            .as_ref()
            .or(config.default_rendernode.as_ref())
        {
            value.push_str(&format!("rendernode={},", escape_option(node)));
        }
    }
    value.push_str("seamless-migration=on");
    cmd.opt("-spice", value);
    if let Some(keymap) = &graphics.keymap {
        cmd.opt("-k", keymap.clone());
    }
    Ok(())
}

/// Whether a video card is served by a vhost-user-gpu process (`<driver name='vhostuser'>`).
pub fn is_vhost_user_video(video: &Video) -> bool {
    video
        .driver
        .as_ref()
        .and_then(|driver| driver.name.as_deref())
        == Some("vhostuser")
}

/// Where the vhost-user-gpu process of a video card listens for QEMU: a socket in the
/// domain's directory (libvirt hands both ends of a socket pair instead).
pub fn vhost_user_gpu_socket(domain_dir: &str, video: &Video) -> String {
    format!("{domain_dir}/{}-vhost-user-gpu.sock", alias_of(&video.info))
}

/// Where the virtiofsd the driver starts for a filesystem listens, as libvirt names it
/// (`qemuDomainGetVHostUserFSSocketPath`): `ALIAS-fs.sock` in the domain's directory.
pub fn virtiofsd_socket(domain_dir: &str, fs: &virt_xml::domain::Filesystem) -> String {
    format!("{domain_dir}/{}-fs.sock", alias_of(&fs.info))
}

fn video_props(
    def: &Domain,
    caps: &QemuCaps,
    video: &Video,
    primary: bool,
) -> Result<Option<Props>, Error> {
    let model = video.model.clone().unwrap_or_default();
    if is_vhost_user_video(video) {
        // A virtio GPU whose rendering another process does.
        let driver = if primary {
            "vhost-user-vga"
        } else {
            "vhost-user-gpu-pci"
        };
        let alias = alias_of(&video.info);
        let mut props = Props::new().str("driver", driver);
        // libvirt gives the VGA variant none of the virtio transport options.
        if !primary {
            props = virtio_options(props, video.driver.as_ref().map(|driver| &driver.virtio));
        }
        let props = props
            .str("id", alias.clone())
            .uint("max_outputs", model.heads.unwrap_or(1).into())
            .str("chardev", format!("chr-vu-{alias}"));
        return Ok(Some(pci_address_props(props, &video.info, def)));
    }
    let kind = model.model_type.unwrap_or(VideoModel::Vga);
    let accel3d = model
        .acceleration
        .as_ref()
        .and_then(|acceleration| acceleration.accel3d)
        .is_some_and(|accel3d| accel3d.is_yes());
    let has = |device: &str| caps.devices.is_empty() || caps.has_device(device);
    let driver = match (kind, primary) {
        (VideoModel::None, _) => return Ok(None),
        (VideoModel::Vga, _) => "VGA",
        (VideoModel::Cirrus, _) => "cirrus-vga",
        (VideoModel::Vmvga, _) => "vmware-svga",
        (VideoModel::Qxl, true) => "qxl-vga",
        (VideoModel::Qxl, false) => "qxl",
        (VideoModel::Virtio, true)
            if chipset(def) != Chipset::Other && accel3d && has("virtio-vga-gl") =>
        {
            "virtio-vga-gl"
        }
        (VideoModel::Virtio, true) if chipset(def) != Chipset::Other => "virtio-vga",
        (VideoModel::Virtio, _) if accel3d && has("virtio-gpu-gl-pci") => "virtio-gpu-gl-pci",
        (VideoModel::Virtio, _) => "virtio-gpu-pci",
        (VideoModel::Bochs, _) => "bochs-display",
        (VideoModel::Ramfb, _) => "ramfb",
        (other, _) => {
            return Err(unsupported_config(format!(
                "video type '{}' is not supported by QEMU",
                other.as_str()
            )))
        }
    };
    let mut props = Props::new().str("driver", driver);
    if kind == VideoModel::Virtio {
        props = virtio_options(props, video.driver.as_ref().map(|driver| &driver.virtio));
    }
    props = props.str("id", alias_of(&video.info));
    match kind {
        VideoModel::Qxl => {
            props = props.uint("max_outputs", model.heads.unwrap_or(1).into());
            props = props.uint("ram_size", u64::from(model.ram.unwrap_or(65536)) * 1024);
            props = props.uint("vram_size", u64::from(model.vram.unwrap_or(65536)) * 1024);
            props = props.uint(
                "vram64_size_mb",
                u64::from(model.vram64.unwrap_or(0)) / 1024,
            );
            props = props.uint("vgamem_mb", u64::from(model.vgamem.unwrap_or(16384)) / 1024);
        }
        VideoModel::Virtio => {
            props = props.uint("max_outputs", model.heads.unwrap_or(1).into());
        }
        VideoModel::Vga | VideoModel::Vmvga => {
            if let Some(vram) = model
                .vram
                .filter(|_| kind == VideoModel::Vga || kind == VideoModel::Vmvga)
            {
                props = props.uint("vgamem_mb", u64::from(vram) / 1024);
            }
        }
        VideoModel::Bochs => {
            if let Some(vram) = model.vram {
                props = props.uint("vgamem", u64::from(vram) * 1024);
            }
        }
        _ => {}
    }
    if kind != VideoModel::Ramfb {
        props = pci_address_props(props, &video.info, def);
    }
    Ok(Some(props))
}

/// One `-device` per video card, the primary first.
pub fn build_videos(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
    domain_dir: &str,
) -> Result<(), Error> {
    for (index, video) in def.devices.videos.iter().enumerate() {
        if is_vhost_user_video(video) {
            cmd.opt(
                "-chardev",
                format!(
                    "socket,id=chr-vu-{},path={}",
                    alias_of(&video.info),
                    escape_option(&vhost_user_gpu_socket(domain_dir, video))
                ),
            );
        }
        if let Some(props) = video_props(def, caps, video, index == 0)? {
            device(cmd, props);
        }
    }
    Ok(())
}

/// Sound cards (with their codecs).
pub fn build_sounds(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    for sound in &def.devices.sounds {
        let alias = alias_of(&sound.info);
        let audiodev = sound
            .audio
            .as_ref()
            .and_then(|audio| audio.id)
            .map_or_else(|| default_audio_id(def), |id| format!("audio{id}"));
        let driver = match sound.model {
            Some(SoundModel::Sb16) => "sb16",
            Some(SoundModel::Es1370) => "ES1370",
            Some(SoundModel::Ac97) => "AC97",
            Some(SoundModel::Ich6) => "intel-hda",
            Some(SoundModel::Ich9) => "ich9-intel-hda",
            Some(SoundModel::Ich7) => "intel-hda",
            Some(SoundModel::Usb) => "usb-audio",
            Some(SoundModel::Pcspk) | None => continue,
        };
        let hda = matches!(
            sound.model,
            Some(SoundModel::Ich6 | SoundModel::Ich7 | SoundModel::Ich9)
        );
        let mut props = Props::new().str("driver", driver).str("id", alias.clone());
        if !hda {
            props = props.str("audiodev", audiodev.clone());
        }
        props = if sound.model == Some(SoundModel::Usb) {
            address_props(props, &sound.info, def)
        } else {
            pci_address_props(props, &sound.info, def)
        };
        device(cmd, props);
        if hda {
            let codecs: Vec<String> = if sound.codecs.is_empty() {
                vec!["duplex".into()]
            } else {
                sound
                    .codecs
                    .iter()
                    .filter_map(|codec| codec.value.clone())
                    .collect()
            };
            for (index, codec) in codecs.iter().enumerate() {
                device(
                    cmd,
                    Props::new()
                        .str("driver", format!("hda-{codec}"))
                        .str("id", format!("{alias}-codec{index}"))
                        .str("bus", format!("{alias}.0"))
                        .uint("cad", index as u64)
                        .str("audiodev", audiodev.clone()),
                );
            }
        }
    }
    Ok(())
}

/// `-device <watchdog>` and `-watchdog-action`.
pub fn build_watchdog(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    let Some(watchdog) = &def.devices.watchdog else {
        return Ok(());
    };
    let driver = match watchdog.model {
        Some(WatchdogModel::I6300esb) => "i6300esb",
        Some(WatchdogModel::Ib700) => "ib700",
        Some(WatchdogModel::Diag288) => "diag288",
        None => return Err(unsupported_config("watchdog without a model")),
    };
    let props = Props::new()
        .str("driver", driver)
        .str("id", alias_of(&watchdog.info));
    device(cmd, pci_address_props(props, &watchdog.info, def));
    let action = match watchdog.action {
        Some(WatchdogAction::Dump) => Some("pause"),
        Some(WatchdogAction::InjectNmi) => Some("inject-nmi"),
        Some(other) => Some(other.as_str()),
        None => None,
    };
    if let Some(action) = action {
        cmd.opt("-watchdog-action", action);
    }
    Ok(())
}

/// The virtio balloon.
pub fn build_memballoon(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    let Some(balloon) = &def.devices.memballoon else {
        return Ok(());
    };
    let driver = match balloon.model {
        Some(MemballoonModel::Virtio) => "virtio-balloon-pci",
        Some(MemballoonModel::VirtioTransitional) => "virtio-balloon-pci-transitional",
        Some(MemballoonModel::VirtioNonTransitional) => "virtio-balloon-pci-non-transitional",
        _ => return Ok(()),
    };
    let mut props = virtio_options(
        Props::new().str("driver", driver),
        balloon.driver.as_ref().map(|driver| &driver.virtio),
    )
    .str("id", alias_of(&balloon.info));
    if let Some(deflate) = balloon.autodeflate {
        props = props.bool("deflate-on-oom", deflate.is_on());
    }
    if let Some(reporting) = balloon.free_page_reporting {
        props = props.bool("free-page-reporting", reporting.is_on());
    }
    props = pci_address_props(props, &balloon.info, def);
    device(cmd, props);
    Ok(())
}

/// RNG backends (`rng-random`, `rng-builtin`, `rng-egd`) and their `virtio-rng-pci`.
pub fn build_rngs(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for rng in &def.devices.rngs {
        let alias = alias_of(&rng.info);
        let object_id = format!("obj{alias}");
        let backend = rng.backend.clone().unwrap_or_default();
        let object = match backend.model.unwrap_or(RngBackend::Random) {
            RngBackend::Random => Props::new()
                .str("qom-type", "rng-random")
                .str("id", object_id.clone())
                .str(
                    "filename",
                    backend
                        .path
                        .clone()
                        .unwrap_or_else(|| "/dev/urandom".into()),
                ),
            RngBackend::Builtin => Props::new()
                .str("qom-type", "rng-builtin")
                .str("id", object_id.clone()),
            RngBackend::Egd => {
                let chr = virt_xml::domain::ChrDevice {
                    chr_type: backend.chr_type,
                    sources: backend.sources.clone(),
                    protocol: backend.protocol.clone(),
                    ..Default::default()
                };
                let chardev_id = format!("char{alias}");
                super::chardev::build_chardev(cmd, &chr, &chardev_id, ctx, config, false)?;
                Props::new()
                    .str("qom-type", "rng-egd")
                    .str("id", object_id.clone())
                    .str("chardev", chardev_id)
            }
        };
        cmd.opt("-object", object.to_json());
        let driver = match rng.model {
            Some(RngModel::VirtioTransitional) => "virtio-rng-pci-transitional",
            Some(RngModel::VirtioNonTransitional) => "virtio-rng-pci-non-transitional",
            _ => "virtio-rng-pci",
        };
        let mut props = virtio_options(
            Props::new().str("driver", driver),
            rng.driver.as_ref().map(|driver| &driver.virtio),
        )
        .str("rng", object_id)
        .str("id", alias);
        if let Some(rate) = &rng.rate {
            if let Some(bytes) = rate.bytes {
                props = props.uint("max-bytes", bytes.into());
                props = props.uint("period", rate.period.unwrap_or(1000).into());
            }
        }
        device(cmd, pci_address_props(props, &rng.info, def));
    }
    Ok(())
}

/// `pvpanic` (ISA) for `<panic model='isa'/>` (the default on x86).
pub fn build_panics(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    for panic in &def.devices.panics {
        match panic.model {
            Some(PanicModel::Isa) | None => {
                let mut props = Props::new().str("driver", "pvpanic");
                if let Some(Address::Isa {
                    iobase: Some(iobase),
                    ..
                }) = &panic.info.address
                {
                    props = props.uint("ioport", (*iobase).into());
                }
                device(cmd, props);
            }
            Some(PanicModel::Hyperv) => {}
            Some(other) => {
                return Err(unsupported_config(format!(
                    "panic model '{}' is not supported on x86",
                    other.as_str()
                )))
            }
        }
    }
    Ok(())
}

/// The IOMMU device (`intel-iommu` or `virtio-iommu`; SMMUv3 is a machine property).
pub fn build_iommu(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    let Some(iommu) = &def.devices.iommu else {
        return Ok(());
    };
    let driver = iommu.driver.clone().unwrap_or_default();
    let on_off = |value: Option<virt_xml::xml::OnOff>| {
        value.map(|value| if value.is_on() { "on" } else { "off" })
    };
    let props = match iommu.model {
        Some(IommuModel::Intel) => Props::new()
            .str("driver", "intel-iommu")
            .str("id", alias_of(&iommu.info))
            .opt_str("intremap", on_off(driver.intremap))
            .opt_bool("caching-mode", driver.caching_mode.map(|mode| mode.is_on()))
            .opt_str("eim", on_off(driver.eim))
            .opt_bool("device-iotlb", driver.iotlb.map(|iotlb| iotlb.is_on()))
            .opt_uint(
                "aw-bits",
                driver.aw_bits.filter(|bits| *bits > 0).map(u64::from),
            ),
        Some(IommuModel::Virtio) => pci_address_props(
            Props::new()
                .str("driver", "virtio-iommu")
                .str("id", alias_of(&iommu.info)),
            &iommu.info,
            def,
        ),
        _ => return Ok(()),
    };
    device(cmd, props);
    Ok(())
}

/// `rombar`/`romfile` of a PCI device's `<rom>`.
fn rom_props(props: Props, info: &virt_xml::domain::address::DeviceInfo) -> Props {
    let Some(rom) = &info.rom else { return props };
    if rom.enabled.is_some_and(|enabled| !enabled.is_yes()) {
        return props.str("romfile", "");
    }
    let props = match rom.bar {
        Some(bar) => props.uint("rombar", u64::from(bar.is_on())),
        None => props,
    };
    props.opt_str("romfile", rom.file.clone())
}

/// Host devices QEMU can open itself: PCI devices through VFIO (bound to vfio-pci by the
/// host), USB devices by bus and device number, mediated devices by their sysfs path.
/// SCSI and vhost-scsi devices need descriptors or host lookups this driver does not make.
pub fn build_hostdevs(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &super::BuildContext,
) -> Result<(), Error> {
    use virt_xml::domain::devices::HostdevSourceAddress;
    // SCSI host devices are block nodes numbered after every disk's.
    let mut next_node = super::disk::number_nodes(def)
        .iter()
        .flatten()
        .max()
        .map_or(1, |last| last + 1);
    for hostdev in &def.devices.hostdevs {
        let alias = alias_of(&hostdev.info);
        let source = hostdev.source.clone().unwrap_or_default();
        let boot = hostdev.info.boot_order().map(u64::from);
        let props = match (hostdev.hostdev_type.as_deref(), &source.address) {
            (Some("pci"), Some(HostdevSourceAddress::Pci { address, .. })) => {
                let host = format!(
                    "{:04x}:{:02x}:{:02x}.{}",
                    address.domain, address.bus, address.slot, address.function
                );
                let props = Props::new()
                    .str("driver", "vfio-pci")
                    .str("host", host)
                    .str("id", alias)
                    .opt_uint("bootindex", boot);
                rom_props(address_props(props, &hostdev.info, def), &hostdev.info)
            }
            (Some("usb"), Some(HostdevSourceAddress::Usb { bus, device, .. })) => {
                let (reset, resets_all) = match source.guest_reset.as_deref() {
                    Some("off") => (Some(false), None),
                    Some("uninitialized") => (Some(true), Some(false)),
                    Some("on") => (Some(true), Some(true)),
                    _ => (None, None),
                };
                let props = Props::new()
                    .str("driver", "usb-host")
                    .str("hostdevice", format!("/dev/bus/usb/{bus:03}/{device:03}"))
                    .str("id", alias)
                    .opt_uint("bootindex", boot)
                    .opt_bool("guest-reset", reset)
                    .opt_bool("guest-resets-all", resets_all);
                address_props(props, &hostdev.info, def)
            }
            (Some("mdev"), Some(HostdevSourceAddress::Mdev { uuid })) => {
                let ramfb = hostdev.ramfb.is_some_and(|ramfb| ramfb.is_on());
                let driver = match (hostdev.model.as_deref(), ramfb) {
                    (Some("vfio-pci"), true) => "vfio-pci-nohotplug",
                    (Some("vfio-pci"), false) => "vfio-pci",
                    (Some("vfio-ccw"), _) => "vfio-ccw",
                    (Some("vfio-ap"), _) => "vfio-ap",
                    (other, _) => {
                        return Err(unsupported_config(format!(
                            "mediated device model '{}' is not supported",
                            other.unwrap_or("")
                        )))
                    }
                };
                let mut props = Props::new()
                    .str("driver", driver)
                    .str("id", alias)
                    .str("sysfsdev", format!("/sys/bus/mdev/devices/{uuid}"));
                if let Some(display) = hostdev.display {
                    props = props.str("display", if display.is_on() { "on" } else { "off" });
                }
                if ramfb {
                    props = props.bool("ramfb", true);
                }
                address_props(props.opt_uint("bootindex", boot), &hostdev.info, def)
            }
            (Some("scsi_host"), _) if source.protocol.as_deref() == Some("vhost") => {
                // QEMU opens /dev/vhost-scsi itself when no descriptor is passed.
                let driver = match hostdev.model.as_deref() {
                    Some("virtio-transitional") => "vhost-scsi-pci-transitional",
                    Some("virtio-non-transitional") => "vhost-scsi-pci-non-transitional",
                    _ => "vhost-scsi-pci",
                };
                let props = Props::new()
                    .str("driver", driver)
                    .str("wwpn", source.wwpn.clone().unwrap_or_default())
                    .str("id", alias);
                address_props(props, &hostdev.info, def)
            }
            (Some("scsi"), _) => {
                let node = format!("libvirt-{next_node}-backend");
                next_node += 1;
                scsi_hostdev(cmd, def, ctx, hostdev, &node)?
            }
            (kind, _) => {
                return Err(unsupported_config(format!(
                    "host device type '{}' is not supported by this driver",
                    kind.unwrap_or("")
                )))
            }
        };
        device(cmd, props);
    }
    Ok(())
}

/// The block node of a SCSI host device (its `/dev/sgN`, or a LUN QEMU's iSCSI initiator
/// reaches, with the credentials' secret before it) and its `scsi-generic` device.
fn scsi_hostdev(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &super::BuildContext,
    hostdev: &virt_xml::domain::devices::Hostdev,
    node: &str,
) -> Result<Props, Error> {
    use virt_xml::domain::disk::{DiskSource, SourceHost};
    let source = hostdev.source.clone().unwrap_or_default();
    let alias = alias_of(&hostdev.info);
    let backend = if source.protocol.as_deref() == Some("iscsi") {
        // The LUN as a network disk would open it, its secret named after the node.
        let disk_source = DiskSource {
            protocol: Some(NetProtocol::Iscsi),
            name: source.name.clone(),
            hosts: source
                .host
                .iter()
                .map(|host| SourceHost {
                    name: host.name.clone(),
                    port: host.port,
                    ..SourceHost::default()
                })
                .collect(),
            auth: source.auth.clone(),
            initiator: source.initiator.clone(),
            ..DiskSource::default()
        };
        let layer = super::disk::Layer {
            storage_type: StorageType::Network,
            source: disk_source,
            format: None,
            readonly: hostdev.readonly,
            terminated: false,
            top: true,
            metadata_cache_bytes: None,
        };
        let disk = virt_xml::domain::Disk::default();
        let mut props = super::disk::network_props(&disk, &layer, node)?;
        if let Some(secret) = source.auth.as_ref().and_then(|auth| auth.secret.as_ref()) {
            let id = format!("{node}-secret0");
            let lookup = super::secrets::SecretLookup::of(secret, "iscsi")
                .ok_or_else(|| unsupported_config("iSCSI credentials name no secret"))?;
            super::secrets::add_object(cmd, ctx, &lookup, &id)?;
            for (key, value) in &mut props.0 {
                if key == "password-secret" {
                    *value = super::props::Prop::Str(id.clone());
                }
            }
        }
        props
    } else {
        let path = ctx
            .scsi_generic
            .iter()
            .find(|(name, _)| *name == alias)
            .map(|(_, path)| path.clone())
            .ok_or_else(|| {
                unsupported_config(format!(
                    "no SCSI generic device was found for host device '{alias}'"
                ))
            })?;
        Props::new()
            .str("driver", "host_device")
            .str("filename", path)
    };
    cmd.opt(
        "-blockdev",
        backend
            .str("node-name", node)
            .bool("read-only", hostdev.readonly)
            .to_json(),
    );
    let props = Props::new()
        .str("driver", "scsi-generic")
        .str("drive", node)
        .str("id", alias);
    let address = match hostdev.info.address {
        Some(Address::Drive {
            controller,
            bus,
            target,
            unit,
        }) => [controller, bus, target, unit],
        _ => [0; 4],
    };
    Ok(super::disk::scsi_address_props(def, address, props)
        .opt_uint("bootindex", hostdev.info.boot_order().map(u64::from)))
}

/// The vsock device (`vhost-vsock-pci`, QEMU opening /dev/vhost-vsock itself). Its context
/// id must be given: picking a free one needs a host probe this driver does not make.
pub fn build_vsock(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    let Some(vsock) = &def.devices.vsock else {
        return Ok(());
    };
    let cid = vsock
        .cid
        .as_ref()
        .and_then(|cid| cid.address)
        .ok_or_else(|| {
            unsupported_config("a vsock needs a fixed guest CID (automatic CIDs are not supported)")
        })?;
    let driver = match vsock.model {
        Some(VsockModel::VirtioTransitional) => "vhost-vsock-pci-transitional",
        Some(VsockModel::VirtioNonTransitional) => "vhost-vsock-pci-non-transitional",
        _ => "vhost-vsock-pci",
    };
    let props = virtio_options(
        Props::new().str("driver", driver),
        vsock.driver.as_ref().map(|driver| &driver.virtio),
    )
    .str("id", alias_of(&vsock.info))
    .uint("guest-cid", cid.into());
    device(cmd, address_props(props, &vsock.info, def));
    Ok(())
}

/// Shared memory devices: `ivshmem-plain` on a shared `/dev/shm` file, or
/// `ivshmem-doorbell` talking to an ivshmem server's socket.
pub fn build_shmems(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for shmem in &def.devices.shmems {
        let alias = alias_of(&shmem.info);
        let name = shmem.name.clone().unwrap_or_default();
        let model = shmem
            .model
            .as_ref()
            .and_then(|model| model.value.as_deref())
            .unwrap_or("ivshmem-plain");
        let size = shmem.size.map_or(0, |size| size.0);
        if size != 0 && (!size.is_power_of_two() || size < 1024 * 1024) {
            return Err(unsupported_config(
                "shmem size must be a power of two and at least 1 MiB",
            ));
        }
        if !matches!(shmem.info.address, Some(Address::Pci(_))) {
            return Err(unsupported_config(
                "only 'pci' addresses are supported for the shared memory device",
            ));
        }
        let server = shmem
            .server
            .as_ref()
            .filter(|_| model == "ivshmem-doorbell");
        let mut props = Props::new().str("driver", model).str("id", alias.clone());
        match (model, server) {
            ("ivshmem-plain", _) => {
                let memdev = format!("shmmem-{alias}");
                cmd.opt(
                    "-object",
                    Props::new()
                        .str("qom-type", "memory-backend-file")
                        .str("id", memdev.clone())
                        .str("mem-path", format!("/dev/shm/{name}"))
                        .uint("size", size)
                        .bool("share", true)
                        .to_json(),
                );
                props = props.str("memdev", memdev);
                match shmem.role.as_deref() {
                    Some("master") => props = props.str("master", "on"),
                    Some("peer") => props = props.str("master", "off"),
                    _ => {}
                }
            }
            ("ivshmem-doorbell", Some(_)) => {
                props = props.str("chardev", format!("char{alias}"));
            }
            (other, _) => {
                return Err(unsupported_config(format!(
                    "shared memory model '{other}' is not supported by this driver"
                )))
            }
        }
        let msi = shmem.msi.clone().unwrap_or_default();
        props = props
            .opt_uint("vectors", msi.vectors.filter(|v| *v > 0).map(u64::from))
            .opt_bool("ioeventfd", msi.ioeventfd.map(|on| on.is_on()));
        device(cmd, address_props(props, &shmem.info, def));
        if let Some(server) = server {
            let path = server
                .path
                .clone()
                .unwrap_or_else(|| format!("/var/lib/libvirt/shmem-{name}-sock"));
            let chr = virt_xml::domain::ChrDevice {
                chr_type: Some(ChrType::Unix),
                sources: vec![virt_xml::domain::ChrSource {
                    path: Some(path),
                    mode: Some("connect".into()),
                    ..Default::default()
                }],
                ..Default::default()
            };
            super::chardev::build_chardev(cmd, &chr, &format!("char{alias}"), ctx, config, false)?;
        }
    }
    Ok(())
}
