//! Records of one kind in the host's state store ([`host::state`](crate::host::state)), kept
//! as JSON so that a newer plugin reads what an older one wrote.
//!
//! A driver names its kind once, with the error domain its errors are reported from, and
//! reads and writes whole records through it. A record that does not decode is an internal
//! error of that domain, `corrupt KIND record 'KEY': ...`; a driver that would rather skip
//! unreadable records reads the store itself.

use serde::de::DeserializeOwned;
use serde::Serialize;
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::host::state;

/// The records of one kind (`domain`, `network`, ...), keyed by a string such as a UUID.
#[derive(Debug, Clone, Copy)]
pub struct Records {
    kind: &'static str,
    domain: ErrorDomain,
}

impl Records {
    /// The records of `kind`, whose decoding errors are reported from `domain`.
    pub const fn new(kind: &'static str, domain: ErrorDomain) -> Records {
        Records { kind, domain }
    }

    /// The record under `key`, if there is one. Writes made earlier in the same call are
    /// visible.
    pub fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        state::get(self.kind, key)
            .map(|bytes| self.decode(key, &bytes))
            .transpose()
    }

    /// Every record of the kind, ordered by key; the first that does not decode fails all.
    pub fn all<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        state::list(self.kind)
            .iter()
            .map(|(key, bytes)| self.decode(key, bytes))
            .collect()
    }

    /// Writes `record` under `key` (staged until the call returns).
    ///
    /// # Panics
    ///
    /// When `T`'s `Serialize` fails, which a record of plain data (strings, numbers,
    /// options, structs, maps with string keys) never does.
    pub fn store<T: Serialize>(&self, key: &str, record: &T) {
        let bytes = serde_json::to_vec(record).expect("a record is plain data and always encodes");
        state::put(self.kind, key, &bytes);
    }

    /// Removes the record under `key`, if there is one.
    pub fn delete(&self, key: &str) {
        state::delete(self.kind, key);
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T, Error> {
        serde_json::from_slice(bytes).map_err(|error| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                self.domain,
                format!("corrupt {} record '{key}': {error}", self.kind),
            )
        })
    }
}
