//! A snapshot definition (`<domainsnapshot>`), through `virt-xml`'s snapshot model, read the
//! way `virDomainSnapshotDefParse` reads it and completed the way the test driver does
//! (`testDomainSnapshotAlignDisks`): the domain's state and definition, internal memory,
//! and one entry per domain disk.
//!
//! The parent is kept by the driver, not in the stored definition, so that reparenting on
//! delete is a record update.

use virt_core::consts::domain_state;
use virt_core::{Error, ErrorDomain, ErrorNumber, Result, Uuid};
use virt_xml::domain::{Disk, SnapshotLocation};
use virt_xml::snapshot::{
    DomainSnapshot, ParentName, SnapshotDisk, SnapshotDisks, SnapshotDomain, SnapshotMemory,
    SnapshotState,
};
use virt_xml::xml::{Node, XmlElement};

use crate::domain::def::DomainDef;

fn snapshot_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::DOMAIN_SNAPSHOT, detail)
}

/// The `virDomainSnapshotState` of a state keyword.
fn state_number(state: SnapshotState) -> i32 {
    match state {
        SnapshotState::Nostate => 0,
        SnapshotState::Running => domain_state::RUNNING,
        SnapshotState::Blocked => domain_state::BLOCKED,
        SnapshotState::Paused => domain_state::PAUSED,
        SnapshotState::Shutdown => domain_state::SHUTDOWN,
        SnapshotState::Shutoff => domain_state::SHUTOFF,
        SnapshotState::Crashed => domain_state::CRASHED,
        SnapshotState::Pmsuspended => domain_state::PMSUSPENDED,
        SnapshotState::DiskSnapshot => 8,
    }
}

/// The snapshot state recording a domain in `virDomainState` `state`.
fn state_keyword(state: i32) -> SnapshotState {
    match state {
        domain_state::RUNNING => SnapshotState::Running,
        domain_state::BLOCKED => SnapshotState::Blocked,
        domain_state::PAUSED => SnapshotState::Paused,
        domain_state::SHUTDOWN => SnapshotState::Shutdown,
        domain_state::SHUTOFF => SnapshotState::Shutoff,
        domain_state::CRASHED => SnapshotState::Crashed,
        domain_state::PMSUSPENDED => SnapshotState::Pmsuspended,
        _ => SnapshotState::Nostate,
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SnapshotDef(DomainSnapshot);

impl SnapshotDef {
    /// `virDomainSnapshotDefParseString`; without `redefine`, a missing name becomes the
    /// creation time, and what only a redefinition may set is ignored.
    pub fn parse(xml: &str, redefine: bool, _validate: bool) -> Result<SnapshotDef> {
        SnapshotDef::accept(DomainSnapshot::parse(xml)?, redefine)
    }

    /// A `<test:domainsnapshot>` of a node document: a redefinition whose `<active>` says
    /// whether it is the current snapshot.
    pub fn from_node_document(node: &Node<'_>) -> Result<(SnapshotDef, bool)> {
        let snapshot = DomainSnapshot::from_node(node)?;
        let active = snapshot.active;
        let accepted = SnapshotDef::accept(snapshot, true)?;
        let Some(active) = active else {
            return Err(snapshot_error(
                ErrorNumber::INTERNAL_ERROR,
                "Could not find 'active' element",
            ));
        };
        Ok((accepted, active != 0))
    }

    fn accept(mut snap: DomainSnapshot, redefine: bool) -> Result<SnapshotDef> {
        snap.active = None;
        let offline;
        if redefine {
            if snap.name.as_deref().is_none_or(str::is_empty) {
                return Err(snapshot_error(
                    ErrorNumber::XML_ERROR,
                    "a redefined snapshot must have a name",
                ));
            }
            if snap.creation_time.is_none() {
                return Err(snapshot_error(
                    ErrorNumber::INTERNAL_ERROR,
                    "missing creationTime from existing snapshot",
                ));
            }
            let Some(state) = snap.state else {
                return Err(snapshot_error(
                    ErrorNumber::XML_ERROR,
                    "missing state from existing snapshot",
                ));
            };
            if state == SnapshotState::Nostate {
                return Err(snapshot_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    format!("Invalid state '{}' in domain snapshot XML", state.as_str()),
                ));
            }
            offline = matches!(state, SnapshotState::Shutoff | SnapshotState::DiskSnapshot);
            if let Some(SnapshotDomain::Full(domain)) = snap.domain.take() {
                let accepted = DomainDef::from_embedded(*domain)?;
                snap.domain = Some(SnapshotDomain::Full(Box::new(accepted.model().clone())));
            }
        } else {
            // virDomainMomentDefPostParse.
            let now = crate::clock::now_seconds();
            snap.creation_time = Some(now);
            if snap.name.as_deref().is_none_or(str::is_empty) {
                snap.name = Some(now.to_string());
            }
            snap.parent = None;
            snap.state = None;
            snap.domain = None;
            snap.inactive_domain = None;
            offline = false;
        }
        let memory = snap.memory.get_or_insert_with(SnapshotMemory::default);
        if memory.snapshot == Some(SnapshotLocation::Manual) {
            return Err(snapshot_error(
                ErrorNumber::XML_ERROR,
                "'manual' memory snapshot mode not supported",
            ));
        }
        if memory.snapshot.is_none() {
            if memory.file.is_some() {
                memory.snapshot = Some(SnapshotLocation::External);
            } else if redefine {
                memory.snapshot = Some(if offline {
                    SnapshotLocation::No
                } else {
                    SnapshotLocation::Internal
                });
            }
        }
        match (&memory.file, memory.snapshot) {
            (Some(file), location) if location != Some(SnapshotLocation::External) => {
                return Err(snapshot_error(
                    ErrorNumber::XML_ERROR,
                    format!("memory filename '{file}' requires external snapshot"),
                ));
            }
            (None, Some(SnapshotLocation::External)) => {
                return Err(snapshot_error(
                    ErrorNumber::XML_ERROR,
                    "external memory snapshots require a filename",
                ));
            }
            _ => {}
        }
        if offline && !matches!(memory.snapshot, None | Some(SnapshotLocation::No)) {
            return Err(snapshot_error(
                ErrorNumber::XML_ERROR,
                "memory state cannot be saved with offline or disk-only snapshot",
            ));
        }
        if let Some(file) = memory.file.as_deref().filter(|file| !file.starts_with('/')) {
            return Err(snapshot_error(
                ErrorNumber::XML_ERROR,
                format!("memory snapshot file path ({file}) must be absolute"),
            ));
        }
        if memory.snapshot.is_none() && memory.file.is_none() {
            snap.memory = None;
        }
        Ok(SnapshotDef(snap))
    }

    /// Reads a definition this module stored.
    pub fn from_stored(bytes: &[u8]) -> Result<SnapshotDef> {
        Ok(SnapshotDef(DomainSnapshot::parse(
            &String::from_utf8_lossy(bytes),
        )?))
    }

    /// The form definitions are stored in (no parent, no current marker).
    pub fn to_stored(&self) -> Vec<u8> {
        let mut snap = self.0.clone();
        snap.parent = None;
        snap.to_xml().into_bytes()
    }

    /// `virDomainSnapshotDefFormat` for the domain `uuid`, with `parent` as the parent.
    pub fn format(&self, uuid: &Uuid, parent: Option<&str>, secure: bool) -> String {
        let mut snap = self.0.clone();
        snap.parent = parent.map(|name| ParentName {
            name: Some(name.to_string()),
        });
        if snap.domain.is_none() {
            snap.domain = Some(SnapshotDomain::Uuid(*uuid));
        }
        snap.format(secure)
    }

    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// The parent a redefinition names.
    pub fn parent(&self) -> Option<&str> {
        self.0
            .parent
            .as_ref()
            .and_then(|parent| parent.name.as_deref())
    }

    /// The `virDomainSnapshotState` recorded.
    pub fn state(&self) -> i32 {
        self.0.state.map_or(0, state_number)
    }

    /// `virDomainSnapshotDefIsExternal`.
    pub fn is_external(&self) -> bool {
        let external = Some(SnapshotLocation::External);
        self.0
            .memory
            .as_ref()
            .is_some_and(|memory| memory.snapshot == external)
            || self
                .0
                .disks
                .as_ref()
                .is_some_and(|disks| disks.disks.iter().any(|disk| disk.snapshot == external))
    }

    pub fn creation_time(&self) -> i64 {
        self.0.creation_time.unwrap_or(0)
    }

    pub fn has_domain(&self) -> bool {
        matches!(self.0.domain, Some(SnapshotDomain::Full(_)))
    }

    /// Keeps `other`'s domain definition (redefining without one).
    pub fn take_domain_from(&mut self, other: SnapshotDef) {
        self.0.domain = other.0.domain;
    }

    /// The domain definition recorded, if any.
    pub fn domain(&self) -> Result<Option<DomainDef>> {
        Ok(match &self.0.domain {
            Some(SnapshotDomain::Full(domain)) => Some(DomainDef::from_model((**domain).clone())),
            _ => None,
        })
    }

    /// Records the domain as it is now (`testDomainSnapshotAlignDisks`): its definition and
    /// state, memory saved internally when it runs, one disk entry per domain disk.
    pub fn record_domain(&mut self, def: &DomainDef, state: i32, _active: bool) -> Result<()> {
        let disks = self.0.disks.take().map(|d| d.disks).unwrap_or_default();
        if disks
            .iter()
            .any(|disk| disk.snapshot == Some(SnapshotLocation::Manual))
        {
            return Err(crate::error::test(
                ErrorNumber::OPERATION_UNSUPPORTED,
                "'manual' snapshot mode is not supported by the test driver",
            ));
        }
        self.0.state = Some(state_keyword(state));
        let memory = self.0.memory.get_or_insert_with(SnapshotMemory::default);
        let location = if memory.snapshot == Some(SnapshotLocation::External) {
            SnapshotLocation::External
        } else {
            memory.snapshot = Some(if state == domain_state::SHUTOFF {
                SnapshotLocation::No
            } else {
                SnapshotLocation::Internal
            });
            SnapshotLocation::Internal
        };
        let aligned = align_disks(disks, &def.model().devices.disks, location)?;
        self.0.disks = (!aligned.is_empty()).then_some(SnapshotDisks { disks: aligned });
        self.0.domain = Some(SnapshotDomain::Full(Box::new(def.model().clone())));
        Ok(())
    }
}

/// `virDomainSnapshotAlignDisks`: one entry per domain disk, in the domain's order, with
/// the location each disk's snapshot goes to.
fn align_disks(
    requested: Vec<SnapshotDisk>,
    domain_disks: &[Disk],
    default: SnapshotLocation,
) -> Result<Vec<SnapshotDisk>> {
    let unsupported = |detail: String| {
        Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::DOMAIN_SNAPSHOT,
            detail,
        )
    };
    if requested.len() > domain_disks.len() {
        return Err(unsupported(
            "too many disk snapshot requests for domain".to_string(),
        ));
    }
    let require_match = default == SnapshotLocation::Internal;
    let mut chosen: Vec<Option<SnapshotDisk>> = vec![None; domain_disks.len()];
    for mut disk in requested {
        let name = disk.name.clone().unwrap_or_default();
        let found = domain_disks.iter().position(|d| {
            if name.starts_with('/') {
                d.source_path() == Some(name.as_str())
            } else {
                d.target_dev() == Some(name.as_str())
            }
        });
        let Some(idx) = found else {
            return Err(unsupported(format!("no disk named '{name}'")));
        };
        if chosen[idx].is_some() {
            return Err(unsupported(format!("disk '{name}' specified twice")));
        }
        let domain_disk = &domain_disks[idx];
        match disk.snapshot {
            None => {
                disk.snapshot = match domain_disk.snapshot {
                    Some(own) if !require_match || own == SnapshotLocation::No => Some(own),
                    _ => Some(default),
                };
            }
            Some(location)
                if require_match
                    && location != default
                    && !(location == SnapshotLocation::No
                        && domain_disk.snapshot == Some(SnapshotLocation::No)) =>
            {
                return Err(unsupported(format!(
                    "disk '{name}' must use snapshot mode '{}'",
                    default.as_str()
                )));
            }
            Some(_) => {}
        }
        if disk.source.as_ref().and_then(|s| s.path()).is_some()
            && disk.snapshot != Some(SnapshotLocation::External)
        {
            return Err(unsupported(format!(
                "file '{}' for disk '{name}' requires use of external snapshot mode",
                disk.source
                    .as_ref()
                    .and_then(|s| s.path())
                    .unwrap_or_default()
            )));
        }
        disk.name = domain_disk.target_dev().map(str::to_string);
        chosen[idx] = Some(disk);
    }
    Ok(domain_disks
        .iter()
        .zip(chosen)
        .map(|(domain_disk, chosen)| {
            chosen.unwrap_or_else(|| SnapshotDisk {
                name: domain_disk.target_dev().map(str::to_string),
                snapshot: Some(if domain_disk.source_path().is_none() {
                    SnapshotLocation::No
                } else {
                    domain_disk.snapshot.unwrap_or(default)
                }),
                ..SnapshotDisk::default()
            })
        })
        .collect())
}
