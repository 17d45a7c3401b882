//! The driver's calls: each one asks `prlctl` (run to completion through the host's
//! `command.run` call) and keeps nothing. Lookups read `prlctl list -a -i -j`; actions run
//! `prlctl start|stop|restart|pause|resume|suspend|create|set|delete`; prlctl's refusals
//! (a non-zero exit with a message on stderr) become libvirt errors carrying its message, as
//! libvirt's vz driver passes on the SDK's.

use virt_core::consts::{
    domain_event_defined_detail_type as defined_detail,
    domain_event_resumed_detail_type as resumed_detail,
    domain_event_started_detail_type as started_detail,
    domain_event_stopped_detail_type as stopped_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_event_undefined_detail_type as undefined_detail,
    domain_undefine_flags_values as undefine_flags,
};
use virt_core::{Error, ErrorNumber, Uuid};
use virt_plugin_sdk::host::command as run_command;
use virt_plugin_sdk::host::events::{self, Event};
use virt_plugin_sdk::host::state::{self, Persistence};
use virt_plugin_sdk::types::{DomainInfo, DomainRef, DomainState, ObjectStatus};

use crate::model::{self, error, Env};

const PRLCTL: &str = "prlctl";
const PRLCTL_TIMEOUT_MS: u32 = 300_000;

/// Runs prlctl; its stdout when it exits 0, else an internal error with what it said.
fn prlctl(args: &[String]) -> Result<String, Error> {
    let output = run_command::run(&run_command::RunRequest {
        program: PRLCTL.into(),
        args: args.to_vec(),
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms: PRLCTL_TIMEOUT_MS,
    })
    .map_err(|e| {
        error(
            ErrorNumber::INTERNAL_ERROR,
            format!("Cannot run '{PRLCTL}': {}", e.message),
        )
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.exit_code == Some(0) {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said = [stderr.trim(), stdout.trim()]
        .into_iter()
        .find(|t| !t.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "{PRLCTL} {} failed with exit status {}",
                args.join(" "),
                output.exit_code.unwrap_or(-1)
            )
        });
    Err(error(ErrorNumber::INTERNAL_ERROR, said))
}

fn run(args: &[&str]) -> Result<String, Error> {
    prlctl(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
}

/// `connect.open`: prlctl must run and say its version (`prlctl version 7.0.200`).
/// A volatile private space is bound only because the host asks every connection for one:
/// nothing is stored in it.
pub fn open() -> Result<u64, Error> {
    state::bind_space("private:vz", Persistence::Volatile)?;
    let output = run(&["--version"])?;
    model::parse_version(&output).ok_or_else(model::parse_error)
}

fn envs() -> Result<Vec<Env>, Error> {
    model::parse_info(&run(&["list", "-a", "-i", "-j"])?)
}

fn host_cpus() -> u32 {
    virt_plugin_sdk::node::node_info().cpus
}

fn reference(env: &Env) -> DomainRef {
    DomainRef {
        name: env.name.clone(),
        uuid: env.uuid.into(),
        id: env.id(),
    }
}

/// How prlctl is told which environment: its name, or its `{uuid}` when the name could be
/// taken for an option.
fn target(env: &Env) -> String {
    if env.name.starts_with('-') || env.name.is_empty() {
        model::prl_uuid(&env.uuid)
    } else {
        env.name.clone()
    }
}

pub fn all() -> Result<Vec<(DomainRef, bool)>, Error> {
    Ok(envs()?
        .iter()
        .map(|env| (reference(env), env.active()))
        .collect())
}

fn find(predicate: impl Fn(&Env) -> bool, missing: impl FnOnce() -> Error) -> Result<Env, Error> {
    envs()?.into_iter().find(predicate).ok_or_else(missing)
}

pub fn by_name(name: &str) -> Result<DomainRef, Error> {
    find(
        |e| e.name == name,
        || {
            error(
                ErrorNumber::NO_DOMAIN,
                format!("no domain with matching name '{name}'"),
            )
        },
    )
    .map(|e| reference(&e))
}

pub fn by_uuid(uuid: &Uuid) -> Result<DomainRef, Error> {
    find(
        |e| e.uuid == *uuid,
        || {
            error(
                ErrorNumber::NO_DOMAIN,
                format!("no domain with matching uuid '{uuid}'"),
            )
        },
    )
    .map(|e| reference(&e))
}

/// libvirt's vz driver reports an unknown id as a bare VIR_ERR_NO_DOMAIN.
pub fn by_id(id: i32) -> Result<DomainRef, Error> {
    find(
        |e| e.active() && e.id() == id,
        || error(ErrorNumber::NO_DOMAIN, "Domain not found"),
    )
    .map(|e| reference(&e))
}

fn resolve(dom: &DomainRef) -> Result<Env, Error> {
    let uuid: Uuid = dom.uuid.into();
    find(
        |e| e.uuid == uuid,
        || {
            error(
                ErrorNumber::NO_DOMAIN,
                format!("no domain with matching uuid '{uuid}' ({})", dom.name),
            )
        },
    )
}

pub fn get_xml(dom: &DomainRef) -> Result<String, Error> {
    model::domain_xml(&resolve(dom)?, host_cpus())
}

pub fn get_info(dom: &DomainRef) -> Result<DomainInfo, Error> {
    let env = resolve(dom)?;
    let memory = env.memory_mib.unwrap_or(0).saturating_mul(1024);
    Ok(DomainInfo {
        state: u8::try_from(env.state().0).unwrap_or(0),
        max_mem_kib: memory,
        memory_kib: memory,
        nr_virt_cpu: u16::try_from(env.vcpus(host_cpus())).unwrap_or(u16::MAX),
        cpu_time_ns: 0,
    })
}

pub fn get_state(dom: &DomainRef) -> Result<DomainState, Error> {
    let (state, reason) = resolve(dom)?.state();
    Ok(DomainState { state, reason })
}

pub fn get_status(dom: &DomainRef) -> Result<ObjectStatus, Error> {
    let env = resolve(dom)?;
    Ok(ObjectStatus {
        active: env.active(),
        persistent: true,
        autostart: false,
        updated: false,
        has_managed_save: env.saved(),
    })
}

pub fn get_os_type(dom: &DomainRef) -> Result<String, Error> {
    Ok(resolve(dom)?.kind.os_type().to_string())
}

fn emit(reference: DomainRef, event: i32, detail: i32) {
    events::emit(&Event::DomainLifecycle((reference, event, detail)));
}

/// The environment again after an action, for the event's id (the old reference if prlctl
/// no longer lists it).
fn emit_fresh(env: &Env, event: i32, detail: i32) {
    let fresh = envs()
        .ok()
        .and_then(|all| all.into_iter().find(|e| e.uuid == env.uuid))
        .map(|e| reference(&e))
        .unwrap_or_else(|| reference(env));
    emit(fresh, event, detail);
}

/// `prlctl create` then `prlctl set` for a new environment (deleted again when `set` fails,
/// so a refused definition leaves nothing); `prlctl set` alone for an existing one.
pub fn define(xml: &str) -> Result<DomainRef, Error> {
    let def = model::definition(xml)?;
    let all = envs()?;
    let existing = all.iter().find(|e| e.name == def.name);
    if let Some(uuid) = def.uuid {
        if let Some(other) = all.iter().find(|e| e.uuid == uuid && e.name != def.name) {
            return Err(error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "domain '{}' is already defined with uuid {}",
                    other.name, other.uuid
                ),
            ));
        }
        if let Some(env) = existing.filter(|e| e.uuid != uuid) {
            return Err(error(
                ErrorNumber::OPERATION_FAILED,
                format!(
                    "domain '{}' already exists with uuid {}",
                    env.name, env.uuid
                ),
            ));
        }
    }
    let detail = match existing {
        Some(env) => {
            if env.kind != def.kind {
                return Err(error(
                    ErrorNumber::OPERATION_INVALID,
                    format!(
                        "domain '{}' has OS type '{}' and cannot be redefined with '{}'",
                        env.name,
                        env.kind.os_type(),
                        def.kind.os_type()
                    ),
                ));
            }
            if let Some(mut args) = def.set_args() {
                args[1] = target(env);
                prlctl(&args)?;
            }
            defined_detail::UPDATED
        }
        None => {
            prlctl(&def.create_args())?;
            if let Some(args) = def.set_args() {
                if let Err(failure) = prlctl(&args) {
                    let _ = prlctl(&["delete".to_string(), def.name.clone()]);
                    return Err(failure);
                }
            }
            defined_detail::ADDED
        }
    };
    let env = find(|e| e.name == def.name, model::parse_error)?;
    let reference = reference(&env);
    emit(reference.clone(), event_type::DEFINED, detail);
    Ok(reference)
}

/// `prlctl delete`; prlctl refuses a running environment. A suspended one (libvirt: a
/// managed save image) needs VIR_DOMAIN_UNDEFINE_MANAGED_SAVE, as in libvirt.
pub fn undefine(dom: &DomainRef, flags: u32) -> Result<(), Error> {
    let env = resolve(dom)?;
    if env.saved() && flags & undefine_flags::MANAGED_SAVE == 0 {
        return Err(error(
            ErrorNumber::OPERATION_INVALID,
            "Refusing to undefine while domain managed save image exists",
        ));
    }
    run(&["delete", &target(&env)])?;
    emit(
        reference(&env),
        event_type::UNDEFINED,
        undefined_detail::REMOVED,
    );
    Ok(())
}

pub fn create(dom: &DomainRef) -> Result<DomainRef, Error> {
    let env = resolve(dom)?;
    run(&["start", &target(&env)])?;
    let detail = if env.saved() {
        started_detail::RESTORED
    } else {
        started_detail::BOOTED
    };
    let fresh = find(|e| e.uuid == env.uuid, model::parse_error)?;
    let reference = reference(&fresh);
    emit(reference.clone(), event_type::STARTED, detail);
    Ok(reference)
}

fn act(dom: &DomainRef, args: &[&str], event: Option<(i32, i32)>) -> Result<(), Error> {
    let env = resolve(dom)?;
    let name = target(&env);
    let mut argv = vec![args[0], name.as_str()];
    argv.extend_from_slice(&args[1..]);
    run(&argv)?;
    if let Some((event, detail)) = event {
        emit_fresh(&env, event, detail);
    }
    Ok(())
}

pub fn shutdown(dom: &DomainRef) -> Result<(), Error> {
    act(
        dom,
        &["stop"],
        Some((event_type::STOPPED, stopped_detail::SHUTDOWN)),
    )
}

pub fn destroy(dom: &DomainRef) -> Result<(), Error> {
    act(
        dom,
        &["stop", "--kill"],
        Some((event_type::STOPPED, stopped_detail::DESTROYED)),
    )
}

pub fn reboot(dom: &DomainRef) -> Result<(), Error> {
    act(dom, &["restart"], None)
}

/// virDomainSuspend pauses (libvirt's `prlsdkPause`): `prlctl pause`.
pub fn suspend(dom: &DomainRef) -> Result<(), Error> {
    act(
        dom,
        &["pause"],
        Some((event_type::SUSPENDED, suspended_detail::PAUSED)),
    )
}

pub fn resume(dom: &DomainRef) -> Result<(), Error> {
    act(
        dom,
        &["resume"],
        Some((event_type::RESUMED, resumed_detail::UNPAUSED)),
    )
}

/// virDomainManagedSave is libvirt's `prlsdkSuspend`: `prlctl suspend`.
pub fn managed_save(dom: &DomainRef) -> Result<(), Error> {
    act(
        dom,
        &["suspend"],
        Some((event_type::STOPPED, stopped_detail::SAVED)),
    )
}
