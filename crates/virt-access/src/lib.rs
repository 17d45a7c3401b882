//! libvirt's access control, as rvirtd applies it: the objects and permissions of libvirt's
//! ACL model (`org.libvirt.api.$object.$permission`), who a client is ([`Subject`]), and the
//! rules file that decides whether a subject may use a permission on an object
//! ([`AccessRules`]).
//!
//! This crate knows nothing of the wire: which procedure needs which permission on which
//! object is a fact of the remote protocol and lives in virt-rpc's procedure table, which
//! asks [`AccessRules::check`] once per permission.
//!
//! A decision is made by the first rule, in file order, that matches the subject, the
//! permission and the object. When no rule matches, libvirt's own default policy applies:
//! the permissions libvirt marks anonymous (`getattr`, `read` and the `search_*` ones) are
//! allowed to every client, every other one is denied.

mod rules;

pub use rules::{AccessRules, RulesError, Verdict};

use std::fmt;

use virt_core::{Error, ErrorDomain, ErrorNumber};

/// The kinds of object libvirt's ACL model names (`virAccessPerm*` in libvirt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    Connect,
    Domain,
    Interface,
    Network,
    NetworkPort,
    NodeDevice,
    NwFilter,
    NwFilterBinding,
    Secret,
    StoragePool,
    StorageVol,
}

impl Object {
    pub const ALL: [Object; 11] = [
        Object::Connect,
        Object::Domain,
        Object::Interface,
        Object::Network,
        Object::NetworkPort,
        Object::NodeDevice,
        Object::NwFilter,
        Object::NwFilterBinding,
        Object::Secret,
        Object::StoragePool,
        Object::StorageVol,
    ];

    /// The name in permission strings: "domain", "storage_pool", ...
    pub fn name(self) -> &'static str {
        match self {
            Object::Connect => "connect",
            Object::Domain => "domain",
            Object::Interface => "interface",
            Object::Network => "network",
            Object::NetworkPort => "network_port",
            Object::NodeDevice => "node_device",
            Object::NwFilter => "nwfilter",
            Object::NwFilterBinding => "nwfilter_binding",
            Object::Secret => "secret",
            Object::StoragePool => "storage_pool",
            Object::StorageVol => "storage_vol",
        }
    }

    pub fn from_name(name: &str) -> Option<Object> {
        Object::ALL.into_iter().find(|object| object.name() == name)
    }

    /// The permissions libvirt defines on this kind of object, in libvirt's order.
    pub fn permissions(self) -> &'static [&'static str] {
        match self {
            Object::Connect => &[
                "getattr",
                "read",
                "write",
                "search_domains",
                "search_networks",
                "search_storage_pools",
                "search_node_devices",
                "search_interfaces",
                "search_secrets",
                "search_nwfilters",
                "search_nwfilter_bindings",
                "detect_storage_pools",
                "pm_control",
                "interface_transaction",
            ],
            Object::Domain => &[
                "getattr",
                "read",
                "write",
                "read_secure",
                "start",
                "stop",
                "reset",
                "save",
                "delete",
                "migrate",
                "checkpoint",
                "snapshot",
                "suspend",
                "hibernate",
                "core_dump",
                "pm_control",
                "init_control",
                "inject_nmi",
                "send_input",
                "send_signal",
                "fs_trim",
                "fs_freeze",
                "block_read",
                "block_write",
                "mem_read",
                "open_graphics",
                "open_device",
                "screenshot",
                "open_namespace",
                "set_time",
                "set_password",
            ],
            Object::Interface => &[
                "getattr", "read", "write", "save", "delete", "start", "stop",
            ],
            Object::Network => &[
                "getattr",
                "read",
                "write",
                "save",
                "delete",
                "start",
                "stop",
                "search_ports",
            ],
            Object::NetworkPort => &["getattr", "read", "write", "create", "delete"],
            Object::NodeDevice => &[
                "getattr", "read", "write", "start", "stop", "detach", "delete",
            ],
            Object::NwFilter => &["getattr", "read", "write", "save", "delete"],
            Object::NwFilterBinding => &["getattr", "read", "create", "delete"],
            Object::Secret => &["getattr", "read", "write", "read_secure", "save", "delete"],
            Object::StoragePool => &[
                "getattr",
                "read",
                "write",
                "save",
                "delete",
                "start",
                "stop",
                "refresh",
                "search_storage_vols",
                "format",
            ],
            Object::StorageVol => &[
                "getattr",
                "read",
                "create",
                "delete",
                "format",
                "resize",
                "data_read",
                "data_write",
            ],
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One permission on one kind of object: `domain:start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Permission {
    pub object: Object,
    pub name: &'static str,
}

impl Permission {
    /// `domain:start`, or polkit's action id `org.libvirt.api.domain.start`.
    pub fn parse(text: &str) -> Option<Permission> {
        let (object, name) = split_permission(text)?;
        let object = Object::from_name(&object)?;
        let name = object.permissions().iter().find(|p| **p == name)?;
        Some(Permission { object, name })
    }

    /// libvirt's default policy (its polkit policy file): permissions that only observe an
    /// object's existence or its non-secret state are allowed to anyone.
    pub fn is_anonymous(self) -> bool {
        match self.object {
            Object::Connect => {
                matches!(self.name, "getattr" | "read") || self.name.starts_with("search_")
            }
            // A node device's getattr is anonymous but its read is not.
            Object::NodeDevice => self.name == "getattr",
            _ => matches!(self.name, "getattr" | "read"),
        }
    }

    /// polkit's action id, for logs and the audit file.
    pub fn action_id(self) -> String {
        format!(
            "org.libvirt.api.{}.{}",
            self.object.name().replace('_', "-"),
            self.name.replace('_', "-")
        )
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object, self.name)
    }
}

/// "domain:start" or "org.libvirt.api.domain.start" → ("domain", "start"), with polkit's
/// dashes turned back into underscores.
fn split_permission(text: &str) -> Option<(String, String)> {
    let text = text.trim();
    if let Some(action) = text.strip_prefix("org.libvirt.api.") {
        let (object, name) = action.split_once('.')?;
        return Some((object.replace('-', "_"), name.replace('-', "_")));
    }
    let (object, name) = text.split_once(':')?;
    Some((object.to_string(), name.to_string()))
}

/// The unix account behind a client of the unix socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixIdentity {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
    /// The user name, when the account database knows the uid.
    pub user: Option<String>,
    /// Names of the user's groups (primary and supplementary) the account database knows.
    pub groups: Vec<String>,
}

/// Who a client is, as far as the daemon could tell when it connected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub unix: Option<UnixIdentity>,
    /// The distinguished name of a TLS client's certificate, in libvirt's form
    /// (`C=GB,O=Example,CN=client`: attributes in certificate order, no spaces).
    pub x509_dname: Option<String>,
    /// The name a client authenticated as with SASL.
    pub sasl_user: Option<String>,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(unix) = &self.unix {
            let user = unix.user.as_deref().unwrap_or("?");
            parts.push(format!("unix-user={}({user})", unix.uid));
            if let Some(pid) = unix.pid {
                parts.push(format!("pid={pid}"));
            }
        }
        if let Some(dname) = &self.x509_dname {
            parts.push(format!("x509-dname={dname:?}"));
        }
        if let Some(user) = &self.sasl_user {
            parts.push(format!("sasl-user={user}"));
        }
        if parts.is_empty() {
            f.write_str("anonymous")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// The object a permission is asked on. `name` and `uuid` are absent for `connect` and
/// when the call does not name the object before the driver creates it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// libvirt's name for the driver serving the connection ([`driver_name`]).
    pub driver: &'a str,
    pub name: Option<&'a str>,
    pub uuid: Option<&'a str>,
}

/// libvirt's name for the driver serving a URI scheme, as its `'QEMU' denied access`
/// messages and polkit's `connect_driver` attribute spell it.
pub fn driver_name(scheme: &str) -> &str {
    match scheme {
        "qemu" => "QEMU",
        "lxc" => "LXC",
        "test" => "Test",
        "xen" => "xenlight",
        "bhyve" => "bhyve",
        "vbox" => "VBOX",
        "vz" | "parallels" => "vz",
        "openvz" => "OPENVZ",
        "esx" | "gsx" | "vpx" => "ESX",
        "vmwareplayer" | "vmwarews" | "vmwarefusion" => "VMWARE",
        "hyperv" => "Hyper-V",
        "phyp" => "PHYP",
        other => other,
    }
}

/// The error a denied call answers, as libvirt's generated ACL checks report it.
pub fn denied_error(driver: &str) -> Error {
    Error::new(
        ErrorNumber::ACCESS_DENIED,
        ErrorDomain::ACCESS,
        format!("'{driver}' denied access"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_in_both_spellings() {
        let start = Permission::parse("domain:start").expect("domain:start");
        assert_eq!(start.object, Object::Domain);
        assert_eq!(
            Permission::parse("org.libvirt.api.domain.start"),
            Some(start)
        );
        assert_eq!(
            Permission::parse("org.libvirt.api.storage-pool.search-storage-vols")
                .map(|p| p.to_string()),
            Some("storage_pool:search_storage_vols".into())
        );
        assert_eq!(start.action_id(), "org.libvirt.api.domain.start");
        assert_eq!(Permission::parse("domain:fly"), None);
        assert_eq!(Permission::parse("spaceship:start"), None);
    }

    #[test]
    fn anonymous_permissions_follow_libvirts_policy() {
        let anonymous = |text: &str| Permission::parse(text).map(Permission::is_anonymous);
        assert_eq!(anonymous("connect:search_domains"), Some(true));
        assert_eq!(anonymous("connect:write"), Some(false));
        assert_eq!(anonymous("domain:read"), Some(true));
        assert_eq!(anonymous("domain:read_secure"), Some(false));
        assert_eq!(anonymous("node_device:getattr"), Some(true));
        assert_eq!(anonymous("node_device:read"), Some(false));
    }

    #[test]
    fn denial_reads_like_libvirts() {
        let error = denied_error("QEMU");
        assert_eq!(error.code(), ErrorNumber::ACCESS_DENIED);
        assert_eq!(error.domain(), ErrorDomain::ACCESS);
        assert_eq!(error.message(), "access denied: 'QEMU' denied access");
    }
}
