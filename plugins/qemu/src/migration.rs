//! Live migration of running domains to another host: libvirt's five phases (protocol
//! version 3 with parameters) carried out with QEMU's migration stream.
//!
//! - Begin (source): the domain must run; its migratable XML and a cookie naming this host.
//! - Prepare (destination): QEMU started paused with `-incoming defer`, listening with
//!   `migrate-incoming` on a port of libvirt's migration range; for a storage copy
//!   (VIR_MIGRATE_NON_SHARED_DISK) an NBD server exporting every disk. The cookie says where.
//! - Perform (source): mirror each disk into the destination's NBD export until in sync,
//!   then `migrate`, polling `query-migrate` until the state is across and the source guest
//!   paused. Progress goes into a record that `get-job-stats` reads; `abort-job`,
//!   `start-post-copy` and speed changes come from other calls as records this loop picks up
//!   (the monitor belongs to this call while it runs).
//! - Finish (destination): wait until QEMU has loaded everything, stop the NBD server, run
//!   the guest and, with VIR_MIGRATE_PERSIST_DEST, define it; or discard it when cancelled.
//! - Confirm (source): kill the source QEMU (and undefine it with
//!   VIR_MIGRATE_UNDEFINE_SOURCE), or resume the guest when the migration was cancelled.
//!
//! A failed Perform resumes the source guest itself (libvirt does not confirm a failed
//! Perform), so a guest is never lost to a failed or aborted migration before the switch.
//! The cookie is libvirt's `<qemu-migration>` document, of which this driver writes and
//! reads the parts it uses (identity, NBD server, statistics).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail, domain_event_id as event_id,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_event_undefined_detail_type as undefined_detail,
    domain_get_job_stats_flags as job_stats_flags, domain_job_operation as job_operation,
    domain_job_type as job_type, domain_migrate_flags as flag,
    domain_migrate_max_speed_flags as speed_flags, domain_paused_reason as paused_reason,
    domain_running_reason as running_reason, domain_shutoff_reason as shutoff_reason,
    domain_state as state, drv_feature, migrate_param,
};
use virt_core::{ErrorNumber, TypedValue};
use virt_plugin_sdk::host::{events, files, jobs, ports, state as host_state};
use virt_plugin_sdk::types::{DomainRef, Error, Event, JobStats, TypedParam};
use virt_plugin_sdk::{MigrationBegun, MigrationPrepared};
use virt_xml::domain::Domain;
use virt_xml::xml::{escape_into, parse_document};

use crate::argv::disk as disk_argv;
use crate::domain::{self, Loaded};
use crate::error::{check_flags, internal, invalid_operation, qemu_error};
use crate::lifecycle::{self, job_name, StartKind};
use crate::qemu_events::Expectation;
use crate::qmp::{Monitor, QmpError};
use crate::records::{self, DomainRecord, LiveRecord, PendingStop};
use crate::space::SpaceLayout;
use crate::util::now_ms;

/// libvirt's default migration port range (`migration_port_min`/`_max` in qemu.conf); the
/// NBD server of a storage copy takes its port from the same range.
const PORT_MIN: u16 = 49152;
const PORT_MAX: u16 = 49215;
/// "No limit" in MiB/s, as libvirt reports it: QEMU's largest byte rate in MiB.
const UNLIMITED_MIB_S: u64 = (i64::MAX as u64) >> 20;
/// QEMU's default `downtime-limit`, in milliseconds.
const DEFAULT_DOWNTIME_MS: u64 = 300;
/// How often Perform looks at the migration and at requests from other calls.
const POLL_MS: u32 = 100;
/// How long Finish waits for the last of the state after the source said it is across.
const FINISH_WAIT_MS: u64 = 120_000;
/// How long the end of a disk mirror may take once the guest is paused.
const MIRROR_END_MS: u64 = 30_000;

/// The flags the phases accept.
const SUPPORTED_FLAGS: u32 = flag::LIVE
    | flag::PEER2PEER
    | flag::PERSIST_DEST
    | flag::UNDEFINE_SOURCE
    | flag::PAUSED
    | flag::NON_SHARED_DISK
    | flag::NON_SHARED_INC
    | flag::CHANGE_PROTECTION
    | flag::UNSAFE
    | flag::ABORT_ON_ERROR
    | flag::AUTO_CONVERGE
    | flag::POSTCOPY;

/// The record kind of everything this module keeps.
const RECORD: &str = "migration";

fn key(what: &str, uuid: &str) -> String {
    format!("{what}-{uuid}")
}

/// `virConnectSupportsFeature` for this driver's own features.
pub fn supports_feature(feature: i32) -> bool {
    matches!(
        feature,
        drv_feature::MIGRATION_V3
            | drv_feature::MIGRATION_P2P
            | drv_feature::MIGRATION_DIRECT
            | drv_feature::MIGRATION_PARAMS
            | drv_feature::MIGRATE_CHANGE_PROTECTION
            | drv_feature::XML_MIGRATABLE
    )
}

// ---- records ----

/// The speed and downtime limits of a domain's migrations (`migrate-setspeed`,
/// `migrate-setmaxdowntime`), kept while the domain exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Limits {
    max_speed_mib_s: u64,
    max_speed_postcopy_mib_s: u64,
    max_downtime_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_speed_mib_s: UNLIMITED_MIB_S,
            max_speed_postcopy_mib_s: 0,
            max_downtime_ms: DEFAULT_DOWNTIME_MS,
        }
    }
}

impl Limits {
    fn load(uuid: &str) -> Limits {
        records::get_json(RECORD, &key("limits", uuid)).unwrap_or_default()
    }

    fn store(&self, uuid: &str) {
        records::put_json(RECORD, &key("limits", uuid), self);
    }

    /// `migrate-set-parameters` arguments for these limits.
    fn qemu_parameters(&self) -> Value {
        let mut parameters = json!({
            "max-bandwidth": self.max_speed_mib_s.min(UNLIMITED_MIB_S) << 20,
            "downtime-limit": self.max_downtime_ms,
        });
        if self.max_speed_postcopy_mib_s > 0 {
            parameters["max-postcopy-bandwidth"] = json!(self.max_speed_postcopy_mib_s << 20);
        }
        parameters
    }
}

/// A migration's figures, as `virDomainGetJobStats` reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct JobFigures {
    operation: i32,
    /// The Perform that writes these runs (cleared when it ends).
    active: bool,
    /// The migration was started with VIR_MIGRATE_POSTCOPY.
    postcopy_allowed: bool,
    time_elapsed_ms: u64,
    setup_time_ms: Option<u64>,
    downtime_ms: Option<u64>,
    memory_total: u64,
    memory_processed: u64,
    memory_remaining: u64,
    memory_constant: u64,
    memory_normal: u64,
    memory_bps: u64,
    memory_dirty_rate: u64,
    memory_iteration: u64,
    memory_postcopy_requests: u64,
    disk_total: u64,
    disk_processed: u64,
    disk_remaining: u64,
    auto_converge_throttle: Option<u64>,
    /// QEMU's migration status (`active`, `postcopy-active`, `completed`, ...).
    status: String,
    /// The guest switched to post-copy: from then on its memory is split between the hosts,
    /// so a failure can no longer give it back to the source.
    #[serde(default)]
    postcopy_started: bool,
}

impl JobFigures {
    fn params(&self) -> Vec<virt_core::TypedParam> {
        let ull =
            |name: &str, value: u64| virt_core::TypedParam::new(name, TypedValue::ULLong(value));
        let mut params = vec![
            virt_core::TypedParam::new("operation", TypedValue::Int(self.operation)),
            ull("time_elapsed", self.time_elapsed_ms),
        ];
        if let Some(setup) = self.setup_time_ms {
            params.push(ull("setup_time", setup));
        }
        if let Some(downtime) = self.downtime_ms {
            params.push(ull("downtime", downtime));
        }
        if self.operation == job_operation::MIGRATION_IN {
            // The destination knows only what the source's cookie told it.
            return params;
        }
        params.extend([
            ull("data_total", self.memory_total + self.disk_total),
            ull(
                "data_processed",
                self.memory_processed + self.disk_processed,
            ),
            ull(
                "data_remaining",
                self.memory_remaining + self.disk_remaining,
            ),
            ull("memory_total", self.memory_total),
            ull("memory_processed", self.memory_processed),
            ull("memory_remaining", self.memory_remaining),
            ull("memory_constant", self.memory_constant),
            ull("memory_normal", self.memory_normal),
            ull("memory_bps", self.memory_bps),
            ull("memory_dirty_rate", self.memory_dirty_rate),
            ull("memory_iteration", self.memory_iteration),
            ull("memory_postcopy_requests", self.memory_postcopy_requests),
            ull("disk_total", self.disk_total),
            ull("disk_processed", self.disk_processed),
            ull("disk_remaining", self.disk_remaining),
        ]);
        if let Some(throttle) = self.auto_converge_throttle {
            params.push(virt_core::TypedParam::new(
                "auto_converge_throttle",
                TypedValue::Int(throttle as i32),
            ));
        }
        params
    }

    /// Takes in what `query-migrate` says.
    fn update_from_qemu(&mut self, info: &Value) {
        let number = |value: Option<&Value>| value.and_then(Value::as_u64).unwrap_or(0);
        if let Some(status) = info.get("status").and_then(Value::as_str) {
            self.status = status.to_string();
        }
        if let Some(total) = info.get("total-time").and_then(Value::as_u64) {
            self.time_elapsed_ms = total;
        }
        self.setup_time_ms = info
            .get("setup-time")
            .and_then(Value::as_u64)
            .or(self.setup_time_ms);
        self.downtime_ms = info
            .get("downtime")
            .and_then(Value::as_u64)
            .or(self.downtime_ms);
        if let Some(ram) = info.get("ram") {
            self.memory_total = number(ram.get("total"));
            self.memory_processed = number(ram.get("transferred"));
            self.memory_remaining = number(ram.get("remaining"));
            self.memory_constant = number(ram.get("duplicate"));
            self.memory_normal = number(ram.get("normal"));
            // QEMU's mbps is megabits per second; libvirt reports bytes per second.
            let mbps = ram.get("mbps").and_then(Value::as_f64).unwrap_or(0.0);
            self.memory_bps = (mbps * 1_000_000.0 / 8.0) as u64;
            self.memory_dirty_rate = number(ram.get("dirty-pages-rate"));
            self.memory_iteration = number(ram.get("dirty-sync-count"));
            self.memory_postcopy_requests = number(ram.get("postcopy-requests"));
        }
        self.auto_converge_throttle = info.get("cpu-throttle-percentage").and_then(Value::as_u64);
    }
}

/// What the destination keeps between Prepare and Finish.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Incoming {
    /// Ports this side reserved (the migration's, the NBD server's).
    reserved_ports: Vec<u16>,
    nbd: bool,
}

fn release_ports(ports_held: &[u16]) {
    for port in ports_held {
        ports::release(*port);
    }
}

// ---- the cookie ----

/// The parts of libvirt's `<qemu-migration>` cookie this driver uses.
#[derive(Debug, Clone, Default, PartialEq)]
struct Cookie {
    name: String,
    uuid: String,
    hostname: String,
    hostuuid: String,
    /// The destination's NBD server (a storage copy): port and the disks it exports.
    nbd: Option<(u16, Vec<(String, u64)>)>,
    /// The source's figures of the finished migration (elapsed, downtime, setup).
    statistics: Option<(u64, Option<u64>, Option<u64>)>,
}

impl Cookie {
    fn for_domain(name: &str, uuid: &str) -> Cookie {
        Cookie {
            name: name.to_string(),
            uuid: uuid.to_string(),
            hostname: local_hostname(),
            hostuuid: virt_plugin_sdk::node::host_uuid().unwrap_or_default(),
            ..Cookie::default()
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("<qemu-migration>\n");
        let mut element = |name: &str, value: &str| {
            out.push_str(&format!("  <{name}>"));
            escape_into(&mut out, value);
            out.push_str(&format!("</{name}>\n"));
        };
        element("name", &self.name);
        element("uuid", &self.uuid);
        element("hostname", &self.hostname);
        element("hostuuid", &self.hostuuid);
        if let Some((elapsed, downtime, setup)) = self.statistics {
            out.push_str("  <statistics>\n");
            out.push_str(&format!("    <time_elapsed>{elapsed}</time_elapsed>\n"));
            if let Some(downtime) = downtime {
                out.push_str(&format!("    <downtime>{downtime}</downtime>\n"));
            }
            if let Some(setup) = setup {
                out.push_str(&format!("    <setup_time>{setup}</setup_time>\n"));
            }
            out.push_str("  </statistics>\n");
        }
        if let Some((port, disks)) = &self.nbd {
            out.push_str(&format!("  <nbd port='{port}'>\n"));
            for (target, capacity) in disks {
                out.push_str("    <disk target='");
                escape_into(&mut out, target);
                out.push_str(&format!("' capacity='{capacity}'/>\n"));
            }
            out.push_str("  </nbd>\n");
        }
        out.push_str("</qemu-migration>\n");
        // libvirt's cookies are NUL-terminated strings.
        let mut bytes = out.into_bytes();
        bytes.push(0);
        bytes
    }

    fn parse(bytes: &[u8]) -> Result<Cookie, Error> {
        let end = bytes
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(bytes.len());
        let text = std::str::from_utf8(&bytes[..end])
            .map_err(|_| internal("migration cookie is not valid UTF-8"))?;
        if text.trim().is_empty() {
            return Ok(Cookie::default());
        }
        let document = parse_document(
            text,
            "(qemu_migration_cookie)",
            virt_core::ErrorDomain::QEMU,
        )
        .map_err(Error::from)?;
        let root = &document.root;
        if root.name() != "qemu-migration" {
            return Err(internal(format!(
                "migration cookie root element is '{}', expected 'qemu-migration'",
                root.name()
            )));
        }
        let text_of = |name: &str| {
            root.child(name)
                .map(|node| node.text().trim().to_string())
                .unwrap_or_default()
        };
        let nbd = match root.child("nbd") {
            Some(nbd) => {
                let port = nbd
                    .attr("port")
                    .and_then(|port| port.parse().ok())
                    .ok_or_else(|| internal("malformed nbd port in migration cookie"))?;
                let disks = nbd
                    .children_named("disk")
                    .filter_map(|disk| {
                        let target = disk.attr("target")?.to_string();
                        let capacity = disk
                            .attr("capacity")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        Some((target, capacity))
                    })
                    .collect();
                Some((port, disks))
            }
            None => None,
        };
        let statistics = root.child("statistics").map(|stats| {
            let field = |name: &str| {
                stats
                    .child(name)
                    .and_then(|node| node.text().trim().parse::<u64>().ok())
            };
            (
                field("time_elapsed").unwrap_or(0),
                field("downtime"),
                field("setup_time"),
            )
        });
        Ok(Cookie {
            name: text_of("name"),
            uuid: text_of("uuid"),
            hostname: text_of("hostname"),
            hostuuid: text_of("hostuuid"),
            nbd,
            statistics,
        })
    }
}

fn local_hostname() -> String {
    files::read("/proc/sys/kernel/hostname")
        .map(|name| String::from_utf8_lossy(&name).trim().to_string())
        .unwrap_or_default()
}

// ---- parameters and URIs ----

fn core_params(params: Vec<TypedParam>) -> Vec<virt_core::TypedParam> {
    params.into_iter().map(Into::into).collect()
}

fn string_param<'a>(params: &'a [virt_core::TypedParam], field: &str) -> Option<&'a str> {
    params.iter().find_map(|param| match &param.value {
        TypedValue::String(value) if param.field == field => Some(value.as_str()),
        _ => None,
    })
}

fn ullong_param(params: &[virt_core::TypedParam], field: &str) -> Option<u64> {
    params.iter().find_map(|param| match param.value {
        TypedValue::ULLong(value) if param.field == field => Some(value),
        _ => None,
    })
}

/// A `tcp` migration URI: libvirt's `tcp://HOST[:PORT]` or QEMU's `tcp:HOST:PORT`.
#[derive(Debug, Clone, PartialEq)]
struct TcpUri {
    host: String,
    port: Option<u16>,
}

impl TcpUri {
    fn parse(uri: &str) -> Result<TcpUri, Error> {
        let bad = || {
            qemu_error(
                ErrorNumber::INVALID_ARG,
                format!("invalid migration URI '{uri}': expected tcp://HOST[:PORT]"),
            )
        };
        let rest = uri
            .strip_prefix("tcp://")
            .or_else(|| uri.strip_prefix("tcp:"))
            .ok_or_else(|| {
                qemu_error(
                    ErrorNumber::ARGUMENT_UNSUPPORTED,
                    format!("unsupported scheme in migration URI '{uri}'"),
                )
            })?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            (host.to_string(), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let port = match port {
            Some(port) => Some(port.parse::<u16>().map_err(|_| bad())?),
            None => None,
        };
        Ok(TcpUri { host, port })
    }

    /// The host as QEMU's URIs write it (IPv6 addresses in brackets).
    fn qemu_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

// ---- Begin (source) ----

/// `virDomainMigrateBegin3Params`.
pub fn begin(
    dom: &DomainRef,
    params: Vec<TypedParam>,
    flags: u32,
) -> Result<MigrationBegun, Error> {
    check_flags("qemuDomainMigrateBegin3Params", flags, SUPPORTED_FLAGS)?;
    let params = core_params(params);
    let (domain, live) = lifecycle::running(dom)?;
    if flags & flag::POSTCOPY != 0 && flags & (flag::NON_SHARED_DISK | flag::NON_SHARED_INC) != 0 {
        // QEMU cannot copy storage after the switch to post-copy.
        virt_plugin_sdk::info!(
            "post-copy migration of '{}' with a storage copy",
            domain.record.name
        );
    }
    check_safe(&domain::live_def(&live)?, flags)?;
    let xml = match string_param(&params, migrate_param::DEST_XML) {
        Some(xml) => {
            let def = Domain::parse(xml).map_err(Error::from)?;
            let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
            if uuid != domain.record.uuid {
                return Err(qemu_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!(
                        "Target domain uuid {uuid} does not match source {}",
                        domain.record.uuid
                    ),
                ));
            }
            xml.to_string()
        }
        None => domain::migratable_def(&live)?.to_xml(),
    };
    Ok(MigrationBegun {
        cookie: Cookie::for_domain(&domain.record.name, &domain.record.uuid).to_bytes(),
        xml,
    })
}

/// Filesystems whose files the other host sees too (libvirt's `virFileIsSharedFS`).
const SHARED_FILESYSTEMS: &[&str] = &[
    "nfs",
    "nfs4",
    "gfs2",
    "ocfs2",
    "afs",
    "smb3",
    "cifs",
    "ceph",
    "gpfs",
    "fuse.glusterfs",
    "fuse.quobyte",
    "beegfs",
];
/// Shared filesystems that keep caches coherent, safe with any cache mode
/// (`virFileIsClusterFS`).
const CLUSTER_FILESYSTEMS: &[&str] = &["gfs2", "ocfs2", "ceph"];

/// The type of the filesystem holding `path`, from this host's mount table.
fn filesystem_of(mounts: &str, path: &str) -> Option<String> {
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
    mounts
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let mount_point = before.split(' ').nth(4)?.replace("\\040", " ");
            let fs_type = after.split(' ').next()?.to_string();
            let inside = path == mount_point
                || mount_point == "/"
                || path.starts_with(&format!("{mount_point}/"));
            inside.then_some((mount_point.len(), fs_type))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, fs_type)| fs_type)
}

/// libvirt's `qemuMigrationSrcIsSafe`: a writable disk the migration does not copy must be
/// on storage the destination sees too, and (unless on a cluster filesystem) not cached by
/// this host; VIR_MIGRATE_UNSAFE overrides.
fn check_safe(def: &Domain, flags: u32) -> Result<(), Error> {
    use virt_xml::domain::enums::{DiskCache, StorageType};
    if flags & flag::UNSAFE != 0 || flags & (flag::NON_SHARED_DISK | flag::NON_SHARED_INC) != 0 {
        return Ok(());
    }
    let mounts = files::read("/proc/self/mountinfo")
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    for disk in &def.devices.disks {
        let Some(path) = disk.source.as_ref().and_then(|source| source.path()) else {
            continue;
        };
        if disk.readonly || disk.shareable {
            continue;
        }
        let cache = disk.driver.as_ref().and_then(|driver| driver.cache);
        let uncached = matches!(cache, Some(DiskCache::None | DiskCache::Directsync));
        let safe = match disk.disk_type {
            Some(StorageType::Network) => true,
            _ => match filesystem_of(&mounts, path) {
                Some(fs) if CLUSTER_FILESYSTEMS.contains(&fs.as_str()) => true,
                Some(fs) if SHARED_FILESYSTEMS.contains(&fs.as_str()) => uncached,
                _ => false,
            },
        };
        if !safe {
            return Err(qemu_error(
                ErrorNumber::MIGRATE_UNSAFE,
                "Migration without shared storage is unsafe",
            ));
        }
    }
    Ok(())
}

// ---- Prepare (destination) ----

/// `virDomainMigratePrepare3Params`.
pub fn prepare(
    params: Vec<TypedParam>,
    cookie: Vec<u8>,
    flags: u32,
) -> Result<MigrationPrepared, Error> {
    check_flags("qemuDomainMigratePrepare3Params", flags, SUPPORTED_FLAGS)?;
    let params = core_params(params);
    let xml = string_param(&params, migrate_param::DEST_XML)
        .ok_or_else(|| qemu_error(ErrorNumber::INVALID_ARG, "no domain XML passed"))?;
    let source = Cookie::parse(&cookie)?;
    let local_uuid = virt_plugin_sdk::node::host_uuid().unwrap_or_default();
    if !source.hostuuid.is_empty() && source.hostuuid == local_uuid {
        return Err(internal(format!(
            "Attempt to migrate guest to the same host {local_uuid}"
        )));
    }
    let layout = SpaceLayout::current()?;
    let (mut def, _) = domain::parse_for_qemu(xml, &layout)?;
    if let Some(name) = string_param(&params, migrate_param::DEST_NAME) {
        def.name = Some(name.to_string());
    }
    let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
    let name = def.name().to_string();
    jobs::begin(&job_name(&uuid))?;
    domain::check_unique(&uuid, &name)?;
    let existing = domain::load(&uuid);
    if existing.as_ref().is_some_and(Loaded::is_active) {
        return Err(invalid_operation(format!(
            "domain '{name}' is already active"
        )));
    }
    let record = existing
        .map(|domain| domain.record)
        .unwrap_or(DomainRecord {
            uuid: uuid.clone(),
            name: name.clone(),
            ..DomainRecord::default()
        });
    let requested = string_param(&params, migrate_param::URI)
        .map(TcpUri::parse)
        .transpose()?;
    let mut incoming = Incoming::default();
    let port = match requested.as_ref().and_then(|uri| uri.port) {
        Some(port) => port,
        None => {
            let port = ports::reserve(PORT_MIN, PORT_MAX)?;
            incoming.reserved_ports.push(port);
            port
        }
    };
    let storage_copy = flags & (flag::NON_SHARED_DISK | flag::NON_SHARED_INC) != 0;
    let nbd_port = if storage_copy {
        match ports::reserve(PORT_MIN, PORT_MAX) {
            Ok(port) => {
                incoming.reserved_ports.push(port);
                Some(port)
            }
            Err(error) => {
                release_ports(&incoming.reserved_ports);
                return Err(error);
            }
        }
    } else {
        None
    };
    let listen = string_param(&params, migrate_param::LISTEN_ADDRESS)
        .map(|address| TcpUri {
            host: address.to_string(),
            port: None,
        })
        .map_or_else(|| "0.0.0.0".to_string(), |uri| uri.qemu_host());
    let postcopy = flags & flag::POSTCOPY != 0;
    let listen_uri = format!("tcp:{listen}:{port}");
    let load = |monitor: &mut Monitor, _live: &mut LiveRecord| {
        set_capabilities(monitor, postcopy, false)?;
        monitor.run("migrate-incoming", json!({ "uri": listen_uri }))?;
        Ok(())
    };
    let live = match lifecycle::start_domain(&record, def, StartKind::Migrated, true, Some(&load)) {
        Ok(live) => live,
        Err(error) => {
            release_ports(&incoming.reserved_ports);
            return Err(error);
        }
    };
    let mut exported = Vec::new();
    if let Some(nbd_port) = nbd_port {
        incoming.nbd = true;
        let started = start_nbd_server(&uuid, live.clone(), &listen, nbd_port);
        match started {
            Ok(disks) => exported = disks,
            Err(error) => {
                discard_incoming(&uuid, &incoming);
                return Err(error);
            }
        }
    }
    records::put_json(RECORD, &key("incoming", &uuid), &incoming);
    let host = match &requested {
        Some(uri) => uri.qemu_host(),
        None => local_hostname(),
    };
    let mut cookie = Cookie::for_domain(&name, &uuid);
    cookie.nbd = nbd_port.map(|port| (port, exported));
    Ok(MigrationPrepared {
        cookie: cookie.to_bytes(),
        uri: Some(format!("tcp:{host}:{port}")),
    })
}

/// The disks a storage copy moves: writable disks backed by a file or block device.
fn copied_disks(def: &Domain) -> Vec<(String, String)> {
    def.devices
        .disks
        .iter()
        .filter(|disk| {
            disk.device
                .is_none_or(|device| device == virt_xml::domain::enums::DiskDevice::Disk)
                && !disk.readonly
                && disk
                    .source
                    .as_ref()
                    .is_some_and(|source| source.path().is_some())
        })
        .filter_map(|disk| {
            let alias = disk.info.alias_name()?.to_string();
            let target = disk.target.as_ref()?.dev.clone()?;
            Some((target, alias))
        })
        .collect()
}

/// Starts the NBD server a storage copy writes into and exports every copied disk under
/// `drive-<alias>`, as libvirt names them; returns the disks and their sizes.
fn start_nbd_server(
    uuid: &str,
    mut live: LiveRecord,
    listen: &str,
    port: u16,
) -> Result<Vec<(String, u64)>, Error> {
    let domain = domain::load(uuid).ok_or_else(|| internal("the incoming domain vanished"))?;
    let def = domain::live_def(&live)?;
    let expect = Expectation::default();
    lifecycle::with_monitor(&domain, &mut live, expect, |monitor, live| {
        let host = listen.trim_start_matches('[').trim_end_matches(']');
        monitor.run(
            "nbd-server-start",
            json!({"addr": {"type": "inet", "data": {"host": host, "port": port.to_string()}}}),
        )?;
        let mut disks = Vec::new();
        for (target, alias) in copied_disks(&def) {
            let node = disk_argv::top_node(&live.nodes_of(&alias))
                .ok_or_else(|| internal(format!("no block node for disk '{target}'")))?;
            monitor.run(
                "block-export-add",
                json!({
                    "type": "nbd", "id": format!("drive-{alias}"), "node-name": node,
                    "name": format!("drive-{alias}"), "writable": true,
                }),
            )?;
            let capacity = monitor
                .run("query-block", Value::Null)
                .ok()
                .and_then(|blocks| image_size(&blocks, &node))
                .unwrap_or(0);
            disks.push((target, capacity));
        }
        Ok(disks)
    })
}

/// The virtual size of the image behind block node `node` in a `query-block` answer.
fn image_size(blocks: &Value, node: &str) -> Option<u64> {
    blocks.as_array()?.iter().find_map(|block| {
        let inserted = block.get("inserted")?;
        (inserted.get("node-name").and_then(Value::as_str) == Some(node))
            .then(|| inserted.get("image")?.get("virtual-size")?.as_u64())
            .flatten()
    })
}

/// Ends an incoming domain that will not run here: QEMU killed, records gone, ports free.
fn discard_incoming(uuid: &str, incoming: &Incoming) {
    if let Some(domain) = domain::load(uuid) {
        if let Some(mut live) = domain.live.clone() {
            if lifecycle::kill_qemu(&domain, &mut live, PendingStop::Destroyed, false).is_ok() {
                lifecycle::finalize_stop(
                    &domain,
                    &live,
                    shutoff_reason::FAILED,
                    stopped_detail::FAILED,
                );
            }
        }
    }
    release_ports(&incoming.reserved_ports);
    host_state::delete(RECORD, &key("incoming", uuid));
}

fn set_capabilities(
    monitor: &mut Monitor,
    postcopy: bool,
    auto_converge: bool,
) -> Result<(), Error> {
    // Every capability is set either way: a QEMU that arrived here by a post-copy
    // migration still has `postcopy-ram` on, which its next migration must not inherit.
    let capabilities = json!([
        {"capability": "events", "state": true},
        {"capability": "postcopy-ram", "state": postcopy},
        {"capability": "auto-converge", "state": auto_converge},
    ]);
    monitor
        .run(
            "migrate-set-capabilities",
            json!({ "capabilities": capabilities }),
        )
        .map(|_| ())
}

// ---- Perform (source) ----

/// `virDomainMigratePerform3Params` (the host runs peer-to-peer migrations itself).
pub fn perform(
    dom: &DomainRef,
    params: Vec<TypedParam>,
    cookie: Vec<u8>,
    flags: u32,
) -> Result<Vec<u8>, Error> {
    check_flags("qemuDomainMigratePerform3Params", flags, SUPPORTED_FLAGS)?;
    let params = core_params(params);
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = lifecycle::running(dom)?;
    let uri = string_param(&params, migrate_param::URI)
        .ok_or_else(|| qemu_error(ErrorNumber::INVALID_ARG, "migration URI is not given"))?;
    let target = TcpUri::parse(uri)?;
    let port = target.port.ok_or_else(|| {
        qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("migration URI '{uri}' has no port"),
        )
    })?;
    let destination = Cookie::parse(&cookie)?;
    let storage_copy = flags & (flag::NON_SHARED_DISK | flag::NON_SHARED_INC) != 0;
    if storage_copy && destination.nbd.is_none() {
        return Err(internal(
            "the destination did not start an NBD server for the storage copy",
        ));
    }
    let mut limits = Limits::load(&uuid);
    if let Some(bandwidth) = ullong_param(&params, migrate_param::BANDWIDTH) {
        limits.max_speed_mib_s = bandwidth;
    }
    if let Some(bandwidth) = ullong_param(&params, migrate_param::BANDWIDTH_POSTCOPY) {
        limits.max_speed_postcopy_mib_s = bandwidth;
    }
    for request in ["abort", "postcopy"] {
        host_state::delete(RECORD, &key(request, &uuid));
    }
    let mut figures = JobFigures {
        operation: job_operation::MIGRATION_OUT,
        active: true,
        postcopy_allowed: flags & flag::POSTCOPY != 0,
        status: "setup".into(),
        ..JobFigures::default()
    };
    records::put_json(RECORD, &key("progress", &uuid), &figures);
    host_state::commit();

    let was_running = live.state == state::RUNNING;
    let expect = Expectation {
        paused_reason: Some(paused_reason::MIGRATION),
        running_reason: Some(running_reason::MIGRATION_CANCELED),
    };
    let plan = Outgoing {
        uuid: &uuid,
        domain: &domain,
        reference: domain::reference(&domain.record, Some(&live)),
        qemu_uri: format!("tcp:{}:{port}", target.qemu_host()),
        nbd: destination
            .nbd
            .as_ref()
            .filter(|_| storage_copy)
            .map(|(port, disks)| NbdTarget {
                host: target.host.clone(),
                port: *port,
                targets: disks.iter().map(|(target, _)| target.clone()).collect(),
            }),
        postcopy: flags & flag::POSTCOPY != 0,
        auto_converge: flags & flag::AUTO_CONVERGE != 0,
    };
    let started = now_ms();
    let result = lifecycle::with_monitor(&domain, &mut live, expect, |monitor, live| {
        let def = domain::live_def(live)?;
        let result = run_outgoing(monitor, live, &def, &plan, &mut limits, &mut figures);
        if result.is_err() && !figures.postcopy_started {
            recover_source(monitor, live, was_running);
        }
        result
    });
    if result.is_err() && figures.postcopy_started {
        postcopy_failed(&domain, &mut live);
    }
    figures.active = false;
    if figures.time_elapsed_ms == 0 {
        figures.time_elapsed_ms = now_ms().saturating_sub(started);
    }
    host_state::delete(RECORD, &key("progress", &uuid));
    limits.store(&uuid);
    result?;
    figures.status = "completed".into();
    records::put_json(RECORD, &key("completed", &uuid), &figures);
    announce_completed(&domain::reference(&domain.record, None), &figures);
    let mut cookie = Cookie::for_domain(&domain.record.name, &uuid);
    cookie.statistics = Some((
        figures.time_elapsed_ms,
        figures.downtime_ms,
        figures.setup_time_ms,
    ));
    Ok(cookie.to_bytes())
}

/// Where a storage copy writes: the destination's NBD server and the disks it exports.
struct NbdTarget {
    host: String,
    port: u16,
    targets: Vec<String>,
}

/// What Perform does, decided before it touches QEMU.
struct Outgoing<'a> {
    uuid: &'a str,
    /// The domain, whose state shows the switch to post-copy.
    domain: &'a Loaded,
    /// The domain, for the events of the migration.
    reference: DomainRef,
    qemu_uri: String,
    nbd: Option<NbdTarget>,
    postcopy: bool,
    auto_converge: bool,
}

/// A disk being mirrored: the block job and the NBD node it writes into.
struct Mirror {
    job: String,
    node: String,
}

fn run_outgoing(
    monitor: &mut Monitor,
    live: &mut LiveRecord,
    def: &Domain,
    plan: &Outgoing<'_>,
    limits: &mut Limits,
    figures: &mut JobFigures,
) -> Result<(), Error> {
    set_capabilities(monitor, plan.postcopy, plan.auto_converge)?;
    monitor.run("migrate-set-parameters", limits.qemu_parameters())?;
    let mut mirrors = Vec::new();
    if let Some(nbd) = &plan.nbd {
        let started = start_mirrors(monitor, live, def, nbd, &mut mirrors)
            .and_then(|()| wait_mirrors_ready(monitor, plan.uuid, &mirrors, figures));
        if let Err(error) = started {
            cancel_mirrors(monitor, &mirrors, true);
            return Err(error);
        }
    }
    let migrated = migrate_memory(monitor, live, plan, limits, figures, &mirrors);
    // After the switch the source is paused: the mirrors end in sync (cancelling a ready
    // mirror completes it without pivoting); after a failure they are dropped.
    cancel_mirrors(monitor, &mirrors, migrated.is_err());
    migrated
}

fn start_mirrors(
    monitor: &mut Monitor,
    live: &LiveRecord,
    def: &Domain,
    nbd: &NbdTarget,
    mirrors: &mut Vec<Mirror>,
) -> Result<(), Error> {
    for (target, alias) in copied_disks(def) {
        if !nbd.targets.contains(&target) {
            return Err(qemu_error(
                ErrorNumber::OPERATION_FAILED,
                format!("the destination exports no disk '{target}' for the storage copy"),
            ));
        }
        let device = disk_argv::top_node(&live.nodes_of(&alias))
            .ok_or_else(|| internal(format!("no block node for disk '{target}'")))?;
        let node = format!("migration-{target}-storage");
        monitor.run(
            "blockdev-add",
            json!({
                "driver": "nbd", "node-name": node,
                "server": {"type": "inet", "host": nbd.host, "port": nbd.port.to_string()},
                "export": format!("drive-{alias}"),
            }),
        )?;
        let job = format!("drive-{alias}");
        if let Err(error) = monitor.run(
            "blockdev-mirror",
            json!({"job-id": job, "device": device, "target": node, "sync": "full"}),
        ) {
            let _ = monitor.execute("blockdev-del", Some(json!({ "node-name": node })));
            return Err(error);
        }
        mirrors.push(Mirror { job, node });
    }
    Ok(())
}

/// Waits until every mirror has copied the disk and follows its writes (READY).
fn wait_mirrors_ready(
    monitor: &mut Monitor,
    uuid: &str,
    mirrors: &[Mirror],
    figures: &mut JobFigures,
) -> Result<(), Error> {
    loop {
        if take_request(uuid, "abort") {
            return Err(aborted());
        }
        let jobs_now = monitor.run("query-block-jobs", Value::Null)?;
        let mut ready = 0;
        let (mut total, mut done) = (0, 0);
        for mirror in mirrors {
            let job = jobs_now.as_array().and_then(|jobs| {
                jobs.iter()
                    .find(|job| job.get("device").and_then(Value::as_str) == Some(&mirror.job))
            });
            let Some(job) = job else {
                return Err(qemu_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!(
                        "migration of disk {} failed: the mirror job ended",
                        mirror.job
                    ),
                ));
            };
            total += job.get("len").and_then(Value::as_u64).unwrap_or(0);
            done += job.get("offset").and_then(Value::as_u64).unwrap_or(0);
            if job.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
        }
        figures.disk_total = total;
        figures.disk_processed = done;
        figures.disk_remaining = total.saturating_sub(done);
        publish(uuid, figures);
        if ready == mirrors.len() {
            return Ok(());
        }
        match monitor.wait_event(POLL_MS, |event| event.name == "BLOCK_JOB_ERROR") {
            Ok(event) => {
                return Err(qemu_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("migration of disks failed: {}", event.data),
                ))
            }
            Err(QmpError::Timeout) => {}
            Err(error) => return Err(error.into_error("query-block-jobs")),
        }
    }
}

fn cancel_mirrors(monitor: &mut Monitor, mirrors: &[Mirror], force: bool) {
    for mirror in mirrors {
        let _ = monitor.execute(
            "block-job-cancel",
            Some(json!({"device": mirror.job, "force": force})),
        );
    }
    let deadline = now_ms() + MIRROR_END_MS;
    for mirror in mirrors {
        let ended = |event: &crate::qmp::Event| {
            matches!(
                event.name.as_str(),
                "BLOCK_JOB_COMPLETED" | "BLOCK_JOB_CANCELLED"
            ) && event.data.get("device").and_then(Value::as_str) == Some(&mirror.job)
        };
        let left = deadline.saturating_sub(now_ms()).max(1) as u32;
        let _ = monitor.wait_event(left, ended);
        let _ = monitor.execute("blockdev-del", Some(json!({ "node-name": mirror.node })));
    }
}

fn migrate_memory(
    monitor: &mut Monitor,
    live: &mut LiveRecord,
    plan: &Outgoing<'_>,
    limits: &mut Limits,
    figures: &mut JobFigures,
    mirrors: &[Mirror],
) -> Result<(), Error> {
    monitor.run("migrate", json!({ "uri": plan.qemu_uri }))?;
    let mut cancelled_by_client = false;
    let mut announced_iteration = 0;
    loop {
        if take_request(plan.uuid, "abort") {
            cancelled_by_client = true;
            let _ = monitor.execute("migrate_cancel", None);
        }
        if take_request(plan.uuid, "postcopy") {
            monitor.run("migrate-start-postcopy", Value::Null)?;
        }
        let wanted = Limits::load(plan.uuid);
        if wanted != *limits {
            let _ = monitor.execute("migrate-set-parameters", Some(wanted.qemu_parameters()));
            *limits = wanted;
        }
        let info = monitor.run("query-migrate", Value::Null)?;
        figures.update_from_qemu(&info);
        if !mirrors.is_empty() {
            if let Ok(jobs_now) = monitor.run("query-block-jobs", Value::Null) {
                let field = |name: &str| -> u64 {
                    jobs_now
                        .as_array()
                        .map(|jobs| jobs.iter().filter_map(|job| job.get(name)?.as_u64()).sum())
                        .unwrap_or(0)
                };
                figures.disk_total = field("len");
                figures.disk_processed = field("offset");
                figures.disk_remaining = figures.disk_total.saturating_sub(figures.disk_processed);
            }
        }
        // Each new pass over memory is VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION (virsh's
        // --postcopy-after-precopy switches on the second).
        if figures.memory_iteration > announced_iteration {
            announced_iteration = figures.memory_iteration;
            events::emit(&Event::DomainOther((
                plan.reference.clone(),
                event_id::MIGRATION_ITERATION,
                vec![virt_core::TypedParam::new(
                    "iteration",
                    TypedValue::Int(announced_iteration as i32),
                )
                .into()],
            )));
        }
        if figures.status == "postcopy-active" && !figures.postcopy_started {
            figures.postcopy_started = true;
            postcopy_switched(plan, live);
        }
        publish(plan.uuid, figures);
        match figures.status.as_str() {
            "completed" => return Ok(()),
            // QEMU keeps a broken post-copy migration for a recovery this driver does not
            // offer (VIR_MIGRATE_POSTCOPY_RESUME): waiting on would wait for ever.
            "postcopy-paused" | "postcopy-recover" => {
                return Err(qemu_error(
                    ErrorNumber::OPERATION_FAILED,
                    "job 'migration out' failed in post-copy phase: the connection to the \
                     destination broke",
                ))
            }
            "cancelled" => {
                return Err(if cancelled_by_client {
                    aborted()
                } else {
                    qemu_error(
                        ErrorNumber::OPERATION_FAILED,
                        "job 'migration out' unexpectedly failed: cancelled",
                    )
                })
            }
            "failed" => {
                let reason = info
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error");
                return Err(qemu_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("job 'migration out' failed: {reason}"),
                ));
            }
            _ => {}
        }
        let ended = |event: &crate::qmp::Event| {
            event.name == "MIGRATION"
                && matches!(
                    event.data.get("status").and_then(Value::as_str),
                    Some("completed" | "failed" | "cancelled")
                )
        };
        match monitor.wait_event(POLL_MS, ended) {
            Ok(_) | Err(QmpError::Timeout) => {}
            Err(error) => return Err(error.into_error("query-migrate")),
        }
    }
}

fn aborted() -> Error {
    qemu_error(
        ErrorNumber::OPERATION_ABORTED,
        "migration out job: canceled by client",
    )
}

/// After a failed Perform: the guest runs on here as before.
fn recover_source(monitor: &mut Monitor, live: &LiveRecord, was_running: bool) {
    let status = monitor
        .execute("query-status", None)
        .ok()
        .and_then(|status| status.get("running").and_then(Value::as_bool));
    if was_running && status == Some(false) {
        if let Err(error) = monitor.execute("cont", None) {
            virt_plugin_sdk::warn!(
                "cannot resume domain {} after a failed migration: {error:?}",
                live.id
            );
        }
    }
}

/// The guest now runs on the destination: here it is paused "post-copy", as libvirt shows
/// it, and says so (SUSPENDED/POSTCOPY) while its memory goes on moving.
fn postcopy_switched(plan: &Outgoing<'_>, live: &mut LiveRecord) {
    live.state = state::PAUSED;
    live.reason = paused_reason::POSTCOPY;
    lifecycle::store_live(plan.domain, live);
    events::emit(&Event::DomainLifecycle((
        plan.reference.clone(),
        event_type::SUSPENDED,
        suspended_detail::POSTCOPY,
    )));
}

/// After a failure in post-copy: the source's memory is stale, so the guest must not run
/// here again; it stays paused as libvirt leaves it (post-copy failed), to be destroyed.
fn postcopy_failed(domain: &Loaded, live: &mut LiveRecord) {
    live.state = state::PAUSED;
    live.reason = paused_reason::POSTCOPY_FAILED;
    lifecycle::store_live(domain, live);
    events::emit(&Event::DomainLifecycle((
        domain::reference(&domain.record, Some(live)),
        event_type::SUSPENDED,
        suspended_detail::POSTCOPY_FAILED,
    )));
}

/// VIR_DOMAIN_EVENT_ID_JOB_COMPLETED with the finished migration's figures.
fn announce_completed(reference: &DomainRef, figures: &JobFigures) {
    events::emit(&Event::DomainOther((
        reference.clone(),
        event_id::JOB_COMPLETED,
        figures.params().into_iter().map(Into::into).collect(),
    )));
}

/// Writes the running migration's figures where `get-job-stats` reads them, now.
fn publish(uuid: &str, figures: &JobFigures) {
    records::put_json(RECORD, &key("progress", uuid), figures);
    host_state::commit();
}

/// Whether another call asked for `request` (abort, postcopy) since the last look.
fn take_request(uuid: &str, request: &str) -> bool {
    let key = key(request, uuid);
    if host_state::get(RECORD, &key).is_some() {
        host_state::delete(RECORD, &key);
        host_state::commit();
        return true;
    }
    false
}

// ---- Finish (destination) ----

/// `virDomainMigrateFinish3Params`.
pub fn finish(
    params: Vec<TypedParam>,
    cookie: Vec<u8>,
    flags: u32,
    cancelled: bool,
) -> Result<(DomainRef, Vec<u8>), Error> {
    check_flags("qemuDomainMigrateFinish3Params", flags, SUPPORTED_FLAGS)?;
    let params = core_params(params);
    let source = Cookie::parse(&cookie).unwrap_or_default();
    let uuid = if source.uuid.is_empty() {
        let xml = string_param(&params, migrate_param::DEST_XML)
            .ok_or_else(|| qemu_error(ErrorNumber::INVALID_ARG, "no domain XML passed"))?;
        let def = Domain::parse(xml).map_err(Error::from)?;
        def.uuid.unwrap_or_default().hyphenated().to_string()
    } else {
        source.uuid.clone()
    };
    jobs::begin(&job_name(&uuid))?;
    let incoming: Incoming = records::get_json(RECORD, &key("incoming", &uuid)).unwrap_or_default();
    let no_domain = || {
        qemu_error(
            ErrorNumber::NO_DOMAIN,
            format!("domain with uuid '{uuid}' is not being migrated here"),
        )
    };
    let Some(domain) = domain::load(&uuid) else {
        release_ports(&incoming.reserved_ports);
        host_state::delete(RECORD, &key("incoming", &uuid));
        return Err(no_domain());
    };
    let Some(mut live) = domain.live.clone() else {
        release_ports(&incoming.reserved_ports);
        host_state::delete(RECORD, &key("incoming", &uuid));
        return Err(no_domain());
    };
    if cancelled {
        discard_incoming(&uuid, &incoming);
        return Err(qemu_error(
            ErrorNumber::MIGRATE_FINISH_OK,
            "migration was cancelled",
        ));
    }
    let resume = flags & flag::PAUSED == 0;
    let expect = Expectation {
        paused_reason: Some(paused_reason::MIGRATION),
        running_reason: Some(running_reason::MIGRATED),
    };
    let arrived = lifecycle::with_monitor(&domain, &mut live, expect, |monitor, live| {
        wait_incoming(monitor)?;
        if incoming.nbd {
            let _ = monitor.execute("nbd-server-stop", None);
        }
        if resume {
            monitor.run("cont", Value::Null)?;
            lifecycle::ensure_event(monitor, "RESUME");
            live.state = state::RUNNING;
            live.reason = running_reason::MIGRATED;
        }
        Ok(())
    });
    if let Err(error) = arrived {
        discard_incoming(&uuid, &incoming);
        return Err(error);
    }
    release_ports(&incoming.reserved_ports);
    host_state::delete(RECORD, &key("incoming", &uuid));
    let mut record = records::get_json::<DomainRecord>(records::DOMAIN, &uuid)
        .unwrap_or_else(|| domain.record.clone());
    if flags & flag::PERSIST_DEST != 0 {
        let layout = SpaceLayout::current()?;
        let xml = match string_param(&params, migrate_param::PERSIST_XML) {
            Some(xml) => domain::inactive_xml(&domain::parse_for_qemu(xml, &layout)?.0),
            None => domain::inactive_xml(&domain::live_def(&live)?),
        };
        let detail = if record.persistent() {
            defined_detail::UPDATED
        } else {
            defined_detail::ADDED
        };
        files::write(&layout.config_file(&record.name), xml.as_bytes())?;
        record.config_xml = Some(xml);
        records::put_json(records::DOMAIN, &uuid, &record);
        let reference = domain::reference(&record, Some(&live));
        events::emit(&Event::DomainLifecycle((
            reference,
            event_type::DEFINED,
            detail,
        )));
    }
    if let Some((elapsed, downtime, setup)) = source.statistics {
        let figures = JobFigures {
            operation: job_operation::MIGRATION_IN,
            time_elapsed_ms: elapsed,
            downtime_ms: downtime,
            setup_time_ms: setup,
            status: "completed".into(),
            ..JobFigures::default()
        };
        records::put_json(RECORD, &key("completed", &uuid), &figures);
        announce_completed(&domain::reference(&record, Some(&live)), &figures);
    }
    Ok((domain::reference(&record, Some(&live)), Vec::new()))
}

/// Waits until the incoming QEMU has the whole state (`completed`), or says why not.
fn wait_incoming(monitor: &mut Monitor) -> Result<(), Error> {
    let deadline = now_ms() + FINISH_WAIT_MS;
    loop {
        let info = monitor.run("query-migrate", Value::Null)?;
        match info.get("status").and_then(Value::as_str) {
            Some("completed") => return Ok(()),
            Some(status @ ("failed" | "cancelled")) => {
                let reason = info
                    .get("error-desc")
                    .and_then(Value::as_str)
                    .unwrap_or(status);
                return Err(qemu_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("job 'migration in' failed: {reason}"),
                ));
            }
            _ => {}
        }
        if now_ms() >= deadline {
            return Err(qemu_error(
                ErrorNumber::OPERATION_TIMEOUT,
                "the migrated state did not arrive in time",
            ));
        }
        match monitor.wait_event(POLL_MS, |event| event.name == "MIGRATION") {
            Ok(_) | Err(QmpError::Timeout) => {}
            Err(error) => return Err(error.into_error("query-migrate")),
        }
    }
}

// ---- Confirm (source) ----

/// `virDomainMigrateConfirm3Params`.
pub fn confirm(
    dom: &DomainRef,
    _params: Vec<TypedParam>,
    _cookie: Vec<u8>,
    flags: u32,
    cancelled: bool,
) -> Result<(), Error> {
    check_flags("qemuDomainMigrateConfirm3Params", flags, SUPPORTED_FLAGS)?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = lifecycle::running(dom)?;
    if cancelled {
        if live.state == state::PAUSED && live.reason == paused_reason::MIGRATION {
            let expect = Expectation {
                paused_reason: None,
                running_reason: Some(running_reason::MIGRATION_CANCELED),
            };
            lifecycle::with_monitor(&domain, &mut live, expect, |monitor, _| {
                monitor.run("cont", Value::Null).map(|_| ())
            })?;
        }
        return Ok(());
    }
    lifecycle::kill_qemu(&domain, &mut live, PendingStop::Destroyed, false)?;
    lifecycle::finalize_stop(
        &domain,
        &live,
        shutoff_reason::MIGRATED,
        stopped_detail::MIGRATED,
    );
    // A domain that does not stay here takes its migration records with it.
    if !domain.record.persistent() || flags & flag::UNDEFINE_SOURCE != 0 {
        for what in ["limits", "completed", "progress"] {
            host_state::delete(RECORD, &key(what, &uuid));
        }
    }
    if flags & flag::UNDEFINE_SOURCE != 0 && domain.record.persistent() {
        let layout = SpaceLayout::current()?;
        let _ = files::remove(&layout.config_file(&domain.record.name));
        let _ = files::remove(&layout.autostart_file(&domain.record.name));
        host_state::delete(records::DOMAIN, &uuid);
        let reference = domain::reference(&domain.record, None);
        events::emit(&Event::DomainLifecycle((
            reference,
            event_type::UNDEFINED,
            undefined_detail::REMOVED,
        )));
    }
    Ok(())
}

// ---- calls about a running migration ----

/// `virDomainGetJobStats`: the running migration's figures, or (COMPLETED) the last one's.
pub fn get_job_stats(dom: &DomainRef, flags: u32) -> Result<JobStats, Error> {
    check_flags(
        "qemuDomainGetJobStats",
        flags,
        job_stats_flags::COMPLETED | job_stats_flags::KEEP_COMPLETED,
    )?;
    let domain = domain::get(dom)?;
    let uuid = domain.uuid();
    let none = JobStats {
        kind: job_type::NONE,
        params: Vec::new(),
    };
    if flags & job_stats_flags::COMPLETED != 0 {
        let completed: Option<JobFigures> = records::get_json(RECORD, &key("completed", uuid));
        let Some(completed) = completed else {
            return Ok(none);
        };
        if flags & job_stats_flags::KEEP_COMPLETED == 0 {
            host_state::delete(RECORD, &key("completed", uuid));
        }
        return Ok(JobStats {
            kind: job_type::COMPLETED,
            params: completed.params().into_iter().map(Into::into).collect(),
        });
    }
    match records::get_json::<JobFigures>(RECORD, &key("progress", uuid)) {
        Some(figures) if figures.active => Ok(JobStats {
            kind: job_type::UNBOUNDED,
            params: figures.params().into_iter().map(Into::into).collect(),
        }),
        _ => Ok(none),
    }
}

fn running_migration(dom: &DomainRef) -> Result<(String, JobFigures), Error> {
    let domain = domain::get(dom)?;
    let uuid = domain.uuid().to_string();
    match records::get_json::<JobFigures>(RECORD, &key("progress", &uuid)) {
        Some(figures) if figures.active => Ok((uuid, figures)),
        _ => Err(invalid_operation("no job is active on the domain")),
    }
}

/// `virDomainAbortJob`: the running Perform cancels the migration at its next look.
pub fn abort_job(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainAbortJobFlags", flags, 0)?;
    let (uuid, figures) = running_migration(dom)?;
    if figures.status == "postcopy-active" {
        return Err(invalid_operation(
            "cannot abort migration in post-copy mode",
        ));
    }
    host_state::put(RECORD, &key("abort", &uuid), b"1");
    Ok(())
}

/// `virDomainMigrateStartPostCopy`.
pub fn start_post_copy(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainMigrateStartPostCopy", flags, 0)?;
    let (uuid, figures) = running_migration(dom)
        .map_err(|_| invalid_operation("post-copy can be started only during migration"))?;
    if !figures.postcopy_allowed {
        return Err(invalid_operation(
            "switching to post-copy requires migration to be started with VIR_MIGRATE_POSTCOPY flag",
        ));
    }
    host_state::put(RECORD, &key("postcopy", &uuid), b"1");
    Ok(())
}

/// `virDomainMigrateSetMaxSpeed` (MiB/s).
pub fn set_max_speed(dom: &DomainRef, bandwidth: u64, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainMigrateSetMaxSpeed", flags, speed_flags::POSTCOPY)?;
    if bandwidth > UNLIMITED_MIB_S {
        return Err(qemu_error(
            ErrorNumber::OVERFLOW,
            format!("bandwidth must be less than {}", UNLIMITED_MIB_S + 1),
        ));
    }
    let domain = domain::get(dom)?;
    let mut limits = Limits::load(domain.uuid());
    if flags & speed_flags::POSTCOPY != 0 {
        limits.max_speed_postcopy_mib_s = bandwidth;
    } else {
        limits.max_speed_mib_s = bandwidth;
    }
    limits.store(domain.uuid());
    Ok(())
}

/// `virDomainMigrateGetMaxSpeed`.
pub fn get_max_speed(dom: &DomainRef, flags: u32) -> Result<u64, Error> {
    check_flags("qemuDomainMigrateGetMaxSpeed", flags, speed_flags::POSTCOPY)?;
    let domain = domain::get(dom)?;
    let limits = Limits::load(domain.uuid());
    Ok(if flags & speed_flags::POSTCOPY != 0 {
        limits.max_speed_postcopy_mib_s
    } else {
        limits.max_speed_mib_s
    })
}

/// `virDomainMigrateSetMaxDowntime` (milliseconds).
pub fn set_max_downtime(dom: &DomainRef, downtime: u64, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainMigrateSetMaxDowntime", flags, 0)?;
    let (domain, _) = lifecycle::running(dom)?;
    let mut limits = Limits::load(domain.uuid());
    limits.max_downtime_ms = downtime;
    limits.store(domain.uuid());
    Ok(())
}

/// `virDomainMigrateGetMaxDowntime`.
pub fn get_max_downtime(dom: &DomainRef, flags: u32) -> Result<u64, Error> {
    check_flags("qemuDomainMigrateGetMaxDowntime", flags, 0)?;
    let (domain, _) = lifecycle::running(dom)?;
    Ok(Limits::load(domain.uuid()).max_downtime_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_uris_in_libvirts_and_qemus_forms() {
        let uri = TcpUri::parse("tcp://10.0.0.2:49152").expect("uri");
        assert_eq!((uri.host.as_str(), uri.port), ("10.0.0.2", Some(49152)));
        let uri = TcpUri::parse("tcp:dest:49153").expect("uri");
        assert_eq!((uri.host.as_str(), uri.port), ("dest", Some(49153)));
        let uri = TcpUri::parse("tcp://10.0.0.2").expect("uri");
        assert_eq!(uri.port, None);
        let uri = TcpUri::parse("tcp://[fd00::2]:5000").expect("uri");
        assert_eq!(
            (uri.qemu_host().as_str(), uri.port),
            ("[fd00::2]", Some(5000))
        );
        assert_eq!(
            TcpUri::parse("rdma://x").expect_err("scheme").code,
            ErrorNumber::ARGUMENT_UNSUPPORTED.0
        );
        assert!(TcpUri::parse("tcp://host:notaport").is_err());
    }

    #[test]
    fn the_filesystem_of_a_path_is_its_longest_mount_point() {
        let mounts = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n\
                      40 22 0:40 / /srv/images rw - nfs4 server:/images rw\n\
                      41 22 0:41 / /srv/img rw - tmpfs tmpfs rw\n";
        assert_eq!(
            filesystem_of(mounts, "/srv/images/a.qcow2").as_deref(),
            Some("nfs4")
        );
        assert_eq!(
            filesystem_of(mounts, "/srv/imagesx/a.qcow2").as_deref(),
            Some("ext4")
        );
        assert_eq!(
            filesystem_of(mounts, "/srv/img/a").as_deref(),
            Some("tmpfs")
        );
    }

    #[test]
    fn cookie_round_trips_what_the_phases_need() {
        let cookie = Cookie {
            name: "g<1>".into(),
            uuid: "c7a5fdbd-edaf-9455-926a-d65c16db1809".into(),
            hostname: "src".into(),
            hostuuid: "3d1219c7-c4c5-404a-aa1f-6d2a48adfda4".into(),
            nbd: Some((49153, vec![("vda".into(), 67_108_864)])),
            statistics: Some((1234, Some(56), None)),
        };
        let bytes = cookie.to_bytes();
        assert_eq!(bytes.last(), Some(&0));
        assert_eq!(Cookie::parse(&bytes).expect("parse"), cookie);
        assert_eq!(Cookie::parse(b"").expect("empty"), Cookie::default());
        assert!(Cookie::parse(b"<other/>").is_err());
    }

    #[test]
    fn query_migrate_becomes_libvirts_figures() {
        let mut figures = JobFigures {
            operation: job_operation::MIGRATION_OUT,
            ..JobFigures::default()
        };
        figures.update_from_qemu(&json!({
            "status": "active", "total-time": 1500, "setup-time": 3,
            "ram": {"total": 1000, "transferred": 400, "remaining": 600, "mbps": 8.0,
                    "dirty-sync-count": 2, "duplicate": 5, "normal": 7}
        }));
        let params = figures.params();
        let get = |name: &str| {
            params
                .iter()
                .find(|param| param.field == name)
                .map(|param| param.value.clone())
        };
        assert_eq!(get("time_elapsed"), Some(TypedValue::ULLong(1500)));
        assert_eq!(get("data_remaining"), Some(TypedValue::ULLong(600)));
        assert_eq!(get("memory_bps"), Some(TypedValue::ULLong(1_000_000)));
        assert_eq!(get("memory_iteration"), Some(TypedValue::ULLong(2)));
        assert_eq!(get("downtime"), None);
        assert_eq!(figures.status, "active");
    }
}
