//! Creating the container's namespaces: one `clone` that starts the container's first
//! process in new mount, pid, UTS, IPC (and, when asked, network and user) namespaces, and
//! the uid/gid maps the parent writes for a user namespace.
//!
//! The cgroup namespace is not created here: its root is the group its creator is in at that
//! moment, so the child unshares it only after the parent has moved it into the container's
//! group (see `container.rs`).

use std::fs;

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::error::{Context, Failure, Result};
use rvirt_lxc_controller::spec::{IdMap, IdRange};

/// Which optional namespaces the container gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    pub network: bool,
    pub user: bool,
}

impl Namespaces {
    pub fn clone_flags(self) -> CloneFlags {
        let mut flags = CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        if self.network {
            flags |= CloneFlags::CLONE_NEWNET;
        }
        if self.user {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        flags
    }
}

/// Stack for the cloned child until it execs init (it only runs setup code).
const CHILD_STACK_SIZE: usize = 1024 * 1024;

/// Starts `child` as the first process of new namespaces. `child` returns only on failure,
/// with the process's exit code.
///
/// The caller must be single-threaded: the child is a copy of the caller (no `CLONE_VM`), as
/// after `fork`.
pub fn spawn<'a>(namespaces: Namespaces, child: Box<dyn FnMut() -> isize + 'a>) -> Result<Pid> {
    let mut stack = vec![0u8; CHILD_STACK_SIZE];
    // SAFETY: without CLONE_VM the child runs on its own copy of this address space, like
    // after fork(2); the controller has no other threads at this point (it never spawns
    // any), so no lock can be held by a thread that does not exist in the child. The stack
    // outlives the call in the parent, and the child's copy lives as long as the child.
    unsafe {
        nix::sched::clone(
            child,
            &mut stack,
            namespaces.clone_flags(),
            Some(libc::SIGCHLD),
        )
    }
    .context(|| "cannot create the container's namespaces")
}

fn map_text(ranges: &[IdRange]) -> String {
    ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.start, r.target, r.count))
        .collect()
}

/// Writes the container's uid and gid maps (only the parent user namespace can).
pub fn write_id_maps(pid: Pid, idmap: &IdMap) -> Result<()> {
    let proc_dir = format!("/proc/{pid}");
    fs::write(format!("{proc_dir}/uid_map"), map_text(&idmap.uid))
        .context(|| format!("cannot write the uid map of {pid}"))?;
    fs::write(format!("{proc_dir}/gid_map"), map_text(&idmap.gid))
        .context(|| format!("cannot write the gid map of {pid}"))?;
    Ok(())
}

/// Whether this kernel can create user namespaces at all.
pub fn user_namespaces_available() -> Result<()> {
    match fs::read_to_string("/proc/sys/user/max_user_namespaces") {
        Ok(max) if max.trim() == "0" => Err(Failure::unsupported(
            "user namespaces are disabled on this host (user.max_user_namespaces = 0)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_one_line_per_range() {
        let ranges = [
            IdRange {
                start: 0,
                target: 100_000,
                count: 65536,
            },
            IdRange {
                start: 65536,
                target: 5000,
                count: 1,
            },
        ];
        assert_eq!(map_text(&ranges), "0 100000 65536\n65536 5000 1\n");
    }

    #[test]
    fn flags_follow_the_spec() {
        let flags = Namespaces {
            network: true,
            user: false,
        }
        .clone_flags();
        assert!(flags.contains(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID));
        assert!(!flags.contains(CloneFlags::CLONE_NEWUSER));
    }
}
