//! Hypervisor-specific XML namespaces in a domain: `qemu:` (command-line passthrough,
//! capability overrides, device property overrides, deprecation behaviour), `lxc:`
//! (sharing namespaces with other processes) and `bhyve:` (command-line passthrough).
//! `vmware:` and `xen:` (device model arguments of libvirt's libxl driver) follow the same rules.
//!
//! libvirt finds these elements by namespace URI whatever prefix the document used, and always
//! writes them with the `qemu:`/`lxc:` prefix and the declaration on `<domain>`.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::xml::{Node, Writer};
use crate::Result;

pub const QEMU_NAMESPACE: &str = "http://libvirt.org/schemas/domain/qemu/1.0";
pub const LXC_NAMESPACE: &str = "http://libvirt.org/schemas/domain/lxc/1.0";
pub const BHYVE_NAMESPACE: &str = "http://libvirt.org/schemas/domain/bhyve/1.0";
/// libvirt's VMware/ESX driver namespace.
pub const VMWARE_NAMESPACE: &str = "http://libvirt.org/schemas/domain/vmware/1.0";
/// libvirt's libxl (Xen) driver namespace.
pub const XEN_NAMESPACE: &str = "http://libvirt.org/schemas/domain/xen/1.0";

/// Children of `node` in namespace `uri` with local name `local`.
fn ns_children<'n, 'a>(
    node: &'n Node<'a>,
    scope: &'n [(String, String)],
    uri: &'n str,
    local: &'n str,
) -> impl Iterator<Item = &'n Node<'a>> + 'n {
    node.children().filter(move |child| {
        if child.local_name() != local {
            return false;
        }
        let prefix = child.prefix().unwrap_or("");
        let declared = if prefix.is_empty() {
            child.attr("xmlns")
        } else {
            child.namespace_of(prefix)
        };
        let resolved = declared.or_else(|| {
            scope
                .iter()
                .rev()
                .find(|(p, _)| p == prefix)
                .map(|(_, u)| u.as_str())
        });
        resolved == Some(uri)
    })
}

/// Scope seen by a child: the inherited declarations plus the child's own.
fn child_scope(node: &Node<'_>, inherited: &[(String, String)]) -> Vec<(String, String)> {
    let mut scope = inherited.to_vec();
    for (key, value) in node.attrs() {
        if let Some(prefix) = key.strip_prefix("xmlns:") {
            scope.push((prefix.to_string(), value.to_string()));
        } else if key == "xmlns" {
            scope.push((String::new(), value.to_string()));
        }
    }
    scope
}

/// `<qemu:env name value/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuEnv {
    pub name: String,
    pub value: Option<String>,
}

/// `<qemu:property name type value/>` of a device override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuProperty {
    pub name: String,
    pub property_type: String,
    pub value: Option<String>,
}

/// `<qemu:device alias><qemu:frontend>...</qemu:frontend></qemu:device>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuDeviceOverride {
    pub alias: String,
    pub frontend: Vec<QemuProperty>,
}

/// The `qemu:` namespace of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QemuNamespace {
    pub args: Vec<String>,
    pub env: Vec<QemuEnv>,
    pub capabilities_add: Vec<String>,
    pub capabilities_del: Vec<String>,
    pub overrides: Vec<QemuDeviceOverride>,
    pub deprecation_behavior: Option<String>,
}

fn internal(message: &str) -> Error {
    Error::new(ErrorNumber::INTERNAL_ERROR, ErrorDomain::QEMU, message)
}

fn xml_error(message: &str) -> Error {
    Error::new(ErrorNumber::XML_ERROR, ErrorDomain::QEMU, message)
}

impl QemuNamespace {
    /// Reads the `qemu:` elements under `<domain>`; `None` when there are none.
    pub fn from_domain_node(node: &Node<'_>, scope: &[(String, String)]) -> Result<Option<Self>> {
        let mut ns = QemuNamespace::default();
        let uri = QEMU_NAMESPACE;
        for cmdline in ns_children(node, scope, uri, "commandline") {
            let scope = child_scope(cmdline, scope);
            for arg in ns_children(cmdline, &scope, uri, "arg") {
                let value = arg
                    .attr("value")
                    .ok_or_else(|| internal("No qemu command-line argument specified"))?;
                ns.args.push(value.to_string());
            }
            for env in ns_children(cmdline, &scope, uri, "env") {
                let name = env
                    .attr("name")
                    .ok_or_else(|| internal("No qemu environment name specified"))?;
                if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                    return Err(internal(
                        "Invalid environment name, it must begin with a letter or underscore",
                    ));
                }
                if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(internal(
                        "Invalid environment name, it must contain only alphanumerics and underscore",
                    ));
                }
                ns.env.push(QemuEnv {
                    name: name.to_string(),
                    value: env.attr("value").map(str::to_string),
                });
            }
        }
        for caps in ns_children(node, scope, uri, "capabilities") {
            let scope = child_scope(caps, scope);
            for add in ns_children(caps, &scope, uri, "add") {
                let name = add
                    .attr("capability")
                    .ok_or_else(|| internal("missing capability name"))?;
                ns.capabilities_add.push(name.to_string());
            }
            for del in ns_children(caps, &scope, uri, "del") {
                let name = del
                    .attr("capability")
                    .ok_or_else(|| internal("missing capability name"))?;
                ns.capabilities_del.push(name.to_string());
            }
        }
        for over in ns_children(node, scope, uri, "override") {
            let scope = child_scope(over, scope);
            for device in ns_children(over, &scope, uri, "device") {
                let alias = device
                    .attr("alias")
                    .ok_or_else(|| xml_error("missing 'alias' attribute for qemu:device"))?;
                let dev_scope = child_scope(device, &scope);
                let mut frontend = Vec::new();
                for front in ns_children(device, &dev_scope, uri, "frontend") {
                    let front_scope = child_scope(front, &dev_scope);
                    for prop in ns_children(front, &front_scope, uri, "property") {
                        let name = prop.attr("name").ok_or_else(|| {
                            xml_error("missing 'name' attribute for qemu:property")
                        })?;
                        if name == "id" {
                            return Err(xml_error("property with name 'id' can't be overridden"));
                        }
                        let property_type = prop.attr("type").unwrap_or("").to_string();
                        if !matches!(
                            property_type.as_str(),
                            "string" | "signed" | "unsigned" | "bool" | "remove"
                        ) {
                            return Err(crate::xml::invalid_attr(prop, "type", &property_type, ""));
                        }
                        let value = prop.attr("value").map(str::to_string);
                        if value.is_none() && property_type != "remove" {
                            return Err(xml_error("missing 'value' attribute for 'qemu:property'"));
                        }
                        frontend.push(QemuProperty {
                            name: name.to_string(),
                            property_type,
                            value,
                        });
                    }
                }
                ns.overrides.push(QemuDeviceOverride {
                    alias: alias.to_string(),
                    frontend,
                });
            }
        }
        if let Some(deprecation) = ns_children(node, scope, uri, "deprecation").next() {
            ns.deprecation_behavior = deprecation.attr("behavior").map(str::to_string);
        }
        Ok(if ns.is_empty() && !has_any(node, scope, uri) {
            None
        } else {
            Some(ns)
        })
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
            && self.env.is_empty()
            && self.capabilities_add.is_empty()
            && self.capabilities_del.is_empty()
            && self.overrides.is_empty()
            && self.deprecation_behavior.is_none()
    }

    /// Writes the elements (the declaration goes on `<domain>`).
    pub fn write(&self, w: &mut Writer) {
        if !self.args.is_empty() || !self.env.is_empty() {
            let mark = w.open("qemu:commandline");
            for arg in &self.args {
                let m = w.open("qemu:arg");
                w.attr("value", arg);
                w.close(m, "qemu:arg", false);
            }
            for env in &self.env {
                let m = w.open("qemu:env");
                w.attr("name", &env.name);
                if let Some(value) = &env.value {
                    w.attr("value", value);
                }
                w.close(m, "qemu:env", false);
            }
            w.close(mark, "qemu:commandline", false);
        }
        if !self.capabilities_add.is_empty() || !self.capabilities_del.is_empty() {
            let mark = w.open("qemu:capabilities");
            for cap in &self.capabilities_add {
                let m = w.open("qemu:add");
                w.attr("capability", cap);
                w.close(m, "qemu:add", false);
            }
            for cap in &self.capabilities_del {
                let m = w.open("qemu:del");
                w.attr("capability", cap);
                w.close(m, "qemu:del", false);
            }
            w.close(mark, "qemu:capabilities", false);
        }
        if !self.overrides.is_empty() {
            let mark = w.open("qemu:override");
            for device in &self.overrides {
                let m = w.open("qemu:device");
                w.attr("alias", &device.alias);
                let f = w.open("qemu:frontend");
                for prop in &device.frontend {
                    let p = w.open("qemu:property");
                    w.attr("name", &prop.name);
                    w.attr("type", &prop.property_type);
                    if let Some(value) = &prop.value {
                        w.attr("value", value);
                    }
                    w.close(p, "qemu:property", false);
                }
                w.close(f, "qemu:frontend", true);
                w.close(m, "qemu:device", true);
            }
            w.close(mark, "qemu:override", true);
        }
        if let Some(behavior) = &self.deprecation_behavior {
            let m = w.open("qemu:deprecation");
            w.attr("behavior", behavior);
            w.close(m, "qemu:deprecation", false);
        }
    }
}

fn has_any(node: &Node<'_>, scope: &[(String, String)], uri: &str) -> bool {
    ["commandline", "capabilities", "override", "deprecation"]
        .iter()
        .any(|local| ns_children(node, scope, uri, local).next().is_some())
}

/// `<lxc:sharenet|shareipc|shareuts type value/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LxcShare {
    /// `sharenet`, `shareipc` or `shareuts`.
    pub namespace: String,
    /// `name`, `pid` or `netns`.
    pub source_type: String,
    pub value: String,
}

/// The `lxc:` namespace of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LxcNamespace {
    pub shares: Vec<LxcShare>,
}

impl LxcNamespace {
    const KINDS: [&'static str; 3] = ["sharenet", "shareipc", "shareuts"];

    /// Reads `<lxc:namespace>`; `None` when absent.
    pub fn from_domain_node(node: &Node<'_>, scope: &[(String, String)]) -> Result<Option<Self>> {
        let uri = LXC_NAMESPACE;
        let Some(namespace) = ns_children(node, scope, uri, "namespace").next() else {
            return Ok(None);
        };
        let mut shares: Vec<LxcShare> = Vec::new();
        for child in namespace.children() {
            let kind = child.local_name();
            if !Self::KINDS.contains(&kind) {
                return Err(Error::new(
                    ErrorNumber::CONFIG_UNSUPPORTED,
                    ErrorDomain::LXC,
                    format!("Unknown LXC namespace source '{kind}'"),
                ));
            }
            let source_type = child.attr("type").ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::LXC,
                    "No lxc environment type specified",
                )
            })?;
            if !matches!(source_type, "name" | "pid" | "netns") {
                return Err(Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::LXC,
                    format!("Unknown LXC namespace source '{source_type}'"),
                ));
            }
            let value = child.attr("value").ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::LXC,
                    "No lxc environment type specified",
                )
            })?;
            shares.push(LxcShare {
                namespace: kind.to_string(),
                source_type: source_type.to_string(),
                value: value.to_string(),
            });
        }
        // libvirt keeps one entry per kind and writes them in its enum order.
        shares.sort_by_key(|share| Self::KINDS.iter().position(|k| *k == share.namespace));
        shares.dedup_by(|a, b| a.namespace == b.namespace);
        Ok(Some(LxcNamespace { shares }))
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes `<lxc:namespace>`.
    pub fn write(&self, w: &mut Writer) {
        let mark = w.open("lxc:namespace");
        for share in &self.shares {
            let name = format!("lxc:{}", share.namespace);
            let m = w.open(&name);
            w.attr("type", &share.source_type);
            w.attr("value", &share.value);
            w.close(m, &name, false);
        }
        w.close_as(mark, "lxc:namespace", crate::xml::EmptyStyle::Expanded);
    }
}

/// The `bhyve:` namespace of a domain: `<bhyve:commandline><bhyve:arg value/>`, arguments
/// added to bhyve's command line before the guest's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BhyveNamespace {
    pub args: Vec<String>,
}

impl BhyveNamespace {
    /// Reads `<bhyve:commandline>`; `None` when absent.
    pub fn from_domain_node(node: &Node<'_>, scope: &[(String, String)]) -> Result<Option<Self>> {
        let uri = BHYVE_NAMESPACE;
        // libvirt's XPath takes the arguments of every `<bhyve:commandline>`, in order.
        let mut found = false;
        let mut args = Vec::new();
        for commandline in ns_children(node, scope, uri, "commandline") {
            found = true;
            let inner = child_scope(commandline, scope);
            for arg in ns_children(commandline, &inner, uri, "arg") {
                args.push(arg.attr("value").map(str::to_string).ok_or_else(|| {
                    Error::new(
                        ErrorNumber::INTERNAL_ERROR,
                        ErrorDomain::DOMAIN,
                        "No bhyve command-line argument specified",
                    )
                })?);
            }
        }
        Ok(found.then_some(BhyveNamespace { args }))
    }

    /// libvirt writes nothing for an empty command line.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Writes `<bhyve:commandline>`.
    pub fn write(&self, w: &mut Writer) {
        if self.is_empty() {
            return;
        }
        let mark = w.open("bhyve:commandline");
        for arg in &self.args {
            let m = w.open("bhyve:arg");
            w.attr("value", arg);
            w.close(m, "bhyve:arg", false);
        }
        w.close_as(mark, "bhyve:commandline", crate::xml::EmptyStyle::Expanded);
    }
}

/// `vmware:` extensions of libvirt's ESX driver: where a machine lives in vCenter's
/// inventory (`<vmware:datacenterpath>`) and its managed object id (`<vmware:moref>`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmwareNamespace {
    pub datacenter_path: Option<String>,
    pub moref: Option<String>,
}

impl VmwareNamespace {
    /// Reads the first of each element, as libvirt's XPath; `None` when neither is there.
    pub fn from_domain_node(node: &Node<'_>, scope: &[(String, String)]) -> Result<Option<Self>> {
        let first = |name: &str| {
            ns_children(node, scope, VMWARE_NAMESPACE, name)
                .next()
                .map(|element| element.text().into_owned())
        };
        let namespace = VmwareNamespace {
            datacenter_path: first("datacenterpath"),
            moref: first("moref"),
        };
        Ok((!namespace.is_empty()).then_some(namespace))
    }

    pub fn is_empty(&self) -> bool {
        self.datacenter_path.is_none() && self.moref.is_none()
    }

    /// Writes `<vmware:datacenterpath>` then `<vmware:moref>`.
    pub fn write(&self, w: &mut Writer) {
        if let Some(path) = &self.datacenter_path {
            w.text_element("vmware:datacenterpath", path);
        }
        if let Some(moref) = &self.moref {
            w.text_element("vmware:moref", moref);
        }
    }
}

/// The `xen:` namespace of libvirt's libxl driver: `<xen:commandline><xen:arg value/>`,
/// arguments passed to the device model (`device_model_args` in an `xl` file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XenNamespace {
    pub args: Vec<String>,
}

impl XenNamespace {
    /// Reads `<xen:commandline>`; `None` when absent.
    pub fn from_domain_node(node: &Node<'_>, scope: &[(String, String)]) -> Result<Option<Self>> {
        let uri = XEN_NAMESPACE;
        // libvirt's XPath takes the arguments of every `<xen:commandline>`, in order.
        let mut found = false;
        let mut args = Vec::new();
        for commandline in ns_children(node, scope, uri, "commandline") {
            found = true;
            let inner = child_scope(commandline, scope);
            for arg in ns_children(commandline, &inner, uri, "arg") {
                args.push(arg.attr("value").map(str::to_string).ok_or_else(|| {
                    Error::new(
                        ErrorNumber::INTERNAL_ERROR,
                        ErrorDomain::DOMAIN,
                        "No device model command-line argument specified",
                    )
                })?);
            }
        }
        Ok(found.then_some(XenNamespace { args }))
    }

    /// libvirt writes nothing for an empty command line.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Writes `<xen:commandline>`.
    pub fn write(&self, w: &mut Writer) {
        if self.is_empty() {
            return;
        }
        let mark = w.open("xen:commandline");
        for arg in &self.args {
            let m = w.open("xen:arg");
            w.attr("value", arg);
            w.close(m, "xen:arg", false);
        }
        w.close_as(mark, "xen:commandline", crate::xml::EmptyStyle::Expanded);
    }
}
