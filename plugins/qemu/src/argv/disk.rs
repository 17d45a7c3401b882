//! Disks: one `-blockdev` per layer of each image chain (a protocol node `libvirt-N-storage`
//! and a format node `libvirt-N-format`) and the guest device (`ide-hd`, `scsi-hd`,
//! `virtio-blk-pci`, `usb-storage`, `floppy`, ...). The same property builders serve disk
//! hotplug over QMP (`blockdev-add`, `device_add`).

use virt_xml::domain::disk::{BackingStore, DiskSource, Encryption, StorageAuth};
use virt_xml::domain::enums::*;
use virt_xml::domain::{Address, Disk, DiskBus, Domain};

use super::command::CommandLine;
use super::props::{Prop, Props};
use super::{device, pci_address_props, secrets, BuildContext};
use crate::error::unsupported_config;
use virt_plugin_sdk::types::Error;

/// One layer of a disk's image chain, as QEMU sees it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub storage_type: StorageType,
    pub source: DiskSource,
    pub format: Option<StorageFormat>,
    pub readonly: bool,
    /// The chain below ends here on purpose (`<backingStore/>`): QEMU must not look further.
    pub terminated: bool,
    /// The disk's own image (not a backing image).
    pub top: bool,
    /// The qcow2 metadata cache limit of this layer, in bytes.
    pub metadata_cache_bytes: Option<u64>,
}

/// The layers of a disk, top first; empty for a drive without media.
pub fn disk_layers(disk: &Disk) -> Vec<Layer> {
    let Some(source) = disk.source.clone() else {
        return Vec::new();
    };
    // A vhost-user disk is served by another process: QEMU has no block nodes for it.
    if disk.disk_type == Some(StorageType::Vhostuser) {
        return Vec::new();
    }
    let nvme = disk.disk_type == Some(StorageType::Nvme) && source.address.is_some();
    if source.path().is_none() && source.protocol.is_none() && !nvme {
        return Vec::new();
    }
    let mut layers = vec![Layer {
        storage_type: disk.actual_type(),
        source,
        format: disk.driver.as_ref().and_then(|driver| driver.format),
        readonly: disk.readonly,
        terminated: false,
        top: true,
        metadata_cache_bytes: disk
            .driver
            .as_ref()
            .and_then(|driver| driver.metadata_cache.as_ref())
            .and_then(|cache| cache.max_size.as_ref())
            .map(|size| size.0),
    }];
    let mut backing: Option<&BackingStore> = disk.backing_store.as_ref();
    while let Some(store) = backing {
        match (&store.source, store.storage_type) {
            (Some(source), Some(storage_type)) => {
                layers.push(Layer {
                    storage_type,
                    source: source.clone(),
                    format: store.format.as_ref().and_then(|format| format.format_type),
                    readonly: true,
                    terminated: false,
                    top: false,
                    metadata_cache_bytes: store
                        .format
                        .as_ref()
                        .and_then(|format| format.metadata_cache.as_ref())
                        .and_then(|cache| cache.max_size.as_ref())
                        .map(|size| size.0),
                });
                backing = store.backing_store.as_deref();
            }
            _ => {
                if let Some(last) = layers.last_mut() {
                    last.terminated = true;
                }
                break;
            }
        }
    }
    layers
}

/// The persistent reservation manager of a SCSI LUN: an unmanaged one's id and socket (the
/// managed one needs qemu-pr-helper, which this driver does not start).
fn reservations_manager(disk: &Disk) -> Result<Option<(String, String)>, Error> {
    let Some(reservations) = disk
        .source
        .as_ref()
        .and_then(|source| source.reservations.as_ref())
    else {
        return Ok(None);
    };
    if reservations.managed.is_some_and(|managed| managed.is_yes()) {
        return Err(unsupported_config(
            "managed persistent reservations need qemu-pr-helper, which this driver does not start",
        ));
    }
    let path = reservations
        .source
        .as_ref()
        .and_then(|source| source.path.clone())
        .ok_or_else(|| unsupported_config("unmanaged reservations need a socket path"))?;
    Ok(Some((
        format!("pr-helper-{}", super::alias_of(&disk.info)),
        path,
    )))
}

/// An SD card: QEMU only has `-drive if=sd` for it.
fn sd_drive(disk: &Disk) -> String {
    let mut value = String::new();
    let layers = disk_layers(disk);
    if let Some(layer) = layers.first() {
        let path = layer
            .source
            .file
            .clone()
            .or_else(|| layer.source.dev.clone())
            .unwrap_or_default();
        value.push_str(&format!(
            "file={},format={},",
            super::escape_option(&path),
            layer.format.unwrap_or(StorageFormat::Raw).as_str()
        ));
    }
    let index = disk
        .target_dev()
        .and_then(super::prepare::disk_name_index)
        .unwrap_or(0);
    value.push_str(&format!("if=sd,index={index}"));
    if disk.readonly {
        value.push_str(",readonly=on");
    }
    if !layers.is_empty() {
        let driver = disk.driver.as_ref();
        if let Some(cache) = driver.and_then(|driver| driver.cache) {
            value.push_str(&format!(",cache={}", cache.as_str()));
        }
        if let Some(cor) = driver.and_then(|driver| driver.copy_on_read) {
            value.push_str(if cor.is_on() {
                ",copy-on-read=on"
            } else {
                ",copy-on-read=off"
            });
        }
        if let Some(discard) = driver.and_then(|driver| driver.discard) {
            value.push_str(&format!(",discard={}", discard.as_str()));
        }
        if let Some(detect) = driver.and_then(|driver| driver.detect_zeroes) {
            value.push_str(&format!(",detect-zeroes={}", detect.as_str()));
        }
        if let Some(io) = driver.and_then(|driver| driver.io) {
            value.push_str(&format!(",aio={}", io.as_str()));
        }
    }
    value
}

/// Whether the firmware is loaded as pflash (and named on `-machine`).
pub fn has_pflash(def: &Domain) -> bool {
    def.os
        .as_ref()
        .and_then(|os| os.loader.as_ref())
        .is_some_and(|loader| loader.loader_type == Some(LoaderType::Pflash))
}

/// The file of a pflash firmware's variable store, when it is a local file.
pub fn nvram_path(def: &Domain, nvram_dir: &str) -> Option<String> {
    nvram_layer(def, nvram_dir)
        .filter(|layer| layer.storage_type == StorageType::File)
        .and_then(|layer| layer.source.file)
}

/// The NVRAM image of a pflash firmware: the one the definition names, else (for a
/// read-only loader that keeps state) `<nvram dir>/<name>_VARS.fd`.
pub fn nvram_layer(def: &Domain, nvram_dir: &str) -> Option<Layer> {
    let os = def.os.as_ref()?;
    let loader = os.loader.as_ref()?;
    let (storage_type, source) = match &os.nvram {
        Some(nvram) if nvram.source.is_some() => (
            nvram.storage_type.unwrap_or(StorageType::File),
            nvram.source.clone().unwrap_or_default(),
        ),
        Some(nvram) if nvram.path.is_some() => (
            StorageType::File,
            DiskSource {
                file: nvram.path.clone(),
                ..DiskSource::default()
            },
        ),
        _ if loader.readonly.is_some_and(|readonly| readonly.is_yes())
            && !loader.stateless.is_some_and(|stateless| stateless.is_yes()) =>
        {
            (
                StorageType::File,
                DiskSource {
                    file: Some(format!("{nvram_dir}/{}_VARS.fd", def.name())),
                    ..DiskSource::default()
                },
            )
        }
        _ => return None,
    };
    Some(Layer {
        storage_type,
        source,
        format: Some(StorageFormat::Raw),
        readonly: false,
        terminated: false,
        top: true,
        metadata_cache_bytes: None,
    })
}

/// The firmware's pflash images as block nodes (`libvirt-pflash0-*` for the code,
/// `libvirt-pflash1-*` for the variables).
pub fn build_pflash(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    nvram_dir: &str,
) -> Result<(), Error> {
    if !has_pflash(def) {
        return Ok(());
    }
    let Some(loader) = def.os.as_ref().and_then(|os| os.loader.as_ref()) else {
        return Ok(());
    };
    let no_disk = Disk::default();
    let code = Layer {
        storage_type: StorageType::File,
        source: DiskSource {
            file: loader.path.clone(),
            ..DiskSource::default()
        },
        format: Some(StorageFormat::Raw),
        readonly: loader.readonly.is_some_and(|readonly| readonly.is_yes()),
        terminated: false,
        top: true,
        metadata_cache_bytes: None,
    };
    let layers = std::iter::once(code).chain(nvram_layer(def, nvram_dir));
    for (index, layer) in layers.enumerate() {
        let storage = format!("libvirt-pflash{index}-storage");
        let format = format!("libvirt-pflash{index}-format");
        secret_objects(cmd, ctx, &no_disk, &layer, &storage)?;
        cmd.opt(
            "-blockdev",
            storage_props(&no_disk, &layer, &storage)?.to_json(),
        );
        cmd.opt(
            "-blockdev",
            format_props(&no_disk, &layer, &format, &storage, None)?.to_json(),
        );
    }
    Ok(())
}

/// The `-machine` words naming the pflash nodes.
pub fn pflash_machine_props(def: &Domain, nvram_dir: &str) -> String {
    if !has_pflash(def) {
        return String::new();
    }
    let mut value = ",pflash0=libvirt-pflash0-format".to_string();
    if nvram_layer(def, nvram_dir).is_some() {
        value.push_str(",pflash1=libvirt-pflash1-format");
    }
    value
}

/// Node indexes libvirt assigns at start: disks last to first, each chain top to bottom.
pub fn number_nodes(def: &Domain) -> Vec<Vec<u32>> {
    let mut next = 1;
    let mut numbers = vec![Vec::new(); def.devices.disks.len()];
    for (index, disk) in def.devices.disks.iter().enumerate().rev() {
        // SD cards are legacy drives without block nodes.
        if disk.target_bus() == Some(DiskBus::Sd) {
            continue;
        }
        // A drive without media still takes a number.
        let layers = disk_layers(disk).len().max(1) as u32;
        numbers[index] = (next..next + layers).collect();
        next += layers;
    }
    numbers
}

fn cache_flags(disk: &Disk) -> Option<(bool, bool, bool)> {
    // (write-back, direct, no-flush)
    match disk.driver.as_ref().and_then(|driver| driver.cache)? {
        DiskCache::Writeback => Some((true, false, false)),
        DiskCache::None => Some((true, true, false)),
        DiskCache::Writethrough => Some((false, false, false)),
        DiskCache::Directsync => Some((false, true, false)),
        DiskCache::Unsafe => Some((true, false, true)),
    }
}

fn cache_props(disk: &Disk) -> Option<Props> {
    cache_flags(disk).map(|(_, direct, no_flush)| {
        Props::new()
            .bool("direct", direct)
            .bool("no-flush", no_flush)
    })
}

/// The protocol node of one layer.
pub fn storage_props(disk: &Disk, layer: &Layer, node_name: &str) -> Result<Props, Error> {
    let source = &layer.source;
    let mut props = match layer.storage_type {
        StorageType::File | StorageType::Block => {
            let path = source
                .file
                .clone()
                .or_else(|| source.dev.clone())
                .unwrap_or_default();
            let driver = if layer.storage_type == StorageType::Block {
                if disk.device == Some(DiskDevice::Cdrom) && is_host_cdrom(&path) {
                    "host_cdrom"
                } else {
                    "host_device"
                }
            } else {
                "file"
            };
            let mut props = Props::new().str("driver", driver).str("filename", path);
            if let Some(io) = disk.driver.as_ref().and_then(|driver| driver.io) {
                props = props.str("aio", io.as_str());
            }
            props
        }
        StorageType::Dir => Props::new()
            .str("driver", "vvfat")
            .str("dir", source.dir.clone().unwrap_or_default())
            .bool("floppy", disk.device == Some(DiskDevice::Floppy))
            .bool("rw", false),
        StorageType::Network => network_props(disk, layer, node_name)?,
        // A PCI NVMe controller QEMU drives itself through VFIO.
        StorageType::Nvme => {
            let address = source
                .address
                .as_ref()
                .map(|address| &address.0)
                .ok_or_else(|| unsupported_config("NVMe disk without a PCI address"))?;
            Props::new()
                .str("driver", "nvme")
                .str(
                    "device",
                    format!(
                        "{:04x}:{:02x}:{:02x}.{}",
                        address.domain, address.bus, address.slot, address.function
                    ),
                )
                .uint("namespace", source.namespace.unwrap_or(1))
        }
        other => {
            return Err(unsupported_config(format!(
                "disk type '{}' is not supported by this driver",
                other.as_str()
            )))
        }
    };
    props = props.str("node-name", node_name);
    if let Some(cache) = cache_props(disk) {
        props = props.object("cache", cache);
    }
    Ok(props.bool("auto-read-only", true).str("discard", "unmap"))
}

/// A host CD-ROM drive (libvirt asks the kernel; the sandbox cannot, so the name decides).
fn is_host_cdrom(path: &str) -> bool {
    path == "/dev/cdrom"
}

/// The credentials of a layer: its source's, or for the disk's own image the disk's
/// (`<auth>` directly under `<disk>`, libvirt's older place for it).
pub fn layer_auth<'a>(disk: &'a Disk, layer: &'a Layer) -> Option<&'a StorageAuth> {
    layer
        .source
        .auth
        .as_ref()
        .or_else(|| disk.auth.as_ref().filter(|_| layer.top))
}

/// The encryption of a layer, found as [`layer_auth`] finds credentials.
pub fn layer_encryption<'a>(disk: &'a Disk, layer: &'a Layer) -> Option<&'a Encryption> {
    layer
        .source
        .encryption
        .as_ref()
        .or_else(|| disk.encryption.as_ref().filter(|_| layer.top))
}

/// How QEMU decrypts a layer.
enum Decryption {
    /// QEMU's own LUKS: a `luks` format node, or a qcow2 node's `encrypt`.
    Qemu(&'static str),
    /// librbd decrypts (`encrypt` of the rbd protocol node), `luks` or `luks2`.
    Librbd(String),
}

fn decryption(encryption: &Encryption) -> Result<Decryption, Error> {
    let format = encryption.format.as_deref().unwrap_or("");
    match (encryption.engine.as_deref(), format) {
        (Some("librbd"), "luks" | "luks2") => Ok(Decryption::Librbd(format.to_string())),
        (None | Some("qemu"), "luks") => Ok(Decryption::Qemu("luks")),
        (_, "qcow" | "default") => Err(unsupported_config(
            "old qcow/qcow2 encryption is not supported",
        )),
        (engine, format) => Err(unsupported_config(format!(
            "encryption format '{format}' with engine '{}' is not supported",
            engine.unwrap_or("qemu")
        ))),
    }
}

/// Whether a disk's nodes need secret objects (credentials, a passphrase or HTTP cookies),
/// which only a start creates so far.
pub fn uses_secrets(disk: &Disk) -> bool {
    disk_layers(disk).iter().any(|layer| {
        layer_auth(disk, layer).is_some()
            || layer_encryption(disk, layer).is_some()
            || cookie_header(&layer.source).is_some()
    })
}

/// The secret object of a layer's credentials (`libvirt-N-storage-auth-secret0`).
pub fn auth_secret_id(storage_node: &str) -> String {
    format!("{storage_node}-auth-secret0")
}

/// The secret object of a layer's passphrase (`libvirt-N-format-encryption-secret0`).
pub fn encryption_secret_id(format_node: &str) -> String {
    format!("{format_node}-encryption-secret0")
}

/// The secret object of a layer's HTTP cookies (`libvirt-N-storage-httpcookie-secret0`).
pub fn cookie_secret_id(storage_node: &str) -> String {
    format!("{storage_node}-httpcookie-secret0")
}

/// The `Cookie:` header of an HTTP source (`name=value; name2=value2`), passed to QEMU as a
/// secret as libvirt does, since cookies may carry credentials.
fn cookie_header(source: &DiskSource) -> Option<String> {
    let cookies = &source.cookies.as_ref()?.cookies;
    (!cookies.is_empty()).then(|| {
        cookies
            .iter()
            .map(|cookie| {
                format!(
                    "{}={}",
                    cookie.name.as_deref().unwrap_or(""),
                    cookie.value.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The format node that goes with a storage node.
fn format_node_of(storage_node: &str) -> String {
    storage_node
        .strip_suffix("-storage")
        .map_or_else(|| storage_node.to_string(), |n| format!("{n}-format"))
}

pub fn network_props(disk: &Disk, layer: &Layer, node_name: &str) -> Result<Props, Error> {
    let source = &layer.source;
    let auth = layer_auth(disk, layer);
    let host = source.hosts.first();
    let default_port = match source.protocol {
        Some(NetProtocol::Gluster) => 24007,
        Some(NetProtocol::Nbd) => 10809,
        Some(NetProtocol::Http) => 80,
        Some(NetProtocol::Https) => 443,
        Some(NetProtocol::Ftp) => 21,
        Some(NetProtocol::Ftps) => 990,
        Some(NetProtocol::Tftp) => 69,
        _ => 0,
    };
    let server = |host: &virt_xml::domain::disk::SourceHost| -> Props {
        match host.transport {
            Some(HostTransport::Unix) => Props::new()
                .str("type", "unix")
                .str("path", host.socket.clone().unwrap_or_default()),
            _ => {
                let props = Props::new()
                    .str("type", "inet")
                    .str("host", host.name.clone().unwrap_or_default());
                props.str("port", host.port.unwrap_or(default_port).to_string())
            }
        }
    };
    match source.protocol {
        Some(NetProtocol::Nbd) => {
            let host = host.ok_or_else(|| unsupported_config("nbd disk needs a host"))?;
            let server = server(host);
            Ok(Props::new()
                .str("driver", "nbd")
                .object("server", server)
                .opt_str("export", source.name.clone()))
        }
        Some(
            NetProtocol::Http
            | NetProtocol::Https
            | NetProtocol::Ftp
            | NetProtocol::Ftps
            | NetProtocol::Tftp,
        ) => {
            let protocol = source.protocol.map(NetProtocol::as_str).unwrap_or("http");
            let host = host.ok_or_else(|| unsupported_config("network disk needs a host"))?;
            let mut url = format!(
                "{protocol}://{}:{}",
                host.name.clone().unwrap_or_default(),
                host.port.unwrap_or(default_port)
            );
            let name = source.name.clone().unwrap_or_default();
            if !name.starts_with('/') {
                url.push('/');
            }
            url.push_str(&name);
            if let Some(query) = &source.query {
                url.push('?');
                url.push_str(query);
            }
            let mut props = Props::new().str("driver", protocol).str("url", url);
            if let Some(auth) = auth {
                props = props
                    .opt_str("username", auth.username.clone())
                    .str("password-secret", auth_secret_id(node_name));
            }
            if matches!(
                source.protocol,
                Some(NetProtocol::Https | NetProtocol::Ftps)
            ) {
                props = props.opt_bool(
                    "sslverify",
                    source
                        .ssl
                        .as_ref()
                        .and_then(|ssl| ssl.verify)
                        .map(|verify| verify.is_yes()),
                );
            }
            if cookie_header(source).is_some() {
                props = props.str("cookie-secret", cookie_secret_id(node_name));
            }
            props = props
                .opt_uint(
                    "timeout",
                    source
                        .timeout
                        .as_ref()
                        .and_then(|timeout| timeout.seconds)
                        .filter(|seconds| *seconds > 0),
                )
                .opt_uint(
                    "readahead",
                    source
                        .readahead
                        .as_ref()
                        .and_then(|readahead| readahead.size)
                        .filter(|size| *size > 0),
                );
            Ok(props)
        }
        Some(NetProtocol::Gluster) => {
            let name = source.name.clone().unwrap_or_default();
            let (volume, path) = name.split_once('/').unwrap_or((&name, ""));
            let servers = source
                .hosts
                .iter()
                .map(|host| Prop::Object(server(host)))
                .collect();
            Ok(Props::new()
                .str("driver", "gluster")
                .str("volume", volume)
                .str("path", path)
                .array("server", servers)
                .uint("debug", 4))
        }
        Some(NetProtocol::Iscsi) => {
            let host = host.ok_or_else(|| unsupported_config("iSCSI disk needs a host"))?;
            let name = source.name.clone().unwrap_or_default();
            let (target, lun) = match name.split_once('/') {
                Some((target, lun)) => (target.to_string(), lun.parse::<u64>().unwrap_or(0)),
                None => (name, 0),
            };
            let host_name = host.name.clone().unwrap_or_default();
            let portal = if host_name.contains(':') {
                format!("[{host_name}]:{}", host.port.unwrap_or(3260))
            } else {
                format!("{host_name}:{}", host.port.unwrap_or(3260))
            };
            let mut props = Props::new()
                .str("driver", "iscsi")
                .str("portal", portal)
                .str("target", target)
                .uint("lun", lun)
                .str("transport", "tcp");
            if let Some(auth) = auth {
                props = props
                    .opt_str("user", auth.username.clone())
                    .str("password-secret", auth_secret_id(node_name));
            }
            Ok(props.opt_str(
                "initiator-name",
                source
                    .initiator
                    .as_ref()
                    .and_then(|initiator| initiator.iqn.as_ref())
                    .and_then(|iqn| iqn.name.clone()),
            ))
        }
        Some(NetProtocol::Rbd) => {
            let name = source.name.clone().unwrap_or_default();
            let (pool, image) = name.split_once('/').unwrap_or(("", &name));
            let mut props = Props::new()
                .str("driver", "rbd")
                .str("pool", pool)
                .str("image", image)
                .opt_str(
                    "snapshot",
                    source
                        .snapshot
                        .as_ref()
                        .and_then(|snapshot| snapshot.name.clone()),
                )
                .opt_str(
                    "conf",
                    source
                        .config
                        .as_ref()
                        .and_then(|config| config.file.clone()),
                );
            if !source.hosts.is_empty() {
                let servers = source
                    .hosts
                    .iter()
                    .map(|host| {
                        Prop::Object(
                            Props::new()
                                .str("host", host.name.clone().unwrap_or_default())
                                .str("port", host.port.unwrap_or(6789).to_string()),
                        )
                    })
                    .collect();
                props = props.array("server", servers);
            }
            if let Some(auth) = auth {
                props = props
                    .opt_str("user", auth.username.clone())
                    .array(
                        "auth-client-required",
                        vec![Prop::Str("cephx".into()), Prop::Str("none".into())],
                    )
                    .str("key-secret", auth_secret_id(node_name));
            }
            if let Some(encryption) = layer_encryption(disk, layer) {
                if let Decryption::Librbd(format) = decryption(encryption)? {
                    props = props.object(
                        "encrypt",
                        Props::new().str("format", format).str(
                            "key-secret",
                            encryption_secret_id(&format_node_of(node_name)),
                        ),
                    );
                }
            }
            Ok(props)
        }
        other => Err(unsupported_config(format!(
            "disk protocol '{}' is not supported by this driver",
            other.map_or("none", NetProtocol::as_str)
        ))),
    }
}

/// The format node of one layer.
pub fn format_props(
    disk: &Disk,
    layer: &Layer,
    node_name: &str,
    storage_node: &str,
    backing: Option<&str>,
) -> Result<Props, Error> {
    let mut props = Props::new()
        .str("node-name", node_name)
        .bool("read-only", layer.readonly);
    let driver = disk.driver.as_ref();
    if let Some(discard) = driver.and_then(|driver| driver.discard) {
        props = props.str("discard", discard.as_str());
    }
    if let Some(detect) = driver
        .and_then(|driver| driver.detect_zeroes)
        .filter(|_| layer.top)
    {
        // "unmap" needs discard=unmap; without it libvirt asks for plain "on".
        let value = match (detect, driver.and_then(|driver| driver.discard)) {
            (DiskDetectZeroes::Unmap, discard) if discard != Some(DiskDiscard::Unmap) => "on",
            (detect, _) => detect.as_str(),
        };
        props = props.str("detect-zeroes", value);
    }
    if let Some(cache) = cache_props(disk) {
        props = props.object("cache", cache);
    }
    let format = match layer.format.unwrap_or(StorageFormat::Raw) {
        StorageFormat::Fat | StorageFormat::Iso => StorageFormat::Raw,
        other => other,
    };
    let luks = match layer_encryption(disk, layer).map(decryption).transpose()? {
        Some(Decryption::Qemu(luks)) => Some(luks),
        _ => None,
    };
    let key_secret = encryption_secret_id(node_name);
    match (luks, format) {
        (Some(luks), StorageFormat::Raw) => {
            props = props.str("driver", luks).str("key-secret", key_secret);
        }
        (Some(luks), format) => {
            props = props.str("driver", format.as_str()).object(
                "encrypt",
                Props::new()
                    .str("format", luks)
                    .str("key-secret", key_secret),
            );
        }
        (None, format) => props = props.str("driver", format.as_str()),
    }
    if format == StorageFormat::Qcow2 {
        if let Some(bytes) = layer.metadata_cache_bytes {
            props = props.uint("cache-size", bytes);
        }
    }
    props = props.str("file", storage_node);
    if matches!(
        format,
        StorageFormat::Qcow2
            | StorageFormat::Qcow
            | StorageFormat::Qed
            | StorageFormat::Vmdk
            | StorageFormat::Vpc
    ) {
        match backing {
            Some(node) => props = props.str("backing", node),
            None if layer.terminated => props.push("backing", Prop::Null),
            None => {}
        }
    }
    Ok(props)
}

/// The `-blockdev` objects of a disk, bottom layer first (QEMU needs the backing nodes
/// before the nodes that use them).
pub fn blockdev_objects(disk: &Disk, node_indexes: &[u32]) -> Result<Vec<Props>, Error> {
    let layers = disk_layers(disk);
    let mut objects = Vec::new();
    for position in (0..layers.len()).rev() {
        let index = node_indexes
            .get(position)
            .copied()
            .unwrap_or(position as u32 + 1);
        let storage = format!("libvirt-{index}-storage");
        let format = format!("libvirt-{index}-format");
        let backing = node_indexes
            .get(position + 1)
            .filter(|_| position + 1 < layers.len())
            .map(|below| format!("libvirt-{below}-format"));
        objects.push(storage_props(disk, &layers[position], &storage)?);
        objects.push(format_props(
            disk,
            &layers[position],
            &format,
            &storage,
            backing.as_deref(),
        )?);
    }
    Ok(objects)
}

/// The top format node of a disk, which the device uses as its drive.
pub fn top_node(node_indexes: &[u32]) -> Option<String> {
    node_indexes
        .first()
        .map(|index| format!("libvirt-{index}-format"))
}

/// The guest-visible device of a disk.
pub fn device_props(
    def: &Domain,
    disk: &Disk,
    drive: Option<&str>,
    bootindex: Option<u32>,
) -> Result<Props, Error> {
    let alias = super::alias_of(&disk.info);
    let cdrom = disk.device == Some(DiskDevice::Cdrom);
    let bus = disk.target_bus().unwrap_or(DiskBus::Ide);
    let mut props = Props::new();
    let mut device_id = None;
    let mut removable = None;
    match bus {
        DiskBus::Ide | DiskBus::Sata => {
            props = props.str("driver", if cdrom { "ide-cd" } else { "ide-hd" });
        }
        DiskBus::Scsi => {
            let driver = match disk.device {
                Some(DiskDevice::Lun) => "scsi-block",
                _ if cdrom => "scsi-cd",
                _ => "scsi-hd",
            };
            props = props.str("driver", driver);
            if disk.device != Some(DiskDevice::Lun) {
                device_id = Some(
                    disk.serial
                        .clone()
                        .unwrap_or_else(|| format!("drive-{alias}")),
                );
            }
        }
        DiskBus::Virtio => {
            props = props.str("driver", virtio_blk_driver(disk));
            props = virtio_options(props, disk.driver.as_ref().map(|driver| &driver.virtio));
            let driver = disk.driver.as_ref();
            if let Some(iothread) = driver.and_then(|driver| driver.iothread) {
                props = props.str("iothread", format!("iothread{iothread}"));
            }
            if let Some(ioeventfd) = driver.and_then(|driver| driver.ioeventfd) {
                props = props.bool("ioeventfd", ioeventfd.is_on());
            }
            if let Some(event_idx) = driver.and_then(|driver| driver.event_idx) {
                props = props.bool("event_idx", event_idx.is_on());
            }
            if disk.device == Some(DiskDevice::Lun)
                && disk.disk_type != Some(StorageType::Vhostuser)
            {
                // SCSI commands pass through to the LUN.
                props = props.bool("scsi", true);
            }
            if let Some(queues) = driver.and_then(|driver| driver.queues) {
                props = props.uint("num-queues", queues.into());
            }
            if let Some(size) = driver.and_then(|driver| driver.queue_size) {
                props = props.uint("queue-size", size.into());
            }
            props = pci_address_props(props, &disk.info, def);
        }
        DiskBus::Usb => {
            props = props.str("driver", "usb-storage");
            removable = Some(
                disk.target
                    .as_ref()
                    .and_then(|target| target.removable)
                    .is_some_and(|r| r.is_on()),
            );
        }
        DiskBus::Fdc => {
            props = props.str("driver", "floppy");
        }
        other => {
            return Err(unsupported_config(format!(
                "unsupported disk bus '{}' with device setup",
                other.as_str()
            )))
        }
    }
    if bus != DiskBus::Virtio {
        props = drive_address_props(def, disk, props)?;
    }
    if let Some(device_id) = device_id {
        props = props.str("device_id", device_id);
    }
    if disk.shareable {
        props = props.bool("share-rw", true);
    }
    if let Some((chardev, _)) = vhost_user_chardev(disk) {
        props = props.str("chardev", chardev);
    } else if let Some(drive) = drive {
        props = props.str("drive", drive);
    }
    props = props.str("id", alias);
    if disk.device != Some(DiskDevice::Floppy) {
        if let Some(bootindex) = bootindex {
            props = props.uint("bootindex", bootindex.into());
        }
    }
    if let Some(blockio) = &disk.blockio {
        props = props.opt_uint(
            "logical_block_size",
            blockio.logical_block_size.map(u64::from),
        );
        props = props.opt_uint(
            "physical_block_size",
            blockio.physical_block_size.map(u64::from),
        );
    }
    if let Some(wwn) = &disk.wwn {
        let value = u64::from_str_radix(wwn.trim_start_matches("0x"), 16).map_err(|_| {
            crate::error::invalid_arg(format!("Failed to parse wwn '{wwn}' as number"))
        })?;
        props = props.uint("wwn", value);
    }
    if let Some(rate) = disk.target.as_ref().and_then(|target| target.rotation_rate) {
        props = props.uint("rotation_rate", rate.into());
    }
    props = props
        .opt_str("vendor", disk.vendor.clone())
        .opt_str("product", disk.product.clone());
    if let Some(removable) = removable {
        props = props.bool("removable", removable);
    }
    if disk.device != Some(DiskDevice::Lun) {
        if let Some((write_back, _, _)) = cache_flags(disk) {
            props = props.str("write-cache", if write_back { "on" } else { "off" });
        }
    }
    if let Some(geometry) = &disk.geometry {
        props = props.opt_uint("cyls", geometry.cyls.map(u64::from));
        props = props.opt_uint("heads", geometry.heads.map(u64::from));
        props = props.opt_uint("secs", geometry.secs.map(u64::from));
        props = props.opt_str("bios-chs-trans", geometry.trans.clone());
    }
    if let Some(serial) = &disk.serial {
        props = props.str("serial", serial.replace(' ', "\\ "));
    }
    let driver = disk.driver.as_ref();
    let write_policy = driver.and_then(|driver| driver.error_policy);
    let read_policy = driver
        .and_then(|driver| driver.rerror_policy)
        .or(write_policy.filter(|policy| *policy != DiskErrorPolicy::Enospace));
    if let Some(policy) = write_policy {
        props = props.str("werror", policy.as_str());
    }
    if let Some(policy) = read_policy {
        props = props.str("rerror", policy.as_str());
    }
    Ok(props)
}

fn virtio_blk_driver(disk: &Disk) -> &'static str {
    let vhost_user = disk.disk_type == Some(StorageType::Vhostuser);
    match (disk.model, vhost_user) {
        (Some(DiskModel::VirtioTransitional), false) => "virtio-blk-pci-transitional",
        (Some(DiskModel::VirtioNonTransitional), false) => "virtio-blk-pci-non-transitional",
        (_, false) => "virtio-blk-pci",
        (Some(DiskModel::VirtioTransitional), true) => "vhost-user-blk-pci-transitional",
        (Some(DiskModel::VirtioNonTransitional), true) => "vhost-user-blk-pci-non-transitional",
        (_, true) => "vhost-user-blk-pci",
    }
}

/// The chardev of a vhost-user disk (`chr-vu-<alias>`), when the disk is one.
pub fn vhost_user_chardev(disk: &Disk) -> Option<(String, String)> {
    if disk.disk_type != Some(StorageType::Vhostuser) {
        return None;
    }
    let alias = super::alias_of(&disk.info);
    let source = disk.source.clone().unwrap_or_default();
    let mut value = format!(
        "socket,id=chr-vu-{alias},path={}",
        super::escape_option(source.path.as_deref().unwrap_or(""))
    );
    if let Some(reconnect) = source
        .reconnect
        .as_ref()
        .filter(|reconnect| reconnect.enabled.is_some_and(|enabled| enabled.is_yes()))
    {
        value.push_str(&format!(",reconnect={}", reconnect.timeout.unwrap_or(0)));
    }
    Some((format!("chr-vu-{alias}"), value))
}

/// The virtio options every virtio device takes (`iommu_platform`, `ats`, `packed`,
/// `page-per-vq`).
pub fn virtio_options(
    props: Props,
    options: Option<&virt_xml::domain::disk::VirtioOptions>,
) -> Props {
    let Some(options) = options else { return props };
    let mut props = props;
    if let Some(iommu) = options.iommu {
        props = props.bool("iommu_platform", iommu.is_on());
    }
    if let Some(ats) = options.ats {
        props = props.bool("ats", ats.is_on());
    }
    if let Some(packed) = options.packed {
        props = props.bool("packed", packed.is_on());
    }
    if let Some(page_per_vq) = options.page_per_vq {
        props = props.bool("page-per-vq", page_per_vq.is_on());
    }
    props
}

/// `bus`/`unit` (IDE, SATA, floppy) or `bus`/`channel`/`scsi-id`/`lun` (SCSI) or the USB port.
fn drive_address_props(def: &Domain, disk: &Disk, props: Props) -> Result<Props, Error> {
    let bus = disk.target_bus().unwrap_or(DiskBus::Ide);
    match (&disk.info.address, bus) {
        (
            Some(Address::Drive {
                controller,
                bus: drive_bus,
                target,
                unit,
            }),
            DiskBus::Ide,
        ) => {
            // The i440fx board's built-in IDE controller is QEMU's "ide", whatever alias the
            // definition gave it (libvirt's `qemuDomainHasBuiltinIDE`).
            let builtin = super::prepare::chipset(def) == super::prepare::Chipset::I440fx;
            let controller_alias = if builtin {
                "ide".to_string()
            } else {
                controller_alias(def, ControllerType::Ide, *controller)
                    .unwrap_or_else(|| "ide".into())
            };
            Ok(props
                .str("bus", format!("{controller_alias}.{drive_bus}"))
                .uint("unit", (*unit).into())
                .extend_if(*target != 0, Props::new()))
        }
        (
            Some(Address::Drive {
                controller, unit, ..
            }),
            DiskBus::Sata,
        ) => {
            let controller_alias = controller_alias(def, ControllerType::Sata, *controller)
                .unwrap_or_else(|| format!("sata{controller}"));
            let props = props.str("bus", format!("{controller_alias}.{unit}"));
            Ok(props)
        }
        (
            Some(Address::Drive {
                controller,
                bus: drive_bus,
                target,
                unit,
            }),
            DiskBus::Scsi,
        ) => Ok(scsi_address_props(
            def,
            [*controller, *drive_bus, *target, *unit],
            props,
        )),
        (Some(Address::Drive { unit, .. }), DiskBus::Fdc) => Ok(props.uint("unit", (*unit).into())),
        (Some(Address::Usb { bus, port }), DiskBus::Usb) => Ok(props
            .str("bus", format!("usb.{bus}"))
            .opt_str("port", port.clone())),
        (None, DiskBus::Usb) => Ok(props.str("bus", "usb.0").str("port", "1")),
        _ => Ok(props),
    }
}

/// Where a device sits on a SCSI controller, from its drive address
/// (`[controller, bus, target, unit]`): `bus` and `scsi-id` on an LSI controller,
/// `bus`, `channel`, `scsi-id` and `lun` on the others.
pub fn scsi_address_props(def: &Domain, address: [u32; 4], props: Props) -> Props {
    let [controller, drive_bus, target, unit] = address;
    let controller_alias = controller_alias(def, ControllerType::Scsi, controller)
        .unwrap_or_else(|| format!("scsi{controller}"));
    if scsi_controller_model(def, controller).as_deref() == Some("lsilogic") {
        props
            .str("bus", format!("{controller_alias}.{drive_bus}"))
            .uint("scsi-id", unit.into())
    } else {
        props
            .str("bus", format!("{controller_alias}.0"))
            .uint("channel", drive_bus.into())
            .uint("scsi-id", target.into())
            .uint("lun", unit.into())
    }
}

trait ExtendIf {
    fn extend_if(self, condition: bool, other: Props) -> Props;
}

impl ExtendIf for Props {
    fn extend_if(self, condition: bool, other: Props) -> Props {
        if condition {
            self.extend(other)
        } else {
            self
        }
    }
}

/// The alias of the controller of `kind` with `index`, if the definition has one.
pub(super) fn controller_alias(def: &Domain, kind: ControllerType, index: u32) -> Option<String> {
    def.devices
        .controllers
        .iter()
        .find(|controller| {
            controller.controller_type == Some(kind) && controller.index.unwrap_or(0) == index
        })
        .and_then(|controller| controller.info.alias_name().map(str::to_string))
}

fn scsi_controller_model(def: &Domain, index: u32) -> Option<String> {
    def.devices
        .controllers
        .iter()
        .find(|controller| {
            controller.controller_type == Some(ControllerType::Scsi)
                && controller.index.unwrap_or(0) == index
        })
        .and_then(|controller| controller.model.clone())
}

/// The boot index of each disk and interface, from per-device `<boot order>` or from
/// `<os><boot dev>` (the first disk, CD-ROM, floppy or NIC of each kind in order).
pub fn boot_indexes(def: &Domain) -> (Vec<Option<u32>>, Vec<Option<u32>>) {
    let disks = &def.devices.disks;
    let nets = &def.devices.interfaces;
    let per_device = disks.iter().any(|disk| disk.info.boot_order().is_some())
        || nets.iter().any(|net| net.info.boot_order().is_some())
        || def
            .devices
            .hostdevs
            .iter()
            .any(|hostdev| hostdev.info.boot_order().is_some())
        || def
            .devices
            .redirdevs
            .iter()
            .any(|redirdev| redirdev.info.boot_order().is_some());
    if per_device {
        return (
            disks.iter().map(|disk| disk.info.boot_order()).collect(),
            nets.iter().map(|net| net.info.boot_order()).collect(),
        );
    }
    let mut disk_indexes = vec![None; disks.len()];
    let mut net_indexes = vec![None; nets.len()];
    let boot_devices: Vec<BootDevice> = def
        .os
        .as_ref()
        .map(|os| os.boot.iter().filter_map(|boot| boot.dev).collect())
        .unwrap_or_default();
    // No <boot dev> at all means "hd" for a machine without direct kernel boot.
    let boot_devices =
        if boot_devices.is_empty() && def.os.as_ref().is_none_or(|os| os.kernel.is_none()) {
            vec![BootDevice::Hd]
        } else {
            boot_devices
        };
    // Each kind's boot index is its position in the `<boot dev>` list; the first disk (or
    // NIC) of the kind takes it (libvirt's qemuProcessPrepareDeviceBootorder).
    let position = |kind: BootDevice| {
        boot_devices
            .iter()
            .rposition(|boot| *boot == kind)
            .map(|index| index as u32 + 1)
    };
    let (mut cdrom, mut hd, mut floppy) = (
        position(BootDevice::Cdrom),
        position(BootDevice::Hd),
        position(BootDevice::Fd),
    );
    for (index, disk) in disks.iter().enumerate() {
        disk_indexes[index] = match disk.device {
            Some(DiskDevice::Cdrom) => cdrom.take(),
            Some(DiskDevice::Floppy) => floppy.take(),
            None | Some(DiskDevice::Disk | DiskDevice::Lun) => hd.take(),
        };
    }
    if !nets.is_empty() {
        net_indexes[0] = position(BootDevice::Network);
    }
    (disk_indexes, net_indexes)
}

/// The secret objects a layer's nodes use, before them: its credentials', then its
/// passphrase's.
fn secret_objects(
    cmd: &mut CommandLine,
    ctx: &BuildContext,
    disk: &Disk,
    layer: &Layer,
    storage_node: &str,
) -> Result<(), Error> {
    let auth =
        layer_auth(disk, layer).and_then(|auth| secrets::auth_lookup(auth, layer.source.protocol));
    let encryption = layer_encryption(disk, layer).and_then(secrets::encryption_lookup);
    let ids = [
        auth_secret_id(storage_node),
        encryption_secret_id(&format_node_of(storage_node)),
    ];
    for (lookup, id) in [auth, encryption].into_iter().zip(ids) {
        if let Some(lookup) = lookup {
            secrets::add_object(cmd, ctx, &lookup, &id)?;
        }
    }
    if let Some(cookies) = cookie_header(&layer.source) {
        let id = cookie_secret_id(storage_node);
        cmd.opt(
            "-object",
            secrets::object(&id, cookies.as_bytes(), &ctx.secret_wrap)?.to_json(),
        );
    }
    Ok(())
}

/// Every disk: its `-blockdev` chain then its `-device` (floppy boot order goes on the
/// floppy controller).
pub fn build_disks(
    cmd: &mut CommandLine,
    def: &Domain,
    ctx: &BuildContext,
    config: &super::DriverConfig,
) -> Result<(), Error> {
    let numbers = if ctx.disk_nodes.len() == def.devices.disks.len() {
        ctx.disk_nodes.clone()
    } else {
        number_nodes(def)
    };
    let (boot, _) = boot_indexes(def);
    let mut floppy_boot = (None, None);
    for (index, disk) in def.devices.disks.iter().enumerate() {
        if disk.device == Some(DiskDevice::Floppy) {
            if let (Some(order), Some(Address::Drive { unit, .. })) =
                (boot[index], &disk.info.address)
            {
                if *unit == 0 {
                    floppy_boot.0 = Some(order);
                } else {
                    floppy_boot.1 = Some(order);
                }
            }
        }
    }
    let has_floppy = def
        .devices
        .disks
        .iter()
        .any(|disk| disk.target_bus() == Some(DiskBus::Fdc));
    if has_floppy && super::prepare::chipset(def) == super::prepare::Chipset::Q35 {
        // Q35 has no floppy controller of its own: it is a device.
        device(
            cmd,
            Props::new()
                .str("driver", "isa-fdc")
                .opt_uint("bootindexA", floppy_boot.0.map(u64::from))
                .opt_uint("bootindexB", floppy_boot.1.map(u64::from)),
        );
    } else {
        if let Some(order) = floppy_boot.0 {
            cmd.opt("-global", format!("isa-fdc.bootindexA={order}"));
        }
        if let Some(order) = floppy_boot.1 {
            cmd.opt("-global", format!("isa-fdc.bootindexB={order}"));
        }
    }
    for (index, disk) in def.devices.disks.iter().enumerate() {
        if disk.target_bus() == Some(DiskBus::Sd) {
            cmd.opt("-drive", sd_drive(disk));
            continue;
        }
        let nodes = &numbers[index];
        let pr_manager = reservations_manager(disk)?;
        if let Some((id, path)) = &pr_manager {
            cmd.opt(
                "-object",
                Props::new()
                    .str("qom-type", "pr-manager-helper")
                    .str("id", id.clone())
                    .str("path", path.clone())
                    .to_json(),
            );
        }
        let mut objects = blockdev_objects(disk, nodes)?;
        // The top image's protocol node (the last but one) asks the manager.
        if let (Some((id, _)), Some(position)) = (&pr_manager, objects.len().checked_sub(2)) {
            let storage = &mut objects[position];
            let at = storage
                .0
                .iter()
                .position(|(key, _)| key == "node-name")
                .unwrap_or(storage.0.len());
            storage
                .0
                .insert(at, ("pr-manager".to_string(), Prop::Str(id.clone())));
        }
        // NBD layers that use TLS (their source's `tls`, else the driver's `nbd_tls`) get
        // client credentials right before their node.
        let layers = disk_layers(disk);
        for (position, mut object) in objects.into_iter().enumerate() {
            let layer = layers.get(layers.len().saturating_sub(1 + position / 2));
            let nbd_tls = position % 2 == 0
                && object.get_str("driver") == Some("nbd")
                && layer.is_some_and(|layer| {
                    layer.source.tls.map_or(config.nbd_tls, |tls| tls.is_yes())
                });
            if nbd_tls {
                let node = object.get_str("node-name").unwrap_or("").to_string();
                let creds = format!("obj{node}_tls0");
                super::tls_creds_objects(
                    cmd,
                    ctx,
                    super::tls_creds_props(&creds, &config.nbd_tls_x509_cert_dir, false, true),
                    config.nbd_tls_x509_secret_uuid.as_deref(),
                    &format!("{creds}-secret0"),
                )?;
                let at = object
                    .0
                    .iter()
                    .position(|(key, _)| key == "node-name")
                    .unwrap_or(object.0.len());
                let mut tls = vec![("tls-creds".to_string(), Prop::Str(creds))];
                if let Some(hostname) = layer.and_then(|layer| layer.source.tls_hostname.clone()) {
                    tls.push(("tls-hostname".to_string(), Prop::Str(hostname)));
                }
                object.0.splice(at..at, tls);
            }
            if position % 2 == 0 {
                if let Some(layer) = layer {
                    let storage = object.get_str("node-name").unwrap_or("").to_string();
                    secret_objects(cmd, ctx, disk, layer, &storage)?;
                }
            }
            cmd.opt("-blockdev", object.to_json());
        }
        if let Some((_, chardev)) = vhost_user_chardev(disk) {
            cmd.opt("-chardev", chardev);
        }
        let mut drive = if disk_layers(disk).is_empty() {
            None
        } else {
            top_node(nodes)
        };
        // Copy-on-read is a filter node above the chain.
        if let (Some(top), true) = (
            drive.clone(),
            disk.driver
                .as_ref()
                .and_then(|driver| driver.copy_on_read)
                .is_some_and(|on| on.is_on()),
        ) {
            let node = format!("libvirt-CoR-{}", disk.target_dev().unwrap_or(""));
            cmd.opt(
                "-blockdev",
                Props::new()
                    .str("driver", "copy-on-read")
                    .str("node-name", node.clone())
                    .str("file", top)
                    .str("discard", "unmap")
                    .to_json(),
            );
            drive = Some(node);
        }
        let props = device_props(def, disk, drive.as_deref(), boot[index])?;
        device(cmd, props);
    }
    Ok(())
}
