//! A driver plugin that misbehaves on request, so the host's containment can be tested.
//!
//! `misbehave:///NAME` opens a volatile space `NAME`. Domains are records holding only their
//! name; `define-xml` takes the bare name as its "XML". `lookup-by-name` does what the name
//! says: `trap` hits `unreachable`, `panic` panics, `loop` never returns, `hog` allocates
//! until the memory limit stops it, `forbidden` spawns a program it was not granted, `slow`
//! waits 30 s in a host call (a child `sleep`), `slow-short` waits 2 s, `exit-watch` starts a
//! short-lived child whose exit the `handlers` export records as domain `exited`,
//! `stream:PATH` sends `hello` on a line-framed unix socket and names the domain after the
//! reply (later unsolicited lines become domains `frame:LINE`, the peer hanging up domain
//! `closed`); any other name is looked up
//! among the defined domains. Handler calls emit a STOPPED lifecycle event for what they add.
//!
//! The host calls of `rvirt:driver@0.2.0`: `run:WORDS` runs `/usr/bin/echo WORDS` through
//! `command.run` and names the domain `out:STDOUT`; `http:URL` (or `https-noverify:URL`, or
//! `https-ca:PEMFILE|URL` trusting the CA in PEMFILE) GETs the URL through `http.send` and
//! names the domain `http:STATUS:BODY`; `session:URL` (`session-noverify:`, `session-ca:`
//! alike) GETs the URL's path over an `http` session and names the domain
//! `session:STATUS:RECONNECTED:BODY`, and `session-trap:URL` does so and then traps, leaving
//! the session open; `ssh:USER@HOST:PORT:KEYFILE:CMD`
//! opens a session with that key and no host key check, runs CMD and names the domain
//! `ssh:EXIT:STDOUT`, and `ssh-trap:USER@HOST:PORT:KEYFILE` opens one and then traps.
//!
//! `domain-listing.list-all-packed` answers NO_SUPPORT (the host then calls `list-all`)
//! until a domain `garbled-listing` is defined, and a buffer that does not parse after.
//!
//! Only the component has content: natively (`cargo test --workspace`) the crate is empty,
//! since the native linker cannot carry the `rvirt:driver/...` export names.
#![cfg(target_arch = "wasm32")]

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{command, events, files, http, process, ssh, state, stream};
use virt_plugin_sdk::types::{DomainRef, Error, Uuid};
use virt_plugin_sdk::*;

struct Misbehave;

fn uuid_of(name: &str) -> Uuid {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Uuid {
        hi: hash,
        lo: !hash,
    }
}

fn domain(name: &str) -> DomainRef {
    DomainRef {
        name: name.to_string(),
        uuid: uuid_of(name),
        id: -1,
    }
}

fn sleep_request(seconds: &str) -> process::SpawnRequest {
    process::SpawnRequest {
        program: "/usr/bin/sleep".into(),
        args: vec![seconds.into()],
        env: vec![],
        cwd: None,
        stdout: process::Output::Discard,
        stderr: process::Output::Discard,
        pass_fds: vec![],
    }
}

/// Records a domain the handlers learned about and announces it (STOPPED, detail 0).
fn record_from_handler(name: &str) {
    state::put("domain", name, name.as_bytes());
    events::emit(&types::Event::DomainLifecycle((domain(name), 5, 0)));
}

/// Opens an ssh session to `USER@HOST:PORT:KEYFILE` with that key and no host key check.
fn open_ssh(target: &str) -> Result<u64, Error> {
    let mut parts = target.splitn(3, ':');
    let (login, port, key) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (user, host) = login.split_once('@').unwrap_or(("root", login));
    ssh::open(&ssh::SessionRequest {
        host: host.into(),
        port: port.parse().unwrap_or(22),
        user: user.into(),
        auth: ssh::Auth::KeyFile(key.into()),
        no_verify: true,
        timeout_ms: 10_000,
    })
}

fn sleep_in_host(seconds: &str) -> Result<(), Error> {
    let handle = process::spawn(&sleep_request(seconds))?;
    let status = process::wait(handle, 60_000)?;
    if status.running {
        return Err(error(
            ErrorNumber::OPERATION_TIMEOUT,
            ErrorDomain::NONE,
            "sleep did not end",
        ));
    }
    Ok(())
}

impl Connect for Misbehave {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "Misbehave".into(),
            version: "0.1.0".into(),
            uri_schemes: vec!["misbehave".into()],
            hypervisor_version: 1,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let name = uri
            .trim_start_matches("misbehave://")
            .trim_start_matches('/');
        state::bind_space(
            if name.is_empty() { "default" } else { name },
            state::Persistence::Volatile,
        )?;
        Ok(())
    }
}

impl Domains for Misbehave {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        match name.as_str() {
            "trap" => core::arch::wasm32::unreachable(),
            "panic" => panic!("asked to panic"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "forbidden" => {
                process::spawn(&process::SpawnRequest {
                    program: "/bin/sh".into(),
                    args: vec!["-c".into(), "true".into()],
                    env: vec![],
                    cwd: None,
                    stdout: process::Output::Discard,
                    stderr: process::Output::Discard,
                    pass_fds: vec![],
                })?;
                Ok(domain(&name))
            }
            "exit-watch" => {
                let handle = process::spawn(&sleep_request("0.1"))?;
                state::put("watch", &handle.to_string(), b"");
                Ok(domain(&name))
            }
            _ if name.starts_with("stream:") => {
                let handle =
                    stream::connect(&name["stream:".len()..], stream::Framing::Line, 2_000)?;
                stream::send(handle, b"hello\n")?;
                let reply = stream::recv(handle, 2_000)?.ok_or_else(|| {
                    error(
                        ErrorNumber::OPERATION_TIMEOUT,
                        ErrorDomain::NONE,
                        "no reply",
                    )
                })?;
                Ok(domain(&format!(
                    "reply:{}",
                    String::from_utf8_lossy(&reply)
                )))
            }
            _ if name.starts_with("run:") => {
                let output = command::run(&command::RunRequest {
                    program: "/usr/bin/echo".into(),
                    args: name["run:".len()..]
                        .split(' ')
                        .map(str::to_string)
                        .collect(),
                    env: vec![],
                    cwd: None,
                    stdin: vec![],
                    timeout_ms: 5_000,
                })?;
                let stdout = String::from_utf8_lossy(&output.stdout);
                Ok(domain(&format!("out:{}", stdout.trim_end())))
            }
            _ if name.starts_with("http:")
                || name.starts_with("https-noverify:")
                || name.starts_with("https-ca:") =>
            {
                let (scheme, rest) = name.split_once(':').unwrap_or_default();
                let (ca_pem, url) = match rest.split_once('|') {
                    Some((pem_file, url)) if scheme == "https-ca" => {
                        let pem = files::read(pem_file)?;
                        (Some(String::from_utf8_lossy(&pem).into_owned()), url)
                    }
                    _ => (None, rest),
                };
                let response = http::send(&http::Request {
                    method: "GET".into(),
                    url: url.into(),
                    headers: vec![("Accept".into(), "text/plain".into())],
                    body: vec![],
                    tls: http::TlsOptions {
                        no_verify: scheme == "https-noverify",
                        ca_pem,
                    },
                    timeout_ms: 5_000,
                })?;
                Ok(domain(&format!(
                    "http:{}:{}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                )))
            }
            _ if name.starts_with("session") => {
                let (scheme, rest) = name.split_once(':').unwrap_or_default();
                let (ca_pem, url) = match rest.split_once('|') {
                    Some((pem_file, url)) if scheme == "session-ca" => {
                        let pem = files::read(pem_file)?;
                        (Some(String::from_utf8_lossy(&pem).into_owned()), url)
                    }
                    _ => (None, rest),
                };
                let path = url
                    .splitn(4, '/')
                    .nth(3)
                    .map(|path| format!("/{path}"))
                    .unwrap_or_else(|| "/".to_string());
                let session = http::open_session(&http::SessionOptions {
                    url: url.into(),
                    tls: http::TlsOptions {
                        no_verify: scheme == "session-noverify",
                        ca_pem,
                    },
                    timeout_ms: 5_000,
                })?;
                let response = http::send_on(
                    session,
                    &http::SessionRequest {
                        method: "GET".into(),
                        path,
                        headers: vec![("Accept".into(), "text/plain".into())],
                        body: vec![],
                        timeout_ms: 5_000,
                    },
                )?;
                if scheme == "session-trap" {
                    core::arch::wasm32::unreachable()
                }
                http::close_session(session);
                Ok(domain(&format!(
                    "session:{}:{}:{}",
                    response.status,
                    response.reconnected,
                    String::from_utf8_lossy(&response.body)
                )))
            }
            _ if name.starts_with("ssh-trap:") => {
                open_ssh(&name["ssh-trap:".len()..])?;
                unreachable!("trapping with an ssh session open")
            }
            _ if name.starts_with("ssh:") => {
                // USER@HOST:PORT:KEYFILE, then CMD (which may hold colons).
                let rest = &name["ssh:".len()..];
                let cut = rest
                    .match_indices(':')
                    .nth(2)
                    .map_or(rest.len(), |(at, _)| at);
                let (target, cmd) = (&rest[..cut], rest.get(cut + 1..).unwrap_or_default());
                let session = open_ssh(target)?;
                let output = ssh::exec(session, cmd, &[], 10_000);
                ssh::close(session);
                let output = output?;
                Ok(domain(&format!(
                    "ssh:{}:{}",
                    output.exit_code.unwrap_or(-1),
                    String::from_utf8_lossy(&output.stdout).trim_end()
                )))
            }
            "slow" => sleep_in_host("30").map(|()| domain(&name)),
            "slow-short" => sleep_in_host("2").map(|()| domain(&name)),
            _ => match state::get("domain", &name) {
                Some(_) => Ok(domain(&name)),
                None => Err(error(
                    ErrorNumber::NO_DOMAIN,
                    ErrorDomain::DOM,
                    format!("no domain with matching name '{name}'"),
                )),
            },
        }
    }

    fn define_xml(&self, xml: String, _flags: u32) -> Result<DomainRef, Error> {
        state::put("domain", &xml, xml.as_bytes());
        Ok(domain(&xml))
    }

    fn list_all(&self, _flags: u32) -> Result<Vec<DomainRef>, Error> {
        Ok(state::list("domain")
            .into_iter()
            .map(|(name, _)| domain(&name))
            .collect())
    }

    /// NO_SUPPORT (the host falls back to `list_all`) unless a domain `garbled-listing` is
    /// defined: then a listing that announces two domains and breaks off inside the first.
    fn list_all_packed(&self, _flags: u32) -> Result<Vec<u8>, Error> {
        if state::get("domain", "garbled-listing").is_none() {
            return Err(error(
                ErrorNumber::NO_SUPPORT,
                ErrorDomain::NONE,
                "virConnectListAllDomains",
            ));
        }
        let mut packed = 2u32.to_le_bytes().to_vec();
        packed.extend_from_slice(&[0xab; 16]);
        packed.extend_from_slice(&(-1i32).to_le_bytes());
        packed.extend_from_slice(&1000u32.to_le_bytes());
        packed.extend_from_slice(b"short");
        Ok(packed)
    }

    /// Defines a domain and then traps: the definition must not survive. `loop` spins
    /// instead, in a call rvirtd does not count as high-priority.
    fn create_xml(&self, xml: String, _flags: u32) -> Result<DomainRef, Error> {
        if xml == "loop" {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        state::put("domain", &xml, xml.as_bytes());
        core::arch::wasm32::unreachable()
    }
}

impl Snapshots for Misbehave {}
impl Networks for Misbehave {}
impl Storage for Misbehave {}
impl HostDevices for Misbehave {}
impl Secrets for Misbehave {}
impl Handlers for Misbehave {
    fn process_exited(&self, handle: process::ProcessHandle, status: process::ProcessStatus) {
        if state::get("watch", &handle.to_string()).is_some() && !status.running {
            state::delete("watch", &handle.to_string());
            record_from_handler("exited");
        }
    }

    fn stream_frame(&self, _handle: stream::StreamHandle, frame: Vec<u8>) {
        record_from_handler(&format!("frame:{}", String::from_utf8_lossy(&frame)));
    }

    fn stream_closed(&self, _handle: stream::StreamHandle) {
        record_from_handler("closed");
    }
}

export_plugin!(Misbehave = Misbehave);
