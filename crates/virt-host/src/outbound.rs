//! The host calls `rvirt:driver@0.2.0` added for drivers whose hypervisor sits behind a tool,
//! a web service or a management console: `command` (run a program to completion, output
//! captured), `http` (outbound HTTP(S) to granted endpoints; its sessions, one connection
//! each, are `http_session`'s) and `ssh` (command sessions over the system's OpenSSH client,
//! with interactive channels from `ssh_terminal`).
//!
//! Each is checked like the 0.1 calls: `command` against `spawn`, `http` and `ssh` against
//! `connect` (`host:port`). Time spent waiting on the program or the peer is not charged to
//! the call's CPU budget. This module knows nothing of any hypervisor's protocol: SOAP
//! envelopes, WS-Management or an HMC's commands are the plugins' business.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::bindings::v0_2::{command, http, ssh};
use crate::bindings::wit;
use crate::ctx::PluginCtx;
use crate::error::system;
use crate::http_session::{Origin, Session};
use crate::manifest::Operation;
use crate::ssh_terminal::{self, Terminal};

type WitResult<T> = Result<T, wit::Error>;

/// What a call may wait for when it names no deadline.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Output kept per stream of a `command.run` or `ssh.exec`; the rest is read and dropped.
const OUTPUT_LIMIT: usize = 16 << 20;
/// Largest HTTP response body a plugin gets.
const HTTP_BODY_LIMIT: u64 = 256 << 20;

fn timeout_or(timeout_ms: u32, default: Duration) -> Duration {
    if timeout_ms == 0 {
        default
    } else {
        Duration::from_millis(timeout_ms.into())
    }
}

fn failed(message: String) -> Error {
    Error::new(ErrorNumber::OPERATION_FAILED, ErrorDomain::NONE, message)
}

/// A finished (or killed) child and what it wrote.
struct Finished {
    status: std::process::ExitStatus,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
}

/// A stream being read by a [`collect`] thread: what it kept so far (and whether some was
/// dropped), and a signal that the stream ended.
struct Collected {
    kept: Arc<Mutex<(Vec<u8>, bool)>>,
    ended: std::sync::mpsc::Receiver<()>,
}

/// Reads `stream` to its end on a thread, keeping at most [`OUTPUT_LIMIT`] bytes.
fn collect(mut stream: impl Read + Send + 'static) -> Collected {
    let kept = Arc::new(Mutex::new((Vec::new(), false)));
    let (done, ended) = std::sync::mpsc::channel();
    let sink = Arc::clone(&kept);
    std::thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                    let room = OUTPUT_LIMIT.saturating_sub(kept.0.len());
                    if n > room {
                        kept.1 = true;
                    }
                    kept.0.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        let _ = done.send(());
    });
    Collected { kept, ended }
}

/// What a [`collect`] thread read, waiting for the end of the stream until `deadline` at the
/// latest: a daemon the program left behind may hold the pipe open for good, and then the
/// output is what was read by then.
fn collected(output: Collected, deadline: Instant) -> (Vec<u8>, bool) {
    let wait = deadline.saturating_duration_since(Instant::now());
    let _ = output
        .ended
        .recv_timeout(wait.max(Duration::from_millis(100)));
    std::mem::take(&mut *output.kept.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Runs `command` with `stdin`, collects its output and kills it at `deadline`.
fn run_to_completion(
    mut command: Command,
    what: &str,
    stdin: Vec<u8>,
    timeout: Duration,
) -> Result<Finished, Error> {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: runs in the forked child before exec and calls only setpgid and prctl, which
    // are async-signal-safe. Its own process group lets the deadline kill what it started
    // too; the death signal keeps it from outliving the daemon that waits for it.
    unsafe {
        command.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| system(format!("cannot execute '{what}'"), e))?;
    let (stdout, stderr) = match (child.stdout.take(), child.stderr.take()) {
        (Some(stdout), Some(stderr)) => (collect(stdout), collect(stderr)),
        _ => {
            return Err(system(
                format!("cannot read the output of '{what}'"),
                "no pipe",
            ))
        }
    };
    if let Some(mut pipe) = child.stdin.take() {
        // A writer thread: a child that does not read its input must not block the host.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
        });
    }
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = wait_until(&mut child, deadline)
        .map_err(|e| system(format!("cannot wait for '{what}'"), e))?;
    // What the program wrote is in the pipes by now; a moment drains it, and something it left
    // running that still holds them does not keep the call to the deadline.
    let drained = deadline.min(Instant::now() + Duration::from_millis(500));
    let (stdout, out_truncated) = collected(stdout, drained);
    let (stderr, err_truncated) = collected(stderr, drained);
    Ok(Finished {
        status,
        timed_out,
        stdout,
        stderr,
        truncated: out_truncated || err_truncated,
    })
}

/// Waits for `child`, killing it at `deadline`; true in the second place if it was killed.
fn wait_until(
    child: &mut Child,
    deadline: Instant,
) -> std::io::Result<(std::process::ExitStatus, bool)> {
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, false));
        }
        let now = Instant::now();
        if now >= deadline {
            // The whole group: what the program started goes with it.
            // SAFETY: kill(2) on the process group the child leads (setpgid in pre_exec).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.kill();
            return Ok((child.wait()?, true));
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

impl command::Host for PluginCtx {
    fn run(&mut self, request: command::RunRequest) -> WitResult<command::RunOutput> {
        let program =
            crate::host_calls::resolve_program(&request.program, &self.shared.helper_dirs)
                .ok_or_else(|| {
                    Error::new(
                        ErrorNumber::SYSTEM_ERROR,
                        ErrorDomain::NONE,
                        format!("cannot find program '{}'", request.program),
                    )
                })?;
        self.check(Operation::Spawn(&program))?;
        if let Some(cwd) = &request.cwd {
            self.check_file(cwd, false)?;
        }
        let mut command = Command::new(&program);
        command
            .args(&request.args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LC_ALL", "C")
            .envs(request.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &request.cwd {
            command.current_dir(cwd);
        }
        let timeout = timeout_or(request.timeout_ms, DEFAULT_TIMEOUT);
        let what = program.display().to_string();
        let stdin = request.stdin;
        let finished = self.blocking(|_| run_to_completion(command, &what, stdin, timeout))?;
        tracing::debug!(plugin = %self.shared.name, program = %what, status = %finished.status, "command ran");
        Ok(command::RunOutput {
            exit_code: finished.status.code(),
            signal: finished.status.signal(),
            timed_out: finished.timed_out,
            stdout: finished.stdout,
            stderr: finished.stderr,
            truncated: finished.truncated,
        })
    }
}

/// The `host` and `port` a URL reaches (the scheme's port when it names none).
fn endpoint(url: &str) -> Result<(ureq::http::Uri, String, u16), Error> {
    let invalid = |why: &str| {
        Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::NONE,
            format!("invalid URL '{url}': {why}"),
        )
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| invalid("cannot parse it"))?;
    let default_port = match uri.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return Err(invalid("the scheme must be http or https")),
    };
    let host = uri.host().ok_or_else(|| invalid("no host"))?.to_string();
    let port = uri.port_u16().unwrap_or(default_port);
    Ok((uri, host, port))
}

fn tls_config(options: &http::TlsOptions) -> Result<ureq::tls::TlsConfig, Error> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let mut config = TlsConfig::builder().disable_verification(options.no_verify);
    if let Some(pem) = &options.ca_pem {
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem.as_bytes())
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(cert),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                "http request: tls.ca-pem holds no certificate",
            ));
        }
        config = config.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(config.build())
}

/// Which pool of kept-alive connections a request may use: one plugin's, with one TLS
/// configuration. A SOAP driver's calls to one server then cost a request each, not a TCP
/// and TLS handshake each; plugins never share connections.
#[derive(Clone, PartialEq, Eq, Hash)]
struct AgentKey {
    plugin: String,
    no_verify: bool,
    ca_pem: Option<String>,
}

fn agent_for(plugin: &str, tls: &http::TlsOptions) -> Result<ureq::Agent, Error> {
    static AGENTS: OnceLock<Mutex<HashMap<AgentKey, ureq::Agent>>> = OnceLock::new();
    let key = AgentKey {
        plugin: plugin.to_string(),
        no_verify: tls.no_verify,
        ca_pem: tls.ca_pem.clone(),
    };
    let mut agents = AGENTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(agent) = agents.get(&key) {
        return Ok(agent.clone());
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(tls_config(tls)?)
        .build()
        .into();
    agents.insert(key, agent.clone());
    Ok(agent)
}

impl http::Host for PluginCtx {
    fn send(&mut self, request: http::Request) -> WitResult<http::Response> {
        let (uri, host, port) = endpoint(&request.url)?;
        self.check(Operation::Connect { host: &host, port })?;
        let timeout = timeout_or(request.timeout_ms, DEFAULT_TIMEOUT);
        let agent = agent_for(&self.shared.name, &request.tls)?;
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(uri);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder.body(request.body).map_err(|e| {
            Error::new(
                ErrorNumber::INVALID_ARG,
                ErrorDomain::NONE,
                format!("invalid HTTP request to '{}': {e}", request.url),
            )
        })?;
        let outgoing = agent
            .configure_request(outgoing)
            .timeout_global(Some(timeout))
            .build();
        let url = request.url;
        let response = self.blocking(|_| -> Result<http::Response, Error> {
            let mut response = agent
                .run(outgoing)
                .map_err(|e| failed(format!("HTTP request to '{url}' failed: {e}")))?;
            let status = response.status().as_u16();
            let headers = crate::http_session::header_pairs(response.headers());
            let body = response
                .body_mut()
                .with_config()
                .limit(HTTP_BODY_LIMIT)
                .read_to_vec()
                .map_err(|e| failed(format!("reading the response of '{url}' failed: {e}")))?;
            Ok(http::Response {
                status,
                headers,
                body,
            })
        })?;
        Ok(response)
    }

    fn open_session(&mut self, options: http::SessionOptions) -> WitResult<http::SessionHandle> {
        let (_, host, port) = endpoint(&options.url)?;
        self.check(Operation::Connect { host: &host, port })?;
        let origin = Origin {
            https: options.url.starts_with("https:"),
            host,
            port,
        };
        let timeout = timeout_or(options.timeout_ms, DEFAULT_CONNECT_TIMEOUT);
        let session = self.blocking(|_| Session::open(origin, &options.tls, timeout))?;
        let handle = self.http_sessions.insert(session)?;
        tracing::debug!(plugin = %self.shared.name, url = %options.url, handle, "http session opened");
        Ok(handle)
    }

    fn send_on(
        &mut self,
        handle: http::SessionHandle,
        request: http::SessionRequest,
    ) -> WitResult<http::SessionResponse> {
        let session = self.http_sessions.get_mut(handle)?;
        let outgoing = crate::http_session::request(session.origin(), &request)?;
        let timeout = timeout_or(request.timeout_ms, DEFAULT_TIMEOUT);
        let answer = self.blocking(|ctx| {
            ctx.http_sessions
                .get_mut(handle)
                .and_then(|session| session.send(outgoing, &request.body, timeout))
        })?;
        if answer.reconnected {
            tracing::debug!(plugin = %self.shared.name, handle, "http session went over a new connection");
        }
        Ok(http::SessionResponse {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
            reconnected: answer.reconnected,
        })
    }

    fn close_session(&mut self, handle: http::SessionHandle) {
        self.http_sessions.remove(handle);
    }
}

/// One OpenSSH master connection: `exec` runs commands through its control socket.
struct SshSession {
    owner: String,
    host: String,
    port: u16,
    user: String,
    dir: PathBuf,
    master: Mutex<Child>,
    /// Interactive channels (`open-terminal`) by handle; they end with the session.
    terminals: Mutex<HashMap<u64, Terminal>>,
}

impl SshSession {
    fn control_path(&self) -> PathBuf {
        self.dir.join("control")
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        // The channels first: they ride the master connection.
        self.terminals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        let _ = master.kill();
        let _ = master.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Closes the `ssh` sessions a trapped call opened: the handles went with its writes (or its
/// instance), and sessions live until closed, not with an instance.
pub(crate) fn close_ssh_sessions_of_trapped_call(handles: &[u64]) {
    let closing: Vec<(u64, Arc<SshSession>)> = {
        let mut sessions = sessions().lock().unwrap_or_else(|p| p.into_inner());
        handles
            .iter()
            .filter_map(|handle| Some((*handle, sessions.remove(handle)?)))
            .collect()
    };
    // Dropped outside the lock: a drop waits for the master connection to end.
    for (handle, session) in closing {
        tracing::debug!(plugin = %session.owner, host = %session.host, handle, "ssh session of a trapped call closed");
    }
}

fn sessions() -> &'static Mutex<HashMap<u64, Arc<SshSession>>> {
    static SESSIONS: OnceLock<Mutex<HashMap<u64, Arc<SshSession>>>> = OnceLock::new();
    SESSIONS.get_or_init(Default::default)
}

/// The options every ssh invocation of a session shares.
fn ssh_base(control: &Path, port: u16, user: &str) -> Command {
    let mut command = Command::new("ssh");
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .arg("-S")
        .arg(control)
        .args(["-p", &port.to_string(), "-l", user])
        .args(["-F", "/dev/null", "-o", "LogLevel=ERROR"]);
    command
}

/// Makes a private directory for a session's control socket (and askpass helper).
fn session_dir() -> Result<PathBuf, Error> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!(
        "rvirt-ssh-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir(&dir)
        .map_err(|e| system(format!("cannot create '{}'", dir.display()), e))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| system(format!("cannot restrict '{}'", dir.display()), e))?;
    Ok(dir)
}

fn write_private(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| system(format!("cannot create '{}'", path.display()), e))?;
    file.write_all(contents)
        .map_err(|e| system(format!("cannot write '{}'", path.display()), e))
}

/// Starts the master connection and waits until it is authenticated (its control socket
/// appears) or gives up (it exits, or the deadline passes).
fn open_master(
    request: &ssh::SessionRequest,
    key_file: Option<&Path>,
    dir: &Path,
) -> Result<Child, Error> {
    let control = dir.join("control");
    let mut command = ssh_base(&control, request.port, &request.user);
    let timeout = timeout_or(request.timeout_ms, DEFAULT_CONNECT_TIMEOUT);
    command
        .args(["-M", "-N", "-o", "ControlPersist=no"])
        .args([
            "-o",
            &format!("ConnectTimeout={}", timeout.as_secs().max(1)),
        ])
        .args(["-o", "ServerAliveInterval=15"]);
    if request.no_verify {
        command.args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ]);
    } else {
        command.args(["-o", "StrictHostKeyChecking=yes"]);
    }
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    match &request.auth {
        ssh::Auth::DefaultKeys => {
            command.args(["-o", "BatchMode=yes"]);
            if let Some(agent) = std::env::var_os("SSH_AUTH_SOCK") {
                command.env("SSH_AUTH_SOCK", agent);
            }
        }
        ssh::Auth::KeyFile(_) => {
            let key = key_file.unwrap_or(Path::new("/dev/null"));
            command
                .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i"])
                .arg(key);
        }
        ssh::Auth::Password(password) => {
            // OpenSSH reads a password only from a terminal or an askpass program: a helper
            // in the session's private directory prints it, and the file goes once the master
            // is up.
            let secret = dir.join("password");
            write_private(&secret, password.as_bytes(), 0o600)?;
            let askpass = dir.join("askpass");
            let script = format!("#!/bin/sh\nexec cat '{}'\n", secret.display());
            write_private(&askpass, script.as_bytes(), 0o700)?;
            command
                .env("SSH_ASKPASS", &askpass)
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("DISPLAY", "none")
                .args([
                    "-o",
                    "PreferredAuthentications=password,keyboard-interactive",
                    "-o",
                    "PubkeyAuthentication=no",
                    "-o",
                    "NumberOfPasswordPrompts=1",
                ]);
        }
    }
    command
        .arg(&request.host)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: as in `run_to_completion`: only setsid and prctl between fork and exec (its
    // own session, so a signal to the daemon's process group does not reach it).
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut master = command
        .spawn()
        .map_err(|e| system("cannot execute 'ssh'", e))?;
    let stderr = master.stderr.take().map(collect);
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    let outcome = loop {
        if control.exists() {
            break Ok(());
        }
        match master.try_wait() {
            Ok(Some(_)) => break Err(None),
            Ok(None) => {}
            Err(e) => break Err(Some(system("cannot wait for 'ssh'", e))),
        }
        if Instant::now() >= deadline {
            let _ = master.kill();
            let _ = master.wait();
            break Err(Some(failed(format!(
                "cannot connect to '{}:{}' over ssh: timed out",
                request.host, request.port
            ))));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = std::fs::remove_file(dir.join("password"));
    match outcome {
        Ok(()) => Ok(master),
        Err(Some(error)) => Err(error),
        Err(None) => {
            let (text, _) = stderr
                .map(|output| collected(output, Instant::now() + Duration::from_secs(1)))
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_string();
            let target = format!("{}@{}:{}", request.user, request.host, request.port);
            if text.contains("Permission denied") || text.contains("Too many authentication") {
                Err(Error::new(
                    ErrorNumber::AUTH_FAILED,
                    ErrorDomain::NONE,
                    format!("authentication failed for '{target}': {text}"),
                ))
            } else {
                Err(failed(format!(
                    "cannot connect to '{target}' over ssh: {text}"
                )))
            }
        }
    }
}

impl PluginCtx {
    fn session(&self, handle: ssh::SessionHandle) -> Result<Arc<SshSession>, Error> {
        sessions()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&handle)
            .filter(|session| session.owner == self.shared.name)
            .cloned()
            .ok_or_else(|| {
                Error::new(
                    ErrorNumber::INVALID_ARG,
                    ErrorDomain::NONE,
                    format!("no ssh session with handle {handle}"),
                )
            })
    }
}

impl ssh::Host for PluginCtx {
    fn open(&mut self, request: ssh::SessionRequest) -> WitResult<ssh::SessionHandle> {
        self.check(Operation::Connect {
            host: &request.host,
            port: request.port,
        })?;
        let key_file = match &request.auth {
            ssh::Auth::KeyFile(path) => Some(self.check_file(path, false)?),
            _ => None,
        };
        let dir = session_dir()?;
        let master = self.blocking(|_| open_master(&request, key_file.as_deref(), &dir));
        let master = match master {
            Ok(master) => master,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(error.into());
            }
        };
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let handle = NEXT.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(SshSession {
            owner: self.shared.name.clone(),
            host: request.host,
            port: request.port,
            user: request.user,
            dir,
            master: Mutex::new(master),
            terminals: Mutex::default(),
        });
        tracing::debug!(plugin = %self.shared.name, host = %session.host, port = session.port, handle, "ssh session opened");
        sessions()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, session);
        self.call.ssh_opened.push(handle);
        Ok(handle)
    }

    fn exec(
        &mut self,
        session: ssh::SessionHandle,
        command_line: String,
        stdin: Vec<u8>,
        timeout_ms: u32,
    ) -> WitResult<ssh::ExecOutput> {
        let session = self.session(session)?;
        let mut command = ssh_base(&session.control_path(), session.port, &session.user);
        command
            .args(["-o", "ControlMaster=no", "-o", "BatchMode=yes", "-T"])
            .arg(&session.host)
            .arg("--")
            .arg(&command_line);
        let timeout = timeout_or(timeout_ms, DEFAULT_TIMEOUT);
        let finished = self.blocking(|_| run_to_completion(command, "ssh", stdin, timeout))?;
        if finished.timed_out {
            return Err(failed(format!(
                "command over ssh to '{}' did not finish within {} ms",
                session.host,
                timeout.as_millis()
            ))
            .into());
        }
        // 255 is ssh's own failure (the master went away), not the remote command's.
        if finished.status.code() == Some(255) && !session.control_path().exists() {
            return Err(failed(format!(
                "the ssh session to '{}' is closed: {}",
                session.host,
                String::from_utf8_lossy(&finished.stderr).trim()
            ))
            .into());
        }
        Ok(ssh::ExecOutput {
            exit_code: finished.status.code(),
            stdout: finished.stdout,
            stderr: finished.stderr,
        })
    }

    fn open_terminal(
        &mut self,
        session: ssh::SessionHandle,
        request: ssh::TerminalRequest,
    ) -> WitResult<ssh::Terminal> {
        let session = self.session(session)?;
        let mut command = ssh_base(&session.control_path(), session.port, &session.user);
        // -tt: a remote terminal although this side's input is a pty master; -e none: the
        // console's bytes reach the remote side as they are (no `~.` escapes).
        command
            .args(["-o", "ControlMaster=no", "-o", "BatchMode=yes", "-tt"])
            .args(["-e", "none"])
            .arg(&session.host)
            .arg("--")
            .arg(&request.command);
        // SAFETY: as in `open_master`: only setsid and prctl between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let timeout = timeout_or(request.timeout_ms, DEFAULT_CONNECT_TIMEOUT);
        let what = format!("{} (over ssh to '{}')", request.command, session.host);
        let terminal = self
            .blocking(|_| ssh_terminal::start(command, &what, request.ready.as_deref(), timeout))?;
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let handle = NEXT.fetch_add(1, Ordering::Relaxed);
        let pty = terminal.pty.clone();
        tracing::debug!(plugin = %self.shared.name, host = %session.host, handle, %pty, "ssh terminal opened");
        session
            .terminals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(handle, terminal);
        Ok(ssh::Terminal { handle, pty })
    }

    fn terminal_alive(
        &mut self,
        session: ssh::SessionHandle,
        terminal: ssh::TerminalHandle,
    ) -> bool {
        let Ok(session) = self.session(session) else {
            return false;
        };
        let mut terminals = session.terminals.lock().unwrap_or_else(|p| p.into_inner());
        let alive = terminals.get_mut(&terminal).is_some_and(Terminal::alive);
        if !alive {
            terminals.remove(&terminal);
        }
        alive
    }

    fn close_terminal(&mut self, session: ssh::SessionHandle, terminal: ssh::TerminalHandle) {
        if let Ok(session) = self.session(session) {
            let closed = session
                .terminals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&terminal);
            drop(closed);
        }
    }

    fn close(&mut self, session: ssh::SessionHandle) {
        if self.session(session).is_ok() {
            sessions()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&session);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_take_the_scheme_port() {
        let (_, host, port) = endpoint("https://vc.example/sdk").expect("valid");
        assert_eq!((host.as_str(), port), ("vc.example", 443));
        let (_, host, port) = endpoint("http://127.0.0.1:8989/sdk").expect("valid");
        assert_eq!((host.as_str(), port), ("127.0.0.1", 8989));
        let error = endpoint("ftp://x/").expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(error.message().contains("ftp://x/"), "{}", error.message());
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_and_says_so() {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "echo started; exec sleep 30"]);
        let started = Instant::now();
        let finished =
            run_to_completion(command, "sh", Vec::new(), Duration::from_millis(300)).expect("runs");
        assert!(finished.timed_out);
        assert_eq!(finished.status.signal(), Some(libc::SIGKILL));
        assert_eq!(finished.stdout, b"started\n");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_command_that_leaves_a_child_behind_does_not_hold_the_call() {
        // The background sleep keeps stdout open after the shell exits.
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "echo parent; sleep 30 & exit 0"]);
        let started = Instant::now();
        let finished =
            run_to_completion(command, "sh", Vec::new(), Duration::from_millis(500)).expect("runs");
        assert_eq!(finished.status.code(), Some(0));
        assert_eq!(finished.stdout, b"parent\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_command_gets_its_input_and_keeps_both_outputs() {
        let mut command = Command::new("/bin/sh");
        command.args(["-c", "cat; echo oops >&2; exit 3"]);
        let finished =
            run_to_completion(command, "sh", b"hello".to_vec(), DEFAULT_TIMEOUT).expect("runs");
        assert_eq!(finished.status.code(), Some(3));
        assert_eq!(finished.stdout, b"hello");
        assert_eq!(finished.stderr, b"oops\n");
        assert!(!finished.truncated && !finished.timed_out);
    }
}
