//! Statistics, as the test driver makes them up: state records for `virConnectGetAllDomainStats`,
//! block and interface counters derived from the clock, memory counters derived from the
//! balloon size.

use virt_core::consts::{
    connect_get_all_domain_stats_flags as stats_flags, domain_memory_stat_tags as tag,
};
use virt_core::{ErrorNumber, Result};
use virt_plugin_sdk::types::{DomainRef, TypedParam, TypedValue};

use crate::error;
use crate::space::Space;

/// `VIR_DOMAIN_STATS_STATE`.
const STATS_STATE: u32 = 1;
/// `VIR_DOMAIN_STATS_IOTHREAD`.
const STATS_IOTHREAD: u32 = 128;

/// `virConnectGetAllDomainStats` / `virDomainListGetStats`.
pub(crate) fn get_stats(
    space: &dyn Space,
    doms: &[DomainRef],
    stats: u32,
    flags: u32,
) -> Result<Vec<(DomainRef, Vec<TypedParam>)>> {
    let filters = stats_flags::ACTIVE
        | stats_flags::INACTIVE
        | stats_flags::PERSISTENT
        | stats_flags::TRANSIENT
        | stats_flags::RUNNING
        | stats_flags::PAUSED
        | stats_flags::SHUTOFF
        | stats_flags::OTHER;
    error::check_flags(
        flags,
        filters | stats_flags::NOWAIT | stats_flags::BACKING | stats_flags::ENFORCE_STATS,
        "testConnectGetAllDomainStats",
    )?;
    let supported = STATS_STATE | STATS_IOTHREAD;
    let stats = if stats == 0 {
        supported
    } else if flags & stats_flags::ENFORCE_STATS != 0 && stats & !supported != 0 {
        return Err(error::test(
            ErrorNumber::ARGUMENT_UNSUPPORTED,
            format!(
                "Stats types bits 0x{:x} are not supported by this daemon",
                stats & !supported
            ),
        ));
    } else {
        stats
    };
    let list_flags = flags & filters;
    let chosen = if doms.is_empty() {
        super::all(space)?
    } else {
        // virDomainObjListConvert skips handles whose domain is gone.
        let mut found = Vec::new();
        for dom in doms {
            if let Some(d) = super::find_by_uuid(space, &dom.uuid.into())? {
                found.push(d);
            }
        }
        found
    };
    let mut records = Vec::new();
    for d in chosen
        .into_iter()
        .filter(|d| super::matches_filter(&d.rec, list_flags))
    {
        let mut params = Vec::new();
        if stats & STATS_STATE != 0 {
            params.push(TypedParam {
                field: "state.state".into(),
                value: TypedValue::Int(d.rec.state),
            });
            params.push(TypedParam {
                field: "state.reason".into(),
                value: TypedValue::Int(d.rec.reason),
            });
        }
        if stats & STATS_IOTHREAD != 0 && d.rec.is_active() {
            let iothreads = d.defs(space)?.def.iothread_ids();
            if !iothreads.is_empty() {
                params.push(TypedParam {
                    field: "iothread.count".into(),
                    value: TypedValue::Uint(iothreads.len() as u32),
                });
                for id in iothreads {
                    params.push(TypedParam {
                        field: format!("iothread.{id}.poll-max-ns"),
                        value: TypedValue::Ullong(32768),
                    });
                    params.push(TypedParam {
                        field: format!("iothread.{id}.poll-grow"),
                        value: TypedValue::Uint(0),
                    });
                    params.push(TypedParam {
                        field: format!("iothread.{id}.poll-shrink"),
                        value: TypedValue::Uint(0),
                    });
                }
            }
        }
        records.push((d.reference(), params));
    }
    Ok(records)
}

fn llong(field: &str, value: u64) -> TypedParam {
    TypedParam {
        field: field.to_string(),
        value: TypedValue::Llong(value as i64),
    }
}

/// `virDomainBlockStats`, as typed parameters (`VIR_DOMAIN_BLOCK_STATS_*` names).
pub(crate) fn block_stats(
    space: &dyn Space,
    dom: &DomainRef,
    disk: &str,
    flags: u32,
) -> Result<Vec<TypedParam>> {
    error::check_flags(flags, 0, "testDomainBlockStats")?;
    if disk.is_empty() {
        return Err(error::test(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "summary statistics are not supported yet",
        ));
    }
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    if !d.defs(space)?.def.has_disk(disk) {
        return Err(error::invalid_arg(format!("invalid path: {disk}")));
    }
    let base = crate::clock::now_micros();
    Ok(vec![
        llong("rd_operations", base / 10),
        llong("rd_bytes", base / 20),
        llong("wr_operations", base / 30),
        llong("wr_bytes", base / 40),
        llong("errs", base / (1000 * 1000 * 2)),
    ])
}

/// `virDomainInterfaceStats`, as typed parameters named after `virDomainInterfaceStatsStruct`.
pub(crate) fn interface_stats(
    space: &dyn Space,
    dom: &DomainRef,
    device: &str,
) -> Result<Vec<TypedParam>> {
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    if !d.defs(space)?.def.has_interface(device) {
        return Err(error::domain_conf(
            ErrorNumber::INVALID_ARG,
            format!("'{device}' is not a known interface"),
        ));
    }
    let base = crate::clock::now_micros();
    Ok(vec![
        llong("rx_bytes", base / 10),
        llong("rx_packets", base / 100),
        llong("rx_errs", base / (1000 * 1000)),
        llong("rx_drop", base / (1000 * 1000 * 2)),
        llong("tx_bytes", base / 20),
        llong("tx_packets", base / 110),
        llong("tx_errs", base / (1000 * 1000 * 3)),
        llong("tx_drop", base / (1000 * 1000 * 4)),
    ])
}

/// `virDomainMemoryStats`: made-up counters for domains with a balloon.
pub(crate) fn memory_stats(
    space: &dyn Space,
    dom: &DomainRef,
    max_stats: u32,
    flags: u32,
) -> Result<Vec<(i32, u64)>> {
    error::check_flags(flags, 0, "testDomainMemoryStats")?;
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    if !d.defs(space)?.def.has_memballoon() {
        return Ok(Vec::new());
    }
    // The test driver keeps the balloon size in an int.
    let current = d.rec.current_memory_kib as i32 as i64 as u64;
    let all = [
        (tag::ACTUAL_BALLOON, current),
        (tag::SWAP_IN, 0),
        (tag::SWAP_OUT, 0),
        (tag::MAJOR_FAULT, 0),
        (tag::MINOR_FAULT, 0),
        (tag::UNUSED, current / 2),
        (tag::AVAILABLE, current),
        (tag::USABLE, current / 2),
        (tag::LAST_UPDATE, 627319920),
        (tag::DISK_CACHES, current / 8),
        (tag::HUGETLB_PGALLOC, 0),
        (tag::HUGETLB_PGFAIL, 0),
        (tag::RSS, current / 2),
    ];
    Ok(all.into_iter().take(max_stats as usize).collect())
}

/// `virDomainInjectNMI`: accepted for a running domain, nothing happens.
pub(crate) fn inject_nmi(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testDomainInjectNMI")?;
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    Ok(())
}
