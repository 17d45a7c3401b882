//! Test-only fault injection, compiled only into debug builds (`cfg(debug_assertions)`):
//! a release build has no hook, no environment lookup and no extra branch on the call path.
//!
//! The soak harness (`tools/rvirtd/soak/`, `./x.sh soak`) and the `fault_hook` integration tests
//! use it to prove that the host's containment and the journal's framing hold when the
//! real driver plugins misbehave, without shipping a plugin built to misbehave. When
//! `RVIRT_FAULT_DIR` names a directory, each of these files in it arms one fault, and the
//! host removes the file as it fires (so each file fires exactly once, for one call):
//!
//! - `trap.PLUGIN`: the next call from a connection into `PLUGIN` traps at its first wasm
//!   instruction, from inside wasm (the epoch callback raises the trap): the instance is
//!   discarded and the call fails with VIR_ERR_INTERNAL_ERROR, exactly as a real trap.
//! - `spin.PLUGIN`: the next call from a connection into `PLUGIN` spins at its first wasm
//!   instruction as a loop that never returns would: CPU charged to its wasm time (leaving
//!   the async runtime like real code) until epoch interruption stops it at its budget.
//! - `abort-journal`: the next journal append of any persistent space writes the first half
//!   of its entry, syncs it, and aborts the process: a daemon killed in the middle of a
//!   state write, so the length + CRC framing must drop the torn entry on reload.
//!
//! Handler calls (a child exit, a stream frame) are not faulted: the hook is about the calls
//! clients make.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A fault armed for one plugin call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFault {
    /// Trap at the first instruction.
    Trap,
    /// Burn CPU in "wasm" until the budget is exhausted.
    Spin,
}

/// The control directory, from `RVIRT_FAULT_DIR`, read once.
fn control_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RVIRT_FAULT_DIR").map(PathBuf::from);
        if let Some(dir) = &dir {
            tracing::warn!(dir = %dir.display(), "fault injection hook armed (debug build)");
        }
        dir
    })
    .as_ref()
}

/// Consumes the control file `name`; true if it was there (only one caller wins it).
fn take(name: &str) -> bool {
    control_dir().is_some_and(|dir| std::fs::remove_file(dir.join(name)).is_ok())
}

/// The fault armed for the next connection call into `plugin`, if any (and disarms it).
pub fn take_call_fault(plugin: &str) -> Option<CallFault> {
    control_dir()?;
    let fault = if take(&format!("trap.{plugin}")) {
        CallFault::Trap
    } else if take(&format!("spin.{plugin}")) {
        CallFault::Spin
    } else {
        return None;
    };
    tracing::warn!(%plugin, ?fault, "fault hook: injecting a fault into this call");
    Some(fault)
}

/// True if the next journal write must abort the process halfway (and disarms it).
pub fn take_journal_abort() -> bool {
    let armed = take("abort-journal");
    if armed {
        tracing::warn!("fault hook: aborting the process in the middle of a journal write");
    }
    armed
}

/// Burns `slice` of CPU, the way a wasm loop would between two epoch ticks.
pub fn burn(slice: Duration) {
    let until = Instant::now() + slice;
    let mut spins: u64 = 0;
    while Instant::now() < until {
        spins = std::hint::black_box(spins.wrapping_add(1));
    }
}
