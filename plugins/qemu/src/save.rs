//! Saving a running domain's memory to a file and starting it again from there (save,
//! restore, managed save).
//!
//! QEMU 7.2 can only migrate into a descriptor or a shell command, and the plugin can hand it
//! neither a file descriptor nor a shell. What QEMU can write itself is a qcow2 image, and its
//! `snapshot-save` job stores the VM state in one image without touching the guest's disks.
//! So a save is two files: `PATH`, a small header (magic, the domain XML, the data file's
//! name) that `save-image-get-xml` and `restore` read, and `PATH.data`, a qcow2 image holding
//! the state as its internal snapshot `rvirt-save`. The guest is paused while QEMU writes,
//! and stopped afterwards, as libvirt does.

use serde_json::{json, Value};
use virt_core::consts::{
    domain_event_stopped_detail_type as stopped_detail, domain_paused_reason as paused_reason,
    domain_save_restore_flags as save_flags, domain_shutoff_reason as shutoff_reason,
    domain_state as state, domain_xml_flags as xml_flags,
};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::{files, jobs};
use virt_plugin_sdk::types::{DomainRef, Error};
use virt_xml::domain::Domain;
use virt_xml::FormatFlags;

use crate::domain::{self, Loaded};
use crate::error::{check_flags, invalid_operation, qemu_error};
use crate::lifecycle::{self, job_name, StartKind};
use crate::qemu_events::Expectation;
use crate::qmp::{self, Monitor};
use crate::records::{self, LiveRecord, PendingStop};
use crate::space::SpaceLayout;

const MAGIC: &str = "RvirtQemuSave1";
/// The internal snapshot holding the state.
const SNAPSHOT_TAG: &str = "rvirt-save";
/// Virtual size of the state image; the state lives beyond the virtual disk.
const STATE_IMAGE_SIZE: u64 = 1 << 20;
/// How long writing or loading the state may take.
const STATE_JOB_TIMEOUT_MS: u32 = 600_000;

/// What the header of a save says.
#[derive(Debug, Clone)]
pub struct SaveHeader {
    /// The definition to start (the live definition at save time).
    pub xml: String,
    /// The guest was running when saved.
    pub was_running: bool,
    /// The state image beside the header.
    pub data_path: String,
}

fn data_path_for(path: &str) -> String {
    format!("{path}.data")
}

fn write_header(path: &str, header: &SaveHeader) -> Result<(), Error> {
    let data_name = header
        .data_path
        .rsplit('/')
        .next()
        .unwrap_or(&header.data_path);
    let text = format!(
        "{MAGIC}\nrunning={}\ndata={data_name}\n\n{}",
        u8::from(header.was_running),
        header.xml
    );
    files::write(path, text.as_bytes())
}

/// Reads a save header, or libvirt's error for a file that is not one.
pub fn read_header(path: &str) -> Result<SaveHeader, Error> {
    let bytes = files::read(path).map_err(|_| {
        qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("cannot read domain image '{path}'"),
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let bad = || {
        qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("image magic is incorrect: '{path}' is not a saved domain image"),
        )
    };
    let (head, xml) = text.split_once("\n\n").ok_or_else(bad)?;
    let mut lines = head.lines();
    if lines.next() != Some(MAGIC) {
        return Err(bad());
    }
    let mut was_running = true;
    let mut data_name = String::new();
    for line in lines {
        match line.split_once('=') {
            Some(("running", value)) => was_running = value == "1",
            Some(("data", value)) => data_name = value.to_string(),
            _ => {}
        }
    }
    let dir = path.rsplit_once('/').map_or(".", |(dir, _)| dir);
    Ok(SaveHeader {
        xml: xml.to_string(),
        was_running,
        data_path: format!("{dir}/{data_name}"),
    })
}

/// Writes the running domain's state to `path` and stops it.
fn save_to(
    domain: &Loaded,
    mut live: LiveRecord,
    path: &str,
    dxml: Option<&str>,
) -> Result<(), Error> {
    let was_running = live.state == state::RUNNING;
    let xml = match dxml {
        Some(dxml) => dxml.to_string(),
        None => live.xml.clone(),
    };
    let data_path = data_path_for(path);
    if let Some((dir, _)) = path.rsplit_once('/') {
        if !dir.is_empty() {
            files::create_dir_all(dir)?;
        }
    }
    let header = SaveHeader {
        xml,
        was_running,
        data_path: data_path.clone(),
    };
    let expect = Expectation {
        paused_reason: Some(paused_reason::SAVE),
        running_reason: None,
    };
    let saved = lifecycle::with_monitor(domain, &mut live, expect, |monitor, live| {
        if live.state == state::RUNNING {
            monitor.run("stop", Value::Null)?;
            lifecycle::ensure_event(monitor, "STOP");
        }
        let result = write_state(monitor, &data_path);
        if result.is_err() && was_running {
            // Failed: the guest goes on as if nothing happened (libvirt's SAVE_CANCELED).
            let _ = monitor.execute("cont", None);
            live.state = state::RUNNING;
            live.reason = virt_core::consts::domain_running_reason::SAVE_CANCELED;
        }
        result
    });
    if let Err(error) = saved {
        let _ = files::remove(&data_path);
        return Err(error);
    }
    write_header(path, &header)?;
    lifecycle::kill_qemu(domain, &mut live, PendingStop::Saved, false)?;
    lifecycle::finalize_stop(domain, &live, shutoff_reason::SAVED, stopped_detail::SAVED);
    Ok(())
}

/// Creates the state image and has QEMU store the VM state in it.
fn write_state(monitor: &mut Monitor, data_path: &str) -> Result<(), Error> {
    let suffix = crate::util::unique_suffix();
    let file_node = format!("save-file-{suffix}");
    let format_node = format!("save-fmt-{suffix}");
    qmp::run_job(
        monitor,
        "blockdev-create",
        json!({"options": {"driver": "file", "filename": data_path, "size": 0}}),
        &format!("save-create-file-{suffix}"),
        60_000,
    )?;
    monitor.run(
        "blockdev-add",
        json!({"driver": "file", "filename": data_path, "node-name": file_node}),
    )?;
    let result = (|| {
        qmp::run_job(
            monitor,
            "blockdev-create",
            json!({"options": {"driver": "qcow2", "file": file_node, "size": STATE_IMAGE_SIZE}}),
            &format!("save-create-{suffix}"),
            60_000,
        )?;
        monitor.run(
            "blockdev-add",
            json!({"driver": "qcow2", "file": file_node, "node-name": format_node}),
        )?;
        let saved = qmp::run_job(
            monitor,
            "snapshot-save",
            json!({"tag": SNAPSHOT_TAG, "vmstate": format_node, "devices": [format_node]}),
            &format!("save-{suffix}"),
            STATE_JOB_TIMEOUT_MS,
        );
        let _ = monitor.execute("blockdev-del", Some(json!({"node-name": format_node})));
        saved
    })();
    let _ = monitor.execute("blockdev-del", Some(json!({"node-name": file_node})));
    result
}

/// Loads the VM state from a state image into a QEMU started with `-S`.
pub fn load_state(monitor: &mut Monitor, data_path: &str, tag: &str) -> Result<(), Error> {
    let suffix = crate::util::unique_suffix();
    let file_node = format!("restore-file-{suffix}");
    let format_node = format!("restore-fmt-{suffix}");
    monitor.run(
        "blockdev-add",
        json!({"driver": "file", "filename": data_path, "node-name": file_node}),
    )?;
    let result = (|| {
        monitor.run(
            "blockdev-add",
            json!({"driver": "qcow2", "file": file_node, "node-name": format_node}),
        )?;
        let loaded = qmp::run_job(
            monitor,
            "snapshot-load",
            json!({"tag": tag, "vmstate": format_node, "devices": [format_node]}),
            &format!("restore-{suffix}"),
            STATE_JOB_TIMEOUT_MS,
        );
        let _ = monitor.execute("blockdev-del", Some(json!({"node-name": format_node})));
        loaded
    })();
    let _ = monitor.execute("blockdev-del", Some(json!({"node-name": file_node})));
    result
}

/// `virDomainSaveFlags`.
pub fn save(dom: &DomainRef, path: &str, dxml: Option<&str>, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainSaveFlags",
        flags,
        save_flags::BYPASS_CACHE | save_flags::RUNNING | save_flags::PAUSED,
    )?;
    if !path.starts_with('/') {
        return Err(qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("path '{path}' must be absolute"),
        ));
    }
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, live) = lifecycle::running(dom)?;
    save_to(&domain, live, path, dxml)
}

/// `virDomainManagedSave`.
pub fn managed_save(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainManagedSave",
        flags,
        save_flags::BYPASS_CACHE | save_flags::RUNNING | save_flags::PAUSED,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, live) = lifecycle::running(dom)?;
    if !domain.record.persistent() {
        return Err(invalid_operation(
            "cannot do managed save for transient domain",
        ));
    }
    let layout = SpaceLayout::current()?;
    let path = layout.managed_save_file(&domain.record.name);
    save_to(&domain, live, &path, None)?;
    // finalize_stop rewrote the record; mark the image on the fresh copy.
    if let Some(mut record) = records::get_json::<records::DomainRecord>(records::DOMAIN, &uuid) {
        record.has_managed_save = true;
        records::put_json(records::DOMAIN, &uuid, &record);
    }
    Ok(())
}

/// `virDomainManagedSaveRemove`.
pub fn managed_save_remove(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainManagedSaveRemove", flags, 0)?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let domain = domain::get(dom)?;
    let layout = SpaceLayout::current()?;
    remove_image(&layout.managed_save_file(&domain.record.name));
    let mut record = domain.record;
    record.has_managed_save = false;
    records::put_json(records::DOMAIN, &uuid, &record);
    Ok(())
}

fn remove_image(path: &str) {
    let _ = files::remove(&data_path_for(path));
    let _ = files::remove(path);
}

/// Starts a domain from a save header; `record` is the domain it belongs to.
fn start_from_image(
    record: &records::DomainRecord,
    header: &SaveHeader,
    flags: u32,
) -> Result<LiveRecord, Error> {
    let layout = SpaceLayout::current()?;
    let (def, _) = domain::parse_for_qemu(&header.xml, &layout)?;
    let paused = flags & save_flags::PAUSED != 0
        || (!header.was_running && flags & save_flags::RUNNING == 0);
    let data_path = header.data_path.clone();
    let load = move |monitor: &mut Monitor, _live: &mut LiveRecord| {
        load_state(monitor, &data_path, SNAPSHOT_TAG)
    };
    lifecycle::start_domain(record, def, StartKind::Restored, paused, Some(&load))
}

/// `virDomainRestoreFlags`.
pub fn restore(path: &str, dxml: Option<&str>, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainRestoreFlags",
        flags,
        save_flags::BYPASS_CACHE | save_flags::RUNNING | save_flags::PAUSED,
    )?;
    let mut header = read_header(path)?;
    if let Some(dxml) = dxml {
        header.xml = dxml.to_string();
    }
    let def = Domain::parse(&header.xml).map_err(Error::from)?;
    let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
    let name = def.name().to_string();
    jobs::begin(&job_name(&uuid))?;
    domain::check_unique(&uuid, &name)?;
    let existing = domain::load(&uuid);
    if existing.as_ref().is_some_and(Loaded::is_active) {
        return Err(qemu_error(
            ErrorNumber::OPERATION_INVALID,
            format!("domain '{name}' is already active"),
        ));
    }
    let record = existing
        .map(|domain| domain.record)
        .unwrap_or(records::DomainRecord {
            uuid,
            name,
            ..records::DomainRecord::default()
        });
    start_from_image(&record, &header, flags)?;
    Ok(())
}

/// Starting a domain that has a managed-save image resumes from it (and drops the image).
pub fn restore_managed(domain: &Loaded, flags: u32) -> Result<DomainRef, Error> {
    let layout = SpaceLayout::current()?;
    let path = layout.managed_save_file(&domain.record.name);
    let header = read_header(&path)?;
    let restore_flags = if flags & virt_core::consts::domain_create_flags::START_PAUSED != 0 {
        save_flags::PAUSED
    } else {
        0
    };
    let mut record = domain.record.clone();
    record.has_managed_save = false;
    let live = start_from_image(&record, &header, restore_flags)?;
    remove_image(&path);
    records::put_json(records::DOMAIN, &record.uuid, &record);
    Ok(domain::reference(&record, Some(&live)))
}

/// `virDomainSaveImageGetXMLDesc`.
pub fn image_xml(path: &str, flags: u32) -> Result<String, Error> {
    check_flags("qemuDomainSaveImageGetXMLDesc", flags, xml_flags::SECURE)?;
    let header = read_header(path)?;
    let def = Domain::parse(&header.xml).map_err(Error::from)?;
    Ok(def.format(&FormatFlags {
        secure: flags & xml_flags::SECURE != 0,
        inactive: true,
        ..FormatFlags::default()
    }))
}
