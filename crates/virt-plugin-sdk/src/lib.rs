//! The guest side of rvirt's driver interface (`wit/`, package `rvirt:driver`).
//!
//! A driver plugin implements [`Plugin`] (one trait per exported WIT interface, every method
//! defaulting to libvirt's VIR_ERR_NO_SUPPORT) and names its type with [`export_plugin!`].
//! The SDK owns the wit-bindgen bindings, writes the WIT version into the custom section
//! `rvirt:wit-version` so the host can read it before instantiating, and wraps the host's
//! imports ([`host`]) with small helpers, such as [`records`] for a driver's JSON records.
//!
//! A plugin instance is disposable: the host may run many instances of a plugin at once and
//! throw any of them away (after a trap, or to upgrade). Whatever must outlive one call lives
//! in the host, through [`host::state`] and the handle-based interfaces; statics in a plugin
//! are caches at most.

#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        // The frozen 0.1.0 package first: 0.2.0's world names its interfaces.
        path: ["../../wit/since_v0_1_0", "../../wit"],
        world: "rvirt:driver/driver@0.2.0",
        pub_export_macro: true,
        export_macro_name: "export_driver_bindings",
        default_bindings_module: "virt_plugin_sdk::bindings",
        generate_all,
    });
}

pub mod command_line;
mod convert;
mod interfaces;
pub mod listing;
pub mod node;
pub mod records;
pub mod secondary;

pub use convert::*;
pub use interfaces::*;
pub use virt_core;

/// The host's imports, as plugins use them.
pub mod host {
    pub use crate::bindings::rvirt::driver0_1_0::events;
    pub use crate::bindings::rvirt::driver0_1_0::files;
    pub use crate::bindings::rvirt::driver0_1_0::jobs;
    pub use crate::bindings::rvirt::driver0_1_0::log;
    pub use crate::bindings::rvirt::driver0_1_0::net;
    pub use crate::bindings::rvirt::driver0_1_0::process;
    pub use crate::bindings::rvirt::driver0_1_0::state;
    pub use crate::bindings::rvirt::driver0_1_0::unix_stream as stream;
    // Added in 0.2.0.
    pub use crate::bindings::rvirt::driver0_2_0::bridges;
    pub use crate::bindings::rvirt::driver0_2_0::command;
    pub use crate::bindings::rvirt::driver0_2_0::credentials;
    pub use crate::bindings::rvirt::driver0_2_0::device_watch;
    pub use crate::bindings::rvirt::driver0_2_0::file_attributes;
    pub use crate::bindings::rvirt::driver0_2_0::http;
    pub use crate::bindings::rvirt::driver0_2_0::object_events;
    pub use crate::bindings::rvirt::driver0_2_0::ports;
    pub use crate::bindings::rvirt::driver0_2_0::ssh;
    pub use crate::bindings::rvirt::driver0_2_0::state_bulk;
}

pub use bindings::exports::rvirt::driver0_1_0::connect::DriverMetadata;
/// One of the kernel's device changes (`Handlers::devices_changed`).
pub use bindings::exports::rvirt::driver0_2_0::device_changes::DeviceChange;
/// What a migration's Begin and Prepare phases hand on (`Domains::migrate_begin`,
/// `Domains::migrate_prepare`).
pub use bindings::exports::rvirt::driver0_2_0::migration::{
    Begun as MigrationBegun, Prepared as MigrationPrepared,
};
/// A DHCP lease (`Networks::dhcp_leases`).
pub use bindings::exports::rvirt::driver0_2_0::network_leases::DhcpLease;
/// The WIT types shared by imports and exports.
pub use bindings::rvirt::driver0_1_0::types;

/// The version of `wit/` this SDK was built against.
pub const WIT_VERSION: &str = "0.2.0";

/// The WIT version, in the custom section the host reads before instantiating.
#[link_section = "rvirt:wit-version"]
#[used]
static WIT_VERSION_SECTION: [u8; 5] = *b"0.2.0";

const _: () = assert!(WIT_VERSION.len() == WIT_VERSION_SECTION.len());

/// Writes a line to the host's log at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => {
        $crate::host::log::write($crate::host::log::Level::Info, &format!($($arg)*))
    };
}

/// Writes a line to the host's log at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::host::log::write($crate::host::log::Level::Warn, &format!($($arg)*))
    };
}

/// Writes a line to the host's log at debug level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        $crate::host::log::write($crate::host::log::Level::Debug, &format!($($arg)*))
    };
}

/// Exports a plugin: `export_plugin!(TestDriver = TestDriver);` where the expression is a
/// constant initializer of the plugin's type.
#[macro_export]
macro_rules! export_plugin {
    ($ty:ty = $init:expr) => {
        #[no_mangle]
        fn __rvirt_plugin() -> &'static dyn $crate::Plugin {
            static PLUGIN: $ty = $init;
            &PLUGIN
        }
        use $crate::Exports as __RvirtExports;
        $crate::bindings::export_driver_bindings!(__RvirtExports with_types_in $crate::bindings);
    };
}

extern "Rust" {
    fn __rvirt_plugin() -> &'static dyn Plugin;
}

/// The plugin named with [`export_plugin!`].
pub(crate) fn plugin() -> &'static dyn Plugin {
    // Referencing the section keeps it in the linked component.
    std::hint::black_box(&WIT_VERSION_SECTION);
    // SAFETY: `export_plugin!` defines `__rvirt_plugin` with exactly this signature; a plugin
    // that never invokes it fails to link, so the call cannot reach a missing symbol.
    unsafe { __rvirt_plugin() }
}

/// The type the WIT exports are implemented on; it forwards every call to [`plugin`].
pub struct Exports;
