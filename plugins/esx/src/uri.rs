//! libvirt's ESX URIs: `esx://[user@]host[:port]/[?query]` for an ESX host, `gsx://` for a
//! VMware Server, `vpx://[user@]vcenter[:port]/datacenter/compute-resource[/host][?query]`
//! for a host behind a vCenter. The query parameters libvirt reads: `transport` (`https`, the
//! default, or `http`), `no_verify` (0|1), `auto_answer` (0|1), `vcenter` and `proxy`; others
//! are ignored, as libvirt ignores them.

use serde::{Deserialize, Serialize};
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

/// Which product the URI's scheme asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Product {
    Esx,
    Gsx,
    Vpx,
}

impl Product {
    pub fn scheme(self) -> &'static str {
        match self {
            Product::Esx => "esx",
            Product::Gsx => "gsx",
            Product::Vpx => "vpx",
        }
    }
}

/// A parsed URI: where the SDK endpoint is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub product: Product,
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
    pub https: bool,
    pub no_verify: bool,
    pub auto_answer: bool,
    /// `vpx://`'s inventory path: datacenter, compute resource and (for a cluster) host.
    pub path: Vec<String>,
}

impl Target {
    /// The host as a URL writes it.
    fn url_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// The base URL: `https://host:port`.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.url_host(), self.port)
    }

    /// The SOAP endpoint.
    pub fn sdk_url(&self) -> String {
        format!("{}/sdk", self.base_url())
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorNumber::INVALID_ARG, ErrorDomain::ESX, message)
}

fn flag(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim().parse::<i64>() {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(invalid(format!(
            "Query parameter '{name}' has unexpected value '{value}' (should be 0 or 1)"
        ))),
    }
}

pub fn parse(uri: &ConnectUri) -> Result<Target, Error> {
    let product = match uri.driver.to_ascii_lowercase().as_str() {
        "esx" => Product::Esx,
        "gsx" => Product::Gsx,
        "vpx" => Product::Vpx,
        other => return Err(invalid(format!("'{other}' is not an ESX URI scheme"))),
    };
    let host = uri.host.clone().filter(|h| !h.is_empty()).ok_or_else(|| {
        Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::ESX,
            format!(
                "the URI '{}://...' names no host: try {}://HOSTNAME/",
                product.scheme(),
                product.scheme()
            ),
        )
    })?;
    let mut https = true;
    let mut no_verify = false;
    let mut auto_answer = false;
    for (name, value) in &uri.params {
        match name.to_ascii_lowercase().as_str() {
            "transport" => {
                https = match value.as_str() {
                    "https" => true,
                    "http" => false,
                    _ => {
                        return Err(invalid(format!(
                            "Query parameter 'transport' has unexpected value '{value}' \
                             (should be http|https)"
                        )))
                    }
                }
            }
            "no_verify" => no_verify = flag("no_verify", value)?,
            "auto_answer" => auto_answer = flag("auto_answer", value)?,
            "proxy" => {
                return Err(Error::new(
                    ErrorNumber::NO_SUPPORT,
                    ErrorDomain::ESX,
                    "Query parameter 'proxy' is not supported: the host's outbound HTTP \
                     call connects directly",
                ))
            }
            "vcenter" => {
                return Err(Error::new(
                    ErrorNumber::NO_SUPPORT,
                    ErrorDomain::ESX,
                    "Query parameter 'vcenter' is not supported: connect to the vCenter \
                     with a vpx:// URI",
                ))
            }
            _ => {}
        }
    }
    let port = uri.port.unwrap_or(match (product, https) {
        (Product::Gsx, true) => 8333,
        (Product::Gsx, false) => 8222,
        (_, true) => 443,
        (_, false) => 80,
    });
    let path: Vec<String> = uri
        .path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(str::to_string)
        .collect();
    if product == Product::Vpx && path.len() < 2 {
        return Err(invalid(format!(
            "Path '{}' of the vpx URI must name a datacenter and a compute resource \
             (vpx://vcenter/DATACENTER/COMPUTE-RESOURCE[/HOST])",
            uri.path
        )));
    }
    Ok(Target {
        product,
        user: uri.user.clone(),
        host,
        port,
        https,
        no_verify,
        auto_answer,
        path: if product == Product::Vpx {
            path
        } else {
            Vec::new()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Result<Target, Error> {
        parse(&ConnectUri::parse(text).expect("a URI"))
    }

    #[test]
    fn libvirts_uri_forms() {
        let esx = target("esx://root@esx.example/?no_verify=1").expect("valid");
        assert_eq!(esx.sdk_url(), "https://esx.example:443/sdk");
        assert!(esx.no_verify);
        assert_eq!(esx.user.as_deref(), Some("root"));
        let plain = target("esx://127.0.0.1:8989/?transport=http").expect("valid");
        assert_eq!(plain.sdk_url(), "http://127.0.0.1:8989/sdk");
        assert_eq!(
            target("gsx://server/").expect("valid").sdk_url(),
            "https://server:8333/sdk"
        );
        let vpx = target("vpx://vc.example/DC0/DC0_C0/DC0_C0_H0?auto_answer=1").expect("valid");
        assert_eq!(vpx.path, ["DC0", "DC0_C0", "DC0_C0_H0"]);
        assert!(vpx.auto_answer);
    }

    #[test]
    fn bad_parameters_are_refused_as_libvirt_refuses_them() {
        let error = target("esx://h/?transport=ftp").expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(error.message().contains("should be http|https"), "{error}");
        let error = target("esx://h/?no_verify=2").expect_err("refused");
        assert!(error.message().contains("'no_verify'"), "{error}");
        assert!(target("vpx://vc/DC0").is_err());
        assert!(target("esx:///").is_err());
    }
}
