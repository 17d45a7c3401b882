//! The exported interfaces: each call parses its arguments and hands over to [`runtime`].

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::{
    ConsoleEndpoint, DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    check_flags, wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets,
    Snapshots, Storage,
};
use virt_xml::capabilities::{Capabilities, Guest, Host, HostCpu};

use crate::{hmc, runtime, uri};

/// The plugin; all it knows lives in the connection's space and on the HMC.
pub struct PhypDriver;

impl Connect for PhypDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "PHYP".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["phyp".to_string()],
            hypervisor_version: 0,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
        let target = wit(uri::parse(&parsed))?;
        wit(runtime::open(target))
    }

    fn close(&self) {
        runtime::close();
    }

    /// The managed system's name (an IVM's, on an IVM).
    fn get_hostname(&self) -> Result<String, Error> {
        wit(runtime::system()).map(|system| system.name)
    }

    /// libvirt's PHYP capabilities: one guest type, `linux` on ppc64, virt type `phyp`.
    fn get_capabilities(&self) -> Result<String, Error> {
        let system = wit(runtime::system())?;
        let caps = Capabilities {
            host: Some(Host {
                uuid: Some(runtime::host_uuid(&system).to_string()),
                cpu: Some(HostCpu {
                    arch: Some(hmc::ARCH.to_string()),
                    ..HostCpu::default()
                }),
                ..Host::default()
            }),
            guests: vec![Guest::simple(hmc::OS_TYPE, hmc::ARCH, 64, "phyp")],
            pool_types: None,
        };
        Ok(caps.to_xml())
    }

    fn get_max_vcpus(&self, _virt_type: Option<String>) -> Result<i32, Error> {
        let system = wit(runtime::system())?;
        Ok(i32::try_from(system.processors).unwrap_or(i32::MAX))
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        wit(runtime::node_info())
    }

    fn node_get_free_memory(&self) -> Result<u64, Error> {
        wit(runtime::system()).map(|system| system.free_memory_mb * 1024 * 1024)
    }
}

impl Domains for PhypDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id))
    }

    /// Every partition is persistent (it exists only while defined on the HMC).
    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        let domains = wit(runtime::all())?;
        Ok(domains
            .into_iter()
            .filter(|(_, active)| virt_plugin_sdk::listing::domain_listed(flags, *active, true))
            .map(|(reference, _)| reference)
            .collect())
    }

    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(virt_core::Error::check_flags(
            ErrorDomain::PHYP,
            flags,
            0,
            "virDomainDefineXMLFlags",
        ))?;
        wit(runtime::define(&xml))
    }

    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(virt_core::Error::check_flags(
            ErrorDomain::PHYP,
            flags,
            0,
            "virDomainUndefineFlags",
        ))?;
        wit(runtime::undefine(&dom))
    }

    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        wit(virt_core::Error::check_flags(
            ErrorDomain::PHYP,
            flags,
            0,
            "virDomainCreateWithFlags",
        ))?;
        wit(runtime::create(&dom))
    }

    /// libvirt's `virDomainCreateXML` for PHYP made the partition and started it.
    fn create_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(virt_core::Error::check_flags(
            ErrorDomain::PHYP,
            flags,
            0,
            "virDomainCreateXML",
        ))?;
        let defined = wit(runtime::define(&xml))?;
        wit(runtime::create(&defined))
    }

    fn destroy(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
        wit(runtime::destroy(&dom))
    }

    fn shutdown(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
        wit(runtime::shutdown(&dom))
    }

    fn reboot(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
        wit(runtime::reboot(&dom))
    }

    fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
        wit(runtime::get_info(&dom))
    }

    fn get_state(&self, dom: DomainRef, _flags: u32) -> Result<DomainState, Error> {
        wit(runtime::get_state(&dom))
    }

    fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
        wit(runtime::get_status(&dom))
    }

    fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        use virt_core::consts::domain_xml_flags as xml;
        wit(virt_core::Error::check_flags(
            ErrorDomain::PHYP,
            flags,
            xml::SECURE | xml::INACTIVE | xml::UPDATE_CPU | xml::MIGRATABLE,
            "virDomainGetXMLDesc",
        ))?;
        wit(runtime::get_xml(&dom, flags & xml::INACTIVE != 0))
    }

    fn get_os_type(&self, _dom: DomainRef) -> Result<String, Error> {
        Ok(hmc::OS_TYPE.to_string())
    }

    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        wit(runtime::resources_of(&dom)).map(|r| r.max_mem_mb * 1024)
    }

    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_memory_mod_flags as memory;
        if flags & memory::MAXIMUM != 0 {
            return wit(runtime::set_max_memory(&dom, kib));
        }
        wit(runtime::set_memory(&dom, kib, flags))
    }

    fn set_max_memory(&self, dom: DomainRef, kib: u64) -> Result<(), Error> {
        wit(runtime::set_max_memory(&dom, kib))
    }

    fn get_vcpus(&self, dom: DomainRef, flags: u32) -> Result<i32, Error> {
        use virt_core::consts::domain_vcpu_flags as vcpu;
        let resources = wit(runtime::resources_of(&dom))?;
        let count = if flags & vcpu::MAXIMUM != 0 {
            resources.max_procs
        } else {
            resources.procs
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    fn set_vcpus(&self, dom: DomainRef, count: u32, flags: u32) -> Result<(), Error> {
        wit(runtime::set_vcpus(&dom, count, flags))
    }

    fn get_max_vcpus(&self, dom: DomainRef) -> Result<i32, Error> {
        let resources = wit(runtime::resources_of(&dom))?;
        Ok(i32::try_from(resources.max_procs).unwrap_or(i32::MAX))
    }

    fn open_console(
        &self,
        dom: DomainRef,
        dev_name: Option<String>,
        flags: u32,
    ) -> Result<ConsoleEndpoint, Error> {
        use virt_core::consts::domain_console_flags as console;
        check_flags(
            ErrorDomain::PHYP,
            flags,
            console::FORCE | console::SAFE,
            "virDomainOpenConsole",
        )?;
        wit(runtime::open_console(
            &dom,
            dev_name.as_deref(),
            flags & console::FORCE != 0,
        ))
    }

    fn set_autostart(&self, _dom: DomainRef, _autostart: bool) -> Result<(), Error> {
        Err(virt_core::Error::new(
            ErrorNumber::NO_SUPPORT,
            ErrorDomain::PHYP,
            "virDomainSetAutostart: a partition's power-on policy is the managed system's",
        )
        .into())
    }
}

impl Handlers for PhypDriver {}
impl Snapshots for PhypDriver {}
impl Networks for PhypDriver {}
impl Storage for PhypDriver {}
impl HostDevices for PhypDriver {}
impl Secrets for PhypDriver {}

virt_plugin_sdk::export_plugin!(PhypDriver = PhypDriver);
