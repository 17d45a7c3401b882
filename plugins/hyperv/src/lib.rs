//! libvirt's Hyper-V driver (`hyperv://user@host/`) as an rvirt plugin.
//!
//! Hyper-V is managed through WMI, which a Windows host serves over WS-Management (WinRM) on
//! port 5985 (`transport=http`) or 5986 (https, the default). The driver reads and changes
//! the `Msvm_*` classes of `root/virtualization/v2` as libvirt's does: [`uri`] reads the URI,
//! [`wsman`] the protocol (pure), [`wmi`] the classes and states (pure), [`ntlm`] what a 401
//! offers and NTLMv2's messages (pure), [`runtime`] the calls as requests, which `transport`
//! sends with the login the server asked for: Basic through the host's `http.send`, as
//! libvirt does, or NTLM (WinRM's default) over an `http` session, one connection each.

pub mod ntlm;
pub mod uri;
pub mod wmi;
pub mod wsman;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
#[cfg(target_arch = "wasm32")]
mod transport;
