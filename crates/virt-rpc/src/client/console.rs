//! Consoles over a remote connection: the daemon's console stream, bridged to a private local
//! Unix socket so callers get the same [`ConsoleEndpoint`] an in-process driver hands out.

use std::os::fd::OwnedFd;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use virt_core::{ConsoleEndpoint, DomainRef, Error, ErrorDomain};

use super::connection::{classify, RemoteConnection, StreamEvent, StreamHandle};
use super::core::{runtime, StreamSink};
use super::private_dir;
use crate::protocol as proto;

/// How long the local socket waits for its one client.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn open(
    conn: &RemoteConnection,
    dom: &DomainRef,
    dev_name: Option<&str>,
    flags: u32,
) -> Result<ConsoleEndpoint, Error> {
    let dir = private_dir("console")?;
    let path = dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path)
        .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
        .map_err(|error| {
            Error::internal(
                ErrorDomain::STREAMS,
                format!("cannot create console socket: {error}"),
            )
        })?;
    let (stream, frames) = match open_stream(conn, dom, dev_name, flags) {
        Ok(opened) => opened,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
    };
    let endpoint = ConsoleEndpoint::UnixSocket(path.to_string_lossy().into_owned());
    runtime().spawn(async move {
        let outcome = async {
            let listener =
                tokio::net::UnixListener::from_std(listener).map_err(|e| e.to_string())?;
            let (socket, _) = tokio::time::timeout(ACCEPT_TIMEOUT, listener.accept())
                .await
                .map_err(|_| "nobody attached to the console".to_string())?
                .map_err(|error| error.to_string())?;
            drop(listener);
            bridge(socket, &stream, frames).await
        }
        .await;
        finish(&stream, outcome);
        let _ = std::fs::remove_dir_all(&dir);
    });
    Ok(endpoint)
}

/// The console as one end of a socket pair; the other end is pumped to the daemon's stream.
pub(crate) fn open_fd(
    conn: &RemoteConnection,
    dom: &DomainRef,
    dev_name: Option<&str>,
    flags: u32,
) -> Result<OwnedFd, Error> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .and_then(|(a, b)| a.set_nonblocking(true).map(|()| (a, b)))
        .map_err(|error| {
            Error::internal(
                ErrorDomain::STREAMS,
                format!("cannot create a socket pair: {error}"),
            )
        })?;
    let (stream, frames) = open_stream(conn, dom, dev_name, flags)?;
    runtime().spawn(async move {
        let outcome = match tokio::net::UnixStream::from_std(ours) {
            Ok(socket) => bridge(socket, &stream, frames).await,
            Err(error) => Err(error.to_string()),
        };
        finish(&stream, outcome);
    });
    Ok(theirs.into())
}

fn open_stream(
    conn: &RemoteConnection,
    dom: &DomainRef,
    dev_name: Option<&str>,
    flags: u32,
) -> Result<(StreamHandle, mpsc::Receiver<super::core::StreamFrame>), Error> {
    // Console output nobody reads yet is dropped rather than stalling the connection.
    let (sink, frames) = mpsc::channel(256);
    let stream = conn.open_stream::<proto::DomainOpenConsole>(
        (dom.clone(), dev_name.map(str::to_string), flags),
        StreamSink::Lossy(sink),
    )?;
    Ok((stream, frames))
}

fn finish(stream: &StreamHandle, outcome: Result<(), String>) {
    if let Err(why) = outcome {
        tracing::debug!("console bridge ended: {why}");
        let _ = stream.abort();
    }
    stream.forget();
}

async fn bridge(
    mut socket: tokio::net::UnixStream,
    stream: &StreamHandle,
    mut frames: mpsc::Receiver<super::core::StreamFrame>,
) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            read = socket.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    // The local side hung up: finish the stream.
                    stream.finish().map_err(|e| e.to_string())?;
                    return Ok(());
                }
                Ok(n) => stream.send_data(&buf[..n]).map_err(|e| e.to_string())?,
            },
            frame = frames.recv() => match frame.map(classify) {
                Some(StreamEvent::Data(bytes)) => socket.write_all(&bytes).await.map_err(|e| e.to_string())?,
                Some(StreamEvent::Hole(_)) => {}
                Some(StreamEvent::Eof) => {
                    stream.finish().map_err(|e| e.to_string())?;
                    return Ok(());
                }
                Some(StreamEvent::Finished) => return Ok(()),
                Some(StreamEvent::Failed(error)) => return Err(error.to_string()),
                None => return Err("connection closed".to_string()),
            },
        }
    }
}
