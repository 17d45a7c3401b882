//! libvirt's remote protocol for rvirt: the wire, both directions.
//!
//! It owns everything between a libvirt client and a `virt-core` connection:
//!
//! - [`xdr`]: the XDR codec (hand-written, see its docs for why) and [`frame`]: the length
//!   word, the 24-byte header, message types and statuses, the 32 MiB cap.
//! - [`protocol`]: the REMOTE program. A generated table of libvirt 9.0's 443 procedures
//!   (numbers, public API names, priority, streams, which ones write) and typed argument and
//!   reply declarations shared by both directions; `remote_error` and its mapping to
//!   [`virt_core::Error`]. [`events`] maps [`virt_core::Event`] to event messages.
//! - [`server`]: what `rvirtd` runs per client: framing, keepalive, per-client limits, the
//!   dispatch table onto [`virt_core::driver::Connection`], event delivery and streams
//!   (console, volume upload/download).
//! - [`client`]: a [`virt_core::driver::Driver`] for remote URIs (`+unix`, `+tcp`, `+tls`,
//!   `+ssh`, `+ext`), registered with [`register`], that talks to rvirtd or libvirtd.
//! - [`tls`]: rustls configuration from libvirt's x509 file layout.
//!
//! Without its default `runtime` feature only `xdr`, `frame`, `protocol` and `events` remain:
//! no tokio, no sockets, and the crate builds for `wasm32-wasip2`.
//!
//! It knows the wire and `virt-core`'s API and nothing else: no WebAssembly, no XML (domain
//! XML passes through as opaque text), no hypervisor. `rvirtd` decides which drivers exist.

#[cfg(feature = "runtime")]
pub mod client;
pub mod events;
pub mod frame;
pub mod protocol;
#[cfg(feature = "runtime")]
pub mod server;
#[cfg(feature = "runtime")]
pub mod tls;
pub mod xdr;

#[cfg(feature = "runtime")]
pub use client::{register, RemoteConnection, RemoteDriver};

/// Feeds untrusted bytes through everything a peer's bytes reach before a driver does:
/// framing, headers, and the decoding of arguments, replies, events, errors and stream holes
/// for every typed procedure. It must never panic and never allocate more than the input
/// justifies; the fuzz target and the decoder's property tests drive it.
pub fn decode_untrusted(bytes: &[u8]) -> usize {
    let mut buffer = frame::FrameBuffer::new();
    buffer.extend(bytes);
    let mut n_frames = 0;
    while let Ok(Some(frame)) = buffer.next_frame() {
        n_frames += 1;
        let header = frame.header;
        let procedure = header.procedure as u32;
        for reply in [false, true] {
            if let Some(Ok(encoded)) =
                protocol::reencode_payload(header.prog, procedure, reply, &frame.payload)
            {
                // What was decoded encodes to bytes that decode to the same encoding.
                let again = protocol::reencode_payload(header.prog, procedure, reply, &encoded);
                assert_eq!(
                    again,
                    Some(Ok(encoded)),
                    "procedure {procedure}: encoding is not a fixed point"
                );
            }
        }
        let _ = events::decode_event(procedure, &frame.payload);
        let _ = xdr::from_bytes::<protocol::RemoteError>(&frame.payload);
        let _ = xdr::from_bytes::<protocol::StreamHole>(&frame.payload);
    }
    n_frames
}
