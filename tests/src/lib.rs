//! Shared fixtures for rvirt's integration tests (see `all/main.rs`).

/// What the operator grants the QEMU plugin in the tests and the start bench: the same as
/// `etc/grants.toml`.
pub const QEMU_GRANTS: &str = r#"
[plugins.qemu]
spawn = ["/usr/bin/qemu-system-*"]
unix-connect = ["$run"]
files-read = ["/"]
files-write = ["/"]
net = ["tap", "bridge", "link"]
"#;
