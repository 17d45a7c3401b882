//! Running libvirt's migration phases between two connections.
//!
//! A migration (protocol version 3 with parameters) is five calls on two hosts: Begin on the
//! source, Prepare on the destination, Perform on the source, Finish on the destination and
//! Confirm on the source, each handing its cookie to the next. Who runs them differs: a
//! client runs them for a managed migration (`virDomainMigrate3`), the source's daemon for a
//! peer-to-peer one (`virDomainMigrateToURI3` with VIR_MIGRATE_PEER2PEER). Both are
//! [`run_phases`], with libvirt's rules for which phase is told that another failed.
//!
//! This module knows the order and the error rules, not any hypervisor: the drivers' phases
//! are [`Connection`] methods.

use std::sync::Arc;

use crate::consts::{domain_migrate_flags as flag, migrate_param};
use crate::driver::Connection;
use crate::error::{Error, ErrorDomain, ErrorNumber, Result};
use crate::types::{DomainRef, TypedParam, TypedValue};
use crate::uri::ConnectUri;

/// Replaces (or adds) the string parameter `field`.
pub fn set_string_param(params: &mut Vec<TypedParam>, field: &str, value: &str) {
    params.retain(|param| param.field != field);
    params.push(TypedParam::new(
        field,
        TypedValue::String(value.to_string()),
    ));
}

/// The string parameter `field`, if given.
pub fn string_param<'a>(params: &'a [TypedParam], field: &str) -> Option<&'a str> {
    params.iter().find_map(|param| match &param.value {
        TypedValue::String(value) if param.field == field => Some(value.as_str()),
        _ => None,
    })
}

/// Runs every phase of a migration of `dom` from `source` to `dest` and returns the domain
/// on the destination (libvirt's `virDomainMigrateVersion3Full`).
///
/// Failure rules, as libvirt's: a failed Prepare is confirmed as cancelled on the source
/// (the source driver supports change protection); a failed Perform is not confirmed (the
/// source driver recovered its guest itself) but Finish is told to discard what arrived; a
/// Finish without a domain makes Confirm resume the source. The first error is the one
/// returned.
pub fn run_phases(
    source: &dyn Connection,
    dom: &DomainRef,
    dest: &dyn Connection,
    params: &[TypedParam],
    flags: u32,
) -> Result<DomainRef> {
    if !source.supports_migration() || !dest.supports_migration() {
        return Err(Error::new(
            ErrorNumber::OPERATION_UNSUPPORTED,
            ErrorDomain::NONE,
            "Migration APIs with extensible parameters are not supported but extended \
             parameters were passed",
        ));
    }
    let mut params = params.to_vec();
    let mut flags = flags | flag::CHANGE_PROTECTION;
    let begun = source.domain_migrate_begin(dom, &params, flags)?;
    // A paused guest arrives paused.
    if let Ok(state) = source.domain_get_state(dom, 0) {
        if state.state == crate::consts::domain_state::PAUSED && flags & flag::POSTCOPY_RESUME == 0
        {
            flags |= flag::PAUSED;
        }
    }
    let dest_flags = flags & !(flag::ABORT_ON_ERROR | flag::AUTO_CONVERGE);
    set_string_param(&mut params, migrate_param::DEST_XML, &begun.xml);
    let prepared = match dest.domain_migrate_prepare(&params, &begun.cookie, dest_flags) {
        Ok(prepared) => prepared,
        Err(error) => {
            if let Err(confirm) = source.domain_migrate_confirm(dom, &params, &[], flags, true) {
                tracing::warn!(%confirm, "cancelling the migration on the source failed");
            }
            return Err(error);
        }
    };
    if let Some(uri) = &prepared.uri {
        set_string_param(&mut params, migrate_param::URI, uri);
    }
    if string_param(&params, migrate_param::DEST_NAME).is_none() {
        set_string_param(&mut params, migrate_param::DEST_NAME, &dom.name);
    }
    let mut first_error = None;
    let mut notify_source = true;
    let finish_cookie = if string_param(&params, migrate_param::URI).is_none() {
        first_error = Some(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::NONE,
            "domainMigratePrepare3 did not set uri",
        ));
        Vec::new()
    } else {
        match source.domain_migrate_perform(dom, None, &params, &prepared.cookie, flags) {
            Ok(cookie) => cookie,
            Err(error) => {
                first_error = Some(error);
                notify_source = false;
                Vec::new()
            }
        }
    };
    let cancelled = first_error.is_some();
    let finished = dest.domain_migrate_finish(&params, &finish_cookie, dest_flags, cancelled);
    let (ddomain, confirm_cookie) = match finished {
        Ok((ddomain, cookie)) if !cancelled => (Some(ddomain), cookie),
        Ok(_) => {
            tracing::error!("finish step ignored that migration was cancelled");
            (None, Vec::new())
        }
        Err(error) => {
            first_error.get_or_insert(error);
            (None, Vec::new())
        }
    };
    if notify_source {
        let cancelled = ddomain.is_none();
        if let Err(error) =
            source.domain_migrate_confirm(dom, &params, &confirm_cookie, flags, cancelled)
        {
            first_error.get_or_insert(error);
        }
    }
    match (ddomain, first_error) {
        (Some(ddomain), None) => Ok(ddomain),
        (_, Some(error)) => Err(error),
        (None, None) => Err(Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::NONE,
            "migration failed: the destination did not start the domain",
        )),
    }
}

/// A peer-to-peer migration (VIR_MIGRATE_PEER2PEER): the source opens `dconnuri` with
/// `open` and runs every phase itself. The destination must serve migration with
/// parameters (VIR_DRV_FEATURE_MIGRATION_P2P and _PARAMS), as libvirt requires of a peer.
pub fn peer_to_peer(
    source: &dyn Connection,
    dom: &DomainRef,
    dconnuri: &str,
    params: &[TypedParam],
    flags: u32,
    open: impl FnOnce(&ConnectUri) -> Result<Arc<dyn Connection>>,
) -> Result<()> {
    if flags & flag::TUNNELLED != 0 {
        return Err(Error::new(
            ErrorNumber::ARGUMENT_UNSUPPORTED,
            ErrorDomain::NONE,
            "tunnelled migration is not supported",
        ));
    }
    let uri = ConnectUri::parse(dconnuri)?;
    let dest = open(&uri).map_err(|error| {
        Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::NONE,
            format!(
                "Failed to connect to remote libvirt URI {dconnuri}: {}",
                error.message()
            ),
        )
    })?;
    if !dest.supports_migration() {
        let _ = dest.close();
        return Err(Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::NONE,
            "Destination libvirt does not support peer-to-peer migration protocol",
        ));
    }
    let result = run_phases(source, dom, dest.as_ref(), params, flags & !flag::PEER2PEER);
    let _ = dest.close();
    result.map(|_| ())
}
