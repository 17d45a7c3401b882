//! The interface of `rvirt-lxc-controller`, the privileged per-container helper of rvirt's
//! LXC driver: what it is told ([`spec::ContainerSpec`]) and what it says on its monitor
//! socket ([`monitor`]).
//!
//! The driver plugin (`plugins/lxc`, sandboxed wasm) depends on this library to write specs
//! and speak the monitor protocol, so the library is plain data and byte layouts: it builds
//! for `wasm32-wasip2` and must never learn about namespaces, cgroups or file descriptors.
//! All of that lives in the controller binary (`src/main.rs` and `src/privileged/`), which
//! only builds on Linux.

pub mod monitor;
pub mod spec;

/// Where the controller keeps its own files for container `name` in the driver's run
/// directory `run_dir`: one place, so that the plugin, the controller and `cleanup` agree.
pub mod paths {
    use std::path::{Path, PathBuf};

    pub fn monitor_socket(run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join(format!("{name}.sock"))
    }

    pub fn console_socket(run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join(format!("{name}.console"))
    }

    pub fn state_file(run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join(format!("{name}.controller"))
    }

    pub fn spec_file(run_dir: &Path, name: &str) -> PathBuf {
        run_dir.join(format!("{name}.spec.json"))
    }

    /// The empty directory the container's root is assembled on (inside the container's
    /// own mount namespace; on the host it stays an empty directory until removed).
    pub fn staging_dir(state_file: &Path) -> PathBuf {
        state_file.with_extension("root")
    }
}
