//! LXC monitor protocol (what the controller reads from the driver and the driver plugin reads
//! from the controller): arbitrary bytes must never panic; a frame that decodes re-encodes to
//! a frame that decodes to the same message, with or without its length word; and the stream
//! framer cuts the same frames (or stops at the same bad length) however the bytes arrive.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rvirt_lxc_controller::monitor::{FrameBuffer, Message, ProtocolError};

fuzz_target!(|data: &[u8]| {
    check_message(data);
    // The first byte chooses where the stream is cut in two reads.
    let cut = data
        .first()
        .map_or(0, |byte| usize::from(*byte) % (data.len() + 1));
    let whole = frames(&[data]);
    assert_eq!(
        whole,
        frames(&[&data[..cut], &data[cut..]]),
        "the frames depend on how the stream was read (cut at {cut})"
    );
    for frame in whole.0 {
        check_message(&frame);
    }
});

/// Every frame `FrameBuffer` yields after each read, and the error that ended the stream.
fn frames(reads: &[&[u8]]) -> (Vec<Vec<u8>>, Option<ProtocolError>) {
    let mut buffer = FrameBuffer::default();
    let mut out = Vec::new();
    for read in reads {
        buffer.push(read);
        loop {
            match buffer.next_frame() {
                Ok(Some(frame)) => out.push(frame),
                Ok(None) => break,
                Err(error) => return (out, Some(error)),
            }
        }
    }
    (out, None)
}

fn check_message(bytes: &[u8]) {
    let Ok(message) = Message::decode(bytes) else {
        return;
    };
    let frame = message.encode();
    assert_eq!(
        Message::decode(&frame).as_ref(),
        Ok(&message),
        "encode -> decode is not the identity"
    );
    assert_eq!(
        Message::decode(&frame[4..]).as_ref(),
        Ok(&message),
        "the frame without its length word decodes differently"
    );
}
