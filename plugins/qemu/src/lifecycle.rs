//! A domain's life: start (define-then-start and transient), the ways it stops (destroy,
//! shutdown, guest power-off, crash, QEMU dying), reboot, reset, pause and resume; the QMP
//! events that drive it while no call is looking (handlers); and finding running QEMUs again
//! after the daemon or the plugin restarted.
//!
//! Who finishes a stop: a call that stops QEMU itself (destroy, save, snapshot revert) marks
//! the domain (`pending_stop`), commits, kills, waits and cleans up; the exit handler then
//! leaves it alone. A stop QEMU starts (guest power-off, crash, QEMU dying) is finished by the
//! exit handler, with the reason the last QMP event gave.

use serde_json::{json, Value};
use virt_core::consts::{
    domain_create_flags as create_flags, domain_destroy_flags_values as destroy_flags,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_paused_reason as paused_reason, domain_reboot_flag_values as reboot_flags,
    domain_running_reason as running_reason, domain_shutdown_flag_values as shutdown_flags,
    domain_shutoff_reason as shutoff_reason, domain_state as state,
};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::{events, files, jobs, net, process, state as host_state};
use virt_plugin_sdk::types::{DomainRef, Error, Event};
use virt_xml::domain::enums::*;
use virt_xml::domain::{ChrSource, Disk, Domain, Interface};

use crate::argv::{self, prepare, BuildContext};
use crate::capabilities::cache::capabilities_for;
use crate::domain::{self, Loaded};
use crate::error::{
    already_running, check_flags, invalid_operation, not_running, qemu_error, unsupported_config,
};
use crate::launch::{self, LaunchPlan, SIGKILL, SIGTERM};
use crate::qemu_events::{
    self, CrashAction, DomainEvent, DomainStatus, Expectation, FollowUp, LifecycleActions,
    StopReason,
};
use crate::qmp::{self, Monitor};
use crate::records::{self, DomainRecord, LiveRecord, PendingStop};
use crate::space::SpaceLayout;

/// Loads saved state into a QEMU started with `-S` (a save image, a snapshot).
pub type StateLoader<'a> = &'a dyn Fn(&mut Monitor, &mut LiveRecord) -> Result<(), Error>;

/// Why a domain starts, which decides its running reason and started event.
#[derive(Debug, Clone, PartialEq)]
pub enum StartKind {
    Booted,
    /// From a save image (`crate::save`); QEMU starts paused and loads the state.
    Restored,
    /// From a snapshot (`crate::snapshots`).
    FromSnapshot,
    /// An incoming migration (`crate::migration`): QEMU waits paused for the state, and the
    /// domain runs only when the migration finishes.
    Migrated,
}

/// The job lock name of a domain.
pub fn job_name(uuid: &str) -> String {
    format!("domain/{uuid}")
}

/// The lifecycle actions of a definition, for event mapping.
pub fn lifecycle_actions(def: &Domain) -> LifecycleActions {
    LifecycleActions {
        restart_on_poweroff: def.on_poweroff == Some(LifecycleAction::Restart),
        on_crash: match def.on_crash {
            Some(LifecycleAction::Restart | LifecycleAction::RenameRestart) => CrashAction::Restart,
            Some(LifecycleAction::Preserve) => CrashAction::Preserve,
            _ => CrashAction::Destroy,
        },
    }
}

/// Emits a lifecycle event for a domain.
pub fn emit_lifecycle(dom: &DomainRef, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((dom.clone(), event, detail)));
}

fn emit_domain_event(dom: &DomainRef, event: DomainEvent) {
    match event {
        DomainEvent::Lifecycle { event, detail } => emit_lifecycle(dom, event, detail),
        DomainEvent::Reboot => events::emit(&Event::DomainReboot(dom.clone())),
        DomainEvent::Other { event_id, params } => {
            let params = params.into_iter().map(Into::into).collect();
            events::emit(&Event::DomainOther((dom.clone(), event_id, params)));
        }
    }
}

/// The running domain a reference names; an error unless it is active.
pub fn running(dom: &DomainRef) -> Result<(Loaded, LiveRecord), Error> {
    let domain = domain::get(dom)?;
    match domain.live.clone() {
        Some(live) if live.state != state::SHUTOFF => Ok((domain, live)),
        _ => Err(not_running()),
    }
}

/// Runs `work` with the domain's monitor, then applies the QMP events read meanwhile
/// (`expect` says what a STOP/RESUME means), stores the live record and emits the events.
pub fn with_monitor<T>(
    domain: &Loaded,
    live: &mut LiveRecord,
    expect: Expectation,
    work: impl FnOnce(&mut Monitor, &mut LiveRecord) -> Result<T, Error>,
) -> Result<T, Error> {
    let handle = live
        .monitor
        .ok_or_else(|| qemu_error(ErrorNumber::OPERATION_INVALID, "monitor is not available"))?;
    let mut monitor = Monitor::attach(handle);
    let result = work(&mut monitor, live);
    let pending = std::mem::take(&mut monitor.events);
    apply_events(domain, live, &mut monitor, expect, pending);
    store_live(domain, live);
    result
}

/// Applies QMP events to a live domain (state, libvirt events, follow-ups); events that
/// follow-ups provoke (the STOP and RESET of a fake reboot) are applied too.
pub fn apply_events(
    domain: &Loaded,
    live: &mut LiveRecord,
    monitor: &mut Monitor,
    expect: Expectation,
    pending: Vec<qmp::Event>,
) {
    if pending.is_empty() {
        return;
    }
    let def = domain::live_def(live).ok();
    let actions = def.as_ref().map(lifecycle_actions).unwrap_or_default();
    let reference = domain::reference(&domain.record, Some(live));
    let mut queue: std::collections::VecDeque<qmp::Event> = pending.into();
    while let Some(event) = queue.pop_front() {
        let status = DomainStatus {
            state: live.state,
            reason: live.reason,
            fake_reboot: live.fake_reboot,
            paused_shutdown: live.paused_shutdown,
            stopping: live.pending_stop != PendingStop::None,
        };
        let outcome = qemu_events::map_event(status, actions, expect, &event);
        if let Some((new_state, reason)) = outcome.new_state {
            live.state = new_state;
            live.reason = reason;
        }
        if let Some(fake_reboot) = outcome.fake_reboot {
            live.fake_reboot = fake_reboot;
        }
        if let Some(paused_shutdown) = outcome.paused_shutdown {
            live.paused_shutdown = paused_shutdown;
        }
        for event in outcome.events {
            emit_domain_event(&reference, translate_block_job(live, event));
        }
        for follow_up in outcome.follow_ups {
            match follow_up {
                FollowUp::StopQemu { reason } => {
                    live.pending_stop = match reason {
                        StopReason::Shutdown => PendingStop::Shutdown,
                        StopReason::Crashed => PendingStop::Crashed,
                    };
                    let _ = process::kill(live.process, SIGTERM);
                }
                FollowUp::ResetAndResume => {
                    let _ = monitor.execute("system_reset", None);
                    let _ = monitor.execute("cont", None);
                    live.fake_reboot = false;
                    if live.state != state::RUNNING {
                        let reason = if live.state == state::CRASHED {
                            running_reason::CRASHED
                        } else {
                            running_reason::BOOTED
                        };
                        live.state = state::RUNNING;
                        live.reason = reason;
                    }
                    queue.extend(monitor.events.drain(..));
                }
                FollowUp::DeviceRemoved { alias } => {
                    crate::hotplug::forget_device(live, monitor, &alias);
                    queue.extend(monitor.events.drain(..));
                }
            }
        }
    }
}

/// BLOCK_JOB_2 names the disk by target; QEMU names it by the alias this driver gave it.
fn translate_block_job(live: &LiveRecord, event: DomainEvent) -> DomainEvent {
    let DomainEvent::Other {
        event_id,
        mut params,
    } = event
    else {
        return event;
    };
    if let Some(first) = params.first_mut() {
        if first.field == "dst" {
            if let virt_core::TypedValue::String(alias) = &first.value {
                if let Some(target) = domain::live_def(live).ok().and_then(|def| {
                    def.devices
                        .disks
                        .iter()
                        .find(|disk| disk.info.alias_name() == Some(alias.as_str()))
                        .and_then(|disk| disk.target_dev().map(str::to_string))
                }) {
                    first.value = virt_core::TypedValue::String(target);
                }
            }
        }
    }
    DomainEvent::Other { event_id, params }
}

/// Stores a live record and its status file.
pub fn store_live(domain: &Loaded, live: &LiveRecord) {
    records::put_json(records::LIVE, domain.uuid(), live);
    if let Ok(layout) = SpaceLayout::current() {
        let _ = domain::write_status_file(&layout, &domain.record.name, live);
    }
}

/// `virDomainCreateWithFlags`.
pub fn create(dom: &DomainRef, flags: u32) -> Result<DomainRef, Error> {
    check_flags(
        "qemuDomainCreateWithFlags",
        flags,
        create_flags::START_PAUSED
            | create_flags::START_AUTODESTROY
            | create_flags::START_BYPASS_CACHE
            | create_flags::START_FORCE_BOOT,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let domain = domain::get(dom)?;
    if domain.is_active() {
        return Err(already_running());
    }
    if domain.record.has_managed_save && flags & create_flags::START_FORCE_BOOT == 0 {
        return crate::save::restore_managed(&domain, flags);
    }
    let xml = domain
        .record
        .config_xml
        .clone()
        .ok_or_else(|| invalid_operation("domain has no persistent definition"))?;
    let layout = SpaceLayout::current()?;
    let (def, _) = domain::parse_for_qemu(&xml, &layout)?;
    let paused = flags & create_flags::START_PAUSED != 0;
    let live = start_domain(&domain.record, def, StartKind::Booted, paused, None)?;
    Ok(domain::reference(&domain.record, Some(&live)))
}

/// `virDomainCreateXML`: a transient domain (unless a persistent one has that UUID).
pub fn create_xml(xml: &str, flags: u32) -> Result<DomainRef, Error> {
    check_flags(
        "qemuDomainCreateXML",
        flags,
        create_flags::START_PAUSED | create_flags::START_AUTODESTROY | create_flags::START_VALIDATE,
    )?;
    let layout = SpaceLayout::current()?;
    let (def, _) = domain::parse_for_qemu(xml, &layout)?;
    let uuid = def.uuid.unwrap_or_default().hyphenated().to_string();
    let name = def.name().to_string();
    jobs::begin(&job_name(&uuid))?;
    domain::check_unique(&uuid, &name)?;
    let existing = domain::load(&uuid);
    if existing.as_ref().is_some_and(Loaded::is_active) {
        return Err(qemu_error(
            ErrorNumber::OPERATION_INVALID,
            format!("domain '{name}' is already active"),
        ));
    }
    let record = existing
        .map(|domain| domain.record)
        .unwrap_or(DomainRecord {
            uuid: uuid.clone(),
            name,
            ..DomainRecord::default()
        });
    let paused = flags & create_flags::START_PAUSED != 0;
    let live = start_domain(&record, def, StartKind::Booted, paused, None)?;
    Ok(domain::reference(&record, Some(&live)))
}

/// Allocates the next domain id under a space-wide lock, published at once so that
/// concurrent starts never share one.
fn allocate_id() -> Result<i32, Error> {
    jobs::begin("space/next-id")?;
    let id = records::allocate_domain_id();
    host_state::commit();
    jobs::end("space/next-id");
    Ok(id)
}

/// Checks what QEMU would otherwise fail on with a less clear message: image files, kernel
/// and initrd, bridges.
fn check_host_resources(def: &Domain) -> Result<(), Error> {
    for disk in &def.devices.disks {
        let local = matches!(disk.actual_type(), StorageType::File | StorageType::Block);
        let Some(path) = disk
            .source
            .as_ref()
            .and_then(|source| source.file.clone().or_else(|| source.dev.clone()))
        else {
            continue;
        };
        if !local {
            continue;
        }
        let optional = disk
            .source
            .as_ref()
            .and_then(|source| source.startup_policy)
            == Some(StartupPolicy::Optional);
        if files::stat(&path)?.is_none() && !optional {
            return Err(qemu_error(
                ErrorNumber::SYSTEM_ERROR,
                format!("Cannot access storage file '{path}': No such file or directory"),
            ));
        }
    }
    if let Some(os) = &def.os {
        for path in [&os.kernel, &os.initrd].into_iter().flatten() {
            if files::stat(path)?.is_none() {
                return Err(qemu_error(
                    ErrorNumber::SYSTEM_ERROR,
                    format!("Cannot access '{path}': No such file or directory"),
                ));
            }
        }
    }
    def.devices
        .interfaces
        .iter()
        .try_for_each(check_interface_backend)
}

/// An interface's host side exists: its bridge, or (network-backed) a network driver.
pub fn check_interface_backend(interface: &Interface) -> Result<(), Error> {
    if interface.interface_type == Some(InterfaceType::Bridge) {
        let bridge = interface
            .source
            .as_ref()
            .and_then(|source| source.bridge.clone())
            .unwrap_or_default();
        if !net::bridge_exists(&bridge) {
            return Err(qemu_error(
                ErrorNumber::SYSTEM_ERROR,
                format!("Cannot get interface MTU on '{bridge}': No such device"),
            ));
        }
    }
    if interface.interface_type == Some(InterfaceType::Network) {
        let network = interface
            .source
            .as_ref()
            .and_then(|source| source.network.clone())
            .unwrap_or_default();
        network_bridge(&network)?;
    }
    Ok(())
}

/// The file `NAME.xml` of the secondary driver `driver` in the directory beside `own`, one
/// of this driver's directories (`$run/../network/default.xml`).
fn beside(own: &str, driver: &str, name: &str) -> String {
    let parent = own.rsplit_once('/').map_or("", |(parent, _)| parent);
    format!("{parent}/{driver}/{name}.xml")
}

/// The bridge of running network `name`, from the status file the network driver keeps in
/// its run directory (beside this driver's: `$run/../network/NAME.xml`) while it runs.
pub fn network_bridge(name: &str) -> Result<String, Error> {
    let dirs = files::dirs();
    let text = match files::read(&beside(&dirs.run, "network", name)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        // Defined (its persistent definition is there) but not running.
        Err(_)
            if files::stat(&beside(&dirs.config, "network", name))
                .ok()
                .flatten()
                .is_some() =>
        {
            return Err(virt_plugin_sdk::error(
                ErrorNumber::OPERATION_INVALID,
                virt_core::ErrorDomain::NETWORK,
                format!("network '{name}' is not active"),
            ))
        }
        Err(_) => {
            return Err(virt_plugin_sdk::error(
                ErrorNumber::NO_NETWORK,
                virt_core::ErrorDomain::NETWORK,
                format!("no network with matching name '{name}'"),
            ))
        }
    };
    virt_xml::network::Network::parse(&text)?
        .bridge
        .and_then(|bridge| bridge.name)
        .ok_or_else(|| {
            qemu_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                format!("network '{name}' has no bridge for guests to join"),
            )
        })
}

/// Points a network-backed interface at its network's bridge, as libvirt's live XML shows
/// it (`<source network='default' bridge='virbr0'/>`).
pub fn resolve_network_source(interface: &mut Interface) -> Result<(), Error> {
    if interface.interface_type != Some(InterfaceType::Network) {
        return Ok(());
    }
    let network = interface
        .source
        .as_ref()
        .and_then(|source| source.network.clone())
        .unwrap_or_default();
    let bridge = network_bridge(&network)?;
    interface.source.get_or_insert_with(Default::default).bridge = Some(bridge);
    Ok(())
}

/// Gives a `<disk type='volume'>` the path of its volume, as libvirt's
/// `virDomainDiskTranslateSourcePool` asks the storage driver: the pool's state file, which
/// the storage driver keeps beside this driver's run directory (`$run/../storage/POOL.xml`)
/// while the pool runs, names its type and target directory. The disk keeps its pool and
/// volume; the path is what QEMU opens ([`Disk::actual_type`](virt_xml::domain::Disk)).
pub fn resolve_volume_source(disk: &mut Disk) -> Result<(), Error> {
    if disk.disk_type != Some(StorageType::Volume) {
        return Ok(());
    }
    let Some(source) = disk.source.as_ref() else {
        return Ok(());
    };
    let (Some(pool_name), Some(volume)) = (source.pool.clone(), source.volume.clone()) else {
        return Err(qemu_error(
            ErrorNumber::XML_ERROR,
            "a volume disk needs both a pool and a volume name",
        ));
    };
    let storage_error = |code, detail: String| {
        virt_plugin_sdk::error(code, virt_core::ErrorDomain::STORAGE, detail)
    };
    let dirs = files::dirs();
    let text = match files::read(&beside(&dirs.run, "storage", &pool_name)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_)
            if files::stat(&beside(&dirs.config, "storage", &pool_name))
                .ok()
                .flatten()
                .is_some() =>
        {
            return Err(virt_plugin_sdk::error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                virt_core::ErrorDomain::DOMAIN,
                format!("storage pool '{pool_name}' containing volume '{volume}' is not active"),
            ));
        }
        Err(_) => {
            return Err(storage_error(
                ErrorNumber::NO_STORAGE_POOL,
                format!("no storage pool with matching name '{pool_name}'"),
            ))
        }
    };
    let pool = virt_xml::storage::StoragePool::parse(&text)?;
    use argv::volume_source::{FoundVolume, VolumeKind};
    use virt_xml::storage::PoolType;
    let pool_type = pool.pool_type.unwrap_or(PoolType::Dir);
    if !matches!(
        pool_type,
        PoolType::Dir | PoolType::Fs | PoolType::Netfs | PoolType::Logical
    ) {
        // The storage driver serves no other pool type, so none other is ever running.
        return Err(unsupported_config(format!(
            "disks on '{}' storage pools are not supported",
            pool_type.as_str()
        )));
    }
    let directory = pool
        .target
        .as_ref()
        .and_then(|target| target.path.clone())
        .unwrap_or_default();
    let path = format!("{}/{volume}", directory.trim_end_matches('/'));
    let Some(found) = files::stat(&path).ok().flatten() else {
        return Err(storage_error(
            ErrorNumber::NO_STORAGE_VOL,
            format!("no storage vol with matching name '{volume}'"),
        ));
    };
    let kind = match (pool_type, found.is_dir) {
        (PoolType::Logical, _) => VolumeKind::Block,
        (_, true) => VolumeKind::Dir,
        (_, false) => VolumeKind::File,
    };
    argv::volume_source::translate(disk, &pool, &FoundVolume { path, kind })
}

/// The values of the secrets `def`'s disks use, read from the secret driver's files beside
/// this driver's directories (libvirt's QEMU driver asks its secret driver in-process), and
/// those of the TLS keys `config` names: the command line takes one only if it uses TLS, so
/// one that cannot be read is left out here and reported there if it is needed.
pub fn secret_values(
    def: &Domain,
    config: &argv::DriverConfig,
) -> Result<std::collections::BTreeMap<argv::secrets::SecretLookup, Vec<u8>>, Error> {
    let dirs = files::dirs();
    let store = virt_secret_store::SecretDirs::beside(&dirs.config, &dirs.run);
    let mut values = std::collections::BTreeMap::new();
    for lookup in argv::secrets::referenced(def) {
        let kind = virt_xml::secret::SecretUsageType::from_keyword(&lookup.usage_type)
            .ok_or_else(|| lookup.not_found())?;
        let (uuid, usage_id) = lookup.uuid_and_usage_id();
        // Checks the secret's usage type as libvirt does (a secret of another kind is refused).
        let value = store.value_for(kind, uuid, usage_id, virt_core::ErrorDomain::SECRET)?;
        values.insert(lookup, value);
    }
    let tls_secrets = [
        &config.vnc_tls_x509_secret_uuid,
        &config.chardev_tls_x509_secret_uuid,
        &config.nbd_tls_x509_secret_uuid,
    ];
    for uuid in tls_secrets.into_iter().flatten() {
        let kind = virt_xml::secret::SecretUsageType::Tls;
        if let Ok(value) = store.value_for(kind, Some(uuid), None, virt_core::ErrorDomain::SECRET) {
            values.insert(argv::secrets::SecretLookup::uuid(uuid, "tls"), value);
        }
    }
    Ok(values)
}

/// The kernel's vhost-net for a KVM guest's tap, as libvirt's `qemuInterfaceOpenVhostNet`:
/// one descriptor of `/dev/vhost-net` (or the interface's `<backend vhost=...>`) per tap
/// descriptor (libvirt opens one per queue, as many as its taps).
/// A TCG guest, a non-virtio NIC or `<driver name='qemu'>` gets none; a host without
/// vhost-net gets none either, unless `<driver name='vhost'>` insists.
fn open_vhost_net(
    virt_type: Option<VirtType>,
    interface: &Interface,
    tap_count: usize,
) -> Result<Vec<u64>, Error> {
    let explicit = interface
        .driver
        .as_ref()
        .and_then(|driver| driver.name.as_deref())
        == Some("vhost");
    // libvirt's order: a TCG guest or QEMU's own driver first, then the model.
    if virt_type != Some(VirtType::Kvm) {
        return Ok(Vec::new());
    }
    if explicit && !argv::net::model_of(interface).starts_with("virtio") {
        return Err(unsupported_config(
            "vhost-net is only supported for virtio network interfaces",
        ));
    }
    if !argv::net::wants_vhost_net(interface) {
        return Ok(Vec::new());
    }
    let path = interface
        .backend
        .as_ref()
        .and_then(|backend| backend.vhost.clone())
        .unwrap_or_else(|| "/dev/vhost-net".into());
    // `files.open` would create a missing file: a host without vhost-net has no such node.
    let present = files::stat(&path).ok().flatten().is_some();
    // One per tap descriptor: the driver makes single-queue taps, and QEMU takes `vhostfds`
    // only beside as many `fds`.
    let mut handles = Vec::new();
    for _ in 0..tap_count {
        let opened = if present {
            files::open(&path, files::OpenMode::ReadWrite).map_err(|_| ())
        } else {
            Err(())
        };
        match opened {
            Ok(handle) => handles.push(handle),
            Err(_) if explicit => {
                for handle in handles {
                    files::close(handle);
                }
                return Err(unsupported_config(
                    "vhost-net was requested for an interface, but is unavailable",
                ));
            }
            // libvirt goes on with what it opened (QEMU's own backend if nothing).
            Err(_) => break,
        }
    }
    Ok(handles)
}

/// The `/dev/sgN` of each SCSI host device on an adapter, as libvirt's
/// `virSCSIDeviceGetSgName` finds it: the one entry of
/// `/sys/bus/scsi/devices/HOST:BUS:TARGET:UNIT/scsi_generic`.
fn scsi_generic_devices(def: &Domain) -> Result<Vec<(String, String)>, Error> {
    use virt_xml::domain::devices::HostdevSourceAddress;
    let mut found = Vec::new();
    for hostdev in &def.devices.hostdevs {
        let source = hostdev.source.clone().unwrap_or_default();
        if hostdev.hostdev_type.as_deref() != Some("scsi") || source.protocol.is_some() {
            continue;
        }
        let adapter = source
            .adapter
            .as_ref()
            .and_then(|adapter| adapter.name.clone())
            .unwrap_or_default();
        let host = adapter
            .strip_prefix("scsi_host")
            .and_then(|number| number.parse::<u32>().ok())
            .ok_or_else(|| {
                qemu_error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!("Cannot parse adapter '{adapter}'"),
                )
            })?;
        let Some(HostdevSourceAddress::Scsi {
            bus, target, unit, ..
        }) = source.address
        else {
            return Err(qemu_error(
                ErrorNumber::XML_ERROR,
                "SCSI host device without a source address",
            ));
        };
        let dir = format!("/sys/bus/scsi/devices/{host}:{bus}:{target}:{unit}/scsi_generic");
        let name = files::list_dir(&dir)
            .ok()
            .and_then(|names| names.into_iter().next())
            .ok_or_else(|| {
                virt_plugin_sdk::error(
                    ErrorNumber::SYSTEM_ERROR,
                    virt_core::ErrorDomain::NONE,
                    format!("cannot open directory '{dir}': No such file or directory"),
                )
            })?;
        let alias = hostdev.info.alias_name().unwrap_or_default().to_string();
        found.push((alias, format!("/dev/{name}")));
    }
    Ok(found)
}

/// Host resources a starting domain holds, released if the start fails.
#[derive(Default)]
struct StartResources {
    taps: Vec<String>,
    /// Descriptors opened for QEMU to inherit (vhost-net), closed once it has them.
    descriptors: Vec<u64>,
    /// Ports reserved for SPICE servers with `autoport`.
    ports: Vec<u16>,
    run_files: Vec<String>,
    /// Directories made for this start (memory backing), removed if it fails.
    dirs: Vec<String>,
}

impl StartResources {
    fn close_descriptors(&self) {
        for handle in &self.descriptors {
            files::close(*handle);
        }
    }

    fn release(&self) {
        self.close_descriptors();
        for port in &self.ports {
            virt_plugin_sdk::host::ports::release(*port);
        }
        for tap in &self.taps {
            let _ = net::delete_link(tap);
        }
        for file in &self.run_files {
            let _ = files::remove(file);
        }
        for dir in &self.dirs {
            remove_tree(dir);
        }
    }
}

/// Gives back the ports a stopped domain's SPICE and VNC servers with `autoport` were given.
fn release_display_ports(def: &Domain) {
    let autoport = def.devices.graphics.iter().filter(|graphics| {
        matches!(
            graphics.graphics_type,
            Some(GraphicsType::Spice | GraphicsType::Vnc)
        ) && graphics.autoport.is_some_and(|autoport| autoport.is_yes())
    });
    for graphics in autoport {
        for port in [graphics.port, graphics.tls_port].into_iter().flatten() {
            if let Ok(port) = u16::try_from(port) {
                virt_plugin_sdk::host::ports::release(port);
            }
        }
    }
}

/// The per-domain directories file-backed and huge-page guest RAM lives in
/// (`<memory backing dir>/<short name>`, `<hugetlbfs>/libvirt/qemu/<short name>`).
fn memory_dirs(def: &Domain, config: &argv::DriverConfig, short_name: &str) -> Vec<String> {
    if def.memory_backing.is_none() {
        return Vec::new();
    }
    std::iter::once(format!("{}/{short_name}", config.memory_backing_dir))
        .chain(
            config
                .hugetlbfs
                .iter()
                .map(|mount| format!("{}/libvirt/qemu/{short_name}", mount.path)),
        )
        .collect()
}

/// Removes a directory and what is in it, as far as the host lets it.
pub fn remove_tree(dir: &str) {
    for name in files::list_dir(dir).unwrap_or_default() {
        let path = format!("{dir}/{name}");
        match files::stat(&path) {
            Ok(Some(stat)) if stat.is_dir => remove_tree(&path),
            _ => {
                let _ = files::remove(&path);
            }
        }
    }
    let _ = files::remove_dir(dir);
}

/// What QEMU expects to find when it starts (libvirt's `qemuProcessPrepareHost`): the
/// firmware's variable store, copied from its template the first time, and the memory
/// backing directories.
fn prepare_host_files(
    def: &Domain,
    config: &argv::DriverConfig,
    short_name: &str,
    resources: &mut StartResources,
) -> Result<(), Error> {
    if let Some(nvram) = argv::disk::nvram_path(def, &config.nvram_dir) {
        if files::stat(&nvram)?.is_none() {
            let os = def.os.as_ref();
            let template = os
                .and_then(|os| os.nvram.as_ref())
                .and_then(|nvram| nvram.template.clone())
                .ok_or_else(|| {
                    let loader = os
                        .and_then(|os| os.loader.as_ref())
                        .and_then(|loader| loader.path.clone())
                        .unwrap_or_default();
                    qemu_error(
                        ErrorNumber::OPERATION_FAILED,
                        format!("unable to find any master var store for loader: {loader}"),
                    )
                })?;
            let contents = files::read(&template).map_err(|error| {
                qemu_error(
                    ErrorNumber::SYSTEM_ERROR,
                    format!("Failed to open file '{template}': {}", error.message),
                )
            })?;
            if let Some((dir, _)) = nvram.rsplit_once('/') {
                files::create_dir_all(dir)?;
            }
            files::write(&nvram, &contents)?;
        }
    }
    for dir in memory_dirs(def, config, short_name) {
        files::create_dir_all(&dir)?;
        resources.dirs.push(dir);
    }
    Ok(())
}

/// Creates the tap of a bridge or ethernet interface (named after its `<target dev>`, or
/// `vnetN`), enslaved to its bridge, and records the name in the interface.
pub fn create_tap(interface: &mut Interface) -> Result<net::TapDevice, Error> {
    let bridge = interface
        .source
        .as_ref()
        .and_then(|source| source.bridge.clone());
    let wanted = interface
        .target
        .as_ref()
        .and_then(|target| target.dev.clone())
        .unwrap_or_else(|| "vnet%d".into());
    let mtu = interface.mtu.as_ref().and_then(|mtu| mtu.size);
    let tap = net::create_tap(&wanted, bridge.as_deref(), mtu)?;
    interface.target.get_or_insert_with(Default::default).dev = Some(tap.name.clone());
    Ok(tap)
}

/// Starts QEMU for a definition that [`domain::parse_for_qemu`] completed; on success the
/// domain is running (or paused) with its records, status file and started event written.
/// `incoming` is the save or snapshot to load before the CPUs run (see `crate::save`).
pub fn start_domain(
    record: &DomainRecord,
    mut def: Domain,
    kind: StartKind,
    paused: bool,
    incoming: Option<StateLoader<'_>>,
) -> Result<LiveRecord, Error> {
    let layout = SpaceLayout::current()?;
    let emulator = def.devices.emulator.clone().unwrap_or_default();
    let caps = capabilities_for(&layout, &emulator)?;
    for disk in &mut def.devices.disks {
        resolve_volume_source(disk)?;
    }
    check_host_resources(&def)?;
    prepare::prepare_for_start(&mut def);
    prepare::assign_aliases(&mut def);
    let id = allocate_id()?;
    def.id = Some(id);
    let run_dir = layout.domain_run_dir(id, def.name());
    files::create_dir_all(&run_dir)?;
    let mut resources = StartResources::default();
    let result = start_with_resources(
        record,
        &mut def,
        &caps,
        &layout,
        id,
        &run_dir,
        kind,
        paused,
        incoming,
        &mut resources,
    );
    if result.is_err() {
        resources.release();
        let _ = files::remove_dir(&run_dir);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn start_with_resources(
    record: &DomainRecord,
    def: &mut Domain,
    caps: &crate::capabilities::QemuCaps,
    layout: &SpaceLayout,
    id: i32,
    run_dir: &str,
    kind: StartKind,
    paused: bool,
    incoming: Option<StateLoader<'_>>,
    resources: &mut StartResources,
) -> Result<LiveRecord, Error> {
    let monitor_path = format!("{run_dir}/monitor.sock");
    let master_key = format!("{run_dir}/master-key.aes");
    resources.run_files.push(monitor_path.clone());
    resources.run_files.push(master_key.clone());
    let master_key_bytes = launch::random_key()?;
    files::write(&master_key, &master_key_bytes)?;

    // Channel sockets QEMU listens on get a path in the run directory (libvirt's
    // channel target dir), so that the live XML says where the guest agent is.
    for channel in &mut def.devices.channels {
        if channel.chr_type != Some(ChrType::Unix) {
            continue;
        }
        let name = channel
            .target
            .as_ref()
            .and_then(|target| target.name.clone());
        let source = match channel.sources.first_mut() {
            Some(source) => source,
            None => {
                channel.sources.push(ChrSource {
                    mode: Some("bind".into()),
                    ..Default::default()
                });
                &mut channel.sources[0]
            }
        };
        // A path an earlier run generated (a snapshot's or save's live XML) is regenerated:
        // that run's directory is gone.
        let earlier_runs = format!("{}/domain-", layout.run_dir);
        let generated = source
            .path
            .as_deref()
            .is_some_and(|path| path.starts_with(&earlier_runs));
        if source.path.is_none() || generated {
            if let Some(name) = name {
                let path = format!("{run_dir}/{name}");
                resources.run_files.push(path.clone());
                source.path = Some(path);
            }
        }
    }

    // Taps for bridged interfaces, passed to QEMU as fd 3, 4, ...
    let mut pass_fds = Vec::new();
    let mut tap_fds = Vec::new();
    let mut vhost_fds = Vec::new();
    for interface in &mut def.devices.interfaces {
        let kind = interface.interface_type;
        if !matches!(
            kind,
            Some(InterfaceType::Bridge | InterfaceType::Ethernet | InterfaceType::Network)
        ) {
            continue;
        }
        resolve_network_source(interface)?;
        let tap = create_tap(interface)?;
        resources.taps.push(tap.name.clone());
        let fd = 3 + pass_fds.len() as i32;
        pass_fds.push(tap.handle);
        let alias = interface.info.alias_name().unwrap_or("").to_string();
        tap_fds.push((alias.clone(), vec![fd]));
        let vhost = open_vhost_net(def.virt_type, interface, 1)?;
        if !vhost.is_empty() {
            let first = 3 + pass_fds.len() as i32;
            let fds = (first..).take(vhost.len()).collect();
            pass_fds.extend(&vhost);
            resources.descriptors.extend(vhost);
            vhost_fds.push((alias, fds));
        }
    }

    let swtpm_socket = format!("{run_dir}/swtpm.sock");
    resources.run_files.push(swtpm_socket.clone());
    let config = layout.driver_config()?;
    let mut reserve = |_tls: bool| -> Result<u16, Error> {
        let (first, last) = argv::devices::DISPLAY_PORTS;
        let port = virt_plugin_sdk::host::ports::reserve(first, last)?;
        resources.ports.push(port);
        Ok(port)
    };
    argv::devices::assign_spice_ports(def, &config, &mut reserve)?;
    argv::devices::assign_vnc_ports(def, &mut reserve)?;
    let ctx = BuildContext {
        domain_dir: run_dir.to_string(),
        monitor_socket: monitor_path.clone(),
        channel_dir: run_dir.to_string(),
        privileged: matches!(layout.kind, crate::space::SpaceKind::System),
        start_paused: paused || incoming.is_some(),
        tap_fds,
        vhost_fds,
        scsi_generic: scsi_generic_devices(def)?,
        // A restore hands QEMU its state over the monitor once it is up.
        incoming: incoming.is_some().then(|| "defer".to_string()),
        disk_nodes: Vec::new(),
        master_key: true,
        secret_values: secret_values(def, &config)?,
        secret_wrap: argv::secrets::SecretWrap {
            master_key: master_key_bytes,
            iv: launch::random_iv()?,
        },
        pretend: false,
        swtpm_socket: Some(swtpm_socket.clone()),
    };
    prepare_host_files(def, &config, ctx.short_name(), resources)?;
    let cmd = argv::build_with_config(def, caps, &ctx, &config)?;
    // The emulated TPM's swtpm listens before QEMU connects to it.
    // virtiofsd and vhost-user-gpu, checked before anything starts, listening before QEMU.
    let back_ends = crate::vhost_user::plan(def, run_dir, &layout.log_dir)?;
    resources
        .run_files
        .extend(back_ends.iter().map(|back_end| back_end.socket.clone()));
    let swtpm = crate::swtpm::start(def, layout, &record.uuid, &swtpm_socket)?;
    let back_ends = match crate::vhost_user::start(&back_ends) {
        Ok(started) => started,
        Err(error) => {
            if let Some(swtpm) = swtpm {
                swtpm.stop();
            }
            return Err(error);
        }
    };
    let version = crate::qmp::QemuVersion::from_number(caps.version);
    let plan = LaunchPlan {
        log_path: layout.log_file(def.name()),
        monitor_path: monitor_path.clone(),
        pass_fds,
    };
    let launched = launch::launch(
        &cmd,
        &plan,
        &format!("{}.{}.{}", version.major, version.minor, version.micro),
    );
    // QEMU holds its own copies now (or never will).
    resources.close_descriptors();
    resources.descriptors.clear();
    let mut launched = match launched {
        Ok(launched) => {
            // It now lives as long as QEMU holds its socket (--terminate); the vhost-user
            // back ends as long as QEMU is connected.
            if let Some(swtpm) = swtpm {
                swtpm.release();
            }
            back_ends.release();
            launched
        }
        Err(error) => {
            if let Some(swtpm) = swtpm {
                swtpm.stop();
            }
            back_ends.stop();
            return Err(error);
        }
    };
    let nodes = argv::disk::number_nodes(def);
    let next_node_index = nodes.iter().flatten().max().copied().unwrap_or(0) + 1;
    let mut live = LiveRecord {
        id,
        xml: String::new(),
        state: state::RUNNING,
        reason: running_reason::BOOTED,
        pid: launched.pid,
        start_time: launched.start_time,
        process: launched.process,
        monitor: Some(launched.monitor.handle()),
        monitor_path,
        run_dir: run_dir.to_string(),
        log_path: plan.log_path.clone(),
        qemu_version: launched.version.as_number(),
        taps: resources.taps.clone(),
        pending_stop: PendingStop::None,
        fake_reboot: false,
        paused_shutdown: false,
        pending_unplugs: Vec::new(),
        started_ns: crate::util::now_ns(),
        next_node_index,
        disk_nodes: def
            .devices
            .disks
            .iter()
            .zip(nodes)
            .map(|(disk, nodes)| (disk.info.alias_name().unwrap_or("").to_string(), nodes))
            .collect(),
    };
    let setup = post_start_setup(&mut launched.monitor, def, &mut live, incoming, paused);
    if let Err(error) = setup {
        let _ = process::kill(launched.process, SIGKILL);
        let _ = process::wait(launched.process, 5_000);
        process::release(launched.process);
        launch::close_monitor(launched.monitor.handle());
        return Err(error);
    }
    let started = match kind {
        StartKind::Booted => started_detail::BOOTED,
        StartKind::Restored => started_detail::RESTORED,
        StartKind::FromSnapshot => started_detail::FROM_SNAPSHOT,
        StartKind::Migrated => started_detail::MIGRATED,
    };
    if paused {
        live.state = state::PAUSED;
        live.reason = match kind {
            StartKind::FromSnapshot => paused_reason::FROM_SNAPSHOT,
            StartKind::Migrated => paused_reason::MIGRATION,
            _ => paused_reason::USER,
        };
    } else {
        live.state = state::RUNNING;
        live.reason = match kind {
            StartKind::Booted => running_reason::BOOTED,
            StartKind::Restored => running_reason::RESTORED,
            StartKind::FromSnapshot => running_reason::FROM_SNAPSHOT,
            StartKind::Migrated => running_reason::MIGRATED,
        };
    }
    live.xml = def.to_xml();
    let loaded = Loaded {
        record: record.clone(),
        live: Some(live.clone()),
    };
    let mut record = record.clone();
    record.shutoff_reason = 0;
    records::put_json(records::DOMAIN, &record.uuid, &record);
    records::set_owner("process", live.process, &record.uuid);
    if let Some(monitor) = live.monitor {
        records::set_owner("stream", monitor, &record.uuid);
    }
    store_live(&loaded, &live);
    let reference = domain::reference(&record, Some(&live));
    emit_lifecycle(&reference, event_type::STARTED, started);
    // An incoming migration is paused by nature; libvirt announces only its start.
    if paused && kind != StartKind::Migrated {
        let detail = if kind == StartKind::FromSnapshot {
            suspended_detail::FROM_SNAPSHOT
        } else {
            suspended_detail::PAUSED
        };
        emit_lifecycle(&reference, event_type::SUSPENDED, detail);
    }
    // Events QEMU sent during setup (a RESUME after `cont`) are accounted for above.
    launched.monitor.events.clear();
    Ok(live)
}

/// What a running QEMU is told right after it answered: what happens on a guest reboot, the
/// pty paths of its consoles, the balloon target, loading saved state and resuming.
fn post_start_setup(
    monitor: &mut Monitor,
    def: &mut Domain,
    live: &mut LiveRecord,
    incoming: Option<StateLoader<'_>>,
    paused: bool,
) -> Result<(), Error> {
    if def.on_reboot == Some(LifecycleAction::Destroy) {
        monitor.run("set-action", json!({"reboot": "shutdown"}))?;
    }
    let has_pty = def
        .devices
        .serials
        .iter()
        .chain(&def.devices.consoles)
        .chain(&def.devices.channels)
        .chain(&def.devices.parallels)
        .any(|chr| chr.chr_type == Some(ChrType::Pty));
    if has_pty {
        let chardevs = monitor.run("query-chardev", Value::Null)?;
        fill_pty_paths(def, &chardevs);
    }
    let balloon = def
        .devices
        .memballoon
        .as_ref()
        .is_some_and(|balloon| !matches!(balloon.model, Some(MemballoonModel::None) | None));
    if balloon && def.current_memory_kib() < def.memory_kib() {
        monitor.run("balloon", json!({"value": def.current_memory_kib() * 1024}))?;
    }
    let vnc_auto = def.devices.graphics.iter().any(|graphics| {
        graphics.graphics_type == Some(GraphicsType::Vnc)
            && graphics.autoport.is_none_or(|autoport| autoport.is_yes())
    });
    if vnc_auto {
        if let Ok(vnc) = monitor.execute("query-vnc", None) {
            if let Some(port) = vnc
                .get("service")
                .and_then(Value::as_str)
                .and_then(|port| port.parse::<i32>().ok())
            {
                for graphics in &mut def.devices.graphics {
                    if graphics.graphics_type == Some(GraphicsType::Vnc) {
                        graphics.port = Some(port);
                        graphics.autoport = Some(virt_xml::xml::YesNo::Yes);
                    }
                }
            }
        }
    }
    if let Some(load) = incoming {
        load(monitor, live)?;
        if !paused {
            monitor.run("cont", Value::Null)?;
        }
    }
    Ok(())
}

/// Writes the pty QEMU opened for each pty character device into the live definition.
fn fill_pty_paths(def: &mut Domain, chardevs: &Value) {
    let Some(entries) = chardevs.as_array() else {
        return;
    };
    let path_of = |label: &str| -> Option<String> {
        entries
            .iter()
            .find(|entry| entry.get("label").and_then(Value::as_str) == Some(label))
            .and_then(|entry| entry.get("filename").and_then(Value::as_str))
            .and_then(|filename| filename.strip_prefix("pty:"))
            .map(str::to_string)
    };
    let mut serial0 = None;
    for list in [
        &mut def.devices.serials,
        &mut def.devices.parallels,
        &mut def.devices.channels,
    ] {
        for chr in list.iter_mut() {
            if chr.chr_type != Some(ChrType::Pty) {
                continue;
            }
            let alias = chr.info.alias_name().unwrap_or("").to_string();
            if let Some(path) = path_of(&format!("char{alias}")) {
                set_pty(chr, &path);
                if alias == "serial0" {
                    serial0 = Some(path);
                }
            }
        }
    }
    for (index, console) in def.devices.consoles.iter_mut().enumerate() {
        if console.chr_type != Some(ChrType::Pty) {
            continue;
        }
        let serial_console = index == 0 && matches!(console.target_type(), None | Some("serial"));
        let path = if serial_console {
            serial0.clone()
        } else {
            path_of(&format!("char{}", console.info.alias_name().unwrap_or("")))
        };
        if let Some(path) = path {
            set_pty(console, &path);
        }
    }
}

fn set_pty(chr: &mut virt_xml::domain::ChrDevice, path: &str) {
    chr.tty = Some(path.to_string());
    match chr.sources.first_mut() {
        Some(source) => source.path = Some(path.to_string()),
        None => chr.sources.push(ChrSource {
            path: Some(path.to_string()),
            ..Default::default()
        }),
    }
}

/// The end of a running domain: its host resources go, its records say why it stopped, a
/// transient domain disappears, and the stopped event goes out.
pub fn finalize_stop(domain: &Loaded, live: &LiveRecord, reason: i32, detail: i32) {
    if let Some(monitor) = live.monitor {
        launch::close_monitor(monitor);
        records::clear_owner("stream", monitor);
    }
    process::release(live.process);
    records::clear_owner("process", live.process);
    for tap in &live.taps {
        let _ = net::delete_link(tap);
    }
    let _ = files::remove(&live.monitor_path);
    let _ = files::remove(&format!("{}/master-key.aes", live.run_dir));
    if let Ok(def) = domain::live_def(live) {
        for channel in &def.devices.channels {
            if let Some(path) = channel.source().and_then(|source| source.path.as_deref()) {
                if path.starts_with(&live.run_dir) {
                    let _ = files::remove(path);
                }
            }
        }
        release_display_ports(&def);
        // The sockets the vhost-user back ends listened on (they end with QEMU).
        for socket in crate::vhost_user::sockets(&def, &live.run_dir) {
            let _ = files::remove(&socket);
        }
    }
    // Empty now, unless something unexpected stayed (then it stays for a human to see).
    let _ = files::remove_dir(&live.run_dir);
    if let (Ok(def), Ok(layout)) = (domain::live_def(live), SpaceLayout::current()) {
        let short_name = live.run_dir.rsplit("/domain-").next().unwrap_or_default();
        // QEMU leaves the RAM files it was told to create (libvirt deletes the tree too).
        if let Ok(config) = layout.driver_config() {
            for dir in memory_dirs(&def, &config, short_name) {
                remove_tree(&dir);
            }
        }
    }
    if let Ok(layout) = SpaceLayout::current() {
        let _ = files::remove(&layout.status_file(&domain.record.name));
    }
    host_state::delete(records::LIVE, domain.uuid());
    let reference = domain::reference(&domain.record, None);
    if domain.record.persistent() {
        let mut record = domain.record.clone();
        record.shutoff_reason = reason;
        records::put_json(records::DOMAIN, domain.uuid(), &record);
    } else {
        host_state::delete(records::DOMAIN, domain.uuid());
    }
    emit_lifecycle(&reference, event_type::STOPPED, detail);
}

/// Stops QEMU from a call: mark, publish, SIGTERM, wait, then SIGKILL unless graceful.
/// Returns false when a graceful stop did not end QEMU.
pub fn kill_qemu(
    domain: &Loaded,
    live: &mut LiveRecord,
    why: PendingStop,
    graceful: bool,
) -> Result<bool, Error> {
    live.pending_stop = why;
    records::put_json(records::LIVE, domain.uuid(), live);
    host_state::commit();
    let _ = process::kill(live.process, SIGTERM);
    let status = process::wait(live.process, 10_000)?;
    if !status.running {
        return Ok(true);
    }
    if graceful {
        return Ok(false);
    }
    let _ = process::kill(live.process, SIGKILL);
    let status = process::wait(live.process, 5_000)?;
    if status.running {
        return Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("Failed to terminate process {} with SIGKILL", live.pid),
        ));
    }
    Ok(true)
}

/// `virDomainDestroyFlags`.
pub fn destroy(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainDestroyFlags",
        flags,
        destroy_flags::GRACEFUL | destroy_flags::REMOVE_LOGS,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    let graceful = flags & destroy_flags::GRACEFUL != 0;
    if !kill_qemu(&domain, &mut live, PendingStop::Destroyed, graceful)? {
        live.pending_stop = PendingStop::None;
        records::put_json(records::LIVE, domain.uuid(), &live);
        return Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "Failed to terminate process {} with SIGTERM: Device or resource busy",
                live.pid
            ),
        ));
    }
    finalize_stop(
        &domain,
        &live,
        shutoff_reason::DESTROYED,
        stopped_detail::DESTROYED,
    );
    if flags & destroy_flags::REMOVE_LOGS != 0 {
        let _ = files::remove(&live.log_path);
    }
    Ok(())
}

/// `virDomainShutdownFlags`: ACPI power button, or the guest agent.
pub fn shutdown(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainShutdownFlags",
        flags,
        shutdown_flags::ACPI_POWER_BTN | shutdown_flags::GUEST_AGENT,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    if live.state != state::RUNNING {
        return Err(invalid_operation("domain is not running"));
    }
    let def = domain::live_def(&live)?;
    let agent_configured = crate::agent::socket_path(&def).is_some();
    let use_agent = flags & shutdown_flags::GUEST_AGENT != 0 || (flags == 0 && agent_configured);
    if use_agent {
        match crate::agent::shutdown(&def, "powerdown") {
            Ok(()) => return Ok(()),
            Err(error) if flags & shutdown_flags::ACPI_POWER_BTN == 0 => return Err(error),
            Err(_) => {}
        }
    }
    live.fake_reboot = false;
    with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor.run("system_powerdown", Value::Null).map(|_| ())
    })
}

/// `virDomainReboot`: ACPI (power off, then the driver resets and resumes: libvirt's fake
/// reboot) or the guest agent.
pub fn reboot(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags(
        "qemuDomainReboot",
        flags,
        reboot_flags::ACPI_POWER_BTN | reboot_flags::GUEST_AGENT,
    )?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    let def = domain::live_def(&live)?;
    let agent_configured = crate::agent::socket_path(&def).is_some();
    if flags & reboot_flags::GUEST_AGENT != 0 || (flags == 0 && agent_configured) {
        match crate::agent::shutdown(&def, "reboot") {
            Ok(()) => return Ok(()),
            Err(error) if flags & reboot_flags::ACPI_POWER_BTN == 0 => return Err(error),
            Err(_) => {}
        }
    }
    live.fake_reboot = true;
    with_monitor(&domain, &mut live, Expectation::default(), |monitor, _| {
        monitor.run("system_powerdown", Value::Null).map(|_| ())
    })
}

/// `virDomainReset`.
pub fn reset(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    check_flags("qemuDomainReset", flags, 0)?;
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    with_monitor(
        &domain,
        &mut live,
        Expectation::default(),
        |monitor, live| {
            monitor.run("system_reset", Value::Null)?;
            // A reset brings a crashed guest back.
            if live.state == state::CRASHED {
                live.state = state::PAUSED;
                live.reason = paused_reason::CRASHED;
            }
            Ok(())
        },
    )
}

/// `virDomainSuspend`.
pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    if live.state == state::PAUSED {
        return Ok(());
    }
    let expect = Expectation {
        paused_reason: Some(paused_reason::USER),
        running_reason: None,
    };
    with_monitor(&domain, &mut live, expect, |monitor, _| {
        monitor.run("stop", Value::Null)?;
        ensure_event(monitor, "STOP");
        Ok(())
    })
}

/// `virDomainResume`.
pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let uuid = domain::uuid_text(dom);
    jobs::begin(&job_name(&uuid))?;
    let (domain, mut live) = running(dom)?;
    if live.state == state::RUNNING {
        return Ok(());
    }
    if matches!(live.state, state::SHUTDOWN | state::CRASHED)
        && live.reason != paused_reason::CRASHED
    {
        return Err(invalid_operation("domain is not paused"));
    }
    let expect = Expectation {
        paused_reason: None,
        running_reason: Some(running_reason::UNPAUSED),
    };
    with_monitor(&domain, &mut live, expect, |monitor, _| {
        monitor.run("cont", Value::Null)?;
        ensure_event(monitor, "RESUME");
        Ok(())
    })
}

/// QEMU sends STOP/RESUME before the command's reply; if it has not arrived, the command's
/// success stands for it (a late real one changes nothing).
pub fn ensure_event(monitor: &mut Monitor, name: &str) {
    if !monitor.events.iter().any(|event| event.name == name) {
        monitor.events.push(qmp::Event {
            name: name.to_string(),
            data: Value::Null,
            timestamp_us: 0,
        });
    }
}

// ---- handlers ----

/// A QEMU process exited.
pub fn handle_process_exited(handle: u64, status: &process::ProcessStatus) {
    let Some(uuid) = records::owner_of("process", handle) else {
        return;
    };
    handler_job(&uuid);
    let Some(domain) = domain::load(&uuid) else {
        return;
    };
    let Some(live) = domain.live.clone() else {
        return;
    };
    if live.process != handle {
        return;
    }
    let (reason, detail) = match live.pending_stop {
        // The call that stopped QEMU finishes the job.
        PendingStop::Destroyed | PendingStop::Saved | PendingStop::FromSnapshot => return,
        PendingStop::Shutdown => (shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN),
        PendingStop::Crashed => (shutoff_reason::CRASHED, stopped_detail::CRASHED),
        PendingStop::None if live.state == state::SHUTDOWN => {
            (shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN)
        }
        PendingStop::None => {
            virt_plugin_sdk::warn!(
                "QEMU of domain '{}' exited unexpectedly (status {:?}, signal {:?})",
                domain.record.name,
                status.exit_code,
                status.signal
            );
            (shutoff_reason::CRASHED, stopped_detail::FAILED)
        }
    };
    finalize_stop(&domain, &live, reason, detail);
}

/// A handler takes the domain's job like a call, so that it acts on what the call that
/// held the job left (a destroy that removed the status file is not undone by a late event).
/// A call may hold the job longer than a handler waits (a long save): then the event is
/// applied anyway, as the alternative is a domain that never learns its QEMU died.
fn handler_job(uuid: &str) {
    if let Err(error) = jobs::begin(&job_name(uuid)) {
        virt_plugin_sdk::warn!(
            "event for domain {uuid} applied without its job: {}",
            error.message
        );
    }
}

/// An unclaimed frame on a monitor: an event to apply (replies to abandoned commands are
/// dropped).
pub fn handle_stream_frame(handle: u64, frame: &[u8]) {
    let Ok(qmp::Message::Event(event)) = qmp::parse_message(frame) else {
        return;
    };
    let Some(uuid) = records::owner_of("stream", handle) else {
        return;
    };
    handler_job(&uuid);
    let Some(domain) = domain::load(&uuid) else {
        return;
    };
    let Some(mut live) = domain.live.clone() else {
        return;
    };
    if live.monitor != Some(handle) {
        return;
    }
    let mut monitor = Monitor::attach(handle);
    apply_events(
        &domain,
        &mut live,
        &mut monitor,
        Expectation::default(),
        vec![event],
    );
    store_live(&domain, &live);
    monitor.release();
}

/// A monitor closed: QEMU is going away; its exit is handled when the host reaps it.
pub fn handle_stream_closed(handle: u64) {
    records::clear_owner("stream", handle);
}

// ---- restart ----

/// After a daemon or plugin restart: adopt each recorded QEMU that is still the same process,
/// reconnect its monitor and resync its state; report the others stopped.
pub fn reattach_all() {
    let all = domain::all();
    let live_dirs: Vec<String> = all
        .iter()
        .filter_map(|domain| domain.live.as_ref().map(|live| live.run_dir.clone()))
        .collect();
    for domain in &all {
        let Some(live) = domain.live.clone() else {
            continue;
        };
        if let Err(error) = reattach(domain, live.clone()) {
            virt_plugin_sdk::warn!(
                "cannot reattach domain '{}': {}",
                domain.record.name,
                error.message
            );
        }
    }
    reap_interrupted_starts(&all, &live_dirs);
}

/// After a restart: a domain run directory that no running domain's record names is what a
/// start left when the daemon died before the start was committed (records are written
/// when the call returns); an image helper's socket is what an offline snapshot left. Its QEMU, if it still runs, is told to quit over its monitor and
/// the directory and status file are removed, so the records' word holds: not running.
fn reap_interrupted_starts(all: &[Loaded], live_dirs: &[String]) {
    let Ok(layout) = SpaceLayout::current() else {
        return;
    };
    for entry in files::list_dir(&layout.run_dir).unwrap_or_default() {
        if entry.starts_with("helper-") && entry.ends_with(".sock") {
            // The QEMU an offline snapshot was using (`snapshots::Helper`).
            let socket = format!("{}/{entry}", layout.run_dir);
            if let Ok((mut monitor, _)) = Monitor::connect(&socket, 500, 5_000) {
                let _ = monitor.execute("quit", None);
                launch::close_monitor(monitor.handle());
                virt_plugin_sdk::warn!("stopped the image helper QEMU left on {socket}");
            }
            let _ = files::remove(&socket);
            continue;
        }
        let Some((id, _)) = entry
            .strip_prefix("domain-")
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let dir = format!("{}/{entry}", layout.run_dir);
        if id.parse::<i32>().is_err() || live_dirs.contains(&dir) {
            continue;
        }
        let monitor_path = format!("{dir}/monitor.sock");
        let stopped = match Monitor::connect(&monitor_path, 500, 5_000) {
            Ok((mut monitor, _)) => {
                let quit = monitor.execute("quit", None).is_ok();
                launch::close_monitor(monitor.handle());
                quit
            }
            Err(_) => false,
        };
        virt_plugin_sdk::warn!(
            "removing {dir}, left by a start the daemon did not finish{}",
            if stopped {
                " (its QEMU was told to quit)"
            } else {
                ""
            }
        );
        remove_tree(&dir);
    }
    for domain in all.iter().filter(|domain| domain.live.is_none()) {
        let status = layout.status_file(&domain.record.name);
        if files::stat(&status).ok().flatten().is_some() {
            let _ = files::remove(&status);
        }
    }
}

fn reattach(domain: &Loaded, mut live: LiveRecord) -> Result<(), Error> {
    let adopted = process::adopt(live.pid, live.start_time);
    let handle = match adopted {
        Ok(handle) => handle,
        Err(_) => {
            // It died while nobody watched: shut down if it was on its way, else it failed.
            let (reason, detail) = match (live.pending_stop, live.state) {
                (PendingStop::Shutdown, _) | (_, state::SHUTDOWN) => {
                    (shutoff_reason::SHUTDOWN, stopped_detail::SHUTDOWN)
                }
                (PendingStop::Destroyed, _) => {
                    (shutoff_reason::DESTROYED, stopped_detail::DESTROYED)
                }
                (PendingStop::Saved, _) => (shutoff_reason::SAVED, stopped_detail::SAVED),
                (PendingStop::Crashed, _) => (shutoff_reason::CRASHED, stopped_detail::CRASHED),
                _ => (shutoff_reason::CRASHED, stopped_detail::FAILED),
            };
            live.monitor = None;
            finalize_stop(domain, &live, reason, detail);
            return Ok(());
        }
    };
    live.process = handle;
    records::set_owner("process", handle, domain.uuid());
    match Monitor::connect(&live.monitor_path, 1_000, 10_000) {
        Ok((mut monitor, _)) => {
            live.monitor = Some(monitor.handle());
            records::set_owner("stream", monitor.handle(), domain.uuid());
            if let Ok(status) = monitor.execute("query-status", None) {
                sync_state(&mut live, &status);
            }
            let pending = std::mem::take(&mut monitor.events);
            apply_events(
                domain,
                &mut live,
                &mut monitor,
                Expectation::default(),
                pending,
            );
            store_live(domain, &live);
        }
        Err(error) => {
            // A QEMU we cannot talk to is useless: libvirt kills it.
            virt_plugin_sdk::warn!(
                "cannot reconnect to the monitor of domain '{}' ({error:?}): killing QEMU {}",
                domain.record.name,
                live.pid
            );
            let _ = process::kill(handle, SIGKILL);
            let _ = process::wait(handle, 5_000);
            live.monitor = None;
            finalize_stop(
                domain,
                &live,
                shutoff_reason::FAILED,
                stopped_detail::FAILED,
            );
        }
    }
    Ok(())
}

/// Brings the recorded state in line with what QEMU says (`query-status`).
fn sync_state(live: &mut LiveRecord, status: &Value) {
    let running = status
        .get("running")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let qemu_status = status.get("status").and_then(Value::as_str).unwrap_or("");
    match (running, qemu_status) {
        (true, _) if live.state != state::RUNNING => {
            live.state = state::RUNNING;
            live.reason = running_reason::UNPAUSED;
        }
        (false, "shutdown") => {
            live.state = state::SHUTDOWN;
            live.reason = 0;
        }
        (false, "guest-panicked") => {
            live.state = state::CRASHED;
            live.reason = 1;
        }
        (false, _) if live.state == state::RUNNING => {
            live.state = state::PAUSED;
            live.reason = paused_reason::UNKNOWN;
        }
        _ => {}
    }
}

/// Starts every autostart domain that is not running (libvirt does it when the driver starts;
/// here when its space is first bound in this process).
pub fn autostart_all() {
    for domain in domain::all() {
        if !domain.record.autostart || domain.is_active() {
            continue;
        }
        let reference = domain.reference();
        if let Err(error) = create(&reference, 0) {
            virt_plugin_sdk::warn!(
                "Failed to autostart VM '{}': {}",
                domain.record.name,
                error.message
            );
        }
    }
}
