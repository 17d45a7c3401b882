//! The driver's end of the monitor protocol: calls to a controller over the host's stream,
//! and the events that arrive meanwhile.
//!
//! Sending claims the stream for the call in flight (the host's rule), so the reply and any
//! event that arrives before it come here, not to the `handlers` export; the caller applies
//! those events to its record like the handlers would. After the call, frames flow to the
//! handlers again ([`release`]).

use rvirt_lxc_controller::monitor::{Message, Request, Response};
use virt_core::{Error, ErrorNumber};
use virt_plugin_sdk::host::stream;

use crate::error::{from_host, lxc_error};

/// What a call brought back.
pub struct Outcome {
    pub result: Result<Response, Error>,
    /// Events that arrived before the reply.
    pub events: Vec<Message>,
    /// The controller hung up.
    pub closed: bool,
}

fn serial() -> u32 {
    // Any value works (the reply echoes it); the clock keeps successive calls apart.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(1)
}

/// Sends `request` and waits up to `timeout_ms` for its reply.
pub fn call(handle: u64, request: Request, timeout_ms: u32) -> Outcome {
    let serial = serial();
    let procedure = request.procedure();
    let mut events = Vec::new();
    if let Err(error) = stream::send(handle, &Message::Call { serial, request }.encode()) {
        return Outcome {
            result: Err(from_host(error)),
            events,
            closed: true,
        };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.into());
    loop {
        let left = deadline
            .saturating_duration_since(std::time::Instant::now())
            .as_millis() as u32;
        let frame = match stream::recv(handle, left) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let error = lxc_error(
                    ErrorNumber::OPERATION_TIMEOUT,
                    format!(
                        "the container's controller did not answer within {} s",
                        timeout_ms / 1000
                    ),
                );
                return Outcome {
                    result: Err(error),
                    events,
                    closed: false,
                };
            }
            Err(_) => {
                let error = lxc_error(
                    ErrorNumber::OPERATION_FAILED,
                    "the container's controller hung up",
                );
                return Outcome {
                    result: Err(error),
                    events,
                    closed: true,
                };
            }
        };
        match Message::decode(&frame) {
            Ok(Message::Reply {
                serial: got,
                procedure: answered,
                result,
            }) if got == serial && answered == procedure => {
                let result =
                    result.map_err(|remote| lxc_error(ErrorNumber(remote.code), remote.message));
                return Outcome {
                    result,
                    events,
                    closed: false,
                };
            }
            Ok(Message::Reply { .. }) => {}
            Ok(event) => events.push(event),
            Err(error) => {
                virt_plugin_sdk::warn!("ignoring an undecodable monitor frame: {error}");
            }
        }
    }
}

/// Gives the stream's later frames back to the handlers.
pub fn release(handle: u64) {
    stream::release_frames(handle);
}
