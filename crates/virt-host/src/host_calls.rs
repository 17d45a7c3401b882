//! The host calls plugins import from `rvirt:driver@0.1.0` (`wit/since_v0_1_0/host.wit`),
//! each checked against the plugin's grant. Those 0.2.0 added are in `outbound`.

use std::path::Path;
use std::time::Duration;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::bindings::v0_1::{events, files, jobs, log, net, process, state, types, unix_stream};
use crate::bindings::wit;
use crate::config::DriverDirs;
use crate::ctx::PluginCtx;
use crate::error::system;
use crate::manifest::Operation;
use crate::resources::{Framing, ProcessStatus, SpawnSpec};
use crate::space::{Binding, Persistence, JOB_WAIT};

type WitResult<T> = Result<T, wit::Error>;

impl types::Host for PluginCtx {}

impl log::Host for PluginCtx {
    fn write(&mut self, level: log::Level, message: String) {
        let plugin = self.shared.name.as_str();
        match level {
            log::Level::Error => tracing::error!(plugin, "{message}"),
            log::Level::Warn => tracing::warn!(plugin, "{message}"),
            log::Level::Info => tracing::info!(plugin, "{message}"),
            log::Level::Debug => tracing::debug!(plugin, "{message}"),
            log::Level::Trace => tracing::trace!(plugin, "{message}"),
        }
    }
}

impl state::Host for PluginCtx {
    fn bind_space(
        &mut self,
        name: String,
        persistence: state::Persistence,
    ) -> WitResult<state::SpaceStatus> {
        Ok(self.bind(&name, persistence, None)?)
    }

    fn bind_space_rooted(
        &mut self,
        name: String,
        persistence: state::Persistence,
        root: String,
    ) -> WitResult<state::SpaceStatus> {
        let root = self.check_file(&root, true)?;
        let dirs = crate::config::DriverDirs::rooted(&root, &self.shared.name);
        Ok(self.bind(&name, persistence, Some(dirs))?)
    }

    fn connection_uri(&mut self) -> String {
        self.call
            .connection_uri
            .as_deref()
            .unwrap_or_default()
            .to_string()
    }

    fn get(&mut self, kind: String, key: String) -> Option<Vec<u8>> {
        if !self.call.writes.is_empty() {
            if let Some(staged) = self.call.writes.get(&(kind.clone(), key.clone())) {
                return staged.clone();
            }
        }
        self.call.space.as_ref()?.get(&kind, &key)
    }

    fn list(&mut self, kind: String) -> Vec<(String, Vec<u8>)> {
        let mut records = self
            .call
            .space
            .as_ref()
            .map(|space| space.list(&kind))
            .unwrap_or_default();
        let staged: Vec<_> = self
            .call
            .writes
            .range((kind.clone(), String::new())..)
            .take_while(|((k, _), _)| *k == kind)
            .collect();
        if staged.is_empty() {
            return records;
        }
        let mut merged: std::collections::BTreeMap<String, Vec<u8>> = records.drain(..).collect();
        for ((_, key), value) in staged {
            match value {
                Some(value) => {
                    merged.insert(key.clone(), value.clone());
                }
                None => {
                    merged.remove(key);
                }
            }
        }
        merged.into_iter().collect()
    }

    fn put(&mut self, kind: String, key: String, value: Vec<u8>) {
        self.call.writes.insert((kind, key), Some(value));
    }

    fn delete(&mut self, kind: String, key: String) -> bool {
        let existed = state::Host::get(self, kind.clone(), key.clone()).is_some();
        self.call.writes.insert((kind, key), None);
        existed
    }

    fn commit(&mut self) {
        // The sessions opened so far may have their handles in these writes.
        self.call.ssh_opened.clear();
        let writes = std::mem::take(&mut self.call.writes);
        let events = std::mem::take(&mut self.call.events);
        if let Some(space) = &self.call.space {
            if let Err(error) = space.commit(writes, events) {
                tracing::error!(plugin = %self.shared.name, %error, "mid-call commit failed");
            }
        }
    }
}

impl crate::bindings::v0_2::state_bulk::Host for PluginCtx {
    fn list_packed(&mut self, kind: String) -> Vec<u8> {
        let staged = self
            .call
            .writes
            .range((kind.clone(), String::new())..)
            .next()
            .is_some_and(|((k, _), _)| *k == kind);
        if staged {
            // The call wrote records of this kind: merge them as `state.list` does.
            let mut buf = Vec::new();
            for (key, value) in state::Host::list(self, kind) {
                virt_core::packed::push_record(&mut buf, &key, &value);
            }
            return buf;
        }
        self.call
            .space
            .as_ref()
            .map(|space| space.list_packed(&kind))
            .unwrap_or_default()
    }

    fn generation(&mut self) -> Option<u64> {
        if !self.call.writes.is_empty() {
            return None;
        }
        self.call.space.as_ref().map(|space| space.generation())
    }
}

impl jobs::Host for PluginCtx {
    fn begin(&mut self, target: String) -> WitResult<()> {
        let space = self.space()?;
        let call_id = self.call.id;
        if !space.try_begin_job(&target, call_id) {
            self.blocking(|_| space.begin_job(&target, call_id, JOB_WAIT))?;
        }
        if !self.call.jobs.contains(&target) {
            self.call.jobs.push(target);
        }
        Ok(())
    }

    fn end(&mut self, target: String) {
        if let Some(space) = &self.call.space {
            space.end_job(&target, self.call.id);
        }
        self.call.jobs.retain(|held| *held != target);
    }
}

impl events::Host for PluginCtx {
    fn emit(&mut self, event: wit::Event) {
        self.call.events.push(event.into());
    }
}

impl crate::bindings::v0_2::object_events::Host for PluginCtx {
    fn emit(&mut self, event: crate::bindings::v0_2::object_events::ObjectEvent) {
        self.call.events.push(event.into());
    }
}

fn process_status(status: ProcessStatus) -> process::ProcessStatus {
    process::ProcessStatus {
        pid: status.pid,
        running: status.running,
        exit_code: status.exit_code,
        signal: status.signal,
    }
}

/// Resolves a bare program name in the host's helper directories, then through PATH.
pub(crate) fn resolve_program(
    program: &str,
    helper_dirs: &[std::path::PathBuf],
) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    helper_dirs
        .iter()
        .cloned()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

impl process::Host for PluginCtx {
    fn spawn(&mut self, request: process::SpawnRequest) -> WitResult<process::ProcessHandle> {
        let program =
            resolve_program(&request.program, &self.shared.helper_dirs).ok_or_else(|| {
                Error::new(
                    ErrorNumber::OPERATION_FAILED,
                    ErrorDomain::NONE,
                    format!("cannot find program '{}'", request.program),
                )
            })?;
        self.check(Operation::Spawn(&program))?;
        let output_path = |output: &process::Output| -> Result<Option<std::path::PathBuf>, Error> {
            match output {
                process::Output::Discard => Ok(None),
                process::Output::AppendFile(path) => Ok(Some(self.check_file(path, true)?)),
            }
        };
        let stdout = output_path(&request.stdout)?;
        let stderr = output_path(&request.stderr)?;
        let space = self.space()?;
        let pass_fds = request
            .pass_fds
            .iter()
            .map(|handle| space.resources.descriptor(*handle))
            .collect::<Result<Vec<_>, Error>>()?;
        let spec = SpawnSpec {
            program: &program,
            args: &request.args,
            env: &request.env,
            cwd: request.cwd.as_deref().map(Path::new),
            stdout: stdout.as_deref(),
            stderr: stderr.as_deref(),
            pass_fds,
        };
        let handle = space.resources.spawn(
            spec,
            self.call.weak_space(),
            Some(self.shared.dispatch.clone()),
        )?;
        tracing::debug!(plugin = %self.shared.name, program = %program.display(), handle, "spawned");
        Ok(handle)
    }

    fn adopt(&mut self, pid: i32, start_time: u64) -> WitResult<process::ProcessHandle> {
        let space = self.space()?;
        Ok(space.resources.adopt(
            pid,
            start_time,
            self.call.weak_space(),
            Some(self.shared.dispatch.clone()),
        )?)
    }

    fn start_time(&mut self, handle: process::ProcessHandle) -> WitResult<u64> {
        Ok(self.space()?.resources.process(handle)?.start_time())
    }

    fn status(&mut self, handle: process::ProcessHandle) -> WitResult<process::ProcessStatus> {
        Ok(process_status(
            self.space()?.resources.process(handle)?.status(),
        ))
    }

    fn kill(&mut self, handle: process::ProcessHandle, signal: i32) -> WitResult<()> {
        Ok(self.space()?.resources.process(handle)?.kill(signal)?)
    }

    fn wait(
        &mut self,
        handle: process::ProcessHandle,
        timeout_ms: u32,
    ) -> WitResult<process::ProcessStatus> {
        let process = self.space()?.resources.process(handle)?;
        let status = self.blocking(|_| process.wait(Duration::from_millis(timeout_ms.into())));
        Ok(process_status(status))
    }

    fn release(&mut self, handle: process::ProcessHandle) {
        if let Some(space) = &self.call.space {
            space.resources.release_process(handle);
        }
    }
}

impl PluginCtx {
    /// Binds the opening connection to a space (see `state.bind-space`).
    fn bind(
        &mut self,
        name: &str,
        persistence: state::Persistence,
        dirs: Option<crate::config::DriverDirs>,
    ) -> Result<state::SpaceStatus, Error> {
        if !self.call.opening || self.call.space.is_some() {
            return Err(Error::internal(
                ErrorDomain::NONE,
                "bind-space is only valid once, inside connect.open",
            ));
        }
        let persistence = match persistence {
            state::Persistence::Volatile => Persistence::Volatile,
            state::Persistence::Persistent => Persistence::Persistent,
        };
        let shared = std::sync::Arc::clone(&self.shared);
        let (space, binding) = self.blocking(|_| shared.spaces.bind(name, persistence, dirs))?;
        self.call.space = Some(std::sync::Arc::clone(&space));
        Ok(match binding {
            Binding::Existing => state::SpaceStatus::Existing,
            Binding::Created => {
                self.call.initializing = Some(space);
                state::SpaceStatus::Created
            }
            Binding::Reloaded => {
                self.call.initializing = Some(space);
                state::SpaceStatus::Reloaded
            }
        })
    }

    /// Remembers that this call claims `handle`'s frames, to release them when it ends.
    fn claim(&mut self, handle: u64) {
        if !self.call.claimed.contains(&handle) {
            self.call.claimed.push(handle);
        }
    }
}

impl unix_stream::Host for PluginCtx {
    fn connect(
        &mut self,
        path: String,
        framing: unix_stream::Framing,
        timeout_ms: u32,
    ) -> WitResult<unix_stream::StreamHandle> {
        let normalized = crate::manifest::normalize(Path::new(&path)).ok_or_else(|| {
            Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                format!("socket path '{path}' must be absolute"),
            )
        })?;
        let in_own_run_dir = normalized.starts_with(&self.space_dirs().run);
        if !in_own_run_dir {
            self.check(Operation::UnixConnect(&normalized))?;
        }
        let framing = match framing {
            unix_stream::Framing::Line => Framing::Line,
            unix_stream::Framing::LengthPrefixed => Framing::LengthPrefixed,
            unix_stream::Framing::Raw => Framing::Raw,
        };
        let space = self.space()?;
        let weak = self.call.weak_space();
        let dispatch = Some(self.shared.dispatch.clone());
        let call_id = self.call.id;
        let handle = self.blocking(|_| {
            space.resources.connect(
                &normalized,
                framing,
                Duration::from_millis(timeout_ms.into()),
                call_id,
                weak,
                dispatch,
            )
        })?;
        // Released (queued frames handed to the handler) when the call ends.
        self.claim(handle);
        Ok(handle)
    }

    fn send(&mut self, handle: unix_stream::StreamHandle, bytes: Vec<u8>) -> WitResult<()> {
        let stream = self.space()?.resources.stream(handle)?;
        let call_id = self.call.id;
        self.claim(handle);
        Ok(self.blocking(|_| stream.send(call_id, &bytes))?)
    }

    fn send_with_handles(
        &mut self,
        handle: unix_stream::StreamHandle,
        bytes: Vec<u8>,
        handles: Vec<u64>,
    ) -> WitResult<()> {
        let space = self.space()?;
        let stream = space.resources.stream(handle)?;
        let fds = handles
            .iter()
            .map(|h| space.resources.descriptor(*h))
            .collect::<Result<Vec<_>, Error>>()?;
        let call_id = self.call.id;
        self.claim(handle);
        Ok(self.blocking(|_| stream.send_with_fds(call_id, &bytes, &fds))?)
    }

    fn recv(
        &mut self,
        handle: unix_stream::StreamHandle,
        timeout_ms: u32,
    ) -> WitResult<Option<Vec<u8>>> {
        let stream = self.space()?.resources.stream(handle)?;
        let call_id = self.call.id;
        self.claim(handle);
        Ok(self.blocking(|_| stream.recv(call_id, Duration::from_millis(timeout_ms.into())))?)
    }

    fn release_frames(&mut self, handle: unix_stream::StreamHandle) {
        if let Some(space) = &self.call.space {
            let dispatch = Some(self.shared.dispatch.clone());
            space.resources.release_claims(
                self.call.id,
                &[handle],
                &self.call.weak_space(),
                &dispatch,
            );
        }
        self.call.claimed.retain(|claimed| *claimed != handle);
    }

    fn close(&mut self, handle: unix_stream::StreamHandle) {
        if let Some(space) = &self.call.space {
            space.resources.close_stream(handle);
        }
    }
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> wit::Error {
    Error::new(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::NONE,
        format!("cannot {what} '{}': {error}", path.display()),
    )
    .into()
}

impl files::Host for PluginCtx {
    fn dirs(&mut self) -> files::DriverDirs {
        let dirs = self.space_dirs();
        let text = |p: &std::path::PathBuf| p.to_string_lossy().into_owned();
        files::DriverDirs {
            config: text(&dirs.config),
            state: text(&dirs.state),
            run: text(&dirs.run),
            log: text(&dirs.log),
            cache: text(&dirs.cache),
        }
    }

    fn read_range(&mut self, path: String, offset: u64, len: u32) -> WitResult<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.check_file(&path, false)?;
        self.blocking(|_| {
            let mut file = std::fs::File::open(&path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut contents = Vec::with_capacity(len.min(1 << 20) as usize);
            file.take(len.into()).read_to_end(&mut contents)?;
            Ok(contents)
        })
        .map_err(|e| io_error("read", &path, e))
    }

    fn open(&mut self, path: String, mode: files::OpenMode) -> WitResult<u64> {
        use std::os::unix::fs::OpenOptionsExt;
        let write = !matches!(mode, files::OpenMode::Read);
        let path = self.check_file(&path, write)?;
        if write {
            make_private_roots(self.space_dirs(), &path)
                .map_err(|e| io_error("create the directory of", &path, e))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.mode(PRIVATE_FILE_MODE);
        match mode {
            files::OpenMode::Read => options.read(true),
            files::OpenMode::Write => options.write(true).create(true).truncate(true),
            files::OpenMode::Append => options.append(true).create(true),
            files::OpenMode::ReadWrite => options.read(true).write(true).create(true),
        };
        let file = options
            .open(&path)
            .map_err(|e| io_error("open", &path, e))?;
        Ok(self.space()?.resources.add_descriptor(file.into()))
    }

    fn seek(&mut self, handle: u64, offset: u64) -> WitResult<()> {
        use std::io::{Seek, SeekFrom};
        // The duplicate shares the file position with the descriptor behind the handle.
        let mut file = std::fs::File::from(self.space()?.resources.descriptor(handle)?);
        file.seek(SeekFrom::Start(offset)).map_err(|e| {
            wit::Error::from(Error::new(
                ErrorNumber::SYSTEM_ERROR,
                ErrorDomain::NONE,
                format!("cannot seek descriptor {handle} to {offset}: {e}"),
            ))
        })?;
        Ok(())
    }

    fn close(&mut self, handle: u64) {
        if let Some(space) = &self.call.space {
            space.resources.close_descriptor(handle);
        }
    }

    fn remove_dir(&mut self, path: String) -> WitResult<()> {
        let path = self.check_file(&path, true)?;
        match std::fs::remove_dir(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error("remove directory", &path, error)),
        }
    }

    fn read(&mut self, path: String) -> WitResult<Vec<u8>> {
        let path = self.check_file(&path, false)?;
        self.blocking(|_| std::fs::read(&path))
            .map_err(|e| io_error("read", &path, e))
    }

    fn write(&mut self, path: String, contents: Vec<u8>) -> WitResult<()> {
        let path = self.check_file(&path, true)?;
        let dirs = self.space_dirs().clone();
        self.blocking(|_| {
            make_private_roots(&dirs, &path)?;
            write_atomically(&path, &contents)
        })
        .map_err(|e| io_error("write", &path, e))
    }

    fn remove(&mut self, path: String) -> WitResult<()> {
        let path = self.check_file(&path, true)?;
        remove_stale_temporaries(&path);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error("remove", &path, error)),
        }
    }

    fn stat(&mut self, path: String) -> WitResult<Option<files::FileStat>> {
        let path = self.check_file(&path, false)?;
        match std::fs::metadata(&path) {
            Ok(meta) => {
                let mtime_ns = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0);
                Ok(Some(files::FileStat {
                    size: meta.len(),
                    is_dir: meta.is_dir(),
                    mtime_ns,
                }))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("stat", &path, error)),
        }
    }

    fn create_dir_all(&mut self, path: String) -> WitResult<()> {
        let path = self.check_file(&path, true)?;
        make_private_roots(self.space_dirs(), &path)
            .and_then(|()| std::fs::create_dir_all(&path))
            .map_err(|e| io_error("create directory", &path, e))
    }

    fn list_dir(&mut self, path: String) -> WitResult<Vec<String>> {
        let path = self.check_file(&path, false)?;
        let entries = std::fs::read_dir(&path).map_err(|e| io_error("list", &path, e))?;
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// The prefix of `path`'s temporaries: `.NAME.tmp`, followed by the writer's pid and a count.
fn temporary_prefix(path: &Path) -> String {
    format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

/// Removes temporaries of `path` that an earlier daemon left when it died in the middle of
/// [`write_atomically`] (a crash, a SIGKILL): nothing else would ever remove them. This
/// process's own temporaries may belong to a write in progress and are kept.
fn remove_stale_temporaries(path: &Path) {
    let (Some(dir), prefix) = (path.parent(), temporary_prefix(path)) else {
        return;
    };
    let own = format!("{prefix}{}.", std::process::id());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && !name.starts_with(&own) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes, directly in `dir`, every temporary [`write_atomically`] made in another process
/// (`.NAME.tmpPID.N`): run when a plugin's directories are first opened, so what a killed
/// daemon was writing never outlives it, even for a file nothing writes again.
pub(crate) fn remove_stale_temporaries_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let own = std::process::id().to_string();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some((_, writer)) = name.strip_prefix('.').and_then(|n| n.rsplit_once(".tmp")) else {
            continue;
        };
        let Some((pid, count)) = writer.split_once('.') else {
            continue;
        };
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if digits(pid) && digits(count) && pid != own {
            tracing::info!(path = %entry.path().display(), "removing a temporary an earlier daemon left");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The mode of a file the host creates for a plugin: what a driver keeps may hold a key or a
/// secret, and libvirt keeps its state files 0600 too (`file-attributes.set-mode` opens one
/// up).
const PRIVATE_FILE_MODE: u32 = 0o600;
/// The mode of a driver's own directories (`files.dirs`).
const PRIVATE_DIR_MODE: u32 = 0o700;

/// Creates, mode 0700, each of the driver's own directories that `path` lies in and that does
/// not exist yet (their parents as the umask makes them), before the host makes anything in
/// it. A directory that exists keeps its mode: [`make_roots_private`] tightened it at load.
pub(crate) fn make_private_roots(dirs: &DriverDirs, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for root in dirs
        .roots()
        .into_iter()
        .filter(|root| path.starts_with(root))
    {
        if root.exists() {
            continue;
        }
        if let Some(parent) = root.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::DirBuilder::new()
            .mode(PRIVATE_DIR_MODE)
            .create(root)
        {
            Err(error) if error.kind() != std::io::ErrorKind::AlreadyExists => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

/// Takes group and other permissions away from each of the driver's directories that exists,
/// when a plugin is first loaded: an earlier rvirt made them with the umask (0755). A plugin
/// that shares a file with another user opens its path up again through
/// `file-attributes.set-mode`.
pub(crate) fn make_roots_private(dirs: &DriverDirs) {
    use std::os::unix::fs::PermissionsExt;
    for root in dirs.roots() {
        let Ok(meta) = std::fs::symlink_metadata(root) else {
            continue;
        };
        if meta.is_dir() && meta.permissions().mode() & 0o077 != 0 {
            let private = std::fs::Permissions::from_mode(PRIVATE_DIR_MODE);
            if let Err(error) = std::fs::set_permissions(root, private) {
                tracing::warn!(dir = %root.display(), %error, "cannot make a driver directory private");
            }
        }
    }
}

/// Writes `contents` to a temporary file beside `path`, syncs it and renames it over `path`.
/// A new file is made 0600; a replaced one keeps its mode.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mode = std::fs::metadata(path)
        .map(|meta| meta.permissions().mode() & 0o7777)
        .unwrap_or(PRIVATE_FILE_MODE);
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    remove_stale_temporaries(path);
    // Unique per write: two calls replacing one file at once must not share a temporary.
    static NEXT_TMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        "{}{}.{}",
        temporary_prefix(path),
        std::process::id(),
        NEXT_TMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(&tmp)
        .and_then(|mut file| {
            // Exactly the mode wanted, whatever the umask.
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            file.write_all(contents)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        });
    if written.is_err() {
        // A full disk must not leave the partial temporary behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

impl net::Host for PluginCtx {
    fn bridge_exists(&mut self, name: String) -> bool {
        if self.check(Operation::Net("bridge")).is_err() {
            return false;
        }
        crate::netdev::bridge_exists(&name)
    }

    fn create_tap(
        &mut self,
        name: String,
        bridge: Option<String>,
        mtu: Option<u32>,
    ) -> WitResult<net::TapDevice> {
        self.check(Operation::Net("tap"))?;
        let space = self.space()?;
        let (fd, name) = crate::netdev::create_tap(&name, bridge.as_deref(), mtu)?;
        let handle = space.resources.add_descriptor(fd);
        Ok(net::TapDevice { name, handle })
    }

    fn delete_link(&mut self, name: String) -> WitResult<()> {
        self.check(Operation::Net("link"))?;
        crate::netdev::delete_link(&name)
            .map_err(|e| system(format!("cannot delete link '{name}'"), e).into())
    }
}

impl crate::bindings::v0_2::file_attributes::Host for PluginCtx {
    fn lstat(
        &mut self,
        paths: Vec<String>,
    ) -> WitResult<Vec<Option<crate::bindings::v0_2::file_attributes::Attributes>>> {
        use std::os::unix::fs::MetadataExt;
        let checked = paths
            .iter()
            .map(|path| self.check_file(path, false))
            .collect::<Result<Vec<_>, _>>()?;
        let found = self.blocking(|_| {
            checked
                .iter()
                .map(|path| match std::fs::symlink_metadata(path) {
                    Ok(meta) => Some(crate::bindings::v0_2::file_attributes::Attributes {
                        mode: meta.mode(),
                        size: meta.size(),
                        allocated: meta.blocks().saturating_mul(512),
                        uid: meta.uid(),
                        gid: meta.gid(),
                        mtime_ns: u64::try_from(meta.mtime())
                            .unwrap_or(0)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(u64::try_from(meta.mtime_nsec()).unwrap_or(0)),
                    }),
                    // One file that cannot be examined (a permission, a stale mount) must not
                    // hide the others: it is left out, as libvirt skips a volume it cannot open.
                    Err(error) => {
                        if error.kind() != std::io::ErrorKind::NotFound {
                            tracing::debug!(path = %path.display(), %error, "lstat failed");
                        }
                        None
                    }
                })
                .collect::<Vec<_>>()
        });
        Ok(found)
    }

    fn statvfs(
        &mut self,
        path: String,
    ) -> WitResult<crate::bindings::v0_2::file_attributes::Filesystem> {
        let path = self.check_file(&path, false)?;
        let found = self
            .blocking(|_| nix::sys::statvfs::statvfs(&path).map_err(std::io::Error::from))
            .map_err(|e| io_error("statvfs", &path, e))?;
        Ok(crate::bindings::v0_2::file_attributes::Filesystem {
            fragment_size: found.fragment_size(),
            blocks: found.blocks(),
            free_blocks: found.blocks_free(),
            available_blocks: found.blocks_available(),
        })
    }

    fn set_mode(&mut self, path: String, mode: u32) -> WitResult<()> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if mode & !0o777 != 0 || mode & 0o002 != 0 {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                format!(
                    "cannot set mode {mode:04o} on '{path}': a plugin sets permission bits \
                     (0777 at most), never writable by everyone"
                ),
            )
            .into());
        }
        let path = self.check_file(&path, true)?;
        // Opened as a path only (nothing is read, a FIFO or device is not opened) and without
        // following a final symbolic link, whose target may lie outside the grants; the mode
        // is set through the descriptor's /proc name.
        self.blocking(|_| {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_PATH | nix::libc::O_NOFOLLOW)
                .open(&path)?;
            if file.metadata()?.file_type().is_symlink() {
                return Err(std::io::Error::from_raw_os_error(nix::libc::ELOOP));
            }
            use std::os::fd::AsRawFd;
            let by_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
            std::fs::set_permissions(by_descriptor, std::fs::Permissions::from_mode(mode))
        })
        .map_err(|e| io_error("set the mode of", &path, e))
    }
}

/// Ports reserved through `ports.reserve`, with the plugin holding each, for the daemon's
/// life (a port a running guest's server holds after a restart is found bound instead).
static RESERVED_PORTS: std::sync::Mutex<std::collections::BTreeMap<u16, String>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Whether nothing on this host is bound to TCP `port`, as libvirt's port allocator asks: a
/// bind on the IPv4 wildcard address, then (once that is closed again) on the IPv6 one; a
/// host without IPv6 answers for IPv4 alone.
fn port_is_free(port: u16) -> bool {
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
    if TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_err() {
        return false;
    }
    match TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)) {
        Ok(_) => true,
        Err(error) => error.kind() != std::io::ErrorKind::AddrInUse,
    }
}

impl crate::bindings::v0_2::ports::Host for PluginCtx {
    fn reserve(&mut self, first: u16, last: u16) -> WitResult<u16> {
        let plugin = self.shared.name.clone();
        // Probing may bind thousands of ports: off the runtime's threads.
        let found = self.blocking(|_| {
            let mut reserved = RESERVED_PORTS.lock().unwrap_or_else(|p| p.into_inner());
            let port = (first..=last)
                .filter(|port| *port != 0 && !reserved.contains_key(port))
                .find(|port| port_is_free(*port))?;
            reserved.insert(port, plugin);
            Some(port)
        });
        found.ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::NONE,
                format!("Unable to find an unused port in range {first}-{last}"),
            )
            .into()
        })
    }

    fn release(&mut self, port: u16) {
        let mut reserved = RESERVED_PORTS.lock().unwrap_or_else(|p| p.into_inner());
        // Only the plugin that holds a port gives it back.
        if reserved.get(&port) == Some(&self.shared.name) {
            reserved.remove(&port);
        }
    }
}

impl crate::bindings::v0_2::device_watch::Host for PluginCtx {
    fn watch(&mut self) -> WitResult<()> {
        // What a change names is what sysfs shows: a plugin that may not read it learns nothing.
        self.check_file("/sys", false)?;
        let Some(space) = self.call.space.as_ref() else {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::NONE,
                "device-watch.watch needs a space: bind one first",
            )
            .into());
        };
        crate::device_watch::watch(
            std::sync::Arc::downgrade(space),
            self.shared.dispatch.clone(),
        )
        .map_err(Into::into)
    }
}

impl crate::bindings::v0_2::bridges::Host for PluginCtx {
    fn create(&mut self, request: crate::bindings::v0_2::bridges::BridgeRequest) -> WitResult<()> {
        self.check(Operation::Net("bridge-admin"))?;
        let mut addresses = Vec::new();
        for entry in &request.addresses {
            let invalid = |what: &str, value: &str| {
                Error::new(
                    ErrorNumber::INVALID_ARG,
                    ErrorDomain::NONE,
                    format!("bridge '{}': invalid {what} '{value}'", request.name),
                )
            };
            let address: std::net::IpAddr = entry
                .address
                .parse()
                .map_err(|_| invalid("address", &entry.address))?;
            let max_prefix = if address.is_ipv4() { 32 } else { 128 };
            if entry.prefix > max_prefix {
                return Err(invalid("prefix", &entry.prefix.to_string()).into());
            }
            let broadcast = match &entry.broadcast {
                Some(text) => Some(text.parse().map_err(|_| invalid("broadcast", text))?),
                None => None,
            };
            addresses.push((address, entry.prefix, broadcast));
        }
        let spec = crate::netdev::BridgeSpec {
            name: request.name,
            mac: request.mac,
            mtu: request.mtu,
            stp: request.stp,
            delay_seconds: request.delay,
            addresses,
        };
        let plugin = self.shared.name.clone();
        self.blocking(|_| crate::netdev::create_bridge(&spec, &plugin))?;
        Ok(())
    }

    fn delete(&mut self, name: String) -> WitResult<()> {
        self.check(Operation::Net("bridge-admin"))?;
        let plugin = self.shared.name.clone();
        self.blocking(|_| crate::netdev::delete_bridge(&name, &plugin))?;
        Ok(())
    }

    fn link_exists(&mut self, name: String) -> bool {
        self.check(Operation::Net("bridge-admin")).is_ok() && crate::netdev::link_exists(&name)
    }
}

#[cfg(test)]
mod write_atomically_tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn what_the_host_makes_for_a_plugin_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("dir");
        let dirs = DriverDirs::rooted(root.path(), "qemu");
        let key = dirs.run.join("domain-1-g/master-key.aes");
        make_private_roots(&dirs, &key).expect("roots");
        write_atomically(&key, b"key").expect("write");
        assert_eq!(mode(&dirs.run), 0o700, "the driver's directory");
        assert_eq!(mode(&key), 0o600, "a new file");
        // A file opened up by its plugin stays so when it is written again.
        let hosts = dirs.state.join("dnsmasq/net.hostsfile");
        write_atomically(&hosts, b"a").expect("write");
        std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomically(&hosts, b"b").expect("rewrite");
        assert_eq!(mode(&hosts), 0o644);
        // An earlier rvirt's open directory is closed when the plugin loads.
        std::fs::create_dir_all(&dirs.log).expect("log");
        std::fs::set_permissions(&dirs.log, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        make_roots_private(&dirs);
        assert_eq!(mode(&dirs.log), 0o700);
    }

    #[test]
    fn temporaries_a_dead_writer_left_are_removed_by_the_next_write_or_remove() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("web1.xml");
        let stale = dir.path().join(".web1.xml.tmp1.7");
        let other = dir.path().join(".web10.xml.tmp1.7");
        std::fs::write(&stale, "half").expect("stale");
        std::fs::write(&other, "another file's").expect("other");
        write_atomically(&path, b"<domain/>").expect("write");
        assert!(!stale.exists(), "a dead writer's temporary stays");
        assert!(other.exists(), "another file's temporary was removed");
        assert_eq!(std::fs::read(&path).expect("read"), b"<domain/>");
        std::fs::write(&stale, "half").expect("stale");
        remove_stale_temporaries(&path);
        assert!(!stale.exists());
        // The sweep when a plugin's directories are opened: other processes' temporaries go,
        // this process's (a write in progress) and ordinary files stay.
        let own = dir
            .path()
            .join(format!(".web2.xml.tmp{}.3", std::process::id()));
        for file in [&stale, &own] {
            std::fs::write(file, "x").expect("temporary");
        }
        remove_stale_temporaries_in(dir.path());
        assert!(!stale.exists() && !other.exists());
        assert!(own.exists() && path.exists());
    }
}
