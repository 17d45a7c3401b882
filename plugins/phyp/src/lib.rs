//! libvirt's PowerVM driver (`phyp://user@hmc/managed-system`) as an rvirt plugin.
//!
//! A PowerVM guest is a logical partition (LPAR) of a POWER server, managed by an HMC or,
//! on a small system, by the IVM running in one of its partitions. Both are reached over SSH
//! and answer text commands; the driver is a translator between libvirt's calls and those
//! commands. [`uri`] reads the connection URI, [`hmc`] holds the command language (pure,
//! tested natively), [`runtime`] runs it over the host's `ssh` sessions.
//!
//! libvirt removed this driver in 6.0; rvirt keeps its URI, error domain and behaviour where
//! they were sound, and says where it differs (ARCHITECTURE.md, "PowerVM").

pub mod hmc;
pub mod uri;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
