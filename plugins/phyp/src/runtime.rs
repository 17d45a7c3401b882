//! The driver's calls, run as HMC commands over the host's `ssh` sessions.
//!
//! Each connection has a private, volatile space holding its [`Link`]: where it goes, the
//! session handle the host keeps open for it, and whether the far side is an HMC or an IVM.
//! Nothing else is cached: the HMC is the only record of the partitions, and another HMC user
//! may change them between two calls, so every call asks it.

use serde::{Deserialize, Serialize};
use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail, domain_event_type as event_type,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::credentials::{self, CredentialKind};
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::ssh::{self, Auth, SessionRequest, TerminalRequest};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{
    ConsoleEndpoint, DomainInfo, DomainRef, DomainState, NodeInfo, ObjectStatus,
};

use crate::hmc::{self, Console, Lpar, Resources, LPAR_FIELDS};
use crate::uri::Target;

const LINK_KIND: &str = "link";
const LINK_KEY: &str = "this";
/// How long one HMC command may take; activating a partition answers within seconds.
const COMMAND_TIMEOUT_MS: u32 = 120_000;
const CONNECT_TIMEOUT_MS: u32 = 30_000;

/// A connection's way to its HMC.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Link {
    target: Target,
    session: u64,
    /// The managed system on an HMC; `None` on an IVM.
    managed_system: Option<String>,
    /// What names the UUIDs: the managed system, or the IVM's host.
    uuid_scope: String,
}

impl Link {
    fn console(&self) -> Console {
        Console {
            managed_system: self.managed_system.clone(),
        }
    }
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::PHYP, message)
}

fn current() -> Result<Link, Error> {
    state::get(LINK_KIND, LINK_KEY)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                "the connection has no HMC session".to_string(),
            )
        })
}

/// Runs one HMC command; a non-zero exit is the HMC's refusal, its message passed on.
fn run_on(link: &Link, command: &str) -> Result<String, Error> {
    let output = ssh::exec(link.session, command, &[], COMMAND_TIMEOUT_MS)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.exit_code == Some(0) {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = [stderr.trim(), stdout.trim()]
        .into_iter()
        .find(|text| !text.is_empty())
        .unwrap_or("no message");
    Err(error(
        ErrorNumber::INTERNAL_ERROR,
        format!(
            "HMC command '{command}' on '{}' failed: {said}",
            link.target.host
        ),
    ))
}

fn ask_credential(target: &Target, kind: CredentialKind) -> Result<Option<String>, Error> {
    Ok(credentials::lookup("ssh", &target.host, kind)?)
}

/// Opens the SSH session as libvirt's driver did: the user's keys first, then a password,
/// which in a daemon comes from libvirt's auth file.
fn open_session(target: &Target) -> Result<u64, Error> {
    let user = match &target.user {
        Some(user) => user.clone(),
        None => ask_credential(target, CredentialKind::Username)?.ok_or_else(|| {
            error(
                ErrorNumber::AUTH_FAILED,
                format!(
                    "no username for '{}': name one in the URI (phyp://USER@{}/...) or in \
                     the auth file's [auth-ssh-{}] credentials",
                    target.host, target.host, target.host
                ),
            )
        })?,
    };
    let request = |auth: Auth| SessionRequest {
        host: target.host.clone(),
        port: target.port,
        user: user.clone(),
        auth,
        no_verify: target.no_verify,
        timeout_ms: CONNECT_TIMEOUT_MS,
    };
    let by_key = match ssh::open(&request(Auth::DefaultKeys)) {
        Ok(session) => return Ok(session),
        Err(refused) if refused.code == ErrorNumber::AUTH_FAILED.0 => refused,
        Err(other) => return Err(other.into()),
    };
    let Some(password) = ask_credential(target, CredentialKind::Password)? else {
        return Err(error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "{} (no password for '{user}@{}' in the auth file either)",
                by_key.message, target.host
            ),
        ));
    };
    Ok(ssh::open(&request(Auth::Password(password)))?)
}

/// `connect.open`: a session, then what the far side is. libvirt's test was `lshmc -V`: an
/// HMC has it, an IVM's shell does not (127).
pub fn open(target: Target) -> Result<(), Error> {
    state::bind_space("private:phyp", Persistence::Volatile)?;
    let session = open_session(&target)?;
    let mut link = Link {
        uuid_scope: target.host.clone(),
        target,
        session,
        managed_system: None,
    };
    let opened = (|| {
        let version = ssh::exec(session, "lshmc -V", &[], COMMAND_TIMEOUT_MS)?;
        if version.exit_code == Some(0) {
            let Some(system) = link.target.managed_system.clone() else {
                return Err(error(
                    ErrorNumber::INVALID_ARG,
                    format!(
                        "'{}' is an HMC: the URI must name a managed system \
                         (phyp://{}/SYSTEM)",
                        link.target.host, link.target.host
                    ),
                ));
            };
            link.managed_system = Some(system.clone());
            link.uuid_scope = system;
            // The system must exist: `-r sys` of an unknown one is the HMC's error.
            run_on(
                &link,
                &link
                    .console()
                    .command("lssyscfg", &["-r", "sys", "-F", "name"]),
            )?;
        }
        Ok(())
    })();
    if let Err(failure) = opened {
        ssh::close(session);
        return Err(failure);
    }
    let bytes = serde_json::to_vec(&link).unwrap_or_default();
    state::put(LINK_KIND, LINK_KEY, &bytes);
    Ok(())
}

/// `connect.close`: the session ends with the connection.
pub fn close() {
    if let Ok(link) = current() {
        ssh::close(link.session);
        state::delete(LINK_KIND, LINK_KEY);
    }
}

/// Every partition, in the HMC's order.
pub fn lpars() -> Result<Vec<Lpar>, Error> {
    let link = current()?;
    lpars_on(&link)
}

fn lpars_on(link: &Link) -> Result<Vec<Lpar>, Error> {
    let text = run_on(
        link,
        &link
            .console()
            .command("lssyscfg", &["-r", "lpar", "-F", LPAR_FIELDS]),
    )?;
    hmc::rows(&text)
        .iter()
        .map(|row| Lpar::from_row(row))
        .collect()
}

fn no_domain(what: String) -> Error {
    Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::PHYP, what)
}

pub fn reference(link_scope: &str, lpar: &Lpar) -> DomainRef {
    DomainRef {
        name: lpar.name.clone(),
        uuid: lpar.uuid(link_scope).into(),
        id: if lpar.is_active() { lpar.id as i32 } else { -1 },
    }
}

fn scope() -> Result<String, Error> {
    Ok(current()?.uuid_scope)
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    let scope = scope()?;
    lpars()?
        .iter()
        .find(|lpar| lpar.name == name)
        .map(|lpar| reference(&scope, lpar))
        .ok_or_else(|| no_domain(format!("no domain with matching name '{name}'")))
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    let scope = scope()?;
    lpars()?
        .iter()
        .find(|lpar| lpar.uuid(&scope) == *uuid)
        .map(|lpar| reference(&scope, lpar))
        .ok_or_else(|| no_domain(format!("no domain with matching uuid '{uuid}'")))
}

pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    let scope = scope()?;
    lpars()?
        .iter()
        .find(|lpar| lpar.is_active() && lpar.id as i32 == id)
        .map(|lpar| reference(&scope, lpar))
        .ok_or_else(|| no_domain(format!("no domain with matching id {id}")))
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    let scope = scope()?;
    Ok(lpars()?
        .iter()
        .map(|lpar| (reference(&scope, lpar), lpar.is_active()))
        .collect())
}

/// The partition a reference names, found again by its UUID (its name may have changed on
/// the HMC since).
fn resolve(dom: &DomainRef) -> Result<(Link, Lpar), Error> {
    let link = current()?;
    let uuid: Uuid = dom.uuid.into();
    let lpar = lpars_on(&link)?
        .into_iter()
        .find(|lpar| lpar.uuid(&link.uuid_scope) == uuid)
        .ok_or_else(|| {
            no_domain(format!(
                "no domain with matching uuid '{uuid}' ({})",
                dom.name
            ))
        })?;
    Ok((link, lpar))
}

fn emit(link: &Link, lpar: &Lpar, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((
        reference(&link.uuid_scope, lpar),
        event,
        detail,
    )));
}

/// Memory and processors: held now when active (`lshwres`), the profile's when not.
fn resources(link: &Link, lpar: &Lpar) -> Result<Resources, Error> {
    let filter = format!("lpar_ids={}", lpar.id);
    let console = link.console();
    let one_row = |text: String, what: &str| -> Result<Vec<String>, Error> {
        hmc::rows(&text).into_iter().next().ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!("the HMC lists no {what} for partition {}", lpar.name),
            )
        })
    };
    if lpar.is_active() {
        let mem = one_row(
            run_on(
                link,
                &console.command(
                    "lshwres",
                    &[
                        "-r",
                        "mem",
                        "--level",
                        "lpar",
                        "--filter",
                        &filter,
                        "-F",
                        "curr_mem,curr_max_mem",
                    ],
                ),
            )?,
            "memory",
        )?;
        let procs = one_row(
            run_on(
                link,
                &console.command(
                    "lshwres",
                    &[
                        "-r",
                        "proc",
                        "--level",
                        "lpar",
                        "--filter",
                        &filter,
                        "-F",
                        "curr_procs,curr_max_procs",
                    ],
                ),
            )?,
            "processors",
        )?;
        let field =
            |row: &[String], i: usize, what| hmc::number(row.get(i).map_or("", |s| s), what);
        return Ok(Resources {
            mem_mb: field(&mem, 0, "memory")?,
            max_mem_mb: field(&mem, 1, "memory")?,
            procs: field(&procs, 0, "processors")?,
            max_procs: field(&procs, 1, "processors")?,
        });
    }
    let text = run_on(
        link,
        &console.command(
            "lssyscfg",
            &[
                "-r",
                "prof",
                "--filter",
                &filter,
                "-F",
                "name,desired_mem,max_mem,desired_procs,max_procs",
            ],
        ),
    )?;
    let rows = hmc::rows(&text);
    let profile = rows
        .iter()
        .find(|row| row.first() == Some(&lpar.profile))
        .or(rows.first())
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!("partition {} has no profile", lpar.name),
            )
        })?;
    let field = |i: usize, what| hmc::number(profile.get(i).map_or("", |s| s), what);
    Ok(Resources {
        mem_mb: field(1, "memory")?,
        max_mem_mb: field(2, "memory")?,
        procs: field(3, "processors")?,
        max_procs: field(4, "processors")?,
    })
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let (link, lpar) = resolve(dom)?;
    let resources = resources(&link, &lpar)?;
    Ok(DomainInfo {
        state: lpar.domain_state() as u8,
        max_mem_kib: resources.max_mem_mb * 1024,
        memory_kib: resources.mem_mb * 1024,
        nr_virt_cpu: u16::try_from(resources.procs).unwrap_or(u16::MAX),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let (_, lpar) = resolve(dom)?;
    // libvirt's driver never knew why: the reason is always 0 (unknown).
    Ok(DomainState {
        state: lpar.domain_state(),
        reason: 0,
    })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let (_, lpar) = resolve(dom)?;
    Ok(ObjectStatus {
        active: lpar.is_active(),
        persistent: true,
        autostart: false,
        updated: false,
        has_managed_save: false,
    })
}

pub fn get_xml(dom: &DomainRef, inactive: bool) -> Result<String, Error> {
    let (link, lpar) = resolve(dom)?;
    let resources = resources(&link, &lpar)?;
    hmc::domain_xml(&lpar, &lpar.uuid(&link.uuid_scope), &resources, !inactive)
}

pub fn resources_of(dom: &DomainRef) -> Result<Resources, Error> {
    let (link, lpar) = resolve(dom)?;
    resources(&link, &lpar)
}

fn operation_invalid(message: String) -> Error {
    error(ErrorNumber::OPERATION_INVALID, message)
}

/// `chsysstate -o on` with the partition's current profile.
pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let (link, lpar) = resolve(dom)?;
    if lpar.is_active() {
        return Err(operation_invalid("domain is already running".to_string()));
    }
    let id = lpar.id.to_string();
    // The profile's name is the HMC's, not checked by this driver: quoted for its shell.
    let profile = virt_plugin_sdk::command_line::shell_quote(&lpar.profile);
    run_on(
        &link,
        &link.console().command(
            "chsysstate",
            &["-r", "lpar", "-o", "on", "--id", &id, "-f", &profile],
        ),
    )?;
    let started = Lpar {
        state: "Running".to_string(),
        ..lpar
    };
    emit(&link, &started, event_type::STARTED, started_detail::BOOTED);
    Ok(reference(&link.uuid_scope, &started))
}

/// What `mkvterm` prints once the partition's virtual terminal is connected.
const VTERM_READY: &str = "Open Completed.";
const TERMINAL_KIND: &str = "terminal";

/// A partition's virtual terminal: an interactive channel on the connection's session.
#[derive(Serialize, Deserialize)]
struct OpenTerminal {
    handle: u64,
    pty: String,
}

/// `virDomainOpenConsole`: the partition's virtual terminal (`mkvterm`) over an interactive
/// SSH channel, handed to the console as the pty the host joins it to. The channel outlives
/// one console client, as a serial line does: the next console gets the same terminal. An
/// HMC allows one virtual terminal per partition; with `force`, one open elsewhere is closed
/// first (`rmvterm`).
pub fn open_console(
    dom: &DomainRef,
    dev_name: Option<&str>,
    force: bool,
) -> Result<ConsoleEndpoint, Error> {
    let (link, lpar) = resolve(dom)?;
    if let Some(name) = dev_name {
        if !matches!(name, "console0" | "serial0") {
            return Err(error(
                ErrorNumber::INTERNAL_ERROR,
                format!("cannot find character device {name}"),
            ));
        }
    }
    if !lpar.is_active() {
        return Err(operation_invalid("domain is not running".to_string()));
    }
    let key = lpar.uuid(&link.uuid_scope).to_string();
    let open = state::get(TERMINAL_KIND, &key)
        .and_then(|bytes| serde_json::from_slice::<OpenTerminal>(&bytes).ok());
    if let Some(open) = open {
        if ssh::terminal_alive(link.session, open.handle) {
            return Ok(ConsoleEndpoint::Pty(open.pty));
        }
        state::delete(TERMINAL_KIND, &key);
    }
    let id = lpar.id.to_string();
    let console = link.console();
    if force {
        run_on(&link, &console.command("rmvterm", &["--id", &id]))?;
    }
    let request = TerminalRequest {
        command: console.command("mkvterm", &["--id", &id]),
        ready: Some(VTERM_READY.to_string()),
        timeout_ms: CONNECT_TIMEOUT_MS,
    };
    let terminal = ssh::open_terminal(link.session, &request).map_err(|refused| {
        error(
            ErrorNumber::OPERATION_FAILED,
            format!(
                "cannot open the console of partition {} on '{}': {}",
                lpar.name, link.target.host, refused.message
            ),
        )
    })?;
    let open = OpenTerminal {
        handle: terminal.handle,
        pty: terminal.pty.clone(),
    };
    state::put(
        TERMINAL_KIND,
        &key,
        &serde_json::to_vec(&open).unwrap_or_default(),
    );
    Ok(ConsoleEndpoint::Pty(terminal.pty))
}

/// `chsysstate -o shutdown` (libvirt's shutdown: the HMC's delayed power-off, which lets the
/// OS see it), `--immed` for destroy, `--immed --restart` for reboot.
fn power_off(dom: &DomainRef, extra: &[&str], detail: Option<i32>) -> Result<(), Error> {
    let (link, lpar) = resolve(dom)?;
    if !lpar.is_active() {
        return Err(operation_invalid("domain is not running".to_string()));
    }
    let id = lpar.id.to_string();
    let mut args = vec!["-r", "lpar", "-o", "shutdown", "--id", &id];
    args.extend_from_slice(extra);
    run_on(&link, &link.console().command("chsysstate", &args))?;
    if let Some(detail) = detail {
        emit(&link, &lpar, event_type::STOPPED, detail);
    }
    Ok(())
}

pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    power_off(dom, &[], Some(stopped_detail::SHUTDOWN))
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    power_off(dom, &["--immed"], Some(stopped_detail::DESTROYED))
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    power_off(dom, &["--immed", "--restart"], None)
}

/// `mksyscfg`: a new partition and its profile. Redefining an existing partition changes its
/// profile (`chsyscfg`), as libvirt's define updates a domain of the same name.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let definition = hmc::definition(xml)?;
    let link = current()?;
    let existing = lpars_on(&link)?
        .into_iter()
        .find(|lpar| lpar.name == definition.name);
    if let Some(lpar) = existing {
        let r = &definition.resources;
        change_profile(
            &link,
            &lpar,
            &format!(
                "desired_mem={},max_mem={},desired_procs={},max_procs={}",
                r.mem_mb, r.max_mem_mb, r.procs, r.max_procs
            ),
        )?;
        emit(&link, &lpar, event_type::DEFINED, defined_detail::UPDATED);
        return Ok(reference(&link.uuid_scope, &lpar));
    }
    run_on(&link, &hmc::mksyscfg(&link.console(), &definition))?;
    let lpar = lpars_on(&link)?
        .into_iter()
        .find(|lpar| lpar.name == definition.name)
        .ok_or_else(|| {
            error(
                ErrorNumber::INTERNAL_ERROR,
                format!(
                    "the HMC made partition {} but does not list it",
                    definition.name
                ),
            )
        })?;
    emit(&link, &lpar, event_type::DEFINED, defined_detail::ADDED);
    Ok(reference(&link.uuid_scope, &lpar))
}

fn change_profile(link: &Link, lpar: &Lpar, attributes: &str) -> Result<(), Error> {
    let attributes = format!("\"name={},lpar_id={},{attributes}\"", lpar.profile, lpar.id);
    run_on(
        link,
        &link
            .console()
            .command("chsyscfg", &["-r", "prof", "-i", &attributes]),
    )
    .map(|_| ())
}

/// `rmsyscfg`: the partition and its profiles. A running partition stays: it cannot become
/// transient as a libvirt guest would, so the call is refused.
pub fn undefine(dom: &DomainRef) -> Result<(), Error> {
    let (link, lpar) = resolve(dom)?;
    if lpar.is_active() {
        return Err(operation_invalid(format!(
            "cannot undefine running partition '{}': an LPAR exists only while it is defined",
            lpar.name
        )));
    }
    let id = lpar.id.to_string();
    run_on(
        &link,
        &link
            .console()
            .command("rmsyscfg", &["-r", "lpar", "--id", &id]),
    )?;
    emit(&link, &lpar, event_type::UNDEFINED, 0);
    Ok(())
}

/// libvirt's `VIR_DOMAIN_AFFECT_*` split: a running partition changes now (`chhwres`, a
/// dynamic LPAR operation), its profile for the next activation (`chsyscfg`).
fn affected(lpar: &Lpar, flags: u32) -> Result<(bool, bool), Error> {
    use virt_core::consts::domain_modification_impact as impact;
    let live = if flags & (impact::LIVE | impact::CONFIG) == 0 {
        lpar.is_active()
    } else {
        flags & impact::LIVE != 0
    };
    let config = if flags & (impact::LIVE | impact::CONFIG) == 0 {
        !lpar.is_active()
    } else {
        flags & impact::CONFIG != 0
    };
    if live && !lpar.is_active() {
        return Err(operation_invalid("domain is not running".to_string()));
    }
    Ok((live, config))
}

fn dynamic_change(
    link: &Link,
    lpar: &Lpar,
    resource: &str,
    amount_flag: &str,
    now: u64,
    wanted: u64,
) -> Result<(), Error> {
    if now == wanted {
        return Ok(());
    }
    let (op, delta) = if wanted > now {
        ("a", wanted - now)
    } else {
        ("r", now - wanted)
    };
    let id = lpar.id.to_string();
    let delta = delta.to_string();
    run_on(
        link,
        &link.console().command(
            "chhwres",
            &["-r", resource, "-o", op, "--id", &id, amount_flag, &delta],
        ),
    )
    .map(|_| ())
}

pub fn set_vcpus(dom: &DomainRef, count: u32, flags: u32) -> Result<(), Error> {
    use virt_core::consts::domain_vcpu_flags as vcpu;
    let (link, lpar) = resolve(dom)?;
    if flags & vcpu::MAXIMUM != 0 {
        if lpar.is_active() && flags & virt_core::consts::domain_modification_impact::LIVE != 0 {
            return Err(operation_invalid(
                "cannot change the maximum vCPUs of a running partition".to_string(),
            ));
        }
        return change_profile(&link, &lpar, &format!("max_procs={count}"));
    }
    let (live, config) = affected(&lpar, flags & !vcpu::MAXIMUM)?;
    if count == 0 {
        return Err(error(
            ErrorNumber::INVALID_ARG,
            "argument unsupported: a partition needs at least one vCPU".to_string(),
        ));
    }
    if live {
        let now = resources(&link, &lpar)?;
        if u64::from(count) > now.max_procs {
            return Err(error(
                ErrorNumber::INVALID_ARG,
                format!(
                    "requested vcpus is greater than max allowable vcpus for the live domain: {count} > {}",
                    now.max_procs
                ),
            ));
        }
        dynamic_change(&link, &lpar, "proc", "--procs", now.procs, count.into())?;
    }
    if config {
        change_profile(&link, &lpar, &format!("desired_procs={count}"))?;
    }
    Ok(())
}

pub fn set_memory(dom: &DomainRef, kib: u64, flags: u32) -> Result<(), Error> {
    let (link, lpar) = resolve(dom)?;
    let (live, config) = affected(&lpar, flags)?;
    let mb = kib.div_ceil(1024);
    if live {
        let now = resources(&link, &lpar)?;
        if mb > now.max_mem_mb {
            return Err(error(
                ErrorNumber::INVALID_ARG,
                "cannot set memory higher than max memory".to_string(),
            ));
        }
        dynamic_change(&link, &lpar, "mem", "-q", now.mem_mb, mb)?;
    }
    if config {
        change_profile(&link, &lpar, &format!("desired_mem={mb}"))?;
    }
    Ok(())
}

pub fn set_max_memory(dom: &DomainRef, kib: u64) -> Result<(), Error> {
    let (link, lpar) = resolve(dom)?;
    if lpar.is_active() {
        return Err(operation_invalid(
            "cannot resize the maximum memory on an active domain".to_string(),
        ));
    }
    change_profile(&link, &lpar, &format!("max_mem={}", kib.div_ceil(1024)))
}

/// The managed system's figures (`lssyscfg -r sys`, `lshwres --level sys`).
pub struct System {
    pub name: String,
    pub model: String,
    pub serial: String,
    pub memory_mb: u64,
    pub free_memory_mb: u64,
    pub processors: u64,
}

pub fn system() -> Result<System, Error> {
    let link = current()?;
    let console = link.console();
    let first = |text: String| hmc::rows(&text).into_iter().next().unwrap_or_default();
    let sys = first(run_on(
        &link,
        &console.command(
            "lssyscfg",
            &["-r", "sys", "-F", "name,type_model,serial_num"],
        ),
    )?);
    let mem = first(run_on(
        &link,
        &console.command(
            "lshwres",
            &[
                "-r",
                "mem",
                "--level",
                "sys",
                "-F",
                "configurable_sys_mem,curr_avail_sys_mem",
            ],
        ),
    )?);
    let proc = first(run_on(
        &link,
        &console.command(
            "lshwres",
            &[
                "-r",
                "proc",
                "--level",
                "sys",
                "-F",
                "configurable_sys_proc_units",
            ],
        ),
    )?);
    let text = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
    Ok(System {
        name: text(&sys, 0),
        model: text(&sys, 1),
        serial: text(&sys, 2),
        memory_mb: hmc::number(&text(&mem, 0), "memory")?,
        free_memory_mb: hmc::number(&text(&mem, 1), "memory")?,
        processors: hmc::number(&text(&proc, 0), "processors")?,
    })
}

pub fn node_info() -> Result<NodeInfo, Error> {
    let system = system()?;
    let cpus = u32::try_from(system.processors).unwrap_or(u32::MAX);
    Ok(NodeInfo {
        model: hmc::ARCH.to_string(),
        memory_kib: system.memory_mb * 1024,
        cpus,
        mhz: 0,
        nodes: 1,
        sockets: 1,
        cores: cpus,
        threads: 1,
    })
}

/// The host's UUID: name-based on the system's serial number, as the partitions' are on it.
pub fn host_uuid(system: &System) -> Uuid {
    let lpar_zero = Lpar {
        id: 0,
        name: system.name.clone(),
        state: String::new(),
        env: String::new(),
        profile: String::new(),
    };
    lpar_zero.uuid(&format!("serial:{}", system.serial))
}
