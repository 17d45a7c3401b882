//! Golden tests of the firewall scripts: each `tests/data/firewall/<case>.xml` is a network,
//! next to the scripts `firewall::rules` writes for it, `<case>.add.nft` (network start) and
//! `<case>.remove.nft` (destroy), or to `<case>.error` when it refuses the network
//! (`error: CODE/DOMAIN` then libvirt's message).
//!
//! `UPDATE_EXPECT=1 cargo test -p rvirt-driver-network --test firewall_golden` rewrites the
//! expected files; review the diff before committing it. `tests/firewall_nft.rs` loads the
//! same scripts into a real nftables.

use std::path::{Path, PathBuf};

use rvirt_driver_network::firewall;
use virt_xml::network::Network;

/// What a case produces: file extension → text.
fn render(xml: &str) -> Vec<(&'static str, String)> {
    match Network::parse(xml).and_then(|network| firewall::rules(&network)) {
        Ok(plan) => vec![
            ("add.nft", plan.add_script()),
            ("remove.nft", plan.remove_script()),
        ],
        Err(error) => vec![(
            "error",
            format!(
                "error: {:?}/{:?}\n{}\n",
                error.code(),
                error.domain(),
                error.message()
            ),
        )],
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/firewall")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("tests/data/firewall exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
        .collect();
    cases.sort();
    cases
}

/// `<case>.<extension>` next to `<case>.xml`.
fn sibling(input: &Path, extension: &str) -> PathBuf {
    input.with_extension(extension)
}

const EXPECTED_EXTENSIONS: [&str; 3] = ["add.nft", "remove.nft", "error"];

#[test]
fn golden_scripts() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|value| value == "1");
    let cases = cases();
    assert!(
        cases.len() >= 10,
        "expected the firewall cases under tests/data/firewall"
    );
    let mut failures = Vec::new();
    for input in cases {
        let xml = std::fs::read_to_string(&input).expect("readable case");
        let outputs = render(&xml);
        if update {
            for extension in EXPECTED_EXTENSIONS {
                let _ = std::fs::remove_file(sibling(&input, extension));
            }
            for (extension, text) in &outputs {
                std::fs::write(sibling(&input, extension), text).expect("write expected file");
            }
            continue;
        }
        for extension in EXPECTED_EXTENSIONS {
            let path = sibling(&input, extension);
            let want = std::fs::read_to_string(&path).ok();
            let got = outputs
                .iter()
                .find(|(produced, _)| *produced == extension)
                .map(|(_, text)| text.clone());
            if got != want {
                failures.push(format!(
                    "{}:\n--- want\n{}--- got\n{}",
                    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
                        .unwrap_or(&path)
                        .display(),
                    want.as_deref().unwrap_or("(no file)\n"),
                    got.as_deref().unwrap_or("(nothing)\n"),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} firewall golden file(s) differ (UPDATE_EXPECT=1 to refresh):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every expected file belongs to a case: none is left behind by a renamed or deleted one.
#[test]
fn no_orphan_expected_files() {
    for entry in std::fs::read_dir(data_dir()).expect("tests/data/firewall exists") {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".xml") {
            continue;
        }
        let case = EXPECTED_EXTENSIONS
            .iter()
            .find_map(|extension| name.strip_suffix(&format!(".{extension}")))
            .unwrap_or_else(|| {
                panic!("{name}: not a case file (.xml, .add.nft, .remove.nft, .error)")
            });
        assert!(
            data_dir().join(format!("{case}.xml")).exists(),
            "{name} has no {case}.xml"
        );
    }
}
