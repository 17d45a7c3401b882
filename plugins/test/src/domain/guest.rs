//! What the test driver pretends about a running guest: its security label, vcpus and their
//! pinning, interface addresses, clock, frozen filesystems, disk errors and block sizes,
//! crash dumps, and the lifecycle actions of its definition.
//!
//! The guest clock and the frozen filesystems are per-domain runtime state in libvirt (the
//! domain object's private data); they live in the domain's record here.

use std::net::IpAddr;

use virt_core::consts::{
    domain_core_dump_flags, domain_event_stopped_detail_type, domain_lifecycle,
    domain_lifecycle_action, domain_modification_impact, domain_set_time_flags,
    domain_shutoff_reason, domain_state,
};
use virt_core::{ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::{
    BlockInfo, DomainRef, GuestInterface, IpAddress, SecurityLabel, SecurityModel, VcpuInfo,
};

use super::{lifecycle, Domain};
use crate::error;
use crate::space::Space;

/// The label of every running test domain.
const SECURITY_LABEL: &str = "libvirt-test";

/// The first value of a test domain's guest clock (`testDomainObjPrivateAlloc`).
pub(crate) const INITIAL_GUEST_SECONDS: i64 = 627319920;

/// `virNodeGetSecurityModel`: the one model of the test host.
pub(crate) fn security_model() -> SecurityModel {
    SecurityModel {
        model: "testSecurity".to_string(),
        doi: String::new(),
    }
}

fn running(d: &Domain) -> Result<()> {
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    Ok(())
}

/// `virDomainGetSecurityLabel`: a label while running, an empty one otherwise.
pub(crate) fn security_label(space: &dyn Space, dom: &DomainRef) -> Result<Vec<SecurityLabel>> {
    let d = super::get(space, dom)?;
    let label = if d.rec.is_active() {
        SecurityLabel {
            label: SECURITY_LABEL.to_string(),
            enforcing: true,
        }
    } else {
        SecurityLabel {
            label: String::new(),
            enforcing: false,
        }
    };
    Ok(vec![label])
}

/// `virDomainGetBlockInfo`: made-up sizes for any disk with a source.
pub(crate) fn block_info(
    space: &dyn Space,
    dom: &DomainRef,
    disk: &str,
    flags: u32,
) -> Result<BlockInfo> {
    error::check_flags(flags, 0, "testDomainGetBlockInfo")?;
    let d = super::get(space, dom)?;
    let defs = d.defs(space)?;
    match defs.def.disk_source(disk) {
        None => Err(error::invalid_arg(format!(
            "invalid path {disk} not assigned to domain"
        ))),
        Some(None) => Err(error::invalid_arg(format!(
            "disk '{disk}' does not currently have a source assigned"
        ))),
        Some(Some(_)) => Ok(BlockInfo {
            capacity: 1099506450432,
            allocation: 1099511627776,
            physical: 1099511627776,
        }),
    }
}

/// The host CPUs a vcpu may run on when nothing pins it: all of them.
fn host_cpus(space: &dyn Space) -> Result<u32> {
    let node = crate::node::get(space)?;
    Ok(node
        .nodes
        .saturating_mul(node.sockets)
        .saturating_mul(node.cores)
        .saturating_mul(node.threads)
        .max(1))
}

/// `virDomainGetVcpus`: every online vcpu, running on the last CPU it may use.
pub(crate) fn vcpu_info(space: &dyn Space, dom: &DomainRef) -> Result<Vec<VcpuInfo>> {
    let d = super::get(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::operation_invalid(
            "cannot list vcpus for an inactive domain",
        ));
    }
    let defs = d.defs(space)?;
    let hosts = host_cpus(space)?;
    let all: Vec<u32> = (0..hosts).collect();
    let base = crate::clock::now_micros();
    let mut out = Vec::new();
    for vcpu in 0..defs.def.vcpus() {
        let cpus = match defs.def.vcpu_pin(vcpu).or_else(|| defs.def.cpuset()) {
            Some(cpuset) => cpuset::parse(&cpuset, None).unwrap_or_else(|| all.clone()),
            None => all.clone(),
        };
        out.push(VcpuInfo {
            number: vcpu,
            state: virt_core::consts::vcpu_state::RUNNING,
            cpu_time_ns: base / 10,
            cpu: cpus.iter().max().map_or(-1, |cpu| *cpu as i32),
            cpumap: cpuset::to_map(&cpus, hosts),
        });
    }
    Ok(out)
}

/// `virDomainPinVcpuFlags` (the test driver takes no flags and pins the live vcpu).
pub(crate) fn pin_vcpu(
    space: &dyn Space,
    dom: &DomainRef,
    vcpu: u32,
    cpumap: &[u8],
    flags: u32,
) -> Result<()> {
    error::check_flags(flags, 0, "testDomainPinVcpuFlags")?;
    let mut d = super::get_for_change(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::operation_invalid(
            "cannot pin vcpus on an inactive domain",
        ));
    }
    let mut defs = d.defs(space)?;
    if vcpu >= defs.def.vcpus() {
        return Err(error::invalid_arg(format!(
            "requested vcpu '{vcpu}' is not present in the domain"
        )));
    }
    let cpus = cpuset::from_map(cpumap);
    defs.def.set_vcpu_pin(vcpu, &cpuset::format(&cpus));
    d.write_all(space, &defs)
}

/// `virIPAddrType`.
const IP_ADDR_IPV4: i32 = 0;
const IP_ADDR_IPV6: i32 = 1;

/// `virDomainInterfaceAddresses`: addresses made up from the networks the interfaces use.
pub(crate) fn interface_addresses(
    space: &dyn Space,
    dom: &DomainRef,
    source: u32,
    flags: u32,
) -> Result<Vec<GuestInterface>> {
    error::check_flags(flags, 0, "testDomainInterfaceAddresses")?;
    if source > virt_core::consts::domain_interface_addresses_source::ARP as u32 {
        return Err(error::test(
            ErrorNumber::ARGUMENT_UNSUPPORTED,
            format!("Unknown IP address data source {source}"),
        ));
    }
    let d = super::get(space, dom)?;
    running(&d)?;
    let defs = d.defs(space)?;
    let mut out = Vec::new();
    for (idx, iface) in defs.def.interfaces().into_iter().enumerate() {
        let address = match &iface.network {
            Some(network) => {
                let offset = 20 * (d.rec.id.max(1) as u32 - 1) + idx as u32 + 1;
                let (first, prefix) = crate::network::first_address(space, network)?;
                let address = match first {
                    IpAddr::V4(v4) => IpAddr::V4(u32::from(v4).wrapping_add(offset).into()),
                    IpAddr::V6(v6) => {
                        let mut octets = v6.octets();
                        octets[15] = octets[15].wrapping_add(offset as u8);
                        IpAddr::V6(octets.into())
                    }
                };
                IpAddress {
                    kind: if address.is_ipv6() {
                        IP_ADDR_IPV6
                    } else {
                        IP_ADDR_IPV4
                    },
                    address: address.to_string(),
                    prefix,
                }
            }
            None => IpAddress {
                kind: IP_ADDR_IPV4,
                address: format!("192.168.0.{}", idx + 1),
                prefix: 24,
            },
        };
        out.push(GuestInterface {
            name: iface.ifname.unwrap_or_default(),
            hwaddr: iface.mac,
            addresses: vec![address],
        });
    }
    Ok(out)
}

/// `virDomainGetTime`: the guest clock, while the guest runs.
pub(crate) fn get_time(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<(i64, u32)> {
    error::check_flags(flags, 0, "testDomainGetTime")?;
    let d = super::get(space, dom)?;
    if d.rec.state != domain_state::RUNNING {
        return Err(error::operation_invalid("domain is not running"));
    }
    Ok((d.rec.guest_seconds, d.rec.guest_nseconds))
}

/// `virDomainSetTime`.
pub(crate) fn set_time(
    space: &dyn Space,
    dom: &DomainRef,
    seconds: i64,
    nseconds: u32,
    flags: u32,
) -> Result<()> {
    error::check_flags(flags, domain_set_time_flags::SYNC, "testDomainSetTime")?;
    let mut d = super::get_for_change(space, dom)?;
    running(&d)?;
    d.rec.guest_seconds = seconds;
    d.rec.guest_nseconds = nseconds;
    d.write_record(space)
}

/// The two filesystems a test guest has.
const MOUNT_POINTS: [&str; 2] = ["/", "/boot"];

/// `virDomainFSFreeze` (`freeze`) and `virDomainFSThaw`: how many filesystems changed.
pub(crate) fn fs_freeze(
    space: &dyn Space,
    dom: &DomainRef,
    mountpoints: &[String],
    freeze: bool,
    flags: u32,
) -> Result<i32> {
    let function = if freeze {
        "testDomainFSFreeze"
    } else {
        "testDomainFSThaw"
    };
    error::check_flags(flags, 0, function)?;
    let mut d = super::get_for_change(space, dom)?;
    running(&d)?;
    let mut frozen = d.rec.frozen;
    let chosen: Vec<usize> = if mountpoints.is_empty() {
        vec![0, 1]
    } else {
        mountpoints
            .iter()
            .map(|mountpoint| {
                MOUNT_POINTS
                    .iter()
                    .position(|known| known == mountpoint)
                    .ok_or_else(|| {
                        error::operation_invalid(format!("mount point not found: {mountpoint}"))
                    })
            })
            .collect::<Result<_>>()?
    };
    let mut changed = 0;
    for idx in chosen {
        if frozen[idx] != freeze {
            frozen[idx] = freeze;
            changed += 1;
        }
    }
    d.rec.frozen = frozen;
    d.write_record(space)?;
    Ok(changed)
}

/// `virDomainGetDiskErrors`: every disk reports an error, alternating the two kinds.
pub(crate) fn disk_errors(
    space: &dyn Space,
    dom: &DomainRef,
    flags: u32,
) -> Result<Vec<(String, i32)>> {
    error::check_flags(flags, 0, "testDomainGetDiskErrors")?;
    let d = super::get(space, dom)?;
    running(&d)?;
    let defs = d.defs(space)?;
    Ok(defs
        .def
        .disk_targets()
        .into_iter()
        .enumerate()
        .map(|(idx, disk)| (disk, (idx % 2) as i32 + 1))
        .collect())
}

/// The header the test driver writes as a "core dump".
const DUMP_MAGIC: &[u8; 15] = b"TestGuestMagic\0";

/// `virDomainCoreDumpWithFormat`: a header-only file; with CRASH the domain stops.
pub(crate) fn core_dump(
    space: &dyn Space,
    dom: &DomainRef,
    to: &str,
    format: u32,
    flags: u32,
) -> Result<()> {
    error::check_flags(
        flags,
        domain_core_dump_flags::CRASH,
        "testDomainCoreDumpWithFormat",
    )?;
    let d = super::get_for_membership_change(space, dom)?;
    running(&d)?;
    space.write_file(to, DUMP_MAGIC).map_err(|e| {
        error::test(
            ErrorNumber::SYSTEM_ERROR,
            format!(
                "domain '{}' coredump: failed to open {to}: {}",
                dom.name,
                e.message()
            ),
        )
    })?;
    if format != 0 {
        return Err(error::test(
            ErrorNumber::OPERATION_UNSUPPORTED,
            "kdump-compressed format is not supported here",
        ));
    }
    if flags & domain_core_dump_flags::CRASH != 0 {
        lifecycle::stop(
            space,
            d,
            domain_shutoff_reason::CRASHED,
            domain_event_stopped_detail_type::CRASHED,
        )?;
    }
    Ok(())
}

fn lifecycle_name(kind: u32) -> &'static str {
    match kind as i32 {
        domain_lifecycle::POWEROFF => "poweroff",
        domain_lifecycle::REBOOT => "reboot",
        _ => "crash",
    }
}

fn action_name(action: u32) -> &'static str {
    match action as i32 {
        domain_lifecycle_action::DESTROY => "destroy",
        domain_lifecycle_action::RESTART => "restart",
        domain_lifecycle_action::RESTART_RENAME => "rename-restart",
        domain_lifecycle_action::PRESERVE => "preserve",
        domain_lifecycle_action::COREDUMP_DESTROY => "coredump-destroy",
        _ => "coredump-restart",
    }
}

/// `virDomainSetLifecycleAction`.
pub(crate) fn set_lifecycle_action(
    space: &dyn Space,
    dom: &DomainRef,
    kind: u32,
    action: u32,
    flags: u32,
) -> Result<()> {
    error::check_flags(
        flags,
        domain_modification_impact::LIVE | domain_modification_impact::CONFIG,
        "testDomainSetLifecycleAction",
    )?;
    let coredump = matches!(
        action as i32,
        domain_lifecycle_action::COREDUMP_DESTROY | domain_lifecycle_action::COREDUMP_RESTART
    );
    if kind as i32 != domain_lifecycle::CRASH && kind <= 2 && coredump {
        return Err(virt_core::Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::DOMAIN,
            format!(
                "Lifecycle event '{}' doesn't support '{}' action",
                lifecycle_name(kind),
                action_name(action)
            ),
        ));
    }
    let mut d = super::get_for_change(space, dom)?;
    let mut defs = d.defs(space)?;
    for target in super::config::both_defs(&d, flags)? {
        super::config::pick(&mut defs, target)?.set_lifecycle_action(kind as i32, action as i32)?;
    }
    d.write_all(space, &defs)
}

/// libvirt's CPU sets (`virBitmap`): "0-3,^2,6" and the byte maps of the API.
pub(crate) mod cpuset {
    /// `virBitmapParse`: single CPUs, ranges and `^N` exclusions, applied left to right;
    /// `None` when malformed or (with a `limit`) naming a CPU at or beyond it.
    pub fn parse(text: &str, limit: Option<u32>) -> Option<Vec<u32>> {
        let mut cpus = std::collections::BTreeSet::new();
        let in_range = |cpu: u32| limit.is_none_or(|limit| cpu < limit);
        if text.trim().is_empty() {
            return None;
        }
        for part in text.split(',') {
            let part = part.trim();
            let (negated, body) = match part.strip_prefix('^') {
                Some(body) => (true, body),
                None => (false, part),
            };
            if !body.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            match body.split_once('-') {
                Some(_) if negated => return None,
                Some((low, high)) => {
                    let (low, high) = (
                        low.trim().parse::<u32>().ok()?,
                        high.trim().parse::<u32>().ok()?,
                    );
                    if low > high || !in_range(high) {
                        return None;
                    }
                    cpus.extend(low..=high);
                }
                None => {
                    let cpu = body.parse::<u32>().ok()?;
                    if !in_range(cpu) {
                        return None;
                    }
                    if negated {
                        cpus.remove(&cpu);
                    } else {
                        cpus.insert(cpu);
                    }
                }
            }
        }
        Some(cpus.into_iter().collect())
    }

    /// `virBitmapFormat`: runs of CPUs as ranges.
    pub fn format(cpus: &[u32]) -> String {
        let mut parts = Vec::new();
        let mut idx = 0;
        while idx < cpus.len() {
            let start = cpus[idx];
            let mut end = start;
            while idx + 1 < cpus.len() && cpus[idx + 1] == end + 1 {
                idx += 1;
                end = cpus[idx];
            }
            parts.push(if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            });
            idx += 1;
        }
        parts.join(",")
    }

    /// A CPU map (one bit per host CPU, lowest bit first) for `hosts` CPUs.
    pub fn to_map(cpus: &[u32], hosts: u32) -> Vec<u8> {
        let mut map = vec![0u8; hosts.div_ceil(8) as usize];
        for cpu in cpus.iter().filter(|cpu| **cpu < hosts) {
            map[(*cpu / 8) as usize] |= 1 << (cpu % 8);
        }
        map
    }

    /// The CPUs set in a CPU map.
    pub fn from_map(map: &[u8]) -> Vec<u32> {
        (0..map.len() as u32 * 8)
            .filter(|cpu| map[(*cpu / 8) as usize] & (1 << (cpu % 8)) != 0)
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn cpusets() {
            assert_eq!(parse("0-3,^2,6", None), Some(vec![0, 1, 3, 6]));
            assert_eq!(parse("^0,0", None), Some(vec![0]));
            assert_eq!(parse("^0", Some(8)), Some(vec![]));
            assert_eq!(parse("8", Some(8)), None);
            assert_eq!(parse("", None), None);
            assert_eq!(format(&[0, 1, 3, 6, 7, 8]), "0-1,3,6-8");
            assert_eq!(to_map(&[0, 9], 16), vec![1, 2]);
            assert_eq!(from_map(&[1, 2]), vec![0, 9]);
            assert_eq!(parse("x", None), None);
        }
    }
}
