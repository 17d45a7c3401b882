//! The server side of the monitor protocol on the controller's unix socket.
//!
//! One client at a time (the driver); a new connection replaces the old one, which is how a
//! restarted daemon reattaches. Every new client learns the init pid at once. Outgoing
//! messages are queued and written as the socket accepts them; at the end the controller
//! stops listening, queues the EXIT event and [`MonitorServer::drain`]s the queue before it
//! exits, so the EXIT event is never lost to an early close.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Instant;

use rvirt_lxc_controller::monitor::{FrameBuffer, Message, RemoteError, Request, Response};

use super::error::{Failure, Result};

/// Binds a listening socket at `path`, replacing a stale socket file left by a dead
/// controller but never one that a live controller serves.
pub fn bind_unix(path: &Path, what: &str) -> Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(Failure::invalid(format!(
                "{what} {} is served by a running controller: is the container already running?",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| {
            Failure::io(format!("cannot remove stale {what} {}", path.display()), &e)
        })?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| Failure::io(format!("cannot listen on {what} {}", path.display()), &e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Failure::io(format!("cannot configure {what}"), &e))?;
    Ok(listener)
}

struct Client {
    stream: UnixStream,
    frames: FrameBuffer,
    out: Vec<u8>,
}

pub struct MonitorServer {
    listener: Option<UnixListener>,
    client: Option<Client>,
}

impl MonitorServer {
    pub fn new(listener: UnixListener) -> MonitorServer {
        MonitorServer {
            listener: Some(listener),
            client: None,
        }
    }

    pub fn listener(&self) -> Option<BorrowedFd<'_>> {
        self.listener.as_ref().map(|l| l.as_fd())
    }

    pub fn client(&self) -> Option<BorrowedFd<'_>> {
        self.client.as_ref().map(|c| c.stream.as_fd())
    }

    pub fn has_client(&self) -> bool {
        self.client.is_some()
    }

    pub fn wants_write(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.out.is_empty())
    }

    /// Accepts pending connections; true if a new client is now attached.
    pub fn accept(&mut self) -> bool {
        let Some(listener) = &self.listener else {
            return false;
        };
        let mut accepted = false;
        while let Ok((stream, _)) = listener.accept() {
            if stream.set_nonblocking(true).is_ok() {
                self.client = Some(Client {
                    stream,
                    frames: FrameBuffer::default(),
                    out: Vec::new(),
                });
                accepted = true;
            }
        }
        accepted
    }

    /// Reads what the client sent; returns the complete messages. A client that hangs up or
    /// sends garbage is dropped.
    pub fn read(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        let Some(client) = self.client.as_mut() else {
            return messages;
        };
        let mut buffer = [0u8; 4096];
        let keep = loop {
            match client.stream.read(&mut buffer) {
                Ok(0) => break false,
                Ok(n) => client.frames.push(&buffer[..n]),
                Err(error) if error.kind() == ErrorKind::WouldBlock => break true,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break false,
            }
        };
        let mut keep = keep;
        loop {
            match client.frames.next_frame() {
                Ok(Some(frame)) => match Message::decode(&frame) {
                    Ok(message) => messages.push(message),
                    Err(error) => tracing::warn!("dropping monitor client: {error}"),
                },
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!("dropping monitor client: {error}");
                    keep = false;
                    break;
                }
            }
        }
        if !keep {
            self.client = None;
        }
        messages
    }

    /// Queues a message for the client; without a client it is dropped (libvirt's rule: the
    /// next client asks again, and the exit code carries the EXIT reason).
    pub fn send(&mut self, message: &Message) {
        if let Some(client) = self.client.as_mut() {
            client.out.extend_from_slice(&message.encode());
        }
        self.flush();
    }

    /// Writes as much of the queue as the socket takes now.
    pub fn flush(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        while !client.out.is_empty() {
            match client.stream.write(&client.out) {
                Ok(n) => {
                    client.out.drain(..n);
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.client = None;
                    return;
                }
            }
        }
    }

    /// Stops accepting new clients and removes the socket's name, so that a new controller
    /// for the same container can bind it at once; the current connection stays.
    pub fn stop_listening(&mut self, path: &Path) {
        if self.listener.take().is_some() {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The closing state. Keeps writing until the queue is empty (at most until
    /// `drain_deadline`), then lingers until the client hangs up (at most `linger`), answering
    /// its calls with `answer` meanwhile: a driver that connected at the last moment still gets
    /// its WAIT_INIT answered. True if everything queued was written.
    pub fn close(
        &mut self,
        drain_deadline: Instant,
        linger: std::time::Duration,
        mut answer: impl FnMut(Request) -> Result<Response, RemoteError>,
    ) -> bool {
        let mut linger_deadline: Option<Instant> = None;
        loop {
            for message in self.read() {
                if let Message::Call { serial, request } = message {
                    let procedure = request.procedure();
                    let result = answer(request);
                    self.send(&Message::Reply {
                        serial,
                        procedure,
                        result,
                    });
                }
            }
            self.flush();
            let Some(client) = self.client.as_ref() else {
                return linger_deadline.is_some();
            };
            let now = Instant::now();
            let deadline = if client.out.is_empty() {
                let deadline = *linger_deadline.get_or_insert(now + linger);
                if now >= deadline {
                    let _ = client.stream.shutdown(std::net::Shutdown::Both);
                    return true;
                }
                deadline
            } else {
                if now >= drain_deadline {
                    return false;
                }
                drain_deadline
            };
            let events = libc::POLLIN
                | if client.out.is_empty() {
                    0
                } else {
                    libc::POLLOUT
                };
            let timeout = (deadline - now).as_millis().min(1000) as i32;
            let mut poll_fd = libc::pollfd {
                fd: client.stream.as_raw_fd(),
                events,
                revents: 0,
            };
            // SAFETY: one valid pollfd for a descriptor this function keeps open during the call.
            unsafe { libc::poll(&mut poll_fd, 1, timeout.max(1)) };
        }
    }

    /// Waits up to `deadline` for a client to connect (used when the controller fails before
    /// the driver had a chance to connect, so the driver still hears why).
    pub fn wait_for_client(&mut self, deadline: Instant) -> bool {
        while !self.has_client() {
            let Some(listener) = self.listener.as_ref() else {
                return false;
            };
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let timeout = (deadline - now).as_millis().min(1000) as i32;
            let mut poll_fd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for a descriptor this function keeps open during the call.
            unsafe { libc::poll(&mut poll_fd, 1, timeout) };
            self.accept();
        }
        true
    }
}
