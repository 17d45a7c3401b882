//! Domain XML → QEMU command line, in QEMU's current JSON syntax (`-blockdev`, `-netdev`,
//! `-device '{...}'`), argument for argument in the order libvirt 9.0 writes it.
//!
//! [`build`] takes a definition that [`prepare`] has completed (defaults, addresses, aliases)
//! and a [`BuildContext`] with what only the start knows (paths, passed descriptors, whether
//! the CPUs start paused); [`build_with_config`] adds the driver's [`DriverConfig`] (the part
//! of libvirt's `qemu.conf` and host facts that shape command lines: hugetlbfs mounts, TLS
//! and SASL for displays and chardevs, ...), which [`build`] leaves at its defaults. It is
//! pure: the same input gives the same [`CommandLine`], which is what `domxml-to-native
//! qemu-argv` prints and what `cargo xtask qemu-argv-conformance` compares with libvirt's
//! golden files. One file per device family.
//!
//! What needs a process or a host lookup libvirt does itself (swtpm, virtiofsd,
//! vhost-user-gpu, passt, qemu-pr-helper, secrets, firmware descriptors, SCSI generic
//! devices, free vsock CIDs or display ports) is refused with VIR_ERR_CONFIG_UNSUPPORTED
//! rather than started half-configured.

pub mod chardev;
pub mod command;
pub mod devices;
pub mod disk;
pub mod machine;
pub mod memory;
pub mod net;
pub mod pci;
pub mod prepare;
pub mod props;
pub mod secrets;
pub mod volume_source;

use virt_xml::domain::Domain;

pub use command::CommandLine;
use props::Props;

use crate::capabilities::QemuCaps;
use virt_plugin_sdk::types::Error;

/// What the command line needs beyond the definition.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// The per-domain private directory (libvirt's `domain-<id>-<name>` lib dir): HOME of
    /// a system QEMU, the master key.
    pub domain_dir: String,
    /// The QMP socket QEMU listens on.
    pub monitor_socket: String,
    /// Where auto-generated channel sockets go (`<dir>/<target name>`).
    pub channel_dir: String,
    /// A system instance sets HOME and XDG dirs to the private directory, a session one only
    /// XDG_CACHE_HOME.
    pub privileged: bool,
    /// `-S`: the CPUs wait for `cont`.
    pub start_paused: bool,
    /// Tap descriptors QEMU inherits, per interface alias, as fd numbers in QEMU.
    pub tap_fds: Vec<(String, Vec<i32>)>,
    /// Per interface alias, the descriptors of `/dev/vhost-net` QEMU inherits (one per
    /// queue); an interface without any uses QEMU's own virtio-net backend.
    pub vhost_fds: Vec<(String, Vec<i32>)>,
    /// Per SCSI host device alias, the `/dev/sgN` of its adapter, bus, target and unit
    /// (found in sysfs before the build).
    pub scsi_generic: Vec<(String, String)>,
    /// `-incoming` URI for restores.
    pub incoming: Option<String>,
    /// Disk node-name indexes: per disk (in definition order) the index of each layer of its
    /// chain, top first. Empty means "number them as libvirt does at start".
    pub disk_nodes: Vec<Vec<u32>>,
    /// The master key secret object is emitted (a file QEMU reads at start).
    pub master_key: bool,
    /// The values of the secrets the definition uses ([`secrets::referenced`]).
    pub secret_values: std::collections::BTreeMap<secrets::SecretLookup, Vec<u8>>,
    /// The master key's bytes and the IV that wrap those values.
    pub secret_wrap: secrets::SecretWrap,
    /// Only showing the command line (`domxml-to-native`): taps are named, not passed.
    pub pretend: bool,
    /// The socket of the swtpm started for an emulated TPM (`None`: derived from the run
    /// directory, see [`chardev::swtpm_socket`]).
    pub swtpm_socket: Option<String>,
}

impl BuildContext {
    /// libvirt's short domain name (`<id>-<name, 20 characters>`), the last part of
    /// [`BuildContext::domain_dir`] (`.../domain-<short name>`), which names the domain's
    /// huge page and memory backing directories.
    pub fn short_name(&self) -> &str {
        let last = self.domain_dir.rsplit('/').next().unwrap_or("");
        last.strip_prefix("domain-").unwrap_or(last)
    }
}

/// One mounted hugetlbfs file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HugetlbfsMount {
    pub page_size_kib: u64,
    pub path: String,
    /// Its page size is the host's default huge page size.
    pub default: bool,
}

/// The driver's settings that shape command lines (the part of libvirt's `qemu.conf` the
/// builder reads). [`DriverConfig::default`] is libvirt's default configuration on a host
/// without hugetlbfs mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// `hugetlbfs_mount`: where huge pages of each size can be had.
    pub hugetlbfs: Vec<HugetlbfsMount>,
    /// `memory_backing_dir`: file-backed guest RAM goes to `<dir>/<short name>/<alias>`.
    pub memory_backing_dir: String,
    /// `vnc_allow_host_audio`, `nographics_allow_host_audio`: such domains without an
    /// `<audio>` use the host's audio backend, [`DriverConfig::host_audio_driver`].
    pub vnc_allow_host_audio: bool,
    pub nographics_allow_host_audio: bool,
    /// The host's audio backend (libvirt takes it from the daemon's `QEMU_AUDIO_DRV`); without
    /// one, domains allowed host audio get no audio backend.
    pub host_audio_driver: Option<String>,
    /// The SDL audio driver (the daemon's `SDL_AUDIODRIVER`).
    pub sdl_audio_driver: Option<String>,
    /// The host's DRM render node for OpenGL displays that name none (libvirt asks the host
    /// for its first one).
    pub default_rendernode: Option<String>,
    /// `deprecation_behavior`: `none`, `omit`, `reject` or `crash` (`-compat`).
    pub deprecation_behavior: String,
    /// `nvram_dir`: where a pflash firmware's variables live (`<dir>/<name>_VARS.fd`) when
    /// the definition names no file.
    pub nvram_dir: String,
    /// `vnc_listen`: the address VNC listens on when the definition names none.
    pub vnc_listen: String,
    /// `vnc_auto_unix_socket`: VNC without a listen element listens on
    /// `<domain dir>/vnc.sock`.
    pub vnc_auto_unix_socket: bool,
    /// `vnc_tls`, `vnc_tls_x509_cert_dir`, `vnc_tls_x509_verify`.
    pub vnc_tls: bool,
    pub vnc_tls_x509_cert_dir: String,
    pub vnc_tls_x509_verify: bool,
    /// `vnc_sasl`, `vnc_sasl_dir` (`SASL_CONF_PATH`).
    pub vnc_sasl: bool,
    pub vnc_sasl_dir: Option<String>,
    /// `chardev_tls`: TCP character devices use TLS unless their source says otherwise.
    pub chardev_tls: bool,
    pub chardev_tls_x509_cert_dir: String,
    /// Whether a listening TLS chardev verifies its clients.
    pub chardev_tls_x509_verify: bool,
    /// `nbd_tls`, `nbd_tls_x509_cert_dir`: NBD disks use TLS unless their source says
    /// otherwise.
    pub nbd_tls: bool,
    pub nbd_tls_x509_cert_dir: String,
    /// `vnc_tls_x509_secret_uuid`, `chardev_tls_x509_secret_uuid`,
    /// `nbd_tls_x509_secret_uuid`: the secret holding the passphrase of each TLS key.
    pub vnc_tls_x509_secret_uuid: Option<String>,
    pub chardev_tls_x509_secret_uuid: Option<String>,
    pub nbd_tls_x509_secret_uuid: Option<String>,
    /// `spice_listen`, `spice_auto_unix_socket`, `spice_tls`, `spice_tls_x509_cert_dir`,
    /// `spice_sasl`, `spice_sasl_dir`.
    pub spice_listen: String,
    pub spice_auto_unix_socket: bool,
    pub spice_tls: bool,
    pub spice_tls_x509_cert_dir: String,
    pub spice_sasl: bool,
    pub spice_sasl_dir: Option<String>,
    /// `spice_password` is set: tickets stay enabled even without a per-domain password.
    pub spice_password: bool,
}

impl Default for DriverConfig {
    fn default() -> DriverConfig {
        DriverConfig {
            hugetlbfs: Vec::new(),
            memory_backing_dir: "/var/lib/libvirt/qemu/ram".into(),
            nvram_dir: "/var/lib/libvirt/qemu/nvram".into(),
            deprecation_behavior: "none".into(),
            default_rendernode: None,
            vnc_allow_host_audio: false,
            nographics_allow_host_audio: false,
            host_audio_driver: None,
            sdl_audio_driver: None,
            vnc_listen: "127.0.0.1".into(),
            vnc_auto_unix_socket: false,
            vnc_tls: false,
            vnc_tls_x509_cert_dir: "/etc/pki/qemu".into(),
            vnc_tls_x509_verify: false,
            vnc_sasl: false,
            vnc_sasl_dir: None,
            chardev_tls: false,
            chardev_tls_x509_cert_dir: "/etc/pki/qemu".into(),
            chardev_tls_x509_verify: true,
            nbd_tls: false,
            nbd_tls_x509_cert_dir: "/etc/pki/qemu".into(),
            vnc_tls_x509_secret_uuid: None,
            chardev_tls_x509_secret_uuid: None,
            nbd_tls_x509_secret_uuid: None,
            spice_listen: "127.0.0.1".into(),
            spice_auto_unix_socket: false,
            spice_tls: false,
            spice_tls_x509_cert_dir: "/etc/pki/qemu".into(),
            spice_sasl: false,
            spice_sasl_dir: None,
            spice_password: false,
        }
    }
}

/// A `tls-creds-x509` object: server credentials (verifying clients when asked) or client
/// ones (always verifying the server).
pub fn tls_creds_props(id: &str, dir: &str, listen: bool, verify_peer: bool) -> Props {
    Props::new()
        .str("qom-type", "tls-creds-x509")
        .str("id", id)
        .str("dir", dir)
        .str("endpoint", if listen { "server" } else { "client" })
        .bool("verify-peer", !listen || verify_peer)
}

/// `-object tls-creds-x509` `creds`, preceded, when the key's passphrase is the secret
/// `secret_uuid` (qemu.conf's `*_tls_x509_secret_uuid`), by that secret as object
/// `secret_id`, which the credentials name as their `passwordid`.
pub fn tls_creds_objects(
    cmd: &mut CommandLine,
    ctx: &BuildContext,
    creds: Props,
    secret_uuid: Option<&str>,
    secret_id: &str,
) -> Result<(), Error> {
    let creds = match secret_uuid {
        Some(uuid) => {
            let lookup = secrets::SecretLookup::uuid(uuid, "tls");
            secrets::add_object(cmd, ctx, &lookup, secret_id)?;
            creds.str("passwordid", secret_id)
        }
        None => creds,
    };
    cmd.opt("-object", creds.to_json());
    Ok(())
}

impl DriverConfig {
    /// The hugetlbfs mounts a `/proc/mounts` text lists (`pagesize=2M` options; a mount
    /// without one has the default size `default_kib`).
    pub fn hugetlbfs_from_mounts(mounts: &str, default_kib: u64) -> Vec<HugetlbfsMount> {
        mounts
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if fields.get(2) != Some(&"hugetlbfs") {
                    return None;
                }
                let size = fields
                    .get(3)
                    .and_then(|options| {
                        options
                            .split(',')
                            .find_map(|option| option.strip_prefix("pagesize="))
                    })
                    .and_then(parse_page_size)
                    .unwrap_or(default_kib);
                Some(HugetlbfsMount {
                    page_size_kib: size,
                    path: fields.get(1)?.to_string(),
                    default: size == default_kib,
                })
            })
            .collect()
    }
}

/// `2M`, `1G`, `2048k` → KiB.
fn parse_page_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..split].parse().ok()?;
    match &text[split..] {
        "" | "k" | "K" => Some(number),
        "m" | "M" => Some(number * 1024),
        "g" | "G" => Some(number * 1024 * 1024),
        _ => None,
    }
}

/// Builds the command line of a prepared definition with the default driver settings.
pub fn build(def: &Domain, caps: &QemuCaps, ctx: &BuildContext) -> Result<CommandLine, Error> {
    build_with_config(def, caps, ctx, &DriverConfig::default())
}

/// Builds the command line of a prepared definition.
pub fn build_with_config(
    def: &Domain,
    caps: &QemuCaps,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<CommandLine, Error> {
    let emulator = def
        .devices
        .emulator
        .clone()
        .unwrap_or_else(|| caps.binary.clone());
    let mut cmd = CommandLine::new(&emulator);
    cmd.device_overrides = device_overrides(def);
    cmd.env("LC_ALL", "C");
    cmd.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    if ctx.privileged {
        cmd.env("HOME", &ctx.domain_dir);
        cmd.env("XDG_DATA_HOME", format!("{}/.local/share", ctx.domain_dir));
        cmd.env("XDG_CACHE_HOME", format!("{}/.cache", ctx.domain_dir));
        cmd.env("XDG_CONFIG_HOME", format!("{}/.config", ctx.domain_dir));
    } else {
        cmd.env("XDG_CACHE_HOME", format!("{}/.cache", ctx.domain_dir));
    }

    cmd.opt(
        "-name",
        format!("guest={},debug-threads=on", escape_option(def.name())),
    );
    build_compat(&mut cmd, def, caps, config);
    if ctx.start_paused {
        cmd.arg("-S");
    }
    if ctx.master_key {
        cmd.opt(
            "-object",
            Props::new()
                .str("qom-type", "secret")
                .str("id", "masterKey0")
                .str("format", "raw")
                .str("file", format!("{}/master-key.aes", ctx.domain_dir))
                .to_json(),
        );
    }
    if let Some(os) = &def.os {
        let loader = os.loader.as_ref().and_then(|loader| loader.path.as_ref());
        if os.firmware == Some(virt_xml::domain::Firmware::Efi) && loader.is_none() {
            return Err(crate::error::unsupported_config(
                "UEFI firmware autoselection needs the host's firmware descriptors; name the \
                 loader and NVRAM template instead",
            ));
        }
    }
    disk::build_pflash(&mut cmd, def, ctx, &config.nvram_dir)?;
    machine::build_machine(&mut cmd, def, caps, config)?;
    machine::build_accel(&mut cmd, def);
    machine::build_cpu(&mut cmd, def, caps)?;
    machine::build_loader(&mut cmd, def);
    memory::build_memory(&mut cmd, def, caps, ctx, config)?;
    machine::build_smp(&mut cmd, def);
    machine::build_iothreads(&mut cmd, def);
    memory::build_numa(&mut cmd, def, caps, ctx, config)?;
    if let Some(uuid) = def.uuid {
        cmd.opt("-uuid", uuid.hyphenated().to_string());
    }
    machine::build_sysinfo(&mut cmd, def)?;
    if let Some(Some(genid)) = def.genid {
        device(
            &mut cmd,
            Props::new()
                .str("driver", "vmgenid")
                .str("guid", genid.hyphenated().to_string())
                .str("id", "vmgenid0"),
        );
    }
    if def.devices.graphics.is_empty() {
        cmd.opt("-display", "none");
    }
    cmd.arg("-no-user-config");
    cmd.arg("-nodefaults");
    cmd.opt(
        "-chardev",
        format!(
            "socket,id=charmonitor,path={},server=on,wait=off",
            escape_option(&ctx.monitor_socket)
        ),
    );
    cmd.opt("-mon", "chardev=charmonitor,id=monitor,mode=control");
    machine::build_clock(&mut cmd, def)?;
    machine::build_pm(&mut cmd, def);
    machine::build_boot(&mut cmd, def);
    devices::build_iommu(&mut cmd, def)?;
    machine::build_pci_hole64(&mut cmd, def)?;
    devices::build_controllers(&mut cmd, def, caps)?;
    memory::build_memory_devices(&mut cmd, def, caps, ctx, config)?;
    devices::build_usb_hubs_and_ccid(&mut cmd, def);
    disk::build_disks(&mut cmd, def, ctx, config)?;
    devices::build_filesystems(&mut cmd, def, &ctx.domain_dir)?;
    net::build_interfaces(&mut cmd, def, ctx)?;
    chardev::build_smartcards(&mut cmd, def, ctx, config)?;
    chardev::build_serials(&mut cmd, def, ctx, config)?;
    chardev::build_parallels(&mut cmd, def, ctx, config)?;
    chardev::build_channels(&mut cmd, def, ctx, config)?;
    chardev::build_consoles(&mut cmd, def, ctx, config)?;
    chardev::build_tpms(&mut cmd, def, ctx)?;
    devices::build_inputs(&mut cmd, def)?;
    devices::build_audio(&mut cmd, def, config);
    devices::build_graphics(&mut cmd, def, ctx, config)?;
    devices::build_videos(&mut cmd, def, caps, &ctx.domain_dir)?;
    devices::build_sounds(&mut cmd, def)?;
    devices::build_watchdog(&mut cmd, def)?;
    chardev::build_redirdevs(&mut cmd, def, ctx, config)?;
    devices::build_hostdevs(&mut cmd, def, ctx)?;
    if let Some(uri) = &ctx.incoming {
        cmd.opt("-incoming", uri.clone());
    }
    devices::build_memballoon(&mut cmd, def)?;
    devices::build_rngs(&mut cmd, def, ctx, config)?;
    if def
        .features
        .as_ref()
        .and_then(|features| features.vmcoreinfo.as_ref())
        .and_then(|vmcoreinfo| vmcoreinfo.state)
        .is_some_and(|state| state.is_on())
    {
        device(&mut cmd, Props::new().str("driver", "vmcoreinfo"));
    }
    build_launch_security(&mut cmd, def, ctx);
    if let Some(qemu) = &def.qemu {
        for arg in &qemu.args {
            cmd.arg(arg.clone());
        }
        for env in &qemu.env {
            cmd.env(&env.name, env.value.clone().unwrap_or_default());
        }
    }
    cmd.opt(
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    );
    devices::build_panics(&mut cmd, def)?;
    devices::build_shmems(&mut cmd, def, ctx, config)?;
    devices::build_vsock(&mut cmd, def)?;
    cmd.opt("-msg", "timestamp=on");
    Ok(cmd)
}

/// `-compat`: how QEMU treats deprecated interfaces (the driver's `deprecation_behavior`,
/// or the domain's `<qemu:deprecation>`), for QEMU 6.0 and later.
fn build_compat(cmd: &mut CommandLine, def: &Domain, caps: &QemuCaps, config: &DriverConfig) {
    let behavior = def
        .qemu
        .as_ref()
        .and_then(|qemu| qemu.deprecation_behavior.as_deref())
        .unwrap_or(&config.deprecation_behavior);
    let input = match behavior {
        "omit" => None,
        "reject" => Some("reject"),
        "crash" => Some("crash"),
        _ => return,
    };
    if caps.version < 6_000_000 {
        return;
    }
    cmd.opt(
        "-compat",
        Props::new()
            .str("deprecated-output", "hide")
            .opt_str("deprecated-input", input)
            .to_json(),
    );
}

/// The SEV guest object a `<launchSecurity type='sev'>` asks for (its certificate and
/// session files are written to the domain directory).
fn build_launch_security(cmd: &mut CommandLine, def: &Domain, ctx: &BuildContext) {
    use virt_xml::domain::enums::LaunchSecurityType;
    let Some(security) = &def.launch_security else {
        return;
    };
    let props = match security.security_type {
        Some(LaunchSecurityType::Sev) => Props::new()
            .str("qom-type", "sev-guest")
            .str("id", "lsec0")
            .uint("cbitpos", security.cbitpos.unwrap_or(0).into())
            .uint(
                "reduced-phys-bits",
                security.reduced_phys_bits.unwrap_or(0).into(),
            )
            .uint("policy", security.policy.map_or(0, |policy| policy.0))
            .opt_str(
                "dh-cert-file",
                security
                    .dh_cert
                    .as_ref()
                    .map(|_| format!("{}/dh_cert.base64", ctx.domain_dir)),
            )
            .opt_str(
                "session-file",
                security
                    .session
                    .as_ref()
                    .map(|_| format!("{}/session.base64", ctx.domain_dir)),
            )
            .opt_bool(
                "kernel-hashes",
                security.kernel_hashes.map(|hashes| hashes.is_yes()),
            ),
        Some(LaunchSecurityType::S390Pv) => Props::new()
            .str("qom-type", "s390-pv-guest")
            .str("id", "lsec0"),
        None => return,
    };
    cmd.opt("-object", props.to_json());
}

/// QEMU's option syntax doubles commas inside values.
pub fn escape_option(value: &str) -> String {
    value.replace(',', ",,")
}

/// `-device` with a JSON object (after the domain's `<qemu:device>` overrides of its id).
pub fn device(cmd: &mut CommandLine, mut props: Props) {
    if let Some(id) = props.get_str("id").map(str::to_string) {
        let overrides = cmd
            .device_overrides
            .iter()
            .filter(|(alias, _)| *alias == id)
            .flat_map(|(_, properties)| properties.iter().cloned())
            .collect::<Vec<_>>();
        for (name, value) in overrides {
            props.remove(&name);
            if let Some(value) = value {
                props.push(&name, value);
            }
        }
    }
    cmd.opt("-device", props.to_json());
}

/// The `<qemu:device>` frontend overrides of a definition, as typed properties.
fn device_overrides(def: &Domain) -> Vec<command::DeviceOverride> {
    use props::Prop;
    let Some(qemu) = &def.qemu else {
        return Vec::new();
    };
    qemu.overrides
        .iter()
        .map(|device| {
            let properties = device
                .frontend
                .iter()
                .map(|property| {
                    let value = property.value.clone().unwrap_or_default();
                    let typed = match property.property_type.as_str() {
                        "signed" => value.parse().ok().map(Prop::Int),
                        "unsigned" => value.parse().ok().map(Prop::UInt),
                        "bool" | "boolean" => Some(Prop::Bool(value == "true")),
                        "remove" => None,
                        _ => Some(Prop::Str(value)),
                    };
                    (property.name.clone(), typed)
                })
                .collect();
            (device.alias.clone(), properties)
        })
        .collect()
}

/// The address properties of a device, whatever its address type (libvirt's
/// `qemuBuildDeviceAddressProps`): PCI bus/slot, USB port, ISA I/O port, DIMM slot or
/// virtio-serial port. Drive addresses are the disk builder's.
pub fn address_props(
    props: Props,
    info: &virt_xml::domain::address::DeviceInfo,
    def: &Domain,
) -> Props {
    use virt_xml::domain::{Address, ControllerType};
    let controller_alias = |kind: ControllerType, index: u32, fallback: String| {
        disk::controller_alias(def, kind, index).unwrap_or(fallback)
    };
    match &info.address {
        Some(Address::Pci(_)) => pci_address_props(props, info, def),
        Some(Address::Usb { bus, port }) => {
            let alias = controller_alias(
                ControllerType::Usb,
                *bus,
                if *bus == 0 {
                    "usb".into()
                } else {
                    format!("usb{bus}")
                },
            );
            props
                .str("bus", format!("{alias}.0"))
                .opt_str("port", port.clone())
        }
        Some(Address::Isa { iobase, irq }) => props
            .uint("iobase", iobase.unwrap_or(0).into())
            .opt_uint("irq", irq.filter(|irq| *irq > 0).map(u64::from)),
        Some(Address::Dimm { slot, base }) => {
            let props = props.uint("slot", (*slot).into());
            match base.filter(|base| *base > 0) {
                Some(base) => props.uint("addr", base),
                None => props,
            }
        }
        Some(Address::VirtioSerial {
            controller,
            bus,
            port,
        }) => {
            let alias = controller_alias(
                ControllerType::VirtioSerial,
                *controller,
                format!("virtio-serial{controller}"),
            );
            props
                .str("bus", format!("{alias}.{bus}"))
                .int("nr", (*port).into())
        }
        _ => props,
    }
}

/// Adds `"bus"`/`"addr"` (and `"multifunction"`) for a PCI address.
pub fn pci_address_props(
    props: Props,
    info: &virt_xml::domain::address::DeviceInfo,
    def: &Domain,
) -> Props {
    match &info.address {
        Some(virt_xml::domain::Address::Pci(address)) => {
            let bus = pci_bus_alias(def, address.bus);
            let addr = if address.function == 0 {
                format!("0x{:x}", address.slot)
            } else {
                format!("0x{:x}.0x{:x}", address.slot, address.function)
            };
            let props = props.str("bus", bus);
            let props = match address.multifunction {
                Some(virt_xml::xml::OnOff::On) => props.bool("multifunction", true),
                Some(virt_xml::xml::OnOff::Off) => props.bool("multifunction", false),
                None => props,
            };
            let props = props.str("addr", addr);
            match info
                .acpi
                .as_ref()
                .and_then(|acpi| acpi.index)
                .filter(|index| *index > 0)
            {
                Some(index) => props.uint("acpi-index", index.into()),
                None => props,
            }
        }
        _ => props,
    }
}

/// The QEMU id of PCI bus `index` (the alias of the PCI controller with that index; a
/// root bus keeps QEMU's own name whatever the user calls it, as it is not on the command
/// line).
pub fn pci_bus_alias(def: &Domain, index: u32) -> String {
    let controller = def.devices.controllers.iter().find(|controller| {
        controller.controller_type == Some(virt_xml::domain::ControllerType::Pci)
            && controller.index.unwrap_or(0) == index
    });
    let Some(controller) = controller else {
        return format!("pci.{index}");
    };
    match (controller.info.alias_name(), controller.model.as_deref()) {
        (Some(alias), Some("pci-root")) if alias.starts_with("ua-") => "pci.0".into(),
        (Some(alias), Some("pcie-root")) if alias.starts_with("ua-") => "pcie.0".into(),
        (Some(alias), _) => alias.to_string(),
        (None, _) => format!("pci.{index}"),
    }
}

/// The QEMU id of a device (its alias).
pub fn alias_of(info: &virt_xml::domain::address::DeviceInfo) -> String {
    info.alias_name().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arguments QEMU gets for a small PC guest with `devices` (and `os` extras).
    fn args_for(os: &str, devices: &str, config: &DriverConfig) -> Vec<String> {
        let xml = format!(
            "<domain type='qemu'><name>t</name><memory>131072</memory>\
             <os><type arch='x86_64' machine='pc'>hvm</type>{os}</os>\
             <devices>{devices}</devices></domain>"
        );
        let mut def = Domain::parse(&xml).expect("test domain parses");
        def.post_parse().expect("post-parse");
        let caps = QemuCaps {
            binary: "/usr/bin/qemu-system-x86_64".into(),
            version: 8_000_000,
            arch: "x86_64".into(),
            ..QemuCaps::default()
        };
        prepare::apply_qemu_defaults(&mut def, &caps).expect("defaults");
        prepare::assign_addresses(&mut def).expect("addresses");
        prepare::prepare_for_start(&mut def);
        prepare::assign_aliases(&mut def);
        let ctx = BuildContext {
            domain_dir: "/run/q/domain-1-t".into(),
            monitor_socket: "/run/q/domain-1-t/monitor.sock".into(),
            channel_dir: "/run/q/domain-1-t".into(),
            ..BuildContext::default()
        };
        build_with_config(&def, &caps, &ctx, config)
            .expect("command line")
            .args
    }

    /// The value following each occurrence of `option`.
    fn values<'a>(args: &'a [String], option: &str) -> Vec<&'a str> {
        args.windows(2)
            .filter(|pair| pair[0] == option)
            .map(|pair| pair[1].as_str())
            .collect()
    }

    #[test]
    fn audio_backends_carry_their_direction_settings() {
        let args = args_for(
            "",
            "<audio id='1' type='pulseaudio' serverName='media'>\
             <input name='mic' latency='20'/></audio>",
            &DriverConfig::default(),
        );
        assert_eq!(
            values(&args, "-audiodev"),
            vec![
                r#"{"id":"audio1","driver":"pa","server":"media","in":{"name":"mic","latency":20}}"#
            ]
        );
    }

    #[test]
    fn spice_with_tls_lists_secure_channels_after_the_certificates() {
        let config = DriverConfig {
            spice_tls: true,
            ..DriverConfig::default()
        };
        let args = args_for(
            "",
            "<graphics type='spice' port='5901' tlsPort='5902' autoport='no'>\
             <channel name='main' mode='secure'/></graphics>",
            &config,
        );
        assert_eq!(
            values(&args, "-spice"),
            vec![
                "port=5901,tls-port=5902,addr=127.0.0.1,disable-ticketing=on,\
                 x509-dir=/etc/pki/qemu,tls-channel=main,seamless-migration=on"
            ]
        );
    }

    #[test]
    fn vnc_listens_on_the_domain_socket_when_configured() {
        let config = DriverConfig {
            vnc_auto_unix_socket: true,
            ..DriverConfig::default()
        };
        let args = args_for("", "<graphics type='vnc'/>", &config);
        assert_eq!(
            values(&args, "-vnc"),
            vec!["vnc=unix:/run/q/domain-1-t/vnc.sock,audiodev=audio1"]
        );
    }

    #[test]
    fn usb_devices_take_the_first_free_ports() {
        let args = args_for(
            "",
            "<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/>",
            &DriverConfig::default(),
        );
        let usb: Vec<&str> = values(&args, "-device")
            .into_iter()
            .filter(|device| device.contains("\"bus\":\"usb.0\""))
            .collect();
        assert_eq!(
            usb,
            vec![
                r#"{"driver":"usb-tablet","id":"input0","bus":"usb.0","port":"1"}"#,
                r#"{"driver":"usb-kbd","id":"input1","bus":"usb.0","port":"2"}"#,
            ]
        );
    }

    #[test]
    fn boot_indexes_follow_the_boot_device_positions() {
        let args = args_for(
            "<boot dev='cdrom'/><boot dev='hd'/>",
            "<disk type='file' device='disk'><source file='/i.img'/>\
             <target dev='vda' bus='virtio'/></disk>",
            &DriverConfig::default(),
        );
        let disk = values(&args, "-device")
            .into_iter()
            .find(|device| device.contains("virtio-blk-pci"))
            .expect("disk device");
        assert!(
            disk.ends_with(r#""id":"virtio-disk0","bootindex":2}"#),
            "{disk}"
        );
    }

    #[test]
    fn smbios_tables_follow_the_field_order_and_escape_commas() {
        let xml = "<domain type='qemu'><name>t</name><memory>131072</memory>\
             <sysinfo type='smbios'>\
             <system><entry name='product'>Box</entry><entry name='manufacturer'>Acme</entry></system>\
             <oemStrings><entry>a,b</entry></oemStrings></sysinfo>\
             <os><type arch='x86_64' machine='pc'>hvm</type><smbios mode='sysinfo'/></os>\
             <devices/></domain>";
        let def = Domain::parse(xml).expect("test domain parses");
        let mut cmd = CommandLine::new("qemu");
        machine::build_sysinfo(&mut cmd, &def).expect("smbios");
        assert_eq!(
            values(&cmd.args, "-smbios"),
            vec!["type=1,manufacturer=Acme,product=Box", "type=11,value=a,,b"]
        );
    }

    #[test]
    fn pci_host_devices_go_through_vfio() {
        let args = args_for(
            "",
            "<hostdev mode='subsystem' type='pci' managed='yes'><source>\
             <address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/>\
             </source><rom bar='off'/></hostdev>",
            &DriverConfig::default(),
        );
        let vfio = values(&args, "-device")
            .into_iter()
            .find(|device| device.contains("vfio-pci"))
            .expect("vfio device");
        assert!(
            vfio.starts_with(r#"{"driver":"vfio-pci","host":"0000:06:12.5","id":"hostdev0","#)
                && vfio.ends_with(r#""rombar":0}"#),
            "{vfio}"
        );
    }

    #[test]
    fn hugetlbfs_mounts_from_proc_mounts() {
        let mounts = "proc /proc proc rw 0 0\n\
                      hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n\
                      none /mnt/huge1g hugetlbfs rw,pagesize=1G 0 0\n\
                      none /mnt/plain hugetlbfs rw 0 0\n";
        let found = DriverConfig::hugetlbfs_from_mounts(mounts, 2048);
        let summary: Vec<(u64, &str, bool)> = found
            .iter()
            .map(|mount| (mount.page_size_kib, mount.path.as_str(), mount.default))
            .collect();
        assert_eq!(
            summary,
            vec![
                (2048, "/dev/hugepages", true),
                (1_048_576, "/mnt/huge1g", false),
                (2048, "/mnt/plain", true),
            ]
        );
    }

    #[test]
    fn short_name_comes_from_the_domain_directory() {
        let ctx = BuildContext {
            domain_dir: "/run/rvirt/qemu/domain-7-guest".into(),
            ..BuildContext::default()
        };
        assert_eq!(ctx.short_name(), "7-guest");
    }
}
