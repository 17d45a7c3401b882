//! Which backends serve connections in this process.
//!
//! rvirsh registers them with virt-core at start-up, before any command runs: the remote
//! client first (so `qemu+ssh://` and friends go to a daemon), then the in-process plugin
//! host (which serves `test:///default` and the local drivers). Registration only records
//! the drivers; plugins are loaded when a connection first needs them.

/// Registers every backend rvirsh was built with. Failing to set up one backend is not
/// fatal: the connection attempt that needs it reports the error.
pub fn register() {
    // Backends are wired in here as their crates land (virt-rpc, virt-host); see
    // tools/rvirsh/NEEDS.md.
}
