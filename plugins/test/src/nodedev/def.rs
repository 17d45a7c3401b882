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
        self.0.parent_name()
    }

    /// Capability types, outermost first (`virNodeDeviceListCaps`).
    pub fn capability_types(&self) -> Vec<String> {
        self.0.capability_types()
    }

    /// What listing filters also match (`fc_host`, `vports` of a SCSI host).
    pub fn nested_capability_types(&self) -> Vec<String> {
        self.0.nested_capability_types()
    }
}
