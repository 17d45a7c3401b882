//! Domain → VMX: the file libvirt's `virVMXFormatConfig` writes for a definition, for a
//! given virtual hardware version.
//!
//! The definition is read as libvirt holds it after parsing: what its parser and generic
//! post-parse would fill in (the i686 architecture, drive addresses from target names on
//! VMware's wide SCSI buses, the disk controllers disks imply, disks grouped by bus, the
//! video a display implies) is worked out here, without changing the caller's value.
//! Source paths go through [`VmxContext::format_file_name`].

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::{
    ChrDevice, ChrType, Domain, FilesystemType, Firmware, GraphicsType, Interface, InterfaceType,
    SmbiosMode, VideoModel, VirtType,
};
use virt_xml::xml::YesNo;

use crate::context::VmxContext;
use crate::vmx::{
    escape_percent, escape_pipe, format_uuid, internal_error, unsupported, VmxWriter,
};
use crate::Result;

mod disks;

/// libvirt's NIC models (`virDomainNetModel`), matched without regard to case.
const NET_MODEL_NAMES: [&str; 21] = [
    "unknown",
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

/// The VMX file for `domain` with `virtualHW.version = virtual_hw_version`.
pub fn domain_to_vmx(
    ctx: &dyn VmxContext,
    domain: &Domain,
    virtual_hw_version: u32,
) -> Result<String> {
    if domain.virt_type != Some(VirtType::Vmware) {
        return Err(internal_error(format!(
            "Expecting virt type to be 'vmware' but found '{}'",
            domain
                .virt_type
                .map_or("none", |virt_type| virt_type.as_str())
        )));
    }
    let mut vmx = VmxWriter::new();
    vmx.set(".encoding", "UTF-8");
    vmx.set("config.version", 8);
    vmx.set("virtualHW.version", virtual_hw_version);

    match domain.os.as_ref().and_then(|os| os.arch()).unwrap_or("i686") {
        "i686" => vmx.set("guestOS", "other"),
        "x86_64" => vmx.set("guestOS", "other-64"),
        other => {
            return Err(internal_error(format!(
                "Expecting domain XML attribute 'arch' of entry 'os/type' to be 'i686' or 'x86_64' but found '{other}'"
            )))
        }
    }
    match domain
        .os
        .as_ref()
        .and_then(|os| os.smbios.as_ref())
        .and_then(|smbios| smbios.mode)
    {
        None | Some(SmbiosMode::Emulate) => {}
        Some(SmbiosMode::Host) => vmx.set("smbios.reflecthost", "true"),
        Some(other) => {
            return Err(unsupported(format!(
                "Unsupported SMBIOS mode '{}'",
                other.as_str()
            )))
        }
    }
    match domain.uuid.filter(|uuid| !uuid.is_nil()) {
        // VMware makes one up.
        None => vmx.set("uuid.action", "create"),
        Some(uuid) => vmx.set("uuid.bios", format_uuid(&uuid)),
    }
    vmx.set("displayName", escape_percent(&escape_pipe(domain.name())));
    if let Some(description) = &domain.description {
        vmx.set("annotation", escape_pipe(description));
    }

    write_memory(&mut vmx, domain)?;
    write_vcpus(&mut vmx, domain)?;
    if let Some(shares) = domain.cputune.as_ref().and_then(|cputune| cputune.shares) {
        let online = u64::from(domain.current_vcpus());
        // VMware's share levels, per vCPU.
        if shares == online * 500 {
            vmx.set("sched.cpu.shares", "low");
        } else if shares == online * 1000 {
            vmx.set("sched.cpu.shares", "normal");
        } else if shares == online * 2000 {
            vmx.set("sched.cpu.shares", "high");
        } else {
            vmx.set("sched.cpu.shares", shares);
        }
    }

    for graphics in &domain.devices.graphics {
        match graphics.graphics_type {
            Some(GraphicsType::Vnc) => write_vnc(&mut vmx, graphics),
            other => {
                return Err(unsupported(format!(
                    "Unsupported graphics type '{}'",
                    other.map_or("", |kind| kind.as_str())
                )))
            }
        }
    }

    let has_scsi = disks::write_disks(&mut vmx, ctx, domain)?;

    let filesystems = &domain.devices.filesystems;
    if !filesystems.is_empty() {
        vmx.set("isolation.tools.hgfs.disable", "false");
        vmx.set("sharedFolder.maxNum", filesystems.len());
    }
    for (number, filesystem) in filesystems.iter().enumerate() {
        if filesystem
            .fs_type
            .is_some_and(|kind| kind != FilesystemType::Mount)
        {
            return Err(unsupported("Only 'mount' filesystem type is supported"));
        }
        let prefix = format!("sharedFolder{number}");
        vmx.set(format!("{prefix}.present"), "true");
        vmx.set(format!("{prefix}.enabled"), "true");
        vmx.set(format!("{prefix}.readAccess"), "true");
        vmx.set(
            format!("{prefix}.writeAccess"),
            if filesystem.readonly { "false" } else { "true" },
        );
        let source = filesystem
            .source
            .as_ref()
            .and_then(|source| source.dir.as_deref());
        vmx.set(format!("{prefix}.hostPath"), source.unwrap_or(""));
        let target = filesystem
            .target
            .as_ref()
            .and_then(|target| target.dir.as_deref());
        vmx.set(format!("{prefix}.guestName"), target.unwrap_or(""));
    }

    for (index, interface) in domain.devices.interfaces.iter().enumerate() {
        write_ethernet(&mut vmx, interface, index, virtual_hw_version)?;
    }

    write_video(&mut vmx, domain)?;

    let serials = &domain.devices.serials;
    for (serial, port) in serials.iter().zip(chr_ports(serials)) {
        write_serial(&mut vmx, ctx, serial, port)?;
    }
    let parallels = &domain.devices.parallels;
    for (parallel, port) in parallels.iter().zip(chr_ports(parallels)) {
        write_parallel(&mut vmx, ctx, parallel, port)?;
    }

    if domain.os.as_ref().and_then(|os| os.firmware) == Some(Firmware::Efi) {
        vmx.set("firmware", "efi");
    }
    if virtual_hw_version >= 7 {
        if has_scsi {
            // The PCI(e) bridges VMware gives a guest with SCSI controllers.
            vmx.set("pciBridge0.present", "true");
            for bridge in 4..8 {
                vmx.set(format!("pciBridge{bridge}.present"), "true");
                vmx.set(format!("pciBridge{bridge}.virtualDev"), "pcieRootPort");
                vmx.set(format!("pciBridge{bridge}.functions"), "8");
            }
        }
        vmx.set("vmci0.present", "true");
    }
    Ok(vmx.finish())
}

fn write_memory(vmx: &mut VmxWriter, domain: &Domain) -> Result<()> {
    let total_kib = domain.memory_kib();
    if total_kib == 0 {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::DOMAIN,
            "Memory size must be specified via <memory> or in the <numa> configuration",
        ));
    }
    // VMware wants whole multiples of 4 MiB.
    let max_balloon_kib = total_kib.div_ceil(4096) * 4096;
    vmx.set("memsize", max_balloon_kib / 1024);
    let current_kib = match domain.current_memory.map(|current| current.0) {
        Some(current) if current > 0 && current <= total_kib => current,
        _ => total_kib,
    };
    if current_kib < max_balloon_kib {
        vmx.set("sched.mem.max", current_kib.div_ceil(1024));
    }
    let min_guarantee = domain
        .memtune
        .as_ref()
        .and_then(|memtune| memtune.min_guarantee)
        .map_or(0, |min| min.0);
    if min_guarantee > 0 {
        vmx.set("sched.mem.minsize", min_guarantee.div_ceil(1024));
    }
    Ok(())
}

/// `numvcpus`, `cpuid.coresPerSocket` and `sched.cpu.affinity`.
fn write_vcpus(vmx: &mut VmxWriter, domain: &Domain) -> Result<()> {
    let max_vcpus = domain.max_vcpus();
    if domain.current_vcpus() < max_vcpus {
        return Err(unsupported(
            "No support for domain XML entry 'vcpu' attribute 'current'",
        ));
    }
    if max_vcpus == 0 {
        return Err(internal_error(
            "Expecting domain XML entry 'vcpu' to be greater than 0",
        ));
    }
    vmx.set("numvcpus", max_vcpus);
    if let Some(cpu) = &domain.cpu {
        let mode = cpu.mode.as_deref().unwrap_or("custom");
        if mode != "custom" {
            return Err(internal_error(format!(
                "Expecting domain XML CPU mode 'custom' but found '{mode}'"
            )));
        }
        let topology = cpu.topology.clone().unwrap_or_default();
        // libvirt counts one die per socket when the topology names none.
        let dies = if cpu.topology.is_some() {
            topology.dies.unwrap_or(1)
        } else {
            0
        };
        if topology.threads.unwrap_or(0) != 1 {
            return Err(unsupported("Only 1 thread per core is supported"));
        }
        if dies != 1 {
            return Err(unsupported("Only 1 die per socket is supported"));
        }
        let cores = topology.cores.unwrap_or(0);
        let calculated = topology.sockets.unwrap_or(0).saturating_mul(cores);
        if calculated != max_vcpus {
            return Err(internal_error(format!(
                "Expecting domain XML CPU sockets per core as {max_vcpus} but found {calculated}"
            )));
        }
        vmx.set("cpuid.coresPerSocket", cores);
    }
    if let Some(cpuset) = domain.vcpu.as_ref().and_then(|vcpu| vcpu.cpuset.as_deref()) {
        let cpus = virt_xml::domain::checks::parse_id_set(cpuset);
        if !cpus.is_empty() {
            if cpus.len() < max_vcpus as usize {
                return Err(internal_error(format!(
                    "Expecting domain XML attribute 'cpuset' of entry 'vcpu' to contain at least {max_vcpus} CPU(s)"
                )));
            }
            let list: Vec<String> = cpus.iter().map(u32::to_string).collect();
            vmx.set("sched.cpu.affinity", list.join(","));
        }
    }
    Ok(())
}

fn write_vnc(vmx: &mut VmxWriter, graphics: &virt_xml::domain::Graphics) {
    vmx.set("RemoteDisplay.vnc.enabled", "true");
    // libvirt's reading of a VNC display: no port or -1 means autoport.
    let autoport = match graphics.autoport {
        Some(autoport) => autoport.is_yes(),
        None => graphics.port.is_none_or(|port| port == -1),
    };
    if !autoport {
        vmx.set("RemoteDisplay.vnc.port", graphics.port.unwrap_or(0));
    }
    let address = graphics
        .listens
        .first()
        .and_then(|listen| listen.address.as_deref())
        .or(graphics.listen.as_deref());
    if let Some(address) = address {
        vmx.set("RemoteDisplay.vnc.ip", address);
    }
    if let Some(keymap) = &graphics.keymap {
        vmx.set("RemoteDisplay.vnc.keymap", keymap);
    }
    if let Some(passwd) = &graphics.passwd {
        vmx.set("RemoteDisplay.vnc.password", passwd);
    }
}

fn write_ethernet(
    vmx: &mut VmxWriter,
    interface: &Interface,
    index: usize,
    virtual_hw_version: u32,
) -> Result<()> {
    // Hardware before version 7 (ESX 4.0) has four NICs, later hardware ten.
    let highest_index = if virtual_hw_version >= 7 { 9 } else { 3 };
    if index > highest_index {
        return Err(internal_error(format!(
            "Ethernet controller index {index} out of [0..{highest_index}] range"
        )));
    }
    let prefix = format!("ethernet{index}");
    vmx.set(format!("{prefix}.present"), "true");

    let model = interface
        .model_type()
        .and_then(|model| {
            NET_MODEL_NAMES
                .iter()
                .find(|name| name.eq_ignore_ascii_case(model))
        })
        .filter(|name| **name != "unknown");
    if let Some(model) = model {
        match *model {
            "vmxnet2" => {
                vmx.set(format!("{prefix}.virtualDev"), "vmxnet");
                vmx.set(format!("{prefix}.features"), "15");
            }
            "vlance" | "vmxnet" | "vmxnet3" | "e1000" | "e1000e" => {
                vmx.set(format!("{prefix}.virtualDev"), model);
            }
            other => {
                return Err(internal_error(format!(
                    "Expecting domain XML entry 'devices/interface/model' to be 'vlance' or 'vmxnet' or 'vmxnet2' or 'vmxnet3' or 'e1000' or 'e1000e' but found '{other}'"
                )))
            }
        }
    }

    let source = interface.source.clone().unwrap_or_default();
    match interface.interface_type {
        Some(InterfaceType::Bridge) => {
            vmx.set(
                format!("{prefix}.networkName"),
                source.bridge.as_deref().unwrap_or(""),
            );
            match guest_visible_ifname(interface) {
                Some(ifname) => {
                    vmx.set(format!("{prefix}.connectionType"), "custom");
                    vmx.set(format!("{prefix}.vnet"), ifname);
                }
                None => vmx.set(format!("{prefix}.connectionType"), "bridged"),
            }
        }
        Some(InterfaceType::User) => vmx.set(format!("{prefix}.connectionType"), "nat"),
        Some(InterfaceType::Null) => {}
        Some(InterfaceType::Vds) => {
            let switch_id = source
                .switchid
                .as_deref()
                .and_then(crate::vmx::parse_uuid)
                .unwrap_or_default();
            vmx.set(format!("{prefix}.dvs.switchId"), format_uuid(&switch_id));
            vmx.set(format!("{prefix}.dvs.portId"), vds_number(&source.portid));
            // libvirt leaves the line out without a port group.
            if let Some(portgroup) = source.portgroupid.as_deref() {
                vmx.set(format!("{prefix}.dvs.portgroupId"), xml_escape(portgroup));
            }
            vmx.set(
                format!("{prefix}.dvs.connectionId"),
                vds_number(&source.connectionid),
            );
        }
        other => {
            return Err(unsupported(format!(
                "Unsupported net type '{}'",
                other.map_or("", |kind| kind.as_str())
            )))
        }
    }

    let Some(mac) = interface
        .mac_address()
        .and_then(virt_xml::domain::parse_mac)
    else {
        return Err(internal_error(format!(
            "Interface {index} has no MAC address to write"
        )));
    };
    let mac_string = virt_xml::domain::format_mac(mac);
    let oui = u32::from(mac[0]) << 16 | u32::from(mac[1]) << 8 | u32::from(mac[2]);
    let suffix = u32::from(mac[3]) << 16 | u32::from(mac[4]) << 8 | u32::from(mac[5]);
    // What the address ranges say when the XML does not: VMware's generated, static and
    // vCenter (vpx) ranges.
    let (mut generated, vpx, mut check) = if oui == 0x000c29 {
        (true, false, None)
    } else if oui == 0x005056 && suffix <= 0x3fffff {
        (false, false, None)
    } else if oui == 0x005056 && (0x800000..=0xbfffff).contains(&suffix) {
        (true, true, None)
    } else {
        (false, false, Some(false))
    };
    match interface
        .mac
        .as_ref()
        .and_then(|mac| mac.mac_type.as_deref())
    {
        Some("generated") => {
            generated = true;
            check = None;
        }
        Some("static") => generated = false,
        _ => {}
    }
    if let Some(explicit) = interface.mac.as_ref().and_then(|mac| mac.check) {
        check = Some(explicit == YesNo::Yes);
    }
    if generated {
        vmx.set(
            format!("{prefix}.addressType"),
            if vpx { "vpx" } else { "generated" },
        );
        vmx.set(format!("{prefix}.generatedAddress"), &mac_string);
        if !vpx {
            vmx.set(format!("{prefix}.generatedAddressOffset"), "0");
        }
    } else {
        vmx.set(format!("{prefix}.addressType"), "static");
        vmx.set(format!("{prefix}.address"), &mac_string);
    }
    if let Some(check) = check {
        vmx.set(
            format!("{prefix}.checkMACAddress"),
            if check { "true" } else { "false" },
        );
    }
    Ok(())
}

/// The interface's target device name, unless libvirt's parser would have dropped it as
/// one it generates itself (`vnet*`, `macvtap*`, `macvlan*`).
fn guest_visible_ifname(interface: &Interface) -> Option<&str> {
    let target = interface.target.as_ref()?;
    let ifname = target.dev.as_deref()?;
    let generated = ["vnet", "macvtap", "macvlan"]
        .iter()
        .any(|prefix| ifname.starts_with(prefix));
    let managed = target.managed != Some(YesNo::No);
    (!(generated && managed)).then_some(ifname)
}

/// A vDS port or connection id as libvirt holds it (a 64-bit integer, 0 when unreadable).
fn vds_number(text: &Option<String>) -> i64 {
    text.as_deref()
        .and_then(crate::vmx::parse_whole_i64)
        .unwrap_or(0)
}

/// The XML escaping libvirt applies to the vDS port group id.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// `svga.vramSize` of the one video device (the one a display implies when there is
/// none), in bytes rounded up to 64 KiB.
fn write_video(vmx: &mut VmxWriter, domain: &Domain) -> Result<()> {
    let videos = &domain.devices.videos;
    if videos.len() > 1 {
        return Err(internal_error("No support for multiple video devices"));
    }
    let model = match videos.first() {
        Some(video) => video.model.clone().unwrap_or_default(),
        None if !domain.devices.graphics.is_empty() => Default::default(),
        None => return Ok(()),
    };
    let model_type = model.model_type.unwrap_or(VideoModel::Vmvga);
    if model_type != VideoModel::Vmvga {
        return Err(unsupported(format!(
            "Unsupported video device type '{}'",
            model_type.as_str()
        )));
    }
    // libvirt's default for a VMware guest's VGA-like video, then a power of two.
    let vram_kib =
        u64::from(model.vram.filter(|vram| *vram > 0).unwrap_or(4 * 1024)).next_power_of_two();
    if model.heads.unwrap_or(1) > 1 {
        return Err(unsupported("Multi-head video devices are unsupported"));
    }
    // Windows guests want a multiple of 64 KiB.
    vmx.set("svga.vramSize", vram_kib.div_ceil(64) * 64 * 1024);
    Ok(())
}

/// The ports of serial or parallel devices as libvirt's parser numbers them: the one
/// written, else one past the highest port of the devices before it.
fn chr_ports(devices: &[ChrDevice]) -> Vec<u32> {
    let mut ports: Vec<u32> = Vec::with_capacity(devices.len());
    for device in devices {
        let port = device
            .target_port()
            .unwrap_or_else(|| ports.iter().max().map_or(0, |highest| highest + 1));
        ports.push(port);
    }
    ports
}

fn chr_path(device: &ChrDevice) -> &str {
    device
        .source()
        .and_then(|source| source.path.as_deref())
        .unwrap_or("")
}

fn chr_type_name(device: &ChrDevice) -> &'static str {
    device.chr_type.unwrap_or(ChrType::Pty).as_str()
}

fn write_serial(
    vmx: &mut VmxWriter,
    ctx: &dyn VmxContext,
    serial: &ChrDevice,
    port: u32,
) -> Result<()> {
    if port > 3 {
        return Err(internal_error(format!(
            "Serial port index {port} out of [0..3] range"
        )));
    }
    let prefix = format!("serial{port}");
    vmx.set(format!("{prefix}.present"), "true");
    match serial.chr_type.unwrap_or(ChrType::Pty) {
        ChrType::Dev => {
            vmx.set(format!("{prefix}.fileType"), "device");
            vmx.set(format!("{prefix}.fileName"), chr_path(serial));
        }
        ChrType::File => {
            vmx.set(format!("{prefix}.fileType"), "file");
            vmx.set(
                format!("{prefix}.fileName"),
                ctx.format_file_name(chr_path(serial))?,
            );
        }
        ChrType::Pipe => {
            vmx.set(format!("{prefix}.fileType"), "pipe");
            // The end and the loss setting the VI client picks by default.
            vmx.set(format!("{prefix}.pipe.endPoint"), "client");
            vmx.set(format!("{prefix}.tryNoRxLoss"), "false");
            vmx.set(format!("{prefix}.fileName"), chr_path(serial));
        }
        ChrType::Tcp => {
            let protocol = serial
                .protocol
                .as_ref()
                .and_then(|protocol| protocol.value.as_deref())
                .unwrap_or("raw");
            let scheme = match protocol {
                "raw" => "tcp",
                "telnet" => "telnet",
                "telnets" => "telnets",
                "tls" => "ssl",
                other => {
                    return Err(unsupported(format!(
                        "Unsupported character device TCP protocol '{other}'"
                    )))
                }
            };
            let source = serial.source().cloned().unwrap_or_default();
            vmx.set(format!("{prefix}.fileType"), "network");
            vmx.set(
                format!("{prefix}.fileName"),
                format!(
                    "{scheme}://{}:{}",
                    source.host.as_deref().unwrap_or(""),
                    source.service.as_deref().unwrap_or("")
                ),
            );
            let listen = source.mode.as_deref() == Some("bind");
            vmx.set(
                format!("{prefix}.network.endPoint"),
                if listen { "server" } else { "client" },
            );
        }
        _ => {
            return Err(unsupported(format!(
                "Unsupported character device type '{}'",
                chr_type_name(serial)
            )))
        }
    }
    // The VI client's default.
    vmx.set(format!("{prefix}.yieldOnMsrRead"), "true");
    Ok(())
}

fn write_parallel(
    vmx: &mut VmxWriter,
    ctx: &dyn VmxContext,
    parallel: &ChrDevice,
    port: u32,
) -> Result<()> {
    if port > 2 {
        return Err(internal_error(format!(
            "Parallel port index {port} out of [0..2] range"
        )));
    }
    let prefix = format!("parallel{port}");
    vmx.set(format!("{prefix}.present"), "true");
    match parallel.chr_type.unwrap_or(ChrType::Pty) {
        ChrType::Dev => {
            vmx.set(format!("{prefix}.fileType"), "device");
            vmx.set(format!("{prefix}.fileName"), chr_path(parallel));
        }
        ChrType::File => {
            vmx.set(format!("{prefix}.fileType"), "file");
            vmx.set(
                format!("{prefix}.fileName"),
                ctx.format_file_name(chr_path(parallel))?,
            );
        }
        _ => {
            return Err(unsupported(format!(
                "Unsupported character device type '{}'",
                chr_type_name(parallel)
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::ScsiControllerModel;
    use virt_xml::domain::Disk;

    struct Datastore;

    impl VmxContext for Datastore {
        fn parse_file_name(&self, file_name: &str, _allow_missing: bool) -> Result<Option<String>> {
            Ok(Some(file_name.to_string()))
        }
        fn format_file_name(&self, source: &str) -> Result<String> {
            match source
                .strip_prefix('[')
                .and_then(|rest| rest.split_once("] "))
            {
                Some((datastore, path)) => Ok(format!("/vmfs/volumes/{datastore}/{path}")),
                None => Ok(source.to_string()),
            }
        }
        fn autodetect_scsi_controller_model(
            &self,
            _disk: &Disk,
        ) -> Option<Result<ScsiControllerModel>> {
            Some(Ok(ScsiControllerModel::Lsilogic))
        }
    }

    fn convert(xml: &str, version: u32) -> Result<String> {
        let domain = Domain::parse(xml)?;
        domain_to_vmx(&Datastore, &domain, version)
    }

    fn lines(vmx: &str) -> Vec<&str> {
        vmx.lines().collect()
    }

    #[test]
    fn minimal_domain() {
        let vmx = convert(
            "<domain type='vmware'><name>a/b</name><uuid>564d9bef-acd9-b4e0-c8f0-aea8b9103515</uuid><memory>4096</memory><os><type>hvm</type></os></domain>",
            4,
        )
        .expect("converts");
        assert_eq!(
            lines(&vmx),
            [
                ".encoding = \"UTF-8\"",
                "config.version = \"8\"",
                "virtualHW.version = \"4\"",
                "guestOS = \"other\"",
                "uuid.bios = \"56 4d 9b ef ac d9 b4 e0-c8 f0 ae a8 b9 10 35 15\"",
                "displayName = \"a%2fb\"",
                "memsize = \"4\"",
                "numvcpus = \"1\"",
                "floppy0.present = \"false\"",
                "floppy1.present = \"false\"",
            ]
        );
    }

    #[test]
    fn refuses_other_hypervisors() {
        let error = convert(
            "<domain type='kvm'><name>a</name><memory>4096</memory><os><type>hvm</type></os></domain>",
            4,
        )
        .expect_err("kvm");
        assert!(error
            .message()
            .contains("Expecting virt type to be 'vmware'"));
    }

    #[test]
    fn auto_scsi_model_is_detected() {
        let vmx = convert(
            "<domain type='vmware'><name>a</name><memory>4096</memory><os><type>hvm</type></os><devices>\
             <disk type='file' device='disk'><source file='[ds] d/a.vmdk'/><target dev='sdb' bus='scsi'/></disk>\
             <controller type='scsi' index='0' model='auto'/></devices></domain>",
            7,
        )
        .expect("converts");
        assert!(vmx.contains("scsi0.virtualDev = \"lsilogic\"\n"), "{vmx}");
        assert!(
            vmx.contains("scsi0:1.fileName = \"/vmfs/volumes/ds/d/a.vmdk\"\n"),
            "{vmx}"
        );
        assert!(vmx.contains("pciBridge7.functions = \"8\"\n"), "{vmx}");
    }

    #[test]
    fn disk_address_must_match_its_name() {
        let error = convert(
            "<domain type='vmware'><name>a</name><memory>4096</memory><os><type>hvm</type></os><devices>\
             <disk type='file' device='disk'><source file='[ds] a.vmdk'/><target dev='sda' bus='scsi'/>\
             <address type='drive' controller='0' bus='0' target='0' unit='1'/></disk></devices></domain>",
            4,
        )
        .expect_err("mismatch");
        assert!(error
            .message()
            .contains("Disk address 0:0:1 doesn't match target device 'sda'"));
    }

    #[test]
    fn mac_ranges_decide_the_address_type() {
        let xml = |mac: &str| {
            format!(
                "<domain type='vmware'><name>a</name><memory>4096</memory><os><type>hvm</type></os><devices>\
                 <interface type='null'><mac address='{mac}'/></interface></devices></domain>"
            )
        };
        let generated = convert(&xml("00:0c:29:01:02:03"), 4).expect("converts");
        assert!(generated.contains("ethernet0.generatedAddressOffset = \"0\""));
        let vpx = convert(&xml("00:50:56:87:65:43"), 4).expect("converts");
        assert!(vpx.contains("ethernet0.addressType = \"vpx\""));
        let other = convert(&xml("00:12:34:56:78:90"), 4).expect("converts");
        assert!(other.contains("ethernet0.checkMACAddress = \"false\""));
    }
}
