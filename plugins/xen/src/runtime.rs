//! The driver's calls (`xen:///system`) as `xl` runs through the host's `command` call.
//!
//! Definitions are domain XML records in the host's persistent space (Xen keeps none: a
//! domain exists in Xen only while it runs). A start writes the configuration
//! `virt_xl::domain_to_xl` gives to `$run/NAME.cfg`, runs `xl create` on it and removes it;
//! xl's own monitor (the process `xl create` leaves behind) carries out the guest's
//! `on_poweroff`/`on_reboot`/`on_crash`, so a reboot keeps the name and changes the id.
//!
//! **How a domain's end is noticed.** Every call that reads or changes a running domain asks
//! `xl list` first and reconciles the records with it (a name no longer listed has stopped;
//! one listed under a new id has rebooted); a call about a stopped domain does not need to,
//! reconciling changes only running records. That misses nothing a caller can ask about, but
//! gives no event at the moment a guest powers itself off, so from the driver's first use a
//! supervised `xenstore-watch @releaseDomain` ends at each domain's release and the
//! reconciliation runs then; while that watch is set, the records are current and reads
//! skip `xl list` (see `ensure_watcher` and `watching`). Not `xl create -F` as a supervised child
//! per domain: its exit status does not say why the domain ended, it would have to be
//! adopted after a daemon restart, and a guest's reboot (the same xl process) would go
//! unseen.
//!
//! **Why a stop's reason is known.** Xen forgets a domain once it is gone, so the reason is
//! what this driver did: `xl destroy` → destroyed, `xl save` → saved, `xl shutdown` or a
//! guest that went away on its own → shutdown. A crash Xen keeps (`on_crash = "preserve"`)
//! shows in `xl list`'s flags and is reported crashed.
//!
//! **Console.** libvirt's libxl driver answers `virDomainOpenConsole` with the pty xenconsoled
//! made for the guest; so does this driver, reading its path from xenstore with
//! `xenstore-read` (`/local/domain/ID/console/tty` for PV and PVH guests, the first serial
//! port's `/local/domain/ID/serial/0/tty` for HVM ones). The host's `process` calls give a
//! child no stream for its standard input and output (only a file or nothing), so `xl console`
//! as a child could not serve a console.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_create_flags, domain_device_modify_flags as modify_flags,
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_memory_mod_flags as memory_flags, domain_shutoff_reason as shutoff_reason,
    domain_state as state, domain_vcpu_flags as vcpu_flags,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::command_line::ToolOutput;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::process::{self, Output, SpawnRequest};
use virt_plugin_sdk::host::state::SpaceStatus;
use virt_plugin_sdk::host::{files, jobs};
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{ConsoleEndpoint, DomainInfo, DomainRef, DomainState, ObjectStatus};
use virt_xml::domain::{Disk, Domain, Interface, Mac, OsType};
use virt_xml::xml::{parse_document, XmlElement};

use crate::info::XlInfo;
use crate::list::{self, ListedDomain};

const DOMAINS: Records = Records::new("domain", ErrorDomain::LIBXL);
/// The last `xl info` (key `info`), and what each save file holds (key: its path).
const HOST: Records = Records::new("host", ErrorDomain::LIBXL);
const SAVES: Records = Records::new("save", ErrorDomain::LIBXL);
/// Serializes definitions: names are unique across all of them.
const DEFINITIONS_JOB: &str = "definitions";
/// How long an xl command may take (a save or restore of a large guest takes a while).
const XL_TIMEOUT_MS: u32 = 600_000;
/// Where Debian installs the toolstack itself, for a host whose PATH has no `xl`.
const VERSIONED_XL: &str = "/usr/lib/xen-4.17/bin/xl";

/// A defined (or running transient) domain.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct DomainRecord {
    pub uuid: String,
    pub name: String,
    /// The persistent definition.
    pub xml: String,
    pub persistent: bool,
    pub autostart: bool,
    pub shutoff_reason: i32,
    pub live: Option<Live>,
}

/// A domain Xen runs.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Live {
    /// Xen's domain id (it changes when xl restarts a rebooting guest).
    pub domid: i32,
    /// The definition it runs with, hotplugged devices and changed sizes included.
    pub xml: String,
    /// This driver paused it (`xl pause`).
    pub paused_by_driver: bool,
    /// This driver asked it to shut down (`xl shutdown`).
    pub shutting_down: bool,
    /// The persistent definition changed while it ran (`virDomainIsUpdated`).
    pub config_changed: bool,
}

/// What a save file holds: which domain, with which definition.
#[derive(Serialize, Deserialize, Clone, Debug)]
struct SavedImage {
    uuid: String,
    xml: String,
}

fn libxl_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::LIBXL, message)
}

fn operation_invalid(message: impl AsRef<str>) -> Error {
    libxl_error(ErrorNumber::OPERATION_INVALID, message)
}

fn not_running() -> Error {
    operation_invalid("Domain is not running")
}

fn no_domain(what: impl AsRef<str>) -> Error {
    libxl_error(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching {}", what.as_ref()),
    )
}

fn job_name(uuid: &str) -> String {
    format!("domain:{uuid}")
}

/// Runs `xl ARGS`: the `xl` the host finds by name (helper directories, then PATH), else
/// Debian's versioned one. Its failure is libvirt's child-exit error with what xl printed.
pub fn xl(args: &[&str]) -> Result<String, Error> {
    xl_output(args).map(|output| output.stdout)
}

/// Runs xl, from PATH or where Debian installs it, with both its outputs kept.
fn xl_output(args: &[&str]) -> Result<ToolOutput, Error> {
    let argv: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let run = |program: &str| {
        virt_plugin_sdk::command_line::run_tool_output(
            program,
            &argv,
            XL_TIMEOUT_MS,
            ErrorDomain::LIBXL,
            is_xl_message,
        )
    };
    match run("xl") {
        Err(error) if error.message().contains("cannot find program 'xl'") => run(VERSIONED_XL)
            .map_err(|other| {
                if other.message().contains("cannot find program") {
                    error
                } else {
                    other
                }
            }),
        other => other,
    }
}

/// Whether a line xl wrote is part of what it says, not of a verbose run's log
/// (`libxl: debug: ...`, `domainbuilder: detail: ...`).
fn is_xl_message(line: &str) -> bool {
    let mut fields = line.splitn(3, ": ");
    !matches!(
        (fields.next(), fields.next()),
        (
            Some(_),
            Some("debug" | "verbose" | "detail" | "progress" | "info")
        )
    )
}

/// The id of the domain a verbose `xl create` made, from libxl's log: its lines about the
/// new domain carry `Domain N:`, the first as it runs the bootloader.
fn created_domid(log: &str) -> Option<i32> {
    let id_of = |line: &str| {
        let rest = &line[line.find("Domain ")? + "Domain ".len()..];
        let digits = rest.split(':').next()?;
        digits.parse::<i32>().ok().filter(|id| *id > 0)
    };
    log.lines()
        .filter(|line| line.starts_with("libxl: "))
        .find_map(id_of)
}

/// `xl info`, asked now; remembered for the calls that only need the guest types.
pub fn xl_info() -> Result<XlInfo, Error> {
    let text = xl(&["info"])?;
    let info = XlInfo::parse(&text)?;
    HOST.store("info", &text);
    Ok(info)
}

/// The `xl info` last seen, else asked now.
fn known_info() -> Result<XlInfo, Error> {
    match HOST.load::<String>("info") {
        Ok(Some(text)) => XlInfo::parse(&text),
        _ => xl_info(),
    }
}

pub fn host_facts() -> Result<virt_xl::XenHostFacts, Error> {
    Ok(known_info()?.host_facts())
}

fn xl_list() -> Result<Vec<ListedDomain>, Error> {
    list::parse_list(&xl(&["list"])?)
}

pub fn reference(record: &DomainRecord) -> DomainRef {
    let uuid = virt_core::parse_uuid(&record.uuid).unwrap_or_default();
    DomainRef {
        name: record.name.clone(),
        uuid: uuid.into(),
        id: record.live.as_ref().map_or(-1, |live| live.domid),
    }
}

fn emit(record: &DomainRecord, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((reference(record), event, detail)));
}

fn store(record: &DomainRecord) {
    DOMAINS.store(&record.uuid, record);
}

/// Every record, current: as kept while the watcher hears every domain's end (see
/// [`watching`]), else reconciled with `xl list` now.
pub fn all() -> Result<Vec<DomainRecord>, Error> {
    if watching() {
        return DOMAINS.all();
    }
    reconciled()
}

/// Every record, reconciled with `xl list` (when xl answers: a host whose xl fails keeps
/// what it knew, and says so in the log).
fn reconciled() -> Result<Vec<DomainRecord>, Error> {
    let records: Vec<DomainRecord> = DOMAINS.all()?;
    if records.iter().all(|record| record.live.is_none()) {
        return Ok(records);
    }
    match xl_list() {
        Ok(listed) => Ok(records
            .into_iter()
            .filter_map(|record| reconcile(record, &listed))
            .collect()),
        Err(error) => {
            virt_plugin_sdk::warn!("cannot list Xen's domains: {}", error.message());
            Ok(records)
        }
    }
}

/// A running record against `xl list`: gone → stopped (the reason what this driver did,
/// else the guest's own shutdown), listed under another id → rebooted by xl. A transient
/// domain that stopped is gone too (`None`).
fn reconcile(mut record: DomainRecord, listed: &[ListedDomain]) -> Option<DomainRecord> {
    let Some(mut live) = record.live.clone() else {
        return Some(record);
    };
    match listed.iter().find(|domain| domain.name == record.name) {
        Some(domain) => {
            if domain.domid != live.domid {
                live.domid = domain.domid;
                live.shutting_down = false;
                record.live = Some(live);
                store(&record);
            }
            Some(record)
        }
        None => {
            let persistent = record.persistent;
            let stopped = finish_stop(record, shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN);
            persistent.then_some(stopped)
        }
    }
}

/// Forgets the running domain and records why it stopped; a transient one goes.
fn finish_stop(mut record: DomainRecord, reason: i32, detail: i32) -> DomainRecord {
    record.live = None;
    record.shutoff_reason = reason;
    if record.persistent {
        store(&record);
    } else {
        DOMAINS.delete(&record.uuid);
    }
    emit(&record, event_type::STOPPED, detail);
    record
}

/// The record `matches` finds. Only a running record can be out of date (reconciling leaves
/// a stopped one as it is), so `xl list` is asked only when the one found runs: looking up
/// or starting a stopped domain costs no xl run, which under TCG is most of a start's
/// overhead over `xl create`.
fn find(matches: impl Fn(&DomainRecord) -> bool) -> Result<Option<DomainRecord>, Error> {
    let records: Vec<DomainRecord> = DOMAINS.all()?;
    match records.into_iter().find(&matches) {
        Some(record) if record.live.is_none() => Ok(Some(record)),
        Some(_) => Ok(all()?.into_iter().find(matches)),
        None => Ok(None),
    }
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRecord, Error> {
    let key = uuid.hyphenated().to_string();
    find(|record| record.uuid == key)?.ok_or_else(|| no_domain(format!("uuid '{key}'")))
}

pub fn by_name(name: &str) -> Result<DomainRecord, Error> {
    find(|record| record.name == name)?.ok_or_else(|| no_domain(format!("name '{name}'")))
}

pub fn by_id(id: i32) -> Result<DomainRecord, Error> {
    all()?
        .into_iter()
        .find(|record| record.live.as_ref().is_some_and(|live| live.domid == id))
        .ok_or_else(|| no_domain(format!("id {id}")))
}

/// The record a reference names, reconciled with Xen, for reading.
pub fn resolve(dom: &DomainRef) -> Result<DomainRecord, Error> {
    by_uuid(&Uuid::from(dom.uuid))
}

/// The record a reference names, read after taking its job.
fn lock(dom: &DomainRef) -> Result<DomainRecord, Error> {
    let uuid = Uuid::from(dom.uuid).hyphenated().to_string();
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    resolve(dom)
}

fn lock_running(dom: &DomainRef) -> Result<(DomainRecord, Live), Error> {
    let record = lock(dom)?;
    let live = record.live.clone().ok_or_else(not_running)?;
    Ok((record, live))
}

/// A definition as the driver keeps it: parsed, checked, and converted once to xl's
/// configuration, which refuses what this host cannot run (libvirt's "could not find
/// capabilities for ..." for a guest type `xen_caps` does not offer).
pub fn prepare(xml: &str) -> Result<Domain, Error> {
    let mut domain = Domain::parse(xml)?;
    // A definition without a UUID gets one now, as libvirt's parser gives it: the UUID is
    // the record's key and what finds the running domain again.
    domain.uuid.get_or_insert_with(Uuid::new_v4);
    domain.validate()?;
    virt_xl::domain_to_xl(&domain, &host_facts()?)?;
    Ok(domain)
}

/// When the space is loaded in this process (a daemon start): `xl info` remembered, the
/// records matched with `xl list -l` by UUID (else name), the autostart ones started.
pub fn space_loaded(status: SpaceStatus) {
    if status == SpaceStatus::Existing {
        return;
    }
    if let Err(error) = xl_info() {
        virt_plugin_sdk::warn!("cannot ask xl about the Xen host: {}", error.message());
        return;
    }
    let details = match xl(&["list", "-l"]).and_then(|text| list::parse_details(&text)) {
        Ok(details) => details,
        Err(error) => {
            virt_plugin_sdk::warn!("cannot list Xen's domains: {}", error.message());
            return;
        }
    };
    let Ok(records) = DOMAINS.all::<DomainRecord>() else {
        return;
    };
    for mut record in records {
        // By UUID, else by name (Xen's names are unique among running domains).
        let found = details
            .iter()
            .find(|domain| domain.uuid.as_deref() == Some(record.uuid.as_str()))
            .or_else(|| details.iter().find(|domain| domain.name == record.name));
        match (found, record.live.clone()) {
            (Some(domain), Some(mut live)) => {
                if live.domid != domain.domid || record.name != domain.name {
                    live.domid = domain.domid;
                    record.live = Some(live);
                    store(&record);
                }
            }
            (Some(domain), None) => {
                // Started behind this driver's back (or its record of the start was lost).
                record.live = Some(Live {
                    domid: domain.domid,
                    xml: record.xml.clone(),
                    paused_by_driver: false,
                    shutting_down: false,
                    config_changed: false,
                });
                store(&record);
                emit(&record, event_type::STARTED, started_detail::BOOTED);
            }
            (None, Some(_)) => {
                virt_plugin_sdk::warn!("domain '{}' is no longer running", record.name);
                finish_stop(record, shutoff_reason::UNKNOWN, stopped_detail::FAILED);
            }
            (None, None) => {}
        }
    }
    let Ok(records) = DOMAINS.all::<DomainRecord>() else {
        return;
    };
    for record in records {
        if record.autostart && record.persistent && record.live.is_none() {
            if let Err(error) = create(&reference(&record), 0) {
                virt_plugin_sdk::warn!(
                    "Failed to autostart VM '{}': {}",
                    record.name,
                    error.message()
                );
            }
        }
    }
    ensure_watcher();
}

/// The record key of the running `xenstore-watch`, the driver's ear for domain deaths.
const WATCHER: &str = "watcher";

/// Where the watcher writes what it hears: its first line (the watch firing once as it is
/// set) says that xenstored took the watch.
fn watcher_output() -> String {
    format!("{}/xenstore-watch.out", files::dirs().run)
}

/// Whether the records can be trusted without asking `xl list`: a watcher runs and has
/// its watch, so the end of any domain ends it, and the reconciliation follows in
/// [`process_exited`] (a call between the two asks xl, the watcher no longer running).
/// Crashes Xen keeps are not ends; the calls that report a state read `xl list`'s flags.
fn watching() -> bool {
    let Ok(Some(handle)) = HOST.load::<u64>(WATCHER) else {
        return false;
    };
    process::status(handle).is_ok_and(|status| status.running)
        && files::read(&watcher_output()).is_ok_and(|heard| !heard.is_empty())
}

/// Domain deaths heard as they happen: a supervised `xenstore-watch -n 2 @releaseDomain`
/// waits for xenstored's next release of a domain (the first of its two events is the one
/// every new watch gets at once) and exits; its exit starts the next watch and reconciles
/// the records with `xl list` (a STOPPED event for each domain gone). libvirt's libxl driver
/// hears the same through libxl's event loop. Without `xenstore-watch` (a host without Xen's
/// tools) the records are reconciled by the next call about a running domain.
///
/// This sets the watch unless it is set. It stays set while no domain runs too: a start
/// then finds it ready, so it neither spawns it nor, for want of it, asks `xl list` after.
fn ensure_watcher() {
    if let Ok(Some(handle)) = HOST.load::<u64>(WATCHER) {
        if process::status(handle).is_ok_and(|status| status.running) {
            return;
        }
        process::release(handle);
        HOST.delete(WATCHER);
    }
    let output = watcher_output();
    let _ = files::remove(&output);
    let spawned = process::spawn(&SpawnRequest {
        program: "xenstore-watch".to_string(),
        args: vec!["-n".into(), "2".into(), "@releaseDomain".into()],
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        cwd: None,
        stdout: Output::AppendFile(output),
        stderr: Output::Discard,
        pass_fds: vec![],
    });
    match spawned {
        Ok(handle) => HOST.store(WATCHER, &handle),
        Err(error) => virt_plugin_sdk::debug!(
            "no xenstore-watch ({}): domain deaths are noticed by the next call",
            error.message
        ),
    }
}

/// A supervised process ended: the watcher heard a domain go (exit 0), so the records are
/// reconciled and the next watch started; a watcher that failed is not started again.
pub fn process_exited(handle: u64, exit_code: Option<i32>) {
    if HOST.load::<u64>(WATCHER).ok().flatten() != Some(handle) {
        return;
    }
    process::release(handle);
    HOST.delete(WATCHER);
    // A call stopping a domain itself (destroy, save) holds its job and records the reason:
    // wait for it, so that the reconciliation does not take its stop for the guest's own.
    if let Ok(records) = DOMAINS.all::<DomainRecord>() {
        for record in records.iter().filter(|record| record.live.is_some()) {
            let _ = jobs::begin(&job_name(&record.uuid));
        }
    }
    // The next watch first, so that no end between this reconciliation and it goes unheard.
    if exit_code == Some(0) {
        ensure_watcher();
    } else {
        virt_plugin_sdk::warn!("xenstore-watch ended with {exit_code:?}: not watching again");
    }
    if let Err(error) = reconciled() {
        virt_plugin_sdk::warn!(
            "cannot reconcile after a domain's release: {}",
            error.message()
        );
    }
}

pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let domain = prepare(xml)?;
    let uuid = domain.uuid.unwrap_or_default().hyphenated().to_string();
    let name = domain.name().to_string();
    jobs::begin(DEFINITIONS_JOB).map_err(Error::from)?;
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    let records: Vec<DomainRecord> = DOMAINS.all()?;
    if let Some(other) = records.iter().find(|r| r.name == name && r.uuid != uuid) {
        return Err(libxl_error(
            ErrorNumber::OPERATION_FAILED,
            format!("domain '{name}' already exists with uuid {}", other.uuid),
        ));
    }
    let existing = records.into_iter().find(|r| r.uuid == uuid);
    if let Some(existing) = existing.as_ref().filter(|r| r.name != name) {
        return Err(libxl_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "domain '{}' is already defined with uuid {uuid}",
                existing.name
            ),
        ));
    }
    let detail = if existing.is_some() {
        defined_detail::UPDATED
    } else {
        defined_detail::ADDED
    };
    let record = DomainRecord {
        uuid,
        name,
        xml: domain.to_xml(),
        persistent: true,
        autostart: existing.as_ref().is_some_and(|r| r.autostart),
        shutoff_reason: existing
            .as_ref()
            .map_or(shutoff_reason::UNKNOWN, |r| r.shutoff_reason),
        live: existing.and_then(|r| r.live).map(|live| Live {
            config_changed: true,
            ..live
        }),
    };
    store(&record);
    emit(&record, event_type::DEFINED, detail);
    Ok(reference(&record))
}

pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    jobs::begin(DEFINITIONS_JOB).map_err(Error::from)?;
    let mut record = lock(dom)?;
    if !record.persistent {
        return Err(operation_invalid("cannot undefine transient domain"));
    }
    if record.live.is_some() {
        record.persistent = false;
        store(&record);
    } else {
        DOMAINS.delete(&record.uuid);
    }
    emit(&record, event_type::UNDEFINED, 0);
    Ok(())
}

/// `virDomainCreateXML`: a transient domain, started at once; nothing is kept when the
/// start fails.
pub fn create_xml(xml: &str, flags: u32) -> Result<DomainRef, Error> {
    let domain = prepare(xml)?;
    let uuid = domain.uuid.unwrap_or_default().hyphenated().to_string();
    let name = domain.name().to_string();
    jobs::begin(DEFINITIONS_JOB).map_err(Error::from)?;
    jobs::begin(&job_name(&uuid)).map_err(Error::from)?;
    let records: Vec<DomainRecord> = DOMAINS.all()?;
    if let Some(other) = records.iter().find(|r| r.name == name || r.uuid == uuid) {
        if other.live.is_some() {
            return Err(operation_invalid(format!(
                "domain '{}' is already active",
                other.name
            )));
        }
        if other.uuid != uuid {
            return Err(libxl_error(
                ErrorNumber::OPERATION_FAILED,
                format!("domain '{name}' already exists with uuid {}", other.uuid),
            ));
        }
    }
    let existing = records.into_iter().find(|r| r.uuid == uuid);
    let mut record = DomainRecord {
        uuid,
        name,
        xml: domain.to_xml(),
        persistent: existing.as_ref().is_some_and(|r| r.persistent),
        autostart: existing.as_ref().is_some_and(|r| r.autostart),
        shutoff_reason: shutoff_reason::UNKNOWN,
        live: None,
    };
    let live = start(&record, flags)?;
    let paused = live.paused_by_driver;
    record.live = Some(live);
    store(&record);
    ensure_watcher();
    emit(&record, event_type::STARTED, started_detail::BOOTED);
    if paused {
        emit(&record, event_type::SUSPENDED, suspended_detail::PAUSED);
    }
    Ok(reference(&record))
}

/// Starts a defined domain (`xl create`, paused with `-p` for VIR_DOMAIN_START_PAUSED).
pub fn create(dom: &DomainRef, flags: u32) -> Result<DomainRef, Error> {
    let mut record = lock(dom)?;
    if record.live.is_some() {
        return Err(operation_invalid("Domain is already running"));
    }
    let live = start(&record, flags)?;
    let paused = live.paused_by_driver;
    record.live = Some(live);
    store(&record);
    ensure_watcher();
    emit(&record, event_type::STARTED, started_detail::BOOTED);
    if paused {
        emit(&record, event_type::SUSPENDED, suspended_detail::PAUSED);
    }
    Ok(reference(&record))
}

/// The configuration written, `xl create` run, the file removed whatever happened; a
/// failed start leaves no domain of that name behind. xl runs verbose, so that libxl's log
/// names the new domain's id: a second xl run to ask for it (`xl domid`) cost as much as a
/// third of the start under TCG. A domain of that name Xen already runs makes `xl create`
/// fail ("already exists"), and is not this start's to remove.
fn start(record: &DomainRecord, flags: u32) -> Result<Live, Error> {
    let domain = Domain::parse(&record.xml)?;
    let config = virt_xl::domain_to_xl(&domain, &host_facts()?)?;
    let run_dir = files::dirs().run;
    files::create_dir_all(&run_dir).map_err(Error::from)?;
    let path = format!("{run_dir}/{}.cfg", record.name);
    files::write(&path, config.as_bytes()).map_err(Error::from)?;
    let paused = flags & domain_create_flags::START_PAUSED != 0;
    let mut args = vec!["-vvv", "create"];
    if paused {
        args.push("-p");
    }
    args.push(&path);
    virt_plugin_sdk::info!("starting domain '{}': xl {}", record.name, args.join(" "));
    let created = xl_output(&args);
    let _ = files::remove(&path);
    let asked = || {
        xl(&["domid", &record.name])
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
    };
    let output = match created {
        Ok(output) => output,
        Err(error) => {
            if asked().is_some() && !error.message().contains("already exists") {
                let _ = xl(&["destroy", &record.name]);
            }
            return Err(error);
        }
    };
    // An xl whose libxl logs differently is asked, as before.
    let Some(domid) = created_domid(&output.stderr).or_else(asked) else {
        return Err(libxl_error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "xl create succeeded but Xen does not know domain '{}'",
                record.name
            ),
        ));
    };
    Ok(Live {
        domid,
        xml: record.xml.clone(),
        paused_by_driver: paused,
        shutting_down: false,
        config_changed: false,
    })
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let (record, _live) = lock_running(dom)?;
    xl(&["destroy", &record.name])?;
    finish_stop(record, shutoff_reason::DESTROYED, stopped_detail::DESTROYED);
    Ok(())
}

/// `xl shutdown`: asks the guest and returns (libvirt's shutdown is asynchronous); the stop
/// is noticed by the next call that looks.
pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let (mut record, mut live) = lock_running(dom)?;
    xl(&["shutdown", &record.name])?;
    live.shutting_down = true;
    record.live = Some(live);
    store(&record);
    Ok(())
}

/// `xl reboot`: xl's monitor builds the domain again (a new id, the next call sees it).
pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    let (record, _live) = lock_running(dom)?;
    xl(&["reboot", &record.name]).map(|_| ())
}

fn listed_flags(record: &DomainRecord) -> Result<Option<list::StateFlags>, Error> {
    Ok(xl_list()?
        .into_iter()
        .find(|domain| domain.name == record.name)
        .map(|domain| domain.flags))
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let (mut record, mut live) = lock_running(dom)?;
    if listed_flags(&record)?.is_some_and(|flags| flags.paused) {
        return Ok(());
    }
    xl(&["pause", &record.name])?;
    live.paused_by_driver = true;
    record.live = Some(live);
    store(&record);
    emit(&record, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let (mut record, mut live) = lock_running(dom)?;
    if !listed_flags(&record)?.is_some_and(|flags| flags.paused) {
        return Ok(());
    }
    xl(&["unpause", &record.name])?;
    live.paused_by_driver = false;
    record.live = Some(live);
    store(&record);
    emit(&record, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}

/// `xl save NAME FILE`: the domain's memory to FILE and the domain gone; the definition it
/// ran with is remembered for the restore.
pub fn save(dom: &DomainRef, path: &str) -> Result<(), Error> {
    let (record, live) = lock_running(dom)?;
    xl(&["save", &record.name, path])?;
    SAVES.store(
        path,
        &SavedImage {
            uuid: record.uuid.clone(),
            xml: live.xml,
        },
    );
    finish_stop(record, shutoff_reason::SAVED, stopped_detail::SAVED);
    Ok(())
}

/// `xl restore FILE` for a file this driver saved.
pub fn restore(path: &str) -> Result<(), Error> {
    let saved: SavedImage = SAVES.load(path)?.ok_or_else(|| {
        libxl_error(
            ErrorNumber::OPERATION_INVALID,
            format!("'{path}' is not a save image of this driver"),
        )
    })?;
    let uuid = virt_core::parse_uuid(&saved.uuid).unwrap_or_default();
    let record = by_uuid(&uuid)?;
    let mut record = lock(&reference(&record))?;
    if record.live.is_some() {
        return Err(operation_invalid(format!(
            "domain '{}' is already active",
            record.name
        )));
    }
    xl(&["restore", path])?;
    let found = xl_list()?
        .into_iter()
        .find(|domain| domain.name == record.name)
        .ok_or_else(|| {
            libxl_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("xl restore did not bring back domain '{}'", record.name),
            )
        })?;
    record.live = Some(Live {
        domid: found.domid,
        xml: saved.xml,
        paused_by_driver: false,
        shutting_down: false,
        config_changed: false,
    });
    store(&record);
    SAVES.delete(path);
    emit(&record, event_type::STARTED, started_detail::RESTORED);
    Ok(())
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let record = resolve(dom)?;
    let Some(live) = &record.live else {
        return Ok(DomainState {
            state: state::SHUTOFF,
            reason: record.shutoff_reason,
        });
    };
    let flags = listed_flags(&record).ok().flatten().unwrap_or_default();
    let (state, reason) = flags.libvirt_state(live.paused_by_driver);
    Ok(DomainState { state, reason })
}

/// The definition in effect: the one it runs with, else the persistent one.
fn current_xml(record: &DomainRecord) -> &str {
    record
        .live
        .as_ref()
        .map_or(record.xml.as_str(), |live| live.xml.as_str())
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let record = resolve(dom)?;
    let domain = Domain::parse(current_xml(&record))?;
    let state = get_state(dom)?.state;
    let listed = match &record.live {
        Some(_) => xl_list()
            .ok()
            .and_then(|listed| listed.into_iter().find(|d| d.name == record.name)),
        None => None,
    };
    Ok(DomainInfo {
        state: state as u8,
        max_mem_kib: domain.memory_kib(),
        memory_kib: match (&record.live, &listed) {
            (Some(_), Some(listed)) => listed.memory_mib * 1024,
            (Some(_), None) => domain.current_memory_kib(),
            (None, _) => 0,
        },
        nr_virt_cpu: listed.as_ref().map_or(domain.current_vcpus(), |l| l.vcpus) as u16,
        cpu_time_ns: listed.as_ref().map_or(0, |l| l.cpu_time_ns),
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let record = resolve(dom)?;
    Ok(ObjectStatus {
        active: record.live.is_some(),
        persistent: record.persistent,
        autostart: record.autostart,
        updated: record.live.as_ref().is_some_and(|live| live.config_changed),
        has_managed_save: false,
    })
}

pub fn get_xml(dom: &DomainRef, inactive: bool) -> Result<String, Error> {
    let record = resolve(dom)?;
    let xml = if inactive {
        record.xml.as_str()
    } else {
        current_xml(&record)
    };
    let mut domain = Domain::parse(xml)?;
    domain.id = record
        .live
        .as_ref()
        .filter(|_| !inactive)
        .map(|live| live.domid);
    Ok(domain.to_xml())
}

pub fn get_os_type(dom: &DomainRef) -> Result<String, Error> {
    let record = resolve(dom)?;
    let domain = Domain::parse(&record.xml)?;
    Ok(domain
        .os_type()
        .map_or("linux", |os_type| match os_type {
            OsType::Xen => "linux",
            other => other.as_str(),
        })
        .to_string())
}

pub fn set_autostart(dom: &DomainRef, autostart: bool) -> Result<(), Error> {
    let mut record = lock(dom)?;
    if !record.persistent {
        return Err(operation_invalid(
            "cannot set autostart for transient domain",
        ));
    }
    record.autostart = autostart;
    store(&record);
    Ok(())
}

/// Which definitions a change affects (libvirt's `virDomainObjUpdateModificationImpact`).
fn affected(record: &DomainRecord, flags: u32) -> Result<(bool, bool), Error> {
    let mut live = flags & modify_flags::LIVE != 0;
    let mut config = flags & modify_flags::CONFIG != 0;
    if !live && !config {
        live = record.live.is_some();
        config = !live;
    }
    if live && record.live.is_none() {
        return Err(operation_invalid("domain is not running"));
    }
    if config && !record.persistent {
        return Err(operation_invalid(
            "transient domains do not have any persistent config",
        ));
    }
    Ok((live, config))
}

fn update_live(record: &mut DomainRecord, change: impl FnOnce(&mut Domain)) -> Result<(), Error> {
    let Some(live) = record.live.as_mut() else {
        return Ok(());
    };
    let mut domain = Domain::parse(&live.xml)?;
    change(&mut domain);
    live.xml = domain.to_xml();
    Ok(())
}

fn update_config(
    record: &mut DomainRecord,
    change: impl FnOnce(&mut Domain) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut domain = Domain::parse(&record.xml)?;
    change(&mut domain)?;
    record.xml = domain.to_xml();
    if let Some(live) = record.live.as_mut() {
        live.config_changed = true;
    }
    Ok(())
}

/// `virDomainSetMemoryFlags`: the balloon target with `xl mem-set`, the maximum with
/// `xl mem-max`, and the persistent definition for `--config`.
pub fn set_memory(dom: &DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
    let mut record = lock(dom)?;
    let (live, config) = affected(&record, flags)?;
    let maximum = flags & memory_flags::MAXIMUM != 0;
    let size = format!("{kib}k");
    if live {
        let domain = Domain::parse(current_xml(&record))?;
        if maximum {
            xl(&["mem-max", &record.name, &size])?;
            update_live(&mut record, |domain| {
                domain.set_memory_kib(kib);
                if domain.current_memory_kib() > kib {
                    domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
                }
            })?;
        } else {
            if kib > domain.memory_kib() {
                return Err(libxl_error(
                    ErrorNumber::INVALID_ARG,
                    "cannot set memory higher than max memory",
                ));
            }
            xl(&["mem-set", &record.name, &size])?;
            update_live(&mut record, |domain| {
                domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
            })?;
        }
    }
    if config {
        update_config(&mut record, |domain| {
            if maximum {
                domain.set_memory_kib(kib);
                if domain.current_memory_kib() > kib {
                    domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
                }
            } else {
                if kib > domain.memory_kib() {
                    return Err(libxl_error(
                        ErrorNumber::INVALID_ARG,
                        "cannot set memory higher than max memory",
                    ));
                }
                domain.current_memory = Some(virt_xml::domain::ScaledKib(kib));
            }
            Ok(())
        })?;
    }
    store(&record);
    Ok(())
}

pub fn get_max_memory(dom: &DomainRef) -> Result<u64, Error> {
    let record = resolve(dom)?;
    Ok(Domain::parse(current_xml(&record))?.memory_kib())
}

/// `virDomainSetVcpusFlags`: online vCPUs with `xl vcpu-set` (up to the maximum the domain
/// was built with), the persistent definition for `--config` (and its maximum with
/// `--maximum`, which a running domain cannot change).
pub fn set_vcpus(dom: &DomainRef, count: u32, flags: u32) -> Result<(), Error> {
    let mut record = lock(dom)?;
    if count == 0 {
        return Err(libxl_error(ErrorNumber::INVALID_ARG, "nvcpus is zero"));
    }
    let maximum = flags & vcpu_flags::MAXIMUM != 0;
    let (live, config) = affected(&record, flags & !vcpu_flags::MAXIMUM)?;
    if live && maximum {
        return Err(libxl_error(
            ErrorNumber::INVALID_ARG,
            "invalid flag combination: (0x5)",
        ));
    }
    if live {
        let max = Domain::parse(current_xml(&record))?.max_vcpus();
        if count > max {
            return Err(libxl_error(
                ErrorNumber::INVALID_ARG,
                format!(
                    "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {max}"
                ),
            ));
        }
        xl(&["vcpu-set", &record.name, &count.to_string()])?;
        update_live(&mut record, |domain| {
            let vcpu = domain.vcpu.get_or_insert_with(Default::default);
            let max = vcpu.count.unwrap_or(1);
            vcpu.current = (count < max).then_some(count);
        })?;
    }
    if config {
        update_config(&mut record, |domain| {
            let vcpu = domain.vcpu.get_or_insert_with(Default::default);
            let max = vcpu.count.unwrap_or(1);
            if maximum {
                vcpu.count = Some(count);
                vcpu.current = vcpu.current.filter(|current| *current < count);
            } else {
                if count > max {
                    return Err(libxl_error(
                        ErrorNumber::INVALID_ARG,
                        format!(
                            "requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {max}"
                        ),
                    ));
                }
                vcpu.current = (count < max).then_some(count);
            }
            Ok(())
        })?;
    }
    store(&record);
    Ok(())
}

pub fn get_vcpus(dom: &DomainRef, flags: u32) -> Result<i32, Error> {
    let record = resolve(dom)?;
    let (live, _) = affected(&record, flags & !vcpu_flags::MAXIMUM)?;
    let domain = Domain::parse(if live {
        current_xml(&record)
    } else {
        &record.xml
    })?;
    Ok(if flags & vcpu_flags::MAXIMUM != 0 {
        domain.max_vcpus()
    } else {
        domain.current_vcpus()
    } as i32)
}

/// A device element from `virDomainAttachDevice` & co: disks and network interfaces.
enum DeviceXml {
    Disk(Box<Disk>),
    Interface(Box<Interface>),
}

fn parse_device(xml: &str) -> Result<DeviceXml, Error> {
    let doc = parse_document(xml, "(device_definition)", ErrorDomain::DOMAIN)?;
    match doc.root.name() {
        "disk" => Ok(DeviceXml::Disk(Box::new(Disk::from_node(&doc.root)?))),
        "interface" => Ok(DeviceXml::Interface(Box::new(Interface::from_node(
            &doc.root,
        )?))),
        other => Err(libxl_error(
            ErrorNumber::OPERATION_UNSUPPORTED,
            format!("device type '{other}' cannot be attached"),
        )),
    }
}

fn disk_target(disk: &Disk) -> Option<&str> {
    disk.target
        .as_ref()
        .and_then(|target| target.dev.as_deref())
}

fn interface_mac(interface: &Interface) -> Option<String> {
    interface
        .mac
        .as_ref()
        .and_then(|mac| mac.address.as_deref())
        .map(str::to_ascii_lowercase)
}

/// The xl specification of one device, as `virt_xl` writes it in the domain's `disk` or
/// `vif` list: the running definition with only that device of its kind.
fn device_spec(domain: &Domain, device: &DeviceXml) -> Result<String, Error> {
    let mut alone = domain.clone();
    let key = match device {
        DeviceXml::Disk(disk) => {
            alone.devices.disks = vec![(**disk).clone()];
            "disk"
        }
        DeviceXml::Interface(interface) => {
            alone.devices.interfaces = vec![(**interface).clone()];
            "vif"
        }
    };
    let config = virt_xl::domain_to_xl_config(&alone, &host_facts()?)?;
    config
        .get(key)
        .and_then(|value| value.as_list())
        .and_then(|list| list.first())
        .and_then(|first| first.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            libxl_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("cannot write the xl {key} specification of the device"),
            )
        })
}

/// `virDomainAttachDeviceFlags`: `xl block-attach` / `xl network-attach` for the running
/// domain, the persistent definition for `--config`.
pub fn attach_device(dom: &DomainRef, xml: &str, flags: u32) -> Result<(), Error> {
    let mut record = lock(dom)?;
    let (live, config) = affected(&record, flags)?;
    let mut device = parse_device(xml)?;
    if let DeviceXml::Interface(interface) = &mut device {
        if interface_mac(interface).is_none() {
            let mac = virt_xml::domain::postparse::random_mac();
            interface.mac = Some(Mac {
                address: Some(virt_xml::domain::format_mac([
                    0x00, 0x16, 0x3e, mac[3], mac[4], mac[5],
                ])),
                ..Mac::default()
            });
        }
    }
    let check = |domain: &Domain| -> Result<(), Error> {
        match &device {
            DeviceXml::Disk(disk) => {
                let target = disk_target(disk).unwrap_or("");
                if domain
                    .devices
                    .disks
                    .iter()
                    .any(|d| disk_target(d) == Some(target))
                {
                    return Err(operation_invalid(format!("target {target} already exists")));
                }
            }
            DeviceXml::Interface(interface) => {
                let mac = interface_mac(interface).unwrap_or_default();
                if domain
                    .devices
                    .interfaces
                    .iter()
                    .any(|i| interface_mac(i).as_deref() == Some(mac.as_str()))
                {
                    return Err(operation_invalid(format!(
                        "network device with mac {mac} already exists"
                    )));
                }
            }
        }
        Ok(())
    };
    if live {
        let domain = Domain::parse(current_xml(&record))?;
        check(&domain)?;
        let spec = device_spec(&domain, &device)?;
        match &device {
            DeviceXml::Disk(disk) => {
                xl(&["block-attach", &record.name, &spec]).map_err(|error| {
                    libxl_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!(
                            "libxenlight failed to attach disk '{}': {}",
                            disk_target(disk).unwrap_or(""),
                            error.message()
                        ),
                    )
                })?;
            }
            DeviceXml::Interface(_) => {
                let mut args = vec!["network-attach", record.name.as_str()];
                args.extend(spec.split(','));
                xl(&args).map_err(|error| {
                    libxl_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!(
                            "libxenlight failed to attach network device: {}",
                            error.message()
                        ),
                    )
                })?;
            }
        }
        update_live(&mut record, |domain| match &device {
            DeviceXml::Disk(disk) => domain.devices.disks.push((**disk).clone()),
            DeviceXml::Interface(interface) => {
                domain.devices.interfaces.push((**interface).clone())
            }
        })?;
    }
    if config {
        update_config(&mut record, |domain| {
            check(domain)?;
            match &device {
                DeviceXml::Disk(disk) => domain.devices.disks.push((**disk).clone()),
                DeviceXml::Interface(interface) => {
                    domain.devices.interfaces.push((**interface).clone())
                }
            }
            Ok(())
        })?;
    }
    store(&record);
    Ok(())
}

/// `virDomainDetachDeviceFlags`: a disk by its target, an interface by its MAC.
pub fn detach_device(dom: &DomainRef, xml: &str, flags: u32) -> Result<(), Error> {
    let mut record = lock(dom)?;
    let (live, config) = affected(&record, flags)?;
    let device = parse_device(xml)?;
    let remove = |domain: &mut Domain| -> Result<(), Error> {
        match &device {
            DeviceXml::Disk(disk) => {
                let target = disk_target(disk).unwrap_or("");
                let index = domain
                    .devices
                    .disks
                    .iter()
                    .position(|d| disk_target(d) == Some(target))
                    .ok_or_else(|| {
                        libxl_error(
                            ErrorNumber::DEVICE_MISSING,
                            format!("disk {target} not found"),
                        )
                    })?;
                domain.devices.disks.remove(index);
            }
            DeviceXml::Interface(interface) => {
                let mac = interface_mac(interface).unwrap_or_default();
                let index = domain
                    .devices
                    .interfaces
                    .iter()
                    .position(|i| interface_mac(i).as_deref() == Some(mac.as_str()))
                    .ok_or_else(|| {
                        libxl_error(
                            ErrorNumber::DEVICE_MISSING,
                            format!("network device {mac} not found"),
                        )
                    })?;
                domain.devices.interfaces.remove(index);
            }
        }
        Ok(())
    };
    if live {
        let mut domain = Domain::parse(current_xml(&record))?;
        remove(&mut domain)?;
        match &device {
            DeviceXml::Disk(disk) => {
                let target = disk_target(disk).unwrap_or("");
                xl(&["block-detach", &record.name, target]).map_err(|error| {
                    libxl_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!(
                            "libxenlight failed to detach disk '{target}': {}",
                            error.message()
                        ),
                    )
                })?;
            }
            DeviceXml::Interface(interface) => {
                let mac = interface_mac(interface).unwrap_or_default();
                xl(&["network-detach", &record.name, &mac]).map_err(|error| {
                    libxl_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!(
                            "libxenlight failed to detach network device: {}",
                            error.message()
                        ),
                    )
                })?;
            }
        }
        if let Some(live) = record.live.as_mut() {
            live.xml = domain.to_xml();
        }
    }
    if config {
        update_config(&mut record, remove)?;
    }
    store(&record);
    Ok(())
}

/// The pty xenconsoled made for the guest's console, from xenstore.
pub fn open_console(dom: &DomainRef, dev_name: Option<&str>) -> Result<ConsoleEndpoint, Error> {
    let record = resolve(dom)?;
    let live = record.live.as_ref().ok_or_else(not_running)?;
    if let Some(name) = dev_name {
        if !matches!(name, "console0" | "serial0") {
            return Err(libxl_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("cannot find character device {name}"),
            ));
        }
    }
    let domain = Domain::parse(&live.xml)?;
    let hvm = domain.os_type() == Some(OsType::Hvm);
    let key = if hvm {
        format!("/local/domain/{}/serial/0/tty", live.domid)
    } else {
        format!("/local/domain/{}/console/tty", live.domid)
    };
    let tty = virt_plugin_sdk::command_line::run_tool(
        "xenstore-read",
        &[key],
        30_000,
        ErrorDomain::LIBXL,
    )?;
    let tty = tty.trim();
    if !tty.starts_with("/dev/") {
        return Err(libxl_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "character device {} is not using a PTY",
                dev_name.unwrap_or("console0")
            ),
        ));
    }
    Ok(ConsoleEndpoint::Pty(tty.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start of what `xl -vvv create` of a PV guest printed on Xen 4.17 (the test peer).
    const CREATE_LOG: &str = "Parsing config from /guest/domU.cfg
libxl: debug: libxl_create.c:2081:do_domain_create: ao 0x55911b8fe1e0: create: how=(nil) callback=(nil) poller=0x55911b8fe280
libxl: detail: libxl_create.c:662:libxl__domain_make: passthrough: disabled
libxl: debug: libxl_create.c:1342:initiate_domain_create: Domain 7:running bootloader
libxl: debug: libxl_bootloader.c:417:libxl__bootloader_run: Domain 7:no bootloader configured, using user supplied kernel
domainbuilder: detail: xc_dom_allocate: cmdline=\"console=hvc0 quiet\", features=\"\"
";

    #[test]
    fn the_new_domains_id_comes_from_libxls_log() {
        assert_eq!(created_domid(CREATE_LOG), Some(7));
        // Dom0 is never the new domain; no id at all when libxl logs nothing about one.
        assert_eq!(
            created_domid("libxl: debug: libxl_device.c:1: Domain 0:backend\n"),
            None
        );
        assert_eq!(created_domid("Parsing config from /x.cfg\n"), None);
    }

    #[test]
    fn a_verbose_runs_log_is_not_its_message() {
        let kept: Vec<&str> = CREATE_LOG.lines().filter(|l| is_xl_message(l)).collect();
        assert_eq!(kept, ["Parsing config from /guest/domU.cfg"]);
        assert!(is_xl_message(
            "libxl: error: libxl_create.c:694:libxl__domain_make: Domain g already exists"
        ));
    }
}
