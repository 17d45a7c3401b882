//! Save images and managed save.
//!
//! A save image is what libvirt's test driver writes: the 15 bytes `TestGuestMagic\0`, the
//! length of the XML as a 32-bit little-endian integer, then the domain XML. Images written
//! by either driver restore in the other. Managed save keeps no image at all, only a flag,
//! as in the test driver.

use virt_core::consts::{
    domain_event_started_detail_type, domain_event_stopped_detail_type, domain_event_type,
    domain_running_reason, domain_save_image_xml_flags, domain_save_restore_flags,
    domain_shutoff_reason,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Result};
use virt_plugin_sdk::types::DomainRef;

use super::def::DomainDef;
use super::DOMAINS_JOB;
use crate::error;
use crate::space::Space;

const SAVE_MAGIC: &[u8; 15] = b"TestGuestMagic\0";

/// The longest XML the test driver reads back from an image.
const MAX_IMAGE_XML: usize = 8192;

fn system_error(detail: String) -> Error {
    Error::new(ErrorNumber::SYSTEM_ERROR, ErrorDomain::TEST, detail)
}

/// The `strerror` part of a host file error ("No such file or directory"), as libvirt's
/// `virReportSystemError` appends it.
fn strerror(error: &Error) -> &str {
    let message = error.message();
    let message = match message.rfind(" (os error ") {
        Some(at) if message.ends_with(')') => &message[..at],
        _ => message,
    };
    message.rsplit(": ").next().unwrap_or(message)
}

fn xml_modification_unsupported() -> Error {
    error::test(
        ErrorNumber::ARGUMENT_UNSUPPORTED,
        "xml modification unsupported",
    )
}

/// Encodes an image.
fn encode_image(xml: &str) -> Vec<u8> {
    let mut image = Vec::with_capacity(SAVE_MAGIC.len() + 4 + xml.len());
    image.extend_from_slice(SAVE_MAGIC);
    image.extend_from_slice(&(xml.len() as u32).to_le_bytes());
    image.extend_from_slice(xml.as_bytes());
    image
}

/// `testDomainSaveImageOpen`: the definition stored in the image at `path`.
fn read_image(space: &dyn Space, path: &str) -> Result<DomainDef> {
    let image = space.read_file(path).map_err(|e| {
        system_error(format!(
            "cannot read domain image '{path}': {}",
            strerror(&e)
        ))
    })?;
    let Some(magic) = image.get(..SAVE_MAGIC.len()) else {
        return Err(system_error(format!("incomplete save header in '{path}'")));
    };
    if magic != SAVE_MAGIC {
        return Err(error::internal("mismatched header magic"));
    }
    let Some(length) = image.get(SAVE_MAGIC.len()..SAVE_MAGIC.len() + 4) else {
        return Err(system_error(format!(
            "failed to read metadata length in '{path}'"
        )));
    };
    let length = i32::from_le_bytes([length[0], length[1], length[2], length[3]]);
    if length < 1 || length as usize > MAX_IMAGE_XML {
        return Err(error::internal("length of metadata out of range"));
    }
    let start = SAVE_MAGIC.len() + 4;
    let Some(xml) = image.get(start..start + length as usize) else {
        return Err(system_error(format!("incomplete metadata in '{path}'")));
    };
    let xml = String::from_utf8_lossy(xml);
    DomainDef::parse_saved(&xml)
}

/// `virDomainSaveFlags`: writes the image, then the domain stops (SAVED).
pub(crate) fn save(
    space: &dyn Space,
    dom: &DomainRef,
    path: &str,
    dxml: Option<&str>,
    flags: u32,
) -> Result<()> {
    error::check_flags(flags, 0, "testDomainSaveFlags")?;
    if dxml.is_some() {
        return Err(xml_modification_unsupported());
    }
    let d = super::get_for_membership_change(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    let defs = d.defs(space)?;
    let xml = defs
        .def
        .format(d.rec.id, virt_core::consts::domain_xml_flags::SECURE);
    let name = d.rec.name.clone();
    space.write_file(path, &encode_image(&xml)).map_err(|e| {
        system_error(format!(
            "saving domain '{name}' to '{path}': open failed: {}",
            strerror(&e)
        ))
    })?;
    super::lifecycle::stop(
        space,
        d,
        domain_shutoff_reason::SAVED,
        domain_event_stopped_detail_type::SAVED,
    )
}

/// `virDomainRestoreFlags`: the image's domain runs again (RESTORED).
pub(crate) fn restore(space: &dyn Space, path: &str, dxml: Option<&str>, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testDomainRestoreFlags")?;
    if dxml.is_some() {
        return Err(xml_modification_unsupported());
    }
    let def = read_image(space, path)?;
    space.begin_job(DOMAINS_JOB)?;
    let (mut d, mut defs, is_new) = super::lifecycle::add_live(space, def)?;
    super::start_state(space, &mut d, &mut defs, domain_running_reason::RESTORED)?;
    if is_new {
        super::insert(space, &mut d, &defs)?;
    } else {
        d.write_all(space, &defs)?;
    }
    d.emit_lifecycle(
        space,
        domain_event_type::STARTED,
        domain_event_started_detail_type::RESTORED,
    );
    Ok(())
}

/// `virDomainSaveImageGetXMLDesc`.
pub(crate) fn image_xml(space: &dyn Space, path: &str, flags: u32) -> Result<String> {
    error::check_flags(
        flags,
        domain_save_image_xml_flags::SECURE,
        "testDomainSaveImageGetXMLDesc",
    )?;
    let def = read_image(space, path)?;
    Ok(def.format(-1, virt_core::consts::domain_xml_flags::SECURE))
}

/// `virDomainManagedSave`: stops a running persistent domain and remembers it was saved.
pub(crate) fn managed_save(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(
        flags,
        domain_save_restore_flags::BYPASS_CACHE
            | domain_save_restore_flags::RUNNING
            | domain_save_restore_flags::PAUSED,
        "testDomainManagedSave",
    )?;
    let mut d = super::get_for_membership_change(space, dom)?;
    if !d.rec.is_active() {
        return Err(error::domain_not_running());
    }
    if !d.rec.persistent {
        return Err(error::operation_invalid(
            "cannot do managed save for transient domain",
        ));
    }
    d.rec.has_managed_save = true;
    super::lifecycle::stop(
        space,
        d,
        domain_shutoff_reason::SAVED,
        domain_event_stopped_detail_type::SAVED,
    )
}

/// `virDomainManagedSaveRemove`.
pub(crate) fn managed_save_remove(space: &dyn Space, dom: &DomainRef, flags: u32) -> Result<()> {
    error::check_flags(flags, 0, "testDomainManagedSaveRemove")?;
    let mut d = super::get_for_change(space, dom)?;
    d.rec.has_managed_save = false;
    d.write_record(space)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_become_strerror() {
        let error = Error::new(
            ErrorNumber::SYSTEM_ERROR,
            ErrorDomain::NONE,
            "cannot read '/x': No such file or directory (os error 2)",
        );
        assert_eq!(strerror(&error), "No such file or directory");
    }

    #[test]
    fn image_layout_matches_the_test_driver() {
        let image = encode_image("<domain/>");
        assert_eq!(&image[..15], b"TestGuestMagic\0");
        assert_eq!(&image[15..19], &9u32.to_le_bytes());
        assert_eq!(&image[19..], b"<domain/>");
    }
}
