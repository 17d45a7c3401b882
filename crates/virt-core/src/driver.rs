//! The contract between the public API and whatever serves it.
//!
//! A [`Driver`] decides whether it serves a URI and opens a [`Connection`]; a connection
//! answers the API calls. Two families implement it: `virt-host` (drivers running as wasm
//! plugins in this process) and `virt-rpc` (a libvirt-compatible daemon over the remote
//! protocol). Every method mirrors one libvirt API call; the default answers
//! VIR_ERR_NO_SUPPORT, so a backend implements what it can and nothing else.
//!
//! Methods block. The async facade in [`crate::connect`] runs them on tokio's blocking pool.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::error::{Error, ErrorDomain, Result};
use crate::event::Event;
use crate::types::*;
use crate::uri::ConnectUri;

/// Something that can serve connections for some URIs.
pub trait Driver: Send + Sync {
    /// A short name for logs, e.g. "plugins" or "remote".
    fn name(&self) -> &str;

    /// Opens `uri`, or returns `Ok(None)` when this driver does not serve it (libvirt's
    /// "declined"), so the next driver is asked. `flags` are `virConnectFlags`.
    fn open(&self, uri: &ConnectUri, flags: u32) -> Result<Option<Arc<dyn Connection>>>;
}

/// The only flag of a volume upload or download: `VIR_STORAGE_VOL_*LOAD_SPARSE_STREAM` (1).
pub fn check_sparse_flag(flags: u32, api: &str) -> Result<bool> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 1, api)?;
    Ok(flags & 1 != 0)
}

fn unsupported<T>(api: &str) -> Result<T> {
    Err(Error::no_support(ErrorDomain::NONE, api))
}

/// One open connection. See the module docs.
#[allow(unused_variables)]
pub trait Connection: Send + Sync {
    // ---- connection and node ----

    /// `virConnectGetType`, e.g. "Test", "QEMU".
    fn get_type(&self) -> Result<String>;
    /// `virConnectGetURI`: the canonical URI of this connection.
    fn get_uri(&self) -> Result<String>;
    /// `virConnectGetVersion`.
    fn get_version(&self) -> Result<u64>;
    /// `virConnectGetLibVersion`: the libvirt API level served (9.0.0 = 9000000).
    fn get_lib_version(&self) -> Result<u64> {
        Ok(crate::LIBVIRT_API_VERSION)
    }
    fn get_hostname(&self) -> Result<String> {
        unsupported("virConnectGetHostname")
    }
    fn get_capabilities(&self) -> Result<String> {
        unsupported("virConnectGetCapabilities")
    }
    fn get_domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virt_type: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        unsupported("virConnectGetDomainCapabilities")
    }
    fn get_sysinfo(&self, flags: u32) -> Result<String> {
        unsupported("virConnectGetSysinfo")
    }
    fn get_max_vcpus(&self, virt_type: Option<&str>) -> Result<i32> {
        unsupported("virConnectGetMaxVcpus")
    }
    fn is_alive(&self) -> bool {
        true
    }
    fn is_secure(&self) -> bool {
        true
    }
    fn is_encrypted(&self) -> bool {
        false
    }
    /// `virConnectSetKeepAlive`; in-process connections have nothing to keep alive.
    fn set_keep_alive(&self, interval: i32, count: u32) -> Result<()> {
        unsupported("virConnectSetKeepAlive")
    }
    fn node_get_info(&self) -> Result<NodeInfo> {
        unsupported("virNodeGetInfo")
    }
    fn node_get_free_memory(&self) -> Result<u64> {
        unsupported("virNodeGetFreeMemory")
    }
    fn node_get_cells_free_memory(&self, start_cell: i32, max_cells: i32) -> Result<Vec<u64>> {
        unsupported("virNodeGetCellsFreeMemory")
    }
    fn node_get_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<TypedParam>> {
        unsupported("virNodeGetMemoryStats")
    }
    fn node_get_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<TypedParam>> {
        unsupported("virNodeGetCPUStats")
    }
    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        unsupported("virConnectDomainXMLToNative")
    }
    fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        unsupported("virConnectDomainXMLFromNative")
    }
    fn node_get_security_model(&self) -> Result<SecurityModel> {
        unsupported("virNodeGetSecurityModel")
    }
    fn get_cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        unsupported("virConnectGetCPUModelNames")
    }
    fn compare_cpu(&self, xml: &str, flags: u32) -> Result<i32> {
        unsupported("virConnectCompareCPU")
    }
    fn baseline_cpu(&self, xmls: &[String], flags: u32) -> Result<String> {
        unsupported("virConnectBaselineCPU")
    }
    /// A receiver of every event in this connection's scope.
    fn events(&self) -> Result<broadcast::Receiver<Event>> {
        unsupported("virConnectDomainEventRegisterAny")
    }
    /// Closes the connection; later calls fail.
    fn close(&self) -> Result<()> {
        Ok(())
    }

    // ---- domains ----

    fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        unsupported("virDomainLookupByName")
    }
    fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        unsupported("virDomainLookupByUUID")
    }
    fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        unsupported("virDomainLookupByID")
    }
    fn domain_list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        unsupported("virConnectListAllDomains")
    }
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        unsupported("virDomainDefineXML")
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainUndefine")
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        unsupported("virDomainCreate")
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        unsupported("virDomainCreateXML")
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainDestroy")
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainShutdown")
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainReboot")
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainReset")
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        unsupported("virDomainSuspend")
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        unsupported("virDomainResume")
    }
    fn domain_save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSave")
    }
    fn domain_restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        unsupported("virDomainRestore")
    }
    fn domain_save_image_get_xml(&self, path: &str, flags: u32) -> Result<String> {
        unsupported("virDomainSaveImageGetXMLDesc")
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainManagedSave")
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainManagedSaveRemove")
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<DomainRef> {
        unsupported("virDomainRename")
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        unsupported("virDomainGetInfo")
    }
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<DomainState> {
        unsupported("virDomainGetState")
    }
    fn domain_get_status(&self, dom: &DomainRef) -> Result<ObjectStatus> {
        unsupported("virDomainIsActive")
    }
    fn domain_get_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        unsupported("virDomainGetXMLDesc")
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        unsupported("virDomainGetOSType")
    }
    fn domain_get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        unsupported("virDomainGetHostname")
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        unsupported("virDomainSetAutostart")
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        unsupported("virDomainGetMaxMemory")
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        unsupported("virDomainSetMemoryFlags")
    }
    fn domain_set_max_memory(&self, dom: &DomainRef, kib: u64) -> Result<()> {
        unsupported("virDomainSetMaxMemory")
    }
    fn domain_get_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        unsupported("virDomainGetVcpusFlags")
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        unsupported("virDomainSetVcpusFlags")
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        unsupported("virDomainGetMaxVcpus")
    }
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        unsupported("virDomainGetSchedulerType")
    }
    fn domain_get_scheduler_params(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        unsupported("virDomainGetSchedulerParameters")
    }
    fn domain_set_scheduler_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSetSchedulerParameters")
    }
    fn domain_get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        unsupported("virDomainGetMetadata")
    }
    fn domain_set_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSetMetadata")
    }
    /// `virConnectGetAllDomainStats` (empty `doms`) / `virDomainListGetStats`.
    fn domain_get_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        unsupported("virConnectGetAllDomainStats")
    }
    fn domain_block_stats(
        &self,
        dom: &DomainRef,
        disk: &str,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        unsupported("virDomainBlockStatsFlags")
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<Vec<TypedParam>> {
        unsupported("virDomainInterfaceStats")
    }
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        max_stats: u32,
        flags: u32,
    ) -> Result<Vec<(i32, u64)>> {
        unsupported("virDomainMemoryStats")
    }
    fn domain_block_resize(
        &self,
        dom: &DomainRef,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainBlockResize")
    }
    fn domain_attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        unsupported("virDomainAttachDeviceFlags")
    }
    fn domain_detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        unsupported("virDomainDetachDeviceFlags")
    }
    fn domain_detach_device_alias(&self, dom: &DomainRef, alias: &str, flags: u32) -> Result<()> {
        unsupported("virDomainDetachDeviceAlias")
    }
    fn domain_update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        unsupported("virDomainUpdateDeviceFlags")
    }
    fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleEndpoint> {
        unsupported("virDomainOpenConsole")
    }
    /// The console as a duplex byte descriptor (a pty, a connected socket, or for a remote
    /// connection one end of a socket pair the transport pumps). The default opens what
    /// [`Connection::domain_open_console`] names, in this process.
    fn domain_open_console_stream(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<std::os::fd::OwnedFd> {
        let endpoint = self.domain_open_console(dom, dev_name, flags)?;
        crate::console::open_endpoint(&endpoint)
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSendKey")
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainInjectNMI")
    }
    fn domain_qemu_monitor_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        flags: u32,
    ) -> Result<String> {
        unsupported("virDomainQemuMonitorCommand")
    }
    fn domain_qemu_agent_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String> {
        unsupported("virDomainQemuAgentCommand")
    }

    fn domain_get_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        unsupported("virDomainGetMemoryParameters")
    }
    fn domain_set_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSetMemoryParameters")
    }
    fn domain_get_security_label(&self, dom: &DomainRef) -> Result<Vec<SecurityLabel>> {
        unsupported("virDomainGetSecurityLabel")
    }
    fn domain_get_block_info(&self, dom: &DomainRef, disk: &str, flags: u32) -> Result<BlockInfo> {
        unsupported("virDomainGetBlockInfo")
    }
    fn domain_get_vcpu_info(&self, dom: &DomainRef) -> Result<Vec<VcpuInfo>> {
        unsupported("virDomainGetVcpus")
    }
    fn domain_pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        unsupported("virDomainPinVcpuFlags")
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        unsupported("virDomainInterfaceAddresses")
    }
    fn domain_get_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<JobStats> {
        unsupported("virDomainGetJobStats")
    }
    fn domain_abort_job(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainAbortJob")
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        unsupported("virDomainCoreDumpWithFormat")
    }

    // ---- migration: libvirt's protocol version 3 with parameters (see `crate::migration`) ----

    /// Whether this connection serves the migration phases below (libvirt's
    /// VIR_DRV_FEATURE_MIGRATION_V3, _P2P and _PARAMS).
    fn supports_migration(&self) -> bool {
        false
    }
    /// Source: `virDomainMigrateBegin3Params`.
    fn domain_migrate_begin(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<MigrationBegun> {
        unsupported("virDomainMigrateBegin3Params")
    }
    /// Destination: `virDomainMigratePrepare3Params`.
    fn domain_migrate_prepare(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<MigrationPrepared> {
        unsupported("virDomainMigratePrepare3Params")
    }
    /// Source: `virDomainMigratePerform3Params`. With VIR_MIGRATE_PEER2PEER the source
    /// opens `dconnuri` and runs every phase itself; an implementation that serves the
    /// phases gets that from [`crate::migration::peer_to_peer`].
    fn domain_migrate_perform(
        &self,
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        unsupported("virDomainMigratePerform3Params")
    }
    /// Destination: `virDomainMigrateFinish3Params`.
    fn domain_migrate_finish(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        unsupported("virDomainMigrateFinish3Params")
    }
    /// Source: `virDomainMigrateConfirm3Params`.
    fn domain_migrate_confirm(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        unsupported("virDomainMigrateConfirm3Params")
    }
    fn domain_migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainMigrateSetMaxSpeed")
    }
    fn domain_migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        unsupported("virDomainMigrateGetMaxSpeed")
    }
    fn domain_migrate_set_max_downtime(
        &self,
        dom: &DomainRef,
        downtime: u64,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainMigrateSetMaxDowntime")
    }
    fn domain_migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        unsupported("virDomainMigrateGetMaxDowntime")
    }
    fn domain_migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        unsupported("virDomainMigrateStartPostCopy")
    }
    fn domain_set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSetLifecycleAction")
    }
    fn domain_get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        unsupported("virDomainGetTime")
    }
    fn domain_set_time(
        &self,
        dom: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        unsupported("virDomainSetTime")
    }
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        unsupported("virDomainFSFreeze")
    }
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        unsupported("virDomainFSThaw")
    }
    fn domain_get_disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        unsupported("virDomainGetDiskErrors")
    }

    // ---- domain snapshots (by name within a domain) ----

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        unsupported("virDomainSnapshotCreateXML")
    }
    fn snapshot_list_all(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        unsupported("virDomainListAllSnapshots")
    }
    fn snapshot_list_children(
        &self,
        dom: &DomainRef,
        snapshot: &str,
        flags: u32,
    ) -> Result<Vec<String>> {
        unsupported("virDomainSnapshotListAllChildren")
    }
    fn snapshot_lookup_by_name(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        unsupported("virDomainSnapshotLookupByName")
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        unsupported("virDomainSnapshotCurrent")
    }
    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        unsupported("virDomainHasCurrentSnapshot")
    }
    fn snapshot_get_parent(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        unsupported("virDomainSnapshotGetParent")
    }
    fn snapshot_get_xml(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        unsupported("virDomainSnapshotGetXMLDesc")
    }
    fn snapshot_is_current(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        unsupported("virDomainSnapshotIsCurrent")
    }
    fn snapshot_has_metadata(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        unsupported("virDomainSnapshotHasMetadata")
    }
    fn snapshot_revert(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        unsupported("virDomainRevertToSnapshot")
    }
    fn snapshot_delete(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        unsupported("virDomainSnapshotDelete")
    }

    // ---- networks ----

    fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        unsupported("virNetworkLookupByName")
    }
    fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        unsupported("virNetworkLookupByUUID")
    }
    fn network_list_all(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        unsupported("virConnectListAllNetworks")
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        unsupported("virNetworkDefineXML")
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        unsupported("virNetworkCreateXML")
    }
    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        unsupported("virNetworkUndefine")
    }
    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        unsupported("virNetworkCreate")
    }
    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        unsupported("virNetworkDestroy")
    }
    fn network_get_xml(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        unsupported("virNetworkGetXMLDesc")
    }
    fn network_get_status(&self, net: &NetworkRef) -> Result<ObjectStatus> {
        unsupported("virNetworkIsActive")
    }
    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        unsupported("virNetworkSetAutostart")
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        unsupported("virNetworkGetBridgeName")
    }
    fn network_update(
        &self,
        net: &NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        unsupported("virNetworkUpdate")
    }
    /// `virNetworkGetDHCPLeases`: the unexpired leases, only `mac`'s when given.
    fn network_get_dhcp_leases(
        &self,
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        unsupported("virNetworkGetDHCPLeases")
    }

    // ---- storage pools and volumes ----

    fn pool_lookup_by_name(&self, name: &str) -> Result<StoragePoolRef> {
        unsupported("virStoragePoolLookupByName")
    }
    fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<StoragePoolRef> {
        unsupported("virStoragePoolLookupByUUID")
    }
    fn pool_lookup_by_volume(&self, vol: &StorageVolRef) -> Result<StoragePoolRef> {
        unsupported("virStoragePoolLookupByVolume")
    }
    fn pool_list_all(&self, flags: u32) -> Result<Vec<StoragePoolRef>> {
        unsupported("virConnectListAllStoragePools")
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        unsupported("virStoragePoolDefineXML")
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        unsupported("virStoragePoolCreateXML")
    }
    fn pool_build(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        unsupported("virStoragePoolBuild")
    }
    fn pool_undefine(&self, pool: &StoragePoolRef) -> Result<()> {
        unsupported("virStoragePoolUndefine")
    }
    fn pool_create(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        unsupported("virStoragePoolCreate")
    }
    fn pool_destroy(&self, pool: &StoragePoolRef) -> Result<()> {
        unsupported("virStoragePoolDestroy")
    }
    fn pool_delete(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        unsupported("virStoragePoolDelete")
    }
    fn pool_refresh(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        unsupported("virStoragePoolRefresh")
    }
    fn pool_get_info(&self, pool: &StoragePoolRef) -> Result<StoragePoolInfo> {
        unsupported("virStoragePoolGetInfo")
    }
    fn pool_get_xml(&self, pool: &StoragePoolRef, flags: u32) -> Result<String> {
        unsupported("virStoragePoolGetXMLDesc")
    }
    fn pool_get_status(&self, pool: &StoragePoolRef) -> Result<ObjectStatus> {
        unsupported("virStoragePoolIsActive")
    }
    fn pool_set_autostart(&self, pool: &StoragePoolRef, autostart: bool) -> Result<()> {
        unsupported("virStoragePoolSetAutostart")
    }
    fn pool_find_sources(&self, kind: &str, src_spec: Option<&str>, flags: u32) -> Result<String> {
        unsupported("virConnectFindStoragePoolSources")
    }
    fn vol_list(&self, pool: &StoragePoolRef) -> Result<Vec<StorageVolRef>> {
        unsupported("virStoragePoolListAllVolumes")
    }
    fn vol_lookup_by_name(&self, pool: &StoragePoolRef, name: &str) -> Result<StorageVolRef> {
        unsupported("virStorageVolLookupByName")
    }
    fn vol_lookup_by_key(&self, key: &str) -> Result<StorageVolRef> {
        unsupported("virStorageVolLookupByKey")
    }
    fn vol_lookup_by_path(&self, path: &str) -> Result<StorageVolRef> {
        unsupported("virStorageVolLookupByPath")
    }
    fn vol_create_xml(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        flags: u32,
    ) -> Result<StorageVolRef> {
        unsupported("virStorageVolCreateXML")
    }
    fn vol_create_xml_from(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        clone_of: &StorageVolRef,
        flags: u32,
    ) -> Result<StorageVolRef> {
        unsupported("virStorageVolCreateXMLFrom")
    }
    fn vol_delete(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        unsupported("virStorageVolDelete")
    }
    fn vol_wipe(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        unsupported("virStorageVolWipe")
    }
    fn vol_resize(&self, vol: &StorageVolRef, capacity: u64, flags: u32) -> Result<()> {
        unsupported("virStorageVolResize")
    }
    fn vol_get_info(&self, vol: &StorageVolRef, flags: u32) -> Result<StorageVolInfo> {
        unsupported("virStorageVolGetInfo")
    }
    fn vol_get_xml(&self, vol: &StorageVolRef, flags: u32) -> Result<String> {
        unsupported("virStorageVolGetXMLDesc")
    }
    fn vol_get_path(&self, vol: &StorageVolRef) -> Result<String> {
        unsupported("virStorageVolGetPath")
    }
    /// The file behind a volume, for upload/download streams.
    fn vol_data_path(&self, vol: &StorageVolRef, for_upload: bool) -> Result<String> {
        unsupported("virStorageVolUpload")
    }
    /// `virStorageVolUpload` and the stream's sends: `source` written into the volume from
    /// `offset` (`length` bytes at most; 0 for all), `progress` told the bytes sent so far.
    /// With `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM` in `flags`, runs of zeroes are holes (the
    /// volume's bytes there are skipped, not written). In-process this is the volume's file
    /// ([`Connection::vol_data_path`]); a remote connection streams it.
    fn vol_upload(
        &self,
        vol: &StorageVolRef,
        offset: u64,
        length: u64,
        flags: u32,
        source: &mut dyn std::io::Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let sparse = check_sparse_flag(flags, "virStorageVolUpload")?;
        let path = self.vol_data_path(vol, true)?;
        crate::volume_data::upload_to_file(&path, offset, length, sparse, source, progress)
    }
    /// `virStorageVolDownload` and the stream's receives: the volume from `offset` (`length`
    /// bytes at most; 0 for all) written to `sink`, `progress` told the bytes received.
    /// `VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM` lets a remote daemon send holes (`sink` gets
    /// them as zeroes).
    fn vol_download(
        &self,
        vol: &StorageVolRef,
        offset: u64,
        length: u64,
        flags: u32,
        sink: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        check_sparse_flag(flags, "virStorageVolDownload")?;
        let path = self.vol_data_path(vol, false)?;
        crate::volume_data::download_from_file(&path, offset, length, sink, progress)
    }

    // ---- host devices and interfaces ----

    fn nodedev_list(&self, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
        unsupported("virConnectListAllNodeDevices")
    }
    fn nodedev_lookup(&self, name: &str) -> Result<String> {
        unsupported("virNodeDeviceLookupByName")
    }
    fn nodedev_get_xml(&self, name: &str, flags: u32) -> Result<String> {
        unsupported("virNodeDeviceGetXMLDesc")
    }
    fn nodedev_get_parent(&self, name: &str) -> Result<Option<String>> {
        unsupported("virNodeDeviceGetParent")
    }
    fn nodedev_list_caps(&self, name: &str) -> Result<Vec<String>> {
        unsupported("virNodeDeviceListCaps")
    }
    fn iface_list_all(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        unsupported("virConnectListAllInterfaces")
    }
    fn iface_lookup_by_name(&self, name: &str) -> Result<InterfaceRef> {
        unsupported("virInterfaceLookupByName")
    }
    fn iface_lookup_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        unsupported("virInterfaceLookupByMACString")
    }
    fn iface_get_xml(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        unsupported("virInterfaceGetXMLDesc")
    }
    fn iface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        unsupported("virInterfaceIsActive")
    }

    // ---- secrets ----

    fn secret_list_all(&self, flags: u32) -> Result<Vec<SecretRef>> {
        unsupported("virConnectListAllSecrets")
    }
    fn secret_lookup_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        unsupported("virSecretLookupByUUID")
    }
    fn secret_lookup_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        unsupported("virSecretLookupByUsage")
    }
    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        unsupported("virSecretDefineXML")
    }
    fn secret_get_xml(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        unsupported("virSecretGetXMLDesc")
    }
    fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        unsupported("virSecretGetValue")
    }
    fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        unsupported("virSecretSetValue")
    }
    fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        unsupported("virSecretUndefine")
    }

    // ---- rvirt's plugin administration (no libvirt equivalent) ----

    /// Every driver plugin of the host serving this connection (`rvirsh plugin-list`).
    fn plugin_list(&self, flags: u32) -> Result<Vec<PluginInfo>> {
        unsupported("rvirtPluginList")
    }
    /// Swaps plugin `name` for what is on disk now, under the running host
    /// (`rvirsh plugin-reload`): calls in flight finish on the old version, new calls go to
    /// the new one. A new version that cannot be loaded is refused and the old one stays.
    fn plugin_reload(&self, name: &str, flags: u32) -> Result<PluginInfo> {
        unsupported("rvirtPluginReload")
    }
}
