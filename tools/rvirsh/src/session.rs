//! The state one rvirsh process carries from command to command (virsh's `vshControl`): the
//! global options, the connection (opened on first use), where output goes, and how a failed
//! command is reported.
//!
//! A failure is reported the way virsh reports it: first the command's own lines
//! ("error: Failed to start domain 'x'"), then the libvirt error that caused it
//! ("error: Requested operation is not valid: ..."), each on stderr.

use std::io::Write;

use virt_core::blocking::Connect;

use crate::grammar::OptionError;

/// Where a connection URI comes from when `-c` is not given, in order.
pub const DEFAULT_URI_VARIABLES: [&str; 2] = ["RVIRSH_DEFAULT_URI", "LIBVIRT_DEFAULT_URI"];
/// The URI used when neither `-c` nor the environment names one.
pub const FALLBACK_URI: &str = "test:///default";

/// The options given before the command.
#[derive(Clone, Debug, Default)]
pub struct GlobalOptions {
    /// `-c URI`.
    pub uri: Option<String>,
    /// `-r`: open the connection read-only.
    pub readonly: bool,
    /// `-q`: no informational messages, no table headers.
    pub quiet: bool,
    /// `-t`: print how long each command took.
    pub timing: bool,
    /// `-e`: the console's escape sequence, e.g. "^]".
    pub escape: String,
}

/// Why a command failed: the lines it reports and the API error behind them, if any.
#[derive(Debug, Default)]
pub struct Failure {
    pub messages: Vec<String>,
    pub cause: Option<virt_core::Error>,
}

impl Failure {
    /// A failure described by one line.
    pub fn message(text: impl Into<String>) -> Failure {
        Failure {
            messages: vec![text.into()],
            cause: None,
        }
    }

    /// A failure already reported (or one virsh reports nothing for).
    pub fn silent() -> Failure {
        Failure::default()
    }
}

impl From<virt_core::Error> for Failure {
    fn from(error: virt_core::Error) -> Failure {
        Failure {
            messages: Vec::new(),
            cause: Some(error),
        }
    }
}

impl From<OptionError> for Failure {
    fn from(error: OptionError) -> Failure {
        Failure::message(error.to_string())
    }
}

/// What every command handler returns.
pub type CmdResult = Result<(), Failure>;

/// Adds the command's own line in front of an API error, as virsh's `vshError` before
/// `vshReportError` does.
pub trait Context<T> {
    fn context(self, line: impl FnOnce() -> String) -> Result<T, Failure>;
}

impl<T> Context<T> for Result<T, virt_core::Error> {
    fn context(self, line: impl FnOnce() -> String) -> Result<T, Failure> {
        self.map_err(|error| Failure {
            messages: vec![line()],
            cause: Some(error),
        })
    }
}

/// One rvirsh process's state.
pub struct Session {
    pub options: GlobalOptions,
    connection: Option<Connect>,
    /// Why a backend could not be set up; reported when no backend serves the URI.
    backend_error: Option<virt_core::Error>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    /// True in the interactive shell.
    pub interactive: bool,
    /// Long transfers draw a progress bar on stderr (when it is a terminal).
    pub progress_bars: bool,
    /// The percentage the bar last showed, so that it is redrawn only when it moves.
    drawn_percent: Option<u32>,
    /// Set by `quit`/`exit`.
    pub quit_requested: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.options)
            .finish()
    }
}

impl Session {
    pub fn new(options: GlobalOptions, out: Box<dyn Write>, err: Box<dyn Write>) -> Session {
        Session {
            options,
            connection: None,
            backend_error: None,
            out,
            err,
            interactive: false,
            progress_bars: false,
            drawn_percent: None,
            quit_requested: false,
        }
    }

    /// Records why a backend is missing (see [`crate::backends::register`]).
    pub fn set_backend_error(&mut self, error: Option<virt_core::Error>) {
        self.backend_error = error;
    }

    /// The URI this session connects to: `-c`, then the environment, then `test:///default`.
    pub fn target_uri(&self) -> String {
        if let Some(uri) = &self.options.uri {
            return uri.clone();
        }
        DEFAULT_URI_VARIABLES
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
            .unwrap_or_else(|| FALLBACK_URI.to_string())
    }

    /// The connection, opened on first use.
    pub fn connect(&mut self) -> Result<Connect, Failure> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        let uri = self.target_uri();
        let opened = if self.options.readonly {
            Connect::open_read_only(&uri)
        } else {
            Connect::open(&uri)
        };
        // A URI nobody serves because a backend failed to start: report the real reason.
        let opened = match (opened, &self.backend_error) {
            (Err(error), Some(backend_error))
                if error.code() == virt_core::ErrorNumber::NO_CONNECT =>
            {
                Err(backend_error.clone())
            }
            (opened, _) => opened,
        };
        let connection = opened.context(|| "failed to connect to the hypervisor".to_string())?;
        self.connection = Some(connection.clone());
        Ok(connection)
    }

    /// Replaces the connection (the `connect` command).
    pub fn reconnect(&mut self, uri: Option<String>, readonly: bool) -> Result<(), Failure> {
        if let Some(old) = self.connection.take() {
            // Closing can only fail on a connection that is already gone.
            let _ = old.close();
        }
        if uri.is_some() {
            self.options.uri = uri;
        }
        self.options.readonly = readonly;
        self.connect().map(|_| ())
    }

    /// Prints to stdout. Output errors (a closed pipe) are not the command's failure.
    pub fn print(&mut self, text: impl AsRef<str>) {
        let _ = self.out.write_all(text.as_ref().as_bytes());
    }

    /// Prints an informational message, unless `-q` (virsh's `vshPrintExtra`).
    pub fn print_extra(&mut self, text: impl AsRef<str>) {
        if !self.options.quiet {
            self.print(text);
        }
    }

    /// Prints "error: LINE" on stderr (virsh's `vshError`).
    pub fn error(&mut self, line: impl AsRef<str>) {
        let _ = self.out.flush();
        let _ = writeln!(self.err, "error: {}", line.as_ref());
        let _ = self.err.flush();
    }

    /// Prints a job's progress on stderr ("\rSave: [100 %]"), as virsh's `--verbose` does.
    pub fn progress(&mut self, label: &str, percent: u32) {
        let _ = self.out.flush();
        let _ = write!(self.err, "\r{label}: [{percent:>3} %]");
        let _ = self.err.flush();
    }

    /// Draws a transfer's progress bar on stderr when bars are on: "LABEL [####----]  45 %
    /// 115.20 MiB / 256.00 MiB". Redrawn only when the percentage moves.
    pub fn transfer_progress(&mut self, label: &str, done: u64, total: u64) {
        if !self.progress_bars {
            return;
        }
        let percent = match total {
            0 => 100,
            total => (done.min(total) * 100 / total) as u32,
        };
        if self.drawn_percent == Some(percent) {
            return;
        }
        self.drawn_percent = Some(percent);
        const WIDTH: usize = 30;
        let filled = percent as usize * WIDTH / 100;
        let _ = self.out.flush();
        let _ = write!(
            self.err,
            "\r{label} [{}{}] {percent:>3} %  {} / {}",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            crate::format::pretty_bytes(done),
            crate::format::pretty_bytes(total)
        );
        let _ = self.err.flush();
    }

    /// Ends a progress bar's line (after its last draw).
    pub fn end_progress(&mut self) {
        if self.progress_bars && self.drawn_percent.take().is_some() {
            let _ = writeln!(self.err);
            let _ = self.err.flush();
        }
    }

    /// Reports a failed command: its own lines, then the API error.
    pub fn report(&mut self, failure: &Failure) {
        for line in &failure.messages {
            self.error(line);
        }
        if let Some(cause) = &failure.cause {
            self.error(cause.message());
        }
    }

    /// Prints a value as one JSON document (the `--json` output).
    pub fn print_json(&mut self, value: &impl serde::Serialize) -> CmdResult {
        let text = serde_json::to_string_pretty(value)
            .map_err(|error| Failure::message(format!("cannot format JSON: {error}")))?;
        self.print(text);
        self.print("\n");
        Ok(())
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}

#[cfg(test)]
pub mod testing {
    //! A session whose output is captured, for the command modules' unit tests.

    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer the test keeps a handle to.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut bytes) = self.0.lock() {
                bytes.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A session on `uri` with captured stdout and stderr.
    pub fn session(uri: &str) -> (Session, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        let options = GlobalOptions {
            uri: Some(uri.to_string()),
            escape: "^]".into(),
            ..GlobalOptions::default()
        };
        (
            Session::new(options, Box::new(out.clone()), Box::new(err.clone())),
            out,
            err,
        )
    }
}
