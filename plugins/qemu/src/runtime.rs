//! What a running domain reports and what can be changed while it runs: info, state and
//! statistics (CPU time from /proc, balloon, block and interface counters), memory and vCPU
//! changes, block resize, the console's pty, keys, NMI and the monitor/agent passthroughs.

use serde_json::{json, Value};
use virt_core::consts::{
    domain_block_resize_flags as resize_flags, domain_memory_mod_flags as memory_flags,
    domain_memory_stat_tags as stat_tags, domain_state as state, domain_stats_types as stats_types,
    domain_vcpu_flags as vcpu_flags,
};
use virt_core::{ErrorNumber, TypedParam, TypedValue};
use virt_plugin_sdk::host::{files, jobs};
use virt_plugin_sdk::types::{
    self, ConsoleEndpoint, DomainInfo, DomainRef, DomainState, Error, ObjectStatus,
};
use virt_xml::domain::enums::*;
use virt_xml::domain::Domain;

use crate::domain::{self, Loaded};
use crate::error::{check_flags, invalid_arg, invalid_operation, qemu_error};
use crate::lifecycle::{self, job_name};
use crate::qemu_events::Expectation;
use crate::records::{self, LiveRecord};
use crate::space::SpaceLayout;

/// The definition in effect for a domain.
fn current_def(domain: &Loaded) -> Result<Domain, Error> {
    let xml = domain
        .current_xml()
        .ok_or_else(|| invalid_operation("domain has no definition"))?;
    Domain::parse(xml).map_err(Error::from)
}

/// CPU time of a process from /proc (user + system, in ns).
fn cpu_time_ns(pid: i32) -> u64 {
    let Ok(bytes) = files::read(&format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&bytes);
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = text.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // fields[0] is the state (field 3), so utime (14) is fields[11] and stime (15) fields[12].
    (ticks(11) + ticks(12)) * 10_000_000
}

/// The balloon's current size in KiB, asked from QEMU when the domain has a balloon.
fn balloon_kib(domain: &Loaded, live: &mut LiveRecord, def: &Domain) -> u64 {
    let has_balloon = def
        .devices
        .memballoon
        .as_ref()
        .is_some_and(|balloon| !matches!(balloon.model, Some(MemballoonModel::None) | None));
    if !has_balloon || live.state == state::SHUTOFF {
        return def.current_memory_kib();
    }
    lifecycle::with_monitor(domain, live, Expectation::default(), |monitor, _| {
        Ok(monitor
            .execute("query-balloon", None)
            .ok()
            .and_then(|reply| reply.get("actual").and_then(Value::as_u64))
            .map(|bytes| bytes / 1024))
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| def.current_memory_kib())
}

/// `virDomainGetInfo`.
pub fn info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let domain = domain::get(dom)?;
    let def = current_def(&domain)?;
    let (current_state, _) = domain.state();
    let (memory_kib, cpu_time_ns) = match domain.live.clone() {
        Some(mut live) if domain.is_active() => {
            (balloon_kib(&domain, &mut live, &def), cpu_time_ns(live.pid))
        }
        _ => (def.current_memory_kib(), 0),
    };
    Ok(DomainInfo {
        state: current_state as u8,
        max_mem_kib: def.memory_kib(),
        memory_kib,
        nr_virt_cpu: def.current_vcpus() as u16,
        cpu_time_ns,
    })
}

/// `virDomainGetState`.
pub fn get_state(dom: &DomainRef, flags: u32) -> Result<DomainState, Error> {
    check_flags("qemuDomainGetState", flags, 0)?;
    let (current_state, reason) = domain::get(dom)?.state();
    Ok(DomainState {
        state: current_state,
        reason,
    })
}

/// `virDomainIsActive` and its siblings.
pub fn status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let domain = domain::get(dom)?;
    let updated = match (&domain.live, &domain.record.config_xml) {
        (Some(live), Some(config)) => {
            let live_def = Domain::parse(&live.xml)
                .ok()
                .map(|def| domain::inactive_xml(&def));
            live_def.as_deref() != Some(config.as_str())
        }
        _ => false,
    };
    Ok(ObjectStatus {
        active: domain.is_active(),
        persistent: domain.record.persistent(),
        autostart: domain.record.autostart,
        updated,
        has_managed_save: domain.record.has_managed_save,
    })
}

pub fn os_type(dom: &DomainRef) -> Result<String, Error> {
    let def = current_def(&domain::get(dom)?)?;
    Ok(def.os_type().map_or("hvm", OsType::as_str).to_string())
}

pub fn max_memory(dom: &DomainRef) -> Result<u64, Error> {
    Ok(current_def(&domain::get(dom)?)?.memory_kib())
}

fn param(field: impl Into<String>, value: TypedValue) -> types::TypedParam {
    TypedParam::new(field, value).into()
}

/// Block counters (`query-blockstats`) per disk target.
fn block_stats_by_target(domain: &Loaded, live: &mut LiveRecord) -> Vec<(String, String, Value)> {
    let Ok(def) = domain::live_def(live) else {
        return Vec::new();
    };
    let reply = lifecycle::with_monitor(domain, live, Expectation::default(), |monitor, _| {
        Ok(monitor
            .execute("query-blockstats", Some(json!({"query-nodes": false})))
            .unwrap_or(Value::Null))
    })
    .unwrap_or(Value::Null);
    let entries = reply.as_array().cloned().unwrap_or_default();
    def.devices
        .disks
        .iter()
        .map(|disk| {
            let alias = disk.info.alias_name().unwrap_or("").to_string();
            let qdev = if disk.target_bus() == Some(virt_xml::domain::DiskBus::Virtio) {
                format!("/machine/peripheral/{alias}/virtio-backend")
            } else {
                alias.clone()
            };
            let stats = entries
                .iter()
                .find(|entry| entry.get("qdev").and_then(Value::as_str) == Some(qdev.as_str()))
                .and_then(|entry| entry.get("stats").cloned())
                .unwrap_or(Value::Null);
            let path = disk
                .source
                .as_ref()
                .and_then(|source| source.path())
                .unwrap_or("")
                .to_string();
            (disk.target_dev().unwrap_or("").to_string(), path, stats)
        })
        .collect()
}

/// `virDomainBlockStatsFlags`.
pub fn block_stats(
    dom: &DomainRef,
    disk: &str,
    flags: u32,
) -> Result<Vec<types::TypedParam>, Error> {
    check_flags("qemuDomainBlockStatsFlags", flags, 1)?;
    let (domain, mut live) = lifecycle::running(dom)?;
    let stats = block_stats_by_target(&domain, &mut live);
    let (_, _, values) = stats
        .into_iter()
        .find(|(target, path, _)| target == disk || path == disk)
        .ok_or_else(|| invalid_arg(format!("invalid path: {disk}")))?;
    let get = |key: &str| values.get(key).and_then(Value::as_i64).unwrap_or(0);
    Ok(vec![
        param("rd_operations", TypedValue::LLong(get("rd_operations"))),
        param("rd_bytes", TypedValue::LLong(get("rd_bytes"))),
        param("wr_operations", TypedValue::LLong(get("wr_operations"))),
        param("wr_bytes", TypedValue::LLong(get("wr_bytes"))),
        param(
            "flush_operations",
            TypedValue::LLong(get("flush_operations")),
        ),
        param("rd_total_times", TypedValue::LLong(get("rd_total_time_ns"))),
        param("wr_total_times", TypedValue::LLong(get("wr_total_time_ns"))),
        param(
            "flush_total_times",
            TypedValue::LLong(get("flush_total_time_ns")),
        ),
    ])
}

/// The host-side counters of a tap (`/proc/net/dev`), swapped to the guest's point of view
/// as libvirt does: what the host sends is what the guest receives.
fn tap_counters(tap: &str) -> Option<[i64; 8]> {
    let bytes = files::read("/proc/net/dev").ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{tap}:")))?;
    let numbers: Vec<i64> = line
        .split_once(':')?
        .1
        .split_whitespace()
        .filter_map(|field| field.parse().ok())
        .collect();
    if numbers.len() < 12 {
        return None;
    }
    // host rx bytes, packets, errs, drop ... host tx bytes(8), packets(9), errs(10), drop(11)
    Some([
        numbers[8],
        numbers[9],
        numbers[10],
        numbers[11],
        numbers[0],
        numbers[1],
        numbers[2],
        numbers[3],
    ])
}

/// `virDomainInterfaceStats`.
pub fn interface_stats(dom: &DomainRef, device: &str) -> Result<Vec<types::TypedParam>, Error> {
    let (_, live) = lifecycle::running(dom)?;
    let def = domain::live_def(&live)?;
    let interface = def
        .devices
        .interfaces
        .iter()
        .find(|interface| {
            interface
                .target
                .as_ref()
                .and_then(|target| target.dev.as_deref())
                == Some(device)
                || interface
                    .mac
                    .as_ref()
                    .and_then(|mac| mac.address.as_deref())
                    == Some(device)
                || interface.info.alias_name() == Some(device)
        })
        .ok_or_else(|| invalid_arg(format!("invalid path, '{device}' is not a known interface")))?;
    let tap = interface
        .target
        .as_ref()
        .and_then(|target| target.dev.clone())
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::OPERATION_UNSUPPORTED,
                "interface stats are only available for tap-backed interfaces",
            )
        })?;
    let counters = tap_counters(&tap).ok_or_else(|| {
        qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("cannot read statistics of {tap}"),
        )
    })?;
    let names = [
        "rx_bytes",
        "rx_packets",
        "rx_errs",
        "rx_drop",
        "tx_bytes",
        "tx_packets",
        "tx_errs",
        "tx_drop",
    ];
    Ok(names
        .iter()
        .zip(counters)
        .map(|(name, value)| param(*name, TypedValue::LLong(value)))
        .collect())
}

/// `virDomainMemoryStats`.
pub fn memory_stats(dom: &DomainRef, max_stats: u32, flags: u32) -> Result<Vec<(i32, u64)>, Error> {
    check_flags("qemuDomainMemoryStats", flags, 0)?;
    let (domain, mut live) = lifecycle::running(dom)?;
    let def = domain::live_def(&live)?;
    let mut stats = vec![(
        stat_tags::ACTUAL_BALLOON,
        balloon_kib(&domain, &mut live, &def),
    )];
    if let Ok(bytes) = files::read(&format!("/proc/{}/status", live.pid)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Some(rss) = text
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        {
            stats.push((stat_tags::RSS, rss));
        }
    }
    stats.truncate(max_stats as usize);
    Ok(stats)
}

/// `virConnectGetAllDomainStats` / `virDomainListGetStats`.
pub fn get_stats(
    doms: Vec<DomainRef>,
    stats: u32,
    flags: u32,
) -> Result<Vec<(DomainRef, Vec<types::TypedParam>)>, Error> {
    let chosen: Vec<Loaded> = if doms.is_empty() {
        let refs = domain::list_all(flags & 0xff)?;
        refs.iter()
            .filter_map(|reference| domain::get(reference).ok())
            .collect()
    } else {
        doms.iter().map(domain::get).collect::<Result<_, _>>()?
    };
    let all_stats = if stats == 0 { u32::MAX } else { stats };
    let wants = |kind: i32| all_stats & kind as u32 != 0;
    let mut out = Vec::new();
    for domain in chosen {
        let mut params = Vec::new();
        let def = current_def(&domain).ok();
        let (current_state, reason) = domain.state();
        if wants(stats_types::STATE) {
            params.push(param("state.state", TypedValue::Int(current_state)));
            params.push(param("state.reason", TypedValue::Int(reason)));
        }
        let mut live = domain.live.clone().filter(|_| domain.is_active());
        if wants(stats_types::CPU_TOTAL) {
            if let Some(live) = &live {
                let total = cpu_time_ns(live.pid);
                params.push(param("cpu.time", TypedValue::ULLong(total)));
            }
        }
        if let Some(def) = &def {
            if wants(stats_types::BALLOON) {
                let current = match live.as_mut() {
                    Some(live) => balloon_kib(&domain, live, def),
                    None => def.current_memory_kib(),
                };
                params.push(param("balloon.current", TypedValue::ULLong(current)));
                params.push(param(
                    "balloon.maximum",
                    TypedValue::ULLong(def.memory_kib()),
                ));
            }
            if wants(stats_types::VCPU) {
                params.push(param("vcpu.current", TypedValue::UInt(def.current_vcpus())));
                params.push(param("vcpu.maximum", TypedValue::UInt(def.max_vcpus())));
            }
            if wants(stats_types::INTERFACE) {
                params.push(param(
                    "net.count",
                    TypedValue::UInt(def.devices.interfaces.len() as u32),
                ));
                for (index, interface) in def.devices.interfaces.iter().enumerate() {
                    let name = interface
                        .target
                        .as_ref()
                        .and_then(|target| target.dev.clone())
                        .unwrap_or_default();
                    params.push(param(
                        format!("net.{index}.name"),
                        TypedValue::String(name.clone()),
                    ));
                    if let Some(counters) = tap_counters(&name) {
                        let names = [
                            "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts",
                            "tx.errs", "tx.drop",
                        ];
                        for (field, value) in names.iter().zip(counters) {
                            params.push(param(
                                format!("net.{index}.{field}"),
                                TypedValue::ULLong(value as u64),
                            ));
                        }
                    }
                }
            }
            if wants(stats_types::BLOCK) {
                params.push(param(
                    "block.count",
                    TypedValue::UInt(def.devices.disks.len() as u32),
                ));
                let counters = match live.as_mut() {
                    Some(live) => block_stats_by_target(&domain, live),
                    None => Vec::new(),
                };
                for (index, disk) in def.devices.disks.iter().enumerate() {
                    let target = disk.target_dev().unwrap_or("").to_string();
                    params.push(param(
                        format!("block.{index}.name"),
                        TypedValue::String(target.clone()),
                    ));
                    if let Some(path) = disk.source.as_ref().and_then(|source| source.path()) {
                        params.push(param(
                            format!("block.{index}.path"),
                            TypedValue::String(path.to_string()),
                        ));
                    }
                    if let Some((_, _, values)) =
                        counters.iter().find(|(name, _, _)| *name == target)
                    {
                        let get = |key: &str| values.get(key).and_then(Value::as_u64).unwrap_or(0);
                        for (field, key) in [
                            ("rd.reqs", "rd_operations"),
                            ("rd.bytes", "rd_bytes"),
                            ("rd.times", "rd_total_time_ns"),
                            ("wr.reqs", "wr_operations"),
                            ("wr.bytes", "wr_bytes"),
                            ("wr.times", "wr_total_time_ns"),
                            ("fl.reqs", "flush_operations"),
                            ("fl.times", "flush_total_time_ns"),
                        ] {
                            params.push(param(
                                format!("block.{index}.{field}"),
                                TypedValue::ULLong(get(key)),
                            ));
                        }
                    }
                }
            }
        }
        if let Some(live) = live {
            records::put_json(records::LIVE, domain.uuid(), &live);
        }
        out.push((domain.reference(), params));
    }
    Ok(out)
}

/// `virDomainSetMemoryFlags`: the balloon target live, `<currentMemory>`/`<memory>` in config.
pub fn set_memory(dom: &DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainSetMemoryFlags",
        flags,
        memory_flags::LIVE | memory_flags::CONFIG | memory_flags::MAXIMUM,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let domain = domain::get(dom)?;
    let (mut live_affected, mut config_affected) = (
        flags & memory_flags::LIVE != 0,
        flags & memory_flags::CONFIG != 0,
    );
    if !live_affected && !config_affected {
        if domain.is_active() {
            live_affected = true;
        } else {
            config_affected = true;
        }
    }
    let maximum = flags & memory_flags::MAXIMUM != 0;
    if live_affected {
        if maximum {
            return Err(invalid_operation(
                "cannot resize the maximum memory on an active domain",
            ));
        }
        let (domain, mut live) = lifecycle::running(dom)?;
        let mut def = domain::live_def(&live)?;
        if kib > def.memory_kib() {
            return Err(invalid_arg("cannot set memory higher than max memory"));
        }
        let has_balloon =
            def.devices.memballoon.as_ref().is_some_and(|balloon| {
                !matches!(balloon.model, Some(MemballoonModel::None) | None)
            });
        if !has_balloon {
            return Err(qemu_error(ErrorNumber::OPERATION_INVALID, "Unable to change memory of active domain without the balloon device and guest OS balloon driver"));
        }
        lifecycle::with_monitor(
            &domain,
            &mut live,
            Expectation::default(),
            |monitor, live| {
                monitor.run("balloon", json!({"value": kib * 1024}))?;
                def.current_memory = Some(virt_xml::domain::ScaledKib(kib));
                live.xml = def.to_xml();
                Ok(())
            },
        )?;
    }
    if config_affected {
        update_config(&domain, |def| {
            if maximum {
                def.set_memory_kib(kib);
                if def.current_memory_kib() > kib {
                    def.current_memory = Some(virt_xml::domain::ScaledKib(kib));
                }
            } else {
                if kib > def.memory_kib() {
                    return Err(invalid_arg("cannot set memory higher than max memory"));
                }
                def.current_memory = Some(virt_xml::domain::ScaledKib(kib));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Changes the persistent definition and stores it.
fn update_config(
    domain: &Loaded,
    change: impl FnOnce(&mut Domain) -> Result<(), Error>,
) -> Result<(), Error> {
    let xml = domain.record.config_xml.clone().ok_or_else(|| {
        invalid_operation("cannot change persistent config of a transient domain")
    })?;
    let mut def = Domain::parse(&xml).map_err(Error::from)?;
    change(&mut def)?;
    let layout = SpaceLayout::current()?;
    let xml = domain::inactive_xml(&def);
    files::write(&layout.config_file(&domain.record.name), xml.as_bytes())?;
    let mut record = domain.record.clone();
    record.config_xml = Some(xml);
    records::put_json(records::DOMAIN, domain.uuid(), &record);
    Ok(())
}

/// `virDomainGetVcpusFlags`.
pub fn get_vcpus(dom: &DomainRef, flags: u32) -> Result<i32, Error> {
    check_flags(
        "qemuDomainGetVcpusFlags",
        flags,
        vcpu_flags::LIVE | vcpu_flags::CONFIG | vcpu_flags::MAXIMUM | vcpu_flags::GUEST,
    )?;
    let domain = domain::get(dom)?;
    let def = if flags & vcpu_flags::CONFIG != 0 {
        Domain::parse(domain.record.config_xml.as_deref().unwrap_or_default())
            .map_err(Error::from)?
    } else {
        current_def(&domain)?
    };
    Ok(if flags & vcpu_flags::MAXIMUM != 0 {
        def.max_vcpus()
    } else {
        def.current_vcpus()
    } as i32)
}

pub fn max_vcpus(dom: &DomainRef) -> Result<i32, Error> {
    Ok(current_def(&domain::get(dom)?)?.max_vcpus() as i32)
}

/// `virDomainSetVcpusFlags`: hotplugs vCPUs live (`device_add` of the CPU slots QEMU offers),
/// changes the count (or maximum) in config.
pub fn set_vcpus(dom: &DomainRef, count: u32, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainSetVcpusFlags",
        flags,
        vcpu_flags::LIVE | vcpu_flags::CONFIG | vcpu_flags::MAXIMUM,
    )?;
    if count == 0 {
        return Err(invalid_arg(
            "argument unsupported: vcpus count must be at least 1",
        ));
    }
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let domain = domain::get(dom)?;
    let (mut live_affected, mut config_affected) = (
        flags & vcpu_flags::LIVE != 0,
        flags & vcpu_flags::CONFIG != 0,
    );
    if !live_affected && !config_affected {
        if domain.is_active() {
            live_affected = true;
        } else {
            config_affected = true;
        }
    }
    let maximum = flags & vcpu_flags::MAXIMUM != 0;
    if live_affected {
        if maximum {
            return Err(invalid_arg(
                "cannot change the maximum vCPU count of a running domain",
            ));
        }
        let (domain, mut live) = lifecycle::running(dom)?;
        let mut def = domain::live_def(&live)?;
        let current = def.current_vcpus();
        if count > def.max_vcpus() {
            return Err(invalid_arg(format!("requested vcpus is greater than max allowable vcpus for the live domain: {count} > {}", def.max_vcpus())));
        }
        if count < current {
            return Err(qemu_error(
                ErrorNumber::OPERATION_UNSUPPORTED,
                "vCPU unplug is not supported by this driver",
            ));
        }
        lifecycle::with_monitor(
            &domain,
            &mut live,
            Expectation::default(),
            |monitor, live| {
                let slots = monitor.run("query-hotpluggable-cpus", Value::Null)?;
                let free: Vec<Value> = slots
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|slot| slot.get("qom-path").is_none())
                    .collect();
                let needed = (count - current) as usize;
                if free.len() < needed {
                    return Err(qemu_error(
                        ErrorNumber::OPERATION_INVALID,
                        "not enough free CPU slots",
                    ));
                }
                // QEMU lists the slots highest first; plug in ascending order.
                for (position, slot) in free.iter().rev().take(needed).enumerate() {
                    let mut props = slot.get("props").cloned().unwrap_or(json!({}));
                    if let Some(object) = props.as_object_mut() {
                        object.insert(
                            "driver".into(),
                            slot.get("type").cloned().unwrap_or(Value::Null),
                        );
                        object.insert(
                            "id".into(),
                            json!(format!("vcpu{}", current as usize + position)),
                        );
                    }
                    monitor.run("device_add", props)?;
                }
                let vcpu = def.vcpu.get_or_insert_with(Default::default);
                vcpu.current = if count == vcpu.count.unwrap_or(count) {
                    None
                } else {
                    Some(count)
                };
                live.xml = def.to_xml();
                Ok(())
            },
        )?;
    }
    if config_affected {
        update_config(&domain, |def| {
            let vcpu = def.vcpu.get_or_insert_with(Default::default);
            if maximum {
                vcpu.count = Some(count);
                if vcpu.current.is_some_and(|current| current > count) {
                    vcpu.current = None;
                }
            } else {
                let max = vcpu.count.unwrap_or(1);
                if count > max {
                    return Err(invalid_arg(format!("requested vcpus is greater than max allowable vcpus for the persistent domain: {count} > {max}")));
                }
                vcpu.current = if count == max { None } else { Some(count) };
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// `virDomainBlockResize`.
pub fn block_resize(dom: &DomainRef, disk: &str, size: u64, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainBlockResize", flags, resize_flags::BYTES)?;
    let bytes = if flags & resize_flags::BYTES != 0 {
        size
    } else {
        size.saturating_mul(1024)
    };
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = lifecycle::running(dom)?;
    let def = domain::live_def(&live)?;
    let target = def
        .devices
        .disks
        .iter()
        .find(|candidate| {
            candidate.target_dev() == Some(disk)
                || candidate.source.as_ref().and_then(|source| source.path()) == Some(disk)
        })
        .ok_or_else(|| invalid_arg(format!("invalid path: {disk}")))?;
    let alias = target.info.alias_name().unwrap_or("").to_string();
    let node = live
        .disk_nodes
        .iter()
        .find(|(name, _)| *name == alias)
        .and_then(|(_, nodes)| crate::argv::disk::top_node(nodes))
        .ok_or_else(|| invalid_operation(format!("disk '{disk}' has no medium")))?;
    // QEMU needs a multiple of 512 for raw images (libvirt rounds up too).
    let bytes = bytes.div_ceil(512) * 512;
    lifecycle::with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor
            .run("block_resize", json!({"node-name": node, "size": bytes}))
            .map(|_| ())
    })
}

/// `virDomainOpenConsole`: the pty of the first console (or the named one).
pub fn open_console(
    dom: &DomainRef,
    dev_name: Option<&str>,
    flags: u32,
) -> Result<ConsoleEndpoint, Error> {
    check_flags("qemuDomainOpenConsole", flags, 1 | 2)?;
    let (_, live) = lifecycle::running(dom)?;
    let def = domain::live_def(&live)?;
    let chr = match dev_name {
        None => def.devices.consoles.first().or(def.devices.serials.first()),
        Some(name) => def
            .devices
            .consoles
            .iter()
            .chain(&def.devices.serials)
            .chain(&def.devices.parallels)
            .chain(&def.devices.channels)
            .find(|chr| chr.info.alias_name() == Some(name)),
    }
    .ok_or_else(|| {
        qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "cannot find character device {}",
                dev_name.unwrap_or("<null>")
            ),
        )
    })?;
    match chr.chr_type {
        Some(ChrType::Pty) => {
            let path = chr
                .source()
                .and_then(|source| source.path.clone())
                .ok_or_else(|| {
                    qemu_error(
                        ErrorNumber::OPERATION_FAILED,
                        "console pty path is not known",
                    )
                })?;
            Ok(ConsoleEndpoint::Pty(path))
        }
        Some(ChrType::Unix) => {
            let path = chr
                .source()
                .and_then(|source| source.path.clone())
                .unwrap_or_default();
            Ok(ConsoleEndpoint::UnixSocket(path))
        }
        other => Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "character device {} is not using a PTY",
                other.map_or("", ChrType::as_str)
            ),
        )),
    }
}

/// `virDomainSendKey` (Linux key codes, or QEMU's numbers).
pub fn send_key(
    dom: &DomainRef,
    codeset: u32,
    holdtime: u32,
    keycodes: &[u32],
    flags: u32,
) -> Result<(), Error> {
    check_flags("qemuDomainSendKey", flags, 0)?;
    let (domain, mut live) = lifecycle::running(dom)?;
    let keys: Vec<Value> = keycodes
        .iter()
        .map(|code| match codeset {
            9 => json!({"type": "number", "data": code}),
            _ => json!({"type": "number", "data": linux_to_qnum(*code)}),
        })
        .collect();
    let mut arguments = json!({"keys": keys});
    if holdtime > 0 {
        arguments["hold-time"] = json!(holdtime);
    }
    lifecycle::with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor.run("send-key", arguments).map(|_| ())
    })
}

/// Linux key codes 1-83 equal the XT set-1 codes QEMU numbers keys with.
fn linux_to_qnum(code: u32) -> u32 {
    code
}

/// `virDomainInjectNMI`.
pub fn inject_nmi(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainInjectNMI", flags, 0)?;
    let (domain, mut live) = lifecycle::running(dom)?;
    lifecycle::with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor.run("inject-nmi", Value::Null).map(|_| ())
    })
}

/// `virDomainQemuMonitorCommand` (QMP JSON, or HMP with flag 1).
pub fn monitor_command(dom: &DomainRef, command: &str, flags: u32) -> Result<String, Error> {
    use virt_core::consts::domain_qemu_monitor_command_flags::HMP;
    check_flags("qemuDomainQemuMonitorCommand", flags, HMP)?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = lifecycle::running(dom)?;
    if flags & HMP != 0 {
        return lifecycle::with_monitor(
            &domain,
            &mut live,
            Expectation::default(),
            |monitor, _| {
                let reply =
                    monitor.run("human-monitor-command", json!({"command-line": command}))?;
                Ok(reply.as_str().unwrap_or("").to_string())
            },
        );
    }
    // QMP goes to QEMU as written and its reply comes back as QEMU wrote it, as libvirt does.
    let request = match serde_json::from_str::<Value>(command) {
        Ok(Value::Object(request)) if request.get("execute").is_some_and(Value::is_string) => {
            request
        }
        Ok(Value::Object(_)) => return Err(invalid_arg("monitor command has no 'execute'")),
        _ => return Err(invalid_arg("monitor command is not valid JSON")),
    };
    let name = request
        .get("execute")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    lifecycle::with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor
            .execute_verbatim(request)
            .map_err(|error| error.into_error(&name))
    })
}

/// `virDomainQemuAgentCommand`.
pub fn agent_command(
    dom: &DomainRef,
    command: &str,
    timeout: i32,
    flags: u32,
) -> Result<String, Error> {
    check_flags("qemuDomainQemuAgentCommand", flags, 0)?;
    let (_, live) = lifecycle::running(dom)?;
    let def = domain::live_def(&live)?;
    crate::agent::command(&def, command, timeout)
}
