//! Everything the controller does with raw privileges, one module per concern. Only the
//! binary uses this; the library half of the crate must stay free of it.

pub mod cgroups;
pub mod cleanup;
pub mod console;
pub mod container;
pub mod devices;
pub mod error;
pub mod monitor_server;
pub mod mounts;
pub mod namespaces;
pub mod network;
pub mod state;
pub mod supervisor;
