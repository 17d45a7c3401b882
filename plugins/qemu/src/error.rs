//! Error constructors in libvirt's shape for this driver (`VIR_FROM_QEMU` unless said otherwise).

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::Error;

/// An error of the QEMU driver: `code`'s message template filled with `detail`.
pub fn qemu_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    virt_plugin_sdk::error(code, ErrorDomain::QEMU, detail)
}

/// VIR_ERR_INTERNAL_ERROR.
pub fn internal(detail: impl AsRef<str>) -> Error {
    qemu_error(ErrorNumber::INTERNAL_ERROR, detail)
}

/// VIR_ERR_OPERATION_INVALID, e.g. "domain is not running".
pub fn invalid_operation(detail: impl AsRef<str>) -> Error {
    qemu_error(ErrorNumber::OPERATION_INVALID, detail)
}

/// VIR_ERR_CONFIG_UNSUPPORTED.
pub fn unsupported_config(detail: impl AsRef<str>) -> Error {
    qemu_error(ErrorNumber::CONFIG_UNSUPPORTED, detail)
}

/// VIR_ERR_INVALID_ARG.
pub fn invalid_arg(detail: impl AsRef<str>) -> Error {
    qemu_error(ErrorNumber::INVALID_ARG, detail)
}

/// VIR_ERR_OPERATION_INVALID "domain is not running".
pub fn not_running() -> Error {
    invalid_operation("domain is not running")
}

/// VIR_ERR_OPERATION_INVALID "domain is already running".
pub fn already_running() -> Error {
    invalid_operation("domain is already running")
}

/// VIR_ERR_INVALID_ARG for flag bits this driver does not implement, as libvirt's virCheckFlags.
pub fn unsupported_flags(function: &str, flags: u32) -> Error {
    virt_plugin_sdk::error(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::QEMU,
        format!("unsupported flags (0x{flags:x}) in function {function}"),
    )
}

/// Fails unless `flags` only has bits out of `allowed` (libvirt's virCheckFlags).
pub fn check_flags(api: &str, flags: u32, allowed: u32) -> Result<(), Error> {
    if flags & !allowed != 0 {
        return Err(unsupported_flags(api, flags & !allowed));
    }
    Ok(())
}
