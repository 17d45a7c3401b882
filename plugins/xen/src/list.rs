//! What `xl list` says about the running domains, and how libvirt names their states.
//!
//! Two forms are read. `xl list` (no options) prints one line per domain: name, id, memory
//! (MiB), online vCPUs, the six state flags and CPU time; it is what each call checks a
//! domain's state against. `xl list -l` prints a JSON array of `{"domid": N, "config":
//! libxl_domain_config}`, the configuration each domain was built with, whose
//! `c_info.uuid` finds a domain again after a daemon restart. Pure: text in, values out.

use serde_json::Value;
use virt_core::consts::{
    domain_crashed_reason as crashed_reason, domain_paused_reason as paused_reason,
    domain_running_reason as running_reason, domain_shutdown_reason as shutdown_reason,
    domain_state as state,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};

/// One line of `xl list`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedDomain {
    pub name: String,
    pub domid: i32,
    pub memory_mib: u64,
    pub vcpus: u32,
    pub flags: StateFlags,
    pub cpu_time_ns: u64,
}

/// `xl list`'s state column, `rbpscd`: running, blocked, paused, shut down (with the
/// reason's letter in the fifth place: `-` poweroff, `r` reboot, `s` suspend, `c` crash,
/// `w` watchdog, `S` soft reset), dying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateFlags {
    pub running: bool,
    pub blocked: bool,
    pub paused: bool,
    pub shutdown: bool,
    pub shutdown_reason: Option<char>,
    pub dying: bool,
}

impl StateFlags {
    pub fn parse(text: &str) -> Option<StateFlags> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() != 6 {
            return None;
        }
        let flag = |index: usize, letter: char| chars[index] == letter;
        let shutdown = flag(3, 's');
        Some(StateFlags {
            running: flag(0, 'r'),
            blocked: flag(1, 'b'),
            paused: flag(2, 'p'),
            shutdown,
            shutdown_reason: shutdown.then_some(chars[4]),
            dying: flag(5, 'd'),
        })
    }

    /// The guest crashed and Xen keeps it (`on_crash = "preserve"`, or until xl's
    /// monitor acts on the crash).
    pub fn crashed(&self) -> bool {
        self.shutdown && self.shutdown_reason == Some('c')
    }

    /// libvirt's state and reason for a domain Xen still lists, as libvirt's libxl driver
    /// maps `libxl_dominfo`: a crashed one is shut off (crashed), one that is shutting down
    /// or dying is in shutdown, a paused one paused (by the user when this driver paused
    /// it), else running.
    pub fn libvirt_state(&self, paused_by_driver: bool) -> (i32, i32) {
        if self.crashed() {
            (state::CRASHED, crashed_reason::UNKNOWN)
        } else if self.shutdown || self.dying {
            (state::SHUTDOWN, shutdown_reason::UNKNOWN)
        } else if self.paused {
            let reason = if paused_by_driver {
                paused_reason::USER
            } else {
                paused_reason::UNKNOWN
            };
            (state::PAUSED, reason)
        } else {
            (state::RUNNING, running_reason::BOOTED)
        }
    }
}

fn parse_error(what: impl AsRef<str>) -> Error {
    Error::new(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::LIBXL,
        format!("cannot read xl list: {}", what.as_ref()),
    )
}

/// Reads `xl list`: a header, then one line per domain. A name may hold spaces, so the
/// five columns after it are taken from the end of the line.
pub fn parse_list(text: &str) -> Result<Vec<ListedDomain>, Error> {
    let mut domains = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with("Name ") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 6 {
            return Err(parse_error(format!("unexpected line '{line}'")));
        }
        let at = words.len() - 5;
        let column = |index: usize| words[at + index];
        let flags = StateFlags::parse(column(3))
            .ok_or_else(|| parse_error(format!("unexpected state '{}'", column(3))))?;
        let number = |index: usize| {
            column(index)
                .parse::<u64>()
                .map_err(|_| parse_error(format!("unexpected line '{line}'")))
        };
        let seconds: f64 = column(4)
            .parse()
            .map_err(|_| parse_error(format!("unexpected line '{line}'")))?;
        domains.push(ListedDomain {
            name: words[..at].join(" "),
            domid: number(0)? as i32,
            memory_mib: number(1)?,
            vcpus: number(2)? as u32,
            flags,
            cpu_time_ns: (seconds * 1e9) as u64,
        });
    }
    Ok(domains)
}

/// One entry of `xl list -l`: the identity and sizes libxl built the domain with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDetails {
    pub domid: i32,
    pub name: String,
    pub uuid: Option<String>,
    /// `hvm`, `pv` or `pvh` (`c_info.type`).
    pub guest_type: Option<String>,
    pub max_memkb: Option<u64>,
    pub target_memkb: Option<u64>,
    pub max_vcpus: Option<u32>,
}

/// Reads `xl list -l`'s JSON array. Entries without a domid or name (what xl prints when
/// it cannot retrieve a configuration) are skipped.
pub fn parse_details(text: &str) -> Result<Vec<DomainDetails>, Error> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value =
        serde_json::from_str(text).map_err(|error| parse_error(format!("not JSON: {error}")))?;
    let entries = value
        .as_array()
        .ok_or_else(|| parse_error("not a JSON array"))?;
    let mut details = Vec::new();
    for entry in entries {
        let Some(domid) = entry.get("domid").and_then(Value::as_i64) else {
            continue;
        };
        let config = entry.get("config").unwrap_or(&Value::Null);
        let c_info = config.get("c_info").unwrap_or(&Value::Null);
        let b_info = config.get("b_info").unwrap_or(&Value::Null);
        let Some(name) = c_info.get("name").and_then(Value::as_str) else {
            continue;
        };
        details.push(DomainDetails {
            domid: domid as i32,
            name: name.to_string(),
            uuid: c_info
                .get("uuid")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase),
            guest_type: c_info
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string),
            max_memkb: b_info.get("max_memkb").and_then(Value::as_u64),
            target_memkb: b_info.get("target_memkb").and_then(Value::as_u64),
            max_vcpus: b_info
                .get("max_vcpus")
                .and_then(Value::as_u64)
                .map(|n| n as u32),
        });
    }
    Ok(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `xl list` of a Xen 4.17 host: dom0, a running HVM guest, a paused PV guest and a
    /// crashed one Xen preserved.
    const XL_LIST: &str = "\
Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0  1024     4     r-----     123.4
web                                          3  2048     2     -b----      17.0
pv guest                                     4   512     1     --p---       0.5
broken                                       5   256     1     ---sc-       1.2
";

    /// `xl list -l` of the same host, in the shape xl 4.17 prints (trimmed configs).
    const XL_LIST_LONG: &str = r#"[
    {
        "domid": 0,
        "config": {
            "c_info": {
                "type": "pv",
                "name": "Domain-0"
            },
            "b_info": {
                "max_memkb": 1048576,
                "target_memkb": 1048576,
                "max_vcpus": 4
            }
        }
    },
    {
        "domid": 3,
        "config": {
            "c_info": {
                "type": "hvm",
                "name": "web",
                "uuid": "6E1F6C5B-5D1A-4C4E-9B62-3A4F2B8C9D10",
                "run_hotplug_scripts": "True"
            },
            "b_info": {
                "max_vcpus": 2,
                "avail_vcpus": [0, 1],
                "max_memkb": 2097152,
                "target_memkb": 2097152,
                "type.hvm": {
                    "firmware": "bios"
                }
            },
            "disks": [
                {
                    "pdev_path": "/var/lib/xen/images/web.img",
                    "vdev": "xvda",
                    "format": "raw",
                    "readwrite": 1
                }
            ],
            "nics": [
                {
                    "devid": 0,
                    "mac": "00:16:3e:12:34:56",
                    "bridge": "xenbr0"
                }
            ],
            "on_reboot": "restart"
        }
    }
]
"#;

    #[test]
    fn xl_list_lines() {
        let domains = parse_list(XL_LIST).expect("parse");
        assert_eq!(domains.len(), 4);
        assert_eq!(domains[0].name, "Domain-0");
        assert_eq!(domains[1].domid, 3);
        assert_eq!(domains[1].memory_mib, 2048);
        assert_eq!(domains[1].vcpus, 2);
        assert_eq!(domains[1].cpu_time_ns, 17_000_000_000);
        assert_eq!(domains[2].name, "pv guest");
        assert!(domains[2].flags.paused);
        assert!(domains[3].flags.crashed());
        assert!(parse_list("Name ID\ngarbage\n").is_err());
    }

    #[test]
    fn state_flags_map_to_libvirt_states() {
        let domains = parse_list(XL_LIST).expect("parse");
        let states: Vec<(i32, i32)> = domains
            .iter()
            .map(|domain| domain.flags.libvirt_state(false))
            .collect();
        assert_eq!(
            states,
            [
                (state::RUNNING, running_reason::BOOTED),
                (state::RUNNING, running_reason::BOOTED),
                (state::PAUSED, paused_reason::UNKNOWN),
                (state::CRASHED, crashed_reason::UNKNOWN),
            ]
        );
        let paused = StateFlags::parse("--p---").expect("flags");
        assert_eq!(
            paused.libvirt_state(true),
            (state::PAUSED, paused_reason::USER)
        );
        let going = StateFlags::parse("---s--").expect("flags");
        assert_eq!(going.shutdown_reason, Some('-'));
        assert_eq!(going.libvirt_state(false).0, state::SHUTDOWN);
        assert_eq!(
            StateFlags::parse("-----d")
                .expect("flags")
                .libvirt_state(false)
                .0,
            state::SHUTDOWN
        );
        assert!(StateFlags::parse("r---").is_none());
    }

    #[test]
    fn xl_list_long_json() {
        let details = parse_details(XL_LIST_LONG).expect("parse");
        assert_eq!(details.len(), 2);
        assert_eq!(details[0].uuid, None);
        let web = &details[1];
        assert_eq!(web.domid, 3);
        assert_eq!(web.name, "web");
        assert_eq!(
            web.uuid.as_deref(),
            Some("6e1f6c5b-5d1a-4c4e-9b62-3a4f2b8c9d10")
        );
        assert_eq!(web.guest_type.as_deref(), Some("hvm"));
        assert_eq!(
            (web.max_memkb, web.target_memkb),
            (Some(2097152), Some(2097152))
        );
        assert_eq!(web.max_vcpus, Some(2));
        assert!(parse_details("").expect("empty").is_empty());
        assert!(parse_details("cannot init xl context").is_err());
    }
}
