//! libvirt's VMware ESX driver (`esx://`, `gsx://`, `vpx://`) as an rvirt plugin.
//!
//! libvirt's driver speaks the vSphere API (SOAP over HTTPS) to an ESX host or a vCenter,
//! and reads and writes the machines' VMX files on their datastores; so does this plugin,
//! through the host's capability-checked `http` call. [`uri`] reads libvirt's URI forms,
//! [`vim`] the vSphere calls and answers (pure), [`runtime`] makes them: machines as domains
//! (their VMX files converted by `virt-vmx`), snapshots, datastores as storage pools, virtual
//! switches as networks, physical NICs as interfaces.

pub mod uri;
pub mod vim;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
