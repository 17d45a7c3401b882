//! `rvirt-xml` as a user runs it: exit codes and what it prints.

use std::process::Command;

fn rvirt_xml(args: &[&str], input: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("doc.xml");
    std::fs::write(&path, input).expect("write input");
    let mut full: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    full.push(path.to_string_lossy().into_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_rvirt-xml"))
        .args(&full)
        .output()
        .expect("run");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const DOMAIN: &str = "<domain type='kvm'>\n  <name>demo</name>\n  <memory unit='MiB'>512</memory>\n  <os><type>hvm</type></os>\n</domain>\n";

#[test]
fn format_writes_the_canonical_form() {
    let (code, out, _) = rvirt_xml(&["format"], DOMAIN);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("<domain type='kvm'>\n  <name>demo</name>\n"),
        "{out}"
    );
    assert!(out.contains("<memory unit='KiB'>524288</memory>"), "{out}");
    assert!(out.contains("    <type>hvm</type>\n"), "{out}");
}

#[test]
fn validate_accepts_a_definable_domain() {
    let (code, out, _) = rvirt_xml(&["validate"], DOMAIN);
    assert_eq!(code, 0);
    assert!(out.ends_with("validates\n"), "{out}");
}

#[test]
fn validate_reports_libvirt_errors() {
    let (code, _, err) = rvirt_xml(&["validate"], "<domain type='kvm'><name>x</name></domain>");
    assert_eq!(code, 1);
    assert!(err.contains("Memory size must be specified"), "{err}");

    let (code, _, err) = rvirt_xml(
        &["validate"],
        "<domain type='kvm'>\n  <name>x</name\n</domain>",
    );
    assert_eq!(code, 1);
    assert!(err.starts_with("error: (domain_definition):2:"), "{err}");
    assert!(err.contains("expected '>'"), "{err}");
}

#[test]
fn kind_can_be_forced() {
    let (code, _, err) = rvirt_xml(&["format", "--kind", "network"], DOMAIN);
    assert_eq!(code, 1);
    assert!(
        err.contains("expecting root element of 'network', not 'domain'"),
        "{err}"
    );
    let (code, _, err) = rvirt_xml(&["format", "--kind", "bogus"], DOMAIN);
    assert_eq!(code, 1);
    assert!(err.contains("unknown kind 'bogus'"), "{err}");
}
