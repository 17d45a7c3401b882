//! libvirt's network driver for real hosts, as an rvirt plugin: virtual networks served next
//! to the QEMU and LXC drivers (`qemu:///system`, `lxc:///system`, and `network:///system`
//! itself), whose bridges the host creates, whose DHCP and DNS a real dnsmasq answers and
//! whose NAT and routing rules live in nftables.
//!
//! Networks are records in the host's persistent space ([`records`]); [`lifecycle`] changes
//! them and makes or unmakes what a running network is, from what [`setup`] works out. The
//! text the driver hands to outside programs is built by pure modules that know nothing of
//! the plugin host, so they are tested natively against golden files: [`dnsmasq`] (the
//! dnsmasq configuration and hosts files, as libvirt writes them) and [`firewall`] (the
//! nftables rules of a network, added at start and removed at destroy).

pub mod dnsmasq;
mod error;
pub mod firewall;
pub mod leases;
mod lifecycle;
mod records;
mod setup;

pub mod plugin {
    use virt_plugin_sdk::host::state::{Persistence, SpaceStatus};
    use virt_plugin_sdk::types::{Error, NetworkRef, ObjectStatus, Uuid};
    use virt_plugin_sdk::{
        Connect, DhcpLease, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets,
        Snapshots, Storage,
    };

    use crate::lifecycle;

    /// The plugin: a unit type, every call reads what it needs from the host.
    pub struct NetworkDriver;

    fn wit<T>(result: virt_core::Result<T>) -> Result<T, Error> {
        result.map_err(Into::into)
    }

    impl Connect for NetworkDriver {
        fn metadata(&self) -> DriverMetadata {
            DriverMetadata {
                name: "network".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uri_schemes: vec!["network".to_string()],
                hypervisor_version: 0,
            }
        }

        fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
            let space = virt_plugin_sdk::secondary::bind_instance_space(
                &uri,
                virt_core::ErrorDomain::NETWORK,
                Persistence::Persistent,
            );
            match wit(space)? {
                SpaceStatus::Created => wit(crate::records::dirs().create()),
                SpaceStatus::Reloaded => wit(lifecycle::reattach_all()),
                SpaceStatus::Existing => Ok(()),
            }
        }
    }

    impl Networks for NetworkDriver {
        fn lookup_by_name(&self, name: String) -> Result<NetworkRef, Error> {
            wit(lifecycle::lookup_by_name(&name))
        }
        fn lookup_by_uuid(&self, uuid: Uuid) -> Result<NetworkRef, Error> {
            wit(lifecycle::lookup_by_uuid(uuid.into()))
        }
        fn list_all(&self, flags: u32) -> Result<Vec<NetworkRef>, Error> {
            wit(lifecycle::list_all(flags))
        }
        fn define_xml(&self, xml: String, flags: u32) -> Result<NetworkRef, Error> {
            wit(lifecycle::define_xml(&xml, flags))
        }
        fn create_xml(&self, xml: String, flags: u32) -> Result<NetworkRef, Error> {
            wit(lifecycle::create_xml(&xml, flags))
        }
        fn undefine(&self, net: NetworkRef) -> Result<(), Error> {
            wit(lifecycle::undefine(&net))
        }
        fn create(&self, net: NetworkRef) -> Result<(), Error> {
            wit(lifecycle::create(&net))
        }
        fn destroy(&self, net: NetworkRef) -> Result<(), Error> {
            wit(lifecycle::destroy(&net))
        }
        fn get_xml(&self, net: NetworkRef, flags: u32) -> Result<String, Error> {
            wit(lifecycle::get_xml(&net, flags))
        }
        fn get_status(&self, net: NetworkRef) -> Result<ObjectStatus, Error> {
            let record = wit(lifecycle::resolve(&net))?;
            Ok(ObjectStatus {
                active: record.is_active(),
                persistent: record.config.is_some(),
                autostart: record.autostart,
                updated: false,
                has_managed_save: false,
            })
        }
        fn set_autostart(&self, net: NetworkRef, autostart: bool) -> Result<(), Error> {
            wit(lifecycle::set_autostart(&net, autostart))
        }
        fn get_bridge_name(&self, net: NetworkRef) -> Result<String, Error> {
            wit(lifecycle::bridge_name(&net))
        }
        fn update(
            &self,
            net: NetworkRef,
            command: u32,
            section: u32,
            parent_index: i32,
            xml: String,
            flags: u32,
        ) -> Result<(), Error> {
            wit(lifecycle::update(
                &net,
                command,
                section,
                parent_index,
                &xml,
                flags,
            ))
        }
        fn dhcp_leases(
            &self,
            net: NetworkRef,
            mac: Option<String>,
            flags: u32,
        ) -> Result<Vec<DhcpLease>, Error> {
            let leases = wit(lifecycle::dhcp_leases(&net, mac.as_deref(), flags))?;
            Ok(leases
                .into_iter()
                .map(|lease| DhcpLease {
                    iface: lease.iface,
                    expiry_time: lease.expiry_time,
                    kind: lease.kind,
                    mac: lease.mac,
                    iaid: lease.iaid,
                    address: lease.address,
                    prefix: lease.prefix,
                    hostname: lease.hostname,
                    client_id: lease.client_id,
                })
                .collect())
        }
    }

    impl Domains for NetworkDriver {}
    impl Snapshots for NetworkDriver {}
    impl Storage for NetworkDriver {}
    impl HostDevices for NetworkDriver {}
    impl Secrets for NetworkDriver {}
    impl Handlers for NetworkDriver {}

    // Native builds (unit tests) use the pure modules only; the exports exist in wasm.
    #[cfg(target_arch = "wasm32")]
    virt_plugin_sdk::export_plugin!(NetworkDriver = NetworkDriver);
}
