//! Saving a running domain's memory to a file and starting it again from there (save,
//! restore, managed save).
//!
//! A save image has libvirt's layout, so either daemon can restore the other's images: a
//! fixed header (magic, version, the length of the data after it, whether the guest was
//! running), the domain XML padded with zeros (room to edit it later), then QEMU's migration
//! stream. The plugin writes the header, opens the file for appending through the host and
//! hands the descriptor to QEMU (`getfd`, `migrate fd:`); a restore starts QEMU with
//! `-incoming defer` and gives it the file positioned after the header. The guest is paused
//! while QEMU writes and stopped afterwards, as libvirt does.

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
use crate::qmp::{Event, Monitor};
use crate::records::{self, LiveRecord, PendingStop};
use crate::space::SpaceLayout;

/// libvirt's save image magic, and the one of an image still being written.
const MAGIC: &[u8; 16] = b"LibvirtQemudSave";
const MAGIC_PARTIAL: &[u8; 16] = b"LibvirtQemudPart";
/// The header layout version this reads and writes.
const VERSION: u32 = 2;
/// Magic, then five `u32` fields and fourteen unused ones.
const HEADER_LEN: usize = 16 + 4 * 5 + 4 * 14;
/// Zeros after the XML, so that the XML can be edited in place and grow (as libvirt).
const XML_PADDING: usize = 64 * 1024;
/// How long writing or loading the state may take.
const STATE_JOB_TIMEOUT_MS: u32 = 600_000;
/// The monitor's name for the descriptor of the state stream.
const STATE_FD_NAME: &str = "migrate";
/// No bandwidth limit for a save (QEMU's default is meant for live migration over a network).
const UNLIMITED_BANDWIDTH: u64 = (i64::MAX as u64 >> 20) << 20;

/// What the header of a save says.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveHeader {
    /// The definition to start (the live definition at save time).
    pub xml: String,
    /// The guest was running when saved.
    pub was_running: bool,
    /// Where QEMU's migration stream starts.
    pub state_offset: u64,
}

/// The bytes before the migration stream: header, XML, padding.
fn encode_header(xml: &str, was_running: bool) -> Vec<u8> {
    let data_len = xml.len() + 1 + XML_PADDING;
    let mut bytes = Vec::with_capacity(HEADER_LEN + data_len);
    bytes.extend_from_slice(MAGIC);
    for field in [VERSION, data_len as u32, u32::from(was_running), 0, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.resize(HEADER_LEN, 0);
    bytes.extend_from_slice(xml.as_bytes());
    bytes.resize(HEADER_LEN + data_len, 0);
    bytes
}

fn image_error(message: String) -> Error {
    qemu_error(ErrorNumber::OPERATION_FAILED, message)
}

/// Parses the fixed part of a header: the data length and whether the guest was running.
fn decode_fixed_header(path: &str, bytes: &[u8]) -> Result<(u32, u32, bool), Error> {
    if bytes.len() < HEADER_LEN {
        return Err(image_error(format!(
            "failed to read qemu header of '{path}'"
        )));
    }
    let magic = &bytes[..16];
    if magic == MAGIC_PARTIAL {
        return Err(image_error(format!("save image '{path}' is incomplete")));
    }
    if magic != MAGIC {
        return Err(image_error(format!(
            "image magic is incorrect: '{path}' is not a saved domain image"
        )));
    }
    let field = |index: usize| {
        let at = 16 + 4 * index;
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    };
    let (version, data_len, was_running, compressed, cookie_offset) =
        (field(0), field(1), field(2), field(3), field(4));
    if version > VERSION {
        return Err(image_error(format!(
            "image version is not supported ({version} > {VERSION})"
        )));
    }
    if data_len == 0 || data_len > i32::MAX as u32 {
        return Err(image_error(format!(
            "invalid header data length: {data_len}"
        )));
    }
    if compressed != 0 {
        return Err(qemu_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            format!("save image '{path}' is compressed (format {compressed}); only raw images can be restored"),
        ));
    }
    let xml_len = if cookie_offset != 0 && cookie_offset < data_len {
        cookie_offset
    } else {
        data_len
    };
    Ok((data_len, xml_len, was_running != 0))
}

/// Reads a save header, or libvirt's error for a file that is not one.
pub fn read_header(path: &str) -> Result<SaveHeader, Error> {
    let unreadable = |_| image_error(format!("cannot read domain image '{path}'"));
    let fixed = files::read_range(path, 0, HEADER_LEN as u32).map_err(unreadable)?;
    let (data_len, xml_len, was_running) = decode_fixed_header(path, &fixed)?;
    let xml = files::read_range(path, HEADER_LEN as u64, xml_len).map_err(unreadable)?;
    if xml.len() < xml_len as usize {
        return Err(image_error(format!(
            "failed to read domain XML from '{path}'"
        )));
    }
    // The XML ends at its NUL; padding (or the cookie) follows.
    let end = xml.iter().position(|byte| *byte == 0).unwrap_or(xml.len());
    let xml = String::from_utf8(xml[..end].to_vec())
        .map_err(|_| image_error(format!("domain XML in '{path}' is not valid UTF-8")))?;
    Ok(SaveHeader {
        xml,
        was_running,
        state_offset: HEADER_LEN as u64 + u64::from(data_len),
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
        None => domain::migratable_def(&live)?.to_xml(),
    };
    if let Some((dir, _)) = path.rsplit_once('/') {
        if !dir.is_empty() {
            files::create_dir_all(dir)?;
        }
    }
    files::write(path, &encode_header(&xml, was_running))?;
    let stream = match files::open(path, files::OpenMode::Append) {
        Ok(handle) => handle,
        Err(error) => {
            let _ = files::remove(path);
            return Err(error);
        }
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
        let result = migrate_to(monitor, stream);
        if result.is_err() && was_running {
            // Failed: the guest goes on as if nothing happened (libvirt's SAVE_CANCELED).
            let _ = monitor.execute("cont", None);
            live.state = state::RUNNING;
            live.reason = virt_core::consts::domain_running_reason::SAVE_CANCELED;
        }
        result
    });
    files::close(stream);
    if let Err(error) = saved {
        let _ = files::remove(path);
        return Err(error);
    }
    lifecycle::kill_qemu(domain, &mut live, PendingStop::Saved, false)?;
    lifecycle::finalize_stop(domain, &live, shutoff_reason::SAVED, stopped_detail::SAVED);
    Ok(())
}

/// Turns on QEMU's MIGRATION events, which say when a state transfer ends.
fn enable_migration_events(monitor: &mut Monitor) -> Result<(), Error> {
    monitor
        .run(
            "migrate-set-capabilities",
            json!({"capabilities": [{"capability": "events", "state": true}]}),
        )
        .map(|_| ())
}

/// Has QEMU write its state into the descriptor behind `stream` (a host handle).
fn migrate_to(monitor: &mut Monitor, stream: u64) -> Result<(), Error> {
    enable_migration_events(monitor)?;
    monitor.run(
        "migrate-set-parameters",
        json!({"max-bandwidth": UNLIMITED_BANDWIDTH}),
    )?;
    monitor.execute_with_handles("getfd", json!({"fdname": STATE_FD_NAME}), &[stream])?;
    if let Err(error) = monitor.run("migrate", json!({"uri": format!("fd:{STATE_FD_NAME}")})) {
        let _ = monitor.execute("closefd", Some(json!({"fdname": STATE_FD_NAME})));
        return Err(error);
    }
    wait_for_migration(monitor, "save")
}

/// Loads the VM state from `path` (after its header) into a QEMU started with
/// `-incoming defer`.
pub fn load_state(monitor: &mut Monitor, path: &str, offset: u64) -> Result<(), Error> {
    enable_migration_events(monitor)?;
    let stream = files::open(path, files::OpenMode::Read)?;
    let result = (|| {
        files::seek(stream, offset)?;
        monitor.execute_with_handles("getfd", json!({"fdname": STATE_FD_NAME}), &[stream])?;
        monitor.run(
            "migrate-incoming",
            json!({"uri": format!("fd:{STATE_FD_NAME}")}),
        )?;
        wait_for_migration(monitor, "restore")
    })();
    files::close(stream);
    result
}

/// Waits until QEMU's state transfer completes, or says why it failed.
fn wait_for_migration(monitor: &mut Monitor, what: &str) -> Result<(), Error> {
    let ended = |event: &Event| {
        event.name == "MIGRATION"
            && matches!(
                event.data.get("status").and_then(Value::as_str),
                Some("completed" | "failed" | "cancelled")
            )
    };
    let event = monitor
        .wait_event(STATE_JOB_TIMEOUT_MS, ended)
        .map_err(|error| error.into_error("migrate"))?;
    let status = event.data.get("status").and_then(Value::as_str);
    if status == Some("completed") {
        return Ok(());
    }
    // QEMU keeps the reason in query-migrate.
    let reason = monitor
        .execute("query-migrate", None)
        .ok()
        .and_then(|info| {
            info.get("error-desc")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| status.unwrap_or("failed").to_string());
    Err(qemu_error(
        ErrorNumber::OPERATION_FAILED,
        format!("{what} job: unexpectedly failed: {reason}"),
    ))
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
    let _ = files::remove(path);
}

/// Starts a domain from a save header; `record` is the domain it belongs to.
fn start_from_image(
    record: &records::DomainRecord,
    path: &str,
    header: &SaveHeader,
    flags: u32,
) -> Result<LiveRecord, Error> {
    let layout = SpaceLayout::current()?;
    let (def, _) = domain::parse_for_qemu(&header.xml, &layout)?;
    let paused = flags & save_flags::PAUSED != 0
        || (!header.was_running && flags & save_flags::RUNNING == 0);
    let image = path.to_string();
    let offset = header.state_offset;
    let load =
        move |monitor: &mut Monitor, _live: &mut LiveRecord| load_state(monitor, &image, offset);
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
    start_from_image(&record, path, &header, flags)?;
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
    let live = start_from_image(&record, &path, &header, restore_flags)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_has_libvirts_layout() {
        let xml = "<domain type='qemu'><name>g</name></domain>";
        let bytes = encode_header(xml, true);
        assert_eq!(&bytes[..16], b"LibvirtQemudSave");
        assert_eq!(HEADER_LEN, 92);
        let (data_len, xml_len, was_running) = decode_fixed_header("/s", &bytes).expect("header");
        assert_eq!(data_len as usize, xml.len() + 1 + XML_PADDING);
        assert_eq!(xml_len, data_len);
        assert!(was_running);
        assert_eq!(bytes.len(), HEADER_LEN + data_len as usize);
        assert_eq!(&bytes[HEADER_LEN..HEADER_LEN + xml.len()], xml.as_bytes());
        assert_eq!(bytes[HEADER_LEN + xml.len()], 0);
    }

    #[test]
    fn bad_headers_say_why() {
        let mut bytes = encode_header("<domain/>", false);
        let message = |bytes: &[u8]| {
            decode_fixed_header("/s", bytes)
                .expect_err("refused")
                .message
        };
        assert!(message(&bytes[..40]).contains("failed to read qemu header"));
        bytes[..16].copy_from_slice(MAGIC_PARTIAL);
        assert!(message(&bytes).contains("incomplete"));
        bytes[..16].copy_from_slice(b"NotASaveImage!!!");
        assert!(message(&bytes).contains("image magic is incorrect"));
        bytes[..16].copy_from_slice(MAGIC);
        bytes[16..20].copy_from_slice(&3u32.to_le_bytes());
        assert!(message(&bytes).contains("image version is not supported (3 > 2)"));
        bytes[16..20].copy_from_slice(&2u32.to_le_bytes());
        bytes[28..32].copy_from_slice(&1u32.to_le_bytes());
        assert!(message(&bytes).contains("compressed"));
    }
}
