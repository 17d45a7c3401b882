//! Golden tests: each `tests/data/<dir>/<case>.xml` sits next to `<case>.expect`, the text
//! virt-xml must produce for it. `<dir>` names the document kind (`domain`, `network`, `pool`,
//! ...), or is `define` (a domain through parse, post-parse and define-time validation) or
//! `errors` (domain documents that must be refused). A refusal is written as
//! `error: CODE/DOMAIN` followed by libvirt's message.
//!
//! `network-update` cases are a network (`<case>.xml`) and a list of `virNetworkUpdate`
//! changes (`<case>.updates`); the `.expect` file shows, after each change, the network or
//! the refusal (which must leave the network as it was). A change is a header line
//! `COMMAND SECTION [PARENT-INDEX]` with virsh's names (`add-last ip-dhcp-host 0`; a number
//! stands for a code libvirt does not know) followed by the XML fragment, up to a blank line;
//! `#` starts a comment line.
//!
//! `UPDATE_EXPECT=1 cargo test -p virt-xml --test golden` rewrites the `.expect` files;
//! review the diff before committing it.

use std::path::{Path, PathBuf};

use virt_core::consts::{network_update_command, network_update_section};
use virt_xml::document::{Document, Kind};
use virt_xml::domain::Domain;
use virt_xml::network::Network;
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

/// A command or section code by virsh's name, or as a number.
fn update_code(word: &str, names: &[(&str, i32)]) -> u32 {
    names
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, code)| *code as u32)
        .or_else(|| word.parse().ok())
        .unwrap_or_else(|| panic!("unknown update word {word:?}"))
}

fn render_network_update(input: &Path, text: &str) -> String {
    use network_update_command as command;
    use network_update_section as section;
    const COMMANDS: &[(&str, i32)] = &[
        ("modify", command::MODIFY),
        ("delete", command::DELETE),
        ("add-last", command::ADD_LAST),
        ("add-first", command::ADD_FIRST),
    ];
    const SECTIONS: &[(&str, i32)] = &[
        ("bridge", section::BRIDGE),
        ("domain", section::DOMAIN),
        ("ip", section::IP),
        ("ip-dhcp-host", section::IP_DHCP_HOST),
        ("ip-dhcp-range", section::IP_DHCP_RANGE),
        ("forward", section::FORWARD),
        ("forward-interface", section::FORWARD_INTERFACE),
        ("forward-pf", section::FORWARD_PF),
        ("portgroup", section::PORTGROUP),
        ("dns-host", section::DNS_HOST),
        ("dns-txt", section::DNS_TXT),
        ("dns-srv", section::DNS_SRV),
    ];
    // Defined as a driver defines it (libvirt's test driver is the reference these cases are
    // checked against).
    let mut network = match Network::parse(text).and_then(|mut network| {
        network.post_parse()?;
        Ok(network)
    }) {
        Ok(network) => network,
        Err(error) => return describe(&error),
    };
    let updates_path = input.with_extension("updates");
    let updates = std::fs::read_to_string(&updates_path)
        .unwrap_or_else(|_| panic!("{} next to its network", updates_path.display()));
    let mut out = String::new();
    let lines: Vec<&str> = updates
        .lines()
        .filter(|line| !line.starts_with('#'))
        .collect();
    for step in lines.split(|line| line.trim().is_empty()) {
        let Some((header, fragment)) = step.split_first() else {
            continue;
        };
        let words: Vec<&str> = header.split_whitespace().collect();
        let (command, section, parent_index) = match words.as_slice() {
            [command, section] => (*command, *section, -1),
            [command, section, index] => (
                *command,
                *section,
                index.parse().expect("parent index is a number"),
            ),
            _ => panic!("bad update header {header:?}"),
        };
        let before = network.clone();
        let result = network.update_section(
            update_code(command, COMMANDS),
            update_code(section, SECTIONS),
            parent_index,
            &fragment.join("\n"),
            0,
        );
        out.push_str(&format!("## {header}\n"));
        match result {
            Ok(()) => out.push_str(&network.to_xml()),
            Err(error) => {
                assert_eq!(
                    network, before,
                    "{header}: a refused update changed the network"
                );
                out.push_str(&describe(&error));
            }
        }
    }
    out
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
            Ok(text) if dir == "network-update" => render_network_update(&input, text),
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
        if expected.starts_with("error:") || dir == "errors" || dir == "network-update" {
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
