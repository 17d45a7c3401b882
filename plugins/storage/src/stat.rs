//! What the driver asks `/usr/bin/stat` about files and filesystems, and the reading of its
//! answers. The host's `files.stat` tells only size and directory-ness, and nothing about a
//! filesystem (no statvfs), so the allocated blocks, modes and owners of volumes and the
//! capacity and free space of a pool come from GNU stat's `--printf` with fields that do not
//! depend on the locale (the raw mode in hex, numbers only).
//!
//! Pure: the command lines and the parsing; running them is the caller's.

use crate::definition::{Ownership, PoolFigures};

pub const STAT: &str = "/usr/bin/stat";

/// One file: raw mode (hex), size, blocks, block size, octal permissions, uid, gid, path.
const FILE_FORMAT: &str = "%f\t%s\t%b\t%B\t%a\t%u\t%g\t%n\n";

/// `stat --printf=... -- PATHS`: one line per path that exists.
pub fn files_args(paths: &[String]) -> Vec<String> {
    let mut args = vec![format!("--printf={FILE_FORMAT}"), "--".to_string()];
    args.extend(paths.iter().cloned());
    args
}

/// `stat -f` of the pool's directory: fragment size, total and free blocks. libvirt counts
/// a pool's available space from `f_bfree` (what root may still use), so `%f`, not `%a`.
pub fn filesystem_args(dir: &str) -> Vec<String> {
    vec![
        "-f".to_string(),
        "--printf=%S\t%b\t%f\n".to_string(),
        "--".to_string(),
        dir.to_string(),
    ]
}

/// One line of [`files_args`]'s output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    pub path: String,
    pub is_regular: bool,
    pub is_dir: bool,
    pub size: u64,
    /// Bytes the file occupies on disk (blocks × block size).
    pub allocated: u64,
    pub ownership: Ownership,
}

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

pub fn parse_files(output: &str) -> Vec<FileFacts> {
    output.lines().filter_map(parse_file_line).collect()
}

fn parse_file_line(line: &str) -> Option<FileFacts> {
    let mut fields = line.splitn(8, '\t');
    let raw_mode = u32::from_str_radix(fields.next()?, 16).ok()?;
    let size = fields.next()?.parse::<u64>().ok()?;
    let blocks = fields.next()?.parse::<u64>().ok()?;
    let block_size = fields.next()?.parse::<u64>().ok()?;
    let mode = u32::from_str_radix(fields.next()?, 8).ok()?;
    let owner = fields.next()?.parse::<i64>().ok()?;
    let group = fields.next()?.parse::<i64>().ok()?;
    let path = fields.next()?.to_string();
    Some(FileFacts {
        path,
        is_regular: raw_mode & S_IFMT == S_IFREG,
        is_dir: raw_mode & S_IFMT == S_IFDIR,
        size,
        allocated: blocks.saturating_mul(block_size),
        ownership: Ownership { mode, owner, group },
    })
}

/// The pool's figures as libvirt reckons them: capacity and free space of the filesystem,
/// allocation the rest.
pub fn parse_filesystem(output: &str) -> Option<PoolFigures> {
    let mut fields = output.split_whitespace().map(str::parse::<u64>);
    let fragment = fields.next()?.ok()?;
    let blocks = fields.next()?.ok()?;
    let free = fields.next()?.ok()?;
    let capacity = fragment.saturating_mul(blocks);
    let available = fragment.saturating_mul(free);
    Some(PoolFigures {
        capacity,
        allocation: capacity.saturating_sub(available),
        available,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_their_raw_mode() {
        let output = "81a4\t1048576\t8\t512\t644\t0\t0\t/p/a.img\n\
                      41ed\t4096\t8\t512\t755\t1000\t1000\t/p/sub\n\
                      a1ff\t5\t0\t512\t777\t0\t0\t/p/link\n\
                      garbage\n";
        let files = parse_files(output);
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0],
            FileFacts {
                path: "/p/a.img".into(),
                is_regular: true,
                is_dir: false,
                size: 1048576,
                allocated: 4096,
                ownership: Ownership {
                    mode: 0o644,
                    owner: 0,
                    group: 0
                },
            }
        );
        assert!(files[1].is_dir && !files[1].is_regular);
        assert!(!files[2].is_dir && !files[2].is_regular);
    }

    #[test]
    fn names_with_tabs_stay_whole() {
        let files = parse_files("81a4\t0\t0\t512\t600\t0\t0\t/p/a\tb\n");
        assert_eq!(files[0].path, "/p/a\tb");
    }

    #[test]
    fn pool_figures_from_the_filesystem() {
        assert_eq!(
            parse_filesystem("4096\t1000\t250\n"),
            Some(PoolFigures {
                capacity: 4_096_000,
                allocation: 3_072_000,
                available: 1_024_000,
            })
        );
        assert_eq!(parse_filesystem("nonsense"), None);
    }

    #[test]
    fn the_command_lines() {
        assert_eq!(
            files_args(&["/p/a".to_string()]),
            ["--printf=%f\t%s\t%b\t%B\t%a\t%u\t%g\t%n\n", "--", "/p/a"]
        );
        assert_eq!(
            filesystem_args("/p"),
            ["-f", "--printf=%S\t%b\t%f\n", "--", "/p"]
        );
    }
}
