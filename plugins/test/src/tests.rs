//! Scenarios run natively against an in-memory space: the driver's semantics without a wasm
//! host (the integration tests in `tests/all/test_driver.rs` run the built plugin).

use virt_core::consts::{
    connect_list_all_domains_flags as list, domain_event_defined_detail_type as defined,
    domain_event_type as ev, domain_running_reason, domain_shutoff_reason, domain_state,
    domain_xml_flags,
};
use virt_core::{ErrorNumber, Uuid};
use virt_plugin_sdk::types::{DomainRef, Event};

use crate::domain::{self, config, lifecycle, save};
use crate::node;
use crate::space::memory::MemorySpace;
use crate::space::Space;

fn default_space() -> MemorySpace {
    let space = MemorySpace::default();
    node::populate_default(&space).expect("default node loads");
    space.take_events();
    space
}

fn domain_xml(name: &str, uuid: &str, memory_kib: u64) -> String {
    format!(
        "<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory unit='KiB'>{memory_kib}</memory>\
         <currentMemory unit='KiB'>{memory_kib}</currentMemory><vcpu placement='static'>2</vcpu>\
         <os><type arch='x86_64'>hvm</type></os><devices/></domain>"
    )
}

const UUID_A: &str = "11111111-2222-3333-4444-000000000001";
const UUID_B: &str = "11111111-2222-3333-4444-000000000002";

fn lifecycle_events(space: &MemorySpace) -> Vec<(String, i32, i32)> {
    space
        .take_events()
        .into_iter()
        .filter_map(|event| match event {
            Event::DomainLifecycle((dom, event, detail)) => Some((dom.name, event, detail)),
            _ => None,
        })
        .collect()
}

fn state_of(space: &dyn Space, dom: &DomainRef) -> (i32, i32) {
    let state = lifecycle::state(space, dom, 0).expect("state");
    (state.state, state.reason)
}

#[test]
fn default_node_has_the_running_test_domain() {
    let space = default_space();
    let test = domain::lookup_by_name(&space, "test").expect("test exists");
    assert_eq!(test.id, 1);
    assert_eq!(
        Uuid::from(test.uuid).to_string(),
        "6695eb01-f6a4-8304-79aa-97f2502e193f"
    );
    assert_eq!(state_of(&space, &test), (domain_state::RUNNING, 0));
    let info = lifecycle::info(&space, &test).expect("info");
    assert_eq!(
        (info.max_mem_kib, info.memory_kib, info.nr_virt_cpu),
        (8388608, 2097152, 2)
    );
    let xml = lifecycle::xml(&space, &test, 0).expect("xml");
    assert!(
        xml.starts_with("<domain type='test' id='1'>\n  <name>test</name>\n"),
        "{xml}"
    );
    assert!(xml.contains("<target dev='testnet0'/>"), "{xml}");
    assert!(xml.contains("<source network='default'/>"), "{xml}");
    let inactive = lifecycle::xml(&space, &test, domain_xml_flags::INACTIVE).expect("xml");
    assert!(inactive.starts_with("<domain type='test'>\n"), "{inactive}");
    assert_eq!(domain::lookup_by_id(&space, 1).expect("by id").name, "test");
}

#[test]
fn lifecycle_with_events() {
    let space = default_space();
    let dom = lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    assert_eq!(dom.id, -1);
    assert_eq!(
        state_of(&space, &dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::UNKNOWN)
    );
    let started = lifecycle::create(&space, &dom, 0).expect("start");
    assert_eq!(started.id, 2, "the default domain has id 1");
    assert_eq!(
        state_of(&space, &dom),
        (domain_state::RUNNING, domain_running_reason::BOOTED)
    );
    lifecycle::suspend(&space, &dom).expect("suspend");
    lifecycle::resume(&space, &dom).expect("resume");
    lifecycle::destroy(&space, &dom, 0).expect("destroy");
    assert_eq!(
        state_of(&space, &dom),
        (domain_state::SHUTOFF, domain_shutoff_reason::DESTROYED)
    );
    lifecycle::undefine(&space, &dom, 0).expect("undefine");
    assert_eq!(
        lifecycle_events(&space),
        vec![
            ("a".into(), ev::DEFINED, defined::ADDED),
            ("a".into(), ev::STARTED, 0),
            ("a".into(), ev::SUSPENDED, 0),
            ("a".into(), ev::RESUMED, 0),
            ("a".into(), ev::STOPPED, 1),
            ("a".into(), ev::UNDEFINED, 0),
        ]
    );
    let error = domain::lookup_by_name(&space, "a").expect_err("gone");
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN);
    assert_eq!(error.message(), "Domain not found");
}

#[test]
fn duplicates_are_refused_and_change_nothing() {
    let space = default_space();
    lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    space.take_events();
    let before = space.snapshot();
    let error =
        lifecycle::define_xml(&space, &domain_xml("a", UUID_B, 131072), 0).expect_err("same name");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    assert_eq!(
        error.message(),
        format!("operation failed: domain 'a' already exists with uuid {UUID_A}")
    );
    let error =
        lifecycle::define_xml(&space, &domain_xml("b", UUID_A, 131072), 0).expect_err("same uuid");
    assert_eq!(
        error.message(),
        format!("operation failed: domain 'a' is already defined with uuid {UUID_A}")
    );
    let error =
        lifecycle::create_xml(&space, &domain_xml("a", UUID_B, 131072), 0).expect_err("createXML");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    for bad in [
        "",
        "<domain",
        "<foo/>",
        "<domain type='test'><memory>1</memory></domain>",
    ] {
        assert!(lifecycle::define_xml(&space, bad, 0).is_err(), "{bad}");
    }
    assert_eq!(space.snapshot(), before);
    assert!(space.take_events().is_empty());
}

#[test]
fn invalid_states_use_the_test_driver_codes() {
    let space = default_space();
    let dom = lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    let code = |result: virt_core::Result<()>| result.expect_err("must fail").code();
    assert_eq!(
        code(lifecycle::destroy(&space, &dom, 0)),
        ErrorNumber::OPERATION_INVALID
    );
    assert_eq!(
        code(lifecycle::suspend(&space, &dom)),
        ErrorNumber::INTERNAL_ERROR
    );
    assert_eq!(
        code(lifecycle::resume(&space, &dom)),
        ErrorNumber::INTERNAL_ERROR
    );
    assert_eq!(
        code(lifecycle::shutdown(&space, &dom, 0)),
        ErrorNumber::INTERNAL_ERROR
    );
    lifecycle::create(&space, &dom, 0).expect("start");
    let again = lifecycle::create(&space, &dom, 0).expect_err("running");
    assert_eq!(
        again.message(),
        "internal error: Domain 'a' is already running"
    );
    assert_eq!(
        code(lifecycle::resume(&space, &dom)),
        ErrorNumber::INTERNAL_ERROR
    );
    lifecycle::suspend(&space, &dom).expect("suspend");
    assert_eq!(
        code(lifecycle::suspend(&space, &dom)),
        ErrorNumber::INTERNAL_ERROR
    );
    assert_eq!(state_of(&space, &dom).0, domain_state::PAUSED);
}

#[test]
fn define_while_running_changes_the_next_boot() {
    let space = default_space();
    let dom = lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    lifecycle::create(&space, &dom, 0).expect("start");
    lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 262144), 0).expect("redefine");
    let live = lifecycle::xml(&space, &dom, 0).expect("live");
    let config = lifecycle::xml(&space, &dom, domain_xml_flags::INACTIVE).expect("config");
    assert!(
        live.contains("<memory unit='KiB'>131072</memory>"),
        "{live}"
    );
    assert!(
        config.contains("<memory unit='KiB'>262144</memory>"),
        "{config}"
    );
    lifecycle::destroy(&space, &dom, 0).expect("destroy");
    let after = lifecycle::xml(&space, &dom, 0).expect("after");
    assert!(
        after.contains("<memory unit='KiB'>262144</memory>"),
        "{after}"
    );
    let events = lifecycle_events(&space);
    assert_eq!(events[2], ("a".into(), ev::DEFINED, defined::UPDATED));
}

#[test]
fn transient_domains_vanish_when_stopped() {
    let space = default_space();
    let dom = lifecycle::create_xml(&space, &domain_xml("t", UUID_A, 131072), 0).expect("create");
    let status = domain::status(&space, &dom).expect("status");
    assert!(status.active && !status.persistent);
    let error =
        lifecycle::define_xml(&space, &domain_xml("t", UUID_B, 131072), 0).expect_err("dup");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
    lifecycle::destroy(&space, &dom, 0).expect("destroy");
    assert_eq!(
        domain::lookup_by_name(&space, "t")
            .expect_err("gone")
            .code(),
        ErrorNumber::NO_DOMAIN
    );
    // Undefining a running persistent domain makes it transient.
    let dom = lifecycle::define_xml(&space, &domain_xml("p", UUID_B, 131072), 0).expect("define");
    lifecycle::create(&space, &dom, 0).expect("start");
    lifecycle::undefine(&space, &dom, 0).expect("undefine");
    let status = domain::status(&space, &dom).expect("status");
    assert!(status.active && !status.persistent);
    lifecycle::shutdown(&space, &dom, 0).expect("shutdown");
    assert!(domain::lookup_by_name(&space, "p").is_err());
}

#[test]
fn list_filters() {
    let space = default_space();
    let inactive =
        lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    let transient =
        lifecycle::create_xml(&space, &domain_xml("t", UUID_B, 131072), 0).expect("create");
    lifecycle::suspend(&space, &transient).expect("suspend");
    lifecycle::set_autostart(&space, &inactive, true).expect("autostart");
    let names = |flags: u32| {
        let mut names: Vec<String> = domain::list_all(&space, flags)
            .expect("list")
            .into_iter()
            .map(|d| d.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(0), ["a", "t", "test"]);
    assert_eq!(names(list::ACTIVE), ["t", "test"]);
    assert_eq!(names(list::INACTIVE), ["a"]);
    assert_eq!(names(list::TRANSIENT), ["t"]);
    assert_eq!(names(list::PAUSED), ["t"]);
    assert_eq!(names(list::RUNNING | list::SHUTOFF), ["a", "test"]);
    assert_eq!(names(list::AUTOSTART), ["a"]);
    assert_eq!(names(list::NO_SNAPSHOT), ["a", "t", "test"]);
    let error = domain::list_all(&space, 1 << 30).expect_err("unknown flag");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    assert_eq!(
        error.message(),
        "unsupported flags (0x40000000) in function testConnectListAllDomains"
    );
}

#[test]
fn save_and_restore_through_an_image() {
    let space = default_space();
    let test = domain::lookup_by_name(&space, "test").expect("test");
    save::save(&space, &test, "/tmp/test.img", None, 0).expect("save");
    assert_eq!(
        state_of(&space, &test),
        (domain_state::SHUTOFF, domain_shutoff_reason::SAVED)
    );
    let image = space.read_file("/tmp/test.img").expect("written");
    assert_eq!(&image[..15], b"TestGuestMagic\0");
    let xml = save::image_xml(&space, "/tmp/test.img", 0).expect("image xml");
    assert!(
        xml.contains("<name>test</name>") && !xml.contains(" id="),
        "{xml}"
    );
    save::restore(&space, "/tmp/test.img", None, 0).expect("restore");
    assert_eq!(
        state_of(&space, &test),
        (domain_state::RUNNING, domain_running_reason::RESTORED)
    );
    let events = lifecycle_events(&space);
    assert_eq!(
        events,
        vec![
            ("test".into(), ev::STOPPED, 4),
            ("test".into(), ev::STARTED, 2)
        ]
    );
    let error = save::restore(&space, "/tmp/test.img", None, 0).expect_err("already running");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    let error = save::restore(&space, "/nonexistent.img", None, 0).expect_err("no image");
    assert_eq!(error.code(), ErrorNumber::SYSTEM_ERROR);
}

#[test]
fn managed_save_and_rename() {
    let space = default_space();
    let dom = lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    lifecycle::create(&space, &dom, 0).expect("start");
    save::managed_save(&space, &dom, 0).expect("managed save");
    assert!(
        domain::status(&space, &dom)
            .expect("status")
            .has_managed_save
    );
    let error = lifecycle::undefine(&space, &dom, 0).expect_err("image exists");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
    lifecycle::create(&space, &dom, 0).expect("start from managed save");
    assert!(
        !domain::status(&space, &dom)
            .expect("status")
            .has_managed_save
    );
    lifecycle::destroy(&space, &dom, 0).expect("destroy");
    space.take_events();
    let renamed = lifecycle::rename(&space, &dom, "b", 0).expect("rename");
    assert_eq!(renamed.name, "b");
    assert!(domain::lookup_by_name(&space, "a").is_err());
    assert!(lifecycle::xml(&space, &renamed, 0)
        .expect("xml")
        .contains("<name>b</name>"));
    assert_eq!(
        lifecycle_events(&space),
        vec![
            ("a".into(), ev::UNDEFINED, 1),
            ("b".into(), ev::DEFINED, defined::RENAMED)
        ]
    );
    let error = lifecycle::rename(&space, &renamed, "test", 0).expect_err("taken");
    assert_eq!(error.code(), ErrorNumber::OPERATION_INVALID);
}

#[test]
fn memory_vcpus_and_metadata() {
    let space = default_space();
    let dom = lifecycle::define_xml(&space, &domain_xml("a", UUID_A, 131072), 0).expect("define");
    config::set_memory(&space, &dom, 65536, 0).expect("balloon");
    assert_eq!(
        lifecycle::info(&space, &dom).expect("info").memory_kib,
        65536
    );
    let error = config::set_memory(&space, &dom, 1 << 30, 0).expect_err("above max");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
    config::set_memory(
        &space,
        &dom,
        262144,
        virt_core::consts::domain_memory_mod_flags::MAXIMUM,
    )
    .expect("max");
    assert_eq!(config::max_memory(&space, &dom).expect("max"), 262144);
    config::set_vcpus(&space, &dom, 1, 0).expect("vcpus");
    assert_eq!(config::vcpus(&space, &dom, 0).expect("vcpus"), 1);
    assert_eq!(
        config::set_vcpus(&space, &dom, 33, 0)
            .expect_err("too many")
            .code(),
        ErrorNumber::INVALID_ARG
    );
    config::set_metadata(&space, &dom, 0, Some("hello <&>"), None, None, 0).expect("description");
    assert_eq!(
        config::metadata(&space, &dom, 0, None, 0).expect("description"),
        "hello <&>"
    );
    let error = config::metadata(&space, &dom, 1, None, 0).expect_err("no title");
    assert_eq!(error.code(), ErrorNumber::NO_DOMAIN_METADATA);
}

#[test]
fn default_node_documents_match_libvirt() {
    let space = default_space();
    let net = crate::network::lookup_by_name(&space, "default").expect("net");
    assert_eq!(
        crate::network::xml(&space, &net, 0).expect("xml"),
        "<network>\n  <name>default</name>\n  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>\n  \
         <forward mode='nat'/>\n  <bridge name='virbr0' stp='on' delay='0'/>\n  \
         <ip address='192.168.122.1' netmask='255.255.255.0'>\n    <dhcp>\n      \
         <range start='192.168.122.2' end='192.168.122.254'/>\n    </dhcp>\n  </ip>\n</network>\n"
    );
    let pool = crate::storage::lookup_pool_by_name(&space, "default-pool").expect("pool");
    assert_eq!(
        crate::storage::pool_xml(&space, &pool, 0).expect("xml"),
        "<pool type='dir'>\n  <name>default-pool</name>\n  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>\n  \
         <capacity unit='bytes'>107374182400</capacity>\n  <allocation unit='bytes'>0</allocation>\n  \
         <available unit='bytes'>107374182400</available>\n  <source>\n  </source>\n  <target>\n    \
         <path>/default-pool</path>\n  </target>\n</pool>\n"
    );
    assert_eq!(
        crate::nodedev::list(&space, None, 0).expect("devs"),
        ["computer", "scsi_host1", "scsi_host11", "scsi_host2"]
    );
    let scsi = crate::nodedev::xml(&space, "scsi_host1", 0).expect("xml");
    assert!(
        scsi.contains("<max_vports>0</max_vports>\n      <vports>0</vports>"),
        "{scsi}"
    );
    assert_eq!(
        crate::nodedev::list(&space, Some("vports"), 0).expect("vports"),
        ["scsi_host1", "scsi_host2"]
    );
    let caps = crate::connect::capabilities(&space).expect("caps");
    assert!(caps.contains("<cells num='2'>"), "{caps}");
    assert!(
        caps.contains("<pages unit='KiB' size='8'>524288</pages>"),
        "{caps}"
    );
}

#[test]
fn default_host_interface() {
    let space = default_space();
    let all = crate::interface::list_all(&space, 0).expect("list");
    assert_eq!(
        all.iter()
            .map(|i| (i.name.as_str(), i.mac.as_str()))
            .collect::<Vec<_>>(),
        [("eth1", "aa:bb:cc:dd:ee:ff")]
    );
    let iface = crate::interface::lookup_by_mac(&space, "AA:BB:CC:DD:EE:FF").expect("by mac");
    assert_eq!(
        iface.mac, "AA:BB:CC:DD:EE:FF",
        "the handle carries the MAC as asked"
    );
    assert_eq!(
        crate::interface::xml(&space, &iface, 0).expect("xml"),
        "<interface type='ethernet' name='eth1'>\n  <start mode='onboot'/>\n  <mtu size='1492'/>\n  \
         <protocol family='ipv4'>\n    <ip address='192.168.0.5' prefix='24'/>\n    \
         <route gateway='192.168.0.1'/>\n  </protocol>\n  <mac address='aa:bb:cc:dd:ee:ff'/>\n</interface>\n"
    );
    let error = crate::interface::lookup_by_name(&space, "nosuchif0").expect_err("missing");
    assert_eq!(error.code(), ErrorNumber::NO_INTERFACE);
}

#[test]
fn node_documents_with_the_test_namespace() {
    let space = MemorySpace::default();
    let node = "<node>\
        <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
          <name>snapdom</name><memory>1048576</memory><os><type>hvm</type></os>\
          <test:runstate>5</test:runstate>\
          <test:domainsnapshot><name>first</name><state>shutoff</state>\
            <creationTime>1500000000</creationTime><active>0</active></test:domainsnapshot>\
          <test:domainsnapshot><name>second</name><state>running</state><parent><name>first</name></parent>\
            <creationTime>1500000100</creationTime><active>1</active></test:domainsnapshot>\
        </domain>\
        <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\
          <name>tr</name><memory>1048576</memory><os><type>hvm</type></os><test:transient/>\
        </domain></node>";
    space
        .write_file("/nodes/n.xml", node.as_bytes())
        .expect("file");
    node::populate_from_file(&space, "/nodes/n.xml").expect("loads");
    let dom = domain::lookup_by_name(&space, "snapdom").expect("snapdom");
    assert_eq!(state_of(&space, &dom), (domain_state::SHUTOFF, 0));
    assert_eq!(
        crate::snapshot::current(&space, &dom, 0).expect("current"),
        "second"
    );
    assert_eq!(
        crate::snapshot::parent(&space, &dom, "second", 0).expect("parent"),
        "first"
    );
    assert_eq!(
        crate::snapshot::list_all(&space, &dom, 0).expect("all"),
        ["first", "second"]
    );
    let transient = domain::lookup_by_name(&space, "tr").expect("tr");
    let status = domain::status(&space, &transient).expect("status");
    assert!(status.active && !status.persistent);

    let other = MemorySpace::default();
    other
        .write_file(
            "/nodes/bad.xml",
            node.replace("<active>1</active>", "").as_bytes(),
        )
        .expect("file");
    let error = node::populate_from_file(&other, "/nodes/bad.xml").expect_err("no <active>");
    assert_eq!(
        error.message(),
        "internal error: Could not find 'active' element"
    );
}
