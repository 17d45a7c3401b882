//! The remote protocol end to end with rvirt's own client (virt-core + virt-rpc):
//!
//! - against the real libvirtd 9.0 (a private session daemon started here), proving rvirt's
//!   client speaks libvirt's protocol as libvirt's own clients do;
//! - against rvirt's daemon side (virt-rpc's server in this process, serving the test driver
//!   plugin), running the very same scenario.
//!
//! The scenario mirrors `../shared/conformance/client_suite.py` for everything `virt-core`'s
//! API offers. The rvirtd binary itself, with virsh and python3-libvirt, is tested in
//! `tools/rvirtd/tests`.

mod libvirtd;
mod rvirtd;
mod scenario;
