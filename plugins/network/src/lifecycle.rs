//! What changes networks: define, undefine, start, destroy, autostart, update, and the
//! re-adoption of running networks when a daemon starts.
//!
//! A start makes, in order, the bridge (the host's `bridges`), the firewall rules (`nft`),
//! and dnsmasq; a failure at any step undoes the steps before it, so a network that failed
//! to start leaves no bridge, rule, process or file. Destroy undoes them in reverse, from
//! what the record says was made. Every change holds the `networks` job.

use virt_core::consts::{
    connect_list_all_networks_flags as list_flags, network_event_lifecycle_type as event_type,
    network_update_flags,
};
use virt_core::{Error, ErrorNumber};
use virt_plugin_sdk::host::process::{Output, SpawnRequest};
use virt_plugin_sdk::host::{command, events, files, jobs, process};
use virt_plugin_sdk::types::{Event, NetworkRef};
use virt_xml::network::{ForwardMode, Network};
use virt_xml::FormatFlags;

use crate::error::{
    from_host, internal, network_error, no_network_name, no_network_uuid, not_active,
};
use crate::records::{self, Live, NetworkRecord, Process};
use crate::setup;

/// One change to networks at a time: names, bridges and subnets are checked against all.
const NETWORKS_JOB: &str = "networks";

/// Takes the networks job; the host holds it until the call returns.
fn begin_job() -> Result<(), Error> {
    jobs::begin(NETWORKS_JOB).map_err(from_host)
}

fn emit(record: &NetworkRecord, kind: i32) {
    events::emit(&Event::NetworkLifecycle((record.reference(), kind, 0)));
}

/// The record behind a reference (resolved by UUID, as libvirt does).
pub fn resolve(net: &NetworkRef) -> Result<NetworkRecord, Error> {
    let uuid = virt_core::Uuid::from(net.uuid).to_string();
    records::load(&uuid)?.ok_or_else(|| no_network_uuid(&uuid))
}

pub fn lookup_by_name(name: &str) -> Result<NetworkRef, Error> {
    records::find_by_name(name)?
        .map(|record| record.reference())
        .ok_or_else(|| no_network_name(name))
}

pub fn lookup_by_uuid(uuid: virt_core::Uuid) -> Result<NetworkRef, Error> {
    records::load(&uuid.to_string())?
        .map(|record| record.reference())
        .ok_or_else(|| no_network_uuid(&uuid.to_string()))
}

/// `virConnectListAllNetworks` with its filter flags.
pub fn list_all(flags: u32) -> Result<Vec<NetworkRef>, Error> {
    let all = list_flags::INACTIVE
        | list_flags::ACTIVE
        | list_flags::PERSISTENT
        | list_flags::TRANSIENT
        | list_flags::AUTOSTART
        | list_flags::NO_AUTOSTART;
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        all,
        "virConnectListAllNetworks",
    )?;
    let pair = |yes: u32, no: u32, value: bool| {
        let (wants_yes, wants_no) = (flags & yes != 0, flags & no != 0);
        wants_yes == wants_no || (value && wants_yes) || (!value && wants_no)
    };
    let mut records = records::all()?;
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records
        .iter()
        .filter(|r| pair(list_flags::ACTIVE, list_flags::INACTIVE, r.is_active()))
        .filter(|r| {
            pair(
                list_flags::PERSISTENT,
                list_flags::TRANSIENT,
                r.config.is_some(),
            )
        })
        .filter(|r| pair(list_flags::AUTOSTART, list_flags::NO_AUTOSTART, r.autostart))
        .map(NetworkRecord::reference)
        .collect())
}

pub fn get_xml(net: &NetworkRef, flags: u32) -> Result<String, Error> {
    const INACTIVE: u32 = 1;
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        INACTIVE,
        "virNetworkGetXMLDesc",
    )?;
    let record = resolve(net)?;
    let xml = if flags & INACTIVE != 0 {
        record.config.as_deref().or(record.current_xml())
    } else {
        record.current_xml()
    }
    .ok_or_else(|| internal(format!("network '{}' has no definition", record.name)))?;
    let network = Network::parse(xml)?;
    Ok(network.format(&FormatFlags {
        inactive: flags & INACTIVE != 0,
        ..FormatFlags::default()
    }))
}

pub fn bridge_name(net: &NetworkRef) -> Result<String, Error> {
    let record = resolve(net)?;
    let xml = record.current_xml().unwrap_or_default();
    Network::parse(xml)?
        .bridge
        .and_then(|bridge| bridge.name)
        .ok_or_else(|| {
            network_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("network '{}' does not have a bridge name.", record.name),
            )
        })
}

/// `virNetworkGetDHCPLeases`: the current leases in the network's dnsmasq lease file (none
/// when the network has no dnsmasq, or has not run one yet).
pub fn dhcp_leases(
    net: &NetworkRef,
    mac: Option<&str>,
    flags: u32,
) -> Result<Vec<virt_core::NetworkDhcpLease>, Error> {
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        0,
        "virNetworkGetDHCPLeases",
    )?;
    if let Some(mac) = mac {
        if virt_xml::domain::parse_mac(mac).is_none() {
            return Err(network_error(ErrorNumber::INVALID_MAC, mac));
        }
    }
    let record = resolve(net)?;
    let network = Network::parse(record.current_xml().unwrap_or_default())?;
    let Some(conf_path) = setup::dnsmasq_conf_path(&network, &records::dirs()) else {
        return Ok(Vec::new());
    };
    let path = sibling(&conf_path, "leases");
    if files::stat(&path).map_err(from_host)?.is_none() {
        return Ok(Vec::new());
    }
    let text = files::read(&path).map_err(from_host)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    Ok(crate::leases::current(
        &String::from_utf8_lossy(&text),
        &network,
        mac,
        now,
    ))
}

// ---- definitions ----

/// Parses a definition and completes it as libvirt's network driver does: a UUID, a bridge
/// name (`virbrN`, the first free) and a MAC address for networks that have a bridge.
fn parse_definition(xml: &str, others: &[NetworkRecord]) -> Result<Network, Error> {
    let mut network = Network::parse(xml)?;
    network.post_parse()?;
    if network.name().is_empty() {
        return Err(network_error(
            ErrorNumber::XML_ERROR,
            "missing name in network definition",
        ));
    }
    if network.name().contains('/') {
        return Err(network_error(
            ErrorNumber::XML_ERROR,
            format!("name {} cannot contain '/'", network.name()),
        ));
    }
    if has_bridge(&network) {
        setup::complete_bridge(&mut network, others)?;
    }
    setup::check_conflicts(&network, others)?;
    Ok(network)
}

/// Networks whose guests sit on a bridge libvirt makes (not `bridge`/`passthrough`/... modes).
pub fn has_bridge(network: &Network) -> bool {
    matches!(
        network.forward.as_ref().and_then(|forward| forward.mode),
        None | Some(ForwardMode::Nat) | Some(ForwardMode::Route) | Some(ForwardMode::Open)
    )
}

fn inactive_xml(network: &Network) -> String {
    network.format(&FormatFlags {
        inactive: true,
        ..FormatFlags::default()
    })
}

/// Finds the record a new definition replaces (same name and UUID), refusing a name or UUID
/// another network has.
fn existing_for(network: &Network, all: &[NetworkRecord]) -> Result<Option<NetworkRecord>, Error> {
    let uuid = network.uuid.map(|u| u.to_string()).unwrap_or_default();
    for record in all {
        let same_name = record.name == network.name();
        let same_uuid = record.uuid == uuid;
        if same_name && !same_uuid {
            return Err(network_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "network '{}' already exists with uuid {}",
                    record.name, record.uuid
                ),
            ));
        }
        if same_uuid && !same_name {
            return Err(network_error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "network '{}' is already defined with uuid {}",
                    record.name, record.uuid
                ),
            ));
        }
        if same_uuid && same_name {
            return Ok(Some(record.clone()));
        }
    }
    Ok(None)
}

pub fn define_xml(xml: &str, flags: u32) -> Result<NetworkRef, Error> {
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        virt_core::consts::network_define_flags::VALIDATE,
        "virNetworkDefineXML",
    )?;
    begin_job()?;
    let all = records::all()?;
    let first = Network::parse(xml)?;
    let existing = existing_for(&first, &all)?;
    let others: Vec<NetworkRecord> = all
        .into_iter()
        .filter(|r| Some(&r.uuid) != existing.as_ref().map(|e| &e.uuid))
        .collect();
    let network = parse_definition(xml, &others)?;
    let mut record = existing.unwrap_or_else(|| NetworkRecord {
        uuid: network.uuid.map(|u| u.to_string()).unwrap_or_default(),
        name: network.name().to_string(),
        config: None,
        autostart: false,
        live: None,
    });
    let previous = record.clone();
    record.config = Some(inactive_xml(&network));
    records::write_config_files(&record).inspect_err(|_| {
        let _ = records::write_config_files(&previous);
    })?;
    records::store(&record);
    emit(&record, event_type::DEFINED);
    Ok(record.reference())
}

pub fn undefine(net: &NetworkRef) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve(net)?;
    if record.config.is_none() {
        return Err(network_error(
            ErrorNumber::OPERATION_INVALID,
            "can't undefine transient network",
        ));
    }
    let dirs = records::dirs();
    files::remove(&dirs.config_file(&record.name)).map_err(from_host)?;
    files::remove(&dirs.autostart_file(&record.name)).map_err(from_host)?;
    record.config = None;
    record.autostart = false;
    if record.is_active() {
        records::store(&record);
    } else {
        records::delete(&record.uuid);
    }
    emit(&record, event_type::UNDEFINED);
    Ok(())
}

pub fn set_autostart(net: &NetworkRef, autostart: bool) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve(net)?;
    if record.config.is_none() {
        return Err(network_error(
            ErrorNumber::OPERATION_INVALID,
            "cannot set autostart for transient network",
        ));
    }
    record.autostart = autostart;
    records::write_config_files(&record)?;
    records::store(&record);
    Ok(())
}

// ---- running ----

pub fn create(net: &NetworkRef) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve(net)?;
    if record.is_active() {
        return Err(network_error(
            ErrorNumber::OPERATION_INVALID,
            "network is already active",
        ));
    }
    let xml = record
        .config
        .clone()
        .ok_or_else(|| internal(format!("network '{}' has no definition", record.name)))?;
    let network = Network::parse(&xml)?;
    let others: Vec<NetworkRecord> = records::all()?
        .into_iter()
        .filter(|r| r.uuid != record.uuid)
        .collect();
    setup::check_start_conflicts(&network, &others)?;
    record.live = Some(start(&record, &network)?);
    records::store(&record);
    emit(&record, event_type::STARTED);
    Ok(())
}

pub fn create_xml(xml: &str, flags: u32) -> Result<NetworkRef, Error> {
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        virt_core::consts::network_create_flags::VALIDATE,
        "virNetworkCreateXML",
    )?;
    begin_job()?;
    let all = records::all()?;
    let first = Network::parse(xml)?;
    if let Some(existing) = existing_for(&first, &all)? {
        if existing.is_active() {
            return Err(network_error(
                ErrorNumber::OPERATION_INVALID,
                format!("network is already active as '{}'", existing.name),
            ));
        }
    }
    let network = parse_definition(
        xml,
        &all.iter()
            .filter(|r| r.name != first.name())
            .cloned()
            .collect::<Vec<_>>(),
    )?;
    setup::check_start_conflicts(&network, &all)?;
    let mut record = all
        .into_iter()
        .find(|r| r.name == network.name())
        .unwrap_or_else(|| NetworkRecord {
            uuid: network.uuid.map(|u| u.to_string()).unwrap_or_default(),
            name: network.name().to_string(),
            config: None,
            autostart: false,
            live: None,
        });
    record.live = Some(start(&record, &network)?);
    records::store(&record);
    emit(&record, event_type::STARTED);
    Ok(record.reference())
}

pub fn destroy(net: &NetworkRef) -> Result<(), Error> {
    begin_job()?;
    let mut record = resolve(net)?;
    let Some(live) = record.live.take() else {
        return Err(not_active(&record.name));
    };
    stop(&record.name, &live);
    if record.config.is_some() {
        records::store(&record);
    } else {
        records::delete(&record.uuid);
    }
    emit(&record, event_type::STOPPED);
    Ok(())
}

/// Makes the running network: bridge, firewall, dnsmasq, status file. All or nothing.
fn start(record: &NetworkRecord, network: &Network) -> Result<Live, Error> {
    let dirs = records::dirs();
    dirs.create()?;
    let mut live = Live {
        xml: network.to_xml(),
        bridge: None,
        firewall_removal: None,
        dnsmasq: None,
    };
    let made = (|| {
        if has_bridge(network) {
            let request = setup::bridge_request(network)?;
            let name = request.name.clone();
            virt_plugin_sdk::host::bridges::create(&request).map_err(from_host)?;
            live.bridge = Some(name);
        }
        if let Some((add, remove)) = setup::firewall_scripts(network)? {
            run_nft(&add).map_err(|e| {
                network_error(
                    e.code(),
                    format!(
                        "cannot add the firewall rules of network '{}': {}",
                        record.name,
                        e.message()
                    ),
                )
            })?;
            live.firewall_removal = Some(remove);
        }
        if let Some(files_to_write) = setup::dnsmasq_files(network, &dirs)? {
            files_to_write.write(&dirs)?;
            live.dnsmasq = Some(spawn_dnsmasq(&files_to_write.conf_path, &record.name)?);
        }
        files::write(&dirs.status_file(&record.name), live.xml.as_bytes()).map_err(from_host)?;
        Ok(())
    })();
    match made {
        Ok(()) => Ok(live),
        Err(error) => {
            stop(&record.name, &live);
            Err(error)
        }
    }
}

/// Undoes what `live` says was made, in reverse; carries on past failures (logged), so a
/// network always stops.
fn stop(name: &str, live: &Live) {
    let dirs = records::dirs();
    if let Some(dnsmasq) = &live.dnsmasq {
        stop_process(dnsmasq);
    }
    if let Ok(network) = Network::parse(&live.xml) {
        for path in setup::dnsmasq_paths(&network, &dirs) {
            let _ = files::remove(&path);
        }
    }
    if let Some(removal) = &live.firewall_removal {
        if let Err(error) = run_nft(removal) {
            virt_plugin_sdk::warn!(
                "cannot remove the firewall rules of network '{name}': {}",
                error.message()
            );
        }
    }
    if let Some(bridge) = &live.bridge {
        if let Err(error) = virt_plugin_sdk::host::bridges::delete(bridge) {
            virt_plugin_sdk::warn!("cannot delete bridge '{bridge}': {}", error.message);
        }
    }
    let _ = files::remove(&dirs.status_file(name));
}

/// How long a start waits for dnsmasq to be ready (its pid file), polling every
/// DNSMASQ_POLL_MS.
const DNSMASQ_READY_MS: u32 = 2_000;
const DNSMASQ_POLL_MS: u32 = 5;

const NFT: &str = "/usr/sbin/nft";
const DNSMASQ: &str = "/usr/sbin/dnsmasq";

fn run_nft(script: &str) -> Result<(), Error> {
    let output = command::run(&command::RunRequest {
        program: NFT.into(),
        args: vec!["-f".into(), "-".into()],
        env: vec![],
        cwd: None,
        stdin: script.as_bytes().to_vec(),
        timeout_ms: 30_000,
    })
    .map_err(from_host)?;
    if output.exit_code == Some(0) {
        Ok(())
    } else {
        Err(network_error(
            ErrorNumber::SYSTEM_ERROR,
            format!(
                "nft failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ))
    }
}

fn spawn_dnsmasq(conf_path: &str, name: &str) -> Result<Process, Error> {
    let pid_file = sibling(conf_path, "pid");
    // Its appearance says this dnsmasq is ready: one left by an earlier run must not.
    let _ = files::remove(&pid_file);
    let handle = process::spawn(&SpawnRequest {
        program: DNSMASQ.into(),
        args: vec![
            // Supervised by the host (adopted again after a daemon restart), not daemonized.
            "--keep-in-foreground".into(),
            format!("--conf-file={conf_path}"),
            // Its own lease and pid files beside the configuration, not the system
            // dnsmasq's (/var/lib/misc/dnsmasq.leases, /run/dnsmasq.pid).
            format!("--dhcp-leasefile={}", sibling(conf_path, "leases")),
            format!("--pid-file={pid_file}"),
        ],
        env: vec![],
        cwd: None,
        stdout: Output::Discard,
        stderr: Output::Discard,
        pass_fds: vec![],
    })
    .map_err(from_host)?;
    let identity = process::status(handle)
        .and_then(|status| Ok((status, process::start_time(handle)?)))
        .map_err(from_host);
    let (status, start_time) = match identity {
        Ok(identity) => identity,
        Err(error) => {
            let _ = process::kill(handle, 9);
            let _ = process::wait(handle, 5_000);
            process::release(handle);
            return Err(error);
        }
    };
    // dnsmasq checks its configuration and binds its sockets, then writes its pid file (in
    // the foreground too); one that refuses its configuration exits at once. Wait for
    // either, as libvirt waits for a daemonizing dnsmasq's parent to exit, but no longer
    // than DNSMASQ_READY_MS.
    let mut waited_ms = 0;
    while waited_ms < DNSMASQ_READY_MS {
        if let Ok(status) = process::wait(handle, DNSMASQ_POLL_MS) {
            if !status.running {
                process::release(handle);
                return Err(network_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!(
                        "dnsmasq of network '{name}' exited at start (status {:?}, signal {:?})",
                        status.exit_code, status.signal
                    ),
                ));
            }
        }
        if files::stat(&pid_file).ok().flatten().is_some() {
            break;
        }
        waited_ms += DNSMASQ_POLL_MS;
    }
    Ok(Process {
        pid: status.pid,
        start_time,
        handle,
    })
}

/// `DIR/NAME.conf` → `DIR/NAME.EXTENSION`.
pub fn sibling(conf_path: &str, extension: &str) -> String {
    let stem = conf_path.strip_suffix(".conf").unwrap_or(conf_path);
    format!("{stem}.{extension}")
}

fn stop_process(owned: &Process) {
    let handle = if owned.handle != 0 {
        Some(owned.handle)
    } else {
        process::adopt(owned.pid, owned.start_time).ok()
    };
    if let Some(handle) = handle {
        let _ = process::kill(handle, 15);
        if process::wait(handle, 5_000).map_or(true, |s| s.running) {
            let _ = process::kill(handle, 9);
            let _ = process::wait(handle, 5_000);
        }
        process::release(handle);
    }
}

// ---- updates ----

pub fn update(
    net: &NetworkRef,
    command: u32,
    section: u32,
    parent_index: i32,
    xml: &str,
    flags: u32,
) -> Result<(), Error> {
    let all_flags = network_update_flags::LIVE | network_update_flags::CONFIG;
    Error::check_flags(
        virt_core::ErrorDomain::NETWORK,
        flags,
        all_flags,
        "virNetworkUpdate",
    )?;
    begin_job()?;
    let mut record = resolve(net)?;
    // AFFECT_CURRENT (0): the live definition if running, else the persistent one.
    let (live, config) = match flags & all_flags {
        0 => (record.is_active(), !record.is_active()),
        f => (
            f & network_update_flags::LIVE != 0,
            f & network_update_flags::CONFIG != 0,
        ),
    };
    if live && !record.is_active() {
        return Err(network_error(
            ErrorNumber::OPERATION_INVALID,
            "network is not running",
        ));
    }
    if config && record.config.is_none() {
        return Err(network_error(
            ErrorNumber::OPERATION_INVALID,
            "cannot change persistent config of a transient network",
        ));
    }
    let mut updated = record.clone();
    if config {
        let mut network = Network::parse(record.config.as_deref().unwrap_or_default())?;
        network.update_section(command, section, parent_index, xml, flags)?;
        updated.config = Some(inactive_xml(&network));
    }
    if live {
        let running = updated
            .live
            .as_mut()
            .ok_or_else(|| not_active(&record.name))?;
        let mut network = Network::parse(&running.xml)?;
        network.update_section(command, section, parent_index, xml, flags)?;
        running.xml = network.to_xml();
        apply_live_update(&record.name, &network, section, running)?;
        files::write(
            &records::dirs().status_file(&record.name),
            running.xml.as_bytes(),
        )
        .map_err(from_host)?;
    }
    if config {
        records::write_config_files(&updated)?;
    }
    record = updated;
    records::store(&record);
    Ok(())
}

/// Tells the running network's dnsmasq of a live update, as libvirt does: the hosts files
/// are re-read on SIGHUP (DHCP and DNS hosts); anything in the configuration file (ranges,
/// TXT and SRV records) needs dnsmasq started again. A network that now needs a dnsmasq
/// and had none gets one.
fn apply_live_update(
    name: &str,
    network: &Network,
    section: u32,
    live: &mut Live,
) -> Result<(), Error> {
    use virt_core::consts::network_update_section as sections;
    let dirs = records::dirs();
    let Some(files_to_write) = setup::dnsmasq_files(network, &dirs)? else {
        return Ok(());
    };
    files_to_write.write(&dirs)?;
    let hosts_only = matches!(
        i32::try_from(section),
        Ok(sections::IP_DHCP_HOST | sections::DNS_HOST)
    );
    match &live.dnsmasq {
        Some(dnsmasq) if hosts_only && dnsmasq.handle != 0 => {
            let _ = process::kill(dnsmasq.handle, 1);
        }
        running => {
            if let Some(dnsmasq) = running {
                stop_process(dnsmasq);
            }
            live.dnsmasq = None;
            live.dnsmasq = Some(spawn_dnsmasq(&files_to_write.conf_path, name)?);
        }
    }
    Ok(())
}

// ---- after a daemon restart ----

/// Re-adopts the dnsmasq of every running network (restarting one that died), then starts
/// the autostart networks.
pub fn reattach_all() -> Result<(), Error> {
    let dirs = records::dirs();
    dirs.create()?;
    for mut record in records::all()? {
        let Some(live) = record.live.as_mut() else {
            continue;
        };
        // After a host reboot the record says running but the bridge is gone (libvirt's
        // networkUpdateState): the network is down; undo what is left and say so.
        if let Some(bridge) = &live.bridge {
            if !virt_plugin_sdk::host::bridges::link_exists(bridge) {
                virt_plugin_sdk::warn!(
                    "network '{}' lost its bridge '{bridge}': it is not running",
                    record.name
                );
                let gone = live.clone();
                stop(&record.name, &gone);
                record.live = None;
                if record.config.is_some() {
                    records::store(&record);
                } else {
                    records::delete(&record.uuid);
                }
                emit(&record, event_type::STOPPED);
                continue;
            }
        }
        if let Some(dnsmasq) = live.dnsmasq.as_mut() {
            match process::adopt(dnsmasq.pid, dnsmasq.start_time) {
                Ok(handle) => dnsmasq.handle = handle,
                Err(_) => {
                    virt_plugin_sdk::warn!(
                        "dnsmasq of network '{}' is gone: starting it again",
                        record.name
                    );
                    let network = Network::parse(&live.xml)?;
                    match setup::dnsmasq_files(&network, &dirs)
                        .and_then(|f| f.ok_or_else(|| internal("no dnsmasq configuration")))
                        .and_then(|f| spawn_dnsmasq(&f.conf_path, &record.name))
                    {
                        Ok(process) => *dnsmasq = process,
                        Err(error) => virt_plugin_sdk::warn!(
                            "cannot restart dnsmasq of network '{}': {}",
                            record.name,
                            error.message()
                        ),
                    }
                }
            }
        }
        records::store(&record);
    }
    for record in records::all()? {
        if record.autostart && !record.is_active() {
            if let Err(error) = create(&record.reference()) {
                virt_plugin_sdk::warn!(
                    "cannot autostart network '{}': {}",
                    record.name,
                    error.message()
                );
            }
        }
    }
    Ok(())
}
