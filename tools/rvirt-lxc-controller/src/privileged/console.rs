//! The container's console: a pty whose slave side is the container's `/dev/console` (and
//! init's stdin/stdout/stderr), and whose master side the controller relays to one client
//! at a time on the console unix socket.
//!
//! Output written while no client is attached is kept (the last [`BACKLOG_MAX`] bytes) and
//! handed to the next client first, so a client that attaches after `create` returns still
//! sees what the container printed while starting. The controller keeps its own slave
//! descriptor open so the master never reports a hang-up between two sessions.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::stat::Mode;
use nix::unistd::{chown, Gid, Uid};

use super::error::{Context, Result};

/// Output kept for the next client while none is attached.
pub const BACKLOG_MAX: usize = 64 * 1024;
/// Output queued for a slow client before the container's writes are held back.
const CLIENT_QUEUE_MAX: usize = 256 * 1024;
/// Keystrokes queued for the container before the client's input is held back.
const INPUT_QUEUE_MAX: usize = 64 * 1024;

/// A pty pair.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    /// The slave's name on the host, for logs.
    pub slave_path: PathBuf,
}

impl Pty {
    /// Opens a pty; `owner` (host ids) becomes the slave's owner, so that the container's
    /// root can reopen `/dev/console` in a user namespace.
    pub fn open(owner: Option<(u32, u32)>) -> Result<Pty> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .context(|| "cannot open a pty for the console")?;
        grantpt(&master).context(|| "cannot grant the console pty")?;
        unlockpt(&master).context(|| "cannot unlock the console pty")?;
        let slave_path =
            PathBuf::from(ptsname_r(&master).context(|| "cannot name the console pty")?);
        let slave = open(
            &slave_path,
            OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .context(|| format!("cannot open {}", slave_path.display()))?;
        // SAFETY: `open` returned a new descriptor that nothing else owns.
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        // SAFETY: `into_raw_fd` hands over ownership of the master's descriptor.
        let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
        set_nonblocking(master.as_fd())?;
        if let Some((uid, gid)) = owner {
            chown(
                &slave_path,
                Some(Uid::from_raw(uid)),
                Some(Gid::from_raw(gid)),
            )
            .context(|| {
                format!(
                    "cannot give {} to the container's root",
                    slave_path.display()
                )
            })?;
        }
        Ok(Pty {
            master,
            slave,
            slave_path,
        })
    }
}

pub fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<()> {
    let flags =
        fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).context(|| "cannot read descriptor flags")?;
    fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
    )
    .context(|| "cannot make a descriptor non-blocking")?;
    Ok(())
}

/// The relay between the pty master and the console socket's client.
pub struct Console {
    pty: Pty,
    listener: UnixListener,
    client: Option<UnixStream>,
    backlog: VecDeque<u8>,
    to_client: Vec<u8>,
    to_master: Vec<u8>,
}

/// What the relay wants to wait for.
#[derive(Clone, Copy, Debug, Default)]
pub struct Interest {
    pub master_read: bool,
    pub master_write: bool,
    pub client_read: bool,
    pub client_write: bool,
}

impl Console {
    pub fn new(pty: Pty, listener: UnixListener) -> Console {
        tracing::debug!("console pty {}", pty.slave_path.display());
        Console {
            pty,
            listener,
            client: None,
            backlog: VecDeque::new(),
            to_client: Vec::new(),
            to_master: Vec::new(),
        }
    }

    pub fn slave(&self) -> BorrowedFd<'_> {
        self.pty.slave.as_fd()
    }

    pub fn slave_path(&self) -> &std::path::Path {
        &self.pty.slave_path
    }

    pub fn master(&self) -> BorrowedFd<'_> {
        self.pty.master.as_fd()
    }

    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    pub fn client(&self) -> Option<BorrowedFd<'_>> {
        self.client.as_ref().map(|client| client.as_fd())
    }

    pub fn interest(&self) -> Interest {
        Interest {
            master_read: self.to_client.len() < CLIENT_QUEUE_MAX,
            master_write: !self.to_master.is_empty(),
            client_read: self.client.is_some() && self.to_master.len() < INPUT_QUEUE_MAX,
            client_write: self.client.is_some() && !self.to_client.is_empty(),
        }
    }

    /// A new client replaces the current one (libvirt's console "force") and first gets
    /// what was printed while nobody watched.
    pub fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.client = Some(stream);
            self.to_client = self.backlog.drain(..).collect();
            self.to_master.clear();
        }
    }

    /// Reads everything the container has written so far.
    pub fn master_readable(&mut self) {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match nix::unistd::read(self.pty.master.as_raw_fd(), &mut buffer) {
                Ok(0) => return,
                Ok(n) => self.output(&buffer[..n]),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return, // EAGAIN: drained
            }
            if self.to_client.len() >= CLIENT_QUEUE_MAX {
                return;
            }
        }
    }

    fn output(&mut self, bytes: &[u8]) {
        if self.client.is_some() {
            self.to_client.extend_from_slice(bytes);
        } else {
            self.backlog.extend(bytes);
            let excess = self.backlog.len().saturating_sub(BACKLOG_MAX);
            self.backlog.drain(..excess);
        }
    }

    pub fn master_writable(&mut self) {
        match nix::unistd::write(self.pty.master.as_fd(), &self.to_master) {
            Ok(n) => {
                self.to_master.drain(..n);
            }
            Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => self.to_master.clear(),
        }
    }

    pub fn client_readable(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let mut buffer = [0u8; 4096];
        match client.read(&mut buffer) {
            Ok(0) => self.detach(),
            Ok(n) => self.to_master.extend_from_slice(&buffer[..n]),
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => self.detach(),
        }
    }

    pub fn client_writable(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        match client.write(&self.to_client) {
            Ok(n) => {
                self.to_client.drain(..n);
            }
            Err(error)
                if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => self.detach(),
        }
    }

    /// The client went away: what it had not read yet is lost, later output is kept.
    pub fn detach(&mut self) {
        self.client = None;
        self.to_client.clear();
        self.to_master.clear();
    }

    /// At the end: hands the container's last output to the client, for at most `budget`.
    pub fn flush(&mut self, budget: std::time::Duration) {
        self.master_readable();
        let deadline = std::time::Instant::now() + budget;
        while self.client.is_some()
            && !self.to_client.is_empty()
            && std::time::Instant::now() < deadline
        {
            self.client_writable();
            if !self.to_client.is_empty() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
}
