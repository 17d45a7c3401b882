//! The errors the test driver reports, with the numbers, error domains and wording libvirt
//! 9.0's test driver (and the `conf/` helpers it calls) uses for the same situation.
//!
//! The error domain says which part of libvirt raised the error: the driver itself
//! (`VIR_FROM_TEST`), or the shared object lists it calls into (`VIR_FROM_DOMAIN`,
//! `VIR_FROM_NETWORK`, `VIR_FROM_STORAGE`, ...). Clients only see the number and the text,
//! but keeping the domain faithful costs nothing.

use virt_core::{Error, ErrorDomain, ErrorNumber, Result};

/// `virCheckFlags`: VIR_ERR_INVALID_ARG naming the test driver's function. libvirt raises it
/// with `virReportInvalidArg`, whose message has no "invalid argument: " prefix.
pub(crate) fn check_flags(flags: u32, allowed: u32, function: &str) -> Result<()> {
    let unsupported = flags & !allowed;
    if unsupported != 0 {
        return Err(invalid_arg_verbatim(
            ErrorDomain::TEST,
            format!("unsupported flags (0x{unsupported:x}) in function {function}"),
        ));
    }
    Ok(())
}

/// VIR_ERR_INVALID_ARG as `virReportInvalidArg` raises it: the message as given.
pub(crate) fn invalid_arg_verbatim(domain: ErrorDomain, message: String) -> Error {
    Error::from_parts(ErrorNumber::INVALID_ARG, domain, message)
}

/// An error raised by the test driver itself.
pub(crate) fn test(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::TEST, detail)
}

/// VIR_ERR_INTERNAL_ERROR from the test driver (its answer to several invalid states).
pub(crate) fn internal(detail: impl AsRef<str>) -> Error {
    test(ErrorNumber::INTERNAL_ERROR, detail)
}

/// VIR_ERR_OPERATION_INVALID from the test driver.
pub(crate) fn operation_invalid(detail: impl AsRef<str>) -> Error {
    test(ErrorNumber::OPERATION_INVALID, detail)
}

/// VIR_ERR_INVALID_ARG from the test driver.
pub(crate) fn invalid_arg(detail: impl AsRef<str>) -> Error {
    test(ErrorNumber::INVALID_ARG, detail)
}

/// An error raised by libvirt's shared domain code (`VIR_FROM_DOMAIN`).
pub(crate) fn domain_conf(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::DOMAIN, detail)
}

/// `virDomainObjCheckActive`.
pub(crate) fn domain_not_running() -> Error {
    domain_conf(ErrorNumber::OPERATION_INVALID, "domain is not running")
}

/// A lookup by name, UUID or id that found nothing: libvirt reports the bare
/// "Domain not found".
pub(crate) fn no_domain() -> Error {
    test(ErrorNumber::NO_DOMAIN, "")
}

/// A call on a handle whose domain is gone.
pub(crate) fn no_domain_with_uuid(uuid: &virt_core::Uuid, name: &str) -> Error {
    test(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching uuid '{uuid}' ({name})"),
    )
}

/// VIR_ERR_OPERATION_FAILED from a shared object list (`domain`, `network`, `pool` ...).
pub(crate) fn duplicate(domain: ErrorDomain, detail: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::OPERATION_FAILED, domain, detail)
}
