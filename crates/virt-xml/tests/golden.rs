//! Golden tests: each `tests/data/<dir>/<case>.xml` sits next to `<case>.expect`, the text
//! virt-xml must produce for it. `<dir>` names the document kind (`domain`, `network`, `pool`,
//! ...), or is `define` (a domain through parse, post-parse and define-time validation) or
//! `errors` (domain documents that must be refused). A refusal is written as
//! `error: CODE/DOMAIN` followed by libvirt's message.
//!
//! `UPDATE_EXPECT=1 cargo test -p virt-xml --test golden` rewrites the `.expect` files;
//! review the diff before committing it.

use std::path::{Path, PathBuf};

use virt_xml::document::{Document, Kind};
use virt_xml::domain::Domain;
use virt_xml::{Error, FormatFlags};

fn describe(error: &Error) -> String {
    format!(
        "error: {:?}/{:?}\n{}\n",
        error.code(),
        error.domain(),
        error.message()
    )
}

fn render(dir: &str, text: &str) -> String {
    let result = match dir {
        "define" => Domain::parse_for_define(text).map(|domain| {
            domain.format(&FormatFlags {
                secure: true,
                inactive: true,
                ..FormatFlags::default()
            })
        }),
        "errors" => Domain::parse(text).map(|domain| domain.to_xml()),
        kind => {
            let kind = Kind::from_name(kind)
                .unwrap_or_else(|| panic!("tests/data/{kind}: not a document kind"));
            Document::parse_as(kind, text).map(|doc| doc.to_xml())
        }
    };
    match result {
        Ok(xml) => xml,
        Err(error) => describe(&error),
    }
}

fn cases() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/data exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("readable case folder")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "xml"))
            .collect();
        files.sort();
        cases.extend(files.into_iter().map(|file| (name.clone(), file)));
    }
    cases
}

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|value| value == "1");
    let mut failures = Vec::new();
    let cases = cases();
    assert!(
        cases.len() > 20,
        "expected the golden cases under tests/data"
    );
    for (dir, input) in cases {
        let bytes = std::fs::read(&input).expect("readable input");
        let got = match std::str::from_utf8(&bytes) {
            Ok(text) => render(&dir, text),
            Err(_) => match Domain::parse_bytes(&bytes) {
                Ok(domain) => domain.to_xml(),
                Err(error) => describe(&error),
            },
        };
        let expect_path = input.with_extension("expect");
        if update {
            std::fs::write(&expect_path, &got).expect("write .expect");
            continue;
        }
        let want = std::fs::read_to_string(&expect_path).unwrap_or_default();
        if got != want {
            failures.push(format!(
                "{}:\n--- want\n{want}--- got\n{got}",
                input
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .unwrap_or(&input)
                    .display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ (UPDATE_EXPECT=1 to refresh):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every expected document is itself canonical: formatting it again changes nothing.
#[test]
fn expected_documents_are_fixed_points() {
    for (dir, input) in cases() {
        let expect_path = input.with_extension("expect");
        let Ok(expected) = std::fs::read_to_string(&expect_path) else {
            continue;
        };
        if expected.starts_with("error:") || dir == "errors" {
            continue;
        }
        let kind = if dir == "define" {
            "domain"
        } else {
            dir.as_str()
        };
        let again = render(kind, &expected);
        assert_eq!(
            again,
            expected,
            "{} is not a fixed point",
            expect_path.display()
        );
    }
}
