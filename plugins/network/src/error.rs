//! The network driver's errors, in libvirt's words and numbers (`VIR_FROM_NETWORK`).

use virt_core::{Error, ErrorDomain, ErrorNumber};

pub fn network_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::NETWORK, detail)
}

pub fn no_network_name(name: &str) -> Error {
    network_error(
        ErrorNumber::NO_NETWORK,
        format!("no network with matching name '{name}'"),
    )
}

pub fn no_network_uuid(uuid: &str) -> Error {
    network_error(
        ErrorNumber::NO_NETWORK,
        format!("no network with matching uuid '{uuid}'"),
    )
}

pub fn not_active(name: &str) -> Error {
    network_error(
        ErrorNumber::OPERATION_INVALID,
        format!("network '{name}' is not active"),
    )
}

pub fn internal(detail: impl AsRef<str>) -> Error {
    network_error(ErrorNumber::INTERNAL_ERROR, detail)
}

/// A host call's error, told as the network driver's.
pub fn from_host(error: virt_plugin_sdk::types::Error) -> Error {
    virt_core::Error::from(error).with_domain(ErrorDomain::NETWORK)
}
