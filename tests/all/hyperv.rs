//! The Hyper-V plugin against `tests/peers/wsman_hyperv.py`, a simulated WS-Management
//! endpoint written for these tests (labelled as such) that answers the WS-Enumeration and
//! WMI method calls the driver makes with envelopes shaped like Hyper-V 2019's, behind HTTP
//! basic authentication or, as WinRM's defaults are, NTLM only (`--auth ntlm`: it checks the
//! NTLMv2 response against the password and serves only the connection that logged in). The
//! HTTP, the SOAP and the login from libvirt's auth file are real; the machines are the
//! simulator's. Once in-process, once through rvirtd with real virsh.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use virt_core::consts::domain_event_type as event_type;
use virt_core::consts::domain_state as state;
use virt_core::{ErrorNumber, Event};

use crate::common::{
    host_config, open_in, plugins_dir, virsh_ok, virsh_status, write_auth_file, PeerServer, Rvirtd,
};

const USER: &str = "administrator";
const PASSWORD: &str = "rvirt-hyperv-test-password";

/// The simulated endpoint, its state directory and an auth file naming its password.
struct Endpoint {
    /// Kept for its lifetime: the server stops when the endpoint is dropped.
    _server: PeerServer,
    port: u16,
    dir: tempfile::TempDir,
}

impl Endpoint {
    fn start() -> Endpoint {
        Endpoint::start_with(&[])
    }

    /// With the peer's options after the common ones (`--auth ntlm`, `--keep-alive-max N`).
    fn start_with(options: &[&str]) -> Endpoint {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--port".as_ref(),
            "0".as_ref(),
            "--user".as_ref(),
            USER.as_ref(),
            "--password".as_ref(),
            PASSWORD.as_ref(),
            "--state".as_ref(),
            dir.path().as_os_str(),
        ];
        args.extend(options.iter().map(|option| std::ffi::OsStr::new(*option)));
        let server = PeerServer::start("wsman_hyperv.py", &args);
        let port = server.port;
        let endpoint = Endpoint {
            _server: server,
            port,
            dir,
        };
        endpoint.write_auth_file(PASSWORD);
        endpoint
    }

    fn ntlm() -> Endpoint {
        Endpoint::start_with(&["--auth", "ntlm"])
    }

    /// NTLM mode's connection log: per TCP connection, its logins and the requests it was
    /// served, in connection order.
    fn connections(&self) -> Vec<(usize, usize, usize)> {
        let text =
            std::fs::read_to_string(self.dir.path().join("connections.log")).unwrap_or_default();
        let mut by_connection: std::collections::BTreeMap<usize, (usize, usize)> =
            Default::default();
        for line in text.lines() {
            let (what, id) = line.split_once(' ').expect("WHAT CONNECTION");
            let counts = by_connection
                .entry(id.parse().expect("a connection number"))
                .or_default();
            match what {
                "login" => counts.0 += 1,
                "served" => counts.1 += 1,
                other => panic!("unexpected connection log line {other:?}"),
            }
        }
        by_connection
            .into_iter()
            .map(|(id, (logins, served))| (id, logins, served))
            .collect()
    }

    fn write_auth_file(&self, password: &str) {
        write_auth_file(&self.auth_file(), "hyperv", USER, password);
    }

    fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.conf")
    }

    fn uri(&self) -> String {
        format!("hyperv://{USER}@127.0.0.1:{}/?transport=http", self.port)
    }

    /// The requests the endpoint received, one summary line each.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
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

fn refused<T>(opened: virt_core::Result<T>) -> virt_core::Error {
    match opened {
        Ok(_) => panic!("the connection opened"),
        Err(error) => error,
    }
}

fn next_lifecycle(events: &mut virt_core::blocking::EventStream, name: &str) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, .. }) if dom.name == name => {
                return Some(event)
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

#[test]
fn hyperv_drives_a_wsman_endpoint_in_process() {
    let endpoint = Endpoint::start();
    let state_root = tempfile::tempdir().expect("state");
    let host = endpoint.host(state_root.path());
    let conn = open_in(&host, &endpoint.uri()).expect("open over WS-Management");

    let mut names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["db01", "paused01", "web01"]);

    let web01 = conn.domain_lookup_by_name("web01").expect("lookup");
    assert_eq!(web01.id(), 4321);
    assert_eq!(web01.uuid_string(), "4a62d6f1-3e2b-4c52-8c7a-2b1b5c0d4e01");
    let info = web01.info().expect("info");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::RUNNING, 2048 * 1024, 2)
    );
    let xml = web01.xml_desc(0).expect("dumpxml");
    assert!(
        xml.starts_with("<domain type='hyperv' id='4321'>")
            && xml.contains("<description>frontend</description>")
            && xml.contains("<memory unit='KiB'>2097152</memory>"),
        "{xml}"
    );
    assert_eq!(
        conn.domain_lookup_by_id(4321).expect("by id").name(),
        "web01"
    );
    let by_uuid = conn.domain_lookup_by_uuid(&web01.uuid()).expect("by uuid");
    assert_eq!(by_uuid.name(), "web01");

    // Start an off machine: RequestStateChange(2), its job waited for.
    let mut events = conn.events().expect("events");
    let db01 = conn.domain_lookup_by_name("db01").expect("lookup");
    assert_eq!(db01.state(0).expect("state").state, state::SHUTOFF);
    db01.create(0).expect("start");
    assert_eq!(db01.state(0).expect("state").state, state::RUNNING);
    assert!(db01.id() > 0);
    assert_eq!(
        next_lifecycle(&mut events, "db01"),
        Some(event_type::STARTED)
    );
    assert!(endpoint
        .requests()
        .iter()
        .any(|r| r.contains("RequestStateChange") && r.contains("RequestedState=2")));
    let error = db01.create(0).expect_err("already running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    // The guest's own shutdown, through its shutdown component.
    db01.shutdown(0).expect("shutdown");
    assert_eq!(db01.state(0).expect("state").state, state::SHUTOFF);
    assert!(endpoint
        .requests()
        .iter()
        .any(|r| r.contains("InitiateShutdown")));

    web01.suspend().expect("suspend");
    assert_eq!(web01.state(0).expect("state").state, state::PAUSED);
    web01.resume().expect("resume");
    assert_eq!(web01.state(0).expect("state").state, state::RUNNING);
    let error = web01.resume().expect_err("not paused");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    let paused01 = conn.domain_lookup_by_name("paused01").expect("lookup");
    paused01.destroy(0).expect("destroy");
    assert_eq!(paused01.state(0).expect("state").state, state::SHUTOFF);
    let error = paused01.destroy(0).expect_err("not active");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    // Define: DefineSystem, then memory and processors through ModifyResourceSettings.
    let new = "<domain type='hyperv'><name>new01</name><memory unit='MiB'>1024</memory>\
               <vcpu>2</vcpu><os><type>hvm</type></os></domain>";
    let new01 = conn.domain_define_xml(new, 0).expect("define");
    let info = new01.info().expect("info");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::SHUTOFF, 1024 * 1024, 2)
    );
    let clash = new.replace(
        "<name>new01</name>",
        "<name>clash</name><uuid>4a62d6f1-3e2b-4c52-8c7a-2b1b5c0d4e01</uuid>",
    );
    let error = conn.domain_define_xml(&clash, 0).expect_err("web01's UUID");
    assert_eq!(error.code(), ErrorNumber::DOM_EXIST, "{error}");
    new01.create(0).expect("start new01");
    let error = new01.undefine(0).expect_err("running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");
    new01.destroy(0).expect("destroy new01");
    new01.undefine(0).expect("undefine");
    assert!(conn.domain_lookup_by_name("new01").is_err());

    // A guest that refuses to shut down: the server's return value, as libvirt words it.
    let stubborn = "<domain type='hyperv'><name>stubborn</name>\
                    <description>refuses-shutdown</description><memory unit='MiB'>512</memory>\
                    <vcpu>1</vcpu><os><type>hvm</type></os></domain>";
    let stubborn = conn.domain_define_xml(stubborn, 0).expect("define");
    stubborn.create(0).expect("start");
    let error = stubborn.shutdown(0).expect_err("refused by the guest");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(
        error
            .message()
            .contains("Invalid state for this operation (32775)"),
        "{error}"
    );
    assert_eq!(stubborn.state(0).expect("state").state, state::RUNNING);
    stubborn.destroy(0).expect("destroy");
    stubborn.undefine(0).expect("undefine");

    // Bad definitions change nothing on the server.
    let before = endpoint.requests().len();
    let kvm = new.replace("type='hyperv'", "type='kvm'");
    let error = conn.domain_define_xml(&kvm, 0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    let with_disk = new.replace(
        "</os>",
        "</os><devices><disk type='file'><source file='/x'/><target dev='sda'/></disk></devices>",
    );
    let error = conn.domain_define_xml(&with_disk, 0).expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED, "{error}");
    assert_eq!(endpoint.requests().len(), before);

    let node = conn.node_info().expect("nodeinfo");
    assert_eq!(
        (
            node.memory_kib,
            node.cpus,
            node.sockets,
            node.cores,
            node.threads,
            node.mhz
        ),
        (33_554_432, 4, 2, 2, 2, 2600)
    );
    assert_eq!(node.model, "Intel Xeon CPU E5-2670 0");
    assert_eq!(conn.get_hostname().expect("hostname"), "hyperv-host");
}

#[test]
fn hyperv_refuses_bad_credentials_and_uris() {
    let endpoint = Endpoint::start();
    let state_root = tempfile::tempdir().expect("state");
    let host = endpoint.host(state_root.path());
    let error = refused(open_in(
        &host,
        &format!("hyperv://127.0.0.1:{}/?transport=ftp", endpoint.port),
    ));
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    endpoint.write_auth_file("wrong");
    let error = refused(open_in(&host, &endpoint.uri()));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    std::fs::remove_file(endpoint.auth_file()).expect("remove auth file");
    let error = refused(open_in(&host, &endpoint.uri()));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    assert!(error.message().contains("no password"), "{error}");
    // Nothing was asked of the server but the login's version query.
    assert!(endpoint.requests().iter().all(|r| !r.contains("Invoke")));
}

#[test]
fn hyperv_through_rvirtd_with_virsh() {
    let endpoint = Endpoint::start();
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", endpoint.auth_file().as_os_str())]);
    let uri = daemon.uri(&endpoint.uri());

    let caps = virsh_ok(&uri, &["capabilities"]);
    assert!(caps.contains("<domain type='hyperv'"), "{caps}");
    let node = virsh_ok(&uri, &["nodeinfo"]);
    assert!(node.contains("33554432 KiB"), "{node}");
    assert!(virsh_ok(&uri, &["hostname"]).contains("hyperv-host"));
    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("web01") && listed.contains("paused") && listed.contains("shut off"),
        "{listed}"
    );
    virsh_ok(&uri, &["start", "db01"]);
    assert!(virsh_ok(&uri, &["dominfo", "db01"]).contains("running"));
    virsh_ok(&uri, &["suspend", "db01"]);
    assert!(virsh_ok(&uri, &["domstate", "db01"]).contains("paused"));
    virsh_ok(&uri, &["resume", "db01"]);
    virsh_ok(&uri, &["shutdown", "db01"]);
    assert!(virsh_ok(&uri, &["domstate", "db01"]).contains("shut off"));
    let (failed, error) = virsh_status(&uri, &["destroy", "db01"]);
    assert!(
        !failed && error.contains("Domain is not active"),
        "{error}\n{}",
        daemon.log()
    );
    let xml_path = endpoint.dir.path().join("v.xml");
    std::fs::write(
        &xml_path,
        "<domain type='hyperv'><name>viaVirsh</name><memory unit='MiB'>768</memory>\
         <vcpu>1</vcpu><os><type>hvm</type></os></domain>",
    )
    .expect("xml");
    virsh_ok(&uri, &["define", &xml_path.display().to_string()]);
    assert!(virsh_ok(&uri, &["dumpxml", "viaVirsh"]).contains("<memory unit='KiB'>786432</memory>"));
    virsh_ok(&uri, &["start", "viaVirsh"]);
    virsh_ok(&uri, &["destroy", "viaVirsh"]);
    virsh_ok(&uri, &["undefine", "viaVirsh"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("viaVirsh"));
}

/// The lifecycle `hyperv_drives_a_wsman_endpoint_in_process` checks with Basic, in short.
fn lifecycle(conn: &virt_core::blocking::Connect) {
    let mut names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["db01", "paused01", "web01"]);
    let web01 = conn.domain_lookup_by_name("web01").expect("lookup");
    let info = web01.info().expect("dominfo");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::RUNNING, 2048 * 1024, 2)
    );
    let db01 = conn.domain_lookup_by_name("db01").expect("lookup");
    db01.create(0).expect("start");
    assert_eq!(db01.state(0).expect("state").state, state::RUNNING);
    db01.shutdown(0).expect("shutdown");
    assert_eq!(db01.state(0).expect("state").state, state::SHUTOFF);
    let paused01 = conn.domain_lookup_by_name("paused01").expect("lookup");
    paused01.destroy(0).expect("destroy");
    assert_eq!(paused01.state(0).expect("state").state, state::SHUTOFF);
}

#[test]
fn hyperv_logs_in_with_ntlm_and_keeps_its_connection() {
    let endpoint = Endpoint::ntlm();
    let state_root = tempfile::tempdir().expect("state");
    let host = endpoint.host(state_root.path());
    let conn = open_in(&host, &endpoint.uri()).expect("open with NTLM");
    lifecycle(&conn);
    assert!(endpoint
        .requests()
        .iter()
        .any(|r| r.contains("RequestStateChange") && r.contains("RequestedState=2")));
    // One login, on one connection, that carried every request: the calls ran one after
    // another, so on one instance and its session.
    let connections = endpoint.connections();
    assert_eq!(connections.len(), 1, "{connections:?}");
    let (_, logins, served) = connections[0];
    assert_eq!(logins, 1, "{connections:?}");
    assert_eq!(served, endpoint.requests().len(), "{connections:?}");
    assert!(served > 20, "{connections:?}");
}

#[test]
fn hyperv_logs_in_again_when_the_server_ends_a_connection() {
    // Every fourth answer closes the connection: the host reconnects and says so, the
    // plugin logs in again with the request the new connection refused.
    let endpoint = Endpoint::start_with(&["--auth", "ntlm", "--keep-alive-max", "4"]);
    let state_root = tempfile::tempdir().expect("state");
    let host = endpoint.host(state_root.path());
    let conn = open_in(&host, &endpoint.uri()).expect("open with NTLM");
    lifecycle(&conn);
    let connections = endpoint.connections();
    assert!(connections.len() > 3, "{connections:?}");
    for (id, logins, served) in &connections {
        assert_eq!(*logins, 1, "connection {id}: {connections:?}");
        assert!((1..=3).contains(served), "connection {id}: {connections:?}");
    }
    let served: usize = connections.iter().map(|(_, _, served)| served).sum();
    assert_eq!(served, endpoint.requests().len());
}

#[test]
fn hyperv_ntlm_refuses_a_wrong_password_and_changes_nothing() {
    let endpoint = Endpoint::ntlm();
    let state_root = tempfile::tempdir().expect("state");
    let host = endpoint.host(state_root.path());
    endpoint.write_auth_file("wrong");
    let error = refused(open_in(&host, &endpoint.uri()));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    assert_eq!(error.code().0, 45);
    assert!(
        error.message().contains("127.0.0.1") && error.message().contains("NTLM"),
        "{error}"
    );
    assert!(endpoint.requests().is_empty(), "{:?}", endpoint.requests());
    assert!(endpoint.connections().is_empty());
    // The right password still logs in, and finds the machines as they were.
    endpoint.write_auth_file(PASSWORD);
    let conn = open_in(&host, &endpoint.uri()).expect("open with NTLM");
    let db01 = conn.domain_lookup_by_name("db01").expect("lookup");
    assert_eq!(db01.state(0).expect("state").state, state::SHUTOFF);
    let web01 = conn.domain_lookup_by_name("web01").expect("lookup");
    assert_eq!(web01.state(0).expect("state").state, state::RUNNING);
    assert!(endpoint.requests().iter().all(|r| !r.contains("Invoke")));
}

#[test]
fn hyperv_ntlm_through_rvirtd_with_virsh() {
    let endpoint = Endpoint::ntlm();
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", endpoint.auth_file().as_os_str())]);
    let uri = daemon.uri(&endpoint.uri());

    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("web01") && listed.contains("paused") && listed.contains("shut off"),
        "{listed}"
    );
    assert!(virsh_ok(&uri, &["dominfo", "web01"]).contains("running"));
    virsh_ok(&uri, &["start", "db01"]);
    assert!(virsh_ok(&uri, &["dominfo", "db01"]).contains("running"));
    virsh_ok(&uri, &["shutdown", "db01"]);
    assert!(virsh_ok(&uri, &["domstate", "db01"]).contains("shut off"));
    virsh_ok(&uri, &["destroy", "paused01"]);
    assert!(virsh_ok(&uri, &["domstate", "paused01"]).contains("shut off"));
    // Each connection logged in once and carried the requests after its login.
    let connections = endpoint.connections();
    assert!(!connections.is_empty());
    assert!(
        connections.iter().all(|(_, logins, _)| *logins == 1),
        "{connections:?}"
    );
    let served: usize = connections.iter().map(|(_, _, served)| served).sum();
    assert_eq!(served, endpoint.requests().len());

    endpoint.write_auth_file("wrong");
    let before = endpoint.requests().len();
    let (succeeded, error) = virsh_status(&uri, &["list", "--all"]);
    assert!(
        !succeeded && error.contains("authentication failed") && error.contains("NTLM"),
        "{error}\n{}",
        daemon.log()
    );
    assert_eq!(endpoint.requests().len(), before);
}
