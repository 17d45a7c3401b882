//! What the conformance commands (`qemu-argv-conformance`, `network-conf-conformance`) share:
//! their `[-v] [DIR] [CASE...]` arguments and the listing of the cases in a libvirt test data
//! folder. Each command keeps its own comparison and report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where libvirt's test data is when no DIR is given.
const DEFAULT_DATA_DIR: &str = "../shared/libvirt-testdata";

/// `[-v] [DIR] [CASE...]`: a first word that names a folder is DIR, the other words (but
/// options) are the cases to run.
#[derive(Debug)]
pub struct CaseArgs {
    /// `-v`: every failure in full, not only its first line.
    pub verbose: bool,
    /// libvirt's test data folder (`../shared/libvirt-testdata` when not given).
    pub dir: PathBuf,
    /// The cases asked for; empty for all.
    pub only: Vec<String>,
}

impl CaseArgs {
    /// Reads the words after the command's name.
    pub fn parse(args: &[String]) -> CaseArgs {
        let verbose = args.iter().any(|arg| arg == "-v");
        let positional: Vec<&String> = args.iter().filter(|arg| !arg.starts_with('-')).collect();
        let (dir, only) = match positional.split_first() {
            Some((first, rest)) if Path::new(first.as_str()).is_dir() => {
                (PathBuf::from(first.as_str()), rest)
            }
            _ => (PathBuf::from(DEFAULT_DATA_DIR), &positional[..]),
        };
        CaseArgs {
            verbose,
            dir,
            only: only.iter().map(|case| case.to_string()).collect(),
        }
    }

    /// The cases in `data`: the names of its files ending in `suffix`, without it, that
    /// `keep` accepts and that were asked for, sorted. A folder that cannot be read is
    /// reported on stderr and ends the command with status 2.
    pub fn cases(
        &self,
        data: &Path,
        suffix: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, ExitCode> {
        let entries = std::fs::read_dir(data).map_err(|error| {
            eprintln!("{}: {error}", data.display());
            ExitCode::from(2)
        })?;
        let mut cases: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()?
                    .strip_suffix(suffix)
                    .map(str::to_string)
            })
            .filter(|case| keep(case))
            .filter(|case| self.only.is_empty() || self.only.contains(case))
            .collect();
        cases.sort();
        Ok(cases)
    }
}
