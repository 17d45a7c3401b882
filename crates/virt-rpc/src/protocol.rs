//! The REMOTE program: what each procedure is called, what it carries, and how errors travel.
//!
//! [`procedure_info`] answers the facts libvirt's definition states for every one of the 443
//! procedures (public API name, family, priority, stream direction, whether a read-only
//! connection may call it). The typed declarations below give argument and reply types for
//! the procedures rvirt speaks; server and client both go through [`Procedure`], so the two
//! directions cannot disagree about a layout. A struct's encoding is its fields in order, so
//! arguments are tuples whose field names appear in the generated docs.

use virt_core::{DomainRef, Error, ErrorDomain, ErrorNumber, NetworkRef, TypedParam};

use crate::frame::{QEMU_PROGRAM, REMOTE_PROGRAM, RVIRT_ADMIN_PROGRAM};
use crate::xdr::{CharArray, Decoder, FixedChars, Opaque, Xdr, XdrError};
use crate::xdr_struct;

#[rustfmt::skip]
#[path = "procedure_table.rs"]
mod procedure_table;

pub use procedure_table::remote_proc;

/// Which part of the API a procedure belongs to; decides the error domain of refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Connect,
    Domain,
    Network,
    Storage,
    NodeDevice,
    Interface,
    Secret,
    NwFilter,
}

impl Family {
    /// The `virErrorDomain` libvirt's public API layer reports for this family.
    pub fn error_domain(self) -> ErrorDomain {
        match self {
            Family::Connect | Family::Domain => ErrorDomain::DOMAIN,
            Family::Network => ErrorDomain::NETWORK,
            Family::Storage => ErrorDomain::STORAGE,
            Family::NodeDevice => ErrorDomain::NODEDEV,
            Family::Interface => ErrorDomain::INTERFACE,
            Family::Secret => ErrorDomain::SECRET,
            Family::NwFilter => ErrorDomain::NWFILTER,
        }
    }
}

/// Which way a procedure's stream carries data, if it opens one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    None,
    /// Daemon to client (download, screenshot, console output).
    Read,
    /// Client to daemon (upload, console input).
    Write,
}

/// One access check libvirt's definition declares for a procedure (`@acl: domain:start`):
/// the permission `perm` on an object of kind `object`, when `when` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclCheck {
    /// libvirt's object name: "connect", "domain", "storage_pool", ...
    pub object: &'static str,
    pub perm: &'static str,
    pub when: AclWhen,
}

/// When a conditional check applies. Conditions read a 4-byte integer argument located by
/// its distance from the end of the arguments (1: the last, which is `flags` everywhere a
/// condition is declared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclWhen {
    Always,
    /// Every bit of `mask` is set in the flags.
    FlagsSet {
        words_from_end: u8,
        mask: u32,
    },
    /// No bit of `mask` is set in the flags.
    FlagsClear {
        words_from_end: u8,
        mask: u32,
    },
    /// A parameter equals `value` (`virDomainInterfaceAddresses`' source).
    ParamIs {
        words_from_end: u8,
        value: u32,
    },
}

impl AclWhen {
    /// Does the condition hold for these encoded arguments? Arguments too short to hold
    /// the integer make it hold, so a malformed call is checked, not waved through.
    pub fn holds(self, payload: &[u8]) -> bool {
        let word = |words_from_end: u8| {
            let end = payload
                .len()
                .checked_sub(4 * (usize::from(words_from_end) - 1))?;
            let bytes: [u8; 4] = payload.get(end.checked_sub(4)?..end)?.try_into().ok()?;
            Some(u32::from_be_bytes(bytes))
        };
        match self {
            AclWhen::Always => true,
            AclWhen::FlagsSet {
                words_from_end,
                mask,
            } => word(words_from_end).is_none_or(|flags| flags & mask == mask),
            AclWhen::FlagsClear {
                words_from_end,
                mask,
            } => word(words_from_end).is_none_or(|flags| flags & mask == 0),
            AclWhen::ParamIs {
                words_from_end,
                value,
            } => word(words_from_end).is_none_or(|param| param == value),
        }
    }
}

/// Which object a procedure's first argument (or reply member) names, by its XDR type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectArg {
    None,
    /// A plain `remote_nonnull_string name` (lookups by name, node devices).
    Name,
    Domain,
    /// A snapshot or checkpoint: its name, then its domain.
    DomainOfSnapshot,
    Network,
    NetworkPort,
    StoragePool,
    StorageVol,
    NodeDevice,
    Secret,
    Interface,
    NwFilter,
    NwFilterBinding,
}

/// Facts about one REMOTE procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcedureInfo {
    /// The procedure's name without the `REMOTE_PROC_` prefix.
    pub name: &'static str,
    /// The public API it implements, e.g. "virDomainGetXMLDesc"; empty for protocol-only
    /// procedures (auth, events, migration steps).
    pub api: &'static str,
    pub family: Family,
    /// Never waits on a hypervisor (libvirt runs these on its priority workers).
    pub high_priority: bool,
    pub stream: StreamKind,
    /// Changes state: refused on a read-only connection.
    pub writes: bool,
    /// The permissions the call needs (libvirt's `@acl`), checked when access control is on.
    pub acl: &'static [AclCheck],
    /// The permission each listed object needs to be in the reply (libvirt's `@aclfilter`).
    pub acl_filter: Option<(&'static str, &'static str)>,
    /// What the first argument names.
    pub object_arg: ObjectArg,
    /// What the reply's first member names (a lookup's result).
    pub ret_object: ObjectArg,
}

/// The facts about REMOTE procedure `number`, if it exists.
pub fn procedure_info(number: i32) -> Option<&'static ProcedureInfo> {
    usize::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| procedure_table::PROCEDURES.get(n))
}

/// The highest REMOTE procedure number libvirt 9.0 defines.
pub fn last_procedure() -> i32 {
    (procedure_table::PROCEDURES.len() - 1) as i32
}

/// A procedure with typed arguments and reply.
pub trait Procedure {
    const PROGRAM: u32;
    const NUMBER: u32;
    type Args: Xdr;
    type Ret: Xdr;
}

macro_rules! procedures {
    ($(
        $(#[$meta:meta])*
        $name:ident = $program:ident / $number:expr, ($($arg:ident : $arg_ty:ty),* $(,)?) -> $ret:ty;
    )*) => {
        $(
            $(#[$meta])*
            #[doc = concat!("Arguments: `(", $(stringify!($arg), ": ", stringify!($arg_ty), ", ",)* ")` → `", stringify!($ret), "`.")]
            #[derive(Debug)]
            pub struct $name;

            impl Procedure for $name {
                const PROGRAM: u32 = $program;
                const NUMBER: u32 = $number;
                type Args = ($($arg_ty,)*);
                type Ret = $ret;
            }
        )*

        /// Decodes `payload` as the arguments (`reply == false`) or the reply of procedure
        /// `number` of program `prog` and encodes the value again; `None` for procedures
        /// without a typed declaration. For fuzzing and for tests of the codec: encoding what
        /// was decoded must give bytes that decode to the same encoding.
        pub fn reencode_payload(
            prog: u32,
            number: u32,
            reply: bool,
            payload: &[u8],
        ) -> Option<Result<Vec<u8>, XdrError>> {
            $(
                if prog == <$name as Procedure>::PROGRAM && number == <$name as Procedure>::NUMBER {
                    return Some(if reply {
                        crate::xdr::from_bytes::<<$name as Procedure>::Ret>(payload).map(|v| crate::xdr::to_bytes(&v))
                    } else {
                        crate::xdr::from_bytes::<<$name as Procedure>::Args>(payload).map(|v| crate::xdr::to_bytes(&v))
                    });
                }
            )*
            None
        }
    };
}

xdr_struct! {
    /// NODE_GET_INFO reply (`virNodeInfo`; the model is a fixed `char[32]`).
    pub struct NodeInfoRet {
        pub model: FixedChars<32>,
        pub memory: u64,
        pub cpus: i32,
        pub mhz: i32,
        pub nodes: i32,
        pub sockets: i32,
        pub cores: i32,
        pub threads: i32,
    }
}

xdr_struct! {
    /// DOMAIN_GET_INFO reply; `state` is an `unsigned char` and `nr_virt_cpu` an
    /// `unsigned short`, both widened to 4 bytes.
    pub struct DomainInfoRet {
        pub state: u32,
        pub max_mem: u64,
        pub memory: u64,
        pub nr_virt_cpu: u32,
        pub cpu_time: u64,
    }
}

xdr_struct! {
    /// STORAGE_POOL_GET_INFO reply (`state` is an `unsigned char`).
    pub struct PoolInfoRet {
        pub state: u32,
        pub capacity: u64,
        pub allocation: u64,
        pub available: u64,
    }
}

xdr_struct! {
    /// STORAGE_VOL_GET_INFO(_FLAGS) reply (`kind` is a `char`).
    pub struct VolInfoRet {
        pub kind: i32,
        pub capacity: u64,
        pub allocation: u64,
    }
}

xdr_struct! {
    /// NODE_GET_SECURITY_MODEL reply: two C strings as `char` arrays.
    pub struct SecurityModelRet {
        pub model: CharArray,
        pub doi: CharArray,
    }
}

xdr_struct! {
    /// DOMAIN_GET_SECURITY_LABEL reply.
    pub struct SecurityLabelRet {
        pub label: CharArray,
        pub enforcing: i32,
    }
}

xdr_struct! {
    /// `remote_nonnull_domain_snapshot`.
    pub struct SnapshotRef {
        pub name: String,
        pub dom: DomainRef,
    }
}

xdr_struct! {
    /// `remote_vcpu_info`.
    pub struct VcpuInfo {
        pub number: u32,
        pub state: i32,
        pub cpu_time: u64,
        pub cpu: i32,
    }
}

xdr_struct! {
    /// `remote_domain_stats_record`.
    pub struct DomainStatsRecord {
        pub dom: DomainRef,
        pub params: Vec<TypedParam>,
    }
}

xdr_struct! {
    /// `remote_domain_memory_stat`.
    pub struct MemoryStat {
        pub tag: i32,
        pub val: u64,
    }
}

xdr_struct! {
    /// `remote_node_get_memory_stats` / `remote_node_get_cpu_stats`: a name and a value.
    pub struct NodeStat {
        pub field: String,
        pub value: u64,
    }
}

xdr_struct! {
    /// `virNetStreamHole`: the payload of a STREAM_HOLE frame.
    pub struct StreamHole {
        pub length: i64,
        pub flags: u32,
    }
}

xdr_struct! {
    /// `remote_domain_disk_error`.
    pub struct DiskError {
        pub disk: String,
        pub error: i32,
    }
}

xdr_struct! {
    /// `remote_domain_ip_addr`.
    pub struct IpAddr {
        pub kind: i32,
        pub addr: String,
        pub prefix: u32,
    }
}

xdr_struct! {
    /// `remote_network_dhcp_lease`.
    pub struct DhcpLease {
        pub iface: String,
        pub expirytime: i64,
        pub kind: i32,
        pub mac: Option<String>,
        pub iaid: Option<String>,
        pub ipaddr: String,
        pub prefix: u32,
        pub hostname: Option<String>,
        pub clientid: Option<String>,
    }
}

xdr_struct! {
    /// `remote_domain_interface`.
    pub struct GuestIface {
        pub name: String,
        pub hwaddr: Option<String>,
        pub addrs: Vec<IpAddr>,
    }
}

xdr_struct! {
    /// DOMAIN_GET_JOB_INFO reply (the legacy `virDomainJobInfo`).
    pub struct JobInfoRet {
        pub kind: i32,
        pub time_elapsed: u64,
        pub time_remaining: u64,
        pub data_total: u64,
        pub data_processed: u64,
        pub data_remaining: u64,
        pub mem_total: u64,
        pub mem_processed: u64,
        pub mem_remaining: u64,
        pub file_total: u64,
        pub file_processed: u64,
        pub file_remaining: u64,
    }
}

use remote_proc as p;
use virt_core::{InterfaceRef, SecretRef, StoragePoolRef, StorageVolRef, Uuid};

procedures! {
    // ---- connection, auth, host ----
    ConnectOpen = REMOTE_PROGRAM / p::CONNECT_OPEN, (name: Option<String>, flags: u32) -> ();
    ConnectClose = REMOTE_PROGRAM / p::CONNECT_CLOSE, () -> ();
    AuthList = REMOTE_PROGRAM / p::AUTH_LIST, () -> Vec<i32>;
    AuthPolkit = REMOTE_PROGRAM / p::AUTH_POLKIT, () -> i32;
    ConnectSupportsFeature = REMOTE_PROGRAM / p::CONNECT_SUPPORTS_FEATURE, (feature: i32) -> i32;
    ConnectRegisterCloseCallback = REMOTE_PROGRAM / p::CONNECT_REGISTER_CLOSE_CALLBACK, () -> ();
    ConnectUnregisterCloseCallback = REMOTE_PROGRAM / p::CONNECT_UNREGISTER_CLOSE_CALLBACK, () -> ();
    ConnectGetType = REMOTE_PROGRAM / p::CONNECT_GET_TYPE, () -> String;
    ConnectGetVersion = REMOTE_PROGRAM / p::CONNECT_GET_VERSION, () -> u64;
    ConnectGetLibVersion = REMOTE_PROGRAM / p::CONNECT_GET_LIB_VERSION, () -> u64;
    ConnectGetHostname = REMOTE_PROGRAM / p::CONNECT_GET_HOSTNAME, () -> String;
    ConnectGetUri = REMOTE_PROGRAM / p::CONNECT_GET_URI, () -> String;
    ConnectIsSecure = REMOTE_PROGRAM / p::CONNECT_IS_SECURE, () -> i32;
    ConnectGetMaxVcpus = REMOTE_PROGRAM / p::CONNECT_GET_MAX_VCPUS, (kind: Option<String>) -> i32;
    ConnectGetCapabilities = REMOTE_PROGRAM / p::CONNECT_GET_CAPABILITIES, () -> String;
    ConnectGetDomainCapabilities = REMOTE_PROGRAM / p::CONNECT_GET_DOMAIN_CAPABILITIES,
        (emulatorbin: Option<String>, arch: Option<String>, machine: Option<String>, virttype: Option<String>, flags: u32) -> String;
    ConnectGetSysinfo = REMOTE_PROGRAM / p::CONNECT_GET_SYSINFO, (flags: u32) -> String;
    NodeGetInfo = REMOTE_PROGRAM / p::NODE_GET_INFO, () -> NodeInfoRet;
    NodeGetFreeMemory = REMOTE_PROGRAM / p::NODE_GET_FREE_MEMORY, () -> u64;
    NodeGetCellsFreeMemory = REMOTE_PROGRAM / p::NODE_GET_CELLS_FREE_MEMORY, (start_cell: i32, max_cells: i32) -> Vec<u64>;
    NodeGetMemoryStats = REMOTE_PROGRAM / p::NODE_GET_MEMORY_STATS, (nparams: i32, cell_num: i32, flags: u32) -> (Vec<NodeStat>, i32);
    NodeGetCpuStats = REMOTE_PROGRAM / p::NODE_GET_CPU_STATS, (cpu_num: i32, nparams: i32, flags: u32) -> (Vec<NodeStat>, i32);
    NodeGetCpuMap = REMOTE_PROGRAM / p::NODE_GET_CPU_MAP, (need_map: i32, need_online: i32, flags: u32) -> (Opaque, u32, i32);
    NodeGetSecurityModel = REMOTE_PROGRAM / p::NODE_GET_SECURITY_MODEL, () -> SecurityModelRet;
    ConnectDomainXmlToNative = REMOTE_PROGRAM / p::CONNECT_DOMAIN_XML_TO_NATIVE, (native_format: String, domain_xml: String, flags: u32) -> String;
    ConnectDomainXmlFromNative = REMOTE_PROGRAM / p::CONNECT_DOMAIN_XML_FROM_NATIVE, (native_format: String, native_config: String, flags: u32) -> String;

    // ---- domains ----
    ConnectListAllDomains = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_DOMAINS, (need_results: i32, flags: u32) -> (Vec<DomainRef>, u32);
    ConnectNumOfDomains = REMOTE_PROGRAM / p::CONNECT_NUM_OF_DOMAINS, () -> i32;
    ConnectListDomains = REMOTE_PROGRAM / p::CONNECT_LIST_DOMAINS, (max_ids: i32) -> Vec<i32>;
    ConnectNumOfDefinedDomains = REMOTE_PROGRAM / p::CONNECT_NUM_OF_DEFINED_DOMAINS, () -> i32;
    ConnectListDefinedDomains = REMOTE_PROGRAM / p::CONNECT_LIST_DEFINED_DOMAINS, (max_names: i32) -> Vec<String>;
    DomainLookupById = REMOTE_PROGRAM / p::DOMAIN_LOOKUP_BY_ID, (id: i32) -> DomainRef;
    DomainLookupByName = REMOTE_PROGRAM / p::DOMAIN_LOOKUP_BY_NAME, (name: String) -> DomainRef;
    DomainLookupByUuid = REMOTE_PROGRAM / p::DOMAIN_LOOKUP_BY_UUID, (uuid: Uuid) -> DomainRef;
    DomainDefineXml = REMOTE_PROGRAM / p::DOMAIN_DEFINE_XML, (xml: String) -> DomainRef;
    DomainDefineXmlFlags = REMOTE_PROGRAM / p::DOMAIN_DEFINE_XML_FLAGS, (xml: String, flags: u32) -> DomainRef;
    DomainCreateXml = REMOTE_PROGRAM / p::DOMAIN_CREATE_XML, (xml_desc: String, flags: u32) -> DomainRef;
    DomainCreate = REMOTE_PROGRAM / p::DOMAIN_CREATE, (dom: DomainRef) -> ();
    DomainCreateWithFlags = REMOTE_PROGRAM / p::DOMAIN_CREATE_WITH_FLAGS, (dom: DomainRef, flags: u32) -> DomainRef;
    DomainDestroy = REMOTE_PROGRAM / p::DOMAIN_DESTROY, (dom: DomainRef) -> ();
    DomainDestroyFlags = REMOTE_PROGRAM / p::DOMAIN_DESTROY_FLAGS, (dom: DomainRef, flags: u32) -> ();
    DomainUndefine = REMOTE_PROGRAM / p::DOMAIN_UNDEFINE, (dom: DomainRef) -> ();
    DomainUndefineFlags = REMOTE_PROGRAM / p::DOMAIN_UNDEFINE_FLAGS, (dom: DomainRef, flags: u32) -> ();
    DomainShutdown = REMOTE_PROGRAM / p::DOMAIN_SHUTDOWN, (dom: DomainRef) -> ();
    DomainShutdownFlags = REMOTE_PROGRAM / p::DOMAIN_SHUTDOWN_FLAGS, (dom: DomainRef, flags: u32) -> ();
    DomainReboot = REMOTE_PROGRAM / p::DOMAIN_REBOOT, (dom: DomainRef, flags: u32) -> ();
    DomainReset = REMOTE_PROGRAM / p::DOMAIN_RESET, (dom: DomainRef, flags: u32) -> ();
    DomainSuspend = REMOTE_PROGRAM / p::DOMAIN_SUSPEND, (dom: DomainRef) -> ();
    DomainResume = REMOTE_PROGRAM / p::DOMAIN_RESUME, (dom: DomainRef) -> ();
    DomainSave = REMOTE_PROGRAM / p::DOMAIN_SAVE, (dom: DomainRef, to: String) -> ();
    DomainSaveFlags = REMOTE_PROGRAM / p::DOMAIN_SAVE_FLAGS, (dom: DomainRef, to: String, dxml: Option<String>, flags: u32) -> ();
    DomainRestore = REMOTE_PROGRAM / p::DOMAIN_RESTORE, (from: String) -> ();
    DomainRestoreFlags = REMOTE_PROGRAM / p::DOMAIN_RESTORE_FLAGS, (from: String, dxml: Option<String>, flags: u32) -> ();
    DomainSaveImageGetXmlDesc = REMOTE_PROGRAM / p::DOMAIN_SAVE_IMAGE_GET_XML_DESC, (file: String, flags: u32) -> String;
    DomainManagedSave = REMOTE_PROGRAM / p::DOMAIN_MANAGED_SAVE, (dom: DomainRef, flags: u32) -> ();
    DomainManagedSaveRemove = REMOTE_PROGRAM / p::DOMAIN_MANAGED_SAVE_REMOVE, (dom: DomainRef, flags: u32) -> ();
    DomainHasManagedSaveImage = REMOTE_PROGRAM / p::DOMAIN_HAS_MANAGED_SAVE_IMAGE, (dom: DomainRef, flags: u32) -> i32;
    DomainRename = REMOTE_PROGRAM / p::DOMAIN_RENAME, (dom: DomainRef, new_name: Option<String>, flags: u32) -> i32;
    DomainGetInfo = REMOTE_PROGRAM / p::DOMAIN_GET_INFO, (dom: DomainRef) -> DomainInfoRet;
    DomainGetState = REMOTE_PROGRAM / p::DOMAIN_GET_STATE, (dom: DomainRef, flags: u32) -> (i32, i32);
    DomainIsActive = REMOTE_PROGRAM / p::DOMAIN_IS_ACTIVE, (dom: DomainRef) -> i32;
    DomainIsPersistent = REMOTE_PROGRAM / p::DOMAIN_IS_PERSISTENT, (dom: DomainRef) -> i32;
    DomainIsUpdated = REMOTE_PROGRAM / p::DOMAIN_IS_UPDATED, (dom: DomainRef) -> i32;
    DomainGetAutostart = REMOTE_PROGRAM / p::DOMAIN_GET_AUTOSTART, (dom: DomainRef) -> i32;
    DomainSetAutostart = REMOTE_PROGRAM / p::DOMAIN_SET_AUTOSTART, (dom: DomainRef, autostart: i32) -> ();
    DomainGetXmlDesc = REMOTE_PROGRAM / p::DOMAIN_GET_XML_DESC, (dom: DomainRef, flags: u32) -> String;
    DomainGetOsType = REMOTE_PROGRAM / p::DOMAIN_GET_OS_TYPE, (dom: DomainRef) -> String;
    DomainGetHostname = REMOTE_PROGRAM / p::DOMAIN_GET_HOSTNAME, (dom: DomainRef, flags: u32) -> String;
    DomainGetMaxMemory = REMOTE_PROGRAM / p::DOMAIN_GET_MAX_MEMORY, (dom: DomainRef) -> u64;
    DomainSetMaxMemory = REMOTE_PROGRAM / p::DOMAIN_SET_MAX_MEMORY, (dom: DomainRef, memory: u64) -> ();
    DomainSetMemory = REMOTE_PROGRAM / p::DOMAIN_SET_MEMORY, (dom: DomainRef, memory: u64) -> ();
    DomainSetMemoryFlags = REMOTE_PROGRAM / p::DOMAIN_SET_MEMORY_FLAGS, (dom: DomainRef, memory: u64, flags: u32) -> ();
    DomainGetVcpusFlags = REMOTE_PROGRAM / p::DOMAIN_GET_VCPUS_FLAGS, (dom: DomainRef, flags: u32) -> i32;
    DomainSetVcpus = REMOTE_PROGRAM / p::DOMAIN_SET_VCPUS, (dom: DomainRef, nvcpus: u32) -> ();
    DomainSetVcpusFlags = REMOTE_PROGRAM / p::DOMAIN_SET_VCPUS_FLAGS, (dom: DomainRef, nvcpus: u32, flags: u32) -> ();
    DomainGetMaxVcpus = REMOTE_PROGRAM / p::DOMAIN_GET_MAX_VCPUS, (dom: DomainRef) -> i32;
    DomainGetVcpus = REMOTE_PROGRAM / p::DOMAIN_GET_VCPUS, (dom: DomainRef, max_info: i32, map_len: i32) -> (Vec<VcpuInfo>, Opaque);
    DomainGetSchedulerType = REMOTE_PROGRAM / p::DOMAIN_GET_SCHEDULER_TYPE, (dom: DomainRef) -> (String, i32);
    DomainGetSchedulerParameters = REMOTE_PROGRAM / p::DOMAIN_GET_SCHEDULER_PARAMETERS, (dom: DomainRef, nparams: i32) -> Vec<TypedParam>;
    DomainGetSchedulerParametersFlags = REMOTE_PROGRAM / p::DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS, (dom: DomainRef, nparams: i32, flags: u32) -> Vec<TypedParam>;
    DomainSetSchedulerParameters = REMOTE_PROGRAM / p::DOMAIN_SET_SCHEDULER_PARAMETERS, (dom: DomainRef, params: Vec<TypedParam>) -> ();
    DomainSetSchedulerParametersFlags = REMOTE_PROGRAM / p::DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetMetadata = REMOTE_PROGRAM / p::DOMAIN_GET_METADATA, (dom: DomainRef, kind: i32, uri: Option<String>, flags: u32) -> String;
    DomainSetMetadata = REMOTE_PROGRAM / p::DOMAIN_SET_METADATA,
        (dom: DomainRef, kind: i32, metadata: Option<String>, key: Option<String>, uri: Option<String>, flags: u32) -> ();
    ConnectGetAllDomainStats = REMOTE_PROGRAM / p::CONNECT_GET_ALL_DOMAIN_STATS, (doms: Vec<DomainRef>, stats: u32, flags: u32) -> Vec<DomainStatsRecord>;
    DomainBlockStats = REMOTE_PROGRAM / p::DOMAIN_BLOCK_STATS, (dom: DomainRef, path: String) -> (i64, i64, i64, i64, i64);
    DomainBlockStatsFlags = REMOTE_PROGRAM / p::DOMAIN_BLOCK_STATS_FLAGS, (dom: DomainRef, path: String, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainInterfaceStats = REMOTE_PROGRAM / p::DOMAIN_INTERFACE_STATS, (dom: DomainRef, device: String) -> (i64, i64, i64, i64, i64, i64, i64, i64);
    DomainMemoryStats = REMOTE_PROGRAM / p::DOMAIN_MEMORY_STATS, (dom: DomainRef, max_stats: u32, flags: u32) -> Vec<MemoryStat>;
    DomainBlockResize = REMOTE_PROGRAM / p::DOMAIN_BLOCK_RESIZE, (dom: DomainRef, disk: String, size: u64, flags: u32) -> ();
    DomainAttachDevice = REMOTE_PROGRAM / p::DOMAIN_ATTACH_DEVICE, (dom: DomainRef, xml: String) -> ();
    DomainAttachDeviceFlags = REMOTE_PROGRAM / p::DOMAIN_ATTACH_DEVICE_FLAGS, (dom: DomainRef, xml: String, flags: u32) -> ();
    DomainDetachDevice = REMOTE_PROGRAM / p::DOMAIN_DETACH_DEVICE, (dom: DomainRef, xml: String) -> ();
    DomainDetachDeviceFlags = REMOTE_PROGRAM / p::DOMAIN_DETACH_DEVICE_FLAGS, (dom: DomainRef, xml: String, flags: u32) -> ();
    DomainDetachDeviceAlias = REMOTE_PROGRAM / p::DOMAIN_DETACH_DEVICE_ALIAS, (dom: DomainRef, alias: String, flags: u32) -> ();
    DomainUpdateDeviceFlags = REMOTE_PROGRAM / p::DOMAIN_UPDATE_DEVICE_FLAGS, (dom: DomainRef, xml: String, flags: u32) -> ();
    DomainOpenConsole = REMOTE_PROGRAM / p::DOMAIN_OPEN_CONSOLE, (dom: DomainRef, dev_name: Option<String>, flags: u32) -> ();
    DomainSendKey = REMOTE_PROGRAM / p::DOMAIN_SEND_KEY, (dom: DomainRef, codeset: u32, holdtime: u32, keycodes: Vec<u32>, flags: u32) -> ();
    DomainInjectNmi = REMOTE_PROGRAM / p::DOMAIN_INJECT_NMI, (dom: DomainRef, flags: u32) -> ();
    DomainGetSecurityLabel = REMOTE_PROGRAM / p::DOMAIN_GET_SECURITY_LABEL, (dom: DomainRef) -> SecurityLabelRet;
    DomainGetMessages = REMOTE_PROGRAM / p::DOMAIN_GET_MESSAGES, (dom: DomainRef, flags: u32) -> Vec<String>;

    DomainGetSecurityLabelList = REMOTE_PROGRAM / p::DOMAIN_GET_SECURITY_LABEL_LIST, (dom: DomainRef) -> (Vec<SecurityLabelRet>, i32);
    ConnectGetCpuModelNames = REMOTE_PROGRAM / p::CONNECT_GET_CPU_MODEL_NAMES, (arch: String, need_results: i32, flags: u32) -> (Vec<String>, i32);
    ConnectCompareCpu = REMOTE_PROGRAM / p::CONNECT_COMPARE_CPU, (xml: String, flags: u32) -> i32;
    ConnectBaselineCpu = REMOTE_PROGRAM / p::CONNECT_BASELINE_CPU, (xml_cpus: Vec<String>, flags: u32) -> String;
    DomainGetMemoryParameters = REMOTE_PROGRAM / p::DOMAIN_GET_MEMORY_PARAMETERS, (dom: DomainRef, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainSetMemoryParameters = REMOTE_PROGRAM / p::DOMAIN_SET_MEMORY_PARAMETERS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetBlkioParameters = REMOTE_PROGRAM / p::DOMAIN_GET_BLKIO_PARAMETERS, (dom: DomainRef, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainSetBlkioParameters = REMOTE_PROGRAM / p::DOMAIN_SET_BLKIO_PARAMETERS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetNumaParameters = REMOTE_PROGRAM / p::DOMAIN_GET_NUMA_PARAMETERS, (dom: DomainRef, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainSetNumaParameters = REMOTE_PROGRAM / p::DOMAIN_SET_NUMA_PARAMETERS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetInterfaceParameters = REMOTE_PROGRAM / p::DOMAIN_GET_INTERFACE_PARAMETERS, (dom: DomainRef, device: String, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainSetInterfaceParameters = REMOTE_PROGRAM / p::DOMAIN_SET_INTERFACE_PARAMETERS, (dom: DomainRef, device: String, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetBlockIoTune = REMOTE_PROGRAM / p::DOMAIN_GET_BLOCK_IO_TUNE, (dom: DomainRef, disk: Option<String>, nparams: i32, flags: u32) -> (Vec<TypedParam>, i32);
    DomainSetBlockIoTune = REMOTE_PROGRAM / p::DOMAIN_SET_BLOCK_IO_TUNE, (dom: DomainRef, disk: String, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetPerfEvents = REMOTE_PROGRAM / p::DOMAIN_GET_PERF_EVENTS, (dom: DomainRef, flags: u32) -> Vec<TypedParam>;
    DomainSetPerfEvents = REMOTE_PROGRAM / p::DOMAIN_SET_PERF_EVENTS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> ();
    DomainGetLaunchSecurityInfo = REMOTE_PROGRAM / p::DOMAIN_GET_LAUNCH_SECURITY_INFO, (dom: DomainRef, flags: u32) -> Vec<TypedParam>;
    DomainGetGuestInfo = REMOTE_PROGRAM / p::DOMAIN_GET_GUEST_INFO, (dom: DomainRef, types: u32, flags: u32) -> Vec<TypedParam>;
    DomainGetBlockInfo = REMOTE_PROGRAM / p::DOMAIN_GET_BLOCK_INFO, (dom: DomainRef, path: String, flags: u32) -> (u64, u64, u64);
    DomainGetVcpuPinInfo = REMOTE_PROGRAM / p::DOMAIN_GET_VCPU_PIN_INFO, (dom: DomainRef, ncpumaps: i32, maplen: i32, flags: u32) -> (Opaque, i32);
    DomainPinVcpu = REMOTE_PROGRAM / p::DOMAIN_PIN_VCPU, (dom: DomainRef, vcpu: u32, cpumap: Opaque) -> ();
    DomainPinVcpuFlags = REMOTE_PROGRAM / p::DOMAIN_PIN_VCPU_FLAGS, (dom: DomainRef, vcpu: u32, cpumap: Opaque, flags: u32) -> ();
    DomainInterfaceAddresses = REMOTE_PROGRAM / p::DOMAIN_INTERFACE_ADDRESSES, (dom: DomainRef, source: u32, flags: u32) -> Vec<GuestIface>;
    DomainGetJobStats = REMOTE_PROGRAM / p::DOMAIN_GET_JOB_STATS, (dom: DomainRef, flags: u32) -> (i32, Vec<TypedParam>);
    DomainGetJobInfo = REMOTE_PROGRAM / p::DOMAIN_GET_JOB_INFO, (dom: DomainRef) -> JobInfoRet;
    DomainAbortJob = REMOTE_PROGRAM / p::DOMAIN_ABORT_JOB, (dom: DomainRef) -> ();
    DomainAbortJobFlags = REMOTE_PROGRAM / p::DOMAIN_ABORT_JOB_FLAGS, (dom: DomainRef, flags: u32) -> ();
    // ---- migration (protocol version 3 with parameters) ----
    DomainMigrateBegin3Params = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_BEGIN3_PARAMS, (dom: DomainRef, params: Vec<TypedParam>, flags: u32) -> (Opaque, String);
    DomainMigratePrepare3Params = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_PREPARE3_PARAMS, (params: Vec<TypedParam>, cookie_in: Opaque, flags: u32) -> (Opaque, Option<String>);
    DomainMigratePerform3Params = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_PERFORM3_PARAMS, (dom: DomainRef, dconnuri: Option<String>, params: Vec<TypedParam>, cookie_in: Opaque, flags: u32) -> Opaque;
    DomainMigrateFinish3Params = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_FINISH3_PARAMS, (params: Vec<TypedParam>, cookie_in: Opaque, flags: u32, cancelled: i32) -> (DomainRef, Opaque);
    DomainMigrateConfirm3Params = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_CONFIRM3_PARAMS, (dom: DomainRef, params: Vec<TypedParam>, cookie_in: Opaque, flags: u32, cancelled: i32) -> ();
    DomainMigrateSetMaxSpeed = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_SET_MAX_SPEED, (dom: DomainRef, bandwidth: u64, flags: u32) -> ();
    DomainMigrateGetMaxSpeed = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_GET_MAX_SPEED, (dom: DomainRef, flags: u32) -> u64;
    DomainMigrateSetMaxDowntime = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_SET_MAX_DOWNTIME, (dom: DomainRef, downtime: u64, flags: u32) -> ();
    DomainMigrateGetMaxDowntime = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_GET_MAX_DOWNTIME, (dom: DomainRef, flags: u32) -> u64;
    DomainMigrateStartPostCopy = REMOTE_PROGRAM / p::DOMAIN_MIGRATE_START_POST_COPY, (dom: DomainRef, flags: u32) -> ();
    DomainCoreDump = REMOTE_PROGRAM / p::DOMAIN_CORE_DUMP, (dom: DomainRef, to: String, flags: u32) -> ();
    DomainCoreDumpWithFormat = REMOTE_PROGRAM / p::DOMAIN_CORE_DUMP_WITH_FORMAT, (dom: DomainRef, to: String, format: u32, flags: u32) -> ();
    DomainSetLifecycleAction = REMOTE_PROGRAM / p::DOMAIN_SET_LIFECYCLE_ACTION, (dom: DomainRef, kind: u32, action: u32, flags: u32) -> ();
    DomainGetTime = REMOTE_PROGRAM / p::DOMAIN_GET_TIME, (dom: DomainRef, flags: u32) -> (i64, u32);
    DomainSetTime = REMOTE_PROGRAM / p::DOMAIN_SET_TIME, (dom: DomainRef, seconds: i64, nseconds: u32, flags: u32) -> ();
    DomainFsFreeze = REMOTE_PROGRAM / p::DOMAIN_FSFREEZE, (dom: DomainRef, mountpoints: Vec<String>, flags: u32) -> i32;
    DomainFsThaw = REMOTE_PROGRAM / p::DOMAIN_FSTHAW, (dom: DomainRef, mountpoints: Vec<String>, flags: u32) -> i32;
    DomainGetDiskErrors = REMOTE_PROGRAM / p::DOMAIN_GET_DISK_ERRORS, (dom: DomainRef, max_errors: u32, flags: u32) -> (Vec<DiskError>, i32);

    // ---- snapshots ----
    DomainSnapshotCreateXml = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_CREATE_XML, (dom: DomainRef, xml_desc: String, flags: u32) -> SnapshotRef;
    DomainSnapshotGetXmlDesc = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_GET_XML_DESC, (snap: SnapshotRef, flags: u32) -> String;
    DomainSnapshotNum = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_NUM, (dom: DomainRef, flags: u32) -> i32;
    DomainSnapshotListNames = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_LIST_NAMES, (dom: DomainRef, max_names: i32, flags: u32) -> Vec<String>;
    DomainListAllSnapshots = REMOTE_PROGRAM / p::DOMAIN_LIST_ALL_SNAPSHOTS, (dom: DomainRef, need_results: i32, flags: u32) -> (Vec<SnapshotRef>, i32);
    DomainSnapshotNumChildren = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_NUM_CHILDREN, (snap: SnapshotRef, flags: u32) -> i32;
    DomainSnapshotListChildrenNames = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES, (snap: SnapshotRef, max_names: i32, flags: u32) -> Vec<String>;
    DomainSnapshotListAllChildren = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, (snap: SnapshotRef, need_results: i32, flags: u32) -> (Vec<SnapshotRef>, i32);
    DomainSnapshotLookupByName = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, (dom: DomainRef, name: String, flags: u32) -> SnapshotRef;
    DomainHasCurrentSnapshot = REMOTE_PROGRAM / p::DOMAIN_HAS_CURRENT_SNAPSHOT, (dom: DomainRef, flags: u32) -> i32;
    DomainSnapshotGetParent = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_GET_PARENT, (snap: SnapshotRef, flags: u32) -> SnapshotRef;
    DomainSnapshotCurrent = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_CURRENT, (dom: DomainRef, flags: u32) -> SnapshotRef;
    DomainSnapshotIsCurrent = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_IS_CURRENT, (snap: SnapshotRef, flags: u32) -> i32;
    DomainSnapshotHasMetadata = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_HAS_METADATA, (snap: SnapshotRef, flags: u32) -> i32;
    DomainRevertToSnapshot = REMOTE_PROGRAM / p::DOMAIN_REVERT_TO_SNAPSHOT, (snap: SnapshotRef, flags: u32) -> ();
    DomainSnapshotDelete = REMOTE_PROGRAM / p::DOMAIN_SNAPSHOT_DELETE, (snap: SnapshotRef, flags: u32) -> ();

    // ---- networks ----
    ConnectListAllNetworks = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_NETWORKS, (need_results: i32, flags: u32) -> (Vec<NetworkRef>, u32);
    ConnectNumOfNetworks = REMOTE_PROGRAM / p::CONNECT_NUM_OF_NETWORKS, () -> i32;
    ConnectListNetworks = REMOTE_PROGRAM / p::CONNECT_LIST_NETWORKS, (max_names: i32) -> Vec<String>;
    ConnectNumOfDefinedNetworks = REMOTE_PROGRAM / p::CONNECT_NUM_OF_DEFINED_NETWORKS, () -> i32;
    ConnectListDefinedNetworks = REMOTE_PROGRAM / p::CONNECT_LIST_DEFINED_NETWORKS, (max_names: i32) -> Vec<String>;
    NetworkLookupByName = REMOTE_PROGRAM / p::NETWORK_LOOKUP_BY_NAME, (name: String) -> NetworkRef;
    NetworkLookupByUuid = REMOTE_PROGRAM / p::NETWORK_LOOKUP_BY_UUID, (uuid: Uuid) -> NetworkRef;
    NetworkDefineXml = REMOTE_PROGRAM / p::NETWORK_DEFINE_XML, (xml: String) -> NetworkRef;
    NetworkDefineXmlFlags = REMOTE_PROGRAM / p::NETWORK_DEFINE_XML_FLAGS, (xml: String, flags: u32) -> NetworkRef;
    NetworkCreateXml = REMOTE_PROGRAM / p::NETWORK_CREATE_XML, (xml: String) -> NetworkRef;
    NetworkCreateXmlFlags = REMOTE_PROGRAM / p::NETWORK_CREATE_XML_FLAGS, (xml: String, flags: u32) -> NetworkRef;
    NetworkCreate = REMOTE_PROGRAM / p::NETWORK_CREATE, (net: NetworkRef) -> ();
    NetworkDestroy = REMOTE_PROGRAM / p::NETWORK_DESTROY, (net: NetworkRef) -> ();
    NetworkUndefine = REMOTE_PROGRAM / p::NETWORK_UNDEFINE, (net: NetworkRef) -> ();
    NetworkGetXmlDesc = REMOTE_PROGRAM / p::NETWORK_GET_XML_DESC, (net: NetworkRef, flags: u32) -> String;
    NetworkGetAutostart = REMOTE_PROGRAM / p::NETWORK_GET_AUTOSTART, (net: NetworkRef) -> i32;
    NetworkSetAutostart = REMOTE_PROGRAM / p::NETWORK_SET_AUTOSTART, (net: NetworkRef, autostart: i32) -> ();
    NetworkGetBridgeName = REMOTE_PROGRAM / p::NETWORK_GET_BRIDGE_NAME, (net: NetworkRef) -> String;
    NetworkIsActive = REMOTE_PROGRAM / p::NETWORK_IS_ACTIVE, (net: NetworkRef) -> i32;
    NetworkIsPersistent = REMOTE_PROGRAM / p::NETWORK_IS_PERSISTENT, (net: NetworkRef) -> i32;
    NetworkUpdate = REMOTE_PROGRAM / p::NETWORK_UPDATE,
        (net: NetworkRef, command: u32, section: u32, parent_index: i32, xml: String, flags: u32) -> ();
    NetworkGetDhcpLeases = REMOTE_PROGRAM / p::NETWORK_GET_DHCP_LEASES,
        (net: NetworkRef, mac: Option<String>, need_results: i32, flags: u32) -> (Vec<DhcpLease>, u32);

    // ---- storage ----
    ConnectListAllStoragePools = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_STORAGE_POOLS, (need_results: i32, flags: u32) -> (Vec<StoragePoolRef>, u32);
    ConnectNumOfStoragePools = REMOTE_PROGRAM / p::CONNECT_NUM_OF_STORAGE_POOLS, () -> i32;
    ConnectListStoragePools = REMOTE_PROGRAM / p::CONNECT_LIST_STORAGE_POOLS, (max_names: i32) -> Vec<String>;
    ConnectNumOfDefinedStoragePools = REMOTE_PROGRAM / p::CONNECT_NUM_OF_DEFINED_STORAGE_POOLS, () -> i32;
    ConnectListDefinedStoragePools = REMOTE_PROGRAM / p::CONNECT_LIST_DEFINED_STORAGE_POOLS, (max_names: i32) -> Vec<String>;
    ConnectFindStoragePoolSources = REMOTE_PROGRAM / p::CONNECT_FIND_STORAGE_POOL_SOURCES, (kind: String, src_spec: Option<String>, flags: u32) -> String;
    StoragePoolLookupByName = REMOTE_PROGRAM / p::STORAGE_POOL_LOOKUP_BY_NAME, (name: String) -> StoragePoolRef;
    StoragePoolLookupByUuid = REMOTE_PROGRAM / p::STORAGE_POOL_LOOKUP_BY_UUID, (uuid: Uuid) -> StoragePoolRef;
    StoragePoolLookupByVolume = REMOTE_PROGRAM / p::STORAGE_POOL_LOOKUP_BY_VOLUME, (vol: StorageVolRef) -> StoragePoolRef;
    StoragePoolDefineXml = REMOTE_PROGRAM / p::STORAGE_POOL_DEFINE_XML, (xml: String, flags: u32) -> StoragePoolRef;
    StoragePoolCreateXml = REMOTE_PROGRAM / p::STORAGE_POOL_CREATE_XML, (xml: String, flags: u32) -> StoragePoolRef;
    StoragePoolCreate = REMOTE_PROGRAM / p::STORAGE_POOL_CREATE, (pool: StoragePoolRef, flags: u32) -> ();
    StoragePoolBuild = REMOTE_PROGRAM / p::STORAGE_POOL_BUILD, (pool: StoragePoolRef, flags: u32) -> ();
    StoragePoolDestroy = REMOTE_PROGRAM / p::STORAGE_POOL_DESTROY, (pool: StoragePoolRef) -> ();
    StoragePoolDelete = REMOTE_PROGRAM / p::STORAGE_POOL_DELETE, (pool: StoragePoolRef, flags: u32) -> ();
    StoragePoolUndefine = REMOTE_PROGRAM / p::STORAGE_POOL_UNDEFINE, (pool: StoragePoolRef) -> ();
    StoragePoolRefresh = REMOTE_PROGRAM / p::STORAGE_POOL_REFRESH, (pool: StoragePoolRef, flags: u32) -> ();
    StoragePoolGetInfo = REMOTE_PROGRAM / p::STORAGE_POOL_GET_INFO, (pool: StoragePoolRef) -> PoolInfoRet;
    StoragePoolGetXmlDesc = REMOTE_PROGRAM / p::STORAGE_POOL_GET_XML_DESC, (pool: StoragePoolRef, flags: u32) -> String;
    StoragePoolGetAutostart = REMOTE_PROGRAM / p::STORAGE_POOL_GET_AUTOSTART, (pool: StoragePoolRef) -> i32;
    StoragePoolSetAutostart = REMOTE_PROGRAM / p::STORAGE_POOL_SET_AUTOSTART, (pool: StoragePoolRef, autostart: i32) -> ();
    StoragePoolIsActive = REMOTE_PROGRAM / p::STORAGE_POOL_IS_ACTIVE, (pool: StoragePoolRef) -> i32;
    StoragePoolIsPersistent = REMOTE_PROGRAM / p::STORAGE_POOL_IS_PERSISTENT, (pool: StoragePoolRef) -> i32;
    StoragePoolListAllVolumes = REMOTE_PROGRAM / p::STORAGE_POOL_LIST_ALL_VOLUMES, (pool: StoragePoolRef, need_results: i32, flags: u32) -> (Vec<StorageVolRef>, u32);
    StoragePoolNumOfVolumes = REMOTE_PROGRAM / p::STORAGE_POOL_NUM_OF_VOLUMES, (pool: StoragePoolRef) -> i32;
    StoragePoolListVolumes = REMOTE_PROGRAM / p::STORAGE_POOL_LIST_VOLUMES, (pool: StoragePoolRef, max_names: i32) -> Vec<String>;
    StorageVolLookupByName = REMOTE_PROGRAM / p::STORAGE_VOL_LOOKUP_BY_NAME, (pool: StoragePoolRef, name: String) -> StorageVolRef;
    StorageVolLookupByKey = REMOTE_PROGRAM / p::STORAGE_VOL_LOOKUP_BY_KEY, (key: String) -> StorageVolRef;
    StorageVolLookupByPath = REMOTE_PROGRAM / p::STORAGE_VOL_LOOKUP_BY_PATH, (path: String) -> StorageVolRef;
    StorageVolCreateXml = REMOTE_PROGRAM / p::STORAGE_VOL_CREATE_XML, (pool: StoragePoolRef, xml: String, flags: u32) -> StorageVolRef;
    StorageVolCreateXmlFrom = REMOTE_PROGRAM / p::STORAGE_VOL_CREATE_XML_FROM, (pool: StoragePoolRef, xml: String, clone_vol: StorageVolRef, flags: u32) -> StorageVolRef;
    StorageVolDelete = REMOTE_PROGRAM / p::STORAGE_VOL_DELETE, (vol: StorageVolRef, flags: u32) -> ();
    StorageVolWipe = REMOTE_PROGRAM / p::STORAGE_VOL_WIPE, (vol: StorageVolRef, flags: u32) -> ();
    StorageVolResize = REMOTE_PROGRAM / p::STORAGE_VOL_RESIZE, (vol: StorageVolRef, capacity: u64, flags: u32) -> ();
    StorageVolGetInfo = REMOTE_PROGRAM / p::STORAGE_VOL_GET_INFO, (vol: StorageVolRef) -> VolInfoRet;
    StorageVolGetInfoFlags = REMOTE_PROGRAM / p::STORAGE_VOL_GET_INFO_FLAGS, (vol: StorageVolRef, flags: u32) -> VolInfoRet;
    StorageVolGetXmlDesc = REMOTE_PROGRAM / p::STORAGE_VOL_GET_XML_DESC, (vol: StorageVolRef, flags: u32) -> String;
    StorageVolGetPath = REMOTE_PROGRAM / p::STORAGE_VOL_GET_PATH, (vol: StorageVolRef) -> String;
    StorageVolUpload = REMOTE_PROGRAM / p::STORAGE_VOL_UPLOAD, (vol: StorageVolRef, offset: u64, length: u64, flags: u32) -> ();
    StorageVolDownload = REMOTE_PROGRAM / p::STORAGE_VOL_DOWNLOAD, (vol: StorageVolRef, offset: u64, length: u64, flags: u32) -> ();

    // ---- node devices, interfaces, secrets ----
    ConnectListAllNodeDevices = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_NODE_DEVICES, (need_results: i32, flags: u32) -> (Vec<String>, u32);
    NodeNumOfDevices = REMOTE_PROGRAM / p::NODE_NUM_OF_DEVICES, (cap: Option<String>, flags: u32) -> i32;
    NodeListDevices = REMOTE_PROGRAM / p::NODE_LIST_DEVICES, (cap: Option<String>, max_names: i32, flags: u32) -> Vec<String>;
    NodeDeviceLookupByName = REMOTE_PROGRAM / p::NODE_DEVICE_LOOKUP_BY_NAME, (name: String) -> String;
    NodeDeviceGetXmlDesc = REMOTE_PROGRAM / p::NODE_DEVICE_GET_XML_DESC, (name: String, flags: u32) -> String;
    NodeDeviceGetParent = REMOTE_PROGRAM / p::NODE_DEVICE_GET_PARENT, (name: String) -> Option<String>;
    NodeDeviceNumOfCaps = REMOTE_PROGRAM / p::NODE_DEVICE_NUM_OF_CAPS, (name: String) -> i32;
    NodeDeviceListCaps = REMOTE_PROGRAM / p::NODE_DEVICE_LIST_CAPS, (name: String, max_names: i32) -> Vec<String>;
    ConnectListAllInterfaces = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_INTERFACES, (need_results: i32, flags: u32) -> (Vec<InterfaceRef>, u32);
    ConnectNumOfInterfaces = REMOTE_PROGRAM / p::CONNECT_NUM_OF_INTERFACES, () -> i32;
    ConnectListInterfaces = REMOTE_PROGRAM / p::CONNECT_LIST_INTERFACES, (max_names: i32) -> Vec<String>;
    ConnectNumOfDefinedInterfaces = REMOTE_PROGRAM / p::CONNECT_NUM_OF_DEFINED_INTERFACES, () -> i32;
    ConnectListDefinedInterfaces = REMOTE_PROGRAM / p::CONNECT_LIST_DEFINED_INTERFACES, (max_names: i32) -> Vec<String>;
    InterfaceLookupByName = REMOTE_PROGRAM / p::INTERFACE_LOOKUP_BY_NAME, (name: String) -> InterfaceRef;
    InterfaceLookupByMacString = REMOTE_PROGRAM / p::INTERFACE_LOOKUP_BY_MAC_STRING, (mac: String) -> InterfaceRef;
    InterfaceGetXmlDesc = REMOTE_PROGRAM / p::INTERFACE_GET_XML_DESC, (iface: InterfaceRef, flags: u32) -> String;
    InterfaceIsActive = REMOTE_PROGRAM / p::INTERFACE_IS_ACTIVE, (iface: InterfaceRef) -> i32;
    ConnectListAllSecrets = REMOTE_PROGRAM / p::CONNECT_LIST_ALL_SECRETS, (need_results: i32, flags: u32) -> (Vec<SecretRef>, u32);
    ConnectNumOfSecrets = REMOTE_PROGRAM / p::CONNECT_NUM_OF_SECRETS, () -> i32;
    ConnectListSecrets = REMOTE_PROGRAM / p::CONNECT_LIST_SECRETS, (max_uuids: i32) -> Vec<String>;
    SecretLookupByUuid = REMOTE_PROGRAM / p::SECRET_LOOKUP_BY_UUID, (uuid: Uuid) -> SecretRef;
    SecretLookupByUsage = REMOTE_PROGRAM / p::SECRET_LOOKUP_BY_USAGE, (usage_type: i32, usage_id: String) -> SecretRef;
    SecretDefineXml = REMOTE_PROGRAM / p::SECRET_DEFINE_XML, (xml: String, flags: u32) -> SecretRef;
    SecretGetXmlDesc = REMOTE_PROGRAM / p::SECRET_GET_XML_DESC, (secret: SecretRef, flags: u32) -> String;
    SecretSetValue = REMOTE_PROGRAM / p::SECRET_SET_VALUE, (secret: SecretRef, value: Opaque, flags: u32) -> ();
    SecretGetValue = REMOTE_PROGRAM / p::SECRET_GET_VALUE, (secret: SecretRef, flags: u32) -> Opaque;
    SecretUndefine = REMOTE_PROGRAM / p::SECRET_UNDEFINE, (secret: SecretRef) -> ();

    // ---- event registration ----
    ConnectDomainEventCallbackRegisterAny = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (event_id: i32, dom: Option<DomainRef>) -> i32;
    ConnectDomainEventCallbackDeregisterAny = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, (callback_id: i32) -> ();
    ConnectDomainEventRegisterAny = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_REGISTER_ANY, (event_id: i32) -> ();
    ConnectDomainEventDeregisterAny = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, (event_id: i32) -> ();
    ConnectDomainEventRegister = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_REGISTER, () -> i32;
    ConnectDomainEventDeregister = REMOTE_PROGRAM / p::CONNECT_DOMAIN_EVENT_DEREGISTER, () -> i32;
    ConnectNetworkEventRegisterAny = REMOTE_PROGRAM / p::CONNECT_NETWORK_EVENT_REGISTER_ANY, (event_id: i32, net: Option<NetworkRef>) -> i32;
    ConnectNetworkEventDeregisterAny = REMOTE_PROGRAM / p::CONNECT_NETWORK_EVENT_DEREGISTER_ANY, (callback_id: i32) -> ();
    ConnectStoragePoolEventRegisterAny = REMOTE_PROGRAM / p::CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, (event_id: i32, pool: Option<StoragePoolRef>) -> i32;
    ConnectStoragePoolEventDeregisterAny = REMOTE_PROGRAM / p::CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY, (callback_id: i32) -> ();
    ConnectNodeDeviceEventRegisterAny = REMOTE_PROGRAM / p::CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY, (event_id: i32, dev: Option<String>) -> i32;
    ConnectNodeDeviceEventDeregisterAny = REMOTE_PROGRAM / p::CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY, (callback_id: i32) -> ();
    ConnectSecretEventRegisterAny = REMOTE_PROGRAM / p::CONNECT_SECRET_EVENT_REGISTER_ANY, (event_id: i32, secret: Option<SecretRef>) -> i32;
    ConnectSecretEventDeregisterAny = REMOTE_PROGRAM / p::CONNECT_SECRET_EVENT_DEREGISTER_ANY, (callback_id: i32) -> ();

    // ---- the QEMU program ----
    QemuDomainMonitorCommand = QEMU_PROGRAM / 1, (dom: DomainRef, cmd: String, flags: u32) -> String;
    QemuDomainAgentCommand = QEMU_PROGRAM / 3, (dom: DomainRef, cmd: String, timeout: i32, flags: u32) -> Option<String>;

    // ---- rvirt's admin program (RVIRT_ADMIN_PROGRAM, version 1) ----
    // struct rvirt_plugin_capability { string kind; string patterns<>; };
    // struct rvirt_plugin_info { string name; string version; string wit_version;
    //     string uri_schemes<>; rvirt_plugin_capability requested<>;
    //     rvirt_plugin_capability granted<>; bool loaded; bool cached; string path;
    //     unsigned int generation; };
    /// Every driver plugin of the daemon's host (`rvirsh plugin-list`). Any open connection.
    RvirtPluginList = RVIRT_ADMIN_PROGRAM / 1, (flags: u32) -> Vec<virt_core::PluginInfo>;
    /// Swaps plugin `name` for its files on disk now (`rvirsh plugin-reload`). Read-write
    /// connections only; a refused reload is an error and the running version keeps serving.
    RvirtPluginReload = RVIRT_ADMIN_PROGRAM / 2, (name: String, flags: u32) -> virt_core::PluginInfo;
}

/// `virConnectSupportsFeature` numbers the protocol layer answers itself.
pub mod feature {
    pub const FD_PASSING: i32 = 8;
    pub const TYPED_PARAM_STRING: i32 = 9;
    pub const PROGRAM_KEEPALIVE: i32 = 10;
    pub const REMOTE_EVENT_CALLBACK: i32 = 14;
    pub const REMOTE_CLOSE_CALLBACK: i32 = 15;
}

/// `VIR_TYPED_PARAM_STRING_OKAY`: the caller accepts string-typed parameters.
pub const TYPED_PARAM_STRING_OKAY: u32 = 1 << 2;

/// Auth types in AUTH_LIST.
pub mod auth_type {
    pub const NONE: i32 = 0;
    pub const SASL: i32 = 1;
    pub const POLKIT: i32 = 2;
}

// ---- errors on the wire ----

/// `remote_error` (`virNetMessageError`): what an ERROR reply carries.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteError {
    pub code: i32,
    pub domain: i32,
    pub message: Option<String>,
    pub level: i32,
    pub dom: Option<DomainRef>,
    pub str1: Option<String>,
    pub str2: Option<String>,
    pub str3: Option<String>,
    pub int1: i32,
    pub int2: i32,
    pub net: Option<NetworkRef>,
}

/// `VIR_ERR_ERROR`.
const LEVEL_ERROR: i32 = 2;

impl Xdr for RemoteError {
    const MIN_SIZE: usize = 44;
    fn encode(&self, out: &mut Vec<u8>) {
        self.code.encode(out);
        self.domain.encode(out);
        self.message.encode(out);
        self.level.encode(out);
        self.dom.encode(out);
        self.str1.encode(out);
        self.str2.encode(out);
        self.str3.encode(out);
        self.int1.encode(out);
        self.int2.encode(out);
        self.net.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(RemoteError {
            code: i32::decode(input)?,
            domain: i32::decode(input)?,
            message: Option::decode(input)?,
            level: i32::decode(input)?,
            dom: Option::decode(input)?,
            str1: Option::decode(input)?,
            str2: Option::decode(input)?,
            str3: Option::decode(input)?,
            int1: i32::decode(input)?,
            int2: i32::decode(input)?,
            net: Option::decode(input)?,
        })
    }
}

impl From<&Error> for RemoteError {
    /// Fills the fields the way libvirtd does: the full message, the code's template as
    /// `str1` and, when the message is that template filled in, the detail as `str2`.
    fn from(error: &Error) -> Self {
        let template = error.code().template();
        let detail = template.split_once("%s").and_then(|(prefix, suffix)| {
            error
                .message()
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .map(str::to_string)
        });
        let (str1, str2) = match detail {
            Some(detail) => (Some(template.to_string()), Some(detail)),
            None => (Some(error.message().to_string()), None),
        };
        RemoteError {
            code: error.code().0,
            domain: error.domain().0,
            message: Some(error.message().to_string()),
            level: LEVEL_ERROR,
            dom: None,
            str1,
            str2,
            str3: None,
            int1: -1,
            int2: -1,
            net: None,
        }
    }
}

impl From<RemoteError> for Error {
    /// Like libvirt's client: an "unknown procedure" RPC error means the peer lacks the call,
    /// which callers see as VIR_ERR_NO_SUPPORT.
    fn from(remote: RemoteError) -> Self {
        let code = ErrorNumber(remote.code);
        let domain = ErrorDomain(remote.domain);
        let message = remote.message.unwrap_or_else(|| code.summary().to_string());
        if code == ErrorNumber::RPC
            && (domain == ErrorDomain::RPC || domain == ErrorDomain::REMOTE)
            && message.starts_with("unknown procedure")
        {
            return Error::from_parts(ErrorNumber::NO_SUPPORT, domain, message);
        }
        Error::from_parts(code, domain, message)
    }
}

/// VIR_ERR_RPC from the RPC domain with a verbatim message, as libvirtd's protocol layer
/// reports problems with a message itself.
pub fn rpc_error(message: impl Into<String>) -> Error {
    Error::from_parts(ErrorNumber::RPC, ErrorDomain::RPC, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_known_facts() {
        let info = procedure_info(remote_proc::DOMAIN_GET_XML_DESC as i32).expect("exists");
        assert_eq!(
            (info.name, info.api, info.writes),
            ("DOMAIN_GET_XML_DESC", "virDomainGetXMLDesc", false)
        );
        let info = procedure_info(remote_proc::DOMAIN_DEFINE_XML as i32).expect("exists");
        assert!(info.writes && info.high_priority);
        assert_eq!(info.family.error_domain(), ErrorDomain::DOMAIN);
        let info = procedure_info(remote_proc::NETWORK_DEFINE_XML as i32).expect("exists");
        assert_eq!(info.family.error_domain(), ErrorDomain::NETWORK);
        assert_eq!(
            procedure_info(remote_proc::STORAGE_VOL_UPLOAD as i32).map(|i| i.stream),
            Some(StreamKind::Write)
        );
        assert_eq!(
            procedure_info(remote_proc::STORAGE_VOL_DOWNLOAD as i32).map(|i| i.stream),
            Some(StreamKind::Read)
        );
        assert!(procedure_info(0).is_none());
        assert!(procedure_info(9999).is_none());
        assert!(procedure_info(-3).is_none());
        assert_eq!(last_procedure(), 443);
        assert_eq!(remote_proc::CONNECT_LIST_ALL_DOMAINS, 273);
        assert_eq!(remote_proc::DOMAIN_EVENT_CALLBACK_LIFECYCLE, 318);
    }

    #[test]
    fn error_matches_the_captured_reply() {
        let error = Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::TEST, "");
        let remote = RemoteError::from(&error);
        let wire = crate::xdr::to_bytes(&remote);
        let mut want = vec![0, 0, 0, 0x2a, 0, 0, 0, 0x0c, 0, 0, 0, 1, 0, 0, 0, 0x10];
        want.extend_from_slice(b"Domain not found");
        want.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x10]);
        want.extend_from_slice(b"Domain not found");
        want.extend_from_slice(&[
            0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        assert_eq!(wire, want);
    }

    #[test]
    fn error_detail_goes_to_str2() {
        let error = Error::new(
            ErrorNumber::NO_NETWORK,
            ErrorDomain::NETWORK,
            "no network with matching name 'x'",
        );
        let remote = RemoteError::from(&error);
        assert_eq!(remote.str1.as_deref(), Some("Network not found: %s"));
        assert_eq!(
            remote.str2.as_deref(),
            Some("no network with matching name 'x'")
        );
        let back = Error::from(remote);
        assert_eq!(back, error);
    }

    #[test]
    fn unknown_procedure_becomes_no_support() {
        let remote = RemoteError::from(&rpc_error("unknown procedure: 9999"));
        assert_eq!(Error::from(remote).code(), ErrorNumber::NO_SUPPORT);
    }
}
