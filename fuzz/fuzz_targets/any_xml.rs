//! Every document kind: no panics, and the format→parse→format fixed point.

#![no_main]

use libfuzzer_sys::fuzz_target;
use virt_xml::document::Document;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(document) = Document::parse(text) else {
        return;
    };
    let first = document.to_xml();
    let reparsed = match Document::parse(&first) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!("formatted output does not parse: {error:?}\n{first}"),
    };
    assert_eq!(first, reparsed.to_xml(), "format -> parse -> format is not a fixed point");
});
