//! The WMI side of Hyper-V as libvirt's driver reads it, pure: the classes' URIs, the WQL
//! queries, a virtual machine (`Msvm_ComputerSystem`) and its states, and the domain XML made
//! of a machine and its settings (or read for `DefineSystem`).

use virt_core::consts::domain_state as state;
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_xml::domain::{Domain, FormatOptions, VirtType};

use crate::wsman::Instance;

const VIRTUALIZATION: &str = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2";
const CIMV2: &str = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2";

/// A WMI class: where it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub name: &'static str,
    cimv2: bool,
}

impl Class {
    const fn virtualization(name: &'static str) -> Class {
        Class { name, cimv2: false }
    }
    const fn cimv2(name: &'static str) -> Class {
        Class { name, cimv2: true }
    }

    fn root(&self) -> &'static str {
        if self.cimv2 {
            CIMV2
        } else {
            VIRTUALIZATION
        }
    }

    /// What `Enumerate` names: the namespace, `*` for every class.
    pub fn namespace_uri(&self) -> String {
        format!("{}/*", self.root())
    }

    /// What `Pull` and `Invoke` name.
    pub fn uri(&self) -> String {
        format!("{}/{}", self.root(), self.name)
    }
}

pub const COMPUTER_SYSTEM: Class = Class::virtualization("Msvm_ComputerSystem");
pub const SETTINGS: Class = Class::virtualization("Msvm_VirtualSystemSettingData");
pub const PROCESSOR_SETTINGS: Class = Class::virtualization("Msvm_ProcessorSettingData");
pub const MEMORY_SETTINGS: Class = Class::virtualization("Msvm_MemorySettingData");
pub const SHUTDOWN_COMPONENT: Class = Class::virtualization("Msvm_ShutdownComponent");
pub const CONCRETE_JOB: Class = Class::virtualization("Msvm_ConcreteJob");
pub const MANAGEMENT_SERVICE: Class = Class::virtualization("Msvm_VirtualSystemManagementService");
pub const OPERATING_SYSTEM: Class = Class::cimv2("Win32_OperatingSystem");
pub const HOST_SYSTEM: Class = Class::cimv2("Win32_ComputerSystem");
pub const PROCESSOR: Class = Class::cimv2("Win32_Processor");

/// WQL strings quote with `'`; libvirt's `virBufferEscapeSQL` doubles nothing but escapes
/// the quote and the backslash.
pub fn quoted(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Every virtual machine (the host's own `Msvm_ComputerSystem` is named after the server).
pub fn machines_query() -> String {
    "SELECT * FROM Msvm_ComputerSystem WHERE Name != __SERVER".to_string()
}

pub fn settings_query(machine_name: &str) -> String {
    format!(
        "ASSOCIATORS OF {{Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name={}}} \
         WHERE AssocClass = Msvm_SettingsDefineState ResultClass = Msvm_VirtualSystemSettingData",
        quoted(machine_name)
    )
}

pub fn component_query(settings_id: &str, result: Class) -> String {
    format!(
        "ASSOCIATORS OF {{Msvm_VirtualSystemSettingData.InstanceID={}}} \
         WHERE AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = {}",
        quoted(settings_id),
        result.name
    )
}

pub fn processors_query(host_name: &str) -> String {
    format!(
        "ASSOCIATORS OF {{Win32_ComputerSystem.Name={}}} \
         WHERE AssocClass = Win32_ComputerSystemProcessor ResultClass = Win32_Processor",
        quoted(host_name)
    )
}

/// `RequestStateChange` states (`Msvm_ComputerSystem.RequestedState`).
pub mod requested {
    pub const ENABLED: u32 = 2;
    pub const DISABLED: u32 = 3;
    pub const QUIESCE: u32 = 9;
    pub const REBOOT: u32 = 10;
    pub const RESET: u32 = 11;
}

/// `EnabledState` values that matter to the mapping.
const PAUSED: u64 = 32768;
const SUSPENDED: u64 = 32769;
const STOPPING: u64 = 32774;

/// A virtual machine as `Msvm_ComputerSystem` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// The GUID WMI names it by, which is libvirt's UUID.
    pub name: String,
    pub uuid: Uuid,
    pub element_name: String,
    pub enabled_state: u64,
    pub process_id: Option<i32>,
}

impl Machine {
    pub fn from_instance(instance: &Instance) -> Result<Machine, Error> {
        let name = instance.get("Name").unwrap_or_default().to_string();
        let uuid = virt_core::parse_uuid(&name).ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::HYPERV,
                format!("Could not parse UUID from string '{name}'"),
            )
        })?;
        Ok(Machine {
            name,
            uuid,
            element_name: instance.get("ElementName").unwrap_or_default().to_string(),
            enabled_state: instance.number("EnabledState")?,
            process_id: instance
                .get("ProcessID")
                .and_then(|p| p.trim().parse().ok()),
        })
    }

    /// libvirt's `hypervIsMsvmComputerSystemActive`: running, paused or in a transition
    /// (whose states are all above 32769).
    pub fn is_active(&self) -> bool {
        matches!(self.enabled_state, 2 | PAUSED) || self.in_transition()
    }

    pub fn in_transition(&self) -> bool {
        self.enabled_state > SUSPENDED
    }

    /// libvirt's `hypervMsvmComputerSystemEnabledStateToDomainState`.
    pub fn domain_state(&self) -> i32 {
        match self.enabled_state {
            2 => state::RUNNING,
            3 | SUSPENDED => state::SHUTOFF,
            PAUSED => state::PAUSED,
            STOPPING => state::SHUTDOWN,
            s if s > SUSPENDED && s <= 32777 => state::RUNNING,
            _ => state::NOSTATE,
        }
    }

    /// The domain id: the worker process's id while the machine is active.
    pub fn id(&self) -> i32 {
        if self.is_active() {
            self.process_id.unwrap_or(-1)
        } else {
            -1
        }
    }
}

/// What a machine's settings say: memory in MB, processors, notes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub memory_mb: u64,
    pub memory_limit_mb: u64,
    pub vcpus: u64,
    pub notes: Vec<String>,
}

fn escaped(text: &str) -> String {
    let mut out = String::new();
    virt_xml::xml::escape_into(&mut out, text);
    out
}

/// The domain XML libvirt's `hypervDomainGetXMLDesc` builds (devices aside): notes as the
/// description, the memory limit as `<maxMemory>`, the quantity as memory, one vCPU count.
pub fn domain_xml(machine: &Machine, settings: &Settings) -> Result<String, Error> {
    let id = match machine.id() {
        -1 => String::new(),
        id => format!(" id='{id}'"),
    };
    let description = if settings.notes.is_empty() {
        String::new()
    } else {
        format!(
            "<description>{}</description>",
            escaped(&settings.notes.join("\n\n"))
        )
    };
    let text = format!(
        "<domain type='hyperv'{id}><name>{}</name><uuid>{}</uuid>{description}\
         <maxMemory slots='0' unit='KiB'>{}</maxMemory>\
         <memory unit='KiB'>{}</memory><currentMemory unit='KiB'>{}</currentMemory>\
         <vcpu placement='static'>{}</vcpu><os><type>hvm</type></os></domain>",
        escaped(&machine.element_name),
        machine.uuid,
        settings.memory_limit_mb * 1024,
        settings.memory_mb * 1024,
        settings.memory_mb * 1024,
        settings.vcpus,
    );
    Ok(Domain::parse(&text)?.format(&FormatOptions::default()))
}

/// What `DefineSystem` and the settings changes after it are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    /// Hyper-V names a new machine itself; a UUID given is only checked for a clash.
    pub uuid: Option<Uuid>,
    pub memory_mb: Option<u64>,
    pub vcpus: Option<u32>,
    pub description: Option<String>,
}

/// Reads a definition as libvirt's Hyper-V driver takes one: type `hyperv`, a name, memory
/// and vCPUs; devices it would attach are refused by name (this driver does not attach them
/// yet) rather than dropped.
pub fn definition(xml: &str) -> Result<Definition, Error> {
    let domain = Domain::parse(xml)?;
    if domain.virt_type != Some(VirtType::Hyperv) {
        let found = domain
            .virt_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        return Err(Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::HYPERV,
            format!("could not find capabilities for domaintype={found}"),
        ));
    }
    let devices = &domain.devices;
    let present = [
        ("disk", devices.disks.len()),
        ("interface", devices.interfaces.len()),
        ("serial", devices.serials.len()),
        ("hostdev", devices.hostdevs.len()),
        ("filesystem", devices.filesystems.len()),
    ];
    if let Some((device, _)) = present.iter().find(|(_, n)| *n > 0) {
        return Err(Error::new(
            ErrorNumber::CONFIG_UNSUPPORTED,
            ErrorDomain::HYPERV,
            format!("hyperv: defining a machine with <{device}> devices is not supported yet"),
        ));
    }
    let memory_kib = domain
        .current_memory
        .as_ref()
        .map(|m| m.0)
        .or(domain.memory.as_ref().map(|m| m.size.0));
    Ok(Definition {
        name: domain.name().to_string(),
        uuid: domain.uuid,
        memory_mb: memory_kib.map(|kib| kib.div_ceil(1024)),
        vcpus: domain.vcpu.as_ref().and_then(|v| v.count),
        description: domain.description.clone(),
    })
}

/// libvirt's CPU model for nodeinfo: the processor's name without `(R)`, `(TM)`, doubled
/// spaces and the ` @ clock` tail.
pub fn cpu_model(name: &str) -> String {
    let mut model = name
        .replace("(R)", "")
        .replace("(C)", "")
        .replace("(TM)", "");
    if let Some(at) = model.find(" @ ") {
        model.truncate(at);
    }
    while model.contains("  ") {
        model = model.replace("  ", " ");
    }
    model.chars().take(31).collect()
}

/// What a method's return value means (CIM's and Hyper-V's codes, as libvirt names them).
pub fn return_code_text(code: i64) -> &'static str {
    match code {
        0 => "Completed with no error",
        1 => "Not supported",
        2 => "Unknown error",
        3 => "Cannot complete within timeout period",
        4 => "Failed",
        5 => "Invalid parameter",
        6 => "In use",
        4096 => "Transition started",
        4097 => "Invalid state transition",
        4098 => "Timeout parameter not supported",
        4099 => "Busy",
        32768 => "Failed",
        32769 => "Access denied",
        32770 => "Not supported",
        32771 => "Status is unknown",
        32772 => "Timeout",
        32773 => "Invalid parameter",
        32774 => "System is in use",
        32775 => "Invalid state for this operation",
        32776 => "Incorrect data type",
        32777 => "System is not available",
        32778 => "Out of memory",
        _ => "Unknown return code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(state: u64) -> Machine {
        Machine {
            name: "4A62D6F1-3E2B-4C52-8C7A-2B1B5C0D4E01".into(),
            uuid: virt_core::parse_uuid("4A62D6F1-3E2B-4C52-8C7A-2B1B5C0D4E01").expect("uuid"),
            element_name: "web01".into(),
            enabled_state: state,
            process_id: Some(4321),
        }
    }

    #[test]
    fn states_and_ids_as_libvirt_maps_them() {
        assert_eq!(machine(2).domain_state(), state::RUNNING);
        assert_eq!(machine(3).domain_state(), state::SHUTOFF);
        assert_eq!(machine(32768).domain_state(), state::PAUSED);
        assert_eq!(machine(32769).domain_state(), state::SHUTOFF);
        assert_eq!(machine(32774).domain_state(), state::SHUTDOWN);
        assert_eq!(machine(32770).domain_state(), state::RUNNING);
        assert_eq!(machine(0).domain_state(), state::NOSTATE);
        assert_eq!(machine(2).id(), 4321);
        assert_eq!(machine(3).id(), -1);
        assert!(machine(32770).in_transition() && machine(32770).is_active());
    }

    #[test]
    fn xml_of_a_machine_round_trips_to_a_definition() {
        let settings = Settings {
            memory_mb: 2048,
            memory_limit_mb: 1_048_576,
            vcpus: 2,
            notes: vec!["frontend".into()],
        };
        let xml = domain_xml(&machine(2), &settings).expect("xml");
        assert!(xml.starts_with("<domain type='hyperv' id='4321'>"), "{xml}");
        assert!(xml.contains("<description>frontend</description>"), "{xml}");
        assert!(xml.contains("<memory unit='KiB'>2097152</memory>"), "{xml}");
        assert!(xml.contains("<vcpu placement='static'>2</vcpu>"), "{xml}");
        let def = definition(&xml).expect("its own XML");
        assert_eq!(
            (def.name.as_str(), def.memory_mb, def.vcpus),
            ("web01", Some(2048), Some(2))
        );
    }

    #[test]
    fn definitions_refuse_what_cannot_be_made() {
        let kvm = "<domain type='kvm'><name>a</name><memory>1024</memory>\
                   <os><type>hvm</type></os></domain>";
        let error = definition(kvm).expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        let disk = "<domain type='hyperv'><name>a</name><memory>1024</memory>\
                    <os><type>hvm</type></os><devices><disk type='file'>\
                    <source file='/x'/><target dev='sda'/></disk></devices></domain>";
        let error = definition(disk).expect_err("refused");
        assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
    }

    #[test]
    fn versions_models_and_queries() {
        assert_eq!(
            cpu_model("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz"),
            "Intel Xeon CPU E5-2670 0"
        );
        assert_eq!(quoted("it's"), "'it\\'s'");
        assert!(settings_query("G").contains("Name='G'}"));
        assert_eq!(
            COMPUTER_SYSTEM.uri(),
            "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/Msvm_ComputerSystem"
        );
    }
}
