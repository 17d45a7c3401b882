//! What the driver does on the host's disks: runs `qemu-img`, `stat` and `chmod` (through
//! the host's `command.run`, checked against the manifest's `spawn`), makes pool
//! directories, and scans a pool directory into volumes.
//!
//! It knows the command lines only through [`crate::qemu_img`] and [`crate::stat`], and
//! nothing of records or of which call asked.

use virt_core::{Error, ErrorNumber};
use virt_plugin_sdk::host::{command, files};

use crate::definition::{Ownership, PoolFigures, VolumeFormat, WantedOwnership};
use crate::error::{from_host, internal, reason, storage_error, system};
use crate::qemu_img::{self, ImageInfo, QEMU_IMG};
use crate::records::VolumeRecord;
use crate::stat::{self, FileFacts, STAT};

const CHMOD: &str = "/usr/bin/chmod";
const CHOWN: &str = "/usr/bin/chown";

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

fn run(program: &str, args: Vec<String>, timeout_ms: u32) -> Result<Vec<u8>, Error> {
    run_program(program, args, timeout_ms).map_err(Failure::into_error)
}

/// Fails with libvirt's words when qemu-img is not installed, before anything is made.
pub fn require_qemu_img(message: &str) -> Result<(), Error> {
    match files::stat(QEMU_IMG) {
        Ok(Some(_)) => Ok(()),
        _ => Err(internal(message)),
    }
}

pub fn qemu_img(args: Vec<String>) -> Result<(), Error> {
    require_qemu_img("unable to find qemu-img")?;
    run(QEMU_IMG, args, QEMU_IMG_TIMEOUT_MS).map(drop)
}

pub fn image_info(format: VolumeFormat, path: &str) -> Result<ImageInfo, Error> {
    require_qemu_img("unable to find qemu-img")?;
    let json = run(QEMU_IMG, qemu_img::info_args(format, path), 60_000)?;
    qemu_img::parse_info(&json)
}

/// `stat` of some paths: the facts of those that exist.
fn stat_files(paths: &[String]) -> Result<Vec<FileFacts>, Error> {
    let output = command::run(&command::RunRequest {
        program: STAT.into(),
        args: stat::files_args(paths),
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: 60_000,
    })
    .map_err(from_host)?;
    // stat exits 1 when one path vanished under it; the others are still told.
    Ok(stat::parse_files(&String::from_utf8_lossy(&output.stdout)))
}

/// The capacity and free space of the filesystem holding `dir`.
pub fn filesystem_figures(dir: &str) -> Result<PoolFigures, Error> {
    let output = run_program(STAT, stat::filesystem_args(dir), 60_000)
        .map_err(|failure| system(format!("cannot statvfs path '{dir}'"), failure.stderr))?;
    stat::parse_filesystem(&String::from_utf8_lossy(&output))
        .ok_or_else(|| internal(format!("cannot read the filesystem figures of '{dir}'")))
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
    let mode_text = format!("{:04o}", wanted.mode);
    run_program(
        CHMOD,
        vec![mode_text.clone(), "--".into(), path.into()],
        60_000,
    )
    .map_err(|failure| {
        system(
            format!("cannot set mode of '{path}' to {mode_text}"),
            failure.stderr,
        )
    })?;
    if let Some(spec) = chown_spec(wanted.owner, wanted.group) {
        run_program(CHOWN, vec![spec.clone(), "--".into(), path.into()], 60_000).map_err(
            |failure| system(format!("cannot chown '{path}' to ({spec})"), failure.stderr),
        )?;
    }
    Ok(())
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

/// Whether a file starts as a qcow2 image does.
fn looks_like_qcow2(path: &str) -> bool {
    files::read_range(path, 0, qemu_img::QCOW2_MAGIC.len() as u32)
        .is_ok_and(|head| head == qemu_img::QCOW2_MAGIC)
}

/// A volume from its file's facts: qcow2 sizes from qemu-img, raw ones from the file.
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
    };
    if looks_like_qcow2(&facts.path) {
        volume.format = VolumeFormat::Qcow2;
        match image_info(VolumeFormat::Qcow2, &facts.path) {
            Ok(info) => {
                volume.capacity = info.virtual_size;
                volume.compat = info.compat;
            }
            Err(error) => virt_plugin_sdk::warn!(
                "cannot read the qcow2 header of '{}': {}",
                facts.path,
                error.message()
            ),
        }
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
