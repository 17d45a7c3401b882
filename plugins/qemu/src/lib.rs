//! libvirt's QEMU/KVM driver as an rvirt plugin (`qemu:///system`, `qemu:///session`,
//! `qemu:///embed?root=DIR`).
//!
//! It turns domain XML into a QEMU command line, asks the host to start `qemu-system-*`, and
//! drives the running QEMU over QMP. It owns the QEMU-specific knowledge: capabilities probing,
//! the argv, the QMP conversation, the mapping of QEMU's events onto libvirt's states and
//! events. It holds nothing between calls: domains live in host records ([`records`]) mirrored
//! to libvirt's config and status files, QEMU processes and monitor sockets are host handles.
//! It must not know how the host runs it, nor anything about the wire protocol.

pub mod argv;
pub mod capabilities;
mod error;
mod qemu_events;
mod qmp;
mod records;
mod space;
mod util;

use virt_plugin_sdk::host::{files, state};
use virt_plugin_sdk::types::Error;
use virt_plugin_sdk::*;

use crate::space::SpaceKind;

/// The plugin: a unit type, every call reads what it needs from the host.
struct QemuDriver;

impl Connect for QemuDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "QEMU".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uri_schemes: vec!["qemu".into()],
            hypervisor_version: 0,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let kind = SpaceKind::from_uri(&uri)?;
        let status = state::bind_space(&kind.space_name(), state::Persistence::Persistent)?;
        let layout = kind.layout(&files::dirs());
        if status != state::SpaceStatus::Existing {
            layout.create_dirs()?;
            records::put_json(records::META, records::META_LAYOUT, &layout);
        }
        Ok(())
    }
}

impl Domains for QemuDriver {}
impl Snapshots for QemuDriver {}
impl Networks for QemuDriver {}
impl Storage for QemuDriver {}
impl HostDevices for QemuDriver {}
impl Secrets for QemuDriver {}
impl Handlers for QemuDriver {}

// Native builds (unit tests, the xtask argv-conformance command) use the driver's pure modules
// only; the component exports exist in the wasm build.
#[cfg(target_arch = "wasm32")]
export_plugin!(QemuDriver = QemuDriver);
