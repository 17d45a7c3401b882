//! `cargo xtask xml-corpus DIR`: measures virt-xml against libvirt's own golden files.
//!
//! DIR is a libvirt `tests/` data folder (such as `../shared/libvirt-testdata`) or one of its
//! sub-folders. For each folder it knows, it prints `FOLDER: N passed, N failed` and the
//! failing files:
//! - round-trip folders (`qemuxml2xmloutdata`, `networkxml2xmlout`, ...): formatting the
//!   parsed file must give the file back byte for byte;
//! - `qemuxml2argvdata`: a case with an `.args` file must define (parse, post-parse,
//!   validate); a case with an `.err` file must be refused, unless [`QEMU_DRIVER_ONLY`] lists
//!   it (the error comes from the QEMU driver: QEMU capabilities, host state, address
//!   assignment), in which case it must define.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use virt_xml::document::{Document, Kind};

/// `.err` cases of `qemuxml2argvdata` whose error only the QEMU driver can raise (it depends
/// on QEMU's capabilities, the host, or the QEMU driver's own address assignment), so the
/// driver-independent definition must be accepted.
const QEMU_DRIVER_ONLY: &[&str] = &[
    "440fx-wrong-root",
    "aarch64-features-sve-disabled.aarch64-latest",
    "aarch64-features-wrong.aarch64-latest",
    "aarch64-gic-not-arm",
    "aarch64-gic-not-virt",
    "aarch64-kvm-32-on-64",
    "aarch64-tpm-wrong-model",
    "chardev-reconnect-generated-path",
    "cpu-cache-passthrough3",
    "cpu-host-model-nofallback",
    "cpu-hotplug-granularity",
    "cpu-phys-bits-emulate3",
    "cpu-phys-bits-passthrough2",
    "cpu-qemu-host-passthrough",
    "cpu-s390-features",
    "default-video-type-x86_64-caps-test-0",
    "disk-attaching-partition-nosupport.x86_64-latest",
    "disk-encryption-wrong.x86_64-latest",
    "disk-fmt-cow.x86_64-latest",
    "disk-fmt-dir.x86_64-latest",
    "disk-fmt-iso.x86_64-latest",
    "disk-network-rbd-encryption.x86_64-6.0.0",
    "disk-network-tlsx509-nbd-hostname.x86_64-6.2.0",
    "disk-scsi-disk-vpd-build-error.x86_64-latest",
    "disk-shared-qcow.x86_64-latest",
    "disk-usb-pci.x86_64-latest",
    "firmware-manual-efi-noacpi-q35",
    "graphics-spice-invalid-egl-headless.x86_64-latest",
    "hostdev-mdev-display-missing-graphics",
    "hostdev-scsi-vhost-scsi-pci-boot-fail.x86_64-latest",
    "hostdev-subsys-mdev-vfio-ap-boot-fail.s390x-latest",
    "hostdev-subsys-mdev-vfio-ccw",
    "hostdev-subsys-mdev-vfio-ccw-duplicate-address",
    "hostdev-vfio-zpci",
    "hostdev-vfio-zpci-autogenerate-fids",
    "hostdev-vfio-zpci-duplicate",
    "hostdev-vfio-zpci-invalid-uid-valid-fid.s390x-latest",
    "hostdev-vfio-zpci-set-zero",
    "hostdev-vfio-zpci-wrong-arch",
    "hvf-x86_64-q35-headless.x86_64-latest",
    "intel-iommu-wrong-machine.x86_64-latest",
    "mach-virt-serial-invalid-machine",
    "memory-align-fail",
    "memory-hotplug-nonuma",
    "misc-enable-s4",
    "missing-machine.x86_64-latest",
    "net-hostdev-fail",
    "net-vhostuser-fail",
    "net-virtio-rxqueuesize-invalid-size",
    "non-x86_64-timer-error.s390x-latest",
    "numatune-memnode-unavailable-restrictive.x86_64-latest",
    "numatune-memnode-unavailable-strict.x86_64-latest",
    "numatune-static-nodeset-exceed-hostnode",
    "pci-root-nonzero-index",
    "pcie-expander-bus-bad-bus",
    "pcie-root-port-too-many",
    "ppc64-tpm-double",
    "ppc64-tpmproxy-double",
    "pseries-cpu-compat-power10.ppc64-latest",
    "pseries-features-ccf",
    "pseries-features-cfpc",
    "pseries-features-hpt-pagesize",
    "pseries-features-htm",
    "pseries-features-ibs",
    "pseries-features-invalid-machine",
    "pseries-features-nested-hv",
    "pseries-features-sbbc",
    "pseries-no-parallel",
    "pseries-panic-address.ppc64-latest",
    "pseries-serial-invalid-machine",
    "pseries-spaprvio-invalid",
    "q35-dmi-bad-address2",
    "q35-wrong-root",
    "s390-no-parallel",
    "s390-panic-address",
    "serial-unix-missing-source.x86_64-latest",
    "shmem",
    "shmem-invalid-address",
    "shmem-invalid-size",
    "tpm-emulator-tpm2.x86_64-latest",
    "tpm-emulator.x86_64-latest",
    "tseg-i440fx.x86_64-latest",
    "tseg-invalid-size.x86_64-latest",
    "usb-controller-default-unavailable-q35",
    "usb-controller-explicit-unavailable-q35",
    "usb-controller-qemu-xhci-limit",
    "usb-controller-qemu-xhci-unavailable",
    "usb-controller-xhci-limit",
    "usb-hub-conflict",
    "usb-hub-nonexistent",
    "usb-ports-out-of-range",
    "vhost-user-fs-readonly.x86_64-latest",
    "virtio-iommu-invalid-address.x86_64-latest",
    "virtio-iommu-invalid-address-type.x86_64-latest",
    "virtio-iommu-x86_64.x86_64-6.1.0",
    "virtio-options-memballoon-freepage-reporting",
    "virtio-transitional-not-supported.x86_64-latest",
];

/// Folders whose files must format back byte for byte, and the document kind they hold.
const ROUND_TRIP: &[(&str, Kind)] = &[
    ("qemuxml2xmloutdata", Kind::Domain),
    ("lxcxml2xmloutdata", Kind::Domain),
    ("genericxml2xmloutdata", Kind::Domain),
    ("bhyvexml2xmloutdata", Kind::Domain),
    ("networkxml2xmlout", Kind::Network),
    ("storagepoolxml2xmlout", Kind::StoragePool),
    ("storagevolxml2xmlout", Kind::StorageVolume),
    ("qemudomainsnapshotxml2xmlout", Kind::DomainSnapshot),
    ("nodedevxml2xmlout", Kind::NodeDevice),
];

#[derive(Default)]
struct Tally {
    passed: usize,
    failures: Vec<(String, String)>,
}

impl Tally {
    fn print(&self, folder: &str, verbose: bool) {
        println!(
            "{folder}: {} passed, {} failed",
            self.passed,
            self.failures.len()
        );
        for (file, why) in &self.failures {
            if verbose {
                println!("  FAIL {file}: {why}");
            } else {
                println!("  FAIL {file}");
            }
        }
    }
}

pub fn run(args: &[String]) -> ExitCode {
    let verbose = args.iter().any(|arg| arg == "-v" || arg == "--verbose");
    let Some(dir) = args.iter().find(|arg| !arg.starts_with('-')) else {
        eprintln!("usage: cargo xtask xml-corpus [-v] DIR");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let mut folders: Vec<(String, PathBuf)> = Vec::new();
    let base_name = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let known =
        |name: &str| name == "qemuxml2argvdata" || ROUND_TRIP.iter().any(|(n, _)| *n == name);
    if known(&base_name) {
        folders.push((base_name, dir.clone()));
    } else {
        for (name, _) in ROUND_TRIP {
            folders.push((name.to_string(), dir.join(name)));
        }
        folders.push(("qemuxml2argvdata".to_string(), dir.join("qemuxml2argvdata")));
    }
    let mut any_failed = false;
    for (name, path) in folders {
        if !path.is_dir() {
            continue;
        }
        let tally = if name == "qemuxml2argvdata" {
            argv_folder(&path)
        } else {
            let kind = ROUND_TRIP
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, kind)| *kind);
            round_trip_folder(&path, kind.unwrap_or(Kind::Domain))
        };
        any_failed |= !tally.failures.is_empty();
        tally.print(&name, verbose);
    }
    if any_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn round_trip_folder(dir: &Path, kind: Kind) -> Tally {
    let mut tally = Tally::default();
    for path in xml_files(dir) {
        let name = file_name(&path);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                tally.failures.push((name, format!("read: {error}")));
                continue;
            }
        };
        match Document::parse_as(kind, &text) {
            Err(error) => tally
                .failures
                .push((name, format!("parse: {}", error.message()))),
            Ok(doc) => {
                let formatted = doc.to_xml();
                if formatted == text {
                    tally.passed += 1;
                } else {
                    tally
                        .failures
                        .push((name, first_difference(&text, &formatted)));
                }
            }
        }
    }
    tally
}

/// The outputs libvirt's argv test writes for input `STEM.xml`: `STEM.args`/`STEM.err` or
/// `STEM.ARCH-VERSION.args`/`.err` (e.g. `STEM.x86_64-latest.args`).
fn argv_outputs(dir: &Path, stem: &str) -> (bool, Vec<String>) {
    let mut has_args = false;
    let mut errs = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (false, errs);
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(stem) else {
            continue;
        };
        let (middle, is_args) = if let Some(middle) = rest.strip_suffix(".args") {
            (middle, true)
        } else if let Some(middle) = rest.strip_suffix(".err") {
            (middle, false)
        } else {
            continue;
        };
        let variant_ok = middle.is_empty()
            || middle.strip_prefix('.').is_some_and(|variant| {
                variant.split_once('-').is_some_and(|(arch, version)| {
                    !arch.is_empty()
                        && arch.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        && (version == "latest"
                            || version
                                .split('.')
                                .all(|n| n.chars().all(|c| c.is_ascii_digit())))
                })
            });
        if !variant_ok {
            continue;
        }
        if is_args {
            has_args = true;
        } else {
            errs.push(name.trim_end_matches(".err").to_string());
        }
    }
    errs.sort();
    (has_args, errs)
}

fn argv_folder(dir: &Path) -> Tally {
    let mut tally = Tally::default();
    for path in xml_files(dir) {
        let name = file_name(&path);
        let stem = name.trim_end_matches(".xml");
        let (has_args, errs) = argv_outputs(dir, stem);
        if !has_args && errs.is_empty() {
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                tally.failures.push((name, format!("read: {error}")));
                continue;
            }
        };
        let result = virt_xml::domain::Domain::parse_for_define(&text);
        let must_define = has_args
            || errs
                .iter()
                .all(|err| QEMU_DRIVER_ONLY.contains(&err.as_str()));
        match (must_define, result) {
            (true, Ok(_)) | (false, Err(_)) => tally.passed += 1,
            (true, Err(error)) => tally
                .failures
                .push((name, format!("refused: {}", error.message()))),
            (false, Ok(_)) => {
                let expected = errs
                    .first()
                    .and_then(|err| std::fs::read_to_string(dir.join(format!("{err}.err"))).ok())
                    .unwrap_or_default();
                tally
                    .failures
                    .push((name, format!("accepted, libvirt says: {}", expected.trim())));
            }
        }
    }
    tally
}

fn first_difference(expected: &str, got: &str) -> String {
    for (idx, (want, have)) in expected.lines().zip(got.lines()).enumerate() {
        if want != have {
            return format!(
                "line {}: want `{}` got `{}`",
                idx + 1,
                want.trim(),
                have.trim()
            );
        }
    }
    format!(
        "length differs: want {} lines, got {} lines",
        expected.lines().count(),
        got.lines().count()
    )
}
