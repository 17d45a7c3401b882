//! libvirt's error vocabulary: `virErrorNumber`, `virErrorDomain` and the one [`Error`] type
//! every rvirt layer returns.
//!
//! The numbers and default messages are defined once, in the tables below; everything else
//! (the wire protocol, the WIT boundary, the CLI's "error: ..." lines) uses these values.

use std::fmt;

/// A `virErrorNumber`. A newtype rather than an enum so that codes from a newer peer survive
/// a round trip unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorNumber(pub i32);

/// A `virErrorDomain`: which part of libvirt raised the error.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorDomain(pub i32);

macro_rules! error_numbers {
    ($($name:ident = $value:literal, $summary:literal, $template:literal;)*) => {
        impl ErrorNumber {
            $(pub const $name: ErrorNumber = ErrorNumber($value);)*

            /// libvirt's constant name without the `VIR_ERR_` prefix, e.g. "NO_DOMAIN".
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// The message libvirt uses when there is no detail, e.g. "Domain not found".
            pub fn summary(self) -> &'static str {
                match self.0 {
                    $($value => $summary,)*
                    _ => "unknown error",
                }
            }

            /// libvirt's message template with one `%s` for the detail.
            pub fn template(self) -> &'static str {
                match self.0 {
                    $($value => $template,)*
                    _ => "%s",
                }
            }
        }
    };
}

error_numbers! {
    OK = 0, "", "%s";
    INTERNAL_ERROR = 1, "internal error", "internal error: %s";
    NO_MEMORY = 2, "out of memory", "out of memory: %s";
    NO_SUPPORT = 3, "this function is not supported by the connection driver", "this function is not supported by the connection driver: %s";
    UNKNOWN_HOST = 4, "unknown host", "unknown host %s";
    NO_CONNECT = 5, "no connection driver available", "no connection driver available for %s";
    INVALID_CONN = 6, "invalid connection pointer in", "invalid connection pointer in %s";
    INVALID_DOMAIN = 7, "invalid domain pointer in", "invalid domain pointer in %s";
    INVALID_ARG = 8, "invalid argument", "invalid argument: %s";
    OPERATION_FAILED = 9, "operation failed", "operation failed: %s";
    GET_FAILED = 10, "GET operation failed", "GET operation failed: %s";
    POST_FAILED = 11, "POST operation failed", "POST operation failed: %s";
    HTTP_ERROR = 12, "got unknown HTTP error code", "got unknown HTTP error code %s";
    SEXPR_SERIAL = 13, "failed to serialize S-Expr", "failed to serialize S-Expr: %s";
    NO_XEN = 14, "could not use Xen hypervisor entry", "could not use Xen hypervisor entry %s";
    XEN_CALL = 15, "failed Xen syscall", "failed Xen syscall %s";
    OS_TYPE = 16, "unknown OS type", "unknown OS type %s";
    NO_KERNEL = 17, "missing kernel information", "missing kernel information: %s";
    NO_ROOT = 18, "missing root device information", "missing root device information in %s";
    NO_SOURCE = 19, "missing source information for device", "missing source information for device %s";
    NO_TARGET = 20, "missing target information for device", "missing target information for device %s";
    NO_NAME = 21, "missing name information", "missing name information in %s";
    NO_OS = 22, "missing operating system information", "missing operating system information for %s";
    NO_DEVICE = 23, "missing devices information", "missing devices information for %s";
    NO_XENSTORE = 24, "could not connect to Xen Store", "could not connect to Xen Store %s";
    DRIVER_FULL = 25, "too many drivers registered", "too many drivers registered in %s";
    CALL_FAILED = 26, "library call failed", "library call failed: %s";
    XML_ERROR = 27, "XML description is invalid or not well formed", "XML error: %s";
    DOM_EXIST = 28, "this domain exists already", "domain %s exists already";
    OPERATION_DENIED = 29, "operation forbidden for read only access", "operation forbidden: %s";
    OPEN_FAILED = 30, "failed to open configuration file", "failed to open configuration file %s";
    READ_FAILED = 31, "failed to read configuration file", "failed to read configuration file %s";
    PARSE_FAILED = 32, "failed to parse configuration file", "failed to parse configuration file %s";
    CONF_SYNTAX = 33, "configuration file syntax error", "configuration file syntax error: %s";
    WRITE_FAILED = 34, "failed to write configuration file", "failed to write configuration file: %s";
    XML_DETAIL = 35, "parser error", "%s";
    INVALID_NETWORK = 36, "invalid network pointer in", "invalid network pointer in %s";
    NETWORK_EXIST = 37, "this network exists already", "network %s exists already";
    SYSTEM_ERROR = 38, "system call error", "%s";
    RPC = 39, "RPC error", "%s";
    GNUTLS_ERROR = 40, "GNUTLS call error", "%s";
    WAR_NO_NETWORK = 41, "Failed to find the network", "Failed to find the network: %s";
    NO_DOMAIN = 42, "Domain not found", "Domain not found: %s";
    NO_NETWORK = 43, "Network not found", "Network not found: %s";
    INVALID_MAC = 44, "invalid MAC address", "invalid MAC address: %s";
    AUTH_FAILED = 45, "authentication failed", "authentication failed: %s";
    INVALID_STORAGE_POOL = 46, "invalid storage pool pointer in", "invalid storage pool pointer in %s";
    INVALID_STORAGE_VOL = 47, "invalid storage volume pointer in", "invalid storage volume pointer in %s";
    WAR_NO_STORAGE = 48, "Failed to find a storage driver", "Failed to find a storage driver: %s";
    NO_STORAGE_POOL = 49, "Storage pool not found", "Storage pool not found: %s";
    NO_STORAGE_VOL = 50, "Storage volume not found", "Storage volume not found: %s";
    WAR_NO_NODE = 51, "Failed to find a node driver", "Failed to find a node driver: %s";
    INVALID_NODE_DEVICE = 52, "invalid node device pointer", "invalid node device pointer in %s";
    NO_NODE_DEVICE = 53, "Node device not found", "Node device not found: %s";
    NO_SECURITY_MODEL = 54, "Security model not found", "Security model not found: %s";
    OPERATION_INVALID = 55, "Requested operation is not valid", "Requested operation is not valid: %s";
    WAR_NO_INTERFACE = 56, "Failed to find the interface", "Failed to find the interface: %s";
    NO_INTERFACE = 57, "Interface not found", "Interface not found: %s";
    INVALID_INTERFACE = 58, "invalid interface pointer in", "invalid interface pointer in %s";
    MULTIPLE_INTERFACES = 59, "multiple matching interfaces found", "multiple matching interfaces found: %s";
    WAR_NO_NWFILTER = 60, "Failed to start the nwfilter driver", "Failed to start the nwfilter driver: %s";
    INVALID_NWFILTER = 61, "Invalid network filter", "Invalid network filter: %s";
    NO_NWFILTER = 62, "Network filter not found", "Network filter not found: %s";
    BUILD_FIREWALL = 63, "Error while building firewall", "Error while building firewall: %s";
    WAR_NO_SECRET = 64, "Failed to find a secret storage driver", "Failed to find a secret storage driver: %s";
    INVALID_SECRET = 65, "Invalid secret", "Invalid secret: %s";
    NO_SECRET = 66, "Secret not found", "Secret not found: %s";
    CONFIG_UNSUPPORTED = 67, "unsupported configuration", "unsupported configuration: %s";
    OPERATION_TIMEOUT = 68, "Timed out during operation", "Timed out during operation: %s";
    MIGRATE_PERSIST_FAILED = 69, "Failed to make domain persistent after migration", "Failed to make domain persistent after migration: %s";
    HOOK_SCRIPT_FAILED = 70, "Hook script execution failed", "Hook script execution failed: %s";
    INVALID_DOMAIN_SNAPSHOT = 71, "Invalid domain snapshot", "Invalid domain snapshot: %s";
    NO_DOMAIN_SNAPSHOT = 72, "Domain snapshot not found", "Domain snapshot not found: %s";
    INVALID_STREAM = 73, "invalid stream pointer", "invalid stream pointer in %s";
    ARGUMENT_UNSUPPORTED = 74, "argument unsupported", "argument unsupported: %s";
    STORAGE_PROBE_FAILED = 75, "Storage pool probe failed", "Storage pool probe failed: %s";
    STORAGE_POOL_BUILT = 76, "Storage pool already built", "Storage pool already built: %s";
    SNAPSHOT_REVERT_RISKY = 77, "revert requires force", "revert requires force: %s";
    OPERATION_ABORTED = 78, "operation aborted", "operation aborted: %s";
    AUTH_CANCELLED = 79, "authentication cancelled", "authentication cancelled: %s";
    NO_DOMAIN_METADATA = 80, "metadata not found", "metadata not found: %s";
    MIGRATE_UNSAFE = 81, "Unsafe migration", "Unsafe migration: %s";
    OVERFLOW = 82, "numerical overflow", "numerical overflow: %s";
    BLOCK_COPY_ACTIVE = 83, "block copy still active", "block copy still active: %s";
    OPERATION_UNSUPPORTED = 84, "Operation not supported", "Operation not supported: %s";
    SSH = 85, "SSH transport error", "SSH transport error: %s";
    AGENT_UNRESPONSIVE = 86, "Guest agent is not responding", "Guest agent is not responding: %s";
    RESOURCE_BUSY = 87, "resource busy", "resource busy: %s";
    ACCESS_DENIED = 88, "access denied", "access denied: %s";
    DBUS_SERVICE = 89, "error from service", "error from service: %s";
    STORAGE_VOL_EXIST = 90, "this storage volume exists already", "storage volume %s exists already";
    CPU_INCOMPATIBLE = 91, "the CPU is incompatible with host CPU", "the CPU is incompatible with host CPU: %s";
    XML_INVALID_SCHEMA = 92, "XML document failed to validate against schema", "XML document failed to validate against schema: %s";
    MIGRATE_FINISH_OK = 93, "migration successfully aborted", "migration successfully aborted: %s";
    AUTH_UNAVAILABLE = 94, "authentication unavailable", "authentication unavailable: %s";
    NO_SERVER = 95, "Server not found", "Server not found: %s";
    NO_CLIENT = 96, "Client not found", "Client not found: %s";
    AGENT_UNSYNCED = 97, "guest agent replied with wrong id to guest-sync command", "guest agent replied with wrong id to guest-sync command: %s";
    LIBSSH = 98, "libssh transport error", "libssh transport error: %s";
    DEVICE_MISSING = 99, "device not found", "device not found: %s";
    INVALID_NWFILTER_BINDING = 100, "Invalid network filter binding", "Invalid network filter binding: %s";
    NO_NWFILTER_BINDING = 101, "Network filter binding not found", "Network filter binding not found: %s";
    INVALID_DOMAIN_CHECKPOINT = 102, "Invalid domain checkpoint", "Invalid domain checkpoint: %s";
    NO_DOMAIN_CHECKPOINT = 103, "Domain checkpoint not found", "Domain checkpoint not found: %s";
    NO_DOMAIN_BACKUP = 104, "Domain backup job id not found", "Domain backup job id not found: %s";
    INVALID_NETWORK_PORT = 105, "Invalid network port pointer", "Invalid network port pointer: %s";
    NETWORK_PORT_EXIST = 106, "this network port exists already", "network port %s exists already";
    NO_NETWORK_PORT = 107, "network port not found", "network port not found: %s";
    NO_HOSTNAME = 108, "no hostname found", "no hostname found: %s";
    CHECKPOINT_INCONSISTENT = 109, "checkpoint inconsistent", "checkpoint inconsistent: %s";
    MULTIPLE_DOMAINS = 110, "multiple matching domains found", "multiple matching domains found: %s";
}

macro_rules! error_domains {
    ($($name:ident = $value:literal;)*) => {
        impl ErrorDomain {
            $(pub const $name: ErrorDomain = ErrorDomain($value);)*

            /// libvirt's constant name without the `VIR_FROM_` prefix, e.g. "TEST".
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

error_domains! {
    NONE = 0; XEN = 1; XEND = 2; XENSTORE = 3; SEXPR = 4; XML = 5; DOM = 6; RPC = 7; PROXY = 8;
    CONF = 9; QEMU = 10; NET = 11; TEST = 12; REMOTE = 13; OPENVZ = 14; XENXM = 15;
    STATS_LINUX = 16; LXC = 17; STORAGE = 18; NETWORK = 19; DOMAIN = 20; UML = 21; NODEDEV = 22;
    XEN_INOTIFY = 23; SECURITY = 24; VBOX = 25; INTERFACE = 26; ONE = 27; ESX = 28; PHYP = 29;
    SECRET = 30; CPU = 31; XENAPI = 32; NWFILTER = 33; HOOK = 34; DOMAIN_SNAPSHOT = 35;
    AUDIT = 36; SYSINFO = 37; STREAMS = 38; VMWARE = 39; EVENT = 40; LIBXL = 41; LOCKING = 42;
    HYPERV = 43; CAPABILITIES = 44; URI = 45; AUTH = 46; DBUS = 47; PARALLELS = 48; DEVICE = 49;
    SSH = 50; LOCKSPACE = 51; INITCTL = 52; IDENTITY = 53; CGROUP = 54; ACCESS = 55;
    SYSTEMD = 56; BHYVE = 57; CRYPTO = 58; FIREWALL = 59; POLKIT = 60; THREAD = 61; ADMIN = 62;
    LOGGING = 63; XENXL = 64; PERF = 65; LIBSSH = 66; RESCTRL = 67; FIREWALLD = 68;
    DOMAIN_CHECKPOINT = 69; TPM = 70; BPF = 71; CH = 72;
}

impl fmt::Debug for ErrorNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "VIR_ERR_{name}({})", self.0),
            None => write!(f, "ErrorNumber({})", self.0),
        }
    }
}

impl fmt::Debug for ErrorDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "VIR_FROM_{name}({})", self.0),
            None => write!(f, "ErrorDomain({})", self.0),
        }
    }
}

/// An error as libvirt reports it: number, domain and the full message a user reads.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    code: ErrorNumber,
    domain: ErrorDomain,
    message: String,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{:?}: {}", self.code, self.domain, self.message)
    }
}

impl Error {
    /// An error whose message is `code`'s template filled with `detail`, as libvirt's
    /// `virReportError` builds it: `Error::new(NO_DOMAIN, TEST, "no domain with matching name 'x'")`
    /// reads "Domain not found: no domain with matching name 'x'".
    pub fn new(code: ErrorNumber, domain: ErrorDomain, detail: impl AsRef<str>) -> Self {
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            code.summary().to_string()
        } else {
            code.template().replacen("%s", detail, 1)
        };
        Error {
            code,
            domain,
            message,
        }
    }

    /// An error with a message taken verbatim (from a peer, or already formatted).
    pub fn from_parts(code: ErrorNumber, domain: ErrorDomain, message: impl Into<String>) -> Self {
        Error {
            code,
            domain,
            message: message.into(),
        }
    }

    pub fn code(&self) -> ErrorNumber {
        self.code
    }

    pub fn domain(&self) -> ErrorDomain {
        self.domain
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error reported from another part of libvirt.
    pub fn with_domain(mut self, domain: ErrorDomain) -> Self {
        self.domain = domain;
        self
    }

    /// VIR_ERR_NO_SUPPORT for `operation` (e.g. "virDomainSnapshotCreateXML").
    pub fn no_support(domain: ErrorDomain, operation: &str) -> Self {
        Error::new(ErrorNumber::NO_SUPPORT, domain, operation)
    }

    /// VIR_ERR_INTERNAL_ERROR.
    pub fn internal(domain: ErrorDomain, detail: impl AsRef<str>) -> Self {
        Error::new(ErrorNumber::INTERNAL_ERROR, domain, detail)
    }

    /// VIR_ERR_INVALID_ARG "unsupported flags (0x..) in function NAME", as libvirt's
    /// `virCheckFlags` reports it (without the "invalid argument" prefix).
    pub fn unsupported_flags(domain: ErrorDomain, flags: u32, function: &str) -> Self {
        Error::from_parts(
            ErrorNumber::INVALID_ARG,
            domain,
            format!("unsupported flags (0x{flags:x}) in function {function}"),
        )
    }

    /// VIR_ERR_OPERATION_DENIED for a write on a read-only connection, as libvirt's client
    /// library refuses it: "read only access prevents virDomainSuspend".
    pub fn read_only(domain: ErrorDomain, api: &str) -> Self {
        Error::new(
            ErrorNumber::OPERATION_DENIED,
            domain,
            format!("read only access prevents {api}"),
        )
    }

    /// Fails with [`Error::unsupported_flags`] when `flags` has a bit outside `allowed`.
    pub fn check_flags(
        domain: ErrorDomain,
        flags: u32,
        allowed: u32,
        function: &str,
    ) -> Result<(), Error> {
        if flags & !allowed != 0 {
            return Err(Error::unsupported_flags(domain, flags & !allowed, function));
        }
        Ok(())
    }
}

/// Shorthand for results carrying an [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_fills_the_template() {
        let error = Error::new(
            ErrorNumber::NO_DOMAIN,
            ErrorDomain::TEST,
            "no domain with matching name 'x'",
        );
        assert_eq!(
            error.message(),
            "Domain not found: no domain with matching name 'x'"
        );
        assert_eq!(error.code().0, 42);
        assert_eq!(error.domain().0, 12);
    }

    #[test]
    fn empty_detail_uses_the_summary() {
        let error = Error::new(ErrorNumber::OPERATION_DENIED, ErrorDomain::NONE, "");
        assert_eq!(error.message(), "operation forbidden for read only access");
    }

    #[test]
    fn unknown_numbers_survive() {
        let code = ErrorNumber(4242);
        assert_eq!(code.name(), None);
        assert_eq!(format!("{code:?}"), "ErrorNumber(4242)");
        assert_eq!(
            format!("{:?}", ErrorNumber::XML_DETAIL),
            "VIR_ERR_XML_DETAIL(35)"
        );
    }

    #[test]
    fn flags_check_reports_the_extra_bits() {
        let error = Error::check_flags(
            ErrorDomain::DOMAIN,
            0x1_0003,
            0x3,
            "virConnectListAllDomains",
        )
        .expect_err("extra bit");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert_eq!(
            error.message(),
            "unsupported flags (0x10000) in function virConnectListAllDomains"
        );
    }
}
