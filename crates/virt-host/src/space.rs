//! Spaces: the host-owned state of one driver scope (`test:///default`, `qemu:///system`).
//!
//! A space holds the driver's records (kind + key → bytes), its event channel, its job locks
//! and its live resources (children, streams, descriptors). Plugin instances hold none of it,
//! so an instance can be thrown away after a trap and a new plugin version sees the same
//! records. Persistent spaces journal every commit to disk and reload after a restart.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use virt_core::{Error, ErrorDomain, ErrorNumber, Event};

use crate::config::DriverDirs;
use crate::resources::Resources;

/// How long a space lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// In memory; dropped with its last connection.
    Volatile,
    /// Journaled to disk; lives for the process and reloads after a restart.
    Persistent,
}

/// What binding a space found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Created,
    Existing,
    Reloaded,
}

/// A staged change to one record; `None` deletes it.
pub type StagedWrites = BTreeMap<(String, String), Option<Vec<u8>>>;

type Records = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// The next record generation: one counter for every space, so that no two states share
/// a number.
fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// libvirt's job wait limit (`QEMU_JOB_WAIT_TIME`).
pub const JOB_WAIT: Duration = Duration::from_secs(30);

/// One driver scope. See the module docs.
pub struct Space {
    pub name: String,
    pub persistence: Persistence,
    /// The space's own driver directories (`bind-space-rooted`), if not the host's.
    pub dirs: Option<DriverDirs>,
    records: RwLock<Records>,
    /// Changes with every commit that writes (`state-bulk.generation`); set under the
    /// records' write lock after they changed, so a reader that sees a number reads records
    /// at least that new.
    generation: AtomicU64,
    journal: Option<Mutex<Journal>>,
    events: broadcast::Sender<Event>,
    /// Spaces whose subscribers also hear this space's events: the hypervisor connections a
    /// secondary plugin (networks) serves.
    forward_to: Mutex<Vec<Weak<Space>>>,
    jobs: Mutex<HashMap<String, u64>>,
    jobs_changed: Condvar,
    ready: Mutex<bool>,
    ready_changed: Condvar,
    n_connections: AtomicUsize,
    pub resources: Resources,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space").field("name", &self.name).finish()
    }
}

impl Space {
    fn new(
        name: String,
        persistence: Persistence,
        dirs: Option<DriverDirs>,
        journal: Option<Journal>,
        records: Records,
    ) -> Space {
        let (events, _) = broadcast::channel(4096);
        Space {
            name,
            persistence,
            dirs,
            records: RwLock::new(records),
            generation: AtomicU64::new(next_generation()),
            journal: journal.map(Mutex::new),
            events,
            forward_to: Mutex::new(Vec::new()),
            jobs: Mutex::new(HashMap::new()),
            jobs_changed: Condvar::new(),
            ready: Mutex::new(false),
            ready_changed: Condvar::new(),
            n_connections: AtomicUsize::new(0),
            resources: Resources::default(),
        }
    }

    pub fn get(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        records
            .get(kind)
            .and_then(|of_kind| of_kind.get(key))
            .cloned()
    }

    pub fn list(&self, kind: &str) -> Vec<(String, Vec<u8>)> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        records
            .get(kind)
            .map(|of_kind| {
                of_kind
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The records' generation: a number no other state of any space has had in this
    /// process (see `state-bulk.generation`).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Every record of `kind`, ordered by key, packed as `state-bulk.list-packed` hands it
    /// over (`virt_core::packed`): no copy per record.
    pub fn list_packed(&self, kind: &str) -> Vec<u8> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        let Some(of_kind) = records.get(kind) else {
            return Vec::new();
        };
        let size = of_kind
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum::<usize>();
        let mut buf = Vec::with_capacity(size);
        for (key, value) in of_kind {
            virt_core::packed::push_record(&mut buf, key, value);
        }
        buf
    }

    /// Applies staged writes atomically (journaled first for persistent spaces) and then
    /// publishes the staged events.
    ///
    /// A journal that cannot be written (a full disk) does not fail the commit: the call's
    /// effects outside the space (a started QEMU, a killed container) have happened, and the
    /// records must say so, or the next call would act on a state that is not the world's.
    /// The records change in memory and the space is marked unsynced: its appends stop (an
    /// entry after a missing one would replay wrongly) and each later commit tries to write
    /// the whole state as a snapshot instead, until one succeeds.
    pub fn commit(&self, writes: StagedWrites, events: Vec<Event>) -> Result<(), Error> {
        if !writes.is_empty() {
            let mut appended = true;
            if let Some(journal) = &self.journal {
                // The append ends in an fsync.
                let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
                if !journal.unsynced {
                    if let Err(error) = crate::ctx::off_runtime(|| journal.append(&writes)) {
                        tracing::error!(space = %self.name, %error, "cannot append to the state journal; writing a snapshot instead");
                        appended = false;
                    }
                }
            }
            let mut records = self.records.write().unwrap_or_else(|p| p.into_inner());
            for ((kind, key), value) in writes {
                match value {
                    Some(value) => {
                        records.entry(kind).or_default().insert(key, value);
                    }
                    None => {
                        if let Some(of_kind) = records.get_mut(&kind) {
                            of_kind.remove(&key);
                        }
                    }
                }
            }
            self.generation.store(next_generation(), Ordering::Release);
            if let Some(journal) = &self.journal {
                let mut journal = journal.lock().unwrap_or_else(|p| p.into_inner());
                if !appended || journal.unsynced || journal.wants_compaction() {
                    match crate::ctx::off_runtime(|| journal.compact(&records)) {
                        Ok(()) => {
                            if journal.unsynced {
                                tracing::info!(space = %self.name, "state written again after a failed journal write");
                            }
                            journal.unsynced = false;
                        }
                        Err(error) => {
                            if !journal.unsynced {
                                tracing::error!(space = %self.name, %error, "cannot write the space's state: kept in memory until a write succeeds");
                            }
                            journal.unsynced = true;
                        }
                    }
                }
            }
        }
        let forward_to: Vec<Arc<Space>> = self
            .forward_to
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for event in events {
            for space in &forward_to {
                let _ = space.events.send(event.clone());
            }
            // No subscriber is not an error.
            let _ = self.events.send(event);
        }
        Ok(())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Publishes this space's events to `other`'s subscribers too (once, however often it is
    /// asked; forgotten when `other` goes).
    pub fn forward_events_to(self: &Arc<Self>, other: &Arc<Space>) {
        if Arc::ptr_eq(self, other) {
            return;
        }
        let mut forward_to = self.forward_to.lock().unwrap_or_else(|p| p.into_inner());
        forward_to.retain(|weak| weak.strong_count() > 0);
        if !forward_to
            .iter()
            .any(|weak| std::ptr::eq(weak.as_ptr(), Arc::as_ptr(other)))
        {
            forward_to.push(Arc::downgrade(other));
        }
    }

    /// Takes the job on `target` for `call_id` if it is free (or already the call's); false
    /// if another call holds it. The common case, which needs no waiting.
    pub fn try_begin_job(&self, target: &str, call_id: u64) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        claim_job(&mut jobs, target, call_id)
    }

    /// Takes the job on `target` for `call_id`, waiting up to `timeout`.
    pub fn begin_job(&self, target: &str, call_id: u64, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        while !claim_job(&mut jobs, target, call_id) {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorNumber::OPERATION_TIMEOUT,
                    ErrorDomain::NONE,
                    format!("cannot acquire state change lock on '{target}'"),
                ));
            }
            jobs = self
                .jobs_changed
                .wait_timeout(jobs, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }

    pub fn end_job(&self, target: &str, call_id: u64) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.get(target) == Some(&call_id) {
            jobs.remove(target);
            self.jobs_changed.notify_all();
        }
    }

    fn mark_ready(&self) {
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.ready_changed.notify_all();
    }

    fn wait_ready(&self) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        while !*ready {
            ready = self
                .ready_changed
                .wait(ready)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Takes the job on `target` for `call_id` if it is free or already the call's.
fn claim_job(jobs: &mut HashMap<String, u64>, target: &str, call_id: u64) -> bool {
    match jobs.get(target) {
        None => {
            jobs.insert(target.to_string(), call_id);
            true
        }
        Some(owner) => *owner == call_id,
    }
}

/// The spaces of one plugin.
#[derive(Default)]
pub struct SpaceRegistry {
    spaces: Mutex<HashMap<String, Arc<Space>>>,
    n_private: AtomicUsize,
    /// Where persistent spaces are journaled (the driver's state directory).
    pub state_dir: PathBuf,
}

impl SpaceRegistry {
    pub fn new(state_dir: PathBuf) -> SpaceRegistry {
        SpaceRegistry {
            state_dir,
            ..Default::default()
        }
    }

    /// Finds or makes the space `name`. For `Created` and `Reloaded` the caller populates or
    /// reattaches and then calls [`SpaceRegistry::finish_init`]; other binders of the same
    /// space wait for that.
    pub fn bind(
        &self,
        name: &str,
        persistence: Persistence,
        dirs: Option<DriverDirs>,
    ) -> Result<(Arc<Space>, Binding), Error> {
        let name = if name.starts_with("private:") {
            format!("{name}#{}", self.n_private.fetch_add(1, Ordering::Relaxed))
        } else {
            name.to_string()
        };
        let mut spaces = self.spaces.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(space) = spaces.get(&name) {
            if space.persistence != persistence || space.dirs != dirs {
                return Err(Error::internal(
                    ErrorDomain::NONE,
                    format!("space '{name}' is already bound with another persistence or root"),
                ));
            }
            let space = Arc::clone(space);
            drop(spaces);
            space.wait_ready();
            space.n_connections.fetch_add(1, Ordering::SeqCst);
            return Ok((space, Binding::Existing));
        }
        let (space, binding) = match persistence {
            Persistence::Volatile => (
                Space::new(name.clone(), persistence, dirs, None, Records::new()),
                Binding::Created,
            ),
            Persistence::Persistent => {
                let state_dir = dirs.as_ref().map(|d| &d.state).unwrap_or(&self.state_dir);
                let dir = state_dir.join("spaces").join(escape_name(&name));
                let (journal, records, existed) = Journal::open(&dir)?;
                let binding = if existed {
                    Binding::Reloaded
                } else {
                    Binding::Created
                };
                (
                    Space::new(name.clone(), persistence, dirs, Some(journal), records),
                    binding,
                )
            }
        };
        let space = Arc::new(space);
        space.n_connections.fetch_add(1, Ordering::SeqCst);
        spaces.insert(name, Arc::clone(&space));
        Ok((space, binding))
    }

    /// Ends the initialization a `Created`/`Reloaded` bind started. A failed initialization
    /// forgets the space so the next open starts over.
    pub fn finish_init(&self, space: &Arc<Space>, succeeded: bool) {
        if !succeeded {
            let mut spaces = self.spaces.lock().unwrap_or_else(|p| p.into_inner());
            if spaces
                .get(&space.name)
                .is_some_and(|s| Arc::ptr_eq(s, space))
            {
                spaces.remove(&space.name);
            }
        }
        space.mark_ready();
    }

    /// A connection of `space` closed; volatile spaces go with their last connection.
    pub fn release(&self, space: &Arc<Space>) {
        let remaining = space
            .n_connections
            .fetch_sub(1, Ordering::SeqCst)
            .saturating_sub(1);
        if remaining == 0 && space.persistence == Persistence::Volatile {
            let mut spaces = self.spaces.lock().unwrap_or_else(|p| p.into_inner());
            if space.n_connections.load(Ordering::SeqCst) == 0
                && spaces
                    .get(&space.name)
                    .is_some_and(|s| Arc::ptr_eq(s, space))
            {
                spaces.remove(&space.name);
            }
            drop(spaces);
            space.resources.close_all();
        }
    }

    /// Every space currently in memory.
    pub fn all(&self) -> Vec<Arc<Space>> {
        let spaces = self.spaces.lock().unwrap_or_else(|p| p.into_inner());
        spaces.values().cloned().collect()
    }
}

fn escape_name(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02x}"),
        })
        .collect()
}

/// A persistent space's on-disk log: a snapshot file plus an append-only journal of commits,
/// each entry `[u32 len][u32 crc32][ops]`, so a torn last write is detected and dropped.
struct Journal {
    dir: PathBuf,
    log: File,
    log_bytes: u64,
    snapshot_bytes: u64,
    /// The records changed in memory without reaching the disk (see [`Space::commit`]).
    unsynced: bool,
}

const SNAPSHOT: &str = "records.snap";
const LOG: &str = "records.log";
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

impl Journal {
    fn open(dir: &Path) -> Result<(Journal, Records, bool), Error> {
        let io = |what: &str, error: std::io::Error| {
            Error::new(
                ErrorNumber::SYSTEM_ERROR,
                ErrorDomain::NONE,
                format!(
                    "cannot {what} state journal in '{}': {error}",
                    dir.display()
                ),
            )
        };
        fs::create_dir_all(dir).map_err(|e| io("create", e))?;
        let mut records = Records::new();
        let snapshot_path = dir.join(SNAPSHOT);
        let log_path = dir.join(LOG);
        let existed = snapshot_path.exists() || log_path.exists();
        let mut snapshot_bytes = 0;
        if let Ok(bytes) = fs::read(&snapshot_path) {
            snapshot_bytes = bytes.len() as u64;
            replay(&bytes, &mut records);
        }
        let log_contents = fs::read(&log_path).unwrap_or_default();
        let valid = replay(&log_contents, &mut records);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&log_path)
            .map_err(|e| io("open", e))?;
        if valid < log_contents.len() {
            tracing::warn!(dir = %dir.display(), "dropping a torn entry at the end of the state journal");
            log.set_len(valid as u64).map_err(|e| io("repair", e))?;
        }
        let journal = Journal {
            dir: dir.to_path_buf(),
            log,
            log_bytes: valid as u64,
            snapshot_bytes,
            unsynced: false,
        };
        Ok((journal, records, existed))
    }

    fn append(&mut self, writes: &StagedWrites) -> Result<(), Error> {
        let mut ops = Vec::new();
        for ((kind, key), value) in writes {
            encode_op(&mut ops, kind, key, value.as_deref());
        }
        let entry = frame(&ops);
        #[cfg(debug_assertions)]
        if crate::fault::take_journal_abort() {
            // The test-only hook (see `fault`): a daemon killed in the middle of this write.
            let _ = self.log.write_all(&entry[..entry.len() / 2]);
            let _ = self.log.sync_data();
            std::process::abort();
        }
        let written = self
            .log
            .write_all(&entry)
            .and_then(|_| self.log.sync_data());
        if written.is_err() {
            // A failed write (a full disk) may have left part of the entry, or all of it
            // unsynced: cut the log back to its last good entry, or the next append would
            // land behind a torn one and be dropped with it on reload, and a change the
            // caller was told failed could come back.
            if let Err(error) = self.log.set_len(self.log_bytes) {
                tracing::error!(dir = %self.dir.display(), %error, "cannot cut a failed entry off the state journal");
            }
        }
        written.map_err(|e| {
            Error::new(
                ErrorNumber::SYSTEM_ERROR,
                ErrorDomain::NONE,
                format!(
                    "cannot write state journal in '{}': {e}",
                    self.dir.display()
                ),
            )
        })?;
        self.log_bytes += entry.len() as u64;
        Ok(())
    }

    fn wants_compaction(&self) -> bool {
        self.log_bytes > 1 << 20 && self.log_bytes > self.snapshot_bytes
    }

    fn compact(&mut self, records: &Records) -> Result<(), Error> {
        let mut ops = Vec::new();
        for (kind, of_kind) in records {
            for (key, value) in of_kind {
                encode_op(&mut ops, kind, key, Some(value));
            }
        }
        let entry = frame(&ops);
        let tmp = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let result = File::create(&tmp)
            .and_then(|mut file| file.write_all(&entry).and_then(|_| file.sync_all()))
            .and_then(|_| fs::rename(&tmp, self.dir.join(SNAPSHOT)))
            .and_then(|_| self.log.set_len(0));
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| {
            Error::new(
                ErrorNumber::SYSTEM_ERROR,
                ErrorDomain::NONE,
                format!(
                    "cannot compact state journal in '{}': {e}",
                    self.dir.display()
                ),
            )
        })?;
        self.snapshot_bytes = entry.len() as u64;
        self.log_bytes = 0;
        Ok(())
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn encode_op(out: &mut Vec<u8>, kind: &str, key: &str, value: Option<&[u8]>) {
    out.push(if value.is_some() { OP_PUT } else { OP_DELETE });
    put_bytes(out, kind.as_bytes());
    put_bytes(out, key.as_bytes());
    if let Some(value) = value {
        put_bytes(out, value);
    }
}

fn frame(ops: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(ops.len() + 8);
    entry.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    entry.extend_from_slice(&crc32fast::hash(ops).to_le_bytes());
    entry.extend_from_slice(ops);
    entry
}

/// Applies every complete, intact entry of `bytes`; returns how many bytes were valid.
fn replay(bytes: &[u8], records: &mut Records) -> usize {
    let mut reader = bytes;
    let mut valid = 0;
    loop {
        let mut header = [0u8; 8];
        if reader.read_exact(&mut header).is_err() {
            return valid;
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if reader.len() < len || crc32fast::hash(&reader[..len]) != crc {
            return valid;
        }
        let (ops, rest) = reader.split_at(len);
        if apply_ops(ops, records).is_none() {
            return valid;
        }
        reader = rest;
        valid += 8 + len;
    }
}

fn apply_ops(mut ops: &[u8], records: &mut Records) -> Option<()> {
    fn take<'a>(ops: &mut &'a [u8]) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(ops.get(..4)?.try_into().ok()?) as usize;
        let bytes = ops.get(4..4 + len)?;
        *ops = &ops[4 + len..];
        Some(bytes)
    }
    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        let kind = String::from_utf8(take(&mut ops)?.to_vec()).ok()?;
        let key = String::from_utf8(take(&mut ops)?.to_vec()).ok()?;
        match op {
            OP_PUT => {
                let value = take(&mut ops)?.to_vec();
                records.entry(kind).or_default().insert(key, value);
            }
            OP_DELETE => {
                if let Some(of_kind) = records.get_mut(&kind) {
                    of_kind.remove(&key);
                }
            }
            _ => return None,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(kind: &str, key: &str, value: Option<&str>) -> StagedWrites {
        let mut writes = StagedWrites::new();
        writes.insert(
            (kind.into(), key.into()),
            value.map(|v| v.as_bytes().to_vec()),
        );
        writes
    }

    #[test]
    fn generations_change_with_writes_and_differ_between_spaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = SpaceRegistry::new(dir.path().to_path_buf());
        let (one, _) = registry
            .bind("one", Persistence::Volatile, None)
            .expect("bind");
        let (two, _) = registry
            .bind("two", Persistence::Volatile, None)
            .expect("bind");
        assert_ne!(one.generation(), two.generation());
        let before = one.generation();
        one.commit(StagedWrites::new(), vec![]).expect("commit");
        assert_eq!(one.generation(), before, "a commit without writes");
        one.commit(write("domain", "a", Some("one")), vec![])
            .expect("commit");
        let after = one.generation();
        assert_ne!(after, before);
        assert_ne!(after, two.generation());
    }

    #[test]
    fn persistent_space_survives_reload_and_torn_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let registry = SpaceRegistry::new(dir.path().to_path_buf());
            let (space, binding) = registry
                .bind("system", Persistence::Persistent, None)
                .expect("bind");
            assert_eq!(binding, Binding::Created);
            space
                .commit(write("domain", "a", Some("one")), vec![])
                .expect("commit");
            space
                .commit(write("domain", "b", Some("two")), vec![])
                .expect("commit");
            space
                .commit(write("domain", "a", None), vec![])
                .expect("commit");
            registry.finish_init(&space, true);
        }
        // A torn entry at the end is dropped on reload.
        let log = dir.path().join("spaces/system").join(LOG);
        let mut file = OpenOptions::new().append(true).open(&log).expect("log");
        file.write_all(&[9, 0, 0, 0, 1, 2]).expect("torn write");
        drop(file);
        let registry = SpaceRegistry::new(dir.path().to_path_buf());
        let (space, binding) = registry
            .bind("system", Persistence::Persistent, None)
            .expect("bind");
        assert_eq!(binding, Binding::Reloaded);
        assert_eq!(space.get("domain", "a"), None);
        assert_eq!(space.get("domain", "b"), Some(b"two".to_vec()));
        space
            .commit(write("domain", "c", Some("three")), vec![])
            .expect("commit after repair");
        assert_eq!(space.list("domain").len(), 2);
    }

    #[test]
    fn volatile_space_goes_with_its_last_connection() {
        let registry = SpaceRegistry::default();
        let (first, binding) = registry
            .bind("default", Persistence::Volatile, None)
            .expect("bind");
        assert_eq!(binding, Binding::Created);
        registry.finish_init(&first, true);
        let (second, binding) = registry
            .bind("default", Persistence::Volatile, None)
            .expect("bind");
        assert_eq!(binding, Binding::Existing);
        assert!(Arc::ptr_eq(&first, &second));
        registry.release(&first);
        assert_eq!(registry.all().len(), 1);
        registry.release(&second);
        assert!(registry.all().is_empty());
        let (_, binding) = registry
            .bind("private:file", Persistence::Volatile, None)
            .expect("bind");
        assert_eq!(binding, Binding::Created);
        let (_, binding) = registry
            .bind("private:file", Persistence::Volatile, None)
            .expect("bind");
        assert_eq!(binding, Binding::Created, "private spaces are never shared");
    }

    #[test]
    fn jobs_exclude_other_calls_and_time_out() {
        let registry = SpaceRegistry::default();
        let (space, _) = registry
            .bind("default", Persistence::Volatile, None)
            .expect("bind");
        space.begin_job("domain/x", 1, JOB_WAIT).expect("first");
        space.begin_job("domain/x", 1, JOB_WAIT).expect("reentrant");
        space
            .begin_job("domain/y", 2, JOB_WAIT)
            .expect("other object");
        let error = space
            .begin_job("domain/x", 2, Duration::from_millis(20))
            .expect_err("busy");
        assert_eq!(error.code(), ErrorNumber::OPERATION_TIMEOUT);
        space.end_job("domain/x", 1);
        space
            .begin_job("domain/x", 2, Duration::from_millis(20))
            .expect("free again");
    }
}
