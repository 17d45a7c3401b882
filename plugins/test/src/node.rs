//! The node a connection sees: libvirt's default test node, or a custom node document
//! (`test:///PATH.xml`), loaded into a freshly created space.
//!
//! A node document is `<node>` with optional `<cpu>`/`<memory>` facts and any number of
//! `<domain>`, `<network>`, `<interface>`, `<pool>` (with `<volume>`s) and `<device>`
//! elements; any of them may instead name a file (`<domain file='dom.xml'/>`, relative to the
//! node document). Domains may carry the test namespace
//! (`xmlns:test='http://libvirt.org/schemas/domain/test/1.0'`): `<test:runstate>`,
//! `<test:transient/>`, `<test:hasmanagedsave/>` and `<test:domainsnapshot>` elements.

use serde::{Deserialize, Serialize};
use virt_core::consts::{domain_running_reason, domain_state};
use virt_core::{Error, ErrorDomain, ErrorNumber, Result};
use virt_xml::xml::{parse_document, Node};

use crate::domain::def::{DomainDef, TestNamespace};
use crate::domain::{self, Defs, Domain};
use crate::interface::def::InterfaceDef;
use crate::network::def::NetworkDef;
use crate::nodedev::def::NodeDeviceDef;
use crate::space::Space;
use crate::storage::def::{PoolDef, VolumeDef};
use crate::{error, interface, network, nodedev, snapshot, storage};

const KIND_NODE: &str = "node";
const KEY_NODE: &str = "node";

/// `virNodeInfo` plus the NUMA cells of the node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct NodeRecord {
    pub model: String,
    pub memory_kib: u64,
    pub cpus: u32,
    pub mhz: u32,
    pub nodes: u32,
    pub sockets: u32,
    pub cores: u32,
    pub threads: u32,
    pub cells: Vec<Cell>,
}

/// One NUMA cell.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Cell {
    pub memory_kib: u64,
    pub free_kib: u64,
    pub n_cpus: u32,
}

impl Default for NodeRecord {
    /// libvirt's `defaultNodeInfo`, without cells.
    fn default() -> Self {
        NodeRecord {
            model: "i686".to_string(),
            memory_kib: 3 * 1024 * 1024,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
            cells: Vec::new(),
        }
    }
}

/// The node record of the space.
pub(crate) fn get(space: &dyn Space) -> Result<NodeRecord> {
    space
        .load(KIND_NODE, KEY_NODE)?
        .ok_or_else(|| error::internal("the connection has no node"))
}

/// The node `test:///default` starts with: two cells of 8 CPUs each (2 GiB and 4 GiB).
pub(crate) fn populate_default(space: &dyn Space) -> Result<()> {
    let cells = (0..2u64)
        .map(|i| Cell {
            memory_kib: (i + 1) * 2048 * 1024,
            free_kib: (i + 1) * 1024 * 1024,
            n_cpus: 8,
        })
        .collect();
    let node = NodeRecord {
        cells,
        ..NodeRecord::default()
    };
    load_document(space, DEFAULT_NODE_XML, None, node)
}

/// A custom node document at an absolute path.
pub(crate) fn populate_from_file(space: &dyn Space, path: &str) -> Result<()> {
    let bytes = space.read_file(path).map_err(|_| cannot_parse(path))?;
    let text = String::from_utf8(bytes).map_err(|_| cannot_parse(path))?;
    load_document(space, &text, Some(path), NodeRecord::default())
}

/// The label XML errors in a node file get until [`named_after`] puts the path in.
const FILE_LABEL: &str = "(node file)";

/// Parses a file's text, naming the file in syntax errors as libvirt does (`PATH:LINE:...`).
fn parse_file<'a>(text: &'a str, path: &str) -> Result<virt_xml::xml::Document<'a>> {
    parse_document(text, FILE_LABEL, ErrorDomain::TEST).map_err(|e| named_after(e, path))
}

fn named_after(error: Error, path: &str) -> Error {
    match error.message().strip_prefix(FILE_LABEL) {
        Some(rest) => Error::from_parts(error.code(), error.domain(), format!("{path}{rest}")),
        None => error,
    }
}

fn cannot_parse(path: &str) -> Error {
    error::test(
        ErrorNumber::XML_ERROR,
        format!("failed to parse xml document '{path}'"),
    )
}

fn xml_error(detail: impl AsRef<str>) -> Error {
    error::test(ErrorNumber::XML_ERROR, detail)
}

fn load_document(
    space: &dyn Space,
    text: &str,
    file: Option<&str>,
    mut node: NodeRecord,
) -> Result<()> {
    let doc = match file {
        Some(path) => parse_file(text, path)?,
        None => parse_document(text, "(test driver)", ErrorDomain::TEST)?,
    };
    let root = &doc.root;
    if root.name() != "node" {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::XML,
            format!("expecting root element of 'node', not '{}'", root.name()),
        ));
    }
    parse_node_info(root, &mut node)?;
    space.store(KIND_NODE, KEY_NODE, &node)?;

    for element in root.children_named("domain") {
        with_element(space, element, file, |element| {
            load_domain(space, element, file)
        })?;
    }
    for element in root.children_named("network") {
        with_element(space, element, file, |element| {
            network::load(space, NetworkDef::from_node(element)?)
        })?;
    }
    for element in root.children_named("interface") {
        with_element(space, element, file, |element| {
            interface::load(space, InterfaceDef::from_node(element)?)
        })?;
    }
    for element in root.children_named("pool") {
        with_element(space, element, file, |element| {
            let pool = PoolDef::from_node(element)?;
            let mut volumes = Vec::new();
            for volume in element.children_named("volume") {
                with_element(space, volume, file, |volume| {
                    volumes.push(VolumeDef::from_node(&pool, volume)?);
                    Ok(())
                })?;
            }
            storage::load(space, pool, volumes)
        })?;
    }
    for element in root.children_named("device") {
        with_element(space, element, file, |element| {
            nodedev::load(space, NodeDeviceDef::from_node(element)?)
        })?;
    }
    if root.path("auth/user").is_some() {
        // The test driver then asks the client for credentials, which rvirt's plugin
        // interface cannot do.
        return Err(error::test(
            ErrorNumber::AUTH_FAILED,
            "authentication failed, see test XML for the correct username/password",
        ));
    }
    Ok(())
}

/// `testParseXMLDocFromFile`: an element with `file='...'` is replaced by the root of that
/// document (relative to the node document's directory).
fn with_element(
    space: &dyn Space,
    element: &Node<'_>,
    node_file: Option<&str>,
    then: impl FnOnce(&Node<'_>) -> Result<()>,
) -> Result<()> {
    let Some(relative) = element.attr("file") else {
        return then(element);
    };
    let path = if relative.starts_with('/') {
        relative.to_string()
    } else {
        let dir = node_file
            .and_then(|f| f.rsplit_once('/'))
            .map(|(dir, _)| dir)
            .unwrap_or(".");
        format!("{dir}/{relative}")
    };
    let bytes = space.read_file(&path).map_err(|_| cannot_parse(&path))?;
    let text = String::from_utf8(bytes).map_err(|_| cannot_parse(&path))?;
    let doc = parse_file(&text, &path)?;
    if doc.root.name() != element.name() {
        return Err(Error::new(
            ErrorNumber::XML_ERROR,
            ErrorDomain::XML,
            format!(
                "expecting root element of '{}', not '{}'",
                element.name(),
                doc.root.name()
            ),
        ));
    }
    then(&doc.root)
}

/// `virXPathUInt` on `/node/<path>`: absent is fine, garbage is an error.
fn node_uint(root: &Node<'_>, path: &str, what: &str) -> Result<Option<u64>> {
    match root.path(path) {
        None => Ok(None),
        Some(element) => {
            let text = element.text();
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<u64>()
                .map(Some)
                .map_err(|_| xml_error(format!("invalid node {what} value")))
        }
    }
}

/// `testParseNodeInfo`.
fn parse_node_info(root: &Node<'_>, node: &mut NodeRecord) -> Result<()> {
    let as_u32 = |value: u64, what: &str| {
        u32::try_from(value).map_err(|_| xml_error(format!("invalid node {what} value")))
    };
    if let Some(v) = node_uint(root, "cpu/nodes", "cpu nodes")? {
        node.nodes = as_u32(v, "cpu nodes")?;
    }
    if let Some(v) = node_uint(root, "cpu/sockets", "cpu sockets")? {
        node.sockets = as_u32(v, "cpu sockets")?;
    }
    if let Some(v) = node_uint(root, "cpu/cores", "cpu cores")? {
        node.cores = as_u32(v, "cpu cores")?;
    }
    if let Some(v) = node_uint(root, "cpu/threads", "cpu threads")? {
        node.threads = as_u32(v, "cpu threads")?;
    }
    node.cpus = node
        .cores
        .saturating_mul(node.threads)
        .saturating_mul(node.sockets)
        .saturating_mul(node.nodes);
    if let Some(active) = node_uint(root, "cpu/active", "cpu active")? {
        let active = as_u32(active, "cpu active")?;
        if active < node.cpus {
            node.cpus = active;
        }
    }
    if let Some(v) = node_uint(root, "cpu/mhz", "cpu mhz")? {
        node.mhz = as_u32(v, "cpu mhz")?;
    }
    if let Some(model) = root.path("cpu/model") {
        let model = model.text().trim().to_string();
        if model.len() >= 32 {
            return Err(error::internal(format!(
                "Model {model} too big for destination"
            )));
        }
        node.model = model;
    }
    if let Some(memory) = node_uint(root, "memory", "memory")? {
        node.memory_kib = memory;
    }
    Ok(())
}

/// `testParseDomains` for one `<domain>`.
fn load_domain(space: &dyn Space, element: &Node<'_>, file: Option<&str>) -> Result<()> {
    let def = DomainDef::from_node(element)?;
    let ns = TestNamespace::from_node(element)?;
    let mut d = Domain {
        uuid: def.uuid(),
        rec: domain::new_record(&def),
    };
    if domain::find_by_uuid(space, &d.uuid)?.is_some()
        || domain::find_by_name(space, def.name())?.is_some()
    {
        return Err(error::duplicate(
            ErrorDomain::DOMAIN,
            format!(
                "domain '{}' already exists with uuid {}",
                def.name(),
                d.uuid
            ),
        ));
    }
    d.rec.persistent = !ns.transient;
    d.rec.has_managed_save = ns.has_managed_save;
    let mut defs = Defs { def, new_def: None };
    if ns.runstate != domain_state::SHUTOFF {
        domain::start_state(space, &mut d, &mut defs, domain_running_reason::BOOTED)?;
    } else {
        domain::shutdown_state(space, &mut d, &mut defs, 0);
    }
    d.set_state(ns.runstate, 0);
    // start_state clears the flag, as in the test driver; the namespace forbids both anyway.
    d.rec.has_managed_save = ns.has_managed_save;
    domain::insert(space, &mut d, &defs)?;
    for snapshot in &ns.snapshots {
        with_element(space, snapshot, file, |element| {
            snapshot::load(space, &mut d, element)
        })?;
    }
    if !ns.snapshots.is_empty() {
        snapshot::check_relations(space, &d)?;
        d.write_record(space)?;
    }
    Ok(())
}

/// libvirt's `defaultConnXML`: the node every `test:///default` space starts with.
const DEFAULT_NODE_XML: &str = "<node>\
<domain type='test'>\
  <name>test</name>\
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\
  <memory>8388608</memory>\
  <currentMemory>2097152</currentMemory>\
  <vcpu>2</vcpu>\
  <os>\
    <type>hvm</type>\
  </os>\
  <devices>\
    <disk type='file' device='disk'>\
      <source file='/guest/diskimage1'/>\
      <target dev='vda' bus='virtio'/>\
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\
    </disk>\
    <interface type='network'>\
      <mac address='aa:bb:cc:dd:ee:ff'/>\
      <source network='default' bridge='virbr0'/>\
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1' function='0x0'/>\
    </interface>\
    <memballoon model='virtio'>\
      <address type='pci' domain='0x0000' bus='0x00' slot='0x2' function='0x0'/>\
    </memballoon>\
  </devices>\
</domain>\
<network>\
  <name>default</name>\
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\
  <bridge name='virbr0'/>\
  <forward/>\
  <ip address='192.168.122.1' netmask='255.255.255.0'>\
    <dhcp>\
      <range start='192.168.122.2' end='192.168.122.254'/>\
    </dhcp>\
  </ip>\
</network>\
<interface type=\"ethernet\" name=\"eth1\">\
  <start mode=\"onboot\"/>\
  <mac address=\"aa:bb:cc:dd:ee:ff\"/>\
  <mtu size=\"1492\"/>\
  <protocol family=\"ipv4\">\
    <ip address=\"192.168.0.5\" prefix=\"24\"/>\
    <route gateway=\"192.168.0.1\"/>\
  </protocol>\
</interface>\
<pool type='dir'>\
  <name>default-pool</name>\
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\
  <target>\
    <path>/default-pool</path>\
  </target>\
</pool>\
<device>\
  <name>computer</name>\
  <capability type='system'>\
    <hardware>\
      <vendor>Libvirt</vendor>\
      <version>Test driver</version>\
      <serial>123456</serial>\
      <uuid>11111111-2222-3333-4444-555555555555</uuid>\
    </hardware>\
    <firmware>\
      <vendor>Libvirt</vendor>\
      <version>Test Driver</version>\
      <release_date>01/22/2007</release_date>\
    </firmware>\
  </capability>\
</device>\
<device>\
  <name>scsi_host1</name>\
  <parent>computer</parent>\
  <capability type='scsi_host'>\
    <host>1</host>\
    <unique_id>0</unique_id>\
    <capability type='fc_host'>\
      <wwnn>2000000012341234</wwnn>\
      <wwpn>1000000012341234</wwpn>\
      <fabric_wwn>2000000043214321</fabric_wwn>\
    </capability>\
    <capability type='vport_ops'>\
      <max_vports>127</max_vports>\
      <vports>1</vports>\
    </capability>\
  </capability>\
</device>\
<device>\
  <name>scsi_host2</name>\
  <parent>computer</parent>\
  <capability type='scsi_host'>\
    <host>2</host>\
    <unique_id>1</unique_id>\
    <capability type='fc_host'>\
      <wwnn>2000000056785678</wwnn>\
      <wwpn>1000000056785678</wwpn>\
      <fabric_wwn>2000000087658765</fabric_wwn>\
    </capability>\
    <capability type='vport_ops'>\
      <max_vports>127</max_vports>\
      <vports>0</vports>\
    </capability>\
  </capability>\
</device>\
<device>\
  <name>scsi_host11</name>\
  <parent>scsi_host1</parent>\
  <capability type='scsi_host'>\
    <host>11</host>\
    <unique_id>10</unique_id>\
    <capability type='fc_host'>\
      <wwnn>2000000034563456</wwnn>\
      <wwpn>1000000034563456</wwpn>\
      <fabric_wwn>2000000043214321</fabric_wwn>\
    </capability>\
  </capability>\
</device>\
</node>";
