//! VMware's VMX configuration files as libvirt 9.0 converts them to and from domain XML
//! (its `src/vmx/vmx.c`), for the driver plugins that talk to VMware hosts: ESX over
//! vSphere and VMware Workstation over `vmrun`.
//!
//! [`vmx_to_domain`] reads a VMX file into the [`Domain`](virt_xml::domain::Domain) libvirt
//! shows for it; [`domain_to_vmx`] writes the VMX file for a definition at a given virtual
//! hardware version. Both ask a [`VmxContext`] what only the driver knows: how a file name
//! in the VMX file maps to a datastore path and back, and which SCSI controller model a
//! disk image wants. [`vmx`] holds the file format itself.
//!
//! This crate owns the mapping between the two vocabularies and nothing else: it does no
//! I/O, asks the operating system nothing, knows no host, datastore or vSphere call, and
//! builds for `wasm32-wasip2`. Domain XML text is parsed and formatted by `virt-xml`.

mod address;
mod context;
mod from_domain;
mod to_domain;
pub mod vmx;

pub use context::{ScsiControllerModel, VmxContext};
pub use from_domain::domain_to_vmx;
pub use to_domain::vmx_to_domain;
pub use vmx::{decode_vmx, escape_hex, unescape_hex, VmxFile, VmxWriter};

/// Results of this crate: failures are libvirt errors.
pub type Result<T, E = virt_core::Error> = std::result::Result<T, E>;
