//! `cargo xtask new-plugin NAME [--dir DIR] [--sdk-path PATH] [--force]`: starts a driver
//! plugin as a stand-alone crate outside this workspace, from `xtask/plugin-template/`.
//!
//! The crate depends on this checkout's `virt-plugin-sdk` and `virt-core` by absolute path,
//! has its own `[workspace]` (so it is never a member of ours), builds for `wasm32-wasip2`
//! with a plain `cargo build --release`, and serves `NAME:///SPACE` with one example domain.
//! It starts from this workspace's `Cargo.lock`, so it builds with the dependency versions
//! rvirt is tested with (and without fetching anything cargo already has).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::plugins::workspace_root;

/// The template, compiled into xtask: (path in the new crate, contents).
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../plugin-template/Cargo.toml.tmpl"),
    ),
    (
        "rvirt-plugin.toml",
        include_str!("../plugin-template/rvirt-plugin.toml.tmpl"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../plugin-template/cargo/config.toml.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../plugin-template/gitignore.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../plugin-template/src/lib.rs.tmpl"),
    ),
];

/// What `new-plugin` was asked for.
#[derive(Debug)]
pub struct Request {
    pub name: String,
    pub dir: PathBuf,
    pub sdk_path: PathBuf,
    /// Allow a directory inside this workspace.
    pub force: bool,
}

/// A plugin name is its URI scheme, its crate name and its file stem at once: lower-case
/// letters, digits and '-', starting with a letter (a scheme allows no '_', a crate no '.').
pub fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The WIT version the SDK at `sdk_path` writes into its components.
pub fn sdk_wit_version(sdk_path: &Path) -> Result<String, String> {
    let lib = sdk_path.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    text.lines()
        .find_map(|line| {
            let rest = line
                .trim()
                .strip_prefix("pub const WIT_VERSION: &str = \"")?;
            rest.split('"').next().map(str::to_string)
        })
        .ok_or_else(|| format!("{}: no `pub const WIT_VERSION`", lib.display()))
}

/// `path` made absolute against the current directory, with `.` and `..` resolved.
fn absolute(path: &Path) -> Result<PathBuf, String> {
    let joined = std::env::current_dir()
        .map_err(|e| format!("current directory: {e}"))?
        .join(path);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Writes the new crate; returns its directory.
pub fn create(request: &Request) -> Result<PathBuf, String> {
    let name = &request.name;
    if !valid_name(name) {
        return Err(format!(
            "'{name}' cannot be a plugin name: it is the URI scheme, crate name and file stem, \
             so lower-case letters, digits and '-', starting with a letter"
        ));
    }
    let dir = absolute(&request.dir)?;
    let root = absolute(&workspace_root())?;
    if dir.starts_with(&root) && !request.force {
        return Err(format!(
            "{} is inside the rvirt workspace ({}); a third-party plugin lives outside it \
             (use --dir, or --force to create it here anyway)",
            dir.display(),
            root.display()
        ));
    }
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(true)
    {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    let sdk_path = absolute(&request.sdk_path)?;
    let core_path = sdk_path
        .parent()
        .map(|crates| crates.join("virt-core"))
        .filter(|core| core.join("Cargo.toml").exists())
        .ok_or_else(|| {
            format!(
                "no virt-core beside the SDK at {} (expected ../virt-core)",
                sdk_path.display()
            )
        })?;
    let wit = sdk_wit_version(&sdk_path)?;
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{sdk_path}}", &sdk_path.to_string_lossy())
            .replace("{{core_path}}", &core_path.to_string_lossy())
            .replace("{{wit}}", &wit)
    };
    for (path, text) in TEMPLATE {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&target, fill(text)).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    // The versions rvirt builds and tests with; cargo drops what the plugin does not use.
    let lock = root.join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, dir.join("Cargo.lock"))
            .map_err(|e| format!("{}: {e}", lock.display()))?;
    }
    Ok(dir)
}

fn parse(args: &[String]) -> Result<Request, String> {
    let mut name = None;
    let mut dir = None;
    let mut sdk_path = None;
    let mut force = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match arg.as_str() {
            "--dir" => dir = Some(value("--dir")?),
            "--sdk-path" => sdk_path = Some(value("--sdk-path")?),
            "--force" => force = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ if name.is_none() => name = Some(arg.clone()),
            extra => return Err(format!("unexpected argument '{extra}'")),
        }
    }
    let name = name.ok_or("missing NAME")?;
    Ok(Request {
        dir: dir.unwrap_or_else(|| PathBuf::from(&name)),
        sdk_path: sdk_path.unwrap_or_else(|| workspace_root().join("crates/virt-plugin-sdk")),
        name,
        force,
    })
}

pub fn run(args: &[String]) -> ExitCode {
    let request = match parse(args) {
        Ok(request) => request,
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("usage: cargo xtask new-plugin NAME [--dir DIR] [--sdk-path PATH] [--force]");
            return ExitCode::from(2);
        }
    };
    match create(&request) {
        Ok(dir) => {
            let name = &request.name;
            println!("created {}", dir.display());
            println!("next:");
            println!("  cd {} && cargo build --release", dir.display());
            println!(
                "  cargo xtask package-plugin {name} --path {} --out DIR",
                dir.display()
            );
            println!("  cargo xtask install-plugin DIR/{name}-*.tar.gz");
            println!("  virsh -c {name}:///x list --all    # through rvirtd");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_schemes_crates_and_stems() {
        for good in ["hello", "my-driver2", "x"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "Hello",
            "2x",
            "my_driver",
            "a.b",
            "a+unix",
            "x-",
            "../x",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_crate_is_refused_inside_the_workspace() {
        let request = Request {
            name: "hello".into(),
            dir: workspace_root().join("plugins/hello"),
            sdk_path: workspace_root().join("crates/virt-plugin-sdk"),
            force: false,
        };
        let error = create(&request).expect_err("refused");
        assert!(error.contains("inside the rvirt workspace"), "{error}");
    }

    #[test]
    fn the_template_is_filled_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let request = Request {
            name: "hello".into(),
            dir: dir.path().join("hello"),
            sdk_path: workspace_root().join("crates/virt-plugin-sdk"),
            force: false,
        };
        let created = create(&request).expect("created");
        for (path, _) in TEMPLATE {
            let text = std::fs::read_to_string(created.join(path)).expect("written");
            assert!(!text.contains("{{"), "{path} still has a placeholder");
        }
        let cargo: toml::Table = std::fs::read_to_string(created.join("Cargo.toml"))
            .expect("Cargo.toml")
            .parse()
            .expect("valid TOML");
        assert!(cargo.contains_key("workspace"), "its own workspace");
        let manifest = std::fs::read_to_string(created.join("rvirt-plugin.toml")).expect("read");
        let manifest = virt_host::manifest::Manifest::parse(
            &manifest,
            &created.join(virt_host::manifest::SOURCE_MANIFEST),
        )
        .expect("a valid manifest");
        assert_eq!(manifest.uri_schemes, ["hello"]);
        assert!(manifest.capabilities == Default::default());
        assert!(
            create(&request).is_err(),
            "an existing crate is not overwritten"
        );
    }
}
