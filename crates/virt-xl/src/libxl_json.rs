//! The `libxl_domain_config` libvirt's libxl driver builds for a domain
//! (`libxlBuildDomainConfig` in `libxl_conf.c`), as libxl writes it in JSON: the create
//! info (`c_info`), the build info (`b_info`, with its `type.hvm`/`type.pv`/`type.pvh`
//! part) and the device lists.
//!
//! Like libxl, the JSON leaves out what is at libxl's default (a number 0, an unset
//! switch, an absent string), except for the few defaults libvirt's test data writes out
//! (each device's `devid` of -1, a PCI device's `rdm_policy`), which are kept so that the
//! result compares equal, as a JSON value, with libvirt's golden files.

use serde_json::{json, Map, Value};
use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::devices::HostdevSourceAddress;
use virt_xml::domain::{
    ChrType, ClockBasis, ClockOffset, ControllerType, Disk, DiskDevice, DiskDiscard, Domain,
    Graphics, GraphicsType, Hostdev, InputBus, InputType, InterfaceType, LifecycleAction,
    MemballoonModel, MouseMode, SoundModel, StorageFormat, StorageType, TimerMode, TimerName,
    VideoModel,
};
use virt_xml::xml::{OnOff, YesNo};

use crate::cpuid::{libxl_feature_name, CpuidPolicy};
use crate::facts::{DeviceModelVersion, XenHostFacts};
use crate::postparse::{self, GuestKind};
use crate::util::parse_bitmap;
use crate::Result;

/// The first port of libvirt's graphics port range; a VNC display is its port minus this.
const VNC_PORT_MIN: i64 = 5900;

fn libxl_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::LIBXL, message)
}

fn unsupported(message: impl AsRef<str>) -> Error {
    libxl_error(ErrorNumber::CONFIG_UNSUPPORTED, message)
}

/// libxl's `libxl_defbool` in JSON.
fn defbool(value: bool) -> Value {
    Value::String(if value { "True" } else { "False" }.to_string())
}

/// A JSON object built field by field, leaving out what libxl leaves out.
#[derive(Default)]
struct Object(Map<String, Value>);

impl Object {
    fn set(&mut self, key: &str, value: Value) -> &mut Self {
        self.0.insert(key.to_string(), value);
        self
    }
    fn string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.set(key, Value::String(value.to_string()));
        }
        self
    }
    /// A number, left out at 0.
    fn number(&mut self, key: &str, value: i64) -> &mut Self {
        if value != 0 {
            self.set(key, json!(value));
        }
        self
    }
    fn object(&mut self, key: &str) -> &mut Map<String, Value> {
        let entry = self
            .0
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        entry
            .as_object_mut()
            .expect("the entry was made an object just above")
    }
    fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

fn bitmap_json(bits: impl IntoIterator<Item = u32>) -> Value {
    Value::Array(bits.into_iter().map(|bit| json!(bit)).collect())
}

fn lifecycle_name(action: LifecycleAction) -> Option<&'static str> {
    match action {
        // libxl's default, left out.
        LifecycleAction::Destroy => None,
        LifecycleAction::Restart => Some("restart"),
        LifecycleAction::RenameRestart => Some("restart_rename"),
        LifecycleAction::Preserve => Some("preserve"),
        LifecycleAction::CoredumpDestroy => Some("coredump_destroy"),
        LifecycleAction::CoredumpRestart => Some("coredump_restart"),
    }
}

fn xen_on(domain: &Domain) -> Option<&virt_xml::domain::XenFeatures> {
    domain.features.as_ref().and_then(|f| f.xen.as_ref())
}

fn create_info(domain: &Domain, kind: GuestKind, facts: &XenHostFacts) -> Value {
    let mut c_info = Object::default();
    c_info.set(
        "type",
        json!(match kind {
            GuestKind::Hvm => "hvm",
            GuestKind::Pv => "pv",
            GuestKind::Pvh => "pvh",
        }),
    );
    if kind != GuestKind::Pv {
        let hap = domain.features.as_ref().and_then(|f| f.hap.as_ref());
        if let Some(hap) = hap {
            c_info.set("hap", defbool(hap.state != Some(OnOff::Off)));
        }
    }
    if facts.createinfo_passthrough {
        if let Some(passthrough) = xen_on(domain).and_then(|xen| xen.passthrough.as_ref()) {
            let mode = match (passthrough.state, passthrough.mode.as_deref()) {
                (Some(OnOff::Off), _) => "disabled",
                (_, Some("sync_pt")) => "sync_pt",
                (_, Some("share_pt")) => "share_pt",
                _ => "enabled",
            };
            c_info.set("passthrough", json!(mode));
        }
    }
    c_info.string("name", Some(domain.name()));
    if let Some(uuid) = domain.uuid {
        c_info.set("uuid", json!(uuid.hyphenated().to_string()));
    }
    c_info.into_value()
}

/// `<cputune><vcpupin>` as libxl's hard affinities: one map per vCPU up to the last pinned
/// one, unpinned vCPUs free to run on every host CPU.
fn vcpu_affinities(domain: &Domain, max_vcpus: u32, facts: &XenHostFacts) -> Result<Option<Value>> {
    let pins = domain
        .cputune
        .as_ref()
        .map(|tune| tune.vcpupins.as_slice())
        .unwrap_or(&[]);
    let pinned = |vcpu: u32| {
        pins.iter()
            .find(|pin| pin.vcpu == Some(vcpu))
            .and_then(|pin| pin.cpuset.as_deref())
    };
    let Some(last) = (0..max_vcpus).filter(|vcpu| pinned(*vcpu).is_some()).max() else {
        return Ok(None);
    };
    let any_cpu = facts.host_cpus.div_ceil(8) * 8;
    let mut maps = Vec::new();
    for vcpu in 0..=last {
        maps.push(match pinned(vcpu) {
            Some(cpuset) => bitmap_json(parse_bitmap(cpuset, any_cpu.max(1))?),
            None => bitmap_json(0..any_cpu),
        });
    }
    Ok(Some(Value::Array(maps)))
}

/// `<cpu mode='host-passthrough'>` features as libxl cpuid settings and nested HVM.
fn cpu_settings(
    domain: &Domain,
    kind: GuestKind,
    facts: &XenHostFacts,
    b_info: &mut Object,
    hvm: &mut Object,
) -> Result<()> {
    let Some(cpu) = domain
        .cpu
        .as_ref()
        .filter(|cpu| cpu.mode.as_deref() == Some("host-passthrough"))
    else {
        return Ok(());
    };
    let arch = domain
        .os
        .as_ref()
        .and_then(|os| os.arch())
        .unwrap_or(&facts.arch);
    let x86 = matches!(arch, "x86_64" | "i686");
    let (vmx, svm) = if x86 {
        (facts.host_cpu_vmx, facts.host_cpu_svm)
    } else {
        (false, false)
    };
    let mut nested = facts.nested_hvm && (vmx || svm);
    let mut policy = CpuidPolicy::default();
    for feature in &cpu.features {
        let name = feature.name.as_deref().unwrap_or("");
        let hw_virt = (vmx && name == "vmx") || (svm && name == "svm");
        let value = match feature.policy.as_deref() {
            Some("disable" | "forbid") => {
                if hw_virt {
                    nested = false;
                    continue;
                }
                "0"
            }
            Some("optional") => continue,
            _ => {
                if hw_virt {
                    nested = true;
                    continue;
                }
                "1"
            }
        };
        let setting = format!("{}={value}", libxl_feature_name(name));
        if !policy.parse_config(&setting) {
            return Err(unsupported(format!("unsupported cpu feature '{name}'")));
        }
    }
    if !policy.is_empty() {
        b_info.set("cpuid", policy.to_json());
    }
    if facts.nested_hvm_in_build_info {
        b_info.set("nested_hvm", defbool(nested));
    } else if kind == GuestKind::Hvm {
        hvm.set("nested_hvm", defbool(nested));
    } else {
        return Err(unsupported(format!(
            "unsupported nested HVM setting for {} machine on this Xen version",
            domain.os.as_ref().and_then(|os| os.machine()).unwrap_or("")
        )));
    }
    Ok(())
}

/// A serial port as libxl's device model string.
fn chrdev_string(chr: &virt_xml::domain::ChrDevice) -> Result<String> {
    let kind = chr.chr_type.unwrap_or(ChrType::Pty);
    let source = chr.source();
    let path = source.and_then(|s| s.path.as_deref()).unwrap_or("");
    let listen = source.and_then(|s| s.mode.as_deref()) == Some("bind");
    Ok(match kind {
        ChrType::Null | ChrType::Stdio | ChrType::Vc | ChrType::Pty => kind.as_str().to_string(),
        ChrType::File | ChrType::Pipe => format!("{}:{path}", kind.as_str()),
        ChrType::Dev => path.to_string(),
        ChrType::Udp => {
            let find = |mode: &str| chr.sources.iter().find(|s| s.mode.as_deref() == Some(mode));
            let connect = find("connect");
            let bind = find("bind");
            format!(
                "udp:{}:{}@{}:{}",
                connect.and_then(|s| s.host.as_deref()).unwrap_or(""),
                connect.and_then(|s| s.service.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.host.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.service.as_deref()).unwrap_or("0")
            )
        }
        ChrType::Tcp => {
            let telnet = chr.protocol.as_ref().and_then(|p| p.value.as_deref()) == Some("telnet");
            format!(
                "{}:{}:{}{}",
                if telnet { "telnet" } else { "tcp" },
                source.and_then(|s| s.host.as_deref()).unwrap_or(""),
                source.and_then(|s| s.service.as_deref()).unwrap_or(""),
                if listen { ",server,nowait" } else { "" }
            )
        }
        ChrType::Unix => format!("unix:{path}{}", if listen { ",server,nowait" } else { "" }),
        other => {
            return Err(unsupported(format!(
                "unsupported chardev '{}'",
                other.as_str()
            )))
        }
    })
}

/// The build info (`libxlMakeDomBuildInfo`), without the display and video parts.
fn build_info(domain: &Domain, kind: GuestKind, facts: &XenHostFacts) -> Result<(Object, Object)> {
    let mut b_info = Object::default();
    let mut hvm = Object::default();
    let max_vcpus = domain.max_vcpus();
    b_info.set("max_vcpus", json!(max_vcpus));
    b_info.set("avail_vcpus", bitmap_json(0..domain.current_vcpus()));
    if let Some(affinity) = vcpu_affinities(domain, max_vcpus, facts)? {
        b_info.set("vcpu_hard_affinity", affinity);
        b_info.set("numa_placement", defbool(false));
    }

    let clock = domain.clock.clone().unwrap_or_default();
    match clock.offset.unwrap_or(ClockOffset::Utc) {
        ClockOffset::Variable => {
            if clock.basis == Some(ClockBasis::Localtime) {
                b_info.set("localtime", defbool(true));
            }
            let adjustment = clock
                .adjustment
                .as_deref()
                .and_then(|text| text.parse::<i64>().ok())
                .unwrap_or(0);
            b_info.number("rtc_timeoffset", adjustment);
        }
        ClockOffset::Localtime => {
            b_info.set("localtime", defbool(true));
        }
        ClockOffset::Utc => {}
        ClockOffset::Timezone => {
            return Err(unsupported("unsupported clock offset 'timezone'"));
        }
        ClockOffset::Absolute => {
            return Err(unsupported("unexpected clock offset '4'"));
        }
    }
    for timer in &clock.timers {
        match timer.name {
            Some(TimerName::Tsc) => {
                let mode = match timer.mode {
                    Some(TimerMode::Native) => Some("native"),
                    Some(TimerMode::Paravirt) => Some("native_paravirt"),
                    Some(TimerMode::Emulate) => Some("always_emulate"),
                    // libxl's default, left out.
                    _ => None,
                };
                b_info.string("tsc_mode", mode);
            }
            Some(TimerName::Hpet) if kind != GuestKind::Hvm => {
                return Err(unsupported("unsupported timer type (name) 'hpet'"));
            }
            Some(TimerName::Hpet) if timer.present == Some(YesNo::Yes) => {
                hvm.set("hpet", defbool(true));
            }
            Some(TimerName::Hpet) => {}
            Some(name) => {
                return Err(unsupported(format!(
                    "unsupported timer type (name) '{}'",
                    name.as_str()
                )))
            }
            None => {}
        }
    }

    let sched = b_info.object("sched_params");
    if let Some(shares) = domain.cputune.as_ref().and_then(|tune| tune.shares) {
        sched.insert("weight".to_string(), json!(shares));
    }

    // Xen sizes memory in whole MiB.
    let max_memkb = domain.memory_kib().div_ceil(1024) * 1024;
    let target_memkb = domain.current_memory_kib().div_ceil(1024) * 1024;
    b_info.set("max_memkb", json!(max_memkb));
    b_info.set("target_memkb", json!(target_memkb));

    for controller in &domain.devices.controllers {
        if controller.controller_type != Some(ControllerType::Xenbus) {
            continue;
        }
        if let Some(channels) = controller.max_event_channels.filter(|n| *n > 0) {
            b_info.set("event_channels", json!(channels));
        }
        if facts.grant_limits {
            if let Some(frames) = controller.max_grant_frames.filter(|n| *n > 0) {
                b_info.set("max_grant_frames", json!(frames));
            }
        }
    }

    if kind != GuestKind::Pv {
        cpu_settings(domain, kind, facts, &mut b_info, &mut hvm)?;
    }

    let os = domain.os.clone().unwrap_or_default();
    match kind {
        GuestKind::Hvm => {
            let features = domain.features.clone().unwrap_or_default();
            hvm.set("pae", defbool(features.pae));
            b_info.set("apic", defbool(features.apic.is_some()));
            b_info.set("acpi", defbool(features.acpi));
            let slic = os
                .acpi
                .iter()
                .flat_map(|acpi| &acpi.tables)
                .find_map(|table| table.path.as_deref());
            hvm.string("acpi_firmware", slic);
            if let Some(sound) = domain.devices.sounds.first() {
                let model = match sound.model {
                    Some(SoundModel::Ich6) => "hda",
                    Some(model) => model.as_str(),
                    None => "",
                };
                hvm.string("soundhw", Some(model));
            }
            let mut boot: String = os
                .boot
                .iter()
                .take(4)
                .map(|boot| match boot.dev {
                    Some(virt_xml::domain::BootDevice::Fd) => 'a',
                    Some(virt_xml::domain::BootDevice::Cdrom) => 'd',
                    Some(virt_xml::domain::BootDevice::Network) => 'n',
                    _ => 'c',
                })
                .collect();
            if boot.is_empty() {
                boot.push('c');
            }
            hvm.set("boot", json!(boot));
            b_info.string("cmdline", os.cmdline.as_deref());
            b_info.string("kernel", os.kernel.as_deref());
            b_info.string("ramdisk", os.initrd.as_deref());
            let efi = os.firmware == Some(virt_xml::domain::Firmware::Efi);
            let pflash = os.loader.as_ref().and_then(|loader| loader.loader_type)
                == Some(virt_xml::domain::LoaderType::Pflash);
            if efi || pflash {
                hvm.set("bios", json!("ovmf"));
            }
            if let Some(emulator) = &domain.devices.emulator {
                b_info.set("device_model", json!(emulator));
                b_info.set(
                    "device_model_version",
                    json!(facts.device_model.libxl_name()),
                );
            }
            match domain.devices.serials.as_slice() {
                [] => {}
                [serial] => {
                    hvm.set("serial", json!(chrdev_string(serial)?));
                }
                serials => {
                    let list: Result<Vec<Value>> = serials
                        .iter()
                        .map(|serial| chrdev_string(serial).map(Value::String))
                        .collect();
                    hvm.set("serial_list", Value::Array(list?));
                }
            }
            if !domain.devices.parallels.is_empty() {
                return Err(unsupported("Parallel devices are not supported by libxl"));
            }
            hvm.object("vnc")
                .insert("enable".to_string(), defbool(false));
            hvm.object("sdl")
                .insert("enable".to_string(), defbool(false));
            let mut usb_devices = Vec::new();
            for input in &domain.devices.inputs {
                if input.bus != Some(InputBus::Usb) {
                    continue;
                }
                usb_devices.push(match input.input_type {
                    Some(InputType::Mouse) => json!("mouse"),
                    Some(InputType::Tablet) => json!("tablet"),
                    _ => return Err(unsupported("Unknown input device type")),
                });
            }
            if !usb_devices.is_empty() {
                hvm.set("usbdevice_list", Value::Array(usb_devices));
            }
        }
        GuestKind::Pvh => {
            b_info.string("cmdline", os.cmdline.as_deref());
            b_info.string("kernel", os.kernel.as_deref());
            b_info.string("ramdisk", os.initrd.as_deref());
            b_info.string("bootloader", domain.bootloader.as_deref());
            if let Some(args) = &domain.bootloader_args {
                b_info.set("bootloader_args", json!(split_bootloader_args(args)));
            }
        }
        GuestKind::Pv => {
            let bootloader = match (&domain.bootloader, &os.kernel) {
                (Some(bootloader), _) => Some(bootloader.clone()),
                (None, None) => Some(facts.pv_bootloader.clone()),
                (None, Some(_)) => None,
            };
            hvm.string("bootloader", bootloader.as_deref());
            if let Some(args) = &domain.bootloader_args {
                hvm.set("bootloader_args", json!(split_bootloader_args(args)));
            }
            hvm.string("cmdline", os.cmdline.as_deref());
            hvm.string("kernel", os.kernel.as_deref());
            hvm.string("ramdisk", os.initrd.as_deref());
            if let Some(e820) = xen_on(domain).and_then(|xen| xen.e820_host.as_ref()) {
                hvm.set("e820_host", defbool(e820.state != Some(OnOff::Off)));
            }
        }
    }

    match domain
        .devices
        .memballoon
        .as_ref()
        .and_then(|balloon| balloon.model)
    {
        None | Some(MemballoonModel::Xen) => {}
        Some(MemballoonModel::None) => {
            return Err(unsupported("balloon device cannot be disabled"));
        }
        Some(model) => {
            return Err(unsupported(format!(
                "unsupported balloon device model '{}'",
                model.as_str()
            )))
        }
    }

    let shadow = facts
        .shadow_memkb
        .unwrap_or_else(|| 4 * (256 * u64::from(max_vcpus) + 2 * (max_memkb / 1024)));
    b_info.set("shadow_memkb", json!(shadow));
    if let Some(xen) = domain.xen.as_ref().filter(|xen| !xen.args.is_empty()) {
        b_info.set("extra", json!(xen.args));
    }
    Ok((b_info, hvm))
}

/// libvirt splits boot loader arguments on the three-character sequence " \t\n" (its
/// `g_strsplit` delimiter), which in practice leaves them whole.
fn split_bootloader_args(args: &str) -> Vec<String> {
    args.split(" \t\n").map(str::to_string).collect()
}

/// Guest NUMA nodes; all on host node 0 when the host has fewer nodes than the guest.
fn vnuma_nodes(domain: &Domain, facts: &XenHostFacts) -> Result<Option<Value>> {
    let Some(cells) = domain
        .cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .map(|numa| &numa.cells)
        .filter(|cells| !cells.is_empty())
    else {
        return Ok(None);
    };
    let simulate = cells.len() > facts.numa_nodes as usize;
    let distances = crate::numa::distance_matrix(domain);
    let mut nodes = Vec::new();
    for (idx, cell) in cells.iter().enumerate() {
        let cpus = cell.cpus.as_deref().ok_or_else(|| {
            libxl_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("vnuma sibling {idx} missing vcpus set"),
            )
        })?;
        let mut node = Object::default();
        node.set("memkb", json!(cell.memory.unwrap_or(0)));
        node.set("distances", json!(distances[idx]));
        node.number("pnode", if simulate { 0 } else { idx as i64 });
        node.set("vcpus", bitmap_json(parse_bitmap(cpus, 16384)?));
        nodes.push(node.into_value());
    }
    Ok(Some(Value::Array(nodes)))
}

/// A disk (`libxlMakeDisk`).
fn make_disk(disk: &Disk) -> Result<Value> {
    let mut x_disk = Object::default();
    let driver = disk.driver.as_ref().and_then(|d| d.name.as_deref());
    let format = disk.driver.as_ref().and_then(|d| d.format);
    let network = disk.actual_type() == StorageType::Network;
    let pdev_path = if network {
        if driver != Some("qemu") {
            return Err(libxl_error(
                ErrorNumber::OPERATION_INVALID,
                "only the 'qemu' driver can be used with network disks",
            ));
        }
        let source = disk.source.clone().unwrap_or_default();
        if source.protocol != Some(virt_xml::domain::NetProtocol::Rbd) {
            return Err(libxl_error(
                ErrorNumber::NO_SUPPORT,
                format!(
                    "Unsupported network block protocol '{}'",
                    source.protocol.map_or("none", |p| p.as_str())
                ),
            ));
        }
        if source.auth.is_some() {
            // The key comes from libvirt's secret driver, which the driver asks.
            return Err(libxl_error(
                ErrorNumber::NO_SUPPORT,
                "virSecretGetSecretString",
            ));
        }
        Some(crate::rbd::format_rbd(
            &source,
            crate::rbd::Escaping::Libxl,
            None,
        )?)
    } else {
        // An empty path is no source, as libvirt reads it.
        disk.source_path()
            .filter(|path| !path.is_empty())
            .map(str::to_string)
    };
    x_disk.string("pdev_path", pdev_path.as_deref());
    x_disk.string("vdev", disk.target_dev());
    let format_name = |format: Option<StorageFormat>| format.map_or("none", |f| f.as_str());
    let bad_format = |driver: &str| {
        libxl_error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "libxenlight does not support disk format {} with disk driver {driver}",
                format_name(format)
            ),
        )
    };
    let (mut xl_format, backend) = match driver {
        Some(name @ ("tap" | "tap2")) => match format {
            Some(StorageFormat::Qcow) => ("qcow", Some("qdisk")),
            Some(StorageFormat::Qcow2) => ("qcow2", Some("qdisk")),
            Some(StorageFormat::Vhd) => ("vhd", Some("tap")),
            Some(StorageFormat::Raw) => ("raw", Some("tap")),
            Some(StorageFormat::Qed) => ("qed", Some("qdisk")),
            _ => return Err(bad_format(name)),
        },
        Some("qemu") => match format {
            Some(StorageFormat::Qcow) => ("qcow", Some("qdisk")),
            Some(StorageFormat::Qcow2) => ("qcow2", Some("qdisk")),
            Some(StorageFormat::Qed) => ("qed", Some("qdisk")),
            Some(StorageFormat::Vhd) => ("vhd", Some("qdisk")),
            Some(StorageFormat::Raw) => ("raw", Some("qdisk")),
            _ => return Err(bad_format("qemu")),
        },
        Some("file") if format == Some(StorageFormat::Raw) => ("raw", Some("qdisk")),
        Some("phy") if format == Some(StorageFormat::Raw) => ("raw", Some("phy")),
        Some(name @ ("file" | "phy")) => return Err(bad_format(name)),
        Some(other) => {
            return Err(libxl_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("libxenlight does not support disk driver {other}"),
            ))
        }
        // xl's default format; libxl picks the backend.
        None => ("raw", None),
    };
    let is_cdrom = disk.device == Some(DiskDevice::Cdrom);
    if is_cdrom && pdev_path.is_none() {
        xl_format = "empty";
    }
    x_disk.string("backend", backend);
    x_disk.set("format", json!(xl_format));
    x_disk.set("removable", json!(1));
    let readwrite = !disk.readonly;
    if readwrite {
        x_disk.set("readwrite", json!(1));
    }
    if is_cdrom {
        x_disk.set("is_cdrom", json!(1));
    }
    if readwrite {
        match disk.driver.as_ref().and_then(|d| d.discard) {
            Some(DiskDiscard::Unmap) => {
                x_disk.set("discard_enable", defbool(true));
            }
            Some(DiskDiscard::Ignore) => {
                x_disk.set("discard_enable", defbool(false));
            }
            None => {}
        }
    }
    if disk.transient.is_some() {
        return Err(libxl_error(
            ErrorNumber::INTERNAL_ERROR,
            "libxenlight does not support transient disks",
        ));
    }
    x_disk.string(
        "backend_domname",
        disk.backend_domain.as_ref().and_then(|b| b.name.as_deref()),
    );
    Ok(x_disk.into_value())
}

/// The network interfaces that are not host devices (`libxlMakeNicList`).
fn make_nics(domain: &Domain, kind: GuestKind) -> Result<Vec<Value>> {
    let mut nics = Vec::new();
    for iface in &domain.devices.interfaces {
        let iface_type = iface.interface_type;
        if iface_type == Some(InterfaceType::Hostdev) {
            continue;
        }
        let mut nic = Object::default();
        let script = iface.script.as_ref().and_then(|s| s.path.as_deref());
        let bridge_or_ethernet = matches!(
            iface_type,
            Some(InterfaceType::Bridge | InterfaceType::Ethernet)
        );
        if script.is_some() && !bridge_or_ethernet {
            return Err(unsupported(
                "specifying a script is only supported with interface types bridge and ethernet",
            ));
        }
        nic.set("devid", json!(nics.len()));
        match iface.model_type() {
            Some(model) => {
                if kind != GuestKind::Hvm && model != "netfront" {
                    return Err(unsupported(
                        "only model 'netfront' is supported for Xen PV(H) domains",
                    ));
                }
                nic.set("model", json!(model));
                nic.set(
                    "nictype",
                    json!(if model == "netfront" {
                        "vif"
                    } else {
                        "vif_ioemu"
                    }),
                );
            }
            None => {
                nic.set(
                    "nictype",
                    json!(if kind == GuestKind::Hvm {
                        "vif_ioemu"
                    } else {
                        "vif"
                    }),
                );
            }
        }
        nic.string("mac", iface.mac_address());
        nic.string(
            "ifname",
            iface
                .target
                .as_ref()
                .and_then(|target| target.dev.as_deref()),
        );
        let ips: Vec<&str> = iface
            .ips
            .iter()
            .filter_map(|ip| ip.address.as_deref())
            .collect();
        let ip = (!ips.is_empty()).then(|| ips.join(" "));
        match iface_type {
            Some(InterfaceType::Bridge) => {
                let (bridge, ovs) = crate::from_domain::bridge_with_vlans(iface);
                nic.set("bridge", json!(bridge));
                let script = script.or(ovs.then_some("vif-openvswitch"));
                nic.string("script", script);
                nic.string("ip", ip.as_deref());
            }
            Some(InterfaceType::Ethernet) => {
                nic.string("script", script);
                nic.string("ip", ip.as_deref());
            }
            Some(InterfaceType::Network) => {
                // The bridge of a virtual network comes from libvirt's network driver.
                return Err(libxl_error(
                    ErrorNumber::NO_SUPPORT,
                    "virNetworkLookupByName",
                ));
            }
            other => {
                return Err(unsupported(format!(
                    "unsupported interface type {}",
                    other.map_or("", |kind| kind.as_str())
                )))
            }
        }
        nic.string(
            "backend_domname",
            iface
                .backend_domain
                .as_ref()
                .and_then(|b| b.name.as_deref()),
        );
        let average = iface
            .bandwidth
            .as_ref()
            .and_then(|bandwidth| bandwidth.outbound.as_ref())
            .and_then(|rate| rate.average)
            .unwrap_or(0);
        if average != 0 {
            let bytes_per_sec = average * 1024;
            nic.set(
                "rate_bytes_per_interval",
                json!(bytes_per_sec * 50_000 / 1_000_000),
            );
            nic.set("rate_interval_usecs", json!(50_000));
        }
        nics.push(nic.into_value());
    }
    Ok(nics)
}

/// The port a display is given: its own, or the next one of the driver's range.
fn display_port(graphics: &Graphics, autoport: bool, next_port: &mut i64) -> i64 {
    if autoport {
        let port = *next_port;
        *next_port += 1;
        port
    } else {
        i64::from(graphics.port.unwrap_or(0))
    }
}

fn vnc_autoport(graphics: &Graphics) -> bool {
    match graphics.autoport {
        Some(autoport) => autoport.is_yes(),
        None => graphics.port.is_none_or(|port| port == -1),
    }
}

fn first_listen(graphics: &Graphics) -> Option<&str> {
    graphics
        .listens
        .first()
        .and_then(|listen| listen.address.as_deref())
}

/// Displays as libxl's virtual framebuffers (`libxlMakeVfbList`), each with a keyboard.
fn make_vfbs(domain: &Domain, next_port: &mut i64) -> (Vec<Value>, Vec<Value>) {
    let mut vfbs = Vec::new();
    let mut vkbs = Vec::new();
    for graphics in &domain.devices.graphics {
        vkbs.push(json!({"devid": -1}));
        let mut vfb = Object::default();
        vfb.set("devid", json!(-1));
        match graphics.graphics_type {
            Some(GraphicsType::Sdl) => {
                let mut sdl = Object::default();
                sdl.set("enable", defbool(true));
                sdl.set("opengl", defbool(false));
                sdl.string("display", graphics.display.as_deref());
                sdl.string("xauthority", graphics.xauth.as_deref());
                vfb.set("sdl", sdl.into_value());
                vfb.set("vnc", json!({"enable": "False"}));
            }
            Some(GraphicsType::Vnc) => {
                let port = display_port(graphics, vnc_autoport(graphics), next_port);
                let mut vnc = Object::default();
                vnc.set("enable", defbool(true));
                vnc.string("listen", first_listen(graphics));
                vnc.string("passwd", graphics.passwd.as_deref());
                vnc.number("display", port - VNC_PORT_MIN);
                vnc.set("findunused", defbool(false));
                vfb.set("vnc", vnc.into_value());
                vfb.set("sdl", json!({"enable": "False"}));
                vfb.string("keymap", graphics.keymap.as_deref());
            }
            _ => {
                vfb.set("vnc", json!({}));
                vfb.set("sdl", json!({}));
            }
        }
        vfbs.push(vfb.into_value());
    }
    (vfbs, vkbs)
}

/// The primary display of an HVM guest in its build info (`libxlMakeBuildInfoVfb`):
/// SPICE when there is one, else the first framebuffer.
fn hvm_display(domain: &Domain, vfbs: &[Value], hvm: &mut Object, next_port: &mut i64) {
    let graphics = &domain.devices.graphics;
    if graphics.is_empty() {
        return;
    }
    if let Some(spice) = graphics
        .iter()
        .find(|g| g.graphics_type == Some(GraphicsType::Spice))
    {
        let autoport = spice.autoport.is_some_and(YesNo::is_yes);
        let port = display_port(spice, autoport, next_port);
        let mut object = Object::default();
        object.set("enable", defbool(true));
        object.number("port", port);
        if !spice.listens.is_empty() {
            object.string("host", Some(first_listen(spice).unwrap_or("127.0.0.1")));
        }
        match &spice.passwd {
            Some(passwd) => {
                object.string("passwd", Some(passwd));
                object.set("disable_ticketing", defbool(false));
            }
            None => {
                object.set("disable_ticketing", defbool(true));
            }
        }
        let mouse = spice.mouse.as_ref().and_then(|m| m.mode);
        object.set("agent_mouse", defbool(mouse != Some(MouseMode::Server)));
        let copypaste = spice.clipboard.as_ref().and_then(|c| c.copypaste) == Some(YesNo::Yes);
        object.set("vdagent", defbool(copypaste));
        object.set("clipboard_sharing", defbool(copypaste));
        hvm.set("spice", object.into_value());
        hvm.string("keymap", spice.keymap.as_deref());
        return;
    }
    let Some(Value::Object(vfb)) = vfbs.first() else {
        return;
    };
    let enabled = |part: &str| {
        vfb.get(part).and_then(|p| p.get("enable")) == Some(&Value::String("True".into()))
    };
    if enabled("vnc") {
        if let Some(vnc) = vfb.get("vnc") {
            hvm.set("vnc", vnc.clone());
        }
    } else if enabled("sdl") {
        if let Some(sdl) = vfb.get("sdl") {
            hvm.set("sdl", sdl.clone());
        }
    }
    if let Some(keymap) = vfb.get("keymap") {
        hvm.set("keymap", keymap.clone());
    }
}

fn pci_device(address: &virt_xml::domain::PciAddress, permissive: bool) -> Value {
    let mut pci = Object::default();
    pci.number("func", i64::from(address.function));
    pci.number("dev", i64::from(address.slot));
    pci.number("bus", i64::from(address.bus));
    pci.number("domain", i64::from(address.domain));
    if permissive {
        pci.set("permissive", json!(true));
    }
    pci.set("rdm_policy", json!("invalid"));
    pci.into_value()
}

/// PCI host devices: those of `type='hostdev'` interfaces first (libvirt keeps them in the
/// domain's host device list, ahead of the `<hostdev>` elements), then the others.
fn make_pcidevs(domain: &Domain) -> Vec<Value> {
    let pci_of = |hostdev_type: Option<&str>,
                  source: Option<&virt_xml::domain::devices::HostdevSource>| {
        if hostdev_type != Some("pci") {
            return None;
        }
        let source = source?;
        let permissive = source.write_filtering == Some(YesNo::No);
        match source.address.as_ref()? {
            HostdevSourceAddress::Pci { address, .. } => Some(pci_device(address, permissive)),
            _ => None,
        }
    };
    let mut devices = Vec::new();
    for iface in &domain.devices.interfaces {
        if iface.interface_type != Some(InterfaceType::Hostdev) {
            continue;
        }
        let Some(source) = &iface.source else {
            continue;
        };
        if let Some(virt_xml::domain::Address::Pci(address)) = &source.hostdev_address {
            let permissive = source.write_filtering == Some(YesNo::No);
            devices.push(pci_device(address, permissive));
        }
    }
    for hostdev in &domain.devices.hostdevs {
        if let Some(device) = pci_of(hostdev.hostdev_type.as_deref(), hostdev.source.as_ref()) {
            devices.push(device);
        }
    }
    devices
}

fn usb_controller(devid: u32, model: Option<&str>, ports: Option<i32>) -> Result<Value> {
    let version = match model {
        None | Some("qusb2") => 2,
        Some("qusb1") => 1,
        Some(_) => return Err(unsupported("unsupported usb model")),
    };
    let ports = ports.filter(|ports| *ports != -1).unwrap_or(8);
    Ok(json!({"type": "qusb", "devid": devid, "version": version, "ports": ports}))
}

fn usb_hostdevs(domain: &Domain) -> Vec<&Hostdev> {
    domain
        .devices
        .hostdevs
        .iter()
        .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("usb"))
        .collect()
}

/// USB controllers, or enough 8-port ones for the USB host devices when none is defined.
fn make_usbctrls(domain: &Domain) -> Result<Vec<Value>> {
    let controllers: Vec<_> = domain
        .devices
        .controllers
        .iter()
        .filter(|c| c.controller_type == Some(ControllerType::Usb))
        .collect();
    if controllers.is_empty() {
        let needed = usb_hostdevs(domain).len().div_ceil(8);
        return (0..needed)
            .map(|idx| usb_controller(idx as u32, Some("qusb2"), Some(8)))
            .collect();
    }
    controllers
        .into_iter()
        .map(|c| usb_controller(c.index.unwrap_or(0), c.model.as_deref(), c.ports))
        .collect()
}

fn make_usbdevs(domain: &Domain) -> Result<Vec<Value>> {
    let mut devices = Vec::new();
    for hostdev in usb_hostdevs(domain) {
        let address = hostdev.source.as_ref().and_then(|s| s.address.as_ref());
        match address {
            Some(HostdevSourceAddress::Usb { bus, device, .. }) if *bus > 0 && *device > 0 => {
                devices.push(json!({"type.hostdev": {"hostbus": bus, "hostaddr": device}}));
            }
            _ => {
                // Finding the device by vendor and product needs the host's USB devices.
                return Err(libxl_error(
                    ErrorNumber::OPERATION_FAILED,
                    "failed to find USB device busnum:devnum for the host device",
                ));
            }
        }
    }
    Ok(devices)
}

fn make_channels(domain: &Domain, facts: &XenHostFacts) -> Result<Vec<Value>> {
    let mut channels = Vec::new();
    for channel in &domain.devices.channels {
        if channel.target_type() != Some("xen") {
            return Err(unsupported("channel target type not supported"));
        }
        let name = channel.target.as_ref().and_then(|t| t.name.as_deref());
        let mut object = Object::default();
        object.set("devid", json!(-1));
        match channel.chr_type {
            Some(ChrType::Pty) => {
                object.set("connection.pty", json!({}));
            }
            Some(ChrType::Unix) => {
                let path = match channel.source().and_then(|s| s.path.clone()) {
                    Some(path) => path,
                    None => format!(
                        "{}/{}-{}",
                        facts.channel_dir,
                        domain.name(),
                        name.unwrap_or("unknown.sock")
                    ),
                };
                object.set("connection.socket", json!({ "path": path }));
            }
            _ => return Err(unsupported("channel source type not supported")),
        }
        let name = name.ok_or_else(|| {
            libxl_error(
                ErrorNumber::OPERATION_INVALID,
                "channel target name missing",
            )
        })?;
        object.string("name", Some(name));
        channels.push(object.into_value());
    }
    Ok(channels)
}

/// The video card of an HVM guest (`libxlMakeVideo`).
fn make_video(
    domain: &Domain,
    facts: &XenHostFacts,
    b_info: &mut Object,
    hvm: &mut Object,
) -> Result<()> {
    let Some(video) = domain.devices.videos.first() else {
        hvm.set("nographic", defbool(true));
        hvm.set("vga", json!({"kind": "none"}));
        return Ok(());
    };
    let model = video.model.as_ref();
    let vram = model.and_then(|m| m.vram).unwrap_or(0);
    let traditional = facts.device_model == DeviceModelVersion::QemuXenTraditional;
    let (kind, minimum, what) = match model.and_then(|m| m.model_type) {
        Some(VideoModel::Vga | VideoModel::Xen) => ("std", if traditional { 8 } else { 16 }, "VGA"),
        Some(VideoModel::Cirrus) => ("cirrus", if traditional { 4 } else { 8 }, "CIRRUS"),
        Some(VideoModel::Qxl) => ("qxl", 128, "QXL"),
        other => {
            return Err(unsupported(format!(
                "video type {} is not supported by libxl",
                other.map_or("default", |model| model.as_str())
            )))
        }
    };
    if vram < minimum * 1024 {
        return Err(unsupported(format!(
            "videoram must be at least {minimum}MB for {what}"
        )));
    }
    hvm.set("vga", json!({ "kind": kind }));
    b_info.set("video_memkb", json!(vram));
    Ok(())
}

/// The `libxl_domain_config` for a domain, as libxl writes it in JSON.
pub fn domain_to_libxl_json(domain: &Domain, facts: &XenHostFacts) -> Result<Value> {
    let mut domain = domain.clone();
    let kind = postparse::post_parse(&mut domain, facts)?;
    let domain = &domain;
    let mut config = Object::default();
    config.set("c_info", create_info(domain, kind, facts));
    let (mut b_info, mut hvm) = build_info(domain, kind, facts)?;
    if let Some(nodes) = vnuma_nodes(domain, facts)? {
        b_info.set("vnuma_nodes", nodes);
    }
    let disks: Result<Vec<Value>> = domain.devices.disks.iter().map(make_disk).collect();
    let disks = disks?;
    let nics = make_nics(domain, kind)?;
    let mut next_port = i64::from(facts.graphics_port);
    let (vfbs, vkbs) = make_vfbs(domain, &mut next_port);
    if kind == GuestKind::Hvm {
        hvm_display(domain, &vfbs, &mut hvm, &mut next_port);
        hvm.object("spice");
        hvm.object("rdm");
    }
    let pcidevs = make_pcidevs(domain);
    let usbctrls = make_usbctrls(domain)?;
    let usbdevs = make_usbdevs(domain)?;
    let channels = make_channels(domain, facts)?;
    if kind == GuestKind::Hvm {
        make_video(domain, facts, &mut b_info, &mut hvm)?;
    }
    let union_name = match kind {
        GuestKind::Hvm => "type.hvm",
        GuestKind::Pv => "type.pv",
        GuestKind::Pvh => "type.pvh",
    };
    b_info.set(union_name, hvm.into_value());
    b_info.object("arch_arm");
    config.set("b_info", b_info.into_value());
    for (key, list) in [
        ("disks", disks),
        ("nics", nics),
        ("pcidevs", pcidevs),
        ("vfbs", vfbs),
        ("vkbs", vkbs),
        ("usbctrls", usbctrls),
        ("usbdevs", usbdevs),
        ("channels", channels),
    ] {
        if !list.is_empty() {
            config.set(key, Value::Array(list));
        }
    }
    for (key, action) in [
        ("on_poweroff", domain.on_poweroff),
        ("on_reboot", domain.on_reboot),
        ("on_crash", domain.on_crash),
    ] {
        if let Some(name) = action.and_then(lifecycle_name) {
            config.set(key, json!(name));
        }
    }
    Ok(config.into_value())
}
