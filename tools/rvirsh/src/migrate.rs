//! Moving running domains and watching jobs: `migrate` (peer-to-peer or managed, with a
//! progress bar on a terminal), `migrate-setspeed`/`-getspeed`, `migrate-setmaxdowntime`/
//! `-getmaxdowntime`, `migrate-postcopy`, `domjobinfo` and `domjobabort`, with virsh's option
//! names and output.

use std::time::Duration;

use virt_core::blocking::Connect;
use virt_core::consts::{
    domain_get_job_stats_flags as job_stats_flags, domain_job_operation as job_operation,
    domain_job_type as job_type, domain_migrate_flags as flag,
    domain_migrate_max_speed_flags as speed_flags, migrate_param,
};
use virt_core::{TypedParam, TypedValue};

use crate::command::{CommandDef, Group, OptDef};
use crate::domain::{domain_option, LookupBy};
use crate::format::pretty_bytes;
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Failure, Session};

/// How often `migrate` asks how far the migration is.
const POLL: Duration = Duration::from_millis(100);

const DOMAIN: OptDef = OptDef::positional("domain", "domain name, id or uuid");

/// The `virDomainMigrateFlags` the command line asks for.
fn migrate_flags(args: &Args) -> u32 {
    let mut flags = 0;
    for (name, bit) in [
        ("live", flag::LIVE),
        ("p2p", flag::PEER2PEER),
        ("persistent", flag::PERSIST_DEST),
        ("undefinesource", flag::UNDEFINE_SOURCE),
        ("suspend", flag::PAUSED),
        ("copy-storage-all", flag::NON_SHARED_DISK),
        ("copy-storage-inc", flag::NON_SHARED_INC),
        ("change-protection", flag::CHANGE_PROTECTION),
        ("unsafe", flag::UNSAFE),
        ("abort-on-error", flag::ABORT_ON_ERROR),
        ("auto-converge", flag::AUTO_CONVERGE),
        ("postcopy", flag::POSTCOPY),
    ] {
        if args.flag(name) {
            flags |= bit;
        }
    }
    flags
}

fn string_param(field: &str, value: &str) -> TypedParam {
    TypedParam::new(field, TypedValue::String(value.to_string()))
}

/// The `VIR_MIGRATE_PARAM_*` parameters the command line gives.
fn migrate_params(args: &Args) -> Result<Vec<TypedParam>, Failure> {
    let mut params = Vec::new();
    for (option, field) in [
        ("migrateuri", migrate_param::URI),
        ("dname", migrate_param::DEST_NAME),
        ("listen-address", migrate_param::LISTEN_ADDRESS),
        ("disks-uri", migrate_param::DISKS_URI),
    ] {
        if let Some(value) = args.string(option)? {
            params.push(string_param(field, value));
        }
    }
    for (option, field) in [
        ("xml", migrate_param::DEST_XML),
        ("persistent-xml", migrate_param::PERSIST_XML),
    ] {
        if let Some(path) = args.string(option)? {
            params.push(string_param(field, &crate::files::read_xml(path)?));
        }
    }
    if let Some(bandwidth) = args.string("bandwidth")? {
        let bandwidth = bandwidth
            .parse::<u64>()
            .map_err(|_| Failure::message("migrate: Invalid bandwidth"))?;
        params.push(TypedParam::new(
            migrate_param::BANDWIDTH,
            TypedValue::ULLong(bandwidth),
        ));
    }
    Ok(params)
}

fn param_u64(params: &[TypedParam], name: &str) -> u64 {
    params
        .iter()
        .find(|param| param.field == name)
        .and_then(|param| match param.value {
            TypedValue::ULLong(value) => Some(value),
            TypedValue::LLong(value) => u64::try_from(value).ok(),
            TypedValue::UInt(value) => Some(u64::from(value)),
            TypedValue::Int(value) => u64::try_from(value).ok(),
            _ => None,
        })
        .unwrap_or(0)
}

fn cmd_migrate(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, name) = domain_option(session, args, LookupBy::ANY)?;
    let desturi = args.required("desturi")?.to_string();
    let flags = migrate_flags(args);
    let params = migrate_params(args)?;
    let postcopy_after_precopy = args.flag("postcopy-after-precopy");
    if postcopy_after_precopy && flags & flag::POSTCOPY == 0 {
        return Err(Failure::message(
            "--postcopy-after-precopy can only be used with --postcopy",
        ));
    }
    // A managed migration needs this client connected to the destination too.
    let dest = if flags & flag::PEER2PEER == 0 {
        Some(Connect::open(&desturi).context(|| format!("Failed to connect to '{desturi}'"))?)
    } else {
        None
    };
    // On a terminal a bar; otherwise virsh's "Migration: [ 45 %]" lines with --verbose.
    let verbose = args.flag("verbose");
    let bars = session.progress_bars;
    let mover = domain.clone();
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(|| match &dest {
            Some(dest) => mover.migrate(dest, &params, flags).map(|_| ()),
            None => mover.migrate_to_uri(&desturi, &params, flags),
        });
        let mut postcopy_started = false;
        while !worker.is_finished() {
            std::thread::sleep(POLL);
            let Ok(stats) = domain.job_stats(0) else {
                continue;
            };
            if stats.kind == job_type::NONE {
                continue;
            }
            let total = param_u64(&stats.params, "data_total");
            let processed = param_u64(&stats.params, "data_processed");
            if total > 0 {
                if bars {
                    session.transfer_progress("Migration", processed, total);
                } else if verbose {
                    session.progress("Migration", (processed.min(total) * 100 / total) as u32);
                }
            }
            // virsh switches after the first pass over memory.
            if postcopy_after_precopy
                && !postcopy_started
                && param_u64(&stats.params, "memory_iteration") >= 1
            {
                postcopy_started = domain.migrate_start_post_copy(0).is_ok();
            }
        }
        worker.join()
    });
    let result = outcome.map_err(|_| Failure::message("migrate: the migration thread panicked"))?;
    if result.is_ok() {
        if bars {
            session.transfer_progress("Migration", 1, 1);
        } else if verbose {
            session.progress("Migration", 100);
            session.print_extra("\n");
        }
    }
    session.end_progress();
    result.context(|| format!("Failed to migrate domain '{name}'"))?;
    Ok(())
}

fn cmd_domjobinfo(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let mut flags = 0;
    if args.flag("completed") {
        flags |= job_stats_flags::COMPLETED;
    }
    if args.flag("keep-completed") {
        flags |= job_stats_flags::KEEP_COMPLETED;
    }
    let stats = domain.job_stats(flags)?;
    let kind = match stats.kind {
        job_type::BOUNDED => "Bounded",
        job_type::UNBOUNDED => "Unbounded",
        job_type::COMPLETED => "Completed",
        job_type::FAILED => "Failed",
        job_type::CANCELLED => "Cancelled",
        _ => "None",
    };
    let mut out = format!("{:<17} {kind:<12}\n", "Job type:");
    if stats.kind == job_type::NONE {
        session.print(out);
        return Ok(());
    }
    let operation = stats
        .params
        .iter()
        .find(|param| param.field == "operation")
        .and_then(|param| match param.value {
            TypedValue::Int(operation) => Some(operation),
            _ => None,
        });
    if let Some(operation) = operation {
        let name = match operation {
            job_operation::START => "Start",
            job_operation::SAVE => "Save",
            job_operation::RESTORE => "Restore",
            job_operation::MIGRATION_IN => "Incoming migration",
            job_operation::MIGRATION_OUT => "Outgoing migration",
            job_operation::SNAPSHOT => "Snapshot",
            job_operation::SNAPSHOT_REVERT => "Snapshot revert",
            job_operation::DUMP => "Dump",
            job_operation::BACKUP => "Backup",
            _ => "Unknown",
        };
        out.push_str(&format!("{:<17} {name:<12}\n", "Operation:"));
    }
    let has = |name: &str| stats.params.iter().any(|param| param.field == name);
    let value = |name: &str| param_u64(&stats.params, name);
    let mut line = |label: &str, text: String| out.push_str(&format!("{label:<17} {text}\n"));
    line("Time elapsed:", format!("{:<12} ms", value("time_elapsed")));
    for (label, field) in [
        ("Data processed:", "data_processed"),
        ("Data remaining:", "data_remaining"),
        ("Data total:", "data_total"),
        ("Memory processed:", "memory_processed"),
        ("Memory remaining:", "memory_remaining"),
        ("Memory total:", "memory_total"),
    ] {
        if has(field) {
            line(label, pretty_bytes(value(field)));
        }
    }
    if has("memory_bps") {
        line(
            "Memory bandwidth:",
            format!("{}/s", pretty_bytes(value("memory_bps"))),
        );
    }
    for (label, field, unit) in [
        ("Dirty rate:", "memory_dirty_rate", "pages/s"),
        ("Iteration:", "memory_iteration", ""),
        ("Postcopy requests:", "memory_postcopy_requests", ""),
        ("Constant pages:", "memory_constant", ""),
        ("Normal pages:", "memory_normal", ""),
    ] {
        if has(field) {
            line(
                label,
                format!("{:<12} {unit}", value(field))
                    .trim_end()
                    .to_string(),
            );
        }
    }
    for (label, field) in [
        ("File processed:", "disk_processed"),
        ("File remaining:", "disk_remaining"),
        ("File total:", "disk_total"),
    ] {
        if has(field) && value("disk_total") > 0 {
            line(label, pretty_bytes(value(field)));
        }
    }
    if has("downtime") {
        line("Total downtime:", format!("{:<12} ms", value("downtime")));
    }
    if has("setup_time") {
        line("Setup time:", format!("{:<12} ms", value("setup_time")));
    }
    session.print(out);
    Ok(())
}

fn cmd_domjobabort(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    domain.abort_job(0)?;
    Ok(())
}

fn speed_flag(args: &Args) -> u32 {
    if args.flag("postcopy") {
        speed_flags::POSTCOPY
    } else {
        0
    }
}

fn cmd_migrate_setspeed(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let bandwidth = args
        .required("bandwidth")?
        .parse::<u64>()
        .map_err(|_| Failure::message("migrate-setspeed: Invalid bandwidth"))?;
    domain.migrate_set_max_speed(bandwidth, speed_flag(args))?;
    Ok(())
}

fn cmd_migrate_getspeed(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let bandwidth = domain.migrate_max_speed(speed_flag(args))?;
    session.print(format!("{bandwidth}\n"));
    Ok(())
}

fn cmd_migrate_setmaxdowntime(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let downtime = args
        .required("downtime")?
        .parse::<u64>()
        .ok()
        .filter(|downtime| *downtime > 0)
        .ok_or_else(|| Failure::message("migrate-setmaxdowntime: Invalid downtime."))?;
    domain.migrate_set_max_downtime(downtime, 0)?;
    Ok(())
}

fn cmd_migrate_getmaxdowntime(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let downtime = domain.migrate_max_downtime(0)?;
    session.print(format!("{downtime}\n"));
    Ok(())
}

fn cmd_migrate_postcopy(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    domain.migrate_start_post_copy(0)?;
    Ok(())
}

pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "migrate",
        group: Group::DomainManagement,
        summary: "migrate domain to another host",
        description: "Migrate domain to another host. Add --live for live migration.",
        options: &[
            OptDef::flag("live", "live migration"),
            OptDef::flag("p2p", "peer-2-peer migration"),
            OptDef::flag("direct", "direct migration"),
            OptDef::flag("persistent", "persist VM on destination"),
            OptDef::flag("undefinesource", "undefine VM on source"),
            OptDef::flag("suspend", "do not restart the domain on the destination host"),
            OptDef::flag("copy-storage-all", "migration with non-shared storage with full disk copy"),
            OptDef::flag("copy-storage-inc", "migration with non-shared storage with incremental copy"),
            OptDef::flag("change-protection", "prevent any configuration changes to domain until migration ends"),
            OptDef::flag("unsafe", "force migration even if it may be unsafe"),
            OptDef::flag("verbose", "display the progress of migration"),
            OptDef::flag("abort-on-error", "abort on soft errors during migration"),
            OptDef::flag("auto-converge", "force convergence during live migration"),
            OptDef::flag("postcopy", "enable post-copy migration; switch to it using migrate-postcopy command"),
            OptDef::flag("postcopy-after-precopy", "automatically switch to post-copy migration after one pass of pre-copy"),
            DOMAIN,
            OptDef::positional("desturi", "connection URI of the destination host as seen from the client(normal migration) or source(p2p migration)"),
            OptDef::string("migrateuri", "migration URI, usually can be omitted"),
            OptDef::string("listen-address", "listen address that destination should bind to for incoming migration"),
            OptDef::string("dname", "rename to new name during migration (if supported)"),
            OptDef::string("xml", "filename containing updated XML for the target"),
            OptDef::string("persistent-xml", "filename containing updated persistent XML for the target"),
            OptDef::string("disks-uri", "URI to use for disks migration (overrides --disks-port)"),
            OptDef::string("bandwidth", "network bandwidth in MiB/s"),
        ],
        needs_connection: true,
        handler: cmd_migrate,
    },
    CommandDef {
        name: "migrate-setspeed",
        group: Group::DomainManagement,
        summary: "Set the maximum migration bandwidth",
        description: "Set the maximum migration bandwidth (in MiB/s) for a domain which is being migrated to another host.",
        options: &[
            DOMAIN,
            OptDef::positional("bandwidth", "migration bandwidth limit in MiB/s"),
            OptDef::flag("postcopy", "set post-copy migration bandwidth"),
        ],
        needs_connection: true,
        handler: cmd_migrate_setspeed,
    },
    CommandDef {
        name: "migrate-getspeed",
        group: Group::DomainManagement,
        summary: "Get the maximum migration bandwidth",
        description: "Get the maximum migration bandwidth (in MiB/s) for a domain.",
        options: &[DOMAIN, OptDef::flag("postcopy", "get post-copy migration bandwidth")],
        needs_connection: true,
        handler: cmd_migrate_getspeed,
    },
    CommandDef {
        name: "migrate-setmaxdowntime",
        group: Group::DomainManagement,
        summary: "set maximum tolerable downtime",
        description: "Set maximum tolerable downtime of a domain which is being live-migrated to another host.",
        options: &[DOMAIN, OptDef::positional("downtime", "maximum tolerable downtime (in milliseconds) for migration")],
        needs_connection: true,
        handler: cmd_migrate_setmaxdowntime,
    },
    CommandDef {
        name: "migrate-getmaxdowntime",
        group: Group::DomainManagement,
        summary: "get maximum tolerable downtime",
        description: "Get maximum tolerable downtime of a domain which is being live-migrated to another host.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_migrate_getmaxdowntime,
    },
    CommandDef {
        name: "migrate-postcopy",
        group: Group::DomainManagement,
        summary: "Switch running migration from pre-copy to post-copy",
        description: "Switch running migration from pre-copy to post-copy. The migration must have been started with --postcopy option.",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_migrate_postcopy,
    },
    CommandDef {
        name: "domjobinfo",
        group: Group::DomainMonitoring,
        summary: "domain job information",
        description: "Returns information about jobs running on a domain.",
        options: &[
            DOMAIN,
            OptDef::flag("completed", "return statistics of a recently completed job"),
            OptDef::flag("keep-completed", "don't destroy statistics of a recently completed job when reading"),
        ],
        needs_connection: true,
        handler: cmd_domjobinfo,
    },
    CommandDef {
        name: "domjobabort",
        group: Group::DomainManagement,
        summary: "abort active domain job",
        description: "Aborts the currently running domain job",
        options: &[DOMAIN],
        needs_connection: true,
        handler: cmd_domjobabort,
    },
];
