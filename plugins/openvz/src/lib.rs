//! libvirt's OpenVZ driver (`openvz:///system`) as an rvirt plugin.
//!
//! A container is what `vzlist` lists and `vzctl` changes; the driver keeps nothing of its
//! own but which running containers it paused (vzlist cannot tell). [`container`] holds the
//! tools' language (pure); [`runtime`] runs them through the host's `command` call.

pub mod container;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
