//! The Virtuozzo plugin (`vz:///system`) driving a stand-in for Virtuozzo's `prlctl`
//! (Virtuozzo cannot run here): a Python script this test writes, labelled as a stand-in,
//! that keeps its containers and VMs in a JSON file beside it, logs its argv, and answers as
//! prlctl's documentation says (`list -a -i -j` JSON, `start` of a running environment
//! refused with a message and a non-zero exit, unknown OS templates refused, ...). Once
//! in-process, once through rvirtd with real virsh.

use std::path::PathBuf;

use virt_core::consts::{connect_list_all_domains_flags as list, domain_state as state};
use virt_core::ErrorNumber;

use crate::common::{open_in, virsh_ok, virsh_status, Rvirtd, StandInDir};

const STAND_IN_PRLCTL: &str = r#"#!/usr/bin/python3
# Stand-in for Virtuozzo's prlctl, written by rvirt's tests: NOT Virtuozzo software. It keeps
# its environments in prlctl.json beside this script, appends each argv to prlctl.argv, and
# answers the subset of prlctl the rvirt vz plugin uses, as prlctl's documentation describes.
import json, os, sys, uuid

here = os.path.dirname(os.path.abspath(__file__))
state_path = os.path.join(here, "prlctl.json")
args = sys.argv[1:]
with open(os.path.join(here, "prlctl.argv"), "a") as log:
    log.write(" ".join(args) + "\n")
with open(state_path) as f:
    envs = json.load(f)
TEMPLATES = ["centos-7-x86_64", "ubuntu-20.04-x86_64"]

def save():
    with open(state_path, "w") as f:
        json.dump(envs, f)

def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)

def find(key):
    for env in envs:
        if key in (env["Name"], env["ID"], env["ID"].strip("{}")):
            return env
    fail("Failed to get VM config: The virtual machine could not be found.")

def kind(env):
    return "CT" if env["Type"] == "CT" else "VM"

def short(env):
    return {"uuid": env["ID"], "status": env["State"], "ip_configured": "-", "name": env["Name"]}

def option(name, default=None):
    return args[args.index(name) + 1] if name in args else default

if not args:
    fail("Usage: prlctl COMMAND [OPTIONS]")
cmd = args[0]
if cmd == "--version":
    print("prlctl version 7.0.200")
elif cmd == "list":
    chosen = envs if "-a" in args else [e for e in envs if e["State"] != "stopped"]
    names = [a for a in args[1:] if not a.startswith("-")]
    if names:
        chosen = [find(names[0])]
    if "-j" not in args:
        fail("the stand-in answers JSON (-j) only")
    print(json.dumps(chosen if "-i" in args else [short(e) for e in chosen], indent=2))
elif cmd == "create":
    name = args[1]
    vmtype = option("--vmtype", "vm")
    if any(e["Name"] == name for e in envs):
        fail("Failed to create the %s: The virtual environment with the name %s already exists."
             % (vmtype.upper(), name))
    template = option("--ostemplate")
    if vmtype == "ct" and template is not None and template not in TEMPLATES:
        fail("Failed to create the Container: The OS template %s is not found." % template)
    numbers = [int(e["EnvID"]) for e in envs if e["Type"] == "CT"]
    envs.append({
        "ID": "{%s}" % uuid.uuid4(),
        "EnvID": str(max(numbers + [100]) + 1) if vmtype == "ct" else str(2000000000 + len(envs)),
        "Name": name, "Description": "", "Type": "CT" if vmtype == "ct" else "VM",
        "State": "stopped", "OS": (template or "centos-7-x86_64").split("-")[0] if vmtype == "ct"
        else option("--distribution", "other"),
        "Hardware": {"cpu": {"cpus": 1}, "memory": {"size": "512Mb"}},
    })
    save()
    print("Creating the %s..." % ("Container" if vmtype == "ct" else "virtual machine"))
    print("The %s has been successfully created." % ("Container" if vmtype == "ct" else "VM"))
elif cmd == "set":
    env = find(args[1])
    if "--cpus" in args:
        env["Hardware"]["cpu"]["cpus"] = int(option("--cpus"))
    if "--memsize" in args:
        env["Hardware"]["memory"]["size"] = option("--memsize") + "Mb"
    if "--description" in args:
        env["Description"] = option("--description")
    save()
    print("The %s has been successfully configured." % kind(env))
elif cmd == "delete":
    env = find(args[1])
    if env["State"] in ("running", "paused"):
        fail("Failed to delete the %s: The virtual environment is running; stop it first." % kind(env))
    envs.remove(env)
    save()
    print("The %s has been successfully removed." % kind(env))
elif cmd in ("start", "stop", "restart", "pause", "resume", "suspend"):
    env = find(args[1])
    want = {"start": ("stopped", "suspended"), "stop": ("running", "paused"),
            "restart": ("running",), "pause": ("running",), "resume": ("paused", "suspended"),
            "suspend": ("running", "paused")}[cmd]
    if env["State"] not in want:
        fail("Failed to %s the %s: The virtual environment is %s." % (cmd, kind(env), env["State"]))
    env["State"] = {"start": "running", "stop": "stopped", "restart": "running",
                    "pause": "paused", "resume": "running", "suspend": "suspended"}[cmd]
    save()
    print("The %s has been successfully %s." % (kind(env), {"stop": "stopped", "start": "started",
          "restart": "restarted", "pause": "paused", "resume": "resumed",
          "suspend": "suspended"}[cmd]))
else:
    fail("Unknown command: %s" % cmd)
"#;

const CT101_UUID: &str = "8d3c5c6e-3f4b-4c0a-9d1e-2b7a1e0c0101";

fn initial_state() -> String {
    format!(
        r#"[
  {{"ID": "{{{CT101_UUID}}}", "EnvID": "101", "Name": "ct101", "Description": "web server",
    "Type": "CT", "State": "running", "OS": "centos7",
    "Hardware": {{"cpu": {{"cpus": 2}}, "memory": {{"size": "1024Mb"}}}}}},
  {{"ID": "{{1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b}}", "EnvID": "2045112043", "Name": "win10",
    "Description": "", "Type": "VM", "State": "stopped", "OS": "win-10",
    "Hardware": {{"cpu": {{"cpus": 4}}, "memory": {{"size": "4096Mb"}}}}}}
]"#
    )
}

struct StandIn {
    dir: StandInDir,
}

impl StandIn {
    fn new() -> StandIn {
        let dir = StandInDir::new("rvirt-vz-", &[("prlctl", STAND_IN_PRLCTL)]);
        std::fs::write(dir.path("prlctl.json"), initial_state()).expect("state");
        StandIn { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    fn host(&self, state_root: &std::path::Path) -> virt_host::Host {
        self.dir.host(state_root)
    }

    /// prlctl's argv lines since the last call (reads and clears the log).
    fn take_argv(&self) -> Vec<String> {
        let lines = self.dir.lines("prlctl.argv");
        let _ = std::fs::remove_file(self.path("prlctl.argv"));
        lines
    }

    /// The argv lines other than the listing and version queries.
    fn take_actions(&self) -> Vec<String> {
        self.take_argv()
            .into_iter()
            .filter(|l| !l.starts_with("list ") && l != "--version")
            .collect()
    }

    fn names(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.path("prlctl.json")).expect("state");
        let envs: serde_json::Value = serde_json::from_str(&text).expect("json");
        envs.as_array()
            .expect("array")
            .iter()
            .map(|e| e["Name"].as_str().expect("name").to_string())
            .collect()
    }
}

const CT_XML: &str = "<domain type='vz'><name>ct202</name><memory unit='MiB'>512</memory>\
    <vcpu>2</vcpu><description>db</description>\
    <os><type>exe</type><init>/sbin/init</init></os><devices>\
    <filesystem type='template'><source name='centos-7-x86_64'/><target dir='/'/></filesystem>\
    </devices></domain>";

const VM_XML: &str = "<domain type='vz'><name>vm3</name><memory unit='GiB'>2</memory>\
    <vcpu>3</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

fn names(domains: &[virt_core::blocking::Domain]) -> Vec<String> {
    let mut names: Vec<String> = domains.iter().map(|d| d.name().to_string()).collect();
    names.sort();
    names
}

#[test]
fn vz_over_a_prlctl_stand_in() {
    let stand_in = StandIn::new();
    let state_root = tempfile::tempdir().expect("state");
    let host = stand_in.host(state_root.path());
    let conn = open_in(&host, "vz:///system").expect("open");
    assert!(stand_in.take_argv().contains(&"--version".to_string()));
    let error = open_in(&host, "vz:///session").expect_err("only /system");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(
        error
            .message()
            .contains("Unexpected Virtuozzo URI path '/session', try vz:///system"),
        "{error}"
    );

    // Listing and lookups: everything is prlctl's answer.
    assert_eq!(
        names(&conn.list_all_domains(0).expect("list")),
        ["ct101", "win10"]
    );
    assert_eq!(
        names(&conn.list_all_domains(list::ACTIVE).expect("active")),
        ["ct101"]
    );
    assert_eq!(
        names(&conn.list_all_domains(list::INACTIVE).expect("inactive")),
        ["win10"]
    );
    assert!(conn
        .list_all_domains(list::TRANSIENT)
        .expect("transient")
        .is_empty());
    let ct = conn.domain_lookup_by_name("ct101").expect("ct101");
    assert_eq!(ct.id(), 101);
    assert_eq!(
        conn.domain_lookup_by_id(101).expect("by id").name(),
        "ct101"
    );
    let uuid = virt_core::parse_uuid(CT101_UUID).expect("uuid");
    assert_eq!(
        conn.domain_lookup_by_uuid(&uuid).expect("by uuid").name(),
        "ct101"
    );
    let error = conn.domain_lookup_by_name("nope").expect_err("unknown");
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN);
    assert!(
        error
            .message()
            .contains("no domain with matching name 'nope'"),
        "{error}"
    );
    let info = ct.info().expect("dominfo");
    assert_eq!(
        (info.state, info.max_mem_kib, info.nr_virt_cpu),
        (state::RUNNING as u8, 1_048_576, 2)
    );
    assert_eq!(ct.os_type().expect("os type"), "exe");
    let xml = ct.xml_desc(0).expect("dumpxml");
    assert!(
        xml.starts_with("<domain type='vz' id='101'>")
            && xml.contains(&format!("<uuid>{CT101_UUID}</uuid>"))
            && xml.contains("<description>web server</description>")
            && xml.contains("<type arch='x86_64'>exe</type>")
            && xml.contains("<init>/sbin/init</init>"),
        "{xml}"
    );
    let win = conn.domain_lookup_by_name("win10").expect("win10");
    assert_eq!(win.id(), -1);
    let xml = win.xml_desc(0).expect("dumpxml");
    assert!(
        xml.starts_with("<domain type='vz'>")
            && xml.contains("<memory unit='KiB'>4194304</memory>")
            && xml.contains("<type arch='x86_64'>hvm</type>"),
        "{xml}"
    );

    // Lifecycle, with prlctl's exact argv.
    stand_in.take_argv();
    win.create(0).expect("start");
    assert_eq!(stand_in.take_actions(), ["start win10"]);
    assert_eq!(win.id(), 2045112043);
    assert_eq!(win.state(0).expect("state").state, state::RUNNING);
    let error = win.create(0).expect_err("already running");
    assert!(
        error
            .message()
            .contains("Failed to start the VM: The virtual environment is running."),
        "{error}"
    );
    win.suspend().expect("pause");
    assert_eq!(win.state(0).expect("state").state, state::PAUSED);
    win.resume().expect("resume");
    win.reboot(0).expect("restart");
    win.shutdown(0).expect("stop");
    assert_eq!(win.state(0).expect("state").state, state::SHUTOFF);
    ct.destroy(0).expect("kill");
    assert_eq!(
        stand_in.take_actions(),
        [
            "start win10",
            "pause win10",
            "resume win10",
            "restart win10",
            "stop win10",
            "stop ct101 --kill"
        ]
    );
    assert!(!ct.is_active().expect("active"));
    let error = ct.destroy(0).expect_err("not running");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error}");
    assert!(
        error
            .message()
            .contains("Failed to stop the CT: The virtual environment is stopped."),
        "{error}"
    );
    assert_eq!(stand_in.take_actions(), ["stop ct101 --kill"]);

    // Definitions: a container from its template, a VM.
    let ct202 = conn.domain_define_xml(CT_XML, 0).expect("define ct");
    assert_eq!(
        stand_in.take_actions(),
        [
            "create ct202 --vmtype ct --ostemplate centos-7-x86_64",
            "set ct202 --cpus 2 --memsize 512 --description db"
        ]
    );
    let xml = ct202.xml_desc(0).expect("dumpxml");
    assert!(
        xml.contains("<type arch='x86_64'>exe</type>")
            && xml.contains("<memory unit='KiB'>524288</memory>")
            && xml.contains("<vcpu placement='static'>2</vcpu>"),
        "{xml}"
    );
    let vm3 = conn.domain_define_xml(VM_XML, 0).expect("define vm");
    assert_eq!(
        stand_in.take_actions(),
        ["create vm3 --vmtype vm", "set vm3 --cpus 3 --memsize 2048"]
    );
    assert_eq!(vm3.os_type().expect("os type"), "hvm");
    // Redefining sets again.
    conn.domain_define_xml(&VM_XML.replace("<vcpu>3", "<vcpu>1"), 0)
        .expect("redefine");
    assert_eq!(stand_in.take_actions(), ["set vm3 --cpus 1 --memsize 2048"]);

    // Bad input: prlctl's refusal passed on, nothing created; a non-vz type refused first.
    let error = conn
        .domain_define_xml(
            &CT_XML
                .replace("ct202", "ct203")
                .replace("centos-7-x86_64", "plan9"),
            0,
        )
        .expect_err("unknown template");
    assert!(
        error
            .message()
            .contains("Failed to create the Container: The OS template plan9 is not found."),
        "{error}"
    );
    assert_eq!(
        stand_in.take_actions(),
        ["create ct203 --vmtype ct --ostemplate plan9"]
    );
    assert!(!stand_in.names().contains(&"ct203".to_string()));
    let error = conn
        .domain_define_xml(&VM_XML.replace("type='vz'", "type='kvm'"), 0)
        .expect_err("kvm");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    assert!(
        error
            .message()
            .contains("could not find capabilities for ostype=hvm arch=x86_64 domaintype=kvm"),
        "{error}"
    );
    assert!(stand_in.take_actions().is_empty());

    // Managed save is `prlctl suspend`; undefine wants the flag then.
    vm3.create(0).expect("start vm3");
    let error = vm3.undefine(0).expect_err("running");
    assert!(error.message().contains("is running"), "{error}");
    vm3.managed_save(0).expect("suspend");
    assert!(vm3.has_managed_save().expect("saved"));
    assert_eq!(vm3.state(0).expect("state").state, state::SHUTOFF);
    let error = vm3.undefine(0).expect_err("saved");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    vm3.undefine(virt_core::consts::domain_undefine_flags_values::MANAGED_SAVE)
        .expect("undefine saved");
    ct202.undefine(0).expect("undefine ct");
    assert_eq!(
        stand_in.take_actions(),
        [
            "start vm3",
            "delete vm3",
            "suspend vm3",
            "delete vm3",
            "delete ct202"
        ]
    );
    assert_eq!(stand_in.names(), ["ct101", "win10"]);
}

#[test]
fn vz_through_rvirtd_with_virsh() {
    let stand_in = StandIn::new();
    let daemon = Rvirtd::start(&[("RVIRT_HELPER_DIR", stand_in.dir.dir.path().as_os_str())]);
    let uri = daemon.uri("vz:///system");

    let caps = virsh_ok(&uri, &["capabilities"]);
    assert!(
        caps.contains("<os_type>exe</os_type>")
            && caps.contains("<domain type='vz'")
            && caps.contains("vzmigr"),
        "{caps}\n{}",
        daemon.log()
    );
    assert!(virsh_ok(&uri, &["nodeinfo"]).contains("CPU(s)"));
    let all = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        all.contains("101") && all.contains("ct101") && all.contains("win10"),
        "{all}"
    );
    virsh_ok(&uri, &["start", "win10"]);
    let info = virsh_ok(&uri, &["dominfo", "win10"]);
    assert!(
        info.contains("running") && info.contains("4194304 KiB"),
        "{info}"
    );
    virsh_ok(&uri, &["suspend", "win10"]);
    assert!(virsh_ok(&uri, &["domstate", "win10"]).contains("paused"));
    virsh_ok(&uri, &["resume", "win10"]);
    virsh_ok(&uri, &["destroy", "win10"]);
    let (ok, error) = virsh_status(&uri, &["destroy", "win10"]);
    assert!(
        !ok && error.contains("The virtual environment is stopped"),
        "{error}"
    );
    let xml_path = stand_in.path("ct202.xml");
    std::fs::write(&xml_path, CT_XML).expect("xml");
    virsh_ok(&uri, &["define", &xml_path.display().to_string()]);
    assert!(virsh_ok(&uri, &["dumpxml", "ct202"]).contains("<init>/sbin/init</init>"));
    virsh_ok(&uri, &["undefine", "ct202"]);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("ct202"));
    assert!(stand_in
        .take_argv()
        .contains(&"create ct202 --vmtype ct --ostemplate centos-7-x86_64".to_string()));
}
