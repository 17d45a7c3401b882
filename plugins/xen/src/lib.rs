//! libvirt's libxl driver (`xen:///system`, also `xen:///`) as an rvirt plugin, driving
//! Xen through its `xl` toolstack.
//!
//! libvirt links libxl into its daemon; a sandboxed plugin cannot, so this driver runs `xl`
//! through the host's capability-checked `command` call, as an operator would. `xl` is the
//! toolstack Xen ships and most Xen hosts run, its `xl create` takes exactly the
//! configuration files libvirt's `xen-xl` converter writes (`crates/virt-xl`), and `xl list
//! -l` prints libxl's own JSON of each running domain. Privilege stays in the host: the
//! plugin names a program its grants allow, the host runs it.
//!
//! [`info`] reads `xl info` (node figures, guest types, the facts the conversions need) and
//! [`list`] reads `xl list` and `xl list -l` (states, ids, UUIDs); both are pure and tested
//! natively. `runtime` keeps the definitions as records and runs xl; `plugin` binds the
//! SDK's traits to it. Both are wasm-only.

pub mod info;
pub mod list;

#[cfg(target_arch = "wasm32")]
mod plugin;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
