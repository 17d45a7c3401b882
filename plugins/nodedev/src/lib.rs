//! libvirt's node device driver for real hosts, as an rvirt plugin: the host's devices
//! (the computer, PCI devices, network interfaces, disks) listed and described as libvirt's
//! udev backend does, served next to the QEMU and LXC drivers (`qemu:///system`,
//! `lxc:///system`, and `nodedev:///system` itself).
//!
//! [`sysfs`] reads the devices (pure, tested natively over a fake tree); every call walks
//! sysfs again through the host's `files` (granted `/sys` read-only), as libvirt's udev
//! backend keeps its list current. The one thing stored is the list of device names the
//! last event was made from: the host's `device-watch` hands the kernel's device changes to
//! the plugin, which lists the devices again and sends node device events for the
//! difference ([`changes`]).

pub mod changes;
pub mod sysfs;

pub mod plugin {
    use virt_core::{ErrorDomain, ErrorNumber};
    use virt_plugin_sdk::host::object_events::{self, ObjectEvent};
    use virt_plugin_sdk::host::state::{self, Persistence, SpaceStatus};
    use virt_plugin_sdk::host::{device_watch, files};
    use virt_plugin_sdk::types::Error;
    use virt_plugin_sdk::{
        Connect, Domains, DriverMetadata, Handlers, HostDevices, Networks, Secrets, Snapshots,
        Storage,
    };
    use virt_xml::nodedev::NodeDevice;

    use crate::changes::{self, Known, NodeDeviceEvent};
    use crate::sysfs::{self, NoNames, PciIds, PciNames, Tree};

    /// Where the space keeps the device list its last events were made from.
    const KNOWN_KIND: &str = "known-devices";
    const KNOWN_KEY: &str = "all";

    /// The plugin: a unit type, every call reads what it needs from the host.
    pub struct NodeDeviceDriver;

    const PCI_IDS: &str = "/usr/share/misc/pci.ids";

    /// sysfs through the host's files.
    struct HostTree;

    impl Tree for HostTree {
        fn read(&self, path: &str) -> Option<String> {
            let bytes = files::read(path).ok()?;
            let text = String::from_utf8_lossy(&bytes);
            Some(text.strip_suffix('\n').unwrap_or(&text).to_string())
        }
        fn list(&self, dir: &str) -> Vec<String> {
            files::list_dir(dir).unwrap_or_default()
        }
    }

    /// The host's devices; with vendor and product names (`pci.ids`, 1.3 MB) only when
    /// `named`, as only their XML shows names.
    fn devices(named: bool) -> Vec<NodeDevice> {
        let ids = named.then(|| files::read(PCI_IDS).ok()).flatten();
        let names: Box<dyn PciNames> = match ids {
            Some(bytes) => Box::new(PciIds(String::from_utf8_lossy(&bytes).into_owned())),
            None => Box::new(NoNames),
        };
        sysfs::enumerate(&HostTree, names.as_ref())
    }

    fn find(name: &str, named: bool) -> Result<NodeDevice, Error> {
        devices(named)
            .into_iter()
            .find(|device| device.name.as_deref() == Some(name))
            .ok_or_else(|| {
                virt_core::Error::new(
                    ErrorNumber::NO_NODE_DEVICE,
                    ErrorDomain::NODEDEV,
                    format!("no node device with matching name '{name}'"),
                )
                .into()
            })
    }

    fn check_flags(flags: u32, allowed: u32, function: &str) -> Result<(), Error> {
        virt_core::Error::check_flags(ErrorDomain::NODEDEV, flags, allowed, function)
            .map_err(Into::into)
    }

    impl Connect for NodeDeviceDriver {
        fn metadata(&self) -> DriverMetadata {
            DriverMetadata {
                name: "nodedev".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                uri_schemes: vec!["nodedev".to_string()],
                hypervisor_version: 0,
            }
        }

        fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
            let status = virt_plugin_sdk::secondary::bind_instance_space(
                &uri,
                ErrorDomain::NODEDEV,
                Persistence::Volatile,
            )?;
            if status != SpaceStatus::Existing {
                // Events are an extra: a host that cannot deliver them still lists devices.
                match device_watch::watch() {
                    Ok(()) => state::put(KNOWN_KIND, KNOWN_KEY, &changes::encode(&known())),
                    Err(error) => {
                        virt_plugin_sdk::warn!("no node device events: {}", error.message)
                    }
                }
            }
            Ok(())
        }
    }

    /// The devices as events name them.
    fn known() -> Known {
        devices(false)
            .into_iter()
            .filter_map(|device| Some((device.name?, device.path)))
            .collect()
    }

    impl HostDevices for NodeDeviceDriver {
        fn list_node_devices(
            &self,
            capability: Option<String>,
            flags: u32,
        ) -> Result<Vec<String>, Error> {
            let function = if capability.is_some() {
                "virNodeListDevices"
            } else {
                "virConnectListAllNodeDevices"
            };
            // Inactive (defined, not created) devices are mdevs, which this host has none of.
            use virt_core::consts::connect_list_all_node_device_flags as f;
            let allowed = virt_xml::nodedev::list_filter_bits() | f::INACTIVE | f::ACTIVE;
            check_flags(flags, allowed, function)?;
            Ok(devices(false)
                .into_iter()
                .filter(|device| {
                    let mut types = device.capability_types();
                    types.extend(device.nested_capability_types());
                    capability
                        .as_deref()
                        .is_none_or(|cap| types.iter().any(|t| t == cap))
                        && virt_xml::nodedev::passes_list_filter(&types, flags)
                        && (flags & f::INACTIVE == 0 || flags & f::ACTIVE != 0)
                })
                .filter_map(|device| device.name)
                .collect())
        }

        fn lookup_node_device(&self, name: String) -> Result<String, Error> {
            find(&name, false).map(|_| name)
        }

        fn get_node_device_xml(&self, name: String, flags: u32) -> Result<String, Error> {
            check_flags(flags, 0, "virNodeDeviceGetXMLDesc")?;
            find(&name, true).map(|device| device.to_xml())
        }

        fn get_node_device_parent(&self, name: String) -> Result<Option<String>, Error> {
            match find(&name, false)?.parent_name() {
                Some(parent) => Ok(Some(parent.to_string())),
                None => Err(virt_core::Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::NODEDEV,
                    "no parent for this device",
                )
                .into()),
            }
        }

        fn list_node_device_caps(&self, name: String) -> Result<Vec<String>, Error> {
            find(&name, false).map(|device| device.capability_types())
        }
    }

    impl Domains for NodeDeviceDriver {}
    impl Snapshots for NodeDeviceDriver {}
    impl Networks for NodeDeviceDriver {}
    impl Storage for NodeDeviceDriver {}
    impl Secrets for NodeDeviceDriver {}
    impl Handlers for NodeDeviceDriver {
        fn devices_changed(&self, kernel: Vec<virt_plugin_sdk::DeviceChange>) {
            let before = state::get(KNOWN_KIND, KNOWN_KEY)
                .map(|bytes| changes::decode(&bytes))
                .unwrap_or_default();
            let after = known();
            let kernel: Vec<(String, String)> = kernel
                .into_iter()
                .map(|change| (change.action, change.devpath))
                .collect();
            use virt_core::consts::node_device_event_lifecycle_type as lifecycle;
            for event in changes::events(&before, &after, &kernel) {
                object_events::emit(&match event {
                    NodeDeviceEvent::Created(name) => {
                        ObjectEvent::NodeDeviceLifecycle((name, lifecycle::CREATED, 0))
                    }
                    NodeDeviceEvent::Deleted(name) => {
                        ObjectEvent::NodeDeviceLifecycle((name, lifecycle::DELETED, 0))
                    }
                    NodeDeviceEvent::Updated(name) => ObjectEvent::NodeDeviceUpdate(name),
                });
            }
            if after != before {
                state::put(KNOWN_KIND, KNOWN_KEY, &changes::encode(&after));
            }
        }
    }

    // Native builds (unit tests) use the pure modules only; the exports exist in wasm.
    #[cfg(target_arch = "wasm32")]
    virt_plugin_sdk::export_plugin!(NodeDeviceDriver = NodeDeviceDriver);
}
