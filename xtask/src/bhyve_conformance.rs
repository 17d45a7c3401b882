//! `cargo xtask bhyve-conformance [-v] [DIR] [CASE...]`: how many of libvirt's bhyve golden
//! cases the bhyve plugin reproduces, in three folders of DIR (default
//! `../shared/libvirt-testdata`):
//!
//! - `bhyvexml2argvdata`: each `NAME.xml`, prepared as the driver keeps a definition, must
//!   give `NAME.args` (bhyve), `NAME.ldargs` (the loader, `dummy` for a UEFI guest) and
//!   `NAME.devmap` (grub-bhyve's device map) byte for byte, with the capabilities libvirt's
//!   `bhyvexml2argvtest` runs that case with; a case that test expects to fail must fail
//!   (or, as libvirt's harness accepts, produce exactly the golden files);
//! - `bhyvexml2xmloutdata`: each `bhyvexml2xmlout-NAME.xml` must be what preparing
//!   `bhyvexml2argvdata/bhyvexml2argv-NAME.xml` formats to;
//! - `bhyveargv2xmldata`: each `NAME.args` read back must format to `NAME.xml`, and fail
//!   when there is no `NAME.xml`.
//!
//! The harness mocks of libvirt's tests are repeated: tap device `faketapdev`, generated MAC
//! 52:54:00:00:00:00, VNC ports from 5900, UUID c7a5fdbd-edaf-9455-926a-d65c16db1809 for a
//! command line without `-U`. With `-v`, every failure is printed with a line diff.

use std::path::Path;
use std::process::ExitCode;

use rvirt_driver_bhyve::caps::{BhyveCaps, GRUB_CONSDEV};
use rvirt_driver_bhyve::command::{self, Environment};
use rvirt_driver_bhyve::{address, native};
use virt_xml::domain::Domain;

use crate::conformance::{line_diff, CaseArgs};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Match,
    /// Parsing or building fails, or the output equals the golden files.
    Fail,
    /// Parsing (with the driver's post-parse) fails.
    ParseError,
}

/// `bhyvexml2argvtest`'s runs, in its order: case, capabilities removed so far, whether
/// grub-bhyve has `--cons-dev`, and the outcome it expects.
fn argv_runs() -> Vec<(&'static str, BhyveCaps, u32, Expect)> {
    use Expect::*;
    let s0 = BhyveCaps(BhyveCaps::ALL);
    let s1 = s0.without(BhyveCaps::VIRTIO_9P);
    let s2 = s1.without(BhyveCaps::AHCI32SLOT);
    let s3 = s2.without(BhyveCaps::XHCI);
    let s4 = s3.without(BhyveCaps::NET_E1000);
    let s5 = s4.without(BhyveCaps::LPC_BOOTROM);
    let s6 = s5.without(BhyveCaps::FBUF);
    let s7 = s6.without(BhyveCaps::CPUTOPOLOGY);
    let s8 = s7.without(BhyveCaps::SOUND_HDA);
    let s9 = s8.without(BhyveCaps::VNC_PASSWORD);
    let g = GRUB_CONSDEV;
    let mut runs = Vec::new();
    for (case, expect) in [
        ("base", Match),
        ("wired", Match),
        ("acpiapic", Match),
        ("disk-cdrom", Match),
        ("disk-virtio", Match),
        ("macaddr", Match),
        ("serial", Match),
        ("console", Match),
        ("console-master-slave-not-specified", Match),
        ("grub-defaults", Match),
        ("grub-bootorder", Match),
        ("grub-bootorder2", Match),
        ("bhyveload-bootorder", Match),
        ("bhyveload-bootorder1", Match),
        ("bhyveload-bootorder2", Fail),
        ("bhyveload-bootorder3", Match),
        ("bhyveload-explicitargs", Match),
        ("bhyveload-bootorder4", Fail),
        ("bhyveload-bootorder5", ParseError),
        ("custom-loader", Match),
        ("disk-cdrom-grub", Match),
        ("serial-grub", Match),
        ("localtime", Match),
        ("net-e1000", Match),
        ("uefi", Match),
        ("vnc", Match),
        ("vnc-vgaconf-on", Match),
        ("vnc-vgaconf-off", Match),
        ("vnc-vgaconf-io", Match),
        ("vnc-autoport", Match),
        ("vnc-resolution", Match),
        ("vnc-password", Match),
        ("vnc-password-comma", Fail),
        ("cputopology", Match),
        ("cputopology-nvcpu-mismatch", Fail),
        ("commandline", Match),
        ("msrs", Match),
        ("sound", Match),
        ("isa-controller", Match),
        ("isa-multiple-controllers", Fail),
        ("fs-9p", Match),
        ("fs-9p-readonly", Match),
        ("fs-9p-unsupported-type", Fail),
        ("fs-9p-unsupported-driver", Fail),
        ("fs-9p-unsupported-accessmode", Fail),
    ] {
        runs.push((case, s0, g, expect));
    }
    runs.push(("fs-9p", s1, g, Fail));
    for case in [
        "addr-single-sata-disk",
        "addr-multiple-sata-disks",
        "addr-more-than-32-sata-disks",
        "addr-single-virtio-disk",
        "addr-multiple-virtio-disks",
        "addr-isa-controller-on-slot-1",
        "addr-isa-controller-on-slot-31",
        "addr-non-isa-controller-on-slot-1",
    ] {
        runs.push((case, s1, g, Match));
    }
    for (case, expect) in [
        ("addr-no32devs-single-sata-disk", Match),
        ("addr-no32devs-multiple-sata-disks", Match),
        ("addr-no32devs-more-than-32-sata-disks", Fail),
        ("input-xhci-tablet", Match),
        ("xhci-multiple-controllers", Fail),
        ("xhci-no-devs", Fail),
        ("xhci-multiple-devs", Fail),
    ] {
        runs.push((case, s2, g, expect));
    }
    runs.push(("input-xhci-tablet", s3, g, Fail));
    runs.push(("serial-grub-nocons", s3, 0, Match));
    runs.push(("net-e1000", s4, 0, Fail));
    runs.push(("uefi", s5, 0, Fail));
    runs.push(("vnc", s6, 0, Fail));
    runs.push(("cputopology", s7, 0, Fail));
    runs.push(("sound", s8, 0, Fail));
    runs.push(("vnc-password", s9, 0, Fail));
    runs
}

const MOCK_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x00, 0x00];

/// A definition as the driver keeps it, with the harness's MAC addresses.
fn prepare(xml: &str, caps: BhyveCaps) -> Result<Domain, String> {
    let mut domain = Domain::parse(xml).map_err(|e| format!("parse error: {e}"))?;
    domain.assign_mac_addresses(|| MOCK_MAC);
    address::prepare(&mut domain, caps).map_err(|e| format!("post-parse error: {e}"))?;
    Ok(domain)
}

/// The three files a case's definition gives.
fn build(domain: &Domain, caps: BhyveCaps, grub_caps: u32) -> Result<[String; 3], String> {
    let taps = vec!["faketapdev".to_string(); domain.devices.interfaces.len()];
    let mut next_port = 5900u16;
    let mut vnc_port = || {
        let port = next_port;
        next_port += 1;
        Ok(port)
    };
    let mut env = Environment {
        caps,
        grub_caps,
        taps: &taps,
        vnc_port: &mut vnc_port,
    };
    let bhyve = command::bhyve_argv(domain, &mut env).map_err(|e| format!("bhyve: {e}"))?;
    let loader = command::loader_command(domain, &env, "<device.map>")
        .map_err(|e| format!("loader: {e}"))?;
    let (ldargs, devmap) = match loader {
        Some(loader) => (
            command::to_test_string(&loader.argv),
            loader.device_map.unwrap_or_default(),
        ),
        None => ("dummy\n".to_string(), String::new()),
    };
    Ok([command::to_test_string(&bhyve), ldargs, devmap])
}

fn check_argv_case(
    data: &Path,
    case: &str,
    caps: BhyveCaps,
    grub_caps: u32,
    expect: Expect,
) -> Result<(), String> {
    let read = |extension: &str| {
        std::fs::read_to_string(data.join(format!("bhyvexml2argv-{case}.{extension}"))).ok()
    };
    let xml = read("xml").ok_or("no input")?;
    let built = prepare(&xml, caps).and_then(|domain| build(&domain, caps, grub_caps));
    let compare = |files: &[String; 3]| -> Result<(), String> {
        let mut problems = Vec::new();
        for ((extension, ours), trim) in ["args", "ldargs", "devmap"]
            .iter()
            .zip(files)
            .zip([false, false, true])
        {
            let expected = read(extension).unwrap_or_default();
            let (expected, ours) = if trim {
                (expected.trim().to_string(), ours.trim().to_string())
            } else {
                (ensure_newline(&expected), ensure_newline(ours))
            };
            if expected != ours {
                problems.push(format!(
                    "{extension} differs\n{}",
                    line_diff(&expected, &ours)
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    };
    match (expect, built) {
        (Expect::Match, Ok(files)) => compare(&files),
        (Expect::Match, Err(error)) => Err(error),
        (Expect::Fail, Err(_)) => Ok(()),
        (Expect::Fail, Ok(files)) => {
            compare(&files).map_err(|_| "expected to fail, but built".to_string())
        }
        (Expect::ParseError, Err(error))
            if !error.starts_with("bhyve") && !error.starts_with("loader") =>
        {
            Ok(())
        }
        (Expect::ParseError, _) => Err("expected a parse error".to_string()),
    }
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

fn check_xml_case(argv_data: &Path, out_data: &Path, case: &str) -> Result<(), String> {
    let expected = std::fs::read_to_string(out_data.join(format!("bhyvexml2xmlout-{case}.xml")))
        .map_err(|e| format!("read: {e}"))?;
    let input = std::fs::read_to_string(argv_data.join(format!("bhyvexml2argv-{case}.xml")))
        .map_err(|e| format!("read input: {e}"))?;
    let caps = if case.starts_with("addr-no32devs") || case.contains("xhci") {
        BhyveCaps(0)
    } else {
        BhyveCaps(BhyveCaps::AHCI32SLOT)
    };
    let domain = prepare(&input, caps)?;
    let ours = domain.to_xml();
    if ensure_newline(&ours) == ensure_newline(&expected) {
        Ok(())
    } else {
        Err(format!("differs\n{}", line_diff(&expected, &ours)))
    }
}

fn check_native_case(data: &Path, case: &str) -> Result<(), String> {
    let args = std::fs::read_to_string(data.join(format!("{case}.args")))
        .map_err(|e| format!("read: {e}"))?;
    let expected = std::fs::read_to_string(data.join(format!("{case}.xml"))).ok();
    let defaults = native::NativeDefaults {
        uuid: virt_core::parse_uuid("c7a5fdbd-edaf-9455-926a-d65c16db1809")
            .ok_or("bad mock uuid")?,
        mac: MOCK_MAC,
    };
    let mut warnings = Vec::new();
    let parsed = native::domain_from_argv(&args, &defaults, &mut warnings);
    match (parsed, expected) {
        (Ok(domain), Some(expected)) => {
            let ours = domain.to_xml();
            if ensure_newline(&ours) == ensure_newline(&expected) {
                Ok(())
            } else {
                Err(format!("differs\n{}", line_diff(&expected, &ours)))
            }
        }
        (Err(error), Some(_)) => Err(format!("error: {error}")),
        (Ok(_), None) => Err("expected to fail, but parsed".to_string()),
        (Err(_), None) => Ok(()),
    }
}

/// Prints one folder's failures and its tally.
fn report(
    folder: &str,
    verbose: bool,
    results: Vec<(String, Result<(), String>)>,
) -> (usize, usize) {
    let total = results.len();
    let mut matching = 0;
    for (case, result) in results {
        match result {
            Ok(()) => matching += 1,
            Err(reason) if verbose => println!("FAIL {folder} {case}: {reason}"),
            Err(reason) => println!(
                "FAIL {folder} {case}: {}",
                reason.lines().next().unwrap_or("")
            ),
        }
    }
    println!("{folder}: {matching}/{total} cases match");
    (matching, total)
}

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let argv_data = args.dir.join("bhyvexml2argvdata");
    let out_data = args.dir.join("bhyvexml2xmloutdata");
    let native_data = args.dir.join("bhyveargv2xmldata");
    let wanted = |case: &str| args.only.is_empty() || args.only.iter().any(|c| c == case);

    let runs: Vec<(String, Result<(), String>)> = argv_runs()
        .into_iter()
        .filter(|(case, ..)| wanted(case))
        .filter(|(case, ..)| argv_data.join(format!("bhyvexml2argv-{case}.xml")).exists())
        .map(|(case, caps, grub_caps, expect)| {
            let label = format!("{case} (caps {:#x})", caps.0);
            (
                label,
                check_argv_case(&argv_data, case, caps, grub_caps, expect),
            )
        })
        .collect();
    report("bhyvexml2argvdata", args.verbose, runs);

    // Files named by folder prefix: the cases asked for are matched after the prefix.
    let every = CaseArgs {
        verbose: args.verbose,
        dir: args.dir.clone(),
        only: Vec::new(),
    };
    let out_cases = match every.cases(&out_data, ".xml", |_| true) {
        Ok(cases) => cases,
        Err(status) => return status,
    };
    // libvirt keeps some inputs out of the published data: those outputs cannot be checked.
    let has_input = |case: &&str| argv_data.join(format!("bhyvexml2argv-{case}.xml")).exists();
    let xml_cases: Vec<&str> = out_cases
        .iter()
        .filter_map(|file| file.strip_prefix("bhyvexml2xmlout-"))
        .filter(|case| wanted(case))
        .collect();
    let without_input = xml_cases.iter().filter(|case| !has_input(case)).count();
    if without_input > 0 {
        println!("bhyvexml2xmloutdata: {without_input} cases skipped (input not published)");
    }
    let xml_results = xml_cases
        .into_iter()
        .filter(has_input)
        .map(|case| {
            (
                case.to_string(),
                check_xml_case(&argv_data, &out_data, case),
            )
        })
        .collect();
    report("bhyvexml2xmloutdata", args.verbose, xml_results);

    let native_cases = match args.cases(&native_data, ".args", |_| true) {
        Ok(cases) => cases,
        Err(status) => return status,
    };
    let native_results = native_cases
        .iter()
        .map(|case| (case.clone(), check_native_case(&native_data, case)))
        .collect();
    report("bhyveargv2xmldata", args.verbose, native_results);
    ExitCode::SUCCESS
}
