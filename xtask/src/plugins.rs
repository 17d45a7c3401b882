//! `cargo xtask plugins`: builds every driver plugin for `wasm32-wasip2` and installs each
//! component with its manifest where the host's default plugin path finds it.
//!
//! `plugins/*` go to `target/plugins/`, the misbehaving test plugins of `tests/plugins/*` to
//! `target/test-plugins/`. The destination is always under the workspace's own `target/`,
//! whatever `CARGO_TARGET_DIR` says, because that is where a fresh checkout's host looks.
//! Each installed manifest carries its crate's own version (`package::installed_manifest`):
//! a manifest that states another version fails the command before anything is built.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct PluginCrate {
    package: String,
    dir: PathBuf,
    install_dir: PathBuf,
}

fn plugin_crates(root: &Path) -> Result<Vec<PluginCrate>, String> {
    let mut crates = Vec::new();
    for (parent, install) in [
        ("plugins", "target/plugins"),
        ("tests/plugins", "target/test-plugins"),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        dirs.sort();
        for dir in dirs {
            if !dir.join("rvirt-plugin.toml").exists() {
                continue;
            }
            let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml"))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let table: toml::Table = cargo_toml
                .parse()
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let package = table
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
                .ok_or_else(|| format!("{}: no package name", dir.display()))?
                .to_string();
            crates.push(PluginCrate {
                package,
                dir,
                install_dir: root.join(install),
            });
        }
    }
    Ok(crates)
}

/// Copies `from` to `to` unless `to` already has the same bytes (keeps mtimes stable).
fn install(from: &Path, to: &Path) -> Result<(), String> {
    let bytes = std::fs::read(from).map_err(|e| format!("{}: {e}", from.display()))?;
    write_if_changed(&bytes, to)
}

fn write_if_changed(bytes: &[u8], to: &Path) -> Result<(), String> {
    if std::fs::read(to).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    std::fs::write(to, bytes).map_err(|e| format!("{}: {e}", to.display()))
}

pub fn build(extra_args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    let crates = plugin_crates(&root)?;
    if crates.is_empty() {
        return Err("no plugin crates found".into());
    }
    // Before the long build: a manifest whose version is not its crate's fails now.
    let manifests = crates
        .iter()
        .map(|plugin| crate::package::installed_manifest(&plugin.dir))
        .collect::<Result<Vec<_>, String>>()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(&root).args([
        "build",
        "--keep-going",
        "--profile",
        "plugin",
        "--target",
        "wasm32-wasip2",
    ]);
    for plugin in &crates {
        command.args(["-p", &plugin.package]);
    }
    command.args(extra_args);
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let out_dir = target_dir.join("wasm32-wasip2/plugin");
    let mut failed = Vec::new();
    for (plugin, (manifest_text, manifest)) in crates.iter().zip(&manifests) {
        let wasm = out_dir.join(format!("{}.wasm", plugin.package.replace('-', "_")));
        if !status.success() && !is_fresh(&wasm, &plugin.dir) {
            failed.push(plugin.package.clone());
            continue;
        }
        let name = &manifest.name;
        std::fs::create_dir_all(&plugin.install_dir)
            .map_err(|e| format!("{}: {e}", plugin.install_dir.display()))?;
        install(&wasm, &plugin.install_dir.join(format!("{name}.wasm")))?;
        write_if_changed(
            manifest_text.as_bytes(),
            &plugin.install_dir.join(format!("{name}.toml")),
        )?;
        println!(
            "installed {name} -> {}",
            plugin.install_dir.join(format!("{name}.wasm")).display()
        );
    }
    if !status.success() {
        return Err(format!(
            "building the plugins failed ({status}) for: {}; is the target installed? `rustup target add wasm32-wasip2`",
            failed.join(", ")
        ));
    }
    Ok(())
}

/// True when `wasm` exists and is newer than every file of the crate in `dir` (it was
/// built by this run even though another plugin failed).
fn is_fresh(wasm: &Path, dir: &Path) -> bool {
    fn newest(path: &Path) -> Option<std::time::SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_dir() {
            std::fs::read_dir(path)
                .ok()?
                .filter_map(|e| e.ok())
                .filter_map(|e| newest(&e.path()))
                .max()
        } else {
            meta.modified().ok()
        }
    }
    match (
        std::fs::metadata(wasm).and_then(|m| m.modified()).ok(),
        newest(dir),
    ) {
        (Some(built), Some(source)) => built >= source,
        _ => false,
    }
}

pub fn run(args: &[String]) -> ExitCode {
    match build(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
