//! `http` sessions (`open-session`, `send-on`, `close-session`): a plugin's requests over
//! one connection of its own.
//!
//! NTLM, and Negotiate carrying it, authenticate a TCP connection rather than a request: the
//! handshake and every request after it must share one connection, which `send`'s pooled
//! agents cannot promise. A session drives its connection itself with `ureq-proto`, the
//! sans-IO HTTP/1.1 state machine ureq is built on (already in the build, so no second HTTP
//! stack), over blocking std sockets as the rest of the host calls block, and rustls with
//! `send`'s choices: Mozilla's roots, a PEM CA, or no verification.
//!
//! Sessions live in the instance's store ([`crate::ctx::PluginCtx`]): a trapped instance is
//! dropped and its connections with it. This module knows nothing of any authentication
//! scheme; the plugin sends the headers and reads the challenges.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use ureq_proto::client::{
    Await100Result, Call, RecvBodyResult, RecvResponseResult, SendRequestResult,
};
use ureq_proto::BodyMode;
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::bindings::v0_2::http;

/// Sessions one instance may hold: enough for a few servers, not a way to hoard sockets.
pub const MAX_SESSIONS: usize = 16;
/// Largest response body a plugin gets, as for `send`.
const BODY_LIMIT: usize = 256 << 20;
/// The buffer a request's head is written through; a longer header line is refused.
const HEAD_BUFFER: usize = 64 * 1024;

fn failed(message: String) -> Error {
    Error::new(ErrorNumber::OPERATION_FAILED, ErrorDomain::NONE, message)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorNumber::INVALID_ARG, ErrorDomain::NONE, message)
}

/// Where a session's connection goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub https: bool,
    /// As the URL writes it (an IPv6 address in brackets), which the grants match.
    pub host: String,
    pub port: u16,
}

impl Origin {
    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// The host without an IPv6 address's brackets, for resolving and for TLS.
    fn bare_host(&self) -> &str {
        self.host.trim_start_matches('[').trim_end_matches(']')
    }
}

/// The sessions of one plugin instance, by handle.
#[derive(Default)]
pub struct Sessions {
    by_handle: HashMap<u64, Session>,
    next: u64,
}

impl Sessions {
    pub fn insert(&mut self, session: Session) -> Result<u64, Error> {
        if self.by_handle.len() >= MAX_SESSIONS {
            return Err(Error::new(
                ErrorNumber::OPERATION_FAILED,
                ErrorDomain::NONE,
                format!(
                    "cannot open another HTTP session: this plugin instance holds {MAX_SESSIONS}"
                ),
            ));
        }
        self.next += 1;
        self.by_handle.insert(self.next, session);
        Ok(self.next)
    }

    pub fn get_mut(&mut self, handle: u64) -> Result<&mut Session, Error> {
        self.by_handle
            .get_mut(&handle)
            .ok_or_else(|| invalid(format!("no HTTP session with handle {handle}")))
    }

    pub fn remove(&mut self, handle: u64) {
        self.by_handle.remove(&handle);
    }
}

/// One connection and what it takes to make it again.
pub struct Session {
    origin: Origin,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
    /// `None` once the server closed it or a request broke it: the next send reconnects.
    connection: Option<Stream>,
}

/// What [`Session::send`] hands back: `send-on`'s response without the WIT.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub reconnected: bool,
}

impl Session {
    /// Connects, so that a refused or unreachable endpoint is the opener's error.
    pub fn open(
        origin: Origin,
        tls: &http::TlsOptions,
        connect_timeout: Duration,
    ) -> Result<Session, Error> {
        let tls = if origin.https {
            Some(client_config(tls)?)
        } else {
            None
        };
        let mut session = Session {
            origin,
            tls,
            connect_timeout,
            connection: None,
        };
        session.connection = Some(session.connect(Instant::now() + connect_timeout)?);
        Ok(session)
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Sends `request` (whose URI is this session's origin and a path) with `body` over the
    /// session's connection, making a new one first if the old one is gone.
    pub fn send(
        &mut self,
        request: ureq_proto::http::Request<()>,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Answer, Error> {
        let deadline = Instant::now() + timeout;
        let url = format!("{}{}", self.origin.url(), request.uri().path());
        if let Some(stream) = &mut self.connection {
            if !stream.is_open() {
                tracing::debug!(origin = %self.origin.url(), "HTTP session's connection closed by the server");
                self.connection = None;
            }
        }
        let reconnected = self.connection.is_none();
        let mut stream = match self.connection.take() {
            Some(stream) => stream,
            None => {
                let connected =
                    self.connect(deadline.min(Instant::now() + self.connect_timeout))?;
                tracing::debug!(origin = %self.origin.url(), "HTTP session reconnected");
                connected
            }
        };
        match exchange(&mut stream, request, body, deadline) {
            Ok((answer, keep)) => {
                if keep {
                    self.connection = Some(stream);
                }
                Ok(Answer {
                    status: answer.status,
                    headers: answer.headers,
                    body: answer.body,
                    reconnected,
                })
            }
            Err(why) => Err(failed(format!("HTTP request to '{url}' failed: {why}"))),
        }
    }

    fn connect(&self, deadline: Instant) -> Result<Stream, Error> {
        let url = self.origin.url();
        let cannot = |why: String| failed(format!("cannot connect to '{url}': {why}"));
        let addresses: Vec<SocketAddr> = (self.origin.bare_host(), self.origin.port)
            .to_socket_addrs()
            .map_err(|e| cannot(e.to_string()))?
            .collect();
        let mut last = "no address".to_string();
        let mut tcp = None;
        for address in addresses {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                last = "timed out".to_string();
                break;
            }
            match TcpStream::connect_timeout(&address, left) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(e) => last = e.to_string(),
            }
        }
        let tcp = tcp.ok_or_else(|| cannot(last))?;
        let _ = tcp.set_nodelay(true);
        let Some(config) = &self.tls else {
            return Ok(Stream::Plain(tcp));
        };
        let name = ServerName::try_from(self.origin.bare_host().to_string())
            .map_err(|e| cannot(format!("invalid TLS server name: {e}")))?;
        let connection = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| cannot(e.to_string()))?;
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            set_deadline(&stream.sock, deadline).map_err(|e| cannot(e.to_string()))?;
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| cannot(format!("TLS handshake failed: {}", io_text(&e))))?;
        }
        Ok(Stream::Tls(Box::new(stream)))
    }
}

/// A session's connection, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }

    /// Whether the connection can carry a request: nothing arrived since the last answer
    /// (an end of stream, a TLS close, an unasked-for answer such as a 408 all mean the server
    /// is done with it). Looked at without blocking.
    fn is_open(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return false;
        }
        let mut byte = [0u8; 1];
        let open = match self.read(&mut byte) {
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
            Ok(_) => false,
        };
        open && self.tcp().set_nonblocking(false).is_ok()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Bounds the socket's next reads and writes by `deadline`.
fn set_deadline(tcp: &TcpStream, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out",
        ));
    }
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

fn io_text(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".to_string(),
        _ => error.to_string(),
    }
}

/// What arrived from the server and the protocol has not consumed yet.
struct Input {
    bytes: Vec<u8>,
    start: usize,
}

impl Input {
    fn data(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.bytes.len());
    }

    /// Reads more; 0 is the end of the stream.
    fn fill(&mut self, stream: &mut Stream, deadline: Instant) -> Result<usize, String> {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        set_deadline(stream.tcp(), deadline).map_err(|e| io_text(&e))?;
        let n = loop {
            match stream.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // A TCP close without TLS's close_notify ends the stream all the same.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break 0,
                Err(e) => return Err(io_text(&e)),
            }
        };
        self.bytes.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

struct Received {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// One request and its answer over `stream`; true in the second place if the connection may
/// carry another.
fn exchange(
    stream: &mut Stream,
    request: ureq_proto::http::Request<()>,
    body: &[u8],
    deadline: Instant,
) -> Result<(Received, bool), String> {
    let protocol = |e: ureq_proto::Error| e.to_string();
    let mut call = Call::new(request).map_err(protocol)?;
    if !body.is_empty() {
        call.force_send_body();
    }
    let mut call = call.proceed();
    let mut out = vec![0u8; HEAD_BUFFER];
    let write = |stream: &mut Stream, bytes: &[u8]| -> Result<(), String> {
        set_deadline(stream.tcp(), deadline).map_err(|e| io_text(&e))?;
        stream.write_all(bytes).map_err(|e| io_text(&e))
    };
    while !call.can_proceed() {
        let n = call.write(&mut out).map_err(protocol)?;
        if n == 0 {
            return Err("the request's head does not fit its buffer".to_string());
        }
        write(stream, &out[..n])?;
    }
    let mut call = match call.proceed().map_err(protocol)? {
        Some(SendRequestResult::RecvResponse(call)) => call,
        Some(SendRequestResult::SendBody(call)) => send_body(stream, call, body, &mut out, write)?,
        // The body follows at once: waiting for "100 Continue" buys nothing here.
        Some(SendRequestResult::Await100(call)) => match call.proceed().map_err(protocol)? {
            Await100Result::SendBody(call) => send_body(stream, call, body, &mut out, write)?,
            Await100Result::RecvResponse(call) => call,
        },
        None => return Err("the request was not complete".to_string()),
    };
    set_deadline(stream.tcp(), deadline).map_err(|e| io_text(&e))?;
    stream.flush().map_err(|e| io_text(&e))?;

    let mut input = Input {
        bytes: Vec::new(),
        start: 0,
    };
    let response = loop {
        let (used, response) = call.try_response(input.data(), false).map_err(protocol)?;
        input.consume(used);
        if let Some(response) = response {
            break response;
        }
        if input.fill(stream, deadline)? == 0 {
            return Err("the server closed the connection before answering".to_string());
        }
    };
    let status = response.status().as_u16();
    let headers = header_pairs(response.headers());
    let mut answer_body = Vec::new();
    let cleanup = match call.proceed() {
        Some(RecvResponseResult::RecvBody(mut call)) => {
            let close_delimited = matches!(call.body_mode(), BodyMode::CloseDelimited);
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                if !close_delimited && call.can_proceed() {
                    break;
                }
                let (used, produced) = call.read(input.data(), &mut chunk).map_err(protocol)?;
                input.consume(used);
                answer_body.extend_from_slice(&chunk[..produced]);
                if answer_body.len() > BODY_LIMIT {
                    return Err(format!("the answer is larger than {BODY_LIMIT} bytes"));
                }
                if used == 0 && produced == 0 && input.fill(stream, deadline)? == 0 {
                    if close_delimited {
                        break;
                    }
                    return Err(
                        "the server closed the connection in the middle of the answer".to_string(),
                    );
                }
            }
            match call.proceed() {
                Some(RecvBodyResult::Cleanup(cleanup)) => cleanup,
                Some(RecvBodyResult::Redirect(redirect)) => redirect.proceed(),
                None => return Err("the answer was not complete".to_string()),
            }
        }
        Some(RecvResponseResult::Cleanup(cleanup)) => cleanup,
        Some(RecvResponseResult::Redirect(redirect)) => redirect.proceed(),
        None => return Err("the answer was not complete".to_string()),
    };
    // Bytes past the answer mean the two sides disagree on where it ended.
    let keep = !cleanup.must_close_connection() && input.data().is_empty();
    Ok((
        Received {
            status,
            headers,
            body: answer_body,
        },
        keep,
    ))
}

fn send_body(
    stream: &mut Stream,
    mut call: Call<ureq_proto::client::state::SendBody>,
    body: &[u8],
    out: &mut [u8],
    write: impl Fn(&mut Stream, &[u8]) -> Result<(), String>,
) -> Result<Call<ureq_proto::client::state::RecvResponse>, String> {
    let mut sent = 0;
    while !call.can_proceed() {
        let (used, n) = call.write(&body[sent..], out).map_err(|e| e.to_string())?;
        sent += used;
        write(stream, &out[..n])?;
        if used == 0 && n == 0 {
            return Err("the request body could not be written".to_string());
        }
    }
    call.proceed()
        .ok_or_else(|| "the request body was not complete".to_string())
}

/// Builds the request `send-on` sends: the session's origin and the plugin's path, its
/// headers, and a `Content-Length` unless it chose a framing itself.
pub fn request(
    origin: &Origin,
    wit: &http::SessionRequest,
) -> Result<ureq_proto::http::Request<()>, Error> {
    let bad = |why: String| {
        invalid(format!(
            "invalid HTTP request to '{}{}': {why}",
            origin.url(),
            wit.path
        ))
    };
    if !wit.path.starts_with('/') {
        return Err(bad("the path must start with '/'".to_string()));
    }
    let mut builder = ureq_proto::http::Request::builder()
        .method(wit.method.as_str())
        .uri(format!("{}{}", origin.url(), wit.path));
    let mut framed = false;
    for (name, value) in &wit.headers {
        framed |= name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding");
        builder = builder.header(name.as_str(), value.as_str());
    }
    let wants_body = matches!(wit.method.as_str(), "POST" | "PUT" | "PATCH");
    if !framed && (wants_body || !wit.body.is_empty()) {
        builder = builder.header("content-length", wit.body.len().to_string());
    }
    builder.body(()).map_err(|e| bad(e.to_string()))
}

/// The TLS setup of `tls`: `send`'s three choices, built with rustls' ring provider.
fn client_config(tls: &http::TlsOptions) -> Result<Arc<rustls::ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(format!("cannot set up TLS: {e}")))?;
    let config = if tls.no_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
                    roots
                        .add(cert)
                        .map_err(|e| invalid(format!("http session: tls.ca-pem: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(invalid(
                        "http session: tls.ca-pem holds no certificate".to_string(),
                    ));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// libvirt's `no_verify=1`: any certificate and name, though the handshake's signatures are
/// still checked (they cost nothing and keep the channel's keys honest).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A response's headers as the WIT `http` records carry them (values lossily as text).
pub(crate) fn header_pairs(headers: &ureq_proto::http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How the test server ends a connection after an answer.
    #[derive(Clone, Copy)]
    enum Ending {
        /// Keeps it for the next request.
        KeepAlive,
        /// Says `Connection: close` and closes it.
        Announced,
        /// Closes it quietly a moment after answering, as an idle timeout does.
        Quietly,
        /// Reads the request and closes without answering.
        NoAnswer,
    }

    /// A loopback HTTP/1.1 server that answers `200` with `connection N request M PATH` (a
    /// chunked body for paths ending in `/chunked`), counting the connections it accepted.
    struct Server {
        port: u16,
        accepted: Arc<AtomicUsize>,
    }

    impl Server {
        fn start(ending: Ending) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("address").port();
            let accepted = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&accepted);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let connection = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    std::thread::spawn(move || serve(stream, connection, ending));
                }
            });
            Server { port, accepted }
        }

        fn origin(&self) -> Origin {
            Origin {
                https: false,
                host: "127.0.0.1".to_string(),
                port: self.port,
            }
        }

        fn accepted(&self) -> usize {
            self.accepted.load(Ordering::SeqCst)
        }
    }

    fn serve(stream: TcpStream, connection: usize, ending: Ending) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        for request in 1.. {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let path = line.split(' ').nth(1).unwrap_or("?").to_string();
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                if header == "\r\n" {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let text = format!(
                "connection {connection} request {request} {path} {}",
                String::from_utf8_lossy(&body)
            );
            let close = matches!(ending, Ending::Announced);
            let head = if path.ends_with("/chunked") {
                let half = text.len() / 2;
                format!(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                    half,
                    &text[..half],
                    text.len() - half,
                    &text[half..]
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{}\r\n{text}",
                    text.len(),
                    if close { "Connection: close\r\n" } else { "" }
                )
            };
            if matches!(ending, Ending::NoAnswer) {
                return;
            }
            if writer.write_all(head.as_bytes()).is_err() {
                return;
            }
            match ending {
                Ending::KeepAlive => {}
                Ending::Announced | Ending::NoAnswer => return,
                Ending::Quietly => {
                    std::thread::sleep(Duration::from_millis(20));
                    return;
                }
            }
        }
    }

    fn post(origin: &Origin, path: &str, body: &str) -> ureq_proto::http::Request<()> {
        request(
            origin,
            &http::SessionRequest {
                method: "POST".to_string(),
                path: path.to_string(),
                headers: vec![("Authorization".to_string(), "NTLM x".to_string())],
                body: body.as_bytes().to_vec(),
                timeout_ms: 0,
            },
        )
        .expect("a valid request")
    }

    fn open(server: &Server) -> Session {
        let tls = http::TlsOptions {
            no_verify: false,
            ca_pem: None,
        };
        Session::open(server.origin(), &tls, Duration::from_secs(5)).expect("connects")
    }

    fn send(session: &mut Session, path: &str, body: &str) -> Result<Answer, Error> {
        let origin = session.origin().clone();
        session.send(
            post(&origin, path, body),
            body.as_bytes(),
            Duration::from_secs(5),
        )
    }

    fn text(answer: &Answer) -> String {
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    #[test]
    fn a_session_keeps_its_one_connection() {
        let server = Server::start(Ending::KeepAlive);
        let mut session = open(&server);
        for n in 1..=3 {
            let answer = send(&mut session, "/wsman", "hello").expect("answered");
            assert_eq!(answer.status, 200);
            assert_eq!(
                text(&answer),
                format!("connection 1 request {n} /wsman hello")
            );
            assert!(!answer.reconnected);
        }
        let answer = send(&mut session, "/x/chunked", "").expect("answered");
        assert_eq!(text(&answer), "connection 1 request 4 /x/chunked ");
        assert_eq!(server.accepted(), 1);
    }

    #[test]
    fn a_connection_the_server_closed_is_made_again_and_said_so() {
        for ending in [Ending::Announced, Ending::Quietly] {
            let server = Server::start(ending);
            let mut session = open(&server);
            let first = send(&mut session, "/wsman", "a").expect("answered");
            assert_eq!(text(&first), "connection 1 request 1 /wsman a");
            assert!(!first.reconnected);
            // Let the quiet close arrive before the next request.
            std::thread::sleep(Duration::from_millis(100));
            let second = send(&mut session, "/wsman", "b").expect("answered");
            assert_eq!(text(&second), "connection 2 request 1 /wsman b");
            assert!(second.reconnected);
            assert_eq!(server.accepted(), 2);
        }
    }

    #[test]
    fn a_request_left_unanswered_fails_and_is_never_resent() {
        let server = Server::start(Ending::NoAnswer);
        let mut session = open(&server);
        let error = send(&mut session, "/wsman", "a").expect_err("no answer");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        assert!(
            error.message().contains("http://127.0.0.1:")
                && error
                    .message()
                    .contains("closed the connection before answering"),
            "{error}"
        );
        assert_eq!(server.accepted(), 1);
        // The next request goes over a new connection (which this server leaves unanswered too).
        let error = send(&mut session, "/wsman", "b").expect_err("no answer");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        assert_eq!(server.accepted(), 2);
    }

    #[test]
    fn a_silent_server_runs_into_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let origin = Origin {
            https: false,
            host: "127.0.0.1".to_string(),
            port: listener.local_addr().expect("address").port(),
        };
        let tls = http::TlsOptions {
            no_verify: false,
            ca_pem: None,
        };
        let mut session = Session::open(origin.clone(), &tls, Duration::from_secs(5))
            .expect("the kernel accepts");
        let started = Instant::now();
        let error = session
            .send(post(&origin, "/", "x"), b"x", Duration::from_millis(300))
            .expect_err("no answer");
        assert!(error.message().contains("timed out"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[test]
    fn a_refused_endpoint_is_the_openers_error() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let origin = Origin {
            https: false,
            host: "127.0.0.1".to_string(),
            port,
        };
        let tls = http::TlsOptions {
            no_verify: false,
            ca_pem: None,
        };
        let error = Session::open(origin, &tls, Duration::from_secs(2))
            .err()
            .expect("refused");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        assert!(
            error
                .message()
                .contains(&format!("cannot connect to 'http://127.0.0.1:{port}'")),
            "{error}"
        );
    }

    #[test]
    fn requests_need_a_path_and_get_a_length() {
        let origin = Origin {
            https: false,
            host: "h".to_string(),
            port: 80,
        };
        let mut wit = http::SessionRequest {
            method: "POST".to_string(),
            path: "wsman".to_string(),
            headers: vec![],
            body: vec![],
            timeout_ms: 0,
        };
        let error = request(&origin, &wit).expect_err("no leading slash");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        wit.path = "/wsman".to_string();
        let built = request(&origin, &wit).expect("valid");
        assert_eq!(built.uri().to_string(), "http://h:80/wsman");
        assert_eq!(built.headers()["content-length"], "0");
    }

    #[test]
    fn an_instance_holds_a_bounded_number_of_sessions() {
        let server = Server::start(Ending::KeepAlive);
        let mut sessions = Sessions::default();
        let handles: Vec<u64> = (0..MAX_SESSIONS)
            .map(|_| sessions.insert(open(&server)).expect("room"))
            .collect();
        let error = sessions.insert(open(&server)).expect_err("full");
        assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
        sessions.remove(handles[0]);
        assert_eq!(
            sessions.get_mut(handles[0]).err().map(|e| e.code()),
            Some(ErrorNumber::INVALID_ARG)
        );
        sessions.insert(open(&server)).expect("room again");
    }
}
