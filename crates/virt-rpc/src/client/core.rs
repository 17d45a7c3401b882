//! One client connection's machinery: serial numbers, the calls waiting for replies, the
//! reader and writer tasks, keepalive, events and stream routing.
//!
//! Callers block (the `Connection` contract is blocking); the socket is driven by two tasks
//! on the crate's own small tokio runtime. A call registers a one-slot channel under its
//! serial, sends its frame and waits; the reader hands the reply to whoever waits for that
//! serial. Several threads can therefore share one connection, and calls can be pipelined.
//! On a plain socket the caller writes its frame itself ([`DirectWrite`]): waking the writer
//! task would cost a thread wake-up per call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc};
use virt_core::{Error, ErrorDomain, ErrorNumber, Event};

use super::transport::{BoxedReader, BoxedWriter};
use crate::frame::{
    encode_frame, Frame, FrameBuffer, Header, MessageType, Status, KEEPALIVE_PING, KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM, REMOTE_PROGRAM,
};
use crate::protocol::{rpc_error, RemoteError};
use crate::xdr::from_bytes;

/// The runtime that drives every client connection of this process.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("virt-rpc-client")
            .enable_all()
            .build()
            .expect("the client runtime must start: it needs only threads and epoll")
    })
}

/// Runs `future` on the client runtime and waits for it from any thread (including threads
/// of another runtime's blocking pool).
pub(crate) fn block_on<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (tx, rx) = sync_channel(1);
    runtime().spawn(async move {
        let _ = tx.send(future.await);
    });
    rx.recv()
        .expect("the client runtime never drops a spawned task")
}

/// What the reader delivers to a stream.
#[derive(Debug)]
pub(crate) struct StreamFrame {
    pub header: Header,
    pub payload: Vec<u8>,
}

/// Where a stream's frames go.
pub(crate) enum StreamSink {
    /// Drop frames the consumer cannot take (console output).
    Lossy(mpsc::Sender<StreamFrame>),
    /// Wait for the consumer (volume data); the whole connection waits with it.
    Lossless(mpsc::Sender<StreamFrame>),
}

struct State {
    pending: HashMap<u32, SyncSender<Result<Frame, Error>>>,
    streams: HashMap<u32, StreamSink>,
    dead: Option<Error>,
}

/// The calling thread's own way onto a plain socket (Unix, TCP).
///
/// A call's frame is written straight to a duplicate of the socket's descriptor when nothing
/// is queued for the writer task; what does not fit at once (the socket buffer is full) goes
/// to the writer task, and later frames queue behind it until the task has written them all.
/// Both sides decide under one lock, so frames never interleave or overtake each other.
struct DirectWrite {
    fd: std::os::fd::OwnedFd,
    /// Frames are queued for (or being written by) the writer task.
    queued: Mutex<bool>,
}

impl DirectWrite {
    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.queued.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the socket takes now, without blocking; the part it did not take.
    fn write_now<'a>(&self, mut frame: &'a [u8]) -> &'a [u8] {
        use nix::errno::Errno;
        use nix::sys::socket::{send, MsgFlags};
        use std::os::fd::AsRawFd;
        while !frame.is_empty() {
            // MSG_NOSIGNAL: a closed peer is an error here, not a SIGPIPE for the process.
            match send(self.fd.as_raw_fd(), frame, MsgFlags::MSG_NOSIGNAL) {
                Ok(written) => frame = &frame[written..],
                Err(Errno::EINTR) => {}
                // Full (EAGAIN) or broken: the writer task takes it from here, and reports.
                Err(_) => break,
            }
        }
        frame
    }
}

pub(crate) struct Core {
    out: mpsc::UnboundedSender<Vec<u8>>,
    direct: Option<Arc<DirectWrite>>,
    state: Mutex<State>,
    serial: AtomicU32,
    pub(crate) events: broadcast::Sender<Event>,
    /// callbackIDs the daemon gave our registrations.
    pub(crate) callbacks: Mutex<Vec<i32>>,
    keepalive_interval: AtomicI32,
    keepalive_count: AtomicU32,
    keepalive_supported: AtomicBool,
    keepalive_changed: Arc<tokio::sync::Notify>,
}

fn closed_error() -> Error {
    Error::internal(ErrorDomain::RPC, "client socket is closed")
}

impl Core {
    /// Starts the reader and writer tasks on `reader`/`writer`.
    pub(crate) fn start(
        reader: BoxedReader,
        writer: BoxedWriter,
        direct: Option<std::os::fd::OwnedFd>,
    ) -> Arc<Core> {
        let (out, out_rx) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let direct = direct.map(|fd| {
            Arc::new(DirectWrite {
                fd,
                queued: Mutex::new(false),
            })
        });
        let core = Arc::new(Core {
            out,
            direct: direct.clone(),
            state: Mutex::new(State {
                pending: HashMap::new(),
                streams: HashMap::new(),
                dead: None,
            }),
            serial: AtomicU32::new(0),
            events,
            callbacks: Mutex::new(Vec::new()),
            keepalive_interval: AtomicI32::new(0),
            keepalive_count: AtomicU32::new(0),
            keepalive_supported: AtomicBool::new(false),
            keepalive_changed: Arc::new(tokio::sync::Notify::new()),
        });
        let rt = runtime();
        rt.spawn(write_loop(writer, out_rx, direct));
        rt.spawn(read_loop(
            Arc::downgrade(&core),
            Arc::clone(&core.keepalive_changed),
            reader,
        ));
        core
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.lock().dead.is_none()
    }

    /// A fresh serial number.
    pub(crate) fn next_serial(&self) -> u32 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends a frame: written at once where the socket allows it, else queued in order.
    pub(crate) fn send(&self, frame: Vec<u8>) -> Result<(), Error> {
        if let Some(dead) = self.lock().dead.clone() {
            return Err(dead);
        }
        self.submit(frame)
    }

    fn submit(&self, frame: Vec<u8>) -> Result<(), Error> {
        let Some(direct) = &self.direct else {
            return self.out.send(frame).map_err(|_| closed_error());
        };
        let mut queued = direct.lock();
        let rest = if *queued {
            &frame[..]
        } else {
            direct.write_now(&frame)
        };
        if rest.is_empty() {
            return Ok(());
        }
        // Queued while holding the lock: no caller writes directly until the task is done.
        *queued = true;
        self.out.send(rest.to_vec()).map_err(|_| closed_error())
    }

    /// Sends a call and returns a handle to wait for its reply.
    pub(crate) fn start_call(
        &self,
        prog: u32,
        procedure: u32,
        payload: &[u8],
    ) -> Result<PendingCall, Error> {
        self.start_call_with_stream(prog, procedure, payload, None)
    }

    /// Like [`Core::start_call`], registering `stream` under the call's serial first so no
    /// frame of it can be missed.
    pub(crate) fn start_call_with_stream(
        &self,
        prog: u32,
        procedure: u32,
        payload: &[u8],
        stream: Option<StreamSink>,
    ) -> Result<PendingCall, Error> {
        let serial = self.next_serial();
        let header = Header::call(prog, procedure, serial);
        let frame = encode_frame(&header, |out| out.extend_from_slice(payload));
        let (tx, rx) = sync_channel(1);
        {
            let mut state = self.lock();
            if let Some(dead) = state.dead.clone() {
                return Err(dead);
            }
            state.pending.insert(serial, tx);
            if let Some(stream) = stream {
                state.streams.insert(serial, stream);
            }
        }
        if let Err(error) = self.submit(frame) {
            self.lock().pending.remove(&serial);
            return Err(error);
        }
        Ok(PendingCall { header, reply: rx })
    }

    /// Calls `procedure` and returns the reply payload.
    pub(crate) fn call(&self, prog: u32, procedure: u32, payload: &[u8]) -> Result<Vec<u8>, Error> {
        self.start_call(prog, procedure, payload)?.wait()
    }

    pub(crate) fn forget_stream(&self, serial: u32) {
        self.lock().streams.remove(&serial);
    }

    /// Stops the connection: later calls fail with `error`, waiting ones are woken.
    pub(crate) fn die(&self, error: Error) {
        let (pending, streams) = {
            let mut state = self.lock();
            if state.dead.is_none() {
                state.dead = Some(error.clone());
            }
            (
                std::mem::take(&mut state.pending),
                std::mem::take(&mut state.streams),
            )
        };
        for (_, waiter) in pending {
            let _ = waiter.send(Err(error.clone()));
        }
        drop(streams);
    }

    /// `virConnectSetKeepAlive`: PING after `interval` seconds of silence, give up after
    /// `count` unanswered; `interval <= 0` stops it.
    pub(crate) fn set_keepalive(&self, interval: i32, count: u32) -> Result<(), Error> {
        if interval > 0 && !self.keepalive_supported.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorNumber::OPERATION_INVALID,
                ErrorDomain::RPC,
                "the caller doesn't support keepalive protocol; perhaps it's missing event loop implementation",
            ));
        }
        self.keepalive_interval.store(interval, Ordering::Relaxed);
        self.keepalive_count.store(count, Ordering::Relaxed);
        self.keepalive_changed.notify_one();
        Ok(())
    }

    pub(crate) fn set_keepalive_supported(&self, supported: bool) {
        self.keepalive_supported.store(supported, Ordering::Relaxed);
    }

    fn deliver(&self, frame: Frame) -> Delivery {
        let header = frame.header;
        match header.kind {
            MessageType::REPLY | MessageType::REPLY_WITH_FDS => {
                let waiter = self.lock().pending.remove(&header.serial);
                match waiter {
                    Some(waiter) => {
                        let _ = waiter.send(Ok(frame));
                    }
                    None => {
                        tracing::warn!(serial = header.serial, "reply for a call nobody waits for")
                    }
                }
                Delivery::Done
            }
            MessageType::MESSAGE if header.prog == REMOTE_PROGRAM => {
                match crate::events::decode_event(header.procedure as u32, &frame.payload) {
                    Ok(Some(decoded)) => {
                        let known = decoded.callback_id.is_none_or(|id| {
                            self.callbacks
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .contains(&id)
                        });
                        if known {
                            let _ = self.events.send(decoded.event);
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(procedure = header.procedure, "undecodable event: {error}")
                    }
                }
                Delivery::Done
            }
            MessageType::STREAM | MessageType::STREAM_HOLE => {
                let state = self.lock();
                match state.streams.get(&header.serial) {
                    Some(StreamSink::Lossy(sink)) => {
                        let _ = sink.try_send(StreamFrame {
                            header,
                            payload: frame.payload,
                        });
                        Delivery::Done
                    }
                    Some(StreamSink::Lossless(sink)) => Delivery::Wait(
                        sink.clone(),
                        StreamFrame {
                            header,
                            payload: frame.payload,
                        },
                    ),
                    None => Delivery::Done,
                }
            }
            _ => Delivery::Done,
        }
    }
}

enum Delivery {
    Done,
    Wait(mpsc::Sender<StreamFrame>, StreamFrame),
}

/// A call on its way.
pub(crate) struct PendingCall {
    header: Header,
    reply: std::sync::mpsc::Receiver<Result<Frame, Error>>,
}

impl PendingCall {
    pub(crate) fn serial(&self) -> u32 {
        self.header.serial
    }

    /// Waits for the reply: its payload, or the error the daemon sent.
    pub(crate) fn wait(self) -> Result<Vec<u8>, Error> {
        let frame = self.reply.recv().map_err(|_| closed_error())??;
        if frame.header.procedure != self.header.procedure {
            return Err(rpc_error(format!(
                "Unexpected procedure {} in reply to {}",
                frame.header.procedure, self.header.procedure
            )));
        }
        match frame.header.status {
            Status::OK => Ok(frame.payload),
            Status::ERROR => {
                let remote = from_bytes::<RemoteError>(&frame.payload)
                    .map_err(|_| rpc_error("Unable to decode message payload"))?;
                Err(Error::from(remote))
            }
            other => Err(rpc_error(format!("Unexpected message status {}", other.0))),
        }
    }
}

async fn write_loop(
    mut writer: BoxedWriter,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    direct: Option<Arc<DirectWrite>>,
) {
    let mut batch = Vec::new();
    while let Some(frame) = queue.recv().await {
        batch.clear();
        batch.extend_from_slice(&frame);
        while batch.len() < 256 * 1024 {
            match queue.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            break;
        }
        if batch.capacity() > 1024 * 1024 {
            batch = Vec::new();
        }
        if let Some(direct) = &direct {
            // Callers may write directly again once nothing is left for this task; they
            // queue under the same lock, so nothing can arrive between check and release.
            let mut queued = direct.lock();
            if queue.is_empty() {
                *queued = false;
            }
        }
    }
    let _ = writer.shutdown().await;
}

async fn read_loop(
    core: std::sync::Weak<Core>,
    keepalive_changed: Arc<tokio::sync::Notify>,
    mut reader: BoxedReader,
) {
    let mut buffer = FrameBuffer::new();
    let mut last_heard = Instant::now();
    let mut pings = 0u32;
    let outcome: Error = loop {
        let Some(strong) = core.upgrade() else { return };
        let interval = strong.keepalive_interval.load(Ordering::Relaxed);
        let wait = if interval > 0 {
            Duration::from_secs(interval as u64)
                .saturating_sub(last_heard.elapsed())
                .max(Duration::from_millis(10))
        } else {
            Duration::from_secs(3600)
        };
        drop(strong);
        let changed = keepalive_changed.notified();
        tokio::select! {
            read = reader.read_buf(buffer.read_space()) => {
                match read {
                    Ok(0) => break Error::from_parts(ErrorNumber::SYSTEM_ERROR, ErrorDomain::RPC, "End of file while reading data: Input/output error"),
                    Err(error) => break Error::from_parts(ErrorNumber::SYSTEM_ERROR, ErrorDomain::RPC, format!("Cannot recv data: {error}")),
                    Ok(_) => {}
                }
                last_heard = Instant::now();
                pings = 0;
                let mut failure = None;
                loop {
                    let frame = match buffer.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        Err(error) => {
                            failure = Some(rpc_error(format!("malformed message from the daemon: {error}")));
                            break;
                        }
                    };
                    let Some(core) = core.upgrade() else { return };
                    if frame.header.prog == KEEPALIVE_PROGRAM && frame.header.kind == MessageType::MESSAGE {
                        if frame.header.procedure == KEEPALIVE_PING {
                            let _ = core.send(encode_frame(&Header::keepalive(KEEPALIVE_PONG), |_| {}));
                        }
                        continue;
                    }
                    match core.deliver(frame) {
                        Delivery::Done => {}
                        Delivery::Wait(sink, frame) => {
                            drop(core);
                            let _ = sink.send(frame).await;
                        }
                    }
                }
                if let Some(failure) = failure {
                    break failure;
                }
            }
            _ = tokio::time::sleep(wait) => {
                let Some(core) = core.upgrade() else { return };
                let interval = core.keepalive_interval.load(Ordering::Relaxed);
                if interval > 0 && last_heard.elapsed() >= Duration::from_secs(interval as u64) {
                    if pings >= core.keepalive_count.load(Ordering::Relaxed) {
                        break Error::from_parts(ErrorNumber::SYSTEM_ERROR, ErrorDomain::RPC, "connection closed due to keepalive timeout");
                    }
                    pings += 1;
                    last_heard = Instant::now();
                    let _ = core.send(encode_frame(&Header::keepalive(KEEPALIVE_PING), |_| {}));
                }
            }
            _ = changed => {}
        }
    };
    if let Some(core) = core.upgrade() {
        core.die(outcome);
    }
}
