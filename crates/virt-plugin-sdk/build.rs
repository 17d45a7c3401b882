//! wit-bindgen's `generate!` reads `wit/` at compile time without telling cargo, so a changed
//! interface would leave the bindings stale: this makes `wit/` part of the crate's inputs.
fn main() {
    println!("cargo:rerun-if-changed=../../wit");
}
