//! Node device XML (`<device>`): host devices as the node-device driver reports them, and the
//! definitions used to create mediated devices and vHBAs.
//!
//! A `<capability type='...'>` holds a different set of children per type; libvirt's order for
//! every type is compatible with one field order, so [`Capability`] is a single struct whose
//! `capability_type` says which fields apply.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{expect_root, parse_document, Hex, Node, Writer, XmlElement};
use crate::{Result, XmlElement};

/// `<devnode type='dev|link'>path</devnode>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Devnode {
    #[xml(attr = "type")]
    pub devnode_type: Option<String>,
    #[xml(text)]
    pub path: Option<String>,
}

/// `<parent wwnn wwpn fabric_wwn>name</parent>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Parent {
    #[xml(attr)]
    pub wwnn: Option<String>,
    #[xml(attr)]
    pub wwpn: Option<String>,
    #[xml(attr)]
    pub fabric_wwn: Option<String>,
    #[xml(text)]
    pub name: Option<String>,
}

/// `<driver><name>..</name></driver>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct DeviceDriver {
    #[xml(text_child)]
    pub name: Option<String>,
}

/// `<product id>name</product>`, `<vendor id>name</vendor>` (ids in hex).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IdName {
    #[xml(attr)]
    pub id: Option<Hex<4>>,
    #[xml(text)]
    pub name: Option<String>,
}

/// `<hardware>` of the system capability.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SystemHardware {
    #[xml(text_child)]
    pub vendor: Option<String>,
    #[xml(text_child)]
    pub version: Option<String>,
    #[xml(text_child)]
    pub serial: Option<String>,
    #[xml(text_child)]
    pub uuid: Option<String>,
}

/// `<firmware>` of the system capability.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct SystemFirmware {
    #[xml(text_child)]
    pub vendor: Option<String>,
    #[xml(text_child)]
    pub version: Option<String>,
    #[xml(text_child)]
    pub release_date: Option<String>,
}

/// `<link speed state/>` of a network interface, or `<link validity port speed width/>` of
/// PCI Express.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Link {
    #[xml(attr)]
    pub validity: Option<String>,
    #[xml(attr)]
    pub port: Option<u32>,
    #[xml(attr)]
    pub speed: Option<String>,
    #[xml(attr)]
    pub width: Option<u32>,
    #[xml(attr)]
    pub state: Option<String>,
}

/// `<feature name/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NamedFeature {
    #[xml(attr)]
    pub name: Option<String>,
}

/// A PCI address written without a type (`domain='0x0000' bus='0x00' ...`).
pub type PciAddressElement = crate::storage::ParentPciAddress;

/// `<iommuGroup number>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct IommuGroup {
    #[xml(attr)]
    pub number: Option<u32>,
    #[xml(child = "address")]
    pub addresses: Vec<PciAddressElement>,
}

/// `<numa node/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NumaNode {
    #[xml(attr)]
    pub node: Option<i32>,
}

/// `<pci-express>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PciExpress {
    #[xml(child = "link")]
    pub links: Vec<Link>,
}

/// `<attr name value/>` of a mediated device.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MdevAttr {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub value: Option<String>,
}

/// `<type id>` of a mediated device or of `mdev_types`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MdevType {
    #[xml(attr)]
    pub id: Option<String>,
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(text_child = "deviceAPI")]
    pub device_api: Option<String>,
    #[xml(text_child = "availableInstances")]
    pub available_instances: Option<u32>,
}

/// `<channel_dev_addr>` of a CSS device.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct ChannelDevAddr {
    #[xml(text_child)]
    pub cssid: Option<Hex<0>>,
    #[xml(text_child)]
    pub ssid: Option<Hex<0>>,
    #[xml(text_child)]
    pub devno: Option<Hex<4>>,
}

/// `<vendor_field index>`/`<system_field index>` of VPD.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VpdField {
    #[xml(attr)]
    pub index: Option<String>,
    #[xml(text)]
    pub value: Option<String>,
}

/// `<fields access='readonly|readwrite'>` of VPD.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct VpdFields {
    #[xml(attr)]
    pub access: Option<String>,
    #[xml(text_child)]
    pub change_level: Option<String>,
    #[xml(text_child)]
    pub manufacture_id: Option<String>,
    #[xml(text_child)]
    pub part_number: Option<String>,
    #[xml(text_child)]
    pub serial_number: Option<String>,
    #[xml(text_child)]
    pub asset_tag: Option<String>,
    #[xml(child = "vendor_field")]
    pub vendor_fields: Vec<VpdField>,
    #[xml(child = "system_field")]
    pub system_fields: Vec<VpdField>,
}

/// A `<capability>` nested inside another one (`phys_function`, `virt_functions`,
/// `mdev_types`, `vpd`, `fc_host`, `vport_ops`, `fc_remote_port`, `removable`, header and
/// link-layer types).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct NestedCapability {
    #[xml(attr = "type")]
    pub capability_type: Option<String>,
    #[xml(attr = "maxCount")]
    pub max_count: Option<u32>,
    #[xml(child = "address")]
    pub addresses: Vec<PciAddressElement>,
    #[xml(child = "type")]
    pub mdev_types: Vec<MdevType>,
    #[xml(text_child)]
    pub name: Option<String>,
    #[xml(child = "fields")]
    pub fields: Vec<VpdFields>,
    #[xml(text_child)]
    pub rport: Option<String>,
    #[xml(text_child)]
    pub wwnn: Option<String>,
    #[xml(text_child)]
    pub wwpn: Option<String>,
    #[xml(text_child)]
    pub fabric_wwn: Option<String>,
    #[xml(text_child)]
    pub max_vports: Option<u32>,
    #[xml(text_child)]
    pub vports: Option<u32>,
    #[xml(text_child)]
    pub media_available: Option<u32>,
    #[xml(text_child)]
    pub media_size: Option<u64>,
    #[xml(text_child)]
    pub media_label: Option<String>,
    #[xml(text_child)]
    pub logical_block_size: Option<u64>,
    #[xml(text_child)]
    pub num_blocks: Option<u64>,
}

/// `<capability type='...'>` of a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded, validate = "Capability::split_hotpluggable")]
pub struct Capability {
    /// `system`, `pci`, `usb_device`, `usb`, `net`, `scsi_host`, `scsi_target`, `scsi`,
    /// `storage`, `scsi_generic`, `drm`, `mdev`, `ccw`, `css`, `vdpa`, `ap_card`,
    /// `ap_queue`, `ap_matrix`, `mdev_types`.
    #[xml(attr = "type")]
    pub capability_type: Option<String>,
    #[xml(text_child)]
    pub host: Option<u32>,
    #[xml(text_child)]
    pub unique_id: Option<i32>,
    #[xml(text_child)]
    pub number: Option<u32>,
    /// PCI class (`0x060400`) or USB interface class (decimal).
    #[xml(text_child)]
    pub class: Option<String>,
    #[xml(text_child)]
    pub subclass: Option<u32>,
    #[xml(text_child)]
    pub protocol: Option<u32>,
    #[xml(text_child)]
    pub description: Option<String>,
    #[xml(text_child)]
    pub interface: Option<String>,
    #[xml(text_child)]
    pub address: Option<String>,
    #[xml(child)]
    pub link: Option<Link>,
    #[xml(child = "feature")]
    pub features: Vec<NamedFeature>,
    #[xml(text_child)]
    pub domain: Option<u32>,
    #[xml(text_child)]
    pub block: Option<String>,
    #[xml(text_child)]
    pub bus: Option<String>,
    #[xml(text_child)]
    pub drive_type: Option<String>,
    #[xml(text_child)]
    pub model: Option<String>,
    #[xml(text_child)]
    pub device: Option<u32>,
    #[xml(text_child)]
    pub slot: Option<u32>,
    #[xml(text_child)]
    pub function: Option<u32>,
    #[xml(text_child)]
    pub target: Option<String>,
    #[xml(text_child)]
    pub lun: Option<u32>,
    /// SCSI device type or DRM node type.
    #[xml(text_child = "type")]
    pub type_name: Option<String>,
    /// Mediated device type (`<type id='...'/>`): shares the element name with the above;
    /// see [`Capability::mdev_type_id`].
    #[xml(skip)]
    pub mdev_type: Option<String>,
    #[xml(text_child)]
    pub uuid: Option<String>,
    #[xml(text_child)]
    pub parent_addr: Option<String>,
    #[xml(child)]
    pub product: Option<IdName>,
    #[xml(child)]
    pub hardware: Option<SystemHardware>,
    #[xml(child)]
    pub firmware: Option<SystemFirmware>,
    #[xml(child)]
    pub vendor: Option<IdName>,
    #[xml(text_child)]
    pub serial: Option<String>,
    #[xml(text_child)]
    pub cssid: Option<Hex<0>>,
    #[xml(text_child)]
    pub ssid: Option<Hex<0>>,
    #[xml(text_child)]
    pub devno: Option<Hex<4>>,
    #[xml(child)]
    pub channel_dev_addr: Option<ChannelDevAddr>,
    #[xml(text_child = "char")]
    pub chardev_path: Option<String>,
    #[xml(text_child)]
    pub chardev: Option<String>,
    #[xml(text_child = "ap-adapter")]
    pub ap_adapter: Option<Hex<2>>,
    #[xml(text_child = "ap-domain")]
    pub ap_domain: Option<Hex<4>>,
    #[xml(child = "capability")]
    pub capabilities: Vec<NestedCapability>,
    #[xml(child = "iommuGroup")]
    pub iommu_group: Option<IommuGroup>,
    #[xml(child)]
    pub numa: Option<NumaNode>,
    #[xml(child = "pci-express")]
    pub pci_express: Option<PciExpress>,
    #[xml(child = "attr")]
    pub attrs: Vec<MdevAttr>,
    #[xml(text_child)]
    pub size: Option<u64>,
    #[xml(text_child)]
    pub logical_block_size: Option<u64>,
    #[xml(text_child)]
    pub num_blocks: Option<u64>,
    /// Storage's `<capability type='hotpluggable'/>`, written after the sizes.
    #[xml(skip)]
    pub hotpluggable: bool,
}

impl Capability {
    fn split_hotpluggable(cap: &mut Capability, node: &Node<'_>) -> Result<()> {
        if cap.capability_type.as_deref() == Some("storage") {
            let before = cap.capabilities.len();
            cap.capabilities
                .retain(|nested| nested.capability_type.as_deref() != Some("hotpluggable"));
            cap.hotpluggable = cap.capabilities.len() != before;
        }
        // A mediated device names its type with `<type id='...'/>`.
        if cap.capability_type.as_deref() == Some("mdev") {
            cap.type_name = None;
            cap.mdev_type = node
                .child("type")
                .and_then(|t| t.attr("id"))
                .map(str::to_string);
        }
        Ok(())
    }

    /// The mediated device type id (`mdev` capability).
    pub fn mdev_type_id(&self) -> Option<&str> {
        self.mdev_type.as_deref()
    }
}

/// A node device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeDevice {
    pub name: Option<String>,
    pub path: Option<String>,
    pub devnodes: Vec<Devnode>,
    pub parent: Option<Parent>,
    pub driver: Option<DeviceDriver>,
    pub capabilities: Vec<Capability>,
}

/// What libvirt calls the document in parse errors.
pub const DOC_NAME: &str = "(node_device_definition)";

impl NodeDevice {
    /// Parses node device XML as written.
    pub fn parse(xml: &str) -> Result<NodeDevice> {
        let doc = parse_document(xml, DOC_NAME, ErrorDomain::NODEDEV)?;
        expect_root(&doc.root, "device")?;
        NodeDevice::from_node(&doc.root)
    }

    /// Formats as libvirt does.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::with_capacity(2048);
        self.write_element(&mut w, "device");
        w.finish()
    }

    /// The parent's name (`<parent>`).
    pub fn parent_name(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|parent| parent.name.as_deref())
    }

    /// Capability types, outermost first (`virNodeDeviceListCaps`).
    pub fn capability_types(&self) -> Vec<String> {
        self.capabilities
            .iter()
            .filter_map(|cap| cap.capability_type.clone())
            .collect()
    }

    /// What listing filters also match: a SCSI host's `fc_host`, and `vports` when it can
    /// create vports (`virNodeDeviceObjHasCap`).
    pub fn nested_capability_types(&self) -> Vec<String> {
        let mut nested = Vec::new();
        let scsi_hosts = self
            .capabilities
            .iter()
            .filter(|cap| cap.capability_type.as_deref() == Some("scsi_host"));
        for cap in scsi_hosts {
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

/// The `VIR_CONNECT_LIST_NODE_DEVICES_CAP_*` bits, by capability type.
pub const LIST_FILTERS: &[(u32, &str)] = {
    use virt_core::consts::connect_list_all_node_device_flags as f;
    &[
        (f::CAP_SYSTEM, "system"),
        (f::CAP_PCI_DEV, "pci"),
        (f::CAP_USB_DEV, "usb_device"),
        (f::CAP_USB_INTERFACE, "usb"),
        (f::CAP_NET, "net"),
        (f::CAP_SCSI_HOST, "scsi_host"),
        (f::CAP_SCSI_TARGET, "scsi_target"),
        (f::CAP_SCSI, "scsi"),
        (f::CAP_STORAGE, "storage"),
        (f::CAP_FC_HOST, "fc_host"),
        (f::CAP_VPORTS, "vports"),
        (f::CAP_SCSI_GENERIC, "scsi_generic"),
        (f::CAP_DRM, "drm"),
        (f::CAP_MDEV_TYPES, "mdev_types"),
        (f::CAP_MDEV, "mdev"),
        (f::CAP_CCW_DEV, "ccw"),
        (f::CAP_CSS_DEV, "css"),
        (f::CAP_VDPA, "vdpa"),
        (f::CAP_AP_CARD, "ap_card"),
        (f::CAP_AP_QUEUE, "ap_queue"),
        (f::CAP_AP_MATRIX, "ap_matrix"),
        (f::CAP_VPD, "vpd"),
    ]
};

/// Every capability bit of [`LIST_FILTERS`].
pub fn list_filter_bits() -> u32 {
    LIST_FILTERS.iter().fold(0, |bits, (bit, _)| bits | bit)
}

/// Whether a device with capability types `types` passes the capability bits of `flags`
/// (a device passes when no bit is set, or when it has one of the types set).
pub fn passes_list_filter(types: &[String], flags: u32) -> bool {
    flags & list_filter_bits() == 0
        || LIST_FILTERS
            .iter()
            .any(|(bit, cap)| flags & bit != 0 && types.iter().any(|t| t == cap))
}

impl XmlElement for NodeDevice {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        use crate::xml::{ChildField, TextChildField};
        let capabilities: Vec<Capability> = ChildField::parse_child(node, "capability")?;
        if capabilities.is_empty() {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::NODEDEV,
                "no device capabilities for ''",
            ));
        }
        Ok(NodeDevice {
            name: TextChildField::parse_text_child(node, "name")?,
            path: TextChildField::parse_text_child(node, "path")?,
            devnodes: ChildField::parse_child(node, "devnode")?,
            parent: ChildField::parse_child(node, "parent")?,
            driver: ChildField::parse_child(node, "driver")?,
            capabilities,
        })
    }

    fn write_attrs(&self, _w: &mut Writer) {}

    fn write_body(&self, w: &mut Writer) {
        use crate::xml::{ChildField, TextChildField};
        self.name.write_text_child(w, "name");
        self.path.write_text_child(w, "path");
        // libvirt writes the `dev` node before the links.
        for devnode in self
            .devnodes
            .iter()
            .filter(|d| d.devnode_type.as_deref() == Some("dev"))
        {
            devnode.write_element(w, "devnode");
        }
        for devnode in self
            .devnodes
            .iter()
            .filter(|d| d.devnode_type.as_deref() != Some("dev"))
        {
            devnode.write_element(w, "devnode");
        }
        self.parent.write_child(w, "parent");
        self.driver.write_child(w, "driver");
        for cap in &self.capabilities {
            write_capability(cap, w);
        }
    }

    fn empty_style() -> crate::xml::EmptyStyle {
        crate::xml::EmptyStyle::Expanded
    }
}

fn write_capability(cap: &Capability, w: &mut Writer) {
    let mark = w.open("capability");
    cap.write_attrs(w);
    if let Some(id) = &cap.mdev_type {
        // Mediated devices start with `<type id='...'/>`.
        let m = w.open("type");
        w.attr("id", id);
        w.close(m, "type", false);
    }
    cap.write_body(w);
    if cap.hotpluggable {
        let m = w.open("capability");
        w.attr("type", "hotpluggable");
        w.close(m, "capability", false);
    }
    w.close_as(mark, "capability", crate::xml::EmptyStyle::Expanded);
}
