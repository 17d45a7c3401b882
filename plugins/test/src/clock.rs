//! Wall-clock time (through `wasi:clocks` in the plugin).

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the epoch, as `g_get_real_time` gives them.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Seconds since the epoch.
pub(crate) fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
