//! The client side: a `virt-core` [`Driver`] that reaches libvirt-compatible daemons (rvirtd
//! or libvirtd) over the remote protocol.
//!
//! URIs it serves: any with a transport (`qemu+unix:///system?socket=…`, `qemu+tcp://host/`,
//! `qemu+tls://host/system?pkipath=…`, `qemu+ssh://user@host/system`, `test+ext:///default?command=…`)
//! or a host, and plain local URIs (`qemu:///system`) while rvirtd's socket exists, so that
//! an embedder who registered both backends talks to the daemon when one runs and serves
//! the URI in-process otherwise. `test:///…` is always left to the in-process test driver.

mod connection;
mod console;
mod core;
mod transport;
mod volume;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use virt_core::driver::{Connection, Driver};
use virt_core::{registry, ConnectUri, Error, ErrorDomain, ErrorNumber};

pub use connection::RemoteConnection;
pub use transport::{
    local_socket, rvirtd_socket, rvirtd_socket_dir, TransportKind, RVIRTD_SOCKET, RVIRTD_SOCKET_RO,
};

use crate::protocol::{self as proto, auth_type, feature};

/// libvirt's client defaults: PING after 5 s of silence, give up after 5 unanswered.
const DEFAULT_KEEPALIVE_INTERVAL: i32 = 5;
const DEFAULT_KEEPALIVE_COUNT: u32 = 5;

/// The remote driver.
#[derive(Debug, Default)]
pub struct RemoteDriver;

impl RemoteDriver {
    /// Whether this driver serves `uri` (see the module docs).
    pub fn claims(uri: &ConnectUri, flags: u32) -> bool {
        if uri.transport.is_some() || uri.host.is_some() {
            return true;
        }
        if uri.driver == "test" {
            return false;
        }
        let read_only = flags & virt_core::blocking::CONNECT_RO != 0;
        uri.param("socket").is_some() || rvirtd_socket(read_only).exists()
    }
}

impl Driver for RemoteDriver {
    fn name(&self) -> &str {
        "remote"
    }

    fn open(&self, uri: &ConnectUri, flags: u32) -> virt_core::Result<Option<Arc<dyn Connection>>> {
        if !Self::claims(uri, flags) {
            return Ok(None);
        }
        let connection: Arc<dyn Connection> = Arc::new(open(uri, flags)?);
        Ok(Some(connection))
    }
}

/// Registers the remote driver with `virt-core`. Register it before `virt-host` to prefer a
/// running daemon over in-process drivers for plain local URIs.
pub fn register() {
    registry::register(Arc::new(RemoteDriver));
}

/// Opens `uri` on a daemon, whatever the URI looks like (no claiming rules).
pub fn open(uri: &ConnectUri, flags: u32) -> virt_core::Result<RemoteConnection> {
    let read_only = flags & virt_core::blocking::CONNECT_RO != 0;
    let target = uri.clone();
    let channel = core::block_on(async move { transport::connect(&target, read_only).await })?;
    let core = core::Core::start(channel.reader, channel.writer, channel.direct);
    let connection = RemoteConnection {
        core,
        uri: uri.as_str().to_string(),
        kind: channel.kind,
        child: Mutex::new(channel.child),
        events_registered: Mutex::new(false),
        closed: Mutex::new(false),
    };
    handshake(&connection, uri, read_only).inspect_err(|_| {
        connection
            .core
            .die(Error::internal(ErrorDomain::RPC, "client socket is closed"));
        *connection.closed.lock().unwrap_or_else(|p| p.into_inner()) = true;
    })?;
    Ok(connection)
}

fn handshake(
    connection: &RemoteConnection,
    uri: &ConnectUri,
    read_only: bool,
) -> virt_core::Result<()> {
    match connection.call::<proto::AuthList>(()) {
        Ok(types) if types.is_empty() || types.contains(&auth_type::NONE) => {}
        Ok(types) if types.contains(&auth_type::POLKIT) => {
            connection.call::<proto::AuthPolkit>(())?;
        }
        Ok(types) => {
            return Err(Error::new(
                ErrorNumber::AUTH_FAILED,
                ErrorDomain::RPC,
                format!("the daemon offers only authentication types {types:?}, which rvirt does not support"),
            ))
        }
        // A daemon too old to list auth types needs none.
        Err(error) if error.code() == ErrorNumber::NO_SUPPORT => {}
        Err(error) => return Err(error),
    }
    let keepalive = connection
        .call::<proto::ConnectSupportsFeature>((feature::PROGRAM_KEEPALIVE,))
        .map(|supported| supported == 1)
        .unwrap_or(false);
    connection.core.set_keepalive_supported(keepalive);
    let name = if uri.driver == "remote" {
        String::new()
    } else {
        uri.driver_uri()
    };
    let flags = if read_only {
        virt_core::blocking::CONNECT_RO
    } else {
        0
    };
    connection.call::<proto::ConnectOpen>((Some(name), flags))?;
    if keepalive {
        connection
            .core
            .set_keepalive(DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_COUNT)?;
    }
    Ok(())
}

/// A fresh directory only this user can enter, for the local end of consoles and pipes.
pub(crate) fn private_dir(kind: &str) -> virt_core::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base.join(format!(
        "rvirt-{kind}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|error| {
            Error::internal(
                ErrorDomain::STREAMS,
                format!("cannot create '{}': {error}", dir.display()),
            )
        })?;
    Ok(dir)
}
