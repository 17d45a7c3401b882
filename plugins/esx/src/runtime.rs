//! The driver's calls as vSphere calls through the host's `http` call.
//!
//! Each connection has a private, volatile space holding its [`Link`]: the endpoint, the
//! session cookie of its login, the service's managers, and the datacenter, compute
//! resource and host the URI chose. Nothing else is cached: the ESX host or vCenter is the
//! record of its machines, and a machine's definition is its VMX file on a datastore.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_event_undefined_detail_type as undefined_detail, domain_state as dstate,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::credentials::{self, CredentialKind};
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::http::{self, Request, TlsOptions};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{
    DomainInfo, DomainRef, DomainState, InterfaceRef, NetworkRef, NodeInfo, ObjectStatus, PoolInfo,
    PoolRef, VolumeInfo, VolumeRef,
};
use virt_soap::{escape, Element};
use virt_vmx::VmxContext;
use virt_xml::domain::memory::ScaledKib;
use virt_xml::domain::{
    DiskDevice, Domain, FormatOptions, MemorySize, Os, OsType, OsTypeElement, Vcpu, VirtType,
};
use virt_xml::snapshot::DomainSnapshot;

use crate::uri::{Product, Target};
use crate::vim::{self, MoRef, ObjectContent, PropertySpec, VimFault};

const LINK_KIND: &str = "link";
const LINK_KEY: &str = "this";
const REQUEST_TIMEOUT_MS: u32 = 120_000;
/// How long a task may run before the driver gives up waiting (libvirt waits forever; a
/// plugin call must end).
const TASK_TIMEOUT_MS: u64 = 600_000;

/// The service's managers the driver calls.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Service {
    root_folder: MoRef,
    property_collector: MoRef,
    view_manager: MoRef,
    search_index: MoRef,
    session_manager: MoRef,
    file_manager: Option<MoRef>,
    virtual_disk_manager: Option<MoRef>,
    api_version: String,
    full_name: String,
}

/// One connection: where, which session, and the inventory the URI chose.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Link {
    target: Target,
    cookie: String,
    service: Service,
    datacenter: MoRef,
    datacenter_name: String,
    vm_folder: MoRef,
    resource_pool: MoRef,
    host: MoRef,
    /// A container view of the datacenter's machines, made once per session.
    machines: MoRef,
    /// A container view of the datacenter's datastores.
    datastores: MoRef,
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::ESX, message)
}

fn internal(message: String) -> Error {
    error(ErrorNumber::INTERNAL_ERROR, message)
}

fn current() -> Result<Link, Error> {
    state::get(LINK_KIND, LINK_KEY)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| internal("the connection has no vSphere session".to_string()))
}

fn tls(target: &Target) -> TlsOptions {
    TlsOptions {
        no_verify: target.no_verify,
        ca_pem: None,
    }
}

/// A call's answer (its response element, or its fault) and the HTTP response's headers.
type Answered = (Result<Element, VimFault>, Vec<(String, String)>);

/// One SOAP call; a fault comes back as its vSphere type and message.
fn try_call(
    target: &Target,
    cookie: Option<&str>,
    method: &str,
    this: &MoRef,
    args: &str,
) -> Result<Answered, Error> {
    let mut headers = vec![
        (
            "Content-Type".to_string(),
            "text/xml; charset=utf-8".to_string(),
        ),
        (
            "SOAPAction".to_string(),
            format!("urn:vim25/{}", vim::API_VERSION),
        ),
    ];
    if let Some(cookie) = cookie {
        headers.push(("Cookie".to_string(), cookie.to_string()));
    }
    let request = Request {
        method: "POST".to_string(),
        url: target.sdk_url(),
        headers,
        body: vim::envelope(method, this, args).into_bytes(),
        tls: tls(target),
        timeout_ms: REQUEST_TIMEOUT_MS,
    };
    let response = http::send(&request)?;
    let text = String::from_utf8_lossy(&response.body);
    if !(200..300).contains(&response.status) && !text.contains("Fault") {
        return Err(internal(format!(
            "HTTP response code {} for call to '{method}' at '{}'",
            response.status,
            target.sdk_url()
        )));
    }
    Ok((vim::answer(&text, method)?, response.headers))
}

/// One call whose fault is libvirt's internal error carrying vSphere's fault.
fn call(link: &Link, method: &str, this: &MoRef, args: &str) -> Result<Element, Error> {
    try_call(&link.target, Some(&link.cookie), method, this, args)?
        .0
        .map_err(|fault| fault_error(method, &fault))
}

fn fault_error(method: &str, fault: &VimFault) -> Error {
    internal(format!(
        "{method} failed: {} - {}",
        if fault.kind.is_empty() {
            "fault"
        } else {
            &fault.kind
        },
        fault.message
    ))
}

/// The reference a call returned (`<returnval type="...">`).
fn returned_reference(response: &Element, method: &str) -> Result<MoRef, Error> {
    response
        .child("returnval")
        .and_then(MoRef::from_element)
        .ok_or_else(|| internal(format!("{method} returned no object reference")))
}

/// Every object `RetrievePropertiesEx` gives for `spec`, page after page.
fn retrieve(
    link: &Link,
    object: &MoRef,
    properties: &[PropertySpec<'_>],
) -> Result<Vec<ObjectContent>, Error> {
    let collector = &link.service.property_collector;
    let response = call(
        link,
        "RetrievePropertiesEx",
        collector,
        &vim::retrieve_spec(object, properties),
    )?;
    let (mut objects, mut token) = vim::object_contents(response.child("returnval"));
    while let Some(next) = token {
        let response = call(
            link,
            "ContinueRetrievePropertiesEx",
            collector,
            &vim::text("token", &next),
        )?;
        let (more, next) = vim::object_contents(response.child("returnval"));
        objects.extend(more);
        token = next;
    }
    Ok(objects)
}

/// The properties of one object.
fn properties(link: &Link, object: &MoRef, paths: &[&str]) -> Result<ObjectContent, Error> {
    retrieve(
        link,
        object,
        &[PropertySpec {
            kind: &object.kind,
            paths,
        }],
    )?
    .into_iter()
    .next()
    .ok_or_else(|| {
        error(
            ErrorNumber::NO_DOMAIN,
            format!("the {} '{}' no longer exists", object.kind, object.value),
        )
    })
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// Waits for a task; its error is libvirt's operation-failed error with vSphere's message.
/// While a machine's task waits, a question the machine asks is answered with its default
/// when the URI says `auto_answer=1`, and is an error otherwise, as libvirt does.
fn wait_task(
    link: &Link,
    task: &MoRef,
    what: &str,
    machine: Option<&MoRef>,
) -> Result<Option<Element>, Error> {
    let mut waited = 0u64;
    let mut pause = 2u64;
    loop {
        let info = properties(link, task, &["info.state", "info.error", "info.result"])?;
        match info.text("info.state").unwrap_or_default() {
            "success" => return Ok(info.get("info.result").cloned()),
            "error" => {
                let message = info
                    .get("info.error")
                    .and_then(|e| e.child_text("localizedMessage"))
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .or_else(|| {
                        info.get("info.error")
                            .and_then(|e| e.child("fault"))
                            .and_then(|f| f.attribute("type"))
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| "unknown error".to_string());
                return Err(error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("Could not {what}: {message}"),
                ));
            }
            _ => {}
        }
        if let Some(machine) = machine {
            answer_question(link, machine)?;
        }
        if waited >= TASK_TIMEOUT_MS {
            return Err(error(
                ErrorNumber::OPERATION_TIMEOUT,
                format!("Could not {what}: the task '{}' did not end", task.value),
            ));
        }
        sleep_ms(pause);
        waited += pause;
        pause = (pause * 2).min(200);
    }
}

/// libvirt's handling of `runtime.question`: answered with its default choice under
/// `auto_answer=1`, an error naming the question otherwise.
fn answer_question(link: &Link, machine: &MoRef) -> Result<(), Error> {
    let info = properties(link, machine, &["runtime.question"])?;
    let Some(question) = info.get("runtime.question") else {
        return Ok(());
    };
    let text = question.child_text("text").unwrap_or_default().to_string();
    if !link.target.auto_answer {
        return Err(internal(format!(
            "Pending question blocks virtual machine execution, question is '{text}', \
             no default answer is available"
        )));
    }
    let choice = question.child("choice");
    let default = choice
        .and_then(|c| c.child_text("defaultIndex"))
        .and_then(|i| i.parse::<usize>().ok())
        .unwrap_or(0);
    let key = choice
        .and_then(|c| c.children_named("choiceInfo").nth(default))
        .and_then(|c| c.child_text("key"))
        .ok_or_else(|| {
            internal(format!(
                "Pending question blocks virtual machine execution, question is '{text}', \
                 no default answer is available"
            ))
        })?
        .to_string();
    let id = question.child_text("id").unwrap_or_default().to_string();
    call(
        link,
        "AnswerVM",
        machine,
        &format!(
            "{}{}",
            vim::text("questionId", &id),
            vim::text("answerChoice", &key)
        ),
    )?;
    Ok(())
}

// ---- connection ----

fn service_content(target: &Target) -> Result<Service, Error> {
    let (answer, _) = try_call(
        target,
        None,
        "RetrieveServiceContent",
        &MoRef::new("ServiceInstance", "ServiceInstance"),
        "",
    )?;
    let response = answer.map_err(|fault| fault_error("RetrieveServiceContent", &fault))?;
    let content = response
        .child("returnval")
        .ok_or_else(|| internal("RetrieveServiceContent returned nothing".to_string()))?;
    let reference = |name: &str| content.child(name).and_then(MoRef::from_element);
    let required = |name: &str| {
        reference(name).ok_or_else(|| internal(format!("the service content has no {name}")))
    };
    let about = content.child("about");
    let about_text = |name: &str| {
        about
            .and_then(|a| a.child_text(name))
            .unwrap_or_default()
            .to_string()
    };
    let api_type = about_text("apiType");
    let product_line = about_text("productLineId");
    let expected = match target.product {
        Product::Esx => api_type == "HostAgent" && product_line != "gsx",
        Product::Gsx => api_type == "HostAgent" && product_line == "gsx",
        Product::Vpx => api_type == "VirtualCenter",
    };
    if !expected {
        let wanted = match target.product {
            Product::Esx => "an ESX host",
            Product::Gsx => "a VMware Server (GSX)",
            Product::Vpx => "a vCenter",
        };
        return Err(internal(format!(
            "'{}' is not {wanted}: it reports API type '{api_type}' and product line \
             '{product_line}'",
            target.host
        )));
    }
    Ok(Service {
        root_folder: required("rootFolder")?,
        property_collector: required("propertyCollector")?,
        view_manager: required("viewManager")?,
        search_index: required("searchIndex")?,
        session_manager: required("sessionManager")?,
        file_manager: reference("fileManager"),
        virtual_disk_manager: reference("virtualDiskManager"),
        api_version: about_text("apiVersion"),
        full_name: about_text("fullName"),
    })
}

/// A container view of `kinds` under `container`, recursive.
fn container_view(link: &Link, container: &MoRef, kind: &str) -> Result<MoRef, Error> {
    let response = call(
        link,
        "CreateContainerView",
        &link.service.view_manager,
        &format!(
            "{}{}<recursive>true</recursive>",
            container.xml("container"),
            vim::text("type", kind)
        ),
    )?;
    returned_reference(&response, "CreateContainerView")
}

fn find_by_inventory_path(link: &Link, path: &str) -> Result<Option<MoRef>, Error> {
    let response = call(
        link,
        "FindByInventoryPath",
        &link.service.search_index,
        &vim::text("inventoryPath", path),
    )?;
    Ok(response.child("returnval").and_then(MoRef::from_element))
}

/// The datacenter, compute resource and host the URI names (`vpx://`), or the host's own
/// (`esx://`, `gsx://`).
fn locate(link: &mut Link) -> Result<(), Error> {
    let (datacenter, host) = if link.target.product == Product::Vpx {
        let path = link.target.path.clone();
        let datacenter = find_by_inventory_path(link, &path[0])?
            .filter(|r| r.kind == "Datacenter")
            .ok_or_else(|| {
                error(
                    ErrorNumber::INVALID_ARG,
                    format!(
                        "Could not find datacenter specified in '{}'",
                        path.join("/")
                    ),
                )
            })?;
        let resource_path = format!("{}/host/{}", path[0], path[1]);
        let resource = find_by_inventory_path(link, &resource_path)?
            .filter(|r| r.kind.ends_with("ComputeResource"))
            .ok_or_else(|| {
                error(
                    ErrorNumber::INVALID_ARG,
                    format!(
                        "Could not find compute resource specified in '{}'",
                        path.join("/")
                    ),
                )
            })?;
        let host = match path.get(2) {
            Some(name) => find_by_inventory_path(link, &format!("{resource_path}/{name}"))?
                .filter(|r| r.kind == "HostSystem")
                .ok_or_else(|| {
                    error(
                        ErrorNumber::INVALID_ARG,
                        format!(
                            "Could not find host system specified in '{}'",
                            path.join("/")
                        ),
                    )
                })?,
            None if resource.kind == "ClusterComputeResource" => {
                return Err(error(
                    ErrorNumber::INVALID_ARG,
                    format!(
                        "Path '{}' does not specify a host system in cluster '{}'",
                        path.join("/"),
                        path[1]
                    ),
                ))
            }
            None => {
                let hosts = properties(link, &resource, &["host"])?;
                hosts
                    .get("host")
                    .and_then(|h| h.children.first())
                    .and_then(MoRef::from_element)
                    .ok_or_else(|| {
                        internal(format!("the compute resource '{}' has no host", path[1]))
                    })?
            }
        };
        (datacenter, host)
    } else {
        let root = link.service.root_folder.clone();
        let view = container_view(link, &root, "Datacenter")?;
        let datacenter = retrieve(
            link,
            &view,
            &[PropertySpec {
                kind: "Datacenter",
                paths: &["name"],
            }],
        )?
        .into_iter()
        .next()
        .map(|o| o.object)
        .ok_or_else(|| internal("the host has no datacenter".to_string()))?;
        let view = container_view(link, &root, "HostSystem")?;
        let host = retrieve(
            link,
            &view,
            &[PropertySpec {
                kind: "HostSystem",
                paths: &["name"],
            }],
        )?
        .into_iter()
        .next()
        .map(|o| o.object)
        .ok_or_else(|| internal("the host reports no host system".to_string()))?;
        (datacenter, host)
    };
    let dc = properties(link, &datacenter, &["name", "vmFolder"])?;
    let parent = properties(link, &host, &["parent"])?
        .moref("parent")
        .ok_or_else(|| internal("the host system has no compute resource".to_string()))?;
    link.resource_pool = properties(link, &parent, &["resourcePool"])?
        .moref("resourcePool")
        .ok_or_else(|| internal("the compute resource has no resource pool".to_string()))?;
    link.datacenter_name = dc.text("name").unwrap_or_default().to_string();
    link.vm_folder = dc
        .moref("vmFolder")
        .ok_or_else(|| internal("the datacenter has no VM folder".to_string()))?;
    link.datacenter = datacenter.clone();
    link.host = host;
    let vm_folder = link.vm_folder.clone();
    link.machines = container_view(link, &vm_folder, "VirtualMachine")?;
    link.datastores = container_view(link, &datacenter, "Datastore")?;
    Ok(())
}

/// Login with the URI's user (or the auth file's, or `root`) and the auth file's password,
/// as libvirt's ESX driver asks its auth callback for them.
pub fn open(target: Target) -> Result<(), Error> {
    state::bind_space("private:esx", Persistence::Volatile)?;
    let service = service_content(&target)?;
    let scheme = target.product.scheme();
    let lookup = |kind| -> Result<Option<String>, Error> {
        Ok(credentials::lookup(scheme, &target.host, kind)?)
    };
    let user = match &target.user {
        Some(user) => user.clone(),
        None => lookup(CredentialKind::Username)?.unwrap_or_else(|| "root".to_string()),
    };
    let password = lookup(CredentialKind::Password)?.ok_or_else(|| {
        error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "Password request failed: libvirt's auth file has no password for \
                 '{user}@{}' ([auth-{scheme}-{}])",
                target.host, target.host
            ),
        )
    })?;
    let (answer, headers) = try_call(
        &target,
        None,
        "Login",
        &service.session_manager,
        &format!(
            "{}{}",
            vim::text("userName", &user),
            vim::text("password", &password)
        ),
    )?;
    match answer {
        Ok(_) => {}
        Err(fault) if fault.kind == "InvalidLogin" => {
            return Err(error(
                ErrorNumber::AUTH_FAILED,
                format!(
                    "authentication failed for '{user}' at '{}': {}",
                    target.sdk_url(),
                    fault.message
                ),
            ))
        }
        Err(fault) => return Err(fault_error("Login", &fault)),
    }
    let cookie = vim::session_cookie(&headers).ok_or_else(|| {
        internal(format!(
            "the login at '{}' returned no session cookie",
            target.sdk_url()
        ))
    })?;
    let placeholder = MoRef::new("", "");
    let mut link = Link {
        target,
        cookie,
        service,
        datacenter: placeholder.clone(),
        datacenter_name: String::new(),
        vm_folder: placeholder.clone(),
        resource_pool: placeholder.clone(),
        host: placeholder.clone(),
        machines: placeholder.clone(),
        datastores: placeholder,
    };
    if let Err(failed) = locate(&mut link) {
        logout(&link);
        return Err(failed);
    }
    state::put(
        LINK_KIND,
        LINK_KEY,
        &serde_json::to_vec(&link).unwrap_or_default(),
    );
    Ok(())
}

fn logout(link: &Link) {
    let _ = try_call(
        &link.target,
        Some(&link.cookie),
        "Logout",
        &link.service.session_manager,
        "",
    );
}

pub fn close() {
    if let Ok(link) = current() {
        logout(&link);
        state::delete(LINK_KIND, LINK_KEY);
    }
}

/// libvirt's version number of the product (`6.5.0` → 6005000).
pub fn version() -> Result<u64, Error> {
    let link = current()?;
    let mut parts = link
        .service
        .api_version
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let micro = parts.next().unwrap_or(0);
    Ok(major * 1_000_000 + minor * 1000 + micro)
}

pub fn hostname() -> Result<String, Error> {
    let link = current()?;
    let host = properties(&link, &link.host, &["name"])?;
    Ok(host.text("name").unwrap_or_default().to_string())
}

pub fn node_info() -> Result<NodeInfo, Error> {
    let link = current()?;
    let host = properties(&link, &link.host, &["summary.hardware"])?;
    let hardware = host
        .get("summary.hardware")
        .ok_or_else(|| internal("the host reports no hardware summary".to_string()))?;
    let number = |name: &str| {
        hardware
            .child_text(name)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let packages = number("numCpuPkgs").max(1);
    let cores = number("numCpuCores");
    let threads = number("numCpuThreads");
    // libvirt squeezes the CPU model's repeated spaces and cuts it to fit virNodeInfo.
    let model: String = hardware
        .child_text("cpuModel")
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(31)
        .collect();
    Ok(NodeInfo {
        model,
        memory_kib: number("memorySize") / 1024,
        cpus: u32::try_from(threads).unwrap_or(0),
        mhz: u32::try_from(number("cpuMhz")).unwrap_or(0),
        nodes: 1,
        sockets: u32::try_from(packages).unwrap_or(1),
        cores: u32::try_from(cores / packages).unwrap_or(1).max(1),
        threads: u32::try_from(threads / cores.max(1)).unwrap_or(1).max(1),
    })
}

/// The most vCPUs the host lets a machine have.
pub fn max_vcpus() -> Result<i32, Error> {
    let link = current()?;
    let host = properties(&link, &link.host, &["capability.maxSupportedVcpus"])?;
    Ok(host
        .number("capability.maxSupportedVcpus")
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(128))
}

// ---- machines ----

const LIST_PATHS: &[&str] = &["name", "config.uuid", "runtime.powerState", "resourcePool"];
/// What one call on a known machine reads: its identity and state, and what `dominfo` and
/// `dumpxml` need.
const DETAIL_PATHS: &[&str] = &[
    "name",
    "config.uuid",
    "runtime.powerState",
    "resourcePool",
    "config.files.vmPathName",
    "config.hardware.memoryMB",
    "config.hardware.numCPU",
    "config.memoryAllocation.limit",
];
const INDEX_KIND: &str = "machines";
const INDEX_KEY: &str = "by-uuid";

/// A machine as the list shows it, with the details when one call read them.
#[derive(Clone, Debug)]
struct Machine {
    reference: MoRef,
    name: String,
    uuid: Uuid,
    power: String,
    content: ObjectContent,
}

impl Machine {
    fn from_content(content: &ObjectContent) -> Option<Machine> {
        Some(Machine {
            reference: content.object.clone(),
            name: content.text("name")?.to_string(),
            uuid: content.text("config.uuid")?.parse().ok()?,
            power: content
                .text("runtime.powerState")
                .unwrap_or("poweredOff")
                .to_string(),
            content: content.clone(),
        })
    }

    fn state(&self) -> i32 {
        match self.power.as_str() {
            "poweredOn" => dstate::RUNNING,
            "suspended" => dstate::PAUSED,
            _ => dstate::SHUTOFF,
        }
    }

    fn active(&self) -> bool {
        self.power != "poweredOff"
    }

    fn domain_ref(&self) -> DomainRef {
        DomainRef {
            name: self.name.clone(),
            uuid: self.uuid.into(),
            id: if self.active() {
                vim::machine_id(&self.reference).unwrap_or(-1)
            } else {
                -1
            },
        }
    }
}

/// The datacenter's machines (for `vpx://`, those of the chosen compute resource). Each
/// listing refreshes the connection's index of UUID → reference, which lets a call on one
/// machine read it directly, as govc does after its lookup.
fn machines(link: &Link) -> Result<Vec<Machine>, Error> {
    let machines: Vec<Machine> = retrieve(
        link,
        &link.machines,
        &[PropertySpec {
            kind: "VirtualMachine",
            paths: LIST_PATHS,
        }],
    )?
    .iter()
    .filter(|content| in_scope(link, content))
    .filter_map(Machine::from_content)
    .collect();
    let index: Index = machines
        .iter()
        .map(|m| {
            (
                m.uuid.to_string(),
                IndexEntry {
                    reference: m.reference.value.clone(),
                    name: m.name.clone(),
                },
            )
        })
        .collect();
    state::put(
        INDEX_KIND,
        INDEX_KEY,
        &serde_json::to_vec(&index).unwrap_or_default(),
    );
    Ok(machines)
}

/// What the last listing said of each machine, by UUID.
type Index = std::collections::HashMap<String, IndexEntry>;

#[derive(Serialize, Deserialize)]
struct IndexEntry {
    reference: String,
    name: String,
}

fn index() -> Option<Index> {
    state::get(INDEX_KIND, INDEX_KEY).and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

fn in_scope(link: &Link, content: &ObjectContent) -> bool {
    link.target.product != Product::Vpx
        || content.moref("resourcePool").as_ref() == Some(&link.resource_pool)
}

/// One machine's details by its reference; `None` when vSphere no longer knows it.
fn machine_details(link: &Link, reference: &MoRef) -> Result<Option<Machine>, Error> {
    let spec = vim::retrieve_spec(
        reference,
        &[PropertySpec {
            kind: "VirtualMachine",
            paths: DETAIL_PATHS,
        }],
    );
    let (answer, _) = try_call(
        &link.target,
        Some(&link.cookie),
        "RetrievePropertiesEx",
        &link.service.property_collector,
        &spec,
    )?;
    match answer {
        Ok(response) => Ok(vim::object_contents(response.child("returnval"))
            .0
            .first()
            .filter(|content| in_scope(link, content))
            .and_then(Machine::from_content)),
        Err(fault) if fault.kind == "ManagedObjectNotFound" => Ok(None),
        Err(fault) => Err(fault_error("RetrievePropertiesEx", &fault)),
    }
}

fn no_domain(what: String) -> Error {
    error(ErrorNumber::NO_DOMAIN, what)
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    let link = current()?;
    Ok(machines(&link)?
        .iter()
        .map(|m| (m.domain_ref(), m.active()))
        .collect())
}

fn find(link: &Link, test: impl Fn(&Machine) -> bool, what: String) -> Result<Machine, Error> {
    machines(link)?
        .into_iter()
        .find(|m| test(m))
        .ok_or_else(|| no_domain(what))
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    let link = current()?;
    // The index remembers names too: one call on the machine it names, checked.
    if let Some(value) = index().and_then(|index| {
        index
            .into_iter()
            .find(|(_, entry)| entry.name == name)
            .map(|(_, entry)| entry.reference)
    }) {
        let reference = MoRef::new("VirtualMachine", &value);
        if let Some(machine) = machine_details(&link, &reference)?.filter(|m| m.name == name) {
            return Ok(machine.domain_ref());
        }
    }
    Ok(find(
        &link,
        |m| m.name == name,
        format!("Could not find domain with name '{name}'"),
    )?
    .domain_ref())
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    let link = current()?;
    Ok(find(
        &link,
        |m| m.uuid == *uuid,
        format!("Could not find domain with UUID '{uuid}'"),
    )?
    .domain_ref())
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    let link = current()?;
    Ok(find(
        &link,
        |m| m.active() && vim::machine_id(&m.reference) == Some(id),
        format!("Could not find domain with ID {id}"),
    )?
    .domain_ref())
}

/// The machine a reference names, by UUID (names may change under libvirt's feet), with
/// its details: one call when the index knows its reference, a listing first otherwise.
fn resolve(dom: &DomainRef) -> Result<(Link, Machine), Error> {
    let link = current()?;
    let uuid: Uuid = dom.uuid.into();
    let indexed = index().and_then(|mut index| index.remove(&uuid.to_string()));
    if let Some(entry) = indexed {
        let reference = MoRef::new("VirtualMachine", &entry.reference);
        if let Some(machine) = machine_details(&link, &reference)?.filter(|m| m.uuid == uuid) {
            return Ok((link, machine));
        }
    }
    let listed = find(
        &link,
        |m| m.uuid == uuid,
        format!("Could not find domain with UUID '{uuid}'"),
    )?;
    let machine = machine_details(&link, &listed.reference)?
        .ok_or_else(|| no_domain(format!("Could not find domain with UUID '{uuid}'")))?;
    Ok((link, machine))
}

fn lifecycle(machine: &Machine, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((
        machine.domain_ref(),
        event,
        detail,
    )));
}

/// libvirt's checks before a power operation: the state it needs, its message otherwise.
fn require(machine: &Machine, allowed: &[&str], message: &str) -> Result<(), Error> {
    if allowed.contains(&machine.power.as_str()) {
        Ok(())
    } else {
        Err(error(ErrorNumber::OPERATION_INVALID, message.to_string()))
    }
}

fn power_task(
    link: &Link,
    machine: &Machine,
    method: &str,
    args: &str,
    what: &str,
) -> Result<(), Error> {
    let response = call(link, method, &machine.reference, args)?;
    let task = returned_reference(&response, method)?;
    wait_task(link, &task, what, Some(&machine.reference))?;
    Ok(())
}

pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOff"], "Domain is not powered off")?;
    power_task(&link, &machine, "PowerOnVM_Task", "", "start domain")?;
    let (_, started) = resolve(dom)?;
    lifecycle(&started, event_type::STARTED, started_detail::BOOTED);
    Ok(started.domain_ref())
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(
        &machine,
        &["poweredOn", "suspended"],
        "Domain is not powered on",
    )?;
    power_task(&link, &machine, "PowerOffVM_Task", "", "destroy domain")?;
    lifecycle(&machine, event_type::STOPPED, stopped_detail::DESTROYED);
    Ok(())
}

pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOn"], "Domain is not powered on")?;
    call(&link, "ShutdownGuest", &machine.reference, "")?;
    lifecycle(&machine, event_type::STOPPED, stopped_detail::SHUTDOWN);
    Ok(())
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOn"], "Domain is not powered on")?;
    call(&link, "RebootGuest", &machine.reference, "")?;
    Ok(())
}

pub fn reset(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOn"], "Domain is not powered on")?;
    power_task(&link, &machine, "ResetVM_Task", "", "reset domain")
}

pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOn"], "Domain is not powered on")?;
    power_task(&link, &machine, "SuspendVM_Task", "", "suspend domain")?;
    lifecycle(&machine, event_type::SUSPENDED, suspended_detail::PAUSED);
    Ok(())
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["suspended"], "Domain is not suspended")?;
    power_task(&link, &machine, "PowerOnVM_Task", "", "resume domain")?;
    lifecycle(&machine, event_type::RESUMED, resumed_detail::UNPAUSED);
    Ok(())
}

pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(
        &machine,
        &["poweredOff", "suspended"],
        "Domain is not suspended or powered off",
    )?;
    call(&link, "UnregisterVM", &machine.reference, "")?;
    lifecycle(&machine, event_type::UNDEFINED, undefined_detail::REMOVED);
    Ok(())
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let (_, machine) = resolve(dom)?;
    Ok(DomainState {
        state: machine.state(),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let (_, machine) = resolve(dom)?;
    Ok(ObjectStatus {
        active: machine.active(),
        persistent: true,
        autostart: false,
        updated: false,
        has_managed_save: false,
    })
}

/// Memory (KiB: maximum, current) and vCPUs as vSphere reports them (read again unless the
/// machine's details hold them).
fn sizes(link: &Link, machine: &Machine) -> Result<(u64, u64, u32), Error> {
    let fetched;
    let info = if machine.content.get("config.hardware.memoryMB").is_some() {
        &machine.content
    } else {
        fetched = properties(link, &machine.reference, DETAIL_PATHS)?;
        &fetched
    };
    let max =
        u64::try_from(info.number("config.hardware.memoryMB").unwrap_or(0)).unwrap_or(0) * 1024;
    // A limit of -1 (or none) means the machine may use all of its memory.
    let current = info
        .number("config.memoryAllocation.limit")
        .and_then(|l| u64::try_from(l).ok())
        .map(|l| l * 1024)
        .filter(|l| *l < max)
        .unwrap_or(max);
    let vcpus = u32::try_from(info.number("config.hardware.numCPU").unwrap_or(1)).unwrap_or(1);
    Ok((max, current, vcpus))
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let (link, machine) = resolve(dom)?;
    let (max, current, vcpus) = sizes(&link, &machine)?;
    Ok(DomainInfo {
        state: u8::try_from(machine.state()).unwrap_or(0),
        max_mem_kib: max,
        memory_kib: current,
        nr_virt_cpu: u16::try_from(vcpus).unwrap_or(1),
        cpu_time_ns: 0,
    })
}

pub fn get_max_memory(dom: &DomainRef) -> Result<u64, Error> {
    let (link, machine) = resolve(dom)?;
    Ok(sizes(&link, &machine)?.0)
}

pub fn get_vcpus(dom: &DomainRef, maximum: bool) -> Result<i32, Error> {
    if maximum {
        return max_vcpus();
    }
    let (link, machine) = resolve(dom)?;
    Ok(i32::try_from(sizes(&link, &machine)?.2).unwrap_or(1))
}

fn reconfigure(link: &Link, machine: &Machine, spec: &str, what: &str) -> Result<(), Error> {
    power_task(
        link,
        machine,
        "ReconfigVM_Task",
        &format!("<spec>{spec}</spec>"),
        what,
    )
}

/// `setmaxmem`: the machine's memory size, only while it is powered off.
pub fn set_max_memory(dom: &DomainRef, kib: u64) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    require(&machine, &["poweredOff"], "Domain is not powered off")?;
    let mb = kib.div_ceil(1024);
    reconfigure(
        &link,
        &machine,
        &vim::text("memoryMB", &mb.to_string()),
        "set the domain's maximum memory",
    )
}

/// `setmem`: the machine's memory limit, live.
pub fn set_memory(dom: &DomainRef, kib: u64) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    let (max, _, _) = sizes(&link, &machine)?;
    if kib > max {
        return Err(error(
            ErrorNumber::INVALID_ARG,
            format!("cannot set memory higher than max memory ({kib} KiB > {max} KiB)"),
        ));
    }
    let mb = kib.div_ceil(1024);
    reconfigure(
        &link,
        &machine,
        &format!(
            "<memoryAllocation>{}</memoryAllocation>",
            vim::text("limit", &mb.to_string())
        ),
        "set the domain's memory",
    )
}

pub fn set_vcpus(dom: &DomainRef, count: u32) -> Result<(), Error> {
    if count < 1 {
        return Err(error(
            ErrorNumber::INVALID_ARG,
            "Requested number of virtual CPUs must at least be 1".to_string(),
        ));
    }
    let max = max_vcpus()?;
    if i64::from(count) > i64::from(max) {
        return Err(error(
            ErrorNumber::INVALID_ARG,
            format!(
                "Requested number of virtual CPUs is greater than max allowable number of \
                 virtual CPUs for the domain: {count} > {max}"
            ),
        ));
    }
    let (link, machine) = resolve(dom)?;
    reconfigure(
        &link,
        &machine,
        &vim::text("numCPUs", &count.to_string()),
        "set the domain's vCPUs",
    )
}

// ---- datastores and VMX files ----

/// A datastore: name, mount path (what VMX files write) and summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Datastore {
    reference: MoRef,
    name: String,
    mount: String,
    kind: String,
    capacity: u64,
    free: u64,
    accessible: bool,
}

impl Datastore {
    fn uuid(&self) -> Uuid {
        // vSphere gives datastores no UUID; libvirt derives one from a hash of its mount
        // path, as this does (name-based, so it is stable across connections).
        const NAMESPACE: Uuid = Uuid::from_bytes([
            0x6a, 0x1f, 0x3c, 0x52, 0x9e, 0x0b, 0x4d, 0x8e, 0xa7, 0x13, 0x5c, 0x20, 0x71, 0xd4,
            0xe9, 0x0f,
        ]);
        Uuid::new_v5(&NAMESPACE, self.mount.as_bytes())
    }

    fn pool_ref(&self) -> PoolRef {
        PoolRef {
            name: self.name.clone(),
            uuid: self.uuid().into(),
        }
    }
}

fn datastores(link: &Link) -> Result<Vec<Datastore>, Error> {
    Ok(retrieve(
        link,
        &link.datastores,
        &[PropertySpec {
            kind: "Datastore",
            paths: &["summary"],
        }],
    )?
    .into_iter()
    .filter_map(|content| {
        let summary = content.get("summary")?;
        let number = |name: &str| {
            summary
                .child_text(name)
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let url = summary.child_text("url").unwrap_or_default();
        // ESX writes `ds:///vmfs/volumes/<uuid>/`; the mount path is the path part.
        let mount = url
            .strip_prefix("ds://")
            .unwrap_or(url)
            .trim_end_matches('/')
            .to_string();
        Some(Datastore {
            reference: content.object.clone(),
            name: summary.child_text("name")?.to_string(),
            mount,
            kind: summary.child_text("type").unwrap_or_default().to_string(),
            capacity: number("capacity"),
            free: number("freeSpace"),
            accessible: summary.child_text("accessible") != Some("false"),
        })
    })
    .collect())
}

/// How file names in VMX files map to datastore paths, for this connection's datastores
/// (libvirt's esxParseVMXFileName/esxFormatVMXFileName). The datastores are read when a
/// name first needs them: a VMX file naming its disks relative to itself needs none.
struct DatastorePaths<'a> {
    link: &'a Link,
    datastores: std::cell::OnceCell<Vec<Datastore>>,
    /// The directory of the machine's VMX file, `[datastore] dir`, for relative names.
    directory: Option<String>,
    datacenter: String,
    moref: Option<String>,
}

impl<'a> DatastorePaths<'a> {
    fn new(link: &'a Link, directory: Option<String>, moref: Option<String>) -> Self {
        DatastorePaths {
            link,
            datastores: std::cell::OnceCell::new(),
            directory,
            datacenter: link.datacenter_name.clone(),
            moref,
        }
    }

    /// The datastores as this connection last listed them; `fresh` lists them again.
    fn datastores(&self, fresh: bool) -> virt_vmx::Result<Vec<Datastore>> {
        if !fresh {
            if let Some(known) = self.datastores.get() {
                return Ok(known.clone());
            }
            if let Some(cached) = state::get(DATASTORES_KIND, DATASTORES_KEY)
                .and_then(|bytes| serde_json::from_slice::<Vec<Datastore>>(&bytes).ok())
            {
                return Ok(self.datastores.get_or_init(|| cached).clone());
            }
        }
        let listed = datastores(self.link)?;
        state::put(
            DATASTORES_KIND,
            DATASTORES_KEY,
            &serde_json::to_vec(&listed).unwrap_or_default(),
        );
        Ok(listed)
    }

    /// The first answer `find` gives from the known datastores, or from a fresh listing
    /// when they give none (a datastore added or renamed since).
    fn with_datastores<T>(
        &self,
        find: impl Fn(&[Datastore]) -> Option<T>,
    ) -> virt_vmx::Result<Option<T>> {
        if let Some(found) = find(&self.datastores(false)?) {
            return Ok(Some(found));
        }
        Ok(find(&self.datastores(true)?))
    }
}

const DATASTORES_KIND: &str = "datastores";
const DATASTORES_KEY: &str = "mounts";

impl VmxContext for DatastorePaths<'_> {
    fn parse_file_name(
        &self,
        name: &str,
        _allow_missing: bool,
    ) -> virt_vmx::Result<Option<String>> {
        if name.starts_with('/') {
            let mapped = self.with_datastores(|datastores| {
                datastores.iter().find_map(|datastore| {
                    name.strip_prefix(&format!("{}/", datastore.mount))
                        .map(|rest| format!("[{}] {rest}", datastore.name))
                })
            })?;
            if mapped.is_some() {
                return Ok(mapped);
            }
            if let Some(rest) = name.strip_prefix("/vmfs/volumes/") {
                if let Some((datastore, path)) = rest.split_once('/') {
                    return Ok(Some(format!("[{datastore}] {path}")));
                }
            }
            // A file outside every datastore (a host device): kept as the VMX file writes it.
            return Ok(Some(name.to_string()));
        }
        match &self.directory {
            Some(directory) => Ok(Some(format!("{directory}/{name}"))),
            None => Ok(Some(name.to_string())),
        }
    }

    fn format_file_name(&self, source: &str) -> virt_vmx::Result<String> {
        if let Some((name, path)) = vim::split_datastore_path(source) {
            let mount = self
                .with_datastores(|datastores| {
                    datastores
                        .iter()
                        .find(|d| d.name == name)
                        .map(|d| d.mount.clone())
                })?
                .ok_or_else(|| {
                    internal(format!("Could not find datastore '{name}' of '{source}'"))
                })?;
            return Ok(format!("{mount}/{path}"));
        }
        if source.starts_with('/') {
            return Ok(source.to_string());
        }
        Err(error(
            ErrorNumber::CONFIG_UNSUPPORTED,
            format!(
                "Could not handle file name '{source}': it is neither a datastore path nor absolute"
            ),
        ))
    }

    fn datacenter_path(&self) -> Option<&str> {
        Some(&self.datacenter)
    }

    fn moref(&self) -> Option<&str> {
        self.moref.as_deref()
    }
}

/// The `/folder` URL of a datastore file (the ESX host's HTTP file access).
fn file_url(link: &Link, datastore_path: &str) -> Result<String, Error> {
    let (datastore, path) = vim::split_datastore_path(datastore_path)
        .ok_or_else(|| internal(format!("'{datastore_path}' is not a datastore path")))?;
    Ok(format!(
        "{}/folder/{}?dcPath={}&dsName={}",
        link.target.base_url(),
        vim::url_encode(path, true),
        vim::url_encode(&link.datacenter_name, false),
        vim::url_encode(datastore, false)
    ))
}

fn file_request(
    link: &Link,
    method: &str,
    url: String,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), Error> {
    let response = http::send(&Request {
        method: method.to_string(),
        url,
        headers: vec![
            ("Cookie".to_string(), link.cookie.clone()),
            (
                "Content-Type".to_string(),
                "application/octet-stream".to_string(),
            ),
        ],
        body,
        tls: tls(&link.target),
        timeout_ms: REQUEST_TIMEOUT_MS,
    })?;
    Ok((response.status, response.body))
}

fn download(link: &Link, datastore_path: &str) -> Result<Vec<u8>, Error> {
    let (status, body) = file_request(link, "GET", file_url(link, datastore_path)?, Vec::new())?;
    if status != 200 {
        return Err(internal(format!(
            "HTTP response code {status} for download of '{datastore_path}'"
        )));
    }
    Ok(body)
}

fn exists(link: &Link, datastore_path: &str) -> Result<bool, Error> {
    let (status, _) = file_request(link, "HEAD", file_url(link, datastore_path)?, Vec::new())?;
    Ok(status == 200)
}

fn upload(link: &Link, datastore_path: &str, content: &str) -> Result<(), Error> {
    let (status, _) = file_request(
        link,
        "PUT",
        file_url(link, datastore_path)?,
        content.as_bytes().to_vec(),
    )?;
    if !(200..300).contains(&status) {
        return Err(internal(format!(
            "HTTP response code {status} for upload to '{datastore_path}'"
        )));
    }
    Ok(())
}

/// libvirt's default virtual hardware version for the product's API version.
fn virtual_hw_version(api_version: &str) -> u32 {
    let mut parts = api_version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0));
    match (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) {
        (4, _) => 7,
        (5, 0) => 8,
        (5, 1) => 9,
        (5, _) => 10,
        (6, 0) => 11,
        (6, 5) => 13,
        (6, _) => 14,
        (7, _) => 17,
        (major, _) if major > 7 => 17,
        _ => 4,
    }
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let vmx_path = machine
        .content
        .text("config.files.vmPathName")
        .unwrap_or_default()
        .to_string();
    let bytes = download(&link, &vmx_path)?;
    let text = virt_vmx::decode_vmx(&bytes)?;
    let (max, current, vcpus) = sizes(&link, &machine)?;
    let mut domain = if text.trim().is_empty() {
        // A host that keeps no VMX file content (vcsim's inventory machines): the
        // definition is what vSphere reports.
        Domain {
            virt_type: Some(VirtType::Vmware),
            name: Some(machine.name.clone()),
            uuid: Some(machine.uuid),
            os: Some(Os {
                os_type: Some(OsTypeElement {
                    arch: Some("x86_64".to_string()),
                    machine: None,
                    os_type: Some(OsType::Hvm),
                }),
                ..Os::default()
            }),
            ..Domain::default()
        }
    } else {
        let context = DatastorePaths::new(
            &link,
            vmx_path.rsplit_once('/').map(|(dir, _)| dir.to_string()),
            Some(machine.reference.value.clone()),
        );
        virt_vmx::vmx_to_domain(&context, &text)?
    };
    // vSphere's figures win: a reconfiguration the host has not yet written to the VMX
    // file is what the machine has.
    domain.memory = Some(MemorySize {
        dump_core: None,
        size: ScaledKib(max),
    });
    domain.current_memory = Some(ScaledKib(current));
    let placement = domain.vcpu.as_ref().and_then(|v| v.placement);
    domain.vcpu = Some(Vcpu {
        placement,
        count: Some(vcpus),
        ..Vcpu::default()
    });
    domain.id = machine
        .active()
        .then(|| vim::machine_id(&machine.reference))
        .flatten();
    Ok(domain.format(&FormatOptions::default()))
}

/// `domxml-from-native vmware-vmx`: relative file names stay relative (no machine
/// directory is known), datastore mount paths become datastore paths.
pub fn from_native(vmx: &str) -> Result<String, Error> {
    let link = current()?;
    let domain = virt_vmx::vmx_to_domain(&DatastorePaths::new(&link, None, None), vmx)?;
    Ok(domain.format(&FormatOptions::default()))
}

/// `domxml-to-native vmware-vmx` at the host's default virtual hardware version.
pub fn to_native(xml: &str) -> Result<String, Error> {
    let link = current()?;
    let domain = Domain::parse(xml)?;
    virt_vmx::domain_to_vmx(
        &DatastorePaths::new(&link, None, None),
        &domain,
        virtual_hw_version(&link.service.api_version),
    )
}

/// libvirt's ESX define: the definition written as a VMX file next to its first disk,
/// uploaded to that datastore, and registered with the host.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let link = current()?;
    let mut domain = Domain::parse(xml)?;
    // libvirt's ESX parser config generates missing MACs in VMware's OUI, which the VMX
    // file then marks as generated.
    domain.assign_mac_addresses(|| {
        let bytes = *Uuid::new_v4().as_bytes();
        [0x00, 0x0c, 0x29, bytes[0], bytes[1], bytes[2]]
    });
    let name = domain
        .name
        .clone()
        .ok_or_else(|| error(ErrorNumber::XML_ERROR, "missing domain name".to_string()))?;
    let existing = machines(&link)?;
    if let Some(machine) = existing
        .iter()
        .find(|m| m.name == name || domain.uuid.is_some_and(|uuid| uuid == m.uuid))
    {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            format!(
                "Domain '{}' already exists, editing existing domains is not supported yet",
                machine.name
            ),
        ));
    }
    let context = DatastorePaths::new(&link, None, None);
    let vmx = virt_vmx::domain_to_vmx(
        &context,
        &domain,
        virtual_hw_version(&link.service.api_version),
    )?;
    // The VMX file goes into the directory of the first file-based disk, as libvirt does.
    let disk_source = domain
        .devices
        .disks
        .iter()
        .filter(|disk| matches!(disk.device, None | Some(DiskDevice::Disk)))
        .find_map(|disk| disk.source_path())
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "Domain XML doesn't contain any file-based harddisks, cannot deduce \
                 datastore and path for VMX file"
                    .to_string(),
            )
        })?;
    let (datastore, disk_path) = vim::split_datastore_path(disk_source).ok_or_else(|| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!("First file-based harddisk '{disk_source}' is not a datastore path"),
        )
    })?;
    let directory = disk_path
        .rsplit_once('/')
        .map(|(dir, _)| dir.to_string())
        .unwrap_or_default();
    let vmx_path = if directory.is_empty() {
        format!("[{datastore}] {name}.vmx")
    } else {
        format!("[{datastore}] {directory}/{name}.vmx")
    };
    if exists(&link, &vmx_path)? {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            format!("File '{vmx_path}' already exists"),
        ));
    }
    upload(&link, &vmx_path, &vmx)?;
    // A refusal after the upload takes back what was made: the machine's registration and
    // the VMX file (libvirt leaves the file behind).
    let registered = register(&link, &domain, &name, &vmx_path);
    let machine = match registered {
        Ok(machine) => machine,
        Err(failed) => {
            if let Ok(Some(machine)) = machine_by_vmx_path(&link, &vmx_path) {
                let _ = call(&link, "UnregisterVM", &machine, "");
            }
            delete_datastore_file(&link, &vmx_path);
            return Err(failed);
        }
    };
    lifecycle(&machine, event_type::DEFINED, defined_detail::ADDED);
    Ok(machine.domain_ref())
}

/// Registers the uploaded VMX file with the host and tells it the definition's sizes.
fn register(link: &Link, domain: &Domain, name: &str, vmx_path: &str) -> Result<Machine, Error> {
    let response = call(
        link,
        "RegisterVM_Task",
        &link.vm_folder,
        &format!(
            "{}{}<asTemplate>false</asTemplate>{}{}",
            vim::text("path", vmx_path),
            vim::text("name", name),
            link.resource_pool.xml("pool"),
            link.host.xml("host"),
        ),
    )?;
    let task = returned_reference(&response, "RegisterVM_Task")?;
    let result = wait_task(link, &task, "define domain", None)?;
    let reference = result
        .as_ref()
        .and_then(MoRef::from_element)
        .ok_or_else(|| internal("RegisterVM_Task returned no machine".to_string()))?;
    let registered = properties(link, &reference, LIST_PATHS)?;
    let machine = Machine::from_content(&registered)
        .ok_or_else(|| internal(format!("the registered machine '{name}' has no UUID")))?;
    // A host that does not read the VMX file's sizes (a simulator) is told them, so that
    // what vSphere reports is what was defined; a real host already agrees.
    let (max, _, vcpus) = sizes(link, &machine)?;
    let want_max = domain
        .memory
        .as_ref()
        .map_or(max, |m| m.size.0.div_ceil(1024) * 1024);
    let want_vcpus = domain.vcpu.as_ref().and_then(|v| v.count).unwrap_or(vcpus);
    if want_max != max || want_vcpus != vcpus {
        reconfigure(
            link,
            &machine,
            &format!(
                "{}{}",
                vim::text("numCPUs", &want_vcpus.to_string()),
                vim::text("memoryMB", &(want_max / 1024).to_string())
            ),
            "define domain",
        )?;
    }
    Ok(machine)
}

/// The machine registered from a VMX file, if any (SearchIndex.FindByDatastorePath).
fn machine_by_vmx_path(link: &Link, vmx_path: &str) -> Result<Option<MoRef>, Error> {
    let response = call(
        link,
        "FindByDatastorePath",
        &link.service.search_index,
        &format!(
            "{}{}",
            link.datacenter.xml("datacenter"),
            vim::text("path", vmx_path)
        ),
    )?;
    Ok(response.child("returnval").and_then(MoRef::from_element))
}

/// Deletes a datastore file, as far as it can (cleanup after a refusal).
fn delete_datastore_file(link: &Link, path: &str) {
    let Some(manager) = &link.service.file_manager else {
        return;
    };
    let deleted = call(
        link,
        "DeleteDatastoreFile_Task",
        manager,
        &format!(
            "{}{}",
            vim::text("name", path),
            link.datacenter.xml("datacenter")
        ),
    )
    .and_then(|response| returned_reference(&response, "DeleteDatastoreFile_Task"))
    .and_then(|task| wait_task(link, &task, "delete the VMX file", None));
    if let Err(failed) = deleted {
        virt_plugin_sdk::host::log::write(
            virt_plugin_sdk::host::log::Level::Warn,
            &format!("could not delete '{path}' after a refused define: {failed}"),
        );
    }
}

// ---- snapshots ----

/// One snapshot of a machine's tree, with its parent's name.
#[derive(Clone, Debug)]
struct Snapshot {
    reference: MoRef,
    name: String,
    description: String,
    created: String,
    powered_on: bool,
    parent: Option<String>,
}

fn walk_tree(node: &Element, parent: Option<&str>, out: &mut Vec<Snapshot>) {
    let Some(reference) = node.child("snapshot").and_then(MoRef::from_element) else {
        return;
    };
    let name = node.child_text("name").unwrap_or_default().to_string();
    out.push(Snapshot {
        reference,
        name: name.clone(),
        description: node
            .child_text("description")
            .unwrap_or_default()
            .to_string(),
        created: node
            .child_text("createTime")
            .unwrap_or_default()
            .to_string(),
        powered_on: node.child_text("state") == Some("poweredOn"),
        parent: parent.map(str::to_string),
    });
    for child in node.children_named("childSnapshotList") {
        walk_tree(child, Some(&name), out);
    }
}

/// A machine's snapshots, depth first, and the current one's name.
fn snapshots(link: &Link, machine: &Machine) -> Result<(Vec<Snapshot>, Option<String>), Error> {
    let info = properties(link, &machine.reference, &["snapshot"])?;
    let mut all = Vec::new();
    let Some(tree) = info.get("snapshot") else {
        return Ok((all, None));
    };
    for root in tree.children_named("rootSnapshotList") {
        walk_tree(root, None, &mut all);
    }
    let current = tree
        .child("currentSnapshot")
        .and_then(MoRef::from_element)
        .and_then(|r| {
            all.iter()
                .find(|s| s.reference == r)
                .map(|s| s.name.clone())
        });
    Ok((all, current))
}

fn snapshot_by_name(link: &Link, machine: &Machine, name: &str) -> Result<Snapshot, Error> {
    snapshots(link, machine)?
        .0
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| {
            error(
                ErrorNumber::NO_DOMAIN_SNAPSHOT,
                format!("Could not find snapshot with name '{name}'"),
            )
        })
}

pub fn snapshot_create(dom: &DomainRef, xml: &str, quiesce: bool) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let definition = DomainSnapshot::parse(xml)?;
    let name = definition.name.clone().unwrap_or_else(|| {
        // libvirt names an unnamed snapshot after the time it is taken.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string()
    });
    let (existing, _) = snapshots(&link, &machine)?;
    if existing.iter().any(|s| s.name == name) {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            format!("Snapshot '{name}' already exists"),
        ));
    }
    let response = call(
        &link,
        "CreateSnapshot_Task",
        &machine.reference,
        &format!(
            "{}{}<memory>false</memory><quiesce>{quiesce}</quiesce>",
            vim::text("name", &name),
            vim::text(
                "description",
                definition.description.as_deref().unwrap_or("")
            )
        ),
    )?;
    let task = returned_reference(&response, "CreateSnapshot_Task")?;
    wait_task(&link, &task, "create snapshot", Some(&machine.reference))?;
    Ok(name)
}

pub fn snapshot_list(dom: &DomainRef, roots_only: bool) -> Result<Vec<String>, Error> {
    let (link, machine) = resolve(dom)?;
    Ok(snapshots(&link, &machine)?
        .0
        .into_iter()
        .filter(|s| !roots_only || s.parent.is_none())
        .map(|s| s.name)
        .collect())
}

pub fn snapshot_children(dom: &DomainRef, name: &str) -> Result<Vec<String>, Error> {
    let (link, machine) = resolve(dom)?;
    let (all, _) = snapshots(&link, &machine)?;
    if !all.iter().any(|s| s.name == name) {
        return Err(error(
            ErrorNumber::NO_DOMAIN_SNAPSHOT,
            format!("Could not find snapshot with name '{name}'"),
        ));
    }
    Ok(all
        .into_iter()
        .filter(|s| s.parent.as_deref() == Some(name))
        .map(|s| s.name)
        .collect())
}

pub fn snapshot_lookup(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    Ok(snapshot_by_name(&link, &machine, name)?.name)
}

pub fn snapshot_current(dom: &DomainRef) -> Result<Option<String>, Error> {
    let (link, machine) = resolve(dom)?;
    Ok(snapshots(&link, &machine)?.1)
}

pub fn snapshot_parent(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    snapshot_by_name(&link, &machine, name)?
        .parent
        .ok_or_else(|| {
            error(
                ErrorNumber::NO_DOMAIN_SNAPSHOT,
                format!("snapshot '{name}' does not have a parent"),
            )
        })
}

/// `2026-12-07T13:02:02.558724216Z` → seconds since the epoch (UTC).
fn epoch_seconds(text: &str) -> i64 {
    let digits = |range: std::ops::Range<usize>| {
        text.get(range)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (digits(0..4), digits(5..7), digits(8..10));
    let (hour, minute, second) = (digits(11..13), digits(14..16), digits(17..19));
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hour * 3600 + minute * 60 + second
}

pub fn snapshot_xml(dom: &DomainRef, name: &str) -> Result<String, Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let mut text = format!("<domainsnapshot><name>{}</name>", escape(&snapshot.name));
    if !snapshot.description.is_empty() {
        text.push_str(&format!(
            "<description>{}</description>",
            escape(&snapshot.description)
        ));
    }
    text.push_str(&format!(
        "<state>{}</state>",
        if snapshot.powered_on {
            "running"
        } else {
            "shutoff"
        }
    ));
    if let Some(parent) = &snapshot.parent {
        text.push_str(&format!("<parent><name>{}</name></parent>", escape(parent)));
    }
    text.push_str(&format!(
        "<creationTime>{}</creationTime><domain><uuid>{}</uuid></domain></domainsnapshot>",
        epoch_seconds(&snapshot.created),
        machine.uuid
    ));
    Ok(DomainSnapshot::parse(&text)?.to_xml())
}

pub fn snapshot_revert(dom: &DomainRef, name: &str) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let response = call(&link, "RevertToSnapshot_Task", &snapshot.reference, "")?;
    let task = returned_reference(&response, "RevertToSnapshot_Task")?;
    wait_task(&link, &task, "revert to snapshot", Some(&machine.reference))?;
    Ok(())
}

pub fn snapshot_delete(dom: &DomainRef, name: &str, children: bool) -> Result<(), Error> {
    let (link, machine) = resolve(dom)?;
    let snapshot = snapshot_by_name(&link, &machine, name)?;
    let response = call(
        &link,
        "RemoveSnapshot_Task",
        &snapshot.reference,
        &format!("<removeChildren>{children}</removeChildren>"),
    )?;
    let task = returned_reference(&response, "RemoveSnapshot_Task")?;
    wait_task(&link, &task, "delete snapshot", Some(&machine.reference))?;
    Ok(())
}

// ---- storage pools (datastores) and volumes (their files) ----

fn no_pool(what: String) -> Error {
    error(ErrorNumber::NO_STORAGE_POOL, what)
}

pub fn pools() -> Result<Vec<PoolRef>, Error> {
    let link = current()?;
    Ok(datastores(&link)?.iter().map(Datastore::pool_ref).collect())
}

fn datastore_named(link: &Link, name: &str) -> Result<Datastore, Error> {
    datastores(link)?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| no_pool(format!("Could not find datastore with name '{name}'")))
}

pub fn pool_by_name(name: &str) -> Result<PoolRef, Error> {
    let link = current()?;
    Ok(datastore_named(&link, name)?.pool_ref())
}

pub fn pool_by_uuid(uuid: &Uuid) -> Result<PoolRef, Error> {
    let link = current()?;
    datastores(&link)?
        .into_iter()
        .find(|d| d.uuid() == *uuid)
        .map(|d| d.pool_ref())
        .ok_or_else(|| no_pool(format!("Could not find datastore with UUID '{uuid}'")))
}

pub fn pool_info(pool: &PoolRef) -> Result<PoolInfo, Error> {
    let link = current()?;
    let datastore = datastore_named(&link, &pool.name)?;
    Ok(PoolInfo {
        state: if datastore.accessible { 2 } else { 4 },
        capacity: datastore.capacity,
        allocation: datastore.capacity.saturating_sub(datastore.free),
        available: datastore.free,
    })
}

/// libvirt's pool XML for a datastore: `fs` (VMFS), `netfs` (NFS) or `dir` (local).
pub fn pool_xml(pool: &PoolRef) -> Result<String, Error> {
    let link = current()?;
    let datastore = datastore_named(&link, &pool.name)?;
    let (kind, source) = match datastore.kind.as_str() {
        "VMFS" => ("fs", "<source><format type='vmfs'/></source>".to_string()),
        "NFS" | "NFS41" => {
            let info = properties(&link, &datastore.reference, &["info"])?;
            let nas = info.get("info").and_then(|i| i.child("nas"));
            let host = nas
                .and_then(|n| n.child_text("remoteHost"))
                .unwrap_or_default();
            let path = nas
                .and_then(|n| n.child_text("remotePath"))
                .unwrap_or_default();
            (
                "netfs",
                format!(
                    "<source><host name='{}'/><dir path='{}'/><format type='nfs'/></source>",
                    escape(host),
                    escape(path)
                ),
            )
        }
        _ => ("dir", String::new()),
    };
    let text = format!(
        "<pool type='{kind}'><name>{}</name><uuid>{}</uuid><capacity unit='bytes'>{}</capacity>\
         <allocation unit='bytes'>{}</allocation><available unit='bytes'>{}</available>\
         {source}<target><path>{}</path></target></pool>",
        escape(&datastore.name),
        datastore.uuid(),
        datastore.capacity,
        datastore.capacity.saturating_sub(datastore.free),
        datastore.free,
        escape(&datastore.mount)
    );
    Ok(virt_xml::storage::StoragePool::parse(&text)?.to_xml())
}

/// A file on a datastore a volume shows: its datastore path, size and, for a disk, capacity.
#[derive(Clone, Debug)]
struct DatastoreFile {
    /// `dir/file.vmdk`, the volume's name.
    name: String,
    size: u64,
    capacity: Option<u64>,
}

fn datastore_files(link: &Link, datastore: &Datastore) -> Result<Vec<DatastoreFile>, Error> {
    let info = properties(link, &datastore.reference, &["browser"])?;
    let browser = info
        .moref("browser")
        .ok_or_else(|| internal(format!("the datastore '{}' has no browser", datastore.name)))?;
    let response = call(
        link,
        "SearchDatastoreSubFolders_Task",
        &browser,
        &format!(
            "{}<searchSpec><query xsi:type=\"VmDiskFileQuery\"><details><diskType>true</diskType>\
             <capacityKb>true</capacityKb><hardwareVersion>false</hardwareVersion></details></query>\
             <query xsi:type=\"IsoImageFileQuery\"/><query xsi:type=\"FloppyImageFileQuery\"/>\
             <details><fileType>true</fileType><fileSize>true</fileSize><modification>false</modification>\
             <fileOwner>false</fileOwner></details><matchPattern>*</matchPattern></searchSpec>",
            vim::text("datastorePath", &format!("[{}]", datastore.name))
        ),
    )?;
    let task = returned_reference(&response, "SearchDatastoreSubFolders_Task")?;
    let result = wait_task(link, &task, "list the datastore's files", None)?;
    let mut files = Vec::new();
    let Some(result) = result else {
        return Ok(files);
    };
    let folders: Vec<&Element> = if result.child("folderPath").is_some() {
        vec![&result]
    } else {
        result.children.iter().collect()
    };
    for folder in folders {
        let folder_path = folder.child_text("folderPath").unwrap_or_default();
        let directory = vim::split_datastore_path(folder_path)
            .map(|(_, path)| path.trim_matches('/').to_string())
            .unwrap_or_default();
        for file in folder.children_named("file") {
            let Some(path) = file.child_text("path") else {
                continue;
            };
            let name = if directory.is_empty() {
                path.to_string()
            } else {
                format!("{directory}/{path}")
            };
            files.push(DatastoreFile {
                name,
                size: file
                    .child_text("fileSize")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                capacity: file
                    .child_text("capacityKb")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(|kb| kb * 1024),
            });
        }
    }
    Ok(files)
}

fn volume_ref(datastore: &Datastore, file: &DatastoreFile) -> VolumeRef {
    let path = format!("[{}] {}", datastore.name, file.name);
    VolumeRef {
        pool: datastore.name.clone(),
        name: file.name.clone(),
        key: path,
    }
}

pub fn volumes(pool: &PoolRef) -> Result<Vec<VolumeRef>, Error> {
    let link = current()?;
    let datastore = datastore_named(&link, &pool.name)?;
    Ok(datastore_files(&link, &datastore)?
        .iter()
        .map(|file| volume_ref(&datastore, file))
        .collect())
}

fn no_volume(what: String) -> Error {
    error(ErrorNumber::NO_STORAGE_VOL, what)
}

fn volume_file(link: &Link, pool: &str, name: &str) -> Result<(Datastore, DatastoreFile), Error> {
    let datastore = datastore_named(link, pool)?;
    let file = datastore_files(link, &datastore)?
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| {
            no_volume(format!(
                "Could not find volume '{name}' in datastore '{pool}'"
            ))
        })?;
    Ok((datastore, file))
}

pub fn volume_by_name(pool: &PoolRef, name: &str) -> Result<VolumeRef, Error> {
    let link = current()?;
    let (datastore, file) = volume_file(&link, &pool.name, name)?;
    Ok(volume_ref(&datastore, &file))
}

/// Keys and paths are the datastore path, `[datastore] dir/file.vmdk`.
pub fn volume_by_path(path: &str) -> Result<VolumeRef, Error> {
    let link = current()?;
    let (datastore, name) = vim::split_datastore_path(path)
        .ok_or_else(|| no_volume(format!("'{path}' is not a datastore path")))?;
    let (datastore, file) = volume_file(&link, datastore, name)?;
    Ok(volume_ref(&datastore, &file))
}

pub fn volume_info(vol: &VolumeRef) -> Result<VolumeInfo, Error> {
    let link = current()?;
    let (_, file) = volume_file(&link, &vol.pool, &vol.name)?;
    Ok(VolumeInfo {
        kind: 0,
        capacity: file.capacity.unwrap_or(file.size),
        allocation: file.size,
    })
}

fn volume_format(name: &str) -> &'static str {
    if name.ends_with(".vmdk") {
        "vmdk"
    } else if name.ends_with(".iso") {
        "iso"
    } else {
        "raw"
    }
}

pub fn volume_xml(vol: &VolumeRef) -> Result<String, Error> {
    let link = current()?;
    let (datastore, file) = volume_file(&link, &vol.pool, &vol.name)?;
    let path = format!("[{}] {}", datastore.name, file.name);
    let text = format!(
        "<volume type='file'><name>{}</name><key>{}</key><capacity unit='bytes'>{}</capacity>\
         <allocation unit='bytes'>{}</allocation><target><path>{}</path>\
         <format type='{}'/></target></volume>",
        escape(&file.name),
        escape(&path),
        file.capacity.unwrap_or(file.size),
        file.size,
        escape(&path),
        volume_format(&file.name)
    );
    Ok(virt_xml::storage::StorageVolume::parse(&text)?.to_xml())
}

/// libvirt's vol-create on a datastore: a VMDK named `dir/file.vmdk`, its directory made.
pub fn volume_create(pool: &PoolRef, xml: &str) -> Result<VolumeRef, Error> {
    let link = current()?;
    let datastore = datastore_named(&link, &pool.name)?;
    let definition = virt_xml::storage::StorageVolume::parse(xml)?;
    let name = definition.name.clone().unwrap_or_default();
    let format = definition
        .target
        .as_ref()
        .and_then(|t| t.format.as_ref())
        .and_then(|f| f.format_type.clone())
        .unwrap_or_else(|| "vmdk".to_string());
    if format != "vmdk" {
        return Err(error(
            ErrorNumber::NO_SUPPORT,
            format!("Creation of {format} volumes is not supported"),
        ));
    }
    let Some((directory, file)) = name
        .rsplit_once('/')
        .filter(|(d, f)| !d.is_empty() && f.ends_with(".vmdk") && f.len() > ".vmdk".len())
    else {
        return Err(error(
            ErrorNumber::INVALID_ARG,
            format!("Volume name '{name}' doesn't have expected format '<directory>/<file>.vmdk'"),
        ));
    };
    let _ = file;
    if datastore_files(&link, &datastore)?
        .iter()
        .any(|f| f.name == name)
    {
        return Err(error(
            ErrorNumber::STORAGE_VOL_EXIST,
            format!("Volume '{name}' already exists"),
        ));
    }
    let capacity = definition.capacity.map_or(0, |c| c.0);
    let capacity_kb = capacity.div_ceil(1024);
    let thin = definition
        .allocation
        .is_some_and(|allocation| allocation.0 < capacity);
    if let Some(file_manager) = &link.service.file_manager {
        call(
            &link,
            "MakeDirectory",
            file_manager,
            &format!(
                "{}{}<createParentDirectories>true</createParentDirectories>",
                vim::text("name", &format!("[{}] {directory}", datastore.name)),
                link.datacenter.xml("datacenter")
            ),
        )
        .or_else(|e| {
            // The directory may be there already (FileAlreadyExists).
            if e.message().contains("FileAlreadyExists") {
                Ok(Element::default())
            } else {
                Err(e)
            }
        })?;
    }
    let manager = link.service.virtual_disk_manager.clone().ok_or_else(|| {
        error(
            ErrorNumber::NO_SUPPORT,
            "the host has no virtual disk manager".to_string(),
        )
    })?;
    let response = call(
        &link,
        "CreateVirtualDisk_Task",
        &manager,
        &format!(
            "{}{}<spec xsi:type=\"FileBackedVirtualDiskSpec\"><diskType>{}</diskType>\
             <adapterType>lsiLogic</adapterType><capacityKb>{capacity_kb}</capacityKb></spec>",
            vim::text("name", &format!("[{}] {name}", datastore.name)),
            link.datacenter.xml("datacenter"),
            if thin { "thin" } else { "preallocated" }
        ),
    )?;
    let task = returned_reference(&response, "CreateVirtualDisk_Task")?;
    wait_task(&link, &task, "create volume", None)?;
    let (datastore, file) = volume_file(&link, &pool.name, &name)?;
    Ok(volume_ref(&datastore, &file))
}

pub fn volume_delete(vol: &VolumeRef) -> Result<(), Error> {
    let link = current()?;
    let (datastore, file) = volume_file(&link, &vol.pool, &vol.name)?;
    if volume_format(&file.name) != "vmdk" {
        return Err(error(
            ErrorNumber::NO_SUPPORT,
            format!(
                "Deletion of '{}' is not supported: it is not a VMDK",
                file.name
            ),
        ));
    }
    let manager = link.service.virtual_disk_manager.clone().ok_or_else(|| {
        error(
            ErrorNumber::NO_SUPPORT,
            "the host has no virtual disk manager".to_string(),
        )
    })?;
    let response = call(
        &link,
        "DeleteVirtualDisk_Task",
        &manager,
        &format!(
            "{}{}",
            vim::text("name", &format!("[{}] {}", datastore.name, file.name)),
            link.datacenter.xml("datacenter")
        ),
    )?;
    let task = returned_reference(&response, "DeleteVirtualDisk_Task")?;
    wait_task(&link, &task, "delete volume", None)?;
    Ok(())
}

// ---- networks (virtual switches) and interfaces (physical NICs) ----

/// The host's network configuration: virtual switches, port groups and physical NICs.
fn network_config(link: &Link) -> Result<Element, Error> {
    let info = properties(link, &link.host, &["config.network"])?;
    info.get("config.network")
        .cloned()
        .ok_or_else(|| internal("the host reports no network configuration".to_string()))
}

fn switch_uuid(key: &str) -> Uuid {
    const NAMESPACE: Uuid = Uuid::from_bytes([
        0x2c, 0x8d, 0x41, 0x07, 0x5b, 0x6e, 0x4f, 0x3a, 0x90, 0x1d, 0x7e, 0x44, 0x0a, 0xb2, 0xc3,
        0x58,
    ]);
    Uuid::new_v5(&NAMESPACE, key.as_bytes())
}

fn no_network(what: String) -> Error {
    error(ErrorNumber::NO_NETWORK, what)
}

fn switches(config: &Element) -> impl Iterator<Item = &Element> {
    config.children_named("vswitch")
}

fn switch_ref(switch: &Element) -> NetworkRef {
    NetworkRef {
        name: switch.child_text("name").unwrap_or_default().to_string(),
        uuid: switch_uuid(switch.child_text("key").unwrap_or_default()).into(),
    }
}

pub fn networks() -> Result<Vec<NetworkRef>, Error> {
    let link = current()?;
    Ok(switches(&network_config(&link)?).map(switch_ref).collect())
}

pub fn network_by_name(name: &str) -> Result<NetworkRef, Error> {
    let link = current()?;
    let config = network_config(&link)?;
    let found = switches(&config)
        .find(|s| s.child_text("name") == Some(name))
        .map(switch_ref);
    found.ok_or_else(|| no_network(format!("Could not find network with name '{name}'")))
}

pub fn network_by_uuid(uuid: &Uuid) -> Result<NetworkRef, Error> {
    let link = current()?;
    let config = network_config(&link)?;
    let found = switches(&config)
        .map(switch_ref)
        .find(|r| Uuid::from(r.uuid) == *uuid);
    found.ok_or_else(|| no_network(format!("Could not find network with UUID '{uuid}'")))
}

/// libvirt's network XML for a virtual switch: bridged to its physical NICs, its port
/// groups as `<portgroup>`s.
pub fn network_xml(net: &NetworkRef) -> Result<String, Error> {
    let link = current()?;
    let config = network_config(&link)?;
    let switch = switches(&config)
        .find(|s| s.child_text("name") == Some(net.name.as_str()))
        .ok_or_else(|| no_network(format!("Could not find network with name '{}'", net.name)))?;
    let key_of_nic = |key: &str| {
        config
            .children_named("pnic")
            .find(|p| p.child_text("key") == Some(key))
            .and_then(|p| p.child_text("device"))
            .map(str::to_string)
    };
    let nics: Vec<String> = switch
        .children_named("pnic")
        .filter_map(|key| key_of_nic(key.text.trim()))
        .collect();
    let mut text = format!(
        "<network><name>{}</name><uuid>{}</uuid>",
        escape(&net.name),
        Uuid::from(net.uuid)
    );
    if !nics.is_empty() {
        text.push_str("<forward mode='bridge'>");
        for nic in &nics {
            text.push_str(&format!("<interface dev='{}'/>", escape(nic)));
        }
        text.push_str("</forward>");
    }
    let group_keys: Vec<&str> = switch
        .children_named("portgroup")
        .map(|k| k.text.trim())
        .collect();
    for group in config.children_named("portgroup") {
        if !group_keys.contains(&group.child_text("key").unwrap_or_default()) {
            continue;
        }
        let Some(spec) = group.child("spec") else {
            continue;
        };
        text.push_str(&format!(
            "<portgroup name='{}'/>",
            escape(spec.child_text("name").unwrap_or_default())
        ));
    }
    text.push_str("</network>");
    Ok(virt_xml::network::Network::parse(&text)?.to_xml())
}

fn nics(config: &Element) -> impl Iterator<Item = &Element> {
    config.children_named("pnic")
}

fn nic_ref(nic: &Element) -> InterfaceRef {
    InterfaceRef {
        name: nic.child_text("device").unwrap_or_default().to_string(),
        mac: nic.child_text("mac").unwrap_or_default().to_string(),
    }
}

pub fn interfaces() -> Result<Vec<InterfaceRef>, Error> {
    let link = current()?;
    Ok(nics(&network_config(&link)?).map(nic_ref).collect())
}

fn no_interface(what: String) -> Error {
    error(ErrorNumber::NO_INTERFACE, what)
}

pub fn interface_by(name: Option<&str>, mac: Option<&str>) -> Result<InterfaceRef, Error> {
    let link = current()?;
    let config = network_config(&link)?;
    let found = nics(&config).map(nic_ref).find(|r| {
        name.is_some_and(|n| r.name == n) || mac.is_some_and(|m| r.mac.eq_ignore_ascii_case(m))
    });
    found.ok_or_else(|| {
        no_interface(match (name, mac) {
            (Some(name), _) => format!("Could not find physical NIC with name '{name}'"),
            (_, mac) => format!(
                "Could not find physical NIC with MAC address '{}'",
                mac.unwrap_or_default()
            ),
        })
    })
}

/// libvirt's interface XML for a physical NIC: ethernet, its MAC and IPv4 configuration.
pub fn interface_xml(iface: &InterfaceRef) -> Result<String, Error> {
    let link = current()?;
    let config = network_config(&link)?;
    let nic = nics(&config)
        .find(|n| n.child_text("device") == Some(iface.name.as_str()))
        .ok_or_else(|| {
            no_interface(format!(
                "Could not find physical NIC with name '{}'",
                iface.name
            ))
        })?;
    let mut text = format!(
        "<interface type='ethernet' name='{}'><start mode='onboot'/><mac address='{}'/>",
        escape(&iface.name),
        escape(&iface.mac)
    );
    if let Some(ip) = nic.child("spec").and_then(|s| s.child("ip")) {
        let dhcp = ip.child_text("dhcp") == Some("true");
        let address = ip.child_text("ipAddress").unwrap_or_default();
        let mask = ip.child_text("subnetMask").unwrap_or_default();
        let prefix: u32 = mask
            .split('.')
            .filter_map(|o| o.parse::<u8>().ok())
            .map(u8::count_ones)
            .sum();
        if dhcp || !address.is_empty() {
            text.push_str("<protocol family='ipv4'>");
            if dhcp {
                text.push_str("<dhcp/>");
            } else {
                text.push_str(&format!(
                    "<ip address='{}' prefix='{prefix}'/>",
                    escape(address)
                ));
            }
            text.push_str("</protocol>");
        }
    }
    text.push_str("</interface>");
    Ok(virt_xml::interface::HostInterface::parse(&text)?.to_xml())
}
