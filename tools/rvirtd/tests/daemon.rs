//! The rvirtd binary as users run it: its sockets, pid file, signals and configuration, real
//! libvirt clients (virsh, python3-libvirt) and rvirt's own client over every transport, and
//! misbehaving clients against the real process.
//!
//! The daemon serves the test driver plugin from `target/plugins` (`cargo xtask plugins`).
//! Checks that need libvirt's clients print why and skip when `/usr/bin/virsh` or
//! python3-libvirt is missing (CI installs both).

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::ErrorNumber;

struct Daemon {
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start(config: &str) -> Daemon {
        Self::start_with(config, &[])
    }

    fn start_with(config: &str, extra_args: &[&str]) -> Daemon {
        Self::start_env(config, extra_args, &[])
    }

    fn start_env(config: &str, extra_args: &[&str], envs: &[(&str, &Path)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("rvirtd-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::write(dir.path().join("rvirtd.conf"), config).expect("config");
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
            .arg("--unix-sock-dir")
            .arg(dir.path())
            .arg("--pid-file")
            .arg(dir.path().join("rvirtd.pid"))
            .arg("-f")
            .arg(dir.path().join("rvirtd.conf"))
            .args(extra_args)
            .envs(envs.iter().map(|(k, v)| (*k, *v)))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rvirtd starts");
        let mut daemon = Daemon {
            child: Some(child),
            dir,
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.socket().exists() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("rvirtd exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "rvirtd did not create its socket: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the drivers the daemon opens at start (compiling their plugins) are
    /// open, which happens while it already serves clients.
    fn wait_drivers_opened(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        while !self.log().contains("every driver to open at start is open") {
            assert!(
                Instant::now() < deadline,
                "rvirtd did not open its drivers: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("rvirt-sock")
    }

    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket().display())
    }

    fn ro_uri(&self) -> String {
        format!("test+unix:///default?socket={}-ro", self.socket().display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal)
            .expect("signal rvirtd");
    }

    /// SIGTERM and wait; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "rvirtd ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn have_virsh() -> bool {
    let present = Path::new("/usr/bin/virsh").exists();
    if !present {
        println!("SKIP: /usr/bin/virsh is not installed (apt-get install libvirt-clients)");
    }
    present
}

fn have_python_libvirt() -> bool {
    let present = Command::new("/usr/bin/python3")
        .args(["-c", "import libvirt"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        println!("SKIP: python3-libvirt is not installed (apt-get install python3-libvirt)");
    }
    present
}

fn virsh(uri: &str, commands: &str) -> Output {
    Command::new("/usr/bin/virsh")
        .args(["-c", uri, commands])
        .output()
        .expect("virsh runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn domain_xml(name: &str) -> String {
    format!(
        "<domain type='test'><name>{name}</name><memory unit='KiB'>131072</memory><currentMemory unit='KiB'>131072</currentMemory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>"
    )
}

fn connect(uri: &str) -> Connect {
    virt_rpc::register();
    Connect::open(uri).expect("rvirt's client connects")
}

#[test]
fn sockets_pid_file_and_clean_shutdown() {
    let mut daemon = Daemon::start("");
    let rw = std::fs::metadata(daemon.socket()).expect("rw socket");
    let ro = std::fs::metadata(daemon.dir.path().join("rvirt-sock-ro")).expect("ro socket");
    assert_eq!(
        rw.permissions().mode() & 0o777,
        0o700,
        "the read-write socket is the owner's only"
    );
    assert_eq!(
        ro.permissions().mode() & 0o777,
        0o777,
        "the read-only socket is everyone's"
    );
    let pid_file = daemon.dir.path().join("rvirtd.pid");
    let written = std::fs::read_to_string(&pid_file).expect("pid file");
    assert_eq!(written.trim(), daemon.pid().to_string());

    // A second daemon on the same pid file and sockets refuses to start.
    let second = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
        .arg("--unix-sock-dir")
        .arg(daemon.dir.path())
        .arg("--pid-file")
        .arg(&pid_file)
        .arg("-f")
        .arg(daemon.dir.path().join("rvirtd.conf"))
        .output()
        .expect("second rvirtd runs");
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("locked by another daemon"),
        "{}",
        text(&second.stderr)
    );

    let conn = connect(&daemon.uri());
    assert_eq!(conn.get_type().expect("type"), "TEST");
    let status = daemon.stop();
    assert!(status.success(), "rvirtd exit status {status}");
    assert!(
        !daemon.socket().exists() && !pid_file.exists(),
        "sockets and pid file are removed"
    );
    assert!(
        !conn.is_alive() || conn.get_type().is_err(),
        "clients are disconnected"
    );
}

#[test]
fn bad_configuration_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("dir");
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "max_cleints = 3\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid configuration file") && stderr.contains("max_cleints"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
        .arg("-f")
        .arg(dir.path().join("missing.conf"))
        .output()
        .expect("runs");
    assert!(
        text(&out.stderr).contains("cannot read configuration file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sighup_reloads_the_configuration() {
    let daemon = Daemon::start("max_client_requests = 4\n");
    let conf = daemon.dir.path().join("rvirtd.conf");
    std::fs::write(&conf, "max_client_requests = 8\nkeepalive_interval = 10\n").expect("rewrite");
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !daemon.log().contains("configuration reloaded") {
        assert!(Instant::now() < deadline, "no reload: {}", daemon.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&conf, "max_client_requests = \"many\"\n").expect("break it");
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    while !daemon.log().contains("keeping the old configuration") {
        assert!(
            Instant::now() < deadline,
            "a bad file must be reported: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        connect(&daemon.uri()).get_type().expect("still serving"),
        "TEST"
    );
}

#[test]
fn virsh_drives_the_test_driver() {
    if !have_virsh() {
        return;
    }
    let daemon = Daemon::start("");
    let xml_path = daemon.dir.path().join("vd.xml");
    std::fs::write(&xml_path, domain_xml("rvd-virsh")).expect("xml");
    let out = virsh(
        &daemon.uri(),
        &format!(
            "version; define {}; start rvd-virsh; domstate rvd-virsh --reason; dominfo rvd-virsh; suspend rvd-virsh; domstate rvd-virsh --reason; resume rvd-virsh; destroy rvd-virsh; domstate rvd-virsh --reason; undefine rvd-virsh; list --all --name",
            xml_path.display()
        ),
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "virsh failed: {stdout}{}",
        text(&out.stderr)
    );
    for want in [
        "Running hypervisor: TEST 0.0.2",
        "Domain 'rvd-virsh' started",
        "running (booted)",
        "Used memory:    131072 KiB",
        "Managed save:   no",
        "paused (user)",
        "shut off (destroyed)",
        "Domain 'rvd-virsh' has been undefined",
    ] {
        assert!(stdout.contains(want), "missing '{want}' in:\n{stdout}");
    }
    let out = virsh(&daemon.uri(), "dominfo rvd-nosuch");
    assert!(
        text(&out.stderr).contains("error: failed to get domain 'rvd-nosuch'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn read_only_socket_refuses_writes() {
    let daemon = Daemon::start("");
    // rvirt's client, opened read-write on the read-only socket: the daemon must refuse.
    let conn = connect(&daemon.ro_uri());
    assert!(!conn.list_all_domains(0).expect("reading works").is_empty());
    let error = conn
        .domain_define_xml(&domain_xml("rvd-ro"), 0)
        .expect_err("denied");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert_eq!(
        error.message(),
        "operation forbidden: read only access prevents virDomainDefineXML"
    );
    if !have_virsh() {
        return;
    }
    let xml_path = daemon.dir.path().join("ro.xml");
    std::fs::write(&xml_path, domain_xml("rvd-ro")).expect("xml");
    let out = virsh(&daemon.ro_uri(), &format!("define {}", xml_path.display()));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("operation forbidden: read only access prevents virDomainDefineXML"),
        "{}",
        text(&out.stderr)
    );
}

/// virsh run as another unix user (by uid, with no supplementary groups), with a home
/// of its own so libvirt's client can keep its cache.
fn virsh_as(uid: u32, home: &Path, uri: &str, commands: &str) -> Output {
    Command::new("setpriv")
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .args(["--clear-groups", "/usr/bin/virsh", "-c", uri, commands])
        .env("HOME", home)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("setpriv runs virsh")
}

/// libvirt's per-API access control through real virsh as three unix users: root (allowed
/// everything by a rule), `nobody` (allowed to start and stop `web*` domains) and `daemon`
/// (no rule: libvirt's default policy, which lets anyone list and read but nothing else;
/// one rule hides `hidden-*` domains from it).
#[test]
fn access_rules_decide_per_api_and_per_domain_for_unix_users() {
    if !have_virsh() || !Path::new("/usr/bin/setpriv").exists() || !nix::unistd::geteuid().is_root()
    {
        println!("SKIP: needs root, /usr/bin/virsh and setpriv to act as other users");
        return;
    }
    let (nobody, daemon_uid) = (65534u32, 1u32);
    let rules_dir = tempfile::Builder::new()
        .prefix("rvirtd-acl-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let home = rules_dir.path().join("home");
    std::fs::create_dir(&home).expect("home");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let rules = rules_dir.path().join("access.toml");
    let audit = rules_dir.path().join("audit.log");
    std::fs::write(
        &rules,
        format!(
            r##"
[[rule]]
users = ["root"]
permissions = ["*"]
result = "allow"

[[rule]]
users = ["nobody"]
permissions = ["domain:start", "domain:stop"]
drivers = ["Test"]
names = ["web*"]
result = "allow"

[[rule]]
users = ["#{daemon_uid}"]
permissions = ["domain:getattr"]
names = ["hidden-*"]
result = "deny"
"##
        ),
    )
    .expect("rules");
    let daemon = Daemon::start(&format!(
        "unix_sock_rw_perms = \"0777\"\naccess_drivers = [\"rules\"]\n\
         access_rules_file = \"{}\"\naccess_audit_file = \"{}\"\n",
        rules.display(),
        audit.display()
    ));
    std::fs::set_permissions(daemon.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let uri = daemon.uri();
    // test:///default lives while a connection to it is open: root's holds it.
    let root = connect(&uri);
    for name in ["web1", "db1", "hidden-db"] {
        root.domain_define_xml(&domain_xml(name), 0)
            .expect("root defines");
    }
    let denied = "access denied: 'Test' denied access";

    // daemon: lists and reads, but may not start anything, and does not see hidden-*.
    let out = virsh_as(daemon_uid, &home, &uri, "list --all --name; dominfo web1");
    let listed = text(&out.stdout);
    assert!(out.status.success(), "daemon reads: {}", text(&out.stderr));
    assert!(
        listed.contains("web1") && listed.contains("db1"),
        "{listed}"
    );
    assert!(
        !listed.contains("hidden-db"),
        "a domain daemon may not getattr is listed: {listed}"
    );
    let out = virsh_as(daemon_uid, &home, &uri, "start web1");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(denied), "{}", text(&out.stderr));
    // virsh reports a failed lookup as "failed to get domain"; the audit below shows the
    // lookup was denied, not missed.
    let out = virsh_as(daemon_uid, &home, &uri, "dominfo hidden-db");
    assert!(
        !out.status.success() && text(&out.stderr).contains("failed to get domain 'hidden-db'"),
        "a lookup finds a hidden domain: {}",
        text(&out.stderr)
    );
    let out = virsh_as(daemon_uid, &home, &uri, "dumpxml --security-info web1");
    assert!(
        text(&out.stderr).contains(denied),
        "read_secure is not anonymous: {}",
        text(&out.stderr)
    );

    // nobody: may start and stop web*, nothing else.
    let out = virsh_as(
        nobody,
        &home,
        &uri,
        "start web1; domstate web1; destroy web1",
    );
    assert!(
        out.status.success(),
        "nobody starts web1: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("running"),
        "{}",
        text(&out.stdout)
    );
    let out = virsh_as(nobody, &home, &uri, "start db1");
    assert!(text(&out.stderr).contains(denied), "{}", text(&out.stderr));
    let xml_path = daemon.dir.path().join("web2.xml");
    std::fs::write(&xml_path, domain_xml("web2")).expect("xml");
    std::fs::set_permissions(&xml_path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = virsh_as(
        nobody,
        &home,
        &uri,
        &format!("define {}", xml_path.display()),
    );
    assert!(
        text(&out.stderr).contains(denied),
        "define needs domain:write and save: {}",
        text(&out.stderr)
    );

    // Nothing the denials touched changed; root still sees everything.
    let out = virsh(&uri, "list --all --name; domstate db1; domstate web1");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("hidden-db") && !stdout.contains("web2"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("running"),
        "a denied start started something: {stdout}"
    );

    // Every denial is audited with who, what and on which object.
    let audit = std::fs::read_to_string(&audit).expect("audit file");
    assert!(
        audit.contains("result=deny unix-user=1(daemon)")
            && audit.contains(
                "action=org.libvirt.api.domain.start driver=Test api=virDomainCreate name=\"web1\""
            ),
        "{audit}"
    );
    assert!(
        audit.contains("unix-user=65534(nobody)") && audit.contains("name=\"db1\""),
        "{audit}"
    );
    assert!(
        audit.contains(
            "action=org.libvirt.api.domain.getattr driver=Test api=virDomainLookupByName \
             name=\"hidden-db\""
        ),
        "{audit}"
    );
    drop(root);
}

/// A rules file that does not parse keeps rvirtd from starting, saying where.
#[test]
fn bad_access_rules_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("access.toml");
    std::fs::write(
        &rules,
        "[[rule]]\npermissions = [\"domain:fly\"]\nresult = \"allow\"\n",
    )
    .expect("rules");
    let config = dir.path().join("rvirtd.conf");
    std::fs::write(
        &config,
        format!(
            "access_drivers = [\"rules\"]\naccess_rules_file = \"{}\"\n",
            rules.display()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_rvirtd"))
        .arg("--unix-sock-dir")
        .arg(dir.path())
        .arg("-f")
        .arg(&config)
        .output()
        .expect("rvirtd runs");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("rule 1: unknown permission 'domain:fly'"),
        "{stderr}"
    );
    assert!(!dir.path().join("rvirt-sock").exists(), "it must not serve");
}

const PYTHON_EVENTS: &str = r#"
import libvirt, sys, threading, time
libvirt.registerErrorHandler(lambda *a: None, None)
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
c = libvirt.open(sys.argv[1])
seen = []
cid = c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                               lambda cc, d, ev, det, op: seen.append((d.name(), ev, det)), None)
d = c.defineXML(sys.argv[2])
d.create(); d.suspend(); d.resume(); d.destroy(); d.undefine()
deadline = time.time() + 10
while len([e for e in seen if e[0] == d.name()]) < 6 and time.time() < deadline:
    time.sleep(0.05)
print("events", [(e, det) for n, e, det in seen if n == d.name()])
c.domainEventDeregisterAny(cid)
try:
    c.lookupByName("rvd-nosuch")
except libvirt.libvirtError as e:
    print("error", e.get_error_code(), e.get_error_domain(), e.get_error_message())
print("keepalive", c.setKeepAlive(1, 2))
time.sleep(3)
print("alive", c.isAlive(), c.getVersion())
c.close()
"#;

#[test]
fn python_client_events_errors_and_keepalive() {
    if !have_python_libvirt() {
        return;
    }
    let daemon = Daemon::start("");
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            PYTHON_EVENTS,
            &daemon.uri(),
            &domain_xml("rvd-python"),
        ])
        .output()
        .expect("python runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("events [(0, 0), (2, 0), (3, 0), (4, 0), (5, 1), (1, 0)]"),
        "{stdout}"
    );
    // The test driver, like libvirt's, gives no detail for a failed lookup by name.
    assert!(
        stdout.contains("error 42 12 Domain not found\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("keepalive 0") && stdout.contains("alive 1 2"),
        "{stdout}"
    );
}

/// A client that stops reading its socket while thousands of events happen (more than the
/// buffer every subscriber shares) gets every one of them late, none lost, as libvirtd
/// queues a slow client's events.
#[test]
fn a_client_that_stops_reading_gets_every_event_late() {
    if !have_python_libvirt() {
        return;
    }
    let daemon = Daemon::start("");
    let uri = daemon.uri();
    let script = r#"
import libvirt, sys, threading, time, uuid
libvirt.virEventRegisterDefaultImpl()
listener = libvirt.open(sys.argv[1])
seen = []
listener.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                lambda c, d, event, detail, o: seen.append(event), None)
# The event loop is not running yet: nothing reads the listener's socket.
producer = libvirt.open(sys.argv[1])
rounds = 3000
for i in range(rounds):
    dom = producer.defineXML("<domain type='test'><name>stall%d</name><uuid>%s</uuid>"
        "<memory>8192</memory><os><type>hvm</type></os></domain>" % (i, uuid.uuid4()))
    dom.undefine()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()
deadline = time.time() + 60
while len(seen) < 2 * rounds and time.time() < deadline:
    time.sleep(0.1)
print(len(seen), seen.count(libvirt.VIR_DOMAIN_EVENT_DEFINED), seen.count(libvirt.VIR_DOMAIN_EVENT_UNDEFINED))
"#;
    let output = Command::new("/usr/bin/python3")
        .args(["-c", script, &uri])
        .output()
        .expect("python3");
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(
        stdout.trim(),
        "6000 3000 3000",
        "events received (all, defined, undefined)"
    );
}

/// A CA, a server certificate for localhost and a client certificate, in libvirt's
/// `pkipath` layout, made with the openssl command.
fn make_pki(dir: &Path) -> bool {
    if Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("SKIP: openssl is not installed");
        return false;
    }
    let script = r#"
set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out cacert.pem -days 2 -subj "/CN=rvirt test CA" 2>/dev/null
for role in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout ${role}key.pem -out $role.csr -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > $role.ext
  openssl x509 -req -in $role.csr -CA cacert.pem -CAkey ca.key -CAcreateserial -out ${role}cert.pem -days 2 -extfile $role.ext 2>/dev/null
done
"#;
    let status = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .status()
        .expect("sh");
    assert!(status.success(), "making test certificates failed");
    true
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[test]
fn tls_with_libvirt_x509_layout() {
    let pki = tempfile::tempdir().expect("pki dir");
    if !make_pki(pki.path()) {
        return;
    }
    let port = free_port();
    let p = pki.path().display();
    let daemon = Daemon::start(&format!(
        "listen_tls = true\nlisten_addr = \"127.0.0.1\"\ntls_port = {port}\nkey_file = \"{p}/serverkey.pem\"\ncert_file = \"{p}/servercert.pem\"\nca_file = \"{p}/cacert.pem\"\n"
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "no TLS listener: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let uri = format!("test+tls://localhost:{port}/default?pkipath={p}");
    let conn = connect(&uri);
    assert_eq!(conn.get_type().expect("type over TLS"), "TEST");
    assert!(conn.is_encrypted());

    // Without a client certificate the daemon refuses the handshake.
    let no_cert = tempfile::tempdir().expect("dir");
    std::fs::copy(
        pki.path().join("cacert.pem"),
        no_cert.path().join("cacert.pem"),
    )
    .expect("copy CA");
    let error = Connect::open(&format!(
        "test+tls://localhost:{port}/default?pkipath={}",
        no_cert.path().display()
    ))
    .expect_err("no client certificate");
    assert!(
        matches!(
            error.code(),
            ErrorNumber::AUTH_FAILED | ErrorNumber::SYSTEM_ERROR
        ),
        "{error:?}"
    );

    if !have_virsh() {
        return;
    }
    let out = virsh(&uri, "version; list --all");
    assert!(
        out.status.success(),
        "virsh over TLS: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("Running hypervisor: TEST 0.0.2"));
}

/// Access rules match a TLS client by its certificate's DN, and a define is checked on the
/// name its XML gives.
#[test]
fn access_rules_match_tls_client_certificates() {
    let pki = tempfile::tempdir().expect("pki dir");
    if !make_pki(pki.path()) {
        return;
    }
    let port = free_port();
    let p = pki.path().display();
    let rules = pki.path().join("access.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nx509_dnames = [\"CN=local*\"]\npermissions = [\"domain:*\"]\n\
         names = [\"tls-*\"]\nresult = \"allow\"\n",
    )
    .expect("rules");
    let daemon = Daemon::start(&format!(
        "listen_tls = true\nlisten_addr = \"127.0.0.1\"\ntls_port = {port}\n\
         key_file = \"{p}/serverkey.pem\"\ncert_file = \"{p}/servercert.pem\"\n\
         ca_file = \"{p}/cacert.pem\"\naccess_drivers = [\"rules\"]\n\
         access_rules_file = \"{}\"\n",
        rules.display()
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "no TLS listener: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let conn = connect(&format!("test+tls://localhost:{port}/default?pkipath={p}"));
    let dom = conn
        .domain_define_xml(&domain_xml("tls-1"), 0)
        .expect("the certificate's DN may define tls-*");
    dom.create(0).expect("and start it");
    let error = conn
        .domain_define_xml(&domain_xml("other"), 0)
        .expect_err("but not define other names");
    assert_eq!(error.code(), ErrorNumber::ACCESS_DENIED);
    assert_eq!(error.message(), "access denied: 'Test' denied access");
    let test = conn
        .domain_lookup_by_name("test")
        .expect("anyone may look up");
    let error = test.destroy(0).expect_err("nor stop the default domain");
    assert_eq!(error.code(), ErrorNumber::ACCESS_DENIED);
    assert!(
        test.is_active().expect("state"),
        "a denied destroy changed nothing"
    );
}

#[test]
fn ssh_transport_through_a_netcat_helper() {
    if Command::new("nc")
        .arg("-h")
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("SKIP: nc is not installed (apt-get install netcat-openbsd)");
        return;
    }
    let daemon = Daemon::start("");
    // A stand-in for ssh that runs the remote command here: it drops the options and the
    // host, as sshd would, and hands the rest to a shell.
    let fake_ssh = daemon.dir.path().join("fake-ssh");
    std::fs::write(
        &fake_ssh,
        "#!/bin/sh\nwhile [ \"$1\" != \"--\" ]; do shift; done\nshift 2\nexec sh -c \"$*\"\n",
    )
    .expect("script");
    std::fs::set_permissions(&fake_ssh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let uri = format!(
        "test+ssh://somebody@remotehost/default?command={}&socket={}",
        fake_ssh.display(),
        daemon.socket().display()
    );
    let conn = connect(&uri);
    assert_eq!(conn.get_type().expect("type over ssh"), "TEST");
    assert!(!conn.list_all_domains(0).expect("list").is_empty());
    conn.close().expect("close");
    if !have_virsh() {
        return;
    }
    let out = virsh(&uri, "version");
    assert!(
        out.status.success(),
        "virsh over the ssh transport: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// One raw frame: length, header (REMOTE program, CALL), payload.
fn call_frame(procedure: u32, serial: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    let len = 28 + payload.len() as u32;
    for word in [len, 0x2000_8086, 1, procedure, 0, serial, 0] {
        frame.extend_from_slice(&word.to_be_bytes());
    }
    frame.extend_from_slice(payload);
    frame
}

/// rvirtd with the misbehave test plugin and two runtime threads; None (and a SKIP line)
/// when the test plugins are not built.
fn misbehave_daemon_on_two_threads() -> Option<Daemon> {
    let test_plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-plugins");
    if !test_plugins.join("misbehave.wasm").is_file() {
        println!("SKIP: target/test-plugins/misbehave.wasm is missing (cargo xtask plugins)");
        return None;
    }
    Some(Daemon::start_env(
        "prio_workers = 2\nmax_workers = 8\n",
        &[],
        &[("RVIRT_PLUGIN_PATH", test_plugins.as_path())],
    ))
}

/// Another client gets 20 getVersion answers within a second while `meanwhile`.
fn assert_answers_promptly(daemon: &Daemon, meanwhile: &str) {
    let other = connect(&daemon.uri());
    let started = Instant::now();
    for _ in 0..20 {
        other.get_version().expect("getVersion");
    }
    let quick = started.elapsed();
    assert!(
        quick < Duration::from_millis(1000),
        "20 getVersion calls took {quick:?} while {meanwhile}"
    );
}

/// Calls that spin in wasm would hold their runtime thread until the plugin's CPU budget
/// (10 s) stops them; from their first milliseconds of wasm they leave the runtime instead,
/// so three at once on two runtime threads run side by side and leave the daemon answering
/// others.
#[test]
fn spinning_calls_leave_a_runtime_thread_free() {
    let Some(daemon) = misbehave_daemon_on_two_threads() else {
        return;
    };
    let spin_uri = format!(
        "misbehave+unix:///spin?socket={}",
        daemon.socket().display()
    );
    let all_started = Instant::now();
    let spinning: Vec<_> = (0..3)
        .map(|_| {
            let conn = connect(&spin_uri);
            std::thread::spawn(move || conn.domain_create_xml("loop", 0).map(|d| d.name()))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));

    assert_answers_promptly(&daemon, "three calls spun");
    for handle in spinning {
        let outcome = handle.join().expect("spinning call thread");
        let error = outcome.expect_err("the budget stops a spinning call");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    }
    // Side by side, all three end with their 10 s budgets; had two taken both runtime
    // threads, the third would only start when one of them was stopped (20 s).
    let all = all_started.elapsed();
    assert!(
        all < Duration::from_secs(16),
        "three spinning calls took {all:?}: they did not run side by side"
    );
}

/// A client that asked for keepalive (CONNECT_SUPPORTS_FEATURE, PROGRAM_KEEPALIVE) and then
/// says nothing gets a PING after each `keepalive_interval` of silence, and is dropped after
/// `keepalive_count` unanswered ones; a client that never asked gets none.
#[test]
fn silent_keepalive_client_is_pinged_then_dropped() {
    let daemon = Daemon::start("keepalive_interval = 1\nkeepalive_count = 2\n");
    let read_all = |mut socket: UnixStream| {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut received = Vec::new();
        let started = Instant::now();
        let _ = socket.read_to_end(&mut received);
        (received, started.elapsed())
    };
    // Frames as (program, procedure), skipping the CALL's reply.
    let frames = |bytes: &[u8]| {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 28 <= bytes.len() {
            let word = |i: usize| {
                let b = &bytes[at + 4 * i..at + 4 * i + 4];
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            };
            out.push((word(1), word(3)));
            at += word(0) as usize;
        }
        out
    };

    let mut asked = UnixStream::connect(daemon.socket()).expect("connect");
    // CONNECT_SUPPORTS_FEATURE (60) with VIR_DRV_FEATURE_PROGRAM_KEEPALIVE (10).
    asked
        .write_all(&call_frame(60, 1, &10u32.to_be_bytes()))
        .expect("ask for keepalive");
    let (received, lasted) = read_all(asked);
    let pings = frames(&received)
        .into_iter()
        .filter(|&(program, procedure)| (program, procedure) == (0x6b65_6570, 1))
        .count();
    assert_eq!(
        pings,
        2,
        "two PINGs before giving up: {:?}",
        frames(&received)
    );
    assert!(
        lasted >= Duration::from_millis(2500) && lasted < Duration::from_secs(6),
        "dropped after three silent seconds, not {lasted:?}"
    );

    let mut quiet = UnixStream::connect(daemon.socket()).expect("connect");
    quiet
        .set_read_timeout(Some(Duration::from_millis(2500)))
        .expect("timeout");
    let mut byte = [0u8; 1];
    let outcome = quiet.read(&mut byte);
    assert!(
        outcome
            .as_ref()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
        "a client that did not ask gets no PING and stays: {outcome:?}"
    );
}

/// rvirt's client writes a call straight to a plain socket when nothing is queued, and
/// queues it behind the rest otherwise. Eight threads sharing one connection, each sending
/// calls far larger than a socket buffer, must not interleave or reorder frames.
#[test]
fn one_connection_shared_by_threads_with_large_calls() {
    let daemon = Daemon::start("");
    let conn = connect(&daemon.uri());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let conn = conn.clone();
            std::thread::spawn(move || {
                for round in 0..3 {
                    let name = format!("big{t}x{round}-{}", std::process::id());
                    let description = format!("{t}").repeat(300_000 + t * 1000);
                    let xml = domain_xml(&name).replace(
                        "<memory",
                        &format!("<description>{description}</description><memory"),
                    );
                    let domain = conn.domain_define_xml(&xml, 0).expect("define a large one");
                    let back = domain.xml_desc(0).expect("its XML");
                    assert!(back.contains(&description), "{name}: description intact");
                    domain.undefine(0).expect("undefine");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("thread");
    }
    assert_eq!(
        conn.get_version().expect("still connected"),
        conn.get_version().expect("again")
    );
}

/// Driver calls run on the daemon's runtime threads; one that blocks in the host (here the
/// misbehave plugin's `slow-short`, 2 s waiting for a child) must leave the runtime while it
/// waits: more such calls than runtime threads wait side by side, and another client is
/// still answered at once.
#[test]
fn calls_blocked_in_the_host_do_not_hold_the_runtime() {
    let Some(daemon) = misbehave_daemon_on_two_threads() else {
        return;
    };
    let slow_uri = format!(
        "misbehave+unix:///blocked?socket={}",
        daemon.socket().display()
    );
    // Connections first: opening them (and the plugin's first instances) is not what is
    // measured, and on a loaded machine it can take longer than the calls.
    let connections: Vec<_> = (0..4).map(|_| connect(&slow_uri)).collect();
    let go = std::sync::Arc::new(std::sync::Barrier::new(5));
    let slow: Vec<_> = connections
        .into_iter()
        .map(|conn| {
            let go = go.clone();
            std::thread::spawn(move || {
                go.wait();
                let started = Instant::now();
                conn.domain_lookup_by_name("slow-short")
                    .expect("the slow call ends well");
                started.elapsed()
            })
        })
        .collect();
    go.wait();
    let all_started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));

    assert_answers_promptly(&daemon, "four calls waited in the host");
    for handle in slow {
        let waited = handle.join().expect("slow call thread");
        assert!(
            waited >= Duration::from_millis(1900),
            "the slow call really waited"
        );
    }
    // Two at a time (one per runtime thread) would take 4 s or more: anything less means
    // they waited side by side, however loaded the machine is.
    let all = all_started.elapsed();
    assert!(
        all < Duration::from_millis(3900),
        "four 2 s calls on two runtime threads took {all:?}: they did not wait side by side"
    );
}

#[test]
fn hostile_clients_do_not_hurt_the_daemon_or_grow_it() {
    let daemon = Daemon::start("");
    let conn = connect(&daemon.uri());
    assert_eq!(conn.get_type().expect("type"), "TEST");
    // The plugins compiled for the drivers opened at start are not the clients' cost.
    daemon.wait_drivers_opened();
    let base = daemon.rss_kib();

    // Garbage, over-cap lengths, truncated frames, wrong programs: each hurts only itself.
    for bytes in [
        vec![0xffu8; 64],
        vec![0x02, 0x00, 0x00, 0x05, 0, 0, 0, 0],
        vec![0, 0, 0, 5],
        vec![0, 0, 0, 200, 0x20, 0, 0x80, 0x86, 0, 0, 0],
        call_frame(9999, 1, &[]),
        call_frame(273, 2, &[0xff, 0xff, 0xff, 0xff]),
    ] {
        let mut socket = UnixStream::connect(daemon.socket()).expect("connect");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        socket.write_all(&bytes).expect("send");
        let _ = socket.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = socket.read_to_end(&mut sink);
    }
    assert_eq!(conn.get_type().expect("still serving"), "TEST");

    // 1,000 clients that connect and then say nothing (or half a frame).
    let mut idle = Vec::new();
    for n in 0..1000 {
        let mut socket = UnixStream::connect(daemon.socket()).expect("connect");
        if n % 2 == 1 {
            socket
                .write_all(&[0, 0, 0x10, 0, 0x20, 0])
                .expect("half a frame");
        }
        idle.push(socket);
    }
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let other = connect(&daemon.uri());
    assert_eq!(
        other
            .get_version()
            .expect("served next to 1,000 idle clients"),
        2
    );
    // A bound for "served, not starved", not a speed target (that is the benches' job): a
    // daemon blocked by idle clients would never answer; one on a loaded 2-core box answers
    // in well under a second, but a CI run beside a TCG guest has taken 2.5 s.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a new client waited {:?}",
        started.elapsed()
    );
    let growth = daemon.rss_kib().saturating_sub(base);
    println!("rvirtd RSS grew by {growth} KiB for 1,000 idle clients");
    assert!(growth < 40 * 1024, "1,000 idle clients cost {growth} KiB");

    // Clients that announce 32 MiB frames hold only what they actually sent.
    let before = daemon.rss_kib();
    let mut greedy = Vec::new();
    for _ in 0..32 {
        let mut socket = UnixStream::connect(daemon.socket()).expect("connect");
        socket
            .write_all(&0x0200_0004u32.to_be_bytes())
            .expect("length");
        socket.write_all(&[0u8; 4096]).expect("a little");
        greedy.push(socket);
    }
    std::thread::sleep(Duration::from_millis(300));
    let growth = daemon.rss_kib().saturating_sub(before);
    assert!(
        growth < 16 * 1024,
        "32 clients announcing 32 MiB each cost {growth} KiB"
    );
    drop(idle);
    drop(greedy);
    assert_eq!(conn.get_type().expect("still serving"), "TEST");
}

/// Debian's busybox-static as a container root: `/bin/busybox` and the applets the init uses.
fn busybox_root(dir: &Path) -> Option<PathBuf> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() || !nix::unistd::geteuid().is_root() {
        println!("SKIP: the LXC restart test needs root and /bin/busybox (busybox-static)");
        return None;
    }
    let root = dir.join("root");
    for sub in ["bin", "proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).expect("rootfs dirs");
    }
    std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "sleep", "echo"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("applet");
    }
    Some(root)
}

/// Kills, when a test ends (passing or not), every process whose command line names a path
/// under `dir`: a failed LXC test must not leave its controller and container running.
struct KillUnder<'a>(&'a Path);

impl Drop for KillUnder<'_> {
    fn drop(&mut self) {
        let needle = self.0.to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&needle) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// SIGKILL, not SIGTERM: nothing of the daemon's shutdown runs. The container's controller
/// keeps it running, and the next daemon (same state) reattaches through the controller's
/// monitor socket at start (the LXC manifest's `open-at-start`).
#[test]
fn killed_daemon_leaves_containers_running_and_the_next_one_manages_them() {
    let work = tempfile::Builder::new()
        .prefix("rvirtd-lxc-")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let Some(root) = busybox_root(work.path()) else {
        return;
    };
    let _cleanup = KillUnder(work.path());
    let state = work.path().join("state");
    let envs = [("RVIRT_STATE_ROOT", state.as_path())];
    let name = format!("rvk{}", std::process::id());
    let xml = format!(
        "<domain type='lxc'><name>{name}</name><memory unit='MiB'>64</memory>\
         <os><type>exe</type><init>/bin/sh</init><initarg>-c</initarg>\
         <initarg>echo UP; while true; do sleep 1; done</initarg></os><devices>\
         <filesystem type='mount'><source dir='{}'/><target dir='/'/></filesystem>\
         <console type='pty'/></devices></domain>",
        root.display()
    );

    let mut first = Daemon::start_env("", &[], &envs);
    let uri = format!("lxc+unix:///system?socket={}", first.socket().display());
    let conn = connect(&uri);
    let domain = conn.domain_define_xml(&xml, 0).expect("define");
    domain.create(0).expect("start");
    let id = domain.id();
    drop(conn);
    first.signal(nix::sys::signal::Signal::SIGKILL);
    first.child.take().expect("running").wait().expect("reap");

    let second = Daemon::start_env("", &[], &envs);
    let uri = format!("lxc+unix:///system?socket={}", second.socket().display());
    virt_rpc::register();
    let conn = Connect::open(&uri).unwrap_or_else(|error| {
        panic!(
            "the next daemon answers: {error}\nits log:\n{}",
            second.log()
        )
    });
    let domain = conn.domain_lookup_by_name(&name).expect("still defined");
    let state = domain.state(0).expect("state");
    assert_eq!(
        (state.state, state.reason),
        (1, 1),
        "running (booted) after the restart"
    );
    assert_eq!(domain.id(), id, "the same container, not a new one");
    assert!(
        domain
            .info()
            .expect("info from the reattached monitor")
            .memory_kib
            > 0
    );
    domain.destroy(0).expect("destroy through the new daemon");
    assert_eq!(domain.state(0).expect("state").state, 5, "shut off");
    domain.undefine(0).expect("undefine");
}
