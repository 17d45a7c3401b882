//! Xen's `xl` guest configuration files ("xen-xl" native format) as libvirt 9.0 converts
//! them to and from domain XML (its `src/libxl/xen_xl.c` and `xen_common.c`), and the
//! `libxl_domain_config` libvirt's libxl driver builds from a domain (`libxl_conf.c`), for
//! the Xen driver plugin.
//!
//! [`xl_to_domain`] reads an `xl` configuration into the
//! [`Domain`](virt_xml::domain::Domain) libvirt shows for it (`virsh domxml-from-native
//! xen-xl`); [`domain_to_xl`] writes the configuration for a definition (`virsh
//! domxml-to-native xen-xl`, the text `xl create` accepts); [`domain_to_libxl_json`] gives
//! the libxl domain configuration a definition starts with, as libxl prints it in JSON.
//! Each asks a [`XenHostFacts`] what only the host knows: the guest types it runs, where
//! Xen keeps its firmware, the host CPU's virtualization extensions, and the answers libxl
//! gives while a configuration is built. Both directions run libvirt's post-parse steps for
//! the libxl driver (defaults, implicit devices) on the definition, as libvirt does before
//! it converts. [`conf`] is the configuration file format itself, [`disk_spec`] xl's disk
//! specifications.
//!
//! This crate owns the mapping between the vocabularies and nothing else: it does no I/O,
//! asks the operating system nothing and builds for `wasm32-wasip2`. What needs a running
//! libvirt is left to the driver and refused here with libvirt's error: the bridge of a
//! `type='network'` interface (the network driver), the key of an authenticated RBD disk
//! (the secret driver), a USB host device given by vendor and product (the host's devices),
//! and whether the `<emulator>` exists (see below).
//!
//! # Conformance
//!
//! `cargo xtask xl-conformance` runs libvirt's own cases: every published case of its
//! `xlconfigtest` (`.cfg` read as XML, XML written as `.cfg`, in the directions that test
//! runs each case) and of its `libxlxml2domconfigtest` (XML to libxl JSON, compared as JSON
//! values) comes out identical. libvirt did not publish the files of `fullvirt-ovswitch-tagged`,
//! `fullvirt-ovswitch-trunked`, `vif-rate`, `fullvirt-nestedhvm-disabled`,
//! `paravirt-cmdline-bogus-extra-root` and `paravirt-type` (xlconfig) nor of `basic-hvm`,
//! `variable-clock-hvm` and `fullvirt-acpi-slic` (libxl JSON); the command counts them as
//! skipped. The two `-legacy-nest` JSON cases are libvirt's data for libxl before Xen 4.10;
//! they run as such a host ([`XenHostFacts::nested_hvm_in_build_info`] off) with a single
//! NUMA node, which is what puts every virtual node of `vnuma-hvm-legacy-nest` on host
//! node 0 (libvirt's test mock reports six nodes, under which that file could not come out).
//!
//! # Differences from libvirt
//!
//! - Where libvirt fails without saying why (a `vif`, `pci` or `channel` entry it cannot
//!   read, a USB controller model libxl does not know, an unknown `soundhw` model), these
//!   conversions fail with a message naming the entry.
//! - `vcpus = 0` is refused (libvirt writes a domain with no vCPU).
//! - libxl's JSON is built here, not by libxl: fields at libxl's default are left out as
//!   libxl leaves them out, and the defaults libvirt's golden files spell out (`devid` -1 of
//!   framebuffers and keyboards, `rdm_policy` of PCI devices) are written. The `family` and
//!   `model` cpuid fields, which libxl spreads over two places of the register, are set like
//!   any other field.
//! - What needs the rest of libvirt is refused with the error libvirt's converters report
//!   without it: a `type='network'` interface (`virNetworkLookupByName`, the network driver
//!   knows its bridge), an RBD disk with authentication in libxl JSON
//!   (`virSecretGetSecretString`, the secret driver has the key) and a USB host device
//!   given by vendor and product. Whether the `<emulator>` exists and runs is the driver's
//!   to check before it asks for the JSON.

mod chr;
pub mod conf;
mod cpuid;
pub mod disk_spec;
mod facts;
mod from_domain;
mod libxl_json;
mod numa;
mod postparse;
mod rbd;
mod to_domain;
mod util;

pub use conf::{XlConfig, XlEntry, XlValue};
pub use facts::{DeviceModelVersion, XenHostFacts};
pub use from_domain::{domain_to_xl, domain_to_xl_config};
pub use libxl_json::domain_to_libxl_json;
pub use to_domain::xl_to_domain;

/// Results of this crate: failures are libvirt errors.
pub type Result<T, E = virt_core::Error> = std::result::Result<T, E>;
