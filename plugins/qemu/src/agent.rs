//! The QEMU guest agent: a JSON protocol like QMP on a virtio-serial channel named
//! `org.qemu.guest_agent.0`, which QEMU exposes as a unix socket on the host. Each use
//! connects, synchronises (`guest-sync-delimited`, whose reply starts with a 0xFF byte so
//! stale output can be skipped), runs its command and disconnects.

use serde_json::{json, Value};
use virt_core::ErrorNumber;
use virt_plugin_sdk::host::stream;
use virt_plugin_sdk::types::Error;
use virt_xml::domain::enums::ChrType;
use virt_xml::domain::Domain;

use crate::error::qemu_error;
use crate::util::now_ms;

/// The channel name the guest agent listens on.
pub const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

/// How long the agent may take to answer the sync (libvirt's default agent timeout is 5 s).
const SYNC_TIMEOUT_MS: u32 = 5_000;

/// The host-side socket of the domain's agent channel, if it has one.
pub fn socket_path(def: &Domain) -> Option<String> {
    def.devices
        .channels
        .iter()
        .find(|channel| {
            channel.chr_type == Some(ChrType::Unix)
                && channel
                    .target
                    .as_ref()
                    .and_then(|target| target.name.as_deref())
                    == Some(AGENT_CHANNEL)
        })
        .and_then(|channel| channel.source().and_then(|source| source.path.clone()))
}

fn not_connected() -> Error {
    qemu_error(
        ErrorNumber::AGENT_UNRESPONSIVE,
        "QEMU guest agent is not connected",
    )
}

/// A synchronised agent connection.
struct Agent {
    handle: stream::StreamHandle,
}

impl Drop for Agent {
    fn drop(&mut self) {
        stream::close(self.handle);
    }
}

impl Agent {
    fn connect(def: &Domain) -> Result<Agent, Error> {
        let path = socket_path(def).ok_or_else(|| {
            qemu_error(
                ErrorNumber::ARGUMENT_UNSUPPORTED,
                "QEMU guest agent is not configured",
            )
        })?;
        let handle =
            stream::connect(&path, stream::Framing::Line, 1_000).map_err(|_| not_connected())?;
        let agent = Agent { handle };
        agent.sync()?;
        Ok(agent)
    }

    fn sync(&self) -> Result<(), Error> {
        let id = now_ms() % 1_000_000_000;
        let request = json!({"execute": "guest-sync-delimited", "arguments": {"id": id}});
        self.send(&request)?;
        let deadline = now_ms() + u64::from(SYNC_TIMEOUT_MS);
        loop {
            let left = deadline.saturating_sub(now_ms());
            if left == 0 {
                return Err(not_connected());
            }
            let frame = stream::recv(self.handle, left as u32)
                .map_err(|_| not_connected())?
                .ok_or_else(not_connected)?;
            // Output before the delimiter belongs to an earlier, abandoned exchange.
            let start = frame
                .iter()
                .rposition(|byte| *byte == 0xff)
                .map_or(0, |position| position + 1);
            if let Ok(reply) = serde_json::from_slice::<Value>(&frame[start..]) {
                if reply.get("return").and_then(Value::as_u64) == Some(id) {
                    return Ok(());
                }
            }
        }
    }

    fn send(&self, request: &Value) -> Result<(), Error> {
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        stream::send(self.handle, &line).map_err(|_| not_connected())
    }

    /// Runs a command and waits for its reply.
    fn execute(&self, request: &Value, timeout_ms: u32) -> Result<Value, Error> {
        self.send(request)?;
        let frame = stream::recv(self.handle, timeout_ms)
            .map_err(|_| not_connected())?
            .ok_or_else(|| {
                qemu_error(
                    ErrorNumber::AGENT_UNRESPONSIVE,
                    "Guest agent not available for now",
                )
            })?;
        let reply: Value = serde_json::from_slice(&frame).map_err(|_| {
            qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                "unable to parse the guest agent's reply",
            )
        })?;
        if let Some(error) = reply.get("error") {
            let desc = error
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or("unknown error");
            return Err(qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("unable to execute QEMU agent command: {desc}"),
            ));
        }
        Ok(reply)
    }
}

/// `guest-shutdown` with mode `powerdown` or `reboot`; the agent does not answer it.
pub fn shutdown(def: &Domain, mode: &str) -> Result<(), Error> {
    let agent = Agent::connect(def)?;
    agent.send(&json!({"execute": "guest-shutdown", "arguments": {"mode": mode}}))
}

/// `virDomainQemuAgentCommand`: a raw command, its raw reply.
pub fn command(def: &Domain, command: &str, timeout_s: i32) -> Result<String, Error> {
    let request: Value = serde_json::from_str(command)
        .map_err(|_| qemu_error(ErrorNumber::INVALID_ARG, "agent command is not valid JSON"))?;
    let agent = Agent::connect(def)?;
    let timeout_ms = match timeout_s {
        // VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK / DEFAULT / NOWAIT.
        -2 => 60 * 60 * 1000,
        -1 | 0 => 5_000,
        seconds => (seconds as u32).saturating_mul(1000),
    };
    agent
        .execute(&request, timeout_ms)
        .map(|reply| reply.to_string())
}
