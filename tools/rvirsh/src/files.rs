//! Reading the files commands take (`define FILE`, `save --xml FILE`), with libvirt's
//! messages for the ways that fails.

use std::io::Read;

use virt_core::{Error, ErrorDomain, ErrorNumber};

/// The largest XML file virsh reads (its `VSH_MAX_XML_FILE`).
pub const MAX_XML_FILE: u64 = 10 * 1024 * 1024;

/// The OS's words for an I/O error, without Rust's " (os error N)" suffix, so messages read
/// as libvirt's: "Failed to open file 'x': No such file or directory".
pub fn os_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rsplit_once(" (os error ") {
        Some((words, _)) => words.to_string(),
        None => text,
    }
}

fn system_error(message: String) -> Error {
    Error::from_parts(ErrorNumber::SYSTEM_ERROR, ErrorDomain::NONE, message)
}

/// Reads a whole text file of at most [`MAX_XML_FILE`] bytes.
pub fn read_xml(path: &str) -> Result<String, Error> {
    let file = std::fs::File::open(path).map_err(|error| {
        system_error(format!(
            "Failed to open file '{path}': {}",
            os_error_text(&error)
        ))
    })?;
    let read_failed = |why: String| system_error(format!("Failed to read file '{path}': {why}"));
    let mut bytes = Vec::new();
    file.take(MAX_XML_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| read_failed(os_error_text(&error)))?;
    if bytes.len() as u64 > MAX_XML_FILE {
        return Err(read_failed("File too large".to_string()));
    }
    String::from_utf8(bytes)
        .map_err(|_| read_failed("Invalid or incomplete multibyte or wide character".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_reads_like_libvirt() {
        let error = read_xml("/nonexistent/rvirsh/x.xml").expect_err("missing");
        assert_eq!(
            error.message(),
            "Failed to open file '/nonexistent/rvirsh/x.xml': No such file or directory"
        );
        assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
    }

    #[test]
    fn directory_is_a_read_error() {
        let error = read_xml("/").expect_err("directory");
        assert_eq!(error.message(), "Failed to read file '/': Is a directory");
    }
}
