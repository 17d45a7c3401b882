//! libvirt's VirtualBox driver (`vbox:///session`) as an rvirt plugin.
//!
//! libvirt's driver calls VirtualBox's XPCOM API in its own process; a sandboxed plugin
//! reaches the same API through VirtualBox's web service (vboxwebsrv), whose SOAP calls mirror
//! it one for one. [`uri`] reads the URI, [`webservice`] the SOAP calls (pure), [`runtime`]
//! makes them through the host's `http` call: machines as domains, their console for power
//! operations, their snapshots as libvirt's.

pub mod uri;
pub mod webservice;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
