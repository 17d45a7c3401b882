//! What changes and reads volumes: create (qemu-img create, with a backing store when one is
//! named), clone (qemu-img convert), delete, resize (qemu-img resize), wipe, and the lookups,
//! info, XML and paths. The qemu-img command lines of a create, clone or wipe are libvirt's
//! ([`crate::volume_image`]).
//!
//! A volume is a regular file in its running pool's directory, named after the volume; its
//! key is its path, as libvirt's dir backend has it. The pool's record holds the volumes
//! its last refresh found, updated by every change here; a change that fails leaves no file
//! behind. Every change holds the pools job.

use virt_core::consts::{
    storage_vol_create_flags, storage_vol_info_flags, storage_vol_resize_flags, storage_vol_type,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::types::{PoolRef, VolumeInfo, VolumeRef};
use virt_xml::storage::{sanitize_path, PoolType};

use crate::definition::{self, NewVolume, VolumeFacts, VolumeFormat};
use crate::disk;
use crate::error::{
    from_host, internal, invalid, no_volume, pool_not_active, reason, storage_error, system,
};
use crate::pool_commands::Command;
use crate::pools::{self, begin_job};
use crate::qemu_img;
use crate::records::{self, PoolRecord, VolumeRecord};
use crate::volume_image::{self, CapacityRule, MakeVolume, VolumeImage};
use virt_xml::secret::SecretUsageType;

/// What this driver does not do to a logical volume yet.
fn not_for_logical_volumes(what: &str) -> Error {
    storage_error(
        ErrorNumber::NO_SUPPORT,
        format!("{what} of a logical volume is not supported by this storage driver"),
    )
}

fn not_enough_space() -> Error {
    storage_error(
        ErrorNumber::OPERATION_FAILED,
        "Not enough space left in storage pool",
    )
}

/// A volume's pool (running) and its record there.
fn resolve(volume: &VolumeRef) -> Result<(PoolRecord, VolumeRecord), Error> {
    let pool = records::find_by_name(&volume.pool)?
        .ok_or_else(|| crate::error::no_pool_name(&volume.pool))?;
    if !pool.is_active() {
        return Err(pool_not_active(&pool.name));
    }
    let found = pool
        .volumes()
        .iter()
        .find(|v| v.name == volume.name)
        .cloned()
        .ok_or_else(|| no_volume("name", &volume.name))?;
    Ok((pool, found))
}

/// Puts a volume's new state into its pool's record (or takes it out), with the pool's new
/// free space.
fn save(pool: &mut PoolRecord, name: &str, volume: Option<VolumeRecord>) -> Result<(), Error> {
    if let Some(live) = pool.live.as_mut() {
        live.volumes.retain(|v| v.name != name);
        if let Some(volume) = volume {
            live.volumes.push(volume);
            live.volumes.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    pools::update_figures(pool)?;
    records::store(pool);
    Ok(())
}

// ---- reading ----

pub fn list(pool: &PoolRef) -> Result<Vec<VolumeRef>, Error> {
    let record = pools::resolve_active(pool)?;
    Ok(record
        .volumes()
        .iter()
        .map(|v| v.reference(&record.name))
        .collect())
}

pub fn lookup_by_name(pool: &PoolRef, name: &str) -> Result<VolumeRef, Error> {
    let record = pools::resolve_active(pool)?;
    record
        .volumes()
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.reference(&record.name))
        .ok_or_else(|| no_volume("name", name))
}

/// The first volume of a running pool whose path is `path`.
fn find_by_path(path: &str) -> Result<Option<VolumeRef>, Error> {
    for pool in records::all()?.iter().filter(|p| p.is_active()) {
        if let Some(volume) = pool.volumes().iter().find(|v| v.path == path) {
            return Ok(Some(volume.reference(&pool.name)));
        }
    }
    Ok(None)
}

pub fn lookup_by_key(key: &str) -> Result<VolumeRef, Error> {
    find_by_path(key)?.ok_or_else(|| {
        storage_error(
            ErrorNumber::NO_STORAGE_VOL,
            format!("no storage vol with matching key {key}"),
        )
    })
}

pub fn lookup_by_path(path: &str) -> Result<VolumeRef, Error> {
    find_by_path(&sanitize_path(path))?.ok_or_else(|| no_volume("path", path))
}

/// The volume as its file is now (libvirt refreshes a volume before it tells about it);
/// what the pool's record says when the file cannot be read.
fn refreshed(volume: &VolumeRecord) -> VolumeRecord {
    match disk::probe_volume(&volume.name, &volume.path) {
        Ok(Some(now)) => now,
        _ => volume.clone(),
    }
}

pub fn info(volume: &VolumeRef, flags: u32) -> Result<VolumeInfo, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        storage_vol_info_flags::GET_PHYSICAL,
        "virStorageVolGetInfoFlags",
    )?;
    let (_, found) = resolve(volume)?;
    let now = refreshed(&found);
    Ok(VolumeInfo {
        kind: if now.block {
            storage_vol_type::BLOCK
        } else {
            storage_vol_type::FILE
        },
        capacity: now.capacity,
        allocation: if flags & storage_vol_info_flags::GET_PHYSICAL != 0 {
            now.physical
        } else {
            now.allocation
        },
    })
}

pub fn get_xml(volume: &VolumeRef, flags: u32) -> Result<String, Error> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 0, "virStorageVolGetXMLDesc")?;
    let (_, found) = resolve(volume)?;
    let now = refreshed(&found);
    Ok(definition::format_volume(&VolumeFacts {
        name: &now.name,
        path: &now.path,
        format: now.format,
        capacity: now.capacity,
        allocation: now.allocation,
        physical: now.physical,
        ownership: now.ownership,
        compat: now.compat.as_deref(),
        block: now.block,
    }))
}

pub fn path(volume: &VolumeRef) -> Result<String, Error> {
    Ok(resolve(volume)?.1.path)
}

/// The file an upload writes or a download reads: the volume's own file, byte for byte
/// (libvirt streams a file volume as it is, whatever its format).
pub fn data_path(volume: &VolumeRef) -> Result<String, Error> {
    path(volume)
}

// ---- creating ----

/// Where a new volume goes, refused when the name or the file is taken.
fn new_volume_path(pool: &PoolRecord, volume: &NewVolume) -> Result<String, Error> {
    if pool.volumes().iter().any(|v| v.name == volume.name) {
        return Err(storage_error(
            ErrorNumber::STORAGE_VOL_EXIST,
            format!("'{}'", volume.name),
        ));
    }
    let path = format!("{}/{}", pools::target_dir(pool)?, volume.name);
    if files::stat(&path).map_err(from_host)?.is_some() {
        return Err(invalid(format!(
            "volume target path '{path}' already exists"
        )));
    }
    Ok(path)
}

/// Runs what makes the file; on failure removes whatever it left, so nothing is half-made.
fn make_file(path: &str, args: Vec<String>) -> Result<(), Error> {
    disk::qemu_img(args).inspect_err(|_| {
        let _ = files::remove(path);
    })
}

/// Runs libvirt's qemu-img commands for a volume, in order; a failure removes the file.
fn make_image(path: &str, commands: Vec<Command>) -> Result<(), Error> {
    commands
        .into_iter()
        .try_for_each(|command| make_file(path, command.args))
}

/// The value of an encrypted volume's secret (a `volume` secret of the secret driver, read
/// from its files as the QEMU driver reads them), written where qemu-img reads it.
fn secret_file(pool: &PoolRecord, image: &VolumeImage) -> Result<Option<disk::SecretFile>, Error> {
    let Some(encryption) = &image.encryption else {
        return Ok(None);
    };
    let [secret] = encryption.secrets.as_slice() else {
        return Err(storage_error(
            ErrorNumber::INVALID_ARG,
            "A single <secret type='passphrase'...> element is expected in encryption description",
        ));
    };
    let dirs = files::dirs();
    let value = virt_secret_store::SecretDirs::beside(&dirs.config, &dirs.run).value_for(
        SecretUsageType::Volume,
        secret.uuid.as_deref(),
        secret.usage.as_deref(),
        ErrorDomain::STORAGE,
    )?;
    disk::SecretFile::write(&pool.name, &image.name, &value).map(Some)
}

/// Makes a new image with libvirt's qemu-img command lines, checked as libvirt checks them
/// (a backing store must be readable; an encrypted image's secret must be a volume secret
/// with a value); a failure removes the file.
fn make_image_with(
    path: &str,
    image: &VolumeImage,
    pool: &PoolRecord,
    input: Option<&VolumeImage>,
    flags: u32,
) -> Result<(), Error> {
    let secret = secret_file(pool, image)?;
    let pool_target = pools::target_dir(pool)?;
    let commands = volume_image::qemu_img_commands(
        &MakeVolume {
            volume: image,
            pool_target: &pool_target,
            input,
            preallocate_metadata: flags & storage_vol_create_flags::PREALLOC_METADATA != 0,
            secret_file: secret.as_ref().map(|file| file.path.as_str()),
            input_secret_file: None,
        },
        &|path| matches!(files::stat(path), Ok(Some(_))),
    )?;
    make_image(path, commands)
}

/// The record of a file just made, given its mode and owner and added to its pool.
/// A failure at any step removes the file: a refused create leaves nothing behind.
fn adopt(pool: &mut PoolRecord, volume: &NewVolume, path: &str) -> Result<VolumeRef, Error> {
    let adopted = (|| {
        disk::set_ownership(path, volume.ownership)?;
        let name = volume.name.as_str();
        let volume = disk::probe_volume(name, path)?.ok_or_else(|| {
            system(
                format!("cannot stat file '{path}'"),
                "No such file or directory",
            )
        })?;
        let reference = volume.reference(&pool.name);
        save(pool, name, Some(volume))?;
        Ok(reference)
    })();
    adopted.inspect_err(|_| {
        let _ = files::remove(path);
    })
}

const CREATE_FLAGS: u32 =
    storage_vol_create_flags::PREALLOC_METADATA | storage_vol_create_flags::VALIDATE;

pub fn create_xml(pool: &PoolRef, xml: &str, flags: u32) -> Result<VolumeRef, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        CREATE_FLAGS,
        "virStorageVolCreateXML",
    )?;
    begin_job()?;
    let mut record = pools::resolve_active(pool)?;
    let volume = definition::parse_volume(xml)?;
    let path = new_volume_path(&record, &volume)?;
    let pool_definition = pools::definition_of(&record)?;
    if pools::is_logical(&pool_definition) {
        return create_logical_volume(&mut record, &pool_definition, &volume.name, xml);
    }
    // libvirt takes a volume without a capacity when it has a backing store (its size).
    let mut image = VolumeImage::parse(xml, PoolType::Dir, CapacityRule::OptionalWithBacking)?;
    image.path = path.clone();
    let preallocate = flags & storage_vol_create_flags::PREALLOC_METADATA != 0;
    if preallocate && volume.format != VolumeFormat::Qcow2 {
        return Err(storage_error(
            ErrorNumber::NO_SUPPORT,
            "metadata preallocation only available with qcow2",
        ));
    }
    pools::update_figures(&mut record)?;
    if image.allocation.min(image.capacity) > record.figures.available {
        return Err(not_enough_space());
    }
    disk::require_qemu_img(match volume.format {
        VolumeFormat::Raw => "unable to find qemu-img",
        VolumeFormat::Qcow2 => "creation of non-raw file images is not supported without qemu-img.",
    })?;
    let plain_raw =
        volume.format == VolumeFormat::Raw && image.backing.is_none() && image.encryption.is_none();
    if plain_raw {
        // libvirt writes a raw file itself; qemu-img allocates it (or not) the same way.
        make_file(
            &path,
            qemu_img::raw_create_args(image.capacity, image.allocation, &path),
        )?;
    } else {
        make_image_with(&path, &image, &record, None, flags)?;
    }
    adopt(&mut record, &volume, &path)
}

/// `lvcreate` of a new logical volume, then the group read again for its record; a volume
/// that does not fit the group's free space is refused first.
fn create_logical_volume(
    record: &mut PoolRecord,
    pool: &virt_xml::storage::StoragePool,
    name: &str,
    xml: &str,
) -> Result<VolumeRef, Error> {
    let image = VolumeImage::parse(xml, PoolType::Logical, CapacityRule::Required)?;
    pools::update_figures(record)?;
    if image.allocation.min(image.capacity) > record.figures.available {
        return Err(not_enough_space());
    }
    disk::create_logical_volume(pool, name, image.capacity, image.allocation)?;
    let (_, volumes) = disk::scan_volume_group(pool)?;
    let created = volumes
        .into_iter()
        .find(|volume| volume.name == name)
        .ok_or_else(|| internal(format!("logical volume '{name}' was not made")))?;
    let reference = created.reference(&record.name);
    save(record, name, Some(created))?;
    Ok(reference)
}

pub fn create_xml_from(
    pool: &PoolRef,
    xml: &str,
    clone_of: &VolumeRef,
    flags: u32,
) -> Result<VolumeRef, Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        CREATE_FLAGS,
        "virStorageVolCreateXMLFrom",
    )?;
    begin_job()?;
    let mut record = pools::resolve_active(pool)?;
    let (_, source) = resolve(clone_of)?;
    if source.block || pools::is_logical(&pools::definition_of(&record)?) {
        return Err(not_for_logical_volumes("Cloning"));
    }
    let volume = definition::parse_volume(xml)?;
    let path = new_volume_path(&record, &volume)?;
    let mut image = VolumeImage::parse(xml, PoolType::Dir, CapacityRule::FromInput)?;
    image.path = path.clone();
    // A clone is at least as large as what it copies.
    let capacity = image.capacity.max(source.capacity);
    image.capacity = capacity;
    pools::update_figures(&mut record)?;
    if source.allocation > record.figures.available {
        return Err(not_enough_space());
    }
    let input = VolumeImage::of_file(&source.name, &source.path, source.format.as_str());
    make_image_with(&path, &image, &record, Some(&input), flags)?;
    if capacity > source.capacity {
        make_file(
            &path,
            qemu_img::resize_args(volume.format, &path, source.capacity, capacity, false),
        )?;
    }
    adopt(&mut record, &volume, &path)
}

// ---- changing ----

pub fn delete(volume: &VolumeRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 0, "virStorageVolDelete")?;
    begin_job()?;
    let (mut pool, found) = resolve(volume)?;
    if found.block {
        disk::remove_logical_volume(&pools::definition_of(&pool)?, &found.name)?;
        return save(&mut pool, &found.name, None);
    }
    files::remove(&found.path).map_err(|e| {
        system(
            format!("cannot unlink file '{}'", found.path),
            reason(&e.message),
        )
    })?;
    save(&mut pool, &found.name, None)
}

/// libvirt's checks of a new capacity, in bytes; the capacity to ask qemu-img for.
pub fn resize_target(
    current_capacity: u64,
    current_allocation: u64,
    available: u64,
    capacity: u64,
    flags: u32,
) -> Result<u64, Error> {
    let shrink = flags & storage_vol_resize_flags::SHRINK != 0;
    let wanted = if flags & storage_vol_resize_flags::DELTA != 0 {
        if shrink {
            current_capacity - capacity.min(current_capacity)
        } else {
            current_capacity.saturating_add(capacity)
        }
    } else {
        capacity
    };
    if wanted < current_allocation {
        return Err(storage_error(
            ErrorNumber::INVALID_ARG,
            "can't shrink capacity below existing allocation",
        ));
    }
    if wanted < current_capacity && !shrink {
        return Err(storage_error(
            ErrorNumber::INVALID_ARG,
            "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
        ));
    }
    let to_allocate = if flags & storage_vol_resize_flags::ALLOCATE != 0 {
        wanted - current_allocation
    } else {
        0
    };
    if to_allocate > available {
        return Err(not_enough_space());
    }
    Ok(wanted)
}

pub fn resize(volume: &VolumeRef, capacity: u64, flags: u32) -> Result<(), Error> {
    Error::check_flags(
        ErrorDomain::STORAGE,
        flags,
        storage_vol_resize_flags::ALLOCATE
            | storage_vol_resize_flags::DELTA
            | storage_vol_resize_flags::SHRINK,
        "virStorageVolResize",
    )?;
    begin_job()?;
    let (mut pool, found) = resolve(volume)?;
    if found.block {
        return Err(not_for_logical_volumes("Resizing"));
    }
    let now = refreshed(&found);
    pools::update_figures(&mut pool)?;
    let wanted = resize_target(
        now.capacity,
        now.allocation,
        pool.figures.available,
        capacity,
        flags,
    )?;
    let allocate = flags & storage_vol_resize_flags::ALLOCATE != 0;
    if allocate && now.format != VolumeFormat::Raw {
        return Err(storage_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "preallocate is only supported for raw type volume",
        ));
    }
    disk::qemu_img(qemu_img::resize_args(
        now.format,
        &now.path,
        now.capacity,
        wanted,
        allocate,
    ))?;
    let after = disk::probe_volume(&now.name, &now.path)?.unwrap_or(now);
    save(&mut pool, &found.name, Some(after))
}

/// Wipes a volume by making its image again, empty, at the same size and format: a raw
/// file is truncated to nothing and back (all zeroes, sparse), as libvirt's zero wipe of
/// a file; a qcow2 image loses every cluster.
pub fn wipe(volume: &VolumeRef, flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::STORAGE, flags, 0, "virStorageVolWipe")?;
    begin_job()?;
    let (mut pool, found) = resolve(volume)?;
    if found.block {
        return Err(not_for_logical_volumes("Wiping"));
    }
    let now = refreshed(&found);
    let args = match now.format {
        VolumeFormat::Raw => qemu_img::raw_create_args(now.capacity, 0, &now.path),
        VolumeFormat::Qcow2 => {
            let mut image = VolumeImage::of_file(&now.name, &now.path, now.format.as_str());
            image.capacity = now.capacity;
            image.compat = now.compat.clone();
            let made = volume_image::qemu_img_commands(
                &MakeVolume {
                    volume: &image,
                    pool_target: "",
                    input: None,
                    preallocate_metadata: false,
                    secret_file: None,
                    input_secret_file: None,
                },
                &|_| true,
            )?;
            made.into_iter()
                .next()
                .map(|command| command.args)
                .unwrap_or_default()
        }
    };
    disk::qemu_img(args)?;
    let after = disk::probe_volume(&now.name, &now.path)?.unwrap_or(now);
    save(&mut pool, &found.name, Some(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::consts::storage_vol_resize_flags::{ALLOCATE, DELTA, SHRINK};

    const GIB: u64 = 1 << 30;

    #[test]
    fn growing_is_free_for_sparse_files() {
        assert_eq!(
            resize_target(GIB, 0, 0, 2 * GIB, 0).expect("grows"),
            2 * GIB
        );
    }

    #[test]
    fn a_delta_adds_or_takes_away() {
        assert_eq!(
            resize_target(GIB, 0, 0, GIB, DELTA).expect("grows"),
            2 * GIB
        );
        assert_eq!(
            resize_target(2 * GIB, 0, 0, GIB, DELTA | SHRINK).expect("shrinks"),
            GIB
        );
    }

    #[test]
    fn shrinking_needs_the_flag() {
        let error = resize_target(2 * GIB, 0, 0, GIB, 0).expect_err("no shrink flag");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(error.message().contains("unless shrink flag"));
    }

    #[test]
    fn never_below_the_allocation() {
        let error = resize_target(2 * GIB, 2 * GIB, 0, GIB, SHRINK).expect_err("allocated");
        assert!(error.message().contains("below existing allocation"));
    }

    #[test]
    fn allocating_more_than_the_pool_has_is_refused() {
        let error = resize_target(GIB, GIB, GIB, 3 * GIB, ALLOCATE).expect_err("no room");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        assert!(error
            .message()
            .contains("Not enough space left in storage pool"));
        assert_eq!(
            resize_target(GIB, GIB, GIB, 2 * GIB, ALLOCATE).expect("fits"),
            2 * GIB
        );
    }
}
