//! Character devices: the host backend (`-chardev pty|file|socket|udp|...`) and the guest
//! device (`isa-serial`, `virtserialport`, `virtconsole`, `isa-parallel`, ...).

use virt_xml::domain::enums::*;
use virt_xml::domain::{ChrDevice, Domain};

use super::command::CommandLine;
use super::props::Props;
use super::{device, escape_option, BuildContext, DriverConfig};
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// `-chardev` for a character backend with QEMU id `id`, preceded by the TLS credentials a
/// TCP backend uses (its source's `tls`, else the driver's `chardev_tls`).
pub fn build_chardev(
    cmd: &mut CommandLine,
    chr: &ChrDevice,
    id: &str,
    ctx: &BuildContext,
    config: &DriverConfig,
    is_parallel: bool,
) -> Result<(), Error> {
    let mut value = chardev_value(chr, id, ctx, is_parallel)?;
    let source = chr.source().cloned().unwrap_or_default();
    let tls = source.tls.map_or(config.chardev_tls, |tls| tls.is_yes());
    if chr.chr_type == Some(ChrType::Tcp) && tls {
        let creds = format!("obj{id}_tls0");
        let listen = source.mode.as_deref() == Some("bind");
        super::tls_creds_objects(
            cmd,
            ctx,
            super::tls_creds_props(
                &creds,
                &config.chardev_tls_x509_cert_dir,
                listen,
                config.chardev_tls_x509_verify,
            ),
            config.chardev_tls_x509_secret_uuid.as_deref(),
            &format!("{id}-secret0"),
        )?;
        // The credentials go right after the socket options (before any log file).
        let insert_at = value.find(",logfile=").unwrap_or(value.len());
        value.insert_str(insert_at, &format!(",tls-creds={creds}"));
    }
    cmd.opt("-chardev", value);
    Ok(())
}

/// The `-chardev` value for a character backend with QEMU id `id`.
pub fn chardev_value(
    chr: &ChrDevice,
    id: &str,
    ctx: &BuildContext,
    is_parallel: bool,
) -> Result<String, Error> {
    let source = chr.source().cloned().unwrap_or_default();
    let path = || source.path.clone().unwrap_or_default();
    let mut value = match chr.chr_type.unwrap_or(ChrType::Pty) {
        ChrType::Null => format!("null,id={id}"),
        ChrType::Vc => format!("vc,id={id}"),
        ChrType::Pty => format!("pty,id={id}"),
        ChrType::Stdio => format!("stdio,id={id}"),
        ChrType::Dev => {
            let backend = if is_parallel { "parallel" } else { "serial" };
            format!("{backend},id={id},path={}", escape_option(&path()))
        }
        ChrType::File => {
            let mut value = format!("file,id={id},path={}", escape_option(&path()));
            if let Some(append) = source.append {
                value.push_str(&format!(
                    ",append={}",
                    if append.is_on() { "on" } else { "off" }
                ));
            }
            value
        }
        ChrType::Pipe => format!("pipe,id={id},path={}", escape_option(&path())),
        ChrType::Unix => {
            let socket_path = match source.path.clone() {
                Some(path) => path,
                None => {
                    let name = chr
                        .target
                        .as_ref()
                        .and_then(|target| target.name.clone())
                        .unwrap_or_else(|| id.to_string());
                    format!("{}/{name}", ctx.channel_dir)
                }
            };
            let mut value = format!("socket,id={id},path={}", escape_option(&socket_path));
            // A socket without a path is one the driver makes, and listens on.
            if source.mode.as_deref() == Some("bind") || source.path.is_none() {
                value.push_str(",server=on,wait=off");
            }
            value
        }
        ChrType::Tcp => {
            let telnet = chr
                .protocol
                .as_ref()
                .and_then(|protocol| protocol.value.as_deref())
                == Some("telnet");
            let mut value = format!(
                "socket,id={id},host={},port={}",
                source.host.clone().unwrap_or_default(),
                source.service.clone().unwrap_or_default()
            );
            if telnet {
                value.push_str(",telnet=on");
            }
            if source.mode.as_deref() == Some("bind") {
                value.push_str(",server=on,wait=off");
            }
            value
        }
        ChrType::Udp => {
            let connect = chr
                .sources
                .iter()
                .find(|source| source.mode.as_deref() != Some("bind"))
                .cloned()
                .unwrap_or_default();
            let bind = chr
                .sources
                .iter()
                .find(|source| source.mode.as_deref() == Some("bind"))
                .cloned()
                .unwrap_or_default();
            format!(
                "udp,id={id},host={},port={},localaddr={},localport={}",
                connect.host.clone().unwrap_or_default(),
                connect.service.clone().unwrap_or_default(),
                bind.host.clone().unwrap_or_default(),
                bind.service.clone().unwrap_or_else(|| "0".into())
            )
        }
        ChrType::Spicevmc => {
            // The SPICE channel a device uses: USB redirection, smart card, or the agent.
            let name = if id.starts_with("charredir") {
                "usbredir"
            } else if id.starts_with("charsmartcard") {
                "smartcard"
            } else {
                "vdagent"
            };
            format!("spicevmc,id={id},name={name}")
        }
        ChrType::Spiceport => format!(
            "spiceport,id={id},name={}",
            source.channel.clone().unwrap_or_default()
        ),
        ChrType::QemuVdagent => {
            let mut value = format!("qemu-vdagent,id={id},name=vdagent");
            if let Some(copypaste) = source
                .clipboard
                .as_ref()
                .and_then(|clipboard| clipboard.copypaste)
            {
                value.push_str(if copypaste.is_yes() {
                    ",clipboard=on"
                } else {
                    ",clipboard=off"
                });
            }
            match source.mouse.as_ref().and_then(|mouse| mouse.mode) {
                Some(MouseMode::Client) => value.push_str(",mouse=on"),
                Some(MouseMode::Server) => value.push_str(",mouse=off"),
                _ => {}
            }
            value
        }
        other => {
            return Err(unsupported_config(format!(
                "unsupported chardev '{}'",
                other.as_str()
            )))
        }
    };
    if let Some(reconnect) = source
        .reconnect
        .as_ref()
        .filter(|reconnect| reconnect.enabled.is_some_and(|e| e.is_yes()))
    {
        value.push_str(&format!(",reconnect={}", reconnect.timeout.unwrap_or(0)));
    }
    if let Some(log) = &chr.log {
        if let Some(file) = &log.file {
            value.push_str(&format!(",logfile={}", escape_option(file)));
            if let Some(append) = log.append {
                value.push_str(if append.is_on() {
                    ",logappend=on"
                } else {
                    ",logappend=off"
                });
            }
        }
    }
    Ok(value)
}

/// The serial device model libvirt picks for a serial port.
fn serial_model(chr: &ChrDevice) -> &str {
    if let Some(model) = chr
        .target
        .as_ref()
        .and_then(|target| target.model.as_ref())
        .and_then(|model| model.name.as_deref())
    {
        return model;
    }
    match chr.target_type() {
        Some("usb-serial") => "usb-serial",
        Some("pci-serial") => "pci-serial",
        Some("isa-debug") => "isa-debugcon",
        _ => "isa-serial",
    }
}

/// `-chardev` + `-device` for each `<serial>`.
pub fn build_serials(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for serial in &def.devices.serials {
        let alias = super::alias_of(&serial.info);
        let id = format!("char{alias}");
        build_chardev(cmd, serial, &id, ctx, config, false)?;
        let model = serial_model(serial);
        let mut props = Props::new()
            .str("driver", model)
            .str("chardev", id)
            .str("id", alias);
        if model == "isa-serial" {
            if let Some(port) = serial.target_port() {
                props = props.uint("index", port.into());
            }
        }
        let props = super::address_props(props, &serial.info, def);
        device(cmd, props);
    }
    Ok(())
}

/// `-chardev` + `isa-parallel` for each `<parallel>`.
pub fn build_parallels(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for parallel in &def.devices.parallels {
        let alias = super::alias_of(&parallel.info);
        let id = format!("char{alias}");
        build_chardev(cmd, parallel, &id, ctx, config, true)?;
        device(
            cmd,
            Props::new()
                .str("driver", "isa-parallel")
                .str("chardev", id)
                .str("id", alias),
        );
    }
    Ok(())
}

/// The `virtserialport` (or `virtconsole`) of a virtio channel or console.
pub fn virtio_port_props(def: &Domain, chr: &ChrDevice, driver: &str) -> Props {
    let alias = super::alias_of(&chr.info);
    let mut props = super::address_props(Props::new().str("driver", driver), &chr.info, def)
        .str("chardev", format!("char{alias}"))
        .str("id", alias);
    if let Some(name) = chr.target.as_ref().and_then(|target| target.name.clone()) {
        props = props.str("name", name);
    }
    props
}

/// `<channel>`: virtio ports and user-network guest forwards.
pub fn build_channels(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for channel in &def.devices.channels {
        let alias = super::alias_of(&channel.info);
        let id = format!("char{alias}");
        match channel.target_type() {
            Some("virtio") => {
                build_chardev(cmd, channel, &id, ctx, config, false)?;
                device(cmd, virtio_port_props(def, channel, "virtserialport"));
            }
            Some("guestfwd") => {
                build_chardev(cmd, channel, &id, ctx, config, false)?;
                let target = channel.target.clone().unwrap_or_default();
                let forward = Props::new().str(
                    "str",
                    format!(
                        "tcp:{}:{}-chardev:{id}",
                        target.address.unwrap_or_default(),
                        target.port.unwrap_or(0)
                    ),
                );
                cmd.opt(
                    "-netdev",
                    Props::new()
                        .str("type", "user")
                        .array("guestfwd", vec![super::props::Prop::Object(forward)])
                        .str("id", alias)
                        .to_json(),
                );
            }
            Some("xen") | None => {}
            Some(other) => {
                return Err(unsupported_config(format!(
                    "unsupported channel target type '{other}'"
                )))
            }
        }
    }
    Ok(())
}

/// `<console>`: a serial console is the serial port itself; virtio consoles are
/// `virtconsole` ports.
pub fn build_consoles(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for (index, console) in def.devices.consoles.iter().enumerate() {
        match console.target_type() {
            Some("virtio") => {
                let alias = super::alias_of(&console.info);
                let id = format!("char{alias}");
                build_chardev(cmd, console, &id, ctx, config, false)?;
                device(cmd, virtio_port_props(def, console, "virtconsole"));
            }
            Some("serial") | None if index == 0 => {}
            _ => {}
        }
    }
    Ok(())
}

/// The smart card on the CCID controller: the host's card (NSS), certificates, or a
/// character device passing a card through.
pub fn build_smartcards(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    use virt_xml::domain::enums::SmartcardMode;
    let Some(card) = def.devices.smartcards.first() else {
        return Ok(());
    };
    let alias = super::alias_of(&card.info);
    let props = match card.mode {
        Some(SmartcardMode::Host) | None => Props::new()
            .str("driver", "ccid-card-emulated")
            .str("backend", "nss-emulated"),
        Some(SmartcardMode::HostCertificates) => {
            let cert = |index: usize| card.certificates.get(index).cloned().unwrap_or_default();
            Props::new()
                .str("driver", "ccid-card-emulated")
                .str("backend", "certificates")
                .str("cert1", cert(0))
                .str("cert2", cert(1))
                .str("cert3", cert(2))
                .str(
                    "db",
                    card.database
                        .clone()
                        .unwrap_or_else(|| "/etc/pki/nssdb".into()),
                )
        }
        Some(SmartcardMode::Passthrough) => {
            let chr = ChrDevice {
                chr_type: card.chr_type,
                sources: card.sources.clone(),
                protocol: card.protocol.clone(),
                ..Default::default()
            };
            let id = format!("char{alias}");
            build_chardev(cmd, &chr, &id, ctx, config, false)?;
            Props::new()
                .str("driver", "ccid-card-passthru")
                .str("chardev", id)
        }
    };
    let controller = match &card.info.address {
        Some(virt_xml::domain::Address::Ccid { controller, .. }) => *controller,
        _ => 0,
    };
    let controller_alias = def
        .devices
        .controllers
        .iter()
        .find(|c| {
            c.controller_type == Some(ControllerType::Ccid) && c.index.unwrap_or(0) == controller
        })
        .and_then(|c| c.info.alias_name().map(str::to_string))
        .unwrap_or_else(|| format!("ccid{controller}"));
    device(
        cmd,
        props
            .str("id", alias)
            .str("bus", format!("{controller_alias}.0")),
    );
    Ok(())
}

/// Where the swtpm the driver starts for a domain's emulated TPM listens: the context's
/// path, else libvirt's `<run dir>/<short name>-swtpm.sock`.
pub fn swtpm_socket(ctx: &super::BuildContext) -> String {
    ctx.swtpm_socket
        .clone()
        .unwrap_or_else(|| format!("{}/{}-swtpm.sock", ctx.channel_dir, ctx.short_name()))
}

/// The TPM: an emulator's socket (`-tpmdev emulator`: the swtpm the driver starts, or an
/// external one) or the host's TPM device (`-tpmdev passthrough`), then the TIS/CRB device.
pub fn build_tpms(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &super::BuildContext,
) -> Result<(), Error> {
    use virt_xml::domain::enums::{TpmBackend, TpmModel};
    for tpm in &def.devices.tpms {
        let alias = super::alias_of(&tpm.info);
        let backend = tpm.backend.clone().unwrap_or_default();
        let tpmdev = format!("tpm-{alias}");
        let value = match backend.backend_type {
            Some(TpmBackend::External) => {
                let path = backend
                    .source
                    .as_ref()
                    .and_then(|source| source.path.clone())
                    .unwrap_or_default();
                cmd.opt(
                    "-chardev",
                    format!("socket,id=chrtpm,path={}", escape_option(&path)),
                );
                format!("emulator,id={tpmdev},chardev=chrtpm")
            }
            Some(TpmBackend::Passthrough) => {
                let path = backend
                    .device
                    .as_ref()
                    .and_then(|device| device.path.clone())
                    .unwrap_or_else(|| "/dev/tpm0".into());
                let name = path.rsplit('/').next().unwrap_or("tpm0");
                format!(
                    "passthrough,id={tpmdev},path={},cancel-path={}",
                    escape_option(&path),
                    escape_option(&format!("/sys/class/tpm/{name}/device/cancel"))
                )
            }
            Some(TpmBackend::Emulator) | None => {
                cmd.opt(
                    "-chardev",
                    format!(
                        "socket,id=chrtpm,path={}",
                        escape_option(&swtpm_socket(ctx))
                    ),
                );
                format!("emulator,id={tpmdev},chardev=chrtpm")
            }
        };
        cmd.opt("-tpmdev", value);
        let model = match tpm.model {
            Some(TpmModel::TpmCrb) => "tpm-crb",
            Some(TpmModel::TpmSpapr) => "tpm-spapr",
            Some(TpmModel::SpaprTpmProxy) => "spapr-tpm-proxy",
            _ => "tpm-tis",
        };
        device(
            cmd,
            super::address_props(
                Props::new()
                    .str("driver", model)
                    .str("tpmdev", tpmdev)
                    .str("id", alias),
                &tpm.info,
                def,
            ),
        );
    }
    Ok(())
}

/// An integer written in C's bases (`0x08`, `010`, `8`), or -1 for "any".
fn c_integer(text: Option<&str>) -> i64 {
    let Some(text) = text
        .map(str::trim)
        .filter(|text| !text.is_empty() && *text != "-1")
    else {
        return -1;
    };
    let parsed = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        i64::from_str_radix(&text[1..], 8)
    } else {
        text.parse()
    };
    parsed.unwrap_or(-1)
}

/// A USB version `J.M` as the BCD number USB descriptors carry (`2.0` → 0x0200).
fn usb_version_bcd(text: Option<&str>) -> i64 {
    let Some((major, minor)) = text.and_then(|text| text.split_once('.')) else {
        return -1;
    };
    let (Ok(major_value), Ok(mut minor_value)) = (major.parse::<i64>(), minor.parse::<i64>())
    else {
        return -1;
    };
    if minor.len() == 1 {
        minor_value *= 10;
    }
    ((major_value / 10) << 12)
        | ((major_value % 10) << 8)
        | ((minor_value / 10) << 4)
        | (minor_value % 10)
}

/// The `usb-redir` filter of `<redirfilter>`: `class:vendor:product:version:allow` rules.
fn redir_filter(def: &Domain) -> Option<String> {
    let filter = def.devices.redirfilter.as_ref()?;
    let rule = |value: i64, width: usize| {
        if value < 0 {
            "-1".to_string()
        } else {
            format!("0x{value:0width$X}")
        }
    };
    Some(
        filter
            .usbdevs
            .iter()
            .map(|usbdev| {
                format!(
                    "{}:{}:{}:{}:{}",
                    rule(c_integer(usbdev.class.as_deref()), 2),
                    rule(c_integer(usbdev.vendor.as_deref()), 4),
                    rule(c_integer(usbdev.product.as_deref()), 4),
                    rule(usb_version_bcd(usbdev.version.as_deref()), 4),
                    u8::from(usbdev.allow.is_some_and(|allow| allow.is_yes()))
                )
            })
            .collect::<Vec<_>>()
            .join("|"),
    )
}

/// USB redirection: a chardev (SPICE's usbredir channel, or a socket) and `usb-redir`.
pub fn build_redirdevs(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &DriverConfig,
) -> Result<(), Error> {
    for redirdev in &def.devices.redirdevs {
        let alias = super::alias_of(&redirdev.info);
        let id = format!("char{alias}");
        let chr = ChrDevice {
            chr_type: redirdev.chr_type,
            sources: redirdev.sources.clone(),
            protocol: redirdev.protocol.clone(),
            ..Default::default()
        };
        build_chardev(cmd, &chr, &id, ctx, config, false)?;
        let props = Props::new()
            .str("driver", "usb-redir")
            .str("chardev", id)
            .str("id", alias)
            .opt_str("filter", redir_filter(def))
            .opt_uint("bootindex", redirdev.info.boot_order().map(u64::from));
        device(cmd, super::address_props(props, &redirdev.info, def));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usb_filter_numbers() {
        assert_eq!(c_integer(Some("0x08")), 8);
        assert_eq!(c_integer(Some("-1")), -1);
        assert_eq!(c_integer(None), -1);
        assert_eq!(usb_version_bcd(Some("2.0")), 0x0200);
        assert_eq!(usb_version_bcd(Some("1.10")), 0x0110);
        assert_eq!(usb_version_bcd(Some("1.1")), 0x0110);
    }
}
