//! libvirt's QEMU/KVM driver as an rvirt plugin (`qemu:///system`, `qemu:///session`,
//! `qemu:///embed?root=DIR`).
//!
//! It turns domain XML into a QEMU command line ([`argv`]), asks the host to start
//! `qemu-system-*` ([`launch`]) and drives the running QEMU over QMP ([`qmp`]). It owns the
//! QEMU-specific knowledge: capabilities probing ([`capabilities`]), the QMP conversation, the
//! mapping of QEMU's events onto libvirt's states and events ([`qemu_events`]), hotplug,
//! snapshots, save images. It holds nothing between calls: domains live in host records
//! ([`records`]) mirrored to libvirt's config and status files; QEMU processes and monitor
//! sockets are host handles. It knows nothing about how the host runs it, nor about the wire.
//!
//! One module per concern: [`domain`] (objects, define, XML), [`lifecycle`] (start, stop,
//! events, reattach), [`hotplug`], [`snapshots`], [`save`], [`runtime`] (stats, live
//! changes, console), [`agent`] (guest agent). This file routes the WIT exports to them.

mod agent;
pub mod argv;
pub mod capabilities;
mod domain;
mod error;
mod hotplug;
mod launch;
mod lifecycle;
mod migration;
mod qemu_conf;
mod qemu_events;
mod qmp;
mod records;
mod runtime;
mod save;
mod snapshot_commit;
mod snapshots;
mod space;
mod swtpm;
mod util;
mod vhost_user;

use virt_core::Uuid;
use virt_plugin_sdk::host::process::{ProcessHandle, ProcessStatus};
use virt_plugin_sdk::host::stream::StreamHandle;
use virt_plugin_sdk::host::{files, state};
use virt_plugin_sdk::types::{
    ConsoleEndpoint, DomainInfo, DomainRef, DomainState, Error, NodeInfo, ObjectStatus, TypedParam,
    Uuid as WitUuid,
};
use virt_plugin_sdk::*;

use crate::space::{SpaceKind, SpaceLayout};

/// The plugin: a unit type, every call reads what it needs from the host.
pub struct QemuDriver;

impl Connect for QemuDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "QEMU".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uri_schemes: vec!["qemu".into()],
            hypervisor_version: 7_002_000,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let kind = SpaceKind::from_uri(&uri)?;
        let status = match &kind {
            // The host then resolves the space's directories (and `$run`... in grants) under
            // the root, as libvirt's embedded driver keeps everything there.
            SpaceKind::Embed { root } => {
                state::bind_space_rooted(&kind.space_name(), state::Persistence::Persistent, root)?
            }
            _ => state::bind_space(&kind.space_name(), state::Persistence::Persistent)?,
        };
        if status == state::SpaceStatus::Existing {
            return Ok(());
        }
        let layout = kind.layout(&files::dirs());
        layout.create_dirs()?;
        records::put_json(records::META, records::META_LAYOUT, &layout);
        if status == state::SpaceStatus::Created {
            domain::import_config_dir(&layout);
        } else {
            lifecycle::reattach_all();
        }
        // Published before autostart so that a failing start keeps what was found.
        state::commit();
        lifecycle::autostart_all();
        Ok(())
    }

    fn get_hostname(&self) -> Result<String, Error> {
        let name = files::read("/proc/sys/kernel/hostname")
            .map_err(|_| error::internal("cannot read the host name"))?;
        Ok(String::from_utf8_lossy(&name).trim().to_string())
    }

    fn get_capabilities(&self) -> Result<String, Error> {
        capabilities::documents::host_capabilities(&SpaceLayout::current()?)
    }

    fn get_domain_capabilities(
        &self,
        emulator: Option<String>,
        arch: Option<String>,
        machine: Option<String>,
        virt_type: Option<String>,
        _flags: u32,
    ) -> Result<String, Error> {
        capabilities::documents::domain_capabilities(
            &SpaceLayout::current()?,
            emulator.as_deref(),
            arch.as_deref(),
            machine.as_deref(),
            virt_type.as_deref(),
        )
    }

    fn get_max_vcpus(&self, virt_type: Option<String>) -> Result<i32, Error> {
        match virt_type.as_deref() {
            None | Some("qemu" | "kvm" | "QEMU" | "KVM") => Ok(255),
            Some(other) => Err(error::invalid_arg(format!("unknown type '{other}'"))),
        }
    }

    fn node_get_info(&self) -> Result<NodeInfo, Error> {
        Ok(capabilities::documents::node_info())
    }

    fn node_get_free_memory(&self) -> Result<u64, Error> {
        Ok(capabilities::documents::host_facts().free_kib * 1024)
    }

    fn domain_xml_to_native(
        &self,
        format: String,
        xml: String,
        flags: u32,
    ) -> Result<String, Error> {
        domain::xml_to_native(&format, &xml, flags)
    }
}

impl Domains for QemuDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        domain::lookup_by_name(&name)
    }
    fn lookup_by_uuid(&self, uuid: WitUuid) -> Result<DomainRef, Error> {
        domain::lookup_by_uuid(&Uuid::from(uuid))
    }
    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        domain::lookup_by_id(id)
    }
    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        domain::list_all(flags)
    }
    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        domain::define(&xml, flags)
    }
    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        domain::undefine(&dom, flags)
    }
    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        lifecycle::create(&dom, flags)
    }
    fn create_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        lifecycle::create_xml(&xml, flags)
    }
    fn destroy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        lifecycle::destroy(&dom, flags)
    }
    fn shutdown(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        lifecycle::shutdown(&dom, flags)
    }
    fn reboot(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        lifecycle::reboot(&dom, flags)
    }
    fn reset(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        lifecycle::reset(&dom, flags)
    }
    fn suspend(&self, dom: DomainRef) -> Result<(), Error> {
        lifecycle::suspend(&dom)
    }
    fn resume(&self, dom: DomainRef) -> Result<(), Error> {
        lifecycle::resume(&dom)
    }
    fn save(
        &self,
        dom: DomainRef,
        path: String,
        dxml: Option<String>,
        flags: u32,
    ) -> Result<(), Error> {
        save::save(&dom, &path, dxml.as_deref(), flags)
    }
    fn restore(&self, path: String, dxml: Option<String>, flags: u32) -> Result<(), Error> {
        save::restore(&path, dxml.as_deref(), flags)
    }
    fn save_image_get_xml(&self, path: String, flags: u32) -> Result<String, Error> {
        save::image_xml(&path, flags)
    }
    fn managed_save(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        save::managed_save(&dom, flags)
    }
    fn managed_save_remove(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        save::managed_save_remove(&dom, flags)
    }
    fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
        runtime::info(&dom)
    }
    fn get_state(&self, dom: DomainRef, flags: u32) -> Result<DomainState, Error> {
        runtime::get_state(&dom, flags)
    }
    fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
        runtime::status(&dom)
    }
    fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        domain::xml_desc(&dom, flags)
    }
    fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
        runtime::os_type(&dom)
    }
    fn set_autostart(&self, dom: DomainRef, autostart: bool) -> Result<(), Error> {
        domain::set_autostart(&dom, autostart)
    }
    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        runtime::max_memory(&dom)
    }
    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        runtime::set_memory(&dom, kib, flags)
    }
    fn set_max_memory(&self, dom: DomainRef, kib: u64) -> Result<(), Error> {
        runtime::set_memory(
            &dom,
            kib,
            virt_core::consts::domain_memory_mod_flags::MAXIMUM,
        )
    }
    fn get_vcpus(&self, dom: DomainRef, flags: u32) -> Result<i32, Error> {
        runtime::get_vcpus(&dom, flags)
    }
    fn set_vcpus(&self, dom: DomainRef, count: u32, flags: u32) -> Result<(), Error> {
        runtime::set_vcpus(&dom, count, flags)
    }
    fn get_max_vcpus(&self, dom: DomainRef) -> Result<i32, Error> {
        runtime::max_vcpus(&dom)
    }
    fn get_stats(
        &self,
        doms: Vec<DomainRef>,
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>, Error> {
        runtime::get_stats(doms, stats, flags)
    }
    fn block_stats(
        &self,
        dom: DomainRef,
        disk: String,
        flags: u32,
    ) -> Result<Vec<TypedParam>, Error> {
        runtime::block_stats(&dom, &disk, flags)
    }
    fn interface_stats(&self, dom: DomainRef, device: String) -> Result<Vec<TypedParam>, Error> {
        runtime::interface_stats(&dom, &device)
    }
    fn memory_stats(
        &self,
        dom: DomainRef,
        max_stats: u32,
        flags: u32,
    ) -> Result<Vec<(i32, u64)>, Error> {
        runtime::memory_stats(&dom, max_stats, flags)
    }
    fn block_resize(
        &self,
        dom: DomainRef,
        disk: String,
        size: u64,
        flags: u32,
    ) -> Result<(), Error> {
        runtime::block_resize(&dom, &disk, size, flags)
    }
    fn attach_device(&self, dom: DomainRef, xml: String, flags: u32) -> Result<(), Error> {
        hotplug::attach(&dom, &xml, flags)
    }
    fn detach_device(&self, dom: DomainRef, xml: String, flags: u32) -> Result<(), Error> {
        hotplug::detach(&dom, &xml, flags)
    }
    fn detach_device_alias(&self, dom: DomainRef, alias: String, flags: u32) -> Result<(), Error> {
        hotplug::detach_alias(&dom, &alias, flags)
    }
    fn update_device(&self, dom: DomainRef, xml: String, flags: u32) -> Result<(), Error> {
        hotplug::update(&dom, &xml, flags)
    }
    fn open_console(
        &self,
        dom: DomainRef,
        dev_name: Option<String>,
        flags: u32,
    ) -> Result<ConsoleEndpoint, Error> {
        runtime::open_console(&dom, dev_name.as_deref(), flags)
    }
    fn send_key(
        &self,
        dom: DomainRef,
        codeset: u32,
        holdtime: u32,
        keycodes: Vec<u32>,
        flags: u32,
    ) -> Result<(), Error> {
        runtime::send_key(&dom, codeset, holdtime, &keycodes, flags)
    }
    fn inject_nmi(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        runtime::inject_nmi(&dom, flags)
    }
    fn qemu_monitor_command(
        &self,
        dom: DomainRef,
        cmd: String,
        flags: u32,
    ) -> Result<String, Error> {
        runtime::monitor_command(&dom, &cmd, flags)
    }
    fn qemu_agent_command(
        &self,
        dom: DomainRef,
        cmd: String,
        timeout: i32,
        flags: u32,
    ) -> Result<String, Error> {
        runtime::agent_command(&dom, &cmd, timeout, flags)
    }

    fn get_job_stats(&self, dom: DomainRef, flags: u32) -> Result<types::JobStats, Error> {
        migration::get_job_stats(&dom, flags)
    }
    fn abort_job(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        migration::abort_job(&dom, flags)
    }
    fn supports_feature(&self, feature: i32) -> bool {
        migration::supports_feature(feature)
    }
    fn migrate_begin(
        &self,
        dom: DomainRef,
        params: Vec<TypedParam>,
        flags: u32,
    ) -> Result<MigrationBegun, Error> {
        migration::begin(&dom, params, flags)
    }
    fn migrate_prepare(
        &self,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
    ) -> Result<MigrationPrepared, Error> {
        migration::prepare(params, cookie, flags)
    }
    fn migrate_perform(
        &self,
        dom: DomainRef,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
    ) -> Result<Vec<u8>, Error> {
        migration::perform(&dom, params, cookie, flags)
    }
    fn migrate_finish(
        &self,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>), Error> {
        migration::finish(params, cookie, flags, cancelled)
    }
    fn migrate_confirm(
        &self,
        dom: DomainRef,
        params: Vec<TypedParam>,
        cookie: Vec<u8>,
        flags: u32,
        cancelled: bool,
    ) -> Result<(), Error> {
        migration::confirm(&dom, params, cookie, flags, cancelled)
    }
    fn migrate_set_max_speed(
        &self,
        dom: DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<(), Error> {
        migration::set_max_speed(&dom, bandwidth, flags)
    }
    fn migrate_get_max_speed(&self, dom: DomainRef, flags: u32) -> Result<u64, Error> {
        migration::get_max_speed(&dom, flags)
    }
    fn migrate_set_max_downtime(
        &self,
        dom: DomainRef,
        downtime: u64,
        flags: u32,
    ) -> Result<(), Error> {
        migration::set_max_downtime(&dom, downtime, flags)
    }
    fn migrate_get_max_downtime(&self, dom: DomainRef, flags: u32) -> Result<u64, Error> {
        migration::get_max_downtime(&dom, flags)
    }
    fn migrate_start_post_copy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        migration::start_post_copy(&dom, flags)
    }
}

impl Snapshots for QemuDriver {
    fn create_xml(&self, dom: DomainRef, xml: String, flags: u32) -> Result<String, Error> {
        snapshots::create(&dom, &xml, flags)
    }
    fn list_all(&self, dom: DomainRef, flags: u32) -> Result<Vec<String>, Error> {
        snapshots::list(&dom, flags)
    }
    fn list_children(
        &self,
        dom: DomainRef,
        snapshot: String,
        flags: u32,
    ) -> Result<Vec<String>, Error> {
        snapshots::list_children(&dom, &snapshot, flags)
    }
    fn lookup_by_name(&self, dom: DomainRef, name: String, _flags: u32) -> Result<String, Error> {
        snapshots::lookup(&dom, &name)
    }
    fn current(&self, dom: DomainRef, _flags: u32) -> Result<String, Error> {
        snapshots::current(&dom)
    }
    fn has_current(&self, dom: DomainRef, _flags: u32) -> Result<bool, Error> {
        snapshots::has_current(&dom)
    }
    fn get_parent(&self, dom: DomainRef, snapshot: String, _flags: u32) -> Result<String, Error> {
        snapshots::parent(&dom, &snapshot)
    }
    fn get_xml(&self, dom: DomainRef, snapshot: String, _flags: u32) -> Result<String, Error> {
        snapshots::xml(&dom, &snapshot)
    }
    fn is_current(&self, dom: DomainRef, snapshot: String, _flags: u32) -> Result<bool, Error> {
        snapshots::is_current(&dom, &snapshot)
    }
    fn has_metadata(&self, dom: DomainRef, snapshot: String, _flags: u32) -> Result<bool, Error> {
        snapshots::has_metadata(&dom, &snapshot)
    }
    fn revert(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        snapshots::revert(&dom, &snapshot, flags)
    }
    fn delete(&self, dom: DomainRef, snapshot: String, flags: u32) -> Result<(), Error> {
        snapshots::delete(&dom, &snapshot, flags)
    }
}

impl Networks for QemuDriver {}
impl Storage for QemuDriver {}
impl HostDevices for QemuDriver {}
impl Secrets for QemuDriver {}

impl Handlers for QemuDriver {
    fn process_exited(&self, handle: ProcessHandle, status: ProcessStatus) {
        lifecycle::handle_process_exited(handle, &status);
    }

    fn stream_frame(&self, handle: StreamHandle, frame: Vec<u8>) {
        lifecycle::handle_stream_frame(handle, &frame);
    }

    fn stream_closed(&self, handle: StreamHandle) {
        lifecycle::handle_stream_closed(handle);
    }
}

// Native builds (unit tests, the xtask argv-conformance command) use the driver's pure modules
// only; the component exports exist in the wasm build.
#[cfg(target_arch = "wasm32")]
export_plugin!(QemuDriver = QemuDriver);
