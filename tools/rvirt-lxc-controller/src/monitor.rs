//! The monitor protocol between the LXC driver and a controller, on the controller's unix
//! socket: libvirt's program 0x12341234 version 1, framed like every libvirt RPC message
//! (a 4-byte big-endian length that counts itself, then the 24-byte header, then XDR).
//!
//! libvirt defines two events, controller → driver, both `MESSAGE`/serial 1/status OK:
//! `EXIT_EVENT` (proc 1, `{status}`: 0 error, 1 shutdown, 2 reboot) and `INIT_EVENT`
//! (proc 2, `{unsigned hyper initpid}`). rvirt keeps them bit for bit and adds, in
//! procedures ≥ 100 that libvirt does not use:
//! - `ERROR_EVENT` (110, `{int code; string message}`), sent just before `EXIT(ERROR)` so the
//!   driver can report what went wrong;
//! - calls from the driver (`CALL`, any serial) answered with a `REPLY` of the same serial:
//!   the privileged operations the sandboxed driver cannot do itself (container info from the
//!   cgroups, freeze/thaw, signalling init, destroy, reboot, live memory limit) and
//!   `WAIT_INIT`, which a driver that just connected asks instead of waiting for the pushed
//!   INIT event (it may have arrived before the driver listened). A failed call is answered
//!   with status ERROR and `{int code; string message}` (a `virErrorNumber`).
//!
//! This module is the only place that knows the messages; the frame header and the XDR
//! encoding are `virt-rpc`'s (without its `runtime` feature, so the wasm plugin shares them).

use std::fmt;

use virt_rpc::frame::{self, encode_frame, Header, MessageType, Status};
use virt_rpc::xdr::{Decoder, Xdr, XdrError};

/// The monitor program number.
pub const PROGRAM: u32 = 0x1234_1234;
/// Its only version.
pub const VERSION: u32 = 1;
/// Largest frame either side accepts (the protocol's messages are tiny).
pub const MAX_FRAME: usize = 64 * 1024;

/// Procedure numbers.
pub mod procedure {
    /// libvirt: the container is gone, with the reason.
    pub const EXIT_EVENT: i32 = 1;
    /// libvirt: the container's init runs with this pid.
    pub const INIT_EVENT: i32 = 2;
    /// rvirt: usage figures from the container's cgroups.
    pub const GET_INFO: i32 = 100;
    /// rvirt: freeze every task of the container.
    pub const FREEZE: i32 = 101;
    /// rvirt: thaw it.
    pub const THAW: i32 = 102;
    /// rvirt: send a signal to the container's init (shutdown, reboot requests).
    pub const SIGNAL_INIT: i32 = 103;
    /// rvirt: kill the container now; an EXIT event follows.
    pub const DESTROY: i32 = 104;
    /// rvirt: change the memory hard limit of the running container.
    pub const SET_MEMORY: i32 = 105;
    /// rvirt: answered once init runs, with its pid (or with why the start failed). A driver
    /// that just connected asks this instead of waiting for INIT, which may have been pushed
    /// before the driver was listening for it.
    pub const WAIT_INIT: i32 = 106;
    /// rvirt: restart the container now (init is killed); EXIT(REBOOT) follows.
    pub const REBOOT: i32 = 107;
    /// rvirt: the controller failed; the message says why. EXIT(ERROR) follows.
    pub const ERROR_EVENT: i32 = 110;
}

/// `virNetMessageType` values used here.
mod message_type {
    pub const CALL: i32 = 0;
    pub const REPLY: i32 = 1;
    pub const MESSAGE: i32 = 2;
}

/// `virNetMessageStatus` values used here.
mod status {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
}

/// How the container ended (`virLXCMonitorExitStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The controller failed.
    Error = 0,
    /// Init exited (for any reason other than a reboot).
    Shutdown = 1,
    /// Init was killed by SIGHUP: a reboot inside the pid namespace.
    Reboot = 2,
}

impl ExitStatus {
    fn from_wire(value: i32) -> Result<ExitStatus, ProtocolError> {
        match value {
            0 => Ok(ExitStatus::Error),
            1 => Ok(ExitStatus::Shutdown),
            2 => Ok(ExitStatus::Reboot),
            _ => Err(ProtocolError::Invalid(format!(
                "unknown exit status {value}"
            ))),
        }
    }

    /// The controller's own exit code for this reason, so that a driver which missed the
    /// EXIT event (it was restarting) still learns the reason from the process status.
    pub fn exit_code(self) -> i32 {
        match self {
            ExitStatus::Shutdown => 0,
            ExitStatus::Error => 1,
            ExitStatus::Reboot => 2,
        }
    }

    /// The inverse of [`ExitStatus::exit_code`].
    pub fn from_exit_code(code: i32) -> ExitStatus {
        match code {
            0 => ExitStatus::Shutdown,
            2 => ExitStatus::Reboot,
            _ => ExitStatus::Error,
        }
    }
}

/// A driver → controller request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    GetInfo,
    Freeze,
    Thaw,
    SignalInit { signal: i32 },
    Destroy,
    SetMemory { kib: u64 },
    WaitInit,
    Reboot,
}

impl Request {
    pub fn procedure(&self) -> i32 {
        match self {
            Request::GetInfo => procedure::GET_INFO,
            Request::Freeze => procedure::FREEZE,
            Request::Thaw => procedure::THAW,
            Request::SignalInit { .. } => procedure::SIGNAL_INIT,
            Request::Destroy => procedure::DESTROY,
            Request::SetMemory { .. } => procedure::SET_MEMORY,
            Request::WaitInit => procedure::WAIT_INIT,
            Request::Reboot => procedure::REBOOT,
        }
    }
}

/// What the container uses, from its cgroups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Memory in use, KiB.
    pub memory_kib: u64,
    /// The memory hard limit, KiB (0: none).
    pub memory_limit_kib: u64,
    /// CPU time used by all tasks, ns.
    pub cpu_time_ns: u64,
    /// Tasks in the container.
    pub n_tasks: u64,
    /// Whether the container is frozen.
    pub frozen: bool,
}

/// A successful reply's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Void,
    Info(ContainerInfo),
    /// The init pid, answering WAIT_INIT.
    Init {
        pid: u64,
    },
}

/// A failed call: a `virErrorNumber` and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    pub code: i32,
    pub message: String,
}

/// One message of the monitor protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Exit(ExitStatus),
    Init {
        pid: u64,
    },
    Error(RemoteError),
    Call {
        serial: u32,
        request: Request,
    },
    Reply {
        serial: u32,
        procedure: i32,
        result: Result<Response, RemoteError>,
    },
}

/// Why bytes are not a monitor message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    Truncated,
    TooLarge(usize),
    WrongProgram { prog: u32, vers: u32 },
    UnknownProcedure(i32),
    Invalid(String),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Truncated => f.write_str("monitor message is truncated"),
            ProtocolError::TooLarge(len) => {
                write!(f, "monitor message of {len} bytes is too large")
            }
            ProtocolError::WrongProgram { prog, vers } => {
                write!(
                    f,
                    "unexpected program {prog:#x} version {vers} on the monitor socket"
                )
            }
            ProtocolError::UnknownProcedure(proc_) => {
                write!(f, "unknown monitor procedure {proc_}")
            }
            ProtocolError::Invalid(what) => write!(f, "invalid monitor message: {what}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A message being built: its header and XDR payload, framed by `virt-rpc`.
struct Writer {
    header: Header,
    payload: Vec<u8>,
}

impl Writer {
    fn header(procedure: i32, kind: i32, serial: u32, status: i32) -> Writer {
        Writer {
            header: Header {
                prog: PROGRAM,
                vers: VERSION,
                procedure,
                kind: MessageType(kind),
                serial,
                status: Status(status),
            },
            payload: Vec::with_capacity(16),
        }
    }
    fn u32(&mut self, value: u32) {
        value.encode(&mut self.payload);
    }
    fn i32(&mut self, value: i32) {
        value.encode(&mut self.payload);
    }
    fn u64(&mut self, value: u64) {
        value.encode(&mut self.payload);
    }
    fn error(&mut self, error: &RemoteError) {
        error.code.encode(&mut self.payload);
        error.message.encode(&mut self.payload);
    }
    fn finish(self) -> Vec<u8> {
        encode_frame(&self.header, |out| out.extend_from_slice(&self.payload))
    }
}

impl From<XdrError> for ProtocolError {
    fn from(error: XdrError) -> Self {
        match error {
            XdrError::Truncated { .. } => ProtocolError::Truncated,
            other => ProtocolError::Invalid(other.to_string()),
        }
    }
}

/// Reads a message's payload with `virt-rpc`'s XDR decoder.
struct Reader<'a>(Decoder<'a>);

impl Reader<'_> {
    fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::decode(&mut self.0)?)
    }
    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::decode(&mut self.0)?)
    }
    fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::decode(&mut self.0)?)
    }
    fn error(&mut self) -> Result<RemoteError, ProtocolError> {
        Ok(RemoteError {
            code: self.i32()?,
            message: String::decode(&mut self.0)?,
        })
    }
}

impl Message {
    /// The complete frame, length word included.
    pub fn encode(&self) -> Vec<u8> {
        let event = |procedure| Writer::header(procedure, message_type::MESSAGE, 1, status::OK);
        match self {
            Message::Exit(reason) => {
                let mut writer = event(procedure::EXIT_EVENT);
                writer.i32(*reason as i32);
                writer.finish()
            }
            Message::Init { pid } => {
                let mut writer = event(procedure::INIT_EVENT);
                writer.u64(*pid);
                writer.finish()
            }
            Message::Error(error) => {
                let mut writer = event(procedure::ERROR_EVENT);
                writer.error(error);
                writer.finish()
            }
            Message::Call { serial, request } => {
                let mut writer =
                    Writer::header(request.procedure(), message_type::CALL, *serial, status::OK);
                match request {
                    Request::SignalInit { signal } => writer.i32(*signal),
                    Request::SetMemory { kib } => writer.u64(*kib),
                    Request::GetInfo
                    | Request::Freeze
                    | Request::Thaw
                    | Request::Destroy
                    | Request::WaitInit
                    | Request::Reboot => {}
                }
                writer.finish()
            }
            Message::Reply {
                serial,
                procedure,
                result,
            } => match result {
                Ok(response) => {
                    let mut writer =
                        Writer::header(*procedure, message_type::REPLY, *serial, status::OK);
                    match response {
                        Response::Info(info) => {
                            writer.u64(info.memory_kib);
                            writer.u64(info.memory_limit_kib);
                            writer.u64(info.cpu_time_ns);
                            writer.u64(info.n_tasks);
                            writer.u32(info.frozen as u32);
                        }
                        Response::Init { pid } => writer.u64(*pid),
                        Response::Void => {}
                    }
                    writer.finish()
                }
                Err(error) => {
                    let mut writer =
                        Writer::header(*procedure, message_type::REPLY, *serial, status::ERROR);
                    writer.error(error);
                    writer.finish()
                }
            },
        }
    }

    /// Decodes one frame. The length word may be present (a frame as read from the socket)
    /// or already stripped (as some framers deliver it); trailing bytes are ignored, as
    /// libvirt ignores them.
    pub fn decode(frame: &[u8]) -> Result<Message, ProtocolError> {
        let mut bytes = frame;
        if bytes.len() > MAX_FRAME {
            return Err(ProtocolError::TooLarge(bytes.len()));
        }
        if bytes.len() >= 4
            && u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize == bytes.len()
        {
            bytes = &bytes[4..];
        }
        let mut reader = Reader(Decoder::new(bytes));
        let header = Header::decode(&mut reader.0)?;
        if header.prog != PROGRAM || header.vers != VERSION {
            return Err(ProtocolError::WrongProgram {
                prog: header.prog,
                vers: header.vers,
            });
        }
        let (procedure, kind, serial, status) = (
            header.procedure,
            header.kind.0,
            header.serial,
            header.status.0,
        );
        match kind {
            message_type::MESSAGE => match procedure {
                procedure::EXIT_EVENT => Ok(Message::Exit(ExitStatus::from_wire(reader.i32()?)?)),
                procedure::INIT_EVENT => Ok(Message::Init { pid: reader.u64()? }),
                procedure::ERROR_EVENT => Ok(Message::Error(reader.error()?)),
                other => Err(ProtocolError::UnknownProcedure(other)),
            },
            message_type::CALL => {
                let request = match procedure {
                    procedure::GET_INFO => Request::GetInfo,
                    procedure::FREEZE => Request::Freeze,
                    procedure::THAW => Request::Thaw,
                    procedure::SIGNAL_INIT => Request::SignalInit {
                        signal: reader.i32()?,
                    },
                    procedure::DESTROY => Request::Destroy,
                    procedure::SET_MEMORY => Request::SetMemory { kib: reader.u64()? },
                    procedure::WAIT_INIT => Request::WaitInit,
                    procedure::REBOOT => Request::Reboot,
                    other => return Err(ProtocolError::UnknownProcedure(other)),
                };
                Ok(Message::Call { serial, request })
            }
            message_type::REPLY => {
                let result = if status == status::ERROR {
                    Err(reader.error()?)
                } else if procedure == procedure::GET_INFO {
                    Ok(Response::Info(ContainerInfo {
                        memory_kib: reader.u64()?,
                        memory_limit_kib: reader.u64()?,
                        cpu_time_ns: reader.u64()?,
                        n_tasks: reader.u64()?,
                        frozen: reader.u32()? != 0,
                    }))
                } else if procedure == procedure::WAIT_INIT {
                    Ok(Response::Init { pid: reader.u64()? })
                } else {
                    Ok(Response::Void)
                };
                Ok(Message::Reply {
                    serial,
                    procedure,
                    result,
                })
            }
            other => Err(ProtocolError::Invalid(format!(
                "unexpected message type {other}"
            ))),
        }
    }
}

/// Cuts length-prefixed frames out of a byte stream (the native side reads raw bytes).
#[derive(Debug, Default)]
pub struct FrameBuffer {
    bytes: Vec<u8>,
}

impl FrameBuffer {
    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }

    /// The next complete frame (length word included), if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ProtocolError> {
        if self.bytes.len() < 4 {
            return Ok(None);
        }
        let word = u32::from_be_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]]);
        let len = frame::check_length(word).map_err(|e| ProtocolError::Invalid(e.to_string()))?;
        if len > MAX_FRAME {
            return Err(ProtocolError::TooLarge(len));
        }
        if self.bytes.len() < len {
            return Ok(None);
        }
        let rest = self.bytes.split_off(len);
        Ok(Some(std::mem::replace(&mut self.bytes, rest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .chunks(4)
            .map(|word| word.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn libvirt_exit_and_init_bytes() {
        // The layouts of lxc_monitor_protocol.x, as remote-protocol-facts.md §9 computes them.
        assert_eq!(
            hex(&Message::Exit(ExitStatus::Shutdown).encode()),
            "00000020 12341234 00000001 00000001 00000002 00000001 00000000 00000001"
        );
        assert_eq!(
            hex(&Message::Init { pid: 1234 }.encode()),
            "00000024 12341234 00000001 00000002 00000002 00000001 00000000 00000000 000004d2"
        );
    }

    #[test]
    fn every_message_round_trips() {
        let messages = [
            Message::Exit(ExitStatus::Error),
            Message::Exit(ExitStatus::Reboot),
            Message::Init { pid: u64::MAX },
            Message::Error(RemoteError {
                code: 38,
                message: "cannot mount /proc: Permission denied".into(),
            }),
            Message::Call {
                serial: 7,
                request: Request::GetInfo,
            },
            Message::Call {
                serial: 8,
                request: Request::SignalInit { signal: 15 },
            },
            Message::Call {
                serial: 9,
                request: Request::SetMemory { kib: 65536 },
            },
            Message::Call {
                serial: 11,
                request: Request::WaitInit,
            },
            Message::Reply {
                serial: 11,
                procedure: procedure::WAIT_INIT,
                result: Ok(Response::Init { pid: 4321 }),
            },
            Message::Call {
                serial: 10,
                request: Request::Destroy,
            },
            Message::Reply {
                serial: 7,
                procedure: procedure::GET_INFO,
                result: Ok(Response::Info(ContainerInfo {
                    memory_kib: 1,
                    memory_limit_kib: 2,
                    cpu_time_ns: 3,
                    n_tasks: 4,
                    frozen: true,
                })),
            },
            Message::Reply {
                serial: 8,
                procedure: procedure::FREEZE,
                result: Ok(Response::Void),
            },
            Message::Reply {
                serial: 9,
                procedure: procedure::THAW,
                result: Err(RemoteError {
                    code: 55,
                    message: "domain is not paused".into(),
                }),
            },
        ];
        for message in messages {
            let frame = message.encode();
            assert_eq!(Message::decode(&frame).as_ref(), Ok(&message));
            // Framers that strip the length word deliver the rest.
            assert_eq!(Message::decode(&frame[4..]).as_ref(), Ok(&message));
        }
    }

    #[test]
    fn frames_are_cut_from_a_stream() {
        let mut stream = Message::Init { pid: 42 }.encode();
        stream.extend(Message::Exit(ExitStatus::Reboot).encode());
        let mut buffer = FrameBuffer::default();
        buffer.push(&stream[..10]);
        assert_eq!(buffer.next_frame(), Ok(None));
        buffer.push(&stream[10..]);
        let first = buffer.next_frame().expect("valid").expect("complete");
        assert_eq!(Message::decode(&first), Ok(Message::Init { pid: 42 }));
        let second = buffer.next_frame().expect("valid").expect("complete");
        assert_eq!(
            Message::decode(&second),
            Ok(Message::Exit(ExitStatus::Reboot))
        );
        assert_eq!(buffer.next_frame(), Ok(None));
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(Message::decode(&[0, 0, 0]), Err(ProtocolError::Truncated));
        let mut frame = Message::Exit(ExitStatus::Shutdown).encode();
        frame[4..8].copy_from_slice(&0x2000_8086u32.to_be_bytes());
        assert!(matches!(
            Message::decode(&frame),
            Err(ProtocolError::WrongProgram { .. })
        ));
        let mut buffer = FrameBuffer::default();
        buffer.push(&[0, 0, 0, 4, 0, 0, 0, 0]);
        assert!(buffer.next_frame().is_err());
        let mut bad_status = Message::Exit(ExitStatus::Shutdown).encode();
        bad_status[31] = 9;
        assert!(Message::decode(&bad_status).is_err());
    }

    #[test]
    fn exit_codes_carry_the_reason() {
        for reason in [ExitStatus::Error, ExitStatus::Shutdown, ExitStatus::Reboot] {
            assert_eq!(ExitStatus::from_exit_code(reason.exit_code()), reason);
        }
    }
}
