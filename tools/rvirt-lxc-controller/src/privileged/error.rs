//! The controller's one error type: a libvirt error number and the message a user reads.
//!
//! Every failure travels to the driver in an `ERROR_EVENT` and ends up in front of the user,
//! so messages say what failed and where ("cannot mount proc on /proc: Permission denied"),
//! in libvirt's style, and carry the `virErrorNumber` the driver reports.

use std::fmt;

use nix::errno::Errno;
use virt_core::ErrorNumber;

/// A failure with its libvirt error number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorNumber,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// A system call failed (VIR_ERR_SYSTEM_ERROR): "`what`: `strerror`".
    pub fn system(what: impl fmt::Display, errno: Errno) -> Failure {
        Failure {
            code: ErrorNumber::SYSTEM_ERROR,
            message: format!("{what}: {}", errno.desc()),
        }
    }

    /// An I/O error (VIR_ERR_SYSTEM_ERROR).
    pub fn io(what: impl fmt::Display, error: &std::io::Error) -> Failure {
        match error.raw_os_error() {
            Some(errno) => Failure::system(what, Errno::from_raw(errno)),
            None => Failure {
                code: ErrorNumber::SYSTEM_ERROR,
                message: format!("{what}: {error}"),
            },
        }
    }

    /// The configuration asks for something this host cannot do (VIR_ERR_CONFIG_UNSUPPORTED).
    pub fn unsupported(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorNumber::CONFIG_UNSUPPORTED,
            message: message.into(),
        }
    }

    /// The configuration names something that does not exist or is unusable
    /// (VIR_ERR_OPERATION_FAILED).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorNumber::OPERATION_FAILED,
            message: message.into(),
        }
    }

    /// An operation that is not valid in the container's current state
    /// (VIR_ERR_OPERATION_INVALID).
    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorNumber::OPERATION_INVALID,
            message: message.into(),
        }
    }

    /// Something inside the controller went wrong (VIR_ERR_INTERNAL_ERROR).
    pub fn internal(message: impl Into<String>) -> Failure {
        Failure {
            code: ErrorNumber::INTERNAL_ERROR,
            message: message.into(),
        }
    }
}

/// Results of the privileged side.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// Attaches "what was being done" to a system call's errno.
pub trait Context<T> {
    fn context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Context<T> for nix::Result<T> {
    fn context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|errno| Failure::system(what(), errno))
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|error| Failure::io(what(), &error))
    }
}
