//! Per-procedure access control: libvirt's `@acl` checks and `@aclfilter` list filtering,
//! decided by a [`virt_access::AccessRules`] file.
//!
//! Where libvirt checks inside each driver (after it has looked the object up), rvirtd
//! checks here, once for every driver: before the call for the objects its arguments name
//! (or the XML it defines names), after the call for what a lookup found, and object by
//! object for what a listing returns. A denial answers VIR_ERR_ACCESS_DENIED with libvirt's
//! message (`access denied: 'QEMU' denied access`), changes nothing, and is audited: a
//! `tracing` line (target `audit`) and, when configured, a line in the audit file.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use virt_access::{AccessRules, Object, Permission, Subject, Target};
use virt_core::{DomainRef, Error, NetworkRef, SecretRef, StoragePoolRef, StorageVolRef, Uuid};

use crate::protocol::{AclCheck, ObjectArg, ProcedureInfo};
use crate::xdr::{Decoder, Xdr};

/// The daemon's access control: the rules and where denials are recorded.
#[derive(Debug)]
pub struct AccessControl {
    rules: AccessRules,
    audit: Option<Mutex<File>>,
}

impl AccessControl {
    /// Access control by `rules`; each denial is also appended to `audit_file` if given.
    pub fn new(rules: AccessRules, audit_file: Option<&Path>) -> std::io::Result<AccessControl> {
        let audit = audit_file
            .map(|path| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
            })
            .transpose()?
            .map(Mutex::new);
        Ok(AccessControl { rules, audit })
    }

    pub fn rules(&self) -> &AccessRules {
        &self.rules
    }

    /// May `subject` use `permission` on `target`? A denial is audited and answered with
    /// libvirt's error.
    pub fn check(
        &self,
        subject: &Subject,
        permission: Permission,
        target: &Target<'_>,
        api: &str,
    ) -> Result<(), Error> {
        if self.allows(subject, permission, target, api, true) {
            Ok(())
        } else {
            Err(virt_access::denied_error(target.driver))
        }
    }

    /// Like [`check`](Self::check) without the error; `audit` false for list filtering,
    /// where a hidden object is the expected outcome, not an incident.
    fn allows(
        &self,
        subject: &Subject,
        permission: Permission,
        target: &Target<'_>,
        api: &str,
        audit: bool,
    ) -> bool {
        let verdict = self.rules.check(subject, permission, target);
        if verdict.allowed || !audit {
            return verdict.allowed;
        }
        let rule = verdict
            .rule
            .map_or_else(|| "default".to_string(), |rule| rule.to_string());
        tracing::warn!(
            target: "audit",
            subject = %subject,
            action = %permission.action_id(),
            driver = target.driver,
            object = target.name.unwrap_or("-"),
            api,
            rule,
            "access denied"
        );
        if let Some(audit) = &self.audit {
            let mut line = String::new();
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let _ = write!(
                line,
                "time={}.{:03} result=deny {subject} action={} driver={} api={api}",
                now.as_secs(),
                now.subsec_millis(),
                permission.action_id(),
                target.driver
            );
            if let Some(name) = target.name {
                let _ = write!(line, " name={name:?}");
            }
            if let Some(uuid) = target.uuid {
                let _ = write!(line, " uuid={uuid}");
            }
            let _ = writeln!(line, " rule={rule}");
            let mut file = audit.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(error) = file.write_all(line.as_bytes()) {
                tracing::error!("cannot write the access audit file: {error}");
            }
        }
        false
    }
}

/// The object a check is about: its name and UUID as far as the call tells.
#[derive(Debug, Default)]
struct ObjectId {
    name: Option<String>,
    uuid: Option<String>,
}

impl ObjectId {
    fn of(name: impl Into<String>, uuid: Option<Uuid>) -> ObjectId {
        ObjectId {
            name: Some(name.into()),
            uuid: uuid.map(|u| u.to_string()),
        }
    }
}

/// libvirt's object name for what an argument of kind `arg` names.
fn object_of(arg: ObjectArg) -> Option<&'static str> {
    Some(match arg {
        ObjectArg::None | ObjectArg::Name => return None,
        ObjectArg::Domain | ObjectArg::DomainOfSnapshot => "domain",
        ObjectArg::Network => "network",
        ObjectArg::NetworkPort => "network_port",
        ObjectArg::StoragePool => "storage_pool",
        ObjectArg::StorageVol => "storage_vol",
        ObjectArg::NodeDevice => "node_device",
        ObjectArg::Secret => "secret",
        ObjectArg::Interface => "interface",
        ObjectArg::NwFilter => "nwfilter",
        ObjectArg::NwFilterBinding => "nwfilter_binding",
    })
}

/// The object named at the start of `bytes`, decoded as `arg` says.
fn decode_object(arg: ObjectArg, bytes: &[u8]) -> Option<ObjectId> {
    let input = &mut Decoder::new(bytes);
    let id = match arg {
        ObjectArg::None => return None,
        ObjectArg::Name | ObjectArg::NodeDevice | ObjectArg::Interface => {
            ObjectId::of(String::decode(input).ok()?, None)
        }
        ObjectArg::NwFilterBinding => ObjectId::of(String::decode(input).ok()?, None),
        ObjectArg::Domain => {
            let dom = DomainRef::decode(input).ok()?;
            ObjectId::of(dom.name, Some(dom.uuid))
        }
        ObjectArg::DomainOfSnapshot => {
            String::decode(input).ok()?;
            let dom = DomainRef::decode(input).ok()?;
            ObjectId::of(dom.name, Some(dom.uuid))
        }
        ObjectArg::Network | ObjectArg::NwFilter => {
            let net = NetworkRef::decode(input).ok()?;
            ObjectId::of(net.name, Some(net.uuid))
        }
        ObjectArg::NetworkPort => {
            NetworkRef::decode(input).ok()?;
            ObjectId {
                name: None,
                uuid: Some(Uuid::decode(input).ok()?.to_string()),
            }
        }
        ObjectArg::StoragePool => {
            let pool = StoragePoolRef::decode(input).ok()?;
            ObjectId::of(pool.name, Some(pool.uuid))
        }
        ObjectArg::StorageVol => ObjectId::of(StorageVolRef::decode(input).ok()?.name, None),
        ObjectArg::Secret => {
            let secret = SecretRef::decode(input).ok()?;
            ObjectId::of(secret.usage_id, Some(secret.uuid))
        }
    };
    Some(id)
}

/// The top-level `<name>` and `<uuid>` of an XML definition, which name the object a
/// define or create call is about before the driver has it.
fn xml_identity(xml: &str) -> ObjectId {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut id = ObjectId::default();
    let mut depth = 0usize;
    let mut field: Option<bool> = None; // Some(true): in <name>, Some(false): in <uuid>
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                depth += 1;
                field = match (depth, start.name().as_ref()) {
                    (2, b"name") => Some(true),
                    (2, b"uuid") => Some(false),
                    _ => None,
                };
            }
            Ok(Event::End(_)) => {
                depth = depth.saturating_sub(1);
                field = None;
            }
            Ok(Event::Text(text)) => {
                if let (Some(is_name), Ok(text)) = (field, text.unescape()) {
                    let text = text.trim().to_string();
                    if is_name {
                        id.name.get_or_insert(text);
                    } else {
                        id.uuid.get_or_insert(text);
                    }
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    id
}

/// Calls whose first argument is an XML definition of the object they create.
fn defines_from_xml(info: &ProcedureInfo) -> bool {
    info.object_arg == ObjectArg::None
        && [
            "_DEFINE_XML",
            "_DEFINE_XML_FLAGS",
            "_CREATE_XML",
            "_CREATE_XML_FLAGS",
        ]
        .iter()
        .any(|suffix| info.name.ends_with(suffix))
        && !info.name.starts_with("STORAGE_VOL_")
}

/// A check the reply answers (a lookup's result), rather than the arguments.
fn checked_on_reply(info: &ProcedureInfo, check: &AclCheck) -> bool {
    !info.writes && object_of(info.ret_object) == Some(check.object)
}

fn permission(check: &AclCheck) -> Option<Permission> {
    let permission = Permission::parse(&format!("{}:{}", check.object, check.perm));
    if permission.is_none() {
        tracing::error!(
            object = check.object,
            perm = check.perm,
            "unknown ACL permission"
        );
    }
    permission
}

/// The checks to make before the call runs.
pub(crate) fn check_call(
    access: &AccessControl,
    subject: &Subject,
    driver: &str,
    info: &ProcedureInfo,
    payload: &[u8],
) -> Result<(), Error> {
    let mut named: Option<ObjectId> = None;
    for check in info.acl {
        if !check.when.holds(payload) || checked_on_reply(info, check) {
            continue;
        }
        // A permission libvirt does not know would deny everything; fail closed.
        let Some(perm) = permission(check) else {
            return Err(virt_access::denied_error(driver));
        };
        let id = if check.object == "connect" {
            None
        } else {
            Some(&*named.get_or_insert_with(|| {
                if object_of(info.object_arg) == Some(check.object)
                    || info.object_arg == ObjectArg::Name
                {
                    decode_object(info.object_arg, payload).unwrap_or_default()
                } else if defines_from_xml(info) {
                    String::decode(&mut Decoder::new(payload))
                        .map(|xml| xml_identity(&xml))
                        .unwrap_or_default()
                } else {
                    ObjectId::default()
                }
            }))
        };
        let target = Target {
            driver,
            name: id.and_then(|id| id.name.as_deref()),
            uuid: id.and_then(|id| id.uuid.as_deref()),
        };
        access.check(subject, perm, &target, info.api)?;
    }
    Ok(())
}

/// The checks a lookup's reply answers: may the caller see what it found?
pub(crate) fn check_reply(
    access: &AccessControl,
    subject: &Subject,
    driver: &str,
    info: &ProcedureInfo,
    reply: &[u8],
) -> Result<(), Error> {
    for check in info.acl {
        if !checked_on_reply(info, check) {
            continue;
        }
        let Some(perm) = permission(check) else {
            return Err(virt_access::denied_error(driver));
        };
        let id = decode_object(info.ret_object, reply).unwrap_or_default();
        let target = Target {
            driver,
            name: id.name.as_deref(),
            uuid: id.uuid.as_deref(),
        };
        access.check(subject, perm, &target, info.api)?;
    }
    Ok(())
}

/// May the caller see this object in a listing (`@aclfilter`)? True for procedures
/// without a filter.
pub(crate) fn visible(
    access: &AccessControl,
    subject: &Subject,
    driver: &str,
    info: &ProcedureInfo,
    name: &str,
    uuid: Option<&Uuid>,
) -> bool {
    let Some((object, perm)) = info.acl_filter else {
        return true;
    };
    let Some(permission) = Permission::parse(&format!("{object}:{perm}")) else {
        return false;
    };
    let uuid = uuid.map(Uuid::to_string);
    let target = Target {
        driver,
        name: Some(name),
        uuid: uuid.as_deref(),
    };
    access.allows(subject, permission, &target, info.api, false)
}

/// May the caller receive this event? Events are filtered with `getattr` on their object,
/// as libvirt's event registrations declare.
pub(crate) fn event_visible(
    access: &AccessControl,
    subject: &Subject,
    driver: &str,
    event: &virt_core::Event,
) -> bool {
    use virt_core::Event;
    let (object, name, uuid) = match event {
        Event::NetworkLifecycle { net, .. } => (Object::Network, &net.name, Some(net.uuid)),
        Event::PoolLifecycle { pool, .. } | Event::PoolRefresh { pool } => {
            (Object::StoragePool, &pool.name, Some(pool.uuid))
        }
        Event::NodeDeviceLifecycle { dev, .. } | Event::NodeDeviceUpdate { dev } => {
            (Object::NodeDevice, dev, None)
        }
        // A secret is named by its usage id, as in its calls.
        Event::SecretLifecycle { secret, .. } | Event::SecretValueChanged { secret } => {
            (Object::Secret, &secret.usage_id, Some(secret.uuid))
        }
        other => match other.domain() {
            Some(dom) => (Object::Domain, &dom.name, Some(dom.uuid)),
            None => return true,
        },
    };
    let uuid = uuid.map(|uuid| uuid.to_string());
    let target = Target {
        driver,
        name: Some(name),
        uuid: uuid.as_deref(),
    };
    let getattr = Permission {
        object,
        name: "getattr",
    };
    access.allows(subject, getattr, &target, "event", false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{procedure_info, remote_proc as p};
    use crate::xdr::to_bytes;

    #[test]
    fn xml_identity_takes_the_top_level_name_and_uuid() {
        let id = xml_identity(
            "<domain type='qemu'><name>web&amp;1</name><devices><disk><name>x</name></disk>\
             </devices><uuid> c7a5fdbd-edaf-9455-926a-d65c16db1809 </uuid></domain>",
        );
        assert_eq!(id.name.as_deref(), Some("web&1"));
        assert_eq!(
            id.uuid.as_deref(),
            Some("c7a5fdbd-edaf-9455-926a-d65c16db1809")
        );
        assert!(
            xml_identity("<domain><metadata><name>n</name></metadata></domain>")
                .name
                .is_none()
        );
    }

    #[test]
    fn the_table_names_the_objects_libvirt_checks() {
        let info = |number: u32| procedure_info(number as i32).expect("a known procedure");
        let create = info(p::DOMAIN_CREATE);
        assert_eq!(create.object_arg, ObjectArg::Domain);
        assert_eq!(create.acl[0].perm, "start");
        let lookup = info(p::DOMAIN_LOOKUP_BY_NAME);
        assert!(checked_on_reply(lookup, &lookup.acl[0]));
        assert!(defines_from_xml(info(p::DOMAIN_DEFINE_XML_FLAGS)));
        assert!(!defines_from_xml(info(p::STORAGE_VOL_CREATE_XML)));
        assert_eq!(
            info(p::CONNECT_LIST_ALL_DOMAINS).acl_filter,
            Some(("domain", "getattr"))
        );
        // Every permission the table names is one libvirt defines.
        for number in 1..=crate::protocol::last_procedure() {
            let Some(info) = procedure_info(number) else {
                continue;
            };
            for check in info.acl {
                assert!(permission(check).is_some(), "{}: {check:?}", info.name);
            }
        }
    }

    #[test]
    fn conditional_checks_read_the_flags() {
        let setmem = procedure_info(p::DOMAIN_SET_MEMORY_FLAGS as i32).expect("known");
        let dom = DomainRef {
            name: "web1".into(),
            uuid: Uuid::nil(),
            id: 1,
        };
        let payload = |flags: u32| to_bytes(&(dom.clone(), 1024u64, flags));
        let holding = |flags: u32| {
            setmem
                .acl
                .iter()
                .filter(|check| check.when.holds(&payload(flags)))
                .map(|check| check.perm)
                .collect::<Vec<_>>()
        };
        // AFFECT_CURRENT (0) may save the config; LIVE (1) only writes; CONFIG (2) saves.
        assert_eq!(holding(0), ["write", "save"]);
        assert_eq!(holding(1), ["write"]);
        assert_eq!(holding(2), ["write", "save"]);
        let id = decode_object(ObjectArg::Domain, &payload(0)).expect("a domain");
        assert_eq!(id.name.as_deref(), Some("web1"));
    }
}
