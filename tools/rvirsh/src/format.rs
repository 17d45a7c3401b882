//! The words and number formats virsh prints: state and reason names, sizes with binary
//! units, and scaled integers as `vol-create-as` reads them.

use virt_core::consts::{domain_state, storage_pool_state};

/// A `virDomainState` as virsh names it ("running", "shut off", ...).
pub fn domain_state_name(state: i32) -> &'static str {
    match state {
        domain_state::RUNNING => "running",
        domain_state::BLOCKED => "idle",
        domain_state::PAUSED => "paused",
        domain_state::SHUTDOWN => "in shutdown",
        domain_state::SHUTOFF => "shut off",
        domain_state::CRASHED => "crashed",
        domain_state::PMSUSPENDED => "pmsuspended",
        _ => "no state",
    }
}

/// The reason that goes with a state, as `domstate --reason` prints it.
pub fn domain_state_reason_name(state: i32, reason: i32) -> &'static str {
    const RUNNING: &[&str] = &[
        "unknown",
        "booted",
        "migrated",
        "restored",
        "from snapshot",
        "unpaused",
        "migration canceled",
        "save canceled",
        "event wakeup",
        "crashed",
        "post-copy",
        "post-copy failed",
    ];
    const PAUSED: &[&str] = &[
        "unknown",
        "user",
        "migrating",
        "saving",
        "dumping",
        "I/O error",
        "watchdog",
        "from snapshot",
        "shutting down",
        "creating snapshot",
        "crashed",
        "starting up",
        "post-copy",
        "post-copy failed",
    ];
    const SHUTDOWN: &[&str] = &["unknown", "user"];
    const SHUTOFF: &[&str] = &[
        "unknown",
        "shutdown",
        "destroyed",
        "crashed",
        "migrated",
        "saved",
        "failed",
        "from snapshot",
        "daemon",
    ];
    const CRASHED: &[&str] = &["unknown", "panicked"];
    const UNKNOWN_ONLY: &[&str] = &["unknown"];
    let names = match state {
        domain_state::RUNNING => RUNNING,
        domain_state::PAUSED => PAUSED,
        domain_state::SHUTDOWN => SHUTDOWN,
        domain_state::SHUTOFF => SHUTOFF,
        domain_state::CRASHED => CRASHED,
        _ => UNKNOWN_ONLY,
    };
    usize::try_from(reason)
        .ok()
        .and_then(|idx| names.get(idx))
        .copied()
        .unwrap_or("unknown")
}

/// A `virStoragePoolState` as `pool-info` prints it.
pub fn pool_state_name(state: i32) -> &'static str {
    match state {
        storage_pool_state::INACTIVE => "inactive",
        storage_pool_state::BUILDING => "building",
        storage_pool_state::RUNNING => "running",
        storage_pool_state::DEGRADED => "degraded",
        storage_pool_state::INACCESSIBLE => "inaccessible",
        _ => "unknown",
    }
}

/// A `virStorageVolType` as `vol-info` prints it.
pub fn volume_type_name(kind: i32) -> &'static str {
    match kind {
        0 => "file",
        1 => "block",
        2 => "dir",
        3 => "network",
        4 => "netdir",
        5 => "ploop",
        _ => "unknown",
    }
}

/// A byte count in the largest binary unit below it, as virsh's `vshPrettyCapacity`.
pub fn pretty_capacity(bytes: u64) -> (f64, &'static str) {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return (bytes as f64, "B");
    }
    let mut divisor = 1024f64;
    for unit in UNITS {
        if (bytes as f64) < divisor * 1024.0 || unit == "EiB" {
            return (bytes as f64 / divisor, unit);
        }
        divisor *= 1024.0;
    }
    (bytes as f64, "B")
}

/// "100.00 GiB".
pub fn pretty_bytes(bytes: u64) -> String {
    let (value, unit) = pretty_capacity(bytes);
    format!("{value:.2} {unit}")
}

/// Why a scaled integer did not parse; the message is libvirt's.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    #[error("invalid argument: unknown suffix '{0}'")]
    UnknownSuffix(String),
    #[error("numerical overflow: value too large: {value}{suffix}")]
    Overflow { value: u64, suffix: String },
    #[error("not a number")]
    NotANumber,
}

/// Reads "10", "10K", "1.5"-free "2GiB", "5MB" (powers of 1000), as libvirt's scaled integers;
/// a bare number is multiplied by `default_scale`.
pub fn parse_scaled(text: &str, default_scale: u64) -> Result<u64, ScaleError> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_end == 0 {
        return Err(ScaleError::NotANumber);
    }
    let value: u64 = text[..digits_end]
        .parse()
        .map_err(|_| ScaleError::NotANumber)?;
    let suffix = &text[digits_end..];
    let scale = if suffix.is_empty() {
        default_scale
    } else if ["b", "byte", "bytes"]
        .iter()
        .any(|s| suffix.eq_ignore_ascii_case(s))
    {
        1
    } else {
        let mut chars = suffix.chars();
        let unit = chars.next().map(|c| c.to_ascii_lowercase());
        let rest = chars.as_str();
        let base: u64 = if rest.is_empty() || rest.eq_ignore_ascii_case("iB") {
            1024
        } else if rest.eq_ignore_ascii_case("b") {
            1000
        } else {
            return Err(ScaleError::UnknownSuffix(suffix.to_string()));
        };
        let power = match unit {
            Some('k') => 1,
            Some('m') => 2,
            Some('g') => 3,
            Some('t') => 4,
            Some('p') => 5,
            Some('e') => 6,
            _ => return Err(ScaleError::UnknownSuffix(suffix.to_string())),
        };
        base.pow(power)
    };
    value
        .checked_mul(scale)
        .ok_or_else(|| ScaleError::Overflow {
            value,
            suffix: suffix.to_string(),
        })
}

/// "yes"/"no".
pub fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_like_virsh() {
        assert_eq!(pretty_bytes(0), "0.00 B");
        assert_eq!(pretty_bytes(1023), "1023.00 B");
        assert_eq!(pretty_bytes(1024), "1.00 KiB");
        assert_eq!(pretty_bytes(100 * 1024 * 1024 * 1024), "100.00 GiB");
        assert_eq!(pretty_bytes(1536 * 1024 * 1024), "1.50 GiB");
        assert_eq!(pretty_bytes(u64::MAX), "16.00 EiB");
    }

    #[test]
    fn scaled_integers_like_libvirt() {
        assert_eq!(parse_scaled("10", 1), Ok(10));
        assert_eq!(parse_scaled("10k", 1), Ok(10 * 1024));
        assert_eq!(parse_scaled("1GiB", 1), Ok(1 << 30));
        assert_eq!(parse_scaled("5MB", 1), Ok(5_000_000));
        assert_eq!(parse_scaled("3bytes", 1024), Ok(3));
        assert_eq!(
            parse_scaled("10X", 1),
            Err(ScaleError::UnknownSuffix("X".into()))
        );
        assert_eq!(parse_scaled("x", 1), Err(ScaleError::NotANumber));
        assert!(matches!(
            parse_scaled("20000000E", 1),
            Err(ScaleError::Overflow { .. })
        ));
    }

    #[test]
    fn reason_names() {
        assert_eq!(domain_state_reason_name(domain_state::PAUSED, 1), "user");
        assert_eq!(
            domain_state_reason_name(domain_state::SHUTOFF, 1),
            "shutdown"
        );
        assert_eq!(
            domain_state_reason_name(domain_state::RUNNING, 99),
            "unknown"
        );
        assert_eq!(
            domain_state_reason_name(domain_state::RUNNING, -1),
            "unknown"
        );
    }
}
