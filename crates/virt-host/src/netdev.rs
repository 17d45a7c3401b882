//! Network devices the host creates for drivers: taps enslaved to bridges, and the bridges
//! of virtual networks.
//!
//! Taps: plain ioctls on `/dev/net/tun` and an `AF_INET` socket, as libvirt does; a netlink
//! crate would be a large dependency for four calls. Bridges with IPv4 and IPv6 addresses,
//! STP and MTU are many netlink messages; they go through iproute2's `ip` (netlink inside),
//! as link deletion already does, with every argument passed as one argv word.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::error::system;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const SIOCBRADDIF: libc::c_ulong = 0x89a2;

/// True when `name` is a bridge on this host.
pub fn bridge_exists(name: &str) -> bool {
    !name.contains('/')
        && std::path::Path::new("/sys/class/net")
            .join(name)
            .join("bridge")
            .is_dir()
}

fn ifreq_for(name: &str) -> Result<libc::ifreq, Error> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::NONE,
            format!("invalid interface name '{name}'"),
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(request)
}

fn control_socket() -> Result<OwnedFd, Error> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(system(
            "cannot open control socket",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a descriptor socket(2) just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates a tap (`name` may contain `%d`), sets its MTU, brings it up and enslaves it to
/// `bridge`. Returns the open tap descriptor and the kernel's name for it.
pub fn create_tap(
    name: &str,
    bridge: Option<&str>,
    mtu: Option<u32>,
) -> Result<(OwnedFd, String), Error> {
    if let Some(bridge) = bridge {
        if !bridge_exists(bridge) {
            return Err(Error::new(
                ErrorNumber::OPERATION_FAILED,
                ErrorDomain::NONE,
                format!("bridge '{bridge}' does not exist"),
            ));
        }
    }
    // SAFETY: open(2) of a constant path; the result is checked.
    let tun = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if tun < 0 {
        return Err(system(
            "cannot open /dev/net/tun",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a descriptor open(2) just returned, owned by nobody else.
    let tun = unsafe { OwnedFd::from_raw_fd(tun) };
    let mut request = ifreq_for(name)?;
    request.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    // SAFETY: TUNSETIFF reads and writes the ifreq we own.
    if unsafe { libc::ioctl(tun.as_raw_fd(), TUNSETIFF, &mut request) } < 0 {
        return Err(system(
            format!("cannot create tap '{name}'"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel wrote a NUL-terminated name into ifr_name.
    let created = unsafe { CStr::from_ptr(request.ifr_name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let control = control_socket()?;
    let mut request = ifreq_for(&created)?;
    if let Some(mtu) = mtu {
        request.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        // SAFETY: SIOCSIFMTU reads the ifreq we own.
        if unsafe { libc::ioctl(control.as_raw_fd(), libc::SIOCSIFMTU, &mut request) } < 0 {
            return Err(system(
                format!("cannot set MTU of '{created}'"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we own.
    unsafe {
        if libc::ioctl(control.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(system(
                format!("cannot read flags of '{created}'"),
                std::io::Error::last_os_error(),
            ));
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(control.as_raw_fd(), libc::SIOCSIFFLAGS, &mut request) < 0 {
            return Err(system(
                format!("cannot bring up '{created}'"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    if let Some(bridge) = bridge {
        let mut request = ifreq_for(bridge)?;
        let index = nix::net::if_::if_nametoindex(created.as_str())
            .map_err(|e| system(format!("cannot find index of '{created}'"), e))?;
        request.ifr_ifru.ifru_ifindex = index as libc::c_int;
        // SAFETY: SIOCBRADDIF reads the ifreq we own.
        if unsafe { libc::ioctl(control.as_raw_fd(), SIOCBRADDIF, &mut request) } < 0 {
            return Err(system(
                format!("cannot add '{created}' to bridge '{bridge}'"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok((tun, created))
}

/// Deletes a network link by name.
pub fn delete_link(name: &str) -> std::io::Result<()> {
    let status = std::process::Command::new("ip")
        .args(["link", "delete", name])
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "ip link delete {name} failed ({status})"
        )))
    }
}

/// A bridge to create: what `bridges.create` asks for.
#[derive(Clone, Debug, Default)]
pub struct BridgeSpec {
    pub name: String,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub stp: bool,
    pub delay_seconds: u32,
    /// (address, prefix, broadcast)
    pub addresses: Vec<(std::net::IpAddr, u8, Option<std::net::Ipv4Addr>)>,
}

/// Whether a link called `name` exists.
pub fn link_exists(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && name != "."
        && name != ".."
        && std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Runs `ip` with `args`; its stderr is the error.
fn ip(args: &[&str]) -> std::io::Result<()> {
    let output = std::process::Command::new("ip")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(std::io::Error::other(format!(
            "ip {} failed: {}",
            args.join(" "),
            stderr.trim()
        )))
    }
}

/// The interface alias that marks a bridge as made by the host for `plugin`: `delete_bridge`
/// removes no other bridge (an administrator's `br0`, another libvirt's `virbr0`).
fn owner_alias(plugin: &str) -> String {
    format!("rvirt:{plugin}")
}

/// Creates, configures and brings up a bridge for `plugin`; deletes it again if any step
/// fails.
pub fn create_bridge(spec: &BridgeSpec, plugin: &str) -> Result<(), Error> {
    let name = spec.name.as_str();
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '%']) {
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::NONE,
            format!("invalid bridge name '{name}'"),
        ));
    }
    if link_exists(name) {
        return Err(Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::NONE,
            format!("bridge name '{name}' is already in use"),
        ));
    }
    // Forward delay is in centiseconds for ip; STP off makes the port forward at once.
    let delay = (u64::from(spec.delay_seconds) * 100).to_string();
    let stp = if spec.stp { "1" } else { "0" };
    ip(&[
        "link",
        "add",
        "name",
        name,
        "type",
        "bridge",
        "stp_state",
        stp,
        "forward_delay",
        &delay,
    ])
    .map_err(|e| system(format!("cannot create bridge '{name}'"), e))?;
    let configured = ip(&["link", "set", "dev", name, "alias", &owner_alias(plugin)])
        .map_err(|e| system(format!("cannot mark bridge '{name}' as rvirt's"), e))
        .and_then(|()| configure_bridge(spec));
    if configured.is_err() {
        let _ = ip(&["link", "delete", name]);
    }
    configured
}

fn configure_bridge(spec: &BridgeSpec) -> Result<(), Error> {
    let name = spec.name.as_str();
    let fail = |what: String| move |e: std::io::Error| system(what, e);
    if let Some(mac) = &spec.mac {
        ip(&["link", "set", "dev", name, "address", mac]).map_err(fail(format!(
            "cannot set the MAC address of bridge '{name}'"
        )))?;
    }
    if let Some(mtu) = spec.mtu {
        ip(&["link", "set", "dev", name, "mtu", &mtu.to_string()])
            .map_err(fail(format!("cannot set the MTU of bridge '{name}'")))?;
    }
    for (address, prefix, broadcast) in &spec.addresses {
        let cidr = format!("{address}/{prefix}");
        let mut args = vec!["addr", "add", &cidr];
        let broadcast = broadcast.map(|b| b.to_string());
        if let Some(broadcast) = &broadcast {
            args.extend(["broadcast", broadcast.as_str()]);
        }
        // An IPv6 address on a bridge without ports would wait for duplicate address
        // detection; libvirt's addresses are its own, so none is done.
        if address.is_ipv6() {
            args.push("nodad");
        }
        args.extend(["dev", name]);
        ip(&args).map_err(fail(format!(
            "cannot add address {cidr} to bridge '{name}'"
        )))?;
    }
    ip(&["link", "set", "dev", name, "up"])
        .map_err(fail(format!("cannot bring bridge '{name}' up")))
}

/// Deletes bridge `name`, which the host made for `plugin` (refusing any other link).
pub fn delete_bridge(name: &str, plugin: &str) -> Result<(), Error> {
    if !link_exists(name) {
        return Err(Error::new(
            ErrorNumber::NO_NETWORK,
            ErrorDomain::NONE,
            format!("no bridge named '{name}'"),
        ));
    }
    if !std::path::Path::new("/sys/class/net")
        .join(name)
        .join("bridge")
        .exists()
    {
        return Err(Error::new(
            ErrorNumber::OPERATION_INVALID,
            ErrorDomain::NONE,
            format!("link '{name}' is not a bridge"),
        ));
    }
    let alias = std::fs::read_to_string(
        std::path::Path::new("/sys/class/net")
            .join(name)
            .join("ifalias"),
    )
    .unwrap_or_default();
    if alias.trim() != owner_alias(plugin) {
        return Err(Error::new(
            ErrorNumber::OPERATION_DENIED,
            ErrorDomain::NONE,
            format!("bridge '{name}' was not made by rvirt for plugin '{plugin}'"),
        ));
    }
    let _ = ip(&["link", "set", "dev", name, "down"]);
    ip(&["link", "delete", name]).map_err(|e| system(format!("cannot delete bridge '{name}'"), e))
}
