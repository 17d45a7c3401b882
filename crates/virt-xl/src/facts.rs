//! What the conversions need to know about the Xen host and its libxl: the guest types the
//! host offers (libvirt's capabilities), where Xen keeps its firmware, the host CPU's
//! virtualization extensions, and the answers libxl gives while a domain configuration is
//! built. A driver fills these from the host; [`XenHostFacts::default`] gives the host
//! libvirt's own tests pretend to be (`tests/testutilsxen.c` and `tests/libxlmock.c`).

/// The device model flavour libxl starts for an HVM guest (`libxl_device_model_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceModelVersion {
    /// Upstream QEMU (`qemu_xen`).
    QemuXen,
    /// The old qemu-dm fork (`qemu_xen_traditional`): smaller video memory defaults.
    QemuXenTraditional,
}

impl DeviceModelVersion {
    /// libxl's name for it in JSON.
    pub fn libxl_name(self) -> &'static str {
        match self {
            DeviceModelVersion::QemuXen => "qemu_xen",
            DeviceModelVersion::QemuXenTraditional => "qemu_xen_traditional",
        }
    }
}

/// Facts about the Xen host the conversions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XenHostFacts {
    /// The guest architecture the host offers (`x86_64`).
    pub arch: String,
    /// The host runs fully virtualized guests (`<os><type>hvm`).
    pub hvm: bool,
    /// The host runs paravirtualized guests (`xen`, written `linux`).
    pub pv: bool,
    /// The host runs PVH guests (`xenpvh`); libvirt built `WITH_XEN_PVH`.
    pub pvh: bool,
    /// Where Xen installs its firmware (`LIBXL_FIRMWARE_DIR`): `hvmloader` (the loader of
    /// HVM guests) and `ovmf.bin` live there.
    pub firmware_dir: String,
    /// The host CPU has Intel VT-x (`vmx`).
    pub host_cpu_vmx: bool,
    /// The host CPU has AMD-V (`svm`).
    pub host_cpu_svm: bool,
    /// libxl.conf's `nested_hvm`: nested virtualization may be offered to guests.
    pub nested_hvm: bool,
    /// libxl has `nested_hvm` in the build info itself (Xen 4.10 and later,
    /// `LIBXL_HAVE_BUILDINFO_NESTED_HVM`), not only in its HVM part.
    pub nested_hvm_in_build_info: bool,
    /// libxl knows grant table limits (`max_grant_frames`, `LIBXL_HAVE_BUILDINFO_GRANT_LIMITS`).
    pub grant_limits: bool,
    /// libxl can configure PCI passthrough mode at creation
    /// (`LIBXL_HAVE_CREATEINFO_PASSTHROUGH`).
    pub createinfo_passthrough: bool,
    /// The host's NUMA node count (`libxl_get_physinfo`'s `nr_nodes`); a guest with more
    /// virtual nodes has all of them placed on node 0.
    pub numa_nodes: u32,
    /// How many CPUs libxl counts on the host (`libxl_get_max_cpus`): a vCPU without
    /// `<vcpupin>` next to pinned ones may run on any of them.
    pub host_cpus: u32,
    /// The device model an HVM guest's `<emulator>` is.
    pub device_model: DeviceModelVersion,
    /// What `libxl_get_required_shadow_memory` answers; `None` computes libxl's formula.
    pub shadow_memkb: Option<u64>,
    /// The first free port of the driver's graphics port range (5900 to 6000): graphics with
    /// `autoport` take this one and the following.
    pub graphics_port: u16,
    /// The boot loader of a PV guest with neither `<bootloader>` nor `<kernel>`
    /// (`LIBXL_BOOTLOADER_PATH`).
    pub pv_bootloader: String,
    /// Where unix socket channels without a path get one (`LIBXL_CHANNEL_DIR`).
    pub channel_dir: String,
}

impl XenHostFacts {
    /// The loader capabilities name for HVM guests.
    pub fn hvm_loader(&self) -> String {
        format!("{}/hvmloader", self.firmware_dir)
    }

    /// The firmware of guests asking for UEFI (`bios = "ovmf"`).
    pub fn ovmf_path(&self) -> String {
        format!("{}/ovmf.bin", self.firmware_dir)
    }
}

impl Default for XenHostFacts {
    /// libvirt's test host: an x86_64 host offering HVM, PV and PVH guests, firmware in
    /// `/usr/lib/xen/boot`, a CPU with VT-x, nested HVM enabled, six NUMA nodes and eight CPUs, upstream
    /// QEMU as device model and libxl answering 1234 KiB of shadow memory.
    fn default() -> Self {
        XenHostFacts {
            arch: "x86_64".to_string(),
            hvm: true,
            pv: true,
            pvh: true,
            firmware_dir: "/usr/lib/xen/boot".to_string(),
            host_cpu_vmx: true,
            host_cpu_svm: false,
            nested_hvm: true,
            nested_hvm_in_build_info: true,
            grant_limits: true,
            createinfo_passthrough: true,
            numa_nodes: 6,
            host_cpus: 8,
            device_model: DeviceModelVersion::QemuXen,
            shadow_memkb: Some(1234),
            graphics_port: 5900,
            pv_bootloader: "pygrub".to_string(),
            channel_dir: "/var/lib/libvirt/libxl/channel/target".to_string(),
        }
    }
}
