//! The VirtualBox plugin against `tests/peers/vboxwebsrv.py`, a simulated VirtualBox web
//! service written for these tests (labelled as such) that answers the SOAP calls of
//! VirtualBox 7.0's web service API the driver makes, with managed object references and
//! faults shaped like vboxwebsrv's. The HTTP, the SOAP and the logon are real; the machines
//! are the simulator's. Once in-process, once through rvirtd with real virsh.

use std::path::{Path, PathBuf};

use virt_core::consts::domain_state as state;
use virt_core::ErrorNumber;

use crate::common::{
    host_config, open_in, plugins_dir, virsh_ok, virsh_status, write_auth_file, PeerServer, Rvirtd,
};

const USER: &str = "vboxuser";
const PASSWORD: &str = "rvirt-vbox-test-password";

struct WebService {
    _server: PeerServer,
    port: u16,
    dir: tempfile::TempDir,
}

impl WebService {
    fn start() -> WebService {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = PeerServer::start(
            "vboxwebsrv.py",
            &[
                "--port".as_ref(),
                "0".as_ref(),
                "--user".as_ref(),
                USER.as_ref(),
                "--password".as_ref(),
                PASSWORD.as_ref(),
                "--state".as_ref(),
                dir.path().as_os_str(),
            ],
        );
        let port = server.port;
        let service = WebService {
            _server: server,
            port,
            dir,
        };
        service.write_auth_file(PASSWORD);
        service
    }

    fn write_auth_file(&self, password: &str) {
        write_auth_file(&self.auth_file(), "vbox", USER, password);
    }

    fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.conf")
    }

    fn uri(&self) -> String {
        format!("vbox://127.0.0.1:{}/session", self.port)
    }

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

#[test]
fn vbox_drives_the_web_service_in_process() {
    let service = WebService::start();
    let state_root = tempfile::tempdir().expect("state");
    let host = service.host(state_root.path());
    let conn = open_in(&host, &service.uri()).expect("logon");

    let names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name().to_string())
        .collect();
    assert_eq!(names, ["web01", "db01", "saved01"]);
    let web01 = conn.domain_lookup_by_name("web01").expect("lookup");
    assert_eq!(web01.id(), 1);
    let info = web01.info().expect("info");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::RUNNING, 2048 * 1024, 2)
    );
    let xml = web01.xml_desc(0).expect("dumpxml");
    assert!(
        xml.starts_with("<domain type='vbox' id='1'>")
            && xml.contains("<uuid>a1b2c3d4-0001-4000-8000-000000000001</uuid>")
            && xml.contains("<description>frontend</description>"),
        "{xml}"
    );

    // Power operations go through a session's console.
    web01.suspend().expect("pause");
    assert_eq!(web01.state(0).expect("state").state, state::PAUSED);
    let error = web01.shutdown(0).expect_err("paused");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED, "{error}");
    web01.resume().expect("resume");
    web01.shutdown(0).expect("ACPI power button");
    assert_eq!(web01.state(0).expect("state").state, state::SHUTOFF);
    assert!(service
        .requests()
        .iter()
        .any(|r| r.starts_with("IConsole_powerButton")));

    let db01 = conn.domain_lookup_by_name("db01").expect("lookup");
    db01.create(0).expect("start headless");
    assert_eq!(db01.state(0).expect("state").state, state::RUNNING);
    assert!(service
        .requests()
        .iter()
        .any(|r| r.starts_with("IMachine_launchVMProcess") && r.contains("headless")));
    let error = db01.create(0).expect_err("running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED, "{error}");
    db01.destroy(0).expect("power down");
    assert_eq!(db01.state(0).expect("state").state, state::SHUTOFF);

    // The snapshot tree VirtualBox keeps, through libvirt's snapshot calls.
    let snapshots = db01.list_all_snapshots(0).expect("snapshots");
    let names: Vec<String> = snapshots.iter().map(|s| s.name().to_string()).collect();
    assert_eq!(names, ["base", "patched"]);
    let current = db01.snapshot_current(0).expect("current");
    assert_eq!(current.name(), "patched");
    assert_eq!(current.parent(0).expect("parent").name(), "base");
    let base = db01.snapshot_lookup_by_name("base", 0).expect("base");
    let base_xml = base.xml_desc(0).expect("snapshot xml");
    assert!(
        base_xml.contains("<name>base</name>")
            && base_xml.contains("<description>clean install</description>")
            && base_xml.contains("<state>shutoff</state>")
            && base_xml.contains("<creationTime>1700000000</creationTime>"),
        "{base_xml}"
    );
    let taken = db01
        .snapshot_create_xml(
            "<domainsnapshot><name>third</name><description>before upgrade</description></domainsnapshot>",
            0,
        )
        .expect("take a snapshot");
    assert_eq!(taken.name(), "third");
    assert_eq!(db01.snapshot_current(0).expect("current").name(), "third");
    base.revert(0).expect("revert to base");
    assert_eq!(db01.snapshot_current(0).expect("current").name(), "base");
    taken.delete(0).expect("delete third");
    let names: Vec<String> = db01
        .list_all_snapshots(0)
        .expect("snapshots")
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    assert_eq!(names, ["base", "patched"]);
    let error = db01
        .snapshot_lookup_by_name("nope", 0)
        .expect_err("no such snapshot");
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN_SNAPSHOT, "{error}");

    // Define: made, sized and described while unregistered, then registered.
    let new = "<domain type='vbox'><name>new01</name><description>made by rvirt</description>\
               <memory unit='MiB'>768</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>";
    let new01 = conn.domain_define_xml(new, 0).expect("define");
    let info = new01.info().expect("info");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::SHUTOFF, 768 * 1024, 2)
    );
    let error = conn.domain_define_xml(new, 0).expect_err("name in use");
    assert!(error.message().contains("already exists"), "{error}");
    new01.create(0).expect("start new01");
    let error = new01.undefine(0).expect_err("running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");
    new01.destroy(0).expect("destroy");
    new01.undefine(0).expect("undefine");
    assert!(conn.domain_lookup_by_name("new01").is_err());

    // A size VirtualBox refuses leaves no machine behind.
    let huge = new
        .replace("new01", "huge")
        .replace("768</memory>", "4000000</memory>");
    let error = conn
        .domain_define_xml(&huge, 0)
        .expect_err("too much memory");
    assert!(error.message().contains("Invalid RAM size"), "{error}");
    assert!(conn.domain_lookup_by_name("huge").is_err());
    let kvm = new.replace("type='vbox'", "type='kvm'");
    let error = conn.domain_define_xml(&kvm, 0).expect_err("not vbox");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");

    let node = conn.node_info().expect("nodeinfo");
    assert_eq!(
        (node.memory_kib, node.cpus, node.mhz),
        (16384 * 1024, 4, 2600)
    );
}

#[test]
fn vbox_refuses_a_wrong_password_and_path() {
    let service = WebService::start();
    let state_root = tempfile::tempdir().expect("state");
    let host = service.host(state_root.path());
    service.write_auth_file("wrong");
    match open_in(&host, &service.uri()) {
        Ok(_) => panic!("logged on with a wrong password"),
        Err(error) => assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}"),
    }
    match open_in(&host, &format!("vbox://127.0.0.1:{}/default", service.port)) {
        Ok(_) => panic!("opened a wrong path"),
        Err(error) => assert!(error.message().contains("try vbox:///session"), "{error}"),
    }
}

#[test]
fn vbox_through_rvirtd_with_virsh() {
    let service = WebService::start();
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", service.auth_file().as_os_str())]);
    let uri = daemon.uri(&service.uri());

    assert!(virsh_ok(&uri, &["capabilities"]).contains("<domain type='vbox'"));
    assert!(virsh_ok(&uri, &["nodeinfo"]).contains("16777216 KiB"));
    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("web01") && listed.contains("saved01"),
        "{listed}\n{}",
        daemon.log()
    );
    virsh_ok(&uri, &["start", "saved01"]);
    assert!(virsh_ok(&uri, &["domstate", "saved01"]).contains("running"));
    virsh_ok(&uri, &["suspend", "saved01"]);
    virsh_ok(&uri, &["resume", "saved01"]);
    virsh_ok(&uri, &["destroy", "saved01"]);
    let (failed, error) = virsh_status(&uri, &["destroy", "saved01"]);
    assert!(!failed && error.contains("already powered down"), "{error}");
    let snapshots = virsh_ok(&uri, &["snapshot-list", "db01", "--name"]);
    assert!(
        snapshots.contains("base") && snapshots.contains("patched"),
        "{snapshots}"
    );
    virsh_ok(&uri, &["snapshot-create-as", "db01", "viaVirsh"]);
    assert!(virsh_ok(&uri, &["snapshot-current", "db01", "--name"]).contains("viaVirsh"));
    virsh_ok(&uri, &["snapshot-revert", "db01", "base"]);
    virsh_ok(&uri, &["snapshot-delete", "db01", "viaVirsh"]);
    assert!(!virsh_ok(&uri, &["snapshot-list", "db01", "--name"]).contains("viaVirsh"));
}
