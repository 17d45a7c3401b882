//! Shared fixtures for rvirt's integration tests (see `all/main.rs`) and benches.

use std::path::PathBuf;

use virt_host::manifest::Grants;

/// The checkout this crate lives in.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What the operator grants the plugins of a checkout: the project's `etc/grants.toml`, so
/// tests and benches run the plugins with exactly the privileges a user of the checkout gets.
pub fn checkout_grants() -> Grants {
    let path = workspace_root().join("etc/grants.toml");
    let text = std::fs::read_to_string(&path).expect("etc/grants.toml");
    Grants::parse(&text, &path).expect("valid grants")
}
