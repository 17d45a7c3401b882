//! The `qemu-img` command lines the driver runs besides those that make a volume from its
//! definition ([`crate::volume_image`]): a raw file and `resize`; and the reading of a qcow2
//! image's header, which tells its size without running `qemu-img info`.
//!
//! Pure: the argument lists and the parsing are tested natively; running the program is the
//! caller's.

use crate::definition::VolumeFormat;

pub const QEMU_IMG: &str = "/usr/bin/qemu-img";

/// libvirt gives qemu-img and lvcreate sizes in KiB, rounded up.
pub fn size_in_kib(bytes: u64) -> String {
    format!("{}K", bytes.div_ceil(1024))
}

/// `qemu-img create -f raw [-o preallocation=falloc] PATH SIZEK`: a raw file, allocated now
/// when its whole capacity is asked for (libvirt writes it out), else sparse.
pub fn raw_create_args(capacity: u64, allocation: u64, path: &str) -> Vec<String> {
    let mut args = vec!["create".to_string(), "-f".to_string(), "raw".to_string()];
    if capacity > 0 && allocation >= capacity {
        args.push("-o".to_string());
        args.push("preallocation=falloc".to_string());
    }
    args.push(path.to_string());
    args.push(size_in_kib(capacity));
    args
}

/// qemu-img refuses sizes that are not a multiple of 512: libvirt rounds up.
pub fn round_to_sector(bytes: u64) -> u64 {
    bytes.div_ceil(512) * 512
}

/// `qemu-img resize [--shrink] [--preallocation=falloc] -f FMT PATH SIZE`.
pub fn resize_args(
    format: VolumeFormat,
    path: &str,
    current: u64,
    capacity: u64,
    allocate: bool,
) -> Vec<String> {
    let capacity = round_to_sector(capacity);
    let mut args = vec!["resize".to_string()];
    if capacity < current {
        args.push("--shrink".to_string());
    }
    if allocate {
        args.push("--preallocation=falloc".to_string());
    }
    args.extend([
        "-f".to_string(),
        format.as_str().to_string(),
        path.to_string(),
        capacity.to_string(),
    ]);
    args
}

/// The first bytes of a qcow2 image (`QFI\xfb`), how refresh tells qcow2 from raw as
/// libvirt's format probe does.
pub const QCOW2_MAGIC: &[u8] = b"QFI\xfb";

/// How many bytes of an image [`Qcow2Header::parse`] reads: magic, version, backing file
/// offset and length, cluster bits and the virtual size.
pub const QCOW2_HEADER_LEN: u32 = 32;

/// What the start of a qcow2 header says (all fields big-endian), read in-process as libvirt
/// reads it rather than through `qemu-img info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qcow2Header {
    pub virtual_size: u64,
    /// `0.10` for a version 2 image, `1.1` for version 3 (qemu-img's `compat`).
    pub compat: Option<String>,
}

impl Qcow2Header {
    /// The header at the start of `head`, `None` when it is not a qcow2 image.
    pub fn parse(head: &[u8]) -> Option<Qcow2Header> {
        if head.len() < QCOW2_HEADER_LEN as usize || !head.starts_with(QCOW2_MAGIC) {
            return None;
        }
        let version = u32::from_be_bytes(head[4..8].try_into().ok()?);
        let virtual_size = u64::from_be_bytes(head[24..32].try_into().ok()?);
        // Version 1 is the old `qcow` format, not qcow2.
        let compat = match version {
            2 => "0.10",
            3 => "1.1",
            _ => return None,
        };
        let compat = Some(compat.to_string());
        Some(Qcow2Header {
            virtual_size,
            compat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_file_is_sparse_unless_wholly_allocated() {
        assert_eq!(
            raw_create_args(1 << 30, 0, "/p/a.img"),
            ["create", "-f", "raw", "/p/a.img", "1048576K"]
        );
        assert_eq!(
            raw_create_args(1000, 1000, "/p/a.img"),
            [
                "create",
                "-f",
                "raw",
                "-o",
                "preallocation=falloc",
                "/p/a.img",
                "1K"
            ]
        );
    }

    #[test]
    fn resizing_rounds_up_and_shrinks_only_when_smaller() {
        assert_eq!(
            resize_args(VolumeFormat::Raw, "/p/a", 1024, 1000, false),
            ["resize", "-f", "raw", "/p/a", "1024"]
        );
        assert_eq!(
            resize_args(VolumeFormat::Qcow2, "/p/a", 4096, 1024, false),
            ["resize", "--shrink", "-f", "qcow2", "/p/a", "1024"]
        );
        assert_eq!(
            resize_args(VolumeFormat::Raw, "/p/a", 0, 513, true),
            [
                "resize",
                "--preallocation=falloc",
                "-f",
                "raw",
                "/p/a",
                "1024"
            ]
        );
    }

    #[test]
    fn sizes_go_in_kib_rounded_up() {
        assert_eq!(size_in_kib(0), "0K");
        assert_eq!(size_in_kib(1), "1K");
        assert_eq!(size_in_kib(2048), "2K");
    }

    #[test]
    fn the_qcow2_header_gives_size_and_compat() {
        let mut head = b"QFI\xfb\0\0\0\x03".to_vec();
        head.extend([0u8; 16]);
        head.extend((1u64 << 30).to_be_bytes());
        assert_eq!(
            Qcow2Header::parse(&head),
            Some(Qcow2Header {
                virtual_size: 1 << 30,
                compat: Some("1.1".into()),
            })
        );
        head[7] = 2;
        assert_eq!(
            Qcow2Header::parse(&head).and_then(|h| h.compat).as_deref(),
            Some("0.10")
        );
        assert_eq!(Qcow2Header::parse(&head[..31]), None);
        head[7] = 1;
        assert_eq!(Qcow2Header::parse(&head), None, "old qcow");
        assert_eq!(Qcow2Header::parse(&[0u8; 32]), None);
    }
}
