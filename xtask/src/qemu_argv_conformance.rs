//! `cargo xtask qemu-argv-conformance [-v] [DIR] [CASE...]`: how many of libvirt's
//! `qemuxml2argvdata` cases the QEMU plugin turns into the same QEMU command line.
//!
//! DIR is libvirt's test data folder (default `../shared/libvirt-testdata`). Each case with a
//! `NAME.x86_64-latest.args` golden file is read from `NAME.xml`, completed as the plugin
//! completes a definition (virt-xml's post-parse, then the plugin's QEMU defaults, addresses
//! and aliases), built with the newest x86_64 capabilities libvirt tests with
//! (`qemucapabilitiesdata/caps_<newest>.x86_64.xml`, machine aliases stripped as libvirt's
//! test does for "latest"), and compared word for word from the emulator on; the environment
//! is not compared (it is the test harness's).
//!
//! Documented normalizations cover what the plugin cannot do the same way: libvirt hands
//! QEMU listening sockets and files as descriptors it opened (`fd=1729`, `/dev/fdset/N` with
//! `-add-fd`), the plugin names the paths; both sides are rewritten to the same placeholders
//! (libvirt too names the sockets of vhost-user NICs and disks and of TPMs; it opens a
//! passed-through TPM and its cancel file, the plugin names them; it opens /dev/vhost-vsock
//! and /dev/vhost-scsi and passes `vhostfd`, QEMU opens them itself for the plugin; the
//! same for vDPA devices, which libvirt passes as `/dev/fdset/N`).
//! A file libvirt opened is truncated or appended to by libvirt (as `append` asks) and QEMU
//! always appends to the descriptor (`append=on`, `logappend=on`), while QEMU opens the named
//! path itself as the definition's `append` says: the `append`/`logappend` words of a
//! descriptor-backed file are dropped on both sides. A VNC server without a fixed port gets
//! one libvirt reserved (5900 in its tests); the plugin lets QEMU take the first free one from
//! 5900 (`to=99`), a word dropped from ours (SPICE, which cannot pick its own, gets ports the
//! host reserves; here libvirt's test ports 5901 and 5902, as its harness gives). libvirt gives
//! a vhost-user-gpu process and QEMU the two ends of a socket pair (QEMU's as `fd=`); the
//! plugin starts vhost-user-gpu on a socket path QEMU connects to (`chr-vu-video*`).
//!
//! The plugin is built with the driver configuration libvirt's harness uses (hugetlbfs
//! mounts, TLS certificate directories, and the `qemu.conf` switches it turns on around
//! particular cases), see [`harness_config`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rvirt_driver_qemu::argv::{
    self, command::shell_split, net, prepare, secrets, BuildContext, DriverConfig, HugetlbfsMount,
};

/// The value libvirt's test harness gives every secret (`fakeSecretGetValue`).
const LIBVIRT_TEST_SECRET: &[u8] = b"AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A";
/// The TLS key passphrase secret libvirt's harness configures around its TLS secret cases.
const TLS_SECRET_UUID: &str = "6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea";
use rvirt_driver_qemu::capabilities::{CpuModel, MachineType, QemuCaps};
use virt_xml::domain::enums::InterfaceType;
use virt_xml::domain::Domain;

use crate::conformance::CaseArgs;

pub fn run(args: &[String]) -> ExitCode {
    let args = CaseArgs::parse(args);
    let dir = &args.dir;
    let data = dir.join("qemuxml2argvdata");
    let caps_path = match newest_caps(&dir.join("qemucapabilitiesdata")) {
        Some(path) => path,
        None => {
            eprintln!(
                "no x86_64 capabilities in {}",
                dir.join("qemucapabilitiesdata").display()
            );
            return ExitCode::from(2);
        }
    };
    let caps = match load_libvirt_caps(&caps_path) {
        Ok(caps) => caps,
        Err(error) => {
            eprintln!("{}: {error}", caps_path.display());
            return ExitCode::from(2);
        }
    };
    let cases = match args.cases(&data, ".x86_64-latest.args", |case| {
        data.join(format!("{case}.xml")).is_file()
    }) {
        Ok(cases) => cases,
        Err(status) => return status,
    };
    let mut passed = 0;
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for case in &cases {
        match check_case(&data, case, &caps) {
            Ok(()) => passed += 1,
            Err(reason) => {
                let category = reason.lines().next().unwrap_or("").to_string();
                if args.verbose {
                    println!("FAIL {case}: {reason}");
                }
                failures.entry(category).or_default().push(case.clone());
            }
        }
    }
    let failed = cases.len() - passed;
    if !args.verbose {
        for (category, names) in &failures {
            println!("{:>4}  {category}: {}", names.len(), names.join(" "));
        }
    }
    println!(
        "qemu argv conformance ({}, caps {}): {passed} passed, {failed} failed of {} cases",
        data.display(),
        caps_path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or(""),
        cases.len()
    );
    ExitCode::SUCCESS
}

/// `<disk type='volume'>` as libvirt's harness resolves it with its fake storage driver
/// (qemuxml2argvtest.c): pool NAME is `storagepoolxml2xmlin/NAME.xml` beside the argv data, a
/// volume `KIND+NAME` (plain `NAME`: a block volume) has the path `/some/KIND/device/NAME`.
fn resolve_volumes(data: &Path, def: &mut Domain) -> Result<(), String> {
    use rvirt_driver_qemu::argv::volume_source::{self, FoundVolume, VolumeKind};
    let pools = data
        .parent()
        .unwrap_or(Path::new("."))
        .join("storagepoolxml2xmlin");
    let volume_disks = def
        .devices
        .disks
        .iter_mut()
        .filter(|disk| disk.disk_type == Some(virt_xml::domain::enums::StorageType::Volume));
    for disk in volume_disks {
        let Some(source) = disk.source.as_ref() else {
            continue;
        };
        let (Some(pool), Some(volume)) = (source.pool.clone(), source.volume.clone()) else {
            continue;
        };
        let text = std::fs::read_to_string(pools.join(format!("{pool}.xml")))
            .map_err(|error| format!("storage pool '{pool}': {error}"))?;
        let pool = virt_xml::storage::StoragePool::parse(&text)
            .map_err(|error| format!("storage pool '{pool}': {error}"))?;
        let (kind, name) = volume.split_once('+').unwrap_or(("block", &volume));
        let found = FoundVolume {
            path: format!("/some/{kind}/device/{name}"),
            kind: match kind {
                "file" => VolumeKind::File,
                "dir" => VolumeKind::Dir,
                _ => VolumeKind::Block,
            },
        };
        volume_source::translate(disk, &pool, &found)
            .map_err(|error| format!("volume error\n{}", error.message))?;
    }
    Ok(())
}

fn check_case(data: &Path, case: &str, caps: &QemuCaps) -> Result<(), String> {
    let xml = std::fs::read_to_string(data.join(format!("{case}.xml")))
        .map_err(|error| format!("read: {error}"))?;
    let expected_text = std::fs::read_to_string(data.join(format!("{case}.x86_64-latest.args")))
        .map_err(|error| format!("read: {error}"))?;
    let mut def = Domain::parse(&xml).map_err(|error| format!("parse error\n{error}"))?;
    let genid_generated = def.genid == Some(None);
    def.post_parse()
        .map_err(|error| format!("post-parse error\n{error}"))?;
    if genid_generated {
        // libvirt's harness mocks its random bytes (0, 1, 2, ...): the genid it generates is
        // the version 4 UUID made of those.
        let mut bytes: [u8; 16] = std::array::from_fn(|i| i as u8);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        def.genid = Some(Some(virt_core::Uuid::from_bytes(bytes)));
    }
    resolve_volumes(data, &mut def)?;
    prepare::apply_qemu_defaults(&mut def, caps)
        .map_err(|error| format!("qemu defaults error\n{}", error.message))?;
    prepare::assign_addresses(&mut def)
        .map_err(|error| format!("address error\n{}", error.message))?;
    prepare::prepare_for_start(&mut def);
    prepare::assign_aliases(&mut def);
    let config = harness_config(case);
    argv::devices::assign_spice_ports(&mut def, &config, &mut argv::devices::pretend_spice_port)
        .map_err(|error| format!("port error\n{}", error.message))?;
    let short = format!("-1-{}", def.name().chars().take(20).collect::<String>());
    let ctx = BuildContext {
        domain_dir: format!("/tmp/lib/domain-{short}"),
        monitor_socket: format!("/tmp/lib/domain-{short}/monitor.sock"),
        channel_dir: format!("/tmp/channel/domain-{short}"),
        privileged: true,
        start_paused: true,
        master_key: true,
        tap_fds: def
            .devices
            .interfaces
            .iter()
            .filter_map(|interface| {
                interface
                    .info
                    .alias_name()
                    .map(|alias| (alias.to_string(), vec![3]))
            })
            .collect(),
        // libvirt's mock opens "vhost-net" for every virtio NIC on a tap, one descriptor
        // per queue numbered from 44 (stderr + 42).
        vhost_fds: def
            .devices
            .interfaces
            .iter()
            .filter(|interface| {
                matches!(
                    interface.interface_type,
                    Some(InterfaceType::Bridge | InterfaceType::Network | InterfaceType::Ethernet)
                ) && net::model_of(interface).starts_with("virtio")
            })
            .filter_map(|interface| {
                let fds = (44..).take(net::vhost_queue_count(interface)).collect();
                Some((interface.info.alias_name()?.to_string(), fds))
            })
            .collect(),
        // libvirt's harness gives every SCSI host device on an adapter /dev/sg0.
        scsi_generic: def
            .devices
            .hostdevs
            .iter()
            .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("scsi"))
            .filter_map(|hostdev| Some((hostdev.info.alias_name()?.to_string(), "/dev/sg0".into())))
            .collect(),
        // libvirt's harness: a fake secret driver answers every lookup with one value, and
        // its mocked random bytes (0, 1, 2, ...) are the master key and every IV.
        secret_values: secrets::referenced(&def)
            .into_iter()
            .chain([secrets::SecretLookup::uuid(TLS_SECRET_UUID, "tls")])
            .map(|lookup| (lookup, LIBVIRT_TEST_SECRET.to_vec()))
            .collect(),
        secret_wrap: secrets::SecretWrap {
            master_key: (0..32).collect(),
            iv: std::array::from_fn(|i| i as u8),
        },
        // Its swtpm is not started; the emulator's socket is the mock's path.
        swtpm_socket: Some("/dev/test".into()),
        ..BuildContext::default()
    };
    let built = argv::build_with_config(&def, caps, &ctx, &config)
        .map_err(|error| format!("build error\n{}", error.message))?;
    let mut ours = vec![built.program.clone()];
    ours.extend(built.args.iter().cloned());
    let expected = drop_fd_append(normalize_libvirt(&strip_env(shell_split(&expected_text))));
    let mut ours = drop_fd_append(normalize_ours(&ours));
    for index in 1..ours.len() {
        if ours[index - 1] == "-vnc" {
            ours[index] = ours[index].replace(",to=99", "");
        }
        if ours[index - 1] == "-netdev" && ours[index].starts_with("{\"type\":\"vhost-vdpa\"") {
            if let Some(start) = ours[index].find("\"vhostdev\":\"") {
                let value_start = start + "\"vhostdev\":\"".len();
                if let Some(end) = ours[index][value_start..].find('"') {
                    ours[index].replace_range(value_start..value_start + end, "<fd>");
                }
            }
        }
        if ours[index - 1] == "-tpmdev" && ours[index].starts_with("passthrough,") {
            ours[index] = ours[index]
                .split(',')
                .map(|part| match part.split_once('=') {
                    Some((key @ ("path" | "cancel-path"), _)) => format!("{key}=<fd>"),
                    _ => part.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",");
        }
    }
    if ours == expected {
        return Ok(());
    }
    let position = ours
        .iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(expected.len()));
    let context = |words: &[String]| {
        let start = position.saturating_sub(1);
        words
            .get(start..(position + 2).min(words.len()))
            .map(|slice| slice.join(" "))
            .unwrap_or_default()
    };
    let option = expected
        .get(position.saturating_sub(1))
        .filter(|word| word.starts_with('-'))
        .cloned()
        .unwrap_or_default();
    Ok::<(), String>(()).and(Err(format!(
        "differs at {}\n  expected: {}\n  got:      {}",
        if option.is_empty() {
            expected
                .get(position)
                .cloned()
                .unwrap_or_else(|| "end".into())
        } else {
            option
        },
        context(&expected),
        context(&ours)
    )))
}

/// The driver configuration libvirt's test harness runs with (`qemuxml2argvtest.c`: its
/// hugetlbfs mounts, memory backing directory, TLS certificate directories, SPICE TLS and
/// password, the DRM render node its mocked host reports), with the `qemu.conf` switches and
/// audio environment (`QEMU_AUDIO_DRV`, `SDL_AUDIODRIVER`) it sets around particular cases.
fn harness_config(case: &str) -> DriverConfig {
    let mut config = DriverConfig {
        hugetlbfs: vec![
            HugetlbfsMount {
                page_size_kib: 2048,
                path: "/dev/hugepages2M".into(),
                default: true,
            },
            HugetlbfsMount {
                page_size_kib: 1_048_576,
                path: "/dev/hugepages1G".into(),
                default: false,
            },
        ],
        memory_backing_dir: "/var/lib/libvirt/qemu/ram".into(),
        vnc_tls_x509_cert_dir: "/etc/pki/libvirt-vnc".into(),
        chardev_tls_x509_cert_dir: "/etc/pki/libvirt-chardev".into(),
        chardev_tls_x509_verify: false,
        nbd_tls_x509_cert_dir: "/etc/pki/libvirt-nbd/dummy,path".into(),
        spice_tls: true,
        spice_tls_x509_cert_dir: "/etc/pki/libvirt-spice".into(),
        spice_password: true,
        // The render node libvirt's test host reports.
        default_rendernode: Some("/dev/dri/foo".into()),
        ..DriverConfig::default()
    };
    // The TLS key passphrase secret libvirt's harness sets around these cases.
    match case {
        "graphics-vnc-tls-secret" => config.vnc_tls_x509_secret_uuid = Some(TLS_SECRET_UUID.into()),
        "serial-tcp-tlsx509-secret-chardev" => {
            config.chardev_tls_x509_secret_uuid = Some(TLS_SECRET_UUID.into())
        }
        "disk-network-tlsx509-nbd" | "disk-network-tlsx509-nbd-hostname" => {
            config.nbd_tls_x509_secret_uuid = Some(TLS_SECRET_UUID.into())
        }
        _ => {}
    }
    match case {
        "graphics-spice-sasl" => {
            config.spice_sasl = true;
            config.spice_sasl_dir = Some("/root/.sasl2".into());
        }
        "graphics-spice-auto-socket-cfg" => config.spice_auto_unix_socket = true,
        "audio-default-sdl" => {
            config.host_audio_driver = Some("sdl".into());
            config.sdl_audio_driver = Some("esd".into());
        }
        "audio-default-vnc" => {
            config.host_audio_driver = Some("alsa".into());
            config.vnc_allow_host_audio = true;
        }
        "audio-default-nographics" => {
            config.host_audio_driver = Some("alsa".into());
            config.nographics_allow_host_audio = true;
        }
        "graphics-vnc-auto-socket-cfg" => config.vnc_auto_unix_socket = true,
        "graphics-vnc-sasl" | "graphics-vnc-tls" | "graphics-vnc-tls-secret" => {
            config.vnc_sasl = true;
            config.vnc_sasl_dir = Some("/root/.sasl2".into());
            if case != "graphics-vnc-sasl" {
                config.vnc_tls = true;
                config.vnc_tls_x509_verify = true;
            }
        }
        "serial-tcp-tlsx509-chardev"
        | "serial-tcp-tlsx509-chardev-notls"
        | "serial-tcp-tlsx509-secret-chardev" => config.chardev_tls = true,
        "serial-tcp-tlsx509-chardev-verify" => {
            config.chardev_tls = true;
            config.chardev_tls_x509_verify = true;
        }
        _ => {}
    }
    config
}

/// Drops the leading `VAR=value` words.
fn strip_env(words: Vec<String>) -> Vec<String> {
    let start = words
        .iter()
        .position(|word| word.starts_with('/'))
        .unwrap_or(0);
    words[start..].to_vec()
}

fn normalize_libvirt(words: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut iter = words.iter().peekable();
    while let Some(word) = iter.next() {
        if word == "-add-fd" {
            iter.next();
            continue;
        }
        out.push(replace_fdset(word));
    }
    out
}

fn replace_fdset(word: &str) -> String {
    // libvirt opens /dev/vhost-vsock and /dev/vhost-scsi and passes them; QEMU opens them
    // itself for the plugin.
    let word = &drop_vhostfd(word);
    if word.starts_with('{') {
        return json_fdset(word);
    }
    let mut out = String::new();
    for (index, part) in word.split(',').enumerate() {
        if index > 0 {
            out.push(',');
        }
        match part.split_once('=') {
            Some((key, value)) if value.starts_with("/dev/fdset/") => {
                out.push_str(&format!("{key}=<fd>"))
            }
            _ => out.push_str(part),
        }
    }
    out
}

/// The options of a QEMU `key=value,...` word: split at single commas (`,,` is a comma
/// inside a value).
fn split_options(word: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ',' if chars.peek() == Some(&',') => {
                chars.next();
                part.push_str(",,");
            }
            ',' => parts.push(std::mem::take(&mut part)),
            c => part.push(c),
        }
    }
    parts.push(part);
    parts
}

fn normalize_ours(words: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut previous = "";
    for word in words {
        let normalized = if previous == "-chardev"
            && word.starts_with("socket,")
            && (word.contains(",server=on") || word.starts_with("socket,id=chr-vu-video"))
            && !names_its_socket(word)
        {
            split_options(word)
                .into_iter()
                .map(|part| {
                    if part.starts_with("path=") {
                        "fd=1729".to_string()
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        } else if previous == "-chardev"
            && (word.starts_with("file,") || word.contains(",logfile="))
        {
            let file = word.starts_with("file,");
            split_options(word)
                .into_iter()
                .map(|part| {
                    if (file && part.starts_with("path=")) || part.starts_with("logfile=") {
                        format!(
                            "{}=<fd>",
                            part.split_once('=').map_or(&*part, |(key, _)| key)
                        )
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        } else {
            word.clone()
        };
        previous = word;
        out.push(normalized);
    }
    out
}

/// libvirt passes a listening socket as a descriptor except for vhost-user NICs and disks
/// and TPMs, whose chardevs name their path.
fn names_its_socket(chardev: &str) -> bool {
    chardev.split(',').any(|part| {
        part.strip_prefix("id=").is_some_and(|id| {
            id.starts_with("charnet") || id.starts_with("chardisk") || id == "chrtpm"
        })
    })
}

/// Drops `append=` of a `-chardev file` whose path is a descriptor and `logappend=` of a
/// descriptor log file (see the module doc).
fn drop_fd_append(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    for (index, word) in words.iter().enumerate() {
        if index == 0 || words[index - 1] != "-chardev" {
            out.push(word.clone());
            continue;
        }
        let file = word.starts_with("file,") && word.contains(",path=<fd>");
        let log = word.contains(",logfile=<fd>");
        out.push(
            word.split(',')
                .filter(|part| {
                    !(file && part.starts_with("append=") || log && part.starts_with("logappend="))
                })
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    out
}

/// A JSON word's `"/dev/fdset/N"` values as `"<fd>"`.
fn json_fdset(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(start) = rest.find("\"/dev/fdset/") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('"').map_or(after.len(), |end| end + 1);
        out.push_str("\"<fd>\"");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `{"driver":"vhost-...","vhostfd":"N",...}` without its descriptor.
fn drop_vhostfd(word: &str) -> String {
    if !word.starts_with("{\"driver\":\"vhost-") {
        return word.to_string();
    }
    match word.find(",\"vhostfd\":\"") {
        Some(start) => {
            let value_start = start + ",\"vhostfd\":\"".len();
            match word[value_start..].find('"') {
                Some(end) => format!("{}{}", &word[..start], &word[value_start + end + 1..]),
                None => word.to_string(),
            }
        }
        None => word.to_string(),
    }
}

/// The newest `caps_X.Y.Z.x86_64.xml`.
fn newest_caps(dir: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_string();
            let version = name.strip_prefix("caps_")?.strip_suffix(".x86_64.xml")?;
            let numbers = version
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((numbers, entry.path()))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, path)| path)
}

fn attribute(line: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}='");
    let start = line.find(&needle)? + needle.len();
    let end = line[start..].find('\'')? + start;
    Some(line[start..end].to_string())
}

fn text_of(content: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = content.find(&open)? + open.len();
    let end = content[start..].find(&format!("</{tag}>"))? + start;
    Some(content[start..end].trim().to_string())
}

/// Reads libvirt's cached capabilities (`<qemuCaps>`) into the plugin's model: TCG machine
/// types (aliases stripped, as libvirt's tests do for "latest"; `numaMemSupported`), CPU
/// models, and the flags that name QEMU device types (a flag named otherwise, such as `lsi`
/// for `lsi53c895a`, also adds the QOM type the plugin's probe would have listed).
fn load_libvirt_caps(path: &Path) -> Result<QemuCaps, String> {
    let content = std::fs::read_to_string(path).map_err(|error| error.to_string())?;
    let mut caps = QemuCaps {
        binary: text_of(&content, "emulator")
            .unwrap_or_else(|| "/usr/bin/qemu-system-x86_64".into()),
        version: text_of(&content, "version")
            .and_then(|text| text.parse().ok())
            .unwrap_or(0),
        arch: text_of(&content, "arch").unwrap_or_else(|| "x86_64".into()),
        kvm: true,
        ..QemuCaps::default()
    };
    let mut devices = BTreeSet::new();
    for line in content.lines().map(str::trim) {
        if line.starts_with("<flag ") {
            if let Some(name) = attribute(line, "name") {
                // A few flags are not named after the QOM type the plugin asks about.
                if name == "lsi" {
                    devices.insert("lsi53c895a".to_string());
                }
                devices.insert(name);
            }
        } else if line.starts_with("<machine type='tcg'") {
            let Some(name) = attribute(line, "name") else {
                continue;
            };
            let machine = MachineType {
                name,
                alias: None,
                is_default: attribute(line, "default").as_deref() == Some("yes"),
                max_cpus: attribute(line, "maxCpus")
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(1),
                hotpluggable_cpus: attribute(line, "hotplugCpus").as_deref() == Some("yes"),
                default_cpu_type: attribute(line, "defaultCPU"),
                default_ram_id: attribute(line, "defaultRAMid"),
                deprecated: attribute(line, "deprecated").as_deref() == Some("yes"),
                numa_mem_supported: attribute(line, "numaMemSupported").as_deref() == Some("yes"),
            };
            // libvirt's tests strip aliases for "latest", so `pc` stays `pc` on the command
            // line: the alias becomes a machine type of its own.
            if let Some(alias) = attribute(line, "alias") {
                caps.machines.push(MachineType {
                    name: alias,
                    is_default: false,
                    ..machine.clone()
                });
            }
            caps.machines.push(machine);
        } else if line.starts_with("<cpu type='tcg'") {
            let Some(name) = attribute(line, "name") else {
                continue;
            };
            caps.cpu_models.push(CpuModel {
                name,
                typename: attribute(line, "typename"),
                usable: attribute(line, "usable").as_deref() == Some("yes"),
                deprecated: attribute(line, "deprecated").as_deref() == Some("yes"),
            });
        }
    }
    caps.devices = devices;
    Ok(caps)
}
