//! Domain definitions the LXC way: libvirt's generic parse, post-parse and validation
//! (`virt-xml`), then what libvirt's LXC driver adds (`virLXCDomainDefPostParse`): only
//! `type='lxc'` with `<os><type>exe</type>`, an emulator, and consoles whose target type
//! defaults to `lxc`. As in libvirt, a definition without `<init>` is refused (`virt-xml`'s
//! post-parse: "init binary must be specified"); nothing guesses `/sbin/init`.

use virt_core::{Error, ErrorNumber};
use virt_xml::domain::{Domain, OsType, OsTypeElement, VirtType};

use crate::error::{lxc_error, unsupported};

/// What `<emulator>` says when a definition names none. rvirt always runs its own controller;
/// the element is informational, as libvirt writes it for its `libvirt_lxc`.
pub const DEFAULT_EMULATOR: &str = "/usr/libexec/rvirt/rvirt-lxc-controller";

/// Parses a definition for `define`/`create`.
pub fn parse_for_define(xml: &str) -> Result<Domain, Error> {
    let mut domain = Domain::parse_for_define(xml)?;
    post_parse(&mut domain)?;
    Ok(domain)
}

/// Parses a definition the driver wrote itself (records).
pub fn parse_stored(xml: &str) -> Result<Domain, Error> {
    Domain::parse(xml)
}

fn post_parse(domain: &mut Domain) -> Result<(), Error> {
    match domain.virt_type {
        Some(VirtType::Lxc) => {}
        Some(other) => {
            return Err(lxc_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                format!(
                    "domain type '{}' is not supported by the LXC driver: use type='lxc'",
                    other.as_str()
                ),
            ))
        }
        None => {
            return Err(unsupported(
                "the domain type is missing: use <domain type='lxc'>",
            ))
        }
    }
    let os = domain.os.get_or_insert_with(Default::default);
    match os.kind() {
        None => {
            os.os_type
                .get_or_insert_with(OsTypeElement::default)
                .os_type = Some(OsType::Exe);
        }
        Some(OsType::Exe) => {}
        Some(other) => {
            return Err(unsupported(format!(
            "os type '{}' is not supported by the LXC driver: containers run <os><type>exe</type>",
            other.as_str()
        )))
        }
    }
    if domain.devices.emulator.is_none() {
        domain.devices.emulator = Some(DEFAULT_EMULATOR.to_string());
    }
    for console in &mut domain.devices.consoles {
        let target = console.target.get_or_insert_with(Default::default);
        if target.target_type.is_none() {
            target.target_type = Some("lxc".to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lxc_defaults_are_filled_in() {
        let domain = parse_for_define(
            "<domain type='lxc'><name>c1</name><memory>65536</memory><os><type>exe</type>\
             <init>/bin/sh</init></os><devices><console type='pty'/></devices></domain>",
        )
        .expect("valid");
        assert_eq!(domain.devices.emulator.as_deref(), Some(DEFAULT_EMULATOR));
        let target = domain.devices.consoles[0].target.as_ref().expect("target");
        assert_eq!(target.target_type.as_deref(), Some("lxc"));
        assert!(domain.uuid.is_some());
    }

    #[test]
    fn a_container_without_init_is_refused_as_libvirt_does() {
        let error = parse_for_define(
            "<domain type='lxc'><name>c1</name><memory>65536</memory><os><type>exe</type></os></domain>",
        )
        .expect_err("no init");
        assert_eq!(error.code(), ErrorNumber::XML_ERROR);
        assert!(
            error.message().contains("init binary must be specified"),
            "{error:?}"
        );
    }

    #[test]
    fn other_hypervisors_are_refused() {
        let error = parse_for_define(
            "<domain type='kvm'><name>c1</name><memory>65536</memory><os><type>hvm</type></os></domain>",
        )
        .expect_err("kvm");
        assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
        assert!(error.message().contains("type='lxc'"), "{error:?}");
    }
}
