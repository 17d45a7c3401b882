//! Where the host looks for things (plugins, grants, compiled cache, driver directories) and
//! the limits it puts on plugins.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::LoadError;
use crate::manifest::Grants;

/// A driver's own directories (always usable by it, whatever its grants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverDirs {
    pub config: PathBuf,
    pub state: PathBuf,
    pub run: PathBuf,
    pub log: PathBuf,
    pub cache: PathBuf,
}

impl DriverDirs {
    /// The same layout under another root (`ROOT/{etc,lib,run,log,cache}/<driver>`).
    pub fn rooted(root: &Path, driver: &str) -> DriverDirs {
        DirLayout::Root(root.to_path_buf()).driver_dirs(driver)
    }

    /// `$config`, `$state`, ... as used in manifests and grants. `$run:DRIVER` is another
    /// driver's run directory beside this one (where the network driver publishes the
    /// status of running networks for the hypervisor drivers to read).
    pub fn expand(&self, var: &str) -> Option<PathBuf> {
        if let Some(driver) = var.strip_prefix("run:") {
            let plain = crate::manifest::is_plain_stem(driver) && !driver.contains("..");
            return plain.then(|| self.run.parent().map(|parent| parent.join(driver)))?;
        }
        match var {
            "config" => Some(self.config.clone()),
            "state" => Some(self.state.clone()),
            "run" => Some(self.run.clone()),
            "log" => Some(self.log.clone()),
            "cache" => Some(self.cache.clone()),
            _ => None,
        }
    }

    /// The five directories.
    pub fn roots(&self) -> [&PathBuf; 5] {
        [&self.config, &self.state, &self.run, &self.log, &self.cache]
    }

    /// True when `path` (normalized) is inside one of the directories.
    pub fn contains(&self, path: &Path) -> bool {
        self.roots().iter().any(|dir| path.starts_with(dir))
    }
}

/// Where the per-driver directories live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirLayout {
    /// `/etc/rvirt`, `/var/lib/rvirt`, `/run/rvirt`, `/var/log/rvirt`, `/var/cache/rvirt`.
    System,
    /// The XDG directories of the current user.
    Session,
    /// Everything under one root: `ROOT/{etc,lib,run,log,cache}` (tests, embedding).
    Root(PathBuf),
}

impl DirLayout {
    pub fn driver_dirs(&self, driver: &str) -> DriverDirs {
        let join = |base: PathBuf| base.join(driver);
        match self {
            DirLayout::System => DriverDirs {
                config: join("/etc/rvirt".into()),
                state: join("/var/lib/rvirt".into()),
                run: join("/run/rvirt".into()),
                log: join("/var/log/rvirt".into()),
                cache: join("/var/cache/rvirt".into()),
            },
            DirLayout::Session => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| "/tmp".into());
                let xdg = |var: &str, fallback: &str| {
                    std::env::var_os(var)
                        .map(PathBuf::from)
                        .unwrap_or_else(|| home.join(fallback))
                        .join("rvirt")
                };
                let run = std::env::var_os("XDG_RUNTIME_DIR")
                    .map(|dir| PathBuf::from(dir).join("rvirt"))
                    .unwrap_or_else(|| {
                        PathBuf::from(format!("/tmp/rvirt-{}", nix::unistd::geteuid()))
                    });
                DriverDirs {
                    config: join(xdg("XDG_CONFIG_HOME", ".config")),
                    state: join(xdg("XDG_DATA_HOME", ".local/share")),
                    run: join(run),
                    log: join(xdg("XDG_STATE_HOME", ".local/state")).join("log"),
                    cache: join(xdg("XDG_CACHE_HOME", ".cache")),
                }
            }
            DirLayout::Root(root) => DriverDirs {
                config: join(root.join("etc")),
                state: join(root.join("lib")),
                run: join(root.join("run")),
                log: join(root.join("log")),
                cache: join(root.join("cache")),
            },
        }
    }
}

/// Everything the host needs to know before loading plugins.
#[derive(Clone, Debug)]
pub struct HostConfig {
    /// Directories searched for `*.wasm` + `*.toml`, first match of a name wins.
    pub plugin_path: Vec<PathBuf>,
    /// Where compiled plugins are cached; `None` compiles every time.
    pub compile_cache: Option<PathBuf>,
    /// What the operator grants each plugin.
    pub grants: Grants,
    /// Where the grants came from (for messages).
    pub grants_source: Option<PathBuf>,
    pub dirs: DirLayout,
    /// Wasm execution time allowed per call (time inside blocking host calls is not counted).
    pub call_cpu_budget: Duration,
    /// Default linear-memory limit per instance, MiB.
    pub memory_limit_mib: u64,
    /// Idle instances kept per plugin.
    pub max_idle_instances: usize,
    /// Where helper programs (e.g. `rvirt-lxc-controller`) are looked for first, and what
    /// `$helpers` means in manifests and grants.
    pub helper_dirs: Vec<PathBuf>,
    /// libvirt's `auth.conf` the `credentials` host call reads; `None` searches where libvirt
    /// does (`$LIBVIRT_AUTH_FILE`, `$XDG_CONFIG_HOME/libvirt/auth.conf`,
    /// `/etc/libvirt/auth.conf`) at each lookup.
    pub auth_file: Option<PathBuf>,
}

/// `$RVIRT_HELPER_DIR` (colon-separated), the running executable's directory and its parent
/// (cargo puts test binaries in `target/*/deps/`, tools in `target/*/`), then
/// `/usr/libexec/rvirt` and `/usr/local/libexec/rvirt`.
pub fn default_helper_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("RVIRT_HELPER_DIR")
        .map(|paths| {
            std::env::split_paths(&paths)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        if let Some(parent) = exe_dir.parent() {
            let parent = parent.to_path_buf();
            dirs.push(exe_dir);
            dirs.push(parent);
        } else {
            dirs.push(exe_dir);
        }
    }
    dirs.push("/usr/libexec/rvirt".into());
    dirs.push("/usr/local/libexec/rvirt".into());
    dirs
}

/// The workspace this host was built in; its build output is the last plugin directory, so
/// a fresh checkout works without installing anything.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl HostConfig {
    /// The configuration the environment describes: `RVIRT_PLUGIN_PATH` (colon-separated),
    /// then `/usr/lib/rvirt/plugins`, `/usr/local/lib/rvirt/plugins`,
    /// `$XDG_DATA_HOME/rvirt/plugins`, then the workspace's `target/plugins`;
    /// `RVIRT_CACHE_DIR`; `RVIRT_GRANTS`; `RVIRT_STATE_ROOT` (all driver directories under one
    /// root).
    pub fn from_environment() -> Result<HostConfig, LoadError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let mut plugin_path: Vec<PathBuf> = std::env::var_os("RVIRT_PLUGIN_PATH")
            .map(|paths| {
                std::env::split_paths(&paths)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        plugin_path.push("/usr/lib/rvirt/plugins".into());
        plugin_path.push("/usr/local/lib/rvirt/plugins".into());
        if let Some(data) = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or(home.as_ref().map(|h| h.join(".local/share")))
        {
            plugin_path.push(data.join("rvirt/plugins"));
        }
        plugin_path.push(workspace_root().join("target/plugins"));

        let compile_cache = std::env::var_os("RVIRT_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                if is_root() {
                    Some(PathBuf::from("/var/cache/rvirt/compiled"))
                } else {
                    std::env::var_os("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .or(home.as_ref().map(|h| h.join(".cache")))
                        .map(|cache| cache.join("rvirt/compiled"))
                }
            });

        let dirs = match std::env::var_os("RVIRT_STATE_ROOT") {
            Some(root) => DirLayout::Root(root.into()),
            None if is_root() => DirLayout::System,
            None => DirLayout::Session,
        };

        let (grants, grants_source) = load_grants()?;
        Ok(HostConfig {
            plugin_path,
            compile_cache,
            grants,
            grants_source,
            dirs,
            call_cpu_budget: Duration::from_secs(10),
            memory_limit_mib: 256,
            max_idle_instances: 16,
            helper_dirs: default_helper_dirs(),
            auth_file: None,
        })
    }
}

/// The first grants file that exists: `$RVIRT_GRANTS`, the system or user file, then the
/// workspace's `etc/grants.toml`.
fn load_grants() -> Result<(Grants, Option<PathBuf>), LoadError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = std::env::var_os("RVIRT_GRANTS") {
        candidates.push(path.into());
    }
    if is_root() {
        candidates.push("/etc/rvirt/grants.toml".into());
    } else if let Some(config) = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
    {
        candidates.push(config.join("rvirt/grants.toml"));
    }
    candidates.push(workspace_root().join("etc/grants.toml"));
    for path in candidates {
        match std::fs::read_to_string(&path) {
            Ok(text) => return Ok((Grants::parse(&text, &path)?, Some(path))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(LoadError::Io { path, source }),
        }
    }
    Ok((Grants::default(), None))
}
