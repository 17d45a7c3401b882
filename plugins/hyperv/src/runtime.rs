//! The driver's calls as WS-Management requests through the host's `http` call.
//!
//! Each connection has a private, volatile space holding its [`Link`] (the endpoint, the
//! login its server asked for, the server's version). Nothing else is kept but this
//! instance's logged-in NTLM sessions (`transport`): the Hyper-V server is the only record of
//! its machines, so every call asks it.

use base64::Engine;
use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::credentials::{self, CredentialKind};
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, NodeInfo, ObjectStatus};

use crate::ntlm;
use crate::transport::{self, Auth};
use crate::uri::Target;
use crate::wmi::{self, requested, Class, Machine, Settings};
use crate::wsman::{self, Instance, Param};

const LINK_KIND: &str = "link";
const LINK_KEY: &str = "this";
/// `RequestStateChange` answered "transition started": how long its job may run.
const JOB_POLLS: u32 = 600;

/// A connection's way to its server.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Link {
    target: Target,
    auth: Auth,
    /// `Win32_OperatingSystem.Version`, e.g. "10.0.17763".
    version: String,
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::HYPERV, message)
}

fn current() -> Result<Link, Error> {
    state::get(LINK_KIND, LINK_KEY)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "the connection has no Hyper-V endpoint".to_string(),
            )
        })
}

fn message_id() -> String {
    format!("uuid:{}", Uuid::new_v4())
}

/// One SOAP exchange. A 401 is libvirt's authentication failure; other statuses carry a
/// SOAP fault the caller reads (WinRM answers faults with 400 or 500).
fn exchange(link: &Link, envelope: String, what: &str) -> Result<String, Error> {
    let response = transport::send(&link.target, &link.auth, &envelope)?;
    if response.status == 401 {
        return Err(error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "Authentication failed for '{}': the server answered 401 Unauthorized",
                link.target.url()
            ),
        ));
    }
    let text = String::from_utf8_lossy(&response.body).into_owned();
    if !(200..300).contains(&response.status) && !text.contains("Fault") {
        return Err(error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "Transport error during {what}: HTTP status {} from '{}'",
                response.status,
                link.target.url()
            ),
        ));
    }
    Ok(text)
}

/// Every instance a WQL query selects: `Enumerate`, then `Pull` until the end.
fn query(link: &Link, class: Class, wql: &str) -> Result<Vec<Instance>, Error> {
    let to = link.target.url();
    let answer = exchange(
        link,
        wsman::enumerate(&to, &class.namespace_uri(), wql, &message_id()),
        "enumeration",
    )?;
    let mut context = Some(wsman::enumeration_context(&answer)?);
    let mut instances = Vec::new();
    while let Some(current) = context.filter(|c| !c.is_empty()) {
        let answer = exchange(
            link,
            wsman::pull(&to, &class.uri(), &current, &message_id()),
            "pull",
        )?;
        let (items, next) = wsman::pulled(&answer)?;
        instances.extend(items.into_iter().filter(|i| i.class == class.name));
        context = next;
    }
    Ok(instances)
}

/// Invokes a method and waits for the job it may start (libvirt polls `Msvm_ConcreteJob`,
/// there being no other way); a return value other than success is libvirt's error.
fn invoke(
    link: &Link,
    class: Class,
    method: &str,
    selectors: &[(&str, &str)],
    params: &[Param<'_>],
) -> Result<wsman::Element, Error> {
    let to = link.target.url();
    let answer = exchange(
        link,
        wsman::invoke(&to, &class.uri(), method, selectors, params, &message_id()),
        "invocation",
    )?;
    let (code, output) = wsman::invoked(&answer, method)?;
    match code {
        0 => Ok(output),
        4096 => {
            let job = output
                .child("Job")
                .and_then(|job| wsman::selector(job, "InstanceID"))
                .ok_or_else(|| {
                    error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!("Could not lookup InstanceID for {method} invocation"),
                    )
                })?;
            wait_for_job(link, method, &job)?;
            Ok(output)
        }
        _ => Err(error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "Invocation of {method} returned an error: {} ({code})",
                wmi::return_code_text(code)
            ),
        )),
    }
}

fn wait_for_job(link: &Link, method: &str, job: &str) -> Result<(), Error> {
    let wql = format!(
        "SELECT * FROM Msvm_ConcreteJob WHERE InstanceID = {}",
        wmi::quoted(job)
    );
    for poll in 0..JOB_POLLS {
        let jobs = query(link, wmi::CONCRETE_JOB, &wql)?;
        let job = jobs.first().ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!("Could not lookup Msvm_ConcreteJob for {method} invocation"),
            )
        })?;
        match job.number("JobState")? {
            // New, starting, running, shutting down.
            2..=4 | 6 => {}
            7 => return Ok(()),
            8..=11 => {
                let why = job.get("ErrorDescription").unwrap_or_default();
                return Err(error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!("Concrete job for {method} invocation is in error state: {why}"),
                ));
            }
            _ => {
                return Err(error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!("Concrete job for {method} invocation is in unknown state"),
                ))
            }
        }
        // The round trip itself paces the first polls; after them, a short pause (it counts
        // as the call's own time: WIT 0.2 has no host-side wait to use instead).
        if poll >= 10 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Err(error(
        ErrorNumber::OPERATION_TIMEOUT,
        format!("Concrete job for {method} invocation did not complete"),
    ))
}

fn credential(target: &Target, kind: CredentialKind) -> Result<Option<String>, Error> {
    Ok(credentials::lookup("hyperv", &target.host, kind)?)
}

/// `connect.open`: credentials as libvirt asks for them (the URI's user, else the auth
/// file's, `administrator` by default; the password from the auth file), the login the
/// server's 401 offers (Basic where offered, as libvirt; else NTLM through `Negotiate` or
/// `NTLM`), then the server's version, which also proves the login.
pub fn open(target: Target) -> Result<(), Error> {
    state::bind_space("private:hyperv", Persistence::Volatile)?;
    let user = match &target.user {
        Some(user) => user.clone(),
        None => credential(&target, CredentialKind::Username)?
            .unwrap_or_else(|| "administrator".to_string()),
    };
    let password = credential(&target, CredentialKind::Password)?.ok_or_else(|| {
        error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "no password for '{user}@{}': name one in the auth file's [auth-hyperv-{}] \
                 credentials",
                target.host, target.host
            ),
        )
    })?;
    let version_query = wsman::enumerate(
        &target.url(),
        &wmi::OPERATING_SYSTEM.namespace_uri(),
        "SELECT * FROM Win32_OperatingSystem",
        &message_id(),
    );
    let probed = transport::probe(&target, &version_query)?;
    let auth = if probed.status == 401 {
        let offer = ntlm::Offer::read(&probed.headers);
        if offer.basic {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            Auth::Basic(format!("Basic {token}"))
        } else if let Some(scheme) = offer.ntlm_scheme() {
            Auth::Ntlm(ntlm::Login::new(scheme, &user, &password))
        } else {
            let offered: Vec<&str> = probed
                .headers
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
                .map(|(_, value)| value.as_str())
                .collect();
            return Err(error(
                ErrorNumber::AUTH_FAILED,
                format!(
                    "Authentication failed for '{}': the server offers no login the driver \
                     speaks (Basic, Negotiate or NTLM), only '{}'",
                    target.url(),
                    offered.join(", ")
                ),
            ));
        }
    } else {
        Auth::None
    };
    let mut link = Link {
        target,
        auth,
        version: String::new(),
    };
    let systems = query(
        &link,
        wmi::OPERATING_SYSTEM,
        "SELECT * FROM Win32_OperatingSystem",
    )?;
    link.version = systems
        .first()
        .and_then(|os| os.get("Version"))
        .map(str::to_string)
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "Could not get version information for host {}",
                    link.target.host
                ),
            )
        })?;
    state::put(
        LINK_KIND,
        LINK_KEY,
        &serde_json::to_vec(&link).unwrap_or_default(),
    );
    Ok(())
}

fn machines(link: &Link) -> Result<Vec<Machine>, Error> {
    query(link, wmi::COMPUTER_SYSTEM, &wmi::machines_query())?
        .iter()
        .map(Machine::from_instance)
        .collect()
}

pub fn reference(machine: &Machine) -> DomainRef {
    DomainRef {
        name: machine.element_name.clone(),
        uuid: machine.uuid.into(),
        id: machine.id(),
    }
}

fn no_domain(message: String) -> Error {
    Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::HYPERV, message)
}

/// libvirt looks machines up with a WQL `WHERE`; listing once and choosing here costs one
/// round trip the same and needs no quoting of the name.
fn find(predicate: impl Fn(&Machine) -> bool, missing: String) -> Result<DomainRef, Error> {
    machines(&current()?)?
        .iter()
        .find(|machine| predicate(machine))
        .map(reference)
        .ok_or_else(|| no_domain(missing))
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    find(
        |m| m.element_name == name,
        format!("No domain with name {name}"),
    )
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    find(|m| m.uuid == *uuid, format!("No domain with UUID {uuid}"))
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    find(
        |m| m.is_active() && m.id() == id,
        format!("No domain with ID {id}"),
    )
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    Ok(machines(&current()?)?
        .iter()
        .map(|m| (reference(m), m.is_active()))
        .collect())
}

fn resolve(dom: &DomainRef) -> Result<(Link, Machine), Error> {
    let link = current()?;
    let uuid: Uuid = dom.uuid.into();
    let machine = machines(&link)?
        .into_iter()
        .find(|m| m.uuid == uuid)
        .ok_or_else(|| no_domain(format!("No domain with UUID {uuid}")))?;
    Ok((link, machine))
}

fn settings(link: &Link, machine: &Machine) -> Result<Settings, Error> {
    let data = query(link, wmi::SETTINGS, &wmi::settings_query(&machine.name))?;
    let data = data.first().ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!(
                "Could not look up virtual system setting data with UUID '{}'",
                machine.name
            ),
        )
    })?;
    let id = data.get("InstanceID").unwrap_or_default().to_string();
    let one = |class: Class| -> Result<Instance, Error> {
        query(link, class, &wmi::component_query(&id, class))?
            .into_iter()
            .next()
            .ok_or_else(|| {
                error(
                    ErrorNumber::INTERNAL_ERROR,
                    format!(
                        "Could not look up {} for domain {}",
                        class.name, machine.name
                    ),
                )
            })
    };
    let processor = one(wmi::PROCESSOR_SETTINGS)?;
    let memory = one(wmi::MEMORY_SETTINGS)?;
    Ok(Settings {
        memory_mb: memory.number("VirtualQuantity")?,
        memory_limit_mb: memory.number("Limit")?,
        vcpus: processor.number("VirtualQuantity")?,
        notes: data.all("Notes").into_iter().map(str::to_string).collect(),
    })
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let (link, machine) = resolve(dom)?;
    let settings = settings(&link, &machine)?;
    Ok(DomainInfo {
        state: u8::try_from(machine.domain_state()).unwrap_or(0),
        max_mem_kib: settings.memory_limit_mb * 1024,
        memory_kib: settings.memory_mb * 1024,
        nr_virt_cpu: u16::try_from(settings.vcpus).unwrap_or(u16::MAX),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let (_, machine) = resolve(dom)?;
    // libvirt's driver reports no reasons.
    Ok(DomainState {
        state: machine.domain_state(),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let (_, machine) = resolve(dom)?;
    Ok(ObjectStatus {
        active: machine.is_active(),
        persistent: true,
        autostart: false,
        updated: false,
        // A saved machine (EnabledState 32769) is libvirt's managed save.
        has_managed_save: machine.enabled_state == 32769,
    })
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let settings = settings(&link, &machine)?;
    wmi::domain_xml(&machine, &settings)
}

pub fn settings_of(dom: &DomainRef) -> Result<Settings, Error> {
    let (link, machine) = resolve(dom)?;
    settings(&link, &machine)
}

fn emit(machine: &Machine, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((reference(machine), event, detail)));
}

fn request_state(link: &Link, machine: &Machine, requested_state: u32) -> Result<(), Error> {
    invoke(
        link,
        wmi::COMPUTER_SYSTEM,
        "RequestStateChange",
        &[
            ("Name", &machine.name),
            ("CreationClassName", "Msvm_ComputerSystem"),
        ],
        &[Param::Value("RequestedState", requested_state.to_string())],
    )
    .map(|_| ())
}

fn operation_invalid(message: &str) -> Error {
    error(ErrorNumber::OPERATION_INVALID, message.to_string())
}

/// Start: libvirt refuses an active machine and a saved one goes through managed save.
pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let (link, machine) = resolve(dom)?;
    if machine.is_active() {
        return Err(operation_invalid(
            "Domain is already active or is in state transition",
        ));
    }
    request_state(&link, &machine, requested::ENABLED)?;
    let (_, started) = resolve(dom)?;
    emit(&started, event_type::STARTED, started_detail::BOOTED);
    Ok(reference(&started))
}

/// libvirt's `hypervRequestStateChange` rules: reboot, reset and pause want an active
/// machine not in a transition.
fn change_active(dom: &DomainRef, requested_state: u32) -> Result<Machine, Error> {
    let (link, machine) = resolve(dom)?;
    if !machine.is_active() || machine.in_transition() {
        return Err(operation_invalid(
            "Domain is not active or is in state transition",
        ));
    }
    request_state(&link, &machine, requested_state)?;
    Ok(machine)
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let machine = change_active(dom, requested::DISABLED)?;
    emit(&machine, event_type::STOPPED, stopped_detail::DESTROYED);
    Ok(())
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    change_active(dom, requested::REBOOT).map(|_| ())
}

pub fn reset(dom: &DomainRef) -> Result<(), Error> {
    change_active(dom, requested::RESET).map(|_| ())
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if machine.enabled_state != 2 {
        return Err(operation_invalid("Domain is not active"));
    }
    request_state(&link, &machine, requested::QUIESCE)?;
    emit(&machine, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if machine.domain_state() != virt_core::consts::domain_state::PAUSED {
        return Err(operation_invalid("Domain is not paused"));
    }
    request_state(&link, &machine, requested::ENABLED)?;
    emit(&machine, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}

/// The guest's own shutdown through its integration service (`Msvm_ShutdownComponent`).
pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if !machine.is_active() || machine.in_transition() {
        return Err(operation_invalid(
            "Domain is not active or in state transition",
        ));
    }
    let wql = format!(
        "SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = {}",
        wmi::quoted(&machine.name)
    );
    let component = query(&link, wmi::SHUTDOWN_COMPONENT, &wql)?;
    let device = component
        .first()
        .and_then(|c| c.get("DeviceID"))
        .ok_or_else(|| {
            error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "Could not get Msvm_ShutdownComponent for domain with UUID '{}'",
                    machine.name
                ),
            )
        })?
        .to_string();
    invoke(
        &link,
        wmi::SHUTDOWN_COMPONENT,
        "InitiateShutdown",
        &[
            ("CreationClassName", "Msvm_ShutdownComponent"),
            ("DeviceID", &device),
            ("SystemCreationClassName", "Msvm_ComputerSystem"),
            ("SystemName", &machine.name),
        ],
        &[
            Param::Value("Force", "False".to_string()),
            // Not translated, as libvirt's: the Hyper-V administrator reads it.
            Param::Value("Reason", "Planned shutdown via libvirt".to_string()),
        ],
    )?;
    emit(&machine, event_type::STOPPED, stopped_detail::SHUTDOWN);
    Ok(())
}

fn management_service_selectors(link: &Link) -> Result<Vec<(String, String)>, Error> {
    let services = query(
        link,
        wmi::MANAGEMENT_SERVICE,
        "SELECT * FROM Msvm_VirtualSystemManagementService",
    )?;
    let service = services.first().ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            "Could not find the Msvm_VirtualSystemManagementService".to_string(),
        )
    })?;
    Ok([
        "CreationClassName",
        "Name",
        "SystemCreationClassName",
        "SystemName",
    ]
    .iter()
    .map(|key| {
        (
            key.to_string(),
            service.get(key).unwrap_or_default().to_string(),
        )
    })
    .collect())
}

/// `DefineSystem` with the name (and notes), then the memory and processors changed with
/// `ModifyResourceSettings`, as libvirt's `hypervDomainDefineXML` does.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let definition = wmi::definition(xml)?;
    let link = current()?;
    // As libvirt: a clash of UUIDs is refused; names may repeat, as Hyper-V allows.
    if let Some(uuid) = definition.uuid {
        if machines(&link)?.iter().any(|m| m.uuid == uuid) {
            return Err(error(
                ErrorNumber::DOM_EXIST,
                format!("Domain already exists with UUID '{uuid}'"),
            ));
        }
    }
    let selectors = management_service_selectors(&link)?;
    let selector_refs: Vec<(&str, &str)> = selectors
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut properties = vec![("ElementName", "string", definition.name.clone())];
    if let Some(description) = &definition.description {
        properties.push(("Notes", "string", description.clone()));
    }
    let settings = wsman::embedded_instance("Msvm_VirtualSystemSettingData", &properties);
    let output = invoke(
        &link,
        wmi::MANAGEMENT_SERVICE,
        "DefineSystem",
        &selector_refs,
        &[Param::Embedded("SystemSettings", settings)],
    )?;
    let name = output
        .child("ResultingSystem")
        .and_then(|system| wsman::selector(system, "Name"))
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "Could not lookup ResultingSystem for DefineSystem invocation".to_string(),
            )
        })?;
    let machine = machines(&link)?
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(&name))
        .ok_or_else(|| no_domain(format!("No domain with UUID {name}")))?;
    let modified = modify_settings(&link, &selector_refs, &machine, &definition);
    if let Err(failure) = modified {
        // Nothing half-made: the machine goes again.
        let _ = destroy_system(&link, &selector_refs, &machine);
        return Err(failure);
    }
    emit(&machine, event_type::DEFINED, defined_detail::ADDED);
    Ok(reference(&machine))
}

fn modify_settings(
    link: &Link,
    selectors: &[(&str, &str)],
    machine: &Machine,
    definition: &wmi::Definition,
) -> Result<(), Error> {
    let data = query(link, wmi::SETTINGS, &wmi::settings_query(&machine.name))?;
    let settings_id = data
        .first()
        .and_then(|d| d.get("InstanceID"))
        .unwrap_or_default()
        .to_string();
    let mut changes = Vec::new();
    let mut component = |class: Class, values: Vec<(&'static str, String)>| -> Result<(), Error> {
        let instance = query(link, class, &wmi::component_query(&settings_id, class))?;
        let id = instance
            .first()
            .and_then(|i| i.get("InstanceID"))
            .unwrap_or_default()
            .to_string();
        let mut properties = vec![("InstanceID", "string", id)];
        properties.extend(values.into_iter().map(|(k, v)| (k, "uint64", v)));
        changes.push(wsman::embedded_instance(class.name, &properties));
        Ok(())
    };
    if let Some(mb) = definition.memory_mb {
        component(
            wmi::MEMORY_SETTINGS,
            vec![
                ("VirtualQuantity", mb.to_string()),
                ("Reservation", mb.to_string()),
                ("Limit", mb.to_string()),
            ],
        )?;
    }
    if let Some(vcpus) = definition.vcpus {
        component(
            wmi::PROCESSOR_SETTINGS,
            vec![("VirtualQuantity", vcpus.to_string())],
        )?;
    }
    if changes.is_empty() {
        return Ok(());
    }
    let params: Vec<Param<'_>> = changes
        .into_iter()
        .map(|c| Param::Embedded("ResourceSettings", c))
        .collect();
    invoke(
        link,
        wmi::MANAGEMENT_SERVICE,
        "ModifyResourceSettings",
        selectors,
        &params,
    )
    .map(|_| ())
}

fn destroy_system(link: &Link, selectors: &[(&str, &str)], machine: &Machine) -> Result<(), Error> {
    let reference = format!(
        "<a:Address xmlns:a=\"{addressing}\">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>\
         <a:ReferenceParameters xmlns:a=\"{addressing}\" xmlns:w=\"{wsman}\">\
         <w:ResourceURI>{uri}</w:ResourceURI><w:SelectorSet>\
         <w:Selector Name=\"CreationClassName\">Msvm_ComputerSystem</w:Selector>\
         <w:Selector Name=\"Name\">{name}</w:Selector></w:SelectorSet></a:ReferenceParameters>",
        addressing = wsman::NS_ADDRESSING,
        wsman = wsman::NS_WSMAN,
        uri = wmi::COMPUTER_SYSTEM.uri(),
        name = machine.name,
    );
    invoke(
        link,
        wmi::MANAGEMENT_SERVICE,
        "DestroySystem",
        selectors,
        &[Param::Reference("AffectedSystem", reference)],
    )
    .map(|_| ())
}

/// `DestroySystem`: libvirt refuses an active machine first.
pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    if machine.is_active() {
        return Err(operation_invalid("Domain is not inactive"));
    }
    let selectors = management_service_selectors(&link)?;
    let selector_refs: Vec<(&str, &str)> = selectors
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    destroy_system(&link, &selector_refs, &machine)?;
    emit(&machine, event_type::UNDEFINED, 0);
    Ok(())
}

/// The host's figures: `Win32_ComputerSystem` and its processors.
pub fn node_info() -> Result<NodeInfo, Error> {
    let link = current()?;
    let hosts = query(
        &link,
        wmi::HOST_SYSTEM,
        "SELECT * FROM Win32_ComputerSystem",
    )?;
    let host = hosts.first().ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            "Could not get Win32_ComputerSystem".to_string(),
        )
    })?;
    let processors = query(
        &link,
        wmi::PROCESSOR,
        &wmi::processors_query(host.get("Name").unwrap_or_default()),
    )?;
    let first = processors.first().ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            "Could not get Win32_Processor".to_string(),
        )
    })?;
    let sockets = u32::try_from(processors.len()).unwrap_or(u32::MAX);
    let cores = u32::try_from(first.number("NumberOfCores")?)
        .unwrap_or(1)
        .max(1);
    let logical = u32::try_from(first.number("NumberOfLogicalProcessors")?).unwrap_or(cores);
    Ok(NodeInfo {
        model: wmi::cpu_model(first.get("Name").unwrap_or_default()),
        memory_kib: host.number("TotalPhysicalMemory")? / 1024,
        cpus: sockets * cores,
        mhz: u32::try_from(first.number("MaxClockSpeed")?).unwrap_or(0),
        nodes: 1,
        sockets,
        cores,
        threads: logical / cores,
    })
}

pub fn hostname() -> Result<String, Error> {
    let link = current()?;
    let hosts = query(
        &link,
        wmi::HOST_SYSTEM,
        "SELECT * FROM Win32_ComputerSystem",
    )?;
    hosts
        .first()
        .and_then(|h| h.get("DNSHostName"))
        .map(str::to_string)
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "Could not get Win32_ComputerSystem".to_string(),
            )
        })
}

pub fn close() {
    if let Ok(link) = current() {
        transport::forget(&link.target, &link.auth);
    }
    state::delete(LINK_KIND, LINK_KEY);
}
