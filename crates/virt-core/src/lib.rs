//! rvirt's stable public API: what an embedder or a tool programs against.
//!
//! It owns libvirt's vocabulary (error numbers and domains in [`error`], every numeric enum
//! and flag in [`consts`], object references and typed parameters in [`types`], events in
//! [`event`]) and, with the default `runtime` feature, the connection API: [`Connect`] (async,
//! tokio) and [`blocking::Connect`], the [`driver::Driver`]/[`driver::Connection`] contract
//! that backends implement, and the [`registry`] that routes a URI to a backend.
//!
//! It knows nothing about WebAssembly, the wire protocol or XML: `virt-host` serves
//! connections from wasm plugins, `virt-rpc` from a remote daemon. Without the `runtime`
//! feature the crate builds for `wasm32-wasip2`, so plugins share the same vocabulary.

pub mod consts;
pub mod error;
pub mod event;
#[cfg(feature = "runtime")]
pub mod migration;
pub mod packed;
pub mod types;

#[cfg(feature = "runtime")]
pub mod blocking;
#[cfg(feature = "runtime")]
mod connect;
#[cfg(feature = "runtime")]
pub mod console;
#[cfg(feature = "runtime")]
pub mod driver;
#[cfg(feature = "runtime")]
pub mod registry;
pub mod uri;
#[cfg(feature = "runtime")]
pub mod volume_data;

#[cfg(feature = "runtime")]
pub use connect::{Connect, Domain};
pub use error::{Error, ErrorDomain, ErrorNumber, Result};
pub use event::Event;
pub use types::*;
pub use uri::ConnectUri;

/// The libvirt API level rvirt implements, as `virConnectGetLibVersion` reports it
/// (major * 1,000,000 + minor * 1,000 + micro): libvirt 9.0.0.
pub const LIBVIRT_API_VERSION: u64 = 9_000_000;
