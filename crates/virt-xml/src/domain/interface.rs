//! `<interface>`: a guest NIC and how it reaches the host (also the network-side pieces
//! shared with network XML: `<vlan>`, `<virtualport>`, `<bandwidth>`, `<ip>`, `<route>`).

use crate::domain::address::{Address, DeviceInfo};
use crate::domain::disk::{NameAttr, Reconnect, VirtioOptions};
use crate::domain::enums::*;
use crate::xml::{OnOff, YesNo};
use crate::XmlElement;

/// `<tag id='N' nativeMode='...'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VlanTag {
    #[xml(attr)]
    pub id: Option<u32>,
    #[xml(attr = "nativeMode")]
    pub native_mode: Option<String>,
}

/// `<vlan trunk='yes'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Vlan {
    #[xml(attr)]
    pub trunk: Option<YesNo>,
    #[xml(child = "tag")]
    pub tags: Vec<VlanTag>,
}

/// `<parameters>` of a `<virtualport>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VirtualPortParameters {
    #[xml(attr)]
    pub managerid: Option<u32>,
    #[xml(attr)]
    pub typeid: Option<u32>,
    #[xml(attr)]
    pub typeidversion: Option<u32>,
    #[xml(attr)]
    pub instanceid: Option<String>,
    #[xml(attr)]
    pub interfaceid: Option<String>,
    #[xml(attr)]
    pub profileid: Option<String>,
}

/// `<virtualport type='openvswitch|802.1Qbg|802.1Qbh|midonet'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct VirtualPort {
    #[xml(attr = "type")]
    pub port_type: Option<String>,
    #[xml(child)]
    pub parameters: Option<VirtualPortParameters>,
}

/// `<inbound>`/`<outbound>` rates in KiB/s.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct BandwidthRate {
    #[xml(attr)]
    pub average: Option<u64>,
    #[xml(attr)]
    pub peak: Option<u64>,
    #[xml(attr)]
    pub floor: Option<u64>,
    #[xml(attr)]
    pub burst: Option<u64>,
}

/// `<bandwidth>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct Bandwidth {
    #[xml(attr = "classID")]
    pub class_id: Option<u32>,
    #[xml(child)]
    pub inbound: Option<BandwidthRate>,
    #[xml(child)]
    pub outbound: Option<BandwidthRate>,
}

/// `<ip address='...' family='...' prefix='N' peer='...'/>` on an interface or its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceIp {
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub family: Option<String>,
    #[xml(attr)]
    pub prefix: Option<u32>,
    #[xml(attr)]
    pub peer: Option<String>,
}

/// `<route family address netmask prefix gateway metric/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Route {
    #[xml(attr)]
    pub family: Option<String>,
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub netmask: Option<String>,
    #[xml(attr)]
    pub prefix: Option<u32>,
    #[xml(attr)]
    pub gateway: Option<String>,
    #[xml(attr)]
    pub metric: Option<u32>,
}

/// `<local address='...' port='N'/>` of a UDP interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct LocalEndpoint {
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub port: Option<u32>,
}

/// `<source>` of an interface: one struct for every interface type, attributes in libvirt's
/// order (each type uses its own subset).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceSource {
    #[xml(attr = "type")]
    pub source_type: Option<String>,
    #[xml(attr)]
    pub network: Option<String>,
    #[xml(attr)]
    pub portgroup: Option<String>,
    #[xml(attr)]
    pub switchid: Option<String>,
    #[xml(attr)]
    pub portid: Option<String>,
    #[xml(attr)]
    pub portgroupid: Option<String>,
    #[xml(attr)]
    pub connectionid: Option<String>,
    #[xml(attr)]
    pub bridge: Option<String>,
    #[xml(attr = "macTableManager")]
    pub mac_table_manager: Option<String>,
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub port: Option<i32>,
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr = "writeFiltering")]
    pub write_filtering: Option<YesNo>,
    #[xml(child)]
    pub local: Option<LocalEndpoint>,
    #[xml(child)]
    pub reconnect: Option<Reconnect>,
    /// Host-side addresses (`<ip>` inside `<source>`).
    #[xml(child = "ip")]
    pub ips: Vec<InterfaceIp>,
    #[xml(child = "route")]
    pub routes: Vec<Route>,
    /// The PCI device behind a `type='hostdev'` interface.
    #[xml(child = "address")]
    pub hostdev_address: Option<Address>,
}

/// `<mac address='52:54:00:..' type='...' check='...'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Mac {
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr = "type")]
    pub mac_type: Option<String>,
    #[xml(attr)]
    pub check: Option<YesNo>,
}

/// `<target dev='vnet0' managed='no'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct InterfaceTarget {
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
}

/// `<guest dev='...' actual='...'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceGuest {
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(attr)]
    pub actual: Option<String>,
}

/// An element with a single `type` attribute (`<model type=..>`, `<protocol type=..>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct TypeAttr {
    #[xml(attr = "type")]
    pub value: Option<String>,
}

/// Offload switches of a virtio NIC, host or guest side.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct NetOffloads {
    #[xml(attr)]
    pub csum: Option<OnOff>,
    #[xml(attr)]
    pub gso: Option<OnOff>,
    #[xml(attr)]
    pub tso4: Option<OnOff>,
    #[xml(attr)]
    pub tso6: Option<OnOff>,
    #[xml(attr)]
    pub ecn: Option<OnOff>,
    #[xml(attr)]
    pub ufo: Option<OnOff>,
    #[xml(attr)]
    pub mrg_rxbuf: Option<OnOff>,
}

/// `<driver>` of a NIC.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct InterfaceDriver {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub txmode: Option<String>,
    #[xml(attr)]
    pub ioeventfd: Option<OnOff>,
    #[xml(attr)]
    pub event_idx: Option<OnOff>,
    #[xml(attr)]
    pub queues: Option<u32>,
    #[xml(attr)]
    pub rx_queue_size: Option<u32>,
    #[xml(attr)]
    pub tx_queue_size: Option<u32>,
    #[xml(attr)]
    pub rss: Option<OnOff>,
    #[xml(attr)]
    pub rss_hash_report: Option<OnOff>,
    #[xml(flatten)]
    pub virtio: VirtioOptions,
    #[xml(child)]
    pub host: Option<NetOffloads>,
    #[xml(child)]
    pub guest: Option<NetOffloads>,
}

/// `<backend type='passt' tap='...' vhost='...' logFile='...'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct InterfaceBackend {
    #[xml(attr = "type")]
    pub backend_type: Option<InterfaceBackendType>,
    #[xml(attr)]
    pub tap: Option<String>,
    #[xml(attr)]
    pub vhost: Option<String>,
    #[xml(attr = "logFile")]
    pub log_file: Option<String>,
}

/// `<parameter name='...' value='...'/>` of a filter reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct FilterParameter {
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub value: Option<String>,
}

/// `<filterref filter='...'>` (also used inside nwfilter documents). libvirt keeps the
/// parameters in a hash table and writes them sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(validate = "FilterRef::sort_parameters")]
pub struct FilterRef {
    #[xml(attr)]
    pub filter: Option<String>,
    #[xml(child = "parameter")]
    pub parameters: Vec<FilterParameter>,
}

impl FilterRef {
    fn sort_parameters(filter: &mut FilterRef, _node: &crate::xml::Node<'_>) -> crate::Result<()> {
        filter.parameters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }
}

/// `<tune><sndbuf>N</sndbuf></tune>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct InterfaceTune {
    #[xml(text_child)]
    pub sndbuf: Option<u64>,
}

/// `<teaming type='persistent|transient' persistent='alias'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Teaming {
    #[xml(attr = "type")]
    pub teaming_type: Option<String>,
    #[xml(attr)]
    pub persistent: Option<String>,
}

/// `<link state='up|down'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Link {
    #[xml(attr)]
    pub state: Option<LinkState>,
}

/// `<mtu size='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Mtu {
    #[xml(attr)]
    pub size: Option<u32>,
}

/// `<frames max='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CoalesceFrames {
    #[xml(attr)]
    pub max: Option<u32>,
}

/// `<rx>` of `<coalesce>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct CoalesceRx {
    #[xml(child)]
    pub frames: Option<CoalesceFrames>,
}

/// `<coalesce>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Coalesce {
    #[xml(child)]
    pub rx: Option<CoalesceRx>,
}

/// `<port isolated='yes'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PortOptions {
    #[xml(attr)]
    pub isolated: Option<YesNo>,
}

/// `<range start end to exclude/>` of a port forward.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct PortForwardRange {
    #[xml(attr)]
    pub start: Option<u32>,
    #[xml(attr)]
    pub end: Option<u32>,
    #[xml(attr)]
    pub to: Option<u32>,
    #[xml(attr)]
    pub exclude: Option<YesNo>,
}

/// `<portForward proto='tcp' address='...' dev='...'>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PortForward {
    #[xml(attr)]
    pub proto: Option<String>,
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub dev: Option<String>,
    #[xml(child = "range")]
    pub ranges: Vec<PortForwardRange>,
}

/// `<path path='...'/>`-style element (`<script>`, `<downscript>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct PathAttr {
    #[xml(attr)]
    pub path: Option<String>,
}

/// `<actual>`: what a `type='network'` interface resolved to (status XML only).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct ActualInterface {
    #[xml(attr = "type")]
    pub interface_type: Option<InterfaceType>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(attr = "trustGuestRxFilters")]
    pub trust_guest_rx_filters: Option<YesNo>,
    #[xml(child)]
    pub source: Option<InterfaceSource>,
    #[xml(child)]
    pub vlan: Option<Vlan>,
    #[xml(child)]
    pub virtualport: Option<VirtualPort>,
    #[xml(child)]
    pub bandwidth: Option<Bandwidth>,
    #[xml(child)]
    pub port: Option<PortOptions>,
}

/// `<interface>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded, validate = "Interface::split_hostdev_driver")]
pub struct Interface {
    #[xml(attr = "type")]
    pub interface_type: Option<InterfaceType>,
    #[xml(attr)]
    pub managed: Option<YesNo>,
    #[xml(attr = "trustGuestRxFilters")]
    pub trust_guest_rx_filters: Option<YesNo>,
    #[xml(child)]
    pub mac: Option<Mac>,
    /// `<driver name='vfio'/>` of a `type='hostdev'` interface (the PCI backend; written
    /// before `<source>`, unlike a virtio NIC's `<driver>`).
    #[xml(child = "driver")]
    pub hostdev_driver: Option<crate::domain::devices::HostdevDriver>,
    #[xml(child)]
    pub source: Option<InterfaceSource>,
    #[xml(child)]
    pub vlan: Option<Vlan>,
    #[xml(child)]
    pub virtualport: Option<VirtualPort>,
    #[xml(child)]
    pub bandwidth: Option<Bandwidth>,
    #[xml(child)]
    pub port: Option<PortOptions>,
    #[xml(child)]
    pub actual: Option<ActualInterface>,
    /// Guest-side addresses.
    #[xml(child = "ip")]
    pub ips: Vec<InterfaceIp>,
    #[xml(child = "route")]
    pub routes: Vec<Route>,
    #[xml(child = "portForward")]
    pub port_forwards: Vec<PortForward>,
    #[xml(child)]
    pub script: Option<PathAttr>,
    #[xml(child)]
    pub downscript: Option<PathAttr>,
    #[xml(child = "backenddomain")]
    pub backend_domain: Option<NameAttr>,
    #[xml(child)]
    pub target: Option<InterfaceTarget>,
    #[xml(child)]
    pub guest: Option<InterfaceGuest>,
    #[xml(child)]
    pub model: Option<TypeAttr>,
    #[xml(child)]
    pub driver: Option<InterfaceDriver>,
    #[xml(child)]
    pub backend: Option<InterfaceBackend>,
    #[xml(child)]
    pub filterref: Option<FilterRef>,
    #[xml(child)]
    pub tune: Option<InterfaceTune>,
    #[xml(child)]
    pub teaming: Option<Teaming>,
    #[xml(child)]
    pub link: Option<Link>,
    #[xml(child)]
    pub mtu: Option<Mtu>,
    #[xml(child)]
    pub coalesce: Option<Coalesce>,
    #[xml(flatten)]
    pub info: DeviceInfo,
}

impl Interface {
    fn split_hostdev_driver(
        iface: &mut Interface,
        _node: &crate::xml::Node<'_>,
    ) -> crate::Result<()> {
        // Both fields read the same `<driver>`; keep the one this interface type means.
        if iface.interface_type == Some(InterfaceType::Hostdev) {
            iface.driver = None;
        } else {
            iface.hostdev_driver = None;
        }
        if let Some(mac) = iface.mac.as_mut().and_then(|mac| mac.address.as_mut()) {
            crate::domain::normalize_mac(mac);
        }
        // libvirt reads only the source attributes that belong to the interface type (the
        // bridge of a running domain's network too; define drops it as live state).
        if iface.interface_type == Some(InterfaceType::Network) {
            if let Some(source) = &mut iface.source {
                let kept = InterfaceSource {
                    network: source.network.take(),
                    portgroup: source.portgroup.take(),
                    portid: source.portid.take(),
                    bridge: source.bridge.take(),
                    ips: std::mem::take(&mut source.ips),
                    routes: std::mem::take(&mut source.routes),
                    ..InterfaceSource::default()
                };
                *source = kept;
            }
        }
        Ok(())
    }

    /// The MAC address as written, if any.
    pub fn mac_address(&self) -> Option<&str> {
        self.mac.as_ref().and_then(|mac| mac.address.as_deref())
    }

    /// The NIC model (`<model type>`), e.g. `virtio`.
    pub fn model_type(&self) -> Option<&str> {
        self.model.as_ref().and_then(|model| model.value.as_deref())
    }
}
