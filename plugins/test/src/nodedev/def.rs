//! A node device definition, through `virt-xml`'s node device model.
//!
//! libvirt never reads a SCSI host's vport counters from XML (they come from sysfs), so a
//! node document's `<max_vports>`/`<vports>` read as 0, as in the test driver.

use virt_core::Result;
use virt_xml::nodedev::NodeDevice;
use virt_xml::xml::{Node, XmlElement};

#[derive(Clone, Debug)]
pub(crate) struct NodeDeviceDef(NodeDevice);

impl NodeDeviceDef {
    /// A `<device>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<NodeDeviceDef> {
        let mut device = NodeDevice::from_node(node)?;
        for cap in &mut device.capabilities {
            for nested in &mut cap.capabilities {
                if nested.capability_type.as_deref() == Some("vport_ops") {
                    nested.max_vports = Some(0);
                    nested.vports = Some(0);
                }
            }
        }
        Ok(NodeDeviceDef(device))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<NodeDeviceDef> {
        Ok(NodeDeviceDef(NodeDevice::parse(&String::from_utf8_lossy(
            bytes,
        ))?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0.to_xml().into_bytes()
    }

    /// `virNodeDeviceDefFormat`.
    pub fn format(&self) -> String {
        self.0.to_xml()
    }

    pub fn name(&self) -> &str {
        self.0.name.as_deref().unwrap_or("")
    }

    pub fn parent(&self) -> Option<&str> {
        self.0
            .parent
            .as_ref()
            .and_then(|parent| parent.name.as_deref())
    }

    /// Capability types, outermost first (`virNodeDeviceListCaps`).
    pub fn capability_types(&self) -> Vec<String> {
        self.0
            .capabilities
            .iter()
            .filter_map(|cap| cap.capability_type.clone())
            .collect()
    }

    /// What listing filters also match: a SCSI host's `fc_host`, and `vports` when it can
    /// create vports (`virNodeDeviceObjHasCap`).
    pub fn nested_capability_types(&self) -> Vec<String> {
        let mut nested = Vec::new();
        for cap in self
            .0
            .capabilities
            .iter()
            .filter(|cap| cap.capability_type.as_deref() == Some("scsi_host"))
        {
            for inner in &cap.capabilities {
                match inner.capability_type.as_deref() {
                    Some("fc_host") => nested.push("fc_host".to_string()),
                    Some("vport_ops") => nested.push("vports".to_string()),
                    _ => {}
                }
            }
        }
        nested
    }
}
