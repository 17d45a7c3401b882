//! The container's cgroups: finding the hierarchies, creating the container's group in each,
//! applying limits, reading usage, freezing, killing and removing.
//!
//! Hosts mount cgroups in three ways and this module treats them alike, per controller rather
//! than per host: cgroup v1 (one hierarchy per controller or group of controllers), cgroup v2
//! (one unified hierarchy), and hybrid layouts where v1 controllers coexist with a cgroup2
//! hierarchy that may hold no controller at all (`/sys/fs/cgroup/unified` with an empty
//! `cgroup.controllers`, on which libvirt's own LXC driver gives up). A limit goes to the
//! hierarchy its controller is bound to, whichever version that is; the container gets a
//! group in *every* hierarchy, so that each one tracks all its tasks (the v2 group also
//! provides `cgroup.kill`).
//!
//! The container's group sits at `<controller's own group>/machine/<name>.rvirt-lxc`, the
//! way libvirt places its machines relative to the daemon's own group.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::error::{Context, Failure, Result};
use rvirt_lxc_controller::spec::Resources;

/// Which cgroup version a hierarchy is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    pub mount_point: PathBuf,
    /// v1: the controllers bound to it (and `name=...` for named hierarchies); v2: the
    /// controllers available in the controller's own group.
    pub controllers: Vec<String>,
    /// The controller process's own group in this hierarchy, as `/proc/self/cgroup` says.
    pub own_group: String,
    /// The root of the hierarchy this mount shows (usually `/`).
    mount_root: String,
}

impl Hierarchy {
    fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory of `group` (a path from the hierarchy's root) on this mount.
    fn dir_of(&self, group: &str) -> PathBuf {
        let relative = group
            .strip_prefix(self.mount_root.trim_end_matches('/'))
            .unwrap_or(group);
        self.mount_point.join(relative.trim_start_matches('/'))
    }

    /// Mount options that mount this hierarchy again (inside the container).
    pub fn mount_options(&self) -> Option<String> {
        match self.version {
            Version::V2 => None,
            Version::V1 => {
                let names: Vec<&str> = self.controllers.iter().map(String::as_str).collect();
                if names.iter().all(|n| n.starts_with("name=")) {
                    Some(format!("none,{}", names.join(",")))
                } else {
                    Some(names.join(","))
                }
            }
        }
    }
}

/// Every cgroup hierarchy this process sees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Reads `/proc/self/mountinfo`, `/proc/self/cgroup` and `/proc/cgroups`.
    pub fn detect() -> Result<Layout> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")
            .context(|| "cannot read /proc/self/mountinfo")?;
        let own =
            fs::read_to_string("/proc/self/cgroup").context(|| "cannot read /proc/self/cgroup")?;
        let subsystems = fs::read_to_string("/proc/cgroups").unwrap_or_default();
        let mut layout = Layout::parse(&mountinfo, &own, &subsystems);
        for hierarchy in &mut layout.hierarchies {
            if hierarchy.version == Version::V2 {
                let own_dir = hierarchy.dir_of(&hierarchy.own_group.clone());
                let available =
                    fs::read_to_string(own_dir.join("cgroup.controllers")).unwrap_or_default();
                hierarchy.controllers = available.split_whitespace().map(str::to_string).collect();
            }
        }
        if layout.hierarchies.is_empty() {
            return Err(Failure::unsupported(
                "no cgroup hierarchy is mounted on this host",
            ));
        }
        Ok(layout)
    }

    /// The layout described by the three files' contents (the v2 controllers stay empty).
    pub fn parse(mountinfo: &str, own_cgroup: &str, subsystems: &str) -> Layout {
        let known: Vec<&str> = subsystems
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for line in mountinfo.lines() {
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let fields: Vec<&str> = before.split(' ').collect();
            let tail: Vec<&str> = after.split(' ').collect();
            if fields.len() < 5 || tail.len() < 3 {
                continue;
            }
            let (mount_root, mount_point) = (fields[3], unescape_mount_path(fields[4]));
            let (version, controllers) = match tail[0] {
                "cgroup2" => (Version::V2, Vec::new()),
                "cgroup" => {
                    let controllers: Vec<String> = tail[2]
                        .split(',')
                        .filter(|opt| opt.starts_with("name=") || known.contains(opt))
                        .map(str::to_string)
                        .collect();
                    if controllers.is_empty() {
                        continue;
                    }
                    (Version::V1, controllers)
                }
                _ => continue,
            };
            // A hierarchy mounted twice (bind mounts) is used through its first mount.
            if hierarchies
                .iter()
                .any(|h| h.version == version && h.controllers == controllers)
            {
                continue;
            }
            let Some(own_group) = own_group(own_cgroup, version, &controllers) else {
                continue;
            };
            hierarchies.push(Hierarchy {
                version,
                mount_point: PathBuf::from(mount_point),
                controllers,
                own_group,
                mount_root: mount_root.to_string(),
            });
        }
        Layout { hierarchies }
    }

    /// The hierarchy that has `controller` (v1 name), whichever version it is.
    pub fn hierarchy_for(&self, controller: &str) -> Option<&Hierarchy> {
        let v2_name = match controller {
            "blkio" => "io",
            "cpuacct" => "cpu",
            other => other,
        };
        self.hierarchies
            .iter()
            .find(|h| h.version == Version::V1 && h.has(controller))
            .or_else(|| {
                self.hierarchies
                    .iter()
                    .find(|h| h.version == Version::V2 && h.has(v2_name))
            })
    }

    /// The unified hierarchy, if mounted.
    #[cfg(test)]
    fn unified(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.version == Version::V2)
    }
}

/// `/proc/self/mountinfo` escapes spaces and friends as octal.
fn unescape_mount_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's group in the hierarchy with these controllers.
fn own_group(own_cgroup: &str, version: Version, controllers: &[String]) -> Option<String> {
    own_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (id, names, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = match version {
            Version::V2 => id == "0" && names.is_empty(),
            Version::V1 => {
                let mut listed: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
                let mut wanted: Vec<&str> = controllers.iter().map(String::as_str).collect();
                listed.sort_unstable();
                wanted.sort_unstable();
                !listed.is_empty() && listed == wanted
            }
        };
        matches.then(|| path.to_string())
    })
}

/// The container's group, one directory per hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerCgroup {
    layout: Layout,
    /// Per hierarchy (same order as `layout`), the container's directory.
    pub dirs: Vec<PathBuf>,
}

/// The group name of container `name`, below the controller's own group.
pub fn group_suffix(name: &str) -> String {
    format!("machine/{name}.rvirt-lxc")
}

impl ContainerCgroup {
    /// The directories container `name` has (or would have) in `layout`.
    pub fn planned(layout: &Layout, name: &str) -> ContainerCgroup {
        let suffix = group_suffix(name);
        let dirs = layout
            .hierarchies
            .iter()
            .map(|h| h.dir_of(&h.own_group).join(&suffix))
            .collect();
        ContainerCgroup {
            layout: layout.clone(),
            dirs,
        }
    }

    /// The container's group at recorded directories (from a state file); a record that does
    /// not match this layout falls back to the planned directories.
    pub fn with_dirs(self, dirs: Vec<PathBuf>) -> ContainerCgroup {
        if dirs.len() == self.layout.hierarchies.len() {
            ContainerCgroup { dirs, ..self }
        } else {
            self
        }
    }

    /// Creates the container's group in every hierarchy and applies `resources`. On failure
    /// everything created is removed again.
    pub fn create(layout: &Layout, name: &str, resources: &Resources) -> Result<ContainerCgroup> {
        let cgroup = ContainerCgroup::planned(layout, name);
        for dir in &cgroup.dirs {
            if dir.exists() {
                return Err(Failure::failed(format!(
                    "cgroup {} already exists: is container '{name}' already running?",
                    dir.display()
                )));
            }
        }
        let result = cgroup
            .create_dirs(resources)
            .and_then(|()| cgroup.apply(resources));
        if let Err(error) = result {
            cgroup.remove();
            return Err(error);
        }
        Ok(cgroup)
    }

    fn create_dirs(&self, resources: &Resources) -> Result<()> {
        for (hierarchy, dir) in self.layout.hierarchies.iter().zip(&self.dirs) {
            if hierarchy.version == Version::V2 {
                self.enable_v2_controllers(hierarchy, dir, resources)?;
            }
            create_dir_all_racy(dir)?;
            if hierarchy.version == Version::V1 && hierarchy.has("cpuset") {
                inherit_cpuset(hierarchy, dir)?;
            }
        }
        Ok(())
    }

    /// On v2 a controller works in a group only if every ancestor enables it for its
    /// children (`cgroup.subtree_control`). Enable what the limits need, from the
    /// controller's own group down to `machine/`.
    fn enable_v2_controllers(
        &self,
        hierarchy: &Hierarchy,
        leaf: &Path,
        resources: &Resources,
    ) -> Result<()> {
        let mut wanted = Vec::new();
        if hierarchy.has("memory") {
            wanted.push("memory"); // usage figures, and the limits when asked
        }
        if hierarchy.has("cpu")
            && (resources.cpu_shares.is_some() || resources.cpu_quota_us.is_some())
        {
            wanted.push("cpu");
        }
        if hierarchy.has("io") && resources.blkio_weight.is_some() {
            wanted.push("io");
        }
        if hierarchy.has("pids") {
            wanted.push("pids");
        }
        if hierarchy.has("cpuset") && resources.cpuset_cpus.is_some() {
            wanted.push("cpuset");
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let own = hierarchy.dir_of(&hierarchy.own_group);
        let Some(machine) = leaf.parent() else {
            return Ok(());
        };
        create_dir_all_racy(machine)?;
        for dir in [own.as_path(), machine] {
            let enabled =
                fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
            for controller in &wanted {
                if enabled.split_whitespace().any(|c| c == *controller) {
                    continue;
                }
                fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}")).map_err(|error| {
                    let hint = if error.raw_os_error() == Some(libc::EBUSY) {
                        " (cgroup v2 allows controllers only below groups without processes: run the daemon in a group of its own, e.g. a delegated systemd unit)"
                    } else {
                        ""
                    };
                    Failure::io(format!("cannot enable the {controller} controller in {}{hint}", dir.display()), &error)
                })?;
            }
        }
        Ok(())
    }

    fn dir_for(&self, controller: &str) -> Option<(&Hierarchy, &Path)> {
        let hierarchy = self.layout.hierarchy_for(controller)?;
        let index = self
            .layout
            .hierarchies
            .iter()
            .position(|h| h == hierarchy)?;
        Some((hierarchy, self.dirs[index].as_path()))
    }

    /// Writes the limits. A limit whose controller the host lacks is an error: the user
    /// asked for it and would otherwise believe it holds.
    pub fn apply(&self, resources: &Resources) -> Result<()> {
        if let Some(kib) = resources.memory_hard_limit_kib {
            self.set_memory_limit(kib)?;
        }
        if let Some(kib) = resources.memory_soft_limit_kib {
            let (hierarchy, dir) = self.require("memory", "a memory soft limit")?;
            match hierarchy.version {
                Version::V1 => write_value(dir, "memory.soft_limit_in_bytes", kib * 1024)?,
                Version::V2 => write_value(dir, "memory.high", kib * 1024)?,
            }
        }
        if let Some(kib) = resources.swap_hard_limit_kib {
            let (hierarchy, dir) = self.require("memory", "a swap hard limit")?;
            match hierarchy.version {
                Version::V1 => {
                    if !dir.join("memory.memsw.limit_in_bytes").exists() {
                        return Err(Failure::unsupported("this host's memory controller does not account swap (memory.memsw.limit_in_bytes is missing)"));
                    }
                    write_value(dir, "memory.memsw.limit_in_bytes", kib * 1024)?
                }
                Version::V2 => {
                    // libvirt's swap_hard_limit counts memory + swap; memory.swap.max only swap.
                    let swap = kib.saturating_sub(resources.memory_hard_limit_kib.unwrap_or(0));
                    write_value(dir, "memory.swap.max", swap * 1024)?
                }
            }
        }
        if let Some(shares) = resources.cpu_shares {
            let (hierarchy, dir) = self.require("cpu", "CPU shares")?;
            match hierarchy.version {
                Version::V1 => write_value(dir, "cpu.shares", shares)?,
                Version::V2 => write_value(dir, "cpu.weight", shares_to_weight(shares))?,
            }
        }
        if resources.cpu_quota_us.is_some() || resources.cpu_period_us.is_some() {
            let (hierarchy, dir) = self.require("cpu", "a CPU quota")?;
            match hierarchy.version {
                Version::V1 => {
                    if let Some(period) = resources.cpu_period_us {
                        write_value(dir, "cpu.cfs_period_us", period)?;
                    }
                    if let Some(quota) = resources.cpu_quota_us {
                        write_value(dir, "cpu.cfs_quota_us", quota.max(-1))?;
                    }
                }
                Version::V2 => {
                    let period = resources.cpu_period_us.unwrap_or(100_000);
                    let quota = match resources.cpu_quota_us {
                        Some(quota) if quota > 0 => quota.to_string(),
                        _ => "max".to_string(),
                    };
                    write_value(dir, "cpu.max", format!("{quota} {period}"))?;
                }
            }
        }
        if let Some(weight) = resources.blkio_weight {
            let (hierarchy, dir) = self.require("blkio", "a block I/O weight")?;
            let candidates: &[(&str, String)] = match hierarchy.version {
                Version::V1 => &[
                    ("blkio.weight", weight.to_string()),
                    ("blkio.bfq.weight", weight.to_string()),
                ],
                Version::V2 => &[
                    ("io.weight", format!("default {weight}")),
                    ("io.bfq.weight", weight.to_string()),
                ],
            };
            let Some((file, value)) = candidates.iter().find(|(file, _)| dir.join(file).exists())
            else {
                return Err(Failure::unsupported(format!(
                    "block I/O weights are not supported on this host (no I/O scheduler with weights in {})",
                    dir.display()
                )));
            };
            write_value(dir, file, value)?;
        }
        if let Some(max) = resources.pids_max {
            let (_, dir) = self.require("pids", "a task limit")?;
            write_value(dir, "pids.max", max)?;
        }
        if let Some(cpus) = &resources.cpuset_cpus {
            let (_, dir) = self.require("cpuset", "a CPU set")?;
            write_value(dir, "cpuset.cpus", cpus)?;
        }
        if let Some((hierarchy, dir)) = self.dir_for("devices") {
            if hierarchy.version == Version::V1 {
                restrict_devices(dir)?;
            }
        }
        Ok(())
    }

    fn require(&self, controller: &str, what: &str) -> Result<(&Hierarchy, &Path)> {
        self.dir_for(controller).ok_or_else(|| {
            Failure::unsupported(format!(
                "{what} needs the {controller} cgroup controller, which this host does not provide"
            ))
        })
    }

    /// Changes the memory hard limit (at start and for a live `setmem`).
    pub fn set_memory_limit(&self, kib: u64) -> Result<()> {
        let (hierarchy, dir) = self.require("memory", "a memory limit")?;
        match hierarchy.version {
            Version::V1 => {
                // With swap accounting, memsw must stay >= the limit: raise it first.
                let memsw = dir.join("memory.memsw.limit_in_bytes");
                if let Ok(current) = fs::read_to_string(&memsw) {
                    if current
                        .trim()
                        .parse::<u64>()
                        .map(|v| v < kib * 1024)
                        .unwrap_or(false)
                    {
                        write_value(dir, "memory.memsw.limit_in_bytes", kib * 1024)?;
                    }
                }
                write_value(dir, "memory.limit_in_bytes", kib * 1024)
            }
            Version::V2 => write_value(dir, "memory.max", kib * 1024),
        }
    }

    /// Moves a process into the container's group in every hierarchy.
    pub fn add_process(&self, pid: Pid) -> Result<()> {
        for dir in &self.dirs {
            let started = std::time::Instant::now();
            write_value(dir, "cgroup.procs", pid.as_raw())?;
            tracing::debug!("joined {} in {:?}", dir.display(), started.elapsed());
        }
        Ok(())
    }

    /// Memory in use and the hard limit, KiB.
    pub fn memory(&self) -> (u64, u64) {
        let Some((hierarchy, dir)) = self.dir_for("memory") else {
            return (0, 0);
        };
        let (usage, limit) = match hierarchy.version {
            Version::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
            Version::V2 => ("memory.current", "memory.max"),
        };
        let usage = read_u64(dir, usage).unwrap_or(0) / 1024;
        // "max" and v1's "unlimited" (a huge page-aligned number) both mean no limit.
        let limit = read_u64(dir, limit)
            .filter(|v| *v < (1 << 62))
            .map(|v| v / 1024)
            .unwrap_or(0);
        (usage, limit)
    }

    /// CPU time used by every task of the container, ns.
    pub fn cpu_time_ns(&self) -> u64 {
        if let Some((
            Hierarchy {
                version: Version::V1,
                ..
            },
            dir,
        )) = self.dir_for("cpuacct")
        {
            if let Some(ns) = read_u64(dir, "cpuacct.usage") {
                return ns;
            }
        }
        // cpu.stat's usage_usec is part of the v2 core: present even without the cpu controller.
        self.layout
            .hierarchies
            .iter()
            .zip(&self.dirs)
            .filter(|(h, _)| h.version == Version::V2)
            .find_map(|(_, dir)| {
                let stat = fs::read_to_string(dir.join("cpu.stat")).ok()?;
                stat.lines()
                    .find_map(|line| line.strip_prefix("usage_usec ")?.trim().parse::<u64>().ok())
            })
            .map(|usec| usec * 1000)
            .unwrap_or(0)
    }

    /// Tasks in the container.
    pub fn n_tasks(&self) -> u64 {
        self.dirs
            .first()
            .and_then(|dir| fs::read_to_string(dir.join("cgroup.procs")).ok())
            .map(|procs| procs.lines().count() as u64)
            .unwrap_or(0)
    }

    fn freezer(&self) -> Result<(Version, &Path)> {
        if let Some((
            Hierarchy {
                version: Version::V1,
                ..
            },
            dir,
        )) = self.dir_for("freezer")
        {
            return Ok((Version::V1, dir));
        }
        let index = self
            .layout
            .hierarchies
            .iter()
            .position(|h| h.version == Version::V2);
        match index {
            Some(index) if self.dirs[index].join("cgroup.freeze").exists() => Ok((Version::V2, &self.dirs[index])),
            _ => Err(Failure::unsupported("suspending a container needs the freezer cgroup controller (v1) or cgroup.freeze (v2)")),
        }
    }

    /// Whether the container is frozen.
    pub fn frozen(&self) -> bool {
        match self.freezer() {
            Ok((Version::V1, dir)) => fs::read_to_string(dir.join("freezer.state"))
                .map(|s| s.trim() == "FROZEN")
                .unwrap_or(false),
            Ok((Version::V2, dir)) => read_u64(dir, "cgroup.freeze") == Some(1),
            Err(_) => false,
        }
    }

    /// Freezes (or thaws) every task and waits until the kernel reports it done.
    pub fn set_frozen(&self, frozen: bool) -> Result<()> {
        let (version, dir) = self.freezer()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        match version {
            Version::V1 => {
                let wanted = if frozen { "FROZEN" } else { "THAWED" };
                loop {
                    write_value(dir, "freezer.state", wanted)?;
                    let state = fs::read_to_string(dir.join("freezer.state"))
                        .context(|| format!("cannot read {}/freezer.state", dir.display()))?;
                    if state.trim() == wanted {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(Failure::failed(format!(
                            "the container did not reach state {wanted} within 5 s (it is {})",
                            state.trim()
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Version::V2 => {
                write_value(dir, "cgroup.freeze", u8::from(frozen))?;
                let wanted = format!("frozen {}", u8::from(frozen));
                loop {
                    let events = fs::read_to_string(dir.join("cgroup.events"))
                        .context(|| format!("cannot read {}/cgroup.events", dir.display()))?;
                    if events.lines().any(|line| line == wanted) {
                        return Ok(());
                    }
                    if Instant::now() > deadline {
                        return Err(Failure::failed("the container did not freeze within 5 s"));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
    }

    /// Kills every task of the container and waits until the groups are empty (5 s at most).
    pub fn kill_all(&self) -> Result<()> {
        // v2's cgroup.kill kills atomically, forks included.
        for (hierarchy, dir) in self.layout.hierarchies.iter().zip(&self.dirs) {
            if hierarchy.version == Version::V2 && dir.join("cgroup.kill").exists() {
                let _ = fs::write(dir.join("cgroup.kill"), "1");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut n_left = 0;
            for dir in self.dirs.iter().filter(|dir| dir.exists()) {
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs
                    .lines()
                    .filter_map(|line| line.trim().parse::<i32>().ok())
                {
                    n_left += 1;
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            if n_left == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failure::failed(format!(
                    "{n_left} tasks of the container survived SIGKILL for 5 s"
                )));
            }
            // A frozen task dies only once thawed.
            if self.frozen() {
                let _ = self.set_frozen(false);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Removes the container's directories (not the shared `machine/` parents). Tasks that
    /// just died may keep a group busy for a moment: retries briefly. Returns what could not
    /// be removed.
    pub fn remove(&self) -> Vec<(PathBuf, Errno)> {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut failures = Vec::new();
        for dir in &self.dirs {
            loop {
                match fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(error) if error.kind() == ErrorKind::NotFound => break,
                    Err(error)
                        if error.raw_os_error() == Some(libc::EBUSY)
                            && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(error) => {
                        failures.push((
                            dir.clone(),
                            Errno::from_raw(error.raw_os_error().unwrap_or(libc::EIO)),
                        ));
                        break;
                    }
                }
            }
        }
        failures
    }
}

/// `mkdir -p` that tolerates another controller creating (or removing) `machine/` at the
/// same moment.
fn create_dir_all_racy(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for level in missing.into_iter().rev() {
        match fs::DirBuilder::new().mode(0o755).create(level) {
            Ok(()) => {
                // The controller's umask is 077; the container (a user namespace's root
                // included) must be able to read its own groups.
                let _ = fs::set_permissions(level, fs::Permissions::from_mode(0o755));
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(Failure::io(
                    format!("cannot create cgroup {}", level.display()),
                    &error,
                ))
            }
        }
    }
    Ok(())
}

/// v1 cpusets start empty unless the parent clones them: copy cpus and mems down every
/// level that has none, or no task could join.
fn inherit_cpuset(hierarchy: &Hierarchy, leaf: &Path) -> Result<()> {
    let own = hierarchy.dir_of(&hierarchy.own_group);
    let mut chain = vec![leaf.to_path_buf()];
    let mut current = leaf;
    while let Some(parent) = current.parent() {
        if parent == own || !parent.starts_with(&own) {
            break;
        }
        chain.push(parent.to_path_buf());
        current = parent;
    }
    for dir in chain.iter().rev() {
        let Some(parent) = dir.parent() else { continue };
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let mine = fs::read_to_string(dir.join(file)).unwrap_or_default();
            if mine.trim().is_empty() {
                let inherited = fs::read_to_string(parent.join(file))
                    .context(|| format!("cannot read {}/{file}", parent.display()))?;
                write_value(dir, file, inherited.trim())?;
            }
        }
    }
    Ok(())
}

/// The v1 device whitelist libvirt gives containers: the standard character devices, the
/// tty and pty families, nothing else.
fn restrict_devices(dir: &Path) -> Result<()> {
    write_value(dir, "devices.deny", "a")?;
    for rule in [
        "c 1:3 rwm",   // null
        "c 1:5 rwm",   // zero
        "c 1:7 rwm",   // full
        "c 1:8 rwm",   // random
        "c 1:9 rwm",   // urandom
        "c 5:0 rwm",   // tty
        "c 5:1 rwm",   // console
        "c 5:2 rwm",   // ptmx
        "c 136:* rwm", // pts, the console included
    ] {
        write_value(dir, "devices.allow", rule)?;
    }
    Ok(())
}

fn write_value(dir: &Path, file: &str, value: impl ToString) -> Result<()> {
    let value = value.to_string();
    fs::write(dir.join(file), &value)
        .context(|| format!("cannot set {}/{file} to '{value}'", dir.display()))
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

/// v1 shares (2..262144, default 1024) to a v2 weight (1..10000, default 100), as the
/// kernel documentation and systemd convert them.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTINFO: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:25 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
28 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 25 0:27 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
30 25 0:28 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
31 25 0:26 / /mnt/again rw,relatime - cgroup cgroup rw,memory";

    const HYBRID_SELF: &str = "\
4:name=systemd:/
3:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/";

    const SUBSYSTEMS: &str = "\
#subsys_name\thierarchy\tnum_cgroups\tenabled
cpu\t1\t1\t1
cpuacct\t2\t1\t1
memory\t3\t10\t1
hugetlb\t0\t1\t1";

    #[test]
    fn hybrid_layout_maps_each_controller_to_its_hierarchy() {
        let layout = Layout::parse(HYBRID_MOUNTINFO, HYBRID_SELF, SUBSYSTEMS);
        assert_eq!(layout.hierarchies.len(), 5, "{layout:#?}");
        let memory = layout.hierarchy_for("memory").expect("memory");
        assert_eq!(memory.version, Version::V1);
        assert_eq!(memory.own_group, "/process_api/abc");
        assert_eq!(
            layout.unified().map(|h| h.mount_point.clone()),
            Some("/sys/fs/cgroup/unified".into())
        );
        // The empty unified hierarchy provides nothing, so pids has no home at all.
        assert!(layout.hierarchy_for("pids").is_none());
        let planned = ContainerCgroup::planned(&layout, "web");
        assert!(planned.dirs.contains(&PathBuf::from(
            "/sys/fs/cgroup/memory/process_api/abc/machine/web.rvirt-lxc"
        )));
        assert!(planned.dirs.contains(&PathBuf::from(
            "/sys/fs/cgroup/unified/machine/web.rvirt-lxc"
        )));
        let systemd = layout
            .hierarchies
            .iter()
            .find(|h| h.mount_point.ends_with("systemd"))
            .expect("systemd");
        assert_eq!(
            systemd.mount_options().as_deref(),
            Some("none,name=systemd")
        );
    }

    #[test]
    fn pure_v2_uses_the_unified_hierarchy_for_everything() {
        let mountinfo = "30 25 0:28 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate";
        let mut layout = Layout::parse(mountinfo, "0::/system.slice/rvirtd.service\n", "");
        layout.hierarchies[0].controllers = ["cpuset", "cpu", "io", "memory", "pids"]
            .map(String::from)
            .to_vec();
        let memory = layout.hierarchy_for("memory").expect("memory");
        assert_eq!(memory.version, Version::V2);
        assert!(layout.hierarchy_for("blkio").is_some(), "blkio maps to io");
        let planned = ContainerCgroup::planned(&layout, "db");
        assert_eq!(
            planned.dirs,
            vec![PathBuf::from(
                "/sys/fs/cgroup/system.slice/rvirtd.service/machine/db.rvirt-lxc"
            )]
        );
    }

    #[test]
    fn shares_convert_like_the_kernel_documents() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path("/a\\040b"), "/a b");
    }
}
