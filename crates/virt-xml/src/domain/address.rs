//! Where a device sits: `<address>` in all its bus flavours, and the elements libvirt keeps
//! with it for every device (`<boot>`, `<alias>`, `<master>`, `<rom>`, `<acpi>`).

use std::fmt::Write as _;

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{attr, Hex, Node, OnOff, Writer, XmlElement, XmlValue, YesNo};
use crate::Result;

/// A PCI address (`domain:bus:slot.function`), with the s390 zPCI ids when present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PciAddress {
    pub domain: u32,
    pub bus: u32,
    pub slot: u32,
    pub function: u32,
    pub multifunction: Option<OnOff>,
    pub zpci: Option<ZpciAddress>,
}

/// s390 zPCI identifiers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZpciAddress {
    pub uid: Option<u32>,
    pub fid: Option<u32>,
}

impl PciAddress {
    /// Reads `domain`, `bus`, `slot`, `function` (hex or decimal) and `multifunction`.
    pub fn from_node(node: &Node<'_>) -> Result<Self> {
        let number = |name: &str| -> Result<u32> {
            Ok(attr::<Hex<0>>(node, name)?.map_or(0, |hex| hex.0 as u32))
        };
        let zpci = match node.child("zpci") {
            None => None,
            Some(zpci) => Some(ZpciAddress {
                uid: attr::<Hex<0>>(zpci, "uid")?.map(|hex| hex.0 as u32),
                fid: attr::<Hex<0>>(zpci, "fid")?.map(|hex| hex.0 as u32),
            }),
        };
        Ok(PciAddress {
            domain: number("domain")?,
            bus: number("bus")?,
            slot: number("slot")?,
            function: number("function")?,
            multifunction: attr(node, "multifunction")?,
            zpci,
        })
    }

    /// All four numbers zero: libvirt leaves them out.
    pub fn is_empty(&self) -> bool {
        self.domain == 0 && self.bus == 0 && self.slot == 0 && self.function == 0
    }

    /// ` domain='0x0000' bus='0x00' slot='0x00' function='0x0'` as libvirt writes it.
    pub fn write_numbers(&self, w: &mut Writer) {
        w.attr_with("domain", |out| {
            let _ = write!(out, "0x{:04x}", self.domain);
        });
        w.attr_with("bus", |out| {
            let _ = write!(out, "0x{:02x}", self.bus);
        });
        w.attr_with("slot", |out| {
            let _ = write!(out, "0x{:02x}", self.slot);
        });
        // libvirt prints `0x%d`; the same for every valid function (0-7), and hex keeps
        // out-of-range values stable when written back.
        w.attr_with("function", |out| {
            let _ = write!(out, "0x{:x}", self.function);
        });
    }

    fn write_zpci(&self, w: &mut Writer) {
        if let Some(zpci) = &self.zpci {
            if zpci.uid.is_some() || zpci.fid.is_some() {
                let mark = w.open("zpci");
                w.attr_with("uid", |out| {
                    let _ = write!(out, "0x{:04x}", zpci.uid.unwrap_or(0));
                });
                w.attr_with("fid", |out| {
                    let _ = write!(out, "0x{:08x}", zpci.fid.unwrap_or(0));
                });
                w.close(mark, "zpci", false);
            }
        }
    }

    /// `<address [type='pci'] domain=... bus=... slot=... function=.../>` as a host-side
    /// source address (`virPCIDeviceAddressFormat`).
    pub fn write_source_address(&self, w: &mut Writer, include_type: bool) {
        let mark = w.open("address");
        if include_type {
            w.attr("type", "pci");
        }
        self.write_numbers(w);
        w.close(mark, "address", false);
    }
}

/// `<address>`: one variant per `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Pci(PciAddress),
    Drive {
        controller: u32,
        bus: u32,
        target: u32,
        unit: u32,
    },
    VirtioSerial {
        controller: u32,
        bus: u32,
        port: u32,
    },
    Ccid {
        controller: u32,
        slot: u32,
    },
    /// `port` is a dotted hub path such as `1.2`.
    Usb {
        bus: u32,
        port: Option<String>,
    },
    SpaprVio {
        reg: Option<u64>,
    },
    Ccw {
        cssid: u32,
        ssid: u32,
        devno: u32,
    },
    VirtioMmio,
    Isa {
        iobase: Option<u32>,
        irq: Option<u32>,
    },
    Dimm {
        slot: u32,
        base: Option<u64>,
    },
    VirtioS390,
    Unassigned,
}

impl Address {
    /// The `type` keyword.
    pub fn type_name(&self) -> &'static str {
        match self {
            Address::Pci(_) => "pci",
            Address::Drive { .. } => "drive",
            Address::VirtioSerial { .. } => "virtio-serial",
            Address::Ccid { .. } => "ccid",
            Address::Usb { .. } => "usb",
            Address::SpaprVio { .. } => "spapr-vio",
            Address::Ccw { .. } => "ccw",
            Address::VirtioMmio => "virtio-mmio",
            Address::Isa { .. } => "isa",
            Address::Dimm { .. } => "dimm",
            Address::VirtioS390 => "virtio-s390",
            Address::Unassigned => "unassigned",
        }
    }

    /// The PCI address, if this is one.
    pub fn as_pci(&self) -> Option<&PciAddress> {
        match self {
            Address::Pci(pci) => Some(pci),
            _ => None,
        }
    }
}

fn number<T: XmlValue + Default>(node: &Node<'_>, name: &str) -> Result<T> {
    Ok(attr::<T>(node, name)?.unwrap_or_default())
}

fn hex_number(node: &Node<'_>, name: &str) -> Result<Option<u64>> {
    Ok(attr::<Hex<0>>(node, name)?.map(|hex| hex.0))
}

impl XmlElement for Address {
    fn from_node(node: &Node<'_>) -> Result<Self> {
        let Some(kind) = node.attr("type") else {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::DOMAIN,
                "No type specified for device address",
            ));
        };
        Ok(match kind {
            "pci" => Address::Pci(PciAddress::from_node(node)?),
            "drive" => Address::Drive {
                controller: number(node, "controller")?,
                bus: number(node, "bus")?,
                target: number(node, "target")?,
                unit: number(node, "unit")?,
            },
            "virtio-serial" => Address::VirtioSerial {
                controller: number(node, "controller")?,
                bus: number(node, "bus")?,
                port: number(node, "port")?,
            },
            "ccid" => Address::Ccid {
                controller: number(node, "controller")?,
                slot: number(node, "slot")?,
            },
            "usb" => Address::Usb {
                bus: number(node, "bus")?,
                port: attr(node, "port")?,
            },
            "spapr-vio" => Address::SpaprVio {
                reg: hex_number(node, "reg")?,
            },
            "ccw" => Address::Ccw {
                cssid: hex_number(node, "cssid")?.unwrap_or(0) as u32,
                ssid: hex_number(node, "ssid")?.unwrap_or(0) as u32,
                devno: hex_number(node, "devno")?.unwrap_or(0) as u32,
            },
            "virtio-mmio" => Address::VirtioMmio,
            "isa" => Address::Isa {
                iobase: hex_number(node, "iobase")?.map(|value| value as u32),
                irq: hex_number(node, "irq")?.map(|value| value as u32),
            },
            "dimm" => Address::Dimm {
                slot: number(node, "slot")?,
                base: hex_number(node, "base")?,
            },
            "virtio-s390" => Address::VirtioS390,
            "unassigned" => Address::Unassigned,
            other => {
                return Err(Error::new(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    ErrorDomain::DOMAIN,
                    format!("unknown address type '{other}'"),
                ))
            }
        })
    }

    fn write_attrs(&self, w: &mut Writer) {
        w.attr("type", self.type_name());
        let num = |w: &mut Writer, name: &str, value: u64| {
            w.attr_with(name, |out| {
                let _ = write!(out, "{value}");
            })
        };
        match self {
            Address::Pci(pci) => {
                if !pci.is_empty() {
                    pci.write_numbers(w);
                }
                if let Some(multi) = pci.multifunction {
                    w.attr("multifunction", multi.as_str());
                }
            }
            Address::Drive {
                controller,
                bus,
                target,
                unit,
            } => {
                num(w, "controller", *controller as u64);
                num(w, "bus", *bus as u64);
                num(w, "target", *target as u64);
                num(w, "unit", *unit as u64);
            }
            Address::VirtioSerial {
                controller,
                bus,
                port,
            } => {
                num(w, "controller", *controller as u64);
                num(w, "bus", *bus as u64);
                num(w, "port", *port as u64);
            }
            Address::Ccid { controller, slot } => {
                num(w, "controller", *controller as u64);
                num(w, "slot", *slot as u64);
            }
            Address::Usb { bus, port } => {
                num(w, "bus", *bus as u64);
                if let Some(port) = port {
                    w.attr("port", port);
                }
            }
            Address::SpaprVio { reg } => {
                if let Some(reg) = reg {
                    w.attr_with("reg", |out| {
                        let _ = write!(out, "0x{reg:08x}");
                    });
                }
            }
            Address::Ccw { cssid, ssid, devno } => {
                w.attr_with("cssid", |out| {
                    let _ = write!(out, "0x{cssid:x}");
                });
                w.attr_with("ssid", |out| {
                    let _ = write!(out, "0x{ssid:x}");
                });
                w.attr_with("devno", |out| {
                    let _ = write!(out, "0x{devno:04x}");
                });
            }
            Address::Isa { iobase, irq } => {
                if let Some(iobase) = iobase.filter(|value| *value > 0) {
                    w.attr_with("iobase", |out| {
                        let _ = write!(out, "0x{iobase:x}");
                    });
                }
                if let Some(irq) = irq.filter(|value| *value > 0) {
                    w.attr_with("irq", |out| {
                        let _ = write!(out, "0x{irq:x}");
                    });
                }
            }
            Address::Dimm { slot, base } => {
                num(w, "slot", *slot as u64);
                if let Some(base) = base.filter(|value| *value > 0) {
                    w.attr_with("base", |out| {
                        let _ = write!(out, "0x{base:x}");
                    });
                }
            }
            Address::VirtioMmio | Address::VirtioS390 | Address::Unassigned => {}
        }
    }

    fn write_body(&self, w: &mut Writer) {
        if let Address::Pci(pci) = self {
            pci.write_zpci(w);
        }
    }

    fn write_element(&self, w: &mut Writer, name: &str) {
        // libvirt keeps virtio-s390 addresses internal.
        if matches!(self, Address::VirtioS390) {
            return;
        }
        let mark = w.open(name);
        self.write_attrs(w);
        self.write_body(w);
        w.close(mark, name, false);
    }
}

/// `<boot order='N' loadparm='...'/>` on a device.
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct DeviceBoot {
    #[xml(attr)]
    pub order: Option<u32>,
    #[xml(attr)]
    pub loadparm: Option<String>,
}

/// `<rom>` of a PCI device.
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct Rom {
    #[xml(attr)]
    pub enabled: Option<YesNo>,
    #[xml(attr)]
    pub bar: Option<OnOff>,
    #[xml(attr)]
    pub file: Option<String>,
}

/// `<alias name='...'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct Alias {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<master startport='N'/>` (USB companion controllers).
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct UsbMaster {
    #[xml(attr)]
    pub startport: Option<u32>,
}

/// `<acpi index='N'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct AcpiIndex {
    #[xml(attr)]
    pub index: Option<u32>,
}

/// What every device carries besides its own settings (libvirt's `virDomainDeviceInfo`),
/// in libvirt's order: boot, alias, master, rom, acpi, address.
#[derive(Debug, Clone, Default, PartialEq, Eq, crate::XmlElement)]
pub struct DeviceInfo {
    #[xml(child)]
    pub boot: Option<DeviceBoot>,
    #[xml(child)]
    pub alias: Option<Alias>,
    #[xml(child)]
    pub master: Option<UsbMaster>,
    #[xml(child)]
    pub rom: Option<Rom>,
    #[xml(child)]
    pub acpi: Option<AcpiIndex>,
    #[xml(child)]
    pub address: Option<Address>,
}

impl DeviceInfo {
    /// The alias name, if any.
    pub fn alias_name(&self) -> Option<&str> {
        self.alias.as_ref().and_then(|alias| alias.name.as_deref())
    }

    /// The boot order, if any.
    pub fn boot_order(&self) -> Option<u32> {
        self.boot.as_ref().and_then(|boot| boot.order)
    }
}
