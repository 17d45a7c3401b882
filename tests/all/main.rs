//! rvirt's integration tests, one binary. Each area is a module; add yours with one line.
//!
//! Tests drive the real compiled plugins (`cargo xtask plugins` builds them into
//! `target/plugins/`), real clients and real hypervisors.

mod bhyve;
mod common;
mod compat;
mod esx;
mod fault_hook;
mod host;
mod hot_reload;
mod hyperv;
mod lxc;
mod migration;
mod network_driver;
mod nodedev_driver;
mod openvz;
mod phyp;
mod qemu;
#[path = "../rpc/mod.rs"]
mod rpc;
mod rvirsh;
mod secret_driver;
mod storage_driver;
mod test_driver;
mod third_party;
mod vbox;
mod vmware;
mod vz;
mod xen;
mod xen_real;
