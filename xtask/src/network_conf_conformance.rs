//! `cargo xtask network-conf-conformance [-v] [DIR] [CASE...]`: how many of libvirt's
//! `networkxml2confdata` cases the network plugin turns into the same dnsmasq files.
//!
//! DIR is libvirt's test data folder (default `../shared/libvirt-testdata`). Each
//! `NAME.xml` there is read with virt-xml and given to the plugin's dnsmasq module with the
//! paths and dnsmasq libvirt's `networkxml2conftest` uses (`/var/lib/libvirt/dnsmasq`, no
//! pid file, dnsmasq 2.67). The configuration must equal `NAME.conf` byte for byte; the DHCP
//! hosts file must equal `NAME.hostsfile` when there is one, and be empty when there is not
//! (libvirt's harness checks the same). No normalization is applied. With `-v`, every
//! failing case is printed with a line diff (`-` expected, `+` ours).

use std::path::Path;
use std::process::ExitCode;

use rvirt_driver_network::dnsmasq::{self, DnsmasqCaps, DnsmasqPaths};
use virt_xml::network::Network;

use crate::conformance::{line_diff, CaseArgs};

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let data = args.dir.join("networkxml2confdata");
    let cases = match args.cases(&data, ".xml", |_| true) {
        Ok(cases) => cases,
        Err(status) => return status,
    };
    let mut n_matching = 0;
    for case in &cases {
        match check_case(&data, case) {
            Ok(()) => n_matching += 1,
            Err(reason) => {
                let summary = reason.lines().next().unwrap_or("");
                if args.verbose {
                    println!("FAIL {case}: {reason}");
                } else {
                    println!("FAIL {case}: {summary}");
                }
            }
        }
    }
    println!(
        "network conf conformance ({}): {n_matching}/{} cases match",
        data.display(),
        cases.len()
    );
    ExitCode::SUCCESS
}

fn check_case(data: &Path, case: &str) -> Result<(), String> {
    let read = |extension: &str| std::fs::read_to_string(data.join(format!("{case}.{extension}")));
    let xml = read("xml").map_err(|error| format!("read: {error}"))?;
    let expected_conf = read("conf").map_err(|error| format!("read: {error}"))?;
    let expected_hostsfile = read("hostsfile").ok();
    let network = Network::parse(&xml).map_err(|error| format!("parse error\n{error}"))?;
    let config = dnsmasq::config(
        &network,
        &DnsmasqPaths::libvirt_test_harness(),
        &DnsmasqCaps::libvirt_test_harness(),
    )
    .map_err(|error| format!("config error\n{error}"))?;
    let mut problems = Vec::new();
    if config.conf != expected_conf {
        problems.push(format!(
            "{case}.conf differs\n{}",
            line_diff(&expected_conf, &config.conf)
        ));
    }
    match expected_hostsfile {
        Some(expected) if expected != config.hostsfile => problems.push(format!(
            "{case}.hostsfile differs\n{}",
            line_diff(&expected, &config.hostsfile)
        )),
        None if !config.hostsfile.is_empty() => problems.push(format!(
            "hosts written but {case}.hostsfile does not exist\n{}",
            line_diff("", &config.hostsfile)
        )),
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
