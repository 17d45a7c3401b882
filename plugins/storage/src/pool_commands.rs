//! The programs an `fs`, `netfs` or `logical` pool is run with, as libvirt's fs and logical
//! backends build their command lines: `mount`/`umount` and `mkfs` for filesystem pools,
//! `pvcreate`/`vgcreate`/`vgchange`/`vgremove`/`pvremove` and `lvcreate`/`lvremove` for volume
//! groups, and the reading of `vgs`/`lvs` reports.
//!
//! Pure: a command is a program name and its arguments; the caller decides where the program
//! lives and runs it. libvirt's `storagepoolxml2argvdata` goldens are reproduced from here
//! (`cargo xtask storage-argv-conformance`).

use virt_core::{ErrorNumber, Result};
use virt_xml::storage::{PoolNamespace, PoolType, StoragePool};

use virt_plugin_sdk::command_line::shell_quote;

use crate::error::storage_error;

/// One program run: its name (as libvirt's goldens write it) and arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    pub program: &'static str,
    pub args: Vec<String>,
}

impl Command {
    fn new(program: &'static str, args: impl IntoIterator<Item = impl Into<String>>) -> Command {
        Command {
            program,
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// libvirt's `virCommandToStringFull(cmd, linebreaks=true, stripCommandPath=true)`: an
    /// option starts a new line; a word after an option stays on its line when an option
    /// precedes or follows it; words with shell metacharacters are single-quoted.
    pub fn to_golden_text(&self) -> String {
        let mut text = shell_quote(self.program);
        let mut had_option = false;
        for (i, arg) in self.args.iter().enumerate() {
            text.push(' ');
            let linebreak = if arg.starts_with('-') {
                had_option = true;
                true
            } else {
                // args[i - 1] is the previous word; the program name is no option.
                let from = i.saturating_sub(1);
                let option_around = i > 0 && self.args[from..].iter().any(|a| a.starts_with('-'));
                !(had_option && option_around)
            };
            if linebreak {
                text.push_str("\\\n");
            }
            text.push_str(&shell_quote(arg));
        }
        text.push('\n');
        text
    }
}

/// Whose `mount` the options are for: libvirt adds its default mount options per platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Linux,
    FreeBsd,
    /// Neither (libvirt's goldens without a platform suffix).
    Other,
}

impl Platform {
    fn default_mount_options(self) -> &'static str {
        match self {
            Platform::Linux => "nodev,nosuid,noexec",
            Platform::FreeBsd => "nosuid,noexec",
            Platform::Other => "",
        }
    }
}

fn source_format(pool: &StoragePool) -> &str {
    pool.source
        .as_ref()
        .and_then(|source| source.format.as_ref())
        .and_then(|format| format.format_type.as_deref())
        .unwrap_or("auto")
}

fn target_path(pool: &StoragePool) -> &str {
    pool.target
        .as_ref()
        .and_then(|target| target.path.as_deref())
        .unwrap_or("")
}

/// What an `fs` or `netfs` pool mounts (`virStorageBackendFileSystemGetPoolSource`): the
/// device path, `HOST:DIR`, or `//HOST/DIR` for CIFS.
pub fn mount_source(pool: &StoragePool) -> Result<String> {
    let source = pool.source.as_ref();
    if pool.pool_type == Some(PoolType::Netfs) {
        let host = source
            .and_then(|source| source.hosts.first())
            .and_then(|host| host.name.as_deref());
        let dir = source
            .and_then(|source| source.dir.as_ref())
            .and_then(|dir| dir.path.as_deref());
        let (Some(host), Some(dir)) = (host, dir) else {
            return Err(storage_error(
                ErrorNumber::INVALID_ARG,
                "missing source host or directory of the network filesystem",
            ));
        };
        return Ok(if source_format(pool) == "cifs" {
            format!("//{host}/{dir}")
        } else {
            format!("{host}:{dir}")
        });
    }
    source
        .and_then(|source| source.devices.first())
        .and_then(|device| device.path.clone())
        .ok_or_else(|| storage_error(ErrorNumber::INVALID_ARG, "missing source device"))
}

/// `-o` of a mount: the platform's defaults, what the format needs, then the pool's own
/// `<fs:mount_opts>`.
fn mount_options(pool: &StoragePool, platform: Platform, provided: Option<&str>) -> Vec<String> {
    let mut options: Vec<&str> = Vec::new();
    let defaults = platform.default_mount_options();
    if !defaults.is_empty() {
        options.push(defaults);
    }
    if let Some(provided) = provided {
        options.push(provided);
    }
    if let Some(PoolNamespace::FsMountOptions(custom)) = &pool.namespace {
        options.extend(custom.iter().map(String::as_str));
    }
    if options.is_empty() {
        Vec::new()
    } else {
        vec!["-o".to_string(), options.join(",")]
    }
}

/// `virStorageBackendFileSystemMountCmd`: how a pool's filesystem is mounted on its target.
pub fn mount(pool: &StoragePool, source: &str, platform: Platform) -> Command {
    let netfs = pool.pool_type == Some(PoolType::Netfs);
    let format = source_format(pool);
    let nfs_version = pool
        .source
        .as_ref()
        .and_then(|source| source.protocol.as_ref())
        .and_then(|protocol| protocol.ver.as_deref())
        .filter(|_| netfs)
        .map(|ver| format!("nfsvers={ver}"));
    let target = target_path(pool);
    let mut args = Vec::new();
    match (netfs, format) {
        // `mount -t auto` finds neither NFS nor CIFS; a plain mount does.
        (true, "auto") => {
            args.extend(mount_options(pool, platform, nfs_version.as_deref()));
        }
        (true, "glusterfs") => {
            args.extend(mount_options(pool, platform, Some("direct-io-mode=1")));
            args.extend(["-t".to_string(), format.to_string()]);
        }
        (true, "cifs") => {
            args.extend(mount_options(pool, platform, Some("guest")));
            args.extend(["-t".to_string(), format.to_string()]);
        }
        _ => {
            args.extend(mount_options(pool, platform, nfs_version.as_deref()));
            args.extend(["-t".to_string(), format.to_string()]);
        }
    }
    args.extend([source.to_string(), target.to_string()]);
    Command::new("mount", args)
}

/// `umount TARGET`.
pub fn umount(pool: &StoragePool) -> Command {
    Command::new("umount", [target_path(pool)])
}

/// `mkfs -t FORMAT [-f|-F|-I] DEVICE`: what `pool-build` with an overwrite flag makes an `fs`
/// pool's device with (`virStorageBackendExecuteMKFS`; `auto` names no filesystem to make).
pub fn mkfs(pool: &StoragePool, device: &str) -> Result<Command> {
    let format = source_format(pool);
    if format == "auto" {
        return Err(storage_error(
            ErrorNumber::OPERATION_INVALID,
            format!("No source format given: cannot make a filesystem on device '{device}'"),
        ));
    }
    let mut args = vec!["-t".to_string(), format.to_string()];
    // Each mkfs has its own word for "overwrite what is there".
    match format {
        "xfs" => args.push("-f".to_string()),
        "ext2" | "ext3" | "ext4" => args.push("-F".to_string()),
        "vfat" => args.push("-I".to_string()),
        _ => {}
    }
    args.push(device.to_string());
    Ok(Command::new("mkfs", args))
}

/// `blkid -p -o value -s TYPE DEVICE`: the filesystem already on a device (blkid exits 2 when
/// it finds none), which a build without overwrite must not destroy.
pub fn blkid_type(device: &str) -> Command {
    Command::new("blkid", ["-p", "-o", "value", "-s", "TYPE", device])
}

/// What `/proc/mounts` says is mounted on `target` (the last mount there wins, as it hides
/// the others): the mounted device, a loop device for an image file.
pub fn mounted_on(mounts: &str, target: &str) -> Option<String> {
    // /proc/mounts escapes a space, tab, newline and backslash in paths as octal.
    let unescape = |field: &str| {
        field
            .replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\")
    };
    let target = target.trim_end_matches('/');
    mounts.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let fsname = unescape(fields.next()?);
        let dir = unescape(fields.next()?);
        (dir.trim_end_matches('/') == target).then_some(fsname)
    })
}

/// The loop device name in a mount's source (`/dev/loop3` → `loop3`), whose
/// `/sys/block/NAME/loop/backing_file` names the image it shows.
pub fn loop_device_name(fsname: &str) -> Option<&str> {
    fsname
        .strip_prefix("/dev/")
        .filter(|name| name.starts_with("loop") && name[4..].chars().all(|c| c.is_ascii_digit()))
}

/// The volume group of a `logical` pool (its `<source><name>`, which libvirt defaults to the
/// pool's name).
pub fn volume_group(pool: &StoragePool) -> &str {
    pool.source
        .as_ref()
        .and_then(|source| source.name.as_deref())
        .or(pool.name.as_deref())
        .unwrap_or("")
}

/// The physical volumes a `logical` pool is built on (`<source><device path>`).
pub fn physical_volumes(pool: &StoragePool) -> Vec<String> {
    pool.source
        .iter()
        .flat_map(|source| source.devices.iter())
        .filter_map(|device| device.path.clone())
        .collect()
}

/// `virStorageBackendLogicalChangeCmd`: `vgchange -aly VG` (or `-aln` to deactivate).
pub fn vgchange(pool: &StoragePool, on: bool) -> Command {
    Command::new(
        "vgchange",
        [if on { "-aly" } else { "-aln" }, volume_group(pool)],
    )
}

/// `pvcreate DEVICE`, one per device, before `vgcreate`.
pub fn pvcreate(device: &str) -> Command {
    Command::new("pvcreate", [device])
}

/// `vgcreate VG DEVICE...`.
pub fn vgcreate(pool: &StoragePool) -> Command {
    let mut args = vec![volume_group(pool).to_string()];
    args.extend(physical_volumes(pool));
    Command::new("vgcreate", args)
}

/// `vgremove -f VG`.
pub fn vgremove(pool: &StoragePool) -> Command {
    Command::new("vgremove", ["-f", volume_group(pool)])
}

/// `pvremove DEVICE`.
pub fn pvremove(device: &str) -> Command {
    Command::new("pvremove", [device])
}

/// `lvcreate --name NAME -L SIZEK [--virtualsize ...] VG`, as libvirt's logical backend makes
/// a volume (a sparse volume when the allocation is below the capacity).
pub fn lvcreate(pool: &StoragePool, name: &str, capacity: u64, allocation: u64) -> Command {
    let kib = crate::qemu_img::size_in_kib;
    let mut args = vec!["--name".to_string(), name.to_string()];
    if allocation < capacity {
        args.extend(["-L".to_string(), kib(allocation)]);
        args.extend(["--virtualsize".to_string(), kib(capacity)]);
    } else {
        args.extend(["-L".to_string(), kib(capacity)]);
    }
    // lvcreate asks before wiping an old signature it finds: libvirt's answer is yes.
    args.push("--yes".to_string());
    args.push(volume_group(pool).to_string());
    Command::new("lvcreate", args)
}

/// `lvremove -f VG/NAME`.
pub fn lvremove(pool: &StoragePool, name: &str) -> Command {
    Command::new(
        "lvremove",
        ["-f".to_string(), format!("{}/{name}", volume_group(pool))],
    )
}

/// The figures `vgs` tells of a volume group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupFigures {
    pub size: u64,
    pub free: u64,
}

/// An LVM report (`vgs`, `lvs`) of the pool's group, in bytes, `:`-separated, no header.
fn lvm_report(program: &'static str, fields: &str, pool: &StoragePool) -> Command {
    Command::new(
        program,
        [
            "--noheadings",
            "--units",
            "b",
            "--nosuffix",
            "--separator",
            ":",
            "-o",
            fields,
            volume_group(pool),
        ],
    )
}

/// `vgs ... -o vg_name,vg_size,vg_free VG`.
pub fn vgs(pool: &StoragePool) -> Command {
    lvm_report("vgs", "vg_name,vg_size,vg_free", pool)
}

/// Reads `vgs`' line for the group.
pub fn parse_vgs(output: &str, group: &str) -> Option<GroupFigures> {
    output.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let name = fields.next()?;
        let size = fields.next()?.trim().parse().ok()?;
        let free = fields.next()?.trim().parse().ok()?;
        (name == group).then_some(GroupFigures { size, free })
    })
}

/// One logical volume as `lvs` tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalVolume {
    pub name: String,
    pub size: u64,
    pub path: String,
}

/// `lvs ... -o lv_name,lv_size,lv_path VG`.
pub fn lvs(pool: &StoragePool) -> Command {
    lvm_report("lvs", "lv_name,lv_size,lv_path", pool)
}

/// Reads `lvs`' lines; a volume without a path (not active) gets `/dev/VG/NAME`.
pub fn parse_lvs(output: &str, group: &str) -> Vec<LogicalVolume> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let name = fields.next()?.trim();
            let size = fields.next()?.trim().parse().ok()?;
            let path = fields.next().map(str::trim).unwrap_or("");
            (!name.is_empty()).then(|| LogicalVolume {
                name: name.to_string(),
                size,
                path: if path.is_empty() {
                    format!("/dev/{group}/{name}")
                } else {
                    path.to_string()
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(xml: &str) -> StoragePool {
        StoragePool::parse(xml).expect("the pool parses")
    }

    #[test]
    fn a_loop_backed_fs_pool_mounts_its_image_with_linux_defaults() {
        let pool = pool(
            "<pool type='fs'><name>p</name><source><device path='/srv/p.img'/>\
             <format type='ext4'/></source><target><path>/srv/p</path></target></pool>",
        );
        let source = mount_source(&pool).expect("a device");
        let command = mount(&pool, &source, Platform::Linux);
        assert_eq!(
            command.to_golden_text(),
            "mount \\\n-o nodev,nosuid,noexec \\\n-t ext4 \\\n/srv/p.img \\\n/srv/p\n"
        );
        assert_eq!(mount(&pool, &source, Platform::Other).args[0], "-t");
        assert_eq!(umount(&pool).args, ["/srv/p"]);
        assert_eq!(
            mkfs(&pool, &source).expect("ext4 is made").args,
            ["-t", "ext4", "-F", "/srv/p.img"]
        );
    }

    #[test]
    fn the_mount_table_tells_what_is_mounted_on_a_target() {
        let mounts = "/dev/loop0 /srv/p ext4 rw 0 0\n/dev/sdb1 /srv/my\\040pool ext4 rw 0 0\n";
        assert_eq!(mounted_on(mounts, "/srv/p/").as_deref(), Some("/dev/loop0"));
        assert_eq!(
            mounted_on(mounts, "/srv/my pool").as_deref(),
            Some("/dev/sdb1")
        );
        assert_eq!(mounted_on(mounts, "/srv/q"), None);
        assert_eq!(loop_device_name("/dev/loop0"), Some("loop0"));
        assert_eq!(loop_device_name("/dev/loopback"), None);
        assert_eq!(loop_device_name("/dev/sdb1"), None);
    }

    #[test]
    fn netfs_sources_and_options_follow_the_format() {
        let nfs = pool(
            "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>\
             <name>n</name><source><host name='h'/><dir path='/e'/><format type='auto'/>\
             <protocol ver='4'/></source><target><path>/m</path></target>\
             <fs:mount_opts><fs:option name='sync'/></fs:mount_opts></pool>",
        );
        let source = mount_source(&nfs).expect("host and dir");
        assert_eq!(source, "h:/e");
        assert_eq!(
            mount(&nfs, &source, Platform::FreeBsd).args,
            ["-o", "nosuid,noexec,nfsvers=4,sync", "h:/e", "/m"]
        );
        let cifs = pool(
            "<pool type='netfs'><name>c</name><source><host name='h'/><dir path='share'/>\
             <format type='cifs'/></source><target><path>/m</path></target></pool>",
        );
        let source = mount_source(&cifs).expect("host and dir");
        assert_eq!(source, "//h/share");
        assert_eq!(
            mount(&cifs, &source, Platform::Other).args,
            ["-o", "guest", "-t", "cifs", "//h/share", "/m"]
        );
    }

    #[test]
    fn an_fs_pool_without_a_format_cannot_be_built() {
        let pool = pool(
            "<pool type='fs'><name>p</name><source><device path='/d'/></source>\
             <target><path>/m</path></target></pool>",
        );
        let error = mkfs(&pool, "/d").expect_err("auto is no filesystem");
        assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    }

    #[test]
    fn lvm_commands_name_the_group_and_its_devices() {
        let pool = pool(
            "<pool type='logical'><name>vg0</name><source><device path='/dev/loop3'/>\
             <device path='/dev/loop4'/></source><target><path>/dev/vg0</path></target></pool>",
        );
        assert_eq!(volume_group(&pool), "vg0");
        assert_eq!(
            vgchange(&pool, true).to_golden_text(),
            "vgchange \\\n-aly vg0\n"
        );
        assert_eq!(vgchange(&pool, false).args, ["-aln", "vg0"]);
        assert_eq!(vgcreate(&pool).args, ["vg0", "/dev/loop3", "/dev/loop4"]);
        assert_eq!(
            lvcreate(&pool, "a", 8 << 20, 1 << 20).args,
            [
                "--name",
                "a",
                "-L",
                "1024K",
                "--virtualsize",
                "8192K",
                "--yes",
                "vg0"
            ]
        );
        assert_eq!(lvremove(&pool, "a").args, ["-f", "vg0/a"]);
    }

    #[test]
    fn vgs_and_lvs_reports_are_read() {
        assert_eq!(
            parse_vgs("  other:1:1\n  vg0:62914560:54525952\n", "vg0"),
            Some(GroupFigures {
                size: 62_914_560,
                free: 54_525_952
            })
        );
        assert_eq!(parse_vgs("", "vg0"), None);
        assert_eq!(
            parse_lvs("  a:8388608:/dev/vg0/a\n  b:4194304:\n", "vg0"),
            vec![
                LogicalVolume {
                    name: "a".into(),
                    size: 8_388_608,
                    path: "/dev/vg0/a".into()
                },
                LogicalVolume {
                    name: "b".into(),
                    size: 4_194_304,
                    path: "/dev/vg0/b".into()
                },
            ]
        );
    }
}
