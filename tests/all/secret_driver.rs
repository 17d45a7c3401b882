//! The secret plugin behind a real rvirtd, driven by real virsh and python3-libvirt through
//! `qemu:///system` (whose secrets it serves): values sealed at rest, private and ephemeral
//! secrets as libvirt keeps them, libvirt's refusals, and secrets that outlive the daemon.

use std::path::Path;
use std::process::Command;

use crate::network_driver::{ok, refused, Sandbox};

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    crate::qemu::walk(dir)
}

#[test]
fn secrets_through_virsh_and_python_sealed_at_rest() {
    let mut sandbox = Sandbox::new("rvirt-secret-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let state = dir.as_path().join("state");

    let uuid = "6dd3e4a5-1d76-44ce-961f-f119f5aad935";
    let volume = write(
        dir.as_path(),
        "volume.xml",
        &format!(
            "<secret ephemeral='no' private='no'><uuid>{uuid}</uuid>\
             <description>LUKS passphrase</description>\
             <usage type='volume'><volume>/var/lib/libvirt/images/enc.qcow2</volume></usage>\
             </secret>"
        ),
    );
    ok(&qemu, &format!("secret-define {volume}"));
    let value_file = write(dir.as_path(), "value", "correct horse battery staple");
    ok(
        &qemu,
        &format!("secret-set-value {uuid} --file {value_file} --plain"),
    );
    let value = ok(&qemu, &format!("secret-get-value {uuid} --plain"));
    assert_eq!(value.trim(), "correct horse battery staple");

    // At rest: the value file holds no plaintext, and its directory is root's alone.
    let stored: Vec<_> = files_under(&state)
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(&format!("{uuid}.base64")))
        .collect();
    assert_eq!(stored.len(), 1, "one value file: {stored:?}");
    let sealed = std::fs::read_to_string(&stored[0]).expect("value file");
    assert!(
        !sealed.contains("horse") && sealed.starts_with("rvirt-aes256gcm:"),
        "{sealed}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(stored[0].parent().expect("dir"))
        .expect("dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the secrets directory is private");

    // Python finds it by usage and reads the value.
    let python = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import libvirt, sys\n\
             c = libvirt.open(sys.argv[1])\n\
             s = c.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, \
             '/var/lib/libvirt/images/enc.qcow2')\n\
             print(s.UUIDString(), s.value().decode())",
            &qemu,
        ])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        format!("{uuid} correct horse battery staple"),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );

    // A private, ephemeral secret: listed, its value set but never given out, kept in the
    // run directory only.
    let ceph = write(
        dir.as_path(),
        "ceph.xml",
        "<secret ephemeral='yes' private='yes'>\
         <usage type='ceph'><name>client.admin secret</name></usage></secret>",
    );
    ok(&qemu, &format!("secret-define {ceph}"));
    let listed = ok(&qemu, "secret-list --ephemeral --private");
    let ceph_uuid = listed
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("the ceph secret is listed: {listed}"))
        .to_string();
    assert!(!ok(&qemu, "secret-list --no-ephemeral").contains(&ceph_uuid));
    ok(
        &qemu,
        &format!("secret-set-value {ceph_uuid} --file {value_file} --plain"),
    );
    let error = refused(&qemu, &format!("secret-get-value {ceph_uuid}"));
    assert!(error.contains("secret is private"), "{error}");
    let ceph_files: Vec<_> = files_under(&state)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains(&ceph_uuid))
        .collect();
    assert!(
        !ceph_files.is_empty() && ceph_files.iter().all(|p| p.starts_with(state.join("run"))),
        "an ephemeral secret lives in the run directory only: {ceph_files:?}"
    );

    // Refusals, which change nothing.
    let error = refused(&qemu, &format!("secret-define {ceph}"));
    assert!(
        error.contains(&format!(
            "a secret with UUID {ceph_uuid} already defined for use with client.admin secret"
        )),
        "{error}"
    );
    let other_usage = write(
        dir.as_path(),
        "other.xml",
        &format!("<secret><uuid>{uuid}</uuid><usage type='tls'><name>x</name></usage></secret>"),
    );
    let error = refused(&qemu, &format!("secret-define {other_usage}"));
    assert!(
        error.contains(&format!(
            "a secret with UUID {uuid} is already defined for use with"
        )),
        "{error}"
    );
    let bogus = write(
        dir.as_path(),
        "bogus.xml",
        "<secret><usage type='bogus'><name>x</name></usage></secret>",
    );
    let error = refused(&qemu, &format!("secret-define {bogus}"));
    assert!(error.contains("bogus"), "{error}");
    let error = refused(
        &qemu,
        "secret-get-value 00000000-0000-0000-0000-00000000abcd",
    );
    assert!(
        error.contains("no secret with matching uuid '00000000-0000-0000-0000-00000000abcd'"),
        "{error}"
    );
    let read_only = qemu.replace("rvirt-sock", "rvirt-sock-ro");
    let error = refused(&read_only, &format!("secret-get-value {uuid}"));
    assert!(error.contains("read only"), "{error}");
    assert_eq!(
        ok(&qemu, &format!("secret-get-value {uuid} --plain")).trim(),
        "correct horse battery staple"
    );

    // A daemon killed and started again still has the persistent secret and its value (the
    // run directory of this test is not a tmpfs, so the ephemeral one stays too).
    sandbox.restart_daemon();
    let qemu = sandbox.uri("qemu");
    assert_eq!(
        ok(&qemu, &format!("secret-get-value {uuid} --plain")).trim(),
        "correct horse battery staple"
    );
    ok(&qemu, &format!("secret-undefine {uuid}"));
    assert!(
        files_under(&state)
            .iter()
            .all(|path| !path.to_string_lossy().contains(uuid)),
        "undefine removes both files"
    );
    let error = refused(&qemu, &format!("secret-dumpxml {uuid}"));
    assert!(error.contains("no secret with matching uuid"), "{error}");
}

/// A LUKS image opened by QEMU with the passphrase of a secret: the QEMU plugin reads the
/// secret driver's sealed value and hands it to QEMU wrapped under the domain's master key
/// (`-object secret,keyid=masterKey0`). A wrong passphrase is QEMU's refusal, and nothing of
/// the start stays behind.
#[test]
fn qemu_opens_a_luks_disk_with_a_secret() {
    let sandbox = Sandbox::new("rvirt-secret-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();

    let image = dir.as_path().join("encrypted.luks");
    // qemu-img times its key derivation by the CPU time it gets; on a host busy enough to
    // give it none it says "Unable to get accurate CPU usage": that is the host, try again.
    let create = || {
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "luks", "--object"])
            .arg("secret,id=sec0,data=open sesame")
            .args(["-o", "key-secret=sec0,iter-time=10"])
            .arg(&image)
            .arg("16M")
            .output()
            .expect("qemu-img")
    };
    let mut created = create();
    for _ in 0..4 {
        if created.status.success()
            || !String::from_utf8_lossy(&created.stderr).contains("accurate CPU usage")
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        created = create();
    }
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let uuid = "1b8e4f7a-2a3c-4d5e-8f90-a1b2c3d4e5f6";
    let secret = write(
        dir.as_path(),
        "secret.xml",
        &format!(
            "<secret ephemeral='no' private='yes'><uuid>{uuid}</uuid>\
             <usage type='volume'><volume>{}</volume></usage></secret>",
            image.display()
        ),
    );
    ok(&qemu, &format!("secret-define {secret}"));
    let wrong = write(dir.as_path(), "wrong", "open barley");
    ok(
        &qemu,
        &format!("secret-set-value {uuid} --file {wrong} --plain"),
    );

    let files = crate::qemu::GuestFiles::new(&dir.as_path().join("guest"));
    let name = crate::common::unique("rvtluks");
    let disk = format!(
        "<disk type='file' device='disk'>\n      <driver name='qemu' type='raw'/>\n      \
         <source file='{}'>\n        <encryption format='luks'>\n          \
         <secret type='passphrase' uuid='{uuid}'/>\n        </encryption>\n      </source>\n      \
         <target dev='vdb' bus='virtio'/>\n    </disk>",
        image.display()
    );
    let xml = dir.as_path().join("domain.xml");
    std::fs::write(&xml, crate::qemu::domain_xml(&name, &files, &disk)).expect("xml");
    ok(&qemu, &format!("define {}", xml.display()));

    // A secret of another usage (iSCSI credentials) is no LUKS passphrase: refused as libvirt
    // refuses it, before QEMU runs.
    let iscsi_uuid = "3d9e4f7a-2a3c-4d5e-8f90-a1b2c3d4e5f7";
    let iscsi = write(
        dir.as_path(),
        "iscsi.xml",
        &format!(
            "<secret ephemeral='no' private='yes'><uuid>{iscsi_uuid}</uuid>\
             <usage type='iscsi'><target>rvirt-iscsi</target></usage></secret>"
        ),
    );
    ok(&qemu, &format!("secret-define {iscsi}"));
    ok(
        &qemu,
        &format!("secret-set-value {iscsi_uuid} --file {wrong} --plain"),
    );
    let mistyped = format!("{name}-typed");
    let mistyped_xml = dir.as_path().join("mistyped.xml");
    std::fs::write(
        &mistyped_xml,
        crate::qemu::domain_xml(&mistyped, &files, &disk.replace(uuid, iscsi_uuid)),
    )
    .expect("xml");
    ok(&qemu, &format!("define {}", mistyped_xml.display()));
    let error = refused(&qemu, &format!("start {mistyped}"));
    assert!(
        error.contains(&format!(
            "secret with uuid {iscsi_uuid} is of type 'iscsi' not expected 'volume' type"
        )),
        "{error}"
    );
    assert_eq!(ok(&qemu, "list --name").trim(), "", "nothing started");
    ok(&qemu, &format!("undefine {mistyped}"));

    let error = refused(&qemu, &format!("start {name}"));
    assert!(
        error.contains("Invalid password") || error.contains("keyslot"),
        "QEMU refuses the wrong passphrase: {error}"
    );
    assert_eq!(ok(&qemu, "list --name").trim(), "", "nothing started");

    let right = write(dir.as_path(), "right", "open sesame");
    ok(
        &qemu,
        &format!("secret-set-value {uuid} --file {right} --plain"),
    );
    ok(&qemu, &format!("start {name}"));
    let disks = crate::qemu::booted_disks(&files);
    assert!(
        disks.contains("vdb"),
        "the guest sees the decrypted disk: {disks}"
    );
    let argv = crate::qemu::qemu_command_line(&name);
    assert!(
        argv.contains("\"keyid\":\"masterKey0\"") && !argv.contains("open sesame"),
        "the passphrase reaches QEMU wrapped, never in the clear: {argv}"
    );
    ok(&qemu, &format!("destroy {name}; undefine {name}"));
}

/// An emulated TPM: the QEMU plugin starts swtpm (its state encrypted with a `vtpm` secret),
/// the guest's kernel finds a TPM 2.0, the state stays on disk after the guest stops, and
/// undefine removes it.
#[test]
fn qemu_guest_gets_an_emulated_tpm_from_swtpm() {
    assert!(
        std::path::Path::new("/usr/bin/swtpm").exists(),
        "swtpm is needed: ./x.sh test installs it"
    );
    let sandbox = Sandbox::new("rvirt-swtpm-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let uuid = "2c4f6a8e-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
    let secret = write(
        dir.as_path(),
        "vtpm.xml",
        &format!(
            "<secret ephemeral='no' private='yes'><uuid>{uuid}</uuid>\
             <usage type='vtpm'><name>rvirt-test-vtpm</name></usage></secret>"
        ),
    );
    ok(&qemu, &format!("secret-define {secret}"));
    let value = write(dir.as_path(), "vtpm.key", "a vtpm state key");
    ok(
        &qemu,
        &format!("secret-set-value {uuid} --file {value} --plain"),
    );
    let files = crate::qemu::GuestFiles::new(&dir.as_path().join("guest"));
    let name = crate::common::unique("rvttpm");
    let tpm = format!(
        "<tpm model='tpm-tis'>\n      <backend type='emulator' version='2.0'>\n        \
         <encryption secret='{uuid}'/>\n      </backend>\n    </tpm>"
    );
    let xml = dir.as_path().join("domain.xml");
    std::fs::write(&xml, crate::qemu::domain_xml(&name, &files, &tpm)).expect("xml");
    ok(&qemu, &format!("define {}", xml.display()));
    ok(&qemu, &format!("start {name}"));
    crate::qemu::booted_disks(&files);
    let serial = files.serial();
    assert!(
        serial.contains("RVIRT-TPM tpm0 version=2"),
        "the guest finds a TPM 2.0: {serial}"
    );
    let argv = crate::qemu::qemu_command_line(&name);
    assert!(
        argv.contains("-tpmdev emulator,id=tpm-tpm0,chardev=chrtpm"),
        "{argv}"
    );
    let states: Vec<_> = files_under(dir.as_path())
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("/swtpm/"))
        .collect();
    assert!(
        states
            .iter()
            .any(|path| path.to_string_lossy().contains("/tpm2/")),
        "swtpm keeps its state under the domain's UUID: {states:?}"
    );
    assert!(
        !files_under(dir.as_path())
            .iter()
            .any(|path| path.to_string_lossy().ends_with("swtpm.sock.key")),
        "the key file goes once swtpm runs"
    );
    ok(&qemu, &format!("destroy {name}"));
    ok(&qemu, &format!("undefine {name}"));
    assert!(
        !files_under(dir.as_path())
            .iter()
            .any(|path| path.to_string_lossy().contains("/swtpm/")),
        "undefine removes the TPM state"
    );
}

/// Secret events as libvirt sends them, received by python3-libvirt's callbacks: DEFINED on
/// define and redefine, VALUE_CHANGED on set-value, UNDEFINED on undefine; a registration
/// for one secret hears only that secret.
#[test]
fn secret_events_reach_python_callbacks() {
    let sandbox = Sandbox::new("rvirt-secretev-");
    let qemu = sandbox.uri("qemu");
    let script = crate::common::PYTHON_EVENT_LOOP.to_string()
        + r#"
conn = libvirt.open(sys.argv[1])
seen, mine = [], []
def lifecycle(c, secret, event, detail, into):
    into.append("lifecycle %s %d %d" % (secret.usageID(), event, detail))
def value(c, secret, into):
    into.append("value %s" % secret.usageID())
conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, lifecycle, seen)
conn.secretEventRegisterAny(None, libvirt.VIR_SECRET_EVENT_ID_VALUE_CHANGED, value, seen)
def xml(uuid, name):
    return ("<secret ephemeral='no' private='no'><uuid>%s</uuid>"
            "<usage type='ceph'><name>%s</name></usage></secret>" % (uuid, name))
a = conn.secretDefineXML(xml("0f0e0d0c-0b0a-4909-8807-060504030201", "rvirt-a"))
conn.secretEventRegisterAny(a, libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE, lifecycle, mine)
a.setValue(b"one")
a = conn.secretDefineXML(xml("0f0e0d0c-0b0a-4909-8807-060504030201", "rvirt-a"))
b = conn.secretDefineXML(xml("1f1e1d1c-1b1a-4919-8817-161514131211", "rvirt-b"))
b.undefine()
a.undefine()
deadline = time.time() + 10
while len(seen) < 6 and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.2)
print("\n".join(seen))
print("--")
print("\n".join(mine))
"#;
    let stdout = crate::common::run("/usr/bin/python3", &["-c", &script, &qemu]);
    let (all, filtered) = stdout.split_once("--\n").expect("two lists");
    assert_eq!(
        all.lines().collect::<Vec<_>>(),
        [
            "lifecycle rvirt-a 0 0",
            "value rvirt-a",
            "lifecycle rvirt-a 0 0",
            "lifecycle rvirt-b 0 0",
            "lifecycle rvirt-b 1 0",
            "lifecycle rvirt-a 1 0",
        ],
        "{stdout}"
    );
    assert_eq!(
        filtered.lines().collect::<Vec<_>>(),
        ["lifecycle rvirt-a 0 0", "lifecycle rvirt-a 1 0"],
        "a registration for one secret: {stdout}"
    );
}

/// A registration hears only what happens after it: a client that defines a secret and at
/// once registers for it is not told of the define, however late the daemon's event
/// forwarding gets to that event (it once was, when the registration call overtook it).
#[test]
fn a_registration_hears_nothing_from_before_it() {
    let sandbox = Sandbox::new("rvirt-secretrace-");
    let qemu = sandbox.uri("qemu");
    let script = crate::common::PYTHON_EVENT_LOOP.to_string()
        + r#"
conn = libvirt.open(sys.argv[1])
LIFECYCLE = libvirt.VIR_SECRET_EVENT_ID_LIFECYCLE
# A registration for every secret first, so events already flow when the race starts.
conn.secretEventRegisterAny(None, LIFECYCLE, lambda *args: None, None)
got = []
def lifecycle(c, secret, event, detail, n):
    got.append((n, event))
callbacks = []
for n in range(200):
    uuid = "%08x-0000-4000-8000-%012x" % (n, n)
    secret = conn.secretDefineXML(
        "<secret ephemeral='no' private='no'><uuid>%s</uuid>"
        "<usage type='ceph'><name>rvirt-race-%d</name></usage></secret>" % (uuid, n))
    callbacks.append(conn.secretEventRegisterAny(secret, LIFECYCLE, lifecycle, n))
    secret.undefine()
deadline = time.time() + 20
while len(got) < 200 and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.3)
for callback in callbacks:
    conn.secretEventDeregisterAny(callback)
defined = sorted(n for n, event in got if event == libvirt.VIR_SECRET_EVENT_DEFINED)
undefined = len([n for n, event in got if event == libvirt.VIR_SECRET_EVENT_UNDEFINED])
print("defined %s undefined %d" % (defined, undefined))
"#;
    let stdout = crate::common::run("/usr/bin/python3", &["-c", &script, &qemu]);
    assert_eq!(stdout.trim(), "defined [] undefined 200");
}
