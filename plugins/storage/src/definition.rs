//! Pool and volume definitions as the dir backend reads and writes them, through virt-xml's
//! storage models: which pools this driver serves, what a volume definition must say, and the
//! XML a caller sees with the figures a refresh found.
//!
//! Pure: knows nothing of the plugin host, the records or the programs the driver runs.

use virt_core::{ErrorNumber, Result};
use virt_xml::domain::ScaledBytes;
use virt_xml::storage::{
    FormatType, OctalMode, Permissions, PoolSource, PoolType, StoragePool, StorageVolume,
    VolumeTarget, VolumeType,
};

use crate::error::{invalid, storage_error};

/// The mode libvirt's dir backend gives a pool directory it builds when the definition has
/// none (`VIR_STORAGE_DEFAULT_POOL_PERM_MODE`).
pub const DEFAULT_POOL_MODE: u32 = 0o711;

/// The mode libvirt gives a volume file when the definition has none
/// (`VIR_STORAGE_DEFAULT_VOL_PERM_MODE`).
pub const DEFAULT_VOLUME_MODE: u32 = 0o600;

/// libvirt's `virStoragePool` numbers, for its "missing backend" message.
const POOL_TYPE_NUMBERS: &[(PoolType, u32)] = &[
    (PoolType::Dir, 0),
    (PoolType::Fs, 1),
    (PoolType::Netfs, 2),
    (PoolType::Logical, 3),
    (PoolType::Disk, 4),
    (PoolType::Iscsi, 5),
    (PoolType::IscsiDirect, 6),
    (PoolType::Scsi, 7),
    (PoolType::Mpath, 8),
    (PoolType::Rbd, 9),
    (PoolType::Sheepdog, 10),
    (PoolType::Gluster, 11),
    (PoolType::Zfs, 12),
    (PoolType::Vstorage, 13),
];

/// Reads a pool definition this driver can serve: a `dir` pool, an `fs` pool with a source
/// device, a `netfs` pool with a source host and directory, or a `logical` pool (a volume
/// group), with a target path (UUID and an empty source filled in, the path sanitized), as
/// `virStoragePoolDefParse` does.
pub fn parse_pool(xml: &str) -> Result<StoragePool> {
    let mut pool = StoragePool::parse(xml)?;
    let kind = pool.pool_type.unwrap_or(PoolType::Dir);
    if !matches!(
        kind,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Logical
    ) {
        let number = POOL_TYPE_NUMBERS
            .iter()
            .find(|(known, _)| *known == kind)
            .map_or(0, |(_, number)| *number);
        // libvirt says this when it was built without the backend; rvirt has `dir`, `fs`,
        // `netfs` and `logical`.
        return Err(storage_error(
            ErrorNumber::NO_SUPPORT,
            format!("missing backend for pool type {number} ({})", kind.as_str()),
        ));
    }
    pool.post_parse()?;
    if target_path(&pool).is_none() {
        return Err(storage_error(
            ErrorNumber::XML_ERROR,
            "missing storage pool target path",
        ));
    }
    pool.source.get_or_insert_with(PoolSource::default);
    Ok(pool)
}

pub fn target_path(pool: &StoragePool) -> Option<&str> {
    pool.target
        .as_ref()
        .and_then(|target| target.path.as_deref())
}

/// The mode, owner and group a new file or directory gets: the definition's
/// `<permissions>`, else the default mode and the creator's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WantedOwnership {
    pub mode: u32,
    pub owner: Option<i64>,
    pub group: Option<i64>,
}

impl WantedOwnership {
    fn from_permissions(permissions: Option<&Permissions>, default_mode: u32) -> Self {
        WantedOwnership {
            mode: permissions
                .and_then(|p| p.mode)
                .map_or(default_mode, |mode| mode.0),
            owner: permissions.and_then(|p| p.owner),
            group: permissions.and_then(|p| p.group),
        }
    }
}

/// What to build the pool directory with.
pub fn pool_ownership(pool: &StoragePool) -> WantedOwnership {
    WantedOwnership::from_permissions(
        pool.target
            .as_ref()
            .and_then(|target| target.permissions.as_ref()),
        DEFAULT_POOL_MODE,
    )
}

/// The space figures of a pool's filesystem, as a refresh found them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolFigures {
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
}

/// Who owns a file and with which mode (`<permissions>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ownership {
    pub mode: u32,
    pub owner: i64,
    pub group: i64,
}

impl Ownership {
    fn permissions(&self) -> Permissions {
        Permissions {
            mode: Some(OctalMode(self.mode)),
            owner: Some(self.owner),
            group: Some(self.group),
            label: None,
        }
    }
}

/// `virStoragePoolDefFormat`: the definition with the pool's figures, and the target's real
/// permissions when the pool runs (`None` for an inactive pool: as defined).
pub fn format_pool(
    pool: &StoragePool,
    figures: PoolFigures,
    directory: Option<Ownership>,
) -> String {
    let mut pool = pool.clone();
    pool.capacity = Some(ScaledBytes(figures.capacity));
    pool.allocation = Some(ScaledBytes(figures.allocation));
    pool.available = Some(ScaledBytes(figures.available));
    if let (Some(target), Some(directory)) = (pool.target.as_mut(), directory) {
        target.permissions = Some(directory.permissions());
    }
    pool.to_xml()
}

/// The volume formats this driver makes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeFormat {
    Raw,
    Qcow2,
}

impl VolumeFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFormat::Raw => "raw",
            VolumeFormat::Qcow2 => "qcow2",
        }
    }

    pub fn parse(text: &str) -> Result<VolumeFormat> {
        match text {
            "raw" => Ok(VolumeFormat::Raw),
            "qcow2" => Ok(VolumeFormat::Qcow2),
            other => Err(storage_error(
                ErrorNumber::NO_SUPPORT,
                format!("volume format '{other}' is not supported (only raw and qcow2)"),
            )),
        }
    }
}

/// A volume to make, as its definition asks: what this driver checks and keeps. The image's
/// layout (sizes, qcow2 options, backing store) is [`crate::volume_image::VolumeImage`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVolume {
    pub name: String,
    pub format: VolumeFormat,
    /// What the volume's file gets.
    pub ownership: WantedOwnership,
}

/// `virStorageVolDefParse` for a dir pool's volume (`<format>` defaults to raw): the name
/// stays in the pool's directory and the format is one this driver makes.
pub fn parse_volume(xml: &str) -> Result<NewVolume> {
    let volume = StorageVolume::parse(xml)?;
    let name = volume.name().to_string();
    if name.contains('/') {
        return Err(invalid(format!("volume name '{name}' cannot contain '/'")));
    }
    let target = volume.target.clone().unwrap_or_default();
    let format = match target.format.and_then(|f| f.format_type) {
        Some(text) => VolumeFormat::parse(&text)?,
        None => VolumeFormat::Raw,
    };
    Ok(NewVolume {
        name,
        format,
        ownership: WantedOwnership::from_permissions(
            volume
                .target
                .as_ref()
                .and_then(|target| target.permissions.as_ref()),
            DEFAULT_VOLUME_MODE,
        ),
    })
}

/// What a refresh (or a create) knows of a volume, for its XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeFacts<'a> {
    pub name: &'a str,
    pub path: &'a str,
    pub format: VolumeFormat,
    pub capacity: u64,
    pub allocation: u64,
    /// The file's size on the host.
    pub physical: u64,
    pub ownership: Option<Ownership>,
    pub compat: Option<&'a str>,
    /// A logical volume (a block device), not a file.
    pub block: bool,
}

/// `virStorageVolDefFormat` for a file volume of a dir or fs pool, or a logical volume (the
/// key is its path).
pub fn format_volume(facts: &VolumeFacts<'_>) -> String {
    let volume = StorageVolume {
        volume_type: Some(if facts.block {
            VolumeType::Block
        } else {
            VolumeType::File
        }),
        name: Some(facts.name.to_string()),
        key: Some(facts.path.to_string()),
        source: None,
        capacity: Some(ScaledBytes(facts.capacity)),
        allocation: Some(ScaledBytes(facts.allocation)),
        physical: Some(ScaledBytes(facts.physical)),
        target: Some(VolumeTarget {
            path: Some(facts.path.to_string()),
            format: Some(FormatType {
                format_type: Some(facts.format.as_str().to_string()),
            }),
            permissions: facts.ownership.map(|o| o.permissions()),
            compat: facts.compat.map(str::to_string),
            ..VolumeTarget::default()
        }),
        backing_store: None,
    };
    volume.to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dir_pool_gets_a_uuid_a_source_and_a_clean_path() {
        let pool = parse_pool(
            "<pool type='dir'><name>images</name><target><path>/srv//images/</path></target></pool>",
        )
        .expect("a dir pool parses");
        assert!(pool.uuid.is_some());
        assert_eq!(target_path(&pool), Some("/srv/images"));
        assert_eq!(pool_ownership(&pool).mode, 0o711);
        let xml = format_pool(
            &pool,
            PoolFigures {
                capacity: 10,
                allocation: 4,
                available: 6,
            },
            None,
        );
        assert!(
            xml.contains("<capacity unit='bytes'>10</capacity>"),
            "{xml}"
        );
        assert!(xml.contains("<source>"), "{xml}");
        assert!(xml.contains("<path>/srv/images</path>"), "{xml}");
    }

    #[test]
    fn a_pool_without_target_is_refused_with_libvirts_words() {
        let error = parse_pool("<pool type='dir'><name>p</name></pool>").expect_err("no target");
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
        assert!(error.message().contains("missing storage pool target path"));
    }

    #[test]
    fn other_pool_types_have_no_backend() {
        let error = parse_pool(
            "<pool type='iscsi'><name>i</name><source><host name='h'/>\
             <device path='iqn.x'/></source><target><path>/dev/disk/by-path</path></target></pool>",
        )
        .expect_err("iscsi is not served");
        assert_eq!(error.code(), ErrorNumber::NO_SUPPORT);
        assert!(
            error
                .message()
                .contains("missing backend for pool type 5 (iscsi)"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn the_pool_mode_and_owner_come_from_the_definition() {
        let pool = parse_pool(
            "<pool type='dir'><name>p</name><target><path>/p</path>\
             <permissions><mode>0755</mode><owner>107</owner><group>-1</group></permissions>\
             </target></pool>",
        )
        .expect("parses");
        assert_eq!(
            pool_ownership(&pool),
            WantedOwnership {
                mode: 0o755,
                owner: Some(107),
                group: None
            }
        );
    }

    #[test]
    fn a_running_pool_shows_its_directory_permissions() {
        let pool =
            parse_pool("<pool type='dir'><name>p</name><target><path>/p</path></target></pool>")
                .expect("parses");
        let xml = format_pool(
            &pool,
            PoolFigures::default(),
            Some(Ownership {
                mode: 0o711,
                owner: 0,
                group: 0,
            }),
        );
        assert!(xml.contains("<mode>0711</mode>"), "{xml}");
        assert!(xml.contains("<owner>0</owner>"), "{xml}");
    }

    #[test]
    fn volumes_default_to_raw_and_mode_0600() {
        let volume = parse_volume(
            "<volume><name>a.img</name><capacity unit='M'>2</capacity>\
             <allocation>0</allocation></volume>",
        )
        .expect("parses");
        assert_eq!(volume.format, VolumeFormat::Raw);
        assert_eq!(volume.ownership.mode, 0o600);
    }

    #[test]
    fn volume_names_stay_in_their_directory() {
        let error = parse_volume("<volume><name>../x</name><capacity>1</capacity></volume>")
            .expect_err("a slash is refused");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    }

    #[test]
    fn unknown_formats_are_refused() {
        let error = parse_volume(
            "<volume><name>a</name><capacity>1</capacity><target><format type='vmdk'/></target></volume>",
        )
        .expect_err("vmdk is not made here");
        assert_eq!(error.code(), ErrorNumber::NO_SUPPORT);
    }

    #[test]
    fn volume_xml_is_libvirts_file_volume() {
        let xml = format_volume(&VolumeFacts {
            name: "a.img",
            path: "/p/a.img",
            format: VolumeFormat::Raw,
            capacity: 1048576,
            allocation: 4096,
            physical: 1048576,
            ownership: Some(Ownership {
                mode: 0o644,
                owner: 0,
                group: 0,
            }),
            compat: None,
            block: false,
        });
        assert_eq!(
            xml,
            "<volume type='file'>\n  <name>a.img</name>\n  <key>/p/a.img</key>\n  \
             <capacity unit='bytes'>1048576</capacity>\n  \
             <allocation unit='bytes'>4096</allocation>\n  \
             <physical unit='bytes'>1048576</physical>\n  <target>\n    \
             <path>/p/a.img</path>\n    <format type='raw'/>\n    <permissions>\n      \
             <mode>0644</mode>\n      <owner>0</owner>\n      <group>0</group>\n    \
             </permissions>\n  </target>\n</volume>\n"
        );
    }
}
