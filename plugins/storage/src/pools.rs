//! What changes pools: define, undefine, build, start, refresh, destroy, delete, autostart,
//! and the restart of running and autostart pools when a daemon starts; and what reads them
//! (lookups, lists, info, XML).
//!
//! A start mounts an `fs` pool's source on its target (a loop device for an image file), then
//! scans the target directory ([`disk::scan_pool`]) and keeps what it found in the pool's
//! record; a destroy unmounts it. A `logical` pool is a volume group: built with
//! `pvcreate`/`vgcreate`, started and stopped with `vgchange`, read with `vgs`/`lvs`. A pool
//! whose directory is missing does not start, and nothing is left half-made (a mount that a
//! failed start made is undone). Every change holds the [`POOLS_JOB`].

use virt_core::consts::{
    connect_list_all_storage_pools_flags as list_flags, storage_pool_build_flags,
    storage_pool_create_flags, storage_pool_define_flags,
    storage_pool_event_lifecycle_type as event_type, storage_pool_state, storage_xml_flags,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{events, files, jobs};
use virt_plugin_sdk::types::{Event, ObjectStatus, PoolInfo, PoolRef, VolumeRef};
use virt_xml::storage::{PoolType, StoragePool};

use crate::definition::{self, PoolFigures};
use crate::disk;
use crate::error::{
    from_host, internal, invalid, no_pool_name, no_pool_uuid, pool_already_active, pool_not_active,
    pool_still_active, reason, storage_error, system,
};
use crate::records::{self, Live, PoolRecord};

/// One change to pools and volumes at a time: names, paths and free space are checked
/// against all.
const POOLS_JOB: &str = "pools";

/// Takes the pools job; the host holds it until the call returns.
pub fn begin_job() -> Result<(), Error> {
    jobs::begin(POOLS_JOB).map_err(from_host)
}

fn emit(record: &PoolRecord, kind: i32) {
    events::emit(&Event::PoolLifecycle((record.reference(), kind, 0)));
}

// ---- lookups ----

/// The record behind a reference (resolved by UUID, as libvirt does).
pub fn resolve(pool: &PoolRef) -> Result<PoolRecord, Error> {
    let uuid = virt_core::Uuid::from(pool.uuid).to_string();
    records::load(&uuid)?.ok_or_else(|| no_pool_uuid(&uuid))
}

/// The record of a running pool.
pub fn resolve_active(pool: &PoolRef) -> Result<PoolRecord, Error> {
    let record = resolve(pool)?;
    if !record.is_active() {
        return Err(pool_not_active(&record.name));
    }
    Ok(record)
}

fn resolve_inactive(pool: &PoolRef) -> Result<PoolRecord, Error> {
    let record = resolve(pool)?;
    if record.is_active() {
        return Err(pool_already_active(&record.name));
    }
    Ok(record)
}

pub fn lookup_by_name(name: &str) -> Result<PoolRef, Error> {
    records::find_by_name(name)?
        .map(|record| record.reference())
        .ok_or_else(|| no_pool_name(name))
}

pub fn lookup_by_uuid(uuid: virt_core::Uuid) -> Result<PoolRef, Error> {
    records::load(&uuid.to_string())?
        .map(|record| record.reference())
        .ok_or_else(|| no_pool_uuid(&uuid.to_string()))
}

pub fn lookup_by_volume(volume: &VolumeRef) -> Result<PoolRef, Error> {
    lookup_by_name(&volume.pool)
}

/// `virConnectListAllStoragePools` with its filter flags (every pool here is a `dir` pool).
pub fn list_all(flags: u32) -> Result<Vec<PoolRef>, Error> {
    let type_bits = list_flags::DIR
        | list_flags::FS
        | list_flags::NETFS
        | list_flags::LOGICAL
        | list_flags::DISK
        | list_flags::ISCSI
        | list_flags::SCSI
        | list_flags::MPATH
        | list_flags::RBD
        | list_flags::SHEEPDOG
        | list_flags::GLUSTER
        | list_flags::ZFS
        | list_flags::VSTORAGE
        | list_flags::ISCSI_DIRECT;
    let all = list_flags::INACTIVE
        | list_flags::ACTIVE
        | list_flags::PERSISTENT
        | list_flags::TRANSIENT
        | list_flags::AUTOSTART
        | list_flags::NO_AUTOSTART
        | type_bits;
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        all,
        "virConnectListAllStoragePools",
    )?;
    if flags & type_bits != 0 && flags & list_flags::DIR == 0 {
        return Ok(Vec::new());
    }
    let pair = |yes: u32, no: u32, value: bool| {
        let (wants_yes, wants_no) = (flags & yes != 0, flags & no != 0);
        wants_yes == wants_no || (value && wants_yes) || (!value && wants_no)
    };
    Ok(records::all()?
        .iter()
        .filter(|r| pair(list_flags::ACTIVE, list_flags::INACTIVE, r.is_active()))
        .filter(|r| {
            pair(
                list_flags::PERSISTENT,
                list_flags::TRANSIENT,
                r.config.is_some(),
            )
        })
        .filter(|r| pair(list_flags::AUTOSTART, list_flags::NO_AUTOSTART, r.autostart))
        .map(PoolRecord::reference)
        .collect())
}

// ---- reading ----

pub fn info(pool: &PoolRef) -> Result<PoolInfo, Error> {
    let record = resolve(pool)?;
    Ok(PoolInfo {
        state: if record.is_active() {
            storage_pool_state::RUNNING
        } else {
            storage_pool_state::INACTIVE
        },
        capacity: record.figures.capacity,
        allocation: record.figures.allocation,
        available: record.figures.available,
    })
}

pub fn get_xml(pool: &PoolRef, flags: u32) -> Result<String, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        storage_xml_flags::INACTIVE,
        "virStoragePoolGetXMLDesc",
    )?;
    let record = resolve(pool)?;
    let inactive = flags & storage_xml_flags::INACTIVE != 0;
    let xml = if inactive {
        record.config.as_deref().or(record.current_xml())
    } else {
        record.current_xml()
    }
    .ok_or_else(|| internal(format!("pool '{}' has no definition", record.name)))?;
    let definition = StoragePool::parse(xml)?;
    let directory = match (&record.live, inactive) {
        (Some(live), false) => live.directory,
        _ => None,
    };
    Ok(definition::format_pool(
        &definition,
        record.figures,
        directory,
    ))
}

pub fn status(pool: &PoolRef) -> Result<ObjectStatus, Error> {
    let record = resolve(pool)?;
    Ok(ObjectStatus {
        active: record.is_active(),
        persistent: record.config.is_some(),
        autostart: record.autostart,
        updated: false,
        has_managed_save: false,
    })
}

// ---- definitions ----

fn inactive_xml(pool: &StoragePool) -> String {
    pool.to_xml()
}

/// The checks of libvirt's `virStoragePoolObjListAdd`: another pool on the same directory (or
/// the same device, for `fs` pools), a UUID known under another name, a name known with
/// another UUID; with `check_active`, a running pool of that name. The record the definition
/// replaces, if any.
fn existing_for(
    pool: &StoragePool,
    all: &[PoolRecord],
    check_active: bool,
) -> Result<Option<PoolRecord>, Error> {
    let path = definition::target_path(pool);
    let device = fs_device(pool);
    for other in all.iter().filter(|other| other.name != pool.name()) {
        let other_def = other
            .current_xml()
            .and_then(|xml| StoragePool::parse(xml).ok());
        let other_path = other_def
            .as_ref()
            .and_then(|def| definition::target_path(def).map(str::to_string));
        let same_device = device.is_some() && other_def.as_ref().and_then(fs_device) == device;
        if (path.is_some() && other_path.as_deref() == path) || same_device {
            return Err(storage_error(
                ErrorNumber::OPERATION_FAILED,
                format!("Storage source conflict with pool: '{}'", other.name),
            ));
        }
    }
    let uuid = pool.uuid.map(|u| u.to_string()).unwrap_or_default();
    if let Some(existing) = all.iter().find(|record| record.uuid == uuid) {
        if existing.name != pool.name() {
            return Err(storage_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "pool '{}' is already defined with uuid {}",
                    existing.name, existing.uuid
                ),
            ));
        }
        if check_active && existing.is_active() {
            return Err(invalid(format!(
                "pool is already active as '{}'",
                existing.name
            )));
        }
        return Ok(Some(existing.clone()));
    }
    if let Some(existing) = all.iter().find(|record| record.name == pool.name()) {
        return Err(storage_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "pool '{}' already exists with uuid {}",
                existing.name, existing.uuid
            ),
        ));
    }
    Ok(None)
}

/// The device (or `HOST:DIR` share) an `fs` or `netfs` pool mounts: two pools cannot share
/// one.
fn fs_device(pool: &StoragePool) -> Option<String> {
    is_fs(pool)
        .then(|| crate::pool_commands::mount_source(pool).ok())
        .flatten()
}

fn new_record(pool: &StoragePool) -> PoolRecord {
    PoolRecord {
        uuid: pool.uuid.map(|u| u.to_string()).unwrap_or_default(),
        name: pool.name().to_string(),
        config: None,
        autostart: false,
        figures: PoolFigures::default(),
        live: None,
    }
}

pub fn define_xml(xml: &str, flags: u32) -> Result<PoolRef, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        storage_pool_define_flags::VALIDATE,
        "virStoragePoolDefineXML",
    )?;
    let pool = definition::parse_pool(xml)?;
    begin_job()?;
    let all = records::all()?;
    let mut record = existing_for(&pool, &all, false)?.unwrap_or_else(|| new_record(&pool));
    let previous = record.clone();
    record.config = Some(inactive_xml(&pool));
    records::write_config_files(&record).inspect_err(|_| {
        let _ = records::write_config_files(&previous);
    })?;
    records::store(&record);
    emit(&record, event_type::DEFINED);
    Ok(record.reference())
}

pub fn undefine(pool: &PoolRef) -> Result<(), Error> {
    begin_job()?;
    let record = resolve(pool)?;
    if record.is_active() {
        return Err(pool_still_active(&record.name));
    }
    if record.config.is_none() {
        return Err(invalid(format!(
            "storage pool '{}' is not persistent",
            record.name
        )));
    }
    records::remove_config_files(&record.name)?;
    records::delete(&record.uuid);
    emit(&record, event_type::UNDEFINED);
    Ok(())
}

pub fn set_autostart(pool: &PoolRef, autostart: bool) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve(pool)?;
    if record.config.is_none() {
        return Err(internal("pool has no config file"));
    }
    record.autostart = autostart;
    records::write_config_files(&record)?;
    records::store(&record);
    Ok(())
}

// ---- building and deleting the directory ----

/// The build flags a build or a start-with-build accepts, checked as libvirt does.
fn check_build_flags(overwrite: bool, no_overwrite: bool) -> Result<(), Error> {
    if overwrite && no_overwrite {
        return Err(invalid(
            "Overwrite and no overwrite flags are mutually exclusive",
        ));
    }
    Ok(())
}

/// The definition a pool runs with (or would start with).
pub fn definition_of(record: &PoolRecord) -> Result<StoragePool, Error> {
    let xml = record
        .current_xml()
        .ok_or_else(|| internal(format!("pool '{}' has no definition", record.name)))?;
    StoragePool::parse(xml)
}

/// Whether the pool is a filesystem mounted on its target: a device (`fs`) or a network
/// share (`netfs`, mounted by `mount` and its helpers, `mount.nfs`, `mount.cifs`, ...).
fn is_fs(pool: &StoragePool) -> bool {
    matches!(pool.pool_type, Some(PoolType::Fs | PoolType::Netfs))
}

/// Whether the pool is an LVM volume group.
pub fn is_logical(pool: &StoragePool) -> bool {
    pool.pool_type == Some(PoolType::Logical)
}

/// `pool-build`: the target directory, and for an `fs` pool asked to (`overwrite` or
/// `no_overwrite`) a filesystem on its device; for a `logical` pool, its volume group.
fn build_pool(pool: &StoragePool, flags: u32) -> Result<(), Error> {
    if is_logical(pool) {
        return disk::build_volume_group(pool, flags & storage_pool_build_flags::OVERWRITE != 0);
    }
    let dir = definition::target_path(pool).unwrap_or_default();
    disk::build_directory(dir, definition::pool_ownership(pool))?;
    if is_fs(pool) && flags != 0 {
        disk::make_filesystem(pool, flags & storage_pool_build_flags::OVERWRITE != 0)?;
    }
    Ok(())
}

pub fn build(pool: &PoolRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        storage_pool_build_flags::OVERWRITE | storage_pool_build_flags::NO_OVERWRITE,
        "virStoragePoolBuild",
    )?;
    check_build_flags(
        flags & storage_pool_build_flags::OVERWRITE != 0,
        flags & storage_pool_build_flags::NO_OVERWRITE != 0,
    )?;
    begin_job()?;
    let record = resolve_inactive(pool)?;
    build_pool(&definition_of(&record)?, flags)?;
    emit(&record, event_type::CREATED);
    Ok(())
}

pub fn delete(pool: &PoolRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 0, "virStoragePoolDelete")?;
    begin_job()?;
    let record = resolve(pool)?;
    if record.is_active() {
        return Err(pool_still_active(&record.name));
    }
    let definition = definition_of(&record)?;
    if is_logical(&definition) {
        disk::remove_volume_group(&definition)?;
        emit(&record, event_type::DELETED);
        return Ok(());
    }
    let dir = definition::target_path(&definition).unwrap_or_default();
    let failed = |why: &str| system(format!("failed to remove pool '{dir}'"), why);
    match files::stat(dir).map_err(from_host)? {
        None => return Err(failed("No such file or directory")),
        Some(found) if !found.is_dir => return Err(failed("Not a directory")),
        Some(_) => {}
    }
    files::remove_dir(dir).map_err(|e| failed(reason(&e.message)))?;
    emit(&record, event_type::DELETED);
    Ok(())
}

// ---- running ----

/// Mounts an `fs` pool (unless it is mounted) and scans the pool's directory into a running
/// pool's figures and volumes; a mount made here is undone when the scan fails.
fn start(record: &mut PoolRecord, pool: &StoragePool) -> Result<(), Error> {
    if is_logical(pool) {
        disk::activate_volume_group(pool, true)?;
        let (figures, volumes) = disk::scan_volume_group(pool).inspect_err(|_| {
            let _ = disk::activate_volume_group(pool, false);
        })?;
        record.figures = figures;
        record.live = Some(Live {
            xml: inactive_xml(pool),
            directory: None,
            volumes,
        });
        return Ok(());
    }
    let mounted_here = is_fs(pool) && disk::mount_pool(pool)?;
    let dir = definition::target_path(pool).unwrap_or_default();
    let (directory, figures, volumes) = disk::scan_pool(dir).inspect_err(|_| {
        if mounted_here {
            let _ = disk::unmount_pool(pool);
        }
    })?;
    record.figures = figures;
    record.live = Some(Live {
        xml: inactive_xml(pool),
        directory,
        volumes,
    });
    Ok(())
}

/// Whether an `fs` pool's source is mounted on its target now.
fn fs_mounted(pool: &StoragePool) -> Result<bool, Error> {
    let source = crate::pool_commands::mount_source(pool)?;
    disk::is_mounted(&source, definition::target_path(pool).unwrap_or_default())
}

/// What a running pool gives up when it stops: an `fs` pool's mount, a `logical` pool's
/// active logical volumes.
fn stop(pool: &StoragePool) -> Result<(), Error> {
    if is_fs(pool) {
        disk::unmount_pool(pool)?;
    }
    if is_logical(pool) {
        disk::activate_volume_group(pool, false)?;
    }
    Ok(())
}

/// The build a start was asked for (`VIR_STORAGE_POOL_CREATE_WITH_BUILD*`), as build flags.
fn build_requested(flags: u32) -> Result<Option<u32>, Error> {
    let overwrite = flags & storage_pool_create_flags::WITH_BUILD_OVERWRITE != 0;
    let no_overwrite = flags & storage_pool_create_flags::WITH_BUILD_NO_OVERWRITE != 0;
    check_build_flags(overwrite, no_overwrite)?;
    Ok(if overwrite {
        Some(storage_pool_build_flags::OVERWRITE)
    } else if no_overwrite {
        Some(storage_pool_build_flags::NO_OVERWRITE)
    } else if flags & storage_pool_create_flags::WITH_BUILD != 0 {
        Some(0)
    } else {
        None
    })
}

const CREATE_FLAGS: u32 = storage_pool_create_flags::WITH_BUILD
    | storage_pool_create_flags::WITH_BUILD_OVERWRITE
    | storage_pool_create_flags::WITH_BUILD_NO_OVERWRITE;

pub fn create(pool: &PoolRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        CREATE_FLAGS,
        "virStoragePoolCreate",
    )?;
    let build = build_requested(flags)?;
    begin_job()?;
    let mut record = resolve_inactive(pool)?;
    let definition = definition_of(&record)?;
    if let Some(build_flags) = build {
        build_pool(&definition, build_flags)?;
    }
    start(&mut record, &definition)?;
    records::store(&record);
    emit(&record, event_type::STARTED);
    Ok(())
}

pub fn create_xml(xml: &str, flags: u32) -> Result<PoolRef, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        CREATE_FLAGS,
        "virStoragePoolCreateXML",
    )?;
    let build = build_requested(flags)?;
    let pool = definition::parse_pool(xml)?;
    begin_job()?;
    let all = records::all()?;
    let mut record = existing_for(&pool, &all, true)?.unwrap_or_else(|| new_record(&pool));
    if let Some(build_flags) = build {
        build_pool(&pool, build_flags)?;
    }
    start(&mut record, &pool)?;
    records::store(&record);
    emit(&record, event_type::STARTED);
    Ok(record.reference())
}

pub fn destroy(pool: &PoolRef) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve_active(pool)?;
    stop(&definition_of(&record)?)?;
    record.live = None;
    records::store(&record);
    emit(&record, event_type::STOPPED);
    Ok(())
}

pub fn refresh(pool: &PoolRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 0, "virStoragePoolRefresh")?;
    begin_job()?;
    let mut record = resolve_active(pool)?;
    let definition = definition_of(&record)?;
    if let Err(error) = start(&mut record, &definition) {
        // libvirt stops a pool it can no longer read (its directory went away).
        let _ = stop(&definition);
        record.live = None;
        records::store(&record);
        emit(&record, event_type::STOPPED);
        return Err(error);
    }
    records::store(&record);
    events::emit(&Event::PoolRefresh(record.reference()));
    Ok(())
}

/// Re-reads the free space of a running pool's filesystem after a volume changed.
pub fn update_figures(record: &mut PoolRecord) -> Result<(), Error> {
    let definition = definition_of(record)?;
    record.figures = if is_logical(&definition) {
        disk::volume_group_figures(&definition)?
    } else {
        disk::filesystem_figures(definition::target_path(&definition).unwrap_or_default())?
    };
    Ok(())
}

/// The target directory of a pool's definition.
pub fn target_dir(record: &PoolRecord) -> Result<String, Error> {
    let definition = definition_of(record)?;
    Ok(definition::target_path(&definition)
        .unwrap_or_default()
        .to_string())
}

// ---- after a daemon restart ----

/// Refreshes every running pool (one whose directory is gone stops) and starts the
/// autostart pools.
pub fn restart_all() -> Result<(), Error> {
    records::dirs().create()?;
    for mut record in records::all()? {
        let wants_to_run = record.is_active() || record.autostart;
        if !wants_to_run {
            continue;
        }
        let was_active = record.is_active();
        let started = definition_of(&record).and_then(|def| {
            // A running fs pool whose mount went away while no daemon watched has stopped
            // (libvirt's check at start); only autostart mounts it again.
            if was_active && !record.autostart && is_fs(&def) && !fs_mounted(&def)? {
                return Err(internal(format!(
                    "storage pool '{}' is no longer mounted",
                    record.name
                )));
            }
            start(&mut record, &def)
        });
        match started {
            Ok(()) => {
                records::store(&record);
                if !was_active {
                    emit(&record, event_type::STARTED);
                }
            }
            Err(error) => {
                virt_plugin_sdk::warn!(
                    "cannot start storage pool '{}': {}",
                    record.name,
                    error.message()
                );
                if was_active {
                    record.live = None;
                    records::store(&record);
                }
            }
        }
    }
    Ok(())
}
