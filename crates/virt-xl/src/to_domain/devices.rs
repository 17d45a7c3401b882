//! The devices of an `xl` configuration: network interfaces (`vif`), PCI and USB host
//! devices, sound, displays (`vnc`/`sdl`/`vfb`/`spice`), serial and parallel ports, disks,
//! USB input devices and controllers, and channels.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::chr::{Clipboard, MouseModeElement};
use virt_xml::domain::devices::{
    GraphicsListen, HostdevDriver, HostdevSource, HostdevSourceAddress,
};
use virt_xml::domain::interface::{
    Bandwidth, BandwidthRate, InterfaceIp, InterfaceTarget, PathAttr, TypeAttr, VirtualPort, Vlan,
    VlanTag,
};
use virt_xml::domain::{
    ChrDevice, ChrSource, ChrTarget, ChrType, Controller, ControllerType, Disk, DiskBus,
    DiskDevice, DiskDriver, DiskSource, DiskTarget, Domain, Graphics, GraphicsListenType,
    GraphicsType, Hostdev, HostdevMode, Input, InputBus, InputType, Interface, InterfaceSource,
    InterfaceType, Mac, MouseMode, PciAddress, Sound, SoundModel, StorageFormat, StorageType,
};
use virt_xml::xml::YesNo;

use crate::conf::{XlConfig, XlValue};
use crate::disk_spec::{parse_disk_spec, DiskBackend, DiskFormat};
use crate::postparse::GuestKind;
use crate::util::{leading_ullong, parse_int, parse_uint};
use crate::Result;

fn xen_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XEN, message)
}

fn xenxl_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XENXL, message)
}

/// The strings of a list setting (other items skipped); nothing when it is not a list.
fn list_strings<'a>(conf: &'a XlConfig, name: &str) -> Vec<&'a str> {
    match conf.get(name) {
        Some(XlValue::List(items)) => items.iter().filter_map(XlValue::as_str).collect(),
        _ => Vec::new(),
    }
}

// ---- network interfaces ----

/// `rate=10MB/s[@interval]` in kilobytes per second.
fn parse_vif_rate(rate: &str) -> Result<u64> {
    let invalid = || {
        xen_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("Invalid rate '{rate}' specified"),
        )
    };
    let plain = rate.split('@').next().unwrap_or("");
    // ^[0-9]+[GMK]?[Bb]/s$
    let digits = plain.bytes().take_while(u8::is_ascii_digit).count();
    let unit = &plain[digits..];
    let unit = unit.strip_prefix(['G', 'M', 'K']).unwrap_or(unit);
    if digits == 0 || !(unit == "B/s" || unit == "b/s") {
        return Err(invalid());
    }
    let (mut value, suffix) = leading_ullong(rate).ok_or_else(|| {
        xen_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("Failed to parse rate '{rate}'"),
        )
    })?;
    let mut suffix = suffix.bytes();
    let first = suffix.next();
    match first {
        Some(b'G') => value = value.saturating_mul(1024 * 1024),
        Some(b'M') => value = value.saturating_mul(1024),
        _ => {}
    }
    if first == Some(b'b') || suffix.next() == Some(b'b') {
        value /= 8;
    }
    Ok(value)
}

/// `bridge=br0`, `bridge=br0.10` (a VLAN tag) or `bridge=br0:10:20` (trunked VLANs), the
/// latter two on an Open vSwitch bridge.
fn parse_vif_bridge(iface: &mut Interface, bridge: &str) -> Result<()> {
    let bad_tag = |tag: &str| {
        xen_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("malformed vlan tag '{tag}' in bridge '{bridge}'"),
        )
    };
    let source = iface.source.get_or_insert_with(InterfaceSource::default);
    let ovs = || VirtualPort {
        port_type: Some("openvswitch".to_string()),
        ..Default::default()
    };
    if let Some((name, tag)) = bridge.split_once('.') {
        source.bridge = Some(name.to_string());
        let tag = parse_uint(tag, 10).ok_or_else(|| bad_tag(tag))?;
        iface.vlan = Some(Vlan {
            trunk: None,
            tags: vec![VlanTag {
                id: Some(tag),
                native_mode: None,
            }],
        });
        iface.virtualport = Some(ovs());
    } else if bridge.contains(':') {
        let mut parts = bridge.split(':');
        source.bridge = parts.next().map(str::to_string);
        let mut tags = Vec::new();
        for tag in parts {
            tags.push(VlanTag {
                id: Some(parse_uint(tag, 10).ok_or_else(|| bad_tag(tag))?),
                native_mode: None,
            });
        }
        iface.vlan = Some(Vlan {
            trunk: Some(YesNo::Yes),
            tags,
        });
        iface.virtualport = Some(ovs());
    } else {
        source.bridge = Some(bridge.to_string());
    }
    Ok(())
}

fn ip_family(address: &str) -> Result<&'static str> {
    if address.parse::<std::net::Ipv4Addr>().is_ok() {
        Ok("ipv4")
    } else if address.parse::<std::net::Ipv6Addr>().is_ok() {
        Ok("ipv6")
    } else {
        Err(xen_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("Cannot parse socket address '{address}'"),
        ))
    }
}

/// One `vif` entry (`mac=...,bridge=...,script=...,model=...`).
fn parse_vif(entry: &str) -> Result<Interface> {
    let mut mac = None;
    let mut bridge = None;
    let mut script = None;
    let mut model = None;
    let mut vif_type = None;
    let mut ip = None;
    let mut vifname = None;
    let mut rate = None;
    for keyval in entry.split(',') {
        let Some((_, value)) = keyval.split_once('=') else {
            return Err(xen_error(
                ErrorNumber::CONF_SYNTAX,
                format!("malformed vif option '{keyval}' in '{entry}'"),
            ));
        };
        let key = keyval.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let slot = if key.starts_with("mac=") {
            &mut mac
        } else if key.starts_with("bridge=") {
            &mut bridge
        } else if key.starts_with("script=") {
            &mut script
        } else if key.starts_with("model=") {
            &mut model
        } else if key.starts_with("type=") {
            &mut vif_type
        } else if key.starts_with("vifname=") {
            &mut vifname
        } else if key.starts_with("ip=") {
            &mut ip
        } else if key.starts_with("rate=") {
            &mut rate
        } else {
            continue;
        };
        *slot = Some(value);
    }
    let mut iface = Interface::default();
    let mac_address = match mac {
        Some(text) => virt_xml::domain::parse_mac(text).ok_or_else(|| {
            xen_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("malformed mac address '{text}'"),
            )
        })?,
        // libvirt leaves an entry without `mac=` at the all-zero address.
        None => [0; 6],
    };
    iface.mac = Some(Mac {
        address: Some(virt_xml::domain::format_mac(mac_address)),
        ..Default::default()
    });
    let bridged = bridge.is_some() || matches!(script, Some("vif-bridge" | "vif-vnic"));
    iface.interface_type = Some(if bridged {
        InterfaceType::Bridge
    } else {
        InterfaceType::Ethernet
    });
    if let (true, Some(bridge)) = (bridged, bridge) {
        parse_vif_bridge(&mut iface, bridge)?;
    }
    if let Some(ip) = ip {
        for address in ip.split(' ') {
            iface.ips.push(InterfaceIp {
                address: Some(address.to_string()),
                family: Some(ip_family(address)?.to_string()),
                ..Default::default()
            });
        }
    }
    if let Some(script) = script.filter(|script| !script.is_empty()) {
        iface.script = Some(PathAttr {
            path: Some(script.to_string()),
        });
    }
    if let Some(model) = model {
        iface.model = Some(TypeAttr {
            value: Some(model.to_string()),
        });
    } else if vif_type == Some("vif") {
        iface.model = Some(TypeAttr {
            value: Some("netfront".to_string()),
        });
    }
    if let Some(vifname) = vifname.filter(|name| !name.is_empty()) {
        iface.target = Some(InterfaceTarget {
            dev: Some(vifname.to_string()),
            ..Default::default()
        });
    }
    if let Some(rate) = rate {
        iface.bandwidth = Some(Bandwidth {
            outbound: Some(BandwidthRate {
                average: Some(parse_vif_rate(rate)?),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    Ok(iface)
}

pub(super) fn parse_vifs(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    for entry in list_strings(conf, "vif") {
        let iface = parse_vif(entry)?;
        domain.devices.interfaces.push(iface);
    }
    Ok(())
}

// ---- PCI host devices ----

fn malformed_pci(entry: &str) -> Error {
    xen_error(
        ErrorNumber::INTERNAL_ERROR,
        format!("Malformed PCI address {entry}"),
    )
}

/// `[DDDD:]BB:SS.F[,permissive=N]`.
fn parse_pci_entry(entry: &str) -> Result<Hostdev> {
    let tokens: Vec<&str> = entry.splitn(3, ':').collect();
    let (domain_part, bus_part, rest) = match tokens.as_slice() {
        [domain, bus, rest] => (Some(*domain), *bus, *rest),
        [bus, rest] => (None, *bus, *rest),
        _ => return Err(malformed_pci(entry)),
    };
    let hex = |text: &str| parse_int(text, 16).ok_or_else(|| malformed_pci(entry));
    let pci_domain = match domain_part {
        Some(text) => hex(text)?,
        None => 0,
    };
    let bus = hex(bus_part)?;
    let (slot, rest) = rest.split_once('.').ok_or_else(|| malformed_pci(rest))?;
    let slot = hex(slot)?;
    let (function, options) = match rest.split_once(',') {
        Some((function, options)) => (function, Some(options)),
        None => (rest, None),
    };
    let function = hex(function)?;
    let mut write_filtering = None;
    for option in options
        .map(|o| o.split(',').collect())
        .unwrap_or_else(Vec::new)
    {
        let Some((name, value)) = option.split_once('=') else {
            return Err(xen_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Malformed PCI options {}", options.unwrap_or("")),
            ));
        };
        if name == "permissive" {
            // Any number but 0 is true.
            let permissive = parse_int(value, 10).ok_or_else(|| malformed_pci(entry))?;
            write_filtering = Some(if permissive != 0 {
                YesNo::No
            } else {
                YesNo::Yes
            });
        }
    }
    let as_u32 = |value: i32| u32::try_from(value).map_err(|_| malformed_pci(entry));
    Ok(Hostdev {
        mode: Some(HostdevMode::Subsystem),
        hostdev_type: Some("pci".to_string()),
        managed: Some(YesNo::No),
        driver: Some(HostdevDriver {
            name: Some("xen".to_string()),
        }),
        source: Some(HostdevSource {
            write_filtering,
            address: Some(HostdevSourceAddress::Pci {
                address: PciAddress {
                    domain: as_u32(pci_domain)?,
                    bus: as_u32(bus)?,
                    slot: as_u32(slot)?,
                    function: as_u32(function)?,
                    ..Default::default()
                },
                with_type: false,
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

pub(super) fn parse_pci(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let Some(entries) = conf.get_string_list("pci")? else {
        return Ok(());
    };
    for entry in entries {
        let hostdev = parse_pci_entry(entry)?;
        domain.devices.hostdevs.push(hostdev);
    }
    Ok(())
}

// ---- sound, displays, character devices ----

pub(super) fn parse_sound(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    if kind != GuestKind::Hvm {
        return Ok(());
    }
    let Some(text) = conf.get_string("soundhw")? else {
        return Ok(());
    };
    let models: Vec<SoundModel> = if text == "all" {
        // Only the two models Xen's old QEMU had.
        vec![SoundModel::Sb16, SoundModel::Es1370]
    } else {
        let mut models = Vec::new();
        for name in text.split(',') {
            if name.is_empty() {
                break;
            }
            models.push(SoundModel::from_keyword(name).ok_or_else(|| {
                xen_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!("unknown sound model '{name}' in soundhw"),
                )
            })?);
        }
        models
    };
    for model in models {
        domain.devices.sounds.push(Sound {
            model: Some(model),
            ..Default::default()
        });
    }
    Ok(())
}

/// A VNC display as libvirt writes it: `port='-1' autoport='yes'` or the fixed port, the
/// listen address both as attribute and `<listen>`.
fn vnc_graphics(
    autoport: bool,
    port: i32,
    listen: Option<String>,
    passwd: Option<String>,
    keymap: Option<String>,
) -> Graphics {
    Graphics {
        graphics_type: Some(GraphicsType::Vnc),
        port: if autoport {
            Some(-1)
        } else {
            (port != 0).then_some(port)
        },
        autoport: Some(if autoport { YesNo::Yes } else { YesNo::No }),
        listen: listen.clone(),
        keymap,
        passwd,
        listens: vec![GraphicsListen {
            listen_type: Some(GraphicsListenType::Address),
            address: listen,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn sdl_graphics(display: Option<String>, xauth: Option<String>) -> Graphics {
    Graphics {
        graphics_type: Some(GraphicsType::Sdl),
        display,
        xauth,
        ..Default::default()
    }
}

fn opt_string(conf: &XlConfig, name: &str) -> Result<Option<String>> {
    Ok(conf.get_string(name)?.map(str::to_string))
}

/// `vnc`/`sdl` settings of an HVM guest, or the first `vfb` of a PV guest.
pub(super) fn parse_vfb(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    if kind == GuestKind::Hvm {
        if conf.get_bool("vnc", Some(false))? == Some(true) {
            let autoport = conf.get_bool("vncunused", Some(true))? == Some(true);
            let port = if autoport {
                0
            } else {
                conf.get_ulong("vncdisplay", 0)? as i32 + 5900
            };
            domain.devices.graphics.push(vnc_graphics(
                autoport,
                port,
                opt_string(conf, "vnclisten")?,
                opt_string(conf, "vncpasswd")?,
                opt_string(conf, "keymap")?,
            ));
        } else if conf.get_bool("sdl", Some(false))? == Some(true) {
            domain.devices.graphics.push(sdl_graphics(
                opt_string(conf, "display")?,
                opt_string(conf, "xauthority")?,
            ));
        }
        return Ok(());
    }
    let Some(vfbs) = conf.get_string_list("vfb")? else {
        return Ok(());
    };
    let Some(vfb) = vfbs.first() else {
        return Ok(());
    };
    if vfb.len() >= 1024 {
        return Err(xen_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("VFB {vfb} too big for destination"),
        ));
    }
    let sdl = vfb.contains("type=sdl");
    let (mut autoport, mut port) = (false, 0);
    let (mut listen, mut passwd, mut keymap, mut display, mut xauth) =
        (None, None, None, None, None);
    let mut rest = Some(*vfb);
    while let Some(text) = rest {
        let (key, next) = match text.split_once(',') {
            Some((key, next)) => (key, Some(next.trim_start_matches([',', ' ', '\t']))),
            None => (text, None),
        };
        if !key.contains('=') {
            break;
        }
        if sdl {
            if let Some(value) = key.strip_prefix("display=") {
                display = Some(value.to_string());
            } else if let Some(value) = key.strip_prefix("xauthority=") {
                xauth = Some(value.to_string());
            }
        } else if let Some(value) = key.strip_prefix("vncunused=") {
            if value == "1" {
                autoport = true;
            }
        } else if let Some(value) = key.strip_prefix("vnclisten=") {
            listen = Some(value.to_string());
        } else if let Some(value) = key.strip_prefix("vncpasswd=") {
            passwd = Some(value.to_string());
        } else if let Some(value) = key.strip_prefix("keymap=") {
            keymap = Some(value.to_string());
        } else if let Some(value) = key.strip_prefix("vncdisplay=") {
            port = parse_int(value, 10)
                .ok_or_else(|| {
                    xen_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!("invalid vncdisplay value '{value}'"),
                    )
                })?
                .saturating_add(5900);
        }
        rest = next;
    }
    domain.devices.graphics.push(if sdl {
        sdl_graphics(display, xauth)
    } else {
        vnc_graphics(autoport, port, listen, passwd, keymap)
    });
    Ok(())
}

fn chr_with_port(mut chr: ChrDevice, port: u32) -> ChrDevice {
    chr.target = Some(ChrTarget {
        port: Some(port),
        ..Default::default()
    });
    chr
}

/// `parallel` and `serial` of an HVM guest (several serial ports as a list); the PV
/// console of other guests.
pub(super) fn parse_chardevs(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    if kind != GuestKind::Hvm {
        domain.devices.consoles.push(ChrDevice {
            chr_type: Some(ChrType::Pty),
            target: Some(ChrTarget {
                target_type: Some("xen".to_string()),
                port: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        });
        return Ok(());
    }
    if let Some(parallel) = conf.get_string("parallel")?.filter(|p| *p != "none") {
        let chr = crate::chr::parse_sxpr_char(parallel)?;
        domain.devices.parallels.push(chr_with_port(chr, 0));
    }
    match conf.get_string_list("serial")? {
        Some(serials) => {
            for (port, serial) in serials.into_iter().enumerate() {
                if serial == "none" {
                    continue;
                }
                let chr = crate::chr::parse_sxpr_char(serial)?;
                domain.devices.serials.push(chr_with_port(chr, port as u32));
            }
        }
        None => {
            if let Some(serial) = conf.get_string("serial")?.filter(|s| *s != "none") {
                let chr = crate::chr::parse_sxpr_char(serial)?;
                domain.devices.serials.push(chr_with_port(chr, 0));
            }
        }
    }
    Ok(())
}

// ---- disks ----

/// A disk's source: an RBD image in colon syntax, or a path.
fn disk_source(disk: &mut Disk, path: Option<&str>) -> Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    if path.starts_with("rbd:") {
        disk.disk_type = Some(StorageType::Network);
        disk.source = Some(crate::rbd::parse_rbd(&path.replace("\\\\", "\\"))?);
    } else {
        disk.source = Some(DiskSource {
            file: Some(path.to_string()),
            ..Default::default()
        });
    }
    Ok(())
}

fn driver(name: &str, format: Option<StorageFormat>) -> Option<DiskDriver> {
    Some(DiskDriver {
        name: Some(name.to_string()),
        format,
        ..Default::default()
    })
}

pub(super) fn parse_disks(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    for spec in list_strings(conf, "disk") {
        let parsed = parse_disk_spec(spec)?;
        let mut disk = Disk::default();
        disk_source(&mut disk, parsed.pdev_path.as_deref())?;
        disk.readonly = !parsed.readwrite;
        if parsed.is_cdrom {
            let empty = parsed.pdev_path.as_deref().is_none_or(str::is_empty);
            disk.driver = driver("qemu", (!empty).then_some(StorageFormat::Raw));
            disk.disk_type = Some(StorageType::File);
            disk.device = Some(DiskDevice::Cdrom);
        } else {
            let format = match parsed.format {
                DiskFormat::Qcow => Some(StorageFormat::Qcow),
                DiskFormat::Qcow2 => Some(StorageFormat::Qcow2),
                DiskFormat::Vhd => Some(StorageFormat::Vhd),
                DiskFormat::Raw | DiskFormat::Unknown => Some(StorageFormat::Raw),
                DiskFormat::Empty => None,
                DiskFormat::Qed => Some(StorageFormat::Qed),
            };
            let (name, storage) = match parsed.backend {
                DiskBackend::Qdisk | DiskBackend::Unknown => {
                    ("qemu", disk.disk_type.unwrap_or(StorageType::File))
                }
                DiskBackend::Tap => ("tap", StorageType::File),
                DiskBackend::Phy => ("phy", StorageType::Block),
                DiskBackend::Standalone => {
                    return Err(xenxl_error(
                        ErrorNumber::CONFIG_UNSUPPORTED,
                        "disk backend not supported: standalone",
                    ))
                }
            };
            disk.driver = driver(name, format);
            disk.disk_type = Some(storage);
            disk.device = Some(DiskDevice::Disk);
        }
        if disk.disk_type == Some(StorageType::Block) {
            if let Some(source) = disk.source.as_mut() {
                source.dev = source.file.take();
            }
        }
        let bus = if parsed.vdev.starts_with("xvd") || kind != GuestKind::Hvm {
            DiskBus::Xen
        } else if parsed.vdev.starts_with("sd") {
            DiskBus::Scsi
        } else {
            DiskBus::Ide
        };
        disk.target = Some(DiskTarget {
            dev: Some(parsed.vdev),
            bus: Some(bus),
            ..Default::default()
        });
        domain.devices.disks.push(disk);
    }
    Ok(())
}

// ---- SPICE, USB, channels ----

pub(super) fn parse_spice(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    if kind != GuestKind::Hvm || conf.get_bool("spice", Some(false))? != Some(true) {
        return Ok(());
    }
    let listen = opt_string(conf, "spicehost")?;
    let tls_port = conf.get_ulong("spicetls_port", 0)? as i32;
    let port = conf.get_ulong("spiceport", 0)? as i32;
    let autoport = tls_port == 0 && port == 0;
    let passwd = if conf.get_bool("spicedisable_ticketing", Some(false))? == Some(true) {
        None
    } else {
        Some(conf.require_string("spicepasswd")?.to_string())
    };
    let mouse = if conf.get_bool("spiceagent_mouse", Some(false))? == Some(true) {
        MouseMode::Client
    } else {
        MouseMode::Server
    };
    let copypaste = conf.get_bool("spice_clipboard_sharing", Some(false))? == Some(true);
    // libvirt keeps only the SPICE display when the file asks for VNC as well.
    domain.devices.graphics = vec![Graphics {
        graphics_type: Some(GraphicsType::Spice),
        port: (port != 0).then_some(port),
        tls_port: (tls_port != 0).then_some(tls_port),
        autoport: Some(if autoport { YesNo::Yes } else { YesNo::No }),
        listen: listen.clone(),
        passwd,
        listens: vec![GraphicsListen {
            listen_type: Some(GraphicsListenType::Address),
            address: listen,
            ..Default::default()
        }],
        mouse: Some(MouseModeElement { mode: Some(mouse) }),
        clipboard: Some(Clipboard {
            copypaste: Some(if copypaste { YesNo::Yes } else { YesNo::No }),
        }),
        ..Default::default()
    }];
    Ok(())
}

/// `usbdevice = "tablet"` or a list: USB input devices of an HVM guest.
pub(super) fn parse_usb_inputs(
    conf: &XlConfig,
    domain: &mut Domain,
    kind: GuestKind,
) -> Result<()> {
    if kind != GuestKind::Hvm {
        return Ok(());
    }
    let values: Vec<&XlValue> = match conf.get("usbdevice") {
        None => return Ok(()),
        Some(XlValue::List(items)) => items.iter().collect(),
        Some(value) => vec![value],
    };
    for value in values {
        let XlValue::String(name) = value else {
            return Err(xenxl_error(
                ErrorNumber::INTERNAL_ERROR,
                "config value usbdevice was malformed",
            ));
        };
        let input_type = match name.as_str() {
            "mouse" => InputType::Mouse,
            "tablet" => InputType::Tablet,
            "keyboard" => InputType::Keyboard,
            _ => continue,
        };
        domain.devices.inputs.push(Input {
            input_type: Some(input_type),
            bus: Some(InputBus::Usb),
            ..Default::default()
        });
    }
    Ok(())
}

/// The `key=value` options of a comma-separated entry, as libvirt walks them: an option
/// without `=` is passed over, unless no `=` follows at all, when libvirt skips the whole
/// entry (`None`).
fn entry_options(entry: &str) -> Option<Vec<(&str, &str)>> {
    let mut options = Vec::new();
    let mut rest = Some(entry);
    while let Some(text) = rest {
        if !text.contains('=') {
            return None;
        }
        let (key, next) = match text.split_once(',') {
            Some((key, next)) => (key, Some(next.trim_start_matches([',', ' ', '\t']))),
            None => (text, None),
        };
        if let Some(pair) = key.split_once('=') {
            options.push(pair);
        }
        rest = next;
    }
    Some(options)
}

/// `usbdev = [ "hostbus=1,hostaddr=3" ]`: host USB devices (numbers in hexadecimal).
pub(super) fn parse_usb_hostdevs(conf: &XlConfig, domain: &mut Domain) {
    for entry in list_strings(conf, "usbdev") {
        let Some(options) = entry_options(entry) else {
            continue;
        };
        let (mut bus, mut device) = (0, 0);
        let mut valid = true;
        for (key, value) in options {
            let slot = match key {
                "hostbus" => &mut bus,
                "hostaddr" => &mut device,
                _ => continue,
            };
            match parse_int(value, 16) {
                Some(number) => *slot = number,
                None => valid = false,
            }
        }
        if !valid {
            continue;
        }
        domain.devices.hostdevs.push(Hostdev {
            mode: Some(HostdevMode::Subsystem),
            hostdev_type: Some("usb".to_string()),
            managed: Some(YesNo::No),
            source: Some(HostdevSource {
                address: Some(HostdevSourceAddress::Usb {
                    bus: bus as u32,
                    device: device as u32,
                    with_type: false,
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
}

/// `usbctrl = [ "type=qusb,version=2,ports=8" ]`.
pub(super) fn parse_usb_controllers(conf: &XlConfig, domain: &mut Domain) {
    for entry in list_strings(conf, "usbctrl") {
        let Some(options) = entry_options(entry) else {
            continue;
        };
        let (mut version, mut ports) = (2, 8);
        let mut valid = true;
        for (key, value) in options {
            match key {
                "type" => valid &= value.starts_with("qusb"),
                "version" => match parse_int(value, 16) {
                    Some(number) => version = number,
                    None => valid = false,
                },
                "ports" => match parse_int(value, 16) {
                    Some(number) => ports = number,
                    None => valid = false,
                },
                _ => {}
            }
        }
        if !valid {
            continue;
        }
        domain.devices.controllers.push(Controller {
            controller_type: Some(ControllerType::Usb),
            model: Some(if version == 1 { "qusb1" } else { "qusb2" }.to_string()),
            ports: Some(ports),
            ..Default::default()
        });
    }
}

/// `channel = [ "connection=socket,path=/p,name=org.qemu.guest_agent.0" ]`.
pub(super) fn parse_channels(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    for entry in list_strings(conf, "channel") {
        let Some(options) = entry_options(entry) else {
            continue;
        };
        let (mut connection, mut name, mut path) = (None, None, None);
        for (key, value) in options {
            match key {
                "connection" => connection = Some(value),
                "name" if name.is_none() => name = Some(value),
                "path" if path.is_none() => path = Some(value),
                _ => {}
            }
        }
        let mut channel = ChrDevice::default();
        match connection {
            Some(connection) if connection.starts_with("socket") => {
                channel.chr_type = Some(ChrType::Unix);
                if let Some(path) = path {
                    channel.sources.push(ChrSource {
                        mode: Some("bind".to_string()),
                        path: Some(path.to_string()),
                        ..Default::default()
                    });
                }
            }
            Some(connection) if connection.starts_with("pty") => {
                channel.chr_type = Some(ChrType::Pty);
            }
            other => {
                return Err(xenxl_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!(
                        "unsupported channel connection '{}' in '{entry}'",
                        other.unwrap_or("")
                    ),
                ))
            }
        }
        channel.target = Some(ChrTarget {
            target_type: Some("xen".to_string()),
            name: name.map(str::to_string),
            ..Default::default()
        });
        domain.devices.channels.push(channel);
    }
    Ok(())
}
