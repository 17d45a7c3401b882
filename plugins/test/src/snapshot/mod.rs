//! Domain snapshots, as libvirt's test driver keeps them: metadata only, a tree through
//! parent names, one current snapshot per domain, and reverting that swaps the domain's
//! definition for the one the snapshot recorded.
//!
//! A domain's snapshots are records of kind `snapshot/<domain uuid>`, keyed by name; the
//! domain's summary record counts them and names the current one, so domain listings can
//! filter on snapshots without reading them.

pub(crate) mod def;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_started_detail_type, domain_event_stopped_detail_type,
    domain_event_suspended_detail_type, domain_event_type, domain_paused_reason,
    domain_running_reason, domain_shutoff_reason, domain_snapshot_create_flags as create_flags,
    domain_snapshot_delete_flags as delete_flags, domain_snapshot_list_flags as list_flags,
    domain_snapshot_revert_flags as revert_flags, domain_snapshot_xml_flags, domain_state,
};
use virt_core::{ErrorDomain, ErrorNumber, Result, Uuid};
use virt_plugin_sdk::types::DomainRef;

use crate::domain::{self, Domain};
use crate::error;
use crate::space::Space;
use def::SnapshotDef;

/// `virDomainSnapshotState` of a disk-only snapshot.
const SNAPSHOT_DISK_SNAPSHOT: i32 = 8;

/// What is kept per snapshot.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    pub parent: Option<String>,
    /// A `virDomainSnapshotState`.
    pub state: i32,
    pub external: bool,
    /// Seconds since the epoch, for ordering.
    pub creation_time: i64,
    /// The snapshot's definition, as `def::SnapshotDef` stores it.
    pub def: Vec<u8>,
}

fn kind(uuid: &Uuid) -> String {
    format!("snapshot/{uuid}")
}

/// Forgets every snapshot of a domain that is being removed.
pub(crate) fn remove_all(space: &dyn Space, uuid: &Uuid) {
    let kind = kind(uuid);
    for (name, _) in space.list(&kind) {
        space.delete(&kind, &name);
    }
}

/// The snapshots of one domain, by name.
struct Tree {
    snapshots: BTreeMap<String, SnapshotRecord>,
}

impl Tree {
    fn load(space: &dyn Space, uuid: &Uuid) -> Result<Tree> {
        Ok(Tree {
            snapshots: space
                .load_all::<SnapshotRecord>(&kind(uuid))?
                .into_iter()
                .collect(),
        })
    }

    fn get(&self, name: &str) -> Result<&SnapshotRecord> {
        self.snapshots.get(name).ok_or_else(|| no_snapshot(name))
    }

    fn children_of(&self, parent: Option<&str>) -> Vec<&str> {
        let mut children: Vec<(&i64, &str)> = self
            .snapshots
            .iter()
            .filter(|(_, rec)| rec.parent.as_deref() == parent)
            .map(|(name, rec)| (&rec.creation_time, name.as_str()))
            .collect();
        children.sort();
        children.into_iter().map(|(_, name)| name).collect()
    }

    /// Every descendant of `from` (every snapshot for `None`), parents before children.
    fn descendants(&self, from: Option<&str>) -> Vec<&str> {
        let mut out = Vec::new();
        let mut stack: Vec<&str> = self.children_of(from).into_iter().rev().collect();
        while let Some(name) = stack.pop() {
            out.push(name);
            stack.extend(self.children_of(Some(name)).into_iter().rev());
        }
        out
    }

    fn has_children(&self, name: &str) -> bool {
        self.snapshots
            .values()
            .any(|rec| rec.parent.as_deref() == Some(name))
    }
}

fn no_snapshot(name: &str) -> virt_core::Error {
    error::test(
        ErrorNumber::NO_DOMAIN_SNAPSHOT,
        format!("no domain snapshot with matching name '{name}'"),
    )
}

const LIST_FILTERS_ALL: u32 = list_flags::LEAVES
    | list_flags::NO_LEAVES
    | list_flags::METADATA
    | list_flags::NO_METADATA
    | list_flags::INACTIVE
    | list_flags::ACTIVE
    | list_flags::DISK_ONLY
    | list_flags::INTERNAL
    | list_flags::EXTERNAL;

/// `virDomainSnapshotObjListGetNames` over the candidates `names`.
fn filter(tree: &Tree, names: Vec<&str>, flags: u32) -> Vec<String> {
    let metadata = flags & (list_flags::METADATA | list_flags::NO_METADATA);
    if metadata == list_flags::NO_METADATA {
        // Every test driver snapshot has metadata.
        return Vec::new();
    }
    let mut leaves = flags & (list_flags::LEAVES | list_flags::NO_LEAVES);
    if leaves == list_flags::LEAVES | list_flags::NO_LEAVES {
        leaves = 0;
    }
    let status_bits = list_flags::INACTIVE | list_flags::ACTIVE | list_flags::DISK_ONLY;
    let mut status = flags & status_bits;
    if status == status_bits {
        status = 0;
    }
    let mut location = flags & (list_flags::INTERNAL | list_flags::EXTERNAL);
    if location == list_flags::INTERNAL | list_flags::EXTERNAL {
        location = 0;
    }
    names
        .into_iter()
        .filter(|name| {
            let Some(rec) = tree.snapshots.get(*name) else {
                return false;
            };
            let is_leaf = !tree.has_children(name);
            if leaves == list_flags::LEAVES && !is_leaf
                || leaves == list_flags::NO_LEAVES && is_leaf
            {
                return false;
            }
            if status != 0 {
                let shutoff = rec.state == domain_state::SHUTOFF;
                let disk = rec.state == SNAPSHOT_DISK_SNAPSHOT;
                if status & list_flags::INACTIVE == 0 && shutoff
                    || status & list_flags::DISK_ONLY == 0 && disk
                    || status & list_flags::ACTIVE == 0 && !shutoff && !disk
                {
                    return false;
                }
            }
            if location & list_flags::INTERNAL != 0 && rec.external
                || location & list_flags::EXTERNAL != 0 && !rec.external
            {
                return false;
            }
            true
        })
        .map(str::to_string)
        .collect()
}

/// `virDomainListAllSnapshots`.
pub(crate) fn list_all(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<Vec<String>> {
    error::check_flags(
        flags,
        list_flags::ROOTS | list_flags::TOPOLOGICAL | LIST_FILTERS_ALL,
        "testDomainListAllSnapshots",
    )?;
    let d = domain::get(space, dom)?;
    let tree = Tree::load(space, &d.uuid)?;
    let candidates = if flags & list_flags::ROOTS != 0 {
        tree.children_of(None)
    } else {
        tree.descendants(None)
    };
    Ok(filter(&tree, candidates, flags))
}

/// `virDomainSnapshotListAllChildren`.
pub(crate) fn list_children(
    space: &dyn Space,
    dom: &DomainRef,
    name: &str,
    flags: u32,
) -> Result<Vec<String>> {
    error::check_flags(
        flags,
        list_flags::DESCENDANTS | list_flags::TOPOLOGICAL | LIST_FILTERS_ALL,
        "testDomainSnapshotListAllChildren",
    )?;
    let d = domain::get(space, dom)?;
    let tree = Tree::load(space, &d.uuid)?;
    tree.get(name)?;
    let candidates = if flags & list_flags::DESCENDANTS != 0 {
        tree.descendants(Some(name))
    } else {
        tree.children_of(Some(name))
    };
    Ok(filter(&tree, candidates, flags))
}

/// `virDomainSnapshotLookupByName`.
pub(crate) fn lookup_by_name(
    space: &dyn Space,
    dom: &DomainRef,
    name: &str,
    flags: u32,
) -> Result<String> {
    error::check_flags(flags, 0, "testDomainSnapshotLookupByName")?;
    let d = domain::get(space, dom)?;
    space
        .load::<SnapshotRecord>(&kind(&d.uuid), name)?
        .ok_or_else(|| no_snapshot(name))?;
    Ok(name.to_string())
}

/// `virDomainHasCurrentSnapshot`.
pub(crate) fn has_current(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<bool> {
    error::check_flags(flags, 0, "testDomainHasCurrentSnapshot")?;
    Ok(domain::get(space, dom)?.rec.current_snapshot.is_some())
}

/// `virDomainSnapshotCurrent`.
pub(crate) fn current(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testDomainSnapshotCurrent")?;
    domain::get(space, dom)?
        .rec
        .current_snapshot
        .ok_or_else(|| {
            error::test(
                ErrorNumber::NO_DOMAIN_SNAPSHOT,
                "the domain does not have a current snapshot",
            )
        })
}

fn get_snapshot(space: &dyn Space, d: &Domain, name: &str) -> Result<SnapshotRecord> {
    space
        .load::<SnapshotRecord>(&kind(&d.uuid), name)?
        .ok_or_else(|| no_snapshot(name))
}

/// `virDomainSnapshotGetParent`.
pub(crate) fn parent(space: &dyn Space, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testDomainSnapshotGetParent")?;
    let d = domain::get(space, dom)?;
    get_snapshot(space, &d, name)?.parent.ok_or_else(|| {
        error::test(
            ErrorNumber::NO_DOMAIN_SNAPSHOT,
            format!("snapshot '{name}' does not have a parent"),
        )
    })
}

/// `virDomainSnapshotGetXMLDesc`.
pub(crate) fn xml(space: &dyn Space, dom: &DomainRef, name: &str, flags: u32) -> Result<String> {
    error::check_flags(
        flags,
        domain_snapshot_xml_flags::SECURE,
        "testDomainSnapshotGetXMLDesc",
    )?;
    let d = domain::get(space, dom)?;
    let rec = get_snapshot(space, &d, name)?;
    let def = SnapshotDef::from_stored(&rec.def)?;
    Ok(def.format(
        &d.uuid,
        rec.parent.as_deref(),
        flags & domain_snapshot_xml_flags::SECURE != 0,
    ))
}

/// `virDomainSnapshotIsCurrent`.
pub(crate) fn is_current(
    space: &dyn Space,
    dom: &DomainRef,
    name: &str,
    flags: u32,
) -> Result<bool> {
    error::check_flags(flags, 0, "testDomainSnapshotIsCurrent")?;
    let d = domain::get(space, dom)?;
    get_snapshot(space, &d, name)?;
    Ok(d.rec.current_snapshot.as_deref() == Some(name))
}

/// `virDomainSnapshotHasMetadata`: always, in the test driver.
pub(crate) fn has_metadata(
    space: &dyn Space,
    dom: &DomainRef,
    name: &str,
    flags: u32,
) -> Result<bool> {
    error::check_flags(flags, 0, "testDomainSnapshotHasMetadata")?;
    let d = domain::get(space, dom)?;
    get_snapshot(space, &d, name)?;
    Ok(true)
}

fn store(space: &dyn Space, d: &Domain, name: &str, rec: &SnapshotRecord) -> Result<()> {
    space.store(&kind(&d.uuid), name, rec)
}

/// `virDomainSnapshotCreateXML`.
pub(crate) fn create_xml(
    space: &dyn Space,
    dom: &DomainRef,
    xml: &str,
    flags: u32,
) -> Result<String> {
    error::check_flags(
        flags,
        create_flags::REDEFINE
            | create_flags::CURRENT
            | create_flags::HALT
            | create_flags::QUIESCE
            | create_flags::ATOMIC
            | create_flags::LIVE
            | create_flags::VALIDATE,
        "testDomainSnapshotCreateXML",
    )?;
    let redefine = flags & create_flags::REDEFINE != 0;
    let update_current = !redefine || flags & create_flags::CURRENT != 0;
    let halt = flags & create_flags::HALT != 0;
    space.begin_job(domain::DOMAINS_JOB)?;
    let mut d = domain::get_for_change(space, dom)?;
    if !d.rec.persistent && halt {
        return Err(error::operation_invalid(
            "cannot halt after transient domain snapshot",
        ));
    }
    let mut snap = SnapshotDef::parse(xml, redefine, flags & create_flags::VALIDATE != 0)?;
    let mut tree = Tree::load(space, &d.uuid)?;
    let name = snap.name().to_string();

    if redefine {
        // virDomainSnapshotRedefinePrep: the parent must exist and not be a descendant.
        let parent = snap.parent().map(str::to_string);
        if let Some(parent) = &parent {
            if parent == &name {
                return Err(snapshot_conf_error(format!(
                    "snapshot '{name}' cannot be its own parent"
                )));
            }
            if !tree.snapshots.contains_key(parent) {
                return Err(snapshot_conf_error(format!(
                    "parent {parent} for snapshot {name} not found"
                )));
            }
            if tree.descendants(Some(&name)).contains(&parent.as_str()) {
                return Err(snapshot_conf_error(format!(
                    "parent {parent} would create cycle to {name}"
                )));
            }
        }
        if let Some(existing) = tree.snapshots.get(&name) {
            if !snap.has_domain() {
                let old = SnapshotDef::from_stored(&existing.def)?;
                snap.take_domain_from(old);
            }
        }
        let rec = SnapshotRecord {
            parent,
            state: snap.state(),
            external: snap.is_external(),
            creation_time: snap.creation_time(),
            def: snap.to_stored(),
        };
        let is_new = !tree.snapshots.contains_key(&name);
        store(space, &d, &name, &rec)?;
        tree.snapshots.insert(name.clone(), rec);
        if is_new {
            d.rec.n_snapshots += 1;
        }
        if update_current {
            d.rec.current_snapshot = Some(name.clone());
        }
        d.write_record(space)?;
        return Ok(name);
    }

    if tree.snapshots.contains_key(&name) {
        return Err(error::domain_conf(
            ErrorNumber::OPERATION_FAILED,
            format!("domain moment {name} already exists"),
        ));
    }
    let defs = d.defs(space)?;
    snap.record_domain(&defs.def, d.rec.state, d.rec.is_active())?;
    let rec = SnapshotRecord {
        parent: d.rec.current_snapshot.clone(),
        state: snap.state(),
        external: snap.is_external(),
        creation_time: snap.creation_time(),
        def: snap.to_stored(),
    };
    store(space, &d, &name, &rec)?;
    d.rec.n_snapshots += 1;
    if update_current {
        d.rec.current_snapshot = Some(name.clone());
    }
    if halt && d.rec.is_active() {
        crate::domain::lifecycle::stop(
            space,
            d,
            domain_shutoff_reason::FROM_SNAPSHOT,
            domain_event_stopped_detail_type::FROM_SNAPSHOT,
        )?;
    } else {
        d.write_record(space)?;
    }
    Ok(name)
}

fn snapshot_conf_error(detail: String) -> virt_core::Error {
    virt_core::Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::DOMAIN_SNAPSHOT,
        detail,
    )
}

/// `virDomainSnapshotDelete`.
pub(crate) fn delete(space: &dyn Space, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        delete_flags::CHILDREN | delete_flags::CHILDREN_ONLY,
        "testDomainSnapshotDelete",
    )?;
    let mut d = domain::get_for_change(space, dom)?;
    let tree = Tree::load(space, &d.uuid)?;
    let rec = tree.get(name)?.clone();
    let kind = kind(&d.uuid);
    let mut removed: BTreeSet<String> = BTreeSet::new();
    if flags & (delete_flags::CHILDREN | delete_flags::CHILDREN_ONLY) != 0 {
        let descendants: Vec<String> = tree
            .descendants(Some(name))
            .into_iter()
            .map(str::to_string)
            .collect();
        let current_removed = descendants
            .iter()
            .any(|n| d.rec.current_snapshot.as_deref() == Some(n.as_str()));
        for descendant in descendants {
            space.delete(&kind, &descendant);
            removed.insert(descendant);
        }
        if current_removed {
            d.rec.current_snapshot = Some(name.to_string());
        }
    } else {
        // Children move up to the deleted snapshot's parent.
        for child in tree.children_of(Some(name)) {
            let mut child_rec = tree.get(child)?.clone();
            child_rec.parent = rec.parent.clone();
            space.store(&kind, child, &child_rec)?;
        }
    }
    if flags & delete_flags::CHILDREN_ONLY == 0 {
        if d.rec.current_snapshot.as_deref() == Some(name) {
            d.rec.current_snapshot = rec
                .parent
                .clone()
                .filter(|parent| tree.snapshots.contains_key(parent));
        }
        space.delete(&kind, name);
        removed.insert(name.to_string());
    }
    d.rec.n_snapshots = d.rec.n_snapshots.saturating_sub(removed.len() as u32);
    d.write_record(space)
}

/// `virDomainRevertToSnapshot`: the domain takes the snapshot's definition and state.
pub(crate) fn revert(space: &dyn Space, dom: &DomainRef, name: &str, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        revert_flags::RUNNING | revert_flags::PAUSED | revert_flags::FORCE,
        "testDomainRevertToSnapshot",
    )?;
    space.begin_job(domain::DOMAINS_JOB)?;
    let mut d = domain::get_for_change(space, dom)?;
    let rec = get_snapshot(space, &d, name)?;
    let snap = SnapshotDef::from_stored(&rec.def)?;
    let snapshot_ran = rec.state == domain_state::RUNNING || rec.state == domain_state::PAUSED;
    if !d.rec.persistent
        && !snapshot_ran
        && flags & (revert_flags::RUNNING | revert_flags::PAUSED) == 0
    {
        return Err(error::operation_invalid(
            "transient domain needs to request run or pause to revert to inactive snapshot",
        ));
    }
    let Some(config) = snap.domain()? else {
        return Err(error::test(
            ErrorNumber::SNAPSHOT_REVERT_RISKY,
            format!(
                "snapshot '{name}' lacks domain '{}' rollback info",
                d.rec.name
            ),
        ));
    };
    let mut defs = d.defs(space)?;
    let stop_running = |d: &mut Domain, defs: &mut domain::Defs| {
        domain::shutdown_state(space, d, defs, domain_shutoff_reason::FROM_SNAPSHOT);
        // A transient domain has no persistent definition to fall back on, but it stops too.
        domain::clear_id(space, d);
        d.emit_lifecycle(
            space,
            domain_event_type::STOPPED,
            domain_event_stopped_detail_type::FROM_SNAPSHOT,
        );
    };
    let start = |d: &mut Domain, defs: &mut domain::Defs| -> Result<()> {
        domain::start_state(space, d, defs, domain_running_reason::FROM_SNAPSHOT)?;
        d.emit_lifecycle(
            space,
            domain_event_type::STARTED,
            domain_event_started_detail_type::FROM_SNAPSHOT,
        );
        Ok(())
    };
    let pause = |d: &mut Domain| {
        d.set_state(domain_state::PAUSED, domain_paused_reason::FROM_SNAPSHOT);
        d.emit_lifecycle(
            space,
            domain_event_type::SUSPENDED,
            domain_event_suspended_detail_type::FROM_SNAPSHOT,
        );
    };
    if snapshot_ran {
        if d.rec.is_active() {
            stop_running(&mut d, &mut defs);
        }
        defs.def = config;
        start(&mut d, &mut defs)?;
        if flags & revert_flags::RUNNING == 0
            && (rec.state == domain_state::PAUSED || flags & revert_flags::PAUSED != 0)
        {
            pause(&mut d);
        }
    } else {
        if d.rec.is_active() {
            stop_running(&mut d, &mut defs);
        }
        defs.def = config;
        // The test driver announces the start it was asked for but leaves the domain shut
        // off (its transitions 2 and 3 only queue the events).
        if flags & (revert_flags::RUNNING | revert_flags::PAUSED) != 0 {
            d.emit_lifecycle(
                space,
                domain_event_type::STARTED,
                domain_event_started_detail_type::FROM_SNAPSHOT,
            );
            if flags & revert_flags::PAUSED != 0 {
                d.emit_lifecycle(
                    space,
                    domain_event_type::SUSPENDED,
                    domain_event_suspended_detail_type::FROM_SNAPSHOT,
                );
            }
        }
    }
    d.rec.current_snapshot = Some(name.to_string());
    d.write_all(space, &defs)
}

/// Adds a `<test:domainsnapshot>` of a node document to `d` (`testParseDomainSnapshots`).
pub(crate) fn load(
    space: &dyn Space,
    d: &mut Domain,
    element: &virt_xml::xml::Node<'_>,
) -> Result<()> {
    let (snap, is_current) = SnapshotDef::from_node_document(element)?;
    let name = snap.name().to_string();
    if space.get(&kind(&d.uuid), &name).is_some() {
        return Err(error::domain_conf(
            ErrorNumber::OPERATION_FAILED,
            format!("domain moment {name} already exists"),
        ));
    }
    if is_current {
        if d.rec.current_snapshot.is_some() {
            return Err(error::internal(
                "more than one snapshot claims to be active",
            ));
        }
        d.rec.current_snapshot = Some(name.clone());
    }
    let rec = SnapshotRecord {
        parent: snap.parent().map(str::to_string),
        state: snap.state(),
        external: snap.is_external(),
        creation_time: snap.creation_time(),
        def: snap.to_stored(),
    };
    store(space, d, &name, &rec)?;
    d.rec.n_snapshots += 1;
    Ok(())
}

/// `virDomainSnapshotUpdateRelations`: every parent named must exist.
pub(crate) fn check_relations(space: &dyn Space, d: &Domain) -> Result<()> {
    let tree = Tree::load(space, &d.uuid)?;
    let broken = tree.snapshots.values().any(|rec| {
        rec.parent
            .as_ref()
            .is_some_and(|parent| !tree.snapshots.contains_key(parent))
    });
    if broken {
        return Err(error::internal(format!(
            "Snapshots have inconsistent relations for domain {}",
            d.rec.name
        )));
    }
    Ok(())
}
