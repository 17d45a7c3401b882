//! `cargo xtask xl-conformance [-v] [DIR] [CASE...]`: how many of libvirt's Xen golden cases
//! `virt-xl` reproduces, from two folders of DIR (default `../shared/libvirt-testdata`):
//!
//! - `xlconfigdata` (libvirt's `xlconfigtest`): `test-NAME.cfg` read must format to
//!   `test-NAME.xml` byte for byte (`xl2xml`), and `test-NAME.xml` parsed must write
//!   `test-NAME.cfg` byte for byte (`xml2xl`), each case in the directions that test runs
//!   it. As the test does, `/LIBXL_FIRMWARE_DIR` in the XML stands for Xen's firmware
//!   folder.
//! - `libxlxml2domconfigdata` (libvirt's `libxlxml2domconfigtest`): `NAME.xml` must give
//!   the libxl configuration of `NAME.json`, compared as JSON values (libvirt compares the
//!   two after a round trip through libxl, so the order of keys does not matter).
//!
//! The host is the one libvirt's tests fake ([`virt_xl::XenHostFacts::default`]). The
//! `-legacy-nest` cases are the data libvirt keeps for libxl before Xen 4.10 (nested HVM in
//! the HVM part of the build info); they run as such a host, with a single NUMA node, which
//! is what places every vNUMA node of `vnuma-hvm-legacy-nest` on host node 0. Cases whose
//! files libvirt did not publish are skipped and counted. With `-v`, every failure is
//! printed with a line diff.

use std::path::Path;
use std::process::ExitCode;

use virt_xl::XenHostFacts;
use virt_xml::domain::Domain;

use crate::conformance::{line_diff, CaseArgs};

/// The directions `xlconfigtest` runs a case in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Directions {
    Both,
    /// `DO_TEST_FORMAT`: the `.cfg` read, formatted as XML.
    XlToXml,
    /// `DO_TEST_PARSE`: the `.xml` parsed, written as a `.cfg`.
    XmlToXl,
}

/// `xlconfigtest`'s cases in its order.
const XLCONFIG_CASES: &[(&str, Directions)] = &[
    ("fullvirt-ovswitch-tagged", Directions::Both),
    ("fullvirt-ovswitch-trunked", Directions::Both),
    ("fullvirt-ovmf", Directions::Both),
    ("paravirt-maxvcpus", Directions::Both),
    ("new-disk", Directions::Both),
    ("disk-positional-parms-full", Directions::XlToXml),
    ("disk-positional-parms-partial", Directions::XlToXml),
    ("disk-qed", Directions::XlToXml),
    ("net-fakemodel", Directions::Both),
    ("spice", Directions::Both),
    ("spice-features", Directions::Both),
    ("vif-rate", Directions::Both),
    ("fullvirt-nohap", Directions::Both),
    ("fullvirt-hpet-timer", Directions::Both),
    ("fullvirt-tsc-timer", Directions::Both),
    ("fullvirt-multi-timer", Directions::Both),
    ("fullvirt-nestedhvm", Directions::Both),
    ("fullvirt-nestedhvm-disabled", Directions::Both),
    ("fullvirt-cpuid", Directions::Both),
    ("fullvirt-acpi-slic", Directions::Both),
    ("fullvirt-pci", Directions::Both),
    ("fullvirt-vnuma", Directions::Both),
    ("fullvirt-vnuma-autocomplete", Directions::XmlToXl),
    ("fullvirt-vnuma-nodistances", Directions::XmlToXl),
    ("fullvirt-vnuma-partialdist", Directions::XmlToXl),
    ("paravirt-cmdline", Directions::Both),
    ("paravirt-cmdline-extra-root", Directions::XlToXml),
    ("paravirt-cmdline-bogus-extra-root", Directions::XlToXml),
    ("rbd-multihost-noauth", Directions::Both),
    ("paravirt-type", Directions::XlToXml),
    ("fullvirt-type", Directions::XlToXml),
    ("pvh-type", Directions::Both),
    ("channel-pty", Directions::Both),
    ("channel-unix", Directions::Both),
    ("fullvirt-multiserial", Directions::Both),
    ("fullvirt-multiusb", Directions::Both),
    ("fullvirt-direct-kernel-boot", Directions::Both),
    ("fullvirt-direct-kernel-boot-extra", Directions::XlToXml),
    (
        "fullvirt-direct-kernel-boot-bogus-extra",
        Directions::XlToXml,
    ),
    ("max-gntframes", Directions::Both),
    ("max-eventchannels", Directions::Both),
    ("vif-typename", Directions::Both),
    ("vif-multi-ip", Directions::Both),
    ("usb", Directions::Both),
    ("usbctrl", Directions::Both),
    ("paravirt-e820_host", Directions::Both),
    ("fullvirt-hypervisor-features", Directions::Both),
    ("qemu-passthrough", Directions::Both),
];

/// `libxlxml2domconfigtest`'s cases in its order; `true` for the legacy-libxl data.
const DOMCONFIG_CASES: &[(&str, bool)] = &[
    ("basic-pv", false),
    ("basic-hvm", false),
    ("basic-pvh", false),
    ("cpu-shares-hvm", false),
    ("variable-clock-hvm", false),
    ("moredevs-hvm", false),
    ("multiple-ip", false),
    ("vnuma-hvm", false),
    ("fullvirt-cpuid", false),
    ("vnuma-hvm-legacy-nest", true),
    ("fullvirt-cpuid-legacy-nest", true),
    ("fullvirt-acpi-slic", false),
    ("max-gntframes-hvm", false),
    ("max-eventchannels-hvm", false),
];

/// The host of a case: libvirt's test host, or that host with an older libxl.
fn facts(legacy: bool) -> XenHostFacts {
    let mut facts = XenHostFacts::default();
    if legacy {
        facts.nested_hvm_in_build_info = false;
        facts.numa_nodes = 1;
    }
    facts
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

fn compare(expected: &str, ours: &str) -> Result<(), String> {
    if ensure_newline(expected) == ensure_newline(ours) {
        Ok(())
    } else {
        Err(format!("differs\n{}", line_diff(expected, ours)))
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

/// `xlconfigtest`'s replacement of the firmware folder in its XML files.
fn replace_vars(xml: &str, facts: &XenHostFacts) -> String {
    xml.replace("/LIBXL_FIRMWARE_DIR", &facts.firmware_dir)
}

fn check_xl_to_xml(data: &Path, case: &str) -> Result<(), String> {
    let facts = facts(false);
    let cfg = read(&data.join(format!("test-{case}.cfg")))?;
    let expected = replace_vars(&read(&data.join(format!("test-{case}.xml")))?, &facts);
    let domain = virt_xl::xl_to_domain(&cfg, &facts).map_err(|e| format!("error: {e}"))?;
    compare(&expected, &domain.to_xml())
}

fn check_xml_to_xl(data: &Path, case: &str) -> Result<(), String> {
    let facts = facts(false);
    let xml = replace_vars(&read(&data.join(format!("test-{case}.xml")))?, &facts);
    let expected = read(&data.join(format!("test-{case}.cfg")))?;
    let domain = Domain::parse(&xml).map_err(|e| format!("parse error: {e}"))?;
    let ours = virt_xl::domain_to_xl(&domain, &facts).map_err(|e| format!("error: {e}"))?;
    compare(&expected, &ours)
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn check_domconfig(data: &Path, case: &str, legacy: bool) -> Result<(), String> {
    let xml = read(&data.join(format!("{case}.xml")))?;
    let expected = read(&data.join(format!("{case}.json")))?;
    let expected: serde_json::Value =
        serde_json::from_str(&expected).map_err(|e| format!("golden JSON: {e}"))?;
    let domain = Domain::parse(&xml).map_err(|e| format!("parse error: {e}"))?;
    let ours = virt_xl::domain_to_libxl_json(&domain, &facts(legacy))
        .map_err(|e| format!("error: {e}"))?;
    if ours == expected {
        Ok(())
    } else {
        Err(format!(
            "differs\n{}",
            line_diff(&pretty(&expected), &pretty(&ours))
        ))
    }
}

/// Prints one direction's failures and its tally.
fn report(label: &str, verbose: bool, skipped: usize, results: Vec<(String, Result<(), String>)>) {
    let total = results.len();
    let mut identical = 0;
    let mut failing = Vec::new();
    for (case, result) in results {
        match result {
            Ok(()) => identical += 1,
            Err(reason) => {
                if verbose {
                    println!("FAIL {label} {case}: {reason}");
                } else {
                    println!(
                        "FAIL {label} {case}: {}",
                        reason.lines().next().unwrap_or("")
                    );
                }
                failing.push(case);
            }
        }
    }
    if skipped > 0 {
        println!("{label}: {skipped} cases skipped (files not published)");
    }
    println!("{label}: {identical}/{total} identical");
    if !failing.is_empty() {
        println!("{label}: failing: {}", failing.join(" "));
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let wanted = |case: &str| args.only.is_empty() || args.only.iter().any(|c| c == case);

    let xl_data = args.dir.join("xlconfigdata");
    let domconfig_data = args.dir.join("libxlxml2domconfigdata");
    for folder in [&xl_data, &domconfig_data] {
        if !folder.is_dir() {
            eprintln!("{}: not a folder", folder.display());
            return ExitCode::from(2);
        }
    }

    let published = |case: &str| {
        ["cfg", "xml"]
            .iter()
            .all(|extension| xl_data.join(format!("test-{case}.{extension}")).exists())
    };
    let (mut to_xml, mut to_xl) = (Vec::new(), Vec::new());
    let (mut skipped_to_xml, mut skipped_to_xl) = (0, 0);
    for &(case, directions) in XLCONFIG_CASES {
        if !wanted(case) {
            continue;
        }
        let runs_to_xml = directions != Directions::XmlToXl;
        let runs_to_xl = directions != Directions::XlToXml;
        if !published(case) {
            skipped_to_xml += usize::from(runs_to_xml);
            skipped_to_xl += usize::from(runs_to_xl);
            continue;
        }
        if runs_to_xml {
            to_xml.push((case.to_string(), check_xl_to_xml(&xl_data, case)));
        }
        if runs_to_xl {
            to_xl.push((case.to_string(), check_xml_to_xl(&xl_data, case)));
        }
    }
    report("xl2xml", args.verbose, skipped_to_xml, to_xml);
    report("xml2xl", args.verbose, skipped_to_xl, to_xl);

    let mut skipped = 0;
    let mut results = Vec::new();
    for &(case, legacy) in DOMCONFIG_CASES {
        if !wanted(case) {
            continue;
        }
        let published = ["xml", "json"]
            .iter()
            .all(|extension| domconfig_data.join(format!("{case}.{extension}")).exists());
        if !published {
            skipped += 1;
            continue;
        }
        results.push((
            case.to_string(),
            check_domconfig(&domconfig_data, case, legacy),
        ));
    }
    report("xml2json", args.verbose, skipped, results);
    ExitCode::SUCCESS
}
