//! Ceph RBD disks in QEMU's colon syntax
//! (`rbd:pool/image:auth_supported=none:mon_host=a\:6789\;b`), the form both `xl` files
//! and libxl's `pdev_path` use for network disks: read as libvirt's
//! `virStorageSourceParseRBDColonString` reads it, written as `xen_xl.c` and `libxl_conf.c`
//! write it (which differ in how many backslashes escape the separators).

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::domain::disk::{FileAttr, NameAttr, SecretRef, SourceHost, StorageAuth};
use virt_xml::domain::{DiskSource, NetProtocol};

use crate::util::parse_uint;
use crate::Result;

/// Splits `text` at the separators that are not escaped with a backslash.
fn split_unescaped(text: &str, separator: u8) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut idx = 0;
    while idx < bytes.len() {
        if bytes[idx] == b'\\' {
            idx += 2;
            continue;
        }
        if bytes[idx] == separator {
            parts.push(&text[start..idx]);
            start = idx + 1;
        }
        idx += 1;
    }
    parts.push(&text[start.min(text.len())..]);
    parts
}

/// One `mon_host` entry: `name`, `name\:port` or `[v6:addr]\:port`.
fn parse_host(entry: &str) -> Result<SourceHost> {
    let (name, port) = if let Some(end) = entry.find(']') {
        let name = entry[..end].strip_prefix('[').unwrap_or(&entry[..end]);
        (
            name.to_string(),
            entry.get(end + 3..).filter(|p| !p.is_empty()),
        )
    } else {
        match entry.split_once("\\:") {
            Some((name, port)) => (name.to_string(), Some(port)),
            None => (entry.to_string(), None),
        }
    };
    let port = match port {
        None => None,
        Some(port) => Some(
            parse_uint(port, 10)
                .filter(|port| *port <= 65535)
                .ok_or_else(|| {
                    Error::new(
                        ErrorNumber::INTERNAL_ERROR,
                        ErrorDomain::STORAGE,
                        format!("failed to parse port number '{port}'"),
                    )
                })?,
        ),
    };
    Ok(SourceHost {
        name: Some(name.split("\\:").collect::<Vec<_>>().join(":")),
        port,
        ..Default::default()
    })
}

/// Reads a colon-syntax RBD source (the `rbd:` prefix optional).
pub fn parse_rbd(text: &str) -> Result<DiskSource> {
    let text = text.strip_prefix("rbd:").unwrap_or(text);
    let (mut image, options) = match text.split_once(':') {
        Some((image, options)) => (image, Some(options)),
        None => (text, None),
    };
    let mut source = DiskSource {
        protocol: Some(NetProtocol::Rbd),
        ..Default::default()
    };
    if let Some((name, snapshot)) = image.split_once('@') {
        source.snapshot = Some(NameAttr {
            name: Some(snapshot.to_string()),
        });
        image = name;
    }
    source.name = Some(image.to_string());
    for option in options
        .map(|o| split_unescaped(o, b':'))
        .unwrap_or_default()
    {
        if let Some(user) = option.strip_prefix("id=") {
            if source.auth.is_some() {
                return Err(Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::STORAGE,
                    format!("duplicate 'id' found in '{image}'"),
                ));
            }
            source.auth = Some(StorageAuth {
                username: Some(user.to_string()),
                secret: Some(SecretRef {
                    secret_type: Some("ceph".to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        if let Some(hosts) = option.strip_prefix("mon_host=") {
            let mut rest = hosts;
            while !rest.is_empty() {
                let cut = rest
                    .as_bytes()
                    .windows(2)
                    .position(|pair| pair[0] == b'\\' && matches!(pair[1], b',' | b';' | b' '));
                let (entry, next) = match cut {
                    Some(at) => (&rest[..at], &rest[at + 2..]),
                    None => (rest, ""),
                };
                source.hosts.push(parse_host(entry)?);
                rest = next;
            }
        }
        if let Some(file) = option.strip_prefix("conf=") {
            source.config = Some(FileAttr {
                file: Some(file.to_string()),
            });
        }
    }
    Ok(source)
}

/// The `pool` and `image` of an RBD source's name (`pool/image`); the pool is `None` when
/// the name has no slash.
fn pool_and_image(source: &DiskSource) -> (Option<&str>, &str) {
    let name = source.name.as_deref().unwrap_or("");
    match name.split_once('/') {
        Some((pool, image)) => (Some(pool), image),
        None => (None, name),
    }
}

/// `[addr]` with its colons escaped, or the name as it is.
fn host_name(name: &str) -> String {
    if name.contains(':') {
        format!("[{}]", name.replace(':', "\\:"))
    } else {
        name.to_string()
    }
}

/// How many backslashes escape the separators of `mon_host`.
#[derive(Clone, Copy)]
pub enum Escaping {
    /// An `xl` file (`\\;`, `\\:`).
    XlFile,
    /// libxl's `pdev_path` (`\;`, `\:`).
    Libxl,
}

/// Writes an RBD source in colon syntax; `auth` is the `id` and base64 key libxl gets.
pub fn format_rbd(
    source: &DiskSource,
    escaping: Escaping,
    auth: Option<(&str, &str)>,
) -> Result<String> {
    let (pool, image) = pool_and_image(source);
    if image.contains(':') {
        return Err(Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::XENXL,
            format!("':' not allowed in RBD source volume name '{image}'"),
        ));
    }
    let backslash = match escaping {
        Escaping::XlFile => "\\\\",
        Escaping::Libxl => "\\",
    };
    // libvirt concatenates up to the first missing piece: without a pool, only `rbd:`.
    let mut out = match pool {
        Some(pool) => format!("rbd:{pool}/{image}"),
        None => "rbd:".to_string(),
    };
    match auth {
        Some((user, key)) => {
            out.push_str(&format!(":id={}", user.replace(':', "\\:")));
            out.push_str(&format!(
                ":key={}:auth_supported=cephx\\;none",
                key.replace(':', "\\:")
            ));
        }
        None => out.push_str(":auth_supported=none"),
    }
    if !source.hosts.is_empty() {
        out.push_str(":mon_host=");
        for (idx, host) in source.hosts.iter().enumerate() {
            if idx > 0 {
                out.push_str(backslash);
                out.push(';');
            }
            out.push_str(&host_name(host.name.as_deref().unwrap_or("")));
            if let Some(port) = host.port.filter(|port| *port != 0) {
                out.push_str(&format!("{backslash}:{port}"));
            }
        }
    }
    if let (Escaping::Libxl, Some(config)) = (escaping, &source.config) {
        if let Some(file) = &config.file {
            out.push_str(&format!(":conf={}", file.replace(':', "\\:")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hosts_ports_and_options() {
        let source = parse_rbd(
            "rbd:pool/image@snap:id=admin:auth_supported=none:mon_host=a.example\\:6321\\;[\\:\\:1]\\:6322\\;b:conf=/etc/ceph.conf",
        )
        .expect("parses");
        assert_eq!(source.name.as_deref(), Some("pool/image"));
        assert_eq!(
            source.snapshot.and_then(|s| s.name).as_deref(),
            Some("snap")
        );
        let hosts: Vec<(String, Option<u32>)> = source
            .hosts
            .iter()
            .map(|h| (h.name.clone().unwrap_or_default(), h.port))
            .collect();
        assert_eq!(
            hosts,
            vec![
                ("a.example".to_string(), Some(6321)),
                ("::1".to_string(), Some(6322)),
                ("b".to_string(), None)
            ]
        );
        assert_eq!(
            source.auth.and_then(|a| a.username).as_deref(),
            Some("admin")
        );
        assert_eq!(
            source.config.and_then(|c| c.file).as_deref(),
            Some("/etc/ceph.conf")
        );
    }

    #[test]
    fn writes_both_escapings() {
        let source = parse_rbd("rbd:pool/image:mon_host=m1\\:1\\;m2").expect("parses");
        assert_eq!(
            format_rbd(&source, Escaping::XlFile, None).expect("formats"),
            "rbd:pool/image:auth_supported=none:mon_host=m1\\\\:1\\\\;m2"
        );
        assert_eq!(
            format_rbd(&source, Escaping::Libxl, None).expect("formats"),
            "rbd:pool/image:auth_supported=none:mon_host=m1\\:1\\;m2"
        );
        let bad = DiskSource {
            name: Some("pool/a:b".to_string()),
            ..Default::default()
        };
        assert_eq!(
            format_rbd(&bad, Escaping::XlFile, None)
                .expect_err("colon")
                .code(),
            ErrorNumber::CONFIG_UNSUPPORTED
        );
    }
}
