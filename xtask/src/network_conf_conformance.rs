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

use crate::conformance::CaseArgs;

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

/// A unified-style diff of two small texts by their longest common subsequence of lines.
fn line_diff(expected: &str, ours: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = ours.lines().collect();
    // common[i][j]: the LCS length of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push_str(&format!("   {}\n", old[i]));
            i += 1;
            j += 1;
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            out.push_str(&format!("  -{}\n", old[i]));
            i += 1;
        } else {
            out.push_str(&format!("  +{}\n", new[j]));
            j += 1;
        }
    }
    let both_have_text = !expected.is_empty() && !ours.is_empty();
    if both_have_text && expected.ends_with('\n') != ours.ends_with('\n') {
        out.push_str("  (the texts differ in their final newline)\n");
    }
    out
}
