//! Opening a console endpoint in this process: a pty slave or a unix socket, as a duplex
//! descriptor the caller reads and writes.

use std::os::fd::OwnedFd;

use crate::error::{Error, ErrorDomain, ErrorNumber, Result};
use crate::types::ConsoleEndpoint;

/// Opens `endpoint` read-write. A pty is opened without becoming the caller's controlling
/// terminal.
pub fn open_endpoint(endpoint: &ConsoleEndpoint) -> Result<OwnedFd> {
    let failed = |what: &str, path: &str, error: std::io::Error| {
        Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::NONE,
            format!("cannot open console {what} '{path}': {error}"),
        )
    };
    match endpoint {
        ConsoleEndpoint::Pty(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(NOCTTY)
                .open(path)
                .map_err(|e| failed("pty", path, e))?;
            Ok(file.into())
        }
        ConsoleEndpoint::UnixSocket(path) => {
            let socket = std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| failed("socket", path, e))?;
            Ok(socket.into())
        }
    }
}

/// `O_NOCTTY` on Linux (all architectures rvirt builds for).
const NOCTTY: i32 = 0o400;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn socket_endpoint_is_a_duplex_descriptor() {
        let path =
            std::env::temp_dir().join(format!("virt-core-console-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let fd = open_endpoint(&ConsoleEndpoint::UnixSocket(
            path.to_string_lossy().into_owned(),
        ))
        .expect("open");
        let (mut peer, _) = listener.accept().expect("accept");
        let mut console = std::fs::File::from(fd);
        console.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).expect("read");
        assert_eq!(&buf, b"ping");
        peer.write_all(b"pong").expect("write back");
        console.read_exact(&mut buf).expect("read back");
        assert_eq!(&buf, b"pong");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn missing_pty_names_the_path() {
        let error = open_endpoint(&ConsoleEndpoint::Pty("/dev/pts/nonexistent".into()))
            .expect_err("missing");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        assert!(
            error.message().contains("/dev/pts/nonexistent"),
            "{error:?}"
        );
    }
}
