//! Message framing: the length word, the 24-byte header, and the rules for what a frame may
//! be before its payload is even looked at.
//!
//! Every message is `u32 total length (including itself)`, then [`Header`], then (only for
//! the `*_WITH_FDS` types) a `u32` descriptor count, then the payload. [`FrameBuffer`] cuts
//! frames out of a byte stream without ever reserving more memory than the bytes that have
//! actually arrived.

use crate::xdr::{Decoder, Xdr, XdrError};

/// The REMOTE program: the libvirt API.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
/// The QEMU-specific program (monitor and agent passthrough), served on the same socket.
pub const QEMU_PROGRAM: u32 = 0x2000_8087;
/// The LXC-specific program.
pub const LXC_PROGRAM: u32 = 0x0006_8000;
/// Keepalive PING/PONG ("keep").
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
/// rvirt's own administration program ("rvir"): plugin listing and hot reload, served by
/// rvirtd on the same sockets as REMOTE. libvirt daemons answer it with "Cannot find
/// program". See [`crate::protocol::RvirtPluginList`].
pub const RVIRT_ADMIN_PROGRAM: u32 = 0x7276_6972;
/// Every program is at version 1.
pub const PROTOCOL_VERSION: u32 = 1;

/// Keepalive procedures.
pub const KEEPALIVE_PING: i32 = 1;
pub const KEEPALIVE_PONG: i32 = 2;

/// Size of the length word.
pub const LEN_WORD: usize = 4;
/// Size of the header.
pub const HEADER_LEN: usize = 24;
/// Largest frame after the length word: 32 MiB (`VIR_NET_MESSAGE_MAX`).
pub const MAX_MESSAGE: usize = 33_554_432;
/// Largest payload: `VIR_NET_MESSAGE_PAYLOAD_MAX`.
pub const MAX_PAYLOAD: usize = MAX_MESSAGE - HEADER_LEN;
/// Stream data chunk size both sides use (`VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX`).
pub const STREAM_CHUNK: usize = 262_120;
/// Most descriptors one message may carry.
pub const MAX_FDS: u32 = 32;

/// `virNetMessageType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageType(pub i32);

impl MessageType {
    pub const CALL: MessageType = MessageType(0);
    pub const REPLY: MessageType = MessageType(1);
    pub const MESSAGE: MessageType = MessageType(2);
    pub const STREAM: MessageType = MessageType(3);
    pub const CALL_WITH_FDS: MessageType = MessageType(4);
    pub const REPLY_WITH_FDS: MessageType = MessageType(5);
    pub const STREAM_HOLE: MessageType = MessageType(6);

    /// Whether a descriptor count word follows the header.
    pub fn carries_fds(self) -> bool {
        self == Self::CALL_WITH_FDS || self == Self::REPLY_WITH_FDS
    }
}

/// `virNetMessageStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub i32);

impl Status {
    pub const OK: Status = Status(0);
    pub const ERROR: Status = Status(1);
    pub const CONTINUE: Status = Status(2);
}

/// `virNetMessageHeader`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub prog: u32,
    pub vers: u32,
    pub procedure: i32,
    pub kind: MessageType,
    pub serial: u32,
    pub status: Status,
}

impl Header {
    /// A CALL of `procedure` in the REMOTE program.
    pub fn call(prog: u32, procedure: u32, serial: u32) -> Header {
        Header {
            prog,
            vers: PROTOCOL_VERSION,
            procedure: procedure as i32,
            kind: MessageType::CALL,
            serial,
            status: Status::OK,
        }
    }

    /// The reply header for this call: same program, version, procedure and serial.
    pub fn reply(&self, status: Status) -> Header {
        Header {
            kind: MessageType::REPLY,
            status,
            ..*self
        }
    }

    /// A keepalive frame (serial 0, MESSAGE, OK).
    pub fn keepalive(procedure: i32) -> Header {
        Header {
            prog: KEEPALIVE_PROGRAM,
            vers: PROTOCOL_VERSION,
            procedure,
            kind: MessageType::MESSAGE,
            serial: 0,
            status: Status::OK,
        }
    }
}

impl Xdr for Header {
    const MIN_SIZE: usize = HEADER_LEN;
    fn encode(&self, out: &mut Vec<u8>) {
        self.prog.encode(out);
        self.vers.encode(out);
        self.procedure.encode(out);
        self.kind.0.encode(out);
        self.serial.encode(out);
        self.status.0.encode(out);
    }
    fn decode(input: &mut Decoder<'_>) -> Result<Self, XdrError> {
        Ok(Header {
            prog: u32::decode(input)?,
            vers: u32::decode(input)?,
            procedure: i32::decode(input)?,
            kind: MessageType(i32::decode(input)?),
            serial: u32::decode(input)?,
            status: Status(i32::decode(input)?),
        })
    }
}

/// Why a byte stream cannot be cut into frames; the connection must be dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is shorter than a header")]
    TooShort(u32),
    #[error("frame length {0} exceeds the 32 MiB message limit")]
    TooLong(u32),
    #[error("frame carries {0} file descriptors, more than the limit of 32")]
    TooManyFds(u32),
}

/// One frame, decoded as far as the header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub header: Header,
    /// Descriptors announced by a `*_WITH_FDS` frame (they travel out of band).
    pub n_fds: u32,
    pub payload: Vec<u8>,
}

/// Builds a complete frame: length word, header, payload written by `body`.
pub fn encode_frame(header: &Header, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&[0; LEN_WORD]);
    header.encode(&mut out);
    body(&mut out);
    let len = out.len() as u32;
    out[..LEN_WORD].copy_from_slice(&len.to_be_bytes());
    out
}

/// Room for the length word and the header at the start of a frame whose body is encoded
/// before its header is known ([`seal_frame`]): a large reply is then never copied.
pub const FRAME_PREFIX: usize = LEN_WORD + HEADER_LEN;

/// Writes the length word and `header` into the first [`FRAME_PREFIX`] bytes of `frame`,
/// which hold the body after them.
pub fn seal_frame(frame: &mut [u8], header: &Header) {
    let mut prefix = Vec::with_capacity(FRAME_PREFIX);
    prefix.extend_from_slice(&(frame.len() as u32).to_be_bytes());
    header.encode(&mut prefix);
    if let Some(room) = frame.get_mut(..FRAME_PREFIX) {
        room.copy_from_slice(&prefix);
    }
}

/// Checks a length word as the peer sent it.
pub fn check_length(len: u32) -> Result<usize, FrameError> {
    let len_usize = len as usize;
    if len_usize < LEN_WORD + HEADER_LEN {
        return Err(FrameError::TooShort(len));
    }
    if len_usize > LEN_WORD + MAX_MESSAGE {
        return Err(FrameError::TooLong(len));
    }
    Ok(len_usize)
}

/// Splits a complete frame (length word included) into header and payload.
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    let len_word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    check_length(len_word)?;
    let mut decoder = Decoder::new(&bytes[LEN_WORD..]);
    let header = Header::decode(&mut decoder).map_err(|_| FrameError::TooShort(len_word))?;
    let mut n_fds = 0;
    if header.kind.carries_fds() {
        n_fds = u32::decode(&mut decoder).map_err(|_| FrameError::TooShort(len_word))?;
        if n_fds > MAX_FDS {
            return Err(FrameError::TooManyFds(n_fds));
        }
    }
    let start = LEN_WORD + decoder.position();
    Ok(Frame {
        header,
        n_fds,
        payload: bytes[start..].to_vec(),
    })
}

/// Accumulates bytes from a stream and hands out whole frames.
///
/// Memory follows the bytes received, not the length a peer announces: a frame's buffer
/// grows as its bytes arrive, and an idle buffer shrinks back to [`FrameBuffer::IDLE_CAPACITY`].
#[derive(Debug, Default)]
pub struct FrameBuffer {
    data: Vec<u8>,
    start: usize,
}

impl FrameBuffer {
    /// What an idle connection keeps allocated.
    pub const IDLE_CAPACITY: usize = 4096;
    /// How much is read at a time.
    pub const READ_CHUNK: usize = 64 * 1024;

    pub fn new() -> Self {
        FrameBuffer {
            data: Vec::new(),
            start: 0,
        }
    }

    /// Bytes received but not yet handed out.
    pub fn pending(&self) -> usize {
        self.data.len() - self.start
    }

    /// Space to read the next bytes into: at least some free bytes, at most what the frame
    /// being received still needs (or one chunk while its length is unknown).
    pub fn read_space(&mut self) -> &mut Vec<u8> {
        self.compact();
        let want = match self.announced_len() {
            Some(Ok(len)) if len > self.pending() => (len - self.pending()).min(Self::READ_CHUNK),
            _ => Self::READ_CHUNK
                .min(Self::IDLE_CAPACITY.max(self.data.capacity() - self.data.len())),
        };
        let want = want.max(LEN_WORD);
        if self.data.capacity() - self.data.len() < want {
            self.data.reserve(want);
        }
        &mut self.data
    }

    /// Appends received bytes (for callers that read elsewhere).
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.data.extend_from_slice(bytes);
    }

    fn announced_len(&self) -> Option<Result<usize, FrameError>> {
        let pending = &self.data[self.start..];
        if pending.len() < LEN_WORD {
            return None;
        }
        let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
        Some(check_length(len))
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.data.drain(..self.start);
            self.start = 0;
        }
        if self.data.is_empty() && self.data.capacity() > Self::READ_CHUNK {
            self.data = Vec::with_capacity(Self::IDLE_CAPACITY);
        }
    }

    /// The next complete frame, if one has arrived. An error means the stream is corrupt.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let len = match self.announced_len() {
            None => return Ok(None),
            Some(len) => len?,
        };
        if self.pending() < len {
            return Ok(None);
        }
        let frame = parse_frame(&self.data[self.start..self.start + len])?;
        self.start += len;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
            if self.data.capacity() > Self::READ_CHUNK {
                self.data = Vec::new();
            }
        }
        Ok(Some(frame))
    }

    /// Whether a whole frame (or a length word that will fail it) is already received.
    pub fn has_frame(&self) -> bool {
        match self.announced_len() {
            Some(Ok(len)) => self.pending() >= len,
            Some(Err(_)) => true,
            None => false,
        }
    }

    /// Whether the bytes received so far stop in the middle of a frame.
    pub fn has_partial_frame(&self) -> bool {
        self.pending() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn void_call_is_28_bytes() {
        let frame = encode_frame(&Header::call(REMOTE_PROGRAM, 66, 0), |_| {});
        assert_eq!(
            frame,
            [
                0, 0, 0, 0x1c, 0x20, 0, 0x80, 0x86, 0, 0, 0, 1, 0, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn keepalive_ping_bytes() {
        let frame = encode_frame(&Header::keepalive(KEEPALIVE_PING), |_| {});
        let words: Vec<u32> = frame
            .chunks(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(words, [0x1c, 0x6b65_6570, 1, 1, 2, 0, 0]);
    }

    #[test]
    fn frames_split_across_reads() {
        let one = encode_frame(&Header::call(REMOTE_PROGRAM, 4, 7), |out| {
            out.extend_from_slice(&[1, 2, 3, 4])
        });
        let two = encode_frame(&Header::call(REMOTE_PROGRAM, 3, 8), |_| {});
        let stream: Vec<u8> = one.iter().chain(two.iter()).copied().collect();
        let mut buffer = FrameBuffer::new();
        let mut frames = Vec::new();
        for byte in stream {
            buffer.extend(&[byte]);
            while let Some(frame) = buffer.next_frame().expect("valid") {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].header.serial, 7);
        assert_eq!(frames[0].payload, [1, 2, 3, 4]);
        assert_eq!(frames[1].header.procedure, 3);
        assert!(!buffer.has_partial_frame());
    }

    #[test]
    fn bad_lengths_are_refused() {
        let mut buffer = FrameBuffer::new();
        buffer.extend(&27u32.to_be_bytes());
        assert_eq!(buffer.next_frame(), Err(FrameError::TooShort(27)));
        let mut buffer = FrameBuffer::new();
        buffer.extend(&0x0200_0005u32.to_be_bytes());
        assert_eq!(buffer.next_frame(), Err(FrameError::TooLong(0x0200_0005)));
        assert_eq!(check_length(0x0200_0004), Ok(0x0200_0004));
    }

    #[test]
    fn announced_length_does_not_reserve_memory() {
        let mut buffer = FrameBuffer::new();
        buffer.extend(&0x0200_0004u32.to_be_bytes());
        let space = buffer.read_space();
        assert!(
            space.capacity() <= FrameBuffer::READ_CHUNK + 8,
            "reserved {}",
            space.capacity()
        );
    }
}
