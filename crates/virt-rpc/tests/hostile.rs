//! Hostile input against the daemon side: each misbehaving client gets an error or loses its
//! own connection, and everyone else keeps being served, with bounded memory.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::TestServer;
use virt_rpc::frame::{
    encode_frame, Header, MessageType, Status, KEEPALIVE_PROGRAM, REMOTE_PROGRAM,
};
use virt_rpc::protocol::{remote_proc as p, RemoteError};
use virt_rpc::server::ServerConfig;
use virt_rpc::xdr::{from_bytes, to_bytes};

struct Raw {
    socket: UnixStream,
}

impl Raw {
    fn connect(server: &TestServer) -> Raw {
        let socket = UnixStream::connect(server.socket()).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw { socket }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.socket.write_all(bytes).expect("send");
    }

    fn call(&mut self, prog: u32, vers: u32, procedure: u32, serial: u32, payload: &[u8]) {
        let header = Header {
            vers,
            ..Header::call(prog, procedure, serial)
        };
        self.send(&encode_frame(&header, |out| out.extend_from_slice(payload)));
    }

    /// The next frame, or None when the daemon closed the connection.
    fn read(&mut self) -> Option<(Header, Vec<u8>)> {
        let mut len_word = [0u8; 4];
        if self.socket.read_exact(&mut len_word).is_err() {
            return None;
        }
        let len = u32::from_be_bytes(len_word) as usize;
        let mut bytes = len_word.to_vec();
        bytes.resize(len.max(4), 0);
        self.socket.read_exact(&mut bytes[4..]).ok()?;
        let frame = virt_rpc::frame::parse_frame(&bytes).expect("the daemon sends valid frames");
        Some((frame.header, frame.payload))
    }

    fn error(&mut self) -> RemoteError {
        let (header, payload) = self.read().expect("a reply");
        assert_eq!(
            header.status,
            Status::ERROR,
            "expected an error reply, got {header:?}"
        );
        from_bytes::<RemoteError>(&payload).expect("remote_error")
    }

    fn closed(&mut self) -> bool {
        self.read().is_none()
    }

    /// Opens the mock driver so driver calls work.
    fn open(&mut self) {
        self.call(
            REMOTE_PROGRAM,
            1,
            p::CONNECT_OPEN,
            1,
            &to_bytes(&(Some("mock:///default".to_string()), 0u32)),
        );
        let (header, _) = self.read().expect("open reply");
        assert_eq!(header.status, Status::OK);
    }
}

/// A well-behaved client still gets answers.
fn still_serving(server: &TestServer) {
    let mut good = Raw::connect(server);
    good.open();
    good.call(REMOTE_PROGRAM, 1, p::CONNECT_GET_VERSION, 2, &[]);
    let (header, payload) = good.read().expect("version reply");
    assert_eq!((header.status, header.serial), (Status::OK, 2));
    assert_eq!(from_bytes::<u64>(&payload), Ok(2));
}

fn start() -> TestServer {
    TestServer::start(ServerConfig::default())
}

#[test]
fn unknown_program_and_version_get_rpc_errors() {
    let server = start();
    let mut raw = Raw::connect(&server);
    raw.call(0x1122_3344, 1, 1, 5, &[]);
    let error = raw.error();
    assert_eq!((error.code, error.domain), (39, 7));
    assert_eq!(
        error.message.as_deref(),
        Some("Cannot find program 287454020 version 1")
    );
    raw.call(REMOTE_PROGRAM, 2, 1, 6, &[]);
    assert_eq!(
        raw.error().message.as_deref(),
        Some("Cannot find program 536903814 version 2")
    );
    raw.call(REMOTE_PROGRAM, 1, 9999, 7, &[]);
    assert_eq!(
        raw.error().message.as_deref(),
        Some("unknown procedure: 9999")
    );
    // A keepalive PING sent as a CALL is an unknown program call, as with libvirtd.
    raw.call(KEEPALIVE_PROGRAM, 1, 1, 8, &[]);
    assert_eq!(raw.error().code, 39);
    still_serving(&server);
}

#[test]
fn calls_before_open_and_bad_payloads_are_errors_on_a_live_connection() {
    let server = start();
    let mut raw = Raw::connect(&server);
    raw.call(REMOTE_PROGRAM, 1, p::CONNECT_GET_TYPE, 1, &[]);
    let error = raw.error();
    assert_eq!((error.code, error.domain), (1, 7));
    assert_eq!(
        error.message.as_deref(),
        Some("internal error: hypervisor connection not open")
    );
    raw.open();
    // DOMAIN_LOOKUP_BY_NAME with a string length pointing past the end.
    raw.call(
        REMOTE_PROGRAM,
        1,
        p::DOMAIN_LOOKUP_BY_NAME,
        3,
        &[0, 0, 0, 40, b'x'],
    );
    let error = raw.error();
    assert_eq!(
        (error.code, error.domain, error.message.as_deref()),
        (39, 7, Some("Unable to decode message payload"))
    );
    // A CALL with a non-OK status.
    let header = Header {
        status: Status::ERROR,
        ..Header::call(REMOTE_PROGRAM, p::CONNECT_GET_TYPE, 4)
    };
    raw.send(&encode_frame(&header, |_| {}));
    assert_eq!(
        raw.error().message.as_deref(),
        Some("Unexpected message status 1")
    );
    // Trailing bytes after the arguments are ignored.
    raw.call(REMOTE_PROGRAM, 1, p::CONNECT_GET_TYPE, 5, &[1, 2, 3, 4, 5]);
    let (header, payload) = raw.read().expect("reply");
    assert_eq!(
        (header.status, from_bytes::<String>(&payload)),
        (Status::OK, Ok("TEST".to_string()))
    );
}

#[test]
fn huge_array_counts_are_refused_without_allocating() {
    let server = start();
    let mut raw = Raw::connect(&server);
    raw.open();
    // CONNECT_GET_ALL_DOMAIN_STATS claiming 4 billion domains in a 12-byte payload.
    raw.call(
        REMOTE_PROGRAM,
        1,
        p::CONNECT_GET_ALL_DOMAIN_STATS,
        2,
        &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        raw.error().message.as_deref(),
        Some("Unable to decode message payload")
    );
    // A string of 4 GiB - 1 bytes.
    raw.call(
        REMOTE_PROGRAM,
        1,
        p::DOMAIN_DEFINE_XML,
        3,
        &[0xff, 0xff, 0xff, 0xff],
    );
    assert_eq!(raw.error().code, 39);
    still_serving(&server);
}

#[test]
fn framing_violations_close_only_that_connection() {
    let server = start();
    for bytes in [
        // Shorter than a header.
        vec![0, 0, 0, 27, 1, 2, 3],
        // Over the 32 MiB cap.
        vec![0x02, 0x00, 0x00, 0x05, 0, 0, 0, 0],
        vec![0xff, 0xff, 0xff, 0xff],
        // A descriptor count over the limit.
        encode_frame(
            &Header {
                kind: MessageType::CALL_WITH_FDS,
                ..Header::call(REMOTE_PROGRAM, 3, 1)
            },
            |out| out.extend_from_slice(&1000u32.to_be_bytes()),
        ),
    ] {
        let mut raw = Raw::connect(&server);
        raw.send(&bytes);
        assert!(
            raw.closed(),
            "the daemon must drop a client sending {bytes:02x?}"
        );
    }
    // A truncated frame followed by a hang-up.
    let mut raw = Raw::connect(&server);
    raw.send(&[0, 0, 0, 100, 0x20, 0, 0x80]);
    drop(raw);
    still_serving(&server);
}

#[test]
fn garbage_and_stray_frames() {
    let server = start();
    // Random bytes: the connection dies or errors, the daemon lives.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20 {
        let mut raw = Raw::connect(&server);
        let garbage: Vec<u8> = (0..512)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = raw.socket.write_all(&garbage);
        let _ = raw.socket.shutdown(std::net::Shutdown::Write);
        while raw.read().is_some() {}
    }
    // Non-CALL frames get no answer at all: the next reply is for the next call.
    let mut raw = Raw::connect(&server);
    raw.open();
    for kind in [
        MessageType::REPLY,
        MessageType::MESSAGE,
        MessageType::STREAM,
    ] {
        let header = Header {
            kind,
            ..Header::call(REMOTE_PROGRAM, p::CONNECT_GET_TYPE, 77)
        };
        raw.send(&encode_frame(&header, |_| {}));
    }
    raw.call(REMOTE_PROGRAM, 1, p::CONNECT_GET_VERSION, 78, &[]);
    let (header, _) = raw.read().expect("reply");
    assert_eq!(
        (header.serial, header.procedure),
        (78, p::CONNECT_GET_VERSION as i32)
    );
    still_serving(&server);
}

#[test]
fn pipelined_calls_beyond_the_request_limit_are_all_answered() {
    let server = TestServer::start(ServerConfig {
        max_client_requests: 2,
        ..ServerConfig::default()
    });
    let mut raw = Raw::connect(&server);
    raw.open();
    let mut burst = Vec::new();
    for serial in 100..300u32 {
        burst.extend(encode_frame(
            &Header::call(REMOTE_PROGRAM, p::CONNECT_GET_LIB_VERSION, serial),
            |_| {},
        ));
    }
    raw.send(&burst);
    let mut serials: Vec<u32> = (0..200)
        .map(|_| raw.read().expect("reply").0.serial)
        .collect();
    serials.sort();
    assert_eq!(serials, (100..300).collect::<Vec<_>>());
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn silent_and_idle_clients_cost_little_and_block_nobody() {
    let server = start();
    still_serving(&server);
    let before = rss_kib();
    let mut idle = Vec::new();
    for n in 0..1000 {
        let mut raw = Raw::connect(&server);
        // Half say nothing at all; half send half a frame and stop.
        if n % 2 == 1 {
            raw.send(&[0, 0, 1, 0, 0x20, 0, 0x80, 0x86]);
        }
        idle.push(raw);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while server
        .server
        .stats()
        .clients_now
        .load(std::sync::atomic::Ordering::Relaxed)
        < 1000
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    still_serving(&server);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a good client waited {:?}",
        started.elapsed()
    );
    let growth = rss_kib().saturating_sub(before);
    // Both ends of every connection live in this process; the daemon's share is well under
    // this bound (each idle client holds a few KiB of buffers and two small tasks).
    assert!(
        growth < 64 * 1024,
        "1000 idle connections grew the process by {growth} KiB"
    );
    drop(idle);
}

#[test]
fn a_client_claiming_a_32_mib_frame_holds_only_what_it_sent() {
    let server = start();
    let before = rss_kib();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut raw = Raw::connect(&server);
        // Announce 32 MiB, send 1 KiB of it.
        raw.send(&0x0200_0004u32.to_be_bytes());
        raw.send(&[0u8; 1024]);
        slow.push(raw);
    }
    std::thread::sleep(Duration::from_millis(300));
    still_serving(&server);
    let growth = rss_kib().saturating_sub(before);
    assert!(
        growth < 50 * 1024,
        "50 clients announcing 32 MiB each grew the process by {growth} KiB"
    );
}
