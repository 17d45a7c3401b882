//! Which `rvirt:driver` version a plugin speaks, read from its bytes before instantiation.
//!
//! The guest SDK writes the version into the custom section `rvirt:wit-version` of the
//! plugin's core module; a component nests that module, so every nesting level is searched.

use std::path::Path;

use crate::error::LoadError;

/// The WIT version this host implements.
pub const HOST_WIT_VERSION: &str = "0.2.0";

/// Every version this host loads, newest first: its own, and each frozen one its world still
/// names whole (`wit/since_v0_1_0`). A 0.1.0 component imports a subset of the 0.2.0 world
/// and exports exactly the interfaces it requires, so one set of bindings serves both.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &[HOST_WIT_VERSION, "0.1.0"];

/// Name of the custom section holding the version.
pub const SECTION_NAME: &str = "rvirt:wit-version";

/// A parsed `major.minor.patch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WitVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl WitVersion {
    pub fn parse(text: &str) -> Option<WitVersion> {
        let mut parts = text
            .trim()
            .splitn(3, '.')
            .map(|part| part.parse::<u32>().ok());
        let version = WitVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        Some(version)
    }

    /// Semver compatibility as Cargo reads it: same major, and for 0.x the same minor too;
    /// the plugin may be older than the host, never newer.
    pub fn host_can_load(host: WitVersion, plugin: WitVersion) -> bool {
        if host.major != plugin.major {
            return false;
        }
        if host.major == 0 {
            return host.minor == plugin.minor;
        }
        plugin.minor <= host.minor
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Reads the version section of a component (or module) without instantiating it.
pub fn read(bytes: &[u8], path: &Path) -> Result<String, LoadError> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|error| LoadError::Corrupt {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
        if let wasmparser::Payload::CustomSection(section) = payload {
            if section.name() == SECTION_NAME {
                return String::from_utf8(section.data().to_vec()).map_err(|_| {
                    LoadError::Corrupt {
                        path: path.to_path_buf(),
                        reason: format!("section {SECTION_NAME} is not UTF-8"),
                    }
                });
            }
        }
    }
    Err(LoadError::NoWitVersion {
        path: path.to_path_buf(),
    })
}

/// Fails unless this host can load a plugin built for `plugin_version`.
pub fn check(plugin: &str, path: &Path, plugin_version: &str) -> Result<(), LoadError> {
    let unsupported = || LoadError::UnsupportedWitVersion {
        plugin: plugin.to_string(),
        path: path.to_path_buf(),
        found: plugin_version.to_string(),
        supported: SUPPORTED_WIT_VERSIONS.join(" and "),
    };
    let found = WitVersion::parse(plugin_version).ok_or_else(unsupported)?;
    let loadable = SUPPORTED_WIT_VERSIONS
        .iter()
        .filter_map(|version| WitVersion::parse(version))
        .any(|host| WitVersion::host_can_load(host, found));
    if loadable {
        Ok(())
    } else {
        Err(unsupported())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_semver() {
        let v = |s| WitVersion::parse(s).expect("version");
        assert!(WitVersion::host_can_load(v("0.1.0"), v("0.1.0")));
        assert!(WitVersion::host_can_load(v("0.1.0"), v("0.1.3")));
        assert!(!WitVersion::host_can_load(v("0.1.0"), v("0.2.0")));
        assert!(!WitVersion::host_can_load(v("0.1.0"), v("1.0.0")));
        assert!(WitVersion::host_can_load(v("1.3.0"), v("1.1.0")));
        assert!(!WitVersion::host_can_load(v("1.3.0"), v("1.4.0")));
        assert!(!WitVersion::host_can_load(v("1.3.0"), v("2.0.0")));
        assert_eq!(WitVersion::parse("1.x.0"), None);
    }

    #[test]
    fn error_names_both_versions_and_the_file() {
        let error = check("bad", Path::new("/p/bad.wasm"), "99.0.0").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "plugin 'bad' ('/p/bad.wasm') was built for rvirt:driver@99.0.0; this host speaks 0.2.0 and 0.1.0"
        );
        let error = check("new", Path::new("/p/new.wasm"), "0.3.0").expect_err("refused");
        assert!(error.to_string().contains("rvirt:driver@0.3.0"), "{error}");
    }

    #[test]
    fn the_frozen_minor_and_the_current_one_load() {
        let path = Path::new("/p/x.wasm");
        check("old", path, "0.1.0").expect("0.1.0 loads");
        check("old-patch", path, "0.1.7").expect("0.1.x loads");
        check("current", path, "0.2.0").expect("0.2.0 loads");
        check("garbage", path, "zero").expect_err("not a version");
    }
}
