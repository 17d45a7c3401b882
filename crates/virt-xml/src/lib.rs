//! libvirt's XML documents as typed Rust models.
//!
//! This crate owns the shape of every document libvirt exchanges (domain, network, network
//! port, storage pool and volume, capabilities, domain capabilities, snapshot, checkpoint,
//! secret, node device, nwfilter, host interface): reading them into plain structs with `pub`
//! fields, checking them the way libvirt checks them at define time, and writing them back in
//! libvirt's canonical element order, attribute order and indentation, so that a document
//! libvirt wrote round-trips byte for byte.
//!
//! Every document type has `parse(&str) -> Result<Self, virt_core::Error>` and
//! `to_xml(&self) -> String`; failures carry libvirt's error numbers (`VIR_ERR_XML_DETAIL`
//! with line and column for malformed XML, `VIR_ERR_XML_ERROR`, `VIR_ERR_NO_NAME`, ...).
//! Driver-independent post-parse steps (a UUID when none was given, MAC addresses for
//! interfaces without one) are explicit functions the caller runs, so that parsing itself
//! stays faithful.
//!
//! It knows nothing about drivers, hypervisors, the wire protocol or the file system: it turns
//! text into values and values into text, and builds for `wasm32-wasip2` so that driver
//! plugins parse inside their sandbox. Parsing goes through a short-lived borrowed element
//! tree ([`xml::Node`]) read with `quick-xml`; no DOM outlives a call.

extern crate self as virt_xml;

pub mod xml;

pub mod capabilities;
pub mod document;
pub mod domain;
pub mod domain_capabilities;
pub mod interface;
pub mod metadata;
pub mod network;
pub mod network_port;
pub mod nodedev;
pub mod nwfilter;
pub mod secret;
pub mod snapshot;
pub mod storage;

/// The domain checkpoint document lives with snapshots (they share their structure).
pub mod checkpoint {
    pub use crate::snapshot::{CheckpointDisk, CheckpointDisks, DomainCheckpoint};
}

pub use virt_core::{Error, ErrorDomain, ErrorNumber};
pub use xml::FormatFlags;

/// Results of this crate: failures are libvirt errors.
pub type Result<T, E = virt_core::Error> = std::result::Result<T, E>;

pub use virt_xml_derive::XmlElement;
