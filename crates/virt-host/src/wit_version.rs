//! Which `rvirt:driver` version a plugin speaks, read from its bytes before instantiation.
//!
//! The guest SDK writes the version into the custom section `rvirt:wit-version` of the
//! plugin's core module; a component nests that module, so every nesting level is searched.

use std::path::Path;

use crate::error::LoadError;

/// The WIT version this host implements.
pub const HOST_WIT_VERSION: &str = "0.1.0";

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
pub fn check(plugin: &str, plugin_version: &str) -> Result<(), LoadError> {
    let unsupported = || LoadError::UnsupportedWitVersion {
        plugin: plugin.to_string(),
        found: plugin_version.to_string(),
        supported: HOST_WIT_VERSION.to_string(),
    };
    let host = WitVersion::parse(HOST_WIT_VERSION).ok_or_else(unsupported)?;
    let found = WitVersion::parse(plugin_version).ok_or_else(unsupported)?;
    if WitVersion::host_can_load(host, found) {
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
    fn error_names_both_versions() {
        let error = check("bad", "99.0.0").expect_err("refused");
        assert_eq!(
            error.to_string(),
            "plugin 'bad' was built for rvirt:driver@99.0.0; this host speaks 0.1.0 (major 0)"
        );
    }
}
