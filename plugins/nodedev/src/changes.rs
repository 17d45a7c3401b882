//! Node device events from the kernel's device changes, as libvirt's udev backend sends them:
//! a device that appears is CREATED, one that goes away DELETED, and a known device the
//! kernel announces again (`change`, `bind`, `unbind`, or an `add` of one already listed) is
//! UPDATEd.
//!
//! Pure: the caller lists the devices before and after (sysfs) and keeps the list between
//! changes, so a device is named by what it was while it existed (a removed network
//! interface's MAC address is gone with it).

use std::collections::BTreeMap;

/// The devices a space knows: name → sysfs path (none for `computer`).
pub type Known = BTreeMap<String, Option<String>>;

/// One node device event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeDeviceEvent {
    Created(String),
    Deleted(String),
    Updated(String),
}

/// The events that take `before` to `after`, given the kernel's `(action, devpath)` changes
/// (devpath under `/sys`): deletions, then creations, then updates, each by name.
pub fn events(before: &Known, after: &Known, changes: &[(String, String)]) -> Vec<NodeDeviceEvent> {
    let mut events: Vec<NodeDeviceEvent> = before
        .keys()
        .filter(|name| !after.contains_key(*name))
        .map(|name| NodeDeviceEvent::Deleted(name.clone()))
        .collect();
    events.extend(
        after
            .keys()
            .filter(|name| !before.contains_key(*name))
            .map(|name| NodeDeviceEvent::Created(name.clone())),
    );
    let mut updated: Vec<&String> = Vec::new();
    for (action, devpath) in changes {
        if !matches!(action.as_str(), "add" | "change" | "bind" | "unbind") {
            continue;
        }
        let path = format!("/sys{devpath}");
        for (name, known_path) in after {
            if known_path.as_deref() == Some(path.as_str())
                && before.contains_key(name)
                && !updated.contains(&name)
            {
                updated.push(name);
            }
        }
    }
    events.extend(
        updated
            .into_iter()
            .map(|name| NodeDeviceEvent::Updated(name.clone())),
    );
    events
}

/// The list as the state store keeps it: one `name\tpath` line per device.
pub fn encode(known: &Known) -> Vec<u8> {
    let mut text = String::new();
    for (name, path) in known {
        text.push_str(name);
        text.push('\t');
        text.push_str(path.as_deref().unwrap_or_default());
        text.push('\n');
    }
    text.into_bytes()
}

/// The inverse of [`encode`].
pub fn decode(bytes: &[u8]) -> Known {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|line| {
            let (name, path) = line.split_once('\t')?;
            Some((
                name.to_string(),
                (!path.is_empty()).then(|| path.to_string()),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(entries: &[(&str, &str)]) -> Known {
        entries
            .iter()
            .map(|(name, path)| {
                (
                    name.to_string(),
                    (!path.is_empty()).then(|| path.to_string()),
                )
            })
            .collect()
    }

    fn change(action: &str, devpath: &str) -> (String, String) {
        (action.to_string(), devpath.to_string())
    }

    #[test]
    fn new_and_gone_devices_are_created_and_deleted() {
        let before = known(&[("computer", ""), ("net_a_00", "/sys/devices/virtual/net/a")]);
        let after = known(&[("computer", ""), ("net_b_11", "/sys/devices/virtual/net/b")]);
        let changes = [
            change("remove", "/devices/virtual/net/a"),
            change("add", "/devices/virtual/net/b"),
            change("add", "/devices/virtual/net/b/queues/rx-0"),
        ];
        assert_eq!(
            events(&before, &after, &changes),
            [
                NodeDeviceEvent::Deleted("net_a_00".into()),
                NodeDeviceEvent::Created("net_b_11".into()),
            ]
        );
    }

    #[test]
    fn a_known_device_announced_again_is_updated_once() {
        let both = known(&[("pci_0000_00_01_0", "/sys/devices/pci0000:00/0000:00:01.0")]);
        let changes = [
            change("unbind", "/devices/pci0000:00/0000:00:01.0"),
            change("bind", "/devices/pci0000:00/0000:00:01.0"),
            change("remove", "/devices/pci0000:00/0000:00:01.0/other"),
        ];
        assert_eq!(
            events(&both, &both, &changes),
            [NodeDeviceEvent::Updated("pci_0000_00_01_0".into())]
        );
    }

    #[test]
    fn the_list_round_trips_through_the_store() {
        let list = known(&[
            ("computer", ""),
            ("net_lo_00", "/sys/devices/virtual/net/lo"),
        ]);
        assert_eq!(decode(&encode(&list)), list);
    }
}
