//! The `qemu-img` command lines the driver runs, built as libvirt's storage backend builds
//! them (`create -f FMT -o OPTIONS PATH SIZEK`, `convert -f IN -O OUT`, `resize`), and the
//! reading of `qemu-img info --output=json`.
//!
//! Pure: the argument lists and the parsing are tested natively; running the program is the
//! caller's.

use serde_json::Value;
use virt_core::Result;

use crate::definition::{NewVolume, VolumeFormat};
use crate::error::internal;

pub const QEMU_IMG: &str = "/usr/bin/qemu-img";

/// How a new image is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSpec {
    pub format: VolumeFormat,
    pub capacity: u64,
    pub allocation: u64,
    pub compat: Option<String>,
    pub cluster_size: Option<u64>,
    pub lazy_refcounts: bool,
    pub extended_l2: bool,
    /// `VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA`.
    pub preallocate_metadata: bool,
}

impl ImageSpec {
    pub fn new(volume: &NewVolume, capacity: u64, preallocate_metadata: bool) -> ImageSpec {
        ImageSpec {
            format: volume.format,
            capacity,
            allocation: volume.allocation.unwrap_or(capacity),
            compat: volume.compat.clone(),
            cluster_size: volume.cluster_size,
            lazy_refcounts: volume.lazy_refcounts,
            extended_l2: volume.extended_l2,
            preallocate_metadata,
        }
    }

    /// The `-o` list, or `None` when there is nothing to say.
    fn options(&self) -> Option<String> {
        let mut options = Vec::new();
        match self.format {
            VolumeFormat::Qcow2 => {
                if self.preallocate_metadata {
                    options.push(
                        if self.capacity > self.allocation {
                            "preallocation=metadata"
                        } else {
                            "preallocation=falloc"
                        }
                        .to_string(),
                    );
                }
                // libvirt 9.0 keeps qcow2 v2 images unless told otherwise.
                options.push(format!(
                    "compat={}",
                    self.compat.as_deref().unwrap_or("0.10")
                ));
                if let Some(size) = self.cluster_size {
                    options.push(format!("cluster_size={size}"));
                }
                if self.lazy_refcounts {
                    options.push("lazy_refcounts".to_string());
                }
                if self.extended_l2 {
                    options.push("extended_l2=on".to_string());
                }
            }
            // A raw volume whose whole capacity is asked for is allocated now (libvirt writes
            // it out); otherwise it is a sparse file.
            VolumeFormat::Raw => {
                if self.capacity > 0 && self.allocation >= self.capacity {
                    options.push("preallocation=falloc".to_string());
                }
            }
        }
        (!options.is_empty()).then(|| options.join(","))
    }
}

/// qemu-img takes sizes in KiB from libvirt, rounded up.
pub fn size_in_kib(bytes: u64) -> String {
    format!("{}K", bytes.div_ceil(1024))
}

/// `qemu-img create -f FMT [-o OPTIONS] PATH SIZEK`.
pub fn create_args(spec: &ImageSpec, path: &str) -> Vec<String> {
    let mut args = vec![
        "create".to_string(),
        "-f".to_string(),
        spec.format.as_str().to_string(),
    ];
    if let Some(options) = spec.options() {
        args.push("-o".to_string());
        args.push(options);
    }
    args.push(path.to_string());
    args.push(size_in_kib(spec.capacity));
    args
}

/// `qemu-img convert -f IN -O OUT [-o OPTIONS] SOURCE PATH`: a clone.
pub fn convert_args(
    source_format: VolumeFormat,
    source: &str,
    spec: &ImageSpec,
    path: &str,
) -> Vec<String> {
    let mut args = vec![
        "convert".to_string(),
        "-f".to_string(),
        source_format.as_str().to_string(),
        "-O".to_string(),
        spec.format.as_str().to_string(),
    ];
    if let Some(options) = spec.options() {
        args.push("-o".to_string());
        args.push(options);
    }
    args.push(source.to_string());
    args.push(path.to_string());
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

    fn spec(format: VolumeFormat, capacity: u64, allocation: u64) -> ImageSpec {
        ImageSpec {
            format,
            capacity,
            allocation,
            compat: None,
            cluster_size: None,
            lazy_refcounts: false,
            extended_l2: false,
            preallocate_metadata: false,
        }
    }

    #[test]
    fn a_sparse_raw_volume() {
        assert_eq!(
            create_args(&spec(VolumeFormat::Raw, 1 << 30, 0), "/p/a.img"),
            ["create", "-f", "raw", "/p/a.img", "1048576K"]
        );
    }

    #[test]
    fn a_fully_allocated_raw_volume() {
        assert_eq!(
            create_args(&spec(VolumeFormat::Raw, 1000, 1000), "/p/a.img"),
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
    fn a_qcow2_volume_as_libvirt_makes_it() {
        let mut qcow2 = spec(VolumeFormat::Qcow2, 5 << 30, 0);
        assert_eq!(
            create_args(&qcow2, "/p/a.qcow2"),
            [
                "create",
                "-f",
                "qcow2",
                "-o",
                "compat=0.10",
                "/p/a.qcow2",
                "5242880K"
            ]
        );
        qcow2.compat = Some("1.1".into());
        qcow2.lazy_refcounts = true;
        qcow2.cluster_size = Some(65536);
        qcow2.preallocate_metadata = true;
        assert_eq!(
            create_args(&qcow2, "/p/a.qcow2")[4],
            "preallocation=metadata,compat=1.1,cluster_size=65536,lazy_refcounts"
        );
    }

    #[test]
    fn a_clone_converts() {
        assert_eq!(
            convert_args(
                VolumeFormat::Qcow2,
                "/p/a.qcow2",
                &spec(VolumeFormat::Raw, 1024, 0),
                "/p/b.img"
            ),
            [
                "convert",
                "-f",
                "qcow2",
                "-O",
                "raw",
                "/p/a.qcow2",
                "/p/b.img"
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
