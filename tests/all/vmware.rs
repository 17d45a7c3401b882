//! The VMware Workstation plugin driving stand-ins for VMware's `vmrun` and `vmware` (VMware
//! cannot run here): shell scripts this test writes, labelled as stand-ins, that keep the
//! running machines in a file and behave as vmrun's documentation says (`list` prints the
//! running VMX paths, `start` writes the machine's `vmware.log` with its pid, `stop`/`pause`
//! refuse a machine that is not powered on). The VMX files are real, written and read by
//! the plugin. Once in-process, once through rvirtd with real virsh.

use std::path::PathBuf;

use virt_core::consts::domain_state as state;
use virt_core::ErrorNumber;

use crate::common::{open_in, virsh_ok, virsh_status, Rvirtd, StandInDir};

const STAND_IN_VMRUN: &str = r#"#!/bin/sh
# Stand-in for VMware's vmrun, written by rvirt's tests (not VMware software). Running machines
# are the VMX paths listed in running.list beside this script.
dir=$(dirname "$0")
echo "$*" >> "$dir/vmrun.argv"
[ "$1" = "-T" ] && shift 2
cmd=$1; vmx=$2
touch "$dir/running.list"
running() { grep -qxF "$vmx" "$dir/running.list"; }
case "$cmd" in
list)
    echo "Total running VMs: $(grep -c . "$dir/running.list")"
    cat "$dir/running.list" ;;
start)
    [ -f "$vmx" ] || { echo "Error: Cannot open VM: $vmx, The virtual machine cannot be found"; exit 255; }
    running && { echo "Error: The file is already in use"; exit 255; }
    pid=$((4000 + $(grep -c . "$dir/running.list")))
    printf '2026-12-07T10:00:00.000Z In(05) vmx Log for VMware Workstation pid=%s version=17.0.0 build=build-20800274 option=Release\n' "$pid" > "$(dirname "$vmx")/vmware.log"
    echo "$vmx" >> "$dir/running.list" ;;
stop|pause|unpause|reset)
    running || { echo "Error: The virtual machine is not powered on: $vmx"; exit 255; }
    if [ "$cmd" = stop ]; then grep -vxF "$vmx" "$dir/running.list" > "$dir/r.new"; mv "$dir/r.new" "$dir/running.list"; fi ;;
*) echo "Error: Unrecognized command: $cmd"; exit 255 ;;
esac
exit 0
"#;

const STAND_IN_VMWARE: &str = r#"#!/bin/sh
# Stand-in for VMware Workstation's `vmware -v`, written by rvirt's tests.
echo "VMware Workstation 17.0.0 build-20800274"
"#;

struct StandIns(StandInDir);

impl std::ops::Deref for StandIns {
    type Target = StandInDir;
    fn deref(&self) -> &StandInDir {
        &self.0
    }
}

impl StandIns {
    fn new() -> StandIns {
        let stand_ins = StandInDir::new(
            "rvirt-vmware-",
            &[("vmrun", STAND_IN_VMRUN), ("vmware", STAND_IN_VMWARE)],
        );
        std::fs::create_dir(stand_ins.path("vms")).expect("vms");
        StandIns(stand_ins)
    }

    /// A machine's directory with its (empty) VMDK disk, and its definition.
    fn machine_xml(&self, name: &str) -> String {
        let dir = self.path("vms").join(name);
        std::fs::create_dir_all(&dir).expect("machine dir");
        let disk = dir.join(format!("{name}.vmdk"));
        std::fs::write(&disk, b"").expect("vmdk");
        format!(
            "<domain type='vmware'><name>{name}</name>\
             <uuid>564d9bef-acd9-b4e0-c8f0-aea8b9103515</uuid>\
             <memory unit='MiB'>512</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>\
             <devices><disk type='file' device='disk'><source file='{}'/>\
             <target dev='sda' bus='scsi'/></disk></devices></domain>",
            disk.display()
        )
    }

    fn vmx_path(&self, name: &str) -> PathBuf {
        self.path("vms").join(name).join(format!("{name}.vmx"))
    }

    fn vmrun_argv(&self) -> Vec<String> {
        self.lines("vmrun.argv")
    }
}

#[test]
fn vmware_workstation_over_vmrun_stand_ins() {
    let stand_ins = StandIns::new();
    let state_root = tempfile::tempdir().expect("state");
    let host = stand_ins.host(state_root.path());
    let conn = open_in(&host, "vmwarews:///session").expect("open");
    assert!(conn.list_all_domains(0).expect("list").is_empty());

    // Define writes the VMX file beside the first VMDK disk.
    let web = conn
        .domain_define_xml(&stand_ins.machine_xml("web"), 0)
        .expect("define");
    let vmx = std::fs::read_to_string(stand_ins.vmx_path("web")).expect("VMX written");
    assert!(
        vmx.contains("displayName = \"web\"")
            && vmx.contains("memsize = \"512\"")
            && vmx.contains("numvcpus = \"2\"")
            && vmx.contains("virtualHW.version = \"7\""),
        "{vmx}"
    );
    assert_eq!(web.state(0).expect("state").state, state::SHUTOFF);

    web.create(0).expect("start");
    let vmx_path = stand_ins.vmx_path("web").display().to_string();
    assert!(
        stand_ins
            .vmrun_argv()
            .contains(&format!("-T ws start {vmx_path}")),
        "{:?}",
        stand_ins.vmrun_argv()
    );
    assert_eq!(web.id(), 4000);
    assert_eq!(web.state(0).expect("state").state, state::RUNNING);
    let live = web.xml_desc(0).expect("dumpxml");
    assert!(
        live.starts_with("<domain type='vmware' id='4000'>")
            && live.contains("<uuid>564d9bef-acd9-b4e0-c8f0-aea8b9103515</uuid>")
            && live.contains(&format!(
                "<source file='{}'/>",
                stand_ins.path("vms/web/web.vmdk").display()
            )),
        "{live}"
    );
    let error = web.create(0).expect_err("already running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    web.suspend().expect("pause");
    assert_eq!(web.state(0).expect("state").state, state::PAUSED);
    web.resume().expect("unpause");
    web.reboot(0).expect("reset");
    web.shutdown(0).expect("stop soft");
    assert!(stand_ins
        .vmrun_argv()
        .contains(&format!("-T ws stop {vmx_path} soft")));
    assert_eq!(web.state(0).expect("state").state, state::SHUTOFF);
    web.create(0).expect("start again");
    web.destroy(0).expect("stop hard");
    assert!(stand_ins
        .vmrun_argv()
        .contains(&format!("-T ws stop {vmx_path} hard")));
    let error = web.destroy(0).expect_err("not running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");

    // Bad definitions write nothing.
    let error = conn
        .domain_define_xml(
            "<domain type='vmware'><name>nodisk</name><memory>1024</memory>\
             <os><type>hvm</type></os></domain>",
            0,
        )
        .expect_err("no disk");
    assert!(
        error.message().contains("doesn't contain any disks"),
        "{error}"
    );
    let raw = stand_ins
        .machine_xml("rawdisk")
        .replace("rawdisk.vmdk", "rawdisk.img");
    let error = conn.domain_define_xml(&raw, 0).expect_err("not a VMDK");
    assert!(error.message().contains("expecting '.vmdk'"), "{error}");
    assert!(!stand_ins.vmx_path("rawdisk").exists());
    let clash = stand_ins.machine_xml("web").replace(
        "564d9bef-acd9-b4e0-c8f0-aea8b9103515",
        "11111111-2222-3333-4444-555555555555",
    );
    let error = conn.domain_define_xml(&clash, 0).expect_err("name in use");
    assert!(
        error.message().contains("already defined with uuid"),
        "{error}"
    );

    // The VMX format both ways.
    let native = conn
        .domain_xml_to_native("vmware-vmx", &stand_ins.machine_xml("web"), 0)
        .expect("to native");
    assert!(native.contains("displayName = \"web\""), "{native}");
    let back = conn
        .domain_xml_from_native("vmware-vmx", &native, 0)
        .expect("from native");
    assert!(back.contains("<name>web</name>"), "{back}");

    // Another host finds the running machine from `vmrun list`; undefine keeps the files.
    web.create(0).expect("start");
    drop(web);
    drop(conn);
    drop(host);
    let fresh_state = tempfile::tempdir().expect("state");
    let host = stand_ins.host(fresh_state.path());
    let conn = open_in(&host, "vmwarews:///session").expect("open again");
    let found = conn
        .domain_lookup_by_name("web")
        .expect("found from vmrun list");
    assert_eq!(found.state(0).expect("state").state, state::RUNNING);
    found.destroy(0).expect("destroy");
    found.undefine(0).expect("undefine");
    assert!(conn.list_all_domains(0).expect("list").is_empty());
    assert!(stand_ins.vmx_path("web").exists());
}

#[test]
fn vmware_through_rvirtd_with_virsh() {
    let stand_ins = StandIns::new();
    let daemon = Rvirtd::start(&[("RVIRT_HELPER_DIR", stand_ins.dir.path().as_os_str())]);
    let uri = daemon.uri("vmwarews:///session");

    assert!(virsh_ok(&uri, &["capabilities"]).contains("<domain type='vmware'"));
    let xml_path = stand_ins.path("db.xml");
    std::fs::write(&xml_path, stand_ins.machine_xml("db")).expect("xml");
    let xml_arg = xml_path.display().to_string();
    virsh_ok(&uri, &["define", &xml_arg]);
    virsh_ok(&uri, &["start", "db"]);
    let info = virsh_ok(&uri, &["dominfo", "db"]);
    assert!(
        info.contains("running") && info.contains("524288 KiB"),
        "{info}\n{}",
        daemon.log()
    );
    virsh_ok(&uri, &["suspend", "db"]);
    assert!(virsh_ok(&uri, &["domstate", "db"]).contains("paused"));
    virsh_ok(&uri, &["resume", "db"]);
    virsh_ok(&uri, &["destroy", "db"]);
    let (failed, error) = virsh_status(&uri, &["destroy", "db"]);
    assert!(!failed && error.contains("not in running state"), "{error}");
    let vmx_arg = stand_ins.vmx_path("db").display().to_string();
    let from = virsh_ok(&uri, &["domxml-from-native", "vmware-vmx", &vmx_arg]);
    assert!(from.contains("<name>db</name>"), "{from}");
    virsh_ok(&uri, &["undefine", "db"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("db"));
}
