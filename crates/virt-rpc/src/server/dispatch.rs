//! The dispatch table: each REMOTE procedure mapped onto a [`Connection`] call.
//!
//! Order of checks, as libvirtd applies them: the program must be known, the procedure must
//! exist, the hypervisor connection must be open (except for the handshake calls), a
//! read-only client may not call a procedure that writes, and only then are the arguments
//! decoded and the driver asked. A procedure without a handler answers
//! VIR_ERR_NO_SUPPORT with the public API name, which is what makes virsh fall back.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use virt_core::driver::Connection;
use virt_core::{
    registry, ConnectUri, DomainRef, Error, ErrorDomain, ErrorNumber, ParameterSet, TypedParam,
    TypedValue, Uuid,
};

use super::stream::{self, StreamStart};
use super::{access, error_frame, not_open, reply_frame, ClientShared, Registration};
use crate::frame::{
    seal_frame, Header, Status, FRAME_PREFIX, QEMU_PROGRAM, REMOTE_PROGRAM, RVIRT_ADMIN_PROGRAM,
};
use crate::protocol::{
    self as proto, feature, remote_proc as p, Procedure, TYPED_PARAM_STRING_OKAY,
};
use crate::protocol::{procedure_info, rpc_error, ProcedureInfo};
use crate::xdr::{from_bytes, CharArray, FixedChars, Opaque, Xdr};

/// What a successful call answers: the reply payload and, for stream procedures, the stream
/// to start once the reply is on its way.
pub(crate) struct Reply {
    /// The payload, after `body_at` bytes of room for the frame's length word and header.
    payload: Vec<u8>,
    body_at: usize,
    stream: Option<StreamStart>,
}

impl Reply {
    /// The reply payload alone.
    fn body(&self) -> &[u8] {
        self.payload.get(self.body_at..).unwrap_or_default()
    }
}

type CallResult = Result<Reply, Error>;

/// Decodes `P`'s arguments, runs `handler`, encodes its reply.
fn run<P: Procedure>(
    payload: &[u8],
    handler: impl FnOnce(P::Args) -> Result<P::Ret, Error>,
) -> CallResult {
    let args = decode_args::<P::Args>(payload)?;
    let ret = handler(args)?;
    // Encoded after room for the frame's header, which is filled in when the frame is sent.
    let mut frame = Vec::with_capacity(256);
    frame.resize(FRAME_PREFIX, 0);
    ret.encode(&mut frame);
    Ok(Reply {
        payload: frame,
        body_at: FRAME_PREFIX,
        stream: None,
    })
}

fn decode_args<T: Xdr>(payload: &[u8]) -> Result<T, Error> {
    from_bytes::<T>(payload).map_err(|error| {
        tracing::debug!("undecodable arguments: {error}");
        rpc_error("Unable to decode message payload")
    })
}

/// Runs a call to completion and queues its reply.
///
/// No call is handed to another thread on its way: a thread hand-off (and the wake-up back
/// to the writer) costs more than most driver calls take. High-priority procedures
/// (libvirt's `@priority: high`: lookups, getters, defines, the calls libvirt promises never
/// wait on a domain job) run right here on the client's reader task; this client's next
/// frame waits for them, as libvirt's client library makes a single-threaded caller wait
/// anyway. The others run as a task of their own, at most `max_workers` at a time, so the
/// reader goes on. Where any call turns out long (it blocks in the host, or computes for
/// more than a few milliseconds), virt-host moves it off the runtime (`block_in_place`).
pub(super) async fn start_call(
    client: Arc<ClientShared>,
    header: Header,
    payload: Vec<u8>,
    permit: OwnedSemaphorePermit,
) {
    let info = if header.prog == REMOTE_PROGRAM {
        procedure_info(header.procedure)
    } else {
        None
    };
    // High-priority calls (lookups, destroy, ...) never wait for a job: they run on the
    // reader task, as libvirtd's priority workers take them first.
    let high_priority =
        header.prog != RVIRT_ADMIN_PROGRAM && info.is_none_or(|info| info.high_priority);
    if high_priority {
        let (reply, after) = run_call(&client, &header, info, &payload);
        client.send(reply).await;
        after.run(&client, &header, permit);
        return;
    }
    let workers = Arc::clone(&client.server.workers);
    tokio::spawn(async move {
        let Ok(worker) = workers.acquire_owned().await else {
            return;
        };
        // Any call runs as its own task, so the client's next calls are still read meanwhile,
        // on the runtime thread that got it: a quick call (most are a few µs of driver work)
        // costs no thread hand-off on the way in or out. One that turns out long leaves the
        // runtime where it does: virt-host's blocking host operations, and a call's wasm
        // past its first few milliseconds, hand this thread's other tasks to another thread
        // (`block_in_place`). A plugin reload, which compiles for seconds, does so at once,
        // and so does a migration's Perform: peer-to-peer, it waits on a client connection
        // of its own, which may well be to this very daemon.
        let leaves_at_once = header.prog == RVIRT_ADMIN_PROGRAM
            || (header.prog == REMOTE_PROGRAM
                && header.procedure == p::DOMAIN_MIGRATE_PERFORM3_PARAMS as i32);
        let (reply, after) = if leaves_at_once {
            tokio::task::block_in_place(|| run_call(&client, &header, info, &payload))
        } else {
            run_call(&client, &header, info, &payload)
        };
        drop(worker);
        client.send(reply).await;
        after.run(&client, &header, permit);
    });
}

/// What remains of a call once its reply is queued: the stream it opened, if any.
struct After {
    stream: Option<stream::StreamTask>,
}

impl After {
    /// Starts the stream's task, marks a closing connection, frees the client's request slot.
    fn run(self, client: &Arc<ClientShared>, header: &Header, permit: OwnedSemaphorePermit) {
        if let Some(task) = self.stream {
            tokio::spawn(task);
        }
        if header.procedure == p::CONNECT_CLOSE as i32 && header.prog == REMOTE_PROGRAM {
            client.closing.store(true, Ordering::Relaxed);
        }
        drop(permit);
        // Only a reader waiting now is told (no permit is stored): after an inline call the
        // reader itself answered, and a stored wake-up would restart its poll.
        client.call_answered.notify_waiters();
    }
}

/// Dispatches one call, turning a panic into an internal error, and builds its reply frame.
/// A stream the call opens is registered before the reply exists, so the client's first
/// data frame finds it.
fn run_call(
    client: &Arc<ClientShared>,
    header: &Header,
    info: Option<&'static ProcedureInfo>,
    payload: &[u8],
) -> (Vec<u8>, After) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        dispatch(client, header, info, payload)
    }))
    .unwrap_or_else(|_| {
        tracing::error!(procedure = header.procedure, "a driver call panicked");
        Err(Error::internal(
            ErrorDomain::RPC,
            "driver call failed unexpectedly",
        ))
    });
    match outcome {
        Ok(reply) => {
            let frame = if reply.body_at == FRAME_PREFIX {
                let mut frame = reply.payload;
                seal_frame(&mut frame, &header.reply(Status::OK));
                frame
            } else {
                reply_frame(header, reply.body())
            };
            let stream = reply
                .stream
                .and_then(|start| stream::prepare(client, header, start));
            (frame, After { stream })
        }
        Err(error) => (error_frame(header, &error), After { stream: None }),
    }
}

/// The family error domain for a NO_SUPPORT that a driver reported without one.
fn with_family_domain(error: Error, info: Option<&ProcedureInfo>) -> Error {
    match info {
        Some(info)
            if error.code() == ErrorNumber::NO_SUPPORT && error.domain() == ErrorDomain::NONE =>
        {
            error.with_domain(info.family.error_domain())
        }
        _ => error,
    }
}

fn no_support(info: Option<&ProcedureInfo>, procedure: i32) -> Error {
    match info {
        Some(info) if !info.api.is_empty() => {
            Error::no_support(info.family.error_domain(), info.api)
        }
        _ => rpc_error(format!("unknown procedure: {procedure}")),
    }
}

fn denied(info: &ProcedureInfo, what: &str) -> Error {
    Error::new(
        ErrorNumber::OPERATION_DENIED,
        info.family.error_domain(),
        what,
    )
}

/// Runs one call. Never panics on input; errors become ERROR replies.
pub(crate) fn dispatch(
    client: &Arc<ClientShared>,
    header: &Header,
    info: Option<&'static ProcedureInfo>,
    payload: &[u8],
) -> CallResult {
    let procedure = header.procedure;
    if header.prog == QEMU_PROGRAM {
        return dispatch_qemu(client, procedure, payload);
    }
    if header.prog == RVIRT_ADMIN_PROGRAM {
        return dispatch_rvirt_admin(client, procedure, payload);
    }
    let Some(info) = info else {
        return Err(rpc_error(format!("unknown procedure: {procedure}")));
    };
    let number = procedure as u32;
    // The handshake: answered without (or before) a hypervisor connection.
    match number {
        p::AUTH_LIST => {
            return run::<proto::AuthList>(payload, |()| Ok(vec![proto::auth_type::NONE]))
        }
        p::AUTH_POLKIT | p::AUTH_SASL_INIT | p::AUTH_SASL_START | p::AUTH_SASL_STEP => {
            return Err(Error::from_parts(
                ErrorNumber::AUTH_FAILED,
                ErrorDomain::RPC,
                "authentication failed: authentication failed",
            ))
        }
        p::CONNECT_OPEN => {
            return run::<proto::ConnectOpen>(payload, |(name, flags)| open(client, name, flags))
        }
        p::CONNECT_SUPPORTS_FEATURE => {
            return run::<proto::ConnectSupportsFeature>(payload, |(feature,)| {
                supports_feature(client, feature)
            })
        }
        _ => {}
    }
    let conn = client.connection().ok_or_else(not_open)?;
    if client.is_read_only() {
        if info.writes {
            return Err(denied(
                info,
                &format!("read only access prevents {}", info.api),
            ));
        }
        let secure_xml = matches!(
            number,
            p::DOMAIN_GET_XML_DESC
                | p::DOMAIN_SNAPSHOT_GET_XML_DESC
                | p::DOMAIN_SAVE_IMAGE_GET_XML_DESC
        );
        if secure_xml && flags_arg(number, payload).is_some_and(|flags| flags & 1 != 0) {
            return Err(denied(info, &format!("{} with secure flag", info.api)));
        }
    }
    let Some(access) = client.access.as_deref() else {
        return handle(client, conn.as_ref(), info, number, payload)
            .map_err(|error| with_family_domain(error, Some(info)));
    };
    let (subject, driver) = (&client.info.subject, client.driver_name());
    access::check_call(access, subject, driver, info, payload)?;
    let reply = handle(client, conn.as_ref(), info, number, payload)
        .map_err(|error| with_family_domain(error, Some(info)))?;
    access::check_reply(access, subject, driver, info, reply.body())?;
    Ok(reply)
}

/// The `flags` argument of the XML-description procedures, for the read-only check.
fn flags_arg(number: u32, payload: &[u8]) -> Option<u32> {
    match number {
        p::DOMAIN_GET_XML_DESC => from_bytes::<(DomainRef, u32)>(payload).ok().map(|a| a.1),
        p::DOMAIN_SNAPSHOT_GET_XML_DESC => from_bytes::<(proto::SnapshotRef, u32)>(payload)
            .ok()
            .map(|a| a.1),
        p::DOMAIN_SAVE_IMAGE_GET_XML_DESC => from_bytes::<(String, u32)>(payload).ok().map(|a| a.1),
        _ => None,
    }
}

fn open(client: &Arc<ClientShared>, name: Option<String>, flags: u32) -> Result<(), Error> {
    if client.connection().is_some() {
        return Err(Error::from_parts(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::RPC,
            "internal error: connection already open",
        ));
    }
    let Some(name) = name else {
        return Err(Error::from_parts(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::RPC,
            "internal error: connection not open",
        ));
    };
    // Only bit 0 (read-only) means something to the daemon; the others are the client's own.
    let read_only = client.info.read_only || flags & virt_core::blocking::CONNECT_RO != 0;
    let driver_flags = if read_only {
        virt_core::blocking::CONNECT_RO
    } else {
        0
    };
    let connection = if name.is_empty() {
        open_default(&client.server.config().default_uris, driver_flags)?
    } else {
        let uri = ConnectUri::parse(&name)?;
        registry::open(&uri, driver_flags)?
    };
    // libvirt's drivers check connect:getattr as they open; the driver's name is what
    // access rules and denials name ("QEMU").
    let scheme = connection
        .get_uri()
        .ok()
        .and_then(|uri| ConnectUri::parse(&uri).ok())
        .map(|uri| uri.driver)
        .unwrap_or_default();
    let driver = virt_access::driver_name(&scheme).to_string();
    if let Some(access) = client.access.as_deref() {
        let getattr = virt_access::Permission {
            object: virt_access::Object::Connect,
            name: "getattr",
        };
        let target = virt_access::Target {
            driver: &driver,
            name: None,
            uuid: None,
        };
        access.check(&client.info.subject, getattr, &target, "virConnectOpen")?;
    }
    let _ = client.driver_name.set(driver);
    client.read_only_open.store(read_only, Ordering::Relaxed);
    *client.connection.write().unwrap_or_else(|p| p.into_inner()) = Some(connection);
    tracing::debug!(client = client.id, uri = %name, read_only, "hypervisor connection open");
    Ok(())
}

fn open_default(candidates: &[String], flags: u32) -> Result<Arc<dyn Connection>, Error> {
    let mut last = Error::new(
        ErrorNumber::NO_CONNECT,
        ErrorDomain::NONE,
        "default hypervisor",
    );
    for candidate in candidates {
        let uri = ConnectUri::parse(candidate)?;
        match registry::open(&uri, flags) {
            Ok(connection) => return Ok(connection),
            Err(error) => last = error,
        }
    }
    Err(last)
}

fn supports_feature(client: &Arc<ClientShared>, feature: i32) -> Result<i32, Error> {
    use virt_core::consts::drv_feature;
    match feature {
        feature::PROGRAM_KEEPALIVE => {
            client.keepalive_wanted.store(true, Ordering::Relaxed);
            Ok(1)
        }
        _ if client.connection().is_none() => Err(not_open()),
        feature::TYPED_PARAM_STRING
        | feature::REMOTE_EVENT_CALLBACK
        | feature::REMOTE_CLOSE_CALLBACK => Ok(1),
        // NETWORK_UPDATE_HAS_CORRECT_ORDER: command and section reach the driver as named.
        16 => Ok(1),
        // Migration (protocol version 3 with parameters, peer-to-peer or managed direct),
        // when the connection's driver serves it.
        drv_feature::MIGRATION_V3
        | drv_feature::MIGRATION_P2P
        | drv_feature::MIGRATION_DIRECT
        | drv_feature::MIGRATION_PARAMS
        | drv_feature::MIGRATE_CHANGE_PROTECTION
        | drv_feature::XML_MIGRATABLE => Ok(i32::from(
            client
                .connection()
                .is_some_and(|connection| connection.supports_migration()),
        )),
        _ => Ok(0),
    }
}

/// Drops string-typed parameters for a caller that did not say it accepts them.
fn typed_params_for(mut params: Vec<TypedParam>, flags: u32) -> Vec<TypedParam> {
    if flags & TYPED_PARAM_STRING_OKAY == 0 {
        params.retain(|param| !matches!(param.value, TypedValue::String(_)));
    }
    params
}

/// The "ask for the count first" convention: `nparams == 0` returns only the count.
fn counted(params: Vec<TypedParam>, nparams: i32) -> (Vec<TypedParam>, i32) {
    if nparams <= 0 {
        let count = params.len() as i32;
        return (Vec::new(), count);
    }
    let mut params = params;
    params.truncate(nparams as usize);
    (params, 0)
}

fn param_i64(params: &[TypedParam], name: &str) -> i64 {
    params
        .iter()
        .find(|param| param.field == name)
        .and_then(|param| match &param.value {
            TypedValue::Int(v) => Some(*v as i64),
            TypedValue::UInt(v) => Some(*v as i64),
            TypedValue::LLong(v) => Some(*v),
            TypedValue::ULLong(v) => Some(*v as i64),
            _ => None,
        })
        .unwrap_or(-1)
}

fn param_u64(value: &TypedValue) -> u64 {
    match value {
        TypedValue::Int(v) => *v as u64,
        TypedValue::UInt(v) => *v as u64,
        TypedValue::LLong(v) => *v as u64,
        TypedValue::ULLong(v) => *v,
        TypedValue::Double(v) => *v as u64,
        TypedValue::Boolean(v) => *v as u64,
        TypedValue::String(_) => 0,
    }
}

/// List limits from the protocol: a longer list cannot be sent.
const DOMAIN_LIST_MAX: usize = 16_384;
/// `REMOTE_NETWORK_DHCP_LEASES_MAX`.
const NETWORK_DHCP_LEASES_MAX: usize = 65_536;
const NODE_DEVICE_LIST_MAX: usize = 65_536;

fn check_list<T>(items: Vec<T>, max: usize, what: &str) -> Result<Vec<T>, Error> {
    if items.len() > max {
        return Err(rpc_error(format!(
            "Too many {what} '{}' for limit '{max}'",
            items.len()
        )));
    }
    Ok(items)
}

fn need_results<T>(items: Vec<T>, need: i32) -> (Vec<T>, u32) {
    let count = items.len() as u32;
    if need == 0 {
        (Vec::new(), count)
    } else {
        (items, count)
    }
}

/// The items of a listing the caller may see.
fn listed<T>(mut items: Vec<T>, keep: impl Fn(&T) -> bool) -> Vec<T> {
    items.retain(keep);
    items
}

fn truncated<T>(mut items: Vec<T>, max: i32) -> Vec<T> {
    items.truncate(max.max(0) as usize);
    items
}

/// `VIR_CONNECT_LIST_*` bits shared by the legacy count/list calls.
mod list_flags {
    pub const DOMAINS_ACTIVE: u32 = 1;
    pub const DOMAINS_INACTIVE: u32 = 2;
    /// Networks, pools and interfaces number these the other way round.
    pub const OBJECTS_INACTIVE: u32 = 1;
    pub const OBJECTS_ACTIVE: u32 = 2;
}

fn handle(
    client: &Arc<ClientShared>,
    c: &dyn Connection,
    info: &ProcedureInfo,
    number: u32,
    payload: &[u8],
) -> CallResult {
    use list_flags::*;
    // Listings keep only what the caller may see (libvirt's @aclfilter); without access
    // control everything is shown.
    let shown = |name: &str, uuid: Option<&Uuid>| client.may_list(info, name, uuid);
    use proto::*;
    match number {
        // ---- connection and host ----
        p::CONNECT_CLOSE => run::<ConnectClose>(payload, |()| Ok(())),
        p::CONNECT_REGISTER_CLOSE_CALLBACK => {
            run::<ConnectRegisterCloseCallback>(payload, |()| Ok(()))
        }
        p::CONNECT_UNREGISTER_CLOSE_CALLBACK => {
            run::<ConnectUnregisterCloseCallback>(payload, |()| Ok(()))
        }
        p::CONNECT_GET_TYPE => run::<ConnectGetType>(payload, |()| c.get_type()),
        p::CONNECT_GET_VERSION => run::<ConnectGetVersion>(payload, |()| c.get_version()),
        p::CONNECT_GET_LIB_VERSION => {
            run::<ConnectGetLibVersion>(payload, |()| c.get_lib_version())
        }
        p::CONNECT_GET_HOSTNAME => run::<ConnectGetHostname>(payload, |()| c.get_hostname()),
        p::CONNECT_GET_URI => run::<ConnectGetUri>(payload, |()| c.get_uri()),
        p::CONNECT_IS_SECURE => run::<ConnectIsSecure>(payload, |()| Ok(c.is_secure() as i32)),
        p::CONNECT_GET_MAX_VCPUS => {
            run::<ConnectGetMaxVcpus>(payload, |(kind,)| c.get_max_vcpus(kind.as_deref()))
        }
        p::CONNECT_GET_CAPABILITIES => {
            run::<ConnectGetCapabilities>(payload, |()| c.get_capabilities())
        }
        p::CONNECT_GET_DOMAIN_CAPABILITIES => run::<ConnectGetDomainCapabilities>(
            payload,
            |(emulator, arch, machine, virt_type, flags)| {
                c.get_domain_capabilities(
                    emulator.as_deref(),
                    arch.as_deref(),
                    machine.as_deref(),
                    virt_type.as_deref(),
                    flags,
                )
            },
        ),
        p::CONNECT_GET_SYSINFO => {
            run::<ConnectGetSysinfo>(payload, |(flags,)| c.get_sysinfo(flags))
        }
        p::NODE_GET_INFO => run::<NodeGetInfo>(payload, |()| {
            let info = c.node_get_info()?;
            Ok(NodeInfoRet {
                model: FixedChars::from_str_truncated(&info.model),
                memory: info.memory_kib,
                cpus: info.cpus as i32,
                mhz: info.mhz as i32,
                nodes: info.nodes as i32,
                sockets: info.sockets as i32,
                cores: info.cores as i32,
                threads: info.threads as i32,
            })
        }),
        p::NODE_GET_FREE_MEMORY => run::<NodeGetFreeMemory>(payload, |()| c.node_get_free_memory()),
        p::NODE_GET_CELLS_FREE_MEMORY => run::<NodeGetCellsFreeMemory>(payload, |(start, max)| {
            if max > 1024 {
                return Err(rpc_error("maxCells > REMOTE_NODE_MAX_CELLS"));
            }
            c.node_get_cells_free_memory(start, max)
        }),
        p::NODE_GET_MEMORY_STATS => run::<NodeGetMemoryStats>(payload, |(nparams, cell, flags)| {
            let stats = c.node_get_memory_stats(cell, flags)?;
            Ok(node_stats(stats, nparams))
        }),
        p::NODE_GET_CPU_STATS => run::<NodeGetCpuStats>(payload, |(cpu, nparams, flags)| {
            let stats = c.node_get_cpu_stats(cpu, flags)?;
            Ok(node_stats(stats, nparams))
        }),
        p::NODE_GET_CPU_MAP => run::<NodeGetCpuMap>(payload, |(need_map, need_online, flags)| {
            Error::check_flags(ErrorDomain::DOMAIN, flags, 0, "virNodeGetCPUMap")?;
            let cpus = c.node_get_info()?.cpus.max(1) as usize;
            let mut map = vec![0u8; cpus.div_ceil(8)];
            for cpu in 0..cpus {
                map[cpu / 8] |= 1 << (cpu % 8);
            }
            let map = if need_map != 0 { map } else { Vec::new() };
            let online = if need_online != 0 { cpus as u32 } else { 0 };
            Ok((Opaque(map), online, cpus as i32))
        }),
        // No security driver: an empty model, as libvirt reports with security_driver = "none".
        // Without a security driver (NO_SUPPORT) the model is empty, which makes virsh skip
        // the label, as with libvirt's security_driver = "none".
        p::NODE_GET_SECURITY_MODEL => {
            run::<NodeGetSecurityModel>(payload, |()| match c.node_get_security_model() {
                Ok(model) => Ok(SecurityModelRet {
                    model: c_chars(&model.model),
                    doi: c_chars(&model.doi),
                }),
                Err(error) if error.code() == ErrorNumber::NO_SUPPORT => Ok(SecurityModelRet {
                    model: CharArray::default(),
                    doi: CharArray::default(),
                }),
                Err(error) => Err(error),
            })
        }
        p::DOMAIN_GET_SECURITY_LABEL => run::<DomainGetSecurityLabel>(payload, |(dom,)| {
            Ok(security_labels(c, &dom)?
                .into_iter()
                .next()
                .unwrap_or(SecurityLabelRet {
                    label: CharArray::default(),
                    enforcing: 0,
                }))
        }),
        p::DOMAIN_GET_SECURITY_LABEL_LIST => run::<DomainGetSecurityLabelList>(payload, |(dom,)| {
            let labels = security_labels(c, &dom)?;
            let count = labels.len() as i32;
            Ok((labels, count))
        }),
        p::CONNECT_GET_CPU_MODEL_NAMES => {
            run::<ConnectGetCpuModelNames>(payload, |(arch, need, flags)| {
                let models = c.get_cpu_model_names(&arch, flags)?;
                let count = models.len() as i32;
                Ok((if need == 0 { Vec::new() } else { models }, count))
            })
        }
        p::CONNECT_COMPARE_CPU => {
            run::<ConnectCompareCpu>(payload, |(xml, flags)| c.compare_cpu(&xml, flags))
        }
        p::CONNECT_BASELINE_CPU => {
            run::<ConnectBaselineCpu>(payload, |(xmls, flags)| c.baseline_cpu(&xmls, flags))
        }
        p::CONNECT_DOMAIN_XML_TO_NATIVE => {
            run::<ConnectDomainXmlToNative>(payload, |(format, xml, flags)| {
                c.domain_xml_to_native(&format, &xml, flags)
            })
        }
        p::CONNECT_DOMAIN_XML_FROM_NATIVE => {
            run::<ConnectDomainXmlFromNative>(payload, |(format, config, flags)| {
                c.domain_xml_from_native(&format, &config, flags)
            })
        }

        // ---- domains: listing and lookup ----
        p::CONNECT_LIST_ALL_DOMAINS => run::<ConnectListAllDomains>(payload, |(need, flags)| {
            Ok(need_results(
                check_list(
                    listed(c.domain_list_all(flags)?, |x| shown(&x.name, Some(&x.uuid))),
                    DOMAIN_LIST_MAX,
                    "domains",
                )?,
                need,
            ))
        }),
        p::CONNECT_NUM_OF_DOMAINS => run::<ConnectNumOfDomains>(payload, |()| {
            Ok(listed(c.domain_list_all(DOMAINS_ACTIVE)?, |x| {
                shown(&x.name, Some(&x.uuid))
            })
            .len() as i32)
        }),
        p::CONNECT_LIST_DOMAINS => run::<ConnectListDomains>(payload, |(max,)| {
            if max as usize > DOMAIN_LIST_MAX {
                return Err(rpc_error("maxids > REMOTE_DOMAIN_LIST_MAX"));
            }
            Ok(truncated(
                listed(c.domain_list_all(DOMAINS_ACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .into_iter()
                .map(|d| d.id)
                .collect(),
                max,
            ))
        }),
        p::CONNECT_NUM_OF_DEFINED_DOMAINS => run::<ConnectNumOfDefinedDomains>(payload, |()| {
            Ok(listed(c.domain_list_all(DOMAINS_INACTIVE)?, |x| {
                shown(&x.name, Some(&x.uuid))
            })
            .len() as i32)
        }),
        p::CONNECT_LIST_DEFINED_DOMAINS => run::<ConnectListDefinedDomains>(payload, |(max,)| {
            if max as usize > DOMAIN_LIST_MAX {
                return Err(rpc_error("maxnames > REMOTE_DOMAIN_LIST_MAX"));
            }
            Ok(truncated(
                listed(c.domain_list_all(DOMAINS_INACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .into_iter()
                .map(|d| d.name)
                .collect(),
                max,
            ))
        }),
        p::DOMAIN_LOOKUP_BY_ID => {
            run::<DomainLookupById>(payload, |(id,)| c.domain_lookup_by_id(id))
        }
        p::DOMAIN_LOOKUP_BY_NAME => {
            run::<DomainLookupByName>(payload, |(name,)| c.domain_lookup_by_name(&name))
        }
        p::DOMAIN_LOOKUP_BY_UUID => {
            run::<DomainLookupByUuid>(payload, |(uuid,)| c.domain_lookup_by_uuid(&uuid))
        }

        // ---- domains: life cycle ----
        p::DOMAIN_DEFINE_XML => {
            run::<DomainDefineXml>(payload, |(xml,)| c.domain_define_xml(&xml, 0))
        }
        p::DOMAIN_DEFINE_XML_FLAGS => {
            run::<DomainDefineXmlFlags>(payload, |(xml, flags)| c.domain_define_xml(&xml, flags))
        }
        p::DOMAIN_CREATE_XML => {
            run::<DomainCreateXml>(payload, |(xml, flags)| c.domain_create_xml(&xml, flags))
        }
        p::DOMAIN_CREATE => {
            run::<DomainCreate>(payload, |(dom,)| c.domain_create(&dom, 0).map(drop))
        }
        p::DOMAIN_CREATE_WITH_FLAGS => {
            run::<DomainCreateWithFlags>(payload, |(dom, flags)| c.domain_create(&dom, flags))
        }
        p::DOMAIN_DESTROY => run::<DomainDestroy>(payload, |(dom,)| c.domain_destroy(&dom, 0)),
        p::DOMAIN_DESTROY_FLAGS => {
            run::<DomainDestroyFlags>(payload, |(dom, flags)| c.domain_destroy(&dom, flags))
        }
        p::DOMAIN_UNDEFINE => run::<DomainUndefine>(payload, |(dom,)| c.domain_undefine(&dom, 0)),
        p::DOMAIN_UNDEFINE_FLAGS => {
            run::<DomainUndefineFlags>(payload, |(dom, flags)| c.domain_undefine(&dom, flags))
        }
        p::DOMAIN_SHUTDOWN => run::<DomainShutdown>(payload, |(dom,)| c.domain_shutdown(&dom, 0)),
        p::DOMAIN_SHUTDOWN_FLAGS => {
            run::<DomainShutdownFlags>(payload, |(dom, flags)| c.domain_shutdown(&dom, flags))
        }
        p::DOMAIN_REBOOT => {
            run::<DomainReboot>(payload, |(dom, flags)| c.domain_reboot(&dom, flags))
        }
        p::DOMAIN_RESET => run::<DomainReset>(payload, |(dom, flags)| c.domain_reset(&dom, flags)),
        p::DOMAIN_SUSPEND => run::<DomainSuspend>(payload, |(dom,)| c.domain_suspend(&dom)),
        p::DOMAIN_RESUME => run::<DomainResume>(payload, |(dom,)| c.domain_resume(&dom)),
        p::DOMAIN_SAVE => run::<DomainSave>(payload, |(dom, to)| c.domain_save(&dom, &to, None, 0)),
        p::DOMAIN_SAVE_FLAGS => run::<DomainSaveFlags>(payload, |(dom, to, dxml, flags)| {
            c.domain_save(&dom, &to, dxml.as_deref(), flags)
        }),
        p::DOMAIN_RESTORE => {
            run::<DomainRestore>(payload, |(from,)| c.domain_restore(&from, None, 0))
        }
        p::DOMAIN_RESTORE_FLAGS => run::<DomainRestoreFlags>(payload, |(from, dxml, flags)| {
            c.domain_restore(&from, dxml.as_deref(), flags)
        }),
        p::DOMAIN_SAVE_IMAGE_GET_XML_DESC => {
            run::<DomainSaveImageGetXmlDesc>(payload, |(file, flags)| {
                c.domain_save_image_get_xml(&file, flags)
            })
        }
        p::DOMAIN_MANAGED_SAVE => {
            run::<DomainManagedSave>(payload, |(dom, flags)| c.domain_managed_save(&dom, flags))
        }
        p::DOMAIN_MANAGED_SAVE_REMOVE => run::<DomainManagedSaveRemove>(payload, |(dom, flags)| {
            c.domain_managed_save_remove(&dom, flags)
        }),
        p::DOMAIN_HAS_MANAGED_SAVE_IMAGE => {
            run::<DomainHasManagedSaveImage>(payload, |(dom, flags)| {
                Error::check_flags(
                    ErrorDomain::DOMAIN,
                    flags,
                    0,
                    "virDomainHasManagedSaveImage",
                )?;
                Ok(c.domain_get_status(&dom)?.has_managed_save as i32)
            })
        }
        p::DOMAIN_RENAME => run::<DomainRename>(payload, |(dom, new_name, flags)| {
            let new_name = new_name.ok_or_else(|| {
                Error::new(
                    ErrorNumber::INVALID_ARG,
                    ErrorDomain::DOMAIN,
                    "new_name in virDomainRename must not be NULL",
                )
            })?;
            c.domain_rename(&dom, &new_name, flags).map(|_| 0)
        }),

        // ---- domains: state and configuration ----
        p::DOMAIN_GET_INFO => run::<DomainGetInfo>(payload, |(dom,)| {
            let info = c.domain_get_info(&dom)?;
            Ok(DomainInfoRet {
                state: info.state as u32,
                max_mem: info.max_mem_kib,
                memory: info.memory_kib,
                nr_virt_cpu: info.nr_virt_cpu as u32,
                cpu_time: info.cpu_time_ns,
            })
        }),
        p::DOMAIN_GET_STATE => run::<DomainGetState>(payload, |(dom, flags)| {
            let state = c.domain_get_state(&dom, flags)?;
            Ok((state.state, state.reason))
        }),
        p::DOMAIN_IS_ACTIVE => run::<DomainIsActive>(payload, |(dom,)| {
            Ok(c.domain_get_status(&dom)?.active as i32)
        }),
        p::DOMAIN_IS_PERSISTENT => run::<DomainIsPersistent>(payload, |(dom,)| {
            Ok(c.domain_get_status(&dom)?.persistent as i32)
        }),
        p::DOMAIN_IS_UPDATED => run::<DomainIsUpdated>(payload, |(dom,)| {
            Ok(c.domain_get_status(&dom)?.updated as i32)
        }),
        p::DOMAIN_GET_AUTOSTART => run::<DomainGetAutostart>(payload, |(dom,)| {
            Ok(c.domain_get_status(&dom)?.autostart as i32)
        }),
        p::DOMAIN_SET_AUTOSTART => run::<DomainSetAutostart>(payload, |(dom, autostart)| {
            c.domain_set_autostart(&dom, autostart != 0)
        }),
        p::DOMAIN_GET_XML_DESC => {
            run::<DomainGetXmlDesc>(payload, |(dom, flags)| c.domain_get_xml(&dom, flags))
        }
        p::DOMAIN_GET_OS_TYPE => {
            run::<DomainGetOsType>(payload, |(dom,)| c.domain_get_os_type(&dom))
        }
        p::DOMAIN_GET_HOSTNAME => {
            run::<DomainGetHostname>(payload, |(dom, flags)| c.domain_get_hostname(&dom, flags))
        }
        p::DOMAIN_GET_MAX_MEMORY => {
            run::<DomainGetMaxMemory>(payload, |(dom,)| c.domain_get_max_memory(&dom))
        }
        p::DOMAIN_SET_MAX_MEMORY => {
            run::<DomainSetMaxMemory>(payload, |(dom, kib)| c.domain_set_max_memory(&dom, kib))
        }
        p::DOMAIN_SET_MEMORY => run::<DomainSetMemory>(payload, |(dom, kib)| {
            c.domain_set_memory(
                &dom,
                kib,
                virt_core::consts::domain_modification_impact::LIVE,
            )
        }),
        p::DOMAIN_SET_MEMORY_FLAGS => run::<DomainSetMemoryFlags>(payload, |(dom, kib, flags)| {
            c.domain_set_memory(&dom, kib, flags)
        }),
        p::DOMAIN_GET_VCPUS_FLAGS => {
            run::<DomainGetVcpusFlags>(payload, |(dom, flags)| c.domain_get_vcpus(&dom, flags))
        }
        p::DOMAIN_SET_VCPUS => run::<DomainSetVcpus>(payload, |(dom, count)| {
            c.domain_set_vcpus(
                &dom,
                count,
                virt_core::consts::domain_modification_impact::LIVE,
            )
        }),
        p::DOMAIN_SET_VCPUS_FLAGS => run::<DomainSetVcpusFlags>(payload, |(dom, count, flags)| {
            c.domain_set_vcpus(&dom, count, flags)
        }),
        p::DOMAIN_GET_MAX_VCPUS => {
            run::<DomainGetMaxVcpus>(payload, |(dom,)| c.domain_get_max_vcpus(&dom))
        }
        p::DOMAIN_GET_SCHEDULER_TYPE => {
            run::<DomainGetSchedulerType>(payload, |(dom,)| c.domain_get_scheduler_type(&dom))
        }
        p::DOMAIN_GET_SCHEDULER_PARAMETERS => {
            run::<DomainGetSchedulerParameters>(payload, |(dom, nparams)| {
                let params = typed_params_for(c.domain_get_scheduler_params(&dom, 0)?, 0);
                Ok(truncated(params, nparams))
            })
        }
        p::DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS => {
            run::<DomainGetSchedulerParametersFlags>(payload, |(dom, nparams, flags)| {
                let params = typed_params_for(c.domain_get_scheduler_params(&dom, flags)?, flags);
                Ok(truncated(params, nparams))
            })
        }
        p::DOMAIN_SET_SCHEDULER_PARAMETERS => {
            run::<DomainSetSchedulerParameters>(payload, |(dom, params)| {
                c.domain_set_scheduler_params(&dom, &params, 0)
            })
        }
        p::DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS => {
            run::<DomainSetSchedulerParametersFlags>(payload, |(dom, params, flags)| {
                c.domain_set_scheduler_params(&dom, &params, flags)
            })
        }
        p::DOMAIN_GET_METADATA => run::<DomainGetMetadata>(payload, |(dom, kind, uri, flags)| {
            c.domain_get_metadata(&dom, kind, uri.as_deref(), flags)
        }),
        p::DOMAIN_SET_METADATA => {
            run::<DomainSetMetadata>(payload, |(dom, kind, metadata, key, uri, flags)| {
                c.domain_set_metadata(
                    &dom,
                    kind,
                    metadata.as_deref(),
                    key.as_deref(),
                    uri.as_deref(),
                    flags,
                )
            })
        }
        p::DOMAIN_GET_MESSAGES => run::<DomainGetMessages>(payload, |(dom, flags)| {
            c.domain_get_state(&dom, 0)?;
            let _ = flags;
            Ok(Vec::new())
        }),

        // ---- domains: statistics ----
        p::CONNECT_GET_ALL_DOMAIN_STATS => {
            run::<ConnectGetAllDomainStats>(payload, |(doms, stats, flags)| {
                Ok(c.domain_get_stats(&doms, stats, flags)?
                    .into_iter()
                    .filter(|(dom, _)| shown(&dom.name, Some(&dom.uuid)))
                    .map(|(dom, params)| DomainStatsRecord {
                        dom,
                        params: typed_params_for(params, TYPED_PARAM_STRING_OKAY),
                    })
                    .collect())
            })
        }
        p::DOMAIN_BLOCK_STATS_FLAGS => {
            run::<DomainBlockStatsFlags>(payload, |(dom, path, nparams, flags)| {
                let params = typed_params_for(c.domain_block_stats(&dom, &path, flags)?, flags);
                Ok(counted(params, nparams))
            })
        }
        p::DOMAIN_BLOCK_STATS => run::<DomainBlockStats>(payload, |(dom, path)| {
            let params = c.domain_block_stats(&dom, &path, 0)?;
            Ok((
                param_i64(&params, "rd_operations"),
                param_i64(&params, "rd_bytes"),
                param_i64(&params, "wr_operations"),
                param_i64(&params, "wr_bytes"),
                param_i64(&params, "errs"),
            ))
        }),
        p::DOMAIN_INTERFACE_STATS => run::<DomainInterfaceStats>(payload, |(dom, device)| {
            let params = c.domain_interface_stats(&dom, &device)?;
            let get = |name: &str| param_i64(&params, name);
            Ok((
                get("rx_bytes"),
                get("rx_packets"),
                get("rx_errs"),
                get("rx_drop"),
                get("tx_bytes"),
                get("tx_packets"),
                get("tx_errs"),
                get("tx_drop"),
            ))
        }),
        p::DOMAIN_MEMORY_STATS => run::<DomainMemoryStats>(payload, |(dom, max_stats, flags)| {
            if max_stats > 1024 {
                return Err(rpc_error("maxStats > REMOTE_DOMAIN_MEMORY_STATS_MAX"));
            }
            let stats = c.domain_memory_stats(&dom, max_stats, flags)?;
            Ok(truncated(
                stats
                    .into_iter()
                    .map(|(tag, val)| MemoryStat { tag, val })
                    .collect(),
                max_stats as i32,
            ))
        }),

        // ---- domains: devices and guest access ----
        p::DOMAIN_BLOCK_RESIZE => run::<DomainBlockResize>(payload, |(dom, disk, size, flags)| {
            c.domain_block_resize(&dom, &disk, size, flags)
        }),
        p::DOMAIN_ATTACH_DEVICE => run::<DomainAttachDevice>(payload, |(dom, xml)| {
            c.domain_attach_device(
                &dom,
                &xml,
                virt_core::consts::domain_modification_impact::LIVE,
            )
        }),
        p::DOMAIN_ATTACH_DEVICE_FLAGS => {
            run::<DomainAttachDeviceFlags>(payload, |(dom, xml, flags)| {
                c.domain_attach_device(&dom, &xml, flags)
            })
        }
        p::DOMAIN_DETACH_DEVICE => run::<DomainDetachDevice>(payload, |(dom, xml)| {
            c.domain_detach_device(
                &dom,
                &xml,
                virt_core::consts::domain_modification_impact::LIVE,
            )
        }),
        p::DOMAIN_DETACH_DEVICE_FLAGS => {
            run::<DomainDetachDeviceFlags>(payload, |(dom, xml, flags)| {
                c.domain_detach_device(&dom, &xml, flags)
            })
        }
        p::DOMAIN_DETACH_DEVICE_ALIAS => {
            run::<DomainDetachDeviceAlias>(payload, |(dom, alias, flags)| {
                c.domain_detach_device_alias(&dom, &alias, flags)
            })
        }
        p::DOMAIN_UPDATE_DEVICE_FLAGS => {
            run::<DomainUpdateDeviceFlags>(payload, |(dom, xml, flags)| {
                c.domain_update_device(&dom, &xml, flags)
            })
        }
        p::DOMAIN_SEND_KEY => {
            run::<DomainSendKey>(payload, |(dom, codeset, holdtime, keys, flags)| {
                if keys.len() > 16 {
                    return Err(rpc_error("nkeycodes > REMOTE_DOMAIN_SEND_KEY_MAX"));
                }
                c.domain_send_key(&dom, codeset, holdtime, &keys, flags)
            })
        }
        p::DOMAIN_INJECT_NMI => {
            run::<DomainInjectNmi>(payload, |(dom, flags)| c.domain_inject_nmi(&dom, flags))
        }
        p::DOMAIN_OPEN_CONSOLE => {
            let (dom, dev_name, flags) =
                decode_args::<<DomainOpenConsole as Procedure>::Args>(payload)?;
            let force = flags & 1 != 0;
            stream::check_console(client, &dom.uuid, force)?;
            let fd = c.domain_open_console_stream(&dom, dev_name.as_deref(), flags)?;
            let start = StreamStart::Console {
                fd,
                domain: dom.uuid,
            };
            Ok(Reply {
                payload: Vec::new(),
                body_at: 0,
                stream: Some(start),
            })
        }

        // ---- domains: tunables, guest and job information ----
        p::DOMAIN_GET_MEMORY_PARAMETERS => {
            run::<DomainGetMemoryParameters>(payload, |(dom, nparams, flags)| {
                get_parameters(c, &dom, ParameterSet::Memory, None, nparams, flags)
            })
        }
        p::DOMAIN_SET_MEMORY_PARAMETERS => {
            run::<DomainSetMemoryParameters>(payload, |(dom, params, flags)| {
                c.domain_set_parameters(&dom, ParameterSet::Memory, None, &params, flags)
            })
        }
        p::DOMAIN_GET_BLKIO_PARAMETERS => {
            run::<DomainGetBlkioParameters>(payload, |(dom, nparams, flags)| {
                get_parameters(c, &dom, ParameterSet::Blkio, None, nparams, flags)
            })
        }
        p::DOMAIN_SET_BLKIO_PARAMETERS => {
            run::<DomainSetBlkioParameters>(payload, |(dom, params, flags)| {
                c.domain_set_parameters(&dom, ParameterSet::Blkio, None, &params, flags)
            })
        }
        p::DOMAIN_GET_NUMA_PARAMETERS => {
            run::<DomainGetNumaParameters>(payload, |(dom, nparams, flags)| {
                get_parameters(c, &dom, ParameterSet::Numa, None, nparams, flags)
            })
        }
        p::DOMAIN_SET_NUMA_PARAMETERS => {
            run::<DomainSetNumaParameters>(payload, |(dom, params, flags)| {
                c.domain_set_parameters(&dom, ParameterSet::Numa, None, &params, flags)
            })
        }
        p::DOMAIN_GET_INTERFACE_PARAMETERS => {
            run::<DomainGetInterfaceParameters>(payload, |(dom, device, nparams, flags)| {
                get_parameters(
                    c,
                    &dom,
                    ParameterSet::Interface,
                    Some(&device),
                    nparams,
                    flags,
                )
            })
        }
        p::DOMAIN_SET_INTERFACE_PARAMETERS => {
            run::<DomainSetInterfaceParameters>(payload, |(dom, device, params, flags)| {
                c.domain_set_parameters(
                    &dom,
                    ParameterSet::Interface,
                    Some(&device),
                    &params,
                    flags,
                )
            })
        }
        p::DOMAIN_GET_BLOCK_IO_TUNE => {
            run::<DomainGetBlockIoTune>(payload, |(dom, disk, nparams, flags)| {
                get_parameters(
                    c,
                    &dom,
                    ParameterSet::BlockIoTune,
                    disk.as_deref(),
                    nparams,
                    flags,
                )
            })
        }
        p::DOMAIN_SET_BLOCK_IO_TUNE => {
            run::<DomainSetBlockIoTune>(payload, |(dom, disk, params, flags)| {
                c.domain_set_parameters(
                    &dom,
                    ParameterSet::BlockIoTune,
                    Some(&disk),
                    &params,
                    flags,
                )
            })
        }
        p::DOMAIN_GET_PERF_EVENTS => run::<DomainGetPerfEvents>(payload, |(dom, flags)| {
            c.domain_get_parameters(&dom, ParameterSet::PerfEvents, None, flags)
        }),
        p::DOMAIN_SET_PERF_EVENTS => run::<DomainSetPerfEvents>(payload, |(dom, params, flags)| {
            c.domain_set_parameters(&dom, ParameterSet::PerfEvents, None, &params, flags)
        }),
        p::DOMAIN_GET_LAUNCH_SECURITY_INFO => {
            run::<DomainGetLaunchSecurityInfo>(payload, |(dom, flags)| {
                c.domain_get_parameters(&dom, ParameterSet::LaunchSecurity, None, flags)
            })
        }
        // The `types` bitmask travels to the driver as the "device" of the guest-info family.
        p::DOMAIN_GET_GUEST_INFO => run::<DomainGetGuestInfo>(payload, |(dom, types, flags)| {
            c.domain_get_parameters(
                &dom,
                ParameterSet::GuestInfo,
                Some(&types.to_string()),
                flags,
            )
        }),
        p::DOMAIN_GET_BLOCK_INFO => run::<DomainGetBlockInfo>(payload, |(dom, path, flags)| {
            let info = c.domain_get_block_info(&dom, &path, flags)?;
            Ok((info.allocation, info.capacity, info.physical))
        }),
        p::DOMAIN_GET_VCPUS => run::<DomainGetVcpus>(payload, |(dom, max_info, map_len)| {
            if max_info < 0 || max_info as usize > 16_384 {
                return Err(rpc_error("maxinfo > REMOTE_VCPUINFO_MAX"));
            }
            if map_len < 0 || (max_info as usize).saturating_mul(map_len as usize) > 8_388_608 {
                return Err(rpc_error("maxinfo * maplen > REMOTE_CPUMAPS_MAX"));
            }
            let vcpus = truncated(c.domain_get_vcpu_info(&dom)?, max_info);
            let mut maps = Vec::with_capacity(vcpus.len() * map_len as usize);
            for vcpu in &vcpus {
                maps.extend(fit_map(&vcpu.cpumap, map_len as usize));
            }
            let info = vcpus
                .into_iter()
                .map(|v| VcpuInfo {
                    number: v.number,
                    state: v.state,
                    cpu_time: v.cpu_time_ns,
                    cpu: v.cpu,
                })
                .collect();
            Ok((info, Opaque(maps)))
        }),
        p::DOMAIN_GET_VCPU_PIN_INFO => {
            run::<DomainGetVcpuPinInfo>(payload, |(dom, ncpumaps, map_len, _flags)| {
                if ncpumaps < 0
                    || map_len < 0
                    || (ncpumaps as usize).saturating_mul(map_len as usize) > 8_388_608
                {
                    return Err(rpc_error("ncpumaps * maplen > REMOTE_CPUMAPS_MAX"));
                }
                let vcpus = truncated(c.domain_get_vcpu_info(&dom)?, ncpumaps);
                let mut maps = Vec::new();
                for vcpu in &vcpus {
                    maps.extend(fit_map(&vcpu.cpumap, map_len as usize));
                }
                Ok((Opaque(maps), vcpus.len() as i32))
            })
        }
        p::DOMAIN_PIN_VCPU => run::<DomainPinVcpu>(payload, |(dom, vcpu, map)| {
            c.domain_pin_vcpu(
                &dom,
                vcpu,
                &map.0,
                virt_core::consts::domain_modification_impact::LIVE,
            )
        }),
        p::DOMAIN_PIN_VCPU_FLAGS => {
            run::<DomainPinVcpuFlags>(payload, |(dom, vcpu, map, flags)| {
                c.domain_pin_vcpu(&dom, vcpu, &map.0, flags)
            })
        }
        p::DOMAIN_INTERFACE_ADDRESSES => {
            run::<DomainInterfaceAddresses>(payload, |(dom, source, flags)| {
                Ok(c.domain_interface_addresses(&dom, source, flags)?
                    .into_iter()
                    .map(|iface| GuestIface {
                        name: iface.name,
                        hwaddr: iface.hwaddr,
                        addrs: iface
                            .addresses
                            .into_iter()
                            .map(|a| IpAddr {
                                kind: a.kind,
                                addr: a.address,
                                prefix: a.prefix,
                            })
                            .collect(),
                    })
                    .collect())
            })
        }
        p::DOMAIN_GET_JOB_STATS => run::<DomainGetJobStats>(payload, |(dom, flags)| {
            let stats = c.domain_get_job_stats(&dom, flags)?;
            Ok((stats.kind, stats.params))
        }),
        // ---- migration ----
        p::DOMAIN_MIGRATE_BEGIN3_PARAMS => {
            run::<DomainMigrateBegin3Params>(payload, |(dom, params, flags)| {
                let begun = c.domain_migrate_begin(&dom, &params, flags)?;
                Ok((Opaque(begun.cookie), begun.xml))
            })
        }
        p::DOMAIN_MIGRATE_PREPARE3_PARAMS => {
            run::<DomainMigratePrepare3Params>(payload, |(params, cookie, flags)| {
                let prepared = c.domain_migrate_prepare(&params, &cookie.0, flags)?;
                Ok((Opaque(prepared.cookie), prepared.uri))
            })
        }
        p::DOMAIN_MIGRATE_PERFORM3_PARAMS => {
            run::<DomainMigratePerform3Params>(payload, |(dom, dconnuri, params, cookie, flags)| {
                use virt_core::consts::domain_migrate_flags::PEER2PEER;
                match dconnuri.as_deref() {
                    // The daemon is the source's peer: it opens the destination through
                    // the remote protocol (never through the registry, which holds no
                    // remote driver in rvirtd) and runs every phase.
                    Some(dconnuri) if flags & PEER2PEER != 0 => {
                        virt_core::migration::peer_to_peer(
                            c,
                            &dom,
                            dconnuri,
                            &params,
                            flags,
                            |uri| {
                                let dest = crate::client::open(uri, 0)?;
                                Ok(Arc::new(dest) as Arc<dyn Connection>)
                            },
                        )?;
                        Ok(Opaque(Vec::new()))
                    }
                    _ => c
                        .domain_migrate_perform(
                            &dom,
                            dconnuri.as_deref(),
                            &params,
                            &cookie.0,
                            flags,
                        )
                        .map(Opaque),
                }
            })
        }
        p::DOMAIN_MIGRATE_FINISH3_PARAMS => {
            run::<DomainMigrateFinish3Params>(payload, |(params, cookie, flags, cancelled)| {
                let (dom, cookie) =
                    c.domain_migrate_finish(&params, &cookie.0, flags, cancelled != 0)?;
                Ok((dom, Opaque(cookie)))
            })
        }
        p::DOMAIN_MIGRATE_CONFIRM3_PARAMS => run::<DomainMigrateConfirm3Params>(
            payload,
            |(dom, params, cookie, flags, cancelled)| {
                c.domain_migrate_confirm(&dom, &params, &cookie.0, flags, cancelled != 0)
            },
        ),
        p::DOMAIN_MIGRATE_SET_MAX_SPEED => {
            run::<DomainMigrateSetMaxSpeed>(payload, |(dom, bandwidth, flags)| {
                c.domain_migrate_set_max_speed(&dom, bandwidth, flags)
            })
        }
        p::DOMAIN_MIGRATE_GET_MAX_SPEED => {
            run::<DomainMigrateGetMaxSpeed>(payload, |(dom, flags)| {
                c.domain_migrate_get_max_speed(&dom, flags)
            })
        }
        p::DOMAIN_MIGRATE_SET_MAX_DOWNTIME => {
            run::<DomainMigrateSetMaxDowntime>(payload, |(dom, downtime, flags)| {
                c.domain_migrate_set_max_downtime(&dom, downtime, flags)
            })
        }
        p::DOMAIN_MIGRATE_GET_MAX_DOWNTIME => {
            run::<DomainMigrateGetMaxDowntime>(payload, |(dom, flags)| {
                c.domain_migrate_get_max_downtime(&dom, flags)
            })
        }
        p::DOMAIN_MIGRATE_START_POST_COPY => {
            run::<DomainMigrateStartPostCopy>(payload, |(dom, flags)| {
                c.domain_migrate_start_post_copy(&dom, flags)
            })
        }
        p::DOMAIN_GET_JOB_INFO => run::<DomainGetJobInfo>(payload, |(dom,)| {
            let stats = c.domain_get_job_stats(&dom, 0)?;
            let get = |name: &str| param_i64(&stats.params, name).max(0) as u64;
            Ok(JobInfoRet {
                kind: stats.kind,
                time_elapsed: get("time_elapsed"),
                time_remaining: get("time_remaining"),
                data_total: get("data_total"),
                data_processed: get("data_processed"),
                data_remaining: get("data_remaining"),
                mem_total: get("memory_total"),
                mem_processed: get("memory_processed"),
                mem_remaining: get("memory_remaining"),
                file_total: get("disk_total"),
                file_processed: get("disk_processed"),
                file_remaining: get("disk_remaining"),
            })
        }),
        p::DOMAIN_ABORT_JOB => run::<DomainAbortJob>(payload, |(dom,)| c.domain_abort_job(&dom, 0)),
        p::DOMAIN_ABORT_JOB_FLAGS => {
            run::<DomainAbortJobFlags>(payload, |(dom, flags)| c.domain_abort_job(&dom, flags))
        }
        p::DOMAIN_CORE_DUMP => run::<DomainCoreDump>(payload, |(dom, to, flags)| {
            c.domain_core_dump(&dom, &to, 0, flags)
        }),
        p::DOMAIN_CORE_DUMP_WITH_FORMAT => {
            run::<DomainCoreDumpWithFormat>(payload, |(dom, to, format, flags)| {
                c.domain_core_dump(&dom, &to, format, flags)
            })
        }
        p::DOMAIN_SET_LIFECYCLE_ACTION => {
            run::<DomainSetLifecycleAction>(payload, |(dom, kind, action, flags)| {
                c.domain_set_lifecycle_action(&dom, kind, action, flags)
            })
        }
        p::DOMAIN_GET_TIME => {
            run::<DomainGetTime>(payload, |(dom, flags)| c.domain_get_time(&dom, flags))
        }
        p::DOMAIN_SET_TIME => run::<DomainSetTime>(payload, |(dom, seconds, nseconds, flags)| {
            c.domain_set_time(&dom, seconds, nseconds, flags)
        }),
        p::DOMAIN_FSFREEZE => run::<DomainFsFreeze>(payload, |(dom, mountpoints, flags)| {
            c.domain_fs_freeze(&dom, &mountpoints, flags)
        }),
        p::DOMAIN_FSTHAW => run::<DomainFsThaw>(payload, |(dom, mountpoints, flags)| {
            c.domain_fs_thaw(&dom, &mountpoints, flags)
        }),
        p::DOMAIN_GET_DISK_ERRORS => {
            run::<DomainGetDiskErrors>(payload, |(dom, max_errors, flags)| {
                let errors = c.domain_get_disk_errors(&dom, flags)?;
                let count = errors.len() as i32;
                if max_errors == 0 {
                    return Ok((Vec::new(), count));
                }
                let errors: Vec<DiskError> = errors
                    .into_iter()
                    .take(max_errors as usize)
                    .map(|(disk, error)| DiskError { disk, error })
                    .collect();
                let n = errors.len() as i32;
                Ok((errors, n))
            })
        }

        // ---- snapshots ----
        p::DOMAIN_SNAPSHOT_CREATE_XML => {
            run::<DomainSnapshotCreateXml>(payload, |(dom, xml, flags)| {
                let name = c.snapshot_create_xml(&dom, &xml, flags)?;
                Ok(SnapshotRef { name, dom })
            })
        }
        p::DOMAIN_SNAPSHOT_GET_XML_DESC => {
            run::<DomainSnapshotGetXmlDesc>(payload, |(snap, flags)| {
                c.snapshot_get_xml(&snap.dom, &snap.name, flags)
            })
        }
        p::DOMAIN_SNAPSHOT_NUM => run::<DomainSnapshotNum>(payload, |(dom, flags)| {
            Ok(c.snapshot_list_all(&dom, flags)?.len() as i32)
        }),
        p::DOMAIN_SNAPSHOT_LIST_NAMES => {
            run::<DomainSnapshotListNames>(payload, |(dom, max, flags)| {
                Ok(truncated(c.snapshot_list_all(&dom, flags)?, max))
            })
        }
        p::DOMAIN_LIST_ALL_SNAPSHOTS => {
            run::<DomainListAllSnapshots>(payload, |(dom, need, flags)| {
                let names = c.snapshot_list_all(&dom, flags)?;
                let count = names.len() as i32;
                let snaps = if need == 0 {
                    Vec::new()
                } else {
                    names
                        .into_iter()
                        .map(|name| SnapshotRef {
                            name,
                            dom: dom.clone(),
                        })
                        .collect()
                };
                Ok((snaps, count))
            })
        }
        p::DOMAIN_SNAPSHOT_NUM_CHILDREN => {
            run::<DomainSnapshotNumChildren>(payload, |(snap, flags)| {
                Ok(c.snapshot_list_children(&snap.dom, &snap.name, flags)?
                    .len() as i32)
            })
        }
        p::DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES => {
            run::<DomainSnapshotListChildrenNames>(payload, |(snap, max, flags)| {
                Ok(truncated(
                    c.snapshot_list_children(&snap.dom, &snap.name, flags)?,
                    max,
                ))
            })
        }
        p::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN => {
            run::<DomainSnapshotListAllChildren>(payload, |(snap, need, flags)| {
                let names = c.snapshot_list_children(&snap.dom, &snap.name, flags)?;
                let count = names.len() as i32;
                let snaps = if need == 0 {
                    Vec::new()
                } else {
                    names
                        .into_iter()
                        .map(|name| SnapshotRef {
                            name,
                            dom: snap.dom.clone(),
                        })
                        .collect()
                };
                Ok((snaps, count))
            })
        }
        p::DOMAIN_SNAPSHOT_LOOKUP_BY_NAME => {
            run::<DomainSnapshotLookupByName>(payload, |(dom, name, flags)| {
                let name = c.snapshot_lookup_by_name(&dom, &name, flags)?;
                Ok(SnapshotRef { name, dom })
            })
        }
        p::DOMAIN_HAS_CURRENT_SNAPSHOT => {
            run::<DomainHasCurrentSnapshot>(payload, |(dom, flags)| {
                Ok(c.snapshot_has_current(&dom, flags)? as i32)
            })
        }
        p::DOMAIN_SNAPSHOT_GET_PARENT => {
            run::<DomainSnapshotGetParent>(payload, |(snap, flags)| {
                let name = c.snapshot_get_parent(&snap.dom, &snap.name, flags)?;
                Ok(SnapshotRef {
                    name,
                    dom: snap.dom,
                })
            })
        }
        p::DOMAIN_SNAPSHOT_CURRENT => run::<DomainSnapshotCurrent>(payload, |(dom, flags)| {
            let name = c.snapshot_current(&dom, flags)?;
            Ok(SnapshotRef { name, dom })
        }),
        p::DOMAIN_SNAPSHOT_IS_CURRENT => {
            run::<DomainSnapshotIsCurrent>(payload, |(snap, flags)| {
                Ok(c.snapshot_is_current(&snap.dom, &snap.name, flags)? as i32)
            })
        }
        p::DOMAIN_SNAPSHOT_HAS_METADATA => {
            run::<DomainSnapshotHasMetadata>(payload, |(snap, flags)| {
                Ok(c.snapshot_has_metadata(&snap.dom, &snap.name, flags)? as i32)
            })
        }
        p::DOMAIN_REVERT_TO_SNAPSHOT => run::<DomainRevertToSnapshot>(payload, |(snap, flags)| {
            c.snapshot_revert(&snap.dom, &snap.name, flags)
        }),
        p::DOMAIN_SNAPSHOT_DELETE => run::<DomainSnapshotDelete>(payload, |(snap, flags)| {
            c.snapshot_delete(&snap.dom, &snap.name, flags)
        }),

        // ---- networks ----
        p::CONNECT_LIST_ALL_NETWORKS => run::<ConnectListAllNetworks>(payload, |(need, flags)| {
            Ok(need_results(
                check_list(
                    listed(c.network_list_all(flags)?, |x| {
                        shown(&x.name, Some(&x.uuid))
                    }),
                    DOMAIN_LIST_MAX,
                    "networks",
                )?,
                need,
            ))
        }),
        p::CONNECT_NUM_OF_NETWORKS => run::<ConnectNumOfNetworks>(payload, |()| {
            Ok(listed(c.network_list_all(OBJECTS_ACTIVE)?, |x| {
                shown(&x.name, Some(&x.uuid))
            })
            .len() as i32)
        }),
        p::CONNECT_LIST_NETWORKS => run::<ConnectListNetworks>(payload, |(max,)| {
            Ok(truncated(
                listed(c.network_list_all(OBJECTS_ACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .into_iter()
                .map(|n| n.name)
                .collect(),
                max,
            ))
        }),
        p::CONNECT_NUM_OF_DEFINED_NETWORKS => run::<ConnectNumOfDefinedNetworks>(payload, |()| {
            Ok(listed(c.network_list_all(OBJECTS_INACTIVE)?, |x| {
                shown(&x.name, Some(&x.uuid))
            })
            .len() as i32)
        }),
        p::CONNECT_LIST_DEFINED_NETWORKS => run::<ConnectListDefinedNetworks>(payload, |(max,)| {
            Ok(truncated(
                listed(c.network_list_all(OBJECTS_INACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .into_iter()
                .map(|n| n.name)
                .collect(),
                max,
            ))
        }),
        p::NETWORK_LOOKUP_BY_NAME => {
            run::<NetworkLookupByName>(payload, |(name,)| c.network_lookup_by_name(&name))
        }
        p::NETWORK_LOOKUP_BY_UUID => {
            run::<NetworkLookupByUuid>(payload, |(uuid,)| c.network_lookup_by_uuid(&uuid))
        }
        p::NETWORK_DEFINE_XML => {
            run::<NetworkDefineXml>(payload, |(xml,)| c.network_define_xml(&xml, 0))
        }
        p::NETWORK_DEFINE_XML_FLAGS => {
            run::<NetworkDefineXmlFlags>(payload, |(xml, flags)| c.network_define_xml(&xml, flags))
        }
        p::NETWORK_CREATE_XML => {
            run::<NetworkCreateXml>(payload, |(xml,)| c.network_create_xml(&xml, 0))
        }
        p::NETWORK_CREATE_XML_FLAGS => {
            run::<NetworkCreateXmlFlags>(payload, |(xml, flags)| c.network_create_xml(&xml, flags))
        }
        p::NETWORK_CREATE => run::<NetworkCreate>(payload, |(net,)| c.network_create(&net)),
        p::NETWORK_DESTROY => run::<NetworkDestroy>(payload, |(net,)| c.network_destroy(&net)),
        p::NETWORK_UNDEFINE => run::<NetworkUndefine>(payload, |(net,)| c.network_undefine(&net)),
        p::NETWORK_GET_XML_DESC => {
            run::<NetworkGetXmlDesc>(payload, |(net, flags)| c.network_get_xml(&net, flags))
        }
        p::NETWORK_GET_AUTOSTART => run::<NetworkGetAutostart>(payload, |(net,)| {
            Ok(c.network_get_status(&net)?.autostart as i32)
        }),
        p::NETWORK_SET_AUTOSTART => run::<NetworkSetAutostart>(payload, |(net, autostart)| {
            c.network_set_autostart(&net, autostart != 0)
        }),
        p::NETWORK_GET_BRIDGE_NAME => {
            run::<NetworkGetBridgeName>(payload, |(net,)| c.network_get_bridge_name(&net))
        }
        p::NETWORK_IS_ACTIVE => run::<NetworkIsActive>(payload, |(net,)| {
            Ok(c.network_get_status(&net)?.active as i32)
        }),
        p::NETWORK_IS_PERSISTENT => run::<NetworkIsPersistent>(payload, |(net,)| {
            Ok(c.network_get_status(&net)?.persistent as i32)
        }),
        p::NETWORK_UPDATE => {
            run::<NetworkUpdate>(payload, |(net, command, section, parent, xml, flags)| {
                c.network_update(&net, command, section, parent, &xml, flags)
            })
        }
        p::NETWORK_GET_DHCP_LEASES => {
            run::<NetworkGetDhcpLeases>(payload, |(net, mac, need, flags)| {
                let leases = c.network_get_dhcp_leases(&net, mac.as_deref(), flags)?;
                let leases = check_list(leases, NETWORK_DHCP_LEASES_MAX, "DHCP leases")?;
                Ok(need_results(
                    leases
                        .into_iter()
                        .map(|lease| DhcpLease {
                            iface: lease.iface,
                            expirytime: lease.expiry_time,
                            kind: lease.kind,
                            mac: lease.mac,
                            iaid: lease.iaid,
                            ipaddr: lease.address,
                            prefix: lease.prefix,
                            hostname: lease.hostname,
                            clientid: lease.client_id,
                        })
                        .collect(),
                    need,
                ))
            })
        }

        // ---- storage pools ----
        p::CONNECT_LIST_ALL_STORAGE_POOLS => {
            run::<ConnectListAllStoragePools>(payload, |(need, flags)| {
                Ok(need_results(
                    check_list(
                        listed(c.pool_list_all(flags)?, |x| shown(&x.name, Some(&x.uuid))),
                        DOMAIN_LIST_MAX,
                        "storage pools",
                    )?,
                    need,
                ))
            })
        }
        p::CONNECT_NUM_OF_STORAGE_POOLS => run::<ConnectNumOfStoragePools>(payload, |()| {
            Ok(listed(c.pool_list_all(OBJECTS_ACTIVE)?, |x| {
                shown(&x.name, Some(&x.uuid))
            })
            .len() as i32)
        }),
        p::CONNECT_LIST_STORAGE_POOLS => run::<ConnectListStoragePools>(payload, |(max,)| {
            Ok(truncated(
                listed(c.pool_list_all(OBJECTS_ACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .into_iter()
                .map(|x| x.name)
                .collect(),
                max,
            ))
        }),
        p::CONNECT_NUM_OF_DEFINED_STORAGE_POOLS => {
            run::<ConnectNumOfDefinedStoragePools>(payload, |()| {
                Ok(listed(c.pool_list_all(OBJECTS_INACTIVE)?, |x| {
                    shown(&x.name, Some(&x.uuid))
                })
                .len() as i32)
            })
        }
        p::CONNECT_LIST_DEFINED_STORAGE_POOLS => {
            run::<ConnectListDefinedStoragePools>(payload, |(max,)| {
                Ok(truncated(
                    listed(c.pool_list_all(OBJECTS_INACTIVE)?, |x| {
                        shown(&x.name, Some(&x.uuid))
                    })
                    .into_iter()
                    .map(|x| x.name)
                    .collect(),
                    max,
                ))
            })
        }
        p::CONNECT_FIND_STORAGE_POOL_SOURCES => {
            run::<ConnectFindStoragePoolSources>(payload, |(kind, spec, flags)| {
                c.pool_find_sources(&kind, spec.as_deref(), flags)
            })
        }
        p::STORAGE_POOL_LOOKUP_BY_NAME => {
            run::<StoragePoolLookupByName>(payload, |(name,)| c.pool_lookup_by_name(&name))
        }
        p::STORAGE_POOL_LOOKUP_BY_UUID => {
            run::<StoragePoolLookupByUuid>(payload, |(uuid,)| c.pool_lookup_by_uuid(&uuid))
        }
        p::STORAGE_POOL_LOOKUP_BY_VOLUME => {
            run::<StoragePoolLookupByVolume>(payload, |(vol,)| c.pool_lookup_by_volume(&vol))
        }
        p::STORAGE_POOL_DEFINE_XML => {
            run::<StoragePoolDefineXml>(payload, |(xml, flags)| c.pool_define_xml(&xml, flags))
        }
        p::STORAGE_POOL_CREATE_XML => {
            run::<StoragePoolCreateXml>(payload, |(xml, flags)| c.pool_create_xml(&xml, flags))
        }
        p::STORAGE_POOL_CREATE => {
            run::<StoragePoolCreate>(payload, |(pool, flags)| c.pool_create(&pool, flags))
        }
        p::STORAGE_POOL_BUILD => {
            run::<StoragePoolBuild>(payload, |(pool, flags)| c.pool_build(&pool, flags))
        }
        p::STORAGE_POOL_DESTROY => {
            run::<StoragePoolDestroy>(payload, |(pool,)| c.pool_destroy(&pool))
        }
        p::STORAGE_POOL_DELETE => {
            run::<StoragePoolDelete>(payload, |(pool, flags)| c.pool_delete(&pool, flags))
        }
        p::STORAGE_POOL_UNDEFINE => {
            run::<StoragePoolUndefine>(payload, |(pool,)| c.pool_undefine(&pool))
        }
        p::STORAGE_POOL_REFRESH => {
            run::<StoragePoolRefresh>(payload, |(pool, flags)| c.pool_refresh(&pool, flags))
        }
        p::STORAGE_POOL_GET_INFO => run::<StoragePoolGetInfo>(payload, |(pool,)| {
            let info = c.pool_get_info(&pool)?;
            Ok(PoolInfoRet {
                state: info.state as u32,
                capacity: info.capacity,
                allocation: info.allocation,
                available: info.available,
            })
        }),
        p::STORAGE_POOL_GET_XML_DESC => {
            run::<StoragePoolGetXmlDesc>(payload, |(pool, flags)| c.pool_get_xml(&pool, flags))
        }
        p::STORAGE_POOL_GET_AUTOSTART => run::<StoragePoolGetAutostart>(payload, |(pool,)| {
            Ok(c.pool_get_status(&pool)?.autostart as i32)
        }),
        p::STORAGE_POOL_SET_AUTOSTART => {
            run::<StoragePoolSetAutostart>(payload, |(pool, autostart)| {
                c.pool_set_autostart(&pool, autostart != 0)
            })
        }
        p::STORAGE_POOL_IS_ACTIVE => run::<StoragePoolIsActive>(payload, |(pool,)| {
            Ok(c.pool_get_status(&pool)?.active as i32)
        }),
        p::STORAGE_POOL_IS_PERSISTENT => run::<StoragePoolIsPersistent>(payload, |(pool,)| {
            Ok(c.pool_get_status(&pool)?.persistent as i32)
        }),

        // ---- storage volumes ----
        p::STORAGE_POOL_LIST_ALL_VOLUMES => {
            run::<StoragePoolListAllVolumes>(payload, |(pool, need, flags)| {
                Error::check_flags(
                    ErrorDomain::STORAGE,
                    flags,
                    0,
                    "virStoragePoolListAllVolumes",
                )?;
                Ok(need_results(
                    check_list(
                        listed(c.vol_list(&pool)?, |x| shown(&x.name, None)),
                        DOMAIN_LIST_MAX,
                        "storage volumes",
                    )?,
                    need,
                ))
            })
        }
        p::STORAGE_POOL_NUM_OF_VOLUMES => run::<StoragePoolNumOfVolumes>(payload, |(pool,)| {
            Ok(listed(c.vol_list(&pool)?, |x| shown(&x.name, None)).len() as i32)
        }),
        p::STORAGE_POOL_LIST_VOLUMES => run::<StoragePoolListVolumes>(payload, |(pool, max)| {
            Ok(truncated(
                listed(c.vol_list(&pool)?, |x| shown(&x.name, None))
                    .into_iter()
                    .map(|v| v.name)
                    .collect(),
                max,
            ))
        }),
        p::STORAGE_VOL_LOOKUP_BY_NAME => run::<StorageVolLookupByName>(payload, |(pool, name)| {
            c.vol_lookup_by_name(&pool, &name)
        }),
        p::STORAGE_VOL_LOOKUP_BY_KEY => {
            run::<StorageVolLookupByKey>(payload, |(key,)| c.vol_lookup_by_key(&key))
        }
        p::STORAGE_VOL_LOOKUP_BY_PATH => {
            run::<StorageVolLookupByPath>(payload, |(path,)| c.vol_lookup_by_path(&path))
        }
        p::STORAGE_VOL_CREATE_XML => run::<StorageVolCreateXml>(payload, |(pool, xml, flags)| {
            c.vol_create_xml(&pool, &xml, flags)
        }),
        p::STORAGE_VOL_CREATE_XML_FROM => {
            run::<StorageVolCreateXmlFrom>(payload, |(pool, xml, clone_of, flags)| {
                c.vol_create_xml_from(&pool, &xml, &clone_of, flags)
            })
        }
        p::STORAGE_VOL_DELETE => {
            run::<StorageVolDelete>(payload, |(vol, flags)| c.vol_delete(&vol, flags))
        }
        p::STORAGE_VOL_WIPE => {
            run::<StorageVolWipe>(payload, |(vol, flags)| c.vol_wipe(&vol, flags))
        }
        p::STORAGE_VOL_RESIZE => run::<StorageVolResize>(payload, |(vol, capacity, flags)| {
            c.vol_resize(&vol, capacity, flags)
        }),
        p::STORAGE_VOL_GET_INFO => run::<StorageVolGetInfo>(payload, |(vol,)| {
            let info = c.vol_get_info(&vol, 0)?;
            Ok(VolInfoRet {
                kind: info.kind,
                capacity: info.capacity,
                allocation: info.allocation,
            })
        }),
        p::STORAGE_VOL_GET_INFO_FLAGS => run::<StorageVolGetInfoFlags>(payload, |(vol, flags)| {
            let info = c.vol_get_info(&vol, flags)?;
            Ok(VolInfoRet {
                kind: info.kind,
                capacity: info.capacity,
                allocation: info.allocation,
            })
        }),
        p::STORAGE_VOL_GET_XML_DESC => {
            run::<StorageVolGetXmlDesc>(payload, |(vol, flags)| c.vol_get_xml(&vol, flags))
        }
        p::STORAGE_VOL_GET_PATH => run::<StorageVolGetPath>(payload, |(vol,)| c.vol_get_path(&vol)),
        p::STORAGE_VOL_UPLOAD | p::STORAGE_VOL_DOWNLOAD => {
            let (vol, offset, length, flags) =
                decode_args::<<StorageVolUpload as Procedure>::Args>(payload)?;
            let upload = number == p::STORAGE_VOL_UPLOAD;
            let api = if upload {
                "virStorageVolUpload"
            } else {
                "virStorageVolDownload"
            };
            // VIR_STORAGE_VOL_{UP,DOWN}LOAD_SPARSE_STREAM is the only flag.
            Error::check_flags(ErrorDomain::STORAGE, flags, 1, api)?;
            let path = c.vol_data_path(&vol, upload).map_err(|error| {
                // Drivers report one API name for both directions; say which one it was.
                if error.code() == ErrorNumber::NO_SUPPORT {
                    Error::no_support(ErrorDomain::STORAGE, api)
                } else {
                    error
                }
            })?;
            let sparse = flags & 1 != 0;
            let start = if upload {
                StreamStart::Upload {
                    path,
                    offset,
                    length,
                    sparse,
                }
            } else {
                StreamStart::Download {
                    path,
                    offset,
                    length,
                    sparse,
                }
            };
            Ok(Reply {
                payload: Vec::new(),
                body_at: 0,
                stream: Some(start),
            })
        }

        // ---- node devices ----
        p::CONNECT_LIST_ALL_NODE_DEVICES => {
            run::<ConnectListAllNodeDevices>(payload, |(need, flags)| {
                Ok(need_results(
                    check_list(
                        listed(c.nodedev_list(None, flags)?, |x| shown(x, None)),
                        NODE_DEVICE_LIST_MAX,
                        "node devices",
                    )?,
                    need,
                ))
            })
        }
        p::NODE_NUM_OF_DEVICES => run::<NodeNumOfDevices>(payload, |(cap, flags)| {
            Ok(listed(c.nodedev_list(cap.as_deref(), flags)?, |x| shown(x, None)).len() as i32)
        }),
        p::NODE_LIST_DEVICES => run::<NodeListDevices>(payload, |(cap, max, flags)| {
            Ok(truncated(
                listed(c.nodedev_list(cap.as_deref(), flags)?, |x| shown(x, None)),
                max,
            ))
        }),
        p::NODE_DEVICE_LOOKUP_BY_NAME => {
            run::<NodeDeviceLookupByName>(payload, |(name,)| c.nodedev_lookup(&name))
        }
        p::NODE_DEVICE_GET_XML_DESC => {
            run::<NodeDeviceGetXmlDesc>(payload, |(name, flags)| c.nodedev_get_xml(&name, flags))
        }
        p::NODE_DEVICE_GET_PARENT => {
            run::<NodeDeviceGetParent>(payload, |(name,)| c.nodedev_get_parent(&name))
        }
        p::NODE_DEVICE_NUM_OF_CAPS => run::<NodeDeviceNumOfCaps>(payload, |(name,)| {
            Ok(c.nodedev_list_caps(&name)?.len() as i32)
        }),
        p::NODE_DEVICE_LIST_CAPS => run::<NodeDeviceListCaps>(payload, |(name, max)| {
            Ok(truncated(c.nodedev_list_caps(&name)?, max))
        }),

        // ---- interfaces ----
        p::CONNECT_LIST_ALL_INTERFACES => {
            run::<ConnectListAllInterfaces>(payload, |(need, flags)| {
                Ok(need_results(
                    check_list(
                        listed(c.iface_list_all(flags)?, |x| shown(&x.name, None)),
                        DOMAIN_LIST_MAX,
                        "interfaces",
                    )?,
                    need,
                ))
            })
        }
        p::CONNECT_NUM_OF_INTERFACES => run::<ConnectNumOfInterfaces>(payload, |()| {
            Ok(listed(c.iface_list_all(OBJECTS_ACTIVE)?, |x| shown(&x.name, None)).len() as i32)
        }),
        p::CONNECT_LIST_INTERFACES => run::<ConnectListInterfaces>(payload, |(max,)| {
            Ok(truncated(
                listed(c.iface_list_all(OBJECTS_ACTIVE)?, |x| shown(&x.name, None))
                    .into_iter()
                    .map(|i| i.name)
                    .collect(),
                max,
            ))
        }),
        p::CONNECT_NUM_OF_DEFINED_INTERFACES => {
            run::<ConnectNumOfDefinedInterfaces>(payload, |()| {
                Ok(listed(c.iface_list_all(OBJECTS_INACTIVE)?, |x| {
                    shown(&x.name, None)
                })
                .len() as i32)
            })
        }
        p::CONNECT_LIST_DEFINED_INTERFACES => {
            run::<ConnectListDefinedInterfaces>(payload, |(max,)| {
                Ok(truncated(
                    listed(c.iface_list_all(OBJECTS_INACTIVE)?, |x| {
                        shown(&x.name, None)
                    })
                    .into_iter()
                    .map(|i| i.name)
                    .collect(),
                    max,
                ))
            })
        }
        p::INTERFACE_LOOKUP_BY_NAME => {
            run::<InterfaceLookupByName>(payload, |(name,)| c.iface_lookup_by_name(&name))
        }
        p::INTERFACE_LOOKUP_BY_MAC_STRING => {
            run::<InterfaceLookupByMacString>(payload, |(mac,)| c.iface_lookup_by_mac(&mac))
        }
        p::INTERFACE_GET_XML_DESC => {
            run::<InterfaceGetXmlDesc>(payload, |(iface, flags)| c.iface_get_xml(&iface, flags))
        }
        p::INTERFACE_IS_ACTIVE => {
            run::<InterfaceIsActive>(payload, |(iface,)| Ok(c.iface_is_active(&iface)? as i32))
        }

        // ---- secrets ----
        p::CONNECT_LIST_ALL_SECRETS => run::<ConnectListAllSecrets>(payload, |(need, flags)| {
            Ok(need_results(
                check_list(
                    listed(c.secret_list_all(flags)?, |x| {
                        shown(&x.usage_id, Some(&x.uuid))
                    }),
                    DOMAIN_LIST_MAX,
                    "secrets",
                )?,
                need,
            ))
        }),
        p::CONNECT_NUM_OF_SECRETS => run::<ConnectNumOfSecrets>(payload, |()| {
            Ok(listed(c.secret_list_all(0)?, |x| shown(&x.usage_id, Some(&x.uuid))).len() as i32)
        }),
        p::CONNECT_LIST_SECRETS => run::<ConnectListSecrets>(payload, |(max,)| {
            Ok(truncated(
                listed(c.secret_list_all(0)?, |x| shown(&x.usage_id, Some(&x.uuid)))
                    .into_iter()
                    .map(|s| s.uuid.to_string())
                    .collect(),
                max,
            ))
        }),
        p::SECRET_LOOKUP_BY_UUID => {
            run::<SecretLookupByUuid>(payload, |(uuid,)| c.secret_lookup_by_uuid(&uuid))
        }
        p::SECRET_LOOKUP_BY_USAGE => {
            run::<SecretLookupByUsage>(payload, |(kind, id)| c.secret_lookup_by_usage(kind, &id))
        }
        p::SECRET_DEFINE_XML => {
            run::<SecretDefineXml>(payload, |(xml, flags)| c.secret_define_xml(&xml, flags))
        }
        p::SECRET_GET_XML_DESC => {
            run::<SecretGetXmlDesc>(payload, |(secret, flags)| c.secret_get_xml(&secret, flags))
        }
        p::SECRET_SET_VALUE => run::<SecretSetValue>(payload, |(secret, value, flags)| {
            c.secret_set_value(&secret, &value.0, flags)
        }),
        p::SECRET_GET_VALUE => run::<SecretGetValue>(payload, |(secret, flags)| {
            Ok(Opaque(c.secret_get_value(&secret, flags)?))
        }),
        p::SECRET_UNDEFINE => {
            run::<SecretUndefine>(payload, |(secret,)| c.secret_undefine(&secret))
        }

        // ---- events ----
        p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY => {
            run::<ConnectDomainEventCallbackRegisterAny>(payload, |(event_id, dom)| {
                check_domain_event_id(event_id)?;
                client.register_events(Registration::Domain {
                    event_id,
                    filter: dom.map(|d| d.uuid),
                })
            })
        }
        p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY => {
            run::<ConnectDomainEventCallbackDeregisterAny>(payload, |(callback_id,)| {
                deregister(
                    client,
                    callback_id,
                    |reg| matches!(reg, Registration::Domain { .. }),
                    "domain event",
                )
            })
        }
        p::CONNECT_DOMAIN_EVENT_REGISTER_ANY => {
            run::<ConnectDomainEventRegisterAny>(payload, |(event_id,)| {
                check_domain_event_id(event_id)?;
                client
                    .register_events(Registration::DomainLegacy { event_id })
                    .map(drop)
            })
        }
        p::CONNECT_DOMAIN_EVENT_DEREGISTER_ANY => {
            run::<ConnectDomainEventDeregisterAny>(payload, |(event_id,)| {
                let removed = client.deregister_events(
                |_, reg| matches!(reg, Registration::DomainLegacy { event_id: id } if *id == event_id),
            );
                if removed {
                    Ok(())
                } else {
                    Err(rpc_error(format!("domain event {event_id} not registered")))
                }
            })
        }
        p::CONNECT_DOMAIN_EVENT_REGISTER => run::<ConnectDomainEventRegister>(payload, |()| {
            client
                .register_events(Registration::DomainLegacy { event_id: 0 })
                .map(|_| 1)
        }),
        p::CONNECT_DOMAIN_EVENT_DEREGISTER => run::<ConnectDomainEventDeregister>(payload, |()| {
            client.deregister_events(|_, reg| {
                matches!(reg, Registration::DomainLegacy { event_id: 0 })
            });
            Ok(0)
        }),
        p::CONNECT_NETWORK_EVENT_REGISTER_ANY => {
            run::<ConnectNetworkEventRegisterAny>(payload, |(event_id, net)| {
                if event_id != 0 {
                    return Err(unsupported_event(event_id));
                }
                client.register_events(Registration::Network {
                    event_id,
                    filter: net.map(|n| n.uuid),
                })
            })
        }
        p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY => {
            run::<ConnectNetworkEventDeregisterAny>(payload, |(id,)| {
                deregister(
                    client,
                    id,
                    |reg| matches!(reg, Registration::Network { .. }),
                    "network event",
                )
            })
        }
        p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY => {
            run::<ConnectStoragePoolEventRegisterAny>(payload, |(event_id, pool)| {
                if !(0..=1).contains(&event_id) {
                    return Err(unsupported_event(event_id));
                }
                client.register_events(Registration::StoragePool {
                    event_id,
                    filter: pool.map(|p| p.uuid),
                })
            })
        }
        p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY => {
            run::<ConnectStoragePoolEventDeregisterAny>(payload, |(id,)| {
                deregister(
                    client,
                    id,
                    |reg| matches!(reg, Registration::StoragePool { .. }),
                    "storage pool event",
                )
            })
        }
        p::CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY => {
            run::<ConnectNodeDeviceEventRegisterAny>(payload, |(event_id, dev)| {
                if !(0..=1).contains(&event_id) {
                    return Err(unsupported_event(event_id));
                }
                client.register_events(Registration::NodeDevice {
                    event_id,
                    filter: dev,
                })
            })
        }
        p::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY => {
            run::<ConnectNodeDeviceEventDeregisterAny>(payload, |(id,)| {
                deregister(
                    client,
                    id,
                    |reg| matches!(reg, Registration::NodeDevice { .. }),
                    "node device event",
                )
            })
        }
        p::CONNECT_SECRET_EVENT_REGISTER_ANY => {
            run::<ConnectSecretEventRegisterAny>(payload, |(event_id, secret)| {
                if !(0..=1).contains(&event_id) {
                    return Err(unsupported_event(event_id));
                }
                client.register_events(Registration::Secret {
                    event_id,
                    filter: secret.map(|s| s.uuid),
                })
            })
        }
        p::CONNECT_SECRET_EVENT_DEREGISTER_ANY => {
            run::<ConnectSecretEventDeregisterAny>(payload, |(id,)| {
                deregister(
                    client,
                    id,
                    |reg| matches!(reg, Registration::Secret { .. }),
                    "secret event",
                )
            })
        }

        _ => Err(no_support(Some(info), number as i32)),
    }
}

/// A C string as libvirtd sends it in a `char` array: the text and its NUL.
fn c_chars(text: &str) -> CharArray {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    CharArray(bytes)
}

/// The domain's security labels; none (not an error) without a security driver.
fn security_labels(
    c: &dyn Connection,
    dom: &DomainRef,
) -> Result<Vec<proto::SecurityLabelRet>, Error> {
    match c.domain_get_security_label(dom) {
        Ok(labels) => Ok(labels
            .into_iter()
            .map(|l| proto::SecurityLabelRet {
                label: c_chars(&l.label),
                enforcing: l.enforcing as i32,
            })
            .collect()),
        Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {
            c.domain_get_state(dom, 0)?;
            Ok(Vec::new())
        }
        Err(error) => Err(error),
    }
}

fn get_parameters(
    c: &dyn Connection,
    dom: &DomainRef,
    set: ParameterSet,
    device: Option<&str>,
    nparams: i32,
    flags: u32,
) -> Result<(Vec<TypedParam>, i32), Error> {
    let params = typed_params_for(c.domain_get_parameters(dom, set, device, flags)?, flags);
    Ok(counted(params, nparams))
}

/// A CPU map cut or zero-padded to `len` bytes.
fn fit_map(map: &[u8], len: usize) -> Vec<u8> {
    let mut fitted = map.iter().copied().take(len).collect::<Vec<u8>>();
    fitted.resize(len, 0);
    fitted
}

fn check_domain_event_id(event_id: i32) -> Result<(), Error> {
    if !(0..=crate::events::DOMAIN_EVENT_ID_LAST).contains(&event_id) {
        return Err(unsupported_event(event_id));
    }
    Ok(())
}

fn unsupported_event(event_id: i32) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::RPC,
        format!("unsupported event ID {event_id}"),
    )
}

fn deregister(
    client: &Arc<ClientShared>,
    callback_id: i32,
    kind: impl Fn(&Registration) -> bool,
    what: &str,
) -> Result<(), Error> {
    if client.deregister_events(|id, reg| id == callback_id && kind(reg)) {
        Ok(())
    } else {
        Err(rpc_error(format!(
            "{what} callback {callback_id} not registered"
        )))
    }
}

fn node_stats(params: Vec<TypedParam>, nparams: i32) -> (Vec<proto::NodeStat>, i32) {
    let count = params.len() as i32;
    if nparams <= 0 {
        return (Vec::new(), count);
    }
    let stats = params
        .into_iter()
        .take(nparams as usize)
        .map(|param| proto::NodeStat {
            value: param_u64(&param.value),
            field: param.field,
        })
        .collect();
    (stats, 0)
}

/// rvirt's admin program: answered by the host behind the client's open connection, so a
/// client needs CONNECT_OPEN first (as for every REMOTE call), and reloads need read-write.
fn dispatch_rvirt_admin(client: &Arc<ClientShared>, procedure: i32, payload: &[u8]) -> CallResult {
    let conn = client.connection().ok_or_else(not_open)?;
    match procedure {
        1 => run::<proto::RvirtPluginList>(payload, |(flags,)| conn.plugin_list(flags)),
        2 => {
            if client.is_read_only() {
                return Err(Error::new(
                    ErrorNumber::OPERATION_DENIED,
                    ErrorDomain::NONE,
                    "read only access prevents rvirtPluginReload",
                ));
            }
            // Swapping a driver's code is the host's business: connect:write.
            client.check_access(
                virt_access::Object::Connect,
                "write",
                None,
                "rvirtPluginReload",
            )?;
            run::<proto::RvirtPluginReload>(payload, |(name, flags)| {
                tracing::info!(client = client.id, plugin = %name, "plugin reload requested");
                conn.plugin_reload(&name, flags)
            })
        }
        _ => Err(rpc_error(format!("unknown procedure: {procedure}"))),
    }
}

/// The value at the start of `payload`, ignoring what follows.
fn from_bytes_prefix<T: Xdr>(payload: &[u8]) -> Option<T> {
    T::decode(&mut crate::xdr::Decoder::new(payload)).ok()
}

fn dispatch_qemu(client: &Arc<ClientShared>, procedure: i32, payload: &[u8]) -> CallResult {
    let conn = client.connection().ok_or_else(not_open)?;
    let read_only_refusal = |api: &str| {
        Error::new(
            ErrorNumber::OPERATION_DENIED,
            ErrorDomain::DOMAIN,
            format!("read only access prevents {api}"),
        )
    };
    match procedure {
        1 => {
            if client.is_read_only() {
                return Err(read_only_refusal("virDomainQemuMonitorCommand"));
            }
            // libvirt's QEMU program declares domain:write for monitor and agent commands.
            let dom = from_bytes_prefix::<DomainRef>(payload);
            client.check_access(
                virt_access::Object::Domain,
                "write",
                dom.as_ref(),
                "virDomainQemuMonitorCommand",
            )?;
            run::<proto::QemuDomainMonitorCommand>(payload, |(dom, cmd, flags)| {
                conn.domain_qemu_monitor_command(&dom, &cmd, flags)
            })
        }
        3 => {
            if client.is_read_only() {
                return Err(read_only_refusal("virDomainQemuAgentCommand"));
            }
            let dom = from_bytes_prefix::<DomainRef>(payload);
            client.check_access(
                virt_access::Object::Domain,
                "write",
                dom.as_ref(),
                "virDomainQemuAgentCommand",
            )?;
            run::<proto::QemuDomainAgentCommand>(payload, |(dom, cmd, timeout, flags)| {
                conn.domain_qemu_agent_command(&dom, &cmd, timeout, flags)
                    .map(Some)
            })
        }
        _ => Err(rpc_error(format!("unknown procedure: {procedure}"))),
    }
}
