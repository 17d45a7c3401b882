//! The LXC driver's errors, in libvirt's words and numbers (`VIR_FROM_LXC`).

use virt_core::{Error, ErrorDomain, ErrorNumber};

pub fn lxc_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::LXC, detail)
}

/// VIR_ERR_NO_DOMAIN as libvirt's LXC driver words it.
pub fn no_domain_uuid(uuid: &str, name: &str) -> Error {
    lxc_error(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching uuid '{uuid}' ({name})"),
    )
}

pub fn no_domain_name(name: &str) -> Error {
    lxc_error(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching name '{name}'"),
    )
}

pub fn no_domain_id(id: i32) -> Error {
    lxc_error(
        ErrorNumber::NO_DOMAIN,
        format!("no domain with matching id {id}"),
    )
}

pub fn not_running() -> Error {
    lxc_error(ErrorNumber::OPERATION_INVALID, "domain is not running")
}

pub fn already_running() -> Error {
    lxc_error(ErrorNumber::OPERATION_INVALID, "Domain is already running")
}

pub fn unsupported(detail: impl AsRef<str>) -> Error {
    lxc_error(ErrorNumber::CONFIG_UNSUPPORTED, detail)
}

pub fn internal(detail: impl AsRef<str>) -> Error {
    lxc_error(ErrorNumber::INTERNAL_ERROR, detail)
}

pub fn failed(detail: impl AsRef<str>) -> Error {
    lxc_error(ErrorNumber::OPERATION_FAILED, detail)
}

/// Host errors keep their code and message; the domain becomes LXC.
pub fn from_host(error: virt_plugin_sdk::types::Error) -> Error {
    virt_core::Error::from(error).with_domain(ErrorDomain::LXC)
}
