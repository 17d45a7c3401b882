//! The rules file: an ordered list of `[[rule]]` tables in TOML.
//!
//! ```toml
//! [[rule]]
//! users = ["alice", "#1001"]   # unix user names, or "#uid"
//! groups = ["virt-operators"]  # unix groups (primary or supplementary)
//! x509_dnames = ["C=GB,O=Example,CN=*"]   # TLS client certificate DNs (wildcards)
//! sasl_users = ["alice@EXAMPLE.COM"]
//! permissions = ["domain:start", "domain:stop", "connect:*"]
//! drivers = ["QEMU"]           # libvirt's driver names; absent: every driver
//! names = ["web-*"]            # the object's name (wildcards); absent: every object
//! uuids = ["c7a5fdbd-..."]     # the object's UUID
//! result = "allow"             # or "deny"
//! ```
//!
//! A rule matches a subject when it names none (it is for everyone) or when any one of its
//! `users`, `groups`, `x509_dnames` or `sasl_users` matches. It matches an object when each
//! of `drivers`, `names` and `uuids` it has matches; `names` and `uuids` never match an
//! object the call does not name. Patterns use shell wildcards (`*`, `?`, `[...]`), as
//! libvirt's `tls_allowed_dn_list` does.
//!
//! TOML rather than polkit's JavaScript: it needs no interpreter in the daemon, and the
//! questions polkit rules usually ask of libvirt (which user, which permission, which
//! driver, which domain name) are all fields here.

use std::path::{Path, PathBuf};

use glob::Pattern;
use serde::Deserialize;
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::{split_permission, Object, Permission, Subject, Target};

/// Why a rules file cannot be used. Nothing of it is applied.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read access rules file '{path}': {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("access rules file '{path}': {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("access rules file '{path}', rule {rule}: {message}")]
    Rule {
        path: PathBuf,
        /// 1-based, in file order.
        rule: usize,
        message: String,
    },
}

impl From<RulesError> for Error {
    fn from(error: RulesError) -> Error {
        let code = match error {
            RulesError::Read { .. } => ErrorNumber::SYSTEM_ERROR,
            _ => ErrorNumber::CONF_SYNTAX,
        };
        Error::new(code, ErrorDomain::ACCESS, error.to_string())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    x509_dnames: Vec<String>,
    #[serde(default)]
    sasl_users: Vec<String>,
    permissions: Vec<String>,
    #[serde(default)]
    drivers: Vec<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    uuids: Vec<String>,
    result: RuleResult,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RuleResult {
    Allow,
    Deny,
}

/// A permission pattern: `*`, `domain:*` or one permission.
#[derive(Clone, Debug)]
enum PermissionPattern {
    Any,
    AnyOn(Object),
    One(Permission),
}

impl PermissionPattern {
    fn parse(text: &str) -> Option<PermissionPattern> {
        if text.trim() == "*" {
            return Some(PermissionPattern::Any);
        }
        let (object, name) = split_permission(text)?;
        let object = Object::from_name(&object)?;
        if name == "*" {
            return Some(PermissionPattern::AnyOn(object));
        }
        let name = object.permissions().iter().find(|p| **p == name)?;
        Some(PermissionPattern::One(Permission { object, name }))
    }

    fn matches(&self, permission: Permission) -> bool {
        match self {
            PermissionPattern::Any => true,
            PermissionPattern::AnyOn(object) => *object == permission.object,
            PermissionPattern::One(one) => *one == permission,
        }
    }
}

#[derive(Debug)]
struct Rule {
    users: Vec<Pattern>,
    uids: Vec<u32>,
    groups: Vec<Pattern>,
    x509_dnames: Vec<Pattern>,
    sasl_users: Vec<Pattern>,
    permissions: Vec<PermissionPattern>,
    drivers: Vec<Pattern>,
    names: Vec<Pattern>,
    uuids: Vec<String>,
    allow: bool,
}

fn any_match(patterns: &[Pattern], text: &str) -> bool {
    patterns.iter().any(|pattern| pattern.matches(text))
}

impl Rule {
    fn names_subjects(&self) -> bool {
        !(self.users.is_empty()
            && self.uids.is_empty()
            && self.groups.is_empty()
            && self.x509_dnames.is_empty()
            && self.sasl_users.is_empty())
    }

    fn matches_subject(&self, subject: &Subject) -> bool {
        if !self.names_subjects() {
            return true;
        }
        if let Some(unix) = &subject.unix {
            if self.uids.contains(&unix.uid)
                || unix
                    .user
                    .as_deref()
                    .is_some_and(|u| any_match(&self.users, u))
                || unix.groups.iter().any(|g| any_match(&self.groups, g))
            {
                return true;
            }
        }
        subject
            .x509_dname
            .as_deref()
            .is_some_and(|dn| any_match(&self.x509_dnames, dn))
            || subject
                .sasl_user
                .as_deref()
                .is_some_and(|u| any_match(&self.sasl_users, u))
    }

    fn matches_target(&self, target: &Target<'_>) -> bool {
        (self.drivers.is_empty() || any_match(&self.drivers, target.driver))
            && (self.names.is_empty() || target.name.is_some_and(|n| any_match(&self.names, n)))
            && (self.uuids.is_empty()
                || target
                    .uuid
                    .is_some_and(|u| self.uuids.iter().any(|x| x.eq_ignore_ascii_case(u))))
    }
}

/// What [`AccessRules::check`] decided, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The deciding rule (1-based, file order); `None` when libvirt's default policy decided.
    pub rule: Option<usize>,
}

/// A parsed rules file.
#[derive(Debug)]
pub struct AccessRules {
    path: PathBuf,
    rules: Vec<Rule>,
}

impl AccessRules {
    pub fn load(path: &Path) -> Result<AccessRules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        AccessRules::parse(&text, path)
    }

    /// Parses `text`; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<AccessRules, RulesError> {
        let file: RulesFile = toml::from_str(text).map_err(|error| RulesError::Syntax {
            path: path.to_path_buf(),
            message: error.message().to_string() + &location(text, error.span()),
        })?;
        let rules = file
            .rule
            .into_iter()
            .enumerate()
            .map(|(index, text)| {
                compile(text).map_err(|message| RulesError::Rule {
                    path: path.to_path_buf(),
                    rule: index + 1,
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AccessRules {
            path: path.to_path_buf(),
            rules,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// May `subject` use `permission` on `target`?
    pub fn check(&self, subject: &Subject, permission: Permission, target: &Target<'_>) -> Verdict {
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.permissions.iter().any(|p| p.matches(permission))
                && rule.matches_target(target)
                && rule.matches_subject(subject)
            {
                return Verdict {
                    allowed: rule.allow,
                    rule: Some(index + 1),
                };
            }
        }
        Verdict {
            allowed: permission.is_anonymous(),
            rule: None,
        }
    }
}

/// " at line L, column C" for a byte span of `text`.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!(" at line {line}, column {column}")
}

fn patterns(field: &str, texts: Vec<String>) -> Result<Vec<Pattern>, String> {
    texts
        .into_iter()
        .map(|text| {
            Pattern::new(&text).map_err(|error| format!("{field}: bad pattern '{text}': {error}"))
        })
        .collect()
}

fn compile(text: RuleText) -> Result<Rule, String> {
    if text.permissions.is_empty() {
        return Err("'permissions' is empty: a rule must name what it allows or denies".into());
    }
    let permissions = text
        .permissions
        .iter()
        .map(|p| {
            PermissionPattern::parse(p).ok_or_else(|| {
                format!(
                    "unknown permission '{p}' (want OBJECT:PERMISSION as in libvirt, e.g. \
                     'domain:start', 'domain:*' or '*')"
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut uids = Vec::new();
    let mut users = Vec::new();
    for user in text.users {
        match user.strip_prefix('#') {
            Some(uid) => uids.push(
                uid.parse()
                    .map_err(|_| format!("users: '{user}' is not '#' followed by a uid"))?,
            ),
            None => users.push(user),
        }
    }
    for uuid in &text.uuids {
        if virt_core::types::parse_uuid(uuid).is_none() {
            return Err(format!("uuids: '{uuid}' is not a UUID"));
        }
    }
    Ok(Rule {
        users: patterns("users", users)?,
        uids,
        groups: patterns("groups", text.groups)?,
        x509_dnames: patterns("x509_dnames", text.x509_dnames)?,
        sasl_users: patterns("sasl_users", text.sasl_users)?,
        permissions,
        drivers: patterns("drivers", text.drivers)?,
        names: patterns("names", text.names)?,
        uuids: text.uuids,
        allow: text.result == RuleResult::Allow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UnixIdentity;

    fn unix(uid: u32, user: &str, groups: &[&str]) -> Subject {
        Subject {
            unix: Some(UnixIdentity {
                uid,
                gid: uid,
                pid: None,
                user: Some(user.into()),
                groups: groups.iter().map(|g| g.to_string()).collect(),
            }),
            ..Subject::default()
        }
    }

    fn perm(text: &str) -> Permission {
        Permission::parse(text).expect("a known permission")
    }

    const QEMU_WEB1: Target<'static> = Target {
        driver: "QEMU",
        name: Some("web1"),
        uuid: Some("c7a5fdbd-edaf-9455-926a-d65c16db1809"),
    };

    const RULES: &str = r##"
        [[rule]]
        users = ["root"]
        permissions = ["*"]
        result = "allow"

        [[rule]]
        groups = ["ops"]
        permissions = ["domain:start", "domain:stop"]
        drivers = ["QEMU"]
        names = ["web*"]
        result = "allow"

        [[rule]]
        users = ["#1002"]
        permissions = ["domain:read"]
        result = "deny"
    "##;

    #[test]
    fn first_matching_rule_decides_then_libvirts_default() {
        let rules = AccessRules::parse(RULES, Path::new("rules.toml")).expect("valid rules");
        let root = unix(0, "root", &["root"]);
        let alice = unix(1001, "alice", &["alice", "ops"]);
        let bob = unix(1002, "bob", &["bob"]);
        let verdict = |s: &Subject, p: &str, t: &Target<'_>| rules.check(s, perm(p), t);

        assert_eq!(
            verdict(&root, "domain:delete", &QEMU_WEB1),
            Verdict {
                allowed: true,
                rule: Some(1)
            }
        );
        assert_eq!(
            verdict(&alice, "domain:start", &QEMU_WEB1),
            Verdict {
                allowed: true,
                rule: Some(2)
            }
        );
        // The object does not match rule 2: libvirt's default denies start.
        let db = Target {
            name: Some("db1"),
            ..QEMU_WEB1
        };
        assert_eq!(
            verdict(&alice, "domain:start", &db),
            Verdict {
                allowed: false,
                rule: None
            }
        );
        let lxc = Target {
            driver: "LXC",
            ..QEMU_WEB1
        };
        assert!(!verdict(&alice, "domain:start", &lxc).allowed);
        // An object the call does not name never matches a `names` rule.
        let unnamed = Target {
            name: None,
            uuid: None,
            ..QEMU_WEB1
        };
        assert!(!verdict(&alice, "domain:start", &unnamed).allowed);
        // Anonymous permissions by default; a rule can take one away.
        assert_eq!(
            verdict(&alice, "domain:read", &QEMU_WEB1),
            Verdict {
                allowed: true,
                rule: None
            }
        );
        assert_eq!(
            verdict(&bob, "domain:read", &QEMU_WEB1),
            Verdict {
                allowed: false,
                rule: Some(3)
            }
        );
        assert!(!verdict(&Subject::default(), "connect:write", &QEMU_WEB1).allowed);
    }

    #[test]
    fn x509_and_sasl_subjects_match_with_wildcards() {
        let rules = AccessRules::parse(
            r#"
            [[rule]]
            x509_dnames = ["C=GB,O=Example,CN=*"]
            sasl_users = ["admin@EXAMPLE"]
            permissions = ["domain:*"]
            result = "allow"
            "#,
            Path::new("r.toml"),
        )
        .expect("valid rules");
        let tls = Subject {
            x509_dname: Some("C=GB,O=Example,CN=client1".into()),
            ..Subject::default()
        };
        let sasl = Subject {
            sasl_user: Some("admin@EXAMPLE".into()),
            ..Subject::default()
        };
        let other = Subject {
            x509_dname: Some("C=GB,O=Other,CN=client1".into()),
            ..Subject::default()
        };
        assert!(rules.check(&tls, perm("domain:start"), &QEMU_WEB1).allowed);
        assert!(
            rules
                .check(&sasl, perm("domain:delete"), &QEMU_WEB1)
                .allowed
        );
        assert!(
            !rules
                .check(&other, perm("domain:start"), &QEMU_WEB1)
                .allowed
        );
        assert!(!rules.check(&tls, perm("connect:write"), &QEMU_WEB1).allowed);
    }

    #[test]
    fn the_shipped_example_parses_and_lets_root_do_everything() {
        let example = include_str!("../../../etc/access.toml");
        let rules = AccessRules::parse(example, Path::new("etc/access.toml")).expect("valid");
        let root = unix(0, "root", &["root"]);
        assert!(
            rules
                .check(&root, perm("domain:delete"), &QEMU_WEB1)
                .allowed
        );
        let member = unix(1000, "kim", &["kim", "libvirt"]);
        assert!(
            rules
                .check(&member, perm("domain:start"), &QEMU_WEB1)
                .allowed
        );
        assert!(
            !rules
                .check(&member, perm("secret:read_secure"), &QEMU_WEB1)
                .allowed
        );
    }

    #[test]
    fn bad_files_say_what_and_where() {
        let error = |text: &str| {
            AccessRules::parse(text, Path::new("/etc/rvirt/access.toml"))
                .expect_err("invalid rules")
                .to_string()
        };
        assert_eq!(
            error("[[rule]]\npermissions = [\"domain:fly\"]\nresult = \"allow\"\n"),
            "access rules file '/etc/rvirt/access.toml', rule 1: unknown permission 'domain:fly' \
             (want OBJECT:PERMISSION as in libvirt, e.g. 'domain:start', 'domain:*' or '*')"
        );
        let syntax = error("[[rule]]\npermissions = [\"*\"]\nresult = \"maybe\"\n");
        assert!(syntax.contains("at line 3"), "{syntax}");
        assert!(
            error("[[rule]]\npermissions = [\"*\"]\nresult = \"allow\"\ncolour = 1\n")
                .contains("colour")
        );
        assert!(error("[[rule]]\npermissions = []\nresult = \"allow\"\n").contains("rule 1"));
        assert!(
            error("[[rule]]\nusers = [\"#x\"]\npermissions = [\"*\"]\nresult = \"allow\"\n")
                .contains("'#x'")
        );
        let as_libvirt: Error = AccessRules::parse("[[rule]]", Path::new("a.toml"))
            .expect_err("missing fields")
            .into();
        assert_eq!(as_libvirt.code(), ErrorNumber::CONF_SYNTAX);
    }
}
