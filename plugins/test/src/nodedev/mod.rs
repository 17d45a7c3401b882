//! Node devices (`virNodeDevice*`): what the node document declares, read-only through
//! rvirt's API. Each is a record of kind `nodedev` keyed by name.

pub(crate) mod def;

use serde::{Deserialize, Serialize};
use virt_core::{ErrorDomain, ErrorNumber, Result};

use crate::error;
use crate::space::Space;
use def::NodeDeviceDef;

const KIND_NODEDEV: &str = "nodedev";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NodeDeviceRecord {
    pub parent: Option<String>,
    /// Capability types, outermost first (`virNodeDeviceListCaps`).
    pub caps: Vec<String>,
    /// Capabilities a device also matches in filters (`fc_host`, `vports` of a SCSI host).
    pub nested_caps: Vec<String>,
    /// The definition, as `NodeDeviceDef` stores it.
    pub def: Vec<u8>,
}

fn get(space: &dyn Space, name: &str) -> Result<NodeDeviceRecord> {
    space
        .load::<NodeDeviceRecord>(KIND_NODEDEV, name)?
        .ok_or_else(|| {
            error::test(
                ErrorNumber::NO_NODE_DEVICE,
                format!("no node device with matching name '{name}'"),
            )
        })
}

/// Adds a device from a node document.
pub(crate) fn load(space: &dyn Space, def: NodeDeviceDef) -> Result<()> {
    if space.get(KIND_NODEDEV, def.name()).is_some() {
        return Err(error::duplicate(
            ErrorDomain::NODEDEV,
            format!("node device '{}' is defined twice", def.name()),
        ));
    }
    let rec = NodeDeviceRecord {
        parent: def.parent().map(str::to_string),
        caps: def.capability_types(),
        nested_caps: def.nested_capability_types(),
        def: def.to_stored(),
    };
    space.store(KIND_NODEDEV, def.name(), &rec)
}

fn has_cap(rec: &NodeDeviceRecord, cap: &str) -> bool {
    rec.caps.iter().chain(&rec.nested_caps).any(|c| c == cap)
}

/// `virConnectListAllNodeDevices` (capability bits only, as the test driver accepts) and
/// `virNodeListDevices` (by capability name).
pub(crate) fn list(space: &dyn Space, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
    let cap_bits = virt_xml::nodedev::list_filter_bits();
    let function = if capability.is_some() {
        "testNodeListDevices"
    } else {
        "testConnectListAllNodeDevices"
    };
    error::check_flags(flags, cap_bits, function)?;
    Ok(space
        .load_all::<NodeDeviceRecord>(KIND_NODEDEV)?
        .into_iter()
        .filter(|(_, rec)| capability.is_none_or(|cap| has_cap(rec, cap)))
        .filter(|(_, rec)| {
            let types: Vec<String> = rec.caps.iter().chain(&rec.nested_caps).cloned().collect();
            virt_xml::nodedev::passes_list_filter(&types, flags)
        })
        .map(|(name, _)| name)
        .collect())
}

/// `virNodeDeviceLookupByName`.
pub(crate) fn lookup(space: &dyn Space, name: &str) -> Result<String> {
    get(space, name)?;
    Ok(name.to_string())
}

/// `virNodeDeviceGetXMLDesc`.
pub(crate) fn xml(space: &dyn Space, name: &str, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testNodeDeviceGetXMLDesc")?;
    Ok(NodeDeviceDef::from_stored(&get(space, name)?.def)?.format())
}

/// `virNodeDeviceGetParent`: a device without one is an error, as in the test driver.
pub(crate) fn parent(space: &dyn Space, name: &str) -> Result<Option<String>> {
    match get(space, name)?.parent {
        Some(parent) => Ok(Some(parent)),
        None => Err(error::internal("no parent for this device")),
    }
}

/// `virNodeDeviceListCaps`.
pub(crate) fn caps(space: &dyn Space, name: &str) -> Result<Vec<String>> {
    Ok(get(space, name)?.caps)
}
