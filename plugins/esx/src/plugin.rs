//! The exported interfaces: each call checks its flags and hands over to [`runtime`].

use virt_core::consts::{domain_snapshot_create_flags as snap_create, domain_vcpu_flags};
use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::{
    DomainInfo, DomainRef, DomainState, Error, InterfaceRef, NetworkRef, NodeInfo, ObjectStatus,
    PoolInfo, PoolRef, Uuid, VolumeInfo, VolumeRef,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};
use virt_xml::capabilities::{Capabilities, Guest, Host, HostCpu};

use crate::{runtime, uri};

/// The plugin; what it knows lives in the connection's space and on the ESX host.
pub struct EsxDriver;

fn check_flags(flags: u32, allowed: u32, api: &str) -> Result<(), Error> {
    virt_plugin_sdk::check_flags(ErrorDomain::ESX, flags, allowed, api)
}

impl Connect for EsxDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "ESX".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["esx".to_string(), "gsx".to_string(), "vpx".to_string()],
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

    fn get_hostname(&self) -> Result<String, Error> {
        wit(runtime::hostname())
    }

    /// libvirt's ESX capabilities: hvm guests on i686 and x86_64 (a 64-bit host).
    fn get_capabilities(&self) -> Result<String, Error> {
        wit(runtime::version())?;
        let guest = |arch: &str, wordsize: u32| Guest::simple("hvm", arch, wordsize, "vmware");
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
        wit(runtime::max_vcpus())
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        wit(runtime::node_info())
    }

    /// `vmware-vmx`, with this host's datastores mapping file names.
    fn domain_xml_from_native(
        &self,
        format: String,
        config: String,
        flags: u32,
    ) -> Result<String, Error> {
        check_flags(flags, 0, "virConnectDomainXMLFromNative")?;
        check_format(&format)?;
        wit(runtime::from_native(&config))
    }

    fn domain_xml_to_native(
        &self,
        format: String,
        xml: String,
        flags: u32,
    ) -> Result<String, Error> {
        check_flags(flags, 0, "virConnectDomainXMLToNative")?;
        check_format(&format)?;
        wit(runtime::to_native(&xml))
    }
}

fn check_format(format: &str) -> Result<(), Error> {
    if format == "vmware-vmx" {
        return Ok(());
    }
    Err(virt_core::Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::ESX,
        format!("Unsupported config format '{format}'"),
    )
    .into())
}

impl Domains for EsxDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(runtime::by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(runtime::by_uuid(&uuid.into()))
    }

    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(runtime::by_id(id))
    }

    /// Every registered machine is persistent: vSphere has no transient ones.
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
        wit(runtime::get_max_memory(&dom))
    }

    fn set_max_memory(&self, dom: DomainRef, kib: u64) -> Result<(), Error> {
        wit(runtime::set_max_memory(&dom, kib))
    }

    /// The live memory limit, or with `VIR_DOMAIN_MEM_MAXIMUM` the memory size (what
    /// `virsh setmaxmem` sends).
    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_memory_mod_flags as mem;
        check_flags(flags, mem::LIVE | mem::MAXIMUM, "virDomainSetMemoryFlags")?;
        if flags & mem::MAXIMUM != 0 {
            return wit(runtime::set_max_memory(&dom, kib));
        }
        wit(runtime::set_memory(&dom, kib))
    }

    fn get_vcpus(&self, dom: DomainRef, flags: u32) -> Result<i32, Error> {
        use virt_core::consts::domain_modification_impact as impact;
        check_flags(
            flags,
            impact::LIVE | impact::CONFIG | domain_vcpu_flags::MAXIMUM,
            "virDomainGetVcpusFlags",
        )?;
        wit(runtime::get_vcpus(
            &dom,
            flags & domain_vcpu_flags::MAXIMUM != 0,
        ))
    }

    /// libvirt's ESX driver changes the live count (which is the configured one) only.
    fn set_vcpus(&self, dom: DomainRef, count: u32, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_modification_impact as impact;
        check_flags(flags, impact::LIVE, "virDomainSetVcpusFlags")?;
        wit(runtime::set_vcpus(&dom, count))
    }

    fn get_max_vcpus(&self, _dom: DomainRef) -> Result<i32, Error> {
        wit(runtime::max_vcpus())
    }
}

impl Snapshots for EsxDriver {
    fn create_xml(&self, dom: DomainRef, xml: String, flags: u32) -> Result<String, Error> {
        check_flags(flags, snap_create::QUIESCE, "virDomainSnapshotCreateXML")?;
        wit(runtime::snapshot_create(
            &dom,
            &xml,
            flags & snap_create::QUIESCE != 0,
        ))
    }

    fn list_all(&self, dom: DomainRef, flags: u32) -> Result<Vec<String>, Error> {
        use virt_core::consts::domain_snapshot_list_flags as snap;
        wit(runtime::snapshot_list(&dom, flags & snap::ROOTS != 0))
    }

    fn list_children(
        &self,
        dom: DomainRef,
        snapshot: String,
        _flags: u32,
    ) -> Result<Vec<String>, Error> {
        wit(runtime::snapshot_children(&dom, &snapshot))
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
                ErrorDomain::ESX,
                "Domain has no current snapshot",
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

    /// vSphere keeps its snapshots itself: libvirt holds no metadata for them.
    fn has_metadata(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<bool, Error> {
        check_flags(flags, 0, "virDomainSnapshotHasMetadata")?;
        wit(runtime::snapshot_lookup(&dom, &snapshot)).map(|_| false)
    }

    fn revert(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virDomainRevertToSnapshot")?;
        wit(runtime::snapshot_revert(&dom, &snapshot))
    }

    fn delete(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        use virt_core::consts::domain_snapshot_delete_flags as delete;
        check_flags(flags, delete::CHILDREN, "virDomainSnapshotDelete")?;
        wit(runtime::snapshot_delete(
            &dom,
            &snapshot,
            flags & delete::CHILDREN != 0,
        ))
    }
}

impl Storage for EsxDriver {
    fn lookup_pool_by_name(&self, name: String) -> Result<PoolRef, Error> {
        wit(runtime::pool_by_name(&name))
    }

    fn lookup_pool_by_uuid(&self, uuid: Uuid) -> Result<PoolRef, Error> {
        wit(runtime::pool_by_uuid(&uuid.into()))
    }

    fn lookup_pool_by_volume(&self, vol: VolumeRef) -> Result<PoolRef, Error> {
        wit(runtime::pool_by_name(&vol.pool))
    }

    /// Datastores are always active, persistent and autostarted, as libvirt shows them.
    fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>, Error> {
        use virt_core::consts::connect_list_all_storage_pools_flags as list;
        let pools = wit(runtime::pools())?;
        let excluded = list::INACTIVE | list::TRANSIENT | list::NO_AUTOSTART;
        if flags & excluded != 0 && flags & (list::ACTIVE | list::PERSISTENT | list::AUTOSTART) == 0
        {
            return Ok(Vec::new());
        }
        Ok(pools)
    }

    fn get_pool_info(&self, pool: PoolRef) -> Result<PoolInfo, Error> {
        wit(runtime::pool_info(&pool))
    }

    fn get_pool_xml(&self, pool: PoolRef, flags: u32) -> Result<String, Error> {
        use virt_core::consts::storage_xml_flags as xml;
        check_flags(flags, xml::INACTIVE, "virStoragePoolGetXMLDesc")?;
        wit(runtime::pool_xml(&pool))
    }

    fn get_pool_status(&self, pool: PoolRef) -> Result<ObjectStatus, Error> {
        wit(runtime::pool_info(&pool))?;
        Ok(ObjectStatus {
            active: true,
            persistent: true,
            autostart: true,
            updated: false,
            has_managed_save: false,
        })
    }

    /// vSphere refreshes its datastores itself.
    fn refresh_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virStoragePoolRefresh")?;
        wit(runtime::pool_info(&pool)).map(|_| ())
    }

    fn list_volumes(&self, pool: PoolRef) -> Result<Vec<VolumeRef>, Error> {
        wit(runtime::volumes(&pool))
    }

    fn lookup_volume_by_name(&self, pool: PoolRef, name: String) -> Result<VolumeRef, Error> {
        wit(runtime::volume_by_name(&pool, &name))
    }

    fn lookup_volume_by_key(&self, key: String) -> Result<VolumeRef, Error> {
        wit(runtime::volume_by_path(&key))
    }

    fn lookup_volume_by_path(&self, path: String) -> Result<VolumeRef, Error> {
        wit(runtime::volume_by_path(&path))
    }

    fn create_volume_xml(
        &self,
        pool: PoolRef,
        xml: String,
        flags: u32,
    ) -> Result<VolumeRef, Error> {
        check_flags(flags, 0, "virStorageVolCreateXML")?;
        wit(runtime::volume_create(&pool, &xml))
    }

    fn delete_volume(&self, vol: VolumeRef, flags: u32) -> Result<(), Error> {
        check_flags(flags, 0, "virStorageVolDelete")?;
        wit(runtime::volume_delete(&vol))
    }

    fn get_volume_info(&self, vol: VolumeRef, _flags: u32) -> Result<VolumeInfo, Error> {
        wit(runtime::volume_info(&vol))
    }

    fn get_volume_xml(&self, vol: VolumeRef, flags: u32) -> Result<String, Error> {
        check_flags(flags, 0, "virStorageVolGetXMLDesc")?;
        wit(runtime::volume_xml(&vol))
    }

    fn get_volume_path(&self, vol: VolumeRef) -> Result<String, Error> {
        Ok(vol.key)
    }
}

impl Networks for EsxDriver {
    fn lookup_by_name(&self, name: String) -> Result<NetworkRef, Error> {
        wit(runtime::network_by_name(&name))
    }

    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<NetworkRef, Error> {
        wit(runtime::network_by_uuid(&uuid.into()))
    }

    /// Virtual switches are always active, persistent and autostarted.
    fn list_all(&self, flags: u32) -> Result<Vec<NetworkRef>, Error> {
        use virt_core::consts::connect_list_all_networks_flags as list;
        let networks = wit(runtime::networks())?;
        if flags & (list::INACTIVE | list::TRANSIENT | list::NO_AUTOSTART) != 0
            && flags & (list::ACTIVE | list::PERSISTENT | list::AUTOSTART) == 0
        {
            return Ok(Vec::new());
        }
        Ok(networks)
    }

    fn get_xml(&self, net: NetworkRef, flags: u32) -> Result<String, Error> {
        use virt_core::consts::network_xml_flags as xml;
        check_flags(flags, xml::INACTIVE, "virNetworkGetXMLDesc")?;
        wit(runtime::network_xml(&net))
    }

    fn get_status(&self, net: NetworkRef) -> Result<ObjectStatus, Error> {
        wit(runtime::network_by_name(&net.name))?;
        Ok(ObjectStatus {
            active: true,
            persistent: true,
            autostart: true,
            updated: false,
            has_managed_save: false,
        })
    }
}

impl HostDevices for EsxDriver {
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>, Error> {
        use virt_core::consts::connect_list_all_interfaces_flags as list;
        let interfaces = wit(runtime::interfaces())?;
        if flags & list::INACTIVE != 0 && flags & list::ACTIVE == 0 {
            return Ok(Vec::new());
        }
        Ok(interfaces)
    }

    fn lookup_interface_by_name(&self, name: String) -> Result<InterfaceRef, Error> {
        wit(runtime::interface_by(Some(&name), None))
    }

    fn lookup_interface_by_mac(&self, mac: String) -> Result<InterfaceRef, Error> {
        wit(runtime::interface_by(None, Some(&mac)))
    }

    fn get_interface_xml(&self, iface: InterfaceRef, flags: u32) -> Result<String, Error> {
        use virt_core::consts::interface_xml_flags as xml;
        check_flags(flags, xml::INACTIVE, "virInterfaceGetXMLDesc")?;
        wit(runtime::interface_xml(&iface))
    }

    fn is_interface_active(&self, iface: InterfaceRef) -> Result<bool, Error> {
        wit(runtime::interface_by(Some(&iface.name), None)).map(|_| true)
    }
}

impl Handlers for EsxDriver {}
impl Secrets for EsxDriver {}

virt_plugin_sdk::export_plugin!(EsxDriver = EsxDriver);
