//! Golden tests of the dnsmasq files: each `tests/data/dnsmasq/<case>.xml` network sits next
//! to what the plugin must write for it: `<case>.conf`, and `<case>.hostsfile` /
//! `<case>.addnhosts` when those files are not empty. A network that must be refused (by
//! virt-xml's parser or by the dnsmasq module) has `<case>.err` instead: `error: CODE/DOMAIN`
//! followed by libvirt's message.
//!
//! Every case is written for a state folder of `/var/lib/rvirt/network/dnsmasq` and a pid
//! file `/run/rvirt/network/<name>.pid`. libvirt's own golden files are measured by
//! `cargo xtask network-conf-conformance`.
//!
//! `UPDATE_EXPECT=1 cargo test -p rvirt-driver-network --test dnsmasq_golden` rewrites the
//! expected files (and removes those a case no longer produces); review the diff before
//! committing it.

use std::path::{Path, PathBuf};

use rvirt_driver_network::dnsmasq::{self, DnsmasqCaps, DnsmasqPaths};
use virt_xml::network::Network;

/// The files a case produces, by extension.
const OUTPUT_EXTENSIONS: [&str; 4] = ["conf", "hostsfile", "addnhosts", "err"];

fn render(xml: &str) -> Vec<(&'static str, String)> {
    let result = Network::parse(xml).and_then(|network| {
        let paths = DnsmasqPaths {
            state_dir: "/var/lib/rvirt/network/dnsmasq".to_string(),
            pid_file: Some(format!("/run/rvirt/network/{}.pid", network.name())),
        };
        dnsmasq::config(&network, &paths, &DnsmasqCaps::libvirt_test_harness())
    });
    match result {
        Ok(config) => [
            ("conf", config.conf),
            ("hostsfile", config.hostsfile),
            ("addnhosts", config.addnhosts),
        ]
        .into_iter()
        .filter(|(_, text)| !text.is_empty())
        .collect(),
        Err(error) => vec![(
            "err",
            format!(
                "error: {:?}/{:?}\n{}\n",
                error.code(),
                error.domain(),
                error.message()
            ),
        )],
    }
}

fn case_inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dnsmasq");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/dnsmasq exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
        .collect();
    inputs.sort();
    inputs
}

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|value| value == "1");
    let inputs = case_inputs();
    assert!(
        inputs.len() >= 10,
        "expected the cases under tests/data/dnsmasq"
    );
    let mut failures = Vec::new();
    for input in inputs {
        let xml = std::fs::read_to_string(&input).expect("readable case");
        let outputs = render(&xml);
        for extension in OUTPUT_EXTENSIONS {
            let expect_path = input.with_extension(extension);
            let got = outputs
                .iter()
                .find(|(kind, _)| *kind == extension)
                .map(|(_, text)| text.as_str());
            if update {
                match got {
                    Some(text) => std::fs::write(&expect_path, text).expect("write expected file"),
                    None if expect_path.exists() => {
                        std::fs::remove_file(&expect_path).expect("remove stale expected file")
                    }
                    None => {}
                }
                continue;
            }
            let want = std::fs::read_to_string(&expect_path).ok();
            if want.as_deref() != got {
                failures.push(format!(
                    "{}:\n--- want\n{}--- got\n{}",
                    expect_path
                        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(&expect_path)
                        .display(),
                    want.as_deref().unwrap_or("(no file)\n"),
                    got.unwrap_or("(no file)\n")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden file(s) differ (UPDATE_EXPECT=1 to refresh):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every expected file belongs to a case.
#[test]
fn no_orphan_expected_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dnsmasq");
    for entry in std::fs::read_dir(&dir).expect("tests/data/dnsmasq exists") {
        let path = entry.expect("readable folder").path();
        let is_output = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| OUTPUT_EXTENSIONS.contains(&ext));
        if is_output {
            assert!(
                path.with_extension("xml").is_file(),
                "{} has no .xml case",
                path.display()
            );
        }
    }
}

/// Which networks get a dnsmasq at all: one with an address, unless it serves neither DHCP
/// nor TFTP and has DNS turned off.
#[test]
fn needs_dnsmasq() {
    let needs = |body: &str| {
        let xml = format!("<network><name>n</name><bridge name='vbr7'/>{body}</network>");
        let network = Network::parse(&xml).expect("test network");
        dnsmasq::needs_dnsmasq(&network)
    };
    assert!(!needs(""));
    assert!(!needs("<dns enable='no'/>"));
    assert!(needs("<ip address='10.77.0.1' prefix='24'/>"));
    assert!(!needs(
        "<dns enable='no'/><ip address='10.77.0.1' prefix='24'/>"
    ));
    assert!(needs(
        "<dns enable='no'/><ip address='10.77.0.1' prefix='24'><tftp root='/srv/tftp'/></ip>"
    ));
    assert!(needs(
        "<dns enable='no'/><ip address='10.77.0.1' prefix='24'><dhcp><range start='10.77.0.5' end='10.77.0.9'/></dhcp></ip>"
    ));
}

/// Where the files go: the configuration under the name as it is, the host files under the
/// XML-escaped name that the configuration names them by.
#[test]
fn file_paths() {
    let xml = "<network><name>o'neil &amp; co</name><bridge name='vbr7'/>\
               <ip address='10.77.0.1' prefix='24'/></network>";
    let network = Network::parse(xml).expect("test network");
    let config = dnsmasq::config(
        &network,
        &DnsmasqPaths {
            state_dir: "/srv/dns".to_string(),
            pid_file: None,
        },
        &DnsmasqCaps::libvirt_test_harness(),
    )
    .expect("config");
    assert_eq!(config.conf_path, "/srv/dns/o'neil & co.conf");
    assert_eq!(
        config.hostsfile_path,
        "/srv/dns/o&apos;neil &amp; co.hostsfile"
    );
    assert_eq!(
        config.addnhosts_path,
        "/srv/dns/o&apos;neil &amp; co.addnhosts"
    );
    assert!(config
        .conf
        .contains("\naddn-hosts=/srv/dns/o&apos;neil &amp; co.addnhosts\n"));
}

fn first_dhcp(network: &mut Network) -> &mut virt_xml::network::Dhcp {
    network.ips[0].dhcp.as_mut().expect("dhcp")
}

/// A model built or changed by hand can hold what the parser never lets in: it is refused
/// with the message libvirt (or its parser) has for it, not written into dnsmasq's files.
#[test]
fn refuses_models_the_parser_never_builds() {
    let xml = "<network><name>hand</name><bridge name='vbr7'/>\
               <dns><srv service='ldap' protocol='tcp'/></dns>\
               <ip address='10.77.0.1' prefix='24'><dhcp>\
               <range start='10.77.0.10' end='10.77.0.20'><lease expiry='5'/></range>\
               <host mac='52:54:00:77:00:01' ip='10.77.0.5'/></dhcp></ip></network>";
    let parsed = Network::parse(xml).expect("test network");
    let refusal = |change: &dyn Fn(&mut Network)| {
        let mut network = parsed.clone();
        change(&mut network);
        let paths = DnsmasqPaths::libvirt_test_harness();
        let caps = DnsmasqCaps::libvirt_test_harness();
        match dnsmasq::config(&network, &paths, &caps) {
            Ok(_) => "accepted".to_string(),
            Err(error) => error.to_string(),
        }
    };
    assert_eq!(refusal(&|_| {}), "accepted");
    assert_eq!(
        refusal(&|network| network.dns.as_mut().expect("dns").srvs[0].protocol = None),
        "internal error: Missing required 'service' attribute in SRV record of network 'hand'"
    );
    assert_eq!(
        refusal(&|network| {
            first_dhcp(network).ranges[0]
                .lease
                .as_mut()
                .expect("lease")
                .unit = Some("days".into())
        }),
        "XML error: Invalid value for attribute 'unit' in element 'lease': 'days'."
    );
    assert_eq!(
        refusal(&|network| first_dhcp(network).hosts[0].mac = None),
        "XML error: Static host definition in IPv4 network 'hand' must have mac or name attribute"
    );
    assert_eq!(
        refusal(&|network| first_dhcp(network).ranges[0].end = Some("10.77.0.300".into())),
        "Cannot parse socket address '10.77.0.300': Name or service not known"
    );
    assert_eq!(
        refusal(&|network| network.ips[0].address = Some("10.77".into())),
        "XML error: Invalid address '10.77' in network 'hand'"
    );
    assert_eq!(
        refusal(&|network| network.ips[0].prefix = Some(33)),
        "internal error: Failed to translate bridge 'vbr7' prefix 33 to netmask"
    );
}
