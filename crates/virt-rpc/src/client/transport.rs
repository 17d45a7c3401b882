//! Reaching a daemon: Unix sockets, TCP, TLS, and commands (ssh, ext) whose standard input
//! and output carry the protocol.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncWrite};
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber};

use crate::tls::{self, PkiFiles};

/// Which kind of channel a connection runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    Unix,
    Tcp,
    Tls,
    Ssh,
    Ext,
}

impl TransportKind {
    /// Whether the channel itself keeps the traffic from others (libvirt's notion of a
    /// secure connection).
    pub fn is_secure(self) -> bool {
        !matches!(self, TransportKind::Tcp)
    }

    /// Whether the channel encrypts.
    pub fn is_encrypted(self) -> bool {
        matches!(self, TransportKind::Tls | TransportKind::Ssh)
    }
}

pub(crate) type BoxedReader = Box<dyn AsyncRead + Send + Unpin>;
pub(crate) type BoxedWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// An established channel.
pub(crate) struct Channel {
    pub reader: BoxedReader,
    pub writer: BoxedWriter,
    pub kind: TransportKind,
    /// The ssh/ext child process, killed when the connection goes.
    pub child: Option<tokio::process::Child>,
    /// A duplicate of a plain socket's descriptor, for callers to write their calls to
    /// directly (see `core::DirectWrite`); none for TLS and commands.
    pub direct: Option<std::os::fd::OwnedFd>,
}

/// A duplicate of `socket`'s descriptor (same socket, same non-blocking mode).
fn duplicate(socket: &impl std::os::fd::AsFd) -> Option<std::os::fd::OwnedFd> {
    socket.as_fd().try_clone_to_owned().ok()
}

/// The name of rvirtd's read-write socket.
pub const RVIRTD_SOCKET: &str = "rvirt-sock";
/// The name of rvirtd's read-only socket.
pub const RVIRTD_SOCKET_RO: &str = "rvirt-sock-ro";

/// Where rvirtd puts its sockets by default: `/run/rvirt` for root, else
/// `$XDG_RUNTIME_DIR/rvirt` (or `~/.cache/rvirt` without a runtime directory).
pub fn rvirtd_socket_dir() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/run/rvirt");
    }
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(runtime).join("rvirt");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache/rvirt")
}

/// rvirtd's default socket, read-write or read-only.
pub fn rvirtd_socket(read_only: bool) -> PathBuf {
    rvirtd_socket_dir().join(if read_only {
        RVIRTD_SOCKET_RO
    } else {
        RVIRTD_SOCKET
    })
}

/// libvirtd's default socket for `uri`.
fn libvirt_socket(uri: &ConnectUri, read_only: bool) -> PathBuf {
    let name = if read_only {
        "libvirt-sock-ro"
    } else {
        "libvirt-sock"
    };
    let session = !nix::unistd::geteuid().is_root() && uri.path != "/system";
    if session {
        if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            return PathBuf::from(runtime).join("libvirt").join(name);
        }
    }
    PathBuf::from("/var/run/libvirt").join(name)
}

/// The local socket for `uri`: `?socket=` if given, else rvirtd's if it is running, else
/// libvirtd's. Read-only connections use the read-only socket.
pub fn local_socket(uri: &ConnectUri, read_only: bool) -> PathBuf {
    if let Some(socket) = uri.param("socket") {
        return PathBuf::from(socket);
    }
    let rvirtd = rvirtd_socket(read_only);
    if rvirtd.exists() {
        return rvirtd;
    }
    libvirt_socket(uri, read_only)
}

fn connect_error(what: String, error: std::io::Error) -> Error {
    Error::from_parts(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::RPC,
        format!("{what}: {error}"),
    )
}

/// Opens the channel `uri` asks for.
pub(crate) async fn connect(uri: &ConnectUri, read_only: bool) -> Result<Channel, Error> {
    let transport =
        uri.transport
            .as_deref()
            .unwrap_or(if uri.host.is_some() { "tls" } else { "unix" });
    match transport {
        "unix" => {
            let path = local_socket(uri, read_only);
            let stream = tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|error| {
                    connect_error(
                        format!("Failed to connect socket to '{}'", path.display()),
                        error,
                    )
                })?;
            let direct = duplicate(&stream);
            let (reader, writer) = stream.into_split();
            Ok(Channel {
                reader: Box::new(reader),
                writer: Box::new(writer),
                kind: TransportKind::Unix,
                child: None,
                direct,
            })
        }
        "tcp" => {
            let (host, port) = host_port(uri, 16509)?;
            let stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|error| {
                    connect_error(
                        format!("unable to connect to server at '{host}:{port}'"),
                        error,
                    )
                })?;
            let _ = stream.set_nodelay(true);
            let direct = duplicate(&stream);
            let (reader, writer) = stream.into_split();
            Ok(Channel {
                reader: Box::new(reader),
                writer: Box::new(writer),
                kind: TransportKind::Tcp,
                child: None,
                direct,
            })
        }
        "tls" => {
            let (host, port) = host_port(uri, 16514)?;
            let files = PkiFiles::client(uri.param("pkipath").map(Path::new));
            let verify = uri.param("no_verify").is_none_or(|v| v == "0");
            let config = tls::client_config(&files, verify)?;
            let stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|error| {
                    connect_error(
                        format!("unable to connect to server at '{host}:{port}'"),
                        error,
                    )
                })?;
            let _ = stream.set_nodelay(true);
            let connector = tokio_rustls::TlsConnector::from(config);
            let handshake = tokio::time::timeout(
                TLS_TIMEOUT,
                connector.connect(tls::server_name(&host)?, stream),
            );
            let stream = handshake
                .await
                .map_err(|_| timed_out("TLS handshake", &host))?
                .map_err(|error| {
                    Error::from_parts(
                        ErrorNumber::AUTH_FAILED,
                        ErrorDomain::RPC,
                        format!("TLS handshake with '{host}' failed: {error}"),
                    )
                })?;
            // The daemon confirms with one byte (1) that it accepted our certificate.
            let mut stream = stream;
            let mut confirmation = [0u8; 1];
            use tokio::io::AsyncReadExt;
            let confirmed = tokio::time::timeout(TLS_TIMEOUT, stream.read_exact(&mut confirmation));
            match confirmed
                .await
                .map_err(|_| timed_out("TLS confirmation", &host))?
            {
                Ok(_) if confirmation[0] == 1 => {}
                Ok(_) => {
                    return Err(crate::protocol::rpc_error(
                        "server verification (of our certificate or IP address) failed",
                    ))
                }
                Err(error) => {
                    return Err(connect_error(
                        "Unable to read TLS confirmation".into(),
                        error,
                    ))
                }
            }
            let (reader, writer) = tokio::io::split(stream);
            Ok(Channel {
                reader: Box::new(reader),
                writer: Box::new(writer),
                kind: TransportKind::Tls,
                child: None,
                direct: None,
            })
        }
        "ssh" => {
            let host = uri
                .host
                .clone()
                .ok_or_else(|| invalid_uri("the ssh transport needs a host"))?;
            let mut command = tokio::process::Command::new(uri.param("command").unwrap_or("ssh"));
            if let Some(port) = uri.port {
                command.arg("-p").arg(port.to_string());
            }
            if let Some(user) = &uri.user {
                command.arg("-l").arg(user);
            }
            if let Some(keyfile) = uri.param("keyfile") {
                command.arg("-i").arg(keyfile);
            }
            if let Some(known_hosts) = uri.param("known_hosts") {
                command
                    .arg("-o")
                    .arg(format!("UserKnownHostsFile={known_hosts}"));
            }
            if uri.param("no_tty").is_some_and(|v| v != "0") {
                command
                    .arg("-o")
                    .arg("BatchMode=yes")
                    .arg("-o")
                    .arg("StrictHostKeyChecking=no");
            }
            command.arg("-T").arg("-e").arg("none").arg("--").arg(&host);
            command.arg(remote_netcat_command(uri, read_only));
            spawn_channel(command, TransportKind::Ssh)
        }
        "ext" => {
            let program = uri
                .param("command")
                .ok_or_else(|| invalid_uri("the ext transport needs command=PROGRAM"))?;
            spawn_channel(tokio::process::Command::new(program), TransportKind::Ext)
        }
        other => Err(invalid_uri(&format!(
            "transport in URL not recognised (should be tls|unix|ssh|ext|tcp), got '{other}'"
        ))),
    }
}

/// How long a TLS handshake (and the daemon's confirmation) may take.
const TLS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn timed_out(what: &str, host: &str) -> Error {
    Error::from_parts(
        ErrorNumber::OPERATION_TIMEOUT,
        ErrorDomain::RPC,
        format!("{what} with '{host}' timed out"),
    )
}

fn invalid_uri(why: &str) -> Error {
    Error::new(ErrorNumber::INVALID_ARG, ErrorDomain::REMOTE, why)
}

fn host_port(uri: &ConnectUri, default_port: u16) -> Result<(String, u16), Error> {
    let host = uri.host.clone().unwrap_or_else(|| "localhost".to_string());
    Ok((host, uri.port.unwrap_or(default_port)))
}

fn spawn_channel(
    mut command: tokio::process::Command,
    kind: TransportKind,
) -> Result<Channel, Error> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| connect_error("cannot run the transport command".to_string(), error))?;
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(Error::internal(
            ErrorDomain::RPC,
            "transport command without pipes",
        ));
    };
    Ok(Channel {
        reader: Box::new(stdout),
        writer: Box::new(stdin),
        kind,
        child: Some(child),
        direct: None,
    })
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The command the remote shell runs: a netcat-style relay to the daemon's socket there,
/// rvirtd's if it runs, else libvirtd's.
pub(crate) fn remote_netcat_command(uri: &ConnectUri, read_only: bool) -> String {
    let netcat = shell_quote(uri.param("netcat").unwrap_or("nc"));
    let script = match uri.param("socket") {
        Some(socket) => format!("exec {netcat} -U {}", shell_quote(socket)),
        None => {
            let suffix = if read_only { "-ro" } else { "" };
            let libvirt = if uri.path == "/session" {
                format!("\"$XDG_RUNTIME_DIR/libvirt/libvirt-sock{suffix}\"")
            } else {
                format!("/var/run/libvirt/libvirt-sock{suffix}")
            };
            let rvirt = if uri.path == "/session" {
                format!("\"$XDG_RUNTIME_DIR/rvirt/rvirt-sock{suffix}\"")
            } else {
                format!("/run/rvirt/rvirt-sock{suffix}")
            };
            format!("if [ -S {rvirt} ]; then exec {netcat} -U {rvirt}; else exec {netcat} -U {libvirt}; fi")
        }
    };
    format!("sh -c {}", shell_quote(&script))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_socket_wins() {
        let uri = ConnectUri::parse("test+unix:///default?socket=/tmp/x/sock").expect("uri");
        assert_eq!(local_socket(&uri, false), PathBuf::from("/tmp/x/sock"));
        assert_eq!(local_socket(&uri, true), PathBuf::from("/tmp/x/sock"));
    }

    #[test]
    fn remote_command_is_one_quoted_shell_line() {
        let uri = ConnectUri::parse("qemu+ssh://root@h/system?socket=/run/it's").expect("uri");
        assert_eq!(
            remote_netcat_command(&uri, false),
            r#"sh -c 'exec '\''nc'\'' -U '\''/run/it'\''\'\'''\''s'\'''"#
        );
        let uri = ConnectUri::parse("qemu+ssh://h/system").expect("uri");
        let command = remote_netcat_command(&uri, true);
        assert!(
            command.contains("/run/rvirt/rvirt-sock-ro")
                && command.contains("/var/run/libvirt/libvirt-sock-ro"),
            "{command}"
        );
    }
}
