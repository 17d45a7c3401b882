//! The storage driver's errors, in libvirt's words and numbers (`VIR_FROM_STORAGE`).

use virt_core::{Error, ErrorDomain, ErrorNumber};

pub fn storage_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::STORAGE, detail)
}

pub fn internal(detail: impl AsRef<str>) -> Error {
    storage_error(ErrorNumber::INTERNAL_ERROR, detail)
}

pub fn invalid(detail: impl AsRef<str>) -> Error {
    storage_error(ErrorNumber::OPERATION_INVALID, detail)
}

/// A failed system call, told as libvirt's `virReportSystemError` does: what was tried, then
/// why.
pub fn system(what: impl AsRef<str>, why: impl AsRef<str>) -> Error {
    storage_error(
        ErrorNumber::SYSTEM_ERROR,
        format!("{}: {}", what.as_ref(), why.as_ref()),
    )
}

pub fn no_pool_name(name: &str) -> Error {
    storage_error(
        ErrorNumber::NO_STORAGE_POOL,
        format!("no storage pool with matching name '{name}'"),
    )
}

pub fn no_pool_uuid(uuid: &str) -> Error {
    storage_error(
        ErrorNumber::NO_STORAGE_POOL,
        format!("no storage pool with matching uuid '{uuid}'"),
    )
}

pub fn pool_not_active(name: &str) -> Error {
    invalid(format!("storage pool '{name}' is not active"))
}

pub fn pool_already_active(name: &str) -> Error {
    invalid(format!("storage pool '{name}' is already active"))
}

pub fn pool_still_active(name: &str) -> Error {
    invalid(format!("storage pool '{name}' is still active"))
}

pub fn no_volume(what: &str, value: &str) -> Error {
    storage_error(
        ErrorNumber::NO_STORAGE_VOL,
        format!("no storage vol with matching {what} '{value}'"),
    )
}

/// Why a host file call failed, without what it tried (the host says "cannot remove
/// directory '/x': Directory not empty (os error 39)"; libvirt's callers say what they
/// tried themselves).
pub fn reason(host_message: &str) -> &str {
    let why = host_message
        .rsplit_once("': ")
        .map_or(host_message, |(_, why)| why);
    match why.rfind(" (os error ") {
        Some(at) if why.ends_with(')') => &why[..at],
        _ => why,
    }
}

/// A host call's error, told as the storage driver's.
pub fn from_host(error: virt_plugin_sdk::types::Error) -> Error {
    virt_core::Error::from(error).with_domain(ErrorDomain::STORAGE)
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn the_reason_of_a_host_error_is_its_errno_text() {
        assert_eq!(
            reason("cannot remove directory '/p': Directory not empty (os error 39)"),
            "Directory not empty"
        );
        assert_eq!(reason("Permission denied"), "Permission denied");
    }
}
