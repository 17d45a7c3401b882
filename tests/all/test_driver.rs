//! libvirt's test driver as the compiled plugin (`plugins/test`), driven the way an embedder
//! drives it: `virt_host::register_default()`, then `virt_core::blocking::Connect::open`.
//!
//! `test:///default` is one space for the whole process, shared with every other test that
//! opens it, so these tests give their objects unique names and never count all objects.
//! Tests that need a node of their own load a node document (`test:///PATH.xml`), whose space
//! is private to the connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use virt_core::blocking::{Connect, Domain, EventStream};
use virt_core::consts::{
    connect_list_all_domains_flags as list, domain_event_defined_detail_type as defined,
    domain_event_type as ev, domain_running_reason, domain_shutoff_reason, domain_state,
    domain_xml_flags, network_event_lifecycle_type as net_ev,
    storage_pool_event_lifecycle_type as pool_ev,
};
use virt_core::{ErrorNumber, Event};

fn connect(uri: &str) -> Connect {
    virt_host::register_default().expect("plugin host");
    Connect::open(uri).unwrap_or_else(|e| panic!("open {uri}: {e:?}"))
}

fn default_conn() -> Connect {
    connect("test:///default")
}

/// A name no other test uses.
fn unique(kind: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "td{}-{kind}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn new_uuid() -> String {
    virt_core::Uuid::new_v4().to_string()
}

fn domain_xml(name: &str, uuid: &str, memory_kib: u64) -> String {
    format!(
        "<domain type='test'>\n  <name>{name}</name>\n  <uuid>{uuid}</uuid>\n  \
         <memory unit='KiB'>{memory_kib}</memory>\n  <currentMemory unit='KiB'>{memory_kib}</currentMemory>\n  \
         <vcpu placement='static'>2</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n  </os>\n  \
         <devices>\n    <disk type='file' device='disk'>\n      <source file='/img/{name}.img'/>\n      \
         <target dev='vda' bus='virtio'/>\n    </disk>\n    <interface type='network'>\n      \
         <mac address='52:54:00:11:22:33'/>\n      <source network='default'/>\n    </interface>\n  </devices>\n\
         </domain>\n"
    )
}

fn define(conn: &Connect, name: &str) -> Domain {
    conn.domain_define_xml(&domain_xml(name, &new_uuid(), 131072), 0)
        .expect("define")
}

fn state(dom: &Domain) -> (i32, i32) {
    let state = dom.state(0).expect("state");
    (state.state, state.reason)
}

/// Removes a domain whatever its state (for the end of a test).
fn remove(dom: &Domain) {
    let _ = dom.destroy(0);
    let _ = dom.managed_save_remove(0);
    let _ = dom.undefine(virt_core::consts::domain_undefine_flags_values::SNAPSHOTS_METADATA);
}

/// The lifecycle events about `name`, until `count` arrived (or 10 s passed).
fn lifecycle_events(events: &mut EventStream, name: &str, count: usize) -> Vec<(i32, i32)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < count && Instant::now() < deadline {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, detail }) if dom.name == name => {
                got.push((event, detail))
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    got
}

fn expect_error<T: std::fmt::Debug>(
    result: virt_core::Result<T>,
    code: ErrorNumber,
    what: &str,
) -> virt_core::Error {
    let error = result.expect_err(what);
    assert_eq!(error.code(), code, "{what}: {error:?}");
    error
}

/// What libvirt 9.0's test driver answers for `virsh dumpxml test` on a fresh default node.
const DEFAULT_DOMAIN_XML: &str = "<domain type='test' id='1'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

#[test]
fn default_node_is_libvirts() {
    let conn = default_conn();
    assert_eq!(conn.get_type().expect("type"), "TEST");
    assert_eq!(conn.get_version().expect("version"), 2);
    let info = conn.node_info().expect("node info");
    assert_eq!(
        (
            info.model.as_str(),
            info.memory_kib,
            info.cpus,
            info.mhz,
            info.nodes,
            info.sockets,
            info.cores,
            info.threads
        ),
        ("i686", 3145728, 16, 1400, 2, 2, 2, 2)
    );
    assert_eq!(conn.node_free_memory().expect("free"), 3145728);
    assert_eq!(
        conn.node_cells_free_memory(0, 8).expect("cells"),
        [2097152, 4194304]
    );
    assert_eq!(conn.get_max_vcpus(None).expect("max vcpus"), 32);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("hostname");
    assert_eq!(conn.get_hostname().expect("hostname"), hostname.trim());
    let caps = conn.get_capabilities().expect("capabilities");
    assert!(
        caps.contains("<cells num='2'>") && caps.contains("<domain type='test'/>"),
        "{caps}"
    );

    let test = conn
        .domain_lookup_by_name("test")
        .expect("the default domain");
    assert_eq!(test.uuid_string(), "6695eb01-f6a4-8304-79aa-97f2502e193f");
    if test.is_active().expect("active") && test.id() == 1 {
        // Another test may have restarted it; the pristine XML only holds before that.
        let xml = test.xml_desc(0).expect("xml");
        if xml.contains("<currentMemory unit='KiB'>2097152</currentMemory>") {
            assert_eq!(xml, DEFAULT_DOMAIN_XML);
        }
    }
    assert_eq!(test.os_type().expect("os type"), "linux");
    let net = conn
        .network_lookup_by_name("default")
        .expect("default network");
    assert_eq!(net.uuid_string(), "dd8fe884-6c02-601e-7551-cca97df1c5df");
    assert_eq!(net.bridge_name().expect("bridge"), "virbr0");
    // libvirt's test driver hands out no leases; the plugin does not export
    // `network-leases`, and the host answers as libvirt does.
    expect_error(
        net.dhcp_leases(None, 0),
        ErrorNumber::NO_SUPPORT,
        "test driver DHCP leases",
    );
    let pool = conn
        .storage_pool_lookup_by_name("default-pool")
        .expect("default pool");
    assert!(pool.is_active().expect("active"));
    let mut devices = conn.list_node_devices(None, 0).expect("node devices");
    devices.sort();
    assert_eq!(
        devices,
        ["computer", "scsi_host1", "scsi_host11", "scsi_host2"]
    );
    let interfaces = conn.list_all_interfaces(0).expect("interfaces");
    assert_eq!(
        interfaces
            .iter()
            .map(|i| (i.name.as_str(), i.mac.as_str()))
            .collect::<Vec<_>>(),
        [("eth1", "aa:bb:cc:dd:ee:ff")]
    );
    let eth1 = conn.interface_lookup_by_name("eth1").expect("eth1");
    assert!(conn
        .interface_xml(&eth1, 0)
        .expect("xml")
        .starts_with("<interface type='ethernet' name='eth1'>"));
    expect_error(
        conn.interface_lookup_by_name("nosuchif0"),
        ErrorNumber::NO_INTERFACE,
        "missing interface",
    );
    let device = conn.node_device_xml("scsi_host11", 0).expect("device xml");
    assert!(device.contains("<parent>scsi_host1</parent>"), "{device}");
    expect_error(
        conn.node_device_lookup_by_name("nosuchdev"),
        ErrorNumber::NO_NODE_DEVICE,
        "missing device",
    );
}

#[test]
fn domain_lifecycle_with_events() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let name = unique("life");
    let dom = define(&conn, &name);
    assert_eq!(
        (
            dom.id(),
            dom.is_active().expect("active"),
            dom.is_persistent().expect("persistent")
        ),
        (-1, false, true)
    );
    assert_eq!(
        state(&dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::UNKNOWN)
    );
    dom.create(0).expect("start");
    assert!(dom.id() > 0);
    assert_eq!(
        state(&dom),
        (domain_state::RUNNING, domain_running_reason::BOOTED)
    );
    assert_eq!(
        conn.domain_lookup_by_id(dom.id()).expect("by id").name(),
        name
    );
    let live = dom.xml_desc(0).expect("live xml");
    assert!(
        live.starts_with(&format!("<domain type='test' id='{}'>", dom.id())),
        "{live}"
    );
    assert!(live.contains("<target dev='testnet0'/>"), "{live}");
    assert_eq!(dom.hostname(0).expect("hostname"), format!("{name}host"));
    dom.suspend().expect("suspend");
    assert_eq!(state(&dom), (domain_state::PAUSED, 1));
    dom.resume().expect("resume");
    assert_eq!(
        state(&dom),
        (domain_state::RUNNING, domain_running_reason::UNPAUSED)
    );
    dom.reboot(0).expect("reboot");
    dom.reset(0).expect("reset");
    dom.shutdown(0).expect("shutdown");
    assert_eq!(
        state(&dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::SHUTDOWN)
    );
    dom.create(0).expect("start again");
    dom.destroy(0).expect("destroy");
    assert_eq!(
        (dom.id(), state(&dom)),
        (
            -1,
            (domain_state::SHUTOFF, domain_shutoff_reason::DESTROYED)
        )
    );
    dom.undefine(0).expect("undefine");
    expect_error(
        conn.domain_lookup_by_name(&name),
        ErrorNumber::NO_DOMAIN,
        "lookup after undefine",
    );
    assert_eq!(
        lifecycle_events(&mut events, &name, 9),
        [
            (ev::DEFINED, defined::ADDED),
            (ev::STARTED, 0),
            (ev::SUSPENDED, 0),
            (ev::RESUMED, 0),
            (ev::STOPPED, 0),
            (ev::STARTED, 0),
            (ev::STOPPED, 1),
            (ev::UNDEFINED, 0),
        ]
    );
}

#[test]
fn connections_share_the_default_node() {
    let first = default_conn();
    let second = default_conn();
    let name = unique("shared");
    let dom = define(&first, &name);
    let seen = second
        .domain_lookup_by_name(&name)
        .expect("seen by the second connection");
    seen.create(0).expect("start through the second");
    assert!(dom.is_active().expect("active through the first"));
    second.close().expect("close one");
    assert!(
        first.domain_lookup_by_name(&name).is_ok(),
        "the space lives while a connection is open"
    );
    remove(&dom);
}

/// The test driver keeps its last packed listing while the space's records stay the same
/// (`state-bulk.generation`): every change, by any connection, shows in the next listing, and
/// two spaces never answer with each other's.
#[test]
fn kept_listings_follow_every_change() {
    let first = default_conn();
    let second = default_conn();
    let listed = |conn: &Connect, flags: u32| -> Vec<(String, i32)> {
        conn.list_all_domains(flags)
            .expect("list")
            .iter()
            .map(|d| (d.name().to_string(), d.id()))
            .collect()
    };
    let entry = |conn: &Connect, flags: u32, name: &str| {
        listed(conn, flags).into_iter().find(|(n, _)| n == name)
    };
    let name = unique("kept");
    assert_eq!(
        listed(&first, 0),
        listed(&first, 0),
        "a kept listing is the same listing"
    );
    assert_eq!(entry(&first, 0, &name), None);

    let dom = define(&second, &name);
    assert_eq!(
        entry(&first, 0, &name),
        Some((name.clone(), -1)),
        "defined elsewhere"
    );
    assert_eq!(
        entry(&first, list::ACTIVE, &name),
        None,
        "other flags, same records"
    );
    assert!(entry(&first, list::INACTIVE, &name).is_some());

    dom.create(0).expect("start");
    let id = second.domain_lookup_by_name(&name).expect("lookup").id();
    assert!(id > 0);
    assert_eq!(entry(&first, 0, &name), Some((name.clone(), id)), "started");
    assert_eq!(entry(&first, list::ACTIVE, &name), Some((name.clone(), id)));

    dom.destroy(0).expect("destroy");
    assert_eq!(entry(&first, 0, &name), Some((name.clone(), -1)), "stopped");

    // A private node's space, listed in between, has its own records.
    let dir = tempfile::tempdir().expect("tempdir");
    let node = connect(&format!("test://{}", write_node(dir.path())));
    let node_names: Vec<String> = listed(&node, 0).into_iter().map(|(n, _)| n).collect();
    assert_eq!(node_names.len(), 2, "fv0 and off: {node_names:?}");
    assert!(entry(&first, 0, &name).is_some(), "the default node again");

    dom.undefine(0).expect("undefine");
    assert_eq!(entry(&first, 0, &name), None, "undefined elsewhere");
}

#[test]
fn bad_domain_xml_is_refused_with_libvirts_errors() {
    let conn = default_conn();
    let before = conn.list_all_domains(0).expect("list").len();
    let error = expect_error(
        conn.domain_define_xml("", 0),
        ErrorNumber::XML_DETAIL,
        "empty",
    );
    assert!(error.message().contains("Document is empty"), "{error:?}");
    let error = expect_error(
        conn.domain_define_xml("<domain", 0),
        ErrorNumber::XML_DETAIL,
        "truncated",
    );
    assert!(
        error.message().starts_with("(domain_definition):1:"),
        "line and column: {error:?}"
    );
    let error = expect_error(
        conn.domain_define_xml("<foo/>", 0),
        ErrorNumber::XML_ERROR,
        "wrong root",
    );
    assert_eq!(
        error.message(),
        "XML error: expecting root element of 'domain', not 'foo'"
    );
    expect_error(
        conn.domain_define_xml(
            "<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>",
            0,
        ),
        ErrorNumber::NO_NAME,
        "no name",
    );
    let name = unique("bad");
    expect_error(
        conn.domain_define_xml(
            &format!("<domain type='test'><name>{name}</name><os><type>hvm</type></os></domain>"),
            0,
        ),
        ErrorNumber::XML_ERROR,
        "no memory",
    );
    expect_error(
        conn.domain_define_xml(
            &domain_xml(&name, &new_uuid(), 1024).replace("type='test'", "type='bogus'"),
            0,
        ),
        ErrorNumber::CONFIG_UNSUPPORTED,
        "bad type",
    );
    let error = expect_error(
        conn.domain_define_xml(&domain_xml(&name, "not-a-uuid", 1024), 0),
        ErrorNumber::INTERNAL_ERROR,
        "bad uuid",
    );
    assert!(error.message().contains("malformed uuid"), "{error:?}");
    expect_error(
        conn.domain_create_xml("<domain", 0),
        ErrorNumber::XML_DETAIL,
        "createXML",
    );
    expect_error(
        conn.domain_lookup_by_name(&name),
        ErrorNumber::NO_DOMAIN,
        "nothing was defined",
    );
    let error = expect_error(
        conn.list_all_domains(1 << 30),
        ErrorNumber::INVALID_ARG,
        "unknown flag",
    );
    assert!(error.message().contains("unsupported flags"), "{error:?}");
    assert!(conn.list_all_domains(0).expect("list").len() >= before);
}

#[test]
fn duplicates_are_refused_and_change_nothing() {
    let conn = default_conn();
    let name = unique("dup");
    let uuid = new_uuid();
    let dom = conn
        .domain_define_xml(&domain_xml(&name, &uuid, 131072), 0)
        .expect("define");
    let error = expect_error(
        conn.domain_define_xml(&domain_xml(&name, &new_uuid(), 262144), 0),
        ErrorNumber::OPERATION_FAILED,
        "same name, other uuid",
    );
    assert_eq!(
        error.message(),
        format!("operation failed: domain '{name}' already exists with uuid {uuid}")
    );
    let other = unique("dup");
    let error = expect_error(
        conn.domain_define_xml(&domain_xml(&other, &uuid, 262144), 0),
        ErrorNumber::OPERATION_FAILED,
        "same uuid, other name",
    );
    assert!(
        error.message().contains("already defined with uuid"),
        "{error:?}"
    );
    expect_error(
        conn.domain_create_xml(&domain_xml(&name, &new_uuid(), 1024), 0),
        ErrorNumber::OPERATION_FAILED,
        "create",
    );
    expect_error(
        conn.domain_lookup_by_name(&other),
        ErrorNumber::NO_DOMAIN,
        "rejected duplicate",
    );
    assert_eq!(
        dom.max_memory().expect("memory"),
        131072,
        "the original is untouched"
    );
    assert_eq!(
        conn.list_all_domains(0)
            .expect("list")
            .iter()
            .filter(|d| d.name() == name)
            .count(),
        1
    );
    remove(&dom);
}

#[test]
fn wrong_state_operations_use_the_test_driver_codes() {
    let conn = default_conn();
    let dom = define(&conn, &unique("state"));
    let error = expect_error(
        dom.destroy(0),
        ErrorNumber::OPERATION_INVALID,
        "destroy inactive",
    );
    assert_eq!(
        error.message(),
        "Requested operation is not valid: domain is not running"
    );
    let error = expect_error(
        dom.suspend(),
        ErrorNumber::INTERNAL_ERROR,
        "suspend inactive",
    );
    assert!(error.message().ends_with("not running"), "{error:?}");
    expect_error(dom.resume(), ErrorNumber::INTERNAL_ERROR, "resume inactive");
    expect_error(
        dom.shutdown(0),
        ErrorNumber::INTERNAL_ERROR,
        "shutdown inactive",
    );
    expect_error(
        dom.reboot(0),
        ErrorNumber::OPERATION_INVALID,
        "reboot inactive",
    );
    expect_error(
        dom.managed_save(0),
        ErrorNumber::OPERATION_INVALID,
        "managed save inactive",
    );
    dom.create(0).expect("start");
    let error = expect_error(dom.create(0), ErrorNumber::INTERNAL_ERROR, "start running");
    assert!(error.message().contains("already running"), "{error:?}");
    expect_error(dom.resume(), ErrorNumber::INTERNAL_ERROR, "resume running");
    dom.suspend().expect("suspend");
    expect_error(dom.suspend(), ErrorNumber::INTERNAL_ERROR, "suspend paused");
    assert_eq!(
        state(&dom).0,
        domain_state::PAUSED,
        "failed calls changed nothing"
    );
    expect_error(
        dom.rename("x", 0),
        ErrorNumber::OPERATION_INVALID,
        "rename running",
    );
    remove(&dom);
    expect_error(dom.xml_desc(0), ErrorNumber::NO_DOMAIN, "stale handle");
    expect_error(dom.create(0), ErrorNumber::NO_DOMAIN, "stale handle");
}

#[test]
fn transient_domains_and_undefine_of_running_ones() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let name = unique("trans");
    let dom = conn
        .domain_create_xml(&domain_xml(&name, &new_uuid(), 131072), 0)
        .expect("createXML");
    assert_eq!(
        (dom.is_active().expect("a"), dom.is_persistent().expect("p")),
        (true, false)
    );
    assert!(conn
        .list_all_domains(list::TRANSIENT)
        .expect("list")
        .iter()
        .any(|d| d.name() == name));
    dom.destroy(0).expect("destroy");
    expect_error(
        conn.domain_lookup_by_name(&name),
        ErrorNumber::NO_DOMAIN,
        "gone after destroy",
    );
    assert_eq!(
        lifecycle_events(&mut events, &name, 2),
        [(ev::STARTED, 0), (ev::STOPPED, 1)]
    );

    let dom = define(&conn, &unique("undef"));
    dom.create(0).expect("start");
    dom.undefine(0).expect("undefine while running");
    assert_eq!(
        (dom.is_active().expect("a"), dom.is_persistent().expect("p")),
        (true, false)
    );
    dom.destroy(0).expect("destroy");
    expect_error(
        conn.domain_lookup_by_name(&dom.name()),
        ErrorNumber::NO_DOMAIN,
        "gone",
    );
}

#[test]
fn define_while_running_updates_the_persistent_config() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let name = unique("upd");
    let uuid = new_uuid();
    let dom = conn
        .domain_define_xml(&domain_xml(&name, &uuid, 131072), 0)
        .expect("define");
    dom.create(0).expect("start");
    conn.domain_define_xml(&domain_xml(&name, &uuid, 262144), 0)
        .expect("redefine");
    assert!(dom
        .xml_desc(0)
        .expect("live")
        .contains("<memory unit='KiB'>131072</memory>"));
    assert!(dom
        .xml_desc(domain_xml_flags::INACTIVE)
        .expect("config")
        .contains("<memory unit='KiB'>262144</memory>"));
    dom.destroy(0).expect("destroy");
    assert!(dom
        .xml_desc(0)
        .expect("after")
        .contains("<memory unit='KiB'>262144</memory>"));
    assert_eq!(
        lifecycle_events(&mut events, &name, 4),
        [
            (ev::DEFINED, defined::ADDED),
            (ev::STARTED, 0),
            (ev::DEFINED, defined::UPDATED),
            (ev::STOPPED, 1)
        ]
    );
    remove(&dom);
}

#[test]
fn list_all_filters() {
    let conn = default_conn();
    let inactive = define(&conn, &unique("lf"));
    let running = define(&conn, &unique("lf"));
    running.create(0).expect("start");
    let paused = define(&conn, &unique("lf"));
    paused.create(0).expect("start");
    paused.suspend().expect("suspend");
    inactive.set_autostart(true).expect("autostart");
    let mine = [inactive.name(), running.name(), paused.name()];
    let listed = |flags: u32| -> Vec<String> {
        let mut names: Vec<String> = conn
            .list_all_domains(flags)
            .expect("list")
            .into_iter()
            .map(|d| d.name())
            .filter(|n| mine.contains(n))
            .collect();
        names.sort();
        names
    };
    let sorted = |names: &[&String]| {
        let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(listed(0), sorted(&[&mine[0], &mine[1], &mine[2]]));
    assert_eq!(listed(list::ACTIVE), sorted(&[&mine[1], &mine[2]]));
    assert_eq!(listed(list::INACTIVE), sorted(&[&mine[0]]));
    assert_eq!(listed(list::RUNNING), sorted(&[&mine[1]]));
    assert_eq!(listed(list::PAUSED), sorted(&[&mine[2]]));
    assert_eq!(listed(list::SHUTOFF), sorted(&[&mine[0]]));
    assert_eq!(
        listed(list::PERSISTENT | list::ACTIVE),
        sorted(&[&mine[1], &mine[2]])
    );
    assert_eq!(listed(list::AUTOSTART), sorted(&[&mine[0]]));
    assert_eq!(listed(list::NO_AUTOSTART), sorted(&[&mine[1], &mine[2]]));
    assert_eq!(listed(list::TRANSIENT), Vec::<String>::new());
    assert_eq!(listed(list::HAS_SNAPSHOT), Vec::<String>::new());
    for dom in [inactive, running, paused] {
        remove(&dom);
    }
}

#[test]
fn save_restore_and_managed_save() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("dom.img");
    let image = image.to_str().expect("utf-8 path");
    let name = unique("save");
    let dom = define(&conn, &name);
    expect_error(
        dom.save(image, None, 0),
        ErrorNumber::OPERATION_INVALID,
        "save inactive",
    );
    dom.create(0).expect("start");
    dom.save(image, None, 0).expect("save");
    assert_eq!(
        state(&dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::SAVED)
    );
    let bytes = std::fs::read(image).expect("the image is a file");
    assert_eq!(&bytes[..15], b"TestGuestMagic\0");
    let xml = conn.domain_save_image_get_xml(image, 0).expect("image xml");
    assert!(xml.contains(&format!("<name>{name}</name>")), "{xml}");
    conn.domain_restore(image, None, 0).expect("restore");
    assert_eq!(
        state(&dom),
        (domain_state::RUNNING, domain_running_reason::RESTORED)
    );
    expect_error(
        conn.domain_restore(image, None, 0),
        ErrorNumber::OPERATION_INVALID,
        "restore a running domain",
    );
    expect_error(
        conn.domain_restore(
            dir.path().join("missing.img").to_str().expect("path"),
            None,
            0,
        ),
        ErrorNumber::SYSTEM_ERROR,
        "missing image",
    );
    std::fs::write(dir.path().join("junk.img"), b"not an image at all").expect("junk");
    expect_error(
        conn.domain_restore(dir.path().join("junk.img").to_str().expect("path"), None, 0),
        ErrorNumber::INTERNAL_ERROR,
        "bad magic",
    );
    dom.managed_save(0).expect("managed save");
    assert_eq!(
        state(&dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::SAVED)
    );
    assert!(dom.has_managed_save().expect("flag"));
    assert!(conn
        .list_all_domains(list::MANAGEDSAVE)
        .expect("list")
        .iter()
        .any(|d| d.name() == name));
    expect_error(
        dom.undefine(0),
        ErrorNumber::OPERATION_INVALID,
        "undefine with a managed save image",
    );
    dom.create(0).expect("start from the managed save");
    assert!(!dom.has_managed_save().expect("flag cleared"));
    assert_eq!(
        lifecycle_events(&mut events, &name, 6),
        [
            (ev::DEFINED, 0),
            (ev::STARTED, 0),
            (ev::STOPPED, 4),
            (ev::STARTED, 2),
            (ev::STOPPED, 4),
            (ev::STARTED, 0)
        ]
    );
    remove(&dom);
}

#[test]
fn rename_memory_vcpus_metadata_and_stats() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let old = unique("ren");
    let dom = define(&conn, &old);
    let new = unique("ren");
    dom.rename(&new, 0).expect("rename");
    assert_eq!(dom.name(), new);
    expect_error(
        conn.domain_lookup_by_name(&old),
        ErrorNumber::NO_DOMAIN,
        "old name",
    );
    assert_eq!(
        lifecycle_events(&mut events, &old, 2),
        [(ev::DEFINED, 0), (ev::UNDEFINED, 1)]
    );
    assert_eq!(
        lifecycle_events(&mut events, &new, 1),
        [(ev::DEFINED, defined::RENAMED)]
    );
    expect_error(
        dom.rename("test", 0),
        ErrorNumber::OPERATION_INVALID,
        "rename onto an existing name",
    );

    dom.set_memory(65536, 0).expect("balloon");
    assert_eq!(dom.info().expect("info").memory_kib, 65536);
    expect_error(
        dom.set_memory(1 << 40, 0),
        ErrorNumber::INVALID_ARG,
        "above the maximum",
    );
    dom.set_max_memory(262144).expect("max memory");
    assert_eq!(dom.max_memory().expect("max"), 262144);
    dom.set_vcpus(1, 0).expect("vcpus");
    assert_eq!(dom.vcpus(0).expect("vcpus"), 1);
    expect_error(
        dom.set_vcpus(64, 0),
        ErrorNumber::INVALID_ARG,
        "too many vcpus",
    );

    dom.set_metadata(1, Some("A title"), None, None, 0)
        .expect("title");
    assert_eq!(dom.metadata(1, None, 0).expect("title"), "A title");
    let text = "unicode \u{e9} <&> \u{1F600}";
    dom.set_metadata(0, Some(text), None, None, 0)
        .expect("description");
    assert_eq!(dom.metadata(0, None, 0).expect("description"), text);
    dom.set_metadata(
        2,
        Some("<app xmlns='http://example.org/td'><k>v</k></app>"),
        Some("td"),
        Some("http://example.org/td"),
        0,
    )
    .expect("element");
    // libvirt answers `<app xmlns:td="http://example.org/td">\n  <k>v</k>\n</app>` here
    // (plugins/test/NEEDS.md asks virt-xml for that form); the element and its value survive.
    let element = dom
        .metadata(2, Some("http://example.org/td"), 0)
        .expect("element");
    assert!(
        element.contains("app") && element.contains(">v<"),
        "{element}"
    );
    expect_error(
        dom.metadata(2, Some("http://example.org/none"), 0),
        ErrorNumber::NO_DOMAIN_METADATA,
        "other ns",
    );
    let xml = dom.xml_desc(0).expect("xml");
    assert!(
        xml.contains("<title>A title</title>") && xml.contains("http://example.org/td"),
        "{xml}"
    );

    dom.create(0).expect("start");
    let stats = conn.get_all_domain_stats(1, 0).expect("stats");
    let (_, params) = stats
        .iter()
        .find(|(d, _)| d.name() == new)
        .expect("our domain");
    assert!(
        params
            .iter()
            .any(|p| p.field == "state.state" && p.value == virt_core::TypedValue::Int(1)),
        "{params:?}"
    );
    let block = dom.block_stats("vda", 0).expect("block stats");
    assert_eq!(
        block.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(),
        [
            "rd_operations",
            "rd_bytes",
            "wr_operations",
            "wr_bytes",
            "errs"
        ]
    );
    expect_error(
        dom.block_stats("vdz", 0),
        ErrorNumber::INVALID_ARG,
        "unknown disk",
    );
    assert_eq!(dom.interface_stats("testnet0").expect("by name").len(), 8);
    assert_eq!(
        dom.interface_stats("52:54:00:11:22:33")
            .expect("by mac")
            .len(),
        8
    );
    expect_error(
        dom.interface_stats("eth9"),
        ErrorNumber::INVALID_ARG,
        "unknown interface",
    );
    assert!(
        dom.memory_stats(13, 0).expect("memory stats").is_empty(),
        "no balloon, no statistics"
    );
    assert_eq!(
        dom.scheduler_type().expect("scheduler"),
        ("fair".to_string(), 1)
    );
    remove(&dom);
}

#[test]
fn snapshots() {
    let conn = default_conn();
    let dom = define(&conn, &unique("snap"));
    dom.create(0).expect("start");
    let first = dom
        .snapshot_create_xml(
            "<domainsnapshot><name>s1</name><description>x</description></domainsnapshot>",
            0,
        )
        .expect("s1");
    let second = dom
        .snapshot_create_xml("<domainsnapshot><name>s2</name></domainsnapshot>", 0)
        .expect("s2");
    let xml = second.xml_desc(0).expect("snapshot xml");
    assert!(
        xml.contains("<state>running</state>") && xml.contains("<parent>\n    <name>s1</name>"),
        "{xml}"
    );
    assert!(
        xml.contains("<disk name='vda' snapshot='internal'/>"),
        "{xml}"
    );
    assert_eq!(second.parent(0).expect("parent").name(), "s1");
    expect_error(
        first.parent(0),
        ErrorNumber::NO_DOMAIN_SNAPSHOT,
        "a root has no parent",
    );
    assert_eq!(
        first
            .list_all_children(0)
            .expect("children")
            .iter()
            .map(|s| s.name().to_string())
            .collect::<Vec<_>>(),
        ["s2"]
    );
    assert_eq!(dom.snapshot_current(0).expect("current").name(), "s2");
    assert!(dom.has_current_snapshot(0).expect("has current"));
    assert!(conn
        .list_all_domains(list::HAS_SNAPSHOT)
        .expect("list")
        .iter()
        .any(|d| d.name() == dom.name()));
    expect_error(
        dom.snapshot_create_xml("<domainsnapshot><name>s1</name></domainsnapshot>", 0),
        ErrorNumber::OPERATION_FAILED,
        "duplicate snapshot",
    );
    dom.destroy(0).expect("destroy");
    first.revert(0).expect("revert to a running snapshot");
    assert_eq!(
        state(&dom),
        (domain_state::RUNNING, domain_running_reason::FROM_SNAPSHOT)
    );
    assert!(first.is_current(0).expect("current"));
    first.delete(0).expect("delete s1");
    assert_eq!(
        dom.list_all_snapshots(0)
            .expect("list")
            .iter()
            .map(|s| s.name().to_string())
            .collect::<Vec<_>>(),
        ["s2"]
    );
    expect_error(
        second.parent(0),
        ErrorNumber::NO_DOMAIN_SNAPSHOT,
        "s2 moved up to the root",
    );
    expect_error(
        dom.snapshot_lookup_by_name("s1", 0),
        ErrorNumber::NO_DOMAIN_SNAPSHOT,
        "deleted",
    );
    dom.destroy(0).expect("destroy");
    expect_error(
        dom.undefine(0),
        ErrorNumber::OPERATION_INVALID,
        "undefine with snapshots",
    );
    remove(&dom);
}

fn network_xml(name: &str, bridge: &str) -> String {
    format!(
        "<network><name>{name}</name><uuid>{}</uuid><bridge name='{bridge}'/></network>",
        new_uuid()
    )
}

#[test]
fn networks() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let name = unique("net");
    let net = conn
        .network_define_xml(&network_xml(&name, "tdbr0"), 0)
        .expect("define");
    let status = net.status().expect("status");
    assert_eq!(
        (status.active, status.persistent, status.autostart),
        (false, true, false)
    );
    assert!(net
        .xml_desc(0)
        .expect("xml")
        .contains("<bridge name='tdbr0' stp='on' delay='0'/>"));
    let error = expect_error(
        conn.network_define_xml(&network_xml(&name, "tdbr1"), 0),
        ErrorNumber::OPERATION_FAILED,
        "duplicate name",
    );
    assert!(
        error.message().contains("already exists with uuid"),
        "{error:?}"
    );
    expect_error(
        conn.network_define_xml("<network", 0),
        ErrorNumber::XML_DETAIL,
        "malformed",
    );
    net.create().expect("start");
    expect_error(
        net.create(),
        ErrorNumber::OPERATION_INVALID,
        "start a running network",
    );
    expect_error(
        net.undefine(),
        ErrorNumber::OPERATION_INVALID,
        "undefine a running network",
    );
    let dhcp_host = virt_core::consts::network_update_section::IP_DHCP_HOST as u32;
    let add_last = virt_core::consts::network_update_command::ADD_LAST as u32;
    let error = expect_error(
        net.update(
            add_last,
            dhcp_host,
            -1,
            "<host mac='52:54:00:00:00:01' ip='10.0.0.5'/>",
            0,
        ),
        ErrorNumber::OPERATION_INVALID,
        "a network without <ip> has no DHCP",
    );
    assert!(
        error.message().contains("no <ip> element found"),
        "{error:?}"
    );
    let dns_txt = virt_core::consts::network_update_section::DNS_TXT as u32;
    net.update(add_last, dns_txt, -1, "<txt name='td' value='x'/>", 0)
        .expect("live DNS TXT record");
    assert!(net
        .xml_desc(0)
        .expect("xml")
        .contains("<txt name='td' value='x'/>"));
    net.set_autostart(true).expect("autostart");
    assert!(net.autostart().expect("autostart"));
    net.destroy().expect("stop");
    net.destroy()
        .expect("the test driver stops an inactive network without complaint");
    net.undefine().expect("undefine");
    expect_error(
        conn.network_lookup_by_name(&name),
        ErrorNumber::NO_NETWORK,
        "gone",
    );
    let transient = conn
        .network_create_xml(&network_xml(&unique("net"), "tdbr2"), 0)
        .expect("transient");
    assert!(!transient.is_persistent().expect("persistent"));
    transient.destroy().expect("stop transient");
    expect_error(
        conn.network_lookup_by_name(transient.name()),
        ErrorNumber::NO_NETWORK,
        "transient gone",
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < 5 && Instant::now() < deadline {
        match events.try_next() {
            Some(Event::NetworkLifecycle { net, event, .. }) if net.name == name => got.push(event),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(
        got,
        [
            net_ev::DEFINED,
            net_ev::STARTED,
            net_ev::STOPPED,
            net_ev::STOPPED,
            net_ev::UNDEFINED
        ]
    );
}

#[test]
fn storage_pools_and_volumes() {
    let conn = default_conn();
    let mut events = conn.events().expect("events");
    let name = unique("pool");
    let path = format!("/td-pools/{name}");
    let pool_xml =
        format!("<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>");
    let pool = conn.storage_pool_define_xml(&pool_xml, 0).expect("define");
    assert_eq!(pool.info().expect("info").state, 0);
    expect_error(
        conn.storage_pool_define_xml(&pool_xml.replace(&path, "/elsewhere"), 0),
        ErrorNumber::OPERATION_FAILED,
        "duplicate name",
    );
    let error = expect_error(
        conn.storage_pool_define_xml(
            &format!(
                "<pool type='dir'><name>{}</name><target><path>{path}</path></target></pool>",
                unique("pool")
            ),
            0,
        ),
        ErrorNumber::OPERATION_FAILED,
        "same target path",
    );
    assert_eq!(
        error.message(),
        format!("operation failed: Storage source conflict with pool: '{name}'")
    );
    let vol_xml = "<volume><name>v1.img</name><capacity unit='MiB'>10</capacity><allocation unit='MiB'>1</allocation></volume>";
    expect_error(
        pool.volume_create_xml(vol_xml, 0),
        ErrorNumber::OPERATION_INVALID,
        "inactive pool",
    );
    pool.build(0).expect("build");
    pool.create(0).expect("start");
    let vol = pool.volume_create_xml(vol_xml, 0).expect("volume");
    assert_eq!(vol.key(), format!("{path}/v1.img"));
    assert_eq!(vol.path().expect("path"), format!("{path}/v1.img"));
    let info = vol.info(0).expect("info");
    assert_eq!(
        (info.kind, info.capacity, info.allocation),
        (0, 10 << 20, 1 << 20)
    );
    let xml = vol.xml_desc(0).expect("xml");
    assert!(
        xml.contains("<capacity unit='bytes'>10485760</capacity>")
            && xml.contains("<format type='raw'/>"),
        "{xml}"
    );
    assert_eq!(pool.info().expect("info").allocation, 1 << 20);
    expect_error(
        pool.volume_create_xml(vol_xml, 0),
        ErrorNumber::OPERATION_FAILED,
        "duplicate volume",
    );
    assert_eq!(
        conn.storage_vol_lookup_by_path(&format!("{path}/v1.img"))
            .expect("by path")
            .name(),
        "v1.img"
    );
    assert_eq!(
        conn.storage_vol_lookup_by_key(&format!("{path}/v1.img"))
            .expect("by key")
            .name(),
        "v1.img"
    );
    assert_eq!(vol.pool().expect("pool").name(), name);
    expect_error(
        pool.volume_lookup_by_name("nosuch.img"),
        ErrorNumber::NO_STORAGE_VOL,
        "missing volume",
    );
    assert_eq!(pool.list_all_volumes().expect("volumes").len(), 1);
    expect_error(
        pool.undefine(),
        ErrorNumber::OPERATION_INVALID,
        "undefine an active pool",
    );
    vol.delete(0).expect("delete volume");
    assert_eq!(pool.info().expect("info").allocation, 0);
    expect_error(
        conn.storage_vol_lookup_by_path(&format!("{path}/v1.img")),
        ErrorNumber::NO_STORAGE_VOL,
        "deleted",
    );
    pool.destroy().expect("stop");
    pool.delete(0).expect("delete");
    pool.undefine().expect("undefine");
    expect_error(
        conn.storage_pool_lookup_by_name(&name),
        ErrorNumber::NO_STORAGE_POOL,
        "gone",
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < 6 && Instant::now() < deadline {
        match events.try_next() {
            Some(Event::PoolLifecycle { pool, event, .. }) if pool.name == name => got.push(event),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    assert_eq!(
        got,
        [
            pool_ev::DEFINED,
            pool_ev::CREATED,
            pool_ev::STARTED,
            pool_ev::STOPPED,
            pool_ev::DELETED,
            pool_ev::UNDEFINED
        ]
    );
}

/// A node document with a paused and a shut-off domain, a network, a pool with a volume and
/// a device; the domain file is a separate document next to it.
fn write_node(dir: &std::path::Path) -> String {
    std::fs::write(
        dir.join("off.xml"),
        "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
         <name>off</name><uuid>11111111-2222-3333-4444-555555555555</uuid><memory>524288</memory>\
         <os><type>hvm</type></os><test:runstate>5</test:runstate><test:hasmanagedsave/></domain>",
    )
    .expect("domain file");
    let node = dir.join("node.xml");
    std::fs::write(
        &node,
        "<node>\n  <cpu><mhz>2000</mhz><model>x86_64</model><nodes>1</nodes><sockets>1</sockets>\
         <cores>4</cores><threads>1</threads></cpu>\n  <memory>8192000</memory>\n  \
         <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
         <name>fv0</name><memory>524288</memory><os><type>hvm</type></os><test:runstate>3</test:runstate></domain>\n  \
         <domain file='off.xml'/>\n  \
         <network><name>n1</name><bridge name='br9'/></network>\n  \
         <pool type='dir'><name>p1</name><target><path>/p1</path></target>\
         <volume><name>v1</name><capacity>1000</capacity><allocation>500</allocation></volume></pool>\n</node>\n",
    )
    .expect("node file");
    node.to_str().expect("utf-8").to_string()
}

#[test]
fn custom_node_documents_are_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_node(dir.path());
    let conn = connect(&format!("test://{path}"));
    let info = conn.node_info().expect("node info");
    assert_eq!(
        (info.model.as_str(), info.memory_kib, info.cpus, info.mhz),
        ("x86_64", 8192000, 4, 2000)
    );
    expect_error(
        conn.node_cells_free_memory(0, 1),
        ErrorNumber::INVALID_ARG,
        "no cells",
    );
    let paused = conn.domain_lookup_by_name("fv0").expect("fv0");
    assert_eq!(
        (paused.id(), state(&paused)),
        (1, (domain_state::PAUSED, 0))
    );
    let off = conn.domain_lookup_by_name("off").expect("off");
    assert_eq!(state(&off), (domain_state::SHUTOFF, 0));
    assert!(off.has_managed_save().expect("managed save"));
    let pool = conn.storage_pool_lookup_by_name("p1").expect("pool");
    let info = pool.info().expect("info");
    assert_eq!((info.state, info.allocation), (2, 500));
    assert_eq!(
        pool.volume_lookup_by_name("v1").expect("volume").key(),
        "/p1/v1"
    );
    assert!(conn
        .network_lookup_by_name("n1")
        .expect("network")
        .is_active()
        .expect("active"));
    expect_error(
        conn.domain_lookup_by_name("test"),
        ErrorNumber::NO_DOMAIN,
        "not the default node",
    );

    conn.domain_define_xml(&domain_xml("mine", &new_uuid(), 1024), 0)
        .expect("define");
    let other = connect(&format!("test://{path}"));
    expect_error(
        other.domain_lookup_by_name("mine"),
        ErrorNumber::NO_DOMAIN,
        "each connection has its own node",
    );

    std::fs::write(dir.path().join("bad.xml"), "<nodes/>").expect("bad node");
    let bad = format!("test://{}", dir.path().join("bad.xml").display());
    let error = Connect::open(&bad).expect_err("wrong root");
    assert_eq!(error.code(), ErrorNumber::XML_ERROR, "{error:?}");
    let error = Connect::open("test:///no/such/node.xml").expect_err("missing file");
    assert_eq!(error.code(), ErrorNumber::XML_ERROR, "{error:?}");
    let error = Connect::open("test:///").expect_err("no path");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG, "{error:?}");
}
