//! The keyword sets of domain XML, generated from the order libvirt defines them in, so that
//! an unknown keyword is refused as libvirt refuses it.

use crate::xml_enum;

xml_enum! {
    /// `virDomainVirt`.
    pub enum VirtType {
        Qemu = "qemu",
        Kqemu = "kqemu",
        Kvm = "kvm",
        Xen = "xen",
        Lxc = "lxc",
        Uml = "uml",
        Openvz = "openvz",
        Test = "test",
        Vmware = "vmware",
        Hyperv = "hyperv",
        Vbox = "vbox",
        Phyp = "phyp",
        Parallels = "parallels",
        Bhyve = "bhyve",
        Vz = "vz",
        Hvf = "hvf",
    }
}

xml_enum! {
    /// `virDomainOS`.
    pub enum OsType {
        Hvm = "hvm",
        Xen = "xen",
        Linux = "linux",
        Exe = "exe",
        Uml = "uml",
        Xenpvh = "xenpvh",
    }
}

xml_enum! {
    /// `virDomainBoot`.
    pub enum BootDevice {
        Fd = "fd",
        Cdrom = "cdrom",
        Hd = "hd",
        Network = "network",
    }
}

xml_enum! {
    /// `virDomainLifecycleAction`.
    pub enum LifecycleAction {
        Destroy = "destroy",
        Restart = "restart",
        RenameRestart = "rename-restart",
        Preserve = "preserve",
        CoredumpDestroy = "coredump-destroy",
        CoredumpRestart = "coredump-restart",
    }
}

xml_enum! {
    /// `virDomainLockFailure`.
    pub enum LockFailureAction {
        Poweroff = "poweroff",
        Restart = "restart",
        Pause = "pause",
        Ignore = "ignore",
    }
}

xml_enum! {
    /// `virDomainClockOffset`.
    pub enum ClockOffset {
        Utc = "utc",
        Localtime = "localtime",
        Variable = "variable",
        Timezone = "timezone",
        Absolute = "absolute",
    }
}

xml_enum! {
    /// `virDomainClockBasis`.
    pub enum ClockBasis {
        Utc = "utc",
        Localtime = "localtime",
    }
}

xml_enum! {
    /// `virDomainTimerName`.
    pub enum TimerName {
        Platform = "platform",
        Pit = "pit",
        Rtc = "rtc",
        Hpet = "hpet",
        Tsc = "tsc",
        Kvmclock = "kvmclock",
        Hypervclock = "hypervclock",
        Armvtimer = "armvtimer",
    }
}

xml_enum! {
    /// `virDomainTimerTrack`.
    pub enum TimerTrack {
        Boot = "boot",
        Guest = "guest",
        Wall = "wall",
        Realtime = "realtime",
    }
}

xml_enum! {
    /// `virDomainTimerTickpolicy`.
    pub enum TimerTickpolicy {
        Delay = "delay",
        Catchup = "catchup",
        Merge = "merge",
        Discard = "discard",
    }
}

xml_enum! {
    /// `virDomainTimerMode`.
    pub enum TimerMode {
        Auto = "auto",
        Native = "native",
        Emulate = "emulate",
        Paravirt = "paravirt",
        Smpsafe = "smpsafe",
    }
}

xml_enum! {
    /// `virDomainCpuPlacementMode`.
    pub enum CpuPlacement {
        Static = "static",
        Auto = "auto",
    }
}

xml_enum! {
    /// `virDomainDiskDevice`.
    pub enum DiskDevice {
        Disk = "disk",
        Cdrom = "cdrom",
        Floppy = "floppy",
        Lun = "lun",
    }
}

xml_enum! {
    /// `virDomainDiskBus`.
    pub enum DiskBus {
        Ide = "ide",
        Fdc = "fdc",
        Scsi = "scsi",
        Virtio = "virtio",
        Xen = "xen",
        Usb = "usb",
        Uml = "uml",
        Sata = "sata",
        Sd = "sd",
    }
}

xml_enum! {
    /// `virDomainDiskCache`.
    pub enum DiskCache {
        None = "none",
        Writethrough = "writethrough",
        Writeback = "writeback",
        Directsync = "directsync",
        Unsafe = "unsafe",
    }
    unset = "default"
}

xml_enum! {
    /// `virDomainDiskErrorPolicy`.
    pub enum DiskErrorPolicy {
        Stop = "stop",
        Report = "report",
        Ignore = "ignore",
        Enospace = "enospace",
    }
}

xml_enum! {
    /// `virDomainDiskIo`.
    pub enum DiskIo {
        Native = "native",
        Threads = "threads",
        IoUring = "io_uring",
    }
}

xml_enum! {
    /// `virDomainDiskDiscard`.
    pub enum DiskDiscard {
        Unmap = "unmap",
        Ignore = "ignore",
    }
}

xml_enum! {
    /// `virDomainDiskDetectZeroes`.
    pub enum DiskDetectZeroes {
        Off = "off",
        On = "on",
        Unmap = "unmap",
    }
}

xml_enum! {
    /// `virDomainDiskModel`.
    pub enum DiskModel {
        Virtio = "virtio",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainDiskTray`.
    pub enum DiskTray {
        Closed = "closed",
        Open = "open",
    }
}

xml_enum! {
    /// `virDomainDeviceSGIO`.
    pub enum DeviceSgio {
        Filtered = "filtered",
        Unfiltered = "unfiltered",
    }
}

xml_enum! {
    /// `virDomainSnapshotLocation`.
    pub enum SnapshotLocation {
        No = "no",
        Internal = "internal",
        External = "external",
        Manual = "manual",
    }
}

xml_enum! {
    /// `virDomainStartupPolicy`.
    pub enum StartupPolicy {
        Mandatory = "mandatory",
        Requisite = "requisite",
        Optional = "optional",
    }
}

xml_enum! {
    /// `virStorage`.
    pub enum StorageType {
        File = "file",
        Block = "block",
        Dir = "dir",
        Network = "network",
        Volume = "volume",
        Nvme = "nvme",
        Vhostuser = "vhostuser",
    }
}

xml_enum! {
    /// `virStorageFileFormat`.
    pub enum StorageFormat {
        Raw = "raw",
        Dir = "dir",
        Bochs = "bochs",
        Cloop = "cloop",
        Dmg = "dmg",
        Iso = "iso",
        Vpc = "vpc",
        Vdi = "vdi",
        Fat = "fat",
        Vhd = "vhd",
        Ploop = "ploop",
        Cow = "cow",
        Qcow = "qcow",
        Qcow2 = "qcow2",
        Qed = "qed",
        Vmdk = "vmdk",
    }
}

xml_enum! {
    /// `virStorageNetProtocol`.
    pub enum NetProtocol {
        Nbd = "nbd",
        Rbd = "rbd",
        Sheepdog = "sheepdog",
        Gluster = "gluster",
        Iscsi = "iscsi",
        Http = "http",
        Https = "https",
        Ftp = "ftp",
        Ftps = "ftps",
        Tftp = "tftp",
        Ssh = "ssh",
        Vxhs = "vxhs",
        Nfs = "nfs",
    }
}

xml_enum! {
    /// `virStorageNetHostTransport`.
    pub enum HostTransport {
        Tcp = "tcp",
        Unix = "unix",
        Rdma = "rdma",
    }
}

xml_enum! {
    /// `virStorageSourcePoolMode`.
    pub enum SourcePoolMode {
        Host = "host",
        Direct = "direct",
    }
}

xml_enum! {
    /// `virDomainController`.
    pub enum ControllerType {
        Ide = "ide",
        Fdc = "fdc",
        Scsi = "scsi",
        Sata = "sata",
        VirtioSerial = "virtio-serial",
        Ccid = "ccid",
        Usb = "usb",
        Pci = "pci",
        Xenbus = "xenbus",
        Isa = "isa",
    }
}

xml_enum! {
    /// `virDomainNet`.
    pub enum InterfaceType {
        User = "user",
        Ethernet = "ethernet",
        Vhostuser = "vhostuser",
        Server = "server",
        Client = "client",
        Mcast = "mcast",
        Network = "network",
        Bridge = "bridge",
        Internal = "internal",
        Direct = "direct",
        Hostdev = "hostdev",
        Udp = "udp",
        Vdpa = "vdpa",
        Null = "null",
        Vds = "vds",
    }
}

xml_enum! {
    /// `virDomainChrDevice`.
    pub enum ChrDeviceType {
        Parallel = "parallel",
        Serial = "serial",
        Console = "console",
        Channel = "channel",
    }
}

xml_enum! {
    /// `virDomainChr`.
    pub enum ChrType {
        Null = "null",
        Vc = "vc",
        Pty = "pty",
        Dev = "dev",
        File = "file",
        Pipe = "pipe",
        Stdio = "stdio",
        Udp = "udp",
        Tcp = "tcp",
        Unix = "unix",
        Spicevmc = "spicevmc",
        Spiceport = "spiceport",
        Nmdm = "nmdm",
        QemuVdagent = "qemu-vdagent",
        Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainChrTcpProtocol`.
    pub enum ChrTcpProtocol {
        Raw = "raw",
        Telnet = "telnet",
        Telnets = "telnets",
        Tls = "tls",
    }
}

xml_enum! {
    /// `virDomainGraphics`.
    pub enum GraphicsType {
        Sdl = "sdl",
        Vnc = "vnc",
        Rdp = "rdp",
        Desktop = "desktop",
        Spice = "spice",
        EglHeadless = "egl-headless",
        Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainGraphicsListen`.
    pub enum GraphicsListenType {
        None = "none",
        Address = "address",
        Network = "network",
        Socket = "socket",
    }
}

xml_enum! {
    /// `virDomainVideo`.
    pub enum VideoModel {
        Vga = "vga",
        Cirrus = "cirrus",
        Vmvga = "vmvga",
        Xen = "xen",
        Vbox = "vbox",
        Qxl = "qxl",
        Parallels = "parallels",
        Virtio = "virtio",
        Gop = "gop",
        None = "none",
        Bochs = "bochs",
        Ramfb = "ramfb",
    }
}

xml_enum! {
    /// `virDomainInput`.
    pub enum InputType {
        Mouse = "mouse",
        Tablet = "tablet",
        Keyboard = "keyboard",
        Passthrough = "passthrough",
        Evdev = "evdev",
    }
}

xml_enum! {
    /// `virDomainInputBus`.
    pub enum InputBus {
        Ps2 = "ps2",
        Usb = "usb",
        Xen = "xen",
        Parallels = "parallels",
        Virtio = "virtio",
        None = "none",
    }
}

xml_enum! {
    /// `virDomainMemballoonModel`.
    pub enum MemballoonModel {
        Virtio = "virtio",
        Xen = "xen",
        None = "none",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainRNGModel`.
    pub enum RngModel {
        Virtio = "virtio",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainRNGBackend`.
    pub enum RngBackend {
        Random = "random",
        Egd = "egd",
        Builtin = "builtin",
    }
}

xml_enum! {
    /// `virDomainHostdevMode`.
    pub enum HostdevMode {
        Subsystem = "subsystem",
        Capabilities = "capabilities",
    }
}

xml_enum! {
    /// `virDomainSoundModel`.
    pub enum SoundModel {
        Sb16 = "sb16",
        Es1370 = "es1370",
        Pcspk = "pcspk",
        Ac97 = "ac97",
        Ich6 = "ich6",
        Ich9 = "ich9",
        Usb = "usb",
        Ich7 = "ich7",
    }
}

xml_enum! {
    /// `virDomainWatchdogModel`.
    pub enum WatchdogModel {
        I6300esb = "i6300esb",
        Ib700 = "ib700",
        Diag288 = "diag288",
    }
}

xml_enum! {
    /// `virDomainWatchdogAction`.
    pub enum WatchdogAction {
        Reset = "reset",
        Shutdown = "shutdown",
        Poweroff = "poweroff",
        Pause = "pause",
        Dump = "dump",
        None = "none",
        InjectNmi = "inject-nmi",
    }
}

xml_enum! {
    /// `virDomainPanicModel`.
    pub enum PanicModel {
        Isa = "isa",
        Pseries = "pseries",
        Hyperv = "hyperv",
        S390 = "s390",
    }
}

xml_enum! {
    /// `virDomainTPMModel`.
    pub enum TpmModel {
        TpmTis = "tpm-tis",
        TpmCrb = "tpm-crb",
        TpmSpapr = "tpm-spapr",
        SpaprTpmProxy = "spapr-tpm-proxy",
    }
}

xml_enum! {
    /// `virDomainTPMBackend`.
    pub enum TpmBackend {
        Passthrough = "passthrough",
        Emulator = "emulator",
        External = "external",
    }
}

xml_enum! {
    /// `virDomainIOMMUModel`.
    pub enum IommuModel {
        Intel = "intel",
        Smmuv3 = "smmuv3",
        Virtio = "virtio",
    }
}

xml_enum! {
    /// `virDomainMemoryModel`.
    pub enum MemoryModel {
        Dimm = "dimm",
        Nvdimm = "nvdimm",
        VirtioPmem = "virtio-pmem",
        VirtioMem = "virtio-mem",
        SgxEpc = "sgx-epc",
    }
}

xml_enum! {
    /// `virDomainShmemModel`.
    pub enum ShmemModel {
        Ivshmem = "ivshmem",
        IvshmemPlain = "ivshmem-plain",
        IvshmemDoorbell = "ivshmem-doorbell",
    }
}

xml_enum! {
    /// `virDomainSmartcard`.
    pub enum SmartcardMode {
        Host = "host",
        HostCertificates = "host-certificates",
        Passthrough = "passthrough",
    }
}

xml_enum! {
    /// `virDomainFS`.
    pub enum FilesystemType {
        Mount = "mount",
        Block = "block",
        File = "file",
        Template = "template",
        Ram = "ram",
        Bind = "bind",
        Volume = "volume",
    }
}

xml_enum! {
    /// `virDomainAudioType`.
    pub enum AudioType {
        None = "none",
        Alsa = "alsa",
        Coreaudio = "coreaudio",
        Jack = "jack",
        Oss = "oss",
        Pulseaudio = "pulseaudio",
        Sdl = "sdl",
        Spice = "spice",
        File = "file",
        Dbus = "dbus",
    }
}

xml_enum! {
    /// `virDomainHub`.
    pub enum HubType {
        Usb = "usb",
    }
}

xml_enum! {
    /// `virDomainRedirdevBus`.
    pub enum RedirdevBus {
        Usb = "usb",
    }
}

xml_enum! {
    /// `virDomainSeclabel`.
    pub enum SeclabelType {
        None = "none",
        Dynamic = "dynamic",
        Static = "static",
    }
}

xml_enum! {
    /// `virDomainLoader`.
    pub enum LoaderType {
        Rom = "rom",
        Pflash = "pflash",
    }
}

xml_enum! {
    /// `virDomainOsDefFirmware`.
    pub enum Firmware {
        Bios = "bios",
        Efi = "efi",
    }
}

xml_enum! {
    /// `virDomainHyperVMode`.
    pub enum HypervMode {
        Custom = "custom",
        Passthrough = "passthrough",
    }
}

xml_enum! {
    /// `virDomainIOAPIC`.
    pub enum IoapicDriver {
        Qemu = "qemu",
        Kvm = "kvm",
    }
}

xml_enum! {
    /// `virGICVersion`.
    pub enum GicVersion {
        Host = "host",
        V2 = "2",
        V3 = "3",
    }
}

xml_enum! {
    /// `virDomainCapabilitiesPolicy`.
    pub enum CapabilitiesPolicy {
        Default = "default",
        Allow = "allow",
        Deny = "deny",
    }
}

xml_enum! {
    /// `virDomainVsockModel`.
    pub enum VsockModel {
        Virtio = "virtio",
        VirtioTransitional = "virtio-transitional",
        VirtioNonTransitional = "virtio-non-transitional",
    }
}

xml_enum! {
    /// `virDomainLaunchSecurity`.
    pub enum LaunchSecurityType {
        Sev = "sev",
        S390Pv = "s390-pv",
    }
}

xml_enum! {
    /// `virDomainSmbiosMode`.
    pub enum SmbiosMode {
        Emulate = "emulate",
        Host = "host",
        Sysinfo = "sysinfo",
    }
}

xml_enum! {
    /// `virDomainDeviceAddress`.
    pub enum AddressType {
        Pci = "pci",
        Drive = "drive",
        VirtioSerial = "virtio-serial",
        Ccid = "ccid",
        Usb = "usb",
        SpaprVio = "spapr-vio",
        VirtioS390 = "virtio-s390",
        Ccw = "ccw",
        VirtioMmio = "virtio-mmio",
        Isa = "isa",
        Dimm = "dimm",
        Unassigned = "unassigned",
    }
}

xml_enum! {
    /// `virDomainHostdevSubsysPCIBackend`.
    pub enum HostdevPciBackend {
        Kvm = "kvm",
        Vfio = "vfio",
        Xen = "xen",
    }
}

xml_enum! {
    /// `virDomainGraphicsSpiceChannelMode`.
    pub enum SpiceChannelMode {
        Any = "any",
        Secure = "secure",
        Insecure = "insecure",
    }
}

xml_enum! {
    /// `virDomainMouseMode`.
    pub enum MouseMode {
        Server = "server",
        Client = "client",
    }
}

xml_enum! {
    /// `virDomainNetBackend`.
    pub enum InterfaceBackendType {
        Passt = "passt",
    }
}

xml_enum! {
    /// `virDomainChrDeviceState`.
    pub enum ChrDeviceState {
        Connected = "connected",
        Disconnected = "disconnected",
    }
}

xml_enum! {
    /// `virDomainNetInterfaceLinkState`.
    pub enum LinkState {
        Up = "up",
        Down = "down",
    }
}

xml_enum! {
    /// `virDomainMemorySource`.
    pub enum MemoryBackingSource {
        File = "file",
        Anonymous = "anonymous",
        Memfd = "memfd",
    }
}

xml_enum! {
    /// `virDomainMemoryAllocation`.
    pub enum MemoryAllocation {
        Immediate = "immediate",
        Ondemand = "ondemand",
    }
}
