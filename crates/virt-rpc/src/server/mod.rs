//! The daemon side: serves libvirt clients over any byte stream (a Unix socket, TLS).
//!
//! One task per client reads frames and answers keepalive PINGs itself. High-priority calls
//! run on that task; the others each run as a task of their own, so a slow hypervisor call
//! never stalls the reading. No call is handed to another thread on its way (that hand-off
//! would cost more than most calls): where a driver call blocks, the driver host takes its
//! thread out of the runtime (`block_in_place`), so it never stalls another client either.
//! A second task per client owns the write half and is fed through a bounded queue, which is
//! also how replies, events and stream data are ordered.
//!
//! A client on a Unix socket ([`Server::serve_unix`]) skips both hand-offs where it can: a
//! frame is written to the socket by whoever produced it while the writer task has nothing
//! queued (so a reply leaves from the thread that computed it), and after answering a client
//! that calls again quickly (inline, or through a call's task that says when it has) the
//! reader polls the socket for a bounded window ([`ServerConfig::busy_poll`]) instead of
//! going to sleep: on a VM, waking an idle vCPU for the next call costs more than a small
//! call's whole dispatch. It polls only with CPU time nobody else wants and while one client
//! at a time is calling.
//!
//! Limits that keep one client from hurting others: frames over 32 MiB or shorter than a
//! header close that client; at most `max_client_requests` calls of one client run at once
//! (the client is simply not read from meanwhile, as libvirtd does); buffers grow only with
//! bytes actually received; event floods are dropped for a client that does not read.

mod access;
mod dispatch;
mod stream;

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Semaphore};
use virt_core::driver::Connection;
use virt_core::{Error, Event, Uuid};

use crate::frame::{
    encode_frame, FrameBuffer, Header, MessageType, Status, KEEPALIVE_PING, KEEPALIVE_PONG,
    KEEPALIVE_PROGRAM, PROTOCOL_VERSION, QEMU_PROGRAM, REMOTE_PROGRAM, RVIRT_ADMIN_PROGRAM,
};
use crate::protocol::{rpc_error, RemoteError};
use crate::xdr::Xdr;

pub use access::AccessControl;
pub use stream::StreamInput;
pub use virt_access::{Subject, UnixIdentity};

/// Tunables of a [`Server`]; rvirtd reads them from its configuration file.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Calls of one client that may run at once; further calls wait unread.
    pub max_client_requests: usize,
    /// Driver calls that may run at once across all clients (high-priority calls such as
    /// lookups and destroy are not counted, so they never wait behind slow ones).
    pub max_workers: usize,
    /// Idle time after which a client that asked for keepalive gets a PING; zero disables.
    pub keepalive_interval: Duration,
    /// Unanswered PINGs after which the client is dropped.
    pub keepalive_count: u32,
    /// Frames queued for one client's socket before replies and events wait.
    pub max_queued_frames: usize,
    /// The URI opened when a client asks for the default driver (CONNECT_OPEN with "").
    pub default_uris: Vec<String>,
    /// libvirt's per-API access control; `None`: only the read-only/read-write split.
    /// A client keeps the rules it connected under.
    pub access: Option<Arc<AccessControl>>,
    /// How long the reader of a Unix-socket client that calls in quick succession polls its
    /// socket for the next call after answering, instead of sleeping until the kernel wakes
    /// it; zero disables. It spends up to this much CPU per reply to save the wake-up of an
    /// idle CPU (tens of µs on a VM). Only for a client whose last pause between calls was
    /// within twice this, with no call of its own still running, only for as many clients
    /// at a time as there are CPUs besides one (none on a single CPU), giving way as soon as
    /// another client's reader wakes, not while several clients call at once, and only while
    /// half a CPU or more sits idle without polling (see `watch_idle_cpus`).
    pub busy_poll: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let default_uris = if nix::unistd::geteuid().is_root() {
            vec!["qemu:///system".to_string(), "lxc:///system".to_string()]
        } else {
            vec!["qemu:///session".to_string()]
        };
        ServerConfig {
            max_client_requests: 16,
            max_workers: 32,
            keepalive_interval: Duration::from_secs(5),
            keepalive_count: 5,
            max_queued_frames: 256,
            default_uris,
            access: None,
            busy_poll: Duration::ZERO,
        }
    }
}

/// How a client reached the daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A Unix socket; `uid` of the peer when known.
    Unix { uid: Option<u32> },
    /// TCP with TLS; the client certificate's subject when one was presented.
    Tls { peer: String },
    /// Plain TCP.
    Tcp { peer: String },
}

/// What the daemon knows about a client before it says anything.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// The client came in on a read-only socket: every write is refused, whatever it asks.
    pub read_only: bool,
    pub transport: Transport,
    /// Who the client is, for access control (unix credentials, certificate DN).
    pub subject: Subject,
}

/// Counters for logs and tests.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub clients_now: AtomicUsize,
    pub clients_total: AtomicU64,
    pub calls_total: AtomicU64,
    pub protocol_errors: AtomicU64,
    /// Busy polls ([`ServerConfig::busy_poll`]) that found the client's next call, and those
    /// that gave up (the reader then slept as without polling).
    pub busy_polls_hit: AtomicU64,
    pub busy_polls_missed: AtomicU64,
}

/// A daemon's shared state: configuration, worker limit, console sessions, counters.
pub struct Server {
    config: RwLock<ServerConfig>,
    workers: Arc<Semaphore>,
    next_callback_id: AtomicI32,
    next_client_id: AtomicU64,
    /// Open console streams per domain, so a second session can be refused or can kick the
    /// first (VIR_DOMAIN_CONSOLE_FORCE).
    consoles: Mutex<HashMap<Uuid, stream::ConsoleSession>>,
    shutdown: watch::Sender<bool>,
    stats: ServerStats,
    /// Readers busy-polling right now, and how many may at once (CPUs besides one).
    busy_pollers: AtomicUsize,
    max_busy_pollers: usize,
    /// Whether the CPUs have time to spare for polling, kept by [`watch_idle_cpus`].
    cpus_to_spare: Arc<AtomicBool>,
    /// Nanoseconds spent busy-polling so far: [`watch_idle_cpus`] weighs the time tasks
    /// waited for CPUs against it.
    polled_ns: Arc<AtomicU64>,
    /// Client readers not asleep waiting for their socket ([`AwakeReader`]): a poller gives
    /// way as soon as another client's reader wakes, since it holds a runtime thread.
    readers_awake: AtomicUsize,
    /// Which client was read from last and when (ns since `started`), and until when
    /// several clients count as calling at once, when no client is polled for: with a
    /// runtime thread and a CPU taken by a poller, the others' calls wait.
    last_reader: AtomicU64,
    last_read_ns: AtomicU64,
    shared_until_ns: AtomicU64,
    started: Instant,
    cpu_watch: std::sync::Once,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("stats", &self.stats)
            .finish()
    }
}

impl Server {
    /// Notes that `client` was read from; another client read from within
    /// [`CALLERS_TOGETHER`] makes several clients count as calling at once for
    /// [`SHARED_FOR`].
    fn note_read(&self, client: u64) {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let previous = self.last_reader.swap(client, Ordering::Relaxed);
        let then = self.last_read_ns.swap(now, Ordering::Relaxed);
        if previous != client && now.saturating_sub(then) < CALLERS_TOGETHER.as_nanos() as u64 {
            self.shared_until_ns
                .store(now + SHARED_FOR.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// Whether several clients called at once lately (see [`Server::note_read`]).
    fn callers_together(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        now < self.shared_until_ns.load(Ordering::Relaxed)
    }

    pub fn new(config: ServerConfig) -> Arc<Server> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Server {
            workers: Arc::new(Semaphore::new(config.max_workers.max(1))),
            config: RwLock::new(config),
            next_callback_id: AtomicI32::new(0),
            next_client_id: AtomicU64::new(1),
            consoles: Mutex::new(HashMap::new()),
            shutdown,
            stats: ServerStats::default(),
            busy_pollers: AtomicUsize::new(0),
            // The CPUs this process may run on: a poller on the only one would keep the
            // client it waits for off it.
            max_busy_pollers: std::thread::available_parallelism()
                .map_or(0, |n| n.get().saturating_sub(1)),
            cpus_to_spare: Arc::new(AtomicBool::new(true)),
            polled_ns: Arc::new(AtomicU64::new(0)),
            readers_awake: AtomicUsize::new(0),
            last_reader: AtomicU64::new(0),
            last_read_ns: AtomicU64::new(0),
            shared_until_ns: AtomicU64::new(0),
            started: Instant::now(),
            cpu_watch: std::sync::Once::new(),
        })
    }

    pub fn config(&self) -> ServerConfig {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Is per-API access control on (so clients' identities are worth resolving)?
    pub fn config_has_access(&self) -> bool {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .access
            .is_some()
    }

    /// Applies a new configuration (SIGHUP). Limits apply to calls and clients from now on.
    pub fn reconfigure(&self, config: ServerConfig) {
        let old_workers = self.config().max_workers.max(1);
        let new_workers = config.max_workers.max(1);
        if new_workers > old_workers {
            self.workers.add_permits(new_workers - old_workers);
        } else if new_workers < old_workers {
            self.workers.forget_permits(old_workers - new_workers);
        }
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = config;
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Asks every client task to finish; new calls are not started.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    fn next_callback_id(&self) -> i32 {
        self.next_callback_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Serves one client until it disconnects, misbehaves or the server shuts down.
    pub async fn serve<S>(self: &Arc<Self>, stream: S, info: ClientInfo)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(stream);
        self.serve_split(reader, writer, info).await
    }

    /// [`Server::serve`] for a Unix socket: replies are written from the thread that computed
    /// them and the next call may be polled for (see the module's documentation).
    pub async fn serve_unix(self: &Arc<Self>, stream: tokio::net::UnixStream, info: ClientInfo) {
        // A duplicate of the socket (non-blocking, as it shares the open file): it stays valid
        // for as long as any task may still write, whenever the halves are dropped.
        let direct = match stream.as_fd().try_clone_to_owned() {
            Ok(fd) => Some(Arc::new(DirectSocket {
                fd,
                state: Mutex::new(DirectState::default()),
            })),
            Err(error) => {
                tracing::debug!("cannot duplicate the client's socket: {error}");
                None
            }
        };
        let (reader, writer) = stream.into_split();
        self.serve_with(reader, writer, info, direct).await
    }

    /// [`Server::serve`] for a stream already split in two halves.
    pub async fn serve_split<R, W>(self: &Arc<Self>, reader: R, writer: W, info: ClientInfo)
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        self.serve_with(reader, writer, info, None).await
    }

    async fn serve_with<R, W>(
        self: &Arc<Self>,
        reader: R,
        writer: W,
        info: ClientInfo,
        direct: Option<Arc<DirectSocket>>,
    ) where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let config = self.config();
        let (out_tx, out_rx) = mpsc::channel(config.max_queued_frames.max(8));
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        let client = Arc::new(ClientShared {
            id,
            server: Arc::clone(self),
            info,
            out: out_tx,
            connection: RwLock::new(None),
            read_only_open: AtomicBool::new(false),
            keepalive_wanted: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            events: Mutex::new(EventRegistry::default()),
            streams: Mutex::new(HashMap::new()),
            requests: Arc::new(Semaphore::new(config.max_client_requests.max(1))),
            access: config.access.clone(),
            driver_name: std::sync::OnceLock::new(),
            direct: direct.clone(),
            call_answered: tokio::sync::Notify::new(),
        });
        self.stats.clients_now.fetch_add(1, Ordering::Relaxed);
        self.stats.clients_total.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(client = id, transport = ?client.info.transport, read_only = client.info.read_only, "client connected");
        let writer_task = tokio::spawn(write_loop(writer, out_rx, direct));
        let outcome = read_loop(&client, reader, &config).await;
        match &outcome {
            Ok(()) => tracing::debug!(client = id, "client disconnected"),
            Err(why) => tracing::info!(client = id, "dropping client: {why}"),
        }
        client.teardown();
        drop(client);
        // The writer ends once every sender (calls still running, stream tasks) is gone.
        let _ = writer_task.await;
        self.stats.clients_now.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A frame to write, or the instruction to stop after what is queued.
pub(crate) enum Outgoing {
    Frame(Vec<u8>),
    Close,
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut queue: mpsc::Receiver<Outgoing>,
    direct: Option<Arc<DirectSocket>>,
) {
    let mut batch: Vec<u8> = Vec::new();
    'outer: while let Some(first) = queue.recv().await {
        let mut close = false;
        let mut n_frames = 0;
        match first {
            Outgoing::Frame(frame) => {
                batch = frame;
                n_frames += 1;
            }
            Outgoing::Close => close = true,
        }
        // Coalesce whatever else is already queued into one write.
        while !close && batch.len() < 256 * 1024 {
            match queue.try_recv() {
                Ok(Outgoing::Frame(frame)) => {
                    batch.extend_from_slice(&frame);
                    n_frames += 1;
                }
                Ok(Outgoing::Close) => close = true,
                Err(_) => break,
            }
        }
        // A TLS stream may keep what it accepted buffered until flushed.
        if !batch.is_empty()
            && (writer.write_all(&batch).await.is_err() || writer.flush().await.is_err())
        {
            break 'outer;
        }
        if let Some(direct) = &direct {
            direct.lock().queued -= n_frames;
        }
        if batch.capacity() > 1024 * 1024 {
            batch = Vec::new();
        } else {
            batch.clear();
        }
        if close {
            break;
        }
    }
    let _ = writer.flush().await;
    let _ = writer.shutdown().await;
}

/// A Unix-socket client's socket, for writing frames and polling for calls without the
/// runtime's help (see the module's documentation).
pub(crate) struct DirectSocket {
    /// A duplicate of the client's socket, non-blocking like it.
    fd: OwnedFd,
    state: Mutex<DirectState>,
}

#[derive(Default)]
struct DirectState {
    /// Frames handed to the writer task and not yet written by it. While there are any, a
    /// direct write would overtake them (or land inside a frame the task wrote in part).
    queued: usize,
    /// Frames held back while the reader answers calls that came in together (a client's
    /// pipelined calls): sent in one write when it is done, as the writer task would batch
    /// them, so the client is woken once and not once per reply.
    corked: Option<Vec<u8>>,
}

impl DirectSocket {
    fn lock(&self) -> std::sync::MutexGuard<'_, DirectState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what the socket takes now without blocking; how many bytes that was.
    fn write_now(&self, frame: &[u8]) -> usize {
        use nix::errno::Errno;
        use nix::sys::socket::{send, MsgFlags};
        let mut written = 0;
        while written < frame.len() {
            // MSG_NOSIGNAL: a closed peer is an error here, not a SIGPIPE for the process.
            match send(
                self.fd.as_raw_fd(),
                &frame[written..],
                MsgFlags::MSG_NOSIGNAL,
            ) {
                Ok(n) => written += n,
                Err(Errno::EINTR) => {}
                // Full (EAGAIN) or broken: the writer task takes it from here, and reports.
                Err(_) => break,
            }
        }
        written
    }

    /// Polls the socket for up to `window`, or until `give_way` says to stop: `None` if
    /// nothing came, else what `recv` gave (0 at the end of the stream), appended to `buffer`.
    fn poll_read(
        &self,
        buffer: &mut FrameBuffer,
        window: Duration,
        give_way: impl Fn() -> bool,
    ) -> Option<std::io::Result<usize>> {
        use nix::errno::Errno;
        use nix::sys::socket::{recv, MsgFlags};
        let mut chunk = [0u8; 16 * 1024];
        let deadline = Instant::now() + window;
        loop {
            match recv(self.fd.as_raw_fd(), &mut chunk, MsgFlags::MSG_DONTWAIT) {
                Ok(n) => {
                    buffer.extend(&chunk[..n]);
                    return Some(Ok(n));
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(errno) => return Some(Err(errno.into())),
            }
            if Instant::now() >= deadline || give_way() {
                return None;
            }
            std::hint::spin_loop();
        }
    }
}

/// Per-client state shared by its reader, its running calls, its event and stream tasks.
pub(crate) struct ClientShared {
    pub(crate) id: u64,
    pub(crate) server: Arc<Server>,
    pub(crate) info: ClientInfo,
    out: mpsc::Sender<Outgoing>,
    connection: RwLock<Option<Arc<dyn Connection>>>,
    /// CONNECT_OPEN asked for read-only access.
    read_only_open: AtomicBool,
    keepalive_wanted: AtomicBool,
    closing: AtomicBool,
    events: Mutex<EventRegistry>,
    streams: Mutex<HashMap<u32, mpsc::Sender<StreamInput>>>,
    requests: Arc<Semaphore>,
    /// The access control this client connected under.
    access: Option<Arc<AccessControl>>,
    /// libvirt's name for the driver of the open connection ("QEMU"), for access checks.
    driver_name: std::sync::OnceLock<String>,
    /// The socket itself, for a client on a Unix socket.
    direct: Option<Arc<DirectSocket>>,
    /// Told when a call that ran as a task of its own has been answered, so that a reader
    /// asleep meanwhile can busy-poll for the client's next call as after an inline one.
    call_answered: tokio::sync::Notify,
}

impl ClientShared {
    pub(crate) fn connection(&self) -> Option<Arc<dyn Connection>> {
        self.connection
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// libvirt's name for the open connection's driver ("" before CONNECT_OPEN).
    pub(crate) fn driver_name(&self) -> &str {
        self.driver_name.get().map_or("", String::as_str)
    }

    /// May this client see `name` in the reply of `info`'s listing (`@aclfilter`)?
    pub(crate) fn may_list(
        &self,
        info: &crate::protocol::ProcedureInfo,
        name: &str,
        uuid: Option<&Uuid>,
    ) -> bool {
        self.access.as_deref().is_none_or(|access| {
            access::visible(
                access,
                &self.info.subject,
                self.driver_name(),
                info,
                name,
                uuid,
            )
        })
    }

    /// One access check outside the REMOTE program's table (the QEMU and admin programs).
    pub(crate) fn check_access(
        &self,
        object: virt_access::Object,
        perm: &'static str,
        dom: Option<&virt_core::DomainRef>,
        api: &str,
    ) -> Result<(), Error> {
        let Some(access) = self.access.as_deref() else {
            return Ok(());
        };
        let uuid = dom.map(|dom| dom.uuid.to_string());
        let target = virt_access::Target {
            driver: self.driver_name(),
            name: dom.map(|dom| dom.name.as_str()),
            uuid: uuid.as_deref(),
        };
        let permission = virt_access::Permission { object, name: perm };
        access.check(&self.info.subject, permission, &target, api)
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.info.read_only || self.read_only_open.load(Ordering::Relaxed)
    }

    /// Sends a frame: written at once where the socket allows it and nothing is queued before
    /// it, else queued for the writer task (waiting while the queue is full).
    pub(crate) async fn send(&self, frame: Vec<u8>) -> bool {
        self.send_or_uncork(frame, false).await
    }

    /// Holds frames back until [`ClientShared::uncork`] (a socket with direct writes only:
    /// the writer task batches by itself).
    fn cork(&self) {
        if let Some(direct) = &self.direct {
            direct.lock().corked.get_or_insert_with(Vec::new);
        }
    }

    /// Sends what [`ClientShared::cork`] held back, in one write.
    async fn uncork(&self) -> bool {
        self.send_or_uncork(Vec::new(), true).await
    }

    async fn send_or_uncork(&self, mut frame: Vec<u8>, uncork: bool) -> bool {
        if let Some(direct) = &self.direct {
            let mut state = direct.lock();
            if let Some(held) = state.corked.as_mut() {
                held.extend_from_slice(&frame);
                if !uncork {
                    return true;
                }
                frame = state.corked.take().unwrap_or_default();
            }
            let written = if state.queued == 0 {
                direct.write_now(&frame)
            } else {
                0
            };
            if written == frame.len() {
                return true;
            }
            // Counted before the lock is released: no one writes directly until the writer
            // task has written this frame's rest.
            state.queued += 1;
            drop(state);
            frame.drain(..written);
        } else if frame.is_empty() {
            return true;
        }
        self.out.send(Outgoing::Frame(frame)).await.is_ok()
    }

    fn teardown(&self) {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let forwarder = {
            let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            events.registrations.clear();
            events.intake = None;
            events.forwarder.take()
        };
        if let Some(task) = forwarder {
            task.abort();
        }
        let connection = self
            .connection
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(connection) = connection {
            // Closing may wait on a driver: do it off the runtime.
            tokio::task::spawn_blocking(move || {
                if let Err(error) = connection.close() {
                    tracing::debug!("closing driver connection: {error}");
                }
            });
        }
    }
}

/// What one event registration wants.
#[derive(Clone, Debug)]
pub(crate) enum Registration {
    /// `CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY`, optionally for one domain.
    Domain {
        event_id: i32,
        filter: Option<Uuid>,
    },
    /// The legacy `CONNECT_DOMAIN_EVENT_REGISTER(_ANY)` (no callbackID on the wire).
    DomainLegacy {
        event_id: i32,
    },
    Network {
        event_id: i32,
        filter: Option<Uuid>,
    },
    StoragePool {
        event_id: i32,
        filter: Option<Uuid>,
    },
    /// `filter` is a device name.
    NodeDevice {
        event_id: i32,
        filter: Option<String>,
    },
    Secret {
        event_id: i32,
        filter: Option<Uuid>,
    },
}

#[derive(Default)]
pub(crate) struct EventRegistry {
    /// Each with its callbackID and the intake generation it hears from.
    registrations: Vec<(i32, Registration, u64)>,
    forwarder: Option<tokio::task::JoinHandle<()>>,
    intake: Option<Arc<EventIntake>>,
}

/// A client's intake of the space's events: they are pulled from the shared buffer into the
/// client's own queue, each stamped with the generation it was pulled under. A registration
/// first pulls whatever the space has sent so far (under the old generation) and then starts
/// a new one, so it never hears an event from before it, however late the forwarder gets to
/// that event: a client that defines an object and then registers for it must not be told
/// of the define.
struct EventIntake {
    /// The space's events, only ever read without waiting (`try_recv`), and the generation.
    pending: Mutex<(tokio::sync::broadcast::Receiver<Event>, u64)>,
    queue: mpsc::UnboundedSender<(u64, Event)>,
    /// Events queued and not yet forwarded.
    waiting: AtomicUsize,
}

impl EventIntake {
    /// Moves what the space has sent so far into the queue; false once the space is gone.
    fn pull(&self) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Self::pull_locked(&mut pending, &self.queue, &self.waiting)
    }

    /// Pulls what was sent so far, then starts a new generation; returns it.
    fn next_generation(&self) -> u64 {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Self::pull_locked(&mut pending, &self.queue, &self.waiting);
        pending.1 += 1;
        pending.1
    }

    fn pull_locked(
        pending: &mut (tokio::sync::broadcast::Receiver<Event>, u64),
        queue: &mpsc::UnboundedSender<(u64, Event)>,
        waiting: &AtomicUsize,
    ) -> bool {
        use tokio::sync::broadcast::error::TryRecvError;
        let (receiver, generation) = pending;
        loop {
            match receiver.try_recv() {
                Ok(event) => {
                    if waiting.load(Ordering::Relaxed) >= MAX_QUEUED_EVENTS {
                        tracing::warn!(
                            "a client has {MAX_QUEUED_EVENTS} events unread; one dropped"
                        );
                        continue;
                    }
                    waiting.fetch_add(1, Ordering::Relaxed);
                    if queue.send((*generation, event)).is_err() {
                        return false;
                    }
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Lagged(n)) => {
                    tracing::warn!("a client fell behind; {n} events dropped");
                }
                Err(TryRecvError::Closed) => return false,
            }
        }
    }
}

impl Registration {
    fn matches(&self, event: &Event) -> bool {
        match (self, event) {
            (Registration::Domain { event_id, filter }, _) => {
                crate::events::domain_event_id(event) == Some(*event_id)
                    && match (filter, event.domain()) {
                        (Some(uuid), Some(dom)) => dom.uuid == *uuid,
                        _ => true,
                    }
            }
            (Registration::DomainLegacy { event_id }, _) => {
                crate::events::domain_event_id(event) == Some(*event_id)
            }
            (
                Registration::Network {
                    event_id: 0,
                    filter,
                },
                Event::NetworkLifecycle { net, .. },
            ) => filter.is_none_or(|uuid| uuid == net.uuid),
            (
                Registration::StoragePool {
                    event_id: 0,
                    filter,
                },
                Event::PoolLifecycle { pool, .. },
            )
            | (
                Registration::StoragePool {
                    event_id: 1,
                    filter,
                },
                Event::PoolRefresh { pool },
            ) => filter.is_none_or(|uuid| uuid == pool.uuid),
            (
                Registration::NodeDevice {
                    event_id: 0,
                    filter,
                },
                Event::NodeDeviceLifecycle { dev, .. },
            )
            | (
                Registration::NodeDevice {
                    event_id: 1,
                    filter,
                },
                Event::NodeDeviceUpdate { dev },
            ) => filter.as_ref().is_none_or(|name| name == dev),
            (
                Registration::Secret {
                    event_id: 0,
                    filter,
                },
                Event::SecretLifecycle { secret, .. },
            )
            | (
                Registration::Secret {
                    event_id: 1,
                    filter,
                },
                Event::SecretValueChanged { secret },
            ) => filter.is_none_or(|uuid| uuid == secret.uuid),
            _ => false,
        }
    }

    fn encode(&self, callback_id: i32, event: &Event) -> Option<crate::events::EncodedEvent> {
        match self {
            Registration::Domain { .. } => {
                crate::events::encode_domain_event(event, Some(callback_id))
            }
            Registration::DomainLegacy { .. } => crate::events::encode_domain_event(event, None),
            Registration::Network { .. }
            | Registration::StoragePool { .. }
            | Registration::NodeDevice { .. }
            | Registration::Secret { .. } => crate::events::encode_object_event(event, callback_id),
        }
    }
}

/// libvirtd sends every event with serial 1.
const EVENT_SERIAL: u32 = 1;

impl ClientShared {
    /// Adds a registration and makes sure events flow; returns the new callbackID.
    pub(crate) fn register_events(
        self: &Arc<Self>,
        registration: Registration,
    ) -> Result<i32, Error> {
        let needs_forwarder = {
            let events = self.events.lock().unwrap_or_else(|p| p.into_inner());
            events.forwarder.is_none()
        };
        // Two subscriptions: one only ever read without waiting, into the client's queue
        // (`EventIntake`), and one the forwarder waits on to learn that there is something
        // to read. The second is taken first, so it hears of every event the first holds.
        let receivers = if needs_forwarder {
            let connection = self.connection().ok_or_else(not_open)?;
            let wake = connection.events()?;
            Some((wake, connection.events()?))
        } else {
            None
        };
        let callback_id = self.server.next_callback_id();
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some((wake, pending)), None) = (receivers, events.forwarder.as_ref()) {
            let (queue, queued) = mpsc::unbounded_channel();
            let intake = Arc::new(EventIntake {
                pending: Mutex::new((pending, 0)),
                queue,
                waiting: AtomicUsize::new(0),
            });
            let client = Arc::downgrade(self);
            events.forwarder = Some(tokio::runtime::Handle::current().spawn(forward_events(
                client,
                wake,
                Arc::clone(&intake),
                queued,
            )));
            events.intake = Some(intake);
        }
        let since = events
            .intake
            .as_ref()
            .map_or(0, |intake| intake.next_generation());
        events
            .registrations
            .push((callback_id, registration, since));
        Ok(callback_id)
    }

    /// Removes registration `callback_id`; false if there is none.
    pub(crate) fn deregister_events(&self, matches: impl Fn(i32, &Registration) -> bool) -> bool {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let before = events.registrations.len();
        events
            .registrations
            .retain(|(id, reg, _)| !matches(*id, reg));
        events.registrations.len() != before
    }
}

async fn forward_events(
    client: std::sync::Weak<ClientShared>,
    mut wake: tokio::sync::broadcast::Receiver<Event>,
    intake: Arc<EventIntake>,
    mut queued: mpsc::UnboundedReceiver<(u64, Event)>,
) {
    use tokio::sync::broadcast::error::RecvError;
    // The shared buffer is drained into this client's own queue as events come, so a
    // client that stops reading for a while falls behind in its queue, not in the buffer
    // every subscriber shares: it gets every event late rather than some never (as
    // libvirtd queues a slow client's events). The queue is bounded by a count far above
    // any burst, so a client that never reads cannot exhaust the daemon's memory.
    let drain = tokio::spawn({
        let intake = Arc::clone(&intake);
        async move {
            loop {
                let more = match wake.recv().await {
                    Ok(_) | Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => false,
                };
                if !intake.pull() || !more {
                    return;
                }
            }
        }
    });
    let _stop_drain = AbortOnDrop(drain);
    while let Some((generation, event)) = queued.recv().await {
        intake.waiting.fetch_sub(1, Ordering::Relaxed);
        let Some(client) = client.upgrade() else {
            return;
        };
        // Events about objects the client may not see are not sent (libvirt's @aclfilter
        // on the registration procedures).
        if let Some(access) = client.access.as_deref() {
            if !access::event_visible(access, &client.info.subject, client.driver_name(), &event) {
                continue;
            }
        }
        let frames: Vec<Vec<u8>> = {
            let events = client.events.lock().unwrap_or_else(|p| p.into_inner());
            events
                .registrations
                .iter()
                // A registration hears only what the space sent after it was made.
                .filter(|(_, reg, since)| generation >= *since && reg.matches(&event))
                .filter_map(|(id, reg, _)| reg.encode(*id, &event))
                .map(|encoded| {
                    let header = Header {
                        prog: REMOTE_PROGRAM,
                        vers: PROTOCOL_VERSION,
                        procedure: encoded.procedure as i32,
                        kind: MessageType::MESSAGE,
                        serial: EVENT_SERIAL,
                        status: Status::OK,
                    };
                    encode_frame(&header, |out| out.extend_from_slice(&encoded.payload))
                })
                .collect()
        };
        for frame in frames {
            if !client.send(frame).await {
                return;
            }
        }
    }
}

/// The most events one client's queue holds before new ones are dropped.
const MAX_QUEUED_EVENTS: usize = 1_000_000;

/// Stops a task when its owner ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) fn not_open() -> Error {
    Error::from_parts(
        virt_core::ErrorNumber::INTERNAL_ERROR,
        virt_core::ErrorDomain::RPC,
        "internal error: hypervisor connection not open",
    )
}

/// A REPLY frame for `call` carrying `payload`.
pub(crate) fn reply_frame(call: &Header, payload: &[u8]) -> Vec<u8> {
    encode_frame(&call.reply(Status::OK), |out| {
        out.extend_from_slice(payload)
    })
}

/// An ERROR REPLY frame for `call`.
pub(crate) fn error_frame(call: &Header, error: &Error) -> Vec<u8> {
    let remote = RemoteError::from(error);
    encode_frame(&call.reply(Status::ERROR), |out| remote.encode(out))
}

async fn read_loop<R: AsyncRead + Unpin>(
    client: &Arc<ClientShared>,
    mut reader: R,
    config: &ServerConfig,
) -> Result<(), String> {
    let mut buffer = FrameBuffer::new();
    let mut shutdown = client.server.shutdown.subscribe();
    let mut last_heard = Instant::now();
    let mut pings_unanswered = 0u32;
    let keepalive = config.keepalive_interval;
    // One timer for the client's life, re-armed only when it fires early (the client was
    // heard since): arming a fresh one for every frame cost more than the frame's dispatch.
    let idle_check = tokio::time::sleep(keepalive_wait(client, keepalive, last_heard));
    tokio::pin!(idle_check);
    let mut armed_for_keepalive = false;
    // When the client was last answered, and how long it took to call again.
    let mut answered_at = Instant::now();
    let mut last_pause = Duration::MAX;
    let mut awake = AwakeReader::new(&client.server.readers_awake);
    loop {
        awake.wake();
        // The client asked for keepalive since the timer was armed for an hour.
        let wanted = client.keepalive_wanted.load(Ordering::Relaxed);
        if wanted != armed_for_keepalive {
            armed_for_keepalive = wanted;
            let wait = keepalive_wait(client, keepalive, last_heard);
            idle_check
                .as_mut()
                .reset(tokio::time::Instant::now() + wait);
        }
        let polled = busy_poll(client, config, last_pause, &mut buffer);
        // A call running as a task answers on its own; when it has, the client's pause
        // starts and the reader may poll for its next call (see `busy_poll`).
        let calls_running = !config.busy_poll.is_zero()
            && client.direct.is_some()
            && client.requests.available_permits() < config.max_client_requests.max(1);
        let read = match polled {
            Some(read) => read,
            None => {
                awake.sleep();
                tokio::select! {
                    read = reader.read_buf(buffer.read_space()) => read,
                    _ = client.call_answered.notified(), if calls_running => {
                        answered_at = Instant::now();
                        continue;
                    }
                    _ = &mut idle_check, if !keepalive.is_zero() => {
                        if client.keepalive_wanted.load(Ordering::Relaxed) && last_heard.elapsed() >= keepalive {
                            if pings_unanswered >= config.keepalive_count {
                                return Err("keepalive timeout".into());
                            }
                            pings_unanswered += 1;
                            last_heard = Instant::now();
                            let ping = encode_frame(&Header::keepalive(KEEPALIVE_PING), |_| {});
                            if !client.send(ping).await {
                                return Err("write side closed".into());
                            }
                        }
                        let wait = keepalive_wait(client, keepalive, last_heard);
                        idle_check.as_mut().reset(tokio::time::Instant::now() + wait);
                        continue;
                    }
                    _ = shutdown.changed() => {
                        let _ = client.out.send(Outgoing::Close).await;
                        return Ok(());
                    }
                }
            }
        };
        awake.wake();
        client.server.note_read(client.id);
        match read {
            Ok(0) => {
                if buffer.has_partial_frame() {
                    return Err("connection closed in the middle of a frame".into());
                }
                return Ok(());
            }
            Ok(_) => {}
            Err(error) => return Err(format!("read failed: {error}")),
        }
        last_heard = Instant::now();
        last_pause = last_heard.saturating_duration_since(answered_at);
        pings_unanswered = 0;
        let mut corked = false;
        loop {
            let frame = match buffer.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    client
                        .server
                        .stats
                        .protocol_errors
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(error.to_string());
                }
            };
            // Calls that came in together are answered together.
            if !corked && buffer.has_frame() {
                client.cork();
                corked = true;
            }
            handle_frame(client, frame).await;
            if client.closing.load(Ordering::Relaxed) {
                if corked {
                    client.uncork().await;
                }
                let _ = client.out.send(Outgoing::Close).await;
                return Ok(());
            }
        }
        if corked && !client.uncork().await {
            return Err("write side closed".into());
        }
        answered_at = Instant::now();
    }
}

/// Counts a client's reader in [`Server::readers_awake`] while it is not asleep waiting for
/// its socket.
struct AwakeReader<'a> {
    count: &'a AtomicUsize,
    awake: bool,
}

impl<'a> AwakeReader<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        AwakeReader { count, awake: true }
    }

    fn wake(&mut self) {
        if !self.awake {
            self.count.fetch_add(1, Ordering::Relaxed);
            self.awake = true;
        }
    }

    fn sleep(&mut self) {
        if self.awake {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.awake = false;
        }
    }
}

impl Drop for AwakeReader<'_> {
    fn drop(&mut self) {
        self.sleep();
    }
}

/// Polls a Unix-socket client's socket for its next bytes for [`ServerConfig::busy_poll`],
/// where that is likely to pay: the client called again quickly last time, nothing of its
/// own is waiting for this thread (a call running as a task, a frame for the writer task, a
/// stream) and a CPU is left for the client. `None`: not polled, or nothing came.
fn busy_poll(
    client: &ClientShared,
    config: &ServerConfig,
    last_pause: Duration,
    buffer: &mut FrameBuffer,
) -> Option<std::io::Result<usize>> {
    let window = config.busy_poll;
    let direct = client.direct.as_ref()?;
    if window.is_zero()
        || last_pause > window * 2
        || client.requests.available_permits() < config.max_client_requests.max(1)
        || direct.lock().queued > 0
        || !client
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    {
        return None;
    }
    let server = &client.server;
    server.cpu_watch.call_once(|| {
        let spare = Arc::clone(&server.cpus_to_spare);
        let polled = Arc::clone(&server.polled_ns);
        let watching = Arc::downgrade(server);
        let started = std::thread::Builder::new()
            .name("rvirtd-idle-cpus".into())
            .spawn(move || watch_idle_cpus(&spare, &polled, &watching));
        if let Err(error) = started {
            tracing::debug!("busy polling without a watch on idle CPUs: {error}");
        }
    });
    if !server.cpus_to_spare.load(Ordering::Relaxed)
        || server.readers_awake.load(Ordering::Relaxed) > 1
        || server.callers_together()
    {
        return None;
    }
    server
        .busy_pollers
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < server.max_busy_pollers).then_some(n + 1)
        })
        .ok()?;
    let started = Instant::now();
    let others_awake = || server.readers_awake.load(Ordering::Relaxed) > 1;
    let read = direct.poll_read(buffer, window, others_awake);
    server.busy_pollers.fetch_sub(1, Ordering::AcqRel);
    let polled = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    server.polled_ns.fetch_add(polled, Ordering::Relaxed);
    let outcome = match read {
        Some(_) => &server.stats.busy_polls_hit,
        None => &server.stats.busy_polls_missed,
    };
    outcome.fetch_add(1, Ordering::Relaxed);
    read
}

/// Reads from two clients this close together make them count as calling at once, and
/// no client is polled for while that lasts.
const CALLERS_TOGETHER: Duration = Duration::from_millis(1);
const SHARED_FOR: Duration = Duration::from_millis(20);

/// How often the CPUs' idle time is read; how much of a CPU must sit idle without polling
/// for polling to be on; how much more waiting for CPUs than polling explains turns it off;
/// and every how many periods one is spent without polling, to measure the idle time again.
const IDLE_CPU_PERIOD: Duration = Duration::from_millis(200);
const IDLE_CPU_NEEDED: f64 = 0.5;
const STALL_BEYOND_POLLING: f64 = 0.25;
const PROBE_EVERY: u32 = 10;

/// Keeps `spare` saying whether the CPUs have time to spare, while the server lives. A poller
/// only wins where a CPU would otherwise sit idle; where tasks queue for CPUs it takes one
/// from them (measured: getVersion 29 → 45 µs on a loaded machine).
///
/// What would sit idle without polling is measured only while nobody polls: the CPUs' idle
/// time (`/proc/stat`) over a period without polls, and one period in [`PROBE_EVERY`] is kept
/// free of polls for that. While polling, the idle time says nothing (the poller fills it),
/// and neither does the kernel's CPU pressure alone (`/proc/pressure/cpu`: on an idle 2-CPU
/// machine a poller makes the client's own wake-ups wait about as long as it polls), so
/// polling stops early only when tasks waited for CPUs clearly longer than it polled: a load
/// that came meanwhile. Without `/proc/stat` polling stays allowed.
fn watch_idle_cpus(spare: &AtomicBool, polled: &AtomicU64, server: &std::sync::Weak<Server>) {
    let read_times = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|text| CpuTimes::parse(&text))
    };
    let read_stalled_us = || {
        std::fs::read_to_string("/proc/pressure/cpu")
            .ok()
            .and_then(|text| stalled_us(&text))
    };
    let Some(mut last) = read_times() else {
        tracing::debug!("no /proc/stat: busy polling is not held back under load");
        return;
    };
    let mut last_stalled = read_stalled_us();
    let mut last_polled = polled.load(Ordering::Relaxed);
    let mut last_at = Instant::now();
    let mut wanted = spare.load(Ordering::Relaxed);
    let mut period = 0u32;
    while server.strong_count() > 0 {
        // The next period is a probe: nobody polls in it.
        period = period.wrapping_add(1);
        let probe = period.is_multiple_of(PROBE_EVERY);
        spare.store(wanted && !probe, Ordering::Relaxed);
        std::thread::sleep(IDLE_CPU_PERIOD);
        let Some(now) = read_times() else { return };
        let stalled_now = read_stalled_us();
        let polled_now = polled.load(Ordering::Relaxed);
        let elapsed = last_at.elapsed().as_secs_f64().max(1e-3);
        let polling = polled_now.saturating_sub(last_polled) as f64 / 1e9 / elapsed;
        let stalled = match (stalled_now, last_stalled) {
            (Some(now), Some(then)) => now.saturating_sub(then) as f64 / 1e6 / elapsed,
            _ => 0.0,
        };
        let idle = now.idle_cpus_since(&last);
        let was = wanted;
        if polling < 0.01 {
            wanted = idle >= IDLE_CPU_NEEDED;
        } else if stalled - polling > STALL_BEYOND_POLLING {
            wanted = false;
        }
        if was != wanted {
            tracing::debug!(
                idle,
                polling,
                stalled,
                "busy polling {}",
                if wanted { "on" } else { "off" }
            );
        }
        (last, last_stalled, last_polled, last_at) = (now, stalled_now, polled_now, Instant::now());
    }
}

/// The `some total=` of `/proc/pressure/cpu`: µs during which some task waited for a CPU.
fn stalled_us(text: &str) -> Option<u64> {
    text.lines()
        .find(|line| line.starts_with("some "))?
        .split_whitespace()
        .find_map(|field| field.strip_prefix("total="))?
        .parse()
        .ok()
}

/// The machine's CPU time from `/proc/stat`'s `cpu` line, in clock ticks.
#[derive(Clone, Copy, Debug, PartialEq)]
struct CpuTimes {
    /// idle and iowait: time no task wanted a CPU.
    idle: u64,
    /// Everything but guest time (already in user): user, nice, system, idle, iowait, irq,
    /// softirq and steal (time the hypervisor gave to others counts as busy).
    total: u64,
    /// Online CPUs (`cpuN` lines).
    cpus: usize,
}

impl CpuTimes {
    fn parse(text: &str) -> Option<CpuTimes> {
        let mut lines = text.lines();
        let fields: Vec<u64> = lines
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(8)
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        if fields.len() < 5 {
            return None;
        }
        let cpus = lines.take_while(|line| line.starts_with("cpu")).count();
        Some(CpuTimes {
            idle: fields[3] + fields[4],
            total: fields.iter().sum(),
            cpus: cpus.max(1),
        })
    }

    /// How many CPUs' worth sat idle since `earlier`.
    fn idle_cpus_since(&self, earlier: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return self.cpus as f64;
        }
        self.idle.saturating_sub(earlier.idle) as f64 / total as f64 * self.cpus as f64
    }
}

/// How long until the client is due a keepalive PING, from the last time it was heard
/// (an hour while it has not asked for keepalive).
fn keepalive_wait(client: &ClientShared, keepalive: Duration, last_heard: Instant) -> Duration {
    if keepalive.is_zero() || !client.keepalive_wanted.load(Ordering::Relaxed) {
        Duration::from_secs(3600)
    } else {
        keepalive
            .saturating_sub(last_heard.elapsed())
            .max(Duration::from_millis(10))
    }
}

async fn handle_frame(client: &Arc<ClientShared>, frame: crate::frame::Frame) {
    let header = frame.header;
    if header.prog == KEEPALIVE_PROGRAM {
        if header.kind == MessageType::MESSAGE && header.procedure == KEEPALIVE_PING {
            let pong = encode_frame(&Header::keepalive(KEEPALIVE_PONG), |_| {});
            client.send(pong).await;
        }
        // PONGs (and anything else on this program) only prove the peer is alive.
        if header.kind == MessageType::MESSAGE {
            return;
        }
    }
    match header.kind {
        MessageType::CALL | MessageType::CALL_WITH_FDS => {}
        MessageType::STREAM | MessageType::STREAM_HOLE => {
            stream::route_input(client, &header, frame.payload).await;
            return;
        }
        // libvirtd drops stray MESSAGE/REPLY frames without answering: a reply to a serial the
        // client does not know would be fatal for it.
        _ => return,
    }
    if ![REMOTE_PROGRAM, QEMU_PROGRAM, RVIRT_ADMIN_PROGRAM].contains(&header.prog)
        || header.vers != PROTOCOL_VERSION
    {
        let error = rpc_error(format!(
            "Cannot find program {} version {}",
            header.prog, header.vers
        ));
        client.send(error_frame(&header, &error)).await;
        return;
    }
    if header.status != Status::OK {
        let error = rpc_error(format!("Unexpected message status {}", header.status.0));
        client.send(error_frame(&header, &error)).await;
        return;
    }
    if frame.n_fds > 0 {
        let error = rpc_error("file descriptor passing is not supported on this connection");
        client.send(error_frame(&header, &error)).await;
        return;
    }
    client
        .server
        .stats
        .calls_total
        .fetch_add(1, Ordering::Relaxed);
    // Per-client request limit: while it is reached the client is not read from.
    let Ok(permit) = Arc::clone(&client.requests).acquire_owned().await else {
        return;
    };
    dispatch::start_call(Arc::clone(client), header, frame.payload, permit).await;
}

#[cfg(test)]
mod tests {
    use super::CpuTimes;

    #[test]
    fn idle_cpus_from_proc_stat() {
        let before = "cpu  100 0 50 1000 10 0 5 0 0 0\ncpu0 50 0 25 500 5 0 2 0 0 0\n\
                      cpu1 50 0 25 500 5 0 3 0 0 0\nintr 1 2 3\n";
        let after = "cpu  160 0 70 1100 20 0 5 40 0 0\ncpu0 80 0 35 550 10 0 2 20 0 0\n\
                     cpu1 80 0 35 550 10 0 3 20 0 0\nintr 4 5 6\n";
        let (before, after) = (
            CpuTimes::parse(before).expect("parses"),
            CpuTimes::parse(after).expect("parses"),
        );
        assert_eq!(
            before,
            CpuTimes {
                idle: 1010,
                total: 1165,
                cpus: 2
            }
        );
        // 110 idle ticks (idle and iowait) of 230 on 2 CPUs; steal counts as busy.
        let idle = after.idle_cpus_since(&before);
        assert!((idle - 2.0 * 110.0 / 230.0).abs() < 1e-9, "{idle}");
        assert_eq!(CpuTimes::parse("intr 1 2\n"), None);
        assert_eq!(
            super::stalled_us(
                "some avg10=2.81 avg60=2.00 avg300=9.54 total=18319748528\n\
                 full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
            ),
            Some(18319748528)
        );
        assert_eq!(CpuTimes::parse("cpu  1 2 x 4 5\n"), None);
    }
}
