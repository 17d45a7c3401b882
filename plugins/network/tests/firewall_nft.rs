//! The firewall scripts against the real `nft`, each test inside a network namespace of its
//! own (`ip netns add`, deleted when the test ends), so the host's ruleset is never touched:
//! every case's rules load and list exactly as planned, two networks' rules coexist next to
//! unrelated tables, removing one network leaves the rest exactly as if it had never been
//! added, running either script twice changes nothing, and packets between namespaces
//! wired as guests, host and uplink are masqueraded and rejected as libvirt's rules would.
//!
//! Needs root, the `nft` binary (Debian package `nftables`) and busybox (for `ping`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use rvirt_driver_network::firewall::{self, FirewallPlan, TABLE};
use virt_xml::network::Network;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn require_root_and_nft() {
    assert!(
        is_root(),
        "the nftables tests create network namespaces: run them as root"
    );
    let nft = Command::new("nft").arg("--version").output();
    assert!(
        nft.is_ok_and(|output| output.status.success()),
        "the nftables tests need the nft binary: apt-get install nftables"
    );
}

/// A network namespace of the test's own, deleted on drop.
struct Namespace {
    name: String,
}

impl Namespace {
    fn new() -> Namespace {
        require_root_and_nft();
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "rvirt-fw-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip netns add");
        assert!(status.success(), "ip netns add {name} failed");
        Namespace { name }
    }

    /// `nft ARGS` inside the namespace, fed `stdin`: its output, or its error text.
    fn nft(&self, args: &[&str], stdin: &str) -> Result<String, String> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ip netns exec nft");
        child
            .stdin
            .take()
            .expect("nft's stdin")
            .write_all(stdin.as_bytes())
            .expect("write to nft");
        let output = child.wait_with_output().expect("wait for nft");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// `ARGS` run inside the namespace: whether it succeeded.
    fn exec(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// `ip ARGS` run inside the namespace, which must succeed.
    fn ip(&self, args: &[&str]) {
        let status = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .status()
            .expect("run ip");
        assert!(status.success(), "ip -n {} {}", self.name, args.join(" "));
    }

    /// Whether one ping from here to `address` is answered.
    fn pings(&self, address: &str) -> bool {
        self.exec(&["busybox", "ping", "-c", "1", "-W", "1", address])
    }

    fn load(&self, what: &str, script: &str) {
        if let Err(error) = self.nft(&["-f", "-"], script) {
            panic!("nft -f refused {what}:\n{error}\n--- script\n{script}");
        }
    }

    /// The whole ruleset without counters, which traffic would change.
    fn ruleset(&self) -> String {
        self.nft(&["-s", "list", "ruleset"], "")
            .unwrap_or_else(|error| panic!("nft list ruleset: {error}"))
    }

    fn table(&self, family: &str, table: &str) -> String {
        self.nft(&["-s", "list", "table", family, table], "")
            .unwrap_or_else(|error| panic!("nft list table {family} {table}: {error}"))
    }

    /// The rules of a chain as `nft` lists them, or `None` when there is no such chain.
    fn chain_rules(&self, family: &str, chain: &str) -> Option<Vec<String>> {
        let listing = self
            .nft(&["-s", "list", "chain", family, TABLE, chain], "")
            .ok()?;
        let header = format!("chain {chain} {{");
        let rules = listing
            .lines()
            .map(str::trim)
            .skip_while(|line| *line != header)
            .skip(1)
            .take_while(|line| *line != "}")
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect();
        Some(rules)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/firewall")
}

fn plan(case: &str) -> FirewallPlan {
    let path = data_dir().join(format!("{case}.xml"));
    let xml = std::fs::read_to_string(&path).expect("readable case");
    let network = Network::parse(&xml).expect("the case parses");
    firewall::rules(&network).expect("the case has a firewall plan")
}

/// Every golden case with rules.
fn cases_with_rules() -> Vec<(String, FirewallPlan)> {
    let mut cases: Vec<(String, FirewallPlan)> = std::fs::read_dir(data_dir())
        .expect("tests/data/firewall exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter_map(|path| {
            let case = path
                .file_name()?
                .to_str()?
                .strip_suffix(".xml")?
                .to_string();
            let xml = std::fs::read_to_string(&path).ok()?;
            let plan = firewall::rules(&Network::parse(&xml).ok()?).ok()?;
            (!plan.is_empty()).then_some((case, plan))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

/// Each of the plan's chains exists and lists exactly the planned rules, and its map
/// elements lead to it.
fn assert_loaded(ns: &Namespace, what: &str, plan: &FirewallPlan) {
    let ruleset = ns.ruleset();
    for chain in plan.chains() {
        let listed = ns
            .chain_rules(chain.family, chain.name)
            .unwrap_or_else(|| panic!("{what}: no chain {} {}", chain.family, chain.name));
        assert_eq!(
            listed, chain.rules,
            "{what}: chain {} {} as nft lists it",
            chain.family, chain.name
        );
        assert!(
            ruleset.contains(&format!(": jump {}", chain.name)),
            "{what}: no map element leads to {}:\n{ruleset}",
            chain.name
        );
    }
}

/// None of the plan's chains, nor any map element leading to one, is left.
fn assert_removed(ns: &Namespace, what: &str, plan: &FirewallPlan) {
    let ruleset = ns.ruleset();
    for chain in plan.chains() {
        assert_eq!(
            ns.chain_rules(chain.family, chain.name),
            None,
            "{what}: chain {} {} is still there",
            chain.family,
            chain.name
        );
        assert!(
            !ruleset.contains(&format!("jump {}\n", chain.name))
                && !ruleset.contains(&format!("jump {},", chain.name))
                && !ruleset.contains(&format!("jump {} ", chain.name)),
            "{what}: something still jumps to {}:\n{ruleset}",
            chain.name
        );
    }
}

const UNRELATED_TABLES: &str = r#"
table inet unrelated_filter {
    chain forward {
        type filter hook forward priority 10; policy accept;
        iifname "virbr0" counter accept
    }
}
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "eth0" masquerade
    }
}
"#;

#[test]
fn every_case_loads_as_planned_twice_and_unloads_twice() {
    let ns = Namespace::new();
    let cases = cases_with_rules();
    assert!(cases.len() >= 8, "expected the firewall cases with rules");
    for (case, plan) in &cases {
        ns.load(&format!("{case}.add.nft"), &plan.add_script());
        assert_loaded(&ns, case, plan);
        let loaded = ns.ruleset();
        ns.load(&format!("{case}.add.nft (again)"), &plan.add_script());
        assert_eq!(
            ns.ruleset(),
            loaded,
            "{case}: a second add changed the ruleset"
        );

        ns.load(&format!("{case}.remove.nft"), &plan.remove_script());
        assert_removed(&ns, case, plan);
        let removed = ns.ruleset();
        ns.load(&format!("{case}.remove.nft (again)"), &plan.remove_script());
        assert_eq!(
            ns.ruleset(),
            removed,
            "{case}: a second remove changed the ruleset"
        );
    }
}

#[test]
fn remove_script_runs_where_nothing_was_added() {
    let ns = Namespace::new();
    let plan = plan("nat-dual-stack-uplink");
    ns.load("remove.nft on an empty ruleset", &plan.remove_script());
    assert_removed(&ns, "nat-dual-stack-uplink", &plan);
}

#[test]
fn two_networks_coexist_and_removing_one_leaves_the_rest_exactly() {
    let default = plan("nat-ipv4-dhcp");
    let lab = plan("nat-dual-stack-uplink");

    // What the host looks like with only `lab` started, for comparison.
    let only_lab = Namespace::new();
    only_lab.load("unrelated tables", UNRELATED_TABLES);
    only_lab.load("lab add", &lab.add_script());
    let only_lab_ruleset = only_lab.ruleset();

    let ns = Namespace::new();
    ns.load("unrelated tables", UNRELATED_TABLES);
    let unrelated_filter = ns.table("inet", "unrelated_filter");
    let unrelated_nat = ns.table("ip", "nat");

    ns.load("default add", &default.add_script());
    ns.load("lab add", &lab.add_script());
    assert_loaded(&ns, "default next to lab", &default);
    assert_loaded(&ns, "lab next to default", &lab);
    let both = ns.ruleset();
    assert!(
        both.contains("\"virbr0\" : jump guest_output_virbr0")
            && both.contains("\"virbr1\" : jump guest_output_virbr1")
            && both.contains("192.168.122.0/24 : jump guest_nat_virbr0")
            && both.contains("10.20.0.0/16 : jump guest_nat_virbr1"),
        "both networks are dispatched to:\n{both}"
    );

    ns.load("default add (again)", &default.add_script());
    ns.load("lab add (again)", &lab.add_script());
    assert_eq!(
        ns.ruleset(),
        both,
        "adding both networks again changed the ruleset"
    );

    ns.load("default remove", &default.remove_script());
    assert_removed(&ns, "default", &default);
    assert_loaded(&ns, "lab after default's removal", &lab);
    assert_eq!(ns.table("inet", "unrelated_filter"), unrelated_filter);
    assert_eq!(ns.table("ip", "nat"), unrelated_nat);
    let after_removal = ns.ruleset();
    assert_eq!(
        after_removal, only_lab_ruleset,
        "removing default left the ruleset as if only lab had been started"
    );

    ns.load("default remove (again)", &default.remove_script());
    assert_eq!(
        ns.ruleset(),
        after_removal,
        "a second remove changed the ruleset"
    );

    ns.load("lab remove", &lab.remove_script());
    assert_removed(&ns, "lab", &lab);
    assert_eq!(ns.table("inet", "unrelated_filter"), unrelated_filter);
    assert_eq!(ns.table("ip", "nat"), unrelated_nat);
    let leftover = ns.table("ip", TABLE);
    assert!(
        !leftover.contains("virbr"),
        "no network is left in the shared table:\n{leftover}"
    );
}

/// Puts a guest namespace on `bridge` (created in `host` with `gateway`/24) at `address`/24.
fn attach_guest(host: &Namespace, bridge: &str, gateway: &str, guest: &Namespace, address: &str) {
    host.ip(&["link", "add", bridge, "type", "bridge"]);
    host.ip(&["addr", "add", &format!("{gateway}/24"), "dev", bridge]);
    host.ip(&["link", "set", bridge, "up"]);
    let port = format!("vnet-{bridge}");
    let port = &port[..port.len().min(15)];
    host.ip(&[
        "link",
        "add",
        port,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &guest.name,
    ]);
    host.ip(&["link", "set", port, "master", bridge, "up"]);
    guest.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
    guest.ip(&["link", "set", "eth0", "up"]);
    guest.ip(&["route", "add", "default", "via", gateway]);
}

#[test]
fn packets_are_masqueraded_and_rejected_until_the_rules_are_removed() {
    let busybox = Command::new("busybox").arg("true").status();
    assert!(
        busybox.is_ok_and(|status| status.success()),
        "this test pings with busybox: apt-get install busybox-static"
    );
    let default = plan("nat-ipv4-dhcp"); // virbr0, 192.168.122.0/24, NAT
    let isolated = plan("isolated-dhcp-tftp-elsewhere"); // virbr-iso, 192.168.100.0/24
    let host = Namespace::new();
    let nat_guest = Namespace::new();
    let isolated_guest = Namespace::new();
    let outside = Namespace::new();
    attach_guest(
        &host,
        "virbr0",
        "192.168.122.1",
        &nat_guest,
        "192.168.122.10",
    );
    attach_guest(
        &host,
        "virbr-iso",
        "192.168.100.1",
        &isolated_guest,
        "192.168.100.10",
    );
    host.ip(&[
        "link",
        "add",
        "uplink0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &outside.name,
    ]);
    host.ip(&["addr", "add", "10.99.0.1/24", "dev", "uplink0"]);
    host.ip(&["link", "set", "uplink0", "up"]);
    outside.ip(&["addr", "add", "10.99.0.2/24", "dev", "eth0"]);
    outside.ip(&["link", "set", "eth0", "up"]);
    // The outside knows its way back to the isolated subnet, not to the NAT one: only a
    // masqueraded ping from the NAT guest can be answered, and only the firewall stops the
    // isolated guest's.
    outside.ip(&["route", "add", "192.168.100.0/24", "via", "10.99.0.1"]);
    assert!(host.exec(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]));
    assert!(
        isolated_guest.pings("10.99.0.2"),
        "without rules the isolated guest is routed to the outside"
    );

    host.load("default add", &default.add_script());
    host.load("isolated add", &isolated.add_script());
    assert!(nat_guest.pings("192.168.122.1"), "a guest reaches its host");
    assert!(nat_guest.pings("10.99.0.2"), "the NAT guest is masqueraded");
    assert!(
        !isolated_guest.pings("10.99.0.2"),
        "the isolated guest does not get out"
    );
    assert!(
        !nat_guest.pings("192.168.100.10"),
        "a guest does not reach another network's bridge"
    );

    host.load("default remove", &default.remove_script());
    assert!(
        !nat_guest.pings("10.99.0.2"),
        "without its rules the NAT guest is no longer masqueraded"
    );
    assert!(
        !isolated_guest.pings("10.99.0.2"),
        "the isolated network keeps its rules"
    );

    host.load("isolated remove", &isolated.remove_script());
    assert!(
        isolated_guest.pings("10.99.0.2"),
        "without its rules the isolated guest is routed again"
    );
}
