//! The ESX plugin against govmomi's vSphere simulator (vcsim), built from Debian's govmomi
//! library by `tests/peers/vcsim/build.sh` (`./x.sh test` installs Go and builds it). vcsim
//! speaks the real vSphere SOAP API over HTTPS with a self-signed certificate; its machines
//! are simulated (power states, snapshots, tasks), its datastores real directories. Once
//! in-process, once through rvirtd with real virsh.
//!
//! Without the vcsim binary (no Go on the machine) each test says so and passes vacuously.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use virt_core::consts::domain_state as state;
use virt_core::ErrorNumber;

use crate::common::{
    host_config, open_in, plugins_dir, virsh_ok, virsh_status, workspace_root, write_auth_file,
    Rvirtd,
};

const USER: &str = "root";
const PASSWORD: &str = "rvirt-esx-test-password";

/// A running vcsim, its port and an auth file holding its password.
struct Vcsim {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// The vcsim binary, built when Go is there; `None` (with a message) otherwise.
fn vcsim_binary() -> Option<PathBuf> {
    let out = workspace_root().join("target/peers");
    let binary = out.join("vcsim");
    let build = workspace_root().join("tests/peers/vcsim/build.sh");
    let built = Command::new(&build)
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if built && binary.exists() {
        return Some(binary);
    }
    eprintln!(
        "SKIPPED: vcsim could not be built (needs golang-go and golang-github-vmware-govmomi-dev; \
         ./x.sh test installs them)"
    );
    None
}

impl Vcsim {
    /// `flavour`: `-esx` for a standalone ESX host, none for a vCenter.
    fn start(flavour: &[&str]) -> Option<Vcsim> {
        let binary = vcsim_binary()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(binary)
            .args(flavour)
            .args([
                "-l",
                "127.0.0.1:0",
                "-username",
                USER,
                "-password",
                PASSWORD,
            ])
            .env("TMPDIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("vcsim starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("vcsim's first line");
        // `vcsim https://user:pass@127.0.0.1:PORT/sdk PID`
        let port = line
            .split_whitespace()
            .nth(1)
            .and_then(|url| url.rsplit_once(':'))
            .and_then(|(_, rest)| rest.strip_suffix("/sdk"))
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("vcsim: unexpected first line {line:?}"));
        let vcsim = Vcsim { child, port, dir };
        vcsim.write_auth_file(PASSWORD);
        Some(vcsim)
    }

    fn write_auth_file(&self, password: &str) {
        for service in ["esx", "vpx"] {
            let path = self.dir.path().join(format!("auth-{service}.conf"));
            write_auth_file(&path, service, USER, password);
        }
        let esx = std::fs::read_to_string(self.dir.path().join("auth-esx.conf")).expect("esx");
        let vpx = std::fs::read_to_string(self.dir.path().join("auth-vpx.conf")).expect("vpx");
        // One file naming both services, as an operator's does.
        let vpx_section = vpx
            .split("\n\n")
            .nth(1)
            .expect("the auth section")
            .to_string();
        std::fs::write(self.auth_file(), format!("{esx}\n{vpx_section}\n")).expect("auth file");
    }

    fn auth_file(&self) -> PathBuf {
        self.dir.path().join("auth.conf")
    }

    fn esx_uri(&self) -> String {
        format!("esx://{USER}@127.0.0.1:{}/?no_verify=1", self.port)
    }

    fn host(&self, state_root: &Path) -> virt_host::Host {
        let mut config = host_config(vec![plugins_dir()], state_root);
        config.auth_file = Some(self.auth_file());
        virt_host::Host::new(config)
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn refused<T>(opened: virt_core::Result<T>) -> virt_core::Error {
    match opened {
        Ok(_) => panic!("the call succeeded"),
        Err(error) => error,
    }
}

/// A domain whose disk lives on the simulator's datastore.
fn definition(name: &str, disk: &str) -> String {
    format!(
        "<domain type='vmware'><name>{name}</name><uuid>9f2c0c4e-61d4-4bb3-8f6e-0c5e7b1d2a3c</uuid>\
         <memory unit='KiB'>524288</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>\
         <devices><disk type='file' device='disk'><source file='[LocalDS_0] {disk}'/>\
         <target dev='sda' bus='scsi'/></disk>\
         <controller type='scsi' index='0' model='lsilogic'/>\
         <interface type='bridge'><mac address='00:50:56:11:22:33'/><source bridge='VM Network'/>\
         <model type='e1000'/></interface></devices></domain>"
    )
}

#[test]
fn esx_drives_vcsim_in_process() {
    let Some(vcsim) = Vcsim::start(&["-esx"]) else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = vcsim.host(state_root.path());
    let conn = open_in(&host, &vcsim.esx_uri()).expect("open over the vSphere API");

    assert_eq!(
        conn.get_hostname().expect("hostname"),
        "localhost.localdomain"
    );
    let node = conn.node_info().expect("nodeinfo");
    assert_eq!(node.mhz, 2294);
    assert_eq!(node.memory_kib, 4_294_430_720 / 1024);
    assert!(conn
        .get_capabilities()
        .expect("capabilities")
        .contains("<domain type='vmware'/>"));

    let mut names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name())
        .collect();
    names.sort();
    assert_eq!(names, ["ha-host_VM0", "ha-host_VM1"]);

    // Power operations and libvirt's state checks.
    let vm0 = conn.domain_lookup_by_name("ha-host_VM0").expect("lookup");
    assert!(
        vm0.id() > 0,
        "a running machine has its reference's number as id"
    );
    assert_eq!(
        conn.domain_lookup_by_id(vm0.id()).expect("by id").name(),
        "ha-host_VM0"
    );
    vm0.suspend().expect("suspend");
    assert_eq!(vm0.state(0).expect("state").state, state::PAUSED);
    vm0.resume().expect("resume");
    vm0.destroy(0).expect("destroy");
    assert_eq!(vm0.state(0).expect("state").state, state::SHUTOFF);
    let error = refused(vm0.destroy(0));
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    assert!(error.message().contains("not powered on"), "{error}");
    vm0.create(0).expect("start");
    vm0.shutdown(0).expect("shutdown");
    assert_eq!(vm0.state(0).expect("state").state, state::SHUTOFF);
    // vcsim has no RebootGuest: the SOAP fault is libvirt's internal error naming it.
    vm0.create(0).expect("start");
    let error = refused(vm0.reboot(0));
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
    assert!(error.message().contains("RebootGuest failed"), "{error}");

    // Storage: the datastore as a pool, a new disk as a volume.
    let pools = conn.list_all_storage_pools(0).expect("pools");
    assert_eq!(pools.len(), 1);
    let pool = conn.storage_pool_lookup_by_name("LocalDS_0").expect("pool");
    let pool_xml = pool.xml_desc(0).expect("pool xml");
    assert!(pool_xml.contains("<pool type='dir'>"), "{pool_xml}");
    assert!(pool.info().expect("info").capacity > 0);
    let volume = pool
        .volume_create_xml(
            "<volume><name>web/web.vmdk</name><capacity unit='MiB'>64</capacity>\
             <target><format type='vmdk'/></target></volume>",
            0,
        )
        .expect("vol-create");
    assert_eq!(volume.path().expect("path"), "[LocalDS_0] web/web.vmdk");
    let error = refused(pool.volume_create_xml(
        "<volume><name>flat.vmdk</name><capacity>1</capacity></volume>",
        0,
    ));
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);

    // Define: the VMX file uploaded next to the disk, registered, read back.
    let before = conn.list_all_domains(0).expect("list").len();
    let error = refused(conn.domain_define_xml(
        "<domain type='vmware'><name>nodisk</name><memory>65536</memory>\
         <os><type>hvm</type></os></domain>",
        0,
    ));
    assert!(error.message().contains("file-based harddisks"), "{error}");
    let error = refused(conn.domain_define_xml(
        "<domain type='kvm'><name>wrongtype</name><memory>65536</memory>\
         <os><type>hvm</type></os></domain>",
        0,
    ));
    assert!(error.message().contains("vmware"), "{error}");
    assert_eq!(conn.list_all_domains(0).expect("list").len(), before);

    let web = conn
        .domain_define_xml(&definition("web", "web/web.vmdk"), 0)
        .expect("define");
    assert_eq!(web.state(0).expect("state").state, state::SHUTOFF);
    let xml = web.xml_desc(0).expect("dumpxml");
    assert!(xml.contains("<name>web</name>"), "{xml}");
    assert!(xml.contains("<memory unit='KiB'>524288</memory>"), "{xml}");
    assert!(xml.contains("<vcpu placement='static'>2</vcpu>"), "{xml}");
    assert!(xml.contains("[LocalDS_0] web/web.vmdk"), "{xml}");
    assert!(xml.contains("00:50:56:11:22:33"), "{xml}");
    let error = refused(conn.domain_define_xml(&definition("web", "web/web.vmdk"), 0));
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);

    // Memory and vCPUs.
    web.set_max_memory(1_048_576).expect("setmaxmem");
    assert_eq!(web.info().expect("info").max_mem_kib, 1_048_576);
    web.set_vcpus(4, 0).expect("setvcpus");
    assert_eq!(web.info().expect("info").nr_virt_cpu, 4);
    web.create(0).expect("start");
    let error = refused(web.set_max_memory(2_097_152));
    assert!(error.message().contains("not powered off"), "{error}");
    web.set_memory(524_288, 0).expect("setmem");
    assert_eq!(web.info().expect("info").memory_kib, 524_288);

    // Snapshots: a tree, the current one, revert and delete.
    web.snapshot_create_xml("<domainsnapshot><name>base</name></domainsnapshot>", 0)
        .expect("snapshot base");
    web.snapshot_create_xml(
        "<domainsnapshot><name>patched</name><description>after patching</description></domainsnapshot>",
        0,
    )
    .expect("snapshot patched");
    let names = |list: Vec<virt_core::blocking::DomainSnapshot>| {
        let mut names: Vec<String> = list.iter().map(|s| s.name().to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(
        names(web.list_all_snapshots(0).expect("snapshots")),
        ["base", "patched"]
    );
    let patched = web.snapshot_current(0).expect("current");
    assert_eq!(patched.name(), "patched");
    assert_eq!(patched.parent(0).expect("parent").name(), "base");
    let snapshot_xml = patched.xml_desc(0).expect("snapshot xml");
    assert!(snapshot_xml.contains("<parent>"), "{snapshot_xml}");
    assert!(snapshot_xml.contains("after patching"), "{snapshot_xml}");
    let error =
        refused(web.snapshot_create_xml("<domainsnapshot><name>base</name></domainsnapshot>", 0));
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    let base = web.snapshot_lookup_by_name("base", 0).expect("base");
    base.revert(0).expect("revert");
    assert_eq!(web.snapshot_current(0).expect("current").name(), "base");
    patched.delete(0).expect("delete");
    assert_eq!(
        names(web.list_all_snapshots(0).expect("snapshots")),
        ["base"]
    );
    let error = refused(web.snapshot_lookup_by_name("patched", 0));
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN_SNAPSHOT);

    // Undefine needs a powered-off machine; the files stay (libvirt's ESX semantics).
    let error = refused(web.undefine(0));
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    web.destroy(0).expect("destroy");
    web.undefine(0).expect("undefine");
    assert!(conn.domain_lookup_by_name("web").is_err());
    volume.delete(0).expect("vol-delete");

    // Networks (virtual switches) and interfaces (physical NICs).
    let networks = conn.list_all_networks(0).expect("networks");
    assert_eq!(networks.len(), 1);
    let switch = conn.network_lookup_by_name("vSwitch0").expect("vSwitch0");
    let network_xml = switch.xml_desc(0).expect("net xml");
    assert!(
        network_xml.contains("<portgroup name='VM Network'"),
        "{network_xml}"
    );
    let interfaces = conn.list_all_interfaces(0).expect("interfaces");
    assert!(!interfaces.is_empty());
}

#[test]
fn esx_refuses_bad_credentials_certificates_and_uris() {
    let Some(vcsim) = Vcsim::start(&["-esx"]) else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = vcsim.host(state_root.path());

    // libvirt's URI checks, before any connection is made.
    let error = refused(open_in(
        &host,
        &format!("esx://127.0.0.1:{}/?transport=ftp", vcsim.port),
    ));
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    assert!(error.message().contains("should be http|https"), "{error}");
    let error = refused(open_in(
        &host,
        &format!("esx://127.0.0.1:{}/?no_verify=yes", vcsim.port),
    ));
    assert!(error.message().contains("'no_verify'"), "{error}");

    // vcsim's certificate is self-signed: without no_verify=1 the TLS handshake refuses it.
    let error = refused(open_in(
        &host,
        &format!("esx://{USER}@127.0.0.1:{}/", vcsim.port),
    ));
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED, "{error}");

    // Nothing listens on the port: the URL is named.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let error = refused(open_in(
        &host,
        &format!("esx://{USER}@127.0.0.1:{closed_port}/?no_verify=1"),
    ));
    assert!(
        error.message().contains(&closed_port.to_string()),
        "{error}"
    );

    // A vCenter is not an ESX host.
    let Some(vcenter) = Vcsim::start(&[]) else {
        return;
    };
    let error = refused(open_in(
        &host,
        &format!("esx://{USER}@127.0.0.1:{}/?no_verify=1", vcenter.port),
    ));
    assert!(error.message().contains("not an ESX host"), "{error}");

    // A wrong password is libvirt's authentication failure.
    vcsim.write_auth_file("not-the-password");
    let error = refused(open_in(&host, &vcsim.esx_uri()));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED);
    std::fs::remove_file(vcsim.auth_file()).expect("auth file removed");
    let error = refused(open_in(&host, &vcsim.esx_uri()));
    assert_eq!(error.code(), ErrorNumber::AUTH_FAILED);
    assert!(
        error.message().contains("Password request failed"),
        "{error}"
    );
}

#[test]
fn vpx_reaches_a_host_through_a_vcenter() {
    let Some(vcenter) = Vcsim::start(&[]) else {
        return;
    };
    let state_root = tempfile::tempdir().expect("state");
    let host = vcenter.host(state_root.path());
    let base = format!("vpx://{USER}@127.0.0.1:{}", vcenter.port);
    let conn = open_in(&host, &format!("{base}/DC0/DC0_C0/DC0_C0_H0?no_verify=1"))
        .expect("open the vCenter's cluster host");
    let names: Vec<String> = conn
        .list_all_domains(0)
        .expect("list")
        .iter()
        .map(|d| d.name())
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("DC0_C0_RP0_VM")),
        "{names:?}"
    );
    // A standalone host's compute resource needs no host name.
    let standalone = open_in(&host, &format!("{base}/DC0/DC0_H0?no_verify=1"))
        .expect("open the standalone host");
    assert!(standalone
        .list_all_domains(0)
        .expect("list")
        .iter()
        .all(|d| d.name().starts_with("DC0_H0_VM")));
    // A cluster without a host, a datacenter that is not there.
    let error = refused(open_in(&host, &format!("{base}/DC0/DC0_C0?no_verify=1")));
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    assert!(error.message().contains("host system"), "{error}");
    let error = refused(open_in(&host, &format!("{base}/DC9/DC0_C0?no_verify=1")));
    assert!(error.message().contains("datacenter"), "{error}");
}

#[test]
fn esx_through_rvirtd_with_virsh() {
    let Some(vcsim) = Vcsim::start(&["-esx"]) else {
        return;
    };
    let daemon = Rvirtd::start(&[("LIBVIRT_AUTH_FILE", vcsim.auth_file().as_os_str())]);
    let uri = daemon.uri(&vcsim.esx_uri());

    assert!(virsh_ok(&uri, &["capabilities"]).contains("<domain type='vmware'"));
    assert!(virsh_ok(&uri, &["nodeinfo"]).contains("2294"));
    assert!(virsh_ok(&uri, &["hostname"]).contains("localhost.localdomain"));
    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("ha-host_VM0") && listed.contains("ha-host_VM1"),
        "{listed}\n{}",
        daemon.log()
    );

    // Storage and the definition that lives on it.
    assert!(virsh_ok(&uri, &["pool-list", "--all"]).contains("LocalDS_0"));
    assert!(virsh_ok(&uri, &["pool-info", "LocalDS_0"]).contains("running"));
    virsh_ok(
        &uri,
        &[
            "vol-create-as",
            "LocalDS_0",
            "db/db.vmdk",
            "64M",
            "--format",
            "vmdk",
        ],
    );
    assert!(virsh_ok(&uri, &["vol-list", "LocalDS_0"]).contains("[LocalDS_0] db/db.vmdk"));
    let dir = tempfile::tempdir().expect("dir");
    let xml_path = dir.path().join("db.xml");
    std::fs::write(&xml_path, definition("db", "db/db.vmdk")).expect("xml");
    virsh_ok(&uri, &["define", &xml_path.display().to_string()]);
    let dumped = virsh_ok(&uri, &["dumpxml", "db"]);
    assert!(
        dumped.contains("<memory unit='KiB'>524288</memory>"),
        "{dumped}"
    );
    assert!(
        dumped.contains("<vmware:datacenterpath>ha-datacenter"),
        "{dumped}"
    );
    assert!(virsh_ok(&uri, &["dominfo", "db"]).contains("shut off"));

    // Lifecycle, memory and vCPUs.
    virsh_ok(&uri, &["setmaxmem", "db", "1048576"]);
    virsh_ok(&uri, &["setvcpus", "db", "4"]);
    virsh_ok(&uri, &["start", "db"]);
    let info = virsh_ok(&uri, &["dominfo", "db"]);
    assert!(
        info.contains("running") && info.contains("1048576 KiB"),
        "{info}"
    );
    assert!(info.contains("CPU(s):         4"), "{info}");
    virsh_ok(&uri, &["setmem", "db", "524288"]);
    assert!(virsh_ok(&uri, &["dominfo", "db"]).contains("524288 KiB"));
    virsh_ok(&uri, &["suspend", "db"]);
    assert!(virsh_ok(&uri, &["domstate", "db"]).contains("paused"));
    virsh_ok(&uri, &["resume", "db"]);
    let (succeeded, error) = virsh_status(&uri, &["start", "db"]);
    assert!(!succeeded && error.contains("already active"), "{error}");

    // Snapshots.
    virsh_ok(&uri, &["snapshot-create-as", "db", "first"]);
    virsh_ok(
        &uri,
        &[
            "snapshot-create-as",
            "db",
            "second",
            "--description",
            "later",
        ],
    );
    let tree = virsh_ok(&uri, &["snapshot-list", "db", "--tree"]);
    assert!(tree.contains("first") && tree.contains("second"), "{tree}");
    assert!(virsh_ok(&uri, &["snapshot-current", "db", "--name"]).contains("second"));
    assert!(virsh_ok(&uri, &["snapshot-parent", "db", "second"]).contains("first"));
    virsh_ok(&uri, &["snapshot-revert", "db", "first"]);
    virsh_ok(&uri, &["snapshot-delete", "db", "second"]);
    assert!(!virsh_ok(&uri, &["snapshot-list", "db", "--name"]).contains("second"));

    virsh_ok(&uri, &["shutdown", "db"]);
    assert!(virsh_ok(&uri, &["domstate", "db"]).contains("shut off"));
    virsh_ok(&uri, &["undefine", "db"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains(" db "));
    virsh_ok(&uri, &["vol-delete", "--pool", "LocalDS_0", "db/db.vmdk"]);

    // Networks and interfaces.
    assert!(virsh_ok(&uri, &["net-list", "--all"]).contains("vSwitch0"));
    assert!(virsh_ok(&uri, &["net-dumpxml", "vSwitch0"]).contains("VM Network"));
    let interfaces = virsh_ok(&uri, &["iface-list", "--all"]);
    assert!(interfaces.contains("vmnic0"), "{interfaces}");
    assert!(virsh_ok(&uri, &["iface-dumpxml", "vmnic0"]).contains("<mac address="));

    // domxml-to-native writes the datastore's mount path; from-native reads it back.
    let vmx = virsh_ok(
        &uri,
        &[
            "domxml-to-native",
            "vmware-vmx",
            &xml_path.display().to_string(),
        ],
    );
    assert!(vmx.contains("scsi0:0.fileName = \"/"), "{vmx}");
    let vmx_path = dir.path().join("db.vmx");
    std::fs::write(&vmx_path, &vmx).expect("vmx");
    let back = virsh_ok(
        &uri,
        &[
            "domxml-from-native",
            "vmware-vmx",
            &vmx_path.display().to_string(),
        ],
    );
    assert!(
        back.contains("<source file='[LocalDS_0] db/db.vmdk'/>"),
        "{back}"
    );
}
