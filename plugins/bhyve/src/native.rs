//! `domxml-from-native bhyve-argv`: a bhyve (and loader) command line read back into a
//! domain, as libvirt's `bhyveParseCommandLineString`.
//!
//! The text holds one command per line (a backslash before a line break continues the
//! line). The first line running `/usr/sbin/bhyve` is the guest; the first other line is its
//! loader: `bhyveload` (whose `-m`/`-d` are read back) or any other program (kept verbatim as
//! `<bootloader>` and `<bootloader_args>`). The domain is built as libvirt builds it, with no
//! post-parse step: no implicit controllers, no address assignment, devices bhyve's
//! arguments do not describe (hostbridge, lpc, xhci, ...) are left out.
//!
//! libvirt is lenient in odd ways and this module keeps them: unknown options are skipped
//! without consuming an argument, a NIC or disk it cannot describe is dropped with a
//! warning (returned in `warnings`) while parsing goes on, and a malformed `-s`/`-l`
//! argument fails without saying why.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::address::{Address, DeviceBoot, DeviceInfo, PciAddress};
use virt_xml::domain::devices::{
    Graphics, GraphicsListen, Video, VideoDriver, VideoModelElement, VideoResolution,
};
use virt_xml::domain::disk::{Disk, DiskSource, DiskTarget};
use virt_xml::domain::enums::{
    ChrType, ClockOffset, CpuPlacement, DiskBus, DiskDevice, GraphicsListenType, GraphicsType,
    InterfaceType, LifecycleAction, OsType, StorageType, VideoModel, VirtType,
};
use virt_xml::domain::general::{
    ApicFeature, Clock, Features, MemoryBacking, MemorySize, Os, OsTypeElement, Vcpu,
};
use virt_xml::domain::interface::{Interface, InterfaceSource, InterfaceTarget, Mac, TypeAttr};
use virt_xml::domain::memory::ScaledKib;
use virt_xml::domain::{format_mac, ChrDevice, ChrSource, ChrTarget, Domain};
use virt_xml::xml::YesNo;

/// The program whose command line describes the guest.
const BHYVE_PROGRAM: &str = "/usr/sbin/bhyve";
/// The loader whose `-m` and `-d` libvirt understands.
const BHYVELOAD_PROGRAM: &str = "/usr/sbin/bhyveload";
/// Disk names run from `sda`/`vda` to `sdz`/`vdz`; later disks are dropped.
const DISKS_PER_BUS: u32 = 26;
/// Below this a plain `-m` number counts MiB, as bhyve's `vm_parse_memsize` reads it.
const MEMSIZE_MIB_LIMIT: u64 = 1024 * 1024;

/// What libvirt's test harness mocks: the UUID a domain without `-U` gets and the MAC a NIC without `mac=` gets.
pub struct NativeDefaults {
    pub uuid: Uuid,
    pub mac: [u8; 6],
}

/// Parses the command lines; warnings (dropped NICs/disks) are pushed to `warnings`.
pub fn domain_from_argv(
    text: &str,
    defaults: &NativeDefaults,
    warnings: &mut Vec<String>,
) -> Result<Domain, Error> {
    let (bhyve_argv, loader_argv) = find_commands(text)?;

    let mut parser = ArgvParser::new(defaults, warnings);
    // The guest's command comes first whatever the line order: the loader is checked
    // against its name and memory.
    parser.read_bhyve(&bhyve_argv)?;
    match loader_argv {
        Some(argv) if argv.first().map(String::as_str) == Some(BHYVELOAD_PROGRAM) => {
            parser.read_bhyveload(&argv)?
        }
        Some(argv) => parser.read_custom_loader(&argv),
        None => {}
    }
    let domain = parser.domain;

    // libvirt builds such a VNC display but then cannot format it, so `domxml-from-native`
    // fails; fail here rather than hand out a domain libvirt never shows.
    if domain.devices.graphics.iter().any(|graphics| {
        graphics.graphics_type == Some(GraphicsType::Vnc) && graphics.listens.is_empty()
    }) {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::DOMAIN,
            "missing listen element for graphics",
        ));
    }
    Ok(domain)
}

fn bhyve_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::BHYVE, detail)
}

/// libvirt fails some malformed arguments without reporting an error; its API then
/// reports this generic one.
fn unreported_failure() -> Error {
    Error::from_parts(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::NONE,
        "An error occurred, but the cause is unknown",
    )
}

// ---------------------------------------------------------------------------------------
// Splitting the text into commands
// ---------------------------------------------------------------------------------------

/// The bhyve command's words and, when there is one, the loader's.
type Commands = (Vec<String>, Option<Vec<String>>);

fn find_commands(text: &str) -> Result<Commands, Error> {
    let joined = join_continued_lines(text);
    let mut bhyve = None;
    let mut loader = None;
    for line in split_lines(&joined) {
        let words = split_words(line);
        if bhyve.is_none() && words.first().map(String::as_str) == Some(BHYVE_PROGRAM) {
            bhyve = Some(words);
        } else if loader.is_none() {
            // Also a second bhyve line: libvirt takes whatever comes first as the loader.
            loader = Some(words);
        }
    }
    match bhyve {
        Some(bhyve) => Ok((bhyve, loader)),
        None => Err(bhyve_error(
            ErrorNumber::INTERNAL_ERROR,
            "Failed to convert the command string to argv-lists",
        )),
    }
}

/// Drops each backslash that ends a line together with the line break. After `\` CR, a
/// following LF stays (libvirt skips only the CR), so such a line still ends there.
fn join_continued_lines(text: &str) -> String {
    let mut joined = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some('\n' | '\r')) {
            chars.next();
        } else {
            joined.push(c);
        }
    }
    joined
}

/// Non-empty lines. CRs right after a line break are skipped, a CR ending a line stays.
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(end) => {
                if end > 0 {
                    lines.push(&rest[..end]);
                }
                rest = rest[end..].trim_start_matches(['\n', '\r']);
            }
            None => {
                lines.push(rest);
                break;
            }
        }
    }
    lines
}

/// C's `isspace` in the C locale.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Words split on single spaces, then any whitespace skipped; a word opening with a quote
/// runs to the same quote (no escapes). A line starting with a space has an empty first
/// word, as in libvirt.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let (word, after) = match rest.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let inner = &rest[1..];
                match inner.find(quote) {
                    Some(end) => (&inner[..end], Some(&inner[end + 1..])),
                    None => (inner, None),
                }
            }
            _ => match rest.find(' ') {
                Some(end) => (&rest[..end], Some(&rest[end..])),
                None => (rest, None),
            },
        };
        words.push(word.to_string());
        rest = after.map_or("", |after| after.trim_start_matches(is_c_space));
    }
    words
}

// ---------------------------------------------------------------------------------------
// Reading the commands
// ---------------------------------------------------------------------------------------

struct ArgvParser<'a> {
    domain: Domain,
    /// The memory the first `-m` set, in KiB (0: none yet); later ones must agree.
    balloon_kib: u64,
    sata_disks: u32,
    virtio_disks: u32,
    defaults: &'a NativeDefaults,
    warnings: &'a mut Vec<String>,
}

/// The argument of the option at `*index`, which it consumes. The last word is the VM name
/// and is never an argument.
fn option_argument<'w>(argv: &'w [String], index: &mut usize) -> Result<&'w str, Error> {
    let option = &argv[*index];
    let name_index = argv.len().saturating_sub(1);
    match argv.get(*index + 1) {
        Some(argument) if *index + 1 < name_index => {
            *index += 1;
            Ok(argument)
        }
        _ => Err(bhyve_error(
            ErrorNumber::INVALID_ARG,
            format!("Missing argument for '{option}'"),
        )),
    }
}

/// The option letter libvirt dispatches on: the word's second byte.
fn option_letter(word: &str) -> Option<u8> {
    word.as_bytes().get(1).copied()
}

/// Walks the options of `argv` (words from index 1 starting with `-`) with `handle`, then
/// checks that exactly the VM name is left and returns it.
fn read_options<'w>(
    argv: &'w [String],
    mut handle: impl FnMut(&'w [String], &mut usize) -> Result<(), Error>,
) -> Result<&'w str, Error> {
    // The last word is the name; `argv` holds at least the program.
    let name_index = argv.len().saturating_sub(1);
    let mut index = 1;
    while index < name_index && argv[index].starts_with('-') {
        handle(argv, &mut index)?;
        index += 1;
    }
    if index != name_index {
        return Err(bhyve_error(
            ErrorNumber::OPERATION_FAILED,
            "Failed to parse arguments for bhyve command",
        ));
    }
    Ok(&argv[name_index])
}

impl<'a> ArgvParser<'a> {
    fn new(defaults: &'a NativeDefaults, warnings: &'a mut Vec<String>) -> Self {
        let domain = Domain {
            virt_type: Some(VirtType::Bhyve),
            uuid: Some(defaults.uuid),
            memory: Some(MemorySize::default()),
            current_memory: Some(ScaledKib(0)),
            // libvirt starts with no vCPUs; only `-c` sets them.
            vcpu: Some(Vcpu {
                placement: Some(CpuPlacement::Static),
                count: Some(0),
                ..Vcpu::default()
            }),
            os: Some(Os {
                os_type: Some(OsTypeElement {
                    os_type: Some(OsType::Hvm),
                    ..OsTypeElement::default()
                }),
                ..Os::default()
            }),
            clock: Some(Clock {
                offset: Some(ClockOffset::Localtime),
                ..Clock::default()
            }),
            on_poweroff: Some(LifecycleAction::Destroy),
            on_reboot: Some(LifecycleAction::Destroy),
            on_crash: Some(LifecycleAction::Destroy),
            ..Domain::default()
        };
        ArgvParser {
            domain,
            balloon_kib: 0,
            sata_disks: 0,
            virtio_disks: 0,
            defaults,
            warnings,
        }
    }

    fn warn(&mut self, error: Error) {
        self.warnings.push(error.message().to_string());
    }

    fn read_bhyve(&mut self, argv: &[String]) -> Result<(), Error> {
        let name = read_options(argv, |argv, index| {
            match option_letter(&argv[*index]) {
                Some(b'A') => self.features().acpi = true,
                Some(b'I') => self.features().apic = Some(ApicFeature::default()),
                Some(b'u') => {
                    if let Some(clock) = &mut self.domain.clock {
                        clock.offset = Some(ClockOffset::Utc);
                    }
                }
                Some(b'S') => {
                    self.domain
                        .memory_backing
                        .get_or_insert_with(MemoryBacking::default)
                        .locked = true
                }
                Some(b'c') => {
                    let count = option_argument(argv, index)?;
                    self.set_vcpus(count)?;
                }
                Some(b'm') => {
                    let size = option_argument(argv, index)?;
                    self.set_memory(size)?;
                }
                Some(b'U') => {
                    let text = option_argument(argv, index)?;
                    let uuid = parse_libvirt_uuid(text).ok_or_else(|| {
                        bhyve_error(
                            ErrorNumber::INTERNAL_ERROR,
                            format!("Cannot parse UUID '{text}'"),
                        )
                    })?;
                    self.domain.uuid = Some(uuid);
                }
                Some(b'l') => {
                    let lpc = option_argument(argv, index)?;
                    self.read_lpc_device(lpc)?;
                }
                Some(b's') => {
                    let device = option_argument(argv, index)?;
                    self.read_pci_device(device)?;
                }
                // Options libvirt does not model but knows take an argument.
                Some(b'p' | b'g') => {
                    option_argument(argv, index)?;
                }
                // Everything else is a flag to libvirt, even if bhyve gives it an argument.
                _ => {}
            }
            Ok(())
        })?;
        self.domain.name = Some(name.to_string());
        Ok(())
    }

    fn read_bhyveload(&mut self, argv: &[String]) -> Result<(), Error> {
        let mut saw_disk = false;
        let mut saw_memory = false;
        let mut saw_other = false;
        let name = read_options(argv, |argv, index| {
            match option_letter(&argv[*index]) {
                Some(b'd') => {
                    let path = option_argument(argv, index)?;
                    saw_disk = true;
                    self.boot_from(path);
                }
                Some(b'm') => {
                    let size = option_argument(argv, index)?;
                    saw_memory = true;
                    self.set_memory(size)?;
                }
                _ => saw_other = true,
            }
            Ok(())
        })?;
        // Only the command libvirt itself would run (`-m` and `-d`) is implied; anything
        // else is kept as a custom loader command.
        if !(saw_disk && saw_memory) || saw_other {
            self.read_custom_loader(argv);
        }
        if self.domain.name.as_deref() != Some(name) {
            return Err(bhyve_error(
                ErrorNumber::OPERATION_FAILED,
                "Failed to parse arguments: VM name mismatch",
            ));
        }
        Ok(())
    }

    fn read_custom_loader(&mut self, argv: &[String]) {
        if let Some((program, arguments)) = argv.split_first() {
            self.domain.bootloader = Some(program.clone());
            self.domain.bootloader_args = Some(arguments.join(" "));
        }
    }

    fn features(&mut self) -> &mut Features {
        self.domain.features.get_or_insert_with(Features::default)
    }

    fn set_vcpus(&mut self, text: &str) -> Result<(), Error> {
        // libvirt cannot hold a negative count (it would try to allocate ~4G vCPUs).
        let count = c_int(text)
            .and_then(|count| u32::try_from(count).ok())
            .ok_or_else(|| {
                bhyve_error(
                    ErrorNumber::OPERATION_FAILED,
                    "Failed to parse number of vCPUs",
                )
            })?;
        if let Some(vcpu) = &mut self.domain.vcpu {
            vcpu.count = Some(count);
        }
        Ok(())
    }

    fn set_memory(&mut self, text: &str) -> Result<(), Error> {
        let kib = parse_memsize_kib(text)
            .ok_or_else(|| bhyve_error(ErrorNumber::OPERATION_FAILED, "Failed to parse memory"))?;
        if self.balloon_kib != 0 && self.balloon_kib != kib {
            return Err(bhyve_error(
                ErrorNumber::OPERATION_FAILED,
                "Failed to parse memory: size mismatch",
            ));
        }
        self.balloon_kib = kib;
        self.domain.set_memory_kib(kib);
        self.domain.current_memory = Some(ScaledKib(kib));
        Ok(())
    }

    /// `bhyveload -d PATH`: the disk with that source boots, with its position in the disk
    /// list as boot order (so the first disk gets none).
    fn boot_from(&mut self, path: &str) {
        let disks = &mut self.domain.devices.disks;
        if let Some(position) = disks
            .iter()
            .position(|disk| disk.source_path() == Some(path))
        {
            if position > 0 {
                disks[position].info.boot = Some(DeviceBoot {
                    order: u32::try_from(position).ok(),
                    ..DeviceBoot::default()
                });
            }
        }
    }

    /// `-l comN,/dev/nmdmXA`: a serial port on an nmdm pair. Other LPC devices (`bootrom`)
    /// are not read back.
    fn read_lpc_device(&mut self, argument: &str) -> Result<(), Error> {
        let Some((device, path)) = argument.split_once(',') else {
            return Err(unreported_failure());
        };
        let device_bytes = device.as_bytes();
        if device_bytes.len() != 4 || !device.starts_with("com") {
            return Ok(());
        }
        if !path.starts_with("/dev/nmdm") {
            return Err(bhyve_error(
                ErrorNumber::OPERATION_FAILED,
                format!("Failed to set com port {device}: does not start with '/dev/nmdm'."),
            ));
        }
        // The other end of the pair differs only in its last letter.
        let slave = match path.as_bytes().last() {
            Some(b'A') => format!("{}B", &path[..path.len() - 1]),
            Some(b'B') => format!("{}A", &path[..path.len() - 1]),
            _ => {
                return Err(bhyve_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("Failed to set slave for {path}: last letter not 'A' or 'B'"),
                ))
            }
        };
        let port = match device_bytes[3] {
            b'1' => 0,
            b'2' => 1,
            _ => {
                return Err(bhyve_error(
                    ErrorNumber::OPERATION_FAILED,
                    format!("Failed to parse {device}: only com1 and com2 supported."),
                ))
            }
        };
        self.domain.devices.serials.push(ChrDevice {
            chr_type: Some(ChrType::Nmdm),
            sources: vec![ChrSource {
                master: Some(path.to_string()),
                slave: Some(slave),
                ..ChrSource::default()
            }],
            target: Some(ChrTarget {
                port: Some(port),
                ..ChrTarget::default()
            }),
            ..ChrDevice::default()
        });
        Ok(())
    }

    /// `-s SLOT,EMULATION[,CONF]`: disks, NICs and the framebuffer; other emulations are
    /// not read back.
    fn read_pci_device(&mut self, argument: &str) -> Result<(), Error> {
        let Some((slot, rest)) = argument.split_once(',') else {
            return Err(unreported_failure());
        };
        // libvirt looks for the comma ending the emulation from the emulation's second
        // character on.
        let (emulation, conf) = match rest.bytes().skip(1).position(|byte| byte == b',') {
            Some(offset) => (&rest[..offset + 1], Some(&rest[offset + 2..])),
            None => (rest, None),
        };
        let address = parse_pci_slot(slot).ok_or_else(unreported_failure)?;
        match emulation {
            "ahci-cd" => self.add_disk(address, DiskBus::Sata, DiskDevice::Cdrom, conf),
            "ahci-hd" => self.add_disk(address, DiskBus::Sata, DiskDevice::Disk, conf),
            "virtio-blk" => self.add_disk(address, DiskBus::Virtio, DiskDevice::Disk, conf),
            "virtio-net" => self.add_interface(address, "virtio", conf),
            "e1000" => self.add_interface(address, "e1000", conf),
            "fbuf" => self.add_framebuffer(conf),
            _ => {}
        }
        Ok(())
    }

    fn add_disk(
        &mut self,
        address: PciAddress,
        bus: DiskBus,
        device: DiskDevice,
        conf: Option<&str>,
    ) {
        // A disk without a path is dropped without a word, as libvirt does.
        let Some(conf) = conf else {
            return;
        };
        let (counter, prefix) = match bus {
            DiskBus::Sata => (&mut self.sata_disks, "sd"),
            _ => (&mut self.virtio_disks, "vd"),
        };
        let index = *counter;
        *counter += 1;
        let letter = match u8::try_from(index) {
            Ok(index) if u32::from(index) < DISKS_PER_BUS => char::from(b'a' + index),
            _ => {
                self.warn(bhyve_error(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    "too many disks",
                ));
                return;
            }
        };

        let path = conf.split(',').next().unwrap_or(conf).to_string();
        let (disk_type, source) = if conf.starts_with("/dev/") {
            (
                StorageType::Block,
                DiskSource {
                    dev: Some(path),
                    ..DiskSource::default()
                },
            )
        } else {
            (
                StorageType::File,
                DiskSource {
                    file: Some(path),
                    ..DiskSource::default()
                },
            )
        };
        self.domain.devices.disks.push(Disk {
            disk_type: Some(disk_type),
            device: Some(device),
            source: Some(source),
            target: Some(DiskTarget {
                dev: Some(format!("{prefix}{letter}")),
                bus: Some(bus),
                ..DiskTarget::default()
            }),
            info: pci_info(address),
            ..Disk::default()
        });
    }

    /// `virtio-net`/`e1000` on `tapN[,mac=MAC]`: a NIC on a bridge libvirt cannot know, so
    /// `virbr0` stands in.
    fn add_interface(&mut self, address: PciAddress, model: &str, conf: Option<&str>) {
        let Some(conf) = conf else {
            return;
        };
        if !conf.starts_with("tap") {
            self.warn(bhyve_error(
                ErrorNumber::CONFIG_UNSUPPORTED,
                "Only tap devices supported",
            ));
            return;
        }
        let (tap, options) = match conf.split_once(',') {
            Some((tap, options)) => (tap, Some(options)),
            None => (conf, None),
        };
        let mac = match options {
            None => self.defaults.mac,
            Some(options) => {
                let Some(text) = options.strip_prefix("mac=") else {
                    self.warn(bhyve_error(
                        ErrorNumber::CONFIG_UNSUPPORTED,
                        "Only mac option can be specified for virt-net",
                    ));
                    return;
                };
                // A bad MAC is reported but the NIC kept, with what was read of it.
                let mut mac = [0u8; 6];
                if !parse_libvirt_mac(text, &mut mac) {
                    self.warn(bhyve_error(
                        ErrorNumber::INTERNAL_ERROR,
                        format!("unable to parse mac address '{text}'"),
                    ));
                }
                mac
            }
        };
        self.domain.devices.interfaces.push(Interface {
            interface_type: Some(InterfaceType::Bridge),
            mac: Some(Mac {
                address: Some(format_mac(mac)),
                ..Mac::default()
            }),
            source: Some(InterfaceSource {
                bridge: Some("virbr0".to_string()),
                ..InterfaceSource::default()
            }),
            target: Some(InterfaceTarget {
                dev: Some(tap.to_string()),
                ..InterfaceTarget::default()
            }),
            model: Some(TypeAttr {
                value: Some(model.to_string()),
            }),
            info: pci_info(address),
            ..Interface::default()
        });
    }

    /// `fbuf`: a GOP video card and its VNC display. Anything in the configuration libvirt
    /// cannot read drops both, silently.
    fn add_framebuffer(&mut self, conf: Option<&str>) {
        if let Some((graphics, video)) = conf.and_then(framebuffer_from_conf) {
            self.domain.devices.graphics.push(graphics);
            self.domain.devices.videos.push(video);
        }
    }
}

/// A device's PCI address as given on the command line.
fn pci_info(address: PciAddress) -> DeviceInfo {
    DeviceInfo {
        address: Some(Address::Pci(address)),
        ..DeviceInfo::default()
    }
}

/// `slot[:function]` or `bus:slot:function`, in decimal. With more than three fields
/// libvirt settles on 0:0:0 (after checking the first three).
fn parse_pci_slot(text: &str) -> Option<PciAddress> {
    let mut values = Vec::with_capacity(3);
    let mut rest = text;
    let mut more_than_three = false;
    loop {
        let (field, next) = match rest.split_once(':') {
            Some((field, next)) => (field, Some(next)),
            None => (rest, None),
        };
        values.push(c_unsigned_int(field)?);
        match next {
            Some(_) if values.len() == 3 => {
                more_than_three = true;
                break;
            }
            Some(next) => rest = next,
            None => break,
        }
    }
    let (bus, slot, function) = match values.as_slice() {
        _ if more_than_three => (0, 0, 0),
        [slot] => (0, *slot, 0),
        [slot, function] => (0, *slot, *function),
        [bus, slot, function] => (*bus, *slot, *function),
        _ => (0, 0, 0),
    };
    Some(PciAddress {
        bus,
        slot,
        function,
        ..PciAddress::default()
    })
}

/// The `fbuf` settings: `vga=on|off|io`, `tcp=`/`rfb=[ADDR]:PORT`, `w=`, `h=`,
/// `password=`; others (`wait`) are ignored. `None` when a value does not parse.
fn framebuffer_from_conf(conf: &str) -> Option<(Graphics, Video)> {
    let mut vgaconf = None;
    let mut listens: Vec<GraphicsListen> = Vec::new();
    let mut port = 0;
    let mut resolution: Option<(u32, u32)> = None;
    let mut passwd = None;
    for param in conf.split(',') {
        match param {
            "vga=on" => vgaconf = Some("on"),
            "vga=off" => vgaconf = Some("off"),
            // `io` is libvirt's default, never written.
            "vga=io" => vgaconf = None,
            _ => {}
        }
        if let Some(endpoint) = param
            .strip_prefix("rfb=")
            .or_else(|| param.strip_prefix("tcp="))
        {
            let (address, port_text) = endpoint.split_once(':')?;
            // bhyve listens on localhost when no address is given.
            let address = if address.is_empty() {
                "127.0.0.1"
            } else {
                address
            };
            listens.push(GraphicsListen {
                listen_type: Some(GraphicsListenType::Address),
                address: Some(address.to_string()),
                ..GraphicsListen::default()
            });
            port = c_int(port_text)?;
        } else if let Some(width) = param.strip_prefix("w=") {
            resolution.get_or_insert((0, 0)).0 = c_unsigned_int_positive(width)?;
        } else if let Some(height) = param.strip_prefix("h=") {
            resolution.get_or_insert((0, 0)).1 = c_unsigned_int_positive(height)?;
        } else if let Some(password) = param.strip_prefix("password=") {
            passwd = Some(password.to_string());
        }
    }

    let video = Video {
        driver: vgaconf.map(|vgaconf| VideoDriver {
            vgaconf: Some(vgaconf.to_string()),
            ..VideoDriver::default()
        }),
        model: Some(VideoModelElement {
            model_type: Some(VideoModel::Gop),
            heads: Some(1),
            // libvirt writes the size only when both sides are known.
            resolution: resolution.map(|(x, y)| {
                let known = x != 0 && y != 0;
                VideoResolution {
                    x: known.then_some(x),
                    y: known.then_some(y),
                }
            }),
            ..VideoModelElement::default()
        }),
        // libvirt fills in the PCI numbers but not the address type, so none is shown.
        info: DeviceInfo::default(),
    };
    let graphics = Graphics {
        graphics_type: Some(GraphicsType::Vnc),
        port: (port != 0).then_some(port),
        autoport: Some(YesNo::No),
        listen: listens.first().and_then(|listen| listen.address.clone()),
        passwd,
        listens,
        ..Graphics::default()
    };
    Some((graphics, video))
}

// ---------------------------------------------------------------------------------------
// Values as libvirt (and FreeBSD's libc) read them
// ---------------------------------------------------------------------------------------

/// What C's `strto*` functions read at the start of a text: sign, magnitude (`None` when
/// it does not fit 64 bits) and what follows.
struct CInteger<'t> {
    negative: bool,
    magnitude: Option<u64>,
    rest: &'t str,
}

/// `strtoull`-style scan; `base` 0 picks hex for `0x`, octal for a leading 0, else decimal.
/// `None` when there are no digits.
fn scan_c_integer(text: &str, base: u32) -> Option<CInteger<'_>> {
    let text = text.trim_start_matches(is_c_space);
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let bytes = unsigned.as_bytes();
    let hex_prefix = bytes.len() > 2
        && bytes[0] == b'0'
        && matches!(bytes[1], b'x' | b'X')
        && bytes[2].is_ascii_hexdigit();
    let (radix, digits) = match base {
        0 | 16 if hex_prefix => (16, &unsigned[2..]),
        0 if unsigned.starts_with('0') => (8, unsigned),
        0 => (10, unsigned),
        other => (other, unsigned),
    };
    let length = digits
        .bytes()
        .take_while(|byte| char::from(*byte).is_digit(radix))
        .count();
    if length == 0 {
        return None;
    }
    let magnitude = digits[..length].bytes().try_fold(0u64, |value, byte| {
        let digit = char::from(byte).to_digit(radix).unwrap_or(0);
        value
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))
    });
    Some(CInteger {
        negative,
        magnitude,
        rest: &digits[length..],
    })
}

/// A whole decimal word as `strtoul` reads it, wrapping a negative value.
fn c_unsigned_long(text: &str) -> Option<u64> {
    let number = scan_c_integer(text, 10).filter(|number| number.rest.is_empty())?;
    let magnitude = number.magnitude?;
    Some(if number.negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// `virStrToLong_i`: a whole decimal word that fits an `int`.
fn c_int(text: &str) -> Option<i32> {
    let number = scan_c_integer(text, 10).filter(|number| number.rest.is_empty())?;
    let magnitude = i64::try_from(number.magnitude?).ok()?;
    i32::try_from(if number.negative {
        -magnitude
    } else {
        magnitude
    })
    .ok()
}

/// `virStrToLong_ui`: a whole decimal word that fits an `unsigned int`; `-N` wraps.
fn c_unsigned_int(text: &str) -> Option<u32> {
    let number = scan_c_integer(text, 10).filter(|number| number.rest.is_empty())?;
    let magnitude = u32::try_from(number.magnitude?).ok()?;
    Some(if number.negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    })
}

/// `virStrToLong_uip`: as [`c_unsigned_int`] but without a minus sign.
fn c_unsigned_int_positive(text: &str) -> Option<u32> {
    if text.trim_start_matches(is_c_space).starts_with('-') {
        return None;
    }
    c_unsigned_int(text)
}

/// FreeBSD's `expand_number`: a number (C notation: `0x`, leading 0) with an optional
/// `k`/`m`/`g`/`t`/`p`/`e` (or `b`) suffix in binary multiples. What follows the suffix
/// is not looked at.
fn expand_number(text: &str) -> Option<u64> {
    let number = scan_c_integer(text, 0)?;
    let magnitude = number.magnitude?;
    let value = if number.negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    let shift = match number
        .rest
        .bytes()
        .next()
        .map(|unit| unit.to_ascii_lowercase())
    {
        None | Some(b'b') => 0,
        Some(b'k') => 10,
        Some(b'm') => 20,
        Some(b'g') => 30,
        Some(b't') => 40,
        Some(b'p') => 50,
        Some(b'e') => 60,
        Some(_) => return None,
    };
    value.checked_mul(1u64 << shift)
}

/// bhyve's `-m`, in KiB: a plain number below 1 MiB counts MiB, otherwise bytes; with a
/// suffix, see [`expand_number`].
fn parse_memsize_kib(text: &str) -> Option<u64> {
    let bytes = match c_unsigned_long(text) {
        Some(mib) if mib < MEMSIZE_MIB_LIMIT => mib * 1024 * 1024,
        Some(bytes) => bytes,
        None => expand_number(text)?,
    };
    Some(bytes / 1024)
}

/// `virUUIDParse`: 32 hex digits in pairs, `-` or space allowed between pairs, whitespace
/// around.
fn parse_libvirt_uuid(text: &str) -> Option<Uuid> {
    let mut bytes = [0u8; 16];
    let mut chars = text.trim_start_matches(is_c_space).chars().peekable();
    let mut filled = 0;
    while filled < bytes.len() {
        let high = chars.next()?;
        if high == '-' || high == ' ' {
            continue;
        }
        let high = high.to_digit(16)?;
        let low = chars.next()?.to_digit(16)?;
        bytes[filled] = u8::try_from(high * 16 + low).ok()?;
        filled += 1;
    }
    if chars.all(is_c_space) {
        Some(Uuid::from_bytes(bytes))
    } else {
        None
    }
}

/// `virMacAddrParse`: six fields of one or two hex digits joined by `:`, the last followed
/// by the end or a control/space character. Fields read before a failure stay in `mac`.
fn parse_libvirt_mac(text: &str, mac: &mut [u8; 6]) -> bool {
    let bytes = text.as_bytes();
    let mut position = 0;
    for (field, byte) in mac.iter_mut().enumerate() {
        let digits = bytes[position..]
            .iter()
            .take_while(|byte| byte.is_ascii_hexdigit())
            .count();
        if digits == 0 || digits > 2 {
            return false;
        }
        let mut value = 0u8;
        for digit in &bytes[position..position + digits] {
            value = value * 16 + char::from(*digit).to_digit(16).map_or(0, |d| d as u8);
        }
        *byte = value;
        position += digits;
        match bytes.get(position) {
            // C compares a signed `char`: bytes from 0x80 count as below ' ' too.
            None => return field == 5,
            Some(next) if field == 5 && (*next <= b' ' || *next >= 0x80) => return true,
            Some(b':') => position += 1,
            Some(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libvirt's test mocks.
    fn mocked_defaults() -> NativeDefaults {
        NativeDefaults {
            uuid: Uuid::from_bytes([
                0xc7, 0xa5, 0xfd, 0xbd, 0xed, 0xaf, 0x94, 0x55, 0x92, 0x6a, 0xd6, 0x5c, 0x16, 0xdb,
                0x18, 0x09,
            ]),
            mac: [0x52, 0x54, 0x00, 0x00, 0x00, 0x00],
        }
    }

    fn parse(text: &str) -> (Result<Domain, Error>, Vec<String>) {
        let mut warnings = Vec::new();
        let result = domain_from_argv(text, &mocked_defaults(), &mut warnings);
        (result, warnings)
    }

    /// Cases whose parse libvirt expects to log a warning (the rest must log none).
    const WARNING_CASES: &[&str] = &["virtio-net2", "virtio-net3", "virtio-net4", "disk-toomany"];

    #[test]
    fn libvirt_argv2xml_goldens() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/libvirt-testdata/bhyveargv2xmldata");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            println!("skipping: no golden files at {}", dir.display());
            return;
        };
        let mut cases: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let file = entry.file_name().to_string_lossy().into_owned();
                file.strip_prefix("bhyveargv2xml-")?
                    .strip_suffix(".args")
                    .map(str::to_string)
            })
            .collect();
        cases.sort();

        let mut matched = 0;
        for case in &cases {
            let read = |ext: &str| {
                std::fs::read_to_string(dir.join(format!("bhyveargv2xml-{case}.{ext}"))).ok()
            };
            let args = read("args").expect("an .args file just listed");
            let (result, warnings) = parse(&args);
            let problem = match (read("xml"), result) {
                (None, Ok(_)) => Some("parsed, but libvirt fails".to_string()),
                (None, Err(_)) => None,
                (Some(_), Err(error)) => Some(format!("failed: {error:?}")),
                (Some(expected), Ok(domain)) => {
                    let actual = domain.to_xml();
                    if actual.trim_end_matches('\n') != expected.trim_end_matches('\n') {
                        Some(format!("output differs:\n{actual}\nexpected:\n{expected}"))
                    } else if warnings.is_empty() == WARNING_CASES.contains(&case.as_str()) {
                        Some(format!("unexpected warnings: {warnings:?}"))
                    } else {
                        None
                    }
                }
            };
            match problem {
                Some(problem) => println!("FAIL {case}: {problem}"),
                None => matched += 1,
            }
        }
        println!("{matched}/{} cases match", cases.len());
        assert_eq!(matched, cases.len());
    }

    #[test]
    fn reads_options_disks_and_nics() {
        let text = "/usr/sbin/bhyve -A -u -c 2 -w -m 1G -s 0,hostbridge \\\n\
                    -s 3,ahci-cd,/dev/cd0 -s 1:4:2,virtio-net,tap7,mac=02:0:0:0:0:a \\\n\
                    -s 5,ahci-hd,/images/root.img,nocache demo";
        let (result, warnings) = parse(text);
        let domain = result.expect("a valid command line");
        assert!(warnings.is_empty());
        assert_eq!(domain.name(), "demo");
        assert_eq!(domain.max_vcpus(), 2);
        assert_eq!(domain.memory_kib(), 1024 * 1024);
        assert_eq!(
            domain.clock.as_ref().and_then(|clock| clock.offset),
            Some(ClockOffset::Utc)
        );
        let disks = &domain.devices.disks;
        assert_eq!(disks.len(), 2);
        assert_eq!(disks[0].disk_type, Some(StorageType::Block));
        assert_eq!(disks[0].target_dev(), Some("sda"));
        assert_eq!(disks[1].source_path(), Some("/images/root.img"));
        assert_eq!(disks[1].target_dev(), Some("sdb"));
        let nic = &domain.devices.interfaces[0];
        assert_eq!(nic.mac_address(), Some("02:00:00:00:00:0a"));
        let xml = domain.to_xml();
        assert!(xml.contains(
            "<address type='pci' domain='0x0000' bus='0x01' slot='0x04' function='0x2'/>"
        ));
        assert!(xml.contains("<target dev='tap7'/>"));
    }

    #[test]
    fn keeps_custom_loader_and_quoted_words() {
        let text = "/usr/local/sbin/grub-bhyve -r 'hd0,msdos1' -M 512 vm\n\
                    /usr/sbin/bhyve -m 512 -s 2,virtio-blk,/vm/disk0 vm\n";
        let (result, _) = parse(text);
        let domain = result.expect("a valid command line");
        assert_eq!(
            domain.bootloader.as_deref(),
            Some("/usr/local/sbin/grub-bhyve")
        );
        assert_eq!(
            domain.bootloader_args.as_deref(),
            Some("-r hd0,msdos1 -M 512 vm")
        );
        assert_eq!(domain.current_memory_kib(), 512 * 1024);
    }

    #[test]
    fn refuses_what_libvirt_refuses() {
        let failure = |text: &str| parse(text).0.expect_err("libvirt refuses this");
        let error = failure("/usr/bin/true\n");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
        assert_eq!(error.domain(), ErrorDomain::BHYVE);

        let error = failure("/usr/sbin/bhyve -c vm");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(error.message().contains("Missing argument for '-c'"));

        let error = failure("/usr/sbin/bhyve -l com3,/dev/nmdm3A vm");
        assert!(error.message().contains("only com1 and com2"));

        let error = failure("/usr/sbin/bhyveload -m 64 -d /x one\n/usr/sbin/bhyve -m 64 two");
        assert!(error.message().contains("VM name mismatch"));

        // A VNC display without an address cannot be formatted by libvirt.
        let error = failure("/usr/sbin/bhyve -s 2,fbuf,vga=on vm");
        assert_eq!(error.domain(), ErrorDomain::DOMAIN);
    }

    #[test]
    fn drops_or_keeps_bad_nics_with_a_warning() {
        let text = "/usr/sbin/bhyve -s 1,e1000,vmnet0 -s 2,e1000,tap0,ring=1 \
                    -s 3,virtio-net,tap1,mac=12:34:zz vm";
        let (result, warnings) = parse(text);
        let domain = result.expect("bad NICs are not fatal");
        assert_eq!(warnings.len(), 3);
        assert_eq!(domain.devices.interfaces.len(), 1);
        assert_eq!(
            domain.devices.interfaces[0].mac_address(),
            Some("12:34:00:00:00:00")
        );
    }
}
