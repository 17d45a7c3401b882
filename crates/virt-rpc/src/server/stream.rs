//! Streams: volume upload and download, and domain consoles.
//!
//! A stream belongs to the call that opened it: every frame carries that call's procedure and
//! serial. Data frames are raw bytes of at most [`STREAM_CHUNK`]; a read stream ends with an
//! empty CONTINUE frame, and either side's finish (an empty OK frame) is acknowledged with
//! another. Input for a stream reaches its task through a small bounded queue, so a writer
//! faster than the disk simply stops being read, as with libvirtd.

use std::io::SeekFrom;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::mpsc;
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};

use super::ClientShared;
use crate::frame::{encode_frame, Header, MessageType, Status, STREAM_CHUNK};
use crate::protocol::{RemoteError, StreamHole};
use crate::xdr::{from_bytes, Xdr};

/// What the client sent on a stream.
#[derive(Debug)]
pub enum StreamInput {
    Data(Vec<u8>),
    /// A hole of this many bytes (sparse streams).
    Hole(i64),
    /// The client is done (empty OK frame).
    Finish,
    /// The client cancels (empty ERROR frame).
    Abort,
    /// Another session took the console over.
    Kicked,
}

/// The stream a successful call opens.
#[derive(Debug)]
pub(crate) enum StreamStart {
    Download {
        path: String,
        offset: u64,
        length: u64,
        sparse: bool,
    },
    Upload {
        path: String,
        offset: u64,
        length: u64,
        sparse: bool,
    },
    Console {
        fd: OwnedFd,
        domain: Uuid,
    },
}

/// A console that is open, so a second session can be refused or can take over.
pub(crate) struct ConsoleSession {
    client: u64,
    serial: u32,
    kick: mpsc::Sender<StreamInput>,
}

const INPUT_QUEUE: usize = 4;

pub(crate) type StreamTask = Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Refuses a second console session on `domain` unless the caller forces it.
pub(crate) fn check_console(
    client: &Arc<ClientShared>,
    domain: &Uuid,
    force: bool,
) -> Result<(), Error> {
    if force {
        return Ok(());
    }
    let consoles = client
        .server
        .consoles
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    match consoles.get(domain) {
        Some(session) if !session.kick.is_closed() => Err(Error::new(
            ErrorNumber::OPERATION_FAILED,
            ErrorDomain::DOMAIN,
            "Active console session exists for this domain",
        )),
        _ => Ok(()),
    }
}

/// Registers the stream's input queue under the call's serial and returns the task that
/// runs it (to be spawned once the reply is queued).
pub(crate) fn prepare(
    client: &Arc<ClientShared>,
    call: &Header,
    start: StreamStart,
) -> Option<StreamTask> {
    let (input_tx, input_rx) = mpsc::channel(INPUT_QUEUE);
    let stream = StreamFrames {
        client: Arc::clone(client),
        call: *call,
    };
    if let StreamStart::Console { domain, .. } = &start {
        let previous = {
            let mut consoles = client
                .server
                .consoles
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            consoles.insert(
                *domain,
                ConsoleSession {
                    client: client.id,
                    serial: call.serial,
                    kick: input_tx.clone(),
                },
            )
        };
        if let Some(previous) = previous {
            tracing::debug!(
                client = previous.client,
                serial = previous.serial,
                "console taken over"
            );
            let _ = previous.kick.try_send(StreamInput::Kicked);
        }
    }
    client
        .streams
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(call.serial, input_tx);
    Some(match start {
        StreamStart::Download {
            path,
            offset,
            length,
            sparse,
        } => Box::pin(async move {
            stream
                .finish_with(download(&stream, input_rx, path, offset, length, sparse).await)
                .await
        }),
        StreamStart::Upload {
            path,
            offset,
            length,
            sparse,
        } => Box::pin(async move {
            stream
                .finish_with(upload(&stream, input_rx, path, offset, length, sparse).await)
                .await
        }),
        StreamStart::Console { fd, domain, .. } => Box::pin(async move {
            let outcome = console(&stream, input_rx, fd).await;
            {
                let mut consoles = stream
                    .client
                    .server
                    .consoles
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if consoles
                    .get(&domain)
                    .is_some_and(|s| s.client == stream.client.id && s.serial == stream.call.serial)
                {
                    consoles.remove(&domain);
                }
            }
            stream.finish_with(outcome).await
        }),
    })
}

/// Hands a client's stream frame to the stream it belongs to; frames for unknown streams are
/// dropped, as libvirtd does.
pub(crate) async fn route_input(client: &Arc<ClientShared>, header: &Header, payload: Vec<u8>) {
    let input = match (header.kind, header.status) {
        (MessageType::STREAM, Status::CONTINUE) => StreamInput::Data(payload),
        (MessageType::STREAM, Status::OK) => StreamInput::Finish,
        (MessageType::STREAM, Status::ERROR) => StreamInput::Abort,
        (MessageType::STREAM_HOLE, _) => match from_bytes::<StreamHole>(&payload) {
            Ok(hole) => StreamInput::Hole(hole.length),
            Err(_) => StreamInput::Abort,
        },
        _ => return,
    };
    let sender = client
        .streams
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&header.serial)
        .cloned();
    if let Some(sender) = sender {
        if sender.send(input).await.is_err() {
            client
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&header.serial);
        }
    }
}

/// How a stream ended, from the daemon's side.
enum Outcome {
    /// Acknowledge the client's finish or abort with an empty OK frame.
    Acknowledge,
    /// Report a failure with an ERROR frame.
    Failed(Error),
    /// The client went away; nothing to send.
    Gone,
}

struct StreamFrames {
    client: Arc<ClientShared>,
    call: Header,
}

impl StreamFrames {
    fn header(&self, kind: MessageType, status: Status) -> Header {
        Header {
            kind,
            status,
            ..self.call
        }
    }

    async fn data(&self, bytes: &[u8]) -> bool {
        let frame = encode_frame(&self.header(MessageType::STREAM, Status::CONTINUE), |out| {
            out.extend_from_slice(bytes)
        });
        self.client.send(frame).await
    }

    async fn hole(&self, length: u64) -> bool {
        let hole = StreamHole {
            length: length as i64,
            flags: 0,
        };
        let frame = encode_frame(
            &self.header(MessageType::STREAM_HOLE, Status::CONTINUE),
            |out| hole.encode(out),
        );
        self.client.send(frame).await
    }

    async fn eof(&self) -> bool {
        self.data(&[]).await
    }

    async fn finish_with(&self, outcome: Outcome) {
        self.client
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.call.serial);
        let frame = match outcome {
            Outcome::Acknowledge => {
                encode_frame(&self.header(MessageType::STREAM, Status::OK), |_| {})
            }
            Outcome::Failed(error) => {
                tracing::debug!(serial = self.call.serial, "stream failed: {error}");
                let remote = RemoteError::from(&error);
                encode_frame(&self.header(MessageType::STREAM, Status::ERROR), |out| {
                    remote.encode(out)
                })
            }
            Outcome::Gone => return,
        };
        self.client.send(frame).await;
    }
}

fn io_error(what: &str, path: &str, error: std::io::Error) -> Error {
    Error::from_parts(
        ErrorNumber::SYSTEM_ERROR,
        ErrorDomain::STREAMS,
        format!("{what} '{path}': {error}"),
    )
}

/// After the last frame: wait for the client's finish (or abort) and acknowledge it.
async fn await_finish(input: &mut mpsc::Receiver<StreamInput>) -> Outcome {
    loop {
        match input.recv().await {
            Some(StreamInput::Finish) | Some(StreamInput::Abort) => return Outcome::Acknowledge,
            Some(StreamInput::Kicked) => return Outcome::Failed(kicked()),
            Some(_) => continue,
            None => return Outcome::Gone,
        }
    }
}

fn kicked() -> Error {
    Error::new(
        ErrorNumber::OPERATION_ABORTED,
        ErrorDomain::STREAMS,
        "console session taken over by another client",
    )
}

async fn download(
    stream: &StreamFrames,
    mut input: mpsc::Receiver<StreamInput>,
    path: String,
    offset: u64,
    length: u64,
    sparse: bool,
) -> Outcome {
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(error) => return Outcome::Failed(io_error("cannot open volume", &path, error)),
    };
    if let Err(error) = file.seek(SeekFrom::Start(offset)).await {
        return Outcome::Failed(io_error("cannot seek in volume", &path, error));
    }
    let mut left = if length == 0 { u64::MAX } else { length };
    let mut chunk = vec![0u8; STREAM_CHUNK];
    while left > 0 {
        match input.try_recv() {
            Ok(StreamInput::Abort) | Ok(StreamInput::Finish) => return Outcome::Acknowledge,
            Err(mpsc::error::TryRecvError::Disconnected) => return Outcome::Gone,
            _ => {}
        }
        let want = (left.min(STREAM_CHUNK as u64)) as usize;
        let n = match file.read(&mut chunk[..want]).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) => return Outcome::Failed(io_error("cannot read volume", &path, error)),
        };
        left -= n as u64;
        // Sparse downloads send runs of zeros as holes rather than as data.
        let sent = if sparse && chunk[..n].iter().all(|b| *b == 0) {
            stream.hole(n as u64).await
        } else {
            stream.data(&chunk[..n]).await
        };
        if !sent {
            return Outcome::Gone;
        }
    }
    if !stream.eof().await {
        return Outcome::Gone;
    }
    await_finish(&mut input).await
}

async fn upload(
    _stream: &StreamFrames,
    mut input: mpsc::Receiver<StreamInput>,
    path: String,
    offset: u64,
    length: u64,
    sparse: bool,
) -> Outcome {
    let mut file = match tokio::fs::OpenOptions::new().write(true).open(&path).await {
        Ok(file) => file,
        Err(error) => return Outcome::Failed(io_error("cannot open volume", &path, error)),
    };
    if let Err(error) = file.seek(SeekFrom::Start(offset)).await {
        return Outcome::Failed(io_error("cannot seek in volume", &path, error));
    }
    let limit = if length == 0 { u64::MAX } else { length };
    let mut written = 0u64;
    loop {
        match input.recv().await {
            Some(StreamInput::Data(bytes)) => {
                if written.saturating_add(bytes.len() as u64) > limit {
                    return Outcome::Failed(Error::new(
                        ErrorNumber::OPERATION_FAILED,
                        ErrorDomain::STREAMS,
                        format!("more data than the {limit} bytes announced for upload"),
                    ));
                }
                if let Err(error) = file.write_all(&bytes).await {
                    return Outcome::Failed(io_error("cannot write volume", &path, error));
                }
                written += bytes.len() as u64;
            }
            Some(StreamInput::Hole(len)) => {
                if !sparse || len < 0 {
                    return Outcome::Failed(Error::from_parts(
                        ErrorNumber::RPC,
                        ErrorDomain::RPC,
                        "Unexpected stream hole",
                    ));
                }
                if let Err(error) = skip_hole(&mut file, len).await {
                    return Outcome::Failed(io_error("cannot skip a hole in volume", &path, error));
                }
                written = written.saturating_add(len as u64);
            }
            Some(StreamInput::Finish) => {
                // A hole at the very end must still give the file its length.
                let end = offset + written;
                let result = async {
                    file.flush().await?;
                    if file.metadata().await?.len() < end {
                        file.set_len(end).await?;
                    }
                    file.sync_data().await
                }
                .await;
                return match result {
                    Ok(()) => Outcome::Acknowledge,
                    Err(error) => {
                        Outcome::Failed(io_error("cannot finish writing volume", &path, error))
                    }
                };
            }
            Some(StreamInput::Abort) => return Outcome::Acknowledge,
            Some(StreamInput::Kicked) => return Outcome::Failed(kicked()),
            None => return Outcome::Gone,
        }
    }
}

/// Skips `len` bytes of a hole: they must read back as zeros, whatever was there before, so
/// the range is punched out (or, where the file system cannot, written with zeros).
async fn skip_hole(file: &mut tokio::fs::File, len: i64) -> std::io::Result<()> {
    file.flush().await?;
    let start = file.stream_position().await?;
    let size = file.metadata().await?.len();
    let overlap = size.saturating_sub(start).min(len as u64);
    if overlap > 0 {
        use nix::fcntl::{fallocate, FallocateFlags};
        let punched = fallocate(
            file.as_raw_fd(),
            FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
            start as i64,
            overlap as i64,
        );
        if punched.is_err() {
            let zeros = vec![0u8; 64 * 1024];
            let mut left = overlap;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                file.write_all(&zeros[..n]).await?;
                left -= n as u64;
            }
            file.flush().await?;
        }
    }
    file.seek(SeekFrom::Start(start + len as u64)).await?;
    Ok(())
}

/// A console descriptor (a pty or a connected socket) driven through the reactor.
struct ConsoleIo {
    fd: AsyncFd<OwnedFd>,
}

impl ConsoleIo {
    fn new(fd: OwnedFd) -> std::io::Result<ConsoleIo> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
        fcntl(
            fd.as_raw_fd(),
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        )
        .map_err(std::io::Error::from)?;
        // A console carries raw bytes: no echo, no line editing, no CR/LF translation.
        if let Ok(mut termios) = nix::sys::termios::tcgetattr(&fd) {
            nix::sys::termios::cfmakeraw(&mut termios);
            let _ = nix::sys::termios::tcsetattr(&fd, nix::sys::termios::SetArg::TCSANOW, &termios);
        }
        // SAFETY: `fd` is owned by the AsyncFd from here on; it stays open and unchanged
        // until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(fd) }?;
        Ok(ConsoleIo { fd })
    }

    async fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|inner| {
                nix::unistd::read(inner.get_ref().as_raw_fd(), buf).map_err(std::io::Error::from)
            }) {
                Ok(Ok(n)) => return Ok(n),
                // The other end of a pty going away reads as EIO.
                Ok(Err(error)) if error.raw_os_error() == Some(libc::EIO) => return Ok(0),
                Ok(Err(error)) => return Err(error),
                Err(_would_block) => continue,
            }
        }
    }

    async fn write_all(&self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|inner| {
                nix::unistd::write(inner.get_ref(), bytes).map_err(std::io::Error::from)
            }) {
                Ok(Ok(n)) => bytes = &bytes[n..],
                Ok(Err(error)) => return Err(error),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}

async fn console(
    stream: &StreamFrames,
    mut input: mpsc::Receiver<StreamInput>,
    fd: OwnedFd,
) -> Outcome {
    let path = "(domain console)";
    let io = match ConsoleIo::new(fd) {
        Ok(io) => io,
        Err(error) => return Outcome::Failed(io_error("cannot use console", path, error)),
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            read = io.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    // The guest side closed: end of stream, then the finish handshake.
                    if !stream.eof().await {
                        return Outcome::Gone;
                    }
                    return await_finish(&mut input).await;
                }
                Ok(n) => {
                    if !stream.data(&buf[..n]).await {
                        return Outcome::Gone;
                    }
                }
            },
            incoming = input.recv() => match incoming {
                Some(StreamInput::Data(bytes)) => {
                    if let Err(error) = io.write_all(&bytes).await {
                        return Outcome::Failed(io_error("cannot write to console", path, error));
                    }
                }
                Some(StreamInput::Hole(_)) => {}
                Some(StreamInput::Finish) | Some(StreamInput::Abort) => return Outcome::Acknowledge,
                Some(StreamInput::Kicked) => return Outcome::Failed(kicked()),
                None => return Outcome::Gone,
            },
        }
    }
}
