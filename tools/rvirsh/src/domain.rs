//! Domain commands: lifecycle (define, start, shutdown, ...), save/restore, and the
//! monitoring views (`list`, `dominfo`, `domstate`, `dumpxml`).
//!
//! Each handler follows virsh's order of calls and its messages, so that a failure prints the
//! same lines: the command's own ("Failed to suspend domain 'x'") then the driver's.

use std::cmp::Ordering;

use serde::Serialize;
use virt_core::blocking::{Connect, Domain};
use virt_core::consts::{
    connect_list_all_domains_flags as list_flags, domain_create_flags, domain_destroy_flags_values,
    domain_metadata_type, domain_reboot_flag_values, domain_save_restore_flags,
    domain_shutdown_flag_values, domain_state, domain_undefine_flags_values as undefine_flags,
    domain_xml_flags,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::command::{CommandDef, Group, OptDef, JSON_OPT};
use crate::format::{domain_state_name, domain_state_reason_name, yes_no};
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Failure, Session};
use crate::table::Table;
use crate::{console, files, xml};

/// The usual `<domain>` argument.
pub(crate) const DOMAIN: OptDef = OptDef::positional("domain", "domain name, id or uuid");
const FILE_XML: OptDef = OptDef::positional("file", "file containing an XML domain description");

/// How a `<domain>` argument may be read, in virsh's order: id, then UUID, then name.
#[derive(Clone, Copy, Debug)]
pub struct LookupBy {
    pub id: bool,
    pub uuid: bool,
    pub name: bool,
}

impl LookupBy {
    pub const ANY: LookupBy = LookupBy {
        id: true,
        uuid: true,
        name: true,
    };
    pub const NAME_OR_UUID: LookupBy = LookupBy {
        id: false,
        uuid: true,
        name: true,
    };
    pub const ID_OR_UUID: LookupBy = LookupBy {
        id: true,
        uuid: true,
        name: false,
    };
    pub const NAME_OR_ID: LookupBy = LookupBy {
        id: true,
        uuid: false,
        name: true,
    };
}

/// Finds the domain a user named. As virsh, the driver's "not found" is not shown, only
/// "failed to get domain 'KEY'".
pub fn lookup(conn: &Connect, key: &str, by: LookupBy) -> Result<Domain, Failure> {
    let mut found = None;
    if by.id {
        if let Some(id) = key.parse::<i32>().ok().filter(|id| *id >= 0) {
            found = conn.domain_lookup_by_id(id).ok();
        }
    }
    if found.is_none() && by.uuid && key.len() == 36 {
        found = conn.domain_lookup_by_uuid_string(key).ok();
    }
    if found.is_none() && by.name {
        found = conn.domain_lookup_by_name(key).ok();
    }
    found.ok_or_else(|| Failure::message(format!("failed to get domain '{key}'")))
}

/// The connection and the domain named by the `domain` option, with the text as given.
pub(crate) fn domain_option<'a>(
    session: &mut Session,
    args: &'a Args,
    by: LookupBy,
) -> Result<(Domain, &'a str), Failure> {
    let key = args.required("domain")?;
    let conn = session.connect()?;
    Ok((lookup(&conn, key, by)?, key))
}

/// The state of a domain, falling back to `virDomainGetInfo` where `virDomainGetState`
/// is missing (virsh's `virshDomainState`).
fn domain_state_of(domain: &Domain) -> Result<(i32, i32), virt_core::Error> {
    match domain.state(0) {
        Ok(state) => Ok((state.state, state.reason)),
        Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {
            Ok((i32::from(domain.info()?.state), -1))
        }
        Err(error) => Err(error),
    }
}

fn id_text(id: i32) -> String {
    if id < 0 {
        "-".to_string()
    } else {
        id.to_string()
    }
}

// ---- list ----

const LIST_OPTIONS: &[OptDef] = &[
    OptDef::flag("inactive", "list inactive domains"),
    OptDef::flag("all", "list inactive & active domains"),
    OptDef::flag("transient", "list transient domains"),
    OptDef::flag("persistent", "list persistent domains"),
    OptDef::flag("with-snapshot", "list domains with existing snapshot"),
    OptDef::flag("without-snapshot", "list domains without a snapshot"),
    OptDef::flag("with-checkpoint", "list domains with existing checkpoint"),
    OptDef::flag("without-checkpoint", "list domains without a checkpoint"),
    OptDef::flag("state-running", "list domains in running state"),
    OptDef::flag("state-paused", "list domains in paused state"),
    OptDef::flag("state-shutoff", "list domains in shutoff state"),
    OptDef::flag("state-other", "list domains in other states"),
    OptDef::flag("autostart", "list domains with autostart enabled"),
    OptDef::flag("no-autostart", "list domains with autostart disabled"),
    OptDef::flag("with-managed-save", "list domains with managed save state"),
    OptDef::flag("without-managed-save", "list domains without managed save"),
    OptDef::flag("uuid", "list uuid's only"),
    OptDef::flag("name", "list domain names only"),
    OptDef::flag("id", "list domain IDs only"),
    OptDef::flag("table", "list table (default)"),
    OptDef::flag(
        "managed-save",
        "mark inactive domains with managed save state",
    ),
    OptDef::flag("title", "show domain title"),
    JSON_OPT,
];

/// One row of `list --json`.
#[derive(Serialize)]
struct DomainListEntry {
    id: Option<i32>,
    name: String,
    uuid: String,
    state: &'static str,
    state_code: i32,
    persistent: bool,
    autostart: bool,
    managed_save: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

fn exclusive(args: &Args, first: &str, second: &str) -> CmdResult {
    if args.flag(first) && args.flag(second) {
        return Err(Failure::message(format!(
            "Options --{first} and --{second} are mutually exclusive"
        )));
    }
    Ok(())
}

/// `virConnectListAllDomains` flags for `list`'s filter options.
fn list_filter_flags(args: &Args) -> u32 {
    let mut flags = list_flags::ACTIVE;
    if args.flag("inactive") || args.flag("state-shutoff") {
        flags = list_flags::INACTIVE;
    }
    if args.flag("all") {
        flags = list_flags::INACTIVE | list_flags::ACTIVE;
    }
    let filters = [
        ("persistent", list_flags::PERSISTENT),
        ("transient", list_flags::TRANSIENT),
        ("with-managed-save", list_flags::MANAGEDSAVE),
        ("without-managed-save", list_flags::NO_MANAGEDSAVE),
        ("autostart", list_flags::AUTOSTART),
        ("no-autostart", list_flags::NO_AUTOSTART),
        ("with-snapshot", list_flags::HAS_SNAPSHOT),
        ("without-snapshot", list_flags::NO_SNAPSHOT),
        ("with-checkpoint", list_flags::HAS_CHECKPOINT),
        ("without-checkpoint", list_flags::NO_CHECKPOINT),
        ("state-running", list_flags::RUNNING),
        ("state-paused", list_flags::PAUSED),
        ("state-shutoff", list_flags::SHUTOFF),
        ("state-other", list_flags::OTHER),
    ];
    for (name, flag) in filters {
        if args.flag(name) {
            flags |= flag;
        }
    }
    flags
}

/// Running domains by id, then inactive ones by name, case-insensitively (virsh's order).
fn domain_order(a: &Domain, b: &Domain) -> Ordering {
    match (a.id() >= 0, b.id() >= 0) {
        (true, true) => a.id().cmp(&b.id()),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a
            .name()
            .to_ascii_lowercase()
            .cmp(&b.name().to_ascii_lowercase()),
    }
}

/// The domain's title: its metadata, or `<title>` of its XML where metadata is not served.
fn domain_title(domain: &Domain) -> Result<String, Failure> {
    match domain.metadata(domain_metadata_type::TITLE, None, 0) {
        Ok(title) => Ok(title),
        Err(error) if error.code() == ErrorNumber::NO_DOMAIN_METADATA => Ok(String::new()),
        Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {
            let description = domain.xml_desc(0)?;
            Ok(xml::child_text(&description, "title").unwrap_or_default())
        }
        Err(error) => Err(error.into()),
    }
}

fn cmd_list(session: &mut Session, args: &Args) -> CmdResult {
    let flags = list_filter_flags(args);
    exclusive(args, "table", "name")?;
    exclusive(args, "table", "uuid")?;
    exclusive(args, "table", "id")?;
    let (show_uuid, show_name, show_id) = (args.flag("uuid"), args.flag("name"), args.flag("id"));
    let table_mode = args.flag("table") || (!show_uuid && !show_name && !show_id);
    let (with_title, mark_saved) = (args.flag("title"), args.flag("managed-save"));
    let conn = session.connect()?;
    let mut domains = list_domains(&conn, flags)?;
    domains.sort_by(domain_order);

    if args.flag("json") {
        let mut entries = Vec::new();
        for domain in &domains {
            let Ok((state, _)) = domain_state_of(domain) else {
                continue;
            };
            let status = domain.status().unwrap_or_default();
            let title = if with_title {
                Some(domain_title(domain)?)
            } else {
                None
            };
            entries.push(DomainListEntry {
                id: (domain.id() >= 0).then(|| domain.id()),
                name: domain.name(),
                uuid: domain.uuid_string(),
                state: domain_state_name(state),
                state_code: state,
                persistent: status.persistent,
                autostart: status.autostart,
                managed_save: status.has_managed_save,
                title,
            });
        }
        return session.print_json(&entries);
    }

    let header: &[&str] = if with_title {
        &["Id", "Name", "State", "Title"]
    } else {
        &["Id", "Name", "State"]
    };
    let mut table = Table::new(header);
    for domain in &domains {
        let id = id_text(domain.id());
        if table_mode {
            // A domain that vanished since the listing is skipped, as virsh skips it.
            let Ok((state, _)) = domain_state_of(domain) else {
                continue;
            };
            let saved = mark_saved
                && state == domain_state::SHUTOFF
                && domain.has_managed_save().unwrap_or(false);
            let state_text = if saved {
                "saved"
            } else {
                domain_state_name(state)
            };
            let mut row = vec![id, domain.name(), state_text.to_string()];
            if with_title {
                row.push(domain_title(domain)?);
            }
            table.row(row);
        } else {
            let mut fields = Vec::new();
            if show_uuid {
                fields.push(domain.uuid_string());
            }
            if show_id {
                // Only running domains have an id to show, unless other columns are asked for.
                if domain.id() < 0 && !show_uuid && !show_name {
                    continue;
                }
                fields.push(id);
            }
            if show_name {
                fields.push(domain.name());
            }
            session.print(format!("{}\n", fields.join(" ")));
        }
    }
    if table_mode {
        let quiet = session.options.quiet;
        session.print(table.render(!quiet));
    }
    Ok(())
}

/// `virConnectListAllDomains`, retried without the optional filters when the driver rejects
/// them (virsh does the same for older servers) and filtered here instead.
fn list_domains(conn: &Connect, flags: u32) -> Result<Vec<Domain>, Failure> {
    let failed = || "Failed to list domains".to_string();
    match conn.list_all_domains(flags) {
        Ok(domains) => Ok(domains),
        Err(error) if error.code() == ErrorNumber::INVALID_ARG => {
            let basic = flags & (list_flags::ACTIVE | list_flags::INACTIVE);
            let domains = conn.list_all_domains(basic).context(failed)?;
            let mut kept = Vec::new();
            for domain in domains {
                if matches_filters(&domain, flags).context(failed)? {
                    kept.push(domain);
                }
            }
            Ok(kept)
        }
        Err(error) => Err(error).context(failed),
    }
}

fn matches_filters(domain: &Domain, flags: u32) -> Result<bool, virt_core::Error> {
    let want = |bit: u32| flags & bit != 0;
    let either = |yes: u32, no: u32, value: bool| {
        !(want(yes) || want(no)) || (want(yes) && value) || (want(no) && !value)
    };
    let status = domain.status()?;
    if !either(
        list_flags::PERSISTENT,
        list_flags::TRANSIENT,
        status.persistent,
    ) {
        return Ok(false);
    }
    let state_filters =
        list_flags::RUNNING | list_flags::PAUSED | list_flags::SHUTOFF | list_flags::OTHER;
    if flags & state_filters != 0 {
        let (state, _) = domain_state_of(domain)?;
        let matched = (want(list_flags::RUNNING) && state == domain_state::RUNNING)
            || (want(list_flags::PAUSED) && state == domain_state::PAUSED)
            || (want(list_flags::SHUTOFF) && state == domain_state::SHUTOFF)
            || (want(list_flags::OTHER)
                && ![
                    domain_state::RUNNING,
                    domain_state::PAUSED,
                    domain_state::SHUTOFF,
                ]
                .contains(&state));
        if !matched {
            return Ok(false);
        }
    }
    if !either(
        list_flags::AUTOSTART,
        list_flags::NO_AUTOSTART,
        status.autostart,
    ) {
        return Ok(false);
    }
    if !either(
        list_flags::MANAGEDSAVE,
        list_flags::NO_MANAGEDSAVE,
        status.has_managed_save,
    ) {
        return Ok(false);
    }
    if want(list_flags::HAS_SNAPSHOT) || want(list_flags::NO_SNAPSHOT) {
        let has = !domain.list_all_snapshots(0)?.is_empty();
        if !either(list_flags::HAS_SNAPSHOT, list_flags::NO_SNAPSHOT, has) {
            return Ok(false);
        }
    }
    Ok(true)
}

// ---- dominfo, domstate, domid, domuuid, domname, dumpxml ----

#[derive(Serialize)]
struct DomainInfoJson {
    id: Option<i32>,
    name: String,
    uuid: String,
    os_type: Option<String>,
    state: &'static str,
    state_code: i32,
    cpus: u16,
    cpu_time_ns: u64,
    max_memory_kib: u64,
    used_memory_kib: u64,
    persistent: Option<bool>,
    autostart: Option<bool>,
    managed_save: Option<bool>,
}

fn cmd_dominfo(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let info = domain.info();
    let status = domain.status();
    let os_type = domain.os_type().ok();
    if args.flag("json") {
        let info = info?;
        let status = status.ok();
        let json = DomainInfoJson {
            id: (domain.id() >= 0).then(|| domain.id()),
            name: domain.name(),
            uuid: domain.uuid_string(),
            os_type,
            state: domain_state_name(i32::from(info.state)),
            state_code: i32::from(info.state),
            cpus: info.nr_virt_cpu,
            cpu_time_ns: info.cpu_time_ns,
            max_memory_kib: info.max_mem_kib,
            used_memory_kib: info.memory_kib,
            persistent: status.map(|s| s.persistent),
            autostart: status.map(|s| s.autostart),
            managed_save: status.map(|s| s.has_managed_save),
        };
        return session.print_json(&json);
    }

    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    let mut text = line("Id:", &id_text(domain.id()));
    text += &line("Name:", &domain.name());
    text += &line("UUID:", &domain.uuid_string());
    if let Some(os_type) = &os_type {
        text += &line("OS Type:", os_type);
    }
    let mut failure = None;
    match &info {
        Ok(info) => {
            text += &line("State:", domain_state_name(i32::from(info.state)));
            text += &line("CPU(s):", &info.nr_virt_cpu.to_string());
            if info.cpu_time_ns != 0 {
                text += &line(
                    "CPU time:",
                    &format!("{:.1}s", info.cpu_time_ns as f64 / 1e9),
                );
            }
            if info.max_mem_kib == u64::from(u32::MAX) {
                text += &line("Max memory:", "no limit");
            } else {
                text += &line("Max memory:", &format!("{} KiB", info.max_mem_kib));
            }
            text += &line("Used memory:", &format!("{} KiB", info.memory_kib));
        }
        Err(error) => failure = Some(Failure::from(error.clone())),
    }
    match &status {
        Ok(status) => {
            text += &line("Persistent:", yes_no(status.persistent));
            text += &line(
                "Autostart:",
                if status.autostart {
                    "enable"
                } else {
                    "disable"
                },
            );
            text += &line("Managed save:", yes_no(status.has_managed_save));
        }
        Err(_) => {
            text += &line("Persistent:", "unknown");
            text += &line("Managed save:", "unknown");
        }
    }
    // As virsh: the security model (when the driver has one that is set), then the
    // domain's label (when it has one).
    match domain.connect().node_security_model() {
        Err(error) if error.code() == virt_core::ErrorNumber::NO_SUPPORT => {}
        Err(error) => {
            session.print(text);
            return Err(error.into());
        }
        Ok(model) if model.model.is_empty() => {}
        Ok(model) => {
            text += &line("Security model:", &model.model);
            text += &line("Security DOI:", &model.doi);
            match domain.security_label() {
                Ok(labels) => {
                    if let Some(label) = labels.first().filter(|l| !l.label.is_empty()) {
                        let mode = if label.enforcing {
                            "enforcing"
                        } else {
                            "permissive"
                        };
                        text += &line("Security label:", &format!("{} ({mode})", label.label));
                    }
                }
                Err(error) => {
                    session.print(text);
                    return Err(error.into());
                }
            }
        }
    }
    session.print(text);
    failure.map_or(Ok(()), Err)
}

#[derive(Serialize)]
struct DomainStateJson {
    state: &'static str,
    state_code: i32,
    reason: &'static str,
    reason_code: i32,
}

fn cmd_domstate(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let (state, reason) = domain_state_of(&domain)?;
    if args.flag("json") {
        let json = DomainStateJson {
            state: domain_state_name(state),
            state_code: state,
            reason: domain_state_reason_name(state, reason),
            reason_code: reason,
        };
        return session.print_json(&json);
    }
    if args.flag("reason") {
        session.print(format!(
            "{} ({})\n",
            domain_state_name(state),
            domain_state_reason_name(state, reason)
        ));
    } else {
        session.print(format!("{}\n", domain_state_name(state)));
    }
    Ok(())
}

fn cmd_domid(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::NAME_OR_UUID)?;
    session.print(format!("{}\n", id_text(domain.id())));
    Ok(())
}

fn cmd_domuuid(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::NAME_OR_ID)?;
    session.print(format!("{}\n", domain.uuid_string()));
    Ok(())
}

fn cmd_domname(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ID_OR_UUID)?;
    session.print(format!("{}\n", domain.name()));
    Ok(())
}

fn cmd_dumpxml(session: &mut Session, args: &Args) -> CmdResult {
    let mut flags = 0;
    for (name, flag) in [
        ("inactive", domain_xml_flags::INACTIVE),
        ("security-info", domain_xml_flags::SECURE),
        ("update-cpu", domain_xml_flags::UPDATE_CPU),
        ("migratable", domain_xml_flags::MIGRATABLE),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let description = domain.xml_desc(flags)?;
    session.print(description);
    Ok(())
}

// ---- define, undefine, create ----

fn cmd_define(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let flags = if args.flag("validate") {
        virt_core::consts::domain_define_flags::VALIDATE
    } else {
        0
    };
    let description = files::read_xml(from)?;
    let conn = session.connect()?;
    let domain = conn
        .domain_define_xml(&description, flags)
        .context(|| format!("Failed to define domain from {from}"))?;
    session.print_extra(format!("Domain '{}' defined from {from}\n", domain.name()));
    Ok(())
}

const UNDEFINE_OPTIONS: &[OptDef] = &[
    OptDef {
        help: "domain name, id or uuid",
        ..DOMAIN
    },
    OptDef::flag("managed-save", "remove domain managed state file"),
    OptDef::string(
        "storage",
        "remove the listed storage volumes (comma separated targets or source paths)",
    ),
    OptDef::flag(
        "remove-all-storage",
        "remove all associated storage volumes (use with caution)",
    ),
    OptDef::alias("delete-snapshots", "delete-storage-volume-snapshots"),
    OptDef::flag(
        "delete-storage-volume-snapshots",
        "delete snapshots of the removed volumes too",
    ),
    OptDef::flag("wipe-storage", "wipe data on the removed volumes"),
    OptDef::flag(
        "snapshots-metadata",
        "remove all domain snapshot metadata (vm must be inactive)",
    ),
    OptDef::flag(
        "checkpoints-metadata",
        "remove all domain checkpoint metadata (vm must be inactive)",
    ),
    OptDef::flag("nvram", "remove nvram file"),
    OptDef::flag("keep-nvram", "keep nvram file"),
    OptDef::flag("tpm", "remove TPM state"),
    OptDef::flag("keep-tpm", "keep TPM state"),
];

fn cmd_undefine(session: &mut Session, args: &Args) -> CmdResult {
    let storage_list = args.raw("storage").filter(|list| !list.is_empty());
    let remove_all_storage = args.flag("remove-all-storage");
    if storage_list.is_none() && !remove_all_storage && args.flag("wipe-storage") {
        return Err(Failure::message(
            "'--wipe-storage' requires '--storage <string>' or '--remove-all-storage'",
        ));
    }
    let mut flags = 0;
    for (name, flag) in [
        ("managed-save", undefine_flags::MANAGED_SAVE),
        ("snapshots-metadata", undefine_flags::SNAPSHOTS_METADATA),
        ("checkpoints-metadata", undefine_flags::CHECKPOINTS_METADATA),
        ("nvram", undefine_flags::NVRAM),
        ("keep-nvram", undefine_flags::KEEP_NVRAM),
        ("tpm", undefine_flags::TPM),
        ("keep-tpm", undefine_flags::KEEP_TPM),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let (managed_save, snapshots_metadata) =
        (args.flag("managed-save"), args.flag("snapshots-metadata"));
    let status = domain.status()?;
    // virsh's plan: only hand the driver flags for what exists, and where it cannot prove the
    // flags are understood, do the removal piece by piece.
    let mut has_managed_save = false;
    let mut n_snapshots = 0;
    let mut n_snapshots_with_metadata = 0;
    let mut managed_save_safe = managed_save;
    let mut snapshots_safe = snapshots_metadata;
    if !status.active {
        has_managed_save = status.has_managed_save;
        n_snapshots = domain.list_all_snapshots(0).map(|s| s.len()).unwrap_or(0);
        if n_snapshots > 0 {
            match domain.list_all_snapshots(virt_core::consts::domain_snapshot_list_flags::METADATA)
            {
                Ok(with_metadata) => {
                    n_snapshots_with_metadata = with_metadata.len();
                    managed_save_safe = true;
                    snapshots_safe = true;
                }
                Err(_) => n_snapshots_with_metadata = n_snapshots,
            }
        }
    }
    if !has_managed_save {
        flags &= !undefine_flags::MANAGED_SAVE;
        managed_save_safe = true;
    }
    if n_snapshots == 0 {
        snapshots_safe = true;
    }
    if n_snapshots_with_metadata == 0 {
        flags &= !undefine_flags::SNAPSHOTS_METADATA;
        snapshots_safe = true;
    }

    let volumes = if storage_list.is_some() || remove_all_storage {
        if status.active {
            return Err(Failure::message(
                "Storage volume deletion is supported only on stopped domains",
            ));
        }
        if storage_list.is_some() && remove_all_storage {
            return Err(Failure::message(
                "Specified both --storage and --remove-all-storage",
            ));
        }
        crate::storage::volumes_of_domain(session, &domain, storage_list)?
    } else {
        Vec::new()
    };

    let failed = || format!("Failed to undefine domain '{name}'");
    let nvram = args.flag("nvram");
    let mut undefined = false;
    if (managed_save_safe && snapshots_safe) || nvram {
        match domain.undefine(flags) {
            Ok(()) => undefined = true,
            Err(error)
                if !nvram
                    && [ErrorNumber::NO_SUPPORT, ErrorNumber::INVALID_ARG]
                        .contains(&error.code()) => {}
            Err(error) => return Err(error).context(failed),
        }
    }
    if !undefined {
        // Piece by piece: the managed save image, then the plain undefine.
        if has_managed_save {
            if !managed_save {
                return Err(Failure::message(
                    "Refusing to undefine while domain managed save image exists",
                ));
            }
            domain.managed_save_remove(0)?;
        }
        if n_snapshots_with_metadata > 0 {
            return Err(Failure::message(if snapshots_metadata {
                format!("Unable to remove metadata of {n_snapshots_with_metadata} snapshots")
            } else {
                format!("Refusing to undefine while {n_snapshots_with_metadata} snapshots exist")
            }));
        }
        domain.undefine(0).context(failed)?;
    }
    session.print_extra(format!("Domain '{name}' has been undefined\n"));
    crate::storage::remove_domain_volumes(
        session,
        volumes,
        args.flag("wipe-storage"),
        args.flag("delete-storage-volume-snapshots"),
    )
}

/// Fails for `--pass-fds`: passing file descriptors to an in-process driver needs
/// `virDomainCreateWithFiles`, which virt-core does not have.
fn refuse_pass_fds(args: &Args) -> CmdResult {
    if let Some(list) = args.string("pass-fds")? {
        for word in list.split(',') {
            if word.parse::<u32>().is_err() {
                return Err(Failure::message(format!(
                    "Unable to parse FD number '{word}'"
                )));
            }
        }
        return Err(Error::no_support(ErrorDomain::NONE, "virDomainCreateWithFiles").into());
    }
    Ok(())
}

fn cmd_create(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let description = files::read_xml(from)?;
    refuse_pass_fds(args)?;
    let mut flags = 0;
    for (name, flag) in [
        ("paused", domain_create_flags::START_PAUSED),
        ("autodestroy", domain_create_flags::START_AUTODESTROY),
        ("validate", domain_create_flags::START_VALIDATE),
        ("reset-nvram", domain_create_flags::START_RESET_NVRAM),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    let conn = session.connect()?;
    let domain = conn
        .domain_create_xml(&description, flags)
        .context(|| format!("Failed to create domain from {from}"))?;
    session.print_extra(format!("Domain '{}' created from {from}\n", domain.name()));
    if args.flag("console") {
        // As virsh, a console that cannot attach does not undo the creation.
        if let Err(failure) = console::attach(session, &domain, None, 0) {
            session.report(&failure);
        }
    }
    Ok(())
}

// ---- start, shutdown, reboot, reset, destroy, suspend, resume ----

const START_OPTIONS: &[OptDef] = &[
    OptDef::positional("domain", "name of the inactive domain"),
    OptDef::flag("console", "attach to console after creation"),
    OptDef::flag("paused", "leave the guest paused after creation"),
    OptDef::flag(
        "autodestroy",
        "automatically destroy the guest when rvirsh disconnects",
    ),
    OptDef::flag("bypass-cache", "avoid file system cache when loading"),
    OptDef::flag(
        "force-boot",
        "force fresh boot by discarding any managed save",
    ),
    OptDef::string("pass-fds", "pass file descriptors N,M,... to the guest"),
    OptDef::flag(
        "reset-nvram",
        "re-initialize NVRAM from its pristine template",
    ),
];

fn cmd_start(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::NAME_OR_UUID)?;
    if domain.id() >= 0 {
        return Err(Failure::message("Domain is already active"));
    }
    refuse_pass_fds(args)?;
    let mut flags = 0;
    for (name, flag) in [
        ("paused", domain_create_flags::START_PAUSED),
        ("autodestroy", domain_create_flags::START_AUTODESTROY),
        ("bypass-cache", domain_create_flags::START_BYPASS_CACHE),
        ("force-boot", domain_create_flags::START_FORCE_BOOT),
        ("reset-nvram", domain_create_flags::START_RESET_NVRAM),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    if flags & domain_create_flags::START_FORCE_BOOT != 0 {
        match domain.create(flags) {
            Ok(()) => return started(session, &domain, args),
            Err(error)
                if [ErrorNumber::NO_SUPPORT, ErrorNumber::INVALID_ARG].contains(&error.code()) =>
            {
                // Emulate a forced boot: drop the managed save image, then start normally.
                if domain.has_managed_save().unwrap_or(false) {
                    domain.managed_save_remove(0)?;
                }
                flags &= !domain_create_flags::START_FORCE_BOOT;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let name = domain.name();
    domain
        .create(flags)
        .context(|| format!("Failed to start domain '{name}'"))?;
    started(session, &domain, args)
}

fn started(session: &mut Session, domain: &Domain, args: &Args) -> CmdResult {
    session.print_extra(format!("Domain '{}' started\n", domain.name()));
    if args.flag("console") {
        console::attach(session, domain, None, 0)?;
    }
    Ok(())
}

/// Reads `--mode acpi,agent,...` into shutdown/reboot flags; the two commands word their
/// error differently, as in virsh.
fn shutdown_mode_flags(args: &Args, unknown_mode: fn(&str) -> String) -> Result<u32, Failure> {
    let Some(modes) = args.string("mode")? else {
        return Ok(0);
    };
    let mut flags = 0;
    for mode in modes.split(',') {
        flags |= match mode {
            "acpi" => domain_shutdown_flag_values::ACPI_POWER_BTN,
            "agent" => domain_shutdown_flag_values::GUEST_AGENT,
            "initctl" => domain_shutdown_flag_values::INITCTL,
            "signal" => domain_shutdown_flag_values::SIGNAL,
            "paravirt" => domain_shutdown_flag_values::PARAVIRT,
            other => return Err(Failure::message(unknown_mode(other))),
        };
    }
    // The reboot flags have the same values as the shutdown flags.
    debug_assert_eq!(
        domain_reboot_flag_values::PARAVIRT,
        domain_shutdown_flag_values::PARAVIRT
    );
    Ok(flags)
}

fn cmd_shutdown(session: &mut Session, args: &Args) -> CmdResult {
    let flags = shutdown_mode_flags(args, |mode| {
        format!("Unknown mode {mode} value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'")
    })?;
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .shutdown(flags)
        .context(|| format!("Failed to shutdown domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' is being shutdown\n"));
    Ok(())
}

fn cmd_reboot(session: &mut Session, args: &Args) -> CmdResult {
    let flags = shutdown_mode_flags(args, |mode| {
        format!("Unknown mode {mode} value, expecting 'acpi', 'agent', 'initctl', 'signal' or 'paravirt'")
    })?;
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .reboot(flags)
        .context(|| format!("Failed to reboot domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' is being rebooted\n"));
    Ok(())
}

fn cmd_reset(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .reset(0)
        .context(|| format!("Failed to reset domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' was reset\n"));
    Ok(())
}

fn cmd_destroy(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let mut flags = 0;
    if args.flag("graceful") {
        flags |= domain_destroy_flags_values::GRACEFUL;
    }
    if args.flag("remove-logs") {
        flags |= domain_destroy_flags_values::REMOVE_LOGS;
    }
    domain
        .destroy(flags)
        .context(|| format!("Failed to destroy domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' destroyed\n"));
    Ok(())
}

fn cmd_suspend(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .suspend()
        .context(|| format!("Failed to suspend domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' suspended\n"));
    Ok(())
}

fn cmd_resume(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .resume()
        .context(|| format!("Failed to resume domain '{name}'"))?;
    session.print_extra(format!("Domain '{name}' resumed\n"));
    Ok(())
}

fn cmd_autostart(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let enable = !args.flag("disable");
    domain.set_autostart(enable).context(|| {
        if enable {
            format!("Failed to mark domain '{name}' as autostarted")
        } else {
            format!("Failed to unmark domain '{name}' as autostarted")
        }
    })?;
    if enable {
        session.print_extra(format!("Domain '{name}' marked as autostarted\n"));
    } else {
        session.print_extra(format!("Domain '{name}' unmarked as autostarted\n"));
    }
    Ok(())
}

fn cmd_domrename(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let new_name = args.required("new-name")?;
    domain.rename(new_name, 0)?;
    session.print_extra("Domain successfully renamed\n");
    Ok(())
}

// ---- save, restore, managedsave ----

fn save_flags(args: &Args) -> u32 {
    let mut flags = 0;
    for (name, flag) in [
        ("bypass-cache", domain_save_restore_flags::BYPASS_CACHE),
        ("running", domain_save_restore_flags::RUNNING),
        ("paused", domain_save_restore_flags::PAUSED),
        ("reset-nvram", domain_save_restore_flags::RESET_NVRAM),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    flags
}

fn cmd_save(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let to = args.required("file")?;
    let updated_xml = match args.string("xml")? {
        Some(path) => Some(files::read_xml(path)?),
        None => None,
    };
    domain
        .save(to, updated_xml.as_deref(), save_flags(args))
        .context(|| format!("Failed to save domain '{name}' to {to}"))?;
    if args.flag("verbose") {
        session.progress("Save", 100);
    }
    session.print_extra(format!("\nDomain '{name}' saved to {to}\n"));
    Ok(())
}

fn cmd_restore(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let updated_xml = match args.string("xml")? {
        Some(path) => Some(files::read_xml(path)?),
        None => None,
    };
    let conn = session.connect()?;
    conn.domain_restore(from, updated_xml.as_deref(), save_flags(args))
        .context(|| format!("Failed to restore domain from {from}"))?;
    session.print_extra(format!("Domain restored from {from}\n"));
    Ok(())
}

fn cmd_managedsave(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    domain
        .managed_save(save_flags(args))
        .context(|| format!("Failed to save domain '{name}' state"))?;
    if args.flag("verbose") {
        session.progress("Managedsave", 100);
    }
    session.print_extra(format!("\nDomain '{name}' state saved by libvirt\n"));
    Ok(())
}

fn cmd_managedsave_remove(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let has_image = domain
        .has_managed_save()
        .context(|| "Failed to check for domain managed save image".to_string())?;
    if !has_image {
        session.print_extra(format!(
            "Domain '{name}' has no manage save image; removal skipped"
        ));
        return Ok(());
    }
    domain
        .managed_save_remove(0)
        .context(|| format!("Failed to remove managed save image for domain '{name}'"))?;
    session.print_extra(format!("Removed managedsave image for domain '{name}'"));
    Ok(())
}

// ---- domxml-to-native, console ----

fn cmd_domxml_to_native(session: &mut Session, args: &Args) -> CmdResult {
    let format = args.required("format")?;
    let xml_file = args.string("xml")?;
    exclusive(args, "domain", "xml")?;
    let conn = session.connect()?;
    let description = if args.flag("domain") {
        let key = args.required("domain")?;
        lookup(&conn, key, LookupBy::ANY)?
            .xml_desc(0)
            .map_err(|_| Failure::message("failed to retrieve XML"))?
    } else if let Some(path) = xml_file {
        files::read_xml(path)?
    } else {
        return Err(Failure::message("need either domain or domain XML"));
    };
    let native = conn.domain_xml_to_native(format, &description, 0)?;
    session.print(native);
    Ok(())
}

fn cmd_console(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let dev_name = args.string("devname")?.map(str::to_string);
    let mut flags = 0;
    if args.flag("force") {
        flags |= virt_core::consts::domain_console_flags::FORCE;
    }
    if args.flag("safe") {
        flags |= virt_core::consts::domain_console_flags::SAFE;
    }
    console::attach(session, &domain, dev_name.as_deref(), flags)
}

/// The domain commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "autostart",
        group: Group::DomainManagement,
        summary: "autostart a domain",
        description: "Configure a domain to be automatically started at boot.",
        options: &[DOMAIN, OptDef::flag("disable", "disable autostarting")],
        needs_connection: true,
        handler: cmd_autostart,
    },
    CommandDef {
        name: "console",
        group: Group::DomainManagement,
        summary: "connect to the guest console",
        description: "Connect the terminal to the guest's serial console.",
        options: &[
            DOMAIN,
            OptDef::string("devname", "character device name"),
            OptDef::flag(
                "force",
                "force console connection (disconnect already connected sessions)",
            ),
            OptDef::flag("safe", "only connect if safe console handling is supported"),
        ],
        needs_connection: true,
        handler: cmd_console,
    },
    CommandDef {
        name: "create",
        group: Group::DomainManagement,
        summary: "create a domain from an XML file",
        description: "Create and start a transient domain.",
        options: &[
            FILE_XML,
            OptDef::flag("console", "attach to console after creation"),
            OptDef::flag("paused", "leave the guest paused after creation"),
            OptDef::flag(
                "autodestroy",
                "automatically destroy the guest when rvirsh disconnects",
            ),
            OptDef::string("pass-fds", "pass file descriptors N,M,... to the guest"),
            OptDef::flag("validate", "validate the XML against the schema"),
            OptDef::flag(
                "reset-nvram",
                "re-initialize NVRAM from its pristine template",
            ),
        ],
        needs_connection: true,
        handler: cmd_create,
    },
    CommandDef {
        name: "define",
        group: Group::DomainManagement,
        summary: "define (but don't start) a domain from an XML file",
        description: "Define a persistent domain.",
        options: &[
            FILE_XML,
            OptDef::flag("validate", "validate the XML against the schema"),
        ],
        needs_connection: true,
        handler: cmd_define,
    },
    CommandDef {
        name: "destroy",
        group: Group::DomainManagement,
        summary: "destroy (stop) a domain",
        description: "Stop a domain at once; its configuration and storage stay.",
        options: &[
            DOMAIN,
            OptDef::flag("graceful", "terminate gracefully"),
            OptDef::flag("remove-logs", "remove domain logs"),
        ],
        needs_connection: true,
        handler: cmd_destroy,
    },
    CommandDef {
        name: "domid",
        group: Group::DomainManagement,
        summary: "convert a domain name or UUID to domain id",
        description: "",
        options: &[OptDef::positional("domain", "domain name or uuid")],
        needs_connection: true,
        handler: cmd_domid,
    },
    CommandDef {
        name: "domname",
        group: Group::DomainManagement,
        summary: "convert a domain id or UUID to domain name",
        description: "",
        options: &[OptDef::positional("domain", "domain id or uuid")],
        needs_connection: true,
        handler: cmd_domname,
    },
    CommandDef {
        name: "domrename",
        group: Group::DomainManagement,
        summary: "rename a domain",
        description: "Rename an inactive domain.",
        options: &[
            OptDef::positional("domain", "domain name or uuid"),
            OptDef::positional("new-name", "new domain name"),
        ],
        needs_connection: true,
        handler: cmd_domrename,
    },
    CommandDef {
        name: "domuuid",
        group: Group::DomainManagement,
        summary: "convert a domain name or id to domain UUID",
        description: "",
        options: &[OptDef::positional("domain", "domain id or name")],
        needs_connection: true,
        handler: cmd_domuuid,
    },
    CommandDef {
        name: "domxml-to-native",
        group: Group::DomainManagement,
        summary: "Convert domain XML to native config",
        description: "Print a domain's XML in a driver's native configuration format.",
        options: &[
            OptDef::positional("format", "target config data type format"),
            OptDef::named("domain", "domain name, id or uuid"),
            OptDef::string("xml", "xml data file to export from"),
        ],
        needs_connection: true,
        handler: cmd_domxml_to_native,
    },
    CommandDef {
        name: "dumpxml",
        group: Group::DomainManagement,
        summary: "domain information in XML",
        description: "Print the domain's XML description.",
        options: &[
            DOMAIN,
            OptDef::flag("inactive", "show inactive defined XML"),
            OptDef::flag(
                "security-info",
                "include security sensitive information in XML dump",
            ),
            OptDef::flag("update-cpu", "update guest CPU according to host CPU"),
            OptDef::flag("migratable", "provide XML suitable for migrations"),
        ],
        needs_connection: true,
        handler: cmd_dumpxml,
    },
    CommandDef {
        name: "managedsave",
        group: Group::DomainManagement,
        summary: "managed save of a domain state",
        description:
            "Save a running domain's state and stop it; the next 'start' resumes from that state.",
        options: &[
            DOMAIN,
            OptDef::flag("bypass-cache", "avoid file system cache when saving"),
            OptDef::flag("running", "set domain to be running on next start"),
            OptDef::flag("paused", "set domain to be paused on next start"),
            OptDef::flag("verbose", "display the progress of save"),
        ],
        needs_connection: true,
        handler: cmd_managedsave,
    },
    CommandDef {
        name: "managedsave-remove",
        group: Group::DomainManagement,
        summary: "Remove managed save of a domain",
        description: "Remove a domain's managed save state.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_managedsave_remove,
    },
    CommandDef {
        name: "reboot",
        group: Group::DomainManagement,
        summary: "reboot a domain",
        description: "Ask the guest to reboot.",
        options: &[
            DOMAIN,
            OptDef::string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"),
        ],
        needs_connection: true,
        handler: cmd_reboot,
    },
    CommandDef {
        name: "reset",
        group: Group::DomainManagement,
        summary: "reset a domain",
        description: "Reset the domain as if by its reset button.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_reset,
    },
    CommandDef {
        name: "restore",
        group: Group::DomainManagement,
        summary: "restore a domain from a saved state in a file",
        description: "Restore a domain saved with 'save'.",
        options: &[
            OptDef::positional("file", "the state to restore"),
            OptDef::flag("bypass-cache", "avoid file system cache when restoring"),
            OptDef::string("xml", "filename containing updated XML for the target"),
            OptDef::flag("running", "restore domain into running state"),
            OptDef::flag("paused", "restore domain into paused state"),
            OptDef::flag(
                "reset-nvram",
                "re-initialize NVRAM from its pristine template",
            ),
        ],
        needs_connection: true,
        handler: cmd_restore,
    },
    CommandDef {
        name: "resume",
        group: Group::DomainManagement,
        summary: "resume a domain",
        description: "Resume a suspended domain.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_resume,
    },
    CommandDef {
        name: "save",
        group: Group::DomainManagement,
        summary: "save a domain state to a file",
        description: "Save a running domain's state to a file and stop it.",
        options: &[
            DOMAIN,
            OptDef::positional("file", "where to save the data"),
            OptDef::flag("bypass-cache", "avoid file system cache when saving"),
            OptDef::string("xml", "filename containing updated XML for the target"),
            OptDef::flag("running", "set domain to be running on restore"),
            OptDef::flag("paused", "set domain to be paused on restore"),
            OptDef::flag("verbose", "display the progress of save"),
        ],
        needs_connection: true,
        handler: cmd_save,
    },
    CommandDef {
        name: "shutdown",
        group: Group::DomainManagement,
        summary: "gracefully shutdown a domain",
        description: "Ask the guest to shut down.",
        options: &[
            DOMAIN,
            OptDef::string("mode", "shutdown mode: acpi|agent|initctl|signal|paravirt"),
        ],
        needs_connection: true,
        handler: cmd_shutdown,
    },
    CommandDef {
        name: "start",
        group: Group::DomainManagement,
        summary: "start a (previously defined) inactive domain",
        description: "Start a domain, from its managed save state if it has one.",
        options: START_OPTIONS,
        needs_connection: true,
        handler: cmd_start,
    },
    CommandDef {
        name: "suspend",
        group: Group::DomainManagement,
        summary: "suspend a domain",
        description: "Pause a running domain.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_suspend,
    },
    CommandDef {
        name: "undefine",
        group: Group::DomainManagement,
        summary: "undefine a domain",
        description: "Remove an inactive domain's configuration, or make an active one transient.",
        options: UNDEFINE_OPTIONS,
        needs_connection: true,
        handler: cmd_undefine,
    },
    CommandDef {
        name: "dominfo",
        group: Group::DomainMonitoring,
        summary: "domain information",
        description: "Print basic information about the domain.",
        options: &[DOMAIN, JSON_OPT],
        needs_connection: true,
        handler: cmd_dominfo,
    },
    CommandDef {
        name: "domstate",
        group: Group::DomainMonitoring,
        summary: "domain state",
        description: "Print the domain's state.",
        options: &[
            DOMAIN,
            OptDef::flag("reason", "also print reason for the state"),
            JSON_OPT,
        ],
        needs_connection: true,
        handler: cmd_domstate,
    },
    CommandDef {
        name: "list",
        group: Group::DomainMonitoring,
        summary: "list domains",
        description: "List domains; running ones only unless asked otherwise.",
        options: LIST_OPTIONS,
        needs_connection: true,
        handler: cmd_list,
    },
];
