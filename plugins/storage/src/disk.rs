//! What the driver does on the host's disks: runs `qemu-img`, `stat`, `chmod`, `mount`,
//! `umount`, `mkfs` and `blkid` (through the host's `command.run`, checked against the
//! manifest's `spawn`), makes pool directories, mounts `fs` pools, and scans a pool directory
//! into volumes.
//!
//! It knows the command lines only through [`crate::qemu_img`], [`crate::stat`] and
//! [`crate::pool_commands`], and nothing of records or of which call asked.

use virt_core::{Error, ErrorNumber};
use virt_plugin_sdk::host::{command, file_attributes, files};
use virt_xml::storage::StoragePool;

use crate::definition::{Ownership, PoolFigures, VolumeFormat, WantedOwnership};
use crate::error::{from_host, internal, reason, storage_error, system};
use crate::pool_commands::{self, Command, Platform};
use crate::qemu_img::{self, QEMU_IMG};
use crate::records::VolumeRecord;
use crate::stat::{self, FileFacts};

const CHMOD: &str = "/usr/bin/chmod";
const CHOWN: &str = "/usr/bin/chown";

/// Where the programs of [`pool_commands`] are on Debian (the manifest's `spawn` names them).
fn program_path(program: &str) -> Option<&'static str> {
    Some(match program {
        "mount" => "/usr/bin/mount",
        "umount" => "/usr/bin/umount",
        "mkfs" => "/usr/sbin/mkfs",
        "blkid" => "/usr/sbin/blkid",
        "pvcreate" => "/usr/sbin/pvcreate",
        "pvremove" => "/usr/sbin/pvremove",
        "vgcreate" => "/usr/sbin/vgcreate",
        "vgchange" => "/usr/sbin/vgchange",
        "vgremove" => "/usr/sbin/vgremove",
        "vgs" => "/usr/sbin/vgs",
        "lvcreate" => "/usr/sbin/lvcreate",
        "lvremove" => "/usr/sbin/lvremove",
        "lvs" => "/usr/sbin/lvs",
        _ => return None,
    })
}

/// A mount of a slow or stuck device must not hold the pools job for ever.
const MOUNT_TIMEOUT_MS: u32 = 120_000;
/// mkfs of a large device takes its time.
const MKFS_TIMEOUT_MS: u32 = 600_000;

/// qemu-img on a large image (a convert, a preallocation) takes its time.
const QEMU_IMG_TIMEOUT_MS: u32 = 3_600_000;

/// How a program run to completion failed.
struct Failure {
    command_line: String,
    how: String,
    stderr: String,
}

impl Failure {
    /// libvirt's virCommandRun wording: the command line, how it ended, what it said.
    fn into_error(self) -> Error {
        internal(format!(
            "Child process ({}) {}: {}",
            self.command_line, self.how, self.stderr
        ))
    }
}

/// Runs a program to completion: its stdout when it exits 0.
fn run_program(program: &str, args: Vec<String>, timeout_ms: u32) -> Result<Vec<u8>, Failure> {
    let command_line = format!("{program} {}", args.join(" "));
    let output = command::run(&command::RunRequest {
        program: program.into(),
        args,
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms,
    })
    .map_err(|e| Failure {
        command_line: command_line.clone(),
        how: "cannot run".to_string(),
        stderr: reason(&e.message).to_string(),
    })?;
    if output.exit_code == Some(0) {
        return Ok(output.stdout);
    }
    let how = match (output.timed_out, output.exit_code, output.signal) {
        (true, _, _) => "timed out".to_string(),
        (_, Some(code), _) => format!("unexpected exit status {code}"),
        (_, _, Some(signal)) => format!("fatal signal {signal}"),
        _ => "unknown failure".to_string(),
    };
    Err(Failure {
        command_line,
        how,
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}

fn run_pool_program(command: &Command, timeout_ms: u32) -> Result<Vec<u8>, Failure> {
    let program = program_path(command.program).ok_or_else(|| Failure {
        command_line: command.program.to_string(),
        how: "cannot run".to_string(),
        stderr: "not a program the storage driver runs".to_string(),
    })?;
    run_program(program, command.args.clone(), timeout_ms)
}

/// What is mounted on `target` is `source`: the device itself, or a loop device showing the
/// image file `source` (mount sets one up for an image).
fn shows(fsname: &str, source: &str) -> bool {
    if fsname == source {
        return true;
    }
    let Some(name) = pool_commands::loop_device_name(fsname) else {
        return false;
    };
    files::read(&format!("/sys/block/{name}/loop/backing_file"))
        .is_ok_and(|backing| String::from_utf8_lossy(&backing).trim_end() == source)
}

/// Whether an `fs` pool's source is mounted on its target (`/proc/mounts`).
pub fn is_mounted(source: &str, target: &str) -> Result<bool, Error> {
    let mounts = files::read("/proc/mounts")
        .map_err(|e| system("cannot read mount list '/proc/mounts'", reason(&e.message)))?;
    Ok(
        pool_commands::mounted_on(&String::from_utf8_lossy(&mounts), target)
            .is_some_and(|fsname| shows(&fsname, source)),
    )
}

/// Mounts an `fs` pool's source on its target unless it is there already; whether this call
/// mounted it.
pub fn mount_pool(pool: &StoragePool) -> Result<bool, Error> {
    let source = pool_commands::mount_source(pool)?;
    let target = crate::definition::target_path(pool).unwrap_or_default();
    if is_mounted(&source, target)? {
        return Ok(false);
    }
    run_pool_program(
        &pool_commands::mount(pool, &source, Platform::Linux),
        MOUNT_TIMEOUT_MS,
    )
    .map_err(Failure::into_error)?;
    Ok(true)
}

/// Unmounts an `fs` pool's target when its source is mounted there.
pub fn unmount_pool(pool: &StoragePool) -> Result<(), Error> {
    let source = pool_commands::mount_source(pool)?;
    let target = crate::definition::target_path(pool).unwrap_or_default();
    if !is_mounted(&source, target)? {
        return Ok(());
    }
    run_pool_program(&pool_commands::umount(pool), MOUNT_TIMEOUT_MS)
        .map_err(Failure::into_error)
        .map(drop)
}

/// The filesystem type already on a device, if blkid finds one.
fn existing_filesystem(device: &str) -> Result<Option<String>, Error> {
    let unprobed = || {
        storage_error(
            ErrorNumber::OPERATION_INVALID,
            format!("Unable to probe '{device}' for existing data, forced overwrite is necessary"),
        )
    };
    let program = program_path("blkid").ok_or_else(unprobed)?;
    let command = pool_commands::blkid_type(device);
    let output = command::run(&command::RunRequest {
        program: program.into(),
        args: command.args,
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: 60_000,
    })
    .map_err(|_| unprobed())?;
    match output.exit_code {
        Some(0) => Ok(Some(
            String::from_utf8_lossy(&output.stdout).trim().to_string(),
        )),
        // blkid's "nothing found".
        Some(2) => Ok(None),
        _ => Err(unprobed()),
    }
}

/// libvirt's `virStorageBackendDeviceIsEmpty` before a build writes a label: a device that
/// already holds `format`, or anything else, is left alone.
fn require_empty_device(device: &str, format: &str) -> Result<(), Error> {
    match existing_filesystem(device)? {
        None => Ok(()),
        Some(found) if found == format => Err(storage_error(
            ErrorNumber::STORAGE_POOL_BUILT,
            format!("Device '{device}' already formatted using '{format}'"),
        )),
        Some(_) => Err(storage_error(
            ErrorNumber::STORAGE_POOL_BUILT,
            format!(
                "Format of device '{device}' does not match the expected format '{format}', \
                 forced overwrite is necessary"
            ),
        )),
    }
}

/// `pool-build` of an `fs` pool with an overwrite flag (`virStorageBackendMakeFileSystem`):
/// mkfs on the source device, which without `overwrite` must hold no filesystem yet.
pub fn make_filesystem(pool: &StoragePool, overwrite: bool) -> Result<(), Error> {
    let name = pool.name.as_deref().unwrap_or("");
    let device = pool
        .source
        .as_ref()
        .and_then(|source| source.devices.first())
        .and_then(|device| device.path.clone())
        .ok_or_else(|| {
            storage_error(
                ErrorNumber::OPERATION_INVALID,
                format!("No source device specified when formatting pool '{name}'"),
            )
        })?;
    if files::stat(&device).map_err(from_host)?.is_none() {
        return Err(storage_error(
            ErrorNumber::OPERATION_INVALID,
            format!("Source device does not exist when formatting pool '{name}'"),
        ));
    }
    let mkfs = pool_commands::mkfs(pool, &device)?;
    if !overwrite {
        require_empty_device(&device, &mkfs.args[1])?;
    }
    run_pool_program(&mkfs, MKFS_TIMEOUT_MS)
        .map_err(Failure::into_error)
        .map(drop)
}

const LVM_TIMEOUT_MS: u32 = 120_000;

fn run_lvm(command: &Command) -> Result<String, Error> {
    run_pool_program(command, LVM_TIMEOUT_MS)
        .map(|stdout| String::from_utf8_lossy(&stdout).into_owned())
        .map_err(Failure::into_error)
}

/// `pool-build` of a `logical` pool (`virStorageBackendLogicalBuildPool`): each device made a
/// physical volume (refused without `overwrite` when it already holds something), then the
/// volume group over them. A failure removes what the build made.
pub fn build_volume_group(pool: &StoragePool, overwrite: bool) -> Result<(), Error> {
    let devices = pool_commands::physical_volumes(pool);
    if devices.is_empty() {
        return Err(storage_error(
            ErrorNumber::OPERATION_INVALID,
            "cannot build a volume group without source devices",
        ));
    }
    if !overwrite {
        for device in &devices {
            require_empty_device(device, "LVM2_member")?;
        }
    }
    let mut made = Vec::new();
    let built = devices.iter().try_for_each(|device| {
        run_lvm(&pool_commands::pvcreate(device))?;
        made.push(device.clone());
        Ok(())
    });
    let built = built.and_then(|()| run_lvm(&pool_commands::vgcreate(pool)).map(drop));
    if built.is_err() {
        for device in &made {
            let _ = run_lvm(&pool_commands::pvremove(device));
        }
    }
    built
}

/// `vgchange -aly` (or `-aln`): the volume group's logical volumes made (un)available.
pub fn activate_volume_group(pool: &StoragePool, on: bool) -> Result<(), Error> {
    run_lvm(&pool_commands::vgchange(pool, on)).map(drop)
}

/// `pool-delete` of a `logical` pool: the volume group goes, then its physical volumes.
pub fn remove_volume_group(pool: &StoragePool) -> Result<(), Error> {
    run_lvm(&pool_commands::vgremove(pool))?;
    for device in pool_commands::physical_volumes(pool) {
        run_lvm(&pool_commands::pvremove(&device))?;
    }
    Ok(())
}

/// The figures of a volume group (`vgs`): its size, what is allocated, what is free.
pub fn volume_group_figures(pool: &StoragePool) -> Result<PoolFigures, Error> {
    let group = pool_commands::volume_group(pool);
    let output = run_lvm(&pool_commands::vgs(pool))?;
    let figures = pool_commands::parse_vgs(&output, group).ok_or_else(|| {
        storage_error(
            ErrorNumber::STORAGE_POOL_BUILT,
            format!("volume group '{group}' not found"),
        )
    })?;
    Ok(PoolFigures {
        capacity: figures.size,
        allocation: figures.size - figures.free.min(figures.size),
        available: figures.free,
    })
}

/// A `logical` pool's figures and its logical volumes (`vgs`, `lvs`).
pub fn scan_volume_group(pool: &StoragePool) -> Result<(PoolFigures, Vec<VolumeRecord>), Error> {
    let figures = volume_group_figures(pool)?;
    let group = pool_commands::volume_group(pool);
    let volumes = pool_commands::parse_lvs(&run_lvm(&pool_commands::lvs(pool))?, group)
        .into_iter()
        .map(|volume| VolumeRecord {
            name: volume.name,
            path: volume.path,
            format: VolumeFormat::Raw,
            capacity: volume.size,
            allocation: volume.size,
            physical: volume.size,
            ownership: None,
            compat: None,
            block: true,
        })
        .collect();
    Ok((figures, volumes))
}

/// `lvcreate`: a logical volume of `capacity` bytes (sparse when `allocation` is less).
pub fn create_logical_volume(
    pool: &StoragePool,
    name: &str,
    capacity: u64,
    allocation: u64,
) -> Result<(), Error> {
    run_lvm(&pool_commands::lvcreate(pool, name, capacity, allocation)).map(drop)
}

/// `lvremove -f VG/NAME`.
pub fn remove_logical_volume(pool: &StoragePool, name: &str) -> Result<(), Error> {
    run_lvm(&pool_commands::lvremove(pool, name)).map(drop)
}

/// A volume's secret value where qemu-img reads it (`--object secret,file=`): a file in a
/// directory only root enters, in the driver's run directory, removed when dropped (libvirt
/// writes the same file in the pool's state directory and unlinks it after qemu-img).
pub struct SecretFile {
    pub path: String,
}

impl SecretFile {
    pub fn write(pool: &str, volume: &str, value: &[u8]) -> Result<SecretFile, Error> {
        let dir = format!("{}/secrets", files::dirs().run);
        files::create_dir_all(&dir)
            .map_err(|e| system(format!("cannot create path '{dir}'"), reason(&e.message)))?;
        set_ownership(
            &dir,
            WantedOwnership {
                mode: 0o700,
                owner: None,
                group: None,
            },
        )?;
        let path = format!("{dir}/{pool}.{volume}.secret");
        files::write(&path, value)
            .map_err(|e| system("failed to write secret file", reason(&e.message)))?;
        Ok(SecretFile { path })
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = files::remove(&self.path);
    }
}

/// Fails with libvirt's words when qemu-img is not installed, before anything is made.
pub fn require_qemu_img(message: &str) -> Result<(), Error> {
    match files::stat(QEMU_IMG) {
        Ok(Some(_)) => Ok(()),
        _ => Err(internal(message)),
    }
}

/// How many times a LUKS image is tried when qemu-img could not time its key derivation.
const KDF_TIMING_ATTEMPTS: usize = 3;

pub fn qemu_img(args: Vec<String>) -> Result<(), Error> {
    require_qemu_img("unable to find qemu-img")?;
    // qemu-img sizes a LUKS key derivation by the thread CPU time a trial run takes; with
    // tick-based CPU accounting that can read as zero, and it gives up ("Unable to get
    // accurate CPU usage") where a second try succeeds.
    let mut attempt = 1;
    loop {
        match run_program(QEMU_IMG, args.clone(), QEMU_IMG_TIMEOUT_MS) {
            Ok(_) => return Ok(()),
            Err(failure)
                if attempt < KDF_TIMING_ATTEMPTS
                    && failure.stderr.contains("Unable to get accurate CPU usage") =>
            {
                attempt += 1;
            }
            Err(failure) => return Err(failure.into_error()),
        }
    }
}

/// `lstat` of some paths: the facts of those that exist.
fn stat_files(paths: &[String]) -> Result<Vec<FileFacts>, Error> {
    let found = file_attributes::lstat(paths).map_err(from_host)?;
    Ok(paths
        .iter()
        .zip(found)
        .filter_map(|(path, attributes)| Some(FileFacts::of(path, attributes.as_ref()?)))
        .collect())
}

/// The capacity and free space of the filesystem holding `dir`.
pub fn filesystem_figures(dir: &str) -> Result<PoolFigures, Error> {
    file_attributes::statvfs(dir)
        .map(|filesystem| stat::pool_figures(&filesystem))
        .map_err(|e| system(format!("cannot statvfs path '{dir}'"), reason(&e.message)))
}

/// The target directory of a pool, which must exist: libvirt's error when it does not.
pub fn check_pool_directory(dir: &str) -> Result<(), Error> {
    let why = match files::stat(dir).map_err(from_host)? {
        Some(found) if found.is_dir => return Ok(()),
        Some(_) => "Not a directory",
        None => "No such file or directory",
    };
    Err(system(format!("cannot open directory '{dir}'"), why))
}

/// `chown`'s `OWNER`, `:GROUP` or `OWNER:GROUP`: what is not defined stays as it is.
pub fn chown_spec(owner: Option<i64>, group: Option<i64>) -> Option<String> {
    match (owner, group) {
        (None, None) => None,
        (Some(owner), None) => Some(owner.to_string()),
        (None, Some(group)) => Some(format!(":{group}")),
        (Some(owner), Some(group)) => Some(format!("{owner}:{group}")),
    }
}

/// Gives a file or directory the mode, owner and group it was defined with.
pub fn set_ownership(path: &str, wanted: WantedOwnership) -> Result<(), Error> {
    // What the file already has needs no change (a new volume is the daemon's, and a
    // clone's definition usually asks for just that): a chown is a process.
    let current = stat_files(&[path.to_string()])?
        .into_iter()
        .find(|facts| facts.is_regular || facts.is_dir)
        .map(|facts| facts.ownership);
    let owner = wanted
        .owner
        .filter(|owner| current.is_none_or(|current| current.owner != *owner));
    let group = wanted
        .group
        .filter(|group| current.is_none_or(|current| current.group != *group));
    // The owner first, as libvirt: a chown clears set-user-ID and set-group-ID bits, which
    // the mode then sets again.
    let chowned = chown_spec(owner, group);
    if let Some(spec) = &chowned {
        run_program(CHOWN, vec![spec.clone(), "--".into(), path.into()], 60_000).map_err(
            |failure| system(format!("cannot chown '{path}' to ({spec})"), failure.stderr),
        )?;
    }
    if chowned.is_some() || current.is_none_or(|current| current.mode != wanted.mode) {
        let mode_text = format!("{:04o}", wanted.mode);
        // The host sets a mode without a process; it follows no symbolic link and makes
        // nothing writable by others, which a definition may still ask for: chmod does those.
        let by_host =
            wanted.mode & !0o775 == 0 && file_attributes::set_mode(path, wanted.mode).is_ok();
        if !by_host {
            set_mode_with_chmod(path, &mode_text)?;
        }
    }
    Ok(())
}

fn set_mode_with_chmod(path: &str, mode_text: &str) -> Result<(), Error> {
    run_program(
        CHMOD,
        vec![mode_text.to_string(), "--".into(), path.into()],
        60_000,
    )
    .map_err(|failure| {
        system(
            format!("cannot set mode of '{path}' to {mode_text}"),
            failure.stderr,
        )
    })
    .map(drop)
}

/// libvirt's dir backend build: the directory and its parents, then the mode (and owner,
/// when defined) of the directory itself.
pub fn build_directory(dir: &str, wanted: WantedOwnership) -> Result<(), Error> {
    if !dir.starts_with('/') {
        return Err(storage_error(
            ErrorNumber::INVALID_ARG,
            format!("path '{dir}' is not absolute"),
        ));
    }
    let existed = match files::stat(dir).map_err(from_host)? {
        Some(found) if !found.is_dir => {
            return Err(system(format!("cannot create path '{dir}'"), "File exists"))
        }
        Some(_) => true,
        None => false,
    };
    files::create_dir_all(dir)
        .map_err(|e| system(format!("cannot create path '{dir}'"), reason(&e.message)))?;
    set_ownership(dir, wanted).inspect_err(|_| {
        // A directory this build made goes again (its parents stay, as libvirt's).
        if !existed {
            let _ = files::remove_dir(dir);
        }
    })
}

/// A volume from its file's facts: qcow2 sizes from its header, raw ones from the file.
fn volume_from(name: &str, facts: &FileFacts) -> VolumeRecord {
    let mut volume = VolumeRecord {
        name: name.to_string(),
        path: facts.path.clone(),
        format: VolumeFormat::Raw,
        capacity: facts.size,
        allocation: facts.allocated,
        physical: facts.size,
        ownership: Some(facts.ownership),
        compat: None,
        block: false,
    };
    let head = files::read_range(&facts.path, 0, qemu_img::QCOW2_HEADER_LEN).unwrap_or_default();
    if let Some(header) = qemu_img::Qcow2Header::parse(&head) {
        volume.format = VolumeFormat::Qcow2;
        volume.capacity = header.virtual_size;
        volume.compat = header.compat;
    }
    volume
}

/// One volume as its file is now (`None` when the file is gone or is not a regular file).
pub fn probe_volume(name: &str, path: &str) -> Result<Option<VolumeRecord>, Error> {
    Ok(stat_files(&[path.to_string()])?
        .into_iter()
        .find(|facts| facts.path == path && facts.is_regular)
        .map(|facts| volume_from(name, &facts)))
}

/// What a pool directory holds: its mode and owner, its filesystem's figures, and a volume
/// per regular file (libvirt's dir backend refresh).
pub fn scan_pool(dir: &str) -> Result<(Option<Ownership>, PoolFigures, Vec<VolumeRecord>), Error> {
    check_pool_directory(dir)?;
    let names = files::list_dir(dir)
        .map_err(|e| system(format!("cannot open directory '{dir}'"), reason(&e.message)))?;
    let mut paths = vec![dir.to_string()];
    paths.extend(names.iter().map(|name| format!("{dir}/{name}")));
    let facts = stat_files(&paths)?;
    let directory = facts
        .iter()
        .find(|f| f.path == dir && f.is_dir)
        .map(|f| f.ownership);
    let mut volumes = Vec::new();
    for name in &names {
        let path = format!("{dir}/{name}");
        if let Some(found) = facts.iter().find(|f| f.path == path && f.is_regular) {
            volumes.push(volume_from(name, found));
        }
    }
    let figures = filesystem_figures(dir)?;
    Ok((directory, figures, volumes))
}

#[cfg(test)]
mod tests {
    use super::chown_spec;

    #[test]
    fn chown_leaves_out_what_is_not_defined() {
        assert_eq!(chown_spec(None, None), None);
        assert_eq!(chown_spec(Some(107), None).as_deref(), Some("107"));
        assert_eq!(chown_spec(None, Some(36)).as_deref(), Some(":36"));
        assert_eq!(chown_spec(Some(0), Some(0)).as_deref(), Some("0:0"));
    }
}
