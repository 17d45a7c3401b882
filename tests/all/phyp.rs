//! The PowerVM (PHYP) plugin against a real OpenSSH server on 127.0.0.1 whose forced command
//! is `tests/peers/hmc_shell.py`, a stand-in for an HMC's restricted shell written for these
//! tests (labelled as such): the plugin's SSH session, password login from libvirt's auth
//! file and host key checking are all real; the partitions are the stand-in's files.
//! Once through the in-process host, once through rvirtd with real virsh.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use virt_core::consts::domain_event_type as event_type;
use virt_core::consts::domain_state as state;
use virt_core::{ErrorNumber, Event};

use crate::common::{
    host_config, open_in, plugins_dir, virsh_ok, virsh_status, write_auth_file, Rvirtd,
};

/// The HMC's login: an account made for these tests (the HMC's own is `hscroot`).
const HMC_USER: &str = "rvirt-hmc";
const HMC_PASSWORD: &str = "rvirt-hmc-test-password";
const SYSTEM: &str = "p570-SN10C8E6D";

/// An sshd serving the stand-in HMC, with its state and an auth file naming its password.
struct HmcPeer {
    daemon: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for HmcPeer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The account the HMC's sessions log in to: made once per machine, its password set once
/// per test run.
fn hmc_account() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let exists = Command::new("id")
            .arg(HMC_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let status = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/bin/sh",
                    HMC_USER,
                ])
                .status()
                .expect("useradd");
            assert!(status.success(), "useradd {HMC_USER}");
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        chpasswd
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{HMC_USER}:{HMC_PASSWORD}\n").as_bytes())
            .expect("password");
        assert!(chpasswd.wait().expect("chpasswd").success());
    });
}

impl HmcPeer {
    /// `None` (the test says why it skips) without root or OpenSSH's server.
    fn start(mode: &str) -> Option<HmcPeer> {
        let sshd = Path::new("/usr/sbin/sshd");
        if !sshd.exists() || !nix::unistd::geteuid().is_root() {
            eprintln!(
                "skipped: needs root and /usr/sbin/sshd (openssh-server; ./x.sh test installs it)"
            );
            return None;
        }
        hmc_account();
        let dir = tempfile::tempdir().expect("tempdir");
        let path = |name: &str| dir.path().join(name);
        use std::os::unix::fs::PermissionsExt;
        // The HMC's sessions run as the test account: it must reach the shell and its state.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let shell = path("hmc_shell.py");
        std::fs::copy(
            rvirt_tests::workspace_root().join("tests/peers/hmc_shell.py"),
            &shell,
        )
        .expect("copy the stand-in HMC shell");
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir(path("state")).expect("state dir");
        std::fs::set_permissions(path("state"), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let status = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(path("host_key"))
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|probe| probe.local_addr())
            .expect("a free port")
            .port();
        std::fs::write(
            path("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n\
                 UsePAM no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nAuthorizedKeysFile none\nPermitRootLogin no\n\
                 AllowUsers {HMC_USER}\nStrictModes no\n\
                 SetEnv HMC_STATE={state} HMC_MODE={mode}\nForceCommand {shell}\n",
                host_key = path("host_key").display(),
                state = path("state").display(),
                shell = shell.display(),
            ),
        )
        .expect("sshd_config");
        std::fs::create_dir_all("/run/sshd").expect("privilege separation dir");
        let daemon = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(path("sshd.log")).expect("log"))
            .spawn()
            .expect("sshd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        let peer = HmcPeer { daemon, port, dir };
        peer.write_auth_file(HMC_PASSWORD);
        Some(peer)
    }

    /// libvirt's auth file, as an operator writes it for an HMC.
    fn write_auth_file(&self, password: &str) {
        write_auth_file(&self.auth_file(), "ssh", HMC_USER, password);
    }

    fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.conf")
    }

    fn uri(&self, path: &str) -> String {
        format!(
            "phyp://{HMC_USER}@127.0.0.1:{}{path}?no_verify=1",
            self.port
        )
    }

    /// The HMC commands the stand-in received, in order.
    fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("state/commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn host(&self, state_root: &Path) -> virt_host::Host {
        let mut config = host_config(vec![plugins_dir()], state_root);
        config.auth_file = Some(self.auth_file());
        virt_host::Host::new(config)
    }
}

/// The error of an open that must fail.
fn refused<T>(opened: virt_core::Result<T>) -> virt_core::Error {
    match opened {
        Ok(_) => panic!("the connection opened"),
        Err(error) => error,
    }
}

fn lifecycle(events: &mut virt_core::blocking::EventStream, name: &str) -> Vec<i32> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && seen.len() < 2 {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, .. }) if dom.name == name => seen.push(event),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    seen
}

#[test]
fn phyp_drives_an_hmc_in_process() {
    let Some(peer) = HmcPeer::start("hmc") else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = peer.host(state_root.path());
    let conn = open_in(&host, &peer.uri(&format!("/{SYSTEM}"))).expect("open over ssh");

    // The partitions the HMC has: one running, one not, and the VIOS.
    let names = |conn: &virt_core::blocking::Connect| -> Vec<String> {
        let mut names: Vec<String> = conn
            .list_all_domains(0)
            .expect("list")
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&conn), ["lpar01", "lpar02", "vios1"]);
    let lpar01 = conn.domain_lookup_by_name("lpar01").expect("lookup");
    assert_eq!(lpar01.id(), 1);
    assert_eq!(lpar01.state(0).expect("state").state, state::RUNNING);
    let again = conn.domain_lookup_by_uuid(&lpar01.uuid()).expect("by uuid");
    assert_eq!(again.name(), "lpar01");
    assert_eq!(conn.domain_lookup_by_id(1).expect("by id").name(), "lpar01");

    let lpar02 = conn.domain_lookup_by_name("lpar02").expect("lookup");
    assert_eq!(lpar02.id(), -1);
    let info = lpar02.info().expect("info");
    assert_eq!(
        (
            info.state as i32,
            info.max_mem_kib,
            info.memory_kib,
            info.nr_virt_cpu
        ),
        (state::SHUTOFF, 1024 * 1024, 512 * 1024, 1)
    );
    let inactive_xml = lpar02.xml_desc(0).expect("dumpxml");
    assert!(
        inactive_xml.starts_with("<domain type='phyp'>")
            && inactive_xml.contains("<memory unit='KiB'>1048576</memory>")
            && inactive_xml.contains("<vcpu placement='static' current='1'>2</vcpu>")
            && inactive_xml.contains("<type arch='ppc64'>linux</type>"),
        "{inactive_xml}"
    );

    // Start: the profile's resources, an id, a STARTED event.
    let mut events = conn.events().expect("events");
    lpar02.create(0).expect("start lpar02");
    assert_eq!(lpar02.id(), 2);
    assert!(peer.commands().contains(&format!(
        "chsysstate -m {SYSTEM} -r lpar -o on --id 2 -f lpar02"
    )));
    assert_eq!(lifecycle(&mut events, "lpar02"), [event_type::STARTED]);
    let live = lpar02.xml_desc(0).expect("live dumpxml");
    assert!(live.starts_with("<domain type='phyp' id='2'>"), "{live}");
    let error = lpar02.create(0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    // A dynamic LPAR change while it runs, and its refusal beyond the maximum.
    lpar02.set_vcpus(2, 0).expect("setvcpus 2 (live)");
    assert_eq!(lpar02.info().expect("info").nr_virt_cpu, 2);
    assert!(peer.commands().contains(&format!(
        "chhwres -m {SYSTEM} -r proc -o a --id 2 --procs 1"
    )));
    let error = lpar02.set_vcpus(3, 0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");

    lpar02.shutdown(0).expect("shutdown");
    assert_eq!(lpar02.state(0).expect("state").state, state::SHUTOFF);
    assert_eq!(lifecycle(&mut events, "lpar02"), [event_type::STOPPED]);
    let error = lpar02.shutdown(0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    lpar01.reboot(0).expect("reboot");
    assert!(peer.commands().contains(&format!(
        "chsysstate -m {SYSTEM} -r lpar -o shutdown --id 1 --immed --restart"
    )));
    assert_eq!(lpar01.state(0).expect("state").state, state::RUNNING);

    // Define makes a partition and its profile; destroy stops it at once; undefine removes it.
    let web = "<domain type='phyp'><name>web1</name><memory unit='MiB'>2048</memory>\
               <currentMemory unit='MiB'>1024</currentMemory><vcpu current='1'>2</vcpu>\
               <os><type>linux</type></os></domain>";
    let web1 = conn.domain_define_xml(web, 0).expect("define");
    assert!(peer.commands().iter().any(|c| c.starts_with(&format!(
        "mksyscfg -m {SYSTEM} -r lpar -i \"name=web1,profile_name=web1,lpar_env=aixlinux,"
    ))));
    let defined = web1.xml_desc(0).expect("dumpxml");
    assert!(
        defined.contains("<memory unit='KiB'>2097152</memory>")
            && defined.contains("<currentMemory unit='KiB'>1048576</currentMemory>"),
        "{defined}"
    );
    web1.create(0).expect("start web1");
    web1.destroy(0).expect("destroy");
    assert!(peer.commands().iter().any(|c| c.ends_with("--immed")
        && c.starts_with(&format!("chsysstate -m {SYSTEM} -r lpar -o shutdown"))));
    assert_eq!(web1.state(0).expect("state").state, state::SHUTOFF);
    web1.undefine(0).expect("undefine");
    assert_eq!(names(&conn), ["lpar01", "lpar02", "vios1"]);

    // Bad input: refused with libvirt's codes, nothing sent that changes the HMC.
    let before = peer.commands().len();
    let kvm = web.replace("type='phyp'", "type='kvm'");
    let error = conn.domain_define_xml(&kvm, 0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    let with_disk = web.replace(
        "</os>",
        "</os><devices><disk type='file'><source file='/x'/><target dev='sda'/></disk></devices>",
    );
    let error = conn.domain_define_xml(&with_disk, 0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED, "{error}");
    assert!(peer.commands()[before..]
        .iter()
        .all(|c| c.starts_with("ls")));
    // The HMC's own refusal (not enough memory for the partition) passes its message on.
    let big = web
        .replace("web1", "big")
        .replace("2048</memory>", "65536</memory>")
        .replace("1024</currentMemory>", "32768</currentMemory>");
    let big = conn.domain_define_xml(&big, 0).expect("define big");
    let error = big.create(0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(error.message().contains("HSCL0333"), "{error}");
    assert_eq!(big.state(0).expect("state").state, state::SHUTOFF);
    big.undefine(0).expect("undefine big");

    // The node as the HMC describes the managed system.
    let node = conn.node_info().expect("nodeinfo");
    assert_eq!((node.memory_kib, node.cpus), (16384 * 1024, 8));
    let caps = conn.get_capabilities().expect("capabilities");
    assert!(
        caps.contains("<os_type>linux</os_type>") && caps.contains("<domain type='phyp'"),
        "{caps}"
    );
}

#[test]
fn phyp_refuses_what_it_cannot_reach() {
    let Some(peer) = HmcPeer::start("hmc") else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = peer.host(state_root.path());
    // An unknown managed system: the HMC's message, no connection.
    let error = refused(open_in(&host, &peer.uri("/no-such-system")));
    assert!(error.message().contains("no-such-system"), "{error}");
    // An HMC needs a managed system in the path.
    let error = refused(open_in(&host, &peer.uri("")));
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    // An unknown host key is refused unless the URI says no_verify=1.
    let strict = format!("phyp://{HMC_USER}@127.0.0.1:{}/{SYSTEM}", peer.port);
    let error = refused(open_in(&host, &strict));
    assert!(
        error.message().contains("Host key verification failed"),
        "{error}"
    );
    // A wrong password is VIR_ERR_AUTH_FAILED.
    peer.write_auth_file("not-the-password");
    let error = refused(open_in(&host, &peer.uri(&format!("/{SYSTEM}"))));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    // No password anywhere: AUTH_FAILED saying so.
    std::fs::remove_file(peer.auth_file()).expect("remove auth file");
    let error = refused(open_in(&host, &peer.uri(&format!("/{SYSTEM}"))));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    assert!(error.message().contains("no password"), "{error}");
    // Nothing of these attempts reached a partition.
    assert!(peer.commands().iter().all(|c| c.starts_with("ls")));
}

#[test]
fn phyp_on_an_ivm_names_no_managed_system() {
    let Some(peer) = HmcPeer::start("ivm") else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = peer.host(state_root.path());
    let conn = open_in(&host, &peer.uri("")).expect("open an IVM");
    let lpar02 = conn.domain_lookup_by_name("lpar02").expect("lookup");
    lpar02.create(0).expect("start");
    assert!(peer
        .commands()
        .contains(&"chsysstate -r lpar -o on --id 2 -f lpar02".to_string()));
}

#[test]
fn phyp_through_rvirtd_with_virsh() {
    let Some(peer) = HmcPeer::start("hmc") else {
        return;
    };
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", peer.auth_file().as_os_str())]);
    let uri = daemon.uri(&peer.uri(&format!("/{SYSTEM}")));

    let caps = virsh_ok(&uri, &["capabilities"]);
    assert!(caps.contains("<domain type='phyp'"), "{caps}");
    let node = virsh_ok(&uri, &["nodeinfo"]);
    assert!(
        node.contains("CPU(s):") && node.contains("16777216 KiB"),
        "{node}"
    );
    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("lpar01") && listed.contains("lpar02") && listed.contains("shut off"),
        "{listed}"
    );
    virsh_ok(&uri, &["start", "lpar02"]);
    let info = virsh_ok(&uri, &["dominfo", "lpar02"]);
    assert!(
        info.contains("running")
            && info.contains("524288 KiB")
            && info.contains("OS Type:        linux"),
        "{info}"
    );
    let xml = virsh_ok(&uri, &["dumpxml", "lpar02"]);
    assert!(xml.contains("<domain type='phyp' id='2'>"), "{xml}");
    virsh_ok(&uri, &["shutdown", "lpar02"]);
    assert!(virsh_ok(&uri, &["domstate", "lpar02"]).contains("shut off"));
    let (failed, error) = virsh_status(&uri, &["destroy", "lpar02"]);
    assert!(
        !failed && error.contains("domain is not running"),
        "{error}"
    );

    let xml_path = peer.dir.path().join("db1.xml");
    std::fs::write(
        &xml_path,
        "<domain type='phyp'><name>db1</name><memory unit='MiB'>1024</memory>\
         <vcpu>1</vcpu><os><type>linux</type></os></domain>",
    )
    .expect("xml");
    virsh_ok(&uri, &["define", &xml_path.display().to_string()]);
    virsh_ok(&uri, &["start", "db1"]);
    virsh_ok(&uri, &["destroy", "db1"]);
    virsh_ok(&uri, &["undefine", "db1"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("db1"));
    assert!(
        virsh_ok(&uri, &["hostname"]).contains(SYSTEM),
        "{}",
        daemon.log()
    );
}

/// Reads from a console descriptor until `want` shows, or fails after a few seconds.
fn console_until(console: &mut std::fs::File, want: &str) -> String {
    use std::io::Read;
    use std::os::fd::AsFd;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains(want) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the console showed {:?}, not {want:?}",
            String::from_utf8_lossy(&seen)
        );
        let mut polled = [nix::poll::PollFd::new(
            console.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let wait = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
        if nix::poll::poll(&mut polled, wait).expect("poll") == 0 {
            continue;
        }
        let n = console.read(&mut buf).expect("read the console");
        assert!(n > 0, "the console closed");
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[test]
fn phyp_console_is_the_partitions_virtual_terminal() {
    use std::io::Write;
    use virt_core::consts::domain_console_flags as console_flags;
    let Some(peer) = HmcPeer::start("hmc") else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = peer.host(state_root.path());
    let uri = peer.uri(&format!("/{SYSTEM}"));
    let conn = open_in(&host, &uri).expect("open over ssh");
    let lpar01 = conn.domain_lookup_by_name("lpar01").expect("lookup");

    // The virtual terminal over an interactive channel: what is typed comes back (the
    // stand-in echoes), and mkvterm's own banner is not part of the console.
    let mut console = std::fs::File::from(lpar01.open_console_stream(None, 0).expect("console"));
    console
        .write_all(b"hello from the console\r")
        .expect("type");
    let seen = console_until(&mut console, "hello from the console");
    assert!(!seen.contains("Open Completed"), "{seen:?}");
    let mkvterm = format!("mkvterm -m {SYSTEM} --id 1");
    assert_eq!(peer.commands().iter().filter(|c| **c == mkvterm).count(), 1);
    // A console closed and opened again finds the same terminal: no second mkvterm.
    drop(console);
    let mut console =
        std::fs::File::from(lpar01.open_console_stream(None, 0).expect("console again"));
    console.write_all(b"again\r").expect("type");
    console_until(&mut console, "again");
    assert_eq!(peer.commands().iter().filter(|c| **c == mkvterm).count(), 1);

    // A second connection (another HMC session) meets the HMC's one-terminal rule unless it
    // forces, which closes the first (rmvterm) and opens its own.
    let other = open_in(&host, &uri).expect("second connection");
    let lpar01_there = other.domain_lookup_by_name("lpar01").expect("lookup");
    let error = lpar01_there
        .open_console_stream(None, 0)
        .expect_err("one terminal per partition");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED, "{error}");
    assert!(
        error
            .message()
            .contains("A terminal session is already open"),
        "{error}"
    );
    let mut forced = std::fs::File::from(
        lpar01_there
            .open_console_stream(None, console_flags::FORCE)
            .expect("forced console"),
    );
    assert!(peer
        .commands()
        .contains(&format!("rmvterm -m {SYSTEM} --id 1")));
    forced.write_all(b"taken over\r").expect("type");
    console_until(&mut forced, "taken over");
    // The first connection's terminal ended with rmvterm: its console reads the hang-up.
    let mut rest = Vec::new();
    use std::io::Read;
    let _ = console.read_to_end(&mut rest);

    // Refusals: a partition that is not running, a device it does not have, a flag unknown.
    let lpar02 = conn.domain_lookup_by_name("lpar02").expect("lookup");
    let error = lpar02
        .open_console_stream(None, 0)
        .expect_err("not running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");
    let error = lpar01
        .open_console_stream(Some("parallel0"), 0)
        .expect_err("no such device");
    assert!(error.message().contains("parallel0"), "{error}");
    let error = lpar01.open_console_stream(None, 1 << 7).expect_err("flag");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
}

#[test]
fn phyp_console_through_rvirtd_with_the_python_client() {
    let Some(peer) = HmcPeer::start("hmc") else {
        return;
    };
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", peer.auth_file().as_os_str())]);
    let uri = daemon.uri(&peer.uri(&format!("/{SYSTEM}")));
    // python3-libvirt's stream API, as `virsh console` uses it (virsh needs a terminal).
    let script = r#"
import signal, sys, libvirt
signal.alarm(30)
conn = libvirt.open(sys.argv[1])
stream = conn.newStream(0)
conn.lookupByName("lpar01").openConsole(None, stream, 0)
try:
    second = conn.newStream(0)
    conn.lookupByName("lpar01").openConsole(None, second, 0)
    print("SECOND CONSOLE OPENED")
except libvirt.libvirtError as e:
    print("second:", e.get_error_code(), e.get_error_message())
stream.send(b"ping over rvirtd\r")
seen = b""
while b"ping over rvirtd" not in seen:
    chunk = stream.recv(4096)
    if not chunk:
        break
    seen += chunk
print("console:", seen.decode(errors="replace").strip())
stream.finish()
"#;
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&uri)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        daemon.log()
    );
    assert!(stdout.contains("console: ping over rvirtd"), "{stdout}");
    // libvirt's refusal of a second console on the same domain without FORCE.
    assert!(
        stdout.contains("second: 9 ") && stdout.contains("Active console session exists"),
        "{stdout}"
    );
}
