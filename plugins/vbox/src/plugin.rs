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

use crate::{runtime, uri};

/// The plugin; what it knows lives in the connection's space and in VirtualBox.
pub struct VboxDriver;

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::VBOX, flags, allowed, api)
}

impl Connect for VboxDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "VBOX".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["vbox".to_string()],
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

    /// libvirt's VirtualBox capabilities: hvm guests on i686 and x86_64.
    fn get_capabilities(&self) -> Result<String, Error> {
        wit(runtime::version())?;
        let guest = |arch: &str, wordsize: u32| Guest::simple("hvm", arch, wordsize, "vbox");
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
        // VirtualBox's SchemaDefs::MaxCPUCount.
        Ok(64)
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        wit(runtime::node_info())
    }
}

impl Domains for VboxDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id))
    }

    /// Every machine is persistent: VirtualBox has no transient ones.
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
        Ok("hvm".to_string())
    }
}

impl Snapshots for VboxDriver {
    fn create_xml(&self, dom: DomainRef, xml: String, flags: u32) -> Result<String, Error> {
        check_flags(flags, 0, "virDomainSnapshotCreateXML")?;
        wit(runtime::snapshot_create(&dom, &xml))
    }

    fn list_all(&self, dom: DomainRef, flags: u32) -> Result<Vec<String>, Error> {
        use virt_core::consts::domain_snapshot_list_flags as snap;
        wit(runtime::snapshot_list(&dom, flags & snap::ROOTS != 0))
    }

    fn lookup_by_name(&self, dom: DomainRef, name: String, flags: u32) -> Result<String, Error> {
        check_flags(flags, 0, "virDomainSnapshotLookupByName")?;
        wit(runtime::snapshot_lookup(&dom, &name))
    }

    fn current(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        check_flags(flags, 0, "virDomainSnapshotCurrent")?;
        wit(runtime::snapshot_current(&dom))?.ok_or_else(|| {
            virt_core::Error::new(
                ErrorNumber::NO_DOMAIN_SNAPSHOT,
                ErrorDomain::VBOX,
                "the domain does not have a current snapshot",
            )
            .into()
        })
    }

    fn has_current(&self, dom: DomainRef, flags: u32) -> Result<bool, Error> {
        check_flags(flags, 0, "virDomainHasCurrentSnapshot")?;
        Ok(wit(runtime::snapshot_current(&dom))?.is_some())
    }

    fn is_current(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<bool, Error> {
        check_flags(flags, 0, "virDomainSnapshotIsCurrent")?;
        Ok(wit(runtime::snapshot_current(&dom))?.as_deref() == Some(snapshot.as_str()))
    }

    fn get_parent(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<String, Error> {
        check_flags(flags, 0, "virDomainSnapshotGetParent")?;
        wit(runtime::snapshot_parent(&dom, &snapshot))
    }

    fn get_xml(&self, dom: DomainRef, snapshot: String, _flags: u32) -> Result<String, Error> {
        wit(runtime::snapshot_xml(&dom, &snapshot))
    }

    /// VirtualBox keeps its snapshots itself: libvirt holds no metadata for them.
    fn has_metadata(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<bool, Error> {
        check_flags(flags, 0, "virDomainSnapshotHasMetadata")?;
        wit(runtime::snapshot_lookup(&dom, &snapshot)).map(|_| false)
    }

    fn revert(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainRevertToSnapshot")?;
        wit(runtime::snapshot_revert(&dom, &snapshot))
    }

    fn delete(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainSnapshotDelete")?;
        wit(runtime::snapshot_delete(&dom, &snapshot))
    }
}

impl Handlers for VboxDriver {}
impl Networks for VboxDriver {}
impl Storage for VboxDriver {}
impl HostDevices for VboxDriver {}
impl Secrets for VboxDriver {}

virt_plugin_sdk::export_plugin!(VboxDriver = VboxDriver);
