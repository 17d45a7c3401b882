//! The exported interfaces: each call parses its arguments and hands over to [`runtime`].

use virt_core::ErrorDomain;
use virt_plugin_sdk::types::{
    DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};
use virt_xml::capabilities::{Capabilities, Guest, Host, HostCpu};

use crate::{runtime, uri};

/// The plugin; what it knows lives in the connection's space and on the server.
pub struct HypervDriver;

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::HYPERV, flags, allowed, api)
}

impl Connect for HypervDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "Hyper-V".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["hyperv".to_string()],
            hypervisor_version: 0,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
        let target = wit(uri::parse(&parsed, &mut |warning| {
            virt_plugin_sdk::warn!("{warning}")
        }))?;
        wit(runtime::open(target))
    }

    fn close(&self) {
        runtime::close();
    }

    fn get_hostname(&self) -> Result<String, Error> {
        wit(runtime::hostname())
    }

    /// libvirt's Hyper-V capabilities: x86_64 host, hvm guests on i686 and x86_64.
    fn get_capabilities(&self) -> Result<String, Error> {
        let guest = |arch: &str, wordsize: u32| Guest::simple("hvm", arch, wordsize, "hyperv");
        let caps = Capabilities {
            host: Some(Host {
                cpu: Some(HostCpu {
                    arch: Some("x86_64".into()),
                    ..HostCpu::default()
                }),
                ..Host::default()
            }),
            guests: vec![guest("i686", 32), guest("x86_64", 64)],
            pool_types: None,
        };
        Ok(caps.to_xml())
    }

    fn get_max_vcpus(&self, _virt_type: Option<String>) -> Result<i32, Error> {
        // Hyper-V 2012 and later: 64 virtual processors per machine, as libvirt answers.
        Ok(64)
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        wit(runtime::node_info())
    }
}

impl Domains for HypervDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id))
    }

    /// Every machine is persistent: Hyper-V has no transient ones.
    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        let domains = wit(runtime::all())?;
        Ok(domains
            .into_iter()
            .filter(|(_, active)| virt_plugin_sdk::listing::domain_listed(flags, *active, true))
            .map(|(reference, _)| reference)
            .collect())
    }

    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        check_flags(flags, 0, "virDomainDefineXMLFlags")?;
        wit(runtime::define(&xml))
    }

    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainUndefineFlags")?;
        wit(runtime::undefine(&dom))
    }

    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        check_flags(flags, 0, "virDomainCreateWithFlags")?;
        wit(runtime::create(&dom))
    }

    fn destroy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainDestroyFlags")?;
        wit(runtime::destroy(&dom))
    }

    fn shutdown(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainShutdownFlags")?;
        wit(runtime::shutdown(&dom))
    }

    fn reboot(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainReboot")?;
        wit(runtime::reboot(&dom))
    }

    fn reset(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainReset")?;
        wit(runtime::reset(&dom))
    }

    fn suspend(&self, dom: DomainRef) -> Result<(), Error> {
        wit(runtime::suspend(&dom))
    }

    fn resume(&self, dom: DomainRef) -> Result<(), Error> {
        wit(runtime::resume(&dom))
    }

    fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
        wit(runtime::get_info(&dom))
    }

    fn get_state(&self, dom: DomainRef, flags: u32) -> Result<DomainState, Error> {
        check_flags(flags, 0, "virDomainGetState")?;
        wit(runtime::get_state(&dom))
    }

    fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
        wit(runtime::get_status(&dom))
    }

    fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        use virt_core::consts::domain_xml_flags as xml;
        check_flags(
            flags,
            xml::SECURE | xml::INACTIVE | xml::UPDATE_CPU | xml::MIGRATABLE,
            "virDomainGetXMLDesc",
        )?;
        wit(runtime::get_xml(&dom))
    }

    fn get_os_type(&self, _dom: DomainRef) -> Result<String, Error> {
        Ok("hvm".to_string())
    }

    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        wit(runtime::settings_of(&dom)).map(|s| s.memory_limit_mb * 1024)
    }

    fn get_vcpus(&self, dom: DomainRef, _flags: u32) -> Result<i32, Error> {
        let settings = wit(runtime::settings_of(&dom))?;
        Ok(i32::try_from(settings.vcpus).unwrap_or(i32::MAX))
    }

    fn get_max_vcpus(&self, dom: DomainRef) -> Result<i32, Error> {
        self.get_vcpus(dom, 0)
    }
}

impl Handlers for HypervDriver {}
impl Snapshots for HypervDriver {}
impl Networks for HypervDriver {}
impl Storage for HypervDriver {}
impl HostDevices for HypervDriver {}
impl Secrets for HypervDriver {}

virt_plugin_sdk::export_plugin!(HypervDriver = HypervDriver);
