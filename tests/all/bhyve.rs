//! The bhyve plugin driving stand-ins for FreeBSD's `bhyve`, `bhyveload` and `bhyvectl`
//! (bhyve cannot run on Linux): shell scripts this test writes, labelled as stand-ins, that
//! record their arguments and behave as bhyve(8), bhyveload(8) and bhyvectl(8) document it
//! (bhyve exits 0 when its guest reboots, 1 when it powers off, and ends when its VM is
//! destroyed). Once through the in-process host, once through rvirtd with real virsh.

use std::time::{Duration, Instant};

use virt_core::consts::{domain_shutoff_reason as shutoff, domain_state as state};

use crate::common::{
    bridge_members, open_in, virsh_ok as ok, virsh_status as virsh, Bridge, Rvirtd, StandInDir,
};

const STAND_IN_BHYVE: &str = r#"#!/bin/sh
# Stand-in for FreeBSD's bhyve(8), written by rvirt's tests. It records its arguments,
# answers -h and device probes, and runs until SIGTERM (the guest powers off: exit 1), until
# bhyvectl --destroy kills it, or until the test asks the guest to reboot (exit 0) or to
# power off (exit 1) by touching reboot-NAME or poweroff-NAME beside it.
dir=$(dirname "$0")
case "$1" in
-h) printf 'Usage: bhyve [-aehuwxACDHPSWY]\n       -c: number of cpus and/or topology specification\n       -u: RTC keeps UTC time\n' >&2; exit 1 ;;
esac
# A probe (`-s 0,DEVICE`, `-l bootrom`) names no VM: bhyve knows the device and wants a name.
[ $# -le 2 ] && { echo 'bhyve: missing VM name' >&2; exit 1; }
for name; do :; done
echo "$*" >> "$dir/bhyve.argv"
echo $$ > "$dir/$name.pid"
trap 'rm -f "$dir/$name.pid"; exit 1' TERM
while :; do
    if [ -e "$dir/reboot-$name" ]; then rm -f "$dir/reboot-$name" "$dir/$name.pid"; exit 0; fi
    if [ -e "$dir/poweroff-$name" ]; then rm -f "$dir/poweroff-$name" "$dir/$name.pid"; exit 1; fi
    sleep 0.05
done
"#;

const STAND_IN_BHYVELOAD: &str = r#"#!/bin/sh
# Stand-in for FreeBSD's bhyveload(8), written by rvirt's tests: records its arguments and
# fails, as bhyveload does, when the disk it is to boot cannot be opened.
dir=$(dirname "$0")
echo "$*" >> "$dir/bhyveload.argv"
disk=""
while [ $# -gt 1 ]; do
    [ "$1" = "-d" ] && disk=$2
    shift
done
if [ -n "$disk" ] && [ ! -r "$disk" ]; then
    echo "bhyveload: open $disk: No such file or directory" >&2
    exit 1
fi
exit 0
"#;

const STAND_IN_BHYVECTL: &str = r#"#!/bin/sh
# Stand-in for FreeBSD's bhyvectl(8), written by rvirt's tests: `--destroy --vm=NAME` removes
# the VM, which ends its bhyve (the stand-in bhyve is killed).
dir=$(dirname "$0")
echo "$*" >> "$dir/bhyvectl.argv"
name=""
for arg; do
    case "$arg" in --vm=*) name=${arg#--vm=} ;; esac
done
if [ -f "$dir/$name.pid" ]; then
    kill -KILL "$(cat "$dir/$name.pid")" 2>/dev/null
    rm -f "$dir/$name.pid"
    exit 0
fi
echo "bhyvectl: vm_open: $name could not be opened: No such file or directory" >&2
exit 1
"#;

/// The stand-ins and a disk image, in a directory of their own.
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
            "rvirt-bhyve-",
            &[
                ("bhyve", STAND_IN_BHYVE),
                ("bhyveload", STAND_IN_BHYVELOAD),
                ("bhyvectl", STAND_IN_BHYVECTL),
            ],
        );
        std::fs::write(stand_ins.path("disk.img"), vec![0u8; 4096]).expect("disk");
        StandIns(stand_ins)
    }

    fn disk(&self) -> String {
        self.path("disk.img").display().to_string()
    }

    /// The argument lines a stand-in recorded.
    fn argv(&self, program: &str) -> Vec<String> {
        self.lines(&format!("{program}.argv"))
    }

    fn pid(&self, name: &str) -> Option<i32> {
        std::fs::read_to_string(self.path(&format!("{name}.pid")))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn touch(&self, name: &str) {
        std::fs::write(self.path(name), "").expect("trigger");
    }

    fn domain_xml(&self, name: &str, disk: &str) -> String {
        self.domain_xml_with(name, disk, "")
    }

    fn domain_xml_with(&self, name: &str, disk: &str, devices: &str) -> String {
        format!(
            "<domain type='bhyve'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='file' type='raw'/>
      <source file='{disk}'/>
      <target dev='hda' bus='sata'/>
    </disk>{devices}
  </devices>
</domain>"
        )
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

#[test]
fn bhyve_lifecycle_over_stand_ins_in_process() {
    let stand_ins = StandIns::new();
    let state_root = tempfile::tempdir().expect("state");
    let host = stand_ins.host(state_root.path());
    let conn = open_in(&host, "bhyve:///system").expect("open bhyve:///system");

    let caps = conn.get_capabilities().expect("capabilities");
    assert!(caps.contains("<domain type='bhyve'"), "{caps}");
    assert!(conn.node_info().expect("nodeinfo").cpus >= 1);

    // A definition of another hypervisor, then one whose disk does not exist: refused or
    // failing to start, nothing left running.
    let error = conn
        .domain_define_xml(
            &stand_ins
                .domain_xml("g", &stand_ins.disk())
                .replace("'bhyve'", "'kvm'"),
            0,
        )
        .expect_err("a kvm domain");
    assert_eq!(error.code(), virt_core::ErrorNumber::NO_SUPPORT, "{error}");
    let missing = conn
        .domain_define_xml(&stand_ins.domain_xml("lost", "/nonexistent/disk.img"), 0)
        .expect("define");
    let error = missing.create(0).expect_err("no disk to load");
    assert!(
        error.message().contains("Failed to load domain 'lost'")
            && error.message().contains("/nonexistent/disk.img"),
        "{error}"
    );
    assert_eq!(missing.state(0).expect("state").state, state::SHUTOFF);
    assert!(stand_ins.argv("bhyve").is_empty(), "bhyve never ran");
    missing.undefine(0).expect("undefine");

    let bridge = Bridge::new();
    let nic = format!(
        "<interface type='bridge'><mac address='52:54:00:12:34:56'/>\
         <source bridge='{}'/><model type='virtio'/></interface>",
        bridge.name
    );
    let domain = conn
        .domain_define_xml(&stand_ins.domain_xml_with("g", &stand_ins.disk(), &nic), 0)
        .expect("define");
    let xml = domain.xml_desc(0).expect("xml");
    assert!(
        xml.contains("<type arch='x86_64'>hvm</type>")
            && xml.contains("<controller type='sata' index='0'>")
            && xml.contains("slot='0x02'"),
        "{xml}"
    );

    domain.create(0).expect("start");
    wait_until("bhyve to run", || stand_ins.pid("g").is_some());
    let disk = stand_ins.disk();
    let taps = bridge_members(&bridge.name);
    assert_eq!(taps.len(), 1, "the guest's tap is on its bridge: {taps:?}");
    assert_eq!(
        stand_ins.argv("bhyveload"),
        [
            "-m 256 -d /nonexistent/disk.img lost".to_string(),
            format!("-m 256 -d {disk} g")
        ]
    );
    assert_eq!(
        stand_ins.argv("bhyve"),
        [format!(
            "-c 1 -m 256 -u -H -P -s 0:0,hostbridge -s 2:0,ahci,hd:{disk} \
             -s 3:0,virtio-net,{},mac=52:54:00:12:34:56 g",
            taps[0]
        )]
    );
    // A new definition while it runs is for its next start; one without the domain's UUID
    // is another domain of the same name, which libvirt refuses.
    let inactive = virt_core::consts::domain_xml_flags::INACTIVE;
    let config = domain.xml_desc(inactive).expect("inactive xml");
    conn.domain_define_xml(&config.replace(">1</vcpu>", ">2</vcpu>"), 0)
        .expect("redefine while running");
    let error = conn
        .domain_define_xml(&stand_ins.domain_xml("g", &stand_ins.disk()), 0)
        .expect_err("same name, another uuid");
    assert!(
        error
            .message()
            .contains("domain 'g' already exists with uuid"),
        "{error}"
    );
    assert!(domain.xml_desc(0).expect("live").contains(">1</vcpu>"));
    assert!(domain
        .xml_desc(inactive)
        .expect("inactive")
        .contains(">2</vcpu>"));
    let pid = stand_ins.pid("g").expect("bhyve's pid");
    let running = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(running.id(), pid, "the id is bhyve's pid");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // The guest reboots: bhyve exits 0 and the driver loads and starts it again.
    stand_ins.touch("reboot-g");
    wait_until("the restart", || stand_ins.argv("bhyve").len() == 2);
    wait_until("a new bhyve", || {
        stand_ins.pid("g").is_some_and(|p| p != pid)
    });
    assert_eq!(stand_ins.argv("bhyveload").len(), 3, "loaded again");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // The guest powers itself off: bhyve exits 1.
    stand_ins.touch("poweroff-g");
    wait_until("shut off", || {
        domain.state(0).is_ok_and(|s| s.state == state::SHUTOFF)
    });
    assert_eq!(domain.state(0).expect("state").reason, shutoff::SHUTDOWN);

    // Shutdown: SIGTERM, bhyve powers off (exit 1).
    domain.create(0).expect("start for the shutdown");
    wait_until("bhyve to run", || stand_ins.pid("g").is_some());
    domain.shutdown(0).expect("shutdown");
    wait_until("shut off", || {
        domain.state(0).is_ok_and(|s| s.state == state::SHUTOFF)
    });
    assert_eq!(domain.state(0).expect("state").reason, shutoff::SHUTDOWN);

    // A new host (a daemon restart) finds the running guest again.
    domain.create(0).expect("start again");
    wait_until("bhyve to run", || stand_ins.pid("g").is_some());
    let pid = stand_ins.pid("g").expect("bhyve's pid");
    drop(domain);
    drop(conn);
    drop(host);
    let host = stand_ins.host(state_root.path());
    let conn = open_in(&host, "bhyve:///system").expect("open again");
    let domain = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(domain.id(), pid, "the same bhyve, adopted");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // Destroy: bhyvectl --destroy ends bhyve.
    domain.destroy(0).expect("destroy");
    let state_now = domain.state(0).expect("state");
    assert_eq!(
        (state_now.state, state_now.reason),
        (state::SHUTOFF, shutoff::DESTROYED)
    );
    assert!(stand_ins
        .argv("bhyvectl")
        .contains(&"--destroy --vm=g".to_string()));
    assert!(!pid_alive(pid), "bhyve {pid} is gone");
    assert!(
        bridge_members(&bridge.name).is_empty(),
        "every tap the guest had is gone"
    );

    // Autostart: the next daemon start starts it.
    domain.set_autostart(true).expect("autostart");
    drop(domain);
    drop(conn);
    drop(host);
    let host = stand_ins.host(state_root.path());
    let conn = open_in(&host, "bhyve:///system").expect("open once more");
    let domain = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);
    assert!(domain.autostart().expect("autostart flag"));
    wait_until("the autostarted bhyve", || stand_ins.pid("g").is_some());
    domain.destroy(0).expect("destroy the autostarted guest");

    domain.undefine(0).expect("undefine");
    assert!(conn.list_all_domains(0).expect("list").is_empty());
}

#[test]
fn bhyve_through_rvirtd_with_virsh() {
    let stand_ins = StandIns::new();
    let daemon = Rvirtd::start(&[("RVIRT_HELPER_DIR", stand_ins.dir.path().as_os_str())]);
    let uri = daemon.uri("bhyve:///system");

    assert!(ok(&uri, &["capabilities"]).contains("<domain type='bhyve'"));
    assert!(ok(&uri, &["nodeinfo"]).contains("CPU(s):"));
    let xml_path = stand_ins.path("g.xml");
    std::fs::write(&xml_path, stand_ins.domain_xml("vg", &stand_ins.disk())).expect("xml");
    let xml_arg = xml_path.display().to_string();

    let native = ok(&uri, &["domxml-to-native", "bhyve-argv", &xml_arg]);
    let disk = stand_ins.disk();
    assert!(
        native.contains(&format!("/usr/sbin/bhyveload -m 256 -d {disk} vg"))
            && native.contains(&format!(
                "/usr/sbin/bhyve -c 1 -m 256 -u -H -P -s 0:0,hostbridge -s 2:0,ahci,hd:{disk} vg"
            )),
        "{native}"
    );
    let argv_path = stand_ins.path("native.args");
    std::fs::write(
        &argv_path,
        "/usr/sbin/bhyve -c 2 -m 512 -u -H -P -s 0:0,hostbridge -s 3:0,virtio-blk,/tmp/x.img native\n",
    )
    .expect("args");
    let back = ok(
        &uri,
        &[
            "domxml-from-native",
            "bhyve-argv",
            &argv_path.display().to_string(),
        ],
    );
    assert!(
        back.contains("<name>native</name>")
            && back.contains("<vcpu placement='static'>2</vcpu>")
            && back.contains("<source file='/tmp/x.img'/>"),
        "{back}"
    );

    ok(&uri, &["define", &xml_arg]);
    ok(&uri, &["start", "vg"]);
    let listed = ok(&uri, &["list"]);
    assert!(
        listed.contains("vg") && listed.contains("running"),
        "{listed}"
    );
    let info = ok(&uri, &["dominfo", "vg"]);
    assert!(
        info.contains("running") && info.contains("262144 KiB"),
        "{info}"
    );
    ok(&uri, &["destroy", "vg"]);
    let (_, state_text) = virsh(&uri, &["domstate", "vg", "--reason"]);
    assert!(state_text.contains("shut off (destroyed)"), "{state_text}");
    let (failed, error) = virsh(&uri, &["destroy", "vg"]);
    assert!(
        !failed && error.contains("Domain is not running"),
        "{error}"
    );
    ok(&uri, &["undefine", "vg"]);
    assert!(!ok(&uri, &["list", "--all"]).contains("vg"));
}
