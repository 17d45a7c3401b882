//! Which backends serve connections in this process.
//!
//! rvirsh registers them with virt-core at start-up, before any command runs: the remote
//! client first (so `qemu+ssh://` and friends go to a daemon), then the in-process plugin
//! host (which serves `test:///default` and the local drivers). Registration only records
//! the drivers; plugins are loaded when a connection first needs them.

/// Registers every backend rvirsh was built with. A backend that cannot be set up is not
/// fatal (remote URIs work without the plugin host); its error is returned so that a
/// connection nobody could serve reports the real reason.
pub fn register() -> Option<virt_core::Error> {
    virt_rpc::register();
    match virt_host::register_default() {
        Ok(_) => None,
        Err(error) => {
            tracing::debug!(%error, "plugin host unavailable");
            Some(error)
        }
    }
}
