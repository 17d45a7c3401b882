//! Domains: how they are kept in the space, how calls find them, and what every operation
//! on them shares.
//!
//! A domain is a small summary record (kind `domain`, keyed by UUID) that list and lookup
//! calls read, plus its definitions as XML in separate records: `domain.def` is libvirt's
//! `def` (the live definition while running, the persistent one otherwise) and
//! `domain.newdef` is libvirt's `newDef` (the persistent definition while running). Name and
//! id indexes (`domain.name`, `domain.id`) make lookups two record reads.
//!
//! Operations that add or remove domains, rename them or hand out ids take the
//! [`DOMAINS_JOB`] first and then the domain's own job; operations that change one domain
//! only take its own. The order is always the same, so jobs never deadlock.
//!
//! The submodules hold the operations: [`lifecycle`] (define, start, stop, ...), [`config`]
//! (memory, vcpus, metadata, ...), [`save`] (save images and managed save), [`stats`], and
//! [`def`] (the definitions, through `virt-xml`, parsed once per instance by [`parsed`]).

pub(crate) mod config;
pub(crate) mod def;
pub(crate) mod guest;
pub(crate) mod lifecycle;
mod parsed;
pub(crate) mod save;
pub(crate) mod stats;
pub(crate) mod tuning;

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    connect_list_all_domains_flags as list_flags, domain_event_type, domain_state,
};
use virt_core::{Result, Uuid};
use virt_plugin_sdk::types::{self, DomainRef, Event};

use crate::error;
use crate::space::Space;
use def::DomainDef;

/// Job target for the set of domains (membership, names, ids).
pub(crate) const DOMAINS_JOB: &str = "domains";

const KIND_DOMAIN: &str = "domain";
const KIND_DEF: &str = "domain.def";
const KIND_NEW_DEF: &str = "domain.newdef";
const KIND_NAME: &str = "domain.name";
const KIND_ID: &str = "domain.id";
const KIND_COUNTER: &str = "domain.counter";
const KEY_NEXT_ID: &str = "next-id";

/// What list and lookup calls need to know about a domain, without its definition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct DomainRecord {
    pub name: String,
    /// -1 while inactive.
    pub id: i32,
    /// `virDomainState` and its reason.
    pub state: i32,
    pub reason: i32,
    pub persistent: bool,
    pub autostart: bool,
    pub has_managed_save: bool,
    /// Facts of `def`, kept here so that info calls need no XML.
    pub max_memory_kib: u64,
    pub current_memory_kib: u64,
    pub vcpus: u32,
    /// Snapshot bookkeeping (see [`crate::snapshot`]).
    pub n_snapshots: u32,
    pub current_snapshot: Option<String>,
    /// The guest clock (`virDomainSetTime`), seconds and nanoseconds.
    pub guest_seconds: i64,
    pub guest_nseconds: u32,
    /// Which of the guest's two filesystems ("/" and "/boot") are frozen.
    pub frozen: [bool; 2],
}

impl DomainRecord {
    pub fn is_active(&self) -> bool {
        self.id != -1
    }
}

/// A domain found by UUID: its summary and where it is kept.
pub(crate) struct Domain {
    pub uuid: Uuid,
    pub rec: DomainRecord,
}

/// A domain's definitions, read when an operation needs them.
pub(crate) struct Defs {
    /// libvirt's `def`: live while running, persistent otherwise.
    pub def: DomainDef,
    /// libvirt's `newDef`: the persistent definition while running.
    pub new_def: Option<DomainDef>,
}

impl Domain {
    pub fn reference(&self) -> DomainRef {
        DomainRef {
            name: self.rec.name.clone(),
            uuid: self.uuid.into(),
            id: self.rec.id,
        }
    }

    /// The job target of this domain.
    pub fn job(&self) -> String {
        job_target(&self.uuid)
    }

    /// Reads the definitions.
    pub fn defs(&self, space: &dyn Space) -> Result<Defs> {
        let key = self.uuid.to_string();
        let def = parsed::definition(KIND_DEF, &key, &self.stored_def(space, &key)?)?;
        let new_def = match space.get(KIND_NEW_DEF, &key) {
            Some(bytes) => Some(parsed::definition(KIND_NEW_DEF, &key, &bytes)?),
            None => None,
        };
        Ok(Defs { def, new_def })
    }

    /// `virDomainGetXMLDesc`'s text: of `newDef` when `inactive` asks for it and there is
    /// one, else of `def`, formatted with the domain's id and `flags`.
    pub fn xml(&self, space: &dyn Space, inactive: bool, flags: u32) -> Result<String> {
        let key = self.uuid.to_string();
        let new_def = if inactive {
            space.get(KIND_NEW_DEF, &key)
        } else {
            None
        };
        match new_def {
            Some(bytes) => parsed::xml(KIND_NEW_DEF, &key, &bytes, self.rec.id, flags),
            None => {
                let bytes = self.stored_def(space, &key)?;
                parsed::xml(KIND_DEF, &key, &bytes, self.rec.id, flags)
            }
        }
    }

    fn stored_def(&self, space: &dyn Space, key: &str) -> Result<Vec<u8>> {
        space
            .get(KIND_DEF, key)
            .ok_or_else(|| error::internal(format!("domain '{}' has no definition", self.rec.name)))
    }

    /// Queues a lifecycle event about this domain as it is now.
    pub fn emit_lifecycle(&self, space: &dyn Space, event: i32, detail: i32) {
        space.emit(Event::DomainLifecycle((self.reference(), event, detail)));
    }

    /// Sets the state; the caller writes the record.
    pub fn set_state(&mut self, state: i32, reason: i32) {
        self.rec.state = state;
        self.rec.reason = reason;
    }

    /// Writes the summary record.
    pub fn write_record(&self, space: &dyn Space) -> Result<()> {
        space.store(KIND_DOMAIN, &self.uuid.to_string(), &self.rec)
    }

    /// Writes the definitions and the summary (with the facts of the new `def`).
    pub fn write_all(&mut self, space: &dyn Space, defs: &Defs) -> Result<()> {
        let key = self.uuid.to_string();
        self.rec.max_memory_kib = defs.def.max_memory_kib();
        self.rec.current_memory_kib = defs.def.current_memory_kib();
        self.rec.vcpus = defs.def.vcpus();
        space.put(KIND_DEF, &key, defs.def.to_stored().as_bytes());
        match &defs.new_def {
            Some(new_def) => space.put(KIND_NEW_DEF, &key, new_def.to_stored().as_bytes()),
            None => {
                space.delete(KIND_NEW_DEF, &key);
            }
        }
        self.write_record(space)
    }

    /// Removes the domain and everything kept about it.
    pub fn remove(&self, space: &dyn Space) {
        let key = self.uuid.to_string();
        space.delete(KIND_DOMAIN, &key);
        space.delete(KIND_DEF, &key);
        space.delete(KIND_NEW_DEF, &key);
        space.delete(KIND_NAME, &self.rec.name);
        if self.rec.id != -1 {
            space.delete(KIND_ID, &self.rec.id.to_string());
        }
        crate::snapshot::remove_all(space, &self.uuid);
    }
}

pub(crate) fn job_target(uuid: &Uuid) -> String {
    format!("domain/{uuid}")
}

fn read_uuid_index(space: &dyn Space, kind: &str, key: &str) -> Result<Option<Uuid>> {
    Ok(space.load::<[u8; 16]>(kind, key)?.map(Uuid::from_bytes))
}

fn write_uuid_index(space: &dyn Space, kind: &str, key: &str, uuid: &Uuid) -> Result<()> {
    space.store(kind, key, uuid.as_bytes())
}

/// The domain with `uuid`, if any.
pub(crate) fn find_by_uuid(space: &dyn Space, uuid: &Uuid) -> Result<Option<Domain>> {
    Ok(space
        .load::<DomainRecord>(KIND_DOMAIN, &uuid.to_string())?
        .map(|rec| Domain { uuid: *uuid, rec }))
}

/// The domain called `name`, if any.
pub(crate) fn find_by_name(space: &dyn Space, name: &str) -> Result<Option<Domain>> {
    match read_uuid_index(space, KIND_NAME, name)? {
        Some(uuid) => find_by_uuid(space, &uuid),
        None => Ok(None),
    }
}

/// The domain a handle refers to (by UUID, as libvirt resolves handles), or
/// VIR_ERR_NO_DOMAIN naming the handle.
pub(crate) fn get(space: &dyn Space, dom: &DomainRef) -> Result<Domain> {
    let uuid: Uuid = dom.uuid.into();
    find_by_uuid(space, &uuid)?.ok_or_else(|| error::no_domain_with_uuid(&uuid, &dom.name))
}

/// Takes the domain's job, then reads it (so that what was read stays true).
pub(crate) fn get_for_change(space: &dyn Space, dom: &DomainRef) -> Result<Domain> {
    let uuid: Uuid = dom.uuid.into();
    space.begin_job(&job_target(&uuid))?;
    get(space, dom)
}

/// Takes the set job and the domain's job, then reads it.
pub(crate) fn get_for_membership_change(space: &dyn Space, dom: &DomainRef) -> Result<Domain> {
    space.begin_job(DOMAINS_JOB)?;
    get_for_change(space, dom)
}

pub(crate) fn lookup_by_name(space: &dyn Space, name: &str) -> Result<DomainRef> {
    find_by_name(space, name)?
        .map(|d| d.reference())
        .ok_or_else(error::no_domain)
}

pub(crate) fn lookup_by_uuid(space: &dyn Space, uuid: types::Uuid) -> Result<DomainRef> {
    find_by_uuid(space, &uuid.into())?
        .map(|d| d.reference())
        .ok_or_else(error::no_domain)
}

pub(crate) fn lookup_by_id(space: &dyn Space, id: i32) -> Result<DomainRef> {
    let found = match read_uuid_index(space, KIND_ID, &id.to_string())? {
        Some(uuid) => find_by_uuid(space, &uuid)?,
        None => None,
    };
    found
        .filter(|d| d.rec.id == id)
        .map(|d| d.reference())
        .ok_or_else(error::no_domain)
}

/// Every domain, ordered by UUID.
pub(crate) fn all(space: &dyn Space) -> Result<Vec<Domain>> {
    space
        .load_all::<DomainRecord>(KIND_DOMAIN)?
        .into_iter()
        .map(|(key, rec)| {
            let uuid = virt_core::parse_uuid(&key)
                .ok_or_else(|| error::internal(format!("domain record with a bad key '{key}'")))?;
            Ok(Domain { uuid, rec })
        })
        .collect()
}

/// The filter bits `virConnectListAllDomains` accepts.
pub(crate) const LIST_FILTERS_ALL: u32 = list_flags::ACTIVE
    | list_flags::INACTIVE
    | list_flags::PERSISTENT
    | list_flags::TRANSIENT
    | list_flags::RUNNING
    | list_flags::PAUSED
    | list_flags::SHUTOFF
    | list_flags::OTHER
    | list_flags::MANAGEDSAVE
    | list_flags::NO_MANAGEDSAVE
    | list_flags::AUTOSTART
    | list_flags::NO_AUTOSTART
    | list_flags::HAS_SNAPSHOT
    | list_flags::NO_SNAPSHOT
    | list_flags::HAS_CHECKPOINT
    | list_flags::NO_CHECKPOINT;

/// `virDomainObjMatchFilter`: each group of flags filters only when one of its bits is set.
pub(crate) fn matches_filter(rec: &DomainRecord, flags: u32) -> bool {
    let group = |yes: u32, no: u32, value: bool| {
        flags & (yes | no) == 0 || (flags & yes != 0 && value) || (flags & no != 0 && !value)
    };
    if !group(list_flags::ACTIVE, list_flags::INACTIVE, rec.is_active()) {
        return false;
    }
    if !group(
        list_flags::PERSISTENT,
        list_flags::TRANSIENT,
        rec.persistent,
    ) {
        return false;
    }
    let state_bits =
        list_flags::RUNNING | list_flags::PAUSED | list_flags::SHUTOFF | list_flags::OTHER;
    if flags & state_bits != 0 {
        let st = rec.state;
        let other = st != domain_state::RUNNING
            && st != domain_state::PAUSED
            && st != domain_state::SHUTOFF;
        if !((flags & list_flags::RUNNING != 0 && st == domain_state::RUNNING)
            || (flags & list_flags::PAUSED != 0 && st == domain_state::PAUSED)
            || (flags & list_flags::SHUTOFF != 0 && st == domain_state::SHUTOFF)
            || (flags & list_flags::OTHER != 0 && other))
        {
            return false;
        }
    }
    if !group(
        list_flags::MANAGEDSAVE,
        list_flags::NO_MANAGEDSAVE,
        rec.has_managed_save,
    ) {
        return false;
    }
    if !group(
        list_flags::AUTOSTART,
        list_flags::NO_AUTOSTART,
        rec.autostart,
    ) {
        return false;
    }
    if !group(
        list_flags::HAS_SNAPSHOT,
        list_flags::NO_SNAPSHOT,
        rec.n_snapshots > 0,
    ) {
        return false;
    }
    // The test driver has no checkpoints.
    if !group(list_flags::HAS_CHECKPOINT, list_flags::NO_CHECKPOINT, false) {
        return false;
    }
    true
}

/// `virConnectListAllDomains`.
pub(crate) fn list_all(space: &dyn Space, flags: u32) -> Result<Vec<DomainRef>> {
    error::check_flags(flags, LIST_FILTERS_ALL, "testConnectListAllDomains")?;
    if flags & !(list_flags::ACTIVE | list_flags::INACTIVE) == 0 {
        let names = space.list_packed(KIND_NAME);
        return Ok(list_by_index(space, &names, flags)?
            .into_iter()
            .map(|(uuid, name, id)| DomainRef {
                name: name.to_string(),
                uuid: Uuid::from_u128(uuid).into(),
                id,
            })
            .collect());
    }
    Ok(list_filtered(space, flags)?
        .iter()
        .map(Domain::reference)
        .collect())
}

/// [`list_all`] packed for the host (`domain-listing.list-all-packed`): the same domains in
/// the same order, written straight from the name index into one buffer.
///
/// The last listing is kept with the records' generation it was made from and answered again
/// while the generation stays: a listing depends on the records alone, and clients (virsh,
/// virt-manager's poll) list far more often than domains change.
pub(crate) fn list_all_packed(space: &dyn Space, flags: u32) -> Result<Vec<u8>> {
    error::check_flags(flags, LIST_FILTERS_ALL, "testConnectListAllDomains")?;
    let Some(generation) = space.generation() else {
        return pack_listing(space, flags);
    };
    LAST_LISTING.with_borrow_mut(|last| {
        if let Some(kept) = last
            .as_ref()
            .filter(|kept| kept.generation == generation && kept.flags == flags)
        {
            return Ok(kept.packed.clone());
        }
        let packed = pack_listing(space, flags)?;
        *last = Some(KeptListing {
            generation,
            flags,
            packed: packed.clone(),
        });
        Ok(packed)
    })
}

/// A packed listing and what it was made from.
struct KeptListing {
    generation: u64,
    flags: u32,
    packed: Vec<u8>,
}

thread_local! {
    /// The instance's last packed listing (wasm runs one thread per instance).
    static LAST_LISTING: std::cell::RefCell<Option<KeptListing>> =
        const { std::cell::RefCell::new(None) };
}

/// The packed listing, made afresh.
fn pack_listing(space: &dyn Space, flags: u32) -> Result<Vec<u8>> {
    if flags & !(list_flags::ACTIVE | list_flags::INACTIVE) == 0 {
        let names = space.list_packed(KIND_NAME);
        let entries = list_by_index(space, &names, flags)?;
        let mut packed = virt_core::packed::DomainListWriter::with_capacity(entries.len());
        for (uuid, name, id) in entries {
            packed.push(&uuid.to_be_bytes(), id, name);
        }
        return Ok(packed.finish());
    }
    let domains = list_filtered(space, flags)?;
    let mut packed = virt_core::packed::DomainListWriter::with_capacity(domains.len());
    for d in &domains {
        packed.push(d.uuid.as_bytes(), d.rec.id, &d.rec.name);
    }
    Ok(packed.finish())
}

/// [`list_all`] with filters the indexes cannot answer: every domain's record decoded.
fn list_filtered(space: &dyn Space, flags: u32) -> Result<Vec<Domain>> {
    Ok(all(space)?
        .into_iter()
        .filter(|d| matches_filter(&d.rec, flags))
        .collect())
}

/// [`list_all`] without a filter beyond active/inactive, from the name and id indexes: a
/// name and a UUID per domain, instead of decoding every domain's record (a listing of a
/// thousand domains spent most of its time there). `names` is the name index as
/// `Space::list_packed` hands it over; the entries (UUID, name, id) borrow their names from
/// it. The running domains' records are read to confirm their ids. Ordered by UUID, as
/// [`all`] is.
fn list_by_index<'a>(
    space: &dyn Space,
    names: &'a [u8],
    flags: u32,
) -> Result<Vec<(u128, &'a str, i32)>> {
    let mut running = std::collections::BTreeMap::new();
    for (_, value) in space.list(KIND_ID) {
        let uuid = decode_uuid_index(KIND_ID, &value)?;
        if let Some(d) = find_by_uuid(space, &Uuid::from_bytes(uuid))? {
            if d.rec.is_active() {
                running.insert(uuid, d.rec.id);
            }
        }
    }
    let mut refs = Vec::with_capacity(names.len() / 32);
    for record in virt_core::packed::records(names) {
        let (name, value) =
            record.map_err(|e| error::internal(format!("{KIND_NAME} index listing: {e}")))?;
        let uuid = decode_uuid_index(KIND_NAME, value)?;
        let id = running.get(&uuid).copied().unwrap_or(-1);
        let active = id != -1;
        let wanted = flags & (list_flags::ACTIVE | list_flags::INACTIVE) == 0
            || (flags & list_flags::ACTIVE != 0 && active)
            || (flags & list_flags::INACTIVE != 0 && !active);
        if wanted {
            refs.push((u128::from_be_bytes(uuid), name, id));
        }
    }
    // One integer comparison per step: a byte-slice comparison made the sort a tenth of it.
    refs.sort_unstable_by_key(|(uuid, _, _)| *uuid);
    Ok(refs)
}

/// An index record's UUID (postcard writes the 16 bytes as they are).
fn decode_uuid_index(kind: &str, value: &[u8]) -> Result<[u8; 16]> {
    value
        .try_into()
        .map_err(|_| error::internal(format!("{kind} index entry of {} bytes", value.len())))
}

/// `virDomainIsActive` and its siblings, answered together.
pub(crate) fn status(space: &dyn Space, dom: &DomainRef) -> Result<types::ObjectStatus> {
    let d = get(space, dom)?;
    Ok(types::ObjectStatus {
        active: d.rec.is_active(),
        persistent: d.rec.persistent,
        autostart: d.rec.autostart,
        // testDomainIsUpdated always answers 0.
        updated: false,
        has_managed_save: d.rec.has_managed_save,
    })
}

/// The id the next started domain gets (`nextDomID`); the caller holds [`DOMAINS_JOB`].
fn allocate_id(space: &dyn Space) -> Result<i32> {
    let next: i32 = space.load(KIND_COUNTER, KEY_NEXT_ID)?.unwrap_or(1);
    space.store(KIND_COUNTER, KEY_NEXT_ID, &(next + 1))?;
    Ok(next)
}

/// `testDomainStartState`: running with a fresh id; a persistent domain keeps its persistent
/// definition aside while running. The caller holds [`DOMAINS_JOB`] and writes the domain.
pub(crate) fn start_state(
    space: &dyn Space,
    d: &mut Domain,
    defs: &mut Defs,
    reason: i32,
) -> Result<()> {
    let id = allocate_id(space)?;
    d.set_state(domain_state::RUNNING, reason);
    d.rec.id = id;
    write_uuid_index(space, KIND_ID, &id.to_string(), &d.uuid)?;
    if d.rec.persistent && defs.new_def.is_none() {
        defs.new_def = Some(defs.def.clone());
    }
    d.rec.has_managed_save = false;
    Ok(())
}

/// `testDomainShutdownState`: shut off, the persistent definition becomes current again.
/// The caller holds [`DOMAINS_JOB`], writes or removes the domain.
pub(crate) fn shutdown_state(space: &dyn Space, d: &mut Domain, defs: &mut Defs, reason: i32) {
    if let Some(new_def) = defs.new_def.take() {
        defs.def = new_def;
        if d.rec.id != -1 {
            space.delete(KIND_ID, &d.rec.id.to_string());
        }
        d.rec.id = -1;
    }
    d.set_state(domain_state::SHUTOFF, reason);
}

/// Takes a stopped domain's id away (and out of the id index).
pub(crate) fn clear_id(space: &dyn Space, d: &mut Domain) {
    if d.rec.id != -1 {
        space.delete(KIND_ID, &d.rec.id.to_string());
        d.rec.id = -1;
    }
}

/// After a domain stopped: a transient one is gone, a persistent one is written back.
pub(crate) fn finish_stop(space: &dyn Space, d: &mut Domain, defs: &Defs) -> Result<()> {
    if d.rec.persistent {
        clear_id(space, d);
        d.write_all(space, defs)
    } else {
        d.remove(space);
        Ok(())
    }
}

/// Adds a new domain (records and name index); the caller holds [`DOMAINS_JOB`] and has
/// checked that neither its name nor its UUID is taken.
pub(crate) fn insert(space: &dyn Space, d: &mut Domain, defs: &Defs) -> Result<()> {
    write_uuid_index(space, KIND_NAME, &d.rec.name, &d.uuid)?;
    if d.rec.id != -1 {
        write_uuid_index(space, KIND_ID, &d.rec.id.to_string(), &d.uuid)?;
    }
    d.write_all(space, defs)
}

/// Renames a domain's name index entry; the caller holds [`DOMAINS_JOB`].
pub(crate) fn move_name(space: &dyn Space, d: &Domain, old_name: &str) -> Result<()> {
    space.delete(KIND_NAME, old_name);
    write_uuid_index(space, KIND_NAME, &d.rec.name, &d.uuid)
}

/// How an existing domain relates to a definition being added (`virDomainObjListAdd`).
pub(crate) enum Existing {
    /// Neither the UUID nor the name is known.
    None,
    /// The same domain (UUID and name match).
    Same(Domain),
}

/// The duplicate checks of `virDomainObjListAdd`: a UUID known under another name, or a
/// name known with another UUID, is VIR_ERR_OPERATION_FAILED.
pub(crate) fn find_existing(space: &dyn Space, def: &DomainDef) -> Result<Existing> {
    let uuid = def.uuid();
    if let Some(existing) = find_by_uuid(space, &uuid)? {
        if existing.rec.name != def.name() {
            return Err(error::duplicate(
                virt_core::ErrorDomain::DOMAIN,
                format!(
                    "domain '{}' is already defined with uuid {}",
                    existing.rec.name, uuid
                ),
            ));
        }
        return Ok(Existing::Same(existing));
    }
    if let Some(existing) = find_by_name(space, def.name())? {
        return Err(error::duplicate(
            virt_core::ErrorDomain::DOMAIN,
            format!(
                "domain '{}' already exists with uuid {}",
                def.name(),
                existing.uuid
            ),
        ));
    }
    Ok(Existing::None)
}

/// A record for a domain that is being added.
pub(crate) fn new_record(def: &DomainDef) -> DomainRecord {
    DomainRecord {
        name: def.name().to_string(),
        id: -1,
        state: domain_state::SHUTOFF,
        reason: 0,
        persistent: false,
        autostart: false,
        has_managed_save: false,
        max_memory_kib: def.max_memory_kib(),
        current_memory_kib: def.current_memory_kib(),
        vcpus: def.vcpus(),
        n_snapshots: 0,
        current_snapshot: None,
        guest_seconds: guest::INITIAL_GUEST_SECONDS,
        guest_nseconds: 0,
        frozen: [false; 2],
    }
}

/// Emits the UNDEFINED/RENAMED + DEFINED/RENAMED pair of a rename.
pub(crate) fn emit_rename(space: &dyn Space, d: &Domain, old_name: &str) {
    let mut old = d.reference();
    old.name = old_name.to_string();
    space.emit(Event::DomainLifecycle((
        old,
        domain_event_type::UNDEFINED,
        virt_core::consts::domain_event_undefined_detail_type::RENAMED,
    )));
    d.emit_lifecycle(
        space,
        domain_event_type::DEFINED,
        virt_core::consts::domain_event_defined_detail_type::RENAMED,
    );
}
