//! The host services one call runs against: the space's record store, jobs, events and
//! files, behind the [`Space`] trait.
//!
//! Driver logic only ever talks to a `&dyn Space`. In the plugin that is [`HostSpace`], a thin
//! forwarder to the host's imports; the unit tests use an in-memory space instead, so the
//! semantics can be checked natively without a wasm host.
//!
//! Records are typed through [`Space::load`] / [`Space::store`] (postcard encoding). Writes
//! are staged by the host and committed when the call returns, *whether it returns a value or
//! an error*: callers validate everything before their first write, so that bad input changes
//! nothing.

use serde::de::DeserializeOwned;
use serde::Serialize;
use virt_core::{Error, ErrorDomain, Result};
use virt_plugin_sdk::types::Event;

/// What a call may do in its space.
pub(crate) trait Space {
    /// The raw record `kind`/`key`, if any.
    fn get(&self, kind: &str, key: &str) -> Option<Vec<u8>>;
    /// Every record of `kind`, ordered by key.
    fn list(&self, kind: &str) -> Vec<(String, Vec<u8>)>;
    /// Every record of `kind`, ordered by key, packed in one buffer (`virt_core::packed`'s
    /// record layout): no allocation per record.
    fn list_packed(&self, kind: &str) -> Vec<u8> {
        let mut buf = Vec::new();
        for (key, value) in self.list(kind) {
            virt_core::packed::push_record(&mut buf, &key, &value);
        }
        buf
    }
    /// The committed records' generation (`state-bulk.generation`): while it stays the same,
    /// so do the records. None where there is no such number, or the call has staged writes.
    fn generation(&self) -> Option<u64> {
        None
    }
    /// Writes a record (staged until the call returns).
    fn put(&self, kind: &str, key: &str, value: &[u8]);
    /// Deletes a record; false if there was none.
    fn delete(&self, kind: &str, key: &str) -> bool;
    /// Takes the exclusive job on `target` until the call ends.
    fn begin_job(&self, target: &str) -> Result<()>;
    /// Queues an event for delivery after the call's writes are committed.
    fn emit(&self, event: Event);
    /// Reads a file on the host.
    fn read_file(&self, path: &str) -> Result<Vec<u8>>;
    /// Replaces a file on the host.
    fn write_file(&self, path: &str, contents: &[u8]) -> Result<()>;
}

impl dyn Space + '_ {
    /// Reads and decodes a record.
    pub(crate) fn load<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Result<Option<T>> {
        match self.get(kind, key) {
            None => Ok(None),
            Some(bytes) => decode(kind, key, &bytes).map(Some),
        }
    }

    /// Reads and decodes every record of a kind, ordered by key.
    pub(crate) fn load_all<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<(String, T)>> {
        self.list(kind)
            .into_iter()
            .map(|(key, bytes)| decode(kind, &key, &bytes).map(|value| (key, value)))
            .collect()
    }

    /// Encodes and writes a record.
    pub(crate) fn store<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<()> {
        let bytes = postcard::to_allocvec(value).map_err(|error| {
            Error::internal(
                ErrorDomain::TEST,
                format!("cannot encode {kind} record '{key}': {error}"),
            )
        })?;
        self.put(kind, key, &bytes);
        Ok(())
    }
}

fn decode<T: DeserializeOwned>(kind: &str, key: &str, bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|error| {
        Error::internal(
            ErrorDomain::TEST,
            format!("corrupt {kind} record '{key}': {error}"),
        )
    })
}

/// The host's imports, for calls running inside the plugin.
pub(crate) struct HostSpace;

#[cfg(target_arch = "wasm32")]
mod host_impl {
    use super::*;
    use virt_plugin_sdk::host::{events, files, jobs, state, state_bulk};

    impl Space for HostSpace {
        fn get(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
            state::get(kind, key)
        }
        fn list(&self, kind: &str) -> Vec<(String, Vec<u8>)> {
            state::list(kind)
        }
        fn list_packed(&self, kind: &str) -> Vec<u8> {
            state_bulk::list_packed(kind)
        }
        fn generation(&self) -> Option<u64> {
            state_bulk::generation()
        }
        fn put(&self, kind: &str, key: &str, value: &[u8]) {
            state::put(kind, key, value)
        }
        fn delete(&self, kind: &str, key: &str) -> bool {
            state::delete(kind, key)
        }
        fn begin_job(&self, target: &str) -> Result<()> {
            jobs::begin(target).map_err(Into::into)
        }
        fn emit(&self, event: Event) {
            events::emit(&event)
        }
        fn read_file(&self, path: &str) -> Result<Vec<u8>> {
            files::read(path).map_err(Into::into)
        }
        fn write_file(&self, path: &str, contents: &[u8]) -> Result<()> {
            files::write(path, contents).map_err(Into::into)
        }
    }
}

/// Outside wasm there is no host: every call reports it (only reachable by mistake, since
/// native builds exist for the unit tests, which use their own space).
#[cfg(not(target_arch = "wasm32"))]
impl Space for HostSpace {
    fn get(&self, _kind: &str, _key: &str) -> Option<Vec<u8>> {
        None
    }
    fn list(&self, _kind: &str) -> Vec<(String, Vec<u8>)> {
        Vec::new()
    }
    fn put(&self, _kind: &str, _key: &str, _value: &[u8]) {}
    fn delete(&self, _kind: &str, _key: &str) -> bool {
        false
    }
    fn begin_job(&self, _target: &str) -> Result<()> {
        Err(no_host())
    }
    fn emit(&self, _event: Event) {}
    fn read_file(&self, _path: &str) -> Result<Vec<u8>> {
        Err(no_host())
    }
    fn write_file(&self, _path: &str, _contents: &[u8]) -> Result<()> {
        Err(no_host())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host() -> Error {
    Error::internal(
        ErrorDomain::TEST,
        "the test driver runs only inside an rvirt plugin host",
    )
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory space for unit tests: a sorted map of records, the events emitted, and a
    //! map of files.

    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    pub(crate) struct MemorySpace {
        pub records: RefCell<BTreeMap<(String, String), Vec<u8>>>,
        pub events: RefCell<Vec<Event>>,
        pub files: RefCell<BTreeMap<String, Vec<u8>>>,
    }

    impl MemorySpace {
        /// Takes the events emitted so far.
        pub fn take_events(&self) -> Vec<Event> {
            std::mem::take(&mut *self.events.borrow_mut())
        }

        /// A copy of every record, to check that a failed call changed nothing.
        pub fn snapshot(&self) -> BTreeMap<(String, String), Vec<u8>> {
            self.records.borrow().clone()
        }
    }

    impl Space for MemorySpace {
        fn get(&self, kind: &str, key: &str) -> Option<Vec<u8>> {
            self.records
                .borrow()
                .get(&(kind.to_string(), key.to_string()))
                .cloned()
        }
        fn list(&self, kind: &str) -> Vec<(String, Vec<u8>)> {
            self.records
                .borrow()
                .iter()
                .filter(|((k, _), _)| k == kind)
                .map(|((_, key), value)| (key.clone(), value.clone()))
                .collect()
        }
        fn put(&self, kind: &str, key: &str, value: &[u8]) {
            self.records
                .borrow_mut()
                .insert((kind.to_string(), key.to_string()), value.to_vec());
        }
        fn delete(&self, kind: &str, key: &str) -> bool {
            self.records
                .borrow_mut()
                .remove(&(kind.to_string(), key.to_string()))
                .is_some()
        }
        fn begin_job(&self, _target: &str) -> Result<()> {
            Ok(())
        }
        fn emit(&self, event: Event) {
            self.events.borrow_mut().push(event)
        }
        fn read_file(&self, path: &str) -> Result<Vec<u8>> {
            self.files.borrow().get(path).cloned().ok_or_else(|| {
                Error::new(
                    virt_core::ErrorNumber::SYSTEM_ERROR,
                    ErrorDomain::TEST,
                    format!("cannot read '{path}': No such file or directory"),
                )
            })
        }
        fn write_file(&self, path: &str, contents: &[u8]) -> Result<()> {
            self.files
                .borrow_mut()
                .insert(path.to_string(), contents.to_vec());
            Ok(())
        }
    }
}
