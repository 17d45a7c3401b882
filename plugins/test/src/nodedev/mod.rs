//! Node devices (`virNodeDevice*`): what the node document declares, read-only through
//! rvirt's API. Each is a record of kind `nodedev` keyed by name.

pub(crate) mod def;

use serde::{Deserialize, Serialize};
use virt_core::consts::connect_list_all_node_device_flags as list_flags;
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

/// The `VIR_CONNECT_LIST_NODE_DEVICES_CAP_*` bits, by capability type.
const CAP_FILTERS: &[(u32, &str)] = &[
    (list_flags::CAP_SYSTEM, "system"),
    (list_flags::CAP_PCI_DEV, "pci"),
    (list_flags::CAP_USB_DEV, "usb_device"),
    (list_flags::CAP_USB_INTERFACE, "usb"),
    (list_flags::CAP_NET, "net"),
    (list_flags::CAP_SCSI_HOST, "scsi_host"),
    (list_flags::CAP_SCSI_TARGET, "scsi_target"),
    (list_flags::CAP_SCSI, "scsi"),
    (list_flags::CAP_STORAGE, "storage"),
    (list_flags::CAP_FC_HOST, "fc_host"),
    (list_flags::CAP_VPORTS, "vports"),
    (list_flags::CAP_SCSI_GENERIC, "scsi_generic"),
    (list_flags::CAP_DRM, "drm"),
    (list_flags::CAP_MDEV_TYPES, "mdev_types"),
    (list_flags::CAP_MDEV, "mdev"),
    (list_flags::CAP_CCW_DEV, "ccw"),
    (list_flags::CAP_CSS_DEV, "css"),
    (list_flags::CAP_VDPA, "vdpa"),
    (list_flags::CAP_AP_CARD, "ap_card"),
    (list_flags::CAP_AP_QUEUE, "ap_queue"),
    (list_flags::CAP_AP_MATRIX, "ap_matrix"),
    (list_flags::CAP_VPD, "vpd"),
];

fn has_cap(rec: &NodeDeviceRecord, cap: &str) -> bool {
    rec.caps.iter().chain(&rec.nested_caps).any(|c| c == cap)
}

/// `virConnectListAllNodeDevices` (capability bits only, as the test driver accepts) and
/// `virNodeListDevices` (by capability name).
pub(crate) fn list(space: &dyn Space, capability: Option<&str>, flags: u32) -> Result<Vec<String>> {
    let cap_bits = CAP_FILTERS.iter().fold(0, |acc, (bit, _)| acc | bit);
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
            flags & cap_bits == 0
                || CAP_FILTERS
                    .iter()
                    .any(|(bit, cap)| flags & bit != 0 && has_cap(rec, cap))
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
