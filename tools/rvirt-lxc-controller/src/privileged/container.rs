//! The container side: what the first process in the new namespaces does between `clone`
//! and `exec` of the container's init.
//!
//! It waits until the parent has written its id maps, sets the hostname and builds its tree
//! while the parent moves it into its cgroups and puts its veth ends in its network
//! namespace; then it enters a cgroup namespace, mounts its cgroups, configures its network,
//! pivots into its root, takes the console as its controlling terminal, drops capabilities,
//! switches user if asked and executes init.
//! Any failure is sent to the parent over the sync socket as `code (4 bytes BE) + message`;
//! a successful `exec` closes that socket (close-on-exec), which the parent sees as EOF.

use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, dup2, execve, sethostname, setresgid, setresuid, setsid, Gid, Uid};

use super::cgroups::Layout;
use super::devices;
use super::error::{Context, Failure, Result};
use super::mounts::{self, MountPlan};
use super::namespaces::Namespaces;
use super::network::Rtnetlink;
use rvirt_lxc_controller::spec::ContainerSpec;

/// What the child needs from the parent.
pub struct ChildContext<'a> {
    pub spec: &'a ContainerSpec,
    pub layout: &'a Layout,
    pub staging: &'a Path,
    pub namespaces: Namespaces,
    pub console_slave: BorrowedFd<'a>,
    /// The console slave's name on the host (`/dev/pts/N`).
    pub console_slave_path: &'a Path,
    pub sync: BorrowedFd<'a>,
    /// The parent's end of the sync socket, which the clone shares: the child closes its copy
    /// first, so that a controller that dies (SIGKILL) before the parent-death signal is set
    /// leaves the child reading end of file instead of waiting forever (found by the soak).
    pub parent_sync: RawFd,
}

/// The byte the parent sends once the id maps are written: the child may build its tree.
pub const GO: u8 = b'G';
/// The byte the parent sends once the child is in its cgroups and has its veths.
pub const JOINED: u8 = b'J';

/// Runs in the cloned child; returns only the exit code of a failure.
pub fn run(context: &ChildContext<'_>) -> isize {
    match setup_and_exec(context) {
        Ok(never) => match never {},
        Err(failure) => {
            let mut report = failure.code.0.to_be_bytes().to_vec();
            report.extend_from_slice(failure.message.as_bytes());
            let _ = nix::unistd::write(context.sync, &report);
            1
        }
    }
}

/// Decodes a failure report from the child.
pub fn decode_report(bytes: &[u8]) -> Failure {
    if bytes.len() < 4 {
        return Failure::internal("the container's setup failed without saying why");
    }
    let code = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    Failure {
        code: virt_core::ErrorNumber(code),
        message: String::from_utf8_lossy(&bytes[4..]).into_owned(),
    }
}

fn setup_and_exec(context: &ChildContext<'_>) -> Result<Infallible> {
    let _ = nix::unistd::close(context.parent_sync);
    let spec = context.spec;
    // The container dies with its controller: nobody else would reap it or tear it down.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .context(|| "cannot set the parent-death signal")?;
    let mut go = [0u8; 1];
    match nix::unistd::read(context.sync.as_raw_fd(), &mut go) {
        Ok(1) if go[0] == GO => {}
        _ => {
            return Err(Failure::internal(
                "the controller gave up before the container started",
            ))
        }
    }
    if context.namespaces.user {
        // Root of the new user namespace (the parent wrote the maps before saying go).
        nix::unistd::setgroups(&[]).context(|| "cannot clear supplementary groups")?;
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .context(|| "cannot become root group in the user namespace")?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .context(|| "cannot become root in the user namespace")?;
        // Changing credentials cleared the parent-death signal.
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
            .context(|| "cannot set the parent-death signal")?;
    }
    sethostname(&spec.hostname)
        .context(|| format!("cannot set the hostname to '{}'", spec.hostname))?;

    // The mount tree is built while the parent moves this process into the container's
    // cgroups (the first migration waits for an RCU grace period: milliseconds).
    mounts::make_private()?;
    let plan = MountPlan {
        spec,
        staging: context.staging,
        own_network: context.namespaces.network,
        user_namespace: context.namespaces.user,
    };
    let root = mounts::assemble(&plan)?;
    let tty_gid_mapped = match &spec.idmap {
        Some(idmap) => idmap
            .gid
            .iter()
            .any(|r| 5 >= r.start && 5 - r.start < r.count),
        None => true,
    };
    devices::populate(
        root.as_fd(),
        context.console_slave_path,
        context.namespaces.user,
        tty_gid_mapped,
    )?;

    // Second go: in the container's cgroups, with its veths in this network namespace.
    match nix::unistd::read(context.sync.as_raw_fd(), &mut go) {
        Ok(1) if go[0] == JOINED => {}
        _ => {
            return Err(Failure::internal(
                "the controller gave up before the container started",
            ))
        }
    }
    // Now inside the container's group: its cgroup namespace is rooted there.
    unshare(CloneFlags::CLONE_NEWCGROUP)
        .context(|| "cannot create the container's cgroup namespace")?;
    mounts::mount_cgroups(root.as_fd(), context.layout)?;
    if let Some(network) = &spec.network {
        let mut rtnetlink = Rtnetlink::open()?;
        rtnetlink.loopback_up()?;
        for veth in &network.interfaces {
            rtnetlink.configure_guest(veth)?;
        }
    }
    drop(root);
    mounts::pivot(context.staging)?;
    if spec.root().is_some_and(|root| root.readonly) {
        mounts::remount_readonly(Path::new("/"), "the root filesystem")?;
    }

    take_console(context.console_slave)?;
    let (uid, gid) = resolve_user(spec)?;
    let workdir = spec.init.workdir.as_deref().unwrap_or(Path::new("/"));
    chdir(workdir).context(|| format!("cannot enter the init directory {}", workdir.display()))?;
    umask(Mode::from_bits_truncate(0o022));
    drop_capabilities(&spec.drop_capabilities)?;
    if let Some(gid) = gid {
        nix::unistd::setgroups(&[gid])
            .context(|| format!("cannot set supplementary groups to {gid}"))?;
        setresgid(gid, gid, gid).context(|| format!("cannot switch to group {gid}"))?;
    }
    if let Some(uid) = uid {
        setresuid(uid, uid, uid).context(|| format!("cannot switch to user {uid}"))?;
    }
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .context(|| "cannot set the parent-death signal")?;
    reset_signals()?;
    close_inherited_descriptors();
    exec_init(spec)
}

/// The console becomes the controlling terminal and stdin/stdout/stderr.
fn take_console(slave: BorrowedFd<'_>) -> Result<()> {
    setsid().context(|| "cannot start a session for init")?;
    // SAFETY: TIOCSCTTY takes an int argument (0: do not steal); `slave` is an open tty.
    let result = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(result).context(|| "cannot make the console the controlling terminal")?;
    for target in 0..=2 {
        dup2(slave.as_raw_fd(), target)
            .context(|| format!("cannot attach the console as descriptor {target}"))?;
    }
    Ok(())
}

/// `<inituser>`/`<initgroup>`: numeric, or names from the container's own files.
fn resolve_user(spec: &ContainerSpec) -> Result<(Option<Uid>, Option<Gid>)> {
    let mut uid = None;
    let mut gid = None;
    if let Some(user) = &spec.init.user {
        match user.parse::<u32>() {
            Ok(number) => uid = Some(Uid::from_raw(number)),
            Err(_) => {
                let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
                let entry = passwd
                    .lines()
                    .map(|line| line.split(':').collect::<Vec<_>>())
                    .find(|fields| fields.len() >= 4 && fields[0] == user)
                    .ok_or_else(|| {
                        Failure::failed(format!(
                            "user '{user}' does not exist in the container's /etc/passwd"
                        ))
                    })?;
                uid = entry[2].parse().ok().map(Uid::from_raw);
                gid = entry[3].parse().ok().map(Gid::from_raw);
            }
        }
    }
    if let Some(group) = &spec.init.group {
        match group.parse::<u32>() {
            Ok(number) => gid = Some(Gid::from_raw(number)),
            Err(_) => {
                let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
                let entry = groups
                    .lines()
                    .map(|line| line.split(':').collect::<Vec<_>>())
                    .find(|fields| fields.len() >= 3 && fields[0] == group)
                    .ok_or_else(|| {
                        Failure::failed(format!(
                            "group '{group}' does not exist in the container's /etc/group"
                        ))
                    })?;
                gid = entry[2].parse().ok().map(Gid::from_raw);
            }
        }
    }
    Ok((uid, gid))
}

#[repr(C)]
struct CapabilityHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapabilityData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Removes capabilities from the bounding set (so no exec regains them) and from the
/// current sets.
fn drop_capabilities(capabilities: &[u32]) -> Result<()> {
    if capabilities.is_empty() {
        return Ok(());
    }
    for &capability in capabilities {
        // SAFETY: PR_CAPBSET_DROP takes the capability number; no pointers are involved.
        let result =
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong, 0, 0, 0) };
        if result != 0 && Errno::last() != Errno::EINVAL {
            return Err(Failure::system(
                format!("cannot drop capability {capability}"),
                Errno::last(),
            ));
        }
    }
    let mut header = CapabilityHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapabilityData::default(); 2];
    // SAFETY: capget writes two CapabilityData records (version 3) through valid pointers.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapabilityHeader,
            data.as_mut_ptr(),
        )
    })
    .context(|| "cannot read capabilities")?;
    for &capability in capabilities {
        let (word, bit) = ((capability / 32) as usize, 1u32 << (capability % 32));
        if word < 2 {
            data[word].effective &= !bit;
            data[word].permitted &= !bit;
            data[word].inheritable &= !bit;
        }
    }
    // SAFETY: capset reads the header and two records through valid pointers.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapabilityHeader,
            data.as_ptr(),
        )
    })
    .context(|| "cannot drop capabilities")?;
    Ok(())
}

/// Init starts with no blocked signal and default dispositions (the controller blocks the
/// signals it reads from a signalfd and ignores SIGPIPE; both would survive exec).
fn reset_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .context(|| "cannot reset the signal mask")?;
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator() {
        if matches!(signal, Signal::SIGKILL | Signal::SIGSTOP) {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code.
        unsafe { sigaction(signal, &default) }.context(|| format!("cannot reset {signal}"))?;
    }
    Ok(())
}

/// Every descriptor but stdin/stdout/stderr closes on exec (the sync socket included: its
/// EOF tells the parent that exec succeeded).
fn close_inherited_descriptors() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; it takes no pointers.
    let result = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if result != 0 {
        // Kernels before 5.11: mark them one by one.
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            let fds: Vec<RawFd> = entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            for fd in fds.into_iter().filter(|fd| *fd > 2) {
                let _ = nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
            }
        }
    }
}

fn exec_init(spec: &ContainerSpec) -> Result<Infallible> {
    let path = &spec.init.path;
    let invalid = |what: &str| Failure::unsupported(format!("init {what} contains a NUL byte"));
    let program = CString::new(path.as_os_str().as_bytes()).map_err(|_| invalid("path"))?;
    let mut argv = vec![program.clone()];
    for arg in &spec.init.args {
        argv.push(CString::new(arg.as_bytes()).map_err(|_| invalid("argument"))?);
    }
    let env: Vec<CString> = spec
        .init
        .env
        .iter()
        .map(|(name, value)| {
            CString::new(format!("{name}={value}")).map_err(|_| invalid("environment"))
        })
        .collect::<Result<_>>()?;
    let errno = match execve(&program, &argv, &env) {
        Err(errno) => errno,
        Ok(never) => match never {},
    };
    Err(Failure {
        code: virt_core::ErrorNumber::OPERATION_FAILED,
        message: format!(
            "cannot execute init {} in the container: {}",
            path.display(),
            errno.desc()
        ),
    })
}
