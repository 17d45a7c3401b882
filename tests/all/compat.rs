//! The driver interface's versions: a plugin built for the frozen `rvirt:driver@0.1.0`
//! (the committed component `tests/compat/plugin-v0_1/prebuilt/compat.wasm`) loads and serves
//! on this host; a plugin claiming a version the host does not speak is refused before it is
//! instantiated; and the host calls 0.2.0 added (`command`, `http` with TLS verification,
//! `ssh`) work for a 0.2 plugin (the misbehave test plugin) within its grants and are refused
//! outside them.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::{ErrorNumber, Event};
use virt_host::{Host, HostConfig};

use crate::common::{host_config, open_in, test_plugins_dir, with_wit_version, workspace_root};

fn prebuilt_dir() -> PathBuf {
    workspace_root().join("tests/compat/plugin-v0_1/prebuilt")
}

fn config(plugin_dir: &Path, state_root: &Path) -> HostConfig {
    host_config(
        vec![plugin_dir.to_path_buf(), test_plugins_dir()],
        state_root,
    )
}

fn open(host: &Host, uri: &str) -> virt_core::Result<Connect> {
    open_in(host, uri)
}

/// A plugin directory holding the prebuilt 0.1.0 component and its manifest.
fn install_prebuilt(dir: &Path) {
    for file in ["compat.wasm", "compat.toml"] {
        std::fs::copy(prebuilt_dir().join(file), dir.join(file)).expect("copy prebuilt plugin");
    }
}

fn lifecycle_events(events: &mut virt_core::blocking::EventStream, name: &str) -> Vec<i32> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && seen.len() < 3 {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, .. }) if dom.name == name => seen.push(event),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    seen
}

#[test]
fn a_0_1_plugin_loads_and_serves_on_this_host() {
    let plugins = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    install_prebuilt(plugins.path());
    let wasm = std::fs::read(plugins.path().join("compat.wasm")).expect("prebuilt");
    assert_eq!(
        virt_host::wit_version::read(&wasm, Path::new("compat.wasm")).expect("version section"),
        "0.1.0",
        "the committed component is the frozen 0.1.0 build"
    );
    assert_ne!(virt_host::wit_version::HOST_WIT_VERSION, "0.1.0");

    let host = Host::new(config(plugins.path(), state.path()));
    let conn = open(&host, "compat:///walk").expect("a 0.1.0 plugin opens");
    assert_eq!(conn.get_type().expect("type"), "Compat");
    let mut events = conn.events().expect("events");

    let dom = conn.domain_define_xml("alpha", 0).expect("define");
    conn.domain_define_xml("beta", 0).expect("define");
    let mut names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name())
        .collect();
    names.sort();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(dom.state(0).expect("state").state, 5, "shut off");
    dom.create(0).expect("create");
    let found = conn.domain_lookup_by_name("alpha").expect("lookup");
    assert_eq!(found.state(0).expect("state").state, 1, "running");
    assert!(found
        .xml_desc(0)
        .expect("xml")
        .contains("<name>alpha</name>"));
    found.destroy(0).expect("destroy");
    assert_eq!(found.state(0).expect("state").state, 5);
    // Defined, started, stopped: libvirt's event numbers, through the 0.1 `events` import.
    assert_eq!(lifecycle_events(&mut events, "alpha"), [0, 2, 5]);

    // Errors keep libvirt's numbers across the frozen interface.
    let error = conn
        .domain_lookup_by_name("gamma")
        .expect_err("no such domain");
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN);
    let error = conn
        .domain_define_xml("<domain/>", 0)
        .expect_err("not a bare name");
    assert_eq!(error.code(), ErrorNumber::XML_ERROR);
    // What 0.1 never exported answers NO_SUPPORT, not a trap.
    let error = dom.suspend().expect_err("unsupported");
    assert_eq!(error.code(), ErrorNumber::NO_SUPPORT);
}

#[test]
fn a_plugin_claiming_an_unknown_major_is_refused_naming_both_versions() {
    let plugins = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let wasm = std::fs::read(prebuilt_dir().join("compat.wasm")).expect("prebuilt");
    std::fs::write(
        plugins.path().join("compat.wasm"),
        with_wit_version(&wasm, "1.0.0"),
    )
    .expect("write");
    let manifest = std::fs::read_to_string(prebuilt_dir().join("compat.toml")).expect("manifest");
    std::fs::write(
        plugins.path().join("compat.toml"),
        manifest.replace("wit = \"0.1.0\"", "wit = \"1.0.0\""),
    )
    .expect("write");
    let host = Host::new(config(plugins.path(), state.path()));
    let error = open(&host, "compat:///x").expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
    let message = error.message();
    assert!(
        message.contains("rvirt:driver@1.0.0")
            && message.contains("this host speaks 0.2.0 and 0.1.0")
            && message.contains("compat.wasm"),
        "{message}"
    );
    // The other plugins still load.
    open(&host, "misbehave:///after").expect("misbehave loads");
}

#[test]
fn two_plugins_claiming_one_scheme_the_second_is_refused_naming_both() {
    let plugins = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    install_prebuilt(plugins.path());
    std::fs::copy(
        prebuilt_dir().join("compat.wasm"),
        plugins.path().join("rival.wasm"),
    )
    .expect("copy");
    let manifest = std::fs::read_to_string(prebuilt_dir().join("compat.toml")).expect("manifest");
    std::fs::write(
        plugins.path().join("rival.toml"),
        manifest.replace("name = \"compat\"", "name = \"rival\""),
    )
    .expect("write");
    let host = Host::new(config(plugins.path(), state.path()));
    let problem = host.problems.join("\n");
    assert!(
        problem.contains("rival.toml")
            && problem.contains("`uri-schemes`")
            && problem.contains("'compat'")
            && problem.contains("compat.toml"),
        "{problem}"
    );
    // The first plugin serves the scheme, the others keep working.
    let conn = open(&host, "compat:///shared").expect("compat serves");
    assert_eq!(conn.get_type().expect("type"), "Compat");
    open(&host, "misbehave:///after").expect("misbehave loads");
}

#[test]
fn a_manifest_whose_version_disagrees_with_the_component_is_refused() {
    let plugins = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    install_prebuilt(plugins.path());
    let manifest = std::fs::read_to_string(prebuilt_dir().join("compat.toml")).expect("manifest");
    std::fs::write(
        plugins.path().join("compat.toml"),
        manifest.replace("version = \"0.1.0\"", "version = \"0.9.0\""),
    )
    .expect("write");
    let host = Host::new(config(plugins.path(), state.path()));
    let error = open(&host, "compat:///x").expect_err("refused");
    assert!(
        error.message().contains("version '0.9.0'") && error.message().contains("'0.1.0'"),
        "{}",
        error.message()
    );
    open(&host, "misbehave:///after").expect("misbehave loads");
}

fn misbehave_host() -> (Host, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("tempdir");
    let host = Host::new(config(state.path(), state.path()));
    (host, state)
}

#[test]
fn command_run_captures_output_within_the_spawn_grant() {
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///command").expect("open");
    let dom = conn
        .domain_lookup_by_name("run:hello from echo")
        .expect("echo is granted");
    assert_eq!(dom.name(), "out:hello from echo");
}

/// A one-request-at-a-time HTTP/1.1 server on 127.0.0.1 that answers every request with
/// `200` and the request line as the body.
fn http_peer() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).expect("request line");
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
                line.clear();
            }
            let body = request_line.trim_end();
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, server)
}

#[test]
fn http_reaches_a_granted_endpoint_and_nothing_else() {
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///http").expect("open");
    let (port, server) = http_peer();
    let dom = conn
        .domain_lookup_by_name(&format!("http:http://127.0.0.1:{port}/sdk"))
        .expect("127.0.0.1 is granted");
    assert_eq!(dom.name(), "http:200:GET /sdk HTTP/1.1");
    server.join().expect("server");

    // The manifest asks for localhost, the grants do not give it.
    let error = conn
        .domain_lookup_by_name(&format!("http:http://localhost:{port}/sdk"))
        .expect_err("not granted");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert!(
        error.message().contains(&format!("localhost:{port}"))
            && error.message().contains("no `connect` entry"),
        "{}",
        error.message()
    );

    // Nor does the manifest ask for 127.0.0.2: the message names the manifest file.
    let error = conn
        .domain_lookup_by_name(&format!("http:http://127.0.0.2:{port}/"))
        .expect_err("not requested");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert!(
        error
            .message()
            .contains("misbehave.toml' does not ask for it in `connect`"),
        "{}",
        error.message()
    );

    // A refused connection is an operation failure naming the URL.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let error = conn
        .domain_lookup_by_name(&format!("http:http://127.0.0.1:{closed_port}/"))
        .expect_err("nobody listens");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert!(
        error
            .message()
            .contains(&format!("127.0.0.1:{closed_port}")),
        "{}",
        error.message()
    );
}

/// A keep-alive HTTP/1.1 server on 127.0.0.1 for one connection: answers each request with
/// `200` and the request line, and reports on the channel when the client closes the
/// connection (an end of stream).
fn keep_alive_peer() -> (u16, std::sync::mpsc::Receiver<&'static str>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (closed, on_close) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut stream = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                let _ = closed.send("closed");
                return;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok() && line != "\r\n" && !line.is_empty() {
                line.clear();
            }
            let body = request_line.trim_end();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, on_close)
}

#[test]
fn http_sessions_are_granted_as_send_and_go_with_a_trapped_instance() {
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///session").expect("open");
    let (port, _) = keep_alive_peer();
    let dom = conn
        .domain_lookup_by_name(&format!("session:http://127.0.0.1:{port}/wsman"))
        .expect("127.0.0.1 is granted");
    assert_eq!(dom.name(), "session:200:false:GET /wsman HTTP/1.1");

    let error = conn
        .domain_lookup_by_name(&format!("session:http://localhost:{port}/"))
        .expect_err("not granted");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert!(
        error.message().contains(&format!("localhost:{port}"))
            && error.message().contains("no `connect` entry"),
        "{}",
        error.message()
    );

    // The instance traps with its session open: the host drops the instance and the
    // session's connection with it, which the server sees as the end of the stream.
    let (port, on_close) = keep_alive_peer();
    let error = conn
        .domain_lookup_by_name(&format!("session-trap:http://127.0.0.1:{port}/x"))
        .expect_err("traps");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert_eq!(
        on_close.recv_timeout(Duration::from_secs(5)),
        Ok("closed"),
        "the trapped instance's session stayed open"
    );
}

/// `openssl s_server -www` on 127.0.0.1 with a certificate for 127.0.0.1 signed by a CA the
/// test makes (and nobody trusts; `cacert.pem` in `dir`); returns the server and its port.
fn tls_peer(dir: &Path) -> Option<(KillOnDrop, u16)> {
    let script = r#"
set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out cacert.pem -days 2 -subj "/CN=rvirt test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > server.ext
openssl x509 -req -in server.csr -CA cacert.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
"#;
    let made = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .ok()?;
    assert!(made.success(), "making test certificates failed");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let server = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-cert", "server.pem", "-key", "server.key"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = KillOnDrop(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((server, port))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn https_verifies_the_peer_unless_told_not_to() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some((_server, port)) = tls_peer(dir.path()) else {
        eprintln!("skipped: needs the openssl command");
        return;
    };
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///https").expect("open");
    let url = format!("https://127.0.0.1:{port}/");

    // A certificate from an unknown CA fails the call, naming the URL.
    let error = conn
        .domain_lookup_by_name(&format!("http:{url}"))
        .expect_err("untrusted certificate");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert!(error.message().contains(&url), "{}", error.message());

    // libvirt's no_verify=1.
    let dom = conn
        .domain_lookup_by_name(&format!("https-noverify:{url}"))
        .expect("no verification");
    assert!(dom.name().starts_with("http:200:"), "{}", dom.name());

    // Trusting the test's CA verifies for real.
    let ca = dir.path().join("cacert.pem");
    let dom = conn
        .domain_lookup_by_name(&format!("https-ca:{}|{url}", ca.display()))
        .expect("verified against the given CA");
    assert!(dom.name().starts_with("http:200:"), "{}", dom.name());

    // Sessions take the same three choices.
    let error = conn
        .domain_lookup_by_name(&format!("session:{url}"))
        .expect_err("untrusted certificate");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert!(
        error.message().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    let dom = conn
        .domain_lookup_by_name(&format!("session-noverify:{url}"))
        .expect("no verification");
    assert!(
        dom.name().starts_with("session:200:false:"),
        "{}",
        dom.name()
    );
    let dom = conn
        .domain_lookup_by_name(&format!("session-ca:{}|{url}", ca.display()))
        .expect("verified against the given CA");
    assert!(
        dom.name().starts_with("session:200:false:"),
        "{}",
        dom.name()
    );
}

/// A private sshd on 127.0.0.1 that lets root in with a key the test makes; the key lives in
/// /tmp, where the misbehave plugin is granted to read it.
struct SshPeer {
    daemon: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for SshPeer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// None (saying the test is skipped) without root or sshd.
fn ssh_peer() -> Option<(SshPeer, PathBuf)> {
    let sshd = Path::new("/usr/sbin/sshd");
    if !sshd.exists() || !nix_is_root() {
        eprintln!(
            "skipped: needs root and /usr/sbin/sshd (openssh-server; ./x.sh test installs it)"
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let keygen = |path: &Path| {
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
    };
    let host_key = dir.path().join("host_key");
    keygen(&host_key);
    let client_key = dir.path().join("client_key");
    keygen(&client_key);
    let authorized = dir.path().join("authorized_keys");
    std::fs::copy(dir.path().join("client_key.pub"), &authorized).expect("authorized_keys");
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").expect("bind");
        probe.local_addr().expect("addr").port()
    };
    let config = dir.path().join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile none\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n\
             StrictModes no\n",
            host_key.display(),
            authorized.display()
        ),
    )
    .expect("sshd_config");
    std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
    let daemon = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((
        SshPeer {
            daemon,
            port,
            _dir: dir,
        },
        client_key,
    ))
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn ssh_runs_commands_on_a_granted_host() {
    let Some((peer, key)) = ssh_peer() else {
        return;
    };
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///ssh").expect("open");
    let dom = conn
        .domain_lookup_by_name(&format!(
            "ssh:root@127.0.0.1:{}:{}:echo $((6*7)); exit 3",
            peer.port,
            key.display()
        ))
        .expect("a session and a command");
    assert_eq!(dom.name(), "ssh:3:42");

    let error = conn
        .domain_lookup_by_name(&format!(
            "ssh:rvirt-no-such-user@127.0.0.1:{}:{}:true",
            peer.port,
            key.display()
        ))
        .expect_err("no such user");
    assert_eq!(
        error.code(),
        ErrorNumber::AUTH_FAILED,
        "{}",
        error.message()
    );
    assert!(
        error.message().contains("rvirt-no-such-user@127.0.0.1"),
        "{}",
        error.message()
    );
}

/// A call that opens an ssh session and traps leaves no master connection behind: its
/// writes, which would have kept the handle, are gone, so the host closes the session.
#[test]
fn a_trapped_call_leaves_no_ssh_session() {
    let Some((peer, key)) = ssh_peer() else {
        return;
    };
    // The session's master connection, found by this test's own sshd port.
    let masters = || {
        let output = Command::new("pgrep")
            .args(["-f", &format!("ssh .*-p {} -l root", peer.port)])
            .output()
            .expect("pgrep");
        String::from_utf8_lossy(&output.stdout).lines().count()
    };
    let (host, _state) = misbehave_host();
    let conn = open(&host, "misbehave:///ssh-trap").expect("open");
    let error = conn
        .domain_lookup_by_name(&format!(
            "ssh-trap:root@127.0.0.1:{}:{}",
            peer.port,
            key.display()
        ))
        .expect_err("the call traps");
    assert!(
        error.message().contains("driver plugin 'misbehave' failed"),
        "{}",
        error.message()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while masters() > 0 {
        assert!(
            Instant::now() < deadline,
            "the trapped call's ssh master connection is still running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The plugin still serves calls, and sessions that are closed normally work as before.
    let dom = conn
        .domain_lookup_by_name(&format!(
            "ssh:root@127.0.0.1:{}:{}:echo ok",
            peer.port,
            key.display()
        ))
        .expect("a session after the trap");
    assert_eq!(dom.name(), "ssh:0:ok");
}
