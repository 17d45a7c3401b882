//! The driver's calls: VMX files written and read through the host's `files` calls, machines
//! driven with `vmrun` through `command.run`, as libvirt's VMware driver drives them.
//!
//! libvirt keeps a connection's defined machines in that connection's memory (only running
//! ones are found again, from `vmrun list`); here each product's space is persistent, so a
//! machine defined once is still defined after a daemon restart. Whether a machine runs is
//! always `vmrun list`'s answer.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_state as dstate,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::command as run_command;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::host::state::{self, Persistence, SpaceStatus};
use virt_plugin_sdk::records::Records;
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, ObjectStatus};
use virt_vmx::VmxContext;
use virt_xml::domain::{Domain, FormatOptions, GraphicsType};

const MACHINES: Records = Records::new("machine", ErrorDomain::VMWARE);
const PRODUCT: Records = Records::new("product", ErrorDomain::VMWARE);
/// The virtual hardware version libvirt's VMware driver writes.
const HARDWARE_VERSION: u32 = 7;
const VMRUN_TIMEOUT_MS: u32 = 300_000;

/// Which VMware product a scheme drives: `vmrun -T` and the binary that tells its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Product {
    Workstation,
    Player,
    Fusion,
}

impl Product {
    pub fn from_scheme(scheme: &str) -> Option<Product> {
        match scheme {
            "vmwarews" => Some(Product::Workstation),
            "vmwareplayer" => Some(Product::Player),
            "vmwarefusion" => Some(Product::Fusion),
            _ => None,
        }
    }

    fn vmrun_type(self) -> &'static str {
        match self {
            Product::Workstation => "ws",
            Product::Player => "player",
            Product::Fusion => "fusion",
        }
    }

    fn version_program(self) -> &'static str {
        match self {
            Product::Workstation => "vmware",
            Product::Player => "vmplayer",
            Product::Fusion => "vmware-vmx",
        }
    }

    /// The text before the version in `PROGRAM -v` (libvirt's `vmwareParseVersionStr`).
    fn version_pattern(self) -> &'static str {
        match self {
            Product::Workstation => "VMware Workstation ",
            Product::Player => "VMware Player ",
            Product::Fusion => "\nVMware Fusion Information:\nVMware Fusion ",
        }
    }
}

/// A defined machine: where its VMX file is.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Machine {
    name: String,
    uuid: String,
    vmx_path: String,
    /// `vmrun list` cannot tell a paused machine from a running one; the driver remembers.
    paused: bool,
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::VMWARE, message)
}

fn internal(message: String) -> Error {
    error(ErrorNumber::INTERNAL_ERROR, message)
}

/// libvirt's VMware contexts: file names in a VMX file are host paths, taken as they are.
struct HostPaths;

impl VmxContext for HostPaths {
    fn parse_file_name(
        &self,
        name: &str,
        _allow_missing: bool,
    ) -> virt_vmx::Result<Option<String>> {
        Ok(Some(name.to_string()))
    }

    fn format_file_name(&self, source: &str) -> virt_vmx::Result<String> {
        Ok(source.to_string())
    }
}

fn product() -> Result<Product, Error> {
    PRODUCT
        .load::<Product>("this")?
        .ok_or_else(|| internal("the connection has no VMware product".to_string()))
}

fn vmrun(product: Product, args: &[&str]) -> Result<String, Error> {
    let mut argv = vec!["-T".to_string(), product.vmrun_type().to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    virt_plugin_sdk::command_line::run_tool("vmrun", &argv, VMRUN_TIMEOUT_MS, ErrorDomain::VMWARE)
}

/// The VMX paths `vmrun list` reports running (absolute paths only, as libvirt reads them).
fn running_paths(product: Product) -> Result<Vec<String>, Error> {
    Ok(vmrun(product, &["list"])?
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with('/'))
        .map(str::to_string)
        .collect())
}

fn read_text(path: &str) -> Result<String, Error> {
    let bytes = files::read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The machine's process id, from the first line of `vmware.log` beside its VMX file
/// (libvirt's `vmwareExtractPid`): `... pid=N ...`.
fn vmware_pid(vmx_path: &str) -> Result<i32, Error> {
    let dir = vmx_path.rsplit_once('/').map_or(".", |(dir, _)| dir);
    let log = read_text(&format!("{dir}/vmware.log"))
        .map_err(|_| internal("unable to read vmware log file".to_string()))?;
    let first = log.lines().next().unwrap_or_default();
    let after = first
        .split_once(" pid=")
        .map(|(_, rest)| rest)
        .ok_or_else(|| internal("cannot find pid in vmware log file".to_string()))?;
    after
        .split(' ')
        .next()
        .and_then(|pid| pid.parse().ok())
        .filter(|_| after.contains(' '))
        .ok_or_else(|| internal("cannot parse pid in vmware log file".to_string()))
}

/// `connect.open`: the product's version (libvirt refuses a product whose binary does not
/// answer), and at a space's first load the running machines `vmrun list` reports.
pub fn open(product: Product, status: SpaceStatus) -> Result<(), Error> {
    let version_output = run_command::run(&run_command::RunRequest {
        program: product.version_program().into(),
        args: vec!["-v".into()],
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: 30_000,
    })
    .map_err(|_| {
        internal(format!(
            "cannot run '{} -v' to learn the VMware version",
            product.version_program()
        ))
    })?;
    let text = String::from_utf8_lossy(&version_output.stdout).into_owned()
        + &String::from_utf8_lossy(&version_output.stderr);
    if !text.contains(product.version_pattern()) {
        return Err(internal(format!(
            "cannot find version pattern \"{}\"",
            product.version_pattern()
        )));
    }
    PRODUCT.store("this", &product);
    if status != SpaceStatus::Existing {
        for path in running_paths(product)? {
            if MACHINES
                .all::<Machine>()?
                .iter()
                .any(|m| m.vmx_path == path)
            {
                continue;
            }
            let domain = virt_vmx::vmx_to_domain(&HostPaths, &read_text(&path)?)?;
            let machine = Machine {
                name: domain.name().to_string(),
                uuid: domain.uuid.map(|u| u.to_string()).unwrap_or_default(),
                vmx_path: path,
                paused: false,
            };
            MACHINES.store(&machine.uuid, &machine);
        }
    }
    Ok(())
}

pub fn bind(scheme: &str) -> Result<SpaceStatus, Error> {
    Ok(state::bind_space(scheme, Persistence::Persistent)?)
}

fn reference(machine: &Machine, id: i32) -> DomainRef {
    let uuid = virt_core::parse_uuid(&machine.uuid).unwrap_or_default();
    DomainRef {
        name: machine.name.clone(),
        uuid: uuid.into(),
        id,
    }
}

/// A machine with its live state: its pid when `vmrun list` reports it.
struct Live {
    machine: Machine,
    pid: Option<i32>,
}

impl Live {
    fn reference(&self) -> DomainRef {
        reference(&self.machine, self.pid.unwrap_or(-1))
    }

    fn state(&self) -> i32 {
        match self.pid {
            None => dstate::SHUTOFF,
            Some(_) if self.machine.paused => dstate::PAUSED,
            Some(_) => dstate::RUNNING,
        }
    }
}

fn live(machines: Vec<Machine>) -> Result<Vec<Live>, Error> {
    let running = running_paths(product()?)?;
    Ok(machines
        .into_iter()
        .map(|machine| {
            let pid = running
                .contains(&machine.vmx_path)
                .then(|| vmware_pid(&machine.vmx_path).unwrap_or(0));
            Live { machine, pid }
        })
        .collect())
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    Ok(live(MACHINES.all()?)?
        .iter()
        .map(|m| (m.reference(), m.pid.is_some()))
        .collect())
}

fn no_domain(message: String) -> Error {
    error(ErrorNumber::NO_DOMAIN, message)
}

fn find(predicate: impl Fn(&Live) -> bool, missing: String) -> Result<Live, Error> {
    live(MACHINES.all()?)?
        .into_iter()
        .find(|m| predicate(m))
        .ok_or_else(|| no_domain(missing))
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    find(
        |m| m.machine.name == name,
        format!("no domain with matching name '{name}'"),
    )
    .map(|m| m.reference())
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    let text = uuid.to_string();
    find(
        |m| m.machine.uuid == text,
        format!("no domain with matching uuid '{text}'"),
    )
    .map(|m| m.reference())
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    find(
        |m| m.pid == Some(id),
        format!("no domain with matching id {id}"),
    )
    .map(|m| m.reference())
}

fn resolve(dom: &DomainRef) -> Result<Live, Error> {
    let uuid: Uuid = dom.uuid.into();
    let text = uuid.to_string();
    find(
        |m| m.machine.uuid == text,
        format!("no domain with matching uuid '{text}' ({})", dom.name),
    )
}

fn domain_of(machine: &Machine) -> Result<Domain, Error> {
    virt_vmx::vmx_to_domain(&HostPaths, &read_text(&machine.vmx_path)?)
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    let live = resolve(dom)?;
    let mut domain = domain_of(&live.machine)?;
    domain.id = live.pid;
    Ok(domain.format(&FormatOptions::default()))
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let live = resolve(dom)?;
    let domain = domain_of(&live.machine)?;
    let memory = domain.memory.as_ref().map_or(0, |m| m.size.0);
    Ok(DomainInfo {
        state: u8::try_from(live.state()).unwrap_or(0),
        max_mem_kib: memory,
        memory_kib: domain.current_memory.as_ref().map_or(memory, |m| m.0),
        nr_virt_cpu: domain
            .vcpu
            .as_ref()
            .and_then(|v| v.current.or(v.count))
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(1),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let live = resolve(dom)?;
    Ok(DomainState {
        state: live.state(),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let live = resolve(dom)?;
    Ok(ObjectStatus {
        active: live.pid.is_some(),
        persistent: true,
        autostart: false,
        updated: false,
        has_managed_save: false,
    })
}

fn emit(live: &Live, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((live.reference(), event, detail)));
}

/// libvirt's `vmwareVmxPath`: the VMX file goes beside the first file-based hard disk, which
/// must be a VMDK image.
fn vmx_path(domain: &Domain) -> Result<String, Error> {
    use virt_xml::domain::{DiskDevice, StorageType};
    if domain.devices.disks.is_empty() {
        return Err(internal(
            "Domain XML doesn't contain any disks, cannot deduce datastore and path for VMX file"
                .to_string(),
        ));
    }
    let disk = domain
        .devices
        .disks
        .iter()
        .find(|d| {
            d.device.unwrap_or(DiskDevice::Disk) == DiskDevice::Disk
                && d.actual_type() == StorageType::File
        })
        .ok_or_else(|| {
            internal(
                "Domain XML doesn't contain any file-based harddisks, cannot deduce datastore \
                 and path for VMX file"
                    .to_string(),
            )
        })?;
    let source = disk.source_path().map(str::to_string).ok_or_else(|| {
        internal(
            "First file-based harddisk has no source, cannot deduce datastore and path for VMX file"
                .to_string(),
        )
    })?;
    let (dir, file) = match source.rsplit_once('/') {
        Some((_, "")) => {
            return Err(internal(format!(
                "path '{source}' doesn't reference a file"
            )))
        }
        Some((dir, file)) => (Some(dir), file),
        None => (None, source.as_str()),
    };
    if !file.to_ascii_lowercase().ends_with(".vmdk") {
        return Err(internal(format!(
            "Expecting source '{source}' of first file-based harddisk to be a VMDK image"
        )));
    }
    Ok(match dir {
        Some(dir) => format!("{dir}/{}.vmx", domain.name()),
        None => format!("{}.vmx", domain.name()),
    })
}

/// Writes the VMX file (hardware version 7, as libvirt) and keeps the machine.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let mut domain = Domain::parse(xml)?;
    if domain.name().contains('\n') {
        return Err(error(
            ErrorNumber::XML_DETAIL,
            format!("name {} must not contain '\\n'", domain.name()),
        ));
    }
    if domain.uuid.is_none() {
        domain.uuid = Some(Uuid::new_v4());
    }
    let uuid = domain.uuid.map(|u| u.to_string()).unwrap_or_default();
    let machines: Vec<Machine> = MACHINES.all()?;
    if let Some(other) = machines
        .iter()
        .find(|m| m.name == domain.name() && m.uuid != uuid)
    {
        return Err(error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "domain '{}' is already defined with uuid {}",
                other.name, other.uuid
            ),
        ));
    }
    let vmx = virt_vmx::domain_to_vmx(&HostPaths, &domain, HARDWARE_VERSION)?;
    let path = vmx_path(&domain)?;
    files::write(&path, vmx.as_bytes())
        .map_err(|e| internal(format!("Failed to write vmx file '{path}': {}", e.message)))?;
    let existed = machines.iter().any(|m| m.uuid == uuid);
    let machine = Machine {
        name: domain.name().to_string(),
        uuid: uuid.clone(),
        vmx_path: path,
        paused: false,
    };
    MACHINES.store(&uuid, &machine);
    let live = Live { machine, pid: None };
    emit(
        &live,
        event_type::DEFINED,
        if existed {
            defined_detail::UPDATED
        } else {
            defined_detail::ADDED
        },
    );
    Ok(live.reference())
}

/// Forgets the machine; its files stay, as libvirt's VMware driver leaves them.
pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let live = resolve(dom)?;
    if live.pid.is_some() {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "cannot undefine a running domain".to_string(),
        ));
    }
    MACHINES.delete(&live.machine.uuid);
    emit(&live, event_type::UNDEFINED, 0);
    Ok(())
}

/// The display decides `nogui`: a machine without graphics, or with a desktop, gets a GUI.
fn wants_gui(domain: &Domain) -> bool {
    domain.devices.graphics.is_empty()
        || domain
            .devices
            .graphics
            .iter()
            .any(|g| g.graphics_type == Some(GraphicsType::Desktop))
}

pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let live = resolve(dom)?;
    if live.pid.is_some() {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "domain is not in shutoff state".to_string(),
        ));
    }
    let product = product()?;
    let domain = domain_of(&live.machine)?;
    let path = live.machine.vmx_path.clone();
    let mut args = vec!["start", path.as_str()];
    if !wants_gui(&domain) {
        args.push("nogui");
    }
    vmrun(product, &args)?;
    let pid = match vmware_pid(&path) {
        Ok(pid) => pid,
        Err(failure) => {
            // libvirt stops a machine whose pid it cannot read.
            let _ = vmrun(product, &["stop", &path, "soft"]);
            return Err(failure);
        }
    };
    let mut machine = live.machine;
    machine.paused = false;
    MACHINES.store(&machine.uuid, &machine);
    let started = Live {
        machine,
        pid: Some(pid),
    };
    emit(&started, event_type::STARTED, started_detail::BOOTED);
    Ok(started.reference())
}

fn running(dom: &DomainRef) -> Result<Live, Error> {
    let live = resolve(dom)?;
    if live.pid.is_none() {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "domain is not in running state".to_string(),
        ));
    }
    Ok(live)
}

fn stop(dom: &DomainRef, how: &str, detail: i32) -> Result<(), Error> {
    let live = running(dom)?;
    vmrun(product()?, &["stop", &live.machine.vmx_path, how])?;
    let mut machine = live.machine.clone();
    machine.paused = false;
    MACHINES.store(&machine.uuid, &machine);
    emit(&live, event_type::STOPPED, detail);
    Ok(())
}

pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    stop(dom, "soft", stopped_detail::SHUTDOWN)
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    stop(dom, "hard", stopped_detail::DESTROYED)
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    let live = running(dom)?;
    vmrun(product()?, &["reset", &live.machine.vmx_path, "soft"]).map(|_| ())
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let live = running(dom)?;
    if live.machine.paused {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "domain is not in running state".to_string(),
        ));
    }
    vmrun(product()?, &["pause", &live.machine.vmx_path])?;
    let mut machine = live.machine.clone();
    machine.paused = true;
    MACHINES.store(&machine.uuid, &machine);
    emit(&live, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let live = running(dom)?;
    if !live.machine.paused {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "domain is not in suspend state".to_string(),
        ));
    }
    vmrun(product()?, &["unpause", &live.machine.vmx_path])?;
    let mut machine = live.machine.clone();
    machine.paused = false;
    MACHINES.store(&machine.uuid, &machine);
    emit(&live, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}

/// `domxml-from-native vmware-vmx`.
pub fn from_native(config: &str) -> Result<String, Error> {
    Ok(virt_vmx::vmx_to_domain(&HostPaths, config)?.format(&FormatOptions::default()))
}

/// `domxml-to-native vmware-vmx`: the VMX file `define` would write.
pub fn to_native(xml: &str) -> Result<String, Error> {
    let domain = Domain::parse(xml)?;
    virt_vmx::domain_to_vmx(&HostPaths, &domain, HARDWARE_VERSION)
}
