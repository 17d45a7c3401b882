//! libvirt connection URIs: `driver[+transport]://[user@][host][:port]/[path][?key=value&...]`.
//!
//! Hand-written rather than taken from the `url` crate: libvirt URIs follow RFC 3986 as libxml2
//! reads it, and WHATWG URL parsing (what `url` implements) normalizes things libvirt keeps.

use std::fmt;

use crate::error::{Error, ErrorDomain, ErrorNumber, Result};

/// A parsed connection URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectUri {
    original: String,
    /// The driver part of the scheme, e.g. "qemu" in `qemu+ssh://`.
    pub driver: String,
    /// The transport part of the scheme, e.g. "ssh" in `qemu+ssh://`.
    pub transport: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    /// The path including its leading `/`, e.g. "/system"; empty when absent.
    pub path: String,
    /// Query parameters in order, percent-decoded.
    pub params: Vec<(String, String)>,
}

impl ConnectUri {
    pub fn parse(text: &str) -> Result<ConnectUri> {
        let bad = |why: &str| {
            Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::URI,
                format!("cannot parse URI '{text}': {why}"),
            )
        };
        let (scheme, rest) = text.split_once(':').ok_or_else(|| bad("no scheme"))?;
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | '_'))
        {
            return Err(bad("invalid scheme"));
        }
        let (driver, transport) = match scheme.split_once('+') {
            Some((driver, transport)) => (driver.to_string(), Some(transport.to_string())),
            None => (scheme.to_string(), None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (mut user, mut host, mut port) = (None, None, None);
        let path;
        if let Some(after_slashes) = rest.strip_prefix("//") {
            let (authority, tail) = match after_slashes.find('/') {
                Some(idx) => after_slashes.split_at(idx),
                None => (after_slashes, ""),
            };
            path = tail.to_string();
            let host_port = match authority.rsplit_once('@') {
                Some((who, host_port)) => {
                    user = Some(percent_decode(who));
                    host_port
                }
                None => authority,
            };
            let (host_part, port_part) = if let Some(v6) = host_port.strip_prefix('[') {
                let (addr, after) = v6
                    .split_once(']')
                    .ok_or_else(|| bad("unterminated IPv6 address"))?;
                (addr, after.strip_prefix(':'))
            } else {
                match host_port.rsplit_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (host_port, None),
                }
            };
            if !host_part.is_empty() {
                host = Some(host_part.to_string());
            }
            if let Some(p) = port_part.filter(|p| !p.is_empty()) {
                port = Some(p.parse().map_err(|_| bad("invalid port"))?);
            }
        } else {
            path = rest.to_string();
        }
        let params = query
            .unwrap_or("")
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(pair), String::new()),
            })
            .collect();
        Ok(ConnectUri {
            original: text.to_string(),
            driver,
            transport,
            user,
            host,
            port,
            path,
            params,
        })
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The value of query parameter `key`, if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when the URI names a remote daemon (a transport or a host), as opposed to a
    /// driver in this process.
    pub fn is_remote(&self) -> bool {
        self.transport.is_some() || self.host.is_some()
    }

    /// Which of a driver's two instances the path names, as libvirt's split daemons read
    /// it: `"system"` (`/system`, or no path) or `"session"` (`/session`); `None` for any
    /// other path (`/embed`, `/default`).
    pub fn instance(&self) -> Option<&'static str> {
        match self.path.as_str() {
            "" | "/" | "/system" => Some("system"),
            "/session" => Some("session"),
            _ => None,
        }
    }

    /// The URI without transport, host and the transport's own parameters: what the driver
    /// on the far side sees, e.g. `test+unix:///default?socket=/x` → `test:///default`.
    pub fn driver_uri(&self) -> String {
        const TRANSPORT_PARAMS: &[&str] = &[
            "socket",
            "name",
            "command",
            "netcat",
            "no_verify",
            "no_tty",
            "pkipath",
            "keyfile",
            "sshauth",
            "known_hosts",
            "known_hosts_verify",
            "mode",
            "proxy",
            "tls_priority",
        ];
        let kept: Vec<String> = self
            .params
            .iter()
            .filter(|(k, _)| !TRANSPORT_PARAMS.contains(&k.as_str()))
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        let mut out = format!("{}://{}", self.driver, self.path);
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
        out
    }
}

impl fmt::Display for ConnectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'%' && idx + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[idx + 1..idx + 3]).ok();
            if let Some(byte) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(byte);
                idx += 3;
                continue;
            }
        }
        out.push(bytes[idx]);
        idx += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_uris() {
        let uri = ConnectUri::parse("test:///default").expect("parses");
        assert_eq!(
            (uri.driver.as_str(), uri.path.as_str()),
            ("test", "/default")
        );
        assert!(!uri.is_remote());
        let uri = ConnectUri::parse("qemu:///embed?root=/tmp/x%20y").expect("parses");
        assert_eq!(uri.param("root"), Some("/tmp/x y"));
        let uri = ConnectUri::parse("test:///tmp/node.xml").expect("parses");
        assert_eq!(uri.path, "/tmp/node.xml");
    }

    #[test]
    fn remote_uris() {
        let uri = ConnectUri::parse("qemu+ssh://root@host.example:2222/system?keyfile=/k")
            .expect("parses");
        assert_eq!(uri.transport.as_deref(), Some("ssh"));
        assert_eq!(uri.user.as_deref(), Some("root"));
        assert_eq!(uri.host.as_deref(), Some("host.example"));
        assert_eq!(uri.port, Some(2222));
        assert!(uri.is_remote());
        assert_eq!(uri.driver_uri(), "qemu:///system");
        let uri = ConnectUri::parse("test+unix:///default?socket=/run/s").expect("parses");
        assert_eq!(uri.driver_uri(), "test:///default");
        let uri = ConnectUri::parse("qemu+tcp://[::1]:16509/system").expect("parses");
        assert_eq!(uri.host.as_deref(), Some("::1"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(ConnectUri::parse("no scheme here").is_err());
        assert!(ConnectUri::parse("qemu://host:port/x").is_err());
    }
}
