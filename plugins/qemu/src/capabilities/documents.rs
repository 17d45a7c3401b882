//! The capabilities documents: host capabilities (`virConnectGetCapabilities`, via virt-xml's
//! model) and domain capabilities (`virConnectGetDomainCapabilities`; virt-xml has no model
//! of that document yet, so it is written here element by element with virt-xml's writer),
//! with the node facts of `virt_plugin_sdk::node`.

use virt_core::ErrorNumber;
use virt_plugin_sdk::types::Error;
use virt_xml::capabilities::{
    Capabilities, Guest, GuestArch, GuestDomain, GuestFeature, GuestFeatures, Host, HostCpu,
    Machine, MigrationFeatures, UriTransports,
};
use virt_xml::xml::{Writer, YesNo};

use super::cache::{binary_for_arch, capabilities_for, installed_binaries};
use super::QemuCaps;
use crate::error::qemu_error;
use crate::space::SpaceLayout;

pub use virt_plugin_sdk::node::{host_facts, host_uuid, node_info, HostFacts};

/// `virConnectGetCapabilities`.
pub fn host_capabilities(layout: &SpaceLayout) -> Result<String, Error> {
    let facts = host_facts();
    let mut caps = Capabilities {
        host: Some(Host {
            uuid: host_uuid(),
            cpu: Some(HostCpu {
                arch: Some(facts.arch.clone()),
                ..HostCpu::default()
            }),
            migration_features: Some(MigrationFeatures {
                live: true,
                uri_transports: Some(UriTransports {
                    transports: vec!["tcp".into(), "rdma".into()],
                }),
            }),
            ..Host::default()
        }),
        guests: Vec::new(),
        pool_types: None,
    };
    for binary in installed_binaries() {
        let Ok(qemu) = capabilities_for(layout, &binary) else {
            continue;
        };
        caps.guests.push(guest_of(&qemu));
    }
    Ok(caps.to_xml())
}

fn guest_of(qemu: &QemuCaps) -> Guest {
    let machines: Vec<Machine> = qemu
        .machines_for_listing()
        .iter()
        .flat_map(|machine| {
            let mut entries = vec![Machine {
                canonical: None,
                max_cpus: Some(machine.max_cpus),
                deprecated: machine.deprecated.then_some(YesNo::Yes),
                name: Some(machine.name.clone()),
            }];
            if let Some(alias) = &machine.alias {
                entries.push(Machine {
                    canonical: Some(machine.name.clone()),
                    max_cpus: Some(machine.max_cpus),
                    deprecated: None,
                    name: Some(alias.clone()),
                });
            }
            entries
        })
        .collect();
    let mut domains = vec![GuestDomain {
        virt_type: Some("qemu".into()),
        ..GuestDomain::default()
    }];
    if qemu.kvm {
        domains.push(GuestDomain {
            virt_type: Some("kvm".into()),
            ..GuestDomain::default()
        });
    }
    let feature = |name: &str, default: Option<&str>, toggle: Option<YesNo>| GuestFeature {
        name: name.into(),
        default: default.map(str::to_string),
        toggle,
    };
    Guest {
        os_type: Some("hvm".into()),
        arch: Some(GuestArch {
            name: Some(qemu.libvirt_arch().to_string()),
            wordsize: Some(if qemu.arch.ends_with("64") { 64 } else { 32 }),
            emulator: Some(qemu.binary.clone()),
            loader: None,
            machines,
            domains,
        }),
        features: Some(GuestFeatures(vec![
            feature("acpi", Some("on"), Some(YesNo::Yes)),
            feature("apic", Some("on"), Some(YesNo::No)),
            feature("cpuselection", None, None),
            feature("deviceboot", None, None),
            feature("disksnapshot", Some("on"), Some(YesNo::No)),
        ])),
    }
}

/// `virConnectGetDomainCapabilities`.
pub fn domain_capabilities(
    layout: &SpaceLayout,
    emulator: Option<&str>,
    arch: Option<&str>,
    machine: Option<&str>,
    virt_type: Option<&str>,
) -> Result<String, Error> {
    let binary = match emulator {
        Some(emulator) => emulator.to_string(),
        None => binary_for_arch(arch.unwrap_or("x86_64"))?,
    };
    let qemu = capabilities_for(layout, &binary)?;
    if let Some(arch) = arch {
        if arch != qemu.libvirt_arch() && !(arch == "i686" && qemu.arch == "x86_64") {
            return Err(qemu_error(
                ErrorNumber::INVALID_ARG,
                format!("emulator '{binary}' does not support arch '{arch}'"),
            ));
        }
    }
    let virt_type = virt_type.unwrap_or(if qemu.kvm { "kvm" } else { "qemu" });
    if !matches!(virt_type, "qemu" | "kvm") || (virt_type == "kvm" && !qemu.kvm) {
        return Err(qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("KVM is not supported by '{binary}' on this host"),
        ));
    }
    let chosen = match machine {
        Some(name) => qemu.machine(name).ok_or_else(|| {
            qemu_error(
                ErrorNumber::INVALID_ARG,
                format!("the machine '{name}' is not supported by emulator '{binary}'"),
            )
        })?,
        None => qemu
            .default_machine()
            .ok_or_else(|| qemu_error(ErrorNumber::INVALID_ARG, "no default machine type"))?,
    };
    let mut w = Writer::with_capacity(4096);
    let root = w.open("domainCapabilities");
    w.text_element("path", &binary);
    w.text_element("domain", virt_type);
    w.text_element("machine", &chosen.name);
    w.text_element("arch", arch.unwrap_or(qemu.libvirt_arch()));
    let vcpu = w.open("vcpu");
    w.attr("max", &chosen.max_cpus.to_string());
    w.close(vcpu, "vcpu", false);
    supported(&mut w, "iothreads", true, |_| {});
    supported(&mut w, "os", true, |w| {
        enumeration(w, "firmware", &[]);
        supported(w, "loader", true, |w| {
            enumeration(w, "type", &["rom", "pflash"]);
            enumeration(w, "readonly", &["yes", "no"]);
            enumeration(w, "secure", &["no"]);
        });
    });
    let cpu = w.open("cpu");
    mode(&mut w, "host-passthrough", virt_type == "kvm", |_| {});
    mode(&mut w, "maximum", true, |_| {});
    mode(&mut w, "host-model", false, |_| {});
    mode(&mut w, "custom", true, |w| {
        for model in &qemu.cpu_models {
            if matches!(model.name.as_str(), "host" | "max" | "base") {
                continue;
            }
            let element = w.open("model");
            w.attr(
                "usable",
                if model.usable || virt_type == "qemu" {
                    "yes"
                } else {
                    "no"
                },
            );
            if model.deprecated {
                w.attr("deprecated", "yes");
            }
            w.text(&model.name);
            w.close(element, "model", false);
        }
    });
    w.close(cpu, "cpu", false);
    supported(&mut w, "memoryBacking", true, |w| {
        enumeration(w, "sourceType", &["file", "anonymous", "memfd"])
    });
    let devices = w.open("devices");
    supported(&mut w, "disk", true, |w| {
        enumeration(w, "diskDevice", &["disk", "cdrom", "floppy", "lun"]);
        enumeration(w, "bus", &["ide", "fdc", "scsi", "virtio", "usb", "sata"]);
        enumeration(
            w,
            "model",
            &["virtio", "virtio-transitional", "virtio-non-transitional"],
        );
    });
    supported(&mut w, "graphics", true, |w| {
        enumeration(w, "type", &["vnc"])
    });
    supported(&mut w, "video", true, |w| {
        enumeration(
            w,
            "modelType",
            &[
                "vga", "cirrus", "vmvga", "qxl", "virtio", "none", "bochs", "ramfb",
            ],
        )
    });
    supported(&mut w, "hostdev", false, |_| {});
    supported(&mut w, "rng", true, |w| {
        enumeration(
            w,
            "model",
            &["virtio", "virtio-transitional", "virtio-non-transitional"],
        );
        enumeration(w, "backendModel", &["random", "egd", "builtin"]);
    });
    supported(&mut w, "filesystem", true, |w| {
        enumeration(w, "driverType", &["path", "handle"])
    });
    supported(&mut w, "tpm", false, |_| {});
    supported(&mut w, "redirdev", false, |_| {});
    supported(&mut w, "channel", true, |w| {
        enumeration(w, "type", &["pty", "unix"])
    });
    w.close(devices, "devices", false);
    let features = w.open("features");
    for (name, is_supported) in [
        ("gic", false),
        ("vmcoreinfo", true),
        ("genid", true),
        ("backingStoreInput", true),
        ("backup", false),
        ("sev", false),
        ("sgx", false),
    ] {
        supported(&mut w, name, is_supported, |_| {});
    }
    w.close(features, "features", false);
    w.close(root, "domainCapabilities", false);
    Ok(w.finish())
}

fn supported(w: &mut Writer, name: &str, is_supported: bool, body: impl FnOnce(&mut Writer)) {
    let mark = w.open(name);
    w.attr("supported", if is_supported { "yes" } else { "no" });
    if is_supported {
        body(w);
    }
    w.close(mark, name, false);
}

fn mode(w: &mut Writer, name: &str, is_supported: bool, body: impl FnOnce(&mut Writer)) {
    let mark = w.open("mode");
    w.attr("name", name);
    w.attr("supported", if is_supported { "yes" } else { "no" });
    if is_supported {
        body(w);
    }
    w.close(mark, "mode", false);
}

fn enumeration(w: &mut Writer, name: &str, values: &[&str]) {
    let mark = w.open("enum");
    w.attr("name", name);
    for value in values {
        w.text_element("value", value);
    }
    w.close(mark, "enum", false);
}
