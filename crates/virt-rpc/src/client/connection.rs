//! [`RemoteConnection`]: the `virt-core` connection contract answered by a remote daemon.
//!
//! Each method is the matching REMOTE procedure (or, where `virt-core` asks several facts at
//! once, several procedures pipelined into one round trip). Consoles come back as a local
//! Unix socket bridged to the daemon's console stream.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use virt_core::driver::Connection;
use virt_core::*;

use super::core::{Core, PendingCall, StreamFrame, StreamSink};
use super::transport::TransportKind;
use crate::frame::{encode_frame, Header, MessageType, Status, REMOTE_PROGRAM};
use crate::protocol::{self as proto, remote_proc as p, rpc_error, Procedure};
use crate::xdr::{from_bytes, to_bytes, Opaque, Xdr};

/// A connection to a daemon speaking libvirt's remote protocol.
pub struct RemoteConnection {
    pub(crate) core: Arc<Core>,
    pub(crate) uri: String,
    pub(crate) kind: TransportKind,
    /// The ssh/ext helper; killed when the connection goes.
    pub(crate) child: Mutex<Option<tokio::process::Child>>,
    pub(crate) events_registered: Mutex<bool>,
    pub(crate) closed: Mutex<bool>,
}

impl std::fmt::Debug for RemoteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConnection")
            .field("uri", &self.uri)
            .field("transport", &self.kind)
            .finish()
    }
}

fn decode<T: Xdr>(payload: &[u8]) -> Result<T> {
    from_bytes::<T>(payload).map_err(|_| rpc_error("Unable to decode message payload"))
}

impl RemoteConnection {
    /// Calls procedure `P`.
    pub fn call<P: Procedure>(&self, args: P::Args) -> Result<P::Ret> {
        let reply = self.core.call(P::PROGRAM, P::NUMBER, &to_bytes(&args))?;
        decode(&reply)
    }

    fn start<P: Procedure>(&self, args: P::Args) -> Result<TypedPending<P>> {
        let pending = self
            .core
            .start_call(P::PROGRAM, P::NUMBER, &to_bytes(&args))?;
        Ok(TypedPending {
            pending,
            _procedure: std::marker::PhantomData,
        })
    }

    /// The transport this connection runs over.
    pub fn transport(&self) -> TransportKind {
        self.kind
    }

    fn close_once(&self) -> Result<()> {
        let mut closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        if *closed {
            return Ok(());
        }
        *closed = true;
        let result = if self.core.is_alive() {
            self.call::<proto::ConnectClose>(())
        } else {
            Ok(())
        };
        self.core
            .die(Error::internal(ErrorDomain::RPC, "client socket is closed"));
        result
    }
}

impl Drop for RemoteConnection {
    fn drop(&mut self) {
        let closed = *self.closed.lock().unwrap_or_else(|p| p.into_inner());
        if !closed && self.core.is_alive() {
            // Best effort, without waiting: the daemon closes its side after replying.
            if let Ok(pending) = self.core.start_call(REMOTE_PROGRAM, p::CONNECT_CLOSE, &[]) {
                drop(pending);
            }
        }
        if let Some(mut child) = self.child.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = child.start_kill();
        }
    }
}

/// A typed call in flight, for pipelining several calls into one round trip.
struct TypedPending<P: Procedure> {
    pending: PendingCall,
    _procedure: std::marker::PhantomData<P>,
}

impl<P: Procedure> TypedPending<P> {
    fn wait(self) -> Result<P::Ret> {
        decode(&self.pending.wait()?)
    }
}

fn needs_device(api: &str) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::DOMAIN,
        format!("{api} needs a device name"),
    )
}

/// Treats "the daemon does not have this call" as `default`.
fn or_unsupported<T>(result: Result<T>, default: T) -> Result<T> {
    match result {
        Err(error) if error.code() == ErrorNumber::NO_SUPPORT => Ok(default),
        other => other,
    }
}

impl Connection for RemoteConnection {
    // ---- connection and node ----

    fn get_type(&self) -> Result<String> {
        self.call::<proto::ConnectGetType>(())
    }
    fn get_uri(&self) -> Result<String> {
        Ok(self.uri.clone())
    }
    fn get_version(&self) -> Result<u64> {
        self.call::<proto::ConnectGetVersion>(())
    }
    fn get_lib_version(&self) -> Result<u64> {
        self.call::<proto::ConnectGetLibVersion>(())
    }
    fn get_hostname(&self) -> Result<String> {
        self.call::<proto::ConnectGetHostname>(())
    }
    fn get_capabilities(&self) -> Result<String> {
        self.call::<proto::ConnectGetCapabilities>(())
    }
    fn get_domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virt_type: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        let owned = |s: Option<&str>| s.map(str::to_string);
        self.call::<proto::ConnectGetDomainCapabilities>((
            owned(emulator),
            owned(arch),
            owned(machine),
            owned(virt_type),
            flags,
        ))
    }
    fn get_sysinfo(&self, flags: u32) -> Result<String> {
        self.call::<proto::ConnectGetSysinfo>((flags,))
    }
    fn get_max_vcpus(&self, virt_type: Option<&str>) -> Result<i32> {
        self.call::<proto::ConnectGetMaxVcpus>((virt_type.map(str::to_string),))
    }
    fn is_alive(&self) -> bool {
        self.core.is_alive()
    }
    fn is_secure(&self) -> bool {
        self.kind.is_secure()
            && self
                .call::<proto::ConnectIsSecure>(())
                .map(|s| s != 0)
                .unwrap_or(false)
    }
    fn is_encrypted(&self) -> bool {
        self.kind.is_encrypted()
    }
    fn set_keep_alive(&self, interval: i32, count: u32) -> Result<()> {
        self.core.set_keepalive(interval, count)
    }
    fn node_get_info(&self) -> Result<NodeInfo> {
        let info = self.call::<proto::NodeGetInfo>(())?;
        Ok(NodeInfo {
            model: info.model.to_string_lossy(),
            memory_kib: info.memory,
            cpus: info.cpus as u32,
            mhz: info.mhz as u32,
            nodes: info.nodes as u32,
            sockets: info.sockets as u32,
            cores: info.cores as u32,
            threads: info.threads as u32,
        })
    }
    fn node_get_free_memory(&self) -> Result<u64> {
        self.call::<proto::NodeGetFreeMemory>(())
    }
    fn node_get_cells_free_memory(&self, start_cell: i32, max_cells: i32) -> Result<Vec<u64>> {
        self.call::<proto::NodeGetCellsFreeMemory>((start_cell, max_cells))
    }
    fn node_get_memory_stats(&self, cell: i32, flags: u32) -> Result<Vec<TypedParam>> {
        let (_, count) = self.call::<proto::NodeGetMemoryStats>((0, cell, flags))?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let (stats, _) = self.call::<proto::NodeGetMemoryStats>((count, cell, flags))?;
        Ok(stats
            .into_iter()
            .map(|s| TypedParam::new(s.field, TypedValue::ULLong(s.value)))
            .collect())
    }
    fn node_get_cpu_stats(&self, cpu: i32, flags: u32) -> Result<Vec<TypedParam>> {
        let (_, count) = self.call::<proto::NodeGetCpuStats>((cpu, 0, flags))?;
        if count == 0 {
            return Ok(Vec::new());
        }
        let (stats, _) = self.call::<proto::NodeGetCpuStats>((cpu, count, flags))?;
        Ok(stats
            .into_iter()
            .map(|s| TypedParam::new(s.field, TypedValue::ULLong(s.value)))
            .collect())
    }
    fn domain_xml_to_native(&self, format: &str, xml: &str, flags: u32) -> Result<String> {
        self.call::<proto::ConnectDomainXmlToNative>((format.into(), xml.into(), flags))
    }
    fn domain_xml_from_native(&self, format: &str, config: &str, flags: u32) -> Result<String> {
        self.call::<proto::ConnectDomainXmlFromNative>((format.into(), config.into(), flags))
    }
    fn node_get_security_model(&self) -> Result<SecurityModel> {
        let ret = self.call::<proto::NodeGetSecurityModel>(())?;
        Ok(SecurityModel {
            model: ret.model.to_string_lossy(),
            doi: ret.doi.to_string_lossy(),
        })
    }
    fn get_cpu_model_names(&self, arch: &str, flags: u32) -> Result<Vec<String>> {
        Ok(self
            .call::<proto::ConnectGetCpuModelNames>((arch.into(), 1, flags))?
            .0)
    }
    fn compare_cpu(&self, xml: &str, flags: u32) -> Result<i32> {
        self.call::<proto::ConnectCompareCpu>((xml.into(), flags))
    }
    fn baseline_cpu(&self, xmls: &[String], flags: u32) -> Result<String> {
        self.call::<proto::ConnectBaselineCpu>((xmls.to_vec(), flags))
    }
    fn events(&self) -> Result<broadcast::Receiver<Event>> {
        let receiver = self.core.events.subscribe();
        let mut registered = self
            .events_registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !*registered {
            self.register_all_events()?;
            *registered = true;
        }
        Ok(receiver)
    }
    fn close(&self) -> Result<()> {
        self.close_once()
    }

    // ---- domains ----

    fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.call::<proto::DomainLookupByName>((name.into(),))
    }
    fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.call::<proto::DomainLookupByUuid>((*uuid,))
    }
    fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.call::<proto::DomainLookupById>((id,))
    }
    fn domain_list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        Ok(self.call::<proto::ConnectListAllDomains>((1, flags))?.0)
    }
    fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        if flags == 0 {
            return self.call::<proto::DomainDefineXml>((xml.into(),));
        }
        self.call::<proto::DomainDefineXmlFlags>((xml.into(), flags))
    }
    fn domain_undefine(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        match self.call::<proto::DomainUndefineFlags>((dom.clone(), flags)) {
            Err(error) if flags == 0 && error.code() == ErrorNumber::NO_SUPPORT => {
                self.call::<proto::DomainUndefine>((dom.clone(),))
            }
            other => other,
        }
    }
    fn domain_create(&self, dom: &DomainRef, flags: u32) -> Result<DomainRef> {
        match self.call::<proto::DomainCreateWithFlags>((dom.clone(), flags)) {
            Err(error) if flags == 0 && error.code() == ErrorNumber::NO_SUPPORT => {
                self.call::<proto::DomainCreate>((dom.clone(),))?;
                self.domain_lookup_by_uuid(&dom.uuid)
            }
            other => other,
        }
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        self.call::<proto::DomainCreateXml>((xml.into(), flags))
    }
    fn domain_destroy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            return self.call::<proto::DomainDestroy>((dom.clone(),));
        }
        self.call::<proto::DomainDestroyFlags>((dom.clone(), flags))
    }
    fn domain_shutdown(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            return self.call::<proto::DomainShutdown>((dom.clone(),));
        }
        self.call::<proto::DomainShutdownFlags>((dom.clone(), flags))
    }
    fn domain_reboot(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainReboot>((dom.clone(), flags))
    }
    fn domain_reset(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainReset>((dom.clone(), flags))
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.call::<proto::DomainSuspend>((dom.clone(),))
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        self.call::<proto::DomainResume>((dom.clone(),))
    }
    fn domain_save(
        &self,
        dom: &DomainRef,
        path: &str,
        dxml: Option<&str>,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainSaveFlags>((
            dom.clone(),
            path.into(),
            dxml.map(str::to_string),
            flags,
        ))
    }
    fn domain_restore(&self, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
        self.call::<proto::DomainRestoreFlags>((path.into(), dxml.map(str::to_string), flags))
    }
    fn domain_save_image_get_xml(&self, path: &str, flags: u32) -> Result<String> {
        self.call::<proto::DomainSaveImageGetXmlDesc>((path.into(), flags))
    }
    fn domain_managed_save(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainManagedSave>((dom.clone(), flags))
    }
    fn domain_managed_save_remove(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainManagedSaveRemove>((dom.clone(), flags))
    }
    fn domain_rename(&self, dom: &DomainRef, new_name: &str, flags: u32) -> Result<DomainRef> {
        self.call::<proto::DomainRename>((dom.clone(), Some(new_name.into()), flags))?;
        Ok(DomainRef {
            name: new_name.to_string(),
            ..dom.clone()
        })
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        let info = self.call::<proto::DomainGetInfo>((dom.clone(),))?;
        Ok(DomainInfo {
            state: info.state as u8,
            max_mem_kib: info.max_mem,
            memory_kib: info.memory,
            nr_virt_cpu: info.nr_virt_cpu as u16,
            cpu_time_ns: info.cpu_time,
        })
    }
    fn domain_get_state(&self, dom: &DomainRef, flags: u32) -> Result<DomainState> {
        let (state, reason) = self.call::<proto::DomainGetState>((dom.clone(), flags))?;
        Ok(DomainState { state, reason })
    }
    fn domain_get_status(&self, dom: &DomainRef) -> Result<ObjectStatus> {
        // Five facts, one round trip: the calls are pipelined.
        let active = self.start::<proto::DomainIsActive>((dom.clone(),))?;
        let persistent = self.start::<proto::DomainIsPersistent>((dom.clone(),))?;
        let autostart = self.start::<proto::DomainGetAutostart>((dom.clone(),))?;
        let updated = self.start::<proto::DomainIsUpdated>((dom.clone(),))?;
        let managed = self.start::<proto::DomainHasManagedSaveImage>((dom.clone(), 0))?;
        let active = active.wait()?;
        let persistent = persistent.wait()?;
        let autostart = or_unsupported(autostart.wait(), 0)?;
        let updated = or_unsupported(updated.wait(), 0)?;
        let has_managed_save = or_unsupported(managed.wait(), 0)?;
        Ok(ObjectStatus {
            active: active != 0,
            persistent: persistent != 0,
            autostart: autostart != 0,
            updated: updated != 0,
            has_managed_save: has_managed_save != 0,
        })
    }
    fn domain_get_xml(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.call::<proto::DomainGetXmlDesc>((dom.clone(), flags))
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        self.call::<proto::DomainGetOsType>((dom.clone(),))
    }
    fn domain_get_hostname(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        self.call::<proto::DomainGetHostname>((dom.clone(), flags))
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.call::<proto::DomainSetAutostart>((dom.clone(), autostart as i32))
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.call::<proto::DomainGetMaxMemory>((dom.clone(),))
    }
    fn domain_set_memory(&self, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
        self.call::<proto::DomainSetMemoryFlags>((dom.clone(), kib, flags))
    }
    fn domain_set_max_memory(&self, dom: &DomainRef, kib: u64) -> Result<()> {
        self.call::<proto::DomainSetMaxMemory>((dom.clone(), kib))
    }
    fn domain_get_vcpus(&self, dom: &DomainRef, flags: u32) -> Result<i32> {
        self.call::<proto::DomainGetVcpusFlags>((dom.clone(), flags))
    }
    fn domain_set_vcpus(&self, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
        self.call::<proto::DomainSetVcpusFlags>((dom.clone(), count, flags))
    }
    fn domain_get_max_vcpus(&self, dom: &DomainRef) -> Result<i32> {
        self.call::<proto::DomainGetMaxVcpus>((dom.clone(),))
    }
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        self.call::<proto::DomainGetSchedulerType>((dom.clone(),))
    }
    fn domain_get_scheduler_params(&self, dom: &DomainRef, flags: u32) -> Result<Vec<TypedParam>> {
        let (_, count) = self.domain_get_scheduler_type(dom)?;
        self.call::<proto::DomainGetSchedulerParametersFlags>((
            dom.clone(),
            count.max(0),
            flags | proto::TYPED_PARAM_STRING_OKAY,
        ))
    }
    fn domain_set_scheduler_params(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainSetSchedulerParametersFlags>((dom.clone(), params.to_vec(), flags))
    }
    fn domain_get_metadata(
        &self,
        dom: &DomainRef,
        kind: i32,
        uri: Option<&str>,
        flags: u32,
    ) -> Result<String> {
        self.call::<proto::DomainGetMetadata>((dom.clone(), kind, uri.map(str::to_string), flags))
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
        let owned = |s: Option<&str>| s.map(str::to_string);
        self.call::<proto::DomainSetMetadata>((
            dom.clone(),
            kind,
            owned(metadata),
            owned(key),
            owned(uri),
            flags,
        ))
    }
    fn domain_get_stats(
        &self,
        doms: &[DomainRef],
        stats: u32,
        flags: u32,
    ) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
        let records =
            self.call::<proto::ConnectGetAllDomainStats>((doms.to_vec(), stats, flags))?;
        Ok(records
            .into_iter()
            .map(|record| (record.dom, record.params))
            .collect())
    }
    fn domain_block_stats(
        &self,
        dom: &DomainRef,
        disk: &str,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let flags = flags | proto::TYPED_PARAM_STRING_OKAY;
        let (_, count) =
            self.call::<proto::DomainBlockStatsFlags>((dom.clone(), disk.into(), 0, flags))?;
        if count == 0 {
            return Ok(Vec::new());
        }
        Ok(self
            .call::<proto::DomainBlockStatsFlags>((dom.clone(), disk.into(), count, flags))?
            .0)
    }
    fn domain_interface_stats(&self, dom: &DomainRef, device: &str) -> Result<Vec<TypedParam>> {
        let stats = self.call::<proto::DomainInterfaceStats>((dom.clone(), device.into()))?;
        let values = [
            stats.0, stats.1, stats.2, stats.3, stats.4, stats.5, stats.6, stats.7,
        ];
        let names = [
            "rx_bytes",
            "rx_packets",
            "rx_errs",
            "rx_drop",
            "tx_bytes",
            "tx_packets",
            "tx_errs",
            "tx_drop",
        ];
        Ok(names
            .iter()
            .zip(values)
            .filter(|(_, value)| *value >= 0)
            .map(|(name, value)| TypedParam::new(*name, TypedValue::LLong(value)))
            .collect())
    }
    fn domain_memory_stats(
        &self,
        dom: &DomainRef,
        max_stats: u32,
        flags: u32,
    ) -> Result<Vec<(i32, u64)>> {
        let stats = self.call::<proto::DomainMemoryStats>((dom.clone(), max_stats, flags))?;
        Ok(stats.into_iter().map(|s| (s.tag, s.val)).collect())
    }
    fn domain_block_resize(
        &self,
        dom: &DomainRef,
        disk: &str,
        size: u64,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainBlockResize>((dom.clone(), disk.into(), size, flags))
    }
    fn domain_attach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.call::<proto::DomainAttachDeviceFlags>((dom.clone(), xml.into(), flags))
    }
    fn domain_detach_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.call::<proto::DomainDetachDeviceFlags>((dom.clone(), xml.into(), flags))
    }
    fn domain_detach_device_alias(&self, dom: &DomainRef, alias: &str, flags: u32) -> Result<()> {
        self.call::<proto::DomainDetachDeviceAlias>((dom.clone(), alias.into(), flags))
    }
    fn domain_update_device(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<()> {
        self.call::<proto::DomainUpdateDeviceFlags>((dom.clone(), xml.into(), flags))
    }
    fn domain_open_console(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<ConsoleEndpoint> {
        super::console::open(self, dom, dev_name, flags)
    }
    fn domain_send_key(
        &self,
        dom: &DomainRef,
        codeset: u32,
        holdtime: u32,
        keycodes: &[u32],
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainSendKey>((
            dom.clone(),
            codeset,
            holdtime,
            keycodes.to_vec(),
            flags,
        ))
    }
    fn domain_inject_nmi(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainInjectNmi>((dom.clone(), flags))
    }
    fn domain_qemu_monitor_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        flags: u32,
    ) -> Result<String> {
        self.call::<proto::QemuDomainMonitorCommand>((dom.clone(), cmd.into(), flags))
    }
    fn plugin_list(&self, flags: u32) -> Result<Vec<virt_core::PluginInfo>> {
        self.call::<proto::RvirtPluginList>((flags,))
    }
    fn plugin_reload(&self, name: &str, flags: u32) -> Result<virt_core::PluginInfo> {
        self.call::<proto::RvirtPluginReload>((name.to_string(), flags))
    }
    fn domain_qemu_agent_command(
        &self,
        dom: &DomainRef,
        cmd: &str,
        timeout: i32,
        flags: u32,
    ) -> Result<String> {
        Ok(self
            .call::<proto::QemuDomainAgentCommand>((dom.clone(), cmd.into(), timeout, flags))?
            .unwrap_or_default())
    }

    fn domain_open_console_stream(
        &self,
        dom: &DomainRef,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<std::os::fd::OwnedFd> {
        super::console::open_fd(self, dom, dev_name, flags)
    }
    fn domain_get_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        flags: u32,
    ) -> Result<Vec<TypedParam>> {
        let d = || dom.clone();
        let flags_ok = flags | proto::TYPED_PARAM_STRING_OKAY;
        // The counted families: ask for the count, then for that many.
        let counted =
            |fetch: &dyn Fn(i32) -> Result<(Vec<TypedParam>, i32)>| -> Result<Vec<TypedParam>> {
                let (_, count) = fetch(0)?;
                if count <= 0 {
                    return Ok(Vec::new());
                }
                Ok(fetch(count)?.0)
            };
        match set {
            ParameterSet::Memory => {
                counted(&|n| self.call::<proto::DomainGetMemoryParameters>((d(), n, flags_ok)))
            }
            ParameterSet::Blkio => {
                counted(&|n| self.call::<proto::DomainGetBlkioParameters>((d(), n, flags_ok)))
            }
            ParameterSet::Numa => {
                counted(&|n| self.call::<proto::DomainGetNumaParameters>((d(), n, flags_ok)))
            }
            ParameterSet::Interface => {
                let device =
                    device.ok_or_else(|| needs_device("virDomainGetInterfaceParameters"))?;
                counted(&|n| {
                    self.call::<proto::DomainGetInterfaceParameters>((
                        d(),
                        device.into(),
                        n,
                        flags_ok,
                    ))
                })
            }
            ParameterSet::BlockIoTune => counted(&|n| {
                self.call::<proto::DomainGetBlockIoTune>((
                    d(),
                    device.map(str::to_string),
                    n,
                    flags_ok,
                ))
            }),
            ParameterSet::PerfEvents => self.call::<proto::DomainGetPerfEvents>((d(), flags)),
            ParameterSet::LaunchSecurity => {
                self.call::<proto::DomainGetLaunchSecurityInfo>((d(), flags))
            }
            ParameterSet::GuestInfo => {
                // The `types` bitmask rides in `device` for this family.
                let types = device.and_then(|t| t.parse().ok()).unwrap_or(0);
                self.call::<proto::DomainGetGuestInfo>((d(), types, flags))
            }
        }
    }
    fn domain_set_parameters(
        &self,
        dom: &DomainRef,
        set: ParameterSet,
        device: Option<&str>,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<()> {
        let (d, p) = (dom.clone(), params.to_vec());
        match set {
            ParameterSet::Memory => self.call::<proto::DomainSetMemoryParameters>((d, p, flags)),
            ParameterSet::Blkio => self.call::<proto::DomainSetBlkioParameters>((d, p, flags)),
            ParameterSet::Numa => self.call::<proto::DomainSetNumaParameters>((d, p, flags)),
            ParameterSet::Interface => {
                let device =
                    device.ok_or_else(|| needs_device("virDomainSetInterfaceParameters"))?;
                self.call::<proto::DomainSetInterfaceParameters>((d, device.into(), p, flags))
            }
            ParameterSet::BlockIoTune => {
                let disk = device.ok_or_else(|| needs_device("virDomainSetBlockIoTune"))?;
                self.call::<proto::DomainSetBlockIoTune>((d, disk.into(), p, flags))
            }
            ParameterSet::PerfEvents => self.call::<proto::DomainSetPerfEvents>((d, p, flags)),
            ParameterSet::LaunchSecurity => Err(Error::no_support(
                ErrorDomain::DOMAIN,
                "virDomainSetLaunchSecurityState",
            )),
            ParameterSet::GuestInfo => Err(Error::no_support(
                ErrorDomain::DOMAIN,
                "virDomainSetGuestInfo",
            )),
        }
    }
    fn domain_get_security_label(&self, dom: &DomainRef) -> Result<Vec<SecurityLabel>> {
        let labels = match self.call::<proto::DomainGetSecurityLabelList>((dom.clone(),)) {
            Ok((labels, _)) => labels,
            Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {
                vec![self.call::<proto::DomainGetSecurityLabel>((dom.clone(),))?]
            }
            Err(error) => return Err(error),
        };
        Ok(labels
            .into_iter()
            .filter(|l| !l.label.0.is_empty())
            .map(|l| SecurityLabel {
                label: l.label.to_string_lossy(),
                enforcing: l.enforcing != 0,
            })
            .collect())
    }
    fn domain_get_block_info(&self, dom: &DomainRef, disk: &str, flags: u32) -> Result<BlockInfo> {
        let (allocation, capacity, physical) =
            self.call::<proto::DomainGetBlockInfo>((dom.clone(), disk.into(), flags))?;
        Ok(BlockInfo {
            capacity,
            allocation,
            physical,
        })
    }
    fn domain_get_vcpu_info(&self, dom: &DomainRef) -> Result<Vec<VcpuInfo>> {
        let n_vcpus = self.domain_get_info(dom)?.nr_virt_cpu as i32;
        let n_cpus = self.node_get_info()?.cpus.max(1) as usize;
        let map_len = n_cpus.div_ceil(8);
        let (info, maps) =
            self.call::<proto::DomainGetVcpus>((dom.clone(), n_vcpus, map_len as i32))?;
        Ok(info
            .into_iter()
            .enumerate()
            .map(|(i, v)| VcpuInfo {
                number: v.number,
                state: v.state,
                cpu_time_ns: v.cpu_time,
                cpu: v.cpu,
                cpumap: maps
                    .0
                    .iter()
                    .skip(i * map_len)
                    .take(map_len)
                    .copied()
                    .collect(),
            })
            .collect())
    }
    fn domain_pin_vcpu(&self, dom: &DomainRef, vcpu: u32, cpumap: &[u8], flags: u32) -> Result<()> {
        self.call::<proto::DomainPinVcpuFlags>((dom.clone(), vcpu, Opaque(cpumap.to_vec()), flags))
    }
    fn domain_interface_addresses(
        &self,
        dom: &DomainRef,
        source: u32,
        flags: u32,
    ) -> Result<Vec<GuestInterface>> {
        Ok(self
            .call::<proto::DomainInterfaceAddresses>((dom.clone(), source, flags))?
            .into_iter()
            .map(|iface| GuestInterface {
                name: iface.name,
                hwaddr: iface.hwaddr,
                addresses: iface
                    .addrs
                    .into_iter()
                    .map(|a| IpAddress {
                        kind: a.kind,
                        address: a.addr,
                        prefix: a.prefix,
                    })
                    .collect(),
            })
            .collect())
    }
    fn domain_get_job_stats(&self, dom: &DomainRef, flags: u32) -> Result<JobStats> {
        let (kind, params) = self.call::<proto::DomainGetJobStats>((dom.clone(), flags))?;
        Ok(JobStats { kind, params })
    }
    fn domain_abort_job(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        if flags == 0 {
            return self.call::<proto::DomainAbortJob>((dom.clone(),));
        }
        self.call::<proto::DomainAbortJobFlags>((dom.clone(), flags))
    }
    fn supports_migration(&self) -> bool {
        use virt_core::consts::drv_feature;
        [drv_feature::MIGRATION_V3, drv_feature::MIGRATION_PARAMS]
            .into_iter()
            .all(|feature| {
                self.call::<proto::ConnectSupportsFeature>((feature,))
                    .is_ok_and(|answer| answer > 0)
            })
    }
    fn domain_migrate_begin(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        flags: u32,
    ) -> Result<MigrationBegun> {
        let (cookie, xml) =
            self.call::<proto::DomainMigrateBegin3Params>((dom.clone(), params.to_vec(), flags))?;
        Ok(MigrationBegun {
            cookie: cookie.0,
            xml,
        })
    }
    fn domain_migrate_prepare(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
    ) -> Result<MigrationPrepared> {
        let (cookie, uri) = self.call::<proto::DomainMigratePrepare3Params>((
            params.to_vec(),
            Opaque(cookie.to_vec()),
            flags,
        ))?;
        Ok(MigrationPrepared {
            cookie: cookie.0,
            uri,
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
        let cookie = self.call::<proto::DomainMigratePerform3Params>((
            dom.clone(),
            dconnuri.map(str::to_string),
            params.to_vec(),
            Opaque(cookie.to_vec()),
            flags,
        ))?;
        Ok(cookie.0)
    }
    fn domain_migrate_finish(
        &self,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<(DomainRef, Vec<u8>)> {
        let (dom, cookie) = self.call::<proto::DomainMigrateFinish3Params>((
            params.to_vec(),
            Opaque(cookie.to_vec()),
            flags,
            i32::from(cancelled),
        ))?;
        Ok((dom, cookie.0))
    }
    fn domain_migrate_confirm(
        &self,
        dom: &DomainRef,
        params: &[TypedParam],
        cookie: &[u8],
        flags: u32,
        cancelled: bool,
    ) -> Result<()> {
        self.call::<proto::DomainMigrateConfirm3Params>((
            dom.clone(),
            params.to_vec(),
            Opaque(cookie.to_vec()),
            flags,
            i32::from(cancelled),
        ))
    }
    fn domain_migrate_set_max_speed(
        &self,
        dom: &DomainRef,
        bandwidth: u64,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainMigrateSetMaxSpeed>((dom.clone(), bandwidth, flags))
    }
    fn domain_migrate_get_max_speed(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        self.call::<proto::DomainMigrateGetMaxSpeed>((dom.clone(), flags))
    }
    fn domain_migrate_set_max_downtime(
        &self,
        dom: &DomainRef,
        downtime: u64,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainMigrateSetMaxDowntime>((dom.clone(), downtime, flags))
    }
    fn domain_migrate_get_max_downtime(&self, dom: &DomainRef, flags: u32) -> Result<u64> {
        self.call::<proto::DomainMigrateGetMaxDowntime>((dom.clone(), flags))
    }
    fn domain_migrate_start_post_copy(&self, dom: &DomainRef, flags: u32) -> Result<()> {
        self.call::<proto::DomainMigrateStartPostCopy>((dom.clone(), flags))
    }
    fn domain_core_dump(&self, dom: &DomainRef, to: &str, format: u32, flags: u32) -> Result<()> {
        self.call::<proto::DomainCoreDumpWithFormat>((dom.clone(), to.into(), format, flags))
    }
    fn domain_set_lifecycle_action(
        &self,
        dom: &DomainRef,
        kind: u32,
        action: u32,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainSetLifecycleAction>((dom.clone(), kind, action, flags))
    }
    fn domain_get_time(&self, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
        self.call::<proto::DomainGetTime>((dom.clone(), flags))
    }
    fn domain_set_time(
        &self,
        dom: &DomainRef,
        seconds: i64,
        nseconds: u32,
        flags: u32,
    ) -> Result<()> {
        self.call::<proto::DomainSetTime>((dom.clone(), seconds, nseconds, flags))
    }
    fn domain_fs_freeze(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.call::<proto::DomainFsFreeze>((dom.clone(), mountpoints.to_vec(), flags))
    }
    fn domain_fs_thaw(&self, dom: &DomainRef, mountpoints: &[String], flags: u32) -> Result<i32> {
        self.call::<proto::DomainFsThaw>((dom.clone(), mountpoints.to_vec(), flags))
    }
    fn domain_get_disk_errors(&self, dom: &DomainRef, flags: u32) -> Result<Vec<(String, i32)>> {
        let (_, count) = self.call::<proto::DomainGetDiskErrors>((dom.clone(), 0, flags))?;
        if count <= 0 {
            return Ok(Vec::new());
        }
        let (errors, _) =
            self.call::<proto::DomainGetDiskErrors>((dom.clone(), count as u32, flags))?;
        Ok(errors.into_iter().map(|e| (e.disk, e.error)).collect())
    }

    // ---- snapshots ----

    fn snapshot_create_xml(&self, dom: &DomainRef, xml: &str, flags: u32) -> Result<String> {
        Ok(self
            .call::<proto::DomainSnapshotCreateXml>((dom.clone(), xml.into(), flags))?
            .name)
    }
    fn snapshot_list_all(&self, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
        let (snaps, _) = self.call::<proto::DomainListAllSnapshots>((dom.clone(), 1, flags))?;
        Ok(snaps.into_iter().map(|s| s.name).collect())
    }
    fn snapshot_list_children(
        &self,
        dom: &DomainRef,
        snapshot: &str,
        flags: u32,
    ) -> Result<Vec<String>> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        let (snaps, _) = self.call::<proto::DomainSnapshotListAllChildren>((snap, 1, flags))?;
        Ok(snaps.into_iter().map(|s| s.name).collect())
    }
    fn snapshot_lookup_by_name(&self, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
        Ok(self
            .call::<proto::DomainSnapshotLookupByName>((dom.clone(), name.into(), flags))?
            .name)
    }
    fn snapshot_current(&self, dom: &DomainRef, flags: u32) -> Result<String> {
        Ok(self
            .call::<proto::DomainSnapshotCurrent>((dom.clone(), flags))?
            .name)
    }
    fn snapshot_has_current(&self, dom: &DomainRef, flags: u32) -> Result<bool> {
        Ok(self.call::<proto::DomainHasCurrentSnapshot>((dom.clone(), flags))? != 0)
    }
    fn snapshot_get_parent(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        Ok(self
            .call::<proto::DomainSnapshotGetParent>((snap, flags))?
            .name)
    }
    fn snapshot_get_xml(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<String> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        self.call::<proto::DomainSnapshotGetXmlDesc>((snap, flags))
    }
    fn snapshot_is_current(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        Ok(self.call::<proto::DomainSnapshotIsCurrent>((snap, flags))? != 0)
    }
    fn snapshot_has_metadata(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<bool> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        Ok(self.call::<proto::DomainSnapshotHasMetadata>((snap, flags))? != 0)
    }
    fn snapshot_revert(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        self.call::<proto::DomainRevertToSnapshot>((snap, flags))
    }
    fn snapshot_delete(&self, dom: &DomainRef, snapshot: &str, flags: u32) -> Result<()> {
        let snap = proto::SnapshotRef {
            name: snapshot.into(),
            dom: dom.clone(),
        };
        self.call::<proto::DomainSnapshotDelete>((snap, flags))
    }

    // ---- networks ----

    fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        self.call::<proto::NetworkLookupByName>((name.into(),))
    }
    fn network_lookup_by_uuid(&self, uuid: &Uuid) -> Result<NetworkRef> {
        self.call::<proto::NetworkLookupByUuid>((*uuid,))
    }
    fn network_list_all(&self, flags: u32) -> Result<Vec<NetworkRef>> {
        Ok(self.call::<proto::ConnectListAllNetworks>((1, flags))?.0)
    }
    fn network_define_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        if flags == 0 {
            return self.call::<proto::NetworkDefineXml>((xml.into(),));
        }
        self.call::<proto::NetworkDefineXmlFlags>((xml.into(), flags))
    }
    fn network_create_xml(&self, xml: &str, flags: u32) -> Result<NetworkRef> {
        if flags == 0 {
            return self.call::<proto::NetworkCreateXml>((xml.into(),));
        }
        self.call::<proto::NetworkCreateXmlFlags>((xml.into(), flags))
    }
    fn network_undefine(&self, net: &NetworkRef) -> Result<()> {
        self.call::<proto::NetworkUndefine>((net.clone(),))
    }
    fn network_create(&self, net: &NetworkRef) -> Result<()> {
        self.call::<proto::NetworkCreate>((net.clone(),))
    }
    fn network_destroy(&self, net: &NetworkRef) -> Result<()> {
        self.call::<proto::NetworkDestroy>((net.clone(),))
    }
    fn network_get_xml(&self, net: &NetworkRef, flags: u32) -> Result<String> {
        self.call::<proto::NetworkGetXmlDesc>((net.clone(), flags))
    }
    fn network_get_status(&self, net: &NetworkRef) -> Result<ObjectStatus> {
        let active = self.start::<proto::NetworkIsActive>((net.clone(),))?;
        let persistent = self.start::<proto::NetworkIsPersistent>((net.clone(),))?;
        let autostart = self.start::<proto::NetworkGetAutostart>((net.clone(),))?;
        Ok(ObjectStatus {
            active: active.wait()? != 0,
            persistent: persistent.wait()? != 0,
            autostart: or_unsupported(autostart.wait(), 0)? != 0,
            ..ObjectStatus::default()
        })
    }
    fn network_set_autostart(&self, net: &NetworkRef, autostart: bool) -> Result<()> {
        self.call::<proto::NetworkSetAutostart>((net.clone(), autostart as i32))
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        self.call::<proto::NetworkGetBridgeName>((net.clone(),))
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
        self.call::<proto::NetworkUpdate>((
            net.clone(),
            command,
            section,
            parent_index,
            xml.into(),
            flags,
        ))
    }
    fn network_get_dhcp_leases(
        &self,
        net: &NetworkRef,
        mac: Option<&str>,
        flags: u32,
    ) -> Result<Vec<NetworkDhcpLease>> {
        let (leases, _count) = self.call::<proto::NetworkGetDhcpLeases>((
            net.clone(),
            mac.map(str::to_string),
            1,
            flags,
        ))?;
        Ok(leases
            .into_iter()
            .map(|lease| NetworkDhcpLease {
                iface: lease.iface,
                expiry_time: lease.expirytime,
                kind: lease.kind,
                mac: lease.mac,
                iaid: lease.iaid,
                address: lease.ipaddr,
                prefix: lease.prefix,
                hostname: lease.hostname,
                client_id: lease.clientid,
            })
            .collect())
    }

    // ---- storage ----

    fn pool_lookup_by_name(&self, name: &str) -> Result<StoragePoolRef> {
        self.call::<proto::StoragePoolLookupByName>((name.into(),))
    }
    fn pool_lookup_by_uuid(&self, uuid: &Uuid) -> Result<StoragePoolRef> {
        self.call::<proto::StoragePoolLookupByUuid>((*uuid,))
    }
    fn pool_lookup_by_volume(&self, vol: &StorageVolRef) -> Result<StoragePoolRef> {
        self.call::<proto::StoragePoolLookupByVolume>((vol.clone(),))
    }
    fn pool_list_all(&self, flags: u32) -> Result<Vec<StoragePoolRef>> {
        Ok(self
            .call::<proto::ConnectListAllStoragePools>((1, flags))?
            .0)
    }
    fn pool_define_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        self.call::<proto::StoragePoolDefineXml>((xml.into(), flags))
    }
    fn pool_create_xml(&self, xml: &str, flags: u32) -> Result<StoragePoolRef> {
        self.call::<proto::StoragePoolCreateXml>((xml.into(), flags))
    }
    fn pool_build(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.call::<proto::StoragePoolBuild>((pool.clone(), flags))
    }
    fn pool_undefine(&self, pool: &StoragePoolRef) -> Result<()> {
        self.call::<proto::StoragePoolUndefine>((pool.clone(),))
    }
    fn pool_create(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.call::<proto::StoragePoolCreate>((pool.clone(), flags))
    }
    fn pool_destroy(&self, pool: &StoragePoolRef) -> Result<()> {
        self.call::<proto::StoragePoolDestroy>((pool.clone(),))
    }
    fn pool_delete(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.call::<proto::StoragePoolDelete>((pool.clone(), flags))
    }
    fn pool_refresh(&self, pool: &StoragePoolRef, flags: u32) -> Result<()> {
        self.call::<proto::StoragePoolRefresh>((pool.clone(), flags))
    }
    fn pool_get_info(&self, pool: &StoragePoolRef) -> Result<StoragePoolInfo> {
        let info = self.call::<proto::StoragePoolGetInfo>((pool.clone(),))?;
        Ok(StoragePoolInfo {
            state: info.state as i32,
            capacity: info.capacity,
            allocation: info.allocation,
            available: info.available,
        })
    }
    fn pool_get_xml(&self, pool: &StoragePoolRef, flags: u32) -> Result<String> {
        self.call::<proto::StoragePoolGetXmlDesc>((pool.clone(), flags))
    }
    fn pool_get_status(&self, pool: &StoragePoolRef) -> Result<ObjectStatus> {
        let active = self.start::<proto::StoragePoolIsActive>((pool.clone(),))?;
        let persistent = self.start::<proto::StoragePoolIsPersistent>((pool.clone(),))?;
        let autostart = self.start::<proto::StoragePoolGetAutostart>((pool.clone(),))?;
        Ok(ObjectStatus {
            active: active.wait()? != 0,
            persistent: persistent.wait()? != 0,
            autostart: or_unsupported(autostart.wait(), 0)? != 0,
            ..ObjectStatus::default()
        })
    }
    fn pool_set_autostart(&self, pool: &StoragePoolRef, autostart: bool) -> Result<()> {
        self.call::<proto::StoragePoolSetAutostart>((pool.clone(), autostart as i32))
    }
    fn pool_find_sources(&self, kind: &str, src_spec: Option<&str>, flags: u32) -> Result<String> {
        self.call::<proto::ConnectFindStoragePoolSources>((
            kind.into(),
            src_spec.map(str::to_string),
            flags,
        ))
    }
    fn vol_list(&self, pool: &StoragePoolRef) -> Result<Vec<StorageVolRef>> {
        Ok(self
            .call::<proto::StoragePoolListAllVolumes>((pool.clone(), 1, 0))?
            .0)
    }
    fn vol_lookup_by_name(&self, pool: &StoragePoolRef, name: &str) -> Result<StorageVolRef> {
        self.call::<proto::StorageVolLookupByName>((pool.clone(), name.into()))
    }
    fn vol_lookup_by_key(&self, key: &str) -> Result<StorageVolRef> {
        self.call::<proto::StorageVolLookupByKey>((key.into(),))
    }
    fn vol_lookup_by_path(&self, path: &str) -> Result<StorageVolRef> {
        self.call::<proto::StorageVolLookupByPath>((path.into(),))
    }
    fn vol_create_xml(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        flags: u32,
    ) -> Result<StorageVolRef> {
        self.call::<proto::StorageVolCreateXml>((pool.clone(), xml.into(), flags))
    }
    fn vol_create_xml_from(
        &self,
        pool: &StoragePoolRef,
        xml: &str,
        clone_of: &StorageVolRef,
        flags: u32,
    ) -> Result<StorageVolRef> {
        self.call::<proto::StorageVolCreateXmlFrom>((
            pool.clone(),
            xml.into(),
            clone_of.clone(),
            flags,
        ))
    }
    fn vol_delete(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        self.call::<proto::StorageVolDelete>((vol.clone(), flags))
    }
    fn vol_wipe(&self, vol: &StorageVolRef, flags: u32) -> Result<()> {
        self.call::<proto::StorageVolWipe>((vol.clone(), flags))
    }
    fn vol_resize(&self, vol: &StorageVolRef, capacity: u64, flags: u32) -> Result<()> {
        self.call::<proto::StorageVolResize>((vol.clone(), capacity, flags))
    }
    fn vol_get_info(&self, vol: &StorageVolRef, flags: u32) -> Result<StorageVolInfo> {
        let info = if flags == 0 {
            self.call::<proto::StorageVolGetInfo>((vol.clone(),))?
        } else {
            self.call::<proto::StorageVolGetInfoFlags>((vol.clone(), flags))?
        };
        Ok(StorageVolInfo {
            kind: info.kind,
            capacity: info.capacity,
            allocation: info.allocation,
        })
    }
    fn vol_get_xml(&self, vol: &StorageVolRef, flags: u32) -> Result<String> {
        self.call::<proto::StorageVolGetXmlDesc>((vol.clone(), flags))
    }
    fn vol_get_path(&self, vol: &StorageVolRef) -> Result<String> {
        self.call::<proto::StorageVolGetPath>((vol.clone(),))
    }
    fn vol_data_path(&self, vol: &StorageVolRef, for_upload: bool) -> Result<String> {
        super::volume::data_path(self, vol, for_upload)
    }
    fn vol_upload(
        &self,
        vol: &StorageVolRef,
        offset: u64,
        length: u64,
        flags: u32,
        source: &mut dyn std::io::Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let sparse = virt_core::driver::check_sparse_flag(flags, "virStorageVolUpload")?;
        super::volume::upload(self, vol, (offset, length), sparse, source, progress)
    }
    fn vol_download(
        &self,
        vol: &StorageVolRef,
        offset: u64,
        length: u64,
        flags: u32,
        sink: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let sparse = virt_core::driver::check_sparse_flag(flags, "virStorageVolDownload")?;
        super::volume::download(self, vol, (offset, length), sparse, sink, progress)
    }

    // ---- host devices and interfaces ----

    fn nodedev_list(&self, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
        match capability {
            None => Ok(self.call::<proto::ConnectListAllNodeDevices>((1, flags))?.0),
            Some(cap) => {
                let count = self.call::<proto::NodeNumOfDevices>((Some(cap.into()), flags))?;
                self.call::<proto::NodeListDevices>((Some(cap.into()), count.max(0), flags))
            }
        }
    }
    fn nodedev_lookup(&self, name: &str) -> Result<String> {
        self.call::<proto::NodeDeviceLookupByName>((name.into(),))
    }
    fn nodedev_get_xml(&self, name: &str, flags: u32) -> Result<String> {
        self.call::<proto::NodeDeviceGetXmlDesc>((name.into(), flags))
    }
    fn nodedev_get_parent(&self, name: &str) -> Result<Option<String>> {
        self.call::<proto::NodeDeviceGetParent>((name.into(),))
    }
    fn nodedev_list_caps(&self, name: &str) -> Result<Vec<String>> {
        let count = self.call::<proto::NodeDeviceNumOfCaps>((name.into(),))?;
        self.call::<proto::NodeDeviceListCaps>((name.into(), count.max(0)))
    }
    fn iface_list_all(&self, flags: u32) -> Result<Vec<InterfaceRef>> {
        Ok(self.call::<proto::ConnectListAllInterfaces>((1, flags))?.0)
    }
    fn iface_lookup_by_name(&self, name: &str) -> Result<InterfaceRef> {
        self.call::<proto::InterfaceLookupByName>((name.into(),))
    }
    fn iface_lookup_by_mac(&self, mac: &str) -> Result<InterfaceRef> {
        self.call::<proto::InterfaceLookupByMacString>((mac.into(),))
    }
    fn iface_get_xml(&self, iface: &InterfaceRef, flags: u32) -> Result<String> {
        self.call::<proto::InterfaceGetXmlDesc>((iface.clone(), flags))
    }
    fn iface_is_active(&self, iface: &InterfaceRef) -> Result<bool> {
        Ok(self.call::<proto::InterfaceIsActive>((iface.clone(),))? != 0)
    }

    // ---- secrets ----

    fn secret_list_all(&self, flags: u32) -> Result<Vec<SecretRef>> {
        Ok(self.call::<proto::ConnectListAllSecrets>((1, flags))?.0)
    }
    fn secret_lookup_by_uuid(&self, uuid: &Uuid) -> Result<SecretRef> {
        self.call::<proto::SecretLookupByUuid>((*uuid,))
    }
    fn secret_lookup_by_usage(&self, usage_type: i32, usage_id: &str) -> Result<SecretRef> {
        self.call::<proto::SecretLookupByUsage>((usage_type, usage_id.into()))
    }
    fn secret_define_xml(&self, xml: &str, flags: u32) -> Result<SecretRef> {
        self.call::<proto::SecretDefineXml>((xml.into(), flags))
    }
    fn secret_get_xml(&self, secret: &SecretRef, flags: u32) -> Result<String> {
        self.call::<proto::SecretGetXmlDesc>((secret.clone(), flags))
    }
    fn secret_get_value(&self, secret: &SecretRef, flags: u32) -> Result<Vec<u8>> {
        Ok(self
            .call::<proto::SecretGetValue>((secret.clone(), flags))?
            .0)
    }
    fn secret_set_value(&self, secret: &SecretRef, value: &[u8], flags: u32) -> Result<()> {
        self.call::<proto::SecretSetValue>((secret.clone(), Opaque(value.to_vec()), flags))
    }
    fn secret_undefine(&self, secret: &SecretRef) -> Result<()> {
        self.call::<proto::SecretUndefine>((secret.clone(),))
    }
}

impl RemoteConnection {
    /// Registers for every event rvirt models, pipelined: domain events, network and pool
    /// life cycle, pool refresh, node device and secret life cycle and updates.
    fn register_all_events(&self) -> Result<()> {
        let mut domain_calls = Vec::new();
        for event_id in 0..=crate::events::DOMAIN_EVENT_ID_LAST {
            // Graphics events (5) carry addresses rvirt does not model.
            if event_id == 5 {
                continue;
            }
            domain_calls.push(
                self.start::<proto::ConnectDomainEventCallbackRegisterAny>((event_id, None))?,
            );
        }
        let network = self.start::<proto::ConnectNetworkEventRegisterAny>((0, None))?;
        let pool = self.start::<proto::ConnectStoragePoolEventRegisterAny>((0, None))?;
        let refresh = self.start::<proto::ConnectStoragePoolEventRegisterAny>((1, None))?;
        let node_devices = [0, 1].map(|event_id| {
            self.start::<proto::ConnectNodeDeviceEventRegisterAny>((event_id, None))
        });
        let secrets = [0, 1]
            .map(|event_id| self.start::<proto::ConnectSecretEventRegisterAny>((event_id, None)));
        let mut ids = Vec::new();
        for call in domain_calls {
            // A daemon may not know the newest event ids; the others still work.
            match call.wait() {
                Ok(id) => ids.push(id),
                Err(error)
                    if error.code() == ErrorNumber::INVALID_ARG
                        || error.code() == ErrorNumber::NO_SUPPORT => {}
                Err(error) => return Err(error),
            }
        }
        let object_calls = [network.wait(), pool.wait(), refresh.wait()]
            .into_iter()
            .chain(
                node_devices
                    .into_iter()
                    .map(|call| call.and_then(|c| c.wait())),
            )
            .chain(secrets.into_iter().map(|call| call.and_then(|c| c.wait())));
        for call in object_calls {
            match call {
                Ok(id) => ids.push(id),
                Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {}
                Err(error) => return Err(error),
            }
        }
        self.core
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(ids);
        Ok(())
    }

    /// Opens a stream-carrying call: registers `sink` for its frames, waits for the reply.
    pub(crate) fn open_stream<P: Procedure<Ret = ()>>(
        &self,
        args: P::Args,
        sink: StreamSink,
    ) -> Result<StreamHandle> {
        let pending = self.core.start_call_with_stream(
            P::PROGRAM,
            P::NUMBER,
            &to_bytes(&args),
            Some(sink),
        )?;
        let serial = pending.serial();
        if let Err(error) = pending.wait() {
            self.core.forget_stream(serial);
            return Err(error);
        }
        Ok(StreamHandle {
            core: Arc::clone(&self.core),
            header: Header::call(P::PROGRAM, P::NUMBER, serial),
        })
    }
}

/// The sending side of an open stream.
pub(crate) struct StreamHandle {
    core: Arc<Core>,
    header: Header,
}

impl StreamHandle {
    fn frame(&self, kind: MessageType, status: Status, payload: &[u8]) -> Vec<u8> {
        let header = Header {
            kind,
            status,
            ..self.header
        };
        encode_frame(&header, |out| out.extend_from_slice(payload))
    }

    pub(crate) fn send_data(&self, bytes: &[u8]) -> Result<()> {
        for chunk in bytes.chunks(crate::frame::STREAM_CHUNK) {
            self.core
                .send(self.frame(MessageType::STREAM, Status::CONTINUE, chunk))?;
        }
        Ok(())
    }

    pub(crate) fn finish(&self) -> Result<()> {
        self.core
            .send(self.frame(MessageType::STREAM, Status::OK, &[]))
    }

    /// A run of `length` zero bytes, sent as a hole (a sparse stream's `virStreamSendHole`).
    pub(crate) fn send_hole(&self, length: i64) -> Result<()> {
        let hole = to_bytes(&proto::StreamHole { length, flags: 0 });
        self.core
            .send(self.frame(MessageType::STREAM_HOLE, Status::CONTINUE, &hole))
    }

    pub(crate) fn abort(&self) -> Result<()> {
        self.core
            .send(self.frame(MessageType::STREAM, Status::ERROR, &[]))
    }

    pub(crate) fn forget(&self) {
        self.core.forget_stream(self.header.serial);
    }
}

/// A frame a stream received, classified.
pub(crate) enum StreamEvent {
    Data(Vec<u8>),
    Hole(i64),
    /// The daemon has no more data (empty CONTINUE).
    Eof,
    /// The daemon acknowledged our finish.
    Finished,
    Failed(Error),
}

pub(crate) fn classify(frame: StreamFrame) -> StreamEvent {
    match (frame.header.kind, frame.header.status) {
        (MessageType::STREAM_HOLE, _) => match from_bytes::<proto::StreamHole>(&frame.payload) {
            Ok(hole) => StreamEvent::Hole(hole.length),
            Err(_) => StreamEvent::Failed(rpc_error("Unable to decode stream hole")),
        },
        (_, Status::CONTINUE) if frame.payload.is_empty() => StreamEvent::Eof,
        (_, Status::CONTINUE) => StreamEvent::Data(frame.payload),
        (_, Status::OK) => StreamEvent::Finished,
        _ => match from_bytes::<proto::RemoteError>(&frame.payload) {
            Ok(remote) => StreamEvent::Failed(Error::from(remote)),
            Err(_) => StreamEvent::Failed(rpc_error("stream failed")),
        },
    }
}
