//! The device half of libvirt's define-time steps: what its parser fills in while reading a
//! device (chardev source modes, VNC ports and listens, guest CPU mode and fallback, NUMA
//! cell ids, per-thread scheduler entries, disk buses and their order) and what
//! `virDomainDefPostParseCommon` adds afterwards (the console that aliases the first serial
//! port, the controllers disks and virtio consoles sit on, a video device for a display,
//! the primary video's memory).
//!
//! Every step leaves a document libvirt wrote unchanged, so running it twice, or on a stored
//! definition, changes nothing; implicit devices are added only when missing.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::domain::address::{Address, UsbMaster};
use crate::domain::checks::parse_id_set;
use crate::domain::chr::{ChrDevice, ChrSource};
use crate::domain::devices::{Controller, Video, VideoModelElement};
use crate::domain::enums::*;
use crate::domain::general::ThreadSched;
use crate::domain::interface::TypeAttr;
use crate::domain::postparse::{disk_name_to_index, PostParseDriver};
use crate::domain::Domain;
use crate::xml::YesNo;
use crate::Result;

/// The highest controller index a drive address may make the parser add controllers up to.
/// libvirt adds every controller from 0 to the highest index a disk's address (or its target
/// name: `sdiotunea` is index 2.5 billion) names, so without a bound one short definition
/// asks for hundreds of millions of controllers and exhausts memory. 1023 is far above what
/// a guest can use (libvirt's own tests go up to 4) and keeps the work small.
const MAX_IMPLICIT_DRIVE_CONTROLLER: u32 = 1023;

fn check_implicit_drive_controller(index: u32) -> Result<()> {
    if index > MAX_IMPLICIT_DRIVE_CONTROLLER {
        return Err(unsupported(format!(
            "drive address controller index {index} too high, maximum is {MAX_IMPLICIT_DRIVE_CONTROLLER}"
        )));
    }
    Ok(())
}

fn xml_error(message: impl AsRef<str>) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::DOMAIN, message)
}

fn unsupported(message: impl AsRef<str>) -> Error {
    Error::new(
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::DOMAIN,
        message,
    )
}

/// The source of a character backend as libvirt reads and writes it back: one `<source>`
/// (two for UDP), TCP and UNIX sockets with an explicit `mode`, TCP with a `<protocol>`, a
/// UNIX socket without a path and a PTY (inactive) without a source element.
fn canonical_chr_source(
    kind: Option<ChrType>,
    sources: &mut Vec<ChrSource>,
    protocol: &mut Option<TypeAttr>,
) -> Result<()> {
    let Some(kind) = kind else {
        return Ok(());
    };
    if sources.len() > 1 && kind != ChrType::Udp {
        return Err(xml_error(
            "only one source element is allowed for character device",
        ));
    }
    if sources.len() > 2 {
        return Err(xml_error(
            "only two source elements are allowed for character device",
        ));
    }
    if let Some(reconnect) = sources.first().and_then(|source| source.reconnect.as_ref()) {
        if reconnect.enabled.is_some_and(YesNo::is_yes) && reconnect.timeout.is_none() {
            return Err(xml_error(
                "Missing required attribute 'timeout' in element 'reconnect'",
            ));
        }
    }
    match kind {
        ChrType::Tcp => {
            let source = if sources.is_empty() {
                sources.push(ChrSource::default());
                &mut sources[0]
            } else {
                &mut sources[0]
            };
            if source.mode.as_deref() != Some("bind") {
                source.mode = Some("connect".into());
            }
            let protocol = protocol.get_or_insert_with(TypeAttr::default);
            protocol.value.get_or_insert_with(|| "raw".into());
        }
        ChrType::Unix => {
            if let Some(source) = sources.first_mut() {
                if source.path.is_none() {
                    sources.clear();
                } else if source.mode.as_deref() != Some("bind") {
                    source.mode = Some("connect".into());
                }
            }
        }
        ChrType::Udp => {
            // The first source of each mode counts; libvirt writes `bind` before `connect`.
            let mut bind = None;
            let mut connect = None;
            for source in sources.drain(..) {
                let is_bind = source.mode.as_deref() == Some("bind");
                let slot = if is_bind { &mut bind } else { &mut connect };
                if slot.is_none() {
                    *slot = Some(source);
                }
            }
            let keep = |source: &ChrSource| source.host.is_some() || source.service.is_some();
            if let Some(mut source) = bind.filter(keep) {
                source.mode = Some("bind".into());
                sources.push(source);
            }
            if let Some(mut source) = connect.filter(keep) {
                source.mode = Some("connect".into());
                sources.push(source);
            }
        }
        _ => {}
    }
    if kind != ChrType::Tcp {
        *protocol = None;
    }
    Ok(())
}

/// One resource-control group libvirt builds from `<cachetune>`/`<memorytune>` elements
/// with the same vcpus.
struct ResctrlGroup {
    vcpus: Vec<u32>,
    bandwidth_nodes: Vec<u32>,
}

impl Domain {
    /// Cache and memory bandwidth allocations as libvirt reads them: each group of vcpus is
    /// allocated once (a `<memorytune>` may join the `<cachetune>` of the same vcpus), groups
    /// do not overlap, a cache is not allocated twice, nor a node's bandwidth.
    pub(crate) fn check_resctrl(&self) -> Result<()> {
        let Some(cputune) = self.cputune.as_ref() else {
            return Ok(());
        };
        let max_vcpus = self.max_vcpus();
        let vcpus_of = |text: Option<&String>| -> Vec<u32> {
            let mut ids = text.map(|text| parse_id_set(text)).unwrap_or_default();
            ids.retain(|id| *id < max_vcpus);
            ids
        };
        // The group with exactly these vcpus, or an error if another one overlaps them.
        fn find(groups: &[ResctrlGroup], vcpus: &[u32]) -> Result<Option<usize>> {
            for (idx, group) in groups.iter().enumerate() {
                if group.vcpus == vcpus {
                    return Ok(Some(idx));
                }
                if group.vcpus.iter().any(|id| vcpus.contains(id)) {
                    return Err(xml_error("Overlapping vcpus in resctrls"));
                }
            }
            Ok(None)
        }
        let mut groups: Vec<ResctrlGroup> = Vec::new();
        for cachetune in &cputune.cachetunes {
            let vcpus = vcpus_of(cachetune.vcpus.as_ref());
            if vcpus.is_empty() {
                continue;
            }
            if find(&groups, &vcpus)?.is_some() {
                return Err(xml_error("Identical vcpus in cachetunes found"));
            }
            let mut caches: Vec<(u32, String, u32)> = Vec::new();
            for cache in &cachetune.caches {
                let level = cache.level.unwrap_or(0);
                let id = cache.id.unwrap_or(0);
                let kind = cache.cache_type.clone().unwrap_or_default();
                let collides = caches.iter().any(|(other_level, other_kind, other_id)| {
                    *other_level == level
                        && *other_id == id
                        && (other_kind == "both" || kind == "both" || *other_kind == kind)
                });
                if collides {
                    return Err(xml_error(format!(
                        "Colliding cache allocations for cache level '{level}' id '{id}', type '{kind}'"
                    )));
                }
                caches.push((level, kind, id));
            }
            if !caches.is_empty() || !cachetune.monitors.is_empty() {
                groups.push(ResctrlGroup {
                    vcpus,
                    bandwidth_nodes: Vec::new(),
                });
            }
        }
        for memorytune in &cputune.memorytunes {
            let vcpus = vcpus_of(memorytune.vcpus.as_ref());
            if vcpus.is_empty() {
                continue;
            }
            let existing = find(&groups, &vcpus)?;
            let mut nodes =
                existing.map_or_else(Vec::new, |idx| groups[idx].bandwidth_nodes.clone());
            for node in &memorytune.nodes {
                let id = node.id.unwrap_or(0);
                if node.bandwidth.unwrap_or(0) > 100 {
                    return Err(xml_error(
                        "Memory Bandwidth value exceeding 100 is invalid.",
                    ));
                }
                if nodes.contains(&id) {
                    return Err(xml_error(format!(
                        "Memory Bandwidth already defined for node {id}"
                    )));
                }
                nodes.push(id);
            }
            match existing {
                Some(idx) => groups[idx].bandwidth_nodes = nodes,
                None if !memorytune.nodes.is_empty() || !memorytune.monitors.is_empty() => groups
                    .push(ResctrlGroup {
                        vcpus,
                        bandwidth_nodes: nodes,
                    }),
                None => {}
            }
        }
        Ok(())
    }

    /// Character devices and the backends other devices embed, as libvirt reads them
    /// (see [`canonical_chr_source`]); console ports are their position, serial and parallel
    /// ports without a number take the next free one, a console without a target type gets
    /// the driver's, else is a serial console.
    pub(crate) fn post_parse_chardevs(&mut self, driver: &dyn PostParseDriver) -> Result<()> {
        // Without the driver's answer, libvirt's generic `serial`; except for LXC
        // containers, whose driver decides (`lxc`) in its own post-parse, which in rvirt runs
        // after this one while libvirt asks it first.
        let console_target = driver
            .default_console_target_type(self)
            .or((self.virt_type != Some(VirtType::Lxc)).then_some("serial"));
        let devices = &mut self.devices;
        for chr in devices
            .serials
            .iter_mut()
            .chain(devices.parallels.iter_mut())
            .chain(devices.consoles.iter_mut())
            .chain(devices.channels.iter_mut())
        {
            // A character device without a type is a PTY.
            chr.chr_type.get_or_insert(ChrType::Pty);
            canonical_chr_source(chr.chr_type, &mut chr.sources, &mut chr.protocol)?;
        }
        for redirdev in &mut devices.redirdevs {
            // A D-Bus redirection uses QEMU's usbredir channel unless told otherwise.
            if redirdev.chr_type == Some(ChrType::Dbus)
                && redirdev
                    .sources
                    .first()
                    .is_none_or(|source| source.channel.is_none())
            {
                let source = match redirdev.sources.first_mut() {
                    Some(source) => source,
                    None => {
                        redirdev.sources.push(ChrSource::default());
                        &mut redirdev.sources[0]
                    }
                };
                source.channel = Some("org.qemu.usbredir".into());
            }
            canonical_chr_source(
                redirdev.chr_type,
                &mut redirdev.sources,
                &mut redirdev.protocol,
            )?;
        }
        for smartcard in &mut devices.smartcards {
            canonical_chr_source(
                smartcard.chr_type,
                &mut smartcard.sources,
                &mut smartcard.protocol,
            )?;
        }
        for rng in &mut devices.rngs {
            if let Some(backend) = rng.backend.as_mut() {
                if backend.model == Some(RngBackend::Egd) {
                    canonical_chr_source(
                        backend.chr_type,
                        &mut backend.sources,
                        &mut backend.protocol,
                    )?;
                }
            }
        }
        for (position, console) in devices.consoles.iter_mut().enumerate() {
            let target = console.target.get_or_insert_with(Default::default);
            target.port = Some(position as u32);
            if target.target_type.is_none() {
                target.target_type = console_target.map(str::to_string);
            }
        }
        for list in [&mut devices.serials, &mut devices.parallels] {
            for idx in 0..list.len() {
                if list[idx].target_port().is_some() {
                    continue;
                }
                let next = list
                    .iter()
                    .filter_map(ChrDevice::target_port)
                    .max()
                    .map_or(0, |max| max + 1);
                list[idx].target.get_or_insert_with(Default::default).port = Some(next);
            }
        }
        Ok(())
    }

    /// `virDomainDefAddConsoleCompat`: in an HVM guest the first console, when it is a
    /// serial console, is an alias of the first serial port (created from it if there is
    /// none), and a plain serial port gets such a console. libvirt writes each aliasing
    /// console as a copy of its serial port.
    pub(crate) fn add_console_compat(&mut self) -> Result<()> {
        let devices = &mut self.devices;
        if devices
            .consoles
            .iter()
            .skip(1)
            .any(|console| console.target_type() == Some("serial"))
        {
            return Err(unsupported("Only the first console can be a serial port"));
        }
        if self.os.as_ref().and_then(|os| os.kind()) != Some(OsType::Hvm) {
            return Ok(());
        }
        let first_is_serial = devices
            .consoles
            .first()
            .is_some_and(|console| matches!(console.target_type(), None | Some("serial")));
        if first_is_serial {
            if devices.serials.is_empty() {
                let mut serial = devices.consoles[0].clone();
                let target = serial.target.get_or_insert_with(Default::default);
                target.target_type = None;
                target.port = Some(0);
                devices.serials.push(serial);
            }
        } else if let Some(serial) = devices.serials.first() {
            let stub_wanted = matches!(
                serial.target_type(),
                None | Some("isa-serial")
                    | Some("spapr-vio-serial")
                    | Some("system-serial")
                    | Some("sclp-serial")
            );
            if stub_wanted {
                devices.consoles.insert(0, ChrDevice::default());
            }
        }
        let n_serials = devices.serials.len();
        for (position, console) in devices.consoles.iter_mut().enumerate() {
            if position >= n_serials || !matches!(console.target_type(), None | Some("serial")) {
                continue;
            }
            let serial = &devices.serials[position];
            console.chr_type = serial.chr_type;
            console.tty = serial.tty.clone();
            console.sources = serial.sources.clone();
            console.protocol = serial.protocol.clone();
            console.log = serial.log.clone();
            let target = console.target.get_or_insert_with(Default::default);
            target.target_type = Some("serial".into());
            target.port = serial.target_port();
            target.model = None;
            target.address = None;
            target.name = None;
            target.state = None;
        }
        Ok(())
    }

    /// `<graphics>` listens as libvirt reads them: the legacy `listen`/`socket` attributes
    /// become (or must agree with) the first `<listen>`, a display without any listens on
    /// the default address, VNC's port is `-1` with `autoport='yes'` unless a fixed port is
    /// given, and a SPICE display with no ports and no autoport listens nowhere.
    pub(crate) fn post_parse_graphics(&mut self) -> Result<()> {
        use crate::domain::devices::GraphicsListen;
        for graphics in &mut self.devices.graphics {
            let Some(kind) = graphics.graphics_type else {
                continue;
            };
            if !matches!(
                kind,
                GraphicsType::Vnc | GraphicsType::Spice | GraphicsType::Rdp
            ) {
                continue;
            }
            let listen_attr = graphics.listen.clone().filter(|text| !text.is_empty());
            let socket_attr = if kind == GraphicsType::Vnc {
                graphics.socket.clone()
            } else {
                None
            };
            for (position, listen) in graphics.listens.iter_mut().enumerate() {
                let kind_of_listen = listen.listen_type;
                if kind_of_listen == Some(GraphicsListenType::Network)
                    && listen.network.as_deref().is_none_or(str::is_empty)
                {
                    return Err(xml_error(
                        "'network' attribute is required for listen type 'network'",
                    ));
                }
                if position != 0 {
                    continue;
                }
                match kind_of_listen {
                    Some(GraphicsListenType::Address) => {
                        agree_with_compat(&mut listen.address, &listen_attr, "listen", "address")?
                    }
                    Some(GraphicsListenType::Socket) => {
                        agree_with_compat(&mut listen.socket, &socket_attr, "socket", "socket")?
                    }
                    _ => {}
                }
            }
            let compat_listen = match &socket_attr {
                Some(socket) => GraphicsListen {
                    listen_type: Some(GraphicsListenType::Socket),
                    socket: Some(socket.clone()),
                    ..Default::default()
                },
                None => GraphicsListen {
                    listen_type: Some(GraphicsListenType::Address),
                    address: listen_attr.clone(),
                    ..Default::default()
                },
            };
            match graphics.listens.first() {
                None => graphics.listens.push(compat_listen),
                Some(first)
                    if socket_attr.is_some()
                        && matches!(
                            first.listen_type,
                            Some(GraphicsListenType::Address | GraphicsListenType::Network)
                        ) =>
                {
                    graphics.listens[0] = compat_listen;
                }
                Some(_) => {}
            }
            if kind == GraphicsType::Spice {
                let mut port = graphics.port.unwrap_or(0);
                let mut tls_port = graphics.tls_port.unwrap_or(0);
                let autoport =
                    graphics.autoport.is_some_and(YesNo::is_yes) || (port == -1 && tls_port == -1);
                if autoport {
                    port = 0;
                    tls_port = 0;
                }
                let first = &mut graphics.listens[0];
                if first.listen_type == Some(GraphicsListenType::Address)
                    && port == 0
                    && tls_port == 0
                    && !autoport
                {
                    first.address = None;
                    first.listen_type = Some(GraphicsListenType::None);
                }
                let on_network = matches!(
                    first.listen_type,
                    Some(GraphicsListenType::Address | GraphicsListenType::Network)
                );
                if on_network {
                    graphics.port = (port != 0).then_some(port);
                    graphics.tls_port = (tls_port != 0).then_some(tls_port);
                    graphics.autoport = Some(if autoport { YesNo::Yes } else { YesNo::No });
                } else {
                    graphics.port = None;
                    graphics.tls_port = None;
                    graphics.autoport = None;
                }
            }
            // The legacy attributes mirror the first listen.
            let first = &graphics.listens[0];
            graphics.listen = match first.listen_type {
                Some(GraphicsListenType::Address | GraphicsListenType::Network) => {
                    first.address.clone()
                }
                _ => None,
            };
            if kind == GraphicsType::Vnc {
                graphics.socket = match first.listen_type {
                    Some(GraphicsListenType::Socket) => first.socket.clone(),
                    _ => None,
                };
                let on_network = matches!(
                    first.listen_type,
                    Some(GraphicsListenType::Address | GraphicsListenType::Network)
                );
                let mut port = graphics.port.unwrap_or(0);
                let mut autoport = graphics.port.is_none() || port == -1;
                if port == -1 {
                    port = 0;
                }
                if let Some(given) = graphics.autoport {
                    autoport = given.is_yes();
                }
                if autoport {
                    port = 0;
                }
                if on_network {
                    graphics.port = if port != 0 && !autoport {
                        Some(port)
                    } else if autoport {
                        Some(-1)
                    } else {
                        None
                    };
                    graphics.autoport = Some(if autoport { YesNo::Yes } else { YesNo::No });
                } else {
                    graphics.port = None;
                    graphics.autoport = None;
                }
            }
        }
        Ok(())
    }

    /// The guest CPU as libvirt writes it back: a CPU with a model is `mode='custom'`
    /// `match='exact'` unless told otherwise, its model falls back (`fallback='allow'`); a
    /// CPU giving only topology or NUMA cells has no mode; host-passthrough and maximum CPUs
    /// carry no model.
    pub(crate) fn post_parse_cpu(&mut self) {
        let Some(cpu) = self.cpu.as_mut() else {
            return;
        };
        if cpu.mode.is_none() {
            cpu.mode = Some("custom".into());
        }
        let mode = cpu.mode.clone().unwrap_or_default();
        let has_model_name = cpu.model_name().is_some();
        if mode == "custom" && !has_model_name {
            cpu.mode = None;
            cpu.match_policy = None;
            cpu.check = None;
            cpu.migratable = None;
        } else if mode == "custom" && cpu.match_policy.is_none() {
            cpu.match_policy = Some("exact".into());
        }
        if mode == "host-passthrough" || mode == "maximum" {
            cpu.model = None;
            cpu.vendor = None;
            return;
        }
        if let Some(model) = cpu.model.as_mut() {
            if model.name.is_some() {
                model.fallback.get_or_insert_with(|| "allow".into());
            } else if model.vendor_id.is_none() {
                cpu.model = None;
            } else {
                model.fallback = None;
            }
        }
        if let Some(numa) = cpu.numa.as_mut() {
            for (position, cell) in numa.cells.iter_mut().enumerate() {
                cell.id.get_or_insert(position as u32);
            }
            numa.cells.sort_by_key(|cell| cell.id);
        }
    }

    /// `<numatune>` as libvirt reads it: node sets written canonically, memory `strict`
    /// unless told otherwise, placement `static` with a node set and `auto` without one
    /// (or when the vCPUs are placed automatically), and vCPUs placed automatically when
    /// their memory is and nothing pins them.
    pub(crate) fn post_parse_numatune(&mut self) -> Result<()> {
        use crate::domain::cpu::{Numatune, NumatuneMemory};
        let vcpu_placement_static = self
            .vcpu
            .as_ref()
            .and_then(|vcpu| vcpu.placement)
            .is_none_or(|placement| placement == CpuPlacement::Static);
        let canonical = |text: &str| format_id_set(&parse_id_set(text));
        let memory_given = self.numatune.as_ref().and_then(|n| n.memory.clone());
        let memory = match memory_given {
            Some(memory) => {
                let nodeset = memory.nodeset.as_deref().map(canonical);
                if memory.mode.is_none() && memory.placement.is_none() && nodeset.is_none() {
                    None
                } else {
                    let placement = match memory.placement.as_deref() {
                        Some("static") | Some("auto") => memory.placement.clone(),
                        _ if nodeset.is_some() || vcpu_placement_static => Some("static".into()),
                        _ => Some("auto".into()),
                    };
                    if placement.as_deref() == Some("static") && nodeset.is_none() {
                        return Err(unsupported(
                            "nodeset for NUMA memory tuning must be set if 'placement' is 'static'",
                        ));
                    }
                    let auto = placement.as_deref() == Some("auto");
                    Some(NumatuneMemory {
                        mode: Some(memory.mode.unwrap_or_else(|| "strict".into())),
                        nodeset: if auto { None } else { nodeset },
                        placement: if auto { placement } else { None },
                    })
                }
            }
            None if !vcpu_placement_static => Some(NumatuneMemory {
                mode: Some("strict".into()),
                nodeset: None,
                placement: Some("auto".into()),
            }),
            None => None,
        };
        let placement_auto = memory
            .as_ref()
            .is_some_and(|memory| memory.placement.as_deref() == Some("auto"));
        if memory.is_some() || self.numatune.is_some() {
            let numatune = self.numatune.get_or_insert_with(Numatune::default);
            numatune.memory = memory;
            for memnode in &mut numatune.memnodes {
                if let Some(nodeset) = memnode.nodeset.as_mut() {
                    *nodeset = canonical(nodeset);
                }
                memnode.mode.get_or_insert_with(|| "strict".into());
            }
        }
        let pinned = self.vcpu.as_ref().is_some_and(|vcpu| vcpu.cpuset.is_some())
            || self.cputune.as_ref().is_some_and(|cputune| {
                !cputune.vcpupins.is_empty()
                    || cputune.emulatorpin.is_some()
                    || !cputune.iothreadpins.is_empty()
            });
        if placement_auto && !pinned {
            self.vcpu.get_or_insert_with(Default::default).placement = Some(CpuPlacement::Auto);
        }
        Ok(())
    }

    /// `<iothreadids>` naming fewer threads than `<iothreads>` counts are completed with the
    /// lowest free ids (`virDomainIOThreadIDDefArrayInit`); with no ids given, none are
    /// written.
    pub(crate) fn post_parse_iothreads(&mut self) {
        let Some(ids) = self.iothreadids.as_mut() else {
            return;
        };
        if ids.iothreads.is_empty() {
            return;
        }
        let wanted = self.iothreads.unwrap_or(0) as usize;
        let mut candidate = 1;
        while ids.iothreads.len() < wanted {
            while ids
                .iothreads
                .iter()
                .any(|thread| thread.id == Some(candidate))
            {
                candidate += 1;
            }
            ids.iothreads.push(crate::domain::general::IothreadId {
                id: Some(candidate),
                ..Default::default()
            });
        }
    }

    /// `<vcpusched>` and `<iothreadsched>` hold one thread each once libvirt has read them,
    /// in thread order; a real-time policy needs a priority, and no thread is scheduled
    /// twice.
    pub(crate) fn post_parse_thread_scheds(&mut self) -> Result<()> {
        let Some(cputune) = self.cputune.as_mut() else {
            return Ok(());
        };
        struct Kind {
            element: &'static str,
            attribute: &'static str,
            ids_of: fn(&ThreadSched) -> Option<&String>,
            with_id: fn(u32) -> ThreadSched,
        }
        fn split(scheds: &mut Vec<ThreadSched>, kind: &Kind) -> Result<()> {
            let (element, attribute) = (kind.element, kind.attribute);
            let mut per_thread: Vec<(u32, ThreadSched)> = Vec::new();
            for sched in scheds.drain(..) {
                let Some(text) = (kind.ids_of)(&sched) else {
                    return Err(xml_error(format!(
                        "Missing attribute '{attribute}' in element '{element}'"
                    )));
                };
                let ids = parse_id_set(text);
                if ids.is_empty() {
                    return Err(unsupported(format!(
                        "'{attribute}' scheduler bitmap '{text}' is empty"
                    )));
                }
                let Some(scheduler) = sched.scheduler.clone() else {
                    return Err(xml_error(format!(
                        "Missing required attribute 'scheduler' in element '{element}'"
                    )));
                };
                let realtime = matches!(scheduler.as_str(), "fifo" | "rr");
                if realtime && sched.priority.is_none() {
                    return Err(xml_error(format!(
                        "Missing required attribute 'priority' in element '{element}'"
                    )));
                }
                for id in ids {
                    if per_thread.iter().any(|(other, _)| *other == id) {
                        return Err(Error::new(
                            ErrorNumber::XML_DETAIL,
                            ErrorDomain::DOMAIN,
                            format!("'{element}' attributes '{attribute}' must not overlap"),
                        ));
                    }
                    let mut one = (kind.with_id)(id);
                    one.scheduler = Some(scheduler.clone());
                    one.priority = if realtime { sched.priority } else { None };
                    per_thread.push((id, one));
                }
            }
            per_thread.sort_by_key(|(id, _)| *id);
            scheds.extend(per_thread.into_iter().map(|(_, sched)| sched));
            Ok(())
        }
        split(
            &mut cputune.vcpuscheds,
            &Kind {
                element: "vcpusched",
                attribute: "vcpus",
                ids_of: |sched| sched.vcpus.as_ref(),
                with_id: |id| ThreadSched {
                    vcpus: Some(id.to_string()),
                    ..Default::default()
                },
            },
        )?;
        split(
            &mut cputune.iothreadscheds,
            &Kind {
                element: "iothreadsched",
                attribute: "iothreads",
                ids_of: |sched| sched.iothreads.as_ref(),
                with_id: |id| ThreadSched {
                    iothreads: Some(id.to_string()),
                    ..Default::default()
                },
            },
        )?;
        // Allocation ids are the running domain's; an inactive definition has none.
        for cachetune in &mut cputune.cachetunes {
            cachetune.id = None;
        }
        for memorytune in &mut cputune.memorytunes {
            memorytune.id = None;
        }
        Ok(())
    }

    /// Disks are `device='disk'` unless told otherwise, their bus follows the target name
    /// (`hd` IDE, `sd` SCSI, `vd` virtio, `xvd` Xen, `ubd` UML, floppies FDC), and they are
    /// kept grouped by the bus they were given, in target order (`virDomainDiskInsert`).
    pub(crate) fn post_parse_disks(&mut self) -> Result<()> {
        // libvirt's parser refuses a disk without a target before anything else.
        if let Some(disk) = self
            .devices
            .disks
            .iter()
            .find(|disk| disk.target_dev().is_none())
        {
            return Err(Error::new(
                ErrorNumber::NO_TARGET,
                ErrorDomain::DOMAIN,
                disk.source_path().unwrap_or(""),
            ));
        }
        let disks = std::mem::take(&mut self.devices.disks);
        let name_index = |disk: &crate::domain::Disk| -> i64 {
            disk.target_dev()
                .and_then(disk_name_to_index)
                .map_or(-1, i64::from)
        };
        let mut sorted: Vec<crate::domain::Disk> = Vec::with_capacity(disks.len());
        for disk in disks {
            let mut insert_at: Option<usize> = None;
            for position in (0..sorted.len()).rev() {
                let other = &sorted[position];
                if other.target_bus() != disk.target_bus() {
                    continue;
                }
                let both_named = other.target_dev().is_some() && disk.target_dev().is_some();
                if both_named && name_index(other) > name_index(&disk) {
                    insert_at = Some(position);
                } else if insert_at.is_none() {
                    insert_at = Some(position + 1);
                }
            }
            match insert_at {
                Some(position) => sorted.insert(position, disk),
                None => sorted.push(disk),
            }
        }
        for disk in &mut sorted {
            let device = *disk.device.get_or_insert(DiskDevice::Disk);
            if disk.target_bus().is_some() {
                continue;
            }
            let dst = disk.target_dev().unwrap_or("").to_string();
            let bus = if device == DiskDevice::Floppy {
                DiskBus::Fdc
            } else if dst.starts_with("sd") {
                DiskBus::Scsi
            } else if dst.starts_with("vd") {
                DiskBus::Virtio
            } else if dst.starts_with("xvd") {
                DiskBus::Xen
            } else if dst.starts_with("ubd") {
                DiskBus::Uml
            } else {
                DiskBus::Ide
            };
            disk.target.get_or_insert_with(Default::default).bus = Some(bus);
        }
        self.devices.disks = sorted;
        Ok(())
    }

    /// The companions of an ICH9 EHCI USB controller start at ports 0, 2 and 4.
    pub(crate) fn post_parse_usb_companions(&mut self) {
        for controller in &mut self.devices.controllers {
            if controller.controller_type != Some(ControllerType::Usb)
                || controller.info.master.is_some()
            {
                continue;
            }
            let startport = match controller.model.as_deref() {
                Some("ich9-uhci1") => 0,
                Some("ich9-uhci2") => 2,
                Some("ich9-uhci3") => 4,
                _ => continue,
            };
            controller.info.master = Some(UsbMaster {
                startport: Some(startport),
            });
        }
    }

    /// Controllers in the order libvirt's parser inserts them
    /// (`virDomainControllerInsertPreAlloced`): grouped by type, by index within a type, a
    /// USB master before its companions; one without an index after its type's last.
    pub(crate) fn sort_controllers(&mut self) {
        let controllers = std::mem::take(&mut self.devices.controllers);
        let mut sorted: Vec<Controller> = Vec::with_capacity(controllers.len());
        for controller in controllers {
            let mut insert_at: Option<usize> = None;
            for position in (0..sorted.len()).rev() {
                let current = &sorted[position];
                if current.controller_type != controller.controller_type {
                    continue;
                }
                let Some(index) = controller.index else {
                    insert_at = Some(position + 1);
                    break;
                };
                let current_index = current.index.map_or(-1, i64::from);
                // After the new one's index, or its companion when the new one is the
                // master of the same index.
                let master_first = controller.info.master.is_none()
                    && current.info.master.is_some()
                    && current_index == i64::from(index);
                if current_index > i64::from(index) || master_first {
                    insert_at = Some(position);
                } else if insert_at.is_none() {
                    insert_at = Some(position + 1);
                }
            }
            match insert_at {
                Some(position) => sorted.insert(position, controller),
                None => sorted.push(controller),
            }
        }
        self.devices.controllers = sorted;
    }

    /// What a definition cannot carry because only a running domain has it, dropped as
    /// libvirt's parser ignores it when reading a definition (`VIR_DOMAIN_DEF_PARSE_INACTIVE`):
    /// device aliases other than user aliases (`ua-`), disk source and backing store
    /// indexes, block job mirrors, network port ids, generated tap device names, channel
    /// connection states, PTY paths, and security labels a dynamic label will choose.
    pub(crate) fn drop_live_state(&mut self) {
        fn drop_backing_indexes(store: &mut Option<Box<crate::domain::BackingStore>>) {
            if let Some(store) = store {
                store.index = None;
                if let Some(source) = store.source.as_mut() {
                    source.index = None;
                }
                drop_backing_indexes(&mut store.backing_store);
            }
        }
        let devices = &mut self.devices;
        for disk in &mut devices.disks {
            if let Some(source) = disk.source.as_mut() {
                source.index = None;
            }
            if let Some(store) = disk.backing_store.as_mut() {
                store.index = None;
                if let Some(source) = store.source.as_mut() {
                    source.index = None;
                }
                drop_backing_indexes(&mut store.backing_store);
            }
            disk.mirror = None;
        }
        for iface in &mut devices.interfaces {
            if iface.interface_type == Some(InterfaceType::Network) {
                if let Some(source) = iface.source.as_mut() {
                    source.portid = None;
                    // The network's bridge, as the live XML shows it: the driver's choice.
                    source.bridge = None;
                }
            }
            if let Some(target) = iface.target.as_mut() {
                let generated = target.dev.as_deref().is_some_and(|dev| {
                    ["vnet", "macvtap", "macvlan"]
                        .iter()
                        .any(|prefix| dev.starts_with(prefix))
                });
                if generated && target.managed != Some(YesNo::No) {
                    target.dev = None;
                    if target.managed.is_none() {
                        iface.target = None;
                    }
                }
            }
        }
        for chr in devices
            .serials
            .iter_mut()
            .chain(devices.parallels.iter_mut())
            .chain(devices.consoles.iter_mut())
            .chain(devices.channels.iter_mut())
        {
            if chr.chr_type.is_none_or(|kind| kind == ChrType::Pty) {
                chr.tty = None;
                for source in &mut chr.sources {
                    source.path = None;
                }
                chr.sources.retain(|source| *source != ChrSource::default());
            }
            if let Some(target) = chr.target.as_mut() {
                target.state = None;
            }
        }
        // A device label override without a label only matters with `labelskip`, which
        // a definition cannot have; libvirt does not write it back.
        fn device_seclabels(labels: &mut Vec<crate::domain::disk::DeviceSeclabel>) {
            for label in labels.iter_mut() {
                label.labelskip = None;
            }
            labels.retain(|label| {
                label.label.is_some() || label.relabel.is_some_and(|relabel| !relabel.is_yes())
            });
            for label in labels.iter_mut() {
                label.relabel.get_or_insert(YesNo::Yes);
            }
        }
        for disk in &mut devices.disks {
            if let Some(source) = disk.source.as_mut() {
                device_seclabels(&mut source.seclabels);
            }
        }
        for chr in devices
            .serials
            .iter_mut()
            .chain(devices.parallels.iter_mut())
            .chain(devices.consoles.iter_mut())
            .chain(devices.channels.iter_mut())
        {
            for source in &mut chr.sources {
                device_seclabels(&mut source.seclabels);
            }
        }
        for seclabel in &mut self.seclabels {
            let kind = seclabel.label_type.as_deref();
            if kind != Some("static") && kind != Some("none") {
                seclabel.label = None;
            }
            seclabel.imagelabel = None;
        }
        self.for_each_device_info_mut(|info| {
            let generated = info
                .alias_name()
                .is_some_and(|alias| !alias.starts_with("ua-"));
            if generated {
                info.alias = None;
            }
        });
    }

    /// Per-device values libvirt always writes or normalises: a CD-ROM is read-only, a
    /// read-only disk's `snapshot='no'` goes without saying while a vhost-user disk cannot
    /// be snapshotted, an iSCSI target without a LUN is LUN 0, a host device says whether it
    /// is managed, a smartcard sits in the next free CCID slot, a shared memory device is
    /// an `ivshmem`, Hyper-V enlightenments are `custom`, and `primary='no'` is no news.
    pub(crate) fn post_parse_device_defaults(&mut self) {
        fn with_lun(name: &mut Option<String>) {
            if let Some(name) = name.as_mut() {
                if !name.contains('/') {
                    name.push_str("/0");
                }
            }
        }
        for disk in &mut self.devices.disks {
            if disk.device == Some(DiskDevice::Cdrom) {
                disk.readonly = true;
            }
            // A disk without a source (an empty drive) is a file disk.
            if disk.source.is_none() {
                disk.disk_type = Some(StorageType::File);
            }
            if let Some(target) = disk.target.as_mut() {
                if target.tray == Some(DiskTray::Closed) {
                    target.tray = None;
                }
            }
            if disk.snapshot.is_none() && disk.disk_type == Some(StorageType::Vhostuser) {
                disk.snapshot = Some(SnapshotLocation::No);
            }
            if disk.readonly && disk.snapshot == Some(SnapshotLocation::No) {
                disk.snapshot = None;
            }
            if let Some(source) = disk.source.as_mut() {
                if disk.disk_type == Some(StorageType::Network)
                    && source.protocol == Some(NetProtocol::Iscsi)
                {
                    with_lun(&mut source.name);
                }
                // virStorageSourceNetworkAssignDefaultPorts
                let default_port = match source.protocol {
                    Some(NetProtocol::Http) => 80,
                    Some(NetProtocol::Https) => 443,
                    Some(NetProtocol::Ftp) => 21,
                    Some(NetProtocol::Ftps) => 990,
                    Some(NetProtocol::Tftp) => 69,
                    Some(NetProtocol::Sheepdog) => 7000,
                    Some(NetProtocol::Nbd) => 10809,
                    Some(NetProtocol::Ssh) => 22,
                    Some(NetProtocol::Iscsi) => 3260,
                    Some(NetProtocol::Gluster) => 24007,
                    Some(NetProtocol::Vxhs) => 9999,
                    _ => 0,
                };
                if disk.disk_type == Some(StorageType::Network) && default_port != 0 {
                    for host in &mut source.hosts {
                        let tcp = host
                            .transport
                            .is_none_or(|transport| transport == HostTransport::Tcp);
                        if tcp && host.port.unwrap_or(0) == 0 {
                            host.port = Some(default_port);
                        }
                    }
                }
            }
        }
        for hostdev in &mut self.devices.hostdevs {
            if hostdev
                .mode
                .is_none_or(|mode| mode == HostdevMode::Subsystem)
            {
                hostdev.managed.get_or_insert(YesNo::No);
            }
            if let Some(source) = hostdev.source.as_mut() {
                if hostdev.hostdev_type.as_deref() == Some("scsi")
                    && source.protocol.as_deref() == Some("iscsi")
                {
                    with_lun(&mut source.name);
                }
            }
        }
        let smartcards = &mut self.devices.smartcards;
        for position in 0..smartcards.len() {
            if smartcards[position].info.address.is_some() {
                continue;
            }
            let next_slot = smartcards
                .iter()
                .filter_map(|card| match &card.info.address {
                    Some(Address::Ccid {
                        controller: 0,
                        slot,
                    }) => Some(*slot + 1),
                    _ => None,
                })
                .max()
                .unwrap_or(0);
            smartcards[position].info.address = Some(Address::Ccid {
                controller: 0,
                slot: next_slot,
            });
        }
        self.for_each_device_info_mut(|info| {
            if let Some(loadparm) = info.boot.as_mut().and_then(|boot| boot.loadparm.as_mut()) {
                loadparm.make_ascii_uppercase();
            }
        });
        let devices = &mut self.devices;
        for iface in &mut devices.interfaces {
            // Only interfaces on a network, a bridge or a plain tap take a traffic filter.
            let filtered = matches!(
                iface.interface_type,
                Some(InterfaceType::Network | InterfaceType::Bridge | InterfaceType::Ethernet)
            );
            if !filtered {
                iface.filterref = None;
            }
            // A host device interface's `<driver>` says only which PCI backend it uses.
            if iface
                .hostdev_driver
                .as_ref()
                .is_some_and(|driver| driver.name.is_none())
            {
                iface.hostdev_driver = None;
            }
            if let Some(model) = iface.model.as_mut().and_then(|model| model.value.as_mut()) {
                if let Some(known) = NET_MODELS
                    .iter()
                    .find(|known| known.eq_ignore_ascii_case(model))
                {
                    *model = (*known).to_string();
                }
            }
        }
        for fs in &mut devices.filesystems {
            for mode in [&mut fs.fmode, &mut fs.dmode] {
                if let Some(bits) = mode
                    .as_deref()
                    .and_then(|text| u32::from_str_radix(text, 8).ok())
                {
                    *mode = (bits != 0).then(|| format!("{bits:04o}"));
                }
            }
        }
        for rng in &mut devices.rngs {
            if let Some(backend) = rng.backend.as_mut() {
                if backend.model == Some(RngBackend::Random) && backend.path.is_none() {
                    backend.path = Some("/dev/random".into());
                }
            }
        }
        if let Some(filter) = self.devices.redirfilter.as_mut() {
            for usbdev in &mut filter.usbdevs {
                canonical_usbdev(usbdev);
            }
        }
        for shmem in &mut self.devices.shmems {
            let model = shmem.model.get_or_insert_with(TypeAttr::default);
            model.value.get_or_insert_with(|| "ivshmem".into());
        }
        for video in &mut self.devices.videos {
            if let Some(model) = video.model.as_mut() {
                if model.primary == Some(YesNo::No) {
                    model.primary = None;
                }
            }
        }
        if let Some(hyperv) = self
            .features
            .as_mut()
            .and_then(|features| features.hyperv.as_mut())
        {
            hyperv.mode.get_or_insert(HypervMode::Custom);
        }
    }

    /// SCSI host devices without an address take the first free unit of the first SCSI
    /// controller with one (`virDomainHostdevAssignAddress`: seven units per controller,
    /// fewer when the controller's model has fewer), and may not sit where a SCSI disk does.
    pub(crate) fn assign_scsi_hostdev_addresses(&mut self) -> Result<()> {
        let is_scsi_hostdev = |hostdev: &crate::domain::devices::Hostdev| {
            hostdev.hostdev_type.as_deref() == Some("scsi")
                && hostdev
                    .mode
                    .is_none_or(|mode| mode == HostdevMode::Subsystem)
        };
        let disk_at = |domain: &Domain, address: &Address| {
            domain.devices.disks.iter().any(|disk| {
                disk.target_bus() == Some(DiskBus::Scsi)
                    && disk.info.address.as_ref() == Some(address)
            })
        };
        for position in 0..self.devices.hostdevs.len() {
            if !is_scsi_hostdev(&self.devices.hostdevs[position]) {
                continue;
            }
            if self.devices.hostdevs[position].info.address.is_none() {
                let mut controller = 0;
                let address = loop {
                    let max_unit = self
                        .devices
                        .controllers
                        .iter()
                        .find(|c| {
                            c.controller_type == Some(ControllerType::Scsi)
                                && c.index == Some(controller)
                        })
                        .and_then(|c| match c.model.as_deref() {
                            Some("lsisas1068") => Some(1),
                            Some("ncr53c90" | "dc390" | "am53c974") => Some(6),
                            _ => None,
                        })
                        .unwrap_or(6);
                    let free = (0..=max_unit.min(6)).find_map(|unit| {
                        let address = Address::Drive {
                            controller,
                            bus: 0,
                            target: 0,
                            unit,
                        };
                        let taken = disk_at(self, &address)
                            || self.devices.hostdevs.iter().any(|other| {
                                is_scsi_hostdev(other)
                                    && other.info.address.as_ref() == Some(&address)
                            });
                        (!taken).then_some(address)
                    });
                    match free {
                        Some(address) => break address,
                        None => controller += 1,
                    }
                };
                self.devices.hostdevs[position].info.address = Some(address);
            }
            if let Some(Address::Drive {
                controller,
                bus,
                target,
                unit,
            }) = self.devices.hostdevs[position].info.address.clone()
            {
                let address = Address::Drive {
                    controller,
                    bus,
                    target,
                    unit,
                };
                if disk_at(self, &address) {
                    return Err(xml_error(format!(
                        "SCSI host address controller='{controller}' bus='{bus}' target='{target}' unit='{unit}' in use by a SCSI disk"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `virDomainDefAddImplicitControllers`: a controller for every drive address of an IDE,
    /// SATA, SCSI or floppy disk (all indexes up to the highest used), a virtio-serial
    /// controller for each virtio channel or console, a CCID controller for smartcards.
    /// A drive address above [`MAX_IMPLICIT_DRIVE_CONTROLLER`] is refused.
    pub(crate) fn add_implicit_controllers(&mut self) -> Result<()> {
        let mut wanted: Vec<(ControllerType, u32)> = Vec::new();
        for (kind, bus) in [
            (ControllerType::Scsi, DiskBus::Scsi),
            (ControllerType::Fdc, DiskBus::Fdc),
            (ControllerType::Ide, DiskBus::Ide),
            (ControllerType::Sata, DiskBus::Sata),
        ] {
            let highest = self
                .devices
                .disks
                .iter()
                .filter(|disk| disk.target_bus() == Some(bus))
                .filter_map(|disk| match &disk.info.address {
                    Some(Address::Drive { controller, .. }) => Some(*controller),
                    _ => None,
                })
                .max();
            if let Some(highest) = highest {
                check_implicit_drive_controller(highest)?;
                wanted.extend((0..=highest).map(|index| (kind, index)));
            }
        }
        let devices = &self.devices;
        for chr in devices.channels.iter().chain(devices.consoles.iter()) {
            if chr.target_type() != Some("virtio") {
                continue;
            }
            let index = match &chr.info.address {
                Some(Address::VirtioSerial { controller, .. }) => *controller,
                _ => 0,
            };
            wanted.push((ControllerType::VirtioSerial, index));
        }
        for smartcard in &devices.smartcards {
            let index = match &smartcard.info.address {
                Some(Address::Ccid { controller, .. }) => *controller,
                _ => 0,
            };
            wanted.push((ControllerType::Ccid, index));
        }
        // SCSI controllers up to the highest one a SCSI host device uses, of the model of
        // the controller that device sits on (virDomainDefMaybeAddHostdevSCSIcontroller).
        let mut highest: Option<u32> = None;
        let mut hostdev_model: Option<String> = None;
        for hostdev in &devices.hostdevs {
            if hostdev.hostdev_type.as_deref() != Some("scsi") {
                continue;
            }
            let Some(Address::Drive { controller, .. }) = &hostdev.info.address else {
                continue;
            };
            if highest.is_none_or(|highest| *controller > highest) {
                highest = Some(*controller);
                let model = devices
                    .controllers
                    .iter()
                    .find(|c| {
                        c.controller_type == Some(ControllerType::Scsi)
                            && c.index == Some(*controller)
                    })
                    .and_then(|c| c.model.clone());
                if model.is_some() {
                    hostdev_model = model;
                }
            }
        }
        let mut hostdev_controllers: Vec<u32> = Vec::new();
        if let Some(highest) = highest {
            check_implicit_drive_controller(highest)?;
            hostdev_controllers.extend(0..=highest);
        }
        for (kind, index) in wanted {
            let present = self.devices.controllers.iter().any(|controller| {
                controller.controller_type == Some(kind) && controller.index == Some(index)
            });
            if !present {
                self.devices.controllers.push(Controller {
                    controller_type: Some(kind),
                    index: Some(index),
                    ..Default::default()
                });
            }
        }
        for index in hostdev_controllers {
            let present = self.devices.controllers.iter().any(|controller| {
                controller.controller_type == Some(ControllerType::Scsi)
                    && controller.index == Some(index)
            });
            if !present {
                self.devices.controllers.push(Controller {
                    controller_type: Some(ControllerType::Scsi),
                    index: Some(index),
                    model: hostdev_model.clone(),
                    ..Default::default()
                });
            }
        }
        Ok(())
    }

    /// Videos: one with `primary='yes'` goes first; a display without any video gets one of
    /// the driver's default model; the first video is the primary one; every model gets
    /// one head and the video memory libvirt gives its type (`virDomainVideoDefaultRAM`).
    pub(crate) fn post_parse_videos(&mut self, driver: &dyn PostParseDriver) {
        let videos = &mut self.devices.videos;
        if let Some(position) = videos
            .iter()
            .rposition(|video| video.model.as_ref().and_then(|m| m.primary) == Some(YesNo::Yes))
        {
            let primary = videos.remove(position);
            videos.insert(0, primary);
        }
        if self.devices.videos.is_empty() && !self.devices.graphics.is_empty() {
            let Some(model) = driver.default_video_model(self) else {
                return;
            };
            self.devices.videos.push(Video {
                model: Some(VideoModelElement {
                    model_type: Some(model),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        for position in 0..self.devices.videos.len() {
            let unset = self.devices.videos[position]
                .model
                .as_ref()
                .is_none_or(|model| model.model_type.is_none());
            if unset {
                if let Some(model) = driver.default_video_model(self) {
                    let element = self.devices.videos[position]
                        .model
                        .get_or_insert_with(Default::default);
                    element.model_type = Some(model);
                }
            }
        }
        let virt_type = self.virt_type;
        for (position, video) in self.devices.videos.iter_mut().enumerate() {
            let model = video.model.get_or_insert_with(Default::default);
            if model.model_type == Some(VideoModel::None) {
                if position == 0 {
                    *model = VideoModelElement {
                        model_type: Some(VideoModel::None),
                        ..Default::default()
                    };
                }
                continue;
            }
            model.heads.get_or_insert(1);
            let default_ram = default_video_ram(virt_type, model.model_type);
            if model.ram.is_none() && model.model_type == Some(VideoModel::Qxl) && default_ram > 0 {
                model.ram = Some(default_ram);
            }
            if model.vram.is_none() && default_ram > 0 {
                model.vram = Some(default_ram);
            }
            model.ram = model.ram.map(round_up_power_of_two);
            model.vram = model.vram.map(round_up_power_of_two);
            if position == 0 && model.model_type.is_some() {
                model.primary = Some(YesNo::Yes);
            }
        }
    }
}

/// `virDomainVideoDefaultRAM`, in KiB.
fn default_video_ram(virt_type: Option<VirtType>, model: Option<VideoModel>) -> u32 {
    match model {
        Some(VideoModel::Vga | VideoModel::Cirrus | VideoModel::Vmvga) => match virt_type {
            Some(VirtType::Vbox) => 8 * 1024,
            Some(VirtType::Vmware) => 4 * 1024,
            _ => 16 * 1024,
        },
        Some(VideoModel::Bochs) => 16 * 1024,
        Some(VideoModel::Xen) => 4 * 1024,
        Some(VideoModel::Qxl) => 64 * 1024,
        _ => 0,
    }
}

fn round_up_power_of_two(value: u32) -> u32 {
    if value == 0 {
        0
    } else {
        value.checked_next_power_of_two().unwrap_or(value)
    }
}

/// An integer as C's `strtol` with base 0 reads it (`0x` hex, `0` octal, else decimal).
fn parse_c_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// A `<usbdev>` of `<redirfilter>` as libvirt writes it back: ids in upper-case hex, the
/// version as `major.minor` with two minor digits (`9.4` is `9.40`), `-1` (any) left out.
fn canonical_usbdev(usbdev: &mut crate::domain::devices::RedirFilterUsbDev) {
    fn hex(field: &mut Option<String>, width: usize) {
        if let Some(value) = field.as_deref().and_then(parse_c_integer) {
            *field = (value >= 0).then(|| format!("0x{value:0width$X}"));
        }
    }
    hex(&mut usbdev.class, 2);
    hex(&mut usbdev.vendor, 4);
    hex(&mut usbdev.product, 4);
    if let Some(version) = usbdev.version.clone() {
        if version == "-1" {
            usbdev.version = None;
        } else if let Some((major, minor)) = version.split_once('.') {
            if let (Ok(major), Ok(mut minor_value)) = (major.parse::<u32>(), minor.parse::<u32>()) {
                if minor.len() == 1 {
                    minor_value *= 10;
                }
                if major < 100 && minor_value < 100 {
                    usbdev.version = Some(format!("{major}.{minor_value:02}"));
                }
            }
        }
    }
}

/// The NIC models libvirt knows by name (`virDomainNetModel`); a model matching one of
/// them in another case is stored in this spelling.
const NET_MODELS: &[&str] = &[
    "netfront",
    "rtl8139",
    "virtio",
    "e1000",
    "e1000e",
    "virtio-transitional",
    "virtio-non-transitional",
    "usb-net",
    "spapr-vlan",
    "lan9118",
    "scm91c111",
    "vlance",
    "vmxnet",
    "vmxnet2",
    "vmxnet3",
    "Am79C970A",
    "Am79C973",
    "82540EM",
    "82545EM",
    "82543GC",
];

/// A set of ids as libvirt writes a bitmap (`virBitmapFormat`): ascending ranges,
/// `0-3,5`.
pub(crate) fn format_id_set(ids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut idx = 0;
    while idx < ids.len() {
        let start = ids[idx];
        let mut end = start;
        while idx + 1 < ids.len() && ids[idx + 1] == end + 1 {
            idx += 1;
            end = ids[idx];
        }
        parts.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        idx += 1;
    }
    parts.join(",")
}

/// The first `<listen>` and the graphics element's old-style attribute (`listen`, `socket`)
/// must say the same; the listen takes the attribute's value when it has none.
fn agree_with_compat(
    value: &mut Option<String>,
    compat: &Option<String>,
    attribute: &str,
    listen_attribute: &str,
) -> Result<()> {
    if let (Some(found), Some(compat)) = (value.as_ref(), compat) {
        if found != compat {
            return Err(unsupported(format!(
                "graphics '{attribute}' attribute '{compat}' must match '{listen_attribute}' attribute of first listen element (found '{found}')"
            )));
        }
    }
    if value.is_none() {
        value.clone_from(compat);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver whose videos default to cirrus, as libvirt's test driver's do.
    struct CirrusDriver;

    impl PostParseDriver for CirrusDriver {
        fn default_video_model(&self, _domain: &Domain) -> Option<VideoModel> {
            Some(VideoModel::Cirrus)
        }
    }

    const WITH_DISPLAY: &str = "<domain type='test'><name>d</name><memory>1024</memory>\
        <os><type>hvm</type></os><devices><graphics type='vnc'/></devices></domain>";

    fn videos_after(driver: &dyn PostParseDriver, xml: &str) -> Vec<Video> {
        let mut domain = Domain::parse(xml).expect("parses");
        domain.post_parse_with(driver).expect("post-parse");
        domain.devices.videos
    }

    #[test]
    fn a_display_without_video_gets_the_drivers_default_model() {
        let videos = videos_after(&CirrusDriver, WITH_DISPLAY);
        let model = videos[0].model.clone().expect("model");
        assert_eq!(videos.len(), 1);
        assert_eq!(model.model_type, Some(VideoModel::Cirrus));
        assert_eq!(model.vram, Some(16384));
        assert_eq!(model.heads, Some(1));
        assert_eq!(model.primary, Some(YesNo::Yes));
    }

    /// Found by the `domain_xml` fuzz target (out of memory): the SATA disk `sdiotunea` is
    /// index 2.5 billion, and post-parse added every controller up to index 400 million.
    #[test]
    fn a_drive_controller_index_in_the_millions_is_refused_not_allocated() {
        let with_disk = |disk: &str| {
            format!(
                "<domain type='qemu'><name>d</name><memory>1024</memory>\
                 <os><type>hvm</type></os><devices>{disk}</devices></domain>"
            )
        };
        let fuzzed = with_disk(
            "<disk device='cdrom' type='file'><target bus='sata' dev='sdiotunea'/></disk>",
        );
        let mut domain = Domain::parse(&fuzzed).expect("parses");
        let error = domain.post_parse().expect_err("too many controllers");
        assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
        assert!(error.message().contains("too high"), "{}", error.message());
        let explicit = with_disk(
            "<disk type='file'><target bus='scsi' dev='sda'/>\
             <address type='drive' controller='1024' bus='0' target='0' unit='0'/></disk>",
        );
        let mut domain = Domain::parse(&explicit).expect("parses");
        assert!(domain.post_parse().is_err());
        // A two-letter name (`sdzz`, index 701) still gets all its 117 SATA controllers.
        let mut domain = Domain::parse(&with_disk(
            "<disk type='file'><target bus='sata' dev='sdzz'/></disk>",
        ))
        .expect("parses");
        domain.post_parse().expect("post-parse");
        assert_eq!(domain.devices.controllers.len(), 117);
    }

    #[test]
    fn without_a_driver_no_video_is_invented() {
        let mut domain = Domain::parse(WITH_DISPLAY).expect("parses");
        domain.post_parse().expect("post-parse");
        assert!(domain.devices.videos.is_empty());
    }

    #[test]
    fn a_video_without_model_takes_the_drivers_and_post_parse_is_idempotent() {
        let xml = "<domain type='test'><name>d</name><memory>1024</memory>\
            <os><type>hvm</type></os><devices><video/><video><model type='vga' vram='9000'/>\
            </video></devices></domain>";
        let mut domain = Domain::parse(xml).expect("parses");
        domain.post_parse_with(&CirrusDriver).expect("post-parse");
        let once = domain.clone();
        domain
            .post_parse_with(&CirrusDriver)
            .expect("post-parse again");
        assert_eq!(domain, once);
        let models: Vec<_> = domain
            .devices
            .videos
            .iter()
            .map(|video| video.model.clone().expect("model"))
            .collect();
        assert_eq!(models[0].model_type, Some(VideoModel::Cirrus));
        // Video memory is rounded up to a power of two.
        assert_eq!(models[1].vram, Some(16384));
        assert_eq!(models[1].primary, None);
    }

    #[test]
    fn a_console_without_target_is_serial_except_in_a_container() {
        let target_of = |xml: &str| {
            let mut domain = Domain::parse(xml).expect("parses");
            domain.post_parse().expect("post-parse");
            domain.devices.consoles[0]
                .target
                .clone()
                .and_then(|target| target.target_type)
        };
        let hvm = "<domain type='kvm'><name>d</name><memory>1024</memory>\
            <os><type>hvm</type></os><devices><console type='pty'/></devices></domain>";
        let lxc = "<domain type='lxc'><name>c</name><memory>1024</memory>\
            <os><type>exe</type><init>/bin/sh</init></os>\
            <devices><console type='pty'/></devices></domain>";
        assert_eq!(target_of(hvm).as_deref(), Some("serial"));
        // The LXC driver's post-parse says `lxc` afterwards.
        assert_eq!(target_of(lxc), None);
    }

    #[test]
    fn implicit_controllers_are_added_once() {
        let xml = "<domain type='kvm'><name>d</name><memory>1024</memory>\
            <os><type>hvm</type></os><devices>\
            <disk type='file'><source file='/a'/><target dev='sdc'/></disk>\
            <disk type='file'><source file='/b'/><target dev='sdq'/></disk>\
            <controller type='scsi' index='1' model='virtio-scsi'/>\
            </devices></domain>";
        let scsi_controllers = |domain: &Domain| -> Vec<(Option<u32>, Option<String>)> {
            domain
                .devices
                .controllers
                .iter()
                .filter(|c| c.controller_type == Some(ControllerType::Scsi))
                .map(|c| (c.index, c.model.clone()))
                .collect()
        };
        let mut domain = Domain::parse(xml).expect("parses");
        domain.post_parse().expect("post-parse");
        // sdq is unit 2 of controller 2: controllers 0 and 2 are appended, 1 is kept.
        let virtio_scsi = (Some(1), Some("virtio-scsi".to_string()));
        assert_eq!(
            scsi_controllers(&domain),
            vec![virtio_scsi.clone(), (Some(0), None), (Some(2), None)]
        );
        // Read back, libvirt's parser sorts them by index; nothing is added twice.
        domain.post_parse().expect("post-parse again");
        assert_eq!(
            scsi_controllers(&domain),
            vec![(Some(0), None), virtio_scsi, (Some(2), None)]
        );
    }
}
