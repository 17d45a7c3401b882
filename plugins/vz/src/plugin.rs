//! The exported interfaces: each call checks its flags and hands over to [`runtime`].

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::{
    DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};
use virt_xml::capabilities::{
    Capabilities, Guest, GuestArch, GuestDomain, Host, HostCpu, MigrationFeatures, UriTransports,
};

use crate::runtime;

/// The plugin; prlctl is its only record.
pub struct VzDriver;

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::PARALLELS, flags, allowed, api)
}

impl Connect for VzDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "vz".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["vz".to_string()],
            hypervisor_version: 0,
        }
    }

    /// libvirt's `vzConnectOpen`: only `vz:///system`; prlctl must answer `--version`.
    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
        if parsed.path != "/system" {
            return Err(virt_core::Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::PARALLELS,
                format!(
                    "Unexpected Virtuozzo URI path '{}', try vz:///system",
                    parsed.path
                ),
            )
            .into());
        }
        wit(runtime::open()).map(|_| ())
    }

    /// libvirt's `vzBuildCapabilities`: OS types `hvm` and `exe` on `i686` and `x86_64`,
    /// each with emulator `vz` (domain type `vz`) and `parallels` (domain type `parallels`),
    /// and the `vzmigr` migration transport.
    fn get_capabilities(&self) -> Result<String, Error> {
        let facts = virt_plugin_sdk::node::host_facts();
        let mut guests = Vec::new();
        for os_type in ["hvm", "exe"] {
            for (arch, wordsize) in [("i686", 32), ("x86_64", 64)] {
                for emulator in ["vz", "parallels"] {
                    guests.push(Guest {
                        os_type: Some(os_type.into()),
                        arch: Some(GuestArch {
                            name: Some(arch.into()),
                            wordsize: Some(wordsize),
                            emulator: Some(emulator.into()),
                            loader: None,
                            machines: Vec::new(),
                            domains: vec![GuestDomain {
                                virt_type: Some(emulator.into()),
                                ..GuestDomain::default()
                            }],
                        }),
                        features: None,
                    });
                }
            }
        }
        let caps = Capabilities {
            host: Some(Host {
                uuid: virt_plugin_sdk::node::host_uuid(),
                cpu: Some(HostCpu {
                    arch: Some(facts.arch),
                    ..HostCpu::default()
                }),
                migration_features: Some(MigrationFeatures {
                    live: true,
                    uri_transports: Some(UriTransports {
                        transports: vec!["vzmigr".into()],
                    }),
                }),
                ..Host::default()
            }),
            guests,
            pool_types: None,
        };
        Ok(caps.to_xml())
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        Ok(virt_plugin_sdk::node::node_info())
    }
}

impl Domains for VzDriver {
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
        Ok(wit(runtime::all())?
            .into_iter()
            .filter(|(_, active)| virt_plugin_sdk::listing::domain_listed(flags, *active, true))
            .map(|(reference, _)| reference)
            .collect())
    }

    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        use virt_core::consts::domain_define_flags as define;
        check_flags(flags, define::VALIDATE, "virDomainDefineXMLFlags")?;
        wit(runtime::define(&xml))
    }

    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_undefine_flags_values as undefine;
        check_flags(
            flags,
            undefine::MANAGED_SAVE | undefine::SNAPSHOTS_METADATA,
            "virDomainUndefineFlags",
        )?;
        wit(runtime::undefine(&dom, flags))
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

    fn managed_save(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainManagedSave")?;
        wit(runtime::managed_save(&dom))
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

    fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
        wit(runtime::get_os_type(&dom))
    }
}

impl Handlers for VzDriver {}
impl Snapshots for VzDriver {}
impl Networks for VzDriver {}
impl Storage for VzDriver {}
impl HostDevices for VzDriver {}
impl Secrets for VzDriver {}

virt_plugin_sdk::export_plugin!(VzDriver = VzDriver);
