//! The container's network: veth pairs whose host end joins a bridge and whose other end is
//! created straight inside the container's network namespace, then, from inside, renamed,
//! addressed and brought up. Everything goes through rtnetlink (no `ip` processes: a start
//! must cost milliseconds).

use std::net::IpAddr;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::errno::Errno;
use nix::unistd::Pid;

use super::error::{Failure, Result};
use rvirt_lxc_controller::spec::Veth;

/// Whether `name` is a bridge on this host.
pub fn bridge_exists(name: &str) -> bool {
    valid_name(name)
        && Path::new("/sys/class/net")
            .join(name)
            .join("bridge")
            .is_dir()
}

/// Whether a link called `name` exists in this network namespace.
pub fn link_exists(name: &str) -> bool {
    valid_name(name) && Path::new("/sys/class/net").join(name).exists()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 15 && !name.contains('/') && name != "." && name != ".."
}

/// The name the container end carries until the container renames it.
pub fn peer_temp_name(host_name: &str) -> String {
    // Unique because host names are; "p" keeps it within 15 bytes.
    let mut name = format!("{host_name}p");
    if name.len() > 15 {
        name = format!("{}p", &host_name[..14]);
        name.replace_range(0..1, "q");
    }
    name
}

/// An rtnetlink socket in the caller's network namespace.
pub struct Rtnetlink {
    socket: Socket,
    sequence: u32,
}

impl Rtnetlink {
    pub fn open() -> Result<Rtnetlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)
            .map_err(|e| Failure::io("cannot open a netlink socket", &e))?;
        socket
            .bind_auto()
            .map_err(|e| Failure::io("cannot bind a netlink socket", &e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| Failure::io("cannot connect a netlink socket", &e))?;
        Ok(Rtnetlink {
            socket,
            sequence: 0,
        })
    }

    /// Sends one request and waits for the kernel's acknowledgement.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<(), Errno> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buffer = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        let mut reply = vec![0u8; 16 * 1024];
        loop {
            let n = self
                .socket
                .recv(&mut &mut reply[..], 0)
                .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
            let mut offset = 0;
            while offset < n {
                let bytes = &reply[offset..n];
                let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|_| Errno::EBADMSG)?;
                let length = parsed.header.length as usize;
                if parsed.header.sequence_number == self.sequence {
                    if let NetlinkPayload::Error(error) = parsed.payload {
                        return match error.raw_code() {
                            0 => Ok(()),
                            code => Err(Errno::from_raw(code.abs())),
                        };
                    }
                }
                if length == 0 {
                    break;
                }
                offset += (length + 3) & !3;
            }
        }
    }

    /// Creates the pair `host_name` ↔ `peer_name`, the peer directly inside the network
    /// namespace of process `peer_netns`.
    pub fn create_veth(
        &mut self,
        host_name: &str,
        peer_name: &str,
        peer_netns: Pid,
        mtu: Option<u32>,
    ) -> Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(peer_name.to_string()));
        peer.attributes
            .push(LinkAttribute::NetNsPid(peer_netns.as_raw() as u32));
        let mut link = LinkMessage::default();
        link.attributes
            .push(LinkAttribute::IfName(host_name.to_string()));
        if let Some(mtu) = mtu {
            link.attributes.push(LinkAttribute::Mtu(mtu));
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        link.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map_err(|errno| {
            Failure::system(
                format!("cannot create veth pair {host_name}/{peer_name}"),
                errno,
            )
        })
    }

    fn index_of(name: &str) -> Result<u32> {
        nix::net::if_::if_nametoindex(name)
            .map_err(|errno| Failure::system(format!("cannot find interface '{name}'"), errno))
    }

    /// Puts link `name` on `bridge` (if any) and brings it up.
    pub fn attach_and_up(&mut self, name: &str, bridge: Option<&str>) -> Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = Self::index_of(name)?;
        if let Some(bridge) = bridge {
            link.attributes
                .push(LinkAttribute::Controller(Self::index_of(bridge)?));
        }
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(link), 0)
            .map_err(|errno| match bridge {
                Some(bridge) => Failure::system(
                    format!("cannot add interface {name} to bridge {bridge}"),
                    errno,
                ),
                None => Failure::system(format!("cannot bring up interface {name}"), errno),
            })
    }

    /// Deletes link `name`; a link that is already gone is not an error.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let index = match nix::net::if_::if_nametoindex(name) {
            Ok(index) => index,
            Err(Errno::ENODEV) | Err(Errno::ENXIO) => return Ok(()),
            Err(errno) => {
                return Err(Failure::system(
                    format!("cannot find interface '{name}'"),
                    errno,
                ))
            }
        };
        let mut link = LinkMessage::default();
        link.header.index = index;
        match self.request(RouteNetlinkMessage::DelLink(link), 0) {
            Ok(()) | Err(Errno::ENODEV) => Ok(()),
            Err(errno) => Err(Failure::system(
                format!("cannot delete interface {name}"),
                errno,
            )),
        }
    }

    /// Inside the container: renames the peer, sets its address and MTU, brings it up and
    /// configures its addresses and routes.
    pub fn configure_guest(&mut self, veth: &Veth) -> Result<()> {
        let temp_name = peer_temp_name(&veth.host_name);
        let index = Self::index_of(&temp_name)?;
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes
            .push(LinkAttribute::IfName(veth.guest_name.clone()));
        if let Some(mac) = &veth.mac {
            link.attributes
                .push(LinkAttribute::Address(parse_mac(mac)?));
        }
        self.request(RouteNetlinkMessage::SetLink(link), 0)
            .map_err(|errno| {
                Failure::system(
                    format!("cannot rename interface {temp_name} to {}", veth.guest_name),
                    errno,
                )
            })?;
        let mut up = LinkMessage::default();
        up.header.index = index;
        up.header.flags = LinkFlags::Up;
        up.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(up), 0)
            .map_err(|errno| {
                Failure::system(
                    format!("cannot bring up interface {}", veth.guest_name),
                    errno,
                )
            })?;
        for address in &veth.addresses {
            let (ip, prefix) = parse_cidr(address)?;
            let mut message = AddressMessage::default();
            message.header.family = family_of(ip);
            message.header.prefix_len = prefix;
            message.header.index = index;
            message.attributes.push(AddressAttribute::Local(ip));
            message.attributes.push(AddressAttribute::Address(ip));
            self.request(
                RouteNetlinkMessage::NewAddress(message),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|errno| {
                Failure::system(
                    format!("cannot add address {address} to {}", veth.guest_name),
                    errno,
                )
            })?;
        }
        for route in &veth.routes {
            let (destination, prefix) = parse_cidr(&route.destination)?;
            let gateway: IpAddr = route.gateway.parse().map_err(|_| {
                Failure::unsupported(format!("invalid route gateway '{}'", route.gateway))
            })?;
            let mut message = RouteMessage::default();
            message.header.address_family = family_of(destination);
            message.header.destination_prefix_length = prefix;
            message.header.table = RouteHeader::RT_TABLE_MAIN;
            message.header.protocol = RouteProtocol::Static;
            message.header.scope = RouteScope::Universe;
            message.header.kind = RouteType::Unicast;
            if prefix > 0 {
                message
                    .attributes
                    .push(RouteAttribute::Destination(destination.into()));
            }
            message
                .attributes
                .push(RouteAttribute::Gateway(gateway.into()));
            message.attributes.push(RouteAttribute::Oif(index));
            self.request(
                RouteNetlinkMessage::NewRoute(message),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|errno| {
                Failure::system(
                    format!(
                        "cannot add route to {} via {}",
                        route.destination, route.gateway
                    ),
                    errno,
                )
            })?;
        }
        Ok(())
    }

    /// Inside the container: brings up `lo`.
    pub fn loopback_up(&mut self) -> Result<()> {
        self.attach_and_up("lo", None)
    }
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// `aa:bb:cc:dd:ee:ff` to bytes.
pub fn parse_mac(text: &str) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = text
        .split(':')
        .filter_map(|part| u8::from_str_radix(part, 16).ok())
        .collect();
    if bytes.len() != 6 || text.split(':').count() != 6 {
        return Err(Failure::unsupported(format!(
            "invalid MAC address '{text}'"
        )));
    }
    Ok(bytes)
}

/// `address/prefix` (a bare address means a host route's full prefix).
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8)> {
    let invalid =
        || Failure::unsupported(format!("invalid address '{text}': expected address/prefix"));
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let ip: IpAddr = address.parse().map_err(|_| invalid())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(prefix) => prefix.parse::<u8>().map_err(|_| invalid())?,
        None => max,
    };
    if prefix > max {
        return Err(invalid());
    }
    Ok((ip, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_names_fit_in_ifnamsiz() {
        assert_eq!(peer_temp_name("vr0a1b2c3d4e0"), "vr0a1b2c3d4e0p");
        let long = peer_temp_name("abcdefghijklmno");
        assert_eq!(long.len(), 15);
        assert_ne!(long, "abcdefghijklmno");
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            parse_cidr("192.168.122.5/24").expect("v4"),
            ("192.168.122.5".parse().expect("ip"), 24)
        );
        assert_eq!(parse_cidr("fd00::1").expect("v6").1, 128);
        assert!(parse_cidr("10.0.0.1/33").is_err());
        assert_eq!(
            parse_mac("52:54:00:ab:cd:ef").expect("mac"),
            vec![0x52, 0x54, 0, 0xab, 0xcd, 0xef]
        );
        assert!(parse_mac("52:54:00:ab:cd").is_err());
    }
}
