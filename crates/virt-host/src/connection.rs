//! A connection served by a plugin: each `virt_core::driver::Connection` call becomes one
//! export call on an instance of the plugin, in the connection's space.
//!
//! The connection holds the plugin's [`PluginSlot`], not the plugin: each call takes the
//! version serving at that moment and keeps it until the call returns, so a reload moves an
//! open connection to the new version at its next call. The space (records, resources)
//! stays the connection's across versions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::broadcast;
use virt_core::driver::Connection;
use virt_core::{
    BlockInfo, ConsoleEndpoint, DomainInfo, DomainRef, DomainState, GuestInterface, InterfaceRef,
    JobStats, MigrationBegun, MigrationPrepared, NetworkDhcpLease, NetworkRef, NodeInfo,
    ObjectStatus, ParameterSet, SecretRef, SecurityLabel, SecurityModel, StoragePoolInfo,
    StoragePoolRef, StorageVolInfo, StorageVolRef, TypedParam, Uuid, VcpuInfo,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Event, Result};
use wasmtime::Store;

use crate::bindings::wit;
use crate::ctx::PluginCtx;
use crate::host::Plugins;
use crate::manifest::SecondaryKind;
use crate::plugin::Exports;
use crate::plugin::{Plugin, PluginSlot};
use crate::space::Space;

/// An open connection to a plugin-served URI.
pub struct PluginConnection {
    slot: Arc<PluginSlot>,
    /// The host that opened it, for rvirt's plugin administration calls.
    host: Weak<Plugins>,
    space: Arc<Space>,
    uri: Arc<str>,
    closed: AtomicBool,
    /// The connection of the plugin that serves virtual networks for this one (libvirt's
    /// network driver next to its QEMU driver), if another plugin does.
    networks: Option<Box<PluginConnection>>,
    /// The same for storage pools and volumes (libvirt's storage driver).
    storage: Option<Box<PluginConnection>>,
    /// The same for secrets (libvirt's secret driver).
    secrets: Option<Box<PluginConnection>>,
    /// The same for node devices (libvirt's node device driver).
    node_devices: Option<Box<PluginConnection>>,
}

impl PluginConnection {
    /// Opens `uri` on the plugin serving `slot`: the plugin binds a space and populates it
    /// if new.
    pub(crate) fn open(
        slot: Arc<PluginSlot>,
        host: Weak<Plugins>,
        uri: &str,
        flags: u32,
    ) -> Result<PluginConnection> {
        let plugin = slot.current();
        let shared_uri: Arc<str> = Arc::from(uri);
        let (result, space) =
            plugin.call_with_context(None, Some(&shared_uri), true, |driver, store| {
                driver
                    .rvirt_driver0_1_0_connect()
                    .call_open(store, uri, flags)
            })?;
        match (result, space) {
            (Ok(()), Some(space)) => Ok(PluginConnection {
                slot,
                host,
                space,
                uri: shared_uri,
                closed: AtomicBool::new(false),
                networks: None,
                storage: None,
                secrets: None,
                node_devices: None,
            }),
            (Ok(()), None) => Err(Error::internal(
                ErrorDomain::NONE,
                format!(
                    "driver plugin '{}' opened '{uri}' without binding a space",
                    plugin.manifest.name
                ),
            )),
            (Err(error), space) => {
                if let Some(space) = space {
                    plugin.shared().spaces.release(&space);
                }
                Err(error.into())
            }
        }
    }

    /// Serves `kind` objects through `secondary` from now on; its events reach this
    /// connection's subscribers too.
    pub(crate) fn attach_secondary(&mut self, kind: SecondaryKind, secondary: PluginConnection) {
        secondary.space.forward_events_to(&self.space);
        match kind {
            SecondaryKind::Networks => self.networks = Some(Box::new(secondary)),
            SecondaryKind::Storage => self.storage = Some(Box::new(secondary)),
            SecondaryKind::Secrets => self.secrets = Some(Box::new(secondary)),
            SecondaryKind::NodeDevices => self.node_devices = Some(Box::new(secondary)),
        }
    }

    /// The connection network calls go to: the network plugin's, or this one.
    fn for_networks(&self) -> &PluginConnection {
        self.networks.as_deref().unwrap_or(self)
    }

    /// The connection storage calls go to: the storage plugin's, or this one.
    fn for_storage(&self) -> &PluginConnection {
        self.storage.as_deref().unwrap_or(self)
    }

    /// The connection secret calls go to: the secret plugin's, or this one.
    fn for_secrets(&self) -> &PluginConnection {
        self.secrets.as_deref().unwrap_or(self)
    }

    /// The connection node device calls go to: the node device plugin's, or this one.
    fn for_node_devices(&self) -> &PluginConnection {
        self.node_devices.as_deref().unwrap_or(self)
    }

    /// The plugin serving this connection now.
    pub fn plugin(&self) -> Arc<Plugin> {
        self.slot.current()
    }

    /// Runs a call of the plugin's `migration` export; VIR_ERR_NO_SUPPORT naming `api` for a
    /// plugin without one (built for WIT 0.1, or a driver that cannot migrate).
    fn run_migration<W>(
        &self,
        api: &str,
        body: impl FnOnce(
            &crate::bindings::optional::migration::Guest,
            &mut Store<PluginCtx>,
        ) -> wasmtime::Result<std::result::Result<W, wit::Error>>,
    ) -> Result<W> {
        self.run(|d, s| match &d.migration {
            Some(migration) => body(migration, s),
            None => Ok(Err(Error::no_support(ErrorDomain::NONE, api).into())),
        })
    }

    fn run<W>(
        &self,
        body: impl FnOnce(
            &Exports,
            &mut Store<PluginCtx>,
        ) -> wasmtime::Result<std::result::Result<W, wit::Error>>,
    ) -> Result<W> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorNumber::INVALID_CONN,
                ErrorDomain::NONE,
                "the connection is closed",
            ));
        }
        self.slot
            .current()
            .call(Some(&self.space), Some(&self.uri), false, body)?
            .map_err(Into::into)
    }
}

impl Drop for PluginConnection {
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.slot.current().shared().spaces.release(&self.space);
        }
    }
}

fn list<W, R: From<W>>(items: Vec<W>) -> Vec<R> {
    items.into_iter().map(Into::into).collect()
}

fn params(items: Vec<wit::TypedParam>) -> Vec<TypedParam> {
    list(items)
}

impl Connection for PluginConnection {
    fn get_type(&self) -> Result<String> {
        Ok(self.slot.current().metadata.name.clone())
    }
    fn get_uri(&self) -> Result<String> {
        Ok(self.uri.to_string())
    }
    fn get_version(&self) -> Result<u64> {
        Ok(self.slot.current().metadata.hypervisor_version)
    }
    fn get_hostname(&self) -> Result<String> {
        self.run(|d, s| d.rvirt_driver0_1_0_connect().call_get_hostname(s))
    }
    fn get_capabilities(&self) -> Result<String> {
        self.run(|d, s| d.rvirt_driver0_1_0_connect().call_get_capabilities(s))
    }
    fn get_domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virt_type: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_get_domain_capabilities(s, emulator, arch, machine, virt_type, flags)
        })
    }
    fn get_sysinfo(&self, flags: u32) -> Result<String> {
        self.run(|d, s| d.rvirt_driver0_1_0_connect().call_get_sysinfo(s, flags))
    }
    fn get_max_vcpus(&self, virt_type: Option<&str>) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_get_max_vcpus(s, virt_type)
        })
    }
    fn is_secure(&self) -> bool {
        true
    }
    fn node_get_info(&self) -> Result<NodeInfo> {
        self.run(|d, s| d.rvirt_driver0_1_0_connect().call_node_get_info(s))
            .map(Into::into)
    }
    fn node_get_free_memory(&self) -> Result<u64> {
        self.run(|d, s| d.rvirt_driver0_1_0_connect().call_node_get_free_memory(s))
    }
    fn node_get_cells_free_memory(&self, start_cell: i32, max_cells: i32) -> Result<Vec<u64>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_node_get_cells_free_memory(s, start_cell, max_cells)
        })
    }
    fn node_get_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_node_get_memory_stats(s, cell, flags)
        })
        .map(params)
    }
    fn node_get_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_node_get_cpu_stats(s, cpu, flags)
        })
        .map(params)
    }
    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_domain_xml_to_native(s, format, xml, flags)
        })
    }
    fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_domain_xml_from_native(s, format, config, flags)
        })
    }
    fn node_get_security_model(&self) -> Result<SecurityModel> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_node_get_security_model(s)
        })
        .map(Into::into)
    }
    fn get_cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_get_cpu_model_names(s, arch, flags)
        })
    }
    fn compare_cpu(&self, xml: &str, flags: u32) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_compare_cpu(s, xml, flags)
        })
    }
    fn baseline_cpu(&self, xmls: &[String], flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_connect()
                .call_baseline_cpu(s, xmls, flags)
        })
    }
    fn events(&self) -> Result<broadcast::Receiver<Event>> {
        Ok(self.space.subscribe())
    }
    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let plugin = self.slot.current();
        let result = plugin.call(Some(&self.space), Some(&self.uri), false, |d, s| {
            d.rvirt_driver0_1_0_connect().call_close(s)
        });
        plugin.shared().spaces.release(&self.space);
        // The hypervisor connection's outcome is the one the caller asked about.
        for secondary in [
            &self.networks,
            &self.storage,
            &self.secrets,
            &self.node_devices,
        ]
        .into_iter()
        .flatten()
        {
            let _ = secondary.close();
        }
        result
    }

    // ---- rvirt's plugin administration ----

    fn plugin_list(&self, flags: u32) -> Result<Vec<virt_core::PluginInfo>> {
        Error::check_flags(ErrorDomain::NONE, flags, 0, "rvirtPluginList")?;
        crate::host::admin_list(&self.host)
    }
    fn plugin_reload(&self, name: &str, flags: u32) -> Result<virt_core::PluginInfo> {
        Error::check_flags(ErrorDomain::NONE, flags, 0, "rvirtPluginReload")?;
        crate::host::admin_reload(&self.host, name)
    }

    // ---- domains ----

    fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_lookup_by_name(s, name))
            .map(Into::into)
    }
    fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_lookup_by_uuid(s, uuid.into())
        })
        .map(Into::into)
    }
    fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_lookup_by_id(s, id))
            .map(Into::into)
    }
    fn domain_list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        // One packed buffer when the plugin offers it (`domain-listing`, 0.2.0), else (or when
        // it answers NO_SUPPORT) `list-all`, in the same instance.
        self.run(|d, s| {
            if let Some(listing) = &d.domain_listing {
                match listing.call_list_all_packed(&mut *s, flags)? {
                    Ok(packed) => {
                        return Ok(virt_core::packed::unpack_domains(&packed).map_err(|e| {
                            crate::error::plugin_failed(
                                &s.data().shared.name,
                                &format!("malformed packed domain listing: {e}"),
                            )
                            .into()
                        }));
                    }
                    Err(error) if error.code == ErrorNumber::NO_SUPPORT.0 => {}
                    Err(error) => return Ok(Err(error)),
                }
            }
            Ok(d.rvirt_driver0_1_0_domains()
                .call_list_all(s, flags)?
                .map(list))
        })
    }
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_define_xml(s, xml, flags))
            .map(Into::into)
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_undefine(s, &dom.into(), flags)
        })
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_create(s, &dom.into(), flags)
        })
        .map(Into::into)
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_create_xml(s, xml, flags))
            .map(Into::into)
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_destroy(s, &dom.into(), flags)
        })
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_shutdown(s, &dom.into(), flags)
        })
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_reboot(s, &dom.into(), flags)
        })
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_reset(s, &dom.into(), flags)
        })
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_suspend(s, &dom.into()))
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_resume(s, &dom.into()))
    }
    fn domain_save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_save(s, &dom.into(), path, dxml, flags)
        })
    }
    fn domain_restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_restore(s, path, dxml, flags)
        })
    }
    fn domain_save_image_get_xml(&self, path: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_save_image_get_xml(s, path, flags)
        })
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_managed_save(s, &dom.into(), flags)
        })
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_managed_save_remove(s, &dom.into(), flags)
        })
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<DomainRef> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_rename(s, &dom.into(), new_name, flags)
        })
        .map(Into::into)
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.run(|d, s| d.rvirt_driver0_1_0_domains().call_get_info(s, &dom.into()))
            .map(Into::into)
    }
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<DomainState> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_state(s, &dom.into(), flags)
        })
        .map(Into::into)
    }
    fn domain_get_status(&self, dom: &DomainRef) -> Result<ObjectStatus> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_status(s, &dom.into())
        })
        .map(Into::into)
    }
    fn domain_get_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_xml(s, &dom.into(), flags)
        })
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_os_type(s, &dom.into())
        })
    }
    fn domain_get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_hostname(s, &dom.into(), flags)
        })
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_set_autostart(s, &dom.into(), autostart)
        })
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_max_memory(s, &dom.into())
        })
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_set_memory(s, &dom.into(), kib, flags)
        })
    }
    fn domain_set_max_memory(&self, dom: &DomainRef, kib: u64) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_set_max_memory(s, &dom.into(), kib)
        })
    }
    fn domain_get_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_vcpus(s, &dom.into(), flags)
        })
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_set_vcpus(s, &dom.into(), count, flags)
        })
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_max_vcpus(s, &dom.into())
        })
    }
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_scheduler_type(s, &dom.into())
        })
    }
    fn domain_get_scheduler_params(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_scheduler_params(s, &dom.into(), flags)
        })
        .map(params)
    }
    fn domain_set_scheduler_params(
        &self,
        dom: &DomainRef,
        new_params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        let new_params: Vec<wit::TypedParam> = new_params.iter().map(Into::into).collect();
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_set_scheduler_params(
                s,
                &dom.into(),
                &new_params,
                flags,
            )
        })
    }
    fn domain_get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_metadata(s, &dom.into(), kind, uri, flags)
        })
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
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_set_metadata(
                s,
                &dom.into(),
                kind,
                metadata,
                key,
                uri,
                flags,
            )
        })
    }
    fn domain_get_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        let doms: Vec<wit::DomainRef> = doms.iter().map(Into::into).collect();
        let all = self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_stats(s, &doms, stats, flags)
        })?;
        Ok(all
            .into_iter()
            .map(|(dom, p)| (dom.into(), params(p)))
            .collect())
    }
    fn domain_block_stats(
        &self,
        dom: &DomainRef,
        disk: &str,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_block_stats(s, &dom.into(), disk, flags)
        })
        .map(params)
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_interface_stats(s, &dom.into(), device)
        })
        .map(params)
    }
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        max_stats: u32,
        flags: u32,
    ) -> Result<Vec<(i32, u64)>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_memory_stats(s, &dom.into(), max_stats, flags)
        })
    }
    fn domain_block_resize(
        &self,
        dom: &DomainRef,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_block_resize(s, &dom.into(), disk, size, flags)
        })
    }
    fn domain_attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_attach_device(s, &dom.into(), xml, flags)
        })
    }
    fn domain_detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_detach_device(s, &dom.into(), xml, flags)
        })
    }
    fn domain_detach_device_alias(&self, dom: &DomainRef, alias: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_detach_device_alias(s, &dom.into(), alias, flags)
        })
    }
    fn domain_update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_update_device(s, &dom.into(), xml, flags)
        })
    }
    fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleEndpoint> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_open_console(s, &dom.into(), dev_name, flags)
        })
        .map(Into::into)
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_send_key(
                s,
                &dom.into(),
                codeset,
                holdtime,
                keycodes,
                flags,
            )
        })
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_inject_nmi(s, &dom.into(), flags)
        })
    }
    fn domain_qemu_monitor_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        flags: u32,
    ) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_qemu_monitor_command(s, &dom.into(), cmd, flags)
        })
    }
    fn domain_qemu_agent_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_qemu_agent_command(
                s,
                &dom.into(),
                cmd,
                timeout,
                flags,
            )
        })
    }

    fn domain_get_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_get_parameters(
                s,
                &dom.into(),
                set.into(),
                device,
                flags,
            )
        })
        .map(params)
    }
    fn domain_set_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        new_params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        let new_params: Vec<wit::TypedParam> = new_params.iter().map(Into::into).collect();
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_set_parameters(
                s,
                &dom.into(),
                set.into(),
                device,
                &new_params,
                flags,
            )
        })
    }
    fn domain_get_security_label(&self, dom: &DomainRef) -> Result<Vec<SecurityLabel>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_security_label(s, &dom.into())
        })
        .map(list)
    }
    fn domain_get_block_info(&self, dom: &DomainRef, disk: &str, flags: u32) -> Result<BlockInfo> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_block_info(s, &dom.into(), disk, flags)
        })
        .map(Into::into)
    }
    fn domain_get_vcpu_info(&self, dom: &DomainRef) -> Result<Vec<VcpuInfo>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_vcpu_info(s, &dom.into())
        })
        .map(list)
    }
    fn domain_pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_pin_vcpu(s, &dom.into(), vcpu, cpumap, flags)
        })
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_interface_addresses(s, &dom.into(), source, flags)
        })
        .map(list)
    }
    fn domain_get_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<JobStats> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_job_stats(s, &dom.into(), flags)
        })
        .map(Into::into)
    }
    fn domain_abort_job(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_abort_job(s, &dom.into(), flags)
        })
    }
    fn supports_migration(&self) -> bool {
        use virt_core::consts::drv_feature::MIGRATION_PARAMS;
        self.run(|d, s| match &d.migration {
            Some(migration) => migration.call_supports_feature(s, MIGRATION_PARAMS).map(Ok),
            None => Ok(Ok(false)),
        })
        .unwrap_or(false)
    }
    fn domain_migrate_begin(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<MigrationBegun> {
        let params: Vec<wit::TypedParam> = params.iter().map(Into::into).collect();
        let begun = self.run_migration("virDomainMigrateBegin3Params", |m, s| {
            m.call_begin(s, &dom.into(), &params, flags)
        })?;
        Ok(MigrationBegun {
            cookie: begun.cookie,
            xml: begun.xml,
        })
    }
    fn domain_migrate_prepare(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<MigrationPrepared> {
        let params: Vec<wit::TypedParam> = params.iter().map(Into::into).collect();
        let prepared = self.run_migration("virDomainMigratePrepare3Params", |m, s| {
            m.call_prepare(s, &params, cookie, flags)
        })?;
        Ok(MigrationPrepared {
            cookie: prepared.cookie,
            uri: prepared.uri,
        })
    }
    fn domain_migrate_perform(
        &self,
        dom: &DomainRef,
        dconnuri: Option<&str>,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<Vec<u8>> {
        use virt_core::consts::domain_migrate_flags::PEER2PEER;
        if flags & PEER2PEER != 0 {
            // In process (an embedder): the destination is whatever the registry opens.
            let dconnuri = dconnuri.ok_or_else(|| {
                Error::new(
                    ErrorNumber::INVALID_ARG,
                    ErrorDomain::NONE,
                    "a peer-to-peer migration needs the destination's URI",
                )
            })?;
            virt_core::migration::peer_to_peer(self, dom, dconnuri, params, flags, |uri| {
                virt_core::registry::open(uri, 0)
            })?;
            return Ok(Vec::new());
        }
        let params: Vec<wit::TypedParam> = params.iter().map(Into::into).collect();
        self.run_migration("virDomainMigratePerform3Params", |m, s| {
            m.call_perform(s, &dom.into(), &params, cookie, flags)
        })
    }
    fn domain_migrate_finish(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let params: Vec<wit::TypedParam> = params.iter().map(Into::into).collect();
        let (dom, cookie) = self.run_migration("virDomainMigrateFinish3Params", |m, s| {
            m.call_finish(s, &params, cookie, flags, cancelled)
        })?;
        Ok((dom.into(), cookie))
    }
    fn domain_migrate_confirm(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        let params: Vec<wit::TypedParam> = params.iter().map(Into::into).collect();
        self.run_migration("virDomainMigrateConfirm3Params", |m, s| {
            m.call_confirm(s, &dom.into(), &params, cookie, flags, cancelled)
        })
    }
    fn domain_migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.run_migration("virDomainMigrateSetMaxSpeed", |m, s| {
            m.call_set_max_speed(s, &dom.into(), bandwidth, flags)
        })
    }
    fn domain_migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        self.run_migration("virDomainMigrateGetMaxSpeed", |m, s| {
            m.call_get_max_speed(s, &dom.into(), flags)
        })
    }
    fn domain_migrate_set_max_downtime(
        &self,
        dom: &DomainRef,
        downtime: u64,
        flags: u32,
    ) -> Result<()> {
        self.run_migration("virDomainMigrateSetMaxDowntime", |m, s| {
            m.call_set_max_downtime(s, &dom.into(), downtime, flags)
        })
    }
    fn domain_migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        self.run_migration("virDomainMigrateGetMaxDowntime", |m, s| {
            m.call_get_max_downtime(s, &dom.into(), flags)
        })
    }
    fn domain_migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.run_migration("virDomainMigrateStartPostCopy", |m, s| {
            m.call_start_post_copy(s, &dom.into(), flags)
        })
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_core_dump(s, &dom.into(), to, format, flags)
        })
    }
    fn domain_set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains().call_set_lifecycle_action(
                s,
                &dom.into(),
                kind,
                action,
                flags,
            )
        })
    }
    fn domain_get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_time(s, &dom.into(), flags)
        })
    }
    fn domain_set_time(
        &self,
        dom: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_set_time(s, &dom.into(), seconds, nseconds, flags)
        })
    }
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_fs_freeze(s, &dom.into(), mountpoints, flags)
        })
    }
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_fs_thaw(s, &dom.into(), mountpoints, flags)
        })
    }
    fn domain_get_disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_domains()
                .call_get_disk_errors(s, &dom.into(), flags)
        })
    }

    // ---- snapshots ----

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_create_xml(s, &dom.into(), xml, flags)
        })
    }
    fn snapshot_list_all(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_list_all(s, &dom.into(), flags)
        })
    }
    fn snapshot_list_children(
        &self,
        dom: &DomainRef,
        snapshot: &str,
        flags: u32,
    ) -> Result<Vec<String>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_list_children(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_lookup_by_name(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_lookup_by_name(s, &dom.into(), name, flags)
        })
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_current(s, &dom.into(), flags)
        })
    }
    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_has_current(s, &dom.into(), flags)
        })
    }
    fn snapshot_get_parent(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_get_parent(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_get_xml(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_get_xml(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_is_current(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_is_current(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_has_metadata(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_has_metadata(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_revert(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_revert(s, &dom.into(), snapshot, flags)
        })
    }
    fn snapshot_delete(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_snapshots()
                .call_delete(s, &dom.into(), snapshot, flags)
        })
    }

    // ---- networks ----

    fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        self.for_networks()
            .run(|d, s| d.rvirt_driver0_1_0_networks().call_lookup_by_name(s, name))
            .map(Into::into)
    }
    fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        self.for_networks()
            .run(|d, s| {
                d.rvirt_driver0_1_0_networks()
                    .call_lookup_by_uuid(s, uuid.into())
            })
            .map(Into::into)
    }
    fn network_list_all(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        self.for_networks()
            .run(|d, s| d.rvirt_driver0_1_0_networks().call_list_all(s, flags))
            .map(list)
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        self.for_networks()
            .run(|d, s| {
                d.rvirt_driver0_1_0_networks()
                    .call_define_xml(s, xml, flags)
            })
            .map(Into::into)
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        self.for_networks()
            .run(|d, s| {
                d.rvirt_driver0_1_0_networks()
                    .call_create_xml(s, xml, flags)
            })
            .map(Into::into)
    }
    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        self.for_networks()
            .run(|d, s| d.rvirt_driver0_1_0_networks().call_undefine(s, &net.into()))
    }
    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        self.for_networks()
            .run(|d, s| d.rvirt_driver0_1_0_networks().call_create(s, &net.into()))
    }
    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        self.for_networks()
            .run(|d, s| d.rvirt_driver0_1_0_networks().call_destroy(s, &net.into()))
    }
    fn network_get_xml(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        self.for_networks().run(|d, s| {
            d.rvirt_driver0_1_0_networks()
                .call_get_xml(s, &net.into(), flags)
        })
    }
    fn network_get_status(&self, net: &NetworkRef) -> Result<ObjectStatus> {
        self.for_networks()
            .run(|d, s| {
                d.rvirt_driver0_1_0_networks()
                    .call_get_status(s, &net.into())
            })
            .map(Into::into)
    }
    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        self.for_networks().run(|d, s| {
            d.rvirt_driver0_1_0_networks()
                .call_set_autostart(s, &net.into(), autostart)
        })
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        self.for_networks().run(|d, s| {
            d.rvirt_driver0_1_0_networks()
                .call_get_bridge_name(s, &net.into())
        })
    }
    fn network_get_dhcp_leases(
        &self,
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        let leases = self.for_networks().run(|d, s| match &d.network_leases {
            Some(leases) => leases.call_dhcp_leases(s, &net.into(), mac, flags),
            // A plugin built for WIT 0.1 has no such export.
            None => Ok(Err(Error::no_support(
                ErrorDomain::NONE,
                "virNetworkGetDHCPLeases",
            )
            .into())),
        })?;
        Ok(leases
            .into_iter()
            .map(|lease| NetworkDhcpLease {
                iface: lease.iface,
                expiry_time: lease.expiry_time,
                kind: lease.kind,
                mac: lease.mac,
                iaid: lease.iaid,
                address: lease.address,
                prefix: lease.prefix,
                hostname: lease.hostname,
                client_id: lease.client_id,
            })
            .collect())
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
        self.for_networks().run(|d, s| {
            d.rvirt_driver0_1_0_networks().call_update(
                s,
                &net.into(),
                command,
                section,
                parent_index,
                xml,
                flags,
            )
        })
    }

    // ---- storage ----

    fn pool_lookup_by_name(&self, name: &str) -> Result<StoragePoolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_pool_by_name(s, name)
            })
            .map(Into::into)
    }
    fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<StoragePoolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_pool_by_uuid(s, uuid.into())
            })
            .map(Into::into)
    }
    fn pool_lookup_by_volume(&self, vol: &StorageVolRef) -> Result<StoragePoolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_pool_by_volume(s, &vol.into())
            })
            .map(Into::into)
    }
    fn pool_list_all(&self, flags: u32) -> Result<Vec<StoragePoolRef>> {
        self.for_storage()
            .run(|d, s| d.rvirt_driver0_1_0_storage().call_list_all_pools(s, flags))
            .map(list)
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_define_pool_xml(s, xml, flags)
            })
            .map(Into::into)
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_create_pool_xml(s, xml, flags)
            })
            .map(Into::into)
    }
    fn pool_build(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_build_pool(s, &pool.into(), flags)
        })
    }
    fn pool_undefine(&self, pool: &StoragePoolRef) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_undefine_pool(s, &pool.into())
        })
    }
    fn pool_create(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_create_pool(s, &pool.into(), flags)
        })
    }
    fn pool_destroy(&self, pool: &StoragePoolRef) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_destroy_pool(s, &pool.into())
        })
    }
    fn pool_delete(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_delete_pool(s, &pool.into(), flags)
        })
    }
    fn pool_refresh(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_refresh_pool(s, &pool.into(), flags)
        })
    }
    fn pool_get_info(&self, pool: &StoragePoolRef) -> Result<StoragePoolInfo> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_get_pool_info(s, &pool.into())
            })
            .map(Into::into)
    }
    fn pool_get_xml(&self, pool: &StoragePoolRef, flags: u32) -> Result<String> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_get_pool_xml(s, &pool.into(), flags)
        })
    }
    fn pool_get_status(&self, pool: &StoragePoolRef) -> Result<ObjectStatus> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_get_pool_status(s, &pool.into())
            })
            .map(Into::into)
    }
    fn pool_set_autostart(&self, pool: &StoragePoolRef, autostart: bool) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_set_pool_autostart(s, &pool.into(), autostart)
        })
    }
    fn pool_find_sources(&self, kind: &str, src_spec: Option<&str>, flags: u32) -> Result<String> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_find_pool_sources(s, kind, src_spec, flags)
        })
    }
    fn vol_list(&self, pool: &StoragePoolRef) -> Result<Vec<StorageVolRef>> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_list_volumes(s, &pool.into())
            })
            .map(list)
    }
    fn vol_lookup_by_name(&self, pool: &StoragePoolRef, name: &str) -> Result<StorageVolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_volume_by_name(s, &pool.into(), name)
            })
            .map(Into::into)
    }
    fn vol_lookup_by_key(&self, key: &str) -> Result<StorageVolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_volume_by_key(s, key)
            })
            .map(Into::into)
    }
    fn vol_lookup_by_path(&self, path: &str) -> Result<StorageVolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_lookup_volume_by_path(s, path)
            })
            .map(Into::into)
    }
    fn vol_create_xml(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        flags: u32,
    ) -> Result<StorageVolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_create_volume_xml(s, &pool.into(), xml, flags)
            })
            .map(Into::into)
    }
    fn vol_create_xml_from(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        clone_of: &StorageVolRef,
        flags: u32,
    ) -> Result<StorageVolRef> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage().call_create_volume_xml_from(
                    s,
                    &pool.into(),
                    xml,
                    &clone_of.into(),
                    flags,
                )
            })
            .map(Into::into)
    }
    fn vol_delete(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_delete_volume(s, &vol.into(), flags)
        })
    }
    fn vol_wipe(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_wipe_volume(s, &vol.into(), flags)
        })
    }
    fn vol_resize(&self, vol: &StorageVolRef, capacity: u64, flags: u32) -> Result<()> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_resize_volume(s, &vol.into(), capacity, flags)
        })
    }
    fn vol_get_info(&self, vol: &StorageVolRef, flags: u32) -> Result<StorageVolInfo> {
        self.for_storage()
            .run(|d, s| {
                d.rvirt_driver0_1_0_storage()
                    .call_get_volume_info(s, &vol.into(), flags)
            })
            .map(Into::into)
    }
    fn vol_get_xml(&self, vol: &StorageVolRef, flags: u32) -> Result<String> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_get_volume_xml(s, &vol.into(), flags)
        })
    }
    fn vol_get_path(&self, vol: &StorageVolRef) -> Result<String> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_get_volume_path(s, &vol.into())
        })
    }
    fn vol_data_path(&self, vol: &StorageVolRef, for_upload: bool) -> Result<String> {
        self.for_storage().run(|d, s| {
            d.rvirt_driver0_1_0_storage()
                .call_volume_data_path(s, &vol.into(), for_upload)
        })
    }

    // ---- host devices, interfaces, secrets ----

    fn nodedev_list(&self, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
        self.for_node_devices().run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_list_node_devices(s, capability, flags)
        })
    }
    fn nodedev_lookup(&self, name: &str) -> Result<String> {
        self.for_node_devices().run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_lookup_node_device(s, name)
        })
    }
    fn nodedev_get_xml(&self, name: &str, flags: u32) -> Result<String> {
        self.for_node_devices().run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_get_node_device_xml(s, name, flags)
        })
    }
    fn nodedev_get_parent(&self, name: &str) -> Result<Option<String>> {
        self.for_node_devices().run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_get_node_device_parent(s, name)
        })
    }
    fn nodedev_list_caps(&self, name: &str) -> Result<Vec<String>> {
        self.for_node_devices().run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_list_node_device_caps(s, name)
        })
    }
    fn iface_list_all(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_list_all_interfaces(s, flags)
        })
        .map(list)
    }
    fn iface_lookup_by_name(&self, name: &str) -> Result<InterfaceRef> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_lookup_interface_by_name(s, name)
        })
        .map(Into::into)
    }
    fn iface_lookup_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_lookup_interface_by_mac(s, mac)
        })
        .map(Into::into)
    }
    fn iface_get_xml(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_get_interface_xml(s, &iface.into(), flags)
        })
    }
    fn iface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        self.run(|d, s| {
            d.rvirt_driver0_1_0_host_devices()
                .call_is_interface_active(s, &iface.into())
        })
    }
    fn secret_list_all(&self, flags: u32) -> Result<Vec<SecretRef>> {
        self.for_secrets()
            .run(|d, s| d.rvirt_driver0_1_0_secrets().call_list_all(s, flags))
            .map(list)
    }
    fn secret_lookup_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        self.for_secrets()
            .run(|d, s| {
                d.rvirt_driver0_1_0_secrets()
                    .call_lookup_by_uuid(s, uuid.into())
            })
            .map(Into::into)
    }
    fn secret_lookup_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        self.for_secrets()
            .run(|d, s| {
                d.rvirt_driver0_1_0_secrets()
                    .call_lookup_by_usage(s, usage_type, usage_id)
            })
            .map(Into::into)
    }
    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        self.for_secrets()
            .run(|d, s| d.rvirt_driver0_1_0_secrets().call_define_xml(s, xml, flags))
            .map(Into::into)
    }
    fn secret_get_xml(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        self.for_secrets().run(|d, s| {
            d.rvirt_driver0_1_0_secrets()
                .call_get_xml(s, &secret.into(), flags)
        })
    }
    fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        self.for_secrets().run(|d, s| {
            d.rvirt_driver0_1_0_secrets()
                .call_get_value(s, &secret.into(), flags)
        })
    }
    fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        self.for_secrets().run(|d, s| {
            d.rvirt_driver0_1_0_secrets()
                .call_set_value(s, &secret.into(), value, flags)
        })
    }
    fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        self.for_secrets().run(|d, s| {
            d.rvirt_driver0_1_0_secrets()
                .call_undefine(s, &secret.into())
        })
    }
}
