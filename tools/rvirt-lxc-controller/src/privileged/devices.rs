//! The container's private `/dev`: a small tmpfs with the standard character devices, the
//! usual symlinks, its own devpts instance, `/dev/shm`, `/dev/mqueue`, and the console (the
//! pty whose other side the controller relays) bound on `/dev/console`.
//!
//! Device nodes are created with `mknod`; in a user namespace, where `mknod` is not allowed,
//! the host's nodes are bind-mounted instead.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::stat::{fchmodat, makedev, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::symlinkat;

use super::error::{Context, Result};
use super::mounts::{ensure_dir, ensure_file, fd_path};

/// The character devices every container gets: name, major, minor.
const NODES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Builds `/dev` inside the staged root.
pub fn populate(
    root: BorrowedFd<'_>,
    console_slave: &Path,
    user_namespace: bool,
    tty_gid_mapped: bool,
) -> Result<()> {
    let dev = ensure_dir(root, Path::new("/dev"))?;
    nix::mount::mount(
        Some("devfs"),
        &fd_path(dev.as_fd()),
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        Some("mode=755,size=65536"),
    )
    .context(|| "cannot mount a tmpfs on /dev")?;
    // The descriptor still names the directory below the new tmpfs: reopen.
    let dev = ensure_dir(root, Path::new("/dev"))?;
    let dev_fd = dev.as_raw_fd();

    for (name, major, minor) in NODES {
        if user_namespace {
            let target = ensure_file(root, &Path::new("/dev").join(name))?;
            nix::mount::mount(
                Some(&Path::new("/dev").join(name)),
                &fd_path(target.as_fd()),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .context(|| format!("cannot bind-mount /dev/{name}"))?;
        } else {
            mknodat(
                Some(dev_fd),
                name,
                SFlag::S_IFCHR,
                Mode::from_bits_truncate(0o666),
                makedev(major, minor),
            )
            .context(|| format!("cannot create /dev/{name}"))?;
            // mknod honours the umask; the nodes must be world-usable.
            fchmodat(
                Some(dev_fd),
                name,
                Mode::from_bits_truncate(0o666),
                FchmodatFlags::NoFollowSymlink,
            )
            .context(|| format!("cannot chmod /dev/{name}"))?;
        }
    }
    for (name, target) in LINKS {
        match symlinkat(target, Some(dev_fd), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => {
                return Err(super::error::Failure::system(
                    format!("cannot create /dev/{name}"),
                    errno,
                ))
            }
        }
    }

    let pts = ensure_dir(root, Path::new("/dev/pts"))?;
    let mut options = String::from("newinstance,ptmxmode=0666,mode=0620");
    if tty_gid_mapped {
        options.push_str(",gid=5");
    }
    nix::mount::mount(
        Some("devpts"),
        &fd_path(pts.as_fd()),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(options.as_str()),
    )
    .context(|| "cannot mount devpts on /dev/pts")?;

    let shm = ensure_dir(root, Path::new("/dev/shm"))?;
    nix::mount::mount(
        Some("shm"),
        &fd_path(shm.as_fd()),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )
    .context(|| "cannot mount a tmpfs on /dev/shm")?;

    let mqueue = ensure_dir(root, Path::new("/dev/mqueue"))?;
    nix::mount::mount(
        Some("mqueue"),
        &fd_path(mqueue.as_fd()),
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .context(|| "cannot mount mqueue on /dev/mqueue")?;

    let console = ensure_file(root, Path::new("/dev/console"))?;
    // By name: a descriptor opened before the clone belongs to the host's mount namespace,
    // which a bind mount may not take its source from.
    nix::mount::mount(
        Some(console_slave),
        &fd_path(console.as_fd()),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context(|| "cannot bind the console on /dev/console")?;
    Ok(())
}
