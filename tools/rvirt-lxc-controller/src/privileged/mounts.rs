//! The container's mount tree, assembled inside its own mount namespace on an empty staging
//! directory and then made its root with `pivot_root`.
//!
//! Order: the root filesystem, the other `<filesystem>` entries (parents before children),
//! `/proc` (a fresh procfs with `/proc/sys` and friends read-only), `/sys` (read-only, with
//! the container's own cgroups mounted read-only under `/sys/fs/cgroup` through its cgroup
//! namespace), then `/dev` (see [`super::devices`]).
//!
//! Mount targets inside the container are resolved with `openat2(RESOLVE_IN_ROOT)`: a
//! symlink in a container's root can never send a host directory somewhere outside it.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{mkdirat, Mode};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, pivot_root};

use super::cgroups::{Layout, Version};
use super::error::{Context, Failure, Result};
use rvirt_lxc_controller::spec::{ContainerSpec, FilesystemSource};

/// The path that names an open file descriptor, for mounting onto exactly that inode.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `struct open_how` of openat2(2) (libc's is non-exhaustive).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(root, path, RESOLVE_IN_ROOT)`: `path` resolved as if `root` were `/`.
fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let relative: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    let relative = if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    };
    let c_path = CString::new(relative.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | OFlag::O_CLOEXEC).bits() as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `c_path` is a NUL-terminated string and `how` a valid `open_how` that both
    // outlive the call; the size passed is the size of that struct. The kernel only reads them.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c_path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    let fd = Errno::result(fd)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A directory inside the root, created (with its parents) if missing; an `O_PATH` handle.
pub fn ensure_dir(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd> {
    match open_in_root(root, path, OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(Failure::system(
                    format!("cannot open {}", path.display()),
                    Errno::ENOENT,
                ));
            };
            let parent_fd = ensure_dir(root, parent)?;
            match mkdirat(
                Some(parent_fd.as_raw_fd()),
                name,
                Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => {
                    return Err(Failure::system(
                        format!(
                            "cannot create directory {} in the container",
                            path.display()
                        ),
                        errno,
                    ))
                }
            }
            open_in_root(root, path, OFlag::O_PATH | OFlag::O_DIRECTORY)
                .context(|| format!("cannot open directory {} in the container", path.display()))
        }
        Err(errno) => Err(Failure::system(
            format!("cannot open directory {} in the container", path.display()),
            errno,
        )),
    }
}

/// A file inside the root (a bind target for a file), created empty if missing.
pub fn ensure_file(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd> {
    match open_in_root(root, path, OFlag::O_PATH) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(Failure::system(
                    format!("cannot open {}", path.display()),
                    Errno::ENOENT,
                ));
            };
            let parent_fd = ensure_dir(root, parent)?;
            let flags = OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
            let created = openat(
                Some(parent_fd.as_raw_fd()),
                name,
                flags,
                Mode::from_bits_truncate(0o644),
            )
            .context(|| format!("cannot create file {} in the container", path.display()))?;
            // SAFETY: `openat` returned a new descriptor that nothing else owns; dropping closes it.
            drop(unsafe { OwnedFd::from_raw_fd(created) });
            open_in_root(root, path, OFlag::O_PATH)
                .context(|| format!("cannot open file {} in the container", path.display()))
        }
        Err(errno) => Err(Failure::system(
            format!("cannot open {} in the container", path.display()),
            errno,
        )),
    }
}

fn mount_on(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> Result<()> {
    mount(source, &fd_path(target), fstype, flags, data).context(|| format!("cannot mount {what}"))
}

/// Makes the mount at `path` read-only, keeping the flags the kernel locks (in a user
/// namespace a remount must not drop nosuid/nodev/noexec).
pub fn remount_readonly(path: &Path, what: &str) -> Result<()> {
    let current = statvfs(path)
        .context(|| format!("cannot stat {what}"))?
        .flags();
    let mut flags = MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY;
    for (fs_flag, ms_flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if current.contains(fs_flag) {
            flags |= ms_flag;
        }
    }
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .context(|| format!("cannot make {what} read-only"))
}

/// Stops mount events from flowing between the host and the container.
pub fn make_private() -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context(|| "cannot make the container's mounts private")
}

/// What `assemble` needs to know beyond the spec.
pub struct MountPlan<'a> {
    pub spec: &'a ContainerSpec,
    pub staging: &'a Path,
    /// The container has its own network namespace (so a fresh sysfs shows only its links).
    pub own_network: bool,
    pub user_namespace: bool,
}

/// Builds the container's tree on `plan.staging` (everything but `/dev` and the cgroups).
/// Returns a handle on the staged root.
pub fn assemble(plan: &MountPlan<'_>) -> Result<OwnedFd> {
    let spec = plan.spec;
    let root_source = match spec.root() {
        Some(root) => match &root.source {
            FilesystemSource::Bind { dir } => Some(dir.as_path()),
            FilesystemSource::Ram { .. } => None,
        },
        None => Some(Path::new("/")),
    };
    match (root_source, spec.root()) {
        (Some(dir), _) => mount(
            Some(dir),
            plan.staging,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .context(|| format!("cannot bind-mount the root filesystem {}", dir.display()))?,
        (None, Some(root)) => {
            let size = match root.source {
                FilesystemSource::Ram { size_kib } if size_kib > 0 => {
                    format!("mode=755,size={size_kib}k")
                }
                _ => "mode=755".into(),
            };
            mount(
                Some("tmpfs"),
                plan.staging,
                Some("tmpfs"),
                MsFlags::empty(),
                Some(size.as_str()),
            )
            .context(|| "cannot mount a tmpfs as the root filesystem")?
        }
        (None, None) => unreachable!("without a root entry the host's root is used"),
    }
    let root = nix::fcntl::open(
        plan.staging,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context(|| format!("cannot open {}", plan.staging.display()))?;
    // SAFETY: `open` returned a new descriptor that nothing else owns.
    let root = unsafe { OwnedFd::from_raw_fd(root) };

    let mut others: Vec<_> = spec
        .filesystems
        .iter()
        .filter(|fs| fs.target != Path::new("/"))
        .collect();
    others.sort_by_key(|fs| fs.target.components().count());
    for fs in others {
        let what = format!("filesystem {}", fs.target.display());
        match &fs.source {
            FilesystemSource::Bind { dir } => {
                let target = if dir.is_dir() {
                    ensure_dir(root.as_fd(), &fs.target)?
                } else {
                    ensure_file(root.as_fd(), &fs.target)?
                };
                mount_on(
                    Some(dir),
                    target.as_fd(),
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                    &format!("{} on {}", dir.display(), fs.target.display()),
                )?;
            }
            FilesystemSource::Ram { size_kib } => {
                let target = ensure_dir(root.as_fd(), &fs.target)?;
                let data = if *size_kib > 0 {
                    format!("mode=755,size={size_kib}k")
                } else {
                    "mode=755".into()
                };
                mount_on(
                    Some(Path::new("tmpfs")),
                    target.as_fd(),
                    Some("tmpfs"),
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some(&data),
                    &what,
                )?;
            }
        }
        if fs.readonly {
            // The descriptor names the directory under the new mount: look it up again.
            let mounted = open_in_root(root.as_fd(), &fs.target, OFlag::O_PATH)
                .context(|| format!("cannot open {what}"))?;
            remount_readonly(&fd_path(mounted.as_fd()), &what)?;
        }
    }

    mount_proc(root.as_fd())?;
    mount_sys(root.as_fd(), plan)?;
    Ok(root)
}

fn mount_proc(root: BorrowedFd<'_>) -> Result<()> {
    let proc_dir = ensure_dir(root, Path::new("/proc"))?;
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount_on(
        Some(Path::new("proc")),
        proc_dir.as_fd(),
        Some("proc"),
        safe,
        None,
        "proc on /proc",
    )?;
    // Kernel knobs stay read-only: the container must not reconfigure the host's kernel.
    for knob in ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"] {
        let Ok(fd) = open_in_root(root, Path::new(knob), OFlag::O_PATH) else {
            continue;
        };
        let path = fd_path(fd.as_fd());
        mount(
            Some(&path),
            &path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .context(|| format!("cannot bind-mount {knob}"))?;
        let mounted = open_in_root(root, Path::new(knob), OFlag::O_PATH)
            .context(|| format!("cannot open {knob}"))?;
        remount_readonly(&fd_path(mounted.as_fd()), knob)?;
    }
    Ok(())
}

fn mount_sys(root: BorrowedFd<'_>, plan: &MountPlan<'_>) -> Result<()> {
    let sys_dir = ensure_dir(root, Path::new("/sys"))?;
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if plan.own_network {
        mount_on(
            Some(Path::new("sysfs")),
            sys_dir.as_fd(),
            Some("sysfs"),
            safe | MsFlags::MS_RDONLY,
            None,
            "sysfs on /sys",
        )?;
    } else {
        // Without its own network namespace the container may not mount a sysfs of its own:
        // it gets the host's, without the host's submounts (cgroups, debugfs, ...) unless a
        // user namespace forces them along (they are locked to what they cover).
        let flags = if plan.user_namespace {
            MsFlags::MS_BIND | MsFlags::MS_REC
        } else {
            MsFlags::MS_BIND
        };
        mount_on(
            Some(Path::new("/sys")),
            sys_dir.as_fd(),
            None,
            flags,
            None,
            "/sys",
        )?;
        let mounted =
            open_in_root(root, Path::new("/sys"), OFlag::O_PATH).context(|| "cannot open /sys")?;
        remount_readonly(&fd_path(mounted.as_fd()), "/sys")?;
    }
    Ok(())
}

/// The container's own cgroups, read-only: each host hierarchy mounted again, which the
/// container's cgroup namespace roots at the container's group (so: only once the container
/// is in its group and has entered its cgroup namespace).
pub fn mount_cgroups(root: BorrowedFd<'_>, layout: &Layout) -> Result<()> {
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let base = Path::new("/sys/fs/cgroup");
    let Ok(base_fd) = open_in_root(root, base, OFlag::O_PATH | OFlag::O_DIRECTORY) else {
        return Ok(());
    };
    let pure_v2 = layout.hierarchies.len() == 1 && layout.hierarchies[0].mount_point == base;
    if pure_v2 {
        return mount_on(
            Some(Path::new("cgroup2")),
            base_fd.as_fd(),
            Some("cgroup2"),
            safe | MsFlags::MS_RDONLY,
            None,
            "cgroup2 on /sys/fs/cgroup",
        );
    }
    mount_on(
        Some(Path::new("tmpfs")),
        base_fd.as_fd(),
        Some("tmpfs"),
        safe,
        Some("mode=755"),
        "tmpfs on /sys/fs/cgroup",
    )?;
    for hierarchy in &layout.hierarchies {
        let Some(name) = hierarchy
            .mount_point
            .strip_prefix(base)
            .ok()
            .filter(|n| n.components().count() == 1)
        else {
            continue;
        };
        let target = ensure_dir(root, &base.join(name))?;
        let what = format!("cgroup hierarchy {}", base.join(name).display());
        match hierarchy.version {
            Version::V2 => mount_on(
                Some(Path::new("cgroup2")),
                target.as_fd(),
                Some("cgroup2"),
                safe | MsFlags::MS_RDONLY,
                None,
                &what,
            )?,
            Version::V1 => {
                let options = hierarchy.mount_options().unwrap_or_default();
                mount_on(
                    Some(Path::new("cgroup")),
                    target.as_fd(),
                    Some("cgroup"),
                    safe | MsFlags::MS_RDONLY,
                    Some(&options),
                    &what,
                )?
            }
        }
    }
    let mounted =
        open_in_root(root, base, OFlag::O_PATH).context(|| "cannot open /sys/fs/cgroup")?;
    remount_readonly(&fd_path(mounted.as_fd()), "/sys/fs/cgroup")
}

/// Makes the staged tree the root and drops the host's.
pub fn pivot(staging: &Path) -> Result<()> {
    chdir(staging).context(|| format!("cannot enter {}", staging.display()))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves
    // only the container's tree (pivot_root(2), "NOTES"). No put_old directory is needed.
    pivot_root(".", ".").context(|| "cannot pivot to the container's root")?;
    umount2(".", MntFlags::MNT_DETACH).context(|| "cannot detach the host's root")?;
    chdir("/").context(|| "cannot enter the container's root")
}
