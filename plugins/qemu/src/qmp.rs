//! The QEMU Machine Protocol: messages, and a client over a host-owned unix stream.
//!
//! QMP is one JSON object per line. After connecting, QEMU sends a greeting; the client answers
//! `qmp_capabilities` and may then send commands, each answered by a `return` or an `error`
//! object carrying the command's `id`. Events (`{"event": ...}`) may arrive at any time.
//!
//! The stream belongs to the host ([`host::stream`]). Under the claim rule, the frames that
//! arrive while a call has sent on the stream are queued for that call's `recv`, so a command
//! is `send` + `recv` in the same call; events seen meanwhile are kept in [`Monitor::events`]
//! and the caller must hand them to the event mapping (`crate::qemu_events`) before the call
//! ends. Events that arrive while no call holds the stream reach `Handlers::stream_frame`.
//!
//! This module knows QMP, not domains: message parsing is pure and tested natively.

use serde_json::{json, Map, Value};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::stream;
use virt_plugin_sdk::types::Error;

use crate::error::qemu_error;

/// How long one command may take by default (libvirt waits for a monitor reply without a
/// deadline; a dead QEMU closes the socket, which ends the wait early).
pub const COMMAND_TIMEOUT_MS: u32 = 60_000;

/// One message from QEMU.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The first line after connecting, with QEMU's version.
    Greeting { version: QemuVersion },
    /// A command's successful answer.
    Return { id: Option<String>, value: Value },
    /// A command's failure: QMP's error class and QEMU's own description.
    Error {
        id: Option<String>,
        class: String,
        desc: String,
    },
    /// An asynchronous event.
    Event(Event),
}

/// An asynchronous QMP event, e.g. `SHUTDOWN` with `{"guest": true, "reason": "guest-shutdown"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
    /// QEMU's timestamp in microseconds since the epoch.
    pub timestamp_us: u64,
}

/// QEMU's version as the greeting reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl QemuVersion {
    /// libvirt's numeric form: major * 1,000,000 + minor * 1,000 + micro.
    pub fn as_number(&self) -> u64 {
        u64::from(self.major) * 1_000_000 + u64::from(self.minor) * 1_000 + u64::from(self.micro)
    }

    pub fn from_number(number: u64) -> QemuVersion {
        QemuVersion {
            major: (number / 1_000_000) as u32,
            minor: (number / 1_000 % 1_000) as u32,
            micro: (number % 1_000) as u32,
        }
    }

    fn from_json(value: &Value) -> QemuVersion {
        let field = |name: &str| value.get(name).and_then(Value::as_u64).unwrap_or(0) as u32;
        QemuVersion {
            major: field("major"),
            minor: field("minor"),
            micro: field("micro"),
        }
    }
}

/// Why a QMP exchange failed.
#[derive(Debug, Clone, PartialEq)]
pub enum QmpError {
    /// QEMU answered with an error object.
    Command { class: String, desc: String },
    /// The socket closed or failed (QEMU exited).
    Closed,
    /// No answer within the deadline.
    Timeout,
    /// A line that is not QMP.
    Protocol(String),
    /// The host refused the stream call.
    Host(HostError),
}

/// A host error kept inside [`QmpError`] (the WIT error type has no `PartialEq`).
#[derive(Debug, Clone)]
pub struct HostError(pub Error);

impl PartialEq for HostError {
    fn eq(&self, other: &HostError) -> bool {
        self.0.code == other.0.code && self.0.message == other.0.message
    }
}

impl QmpError {
    /// The libvirt error a caller reports for a failed `command`.
    pub fn into_error(self, command: &str) -> Error {
        match self {
            QmpError::Command { desc, .. } => qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("unable to execute QEMU command '{command}': {desc}"),
            ),
            QmpError::Closed => qemu_error(
                ErrorNumber::OPERATION_FAILED,
                "domain is not running (QEMU monitor closed)",
            ),
            QmpError::Timeout => qemu_error(
                ErrorNumber::OPERATION_TIMEOUT,
                format!("QEMU did not answer '{command}' in time"),
            ),
            QmpError::Protocol(line) => qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("unexpected QEMU monitor reply to '{command}': {line}"),
            ),
            QmpError::Host(HostError(error)) => error,
        }
    }
}

/// Parses one QMP line.
pub fn parse_message(line: &[u8]) -> Result<Message, QmpError> {
    let text = String::from_utf8_lossy(line);
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|_| QmpError::Protocol(text.trim().to_string()))?;
    let object = value
        .as_object()
        .ok_or_else(|| QmpError::Protocol(text.trim().to_string()))?;
    let id = object.get("id").map(|id| match id {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    if let Some(greeting) = object.get("QMP") {
        let version = greeting
            .get("version")
            .and_then(|v| v.get("qemu"))
            .map(QemuVersion::from_json)
            .unwrap_or_default();
        return Ok(Message::Greeting { version });
    }
    if let Some(value) = object.get("return") {
        return Ok(Message::Return {
            id,
            value: value.clone(),
        });
    }
    if let Some(error) = object.get("error") {
        let class = error
            .get("class")
            .and_then(Value::as_str)
            .unwrap_or("GenericError")
            .to_string();
        let desc = error
            .get("desc")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_string();
        return Ok(Message::Error { id, class, desc });
    }
    if let Some(name) = object.get("event").and_then(Value::as_str) {
        let timestamp = object.get("timestamp");
        let seconds = timestamp
            .and_then(|t| t.get("seconds"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let micros = timestamp
            .and_then(|t| t.get("microseconds"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        return Ok(Message::Event(Event {
            name: name.to_string(),
            data: object.get("data").cloned().unwrap_or(Value::Null),
            timestamp_us: seconds * 1_000_000 + micros,
        }));
    }
    Err(QmpError::Protocol(text.trim().to_string()))
}

/// Encodes a command line (with its trailing newline).
pub fn encode_command(command: &str, arguments: Option<&Value>, id: &str) -> Vec<u8> {
    let mut object = Map::new();
    object.insert("execute".into(), Value::String(command.into()));
    if let Some(arguments) = arguments {
        object.insert("arguments".into(), arguments.clone());
    }
    object.insert("id".into(), Value::String(id.into()));
    let mut line = Value::Object(object).to_string().into_bytes();
    line.push(b'\n');
    line
}

/// A QMP connection used within one call.
#[derive(Debug)]
pub struct Monitor {
    handle: stream::StreamHandle,
    /// Events read while waiting for replies, oldest first; the caller must process them.
    pub events: Vec<Event>,
    id_prefix: String,
    next_id: u64,
}

impl Monitor {
    /// Wraps an already negotiated stream (e.g. the handle kept in a domain's status).
    pub fn attach(handle: stream::StreamHandle) -> Monitor {
        Monitor {
            handle,
            events: Vec::new(),
            id_prefix: crate::util::unique_suffix(),
            next_id: 0,
        }
    }

    /// Connects to QEMU's monitor socket (retrying for `connect_timeout_ms`), reads the
    /// greeting and negotiates capabilities, waiting up to `reply_timeout_ms` for each.
    /// Returns `Closed` when QEMU exits before greeting (an early start failure).
    pub fn connect(
        path: &str,
        connect_timeout_ms: u32,
        reply_timeout_ms: u32,
    ) -> Result<(Monitor, QemuVersion), QmpError> {
        let handle = stream::connect(path, stream::Framing::Line, connect_timeout_ms)
            .map_err(|error| QmpError::Host(HostError(error)))?;
        let mut monitor = Monitor::attach(handle);
        let version = match monitor.next_message(reply_timeout_ms) {
            Ok(Message::Greeting { version }) => version,
            Ok(other) => {
                stream::close(handle);
                return Err(QmpError::Protocol(format!("{other:?}")));
            }
            Err(error) => {
                stream::close(handle);
                return Err(error);
            }
        };
        if let Err(error) = monitor.execute_with_timeout("qmp_capabilities", None, reply_timeout_ms)
        {
            stream::close(handle);
            return Err(error);
        }
        Ok((monitor, version))
    }

    pub fn handle(&self) -> stream::StreamHandle {
        self.handle
    }

    /// Runs a command and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value, QmpError> {
        self.execute_with_timeout(command, arguments, COMMAND_TIMEOUT_MS)
    }

    /// [`Monitor::execute`] with an explicit deadline.
    pub fn execute_with_timeout(
        &mut self,
        command: &str,
        arguments: Option<Value>,
        timeout_ms: u32,
    ) -> Result<Value, QmpError> {
        self.execute_passing(command, arguments, &[], timeout_ms)
    }

    /// Runs a command that takes descriptors with it (`getfd`): `handles` are host handles
    /// (`files.open`, `net.create-tap`) whose descriptors go with the command's bytes.
    pub fn execute_with_handles(
        &mut self,
        command: &str,
        arguments: Value,
        handles: &[u64],
    ) -> Result<Value, Error> {
        self.execute_passing(command, Some(arguments), handles, COMMAND_TIMEOUT_MS)
            .map_err(|error| error.into_error(command))
    }

    fn execute_passing(
        &mut self,
        command: &str,
        arguments: Option<Value>,
        handles: &[u64],
        timeout_ms: u32,
    ) -> Result<Value, QmpError> {
        self.next_id += 1;
        let id = format!("rvirt-{}-{}", self.id_prefix, self.next_id);
        let line = encode_command(command, arguments.as_ref(), &id);
        let sent = if handles.is_empty() {
            stream::send(self.handle, &line)
        } else {
            stream::send_with_handles(self.handle, &line, handles)
        };
        sent.map_err(|error| {
            if handles.is_empty() {
                QmpError::Closed
            } else {
                // A refused descriptor says more than "closed".
                QmpError::Host(HostError(error))
            }
        })?;
        loop {
            match self.next_message(timeout_ms)? {
                Message::Return {
                    id: Some(reply_id),
                    value,
                } if reply_id == id => return Ok(value),
                Message::Error {
                    id: Some(reply_id),
                    class,
                    desc,
                } if reply_id == id => return Err(QmpError::Command { class, desc }),
                Message::Event(event) => self.events.push(event),
                // A late reply to a command an earlier call gave up on.
                _ => {}
            }
        }
    }

    /// Runs a command whose arguments are given as a JSON object literal.
    pub fn run(&mut self, command: &str, arguments: Value) -> Result<Value, Error> {
        let arguments = if arguments.is_null() {
            None
        } else {
            Some(arguments)
        };
        self.execute(command, arguments)
            .map_err(|error| error.into_error(command))
    }

    /// Waits for the next event matching `wanted`, up to `timeout_ms`. Events that do not
    /// match are kept in [`Monitor::events`] as well.
    pub fn wait_event(
        &mut self,
        timeout_ms: u32,
        wanted: impl Fn(&Event) -> bool,
    ) -> Result<Event, QmpError> {
        if let Some(found) = self.events.iter().find(|event| wanted(event)) {
            return Ok(found.clone());
        }
        loop {
            if let Message::Event(event) = self.next_message(timeout_ms)? {
                self.events.push(event.clone());
                if wanted(&event) {
                    return Ok(event);
                }
            }
        }
    }

    /// Gives the stream's later frames back to the event handler.
    pub fn release(&self) {
        stream::release_frames(self.handle);
    }

    fn next_message(&mut self, timeout_ms: u32) -> Result<Message, QmpError> {
        parse_message(&self.next_line(timeout_ms)?)
    }

    fn next_line(&mut self, timeout_ms: u32) -> Result<Vec<u8>, QmpError> {
        match stream::recv(self.handle, timeout_ms) {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err(QmpError::Timeout),
            Err(_) => Err(QmpError::Closed),
        }
    }

    /// Sends a command object as given (with this monitor's `id` added) and returns QEMU's
    /// reply line as QEMU wrote it, `return` or `error` alike (`virDomainQemuMonitorCommand`).
    pub fn execute_verbatim(
        &mut self,
        mut request: Map<String, Value>,
    ) -> Result<String, QmpError> {
        self.next_id += 1;
        let id = format!("rvirt-{}-{}", self.id_prefix, self.next_id);
        request.insert("id".into(), Value::String(id.clone()));
        let mut line = Value::Object(request).to_string().into_bytes();
        line.push(b'\n');
        stream::send(self.handle, &line).map_err(|_| QmpError::Closed)?;
        loop {
            let line = self.next_line(COMMAND_TIMEOUT_MS)?;
            match parse_message(&line)? {
                Message::Return {
                    id: Some(reply), ..
                }
                | Message::Error {
                    id: Some(reply), ..
                } if reply == id => {
                    return Ok(compact_json(&String::from_utf8_lossy(&line)));
                }
                Message::Event(event) => self.events.push(event),
                _ => {}
            }
        }
    }
}

/// JSON text without the whitespace between tokens, keys in the order they came (libvirt
/// hands QMP replies to its clients re-serialized this way).
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The QMP `query-jobs` entry of `job_id`, if present: (status, error).
pub fn job_state(jobs: &Value, job_id: &str) -> Option<(String, Option<String>)> {
    jobs.as_array()?
        .iter()
        .find(|job| job.get("id").and_then(Value::as_str) == Some(job_id))
        .map(|job| {
            (
                job.get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                job.get("error").and_then(Value::as_str).map(str::to_string),
            )
        })
}

/// Runs a QMP job command (`blockdev-create`, `snapshot-save`, ...) and waits for it to
/// conclude, then dismisses it; a job error becomes the call's error.
pub fn run_job(
    monitor: &mut Monitor,
    command: &str,
    mut arguments: Value,
    job_id: &str,
    timeout_ms: u32,
) -> Result<(), Error> {
    if let Some(object) = arguments.as_object_mut() {
        object.insert("job-id".into(), json!(job_id));
    }
    monitor.run(command, arguments)?;
    let concluded = |event: &Event| {
        event.name == "JOB_STATUS_CHANGE"
            && event.data.get("id").and_then(Value::as_str) == Some(job_id)
            && event.data.get("status").and_then(Value::as_str) == Some("concluded")
    };
    let waited = monitor.wait_event(timeout_ms, concluded);
    let jobs = monitor.run("query-jobs", Value::Null)?;
    let state = job_state(&jobs, job_id);
    let _ = monitor.execute("job-dismiss", Some(json!({ "id": job_id })));
    match (waited, state) {
        (_, Some((_, Some(message)))) => Err(qemu_error(
            ErrorNumber::OPERATION_FAILED,
            format!("{command} failed: {message}"),
        )),
        (Ok(_), _) => Ok(()),
        (Err(error), _) => Err(error.into_error(command)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_strings_and_key_order() {
        let line = r#"{"return": {"b": 1, "a": "x y \" z"}, "id": "i"}"#;
        assert_eq!(
            compact_json(&format!("{line}\r\n")),
            r#"{"return":{"b":1,"a":"x y \" z"},"id":"i"}"#
        );
    }

    #[test]
    fn greeting_return_error_and_event() {
        let greeting = br#"{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}"#;
        assert_eq!(
            parse_message(greeting),
            Ok(Message::Greeting {
                version: QemuVersion {
                    major: 7,
                    minor: 2,
                    micro: 22
                }
            })
        );
        assert_eq!(
            parse_message(br#"{"return": {}, "id": "a1"}"#),
            Ok(Message::Return {
                id: Some("a1".into()),
                value: json!({})
            })
        );
        assert_eq!(
            parse_message(
                br#"{"id":"x","error":{"class":"DeviceNotFound","desc":"Device 'x' not found"}}"#
            ),
            Ok(Message::Error {
                id: Some("x".into()),
                class: "DeviceNotFound".into(),
                desc: "Device 'x' not found".into()
            })
        );
        let event = br#"{"timestamp": {"seconds": 10, "microseconds": 5}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        match parse_message(event) {
            Ok(Message::Event(event)) => {
                assert_eq!(event.name, "SHUTDOWN");
                assert_eq!(event.timestamp_us, 10_000_005);
                assert_eq!(event.data["reason"], "guest-shutdown");
            }
            other => panic!("not an event: {other:?}"),
        }
        assert!(matches!(
            parse_message(b"not json"),
            Err(QmpError::Protocol(_))
        ));
    }

    #[test]
    fn command_lines_carry_their_id() {
        let line = encode_command("device_del", Some(&json!({"id": "net1"})), "rvirt-1");
        let value: Value = serde_json::from_slice(&line).expect("json");
        assert_eq!(
            value,
            json!({"execute": "device_del", "arguments": {"id": "net1"}, "id": "rvirt-1"})
        );
        assert_eq!(line.last(), Some(&b'\n'));
    }

    #[test]
    fn versions_as_libvirt_numbers() {
        let version = QemuVersion {
            major: 7,
            minor: 2,
            micro: 22,
        };
        assert_eq!(version.as_number(), 7_002_022);
        assert_eq!(QemuVersion::from_number(7_002_022), version);
    }
}
