//! The values API calls take and return: object references (what a `virDomainPtr` and its
//! siblings carry), typed parameters and the small info records.

use std::fmt;

pub use uuid::Uuid;

use crate::error::{Error, ErrorDomain, ErrorNumber};

/// Parses a UUID the way libvirt does: 32 hex digits, hyphens allowed between byte pairs,
/// surrounding whitespace ignored.
pub fn parse_uuid(text: &str) -> Option<Uuid> {
    // Bytes, not chars: listings parse one key per object, and char decoding dominated that.
    // A byte of a multi-byte character is no hex digit, so such text is refused as before.
    fn hex(byte: u8) -> Option<u8> {
        match byte {
            b'0'..=b'9' => Some(byte - b'0'),
            b'a'..=b'f' => Some(byte - b'a' + 10),
            b'A'..=b'F' => Some(byte - b'A' + 10),
            _ => None,
        }
    }
    let mut bytes = [0u8; 16];
    // The canonical form (how every record key and libvirt's own output spell it), straight.
    let canonical = text.as_bytes();
    if canonical.len() == 36 && [8, 13, 18, 23].iter().all(|&i| canonical[i] == b'-') {
        const DIGIT_AT: [usize; 32] = [
            0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27,
            28, 29, 30, 31, 32, 33, 34, 35,
        ];
        for (byte, at) in bytes.iter_mut().zip(DIGIT_AT.chunks_exact(2)) {
            *byte = hex(canonical[at[0]])? << 4 | hex(canonical[at[1]])?;
        }
        return Some(Uuid::from_bytes(bytes));
    }
    let mut n_bytes = 0;
    let mut digits = text.trim().bytes().filter(|b| *b != b'-');
    while n_bytes < 16 {
        let high = hex(digits.next()?)?;
        let low = hex(digits.next()?)?;
        bytes[n_bytes] = high << 4 | low;
        n_bytes += 1;
    }
    if digits.next().is_some() {
        return None;
    }
    Some(Uuid::from_bytes(bytes))
}

/// A UUID argument that did not parse: libvirt's client-side VIR_ERR_INVALID_ARG.
pub fn invalid_uuid(text: &str) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::NONE,
        format!("Invalid UUID '{text}'"),
    )
}

/// What identifies a domain across the API: name, UUID and (while running) its id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DomainRef {
    pub name: String,
    pub uuid: Uuid,
    /// -1 while the domain is inactive.
    pub id: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetworkRef {
    pub name: String,
    pub uuid: Uuid,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StoragePoolRef {
    pub name: String,
    pub uuid: Uuid,
}

/// A storage volume: the pool's name, its own name and its unique key (the path for file
/// volumes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StorageVolRef {
    pub pool: String,
    pub name: String,
    pub key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InterfaceRef {
    pub name: String,
    pub mac: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    pub uuid: Uuid,
    /// A `virSecretUsageType`.
    pub usage_type: i32,
    pub usage_id: String,
}

/// One `virTypedParameter`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedParam {
    pub field: String,
    pub value: TypedValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypedValue {
    Int(i32),
    UInt(u32),
    LLong(i64),
    ULLong(u64),
    Double(f64),
    Boolean(bool),
    String(String),
}

impl TypedParam {
    pub fn new(field: impl Into<String>, value: TypedValue) -> Self {
        TypedParam {
            field: field.into(),
            value,
        }
    }
}

impl TypedValue {
    /// libvirt's `virTypedParameterType` number of this value.
    pub fn type_code(&self) -> i32 {
        match self {
            TypedValue::Int(_) => 1,
            TypedValue::UInt(_) => 2,
            TypedValue::LLong(_) => 3,
            TypedValue::ULLong(_) => 4,
            TypedValue::Double(_) => 5,
            TypedValue::Boolean(_) => 6,
            TypedValue::String(_) => 7,
        }
    }
}

impl fmt::Display for TypedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypedValue::Int(v) => write!(f, "{v}"),
            TypedValue::UInt(v) => write!(f, "{v}"),
            TypedValue::LLong(v) => write!(f, "{v}"),
            TypedValue::ULLong(v) => write!(f, "{v}"),
            TypedValue::Double(v) => write!(f, "{v:.6}"),
            TypedValue::Boolean(v) => write!(f, "{}", if *v { "yes" } else { "no" }),
            TypedValue::String(v) => f.write_str(v),
        }
    }
}

/// `virDomainInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainInfo {
    /// A `virDomainState` (see [`crate::consts::domain_state`]).
    pub state: u8,
    pub max_mem_kib: u64,
    pub memory_kib: u64,
    pub nr_virt_cpu: u16,
    pub cpu_time_ns: u64,
}

/// A `virDomainState` with its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainState {
    pub state: i32,
    pub reason: i32,
}

/// The yes/no facts libvirt asks for one call at a time (`virDomainIsActive`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectStatus {
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
    pub updated: bool,
    pub has_managed_save: bool,
}

/// `virNodeInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub model: String,
    pub memory_kib: u64,
    pub cpus: u32,
    pub mhz: u32,
    pub nodes: u32,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
}

/// `virStoragePoolInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoragePoolInfo {
    /// A `virStoragePoolState`.
    pub state: i32,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
}

/// `virStorageVolInfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageVolInfo {
    /// A `virStorageVolType`.
    pub kind: i32,
    pub capacity: u64,
    pub allocation: u64,
}

/// `virSecurityLabel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityLabel {
    pub label: String,
    pub enforcing: bool,
}

/// `virSecurityModel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityModel {
    pub model: String,
    pub doi: String,
}

/// `virDomainBlockInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub capacity: u64,
    pub allocation: u64,
    pub physical: u64,
}

/// `virVcpuInfo` with the vCPU's affinity (one bit per host CPU).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VcpuInfo {
    pub number: u32,
    /// A `virVcpuState`.
    pub state: i32,
    pub cpu_time_ns: u64,
    /// Host CPU it last ran on, -1 if unknown.
    pub cpu: i32,
    pub cpumap: Vec<u8>,
}

/// One guest IP address; `kind` is a `virIPAddrType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpAddress {
    pub kind: i32,
    pub address: String,
    pub prefix: u32,
}

/// `virDomainInterface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestInterface {
    pub name: String,
    pub hwaddr: Option<String>,
    pub addresses: Vec<IpAddress>,
}

/// `virNetworkDHCPLease`: one lease a network's DHCP server handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkDhcpLease {
    /// The network's bridge.
    pub iface: String,
    /// Seconds since the epoch; 0 when the lease does not expire.
    pub expiry_time: i64,
    /// `virIPAddrType`: 0 IPv4, 1 IPv6.
    pub kind: i32,
    pub mac: Option<String>,
    pub iaid: Option<String>,
    pub address: String,
    pub prefix: u32,
    pub hostname: Option<String>,
    pub client_id: Option<String>,
}

/// `virDomainGetJobStats`: the job type and its statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct JobStats {
    /// A `virDomainJobType`.
    pub kind: i32,
    pub params: Vec<TypedParam>,
}

/// What a migration's Begin phase hands on (`virDomainMigrateBegin3Params`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationBegun {
    /// The source driver's cookie for the destination's Prepare.
    pub cookie: Vec<u8>,
    /// The domain XML the destination is to start.
    pub xml: String,
}

/// What a migration's Prepare phase hands on (`virDomainMigratePrepare3Params`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationPrepared {
    /// The destination driver's cookie for the source's Perform.
    pub cookie: Vec<u8>,
    /// Where the source sends the state, when the destination chose it.
    pub uri: Option<String>,
}

/// Which `virDomainGet*Parameters` / `virDomainSet*Parameters` family a call is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParameterSet {
    Memory,
    Blkio,
    Numa,
    /// Per interface (`virDomainGetInterfaceParameters`).
    Interface,
    /// Per disk (`virDomainGetBlockIoTune`).
    BlockIoTune,
    PerfEvents,
    LaunchSecurity,
    GuestInfo,
}

/// Where a domain's console is, for the layer that moves its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleEndpoint {
    Pty(String),
    UnixSocket(String),
}

/// One privileged capability kind of a plugin and its patterns (`spawn`: program globs,
/// `unix-connect`: socket directories, ...), as in a plugin manifest's `[capabilities]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginCapability {
    /// The manifest's key: `spawn`, `unix-connect`, `files-read`, `files-write`, `net`.
    pub kind: String,
    pub patterns: Vec<String>,
}

/// A driver plugin as its host sees it (rvirt's admin API, not libvirt's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginInfo {
    pub name: String,
    /// The plugin's own version: the loaded component's, else its manifest's.
    pub version: String,
    /// The `rvirt:driver` WIT version it speaks.
    pub wit_version: String,
    pub uri_schemes: Vec<String>,
    /// What its manifest asks for.
    pub requested: Vec<PluginCapability>,
    /// What the operator's grants allow it.
    pub granted: Vec<PluginCapability>,
    /// Instantiated in the serving host.
    pub loaded: bool,
    /// A compiled artifact for exactly its component is in the host's compile cache.
    pub cached: bool,
    /// Where its component is.
    pub path: String,
    /// Times it was swapped under the running host (`plugin-reload`, SIGHUP).
    pub generation: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_forms_libvirt_accepts() {
        let want = parse_uuid("6695eb01-f6a4-8304-79aa-97f2502e193f").expect("hyphenated");
        assert_eq!(parse_uuid("6695eb01f6a4830479aa97f2502e193f"), Some(want));
        assert_eq!(
            parse_uuid(" 6695eb01-f6a4830479aa97f2502e193f \n"),
            Some(want)
        );
        assert_eq!(want.to_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(
            parse_uuid("6695EB01-F6A4-8304-79AA-97F2502E193F"),
            Some(want)
        );
        assert_eq!(parse_uuid("6695eb01-f6a4-8304-79aa-97f2502e193g"), None);
        assert_eq!(parse_uuid("6695eb01-f6a4-8304-79aa-97f2502e19é"), None);
        assert_eq!(parse_uuid("6695eb01f6a4830479aa97f2502e193f00"), None);
        assert_eq!(parse_uuid("6695eb01f6a4830479aa97f2502e19"), None);
    }
}
