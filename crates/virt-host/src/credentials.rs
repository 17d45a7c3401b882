//! The `credentials` host call (WIT 0.2): usernames and passwords for remote endpoints from
//! libvirt's `auth.conf`, for drivers running where no client callback can be asked (a daemon).
//!
//! It owns finding the file (the embedder's, or libvirt's search order) and reading its
//! format; it knows nothing of what a driver does with the secret. The file is read at each
//! lookup, so an operator's edit applies to the next connection without a restart.

use std::path::{Path, PathBuf};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::bindings::v0_2::credentials::{self, CredentialKind};
use crate::bindings::wit;
use crate::ctx::PluginCtx;
use crate::manifest::Operation;

/// libvirt's search order when no file is named: `$LIBVIRT_AUTH_FILE`, then the user's
/// `$XDG_CONFIG_HOME/libvirt/auth.conf` (`~/.config` by default), then the system's file. The
/// first that exists is used; `$LIBVIRT_AUTH_FILE` is used even when missing (an empty set).
fn auth_file(configured: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = configured {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("LIBVIRT_AUTH_FILE") {
        return Some(path.into());
    }
    let user = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .map(|config| config.join("libvirt/auth.conf"));
    [user, Some(PathBuf::from("/etc/libvirt/auth.conf"))]
        .into_iter()
        .flatten()
        .find(|path| path.exists())
}

/// One `[group]` of a key file and its `key=value` lines, in file order.
struct Group {
    name: String,
    entries: Vec<(String, String)>,
}

impl Group {
    fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the GLib-style key file libvirt's auth file is: `[group]` headers, `key=value`
/// lines, `#` comments. Hand-written: the format is ten lines of rules, and the crates that
/// read INI files each disagree with GLib somewhere (quotes, `;` comments, escapes).
fn parse(text: &str, path: &Path) -> Result<Vec<Group>, Error> {
    let mut groups: Vec<Group> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = |what: &str| {
            Error::new(
                ErrorNumber::CONF_SYNTAX,
                ErrorDomain::CONF,
                format!("{}:{}: {what}", path.display(), number + 1),
            )
        };
        if let Some(header) = line.strip_prefix('[') {
            let name = header
                .strip_suffix(']')
                .ok_or_else(|| malformed("a group header must end with ']'"))?;
            groups.push(Group {
                name: name.to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| malformed("expected 'key=value'"))?;
        let group = groups
            .last_mut()
            .ok_or_else(|| malformed("a key before the first group"))?;
        group
            .entries
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(groups)
}

/// libvirt's lookup: the `auth-SERVICE-HOST` group, else `auth-SERVICE-default`, names a
/// `credentials` set whose `username` or `password` is the answer.
fn lookup(
    groups: &[Group],
    service: &str,
    host: &str,
    kind: CredentialKind,
    path: &Path,
) -> Result<Option<String>, Error> {
    let find = |name: &str| groups.iter().find(|group| group.name == name);
    let auth = find(&format!("auth-{service}-{host}"))
        .or_else(|| find(&format!("auth-{service}-default")));
    let Some(auth) = auth else {
        return Ok(None);
    };
    let Some(set) = auth.get("credentials") else {
        return Err(Error::new(
            ErrorNumber::CONF_SYNTAX,
            ErrorDomain::CONF,
            format!(
                "Missing item 'credentials' in group '{}' in '{}'",
                auth.name,
                path.display()
            ),
        ));
    };
    let Some(credentials) = find(&format!("credentials-{set}")) else {
        return Err(Error::new(
            ErrorNumber::CONF_SYNTAX,
            ErrorDomain::CONF,
            format!(
                "Missing group 'credentials-{set}' referenced from group '{}' in '{}'",
                auth.name,
                path.display()
            ),
        ));
    };
    let key = match kind {
        CredentialKind::Username => "username",
        CredentialKind::Password => "password",
    };
    Ok(credentials.get(key).map(str::to_string))
}

impl credentials::Host for PluginCtx {
    fn lookup(
        &mut self,
        service: String,
        host: String,
        kind: CredentialKind,
    ) -> Result<Option<String>, wit::Error> {
        self.check(Operation::Credentials { service: &service })?;
        self.check(Operation::ConnectHost(&host))?;
        let Some(path) = auth_file(self.shared.auth_file.as_deref()) else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(crate::error::system(
                    format!("cannot read auth file '{}'", path.display()),
                    e,
                )
                .into())
            }
        };
        let groups = parse(&text, &path)?;
        let found = lookup(&groups, &service, &host, kind, &path)?;
        tracing::debug!(plugin = %self.shared.name, %service, %host, ?kind, found = found.is_some(), "credentials lookup");
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str = "# the operator's file\n\
        [credentials-hmc]\nusername=hscroot\npassword = abc123\n\n\
        [credentials-fallback]\nusername=admin\n\
        [auth-ssh-hmc.example]\ncredentials=hmc\n\
        [auth-ssh-default]\ncredentials=fallback\n\
        [auth-esx-broken]\ncredentials=missing\n";

    fn find(service: &str, host: &str, kind: CredentialKind) -> Result<Option<String>, Error> {
        let path = Path::new("/etc/libvirt/auth.conf");
        lookup(&parse(AUTH, path)?, service, host, kind, path)
    }

    #[test]
    fn host_group_then_default_then_nothing() {
        let some = |s: &str| Ok(Some(s.to_string()));
        assert_eq!(
            find("ssh", "hmc.example", CredentialKind::Password),
            some("abc123")
        );
        assert_eq!(
            find("ssh", "hmc.example", CredentialKind::Username),
            some("hscroot")
        );
        assert_eq!(
            find("ssh", "other", CredentialKind::Username),
            some("admin")
        );
        assert_eq!(find("ssh", "other", CredentialKind::Password), Ok(None));
        assert_eq!(find("esx", "vcenter", CredentialKind::Password), Ok(None));
    }

    #[test]
    fn broken_files_name_where() {
        let error = find("esx", "broken", CredentialKind::Password).expect_err("no such set");
        assert_eq!(error.code(), ErrorNumber::CONF_SYNTAX);
        assert!(error.message().contains("credentials-missing"), "{error}");
        let path = Path::new("/x/auth.conf");
        let error = parse("[a]\nno equals sign\n", path)
            .err()
            .expect("malformed");
        assert!(error.message().contains("/x/auth.conf:2"), "{error}");
        assert!(parse("key=before-group\n", path).is_err());
    }
}
