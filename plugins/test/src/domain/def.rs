//! A domain definition, through `virt-xml`'s domain model, with what the test driver adds on
//! top of libvirt's generic post-parse steps: `i686` as the default architecture, `xen` or
//! `cirrus` as the default video model, and `testnetN` names for interfaces without a
//! target device. Also the test driver's XML namespace of node documents.
//!
//! Definitions are stored as libvirt-canonical XML (what `virDomainDefFormat` writes for the
//! inactive definition) and read back with the plain parser, which round-trips it exactly.

use virt_core::consts::domain_state;
use virt_core::consts::{domain_lifecycle, domain_lifecycle_action};
use virt_core::{Error, ErrorDomain, ErrorNumber, Result, Uuid};
use virt_xml::domain::interface::InterfaceTarget;
use virt_xml::domain::{
    Domain, InterfaceType, LifecycleAction, MemballoonModel, OsType, OsTypeElement,
    PostParseDriver, VcpuPin, VideoModel,
};
use virt_xml::xml::{Node, XmlElement};
use virt_xml::FormatFlags;

/// The architecture test domains default to (`defArch`).
const DEFAULT_ARCH: &str = "i686";

/// An interface of a definition, as guest-agent answers describe it.
pub(crate) struct GuestNic {
    /// The virtual network of a `type='network'` interface.
    pub network: Option<String>,
    /// The host-side device name.
    pub ifname: Option<String>,
    pub mac: Option<String>,
}

/// A domain definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct DomainDef(Domain);

impl DomainDef {
    /// Parses a definition for define/create: libvirt's post-parse steps and define-time
    /// checks, then the test driver's own defaults. (`VIR_DOMAIN_DEFINE_VALIDATE`'s RNG
    /// schema check is not made: rvirt has no RNG validator.)
    pub fn parse(xml: &str) -> Result<DomainDef> {
        let domain = Domain::parse(xml)?;
        DomainDef::accept(domain, true)
    }

    /// A domain embedded in another document (a snapshot): post-parse, no validation, as
    /// `VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE` reads it.
    pub fn from_embedded(domain: Domain) -> Result<DomainDef> {
        DomainDef::accept(domain, false)
    }

    /// A `<domain>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<DomainDef> {
        let domain = Domain::from_node(node)?;
        DomainDef::accept(domain, true)
    }

    /// The definition in a save image (`VIR_DOMAIN_DEF_PARSE_SKIP_VALIDATE`).
    pub fn parse_saved(xml: &str) -> Result<DomainDef> {
        let domain = Domain::parse(xml)?;
        DomainDef::accept(domain, false)
    }

    fn accept(mut domain: Domain, validate: bool) -> Result<DomainDef> {
        // A definition never carries the id of a running domain into the driver.
        domain.id = None;
        default_arch(&mut domain);
        // libvirt's test driver knows no hypervisor namespace: `<qemu:...>`, `<lxc:...>` go.
        domain.qemu = None;
        domain.lxc = None;
        domain.post_parse_with(&TestPostParse)?;
        if validate {
            domain.validate()?;
        }
        generate_ifnames(&mut domain)?;
        Ok(DomainDef(domain))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<DomainDef> {
        let mut domain = Domain::parse_bytes(bytes)?;
        domain.id = None;
        Ok(DomainDef(domain))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> String {
        self.0.format(&FormatFlags {
            secure: true,
            inactive: true,
            ..FormatFlags::default()
        })
    }

    /// `virDomainDefFormat` with `VIR_DOMAIN_XML_*` flags; `id` is the domain's id while it
    /// runs (-1 otherwise).
    pub fn format(&self, id: i32, flags: u32) -> String {
        use virt_core::consts::domain_xml_flags as xml_flags;
        let options = FormatFlags {
            secure: flags & xml_flags::SECURE != 0,
            inactive: flags & xml_flags::INACTIVE != 0 || id < 0,
            migratable: flags & xml_flags::MIGRATABLE != 0,
            status: false,
        };
        if options.inactive {
            return self.0.format(&options);
        }
        let mut live = self.0.clone();
        live.id = Some(id);
        live.format(&options)
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn set_name(&mut self, name: &str) {
        self.0.name = Some(name.to_string());
    }

    pub fn uuid(&self) -> Uuid {
        self.0.uuid.unwrap_or_default()
    }

    /// `virDomainDefGetMemoryTotal`.
    pub fn max_memory_kib(&self) -> u64 {
        self.0.memory_kib()
    }

    pub fn set_max_memory_kib(&mut self, kib: u64) {
        self.0.set_memory_kib(kib);
    }

    /// The balloon target (`mem.cur_balloon`).
    pub fn current_memory_kib(&self) -> u64 {
        self.0.current_memory_kib()
    }

    pub fn set_current_memory_kib(&mut self, kib: u64) {
        self.0.current_memory = Some(virt_xml::domain::ScaledKib(kib));
    }

    /// The domain has guest NUMA cells.
    pub fn has_numa_nodes(&self) -> bool {
        self.0
            .cpu
            .as_ref()
            .and_then(|cpu| cpu.numa.as_ref())
            .is_some_and(|numa| !numa.cells.is_empty())
    }

    /// `<maxMemory>`, the memory hotplug ceiling.
    pub fn hotplug_memory_limit_kib(&self) -> Option<u64> {
        self.0.max_memory.as_ref().map(|max| max.size.0)
    }

    /// Online vcpus.
    pub fn vcpus(&self) -> u32 {
        self.0.current_vcpus()
    }

    pub fn max_vcpus(&self) -> u32 {
        self.0.max_vcpus()
    }

    /// `virDomainDefSetVcpus`.
    pub fn set_vcpus(&mut self, count: u32) -> Result<()> {
        if count > self.max_vcpus() {
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::DOMAIN,
                "maximum vCPU count must not be less than current vCPU count",
            ));
        }
        let max = self.max_vcpus();
        let vcpu = self.0.vcpu.get_or_insert_with(Default::default);
        vcpu.count = Some(max);
        vcpu.current = (count != max).then_some(count);
        Ok(())
    }

    /// `virDomainDefSetVcpusMax`: vcpus beyond the new maximum go away.
    pub fn set_max_vcpus(&mut self, count: u32) {
        let online = self.vcpus();
        let vcpu = self.0.vcpu.get_or_insert_with(Default::default);
        vcpu.count = Some(count);
        vcpu.current = (online < count).then_some(online);
    }

    /// The `on_poweroff` action, as a `virDomainLifecycleAction`.
    pub fn on_poweroff(&self) -> i32 {
        lifecycle_action(self.0.on_poweroff)
    }

    /// The `on_reboot` action, as a `virDomainLifecycleAction`.
    pub fn on_reboot(&self) -> i32 {
        lifecycle_action(self.0.on_reboot)
    }

    /// `virDomainDiskIndexByName` found a disk: by target name, or by unambiguous source
    /// path for names starting with `/`.
    pub fn has_disk(&self, name: &str) -> bool {
        let disks = &self.0.devices.disks;
        if !name.starts_with('/') {
            return disks.iter().any(|disk| disk.target_dev() == Some(name));
        }
        disks
            .iter()
            .filter(|disk| disk.source_path() == Some(name))
            .count()
            == 1
    }

    /// The source of the disk `name` names (as `has_disk`): `None` without such a disk,
    /// `Some(None)` when the disk is empty (`virStorageSourceIsEmpty`).
    pub fn disk_source(&self, name: &str) -> Option<Option<String>> {
        let disks = &self.0.devices.disks;
        let disk = if name.starts_with('/') {
            let mut matching = disks.iter().filter(|disk| disk.source_path() == Some(name));
            match (matching.next(), matching.next()) {
                (Some(disk), None) => disk,
                _ => return None,
            }
        } else {
            disks.iter().find(|disk| disk.target_dev() == Some(name))?
        };
        Some(disk.source_path().map(str::to_string))
    }

    /// The guest device names of the disks, in definition order.
    pub fn disk_targets(&self) -> Vec<String> {
        self.0
            .devices
            .disks
            .iter()
            .map(|disk| disk.target_dev().unwrap_or_default().to_string())
            .collect()
    }

    /// The interfaces as the guest agent would describe them.
    pub fn interfaces(&self) -> Vec<GuestNic> {
        self.0
            .devices
            .interfaces
            .iter()
            .map(|iface| GuestNic {
                network: match iface.interface_type {
                    Some(InterfaceType::Network) => iface
                        .source
                        .as_ref()
                        .and_then(|source| source.network.clone()),
                    _ => None,
                },
                ifname: ifname(iface).map(str::to_string),
                mac: iface.mac_address().map(str::to_string),
            })
            .collect()
    }

    /// The host CPUs `vcpu` is pinned to (`<vcpupin>`), if it is.
    pub fn vcpu_pin(&self, vcpu: u32) -> Option<String> {
        self.0
            .cputune
            .as_ref()?
            .vcpupins
            .iter()
            .find(|pin| pin.vcpu == Some(vcpu))
            .and_then(|pin| pin.cpuset.clone())
    }

    /// The domain-wide CPU set (`<vcpu cpuset>`).
    pub fn cpuset(&self) -> Option<String> {
        self.0.vcpu.as_ref().and_then(|vcpu| vcpu.cpuset.clone())
    }

    /// Pins `vcpu` to `cpuset`, replacing an earlier pin (kept in vcpu order).
    pub fn set_vcpu_pin(&mut self, vcpu: u32, cpuset: &str) {
        let pins = &mut self.0.cputune.get_or_insert_with(Default::default).vcpupins;
        pins.retain(|pin| pin.vcpu != Some(vcpu));
        let at = pins
            .iter()
            .position(|pin| pin.vcpu.is_some_and(|other| other > vcpu))
            .unwrap_or(pins.len());
        pins.insert(
            at,
            VcpuPin {
                vcpu: Some(vcpu),
                cpuset: Some(cpuset.to_string()),
            },
        );
    }

    /// Sets what happens on a `virDomainLifecycle` event to a `virDomainLifecycleAction`.
    pub fn set_lifecycle_action(&mut self, kind: i32, action: i32) -> Result<()> {
        let action = match action {
            domain_lifecycle_action::DESTROY => LifecycleAction::Destroy,
            domain_lifecycle_action::RESTART => LifecycleAction::Restart,
            domain_lifecycle_action::RESTART_RENAME => LifecycleAction::RenameRestart,
            domain_lifecycle_action::PRESERVE => LifecycleAction::Preserve,
            domain_lifecycle_action::COREDUMP_DESTROY => LifecycleAction::CoredumpDestroy,
            domain_lifecycle_action::COREDUMP_RESTART => LifecycleAction::CoredumpRestart,
            _ => {
                return Err(crate::error::invalid_arg(format!(
                    "unknown lifecycle action {action}"
                )))
            }
        };
        let slot = match kind {
            domain_lifecycle::POWEROFF => &mut self.0.on_poweroff,
            domain_lifecycle::REBOOT => &mut self.0.on_reboot,
            domain_lifecycle::CRASH => &mut self.0.on_crash,
            _ => {
                return Err(crate::error::invalid_arg(format!(
                    "unknown lifecycle type {kind}"
                )))
            }
        };
        *slot = Some(action);
        Ok(())
    }

    /// `virDomainNetFind`: an interface by MAC address or by host-side name.
    pub fn has_interface(&self, device: &str) -> bool {
        let interfaces = &self.0.devices.interfaces;
        match virt_xml::domain::parse_mac(device) {
            Some(mac) => interfaces.iter().any(|iface| {
                iface.mac_address().and_then(virt_xml::domain::parse_mac) == Some(mac)
            }),
            None => interfaces.iter().any(|iface| ifname(iface) == Some(device)),
        }
    }

    /// `virDomainDefHasMemballoon`.
    pub fn has_memballoon(&self) -> bool {
        self.0
            .devices
            .memballoon
            .as_ref()
            .is_some_and(|balloon| balloon.model != Some(MemballoonModel::None))
    }

    /// The ids of the IOThreads.
    pub fn iothread_ids(&self) -> Vec<u32> {
        match &self.0.iothreadids {
            Some(ids) if !ids.iothreads.is_empty() => {
                ids.iothreads.iter().filter_map(|t| t.id).collect()
            }
            _ => (1..=self.0.iothreads.unwrap_or(0)).collect(),
        }
    }

    pub fn description(&self) -> Option<String> {
        self.0.description.clone()
    }

    pub fn set_description(&mut self, text: Option<&str>) {
        self.0.description = text.map(str::to_string);
    }

    pub fn title(&self) -> Option<String> {
        self.0.title.clone()
    }

    pub fn set_title(&mut self, text: Option<&str>) {
        self.0.title = text.map(str::to_string);
    }

    /// `virDomainGetMetadata` ELEMENT.
    pub fn metadata_element(&self, uri: &str) -> Result<Option<String>> {
        Ok(self.0.metadata_element(uri))
    }

    /// `virDomainSetMetadata` ELEMENT (`None` removes).
    pub fn set_metadata_element(
        &mut self,
        xml: Option<&str>,
        key: Option<&str>,
        uri: &str,
    ) -> Result<()> {
        self.0
            .set_metadata_element(xml, key.unwrap_or_default(), uri)
    }
}

impl DomainDef {
    /// The model underneath, for documents that embed a domain (snapshots).
    pub fn model(&self) -> &Domain {
        &self.0
    }

    /// The model, for changes the tunables make (`crate::domain::tuning`).
    pub fn model_mut(&mut self) -> &mut Domain {
        &mut self.0
    }

    /// Wraps a domain recorded by a document that embeds one (it was accepted then).
    pub fn from_model(domain: Domain) -> DomainDef {
        DomainDef(domain)
    }
}

fn lifecycle_action(action: Option<LifecycleAction>) -> i32 {
    match action {
        None | Some(LifecycleAction::Destroy) => domain_lifecycle_action::DESTROY,
        Some(LifecycleAction::Restart) => domain_lifecycle_action::RESTART,
        Some(LifecycleAction::RenameRestart) => domain_lifecycle_action::RESTART_RENAME,
        Some(LifecycleAction::Preserve) => domain_lifecycle_action::PRESERVE,
        Some(LifecycleAction::CoredumpDestroy) => domain_lifecycle_action::COREDUMP_DESTROY,
        Some(LifecycleAction::CoredumpRestart) => domain_lifecycle_action::COREDUMP_RESTART,
    }
}

fn ifname(iface: &virt_xml::domain::Interface) -> Option<&str> {
    iface
        .target
        .as_ref()
        .and_then(|target| target.dev.as_deref())
}

/// `virDomainDefPostParseCommon` fills `os.arch` from the driver's default.
fn default_arch(domain: &mut Domain) {
    let os = domain.os.get_or_insert_with(Default::default);
    let os_type = os.os_type.get_or_insert_with(OsTypeElement::default);
    if os_type.arch.is_none() {
        os_type.arch = Some(DEFAULT_ARCH.to_string());
    }
}

/// The test driver's part of post-parse (`testDomainDevicesDefPostParse`).
struct TestPostParse;

impl PostParseDriver for TestPostParse {
    /// Xen's for Xen and Linux guests, VGA on ppc64, Cirrus otherwise.
    fn default_video_model(&self, domain: &Domain) -> Option<VideoModel> {
        let arch = domain
            .os
            .as_ref()
            .and_then(|os| os.os_type.as_ref())
            .and_then(|os_type| os_type.arch.as_deref());
        Some(
            if matches!(domain.os_type(), Some(OsType::Xen) | Some(OsType::Linux)) {
                VideoModel::Xen
            } else if matches!(arch, Some("ppc64" | "ppc64le")) {
                VideoModel::Vga
            } else {
                VideoModel::Cirrus
            },
        )
    }
}

/// `testDomainGenerateIfnames`: `testnetN`, the lowest N no interface uses.
fn generate_ifnames(domain: &mut Domain) -> Result<()> {
    const MAX_IFACES: usize = 1024;
    for idx in 0..domain.devices.interfaces.len() {
        if ifname(&domain.devices.interfaces[idx]).is_some() {
            continue;
        }
        let free = (0..MAX_IFACES)
            .map(|n| format!("testnet{n}"))
            .find(|candidate| {
                !domain
                    .devices
                    .interfaces
                    .iter()
                    .any(|iface| ifname(iface) == Some(candidate.as_str()))
            });
        let Some(name) = free else {
            return Err(crate::error::internal(format!(
                "Exceeded max iface limit {MAX_IFACES}"
            )));
        };
        let target = domain.devices.interfaces[idx]
            .target
            .get_or_insert_with(InterfaceTarget::default);
        target.dev = Some(name);
    }
    Ok(())
}

/// The namespace URI of the test driver's node-document extensions.
pub(crate) const TEST_NAMESPACE: &str = "http://libvirt.org/schemas/domain/test/1.0";

/// `testDomainDefNamespaceParse`: the test driver's extensions of a node document's domain.
#[derive(Debug)]
pub(crate) struct TestNamespace<'a, 'n> {
    /// The `virDomainState` to start in.
    pub runstate: i32,
    pub transient: bool,
    pub has_managed_save: bool,
    /// `<test:domainsnapshot>` elements, in order.
    pub snapshots: Vec<&'n Node<'a>>,
}

impl<'a, 'n> TestNamespace<'a, 'n> {
    pub fn from_node(domain: &'n Node<'a>) -> Result<TestNamespace<'a, 'n>> {
        let xml_error =
            |detail: &str| Error::new(ErrorNumber::XML_ERROR, ErrorDomain::TEST, detail);
        let ours: Vec<&Node<'a>> = domain
            .children()
            .filter(|child| {
                child.prefix().is_some_and(|prefix| {
                    domain.namespace_of(prefix) == Some(TEST_NAMESPACE)
                        || (prefix == "test" && domain.namespace_of(prefix).is_none())
                })
            })
            .collect();
        let named = |local: &str| ours.iter().copied().find(|node| node.local_name() == local);
        let runstate = match named("runstate") {
            None => domain_state::RUNNING,
            Some(node) => {
                let text = node.text();
                let value: u32 = text
                    .trim()
                    .parse()
                    .map_err(|_| xml_error("invalid runstate"))?;
                if value > domain_state::PMSUSPENDED as u32 {
                    return Err(xml_error(&format!("runstate '{value}' out of range'")));
                }
                value as i32
            }
        };
        let transient = named("transient").is_some();
        let has_managed_save = named("hasmanagedsave").is_some();
        if transient && runstate == domain_state::SHUTOFF {
            return Err(xml_error("transient domain cannot have runstate 'shutoff'"));
        }
        if has_managed_save && runstate != domain_state::SHUTOFF {
            return Err(xml_error(
                "domain with managedsave data can only have runstate 'shutoff'",
            ));
        }
        let snapshots = ours
            .into_iter()
            .filter(|node| node.local_name() == "domainsnapshot")
            .collect();
        Ok(TestNamespace {
            runstate,
            transient,
            has_managed_save,
            snapshots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "<domain type='test'><name>t</name><memory>1024</memory><os><type>hvm</type></os>\
        <devices><interface type='network'><source network='default'/></interface></devices></domain>";

    #[test]
    fn test_driver_defaults() {
        let def = DomainDef::parse(MINIMAL).expect("parses");
        let xml = def.format(-1, 0);
        assert!(xml.contains("<type arch='i686'>hvm</type>"), "{xml}");
        assert!(xml.contains("<boot dev='hd'/>"), "{xml}");
        assert!(xml.contains("<target dev='testnet0'/>"), "{xml}");
        assert!(!xml.contains(" id="), "{xml}");
        let live = def.format(4, 0);
        assert!(live.starts_with("<domain type='test' id='4'>"), "{live}");
        let again = DomainDef::from_stored(def.to_stored().as_bytes()).expect("reads back");
        assert_eq!(again.format(-1, 0), xml);
    }

    #[test]
    fn vcpu_changes() {
        let mut def = DomainDef::parse(
            MINIMAL
                .replace("<memory>", "<vcpu>4</vcpu><memory>")
                .as_str(),
        )
        .expect("parses");
        assert_eq!((def.vcpus(), def.max_vcpus()), (4, 4));
        def.set_vcpus(2).expect("fits");
        assert_eq!((def.vcpus(), def.max_vcpus()), (2, 4));
        assert!(def.set_vcpus(5).is_err());
        def.set_max_vcpus(1);
        assert_eq!((def.vcpus(), def.max_vcpus()), (1, 1));
    }
}
