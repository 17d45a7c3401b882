//! The vhost-user back ends libvirt starts beside QEMU: a `virtiofsd` for each virtiofs
//! filesystem that names no socket of its own (`qemu_virtiofs`), and a `vhost-user-gpu` for
//! each `<video><driver name='vhostuser'>` (`qemu_vhost_user_gpu`). Each listens on a socket
//! in the domain's directory where the command line's `-chardev` points (libvirt hands over
//! socket descriptors instead), the programs are found through QEMU's vhost-user
//! descriptors (`/usr/share/qemu/vhost-user/*.json`) unless the definition names one, and
//! each ends by itself once QEMU, its only client, goes away.
//!
//! The driver starts them before QEMU, waits until each listens, and forgets them once QEMU
//! runs; if QEMU does not start, they are stopped.

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{files, process};
use virt_plugin_sdk::types::Error;
use virt_xml::domain::devices::Video;
use virt_xml::domain::{Domain, Filesystem};
use virt_xml::xml::OnOff;

use crate::argv::devices::{
    is_vhost_user_video, is_virtiofs, vhost_user_gpu_socket, virtiofsd_socket,
};

/// Where QEMU's packages describe their vhost-user back ends, the system's first (the
/// firmware descriptors' search order; the user's own directory is not a daemon's).
const DESCRIPTOR_DIRS: &[&str] = &["/etc/qemu/vhost-user", "/usr/share/qemu/vhost-user"];

/// The back ends started for one domain.
#[derive(Default)]
pub struct Started {
    processes: Vec<(process::ProcessHandle, String)>,
}

impl Started {
    /// Forgets the processes: they end with QEMU.
    pub fn release(self) {
        for (handle, _) in self.processes {
            process::release(handle);
        }
    }

    /// Stops them and removes their sockets: QEMU did not start.
    pub fn stop(self) {
        for (handle, socket) in self.processes {
            let _ = process::kill(handle, crate::launch::SIGKILL);
            let _ = process::wait(handle, 5_000);
            process::release(handle);
            let _ = files::remove(&socket);
        }
    }
}

/// One back end to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackEnd {
    pub program: String,
    pub args: Vec<String>,
    pub socket: String,
    pub log: String,
    /// `virtiofsd` or `vhost-user-gpu`, for messages.
    pub what: &'static str,
}

fn qemu_error(code: ErrorNumber, detail: String) -> Error {
    virt_plugin_sdk::error(code, ErrorDomain::QEMU, detail)
}

/// The program of the first vhost-user descriptor of `kind` (`fs`, `gpu`), as libvirt's
/// `qemuVhostUserFillDomain*` finds it: the descriptors of every directory merged by file
/// name (one in `/etc` replaces, or when empty hides, the package's of the same name), in
/// name order.
fn described_program(kind: &str) -> Option<String> {
    let mut by_name = std::collections::BTreeMap::new();
    // The package's directory first, so /etc's files of the same name replace them.
    for dir in DESCRIPTOR_DIRS.iter().rev() {
        for name in files::list_dir(dir).unwrap_or_default() {
            if name.ends_with(".json") {
                by_name.insert(name.clone(), format!("{dir}/{name}"));
            }
        }
    }
    by_name.values().find_map(|path| {
        let text = files::read(path).ok()?;
        let descriptor = serde_json::from_slice::<serde_json::Value>(&text).ok()?;
        if descriptor.get("type").and_then(|t| t.as_str()) != Some(kind) {
            return None;
        }
        Some(descriptor.get("binary")?.as_str()?.to_string())
    })
}

/// Whether `path` is a file someone may execute.
fn is_executable(path: &str) -> bool {
    virt_plugin_sdk::host::file_attributes::lstat(&[path.to_string()])
        .ok()
        .and_then(|found| found.into_iter().next().flatten())
        .is_some_and(|attributes| attributes.mode & 0o111 != 0)
}

/// The virtiofs filesystems the driver starts a virtiofsd for: those that name no socket of
/// a virtiofsd someone else runs.
fn driver_started_virtiofs(def: &Domain) -> impl Iterator<Item = &Filesystem> {
    def.devices.filesystems.iter().filter(|fs| {
        is_virtiofs(fs) && fs.source.as_ref().and_then(|s| s.socket.as_ref()).is_none()
    })
}

/// The video cards the driver starts a vhost-user-gpu for.
fn vhost_user_videos(def: &Domain) -> impl Iterator<Item = &Video> {
    def.devices
        .videos
        .iter()
        .filter(|video| is_vhost_user_video(video))
}

/// The sockets the back ends of `def` listen on in `domain_dir` (removed when it stops).
pub fn sockets(def: &Domain, domain_dir: &str) -> Vec<String> {
    let filesystems = driver_started_virtiofs(def).map(|fs| virtiofsd_socket(domain_dir, fs));
    let videos = vhost_user_videos(def).map(|video| vhost_user_gpu_socket(domain_dir, video));
    filesystems.chain(videos).collect()
}

/// `-o` of virtiofsd as libvirt writes it: the source (commas doubled), then cache,
/// sandbox, xattr, flock and posix lock as the definition says.
pub fn virtiofsd_options(fs: &Filesystem) -> String {
    let source = fs
        .source
        .as_ref()
        .and_then(|source| source.dir.clone())
        .unwrap_or_default();
    let mut options = format!("source={}", source.replace(',', ",,"));
    let binary = fs.binary.clone().unwrap_or_default();
    let mode = |attr: &Option<virt_xml::domain::devices::ModeAttr>| {
        attr.as_ref().and_then(|attr| attr.mode.clone())
    };
    if let Some(cache) = mode(&binary.cache) {
        options.push_str(&format!(",cache={cache}"));
    }
    if let Some(sandbox) = mode(&binary.sandbox) {
        options.push_str(&format!(",sandbox={sandbox}"));
    }
    let switch = |options: &mut String, value: Option<OnOff>, name: &str| match value {
        Some(value) if value.is_on() => options.push_str(&format!(",{name}")),
        Some(_) => options.push_str(&format!(",no_{name}")),
        None => {}
    };
    switch(&mut options, binary.xattr, "xattr");
    let lock = binary.lock.unwrap_or_default();
    switch(&mut options, lock.flock, "flock");
    switch(&mut options, lock.posix, "posix_lock");
    options
}

/// What to start for `def`, in device order: checks what libvirt checks (the program is
/// there, the exported directory exists) before anything runs.
pub fn plan(def: &Domain, domain_dir: &str, log_dir: &str) -> Result<Vec<BackEnd>, Error> {
    let mut plan = Vec::new();
    for fs in driver_started_virtiofs(def) {
        let alias = fs.info.alias_name().unwrap_or("fs");
        let program = fs
            .binary
            .as_ref()
            .and_then(|binary| binary.path.clone())
            .or_else(|| described_program("fs"))
            .ok_or_else(|| {
                qemu_error(
                    ErrorNumber::INTERNAL_ERROR,
                    "Unable to find a satisfying virtiofsd".into(),
                )
            })?;
        if !is_executable(&program) {
            return Err(qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("virtiofsd binary '{program}' is not executable"),
            ));
        }
        let source = fs
            .source
            .as_ref()
            .and_then(|s| s.dir.clone())
            .unwrap_or_default();
        if files::stat(&source).ok().flatten().is_none() {
            return Err(qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("the virtiofs export directory '{source}' does not exist"),
            ));
        }
        let socket = virtiofsd_socket(domain_dir, fs);
        let mut args = vec![
            format!("--socket-path={socket}"),
            "-o".into(),
            virtiofsd_options(fs),
        ];
        if let Some(size) = fs
            .binary
            .as_ref()
            .and_then(|binary| binary.thread_pool.as_ref())
            .and_then(|pool| pool.size)
            .filter(|size| *size >= 0)
        {
            args.push(format!("--thread-pool-size={size}"));
        }
        plan.push(BackEnd {
            program,
            args,
            socket,
            log: format!("{log_dir}/{}-{alias}-virtiofsd.log", def.name()),
            what: "virtiofsd",
        });
    }
    for video in vhost_user_videos(def) {
        let alias = video.info.alias_name().unwrap_or("video");
        let program = described_program("gpu").ok_or_else(|| {
            qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                "Unable to find a satisfying vhost-user-gpu".into(),
            )
        })?;
        let socket = vhost_user_gpu_socket(domain_dir, video);
        let mut args = vec![format!("--socket-path={socket}")];
        args.extend(gpu_rendering_args(video));
        plan.push(BackEnd {
            program,
            args,
            socket,
            log: format!("{log_dir}/{}-{alias}-vhost-user-gpu.log", def.name()),
            what: "vhost-user-gpu",
        });
    }
    Ok(plan)
}

/// `--virgl` for 3D acceleration and the render node the definition names, as libvirt asks
/// vhost-user-gpu.
fn gpu_rendering_args(video: &Video) -> Vec<String> {
    let acceleration = video
        .model
        .as_ref()
        .and_then(|model| model.acceleration.as_ref());
    let mut args = Vec::new();
    if acceleration
        .and_then(|acceleration| acceleration.accel3d)
        .is_some_and(|accel3d| accel3d.is_yes())
    {
        args.push("--virgl".to_string());
    }
    if let Some(node) = acceleration.and_then(|acceleration| acceleration.rendernode.clone()) {
        args.push(format!("--render-node={node}"));
    }
    args
}

/// Starts every back end of `plan` and waits until each listens; on any failure the ones
/// already running are stopped.
pub fn start(plan: &[BackEnd]) -> Result<Started, Error> {
    let mut started = Started::default();
    for back_end in plan {
        match start_one(back_end) {
            Ok(handle) => started.processes.push((handle, back_end.socket.clone())),
            Err(error) => {
                started.stop();
                return Err(error);
            }
        }
    }
    Ok(started)
}

fn start_one(back_end: &BackEnd) -> Result<process::ProcessHandle, Error> {
    let failed = |detail: String| qemu_error(ErrorNumber::INTERNAL_ERROR, detail);
    let _ = files::remove(&back_end.socket);
    let handle = process::spawn(&process::SpawnRequest {
        program: back_end.program.clone(),
        args: back_end.args.clone(),
        env: vec![],
        cwd: Some("/".into()),
        stdout: process::Output::AppendFile(back_end.log.clone()),
        stderr: process::Output::AppendFile(back_end.log.clone()),
        pass_fds: vec![],
    })
    .map_err(|error| {
        failed(format!(
            "Could not start '{}' ({}): {}",
            back_end.what, back_end.program, error.message
        ))
    })?;
    match crate::launch::wait_for_helper_socket(handle, &back_end.socket, &back_end.log) {
        Ok(()) => Ok(handle),
        Err(said) => {
            let _ = process::kill(handle, crate::launch::SIGKILL);
            let _ = process::wait(handle, 5_000);
            process::release(handle);
            let _ = files::remove(&back_end.socket);
            Err(failed(format!(
                "{} did not open its socket '{}': {said}",
                back_end.what, back_end.socket
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtiofsd_options_follow_the_definition() {
        let def = Domain::parse(
            "<domain type='kvm'><name>g</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices><filesystem type='mount' accessmode='passthrough'>\
             <driver type='virtiofs' queue='1024'/>\
             <binary path='/usr/libexec/virtiofsd' xattr='on'><cache mode='always'/>\
             <sandbox mode='chroot'/><lock posix='off' flock='off'/>\
             <thread_pool size='16'/></binary>\
             <source dir='/srv/a,b'/><target dir='mount_tag'/></filesystem></devices></domain>",
        )
        .expect("domain");
        assert_eq!(
            virtiofsd_options(&def.devices.filesystems[0]),
            "source=/srv/a,,b,cache=always,sandbox=chroot,xattr,no_flock,no_posix_lock"
        );
    }
}
