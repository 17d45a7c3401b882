//! Character devices as Xen writes them (`serial = "pty"`, `"tcp:host:4555,server,nowait"`,
//! `"unix:/path,server,nowait"`, `"/dev/ttyS0"`), read into a domain's `<serial>` or
//! `<parallel>` and written back, as libvirt's `xenParseSxprChar` and `xenFormatSxprChr` do.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::interface::TypeAttr;
use virt_xml::domain::{ChrDevice, ChrSource, ChrType};

use crate::Result;

fn malformed() -> Error {
    Error::new(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "malformed char device string",
    )
}

fn source(mode: Option<&str>, host: Option<&str>, service: Option<&str>) -> ChrSource {
    ChrSource {
        mode: mode.map(str::to_string),
        host: host.map(str::to_string),
        service: service.map(str::to_string),
        ..Default::default()
    }
}

fn path_source(mode: Option<&str>, path: &str) -> ChrSource {
    ChrSource {
        mode: mode.map(str::to_string),
        path: Some(path.to_string()),
        ..Default::default()
    }
}

fn non_empty(text: &str) -> Option<&str> {
    (!text.is_empty()).then_some(text)
}

/// Reads a Xen character device string into a device (its type and source; the caller
/// gives it a target).
pub fn parse_sxpr_char(value: &str) -> Result<ChrDevice> {
    let mut chr = ChrDevice::default();
    if value.starts_with('/') {
        chr.chr_type = Some(ChrType::Dev);
        chr.sources.push(path_source(None, value));
        return Ok(chr);
    }
    let (prefix, value) = value.split_once(':').unwrap_or((value, value));
    let kind = if prefix.starts_with("telnet") {
        chr.protocol = Some(TypeAttr {
            value: Some("telnet".to_string()),
        });
        ChrType::Tcp
    } else {
        ChrType::from_keyword(prefix).ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::XEN,
                format!("unknown chr device type '{prefix}'"),
            )
        })?
    };
    chr.chr_type = Some(kind);
    match kind {
        ChrType::File | ChrType::Pipe => chr.sources.push(path_source(None, value)),
        ChrType::Tcp => {
            let (host, rest) = value.split_once(':').ok_or_else(malformed)?;
            let (service, options) = match rest.split_once(',') {
                Some((service, options)) => (service, Some(options)),
                None => (rest, None),
            };
            let listen = options.is_some_and(|options| format!(",{options}").contains(",server"));
            let mode = if listen { "bind" } else { "connect" };
            chr.sources
                .push(source(Some(mode), non_empty(host), Some(service)));
            if chr.protocol.is_none() {
                chr.protocol = Some(TypeAttr {
                    value: Some("raw".to_string()),
                });
            }
        }
        ChrType::Udp => {
            let (connect_host, rest) = value.split_once(':').ok_or_else(malformed)?;
            let (connect_service, bind) = match rest.split_once('@') {
                Some((service, bind)) => (service, Some(bind)),
                None => (rest, None),
            };
            if let Some(bind) = bind {
                let (bind_host, bind_service) = bind.split_once(':').ok_or_else(malformed)?;
                chr.sources.push(source(
                    Some("bind"),
                    non_empty(bind_host),
                    Some(bind_service),
                ));
            }
            chr.sources.push(source(
                Some("connect"),
                non_empty(connect_host),
                Some(connect_service),
            ));
        }
        ChrType::Unix => {
            let (path, options) = match value.split_once(',') {
                Some((path, options)) => (path, Some(options)),
                None => (value, None),
            };
            let listen = options.is_some_and(|options| format!(",{options}").contains(",server"));
            chr.sources.push(path_source(
                Some(if listen { "bind" } else { "connect" }),
                path,
            ));
        }
        _ => {}
    }
    Ok(chr)
}

/// libvirt's `virBufferEscapeSexpr`: backslashes and single quotes get a backslash.
fn escape_sexpr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn mode_source<'a>(chr: &'a ChrDevice, mode: &str) -> Option<&'a ChrSource> {
    chr.sources
        .iter()
        .find(|source| source.mode.as_deref() == Some(mode))
}

/// Writes a serial or parallel device as Xen's character device string.
pub fn format_sxpr_char(chr: &ChrDevice) -> Result<String> {
    let kind = chr.chr_type.unwrap_or(ChrType::Pty);
    let first = chr.source();
    let path = first
        .and_then(|source| source.path.as_deref())
        .unwrap_or("");
    Ok(match kind {
        ChrType::Null | ChrType::Stdio | ChrType::Vc | ChrType::Pty => kind.as_str().to_string(),
        ChrType::File | ChrType::Pipe => format!("{}:{}", kind.as_str(), escape_sexpr(path)),
        ChrType::Dev => escape_sexpr(path),
        ChrType::Tcp => {
            let telnet = chr
                .protocol
                .as_ref()
                .and_then(|protocol| protocol.value.as_deref())
                == Some("telnet");
            let listen = first.and_then(|source| source.mode.as_deref()) == Some("bind");
            format!(
                "{}:{}:{}{}",
                if telnet { "telnet" } else { "tcp" },
                first.and_then(|s| s.host.as_deref()).unwrap_or(""),
                first.and_then(|s| s.service.as_deref()).unwrap_or(""),
                if listen { ",server,nowait" } else { "" }
            )
        }
        ChrType::Udp => {
            let connect = mode_source(chr, "connect");
            let bind = mode_source(chr, "bind");
            format!(
                "udp:{}:{}@{}:{}",
                connect.and_then(|s| s.host.as_deref()).unwrap_or(""),
                connect.and_then(|s| s.service.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.host.as_deref()).unwrap_or(""),
                bind.and_then(|s| s.service.as_deref()).unwrap_or("")
            )
        }
        ChrType::Unix => {
            let listen = first.and_then(|source| source.mode.as_deref()) == Some("bind");
            format!(
                "unix:{}{}",
                escape_sexpr(path),
                if listen { ",server,nowait" } else { "" }
            )
        }
        other => {
            return Err(Error::new(
                ErrorNumber::CONFIG_UNSUPPORTED,
                ErrorDomain::XEN,
                format!("unsupported chr device type '{}'", other.as_str()),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in [
            "pty",
            "null",
            "/dev/ttyS0",
            "file:/tmp/serial.log",
            "pipe:/tmp/p",
            "tcp:127.0.0.1:4555,server,nowait",
            "tcp::4555",
            "telnet:example.org:23",
            "udp:1.2.3.4:9999@0.0.0.0:8888",
            "unix:/tmp/s,server,nowait",
        ] {
            let chr = parse_sxpr_char(text).expect(text);
            assert_eq!(format_sxpr_char(&chr).expect(text), text);
        }
    }

    #[test]
    fn refuses_unknown_types() {
        let error = parse_sxpr_char("bogus:x").expect_err("bogus");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
        assert!(error.message().ends_with("unknown chr device type 'bogus'"));
        let error = parse_sxpr_char("tcp:nohost").expect_err("tcp");
        assert!(error.message().ends_with("malformed char device string"));
    }
}
