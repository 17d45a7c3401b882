//! Where a disk sits: the guest device names (`sda`, `hdb`, `fda`) libvirt derives from a
//! VMX slot (`scsi1:3`, `ide0:1`, `floppy0`) and back, and the drive address libvirt gives
//! a disk from its name (`virDomainDiskDefAssignAddress` with VMware's wide SCSI buses).

use virt_xml::domain::DiskBus;

/// SCSI units per controller before VMX hardware version 13 (unit 7 is the controller).
pub(crate) const SCSI_WIDE_BUS_MAX_UNIT: u32 = 16;
/// SCSI units per controller from VMX hardware version 13 on.
pub(crate) const SCSI_SUPER_WIDE_BUS_MAX_UNIT: u32 = 64;
/// SCSI units per controller libvirt counts for a guest it did not read from VMX.
const SCSI_NARROW_BUS_MAX_UNIT: u32 = 7;

/// `sd` + the letters of `index` (0 → `a`, 25 → `z`, 26 → `aa`).
pub(crate) fn index_to_disk_name(index: u32, prefix: &str) -> String {
    let mut letters = Vec::new();
    let mut counter = i64::from(index);
    while counter >= 0 {
        letters.push(b'a' + (counter % 26) as u8);
        counter = counter / 26 - 1;
    }
    letters.reverse();
    format!("{prefix}{}", String::from_utf8_lossy(&letters))
}

/// The index a disk name stands for (`sdb` → 1, `hdz` → 25, `vdaa` → 26), partition
/// digits ignored; `None` for a name that is not a disk name.
pub(crate) fn disk_name_to_index(name: &str) -> Option<u32> {
    let letters = ["fd", "hd", "vd", "sd", "xvd", "ubd"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))?;
    let n_letters = letters.bytes().take_while(u8::is_ascii_lowercase).count();
    if n_letters == 0 {
        return None;
    }
    let (letters, digits) = letters.split_at(n_letters);
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let mut index: u64 = 0;
    for (position, letter) in letters.bytes().enumerate() {
        index = (index + u64::from(position > 0)) * 26 + u64::from(letter - b'a');
        if index > i32::MAX as u64 {
            return None;
        }
    }
    u32::try_from(index).ok()
}

/// A drive address: controller, bus and unit (the target is always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DriveAddress {
    pub controller: u32,
    pub bus: u32,
    pub unit: u32,
}

/// The address libvirt gives a disk called `dst` on `bus` when it names none, with
/// `scsi_bus_max_unit` units on a SCSI bus; `None` when `dst` is no disk name. Buses without
/// drive addresses give all zeros, as libvirt leaves them.
pub(crate) fn default_drive_address(
    bus: DiskBus,
    dst: &str,
    scsi_bus_max_unit: u32,
) -> Option<DriveAddress> {
    let index = disk_name_to_index(dst)?;
    let address = match bus {
        DiskBus::Scsi if scsi_bus_max_unit > SCSI_NARROW_BUS_MAX_UNIT => {
            let per_controller = scsi_bus_max_unit - 1;
            let mut unit = index % per_controller;
            // Unit 7 is the controller itself.
            if unit >= 7 {
                unit += 1;
            }
            DriveAddress {
                controller: index / per_controller,
                bus: 0,
                unit,
            }
        }
        DiskBus::Scsi => DriveAddress {
            controller: index / 7,
            bus: 0,
            unit: index % 7,
        },
        DiskBus::Ide => DriveAddress {
            controller: index / 4,
            bus: (index % 4) / 2,
            unit: index % 2,
        },
        DiskBus::Sata => DriveAddress {
            controller: index / 6,
            bus: 0,
            unit: index % 6,
        },
        DiskBus::Fdc => DriveAddress {
            controller: index / 2,
            bus: 0,
            unit: index % 2,
        },
        _ => DriveAddress {
            controller: 0,
            bus: 0,
            unit: 0,
        },
    };
    Some(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_names_and_indexes() {
        for (index, name) in [
            (0, "sda"),
            (25, "sdz"),
            (26, "sdaa"),
            (45, "sdat"),
            (701, "sdzz"),
        ] {
            assert_eq!(index_to_disk_name(index, "sd"), name);
            assert_eq!(disk_name_to_index(name), Some(index));
        }
        assert_eq!(disk_name_to_index("hdb3"), Some(1));
        assert_eq!(disk_name_to_index("xvdc"), Some(2));
        assert_eq!(disk_name_to_index("sd"), None);
        assert_eq!(disk_name_to_index("sda3x"), None);
        assert_eq!(disk_name_to_index("nvme0"), None);
    }

    #[test]
    fn wide_scsi_skips_the_controller_unit() {
        let address = |dst| default_drive_address(DiskBus::Scsi, dst, SCSI_WIDE_BUS_MAX_UNIT);
        assert_eq!(
            address("sdh"),
            Some(DriveAddress {
                controller: 0,
                bus: 0,
                unit: 8
            })
        );
        assert_eq!(
            address("sdp"),
            Some(DriveAddress {
                controller: 1,
                bus: 0,
                unit: 0
            })
        );
        let sata = default_drive_address(DiskBus::Sata, "sdg", SCSI_WIDE_BUS_MAX_UNIT);
        assert_eq!(
            sata,
            Some(DriveAddress {
                controller: 1,
                bus: 0,
                unit: 0
            })
        );
    }
}
