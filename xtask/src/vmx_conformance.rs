//! `cargo xtask vmx-conformance [-v] [DIR] [CASE...]`: how many of libvirt's VMX golden
//! cases `virt-vmx` reproduces, in two folders of DIR (default `../shared/libvirt-testdata`):
//!
//! - `vmx2xmldata`: each `NAME.vmx` libvirt's `vmx2xmltest` runs must format to `NAME.xml`
//!   byte for byte, or fail to convert where that test expects a failure;
//! - `xml2vmxdata`: each `xml2vmx-NAME.xml` libvirt's `xml2vmxtest` runs must give
//!   `xml2vmx-NAME.vmx` at the virtual hardware version that test uses for it.
//!
//! The test harnesses' context is repeated: a file name without a directory is in
//! `[datastore] directory/`, `/vmfs/volumes/DS/PATH` is `[DS] PATH` (and back), a datastore
//! called `missing` or a path starting with `missing` is a missing file, SCSI controllers
//! with `model='auto'` are `lsilogic`, and the `datacenterpath` case runs with the
//! datacenter path `folder1/folder2/datacenter1`. Cases whose files libvirt did not publish
//! are skipped and counted. With `-v`, every failure is printed with a line diff.

use std::path::Path;
use std::process::ExitCode;

use virt_core::Error;
use virt_vmx::{ScsiControllerModel, VmxContext};
use virt_xml::domain::{Disk, Domain};

use crate::conformance::{line_diff, CaseArgs};

/// What a `vmx2xmltest` case expects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Match,
    Fail,
}

/// `vmx2xmltest`'s cases in its order, with the datacenter path each runs with.
fn vmx2xml_runs() -> Vec<(&'static str, Expect, Option<&'static str>)> {
    use Expect::*;
    let mut runs: Vec<(&'static str, Expect, Option<&'static str>)> = [
        "case-insensitive-1",
        "case-insensitive-2",
        "minimal",
        "minimal-64bit",
        "graphics-vnc",
        "scsi-driver",
        "scsi-writethrough",
        "harddisk-scsi-file",
        "harddisk-ide-file",
        "harddisk-transient",
        "cdrom-scsi-file",
        "cdrom-scsi-empty",
        "cdrom-scsi-device",
        "cdrom-scsi-raw-device",
        "cdrom-scsi-raw-auto-detect",
        "cdrom-scsi-passthru",
        "cdrom-ide-file",
        "cdrom-ide-empty",
        "cdrom-ide-empty-2",
        "cdrom-ide-device",
        "cdrom-ide-raw-device",
        "cdrom-ide-raw-auto-detect",
        "cdrom-ide-file-missing-datastore",
        "cdrom-ide-file-missing-file",
    ]
    .into_iter()
    .map(|case| (case, Match, None))
    .collect();
    runs.push(("harddisk-ide-file-missing-datastore", Fail, None));
    runs.push(("harddisk-scsi-file-missing-file", Fail, None));
    for case in [
        "floppy-file",
        "floppy-device",
        "sharedfolder",
        "ethernet-e1000",
        "ethernet-vmxnet2",
        "ethernet-custom",
        "ethernet-bridged",
        "ethernet-nat",
        "ethernet-generated",
        "ethernet-static",
        "ethernet-vpx",
        "ethernet-other",
        "ethernet-null",
        "ethernet-vds",
        "serial-file",
        "serial-device",
        "serial-pipe-client-app",
        "serial-pipe-client-vm",
        "serial-pipe-server-app",
        "serial-pipe-server-vm",
        "serial-network-server",
        "serial-network-client",
        "parallel-file",
        "parallel-device",
        "esx-in-the-wild-1",
        "esx-in-the-wild-2",
        "esx-in-the-wild-3",
        "esx-in-the-wild-4",
        "esx-in-the-wild-5",
        "esx-in-the-wild-6",
        "esx-in-the-wild-7",
        "esx-in-the-wild-8",
        "esx-in-the-wild-9",
        "esx-in-the-wild-10",
        "esx-in-the-wild-11",
        "gsx-in-the-wild-1",
        "gsx-in-the-wild-2",
        "gsx-in-the-wild-3",
        "gsx-in-the-wild-4",
        "ws-in-the-wild-1",
        "ws-in-the-wild-2",
        "fusion-in-the-wild-1",
        "annotation",
        "smbios",
        "svga",
        "firmware-efi",
    ] {
        runs.push((case, Match, None));
    }
    runs.push(("datacenterpath", Match, Some("folder1/folder2/datacenter1")));
    runs
}

/// `xml2vmxtest`'s cases in its order: input, output and virtual hardware version.
fn xml2vmx_runs() -> Vec<(&'static str, u32)> {
    vec![
        ("minimal", 4),
        ("minimal-64bit", 4),
        ("graphics-vnc", 4),
        ("scsi-driver", 4),
        ("scsi-writethrough", 4),
        ("harddisk-scsi-file", 4),
        ("harddisk-ide-file", 4),
        ("cdrom-scsi-file", 4),
        ("cdrom-scsi-empty", 4),
        ("cdrom-scsi-device", 4),
        ("cdrom-scsi-raw-device", 4),
        ("cdrom-scsi-raw-auto-detect", 4),
        ("cdrom-scsi-passthru", 4),
        ("cdrom-ide-file", 4),
        ("cdrom-ide-empty", 4),
        ("cdrom-ide-device", 4),
        ("cdrom-ide-raw-device", 4),
        ("cdrom-ide-raw-auto-detect", 4),
        ("floppy-file", 4),
        ("floppy-device", 4),
        ("sharedfolder", 4),
        ("ethernet-e1000", 4),
        ("ethernet-vmxnet2", 4),
        ("ethernet-custom", 4),
        ("ethernet-bridged", 4),
        ("ethernet-nat", 4),
        ("ethernet-generated", 4),
        ("ethernet-static", 4),
        ("ethernet-vpx", 4),
        ("ethernet-other", 4),
        ("ethernet-mac-type", 4),
        ("ethernet-null", 4),
        ("ethernet-vds", 4),
        ("serial-file", 4),
        ("serial-device", 4),
        ("serial-pipe", 4),
        ("serial-network-server", 7),
        ("serial-network-client", 7),
        ("parallel-file", 4),
        ("parallel-device", 4),
        ("esx-in-the-wild-1", 4),
        ("esx-in-the-wild-2", 4),
        ("esx-in-the-wild-3", 4),
        ("esx-in-the-wild-4", 4),
        ("esx-in-the-wild-5", 4),
        ("esx-in-the-wild-6", 4),
        ("esx-in-the-wild-7", 4),
        ("esx-in-the-wild-9", 10),
        ("gsx-in-the-wild-1", 4),
        ("gsx-in-the-wild-2", 4),
        ("gsx-in-the-wild-3", 4),
        ("gsx-in-the-wild-4", 4),
        ("ws-in-the-wild-1", 8),
        ("ws-in-the-wild-2", 8),
        ("fusion-in-the-wild-1", 9),
        ("annotation", 4),
        ("smbios", 4),
        ("svga", 4),
        ("firmware-efi", 4),
        ("datacenterpath", 4),
    ]
}

/// The context libvirt's two VMX tests give the converters.
struct HarnessContext {
    datacenter_path: Option<&'static str>,
}

/// A failure the harness's callbacks report without a message of their own.
fn harness_error(what: &str, name: &str) -> Error {
    Error::new(
        virt_core::ErrorNumber::INTERNAL_ERROR,
        virt_core::ErrorDomain::NONE,
        format!("{what} '{name}'"),
    )
}

impl VmxContext for HarnessContext {
    fn parse_file_name(
        &self,
        file_name: &str,
        allow_missing: bool,
    ) -> Result<Option<String>, Error> {
        if let Some(rest) = file_name.strip_prefix("/vmfs/volumes/") {
            // `/vmfs/volumes/<datastore>/<path>`, split as strtok_r splits it.
            let rest = rest.trim_start_matches('/');
            let (datastore, path) = rest
                .split_once('/')
                .filter(|(datastore, path)| !datastore.is_empty() && !path.is_empty())
                .ok_or_else(|| harness_error("Unparsable datastore path", file_name))?;
            if datastore == "missing" || path.starts_with("missing") {
                if allow_missing {
                    return Ok(None);
                }
                return Err(harness_error("Referenced missing file", file_name));
            }
            Ok(Some(format!("[{datastore}] {path}")))
        } else if file_name.starts_with('/') {
            Ok(Some(file_name.to_string()))
        } else if file_name.contains('/') {
            Err(harness_error("Relative path", file_name))
        } else {
            Ok(Some(format!("[datastore] directory/{file_name}")))
        }
    }

    fn format_file_name(&self, source: &str) -> Result<String, Error> {
        if let Some(rest) = source.strip_prefix('[') {
            // `[<datastore>] <path>`, the path optional.
            let rest_after_brackets = rest.trim_start_matches(']');
            if rest.starts_with(']') || rest_after_brackets.is_empty() {
                return Err(harness_error("Unparsable datastore path", source));
            }
            let (datastore, path) = rest_after_brackets
                .split_once(']')
                .unwrap_or((rest_after_brackets, ""));
            let path = path.trim_start_matches(' ');
            Ok(format!("/vmfs/volumes/{datastore}/{path}"))
        } else if source.starts_with('/') {
            Ok(source.to_string())
        } else {
            Err(harness_error("Relative path", source))
        }
    }

    fn autodetect_scsi_controller_model(
        &self,
        _disk: &Disk,
    ) -> Option<Result<ScsiControllerModel, Error>> {
        Some(Ok(ScsiControllerModel::Lsilogic))
    }

    fn datacenter_path(&self) -> Option<&str> {
        self.datacenter_path
    }
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

fn check_vmx2xml_case(
    data: &Path,
    case: &str,
    expect: Expect,
    datacenter_path: Option<&'static str>,
) -> Result<(), String> {
    let vmx = std::fs::read_to_string(data.join(format!("{case}.vmx")))
        .map_err(|e| format!("read: {e}"))?;
    let ctx = HarnessContext { datacenter_path };
    let converted = virt_vmx::vmx_to_domain(&ctx, &vmx);
    match (expect, converted) {
        (Expect::Fail, Err(_)) => Ok(()),
        (Expect::Fail, Ok(_)) => Err("expected to fail, but converted".to_string()),
        (Expect::Match, Err(error)) => Err(format!("error: {error}")),
        (Expect::Match, Ok(domain)) => {
            let expected = std::fs::read_to_string(data.join(format!("{case}.xml")))
                .map_err(|e| format!("read: {e}"))?;
            compare(&expected, &domain.to_xml())
        }
    }
}

fn check_xml2vmx_case(data: &Path, case: &str, version: u32) -> Result<(), String> {
    let read = |extension: &str| {
        std::fs::read_to_string(data.join(format!("xml2vmx-{case}.{extension}")))
            .map_err(|e| format!("read: {e}"))
    };
    let xml = read("xml")?;
    let expected = read("vmx")?;
    let domain = Domain::parse(&xml).map_err(|e| format!("parse error: {e}"))?;
    let ctx = HarnessContext {
        datacenter_path: None,
    };
    let ours =
        virt_vmx::domain_to_vmx(&ctx, &domain, version).map_err(|e| format!("error: {e}"))?;
    compare(&expected, &ours)
}

/// Prints one folder's failures and its tally.
fn report(folder: &str, verbose: bool, skipped: usize, results: Vec<(String, Result<(), String>)>) {
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
    if skipped > 0 {
        println!("{folder}: {skipped} cases skipped (files not published)");
    }
    println!("{folder}: {matching}/{total}");
}

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let wanted = |case: &str| args.only.is_empty() || args.only.iter().any(|c| c == case);

    let vmx_data = args.dir.join("vmx2xmldata");
    if !vmx_data.is_dir() {
        eprintln!("{}: not a folder", vmx_data.display());
        return ExitCode::from(2);
    }
    let mut skipped = 0;
    let mut results = Vec::new();
    for (case, expect, datacenter_path) in vmx2xml_runs() {
        if !wanted(case) {
            continue;
        }
        let published = vmx_data.join(format!("{case}.vmx")).exists()
            && (expect == Expect::Fail || vmx_data.join(format!("{case}.xml")).exists());
        if !published {
            skipped += 1;
            continue;
        }
        results.push((
            case.to_string(),
            check_vmx2xml_case(&vmx_data, case, expect, datacenter_path),
        ));
    }
    report("vmx2xmldata", args.verbose, skipped, results);

    let xml_data = args.dir.join("xml2vmxdata");
    if !xml_data.is_dir() {
        eprintln!("{}: not a folder", xml_data.display());
        return ExitCode::from(2);
    }
    let mut skipped = 0;
    let mut results = Vec::new();
    for (case, version) in xml2vmx_runs() {
        if !wanted(case) {
            continue;
        }
        let published = ["xml", "vmx"].iter().all(|extension| {
            xml_data
                .join(format!("xml2vmx-{case}.{extension}"))
                .exists()
        });
        if !published {
            skipped += 1;
            continue;
        }
        results.push((
            case.to_string(),
            check_xml2vmx_case(&xml_data, case, version),
        ));
    }
    report("xml2vmxdata", args.verbose, skipped, results);
    ExitCode::SUCCESS
}
