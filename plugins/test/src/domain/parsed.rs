//! Definitions already parsed, and XML already formatted, by the exact bytes they came
//! from: what saves `XMLDesc`, start and stop from parsing the stored XML on every call.
//!
//! It is a cache, not state. An entry is used only while the space still holds the very
//! bytes it was made from, so a write by any instance, a reload or a restart simply misses;
//! nothing here outlives the instance (the host reuses idle instances call after call,
//! which is what makes a second read of a domain a hit). Memory is bounded: past
//! [`BUDGET`] bytes (estimated) the cache starts over.

use std::cell::RefCell;
use std::collections::HashMap;

use virt_core::Result;

use super::def::DomainDef;

/// Estimated bytes the cache may hold per instance (the instance's memory limit is
/// 256 MiB by default); room for some thousands of ordinary definitions.
const BUDGET: usize = 16 << 20;

/// A parsed model is several times the size of its XML; the estimate need not be exact.
const MODEL_FACTOR: usize = 4;

/// Variants of the formatted text (id × flags) kept per definition.
const MAX_FORMATTED: usize = 4;

struct Entry {
    stored: Vec<u8>,
    def: DomainDef,
    formatted: Vec<(i32, u32, String)>,
}

#[derive(Default)]
struct Cache {
    /// By (record kind, domain UUID).
    entries: HashMap<(&'static str, String), Entry>,
    bytes: usize,
}

impl Cache {
    fn entry(&mut self, kind: &'static str, key: &str, stored: &[u8]) -> Option<&mut Entry> {
        self.entries
            .get_mut(&(kind, key.to_string()))
            .filter(|entry| entry.stored == stored)
    }

    fn insert(&mut self, kind: &'static str, key: &str, stored: &[u8], def: DomainDef) {
        let cost = stored.len() * (1 + MODEL_FACTOR);
        if self.bytes + cost > BUDGET {
            self.entries.clear();
            self.bytes = 0;
        }
        let entry = Entry {
            stored: stored.to_vec(),
            def,
            formatted: Vec::new(),
        };
        if let Some(old) = self.entries.insert((kind, key.to_string()), entry) {
            self.bytes = self
                .bytes
                .saturating_sub(old.stored.len() * (1 + MODEL_FACTOR));
        }
        self.bytes += cost;
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// The definition stored as `stored` in record `kind`/`key`, parsed once.
pub(super) fn definition(kind: &'static str, key: &str, stored: &[u8]) -> Result<DomainDef> {
    let hit = CACHE.with_borrow_mut(|cache| {
        cache
            .entry(kind, key, stored)
            .map(|entry| entry.def.clone())
    });
    if let Some(def) = hit {
        return Ok(def);
    }
    let def = DomainDef::from_stored(stored)?;
    CACHE.with_borrow_mut(|cache| cache.insert(kind, key, stored, def.clone()));
    Ok(def)
}

/// [`DomainDef::format`] of that definition, formatted once per (`id`, `flags`).
pub(super) fn xml(
    kind: &'static str,
    key: &str,
    stored: &[u8],
    id: i32,
    flags: u32,
) -> Result<String> {
    let hit = CACHE.with_borrow_mut(|cache| {
        let entry = cache.entry(kind, key, stored)?;
        let text = entry
            .formatted
            .iter()
            .find(|(i, f, _)| (*i, *f) == (id, flags))?;
        Some(text.2.clone())
    });
    if let Some(text) = hit {
        return Ok(text);
    }
    let text = definition(kind, key, stored)?.format(id, flags);
    CACHE.with_borrow_mut(|cache| {
        let Some(entry) = cache.entry(kind, key, stored) else {
            return;
        };
        if entry.formatted.len() == MAX_FORMATTED {
            entry.formatted.remove(0);
        }
        entry.formatted.push((id, flags, text.clone()));
        cache.bytes += text.len();
    });
    Ok(text)
}
