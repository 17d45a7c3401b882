//! VMX → domain: the definition libvirt's `virVMXParseConfig` builds from a VMX file,
//! entry by entry, with the defaults libvirt's generic post-parse adds for a VMware guest
//! (implicit disk controllers, the console of the first serial port, the primary video).
//!
//! Paths in the file go through [`VmxContext::parse_file_name`]; nothing is read from disk.

use std::collections::BTreeSet;

use virt_core::Uuid;
use virt_xml::domain::{
    cpu::CpuTopology,
    devices::{DirTarget, FilesystemSource, Video, VideoModelElement},
    general::{OsSmbios, OsTypeElement},
    interface::{InterfaceTarget, TypeAttr},
    SmbiosMode,
};
use virt_xml::domain::{
    Address, ChrDevice, ChrSource, ChrTarget, ChrType, Clock, ClockOffset, Controller,
    ControllerType, Cpu, CpuPlacement, Cputune, Devices, DiskBus, Domain, Filesystem,
    FilesystemType, Firmware, Graphics, GraphicsListen, GraphicsListenType, GraphicsType,
    Interface, InterfaceSource, InterfaceType, LifecycleAction, Mac, Memtune, Os, OsType,
    ScaledKib, Vcpu, VideoModel, VirtType,
};
use virt_xml::xml::YesNo;

use crate::address::{SCSI_SUPER_WIDE_BUS_MAX_UNIT, SCSI_WIDE_BUS_MAX_UNIT};
use crate::context::{ScsiControllerModel, VmxContext};
use crate::vmx::{
    internal_error, missing_entry, parse_leading_integer, parse_uuid, parse_whole_u64,
    unescape_hex, unsupported, VmxFile,
};
use crate::Result;

mod disks;

/// The highest CPU number a `sched.cpu.affinity` list may name, plus one.
const CPUMASK_LEN: u32 = 16384;

/// The domain a VMX file describes, as libvirt reads it.
pub fn vmx_to_domain(ctx: &dyn VmxContext, vmx: &str) -> Result<Domain> {
    let file = VmxFile::parse(vmx)?;
    let ethernet_indexes = ethernet_indexes(&file)?;
    let config_version = file.long("config.version", 0, true)?;
    if config_version != 8 {
        return Err(internal_error(format!(
            "Expecting VMX entry 'config.version' to be 8 but found {config_version}"
        )));
    }
    let hardware_version = file.long("virtualHW.version", 0, true)?;
    if hardware_version < 4 {
        return Err(internal_error(format!(
            "Expecting VMX entry 'virtualHW.version' to be 4 or higher but found {hardware_version}"
        )));
    }
    let reader = Reader {
        file: &file,
        ctx,
        scsi_bus_max_unit: if hardware_version >= 13 {
            SCSI_SUPER_WIDE_BUS_MAX_UNIT
        } else {
            SCSI_WIDE_BUS_MAX_UNIT
        },
    };
    let mut domain = Domain {
        virt_type: Some(VirtType::Vmware),
        ..Domain::default()
    };
    reader.read_identity(&mut domain)?;
    reader.read_memory(&mut domain)?;
    let n_vcpus = reader.read_vcpus(&mut domain)?;
    reader.read_cputune(&mut domain, n_vcpus)?;
    domain.on_reboot = Some(LifecycleAction::Restart);
    domain.on_poweroff = Some(LifecycleAction::Destroy);
    domain.on_crash = Some(LifecycleAction::Destroy);
    reader.read_os(&mut domain)?;
    domain.clock = Some(Clock {
        offset: Some(ClockOffset::Utc),
        ..Clock::default()
    });

    let devices = &mut domain.devices;
    devices.graphics.extend(reader.read_vnc()?);
    reader.read_disks(devices)?;
    reader.read_filesystems(devices)?;
    // libvirt tries every index up to the highest; only those with entries can be there.
    for index in ethernet_indexes {
        devices.interfaces.extend(reader.read_ethernet(index)?);
    }
    devices.videos.push(reader.read_svga()?);
    for port in 0..4 {
        devices.serials.extend(reader.read_serial(port)?);
    }
    for port in 0..3 {
        devices.parallels.extend(reader.read_parallel(port)?);
    }
    if let Some(firmware) = file.string("firmware", false)? {
        if firmware != "efi" {
            return Err(internal_error(format!(
                "VMX entry 'firmware' has unknown value '{firmware}'"
            )));
        }
        if let Some(os) = domain.os.as_mut() {
            os.firmware = Some(Firmware::Efi);
        }
    }
    add_implicit_devices(&mut domain);
    let vmware = virt_xml::domain::VmwareNamespace {
        datacenter_path: ctx.datacenter_path().map(str::to_string),
        moref: ctx.moref().map(str::to_string),
    };
    if !vmware.is_empty() {
        domain.vmware = Some(vmware);
    }
    Ok(domain)
}

/// The N of every `ethernetN.*` entry, ascending; a malformed N is an error.
fn ethernet_indexes(file: &VmxFile) -> Result<BTreeSet<u32>> {
    let mut indexes = BTreeSet::new();
    for (name, _) in file.entries() {
        let Some(suffix) = strip_prefix_ignore_case(name, "ethernet") else {
            continue;
        };
        match parse_leading_integer(suffix) {
            Some((index, rest))
                if rest.starts_with('.') && (0..=i32::MAX as i128).contains(&index) =>
            {
                indexes.insert(index as u32);
            }
            _ => {
                return Err(internal_error(format!(
                    "failed to parse the index of the VMX key '{name}'"
                )))
            }
        }
    }
    Ok(indexes)
}

/// The N below `limit` of the `PREFIXN.*` entries, ascending; other names are skipped.
fn numbered_indexes(file: &VmxFile, prefix: &str, limit: i64) -> BTreeSet<i64> {
    file.entries()
        .filter_map(|(name, _)| strip_prefix_ignore_case(name, prefix))
        .filter_map(|suffix| {
            let n_digits = suffix.bytes().take_while(u8::is_ascii_digit).count();
            let index: i64 = suffix[..n_digits].parse().ok()?;
            suffix[n_digits..].starts_with('.').then_some(index)
        })
        .filter(|index| *index < limit)
        .collect()
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// What libvirt's generic post-parse adds to a VMware guest read from VMX: a console for
/// the first serial port, the disk controllers the disks' addresses name, and the first
/// video as the primary one with its memory a power of two.
fn add_implicit_devices(domain: &mut Domain) {
    let devices = &mut domain.devices;
    if let Some(serial) = devices.serials.first() {
        let mut console = serial.clone();
        console.target = Some(ChrTarget {
            target_type: Some("serial".to_string()),
            port: serial.target_port(),
            ..ChrTarget::default()
        });
        devices.consoles.push(console);
    }
    for (controller_type, bus) in [
        (ControllerType::Scsi, DiskBus::Scsi),
        (ControllerType::Fdc, DiskBus::Fdc),
        (ControllerType::Ide, DiskBus::Ide),
        (ControllerType::Sata, DiskBus::Sata),
    ] {
        let highest = devices
            .disks
            .iter()
            .filter(|disk| disk.target_bus() == Some(bus))
            .filter_map(|disk| match disk.info.address {
                Some(Address::Drive { controller, .. }) => Some(controller),
                _ => None,
            })
            .max();
        for index in highest.map_or(0..0, |highest| 0..highest + 1) {
            add_controller(devices, controller_type, index, None);
        }
    }
    for (position, video) in devices.videos.iter_mut().enumerate() {
        if let Some(model) = video.model.as_mut() {
            if position == 0 {
                model.primary = Some(YesNo::Yes);
            }
            // A power of two, 0 when there is none in range (as libvirt's macro gives).
            model.vram = model
                .vram
                .map(|vram| vram.checked_next_power_of_two().unwrap_or(0));
        }
    }
}

/// Appends a controller unless one of that type and index is there already.
fn add_controller(
    devices: &mut Devices,
    controller_type: ControllerType,
    index: u32,
    model: Option<ScsiControllerModel>,
) {
    let present = devices.controllers.iter().any(|controller| {
        controller.controller_type == Some(controller_type) && controller.index == Some(index)
    });
    if !present {
        devices.controllers.push(Controller {
            controller_type: Some(controller_type),
            index: Some(index),
            model: model.map(|model| model.xml_name().to_string()),
            ..Controller::default()
        });
    }
}

struct Reader<'a> {
    file: &'a VmxFile,
    ctx: &'a dyn VmxContext,
    /// Units on a SCSI bus: 16 before hardware version 13, 64 from then on.
    scsi_bus_max_unit: u32,
}

impl Reader<'_> {
    fn read_identity(&self, domain: &mut Domain) -> Result<()> {
        let file = self.file;
        domain.uuid = Some(file.uuid("uuid.bios")?.unwrap_or(Uuid::nil()));
        if let Some(name) = file.string("displayName", false)? {
            let name = unescape_hex(&name, '%')
                .and_then(|name| unescape_hex(&name, '|'))
                .ok_or_else(|| {
                    internal_error("VMX entry 'name' contains invalid escape sequence")
                })?;
            domain.name = Some(name);
        }
        let genid = file.long("vm.genid", 0, false)?;
        let genid_x = file.long("vm.genidX", 0, false)?;
        if genid != 0 || genid_x != 0 {
            // The two halves are signed 64-bit numbers; their bits make the UUID.
            let text = format!("{:016x}{:016x}", genid as u64, genid_x as u64);
            let uuid = parse_uuid(&text).ok_or_else(|| {
                internal_error(format!("Could not parse UUID from string '{text}'"))
            })?;
            domain.genid = Some(Some(uuid));
        }
        if let Some(annotation) = file.string("annotation", false)? {
            let description = unescape_hex(&annotation, '|').ok_or_else(|| {
                internal_error("VMX entry 'annotation' contains invalid escape sequence")
            })?;
            domain.description = Some(description);
        }
        Ok(())
    }

    fn read_memory(&self, domain: &mut Domain) -> Result<()> {
        let file = self.file;
        let memsize = file.long("memsize", 32, false)?;
        if memsize <= 0 || memsize % 4 != 0 {
            return Err(internal_error(format!(
                "Expecting VMX entry 'memsize' to be an unsigned integer (multiple of 4) but found {memsize}"
            )));
        }
        let total_kib = (memsize as u64).saturating_mul(1024);
        domain.set_memory_kib(total_kib);
        let mut max_mib = file.long("sched.mem.max", memsize, false)?;
        if max_mib < 0 {
            max_mib = memsize;
        }
        domain.current_memory = Some(ScaledKib(
            (max_mib as u64).saturating_mul(1024).min(total_kib),
        ));
        let minsize_mib = file.long("sched.mem.minsize", 0, false)?.max(0);
        let min_guarantee = (minsize_mib as u64).saturating_mul(1024).min(total_kib);
        if min_guarantee > 0 {
            domain.memtune = Some(Memtune {
                min_guarantee: Some(ScaledKib(min_guarantee)),
                ..Memtune::default()
            });
        }
        Ok(())
    }

    /// `numvcpus`, `cpuid.coresPerSocket` and `sched.cpu.affinity`; the vCPU count.
    fn read_vcpus(&self, domain: &mut Domain) -> Result<u32> {
        let file = self.file;
        let n_vcpus = file.long("numvcpus", 1, false)?;
        if n_vcpus <= 0 {
            return Err(internal_error(format!(
                "Expecting VMX entry 'numvcpus' to be an unsigned integer greater than 0 but found {n_vcpus}"
            )));
        }
        let n_vcpus = u32::try_from(n_vcpus).map_err(|_| {
            unsupported(format!(
                "Maximum CPUs greater than specified machine type limit {n_vcpus}"
            ))
        })?;
        let cores_per_socket = file.long("cpuid.coresPerSocket", 1, false)?;
        if cores_per_socket > 1 {
            let sockets = i64::from(n_vcpus) / cores_per_socket;
            if sockets <= 0 {
                return Err(internal_error(
                    "VMX entry 'cpuid.coresPerSocket' smaller than 'numvcpus'",
                ));
            }
            domain.cpu = Some(Cpu {
                topology: Some(CpuTopology {
                    sockets: Some(sockets as u32),
                    dies: Some(1),
                    cores: Some(cores_per_socket as u32),
                    threads: Some(1),
                }),
                ..Cpu::default()
            });
        }
        let mut cpuset = None;
        if let Some(affinity) = file.string("sched.cpu.affinity", false)? {
            if !affinity.eq_ignore_ascii_case("all") {
                cpuset = Some(parse_affinity(&affinity, n_vcpus)?);
            }
        }
        domain.vcpu = Some(Vcpu {
            placement: Some(CpuPlacement::Static),
            cpuset,
            current: None,
            count: Some(n_vcpus),
        });
        Ok(n_vcpus)
    }

    fn read_cputune(&self, domain: &mut Domain, n_vcpus: u32) -> Result<()> {
        let Some(shares) = self.file.string("sched.cpu.shares", false)? else {
            return Ok(());
        };
        let n_vcpus = u64::from(n_vcpus);
        // VMware's share levels, per vCPU.
        let shares = if shares.eq_ignore_ascii_case("low") {
            n_vcpus * 500
        } else if shares.eq_ignore_ascii_case("normal") {
            n_vcpus * 1000
        } else if shares.eq_ignore_ascii_case("high") {
            n_vcpus * 2000
        } else {
            parse_whole_u64(&shares).ok_or_else(|| {
                internal_error(format!(
                    "Expecting VMX entry 'sched.cpu.shares' to be an unsigned integer or 'low', 'normal' or 'high' but found '{shares}'"
                ))
            })?
        };
        domain.cputune = Some(Cputune {
            shares: Some(shares),
            ..Cputune::default()
        });
        Ok(())
    }

    fn read_os(&self, domain: &mut Domain) -> Result<()> {
        let guest_os = self.file.string("guestOS", false)?;
        let arch = if guest_os.is_some_and(|os| os.ends_with("-64")) {
            "x86_64"
        } else {
            "i686"
        };
        let reflect_host = self.file.boolean("smbios.reflecthost", false)?;
        domain.os = Some(Os {
            os_type: Some(OsTypeElement {
                arch: Some(arch.to_string()),
                machine: None,
                os_type: Some(OsType::Hvm),
            }),
            smbios: reflect_host.then_some(OsSmbios {
                mode: Some(SmbiosMode::Host),
            }),
            ..Os::default()
        });
        Ok(())
    }

    fn read_vnc(&self) -> Result<Option<Graphics>> {
        let file = self.file;
        if !file.boolean("RemoteDisplay.vnc.enabled", false)? {
            return Ok(None);
        }
        let port = file.long("RemoteDisplay.vnc.port", -1, false)?;
        let address = file.string("RemoteDisplay.vnc.ip", false)?;
        let keymap = file.string("RemoteDisplay.vnc.keymap", false)?;
        let passwd = file.string("RemoteDisplay.vnc.password", false)?;
        // Without a port the one VMware picks cannot be known: libvirt shows autoport.
        let (port, autoport) = if port < 0 {
            (Some(-1), YesNo::Yes)
        } else {
            let port = port as i32;
            ((port != 0).then_some(port), YesNo::No)
        };
        Ok(Some(Graphics {
            graphics_type: Some(GraphicsType::Vnc),
            port,
            autoport: Some(autoport),
            listen: address.clone(),
            keymap,
            passwd,
            listens: vec![GraphicsListen {
                listen_type: Some(GraphicsListenType::Address),
                address,
                ..GraphicsListen::default()
            }],
            ..Graphics::default()
        }))
    }

    /// The file name of entry `name` through the driver's mapping.
    pub(super) fn map_file_name(
        &self,
        name: &str,
        file_name: &Option<String>,
        allow_missing: bool,
    ) -> Result<Option<String>> {
        match file_name {
            Some(file_name) => self.ctx.parse_file_name(file_name, allow_missing),
            None => Err(missing_entry(name)),
        }
    }

    fn read_filesystems(&self, devices: &mut Devices) -> Result<()> {
        let file = self.file;
        if file.boolean("isolation.tools.hgfs.disable", true)? {
            return Ok(());
        }
        let max_number = file.long("sharedFolder.maxNum", 0, false)?;
        // libvirt tries every number below the maximum; only those with entries can be there.
        for number in numbered_indexes(file, "sharedFolder", max_number) {
            let prefix = format!("sharedFolder{number}");
            let present = file.boolean(&format!("{prefix}.present"), false)?;
            let enabled = file.boolean(&format!("{prefix}.enabled"), false)?;
            if !(present && enabled) {
                continue;
            }
            let host_path = file.string(&format!("{prefix}.hostPath"), true)?;
            let guest_name = file.string(&format!("{prefix}.guestName"), true)?;
            let write_access = file.boolean(&format!("{prefix}.writeAccess"), false)?;
            devices.filesystems.push(Filesystem {
                fs_type: Some(FilesystemType::Mount),
                accessmode: Some("passthrough".to_string()),
                source: Some(FilesystemSource {
                    dir: host_path,
                    ..FilesystemSource::default()
                }),
                target: Some(DirTarget { dir: guest_name }),
                readonly: !write_access,
                ..Filesystem::default()
            });
        }
        Ok(())
    }

    fn read_ethernet(&self, index: u32) -> Result<Option<Interface>> {
        let file = self.file;
        let entry = |suffix: &str| format!("ethernet{index}.{suffix}");
        let present = file.boolean(&entry("present"), false)?;
        file.boolean(&entry("startConnected"), true)?;
        if !present {
            return Ok(None);
        }
        let connection_type = file.string(&entry("connectionType"), false)?;
        let address_type = file.string(&entry("addressType"), false)?;
        let generated_address = file.string(&entry("generatedAddress"), false)?;
        let address = file.string(&entry("address"), false)?;
        let check_mac = file.string(&entry("checkMACAddress"), false)?;

        let parse_mac_entry = |name: &str, text: &Option<String>| -> Result<[u8; 6]> {
            match text {
                None => Ok([0; 6]),
                Some(text) => parse_vmx_mac(text).ok_or_else(|| {
                    internal_error(format!(
                        "Expecting VMX entry '{name}' to be MAC address but found '{text}'"
                    ))
                }),
            }
        };
        let (mac, mac_type) = match address_type.as_deref() {
            None => (parse_mac_entry(&entry("generatedAddress"), &generated_address)?, None),
            Some(kind) if kind.eq_ignore_ascii_case("generated") || kind.eq_ignore_ascii_case("vpx") => (
                parse_mac_entry(&entry("generatedAddress"), &generated_address)?,
                Some("generated"),
            ),
            Some(kind) if kind.eq_ignore_ascii_case("static") => {
                (parse_mac_entry(&entry("address"), &address)?, Some("static"))
            }
            Some(kind) => {
                return Err(internal_error(format!(
                    "Expecting VMX entry '{}' to be 'generated' or 'static' or 'vpx' but found '{kind}'",
                    entry("addressType")
                )))
            }
        };
        let check = check_mac.map(|check| {
            if check == "true" {
                YesNo::Yes
            } else {
                YesNo::No
            }
        });

        let virtual_dev = file.string(&entry("virtualDev"), false)?;
        let features = file.long(&entry("features"), 0, false)?;
        let model = match virtual_dev {
            None => None,
            Some(virtual_dev) => {
                let model = ["vlance", "vmxnet", "vmxnet3", "e1000", "e1000e"]
                    .into_iter()
                    .find(|model| model.eq_ignore_ascii_case(&virtual_dev))
                    .ok_or_else(|| {
                        internal_error(format!(
                            "Expecting VMX entry '{}' to be 'vlance' or 'vmxnet' or 'vmxnet3' or 'e1000' or 'e1000e' but found '{virtual_dev}'",
                            entry("virtualDev")
                        ))
                    })?;
                // vmxnet with all four feature bits is what VMware calls enhanced vmxnet.
                Some(if model == "vmxnet" && features == 15 {
                    "vmxnet2"
                } else {
                    model
                })
            }
        };

        let connection_is = |name: &str| {
            connection_type
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case(name))
        };
        let mut network_name = None;
        if connection_type.is_none() || connection_is("bridged") || connection_is("custom") {
            network_name = file.string(&entry("networkName"), connection_type.is_some())?;
        }
        let mut vnet = None;
        if connection_is("custom") {
            vnet = file.string(&entry("vnet"), true)?;
        }
        let switch_id = file.string(&entry("dvs.switchId"), false)?;

        let mut interface = Interface {
            mac: Some(Mac {
                address: Some(virt_xml::domain::format_mac(mac)),
                mac_type: mac_type.map(str::to_string),
                check,
            }),
            model: model.map(|model| TypeAttr {
                value: Some(model.to_string()),
            }),
            ..Interface::default()
        };
        if let Some(switch_id) = switch_id {
            let switch_uuid = parse_uuid(&switch_id).ok_or_else(|| {
                internal_error(format!("Could not parse UUID from string '{switch_id}'"))
            })?;
            let portgroup_id = file.string(&entry("dvs.portgroupId"), true)?;
            let port_id = file.long(&entry("dvs.portId"), 0, true)?;
            let connection_id = file.long(&entry("dvs.connectionId"), 0, true)?;
            interface.interface_type = Some(InterfaceType::Vds);
            interface.source = Some(InterfaceSource {
                switchid: Some(switch_uuid.hyphenated().to_string()),
                portid: Some(port_id.to_string()),
                portgroupid: portgroup_id,
                connectionid: Some(connection_id.to_string()),
                ..InterfaceSource::default()
            });
        } else if connection_type.is_none() && network_name.is_none() {
            interface.interface_type = Some(InterfaceType::Null);
        } else if connection_type.is_none() || connection_is("bridged") || connection_is("custom") {
            interface.interface_type = Some(InterfaceType::Bridge);
            interface.source = Some(InterfaceSource {
                bridge: network_name,
                ..InterfaceSource::default()
            });
            if connection_is("custom") {
                interface.target = Some(InterfaceTarget {
                    dev: vnet,
                    managed: None,
                });
            }
        } else if connection_is("hostonly") {
            return Err(internal_error(format!(
                "No yet handled value '{}' for VMX entry '{}'",
                connection_type.as_deref().unwrap_or(""),
                entry("connectionType")
            )));
        } else if connection_is("nat") {
            interface.interface_type = Some(InterfaceType::User);
        } else {
            return Err(internal_error(format!(
                "Invalid value '{}' for VMX entry '{}'",
                connection_type.as_deref().unwrap_or(""),
                entry("connectionType")
            )));
        }
        Ok(Some(interface))
    }

    fn read_svga(&self) -> Result<Video> {
        let vram_bytes = self.file.long("svga.vramSize", 4 * 1024 * 1024, false)?;
        let vram_kib = (vram_bytes as i128 + 1023).div_euclid(1024);
        Ok(Video {
            model: Some(VideoModelElement {
                model_type: Some(VideoModel::Vmvga),
                vram: Some(u32::try_from(vram_kib.max(0)).unwrap_or(u32::MAX)),
                ..VideoModelElement::default()
            }),
            ..Video::default()
        })
    }

    fn read_serial(&self, port: u32) -> Result<Option<ChrDevice>> {
        let file = self.file;
        let entry = |suffix: &str| format!("serial{port}.{suffix}");
        let present = file.boolean(&entry("present"), false)?;
        file.boolean(&entry("startConnected"), true)?;
        if !present {
            return Ok(None);
        }
        let file_type = file.string(&entry("fileType"), false)?;
        let file_name = file.string(&entry("fileName"), false)?;
        let end_point = file.string(&entry("network.endPoint"), false)?;
        let file_type_is = |name: &str| {
            file_type
                .as_deref()
                .is_some_and(|kind| kind.eq_ignore_ascii_case(name))
        };
        let mut serial = ChrDevice {
            target: Some(ChrTarget {
                port: Some(port),
                ..ChrTarget::default()
            }),
            ..ChrDevice::default()
        };
        // VMware leaves the file type out for a host device.
        if file_type.is_none() || file_type_is("device") {
            serial.chr_type = Some(ChrType::Dev);
            serial.sources = path_source(file_name);
        } else if file_type_is("file") {
            serial.chr_type = Some(ChrType::File);
            serial.sources =
                path_source(self.map_file_name(&entry("fileName"), &file_name, false)?);
        } else if file_type_is("pipe") {
            // Which end of the pipe is which has no place in domain XML.
            serial.chr_type = Some(ChrType::Pipe);
            serial.sources = path_source(file_name);
        } else if file_type_is("network") {
            serial.chr_type = Some(ChrType::Tcp);
            let uri = file_name.as_deref().unwrap_or("");
            let parsed = NetworkUri::parse(uri)
                .ok_or_else(|| internal_error(format!("Unable to parse URI {uri}")))?;
            if parsed.port == 0 {
                return Err(internal_error(format!(
                    "VMX entry '{}' doesn't contain a port part",
                    entry("fileName")
                )));
            }
            let scheme = parsed.scheme.as_deref();
            let scheme_is = |names: &[&str]| {
                scheme.is_some_and(|scheme| {
                    names.iter().any(|name| scheme.eq_ignore_ascii_case(name))
                })
            };
            // vSphere's URI backings of a serial port.
            let protocol = if scheme.is_none() || scheme_is(&["tcp", "tcp4", "tcp6"]) {
                "raw"
            } else if scheme_is(&["telnet"]) {
                "telnet"
            } else if scheme_is(&["telnets"]) {
                "telnets"
            } else if scheme_is(&["ssl", "tcp+ssl", "tcp4+ssl", "tcp6+ssl"]) {
                "tls"
            } else {
                return Err(internal_error(format!(
                    "VMX entry '{}' contains unsupported scheme '{}'",
                    entry("fileName"),
                    scheme.unwrap_or("")
                )));
            };
            let listen = match end_point.as_deref() {
                None => true,
                Some(end) if end.eq_ignore_ascii_case("server") => true,
                Some(end) if end.eq_ignore_ascii_case("client") => false,
                Some(end) => {
                    return Err(internal_error(format!(
                        "Expecting VMX entry '{}' to be 'server' or 'client' but found '{end}'",
                        entry("network.endPoint")
                    )))
                }
            };
            serial.sources = vec![ChrSource {
                mode: Some(if listen { "bind" } else { "connect" }.to_string()),
                host: parsed.server,
                service: Some(parsed.port.to_string()),
                ..ChrSource::default()
            }];
            serial.protocol = Some(TypeAttr {
                value: Some(protocol.to_string()),
            });
        } else {
            return Err(internal_error(format!(
                "Expecting VMX entry '{}' to be 'device', 'file' or 'pipe' or 'network' but found '{}'",
                entry("fileType"),
                file_type.as_deref().unwrap_or("")
            )));
        }
        Ok(Some(serial))
    }

    fn read_parallel(&self, port: u32) -> Result<Option<ChrDevice>> {
        let file = self.file;
        let entry = |suffix: &str| format!("parallel{port}.{suffix}");
        let present = file.boolean(&entry("present"), false)?;
        file.boolean(&entry("startConnected"), true)?;
        if !present {
            return Ok(None);
        }
        let file_type = file.string(&entry("fileType"), true)?.unwrap_or_default();
        let file_name = file.string(&entry("fileName"), true)?.unwrap_or_default();
        let mut parallel = ChrDevice {
            target: Some(ChrTarget {
                port: Some(port),
                ..ChrTarget::default()
            }),
            ..ChrDevice::default()
        };
        if file_type.eq_ignore_ascii_case("device") {
            parallel.chr_type = Some(ChrType::Dev);
            parallel.sources = path_source(Some(file_name));
        } else if file_type.eq_ignore_ascii_case("file") {
            parallel.chr_type = Some(ChrType::File);
            parallel.sources = path_source(self.ctx.parse_file_name(&file_name, false)?);
        } else {
            return Err(internal_error(format!(
                "Expecting VMX entry '{}' to be 'device' or 'file' but found '{file_type}'",
                entry("fileType")
            )));
        }
        Ok(Some(parallel))
    }
}

/// The `<source path>` of a character device, none without a path.
fn path_source(path: Option<String>) -> Vec<ChrSource> {
    path.map(|path| ChrSource {
        path: Some(path),
        ..ChrSource::default()
    })
    .into_iter()
    .collect()
}

/// A MAC address as libvirt reads one: six groups of one or two hex digits separated by
/// colons, anything from a space down after the last.
fn parse_vmx_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut rest = text.as_bytes();
    for (position, byte) in mac.iter_mut().enumerate() {
        let n_digits = rest.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if !(1..=2).contains(&n_digits) {
            return None;
        }
        let digits = std::str::from_utf8(&rest[..n_digits]).ok()?;
        *byte = u8::from_str_radix(digits, 16).ok()?;
        rest = &rest[n_digits..];
        let next = rest.first().copied().unwrap_or(0);
        if position == 5 {
            return (next <= b' ').then_some(mac);
        }
        if next != b':' {
            return None;
        }
        rest = &rest[1..];
    }
    None
}

/// A `sched.cpu.affinity` list (`"0, 2,3"`) as a cpuset (`0,2-3`); it must name at least
/// as many CPUs as the guest has vCPUs.
fn parse_affinity(text: &str, n_vcpus: u32) -> Result<String> {
    let items: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split(',').collect()
    };
    if items.len() < n_vcpus as usize {
        return Err(internal_error(format!(
            "Expecting VMX entry 'sched.cpu.affinity' to contain at least as many values as 'numvcpus' ({n_vcpus}) but found only {} value(s)",
            items.len()
        )));
    }
    let mut cpus: Vec<u32> = Vec::new();
    for item in items {
        let item = item.trim_matches(|c: char| c.is_ascii_whitespace());
        let number = (!item.starts_with('-') && !item.starts_with('+'))
            .then(|| item.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| {
                internal_error(format!(
                    "Expecting VMX entry 'sched.cpu.affinity' to be a comma separated list of unsigned integers but found '{text}'"
                ))
            })?;
        if number >= CPUMASK_LEN {
            return Err(internal_error(format!(
                "VMX entry 'sched.cpu.affinity' contains a {number}, this value is too large"
            )));
        }
        cpus.push(number);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(format_cpu_ranges(&cpus))
}

/// Sorted CPU numbers as libvirt writes a set: `0-3,5`.
pub(crate) fn format_cpu_ranges(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut position = 0;
    while position < cpus.len() {
        let start = cpus[position];
        let mut end = start;
        while position + 1 < cpus.len() && cpus[position + 1] == end + 1 {
            position += 1;
            end = cpus[position];
        }
        parts.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        position += 1;
    }
    parts.join(",")
}

/// The parts of a serial port's network URI (`telnet://host:port`) libvirt uses.
#[derive(Debug, PartialEq, Eq)]
struct NetworkUri {
    scheme: Option<String>,
    server: Option<String>,
    port: u32,
}

impl NetworkUri {
    /// `None` when the text is no URI at all (a port that is not a number).
    fn parse(text: &str) -> Option<NetworkUri> {
        let Some((scheme, rest)) = text.split_once("://") else {
            // A relative reference: no server, no port.
            return Some(NetworkUri {
                scheme: None,
                server: None,
                port: 0,
            });
        };
        let valid_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host_port = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        let (server, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (server, after) = bracketed.split_once(']')?;
            (server, after.strip_prefix(':'))
        } else {
            match host_port.rsplit_once(':') {
                Some((server, port)) => (server, Some(port)),
                None => (host_port, None),
            }
        };
        let port = match port {
            None | Some("") => 0,
            Some(port) => port.parse::<u32>().ok()?,
        };
        Some(NetworkUri {
            scheme: Some(scheme.to_string()),
            server: (!server.is_empty()).then(|| server.to_string()),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Datastore;

    impl VmxContext for Datastore {
        fn parse_file_name(&self, file_name: &str, _allow_missing: bool) -> Result<Option<String>> {
            Ok(Some(format!("[datastore] directory/{file_name}")))
        }
        fn format_file_name(&self, source: &str) -> Result<String> {
            Ok(source.to_string())
        }
    }

    fn convert(vmx: &str) -> Result<Domain> {
        vmx_to_domain(&Datastore, vmx)
    }

    const HEADER: &str = "config.version = \"8\"\nvirtualHW.version = \"4\"\n";

    #[test]
    fn minimal_file_gets_libvirt_defaults() {
        let domain = convert(&format!("{HEADER}displayName = \"te%2fst|22\"\n")).expect("converts");
        assert_eq!(domain.name.as_deref(), Some("te/st\""));
        assert_eq!(domain.memory_kib(), 32768);
        assert_eq!(domain.uuid, Some(Uuid::nil()));
        let xml = domain.to_xml();
        assert!(
            xml.contains("<model type='vmvga' vram='4096' primary='yes'/>"),
            "{xml}"
        );
        assert!(xml.contains("<type arch='i686'>hvm</type>"), "{xml}");
    }

    #[test]
    fn essential_entries_are_checked() {
        let error = convert("virtualHW.version = \"4\"\n").expect_err("no config.version");
        assert!(error
            .message()
            .contains("Missing essential config entry 'config.version'"));
        let error = convert("config.version = \"7\"\nvirtualHW.version = \"4\"\n").expect_err("v7");
        assert!(error.message().contains("to be 8 but found 7"));
        let error =
            convert(&format!("{HEADER}memsize = \"30\"\n")).expect_err("not a multiple of 4");
        assert!(error.message().contains("(multiple of 4) but found 30"));
    }

    #[test]
    fn scsi_disks_bring_their_controllers() {
        let domain = convert(&format!(
            "{HEADER}scsi0.present = \"true\"\nscsi0.virtualDev = \"pvscsi\"\nscsi0:8.present = \"true\"\nscsi0:8.fileName = \"disk.vmdk\"\n"
        ))
        .expect("converts");
        let disk = &domain.devices.disks[0];
        assert_eq!(disk.target_dev(), Some("sdh"));
        assert_eq!(
            disk.info.address,
            Some(Address::Drive {
                controller: 0,
                bus: 0,
                target: 0,
                unit: 8
            })
        );
        assert_eq!(disk.source_path(), Some("[datastore] directory/disk.vmdk"));
        assert_eq!(
            domain.devices.controllers[0].model.as_deref(),
            Some("vmpvscsi")
        );
    }

    #[test]
    fn ethernet_index_must_be_a_number() {
        let error =
            convert(&format!("{HEADER}ethernetX.present = \"true\"\n")).expect_err("bad key");
        assert!(error
            .message()
            .contains("failed to parse the index of the VMX key"));
    }

    #[test]
    fn serial_network_uri() {
        let domain = convert(&format!(
            "{HEADER}serial0.present = \"true\"\nserial0.fileType = \"network\"\nserial0.fileName = \"telnet://192.168.0.17:42001\"\nserial0.network.endPoint = \"client\"\n"
        ))
        .expect("converts");
        let source = domain.devices.serials[0].source().expect("has a source");
        assert_eq!(source.mode.as_deref(), Some("connect"));
        assert_eq!(source.host.as_deref(), Some("192.168.0.17"));
        assert_eq!(source.service.as_deref(), Some("42001"));
        assert_eq!(domain.devices.consoles.len(), 1);
        let error = convert(&format!(
            "{HEADER}serial0.present = \"true\"\nserial0.fileType = \"network\"\nserial0.fileName = \"telnet://host\"\n"
        ))
        .expect_err("no port");
        assert!(error.message().contains("doesn't contain a port part"));
    }

    #[test]
    fn huge_numbers_neither_panic_nor_loop() {
        let domain = convert(&format!(
            "{HEADER}memsize = \"9223372036854775804\"\nsched.mem.max = \"9223372036854775807\"\n\
             svga.vramSize = \"9223372036854775807\"\nethernet2147483647.present = \"true\"\n\
             isolation.tools.hgfs.disable = \"false\"\nsharedFolder.maxNum = \"9223372036854775807\"\n\
             sharedFolder3.present = \"true\"\nsharedFolder3.enabled = \"true\"\n\
             sharedFolder3.hostPath = \"/h\"\nsharedFolder3.guestName = \"g\"\n"
        ))
        .expect("converts");
        assert_eq!(domain.devices.interfaces.len(), 1);
        assert_eq!(domain.devices.filesystems.len(), 1);
        let file = VmxFile::parse("sharedfolder2.present = \"true\"\nsharedFolderX = \"1\"\n")
            .expect("parses");
        assert_eq!(
            numbered_indexes(&file, "sharedFolder", 3)
                .into_iter()
                .collect::<Vec<_>>(),
            [2]
        );
        assert!(numbered_indexes(&file, "sharedFolder", 2).is_empty());
    }

    #[test]
    fn affinity_lists() {
        assert_eq!(
            parse_affinity("0, 2,3,5", 2).ok().as_deref(),
            Some("0,2-3,5")
        );
        assert!(parse_affinity("0", 2).is_err());
        assert!(parse_affinity("0,x", 1).is_err());
        assert!(parse_affinity("0,-1", 1).is_err());
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(
            parse_vmx_mac("00:50:56:9a:9c:7a"),
            Some([0, 0x50, 0x56, 0x9a, 0x9c, 0x7a])
        );
        assert_eq!(
            parse_vmx_mac("0:50:56:9a:9c:7a "),
            Some([0, 0x50, 0x56, 0x9a, 0x9c, 0x7a])
        );
        assert_eq!(parse_vmx_mac("00:50:56:9a:9c"), None);
        assert_eq!(parse_vmx_mac("00-50-56-9a-9c-7a"), None);
    }

    #[test]
    fn network_uris() {
        let uri = NetworkUri::parse("tcp://[::1]:42001").expect("parses");
        assert_eq!(uri.server.as_deref(), Some("::1"));
        assert_eq!(uri.port, 42001);
        assert_eq!(
            NetworkUri::parse("0.0.0.0:42001").map(|uri| uri.port),
            Some(0)
        );
        assert!(NetworkUri::parse("telnet://host:x").is_none());
    }
}
