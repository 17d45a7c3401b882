//! Domain XML (`<domain>`): the typed model, its parser and its formatter.
//!
//! [`Domain::parse`] reads a document faithfully (what is written is what the model holds);
//! [`Domain::to_xml`] and [`Domain::format`] write it in libvirt's canonical form. The steps
//! libvirt runs between parsing and storing a definition (defaults, generated UUID and MAC
//! addresses, the "memory must be specified" checks) are in [`postparse`], and define-time
//! checks in [`validate`]; drivers call them explicitly.

pub mod address;
pub mod checks;
pub mod chr;
pub mod cpu;
pub mod devices;
pub mod disk;
pub mod enums;
pub mod general;
pub mod interface;
pub mod memory;
pub mod namespaces;
pub mod postparse;
mod postparse_devices;
pub mod validate;
mod validate_devices;

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

pub use address::{Address, DeviceInfo, PciAddress};
pub use chr::{ChrDevice, ChrSource, ChrTarget};
pub use cpu::{Cpu, Numa, NumaCell, Numatune};
pub use devices::*;
pub use disk::{BackingStore, Disk, DiskDriver, DiskSource, DiskTarget};
pub use enums::*;
pub use general::*;
pub use interface::{Interface, InterfaceSource, Mac};
pub use memory::{ScaledBytes, ScaledKib};
pub use namespaces::{BhyveNamespace, LxcNamespace, QemuNamespace, VmwareNamespace, XenNamespace};
pub use postparse::PostParseDriver;

use crate::metadata::Metadata;
use crate::xml::{
    expect_root, parse_attr_value, parse_document, AttrField, ChildField, Node, TextChildField,
    Writer, XmlElement,
};
use crate::{FormatFlags, Result};

/// How [`Domain::format`] writes a domain: libvirt's `VIR_DOMAIN_XML_*` flags.
pub type FormatOptions = FormatFlags;

/// A domain definition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Domain {
    /// `<domain type='kvm'>`.
    pub virt_type: Option<VirtType>,
    /// `<domain id='N'>`: present while the domain runs (live XML).
    pub id: Option<i32>,
    pub name: Option<String>,
    pub uuid: Option<Uuid>,
    /// `<genid>`: `Some(None)` asks for a generated VM generation ID.
    pub genid: Option<Option<Uuid>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub metadata: Option<Metadata>,
    pub max_memory: Option<MaxMemory>,
    /// Total memory (`<memory>`), in KiB.
    pub memory: Option<MemorySize>,
    /// Balloon target (`<currentMemory>`), in KiB.
    pub current_memory: Option<ScaledKib>,
    pub blkiotune: Option<Blkiotune>,
    pub memtune: Option<Memtune>,
    pub memory_backing: Option<MemoryBacking>,
    pub vcpu: Option<Vcpu>,
    pub vcpus: Option<Vcpus>,
    pub iothreads: Option<u32>,
    pub iothreadids: Option<IothreadIds>,
    pub defaultiothread: Option<DefaultIothread>,
    pub cputune: Option<Cputune>,
    pub numatune: Option<Numatune>,
    pub resource: Option<Resource>,
    pub sysinfo: Vec<Sysinfo>,
    pub bootloader: Option<String>,
    pub bootloader_args: Option<String>,
    pub os: Option<Os>,
    pub idmap: Option<IdMap>,
    pub features: Option<Features>,
    pub cpu: Option<Cpu>,
    pub clock: Option<Clock>,
    pub on_poweroff: Option<LifecycleAction>,
    pub on_reboot: Option<LifecycleAction>,
    pub on_crash: Option<LifecycleAction>,
    pub on_lockfailure: Option<LockFailureAction>,
    pub pm: Option<Pm>,
    pub perf: Option<Perf>,
    pub devices: Devices,
    pub seclabels: Vec<Seclabel>,
    pub keywrap: Option<Keywrap>,
    pub launch_security: Option<LaunchSecurity>,
    /// `qemu:` extensions (command line passthrough, capability overrides).
    pub qemu: Option<QemuNamespace>,
    /// `lxc:` extensions (namespace sharing).
    pub lxc: Option<LxcNamespace>,
    /// `bhyve:` extensions (command line passthrough).
    pub bhyve: Option<BhyveNamespace>,
    /// `vmware:` extensions (the ESX driver's inventory path and managed object id).
    pub vmware: Option<VmwareNamespace>,
    /// `xen:` extensions (the libxl driver's device model arguments).
    pub xen: Option<XenNamespace>,
}

/// What libvirt calls the document in its parse errors.
pub const DOC_NAME: &str = "(domain_definition)";

impl Domain {
    /// Parses domain XML as written. Malformed XML is `VIR_ERR_XML_DETAIL` with line and
    /// column; a wrong root element is `VIR_ERR_XML_ERROR`; a missing `<name>` is
    /// `VIR_ERR_NO_NAME`; an unknown domain type is `VIR_ERR_CONFIG_UNSUPPORTED`; a malformed
    /// `<uuid>` is `VIR_ERR_INTERNAL_ERROR`.
    pub fn parse(xml: &str) -> Result<Domain> {
        let doc = parse_document(xml, DOC_NAME, ErrorDomain::DOMAIN)?;
        expect_root(&doc.root, "domain")?;
        Domain::from_node(&doc.root)
    }

    /// Parses XML bytes, checking that they are UTF-8 first.
    pub fn parse_bytes(xml: &[u8]) -> Result<Domain> {
        let text = crate::xml::check_utf8(xml, DOC_NAME, ErrorDomain::DOMAIN)?;
        Domain::parse(text)
    }

    /// Live XML when the domain has an `id`, the inactive definition otherwise; secrets
    /// included (what libvirt's tests compare against).
    pub fn to_xml(&self) -> String {
        self.format(&FormatOptions {
            secure: true,
            ..FormatOptions::default()
        })
    }

    /// Formats with libvirt's format flags. Without `inactive`, a running domain (one with an
    /// `id`) shows `id='N'`.
    pub fn format(&self, options: &FormatOptions) -> String {
        let mut w = Writer::with_capacity(4096);
        let mut flags = *options;
        if self.id.is_none() {
            flags.inactive = true;
        }
        w.set_flags(flags);
        self.write_element(&mut w, "domain");
        w.finish()
    }

    /// The domain name, or an empty string.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// Total memory in KiB (0 when unset).
    pub fn memory_kib(&self) -> u64 {
        self.memory.as_ref().map_or(0, |memory| memory.size.0)
    }

    /// Sets the total memory in KiB.
    pub fn set_memory_kib(&mut self, kib: u64) {
        match &mut self.memory {
            Some(memory) => memory.size = ScaledKib(kib),
            None => {
                self.memory = Some(MemorySize {
                    dump_core: None,
                    size: ScaledKib(kib),
                })
            }
        }
    }

    /// The balloon target in KiB (the total memory when unset).
    pub fn current_memory_kib(&self) -> u64 {
        self.current_memory
            .map_or(self.memory_kib(), |current| current.0)
    }

    /// Maximum vCPUs (`<vcpu>` text), 1 when unset.
    pub fn max_vcpus(&self) -> u32 {
        self.vcpu.as_ref().and_then(|vcpu| vcpu.count).unwrap_or(1)
    }

    /// Online vCPUs (`<vcpu current>`, or the maximum).
    pub fn current_vcpus(&self) -> u32 {
        self.vcpu
            .as_ref()
            .and_then(|vcpu| vcpu.current)
            .unwrap_or_else(|| self.max_vcpus())
    }

    /// `<os><type>` keyword.
    pub fn os_type(&self) -> Option<OsType> {
        self.os.as_ref().and_then(Os::kind)
    }

    /// Metadata element in namespace `uri` (`virDomainGetMetadata` ELEMENT).
    pub fn metadata_element(&self, uri: &str) -> Option<String> {
        self.metadata
            .as_ref()
            .and_then(|metadata| metadata.get(uri))
    }

    /// Sets (or with `None` removes) the metadata element in namespace `uri`
    /// (`virDomainSetMetadata` ELEMENT).
    pub fn set_metadata_element(&mut self, xml: Option<&str>, key: &str, uri: &str) -> Result<()> {
        match xml {
            Some(xml) => self
                .metadata
                .get_or_insert_with(Metadata::default)
                .set(xml, key, uri),
            None => {
                // libvirt keeps an emptied `<metadata/>`.
                if let Some(metadata) = &mut self.metadata {
                    metadata.remove(uri);
                }
                Ok(())
            }
        }
    }
}

fn text_of(node: &Node<'_>, name: &str) -> Option<String> {
    node.child(name)
        .map(|child| child.text().into_owned())
        .filter(|text| !text.is_empty())
}

fn lifecycle<T: crate::xml::XmlValue>(
    node: &Node<'_>,
    name: &str,
    what: &str,
) -> Result<Option<T>> {
    match text_of(node, name) {
        None => Ok(None),
        Some(text) => T::parse_value(&text).map(Some).ok_or_else(|| {
            Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::DOMAIN,
                format!("unknown {what} action: {text}"),
            )
        }),
    }
}

impl XmlElement for Domain {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let id = match node.attr("id") {
            None => None,
            Some(text) => Some(parse_attr_value::<i32>(node, "id", text)?),
        };
        let Some(name) = text_of(node, "name") else {
            return Err(Error::new(ErrorNumber::NO_NAME, ErrorDomain::DOMAIN, ""));
        };
        let uuid = match text_of(node, "uuid") {
            None => None,
            Some(text) => Some(virt_core::parse_uuid(&text).ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::DOMAIN,
                    "malformed uuid element",
                )
            })?),
        };
        let genid = match node.children_named("genid").count() {
            0 => None,
            1 => match text_of(node, "genid") {
                None => Some(None),
                Some(text) => Some(Some(virt_core::parse_uuid(&text).ok_or_else(|| {
                    Error::new(
                        ErrorNumber::INTERNAL_ERROR,
                        ErrorDomain::DOMAIN,
                        "malformed genid element",
                    )
                })?)),
            },
            _ => {
                return Err(Error::new(
                    ErrorNumber::XML_ERROR,
                    ErrorDomain::DOMAIN,
                    "element 'genid' can only appear once",
                ))
            }
        };
        let virt_type = match node.attr("type") {
            None => {
                return Err(Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::DOMAIN,
                    "missing domain type attribute",
                ))
            }
            Some(text) => Some(VirtType::from_keyword(text).ok_or_else(|| {
                Error::new(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    ErrorDomain::DOMAIN,
                    format!("invalid domain type {text}"),
                )
            })?),
        };
        let title = text_of(node, "title");
        if title.as_deref().is_some_and(|title| title.contains('\n')) {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::DOMAIN,
                "Domain title can't contain newlines",
            ));
        }
        if node.children_named("resource").count() > 1 {
            return Err(Error::new(
                ErrorNumber::XML_ERROR,
                ErrorDomain::DOMAIN,
                "only one resource element is supported",
            ));
        }

        let namespaces_in_scope: Vec<(String, String)> = node
            .attrs()
            .filter_map(|(key, value)| {
                if let Some(prefix) = key.strip_prefix("xmlns:") {
                    Some((prefix.to_string(), value.to_string()))
                } else if key == "xmlns" {
                    Some((String::new(), value.to_string()))
                } else {
                    None
                }
            })
            .collect();

        let devices = match node.child("devices") {
            Some(devices) => Devices::from_node(devices)?,
            None => Devices::default(),
        };

        let domain = Domain {
            virt_type,
            id,
            name: Some(name),
            uuid,
            genid,
            title,
            description: text_of(node, "description"),
            metadata: node
                .child("metadata")
                .map(|metadata| Metadata::from_node(metadata, &namespaces_in_scope)),
            max_memory: ChildField::parse_child(node, "maxMemory")?,
            memory: ChildField::parse_child(node, "memory")?,
            current_memory: ChildField::parse_child(node, "currentMemory")?,
            blkiotune: ChildField::parse_child(node, "blkiotune")?,
            memtune: ChildField::parse_child(node, "memtune")?,
            memory_backing: ChildField::parse_child(node, "memoryBacking")?,
            vcpu: ChildField::parse_child(node, "vcpu")?,
            vcpus: ChildField::parse_child(node, "vcpus")?,
            iothreads: TextChildField::parse_text_child(node, "iothreads")?,
            iothreadids: ChildField::parse_child(node, "iothreadids")?,
            defaultiothread: ChildField::parse_child(node, "defaultiothread")?,
            cputune: ChildField::parse_child(node, "cputune")?,
            numatune: ChildField::parse_child(node, "numatune")?,
            resource: ChildField::parse_child(node, "resource")?,
            sysinfo: ChildField::parse_child(node, "sysinfo")?,
            bootloader: text_of(node, "bootloader"),
            bootloader_args: text_of(node, "bootloader_args"),
            os: ChildField::parse_child(node, "os")?,
            idmap: ChildField::parse_child(node, "idmap")?,
            features: ChildField::parse_child(node, "features")?,
            cpu: ChildField::parse_child(node, "cpu")?,
            clock: ChildField::parse_child(node, "clock")?,
            on_poweroff: lifecycle(node, "on_poweroff", "on_poweroff")?,
            on_reboot: lifecycle(node, "on_reboot", "on_reboot")?,
            on_crash: lifecycle(node, "on_crash", "on_crash")?,
            on_lockfailure: lifecycle(node, "on_lockfailure", "on_lockfailure")?,
            pm: ChildField::parse_child(node, "pm")?,
            perf: ChildField::parse_child(node, "perf")?,
            devices,
            seclabels: ChildField::parse_child(node, "seclabel")?,
            keywrap: ChildField::parse_child(node, "keywrap")?,
            launch_security: ChildField::parse_child(node, "launchSecurity")?,
            qemu: QemuNamespace::from_domain_node(node, &namespaces_in_scope)?,
            lxc: LxcNamespace::from_domain_node(node, &namespaces_in_scope)?,
            bhyve: BhyveNamespace::from_domain_node(node, &namespaces_in_scope)?,
            vmware: VmwareNamespace::from_domain_node(node, &namespaces_in_scope)?,
            xen: XenNamespace::from_domain_node(node, &namespaces_in_scope)?,
        };
        domain.parse_checks()?;
        Ok(domain)
    }

    fn write_attrs(&self, w: &mut Writer) {
        self.virt_type.write_attr(w, "type");
        if !w.flags().inactive {
            self.id.write_attr(w, "id");
        }
        if self.qemu.as_ref().is_some_and(|qemu| !qemu.is_empty()) {
            w.attr("xmlns:qemu", namespaces::QEMU_NAMESPACE);
        }
        if self.lxc.as_ref().is_some_and(|lxc| !lxc.is_empty()) {
            w.attr("xmlns:lxc", namespaces::LXC_NAMESPACE);
        }
        if self.bhyve.as_ref().is_some_and(|bhyve| !bhyve.is_empty()) {
            w.attr("xmlns:bhyve", namespaces::BHYVE_NAMESPACE);
        }
        if self
            .vmware
            .as_ref()
            .is_some_and(|vmware| !vmware.is_empty())
        {
            w.attr("xmlns:vmware", namespaces::VMWARE_NAMESPACE);
        }
        if self.xen.as_ref().is_some_and(|xen| !xen.is_empty()) {
            w.attr("xmlns:xen", namespaces::XEN_NAMESPACE);
        }
    }

    fn write_body(&self, w: &mut Writer) {
        self.name.write_text_child(w, "name");
        if let Some(uuid) = &self.uuid {
            w.text_element("uuid", &uuid.hyphenated().to_string());
        }
        if let Some(genid) = &self.genid {
            match genid {
                Some(genid) => w.text_element("genid", &genid.hyphenated().to_string()),
                None => w.empty_element("genid"),
            }
        }
        self.title.write_text_child(w, "title");
        self.description.write_text_child(w, "description");
        if let Some(metadata) = &self.metadata {
            metadata.write(w);
        }
        self.max_memory.write_child(w, "maxMemory");
        self.memory.write_child(w, "memory");
        self.current_memory.write_child(w, "currentMemory");
        self.blkiotune.write_child(w, "blkiotune");
        self.memtune.write_child(w, "memtune");
        self.memory_backing.write_child(w, "memoryBacking");
        self.vcpu.write_child(w, "vcpu");
        self.vcpus.write_child(w, "vcpus");
        self.iothreads.write_text_child(w, "iothreads");
        self.iothreadids.write_child(w, "iothreadids");
        self.defaultiothread.write_child(w, "defaultiothread");
        self.cputune.write_child(w, "cputune");
        self.numatune.write_child(w, "numatune");
        self.resource.write_child(w, "resource");
        self.sysinfo.write_child(w, "sysinfo");
        if self.bootloader.is_some() {
            self.bootloader.write_text_child(w, "bootloader");
            self.bootloader_args.write_text_child(w, "bootloader_args");
        }
        match &self.os {
            // A domain with a boot loader boots as it says: libvirt writes no boot devices,
            // boot menu or BIOS settings.
            Some(os) if self.bootloader.is_some() => {
                let mut os = os.clone();
                os.boot.clear();
                os.bootmenu = None;
                os.bios = None;
                Some(os).write_child(w, "os");
            }
            os => os.write_child(w, "os"),
        }
        self.idmap.write_child(w, "idmap");
        self.features.write_child(w, "features");
        self.cpu.write_child(w, "cpu");
        self.clock.write_child(w, "clock");
        self.on_poweroff.write_text_child(w, "on_poweroff");
        self.on_reboot.write_text_child(w, "on_reboot");
        self.on_crash.write_text_child(w, "on_crash");
        self.on_lockfailure.write_text_child(w, "on_lockfailure");
        self.pm.write_child(w, "pm");
        self.perf.write_child(w, "perf");
        self.devices.write_element(w, "devices");
        self.seclabels.write_child(w, "seclabel");
        self.keywrap.write_child(w, "keywrap");
        self.launch_security.write_child(w, "launchSecurity");
        if let Some(qemu) = &self.qemu {
            qemu.write(w);
        }
        if let Some(lxc) = &self.lxc {
            lxc.write(w);
        }
        if let Some(bhyve) = &self.bhyve {
            bhyve.write(w);
        }
        if let Some(vmware) = &self.vmware {
            vmware.write(w);
        }
        if let Some(xen) = &self.xen {
            xen.write(w);
        }
    }
}

/// Formats a MAC address as libvirt does (lower-case, colon-separated).
pub fn format_mac(mac: [u8; 6]) -> String {
    let mut out = String::with_capacity(17);
    for (idx, byte) in mac.iter().enumerate() {
        if idx > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Rewrites a MAC address the way libvirt stores it (lower case, two digits per byte);
/// leaves text that is not a MAC address alone.
pub fn normalize_mac(mac: &mut String) {
    if let Some(bytes) = parse_mac(mac) {
        *mac = format_mac(bytes);
    }
}

/// Parses a MAC address (`aa:bb:cc:dd:ee:ff`, hex digits of either case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(mac)
}
