//! Changing a domain's definition in place: memory, vcpus, metadata, and the scheduler
//! parameters the test driver pretends to have.
//!
//! Calls that take `virDomainModificationImpact` flags pick the live definition, the
//! persistent one or both the way libvirt's `virDomainObjGetDefs` / `GetOneDefState` do.

use virt_core::consts::{
    domain_event_id, domain_memory_mod_flags, domain_metadata_type, domain_modification_impact,
    domain_vcpu_flags,
};
use virt_core::{ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::{DomainRef, Event, TypedParam, TypedValue};

use super::def::DomainDef;
use super::{Defs, Domain};
use crate::error;
use crate::space::Space;

const LIVE: u32 = domain_modification_impact::LIVE;
const CONFIG: u32 = domain_modification_impact::CONFIG;

/// The most vcpus a test domain may have (`testConnectGetMaxVcpus`).
pub(crate) const MAX_VCPUS: u32 = 32;

/// `virDomainObjUpdateModificationImpact`: CURRENT becomes LIVE or CONFIG, and impossible
/// combinations are refused.
fn resolve_impact(d: &Domain, mut flags: u32) -> Result<u32> {
    if flags & (LIVE | CONFIG) == 0 {
        flags |= if d.rec.is_active() { LIVE } else { CONFIG };
    }
    if !d.rec.is_active() && flags & LIVE != 0 {
        return Err(error::domain_not_running());
    }
    if !d.rec.persistent && flags & CONFIG != 0 {
        return Err(error::domain_conf(
            ErrorNumber::OPERATION_INVALID,
            "transient domains do not have any persistent config",
        ));
    }
    Ok(flags)
}

/// Which definition(s) a change applies to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `def` (live while running, persistent otherwise).
    Def,
    /// `newDef` (the persistent definition of a running domain).
    NewDef,
}

/// `virDomainObjGetOneDefState`: exactly one definition; also says whether it is live.
pub(crate) fn one_def(d: &Domain, flags: u32) -> Result<(Target, bool)> {
    if flags & LIVE != 0 && flags & CONFIG != 0 {
        return Err(error::invalid_arg_verbatim(
            ErrorDomain::DOMAIN,
            "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive"
                .to_string(),
        ));
    }
    let flags = resolve_impact(d, flags)?;
    let live = flags & LIVE != 0;
    if d.rec.is_active() && flags & CONFIG != 0 {
        Ok((Target::NewDef, live))
    } else {
        Ok((Target::Def, live))
    }
}

/// `virDomainObjGetDefs`: the definitions a change applies to.
pub(crate) fn both_defs(d: &Domain, flags: u32) -> Result<Vec<Target>> {
    let flags = resolve_impact(d, flags)?;
    let mut targets = Vec::new();
    if d.rec.is_active() {
        if flags & LIVE != 0 {
            targets.push(Target::Def);
        }
        if flags & CONFIG != 0 {
            targets.push(Target::NewDef);
        }
    } else {
        targets.push(Target::Def);
    }
    Ok(targets)
}

pub(crate) fn pick(defs: &mut Defs, target: Target) -> Result<&mut DomainDef> {
    match target {
        Target::Def => Ok(&mut defs.def),
        Target::NewDef => defs
            .new_def
            .as_mut()
            .ok_or_else(|| error::internal("the running domain has no persistent definition")),
    }
}

pub(crate) fn pick_ref(defs: &Defs, target: Target) -> Result<&DomainDef> {
    match target {
        Target::Def => Ok(&defs.def),
        Target::NewDef => defs
            .new_def
            .as_ref()
            .ok_or_else(|| error::internal("the running domain has no persistent definition")),
    }
}

/// `virDomainGetMaxMemory`.
pub(crate) fn max_memory(space: &dyn Space, dom: &DomainRef) -> Result<u64> {
    Ok(super::get(space, dom)?.rec.max_memory_kib)
}

/// `virDomainSetMemoryFlags` (and, with MAXIMUM, `virDomainSetMaxMemory`).
pub(crate) fn set_memory(space: &dyn Space, dom: &DomainRef, kib: u64, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        LIVE | CONFIG | domain_memory_mod_flags::MAXIMUM,
        "testDomainSetMemoryFlags",
    )?;
    let mut d = super::get_for_change(space, dom)?;
    let (target, live) = one_def(&d, flags)?;
    let mut defs = d.defs(space)?;
    let def = pick(&mut defs, target)?;
    if flags & domain_memory_mod_flags::MAXIMUM != 0 {
        if live {
            return Err(error::operation_invalid(
                "cannot resize the maximum memory on an active domain",
            ));
        }
        if def.has_numa_nodes() {
            return Err(error::operation_invalid(
                "initial memory size of a domain with NUMA nodes cannot be modified with this API",
            ));
        }
        if def
            .hotplug_memory_limit_kib()
            .is_some_and(|limit| limit != 0 && limit < kib)
        {
            return Err(error::operation_invalid(
                "cannot set initial memory size greater than the maximum memory size",
            ));
        }
        def.set_max_memory_kib(kib);
        if def.current_memory_kib() > kib {
            def.set_current_memory_kib(kib);
        }
    } else {
        if kib > def.max_memory_kib() {
            return Err(error::invalid_arg(
                "cannot set memory higher than max memory",
            ));
        }
        def.set_current_memory_kib(kib);
    }
    d.write_all(space, &defs)
}

/// `virDomainGetVcpusFlags`.
pub(crate) fn vcpus(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<i32> {
    error::check_flags(
        flags,
        LIVE | CONFIG | domain_vcpu_flags::MAXIMUM,
        "testDomainGetVcpusFlags",
    )?;
    let d = super::get(space, dom)?;
    let (target, _) = one_def(&d, flags & !domain_vcpu_flags::MAXIMUM)?;
    let defs = d.defs(space)?;
    let def = pick_ref(&defs, target)?;
    let count = if flags & domain_vcpu_flags::MAXIMUM != 0 {
        def.max_vcpus()
    } else {
        def.vcpus()
    };
    Ok(count as i32)
}

/// `virDomainGetMaxVcpus`: the live maximum (so it needs a running domain).
pub(crate) fn max_vcpus(space: &dyn Space, dom: &DomainRef) -> Result<i32> {
    vcpus(space, dom, LIVE | domain_vcpu_flags::MAXIMUM)
}

/// `virDomainSetVcpusFlags`.
pub(crate) fn set_vcpus(space: &dyn Space, dom: &DomainRef, count: u32, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        LIVE | CONFIG | domain_vcpu_flags::MAXIMUM,
        "testDomainSetVcpusFlags",
    )?;
    if count > MAX_VCPUS {
        return Err(error::invalid_arg(format!(
            "requested cpu amount exceeds maximum supported amount ({count} > {MAX_VCPUS})"
        )));
    }
    let maximum = flags & domain_vcpu_flags::MAXIMUM != 0;
    let mut d = super::get_for_change(space, dom)?;
    let targets = both_defs(&d, flags & !domain_vcpu_flags::MAXIMUM)?;
    let mut defs = d.defs(space)?;
    let live = d.rec.is_active() && targets.contains(&Target::Def);
    let persistent = if d.rec.is_active() {
        targets.contains(&Target::NewDef)
    } else {
        true
    };
    let too_many = |max: u32| {
        error::invalid_arg(format!(
            "requested cpu amount exceeds maximum ({count} > {max})"
        ))
    };
    if live && defs.def.max_vcpus() < count {
        return Err(too_many(defs.def.max_vcpus()));
    }
    let persistent_target = if d.rec.is_active() {
        Target::NewDef
    } else {
        Target::Def
    };
    if persistent && !maximum {
        let max = pick_ref(&defs, persistent_target)?.max_vcpus();
        if max < count {
            return Err(too_many(max));
        }
    }
    if live {
        defs.def.set_vcpus(count)?;
    }
    if persistent {
        let def = pick(&mut defs, persistent_target)?;
        if maximum {
            def.set_max_vcpus(count);
        } else {
            def.set_vcpus(count)?;
        }
    }
    d.write_all(space, &defs)
}

/// `virDomainGetSchedulerType`: the test driver's one "fair" scheduler, one parameter.
pub(crate) fn scheduler_type(_space: &dyn Space, _dom: &DomainRef) -> Result<(String, i32)> {
    Ok(("fair".to_string(), 1))
}

/// The name of `VIR_DOMAIN_SCHEDULER_WEIGHT`.
const SCHEDULER_WEIGHT: &str = "weight";

/// `virDomainGetSchedulerParametersFlags`: a constant weight of 50.
pub(crate) fn scheduler_params(
    space: &dyn Space,
    dom: &DomainRef,
    flags: u32,
) -> Result<Vec<TypedParam>> {
    error::check_flags(flags, 0, "testDomainGetSchedulerParametersFlags")?;
    super::get(space, dom)?;
    Ok(vec![TypedParam {
        field: SCHEDULER_WEIGHT.to_string(),
        value: TypedValue::Uint(50),
    }])
}

/// `virDomainSetSchedulerParametersFlags`: checks the parameters, keeps nothing (as the test
/// driver does).
pub(crate) fn set_scheduler_params(
    space: &dyn Space,
    dom: &DomainRef,
    params: &[TypedParam],
    flags: u32,
) -> Result<()> {
    error::check_flags(flags, 0, "testDomainSetSchedulerParametersFlags")?;
    crate::typed_params::validate(
        params,
        &[(SCHEDULER_WEIGHT, crate::typed_params::Kind::UInt)],
    )?;
    super::get(space, dom)?;
    Ok(())
}

/// `virDomainGetMetadata`.
pub(crate) fn metadata(
    space: &dyn Space,
    dom: &DomainRef,
    kind: i32,
    uri: Option<&str>,
    flags: u32,
) -> Result<String> {
    error::check_flags(flags, LIVE | CONFIG, "virDomainObjGetMetadata")?;
    let d = super::get(space, dom)?;
    check_metadata_kind(kind)?;
    let (target, _) = one_def(&d, flags)?;
    let defs = d.defs(space)?;
    let def = pick_ref(&defs, target)?;
    let found = match kind {
        domain_metadata_type::DESCRIPTION => def.description(),
        domain_metadata_type::TITLE => def.title(),
        _ => match uri {
            Some(uri) => def.metadata_element(uri)?,
            None => None,
        },
    };
    found.ok_or_else(|| {
        error::domain_conf(
            ErrorNumber::NO_DOMAIN_METADATA,
            "Requested metadata element is not present",
        )
    })
}

fn check_metadata_kind(kind: i32) -> Result<()> {
    if !(domain_metadata_type::DESCRIPTION..=domain_metadata_type::ELEMENT).contains(&kind) {
        return Err(error::domain_conf(
            ErrorNumber::INVALID_ARG,
            format!("unknown metadata type '{kind}'"),
        ));
    }
    Ok(())
}

/// The argument checks `virDomainSetMetadata` makes before reaching a driver.
fn check_metadata_args(
    kind: i32,
    metadata: Option<&str>,
    key: Option<&str>,
    uri: Option<&str>,
) -> Result<()> {
    let invalid =
        |what: &str| virt_core::Error::new(ErrorNumber::INVALID_ARG, ErrorDomain::DOMAIN, what);
    let text_kind =
        kind == domain_metadata_type::TITLE || kind == domain_metadata_type::DESCRIPTION;
    if kind == domain_metadata_type::TITLE && metadata.is_some_and(|m| m.contains('\n')) {
        return Err(invalid("metadata title can't contain newlines"));
    }
    if text_kind && (key.is_some() || uri.is_some()) {
        return Err(invalid(
            "key and uri must be NULL for title and description",
        ));
    }
    if kind == domain_metadata_type::ELEMENT {
        if uri.is_none() {
            return Err(invalid("uri in virDomainSetMetadata must not be NULL"));
        }
        if metadata.is_some() && key.is_none() {
            return Err(invalid("key in virDomainSetMetadata must not be NULL"));
        }
    }
    Ok(())
}

/// `virDomainSetMetadata`; emits VIR_DOMAIN_EVENT_ID_METADATA_CHANGE.
pub(crate) fn set_metadata(
    space: &dyn Space,
    dom: &DomainRef,
    kind: i32,
    metadata: Option<&str>,
    key: Option<&str>,
    uri: Option<&str>,
    flags: u32,
) -> Result<()> {
    check_metadata_args(kind, metadata, key, uri)?;
    error::check_flags(flags, LIVE | CONFIG, "virDomainObjSetMetadata")?;
    let mut d = super::get_for_change(space, dom)?;
    let targets = both_defs(&d, flags)?;
    check_metadata_kind(kind)?;
    let mut defs = d.defs(space)?;
    for target in targets {
        let def = pick(&mut defs, target)?;
        match kind {
            domain_metadata_type::DESCRIPTION => {
                def.set_description(metadata.filter(|m| !m.is_empty()))
            }
            domain_metadata_type::TITLE => def.set_title(metadata.filter(|m| !m.is_empty())),
            _ => def.set_metadata_element(metadata, key, uri.unwrap_or_default())?,
        }
    }
    d.write_all(space, &defs)?;
    let mut params = vec![TypedParam {
        field: "type".to_string(),
        value: TypedValue::Int(kind),
    }];
    if let Some(uri) = uri {
        params.push(TypedParam {
            field: "nsuri".to_string(),
            value: TypedValue::String(uri.to_string()),
        });
    }
    space.emit(Event::DomainOther((
        d.reference(),
        domain_event_id::METADATA_CHANGE,
        params,
    )));
    Ok(())
}
