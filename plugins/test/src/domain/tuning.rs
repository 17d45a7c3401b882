//! The `virDomainGet*Parameters` / `virDomainSet*Parameters` families as the test driver
//! answers them: memory limits, block I/O weights, NUMA memory placement, interface
//! bandwidth, per-disk I/O throttling and perf events, all kept in the definition (nothing
//! is enforced). Launch security has nothing to report; guest info is not implemented by
//! libvirt's test driver.
//!
//! One difference from libvirt, on purpose: a blkio change with a malformed device list
//! changes nothing (libvirt keeps the parameters it applied before the bad one).

use virt_core::consts::domain_modification_impact::{CONFIG, LIVE};
use virt_core::{Error, ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::{DomainRef, ParameterSet, TypedParam, TypedValue};
use virt_xml::domain::cpu::NumatuneMemory;
use virt_xml::domain::disk::IoTune;
use virt_xml::domain::interface::{Bandwidth, BandwidthRate};
use virt_xml::domain::{
    BlkioDevice, Blkiotune, Disk, Domain, Interface, Memtune, PerfEvent, ScaledKib,
};
use virt_xml::xml::YesNo;

use super::config::{one_def, pick, pick_ref};
use super::guest::cpuset;
use crate::error;
use crate::space::Space;
use crate::typed_params::{self, param, Kind};

/// `VIR_TYPED_PARAM_STRING_OKAY`: getters accept it.
const STRING_OKAY: u32 = 1 << 2;

/// `VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`: a limit that is not set.
const MEMORY_UNLIMITED: u64 = 9007199254740991;

const HARD_LIMIT: &str = "hard_limit";
const SOFT_LIMIT: &str = "soft_limit";
const SWAP_HARD_LIMIT: &str = "swap_hard_limit";

const BLKIO_WEIGHT: &str = "weight";
const DEVICE_WEIGHT: &str = "device_weight";
const DEVICE_READ_IOPS: &str = "device_read_iops_sec";
const DEVICE_WRITE_IOPS: &str = "device_write_iops_sec";
const DEVICE_READ_BPS: &str = "device_read_bytes_sec";
const DEVICE_WRITE_BPS: &str = "device_write_bytes_sec";
const BLKIO_DEVICE_FIELDS: [&str; 5] = [
    DEVICE_WEIGHT,
    DEVICE_READ_IOPS,
    DEVICE_WRITE_IOPS,
    DEVICE_READ_BPS,
    DEVICE_WRITE_BPS,
];

const NUMA_MODE: &str = "numa_mode";
const NUMA_NODESET: &str = "numa_nodeset";
/// `virDomainNumatuneMemMode`, by value.
const NUMA_MODES: [&str; 4] = ["strict", "preferred", "interleave", "restrictive"];
/// `VIR_DOMAIN_CPUMASK_LEN`: how many nodes a nodeset may name.
const NODESET_LIMIT: u32 = 4096;

const IN_AVERAGE: &str = "inbound.average";
const IN_PEAK: &str = "inbound.peak";
const IN_BURST: &str = "inbound.burst";
const IN_FLOOR: &str = "inbound.floor";
const OUT_AVERAGE: &str = "outbound.average";
const OUT_PEAK: &str = "outbound.peak";
const OUT_BURST: &str = "outbound.burst";

/// The largest throttle the test driver accepts (`TEST_BLOCK_IOTUNE_MAX`).
const IOTUNE_MAX: u64 = 1_000_000_000_000_000;
const IOTUNE_GROUP_NAME: &str = "group_name";

/// `virPerfEventType` names, in enum order (also the order of `<perf>`).
const PERF_EVENTS: [&str; 22] = [
    "cmt",
    "mbmt",
    "mbml",
    "cpu_cycles",
    "instructions",
    "cache_references",
    "cache_misses",
    "branch_instructions",
    "branch_misses",
    "bus_cycles",
    "stalled_cycles_frontend",
    "stalled_cycles_backend",
    "ref_cpu_cycles",
    "cpu_clock",
    "task_clock",
    "page_faults",
    "context_switches",
    "cpu_migrations",
    "page_faults_min",
    "page_faults_maj",
    "alignment_faults",
    "emulation_faults",
];

/// The throttles of `<iotune>`, in the order `virDomainGetBlockIoTune` lists them
/// (`group_name` goes between `size_iops_sec` and the `*_max_length` ones).
fn iotune_fields(tune: &mut IoTune) -> [(&'static str, &mut Option<u64>); 19] {
    [
        ("total_bytes_sec", &mut tune.total_bytes_sec),
        ("read_bytes_sec", &mut tune.read_bytes_sec),
        ("write_bytes_sec", &mut tune.write_bytes_sec),
        ("total_iops_sec", &mut tune.total_iops_sec),
        ("read_iops_sec", &mut tune.read_iops_sec),
        ("write_iops_sec", &mut tune.write_iops_sec),
        ("total_bytes_sec_max", &mut tune.total_bytes_sec_max),
        ("read_bytes_sec_max", &mut tune.read_bytes_sec_max),
        ("write_bytes_sec_max", &mut tune.write_bytes_sec_max),
        ("total_iops_sec_max", &mut tune.total_iops_sec_max),
        ("read_iops_sec_max", &mut tune.read_iops_sec_max),
        ("write_iops_sec_max", &mut tune.write_iops_sec_max),
        ("size_iops_sec", &mut tune.size_iops_sec),
        (
            "total_bytes_sec_max_length",
            &mut tune.total_bytes_sec_max_length,
        ),
        (
            "read_bytes_sec_max_length",
            &mut tune.read_bytes_sec_max_length,
        ),
        (
            "write_bytes_sec_max_length",
            &mut tune.write_bytes_sec_max_length,
        ),
        (
            "total_iops_sec_max_length",
            &mut tune.total_iops_sec_max_length,
        ),
        (
            "read_iops_sec_max_length",
            &mut tune.read_iops_sec_max_length,
        ),
        (
            "write_iops_sec_max_length",
            &mut tune.write_iops_sec_max_length,
        ),
    ]
}

/// Where `group_name` sits among the throttles when listed.
const IOTUNE_GROUP_POSITION: usize = 13;

fn getter_name(set: ParameterSet) -> &'static str {
    match set {
        ParameterSet::Memory => "testDomainGetMemoryParameters",
        ParameterSet::Blkio => "testDomainGetBlkioParameters",
        ParameterSet::Numa => "testDomainGetNumaParameters",
        ParameterSet::Interface => "testDomainGetInterfaceParameters",
        ParameterSet::BlockIoTune => "testDomainGetBlockIoTune",
        ParameterSet::PerfEvents => "testDomainGetPerfEvents",
        ParameterSet::LaunchSecurity => "testDomainGetLaunchSecurityInfo",
        ParameterSet::GuestInfo => "testDomainGetGuestInfo",
    }
}

fn setter_name(set: ParameterSet) -> &'static str {
    match set {
        ParameterSet::Memory => "testDomainSetMemoryParameters",
        ParameterSet::Blkio => "testDomainSetBlkioParameters",
        ParameterSet::Numa => "testDomainSetNumaParameters",
        ParameterSet::Interface => "testDomainSetInterfaceParameters",
        ParameterSet::BlockIoTune => "testDomainSetBlockIoTune",
        ParameterSet::PerfEvents => "testDomainSetPerfEvents",
        ParameterSet::LaunchSecurity => "virDomainSetLaunchSecurityState",
        ParameterSet::GuestInfo => "virDomainGetGuestInfo",
    }
}

fn device_arg(device: Option<&str>) -> Result<&str> {
    device.ok_or_else(|| error::invalid_arg("a device name is required"))
}

/// `virDomainGet*Parameters` for `set`.
pub(crate) fn get(
    space: &dyn Space,
    dom: &DomainRef,
    set: ParameterSet,
    device: Option<&str>,
    flags: u32,
) -> Result<Vec<TypedParam>> {
    match set {
        ParameterSet::LaunchSecurity => {
            error::check_flags(flags, 0, getter_name(set))?;
            return Ok(Vec::new());
        }
        ParameterSet::GuestInfo => {
            return Err(Error::no_support(
                ErrorDomain::DOMAIN,
                "virDomainGetGuestInfo",
            ))
        }
        _ => error::check_flags(flags, LIVE | CONFIG | STRING_OKAY, getter_name(set))?,
    }
    let flags = flags & !STRING_OKAY;
    let d = super::get(space, dom)?;
    let (target, _) = one_def(&d, flags)?;
    let defs = d.defs(space)?;
    let def = pick_ref(&defs, target)?.model();
    match set {
        ParameterSet::Memory => Ok(memory_params(def)),
        ParameterSet::Blkio => Ok(blkio_params(def)),
        ParameterSet::Numa => Ok(numa_params(def)),
        ParameterSet::Interface => {
            let device = device_arg(device)?;
            let iface = find_interface(def, device)?;
            Ok(interface_params(iface))
        }
        ParameterSet::BlockIoTune => {
            let path = device_arg(device)?;
            let disk = find_disk(def, path).ok_or_else(|| {
                error::invalid_arg(format!("disk '{path}' was not found in the domain config"))
            })?;
            Ok(iotune_params(disk))
        }
        ParameterSet::PerfEvents => Ok(perf_params(def)),
        ParameterSet::LaunchSecurity | ParameterSet::GuestInfo => Ok(Vec::new()),
    }
}

/// `virDomainSet*Parameters` for `set`.
pub(crate) fn set(
    space: &dyn Space,
    dom: &DomainRef,
    set: ParameterSet,
    device: Option<&str>,
    params: &[TypedParam],
    flags: u32,
) -> Result<()> {
    if matches!(set, ParameterSet::LaunchSecurity | ParameterSet::GuestInfo) {
        return Err(Error::no_support(ErrorDomain::DOMAIN, setter_name(set)));
    }
    error::check_flags(flags, LIVE | CONFIG, setter_name(set))?;
    typed_params::validate(params, &allowed_params(set))?;
    let mut d = super::get_for_change(space, dom)?;
    let (target, live) = one_def(&d, flags)?;
    let mut defs = d.defs(space)?;
    let live_hard_limits = memory_limits(defs.def.model());
    let def = pick(&mut defs, target)?.model_mut();
    match set {
        ParameterSet::Memory => set_memory(def, live_hard_limits, params)?,
        ParameterSet::Blkio => set_blkio(def, params)?,
        ParameterSet::Numa => set_numa(def, live, params)?,
        ParameterSet::Interface => set_interface(def, device_arg(device)?, params)?,
        ParameterSet::BlockIoTune => set_iotune(def, device_arg(device)?, params)?,
        ParameterSet::PerfEvents => set_perf(def, params),
        ParameterSet::LaunchSecurity | ParameterSet::GuestInfo => {}
    }
    d.write_all(space, &defs)
}

fn allowed_params(set: ParameterSet) -> Vec<(&'static str, Kind)> {
    match set {
        ParameterSet::Memory => vec![
            (HARD_LIMIT, Kind::ULLong),
            (SOFT_LIMIT, Kind::ULLong),
            (SWAP_HARD_LIMIT, Kind::ULLong),
        ],
        ParameterSet::Blkio => std::iter::once((BLKIO_WEIGHT, Kind::UInt))
            .chain(
                BLKIO_DEVICE_FIELDS
                    .iter()
                    .map(|field| (*field, Kind::String)),
            )
            .collect(),
        ParameterSet::Numa => vec![(NUMA_MODE, Kind::Int), (NUMA_NODESET, Kind::String)],
        ParameterSet::Interface => [
            IN_AVERAGE,
            IN_PEAK,
            IN_BURST,
            IN_FLOOR,
            OUT_AVERAGE,
            OUT_PEAK,
            OUT_BURST,
        ]
        .iter()
        .map(|field| (*field, Kind::UInt))
        .collect(),
        ParameterSet::BlockIoTune => {
            let mut tune = IoTune::default();
            let mut allowed: Vec<(&'static str, Kind)> = iotune_fields(&mut tune)
                .into_iter()
                .map(|(field, _)| (field, Kind::ULLong))
                .collect();
            allowed.push((IOTUNE_GROUP_NAME, Kind::String));
            allowed
        }
        ParameterSet::PerfEvents => PERF_EVENTS
            .iter()
            .map(|event| (*event, Kind::Boolean))
            .collect(),
        ParameterSet::LaunchSecurity | ParameterSet::GuestInfo => Vec::new(),
    }
}

fn ullong(value: &TypedValue) -> u64 {
    match value {
        TypedValue::Ullong(v) => *v,
        TypedValue::Uint(v) => u64::from(*v),
        _ => 0,
    }
}

fn uint(value: &TypedValue) -> u32 {
    match value {
        TypedValue::Uint(v) => *v,
        _ => 0,
    }
}

fn string(value: &TypedValue) -> &str {
    match value {
        TypedValue::String(v) => v,
        _ => "",
    }
}

// --- memory -------------------------------------------------------------------------------

/// A `<memtune>` limit as the API reports it: unset is unlimited.
fn limit(value: &Option<ScaledKib>) -> u64 {
    value.as_ref().map_or(MEMORY_UNLIMITED, |kib| kib.0)
}

/// The (hard, swap hard) limits of a definition.
fn memory_limits(def: &Domain) -> (u64, u64) {
    match &def.memtune {
        Some(tune) => (limit(&tune.hard_limit), limit(&tune.swap_hard_limit)),
        None => (MEMORY_UNLIMITED, MEMORY_UNLIMITED),
    }
}

fn memory_params(def: &Domain) -> Vec<TypedParam> {
    let tune = def.memtune.clone().unwrap_or_default();
    vec![
        param(HARD_LIMIT, TypedValue::Ullong(limit(&tune.hard_limit))),
        param(SOFT_LIMIT, TypedValue::Ullong(limit(&tune.soft_limit))),
        param(
            SWAP_HARD_LIMIT,
            TypedValue::Ullong(limit(&tune.swap_hard_limit)),
        ),
    ]
}

/// `testDomainSetMemoryParameters`: the hard limit is checked against the swap limit of the
/// running definition (`vm->def`), whichever definition changes.
fn set_memory(def: &mut Domain, live_limits: (u64, u64), params: &[TypedParam]) -> Result<()> {
    let find = |field: &str| {
        params
            .iter()
            .find(|p| p.field == field)
            .map(|p| ullong(&p.value))
    };
    let (hard, soft, swap) = (find(HARD_LIMIT), find(SOFT_LIMIT), find(SWAP_HARD_LIMIT));
    if hard.is_some() || swap.is_some() {
        let mem_limit = hard.unwrap_or(live_limits.0);
        let swap_limit = swap.unwrap_or(live_limits.1);
        if mem_limit > swap_limit {
            return Err(error::invalid_arg(
                "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
            ));
        }
    }
    let as_limit = |value: u64| (value < MEMORY_UNLIMITED).then_some(ScaledKib(value));
    let tune = def.memtune.get_or_insert_with(Memtune::default);
    if let Some(soft) = soft {
        tune.soft_limit = as_limit(soft);
    }
    if let Some(hard) = hard {
        tune.hard_limit = as_limit(hard);
    }
    if let Some(swap) = swap {
        tune.swap_hard_limit = as_limit(swap);
    }
    if *tune == Memtune::default() {
        def.memtune = None;
    }
    Ok(())
}

// --- blkio --------------------------------------------------------------------------------

/// One device's value of a blkio device field, 0 when unset.
fn device_value(device: &BlkioDevice, field: &str) -> u64 {
    match field {
        DEVICE_WEIGHT => device.weight.map_or(0, u64::from),
        DEVICE_READ_IOPS => device.read_iops_sec.map_or(0, u64::from),
        DEVICE_WRITE_IOPS => device.write_iops_sec.map_or(0, u64::from),
        DEVICE_READ_BPS => device.read_bytes_sec.unwrap_or(0),
        _ => device.write_bytes_sec.unwrap_or(0),
    }
}

fn set_device_value(device: &mut BlkioDevice, field: &str, value: u64) {
    let nonzero = (value != 0).then_some(value);
    let nonzero32 = nonzero.map(|v| v as u32);
    match field {
        DEVICE_WEIGHT => device.weight = nonzero32,
        DEVICE_READ_IOPS => device.read_iops_sec = nonzero32,
        DEVICE_WRITE_IOPS => device.write_iops_sec = nonzero32,
        DEVICE_READ_BPS => device.read_bytes_sec = nonzero,
        _ => device.write_bytes_sec = nonzero,
    }
}

fn blkio_params(def: &Domain) -> Vec<TypedParam> {
    let tune = def.blkiotune.clone().unwrap_or_default();
    let mut params = vec![param(
        BLKIO_WEIGHT,
        TypedValue::Uint(tune.weight.unwrap_or(0)),
    )];
    for field in BLKIO_DEVICE_FIELDS {
        let listed: Vec<String> = tune
            .devices
            .iter()
            .filter(|device| device_value(device, field) != 0)
            .map(|device| {
                format!(
                    "{},{}",
                    device.path.as_deref().unwrap_or_default(),
                    device_value(device, field)
                )
            })
            .collect();
        params.push(param(field, TypedValue::String(listed.join(","))));
    }
    params
}

/// `virDomainDriverParseBlkioDeviceStr`: "path,value,path,value".
fn parse_blkio_devices(text: &str, field: &str) -> Result<Vec<(String, u64)>> {
    let unparsable = || {
        error::domain_conf(
            ErrorNumber::INVALID_ARG,
            format!("unable to parse blkio device '{field}' '{text}'"),
        )
    };
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.matches(',').count().is_multiple_of(2) {
        return Err(unparsable());
    }
    let wide = matches!(field, DEVICE_READ_BPS | DEVICE_WRITE_BPS);
    let mut devices = Vec::new();
    let mut rest = text;
    loop {
        let (path, after) = rest.split_once(',').ok_or_else(unparsable)?;
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let parsed = if wide {
            after[..digits].parse::<u64>().ok()
        } else {
            after[..digits].parse::<u32>().ok().map(u64::from)
        };
        let Some(parsed) = parsed else {
            return Err(error::domain_conf(
                ErrorNumber::INVALID_ARG,
                format!("invalid value '{after}' for parameter '{field}' of device '{path}'"),
            ));
        };
        devices.push((path.to_string(), parsed));
        match after[digits..].strip_prefix(',') {
            Some(next) => rest = next,
            None if after.len() == digits => return Ok(devices),
            None => return Err(unparsable()),
        }
    }
}

/// `virDomainDriverSetupPersistentDefBlkioParams` with `virDomainDriverMergeBlkioDevice`.
fn set_blkio(def: &mut Domain, params: &[TypedParam]) -> Result<()> {
    let mut tune = def.blkiotune.clone().unwrap_or_default();
    for p in params {
        if p.field == BLKIO_WEIGHT {
            let weight = uint(&p.value);
            tune.weight = (weight != 0).then_some(weight);
            continue;
        }
        for (path, value) in parse_blkio_devices(string(&p.value), &p.field)? {
            match tune
                .devices
                .iter_mut()
                .find(|device| device.path.as_deref() == Some(path.as_str()))
            {
                Some(device) => set_device_value(device, &p.field, value),
                None if value == 0 => {}
                None => {
                    let mut device = BlkioDevice {
                        path: Some(path),
                        ..BlkioDevice::default()
                    };
                    set_device_value(&mut device, &p.field, value);
                    tune.devices.push(device);
                }
            }
        }
    }
    def.blkiotune = (tune != Blkiotune::default()).then_some(tune);
    Ok(())
}

// --- NUMA ---------------------------------------------------------------------------------

fn numa_params(def: &Domain) -> Vec<TypedParam> {
    let memory = def.numatune.as_ref().and_then(|tune| tune.memory.as_ref());
    let mode = memory
        .and_then(|memory| memory.mode.as_deref())
        .and_then(|mode| NUMA_MODES.iter().position(|known| *known == mode))
        .unwrap_or(0);
    let nodeset = memory
        .and_then(|memory| memory.nodeset.clone())
        .unwrap_or_default();
    vec![
        param(NUMA_MODE, TypedValue::Int(mode as i32)),
        param(NUMA_NODESET, TypedValue::String(nodeset)),
    ]
}

/// `testDomainSetNumaParameters` with `virDomainNumatuneSet`.
fn set_numa(def: &mut Domain, live: bool, params: &[TypedParam]) -> Result<()> {
    let mut mode: Option<usize> = None;
    let mut nodeset: Option<Vec<u32>> = None;
    for p in params {
        if p.field == NUMA_MODE {
            let value = match p.value {
                TypedValue::Int(v) => v,
                _ => 0,
            };
            if value < 0 || value as usize >= NUMA_MODES.len() {
                return Err(error::invalid_arg(format!(
                    "unsupported numatune mode: '{value}'"
                )));
            }
            mode = Some(value as usize);
        } else if p.field == NUMA_NODESET {
            let text = string(&p.value);
            let nodes = cpuset::parse(text, Some(NODESET_LIMIT)).ok_or_else(|| {
                Error::new(
                    ErrorNumber::INVALID_ARG,
                    ErrorDomain::NONE,
                    format!("Failed to parse bitmap '{text}'"),
                )
            })?;
            if nodes.is_empty() {
                return Err(error::operation_invalid(format!(
                    "Invalid nodeset of 'numatune': {text}"
                )));
            }
            nodeset = Some(nodes);
        }
    }
    let current = def.numatune.as_ref().and_then(|tune| tune.memory.clone());
    if let (true, Some(mode), Some(current)) = (live, mode, &current) {
        let current_mode = current
            .mode
            .as_deref()
            .and_then(|m| NUMA_MODES.iter().position(|known| *known == m))
            .unwrap_or(0);
        if current_mode != mode {
            return Err(error::operation_invalid(
                "can't change numatune mode for running domain",
            ));
        }
    }
    if mode.is_none() && nodeset.is_none() {
        return Ok(());
    }
    let specified = current.is_some();
    let mut memory = current.unwrap_or_default();
    let mode = mode.or(if specified { None } else { Some(0) });
    if let Some(mode) = mode {
        memory.mode = Some(NUMA_MODES[mode].to_string());
    }
    let mut static_placement = !specified;
    if let Some(nodes) = &nodeset {
        memory.nodeset = Some(cpuset::format(nodes));
        static_placement = true;
    }
    if static_placement {
        // Test domains always have static vcpu placement, so the default placement is static.
        if memory.nodeset.is_none() {
            return Err(error::domain_conf(
                ErrorNumber::CONFIG_UNSUPPORTED,
                "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
            ));
        }
        memory.placement = None;
    }
    def.numatune.get_or_insert_with(Default::default).memory = Some(NumatuneMemory {
        mode: memory.mode,
        nodeset: memory.nodeset,
        placement: memory.placement,
    });
    Ok(())
}

// --- interfaces ---------------------------------------------------------------------------

/// `virDomainNetFind`: by MAC address, else by host-side name.
fn interface_index(def: &Domain, device: &str) -> Result<usize> {
    let interfaces = &def.devices.interfaces;
    let found = match virt_xml::domain::parse_mac(device) {
        Some(mac) => interfaces.iter().position(|iface| {
            iface.mac_address().and_then(virt_xml::domain::parse_mac) == Some(mac)
        }),
        None => interfaces.iter().position(|iface| {
            iface
                .target
                .as_ref()
                .and_then(|target| target.dev.as_deref())
                == Some(device)
        }),
    };
    found.ok_or_else(|| {
        error::domain_conf(
            ErrorNumber::INVALID_ARG,
            format!("'{device}' is not a known interface"),
        )
    })
}

fn find_interface<'d>(def: &'d Domain, device: &str) -> Result<&'d Interface> {
    Ok(&def.devices.interfaces[interface_index(def, device)?])
}

fn interface_params(iface: &Interface) -> Vec<TypedParam> {
    let bandwidth = iface.bandwidth.clone().unwrap_or_default();
    let inbound = bandwidth.inbound.unwrap_or_default();
    let outbound = bandwidth.outbound.unwrap_or_default();
    let value = |v: Option<u64>| TypedValue::Uint(v.unwrap_or(0) as u32);
    vec![
        param(IN_AVERAGE, value(inbound.average)),
        param(IN_PEAK, value(inbound.peak)),
        param(IN_BURST, value(inbound.burst)),
        param(IN_FLOOR, value(inbound.floor)),
        param(OUT_AVERAGE, value(outbound.average)),
        param(OUT_PEAK, value(outbound.peak)),
        param(OUT_BURST, value(outbound.burst)),
    ]
}

/// `testDomainSetInterfaceParameters`: a direction given an average (or, inbound, a floor)
/// is replaced as a whole; given zero for those, it is removed.
fn set_interface(def: &mut Domain, device: &str, params: &[TypedParam]) -> Result<()> {
    let index = interface_index(def, device)?;
    let mut inbound = BandwidthRate::default();
    let mut outbound = BandwidthRate::default();
    let (mut inbound_given, mut outbound_given) = (false, false);
    for p in params {
        let value = (uint(&p.value) != 0).then_some(u64::from(uint(&p.value)));
        match p.field.as_str() {
            IN_AVERAGE => {
                inbound.average = value;
                inbound_given = true;
            }
            IN_PEAK => inbound.peak = value,
            IN_BURST => inbound.burst = value,
            IN_FLOOR => {
                inbound.floor = value;
                inbound_given = true;
            }
            OUT_AVERAGE => {
                outbound.average = value;
                outbound_given = true;
            }
            OUT_PEAK => outbound.peak = value,
            OUT_BURST => outbound.burst = value,
            _ => {}
        }
    }
    let inbound = (inbound.average.is_some() || inbound.floor.is_some()).then_some(inbound);
    let outbound = outbound.average.is_some().then_some(outbound);
    let iface = &mut def.devices.interfaces[index];
    let bandwidth = iface.bandwidth.get_or_insert_with(Bandwidth::default);
    if inbound.is_some() || inbound_given {
        bandwidth.inbound = inbound;
    }
    if outbound.is_some() || outbound_given {
        bandwidth.outbound = outbound;
    }
    if bandwidth.inbound.is_none() && bandwidth.outbound.is_none() && bandwidth.class_id.is_none() {
        iface.bandwidth = None;
    }
    Ok(())
}

// --- block I/O throttling -----------------------------------------------------------------

/// `virDomainDiskByName` allowing ambiguity: by target, else the first disk with that source.
fn disk_index(def: &Domain, name: &str) -> Option<usize> {
    let disks = &def.devices.disks;
    disks
        .iter()
        .position(|disk| disk.target_dev() == Some(name))
        .or_else(|| {
            disks
                .iter()
                .position(|disk| disk.source_path() == Some(name))
        })
}

fn find_disk<'d>(def: &'d Domain, name: &str) -> Option<&'d Disk> {
    disk_index(def, name).map(|index| &def.devices.disks[index])
}

fn iotune_params(disk: &Disk) -> Vec<TypedParam> {
    let mut tune = disk.iotune.clone().unwrap_or_default();
    let group = tune.group_name.clone().unwrap_or_default();
    let mut params: Vec<TypedParam> = iotune_fields(&mut tune)
        .into_iter()
        .map(|(field, value)| param(field, TypedValue::Ullong(value.unwrap_or(0))))
        .collect();
    params.insert(
        IOTUNE_GROUP_POSITION,
        param(IOTUNE_GROUP_NAME, TypedValue::String(group)),
    );
    params
}

/// `testDomainSetBlockIoTune`: the new values merge into the disk's, then the combination
/// is checked.
fn set_iotune(def: &mut Domain, path: &str, params: &[TypedParam]) -> Result<()> {
    let index = disk_index(def, path).ok_or_else(|| {
        error::invalid_arg(format!(
            "missing persistent configuration for disk '{path}'"
        ))
    })?;
    let mut tune = def.devices.disks[index].iotune.clone().unwrap_or_default();
    for p in params {
        if p.field == IOTUNE_GROUP_NAME {
            let name = string(&p.value);
            tune.group_name = (!name.is_empty()).then(|| name.to_string());
            continue;
        }
        let value = ullong(&p.value);
        if value > IOTUNE_MAX {
            return Err(error::test(
                ErrorNumber::ARGUMENT_UNSUPPORTED,
                format!("block I/O throttle limit value must be no more than {IOTUNE_MAX}"),
            ));
        }
        if let Some((_, slot)) = iotune_fields(&mut tune)
            .into_iter()
            .find(|(field, _)| *field == p.field)
        {
            *slot = (value != 0).then_some(value);
        }
    }
    let v = |value: Option<u64>| value.unwrap_or(0);
    let exclusive = [
        (
            tune.total_bytes_sec,
            tune.read_bytes_sec,
            tune.write_bytes_sec,
            "bytes_sec",
        ),
        (
            tune.total_iops_sec,
            tune.read_iops_sec,
            tune.write_iops_sec,
            "iops_sec",
        ),
        (
            tune.total_bytes_sec_max,
            tune.read_bytes_sec_max,
            tune.write_bytes_sec_max,
            "bytes_sec_max",
        ),
        (
            tune.total_iops_sec_max,
            tune.read_iops_sec_max,
            tune.write_iops_sec_max,
            "iops_sec_max",
        ),
    ];
    for (total, read, write, what) in exclusive {
        if v(total) != 0 && (v(read) != 0 || v(write) != 0) {
            return Err(error::invalid_arg(format!(
                "total and read/write of {what} cannot be set at the same time"
            )));
        }
    }
    let bounded = [
        (
            "total_bytes_sec",
            tune.total_bytes_sec,
            tune.total_bytes_sec_max,
        ),
        (
            "read_bytes_sec",
            tune.read_bytes_sec,
            tune.read_bytes_sec_max,
        ),
        (
            "write_bytes_sec",
            tune.write_bytes_sec,
            tune.write_bytes_sec_max,
        ),
        (
            "total_iops_sec",
            tune.total_iops_sec,
            tune.total_iops_sec_max,
        ),
        ("read_iops_sec", tune.read_iops_sec, tune.read_iops_sec_max),
        (
            "write_iops_sec",
            tune.write_iops_sec,
            tune.write_iops_sec_max,
        ),
    ];
    for (field, value, max) in bounded {
        if v(value) > v(max) {
            return Err(error::invalid_arg(format!(
                "{field} cannot be set higher than {field}_max "
            )));
        }
    }
    def.devices.disks[index].iotune = (tune != IoTune::default()).then_some(tune);
    Ok(())
}

// --- perf events --------------------------------------------------------------------------

fn perf_params(def: &Domain) -> Vec<TypedParam> {
    PERF_EVENTS
        .iter()
        .map(|event| {
            let enabled = def.perf.as_ref().is_some_and(|perf| {
                perf.events
                    .iter()
                    .any(|e| e.name.as_deref() == Some(*event) && e.enabled == Some(YesNo::Yes))
            });
            param(event, TypedValue::Boolean(enabled))
        })
        .collect()
}

/// `testDomainSetPerfEvents`: each named event becomes explicitly enabled or disabled.
fn set_perf(def: &mut Domain, params: &[TypedParam]) {
    let perf = def.perf.get_or_insert_with(Default::default);
    for p in params {
        let enabled = matches!(p.value, TypedValue::Boolean(true));
        let state = Some(if enabled { YesNo::Yes } else { YesNo::No });
        match perf
            .events
            .iter_mut()
            .find(|e| e.name.as_deref() == Some(p.field.as_str()))
        {
            Some(event) => event.enabled = state,
            None => perf.events.push(PerfEvent {
                name: Some(p.field.clone()),
                enabled: state,
            }),
        }
    }
    let rank = |event: &PerfEvent| {
        PERF_EVENTS
            .iter()
            .position(|known| Some(*known) == event.name.as_deref())
            .unwrap_or(PERF_EVENTS.len())
    };
    perf.events.sort_by_key(rank);
}
