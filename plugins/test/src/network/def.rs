//! A network definition, through `virt-xml`'s network model, read the way
//! `virNetworkDefParse` reads it (a UUID when none was given, STP defaults on the bridge).
//!
//! Definitions are stored as the canonical XML of the inactive definition.

use std::net::IpAddr;

use virt_core::{Result, Uuid};
use virt_xml::network::Network;
use virt_xml::xml::{Node, XmlElement};
use virt_xml::FormatFlags;

/// A network definition the test driver accepted.
#[derive(Clone, Debug)]
pub(crate) struct NetworkDef(Network);

impl NetworkDef {
    /// `virNetworkDefParse` (`VIR_NETWORK_DEFINE_VALIDATE`'s RNG check is not made: rvirt
    /// has no RNG validator).
    pub fn parse(xml: &str, _validate: bool) -> Result<NetworkDef> {
        NetworkDef::accept(Network::parse(xml)?)
    }

    /// A `<network>` element of a node document.
    pub fn from_node(node: &Node<'_>) -> Result<NetworkDef> {
        NetworkDef::accept(Network::from_node(node)?)
    }

    fn accept(mut network: Network) -> Result<NetworkDef> {
        network.post_parse()?;
        Ok(NetworkDef(network))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<NetworkDef> {
        let text = String::from_utf8_lossy(bytes);
        Ok(NetworkDef(Network::parse(&text)?))
    }

    /// The form definitions are stored in.
    pub fn to_stored(&self) -> Vec<u8> {
        self.0
            .format(&FormatFlags {
                inactive: true,
                ..FormatFlags::default()
            })
            .into_bytes()
    }

    /// `virNetworkDefFormat` without flags.
    pub fn format(&self) -> String {
        self.0.format(&FormatFlags::default())
    }

    /// The first IP definition's first address a guest could get (the start of its first
    /// DHCP range, else the host address), with its prefix (`virSocketAddrGetIPPrefix`).
    pub fn first_guest_address(&self) -> Option<(IpAddr, u32)> {
        let ip = self.0.ips.first()?;
        let host: IpAddr = ip.address.as_deref()?.parse().ok()?;
        let prefix = match (
            ip.prefix,
            ip.netmask.as_deref().and_then(|m| m.parse::<IpAddr>().ok()),
        ) {
            (Some(prefix), _) if prefix > 0 => prefix,
            (_, Some(IpAddr::V4(mask))) => u32::from(mask).leading_ones(),
            _ => match host {
                IpAddr::V4(v4) => match v4.octets()[0] {
                    0..=127 => 8,
                    128..=191 => 16,
                    192..=223 => 24,
                    _ => 0,
                },
                IpAddr::V6(_) => 64,
            },
        };
        let first = ip
            .dhcp
            .as_ref()
            .and_then(|dhcp| dhcp.ranges.first())
            .and_then(|range| range.start.as_deref())
            .and_then(|start| start.parse().ok())
            .unwrap_or(host);
        Some((first, prefix))
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    pub fn uuid(&self) -> Uuid {
        self.0.uuid.unwrap_or_default()
    }

    pub fn bridge(&self) -> Option<&str> {
        self.0
            .bridge
            .as_ref()
            .and_then(|bridge| bridge.name.as_deref())
    }

    /// `virNetworkDefUpdateSection` (virt-xml's, with libvirt's read-back check).
    pub fn update(
        &mut self,
        command: u32,
        section: u32,
        parent_index: i32,
        xml: &str,
    ) -> Result<()> {
        self.0
            .update_section(command, section, parent_index, xml, 0)
    }
}

#[cfg(test)]
mod tests {
    //! `virNetworkUpdate` on the test driver's definitions (virt-xml's `update_section`).
    use virt_core::consts::{network_update_command as command, network_update_section as section};
    use virt_core::{ErrorNumber, Result};
    use virt_xml::network::Network;

    fn update(
        network: &mut Network,
        command: u32,
        section: u32,
        parent: i32,
        xml: &str,
    ) -> Result<()> {
        network.update_section(command, section, parent, xml, 0)
    }

    fn default_network() -> Network {
        let mut network = Network::parse(
            "<network><name>default</name><bridge name='virbr0'/><forward/>\
             <ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>",
        )
        .expect("network");
        network.post_parse().expect("post parse");
        network
    }

    const ADD_LAST: u32 = command::ADD_LAST as u32;
    const DELETE: u32 = command::DELETE as u32;
    const MODIFY: u32 = command::MODIFY as u32;
    const DHCP_HOST: u32 = section::IP_DHCP_HOST as u32;

    #[test]
    fn dhcp_hosts() {
        let mut network = default_network();
        let host = "<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>";
        update(&mut network, ADD_LAST, DHCP_HOST, -1, host).expect("add");
        assert!(network
            .format(&Default::default())
            .contains("<host mac='52:54:00:00:00:01' name='a' ip='192.168.122.10'/>"));
        let error = update(&mut network, ADD_LAST, DHCP_HOST, -1, host).expect_err("duplicate");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        update(
            &mut network,
            MODIFY,
            DHCP_HOST,
            -1,
            "<host mac='52:54:00:00:00:01' name='b' ip='192.168.122.11'/>",
        )
        .expect("modify");
        update(&mut network, DELETE, DHCP_HOST, -1, "<host name='b'/>").expect("delete");
        assert!(!network.format(&Default::default()).contains("<host "));
        let before = network.clone();
        let error =
            update(&mut network, ADD_LAST, DHCP_HOST, -1, "<range/>").expect_err("wrong element");
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
        let error = update(&mut network, ADD_LAST, DHCP_HOST, 3, host).expect_err("no such ip");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        let error = update(
            &mut network,
            ADD_LAST,
            section::BRIDGE as u32,
            -1,
            "<bridge/>",
        )
        .expect_err("bridge");
        assert_eq!(
            error.message(),
            "Operation not supported: can't update 'bridge' section of network 'default'"
        );
        assert_eq!(network, before, "failed updates change nothing");
    }

    #[test]
    fn dns_and_portgroups() {
        let mut network = default_network();
        update(
            &mut network,
            ADD_LAST,
            section::DNS_HOST as u32,
            -1,
            "<host ip='10.0.0.1'><hostname>h</hostname></host>",
        )
        .expect("dns host");
        update(
            &mut network,
            ADD_LAST,
            section::DNS_TXT as u32,
            -1,
            "<txt name='t' value='v'/>",
        )
        .expect("txt");
        update(
            &mut network,
            ADD_LAST,
            section::PORTGROUP as u32,
            -1,
            "<portgroup name='pg' default='yes'/>",
        )
        .expect("portgroup");
        let error = update(
            &mut network,
            ADD_LAST,
            section::PORTGROUP as u32,
            -1,
            "<portgroup name='pg2' default='yes'/>",
        )
        .expect_err("second default");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
        update(
            &mut network,
            DELETE,
            section::DNS_HOST as u32,
            -1,
            "<host><hostname>h</hostname></host>",
        )
        .expect("delete");
        let xml = network.format(&Default::default());
        assert!(
            xml.contains("<txt name='t' value='v'/>")
                && xml.contains("<portgroup name='pg' default='yes'"),
            "{xml}"
        );
    }
}
