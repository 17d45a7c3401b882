//! `console`: connects the terminal to a domain's console until the escape character.
//!
//! virt-core hands out the console as one duplex descriptor (`domain_open_console_stream`: the
//! pty or socket an in-process driver serves, or the remote transport's end of a socket
//! pair); rvirsh moves the bytes between it and the terminal, which it puts in raw mode. A
//! driver that has no console answers VIR_ERR_NO_SUPPORT, reported like any driver error.

use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{self, SetArg, Termios};
use virt_core::blocking::Domain;
use virt_core::consts::domain_state;

use crate::files::os_error_text;
use crate::session::{CmdResult, Failure, Session};

/// The byte an escape sequence like "^]" or "x" stands for.
pub fn escape_byte(sequence: &str) -> u8 {
    let bytes = sequence.as_bytes();
    match bytes {
        [b'^', c, ..] => c.to_ascii_uppercase() & 0x1f,
        [c, ..] => *c,
        [] => 0x1d,
    }
}

/// True for the escape sequences `-e` accepts: one character other than '^', or '^' and
/// one of a-z, A-Z, @, [, \, ], ^, _.
pub fn valid_escape(sequence: &str) -> bool {
    match sequence.as_bytes() {
        [b'^', c] => c.is_ascii_lowercase() || (b'@'..=b'_').contains(c),
        [c] => *c != b'^',
        _ => false,
    }
}

/// Attaches the terminal to `domain`'s console (virsh's `cmdRunConsole`).
pub fn attach(
    session: &mut Session,
    domain: &Domain,
    dev_name: Option<&str>,
    flags: u32,
) -> CmdResult {
    let state = match domain.state(0) {
        Ok(state) => state.state,
        Err(_) => return Err(Failure::message("Unable to get domain status")),
    };
    if state == domain_state::SHUTOFF {
        return Err(Failure::message("The domain is not running"));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::message(
            "Cannot run interactive console without a controlling TTY",
        ));
    }
    let escape = session.options.escape.clone();
    session.print_extra(format!("Connected to domain '{}'\n", domain.name()));
    session.print_extra(format!("Escape character is {escape}"));
    if let [b'^', c] = escape.as_bytes() {
        session.print_extra(format!(" (Ctrl + {})", char::from(*c)));
    }
    session.print_extra("\n");
    session.flush();

    let raw = RawTerminal::enter(stdin.as_fd())?;
    // The driver's console as one duplex descriptor: a pty or socket it serves on this
    // machine, or the remote transport's end of a socket pair.
    let descriptor = domain.open_console_stream(dev_name, flags)?;
    let mut console = std::fs::File::from(descriptor);
    let result = pump(&mut console, escape_byte(&escape));
    drop(raw);
    result.map_err(|error| Failure::message(format!("console: {}", os_error_text(&error))))
}

/// The terminal in raw mode; the previous settings come back when this is dropped.
struct RawTerminal<'fd> {
    fd: BorrowedFd<'fd>,
    saved: Termios,
}

impl<'fd> RawTerminal<'fd> {
    fn enter(fd: BorrowedFd<'fd>) -> Result<RawTerminal<'fd>, Failure> {
        let saved = termios::tcgetattr(fd).map_err(|errno| {
            Failure::message(format!("unable to make terminal raw: {}", errno.desc()))
        })?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(fd, SetArg::TCSAFLUSH, &raw).map_err(|errno| {
            Failure::message(format!("unable to set tty attributes: {}", errno.desc()))
        })?;
        Ok(RawTerminal { fd, saved })
    }
}

impl Drop for RawTerminal<'_> {
    fn drop(&mut self) {
        // Nothing more can be done if the terminal cannot be restored.
        let _ = termios::tcsetattr(self.fd, SetArg::TCSAFLUSH, &self.saved);
    }
}

/// Moves bytes between the terminal and the console until the escape byte or the console's
/// end.
fn pump(console: &mut (impl Read + Write + AsFd), escape: u8) -> std::io::Result<()> {
    // Unbuffered reads on a duplicate of fd 0: std's buffered stdin could keep bytes that
    // poll would then never report.
    let mut terminal = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    pump_between(&mut terminal, &mut std::io::stdout(), console, escape)
}

/// The byte mover: what `terminal` gives goes to `console` (up to the escape byte), what
/// `console` gives goes to `screen`, until the escape byte or either side's end.
fn pump_between(
    terminal: &mut (impl Read + AsFd),
    screen: &mut impl Write,
    console: &mut (impl Read + Write + AsFd),
    escape: u8,
) -> std::io::Result<()> {
    let mut buffer = [0u8; 4096];
    loop {
        let (stdin_ready, console_ready) = {
            let mut fds = [
                PollFd::new(terminal.as_fd(), PollFlags::POLLIN),
                PollFd::new(console.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(errno) => return Err(std::io::Error::from(errno)),
            }
            let ready = |fd: &PollFd<'_>| {
                fd.revents().is_some_and(|events| {
                    events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
                })
            };
            (ready(&fds[0]), ready(&fds[1]))
        };
        if console_ready {
            let count = console.read(&mut buffer)?;
            if count == 0 {
                return Ok(());
            }
            screen.write_all(&buffer[..count])?;
            screen.flush()?;
        }
        if stdin_ready {
            let count = terminal.read(&mut buffer)?;
            if count == 0 {
                return Ok(());
            }
            let typed = &buffer[..count];
            match typed.iter().position(|byte| *byte == escape) {
                Some(idx) => {
                    console.write_all(&typed[..idx])?;
                    return Ok(());
                }
                None => console.write_all(typed)?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_flow_both_ways_until_the_escape() {
        let (mut console_side, mut guest) = UnixStream::pair().expect("socketpair");
        let (mut terminal, mut keyboard) = UnixStream::pair().expect("socketpair");
        guest.write_all(b"login: ").expect("guest writes");
        keyboard
            .write_all(b"root\n\x1dignored")
            .expect("user types");
        let mut screen = Vec::new();
        pump_between(&mut terminal, &mut screen, &mut console_side, 0x1d).expect("pump");
        drop(console_side);
        let mut received = Vec::new();
        guest.read_to_end(&mut received).expect("guest reads");
        assert_eq!(received, b"root\n");
        assert_eq!(screen, b"login: ");
    }

    #[test]
    fn console_end_ends_the_session() {
        let (mut console_side, guest) = UnixStream::pair().expect("socketpair");
        let (mut terminal, _keyboard) = UnixStream::pair().expect("socketpair");
        drop(guest);
        let mut screen = Vec::new();
        pump_between(&mut terminal, &mut screen, &mut console_side, 0x1d).expect("pump");
        assert!(screen.is_empty());
    }

    #[test]
    fn escape_sequences() {
        assert_eq!(escape_byte("^]"), 0x1d);
        assert_eq!(escape_byte("^a"), 0x01);
        assert_eq!(escape_byte("x"), b'x');
        assert!(valid_escape("^]") && valid_escape("^a") && valid_escape("x"));
        assert!(!valid_escape("^") && !valid_escape("^1") && !valid_escape("ab"));
    }
}
