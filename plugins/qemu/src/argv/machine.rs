//! The machine-wide options: `-machine`, `-accel`, `-cpu`, memory (`-m` and its backend),
//! `-smp`, NUMA nodes, `-rtc`, power management and `-boot` (with direct kernel boot).

use virt_xml::domain::enums::*;
use virt_xml::domain::Domain;

use super::command::CommandLine;
use super::escape_option;
use super::prepare::{chipset, machine_name, Chipset};
use super::props::Props;

use crate::capabilities::QemuCaps;
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// `-machine <type>,usb=off,...`: the machine features, then the memory parameters, launch
/// security, HMAT, the serial firmware console and the HPET, in libvirt's order.
pub fn build_machine(
    cmd: &mut CommandLine,
    def: &Domain,
    caps: &QemuCaps,
    config: &super::DriverConfig,
) -> Result<(), Error> {
    let machine = machine_name(def);
    if machine.is_empty() {
        return Err(unsupported_config("no machine type given"));
    }
    let on_off = |on: bool| if on { "on" } else { "off" };
    let mut value = format!("{machine},usb=off");
    if let Some(features) = def.features.as_ref() {
        if let Some(state) = features.vmport.as_ref().and_then(|vmport| vmport.state) {
            value.push_str(&format!(",vmport={}", on_off(state.is_on())));
        }
        if let Some(state) = features.smm.as_ref().and_then(|smm| smm.state) {
            value.push_str(&format!(",smm={}", on_off(state.is_on())));
        }
        match features.ioapic.as_ref().and_then(|ioapic| ioapic.driver) {
            Some(IoapicDriver::Qemu) => value.push_str(",kernel_irqchip=split"),
            Some(IoapicDriver::Kvm) => value.push_str(",kernel_irqchip=on"),
            None => {}
        }
    }
    if def
        .devices
        .iommu
        .as_ref()
        .is_some_and(|iommu| iommu.model == Some(IommuModel::Smmuv3))
    {
        value.push_str(",iommu=smmuv3");
    }
    let dump_core = def.memory.as_ref().and_then(|memory| memory.dump_core);
    value.push_str(&format!(
        ",dump-guest-core={}",
        on_off(dump_core.is_some_and(|d| d.is_on()))
    ));
    if def
        .memory_backing
        .as_ref()
        .is_some_and(|backing| backing.nosharepages)
    {
        value.push_str(",mem-merge=off");
    }
    if def
        .devices
        .memories
        .iter()
        .any(|memory| memory.model == Some(MemoryModel::Nvdimm))
    {
        value.push_str(",nvdimm=on");
    }
    if !super::memory::has_numa(def) {
        if let Some(ram_id) = super::memory::default_ram_id(def, caps) {
            value.push_str(&format!(",memory-backend={ram_id}"));
        }
    }
    if def.launch_security.is_some() {
        value.push_str(",confidential-guest-support=lsec0");
    }
    value.push_str(&super::disk::pflash_machine_props(def, &config.nvram_dir));
    if super::memory::has_hmat(def) {
        value.push_str(",hmat=on");
    }
    if def
        .os
        .as_ref()
        .and_then(|os| os.bios.as_ref())
        .and_then(|bios| bios.useserial)
        .is_some_and(|useserial| useserial.is_yes())
    {
        value.push_str(",graphics=off");
    }
    if let Some(timers) = def.clock.as_ref().map(|clock| &clock.timers) {
        for timer in timers {
            if timer.name == Some(TimerName::Hpet) {
                if let Some(present) = timer.present {
                    value.push_str(&format!(",hpet={}", on_off(present.is_yes())));
                }
            }
        }
    }
    cmd.opt("-machine", value);
    Ok(())
}

/// `-accel tcg[,tb-size=MiB]` for `type='qemu'`, `-accel kvm` for `type='kvm'`; then the
/// explicit SMM TSEG size.
pub fn build_accel(cmd: &mut CommandLine, def: &Domain) {
    let features = def.features.as_ref();
    let accel = match def.virt_type {
        Some(VirtType::Kvm) => "kvm".to_string(),
        _ => match features
            .and_then(|features| features.tcg.as_ref())
            .and_then(|tcg| tcg.tb_cache.as_ref())
            .map(|cache| cache.0 >> 10)
            .filter(|mib| *mib > 0)
        {
            Some(mib) => format!("tcg,tb-size={mib}"),
            None => "tcg".to_string(),
        },
    };
    cmd.opt("-accel", accel);
    if let Some(tseg) = features
        .and_then(|features| features.smm.as_ref())
        .and_then(|smm| smm.tseg.as_ref())
    {
        cmd.opt(
            "-global",
            format!("mch.extended-tseg-mbytes={}", tseg.0 >> 20),
        );
    }
}

/// libvirt's x86 CPU feature names that QEMU spells differently.
const CPU_FEATURE_RENAMES: [(&str, &str); 11] = [
    ("cmp_legacy", "cmp-legacy"),
    ("ds_cpl", "ds-cpl"),
    ("fxsr_opt", "fxsr-opt"),
    ("kvm_pv_eoi", "kvm-pv-eoi"),
    ("kvm_pv_unhalt", "kvm-pv-unhalt"),
    ("lahf_lm", "lahf-lm"),
    ("nodeid_msr", "nodeid-msr"),
    ("pclmuldq", "pclmulqdq"),
    ("perfctr_core", "perfctr-core"),
    ("perfctr_nb", "perfctr-nb"),
    ("tsc_adjust", "tsc-adjust"),
];

/// The QEMU name of a libvirt CPU feature.
pub fn qemu_cpu_feature(name: &str) -> &str {
    CPU_FEATURE_RENAMES
        .iter()
        .find(|(libvirt, _)| *libvirt == name)
        .map_or(name, |(_, qemu)| qemu)
}

/// `-cpu`: the model (the one the definition names, `host`, `max`, or the machine's default
/// CPU when only flags are set), its features, then the paravirtual timers, KVM and
/// Hyper-V enlightenments, PMU, cache and physical address bits, in libvirt's order.
pub fn build_cpu(cmd: &mut CommandLine, def: &Domain, caps: &QemuCaps) -> Result<(), Error> {
    let cpu = def.cpu.as_ref();
    let mode = cpu.and_then(|cpu| cpu.mode.as_deref()).unwrap_or("custom");
    let named_model = cpu.and_then(|cpu| cpu.model.as_ref());
    let on_off = |on: bool| if on { "on" } else { "off" };
    let mut model = String::new();
    match (cpu, mode) {
        (Some(cpu), "host-passthrough" | "maximum") => {
            model.push_str(if mode == "maximum" { "max" } else { "host" });
            if let Some(migratable) = cpu.migratable {
                model.push_str(&format!(",migratable={}", on_off(migratable.is_on())));
            }
        }
        (Some(_), "host-model") if def.virt_type == Some(VirtType::Kvm) => {
            model.push_str("host");
        }
        (Some(cpu), _) if named_model.and_then(|model| model.name.as_ref()).is_some() => {
            model.push_str(named_model.and_then(|m| m.name.as_deref()).unwrap_or(""));
            if let Some(vendor) = named_model.and_then(|model| model.vendor_id.as_ref()) {
                model.push_str(&format!(",vendor={vendor}"));
            }
            for feature in &cpu.features {
                let Some(name) = feature.name.as_deref() else {
                    continue;
                };
                let name = qemu_cpu_feature(name);
                match feature.policy.as_deref() {
                    Some("disable" | "forbid") => model.push_str(&format!(",{name}=off")),
                    Some("optional") => {}
                    _ => model.push_str(&format!(",{name}=on")),
                }
            }
        }
        _ => {}
    }
    let mut flags = String::new();
    for timer in def.clock.iter().flat_map(|clock| clock.timers.iter()) {
        match timer.name {
            Some(TimerName::Kvmclock) => {
                if let Some(present) = timer.present {
                    flags.push_str(&format!(",kvmclock={}", on_off(present.is_yes())));
                }
            }
            Some(TimerName::Hypervclock)
                if timer.present.is_some_and(|present| present.is_yes()) =>
            {
                flags.push_str(",hv-time=on");
            }
            Some(TimerName::Tsc) => {
                if let Some(frequency) = timer.frequency.filter(|frequency| *frequency > 0) {
                    flags.push_str(&format!(",tsc-frequency={frequency}"));
                }
            }
            _ => {}
        }
    }
    let features = def.features.as_ref();
    if let Some(eoi) = features
        .and_then(|features| features.apic.as_ref())
        .and_then(|apic| apic.eoi)
    {
        flags.push_str(&format!(",kvm-pv-eoi={}", on_off(eoi.is_on())));
    }
    if let Some(state) = features
        .and_then(|features| features.pvspinlock.as_ref())
        .and_then(|pvspinlock| pvspinlock.state)
    {
        flags.push_str(&format!(",kvm-pv-unhalt={}", on_off(state.is_on())));
    }
    if let Some(hyperv) = features.and_then(|features| features.hyperv.as_ref()) {
        flags.push_str(&hyperv_flags(hyperv));
    }
    if def
        .devices
        .panics
        .iter()
        .any(|panic| panic.model == Some(PanicModel::Hyperv))
    {
        flags.push_str(",hv-crash");
    }
    if let Some(kvm) = features.and_then(|features| features.kvm.as_ref()) {
        let on = |feature: &Option<virt_xml::domain::general::StateFeature>| {
            feature
                .as_ref()
                .and_then(|feature| feature.state)
                .map(|state| state.is_on())
        };
        if on(&kvm.hidden) == Some(true) {
            flags.push_str(",kvm=off");
        }
        if on(&kvm.hint_dedicated) == Some(true) {
            flags.push_str(",kvm-hint-dedicated=on");
        }
        if on(&kvm.poll_control) == Some(true) {
            flags.push_str(",kvm-poll-control=on");
        }
        if on(&kvm.pv_ipi) == Some(false) {
            flags.push_str(",kvm-pv-ipi=off");
        }
    }
    if let Some(state) = features
        .and_then(|features| features.pmu.as_ref())
        .and_then(|pmu| pmu.state)
    {
        flags.push_str(&format!(",pmu={}", on_off(state.is_on())));
    }
    if let Some(cache) = cpu.and_then(|cpu| cpu.cache.as_ref()) {
        let (host_off, l3_off) = match cache.mode.as_deref() {
            Some("emulate") => {
                flags.push_str(",l3-cache=on");
                (true, false)
            }
            Some("passthrough") => {
                flags.push_str(",host-cache-info=on");
                (false, true)
            }
            Some("disable") => (true, true),
            _ => (false, false),
        };
        if host_off && matches!(mode, "host-passthrough" | "maximum") {
            flags.push_str(",host-cache-info=off");
        }
        if l3_off {
            flags.push_str(",l3-cache=off");
        }
    }
    if let Some(address) = cpu.and_then(|cpu| cpu.maxphysaddr.as_ref()) {
        match address.mode.as_deref() {
            Some("passthrough") => flags.push_str(",host-phys-bits=on"),
            Some("emulate") => flags.push_str(&format!(",phys-bits={}", address.bits.unwrap_or(0))),
            _ => {}
        }
    }
    if model.is_empty() {
        // No model named: the machine's default CPU (libvirt's qemuDomainDefSetDefaultCPU).
        model = default_cpu_model(def, caps);
    }
    cmd.opt("-cpu", format!("{model}{flags}"));
    Ok(())
}

/// The Hyper-V enlightenments that are on, in libvirt's order.
fn hyperv_flags(hyperv: &virt_xml::domain::general::HypervFeatures) -> String {
    let mut flags = String::new();
    if hyperv.mode == Some(HypervMode::Passthrough) {
        flags.push_str(",hv-passthrough=on");
    }
    let on = |feature: &Option<virt_xml::domain::general::StateFeature>| {
        feature
            .as_ref()
            .and_then(|feature| feature.state)
            .is_some_and(|state| state.is_on())
    };
    let simple = |flags: &mut String, name: &str, feature: &Option<_>| {
        if on(feature) {
            flags.push_str(&format!(",hv-{name}=on"));
        }
    };
    simple(&mut flags, "relaxed", &hyperv.relaxed);
    simple(&mut flags, "vapic", &hyperv.vapic);
    if let Some(spinlocks) = hyperv
        .spinlocks
        .as_ref()
        .filter(|spinlocks| spinlocks.state.is_some_and(|state| state.is_on()))
    {
        flags.push_str(&format!(
            ",hv-spinlocks=0x{:x}",
            spinlocks.retries.unwrap_or(0)
        ));
    }
    simple(&mut flags, "vpindex", &hyperv.vpindex);
    simple(&mut flags, "runtime", &hyperv.runtime);
    simple(&mut flags, "synic", &hyperv.synic);
    if let Some(stimer) = &hyperv.stimer {
        if stimer.state.is_some_and(|state| state.is_on()) {
            flags.push_str(",hv-stimer=on");
        }
        if on(&stimer.direct) {
            flags.push_str(",hv-stimer-direct=on");
        }
    }
    simple(&mut flags, "reset", &hyperv.reset);
    if let Some(vendor) = hyperv
        .vendor_id
        .as_ref()
        .filter(|vendor| vendor.state.is_some_and(|state| state.is_on()))
    {
        flags.push_str(&format!(
            ",hv-vendor-id={}",
            vendor.value.clone().unwrap_or_default()
        ));
    }
    simple(&mut flags, "frequencies", &hyperv.frequencies);
    simple(&mut flags, "reenlightenment", &hyperv.reenlightenment);
    simple(&mut flags, "tlbflush", &hyperv.tlbflush);
    simple(&mut flags, "ipi", &hyperv.ipi);
    simple(&mut flags, "evmcs", &hyperv.evmcs);
    simple(&mut flags, "avic", &hyperv.avic);
    flags
}

/// The machine type's default CPU model name (`qemu64-x86_64-cpu` → `qemu64`).
fn default_cpu_model(def: &Domain, caps: &QemuCaps) -> String {
    let typename = caps
        .machine(machine_name(def))
        .and_then(|machine| machine.default_cpu_type.clone());
    match typename {
        Some(typename) => {
            let suffix = format!("-{}-cpu", caps.arch);
            caps.cpu_models
                .iter()
                .find(|model| model.typename.as_deref() == Some(typename.as_str()))
                .map(|model| model.name.clone())
                .unwrap_or_else(|| {
                    typename
                        .strip_suffix(&suffix)
                        .unwrap_or(&typename)
                        .to_string()
                })
        }
        None => "qemu64".into(),
    }
}

/// Memory sizes are rounded up to whole MiB, as libvirt aligns them for x86.
pub fn align_kib(kib: u64) -> u64 {
    kib.div_ceil(1024) * 1024
}

/// libvirt's bitmap syntax: `0-3,^2,7`.
pub fn parse_nodeset(text: &str) -> Vec<u32> {
    let mut set = std::collections::BTreeSet::new();
    let mut excluded = std::collections::BTreeSet::new();
    for part in text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
    {
        let (target, part) = match part.strip_prefix('^') {
            Some(rest) => (&mut excluded, rest),
            None => (&mut set, part),
        };
        match part.split_once('-') {
            Some((low, high)) => {
                if let (Ok(low), Ok(high)) = (low.parse::<u32>(), high.parse::<u32>()) {
                    target.extend(low..=high);
                }
            }
            None => {
                if let Ok(node) = part.parse::<u32>() {
                    target.insert(node);
                }
            }
        }
    }
    set.difference(&excluded).copied().collect()
}

/// `-smp <online>[,maxcpus=<max>],sockets=..,cores=..,threads=..`.
pub fn build_smp(cmd: &mut CommandLine, def: &Domain) {
    let max = def.max_vcpus();
    let current = def.current_vcpus();
    let mut value = current.to_string();
    if current != max {
        value.push_str(&format!(",maxcpus={max}"));
    }
    match def.cpu.as_ref().and_then(|cpu| cpu.topology.as_ref()) {
        Some(topology) if topology.sockets.is_some() => {
            value.push_str(&format!(",sockets={}", topology.sockets.unwrap_or(1)));
            value.push_str(&format!(",dies={}", topology.dies.unwrap_or(1)));
            value.push_str(&format!(",cores={}", topology.cores.unwrap_or(1)));
            value.push_str(&format!(",threads={}", topology.threads.unwrap_or(1)));
        }
        _ => value.push_str(&format!(",sockets={max},cores=1,threads=1")),
    }
    cmd.opt("-smp", value);
}

/// One `iothread` object per I/O thread (those `<iothreadids>` lists, then the rest of the
/// `<iothreads>` count by number), then the main loop's thread pool.
pub fn build_iothreads(cmd: &mut CommandLine, def: &Domain) {
    let listed: Vec<&virt_xml::domain::general::IothreadId> = def
        .iothreadids
        .iter()
        .flat_map(|ids| ids.iothreads.iter())
        .collect();
    let pool = |props: Props, min: Option<i32>, max: Option<i32>| {
        props
            .opt_uint(
                "thread-pool-min",
                min.and_then(|min| u64::try_from(min).ok()),
            )
            .opt_uint(
                "thread-pool-max",
                max.and_then(|max| u64::try_from(max).ok()),
            )
    };
    for thread in &listed {
        let props = Props::new()
            .str("qom-type", "iothread")
            .str("id", format!("iothread{}", thread.id.unwrap_or(0)));
        cmd.opt(
            "-object",
            pool(props, thread.thread_pool_min, thread.thread_pool_max).to_json(),
        );
    }
    let count = def.iothreads.unwrap_or(0) as usize;
    let mut next = 1;
    for _ in listed.len()..count {
        while listed.iter().any(|thread| thread.id == Some(next)) {
            next += 1;
        }
        cmd.opt(
            "-object",
            Props::new()
                .str("qom-type", "iothread")
                .str("id", format!("iothread{next}"))
                .to_json(),
        );
        next += 1;
    }
    if let Some(main_loop) = &def.defaultiothread {
        let props = Props::new()
            .str("qom-type", "main-loop")
            .str("id", "main-loop");
        cmd.opt(
            "-object",
            pool(props, main_loop.thread_pool_min, main_loop.thread_pool_max).to_json(),
        );
    }
}

/// `-smbios` tables from the domain's `<sysinfo type='smbios'>` (`<smbios mode='sysinfo'/>`),
/// each field in libvirt's order, then `-fw_cfg` entries of `<sysinfo type='fwcfg'>`.
pub fn build_sysinfo(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    use virt_xml::domain::general::SysinfoBlock;
    let mode = def
        .os
        .as_ref()
        .and_then(|os| os.smbios.as_ref())
        .and_then(|smbios| smbios.mode);
    match mode {
        Some(SmbiosMode::Host) => {
            return Err(unsupported_config(
                "Host SMBIOS information is not available",
            ))
        }
        Some(SmbiosMode::Sysinfo) => {
            let source = def
                .sysinfo
                .iter()
                .find(|sysinfo| sysinfo.sysinfo_type.as_deref() == Some("smbios"))
                .ok_or_else(|| {
                    crate::error::qemu_error(
                        virt_core::ErrorNumber::XML_ERROR,
                        format!("Domain '{}' sysinfo are not available", def.name()),
                    )
                })?;
            let table = |block: &SysinfoBlock, kind: u32, fields: &[&str], always: &[&str]| {
                let mut value = format!("type={kind}");
                for field in fields {
                    let entry = block
                        .entries
                        .iter()
                        .find(|entry| entry.name.as_deref() == Some(*field))
                        .and_then(|entry| entry.value.clone());
                    match entry {
                        Some(text) => value.push_str(&format!(",{field}={}", escape_option(&text))),
                        None if always.contains(field) => value.push_str(&format!(",{field}=")),
                        None => {}
                    }
                }
                value
            };
            if let Some(bios) = &source.bios {
                cmd.opt(
                    "-smbios",
                    table(bios, 0, &["vendor", "version", "date", "release"], &[]),
                );
            }
            if let Some(system) = source
                .system
                .as_ref()
                .filter(|system| !system.entries.is_empty())
            {
                cmd.opt(
                    "-smbios",
                    table(
                        system,
                        1,
                        &[
                            "manufacturer",
                            "product",
                            "version",
                            "serial",
                            "uuid",
                            "sku",
                            "family",
                        ],
                        &[],
                    ),
                );
            }
            if source.base_boards.len() > 1 {
                return Err(unsupported_config(
                    "qemu does not support more than one entry to Type 2 in SMBIOS table",
                ));
            }
            for board in &source.base_boards {
                cmd.opt(
                    "-smbios",
                    table(
                        board,
                        2,
                        &[
                            "manufacturer",
                            "product",
                            "version",
                            "serial",
                            "asset",
                            "location",
                        ],
                        &["manufacturer"],
                    ),
                );
            }
            if let Some(chassis) = &source.chassis {
                cmd.opt(
                    "-smbios",
                    table(
                        chassis,
                        3,
                        &["manufacturer", "version", "serial", "asset", "sku"],
                        &["manufacturer"],
                    ),
                );
            }
            if let Some(strings) = &source.oem_strings {
                let mut value = "type=11".to_string();
                for entry in &strings.entries {
                    value.push_str(&format!(
                        ",value={}",
                        escape_option(entry.value.as_deref().unwrap_or(""))
                    ));
                }
                cmd.opt("-smbios", value);
            }
        }
        _ => {}
    }
    for sysinfo in def
        .sysinfo
        .iter()
        .filter(|sysinfo| sysinfo.sysinfo_type.as_deref() == Some("fwcfg"))
    {
        for entry in &sysinfo.entries {
            let mut value = format!("name={}", entry.name.as_deref().unwrap_or(""));
            match (&entry.value, &entry.file) {
                (Some(text), _) => value.push_str(&format!(",string={}", escape_option(text))),
                (None, Some(file)) => value.push_str(&format!(",file={}", escape_option(file))),
                (None, None) => {}
            }
            cmd.opt("-fw_cfg", value);
        }
    }
    Ok(())
}

/// `-rtc base=...` and the timer globals.
pub fn build_clock(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    let clock = def.clock.clone().unwrap_or_default();
    let mut value = match clock.offset {
        None | Some(ClockOffset::Utc) => "base=utc".to_string(),
        Some(ClockOffset::Localtime) => "base=localtime".to_string(),
        Some(ClockOffset::Timezone) => "base=localtime".to_string(),
        Some(ClockOffset::Variable) => {
            let adjustment = clock.adjustment0.unwrap_or(0);
            let basis_localtime = matches!(clock.basis, Some(ClockBasis::Localtime));
            let start = crate::util::now_ms() as i64 / 1000 + adjustment;
            let _ = basis_localtime;
            format!("base={}", format_utc(start))
        }
        Some(ClockOffset::Absolute) => {
            format!("base={}", format_utc(clock.start.unwrap_or(0) as i64))
        }
    };
    let mut globals = Vec::new();
    for timer in &clock.timers {
        match timer.name {
            Some(TimerName::Rtc) => {
                match timer.track {
                    Some(TimerTrack::Guest) => value.push_str(",clock=vm"),
                    Some(TimerTrack::Wall) => value.push_str(",clock=host"),
                    Some(TimerTrack::Realtime) => value.push_str(",clock=rt"),
                    _ => {}
                }
                match timer.tickpolicy {
                    Some(TimerTickpolicy::Catchup) => value.push_str(",driftfix=slew"),
                    Some(TimerTickpolicy::Delay) => value.push_str(",driftfix=none"),
                    Some(TimerTickpolicy::Merge | TimerTickpolicy::Discard) => {
                        return Err(unsupported_config("unsupported rtc timer tickpolicy"))
                    }
                    None => {}
                }
            }
            Some(TimerName::Pit) => match timer.tickpolicy {
                Some(TimerTickpolicy::Delay) => globals.push("kvm-pit.lost_tick_policy=delay"),
                Some(TimerTickpolicy::Catchup) => globals.push("kvm-pit.lost_tick_policy=slew"),
                Some(TimerTickpolicy::Discard) => globals.push("kvm-pit.lost_tick_policy=discard"),
                _ => {}
            },
            _ => {}
        }
    }
    cmd.opt("-rtc", value);
    for global in globals {
        cmd.opt("-global", global);
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch (UTC).
fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `-no-shutdown` (so that a guest power-off leaves QEMU for the driver to stop), `-no-acpi`
/// without `<acpi/>`, and the S3/S4 switches.
pub fn build_pm(cmd: &mut CommandLine, def: &Domain) {
    cmd.arg("-no-shutdown");
    let acpi = def.features.as_ref().is_some_and(|features| features.acpi);
    if !acpi && matches!(super::prepare::guest_arch(def), "x86_64" | "i686") {
        cmd.arg("-no-acpi");
    }
    let pm_object = if chipset(def) == Chipset::Q35 {
        "ICH9-LPC"
    } else {
        "PIIX4_PM"
    };
    if let Some(pm) = &def.pm {
        if let Some(enabled) = pm.suspend_to_mem.as_ref().and_then(|state| state.enabled) {
            cmd.opt(
                "-global",
                format!("{pm_object}.disable_s3={}", u8::from(!enabled.is_yes())),
            );
        }
        if let Some(enabled) = pm.suspend_to_disk.as_ref().and_then(|state| state.enabled) {
            cmd.opt(
                "-global",
                format!("{pm_object}.disable_s4={}", u8::from(!enabled.is_yes())),
            );
        }
    }
}

/// `-boot [menu=..,splash-time=..,]strict=on` and direct kernel boot.
pub fn build_boot(cmd: &mut CommandLine, def: &Domain) {
    let os = def.os.clone().unwrap_or_default();
    let mut value = String::new();
    if let Some(menu) = &os.bootmenu {
        if let Some(enable) = menu.enable {
            value.push_str(if enable.is_yes() {
                "menu=on,"
            } else {
                "menu=off,"
            });
            if enable.is_yes() {
                if let Some(timeout) = menu.timeout {
                    value.push_str(&format!("splash-time={timeout},"));
                }
            }
        }
    }
    if let Some(bios) = &os.bios {
        if let Some(timeout) = bios.reboot_timeout {
            value.push_str(&format!("reboot-timeout={timeout},"));
        }
    }
    value.push_str("strict=on");
    cmd.opt("-boot", value);
    if let Some(kernel) = &os.kernel {
        cmd.opt("-kernel", kernel.clone());
    }
    if let Some(initrd) = &os.initrd {
        cmd.opt("-initrd", initrd.clone());
    }
    if let Some(cmdline) = &os.cmdline {
        cmd.opt("-append", cmdline.clone());
    }
    if let Some(dtb) = &os.dtb {
        cmd.opt("-dtb", dtb.clone());
    }
}

/// The firmware loader right after `-cpu`: `-bios` for a ROM, the secure flash switch for
/// a pflash loader with `secure='yes'`.
pub fn build_loader(cmd: &mut CommandLine, def: &Domain) {
    let Some(loader) = def.os.as_ref().and_then(|os| os.loader.as_ref()) else {
        return;
    };
    if loader.loader_type == Some(LoaderType::Pflash) {
        if loader.secure.is_some_and(|secure| secure.is_yes()) {
            cmd.opt("-global", "driver=cfi.pflash01,property=secure,value=on");
        }
    } else if let Some(path) = &loader.path {
        cmd.opt("-bios", path.clone());
    }
}

/// `-global <host bridge>.pci-hole64-size` for a root PCI controller's `<pcihole64>`.
pub fn build_pci_hole64(cmd: &mut CommandLine, def: &Domain) -> Result<(), Error> {
    for controller in &def.devices.controllers {
        if controller.controller_type != Some(ControllerType::Pci) {
            continue;
        }
        let Some(size) = controller.pcihole64.as_ref() else {
            continue;
        };
        let host = match controller.model.as_deref() {
            Some("pci-root") => "i440FX-pcihost",
            Some("pcie-root") => "q35-pcihost",
            _ => {
                return Err(crate::error::internal(
                    "64-bit PCI hole setting is only for root PCI controllers",
                ))
            }
        };
        cmd.opt("-global", format!("{host}.pci-hole64-size={}K", size.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodesets_and_dates() {
        assert_eq!(parse_nodeset("1-2,5-7,^6"), vec![1, 2, 5, 7]);
        assert_eq!(parse_nodeset("0-7"), (0..8).collect::<Vec<_>>());
        assert_eq!(format_utc(253_402_300_799), "9999-12-31T23:59:59");
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(align_kib(219_100), 219_136);
    }

    #[test]
    fn cpu_features_take_qemu_names() {
        assert_eq!(qemu_cpu_feature("pclmuldq"), "pclmulqdq");
        assert_eq!(qemu_cpu_feature("tsc_adjust"), "tsc-adjust");
        assert_eq!(qemu_cpu_feature("avx2"), "avx2");
    }
}
