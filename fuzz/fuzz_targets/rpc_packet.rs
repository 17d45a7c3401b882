//! libvirt remote-protocol packet decoder (what rvirtd and rvirt's client run on every byte a
//! peer sends): arbitrary bytes must never panic or allocate beyond what they justify, and
//! every payload that decodes as a procedure's arguments or reply must re-encode to a fixed
//! point.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    virt_rpc::decode_untrusted(data);
});
