//! What the installed `bhyve` and `grub-bhyve` can do, as libvirt's bhyve driver probes it
//! (`bhyve -h`, `bhyve -s 0,DEVICE`, `grub-bhyve --help`): bits that decide the command line.

/// `virBhyveCapsFlags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BhyveCaps(pub u32);

impl BhyveCaps {
    /// `-u`: the RTC keeps UTC.
    pub const RTC_UTC: u32 = 1 << 0;
    /// One AHCI controller holds up to 32 disks (`ahci,hd:PATH,cd:PATH`).
    pub const AHCI32SLOT: u32 = 1 << 1;
    /// The `e1000` NIC.
    pub const NET_E1000: u32 = 1 << 2;
    /// `-l bootrom,PATH`: a UEFI ROM instead of a loader.
    pub const LPC_BOOTROM: u32 = 1 << 3;
    /// The `fbuf` framebuffer (VNC).
    pub const FBUF: u32 = 1 << 4;
    /// The `xhci` USB controller.
    pub const XHCI: u32 = 1 << 5;
    /// `-c cpus=N,sockets=S,cores=C,threads=T`.
    pub const CPUTOPOLOGY: u32 = 1 << 6;
    /// The `hda` sound device.
    pub const SOUND_HDA: u32 = 1 << 7;
    /// `fbuf`'s `password=`.
    pub const VNC_PASSWORD: u32 = 1 << 8;
    /// The `virtio-9p` filesystem.
    pub const VIRTIO_9P: u32 = 1 << 9;
    /// Everything this driver knows.
    pub const ALL: u32 = (1 << 10) - 1;

    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    pub fn without(self, flag: u32) -> BhyveCaps {
        BhyveCaps(self.0 & !flag)
    }
}

/// `virBhyveGrubCapsFlags`: `grub-bhyve --cons-dev`.
pub const GRUB_CONSDEV: u32 = 1;
