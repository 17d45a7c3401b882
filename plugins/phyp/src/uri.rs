//! `phyp://[user@]hmc[:port]/managed-system` as libvirt's PHYP driver read it: the host is
//! the HMC (or an IVM partition) reached over SSH, the first path component names the managed
//! system, and no path means an IVM, which manages the one system it runs on.

use serde::{Deserialize, Serialize};
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

/// Where a connection's commands go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
    /// The managed system (`-m NAME` on every HMC command); `None` on an IVM.
    pub managed_system: Option<String>,
    /// Accept the HMC's host key without checking `known_hosts` (`no_verify=1`, as libvirt's
    /// other SSH-reached drivers spell it).
    pub no_verify: bool,
}

fn internal(message: String) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::PHYP, message)
}

/// Characters an HMC's restricted shell would read as syntax; libvirt refused a managed system
/// name holding any of them, and so does this driver (the name goes into command lines).
pub fn is_shell_safe(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@' | ':'))
}

/// Reads a `phyp://` URI; the caller has matched the scheme.
pub fn parse(uri: &ConnectUri) -> Result<Target, Error> {
    let Some(host) = uri.host.clone().filter(|host| !host.is_empty()) else {
        return Err(internal("Missing server name in phyp:// URI".to_string()));
    };
    // libvirt takes the first path component and ignores the rest.
    let managed_system = uri
        .path
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|name| !name.is_empty())
        .map(str::to_string);
    if let Some(name) = &managed_system {
        if !is_shell_safe(name) {
            return Err(internal(
                "Error parsing 'path'. Invalid characters.".to_string(),
            ));
        }
    }
    let no_verify = uri
        .params
        .iter()
        .any(|(key, value)| key == "no_verify" && value != "0");
    Ok(Target {
        user: uri.user.clone(),
        host,
        port: uri.port.unwrap_or(22),
        managed_system,
        no_verify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Result<Target, Error> {
        parse(&ConnectUri::parse(text).expect("a URI"))
    }

    #[test]
    fn hmc_and_ivm_forms() {
        let hmc = target("phyp://hscroot@hmc.example/p570-SN10C8E6D/ignored").expect("valid");
        assert_eq!(hmc.user.as_deref(), Some("hscroot"));
        assert_eq!((hmc.host.as_str(), hmc.port), ("hmc.example", 22));
        assert_eq!(hmc.managed_system.as_deref(), Some("p570-SN10C8E6D"));
        assert!(!hmc.no_verify);
        let ivm = target("phyp://padmin@127.0.0.1:2222?no_verify=1").expect("valid");
        assert_eq!(
            (ivm.port, ivm.managed_system, ivm.no_verify),
            (2222, None, true)
        );
    }

    #[test]
    fn refusals_are_libvirts() {
        let error = target("phyp:///system").expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
        assert!(error.message().contains("Missing server name"), "{error}");
        let error = target("phyp://hmc/sys%3Brm").expect_err("refused");
        assert!(error.message().contains("Invalid characters"), "{error}");
    }
}
