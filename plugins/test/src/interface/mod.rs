//! Host interfaces (`virInterface*`): what the node document declares, read-only through
//! rvirt's API. Each is a record of kind `interface` keyed by name.

pub(crate) mod def;

use serde::{Deserialize, Serialize};
use virt_core::consts::connect_list_all_interfaces_flags as list_flags;
use virt_core::{ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::InterfaceRef;

use crate::error;
use crate::space::Space;
use def::InterfaceDef;

const KIND_INTERFACE: &str = "interface";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InterfaceRecord {
    pub mac: Option<String>,
    pub active: bool,
    /// The definition, as `InterfaceDef` stores it.
    pub def: Vec<u8>,
}

fn get(space: &dyn Space, name: &str) -> Result<InterfaceRecord> {
    space
        .load::<InterfaceRecord>(KIND_INTERFACE, name)?
        .ok_or_else(|| {
            error::test(
                ErrorNumber::NO_INTERFACE,
                format!("no interface with matching name '{name}'"),
            )
        })
}

fn reference(name: &str, rec: &InterfaceRecord) -> InterfaceRef {
    InterfaceRef {
        name: name.to_string(),
        mac: rec.mac.clone().unwrap_or_default(),
    }
}

/// Adds an interface from a node document (active).
pub(crate) fn load(space: &dyn Space, def: InterfaceDef) -> Result<()> {
    if space.get(KIND_INTERFACE, def.name()).is_some() {
        return Err(error::duplicate(
            ErrorDomain::INTERFACE,
            format!("interface '{}' is defined twice", def.name()),
        ));
    }
    let rec = InterfaceRecord {
        mac: def.mac().map(str::to_string),
        active: true,
        def: def.to_stored(),
    };
    space.store(KIND_INTERFACE, def.name(), &rec)
}

/// `virConnectListAllInterfaces`.
pub(crate) fn list_all(space: &dyn Space, flags: u32) -> Result<Vec<InterfaceRef>> {
    error::check_flags(
        flags,
        list_flags::ACTIVE | list_flags::INACTIVE,
        "testConnectListAllInterfaces",
    )?;
    let filter = flags & (list_flags::ACTIVE | list_flags::INACTIVE);
    Ok(space
        .load_all::<InterfaceRecord>(KIND_INTERFACE)?
        .into_iter()
        .filter(|(_, rec)| {
            filter == 0
                || (filter & list_flags::ACTIVE != 0 && rec.active)
                || (filter & list_flags::INACTIVE != 0 && !rec.active)
        })
        .map(|(name, rec)| reference(&name, &rec))
        .collect())
}

/// `virInterfaceLookupByName`.
pub(crate) fn lookup_by_name(space: &dyn Space, name: &str) -> Result<InterfaceRef> {
    Ok(reference(name, &get(space, name)?))
}

/// `virInterfaceLookupByMACString`: case-insensitive; the handle carries the MAC as asked.
pub(crate) fn lookup_by_mac(space: &dyn Space, mac: &str) -> Result<InterfaceRef> {
    let found: Vec<String> = space
        .load_all::<InterfaceRecord>(KIND_INTERFACE)?
        .into_iter()
        .filter(|(_, rec)| {
            rec.mac
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(mac))
        })
        .map(|(name, _)| name)
        .collect();
    match found.as_slice() {
        [] => Err(error::test(
            ErrorNumber::NO_INTERFACE,
            format!("no interface with matching mac '{mac}'"),
        )),
        [name] => Ok(InterfaceRef {
            name: name.clone(),
            mac: mac.to_string(),
        }),
        _ => Err(error::test(ErrorNumber::MULTIPLE_INTERFACES, "")),
    }
}

/// `virInterfaceGetXMLDesc`.
pub(crate) fn xml(space: &dyn Space, iface: &InterfaceRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testInterfaceGetXMLDesc")?;
    let rec = get(space, &iface.name)?;
    Ok(InterfaceDef::from_stored(&rec.def)?.format())
}

/// `virInterfaceIsActive`.
pub(crate) fn is_active(space: &dyn Space, iface: &InterfaceRef) -> Result<bool> {
    Ok(get(space, &iface.name)?.active)
}
