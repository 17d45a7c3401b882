//! The storage plugin behind a real rvirtd, driven by real virsh through `qemu:///system`
//! (whose pools and volumes it serves): a `dir` pool and raw/qcow2 volumes made by the real
//! `qemu-img`, checked on disk, and refusals that leave nothing behind.

use std::path::Path;
use std::process::Command;

use crate::common::unique;
use crate::network_driver::{ok, refused, Sandbox};

/// `qemu-img info` of `path`: (format, virtual size).
fn image_info(path: &Path) -> (String, u64) {
    let output = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .expect("qemu-img info");
    let info: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    (
        info["format"].as_str().unwrap_or_default().to_string(),
        info["virtual-size"].as_u64().unwrap_or_default(),
    )
}

#[test]
fn dir_pool_and_qemu_img_volumes_through_virsh() {
    // The namespace is not needed by storage; it keeps this daemon's networks to itself.
    let sandbox = Sandbox::new("rvirt-storage-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let pool = unique("rvtpool");
    let target = dir.as_path().join("images");

    ok(
        &qemu,
        &format!("pool-define-as {pool} dir --target {}", target.display()),
    );
    let error = refused(&qemu, &format!("pool-start {pool}"));
    assert!(
        error.contains("cannot open directory"),
        "a pool without its directory does not start: {error}"
    );
    ok(&qemu, &format!("pool-build {pool}"));
    assert!(target.is_dir());
    ok(&qemu, &format!("pool-start {pool}"));

    ok(
        &qemu,
        &format!("vol-create-as {pool} disk.qcow2 1G --format qcow2 --allocation 0"),
    );
    ok(
        &qemu,
        &format!("vol-create-as {pool} disk.raw 64M --allocation 0"),
    );
    assert_eq!(
        image_info(&target.join("disk.qcow2")),
        ("qcow2".to_string(), 1 << 30)
    );
    assert_eq!(
        image_info(&target.join("disk.raw")),
        ("raw".to_string(), 64 << 20)
    );
    let listed = ok(&qemu, &format!("vol-list {pool}"));
    assert!(
        listed.contains("disk.qcow2") && listed.contains("disk.raw"),
        "{listed}"
    );
    let info = ok(&qemu, &format!("vol-info disk.qcow2 --pool {pool}"));
    assert!(info.contains("1.00 GiB"), "{info}");

    // Refusals change nothing.
    let error = refused(&qemu, &format!("vol-create-as {pool} disk.raw 1M"));
    assert!(error.contains("exists already"), "{error}");
    let error = refused(&qemu, &format!("vol-create-as {pool} huge.raw 100T"));
    assert!(error.contains("Not enough space left"), "{error}");
    assert!(
        !target.join("huge.raw").exists(),
        "a refused volume leaves no file"
    );

    ok(&qemu, &format!("vol-resize disk.qcow2 2G --pool {pool}"));
    assert_eq!(image_info(&target.join("disk.qcow2")).1, 2 << 30);
    ok(
        &qemu,
        &format!("vol-clone disk.qcow2 copy.qcow2 --pool {pool}"),
    );
    assert_eq!(
        image_info(&target.join("copy.qcow2")),
        ("qcow2".to_string(), 2 << 30)
    );
    let path = ok(&qemu, &format!("vol-path copy.qcow2 --pool {pool}"));
    assert_eq!(path.trim(), target.join("copy.qcow2").display().to_string());

    for volume in ["copy.qcow2", "disk.qcow2", "disk.raw"] {
        ok(&qemu, &format!("vol-delete {volume} --pool {pool}"));
        assert!(!target.join(volume).exists(), "{volume} is deleted");
    }
    ok(&qemu, &format!("pool-destroy {pool}"));
    ok(&qemu, &format!("pool-delete {pool}"));
    assert!(!target.exists(), "pool-delete removes the directory");
    ok(&qemu, &format!("pool-undefine {pool}"));
    assert!(!ok(&qemu, "pool-list --all").contains(&pool));

    let error = refused(
        &qemu,
        &format!("pool-define-as {pool} logical --source-name vg0"),
    );
    assert!(error.contains("missing backend"), "{error}");
}

/// `<disk type='volume'>`: the QEMU plugin finds the volume through the pool's state file,
/// refuses as libvirt does when the pool is stopped or the volume missing, and the guest
/// sees the disk.
#[test]
fn qemu_guest_boots_with_a_volume_disk() {
    let sandbox = Sandbox::new("rvirt-storage-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let pool = unique("rvtpool");
    let target = dir.as_path().join("images");
    ok(
        &qemu,
        &format!(
            "pool-define-as {pool} dir --target {}; pool-build {pool}",
            target.display()
        ),
    );

    let files = crate::qemu::GuestFiles::new(&dir.as_path().join("guest"));
    let name = unique("rvtvolguest");
    let disk = format!(
        "<disk type='volume' device='disk'>\n      <driver name='qemu' type='qcow2'/>\n      \
         <source pool='{pool}' volume='data.qcow2'/>\n      <target dev='vdb' bus='virtio'/>\n    \
         </disk>"
    );
    let xml = dir.as_path().join("domain.xml");
    std::fs::write(&xml, crate::qemu::domain_xml(&name, &files, &disk)).expect("xml");
    ok(&qemu, &format!("define {}", xml.display()));

    let error = refused(&qemu, &format!("start {name}"));
    assert!(
        error.contains(&format!(
            "storage pool '{pool}' containing volume 'data.qcow2' is not active"
        )),
        "{error}"
    );
    ok(&qemu, &format!("pool-start {pool}"));
    let error = refused(&qemu, &format!("start {name}"));
    assert!(
        error.contains("no storage vol with matching name 'data.qcow2'"),
        "{error}"
    );
    assert_eq!(ok(&qemu, "list --name").trim(), "", "nothing started");

    ok(
        &qemu,
        &format!("vol-create-as {pool} data.qcow2 64M --format qcow2"),
    );
    ok(&qemu, &format!("start {name}"));
    let disks = crate::qemu::booted_disks(&files);
    assert!(disks.contains("vdb"), "the guest sees the volume: {disks}");
    let live = ok(&qemu, &format!("dumpxml {name}"));
    assert!(
        live.contains("<disk type='volume' device='disk'>")
            && live.contains(&format!("pool='{pool}' volume='data.qcow2'")),
        "{live}"
    );
    let argv = crate::qemu::qemu_command_line(&name);
    assert!(
        argv.contains(&format!("{}/data.qcow2", target.display())),
        "QEMU opens the volume's file: {argv}"
    );
    ok(&qemu, &format!("destroy {name}; undefine {name}"));
}
