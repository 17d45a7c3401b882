//! The OpenVZ plugin driving stand-ins for `vzctl` and `vzlist` (OpenVZ needs its own kernel):
//! shell scripts this test writes, labelled as stand-ins, that keep each container as a file
//! and answer as the tools' manual pages say (`vzlist -H -o` columns, `vzctl` refusing to
//! destroy a running container or to create one from a template it does not have). Once
//! in-process, once through rvirtd with real virsh.

use virt_core::consts::domain_state as state;
use virt_core::ErrorNumber;

use crate::common::{open_in, virsh_ok, virsh_status, Rvirtd, StandInDir};

const STAND_IN_VZLIST: &str = r#"#!/bin/sh
# Stand-in for OpenVZ's vzlist, written by rvirt's tests (not OpenVZ software). Each container
# is a file ct/CTID holding "status ostemplate cpus physpages-limit" ("-" when unset).
dir=$(dirname "$0")
echo "$*" >> "$dir/vzlist.argv"
mkdir -p "$dir/ct"
for f in "$dir"/ct/*; do
    [ -f "$f" ] || continue
    set -- $(cat "$f")
    printf '%10s %s %s %s %s\n' "$(basename "$f")" "$1" "$2" "$3" "$4"
done
"#;

const STAND_IN_VZCTL: &str = r#"#!/bin/sh
# Stand-in for OpenVZ's vzctl, written by rvirt's tests (not OpenVZ software).
dir=$(dirname "$0")
echo "$*" >> "$dir/vzctl.argv"
[ "$1" = "--help" ] && { echo "vzctl version 4.9.4"; echo "Copyright (C) 2000-2015, Parallels, Inc."; exit 0; }
[ "$1" = "--quiet" ] && shift
cmd=$1; id=$2; shift 2
f="$dir/ct/$id"
mkdir -p "$dir/ct"
exists() { [ -f "$f" ] || { echo "Container(s) not found" >&2; exit 11; }; }
field() { cut -d' ' -f"$1" "$f"; }
put() { echo "$1 $2 $3 $4" > "$f"; }
case "$cmd" in
create)
    [ -f "$f" ] && { echo "Container private area /vz/private/$id already exists" >&2; exit 44; }
    template=-
    while [ $# -gt 0 ]; do [ "$1" = "--ostemplate" ] && template=$2; shift; done
    if [ "$template" != - ] && ! grep -qxF "$template" "$dir/templates"; then
        echo "Cached os template /vz/template/cache/$template.tar.gz not found" >&2; exit 17
    fi
    put stopped "$template" - - ;;
set)
    exists; cpus=$(field 3); pages=$(field 4)
    while [ $# -gt 0 ]; do
        case "$1" in --cpus) cpus=$2 ;; --physpages) pages=${2#*:} ;; esac
        shift
    done
    put "$(field 1)" "$(field 2)" "$cpus" "$pages" ;;
start)
    exists; [ "$(field 1)" = running ] && { echo "Container is already running" >&2; exit 32; }
    put running "$(field 2)" "$(field 3)" "$(field 4)" ;;
stop)
    exists; [ "$(field 1)" = stopped ] && { echo "Unable to stop: container is not running" >&2; exit 31; }
    put stopped "$(field 2)" "$(field 3)" "$(field 4)" ;;
restart|chkpnt)
    exists; [ "$(field 1)" = running ] || { echo "Container is not running" >&2; exit 31; } ;;
destroy)
    exists; [ "$(field 1)" = running ] && { echo "Container is currently running. Stop it first." >&2; exit 41; }
    rm -f "$f" ;;
*) echo "Invalid action: $cmd" >&2; exit 1 ;;
esac
exit 0
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
            "rvirt-openvz-",
            &[("vzlist", STAND_IN_VZLIST), ("vzctl", STAND_IN_VZCTL)],
        );
        std::fs::write(stand_ins.path("templates"), "centos-7-x86_64\n").expect("templates");
        std::fs::create_dir(stand_ins.path("ct")).expect("ct");
        // One running container from before: 101, 2 CPUs, 1 GiB.
        std::fs::write(
            stand_ins.path("ct/101"),
            "running centos-7-x86_64 2 262144\n",
        )
        .expect("ct 101");
        StandIns(stand_ins)
    }

    fn vzctl_argv(&self) -> Vec<String> {
        self.lines("vzctl.argv")
    }
}

const CONTAINER_102: &str = "<domain type='openvz'><name>102</name>\
    <memory unit='MiB'>512</memory><vcpu>1</vcpu>\
    <os><type>exe</type><init>/sbin/init</init></os><devices>\
    <filesystem type='template'><source name='centos-7-x86_64'/><target dir='/'/></filesystem>\
    </devices></domain>";

#[test]
fn openvz_containers_over_vzctl_stand_ins() {
    let stand_ins = StandIns::new();
    let state_root = tempfile::tempdir().expect("state");
    let host = stand_ins.host(state_root.path());
    let conn = open_in(&host, "openvz:///system").expect("open");

    let ct101 = conn.domain_lookup_by_name("101").expect("lookup");
    assert_eq!(ct101.id(), 101);
    let info = ct101.info().expect("info");
    assert_eq!(
        (info.state as i32, info.memory_kib, info.nr_virt_cpu),
        (state::RUNNING, 1_048_576, 2)
    );
    let xml = ct101.xml_desc(0).expect("dumpxml");
    assert!(
        xml.starts_with("<domain type='openvz' id='101'>")
            && xml.contains("<init>/sbin/init</init>")
            && xml.contains("<source name='centos-7-x86_64'/>"),
        "{xml}"
    );

    // Define: vzctl create from the template, then vzctl set for vCPUs and memory.
    let ct102 = conn.domain_define_xml(CONTAINER_102, 0).expect("define");
    let argv = stand_ins.vzctl_argv();
    assert!(
        argv.contains(&"--quiet create 102 --name 102 --ostemplate centos-7-x86_64".to_string())
    );
    assert!(argv.contains(&"--quiet set 102 --save --cpus 1 --physpages 0:131072".to_string()));
    assert_eq!(ct102.state(0).expect("state").state, state::SHUTOFF);
    ct102.create(0).expect("start");
    assert_eq!(ct102.id(), 102);
    ct102.suspend().expect("suspend");
    assert_eq!(ct102.state(0).expect("state").state, state::PAUSED);
    ct102.resume().expect("resume");
    assert_eq!(ct102.state(0).expect("state").state, state::RUNNING);
    ct102.reboot(0).expect("restart");
    let error = ct102.undefine(0).expect_err("running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");
    ct102.shutdown(0).expect("stop");
    assert_eq!(ct102.state(0).expect("state").state, state::SHUTOFF);
    let error = ct102.destroy(0).expect_err("not running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID, "{error}");
    ct102.undefine(0).expect("destroy the container");
    assert!(!stand_ins.path("ct/102").exists());

    // A template vzctl does not have: its message, nothing created.
    let unknown = CONTAINER_102
        .replace("102", "103")
        .replace("centos-7-x86_64", "no-such-template");
    let error = conn
        .domain_define_xml(&unknown, 0)
        .expect_err("no template");
    assert!(
        error
            .message()
            .contains("no-such-template.tar.gz not found"),
        "{error}"
    );
    assert!(!stand_ins.path("ct/103").exists());
    let named = CONTAINER_102.replace("<name>102</name>", "<name>web</name>");
    let error = conn.domain_define_xml(&named, 0).expect_err("not a VEID");
    assert!(error.message().contains("to VEID"), "{error}");

    let caps = conn.get_capabilities().expect("capabilities");
    assert!(caps.contains("<os_type>exe</os_type>") && caps.contains("<domain type='openvz'"));
}

#[test]
fn openvz_through_rvirtd_with_virsh() {
    let stand_ins = StandIns::new();
    let daemon = Rvirtd::start(&[("RVIRT_HELPER_DIR", stand_ins.dir.path().as_os_str())]);
    let uri = daemon.uri("openvz:///system");

    assert!(virsh_ok(&uri, &["capabilities"]).contains("<domain type='openvz'"));
    assert!(virsh_ok(&uri, &["nodeinfo"]).contains("CPU(s):"));
    let xml_path = stand_ins.path("ct.xml");
    std::fs::write(&xml_path, CONTAINER_102).expect("xml");
    virsh_ok(&uri, &["define", &xml_path.display().to_string()]);
    let listed = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        listed.contains("101") && listed.contains("102"),
        "{listed}\n{}",
        daemon.log()
    );
    virsh_ok(&uri, &["start", "102"]);
    assert!(virsh_ok(&uri, &["dominfo", "102"]).contains("running"));
    virsh_ok(&uri, &["suspend", "102"]);
    assert!(virsh_ok(&uri, &["domstate", "102"]).contains("paused"));
    virsh_ok(&uri, &["resume", "102"]);
    virsh_ok(&uri, &["destroy", "102"]);
    let (failed, error) = virsh_status(&uri, &["destroy", "102"]);
    assert!(
        !failed && error.contains("domain is not running"),
        "{error}"
    );
    virsh_ok(&uri, &["undefine", "102"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("102"));
}
