//! Node device events from the kernel's device changes, as libvirt's udev backend sends them:
//! a device that appears is CREATED, one that goes away DELETED, and a known device the
//! kernel announces again (`change`, or an `add` of one already listed) is UPDATEd.
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
/// (devpath under `/sys`), as libvirt's udev backend answers them: `add` and `change` of a
/// known device are an update, `remove` a deletion (`move` is both); `bind` and `unbind`
/// say nothing. Deletions come first, then creations, then updates, each by name; a device
/// removed and added again within the batch is deleted and created.
pub fn events(before: &Known, after: &Known, changes: &[(String, String)]) -> Vec<NodeDeviceEvent> {
    let actions_on = |path: &Option<String>| -> Vec<&str> {
        let Some(path) = path else { return Vec::new() };
        changes
            .iter()
            .filter(|(_, devpath)| format!("/sys{devpath}") == *path)
            .map(|(action, _)| action.as_str())
            .collect()
    };
    let mut deleted = Vec::new();
    let mut created = Vec::new();
    let mut updated = Vec::new();
    for (name, path) in before {
        match after.get(name) {
            None => deleted.push(name.clone()),
            Some(_) => {
                let actions = actions_on(path);
                if actions
                    .iter()
                    .any(|action| matches!(*action, "remove" | "move"))
                {
                    deleted.push(name.clone());
                    created.push(name.clone());
                } else if actions
                    .iter()
                    .any(|action| matches!(*action, "add" | "change"))
                {
                    updated.push(name.clone());
                }
            }
        }
    }
    created.extend(
        after
            .keys()
            .filter(|name| !before.contains_key(*name))
            .cloned(),
    );
    created.sort();
    deleted
        .into_iter()
        .map(NodeDeviceEvent::Deleted)
        .chain(created.into_iter().map(NodeDeviceEvent::Created))
        .chain(updated.into_iter().map(NodeDeviceEvent::Updated))
        .collect()
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
            change("change", "/devices/pci0000:00/0000:00:01.0"),
            change("add", "/devices/pci0000:00/0000:00:01.0"),
            change("remove", "/devices/pci0000:00/0000:00:01.0/other"),
        ];
        assert_eq!(
            events(&both, &both, &changes),
            [NodeDeviceEvent::Updated("pci_0000_00_01_0".into())]
        );
        // A driver bound or unbound is not an event in libvirt 9.0.
        let binding = [change("unbind", "/devices/pci0000:00/0000:00:01.0")];
        assert_eq!(events(&both, &both, &binding), []);
    }

    #[test]
    fn a_device_removed_and_added_in_one_batch_is_deleted_then_created() {
        let both = known(&[("net_v_52", "/sys/devices/virtual/net/v")]);
        let changes = [
            change("remove", "/devices/virtual/net/v"),
            change("add", "/devices/virtual/net/v"),
        ];
        assert_eq!(
            events(&both, &both, &changes),
            [
                NodeDeviceEvent::Deleted("net_v_52".into()),
                NodeDeviceEvent::Created("net_v_52".into()),
            ]
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
