//! The controller's record of what it created for a container (cgroup directories, veths,
//! the staging directory, sockets), written next to its sockets before anything is created
//! and removed once all of it is gone. `cleanup` reads it after a controller died without
//! tearing down (SIGKILL), so that nothing outlives the container.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Context, Failure, Result};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerState {
    pub controller_pid: i32,
    /// The container's init, as the host sees it, once it runs.
    #[serde(default)]
    pub init_pid: Option<i32>,
    #[serde(default)]
    pub cgroup_dirs: Vec<PathBuf>,
    /// Host ends of the container's veth pairs.
    #[serde(default)]
    pub veths: Vec<String>,
    #[serde(default)]
    pub staging_dir: Option<PathBuf>,
    #[serde(default)]
    pub sockets: Vec<PathBuf>,
}

impl ControllerState {
    /// Writes the record atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Failure::internal(format!("cannot encode the controller state: {e}")))?;
        let temporary = path.with_extension("tmp");
        if let Err(error) = fs::write(&temporary, text) {
            // A full disk must not leave the partial temporary behind.
            let _ = fs::remove_file(&temporary);
            return Err(Failure::io(
                format!("cannot write {}", temporary.display()),
                &error,
            ));
        }
        fs::rename(&temporary, path).context(|| {
            format!(
                "cannot rename {} to {}",
                temporary.display(),
                path.display()
            )
        })
    }

    /// Reads the record; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<ControllerState>> {
        match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Failure::internal(format!(
                    "cannot parse the controller state {}: {e}",
                    path.display()
                ))
            }),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Failure::io(
                format!("cannot read {}", path.display()),
                &error,
            )),
        }
    }

    pub fn remove(path: &Path) {
        let _ = fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.controller");
        assert_eq!(ControllerState::load(&path).expect("absent is fine"), None);
        let state = ControllerState {
            controller_pid: 42,
            veths: vec!["vr1".into()],
            ..Default::default()
        };
        state.save(&path).expect("save");
        assert_eq!(ControllerState::load(&path).expect("load"), Some(state));
        ControllerState::remove(&path);
        assert!(!path.exists());
    }
}
