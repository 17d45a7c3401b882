//! What the conformance commands (`qemu-argv-conformance`, `network-conf-conformance`,
//! `storage-argv-conformance`) share: their `[-v] [DIR] [CASE...]` arguments, the listing of
//! the cases in a libvirt test data folder, and the line diff a failure is shown with. Each
//! command keeps its own comparison and report.

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

/// A unified-style diff of two small texts by their longest common subsequence of lines.
pub fn line_diff(expected: &str, ours: &str) -> String {
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
