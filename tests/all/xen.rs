//! The Xen plugin driving a stand-in for Xen's `xl` toolstack (Xen cannot run here): a
//! Python script this test writes, labelled as a stand-in, that keeps its "domains" in a
//! JSON file and answers `info`, `list`, `list -l`, `create`, `shutdown`, `destroy`,
//! `reboot`, `pause`, `unpause`, `mem-set`, `mem-max`, `vcpu-set`, `save`, `restore` and the
//! hotplug commands in the formats xl 4.17 prints. Once through the in-process host, once
//! through rvirtd with real virsh. The real-Xen test lives with the harness in
//! `tests/peers/xen`.

use virt_core::consts::{
    domain_crashed_reason as crashed, domain_paused_reason as paused,
    domain_shutoff_reason as shutoff, domain_state as state,
};
use virt_core::ErrorNumber;

use crate::common::{open_in, virsh_ok as ok, virsh_status as virsh, StandInDir};

const STAND_IN_XL: &str = r#"#!/usr/bin/python3
# Stand-in for Xen's xl(1) toolstack, written by rvirt's tests: it keeps its "domains" in
# domains.json beside it and answers the subcommands the Xen driver runs, in the formats
# xl 4.17 prints (`xl info`'s name : value lines, `xl list`'s columns, `xl list -l`'s JSON).
# It records each command line in xl.argv. A config whose name starts with "fail" is refused
# as xl refuses a domain it cannot build (and leaves nothing); touching crash-NAME marks NAME
# crashed (on_crash = "preserve"), poweroff-NAME makes it vanish as a guest that powered
# itself off; a file xen_caps replaces the guest types; a file "broken" makes every command
# fail as xl does on a host without a hypervisor.
import json, os, re, sys

here = os.path.dirname(os.path.abspath(__file__))
state_path = os.path.join(here, "domains.json")
args = sys.argv[1:]
with open(os.path.join(here, "xl.argv"), "a") as log:
    log.write(" ".join(args) + "\n")
# xl's global -v options: libxl then logs at that level on stderr.
verbose = 0
while args and re.fullmatch(r"-v+", args[0]):
    verbose += len(args[0]) - 1
    args = args[1:]

def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)

if os.path.exists(os.path.join(here, "broken")):
    fail("xencall: error: Could not obtain handle on privileged command interface: No such file or directory\n"
         "libxl: error: libxl.c:102:libxl_ctx_alloc: cannot open libxc handle: No such file or directory\n"
         "cannot init xl context")

def load():
    try:
        with open(state_path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"next_id": 1, "domains": {}, "saved": {}}

def save(state):
    with open(state_path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)

state = load()
for name in list(state["domains"]):
    if os.path.exists(os.path.join(here, "poweroff-" + name)):
        os.remove(os.path.join(here, "poweroff-" + name))
        del state["domains"][name]
        save(state)
    elif os.path.exists(os.path.join(here, "crash-" + name)):
        os.remove(os.path.join(here, "crash-" + name))
        state["domains"][name]["flags"] = "---sc-"
        save(state)

def domain(name):
    if name not in state["domains"]:
        fail("Domain '%s' does not exist." % name)
    return state["domains"][name]

def memory_kib(text):
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", text)
    if not m:
        fail("invalid memory size: %s" % text)
    n, unit = int(m.group(1)), m.group(2).lower()
    return n * {"k": 1, "m": 1024, "g": 1024 * 1024, "": 1024}[unit]

caps_file = os.path.join(here, "xen_caps")
xen_caps = (open(caps_file).read().strip() if os.path.exists(caps_file)
            else "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64")
cmd = args[0] if args else ""
rest = args[1:]
if cmd == "info":
    print("""host                   : standin
release                : 6.1.0-26-amd64
version                : #1 SMP PREEMPT_DYNAMIC Debian 6.1.112-1 (2024-09-30)
machine                : x86_64
nr_cpus                : 4
max_cpu_id             : 3
nr_nodes               : 1
cores_per_socket       : 2
threads_per_core       : 2
cpu_mhz                : 2394.454
hw_caps                : 178bfbff:f6f83203:2e500800:000003f7:0000000f:219c07a9:00400004:00000100
virt_caps              : pv hvm hvm_directio pv_directio hap shadow
total_memory           : 4095
free_memory            : 2771
free_cpus              : 0
xen_major              : 4
xen_minor              : 17
xen_extra              : .3-pre
xen_version            : 4.17.3-pre
xen_caps               : %s
xen_scheduler          : credit2
xen_pagesize           : 4096
xend_config_format     : 4""" % xen_caps)
elif cmd == "list" and rest == ["-l"]:
    entries = [{"domid": 0, "config": {"c_info": {"type": "pv", "name": "Domain-0"},
                                       "b_info": {"max_memkb": 1048576}}}]
    for name, d in state["domains"].items():
        entries.append({"domid": d["id"], "config": {
            "c_info": {"type": d["type"], "name": name, "uuid": d["uuid"]},
            "b_info": {"max_vcpus": d["maxvcpus"], "max_memkb": d["maxmem"],
                       "target_memkb": d["mem"]}}})
    print(json.dumps(entries, indent=4))
elif cmd == "list" and not rest:
    print("Name                                        ID   Mem VCPUs\tState\tTime(s)")
    print("%-40s %5d %5d %5d     %s  %8.1f" % ("Domain-0", 0, 1024, 4, "r-----", 12.3))
    for name, d in sorted(state["domains"].items(), key=lambda item: item[1]["id"]):
        print("%-40s %5d %5d %5d     %s  %8.1f" % (name, d["id"], d["mem"] // 1024,
                                                   d["vcpus"], d["flags"], 1.5))
elif cmd == "create":
    paused = "-p" in rest
    path = [a for a in rest if not a.startswith("-")][0]
    text = open(path).read()
    with open(os.path.join(here, "last.cfg"), "w") as f:
        f.write(text)
    def setting(key, default=None):
        m = re.search(r'^%s\s*=\s*"?([^"\n]*)"?\s*$' % key, text, re.M)
        return m.group(1) if m else default
    name = setting("name")
    sys.stderr.write("Parsing config from %s\n" % path)
    if name.startswith("fail"):
        fail("libxl: error: libxl_dm.c:3141:device_model_spawn_outcome: Domain %d:domain %d device model: spawn failed (rc=-3)\n"
             "libxl: error: libxl_create.c:1934:domcreate_devmodel_started: Domain %d:device model did not start: -3"
             % (state["next_id"], state["next_id"], state["next_id"]))
    if name in state["domains"]:
        fail("libxl: error: libxl_create.c:694:libxl__domain_make: Domain %s already exists" % name)
    if verbose >= 3:
        # What libxl 4.17 logs at debug level as it makes the domain.
        sys.stderr.write("libxl: debug: libxl_create.c:2081:do_domain_create: ao 0x55e0: create: how=(nil) callback=(nil) poller=0x55e1\n"
                         "libxl: detail: libxl_create.c:662:libxl__domain_make: passthrough: disabled\n"
                         "libxl: debug: libxl_create.c:1342:initiate_domain_create: Domain %d:running bootloader\n"
                         % state["next_id"])
    vcpus = int(setting("vcpus", "1"))
    state["domains"][name] = {
        "id": state["next_id"], "uuid": setting("uuid"), "type": setting("type", "pv"),
        "mem": int(setting("memory")) * 1024,
        "maxmem": int(setting("maxmem", setting("memory"))) * 1024,
        "vcpus": vcpus, "maxvcpus": int(setting("maxvcpus", str(vcpus))),
        "flags": "--p---" if paused else "-b----",
    }
    state["next_id"] += 1
    save(state)
elif cmd == "domid":
    print(domain(rest[0])["id"])
elif cmd in ("shutdown", "destroy"):
    domain(rest[-1])
    del state["domains"][rest[-1]]
    save(state)
elif cmd == "reboot":
    d = domain(rest[0])
    d["id"] = state["next_id"]
    state["next_id"] += 1
    save(state)
elif cmd == "pause":
    domain(rest[0])["flags"] = "--p---"
    save(state)
elif cmd == "unpause":
    domain(rest[0])["flags"] = "-b----"
    save(state)
elif cmd == "mem-set":
    d = domain(rest[0])
    kib = memory_kib(rest[1])
    if kib > d["maxmem"]:
        fail("memory_dynamic_max must be less than or equal to memory_static_max")
    d["mem"] = kib
    save(state)
elif cmd == "mem-max":
    domain(rest[0])["maxmem"] = memory_kib(rest[1])
    save(state)
elif cmd == "vcpu-set":
    d = domain(rest[0])
    n = int(rest[1])
    if n > d["maxvcpus"]:
        fail("You slipped: requested vcpus %d > max %d" % (n, d["maxvcpus"]))
    d["vcpus"] = n
    save(state)
elif cmd == "save":
    d = domain(rest[0])
    with open(rest[1], "w") as f:
        f.write("Xen saved domain, xl format\n")
    state["saved"][rest[1]] = [rest[0], d]
    del state["domains"][rest[0]]
    save(state)
elif cmd == "restore":
    if rest[0] not in state["saved"]:
        fail("xl: cannot open restore file %s" % rest[0])
    name, d = state["saved"].pop(rest[0])
    d["id"] = state["next_id"]
    state["next_id"] += 1
    d["flags"] = "-b----"
    state["domains"][name] = d
    save(state)
elif cmd in ("block-attach", "block-detach", "network-attach", "network-detach"):
    domain(rest[0])
else:
    fail("xl: unknown command '%s'" % " ".join(args))
"#;

struct StandIn(StandInDir);

impl std::ops::Deref for StandIn {
    type Target = StandInDir;
    fn deref(&self) -> &StandInDir {
        &self.0
    }
}

impl StandIn {
    fn new() -> StandIn {
        StandIn(StandInDir::new("rvirt-xen-", &[("xl", STAND_IN_XL)]))
    }

    fn argv(&self) -> Vec<String> {
        self.lines("xl.argv")
    }

    fn touch(&self, name: &str) {
        std::fs::write(self.path(name), "").expect("trigger");
    }

    /// The stand-in's domains: name → (id, memory KiB, vCPUs, flags).
    fn domains(&self) -> serde_json::Value {
        std::fs::read_to_string(self.path("domains.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .map(|state| state["domains"].clone())
            .unwrap_or(serde_json::Value::Null)
    }

    fn xen_domain(&self, name: &str) -> Option<serde_json::Value> {
        self.domains().get(name).cloned()
    }
}

/// A PV guest with a kernel, 512 MiB (256 in use), 2 vCPUs (1 online).
fn pv_xml(name: &str, os_type: &str) -> String {
    format!(
        "<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>512</memory>
  <currentMemory unit='MiB'>256</currentMemory>
  <vcpu current='1'>2</vcpu>
  <os><type>{os_type}</type><kernel>/boot/vmlinuz</kernel><cmdline>console=hvc0</cmdline></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/xen/images/{name}.img'/>
      <target dev='xvda' bus='xen'/>
    </disk>
  </devices>
</domain>"
    )
}

/// Files named `*.cfg` anywhere under `dir`: a start must leave none behind.
fn stray_configs(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(stray_configs(&path));
        } else if path.extension().is_some_and(|ext| ext == "cfg") {
            found.push(path);
        }
    }
    found
}

#[test]
fn xen_lifecycle_over_a_stand_in_xl_in_process() {
    let xl = StandIn::new();
    let state_root = tempfile::tempdir().expect("state");
    let host = xl.host(state_root.path());
    let conn = open_in(&host, "xen:///system").expect("open xen:///system");
    open_in(&host, "xen:///").expect("xen:/// too");
    let error = open_in(&host, "xen:///session").expect_err("no session");
    assert!(
        error
            .message()
            .contains("unexpected Xen URI path '/session', try xen:///system"),
        "{error}"
    );

    let caps = conn.get_capabilities().expect("capabilities");
    for expected in [
        "<os_type>xen</os_type>",
        "<os_type>hvm</os_type>",
        "<os_type>xenpvh</os_type>",
        "<machine>xenfv</machine>",
        "<domain type='xen'",
    ] {
        assert!(caps.contains(expected), "{expected} in {caps}");
    }
    let node = conn.node_info().expect("nodeinfo");
    assert_eq!(
        (node.cpus, node.mhz, node.memory_kib),
        (4, 2394, 4095 * 1024)
    );
    assert_eq!((node.cores, node.threads), (2, 2));

    // Bad input: another hypervisor's domain, then HVM on a host that offers PV only.
    let error = conn
        .domain_define_xml(
            &pv_xml("k", "hvm").replace("<domain type='xen'>", "<domain type='kvm'>"),
            0,
        )
        .expect_err("a kvm domain");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    assert!(
        error.message().contains("could not find capabilities for"),
        "{error}"
    );
    std::fs::write(xl.path("xen_caps"), "xen-3.0-x86_64\n").expect("pv only");
    conn.get_capabilities().expect("capabilities asked again");
    let error = conn
        .domain_define_xml(&pv_xml("h", "hvm"), 0)
        .expect_err("no hvm here");
    assert!(
        error
            .message()
            .contains("could not find capabilities for ostype=hvm arch=x86_64 domaintype=xen"),
        "{error}"
    );
    std::fs::remove_file(xl.path("xen_caps")).expect("back to hvm");
    conn.get_capabilities().expect("capabilities asked again");
    assert!(conn.list_all_domains(0).expect("list").is_empty());

    // A start xl refuses: its message, nothing running, no configuration left behind.
    let failing = conn
        .domain_define_xml(&pv_xml("fail1", "linux"), 0)
        .expect("define");
    let error = failing.create(0).expect_err("xl refuses it");
    assert!(
        error.message().contains("device model did not start"),
        "{error}"
    );
    assert_eq!(failing.state(0).expect("state").state, state::SHUTOFF);
    assert!(xl.xen_domain("fail1").is_none());
    assert!(stray_configs(state_root.path()).is_empty());
    failing.undefine(0).expect("undefine");

    // Start: the configuration virt-xl writes, given to xl create.
    let domain = conn
        .domain_define_xml(&pv_xml("g", "linux"), 0)
        .expect("define");
    domain.create(0).expect("start");
    let config = std::fs::read_to_string(xl.path("last.cfg")).expect("the config xl got");
    assert!(
        config.contains("name = \"g\"")
            && config.contains("maxmem = 512")
            && config.contains("memory = 256")
            && config.contains("kernel = \"/boot/vmlinuz\""),
        "{config}"
    );
    assert!(stray_configs(state_root.path()).is_empty());
    let in_xen = xl.xen_domain("g").expect("running in xl");
    let id = in_xen["id"].as_i64().expect("id") as i32;
    assert_eq!(
        in_xen["uuid"].as_str(),
        Some(domain.uuid_string().as_str()),
        "xl got the definition's UUID"
    );
    let running = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(running.id(), id, "the id is Xen's domid");
    // The id came from the verbose create's log: one xl run, no `xl domid` after it.
    let argv = xl.argv();
    assert!(
        argv.iter().any(|line| line.starts_with("-vvv create ")),
        "{argv:?}"
    );
    assert!(!argv.iter().any(|line| line == "domid g"), "{argv:?}");
    // Defining and starting a stopped domain asks xl nothing but the create, even while
    // another domain runs (only a running record can be out of date).
    let before = xl.argv().len();
    let second = conn
        .domain_define_xml(&pv_xml("h", "linux"), 0)
        .expect("define h");
    second.create(0).expect("start h");
    let argv = xl.argv()[before..].to_vec();
    assert!(
        argv.len() == 1 && argv[0].starts_with("-vvv create "),
        "{argv:?}"
    );
    second.destroy(0).expect("destroy h");
    second.undefine(0).expect("undefine h");
    assert_eq!(conn.domain_lookup_by_id(id).expect("by id").name(), "g");
    let now = domain.state(0).expect("state");
    assert_eq!(now.state, state::RUNNING);
    let info = domain.info().expect("info");
    assert_eq!(
        (info.memory_kib, info.max_mem_kib),
        (256 * 1024, 512 * 1024)
    );
    assert!(domain
        .xml_desc(0)
        .expect("live xml")
        .contains(&format!("id='{id}'")));

    // Pause and unpause.
    domain.suspend().expect("suspend");
    let now = domain.state(0).expect("state");
    assert_eq!((now.state, now.reason), (state::PAUSED, paused::USER));
    domain.resume().expect("resume");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // Memory and vCPUs, live: xl mem-set and vcpu-set; beyond the maximum refused.
    domain.set_memory(300 * 1024, 0).expect("setmem");
    assert_eq!(xl.xen_domain("g").expect("g")["mem"], 300 * 1024);
    assert_eq!(domain.info().expect("info").memory_kib, 300 * 1024);
    let error = domain
        .set_memory(1024 * 1024, 0)
        .expect_err("more than the maximum");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error}");
    domain.set_vcpus(2, 0).expect("setvcpus");
    assert_eq!(xl.xen_domain("g").expect("g")["vcpus"], 2);
    assert_eq!(domain.info().expect("info").nr_virt_cpu, 2);
    // --config changes the definition only.
    let config_flag = virt_core::consts::domain_modification_impact::CONFIG;
    domain
        .set_memory(128 * 1024, config_flag)
        .expect("setmem --config");
    let inactive = virt_core::consts::domain_xml_flags::INACTIVE;
    assert!(domain
        .xml_desc(inactive)
        .expect("inactive")
        .contains("<currentMemory unit='KiB'>131072</currentMemory>"));
    assert_eq!(xl.xen_domain("g").expect("g")["mem"], 300 * 1024);

    // Hotplug a disk and a NIC: xl block-attach / network-attach, the live XML updated.
    domain
        .attach_device(
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/>\
             <source file='/var/lib/xen/images/data.img'/><target dev='xvdb' bus='xen'/></disk>",
            0,
        )
        .expect("attach disk");
    domain
        .attach_device(
            "<interface type='bridge'><mac address='00:16:3e:01:02:03'/>\
             <source bridge='xenbr0'/></interface>",
            0,
        )
        .expect("attach nic");
    let argv = xl.argv();
    assert!(
        argv.iter().any(|line| line.starts_with("block-attach g ")
            && line.contains("/var/lib/xen/images/data.img")
            && line.contains("xvdb")),
        "{argv:?}"
    );
    assert!(
        argv.iter().any(|line| line.starts_with("network-attach g ")
            && line.contains("mac=00:16:3e:01:02:03")
            && line.contains("bridge=xenbr0")),
        "{argv:?}"
    );
    let live = domain.xml_desc(0).expect("live");
    assert!(
        live.contains("dev='xvdb'") && live.contains("00:16:3e:01:02:03"),
        "{live}"
    );
    domain
        .detach_device(
            "<disk type='file' device='disk'><target dev='xvdb' bus='xen'/></disk>",
            0,
        )
        .expect("detach disk");
    assert!(xl.argv().contains(&"block-detach g xvdb".to_string()));
    assert!(!domain.xml_desc(0).expect("live").contains("dev='xvdb'"));

    // xl failing: its message, the domain left as it was.
    xl.touch("broken");
    let error = domain.destroy(0).expect_err("xl cannot work");
    assert!(
        error.message().contains("cannot init xl context"),
        "{error}"
    );
    std::fs::remove_file(xl.path("broken")).expect("mend xl");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // A reboot: xl builds it again under a new id.
    domain.reboot(0).expect("reboot");
    let rebooted = conn.domain_lookup_by_name("g").expect("lookup");
    assert_ne!(rebooted.id(), id, "a new domid");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);
    let id = rebooted.id();

    // A daemon restart finds the running domain again.
    drop((domain, rebooted, running, failing, conn));
    drop(host);
    let host = xl.host(state_root.path());
    let conn = open_in(&host, "xen:///system").expect("open again");
    let domain = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(domain.id(), id, "the same domain, found again");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);

    // Destroy, shutdown, a guest powering off, a crash.
    domain.destroy(0).expect("destroy");
    let now = domain.state(0).expect("state");
    assert_eq!(
        (now.state, now.reason),
        (state::SHUTOFF, shutoff::DESTROYED)
    );
    let error = domain.destroy(0).expect_err("not running");
    assert!(error.message().contains("Domain is not running"), "{error}");
    domain.create(0).expect("start");
    domain.shutdown(0).expect("shutdown");
    let now = domain.state(0).expect("state");
    assert_eq!((now.state, now.reason), (state::SHUTOFF, shutoff::SHUTDOWN));
    domain.create(0).expect("start");
    xl.touch("poweroff-g");
    let now = domain.state(0).expect("state");
    assert_eq!((now.state, now.reason), (state::SHUTOFF, shutoff::SHUTDOWN));
    domain.create(0).expect("start");
    xl.touch("crash-g");
    let now = domain.state(0).expect("state");
    assert_eq!((now.state, now.reason), (state::CRASHED, crashed::UNKNOWN));
    domain.destroy(0).expect("destroy the crashed domain");

    // Save and restore.
    domain.create(0).expect("start");
    let image = xl.path("g.save").display().to_string();
    domain.save(&image, None, 0).expect("save");
    let now = domain.state(0).expect("state");
    assert_eq!((now.state, now.reason), (state::SHUTOFF, shutoff::SAVED));
    assert!(xl.xen_domain("g").is_none());
    conn.domain_restore(&image, None, 0).expect("restore");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);
    domain.destroy(0).expect("destroy");

    // Autostart: the next daemon start starts it.
    domain.set_autostart(true).expect("autostart");
    drop((domain, conn));
    drop(host);
    let host = xl.host(state_root.path());
    let conn = open_in(&host, "xen:///system").expect("open once more");
    let domain = conn.domain_lookup_by_name("g").expect("lookup");
    assert_eq!(domain.state(0).expect("state").state, state::RUNNING);
    domain.destroy(0).expect("destroy the autostarted domain");
    domain.undefine(0).expect("undefine");
    assert!(conn.list_all_domains(0).expect("list").is_empty());
}

#[test]
fn xen_through_rvirtd_with_virsh() {
    let xl = StandIn::new();
    let daemon = crate::common::Rvirtd::start(&[("RVIRT_HELPER_DIR", xl.dir.path().as_os_str())]);
    let uri = daemon.uri("xen:///system");

    assert!(ok(&uri, &["capabilities"]).contains("<os_type>xenpvh</os_type>"));
    let nodeinfo = ok(&uri, &["nodeinfo"]);
    let line = |key: &str| {
        nodeinfo
            .lines()
            .find(|line| line.starts_with(key))
            .map(|line| line[key.len()..].trim().to_string())
    };
    assert_eq!(line("CPU(s):").as_deref(), Some("4"), "{nodeinfo}");
    assert_eq!(
        line("CPU frequency:").as_deref(),
        Some("2394 MHz"),
        "{nodeinfo}"
    );
    let xml_path = xl.path("vg.xml");
    std::fs::write(&xml_path, pv_xml("vg", "linux")).expect("xml");
    let xml_arg = xml_path.display().to_string();
    let native = ok(&uri, &["domxml-to-native", "xen-xl", &xml_arg]);
    assert!(native.contains("name = \"vg\""), "{native}");

    ok(&uri, &["define", &xml_arg]);
    let before = xl.argv().len();
    ok(&uri, &["start", "vg"]);
    // virsh start of a stopped domain: the lookup asks xl nothing, the create runs it once
    // (no `xl domid`); what follows is `xl list` only: the remote driver's lookup by UUID
    // after a create (for the new id) reconciles, as no xenstore watch (no xenstored here)
    // says the records are current, and so does the failed watcher's end.
    let argv = xl.argv()[before..].to_vec();
    assert!(
        argv[0].starts_with("-vvv create ") && argv[1..].iter().all(|line| line == "list"),
        "{argv:?}"
    );
    let listed = ok(&uri, &["list"]);
    assert!(
        listed.contains("vg") && listed.contains("running"),
        "{listed}"
    );
    let info = ok(&uri, &["dominfo", "vg"]);
    assert!(
        info.contains("running") && info.contains("524288 KiB"),
        "{info}"
    );
    ok(&uri, &["setmem", "vg", "200M"]);
    assert_eq!(xl.xen_domain("vg").expect("vg")["mem"], 200 * 1024);
    ok(&uri, &["suspend", "vg"]);
    let (_, state_text) = virsh(&uri, &["domstate", "vg", "--reason"]);
    assert!(state_text.contains("paused (user)"), "{state_text}");
    ok(&uri, &["resume", "vg"]);
    ok(&uri, &["destroy", "vg"]);
    let (_, state_text) = virsh(&uri, &["domstate", "vg", "--reason"]);
    assert!(state_text.contains("shut off (destroyed)"), "{state_text}");
    let (succeeded, error) = virsh(&uri, &["destroy", "vg"]);
    assert!(
        !succeeded && error.contains("Domain is not running"),
        "{error}"
    );
    ok(&uri, &["undefine", "vg"]);
    assert!(!ok(&uri, &["list", "--all"]).contains("vg"));
}
