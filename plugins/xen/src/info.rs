//! `xl info` read: the host's figures for `virNodeGetInfo`, the guest types Xen offers
//! (`xen_caps`) as libvirt's libxl driver turns them into capabilities, and the
//! [`XenHostFacts`] the conversions of `virt-xl` need. Pure: text in, values out.

use std::collections::BTreeMap;

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xl::XenHostFacts;
use virt_xml::capabilities::{Guest, GuestFeature, GuestFeatures, Machine};
use virt_xml::xml::YesNo;

/// Where libvirt's libxl driver says guests' device model lives (`LIBXL_EXECBIN_DIR`).
pub const DEVICE_MODEL: &str = "/usr/lib/xen/bin/qemu-system-i386";
/// Where Xen installs `hvmloader` (`LIBXL_FIRMWARE_DIR`).
pub const FIRMWARE_DIR: &str = "/usr/lib/xen/boot";

/// The `name : value` lines of `xl info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XlInfo {
    fields: BTreeMap<String, String>,
}

/// One guest type of `xen_caps` (`xen-3.0-x86_64`, `hvm-3.0-x86_32p`), merged per
/// architecture and kind as libvirt merges them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestType {
    pub kind: GuestKind,
    /// libvirt's architecture name (`x86_64`, `i686`, `aarch64`).
    pub arch: String,
    pub pae: bool,
    pub nonpae: bool,
}

/// Xen's guest kinds: libvirt's `<os><type>` `hvm`, `xen` (PV) and `xenpvh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestKind {
    Hvm,
    Pv,
    Pvh,
}

impl GuestKind {
    pub fn os_type(self) -> &'static str {
        match self {
            GuestKind::Hvm => "hvm",
            GuestKind::Pv => "xen",
            GuestKind::Pvh => "xenpvh",
        }
    }

    /// The one machine capabilities name for it.
    pub fn machine(self) -> &'static str {
        match self {
            GuestKind::Hvm => "xenfv",
            GuestKind::Pv => "xenpv",
            GuestKind::Pvh => "xenpvh",
        }
    }
}

impl XlInfo {
    /// Reads `xl info`'s output; lines without ` : ` are skipped. A value may itself
    /// contain colons (`xen_commandline`, `cc_compile_date`): only the first one separates.
    pub fn parse(text: &str) -> Result<XlInfo, Error> {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() || name.contains(' ') {
                continue;
            }
            fields.insert(name.to_string(), value.trim().to_string());
        }
        if !fields.contains_key("xen_caps") || !fields.contains_key("nr_cpus") {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::LIBXL,
                "libxl_get_physinfo_info failed: xl info printed no nr_cpus or xen_caps",
            ));
        }
        Ok(XlInfo { fields })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn number(&self, name: &str) -> u64 {
        self.get(name)
            .and_then(|value| value.split_whitespace().next())
            .and_then(|value| value.split('.').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    /// `virNodeGetInfo` as libvirt's libxl driver fills it from `libxl_get_physinfo`:
    /// memory in KiB (xl prints MiB), one socket per node's share of the CPUs.
    pub fn node_info(&self) -> virt_plugin_sdk::types::NodeInfo {
        let cpus = self.number("nr_cpus") as u32;
        let nodes = (self.number("nr_nodes") as u32).max(1);
        let cores = (self.number("cores_per_socket") as u32).max(1);
        let threads = (self.number("threads_per_core") as u32).max(1);
        let sockets = (cpus / (cores * threads * nodes)).max(1);
        virt_plugin_sdk::types::NodeInfo {
            model: self.get("machine").unwrap_or("").to_string(),
            memory_kib: self.number("total_memory") * 1024,
            cpus,
            mhz: self.number("cpu_mhz") as u32,
            nodes,
            sockets,
            cores,
            threads,
        }
    }

    /// Free memory in bytes (xl prints MiB).
    pub fn free_memory_bytes(&self) -> u64 {
        self.number("free_memory") * 1024 * 1024
    }

    /// `xen_major.xen_minor` and `xen_extra` as libvirt's version number (4.17.2 → 4017002).
    pub fn hypervisor_version(&self) -> u64 {
        let extra = self
            .get("xen_extra")
            .unwrap_or("")
            .trim_start_matches(['.', '-'])
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|micro| micro.parse().ok())
            .unwrap_or(0u64);
        self.number("xen_major") * 1_000_000 + self.number("xen_minor") * 1_000 + extra
    }

    /// The guest types of `xen_caps`, as libvirt's `libxlCapsInitGuests` reads them: one
    /// per architecture and kind (PAE and non-PAE merged), and a PVH type after each HVM one.
    pub fn guest_types(&self) -> Vec<GuestType> {
        let mut types: Vec<GuestType> = Vec::new();
        for token in self.get("xen_caps").unwrap_or("").split_whitespace() {
            let mut parts = token.splitn(3, '-');
            let (Some(mode), Some(_version), Some(arch_text)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let hvm = match mode {
                "hvm" => true,
                "xen" => false,
                _ => continue,
            };
            let (arch, pae, nonpae) = if let Some(suffix) = arch_text.strip_prefix("x86_32") {
                let pae = suffix.starts_with('p');
                ("i686", pae, !pae)
            } else if arch_text.starts_with("x86_64") {
                ("x86_64", false, false)
            } else if arch_text.starts_with("aarch64") {
                ("aarch64", false, false)
            } else if arch_text.starts_with("armv7l") {
                ("armv7l", false, false)
            } else {
                continue;
            };
            let kind = if hvm { GuestKind::Hvm } else { GuestKind::Pv };
            if let Some(known) = types
                .iter_mut()
                .find(|known| known.kind == kind && known.arch == arch)
            {
                known.pae |= pae;
                known.nonpae |= nonpae;
                continue;
            }
            types.push(GuestType {
                kind,
                arch: arch.to_string(),
                pae,
                nonpae,
            });
            if hvm {
                types.push(GuestType {
                    kind: GuestKind::Pvh,
                    arch: arch.to_string(),
                    pae: false,
                    nonpae: false,
                });
            }
        }
        types
    }

    /// The `<guest>` elements of the capabilities.
    pub fn capability_guests(&self) -> Vec<Guest> {
        self.guest_types()
            .iter()
            .map(|guest_type| {
                let wordsize = if guest_type.arch == "i686" || guest_type.arch == "armv7l" {
                    32
                } else {
                    64
                };
                let mut guest =
                    Guest::simple(guest_type.kind.os_type(), &guest_type.arch, wordsize, "xen");
                if let Some(arch) = guest.arch.as_mut() {
                    arch.emulator = Some(DEVICE_MODEL.to_string());
                    if guest_type.kind == GuestKind::Hvm {
                        arch.loader = Some(format!("{FIRMWARE_DIR}/hvmloader"));
                    }
                    arch.machines = vec![Machine {
                        name: Some(guest_type.kind.machine().to_string()),
                        ..Machine::default()
                    }];
                }
                let mut features = Vec::new();
                let plain = |name: &str| GuestFeature {
                    name: name.to_string(),
                    default: None,
                    toggle: None,
                };
                let toggled = |name: &str, default: bool, toggle: bool| GuestFeature {
                    name: name.to_string(),
                    default: Some(if default { "on" } else { "off" }.to_string()),
                    toggle: Some(if toggle { YesNo::Yes } else { YesNo::No }),
                };
                if guest_type.pae {
                    features.push(plain("pae"));
                }
                if guest_type.nonpae {
                    features.push(plain("nonpae"));
                }
                if guest_type.kind == GuestKind::Hvm {
                    features.push(toggled("acpi", true, true));
                    features.push(toggled("apic", true, false));
                }
                if guest_type.kind != GuestKind::Pv {
                    features.push(toggled("hap", true, true));
                }
                if !features.is_empty() {
                    guest.features = Some(GuestFeatures(features));
                }
                guest
            })
            .collect()
    }

    /// What the conversions need to know about this host. The architecture is the first
    /// 64-bit one Xen offers (else the first); HVM, PV and PVH as `xen_caps` lists them.
    pub fn host_facts(&self) -> XenHostFacts {
        let types = self.guest_types();
        let arch = types
            .iter()
            .find(|guest_type| guest_type.arch == "x86_64" || guest_type.arch == "aarch64")
            .or(types.first())
            .map_or_else(|| "x86_64".to_string(), |t| t.arch.clone());
        let offers = |kind: GuestKind| {
            types
                .iter()
                .any(|guest_type| guest_type.kind == kind && guest_type.arch == arch)
        };
        let hvm = offers(GuestKind::Hvm);
        let (pv, pvh) = (offers(GuestKind::Pv), offers(GuestKind::Pvh));
        let nodes = (self.number("nr_nodes") as u32).max(1);
        XenHostFacts {
            arch,
            hvm,
            pv,
            pvh,
            firmware_dir: FIRMWARE_DIR.to_string(),
            // xl info's virt_caps says "hvm" when the CPU has VT-x or AMD-V; which of the
            // two only the CPU's flags say, and dom0's /proc/cpuinfo hides them.
            host_cpu_vmx: hvm,
            host_cpu_svm: false,
            nested_hvm: false,
            nested_hvm_in_build_info: true,
            grant_limits: true,
            createinfo_passthrough: true,
            numa_nodes: nodes,
            host_cpus: (self.number("nr_cpus") as u32).max(1),
            device_model: virt_xl::DeviceModelVersion::QemuXen,
            shadow_memkb: None,
            graphics_port: 5900,
            pv_bootloader: "pygrub".to_string(),
            channel_dir: "/var/lib/libvirt/libxl/channel/target".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `xl info` of a Xen 4.17 host (Debian's xen-utils-4.17), as it prints it.
    const XL_INFO_4_17: &str = "\
host                   : xenhost
release                : 6.1.0-26-amd64
version                : #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)
machine                : x86_64
nr_cpus                : 4
max_cpu_id             : 3
nr_nodes               : 1
cores_per_socket       : 2
threads_per_core       : 2
cpu_mhz                : 2394.454
hw_caps                : 178bfbff:f6f83203:2e500800:000003f7:0000000f:219c07a9:00400004:00000100
virt_caps              : pv hvm hvm_directio pv_directio hap shadow gnttab-v1 gnttab-v2
total_memory           : 4095
free_memory            : 2771
sharing_freed_memory   : 0
sharing_used_memory    : 0
outstanding_claims     : 0
free_cpus              : 0
xen_major              : 4
xen_minor              : 17
xen_extra              : .3-pre
xen_version            : 4.17.3-pre
xen_caps               : xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64
xen_scheduler          : credit2
xen_pagesize           : 4096
platform_params        : virt_start=0xffff800000000000
xen_changeset          : 
xen_commandline        : placeholder dom0_mem=1024M,max:1024M console=com1,vga com1=115200,8n1
cc_compiler            : x86_64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0
cc_compile_by          : pkg-xen-devel
cc_compile_domain      : lists.alioth.debian.org
cc_compile_date        : Tue Oct  1 13:35:11 UTC 2024
build_id               : 5e1c4e7b0bb2b9b9cc4b33ef0f0a0d56c8c9e8a4
xend_config_format     : 4
";

    #[test]
    fn node_info_from_xl_info() {
        let info = XlInfo::parse(XL_INFO_4_17).expect("parse");
        let node = info.node_info();
        assert_eq!(node.model, "x86_64");
        assert_eq!(node.cpus, 4);
        assert_eq!(node.mhz, 2394);
        assert_eq!(node.memory_kib, 4095 * 1024);
        assert_eq!(
            (node.nodes, node.sockets, node.cores, node.threads),
            (1, 1, 2, 2)
        );
        assert_eq!(info.free_memory_bytes(), 2771 * 1024 * 1024);
        assert_eq!(info.hypervisor_version(), 4_017_003);
        assert_eq!(
            info.get("cc_compile_date"),
            Some("Tue Oct  1 13:35:11 UTC 2024")
        );
    }

    #[test]
    fn xen_caps_become_libvirts_guest_types() {
        let info = XlInfo::parse(XL_INFO_4_17).expect("parse");
        let guest_types = info.guest_types();
        let types: Vec<(&str, &str, bool, bool)> = guest_types
            .iter()
            .map(|t| (t.kind.os_type(), t.arch.as_str(), t.pae, t.nonpae))
            .collect();
        assert_eq!(
            types,
            [
                ("xen", "x86_64", false, false),
                ("hvm", "i686", true, true),
                ("xenpvh", "i686", false, false),
                ("hvm", "x86_64", false, false),
                ("xenpvh", "x86_64", false, false),
            ]
        );
        let caps = virt_xml::capabilities::Capabilities {
            host: None,
            guests: info.capability_guests(),
            pool_types: None,
        }
        .to_xml();
        assert!(caps.contains("<os_type>xen</os_type>"), "{caps}");
        assert!(caps.contains("<os_type>xenpvh</os_type>"), "{caps}");
        assert!(caps.contains("<machine>xenfv</machine>"), "{caps}");
        assert!(
            caps.contains("<loader>/usr/lib/xen/boot/hvmloader</loader>"),
            "{caps}"
        );
        assert!(caps.contains("<domain type='xen'"), "{caps}");
        let facts = info.host_facts();
        assert_eq!(facts.arch, "x86_64");
        assert!(facts.hvm && facts.pv && facts.pvh);
        assert_eq!((facts.host_cpus, facts.numa_nodes), (4, 1));
    }

    #[test]
    fn a_host_without_hvm_offers_pv_only() {
        let info = XlInfo::parse(&XL_INFO_4_17.replace(
            "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64",
            "xen-3.0-x86_64",
        ))
        .expect("parse");
        let facts = info.host_facts();
        assert!(facts.pv && !facts.hvm && !facts.pvh);
    }

    #[test]
    fn output_that_is_not_xl_info_is_refused() {
        let error = XlInfo::parse("cannot init xl context\n").expect_err("not xl info");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
    }
}
