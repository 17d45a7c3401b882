//! Deleting external snapshots: each overlay the snapshot created is committed into the image
//! below it (QMP `block-commit`; an active layer's job is completed so the guest switches to
//! the image below), then the overlay file is removed and every definition that named it
//! (live, persistent, other snapshots') skips it. A running domain commits in its own QEMU;
//! a shut-off one in a helper QEMU without a machine, as libvirt starts its domain paused.

use serde_json::{json, Value};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::types::Error;
use virt_xml::domain::enums::*;
use virt_xml::domain::{BackingStore, Disk, DiskSource, Domain};
use virt_xml::snapshot::{DomainSnapshot, SnapshotDomain};

use crate::domain::{self, Loaded};
use crate::error::qemu_error;
use crate::lifecycle;
use crate::qemu_events::Expectation;
use crate::qmp::{Event, Monitor};
use crate::records::LiveRecord;
use crate::snapshots::Helper;
use crate::space::SpaceLayout;

/// How long committing one overlay may take.
const COMMIT_TIMEOUT_MS: u32 = 600_000;

/// One overlay to remove: the disk target and the overlay's file.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    pub target: String,
    pub file: String,
}

/// The overlays an external snapshot created.
pub fn overlays_of(snapshot_xml: &str) -> Result<Vec<Overlay>, Error> {
    let snapshot = DomainSnapshot::parse(snapshot_xml).map_err(Error::from)?;
    Ok(snapshot
        .disks
        .map(|disks| disks.disks)
        .unwrap_or_default()
        .into_iter()
        .filter(|disk| disk.snapshot == Some(SnapshotLocation::External))
        .filter_map(|disk| {
            Some(Overlay {
                target: disk.name?,
                file: disk.source?.file?,
            })
        })
        .collect())
}

/// The files of a disk's chain, top first.
fn chain_files(disk: &Disk) -> Vec<Option<String>> {
    let mut chain = vec![disk.source.as_ref().and_then(|source| source.file.clone())];
    let mut backing = disk.backing_store.as_ref();
    while let Some(store) = backing {
        if store.source.is_none() {
            break;
        }
        chain.push(store.source.as_ref().and_then(|source| source.file.clone()));
        backing = store.backing_store.as_deref();
    }
    chain
}

/// Where `overlay` sits in the disk's chain (0: the active layer), checking that an image
/// lies below it to commit into.
fn position_in_chain(def: &Domain, overlay: &Overlay) -> Result<usize, Error> {
    let disk = def
        .devices
        .disks
        .iter()
        .find(|disk| disk.target_dev() == Some(overlay.target.as_str()))
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "disk '{}' of the snapshot is gone from the domain",
                    overlay.target
                ),
            )
        })?;
    let chain = chain_files(disk);
    let position = chain
        .iter()
        .position(|file| file.as_deref() == Some(overlay.file.as_str()))
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "could not find image '{}' in the chain of disk '{}'",
                    overlay.file, overlay.target
                ),
            )
        })?;
    if position + 1 >= chain.len() {
        return Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            "failed to find parent disk source in backing chain",
        ));
    }
    Ok(position)
}

fn is_file(source: Option<&DiskSource>, file: &str) -> bool {
    source.and_then(|source| source.file.as_deref()) == Some(file)
}

/// Removes `file` from a disk's chain: the image below takes its place. False when the
/// chain does not hold it (or holds nothing below it).
pub fn drop_layer(disk: &mut Disk, file: &str) -> bool {
    if is_file(disk.source.as_ref(), file) {
        let Some(below) = disk.backing_store.take() else {
            return false;
        };
        disk.source = below.source;
        disk.disk_type = below.storage_type;
        if let Some(format) = below.format.and_then(|format| format.format_type) {
            disk.driver.get_or_insert_with(Default::default).format = Some(format);
        }
        disk.backing_store = below.backing_store.map(|store| *store);
        return true;
    }
    match disk.backing_store.as_mut() {
        Some(store) if is_file(store.source.as_ref(), file) => {
            disk.backing_store = store.backing_store.take().map(|store| *store);
            true
        }
        Some(store) => unlink_below(store, file),
        None => false,
    }
}

fn unlink_below(store: &mut BackingStore, file: &str) -> bool {
    match store.backing_store.as_mut() {
        Some(next) if is_file(next.source.as_ref(), file) => {
            store.backing_store = next.backing_store.take();
            true
        }
        Some(next) => unlink_below(next, file),
        None => false,
    }
}

/// Drops the overlay from the disk it belongs to in `def`; true when `def` changed.
fn drop_from_def(def: &mut Domain, overlay: &Overlay) -> bool {
    def.devices
        .disks
        .iter_mut()
        .filter(|disk| disk.target_dev() == Some(overlay.target.as_str()))
        .any(|disk| drop_layer(disk, &overlay.file))
}

/// Commits `top` into `base` under the root node `device`; an active-layer commit is
/// completed once QEMU says the two are in sync, which moves the guest onto `base`.
fn commit(
    monitor: &mut Monitor,
    device: &str,
    top: &str,
    base: &str,
    active: bool,
) -> Result<(), Error> {
    let job = format!("commit-{}", crate::util::unique_suffix());
    monitor.run(
        "block-commit",
        json!({"job-id": job, "device": device, "top-node": top, "base-node": base,
               "auto-dismiss": false}),
    )?;
    let status_is = |event: &Event, wanted: &[&str]| {
        event.name == "JOB_STATUS_CHANGE"
            && event.data.get("id").and_then(Value::as_str) == Some(job.as_str())
            && event
                .data
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|status| wanted.contains(&status))
    };
    let mut waited = monitor.wait_event(COMMIT_TIMEOUT_MS, |event| {
        status_is(event, &["ready", "concluded"])
    });
    if active
        && waited
            .as_ref()
            .is_ok_and(|event| status_is(event, &["ready"]))
    {
        monitor.run("job-complete", json!({"id": job}))?;
        waited = monitor.wait_event(COMMIT_TIMEOUT_MS, |event| status_is(event, &["concluded"]));
    }
    let jobs = monitor.run("query-jobs", Value::Null)?;
    let failure = crate::qmp::job_state(&jobs, &job).and_then(|(_, error)| error);
    let _ = monitor.execute("job-dismiss", Some(json!({"id": job})));
    if let Some(message) = failure {
        return Err(qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("block commit failed while deleting snapshot: '{message}'"),
        ));
    }
    waited
        .map(|_| ())
        .map_err(|error| error.into_error("block-commit"))
}

/// Deletes the overlays of an external snapshot of a running domain.
pub fn delete_live(
    loaded: &Loaded,
    live: &mut LiveRecord,
    overlays: &[Overlay],
) -> Result<(), Error> {
    let mut def = domain::live_def(live)?;
    let mut plan = Vec::new();
    for overlay in overlays {
        let position = position_in_chain(&def, overlay)?;
        let alias = def
            .devices
            .disks
            .iter()
            .find(|disk| disk.target_dev() == Some(overlay.target.as_str()))
            .and_then(|disk| disk.info.alias_name())
            .unwrap_or("")
            .to_string();
        let nodes = live.nodes_of(&alias);
        if nodes.len() <= position + 1 {
            return Err(qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!("the block nodes of disk '{}' are unknown", overlay.target),
            ));
        }
        plan.push((overlay.clone(), alias, nodes, position));
    }
    lifecycle::with_monitor(loaded, live, Expectation::default(), |monitor, live| {
        for (overlay, alias, nodes, position) in &plan {
            let node = |index: u32| format!("libvirt-{index}-format");
            commit(
                monitor,
                &node(nodes[0]),
                &node(nodes[*position]),
                &node(nodes[position + 1]),
                *position == 0,
            )?;
            let gone = nodes[*position];
            let _ = monitor.execute("blockdev-del", Some(json!({"node-name": node(gone)})));
            let _ = monitor.execute(
                "blockdev-del",
                Some(json!({"node-name": format!("libvirt-{gone}-storage")})),
            );
            if let Some(entry) = live.disk_nodes.iter_mut().find(|(name, _)| name == alias) {
                entry.1.retain(|index| *index != gone);
            }
            drop_from_def(&mut def, overlay);
            live.xml = def.to_xml();
            let _ = files::remove(&overlay.file);
        }
        Ok(())
    })?;
    forget_in_config(loaded, overlays)
}

/// Deletes the overlays of an external snapshot of a shut-off domain, in a helper QEMU.
pub fn delete_offline(loaded: &Loaded, overlays: &[Overlay]) -> Result<(), Error> {
    let xml = loaded.record.config_xml.clone().unwrap_or_default();
    let def = Domain::parse(&xml).map_err(Error::from)?;
    let mut helper = Helper::for_domain(&def)?;
    for (number, overlay) in overlays.iter().enumerate() {
        let position = position_in_chain(&def, overlay)?;
        let disk = def
            .devices
            .disks
            .iter()
            .find(|disk| disk.target_dev() == Some(overlay.target.as_str()))
            .cloned()
            .unwrap_or_default();
        let nodes = open_chain(&mut helper.monitor, &disk, &format!("c{number}"))?;
        commit(
            &mut helper.monitor,
            &nodes[0],
            &nodes[position],
            &nodes[position + 1],
            position == 0,
        )?;
        let _ = files::remove(&overlay.file);
    }
    drop(helper);
    forget_in_config(loaded, overlays)
}

/// Opens every image of a disk's chain in the helper with explicit backing links, bottom
/// first; returns the format nodes, top first.
fn open_chain(monitor: &mut Monitor, disk: &Disk, prefix: &str) -> Result<Vec<String>, Error> {
    let layers = crate::argv::disk::disk_layers(disk);
    let mut nodes = Vec::new();
    let mut below: Option<String> = None;
    for (index, layer) in layers.iter().enumerate().rev() {
        let path = layer.source.path().unwrap_or_default();
        let driver = if layer.storage_type == StorageType::Block {
            "host_device"
        } else {
            "file"
        };
        let storage = format!("{prefix}-{index}-storage");
        let format_node = format!("{prefix}-{index}-format");
        monitor.run(
            "blockdev-add",
            json!({"driver": driver, "filename": path, "node-name": storage}),
        )?;
        let format = layer.format.unwrap_or(StorageFormat::Raw);
        let mut props =
            json!({"driver": format.as_str(), "file": storage, "node-name": format_node});
        if format == StorageFormat::Qcow2 {
            props["backing"] = below.clone().map_or(Value::Null, Value::String);
        }
        monitor.run("blockdev-add", props)?;
        below = Some(format_node.clone());
        nodes.push(format_node);
    }
    nodes.reverse();
    Ok(nodes)
}

/// The persistent definition and the other snapshots' definitions skip the overlays.
fn forget_in_config(loaded: &Loaded, overlays: &[Overlay]) -> Result<(), Error> {
    let layout = SpaceLayout::current()?;
    if let Some(config) = loaded.record.config_xml.clone() {
        let mut def = Domain::parse(&config).map_err(Error::from)?;
        let mut changed = false;
        for overlay in overlays {
            changed |= drop_from_def(&mut def, overlay);
        }
        if changed {
            domain::store_config(loaded, &def, &layout)?;
        }
    }
    crate::snapshots::rewrite_each(loaded, |snapshot| {
        let Some(SnapshotDomain::Full(def)) = snapshot.domain.as_mut() else {
            return false;
        };
        let mut changed = false;
        for overlay in overlays {
            changed |= drop_from_def(def, overlay);
        }
        changed
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use virt_xml::xml::XmlElement as _;

    fn disk(xml: &str) -> Disk {
        let doc = virt_xml::xml::parse_document(xml, "disk", virt_core::ErrorDomain::DOMAIN)
            .expect("parse");
        Disk::from_node(&doc.root).expect("disk")
    }

    const CHAIN: &str = "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>        <source file='/i/top.qcow2'/>        <backingStore type='file'><format type='qcow2'/><source file='/i/mid.qcow2'/>        <backingStore type='file'><format type='raw'/><source file='/i/base.raw'/></backingStore>        </backingStore><target dev='vda' bus='virtio'/></disk>";

    fn files_of(disk: &Disk) -> Vec<String> {
        chain_files(disk).into_iter().flatten().collect()
    }

    #[test]
    fn dropping_the_active_layer_promotes_the_image_below() {
        let mut chain = disk(CHAIN);
        assert!(drop_layer(&mut chain, "/i/top.qcow2"));
        assert_eq!(files_of(&chain), ["/i/mid.qcow2", "/i/base.raw"]);
        assert_eq!(
            chain.driver.as_ref().and_then(|driver| driver.format),
            Some(StorageFormat::Qcow2)
        );
        assert!(drop_layer(&mut chain, "/i/mid.qcow2"));
        assert_eq!(files_of(&chain), ["/i/base.raw"]);
        assert_eq!(
            chain.driver.as_ref().and_then(|driver| driver.format),
            Some(StorageFormat::Raw)
        );
        assert!(
            !drop_layer(&mut chain, "/i/base.raw"),
            "nothing below the base"
        );
    }

    #[test]
    fn dropping_a_middle_layer_relinks_the_chain() {
        let mut chain = disk(CHAIN);
        assert!(drop_layer(&mut chain, "/i/mid.qcow2"));
        assert_eq!(files_of(&chain), ["/i/top.qcow2", "/i/base.raw"]);
        assert!(!drop_layer(&mut chain, "/i/absent.qcow2"));
    }

    #[test]
    fn overlays_come_from_the_snapshot_disks() {
        let xml = "<domainsnapshot><name>s</name><memory snapshot='no'/><disks>            <disk name='vda' snapshot='external' type='file'><source file='/i/vda.s'/></disk>            <disk name='vdb' snapshot='no'/></disks></domainsnapshot>";
        assert_eq!(
            overlays_of(xml).expect("overlays"),
            [Overlay {
                target: "vda".into(),
                file: "/i/vda.s".into()
            }]
        );
    }
}
