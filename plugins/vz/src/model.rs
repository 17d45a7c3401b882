//! The pure part of the driver: prlctl's JSON list output read into [`Env`]s, Virtuozzo's
//! states mapped to libvirt's (as libvirt's `prlsdkConvertDomainState` maps them), the domain
//! XML of an environment, and a definition read into prlctl's `create`/`set` arguments.

use std::fmt::Write as _;

use serde_json::Value;
use virt_core::consts::{
    domain_nostate_reason as nostate, domain_paused_reason as paused,
    domain_running_reason as running, domain_shutdown_reason as shutdown,
    domain_shutoff_reason as shutoff, domain_state as dstate,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::{Domain, FilesystemType, FormatOptions, OsType, VirtType};

/// The architecture libvirt's vz driver reports for every environment.
pub const ARCH: &str = "x86_64";
/// The init libvirt's vz driver reports for a container.
pub const CT_INIT: &str = "/sbin/init";

pub fn error(code: ErrorNumber, message: impl Into<String>) -> Error {
    Error::new(code, ErrorDomain::PARALLELS, message.into())
}

/// libvirt's `vzParseError`: output prlctl was expected to give and did not.
pub fn parse_error() -> Error {
    error(ErrorNumber::OPERATION_FAILED, "Can't parse prlctl output")
}

/// A container (`Type: CT`, OS type `exe`) or a virtual machine (`Type: VM`, OS type `hvm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Container,
    Vm,
}

impl Kind {
    /// prlctl's `--vmtype` word.
    pub fn vmtype(self) -> &'static str {
        match self {
            Kind::Container => "ct",
            Kind::Vm => "vm",
        }
    }

    pub fn os_type(self) -> &'static str {
        match self {
            Kind::Container => "exe",
            Kind::Vm => "hvm",
        }
    }
}

/// One environment as `prlctl list -i -j` describes it (the fields the driver reads).
#[derive(Clone, Debug, PartialEq)]
pub struct Env {
    pub uuid: Uuid,
    pub name: String,
    /// prlctl's `State` word (`running`, `stopped`, `paused`, `suspended`, ...).
    pub status: String,
    /// `EnvID`: the number libvirt's vz driver gives a running domain as its id.
    pub env_id: Option<i32>,
    pub kind: Kind,
    pub os: Option<String>,
    /// `Hardware.cpu.cpus`; `None` when prlctl says `unlimited` (a container on every CPU).
    pub cpus: Option<u32>,
    /// `Hardware.memory.size`, in MiB.
    pub memory_mib: Option<u64>,
    pub description: Option<String>,
}

/// libvirt's state, its reason, and whether the domain is active (has an id) for a prlctl
/// state word, as `prlsdkConvertDomainState` maps the SDK's `VMS_*` states.
pub fn state_of(status: &str) -> (i32, i32, bool) {
    match status {
        "stopped" | "mounted" => (dstate::SHUTOFF, shutoff::SHUTDOWN, false),
        "running" | "starting" | "compacting" | "resetting" | "pausing" | "reconnecting" => {
            (dstate::RUNNING, running::BOOTED, true)
        }
        "paused" => (dstate::PAUSED, paused::USER, true),
        "suspended" | "deleting state" | "suspending sync" => {
            (dstate::SHUTOFF, shutoff::SAVED, false)
        }
        "stopping" => (dstate::SHUTDOWN, shutdown::USER, true),
        "snapshoting" | "snapshotting" => (dstate::PAUSED, paused::SNAPSHOT, true),
        "migrating" => (dstate::PAUSED, paused::MIGRATION, true),
        "suspending" => (dstate::PAUSED, paused::SAVE, true),
        "restoring" | "resuming" => (dstate::RUNNING, running::RESTORED, true),
        "continuing" => (dstate::RUNNING, running::UNPAUSED, true),
        _ => (dstate::NOSTATE, nostate::UNKNOWN, false),
    }
}

impl Env {
    pub fn state(&self) -> (i32, i32) {
        let (state, reason, _) = state_of(&self.status);
        (state, reason)
    }

    pub fn active(&self) -> bool {
        state_of(&self.status).2
    }

    /// `prlctl suspend` saved the environment's state (libvirt: a managed save image).
    pub fn saved(&self) -> bool {
        self.state() == (dstate::SHUTOFF, shutoff::SAVED)
    }

    /// The domain id: `EnvID` while active, -1 otherwise. An active environment without a
    /// numeric `EnvID` gets a number from its UUID, stable while it exists.
    pub fn id(&self) -> i32 {
        if !self.active() {
            return -1;
        }
        self.env_id.unwrap_or_else(|| {
            let b = self.uuid.as_bytes();
            let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0x7fff_ffff;
            i32::try_from(n.max(1)).unwrap_or(1)
        })
    }

    /// The vCPU count: prlctl's, or the host's when unlimited.
    pub fn vcpus(&self, host_cpus: u32) -> u32 {
        self.cpus.unwrap_or(host_cpus).max(1)
    }
}

/// A UUID as prlctl writes it (`{...}`) or as libvirt does.
pub fn parse_prl_uuid(text: &str) -> Option<Uuid> {
    let text = text.trim();
    let inner = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    virt_core::parse_uuid(inner)
}

/// A UUID as prlctl takes it: in braces.
pub fn prl_uuid(uuid: &Uuid) -> String {
    format!("{{{uuid}}}")
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A prlctl size (`1024Mb`, `2Gb`, `524288Kb`, or a bare number of MiB) in MiB.
pub fn parse_size_mib(value: &Value) -> Option<u64> {
    if let Value::Number(n) = value {
        return n.as_u64();
    }
    let text = value.as_str()?.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    match unit.trim().to_ascii_lowercase().as_str() {
        "" | "m" | "mb" | "mib" => Some(n),
        "g" | "gb" | "gib" => n.checked_mul(1024),
        "k" | "kb" | "kib" => Some(n.div_ceil(1024)),
        _ => None,
    }
}

fn text(object: &Value, key: &str) -> Option<String> {
    object.get(key).and_then(Value::as_str).map(str::to_string)
}

fn env_of(object: &Value) -> Result<Env, Error> {
    let uuid = object
        .get("ID")
        .and_then(Value::as_str)
        .and_then(parse_prl_uuid)
        .ok_or_else(parse_error)?;
    let name = text(object, "Name").ok_or_else(parse_error)?;
    let kind = match object.get("Type").and_then(Value::as_str) {
        Some("CT") => Kind::Container,
        _ => Kind::Vm,
    };
    let hardware = object.get("Hardware");
    let cpus = hardware
        .and_then(|h| h.get("cpu"))
        .and_then(|c| c.get("cpus"))
        .and_then(number)
        .and_then(|n| u32::try_from(n).ok());
    let memory_mib = hardware
        .and_then(|h| h.get("memory"))
        .and_then(|m| m.get("size"))
        .and_then(parse_size_mib);
    Ok(Env {
        uuid,
        name,
        status: text(object, "State").unwrap_or_else(|| "unknown".to_string()),
        env_id: object
            .get("EnvID")
            .and_then(number)
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 0),
        kind,
        os: text(object, "OS"),
        cpus,
        memory_mib,
        description: text(object, "Description").filter(|d| !d.is_empty()),
    })
}

/// `prlctl list -i -j` output (one environment or, with `-a`, all): a JSON array of objects.
pub fn parse_info(output: &str) -> Result<Vec<Env>, Error> {
    let value: Value = serde_json::from_str(output.trim()).map_err(|_| parse_error())?;
    match value {
        Value::Array(items) => items.iter().map(env_of).collect(),
        object @ Value::Object(_) => Ok(vec![env_of(&object)?]),
        _ => Err(parse_error()),
    }
}

/// The first two numbers of `prlctl version 7.0.200` as libvirt's version number
/// (major * 1,000,000 + minor * 1,000), as libvirt reads `prlsrvctl version`.
pub fn parse_version(output: &str) -> Option<u64> {
    let rest = output.split("prlctl version ").nth(1)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major: u64 = parts.next()?.parse().ok()?;
    let minor: u64 = parts.next()?.parse().ok()?;
    Some(major * 1_000_000 + minor * 1_000)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The domain XML of an environment, as libvirt's vz driver shapes it: type `vz`, `x86_64`,
/// a container with OS type `exe` and init `/sbin/init`, a VM with OS type `hvm`; built as
/// text and formatted by virt-xml so it is canonical.
pub fn domain_xml(env: &Env, host_cpus: u32) -> Result<String, Error> {
    let mut text = String::from("<domain type='vz'");
    if env.active() {
        let _ = write!(text, " id='{}'", env.id());
    }
    let _ = write!(
        text,
        "><name>{}</name><uuid>{}</uuid>",
        escape(&env.name),
        env.uuid
    );
    if let Some(description) = &env.description {
        let _ = write!(text, "<description>{}</description>", escape(description));
    }
    let memory_kib = env.memory_mib.unwrap_or(0).saturating_mul(1024);
    let _ = write!(
        text,
        "<memory unit='KiB'>{memory_kib}</memory>\
         <currentMemory unit='KiB'>{memory_kib}</currentMemory>\
         <vcpu placement='static'>{}</vcpu><os><type arch='{ARCH}'>{}</type>",
        env.vcpus(host_cpus),
        env.kind.os_type()
    );
    if env.kind == Kind::Container {
        let _ = write!(text, "<init>{CT_INIT}</init>");
    }
    text.push_str("</os><devices/></domain>");
    let domain = Domain::parse(&text)?;
    Ok(domain.format(&FormatOptions::default()))
}

/// What a definition asks prlctl for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub kind: Kind,
    /// The OS template of a container's `<filesystem type='template'>` root.
    pub template: Option<String>,
    pub cpus: Option<u32>,
    pub memory_mib: Option<u64>,
    pub description: Option<String>,
    /// The `<uuid>` the definition names, if it names one.
    pub uuid: Option<Uuid>,
}

/// libvirt's capabilities lookup for a definition: the guests `vzBuildCapabilities`
/// declares (OS types `hvm` and `exe`, `i686` and `x86_64`, domain types `vz` and
/// `parallels`), else `VIR_ERR_INVALID_ARG` "could not find capabilities for ...".
fn check_capabilities(domain: &Domain) -> Result<(), Error> {
    let os_type = domain.os_type();
    let arch = domain
        .os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|t| t.arch.clone());
    let supported = matches!(os_type, Some(OsType::Hvm | OsType::Exe))
        && matches!(domain.virt_type, Some(VirtType::Vz | VirtType::Parallels))
        && arch.as_deref().is_none_or(|a| a == "i686" || a == "x86_64");
    if supported {
        return Ok(());
    }
    let mut wanted = String::new();
    if let Some(os_type) = os_type {
        let _ = write!(wanted, "ostype={} ", os_type.as_str());
    }
    if let Some(arch) = &arch {
        let _ = write!(wanted, "arch={arch} ");
    }
    if let Some(virt_type) = domain.virt_type {
        let _ = write!(wanted, "domaintype={} ", virt_type.as_str());
    }
    let wanted = wanted.trim_end();
    Err(error(
        ErrorNumber::INVALID_ARG,
        format!(
            "could not find capabilities for {}",
            if wanted.is_empty() {
                "any configuration"
            } else {
                wanted
            }
        ),
    ))
}

fn unsupported(message: String) -> Error {
    error(ErrorNumber::CONFIG_UNSUPPORTED, message)
}

/// Reads a definition: the capabilities check, libvirt's generic post-parse checks, then
/// the parts prlctl is given. A container's only filesystem may be its template root;
/// filesystems a prlctl call cannot make are refused rather than dropped.
pub fn definition(xml: &str) -> Result<Definition, Error> {
    let mut domain = Domain::parse(xml)?;
    check_capabilities(&domain)?;
    let uuid = domain.uuid;
    let has_vcpu = domain.vcpu.is_some();
    domain.post_parse()?;
    domain.validate()?;
    let name = domain.name().to_string();
    if name.starts_with('-') || name.contains(['\n', '{', '}']) {
        return Err(unsupported(format!(
            "domain name '{name}' is not one prlctl can take"
        )));
    }
    let kind = if domain.os_type() == Some(OsType::Exe) {
        Kind::Container
    } else {
        Kind::Vm
    };
    let mut template = None;
    for fs in &domain.devices.filesystems {
        let source = fs.source.as_ref().and_then(|s| s.name.clone());
        let target = fs.target.as_ref().and_then(|t| t.dir.as_deref());
        match (kind, fs.fs_type, source, target) {
            (Kind::Container, Some(FilesystemType::Template), Some(name), Some("/"))
                if template.is_none() =>
            {
                template = Some(name)
            }
            _ => {
                return Err(unsupported(format!(
                    "filesystem for '{}' is not supported: only a container's template root \
                     (<filesystem type='template'><source name='...'/><target dir='/'/>) is",
                    target.unwrap_or("")
                )))
            }
        }
    }
    if template.as_deref().is_some_and(|t| t.starts_with('-')) {
        return Err(unsupported("template name must not start with '-'".into()));
    }
    let memory_kib = domain.memory_kib();
    Ok(Definition {
        name,
        kind,
        template,
        cpus: has_vcpu.then(|| domain.max_vcpus()),
        memory_mib: (memory_kib > 0).then(|| memory_kib.div_ceil(1024)),
        description: domain.description.clone().filter(|d| !d.is_empty()),
        uuid,
    })
}

impl Definition {
    /// `prlctl create NAME --vmtype ct [--ostemplate T]` or `... --vmtype vm`.
    pub fn create_args(&self) -> Vec<String> {
        let mut args = vec![
            "create".to_string(),
            self.name.clone(),
            "--vmtype".to_string(),
            self.kind.vmtype().to_string(),
        ];
        if let Some(template) = &self.template {
            args.push("--ostemplate".to_string());
            args.push(template.clone());
        }
        args
    }

    /// `prlctl set NAME --cpus N --memsize MB [--description TEXT]`, when there is anything
    /// to set.
    pub fn set_args(&self) -> Option<Vec<String>> {
        let mut args = vec!["set".to_string(), self.name.clone()];
        if let Some(cpus) = self.cpus {
            args.push("--cpus".to_string());
            args.push(cpus.to_string());
        }
        if let Some(mib) = self.memory_mib {
            args.push("--memsize".to_string());
            args.push(mib.to_string());
        }
        if let Some(description) = &self.description {
            args.push("--description".to_string());
            args.push(description.clone());
        }
        (args.len() > 2).then_some(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = r#"[
      {"ID": "{8d3c5c6e-3f4b-4c0a-9d1e-2b7a1e0c0101}", "EnvID": "101", "Name": "ct101",
       "Description": "web & mail", "Type": "CT", "State": "running", "OS": "centos7",
       "Hardware": {"cpu": {"cpus": 2}, "memory": {"size": "1024Mb"}}},
      {"ID": "{1b2c3d4e-5f60-4718-8a9b-0c1d2e3f4a5b}", "EnvID": 1588785838, "Name": "win10",
       "Type": "VM", "State": "stopped", "OS": "win-10",
       "Hardware": {"cpu": {"cpus": "4"}, "memory": {"size": "4Gb"}}},
      {"ID": "{00000000-0000-0000-0000-0000000000aa}", "Name": "free", "Type": "CT",
       "State": "paused", "Hardware": {"cpu": {"cpus": "unlimited"}}}
    ]"#;

    #[test]
    fn reads_prlctl_info() {
        let envs = parse_info(INFO).expect("parses");
        assert_eq!(envs.len(), 3);
        let ct = &envs[0];
        assert_eq!(ct.name, "ct101");
        assert_eq!(ct.kind, Kind::Container);
        assert_eq!(ct.uuid.to_string(), "8d3c5c6e-3f4b-4c0a-9d1e-2b7a1e0c0101");
        assert_eq!(
            (ct.id(), ct.cpus, ct.memory_mib),
            (101, Some(2), Some(1024))
        );
        let vm = &envs[1];
        assert_eq!((vm.kind, vm.id(), vm.cpus), (Kind::Vm, -1, Some(4)));
        assert_eq!(vm.memory_mib, Some(4096));
        let free = &envs[2];
        assert_eq!((free.cpus, free.vcpus(8), free.memory_mib), (None, 8, None));
        assert!(
            free.id() > 0,
            "an active environment without EnvID still has an id"
        );
        assert!(parse_info("{\"ID\": \"{x}\"}")
            .expect_err("bad")
            .message()
            .ends_with("Can't parse prlctl output"));
        assert!(parse_info("not json").is_err());
        assert!(parse_info("[]").expect("empty").is_empty());
    }

    #[test]
    fn sizes_and_versions() {
        let size = |s: &str| parse_size_mib(&Value::String(s.into()));
        assert_eq!(size("512Mb"), Some(512));
        assert_eq!(size("2Gb"), Some(2048));
        assert_eq!(size("1536Kb"), Some(2));
        assert_eq!(size("256"), Some(256));
        assert_eq!(size("lots"), None);
        assert_eq!(parse_version("prlctl version 7.0.200"), Some(7_000_000));
        assert_eq!(parse_version("vzctl 4.0"), None);
    }

    #[test]
    fn maps_states_as_libvirt() {
        assert_eq!(
            state_of("running"),
            (dstate::RUNNING, running::BOOTED, true)
        );
        assert_eq!(state_of("paused"), (dstate::PAUSED, paused::USER, true));
        assert_eq!(
            state_of("stopped"),
            (dstate::SHUTOFF, shutoff::SHUTDOWN, false)
        );
        assert_eq!(
            state_of("suspended"),
            (dstate::SHUTOFF, shutoff::SAVED, false)
        );
        assert_eq!(
            state_of("stopping"),
            (dstate::SHUTDOWN, shutdown::USER, true)
        );
        assert_eq!(state_of("what"), (dstate::NOSTATE, nostate::UNKNOWN, false));
    }

    #[test]
    fn builds_domain_xml() {
        let envs = parse_info(INFO).expect("parses");
        let ct = domain_xml(&envs[0], 4).expect("ct xml");
        assert!(
            ct.starts_with("<domain type='vz' id='101'>")
                && ct.contains("<uuid>8d3c5c6e-3f4b-4c0a-9d1e-2b7a1e0c0101</uuid>")
                && ct.contains("<description>web &amp; mail</description>")
                && ct.contains("<memory unit='KiB'>1048576</memory>")
                && ct.contains("<vcpu placement='static'>2</vcpu>")
                && ct.contains("<type arch='x86_64'>exe</type>")
                && ct.contains("<init>/sbin/init</init>"),
            "{ct}"
        );
        let vm = domain_xml(&envs[1], 4).expect("vm xml");
        assert!(
            vm.starts_with("<domain type='vz'>")
                && vm.contains("<type arch='x86_64'>hvm</type>")
                && !vm.contains("<init>"),
            "{vm}"
        );
    }

    #[test]
    fn reads_definitions() {
        let ct = definition(
            "<domain type='vz'><name>ct202</name><memory unit='MiB'>512</memory>\
             <vcpu>2</vcpu><description>db</description>\
             <os><type>exe</type><init>/sbin/init</init></os><devices>\
             <filesystem type='template'><source name='centos-7-x86_64'/><target dir='/'/>\
             </filesystem></devices></domain>",
        )
        .expect("container");
        assert_eq!(
            ct.create_args(),
            [
                "create",
                "ct202",
                "--vmtype",
                "ct",
                "--ostemplate",
                "centos-7-x86_64"
            ]
        );
        assert_eq!(
            ct.set_args().expect("set"),
            [
                "set",
                "ct202",
                "--cpus",
                "2",
                "--memsize",
                "512",
                "--description",
                "db"
            ]
        );
        let vm = definition(
            "<domain type='parallels'><name>vm1</name>\
             <uuid>11111111-2222-3333-4444-555555555555</uuid><memory>1048576</memory>\
             <os><type arch='x86_64'>hvm</type></os></domain>",
        )
        .expect("vm");
        assert_eq!(vm.create_args(), ["create", "vm1", "--vmtype", "vm"]);
        assert_eq!(
            vm.set_args().expect("set"),
            ["set", "vm1", "--memsize", "1024"]
        );
        assert!(vm.uuid.is_some());

        let kvm = definition(
            "<domain type='kvm'><name>k</name><memory>1024</memory>\
             <os><type arch='x86_64'>hvm</type></os></domain>",
        )
        .expect_err("not vz");
        assert_eq!(kvm.code(), ErrorNumber::INVALID_ARG);
        assert!(kvm
            .message()
            .ends_with("could not find capabilities for ostype=hvm arch=x86_64 domaintype=kvm"));
        let fs = definition(
            "<domain type='vz'><name>v</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices><filesystem type='mount'><source dir='/srv'/><target dir='/srv'/>\
             </filesystem></devices></domain>",
        )
        .expect_err("fs");
        assert_eq!(fs.code(), ErrorNumber::CONFIG_UNSUPPORTED);
        let dash = definition(
            "<domain type='vz'><name>-x</name><memory>1024</memory>\
             <os><type>hvm</type></os></domain>",
        )
        .expect_err("dash");
        assert_eq!(dash.code(), ErrorNumber::CONFIG_UNSUPPORTED);
    }
}
