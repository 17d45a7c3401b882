//! Independent plugin releases: `cargo xtask package-plugin` and `cargo xtask install-plugin`.
//!
//! A release is one archive per driver, `NAME-VERSION-witX.Y.Z.tar.gz`, holding exactly
//! `NAME.wasm` and `NAME.toml`. The manifest in it is the crate's `rvirt-plugin.toml` with the
//! plugin's own version (its `Cargo.toml`'s), the WIT version the component speaks (read from
//! its `rvirt:wit-version` section) and `sha256`, the component's checksum. Installing checks
//! all of that before anything lands in the plugin directory; the host checks the checksum
//! again every time it loads the component.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use sha2::Digest;
use virt_host::manifest::{Manifest, SOURCE_MANIFEST};

use crate::plugins::workspace_root;

/// Where a plugin's crate is and how to build it.
#[derive(Debug)]
pub enum Source {
    /// `plugins/<dir>` of this workspace whose manifest names the plugin.
    Workspace(String),
    /// A stand-alone crate (`cargo xtask new-plugin`).
    Path(PathBuf),
}

/// A plugin crate whose component was just built.
#[derive(Debug)]
pub struct Built {
    pub crate_dir: PathBuf,
    pub wasm: PathBuf,
}

/// A release: the component and the manifest that goes beside it.
#[derive(Debug)]
pub struct Release {
    pub name: String,
    pub version: String,
    pub wit: String,
    pub wasm: Vec<u8>,
    pub manifest: String,
}

impl Release {
    /// `NAME-VERSION-witX.Y.Z.tar.gz`.
    pub fn archive_name(&self) -> String {
        format!("{}-{}-wit{}.tar.gz", self.name, self.version, self.wit)
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The crate's own version. A plugin is released on its own, so `version.workspace = true`
/// is refused.
pub fn cargo_version(crate_dir: &Path) -> Result<String, String> {
    let path = crate_dir.join("Cargo.toml");
    let table: toml::Table = read(&path)?
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match table.get("package").and_then(|p| p.get("version")) {
        Some(toml::Value::String(version)) => Ok(version.clone()),
        Some(_) => Err(format!(
            "{}: a plugin's version is its own: set `version = \"X.Y.Z\"` in [package] \
             instead of inheriting the workspace's",
            path.display()
        )),
        None => Err(format!("{}: no [package] version", path.display())),
    }
}

/// Sets top-level `key = "value"` in manifest text, keeping comments and layout: replaces
/// the key's line if there is one before the first table, or inserts it after `name`.
pub fn set_top_level(text: &str, key: &str, value: &str) -> String {
    let line = format!("{key} = \"{value}\"");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let first_table = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let is_key = |l: &str, k: &str| {
        l.trim_start()
            .strip_prefix(k)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
    };
    if let Some(idx) = lines[..first_table].iter().position(|l| is_key(l, key)) {
        lines[idx] = line;
    } else {
        let after_name = lines[..first_table]
            .iter()
            .position(|l| is_key(l, "name"))
            .map_or(0, |idx| idx + 1);
        lines.insert(after_name, line);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The manifest an installed plugin carries: the source manifest with its `version` taken
/// from `Cargo.toml` (a source manifest may leave it out; if it states one, they must agree).
pub fn installed_manifest(crate_dir: &Path) -> Result<(String, Manifest), String> {
    let path = crate_dir.join(SOURCE_MANIFEST);
    let text = read(&path)?;
    let version = cargo_version(crate_dir)?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let stated = table.get("version").and_then(|v| v.as_str());
    if let Some(stated) = stated {
        if stated != version {
            return Err(format!(
                "{}: `version` is \"{stated}\" but {}'s package version is \"{version}\"; \
                 the plugin's version is its Cargo.toml's: fix one (or drop `version` from the \
                 manifest and let it be filled in)",
                path.display(),
                crate_dir.join("Cargo.toml").display()
            ));
        }
    }
    let text = match stated {
        Some(_) => text,
        None => set_top_level(&text, "version", &version),
    };
    let manifest = Manifest::parse(&text, &path).map_err(|e| e.to_string())?;
    Ok((text, manifest))
}

/// The crate dir of the workspace plugin named `name` (by its manifest, or its directory).
fn workspace_plugin(name: &str) -> Result<PathBuf, String> {
    let plugins = workspace_root().join("plugins");
    let entries = std::fs::read_dir(&plugins).map_err(|e| format!("{}: {e}", plugins.display()))?;
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for dir in dirs {
        let manifest = dir.join(SOURCE_MANIFEST);
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let named = text
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("name").and_then(|n| n.as_str()).map(str::to_string));
        if named.as_deref() == Some(name) {
            return Ok(dir);
        }
    }
    Err(format!(
        "no plugin named '{name}' under {} (use --path DIR for a crate elsewhere)",
        plugins.display()
    ))
}

fn package_name(crate_dir: &Path) -> Result<String, String> {
    let path = crate_dir.join("Cargo.toml");
    let table: toml::Table = read(&path)?
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{}: no package name", path.display()))
}

/// Builds the plugin's component (into `target_dir`, or cargo's default) and says where
/// cargo put it.
pub fn build(source: &Source, target_dir: Option<&Path>) -> Result<Built, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    let crate_dir = match source {
        Source::Workspace(name) => {
            // Canonical, as cargo reports manifest paths.
            let dir = workspace_plugin(name)?;
            let dir = std::fs::canonicalize(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            command.current_dir(workspace_root()).args([
                "build",
                "--profile",
                "plugin",
                "-p",
                &package_name(&dir)?,
            ]);
            dir
        }
        Source::Path(dir) => {
            let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            command
                .current_dir(&dir)
                .args(["build", "--release", "--manifest-path"])
                .arg(dir.join("Cargo.toml"));
            dir
        }
    };
    command
        .args([
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped());
    if let Some(target_dir) = target_dir {
        command.arg("--target-dir").arg(target_dir);
    }
    let output = command
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building {} failed ({}); is the target installed? `rustup target add wasm32-wasip2`",
            crate_dir.display(),
            output.status
        ));
    }
    let manifest_path = crate_dir.join("Cargo.toml");
    let wasm = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| {
            message["manifest_path"]
                .as_str()
                .is_some_and(|p| Path::new(p) == manifest_path)
        })
        .flat_map(|message| {
            message["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .filter(|f| f.extension().is_some_and(|ext| ext == "wasm"))
                .collect::<Vec<_>>()
        })
        .last()
        .ok_or_else(|| {
            format!(
                "cargo built {} but reported no .wasm (is its crate-type cdylib?)",
                crate_dir.display()
            )
        })?;
    Ok(Built { crate_dir, wasm })
}

/// The release of a built plugin.
pub fn release(built: &Built) -> Result<Release, String> {
    let (text, manifest) = installed_manifest(&built.crate_dir)?;
    let wasm = std::fs::read(&built.wasm).map_err(|e| format!("{}: {e}", built.wasm.display()))?;
    let wit = virt_host::wit_version::read(&wasm, &built.wasm).map_err(|e| e.to_string())?;
    if manifest.wit != wit {
        eprintln!(
            "note: {} says wit = \"{}\" but the component speaks {wit}; the release says {wit}",
            built.crate_dir.join(SOURCE_MANIFEST).display(),
            manifest.wit
        );
    }
    let text = set_top_level(&text, "wit", &wit);
    let text = set_top_level(&text, "sha256", &hex::encode(sha2::Sha256::digest(&wasm)));
    let installed_path = PathBuf::from(format!("{}.toml", manifest.name));
    Manifest::parse(&text, &installed_path).map_err(|e| e.to_string())?;
    Ok(Release {
        name: manifest.name,
        version: manifest.version,
        wit,
        wasm,
        manifest: text,
    })
}

/// Writes `release` as `out/NAME-VERSION-witX.Y.Z.tar.gz` and returns its path.
pub fn write_archive(release: &Release, out: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join(release.archive_name());
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut archive = tar::Builder::new(flate2::write::GzEncoder::new(
        file,
        flate2::Compression::best(),
    ));
    let name = &release.name;
    for (entry, bytes) in [
        (format!("{name}.wasm"), &release.wasm[..]),
        (format!("{name}.toml"), release.manifest.as_bytes()),
    ] {
        // Fixed metadata: the same component always makes the same archive.
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        archive
            .append_data(&mut header, &entry, bytes)
            .map_err(io)?;
    }
    archive
        .into_inner()
        .and_then(|gz| gz.finish())
        .and_then(|file| file.sync_all())
        .map_err(io)?;
    Ok(path)
}

/// The largest archive member accepted: far above any real driver, far below a memory bomb.
const MAX_MEMBER_BYTES: u64 = 512 << 20;

/// What an archive holds once it has been checked.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub manifest_text: String,
    pub wasm: Vec<u8>,
}

/// Reads and checks an archive without writing anything: exactly `NAME.wasm` and
/// `NAME.toml`, a valid manifest for `dir`, a component matching its `sha256` and speaking
/// its `wit`. (Whether the daemon speaks that version is the host's check, at load time.)
pub fn verify(archive: &Path, dir: &Path) -> Result<Verified, String> {
    let io = |e: std::io::Error| format!("{}: {e}", archive.display());
    let file = std::fs::File::open(archive).map_err(io)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in tar.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        let entry_path = entry.path().map_err(io)?.into_owned();
        let name = match (entry_path.to_str(), entry.header().entry_type()) {
            (Some(name), tar::EntryType::Regular)
                if !name.contains('/') && virt_host::manifest::is_plain_stem(name) =>
            {
                name.to_string()
            }
            _ => {
                return Err(format!(
                    "{}: unexpected member '{}' (only NAME.wasm and NAME.toml belong)",
                    archive.display(),
                    entry_path.display()
                ))
            }
        };
        if entry.size() > MAX_MEMBER_BYTES {
            return Err(format!("{}: '{name}' is too large", archive.display()));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(io)?;
        members.insert(name, bytes);
    }
    let toml_name = members
        .keys()
        .find(|n| n.ends_with(".toml"))
        .cloned()
        .ok_or_else(|| format!("{}: no NAME.toml manifest", archive.display()))?;
    let stem = toml_name.trim_end_matches(".toml").to_string();
    let wasm_name = format!("{stem}.wasm");
    if members.len() != 2 || !members.contains_key(&wasm_name) {
        return Err(format!(
            "{}: expected exactly {wasm_name} and {toml_name}, found {}",
            archive.display(),
            members.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let manifest_text = String::from_utf8(members.remove(&toml_name).unwrap_or_default())
        .map_err(|_| format!("{}: {toml_name} is not UTF-8", archive.display()))?;
    let wasm = members.remove(&wasm_name).unwrap_or_default();
    let manifest_path = dir.join(&toml_name);
    let wasm_path = dir.join(&wasm_name);
    let manifest = Manifest::parse(&manifest_text, &manifest_path).map_err(|e| e.to_string())?;
    if manifest.sha256.is_none() {
        return Err(format!(
            "{}: {toml_name} has no field `sha256`; package plugins with `cargo xtask package-plugin`",
            archive.display()
        ));
    }
    manifest
        .verify_component(&wasm, &wasm_path)
        .map_err(|e| format!("{}: {e}", archive.display()))?;
    let wit = virt_host::wit_version::read(&wasm, &wasm_path).map_err(|e| e.to_string())?;
    if wit != manifest.wit {
        return Err(format!(
            "{}: {toml_name} says field `wit` = \"{}\" but {wasm_name} speaks {wit}",
            archive.display(),
            manifest.wit
        ));
    }
    Ok(Verified {
        manifest,
        manifest_text,
        wasm,
    })
}

/// Verifies `archive` and installs it into `dir` as `NAME.wasm` + `NAME.toml`, replacing an
/// older release. Nothing is written unless the archive checks out; each file is renamed into
/// place, the component first, so a host never sees a manifest without its component.
pub fn install(archive: &Path, dir: &Path) -> Result<Verified, String> {
    let verified = verify(archive, dir)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let name = &verified.manifest.name;
    let files = [
        (format!("{name}.wasm"), &verified.wasm[..]),
        (format!("{name}.toml"), verified.manifest_text.as_bytes()),
    ];
    let mut staged = Vec::new();
    for (file, bytes) in &files {
        // Dot-named and not `.toml`: the host's discovery ignores a staged file.
        let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
        if let Err(e) = std::fs::write(&tmp, bytes) {
            for (tmp, _) in &staged {
                let _ = std::fs::remove_file(tmp);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("{}: {e}", tmp.display()));
        }
        staged.push((tmp, dir.join(file)));
    }
    for (tmp, target) in &staged {
        std::fs::rename(tmp, target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(verified)
}

/// Where `install-plugin` puts plugins by default: a directory on the host's default plugin
/// path that this user can write (`/usr/local/lib/rvirt/plugins` for root,
/// `$XDG_DATA_HOME/rvirt/plugins` or `~/.local/share/rvirt/plugins` for others).
pub fn default_install_dir() -> Result<PathBuf, String> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/usr/local/lib/rvirt/plugins"));
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|data| data.join("rvirt/plugins"))
        .ok_or_else(|| "neither XDG_DATA_HOME nor HOME is set; use --dir".to_string())
}

fn parse_flag(args: &[String], flag: &str) -> Result<(Option<String>, Vec<String>), String> {
    let mut value = None;
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == flag {
            value = Some(
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?,
            );
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((value, rest))
}

fn package_command(args: &[String]) -> Result<PathBuf, String> {
    let (out, rest) = parse_flag(args, "--out")?;
    let (path, rest) = parse_flag(&rest, "--path")?;
    let (target_dir, rest) = parse_flag(&rest, "--target-dir")?;
    let source = match (path, rest.as_slice()) {
        (Some(path), []) => Source::Path(PathBuf::from(path)),
        (Some(path), [name]) => {
            // The name is optional with --path; given, it must be the crate's plugin.
            let (_, manifest) = installed_manifest(Path::new(&path))?;
            if &manifest.name != name {
                return Err(format!(
                    "the crate at {path} is plugin '{}', not '{name}'",
                    manifest.name
                ));
            }
            Source::Path(PathBuf::from(path))
        }
        (None, [name]) => Source::Workspace(name.clone()),
        _ => return Err("expected one plugin NAME (or --path DIR)".into()),
    };
    let out = out
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/packages"));
    let built = build(&source, target_dir.as_deref().map(Path::new))?;
    let release = release(&built)?;
    write_archive(&release, &out)
}

/// `cargo xtask package-plugin NAME [--path DIR] [--out DIR] [--target-dir DIR]`.
pub fn run_package(args: &[String]) -> ExitCode {
    match package_command(args) {
        Ok(archive) => {
            println!("{}", archive.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!(
                "usage: cargo xtask package-plugin NAME [--path CRATE_DIR] [--out DIR] [--target-dir DIR]"
            );
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask install-plugin ARCHIVE [--dir DIR]`.
pub fn run_install(args: &[String]) -> ExitCode {
    let outcome = parse_flag(args, "--dir").and_then(|(dir, rest)| {
        let [archive] = rest.as_slice() else {
            return Err("expected one ARCHIVE".to_string());
        };
        let dir = match dir {
            Some(dir) => PathBuf::from(dir),
            None => default_install_dir()?,
        };
        install(Path::new(archive), &dir).map(|verified| (verified, dir))
    });
    match outcome {
        Ok((verified, dir)) => {
            let manifest = &verified.manifest;
            println!(
                "installed {} {} (rvirt:driver@{}) into {}",
                manifest.name,
                manifest.version,
                manifest.wit,
                dir.display()
            );
            println!(
                "a running rvirtd picks it up when restarted; its URI schemes: {}",
                manifest.uri_schemes.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("usage: cargo xtask install-plugin ARCHIVE [--dir PLUGIN_DIR]");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_keys_are_replaced_or_inserted_after_name() {
        let source =
            "# a comment\nname = \"x\"\nversion = \"0.0.1\"\n\n[capabilities]\nversion = 1\n";
        let text = set_top_level(source, "version", "1.2.3");
        assert_eq!(
            text,
            "# a comment\nname = \"x\"\nversion = \"1.2.3\"\n\n[capabilities]\nversion = 1\n"
        );
        let text = set_top_level(&text, "sha256", "ab");
        assert_eq!(
            text,
            "# a comment\nname = \"x\"\nsha256 = \"ab\"\nversion = \"1.2.3\"\n\n[capabilities]\nversion = 1\n"
        );
    }

    /// A core module with only the version section: enough for every check but the host's.
    fn fake_component(wit: &str) -> Vec<u8> {
        let name = virt_host::wit_version::SECTION_NAME.as_bytes();
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(0);
        wasm.push((1 + name.len() + wit.len()) as u8);
        wasm.push(name.len() as u8);
        wasm.extend_from_slice(name);
        wasm.extend_from_slice(wit.as_bytes());
        wasm
    }

    fn release(name: &str) -> Release {
        let wasm = fake_component(virt_host::wit_version::HOST_WIT_VERSION);
        let manifest = format!(
            "name = \"{name}\"\nversion = \"1.0.0\"\nwit = \"{}\"\nsha256 = \"{}\"\nuri-schemes = [\"{name}\"]\n",
            virt_host::wit_version::HOST_WIT_VERSION,
            hex::encode(sha2::Sha256::digest(&wasm))
        );
        Release {
            name: name.into(),
            version: "1.0.0".into(),
            wit: virt_host::wit_version::HOST_WIT_VERSION.into(),
            wasm,
            manifest,
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn an_archive_installs_as_name_wasm_and_name_toml() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let release = release("demo");
        let archive = write_archive(&release, tmp.path()).expect("archive");
        assert_eq!(
            archive.file_name().and_then(|n| n.to_str()),
            Some(format!("demo-1.0.0-wit{}.tar.gz", release.wit).as_str())
        );
        let dir = tmp.path().join("plugins");
        let verified = install(&archive, &dir).expect("installed");
        assert_eq!(verified.manifest.name, "demo");
        assert_eq!(listing(&dir), ["demo.toml", "demo.wasm"]);
        assert_eq!(
            std::fs::read(dir.join("demo.wasm")).expect("wasm"),
            release.wasm
        );
    }

    #[test]
    fn a_tampered_archive_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut tampered = release("demo");
        let last = tampered.wasm.len() - 1;
        tampered.wasm[last] ^= 1;
        let archive = write_archive(&tampered, tmp.path()).expect("archive");
        let dir = tmp.path().join("plugins");
        let error = install(&archive, &dir).expect_err("refused");
        assert!(
            error.contains("demo.wasm") && error.contains("sha256"),
            "{error}"
        );
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

        let mut renamed = release("demo");
        renamed.manifest = renamed
            .manifest
            .replace("name = \"demo\"", "name = \"other\"");
        let archive = write_archive(&renamed, &tmp.path().join("renamed")).expect("archive");
        let error = install(&archive, &dir).expect_err("refused");
        assert!(error.contains("field `name`"), "{error}");
        assert!(listing(&dir).is_empty());
    }

    #[test]
    fn plugin_versions_are_their_cargo_versions() {
        let root = workspace_root();
        for plugin in ["test", "qemu", "lxc"] {
            let dir = root.join("plugins").join(plugin);
            let (_, manifest) = installed_manifest(&dir).expect("consistent");
            assert_eq!(manifest.version, cargo_version(&dir).expect("own version"));
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            tmp.path().join("Cargo.toml"),
            "[package]\nname = \"p\"\nversion = \"0.2.0\"\n",
        )
        .expect("write");
        std::fs::write(
            tmp.path().join(SOURCE_MANIFEST),
            "name = \"p\"\nversion = \"0.1.0\"\nwit = \"0.1.0\"\nuri-schemes = [\"p\"]\n",
        )
        .expect("write");
        let error = installed_manifest(tmp.path()).expect_err("disagree");
        assert!(
            error.contains("\"0.1.0\"") && error.contains("\"0.2.0\""),
            "{error}"
        );
    }
}
