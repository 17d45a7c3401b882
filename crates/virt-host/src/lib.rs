//! rvirt's plugin host: runs hypervisor drivers as sandboxed WebAssembly components.
//!
//! It owns everything between `virt-core`'s driver contract and the plugins: discovery on the
//! plugin path ([`Host`]), the WIT version check before instantiation ([`wit_version`]),
//! compilation with an on-disk cache keyed by module hash and engine ([`plugin::compile`]),
//! per-call instances with containment of traps, runaway loops and memory blow-ups
//! ([`Plugin`]), the host calls and their capability checks ([`manifest`], `host_calls`), and
//! the host-owned state plugins keep their objects in ([`space`], [`resources`]).
//!
//! Only this crate imports wasmtime. It knows nothing of the wire protocol or of any
//! particular hypervisor: that is the plugins' business.
//!
//! ```no_run
//! virt_host::register_default()?;
//! let conn = virt_core::blocking::Connect::open("test:///default")?;
//! println!("{} domains", conn.list_all_domains(0)?.len());
//! # Ok::<(), virt_core::Error>(())
//! ```
//!
//! Without its default `runtime` feature only [`manifest`], [`wit_version`] and [`error`]
//! remain: the files a plugin and the operator write, parsed and checked, with no wasmtime
//! (the fuzz targets use it that way).

#[cfg(feature = "runtime")]
pub mod bindings;
#[cfg(feature = "runtime")]
pub mod config;
#[cfg(feature = "runtime")]
mod connection;
#[cfg(feature = "runtime")]
mod credentials;
#[cfg(feature = "runtime")]
mod ctx;
#[cfg(feature = "runtime")]
mod device_watch;
pub mod error;
#[cfg(all(feature = "runtime", debug_assertions))]
mod fault;
#[cfg(feature = "runtime")]
mod host;
#[cfg(feature = "runtime")]
mod host_calls;
#[cfg(feature = "runtime")]
mod http_session;
pub mod manifest;
#[cfg(feature = "runtime")]
mod netdev;
#[cfg(feature = "runtime")]
mod outbound;
#[cfg(feature = "runtime")]
pub mod plugin;
#[cfg(feature = "runtime")]
pub mod resources;
#[cfg(feature = "runtime")]
pub mod space;
#[cfg(feature = "runtime")]
mod ssh_terminal;
pub mod wit_version;

#[cfg(feature = "runtime")]
use std::sync::{Arc, OnceLock};

#[cfg(feature = "runtime")]
pub use config::{DirLayout, DriverDirs, HostConfig};
#[cfg(feature = "runtime")]
pub use connection::PluginConnection;
#[cfg(feature = "runtime")]
pub use host::{Discovered, Host, HostDriver};
#[cfg(feature = "runtime")]
pub use plugin::Plugin;

/// Registers the plugin host, configured from the environment, as a `virt-core` driver, so
/// `virt_core::blocking::Connect::open` reaches plugin-served URIs in this process. Calling
/// it again returns the same host.
#[cfg(feature = "runtime")]
pub fn register_default() -> virt_core::Result<Arc<Host>> {
    static DEFAULT: OnceLock<Arc<Host>> = OnceLock::new();
    if let Some(host) = DEFAULT.get() {
        return Ok(Arc::clone(host));
    }
    let host = Arc::new(Host::from_environment()?);
    let host = Arc::clone(DEFAULT.get_or_init(|| host));
    virt_core::registry::register(Arc::new(HostDriver(Arc::clone(&host))));
    Ok(host)
}

/// Registers a host built from `config` (tests, embedders with their own paths).
#[cfg(feature = "runtime")]
pub fn register(config: HostConfig) -> Arc<Host> {
    let host = Arc::new(Host::new(config));
    virt_core::registry::register(Arc::new(HostDriver(Arc::clone(&host))));
    host
}
