//! Storage pools and volumes, as libvirt's test driver keeps them: every pool claims 100 GiB,
//! volumes are bookkeeping only (no file is ever created), and a volume's path and key are
//! `<pool target>/<volume name>`.
//!
//! A pool is one record of kind `pool` (keyed by UUID) with its state, its definition and
//! its space figures, plus a `pool.name` index; its volumes are records of kind
//! `volume/<pool uuid>` keyed by name. Every change takes the [`POOLS_JOB`].

pub(crate) mod def;

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    connect_list_all_storage_pools_flags as list_flags, storage_pool_define_flags,
    storage_pool_event_lifecycle_type as event_type, storage_pool_state, storage_vol_create_flags,
};
use virt_core::{ErrorDomain, ErrorNumber, Result, Uuid};
use virt_plugin_sdk::types::{self, Event, ObjectStatus, PoolInfo, PoolRef, VolumeInfo, VolumeRef};

use crate::error;
use crate::space::Space;
use def::{PoolDef, VolumeDef};

/// Job target for every change to pools and volumes.
pub(crate) const POOLS_JOB: &str = "pools";

const KIND_POOL: &str = "pool";
const KIND_NAME: &str = "pool.name";

/// What every test driver pool claims to hold.
const DEFAULT_POOL_CAPACITY: u64 = 100 * 1024 * 1024 * 1024;

/// A pool, its definition and its space figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PoolRecord {
    pub name: String,
    pub active: bool,
    /// libvirt: the pool has a config file.
    pub persistent: bool,
    pub autostart: bool,
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    /// libvirt's `def`, as `PoolDef` stores it.
    pub def: Vec<u8>,
    /// libvirt's `newDef`: a definition waiting for the running pool to stop.
    pub new_def: Option<Vec<u8>>,
}

/// A volume.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VolumeRecord {
    pub key: String,
    pub path: String,
    pub capacity: u64,
    pub allocation: u64,
    /// The volume's definition, as `VolumeDef` stores it.
    pub def: Vec<u8>,
}

pub(crate) struct Pool {
    pub uuid: Uuid,
    pub rec: PoolRecord,
}

fn volume_kind(uuid: &Uuid) -> String {
    format!("volume/{uuid}")
}

impl Pool {
    fn reference(&self) -> PoolRef {
        PoolRef {
            name: self.rec.name.clone(),
            uuid: self.uuid.into(),
        }
    }

    fn emit(&self, space: &dyn Space, event: i32) {
        space.emit(Event::PoolLifecycle((self.reference(), event, 0)));
    }

    fn write(&self, space: &dyn Space) -> Result<()> {
        space.store(KIND_POOL, &self.uuid.to_string(), &self.rec)
    }

    fn remove(&self, space: &dyn Space) {
        space.delete(KIND_POOL, &self.uuid.to_string());
        space.delete(KIND_NAME, &self.rec.name);
        let kind = volume_kind(&self.uuid);
        for (name, _) in space.list(&kind) {
            space.delete(&kind, &name);
        }
    }

    fn def(&self) -> Result<PoolDef> {
        PoolDef::from_stored(&self.rec.def)
    }

    fn volumes(&self, space: &dyn Space) -> Result<Vec<(String, VolumeRecord)>> {
        space.load_all(&volume_kind(&self.uuid))
    }

    fn volume(&self, space: &dyn Space, name: &str) -> Result<Option<VolumeRecord>> {
        space.load(&volume_kind(&self.uuid), name)
    }

    fn volume_ref(&self, name: &str, vol: &VolumeRecord) -> VolumeRef {
        VolumeRef {
            pool: self.rec.name.clone(),
            name: name.to_string(),
            key: vol.key.clone(),
        }
    }

    /// `testStoragePoolObjSetDefaults`: a fresh 100 GiB.
    fn set_default_space(&mut self) {
        self.rec.capacity = DEFAULT_POOL_CAPACITY;
        self.rec.allocation = 0;
        self.rec.available = DEFAULT_POOL_CAPACITY;
    }
}

fn no_pool_name(name: &str) -> virt_core::Error {
    error::test(
        ErrorNumber::NO_STORAGE_POOL,
        format!("no storage pool with matching name '{name}'"),
    )
}

fn no_volume(what: &str, value: &str) -> virt_core::Error {
    error::test(
        ErrorNumber::NO_STORAGE_VOL,
        format!("no storage vol with matching {what} '{value}'"),
    )
}

fn find_by_uuid(space: &dyn Space, uuid: &Uuid) -> Result<Option<Pool>> {
    Ok(space
        .load::<PoolRecord>(KIND_POOL, &uuid.to_string())?
        .map(|rec| Pool { uuid: *uuid, rec }))
}

fn find_by_name(space: &dyn Space, name: &str) -> Result<Option<Pool>> {
    match space.load::<[u8; 16]>(KIND_NAME, name)? {
        Some(bytes) => find_by_uuid(space, &Uuid::from_bytes(bytes)),
        None => Ok(None),
    }
}

fn get_by_name(space: &dyn Space, name: &str) -> Result<Pool> {
    find_by_name(space, name)?.ok_or_else(|| no_pool_name(name))
}

fn get_by_uuid(space: &dyn Space, uuid: &Uuid) -> Result<Pool> {
    find_by_uuid(space, uuid)?.ok_or_else(|| {
        error::test(
            ErrorNumber::NO_STORAGE_POOL,
            format!("no storage pool with matching uuid '{uuid}'"),
        )
    })
}

/// `testStoragePoolObjFindActiveByName`.
fn get_active(space: &dyn Space, name: &str) -> Result<Pool> {
    let pool = get_by_name(space, name)?;
    if !pool.rec.active {
        return Err(error::operation_invalid(format!(
            "storage pool '{name}' is not active"
        )));
    }
    Ok(pool)
}

/// `testStoragePoolObjFindInactiveByName`.
fn get_inactive(space: &dyn Space, name: &str) -> Result<Pool> {
    let pool = get_by_name(space, name)?;
    if pool.rec.active {
        return Err(error::operation_invalid(format!(
            "storage pool '{name}' is active"
        )));
    }
    Ok(pool)
}

fn all(space: &dyn Space) -> Result<Vec<Pool>> {
    space
        .load_all::<PoolRecord>(KIND_POOL)?
        .into_iter()
        .map(|(key, rec)| {
            let uuid = virt_core::parse_uuid(&key)
                .ok_or_else(|| error::internal(format!("pool record with a bad key '{key}'")))?;
            Ok(Pool { uuid, rec })
        })
        .collect()
}

pub(crate) fn lookup_pool_by_name(space: &dyn Space, name: &str) -> Result<PoolRef> {
    Ok(get_by_name(space, name)?.reference())
}

pub(crate) fn lookup_pool_by_uuid(space: &dyn Space, uuid: types::Uuid) -> Result<PoolRef> {
    Ok(get_by_uuid(space, &uuid.into())?.reference())
}

pub(crate) fn lookup_pool_by_volume(space: &dyn Space, vol: &VolumeRef) -> Result<PoolRef> {
    lookup_pool_by_name(space, &vol.pool)
}

/// The pool-type filter bits of `virConnectListAllStoragePools`, by pool type keyword.
const TYPE_FILTERS: &[(u32, &str)] = &[
    (list_flags::DIR, "dir"),
    (list_flags::FS, "fs"),
    (list_flags::NETFS, "netfs"),
    (list_flags::LOGICAL, "logical"),
    (list_flags::DISK, "disk"),
    (list_flags::ISCSI, "iscsi"),
    (list_flags::SCSI, "scsi"),
    (list_flags::MPATH, "mpath"),
    (list_flags::RBD, "rbd"),
    (list_flags::SHEEPDOG, "sheepdog"),
    (list_flags::GLUSTER, "gluster"),
    (list_flags::ZFS, "zfs"),
    (list_flags::VSTORAGE, "vstorage"),
    (list_flags::ISCSI_DIRECT, "iscsi-direct"),
];

/// `virConnectListAllStoragePools`.
pub(crate) fn list_all_pools(space: &dyn Space, flags: u32) -> Result<Vec<PoolRef>> {
    let type_bits: u32 = TYPE_FILTERS
        .iter()
        .map(|(bit, _)| bit)
        .fold(0, |acc, bit| acc | bit);
    let all_flags = list_flags::INACTIVE
        | list_flags::ACTIVE
        | list_flags::PERSISTENT
        | list_flags::TRANSIENT
        | list_flags::AUTOSTART
        | list_flags::NO_AUTOSTART
        | type_bits;
    error::check_flags(flags, all_flags, "testConnectListAllStoragePools")?;
    let group = |yes: u32, no: u32, value: bool| {
        flags & (yes | no) == 0 || (flags & yes != 0 && value) || (flags & no != 0 && !value)
    };
    let mut out = Vec::new();
    for pool in all(space)? {
        if !(group(list_flags::ACTIVE, list_flags::INACTIVE, pool.rec.active)
            && group(
                list_flags::PERSISTENT,
                list_flags::TRANSIENT,
                pool.rec.persistent,
            )
            && group(
                list_flags::AUTOSTART,
                list_flags::NO_AUTOSTART,
                pool.rec.autostart,
            ))
        {
            continue;
        }
        if flags & type_bits != 0 {
            let kind = pool.def()?.pool_type().to_string();
            if !TYPE_FILTERS
                .iter()
                .any(|(bit, name)| flags & bit != 0 && *name == kind)
            {
                continue;
            }
        }
        out.push(pool.reference());
    }
    Ok(out)
}

/// The checks of `virStoragePoolObjListAdd`: another pool using the same source, a UUID
/// known under another name, a name known with another UUID; with `check_live`, a running
/// pool of that name.
fn find_existing(space: &dyn Space, def: &PoolDef, check_live: bool) -> Result<Option<Pool>> {
    for other in all(space)? {
        if other.rec.name != def.name() && other.def()?.source_conflicts_with(def) {
            return Err(error::duplicate(
                ErrorDomain::STORAGE,
                format!("Storage source conflict with pool: '{}'", other.rec.name),
            ));
        }
    }
    let uuid = def.uuid();
    if let Some(existing) = find_by_uuid(space, &uuid)? {
        if existing.rec.name != def.name() {
            return Err(error::duplicate(
                ErrorDomain::STORAGE,
                format!(
                    "pool '{}' is already defined with uuid {}",
                    existing.rec.name, uuid
                ),
            ));
        }
        if check_live && existing.rec.active {
            return Err(virt_core::Error::new(
                ErrorNumber::OPERATION_INVALID,
                ErrorDomain::STORAGE,
                format!("pool is already active as '{}'", existing.rec.name),
            ));
        }
        return Ok(Some(existing));
    }
    if let Some(existing) = find_by_name(space, def.name())? {
        return Err(error::duplicate(
            ErrorDomain::STORAGE,
            format!(
                "pool '{}' already exists with uuid {}",
                def.name(),
                existing.uuid
            ),
        ));
    }
    Ok(None)
}

fn new_pool(def: &PoolDef) -> Pool {
    Pool {
        uuid: def.uuid(),
        rec: PoolRecord {
            name: def.name().to_string(),
            active: false,
            persistent: false,
            autostart: false,
            capacity: DEFAULT_POOL_CAPACITY,
            allocation: 0,
            available: DEFAULT_POOL_CAPACITY,
            def: def.to_stored(),
            new_def: None,
        },
    }
}

fn insert(space: &dyn Space, pool: &Pool) -> Result<()> {
    space.store(KIND_NAME, &pool.rec.name, pool.uuid.as_bytes())?;
    pool.write(space)
}

/// Adds a pool and its volumes from a node document (active, persistent).
pub(crate) fn load(space: &dyn Space, def: PoolDef, volumes: Vec<VolumeDef>) -> Result<()> {
    let mut pool = match find_existing(space, &def, false)? {
        None => new_pool(&def),
        Some(_) => {
            return Err(error::duplicate(
                ErrorDomain::STORAGE,
                format!("pool '{}' is defined twice", def.name()),
            ))
        }
    };
    pool.rec.active = true;
    pool.rec.persistent = true;
    for mut vol in volumes {
        if vol.path().is_none() {
            let path = format!("{}/{}", def.target_path().unwrap_or_default(), vol.name());
            vol.set_path(&path);
        }
        if vol.key().is_none() {
            let key = vol.path().unwrap_or_default().to_string();
            vol.set_key(&key);
        }
        if pool.volume(space, vol.name())?.is_some() {
            return Err(error::duplicate(
                ErrorDomain::STORAGE,
                format!("volume '{}' already exists", vol.name()),
            ));
        }
        pool.rec.allocation += vol.allocation();
        pool.rec.available = pool.rec.capacity.saturating_sub(pool.rec.allocation);
        store_volume(space, &pool, &vol)?;
    }
    insert(space, &pool)
}

fn store_volume(space: &dyn Space, pool: &Pool, vol: &VolumeDef) -> Result<VolumeRecord> {
    let rec = VolumeRecord {
        key: vol.key().unwrap_or_default().to_string(),
        path: vol.path().unwrap_or_default().to_string(),
        capacity: vol.capacity(),
        allocation: vol.allocation(),
        def: vol.to_stored(),
    };
    space.store(&volume_kind(&pool.uuid), vol.name(), &rec)?;
    Ok(rec)
}

/// `virStoragePoolDefineXML`.
pub(crate) fn define_pool_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<PoolRef> {
    error::check_flags(
        flags,
        storage_pool_define_flags::VALIDATE,
        "testStoragePoolDefineXML",
    )?;
    let def = PoolDef::parse(xml, flags & storage_pool_define_flags::VALIDATE != 0)?;
    space.begin_job(POOLS_JOB)?;
    let pool = match find_existing(space, &def, false)? {
        None => {
            let mut pool = new_pool(&def);
            pool.rec.persistent = true;
            insert(space, &pool)?;
            pool
        }
        Some(mut pool) => {
            // virStoragePoolObjAssignDef.
            if pool.rec.active {
                pool.rec.new_def = Some(def.to_stored());
            } else {
                pool.rec.def = def.to_stored();
                pool.set_default_space();
            }
            pool.rec.persistent = true;
            pool.write(space)?;
            pool
        }
    };
    pool.emit(space, event_type::DEFINED);
    Ok(pool.reference())
}

/// `virStoragePoolCreateXML`: a transient pool, running at once.
pub(crate) fn create_pool_xml(space: &dyn Space, xml: &str, flags: u32) -> Result<PoolRef> {
    error::check_flags(flags, 0, "testStoragePoolCreateXML")?;
    let def = PoolDef::parse(xml, false)?;
    space.begin_job(POOLS_JOB)?;
    let existing = find_existing(space, &def, true)?;
    let is_new = existing.is_none();
    let mut pool = match existing {
        None => new_pool(&def),
        Some(mut pool) => {
            pool.rec.def = def.to_stored();
            pool
        }
    };
    pool.set_default_space();
    // The test driver drops the config file here, so even a defined pool becomes transient.
    pool.rec.persistent = false;
    pool.rec.active = true;
    if is_new {
        insert(space, &pool)?;
    } else {
        pool.write(space)?;
    }
    pool.emit(space, event_type::STARTED);
    Ok(pool.reference())
}

/// `virStoragePoolBuild`: nothing to build, only the event.
pub(crate) fn build_pool(space: &dyn Space, pool: &PoolRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testStoragePoolBuild")?;
    let p = get_inactive(space, &pool.name)?;
    space.emit(Event::PoolLifecycle((
        p.reference(),
        event_type::CREATED,
        0,
    )));
    Ok(())
}

/// `virStoragePoolUndefine`.
pub(crate) fn undefine_pool(space: &dyn Space, pool: &PoolRef) -> Result<()> {
    space.begin_job(POOLS_JOB)?;
    let p = get_inactive(space, &pool.name)?;
    space.emit(Event::PoolLifecycle((
        pool.clone(),
        event_type::UNDEFINED,
        0,
    )));
    p.remove(space);
    Ok(())
}

/// `virStoragePoolCreate`.
pub(crate) fn create_pool(space: &dyn Space, pool: &PoolRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testStoragePoolCreate")?;
    space.begin_job(POOLS_JOB)?;
    let mut p = get_inactive(space, &pool.name)?;
    p.rec.active = true;
    p.write(space)?;
    space.emit(Event::PoolLifecycle((pool.clone(), event_type::STARTED, 0)));
    Ok(())
}

/// `virStoragePoolDestroy`: a transient pool is gone afterwards.
pub(crate) fn destroy_pool(space: &dyn Space, pool: &PoolRef) -> Result<()> {
    space.begin_job(POOLS_JOB)?;
    let mut p = get_active(space, &pool.name)?;
    p.rec.active = false;
    p.emit(space, event_type::STOPPED);
    if p.rec.persistent {
        p.write(space)
    } else {
        p.remove(space);
        Ok(())
    }
}

/// `virStoragePoolDelete`: nothing to delete, only the event.
pub(crate) fn delete_pool(space: &dyn Space, pool: &PoolRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testStoragePoolDelete")?;
    get_inactive(space, &pool.name)?;
    space.emit(Event::PoolLifecycle((pool.clone(), event_type::DELETED, 0)));
    Ok(())
}

/// `virStoragePoolRefresh`: only the event.
pub(crate) fn refresh_pool(space: &dyn Space, pool: &PoolRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testStoragePoolRefresh")?;
    get_active(space, &pool.name)?;
    space.emit(Event::PoolRefresh(pool.clone()));
    Ok(())
}

/// `virStoragePoolGetInfo`.
pub(crate) fn pool_info(space: &dyn Space, pool: &PoolRef) -> Result<PoolInfo> {
    let p = get_by_name(space, &pool.name)?;
    Ok(PoolInfo {
        state: if p.rec.active {
            storage_pool_state::RUNNING
        } else {
            storage_pool_state::INACTIVE
        },
        capacity: p.rec.capacity,
        allocation: p.rec.allocation,
        available: p.rec.available,
    })
}

/// `virStoragePoolGetXMLDesc`.
pub(crate) fn pool_xml(space: &dyn Space, pool: &PoolRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testStoragePoolGetXMLDesc")?;
    let p = get_by_name(space, &pool.name)?;
    Ok(p.def()?
        .format(p.rec.capacity, p.rec.allocation, p.rec.available))
}

/// `virStoragePoolIsActive` / `IsPersistent` / `GetAutostart`.
pub(crate) fn pool_status(space: &dyn Space, pool: &PoolRef) -> Result<ObjectStatus> {
    let p = get_by_uuid(space, &pool.uuid.into())?;
    Ok(ObjectStatus {
        active: p.rec.active,
        persistent: p.rec.persistent,
        autostart: p.rec.persistent && p.rec.autostart,
        updated: false,
        has_managed_save: false,
    })
}

/// `virStoragePoolSetAutostart`: only for pools with a config file.
pub(crate) fn set_pool_autostart(space: &dyn Space, pool: &PoolRef, autostart: bool) -> Result<()> {
    space.begin_job(POOLS_JOB)?;
    let mut p = get_by_name(space, &pool.name)?;
    if !p.rec.persistent {
        return Err(error::invalid_arg("pool has no config file"));
    }
    p.rec.autostart = autostart;
    p.write(space)
}

/// `virConnectFindStoragePoolSources`: canned answers for logical and netfs pools.
pub(crate) fn find_pool_sources(
    space: &dyn Space,
    kind: &str,
    src_spec: Option<&str>,
    flags: u32,
) -> Result<String> {
    let _ = space;
    error::check_flags(flags, 0, "testConnectFindStoragePoolSources")?;
    // virStoragePoolTypeFromString gives "dir" the value 0, which the test driver takes for
    // "unknown".
    if kind == "dir" {
        return Err(error::internal(format!("unknown storage pool type {kind}")));
    }
    let host = match src_spec {
        Some(spec) => def::source_host_name(spec, kind)?,
        None => None,
    };
    match kind {
        "logical" => Ok(def::LOGICAL_SOURCES.to_string()),
        "netfs" => match host {
            Some(host) => Ok(def::netfs_sources(&host)),
            None => Err(error::invalid_arg(
                "hostname must be specified for netfs sources",
            )),
        },
        _ => Err(error::test(
            ErrorNumber::NO_SUPPORT,
            format!("pool type '{kind}' does not support source discovery"),
        )),
    }
}

/// `virStoragePoolListAllVolumes`.
pub(crate) fn list_volumes(space: &dyn Space, pool: &PoolRef) -> Result<Vec<VolumeRef>> {
    let p = get_by_uuid(space, &pool.uuid.into())?;
    if !p.rec.active {
        return Err(error::operation_invalid("storage pool is not active"));
    }
    Ok(p.volumes(space)?
        .iter()
        .map(|(name, vol)| p.volume_ref(name, vol))
        .collect())
}

/// `virStorageVolLookupByName`.
pub(crate) fn lookup_volume_by_name(
    space: &dyn Space,
    pool: &PoolRef,
    name: &str,
) -> Result<VolumeRef> {
    let p = get_active(space, &pool.name)?;
    let vol = p
        .volume(space, name)?
        .ok_or_else(|| no_volume("name", name))?;
    Ok(p.volume_ref(name, &vol))
}

/// The first volume of an active pool that `matches`.
fn search_volumes(
    space: &dyn Space,
    matches: impl Fn(&VolumeRecord) -> bool,
) -> Result<Option<VolumeRef>> {
    for p in all(space)?.into_iter().filter(|p| p.rec.active) {
        if let Some((name, vol)) = p.volumes(space)?.into_iter().find(|(_, vol)| matches(vol)) {
            return Ok(Some(p.volume_ref(&name, &vol)));
        }
    }
    Ok(None)
}

/// `virStorageVolLookupByKey`.
pub(crate) fn lookup_volume_by_key(space: &dyn Space, key: &str) -> Result<VolumeRef> {
    search_volumes(space, |vol| vol.key == key)?.ok_or_else(|| no_volume("key", key))
}

/// `virStorageVolLookupByPath`.
pub(crate) fn lookup_volume_by_path(space: &dyn Space, path: &str) -> Result<VolumeRef> {
    search_volumes(space, |vol| vol.path == path)?.ok_or_else(|| no_volume("path", path))
}

/// `virStorageVolCreateXML` and `CreateXMLFrom`: bookkeeping only.
fn create_volume(
    space: &dyn Space,
    pool: &PoolRef,
    xml: &str,
    clone_of: Option<&VolumeRef>,
    flags: u32,
) -> Result<VolumeRef> {
    let function = if clone_of.is_some() {
        "testStorageVolCreateXMLFrom"
    } else {
        "testStorageVolCreateXML"
    };
    error::check_flags(flags, storage_vol_create_flags::VALIDATE, function)?;
    space.begin_job(POOLS_JOB)?;
    let mut p = get_active(space, &pool.name)?;
    let pool_def = p.def()?;
    let mut vol = VolumeDef::parse(
        &pool_def,
        xml,
        flags & storage_vol_create_flags::VALIDATE != 0,
    )?;
    if p.volume(space, vol.name())?.is_some() {
        return Err(error::test(
            ErrorNumber::OPERATION_FAILED,
            "storage vol already exists",
        ));
    }
    if let Some(origin) = clone_of {
        if p.volume(space, &origin.name)?.is_none() {
            return Err(no_volume("name", &origin.name));
        }
    }
    if p.rec.allocation + vol.allocation() > p.rec.capacity {
        return Err(error::internal(format!(
            "Not enough free space in pool for volume '{}'",
            vol.name()
        )));
    }
    let path = format!(
        "{}/{}",
        pool_def.target_path().unwrap_or_default(),
        vol.name()
    );
    vol.set_path(&path);
    vol.set_key(&path);
    let rec = store_volume(space, &p, &vol)?;
    p.rec.allocation += rec.allocation;
    p.rec.available = p.rec.capacity.saturating_sub(p.rec.allocation);
    p.write(space)?;
    Ok(p.volume_ref(vol.name(), &rec))
}

pub(crate) fn create_volume_xml(
    space: &dyn Space,
    pool: &PoolRef,
    xml: &str,
    flags: u32,
) -> Result<VolumeRef> {
    create_volume(space, pool, xml, None, flags)
}

pub(crate) fn create_volume_xml_from(
    space: &dyn Space,
    pool: &PoolRef,
    xml: &str,
    clone_of: &VolumeRef,
    flags: u32,
) -> Result<VolumeRef> {
    create_volume(space, pool, xml, Some(clone_of), flags)
}

/// The volume a handle refers to, in its (active) pool.
fn get_volume(space: &dyn Space, vol: &VolumeRef) -> Result<(Pool, VolumeRecord)> {
    let p = get_active(space, &vol.pool)?;
    let rec = p
        .volume(space, &vol.name)?
        .ok_or_else(|| no_volume("name", &vol.name))?;
    Ok((p, rec))
}

/// `virStorageVolDelete`.
pub(crate) fn delete_volume(space: &dyn Space, vol: &VolumeRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testStorageVolDelete")?;
    space.begin_job(POOLS_JOB)?;
    let (mut p, rec) = get_volume(space, vol)?;
    p.rec.allocation = p.rec.allocation.saturating_sub(rec.allocation);
    p.rec.available = p.rec.capacity.saturating_sub(p.rec.allocation);
    space.delete(&volume_kind(&p.uuid), &vol.name);
    p.write(space)
}

/// `virStorageVolGetInfo`: the volume type follows the pool type.
pub(crate) fn volume_info(space: &dyn Space, vol: &VolumeRef, flags: u32) -> Result<VolumeInfo> {
    error::check_flags(flags, 0, "testStorageVolGetInfo")?;
    let (p, rec) = get_volume(space, vol)?;
    Ok(VolumeInfo {
        kind: p.def()?.volume_type(),
        capacity: rec.capacity,
        allocation: rec.allocation,
    })
}

/// `virStorageVolGetXMLDesc`.
pub(crate) fn volume_xml(space: &dyn Space, vol: &VolumeRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testStorageVolGetXMLDesc")?;
    let (p, rec) = get_volume(space, vol)?;
    let vol_def = VolumeDef::from_stored(&rec.def)?;
    Ok(vol_def.format(&p.def()?))
}

/// `virStorageVolGetPath`.
pub(crate) fn volume_path(space: &dyn Space, vol: &VolumeRef) -> Result<String> {
    Ok(get_volume(space, vol)?.1.path)
}
