//! The SDK's traits, answered by [`crate::runtime`].

use virt_core::consts::domain_xml_flags as xml_flags;
use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::process::{ProcessHandle, ProcessStatus};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{
    ConsoleEndpoint, DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};
use virt_xml::capabilities::{Capabilities, Host, HostCpu};

use crate::runtime;

/// The plugin: every call works on the records of the connection's space and on `xl`.
pub struct XenDriver;

/// The format `domxml-to-native`/`-from-native` take.
const NATIVE_FORMAT: &str = "xen-xl";

fn check_format(format: &str) -> Result<(), Error> {
    if format == NATIVE_FORMAT {
        return Ok(());
    }
    Err(virt_core::Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::LIBXL,
        format!("unsupported config type {format}"),
    )
    .into())
}

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::LIBXL, flags, allowed, api)
}

impl Connect for XenDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "xen".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["xen".to_string()],
            hypervisor_version: 0,
        }
    }

    /// `xen:///system` (or `xen:///`), as libvirt's libxl driver accepts them.
    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let parsed = wit(virt_core::ConnectUri::parse(&uri))?;
        if !matches!(parsed.path.as_str(), "" | "/" | "/system") {
            return Err(virt_core::Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::LIBXL,
                format!(
                    "unexpected Xen URI path '{}', try xen:///system",
                    parsed.path
                ),
            )
            .into());
        }
        let status = state::bind_space("system", Persistence::Persistent)?;
        runtime::space_loaded(status);
        Ok(())
    }

    fn get_hostname(&self) -> Result<String, Error> {
        let name = virt_plugin_sdk::host::files::read("/proc/sys/kernel/hostname")
            .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
            .unwrap_or_default();
        Ok(name)
    }

    /// The host and the guest types `xl info`'s `xen_caps` lists.
    fn get_capabilities(&self) -> Result<String, Error> {
        let info = wit(runtime::xl_info())?;
        let arch = info.host_facts().arch;
        let caps = Capabilities {
            host: Some(Host {
                uuid: virt_plugin_sdk::node::host_uuid(),
                cpu: Some(HostCpu {
                    arch: Some(arch),
                    ..HostCpu::default()
                }),
                ..Host::default()
            }),
            guests: info.capability_guests(),
            pool_types: None,
        };
        Ok(caps.to_xml())
    }

    /// libxl's `libxl_get_max_cpus`: the host's highest CPU id plus one.
    fn get_max_vcpus(&self, _virt_type: Option<String>) -> Result<i32, Error> {
        let info = wit(runtime::xl_info())?;
        let max = info
            .get("max_cpu_id")
            .and_then(|id| id.parse::<i32>().ok())
            .map(|id| id + 1)
            .unwrap_or(info.node_info().cpus as i32);
        Ok(max)
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        Ok(wit(runtime::xl_info())?.node_info())
    }

    fn node_get_free_memory(&self) -> Result<u64, Error> {
        Ok(wit(runtime::xl_info())?.free_memory_bytes())
    }

    /// The configuration `xl create` would be given.
    fn domain_xml_to_native(
        &self,
        format: String,
        xml: String,
        _flags: u32,
    ) -> Result<String, Error> {
        check_format(&format)?;
        let domain = wit(virt_xml::domain::Domain::parse(&xml))?;
        wit(virt_xl::domain_to_xl(&domain, &wit(runtime::host_facts())?))
    }

    fn domain_xml_from_native(
        &self,
        format: String,
        config: String,
        _flags: u32,
    ) -> Result<String, Error> {
        check_format(&format)?;
        let domain = wit(virt_xl::xl_to_domain(&config, &wit(runtime::host_facts())?))?;
        Ok(domain.format(&virt_xml::domain::FormatOptions::default()))
    }
}

impl Domains for XenDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name).map(|record| runtime::reference(&record)))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()).map(|record| runtime::reference(&record)))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id).map(|record| runtime::reference(&record)))
    }

    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        let records = wit(runtime::all())?;
        Ok(records
            .iter()
            .filter(|record| {
                virt_plugin_sdk::listing::domain_listed(
                    flags,
                    record.live.is_some(),
                    record.persistent,
                )
            })
            .map(runtime::reference)
            .collect())
    }

    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        check_flags(flags, 0, "virDomainDefineXMLFlags")?;
        wit(runtime::define(&xml))
    }

    fn undefine(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
        wit(runtime::undefine(&dom))
    }

    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        use virt_core::consts::domain_create_flags::START_PAUSED;
        check_flags(flags, START_PAUSED, "virDomainCreateWithFlags")?;
        wit(runtime::create(&dom, flags))
    }

    fn create_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        use virt_core::consts::domain_create_flags::START_PAUSED;
        check_flags(flags, START_PAUSED, "virDomainCreateXML")?;
        wit(runtime::create_xml(&xml, flags))
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

    fn suspend(&self, dom: DomainRef) -> Result<(), Error> {
        wit(runtime::suspend(&dom))
    }

    fn resume(&self, dom: DomainRef) -> Result<(), Error> {
        wit(runtime::resume(&dom))
    }

    fn save(
        &self,
        dom: DomainRef,
        path: String,
        dxml: Option<String>,
        flags: u32,
    ) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainSaveFlags")?;
        if dxml.is_some() {
            return Err(virt_core::Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::LIBXL,
                "xml modification unsupported",
            )
            .into());
        }
        wit(runtime::save(&dom, &path))
    }

    fn restore(&self, path: String, dxml: Option<String>, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainRestoreFlags")?;
        if dxml.is_some() {
            return Err(virt_core::Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::LIBXL,
                "xml modification unsupported",
            )
            .into());
        }
        wit(runtime::restore(&path))
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
        check_flags(
            flags,
            xml_flags::SECURE | xml_flags::INACTIVE | xml_flags::UPDATE_CPU | xml_flags::MIGRATABLE,
            "virDomainGetXMLDesc",
        )?;
        wit(runtime::get_xml(&dom, flags & xml_flags::INACTIVE != 0))
    }

    fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
        wit(runtime::get_os_type(&dom))
    }

    fn set_autostart(&self, dom: DomainRef, autostart: bool) -> Result<(), Error> {
        wit(runtime::set_autostart(&dom, autostart))
    }

    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        wit(runtime::get_max_memory(&dom))
    }

    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_memory_mod_flags as memory;
        check_flags(
            flags,
            memory::LIVE | memory::CONFIG | memory::MAXIMUM,
            "virDomainSetMemoryFlags",
        )?;
        wit(runtime::set_memory(&dom, kib, flags))
    }

    fn set_max_memory(&self, dom: DomainRef, kib: u64) -> Result<(), Error> {
        use virt_core::consts::domain_memory_mod_flags as memory;
        wit(runtime::set_memory(&dom, kib, memory::MAXIMUM))
    }

    fn get_vcpus(&self, dom: DomainRef, flags: u32) -> Result<i32, Error> {
        use virt_core::consts::domain_vcpu_flags as vcpu;
        check_flags(
            flags,
            vcpu::LIVE | vcpu::CONFIG | vcpu::MAXIMUM,
            "virDomainGetVcpusFlags",
        )?;
        wit(runtime::get_vcpus(&dom, flags))
    }

    fn set_vcpus(&self, dom: DomainRef, count: u32, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_vcpu_flags as vcpu;
        check_flags(
            flags,
            vcpu::LIVE | vcpu::CONFIG | vcpu::MAXIMUM,
            "virDomainSetVcpusFlags",
        )?;
        wit(runtime::set_vcpus(&dom, count, flags))
    }

    fn get_max_vcpus(&self, dom: DomainRef) -> Result<i32, Error> {
        use virt_core::consts::domain_vcpu_flags as vcpu;
        wit(runtime::get_vcpus(&dom, vcpu::MAXIMUM))
    }

    fn attach_device(&self, dom: DomainRef, xml: String, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_device_modify_flags as modify;
        check_flags(
            flags,
            modify::LIVE | modify::CONFIG,
            "virDomainAttachDeviceFlags",
        )?;
        wit(runtime::attach_device(&dom, &xml, flags))
    }

    fn detach_device(&self, dom: DomainRef, xml: String, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_device_modify_flags as modify;
        check_flags(
            flags,
            modify::LIVE | modify::CONFIG,
            "virDomainDetachDeviceFlags",
        )?;
        wit(runtime::detach_device(&dom, &xml, flags))
    }

    fn open_console(
        &self,
        dom: DomainRef,
        dev_name: Option<String>,
        _flags: u32,
    ) -> Result<ConsoleEndpoint, Error> {
        wit(runtime::open_console(&dom, dev_name.as_deref()))
    }
}

impl Handlers for XenDriver {
    fn process_exited(&self, handle: ProcessHandle, status: ProcessStatus) {
        runtime::process_exited(handle, status.exit_code);
    }
}
impl Snapshots for XenDriver {}
impl Networks for XenDriver {}
impl Storage for XenDriver {}
impl HostDevices for XenDriver {}
impl Secrets for XenDriver {}

virt_plugin_sdk::export_plugin!(XenDriver = XenDriver);
