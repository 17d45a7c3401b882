//! The exported interfaces: each call parses its arguments and hands over to [`runtime`].

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::{
    DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};
use virt_xml::capabilities::{Capabilities, Guest, Host, HostCpu};

use crate::runtime;

/// The plugin; the containers are what vzlist lists.
pub struct OpenvzDriver;

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::OPENVZ, flags, allowed, api)
}

impl Connect for OpenvzDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "OPENVZ".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["openvz".to_string()],
            hypervisor_version: 0,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
        if parsed.path != "/system" {
            return Err(virt_core::Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::OPENVZ,
                format!(
                    "unexpected OpenVZ URI path '{}', try openvz:///system",
                    parsed.path
                ),
            )
            .into());
        }
        wit(runtime::open())
    }

    /// libvirt's `openvzCapsInit`: `exe` guests (containers) on the host's architecture.
    fn get_capabilities(&self) -> Result<String, Error> {
        let facts = virt_plugin_sdk::node::host_facts();
        let wordsize = if facts.arch.ends_with("64") { 64 } else { 32 };
        let guest = Guest::simple("exe", &facts.arch, wordsize, "openvz");
        let caps = Capabilities {
            host: Some(Host {
                uuid: virt_plugin_sdk::node::host_uuid(),
                cpu: Some(HostCpu {
                    arch: Some(facts.arch),
                    ..HostCpu::default()
                }),
                ..Host::default()
            }),
            guests: vec![guest],
            pool_types: None,
        };
        Ok(caps.to_xml())
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        Ok(virt_plugin_sdk::node::node_info())
    }
}

impl Domains for OpenvzDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id))
    }

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
        Ok("exe".to_string())
    }
}

impl Handlers for OpenvzDriver {}
impl Snapshots for OpenvzDriver {}
impl Networks for OpenvzDriver {}
impl Storage for OpenvzDriver {}
impl HostDevices for OpenvzDriver {}
impl Secrets for OpenvzDriver {}

virt_plugin_sdk::export_plugin!(OpenvzDriver = OpenvzDriver);
