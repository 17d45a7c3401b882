//! Live resources a space owns on its driver's behalf: child processes (supervised and reaped
//! the moment they exit), unix-socket streams (read by the host, cut into frames) and open
//! descriptors (taps). Plugins see only handles. What happens to them (a child exits, a frame
//! arrives nobody asked for, a peer hangs up) is queued as a [`HandlerEvent`] for the
//! plugin's `handlers` export.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::error::system;
use crate::space::{Space, JOB_WAIT};

static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

fn next_handle() -> u64 {
    NEXT_HANDLE.fetch_add(1, Ordering::Relaxed)
}

/// Largest frame a stream accepts (libvirt's RPC message cap plus its length word).
const MAX_FRAME: usize = 32 * 1024 * 1024 + 4;

/// Something that happened to a resource, for the plugin's `handlers` export.
#[derive(Debug)]
pub enum HandlerEvent {
    ProcessExited {
        handle: u64,
        status: ProcessStatus,
    },
    StreamFrame {
        handle: u64,
        frame: Vec<u8>,
    },
    StreamClosed {
        handle: u64,
    },
    /// The kernel's device changes, for a space that asked (`device-watch`).
    DevicesChanged {
        pending: crate::device_watch::PendingChanges,
    },
}

/// Where handler events go: the owning plugin's dispatcher.
pub type Dispatch = Sender<(Weak<Space>, HandlerEvent)>;

/// What the host knows about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessStatus {
    pub pid: i32,
    pub running: bool,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
}

/// How a stream's bytes are cut into frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Up to and excluding `\n`.
    Line,
    /// A 4-byte big-endian length counting itself; the frame includes the length word.
    LengthPrefixed,
    /// Whatever one read returns.
    Raw,
}

/// A child process the host started or adopted.
pub struct Process {
    pid: i32,
    pidfd: OwnedFd,
    start_time: u64,
    exit: Mutex<Option<ProcessStatus>>,
    exited: Condvar,
}

impl Process {
    pub fn status(&self) -> ProcessStatus {
        let exit = self.exit.lock().unwrap_or_else(|p| p.into_inner());
        exit.unwrap_or(ProcessStatus {
            pid: self.pid,
            running: true,
            exit_code: None,
            signal: None,
        })
    }

    pub fn start_time(&self) -> u64 {
        self.start_time
    }

    /// Waits for the exit up to `timeout`; returns the status either way.
    pub fn wait(&self, timeout: Duration) -> ProcessStatus {
        let deadline = Instant::now() + timeout;
        let mut exit = self.exit.lock().unwrap_or_else(|p| p.into_inner());
        while exit.is_none() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            exit = self
                .exited
                .wait_timeout(exit, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        exit.unwrap_or(ProcessStatus {
            pid: self.pid,
            running: true,
            exit_code: None,
            signal: None,
        })
    }

    /// Sends `signal` through the pidfd, so a recycled pid is never hit.
    pub fn kill(&self, signal: i32) -> Result<(), Error> {
        if !self.status().running {
            return Err(Error::new(
                ErrorNumber::OPERATION_INVALID,
                ErrorDomain::NONE,
                format!("process {} has already exited", self.pid),
            ));
        }
        // SAFETY: pidfd_send_signal with a valid pidfd, a plain signal number, no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<u8>(),
                0,
            )
        };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(system(
                format!("cannot send signal {signal} to process {}", self.pid),
                error,
            ));
        }
        Ok(())
    }

    fn record_exit(&self, status: ProcessStatus) {
        *self.exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
        self.exited.notify_all();
    }
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Field 22 of /proc/PID/stat: the process start time in clock ticks since boot.
pub fn process_start_time(pid: i32) -> std::io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after_comm
        .split_whitespace()
        .nth(19)
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed /proc stat"))
}

/// True if /proc/PID/stat says the process has exited (zombie or dead) or cannot be read.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .next()?
                .to_string();
            Some(state == "Z" || state == "X")
        })
        .unwrap_or(true)
}

/// What `process.spawn` asks for, with paths already checked.
pub struct SpawnSpec<'a> {
    pub program: &'a Path,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub cwd: Option<&'a Path>,
    pub stdout: Option<&'a Path>,
    pub stderr: Option<&'a Path>,
    pub pass_fds: Vec<OwnedFd>,
}

/// A child's output: nowhere, or appended to a file (made 0600, as the host makes every file
/// it writes for a plugin: a log may show what a guest was given).
fn output(path: Option<&Path>) -> std::io::Result<Stdio> {
    use std::os::unix::fs::OpenOptionsExt;
    match path {
        None => Ok(Stdio::null()),
        Some(path) => Ok(std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?
            .into()),
    }
}

/// A stream to a unix socket.
pub struct Stream {
    writer: Mutex<UnixStream>,
    state: Mutex<StreamState>,
    changed: Condvar,
}

#[derive(Default)]
struct StreamState {
    frames: VecDeque<Vec<u8>>,
    claimed_by: Option<u64>,
    closed: bool,
}

impl Stream {
    fn claim(&self, call_id: u64) -> Result<std::sync::MutexGuard<'_, StreamState>, Error> {
        let deadline = Instant::now() + JOB_WAIT;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match state.claimed_by {
                None => {
                    state.claimed_by = Some(call_id);
                    return Ok(state);
                }
                Some(owner) if owner == call_id => return Ok(state),
                Some(_) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(Error::new(
                            ErrorNumber::OPERATION_TIMEOUT,
                            ErrorDomain::NONE,
                            "stream is in use by another call",
                        ));
                    }
                    state = self
                        .changed
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }

    pub fn send(&self, call_id: u64, bytes: &[u8]) -> Result<(), Error> {
        drop(self.claim(call_id)?);
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer
            .write_all(bytes)
            .map_err(|e| system("cannot write to stream", e))
    }

    /// Sends `bytes` with `fds` attached (SCM_RIGHTS) in one message.
    pub fn send_with_fds(&self, call_id: u64, bytes: &[u8], fds: &[OwnedFd]) -> Result<(), Error> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        drop(self.claim(call_id)?);
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let control = [ControlMessage::ScmRights(&raw)];
        let iov = [std::io::IoSlice::new(bytes)];
        let sent = sendmsg::<()>(writer.as_raw_fd(), &iov, &control, MsgFlags::empty(), None)
            .map_err(|e| system("cannot send descriptors on stream", e))?;
        drop(writer);
        if sent < bytes.len() {
            // The descriptors went with the first part; the rest is plain bytes.
            let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            writer
                .write_all(&bytes[sent..])
                .map_err(|e| system("cannot write to stream", e))?;
        }
        Ok(())
    }

    /// The next frame for `call_id`, `None` on timeout.
    pub fn recv(&self, call_id: u64, timeout: Duration) -> Result<Option<Vec<u8>>, Error> {
        let deadline = Instant::now() + timeout;
        let mut state = self.claim(call_id)?;
        loop {
            if let Some(frame) = state.frames.pop_front() {
                return Ok(Some(frame));
            }
            if state.closed {
                return Err(Error::new(
                    ErrorNumber::OPERATION_FAILED,
                    ErrorDomain::NONE,
                    "stream closed by peer",
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Ends `call_id`'s claim; frames it left unread go to the handler, in order.
    fn release(&self, call_id: u64, handle: u64, space: &Weak<Space>, dispatch: &Option<Dispatch>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.claimed_by != Some(call_id) {
            return;
        }
        state.claimed_by = None;
        if let Some(dispatch) = dispatch {
            for frame in state.frames.drain(..) {
                let _ = dispatch.send((space.clone(), HandlerEvent::StreamFrame { handle, frame }));
            }
            if state.closed {
                let _ = dispatch.send((space.clone(), HandlerEvent::StreamClosed { handle }));
            }
        }
        self.changed.notify_all();
    }

    fn shutdown(&self) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writer.shutdown(std::net::Shutdown::Both);
    }
}

/// Reads frames until EOF and routes each to the claiming call or the handler.
fn read_frames(
    mut socket: UnixStream,
    framing: Framing,
    stream: Arc<Stream>,
    handle: u64,
    space: Weak<Space>,
    dispatch: Option<Dispatch>,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let deliver = |frame: Vec<u8>| {
        let mut state = stream.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.claimed_by.is_some() {
            state.frames.push_back(frame);
            stream.changed.notify_all();
        } else if let Some(dispatch) = &dispatch {
            let _ = dispatch.send((space.clone(), HandlerEvent::StreamFrame { handle, frame }));
        }
    };
    'read: loop {
        let n = match socket.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match framing {
            Framing::Raw => deliver(chunk[..n].to_vec()),
            Framing::Line => {
                buffer.extend_from_slice(&chunk[..n]);
                while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let mut frame: Vec<u8> = buffer.drain(..=end).collect();
                    frame.pop();
                    deliver(frame);
                }
                if buffer.len() > MAX_FRAME {
                    break 'read;
                }
            }
            Framing::LengthPrefixed => {
                buffer.extend_from_slice(&chunk[..n]);
                while buffer.len() >= 4 {
                    let len =
                        u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
                    if !(4..=MAX_FRAME).contains(&len) {
                        tracing::warn!(handle, len, "stream frame length out of range; closing");
                        break 'read;
                    }
                    if buffer.len() < len {
                        break;
                    }
                    deliver(buffer.drain(..len).collect());
                }
            }
        }
    }
    let mut state = stream.state.lock().unwrap_or_else(|p| p.into_inner());
    state.closed = true;
    stream.changed.notify_all();
    if state.claimed_by.is_none() {
        if let Some(dispatch) = &dispatch {
            let _ = dispatch.send((space, HandlerEvent::StreamClosed { handle }));
        }
    }
}

/// A space's live resources.
#[derive(Default)]
pub struct Resources {
    processes: Mutex<HashMap<u64, Arc<Process>>>,
    streams: Mutex<HashMap<u64, Arc<Stream>>>,
    descriptors: Mutex<HashMap<u64, OwnedFd>>,
}

impl Resources {
    /// Starts a child in a new session; a thread reaps it the moment it exits and reports the
    /// exit to the handler.
    pub fn spawn(
        &self,
        spec: SpawnSpec<'_>,
        space: Weak<Space>,
        dispatch: Option<Dispatch>,
    ) -> Result<u64, Error> {
        let mut command = Command::new(spec.program);
        command
            .args(spec.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(output(spec.stdout).map_err(|e| system("cannot open child stdout", e))?)
            .stderr(output(spec.stderr).map_err(|e| system("cannot open child stderr", e))?);
        if let Some(cwd) = spec.cwd {
            command.current_dir(cwd);
        }
        let fds: Vec<RawFd> = spec.pass_fds.iter().map(|fd| fd.as_raw_fd()).collect();
        // SAFETY: the closure runs in the forked child before exec and only calls
        // async-signal-safe functions (setsid, fcntl, dup2) on descriptors we own.
        unsafe {
            command.pre_exec(move || {
                libc::setsid();
                // Move every descriptor above the target range first, so dup2 never clobbers one
                // we still need, then place them at 3, 4, ...
                let base = 3 + fds.len() as RawFd + 64;
                let mut moved = Vec::with_capacity(fds.len());
                for fd in &fds {
                    let high = libc::fcntl(*fd, libc::F_DUPFD, base);
                    if high < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    moved.push(high);
                }
                for (idx, fd) in moved.iter().enumerate() {
                    if libc::dup2(*fd, 3 + idx as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| system(format!("cannot execute '{}'", spec.program.display()), e))?;
        drop(spec.pass_fds);
        let pid = child.id() as i32;
        let pidfd = pidfd_open(pid).map_err(|e| system("pidfd_open", e))?;
        let start_time = process_start_time(pid).unwrap_or(0);
        let process = Arc::new(Process {
            pid,
            pidfd,
            start_time,
            exit: Mutex::new(None),
            exited: Condvar::new(),
        });
        let handle = next_handle();
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, Arc::clone(&process));
        std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || {
                let status = match child.wait() {
                    Ok(status) => ProcessStatus {
                        pid,
                        running: false,
                        exit_code: status.code(),
                        signal: status.signal(),
                    },
                    Err(_) => ProcessStatus {
                        pid,
                        running: false,
                        exit_code: None,
                        signal: None,
                    },
                };
                process.record_exit(status);
                if let Some(dispatch) = dispatch {
                    let _ = dispatch.send((space, HandlerEvent::ProcessExited { handle, status }));
                }
            })
            .map_err(|e| system("cannot start reaper thread", e))?;
        Ok(handle)
    }

    /// Adopts a process that is not our child (started before a restart). Its exit is seen
    /// through its pidfd; the exit status is not knowable.
    pub fn adopt(
        &self,
        pid: i32,
        start_time: u64,
        space: Weak<Space>,
        dispatch: Option<Dispatch>,
    ) -> Result<u64, Error> {
        let not_found = || {
            Error::new(
                ErrorNumber::OPERATION_FAILED,
                ErrorDomain::NONE,
                format!("process {pid} started at {start_time} is gone"),
            )
        };
        if process_start_time(pid).ok() != Some(start_time) {
            return Err(not_found());
        }
        let pidfd = pidfd_open(pid).map_err(|_| not_found())?;
        // The pid could have been recycled between the two reads: check again now that the
        // pidfd pins the process.
        if process_start_time(pid).ok() != Some(start_time) || is_zombie(pid) {
            // A zombie is a process that has ended (a controller that exited while the daemon
            // was away, not reaped yet): adopting it would report a stopped guest running.
            return Err(not_found());
        }
        let poll_fd = pidfd.try_clone().map_err(|e| system("dup pidfd", e))?;
        let process = Arc::new(Process {
            pid,
            pidfd,
            start_time,
            exit: Mutex::new(None),
            exited: Condvar::new(),
        });
        let handle = next_handle();
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, Arc::clone(&process));
        std::thread::Builder::new()
            .name(format!("watch-{pid}"))
            .spawn(move || {
                let mut poll = libc::pollfd {
                    fd: poll_fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                loop {
                    // SAFETY: one valid pollfd, infinite timeout.
                    let rc = unsafe { libc::poll(&mut poll, 1, -1) };
                    if rc > 0
                        || (rc < 0
                            && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
                    {
                        break;
                    }
                }
                let status = ProcessStatus {
                    pid,
                    running: false,
                    exit_code: None,
                    signal: None,
                };
                process.record_exit(status);
                if let Some(dispatch) = dispatch {
                    let _ = dispatch.send((space, HandlerEvent::ProcessExited { handle, status }));
                }
            })
            .map_err(|e| system("cannot start watcher thread", e))?;
        Ok(handle)
    }

    pub fn process(&self, handle: u64) -> Result<Arc<Process>, Error> {
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&handle)
            .cloned()
            .ok_or_else(|| bad_handle("process", handle))
    }

    pub fn release_process(&self, handle: u64) {
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&handle);
    }

    /// Connects to `path`, retrying until `timeout` (the peer may not listen yet).
    /// Connects to a unix socket; the stream's frames belong to the call `claimed_by` from the
    /// first byte (a peer that talks first, as QMP's greeting, must not lose it to a handler).
    pub fn connect(
        &self,
        path: &Path,
        framing: Framing,
        timeout: Duration,
        claimed_by: u64,
        space: Weak<Space>,
        dispatch: Option<Dispatch>,
    ) -> Result<u64, Error> {
        let deadline = Instant::now() + timeout;
        let socket = loop {
            match UnixStream::connect(path) {
                Ok(socket) => break socket,
                Err(error) if Instant::now() >= deadline => {
                    return Err(system(
                        format!("cannot connect to '{}'", path.display()),
                        error,
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let reader = socket
            .try_clone()
            .map_err(|e| system("cannot clone stream", e))?;
        let stream = Arc::new(Stream {
            writer: Mutex::new(socket),
            state: Mutex::new(StreamState {
                claimed_by: Some(claimed_by),
                ..StreamState::default()
            }),
            changed: Condvar::new(),
        });
        let handle = next_handle();
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, Arc::clone(&stream));
        std::thread::Builder::new()
            .name(format!("stream-{handle}"))
            .spawn(move || read_frames(reader, framing, stream, handle, space, dispatch))
            .map_err(|e| system("cannot start stream reader", e))?;
        Ok(handle)
    }

    pub fn stream(&self, handle: u64) -> Result<Arc<Stream>, Error> {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&handle)
            .cloned()
            .ok_or_else(|| bad_handle("stream", handle))
    }

    pub fn close_stream(&self, handle: u64) {
        if let Some(stream) = self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&handle)
        {
            stream.shutdown();
        }
    }

    /// Ends `call_id`'s claims on the streams it claimed.
    pub fn release_claims(
        &self,
        call_id: u64,
        handles: &[u64],
        space: &Weak<Space>,
        dispatch: &Option<Dispatch>,
    ) {
        for handle in handles {
            let stream = self
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(handle)
                .cloned();
            if let Some(stream) = stream {
                stream.release(call_id, *handle, space, dispatch);
            }
        }
    }

    pub fn add_descriptor(&self, fd: OwnedFd) -> u64 {
        let handle = next_handle();
        self.descriptors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, fd);
        handle
    }

    pub fn close_descriptor(&self, handle: u64) {
        self.descriptors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&handle);
    }

    /// A duplicate of the descriptor behind `handle`, for a child to inherit.
    pub fn descriptor(&self, handle: u64) -> Result<OwnedFd, Error> {
        let descriptors = self.descriptors.lock().unwrap_or_else(|p| p.into_inner());
        let fd = descriptors
            .get(&handle)
            .ok_or_else(|| bad_handle("descriptor", handle))?;
        fd.try_clone()
            .map_err(|e| system("cannot duplicate descriptor", e))
    }

    /// Closes streams and descriptors and forgets processes (which keep running).
    pub fn close_all(&self) {
        for (_, stream) in self
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            stream.shutdown();
        }
        self.descriptors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.processes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

fn bad_handle(what: &str, handle: u64) -> Error {
    Error::new(
        ErrorNumber::INVALID_ARG,
        ErrorDomain::NONE,
        format!("no {what} with handle {handle} in this space"),
    )
}
