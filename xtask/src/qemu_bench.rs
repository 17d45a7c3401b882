//! `cargo xtask qemu-bench [--runs N] [--warmup N]`: the QEMU start-latency benchmark
//! (`tests/benches/qemu_start.rs`), built in release mode after the plugins. The benchmark
//! itself lives with the tests because it runs the plugin host in-process, which the xtask
//! does not link (it would pull wasmtime into every `cargo xtask` build).

use std::process::{Command, ExitCode};

pub fn run(args: &[String]) -> ExitCode {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = crate::plugins::workspace_root();
    if let Err(error) = crate::plugins::build(&[]) {
        eprintln!("qemu-bench: {error}");
        return ExitCode::FAILURE;
    }
    let status = Command::new(cargo)
        .current_dir(&root)
        .args(["bench", "-p", "rvirt-tests", "--bench", "qemu_start", "--"])
        .args(args)
        .status();
    match status {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("qemu-bench: cannot run cargo: {error}");
            ExitCode::FAILURE
        }
    }
}
