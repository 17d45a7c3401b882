//! Interactive SSH channels (`ssh.open-terminal`): a remote command run with a terminal,
//! joined to a pseudo-terminal on this machine that a console opens like a guest's serial pty.
//!
//! The `ssh` client holds the pty's master as its input and output; the host keeps one
//! descriptor of the slave open for the channel's whole life, so the remote side never sees
//! an end of input while no console is attached, and what it prints meanwhile waits in the
//! pty. This module knows how to make and watch such a channel, not what runs in it.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::error::system;

/// Output kept while waiting for the ready text, for the error if it never comes.
const READY_OUTPUT_LIMIT: usize = 64 << 10;

/// A running channel. Dropping it ends the remote command (the ssh client is killed, so the
/// channel closes and the remote terminal hangs up).
pub(crate) struct Terminal {
    child: Child,
    /// The slave held open for the channel's life (see the module doc).
    keeper: OwnedFd,
    pub(crate) pty: String,
}

impl Terminal {
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pty_error(what: &str, error: nix::Error) -> Error {
    system(format!("cannot {what} a pseudo-terminal"), error)
}

/// A pty pair, both ends close-on-exec (only the child's stdio gets the master), the slave
/// in raw mode so bytes pass unchanged.
fn open_pty() -> Result<(OwnedFd, OwnedFd, String), Error> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| pty_error("open", e))?;
    grantpt(&master).map_err(|e| pty_error("grant", e))?;
    unlockpt(&master).map_err(|e| pty_error("unlock", e))?;
    let path = ptsname_r(&master).map_err(|e| pty_error("name", e))?;
    let slave: OwnedFd = nix::fcntl::open(
        path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| pty_error("open the slave of", e))
    // SAFETY: `open` returned a new descriptor that nothing else owns.
    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })?;
    let mut mode = tcgetattr(&slave).map_err(|e| pty_error("read the mode of", e))?;
    cfmakeraw(&mut mode);
    tcsetattr(&slave, SetArg::TCSANOW, &mode).map_err(|e| pty_error("set the mode of", e))?;
    // SAFETY: `into_raw_fd` gives up the descriptor, so it has exactly one owner again.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave, path))
}

/// Starts `command` (an `ssh -tt ...` invocation) on a new pty and, when `ready` is given,
/// waits until it prints that text. `what` names the remote command in errors.
pub(crate) fn start(
    mut command: Command,
    what: &str,
    ready: Option<&str>,
    timeout: Duration,
) -> Result<Terminal, Error> {
    let (master, keeper, pty) = open_pty()?;
    let clone = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| system("cannot duplicate a pseudo-terminal descriptor", e))
    };
    command
        .stdin(Stdio::from(clone(&master)?))
        .stdout(Stdio::from(clone(&master)?))
        .stderr(Stdio::from(clone(&master)?));
    let child = command
        .spawn()
        .map_err(|e| system("cannot execute 'ssh'", e))?;
    drop(command);
    let mut terminal = Terminal { child, keeper, pty };
    if let Some(ready) = ready {
        // The master stays open here while waiting: when its last descriptor closes, Linux
        // hangs the pty up and drops what is unread, such as the refusal of a command that
        // printed it and exited at once. Afterwards only the child holds it, so consoles see
        // the end of the channel.
        wait_ready(&mut terminal, what, ready, timeout)?;
    }
    drop(master);
    Ok(terminal)
}

/// Reads the terminal's output until `ready` appears (dropping it and what came before), the
/// command ends, or the deadline passes (then the command is killed).
fn wait_ready(
    terminal: &mut Terminal,
    what: &str,
    ready: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if contains(&seen, ready.as_bytes()) {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = terminal.child.kill();
            return Err(failed(format!(
                "'{what}' did not print '{ready}' within {} ms: {}",
                timeout.as_millis(),
                printed(&seen)
            )));
        }
        let fd = terminal.keeper.as_fd();
        let mut polled = [PollFd::new(fd, PollFlags::POLLIN)];
        let wait =
            PollTimeout::try_from(left.min(Duration::from_millis(50))).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut polled, wait) {
            Ok(0) | Err(nix::Error::EINTR) => {}
            Ok(_) => match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) | Err(nix::Error::EIO) => return Err(ended(terminal, what, &seen)),
                Ok(n) => {
                    if seen.len() < READY_OUTPUT_LIMIT {
                        seen.extend_from_slice(&buf[..n]);
                    }
                }
                Err(nix::Error::EAGAIN | nix::Error::EINTR) => {}
                Err(e) => return Err(pty_error("read", e)),
            },
            Err(e) => return Err(pty_error("poll", e)),
        }
        // What a command that ended printed last is still in the pty (the master is open).
        if !terminal.alive() {
            drain(terminal.keeper.as_fd(), &mut seen);
            if contains(&seen, ready.as_bytes()) {
                return Ok(());
            }
            return Err(ended(terminal, what, &seen));
        }
    }
}

/// Reads what is waiting in the pty without blocking.
fn drain(fd: std::os::fd::BorrowedFd<'_>, seen: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while seen.len() < READY_OUTPUT_LIMIT {
        let mut polled = [PollFd::new(fd, PollFlags::POLLIN)];
        match nix::poll::poll(&mut polled, PollTimeout::ZERO) {
            Ok(n) if n > 0 => match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                _ => return,
            },
            _ => return,
        }
    }
}

fn ended(terminal: &mut Terminal, what: &str, seen: &[u8]) -> Error {
    let status = terminal
        .child
        .wait()
        .map(|status| status.to_string())
        .unwrap_or_else(|_| "unknown status".into());
    failed(format!(
        "'{what}' ended ({status}) before it was ready: {}",
        printed(seen)
    ))
}

fn printed(seen: &[u8]) -> String {
    let text = String::from_utf8_lossy(seen);
    let text = text.trim();
    if text.is_empty() {
        "it printed nothing".into()
    } else {
        text.replace("\r\n", "\n")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn failed(message: String) -> Error {
    Error::new(ErrorNumber::OPERATION_FAILED, ErrorDomain::NONE, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_terminal_moves_bytes_both_ways_after_its_ready_text() {
        let mut terminal = start(
            shell("echo noise; echo READY; exec cat"),
            "cat",
            Some("READY"),
            Duration::from_secs(10),
        )
        .expect("start");
        assert!(terminal.alive());
        let mut console = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&terminal.pty)
            .expect("open the pty");
        console.write_all(b"ping\n").expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !contains(&got, b"ping") {
            let n = console.read(&mut buf).expect("read");
            assert!(n > 0, "the terminal closed");
            got.extend_from_slice(&buf[..n]);
        }
        // The ready text and what came before it were dropped.
        assert!(!contains(&got, b"noise"), "{got:?}");
        drop(console);
        // Closing the console does not end the channel.
        std::thread::sleep(Duration::from_millis(100));
        assert!(terminal.alive());
    }

    #[test]
    fn a_command_that_ends_before_it_is_ready_is_an_error_with_its_output() {
        let error = start(
            shell("echo 'HSCL1391 not activated'; exit 1"),
            "mkvterm",
            Some("Open Completed."),
            Duration::from_secs(10),
        )
        .err()
        .expect("refused");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        let message = error.to_string();
        assert!(message.contains("HSCL1391 not activated"), "{message}");
        assert!(message.contains("mkvterm"), "{message}");
    }

    #[test]
    fn a_command_that_never_gets_ready_is_killed_at_the_deadline() {
        let started = Instant::now();
        let error = start(
            shell("exec sleep 30"),
            "sleep",
            Some("never"),
            Duration::from_millis(300),
        )
        .err()
        .expect("timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(error.to_string().contains("within 300 ms"), "{error}");
    }
}
