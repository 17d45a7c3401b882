//! libvirt's VMware Workstation, Player and Fusion driver (`vmwarews:///session`,
//! `vmwareplayer:///session`, `vmwarefusion:///session`) as an rvirt plugin.
//!
//! A machine is a VMX file; `vmrun` starts, stops, pauses and resets it and lists the
//! running ones. The conversion between VMX and domain XML is `virt-vmx`'s (shared with the
//! ESX driver to come); [`runtime`] keeps the machines' VMX paths in the product's persistent
//! space and runs `vmrun` through the host's `command` call.

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
