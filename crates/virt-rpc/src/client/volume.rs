//! Volume data over a remote connection: the daemon's upload/download stream, sent from a
//! reader or received into a writer ([`upload`], [`download`]), or offered locally as a named
//! pipe (the same "path to the volume's bytes" an in-process driver gives, except that a pipe
//! is read or written front to back, without seeking).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use virt_core::{Error, ErrorDomain, ErrorNumber, StorageVolRef};

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
    send_all(&mut file, stream, &mut frames, false, &mut |_| {}).map_err(|e| e.to_string())
}

fn pump_down(
    path: &Path,
    stream: &StreamHandle,
    mut frames: mpsc::Receiver<StreamFrame>,
) -> Result<(), String> {
    let mut file = open_fifo(path, true)?;
    receive_all(&mut file, stream, &mut frames, &mut |_| {}).map_err(|e| e.to_string())
}

fn io_error(what: &str, error: std::io::Error) -> Error {
    Error::new(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::STREAMS,
        format!("{what}: {error}"),
    )
}

fn closed() -> Error {
    Error::internal(ErrorDomain::STREAMS, "connection closed during the stream")
}

/// Waits for the daemon's acknowledgement of our finish.
fn wait_finished(frames: &mut mpsc::Receiver<StreamFrame>) -> Result<(), Error> {
    loop {
        match frames.blocking_recv().map(classify) {
            Some(StreamEvent::Finished) => return Ok(()),
            Some(StreamEvent::Failed(error)) => return Err(error),
            Some(_) => continue,
            None => return Err(closed()),
        }
    }
}

/// Sends `source` to an upload stream to its end (with `sparse`, a chunk of zeroes as a
/// hole), then finishes the stream and waits for the daemon to say the volume has it all.
fn send_all(
    source: &mut dyn Read,
    stream: &StreamHandle,
    frames: &mut mpsc::Receiver<StreamFrame>,
    sparse: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let mut buf = vec![0u8; crate::frame::STREAM_CHUNK];
    let mut sent = 0u64;
    loop {
        // The daemon may give up early (a full disk): stop sending then.
        if let Ok(frame) = frames.try_recv() {
            if let StreamEvent::Failed(error) = classify(frame) {
                return Err(error);
            }
        }
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_error("cannot read the data to upload", error)),
        };
        if sparse && buf[..n].iter().all(|&byte| byte == 0) {
            stream.send_hole(n as i64)?;
        } else {
            stream.send_data(&buf[..n])?;
        }
        sent += n as u64;
        progress(sent);
    }
    stream.finish()?;
    wait_finished(frames)
}

/// Writes a download stream's data (holes as zeroes) to `sink` until the daemon's end, then
/// finishes the stream.
fn receive_all(
    sink: &mut dyn Write,
    stream: &StreamHandle,
    frames: &mut mpsc::Receiver<StreamFrame>,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let mut received = 0u64;
    let write_error = |error| io_error("cannot write the downloaded data", error);
    loop {
        match frames.blocking_recv().map(classify) {
            Some(StreamEvent::Data(bytes)) => {
                sink.write_all(&bytes).map_err(write_error)?;
                received += bytes.len() as u64;
            }
            Some(StreamEvent::Hole(len)) => {
                let zeros = vec![0u8; 64 * 1024];
                let mut left = len.max(0) as u64;
                while left > 0 {
                    let n = left.min(zeros.len() as u64) as usize;
                    sink.write_all(&zeros[..n]).map_err(write_error)?;
                    left -= n as u64;
                }
                received += len.max(0) as u64;
            }
            Some(StreamEvent::Eof) => break,
            Some(StreamEvent::Finished) => return Ok(()),
            Some(StreamEvent::Failed(error)) => return Err(error),
            None => return Err(closed()),
        }
        progress(received);
    }
    sink.flush().map_err(write_error)?;
    stream.finish()?;
    wait_finished(frames)
}

/// `virStorageVolUpload` with its stream: `source` at `(offset, length)` (length 0: all).
pub(crate) fn upload(
    conn: &RemoteConnection,
    vol: &StorageVolRef,
    (offset, length): (u64, u64),
    sparse: bool,
    source: &mut dyn Read,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let (sink, mut frames) = mpsc::channel(16);
    let stream = conn.open_stream::<proto::StorageVolUpload>(
        (vol.clone(), offset, length, u32::from(sparse)),
        StreamSink::Lossless(sink),
    )?;
    // The daemon takes no more than the length announced.
    let mut limited = source.take(if length > 0 { length } else { u64::MAX });
    let outcome = send_all(&mut limited, &stream, &mut frames, sparse, progress);
    if outcome.is_err() {
        let _ = stream.abort();
    }
    stream.forget();
    outcome
}

/// `virStorageVolDownload` with its stream: the volume at `(offset, length)` (length 0: all)
/// into `sink`; with `sparse` the daemon may send holes, written as zeroes.
pub(crate) fn download(
    conn: &RemoteConnection,
    vol: &StorageVolRef,
    (offset, length): (u64, u64),
    sparse: bool,
    sink: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> Result<(), Error> {
    let (frames_sink, mut frames) = mpsc::channel(16);
    let stream = conn.open_stream::<proto::StorageVolDownload>(
        (vol.clone(), offset, length, u32::from(sparse)),
        StreamSink::Lossless(frames_sink),
    )?;
    let outcome = receive_all(sink, &stream, &mut frames, progress);
    if outcome.is_err() {
        let _ = stream.abort();
    }
    stream.forget();
    outcome
}
