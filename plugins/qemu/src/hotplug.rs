//! Attaching, detaching and updating disks and interfaces: in the running QEMU over QMP
//! (`blockdev-add` + `device_add`, `device_del` + DEVICE_DELETED + `blockdev-del`,
//! `netdev_add`/`netdev_del`, media changes) and/or in the persistent definition, as the
//! `VIR_DOMAIN_AFFECT_*` flags say.

use serde_json::{json, Value};
use virt_core::consts::domain_device_modify_flags as modify_flags;
use virt_core::consts::domain_event_id;
use virt_core::{ErrorDomain, ErrorNumber, TypedParam, TypedValue};
use virt_plugin_sdk::host::{events, files, jobs, net};
use virt_plugin_sdk::types::{DomainRef, Error, Event};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, Disk, DiskBus, Domain, Interface};
use virt_xml::xml::{parse_document, XmlElement};

use crate::argv::{disk as disk_argv, net as net_argv, prepare};
use crate::domain::{self, Loaded};
use crate::error::{check_flags, invalid_arg, invalid_operation, qemu_error, unsupported_config};
use crate::lifecycle::{self, job_name};
use crate::qemu_events::Expectation;
use crate::qmp::Monitor;
use crate::records::LiveRecord;
use crate::space::SpaceLayout;

/// How long a detach waits for the guest to let the device go (libvirt waits 5 s).
const UNPLUG_WAIT_MS: u32 = 5_000;

/// A device element from `virDomainAttachDevice` & co.
#[derive(Debug, Clone)]
pub enum DeviceXml {
    Disk(Box<Disk>),
    Interface(Box<Interface>),
}

/// Parses a device document; only disks and interfaces are hot-pluggable by this driver.
pub fn parse_device(xml: &str) -> Result<DeviceXml, Error> {
    let doc =
        parse_document(xml, "(device_definition)", ErrorDomain::DOMAIN).map_err(Error::from)?;
    match doc.root.name() {
        "disk" => Ok(DeviceXml::Disk(Box::new(
            Disk::from_node(&doc.root).map_err(Error::from)?,
        ))),
        "interface" => Ok(DeviceXml::Interface(Box::new(
            Interface::from_node(&doc.root).map_err(Error::from)?,
        ))),
        other => Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            format!("live attach/detach of device '{other}' is not supported by this driver"),
        )),
    }
}

/// Which definitions a change affects: (live, config).
fn affected(loaded: &Loaded, flags: u32) -> Result<(bool, bool), Error> {
    let mut live = flags & modify_flags::LIVE != 0;
    let mut config = flags & modify_flags::CONFIG != 0;
    if !live && !config {
        // VIR_DOMAIN_AFFECT_CURRENT.
        if loaded.is_active() {
            live = true;
        } else {
            config = true;
        }
    }
    if live && !loaded.is_active() {
        return Err(invalid_operation("domain is not running"));
    }
    if config && !loaded.record.persistent() {
        return Err(invalid_operation(
            "cannot modify device on transient domain",
        ));
    }
    Ok((live, config))
}

/// Applies the QEMU driver's defaults to a lone disk (what a define would do to it).
fn complete_disk(disk: &mut Disk, def: &Domain) -> Result<(), Error> {
    let mut scratch = def.clone();
    scratch.devices.disks = vec![disk.clone()];
    let caps = crate::capabilities::QemuCaps {
        binary: String::new(),
        ..Default::default()
    };
    prepare::apply_qemu_defaults_for_devices(&mut scratch, &caps);
    *disk = scratch.devices.disks.remove(0);
    if disk.target_dev().is_none() {
        return Err(qemu_error(
            ErrorNumber::NO_TARGET,
            disk.source.as_ref().and_then(|s| s.path()).unwrap_or(""),
        ));
    }
    Ok(())
}

fn complete_interface(interface: &mut Interface, def: &Domain) {
    let mut scratch = def.clone();
    scratch.devices.interfaces = vec![interface.clone()];
    let caps = crate::capabilities::QemuCaps::default();
    prepare::apply_qemu_defaults_for_devices(&mut scratch, &caps);
    *interface = scratch.devices.interfaces.remove(0);
    if interface
        .mac
        .as_ref()
        .and_then(|mac| mac.address.as_ref())
        .is_none()
    {
        let mac = virt_xml::domain::postparse::random_mac();
        let text = mac
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        interface.mac = Some(virt_xml::domain::Mac {
            address: Some(text),
            ..Default::default()
        });
    }
}

/// `virDomainAttachDeviceFlags`.
pub fn attach(dom: &DomainRef, xml: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainAttachDeviceFlags",
        flags,
        modify_flags::LIVE | modify_flags::CONFIG,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let (affect_live, affect_config) = affected(&loaded, flags)?;
    let device = parse_device(xml)?;
    if affect_config {
        let layout = SpaceLayout::current()?;
        let config_xml = loaded.record.config_xml.clone().unwrap_or_default();
        let mut def = Domain::parse(&config_xml).map_err(Error::from)?;
        match device.clone() {
            DeviceXml::Disk(mut disk) => {
                complete_disk(&mut disk, &def)?;
                check_disk_target_free(&def, &disk)?;
                def.devices.disks.push(*disk);
            }
            DeviceXml::Interface(mut interface) => {
                complete_interface(&mut interface, &def);
                def.devices.interfaces.push(*interface);
            }
        }
        let (def, _) = domain::parse_for_qemu(&def.to_xml(), &layout)?;
        domain::store_config(&loaded, &def, &layout)?;
    }
    if affect_live {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let alias = lifecycle::with_monitor(
            &loaded,
            &mut live,
            Expectation::default(),
            |monitor, live| match device {
                DeviceXml::Disk(disk) => attach_disk_live(monitor, live, *disk),
                DeviceXml::Interface(interface) => attach_interface_live(monitor, live, *interface),
            },
        )?;
        let reference = domain::reference(&loaded.record, Some(&live));
        events::emit(&Event::DomainOther((
            reference,
            domain_event_id::DEVICE_ADDED,
            vec![TypedParam::new("devAlias", TypedValue::String(alias)).into()],
        )));
    }
    Ok(())
}

/// Secret objects are made at start only: a live disk that needs one is refused rather
/// than added without its credentials or passphrase.
fn refuse_secret_disk(disk: &Disk) -> Result<(), Error> {
    if disk_argv::uses_secrets(disk) {
        return Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "disks with credentials, encryption or HTTP cookies cannot be plugged into a \
             running domain by this driver; define them and start the domain",
        ));
    }
    Ok(())
}

fn check_disk_target_free(def: &Domain, disk: &Disk) -> Result<(), Error> {
    let target = disk.target_dev().unwrap_or("");
    if def
        .devices
        .disks
        .iter()
        .any(|existing| existing.target_dev() == Some(target))
    {
        return Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("target {target} already exists"),
        ));
    }
    Ok(())
}

/// The next free PCI slot for a hotplugged device (bus 0 on PCs; a free root port on Q35).
fn hotplug_pci_address(def: &Domain) -> Result<Address, Error> {
    let mut probe = def.clone();
    // A placeholder device that wants an address: the assignment of everything else is
    // fixed already, so it gets the first free slot.
    probe.devices.rngs.clear();
    probe.devices.rngs.push(virt_xml::domain::devices::Rng {
        model: Some(RngModel::Virtio),
        ..Default::default()
    });
    let before = probe.devices.controllers.len();
    prepare::assign_addresses(&mut probe)?;
    if probe.devices.controllers.len() > before {
        return Err(internal_no_slot());
    }
    probe
        .devices
        .rngs
        .last()
        .and_then(|rng| rng.info.address.clone())
        .ok_or_else(internal_no_slot)
}

fn internal_no_slot() -> Error {
    qemu_error(ErrorNumber::INTERNAL_ERROR, "No more available PCI slots")
}

fn attach_disk_live(
    monitor: &mut Monitor,
    live: &mut LiveRecord,
    mut disk: Disk,
) -> Result<String, Error> {
    let mut def = domain::live_def(live)?;
    lifecycle::resolve_volume_source(&mut disk)?;
    complete_disk(&mut disk, &def)?;
    check_disk_target_free(&def, &disk)?;
    let bus = disk.target_bus().unwrap_or(DiskBus::Virtio);
    match bus {
        DiskBus::Virtio => {
            if disk.info.address.is_none() {
                disk.info.address = Some(hotplug_pci_address(&def)?);
            }
        }
        DiskBus::Scsi | DiskBus::Usb => {}
        other => {
            return Err(qemu_error(
                ErrorNumber::OPERATION_UNSUPPORTED,
                format!("disk bus '{}' cannot be hotplugged", other.as_str()),
            ))
        }
    }
    if let Some(path) = disk
        .source
        .as_ref()
        .and_then(|source| source.file.clone().or_else(|| source.dev.clone()))
    {
        if files::stat(&path)?.is_none() {
            return Err(qemu_error(
                ErrorNumber::SYSTEM_ERROR,
                format!("Cannot access storage file '{path}': No such file or directory"),
            ));
        }
    }
    let index = disk
        .target_dev()
        .and_then(prepare::disk_name_index)
        .unwrap_or(0);
    disk.info.alias = Some(virt_xml::domain::address::Alias {
        name: Some(format!("{}-disk{index}", bus.as_str())),
    });
    let alias = disk.info.alias_name().unwrap_or("").to_string();
    refuse_secret_disk(&disk)?;
    let layers = disk_argv::disk_layers(&disk).len() as u32;
    let nodes: Vec<u32> = (live.next_node_index..live.next_node_index + layers).collect();
    let objects = disk_argv::blockdev_objects(&disk, &nodes)?;
    let mut added: Vec<String> = Vec::new();
    let result = (|| {
        for object in &objects {
            monitor.run("blockdev-add", object.to_value())?;
            if let Some(name) = object.get_str("node-name") {
                added.push(name.to_string());
            }
        }
        def.devices.disks.push(disk.clone());
        let drive = disk_argv::top_node(&nodes);
        let props = disk_argv::device_props(&def, &disk, drive.as_deref(), None)?;
        monitor.run("device_add", props.to_value())?;
        Ok::<(), Error>(())
    })();
    if let Err(error) = result {
        for node in added.iter().rev() {
            let _ = monitor.execute("blockdev-del", Some(json!({ "node-name": node })));
        }
        return Err(error);
    }
    live.next_node_index += layers.max(1);
    live.disk_nodes.push((alias.clone(), nodes));
    live.xml = def.to_xml();
    Ok(alias)
}

fn attach_interface_live(
    monitor: &mut Monitor,
    live: &mut LiveRecord,
    mut interface: Interface,
) -> Result<String, Error> {
    let mut def = domain::live_def(live)?;
    complete_interface(&mut interface, &def);
    match interface.interface_type {
        Some(
            InterfaceType::User
            | InterfaceType::Bridge
            | InterfaceType::Ethernet
            | InterfaceType::Network,
        ) => {}
        other => {
            return Err(unsupported_config(format!(
                "interface type '{}' cannot be hotplugged",
                other.map_or("none", InterfaceType::as_str)
            )))
        }
    }
    if interface.info.address.is_none() {
        interface.info.address = Some(hotplug_pci_address(&def)?);
    }
    let next = def
        .devices
        .interfaces
        .iter()
        .filter_map(|existing| {
            existing
                .info
                .alias_name()?
                .strip_prefix("net")?
                .parse::<u32>()
                .ok()
        })
        .map(|index| index + 1)
        .max()
        .unwrap_or(0);
    interface.info.alias = Some(virt_xml::domain::address::Alias {
        name: Some(format!("net{next}")),
    });
    let alias = format!("net{next}");
    let tap = match interface.interface_type {
        Some(InterfaceType::Bridge | InterfaceType::Ethernet | InterfaceType::Network) => {
            lifecycle::check_interface_backend(&interface)?;
            lifecycle::resolve_network_source(&mut interface)?;
            Some(lifecycle::create_tap(&mut interface)?)
        }
        _ => None,
    };
    let plugged = plug_interface(monitor, &mut def, &interface, &alias, tap.as_ref());
    if let Some(tap) = &tap {
        // QEMU holds its own copy of the descriptor now (or never will).
        files::close(tap.handle);
        match &plugged {
            Ok(()) => live.taps.push(tap.name.clone()),
            Err(_) => {
                let _ = net::delete_link(&tap.name);
            }
        }
    }
    plugged?;
    live.xml = def.to_xml();
    Ok(alias)
}

/// `netdev_add` (handing QEMU the tap first, as libvirt's `getfd`) and `device_add`; on
/// failure, QEMU is left as it was.
fn plug_interface(
    monitor: &mut Monitor,
    def: &mut Domain,
    interface: &Interface,
    alias: &str,
    tap: Option<&net::TapDevice>,
) -> Result<(), Error> {
    let mut netdev = net_argv::netdev_props(interface, tap.map(|_| &[0][..]))?.to_value();
    if let Some(tap) = tap {
        let fd_name = format!("hostfd{alias}");
        monitor.execute_with_handles("getfd", json!({ "fdname": fd_name }), &[tap.handle])?;
        // The monitor names the descriptor it was given instead of a number QEMU inherited.
        netdev["fd"] = json!(fd_name);
    }
    if let Err(error) = monitor.run("netdev_add", netdev) {
        if tap.is_some() {
            let _ = monitor.execute(
                "closefd",
                Some(json!({ "fdname": format!("hostfd{alias}") })),
            );
        }
        return Err(error);
    }
    def.devices.interfaces.push(interface.clone());
    let props = net_argv::device_props(def, interface, None)?;
    if let Err(error) = monitor.run("device_add", props.to_value()) {
        let _ = monitor.execute("netdev_del", Some(json!({ "id": format!("host{alias}") })));
        def.devices.interfaces.pop();
        return Err(error);
    }
    Ok(())
}

/// Finds the device a detach names: a disk by target, an interface by MAC (or alias).
fn find_alias(def: &Domain, device: &DeviceXml) -> Result<String, Error> {
    match device {
        DeviceXml::Disk(disk) => {
            let target = disk.target_dev().unwrap_or("");
            def.devices
                .disks
                .iter()
                .find(|existing| existing.target_dev() == Some(target))
                .and_then(|existing| existing.info.alias_name().map(str::to_string))
                .ok_or_else(|| {
                    qemu_error(
                        ErrorNumber::DEVICE_MISSING,
                        format!("disk {target} not found"),
                    )
                })
        }
        DeviceXml::Interface(interface) => {
            let mac = interface.mac.as_ref().and_then(|mac| mac.address.clone());
            let alias = interface.info.alias_name().map(str::to_string);
            def.devices
                .interfaces
                .iter()
                .find(|existing| {
                    let same_mac = mac.is_some()
                        && existing.mac.as_ref().and_then(|m| m.address.clone()) == mac;
                    let same_alias =
                        alias.is_some() && existing.info.alias_name().map(str::to_string) == alias;
                    same_mac || same_alias
                })
                .and_then(|existing| existing.info.alias_name().map(str::to_string))
                .ok_or_else(|| {
                    qemu_error(
                        ErrorNumber::DEVICE_MISSING,
                        format!(
                            "no device matching MAC address {} found",
                            mac.unwrap_or_default()
                        ),
                    )
                })
        }
    }
}

/// `virDomainDetachDeviceFlags`.
pub fn detach(dom: &DomainRef, xml: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainDetachDeviceFlags",
        flags,
        modify_flags::LIVE | modify_flags::CONFIG,
    )?;
    let device = parse_device(xml)?;
    detach_matching(
        dom,
        flags,
        |def| find_alias(def, &device),
        &device_kind(&device),
    )
}

fn device_kind(device: &DeviceXml) -> String {
    match device {
        DeviceXml::Disk(_) => "disk".into(),
        DeviceXml::Interface(_) => "interface".into(),
    }
}

/// `virDomainDetachDeviceAlias`.
pub fn detach_alias(dom: &DomainRef, alias: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainDetachDeviceAlias",
        flags,
        modify_flags::LIVE | modify_flags::CONFIG,
    )?;
    let wanted = alias.to_string();
    detach_matching(
        dom,
        flags,
        |def| {
            let known = def
                .devices
                .disks
                .iter()
                .any(|d| d.info.alias_name() == Some(wanted.as_str()))
                || def
                    .devices
                    .interfaces
                    .iter()
                    .any(|i| i.info.alias_name() == Some(wanted.as_str()));
            if known {
                Ok(wanted.clone())
            } else {
                Err(qemu_error(
                    ErrorNumber::DEVICE_MISSING,
                    format!("no device found with alias {wanted}"),
                ))
            }
        },
        "device",
    )
}

fn detach_matching(
    dom: &DomainRef,
    flags: u32,
    find: impl Fn(&Domain) -> Result<String, Error>,
    _kind: &str,
) -> Result<(), Error> {
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let (affect_live, affect_config) = affected(&loaded, flags)?;
    if affect_config {
        let layout = SpaceLayout::current()?;
        let config_xml = loaded.record.config_xml.clone().unwrap_or_default();
        let mut def = Domain::parse(&config_xml).map_err(Error::from)?;
        // Persistent definitions carry no aliases: assign them to find the device.
        let mut named = def.clone();
        prepare::assign_aliases(&mut named);
        let alias = find(&named)?;
        let disk_position = named
            .devices
            .disks
            .iter()
            .position(|d| d.info.alias_name() == Some(alias.as_str()));
        let net_position = named
            .devices
            .interfaces
            .iter()
            .position(|i| i.info.alias_name() == Some(alias.as_str()));
        match (disk_position, net_position) {
            (Some(position), _) => {
                def.devices.disks.remove(position);
            }
            (_, Some(position)) => {
                def.devices.interfaces.remove(position);
            }
            _ => {
                return Err(qemu_error(
                    ErrorNumber::DEVICE_MISSING,
                    format!("device {alias} not found"),
                ))
            }
        }
        domain::store_config(&loaded, &def, &layout)?;
    }
    if affect_live {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let def = domain::live_def(&live)?;
        let alias = find(&def)?;
        let removed = lifecycle::with_monitor(
            &loaded,
            &mut live,
            Expectation::default(),
            |monitor, live| {
                monitor.run("device_del", json!({ "id": alias }))?;
                if !live.pending_unplugs.contains(&alias) {
                    live.pending_unplugs.push(alias.clone());
                }
                let wanted = alias.clone();
                let deleted = monitor.wait_event(UNPLUG_WAIT_MS, |event| {
                    event.name == "DEVICE_DELETED"
                        && event.data.get("device").and_then(Value::as_str) == Some(wanted.as_str())
                });
                Ok(deleted.is_ok())
            },
        )?;
        if !removed {
            // libvirt returns and lets the guest finish; the DEVICE_DELETED event completes it.
            virt_plugin_sdk::info!(
                "detach of {alias} from '{}' is still in progress in the guest",
                loaded.record.name
            );
        }
    }
    Ok(())
}

/// Drops a device QEMU confirmed gone from the live definition, with its host-side backend
/// (block nodes, netdev, tap).
pub fn forget_device(live: &mut LiveRecord, monitor: &mut Monitor, alias: &str) {
    live.pending_unplugs.retain(|pending| pending != alias);
    let Ok(mut def) = domain::live_def(live) else {
        return;
    };
    if let Some(position) = def
        .devices
        .disks
        .iter()
        .position(|disk| disk.info.alias_name() == Some(alias))
    {
        def.devices.disks.remove(position);
        if let Some(position) = live.disk_nodes.iter().position(|(name, _)| name == alias) {
            let (_, nodes) = live.disk_nodes.remove(position);
            for index in nodes {
                let _ = monitor.execute(
                    "blockdev-del",
                    Some(json!({ "node-name": format!("libvirt-{index}-format") })),
                );
                let _ = monitor.execute(
                    "blockdev-del",
                    Some(json!({ "node-name": format!("libvirt-{index}-storage") })),
                );
            }
        }
    } else if let Some(position) = def
        .devices
        .interfaces
        .iter()
        .position(|interface| interface.info.alias_name() == Some(alias))
    {
        let interface = def.devices.interfaces.remove(position);
        let _ = monitor.execute("netdev_del", Some(json!({ "id": format!("host{alias}") })));
        if let Some(tap) = interface
            .target
            .as_ref()
            .and_then(|target| target.dev.clone())
        {
            if live.taps.contains(&tap) {
                let _ = net::delete_link(&tap);
                live.taps.retain(|existing| *existing != tap);
            }
        }
    } else {
        return;
    }
    live.xml = def.to_xml();
}

/// `virDomainUpdateDeviceFlags`: CD-ROM/floppy media changes and interface link state.
pub fn update(dom: &DomainRef, xml: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainUpdateDeviceFlags",
        flags,
        modify_flags::LIVE | modify_flags::CONFIG | modify_flags::FORCE,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let (affect_live, affect_config) = affected(&loaded, flags & !modify_flags::FORCE)?;
    let device = parse_device(xml)?;
    if affect_config {
        let layout = SpaceLayout::current()?;
        let config_xml = loaded.record.config_xml.clone().unwrap_or_default();
        let mut def = Domain::parse(&config_xml).map_err(Error::from)?;
        replace_in_def(&mut def, &device)?;
        domain::store_config(&loaded, &def, &layout)?;
    }
    if affect_live {
        let (loaded, mut live) = lifecycle::running(dom)?;
        lifecycle::with_monitor(
            &loaded,
            &mut live,
            Expectation::default(),
            |monitor, live| {
                let mut def = domain::live_def(live)?;
                match &device {
                    DeviceXml::Disk(new_disk) => change_media(monitor, live, &mut def, new_disk)?,
                    DeviceXml::Interface(new_interface) => {
                        let alias = find_alias(&def, &device)?;
                        if let Some(state) = new_interface.link.as_ref().and_then(|link| link.state)
                        {
                            monitor.run(
                                "set_link",
                                json!({ "name": alias, "up": state == LinkState::Up }),
                            )?;
                        }
                        replace_in_def(&mut def, &device)?;
                    }
                }
                live.xml = def.to_xml();
                Ok(())
            },
        )?;
    }
    Ok(())
}

fn replace_in_def(def: &mut Domain, device: &DeviceXml) -> Result<(), Error> {
    match device {
        DeviceXml::Disk(new_disk) => {
            let target = new_disk.target_dev().unwrap_or("");
            let existing = def
                .devices
                .disks
                .iter_mut()
                .find(|disk| disk.target_dev() == Some(target))
                .ok_or_else(|| {
                    qemu_error(
                        ErrorNumber::DEVICE_MISSING,
                        format!("disk {target} not found"),
                    )
                })?;
            if !matches!(
                existing.device,
                Some(DiskDevice::Cdrom | DiskDevice::Floppy)
            ) {
                return Err(qemu_error(
                    ErrorNumber::OPERATION_UNSUPPORTED,
                    format!(
                        "disk bus '{}' doesn't support live update of a disk",
                        existing.target_bus().map_or("", DiskBus::as_str)
                    ),
                ));
            }
            existing.source = new_disk.source.clone();
            existing.disk_type = new_disk.disk_type.or(existing.disk_type);
        }
        DeviceXml::Interface(new_interface) => {
            let mac = new_interface
                .mac
                .as_ref()
                .and_then(|mac| mac.address.clone());
            let existing = def
                .devices
                .interfaces
                .iter_mut()
                .find(|interface| interface.mac.as_ref().and_then(|m| m.address.clone()) == mac)
                .ok_or_else(|| invalid_arg("no matching interface to update"))?;
            existing.link = new_interface.link.clone();
        }
    }
    Ok(())
}

/// Ejects a CD-ROM's medium and inserts the new one (or leaves it empty).
fn change_media(
    monitor: &mut Monitor,
    live: &mut LiveRecord,
    def: &mut Domain,
    new_disk: &Disk,
) -> Result<(), Error> {
    let target = new_disk.target_dev().unwrap_or("").to_string();
    let position = def
        .devices
        .disks
        .iter()
        .position(|disk| disk.target_dev() == Some(target.as_str()))
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::DEVICE_MISSING,
                format!("disk {target} not found"),
            )
        })?;
    let alias = def.devices.disks[position]
        .info
        .alias_name()
        .unwrap_or("")
        .to_string();
    if !matches!(
        def.devices.disks[position].device,
        Some(DiskDevice::Cdrom | DiskDevice::Floppy)
    ) {
        return Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "only CD-ROM and floppy media can be changed",
        ));
    }
    let _ = monitor.execute(
        "blockdev-open-tray",
        Some(json!({ "id": alias, "force": true })),
    );
    monitor.run("blockdev-remove-medium", json!({ "id": alias }))?;
    if let Some(position) = live.disk_nodes.iter().position(|(name, _)| *name == alias) {
        for index in live.disk_nodes[position].1.clone() {
            let _ = monitor.execute(
                "blockdev-del",
                Some(json!({ "node-name": format!("libvirt-{index}-format") })),
            );
            let _ = monitor.execute(
                "blockdev-del",
                Some(json!({ "node-name": format!("libvirt-{index}-storage") })),
            );
        }
        live.disk_nodes[position].1.clear();
    }
    let mut disk = def.devices.disks[position].clone();
    disk.source = new_disk.source.clone();
    disk.disk_type = new_disk.disk_type.or(disk.disk_type);
    refuse_secret_disk(&disk)?;
    let layers = disk_argv::disk_layers(&disk).len() as u32;
    if layers > 0 {
        let nodes: Vec<u32> = (live.next_node_index..live.next_node_index + layers).collect();
        for object in disk_argv::blockdev_objects(&disk, &nodes)? {
            monitor.run("blockdev-add", object.to_value())?;
        }
        let top = disk_argv::top_node(&nodes).unwrap_or_default();
        monitor.run(
            "blockdev-insert-medium",
            json!({ "id": alias, "node-name": top }),
        )?;
        live.next_node_index += layers;
        match live.disk_nodes.iter_mut().find(|(name, _)| *name == alias) {
            Some(entry) => entry.1 = nodes,
            None => live.disk_nodes.push((alias.clone(), nodes)),
        }
    }
    monitor.run("blockdev-close-tray", json!({ "id": alias }))?;
    def.devices.disks[position] = disk;
    Ok(())
}
