//! A plugin's manifest (`<name>.toml` beside `<name>.wasm`) and the capability sets that
//! manifests request and the operator's grants file allows (see `plugins/README.md`).
//!
//! A manifest is checked on its own before the component is looked at: its name is a plain
//! file stem and the stem of the file it is read from, its version is semver, its WIT version
//! parses. A packaged plugin's manifest also carries the sha256 of its component, which the
//! host checks against the bytes it is about to compile ([`Manifest::verify_component`]).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use crate::error::LoadError;

/// What a plugin says about itself before it is loaded.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// File stem of the installed plugin and the name grants refer to.
    pub name: String,
    /// The plugin's own semver.
    pub version: String,
    /// The `rvirt:driver` WIT version it was built against.
    pub wit: String,
    /// Hex sha256 of the component (`cargo xtask package-plugin` writes it); when present the
    /// host refuses a component whose bytes do not match.
    #[serde(default)]
    pub sha256: Option<String>,
    /// URI schemes it serves.
    pub uri_schemes: Vec<String>,
    /// The host in its URIs is the hypervisor's management endpoint, which the plugin reaches
    /// itself (`phyp://user@hmc/system`, `esx://vcenter/`), not a remote libvirt daemon: a
    /// URI with a host but no transport is opened here, as libvirt's ESX, Hyper-V and PHYP
    /// drivers claim such URIs before its remote driver is asked.
    #[serde(default)]
    pub remote_hosts: bool,
    /// Linear memory limit per instance, MiB (default: the host's).
    #[serde(default)]
    pub memory_limit_mib: Option<u64>,
    /// URIs a daemon opens when it starts, so the driver can reattach to running guests and
    /// start autostart ones (e.g. `qemu:///system`).
    #[serde(default)]
    pub open_at_start: Vec<String>,
    /// The hypervisor URI schemes whose connections this plugin serves secondary objects for,
    /// as libvirt's network, storage, secret and node-device drivers serve `qemu:///system`
    /// next to the QEMU driver. The plugin is opened at the same path under its own scheme
    /// (`qemu:///system` → `network:///system`).
    #[serde(default)]
    pub secondary: Secondary,
    /// What it asks to be allowed.
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// The file name of a crate's source manifest, beside its `Cargo.toml`. It is the one
/// manifest whose file stem is not the plugin's name.
pub const SOURCE_MANIFEST: &str = "rvirt-plugin.toml";

impl Manifest {
    /// Parses and validates the manifest read from `path`: an installed `<name>.toml` (whose
    /// stem must be its name) or a crate's [`SOURCE_MANIFEST`].
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, LoadError> {
        let invalid = |reason: String| LoadError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let manifest: Manifest =
            toml::from_str(text).map_err(|error| invalid(error.to_string()))?;
        manifest.validate().map_err(invalid)?;
        let is_source = path.file_name().is_some_and(|name| name == SOURCE_MANIFEST);
        let stem = path.file_stem().map(|stem| stem.to_string_lossy());
        if !is_source && stem.as_deref() != Some(manifest.name.as_str()) {
            return Err(invalid(format!(
                "field `name` is '{}' but the file is named '{}' (an installed manifest is <name>.toml)",
                manifest.name,
                stem.as_deref().unwrap_or("")
            )));
        }
        Ok(manifest)
    }

    /// The checks that need nothing but the manifest; the error names the field.
    fn validate(&self) -> Result<(), String> {
        if !is_plain_stem(&self.name) {
            return Err(format!(
                "field `name` '{}' must be a plain file stem (letters, digits, '-', '_')",
                self.name
            ));
        }
        if self.uri_schemes.is_empty() {
            return Err("field `uri-schemes` must not be empty".into());
        }
        if let Err(error) = semver::Version::parse(&self.version) {
            return Err(format!(
                "field `version` '{}' is not semver: {error}",
                self.version
            ));
        }
        if crate::wit_version::WitVersion::parse(&self.wit).is_none() {
            return Err(format!(
                "field `wit` '{}' is not a version (major.minor.patch)",
                self.wit
            ));
        }
        if let Some(sha256) = &self.sha256 {
            let is_hex = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_hex {
                return Err(format!(
                    "field `sha256` '{sha256}' is not 64 hexadecimal digits"
                ));
            }
        }
        Ok(())
    }

    /// Refuses `bytes` (read from `path`) when the manifest carries a `sha256` they do not
    /// match: a tampered or truncated component never reaches the compiler.
    pub fn verify_component(&self, bytes: &[u8], path: &Path) -> Result<(), LoadError> {
        use sha2::Digest;
        let Some(expected) = &self.sha256 else {
            return Ok(());
        };
        let found = hex::encode(sha2::Sha256::digest(bytes));
        if found.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(LoadError::Checksum {
                path: path.to_path_buf(),
                expected: expected.clone(),
                found,
            })
        }
    }
}

/// True for a name usable as `<name>.wasm` / `<name>.toml` in any plugin directory.
pub fn is_plain_stem(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Secondary objects a plugin serves on other plugins' connections: per kind of object, the
/// URI schemes whose connections get those objects from it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Secondary {
    /// Virtual networks (`virNetwork*`).
    #[serde(default)]
    pub networks: Vec<String>,
    /// Storage pools and volumes (`virStoragePool*`, `virStorageVol*`).
    #[serde(default)]
    pub storage: Vec<String>,
    /// Secrets (`virSecret*`).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Node devices (`virNodeDevice*`).
    #[serde(default)]
    pub node_devices: Vec<String>,
}

/// A kind of secondary object (the field of [`Secondary`] that names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecondaryKind {
    Networks,
    Storage,
    Secrets,
    NodeDevices,
}

impl SecondaryKind {
    pub const ALL: [SecondaryKind; 4] = [
        SecondaryKind::Networks,
        SecondaryKind::Storage,
        SecondaryKind::Secrets,
        SecondaryKind::NodeDevices,
    ];

    pub fn field(self) -> &'static str {
        match self {
            SecondaryKind::Networks => "secondary.networks",
            SecondaryKind::Storage => "secondary.storage",
            SecondaryKind::Secrets => "secondary.secrets",
            SecondaryKind::NodeDevices => "secondary.node-devices",
        }
    }
}

impl Secondary {
    /// The schemes whose connections get objects of `kind` from this plugin.
    pub fn schemes(&self, kind: SecondaryKind) -> &[String] {
        match kind {
            SecondaryKind::Networks => &self.networks,
            SecondaryKind::Storage => &self.storage,
            SecondaryKind::Secrets => &self.secrets,
            SecondaryKind::NodeDevices => &self.node_devices,
        }
    }
}

/// A set of privileged host operations, as lists of patterns per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Capabilities {
    /// Programs that may be spawned: absolute paths, `*` matching within one path component.
    #[serde(default)]
    pub spawn: Vec<String>,
    /// Directories whose unix sockets may be connected to.
    #[serde(default)]
    pub unix_connect: Vec<String>,
    /// Path prefixes that may be read (beyond the driver's own directories).
    #[serde(default)]
    pub files_read: Vec<String>,
    /// Path prefixes that may be written (beyond the driver's own directories).
    #[serde(default)]
    pub files_write: Vec<String>,
    /// Network operations: "tap", "bridge", "link", "bridge-admin" (0.2 `bridges`).
    #[serde(default)]
    pub net: Vec<String>,
    /// Outbound endpoints (`http`, `ssh`), as `host:port`; `*` stands for any host or any
    /// port (`"vcenter.example:443"`, `"127.0.0.1:*"`, `"*:443"`).
    #[serde(default)]
    pub connect: Vec<String>,
    /// Services whose credentials the `credentials` call may look up in libvirt's auth file
    /// (`"ssh"`, `"esx"`, `"*"`), for hosts the plugin may also `connect` to.
    #[serde(default)]
    pub credentials: Vec<String>,
}

/// The privileged operation a host call wants to perform.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    Spawn(&'a Path),
    UnixConnect(&'a Path),
    FileRead(&'a Path),
    FileWrite(&'a Path),
    Net(&'a str),
    Connect {
        host: &'a str,
        port: u16,
    },
    /// Connecting to `host` on any port (what the credentials of a host require).
    ConnectHost(&'a str),
    /// Reading the auth file's credentials of `service` (the host also checks `connect`).
    Credentials {
        service: &'a str,
    },
}

impl Operation<'_> {
    /// The `[capabilities]` field (and grants field) that covers this operation.
    pub fn field(&self) -> &'static str {
        match self {
            Operation::Spawn(_) => "spawn",
            Operation::UnixConnect(_) => "unix-connect",
            Operation::FileRead(_) => "files-read",
            Operation::FileWrite(_) => "files-write",
            Operation::Net(_) => "net",
            Operation::Connect { .. } | Operation::ConnectHost(_) => "connect",
            Operation::Credentials { .. } => "credentials",
        }
    }
}

impl std::fmt::Display for Operation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Operation::Spawn(path) => write!(f, "spawn '{}'", path.display()),
            Operation::UnixConnect(path) => write!(f, "connect to socket '{}'", path.display()),
            Operation::FileRead(path) => write!(f, "read '{}'", path.display()),
            Operation::FileWrite(path) => write!(f, "write '{}'", path.display()),
            Operation::Net(op) => write!(f, "network operation '{op}'"),
            Operation::Connect { host, port } => write!(f, "connect to '{host}:{port}'"),
            Operation::ConnectHost(host) => write!(f, "connect to '{host}'"),
            Operation::Credentials { service } => write!(f, "read '{service}' credentials"),
        }
    }
}

/// Expands `$config`, `$state`, `$run`, `$log`, `$cache` (the driver's directories) and
/// `$helpers` (the host's helper-program directories) at the start of a pattern; a variable
/// may stand for several directories.
pub type DirExpander<'a> = dyn Fn(&str) -> Vec<PathBuf> + 'a;

impl Capabilities {
    /// True when some pattern of this set covers `operation`.
    pub fn allows(&self, operation: Operation<'_>, expand: &DirExpander<'_>) -> bool {
        let expand_pattern = |pattern: &str| -> Vec<PathBuf> {
            if let Some(rest) = pattern.strip_prefix('$') {
                let (var, tail) = rest.split_once('/').unwrap_or((rest, ""));
                return expand(var)
                    .into_iter()
                    .map(|dir| if tail.is_empty() { dir } else { dir.join(tail) })
                    .collect();
            }
            vec![PathBuf::from(pattern)]
        };
        let any = |patterns: &mut dyn Iterator<Item = &String>, matches: &dyn Fn(&Path) -> bool| {
            for pattern in patterns {
                if expand_pattern(pattern).iter().any(|p| matches(p)) {
                    return true;
                }
            }
            false
        };
        match operation {
            Operation::Spawn(program) => any(&mut self.spawn.iter(), &|p| glob_match(p, program)),
            Operation::UnixConnect(path) => {
                any(&mut self.unix_connect.iter(), &|p| path_within(path, p))
            }
            Operation::FileRead(path) => any(
                &mut self.files_read.iter().chain(self.files_write.iter()),
                &|p| path_within(path, p),
            ),
            Operation::FileWrite(path) => {
                any(&mut self.files_write.iter(), &|p| path_within(path, p))
            }
            Operation::Net(op) => self
                .net
                .iter()
                .any(|allowed| allowed == op || allowed == "*"),
            Operation::Connect { host, port } => self
                .connect
                .iter()
                .any(|allowed| endpoint_match(allowed, host, port)),
            Operation::ConnectHost(host) => self
                .connect
                .iter()
                .any(|allowed| endpoint_host_match(allowed, host)),
            Operation::Credentials { service } => self
                .credentials
                .iter()
                .any(|allowed| allowed == service || allowed == "*"),
        }
    }
}

/// Matches `host:port` against a `connect` pattern; host names compare without case, and
/// `[v6]:port` brackets are optional in the pattern.
fn endpoint_match(pattern: &str, host: &str, port: u16) -> bool {
    let Some((_, want_port)) = pattern.rsplit_once(':') else {
        return false;
    };
    let port_ok = want_port == "*" || want_port.parse::<u16>() == Ok(port);
    port_ok && endpoint_host_match(pattern, host)
}

/// Matches `host` against the host part of a `connect` pattern, whatever its port.
fn endpoint_host_match(pattern: &str, host: &str) -> bool {
    let Some((want_host, _)) = pattern.rsplit_once(':') else {
        return false;
    };
    let want_host = want_host.trim_start_matches('[').trim_end_matches(']');
    let host = host.trim_start_matches('[').trim_end_matches(']');
    want_host == "*" || want_host.eq_ignore_ascii_case(host)
}

/// The operator's grants: capabilities per plugin name.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    pub plugins: BTreeMap<String, Capabilities>,
}

impl Grants {
    pub fn parse(text: &str, path: &Path) -> Result<Grants, LoadError> {
        toml::from_str(text).map_err(|error| LoadError::Grants {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
    }

    /// What the operator grants `plugin` (nothing if it is not listed).
    pub fn for_plugin(&self, plugin: &str) -> Capabilities {
        self.plugins.get(plugin).cloned().unwrap_or_default()
    }
}

/// A path with `.` and `..` resolved lexically; `None` for relative paths or `..` above `/`.
pub fn normalize(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(part) => out.push(part),
            Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// True when normalized `path` is `prefix` or inside it.
fn path_within(path: &Path, prefix: &Path) -> bool {
    match (normalize(path), normalize(prefix)) {
        (Some(path), Some(prefix)) => path.starts_with(prefix),
        _ => false,
    }
}

/// Matches `path` against `pattern` component by component; `*` matches any run of
/// characters within one component.
fn glob_match(pattern: &Path, path: &Path) -> bool {
    let (Some(pattern), Some(path)) = (normalize(pattern), normalize(path)) else {
        return false;
    };
    let pattern: Vec<_> = pattern.components().collect();
    let path: Vec<_> = path.components().collect();
    pattern.len() == path.len()
        && pattern.iter().zip(&path).all(|(p, c)| {
            component_match(
                &p.as_os_str().to_string_lossy(),
                &c.as_os_str().to_string_lossy(),
            )
        })
}

/// `*` matches any run of characters, the rest must be equal. Greedy with one backtrack point
/// (the last `*`), so the time is O(pattern × text) however many `*` the pattern has: the
/// patterns come from a plugin's manifest and the text from its host call, and a recursive
/// match was exponential in the stars (a 170-byte manifest held a host thread past the
/// fuzzer's 10 s timeout).
/// Bytes are compared, which is the same as characters: both sides are UTF-8, so a literal
/// run never matches from the middle of a character.
fn component_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut pattern_idx, mut text_idx) = (0, 0);
    // Where the last `*` was seen: the pattern after it, and the text it has taken up to.
    let mut last_star: Option<(usize, usize)> = None;
    while text_idx < text.len() {
        match pattern.get(pattern_idx) {
            Some(b'*') => {
                pattern_idx += 1;
                last_star = Some((pattern_idx, text_idx));
            }
            Some(&byte) if byte == text[text_idx] => {
                pattern_idx += 1;
                text_idx += 1;
            }
            _ => match last_star {
                // The last `*` takes one more byte and the rest is tried again from there.
                Some((after_star, taken)) => {
                    pattern_idx = after_star;
                    text_idx = taken + 1;
                    last_star = Some((after_star, taken + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pattern_idx..].iter().all(|&byte| byte == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_dirs(_: &str) -> Vec<PathBuf> {
        Vec::new()
    }

    #[test]
    fn spawn_globs_match_one_component() {
        let caps = Capabilities {
            spawn: vec!["/usr/bin/qemu-system-*".into()],
            ..Default::default()
        };
        assert!(caps.allows(
            Operation::Spawn(Path::new("/usr/bin/qemu-system-x86_64")),
            &no_dirs
        ));
        assert!(!caps.allows(Operation::Spawn(Path::new("/usr/bin/sh")), &no_dirs));
        assert!(!caps.allows(
            Operation::Spawn(Path::new("/usr/bin/qemu-system-x/../../sh")),
            &no_dirs
        ));
    }

    #[test]
    fn spawn_globs_match_within_a_component() {
        let cases = [
            ("*", "", true),
            ("*", "qemu", true),
            ("qemu-*", "qemu-", true),
            ("qemu-*", "qemu", false),
            ("*-x86_64", "qemu-system-x86_64", true),
            ("q*s*m-*", "qemu-system-x86_64", true),
            ("q*s*m-*4", "qemu-system-x86_6", false),
            ("*a*b", "aab", true),
            ("*a*b", "aaba", false),
            ("a**b", "ab", true),
            ("*é*", "été", true),
            ("exact", "exact", true),
            ("exact", "exac", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                component_match(pattern, text),
                expected,
                "{pattern} vs {text}"
            );
        }
    }

    /// Stars in a manifest's pattern made the match exponential, and the plugin chooses the
    /// path it is matched with: the `manifest` fuzz target timed out on such a manifest.
    #[test]
    fn many_stars_in_a_manifest_pattern_do_not_make_matching_exponential() {
        let pattern = format!("/{}b", "*a".repeat(30));
        let manifest = Manifest::parse(
            &format!("{VALID}[capabilities]\nspawn = ['{pattern}']\n"),
            Path::new("x.toml"),
        )
        .expect("valid");
        let program = format!("/{}", "a".repeat(200));
        let started = std::time::Instant::now();
        assert!(!manifest
            .capabilities
            .allows(Operation::Spawn(Path::new(&program)), &no_dirs));
        assert!(manifest.capabilities.allows(
            Operation::Spawn(Path::new(&format!("{program}b"))),
            &no_dirs
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn file_prefixes_resolve_dot_dot_and_dirs() {
        let caps = Capabilities {
            files_write: vec!["$run/sub".into()],
            ..Default::default()
        };
        let dirs = |var: &str| {
            (var == "run")
                .then(|| PathBuf::from("/run/rvirt/qemu"))
                .into_iter()
                .collect()
        };
        assert!(caps.allows(
            Operation::FileWrite(Path::new("/run/rvirt/qemu/sub/x")),
            &dirs
        ));
        assert!(caps.allows(
            Operation::FileRead(Path::new("/run/rvirt/qemu/sub/x")),
            &dirs
        ));
        assert!(!caps.allows(
            Operation::FileWrite(Path::new("/run/rvirt/qemu/sub/../../etc")),
            &dirs
        ));
        assert!(!caps.allows(Operation::FileWrite(Path::new("relative")), &dirs));
    }

    #[test]
    fn helpers_stand_for_every_helper_directory() {
        let caps = Capabilities {
            spawn: vec!["$helpers/rvirt-lxc-controller".into()],
            ..Default::default()
        };
        let dirs = |var: &str| match var {
            "helpers" => vec![PathBuf::from("/opt/a"), PathBuf::from("/usr/libexec/rvirt")],
            _ => Vec::new(),
        };
        assert!(caps.allows(
            Operation::Spawn(Path::new("/opt/a/rvirt-lxc-controller")),
            &dirs
        ));
        assert!(caps.allows(
            Operation::Spawn(Path::new("/usr/libexec/rvirt/rvirt-lxc-controller")),
            &dirs
        ));
        assert!(!caps.allows(
            Operation::Spawn(Path::new("/tmp/rvirt-lxc-controller")),
            &dirs
        ));
    }

    #[test]
    fn manifest_rejects_unknown_keys() {
        let err = Manifest::parse(
            "name='x'\nversion='1'\nwit='0.1.0'\nuri-schemes=['x']\nbogus=1",
            Path::new("x.toml"),
        );
        assert!(err.is_err());
        let manifest = Manifest::parse(
            "name='x'\nversion='1.0.0'\nwit='0.1.0'\nuri-schemes=['x']\n[capabilities]\nnet=['tap']",
            Path::new("x.toml"),
        )
        .expect("valid");
        assert_eq!(manifest.capabilities.net, vec!["tap".to_string()]);
    }

    const VALID: &str = "name = 'x'\nversion = '1.0.0'\nwit = '0.1.0'\nuri-schemes = ['x']\n";

    fn reason(text: &str, file: &str) -> String {
        Manifest::parse(text, Path::new(file))
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn manifest_fields_are_checked_and_named() {
        assert!(Manifest::parse(VALID, Path::new("/p/x.toml")).is_ok());
        assert!(Manifest::parse(VALID, Path::new("/crate/rvirt-plugin.toml")).is_ok());
        let wrong_stem = reason(VALID, "/p/y.toml");
        assert!(
            wrong_stem.contains("/p/y.toml") && wrong_stem.contains("field `name`"),
            "{wrong_stem}"
        );
        let path_name = reason(&VALID.replace("'x'\n", "'../x'\n"), "/p/x.toml");
        assert!(path_name.contains("field `name`"), "{path_name}");
        let version = reason(&VALID.replace("1.0.0", "1.0"), "/p/x.toml");
        assert!(version.contains("field `version`"), "{version}");
        let wit = reason(&VALID.replace("0.1.0", "zero"), "/p/x.toml");
        assert!(wit.contains("field `wit`"), "{wit}");
        let sha = reason(&format!("{VALID}sha256 = 'abc'\n"), "/p/x.toml");
        assert!(sha.contains("field `sha256`"), "{sha}");
    }

    #[test]
    fn a_component_must_match_its_checksum() {
        use sha2::Digest;
        let bytes = b"\0asm component bytes";
        let digest = hex::encode(sha2::Sha256::digest(bytes));
        let text = format!("{VALID}sha256 = '{digest}'\n");
        let manifest = Manifest::parse(&text, Path::new("/p/x.toml")).expect("valid");
        let wasm = Path::new("/p/x.wasm");
        manifest.verify_component(bytes, wasm).expect("matches");
        let error = manifest
            .verify_component(&bytes[..bytes.len() - 1], wasm)
            .expect_err("truncated")
            .to_string();
        assert!(
            error.contains("/p/x.wasm") && error.contains("sha256"),
            "{error}"
        );
        let unsigned = Manifest::parse(VALID, Path::new("/p/x.toml")).expect("valid");
        unsigned
            .verify_component(b"anything", wasm)
            .expect("no checksum, nothing to check");
    }

    #[test]
    fn connect_patterns_name_host_and_port() {
        let caps = Capabilities {
            connect: vec!["127.0.0.1:*".into(), "*:443".into(), "[::1]:8989".into()],
            ..Capabilities::default()
        };
        let allows = |host, port| caps.allows(Operation::Connect { host, port }, &no_dirs);
        assert!(allows("127.0.0.1", 8989));
        assert!(allows("vcenter.example", 443));
        assert!(allows("::1", 8989));
        assert!(!allows("vcenter.example", 80));
        assert!(!allows("::1", 22));
        let reaches = |host| caps.allows(Operation::ConnectHost(host), &no_dirs);
        assert!(reaches("127.0.0.1") && reaches("::1") && reaches("vcenter.example"));
        let one_host = Capabilities {
            connect: vec!["hmc.example:22".into()],
            ..Capabilities::default()
        };
        assert!(one_host.allows(Operation::ConnectHost("HMC.example"), &no_dirs));
        assert!(!one_host.allows(Operation::ConnectHost("other.example"), &no_dirs));
        assert!(!Capabilities::default().allows(
            Operation::Connect {
                host: "127.0.0.1",
                port: 22
            },
            &no_dirs
        ));
    }

    #[test]
    fn secondary_objects_name_the_schemes_they_serve() {
        let manifest = Manifest::parse(
            &format!("{VALID}[secondary]\nnetworks = ['qemu', 'lxc']\n"),
            Path::new("x.toml"),
        )
        .expect("valid");
        assert_eq!(
            manifest.secondary.schemes(SecondaryKind::Networks),
            ["qemu".to_string(), "lxc".to_string()]
        );
        let unknown = reason(
            &format!("{VALID}[secondary]\nvolumes = ['qemu']\n"),
            "x.toml",
        );
        assert!(unknown.contains("volumes"), "{unknown}");
    }

    #[test]
    fn a_sibling_run_directory_is_a_plain_driver_name() {
        let dirs = crate::config::DriverDirs::rooted(Path::new("/r"), "lxc");
        assert_eq!(
            dirs.expand("run:network"),
            Some(PathBuf::from("/r/run/network"))
        );
        assert_eq!(dirs.expand("run:../etc"), None);
        assert_eq!(dirs.expand("run:a/b"), None);
    }
}
