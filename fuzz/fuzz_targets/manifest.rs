//! Plugin manifests and the operator's grants (TOML a plugin author or an operator writes),
//! and the capability matching every privileged host call goes through. Arbitrary text must
//! never panic or take long; a manifest that parses holds what `validate` promises; and
//! matching keeps its laws for every string the input names as a pattern or as a path:
//! normalization is idempotent and leaves an absolute path without `.` or `..`, a
//! `files-write` grant implies the read, a pattern names itself, `*:*` allows any endpoint,
//! and a `spawn` pattern matches exactly what a plain dynamic-programming glob matches.

#![no_main]

use std::path::{Component, Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use virt_host::manifest::{
    is_plain_stem, normalize, Capabilities, Grants, Manifest, Operation, SOURCE_MANIFEST,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = Manifest::parse(text, Path::new(SOURCE_MANIFEST)) {
        assert!(is_plain_stem(&manifest.name), "name {:?}", manifest.name);
        assert!(!manifest.uri_schemes.is_empty());
        assert!(
            semver_like(&manifest.version),
            "version {:?}",
            manifest.version
        );
        // The same text installed as `<name>.toml` is the same manifest.
        let installed = Path::new("/plugins").join(format!("{}.toml", manifest.name));
        let again = Manifest::parse(text, &installed).expect("valid under its own name");
        assert_eq!(again.capabilities, manifest.capabilities);
        check_capabilities(&manifest.capabilities);
    }
    if let Ok(grants) = Grants::parse(text, Path::new("/etc/rvirt/grants.toml")) {
        for (plugin, capabilities) in &grants.plugins {
            assert_eq!(&grants.for_plugin(plugin), capabilities);
            check_capabilities(capabilities);
        }
    }
});

fn semver_like(version: &str) -> bool {
    version
        .split(['-', '+'])
        .next()
        .is_some_and(|core| core.split('.').count() == 3)
}

/// The driver's directories as the host expands them (`$helpers` stands for two).
fn dirs(var: &str) -> Vec<PathBuf> {
    match var {
        "run" => vec![PathBuf::from("/run/rvirt/x")],
        "state" => vec![PathBuf::from("/var/lib/rvirt/x")],
        "helpers" => vec![
            PathBuf::from("/usr/libexec/rvirt"),
            PathBuf::from("/opt/rvirt"),
        ],
        _ => Vec::new(),
    }
}

fn check_capabilities(capabilities: &Capabilities) {
    let strings = [
        &capabilities.spawn,
        &capabilities.unix_connect,
        &capabilities.files_read,
        &capabilities.files_write,
        &capabilities.net,
        &capabilities.connect,
    ];
    let texts: Vec<&String> = strings.into_iter().flatten().take(16).collect();
    for pattern in texts.iter().filter(|pattern| !pattern.starts_with('$')) {
        let own = Capabilities {
            spawn: vec![pattern.to_string()],
            ..Capabilities::default()
        };
        for text in &texts {
            assert_eq!(
                own.allows(Operation::Spawn(Path::new(text)), &dirs),
                reference_glob(Path::new(pattern), Path::new(text)),
                "spawn pattern {pattern:?} against {text:?}"
            );
        }
    }
    for text in texts {
        let path = Path::new(text);
        check_normalize(path);
        for operation in [
            Operation::Spawn(path),
            Operation::UnixConnect(path),
            Operation::FileRead(path),
            Operation::FileWrite(path),
            Operation::Net(text),
        ] {
            capabilities.allows(operation, &dirs);
        }
        if capabilities.allows(Operation::FileWrite(path), &dirs) {
            assert!(capabilities.allows(Operation::FileRead(path), &dirs));
        }
        // A plain path (no `*`, no `$` to expand) allows itself, and nothing else is needed.
        if path.is_absolute() && !text.contains(['*', '$']) && normalize(path).is_some() {
            let own = Capabilities {
                spawn: vec![text.clone()],
                files_write: vec![text.clone()],
                ..Capabilities::default()
            };
            assert!(own.allows(Operation::Spawn(path), &dirs), "spawn {text:?}");
            assert!(
                own.allows(Operation::FileRead(path), &dirs),
                "read {text:?}"
            );
        }
        let (host, port) = text.rsplit_once(':').unwrap_or((text, "0"));
        let port = port.parse::<u16>().unwrap_or(0);
        capabilities.allows(Operation::Connect { host, port }, &dirs);
        let own = Capabilities {
            connect: vec![format!("{host}:{port}")],
            ..Capabilities::default()
        };
        assert!(
            own.allows(Operation::Connect { host, port }, &dirs),
            "connect {text:?}"
        );
        let any = Capabilities {
            connect: vec!["*:*".into()],
            ..Capabilities::default()
        };
        assert!(any.allows(Operation::Connect { host, port }, &dirs));
    }
}

fn check_normalize(path: &Path) {
    let Some(normal) = normalize(path) else {
        return;
    };
    assert!(normal.is_absolute(), "{normal:?}");
    assert!(
        normal
            .components()
            .all(|part| matches!(part, Component::RootDir | Component::Normal(_))),
        "{normal:?} still has . or .."
    );
    assert_eq!(normalize(&normal).as_ref(), Some(&normal), "not idempotent");
}

/// The glob `spawn` patterns mean, the slow and obvious way: the same number of components
/// after normalizing, each matched by a table over characters where `*` is any run.
fn reference_glob(pattern: &Path, path: &Path) -> bool {
    let (Some(pattern), Some(path)) = (normalize(pattern), normalize(path)) else {
        return false;
    };
    let pattern: Vec<_> = pattern.components().collect();
    let path: Vec<_> = path.components().collect();
    pattern.len() == path.len()
        && pattern.iter().zip(&path).all(|(pattern, part)| {
            wildcard(
                &pattern.as_os_str().to_string_lossy(),
                &part.as_os_str().to_string_lossy(),
            )
        })
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // matches[n]: the pattern read so far matches the first n characters of the text.
    let mut matches = vec![false; text.len() + 1];
    matches[0] = true;
    for wanted in pattern.chars() {
        if wanted == '*' {
            for n in 1..=text.len() {
                matches[n] = matches[n] || matches[n - 1];
            }
        } else {
            for n in (1..=text.len()).rev() {
                matches[n] = matches[n - 1] && text[n - 1] == wanted;
            }
            matches[0] = false;
        }
    }
    matches[text.len()]
}
