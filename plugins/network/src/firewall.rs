//! The nftables rules of a virtual network, as two scripts for `nft -f -`: one that adds them
//! when the network starts and one that removes them when it is destroyed. The rules are those
//! of libvirt 9.0's iptables backend (what a NAT, routed or isolated network accepts, rejects
//! and masquerades); the layout is that of libvirt's nftables backend (≥ 10.4).
//!
//! Layout, in the tables `ip libvirt_network` and `ip6 libvirt_network`:
//! - the base chains `input`, `output`, `forward` (filter) and `postrouting` (nat) only jump
//!   to the shared chains `guest_to_host`, `host_to_guest`, `guest_cross`, `guest_input`,
//!   `guest_output` and `guest_nat` (`forward` in iptables' order: cross, input, output);
//! - each shared chain holds one rule, a lookup in the verdict map `<chain>_networks`, keyed
//!   by the bridge the packet comes from or goes to (`iifname`/`oifname`), or for NAT by the
//!   guest subnet it comes from (`ip saddr`), which jumps to the network's own chain
//!   `<chain>_<bridge>`, where the rules proper live.
//!
//! A network therefore owns some chains and the map elements that lead to them, and nothing
//! else: removal deletes exactly those, needs no rule handles, and leaves other networks and
//! other tables alone. Both scripts can run twice. The add script redeclares the shared
//! skeleton (`add` keeps what exists), rewrites the shared chains' dispatch rules (the same
//! for every network) and flushes the network's chains before filling them. The remove script
//! adds each thing before deleting it, so it also succeeds when the rules are already gone
//! (it then leaves an empty skeleton behind, as libvirt leaves its chains). It must be built
//! from the definition the network was started with, as libvirt's own removal is.
//!
//! Two rules of the iptables backend change meaning or go. The DHCP/DNS/TFTP accepts towards
//! the host are kept, but in nftables an accept ends this table's verdict only: they show and
//! count the services a network offers rather than open them past another table's drop.
//! The checksum fill of DHCP replies (`-j CHECKSUM`) has no nftables counterpart (nft cannot
//! complete a partial checksum, and zeroing it would break guests whose tap device has no
//! checksum offload), so like libvirt's nftables backend this module leaves it out.
//!
//! This module reads the network model and writes nftables' language; it runs nothing and
//! knows nothing of the plugin host, of how `nft` is started or of the host's other rules.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::error::network_error;
use virt_xml::network::{address, ForwardMode, Nat, Network, NetworkIp};

/// The table, in both families, that holds every network's rules.
pub const TABLE: &str = "libvirt_network";

/// Where libvirt's iptables backend reports its errors from.
fn libvirt_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::NONE, detail)
}

/// An address family, as nftables names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn of(address: &IpAddr) -> Family {
        match address {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The table family, which is also the keyword of address matches (`ip saddr`).
    fn keyword(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }

    fn address_type(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4_addr",
            Family::Ipv6 => "ipv6_addr",
        }
    }
}

/// A chain every network shares, which dispatches each packet to one network's own chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SharedChain {
    /// Guests talking to the host's dnsmasq (DHCP, DNS, TFTP).
    GuestToHost,
    /// The host's dnsmasq answering guests.
    HostToGuest,
    /// Guests talking to each other across their bridge.
    GuestCross,
    /// Forwarded traffic towards guests.
    GuestInput,
    /// Forwarded traffic from guests.
    GuestOutput,
    /// Source NAT of guest traffic leaving the host.
    GuestNat,
}

impl SharedChain {
    const ALL: [SharedChain; 6] = [
        SharedChain::GuestToHost,
        SharedChain::HostToGuest,
        SharedChain::GuestCross,
        SharedChain::GuestInput,
        SharedChain::GuestOutput,
        SharedChain::GuestNat,
    ];

    fn name(self) -> &'static str {
        match self {
            SharedChain::GuestToHost => "guest_to_host",
            SharedChain::HostToGuest => "host_to_guest",
            SharedChain::GuestCross => "guest_cross",
            SharedChain::GuestInput => "guest_input",
            SharedChain::GuestOutput => "guest_output",
            SharedChain::GuestNat => "guest_nat",
        }
    }

    /// The verdict map from a packet's key to the network chain that handles it.
    fn map_name(self) -> String {
        format!("{}_networks", self.name())
    }

    fn map_spec(self, family: Family) -> String {
        match self {
            SharedChain::GuestNat => format!(
                "{{ type {} : verdict; flags interval; }}",
                family.address_type()
            ),
            _ => "{ type ifname : verdict; }".to_string(),
        }
    }

    /// What the map is keyed by: the bridge a packet comes in from or goes out to, or for NAT
    /// (where the packet leaves by the host's uplink) the guest subnet it comes from.
    fn dispatch_key(self, family: Family) -> String {
        match self {
            SharedChain::GuestToHost | SharedChain::GuestCross | SharedChain::GuestOutput => {
                "iifname".to_string()
            }
            SharedChain::HostToGuest | SharedChain::GuestInput => "oifname".to_string(),
            SharedChain::GuestNat => format!("{} saddr", family.keyword()),
        }
    }

    /// The chain of one network, named after its bridge: the bridge of a running network is
    /// unique on the host, and it is a valid part of an nftables name (see [`interface_name`]).
    fn network_chain(self, bridge: &str) -> String {
        format!("{}_{bridge}", self.name())
    }
}

/// A base chain (hooked into netfilter) and the shared chains it jumps to, in order.
struct BaseChain {
    name: &'static str,
    spec: &'static str,
    jumps: &'static [SharedChain],
}

const BASE_CHAINS: [BaseChain; 4] = [
    BaseChain {
        name: "input",
        spec: "{ type filter hook input priority filter; policy accept; }",
        jumps: &[SharedChain::GuestToHost],
    },
    BaseChain {
        name: "output",
        spec: "{ type filter hook output priority filter; policy accept; }",
        jumps: &[SharedChain::HostToGuest],
    },
    BaseChain {
        name: "forward",
        spec: "{ type filter hook forward priority filter; policy accept; }",
        // Cross-bridge accepts first, then the rejects of traffic into and out of bridges,
        // each after its own network's accepts: the order of libvirt's FWX, FWI, FWO chains.
        jumps: &[
            SharedChain::GuestCross,
            SharedChain::GuestInput,
            SharedChain::GuestOutput,
        ],
    },
    BaseChain {
        name: "postrouting",
        spec: "{ type nat hook postrouting priority srcnat; policy accept; }",
        jumps: &[SharedChain::GuestNat],
    },
];

/// An IP network in prefix form, its host bits cleared (`192.168.122.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subnet {
    network: IpAddr,
    prefix: u32,
}

impl Subnet {
    /// The subnet of `address`; `prefix` is at most the family's width.
    fn of(address: IpAddr, prefix: u32) -> Subnet {
        Subnet {
            network: address::mask_by_prefix(&address, prefix),
            prefix,
        }
    }

    fn contains(&self, other: &Subnet) -> bool {
        Family::of(&self.network) == Family::of(&other.network)
            && self.prefix <= other.prefix
            && Subnet::of(other.network, self.prefix) == *self
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// `virNetworkIPDefPrefix` of an `<ip>` whose address is `address`, or `None` for what has no
/// prefix (a netmask with holes, a class D or E address) or a prefix wider than the address.
fn ip_prefix(ip: &NetworkIp, address: &IpAddr) -> Option<u32> {
    let width = if address.is_ipv4() { 32 } else { 128 };
    ip.network_prefix().filter(|prefix| *prefix <= width)
}

/// An interface name the scripts can write between double quotes. nftables has no escape for
/// a quote, reads a trailing `*` as a wildcard, and chain names (which embed the bridge name)
/// allow few characters: names outside `[A-Za-z0-9_.-]` are refused rather than mangled.
fn interface_name<'a>(name: &'a str, network: &str) -> Result<&'a str, Error> {
    let writable = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if writable {
        Ok(name)
    } else {
        Err(network_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!(
                "interface name '{name}' of network '{network}' is not supported in nftables rules: use at most 15 letters, digits, '_', '-' or '.'"
            ),
        ))
    }
}

/// `<network>` text fit for a `#` comment line.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What kind of firewall a forward mode gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Firewalled {
    Isolated,
    Nat,
    Route,
}

/// One network's chain: the rules in it and the keys that lead to it from its shared chain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NetworkChain {
    name: String,
    family: Family,
    shared: SharedChain,
    keys: Vec<String>,
    rules: Vec<String>,
}

impl NetworkChain {
    /// The map elements that lead to the chain: `{ "virbr0" : jump guest_output_virbr0 }`.
    fn elements(&self) -> String {
        let elements: Vec<String> = self
            .keys
            .iter()
            .map(|key| format!("{key} : jump {}", self.name))
            .collect();
        format!("{{ {} }}", elements.join(", "))
    }
}

/// A network chain as [`FirewallPlan::chains`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedChain<'a> {
    /// `ip` or `ip6`: the family of the table [`TABLE`] that holds the chain.
    pub family: &'static str,
    pub name: &'a str,
    /// The rules, in order, as the add script writes them.
    pub rules: &'a [String],
}

/// The firewall rules of one network, ready to be written as `nft -f` scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallPlan {
    network: String,
    bridge: String,
    /// Sorted by family then shared chain; every chain has rules.
    chains: Vec<NetworkChain>,
}

impl FirewallPlan {
    /// Whether the network has no rules at all (open, bridge and device-assignment modes):
    /// then both scripts are empty and there is nothing to run.
    pub fn is_empty(&self) -> bool {
        self.chains.is_empty()
    }

    /// The network's own chains, with their rules.
    pub fn chains(&self) -> impl Iterator<Item = PlannedChain<'_>> {
        self.chains.iter().map(|chain| PlannedChain {
            family: chain.family.keyword(),
            name: &chain.name,
            rules: &chain.rules,
        })
    }

    fn chains_of(&self, family: Family) -> impl Iterator<Item = &NetworkChain> {
        self.chains
            .iter()
            .filter(move |chain| chain.family == family)
    }

    fn families(&self) -> Vec<Family> {
        let mut families: Vec<Family> = self.chains.iter().map(|chain| chain.family).collect();
        families.dedup();
        families
    }

    /// The script run at network start: the shared skeleton, then this network's rules and
    /// the map elements that lead to them. Empty when [`is_empty`](Self::is_empty).
    pub fn add_script(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut script = format!(
            "# Firewall of network '{}' on bridge {}: added at start by `nft -f`.\n",
            comment_text(&self.network),
            self.bridge
        );
        for family in self.families() {
            let table = format!("{} {TABLE}", family.keyword());
            script.push_str(CHAINS_BEFORE_MAPS);
            let _ = writeln!(script, "add table {table}");
            for shared in SharedChain::ALL {
                let _ = writeln!(script, "add chain {table} {}", shared.name());
            }
            for base in &BASE_CHAINS {
                let _ = writeln!(script, "add chain {table} {} {}", base.name, base.spec);
            }
            for chain in self.chains_of(family) {
                let _ = writeln!(script, "add chain {table} {}", chain.name);
            }
            for shared in SharedChain::ALL {
                let _ = writeln!(
                    script,
                    "add map {table} {} {}",
                    shared.map_name(),
                    shared.map_spec(family)
                );
            }

            script
                .push_str("\n# The shared chains only dispatch, the same way for every network.\n");
            for base in &BASE_CHAINS {
                let _ = writeln!(script, "flush chain {table} {}", base.name);
                for shared in base.jumps {
                    let _ = writeln!(
                        script,
                        "add rule {table} {} jump {}",
                        base.name,
                        shared.name()
                    );
                }
            }
            for shared in SharedChain::ALL {
                let _ = writeln!(script, "flush chain {table} {}", shared.name());
                let _ = writeln!(
                    script,
                    "add rule {table} {} {} vmap @{}",
                    shared.name(),
                    shared.dispatch_key(family),
                    shared.map_name()
                );
            }

            script.push_str("\n# This network's rules, and the map elements that lead to them.\n");
            for chain in self.chains_of(family) {
                let name = &chain.name;
                let _ = writeln!(script, "flush chain {table} {name}");
                for rule in &chain.rules {
                    let _ = writeln!(script, "add rule {table} {name} {rule}");
                }
                let _ = writeln!(
                    script,
                    "add element {table} {} {}",
                    chain.shared.map_name(),
                    chain.elements()
                );
            }
        }
        script
    }

    /// The script run at destroy: it deletes this network's map elements, then its chains,
    /// each added first so that the script also runs where they are gone. Empty when
    /// [`is_empty`](Self::is_empty).
    pub fn remove_script(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut script = format!(
            "# Firewall of network '{}' on bridge {}: removed at destroy by `nft -f`.\n",
            comment_text(&self.network),
            self.bridge
        );
        for family in self.families() {
            let table = format!("{} {TABLE}", family.keyword());
            script.push_str(CHAINS_BEFORE_MAPS);
            let _ = writeln!(script, "add table {table}");
            for chain in self.chains_of(family) {
                let _ = writeln!(script, "add chain {table} {}", chain.name);
            }
            for chain in self.chains_of(family) {
                let _ = writeln!(
                    script,
                    "add map {table} {} {}",
                    chain.shared.map_name(),
                    chain.shared.map_spec(family)
                );
            }

            script.push_str("\n# Added first, so that deleting them cannot fail.\n");
            for chain in self.chains_of(family) {
                let map = chain.shared.map_name();
                let _ = writeln!(script, "add element {table} {map} {}", chain.elements());
                let _ = writeln!(
                    script,
                    "delete element {table} {map} {{ {} }}",
                    chain.keys.join(", ")
                );
            }
            for chain in self.chains_of(family) {
                let _ = writeln!(script, "flush chain {table} {}", chain.name);
                let _ = writeln!(script, "delete chain {table} {}", chain.name);
            }
        }
        script
    }
}

/// Why the scripts declare every chain before any map.
const CHAINS_BEFORE_MAPS: &str = "
# Declared whether or not they exist (`add` keeps what does). Chains come before maps:
# nft sends the elements of a new interval map along with the map, ahead of the commands
# that follow it, so the chains those elements jump to must exist by then.
";

/// Collects a network's rules chain by chain, in the order they are written.
struct PlanBuilder<'a> {
    bridge: &'a str,
    rules: BTreeMap<(Family, SharedChain), Vec<String>>,
    nat_subnets: BTreeMap<Family, Vec<Subnet>>,
}

impl PlanBuilder<'_> {
    fn rule(&mut self, family: Family, shared: SharedChain, rule: String) {
        self.rules.entry((family, shared)).or_default().push(rule);
    }

    /// Accepts towards the host's dnsmasq (`iptablesAddTcpInput` and friends).
    fn host_service(&mut self, family: Family, protocol: &str, to_host: u16, to_guest: u16) {
        let bridge = self.bridge;
        self.rule(
            family,
            SharedChain::GuestToHost,
            format!("iifname \"{bridge}\" {protocol} dport {to_host} counter accept"),
        );
        self.rule(
            family,
            SharedChain::HostToGuest,
            format!("oifname \"{bridge}\" {protocol} dport {to_guest} counter accept"),
        );
    }

    /// Guests may talk to each other; anything else into or out of the bridge that no
    /// network rule accepted before is rejected.
    fn catch_alls(&mut self, family: Family) {
        let bridge = self.bridge;
        self.rule(
            family,
            SharedChain::GuestCross,
            format!("iifname \"{bridge}\" oifname \"{bridge}\" counter accept"),
        );
        self.rule(
            family,
            SharedChain::GuestOutput,
            format!("iifname \"{bridge}\" counter reject"),
        );
        self.rule(
            family,
            SharedChain::GuestInput,
            format!("oifname \"{bridge}\" counter reject"),
        );
    }

    /// Traffic from the guest subnet may leave (by `forward_dev` only, when given).
    fn allow_out(&mut self, subnet: &Subnet, forward_dev: Option<&str>) {
        let family = Family::of(&subnet.network);
        let out = forward_dev
            .map(|dev| format!(" oifname \"{dev}\""))
            .unwrap_or_default();
        self.rule(
            family,
            SharedChain::GuestOutput,
            format!(
                "iifname \"{}\"{out} {} saddr {subnet} counter accept",
                self.bridge,
                family.keyword()
            ),
        );
    }

    /// Traffic to the guest subnet may come in (by `forward_dev` only, when given): all of it
    /// on a routed network, replies only (`related_only`) on a NAT network.
    fn allow_in(&mut self, subnet: &Subnet, forward_dev: Option<&str>, related_only: bool) {
        let family = Family::of(&subnet.network);
        let from = forward_dev
            .map(|dev| format!("iifname \"{dev}\" "))
            .unwrap_or_default();
        let state = if related_only {
            " ct state established,related"
        } else {
            ""
        };
        self.rule(
            family,
            SharedChain::GuestInput,
            format!(
                "{from}oifname \"{}\" {} daddr {subnet}{state} counter accept",
                self.bridge,
                family.keyword()
            ),
        );
    }

    /// `networkAddMasqueradingFirewallRules`: forwarding both ways, then source NAT of
    /// traffic leaving the subnet, except to local multicast and broadcast (strict DHCP
    /// clients refuse replies whose source port changed), with TCP and UDP mapped to
    /// unprivileged ports (NFS trusts ports below 1024).
    fn masquerade(
        &mut self,
        subnet: &Subnet,
        forward_dev: Option<&str>,
        nat: Option<&Nat>,
        network: &str,
    ) -> Result<(), Error> {
        let family = Family::of(&subnet.network);
        let ip = family.keyword();
        self.allow_out(subnet, forward_dev);
        self.allow_in(subnet, forward_dev, true);

        let (port_start, port_end) = match nat.and_then(|nat| nat.port.as_ref()) {
            Some(port) => (port.start.unwrap_or(0), port.end.unwrap_or(0)),
            None => (0, 0),
        };
        let (port_start, port_end) = if (port_start, port_end) == (0, 0) {
            (1024, 65535)
        } else {
            (port_start, port_end)
        };
        if port_start >= port_end || port_end > 65535 {
            return Err(libvirt_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Invalid port range '{port_start}-{port_end}'."),
            ));
        }
        let public_range = match (family, nat.and_then(|nat| nat.address.as_ref())) {
            (Family::Ipv4, Some(range)) => {
                public_addresses(range.start.as_deref(), range.end.as_deref(), network)?
            }
            // A public range is IPv4 only: IPv6 is masqueraded.
            _ => None,
        };
        let translate = |ports: Option<(u32, u32)>| match (&public_range, ports) {
            (Some(range), Some((start, end))) => format!("snat to {range}:{start}-{end}"),
            (Some(range), None) => format!("snat to {range}"),
            (None, Some((start, end))) => format!("masquerade to :{start}-{end}"),
            (None, None) => "masquerade".to_string(),
        };

        let out = forward_dev
            .map(|dev| format!("oifname \"{dev}\" "))
            .unwrap_or_default();
        let exempt: &[&str] = match family {
            Family::Ipv4 => &["224.0.0.0/24", "255.255.255.255"],
            Family::Ipv6 => &["ff02::/16"],
        };
        for destination in exempt {
            self.rule(
                family,
                SharedChain::GuestNat,
                format!("{out}{ip} saddr {subnet} {ip} daddr {destination} counter return"),
            );
        }
        for protocol in ["tcp", "udp"] {
            self.rule(
                family,
                SharedChain::GuestNat,
                format!(
                    "{out}meta l4proto {protocol} {ip} saddr {subnet} {ip} daddr != {subnet} counter {}",
                    translate(Some((port_start, port_end)))
                ),
            );
        }
        self.rule(
            family,
            SharedChain::GuestNat,
            format!(
                "{out}{ip} saddr {subnet} {ip} daddr != {subnet} counter {}",
                translate(None)
            ),
        );
        self.nat_subnets.entry(family).or_default().push(*subnet);
        Ok(())
    }

    fn finish(self, network: &str) -> FirewallPlan {
        let bridge = self.bridge;
        let chains = self
            .rules
            .into_iter()
            .map(|((family, shared), rules)| {
                let keys = match shared {
                    SharedChain::GuestNat => nat_keys(
                        self.nat_subnets
                            .get(&family)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                    ),
                    _ => vec![format!("\"{bridge}\"")],
                };
                NetworkChain {
                    name: shared.network_chain(bridge),
                    family,
                    shared,
                    keys,
                    rules,
                }
            })
            .collect();
        FirewallPlan {
            network: network.to_string(),
            bridge: bridge.to_string(),
            chains,
        }
    }
}

/// The NAT map keys of a network's subnets: an interval map refuses overlapping elements, so
/// a subnet inside another of the same network (whose chain checks both anyway) is left out.
fn nat_keys(subnets: &[Subnet]) -> Vec<String> {
    let mut kept: Vec<Subnet> = Vec::new();
    for (idx, subnet) in subnets.iter().enumerate() {
        let covered = subnets.iter().enumerate().any(|(other_idx, other)| {
            other_idx != idx && other.contains(subnet) && (other != subnet || other_idx < idx)
        });
        if !covered {
            kept.push(*subnet);
        }
    }
    kept.iter().map(Subnet::to_string).collect()
}

/// `<nat><address start end/>` as a source NAT target (`203.0.113.1-203.0.113.9`).
fn public_addresses(
    start: Option<&str>,
    end: Option<&str>,
    network: &str,
) -> Result<Option<String>, Error> {
    let parse = |text: &str| {
        text.parse::<Ipv4Addr>().map_err(|_| {
            network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("bad NAT address '{text}' in network '{network}'"),
            )
        })
    };
    let Some(start) = start else {
        return Ok(None);
    };
    let start = parse(start)?;
    Ok(Some(match end.map(parse).transpose()? {
        Some(end) if end != start => format!("{start}-{end}"),
        _ => start.to_string(),
    }))
}

/// The firewall rules of `network`, as libvirt's network driver adds them when it starts a
/// NAT, routed or isolated network (`networkAddFirewallRules`); an empty plan for the other
/// forward modes, which libvirt gives no rules. The network needs its bridge name (the
/// driver assigns one at define time).
pub fn rules(network: &Network) -> Result<FirewallPlan, Error> {
    let name = network.name();
    let firewalled = match network.forward.as_ref() {
        None => Firewalled::Isolated,
        Some(forward) => match forward.mode.unwrap_or(ForwardMode::Nat) {
            ForwardMode::Nat => Firewalled::Nat,
            ForwardMode::Route => Firewalled::Route,
            ForwardMode::Open
            | ForwardMode::Bridge
            | ForwardMode::Private
            | ForwardMode::Vepa
            | ForwardMode::Passthrough
            | ForwardMode::Hostdev => {
                return Ok(FirewallPlan {
                    network: name.to_string(),
                    bridge: String::new(),
                    chains: Vec::new(),
                })
            }
        },
    };
    let bridge = network
        .bridge
        .as_ref()
        .and_then(|bridge| bridge.name.as_deref())
        .ok_or_else(|| {
            network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("network '{name}' has no bridge name"),
            )
        })?;
    let bridge = interface_name(bridge, name)?;
    let forward_dev = match firewalled {
        Firewalled::Isolated => None,
        Firewalled::Nat | Firewalled::Route => network
            .forward
            .as_ref()
            .and_then(|forward| forward.interfaces.first())
            .and_then(|interface| interface.dev.as_deref())
            .map(|dev| interface_name(dev, name))
            .transpose()?,
    };
    let mut addresses: Vec<(IpAddr, &NetworkIp)> = Vec::with_capacity(network.ips.len());
    for ip in &network.ips {
        let text = ip.address.as_deref().unwrap_or("");
        let address = ip.ip_address().ok_or_else(|| {
            network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("invalid address '{text}' in network '{name}'"),
            )
        })?;
        addresses.push((address, ip));
    }
    let has_ipv6 = addresses.iter().any(|(address, _)| address.is_ipv6());
    let ipv6_between_guests = network.ipv6.is_some_and(|ipv6| ipv6.is_yes());

    let mut plan = PlanBuilder {
        bridge,
        rules: BTreeMap::new(),
        nat_subnets: BTreeMap::new(),
    };

    // DHCP and DNS for IPv4 always; TFTP when the IPv4 address that serves DHCP (the first
    // with ranges, hosts or a TFTP root; dnsmasq serves only one) has a TFTP root.
    plan.host_service(Family::Ipv4, "tcp", 67, 68);
    plan.host_service(Family::Ipv4, "udp", 67, 68);
    plan.host_service(Family::Ipv4, "tcp", 53, 53);
    plan.host_service(Family::Ipv4, "udp", 53, 53);
    let dhcp_ipv4 = addresses.iter().find(|(address, ip)| {
        let serves_dhcp = ip
            .dhcp
            .as_ref()
            .is_some_and(|dhcp| !dhcp.ranges.is_empty() || !dhcp.hosts.is_empty());
        address.is_ipv4() && (serves_dhcp || has_tftp_root(ip))
    });
    if dhcp_ipv4.is_some_and(|(_, ip)| has_tftp_root(ip)) {
        plan.host_service(Family::Ipv4, "udp", 69, 69);
    }
    if has_ipv6 {
        plan.host_service(Family::Ipv6, "tcp", 53, 53);
        plan.host_service(Family::Ipv6, "udp", 53, 53);
        plan.host_service(Family::Ipv6, "udp", 547, 546);
    }

    let nat = network
        .forward
        .as_ref()
        .and_then(|forward| forward.nat.as_ref());
    let masquerade_ipv6 = nat
        .and_then(|nat| nat.ipv6)
        .is_some_and(|ipv6| ipv6.is_yes());
    let forwarded = if firewalled == Firewalled::Isolated {
        &[][..]
    } else {
        &addresses[..]
    };
    for (address, ip) in forwarded {
        let prefix = ip_prefix(ip, address).ok_or_else(|| {
            libvirt_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Invalid prefix or netmask for '{bridge}'"),
            )
        })?;
        let subnet = Subnet::of(*address, prefix);
        // IPv6 has no NAT unless asked for: a NAT network routes its IPv6 subnets.
        if firewalled == Firewalled::Nat && (address.is_ipv4() || masquerade_ipv6) {
            plan.masquerade(&subnet, forward_dev, nat, name)?;
        } else {
            plan.allow_out(&subnet, forward_dev);
            plan.allow_in(&subnet, forward_dev, false);
        }
    }

    plan.catch_alls(Family::Ipv4);
    // `<network ipv6='yes'>` lets guests talk IPv6 to each other without an IPv6 address.
    if has_ipv6 || ipv6_between_guests {
        plan.catch_alls(Family::Ipv6);
    }
    Ok(plan.finish(name))
}

fn has_tftp_root(ip: &NetworkIp) -> bool {
    ip.tftp.as_ref().is_some_and(|tftp| tftp.root.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(text: &str) -> Subnet {
        let (address, prefix) = text.split_once('/').expect("address/prefix");
        Subnet::of(
            address.parse().expect("address"),
            prefix.parse().expect("prefix"),
        )
    }

    #[test]
    fn subnets_clear_host_bits() {
        assert_eq!(subnet("192.168.122.1/24").to_string(), "192.168.122.0/24");
        assert_eq!(subnet("10.1.2.3/0").to_string(), "0.0.0.0/0");
        assert_eq!(subnet("10.1.2.3/32").to_string(), "10.1.2.3/32");
        assert_eq!(subnet("fd00:1:2:3::1/64").to_string(), "fd00:1:2:3::/64");
        assert_eq!(subnet("fd00::1/128").to_string(), "fd00::1/128");
    }

    #[test]
    fn nat_keys_leave_out_nested_and_repeated_subnets() {
        let subnets = [
            subnet("10.1.0.1/16"),
            subnet("10.0.0.1/8"),
            subnet("192.168.1.1/24"),
            subnet("192.168.1.7/24"),
        ];
        assert_eq!(nat_keys(&subnets), ["10.0.0.0/8", "192.168.1.0/24"]);
    }

    #[test]
    fn prefixes_are_libvirts_within_the_address_width() {
        let prefix = |address: &str, netmask: Option<&str>, prefix: Option<u32>| {
            let ip = NetworkIp {
                address: Some(address.to_string()),
                netmask: netmask.map(str::to_string),
                prefix,
                ..NetworkIp::default()
            };
            ip_prefix(&ip, &address.parse().expect("address"))
        };
        assert_eq!(prefix("192.168.0.1", None, None), Some(24));
        assert_eq!(prefix("192.168.0.1", Some("255.255.254.0"), None), Some(23));
        assert_eq!(prefix("224.0.1.1", None, None), None);
        assert_eq!(prefix("192.168.0.1", Some("255.0.255.0"), None), None);
        assert_eq!(prefix("10.0.0.1", None, Some(33)), None);
        assert_eq!(prefix("fd00::1", None, Some(128)), Some(128));
    }

    #[test]
    fn interface_names_must_be_writable_unescaped() {
        assert!(interface_name("virbr0", "n").is_ok());
        assert!(interface_name("br-lan.100", "n").is_ok());
        for bad in ["", "br*", "br\"0", "br 0", "a-very-long-bridge", "brü"] {
            let error = interface_name(bad, "n").expect_err(bad);
            assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
        }
    }
}
