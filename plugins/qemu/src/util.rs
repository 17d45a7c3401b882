//! Small helpers without a better home: clocks and unique names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in milliseconds since the epoch.
pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// Wall-clock time in nanoseconds since the epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// A string unique within this host for practical purposes (time plus a per-instance counter),
/// for temporary file and socket names.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{count:x}", now_ns())
}
