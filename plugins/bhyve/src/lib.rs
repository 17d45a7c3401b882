//! libvirt's bhyve driver (`bhyve:///system`) as an rvirt plugin.
//!
//! bhyve is FreeBSD's hypervisor: a guest is a `bhyve` process, started after a loader
//! (`bhyveload`, `grub-bhyve`, or a UEFI ROM bhyve loads itself) has put the guest's kernel
//! in place. The driver's work is therefore translation, as libvirt's: [`address`] gives
//! the guest's devices their PCI slots the way libvirt's bhyve driver does, [`command`] turns
//! a domain into the loader's and bhyve's command lines, and [`native`] reads such command
//! lines back into a domain (`domxml-from-native bhyve-argv`). All three are pure and
//! checked natively against libvirt's golden files (`cargo xtask bhyve-conformance`).

pub mod address;
pub mod caps;
pub mod command;
pub mod native;
