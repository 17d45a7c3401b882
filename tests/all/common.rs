//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Where `cargo xtask plugins` installs the driver plugins.
pub fn plugins_dir() -> PathBuf {
    workspace_root().join("target/plugins")
}

/// Where `cargo xtask plugins` installs the misbehaving test plugins.
pub fn test_plugins_dir() -> PathBuf {
    workspace_root().join("target/test-plugins")
}
