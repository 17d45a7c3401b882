//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The workspace root.
pub use rvirt_tests::workspace_root;

/// Where `cargo xtask plugins` installs the driver plugins.
pub fn plugins_dir() -> PathBuf {
    workspace_root().join("target/plugins")
}

/// Where `cargo xtask plugins` installs the misbehaving test plugins.
pub fn test_plugins_dir() -> PathBuf {
    workspace_root().join("target/test-plugins")
}
