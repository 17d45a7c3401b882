//! `hyperv://[user@]host[:port]/?transport=http|https` as libvirt's Hyper-V driver reads it:
//! WinRM over HTTPS on 5986 by default, HTTP on 5985; other query parameters are ignored
//! with a warning.

use serde::{Deserialize, Serialize};
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
    pub https: bool,
    /// Skip certificate checks (`no_verify=1`, as libvirt's ESX driver spells it; libvirt's
    /// Hyper-V driver left that to openwsman's defaults).
    pub no_verify: bool,
}

impl Target {
    /// The WS-Management endpoint.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/wsman", self.port)
    }
}

/// Reads the URI; `warn` hears about parameters libvirt would ignore with a warning.
pub fn parse(uri: &ConnectUri, warn: &mut dyn FnMut(String)) -> Result<Target, Error> {
    let Some(host) = uri.host.clone().filter(|h| !h.is_empty()) else {
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::HYPERV,
            "Missing server name in hyperv:// URI",
        ));
    };
    let mut https = true;
    let mut no_verify = false;
    for (name, value) in &uri.params {
        if name.eq_ignore_ascii_case("transport") {
            https = match value.as_str() {
                "https" => true,
                "http" => false,
                other => {
                    return Err(Error::new(
                        ErrorNumber::INVALID_ARG,
                        ErrorDomain::HYPERV,
                        format!(
                            "Query parameter 'transport' has unexpected value '{other}' \
                             (should be http|https)"
                        ),
                    ))
                }
            };
        } else if name == "no_verify" {
            no_verify = value != "0";
        } else {
            warn(format!("Ignoring unexpected query parameter '{name}'"));
        }
    }
    Ok(Target {
        user: uri.user.clone(),
        port: uri.port.unwrap_or(if https { 5986 } else { 5985 }),
        host,
        https,
        no_verify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Result<Target, Error> {
        parse(&ConnectUri::parse(text).expect("a URI"), &mut |_| {})
    }

    #[test]
    fn transports_and_ports_default_as_libvirts() {
        let https = target("hyperv://administrator@hv1").expect("valid");
        assert_eq!(https.url(), "https://hv1:5986/wsman");
        let http = target("hyperv://hv1/?transport=http").expect("valid");
        assert_eq!(http.url(), "http://hv1:5985/wsman");
        assert_eq!(http.user, None);
        let port = target("hyperv://hv1:8080/?transport=http").expect("valid");
        assert_eq!(port.url(), "http://hv1:8080/wsman");
        let mut warned = Vec::new();
        parse(
            &ConnectUri::parse("hyperv://hv1/?x=1").expect("uri"),
            &mut |w| warned.push(w),
        )
        .expect("valid");
        assert_eq!(warned, ["Ignoring unexpected query parameter 'x'"]);
    }

    #[test]
    fn a_wrong_transport_is_libvirts_error() {
        let error = target("hyperv://hv1/?transport=ftp").expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(
            error
                .message()
                .contains("unexpected value 'ftp' (should be http|https)"),
            "{error}"
        );
    }
}
