//! The HMC's command language, pure: the command lines this driver sends (`lssyscfg`,
//! `lshwres`, `chsysstate`, `mksyscfg`, `chsyscfg`, `chhwres`, `rmsyscfg`), the comma-separated
//! rows they print, and the mapping between an LPAR and a libvirt domain.
//!
//! Unlike libvirt's driver, which piped the HMC's output through `sed`/`grep` on the HMC, every
//! command here is one HMC command and the filtering happens in the plugin: an HMC's restricted
//! shell need not allow pipes, and one listing answers what took libvirt several round trips.

use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::{Domain, FormatOptions, VirtType};

use crate::uri::is_shell_safe;

/// libvirt's one guest type for PHYP, and the processors an LPAR runs on.
pub const OS_TYPE: &str = "linux";
pub const ARCH: &str = "ppc64";

/// An HMC (every command names its managed system with `-m`) or an IVM (one system, no `-m`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Console {
    pub managed_system: Option<String>,
}

impl Console {
    /// `VERB [-m SYSTEM] ARGS...`, the managed system right after the verb as libvirt wrote it.
    pub fn command(&self, verb: &str, args: &[&str]) -> String {
        let mut line = verb.to_string();
        if let Some(system) = &self.managed_system {
            line.push_str(" -m ");
            line.push_str(system);
        }
        for arg in args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// The HMC's `-F` output: one row per line, fields split at commas, a field holding a comma
/// wrapped in double quotes. "No results were found." is an empty answer.
pub fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && *line != "No results were found.")
        .map(split_row)
        .collect()
}

fn split_row(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Parses a number the HMC printed in a column this driver asked for.
pub fn number(field: &str, what: &str) -> Result<u64, Error> {
    // Processing units print as decimals ("8.0"); whole processors are what libvirt counts.
    let whole = field.split('.').next().unwrap_or(field);
    whole.trim().parse().map_err(|_| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::PHYP,
            format!("unexpected {what} '{field}' in the HMC's answer"),
        )
    })
}

/// The `lssyscfg -r lpar` columns a listing asks for, in this order.
pub const LPAR_FIELDS: &str = "lpar_id,name,state,lpar_env,curr_profile";

/// One partition as `lssyscfg -r lpar` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lpar {
    pub id: u32,
    pub name: String,
    /// The HMC's state text: "Running", "Not Activated", "Shutting Down", ...
    pub state: String,
    /// `aixlinux`, `os400` or `vioserver`.
    pub env: String,
    pub profile: String,
}

impl Lpar {
    pub fn from_row(row: &[String]) -> Result<Lpar, Error> {
        let [id, name, state, env, profile] = row else {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::PHYP,
                format!("unexpected partition row '{}' from the HMC", row.join(",")),
            ));
        };
        Ok(Lpar {
            id: u32::try_from(number(id, "partition id")?).unwrap_or(u32::MAX),
            name: name.clone(),
            state: state.clone(),
            env: env.clone(),
            profile: profile.clone(),
        })
    }

    /// Running, or on its way there or back: the LPAR holds resources and has an id.
    pub fn is_active(&self) -> bool {
        self.state != "Not Activated"
    }

    /// libvirt's `phypGetLparState`: three states it knows, NOSTATE for the rest (Starting,
    /// Open Firmware, Error, ...).
    pub fn domain_state(&self) -> i32 {
        use virt_core::consts::domain_state as state;
        match self.state.as_str() {
            "Running" => state::RUNNING,
            "Not Activated" => state::SHUTOFF,
            "Shutting Down" => state::SHUTDOWN,
            _ => state::NOSTATE,
        }
    }

    /// A stable UUID: the HMC of the time had none to give, and libvirt kept a table of random
    /// ones in the user's home on the HMC. This is a name-based UUID of the managed system and
    /// the partition id instead, the same from every client and after any restart.
    pub fn uuid(&self, system: &str) -> Uuid {
        const NAMESPACE: Uuid = Uuid::from_bytes([
            0x5a, 0x0e, 0x7b, 0x64, 0x2c, 0x61, 0x4f, 0x0e, 0x9d, 0x4d, 0x6b, 0x9e, 0x1a, 0x57,
            0x70, 0x68,
        ]);
        Uuid::new_v5(&NAMESPACE, format!("{system}/{}", self.id).as_bytes())
    }
}

/// Memory (MB) and processors of a partition: what it holds now when active, what its
/// profile asks for when not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub max_mem_mb: u64,
    pub mem_mb: u64,
    pub max_procs: u64,
    pub procs: u64,
}

/// The domain XML of a partition, in libvirt's form (the definition read back by virt-xml,
/// so it is written as libvirt writes any domain).
pub fn domain_xml(
    lpar: &Lpar,
    uuid: &Uuid,
    resources: &Resources,
    live: bool,
) -> Result<String, Error> {
    let id = if live && lpar.is_active() {
        format!(" id='{}'", lpar.id)
    } else {
        String::new()
    };
    let current = if resources.procs < resources.max_procs {
        format!(" current='{}'", resources.procs)
    } else {
        String::new()
    };
    let text = format!(
        "<domain type='phyp'{id}><name>{}</name><uuid>{uuid}</uuid>\
         <memory unit='KiB'>{}</memory><currentMemory unit='KiB'>{}</currentMemory>\
         <vcpu placement='static'{current}>{}</vcpu>\
         <os><type arch='{ARCH}'>{OS_TYPE}</type></os></domain>",
        escaped(&lpar.name),
        resources.max_mem_mb * 1024,
        resources.mem_mb * 1024,
        resources.max_procs,
    );
    Ok(Domain::parse(&text)?.format(&FormatOptions::default()))
}

fn escaped(text: &str) -> String {
    let mut out = String::new();
    virt_xml::xml::escape_into(&mut out, text);
    out
}

/// What `mksyscfg -r lpar` makes of a definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub resources: Resources,
}

fn unsupported(message: String) -> Error {
    Error::new(ErrorNumber::CONFIG_UNSUPPORTED, ErrorDomain::PHYP, message)
}

/// Reads a definition as libvirt's PHYP driver would accept it: type `phyp`, OS type
/// `linux`, memory and vCPUs; devices it cannot make an LPAR of are refused by name rather
/// than dropped.
pub fn definition(xml: &str) -> Result<Definition, Error> {
    let domain = Domain::parse(xml)?;
    let os_type = domain
        .os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|t| t.os_type.as_ref())
        .map(|t| t.as_str().to_string());
    let arch = domain
        .os
        .as_ref()
        .and_then(|os| os.os_type.as_ref())
        .and_then(|t| t.arch.clone());
    let virt_type = domain.virt_type.map(|t| t.as_str().to_string());
    if domain.virt_type != Some(VirtType::Phyp)
        || os_type.as_deref() != Some(OS_TYPE)
        || arch.as_deref().is_some_and(|arch| arch != ARCH)
    {
        let mut wanted = String::new();
        if let Some(os_type) = &os_type {
            wanted.push_str(&format!("ostype={os_type} "));
        }
        if let Some(arch) = &arch {
            wanted.push_str(&format!("arch={arch} "));
        }
        if let Some(virt_type) = &virt_type {
            wanted.push_str(&format!("domaintype={virt_type} "));
        }
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::PHYP,
            format!("could not find capabilities for {}", wanted.trim_end()),
        ));
    }
    let name = domain.name().to_string();
    if !is_shell_safe(&name) || name.contains(['@', ':', '+']) {
        return Err(unsupported(format!(
            "partition name '{name}' holds characters an HMC does not accept \
             (letters, digits, '-', '_' and '.' only)"
        )));
    }
    let devices = &domain.devices;
    let present = [
        ("disk", devices.disks.len()),
        ("interface", devices.interfaces.len()),
        ("filesystem", devices.filesystems.len()),
        ("hostdev", devices.hostdevs.len()),
        ("graphics", devices.graphics.len()),
    ];
    if let Some((device, _)) = present.iter().find(|(_, count)| *count > 0) {
        return Err(unsupported(format!(
            "phyp: <{device}> devices cannot be defined on a partition by this driver \
             (virtual SCSI and Ethernet adapters are the VIOS's)"
        )));
    }
    let max_kib = domain.memory.as_ref().map_or(0, |m| m.size.0);
    let cur_kib = domain.current_memory.as_ref().map_or(max_kib, |m| m.0);
    let max_procs = domain.vcpu.as_ref().and_then(|v| v.count).unwrap_or(1);
    let procs = domain
        .vcpu
        .as_ref()
        .and_then(|v| v.current)
        .unwrap_or(max_procs);
    if max_kib == 0 {
        return Err(unsupported(
            "phyp: a partition needs <memory> (the HMC assigns memory in MB)".to_string(),
        ));
    }
    // The HMC counts memory in MB: libvirt's KiB round up so the guest never gets less.
    Ok(Definition {
        name,
        resources: Resources {
            max_mem_mb: max_kib.div_ceil(1024),
            mem_mb: cur_kib.div_ceil(1024),
            max_procs: max_procs.into(),
            procs: procs.into(),
        },
    })
}

/// `mksyscfg -r lpar -i "..."`: the partition with a profile of the same name, its minimum
/// memory and processors the smallest an LPAR takes, its desired ones the definition's.
pub fn mksyscfg(console: &Console, definition: &Definition) -> String {
    let r = &definition.resources;
    let attributes = format!(
        "name={name},profile_name={name},lpar_env=aixlinux,min_mem={min_mem},\
         desired_mem={mem},max_mem={max_mem},min_procs=1,desired_procs={procs},\
         max_procs={max_procs},boot_mode=norm",
        name = definition.name,
        min_mem = r.mem_mb.min(256),
        mem = r.mem_mb,
        max_mem = r.max_mem_mb,
        procs = r.procs,
        max_procs = r.max_procs,
    );
    console.command(
        "mksyscfg",
        &["-r", "lpar", "-i", &format!("\"{attributes}\"")],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hmc() -> Console {
        Console {
            managed_system: Some("p570".into()),
        }
    }

    #[test]
    fn commands_name_the_managed_system_on_an_hmc_only() {
        assert_eq!(
            hmc().command("lssyscfg", &["-r", "lpar", "-F", LPAR_FIELDS]),
            "lssyscfg -m p570 -r lpar -F lpar_id,name,state,lpar_env,curr_profile"
        );
        let ivm = Console {
            managed_system: None,
        };
        assert_eq!(ivm.command("lssyscfg", &["-r", "sys"]), "lssyscfg -r sys");
    }

    #[test]
    fn rows_split_at_unquoted_commas() {
        assert_eq!(
            rows("1,lpar01,Running\n2,\"a,b\",Not Activated\n\n"),
            vec![
                vec!["1".to_string(), "lpar01".into(), "Running".into()],
                vec!["2".to_string(), "a,b".into(), "Not Activated".into()],
            ]
        );
        assert!(rows("No results were found.\n").is_empty());
        assert_eq!(number("8.0", "units").expect("a number"), 8);
        assert!(number("x", "units").is_err());
    }

    #[test]
    fn states_as_libvirt_mapped_them() {
        use virt_core::consts::domain_state as state;
        let lpar = |s: &str| Lpar {
            id: 3,
            name: "a".into(),
            state: s.into(),
            env: "aixlinux".into(),
            profile: "a".into(),
        };
        assert_eq!(lpar("Running").domain_state(), state::RUNNING);
        assert_eq!(lpar("Not Activated").domain_state(), state::SHUTOFF);
        assert_eq!(lpar("Shutting Down").domain_state(), state::SHUTDOWN);
        assert_eq!(lpar("Open Firmware").domain_state(), state::NOSTATE);
        assert_eq!(lpar("Running").uuid("p570"), lpar("Error").uuid("p570"));
        assert_ne!(lpar("Running").uuid("p570"), lpar("Running").uuid("p590"));
    }

    #[test]
    fn a_definition_round_trips_through_an_lpar() {
        let xml = "<domain type='phyp'><name>web1</name><memory unit='MiB'>2048</memory>\
                   <currentMemory unit='KiB'>1000000</currentMemory>\
                   <vcpu current='2'>4</vcpu><os><type>linux</type></os></domain>";
        let def = definition(xml).expect("valid");
        assert_eq!(
            def.resources,
            Resources {
                max_mem_mb: 2048,
                mem_mb: 977,
                max_procs: 4,
                procs: 2
            }
        );
        assert_eq!(
            mksyscfg(&hmc(), &def),
            "mksyscfg -m p570 -r lpar -i \"name=web1,profile_name=web1,lpar_env=aixlinux,\
             min_mem=256,desired_mem=977,max_mem=2048,min_procs=1,desired_procs=2,\
             max_procs=4,boot_mode=norm\""
        );
        let lpar = Lpar {
            id: 7,
            name: "web1".into(),
            state: "Running".into(),
            env: "aixlinux".into(),
            profile: "web1".into(),
        };
        let uuid = lpar.uuid("p570");
        let text = domain_xml(&lpar, &uuid, &def.resources, true).expect("xml");
        assert!(text.starts_with("<domain type='phyp' id='7'>"), "{text}");
        assert!(
            text.contains("<vcpu placement='static' current='2'>4</vcpu>"),
            "{text}"
        );
        assert!(text.contains("<type arch='ppc64'>linux</type>"), "{text}");
        assert_eq!(
            definition(&text).expect("its own XML").resources,
            def.resources
        );
    }

    #[test]
    fn refusals_name_what_and_why() {
        let kvm = "<domain type='kvm'><name>a</name><memory>1024</memory>\
                   <os><type>hvm</type></os></domain>";
        let error = definition(kvm).expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert!(
            error
                .message()
                .ends_with("could not find capabilities for ostype=hvm domaintype=kvm"),
            "{error}"
        );
        let disk = "<domain type='phyp'><name>a</name><memory>1024</memory>\
                    <os><type>linux</type></os><devices><disk type='file'>\
                    <source file='/x'/><target dev='sda'/></disk></devices></domain>";
        let error = definition(disk).expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
        assert!(error.message().contains("<disk>"), "{error}");
        let bad_name = "<domain type='phyp'><name>a b</name><memory>1024</memory>\
                        <os><type>linux</type></os></domain>";
        assert!(definition(bad_name).is_err());
    }
}
