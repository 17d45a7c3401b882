//! Consoles over a remote connection: the daemon's console stream, bridged to a private local
//! Unix socket so callers get the same [`ConsoleEndpoint`] an in-process driver hands out.

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
    let listener = std::os::unix::net::UnixListener::bind(&path).map_err(|error| {
        Error::internal(
            ErrorDomain::STREAMS,
            format!("cannot create console socket: {error}"),
        )
    })?;
    listener.set_nonblocking(true).map_err(|error| {
        Error::internal(
            ErrorDomain::STREAMS,
            format!("cannot set up console socket: {error}"),
        )
    })?;
    // Console output nobody reads yet is dropped rather than stalling the connection.
    let (sink, frames) = mpsc::channel(256);
    let stream = conn.open_stream::<proto::DomainOpenConsole>(
        (dom.clone(), dev_name.map(str::to_string), flags),
        StreamSink::Lossy(sink),
    );
    let stream = match stream {
        Ok(stream) => stream,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
    };
    let endpoint = ConsoleEndpoint::UnixSocket(path.to_string_lossy().into_owned());
    runtime().spawn(async move {
        let outcome = match tokio::net::UnixListener::from_std(listener) {
            Ok(listener) => bridge(listener, &stream, frames).await,
            Err(error) => Err(error.to_string()),
        };
        if let Err(why) = outcome {
            tracing::debug!("console bridge ended: {why}");
            let _ = stream.abort();
        }
        stream.forget();
        let _ = std::fs::remove_dir_all(&dir);
    });
    Ok(endpoint)
}

async fn bridge(
    listener: tokio::net::UnixListener,
    stream: &StreamHandle,
    mut frames: mpsc::Receiver<super::core::StreamFrame>,
) -> Result<(), String> {
    let (mut socket, _) = tokio::time::timeout(ACCEPT_TIMEOUT, listener.accept())
        .await
        .map_err(|_| "nobody attached to the console".to_string())?
        .map_err(|error| error.to_string())?;
    drop(listener);
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
