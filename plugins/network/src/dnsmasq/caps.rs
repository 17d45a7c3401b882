//! What libvirt learns from the dnsmasq binary before it starts one (`dnsmasqCaps`): where
//! the binary is and which version `dnsmasq --version` reports, refusing anything older than
//! 2.67.
//!
//! libvirt 9.0 writes the same configuration for every version it accepts (its
//! `networkDnsmasqConfContents` leaves the capabilities unused; its test harness fakes
//! "Dnsmasq version 2.67"). They are kept so that the plugin refuses the dnsmasq libvirt
//! refuses, and so that an option that comes to depend on the version has its place.

use std::fmt;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use super::Result;

/// A dnsmasq version, `major.minor.micro` (a missing part reads as 0, as libvirt reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DnsmasqVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}

impl DnsmasqVersion {
    /// The oldest dnsmasq libvirt 9.0 runs.
    pub const MINIMUM: DnsmasqVersion = DnsmasqVersion {
        major: 2,
        minor: 67,
        micro: 0,
    };
}

impl fmt::Display for DnsmasqVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// The dnsmasq the network driver runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsmasqCaps {
    /// The binary found in `$PATH`.
    pub binary_path: String,
    pub version: DnsmasqVersion,
}

impl DnsmasqCaps {
    /// The dnsmasq libvirt's `networkxml2conftest` pretends to have: `/usr/sbin/dnsmasq`,
    /// version 2.67.
    pub fn libvirt_test_harness() -> DnsmasqCaps {
        DnsmasqCaps {
            binary_path: "/usr/sbin/dnsmasq".to_string(),
            version: DnsmasqVersion::MINIMUM,
        }
    }

    /// Reads the output of `BINARY --version` as `dnsmasqCapsSetFromBuffer` does: the first
    /// digits after "Dnsmasq version ", at least 2.67.
    pub fn from_version_output(binary_path: &str, output: &str) -> Result<DnsmasqCaps> {
        // libvirt reports a too old version and then, on the same way out, that it cannot
        // parse the version: the second report is the error the caller sees.
        let cannot_parse = || {
            let first_line = output.split('\n').next().unwrap_or("");
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::NETWORK,
                format!("cannot parse {binary_path} version number in '{first_line}'"),
            )
        };
        let rest = output
            .strip_prefix("Dnsmasq version ")
            .ok_or_else(cannot_parse)?;
        let digits_start = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let version = parse_version(&rest[digits_start..]).ok_or_else(cannot_parse)?;
        if version < DnsmasqVersion::MINIMUM {
            return Err(cannot_parse());
        }
        Ok(DnsmasqCaps {
            binary_path: binary_path.to_string(),
            version,
        })
    }
}

/// `virStringParseVersion` allowing missing parts: `MAJOR[.MINOR[.MICRO]]` followed by
/// anything; minor and micro below 1000.
fn parse_version(text: &str) -> Option<DnsmasqVersion> {
    fn number(text: &str) -> Option<(u32, &str)> {
        let n_digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let value = text[..n_digits].parse().ok()?;
        Some((value, &text[n_digits..]))
    }
    let (major, rest) = number(text)?;
    let (minor, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => number(after_dot)?,
        None => (0, rest),
    };
    let (micro, _) = match rest.strip_prefix('.') {
        Some(after_dot) => number(after_dot)?,
        None => (0, rest),
    };
    (major <= u32::MAX / 1_000_000 && minor <= 999 && micro <= 999).then_some(DnsmasqVersion {
        major,
        minor,
        micro,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_version_output() {
        let output = "Dnsmasq version 2.89  Copyright (c) 2000-2022 Simon Kelley\nCompile time options: IPv6\n";
        let caps = DnsmasqCaps::from_version_output("/usr/sbin/dnsmasq", output).expect("2.89");
        assert_eq!(
            caps.version,
            DnsmasqVersion {
                major: 2,
                minor: 89,
                micro: 0
            }
        );
        let harness =
            DnsmasqCaps::from_version_output("/usr/sbin/dnsmasq", "Dnsmasq version 2.67\n");
        assert_eq!(harness, Ok(DnsmasqCaps::libvirt_test_harness()));
    }

    #[test]
    fn refuses_old_or_unreadable_versions() {
        for output in [
            "Dnsmasq version 2.66\n",
            "dnsmasq 2.89\n",
            "Dnsmasq version x\n",
        ] {
            let error =
                DnsmasqCaps::from_version_output("/sbin/dnsmasq", output).expect_err("refused");
            assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
            assert_eq!(
                error.message(),
                format!(
                    "internal error: cannot parse /sbin/dnsmasq version number in '{}'",
                    output.trim_end()
                )
            );
        }
    }
}
