//! Why a plugin could not be loaded, and how host failures read as libvirt errors.

use std::path::PathBuf;

use virt_core::{Error, ErrorDomain, ErrorNumber};

/// A plugin that cannot be used. Each message names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read '{}': {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid plugin manifest '{}': {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("invalid grants file '{}': {reason}", path.display())]
    Grants { path: PathBuf, reason: String },
    #[error("'{}' is not a valid WebAssembly component: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("'{}' does not match its manifest: its sha256 is {found}, the manifest's field `sha256` says {expected}", path.display())]
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("plugin '{}' has no rvirt:wit-version section (was it built with virt-plugin-sdk?)", path.display())]
    NoWitVersion { path: PathBuf },
    #[error("plugin '{plugin}' ('{}') was built for rvirt:driver@{found}; this host speaks {supported}", path.display())]
    UnsupportedWitVersion {
        plugin: String,
        path: PathBuf,
        found: String,
        /// The versions this host loads, newest first ("0.2.0 and 0.1.0").
        supported: String,
    },
    #[error(
        "plugin '{plugin}': manifest says {what} '{manifest}' but the component says '{component}'"
    )]
    Mismatch {
        plugin: String,
        what: &'static str,
        manifest: String,
        component: String,
    },
    #[error("plugin '{plugin}' cannot be instantiated: {reason}")]
    Instantiate { plugin: String, reason: String },
}

impl From<LoadError> for Error {
    fn from(error: LoadError) -> Self {
        let code = match error {
            LoadError::UnsupportedWitVersion { .. } => ErrorNumber::CONFIG_UNSUPPORTED,
            _ => ErrorNumber::INTERNAL_ERROR,
        };
        Error::new(code, ErrorDomain::NONE, error.to_string())
    }
}

/// VIR_ERR_OPERATION_DENIED for a host call outside the plugin's grant.
pub fn denied(plugin: &str, what: &str) -> Error {
    Error::new(
        ErrorNumber::OPERATION_DENIED,
        ErrorDomain::NONE,
        format!("plugin '{plugin}' is not granted to {what}"),
    )
}

/// VIR_ERR_INTERNAL_ERROR for a plugin that misbehaved (trapped, ran out of time or memory).
pub fn plugin_failed(plugin: &str, what: &str) -> Error {
    Error::internal(
        ErrorDomain::NONE,
        format!("driver plugin '{plugin}' failed: {what}"),
    )
}

/// VIR_ERR_SYSTEM_ERROR for an OS call made on a plugin's behalf.
pub fn system(what: impl std::fmt::Display, error: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::NONE,
        format!("{what}: {error}"),
    )
}
