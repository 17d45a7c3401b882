//! `cleanup`: removes what a controller that died without tearing down (SIGKILL, OOM kill)
//! left behind, from its state file (or, without one, from the spec): the container's
//! remaining tasks, its cgroups, veths, staging directory and sockets.
//!
//! The driver runs it when its controller vanished without an EXIT event. It refuses to act
//! while the controller named in the state file still runs, except with `--withdraw`: then
//! the driver's daemon died between spawning the controller and committing the start, nobody
//! will ever use that controller, and cleanup stops it first.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tracing::info;

use super::cgroups::{ContainerCgroup, Layout};
use super::error::{Failure, Result};
use super::network::Rtnetlink;
use super::state::ControllerState;
use rvirt_lxc_controller::paths;
use rvirt_lxc_controller::spec::ContainerSpec;

/// Whether `pid` is a live rvirt-lxc-controller process.
fn controller_alive(pid: i32) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("rvirt-lxc-controller"))
        .unwrap_or(false)
}

/// Removes the spec file of a start being withdrawn (see `Supervisor::check_not_withdrawn`
/// for why this comes before the state file is read).
pub fn withdraw_spec(spec_path: &Path) -> Result<()> {
    match std::fs::remove_file(spec_path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(Failure::io(
            format!("cannot remove {}", spec_path.display()),
            &error,
        )),
        _ => Ok(()),
    }
}

/// Stops the controller `pid` of a withdrawn start and waits until it is gone.
fn stop_controller(pid: i32, name: &str) -> Result<()> {
    // The pid comes from a file: only a controller run for this container is stopped.
    let runs_this_container = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.windows(2)
                .any(|pair| pair[0] == b"--name" && pair[1] == name.as_bytes())
        })
        .unwrap_or(false);
    if !runs_this_container {
        return Err(Failure::failed(format!(
            "pid {pid} of the state file of container '{name}' is a controller of another container"
        )));
    }
    info!("stopping the controller of container '{name}' (pid {pid}): its start was withdrawn");
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while controller_alive(pid) {
        if Instant::now() >= deadline {
            return Err(Failure::failed(format!(
                "the controller of container '{name}' (pid {pid}) does not die"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

pub fn cleanup(spec: &ContainerSpec, withdraw: bool) -> Result<()> {
    let layout = Layout::detect()?;
    let state = match ControllerState::load(&spec.state_file)? {
        Some(state) => state,
        None => ControllerState {
            controller_pid: 0,
            init_pid: None,
            cgroup_dirs: ContainerCgroup::planned(&layout, &spec.name).dirs,
            veths: spec
                .network
                .iter()
                .flat_map(|n| n.interfaces.iter().map(|v| v.host_name.clone()))
                .collect(),
            staging_dir: Some(paths::staging_dir(&spec.state_file)),
            sockets: vec![spec.monitor_socket.clone(), spec.console_socket.clone()],
        },
    };
    if controller_alive(state.controller_pid) && state.controller_pid != std::process::id() as i32 {
        if withdraw {
            stop_controller(state.controller_pid, &spec.name)?;
            // What it created after the state file was read is in the state file too (the
            // plan is written before anything is made), so read it again.
            return cleanup(spec, false);
        }
        return Err(Failure::invalid(format!(
            "the controller of container '{}' (pid {}) is still running",
            spec.name, state.controller_pid
        )));
    }
    let mut problems = Vec::new();
    let cgroup = ContainerCgroup::planned(&layout, &spec.name).with_dirs(state.cgroup_dirs.clone());
    if let Err(failure) = cgroup.kill_all() {
        problems.push(failure.message);
    }
    for (dir, errno) in cgroup.remove() {
        problems.push(format!(
            "cannot remove cgroup {}: {}",
            dir.display(),
            errno.desc()
        ));
    }
    if !state.veths.is_empty() {
        let mut rtnetlink = Rtnetlink::open()?;
        for veth in &state.veths {
            if let Err(failure) = rtnetlink.delete_link(veth) {
                problems.push(failure.message);
            }
        }
    }
    if let Some(staging) = &state.staging_dir {
        if let Err(error) = std::fs::remove_dir(staging) {
            if error.kind() != std::io::ErrorKind::NotFound {
                problems.push(
                    Failure::io(format!("cannot remove {}", staging.display()), &error).message,
                );
            }
        }
    }
    for socket in &state.sockets {
        remove_if_socket(socket);
    }
    if !problems.is_empty() {
        return Err(Failure::failed(format!(
            "cannot clean up container '{}': {}",
            spec.name,
            problems.join("; ")
        )));
    }
    ControllerState::remove(&spec.state_file);
    info!("cleaned up after container '{}'", spec.name);
    Ok(())
}

fn remove_if_socket(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    if std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
    {
        let _ = std::fs::remove_file(path);
    }
}
