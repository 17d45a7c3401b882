//! One trait per exported WIT interface, each method answering VIR_ERR_NO_SUPPORT unless the
//! plugin overrides it, and the forwarding from wit-bindgen's `Guest` traits to them.

use crate::bindings::exports::rvirt::driver0_1_0::{
    connect, domains, handlers, host_devices, networks, secrets, snapshots, storage,
};
use crate::bindings::exports::rvirt::driver0_2_0::device_changes::{self, DeviceChange};
use crate::bindings::exports::rvirt::driver0_2_0::domain_listing;
use crate::bindings::exports::rvirt::driver0_2_0::migration::{
    self, Begun as MigrationBegun, Prepared as MigrationPrepared,
};
use crate::bindings::exports::rvirt::driver0_2_0::network_leases::{self, DhcpLease};
use crate::bindings::rvirt::driver0_1_0::process::{ProcessHandle, ProcessStatus};
use crate::bindings::rvirt::driver0_1_0::unix_stream::StreamHandle;
use crate::convert::no_support;
use crate::types::*;
use crate::{plugin, DriverMetadata, Exports};

/// Everything a driver plugin is: implement the traits whose operations it supports.
pub trait Plugin:
    Connect + Domains + Snapshots + Networks + Storage + HostDevices + Secrets + Handlers + Sync
{
}

impl<T> Plugin for T where
    T: Connect + Domains + Snapshots + Networks + Storage + HostDevices + Secrets + Handlers + Sync
{
}

/// Declares a plugin-facing trait with NO_SUPPORT defaults and forwards wit-bindgen's `Guest`
/// trait to it. `required` items go into the trait verbatim, `forward` items into the `Guest`
/// impl verbatim (for functions that do not return a libvirt result).
macro_rules! driver_interface {
    (
        $(#[$meta:meta])*
        pub trait $trait_name:ident => $guest:path {
            $( fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty = $api:literal; )*
        }
        required { $($required:tt)* }
        forward { $($forward:tt)* }
    ) => {
        $(#[$meta])*
        #[allow(unused_variables)]
        pub trait $trait_name {
            $($required)*
            $(
                fn $name(&self, $($arg: $ty),*) -> Result<$ret, Error> {
                    Err(no_support($api))
                }
            )*
        }

        impl $guest for Exports {
            $($forward)*
            $(
                fn $name($($arg: $ty),*) -> Result<$ret, Error> {
                    $trait_name::$name(plugin(), $($arg),*)
                }
            )*
        }
    };
}

driver_interface! {
    /// Connection and node calls (`connect` interface).
    pub trait Connect => connect::Guest {
        fn get_hostname() -> String = "virConnectGetHostname";
        fn get_capabilities() -> String = "virConnectGetCapabilities";
        fn get_domain_capabilities(emulator: Option<String>, arch: Option<String>, machine: Option<String>, virt_type: Option<String>, flags: u32) -> String = "virConnectGetDomainCapabilities";
        fn get_sysinfo(flags: u32) -> String = "virConnectGetSysinfo";
        fn get_max_vcpus(virt_type: Option<String>) -> i32 = "virConnectGetMaxVcpus";
        fn node_get_info() -> NodeInfo = "virNodeGetInfo";
        fn node_get_free_memory() -> u64 = "virNodeGetFreeMemory";
        fn node_get_cells_free_memory(start_cell: i32, max_cells: i32) -> Vec<u64> = "virNodeGetCellsFreeMemory";
        fn node_get_memory_stats(cell: i32, flags: u32) -> Vec<TypedParam> = "virNodeGetMemoryStats";
        fn node_get_cpu_stats(cpu: i32, flags: u32) -> Vec<TypedParam> = "virNodeGetCPUStats";
        fn domain_xml_to_native(format: String, xml: String, flags: u32) -> String = "virConnectDomainXMLToNative";
        fn domain_xml_from_native(format: String, config: String, flags: u32) -> String = "virConnectDomainXMLFromNative";
        fn node_get_security_model() -> SecurityModel = "virNodeGetSecurityModel";
        fn get_cpu_model_names(arch: String, flags: u32) -> Vec<String> = "virConnectGetCPUModelNames";
        fn compare_cpu(xml: String, flags: u32) -> i32 = "virConnectCompareCPU";
        fn baseline_cpu(xmls: Vec<String>, flags: u32) -> String = "virConnectBaselineCPU";
    }
    required {
        /// Name, version, URI schemes and hypervisor version.
        fn metadata(&self) -> DriverMetadata;
        /// Parses the URI, binds the connection to a space (`host::state::bind-space`) and
        /// populates the space when it was just created.
        fn open(&self, uri: String, flags: u32) -> Result<(), Error>;
        /// The connection is closing.
        fn close(&self) {}
    }
    forward {
        fn metadata() -> DriverMetadata {
            Connect::metadata(plugin())
        }
        fn open(uri: String, flags: u32) -> Result<(), Error> {
            Connect::open(plugin(), uri, flags)
        }
        fn close() {
            Connect::close(plugin())
        }
    }
}

driver_interface! {
    /// Domain calls (`domains` interface).
    pub trait Domains => domains::Guest {
        fn lookup_by_name(name: String) -> DomainRef = "virDomainLookupByName";
        fn lookup_by_uuid(uuid: Uuid) -> DomainRef = "virDomainLookupByUUID";
        fn lookup_by_id(id: i32) -> DomainRef = "virDomainLookupByID";
        fn list_all(flags: u32) -> Vec<DomainRef> = "virConnectListAllDomains";
        fn define_xml(xml: String, flags: u32) -> DomainRef = "virDomainDefineXML";
        fn undefine(dom: DomainRef, flags: u32) -> () = "virDomainUndefine";
        fn create(dom: DomainRef, flags: u32) -> DomainRef = "virDomainCreate";
        fn create_xml(xml: String, flags: u32) -> DomainRef = "virDomainCreateXML";
        fn destroy(dom: DomainRef, flags: u32) -> () = "virDomainDestroy";
        fn shutdown(dom: DomainRef, flags: u32) -> () = "virDomainShutdown";
        fn reboot(dom: DomainRef, flags: u32) -> () = "virDomainReboot";
        fn reset(dom: DomainRef, flags: u32) -> () = "virDomainReset";
        fn suspend(dom: DomainRef) -> () = "virDomainSuspend";
        fn resume(dom: DomainRef) -> () = "virDomainResume";
        fn save(dom: DomainRef, path: String, dxml: Option<String>, flags: u32) -> () = "virDomainSave";
        fn restore(path: String, dxml: Option<String>, flags: u32) -> () = "virDomainRestore";
        fn save_image_get_xml(path: String, flags: u32) -> String = "virDomainSaveImageGetXMLDesc";
        fn managed_save(dom: DomainRef, flags: u32) -> () = "virDomainManagedSave";
        fn managed_save_remove(dom: DomainRef, flags: u32) -> () = "virDomainManagedSaveRemove";
        fn rename(dom: DomainRef, new_name: String, flags: u32) -> DomainRef = "virDomainRename";
        fn get_info(dom: DomainRef) -> DomainInfo = "virDomainGetInfo";
        fn get_state(dom: DomainRef, flags: u32) -> DomainState = "virDomainGetState";
        fn get_status(dom: DomainRef) -> ObjectStatus = "virDomainIsActive";
        fn get_xml(dom: DomainRef, flags: u32) -> String = "virDomainGetXMLDesc";
        fn get_os_type(dom: DomainRef) -> String = "virDomainGetOSType";
        fn get_hostname(dom: DomainRef, flags: u32) -> String = "virDomainGetHostname";
        fn set_autostart(dom: DomainRef, autostart: bool) -> () = "virDomainSetAutostart";
        fn get_max_memory(dom: DomainRef) -> u64 = "virDomainGetMaxMemory";
        fn set_memory(dom: DomainRef, kib: u64, flags: u32) -> () = "virDomainSetMemoryFlags";
        fn set_max_memory(dom: DomainRef, kib: u64) -> () = "virDomainSetMaxMemory";
        fn get_vcpus(dom: DomainRef, flags: u32) -> i32 = "virDomainGetVcpusFlags";
        fn set_vcpus(dom: DomainRef, count: u32, flags: u32) -> () = "virDomainSetVcpusFlags";
        fn get_max_vcpus(dom: DomainRef) -> i32 = "virDomainGetMaxVcpus";
        fn get_scheduler_type(dom: DomainRef) -> (String, i32) = "virDomainGetSchedulerType";
        fn get_scheduler_params(dom: DomainRef, flags: u32) -> Vec<TypedParam> = "virDomainGetSchedulerParameters";
        fn set_scheduler_params(dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> () = "virDomainSetSchedulerParameters";
        fn get_metadata(dom: DomainRef, kind: i32, uri: Option<String>, flags: u32) -> String = "virDomainGetMetadata";
        fn set_metadata(dom: DomainRef, kind: i32, metadata: Option<String>, key: Option<String>, uri: Option<String>, flags: u32) -> () = "virDomainSetMetadata";
        fn get_stats(doms: Vec<DomainRef>, stats: u32, flags: u32) -> Vec<(DomainRef, Vec<TypedParam>)> = "virConnectGetAllDomainStats";
        fn block_stats(dom: DomainRef, disk: String, flags: u32) -> Vec<TypedParam> = "virDomainBlockStatsFlags";
        fn interface_stats(dom: DomainRef, device: String) -> Vec<TypedParam> = "virDomainInterfaceStats";
        fn memory_stats(dom: DomainRef, max_stats: u32, flags: u32) -> Vec<(i32, u64)> = "virDomainMemoryStats";
        fn block_resize(dom: DomainRef, disk: String, size: u64, flags: u32) -> () = "virDomainBlockResize";
        fn attach_device(dom: DomainRef, xml: String, flags: u32) -> () = "virDomainAttachDeviceFlags";
        fn detach_device(dom: DomainRef, xml: String, flags: u32) -> () = "virDomainDetachDeviceFlags";
        fn detach_device_alias(dom: DomainRef, alias: String, flags: u32) -> () = "virDomainDetachDeviceAlias";
        fn update_device(dom: DomainRef, xml: String, flags: u32) -> () = "virDomainUpdateDeviceFlags";
        fn open_console(dom: DomainRef, dev_name: Option<String>, flags: u32) -> ConsoleEndpoint = "virDomainOpenConsole";
        fn send_key(dom: DomainRef, codeset: u32, holdtime: u32, keycodes: Vec<u32>, flags: u32) -> () = "virDomainSendKey";
        fn inject_nmi(dom: DomainRef, flags: u32) -> () = "virDomainInjectNMI";
        fn qemu_monitor_command(dom: DomainRef, cmd: String, flags: u32) -> String = "virDomainQemuMonitorCommand";
        fn qemu_agent_command(dom: DomainRef, cmd: String, timeout: i32, flags: u32) -> String = "virDomainQemuAgentCommand";
        fn get_parameters(dom: DomainRef, set: ParameterSet, device: Option<String>, flags: u32) -> Vec<TypedParam> = "virDomainGetMemoryParameters";
        fn set_parameters(dom: DomainRef, set: ParameterSet, device: Option<String>, params: Vec<TypedParam>, flags: u32) -> () = "virDomainSetMemoryParameters";
        fn get_security_label(dom: DomainRef) -> Vec<SecurityLabel> = "virDomainGetSecurityLabel";
        fn get_block_info(dom: DomainRef, disk: String, flags: u32) -> BlockInfo = "virDomainGetBlockInfo";
        fn get_vcpu_info(dom: DomainRef) -> Vec<VcpuInfo> = "virDomainGetVcpus";
        fn pin_vcpu(dom: DomainRef, vcpu: u32, cpumap: Vec<u8>, flags: u32) -> () = "virDomainPinVcpuFlags";
        fn interface_addresses(dom: DomainRef, source: u32, flags: u32) -> Vec<GuestInterface> = "virDomainInterfaceAddresses";
        fn get_job_stats(dom: DomainRef, flags: u32) -> JobStats = "virDomainGetJobStats";
        fn abort_job(dom: DomainRef, flags: u32) -> () = "virDomainAbortJob";
        fn core_dump(dom: DomainRef, to: String, format: u32, flags: u32) -> () = "virDomainCoreDumpWithFormat";
        fn set_lifecycle_action(dom: DomainRef, kind: u32, action: u32, flags: u32) -> () = "virDomainSetLifecycleAction";
        fn get_time(dom: DomainRef, flags: u32) -> (i64, u32) = "virDomainGetTime";
        fn set_time(dom: DomainRef, seconds: i64, nseconds: u32, flags: u32) -> () = "virDomainSetTime";
        fn fs_freeze(dom: DomainRef, mountpoints: Vec<String>, flags: u32) -> i32 = "virDomainFSFreeze";
        fn fs_thaw(dom: DomainRef, mountpoints: Vec<String>, flags: u32) -> i32 = "virDomainFSThaw";
        fn get_disk_errors(dom: DomainRef, flags: u32) -> Vec<(String, i32)> = "virDomainGetDiskErrors";
    }
    required {
        /// `virConnectListAllDomains` as one buffer (the `domain-listing` export, added in
        /// WIT 0.2.0): what [`Domains::list_all`] answers, packed with
        /// [`virt_core::packed::DomainListWriter`]. The default answers NO_SUPPORT, and the
        /// host calls `list_all` instead; implement it where the driver can write the listing
        /// without making a `DomainRef` per domain first.
        fn list_all_packed(&self, flags: u32) -> Result<Vec<u8>, Error> {
            Err(no_support("virConnectListAllDomains"))
        }
        /// `virConnectSupportsFeature` for the driver's own features (the `migration`
        /// export, added in WIT 0.2.0): say yes to VIR_DRV_FEATURE_MIGRATION_PARAMS when the
        /// migration calls below are implemented.
        fn supports_feature(&self, feature: i32) -> bool {
            false
        }
        /// Migration, source: `virDomainMigrateBegin3Params`.
        fn migrate_begin(
            &self,
            dom: DomainRef,
            params: Vec<TypedParam>,
            flags: u32,
        ) -> Result<MigrationBegun, Error> {
            Err(no_support("virDomainMigrateBegin3Params"))
        }
        /// Migration, destination: `virDomainMigratePrepare3Params`.
        fn migrate_prepare(
            &self,
            params: Vec<TypedParam>,
            cookie: Vec<u8>,
            flags: u32,
        ) -> Result<MigrationPrepared, Error> {
            Err(no_support("virDomainMigratePrepare3Params"))
        }
        /// Migration, source: `virDomainMigratePerform3Params` (never peer-to-peer).
        fn migrate_perform(
            &self,
            dom: DomainRef,
            params: Vec<TypedParam>,
            cookie: Vec<u8>,
            flags: u32,
        ) -> Result<Vec<u8>, Error> {
            Err(no_support("virDomainMigratePerform3Params"))
        }
        /// Migration, destination: `virDomainMigrateFinish3Params`.
        fn migrate_finish(
            &self,
            params: Vec<TypedParam>,
            cookie: Vec<u8>,
            flags: u32,
            cancelled: bool,
        ) -> Result<(DomainRef, Vec<u8>), Error> {
            Err(no_support("virDomainMigrateFinish3Params"))
        }
        /// Migration, source: `virDomainMigrateConfirm3Params`.
        fn migrate_confirm(
            &self,
            dom: DomainRef,
            params: Vec<TypedParam>,
            cookie: Vec<u8>,
            flags: u32,
            cancelled: bool,
        ) -> Result<(), Error> {
            Err(no_support("virDomainMigrateConfirm3Params"))
        }
        /// `virDomainMigrateSetMaxSpeed`.
        fn migrate_set_max_speed(&self, dom: DomainRef, bandwidth: u64, flags: u32) -> Result<(), Error> {
            Err(no_support("virDomainMigrateSetMaxSpeed"))
        }
        /// `virDomainMigrateGetMaxSpeed`.
        fn migrate_get_max_speed(&self, dom: DomainRef, flags: u32) -> Result<u64, Error> {
            Err(no_support("virDomainMigrateGetMaxSpeed"))
        }
        /// `virDomainMigrateSetMaxDowntime`.
        fn migrate_set_max_downtime(&self, dom: DomainRef, downtime: u64, flags: u32) -> Result<(), Error> {
            Err(no_support("virDomainMigrateSetMaxDowntime"))
        }
        /// `virDomainMigrateGetMaxDowntime`.
        fn migrate_get_max_downtime(&self, dom: DomainRef, flags: u32) -> Result<u64, Error> {
            Err(no_support("virDomainMigrateGetMaxDowntime"))
        }
        /// `virDomainMigrateStartPostCopy`.
        fn migrate_start_post_copy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
            Err(no_support("virDomainMigrateStartPostCopy"))
        }
    }
    forward {}
}

impl domain_listing::Guest for Exports {
    fn list_all_packed(flags: u32) -> Result<Vec<u8>, Error> {
        Domains::list_all_packed(plugin(), flags)
    }
}

impl migration::Guest for Exports {
    fn supports_feature(feature: i32) -> bool {
        Domains::supports_feature(plugin(), feature)
    }
    fn begin(dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> Result<MigrationBegun, Error> {
        Domains::migrate_begin(plugin(), dom, params, flags)
    }
    fn prepare(
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
    ) -> Result<MigrationPrepared, Error> {
        Domains::migrate_prepare(plugin(), params, cookie, flags)
    }
    fn perform(
        dom: DomainRef,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
    ) -> Result<Vec<u8>, Error> {
        Domains::migrate_perform(plugin(), dom, params, cookie, flags)
    }
    fn finish(
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>), Error> {
        Domains::migrate_finish(plugin(), params, cookie, flags, cancelled)
    }
    fn confirm(
        dom: DomainRef,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
        cancelled: bool,
    ) -> Result<(), Error> {
        Domains::migrate_confirm(plugin(), dom, params, cookie, flags, cancelled)
    }
    fn set_max_speed(dom: DomainRef, bandwidth: u64, flags: u32) -> Result<(), Error> {
        Domains::migrate_set_max_speed(plugin(), dom, bandwidth, flags)
    }
    fn get_max_speed(dom: DomainRef, flags: u32) -> Result<u64, Error> {
        Domains::migrate_get_max_speed(plugin(), dom, flags)
    }
    fn set_max_downtime(dom: DomainRef, downtime: u64, flags: u32) -> Result<(), Error> {
        Domains::migrate_set_max_downtime(plugin(), dom, downtime, flags)
    }
    fn get_max_downtime(dom: DomainRef, flags: u32) -> Result<u64, Error> {
        Domains::migrate_get_max_downtime(plugin(), dom, flags)
    }
    fn start_post_copy(dom: DomainRef, flags: u32) -> Result<(), Error> {
        Domains::migrate_start_post_copy(plugin(), dom, flags)
    }
}

driver_interface! {
    /// Snapshot calls (`snapshots` interface); snapshots are named within their domain.
    pub trait Snapshots => snapshots::Guest {
        fn create_xml(dom: DomainRef, xml: String, flags: u32) -> String = "virDomainSnapshotCreateXML";
        fn list_all(dom: DomainRef, flags: u32) -> Vec<String> = "virDomainListAllSnapshots";
        fn list_children(dom: DomainRef, snapshot: String, flags: u32) -> Vec<String> = "virDomainSnapshotListAllChildren";
        fn lookup_by_name(dom: DomainRef, name: String, flags: u32) -> String = "virDomainSnapshotLookupByName";
        fn current(dom: DomainRef, flags: u32) -> String = "virDomainSnapshotCurrent";
        fn has_current(dom: DomainRef, flags: u32) -> bool = "virDomainHasCurrentSnapshot";
        fn get_parent(dom: DomainRef, snapshot: String, flags: u32) -> String = "virDomainSnapshotGetParent";
        fn get_xml(dom: DomainRef, snapshot: String, flags: u32) -> String = "virDomainSnapshotGetXMLDesc";
        fn is_current(dom: DomainRef, snapshot: String, flags: u32) -> bool = "virDomainSnapshotIsCurrent";
        fn has_metadata(dom: DomainRef, snapshot: String, flags: u32) -> bool = "virDomainSnapshotHasMetadata";
        fn revert(dom: DomainRef, snapshot: String, flags: u32) -> () = "virDomainRevertToSnapshot";
        fn delete(dom: DomainRef, snapshot: String, flags: u32) -> () = "virDomainSnapshotDelete";
    }
    required {}
    forward {}
}

driver_interface! {
    /// Network calls (`networks` interface).
    pub trait Networks => networks::Guest {
        fn lookup_by_name(name: String) -> NetworkRef = "virNetworkLookupByName";
        fn lookup_by_uuid(uuid: Uuid) -> NetworkRef = "virNetworkLookupByUUID";
        fn list_all(flags: u32) -> Vec<NetworkRef> = "virConnectListAllNetworks";
        fn define_xml(xml: String, flags: u32) -> NetworkRef = "virNetworkDefineXML";
        fn create_xml(xml: String, flags: u32) -> NetworkRef = "virNetworkCreateXML";
        fn undefine(net: NetworkRef) -> () = "virNetworkUndefine";
        fn create(net: NetworkRef) -> () = "virNetworkCreate";
        fn destroy(net: NetworkRef) -> () = "virNetworkDestroy";
        fn get_xml(net: NetworkRef, flags: u32) -> String = "virNetworkGetXMLDesc";
        fn get_status(net: NetworkRef) -> ObjectStatus = "virNetworkIsActive";
        fn set_autostart(net: NetworkRef, autostart: bool) -> () = "virNetworkSetAutostart";
        fn get_bridge_name(net: NetworkRef) -> String = "virNetworkGetBridgeName";
        fn update(net: NetworkRef, command: u32, section: u32, parent_index: i32, xml: String, flags: u32) -> () = "virNetworkUpdate";
    }
    required {
        /// `virNetworkGetDHCPLeases`, exported as `network-leases` (added in WIT 0.2.0).
        fn dhcp_leases(
            &self,
            net: NetworkRef,
            mac: Option<String>,
            flags: u32,
        ) -> Result<Vec<DhcpLease>, Error> {
            Err(no_support("virNetworkGetDHCPLeases"))
        }
    }
    forward {}
}

impl network_leases::Guest for Exports {
    fn dhcp_leases(
        net: NetworkRef,
        mac: Option<String>,
        flags: u32,
    ) -> Result<Vec<DhcpLease>, Error> {
        Networks::dhcp_leases(plugin(), net, mac, flags)
    }
}

driver_interface! {
    /// Storage pool and volume calls (`storage` interface).
    pub trait Storage => storage::Guest {
        fn lookup_pool_by_name(name: String) -> PoolRef = "virStoragePoolLookupByName";
        fn lookup_pool_by_uuid(uuid: Uuid) -> PoolRef = "virStoragePoolLookupByUUID";
        fn lookup_pool_by_volume(vol: VolumeRef) -> PoolRef = "virStoragePoolLookupByVolume";
        fn list_all_pools(flags: u32) -> Vec<PoolRef> = "virConnectListAllStoragePools";
        fn define_pool_xml(xml: String, flags: u32) -> PoolRef = "virStoragePoolDefineXML";
        fn create_pool_xml(xml: String, flags: u32) -> PoolRef = "virStoragePoolCreateXML";
        fn build_pool(pool: PoolRef, flags: u32) -> () = "virStoragePoolBuild";
        fn undefine_pool(pool: PoolRef) -> () = "virStoragePoolUndefine";
        fn create_pool(pool: PoolRef, flags: u32) -> () = "virStoragePoolCreate";
        fn destroy_pool(pool: PoolRef) -> () = "virStoragePoolDestroy";
        fn delete_pool(pool: PoolRef, flags: u32) -> () = "virStoragePoolDelete";
        fn refresh_pool(pool: PoolRef, flags: u32) -> () = "virStoragePoolRefresh";
        fn get_pool_info(pool: PoolRef) -> PoolInfo = "virStoragePoolGetInfo";
        fn get_pool_xml(pool: PoolRef, flags: u32) -> String = "virStoragePoolGetXMLDesc";
        fn get_pool_status(pool: PoolRef) -> ObjectStatus = "virStoragePoolIsActive";
        fn set_pool_autostart(pool: PoolRef, autostart: bool) -> () = "virStoragePoolSetAutostart";
        fn find_pool_sources(kind: String, src_spec: Option<String>, flags: u32) -> String = "virConnectFindStoragePoolSources";
        fn list_volumes(pool: PoolRef) -> Vec<VolumeRef> = "virStoragePoolListAllVolumes";
        fn lookup_volume_by_name(pool: PoolRef, name: String) -> VolumeRef = "virStorageVolLookupByName";
        fn lookup_volume_by_key(key: String) -> VolumeRef = "virStorageVolLookupByKey";
        fn lookup_volume_by_path(path: String) -> VolumeRef = "virStorageVolLookupByPath";
        fn create_volume_xml(pool: PoolRef, xml: String, flags: u32) -> VolumeRef = "virStorageVolCreateXML";
        fn create_volume_xml_from(pool: PoolRef, xml: String, clone_of: VolumeRef, flags: u32) -> VolumeRef = "virStorageVolCreateXMLFrom";
        fn delete_volume(vol: VolumeRef, flags: u32) -> () = "virStorageVolDelete";
        fn wipe_volume(vol: VolumeRef, flags: u32) -> () = "virStorageVolWipe";
        fn resize_volume(vol: VolumeRef, capacity: u64, flags: u32) -> () = "virStorageVolResize";
        fn get_volume_info(vol: VolumeRef, flags: u32) -> VolumeInfo = "virStorageVolGetInfo";
        fn get_volume_xml(vol: VolumeRef, flags: u32) -> String = "virStorageVolGetXMLDesc";
        fn get_volume_path(vol: VolumeRef) -> String = "virStorageVolGetPath";
        fn volume_data_path(vol: VolumeRef, for_upload: bool) -> String = "virStorageVolUpload";
    }
    required {}
    forward {}
}

driver_interface! {
    /// Node device and host interface calls (`host-devices` interface).
    pub trait HostDevices => host_devices::Guest {
        fn list_node_devices(capability: Option<String>, flags: u32) -> Vec<String> = "virConnectListAllNodeDevices";
        fn lookup_node_device(name: String) -> String = "virNodeDeviceLookupByName";
        fn get_node_device_xml(name: String, flags: u32) -> String = "virNodeDeviceGetXMLDesc";
        fn get_node_device_parent(name: String) -> Option<String> = "virNodeDeviceGetParent";
        fn list_node_device_caps(name: String) -> Vec<String> = "virNodeDeviceListCaps";
        fn list_all_interfaces(flags: u32) -> Vec<InterfaceRef> = "virConnectListAllInterfaces";
        fn lookup_interface_by_name(name: String) -> InterfaceRef = "virInterfaceLookupByName";
        fn lookup_interface_by_mac(mac: String) -> InterfaceRef = "virInterfaceLookupByMACString";
        fn get_interface_xml(iface: InterfaceRef, flags: u32) -> String = "virInterfaceGetXMLDesc";
        fn is_interface_active(iface: InterfaceRef) -> bool = "virInterfaceIsActive";
    }
    required {}
    forward {}
}

driver_interface! {
    /// Secret calls (`secrets` interface).
    pub trait Secrets => secrets::Guest {
        fn list_all(flags: u32) -> Vec<SecretRef> = "virConnectListAllSecrets";
        fn lookup_by_uuid(uuid: Uuid) -> SecretRef = "virSecretLookupByUUID";
        fn lookup_by_usage(usage_type: i32, usage_id: String) -> SecretRef = "virSecretLookupByUsage";
        fn define_xml(xml: String, flags: u32) -> SecretRef = "virSecretDefineXML";
        fn get_xml(secret: SecretRef, flags: u32) -> String = "virSecretGetXMLDesc";
        fn get_value(secret: SecretRef, flags: u32) -> Vec<u8> = "virSecretGetValue";
        fn set_value(secret: SecretRef, value: Vec<u8>, flags: u32) -> () = "virSecretSetValue";
        fn undefine(secret: SecretRef) -> () = "virSecretUndefine";
    }
    required {}
    forward {}
}

/// Events from host-owned resources (`handlers` interface); the defaults ignore them.
#[allow(unused_variables)]
pub trait Handlers {
    /// A child spawned or adopted in the call's space exited (already reaped).
    fn process_exited(&self, handle: ProcessHandle, status: ProcessStatus) {}
    /// A frame arrived on a stream no call had claimed.
    fn stream_frame(&self, handle: StreamHandle, frame: Vec<u8>) {}
    /// A stream's peer closed it.
    fn stream_closed(&self, handle: StreamHandle) {}
    /// The kernel announced device changes, after a call in this space asked
    /// (`host::device_watch::watch`); exported as `device-changes` (added in WIT 0.2.0).
    fn devices_changed(&self, changes: Vec<DeviceChange>) {}
}

impl handlers::Guest for Exports {
    fn process_exited(handle: ProcessHandle, status: ProcessStatus) {
        plugin().process_exited(handle, status)
    }
    fn stream_frame(handle: StreamHandle, frame: Vec<u8>) {
        plugin().stream_frame(handle, frame)
    }
    fn stream_closed(handle: StreamHandle) {
        plugin().stream_closed(handle)
    }
}

impl device_changes::Guest for Exports {
    fn changed(changes: Vec<DeviceChange>) {
        plugin().devices_changed(changes)
    }
}
