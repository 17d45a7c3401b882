//! `qemu.conf`, the QEMU driver's settings file, read as libvirt reads its own: the virConf
//! format (`name = value` lines, `#` comments, strings in quotes, integers, `[...]` lists) and
//! the settings the command line depends on (VNC and SPICE listen addresses, sockets, TLS
//! and SASL, character device and NBD TLS with their certificate directories and key
//! secrets, host audio, the memory backing directory, deprecation behaviour), with libvirt's
//! defaults for what the file leaves out (`default_tls_x509_*` for each service's TLS).
//!
//! Pure: the text in, the settings out; reading the file is the caller's. The file lives
//! beside the driver's configuration directory, as libvirt's `/etc/libvirt/qemu.conf` beside
//! `/etc/libvirt/qemu/` (`/etc/rvirt/qemu.conf`, `~/.config/rvirt/qemu.conf`). Settings it
//! does not know are ignored, as libvirt ignores them.

use std::collections::BTreeMap;

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::Error;

use crate::argv::DriverConfig;

/// One value of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Int(i64),
    List(Vec<Value>),
}

/// The settings of one file, by name (a later line wins, as in libvirt).
pub type Settings = BTreeMap<String, Value>;

fn syntax(file: &str, line: usize, what: &str) -> Error {
    virt_plugin_sdk::error(
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::CONF,
        format!("{file}:{line}: {what}"),
    )
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn error(&self, what: &str) -> Error {
        syntax(self.file, self.line, what)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.at += 1;
        }
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some(b'#') {
            while !matches!(self.peek(), None | Some(b'\n')) {
                self.at += 1;
            }
        }
    }

    /// Blanks, comments and line ends (inside a list).
    fn skip_blanks_and_lines(&mut self) {
        loop {
            self.skip_blanks();
            self.skip_comment();
            match self.peek() {
                Some(b'\n') => {
                    self.at += 1;
                    self.line += 1;
                }
                _ => return,
            }
        }
    }

    fn name(&mut self) -> Result<String, Error> {
        let start = self.at;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.at += 1,
            _ => return Err(self.error("expecting a name")),
        }
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"_.-".contains(&c)) {
            self.at += 1;
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.at]).into_owned())
    }

    fn string(&mut self) -> Result<String, Error> {
        let triple = self.text[self.at..].starts_with(b"\"\"\"");
        let (quote, width): (&[u8], usize) = match (triple, self.peek()) {
            (true, _) => (b"\"\"\"", 3),
            (false, Some(b'\'')) => (b"'", 1),
            _ => (b"\"", 1),
        };
        self.at += width;
        let start = self.at;
        loop {
            if self.text[self.at..].starts_with(quote) {
                let value = String::from_utf8_lossy(&self.text[start..self.at]).into_owned();
                self.at += width;
                return Ok(value);
            }
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                // Only a triple-quoted string spans lines.
                Some(b'\n') if !triple => return Err(self.error("unterminated string")),
                Some(b'\n') => self.line += 1,
                _ => {}
            }
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some(b'"' | b'\'') => self.string().map(Value::Str),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.skip_blanks_and_lines();
                while self.peek() != Some(b']') {
                    if !items.is_empty() {
                        if self.peek() != Some(b',') {
                            return Err(if self.peek().is_none() {
                                self.error("list is not closed with ]")
                            } else {
                                self.error("expecting a separator in list")
                            });
                        }
                        self.at += 1;
                        self.skip_blanks_and_lines();
                        if self.peek() == Some(b']') {
                            break;
                        }
                    }
                    if self.peek().is_none() {
                        return Err(self.error("list is not closed with ]"));
                    }
                    items.push(self.value()?);
                    self.skip_blanks_and_lines();
                }
                self.at += 1;
                Ok(Value::List(items))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => {
                let start = self.at;
                self.at += 1;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.at += 1;
                }
                std::str::from_utf8(&self.text[start..self.at])
                    .ok()
                    .and_then(|digits| digits.trim_start_matches('+').parse().ok())
                    .map(Value::Int)
                    .ok_or_else(|| self.error("unterminated number"))
            }
            _ => Err(self.error("expecting a value")),
        }
    }
}

/// Reads the settings of `text` (the contents of `file`, named in errors).
pub fn parse(text: &str, file: &str) -> Result<Settings, Error> {
    let mut parser = Parser {
        text: text.as_bytes(),
        at: 0,
        line: 1,
        file,
    };
    let mut settings = Settings::new();
    loop {
        parser.skip_blanks_and_lines();
        if parser.peek().is_none() {
            return Ok(settings);
        }
        let name = parser.name()?;
        parser.skip_blanks();
        if parser.peek() != Some(b'=') {
            return Err(parser.error("expecting an assignment"));
        }
        parser.at += 1;
        parser.skip_blanks();
        let value = parser.value()?;
        parser.skip_blanks();
        parser.skip_comment();
        match parser.peek() {
            None | Some(b'\n') => {}
            Some(b';') => parser.at += 1,
            _ => return Err(parser.error("expecting a separator")),
        }
        settings.insert(name, value);
    }
}

fn wrong_type(file: &str, name: &str, what: &str) -> Error {
    conf_error(format!("{file}: {what} for '{name}' parameter"))
}

fn conf_error(message: String) -> Error {
    virt_plugin_sdk::error(ErrorNumber::INTERNAL_ERROR, ErrorDomain::CONF, message)
}

/// Typed reads of settings, with libvirt's errors for a value of the wrong kind.
struct Reader<'a> {
    settings: &'a Settings,
    file: &'a str,
}

impl Reader<'_> {
    fn string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.settings.get(name) {
            None => Ok(None),
            Some(Value::Str(value)) => Ok(Some(value.clone())),
            Some(_) => Err(wrong_type(self.file, name, "expected a string")),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.settings.get(name) {
            None => Ok(None),
            Some(Value::Int(value @ (0 | 1))) => Ok(Some(*value == 1)),
            Some(Value::Int(_)) => Err(conf_error(format!(
                "{}: value for '{name}' parameter must be 0 or 1",
                self.file
            ))),
            Some(_) => Err(wrong_type(self.file, name, "expected a bool")),
        }
    }
}

/// The TLS settings of one service (`vnc`, `chardev`, `nbd`, `spice`).
struct Tls {
    cert_dir: String,
    verify: Option<bool>,
    secret_uuid: Option<String>,
}

/// `settings` over `config` (libvirt's defaults), with libvirt's defaults for what they leave
/// out: a service's TLS certificates in its own `/etc/pki/libvirt-SERVICE` when that exists
/// (`dir_exists` says), else in `default_tls_x509_cert_dir`; its key's secret and whether it
/// verifies clients from the `default_tls_x509_*` settings.
pub fn apply(
    settings: &Settings,
    file: &str,
    config: &mut DriverConfig,
    dir_exists: &dyn Fn(&str) -> bool,
) -> Result<(), Error> {
    let read = Reader { settings, file };
    let default_cert_dir = read
        .string("default_tls_x509_cert_dir")?
        .unwrap_or_else(|| "/etc/pki/qemu".to_string());
    let default_verify = read.bool("default_tls_x509_verify")?;
    let default_secret = read.string("default_tls_x509_secret_uuid")?;
    let tls = |service: &str, verify_default: bool| -> Result<Tls, Error> {
        let own_dir = read.string(&format!("{service}_tls_x509_cert_dir"))?;
        let own_secret = read.string(&format!("{service}_tls_x509_secret_uuid"))?;
        // The default secret is for a service that names neither directory nor secret.
        let secret_uuid = match (&own_dir, own_secret) {
            (_, Some(secret)) => Some(secret),
            (None, None) => default_secret.clone(),
            (Some(_), None) => None,
        };
        let service_dir = format!("/etc/pki/libvirt-{service}");
        let cert_dir = own_dir.unwrap_or_else(|| {
            if dir_exists(&service_dir) {
                service_dir
            } else {
                default_cert_dir.clone()
            }
        });
        let verify = read
            .bool(&format!("{service}_tls_x509_verify"))?
            .or(default_verify)
            .or(Some(verify_default));
        Ok(Tls {
            cert_dir,
            verify,
            secret_uuid,
        })
    };

    let vnc = tls("vnc", false)?;
    config.vnc_tls_x509_cert_dir = vnc.cert_dir;
    config.vnc_tls_x509_verify = vnc.verify.unwrap_or(false);
    config.vnc_tls_x509_secret_uuid = vnc.secret_uuid;
    let chardev = tls("chardev", true)?;
    config.chardev_tls_x509_cert_dir = chardev.cert_dir;
    config.chardev_tls_x509_verify = chardev.verify.unwrap_or(true);
    config.chardev_tls_x509_secret_uuid = chardev.secret_uuid;
    let nbd = tls("nbd", false)?;
    config.nbd_tls_x509_cert_dir = nbd.cert_dir;
    config.nbd_tls_x509_secret_uuid = nbd.secret_uuid;
    config.spice_tls_x509_cert_dir = tls("spice", false)?.cert_dir;

    let set_bool = |field: &mut bool, name: &str| -> Result<(), Error> {
        if let Some(value) = read.bool(name)? {
            *field = value;
        }
        Ok(())
    };
    set_bool(&mut config.vnc_auto_unix_socket, "vnc_auto_unix_socket")?;
    set_bool(&mut config.vnc_tls, "vnc_tls")?;
    set_bool(&mut config.vnc_sasl, "vnc_sasl")?;
    set_bool(&mut config.vnc_allow_host_audio, "vnc_allow_host_audio")?;
    set_bool(
        &mut config.nographics_allow_host_audio,
        "nographics_allow_host_audio",
    )?;
    set_bool(&mut config.spice_tls, "spice_tls")?;
    set_bool(&mut config.spice_sasl, "spice_sasl")?;
    set_bool(&mut config.spice_auto_unix_socket, "spice_auto_unix_socket")?;
    set_bool(&mut config.chardev_tls, "chardev_tls")?;
    set_bool(&mut config.nbd_tls, "nbd_tls")?;
    if let Some(listen) = read.string("vnc_listen")? {
        config.vnc_listen = listen;
    }
    if let Some(listen) = read.string("spice_listen")? {
        config.spice_listen = listen;
    }
    if let Some(dir) = read.string("vnc_sasl_dir")? {
        config.vnc_sasl_dir = Some(dir);
    }
    if let Some(dir) = read.string("spice_sasl_dir")? {
        config.spice_sasl_dir = Some(dir);
    }
    config.spice_password = read.string("spice_password")?.is_some();
    if let Some(dir) = read.string("memory_backing_dir")? {
        config.memory_backing_dir = dir;
    }
    if let Some(behavior) = read.string("deprecation_behavior")? {
        config.deprecation_behavior = behavior;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virconf_format() {
        let settings = parse(
            "# a comment\n\
             vnc_listen = \"0.0.0.0\"   # trailing\n\
             vnc_tls = 1; spice_listen='::1'\n\
             nvram = [\n  \"/a:/b\",  # first\n  \"/c:/d\",\n]\n\
             max_processes = -1\n",
            "qemu.conf",
        )
        .expect("parses");
        assert_eq!(settings["vnc_listen"], Value::Str("0.0.0.0".into()));
        assert_eq!(settings["vnc_tls"], Value::Int(1));
        assert_eq!(settings["spice_listen"], Value::Str("::1".into()));
        assert_eq!(
            settings["nvram"],
            Value::List(vec![Value::Str("/a:/b".into()), Value::Str("/c:/d".into())])
        );
        assert_eq!(settings["max_processes"], Value::Int(-1));
    }

    #[test]
    fn syntax_errors_name_the_file_and_line() {
        let error =
            parse("vnc_tls = 1\nvnc_listen =\n", "/etc/rvirt/qemu.conf").expect_err("no value");
        assert_eq!(error.code, ErrorNumber::CONF_SYNTAX.0);
        assert_eq!(
            error.message,
            "configuration file syntax error: /etc/rvirt/qemu.conf:2: expecting a value"
        );
        let error = parse("vnc_listen = \"0.0.0.0\n", "q").expect_err("open string");
        assert!(
            error.message.ends_with("q:1: unterminated string"),
            "{}",
            error.message
        );
        let error = parse("nvram = [\"a\" \"b\"]\n", "q").expect_err("no comma");
        assert!(error.message.ends_with("expecting a separator in list"));
        let error = parse("vnc_tls 1\n", "q").expect_err("no =");
        assert!(error.message.ends_with("expecting an assignment"));
    }

    #[test]
    fn settings_over_libvirts_defaults() {
        let settings = parse(
            "vnc_listen = \"0.0.0.0\"\nvnc_tls = 1\nchardev_tls = 1\n\
             default_tls_x509_secret_uuid = \"6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea\"\n\
             nbd_tls_x509_cert_dir = \"/etc/pki/nbd\"\n",
            "qemu.conf",
        )
        .expect("parses");
        let mut config = DriverConfig::default();
        apply(&settings, "qemu.conf", &mut config, &|dir| {
            dir == "/etc/pki/libvirt-vnc"
        })
        .expect("applies");
        assert_eq!(config.vnc_listen, "0.0.0.0");
        assert!(config.vnc_tls && config.chardev_tls && !config.nbd_tls);
        assert_eq!(config.vnc_tls_x509_cert_dir, "/etc/pki/libvirt-vnc");
        assert_eq!(config.chardev_tls_x509_cert_dir, "/etc/pki/qemu");
        assert!(config.chardev_tls_x509_verify && !config.vnc_tls_x509_verify);
        // The default secret serves the services that name neither directory nor secret.
        let secret = Some("6fd3f62d-9fe7-4a4e-a869-7acd6376d8ea".to_string());
        assert_eq!(config.chardev_tls_x509_secret_uuid, secret);
        assert_eq!(config.vnc_tls_x509_secret_uuid, secret);
        assert_eq!(config.nbd_tls_x509_secret_uuid, None);
        assert_eq!(config.nbd_tls_x509_cert_dir, "/etc/pki/nbd");

        let wrong = parse("vnc_tls = 2\nvnc_listen = 1\n", "qemu.conf").expect("parses");
        let error = apply(&wrong, "qemu.conf", &mut DriverConfig::default(), &|_| {
            false
        })
        .expect_err("refused");
        assert_eq!(
            error.message,
            "internal error: qemu.conf: value for 'vnc_tls' parameter must be 0 or 1"
        );
        let wrong = parse("vnc_listen = 1\n", "qemu.conf").expect("parses");
        let error = apply(&wrong, "qemu.conf", &mut DriverConfig::default(), &|_| {
            false
        })
        .expect_err("refused");
        assert_eq!(
            error.message,
            "internal error: qemu.conf: expected a string for 'vnc_listen' parameter"
        );
    }
}
