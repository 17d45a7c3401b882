//! libvirt's secret driver for real hosts, as an rvirt plugin: secrets defined, looked up
//! by UUID or usage, their values set and read, persistent or ephemeral, public or private,
//! served next to the QEMU and LXC drivers (`qemu:///system`, `lxc:///system`, and
//! `secret:///system` itself).
//!
//! [`secrets`] applies libvirt's rules; the files and the at-rest encryption of values
//! (AES-256-GCM under a host key file) are `virt-secret-store`'s, which the hypervisor
//! plugins read too.

mod secrets;

pub mod plugin {
    use virt_plugin_sdk::host::state::{Persistence, SpaceStatus};
    use virt_plugin_sdk::types::{Error, SecretRef, Uuid};
    use virt_plugin_sdk::{
        Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
        Storage,
    };

    use crate::secrets;

    /// The plugin: a unit type, every call reads what it needs from the host.
    pub struct SecretDriver;

    fn wit<T>(result: virt_core::Result<T>) -> Result<T, Error> {
        result.map_err(Into::into)
    }

    impl Connect for SecretDriver {
        fn metadata(&self) -> DriverMetadata {
            DriverMetadata {
                name: "secret".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uri_schemes: vec!["secret".to_string()],
                hypervisor_version: 0,
            }
        }

        fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
            let space = virt_plugin_sdk::secondary::bind_instance_space(
                &uri,
                virt_core::ErrorDomain::SECRET,
                Persistence::Persistent,
            );
            match wit(space)? {
                SpaceStatus::Created | SpaceStatus::Reloaded => wit(secrets::prepare_dirs()),
                SpaceStatus::Existing => Ok(()),
            }
        }
    }

    impl Secrets for SecretDriver {
        fn list_all(&self, flags: u32) -> Result<Vec<SecretRef>, Error> {
            wit(secrets::list_all(flags))
        }
        fn lookup_by_uuid(&self, uuid: Uuid) -> Result<SecretRef, Error> {
            wit(secrets::lookup_by_uuid(uuid.into()))
        }
        fn lookup_by_usage(&self, usage_type: i32, usage_id: String) -> Result<SecretRef, Error> {
            wit(secrets::lookup_by_usage(usage_type, &usage_id))
        }
        fn define_xml(&self, xml: String, flags: u32) -> Result<SecretRef, Error> {
            wit(secrets::define_xml(&xml, flags))
        }
        fn get_xml(&self, secret: SecretRef, flags: u32) -> Result<String, Error> {
            wit(secrets::get_xml(&secret, flags))
        }
        fn get_value(&self, secret: SecretRef, flags: u32) -> Result<Vec<u8>, Error> {
            wit(secrets::get_value(&secret, flags))
        }
        fn set_value(&self, secret: SecretRef, value: Vec<u8>, flags: u32) -> Result<(), Error> {
            wit(secrets::set_value(&secret, &value, flags))
        }
        fn undefine(&self, secret: SecretRef) -> Result<(), Error> {
            wit(secrets::undefine(&secret))
        }
    }

    impl Domains for SecretDriver {}
    impl Snapshots for SecretDriver {}
    impl Networks for SecretDriver {}
    impl Storage for SecretDriver {}
    impl HostDevices for SecretDriver {}
    impl Handlers for SecretDriver {}

    // Native builds (unit tests) use the pure modules only; the exports exist in wasm.
    #[cfg(target_arch = "wasm32")]
    virt_plugin_sdk::export_plugin!(SecretDriver = SecretDriver);
}
