//! The `qemu-img` command lines the driver runs besides those that make a volume from its
//! definition ([`crate::volume_image`]): a raw file, `resize`, and the reading of
//! `qemu-img info --output=json`.
//!
//! Pure: the argument lists and the parsing are tested natively; running the program is the
//! caller's.

use serde_json::Value;
use virt_core::Result;

use crate::definition::VolumeFormat;
use crate::error::internal;

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

/// `qemu-img info -U --output=json -f FMT PATH` (`-U`: a running guest may hold the image).
pub fn info_args(format: VolumeFormat, path: &str) -> Vec<String> {
    vec![
        "info".to_string(),
        "-U".to_string(),
        "--output=json".to_string(),
        "-f".to_string(),
        format.as_str().to_string(),
        path.to_string(),
    ]
}

/// What `qemu-img info` says of an image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub virtual_size: u64,
    pub actual_size: Option<u64>,
    pub compat: Option<String>,
}

pub fn parse_info(json: &[u8]) -> Result<ImageInfo> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| internal(format!("cannot parse qemu-img info output: {e}")))?;
    let virtual_size = value
        .get("virtual-size")
        .and_then(Value::as_u64)
        .ok_or_else(|| internal("qemu-img info output has no virtual-size"))?;
    Ok(ImageInfo {
        virtual_size,
        actual_size: value.get("actual-size").and_then(Value::as_u64),
        compat: value
            .pointer("/format-specific/data/compat")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// The first bytes of a qcow2 image (`QFI\xfb`), how refresh tells qcow2 from raw as
/// libvirt's format probe does.
pub const QCOW2_MAGIC: &[u8] = b"QFI\xfb";

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
    fn info_reads_sizes_and_compat() {
        let json = br#"{
            "virtual-size": 1073741824,
            "filename": "/p/a.qcow2",
            "cluster-size": 65536,
            "format": "qcow2",
            "actual-size": 200704,
            "format-specific": {"type": "qcow2", "data": {"compat": "1.1", "lazy-refcounts": false}},
            "dirty-flag": false
        }"#;
        assert_eq!(
            parse_info(json).expect("parses"),
            ImageInfo {
                virtual_size: 1 << 30,
                actual_size: Some(200704),
                compat: Some("1.1".into()),
            }
        );
        assert!(parse_info(b"not json").is_err());
        assert!(parse_info(b"{}").is_err());
    }
}
