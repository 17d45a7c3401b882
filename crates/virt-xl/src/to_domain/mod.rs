//! An `xl` configuration read into a domain, as libvirt's `xenParseXL` reads it (the
//! settings `xen_common.c` shares with the older `xm` format, then those only `xl` has),
//! followed by libvirt's post-parse steps for the libxl driver.

mod devices;

use std::collections::BTreeSet;

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::cpu::{CpuFeature, NumaDistances, NumaSibling};
use virt_xml::domain::general::{AcpiTable, OsAcpi, OsBoot, OsTypeElement, XenPassthrough};
use virt_xml::domain::memory::ScaledKib;
use virt_xml::domain::{
    BootDevice, Clock, ClockBasis, ClockOffset, Cpu, Domain, Features, LifecycleAction, Loader,
    LoaderType, Numa, NumaCell, Os, StateFeature, Timer, TimerMode, TimerName, Vcpu, VirtType,
    XenFeatures, XenNamespace,
};
use virt_xml::xml::{OnOff, YesNo};

use crate::conf::{malformed, XlConfig, XlValue};
use crate::cpuid::libvirt_feature_name;
use crate::facts::XenHostFacts;
use crate::postparse::{self, no_capabilities, GuestKind};
use crate::util::{format_bitmap, parse_bitmap, parse_uint, parse_ullong};
use crate::Result;

/// The smallest guest Xen boots, in MiB; a configuration without `memory` gets twice that.
const MIN_XEN_GUEST_SIZE_MIB: u64 = 64;

/// libvirt's limit on guest CPU numbers in a CPU set.
const CPUMASK_LEN: u32 = 4096;

fn xen_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XEN, message)
}

fn xenxl_error(code: ErrorNumber, message: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::XENXL, message)
}

/// A string with a default (`xenConfigGetString`).
fn string_or<'a>(conf: &'a XlConfig, name: &str, default: &'a str) -> Result<&'a str> {
    Ok(conf.get_string(name)?.unwrap_or(default))
}

/// A number that may also be given as a decimal string (`xenConfigGetULongLong`).
fn get_ullong(conf: &XlConfig, name: &str, default: u64) -> Result<u64> {
    match conf.get(name) {
        None => Ok(default),
        Some(XlValue::Unsigned(number)) => Ok(*number),
        Some(XlValue::String(text)) => parse_ullong(text, 10).ok_or_else(|| malformed(name)),
        Some(_) => Err(malformed(name)),
    }
}

/// The general settings: name, UUID and the guest type, checked against what the host
/// runs.
fn parse_general(conf: &XlConfig, domain: &mut Domain, facts: &XenHostFacts) -> Result<GuestKind> {
    domain.name = Some(conf.require_string("name")?.to_string());
    domain.uuid = Some(match conf.get_string("uuid")? {
        None => virt_core::Uuid::new_v4(),
        Some(text) => virt_core::parse_uuid(text)
            .ok_or_else(|| xen_error(ErrorNumber::CONF_SYNTAX, format!("{text} not parseable")))?,
    });
    let kind = match conf.get_string("type")? {
        Some("pv") => GuestKind::Pv,
        Some("pvh") => GuestKind::Pvh,
        Some("hvm") => GuestKind::Hvm,
        Some(other) => {
            return Err(xen_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                format!("type {other} is not supported"),
            ))
        }
        None if string_or(conf, "builder", "linux")? == "hvm" => GuestKind::Hvm,
        None => GuestKind::Pv,
    };
    if !kind.supported(facts) {
        return Err(no_capabilities(kind.name(), None, "xen"));
    }
    domain.os = Some(Os {
        os_type: Some(OsTypeElement {
            arch: Some(facts.arch.clone()),
            machine: Some(kind.machine().to_string()),
            os_type: Some(kind.os_type()),
        }),
        ..Default::default()
    });
    Ok(kind)
}

fn parse_memory(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let current = get_ullong(conf, "memory", MIN_XEN_GUEST_SIZE_MIB * 2)?;
    let maximum = get_ullong(conf, "maxmem", current)?;
    domain.set_memory_kib(maximum.saturating_mul(1024));
    domain.current_memory = Some(ScaledKib(current.saturating_mul(1024)));
    Ok(())
}

fn parse_lifecycle(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let action = |name: &str, default: &str| -> Result<LifecycleAction> {
        let text = string_or(conf, name, default)?;
        LifecycleAction::from_keyword(text).ok_or_else(|| {
            xen_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("unexpected value {text} for {name}"),
            )
        })
    };
    domain.on_poweroff = Some(action("on_poweroff", "destroy")?);
    domain.on_reboot = Some(action("on_reboot", "restart")?);
    domain.on_crash = Some(action("on_crash", "restart")?);
    Ok(())
}

fn vcpu_count(count: u64) -> Result<u32> {
    u32::try_from(count)
        .ok()
        .filter(|count| *count > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::DOMAIN,
                format!("invalid number of vCPUs '{count}'"),
            )
        })
}

fn parse_cpus(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let online = vcpu_count(conf.get_ulong("vcpus", 1)?)?;
    let mut maximum = online;
    if conf.get("maxvcpus").is_some() {
        maximum = vcpu_count(conf.get_ulong("maxvcpus", 0)?)?;
    }
    let cpuset = match conf.get_string("cpus")? {
        Some(text) => Some(format_bitmap(&parse_bitmap(text, CPUMASK_LEN)?)),
        None => None,
    };
    domain.vcpu = Some(Vcpu {
        cpuset,
        current: (online.min(maximum) < maximum).then_some(online.min(maximum)),
        count: Some(maximum),
        ..Default::default()
    });
    Ok(())
}

/// The features and timers (`xenParseHypervisorFeatures`).
fn parse_features(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    let clock = domain.clock.get_or_insert_with(Clock::default);
    if let Some(mode) = conf.get_string("tsc_mode")? {
        clock.timers.push(Timer {
            name: Some(TimerName::Tsc),
            present: Some(YesNo::Yes),
            mode: Some(match mode {
                "always_emulate" => TimerMode::Emulate,
                "native" => TimerMode::Native,
                "native_paravirt" => TimerMode::Paravirt,
                _ => TimerMode::Auto,
            }),
            ..Default::default()
        });
    }
    // The `<xen>` feature: on, off or not given; libvirt writes it only when on.
    let mut xen_on: Option<bool> = None;
    let mut xen = XenFeatures::default();
    if let Some(passthrough) = conf.get_string("passthrough")? {
        let (on, mode) = match passthrough {
            "disabled" => (Some(false), None),
            "enabled" => (Some(true), None),
            "sync_pt" | "share_pt" => (Some(true), Some(passthrough)),
            // libvirt reports "Invalid passthrough mode" but carries on without it.
            _ => (None, None),
        };
        if let Some(on) = on {
            xen_on = Some(on);
            xen.passthrough = Some(XenPassthrough {
                state: Some(if on { OnOff::On } else { OnOff::Off }),
                mode: mode.map(str::to_string),
            });
        }
    }
    let features = domain.features.get_or_insert_with(Features::default);
    if kind == GuestKind::Hvm {
        features.pae = conf.get_bool("pae", Some(true))? == Some(true);
        features.acpi = conf.get_bool("acpi", Some(true))? == Some(true);
        if conf.get_bool("apic", Some(true))? == Some(true) {
            features.apic = Some(Default::default());
        }
        if conf.get_bool("hap", Some(true))? == Some(false) {
            features.hap = Some(StateFeature {
                state: Some(OnOff::Off),
            });
        }
        features.viridian = conf.get_bool("viridian", Some(false))? == Some(true);
        if let Some(hpet) = conf.get_bool("hpet", None)? {
            clock.timers.push(Timer {
                name: Some(TimerName::Hpet),
                present: Some(if hpet { YesNo::Yes } else { YesNo::No }),
                ..Default::default()
            });
        }
    } else if conf.get_bool("e820_host", Some(false))? == Some(true) {
        xen_on = Some(true);
        xen.e820_host = Some(StateFeature::on());
    }
    if xen_on == Some(true) {
        features.xen = Some(xen);
    }
    Ok(())
}

fn parse_time_offset(conf: &XlConfig, domain: &mut Domain, kind: GuestKind) -> Result<()> {
    let localtime = conf.get_bool("localtime", Some(false))? == Some(true);
    let clock = domain.clock.get_or_insert_with(Clock::default);
    if kind == GuestKind::Hvm {
        let offset = conf.get_ulong("rtc_timeoffset", 0)?;
        clock.offset = Some(ClockOffset::Variable);
        // libvirt keeps the number as a C int.
        clock.adjustment = Some((offset as i32).to_string());
        clock.basis = Some(if localtime {
            ClockBasis::Localtime
        } else {
            ClockBasis::Utc
        });
    } else {
        clock.offset = Some(if localtime {
            ClockOffset::Localtime
        } else {
            ClockOffset::Utc
        });
        clock.adjustment = Some("reset".to_string());
    }
    Ok(())
}

/// `cmdline`, or `root=` and `extra` put together.
fn parse_cmdline(conf: &XlConfig) -> Result<Option<String>> {
    let cmdline = conf.get_string("cmdline")?;
    let root = conf.get_string("root")?;
    let extra = conf.get_string("extra")?;
    Ok(match (cmdline, root, extra) {
        (Some(cmdline), _, _) => Some(cmdline.to_string()),
        (None, Some(root), Some(extra)) => Some(format!("root={root} {extra}")),
        (None, Some(root), None) => Some(format!("root={root}")),
        (None, None, Some(extra)) => Some(extra.to_string()),
        (None, None, None) => None,
    })
}

fn opt_string(conf: &XlConfig, name: &str) -> Result<Option<String>> {
    Ok(conf.get_string(name)?.map(str::to_string))
}

/// The boot settings (`xenParseXLOS`).
fn parse_os(
    conf: &XlConfig,
    domain: &mut Domain,
    kind: GuestKind,
    facts: &XenHostFacts,
) -> Result<()> {
    let mut os = domain.os.take().unwrap_or_default();
    if kind == GuestKind::Hvm {
        if conf.get_string("bios")? == Some("ovmf") {
            os.loader = Some(Loader {
                readonly: Some(YesNo::Yes),
                loader_type: Some(LoaderType::Pflash),
                path: Some(facts.ovmf_path()),
                ..Default::default()
            });
        } else {
            os.loader = Some(Loader {
                path: Some(facts.hvm_loader()),
                ..Default::default()
            });
        }
        if let Some(table) = opt_string(conf, "acpi_firmware")? {
            os.acpi = Some(OsAcpi {
                tables: vec![AcpiTable {
                    table_type: Some("slic".to_string()),
                    path: Some(table),
                }],
            });
        }
        os.kernel = opt_string(conf, "kernel")?;
        os.initrd = opt_string(conf, "ramdisk")?;
        os.cmdline = parse_cmdline(conf)?;
        let boot = string_or(conf, "boot", "c")?;
        os.boot = boot
            .bytes()
            .take(4)
            .map(|device| OsBoot {
                dev: Some(match device {
                    b'a' => BootDevice::Fd,
                    b'd' => BootDevice::Cdrom,
                    b'n' => BootDevice::Network,
                    _ => BootDevice::Hd,
                }),
            })
            .collect();
        if let Some(nested) = conf.get_bool("nestedhvm", None)? {
            let feature = if !facts.host_cpu_vmx && facts.host_cpu_svm {
                "svm"
            } else {
                "vmx"
            };
            let cpu = domain.cpu.get_or_insert_with(|| Cpu {
                mode: Some("host-passthrough".to_string()),
                ..Default::default()
            });
            if !nested {
                add_cpu_feature(cpu, feature, "disable")?;
            }
        }
    } else {
        domain.bootloader = opt_string(conf, "bootloader")?;
        domain.bootloader_args = opt_string(conf, "bootargs")?;
        os.kernel = opt_string(conf, "kernel")?;
        os.initrd = opt_string(conf, "ramdisk")?;
        os.cmdline = parse_cmdline(conf)?;
    }
    domain.os = Some(os);
    Ok(())
}

fn add_cpu_feature(cpu: &mut Cpu, name: &str, policy: &str) -> Result<()> {
    if cpu
        .features
        .iter()
        .any(|feature| feature.name.as_deref() == Some(name))
    {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::CPU,
            format!("CPU feature '{name}' specified more than once"),
        ));
    }
    cpu.features.push(CpuFeature {
        policy: Some(policy.to_string()),
        name: Some(name.to_string()),
    });
    Ok(())
}

/// `cpuid = "host,tm=0,sse3=1"` (only libxl's format).
fn parse_cpuid(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let Some(text) = conf.get_string("cpuid")? else {
        return Ok(());
    };
    let cpu = domain.cpu.get_or_insert_with(|| Cpu {
        mode: Some("host-passthrough".to_string()),
        ..Default::default()
    });
    if text.is_empty() {
        return Ok(());
    }
    let mut pairs = text.split(',');
    let first = pairs.next().unwrap_or("");
    if first != "host" {
        return Err(xenxl_error(
            ErrorNumber::CONF_SYNTAX,
            format!("cpuid starting with {first} is not supported, only libxl format is"),
        ));
    }
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(xenxl_error(
                ErrorNumber::CONF_SYNTAX,
                format!("Invalid libxl cpuid key=value element: {pair}"),
            ));
        };
        let policy = match value {
            "1" => "force",
            "0" => "disable",
            "x" | "k" | "s" => "optional",
            _ => {
                return Err(xenxl_error(
                    ErrorNumber::CONF_SYNTAX,
                    format!("Invalid libxl cpuid value: {pair}"),
                ))
            }
        };
        add_cpu_feature(cpu, libvirt_feature_name(name), policy)?;
    }
    Ok(())
}

/// Guest NUMA nodes (`vnuma = [ [ "pnode=0", "size=2048", "vcpus=0-1", "vdistances=10,21" ] ]`).
fn parse_vnuma(conf: &XlConfig, domain: &mut Domain) -> Result<()> {
    let Some(XlValue::List(nodes)) = conf.get("vnuma") else {
        return Ok(());
    };
    let n_nodes = nodes
        .iter()
        .take_while(|node| matches!(node, XlValue::List(_)))
        .count();
    if n_nodes == 0 {
        return Err(xenxl_error(
            ErrorNumber::INTERNAL_ERROR,
            "Cannot set an empty mem_nodes set",
        ));
    }
    let mut cells = Vec::with_capacity(nodes.len());
    let mut n_vcpus = 0usize;
    for (node_idx, node) in nodes.iter().enumerate() {
        let mut pnode: Option<u32> = None;
        let mut cpus: Option<BTreeSet<u32>> = None;
        let mut size_mib: u64 = 0;
        let mut distances: Vec<NumaSibling> = Vec::new();
        let items: &[XlValue] = match node {
            XlValue::List(items) => items,
            _ => &[],
        };
        for item in items {
            let XlValue::String(text) = item else {
                break;
            };
            let Some(at) = text.rfind('=') else {
                return Err(xenxl_error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!("vnuma vnode invalid format '{text}'"),
                ));
            };
            let data = &text[at + 1..];
            if data.is_empty() {
                continue;
            }
            if text.starts_with("pnode") {
                let cell = parse_uint(data, 10)
                    .filter(|cell| (*cell as usize) < n_nodes)
                    .ok_or_else(|| {
                        xenxl_error(
                            ErrorNumber::CONFIG_UNSUPPORTED,
                            format!("vnuma vnode {node_idx} contains invalid pnode value '{data}'"),
                        )
                    })?;
                pnode = Some(cell);
            } else if text.starts_with("size") {
                size_mib = parse_ullong(data, 10).ok_or_else(|| {
                    xenxl_error(
                        ErrorNumber::CONF_SYNTAX,
                        format!("vnuma vnode {node_idx} has an invalid size '{data}'"),
                    )
                })?;
            } else if text.starts_with("vcpus") {
                let set = parse_bitmap(data, 16384)?;
                n_vcpus += set.len();
                cpus = Some(set);
            } else if text.starts_with("vdistances") {
                let values: Vec<&str> = data.split(',').collect();
                if values.len() != n_nodes {
                    return Err(xenxl_error(
                        ErrorNumber::CONFIG_UNSUPPORTED,
                        format!(
                            "vnuma pnode {} configured '{text}' (count {}) doesn't fit the number of specified vnodes {n_nodes}",
                            pnode.map_or(-1, i64::from),
                            values.len()
                        ),
                    ));
                }
                distances.clear();
                for (sibling, value) in values.iter().enumerate() {
                    let value = parse_uint(value, 10).ok_or_else(|| {
                        xenxl_error(
                            ErrorNumber::CONF_SYNTAX,
                            format!("vnuma vnode {node_idx} has an invalid distance '{value}'"),
                        )
                    })?;
                    check_distance(node_idx, sibling, value)?;
                    distances.push(NumaSibling {
                        id: Some(sibling as u32),
                        value: Some(value),
                    });
                }
            } else {
                return Err(xenxl_error(
                    ErrorNumber::CONF_SYNTAX,
                    format!("Invalid vnuma configuration for vnode {node_idx}"),
                ));
            }
        }
        let (Some(_), Some(cpus)) = (pnode, cpus) else {
            return Err(incomplete_vnode(node_idx));
        };
        if size_mib == 0 {
            return Err(incomplete_vnode(node_idx));
        }
        cells.push(NumaCell {
            id: Some(node_idx as u32),
            cpus: Some(format_bitmap(&cpus)),
            memory: Some(size_mib.saturating_mul(1024)),
            unit: Some("KiB".to_string()),
            distances: (!distances.is_empty()).then_some(NumaDistances {
                siblings: distances,
            }),
            ..Default::default()
        });
    }
    let max_vcpus = domain.max_vcpus() as usize;
    if max_vcpus < n_vcpus {
        return Err(xenxl_error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!(
                "vnuma configuration contains {n_vcpus} vcpus, which is greater than {max_vcpus} maxvcpus"
            ),
        ));
    }
    // libvirt sizes the guest from its nodes (the configuration is read with ABI updates
    // allowed).
    let numa_kib: u64 = cells.iter().filter_map(|cell| cell.memory).sum();
    if numa_kib > 0 {
        domain.set_memory_kib(numa_kib);
    }
    // libvirt replaces any CPU definition made so far with a plain one holding the cells.
    domain.cpu = Some(Cpu {
        numa: Some(Numa {
            cells,
            interconnects: None,
        }),
        ..Default::default()
    });
    Ok(())
}

fn incomplete_vnode(node: usize) -> Error {
    xenxl_error(
        ErrorNumber::CONF_SYNTAX,
        format!("Incomplete vnuma configuration for vnode {node}"),
    )
}

/// ACPI's node distances: 10 for the node itself only, at most 255.
fn check_distance(node: usize, sibling: usize, value: u32) -> Result<()> {
    if !(10..=255).contains(&value) {
        return Err(Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::DOMAIN,
            format!("Distance value of {value} is not in valid range"),
        ));
    }
    if value == 10 && node != sibling {
        return Err(Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::DOMAIN,
            format!("Distance value {value} under node {node} is LOCAL_DISTANCE and should be set to 10"),
        ));
    }
    Ok(())
}

/// `max_event_channels` and `max_grant_frames` on the xenbus controller (which is added
/// here when the configuration has none).
fn parse_xenbus_limits(conf: &XlConfig, domain: &mut Domain, facts: &XenHostFacts) -> Result<()> {
    let position = postparse::add_xenbus(domain);
    let event_channels = conf.get_ulong("max_event_channels", 0)?;
    let grant_frames = if facts.grant_limits {
        conf.get_ulong("max_grant_frames", 0)?
    } else {
        0
    };
    let controller = &mut domain.devices.controllers[position];
    if event_channels > 0 {
        controller.max_event_channels = Some(event_channels as i32);
    }
    if grant_frames > 0 {
        controller.max_grant_frames = Some(grant_frames as i32);
    }
    Ok(())
}

/// `device_model_args`: arguments for the device model, kept in libvirt's `xen:` namespace.
fn parse_device_model_args(conf: &XlConfig, domain: &mut Domain) {
    let Some(XlValue::List(items)) = conf.get("device_model_args") else {
        return;
    };
    let args: Vec<String> = items
        .iter()
        .filter_map(XlValue::as_str)
        .map(str::to_string)
        .collect();
    if !args.is_empty() {
        domain.xen = Some(XenNamespace { args });
    }
}

/// Reads an `xl` configuration into a domain.
pub fn xl_to_domain(cfg: &str, facts: &XenHostFacts) -> Result<Domain> {
    let conf = XlConfig::parse(cfg)?;
    let mut domain = Domain {
        virt_type: Some(VirtType::Xen),
        ..Default::default()
    };
    let kind = parse_general(&conf, &mut domain, facts)?;
    parse_memory(&conf, &mut domain)?;
    parse_lifecycle(&conf, &mut domain)?;
    parse_cpus(&conf, &mut domain)?;
    parse_features(&conf, &mut domain, kind)?;
    parse_time_offset(&conf, &mut domain, kind)?;
    domain.devices.emulator = opt_string(&conf, "device_model_override")?;
    devices::parse_vifs(&conf, &mut domain)?;
    devices::parse_pci(&conf, &mut domain)?;
    devices::parse_sound(&conf, &mut domain, kind)?;
    devices::parse_vfb(&conf, &mut domain, kind)?;
    devices::parse_chardevs(&conf, &mut domain, kind)?;
    parse_os(&conf, &mut domain, kind, facts)?;
    parse_vnuma(&conf, &mut domain)?;
    parse_xenbus_limits(&conf, &mut domain, facts)?;
    parse_cpuid(&conf, &mut domain)?;
    devices::parse_disks(&conf, &mut domain, kind)?;
    devices::parse_spice(&conf, &mut domain, kind)?;
    devices::parse_usb_inputs(&conf, &mut domain, kind)?;
    devices::parse_usb_hostdevs(&conf, &mut domain);
    devices::parse_usb_controllers(&conf, &mut domain);
    devices::parse_channels(&conf, &mut domain)?;
    parse_device_model_args(&conf, &mut domain);

    // libvirt appends disks in file order; the generic post-parse sorts them by bus and
    // name as an XML parser would, so the file's order is put back afterwards.
    let file_order: Vec<Option<String>> = domain
        .devices
        .disks
        .iter()
        .map(|disk| disk.target_dev().map(str::to_string))
        .collect();
    postparse::post_parse(&mut domain, facts)?;
    let mut sorted = std::mem::take(&mut domain.devices.disks);
    for dev in file_order {
        if let Some(position) = sorted
            .iter()
            .position(|disk| disk.target_dev().map(str::to_string) == dev)
        {
            domain.devices.disks.push(sorted.remove(position));
        }
    }
    domain.devices.disks.append(&mut sorted);
    Ok(domain)
}
