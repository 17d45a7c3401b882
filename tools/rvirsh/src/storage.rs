//! Storage commands: pools (`pool-*`) and volumes (`vol-*`), and the volume removal that
//! `undefine --remove-all-storage` does.

use serde::Serialize;
use virt_core::blocking::{Connect, Domain, StoragePool, StorageVol};
use virt_core::consts::{
    connect_list_all_storage_pools_flags as list_flags, storage_pool_build_flags,
    storage_pool_create_flags, storage_pool_state, storage_vol_create_flags,
    storage_vol_delete_flags, storage_vol_info_flags, storage_vol_resize_flags, storage_xml_flags,
};
use virt_core::ErrorNumber;

use crate::command::{CommandDef, Group, OptDef, JSON_OPT};
use crate::format::{
    parse_scaled, pool_state_name, pretty_bytes, volume_type_name, yes_no, ScaleError,
};
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Failure, Session};
use crate::table::Table;
use crate::{files, xml};

const POOL: OptDef = OptDef::positional("pool", "pool name or uuid");
const POOL_OPTIONAL: OptDef = OptDef::string("pool", "pool name or uuid");
const VOL: OptDef = OptDef::positional("vol", "vol name, key or path");
const FILE_XML: OptDef = OptDef::positional("file", "file containing an XML pool description");
const BUILD: OptDef = OptDef::flag("build", "build the pool as normal");
const NO_OVERWRITE: OptDef = OptDef::flag("no-overwrite", "do not overwrite any existing data");
const OVERWRITE: OptDef = OptDef::flag("overwrite", "overwrite any existing data");

/// Finds the pool a user named, by UUID (if it looks like one) then by name.
fn lookup_pool(
    conn: &Connect,
    key: &str,
    by_uuid: bool,
    by_name: bool,
) -> Result<StoragePool, Failure> {
    let mut last_error = None;
    if by_uuid && key.len() == 36 {
        match conn.storage_pool_lookup_by_uuid_string(key) {
            Ok(pool) => return Ok(pool),
            Err(error) => last_error = Some(error),
        }
    }
    if by_name {
        match conn.storage_pool_lookup_by_name(key) {
            Ok(pool) => return Ok(pool),
            Err(error) => last_error = Some(error),
        }
    }
    Err(Failure {
        messages: vec![format!("failed to get pool '{key}'")],
        cause: last_error,
    })
}

fn pool_option<'a>(
    session: &mut Session,
    args: &'a Args,
) -> Result<(StoragePool, &'a str), Failure> {
    let key = args.required("pool")?;
    let conn = session.connect()?;
    Ok((lookup_pool(&conn, key, true, true)?, key))
}

/// Finds the volume a user named (virsh's `virshCommandOptVolBy`): by name within `--pool`
/// if given, then by key, then by path.
fn lookup_volume(conn: &Connect, key: &str, pool_key: Option<&str>) -> Result<StorageVol, Failure> {
    let pool = match pool_key {
        Some(pool_key) => {
            let pool = lookup_pool(conn, pool_key, true, true)?;
            if !pool.is_active().unwrap_or(false) {
                return Err(Failure::message(format!("pool '{pool_key}' is not active")));
            }
            Some(pool)
        }
        None => None,
    };
    let mut last_error = None;
    let mut found = None;
    if let Some(pool) = &pool {
        match pool.volume_lookup_by_name(key) {
            Ok(volume) => found = Some(volume),
            Err(error) => last_error = Some(error),
        }
    }
    if found.is_none() {
        match conn.storage_vol_lookup_by_key(key) {
            Ok(volume) => found = Some(volume),
            Err(error) => last_error = Some(error),
        }
    }
    if found.is_none() {
        match conn.storage_vol_lookup_by_path(key) {
            Ok(volume) => found = Some(volume),
            Err(error) => last_error = Some(error),
        }
    }
    let Some(volume) = found else {
        let line = if pool_key.is_some() {
            format!("failed to get vol '{key}'")
        } else {
            format!("failed to get vol '{key}', specifying --pool might help")
        };
        return Err(Failure {
            messages: vec![line],
            cause: last_error,
        });
    };
    if let Some(pool) = &pool {
        if volume.pool_name() != pool.name() {
            return Err(Failure::message(format!(
                "Requested volume '{key}' is not in pool '{}'",
                pool.name()
            )));
        }
    }
    Ok(volume)
}

fn volume_option<'a>(
    session: &mut Session,
    args: &'a Args,
) -> Result<(StorageVol, &'a str), Failure> {
    let key = args.required("vol")?;
    let pool = args.string("pool")?;
    let conn = session.connect()?;
    Ok((lookup_volume(&conn, key, pool)?, key))
}

fn exclusive(first: (&str, bool), second: (&str, bool)) -> CmdResult {
    if first.1 && second.1 {
        return Err(Failure::message(format!(
            "Options --{} and --{} are mutually exclusive",
            first.0, second.0
        )));
    }
    Ok(())
}

/// `--build`/`--overwrite`/`--no-overwrite` as pool creation flags.
fn build_flags(args: &Args) -> Result<u32, Failure> {
    let (build, overwrite, no_overwrite) = (
        args.flag("build"),
        args.flag("overwrite"),
        args.flag("no-overwrite"),
    );
    exclusive(("overwrite", overwrite), ("no-overwrite", no_overwrite))?;
    let mut flags = 0;
    if build {
        flags |= storage_pool_create_flags::WITH_BUILD;
    }
    if overwrite {
        flags |= storage_pool_create_flags::WITH_BUILD_OVERWRITE;
    }
    if no_overwrite {
        flags |= storage_pool_create_flags::WITH_BUILD_NO_OVERWRITE;
    }
    Ok(flags)
}

// ---- pools ----

/// Pool type names and their `virConnectListAllStoragePools` filter bits.
const POOL_TYPES: &[(&str, u32)] = &[
    ("dir", list_flags::DIR),
    ("fs", list_flags::FS),
    ("netfs", list_flags::NETFS),
    ("logical", list_flags::LOGICAL),
    ("disk", list_flags::DISK),
    ("iscsi", list_flags::ISCSI),
    ("iscsi-direct", list_flags::ISCSI_DIRECT),
    ("scsi", list_flags::SCSI),
    ("mpath", list_flags::MPATH),
    ("rbd", list_flags::RBD),
    ("sheepdog", list_flags::SHEEPDOG),
    ("gluster", list_flags::GLUSTER),
    ("zfs", list_flags::ZFS),
    ("vstorage", list_flags::VSTORAGE),
];

/// Splits a comma-separated list where ",," stands for a literal comma (virsh's
/// `vshStringToArray`).
pub fn split_list(text: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' && chars.peek() != Some(&',') {
            items.push(String::new());
            continue;
        }
        if c == ',' {
            chars.next(); // ",," is one literal comma
        }
        if let Some(item) = items.last_mut() {
            item.push(c);
        }
    }
    items
}

#[derive(Serialize)]
struct PoolJson {
    name: String,
    uuid: String,
    state: &'static str,
    state_code: i32,
    active: bool,
    persistent: bool,
    autostart: bool,
    /// Bytes; absent while the pool is inactive.
    capacity: Option<u64>,
    allocation: Option<u64>,
    available: Option<u64>,
}

fn pool_json(pool: &StoragePool) -> Result<PoolJson, Failure> {
    let status = pool.status()?;
    let info = pool.info()?;
    let has_sizes =
        [storage_pool_state::RUNNING, storage_pool_state::DEGRADED].contains(&info.state);
    Ok(PoolJson {
        name: pool.name().to_string(),
        uuid: pool.uuid_string(),
        state: pool_state_name(info.state),
        state_code: info.state,
        active: status.active,
        persistent: status.persistent,
        autostart: status.autostart,
        capacity: has_sizes.then_some(info.capacity),
        allocation: has_sizes.then_some(info.allocation),
        available: has_sizes.then_some(info.available),
    })
}

/// One row of `pool-list`, as text.
struct PoolRow {
    name: String,
    state: String,
    autostart: String,
    persistent: String,
    capacity: String,
    allocation: String,
    available: String,
}

fn cmd_pool_list(session: &mut Session, args: &Args) -> CmdResult {
    let details = args.flag("details");
    let (inactive, all) = (args.flag("inactive"), args.flag("all"));
    exclusive(("all", all), ("inactive", inactive))?;
    let mut flags = list_flags::ACTIVE;
    if inactive {
        flags = list_flags::INACTIVE;
    }
    if all {
        flags = list_flags::ACTIVE | list_flags::INACTIVE;
    }
    for (name, flag) in [
        ("autostart", list_flags::AUTOSTART),
        ("no-autostart", list_flags::NO_AUTOSTART),
        ("persistent", list_flags::PERSISTENT),
        ("transient", list_flags::TRANSIENT),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    let (show_uuid, show_name) = (args.flag("uuid"), args.flag("name"));
    let types = args.string("type")?;
    exclusive(("details", details), ("uuid", show_uuid))?;
    exclusive(("details", details), ("name", show_name))?;
    if let Some(types) = types {
        for kind in split_list(types) {
            let (_, bit) = POOL_TYPES
                .iter()
                .find(|(name, _)| *name == kind)
                .ok_or_else(|| Failure::message(format!("Invalid pool type '{kind}'")))?;
            flags |= bit;
        }
    }
    let conn = session.connect()?;
    let mut pools = list_pools(&conn, flags)?;
    pools.sort_by_key(|pool| pool.name().to_ascii_lowercase());

    if args.flag("json") {
        let entries = pools.iter().map(pool_json).collect::<Result<Vec<_>, _>>()?;
        return session.print_json(&entries);
    }

    let mut rows = Vec::new();
    for pool in &pools {
        let status = pool.status();
        let autostart = match &status {
            Ok(status) => yes_no(status.autostart).to_string(),
            Err(_) => "no autostart".to_string(),
        };
        let persistent = match &status {
            Ok(status) => yes_no(status.persistent).to_string(),
            Err(_) => "unknown".to_string(),
        };
        let mut row = PoolRow {
            name: pool.name().to_string(),
            state: String::new(),
            autostart,
            persistent,
            capacity: String::new(),
            allocation: String::new(),
            available: String::new(),
        };
        match pool.info() {
            Err(_) => {
                session.error("Could not retrieve pool information");
                row.state = "unknown".into();
                row.capacity = "unknown".into();
                row.allocation = "unknown".into();
                row.available = "unknown".into();
            }
            Ok(info) if details => {
                row.state = pool_state_name(info.state).to_string();
                if [storage_pool_state::RUNNING, storage_pool_state::DEGRADED].contains(&info.state)
                {
                    row.capacity = pretty_bytes(info.capacity);
                    row.allocation = pretty_bytes(info.allocation);
                    row.available = pretty_bytes(info.available);
                } else {
                    row.capacity = "-".into();
                    row.allocation = "-".into();
                    row.available = "-".into();
                }
            }
            Ok(_) => {
                let active = status.as_ref().map_or(true, |s| s.active);
                row.state = if active { "active" } else { "inactive" }.to_string();
            }
        }
        rows.push(row);
    }

    if !details && (show_uuid || show_name) {
        for pool in &pools {
            let mut line = String::new();
            if show_uuid {
                line += &format!(
                    "{:<36}{}",
                    pool.uuid_string(),
                    if show_name { ' ' } else { '\n' }
                );
            }
            if show_name {
                line += &format!("{:<20}\n", pool.name());
            }
            session.print(line);
        }
        return Ok(());
    }
    let table = if details {
        let mut table = Table::new(&[
            "Name",
            "State",
            "Autostart",
            "Persistent",
            "Capacity",
            "Allocation",
            "Available",
        ]);
        for row in rows {
            table.row(vec![
                row.name,
                row.state,
                row.autostart,
                row.persistent,
                row.capacity,
                row.allocation,
                row.available,
            ]);
        }
        table
    } else {
        let mut table = Table::new(&["Name", "State", "Autostart"]);
        for row in rows {
            table.row(vec![row.name, row.state, row.autostart]);
        }
        table
    };
    let quiet = session.options.quiet;
    session.print(table.render(!quiet));
    Ok(())
}

/// `virConnectListAllStoragePools`, falling back to filtering here when the driver rejects
/// the optional filters.
fn list_pools(conn: &Connect, flags: u32) -> Result<Vec<StoragePool>, Failure> {
    let failed = || "Failed to list pools".to_string();
    match conn.list_all_storage_pools(flags) {
        Ok(pools) => Ok(pools),
        Err(error) if error.code() == ErrorNumber::INVALID_ARG => {
            let basic = flags & (list_flags::ACTIVE | list_flags::INACTIVE);
            let mut kept = Vec::new();
            for pool in conn.list_all_storage_pools(basic).context(failed)? {
                let status = pool.status().context(failed)?;
                let want = |bit: u32| flags & bit != 0;
                let either = |yes: u32, no: u32, value: bool| {
                    !(want(yes) || want(no)) || (want(yes) && value) || (want(no) && !value)
                };
                if either(
                    list_flags::PERSISTENT,
                    list_flags::TRANSIENT,
                    status.persistent,
                ) && either(
                    list_flags::AUTOSTART,
                    list_flags::NO_AUTOSTART,
                    status.autostart,
                ) {
                    kept.push(pool);
                }
            }
            Ok(kept)
        }
        Err(error) => Err(error).context(failed),
    }
}

fn cmd_pool_info(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, _) = pool_option(session, args)?;
    if args.flag("json") {
        let json = pool_json(&pool)?;
        return session.print_json(&json);
    }
    let bytes = args.flag("bytes");
    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    let mut text = line("Name:", pool.name());
    text += &line("UUID:", &pool.uuid_string());
    let info = pool.info();
    if let Ok(info) = &info {
        text += &line("State:", pool_state_name(info.state));
        let status = pool.status();
        text += &line(
            "Persistent:",
            status.as_ref().map_or("unknown", |s| yes_no(s.persistent)),
        );
        text += &line(
            "Autostart:",
            status
                .as_ref()
                .map_or("no autostart", |s| yes_no(s.autostart)),
        );
        if [storage_pool_state::RUNNING, storage_pool_state::DEGRADED].contains(&info.state) {
            for (label, value) in [
                ("Capacity:", info.capacity),
                ("Allocation:", info.allocation),
                ("Available:", info.available),
            ] {
                if bytes {
                    text += &line(label, &value.to_string());
                } else {
                    text += &line(label, &pretty_bytes(value));
                }
            }
        }
    }
    session.print(text);
    info.map(|_| ()).map_err(Failure::from)
}

fn cmd_pool_define(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let flags = if args.flag("validate") {
        virt_core::consts::storage_pool_define_flags::VALIDATE
    } else {
        0
    };
    let description = files::read_xml(from)?;
    let conn = session.connect()?;
    let pool = conn
        .storage_pool_define_xml(&description, flags)
        .context(|| format!("Failed to define pool from {from}"))?;
    session.print_extra(format!("Pool {} defined from {from}\n", pool.name()));
    Ok(())
}

fn cmd_pool_create(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let flags = build_flags(args)?;
    let description = files::read_xml(from)?;
    let conn = session.connect()?;
    let pool = conn
        .storage_pool_create_xml(&description, flags)
        .context(|| format!("Failed to create pool from {from}"))?;
    session.print_extra(format!("Pool {} created from {from}\n", pool.name()));
    Ok(())
}

fn cmd_pool_start(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    let flags = build_flags(args)?;
    pool.create(flags)
        .context(|| format!("Failed to start pool {name}"))?;
    session.print_extra(format!("Pool {name} started\n"));
    Ok(())
}

fn cmd_pool_build(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    let mut flags = 0;
    if args.flag("no-overwrite") {
        flags |= storage_pool_build_flags::NO_OVERWRITE;
    }
    if args.flag("overwrite") {
        flags |= storage_pool_build_flags::OVERWRITE;
    }
    pool.build(flags)
        .context(|| format!("Failed to build pool {name}"))?;
    session.print_extra(format!("Pool {name} built\n"));
    Ok(())
}

fn cmd_pool_destroy(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    pool.destroy()
        .context(|| format!("Failed to destroy pool {name}"))?;
    session.print_extra(format!("Pool {name} destroyed\n"));
    Ok(())
}

fn cmd_pool_delete(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    pool.delete(0)
        .context(|| format!("Failed to delete pool {name}"))?;
    session.print_extra(format!("Pool {name} deleted\n"));
    Ok(())
}

fn cmd_pool_refresh(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    pool.refresh(0)
        .context(|| format!("Failed to refresh pool {name}"))?;
    session.print_extra(format!("Pool {name} refreshed\n"));
    Ok(())
}

fn cmd_pool_undefine(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    pool.undefine()
        .context(|| format!("Failed to undefine pool {name}"))?;
    session.print_extra(format!("Pool {name} has been undefined\n"));
    Ok(())
}

fn cmd_pool_dumpxml(session: &mut Session, args: &Args) -> CmdResult {
    let flags = if args.flag("inactive") {
        storage_xml_flags::INACTIVE
    } else {
        0
    };
    let (pool, _) = pool_option(session, args)?;
    let description = pool.xml_desc(flags)?;
    session.print(description);
    Ok(())
}

fn cmd_pool_autostart(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, name) = pool_option(session, args)?;
    let enable = !args.flag("disable");
    pool.set_autostart(enable).context(|| {
        if enable {
            format!("failed to mark pool {name} as autostarted")
        } else {
            format!("failed to unmark pool {name} as autostarted")
        }
    })?;
    if enable {
        session.print_extra(format!("Pool {name} marked as autostarted\n"));
    } else {
        session.print_extra(format!("Pool {name} unmarked as autostarted\n"));
    }
    Ok(())
}

fn cmd_pool_name(session: &mut Session, args: &Args) -> CmdResult {
    let key = args.required("pool")?;
    let conn = session.connect()?;
    let pool = lookup_pool(&conn, key, true, false)?;
    session.print(format!("{}\n", pool.name()));
    Ok(())
}

fn cmd_pool_uuid(session: &mut Session, args: &Args) -> CmdResult {
    let key = args.required("pool")?;
    let conn = session.connect()?;
    let pool = lookup_pool(&conn, key, false, true)?;
    session.print(format!("{}\n", pool.uuid_string()));
    Ok(())
}

// ---- volumes ----

#[derive(Serialize)]
struct VolumeJson {
    name: String,
    pool: String,
    key: String,
    path: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    capacity: u64,
    allocation: u64,
}

fn volume_json(volume: &StorageVol, info_flags: u32) -> Result<VolumeJson, Failure> {
    let info = volume.info(info_flags)?;
    Ok(VolumeJson {
        name: volume.name().to_string(),
        pool: volume.pool_name().to_string(),
        key: volume.key().to_string(),
        path: volume.path().ok(),
        kind: volume_type_name(info.kind),
        capacity: info.capacity,
        allocation: info.allocation,
    })
}

fn cmd_vol_list(session: &mut Session, args: &Args) -> CmdResult {
    let (pool, _) = pool_option(session, args)?;
    let mut volumes = pool
        .list_all_volumes()
        .context(|| "Failed to list volumes".to_string())?;
    volumes.sort_by_key(|volume| volume.name().to_ascii_lowercase());
    if args.flag("json") {
        let entries = volumes
            .iter()
            .map(|volume| volume_json(volume, 0))
            .collect::<Result<Vec<_>, _>>()?;
        return session.print_json(&entries);
    }
    let details = args.flag("details");
    let mut table = if details {
        Table::new(&["Name", "Path", "Type", "Capacity", "Allocation"])
    } else {
        Table::new(&["Name", "Path"])
    };
    for volume in &volumes {
        let path = volume.path().unwrap_or_else(|_| "unknown".to_string());
        let mut row = vec![volume.name().to_string(), path];
        if details {
            match volume.info(0) {
                Ok(info) => {
                    row.push(volume_type_name(info.kind).to_string());
                    row.push(pretty_bytes(info.capacity));
                    row.push(pretty_bytes(info.allocation));
                }
                Err(_) => row.extend(["unknown", "unknown", "unknown"].map(String::from)),
            }
        }
        table.row(row);
    }
    let quiet = session.options.quiet;
    session.print(table.render(!quiet));
    Ok(())
}

fn cmd_vol_info(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    let physical = args.flag("physical");
    let flags = if physical {
        storage_vol_info_flags::GET_PHYSICAL
    } else {
        0
    };
    if args.flag("json") {
        let json = volume_json(&volume, flags)?;
        return session.print_json(&json);
    }
    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    session.print(line("Name:", volume.name()));
    let info = volume.info(flags)?;
    let mut text = line("Type:", volume_type_name(info.kind));
    let allocation_label = if physical { "Physical:" } else { "Allocation:" };
    if args.flag("bytes") {
        text += &line("Capacity:", &format!("{} bytes", info.capacity));
        text += &line(allocation_label, &format!("{} bytes", info.allocation));
    } else {
        text += &line("Capacity:", &pretty_bytes(info.capacity));
        text += &line(allocation_label, &pretty_bytes(info.allocation));
    }
    session.print(text);
    Ok(())
}

/// Reads a size for `vol-create-as`; a bad one is "Malformed size X" plus libvirt's reason.
fn volume_size(text: &str) -> Result<u64, Failure> {
    parse_scaled(text, 1).map_err(|error| {
        let cause = match error {
            ScaleError::NotANumber => None,
            ScaleError::UnknownSuffix(_) => Some(virt_core::Error::from_parts(
                ErrorNumber::INVALID_ARG,
                virt_core::ErrorDomain::NONE,
                error.to_string(),
            )),
            ScaleError::Overflow { .. } => Some(virt_core::Error::from_parts(
                ErrorNumber::OVERFLOW,
                virt_core::ErrorDomain::NONE,
                error.to_string(),
            )),
        };
        Failure {
            messages: vec![format!("Malformed size {text}")],
            cause,
        }
    })
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
}

fn cmd_vol_create_as(session: &mut Session, args: &Args) -> CmdResult {
    let flags = if args.flag("prealloc-metadata") {
        storage_vol_create_flags::PREALLOC_METADATA
    } else {
        0
    };
    let (pool, _) = pool_option(session, args)?;
    let name = args.required("name")?;
    let capacity = volume_size(args.required("capacity")?)?;
    let allocation = match args.raw("allocation").filter(|text| !text.is_empty()) {
        Some(text) => Some(volume_size(text)?),
        None => None,
    };
    let format = args.string("format")?;
    let backing_volume = args.string("backing-vol")?;
    let backing_format = args.string("backing-vol-format")?;

    let mut description = format!(
        "<volume>\n  <name>{}</name>\n  <capacity>{capacity}</capacity>\n",
        escape_xml(name)
    );
    if let Some(allocation) = allocation {
        description += &format!("  <allocation>{allocation}</allocation>\n");
    }
    if let Some(format) = format {
        description += &format!(
            "  <target>\n    <format type='{}'/>\n  </target>\n",
            escape_xml(format)
        );
    }
    if let Some(backing) = backing_volume {
        let conn = session.connect()?;
        let found = pool
            .volume_lookup_by_name(backing)
            .or_else(|_| conn.storage_vol_lookup_by_key(backing))
            .or_else(|_| conn.storage_vol_lookup_by_path(backing))
            .map_err(|_| Failure::message(format!("failed to get vol '{backing}'")))?;
        let path = found.path()?;
        description += &format!("  <backingStore>\n    <path>{}</path>\n", escape_xml(&path));
        if let Some(backing_format) = backing_format {
            description += &format!("    <format type='{}'/>\n", escape_xml(backing_format));
        }
        description += "  </backingStore>\n";
    }
    description += "</volume>\n";

    if args.flag("print-xml") {
        session.print(description);
        return Ok(());
    }
    pool.volume_create_xml(&description, flags)
        .context(|| format!("Failed to create vol {name}"))?;
    session.print_extra(format!("Vol {name} created\n"));
    Ok(())
}

fn cmd_vol_create(session: &mut Session, args: &Args) -> CmdResult {
    let mut flags = 0;
    if args.flag("prealloc-metadata") {
        flags |= storage_vol_create_flags::PREALLOC_METADATA;
    }
    if args.flag("validate") {
        flags |= storage_vol_create_flags::VALIDATE;
    }
    let (pool, _) = pool_option(session, args)?;
    let from = args.required("file")?;
    let description = files::read_xml(from)?;
    let volume = pool
        .volume_create_xml(&description, flags)
        .context(|| format!("Failed to create vol from {from}"))?;
    session.print_extra(format!("Vol {} created from {from}\n", volume.name()));
    Ok(())
}

fn cmd_vol_delete(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, name) = volume_option(session, args)?;
    let flags = if args.flag("delete-snapshots") {
        storage_vol_delete_flags::WITH_SNAPSHOTS
    } else {
        0
    };
    volume
        .delete(flags)
        .context(|| format!("Failed to delete vol {name}"))?;
    session.print_extra(format!("Vol {name} deleted\n"));
    Ok(())
}

fn cmd_vol_dumpxml(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    let description = volume.xml_desc(0)?;
    session.print(description);
    Ok(())
}

fn cmd_vol_key(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    session.print(format!("{}\n", volume.key()));
    Ok(())
}

fn cmd_vol_path(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    let path = volume.path()?;
    session.print(format!("{path}\n"));
    Ok(())
}

/// The source volume's XML with another `<name>` (virsh's `virshMakeCloneXML`).
fn clone_xml(original: &str, name: &str) -> Option<String> {
    let start = original.find("<name>")? + "<name>".len();
    let end = start + original[start..].find("</name>")?;
    Some(format!(
        "{}{}{}",
        &original[..start],
        escape_xml(name),
        &original[end..]
    ))
}

fn cmd_vol_clone(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    let new_name = args.required("newname")?;
    let mut flags = 0;
    if args.flag("prealloc-metadata") {
        flags |= storage_vol_create_flags::PREALLOC_METADATA;
    }
    if args.flag("reflink") {
        flags |= storage_vol_create_flags::REFLINK;
    }
    let pool = volume
        .pool()
        .map_err(|_| Failure::message("failed to get parent pool"))?;
    let original = volume.xml_desc(0)?;
    let xml = clone_xml(&original, new_name)
        .ok_or_else(|| Failure::message("Failed to allocate XML buffer"))?;
    if args.flag("print-xml") {
        session.print(xml);
        return Ok(());
    }
    let clone = pool
        .volume_create_xml_from(&xml, &volume, flags)
        .context(|| format!("Failed to clone vol from {}", volume.name()))?;
    session.print_extra(format!(
        "Vol {} cloned from {}\n",
        clone.name(),
        volume.name()
    ));
    Ok(())
}

fn cmd_vol_resize(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, _) = volume_option(session, args)?;
    let shrink = args.flag("shrink");
    let mut delta = args.flag("delta");
    let mut text = args.required("capacity")?.trim_start();
    // The API takes a positive size; a negative one is a shrinking delta, with --shrink.
    if let Some(positive) = text.strip_prefix('-') {
        if !shrink {
            return Err(Failure::message("negative size requires --shrink"));
        }
        text = positive;
        delta = true;
    }
    let mut flags = 0;
    if args.flag("allocate") {
        flags |= storage_vol_resize_flags::ALLOCATE;
    }
    if shrink {
        flags |= storage_vol_resize_flags::SHRINK;
    }
    if delta {
        flags |= storage_vol_resize_flags::DELTA;
    }
    let capacity = volume_size(text)?;
    let how = if delta { "by" } else { "to" };
    volume.resize(capacity, flags).context(|| {
        format!(
            "Failed to change size of volume '{}' {how} {text}",
            volume.name()
        )
    })?;
    session.print_extra(format!(
        "Size of volume '{}' successfully changed {how} {text}\n",
        volume.name()
    ));
    Ok(())
}

fn cmd_vol_wipe(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, name) = volume_option(session, args)?;
    // Only the zero algorithm is virStorageVolWipe; the others are virStorageVolWipePattern.
    if let Some(algorithm) = args.string("algorithm")? {
        if algorithm != "zero" {
            return Err(Failure::message(format!(
                "Unsupported algorithm '{algorithm}': rvirsh wipes with zeroes only"
            )));
        }
    }
    volume
        .wipe(0)
        .context(|| format!("Failed to wipe vol {name}"))?;
    session.print_extra(format!("Vol {name} wiped\n"));
    Ok(())
}

/// `--offset`/`--length` of a transfer: a plain byte count.
fn byte_count(args: &Args, name: &str) -> Result<u64, Failure> {
    match args.string(name)? {
        None => Ok(0),
        Some(text) => text.parse().map_err(|_| {
            Failure::message(format!(
                "Numeric value '{text}' for <{name}> option is malformed or out of range"
            ))
        }),
    }
}

fn cmd_vol_upload(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, name) = volume_option(session, args)?;
    let file = args.required("file")?;
    let offset = byte_count(args, "offset")?;
    let length = byte_count(args, "length")?;
    let flags = u32::from(args.flag("sparse"));
    let mut source =
        std::fs::File::open(file).map_err(|_| Failure::message(format!("cannot read {file}")))?;
    let size = source
        .metadata()
        .map_err(|_| Failure::message(format!("unable to stat {file}")))?
        .len();
    let total = if length > 0 { length.min(size) } else { size };
    let result = volume.upload(offset, length, flags, &mut source, &mut |done| {
        session.transfer_progress("Upload", done, total)
    });
    session.end_progress();
    result.context(|| format!("cannot upload to volume {name}"))
}

/// The bytes a download will carry: the volume's physical size (a file volume's stream is
/// its file), less the offset, at most the length.
fn download_size(volume: &StorageVol, offset: u64, length: u64) -> u64 {
    let physical = volume
        .info(storage_vol_info_flags::GET_PHYSICAL)
        .map_or(0, |info| info.allocation);
    let left = physical.saturating_sub(offset);
    if length > 0 {
        left.min(length)
    } else {
        left
    }
}

fn cmd_vol_download(session: &mut Session, args: &Args) -> CmdResult {
    let (volume, name) = volume_option(session, args)?;
    let file = args.required("file")?;
    let offset = byte_count(args, "offset")?;
    let length = byte_count(args, "length")?;
    let sparse = args.flag("sparse");
    // As virsh: a file this command creates goes again if the download fails.
    let (handle, created) = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(handle) => (handle, true),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => (
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(file)
                .map_err(|_| Failure::message(format!("cannot create {file}")))?,
            false,
        ),
        Err(_) => return Err(Failure::message(format!("cannot create {file}"))),
    };
    let total = download_size(&volume, offset, length);
    // With --sparse, runs of zeroes become holes in the local file.
    let mut sink = virt_core::volume_data::HoleSkippingFile {
        file: handle,
        sparse,
    };
    let result = volume.download(offset, length, u32::from(sparse), &mut sink, &mut |done| {
        session.transfer_progress("Download", done, total)
    });
    session.end_progress();
    if result.is_err() && created {
        let _ = std::fs::remove_file(file);
    }
    result.context(|| format!("cannot download from volume {name}"))
}

/// Looks a volume up by key or path only (`vol-name`, `vol-pool`).
fn volume_by_key(session: &mut Session, args: &Args) -> Result<StorageVol, Failure> {
    let key = args.required("vol")?;
    let conn = session.connect()?;
    let mut last_error = None;
    for attempt in [
        Connect::storage_vol_lookup_by_key,
        Connect::storage_vol_lookup_by_path,
    ] {
        match attempt(&conn, key) {
            Ok(volume) => return Ok(volume),
            Err(error) => last_error = Some(error),
        }
    }
    Err(Failure {
        messages: vec![format!("failed to get vol '{key}'")],
        cause: last_error,
    })
}

fn cmd_vol_name(session: &mut Session, args: &Args) -> CmdResult {
    let volume = volume_by_key(session, args)?;
    session.print(format!("{}\n", volume.name()));
    Ok(())
}

fn cmd_vol_pool(session: &mut Session, args: &Args) -> CmdResult {
    let volume = volume_by_key(session, args)?;
    let pool = volume
        .pool()
        .map_err(|_| Failure::message("failed to get parent pool"))?;
    let text = if args.flag("uuid") {
        pool.uuid_string()
    } else {
        pool.name().to_string()
    };
    session.print(format!("{text}\n"));
    Ok(())
}

// ---- volumes of an undefined domain ----

/// A volume `undefine --storage`/`--remove-all-storage` is to remove.
#[derive(Debug)]
pub struct DomainVolume {
    target: String,
    source: String,
    volume: StorageVol,
}

/// The volumes behind a domain's disks: all of them, or those whose target or source is
/// listed in `selection` (comma separated).
pub fn volumes_of_domain(
    session: &mut Session,
    domain: &Domain,
    selection: Option<&str>,
) -> Result<Vec<DomainVolume>, Failure> {
    let conn = session.connect()?;
    let description = domain.xml_desc(0)?;
    let mut wanted: Option<Vec<Option<String>>> =
        selection.map(|list| split_list(list).into_iter().map(Some).collect());
    let mut volumes = Vec::new();
    for disk in xml::domain_disks(&description) {
        if let Some(wanted) = wanted.as_mut() {
            let Some(slot) = wanted
                .iter_mut()
                .find(|w| w.as_deref() == Some(&disk.target) || w.as_deref() == Some(&disk.source))
            else {
                continue;
            };
            *slot = None;
        }
        let volume = match &disk.pool {
            Some(pool_name) => match conn.storage_pool_lookup_by_name(pool_name) {
                Ok(pool) => pool.volume_lookup_by_name(&disk.source).ok(),
                Err(_) => {
                    session.error(format!(
                        "Storage pool '{pool_name}' for volume '{}' not found.",
                        disk.target
                    ));
                    continue;
                }
            },
            None => conn.storage_vol_lookup_by_path(&disk.source).ok(),
        };
        match volume {
            Some(volume) => volumes.push(DomainVolume {
                target: disk.target,
                source: disk.source,
                volume,
            }),
            None => session.error(format!(
                "Storage volume '{}'({}) is not managed by libvirt. Remove it manually.\n",
                disk.target, disk.source
            )),
        }
    }
    let missing: Vec<String> = wanted.into_iter().flatten().flatten().collect();
    if !missing.is_empty() {
        for name in missing {
            session.error(format!(
                "Volume '{name}' was not found in domain's definition.\n"
            ));
        }
        return Err(Failure::silent());
    }
    Ok(volumes)
}

/// Wipes (if asked) and deletes the volumes of an undefined domain.
pub fn remove_domain_volumes(
    session: &mut Session,
    volumes: Vec<DomainVolume>,
    wipe: bool,
    with_snapshots: bool,
) -> CmdResult {
    let flags = if with_snapshots {
        storage_vol_delete_flags::WITH_SNAPSHOTS
    } else {
        0
    };
    let mut last_failure = None;
    for DomainVolume {
        target,
        source,
        volume,
    } in volumes
    {
        if wipe {
            session.print_extra(format!("Wiping volume '{target}'({source}) ... "));
            session.flush();
            if let Err(error) = volume.wipe(0) {
                session.error("Failed! Volume not removed.");
                last_failure = Some(Failure::from(error));
                continue;
            }
            session.print_extra("Done.\n");
        }
        match volume.delete(flags) {
            Ok(()) => session.print_extra(format!("Volume '{target}'({source}) removed.\n")),
            Err(error) => {
                session.error(format!(
                    "Failed to remove storage volume '{target}'({source})"
                ));
                last_failure = Some(Failure::from(error));
            }
        }
    }
    last_failure.map_or(Ok(()), Err)
}

/// The storage commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "pool-autostart",
        group: Group::StoragePool,
        summary: "autostart a pool",
        description: "Configure a pool to be started when the host starts.",
        options: &[POOL, OptDef::flag("disable", "disable autostarting")],
        needs_connection: true,
        handler: cmd_pool_autostart,
    },
    CommandDef {
        name: "pool-build",
        group: Group::StoragePool,
        summary: "build a pool",
        description: "Build a pool's underlying storage.",
        options: &[POOL, NO_OVERWRITE, OVERWRITE],
        needs_connection: true,
        handler: cmd_pool_build,
    },
    CommandDef {
        name: "pool-create",
        group: Group::StoragePool,
        summary: "create a pool from an XML file",
        description: "Create and start a transient pool.",
        options: &[FILE_XML, BUILD, NO_OVERWRITE, OVERWRITE],
        needs_connection: true,
        handler: cmd_pool_create,
    },
    CommandDef {
        name: "pool-define",
        group: Group::StoragePool,
        summary: "define an inactive persistent storage pool or modify an existing persistent one from an XML file",
        description: "Define or modify a persistent storage pool.",
        options: &[FILE_XML, OptDef::flag("validate", "validate the XML against the schema")],
        needs_connection: true,
        handler: cmd_pool_define,
    },
    CommandDef {
        name: "pool-delete",
        group: Group::StoragePool,
        summary: "delete a pool",
        description: "Delete a pool's underlying storage.",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_delete,
    },
    CommandDef {
        name: "pool-destroy",
        group: Group::StoragePool,
        summary: "destroy (stop) a pool",
        description: "Stop a pool; the data in it stays.",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_destroy,
    },
    CommandDef {
        name: "pool-dumpxml",
        group: Group::StoragePool,
        summary: "pool information in XML",
        description: "Print the pool's XML description.",
        options: &[POOL, OptDef::flag("inactive", "show inactive defined XML")],
        needs_connection: true,
        handler: cmd_pool_dumpxml,
    },
    CommandDef {
        name: "pool-info",
        group: Group::StoragePool,
        summary: "storage pool information",
        description: "Print basic information about the pool.",
        options: &[POOL, OptDef::flag("bytes", "Return pool info in bytes"), JSON_OPT],
        needs_connection: true,
        handler: cmd_pool_info,
    },
    CommandDef {
        name: "pool-list",
        group: Group::StoragePool,
        summary: "list pools",
        description: "List storage pools; active ones only unless asked otherwise.",
        options: &[
            OptDef::flag("inactive", "list inactive pools"),
            OptDef::flag("all", "list inactive & active pools"),
            OptDef::flag("transient", "list transient pools"),
            OptDef::flag("persistent", "list persistent pools"),
            OptDef::flag("autostart", "list pools with autostart enabled"),
            OptDef::flag("no-autostart", "list pools with autostart disabled"),
            OptDef::string("type", "only list pool of specified type(s) (if supported)"),
            OptDef::flag("details", "display extended details for pools"),
            OptDef::flag("uuid", "list UUID of active pools only"),
            OptDef::flag("name", "list name of active pools only"),
            JSON_OPT,
        ],
        needs_connection: true,
        handler: cmd_pool_list,
    },
    CommandDef {
        name: "pool-name",
        group: Group::StoragePool,
        summary: "convert a pool UUID to pool name",
        description: "",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_name,
    },
    CommandDef {
        name: "pool-refresh",
        group: Group::StoragePool,
        summary: "refresh a pool",
        description: "Rescan a pool's volumes.",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_refresh,
    },
    CommandDef {
        name: "pool-start",
        group: Group::StoragePool,
        summary: "start a (previously defined) inactive pool",
        description: "Start a pool.",
        options: &[POOL, BUILD, NO_OVERWRITE, OVERWRITE],
        needs_connection: true,
        handler: cmd_pool_start,
    },
    CommandDef {
        name: "pool-undefine",
        group: Group::StoragePool,
        summary: "undefine an inactive pool",
        description: "Remove an inactive pool's configuration.",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_undefine,
    },
    CommandDef {
        name: "pool-uuid",
        group: Group::StoragePool,
        summary: "convert a pool name to pool UUID",
        description: "",
        options: &[POOL],
        needs_connection: true,
        handler: cmd_pool_uuid,
    },
    CommandDef {
        name: "vol-clone",
        group: Group::StorageVolume,
        summary: "clone a volume.",
        description: "Clone an existing volume within the parent pool.",
        options: &[
            VOL,
            OptDef::positional("newname", "clone name"),
            POOL_OPTIONAL,
            OptDef::flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            OptDef::flag("reflink", "use btrfs COW lightweight copy"),
            OptDef::flag("print-xml", "print XML document, but don't define/create"),
        ],
        needs_connection: true,
        handler: cmd_vol_clone,
    },
    CommandDef {
        name: "vol-create",
        group: Group::StorageVolume,
        summary: "create a vol from an XML file",
        description: "Create a volume from an XML description.",
        options: &[
            OptDef::positional("pool", "pool name"),
            OptDef::positional("file", "file containing an XML vol description"),
            OptDef::flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            OptDef::flag("validate", "validate the XML against the schema"),
        ],
        needs_connection: true,
        handler: cmd_vol_create,
    },
    CommandDef {
        name: "vol-create-as",
        group: Group::StorageVolume,
        summary: "create a volume from a set of args",
        description: "Create a volume from a name and a size.",
        options: &[
            OptDef::positional("pool", "pool name"),
            OptDef::positional("name", "name of the volume"),
            OptDef::positional("capacity", "size of the vol, as scaled integer (default bytes)"),
            OptDef::string("allocation", "initial allocation size, as scaled integer (default bytes)"),
            OptDef::string("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
            OptDef::string("backing-vol", "the backing volume if taking a snapshot"),
            OptDef::string("backing-vol-format", "format of backing volume if taking a snapshot"),
            OptDef::flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
            OptDef::flag("print-xml", "print XML document, but don't define/create"),
        ],
        needs_connection: true,
        handler: cmd_vol_create_as,
    },
    CommandDef {
        name: "vol-delete",
        group: Group::StorageVolume,
        summary: "delete a vol",
        description: "Delete a volume.",
        options: &[VOL, POOL_OPTIONAL, OptDef::flag("delete-snapshots", "delete snapshots associated with volume")],
        needs_connection: true,
        handler: cmd_vol_delete,
    },
    CommandDef {
        name: "vol-download",
        group: Group::StorageVolume,
        summary: "download volume contents to a file",
        description: "Download the contents of a volume to a file (a progress bar on a terminal).",
        options: &[
            VOL,
            OptDef::positional("file", "file"),
            POOL_OPTIONAL,
            OptDef::string("offset", "volume offset to download from"),
            OptDef::string("length", "amount of data to download"),
            OptDef::flag("sparse", "preserve sparseness of volume"),
        ],
        needs_connection: true,
        handler: cmd_vol_download,
    },
    CommandDef {
        name: "vol-dumpxml",
        group: Group::StorageVolume,
        summary: "vol information in XML",
        description: "Print the volume's XML description.",
        options: &[VOL, POOL_OPTIONAL],
        needs_connection: true,
        handler: cmd_vol_dumpxml,
    },
    CommandDef {
        name: "vol-info",
        group: Group::StorageVolume,
        summary: "storage vol information",
        description: "Print basic information about the volume.",
        options: &[
            VOL,
            POOL_OPTIONAL,
            OptDef::flag("bytes", "sizes are represented in bytes rather than pretty units"),
            OptDef::flag("physical", "return the physical size of the volume in allocation field"),
            JSON_OPT,
        ],
        needs_connection: true,
        handler: cmd_vol_info,
    },
    CommandDef {
        name: "vol-key",
        group: Group::StorageVolume,
        summary: "returns the volume key for a given volume name or path",
        description: "",
        options: &[OptDef::positional("vol", "volume name or path"), POOL_OPTIONAL],
        needs_connection: true,
        handler: cmd_vol_key,
    },
    CommandDef {
        name: "vol-list",
        group: Group::StorageVolume,
        summary: "list vols",
        description: "List the volumes of a pool.",
        options: &[POOL, OptDef::flag("details", "display extended details for volumes"), JSON_OPT],
        needs_connection: true,
        handler: cmd_vol_list,
    },
    CommandDef {
        name: "vol-name",
        group: Group::StorageVolume,
        summary: "returns the volume name for a given volume key or path",
        description: "",
        options: &[OptDef::positional("vol", "volume key or path")],
        needs_connection: true,
        handler: cmd_vol_name,
    },
    CommandDef {
        name: "vol-path",
        group: Group::StorageVolume,
        summary: "returns the volume path for a given volume name or key",
        description: "",
        options: &[OptDef::positional("vol", "volume name or key"), POOL_OPTIONAL],
        needs_connection: true,
        handler: cmd_vol_path,
    },
    CommandDef {
        name: "vol-pool",
        group: Group::StorageVolume,
        summary: "returns the storage pool for a given volume key or path",
        description: "",
        options: &[
            OptDef::positional("vol", "volume key or path"),
            OptDef::flag("uuid", "return the pool uuid rather than pool name"),
        ],
        needs_connection: true,
        handler: cmd_vol_pool,
    },
    CommandDef {
        name: "vol-resize",
        group: Group::StorageVolume,
        summary: "resize a vol",
        description: "Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.",
        options: &[
            VOL,
            OptDef::positional("capacity", "new capacity for the vol, as scaled integer (default bytes)"),
            POOL_OPTIONAL,
            OptDef::flag("allocate", "allocate the new capacity, rather than leaving it sparse"),
            OptDef::flag("delta", "use capacity as a delta to current size, rather than the new size"),
            OptDef::flag("shrink", "allow the resize to shrink the volume"),
        ],
        needs_connection: true,
        handler: cmd_vol_resize,
    },
    CommandDef {
        name: "vol-upload",
        group: Group::StorageVolume,
        summary: "upload file contents to a volume",
        description: "Upload the contents of a file to a volume (a progress bar on a terminal).",
        options: &[
            VOL,
            OptDef::positional("file", "file"),
            POOL_OPTIONAL,
            OptDef::string("offset", "volume offset to upload to"),
            OptDef::string("length", "amount of data to upload"),
            OptDef::flag("sparse", "preserve sparseness of volume"),
        ],
        needs_connection: true,
        handler: cmd_vol_upload,
    },
    CommandDef {
        name: "vol-wipe",
        group: Group::StorageVolume,
        summary: "wipe a vol",
        description: "Ensure data previously on a volume is not accessible to future reads.",
        options: &[
            VOL,
            POOL_OPTIONAL,
            OptDef::string("algorithm", "perform selected wiping algorithm"),
        ],
        needs_connection: true,
        handler: cmd_vol_wipe,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_with_escapes() {
        assert_eq!(split_list("dir,fs"), ["dir", "fs"]);
        assert_eq!(split_list("a,,b,c"), ["a,b", "c"]);
        assert_eq!(split_list("x,"), ["x", ""]);
    }
}
