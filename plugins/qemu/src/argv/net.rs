//! Network interfaces: the host side (`-netdev`: user-mode, a tap the host opened, sockets)
//! and the guest NIC (`-device virtio-net-pci`, `e1000`, `rtl8139`, ...). Shared with NIC
//! hotplug (`netdev_add`, `device_add`).

use virt_xml::domain::enums::*;
use virt_xml::domain::{Domain, Interface};

use super::command::CommandLine;
use super::disk::virtio_options;
use super::props::Props;
use super::{device, pci_address_props, BuildContext};
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// The `-netdev` object of an interface; `tap_fds` are the descriptors QEMU inherits for a
/// tap-backed interface.
pub fn netdev_props(interface: &Interface, tap_fds: Option<&[i32]>) -> Result<Props, Error> {
    netdev_props_for(interface, tap_fds, &[], false)
}

/// Whether an interface may use the kernel's vhost-net for its tap (libvirt's
/// `qemuInterfaceOpenVhostNet` asks this before opening `/dev/vhost-net`): a tap-backed
/// virtio NIC whose driver is not explicitly QEMU's own.
pub fn wants_vhost_net(interface: &Interface) -> bool {
    let tap = matches!(
        interface.interface_type,
        Some(InterfaceType::Bridge | InterfaceType::Network | InterfaceType::Ethernet)
    );
    let qemu_driver = interface
        .driver
        .as_ref()
        .and_then(|driver| driver.name.as_deref())
        == Some("qemu");
    tap && !qemu_driver && model_of(interface).starts_with("virtio")
}

/// How many vhost-net descriptors libvirt opens for an interface: one per queue (as many as
/// its tap descriptors).
pub fn vhost_queue_count(interface: &Interface) -> usize {
    interface
        .driver
        .as_ref()
        .and_then(|driver| driver.queues)
        .filter(|queues| *queues > 0)
        .map_or(1, |queues| queues as usize)
}

/// [`netdev_props`], with the vhost-net descriptors of a tap (`vhost_fds`, none when the
/// kernel's vhost-net is not used); with `pretend`, a tap without descriptors is named
/// instead (what `domxml-to-native` shows).
pub fn netdev_props_for(
    interface: &Interface,
    tap_fds: Option<&[i32]>,
    vhost_fds: &[i32],
    pretend: bool,
) -> Result<Props, Error> {
    let alias = super::alias_of(&interface.info);
    let id = format!("host{alias}");
    let source = interface.source.as_ref();
    if interface
        .backend
        .as_ref()
        .and_then(|backend| backend.backend_type)
        .is_some()
    {
        return Err(unsupported_config(
            "the passt backend needs passt, which this driver does not start",
        ));
    }
    let props = match interface.interface_type.unwrap_or(InterfaceType::User) {
        InterfaceType::User => {
            let mut props = Props::new().str("type", "user");
            for ip in &interface.ips {
                if let Some(address) = &ip.address {
                    let family_v6 = ip.family.as_deref() == Some("ipv6") || address.contains(':');
                    let prefix = ip
                        .prefix
                        .map(|prefix| format!("/{prefix}"))
                        .unwrap_or_default();
                    props = props.str(
                        if family_v6 { "ipv6-net" } else { "net" },
                        format!("{address}{prefix}"),
                    );
                }
            }
            props
        }
        InterfaceType::Bridge | InterfaceType::Network | InterfaceType::Ethernet
            if pretend && tap_fds.is_none() =>
        {
            let name = interface
                .target
                .as_ref()
                .and_then(|target| target.dev.clone())
                .unwrap_or_else(|| "vnet0".into());
            Props::new()
                .str("type", "tap")
                .str("ifname", name)
                .str("script", "")
                .str("downscript", "")
        }
        InterfaceType::Bridge | InterfaceType::Network | InterfaceType::Ethernet => {
            let fds = tap_fds.filter(|fds| !fds.is_empty()).ok_or_else(|| {
                unsupported_config(format!(
                    "interface '{alias}' needs a tap device the host has not created"
                ))
            })?;
            let joined = |fds: &[i32]| fds.iter().map(i32::to_string).collect::<Vec<_>>().join(":");
            let mut props = Props::new().str("type", "tap");
            if fds.len() == 1 {
                props = props.str("fd", fds[0].to_string());
            } else {
                props = props.str("fds", joined(fds));
            }
            match vhost_fds {
                [] => props,
                [fd] => props.bool("vhost", true).str("vhostfd", fd.to_string()),
                fds => props.bool("vhost", true).str("vhostfds", joined(fds)),
            }
        }
        InterfaceType::Server
        | InterfaceType::Client
        | InterfaceType::Mcast
        | InterfaceType::Udp => {
            let kind = interface.interface_type.unwrap_or(InterfaceType::Server);
            let address = source
                .and_then(|source| source.address.clone())
                .unwrap_or_default();
            let port = source.and_then(|source| source.port).unwrap_or(0);
            let endpoint = format!("{address}:{port}");
            let props = Props::new().str("type", "socket");
            match kind {
                InterfaceType::Server => props.str("listen", endpoint),
                InterfaceType::Client => props.str("connect", endpoint),
                InterfaceType::Mcast => props.str("mcast", endpoint),
                _ => {
                    let local = source.and_then(|source| source.local.as_ref());
                    let local_address = local
                        .and_then(|local| local.address.clone())
                        .unwrap_or_default();
                    let local_port = local.and_then(|local| local.port).unwrap_or(0);
                    props
                        .str("udp", endpoint)
                        .str("localaddr", format!("{local_address}:{local_port}"))
                }
            }
        }
        InterfaceType::Vhostuser => Props::new()
            .str("type", "vhost-user")
            .str("chardev", format!("char{alias}")),
        InterfaceType::Null => Props::new().str("type", "hubport").uint("hubid", 0),
        // QEMU opens the vDPA device itself.
        InterfaceType::Vdpa => Props::new().str("type", "vhost-vdpa").str(
            "vhostdev",
            source
                .and_then(|source| source.dev.clone())
                .unwrap_or_default(),
        ),
        other => {
            return Err(unsupported_config(format!(
                "interface type '{}' is not supported by this driver",
                other.as_str()
            )))
        }
    };
    let mut props = props;
    if let Some(queues) = interface
        .driver
        .as_ref()
        .and_then(|driver| driver.queues)
        .filter(|queues| *queues > 1)
    {
        if matches!(
            interface.interface_type,
            Some(InterfaceType::Vhostuser | InterfaceType::Vdpa)
        ) {
            props = props.uint("queues", queues.into());
        }
    }
    Ok(props.str("id", id))
}

/// The model keyword of an interface (`virtio`, `e1000`, ...).
pub fn model_of(interface: &Interface) -> &str {
    interface
        .model
        .as_ref()
        .and_then(|model| model.value.as_deref())
        .unwrap_or("rtl8139")
}

/// The guest NIC of an interface.
pub fn device_props(
    def: &Domain,
    interface: &Interface,
    bootindex: Option<u32>,
) -> Result<Props, Error> {
    let alias = super::alias_of(&interface.info);
    let model = model_of(interface);
    let driver = match model {
        "virtio" => "virtio-net-pci",
        "virtio-transitional" => "virtio-net-pci-transitional",
        "virtio-non-transitional" => "virtio-net-pci-non-transitional",
        other => other,
    };
    let virtio = driver.starts_with("virtio-net");
    let mut props = Props::new().str("driver", driver);
    let interface_driver = interface.driver.as_ref();
    if virtio {
        props = virtio_options(props, interface_driver.map(|driver| &driver.virtio));
    }
    if virtio {
        let queues = interface_driver
            .and_then(|driver| driver.queues)
            .unwrap_or(0);
        if let Some(txmode) = interface_driver.and_then(|driver| driver.txmode.as_deref()) {
            props = props.str("tx", if txmode == "iothread" { "bh" } else { txmode });
        }
        if let Some(ioeventfd) = interface_driver.and_then(|driver| driver.ioeventfd) {
            props = props.bool("ioeventfd", ioeventfd.is_on());
        }
        if let Some(event_idx) = interface_driver.and_then(|driver| driver.event_idx) {
            props = props.bool("event_idx", event_idx.is_on());
        }
        if queues > 1 {
            props = props
                .bool("mq", true)
                .uint("vectors", 2 * u64::from(queues) + 2);
        }
        if let Some(size) = interface_driver.and_then(|driver| driver.rx_queue_size) {
            props = props.uint("rx_queue_size", size.into());
        }
        if let Some(size) = interface_driver.and_then(|driver| driver.tx_queue_size) {
            props = props.uint("tx_queue_size", size.into());
        }
        if let Some(rss) = interface_driver.and_then(|driver| driver.rss) {
            props = props.bool("rss", rss.is_on());
        }
        if let Some(report) = interface_driver.and_then(|driver| driver.rss_hash_report) {
            props = props.bool("hash", report.is_on());
        }
        if let Some(mtu) = interface.mtu.as_ref().and_then(|mtu| mtu.size) {
            props = props.uint("host_mtu", mtu.into());
        }
    }
    props = props.str("netdev", format!("host{alias}")).str("id", alias);
    if let Some(mac) = interface.mac.as_ref().and_then(|mac| mac.address.clone()) {
        props = props.str("mac", mac);
    }
    if let Some(bootindex) = bootindex {
        props = props.uint("bootindex", bootindex.into());
    }
    Ok(pci_address_props(props, &interface.info, def))
}

/// Every interface: `-netdev` then `-device`.
pub fn build_interfaces(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
) -> Result<(), Error> {
    let (_, boot) = super::disk::boot_indexes(def);
    for (index, interface) in def.devices.interfaces.iter().enumerate() {
        if interface.interface_type == Some(InterfaceType::Hostdev) {
            return Err(unsupported_config(
                "interface type 'hostdev' is not supported by this driver",
            ));
        }
        let alias = super::alias_of(&interface.info);
        if interface.interface_type == Some(InterfaceType::Vhostuser) {
            let source = interface.source.as_ref();
            let path = source
                .and_then(|source| source.path.clone())
                .unwrap_or_default();
            let server = source.and_then(|source| source.mode.as_deref()) == Some("server");
            let mut chardev = format!("socket,id=char{alias},path={}", super::escape_option(&path));
            if server {
                chardev.push_str(",server=on");
            }
            cmd.opt("-chardev", chardev);
        }
        let fds = ctx
            .tap_fds
            .iter()
            .find(|(name, _)| *name == alias)
            .map(|(_, fds)| fds.as_slice());
        let vhost_fds = ctx
            .vhost_fds
            .iter()
            .find(|(name, _)| *name == alias)
            .map_or(&[][..], |(_, fds)| fds.as_slice());
        cmd.opt(
            "-netdev",
            netdev_props_for(interface, fds, vhost_fds, ctx.pretend)?.to_json(),
        );
        device(cmd, device_props(def, interface, boot[index])?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(xml: &str) -> Interface {
        let def = Domain::parse(&format!(
            "<domain type='kvm'><name>g</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices>{xml}</devices></domain>"
        ))
        .expect("domain");
        def.devices.interfaces[0].clone()
    }

    #[test]
    fn vhost_net_serves_virtio_taps_unless_qemus_driver_is_asked_for() {
        let tap = |extra: &str| {
            interface(&format!(
                "<interface type='ethernet'><model type='virtio'/>{extra}</interface>"
            ))
        };
        assert!(wants_vhost_net(&tap("")));
        assert!(!wants_vhost_net(&tap("<driver name='qemu'/>")));
        assert_eq!(vhost_queue_count(&tap("<driver queues='4'/>")), 4);
        assert_eq!(vhost_queue_count(&tap("")), 1);
        assert!(!wants_vhost_net(&interface(
            "<interface type='ethernet'><model type='e1000'/></interface>"
        )));
        assert!(!wants_vhost_net(&interface(
            "<interface type='user'><model type='virtio'/></interface>"
        )));
        let props = netdev_props_for(&tap(""), Some(&[3]), &[44], false)
            .expect("props")
            .to_json();
        assert!(
            props.contains(r#""fd":"3","vhost":true,"vhostfd":"44""#),
            "{props}"
        );
        // A multiqueue tap: as many vhost descriptors as tap descriptors.
        let props = netdev_props_for(&tap(""), Some(&[3, 4]), &[44, 45], false)
            .expect("props")
            .to_json();
        assert!(
            props.contains(r#""fds":"3:4","vhost":true,"vhostfds":"44:45""#),
            "{props}"
        );
    }
}
