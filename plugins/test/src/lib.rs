//! libvirt's test driver (`test:///default`, `test:///PATH.xml`) as an rvirt driver plugin.
//!
//! It reproduces what libvirt 9.0's `src/test/test_driver.c` does for every call rvirt's
//! driver interface has: a mock hypervisor whose domains, networks, storage pools, host
//! interfaces and node devices exist only as records, with libvirt's states, events, error
//! codes and XML. `test:///default` is one space shared by all connections of a process,
//! starting with libvirt's default node; `test:///PATH.xml` loads a node document into a
//! space private to the connection.
//!
//! The plugin keeps nothing between calls: every object lives in the host's record store
//! ([`space`]), so any instance can serve any call and a trapped instance loses nothing.
//! Each API object has its module ([`domain`], [`snapshot`], [`network`], [`storage`],
//! [`interface`], [`nodedev`]); XML goes through `virt-xml`, behind each module's `def`
//! submodule. This file only routes the WIT exports to them.
//!
//! It knows nothing about wasmtime, the wire protocol or other drivers.

mod capabilities;
mod clock;
mod connect;
mod domain;
mod error;
mod interface;
mod network;
mod node;
mod nodedev;
mod snapshot;
mod space;
mod storage;
mod typed_params;

#[cfg(test)]
mod tests;

use virt_plugin_sdk::host::state::{self, Persistence, SpaceStatus};
use virt_plugin_sdk::types::{
    BlockInfo, DomainInfo, DomainRef, DomainState, Error, GuestInterface, InterfaceRef, NetworkRef,
    NodeInfo, ObjectStatus, ParameterSet, PoolInfo, PoolRef, SecurityLabel, SecurityModel,
    TypedParam, Uuid, VcpuInfo, VolumeInfo, VolumeRef,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};

use space::{HostSpace, Space};

/// The plugin.
pub struct TestDriver;

// Exports only exist in the component: a native build (the unit tests, `cargo test
// --workspace`) must not emit the `rvirt:driver/...` symbols, whose names the native
// linker's version script cannot carry.
#[cfg(target_arch = "wasm32")]
virt_plugin_sdk::export_plugin!(TestDriver = TestDriver);

/// The space of the call in flight.
fn space() -> &'static dyn Space {
    &HostSpace
}

/// Converts a driver result into the WIT's.
impl Connect for TestDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "TEST".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["test".to_string()],
            hypervisor_version: connect::HYPERVISOR_VERSION,
        }
    }

    fn open(&self, uri: String, flags: u32) -> Result<(), Error> {
        let target = wit(connect::target(&uri, flags))?;
        let name = match &target {
            connect::Target::Default => "default".to_string(),
            connect::Target::File(path) => format!("private:{path}"),
        };
        match state::bind_space(&name, Persistence::Volatile)? {
            SpaceStatus::Created => wit(connect::populate(space(), &target)),
            SpaceStatus::Existing | SpaceStatus::Reloaded => Ok(()),
        }
    }

    fn get_hostname(&self) -> Result<String, Error> {
        wit(connect::hostname(space()))
    }
    fn get_capabilities(&self) -> Result<String, Error> {
        wit(connect::capabilities(space()))
    }
    fn get_sysinfo(&self, flags: u32) -> Result<String, Error> {
        wit(connect::sysinfo(flags))
    }
    fn get_max_vcpus(&self, _virt_type: Option<String>) -> Result<i32, Error> {
        Ok(domain::config::MAX_VCPUS as i32)
    }
    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        wit(connect::node_info(space()))
    }
    fn node_get_free_memory(&self) -> Result<u64, Error> {
        wit(connect::free_memory(space()))
    }
    fn node_get_cells_free_memory(
        &self,
        start_cell: i32,
        max_cells: i32,
    ) -> Result<Vec<u64>, Error> {
        wit(connect::cells_free_memory(space(), start_cell, max_cells))
    }
    fn node_get_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<TypedParam>, Error> {
        wit(connect::cpu_stats(space(), cpu, flags))
    }
    fn node_get_security_model(&self) -> Result<SecurityModel, Error> {
        Ok(domain::guest::security_model())
    }
}

impl Domains for TestDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(domain::lookup_by_name(space(), &name))
    }
    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(domain::lookup_by_uuid(space(), uuid))
    }
    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(domain::lookup_by_id(space(), id))
    }
    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        wit(domain::list_all(space(), flags))
    }
    fn list_all_packed(&self, flags: u32) -> Result<Vec<u8>, Error> {
        wit(domain::list_all_packed(space(), flags))
    }
    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(domain::lifecycle::define_xml(space(), &xml, flags))
    }
    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::lifecycle::undefine(space(), &dom, flags))
    }
    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        wit(domain::lifecycle::create(space(), &dom, flags))
    }
    fn create_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(domain::lifecycle::create_xml(space(), &xml, flags))
    }
    fn destroy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::lifecycle::destroy(space(), &dom, flags))
    }
    fn shutdown(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::lifecycle::shutdown(space(), &dom, flags))
    }
    fn reboot(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::lifecycle::reboot(space(), &dom, flags))
    }
    fn reset(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::lifecycle::reset(space(), &dom, flags))
    }
    fn suspend(&self, dom: DomainRef) -> Result<(), Error> {
        wit(domain::lifecycle::suspend(space(), &dom))
    }
    fn resume(&self, dom: DomainRef) -> Result<(), Error> {
        wit(domain::lifecycle::resume(space(), &dom))
    }
    fn save(
        &self,
        dom: DomainRef,
        path: String,
        dxml: Option<String>,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::save::save(
            space(),
            &dom,
            &path,
            dxml.as_deref(),
            flags,
        ))
    }
    fn restore(&self, path: String, dxml: Option<String>, flags: u32) -> Result<(), Error> {
        wit(domain::save::restore(
            space(),
            &path,
            dxml.as_deref(),
            flags,
        ))
    }
    fn save_image_get_xml(&self, path: String, flags: u32) -> Result<String, Error> {
        wit(domain::save::image_xml(space(), &path, flags))
    }
    fn managed_save(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::save::managed_save(space(), &dom, flags))
    }
    fn managed_save_remove(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::save::managed_save_remove(space(), &dom, flags))
    }
    fn rename(&self, dom: DomainRef, new_name: String, flags: u32) -> Result<DomainRef, Error> {
        wit(domain::lifecycle::rename(space(), &dom, &new_name, flags))
    }
    fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
        wit(domain::lifecycle::info(space(), &dom))
    }
    fn get_state(&self, dom: DomainRef, flags: u32) -> Result<DomainState, Error> {
        wit(domain::lifecycle::state(space(), &dom, flags))
    }
    fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
        wit(domain::status(space(), &dom))
    }
    fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        wit(domain::lifecycle::xml(space(), &dom, flags))
    }
    fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
        wit(domain::lifecycle::os_type(space(), &dom))
    }
    fn get_hostname(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        wit(domain::lifecycle::hostname(space(), &dom, flags))
    }
    fn set_autostart(&self, dom: DomainRef, autostart: bool) -> Result<(), Error> {
        wit(domain::lifecycle::set_autostart(space(), &dom, autostart))
    }
    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        wit(domain::config::max_memory(space(), &dom))
    }
    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        wit(domain::config::set_memory(space(), &dom, kib, flags))
    }
    fn set_max_memory(&self, dom: DomainRef, kib: u64) -> Result<(), Error> {
        let maximum = virt_core::consts::domain_memory_mod_flags::MAXIMUM;
        wit(domain::config::set_memory(space(), &dom, kib, maximum))
    }
    fn get_vcpus(&self, dom: DomainRef, flags: u32) -> Result<i32, Error> {
        wit(domain::config::vcpus(space(), &dom, flags))
    }
    fn set_vcpus(&self, dom: DomainRef, count: u32, flags: u32) -> Result<(), Error> {
        wit(domain::config::set_vcpus(space(), &dom, count, flags))
    }
    fn get_max_vcpus(&self, dom: DomainRef) -> Result<i32, Error> {
        wit(domain::config::max_vcpus(space(), &dom))
    }
    fn get_scheduler_type(&self, dom: DomainRef) -> Result<(String, i32), Error> {
        wit(domain::config::scheduler_type(space(), &dom))
    }
    fn get_scheduler_params(&self, dom: DomainRef, flags: u32) -> Result<Vec<TypedParam>, Error> {
        wit(domain::config::scheduler_params(space(), &dom, flags))
    }
    fn set_scheduler_params(
        &self,
        dom: DomainRef,
        params: Vec<TypedParam>,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::config::set_scheduler_params(
            space(),
            &dom,
            &params,
            flags,
        ))
    }
    fn get_metadata(
        &self,
        dom: DomainRef,
        kind: i32,
        uri: Option<String>,
        flags: u32,
    ) -> Result<String, Error> {
        wit(domain::config::metadata(
            space(),
            &dom,
            kind,
            uri.as_deref(),
            flags,
        ))
    }
    fn set_metadata(
        &self,
        dom: DomainRef,
        kind: i32,
        metadata: Option<String>,
        key: Option<String>,
        uri: Option<String>,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::config::set_metadata(
            space(),
            &dom,
            kind,
            metadata.as_deref(),
            key.as_deref(),
            uri.as_deref(),
            flags,
        ))
    }
    fn get_stats(
        &self,
        doms: Vec<DomainRef>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>, Error> {
        wit(domain::stats::get_stats(space(), &doms, stats, flags))
    }
    fn block_stats(
        &self,
        dom: DomainRef,
        disk: String,
        flags: u32,
    ) -> Result<Vec<TypedParam>, Error> {
        wit(domain::stats::block_stats(space(), &dom, &disk, flags))
    }
    fn interface_stats(&self, dom: DomainRef, device: String) -> Result<Vec<TypedParam>, Error> {
        wit(domain::stats::interface_stats(space(), &dom, &device))
    }
    fn memory_stats(
        &self,
        dom: DomainRef,
        max_stats: u32,
        flags: u32,
    ) -> Result<Vec<(i32, u64)>, Error> {
        wit(domain::stats::memory_stats(space(), &dom, max_stats, flags))
    }
    fn inject_nmi(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(domain::stats::inject_nmi(space(), &dom, flags))
    }
    fn get_security_label(&self, dom: DomainRef) -> Result<Vec<SecurityLabel>, Error> {
        wit(domain::guest::security_label(space(), &dom))
    }
    fn get_block_info(&self, dom: DomainRef, disk: String, flags: u32) -> Result<BlockInfo, Error> {
        wit(domain::guest::block_info(space(), &dom, &disk, flags))
    }
    fn get_vcpu_info(&self, dom: DomainRef) -> Result<Vec<VcpuInfo>, Error> {
        wit(domain::guest::vcpu_info(space(), &dom))
    }
    fn pin_vcpu(
        &self,
        dom: DomainRef,
        vcpu: u32,
        cpumap: Vec<u8>,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::guest::pin_vcpu(space(), &dom, vcpu, &cpumap, flags))
    }
    fn interface_addresses(
        &self,
        dom: DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>, Error> {
        wit(domain::guest::interface_addresses(
            space(),
            &dom,
            source,
            flags,
        ))
    }
    fn core_dump(&self, dom: DomainRef, to: String, format: u32, flags: u32) -> Result<(), Error> {
        wit(domain::guest::core_dump(space(), &dom, &to, format, flags))
    }
    fn set_lifecycle_action(
        &self,
        dom: DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::guest::set_lifecycle_action(
            space(),
            &dom,
            kind,
            action,
            flags,
        ))
    }
    fn get_time(&self, dom: DomainRef, flags: u32) -> Result<(i64, u32), Error> {
        wit(domain::guest::get_time(space(), &dom, flags))
    }
    fn set_time(
        &self,
        dom: DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::guest::set_time(
            space(),
            &dom,
            seconds,
            nseconds,
            flags,
        ))
    }
    fn fs_freeze(
        &self,
        dom: DomainRef,
        mountpoints: Vec<String>,
        flags: u32,
    ) -> Result<i32, Error> {
        wit(domain::guest::fs_freeze(
            space(),
            &dom,
            &mountpoints,
            true,
            flags,
        ))
    }
    fn fs_thaw(&self, dom: DomainRef, mountpoints: Vec<String>, flags: u32) -> Result<i32, Error> {
        wit(domain::guest::fs_freeze(
            space(),
            &dom,
            &mountpoints,
            false,
            flags,
        ))
    }
    fn get_parameters(
        &self,
        dom: DomainRef,
        set: ParameterSet,
        device: Option<String>,
        flags: u32,
    ) -> Result<Vec<TypedParam>, Error> {
        wit(domain::tuning::get(
            space(),
            &dom,
            set,
            device.as_deref(),
            flags,
        ))
    }
    fn set_parameters(
        &self,
        dom: DomainRef,
        set: ParameterSet,
        device: Option<String>,
        params: Vec<TypedParam>,
        flags: u32,
    ) -> Result<(), Error> {
        wit(domain::tuning::set(
            space(),
            &dom,
            set,
            device.as_deref(),
            &params,
            flags,
        ))
    }
    fn get_disk_errors(&self, dom: DomainRef, flags: u32) -> Result<Vec<(String, i32)>, Error> {
        wit(domain::guest::disk_errors(space(), &dom, flags))
    }
}

impl Snapshots for TestDriver {
    fn create_xml(&self, dom: DomainRef, xml: String, flags: u32) -> Result<String, Error> {
        wit(snapshot::create_xml(space(), &dom, &xml, flags))
    }
    fn list_all(&self, dom: DomainRef, flags: u32) -> Result<Vec<String>, Error> {
        wit(snapshot::list_all(space(), &dom, flags))
    }
    fn list_children(
        &self,
        dom: DomainRef,
        name: String,
        flags: u32,
    ) -> Result<Vec<String>, Error> {
        wit(snapshot::list_children(space(), &dom, &name, flags))
    }
    fn lookup_by_name(&self, dom: DomainRef, name: String, flags: u32) -> Result<String, Error> {
        wit(snapshot::lookup_by_name(space(), &dom, &name, flags))
    }
    fn current(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        wit(snapshot::current(space(), &dom, flags))
    }
    fn has_current(&self, dom: DomainRef, flags: u32) -> Result<bool, Error> {
        wit(snapshot::has_current(space(), &dom, flags))
    }
    fn get_parent(&self, dom: DomainRef, name: String, flags: u32) -> Result<String, Error> {
        wit(snapshot::parent(space(), &dom, &name, flags))
    }
    fn get_xml(&self, dom: DomainRef, name: String, flags: u32) -> Result<String, Error> {
        wit(snapshot::xml(space(), &dom, &name, flags))
    }
    fn is_current(&self, dom: DomainRef, name: String, flags: u32) -> Result<bool, Error> {
        wit(snapshot::is_current(space(), &dom, &name, flags))
    }
    fn has_metadata(&self, dom: DomainRef, name: String, flags: u32) -> Result<bool, Error> {
        wit(snapshot::has_metadata(space(), &dom, &name, flags))
    }
    fn revert(&self, dom: DomainRef, name: String, flags: u32) -> Result<(), Error> {
        wit(snapshot::revert(space(), &dom, &name, flags))
    }
    fn delete(&self, dom: DomainRef, name: String, flags: u32) -> Result<(), Error> {
        wit(snapshot::delete(space(), &dom, &name, flags))
    }
}

impl Networks for TestDriver {
    fn lookup_by_name(&self, name: String) -> Result<NetworkRef, Error> {
        wit(network::lookup_by_name(space(), &name))
    }
    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<NetworkRef, Error> {
        wit(network::lookup_by_uuid(space(), uuid))
    }
    fn list_all(&self, flags: u32) -> Result<Vec<NetworkRef>, Error> {
        wit(network::list_all(space(), flags))
    }
    fn define_xml(&self, xml: String, flags: u32) -> Result<NetworkRef, Error> {
        wit(network::define_xml(space(), &xml, flags))
    }
    fn create_xml(&self, xml: String, flags: u32) -> Result<NetworkRef, Error> {
        wit(network::create_xml(space(), &xml, flags))
    }
    fn undefine(&self, net: NetworkRef) -> Result<(), Error> {
        wit(network::undefine(space(), &net))
    }
    fn create(&self, net: NetworkRef) -> Result<(), Error> {
        wit(network::create(space(), &net))
    }
    fn destroy(&self, net: NetworkRef) -> Result<(), Error> {
        wit(network::destroy(space(), &net))
    }
    fn get_xml(&self, net: NetworkRef, flags: u32) -> Result<String, Error> {
        wit(network::xml(space(), &net, flags))
    }
    fn get_status(&self, net: NetworkRef) -> Result<ObjectStatus, Error> {
        wit(network::status(space(), &net))
    }
    fn set_autostart(&self, net: NetworkRef, autostart: bool) -> Result<(), Error> {
        wit(network::set_autostart(space(), &net, autostart))
    }
    fn get_bridge_name(&self, net: NetworkRef) -> Result<String, Error> {
        wit(network::bridge_name(space(), &net))
    }
    fn update(
        &self,
        net: NetworkRef,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: String,
        flags: u32,
    ) -> Result<(), Error> {
        wit(network::update(
            space(),
            &net,
            command,
            section,
            parent_index,
            &xml,
            flags,
        ))
    }
}

impl Storage for TestDriver {
    fn lookup_pool_by_name(&self, name: String) -> Result<PoolRef, Error> {
        wit(storage::lookup_pool_by_name(space(), &name))
    }
    fn lookup_pool_by_uuid(&self, uuid: Uuid) -> Result<PoolRef, Error> {
        wit(storage::lookup_pool_by_uuid(space(), uuid))
    }
    fn lookup_pool_by_volume(&self, vol: VolumeRef) -> Result<PoolRef, Error> {
        wit(storage::lookup_pool_by_volume(space(), &vol))
    }
    fn list_all_pools(&self, flags: u32) -> Result<Vec<PoolRef>, Error> {
        wit(storage::list_all_pools(space(), flags))
    }
    fn define_pool_xml(&self, xml: String, flags: u32) -> Result<PoolRef, Error> {
        wit(storage::define_pool_xml(space(), &xml, flags))
    }
    fn create_pool_xml(&self, xml: String, flags: u32) -> Result<PoolRef, Error> {
        wit(storage::create_pool_xml(space(), &xml, flags))
    }
    fn build_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
        wit(storage::build_pool(space(), &pool, flags))
    }
    fn undefine_pool(&self, pool: PoolRef) -> Result<(), Error> {
        wit(storage::undefine_pool(space(), &pool))
    }
    fn create_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
        wit(storage::create_pool(space(), &pool, flags))
    }
    fn destroy_pool(&self, pool: PoolRef) -> Result<(), Error> {
        wit(storage::destroy_pool(space(), &pool))
    }
    fn delete_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
        wit(storage::delete_pool(space(), &pool, flags))
    }
    fn refresh_pool(&self, pool: PoolRef, flags: u32) -> Result<(), Error> {
        wit(storage::refresh_pool(space(), &pool, flags))
    }
    fn get_pool_info(&self, pool: PoolRef) -> Result<PoolInfo, Error> {
        wit(storage::pool_info(space(), &pool))
    }
    fn get_pool_xml(&self, pool: PoolRef, flags: u32) -> Result<String, Error> {
        wit(storage::pool_xml(space(), &pool, flags))
    }
    fn get_pool_status(&self, pool: PoolRef) -> Result<ObjectStatus, Error> {
        wit(storage::pool_status(space(), &pool))
    }
    fn set_pool_autostart(&self, pool: PoolRef, autostart: bool) -> Result<(), Error> {
        wit(storage::set_pool_autostart(space(), &pool, autostart))
    }
    fn find_pool_sources(
        &self,
        kind: String,
        src_spec: Option<String>,
        flags: u32,
    ) -> Result<String, Error> {
        wit(storage::find_pool_sources(
            space(),
            &kind,
            src_spec.as_deref(),
            flags,
        ))
    }
    fn list_volumes(&self, pool: PoolRef) -> Result<Vec<VolumeRef>, Error> {
        wit(storage::list_volumes(space(), &pool))
    }
    fn lookup_volume_by_name(&self, pool: PoolRef, name: String) -> Result<VolumeRef, Error> {
        wit(storage::lookup_volume_by_name(space(), &pool, &name))
    }
    fn lookup_volume_by_key(&self, key: String) -> Result<VolumeRef, Error> {
        wit(storage::lookup_volume_by_key(space(), &key))
    }
    fn lookup_volume_by_path(&self, path: String) -> Result<VolumeRef, Error> {
        wit(storage::lookup_volume_by_path(space(), &path))
    }
    fn create_volume_xml(
        &self,
        pool: PoolRef,
        xml: String,
        flags: u32,
    ) -> Result<VolumeRef, Error> {
        wit(storage::create_volume_xml(space(), &pool, &xml, flags))
    }
    fn create_volume_xml_from(
        &self,
        pool: PoolRef,
        xml: String,
        clone_of: VolumeRef,
        flags: u32,
    ) -> Result<VolumeRef, Error> {
        wit(storage::create_volume_xml_from(
            space(),
            &pool,
            &xml,
            &clone_of,
            flags,
        ))
    }
    fn delete_volume(&self, vol: VolumeRef, flags: u32) -> Result<(), Error> {
        wit(storage::delete_volume(space(), &vol, flags))
    }
    fn get_volume_info(&self, vol: VolumeRef, flags: u32) -> Result<VolumeInfo, Error> {
        wit(storage::volume_info(space(), &vol, flags))
    }
    fn get_volume_xml(&self, vol: VolumeRef, flags: u32) -> Result<String, Error> {
        wit(storage::volume_xml(space(), &vol, flags))
    }
    fn get_volume_path(&self, vol: VolumeRef) -> Result<String, Error> {
        wit(storage::volume_path(space(), &vol))
    }
}

impl HostDevices for TestDriver {
    fn list_node_devices(
        &self,
        capability: Option<String>,
        flags: u32,
    ) -> Result<Vec<String>, Error> {
        wit(nodedev::list(space(), capability.as_deref(), flags))
    }
    fn lookup_node_device(&self, name: String) -> Result<String, Error> {
        wit(nodedev::lookup(space(), &name))
    }
    fn get_node_device_xml(&self, name: String, flags: u32) -> Result<String, Error> {
        wit(nodedev::xml(space(), &name, flags))
    }
    fn get_node_device_parent(&self, name: String) -> Result<Option<String>, Error> {
        wit(nodedev::parent(space(), &name))
    }
    fn list_node_device_caps(&self, name: String) -> Result<Vec<String>, Error> {
        wit(nodedev::caps(space(), &name))
    }
    fn list_all_interfaces(&self, flags: u32) -> Result<Vec<InterfaceRef>, Error> {
        wit(interface::list_all(space(), flags))
    }
    fn lookup_interface_by_name(&self, name: String) -> Result<InterfaceRef, Error> {
        wit(interface::lookup_by_name(space(), &name))
    }
    fn lookup_interface_by_mac(&self, mac: String) -> Result<InterfaceRef, Error> {
        wit(interface::lookup_by_mac(space(), &mac))
    }
    fn get_interface_xml(&self, iface: InterfaceRef, flags: u32) -> Result<String, Error> {
        wit(interface::xml(space(), &iface, flags))
    }
    fn is_interface_active(&self, iface: InterfaceRef) -> Result<bool, Error> {
        wit(interface::is_active(space(), &iface))
    }
}

/// libvirt's test driver has no secrets driver: every call answers VIR_ERR_NO_SUPPORT.
impl Secrets for TestDriver {}

/// The test driver has no processes or streams.
impl Handlers for TestDriver {}
