//! dnsmasq's configuration for a virtual network, written as libvirt 9.0's network driver
//! writes it (`networkDnsmasqConfContents` and `virdnsmasq.c`): the `NAME.conf` file dnsmasq
//! is started with, the DHCP hosts file and the DNS hosts file it rereads on SIGHUP, and the
//! decision whether a network needs a dnsmasq at all.
//!
//! It owns the option names, their order and their formats, down to the byte, so that a
//! network defined for libvirt gets the dnsmasq libvirt would give it. It must not know the
//! file system, the plugin host or how dnsmasq is run: it turns a definition (as virt-xml
//! reads it, with the bridge name the driver assigned) and the paths the caller chose into
//! text. Bad input is refused with libvirt's error numbers and messages.

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::network::{address, Dns, DnsSrv, Network};
use virt_xml::xml::{escape_into, YesNo};

mod caps;
mod hosts;
mod ip;

pub use caps::{DnsmasqCaps, DnsmasqVersion};

use ip::IpDef;

type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the files of a network's dnsmasq live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsmasqPaths {
    /// The folder of the `.conf`, `.hostsfile` and `.addnhosts` files (libvirt's
    /// `/var/lib/libvirt/dnsmasq`; the plugin passes its own state folder).
    pub state_dir: String,
    /// The pid file dnsmasq is told to write (`pid-file=`); libvirt's test harness has none.
    pub pid_file: Option<String>,
}

impl DnsmasqPaths {
    /// The paths of libvirt's `networkxml2conftest`: `/var/lib/libvirt/dnsmasq`, no pid file.
    pub fn libvirt_test_harness() -> DnsmasqPaths {
        DnsmasqPaths {
            state_dir: "/var/lib/libvirt/dnsmasq".to_string(),
            pid_file: None,
        }
    }
}

/// The files of a network's dnsmasq: their text and where the configuration says they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsmasqConfig {
    /// The configuration, given to dnsmasq with `--conf-file`.
    pub conf: String,
    /// `STATE_DIR/NAME.conf` (the name as it is).
    pub conf_path: String,
    /// The static DHCP hosts, one a line; empty when there are none (libvirt still writes the
    /// empty file, for hosts added at run time).
    pub hostsfile: String,
    /// `STATE_DIR/NAME.hostsfile`, the name XML-escaped as libvirt escapes it.
    pub hostsfile_path: String,
    /// The DNS hosts (`<dns><host>`), in `/etc/hosts` form; empty when there are none.
    pub addnhosts: String,
    /// `STATE_DIR/NAME.addnhosts`, the name XML-escaped as libvirt escapes it.
    pub addnhosts_path: String,
}

/// Whether a network of a kind libvirt runs dnsmasq for (isolated, NAT, routed or open: the
/// caller checks the forward mode) needs one (`networkStartDhcpDaemon`): it has an address,
/// and either one of them serves DHCP or TFTP, or DNS is not turned off.
pub fn needs_dnsmasq(network: &Network) -> bool {
    if network.ips.is_empty() {
        return false;
    }
    let serves_dhcp_or_tftp = network.ips.iter().any(|ip| {
        ip.dhcp
            .as_ref()
            .is_some_and(|dhcp| !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty())
            || ip.tftp.as_ref().is_some_and(|tftp| tftp.root.is_some())
    });
    let dns_enable = network.dns.as_ref().and_then(|dns| dns.enable);
    serves_dhcp_or_tftp || dns_enable != Some(YesNo::No)
}

/// The dnsmasq files of `network`. Its bridge must be named (the driver names it when the
/// network is defined). `caps` is the dnsmasq that will read them; libvirt 9.0 writes the
/// same text for every version it runs.
pub fn config(
    network: &Network,
    paths: &DnsmasqPaths,
    caps: &DnsmasqCaps,
) -> Result<DnsmasqConfig> {
    // libvirt 9.0 writes the same configuration for every dnsmasq it accepts.
    let _ = caps;
    let name = network.name();
    let Some(bridge) = network.bridge.as_ref().and_then(|b| b.name.as_deref()) else {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::NETWORK,
            format!("network '{name}' has no bridge name defined"),
        ));
    };
    let ips = network
        .ips
        .iter()
        .map(|ip| IpDef::of(name, ip))
        .collect::<Result<Vec<_>>>()?;
    let no_dns = Dns::default();
    let dns = network.dns.as_ref().unwrap_or(&no_dns);
    let want_dns = dns.enable != Some(YesNo::No);

    let mut escaped_name = String::new();
    escape_into(&mut escaped_name, name);
    let state_dir = &paths.state_dir;
    let hostsfile_path = format!("{state_dir}/{escaped_name}.hostsfile");
    let addnhosts_path = format!("{state_dir}/{escaped_name}.addnhosts");

    let mut conf = String::with_capacity(1024);
    header(&mut conf, name);
    if !want_dns {
        // Port 0: dnsmasq answers no DNS at all.
        conf.push_str("port=0\n");
    } else {
        forwarders(&mut conf, dns)?;
    }
    let domain = network
        .domain
        .as_ref()
        .and_then(|domain| Some((domain.name.as_deref()?, domain.local_only)));
    if let Some((domain_name, local_only)) = domain {
        // `local=`: names in the domain are answered here or not at all.
        if local_only == Some(YesNo::Yes) {
            let _ = writeln!(conf, "local=/{domain_name}/");
        }
        let _ = writeln!(conf, "domain={domain_name}\nexpand-hosts");
    }
    if want_dns {
        local_ptr_zones(&mut conf, &ips)?;
        if dns.forward_plain_names == Some(YesNo::No) {
            // Names without a dot are answered here or not at all.
            conf.push_str("domain-needed\nlocal=//\n");
        }
    }
    if let Some(pid_file) = &paths.pid_file {
        let _ = writeln!(conf, "pid-file={pid_file}");
    }
    // dnsmasq always listens on the loopback unless told not to; with --bind-dynamic and only
    // --interface it answers nobody but the bridge's guests (CVE-2012-3411).
    let _ = writeln!(
        conf,
        "except-interface=lo\nbind-dynamic\ninterface={bridge}"
    );
    if network.forward.is_none() {
        // Isolated: no default route for the guests (empty option 3, and a zero router
        // lifetime in IPv6 router advertisements) and no forwarding to the host's resolvers.
        conf.push_str("dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
    }
    if want_dns {
        for txt in &dns.txts {
            let _ = writeln!(
                conf,
                "txt-record={},{}",
                txt.name.as_deref().unwrap_or(""),
                txt.value.as_deref().unwrap_or("")
            );
        }
        for srv in &dns.srvs {
            srv_host(&mut conf, name, srv)?;
        }
    }

    let (ipv4_dhcp, ipv6_dhcp) = dhcp_ips_and_tftp(&mut conf, &ips)?;
    let mut n_leases: u64 = 0;
    let mut hostsfile = String::new();
    for dhcp_ip in [ipv4_dhcp, ipv6_dhcp].into_iter().flatten() {
        n_leases += dhcp(&mut conf, &mut hostsfile, name, bridge, &dhcp_ip)?;
    }
    if n_leases > 0 {
        let _ = writeln!(conf, "dhcp-lease-max={n_leases}");
    }
    let addnhosts = hosts::addn_hosts(&dns.hosts)?;
    // Written even with no static host yet, so that hosts can be added at run time.
    if ipv4_dhcp.is_some() || ipv6_dhcp.is_some() {
        let _ = writeln!(conf, "dhcp-hostsfile={hostsfile_path}");
    }
    if want_dns {
        let _ = writeln!(conf, "addn-hosts={addnhosts_path}");
    }
    // Tell the guests the bridge's MTU.
    if let Some(mtu) = network
        .mtu
        .as_ref()
        .and_then(|mtu| mtu.size)
        .filter(|size| *size > 0)
    {
        let _ = writeln!(conf, "dhcp-option=option:mtu,{mtu}");
    }
    if ipv6_dhcp.is_some() {
        conf.push_str("enable-ra\n");
    } else {
        // Without DHCPv6, guests configure themselves from router advertisements (SLAAC).
        for ipv6 in ips.iter().filter(|ip| ip.is_ipv6() && !ip.has_dhcp()) {
            let _ = writeln!(
                conf,
                "dhcp-range={},ra-only",
                address::format(&ipv6.address)
            );
        }
    }
    for option in network.dnsmasq_options.iter().flatten() {
        conf.push_str(option);
        conf.push('\n');
    }

    Ok(DnsmasqConfig {
        conf,
        conf_path: format!("{state_dir}/{name}.conf"),
        hostsfile,
        hostsfile_path,
        addnhosts,
        addnhosts_path,
    })
}

fn header(conf: &mut String, name: &str) {
    let _ = write!(
        conf,
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
         ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n\
         ##    virsh net-edit {name}\n\
         ## or other application using the libvirt API.\n\
         ##\n\
         ## dnsmasq conf file created by libvirt\n\
         strict-order\n"
    );
}

/// `server=` lines: `/DOMAIN/ADDR` sends a domain's queries to ADDR, `/DOMAIN/#` to the
/// host's usual resolvers, and a bare `ADDR` takes the place of the host's resolvers for
/// everything else (hence `no-resolv`).
fn forwarders(conf: &mut String, dns: &Dns) -> Result<()> {
    let mut replaces_resolvers = false;
    for forwarder in &dns.forwarders {
        conf.push_str("server=");
        if let Some(domain) = forwarder.domain.as_deref() {
            let _ = write!(conf, "/{domain}/");
        }
        match forwarder.addr.as_deref() {
            Some(addr) => {
                let _ = writeln!(conf, "{}", address::format(&address::parse_model(addr)?));
                replaces_resolvers |= forwarder.domain.is_none();
            }
            None => conf.push_str("#\n"),
        }
    }
    if replaces_resolvers {
        conf.push_str("no-resolv\n");
    }
    Ok(())
}

/// `local=/ZONE/` for every address with `localPtr='yes'`: reverse lookups of the network
/// are answered here and never forwarded.
fn local_ptr_zones(conf: &mut String, ips: &[IpDef<'_>]) -> Result<()> {
    for ip in ips.iter().filter(|ip| ip.def.local_ptr == Some(YesNo::Yes)) {
        // libvirt hands the prefix over unsigned: an unknown prefix (-1) reads as 4294967295.
        let prefix = ip.prefix as u32;
        let Some(zone) = ip::ptr_domain(&ip.address, prefix) else {
            let family = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::NETWORK,
                format!(
                    "PTR domain for {family} network with prefix {prefix} cannot be automatically created"
                ),
            ));
        };
        let _ = writeln!(conf, "local=/{zone}/");
    }
    Ok(())
}

/// `srv-host=_SERVICE._PROTOCOL[.DOMAIN][,TARGET[,PORT[,PRIORITY[,WEIGHT]]]]`. The numbers are
/// positional, so one that is left out before one that is given gets dnsmasq's default
/// (port 1, priority 0). A target of `.` means "no such service": nothing follows it.
fn srv_host(conf: &mut String, network_name: &str, srv: &DnsSrv) -> Result<()> {
    // libvirt reports a missing protocol in the words of a missing service.
    let missing = || {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::NETWORK,
            format!(
                "Missing required 'service' attribute in SRV record of network '{network_name}'"
            ),
        )
    };
    let service = srv.service.as_deref().ok_or_else(missing)?;
    let protocol = srv.protocol.as_deref().ok_or_else(missing)?;
    let _ = write!(conf, "srv-host=_{service}._{protocol}");
    if let Some(domain) = srv.domain.as_deref() {
        let _ = write!(conf, ".{domain}");
    }
    if let Some(target) = srv.target.as_deref().filter(|target| *target != ".") {
        let _ = write!(conf, ",{target}");
        let port = srv.port.unwrap_or(0);
        let priority = srv.priority.unwrap_or(0);
        let weight = srv.weight.unwrap_or(0);
        if port != 0 || priority != 0 || weight != 0 {
            let _ = write!(conf, ",{}", if port != 0 { port } else { 1 });
        }
        if priority != 0 || weight != 0 {
            let _ = write!(conf, ",{priority}");
        }
        if weight != 0 {
            let _ = write!(conf, ",{weight}");
        }
    }
    conf.push('\n');
    Ok(())
}

/// Walks the addresses in order: writes the TFTP lines of the IPv4 ones and picks the one
/// IPv4 and the one IPv6 address that serve DHCP (dnsmasq serves DHCP on one of each).
fn dhcp_ips_and_tftp<'a>(
    conf: &mut String,
    ips: &[IpDef<'a>],
) -> Result<(Option<IpDef<'a>>, Option<IpDef<'a>>)> {
    let mut ipv4_dhcp = None;
    let mut ipv6_dhcp = None;
    let mut tftp_enabled = false;
    for ip in ips {
        let slot = if ip.is_ipv6() {
            &mut ipv6_dhcp
        } else {
            &mut ipv4_dhcp
        };
        if ip.has_dhcp() {
            if slot.is_some() {
                let family = if ip.is_ipv6() { "IPv6" } else { "IPv4" };
                return Err(Error::new(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    ErrorDomain::NETWORK,
                    format!("For {family}, multiple DHCP definitions cannot be specified."),
                ));
            }
            *slot = Some(*ip);
        }
        // TFTP is served on IPv4 only.
        let tftp_root = ip.def.tftp.as_ref().and_then(|tftp| tftp.root.as_deref());
        if let Some(root) = tftp_root.filter(|_| !ip.is_ipv6()) {
            if !tftp_enabled {
                conf.push_str("enable-tftp\n");
                tftp_enabled = true;
            }
            let _ = writeln!(conf, "tftp-root={root}");
        }
    }
    Ok((ipv4_dhcp, ipv6_dhcp))
}

/// The DHCP lines of the address that serves DHCP for its family, its static hosts added to
/// `hostsfile`; returns how many addresses its ranges hold.
fn dhcp(
    conf: &mut String,
    hostsfile: &mut String,
    network_name: &str,
    bridge: &str,
    ip: &IpDef<'_>,
) -> Result<u64> {
    let Some(dhcp) = ip.def.dhcp.as_ref() else {
        return Ok(0);
    };
    if ip.prefix < 0 {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::NETWORK,
            format!("bridge '{bridge}' has an invalid prefix"),
        ));
    }
    let mut n_leases = 0;
    for range in &dhcp.ranges {
        let start = address::parse_model(range.start.as_deref().unwrap_or(""))?;
        let end = address::parse_model(range.end.as_deref().unwrap_or(""))?;
        let _ = write!(
            conf,
            "dhcp-range={},{},",
            address::format(&start),
            address::format(&end)
        );
        if ip.is_ipv6() {
            let _ = write!(conf, "{}", ip.prefix);
        } else {
            // dnsmasq wants an IPv4 netmask, not a prefix.
            let Some(netmask) = ip::ipv4_netmask(ip.prefix) else {
                return Err(Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::NETWORK,
                    format!(
                        "Failed to translate bridge '{bridge}' prefix {} to netmask",
                        ip.prefix
                    ),
                ));
            };
            let _ = write!(conf, "{netmask}");
        }
        if let Some(lease) = range
            .lease
            .as_ref()
            .map(hosts::lease_time)
            .transpose()?
            .flatten()
        {
            let _ = write!(conf, ",{lease}");
        }
        conf.push('\n');
        n_leases += u64::from(address::range_size(
            &start,
            &end,
            Some((&ip.address, ip.prefix)),
        )?);
    }
    if dhcp.ranges.is_empty() && !dhcp.hosts.is_empty() {
        // Static hosts only: a `static` range turns DHCP on for the hosts file's entries.
        let _ = write!(conf, "dhcp-range={},static", address::format(&ip.address));
        if ip.is_ipv6() {
            let _ = write!(conf, ",{}", ip.prefix);
        }
        conf.push('\n');
    }
    for host in &dhcp.hosts {
        if let Some(line) = hosts::dhcp_host_line(network_name, host, ip.is_ipv6())? {
            hostsfile.push_str(&line);
            hostsfile.push('\n');
        }
    }
    if !ip.is_ipv6() {
        if !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty() {
            // This server owns the subnet (it answers clients whose lease it does not know),
            // and it leaves the boot file and server name fields of its replies alone rather
            // than reusing them for options, which some PXE ROMs cannot read.
            conf.push_str("dhcp-no-override\ndhcp-authoritative\n");
        }
        let boot = dhcp
            .bootp
            .as_ref()
            .and_then(|bootp| Some((bootp.file.as_deref()?, bootp)));
        if let Some((file, bootp)) = boot {
            match bootp.server.as_deref() {
                // The boot server's address goes in the third field (the second is its name).
                Some(server) => {
                    let server = address::format(&address::parse_model(server)?);
                    let _ = writeln!(conf, "dhcp-boot={file},,{server}");
                }
                None => {
                    let _ = writeln!(conf, "dhcp-boot={file}");
                }
            }
        }
    }
    Ok(n_leases)
}
