//! Virtual networks, as libvirt's test driver keeps them: definitions with an active flag and
//! nothing behind them (no bridge is ever created).
//!
//! A network is one record of kind `network` (keyed by UUID) holding its state and
//! definitions, plus a `network.name` index. Every change takes the [`NETWORKS_JOB`].
//!
//! Test driver quirks kept here: destroying an inactive network succeeds, and a running
//! network cannot be undefined.

pub(crate) mod def;

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    connect_list_all_networks_flags as list_flags, network_create_flags, network_define_flags,
    network_event_lifecycle_type as event_type, network_update_flags,
};
use virt_core::{ErrorDomain, ErrorNumber, Result, Uuid};
use virt_plugin_sdk::types::{self, Event, NetworkRef, ObjectStatus};

use crate::error;
use crate::space::Space;
use def::NetworkDef;

/// Job target for every change to networks.
pub(crate) const NETWORKS_JOB: &str = "networks";

const KIND_NETWORK: &str = "network";
const KIND_NAME: &str = "network.name";

/// A network and its definitions.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NetworkRecord {
    pub name: String,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
    /// libvirt's `def`, as `NetworkDef` stores it.
    pub def: Vec<u8>,
    /// libvirt's `newDef`: the persistent definition of a running network, if it differs.
    pub new_def: Option<Vec<u8>>,
}

pub(crate) struct Network {
    pub uuid: Uuid,
    pub rec: NetworkRecord,
}

impl Network {
    fn reference(&self) -> NetworkRef {
        NetworkRef {
            name: self.rec.name.clone(),
            uuid: self.uuid.into(),
        }
    }

    fn emit(&self, space: &dyn Space, event: i32) {
        space.emit(Event::NetworkLifecycle((self.reference(), event, 0)));
    }

    fn write(&self, space: &dyn Space) -> Result<()> {
        space.store(KIND_NETWORK, &self.uuid.to_string(), &self.rec)
    }

    fn remove(&self, space: &dyn Space) {
        space.delete(KIND_NETWORK, &self.uuid.to_string());
        space.delete(KIND_NAME, &self.rec.name);
    }

    fn def(&self) -> Result<NetworkDef> {
        NetworkDef::from_stored(&self.rec.def)
    }
}

fn no_network_name(name: &str) -> virt_core::Error {
    error::test(
        ErrorNumber::NO_NETWORK,
        format!("no network with matching name '{name}'"),
    )
}

fn no_network_uuid(uuid: &Uuid) -> virt_core::Error {
    error::test(
        ErrorNumber::NO_NETWORK,
        format!("no network with matching uuid '{uuid}'"),
    )
}

fn find_by_uuid(space: &dyn Space, uuid: &Uuid) -> Result<Option<Network>> {
    Ok(space
        .load::<NetworkRecord>(KIND_NETWORK, &uuid.to_string())?
        .map(|rec| Network { uuid: *uuid, rec }))
}

fn find_by_name(space: &dyn Space, name: &str) -> Result<Option<Network>> {
    match space.load::<[u8; 16]>(KIND_NAME, name)? {
        Some(bytes) => find_by_uuid(space, &Uuid::from_bytes(bytes)),
        None => Ok(None),
    }
}

/// `testNetworkObjFindByName`: most calls resolve a handle by its name.
fn get_by_name(space: &dyn Space, name: &str) -> Result<Network> {
    find_by_name(space, name)?.ok_or_else(|| no_network_name(name))
}

/// `testNetworkObjFindByUUID`.
fn get_by_uuid(space: &dyn Space, uuid: &Uuid) -> Result<Network> {
    find_by_uuid(space, uuid)?.ok_or_else(|| no_network_uuid(uuid))
}

pub(crate) fn lookup_by_name(space: &dyn Space, name: &str) -> Result<NetworkRef> {
    Ok(get_by_name(space, name)?.reference())
}

pub(crate) fn lookup_by_uuid(space: &dyn Space, uuid: types::Uuid) -> Result<NetworkRef> {
    Ok(get_by_uuid(space, &uuid.into())?.reference())
}

fn all(space: &dyn Space) -> Result<Vec<Network>> {
    space
        .load_all::<NetworkRecord>(KIND_NETWORK)?
        .into_iter()
        .map(|(key, rec)| {
            let uuid = virt_core::parse_uuid(&key)
                .ok_or_else(|| error::internal(format!("network record with a bad key '{key}'")))?;
            Ok(Network { uuid, rec })
        })
        .collect()
}

/// The first address guests of network `name` get, and its prefix
/// (`testDomainInterfaceAddressFromNet`).
pub(crate) fn first_address(space: &dyn Space, name: &str) -> Result<(std::net::IpAddr, u32)> {
    let net = get_by_name(space, name)?;
    net.def()?
        .first_guest_address()
        .ok_or_else(|| error::operation_invalid(format!("network '{name}' has no IP address")))
}

/// `virConnectListAllNetworks`.
pub(crate) fn list_all(space: &dyn Space, flags: u32) -> Result<Vec<NetworkRef>> {
    let all_flags = list_flags::INACTIVE
        | list_flags::ACTIVE
        | list_flags::PERSISTENT
        | list_flags::TRANSIENT
        | list_flags::AUTOSTART
        | list_flags::NO_AUTOSTART;
    error::check_flags(flags, all_flags, "testConnectListAllNetworks")?;
    let group = |yes: u32, no: u32, value: bool| {
        flags & (yes | no) == 0 || (flags & yes != 0 && value) || (flags & no != 0 && !value)
    };
    Ok(all(space)?
        .into_iter()
        .filter(|n| {
            group(list_flags::ACTIVE, list_flags::INACTIVE, n.rec.active)
                && group(
                    list_flags::PERSISTENT,
                    list_flags::TRANSIENT,
                    n.rec.persistent,
                )
                && group(
                    list_flags::AUTOSTART,
                    list_flags::NO_AUTOSTART,
                    n.rec.autostart,
                )
        })
        .map(|n| n.reference())
        .collect())
}

/// The duplicate checks of `virNetworkObjAssignDef`.
fn find_existing(space: &dyn Space, def: &NetworkDef) -> Result<Option<Network>> {
    let uuid = def.uuid();
    if let Some(existing) = find_by_uuid(space, &uuid)? {
        if existing.rec.name != def.name() {
            return Err(error::duplicate(
                ErrorDomain::NETWORK,
                format!(
                    "network '{}' is already defined with uuid {}",
                    existing.rec.name, uuid
                ),
            ));
        }
        return Ok(Some(existing));
    }
    if let Some(existing) = find_by_name(space, def.name())? {
        return Err(error::duplicate(
            ErrorDomain::NETWORK,
            format!(
                "network '{}' already exists with uuid {}",
                def.name(),
                existing.uuid
            ),
        ));
    }
    Ok(None)
}

fn insert(space: &dyn Space, n: &Network) -> Result<()> {
    space.store(KIND_NAME, &n.rec.name, n.uuid.as_bytes())?;
    n.write(space)
}

/// Adds a network from a node document (active, persistent).
pub(crate) fn load(space: &dyn Space, def: NetworkDef) -> Result<()> {
    if find_existing(space, &def)?.is_some() {
        return Err(error::duplicate(
            ErrorDomain::NETWORK,
            format!("network '{}' is defined twice", def.name()),
        ));
    }
    let n = Network {
        uuid: def.uuid(),
        rec: NetworkRecord {
            name: def.name().to_string(),
            active: true,
            persistent: true,
            autostart: false,
            def: def.to_stored(),
            new_def: None,
        },
    };
    insert(space, &n)
}

/// `virNetworkDefineXMLFlags`.
pub(crate) fn define_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<NetworkRef> {
    error::check_flags(
        flags,
        network_define_flags::VALIDATE,
        "testNetworkDefineXMLFlags",
    )?;
    let def = NetworkDef::parse(xml, flags & network_define_flags::VALIDATE != 0)?;
    space.begin_job(NETWORKS_JOB)?;
    let n = match find_existing(space, &def)? {
        None => {
            let n = Network {
                uuid: def.uuid(),
                rec: NetworkRecord {
                    name: def.name().to_string(),
                    active: false,
                    persistent: true,
                    autostart: false,
                    def: def.to_stored(),
                    new_def: None,
                },
            };
            insert(space, &n)?;
            n
        }
        Some(mut n) => {
            // virNetworkObjUpdateAssignDef(live = false).
            if n.rec.active {
                n.rec.new_def = Some(def.to_stored());
            } else {
                n.rec.new_def = None;
                n.rec.def = def.to_stored();
            }
            n.rec.persistent = true;
            n.write(space)?;
            n
        }
    };
    n.emit(space, event_type::DEFINED);
    Ok(n.reference())
}

/// `virNetworkCreateXMLFlags`: a transient network, running at once.
pub(crate) fn create_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<NetworkRef> {
    error::check_flags(
        flags,
        network_create_flags::VALIDATE,
        "testNetworkCreateXMLFlags",
    )?;
    let def = NetworkDef::parse(xml, flags & network_create_flags::VALIDATE != 0)?;
    space.begin_job(NETWORKS_JOB)?;
    let n = match find_existing(space, &def)? {
        None => {
            let n = Network {
                uuid: def.uuid(),
                rec: NetworkRecord {
                    name: def.name().to_string(),
                    active: true,
                    persistent: false,
                    autostart: false,
                    def: def.to_stored(),
                    new_def: None,
                },
            };
            insert(space, &n)?;
            n
        }
        Some(mut n) => {
            if n.rec.active {
                return Err(virt_core::Error::new(
                    ErrorNumber::OPERATION_INVALID,
                    ErrorDomain::NETWORK,
                    format!("network is already active as '{}'", n.rec.name),
                ));
            }
            // virNetworkObjUpdateAssignDef(live = true): the persistent definition waits.
            if n.rec.persistent && n.rec.new_def.is_none() {
                n.rec.new_def = Some(std::mem::take(&mut n.rec.def));
            }
            n.rec.def = def.to_stored();
            n.rec.active = true;
            n.write(space)?;
            n
        }
    };
    n.emit(space, event_type::STARTED);
    Ok(n.reference())
}

/// `virNetworkUndefine`.
pub(crate) fn undefine(space: &dyn Space, net: &NetworkRef) -> Result<()> {
    space.begin_job(NETWORKS_JOB)?;
    let n = get_by_name(space, &net.name)?;
    if n.rec.active {
        return Err(error::operation_invalid(format!(
            "Network '{}' is still running",
            net.name
        )));
    }
    space.emit(Event::NetworkLifecycle((
        net.clone(),
        event_type::UNDEFINED,
        0,
    )));
    n.remove(space);
    Ok(())
}

/// `virNetworkCreate`.
pub(crate) fn create(space: &dyn Space, net: &NetworkRef) -> Result<()> {
    space.begin_job(NETWORKS_JOB)?;
    let mut n = get_by_name(space, &net.name)?;
    if n.rec.active {
        return Err(error::operation_invalid(format!(
            "Network '{}' is already running",
            net.name
        )));
    }
    n.rec.active = true;
    n.write(space)?;
    n.emit(space, event_type::STARTED);
    Ok(())
}

/// `virNetworkDestroy`: the test driver does not check that the network runs.
pub(crate) fn destroy(space: &dyn Space, net: &NetworkRef) -> Result<()> {
    space.begin_job(NETWORKS_JOB)?;
    let mut n = get_by_name(space, &net.name)?;
    n.rec.active = false;
    n.emit(space, event_type::STOPPED);
    if n.rec.persistent {
        n.write(space)
    } else {
        n.remove(space);
        Ok(())
    }
}

/// `virNetworkGetXMLDesc` (the test driver accepts no flags).
pub(crate) fn xml(space: &dyn Space, net: &NetworkRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testNetworkGetXMLDesc")?;
    let n = get_by_name(space, &net.name)?;
    Ok(n.def()?.format())
}

/// `virNetworkIsActive` / `IsPersistent` / `GetAutostart`.
pub(crate) fn status(space: &dyn Space, net: &NetworkRef) -> Result<ObjectStatus> {
    let n = get_by_uuid(space, &net.uuid.into())?;
    Ok(ObjectStatus {
        active: n.rec.active,
        persistent: n.rec.persistent,
        autostart: n.rec.autostart,
        updated: false,
        has_managed_save: false,
    })
}

/// `virNetworkSetAutostart`.
pub(crate) fn set_autostart(space: &dyn Space, net: &NetworkRef, autostart: bool) -> Result<()> {
    space.begin_job(NETWORKS_JOB)?;
    let mut n = get_by_name(space, &net.name)?;
    n.rec.autostart = autostart;
    n.write(space)
}

/// `virNetworkGetBridgeName`.
pub(crate) fn bridge_name(space: &dyn Space, net: &NetworkRef) -> Result<String> {
    let n = get_by_name(space, &net.name)?;
    let def = n.def()?;
    def.bridge().map(str::to_string).ok_or_else(|| {
        error::internal(format!(
            "network '{}' does not have a bridge name.",
            def.name()
        ))
    })
}

/// `virNetworkUpdate`: CURRENT means LIVE for a running network, CONFIG otherwise.
pub(crate) fn update(
    space: &dyn Space,
    net: &NetworkRef,
    command: u32,
    section: u32,
    parent_index: i32,
    xml: &str,
    flags: u32,
) -> Result<()> {
    let live = network_update_flags::LIVE;
    let config = network_update_flags::CONFIG;
    error::check_flags(flags, live | config, "testNetworkUpdate")?;
    space.begin_job(NETWORKS_JOB)?;
    let mut n = get_by_uuid(space, &net.uuid.into())?;
    let mut flags = flags;
    if flags & (live | config) == 0 {
        flags |= if n.rec.active { live } else { config };
    }
    // virNetworkObjUpdate: a live change needs a running network; a config change of a
    // transient one is impossible.
    if flags & live != 0 && !n.rec.active {
        return Err(virt_core::Error::new(
            ErrorNumber::OPERATION_INVALID,
            ErrorDomain::NETWORK,
            "network is not running",
        ));
    }
    if flags & config != 0 && !n.rec.persistent {
        return Err(virt_core::Error::new(
            ErrorNumber::OPERATION_INVALID,
            ErrorDomain::NETWORK,
            "cannot change persistent config of a transient network",
        ));
    }
    // virNetworkObjConfigChangeSetup keeps the persistent definition of a running network
    // apart before it changes.
    if flags & config != 0 && n.rec.active && n.rec.new_def.is_none() {
        n.rec.new_def = Some(n.rec.def.clone());
    }
    let mut live_def = if flags & live != 0 {
        Some(n.def()?)
    } else {
        None
    };
    let mut config_def = if flags & config != 0 {
        Some(NetworkDef::from_stored(
            n.rec.new_def.as_ref().unwrap_or(&n.rec.def),
        )?)
    } else {
        None
    };
    for def in [live_def.as_mut(), config_def.as_mut()]
        .into_iter()
        .flatten()
    {
        def.update(command, section, parent_index, xml)?;
    }
    if let Some(def) = config_def {
        if n.rec.active {
            n.rec.new_def = Some(def.to_stored());
        } else {
            n.rec.def = def.to_stored();
        }
    }
    if let Some(def) = live_def {
        n.rec.def = def.to_stored();
    }
    n.write(space)
}
