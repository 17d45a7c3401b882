//! What a `<disk type='volume'>` opens, as libvirt's `virDomainDiskTranslateSourcePool`
//! decides it from the pool's definition and the volume: the volume's path as a file,
//! directory or block device, or, for an iSCSI pool used with `mode='direct'`, the LUN as a
//! network disk QEMU's own iSCSI initiator reaches (host and target from the pool, its
//! credentials and initiator name too).
//!
//! Pure: finding the pool and the volume is the caller's (the plugin reads the storage
//! driver's state file, the conformance harness libvirt's fake storage driver).

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::Error;
use virt_xml::domain::disk::{DiskSource, SourceHost};
use virt_xml::domain::enums::{HostTransport, NetProtocol};
use virt_xml::domain::Disk;
use virt_xml::storage::{PoolType, StoragePool};

/// `virStorageVolType` as far as a disk cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    File,
    Dir,
    Block,
}

/// The volume the disk names, as its pool reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundVolume {
    pub path: String,
    pub kind: VolumeKind,
}

/// libvirt's default iSCSI port.
const ISCSI_PORT: u32 = 3260;

/// Points the disk's source (which keeps its pool, volume and mode) at what QEMU opens.
/// Credentials the disk carried are dropped, as libvirt drops them: only the pool's count.
pub fn translate(disk: &mut Disk, pool: &StoragePool, volume: &FoundVolume) -> Result<(), Error> {
    disk.auth = None;
    let source = disk.source.get_or_insert_with(DiskSource::default);
    let pool_type = pool.pool_type.unwrap_or(PoolType::Dir);
    if source.mode.is_some() && pool_type != PoolType::Iscsi {
        return Err(domain_error(
            ErrorNumber::XML_ERROR,
            "disk source mode is only valid when storage pool is of iscsi type".into(),
        ));
    }
    source.file = None;
    source.dev = None;
    source.dir = None;
    source.name = None;
    source.protocol = None;
    source.hosts.clear();
    source.auth = None;
    match pool_type {
        PoolType::Dir
        | PoolType::Fs
        | PoolType::Netfs
        | PoolType::Logical
        | PoolType::Disk
        | PoolType::Scsi
        | PoolType::Zfs
        | PoolType::Vstorage => set_path(source, volume),
        PoolType::IscsiDirect => iscsi_direct(source, pool),
        // An iSCSI pool's LUN is the host's block device unless the disk asks for QEMU's
        // own initiator.
        PoolType::Iscsi => match source.mode.as_deref() {
            Some("direct") => iscsi_direct(source, pool),
            _ => {
                source.mode = Some("host".into());
                source.dev = Some(volume.path.clone());
                Ok(())
            }
        },
        other => Err(domain_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!(
                "using '{}' pools for backing 'volume' disks isn't yet supported",
                other.as_str()
            ),
        )),
    }
}

fn set_path(source: &mut DiskSource, volume: &FoundVolume) -> Result<(), Error> {
    let path = Some(volume.path.clone());
    match volume.kind {
        VolumeKind::File => source.file = path,
        VolumeKind::Dir => source.dir = path,
        VolumeKind::Block => source.dev = path,
    }
    Ok(())
}

/// `virDomainDiskTranslateISCSIDirect`: the pool's one host (port 3260 unless it says
/// otherwise) over TCP, `TARGET/LUN` from the pool's device and the volume's `unit:0:0:LUN`
/// name, the pool's credentials (of usage `iscsi`) and initiator.
fn iscsi_direct(source: &mut DiskSource, pool: &StoragePool) -> Result<(), Error> {
    let pool_source = pool.source.clone().unwrap_or_default();
    if let Some(auth) = &pool_source.auth {
        let mut auth = auth.clone();
        // A disk's <auth> has no type.
        auth.auth_type = None;
        if let Some(secret) = auth.secret.as_mut() {
            secret.secret_type.get_or_insert_with(|| "iscsi".into());
        }
        source.auth = Some(auth);
    }
    let [host] = pool_source.hosts.as_slice() else {
        return Err(domain_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            "Expected exactly 1 host for the storage pool".into(),
        ));
    };
    let volume = source.volume.clone().unwrap_or_default();
    let lun = match volume.split(':').collect::<Vec<_>>().as_slice() {
        [_, _, _, lun] => lun.to_string(),
        _ => {
            return Err(domain_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("unexpected iscsi volume name '{volume}'"),
            ))
        }
    };
    let target = pool_source
        .devices
        .first()
        .and_then(|device| device.path.clone())
        .unwrap_or_default();
    source.protocol = Some(NetProtocol::Iscsi);
    source.name = Some(format!("{target}/{lun}"));
    source.hosts = vec![SourceHost {
        name: host.name.clone(),
        port: Some(host.port.filter(|port| *port != 0).unwrap_or(ISCSI_PORT)),
        transport: Some(HostTransport::Tcp),
        socket: None,
    }];
    if source.initiator.is_none() {
        source.initiator = pool_source.initiator.clone();
    }
    Ok(())
}

fn domain_error(code: ErrorNumber, detail: String) -> Error {
    virt_plugin_sdk::error(code, ErrorDomain::DOMAIN, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(xml: &str) -> StoragePool {
        StoragePool::parse(xml).expect("pool")
    }

    fn volume_disk(mode: Option<&str>, volume: &str) -> Disk {
        Disk {
            source: Some(DiskSource {
                pool: Some("p".into()),
                volume: Some(volume.into()),
                mode: mode.map(str::to_string),
                ..DiskSource::default()
            }),
            ..Disk::default()
        }
    }

    const ISCSI: &str = "<pool type='iscsi'><name>p</name><source>\
        <host name='iscsi.example.com'/><device path='demo-target'/>\
        <auth type='chap' username='me'><secret usage='cluster'/></auth>\
        </source><target><path>/dev/disk/by-path</path></target></pool>";

    #[test]
    fn a_direct_iscsi_lun_is_a_network_disk() {
        let mut disk = volume_disk(Some("direct"), "unit:0:0:3");
        disk.auth = Some(Default::default());
        let found = FoundVolume {
            path: "/dev/disk/by-path/ip-...-lun-3".into(),
            kind: VolumeKind::Block,
        };
        translate(&mut disk, &pool(ISCSI), &found).expect("translates");
        assert_eq!(disk.auth, None, "the disk's own credentials are dropped");
        let source = disk.source.expect("source");
        assert_eq!(source.protocol, Some(NetProtocol::Iscsi));
        assert_eq!(source.name.as_deref(), Some("demo-target/3"));
        assert_eq!(source.hosts[0].port, Some(3260));
        let auth = source.auth.expect("the pool's credentials");
        assert_eq!(auth.auth_type, None);
        assert_eq!(auth.username.as_deref(), Some("me"));
        let secret = auth.secret.expect("secret");
        assert_eq!(secret.secret_type.as_deref(), Some("iscsi"));
        // Without a mode the LUN is the host's block device.
        let mut disk = volume_disk(None, "unit:0:0:3");
        translate(&mut disk, &pool(ISCSI), &found).expect("translates");
        let source = disk.source.expect("source");
        assert_eq!(source.dev.as_deref(), Some(found.path.as_str()));
        assert_eq!(source.mode.as_deref(), Some("host"));
        let mut disk = volume_disk(Some("direct"), "lun3");
        let error = translate(&mut disk, &pool(ISCSI), &found).expect_err("refused");
        assert!(error
            .message
            .contains("unexpected iscsi volume name 'lun3'"));
    }

    #[test]
    fn a_directory_pools_volume_is_its_path() {
        let dir = pool("<pool type='dir'><name>p</name><target><path>/p</path></target></pool>");
        let mut disk = volume_disk(None, "a.qcow2");
        let found = FoundVolume {
            path: "/p/a.qcow2".into(),
            kind: VolumeKind::File,
        };
        translate(&mut disk, &dir, &found).expect("translates");
        assert_eq!(
            disk.source.expect("source").file.as_deref(),
            Some("/p/a.qcow2")
        );
        let mut disk = volume_disk(Some("host"), "a.qcow2");
        let error = translate(&mut disk, &dir, &found).expect_err("refused");
        assert!(error
            .message
            .contains("only valid when storage pool is of iscsi type"));
    }
}
