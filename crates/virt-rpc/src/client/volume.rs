//! Volume data over a remote connection: the daemon's upload/download stream, offered
//! locally as a named pipe (the same "path to the volume's bytes" an in-process driver gives,
//! except that a pipe is read or written front to back, without seeking).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use virt_core::{Error, ErrorDomain, StorageVolRef};

use super::connection::{classify, RemoteConnection, StreamEvent, StreamHandle};
use super::core::{StreamFrame, StreamSink};
use super::private_dir;
use crate::protocol as proto;

/// How long the pipe waits for the caller to open it.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn data_path(
    conn: &RemoteConnection,
    vol: &StorageVolRef,
    for_upload: bool,
) -> Result<String, Error> {
    let dir = private_dir("volume")?;
    let path = dir.join("data");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).map_err(
        |error| {
            Error::internal(
                ErrorDomain::STREAMS,
                format!("cannot create pipe for volume data: {error}"),
            )
        },
    )?;
    let (sink, frames) = mpsc::channel(16);
    let args = (vol.clone(), 0, 0, 0);
    let stream = if for_upload {
        conn.open_stream::<proto::StorageVolUpload>(args, StreamSink::Lossless(sink))
    } else {
        conn.open_stream::<proto::StorageVolDownload>(args, StreamSink::Lossless(sink))
    };
    let stream = match stream {
        Ok(stream) => stream,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(error);
        }
    };
    let fifo = path.clone();
    std::thread::Builder::new()
        .name("virt-rpc-volume".into())
        .spawn(move || {
            let outcome = if for_upload {
                pump_up(&fifo, &stream, frames)
            } else {
                pump_down(&fifo, &stream, frames)
            };
            if let Err(why) = outcome {
                tracing::debug!("volume stream ended: {why}");
                let _ = stream.abort();
            }
            stream.forget();
            let _ = std::fs::remove_dir_all(&dir);
        })
        .map_err(|error| {
            Error::internal(
                ErrorDomain::STREAMS,
                format!("cannot start volume stream: {error}"),
            )
        })?;
    Ok(path.to_string_lossy().into_owned())
}

/// Opens our end of the pipe; if the caller never opens theirs, a watchdog does so after
/// [`OPEN_TIMEOUT`] and the stream is cancelled.
fn open_fifo(path: &Path, for_writing: bool) -> Result<std::fs::File, String> {
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog_flag = std::sync::Arc::clone(&opened);
    let watchdog_path: PathBuf = path.to_path_buf();
    std::thread::spawn(move || {
        std::thread::sleep(OPEN_TIMEOUT);
        if !watchdog_flag.load(std::sync::atomic::Ordering::Relaxed) {
            // Opening the other end unblocks ours; the data then ends at once.
            let _ = std::fs::OpenOptions::new()
                .read(for_writing)
                .write(!for_writing)
                .open(&watchdog_path);
        }
    });
    let file = std::fs::OpenOptions::new()
        .read(!for_writing)
        .write(for_writing)
        .open(path)
        .map_err(|error| error.to_string())?;
    opened.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(file)
}

fn pump_up(
    path: &Path,
    stream: &StreamHandle,
    mut frames: mpsc::Receiver<StreamFrame>,
) -> Result<(), String> {
    let mut file = open_fifo(path, false)?;
    let mut buf = vec![0u8; crate::frame::STREAM_CHUNK];
    loop {
        if let Ok(frame) = frames.try_recv() {
            if let StreamEvent::Failed(error) = classify(frame) {
                return Err(error.to_string());
            }
        }
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        stream.send_data(&buf[..n]).map_err(|e| e.to_string())?;
    }
    stream.finish().map_err(|e| e.to_string())?;
    loop {
        match frames.blocking_recv().map(classify) {
            Some(StreamEvent::Finished) => return Ok(()),
            Some(StreamEvent::Failed(error)) => return Err(error.to_string()),
            Some(_) => continue,
            None => return Err("connection closed".into()),
        }
    }
}

fn pump_down(
    path: &Path,
    stream: &StreamHandle,
    mut frames: mpsc::Receiver<StreamFrame>,
) -> Result<(), String> {
    let mut file = open_fifo(path, true)?;
    loop {
        match frames.blocking_recv().map(classify) {
            Some(StreamEvent::Data(bytes)) => file.write_all(&bytes).map_err(|e| e.to_string())?,
            Some(StreamEvent::Hole(len)) => {
                let zeros = vec![0u8; 64 * 1024];
                let mut left = len.max(0) as u64;
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    file.write_all(&zeros[..n]).map_err(|e| e.to_string())?;
                    left -= n as u64;
                }
            }
            Some(StreamEvent::Eof) => break,
            Some(StreamEvent::Finished) => return Ok(()),
            Some(StreamEvent::Failed(error)) => return Err(error.to_string()),
            None => return Err("connection closed".into()),
        }
    }
    drop(file);
    stream.finish().map_err(|e| e.to_string())?;
    loop {
        match frames.blocking_recv().map(classify) {
            Some(StreamEvent::Finished) => return Ok(()),
            Some(StreamEvent::Failed(error)) => return Err(error.to_string()),
            Some(_) => continue,
            None => return Err("connection closed".into()),
        }
    }
}
