//! The storage plugin behind a real rvirtd, driven by real virsh through `qemu:///system`
//! (whose pools and volumes it serves): a `dir` pool and raw/qcow2 volumes made by the real
//! `qemu-img`, an `fs` pool on a loop-mounted image made by the real `mkfs`, checked on disk,
//! a `netfs` pool up to its mount, and refusals that leave nothing behind.

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

    // An overlay on a backing volume, as libvirt's qemu-img line makes it.
    ok(
        &qemu,
        &format!(
            "vol-create-as {pool} overlay.qcow2 2G --format qcow2 --backing-vol copy.qcow2 \
             --backing-vol-format qcow2"
        ),
    );
    let info = Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(target.join("overlay.qcow2"))
        .output()
        .expect("qemu-img info");
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("json");
    assert_eq!(
        info["backing-filename"].as_str(),
        Some(target.join("copy.qcow2").display().to_string().as_str()),
        "{info}"
    );
    assert_eq!(info["backing-filename-format"].as_str(), Some("qcow2"));
    let error = refused(
        &qemu,
        &format!("vol-create-as {pool} bad.img 1M --format raw --backing-vol copy.qcow2"),
    );
    assert!(
        error.contains("cannot set backing store for raw volume"),
        "{error}"
    );
    assert!(!target.join("bad.img").exists());

    for volume in ["overlay.qcow2", "copy.qcow2", "disk.qcow2", "disk.raw"] {
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
        &format!("pool-define-as {pool} rbd --source-host mon --source-name rbdpool"),
    );
    assert!(
        error.contains("missing backend for pool type 9 (rbd)"),
        "{error}"
    );
}

/// The filesystem mounted on `target` as the daemon sees it (`ip netns exec` gave the daemon
/// a mount namespace of its own).
fn mounted_in(pid: u32, target: &Path) -> Option<String> {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mounts")).expect("mounts");
    let target = target.display().to_string();
    mounts.lines().find_map(|line| {
        let mut fields = line.split(' ');
        let source = fields.next()?;
        (fields.next()? == target).then(|| format!("{source} {}", fields.next().unwrap_or("")))
    })
}

/// `blkid`'s filesystem type of an image, if it has one.
fn filesystem_of(image: &Path) -> Option<String> {
    let output = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE"])
        .arg(image)
        .output()
        .expect("blkid");
    let found = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!found.is_empty()).then_some(found)
}

#[test]
fn fs_pool_on_a_loop_mounted_image_through_virsh() {
    let sandbox = Sandbox::new("rvirt-fspool-");
    let qemu = sandbox.uri("qemu");
    let pid = sandbox.daemon().pid();
    let dir = sandbox.dir.path().to_path_buf();
    let image = dir.join("pool.img");
    let target = dir.join("mnt");
    std::fs::File::create(&image)
        .and_then(|file| file.set_len(64 << 20))
        .expect("an image file");
    let pool = unique("rvtfs");
    ok(
        &qemu,
        &format!(
            "pool-define-as {pool} fs --source-dev {} --source-format ext4 --target {}",
            image.display(),
            target.display()
        ),
    );
    let xml = ok(&qemu, &format!("pool-dumpxml {pool}"));
    assert!(
        xml.contains(&format!("<device path='{}'/>", image.display()))
            && xml.contains("<format type='ext4'/>"),
        "{xml}"
    );

    // A plain build makes the directory only; --no-overwrite makes the filesystem, once.
    ok(&qemu, &format!("pool-build {pool}"));
    assert!(target.is_dir());
    assert_eq!(filesystem_of(&image), None);
    ok(&qemu, &format!("pool-build {pool} --no-overwrite"));
    assert_eq!(filesystem_of(&image).as_deref(), Some("ext4"));
    let error = refused(&qemu, &format!("pool-build {pool} --no-overwrite"));
    assert!(
        error.contains("already formatted using 'ext4'"),
        "a second build does not overwrite: {error}"
    );

    // Another pool cannot take the same device.
    let other = unique("rvtfs");
    let error = refused(
        &qemu,
        &format!(
            "pool-define-as {other} fs --source-dev {} --target {}",
            image.display(),
            dir.join("other").display()
        ),
    );
    assert!(
        error.contains(&format!("Storage source conflict with pool: '{pool}'")),
        "{error}"
    );

    ok(&qemu, &format!("pool-start {pool}"));
    let mounted = mounted_in(pid, &target).expect("pool-start mounts the image");
    assert!(
        mounted.starts_with("/dev/loop") && mounted.ends_with(" ext4"),
        "{mounted}"
    );
    let info = ok(&qemu, &format!("pool-info {pool} --bytes"));
    let capacity: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("Capacity:"))
        .and_then(|value| value.trim().parse().ok())
        .expect("a capacity");
    assert!(
        capacity > 32 << 20 && capacity <= 64 << 20,
        "the capacity is the image's filesystem: {info}"
    );
    ok(
        &qemu,
        &format!("vol-create-as {pool} disk.qcow2 1G --format qcow2 --allocation 0"),
    );
    // The daemon's view of the mounted filesystem.
    let in_daemon = |path: &Path| {
        Path::new(&format!("/proc/{pid}/root")).join(path.strip_prefix("/").expect("absolute"))
    };
    assert_eq!(
        image_info(&in_daemon(&target.join("disk.qcow2"))),
        ("qcow2".to_string(), 1 << 30)
    );
    let error = refused(&qemu, &format!("vol-create-as {pool} big.raw 128M"));
    assert!(
        error.contains("Not enough space left"),
        "a volume larger than the pool: {error}"
    );

    // Stopped, the volume lives on in the image and the directory is empty again.
    ok(&qemu, &format!("pool-destroy {pool}"));
    assert_eq!(mounted_in(pid, &target), None, "pool-destroy unmounts");
    assert!(!in_daemon(&target.join("disk.qcow2")).exists());
    ok(&qemu, &format!("pool-start {pool}"));
    assert!(ok(&qemu, &format!("vol-list {pool}")).contains("disk.qcow2"));
    ok(&qemu, &format!("pool-destroy {pool}"));
    ok(&qemu, &format!("pool-delete {pool}"));
    assert!(!target.exists());
    ok(&qemu, &format!("pool-undefine {pool}"));

    // A pool whose device is gone does not start, and nothing stays mounted.
    let gone = dir.join("gone.img");
    ok(
        &qemu,
        &format!(
            "pool-define-as {other} fs --source-dev {} --source-format ext4 --target {}",
            gone.display(),
            target.display()
        ),
    );
    ok(&qemu, &format!("pool-build {other}"));
    let error = refused(&qemu, &format!("pool-start {other}"));
    assert!(error.contains("mount"), "{error}");
    assert_eq!(mounted_in(pid, &target), None);
    assert!(ok(&qemu, &format!("pool-info {other}")).contains("inactive"));
    let error = refused(&qemu, &format!("pool-build {other} --overwrite"));
    assert!(error.contains("Source device does not exist"), "{error}");
}

/// A `netfs` pool: defined, built and refused as libvirt's. Mounting a share cannot succeed
/// on this machine (its kernel has no `nfs` or `cifs` filesystem, and there is no NFS server
/// to reach): the test checks that the failed start reports mount's reason and leaves
/// nothing mounted, which is what a host whose share is unreachable sees.
#[test]
fn netfs_pool_is_defined_built_and_a_failed_mount_leaves_nothing() {
    let sandbox = Sandbox::new("rvirt-netfs-");
    let qemu = sandbox.uri("qemu");
    let pid = sandbox.daemon().pid();
    let dir = sandbox.dir.path().to_path_buf();
    let target = dir.join("share");
    let pool = unique("rvtnfs");
    // retry=0: on a kernel with NFS, mount.nfs gives up at once instead of retrying.
    let xml = crate::secret_driver::write(
        &dir,
        "netfs.xml",
        &format!(
            "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>\
             <name>{pool}</name><source><host name='127.0.0.1'/><dir path='/export/rvirt'/>\
             <format type='nfs'/><protocol ver='3'/></source>\
             <target><path>{}</path></target>\
             <fs:mount_opts><fs:option name='retry=0'/></fs:mount_opts></pool>",
            target.display()
        ),
    );
    ok(&qemu, &format!("pool-define {xml}"));
    let dumped = ok(&qemu, &format!("pool-dumpxml {pool}"));
    for wanted in [
        "<host name='127.0.0.1'/>",
        "<dir path='/export/rvirt'/>",
        "<format type='nfs'/>",
        "<protocol ver='3'/>",
        "<fs:option name='retry=0'/>",
    ] {
        assert!(dumped.contains(wanted), "{wanted} in {dumped}");
    }

    // The same share cannot back a second pool.
    let other = unique("rvtnfs");
    let error = refused(
        &qemu,
        &format!(
            "pool-define-as {other} netfs --source-host 127.0.0.1 --source-path /export/rvirt \
             --target {}",
            dir.join("other").display()
        ),
    );
    assert!(
        error.contains(&format!("Storage source conflict with pool: '{pool}'")),
        "{error}"
    );

    // A build makes the mount point; there is no device to format.
    ok(&qemu, &format!("pool-build {pool}"));
    assert!(target.is_dir());
    let error = refused(&qemu, &format!("pool-build {pool} --overwrite"));
    assert!(
        error.contains(&format!(
            "No source device specified when formatting pool '{pool}'"
        )),
        "{error}"
    );

    let error = refused(&qemu, &format!("pool-start {pool}"));
    assert!(error.contains("mount"), "mount's reason: {error}");
    assert_eq!(mounted_in(pid, &target), None, "nothing is mounted");
    assert!(ok(&qemu, &format!("pool-info {pool}")).contains("inactive"));
    ok(&qemu, &format!("pool-delete {pool}"));
    assert!(!target.exists());
    ok(&qemu, &format!("pool-undefine {pool}"));
    assert!(!ok(&qemu, "pool-list --all").contains(&pool));
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

/// rvirsh under a pseudo-terminal (`script`), so that it draws its progress bars: what it
/// printed, and whether it succeeded.
fn rvirsh_on_a_terminal(uri: &str, command: &str) -> (bool, String) {
    let (rvirsh, _) = crate::common::built_binaries();
    let line = format!("{} -c '{uri}' {command}", rvirsh.display());
    let output = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .expect("script runs rvirsh");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// `vol-upload`/`vol-download` through rvirtd's streams with rvirsh: the bytes arrive
/// intact, a range lands where it was asked, a sparse download stays sparse, a terminal gets
/// a progress bar, and a failed download leaves no file.
#[test]
fn rvirsh_uploads_and_downloads_volumes_with_a_progress_bar() {
    let sandbox = Sandbox::new("rvirt-volstream-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let target = dir.join("images");
    let pool = unique("rvtstream");
    ok(
        &qemu,
        &format!("pool-define-as {pool} dir --target {}", target.display()),
    );
    ok(&qemu, &format!("pool-build {pool}; pool-start {pool}"));
    ok(
        &qemu,
        &format!("vol-create-as {pool} data.raw 16M --allocation 0"),
    );

    // 8 MiB of a pattern, then 8 MiB of zeroes.
    let mut content: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    content.resize(16 << 20, 0);
    let upload = dir.join("upload.bin");
    std::fs::write(&upload, &content).expect("upload file");
    let (uploaded, shown) = rvirsh_on_a_terminal(
        &qemu,
        &format!(
            "vol-upload data.raw {} --pool {pool} --sparse",
            upload.display()
        ),
    );
    assert!(uploaded, "{shown}");
    assert!(
        shown.contains("Upload [##############################] 100 %  16.00 MiB / 16.00 MiB"),
        "a terminal gets a progress bar: {shown:?}"
    );
    let volume_file = target.join("data.raw");
    assert_eq!(std::fs::read(&volume_file).expect("volume"), content);

    // A range: 4 KiB at 1 MiB (rvirsh sends no more than the length; the daemon, as
    // libvirtd, refuses more).
    let patch = dir.join("patch.bin");
    std::fs::write(&patch, vec![0xabu8; 8192]).expect("patch");
    let (patched, shown) = rvirsh_on_a_terminal(
        &qemu,
        &format!(
            "vol-upload data.raw {} --pool {pool} --offset 1048576 --length 4096",
            patch.display()
        ),
    );
    assert!(patched, "{shown}");
    content[1 << 20..(1 << 20) + 4096].fill(0xab);
    assert_eq!(std::fs::read(&volume_file).expect("volume"), content);

    let download = dir.join("download.bin");
    let (downloaded, shown) = rvirsh_on_a_terminal(
        &qemu,
        &format!(
            "vol-download data.raw {} --pool {pool} --sparse",
            download.display()
        ),
    );
    assert!(downloaded, "{shown}");
    assert!(shown.contains("Download ["), "{shown:?}");
    assert_eq!(std::fs::read(&download).expect("download"), content);
    use std::os::unix::fs::MetadataExt;
    let blocks = std::fs::metadata(&download).expect("stat").blocks();
    assert!(
        blocks * 512 < 12 << 20,
        "the zero tail stays a hole: {blocks} blocks"
    );

    // Without a terminal, no bar; a failed download leaves no file behind.
    let quiet = ok(
        &qemu,
        &format!(
            "vol-download data.raw {} --pool {pool}",
            dir.join("q.bin").display()
        ),
    );
    assert!(!quiet.contains("Download ["), "{quiet}");
    let error = refused(
        &qemu,
        &format!(
            "vol-upload data.raw {} --pool {pool}",
            dir.join("missing").display()
        ),
    );
    assert!(error.contains("cannot read"), "{error}");
    let (rvirsh, _) = crate::common::built_binaries();
    let failed = Command::new(rvirsh)
        .args(["-c", &qemu, "vol-download", "nosuch.raw"])
        .arg(dir.join("nosuch.bin"))
        .args(["--pool", &pool])
        .output()
        .expect("rvirsh");
    assert!(!failed.status.success());
    assert!(!dir.join("nosuch.bin").exists());

    // rvirsh's other volume commands: clone, resize (grow, a shrinking delta), wipe.
    let rvirsh_ok = |command: &str| {
        let (succeeded, shown) = rvirsh_on_a_terminal(&qemu, command);
        assert!(succeeded, "rvirsh {command}: {shown}");
        shown
    };
    let shown = rvirsh_ok(&format!("vol-clone data.raw copy.raw --pool {pool}"));
    assert!(
        shown.contains("Vol copy.raw cloned from data.raw"),
        "{shown}"
    );
    let copy = target.join("copy.raw");
    assert_eq!(std::fs::read(&copy).expect("clone"), content);
    let shown = rvirsh_ok(&format!("vol-resize copy.raw 32M --pool {pool}"));
    assert!(
        shown.contains("Size of volume 'copy.raw' successfully changed to 32M"),
        "{shown}"
    );
    assert_eq!(std::fs::metadata(&copy).expect("stat").len(), 32 << 20);
    let (shrunk, shown) =
        rvirsh_on_a_terminal(&qemu, &format!("vol-resize copy.raw -8M --pool {pool}"));
    assert!(
        !shrunk && shown.contains("negative size requires --shrink"),
        "{shown}"
    );
    rvirsh_ok(&format!("vol-resize copy.raw -8M --shrink --pool {pool}"));
    assert_eq!(std::fs::metadata(&copy).expect("stat").len(), 24 << 20);
    let shown = rvirsh_ok(&format!("vol-wipe copy.raw --pool {pool}"));
    assert!(shown.contains("Vol copy.raw wiped"), "{shown}");
    let wiped = std::fs::read(&copy).expect("wiped");
    assert_eq!(wiped.len(), 24 << 20);
    assert!(
        wiped.iter().all(|&byte| byte == 0),
        "a wiped volume reads as zeroes"
    );
}

/// Whether this kernel has device-mapper, without which LVM cannot activate a logical volume.
fn kernel_has_device_mapper() -> bool {
    std::fs::read_to_string("/proc/misc").is_ok_and(|misc| misc.contains("device-mapper"))
}

/// A loop device over a new image file, detached when dropped.
struct LoopDevice {
    path: String,
}

impl LoopDevice {
    fn new(image: &Path, bytes: u64) -> LoopDevice {
        std::fs::File::create(image)
            .and_then(|file| file.set_len(bytes))
            .expect("an image file");
        let output = Command::new("losetup")
            .args(["-f", "--show"])
            .arg(image)
            .output()
            .expect("losetup");
        assert!(output.status.success(), "losetup: {output:?}");
        LoopDevice {
            path: String::from_utf8_lossy(&output.stdout).trim().to_string(),
        }
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.path]).status();
    }
}

/// `vgs` of a volume group as LVM sees it: `Some(size)` when the group exists.
fn volume_group_size(group: &str) -> Option<u64> {
    let output = Command::new("vgs")
        .args([
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "-o",
            "vg_size",
            group,
        ])
        .output()
        .expect("vgs");
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// A `logical` pool on a loop device: `pool-build` makes the physical volume and the volume
/// group (real LVM), start/refresh read its size, a second build is refused, a volume is made
/// with `lvcreate` (or, on a kernel without device-mapper, refused with LVM's reason and
/// nothing left), and `pool-delete` takes the group and the physical volume away.
#[test]
fn logical_pool_on_a_loop_device_through_virsh() {
    let sandbox = Sandbox::new("rvirt-lvmpool-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let device = LoopDevice::new(&dir.join("pv.img"), 64 << 20);
    let pool = unique("rvtvg");
    ok(
        &qemu,
        &format!(
            "pool-define-as {pool} logical --source-dev {} --source-name {pool}",
            device.path
        ),
    );
    let xml = ok(&qemu, &format!("pool-dumpxml {pool}"));
    assert!(
        xml.contains(&format!("<path>/dev/{pool}</path>")) && xml.contains("<format type='lvm2'/>"),
        "{xml}"
    );
    ok(&qemu, &format!("pool-build {pool}"));
    let size = volume_group_size(&pool).expect("pool-build made the volume group");
    assert!(size > 32 << 20 && size <= 64 << 20, "{size}");
    let error = refused(&qemu, &format!("pool-build {pool}"));
    assert!(
        error.contains("already formatted using 'LVM2_member'"),
        "a second build does not overwrite: {error}"
    );

    ok(&qemu, &format!("pool-start {pool}"));
    let info = ok(&qemu, &format!("pool-info {pool} --bytes"));
    assert!(info.contains(&format!("Capacity:       {size}")), "{info}");
    let error = refused(&qemu, &format!("vol-create-as {pool} big 1G"));
    assert!(error.contains("Not enough space left"), "{error}");
    let created = crate::network_driver::virsh(&qemu, &format!("vol-create-as {pool} lv0 8M"));
    if kernel_has_device_mapper() {
        assert!(created.status.success(), "{created:?}");
        let path = ok(&qemu, &format!("vol-path lv0 --pool {pool}"));
        assert_eq!(path.trim(), format!("/dev/{pool}/lv0"));
        ok(&qemu, &format!("vol-delete lv0 --pool {pool}"));
    } else {
        // No device-mapper here (this machine's kernel): LVM says why, nothing is made.
        let error = String::from_utf8_lossy(&created.stderr);
        assert!(!created.status.success(), "lvcreate cannot work here");
        assert!(error.contains("device-mapper"), "{error}");
    }
    assert!(!ok(&qemu, &format!("vol-list {pool}")).contains("lv0"));
    ok(&qemu, &format!("pool-destroy {pool}"));
    ok(&qemu, &format!("pool-delete {pool}"));
    assert_eq!(
        volume_group_size(&pool),
        None,
        "pool-delete removes the group"
    );
    let labels = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "TYPE", &device.path])
        .output()
        .expect("blkid");
    assert!(
        String::from_utf8_lossy(&labels.stdout).trim().is_empty(),
        "and the physical volume label"
    );
    ok(&qemu, &format!("pool-undefine {pool}"));
}

/// An encrypted volume: qemu-img makes a LUKS image keyed with the volume secret's value
/// (written for it in a root-only file, removed after); a secret of another usage type or a
/// missing one is refused with libvirt's error and leaves no file.
#[test]
fn luks_volume_is_made_with_its_volume_secret() {
    let sandbox = Sandbox::new("rvirt-lukspool-");
    let qemu = sandbox.uri("qemu");
    let dir = sandbox.dir.path().to_path_buf();
    let target = dir.join("images");
    let pool = unique("rvtluks");
    ok(
        &qemu,
        &format!("pool-define-as {pool} dir --target {}", target.display()),
    );
    ok(&qemu, &format!("pool-build {pool}; pool-start {pool}"));
    let write = |name: &str, text: &str| crate::secret_driver::write(&dir, name, text);
    let image = target.join("enc.img");
    let uuid = "6a9d5a3e-51c5-4c6e-9d0b-4f4e7b1c2d3e";
    let secret = write(
        "secret.xml",
        &format!(
            "<secret ephemeral='no' private='yes'><uuid>{uuid}</uuid>\
             <usage type='volume'><volume>{}</volume></usage></secret>",
            image.display()
        ),
    );
    ok(&qemu, &format!("secret-define {secret}"));
    let value = write("value", "correct horse");
    ok(
        &qemu,
        &format!("secret-set-value {uuid} --file {value} --plain"),
    );
    let volume_xml = |name: &str, secret_uuid: &str| {
        write(
            &format!("{name}.xml"),
            &format!(
                "<volume><name>{name}</name><capacity unit='M'>16</capacity>\
                 <allocation>0</allocation><target><format type='raw'/>\
                 <encryption format='luks'><secret type='passphrase' uuid='{secret_uuid}'/>\
                 </encryption></target></volume>"
            ),
        )
    };
    ok(
        &qemu,
        &format!("vol-create {pool} {}", volume_xml("enc.img", uuid)),
    );
    let opened = Command::new("qemu-img")
        .args(["info", "--output=json", "--object"])
        .arg("secret,id=k,data=correct horse")
        .arg("--image-opts")
        .arg(format!(
            "driver=luks,key-secret=k,file.filename={}",
            image.display()
        ))
        .output()
        .expect("qemu-img info");
    assert!(
        opened.status.success(),
        "the image opens with the secret's value: {}",
        String::from_utf8_lossy(&opened.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&opened.stdout).expect("json");
    assert_eq!(info["format"].as_str(), Some("luks"), "{info}");
    assert_eq!(info["virtual-size"].as_u64(), Some(16 << 20), "{info}");
    let leftovers: Vec<_> = crate::qemu::walk(&dir)
        .into_iter()
        .filter(|path| path.to_string_lossy().ends_with(".secret"))
        .collect();
    assert!(leftovers.is_empty(), "no secret file stays: {leftovers:?}");

    // A ceph secret is not a volume secret; a missing one is no secret at all.
    let ceph_uuid = "0f1e2d3c-4b5a-4697-8877-665544332211";
    let ceph = write(
        "ceph.xml",
        &format!(
            "<secret ephemeral='no' private='no'><uuid>{ceph_uuid}</uuid>\
             <usage type='ceph'><name>client.admin</name></usage></secret>"
        ),
    );
    ok(&qemu, &format!("secret-define {ceph}"));
    ok(
        &qemu,
        &format!("secret-set-value {ceph_uuid} --file {value} --plain"),
    );
    let error = refused(
        &qemu,
        &format!("vol-create {pool} {}", volume_xml("wrong.img", ceph_uuid)),
    );
    assert!(
        error.contains(&format!(
            "secret with uuid {ceph_uuid} is of type 'ceph' not expected 'volume' type"
        )),
        "{error}"
    );
    let missing = "11111111-2222-4333-8444-555555555555";
    let error = refused(
        &qemu,
        &format!("vol-create {pool} {}", volume_xml("missing.img", missing)),
    );
    assert!(
        error.contains(&format!("no secret with matching uuid '{missing}'")),
        "{error}"
    );
    assert!(!target.join("wrong.img").exists() && !target.join("missing.img").exists());
}
