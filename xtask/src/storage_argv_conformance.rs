//! `cargo xtask storage-argv-conformance [-v] [DIR] [CASE...]`: how many of libvirt's
//! `storagepoolxml2argvdata` and `storagevolxml2argvdata` cases the storage plugin turns into
//! the same command lines.
//!
//! DIR is libvirt's test data folder (default `../shared/libvirt-testdata`).
//!
//! Pools: each `POOL[-linux|-freebsd].argv` is the `mount` of an `fs`/`netfs` pool or the
//! `vgchange -aly` of a `logical` pool read from `storagepoolxml2xmlin/POOL.xml`, for the
//! platform the suffix names (none: a platform without default mount options).
//!
//! Volumes: libvirt's `storagevolxml2argvtest` pairs each golden file with a pool, a volume
//! and optionally an input pool and volume (a clone), plus its flags; [`VOLUME_CASES`] is that
//! table. Secrets are written to `/path/to/secretFile` and `/path/to/inputSecretFile`, as in
//! libvirt's harness. A case whose input XML is not in DIR is listed as skipped.
//!
//! The comparison is of the text libvirt prints (`virCommandToStringFull` with line breaks),
//! byte for byte but for the final newline; `-v` prints a line diff of each failure.

use std::path::Path;
use std::process::ExitCode;

use rvirt_driver_storage::pool_commands::{self, Platform};
use rvirt_driver_storage::volume_image::{self, CapacityRule, MakeVolume, VolumeImage};
use virt_xml::storage::{PoolType, StoragePool};

use crate::conformance::{line_diff, CaseArgs};

/// One `storagevolxml2argvtest` case: pool, volume, input pool, input volume, golden file,
/// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`, `VIR_VOL_XML_PARSE_OPT_CAPACITY`.
struct VolumeCase {
    pool: &'static str,
    volume: &'static str,
    input: Option<(&'static str, &'static str)>,
    golden: &'static str,
    preallocate: bool,
    optional_capacity: bool,
}

const fn case(
    pool: &'static str,
    volume: &'static str,
    input: Option<(&'static str, &'static str)>,
    golden: &'static str,
    preallocate: bool,
) -> VolumeCase {
    VolumeCase {
        pool,
        volume,
        input,
        golden,
        preallocate,
        optional_capacity: false,
    }
}

const DIR: &str = "pool-dir";
const LOGICAL: &str = "pool-logical";

/// libvirt 9.0's table, in its order (the cases it expects to fail are not golden files).
const VOLUME_CASES: &[VolumeCase] = &[
    case(DIR, "vol-qcow2", None, "qcow2-compat", false),
    case(
        DIR,
        "vol-qcow2-nobacking",
        None,
        "qcow2-nobacking-prealloc-compat",
        true,
    ),
    case(
        DIR,
        "vol-qcow2-nobacking",
        Some((DIR, "vol-file")),
        "qcow2-nobacking-convert-prealloc-compat",
        true,
    ),
    case(DIR, "vol-qcow2-lazy", None, "qcow2-lazy", false),
    case(DIR, "vol-qcow2-1.1", None, "qcow2-1.1", false),
    case(
        DIR,
        "vol-qcow2-nobacking",
        Some((LOGICAL, "vol-logical")),
        "qcow2-from-logical-compat",
        false,
    ),
    case(
        LOGICAL,
        "vol-logical",
        Some((DIR, "vol-qcow2-nobacking")),
        "logical-from-qcow2",
        false,
    ),
    case(DIR, "vol-qcow2-nocow", None, "qcow2-nocow-compat", false),
    case(
        DIR,
        "vol-qcow2-nocapacity",
        Some((DIR, "vol-file")),
        "qcow2-nocapacity-convert-prealloc",
        true,
    ),
    case(
        DIR,
        "vol-qcow2-zerocapacity",
        None,
        "qcow2-zerocapacity",
        false,
    ),
    VolumeCase {
        pool: DIR,
        volume: "vol-qcow2-nocapacity-backing",
        input: None,
        golden: "qcow2-nocapacity",
        preallocate: false,
        optional_capacity: true,
    },
    case(
        DIR,
        "vol-qcow2-clusterSize",
        None,
        "qcow2-clusterSize",
        false,
    ),
    case(DIR, "vol-file-iso", None, "iso", false),
    case(
        DIR,
        "vol-file",
        Some((DIR, "vol-file-iso")),
        "iso-input",
        false,
    ),
    case(DIR, "vol-luks", None, "luks", false),
    case(DIR, "vol-luks-cipher", None, "luks-cipher", false),
    case(DIR, "vol-qcow2-luks", None, "qcow2-luks", false),
    case(
        DIR,
        "vol-luks-convert",
        Some((DIR, "vol-file")),
        "luks-convert",
        false,
    ),
    case(
        DIR,
        "vol-luks-convert",
        Some((DIR, "vol-file-qcow2")),
        "luks-convert-qcow2",
        false,
    ),
    case(
        DIR,
        "vol-luks",
        Some((DIR, "vol-luks-convert")),
        "luks-convert-encrypt",
        false,
    ),
    case(
        DIR,
        "vol-file",
        Some((DIR, "vol-luks-convert")),
        "luks-convert-encrypt2fileraw",
        false,
    ),
    case(
        DIR,
        "vol-file-qcow2",
        Some((DIR, "vol-luks-convert")),
        "luks-convert-encrypt2fileqcow2",
        false,
    ),
    case(
        DIR,
        "vol-qcow2-luks",
        Some((DIR, "vol-qcow2-luks-convert")),
        "qcow2-luks-convert-encrypt",
        false,
    ),
    case(
        DIR,
        "vol-file",
        Some((DIR, "vol-qcow2-luks-convert")),
        "qcow2-luks-convert-encrypt2fileraw",
        false,
    ),
    case(
        DIR,
        "vol-file-qcow2",
        Some((DIR, "vol-qcow2-luks-convert")),
        "qcow2-luks-convert-encrypt2fileqcow2",
        false,
    ),
];

enum Outcome {
    Match,
    Skipped(String),
    Fail(String),
}

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let pool_data = args.dir.join("storagepoolxml2argvdata");
    let pool_cases = match args.cases(&pool_data, ".argv", |_| true) {
        Ok(cases) => cases,
        Err(status) => return status,
    };
    let mut pools = Tally::default();
    for case in &pool_cases {
        pools.record(case, check_pool(&args.dir, case), args.verbose);
    }
    println!(
        "storage pool argv conformance ({}): {}/{} cases match{}",
        pool_data.display(),
        pools.matching,
        pools.compared,
        pools.skipped_note()
    );
    let vol_data = args.dir.join("storagevolxml2argvdata");
    let mut volumes = Tally::default();
    for case in VOLUME_CASES {
        if !args.only.is_empty() && !args.only.iter().any(|only| only == case.golden) {
            continue;
        }
        if !vol_data.join(format!("{}.argv", case.golden)).exists() {
            continue;
        }
        volumes.record(case.golden, check_volume(&args.dir, case), args.verbose);
    }
    println!(
        "storage volume argv conformance ({}): {}/{} cases match{}",
        vol_data.display(),
        volumes.matching,
        volumes.compared,
        volumes.skipped_note()
    );
    ExitCode::SUCCESS
}

#[derive(Default)]
struct Tally {
    matching: usize,
    compared: usize,
    skipped: usize,
}

impl Tally {
    fn record(&mut self, case: &str, outcome: Outcome, verbose: bool) {
        match outcome {
            Outcome::Match => {
                self.matching += 1;
                self.compared += 1;
            }
            Outcome::Skipped(why) => {
                self.skipped += 1;
                println!("SKIP {case}: {why}");
            }
            Outcome::Fail(reason) => {
                self.compared += 1;
                let shown = if verbose {
                    reason.as_str()
                } else {
                    reason.lines().next().unwrap_or("")
                };
                println!("FAIL {case}: {shown}");
            }
        }
    }

    fn skipped_note(&self) -> String {
        if self.skipped == 0 {
            String::new()
        } else {
            format!(
                " ({} skipped: an input XML is not in the folder)",
                self.skipped
            )
        }
    }
}

fn compare(expected: &str, ours: &str) -> Outcome {
    if expected.trim_end_matches('\n') == ours.trim_end_matches('\n') {
        Outcome::Match
    } else {
        Outcome::Fail(format!("differs\n{}", line_diff(expected, ours)))
    }
}

fn check_pool(dir: &Path, case: &str) -> Outcome {
    let (name, platform) = if let Some(name) = case.strip_suffix("-linux") {
        (name, Platform::Linux)
    } else if let Some(name) = case.strip_suffix("-freebsd") {
        (name, Platform::FreeBsd)
    } else {
        (case, Platform::Other)
    };
    let input = dir.join("storagepoolxml2xmlin").join(format!("{name}.xml"));
    let Ok(xml) = std::fs::read_to_string(&input) else {
        return Outcome::Skipped(format!("{} is missing", input.display()));
    };
    let expected = match std::fs::read_to_string(
        dir.join("storagepoolxml2argvdata")
            .join(format!("{case}.argv")),
    ) {
        Ok(text) => text,
        Err(error) => return Outcome::Fail(format!("read: {error}")),
    };
    let pool = match StoragePool::parse(&xml) {
        Ok(pool) => pool,
        Err(error) => return Outcome::Fail(format!("parse error: {error}")),
    };
    let command = match pool.pool_type {
        Some(PoolType::Fs | PoolType::Netfs) => match pool_commands::mount_source(&pool) {
            Ok(source) => pool_commands::mount(&pool, &source, platform),
            Err(error) => return Outcome::Fail(format!("no source: {error}")),
        },
        Some(PoolType::Logical) => pool_commands::vgchange(&pool, true),
        other => return Outcome::Fail(format!("no command line for pool type {other:?}")),
    };
    compare(&expected, &command.to_golden_text())
}

fn check_volume(dir: &Path, case: &VolumeCase) -> Outcome {
    let read = |folder: &str, name: &str| {
        let path = dir.join(folder).join(format!("{name}.xml"));
        std::fs::read_to_string(&path).map_err(|_| format!("{} is missing", path.display()))
    };
    let inputs = (|| {
        let pool = read("storagepoolxml2xmlin", case.pool)?;
        let volume = read("storagevolxml2xmlin", case.volume)?;
        let input = match case.input {
            Some((pool, volume)) => Some((
                read("storagepoolxml2xmlin", pool)?,
                read("storagevolxml2xmlin", volume)?,
            )),
            None => None,
        };
        Ok::<_, String>((pool, volume, input))
    })();
    let (pool_xml, volume_xml, input_xml) = match inputs {
        Ok(inputs) => inputs,
        Err(why) => return Outcome::Skipped(why),
    };
    let expected = match std::fs::read_to_string(
        dir.join("storagevolxml2argvdata")
            .join(format!("{}.argv", case.golden)),
    ) {
        Ok(text) => text,
        Err(error) => return Outcome::Fail(format!("read: {error}")),
    };
    let built = (|| {
        let pool = StoragePool::parse(&pool_xml).map_err(|e| format!("pool: {e}"))?;
        let pool_type = pool.pool_type.unwrap_or(PoolType::Dir);
        let rule = if input_xml.is_some() {
            CapacityRule::FromInput
        } else if case.optional_capacity {
            CapacityRule::OptionalWithBacking
        } else {
            CapacityRule::Required
        };
        let volume =
            VolumeImage::parse(&volume_xml, pool_type, rule).map_err(|e| format!("volume: {e}"))?;
        let input = match &input_xml {
            Some((input_pool, input_volume)) => {
                let input_pool =
                    StoragePool::parse(input_pool).map_err(|e| format!("input pool: {e}"))?;
                Some(
                    VolumeImage::parse(
                        input_volume,
                        input_pool.pool_type.unwrap_or(PoolType::Dir),
                        CapacityRule::Required,
                    )
                    .map_err(|e| format!("input volume: {e}"))?,
                )
            }
            None => None,
        };
        let pool_target = pool
            .target
            .as_ref()
            .and_then(|target| target.path.clone())
            .unwrap_or_default();
        let make = MakeVolume {
            volume: &volume,
            pool_target: &pool_target,
            input: input.as_ref(),
            preallocate_metadata: case.preallocate,
            secret_file: Some("/path/to/secretFile"),
            input_secret_file: Some("/path/to/inputSecretFile"),
        };
        let commands = volume_image::qemu_img_commands(&make, &|path| Path::new(path).exists())
            .map_err(|e| format!("refused: {e}"))?;
        Ok::<_, String>(
            commands
                .iter()
                .map(|command| command.to_golden_text().trim_end_matches('\n').to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })();
    match built {
        Ok(ours) => compare(&expected, &ours),
        Err(why) => Outcome::Fail(why),
    }
}
