//! libvirt's LXC driver as an rvirt plugin (`lxc:///`, `lxc:///system`).
//!
//! Each container runs under its own `rvirt-lxc-controller` (the only privileged part,
//! `tools/rvirt-lxc-controller`): the plugin turns the domain XML into the controller's spec
//! ([`spec`]), asks the host to start the controller, and talks to it over its monitor socket
//! ([`monitor`]): INIT and EXIT events one way, the privileged operations the plugin cannot do
//! itself (cgroup figures, freeze, signals) the other. How containers start, end, reboot and
//! survive a daemon restart is in [`lifecycle`]; read-only calls in [`query`].
//!
//! The plugin keeps nothing between calls: domains are records in the host's persistent space
//! ([`records`]), controllers and monitor connections are host handles named in them. It knows
//! nothing of namespaces, cgroups or mounts (the controller's business) and nothing of the
//! wire protocol (the daemon's).

pub mod def;
mod error;
pub mod lifecycle;
mod monitor;
mod query;
mod records;
pub mod spec;

use virt_plugin_sdk::host::process::{ProcessHandle, ProcessStatus};
use virt_plugin_sdk::host::state::{self, Persistence, SpaceStatus};
use virt_plugin_sdk::host::stream::StreamHandle;
use virt_plugin_sdk::types::{
    ConsoleEndpoint, DomainInfo, DomainRef, DomainState, Error, ObjectStatus, Uuid,
};
use virt_plugin_sdk::{
    wit, Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
    Storage,
};

/// The plugin: a unit type, every call reads what it needs from the host.
pub struct LxcDriver;

/// Which space a URI opens: libvirt's LXC driver has one, the system's.
pub fn check_uri(uri: &str) -> virt_core::Result<()> {
    let parsed = virt_core::ConnectUri::parse(uri)?;
    match parsed.path.as_str() {
        "" | "/" | "/system" => Ok(()),
        other => Err(crate::error::lxc_error(
            virt_core::ErrorNumber::INTERNAL_ERROR,
            format!("Unexpected LXC URI path '{other}', try lxc:///"),
        )),
    }
}

impl Connect for LxcDriver {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "LXC".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uri_schemes: vec!["lxc".to_string()],
            hypervisor_version: 0,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        wit(check_uri(&uri))?;
        match state::bind_space("system", Persistence::Persistent)? {
            SpaceStatus::Created => wit(records::dirs().create()),
            SpaceStatus::Reloaded => wit(lifecycle::reattach_all()),
            SpaceStatus::Existing => Ok(()),
        }
    }

    fn get_capabilities(&self) -> Result<String, Error> {
        Ok(capabilities_xml())
    }
}

/// The capabilities document: one guest type, `exe` containers of the host's architecture.
fn capabilities_xml() -> String {
    format!(
        "<capabilities>\n\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n    </cpu>\n  </host>\n\n  \
         <guest>\n    <os_type>exe</os_type>\n    <arch name='x86_64'>\n      <wordsize>64</wordsize>\n      \
         <emulator>{}</emulator>\n      <domain type='lxc'/>\n    </arch>\n  </guest>\n\n</capabilities>\n",
        def::DEFAULT_EMULATOR
    )
}

impl Domains for LxcDriver {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        wit(query::lookup_by_name(&name))
    }
    fn lookup_by_uuid(&self, uuid: Uuid) -> Result<DomainRef, Error> {
        wit(query::lookup_by_uuid(uuid.into()))
    }
    fn lookup_by_id(&self, id: i32) -> Result<DomainRef, Error> {
        wit(query::lookup_by_id(id))
    }
    fn list_all(&self, flags: u32) -> Result<Vec<DomainRef>, Error> {
        wit(query::list_all(flags))
    }
    fn define_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(lifecycle::define_xml(&xml, flags))
    }
    fn undefine(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(lifecycle::undefine(&dom, flags))
    }
    fn create(&self, dom: DomainRef, flags: u32) -> Result<DomainRef, Error> {
        wit(lifecycle::create(&dom, flags))
    }
    fn create_xml(&self, xml: String, flags: u32) -> Result<DomainRef, Error> {
        wit(lifecycle::create_xml(&xml, flags))
    }
    fn destroy(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(lifecycle::destroy(&dom, flags))
    }
    fn shutdown(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(lifecycle::shutdown(&dom, flags))
    }
    fn reboot(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(lifecycle::reboot(&dom, flags))
    }
    fn reset(&self, dom: DomainRef, flags: u32) -> Result<(), Error> {
        wit(lifecycle::reset(&dom, flags))
    }
    fn suspend(&self, dom: DomainRef) -> Result<(), Error> {
        wit(lifecycle::suspend(&dom))
    }
    fn resume(&self, dom: DomainRef) -> Result<(), Error> {
        wit(lifecycle::resume(&dom))
    }
    fn get_info(&self, dom: DomainRef) -> Result<DomainInfo, Error> {
        wit(query::get_info(&dom))
    }
    fn get_state(&self, dom: DomainRef, flags: u32) -> Result<DomainState, Error> {
        wit(query::get_state(&dom, flags))
    }
    fn get_status(&self, dom: DomainRef) -> Result<ObjectStatus, Error> {
        wit(query::get_status(&dom))
    }
    fn get_xml(&self, dom: DomainRef, flags: u32) -> Result<String, Error> {
        wit(query::get_xml(&dom, flags))
    }
    fn get_os_type(&self, dom: DomainRef) -> Result<String, Error> {
        wit(query::get_os_type(&dom))
    }
    fn set_autostart(&self, dom: DomainRef, autostart: bool) -> Result<(), Error> {
        wit(lifecycle::set_autostart(&dom, autostart))
    }
    fn get_max_memory(&self, dom: DomainRef) -> Result<u64, Error> {
        wit(query::get_max_memory(&dom))
    }
    fn set_memory(&self, dom: DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
        wit(lifecycle::set_memory(&dom, kib, flags))
    }
    fn open_console(
        &self,
        dom: DomainRef,
        dev_name: Option<String>,
        _flags: u32,
    ) -> Result<ConsoleEndpoint, Error> {
        wit(query::open_console(&dom, dev_name.as_deref()))
    }
}

impl Handlers for LxcDriver {
    fn process_exited(&self, handle: ProcessHandle, status: ProcessStatus) {
        if let Err(error) = lifecycle::on_process_exited(handle, &status) {
            virt_plugin_sdk::warn!("handling the exit of process {handle}: {}", error.message());
        }
    }

    fn stream_frame(&self, handle: StreamHandle, frame: Vec<u8>) {
        if let Err(error) = lifecycle::on_stream_frame(handle, &frame) {
            virt_plugin_sdk::warn!("handling a monitor event: {}", error.message());
        }
    }

    fn stream_closed(&self, handle: StreamHandle) {
        if let Err(error) = lifecycle::on_stream_closed(handle) {
            virt_plugin_sdk::warn!("handling a closed monitor: {}", error.message());
        }
    }
}

impl Snapshots for LxcDriver {}
impl Networks for LxcDriver {}
impl Storage for LxcDriver {}
impl HostDevices for LxcDriver {}
impl Secrets for LxcDriver {}

// Native builds (unit tests) use the pure modules only; the exports exist in the wasm build.
#[cfg(target_arch = "wasm32")]
virt_plugin_sdk::export_plugin!(LxcDriver = LxcDriver);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        check_uri("lxc:///").expect("lxc:///");
        check_uri("lxc:///system").expect("system");
        let error = check_uri("lxc:///session").expect_err("session");
        assert!(
            error
                .message()
                .contains("Unexpected LXC URI path '/session'"),
            "{error:?}"
        );
    }
}
