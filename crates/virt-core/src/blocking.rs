//! The blocking API: [`Connect`] and the object handles it hands out.
//!
//! Each handle is cheap to clone and keeps its connection alive. Calls go straight to the
//! [`Connection`] that serves the URI; write calls on a read-only connection fail here with
//! VIR_ERR_OPERATION_DENIED before reaching it, as libvirt's client library does.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::consts::domain_xml_flags;
use crate::driver::Connection;
use crate::error::{Error, ErrorDomain, ErrorNumber, Result};
use crate::event::Event;
use crate::registry;
use crate::types::*;
use crate::uri::ConnectUri;

/// `VIR_CONNECT_RO`.
pub const CONNECT_RO: u32 = 1;

struct ConnectShared {
    connection: Arc<dyn Connection>,
    uri: ConnectUri,
    read_only: bool,
}

/// An open connection to a hypervisor driver.
#[derive(Clone)]
pub struct Connect {
    shared: Arc<ConnectShared>,
}

impl std::fmt::Debug for Connect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connect")
            .field("uri", &self.shared.uri.as_str())
            .field("read_only", &self.shared.read_only)
            .finish()
    }
}

impl Connect {
    /// Opens `uri` read-write through the first registered driver that serves it.
    pub fn open(uri: &str) -> Result<Connect> {
        Self::open_with_flags(uri, 0)
    }

    /// Opens `uri` read-only: every call that changes something is refused.
    pub fn open_read_only(uri: &str) -> Result<Connect> {
        Self::open_with_flags(uri, CONNECT_RO)
    }

    /// `virConnectOpenAuth` without credentials: `flags` are `virConnectFlags`.
    pub fn open_with_flags(uri: &str, flags: u32) -> Result<Connect> {
        let parsed = ConnectUri::parse(uri)?;
        let connection = registry::open(&parsed, flags)?;
        Ok(Self::from_connection(
            connection,
            parsed,
            flags & CONNECT_RO != 0,
        ))
    }

    /// Wraps a connection a caller opened itself (a daemon serving its clients does this).
    pub fn from_connection(
        connection: Arc<dyn Connection>,
        uri: ConnectUri,
        read_only: bool,
    ) -> Connect {
        Connect {
            shared: Arc::new(ConnectShared {
                connection,
                uri,
                read_only,
            }),
        }
    }

    /// The driver connection underneath, for layers that forward calls verbatim.
    pub fn connection(&self) -> &Arc<dyn Connection> {
        &self.shared.connection
    }

    fn conn(&self) -> &dyn Connection {
        self.shared.connection.as_ref()
    }

    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    /// Fails with VIR_ERR_OPERATION_DENIED on a read-only connection, naming `api` as
    /// libvirt does ("read only access prevents virDomainSuspend").
    pub fn check_writable(&self, domain: ErrorDomain, api: &str) -> Result<()> {
        if self.shared.read_only {
            return Err(Error::read_only(domain, api));
        }
        Ok(())
    }

    pub fn close(&self) -> Result<()> {
        self.conn().close()
    }

    pub fn get_type(&self) -> Result<String> {
        self.conn().get_type()
    }
    /// rvirt's plugin administration: the host's driver plugins.
    pub fn plugin_list(&self, flags: u32) -> Result<Vec<PluginInfo>> {
        self.conn().plugin_list(flags)
    }
    /// rvirt's plugin administration: swaps plugin `name` for its files on disk now.
    pub fn plugin_reload(&self, name: &str, flags: u32) -> Result<PluginInfo> {
        self.check_writable(ErrorDomain::NONE, "rvirtPluginReload")?;
        self.conn().plugin_reload(name, flags)
    }
    pub fn get_uri(&self) -> Result<String> {
        self.conn().get_uri()
    }
    pub fn get_version(&self) -> Result<u64> {
        self.conn().get_version()
    }
    pub fn get_lib_version(&self) -> Result<u64> {
        self.conn().get_lib_version()
    }
    pub fn get_hostname(&self) -> Result<String> {
        self.conn().get_hostname()
    }
    pub fn get_capabilities(&self) -> Result<String> {
        self.conn().get_capabilities()
    }
    pub fn get_domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virt_type: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.conn()
            .get_domain_capabilities(emulator, arch, machine, virt_type, flags)
    }
    pub fn get_sysinfo(&self, flags: u32) -> Result<String> {
        self.conn().get_sysinfo(flags)
    }
    pub fn get_max_vcpus(&self, virt_type: Option<&str>) -> Result<i32> {
        self.conn().get_max_vcpus(virt_type)
    }
    pub fn is_alive(&self) -> bool {
        self.conn().is_alive()
    }
    pub fn is_secure(&self) -> bool {
        self.conn().is_secure()
    }
    pub fn is_encrypted(&self) -> bool {
        self.conn().is_encrypted()
    }
    pub fn set_keep_alive(&self, interval: i32, count: u32) -> Result<()> {
        self.conn().set_keep_alive(interval, count)
    }
    pub fn node_info(&self) -> Result<NodeInfo> {
        self.conn().node_get_info()
    }
    pub fn node_free_memory(&self) -> Result<u64> {
        self.conn().node_get_free_memory()
    }
    pub fn node_cells_free_memory(&self, start_cell: i32, max_cells: i32) -> Result<Vec<u64>> {
        self.conn()
            .node_get_cells_free_memory(start_cell, max_cells)
    }
    pub fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        self.check_writable(ErrorDomain::DOMAIN, "virConnectDomainXMLToNative")?;
        self.conn().domain_xml_to_native(format, xml, flags)
    }
    pub fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        self.check_writable(ErrorDomain::DOMAIN, "virConnectDomainXMLFromNative")?;
        self.conn().domain_xml_from_native(format, config, flags)
    }

    pub fn node_security_model(&self) -> Result<SecurityModel> {
        self.conn().node_get_security_model()
    }
    pub fn cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        self.conn().get_cpu_model_names(arch, flags)
    }
    pub fn compare_cpu(&self, xml: &str, flags: u32) -> Result<i32> {
        self.conn().compare_cpu(xml, flags)
    }
    pub fn baseline_cpu(&self, xmls: &[String], flags: u32) -> Result<String> {
        self.conn().baseline_cpu(xmls, flags)
    }

    /// Every event of this connection's scope, from now on.
    pub fn events(&self) -> Result<EventStream> {
        Ok(EventStream {
            receiver: self.conn().events()?,
        })
    }

    // ---- domains ----

    fn domain(&self, reference: DomainRef) -> Domain {
        Domain {
            connect: self.clone(),
            reference: Arc::new(Mutex::new(reference)),
        }
    }

    pub fn domain_lookup_by_name(&self, name: &str) -> Result<Domain> {
        self.conn()
            .domain_lookup_by_name(name)
            .map(|r| self.domain(r))
    }
    pub fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<Domain> {
        self.conn()
            .domain_lookup_by_uuid(uuid)
            .map(|r| self.domain(r))
    }
    pub fn domain_lookup_by_uuid_string(&self, uuid: &str) -> Result<Domain> {
        let uuid = parse_uuid(uuid).ok_or_else(|| invalid_uuid(uuid))?;
        self.domain_lookup_by_uuid(&uuid)
    }
    pub fn domain_lookup_by_id(&self, id: i32) -> Result<Domain> {
        if id < 0 {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                "id in virDomainLookupByID must be >= 0",
            ));
        }
        self.conn().domain_lookup_by_id(id).map(|r| self.domain(r))
    }
    /// `virConnectListAllDomains` with `connect_list_all_domains_flags`.
    pub fn list_all_domains(&self, flags: u32) -> Result<Vec<Domain>> {
        Ok(self
            .conn()
            .domain_list_all(flags)?
            .into_iter()
            .map(|r| self.domain(r))
            .collect())
    }
    pub fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        self.check_writable(ErrorDomain::DOMAIN, "virDomainDefineXML")?;
        self.conn()
            .domain_define_xml(xml, flags)
            .map(|r| self.domain(r))
    }
    pub fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        self.check_writable(ErrorDomain::DOMAIN, "virDomainCreateXML")?;
        self.conn()
            .domain_create_xml(xml, flags)
            .map(|r| self.domain(r))
    }
    pub fn domain_restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.check_writable(ErrorDomain::DOMAIN, "virDomainRestore")?;
        self.conn().domain_restore(path, dxml, flags)
    }
    pub fn domain_save_image_get_xml(&self, path: &str, flags: u32) -> Result<String> {
        self.conn().domain_save_image_get_xml(path, flags)
    }
    /// `virConnectGetAllDomainStats`.
    pub fn get_all_domain_stats(
        &self,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(Domain, Vec<TypedParam>)>> {
        Ok(self
            .conn()
            .domain_get_stats(&[], stats, flags)?
            .into_iter()
            .map(|(r, params)| (self.domain(r), params))
            .collect())
    }

    // ---- networks ----

    fn network(&self, reference: NetworkRef) -> Network {
        Network {
            connect: self.clone(),
            reference,
        }
    }

    pub fn network_lookup_by_name(&self, name: &str) -> Result<Network> {
        self.conn()
            .network_lookup_by_name(name)
            .map(|r| self.network(r))
    }
    pub fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<Network> {
        self.conn()
            .network_lookup_by_uuid(uuid)
            .map(|r| self.network(r))
    }
    pub fn network_lookup_by_uuid_string(&self, uuid: &str) -> Result<Network> {
        let uuid = parse_uuid(uuid).ok_or_else(|| invalid_uuid(uuid))?;
        self.network_lookup_by_uuid(&uuid)
    }
    pub fn list_all_networks(&self, flags: u32) -> Result<Vec<Network>> {
        Ok(self
            .conn()
            .network_list_all(flags)?
            .into_iter()
            .map(|r| self.network(r))
            .collect())
    }
    pub fn network_define_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        self.check_writable(ErrorDomain::NETWORK, "virNetworkDefineXML")?;
        self.conn()
            .network_define_xml(xml, flags)
            .map(|r| self.network(r))
    }
    pub fn network_create_xml(&self, xml: &str, flags: u32) -> Result<Network> {
        self.check_writable(ErrorDomain::NETWORK, "virNetworkCreateXML")?;
        self.conn()
            .network_create_xml(xml, flags)
            .map(|r| self.network(r))
    }

    // ---- storage ----

    fn pool(&self, reference: StoragePoolRef) -> StoragePool {
        StoragePool {
            connect: self.clone(),
            reference,
        }
    }
    fn vol(&self, reference: StorageVolRef) -> StorageVol {
        StorageVol {
            connect: self.clone(),
            reference,
        }
    }

    pub fn storage_pool_lookup_by_name(&self, name: &str) -> Result<StoragePool> {
        self.conn().pool_lookup_by_name(name).map(|r| self.pool(r))
    }
    pub fn storage_pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<StoragePool> {
        self.conn().pool_lookup_by_uuid(uuid).map(|r| self.pool(r))
    }
    pub fn storage_pool_lookup_by_uuid_string(&self, uuid: &str) -> Result<StoragePool> {
        let uuid = parse_uuid(uuid).ok_or_else(|| invalid_uuid(uuid))?;
        self.storage_pool_lookup_by_uuid(&uuid)
    }
    pub fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<StoragePool>> {
        Ok(self
            .conn()
            .pool_list_all(flags)?
            .into_iter()
            .map(|r| self.pool(r))
            .collect())
    }
    pub fn storage_pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        self.check_writable(ErrorDomain::STORAGE, "virStoragePoolDefineXML")?;
        self.conn()
            .pool_define_xml(xml, flags)
            .map(|r| self.pool(r))
    }
    pub fn storage_pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePool> {
        self.check_writable(ErrorDomain::STORAGE, "virStoragePoolCreateXML")?;
        self.conn()
            .pool_create_xml(xml, flags)
            .map(|r| self.pool(r))
    }
    pub fn find_storage_pool_sources(
        &self,
        kind: &str,
        src_spec: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.check_writable(ErrorDomain::STORAGE, "virConnectFindStoragePoolSources")?;
        self.conn().pool_find_sources(kind, src_spec, flags)
    }
    pub fn storage_vol_lookup_by_key(&self, key: &str) -> Result<StorageVol> {
        self.conn().vol_lookup_by_key(key).map(|r| self.vol(r))
    }
    pub fn storage_vol_lookup_by_path(&self, path: &str) -> Result<StorageVol> {
        self.conn().vol_lookup_by_path(path).map(|r| self.vol(r))
    }

    // ---- host devices, interfaces, secrets ----

    pub fn list_node_devices(&self, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
        self.conn().nodedev_list(capability, flags)
    }
    pub fn node_device_lookup_by_name(&self, name: &str) -> Result<String> {
        self.conn().nodedev_lookup(name)
    }
    pub fn node_device_xml(&self, name: &str, flags: u32) -> Result<String> {
        self.conn().nodedev_get_xml(name, flags)
    }
    pub fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        self.conn().iface_list_all(flags)
    }
    pub fn interface_lookup_by_name(&self, name: &str) -> Result<InterfaceRef> {
        self.conn().iface_lookup_by_name(name)
    }
    pub fn interface_xml(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        self.conn().iface_get_xml(iface, flags)
    }
    pub fn list_all_secrets(&self, flags: u32) -> Result<Vec<SecretRef>> {
        self.conn().secret_list_all(flags)
    }
    pub fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        self.check_writable(ErrorDomain::SECRET, "virSecretDefineXML")?;
        self.conn().secret_define_xml(xml, flags)
    }
    pub fn secret_lookup_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        self.conn().secret_lookup_by_uuid(uuid)
    }
    pub fn secret_get_xml(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        self.conn().secret_get_xml(secret, flags)
    }
    pub fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        self.check_writable(ErrorDomain::SECRET, "virSecretGetValue")?;
        self.conn().secret_get_value(secret, flags)
    }
    pub fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        self.check_writable(ErrorDomain::SECRET, "virSecretSetValue")?;
        self.conn().secret_set_value(secret, value, flags)
    }
    pub fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        self.check_writable(ErrorDomain::SECRET, "virSecretUndefine")?;
        self.conn().secret_undefine(secret)
    }
}

/// A stream of a connection's events.
#[derive(Debug)]
pub struct EventStream {
    receiver: broadcast::Receiver<Event>,
}

impl EventStream {
    /// The next event, blocking. `None` once the connection is gone. Events dropped because
    /// the reader fell behind are skipped.
    pub fn next_blocking(&mut self) -> Option<Event> {
        loop {
            match self.receiver.blocking_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is already queued.
    pub fn try_next(&mut self) -> Option<Event> {
        loop {
            match self.receiver.try_recv() {
                Ok(event) => return Some(event),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    /// The next event (async).
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// A domain (`virDomainPtr`).
#[derive(Clone)]
pub struct Domain {
    connect: Connect,
    reference: Arc<Mutex<DomainRef>>,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reference().fmt(f)
    }
}

impl Domain {
    /// A snapshot of what the handle carries (name, UUID, last known id).
    pub fn reference(&self) -> DomainRef {
        self.reference
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
    fn update(&self, new: DomainRef) {
        match self.reference.lock() {
            Ok(mut r) => *r = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
    fn set_id(&self, id: i32) {
        let mut r = self.reference();
        r.id = id;
        self.update(r);
    }
    fn conn(&self) -> &dyn Connection {
        self.connect.conn()
    }
    pub fn connect(&self) -> &Connect {
        &self.connect
    }
    pub fn name(&self) -> String {
        self.reference().name
    }
    pub fn uuid(&self) -> Uuid {
        self.reference().uuid
    }
    pub fn uuid_string(&self) -> String {
        self.uuid().to_string()
    }
    /// The id, or -1 when inactive (as of the last call that told).
    pub fn id(&self) -> i32 {
        self.reference().id
    }

    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        if flags & domain_xml_flags::SECURE != 0 {
            self.connect
                .check_writable(ErrorDomain::DOMAIN, "virDomainGetXMLDesc")?;
        }
        self.conn().domain_get_xml(&self.reference(), flags)
    }
    pub fn info(&self) -> Result<DomainInfo> {
        self.conn().domain_get_info(&self.reference())
    }
    pub fn state(&self, flags: u32) -> Result<DomainState> {
        self.conn().domain_get_state(&self.reference(), flags)
    }
    pub fn status(&self) -> Result<ObjectStatus> {
        self.conn().domain_get_status(&self.reference())
    }
    pub fn is_active(&self) -> Result<bool> {
        Ok(self.status()?.active)
    }
    pub fn is_persistent(&self) -> Result<bool> {
        Ok(self.status()?.persistent)
    }
    pub fn autostart(&self) -> Result<bool> {
        Ok(self.status()?.autostart)
    }
    pub fn has_managed_save(&self) -> Result<bool> {
        Ok(self.status()?.has_managed_save)
    }
    pub fn os_type(&self) -> Result<String> {
        self.conn().domain_get_os_type(&self.reference())
    }
    pub fn hostname(&self, flags: u32) -> Result<String> {
        self.conn().domain_get_hostname(&self.reference(), flags)
    }
    pub fn max_memory(&self) -> Result<u64> {
        self.conn().domain_get_max_memory(&self.reference())
    }
    pub fn vcpus(&self, flags: u32) -> Result<i32> {
        self.conn().domain_get_vcpus(&self.reference(), flags)
    }
    pub fn max_vcpus(&self) -> Result<i32> {
        self.conn().domain_get_max_vcpus(&self.reference())
    }
    pub fn scheduler_type(&self) -> Result<(String, i32)> {
        self.conn().domain_get_scheduler_type(&self.reference())
    }
    pub fn scheduler_params(&self, flags: u32) -> Result<Vec<TypedParam>> {
        self.conn()
            .domain_get_scheduler_params(&self.reference(), flags)
    }
    pub fn metadata(&self, kind: i32, uri: Option<&str>, flags: u32) -> Result<String> {
        self.conn()
            .domain_get_metadata(&self.reference(), kind, uri, flags)
    }
    pub fn stats(&self, stats: u32, flags: u32) -> Result<Vec<TypedParam>> {
        let reference = self.reference();
        let mut all =
            self.conn()
                .domain_get_stats(std::slice::from_ref(&reference), stats, flags)?;
        Ok(all.pop().map(|(_, params)| params).unwrap_or_default())
    }
    pub fn block_stats(&self, disk: &str, flags: u32) -> Result<Vec<TypedParam>> {
        self.conn()
            .domain_block_stats(&self.reference(), disk, flags)
    }
    pub fn interface_stats(&self, device: &str) -> Result<Vec<TypedParam>> {
        self.conn()
            .domain_interface_stats(&self.reference(), device)
    }
    pub fn memory_stats(&self, max_stats: u32, flags: u32) -> Result<Vec<(i32, u64)>> {
        self.conn()
            .domain_memory_stats(&self.reference(), max_stats, flags)
    }

    /// Starts the domain (`virDomainCreateWithFlags`); the handle learns its new id.
    pub fn create(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainCreateWithFlags")?;
        let started = self.conn().domain_create(&self.reference(), flags)?;
        self.set_id(started.id);
        Ok(())
    }
    pub fn undefine(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainUndefineFlags")?;
        self.conn().domain_undefine(&self.reference(), flags)
    }
    pub fn destroy(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainDestroyFlags")?;
        self.conn().domain_destroy(&self.reference(), flags)?;
        self.set_id(-1);
        Ok(())
    }
    pub fn shutdown(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainShutdownFlags")?;
        self.conn().domain_shutdown(&self.reference(), flags)
    }
    pub fn reboot(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainReboot")?;
        self.conn().domain_reboot(&self.reference(), flags)
    }
    pub fn reset(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainReset")?;
        self.conn().domain_reset(&self.reference(), flags)
    }
    pub fn suspend(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSuspend")?;
        self.conn().domain_suspend(&self.reference())
    }
    pub fn resume(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainResume")?;
        self.conn().domain_resume(&self.reference())
    }
    pub fn save(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSaveFlags")?;
        self.conn()
            .domain_save(&self.reference(), path, dxml, flags)?;
        self.set_id(-1);
        Ok(())
    }
    pub fn managed_save(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainManagedSave")?;
        self.conn().domain_managed_save(&self.reference(), flags)?;
        self.set_id(-1);
        Ok(())
    }
    pub fn managed_save_remove(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainManagedSaveRemove")?;
        self.conn()
            .domain_managed_save_remove(&self.reference(), flags)
    }
    /// Renames the domain; the handle carries the new name.
    pub fn rename(&self, new_name: &str, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainRename")?;
        let renamed = self
            .conn()
            .domain_rename(&self.reference(), new_name, flags)?;
        self.update(renamed);
        Ok(())
    }
    pub fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetAutostart")?;
        self.conn()
            .domain_set_autostart(&self.reference(), autostart)
    }
    pub fn set_memory(&self, kib: u64, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetMemoryFlags")?;
        self.conn().domain_set_memory(&self.reference(), kib, flags)
    }
    pub fn set_max_memory(&self, kib: u64) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetMaxMemory")?;
        self.conn().domain_set_max_memory(&self.reference(), kib)
    }
    pub fn set_vcpus(&self, count: u32, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetVcpusFlags")?;
        self.conn()
            .domain_set_vcpus(&self.reference(), count, flags)
    }
    pub fn set_scheduler_params(&self, params: &[TypedParam], flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetSchedulerParametersFlags")?;
        self.conn()
            .domain_set_scheduler_params(&self.reference(), params, flags)
    }
    pub fn set_metadata(
        &self,
        kind: i32,
        metadata: Option<&str>,
        key: Option<&str>,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetMetadata")?;
        self.conn()
            .domain_set_metadata(&self.reference(), kind, metadata, key, uri, flags)
    }
    pub fn block_resize(&self, disk: &str, size: u64, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainBlockResize")?;
        self.conn()
            .domain_block_resize(&self.reference(), disk, size, flags)
    }
    pub fn attach_device(&self, xml: &str, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainAttachDeviceFlags")?;
        self.conn()
            .domain_attach_device(&self.reference(), xml, flags)
    }
    pub fn detach_device(&self, xml: &str, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainDetachDeviceFlags")?;
        self.conn()
            .domain_detach_device(&self.reference(), xml, flags)
    }
    pub fn detach_device_alias(&self, alias: &str, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainDetachDeviceAlias")?;
        self.conn()
            .domain_detach_device_alias(&self.reference(), alias, flags)
    }
    pub fn update_device(&self, xml: &str, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainUpdateDeviceFlags")?;
        self.conn()
            .domain_update_device(&self.reference(), xml, flags)
    }
    pub fn open_console(&self, dev_name: Option<&str>, flags: u32) -> Result<ConsoleEndpoint> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainOpenConsole")?;
        self.conn()
            .domain_open_console(&self.reference(), dev_name, flags)
    }
    /// The console as a duplex byte descriptor (see `Connection::domain_open_console_stream`).
    pub fn open_console_stream(
        &self,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<std::os::fd::OwnedFd> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainOpenConsole")?;
        self.conn()
            .domain_open_console_stream(&self.reference(), dev_name, flags)
    }
    pub fn send_key(
        &self,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSendKey")?;
        self.conn()
            .domain_send_key(&self.reference(), codeset, holdtime, keycodes, flags)
    }
    pub fn inject_nmi(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainInjectNMI")?;
        self.conn().domain_inject_nmi(&self.reference(), flags)
    }
    pub fn qemu_monitor_command(&self, cmd: &str, flags: u32) -> Result<String> {
        self.connect
            .check_writable(ErrorDomain::QEMU, "virDomainQemuMonitorCommand")?;
        self.conn()
            .domain_qemu_monitor_command(&self.reference(), cmd, flags)
    }
    pub fn qemu_agent_command(&self, cmd: &str, timeout: i32, flags: u32) -> Result<String> {
        self.connect
            .check_writable(ErrorDomain::QEMU, "virDomainQemuAgentCommand")?;
        self.conn()
            .domain_qemu_agent_command(&self.reference(), cmd, timeout, flags)
    }

    pub fn parameters(
        &self,
        set: ParameterSet,
        device: Option<&str>,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.conn()
            .domain_get_parameters(&self.reference(), set, device, flags)
    }
    pub fn set_parameters(
        &self,
        set: ParameterSet,
        device: Option<&str>,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetMemoryParameters")?;
        self.conn()
            .domain_set_parameters(&self.reference(), set, device, params, flags)
    }
    pub fn security_label(&self) -> Result<Vec<SecurityLabel>> {
        self.conn().domain_get_security_label(&self.reference())
    }
    pub fn block_info(&self, disk: &str, flags: u32) -> Result<BlockInfo> {
        self.conn()
            .domain_get_block_info(&self.reference(), disk, flags)
    }
    pub fn vcpu_info(&self) -> Result<Vec<VcpuInfo>> {
        self.conn().domain_get_vcpu_info(&self.reference())
    }
    pub fn pin_vcpu(&self, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainPinVcpuFlags")?;
        self.conn()
            .domain_pin_vcpu(&self.reference(), vcpu, cpumap, flags)
    }
    pub fn interface_addresses(&self, source: u32, flags: u32) -> Result<Vec<GuestInterface>> {
        if source == 1 {
            // VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT talks to the guest: a write in libvirt's book.
            self.connect
                .check_writable(ErrorDomain::DOMAIN, "virDomainInterfaceAddresses")?;
        }
        self.conn()
            .domain_interface_addresses(&self.reference(), source, flags)
    }
    pub fn job_stats(&self, flags: u32) -> Result<JobStats> {
        self.conn().domain_get_job_stats(&self.reference(), flags)
    }
    pub fn abort_job(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainAbortJob")?;
        self.conn().domain_abort_job(&self.reference(), flags)
    }
    /// `virDomainMigrateToURI3`: a peer-to-peer migration (VIR_MIGRATE_PEER2PEER in
    /// `flags`), run by the source's daemon or host towards `dconnuri`.
    pub fn migrate_to_uri(&self, dconnuri: &str, params: &[TypedParam], flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainMigrateToURI3")?;
        if flags & crate::consts::domain_migrate_flags::PEER2PEER == 0 {
            return Err(Error::new(
                ErrorNumber::ARGUMENT_UNSUPPORTED,
                ErrorDomain::DOMAIN,
                "direct migration is not supported by the connection driver",
            ));
        }
        self.conn().domain_migrate_perform(
            &self.reference(),
            Some(dconnuri),
            params,
            &[],
            flags,
        )?;
        self.set_id(-1);
        Ok(())
    }
    /// `virDomainMigrate3`: a managed migration to `dest`, this client running the phases.
    pub fn migrate(&self, dest: &Connect, params: &[TypedParam], flags: u32) -> Result<Domain> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainMigrate3")?;
        dest.check_writable(ErrorDomain::DOMAIN, "virDomainMigrate3")?;
        let moved = crate::migration::run_phases(
            self.conn(),
            &self.reference(),
            dest.conn(),
            params,
            flags,
        )?;
        self.set_id(-1);
        Ok(Domain {
            connect: dest.clone(),
            reference: Arc::new(Mutex::new(moved)),
        })
    }
    pub fn migrate_set_max_speed(&self, bandwidth: u64, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainMigrateSetMaxSpeed")?;
        self.conn()
            .domain_migrate_set_max_speed(&self.reference(), bandwidth, flags)
    }
    pub fn migrate_max_speed(&self, flags: u32) -> Result<u64> {
        self.conn()
            .domain_migrate_get_max_speed(&self.reference(), flags)
    }
    pub fn migrate_set_max_downtime(&self, downtime: u64, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainMigrateSetMaxDowntime")?;
        self.conn()
            .domain_migrate_set_max_downtime(&self.reference(), downtime, flags)
    }
    pub fn migrate_max_downtime(&self, flags: u32) -> Result<u64> {
        self.conn()
            .domain_migrate_get_max_downtime(&self.reference(), flags)
    }
    pub fn migrate_start_post_copy(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainMigrateStartPostCopy")?;
        self.conn()
            .domain_migrate_start_post_copy(&self.reference(), flags)
    }
    pub fn core_dump(&self, to: &str, format: u32, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainCoreDumpWithFormat")?;
        self.conn()
            .domain_core_dump(&self.reference(), to, format, flags)
    }
    pub fn set_lifecycle_action(&self, kind: u32, action: u32, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetLifecycleAction")?;
        self.conn()
            .domain_set_lifecycle_action(&self.reference(), kind, action, flags)
    }
    pub fn time(&self, flags: u32) -> Result<(i64, u32)> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainGetTime")?;
        self.conn().domain_get_time(&self.reference(), flags)
    }
    pub fn set_time(&self, seconds: i64, nseconds: u32, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainSetTime")?;
        self.conn()
            .domain_set_time(&self.reference(), seconds, nseconds, flags)
    }
    pub fn fs_freeze(&self, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainFSFreeze")?;
        self.conn()
            .domain_fs_freeze(&self.reference(), mountpoints, flags)
    }
    pub fn fs_thaw(&self, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN, "virDomainFSThaw")?;
        self.conn()
            .domain_fs_thaw(&self.reference(), mountpoints, flags)
    }
    pub fn disk_errors(&self, flags: u32) -> Result<Vec<(String, i32)>> {
        self.conn().domain_get_disk_errors(&self.reference(), flags)
    }

    // ---- snapshots ----

    pub fn snapshot_create_xml(&self, xml: &str, flags: u32) -> Result<DomainSnapshot> {
        self.connect
            .check_writable(ErrorDomain::DOMAIN_SNAPSHOT, "virDomainSnapshotCreateXML")?;
        let name = self
            .conn()
            .snapshot_create_xml(&self.reference(), xml, flags)?;
        Ok(DomainSnapshot {
            domain: self.clone(),
            name,
        })
    }
    pub fn list_all_snapshots(&self, flags: u32) -> Result<Vec<DomainSnapshot>> {
        Ok(self
            .conn()
            .snapshot_list_all(&self.reference(), flags)?
            .into_iter()
            .map(|name| DomainSnapshot {
                domain: self.clone(),
                name,
            })
            .collect())
    }
    pub fn snapshot_lookup_by_name(&self, name: &str, flags: u32) -> Result<DomainSnapshot> {
        let name = self
            .conn()
            .snapshot_lookup_by_name(&self.reference(), name, flags)?;
        Ok(DomainSnapshot {
            domain: self.clone(),
            name,
        })
    }
    pub fn snapshot_current(&self, flags: u32) -> Result<DomainSnapshot> {
        let name = self.conn().snapshot_current(&self.reference(), flags)?;
        Ok(DomainSnapshot {
            domain: self.clone(),
            name,
        })
    }
    pub fn has_current_snapshot(&self, flags: u32) -> Result<bool> {
        self.conn().snapshot_has_current(&self.reference(), flags)
    }
}

/// A domain snapshot (`virDomainSnapshotPtr`).
#[derive(Clone, Debug)]
pub struct DomainSnapshot {
    domain: Domain,
    name: String,
}

impl DomainSnapshot {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
    fn conn(&self) -> &dyn Connection {
        self.domain.conn()
    }
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn()
            .snapshot_get_xml(&self.domain.reference(), &self.name, flags)
    }
    pub fn parent(&self, flags: u32) -> Result<DomainSnapshot> {
        let name = self
            .conn()
            .snapshot_get_parent(&self.domain.reference(), &self.name, flags)?;
        Ok(DomainSnapshot {
            domain: self.domain.clone(),
            name,
        })
    }
    pub fn list_all_children(&self, flags: u32) -> Result<Vec<DomainSnapshot>> {
        Ok(self
            .conn()
            .snapshot_list_children(&self.domain.reference(), &self.name, flags)?
            .into_iter()
            .map(|name| DomainSnapshot {
                domain: self.domain.clone(),
                name,
            })
            .collect())
    }
    pub fn is_current(&self, flags: u32) -> Result<bool> {
        self.conn()
            .snapshot_is_current(&self.domain.reference(), &self.name, flags)
    }
    pub fn has_metadata(&self, flags: u32) -> Result<bool> {
        self.conn()
            .snapshot_has_metadata(&self.domain.reference(), &self.name, flags)
    }
    pub fn revert(&self, flags: u32) -> Result<()> {
        self.domain
            .connect
            .check_writable(ErrorDomain::DOMAIN_SNAPSHOT, "virDomainRevertToSnapshot")?;
        self.conn()
            .snapshot_revert(&self.domain.reference(), &self.name, flags)
    }
    pub fn delete(&self, flags: u32) -> Result<()> {
        self.domain
            .connect
            .check_writable(ErrorDomain::DOMAIN_SNAPSHOT, "virDomainSnapshotDelete")?;
        self.conn()
            .snapshot_delete(&self.domain.reference(), &self.name, flags)
    }
}

/// A virtual network (`virNetworkPtr`).
#[derive(Clone)]
pub struct Network {
    connect: Connect,
    reference: NetworkRef,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reference.fmt(f)
    }
}

impl Network {
    fn conn(&self) -> &dyn Connection {
        self.connect.conn()
    }
    pub fn reference(&self) -> &NetworkRef {
        &self.reference
    }
    pub fn name(&self) -> &str {
        &self.reference.name
    }
    pub fn uuid(&self) -> Uuid {
        self.reference.uuid
    }
    pub fn uuid_string(&self) -> String {
        self.reference.uuid.to_string()
    }
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn().network_get_xml(&self.reference, flags)
    }
    pub fn status(&self) -> Result<ObjectStatus> {
        self.conn().network_get_status(&self.reference)
    }
    pub fn is_active(&self) -> Result<bool> {
        Ok(self.status()?.active)
    }
    pub fn is_persistent(&self) -> Result<bool> {
        Ok(self.status()?.persistent)
    }
    pub fn autostart(&self) -> Result<bool> {
        Ok(self.status()?.autostart)
    }
    pub fn bridge_name(&self) -> Result<String> {
        self.conn().network_get_bridge_name(&self.reference)
    }
    /// `virNetworkGetDHCPLeases`.
    pub fn dhcp_leases(&self, mac: Option<&str>, flags: u32) -> Result<Vec<NetworkDhcpLease>> {
        self.conn()
            .network_get_dhcp_leases(&self.reference, mac, flags)
    }
    pub fn create(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::NETWORK, "virNetworkCreate")?;
        self.conn().network_create(&self.reference)
    }
    pub fn destroy(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::NETWORK, "virNetworkDestroy")?;
        self.conn().network_destroy(&self.reference)
    }
    pub fn undefine(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::NETWORK, "virNetworkUndefine")?;
        self.conn().network_undefine(&self.reference)
    }
    pub fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::NETWORK, "virNetworkSetAutostart")?;
        self.conn()
            .network_set_autostart(&self.reference, autostart)
    }
    pub fn update(
        &self,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
        flags: u32,
    ) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::NETWORK, "virNetworkUpdate")?;
        self.conn()
            .network_update(&self.reference, command, section, parent_index, xml, flags)
    }
}

/// A storage pool (`virStoragePoolPtr`).
#[derive(Clone)]
pub struct StoragePool {
    connect: Connect,
    reference: StoragePoolRef,
}

impl std::fmt::Debug for StoragePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reference.fmt(f)
    }
}

impl StoragePool {
    fn conn(&self) -> &dyn Connection {
        self.connect.conn()
    }
    pub fn reference(&self) -> &StoragePoolRef {
        &self.reference
    }
    pub fn name(&self) -> &str {
        &self.reference.name
    }
    pub fn uuid(&self) -> Uuid {
        self.reference.uuid
    }
    pub fn uuid_string(&self) -> String {
        self.reference.uuid.to_string()
    }
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn().pool_get_xml(&self.reference, flags)
    }
    pub fn info(&self) -> Result<StoragePoolInfo> {
        self.conn().pool_get_info(&self.reference)
    }
    pub fn status(&self) -> Result<ObjectStatus> {
        self.conn().pool_get_status(&self.reference)
    }
    pub fn is_active(&self) -> Result<bool> {
        Ok(self.status()?.active)
    }
    pub fn is_persistent(&self) -> Result<bool> {
        Ok(self.status()?.persistent)
    }
    pub fn autostart(&self) -> Result<bool> {
        Ok(self.status()?.autostart)
    }
    pub fn build(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolBuild")?;
        self.conn().pool_build(&self.reference, flags)
    }
    pub fn create(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolCreate")?;
        self.conn().pool_create(&self.reference, flags)
    }
    pub fn destroy(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolDestroy")?;
        self.conn().pool_destroy(&self.reference)
    }
    pub fn delete(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolDelete")?;
        self.conn().pool_delete(&self.reference, flags)
    }
    pub fn undefine(&self) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolUndefine")?;
        self.conn().pool_undefine(&self.reference)
    }
    pub fn refresh(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolRefresh")?;
        self.conn().pool_refresh(&self.reference, flags)
    }
    pub fn set_autostart(&self, autostart: bool) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStoragePoolSetAutostart")?;
        self.conn().pool_set_autostart(&self.reference, autostart)
    }
    pub fn list_all_volumes(&self) -> Result<Vec<StorageVol>> {
        Ok(self
            .conn()
            .vol_list(&self.reference)?
            .into_iter()
            .map(|r| self.connect.vol(r))
            .collect())
    }
    pub fn volume_lookup_by_name(&self, name: &str) -> Result<StorageVol> {
        self.conn()
            .vol_lookup_by_name(&self.reference, name)
            .map(|r| self.connect.vol(r))
    }
    pub fn volume_create_xml(&self, xml: &str, flags: u32) -> Result<StorageVol> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolCreateXML")?;
        self.conn()
            .vol_create_xml(&self.reference, xml, flags)
            .map(|r| self.connect.vol(r))
    }
    pub fn volume_create_xml_from(
        &self,
        xml: &str,
        clone_of: &StorageVol,
        flags: u32,
    ) -> Result<StorageVol> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolCreateXMLFrom")?;
        self.conn()
            .vol_create_xml_from(&self.reference, xml, &clone_of.reference, flags)
            .map(|r| self.connect.vol(r))
    }
}

/// A storage volume (`virStorageVolPtr`).
#[derive(Clone)]
pub struct StorageVol {
    connect: Connect,
    reference: StorageVolRef,
}

impl std::fmt::Debug for StorageVol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.reference.fmt(f)
    }
}

impl StorageVol {
    fn conn(&self) -> &dyn Connection {
        self.connect.conn()
    }
    pub fn reference(&self) -> &StorageVolRef {
        &self.reference
    }
    pub fn name(&self) -> &str {
        &self.reference.name
    }
    pub fn key(&self) -> &str {
        &self.reference.key
    }
    pub fn pool_name(&self) -> &str {
        &self.reference.pool
    }
    pub fn pool(&self) -> Result<StoragePool> {
        self.conn()
            .pool_lookup_by_volume(&self.reference)
            .map(|r| self.connect.pool(r))
    }
    pub fn path(&self) -> Result<String> {
        self.conn().vol_get_path(&self.reference)
    }
    pub fn info(&self, flags: u32) -> Result<StorageVolInfo> {
        self.conn().vol_get_info(&self.reference, flags)
    }
    pub fn xml_desc(&self, flags: u32) -> Result<String> {
        self.conn().vol_get_xml(&self.reference, flags)
    }
    pub fn delete(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolDelete")?;
        self.conn().vol_delete(&self.reference, flags)
    }
    pub fn wipe(&self, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolWipe")?;
        self.conn().vol_wipe(&self.reference, flags)
    }
    pub fn resize(&self, capacity: u64, flags: u32) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolResize")?;
        self.conn().vol_resize(&self.reference, capacity, flags)
    }
    /// `virStorageVolUpload` with the stream driven to its end: `source` written into the
    /// volume from `offset` (`length` bytes at most, 0 for all); `progress` gets the bytes
    /// sent so far after each chunk. `flags`: `VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM`.
    pub fn upload(
        &self,
        offset: u64,
        length: u64,
        flags: u32,
        source: &mut dyn std::io::Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        self.connect
            .check_writable(ErrorDomain::STORAGE, "virStorageVolUpload")?;
        self.conn()
            .vol_upload(&self.reference, offset, length, flags, source, progress)
    }
    /// `virStorageVolDownload` with the stream driven to its end, into `sink`.
    /// `flags`: `VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM`.
    pub fn download(
        &self,
        offset: u64,
        length: u64,
        flags: u32,
        sink: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        self.conn()
            .vol_download(&self.reference, offset, length, flags, sink, progress)
    }
}
