//! Domain snapshots.
//!
//! Internal snapshots (the default for a running domain with qcow2 disks) keep the disks'
//! state and the VM state inside the qcow2 images (QMP `snapshot-save`, `snapshot-load`,
//! `snapshot-delete` jobs); a shut-off domain's disks are snapshotted by a short-lived helper
//! QEMU (`-machine none`) since the plugin may start nothing but QEMU. External disk-only
//! snapshots put a new qcow2 overlay on each disk of a running domain (`blockdev-create` +
//! `blockdev-snapshot`) and update the definition. Metadata lives in records
//! (`snapshot/<uuid>/<name>`) and in libvirt's files under the driver's lib dir.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use virt_core::consts::{
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_paused_reason as paused_reason, domain_running_reason as running_reason,
    domain_shutoff_reason as shutoff_reason, domain_snapshot_create_flags as create_flags,
    domain_snapshot_delete_flags as delete_flags, domain_snapshot_list_flags as list_flags,
    domain_snapshot_revert_flags as revert_flags, domain_state as state,
};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::{files, jobs, process, state as host_state};
use virt_plugin_sdk::types::{DomainRef, Error};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Disk, Domain};
use virt_xml::snapshot::{
    DomainSnapshot, ParentName, SnapshotDisk, SnapshotDisks, SnapshotDomain, SnapshotMemory,
    SnapshotState,
};

use crate::argv::disk as disk_argv;
use crate::domain::{self, Loaded};
use crate::error::{check_flags, invalid_operation, qemu_error, unsupported_config};
use crate::lifecycle::{self, job_name, StartKind};
use crate::qemu_events::Expectation;
use crate::qmp::{self, Monitor};
use crate::records::{self, LiveRecord, PendingStop};
use crate::space::SpaceLayout;

/// How long a snapshot job may take.
const SNAPSHOT_JOB_TIMEOUT_MS: u32 = 600_000;

/// One snapshot's metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotRecord {
    pub name: String,
    /// The snapshot document (with the domain definition at the time).
    pub xml: String,
    pub parent: Option<String>,
    pub creation_time: i64,
    /// Internal (state inside the qcow2 images) or external (overlays).
    pub internal: bool,
}

fn key(uuid: &str, name: &str) -> String {
    format!("{uuid}/{name}")
}

fn all_of(uuid: &str) -> Vec<SnapshotRecord> {
    let prefix = format!("{uuid}/");
    let mut list: Vec<SnapshotRecord> = records::list_json::<SnapshotRecord>(records::SNAPSHOT)
        .into_iter()
        .filter(|(key, _)| key.starts_with(&prefix))
        .map(|(_, record)| record)
        .collect();
    list.sort_by(|a, b| {
        a.creation_time
            .cmp(&b.creation_time)
            .then_with(|| a.name.cmp(&b.name))
    });
    list
}

/// How many snapshots a domain has.
pub fn count(uuid: &str) -> usize {
    all_of(uuid).len()
}

fn get(uuid: &str, name: &str) -> Result<SnapshotRecord, Error> {
    records::get_json(records::SNAPSHOT, &key(uuid, name)).ok_or_else(|| {
        virt_plugin_sdk::error(
            ErrorNumber::NO_DOMAIN_SNAPSHOT,
            virt_core::ErrorDomain::DOMAIN_SNAPSHOT,
            format!("no domain snapshot with matching name '{name}'"),
        )
    })
}

fn put(uuid: &str, domain_name: &str, snapshot: &SnapshotRecord) {
    records::put_json(records::SNAPSHOT, &key(uuid, &snapshot.name), snapshot);
    if let Ok(layout) = SpaceLayout::current() {
        let dir = layout.snapshot_dir(domain_name);
        let _ = files::write(
            &format!("{dir}/{}.xml", snapshot.name),
            snapshot.xml.as_bytes(),
        );
    }
}

fn remove(uuid: &str, domain_name: &str, name: &str) {
    host_state::delete(records::SNAPSHOT, &key(uuid, name));
    if let Ok(layout) = SpaceLayout::current() {
        let _ = files::remove(&format!("{}/{name}.xml", layout.snapshot_dir(domain_name)));
    }
}

/// Rewrites the snapshots of a domain that `change` changes (records and files).
pub(crate) fn rewrite_each(loaded: &Loaded, change: impl Fn(&mut DomainSnapshot) -> bool) {
    for mut record in all_of(loaded.uuid()) {
        let Ok(mut parsed) = DomainSnapshot::parse(&record.xml) else {
            continue;
        };
        if change(&mut parsed) {
            record.xml = parsed.to_xml();
            put(loaded.uuid(), &loaded.record.name, &record);
        }
    }
}

/// Forgets every snapshot of an undefined domain (the images keep their internal snapshots).
pub fn delete_all_metadata(uuid: &str, domain_name: &str, _layout: &SpaceLayout) {
    for snapshot in all_of(uuid) {
        remove(uuid, domain_name, &snapshot.name);
    }
}

fn set_current(domain: &Loaded, name: Option<String>) {
    if let Some(mut record) =
        records::get_json::<records::DomainRecord>(records::DOMAIN, domain.uuid())
    {
        record.current_snapshot = name;
        records::put_json(records::DOMAIN, domain.uuid(), &record);
    }
}

/// The writable qcow2 disks of a definition with their top format node names.
fn qcow2_disks<'a>(
    def: &'a Domain,
    live: Option<&LiveRecord>,
) -> Result<Vec<(&'a Disk, String)>, Error> {
    let mut out = Vec::new();
    let numbering = disk_argv::number_nodes(def);
    for (index, disk) in def.devices.disks.iter().enumerate() {
        if disk.readonly || disk_argv::disk_layers(disk).is_empty() {
            continue;
        }
        if disk.snapshot == Some(SnapshotLocation::No) {
            continue;
        }
        let format = disk
            .driver
            .as_ref()
            .and_then(|driver| driver.format)
            .unwrap_or(StorageFormat::Raw);
        if format != StorageFormat::Qcow2 {
            return Err(unsupported_config(format!(
                "internal snapshot for disk {} unsupported for storage type {}",
                disk.target_dev().unwrap_or(""),
                format.as_str()
            )));
        }
        let alias = disk.info.alias_name().unwrap_or("");
        let nodes = live
            .and_then(|live| {
                live.disk_nodes
                    .iter()
                    .find(|(name, _)| name == alias)
                    .map(|(_, nodes)| nodes.clone())
            })
            .unwrap_or_else(|| numbering[index].clone());
        let top = disk_argv::top_node(&nodes).unwrap_or_default();
        out.push((disk, top));
    }
    if out.is_empty() {
        return Err(invalid_operation(
            "internal snapshots need at least one writable qcow2 disk",
        ));
    }
    Ok(out)
}

/// `virDomainSnapshotCreateXML`.
pub fn create(dom: &DomainRef, xml: &str, flags: u32) -> Result<String, Error> {
    check_flags(
        "qemuDomainSnapshotCreateXML",
        flags,
        create_flags::REDEFINE
            | create_flags::CURRENT
            | create_flags::NO_METADATA
            | create_flags::HALT
            | create_flags::DISK_ONLY
            | create_flags::ATOMIC
            | create_flags::LIVE
            | create_flags::VALIDATE,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let mut snapshot = DomainSnapshot::parse(xml).map_err(Error::from)?;
    let now = (crate::util::now_ms() / 1000) as i64;
    if flags & create_flags::REDEFINE != 0 {
        let name = snapshot.name.clone().ok_or_else(|| {
            qemu_error(
                ErrorNumber::INVALID_ARG,
                "a redefined snapshot needs a name",
            )
        })?;
        let record = SnapshotRecord {
            name: name.clone(),
            parent: snapshot
                .parent
                .as_ref()
                .and_then(|parent| parent.name.clone()),
            creation_time: snapshot.creation_time.unwrap_or(now),
            internal: snapshot.memory.as_ref().and_then(|memory| memory.snapshot)
                != Some(SnapshotLocation::External),
            xml: snapshot.to_xml(),
        };
        put(&uuid, &loaded.record.name, &record);
        if flags & create_flags::CURRENT != 0 {
            set_current(&loaded, Some(name.clone()));
        }
        return Ok(name);
    }
    let name = snapshot.name.clone().unwrap_or_else(|| now.to_string());
    if get(&uuid, &name).is_ok() {
        return Err(virt_plugin_sdk::error(
            ErrorNumber::INVALID_DOMAIN_SNAPSHOT,
            virt_core::ErrorDomain::DOMAIN_SNAPSHOT,
            format!("domain snapshot '{name}' already exists"),
        ));
    }
    let disk_only = flags & create_flags::DISK_ONLY != 0
        || snapshot.memory.as_ref().and_then(|memory| memory.snapshot)
            == Some(SnapshotLocation::No)
            && snapshot.disks.as_ref().is_some_and(|disks| {
                disks
                    .disks
                    .iter()
                    .any(|disk| disk.snapshot == Some(SnapshotLocation::External))
            });
    let parent = loaded.record.current_snapshot.clone();
    let (state_name, def_xml, internal) = if disk_only && !loaded.is_active() {
        let (disks, def) = create_external_offline(&loaded, &snapshot, &name)?;
        snapshot.disks = Some(SnapshotDisks { disks });
        snapshot.memory = Some(SnapshotMemory {
            snapshot: Some(SnapshotLocation::No),
            file: None,
        });
        (SnapshotState::Shutoff, def.to_xml(), false)
    } else if disk_only {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let disks = create_external(&loaded, &mut live, &snapshot, &name)?;
        snapshot.disks = Some(SnapshotDisks { disks });
        snapshot.memory = Some(SnapshotMemory {
            snapshot: Some(SnapshotLocation::No),
            file: None,
        });
        (SnapshotState::DiskSnapshot, live.xml.clone(), false)
    } else if loaded.is_active() {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let was = live.state;
        create_internal_live(&loaded, &mut live, &name, flags & create_flags::HALT != 0)?;
        let state_name = if was == state::PAUSED {
            SnapshotState::Paused
        } else {
            SnapshotState::Running
        };
        (state_name, live.xml.clone(), true)
    } else {
        create_internal_offline(&loaded, &name)?;
        (
            SnapshotState::Shutoff,
            loaded.record.config_xml.clone().unwrap_or_default(),
            true,
        )
    };
    let def = Domain::parse(&def_xml).map_err(Error::from)?;
    let mut inactive = def.clone();
    inactive.id = None;
    crate::argv::prepare::strip_generated_aliases(&mut inactive);
    snapshot.name = Some(name.clone());
    snapshot.state = Some(state_name);
    snapshot.creation_time = Some(now);
    snapshot.parent = parent.clone().map(|name| ParentName { name: Some(name) });
    if internal {
        let memory = if state_name == SnapshotState::Shutoff {
            SnapshotLocation::No
        } else {
            SnapshotLocation::Internal
        };
        snapshot.memory = Some(SnapshotMemory {
            snapshot: Some(memory),
            file: None,
        });
        snapshot.disks = Some(SnapshotDisks {
            disks: def
                .devices
                .disks
                .iter()
                .filter_map(|disk| disk.target_dev())
                .map(|target| SnapshotDisk {
                    name: Some(target.to_string()),
                    snapshot: Some(SnapshotLocation::Internal),
                    ..Default::default()
                })
                .collect(),
        });
    }
    snapshot.domain = Some(SnapshotDomain::Full(Box::new(inactive)));
    let record = SnapshotRecord {
        name: name.clone(),
        xml: snapshot.to_xml(),
        parent,
        creation_time: now,
        internal,
    };
    if flags & create_flags::NO_METADATA == 0 {
        put(&uuid, &loaded.record.name, &record);
        set_current(&loaded, Some(name.clone()));
    }
    Ok(name)
}

fn create_internal_live(
    loaded: &Loaded,
    live: &mut LiveRecord,
    name: &str,
    halt: bool,
) -> Result<(), Error> {
    let def = domain::live_def(live)?;
    let disks: Vec<String> = qcow2_disks(&def, Some(live))?
        .into_iter()
        .map(|(_, node)| node)
        .collect();
    let was_running = live.state == state::RUNNING;
    let expect = Expectation {
        paused_reason: Some(paused_reason::SNAPSHOT),
        running_reason: Some(running_reason::UNPAUSED),
    };
    lifecycle::with_monitor(loaded, live, expect, |monitor, live| {
        if was_running {
            monitor.run("stop", Value::Null)?;
            lifecycle::ensure_event(monitor, "STOP");
        }
        let job = format!("snapshot-{}", crate::util::unique_suffix());
        let saved = qmp::run_job(
            monitor,
            "snapshot-save",
            json!({"tag": name, "vmstate": disks[0], "devices": disks}),
            &job,
            SNAPSHOT_JOB_TIMEOUT_MS,
        );
        if was_running && !halt {
            monitor.run("cont", Value::Null)?;
            lifecycle::ensure_event(monitor, "RESUME");
        }
        let _ = live;
        saved
    })?;
    if halt {
        lifecycle::kill_qemu(loaded, live, PendingStop::FromSnapshot, false)?;
        lifecycle::finalize_stop(
            loaded,
            live,
            shutoff_reason::FROM_SNAPSHOT,
            stopped_detail::FROM_SNAPSHOT,
        );
    }
    Ok(())
}

/// A QEMU with no machine, for working on a shut-off domain's images.
pub(crate) struct Helper {
    process: process::ProcessHandle,
    pub(crate) monitor: Monitor,
    socket: String,
}

impl Helper {
    /// A helper running the domain's emulator.
    pub(crate) fn for_domain(def: &Domain) -> Result<Helper, Error> {
        Helper::start(
            def.devices
                .emulator
                .as_deref()
                .unwrap_or("/usr/bin/qemu-system-x86_64"),
        )
    }

    fn start(emulator: &str) -> Result<Helper, Error> {
        let layout = SpaceLayout::current()?;
        let socket = format!(
            "{}/helper-{}.sock",
            layout.run_dir,
            crate::util::unique_suffix()
        );
        let request = process::SpawnRequest {
            program: emulator.to_string(),
            args: [
                "-S",
                "-no-user-config",
                "-nodefaults",
                "-nographic",
                "-machine",
                "none,accel=tcg",
                "-qmp",
            ]
            .iter()
            .map(|arg| arg.to_string())
            .chain([format!("unix:{socket},server=on,wait=off")])
            .collect(),
            env: vec![("LC_ALL".into(), "C".into())],
            cwd: Some("/".into()),
            stdout: process::Output::Discard,
            stderr: process::Output::Discard,
            pass_fds: Vec::new(),
        };
        let handle = process::spawn(&request)?;
        let deadline = crate::util::now_ms() + 10_000;
        loop {
            match Monitor::connect(&socket, 50, 10_000) {
                Ok((monitor, _)) => {
                    return Ok(Helper {
                        process: handle,
                        monitor,
                        socket,
                    })
                }
                Err(_)
                    if crate::util::now_ms() < deadline
                        && process::status(handle).map(|s| s.running).unwrap_or(false) => {}
                Err(error) => {
                    let _ = process::kill(handle, 9);
                    let _ = process::wait(handle, 2_000);
                    process::release(handle);
                    return Err(error.into_error("qmp_capabilities"));
                }
            }
        }
    }

    /// Opens a disk's top image as node `node`.
    fn open_disk(&mut self, disk: &Disk, node: &str) -> Result<(), Error> {
        let path = disk
            .source
            .as_ref()
            .and_then(|source| source.file.clone().or_else(|| source.dev.clone()))
            .unwrap_or_default();
        let driver = if disk.actual_type() == StorageType::Block {
            "host_device"
        } else {
            "file"
        };
        self.monitor.run(
            "blockdev-add",
            json!({"driver": driver, "filename": path, "node-name": format!("{node}-file")}),
        )?;
        self.monitor.run(
            "blockdev-add",
            json!({"driver": "qcow2", "file": format!("{node}-file"), "node-name": node}),
        )?;
        Ok(())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.monitor.execute("quit", None);
        let _ = process::wait(self.process, 2_000);
        if process::status(self.process)
            .map(|status| status.running)
            .unwrap_or(false)
        {
            let _ = process::kill(self.process, 9);
            let _ = process::wait(self.process, 2_000);
        }
        process::release(self.process);
        virt_plugin_sdk::host::stream::close(self.monitor.handle());
        let _ = files::remove(&self.socket);
    }
}

fn create_internal_offline(loaded: &Loaded, name: &str) -> Result<(), Error> {
    let xml = loaded.record.config_xml.clone().unwrap_or_default();
    let def = Domain::parse(&xml).map_err(Error::from)?;
    let disks = qcow2_disks(&def, None)?;
    let mut helper = Helper::for_domain(&def)?;
    for (index, (disk, _)) in disks.iter().enumerate() {
        let node = format!("snap{index}");
        helper.open_disk(disk, &node)?;
        helper.monitor.run(
            "blockdev-snapshot-internal-sync",
            json!({"device": node, "name": name}),
        )?;
    }
    Ok(())
}

fn delete_internal_offline(def: &Domain, name: &str) -> Result<(), Error> {
    let disks = qcow2_disks(def, None)?;
    let mut helper = Helper::for_domain(def)?;
    for (index, (disk, _)) in disks.iter().enumerate() {
        let node = format!("snap{index}");
        helper.open_disk(disk, &node)?;
        let _ = helper.monitor.execute(
            "blockdev-snapshot-delete-internal-sync",
            Some(json!({"device": node, "name": name})),
        );
    }
    Ok(())
}

/// One overlay an external snapshot puts on a disk.
struct PlannedOverlay {
    /// The disk's index in the definition.
    index: usize,
    target: String,
    /// The image the overlay goes on (its backing file).
    current: String,
    overlay: String,
}

/// The disks an external snapshot covers and their overlays' files (`<file>.<name>` unless
/// the snapshot names one), refusing what libvirt refuses.
fn plan_external(
    def: &Domain,
    snapshot: &DomainSnapshot,
    name: &str,
) -> Result<Vec<PlannedOverlay>, Error> {
    let requested = snapshot
        .disks
        .as_ref()
        .map(|disks| disks.disks.clone())
        .unwrap_or_default();
    let mut plan = Vec::new();
    for (index, disk) in def.devices.disks.iter().enumerate() {
        let target = disk.target_dev().unwrap_or("").to_string();
        let request = requested
            .iter()
            .find(|requested| requested.name.as_deref() == Some(target.as_str()));
        let location = request
            .and_then(|request| request.snapshot)
            .unwrap_or(if disk.readonly {
                SnapshotLocation::No
            } else {
                SnapshotLocation::External
            });
        if location == SnapshotLocation::No || disk_argv::disk_layers(disk).is_empty() {
            continue;
        }
        if location != SnapshotLocation::External {
            return Err(unsupported_config(
                "a disk-only snapshot can only be external",
            ));
        }
        let current = disk
            .source
            .as_ref()
            .and_then(|source| source.file.clone())
            .ok_or_else(|| {
                unsupported_config(format!(
                    "external snapshot of disk {target} needs a file-backed disk"
                ))
            })?;
        let overlay = request
            .and_then(|request| request.source.as_ref())
            .and_then(|source| source.file.clone())
            .unwrap_or_else(|| match current.rsplit_once('.') {
                Some((stem, _)) if !stem.contains('/') || stem.rsplit_once('/').is_some() => {
                    format!("{stem}.{name}")
                }
                _ => format!("{current}.{name}"),
            });
        if files::stat(&overlay)?.is_some() {
            return Err(invalid_operation(format!("external snapshot file for disk {target} already exists and is not a block device: {overlay}")));
        }
        plan.push(PlannedOverlay {
            index,
            target,
            current,
            overlay,
        });
    }
    if plan.is_empty() {
        return Err(invalid_operation("nothing selected for snapshot"));
    }
    Ok(plan)
}

/// The disk now writes to `overlay`, with its former image as backing store.
fn point_at_overlay(disk: &mut Disk, overlay: &str, format: StorageFormat) {
    let old_source = disk.source.clone();
    let old_type = disk.disk_type;
    let old_backing = disk.backing_store.take();
    disk.backing_store = Some(virt_xml::domain::BackingStore {
        storage_type: old_type.or(Some(StorageType::File)),
        index: None,
        format: Some(virt_xml::domain::disk::StorageFormatElement {
            format_type: Some(format),
            metadata_cache: None,
        }),
        source: old_source,
        backing_store: old_backing.map(Box::new),
    });
    disk.source = Some(virt_xml::domain::DiskSource {
        file: Some(overlay.to_string()),
        ..Default::default()
    });
    disk.disk_type = Some(StorageType::File);
    disk.driver.get_or_insert_with(Default::default).format = Some(StorageFormat::Qcow2);
}

/// The snapshot's `<disk>` for an overlay.
fn external_snapshot_disk(target: &str, overlay: &str) -> SnapshotDisk {
    SnapshotDisk {
        name: Some(target.to_string()),
        snapshot: Some(SnapshotLocation::External),
        storage_type: Some(StorageType::File),
        driver: Some(virt_xml::snapshot::SnapshotDiskDriver {
            format: Some("qcow2".into()),
            metadata_cache: None,
        }),
        source: Some(virt_xml::domain::DiskSource {
            file: Some(overlay.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn disk_format(disk: &Disk) -> StorageFormat {
    disk.driver
        .as_ref()
        .and_then(|driver| driver.format)
        .unwrap_or(StorageFormat::Raw)
}

/// Creates a qcow2 overlay file backed by `current` (of `format`, `size` bytes) through
/// `monitor`'s QEMU, which is left with the overlay's file node `storage` open.
fn create_overlay_image(
    monitor: &mut Monitor,
    overlay: &str,
    storage: &str,
    current: &str,
    format: StorageFormat,
    size: u64,
) -> Result<(), Error> {
    let suffix = crate::util::unique_suffix();
    qmp::run_job(
        monitor,
        "blockdev-create",
        json!({"options": {"driver": "file", "filename": overlay, "size": 0}}),
        &format!("ovl-file-{suffix}"),
        60_000,
    )?;
    monitor.run("blockdev-add", json!({"driver": "file", "filename": overlay, "node-name": storage, "auto-read-only": true, "discard": "unmap"}))?;
    qmp::run_job(
        monitor,
        "blockdev-create",
        json!({"options": {"driver": "qcow2", "file": storage, "size": size, "backing-file": current, "backing-fmt": format.as_str()}}),
        &format!("ovl-{suffix}"),
        60_000,
    )
}

/// The virtual size of an open block node.
fn node_size(monitor: &mut Monitor, node: &str) -> Result<u64, Error> {
    Ok(monitor
        .run("query-named-block-nodes", json!({"flat": true}))?
        .as_array()
        .and_then(|nodes| {
            nodes
                .iter()
                .find(|entry| entry.get("node-name").and_then(Value::as_str) == Some(node))
                .cloned()
        })
        .and_then(|entry| {
            entry
                .get("image")
                .and_then(|image| image.get("virtual-size"))
                .and_then(Value::as_u64)
        })
        .unwrap_or(0))
}

/// Puts a qcow2 overlay on each disk the snapshot covers and switches the guest to it.
fn create_external(
    loaded: &Loaded,
    live: &mut LiveRecord,
    snapshot: &DomainSnapshot,
    name: &str,
) -> Result<Vec<SnapshotDisk>, Error> {
    let mut def = domain::live_def(live)?;
    let plan = plan_external(&def, snapshot, name)?;
    let mut disks = Vec::new();
    lifecycle::with_monitor(loaded, live, Expectation::default(), |monitor, live| {
        for PlannedOverlay {
            index,
            target,
            current,
            overlay,
        } in &plan
        {
            let alias = def.devices.disks[*index]
                .info
                .alias_name()
                .unwrap_or("")
                .to_string();
            let old_top = disk_argv::top_node(&live.nodes_of(&alias)).unwrap_or_default();
            let format = disk_format(&def.devices.disks[*index]);
            let number = live.next_node_index;
            let storage = format!("libvirt-{number}-storage");
            let top = format!("libvirt-{number}-format");
            let size = node_size(monitor, &old_top)?;
            create_overlay_image(monitor, overlay, &storage, current, format, size)?;
            monitor.run("blockdev-add", json!({"node-name": top, "read-only": false, "driver": "qcow2", "file": storage, "backing": Value::Null}))?;
            monitor.run(
                "blockdev-snapshot",
                json!({"node": old_top, "overlay": top}),
            )?;
            live.next_node_index += 1;
            if let Some(entry) = live.disk_nodes.iter_mut().find(|(name, _)| *name == alias) {
                entry.1.insert(0, number);
            }
            point_at_overlay(&mut def.devices.disks[*index], overlay, format);
            disks.push(external_snapshot_disk(target, overlay));
        }
        live.xml = def.to_xml();
        Ok(())
    })?;
    // The persistent definition follows the overlays, as libvirt's does.
    if let Some(config) = loaded.record.config_xml.clone() {
        let mut config_def = Domain::parse(&config).map_err(Error::from)?;
        for planned in &plan {
            if let Some(disk) = config_def
                .devices
                .disks
                .iter_mut()
                .find(|disk| disk.target_dev() == Some(planned.target.as_str()))
            {
                *disk = def.devices.disks[planned.index].clone();
                disk.info.alias = None;
            }
        }
        domain::store_config(loaded, &config_def, &SpaceLayout::current()?)?;
    }
    Ok(disks)
}

/// Puts a qcow2 overlay on each disk of a shut-off domain (created by a helper QEMU, as
/// libvirt has qemu-img create them) and points the persistent definition at them.
fn create_external_offline(
    loaded: &Loaded,
    snapshot: &DomainSnapshot,
    name: &str,
) -> Result<(Vec<SnapshotDisk>, Domain), Error> {
    let xml = loaded.record.config_xml.clone().unwrap_or_default();
    let mut def = Domain::parse(&xml).map_err(Error::from)?;
    let plan = plan_external(&def, snapshot, name)?;
    let mut helper = Helper::for_domain(&def)?;
    let mut created: Vec<String> = Vec::new();
    let result = (|| {
        let mut disks = Vec::new();
        for (number, planned) in plan.iter().enumerate() {
            let format = disk_format(&def.devices.disks[planned.index]);
            let base = format!("base{number}");
            helper.monitor.run(
                "blockdev-add",
                json!({"driver": "file", "filename": planned.current,
                       "node-name": format!("{base}-file"), "read-only": true}),
            )?;
            let mut props = json!({"driver": format.as_str(), "file": format!("{base}-file"),
                                   "node-name": base, "read-only": true});
            if format == StorageFormat::Qcow2 {
                // Only the size matters; the image's own backing chain stays closed.
                props["backing"] = Value::Null;
            }
            helper.monitor.run("blockdev-add", props)?;
            let size = node_size(&mut helper.monitor, &base)?;
            created.push(planned.overlay.clone());
            create_overlay_image(
                &mut helper.monitor,
                &planned.overlay,
                &format!("overlay{number}"),
                &planned.current,
                format,
                size,
            )?;
            point_at_overlay(
                &mut def.devices.disks[planned.index],
                &planned.overlay,
                format,
            );
            disks.push(external_snapshot_disk(&planned.target, &planned.overlay));
        }
        Ok::<_, Error>(disks)
    })();
    drop(helper);
    let disks = match result {
        Ok(disks) => disks,
        Err(error) => {
            for overlay in &created {
                let _ = files::remove(overlay);
            }
            return Err(error);
        }
    };
    domain::store_config(loaded, &def, &SpaceLayout::current()?)?;
    Ok((disks, def))
}

/// `virDomainListAllSnapshots` names.
pub fn list(dom: &DomainRef, flags: u32) -> Result<Vec<String>, Error> {
    let loaded = domain::get(dom)?;
    let snapshots = all_of(loaded.uuid());
    Ok(filter(&snapshots, None, flags)
        .into_iter()
        .map(|snapshot| snapshot.name.clone())
        .collect())
}

/// `virDomainSnapshotListAllChildren` names.
pub fn list_children(dom: &DomainRef, name: &str, flags: u32) -> Result<Vec<String>, Error> {
    let loaded = domain::get(dom)?;
    get(loaded.uuid(), name)?;
    let snapshots = all_of(loaded.uuid());
    Ok(filter(&snapshots, Some(name), flags)
        .into_iter()
        .map(|snapshot| snapshot.name.clone())
        .collect())
}

fn descendants<'a>(
    snapshots: &'a [SnapshotRecord],
    parent: &str,
    out: &mut Vec<&'a SnapshotRecord>,
) {
    for child in snapshots
        .iter()
        .filter(|snapshot| snapshot.parent.as_deref() == Some(parent))
    {
        out.push(child);
        descendants(snapshots, &child.name, out);
    }
}

fn filter<'a>(
    snapshots: &'a [SnapshotRecord],
    parent: Option<&str>,
    flags: u32,
) -> Vec<&'a SnapshotRecord> {
    let mut chosen: Vec<&SnapshotRecord> = match parent {
        Some(parent) if flags & list_flags::DESCENDANTS != 0 => {
            let mut out = Vec::new();
            descendants(snapshots, parent, &mut out);
            out
        }
        Some(parent) => snapshots
            .iter()
            .filter(|snapshot| snapshot.parent.as_deref() == Some(parent))
            .collect(),
        None if flags & list_flags::ROOTS != 0 => snapshots
            .iter()
            .filter(|snapshot| snapshot.parent.is_none())
            .collect(),
        None => snapshots.iter().collect(),
    };
    let has_children = |name: &str| {
        snapshots
            .iter()
            .any(|snapshot| snapshot.parent.as_deref() == Some(name))
    };
    if flags & list_flags::LEAVES != 0 {
        chosen.retain(|snapshot| !has_children(&snapshot.name));
    }
    if flags & list_flags::NO_LEAVES != 0 {
        chosen.retain(|snapshot| has_children(&snapshot.name));
    }
    if flags & list_flags::NO_METADATA != 0 {
        chosen.clear();
    }
    if flags & (list_flags::INTERNAL | list_flags::EXTERNAL) != 0 {
        chosen.retain(|snapshot| {
            (snapshot.internal && flags & list_flags::INTERNAL != 0)
                || (!snapshot.internal && flags & list_flags::EXTERNAL != 0)
        });
    }
    let state_of = |snapshot: &SnapshotRecord| {
        DomainSnapshot::parse(&snapshot.xml)
            .ok()
            .and_then(|parsed| parsed.state)
    };
    if flags & (list_flags::ACTIVE | list_flags::INACTIVE | list_flags::DISK_ONLY) != 0 {
        chosen.retain(|snapshot| match state_of(snapshot) {
            Some(SnapshotState::DiskSnapshot) => flags & list_flags::DISK_ONLY != 0,
            Some(SnapshotState::Shutoff) => flags & list_flags::INACTIVE != 0,
            _ => flags & list_flags::ACTIVE != 0,
        });
    }
    chosen
}

/// `virDomainSnapshotLookupByName`.
pub fn lookup(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let loaded = domain::get(dom)?;
    get(loaded.uuid(), name).map(|snapshot| snapshot.name)
}

/// `virDomainSnapshotCurrent`.
pub fn current(dom: &DomainRef) -> Result<String, Error> {
    let loaded = domain::get(dom)?;
    loaded.record.current_snapshot.clone().ok_or_else(|| {
        virt_plugin_sdk::error(
            ErrorNumber::NO_DOMAIN_SNAPSHOT,
            virt_core::ErrorDomain::DOMAIN_SNAPSHOT,
            "the domain does not have a current snapshot",
        )
    })
}

pub fn has_current(dom: &DomainRef) -> Result<bool, Error> {
    Ok(domain::get(dom)?.record.current_snapshot.is_some())
}

pub fn parent(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let loaded = domain::get(dom)?;
    get(loaded.uuid(), name)?.parent.ok_or_else(|| {
        virt_plugin_sdk::error(
            ErrorNumber::NO_DOMAIN_SNAPSHOT,
            virt_core::ErrorDomain::DOMAIN_SNAPSHOT,
            format!("snapshot '{name}' does not have a parent"),
        )
    })
}

pub fn xml(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let loaded = domain::get(dom)?;
    Ok(get(loaded.uuid(), name)?.xml)
}

pub fn is_current(dom: &DomainRef, name: &str) -> Result<bool, Error> {
    let loaded = domain::get(dom)?;
    get(loaded.uuid(), name)?;
    Ok(loaded.record.current_snapshot.as_deref() == Some(name))
}

pub fn has_metadata(dom: &DomainRef, name: &str) -> Result<bool, Error> {
    let loaded = domain::get(dom)?;
    get(loaded.uuid(), name).map(|_| true)
}

/// `virDomainRevertToSnapshot` (internal snapshots).
pub fn revert(dom: &DomainRef, name: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainRevertToSnapshot",
        flags,
        revert_flags::RUNNING | revert_flags::PAUSED | revert_flags::FORCE,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let snapshot = get(&uuid, name)?;
    let parsed = DomainSnapshot::parse(&snapshot.xml).map_err(Error::from)?;
    if !snapshot.internal {
        return Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "revert to external snapshot not supported yet",
        ));
    }
    let snapshot_state = parsed.state.unwrap_or(SnapshotState::Running);
    if snapshot_state == SnapshotState::Shutoff {
        return Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "reverting to a snapshot of a shut-off domain needs qemu-img, which this driver cannot run",
        ));
    }
    let want_paused = flags & revert_flags::PAUSED != 0
        || (snapshot_state == SnapshotState::Paused && flags & revert_flags::RUNNING == 0);
    let tag = name.to_string();
    if loaded.is_active() {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let def = domain::live_def(&live)?;
        let disks: Vec<String> = qcow2_disks(&def, Some(&live))?
            .into_iter()
            .map(|(_, node)| node)
            .collect();
        let expect = Expectation {
            paused_reason: Some(paused_reason::FROM_SNAPSHOT),
            running_reason: Some(running_reason::FROM_SNAPSHOT),
        };
        let reference = domain::reference(&loaded.record, Some(&live));
        lifecycle::with_monitor(&loaded, &mut live, expect, |monitor, live| {
            if live.state == state::RUNNING {
                monitor.run("stop", Value::Null)?;
                lifecycle::ensure_event(monitor, "STOP");
            }
            let job = format!("revert-{}", crate::util::unique_suffix());
            qmp::run_job(
                monitor,
                "snapshot-load",
                json!({"tag": tag, "vmstate": disks[0], "devices": disks}),
                &job,
                SNAPSHOT_JOB_TIMEOUT_MS,
            )?;
            if !want_paused {
                monitor.run("cont", Value::Null)?;
                lifecycle::ensure_event(monitor, "RESUME");
            }
            Ok(())
        })?;
        if !want_paused {
            lifecycle::emit_lifecycle(
                &reference,
                event_type::RESUMED,
                resumed_detail::FROM_SNAPSHOT,
            );
        } else {
            lifecycle::emit_lifecycle(
                &reference,
                event_type::SUSPENDED,
                suspended_detail::FROM_SNAPSHOT,
            );
        }
    } else {
        let xml = loaded
            .record
            .config_xml
            .clone()
            .ok_or_else(|| invalid_operation("domain has no definition"))?;
        let layout = SpaceLayout::current()?;
        let (def, _) = domain::parse_for_qemu(&xml, &layout)?;
        let disks: Vec<String> = qcow2_disks(&def, None)?
            .into_iter()
            .map(|(_, node)| node)
            .collect();
        let load = move |monitor: &mut Monitor, _live: &mut LiveRecord| {
            let job = format!("revert-{}", crate::util::unique_suffix());
            qmp::run_job(
                monitor,
                "snapshot-load",
                json!({"tag": tag, "vmstate": disks[0], "devices": disks}),
                &job,
                SNAPSHOT_JOB_TIMEOUT_MS,
            )
        };
        lifecycle::start_domain(
            &loaded.record,
            def,
            StartKind::FromSnapshot,
            want_paused,
            Some(&load),
        )?;
        let _ = started_detail::FROM_SNAPSHOT;
    }
    set_current(&loaded, Some(name.to_string()));
    Ok(())
}

/// `virDomainSnapshotDelete`.
pub fn delete(dom: &DomainRef, name: &str, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainSnapshotDelete",
        flags,
        delete_flags::CHILDREN | delete_flags::METADATA_ONLY | delete_flags::CHILDREN_ONLY,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let loaded = domain::get(dom)?;
    let snapshot = get(&uuid, name)?;
    let snapshots = all_of(&uuid);
    let mut doomed: Vec<SnapshotRecord> = Vec::new();
    if flags & (delete_flags::CHILDREN | delete_flags::CHILDREN_ONLY) != 0 {
        let mut below = Vec::new();
        descendants(&snapshots, name, &mut below);
        doomed.extend(below.into_iter().cloned());
    }
    if flags & delete_flags::CHILDREN_ONLY == 0 {
        doomed.push(snapshot.clone());
    }
    let metadata_only = flags & delete_flags::METADATA_ONLY != 0;
    if !metadata_only {
        check_external_delete(&snapshots, &snapshot, &doomed, flags)?;
    }
    for victim in doomed.iter().rev() {
        if !metadata_only {
            if victim.internal {
                delete_internal_data(dom, &loaded, &victim.name)?;
            } else {
                delete_external_data(dom, &loaded, victim)?;
            }
        }
        remove(&uuid, &loaded.record.name, &victim.name);
    }
    // Children of a deleted snapshot move up to its parent.
    if flags & delete_flags::CHILDREN_ONLY == 0 {
        for mut child in snapshots
            .into_iter()
            .filter(|other| other.parent.as_deref() == Some(name))
        {
            if doomed.iter().any(|victim| victim.name == child.name) {
                continue;
            }
            child.parent = snapshot.parent.clone();
            if let Ok(mut parsed) = DomainSnapshot::parse(&child.xml) {
                parsed.parent = snapshot
                    .parent
                    .clone()
                    .map(|name| ParentName { name: Some(name) });
                child.xml = parsed.to_xml();
            }
            put(&uuid, &loaded.record.name, &child);
        }
    }
    let current = loaded.record.current_snapshot.clone();
    if current
        .as_deref()
        .is_some_and(|current| doomed.iter().any(|victim| victim.name == current))
    {
        set_current(
            &loaded,
            if flags & delete_flags::CHILDREN_ONLY == 0 {
                snapshot.parent.clone()
            } else {
                Some(name.to_string())
            },
        );
    }
    Ok(())
}

/// What libvirt refuses when deleting external snapshots (`qemuSnapshotDeleteValidate`).
fn check_external_delete(
    snapshots: &[SnapshotRecord],
    snapshot: &SnapshotRecord,
    doomed: &[SnapshotRecord],
    flags: u32,
) -> Result<(), Error> {
    let with_children = flags & (delete_flags::CHILDREN | delete_flags::CHILDREN_ONLY) != 0;
    if with_children {
        let children: Vec<&SnapshotRecord> = doomed
            .iter()
            .filter(|victim| victim.name != snapshot.name)
            .collect();
        let external = children.iter().any(|child| !child.internal);
        if external && children.iter().any(|child| child.internal) {
            return Err(unsupported_config(
                "deletion of external and internal children disk snapshots not supported",
            ));
        }
        if external {
            return Err(unsupported_config(
                "deletion of external children disk snapshots not supported",
            ));
        }
    }
    if !snapshot.internal && flags & delete_flags::CHILDREN != 0 {
        return Err(unsupported_config(
            "deletion of external disk snapshots with children not supported",
        ));
    }
    if !snapshot.internal {
        // The nearest ancestor must not keep its data inside the images being committed.
        let parent = snapshot
            .parent
            .as_deref()
            .and_then(|parent| snapshots.iter().find(|other| other.name == parent));
        if parent.is_some_and(|parent| parent.internal) {
            return Err(qemu_error(
                ErrorNumber::OPERATION_UNSUPPORTED,
                "deleting external snapshot that has internal snapshot as parent not supported",
            ));
        }
    }
    Ok(())
}

/// Commits an external snapshot's overlays back and removes them.
fn delete_external_data(
    dom: &DomainRef,
    loaded: &Loaded,
    snapshot: &SnapshotRecord,
) -> Result<(), Error> {
    let overlays = crate::snapshot_commit::overlays_of(&snapshot.xml)?;
    if loaded.is_active() {
        let (loaded, mut live) = lifecycle::running(dom)?;
        crate::snapshot_commit::delete_live(&loaded, &mut live, &overlays)
    } else {
        crate::snapshot_commit::delete_offline(loaded, &overlays)
    }
}

fn delete_internal_data(dom: &DomainRef, loaded: &Loaded, name: &str) -> Result<(), Error> {
    if loaded.is_active() {
        let (loaded, mut live) = lifecycle::running(dom)?;
        let def = domain::live_def(&live)?;
        let disks: Vec<String> = qcow2_disks(&def, Some(&live))?
            .into_iter()
            .map(|(_, node)| node)
            .collect();
        lifecycle::with_monitor(&loaded, &mut live, Expectation::default(), |monitor, _| {
            let job = format!("snapdel-{}", crate::util::unique_suffix());
            qmp::run_job(
                monitor,
                "snapshot-delete",
                json!({"tag": name, "devices": disks}),
                &job,
                SNAPSHOT_JOB_TIMEOUT_MS,
            )
        })
    } else {
        let xml = loaded.record.config_xml.clone().unwrap_or_default();
        let def = Domain::parse(&xml).map_err(Error::from)?;
        delete_internal_offline(&def, name)
    }
}
