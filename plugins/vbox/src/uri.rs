//! `vbox:///session` (and `/system`, which libvirt accepts from root) reaches the local
//! web service, vboxwebsrv's default `http://127.0.0.1:18083/`; `vbox://[user@]host[:port]/session`
//! another one. libvirt's driver loads VirtualBox's XPCOM library in-process instead; the web
//! service is what a sandboxed plugin can reach.

use serde::{Deserialize, Serialize};
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

/// vboxwebsrv's default port.
pub const DEFAULT_PORT: u16 = 18083;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn url(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("http://{host}:{}/", self.port)
    }
}

pub fn parse(uri: &ConnectUri) -> Result<Target, Error> {
    if uri.path != "/session" && uri.path != "/system" {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::VBOX,
            format!(
                "unexpected vbox URI path '{}', try vbox:///session",
                uri.path
            ),
        ));
    }
    Ok(Target {
        user: uri.user.clone(),
        host: uri.host.clone().unwrap_or_else(|| "127.0.0.1".to_string()),
        port: uri.port.unwrap_or(DEFAULT_PORT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(text: &str) -> Result<Target, Error> {
        parse(&ConnectUri::parse(text).expect("a URI"))
    }

    #[test]
    fn local_and_remote_web_services() {
        assert_eq!(
            target("vbox:///session").expect("valid").url(),
            "http://127.0.0.1:18083/"
        );
        let remote = target("vbox://alice@vbox.example:18084/session").expect("valid");
        assert_eq!(remote.url(), "http://vbox.example:18084/");
        assert_eq!(remote.user.as_deref(), Some("alice"));
        let error = target("vbox:///default").expect_err("refused");
        assert!(error.message().contains("try vbox:///session"), "{error}");
    }
}
