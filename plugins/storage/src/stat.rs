//! The facts the driver reports about volumes and pools, from the host's `lstat` and
//! `statvfs` (`file-attributes`): a volume's size, allocated bytes, mode and owner, and the
//! capacity and free space of a pool's filesystem, as libvirt reckons them.
//!
//! Pure: the conversions; asking the host is the caller's.

use virt_plugin_sdk::host::file_attributes::{Attributes, Filesystem};

use crate::definition::{Ownership, PoolFigures};

/// One file, as a volume is described from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    pub path: String,
    pub is_regular: bool,
    pub is_dir: bool,
    pub size: u64,
    /// Bytes the file occupies on disk.
    pub allocated: u64,
    pub ownership: Ownership,
}

const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFDIR: u32 = 0o040000;

impl FileFacts {
    pub fn of(path: &str, attributes: &Attributes) -> FileFacts {
        FileFacts {
            path: path.to_string(),
            is_regular: attributes.mode & S_IFMT == S_IFREG,
            is_dir: attributes.mode & S_IFMT == S_IFDIR,
            size: attributes.size,
            allocated: attributes.allocated,
            ownership: Ownership {
                mode: attributes.mode & 0o7777,
                owner: attributes.uid.into(),
                group: attributes.gid.into(),
            },
        }
    }
}

/// The pool's figures as libvirt reckons them: capacity and free space of the filesystem
/// (free counted from `f_bfree`, what root may still use), allocation the rest.
pub fn pool_figures(filesystem: &Filesystem) -> PoolFigures {
    let capacity = filesystem.fragment_size.saturating_mul(filesystem.blocks);
    let available = filesystem
        .fragment_size
        .saturating_mul(filesystem.free_blocks);
    PoolFigures {
        capacity,
        allocation: capacity.saturating_sub(available),
        available,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(mode: u32) -> Attributes {
        Attributes {
            mode,
            size: 1_048_576,
            allocated: 4096,
            uid: 107,
            gid: 36,
            mtime_ns: 0,
        }
    }

    #[test]
    fn files_are_told_apart_by_their_mode() {
        assert_eq!(
            FileFacts::of("/p/a.img", &attributes(0o100644)),
            FileFacts {
                path: "/p/a.img".into(),
                is_regular: true,
                is_dir: false,
                size: 1_048_576,
                allocated: 4096,
                ownership: Ownership {
                    mode: 0o644,
                    owner: 107,
                    group: 36
                },
            }
        );
        let dir = FileFacts::of("/p/sub", &attributes(0o040755));
        assert!(dir.is_dir && !dir.is_regular);
        let link = FileFacts::of("/p/link", &attributes(0o120777));
        assert!(!link.is_dir && !link.is_regular);
    }

    #[test]
    fn pool_figures_from_the_filesystem() {
        let filesystem = Filesystem {
            fragment_size: 4096,
            blocks: 1000,
            free_blocks: 250,
            available_blocks: 200,
        };
        assert_eq!(
            pool_figures(&filesystem),
            PoolFigures {
                capacity: 4_096_000,
                allocation: 3_072_000,
                available: 1_024_000,
            }
        );
    }
}
