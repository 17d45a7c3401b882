//! libvirt's Virtuozzo driver (`vz:///system`) as an rvirt plugin.
//!
//! libvirt drives Virtuozzo through the Parallels SDK; here the plugin drives it through
//! `prlctl`, Virtuozzo's documented command line, and reads its JSON list output
//! (`prlctl list -a -i -j`). prlctl is the record: every call asks it, the plugin keeps
//! nothing. [`model`] is the pure part (prlctl's JSON, the state mapping, the domain XML and
//! the reading of a definition into prlctl arguments); [`runtime`] runs prlctl through the
//! host's `command.run` call.

pub mod model;
#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
