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
    // Unfiltered listings come from the indexes: the records' references, ids and order.
    let key = |d: virt_plugin_sdk::types::DomainRef| (virt_core::Uuid::from(d.uuid), d.name, d.id);
    for flags in [0, list::ACTIVE, list::INACTIVE] {
        let from_records: Vec<_> = domain::all(&space)
            .expect("all")
            .into_iter()
            .filter(|d| domain::matches_filter(&d.rec, flags))
            .map(|d| key(d.reference()))
            .collect();
        let listed: Vec<_> = domain::list_all(&space, flags)
            .expect("list")
            .into_iter()
            .map(key)
            .collect();
        assert_eq!(listed, from_records, "flags {flags}");
    }
    // The packed listing (`domain-listing`) lists the same domains in the same order, from
    // the indexes and from the records alike.
    for flags in [
        0,
        list::ACTIVE,
        list::INACTIVE,
        list::TRANSIENT,
        list::PAUSED,
        list::AUTOSTART,
        list::RUNNING | list::SHUTOFF,
    ] {
        let listed: Vec<virt_core::DomainRef> = domain::list_all(&space, flags)
            .expect("list")
            .into_iter()
            .map(|d| virt_core::DomainRef {
                name: d.name,
                uuid: d.uuid.into(),
                id: d.id,
            })
            .collect();
        let packed = domain::list_all_packed(&space, flags).expect("packed");
        assert_eq!(
            virt_core::packed::unpack_domains(&packed).expect("unpack"),
            listed,
            "flags {flags}"
        );
    }
    let error = domain::list_all_packed(&space, 1 << 30).expect_err("unknown flag");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
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

fn params_of(params: &[virt_plugin_sdk::types::TypedParam]) -> Vec<(String, String)> {
    use virt_plugin_sdk::types::TypedValue;
    params
        .iter()
        .map(|p| {
            let value = match &p.value {
                TypedValue::Int(v) => v.to_string(),
                TypedValue::Uint(v) => v.to_string(),
                TypedValue::Llong(v) => v.to_string(),
                TypedValue::Ullong(v) => v.to_string(),
                TypedValue::Double(v) => v.to_string(),
                TypedValue::Boolean(v) => v.to_string(),
                TypedValue::String(v) => v.clone(),
            };
            (p.field.clone(), value)
        })
        .collect()
}

fn typed(
    field: &str,
    value: virt_plugin_sdk::types::TypedValue,
) -> virt_plugin_sdk::types::TypedParam {
    crate::typed_params::param(field, value)
}

/// The tunables and what libvirt's test driver answered for the same calls on `test`.
#[test]
fn tunables_as_the_test_driver_keeps_them() {
    use crate::domain::tuning;
    use virt_plugin_sdk::types::{ParameterSet as Set, TypedValue as V};
    let space = default_space();
    let test = domain::lookup_by_name(&space, "test").expect("test");
    let get = |set, device: Option<&str>| {
        params_of(&tuning::get(&space, &test, set, device, 0).expect("get"))
    };
    let err = |result: virt_core::Result<()>| {
        let e = result.expect_err("refused");
        (e.code(), e.message().to_string())
    };
    let value = |params: &[(String, String)], field: &str| {
        params
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        value(&get(Set::Memory, None), "hard_limit"),
        "9007199254740991"
    );
    let before = lifecycle::xml(&space, &test, 0).expect("xml");

    // Refused changes leave the definition alone.
    let refused = [
        (Set::Memory, None, vec![typed("hard_limit", V::Ullong(1000000)), typed("swap_hard_limit", V::Ullong(5))],
         (ErrorNumber::INVALID_ARG, "invalid argument: memory hard_limit tunable value must be lower than or equal to swap_hard_limit")),
        (Set::Blkio, None, vec![typed("device_weight", V::String("/dev/sda,x".into()))],
         (ErrorNumber::INVALID_ARG, "invalid argument: invalid value 'x' for parameter 'device_weight' of device '/dev/sda'")),
        (Set::Blkio, None, vec![typed("device_weight", V::String("/dev/sda".into()))],
         (ErrorNumber::INVALID_ARG, "invalid argument: unable to parse blkio device 'device_weight' '/dev/sda'")),
        (Set::Numa, None, vec![typed("numa_mode", V::Int(9))],
         (ErrorNumber::INVALID_ARG, "invalid argument: unsupported numatune mode: '9'")),
        (Set::Numa, None, vec![typed("numa_nodeset", V::String("^0".into()))],
         (ErrorNumber::OPERATION_INVALID, "Requested operation is not valid: Invalid nodeset of 'numatune': ^0")),
        (Set::Interface, Some("nosuch"), vec![typed("inbound.average", V::Uint(100))],
         (ErrorNumber::INVALID_ARG, "invalid argument: 'nosuch' is not a known interface")),
        (Set::BlockIoTune, Some("vda"), vec![typed("total_bytes_sec", V::Ullong(1000))],
         (ErrorNumber::INVALID_ARG, "invalid argument: total_bytes_sec cannot be set higher than total_bytes_sec_max ")),
        (Set::BlockIoTune, Some("vda"), vec![typed("total_bytes_sec", V::Ullong(10u64.pow(16)))],
         (ErrorNumber::ARGUMENT_UNSUPPORTED, "argument unsupported: block I/O throttle limit value must be no more than 1000000000000000")),
        (Set::BlockIoTune, Some("vdz"), vec![typed("total_iops_sec", V::Ullong(10))],
         (ErrorNumber::INVALID_ARG, "invalid argument: missing persistent configuration for disk 'vdz'")),
        (Set::Memory, None, vec![typed("hard_limit", V::Uint(1))],
         (ErrorNumber::INVALID_ARG, "invalid argument: invalid type 'uint' for parameter 'hard_limit', expected 'ullong'")),
        (Set::Memory, None, vec![typed("foo", V::Ullong(1))],
         (ErrorNumber::ARGUMENT_UNSUPPORTED, "argument unsupported: parameter 'foo' not supported")),
    ];
    for (set, device, params, (code, message)) in refused {
        assert_eq!(
            err(tuning::set(&space, &test, set, device, &params, 0)),
            (code, message.to_string())
        );
    }
    assert_eq!(lifecycle::xml(&space, &test, 0).expect("xml"), before);

    let set = |set, device, params: Vec<virt_plugin_sdk::types::TypedParam>| {
        tuning::set(&space, &test, set, device, &params, 0).expect("set");
    };
    set(
        Set::Memory,
        None,
        vec![
            typed("hard_limit", V::Ullong(1000000)),
            typed("soft_limit", V::Ullong(500000)),
        ],
    );
    set(
        Set::Blkio,
        None,
        vec![
            typed("weight", V::Uint(500)),
            typed("device_weight", V::String("/dev/sda,100,/dev/sdb,0".into())),
            typed("device_read_iops_sec", V::String("/dev/sda,5".into())),
        ],
    );
    set(
        Set::Numa,
        None,
        vec![
            typed("numa_mode", V::Int(1)),
            typed("numa_nodeset", V::String("0".into())),
        ],
    );
    set(
        Set::Interface,
        Some("testnet0"),
        vec![
            typed("inbound.average", V::Uint(100)),
            typed("inbound.peak", V::Uint(200)),
            typed("outbound.average", V::Uint(50)),
        ],
    );
    set(
        Set::BlockIoTune,
        Some("vda"),
        vec![
            typed("total_bytes_sec", V::Ullong(1000)),
            typed("total_bytes_sec_max", V::Ullong(2000)),
            typed("read_iops_sec", V::Ullong(5)),
            typed("read_iops_sec_max", V::Ullong(7)),
            typed("group_name", V::String("g1".into())),
            typed("size_iops_sec", V::Ullong(3)),
        ],
    );
    assert_eq!(
        err(tuning::set(
            &space,
            &test,
            Set::BlockIoTune,
            Some("vda"),
            &[
                typed("total_iops_sec", V::Ullong(5)),
                typed("total_iops_sec_max", V::Ullong(6))
            ],
            0
        )),
        (
            ErrorNumber::INVALID_ARG,
            "invalid argument: total and read/write of iops_sec cannot be set at the same time"
                .to_string()
        )
    );
    set(
        Set::PerfEvents,
        None,
        vec![
            typed("cmt", V::Boolean(true)),
            typed("cpu_cycles", V::Boolean(false)),
        ],
    );
    crate::domain::guest::pin_vcpu(&space, &test, 0, &[0b101], 0).expect("pin");
    crate::domain::guest::set_lifecycle_action(&space, &test, 1, 3, 0).expect("reboot preserve");
    crate::domain::guest::set_lifecycle_action(&space, &test, 2, 4, 0).expect("crash coredump");

    let memory = get(Set::Memory, None);
    assert_eq!(value(&memory, "hard_limit"), "1000000");
    assert_eq!(value(&memory, "soft_limit"), "500000");
    let blkio = get(Set::Blkio, None);
    assert_eq!(value(&blkio, "device_weight"), "/dev/sda,100");
    assert_eq!(value(&blkio, "device_read_iops_sec"), "/dev/sda,5");
    assert_eq!(value(&get(Set::Numa, None), "numa_mode"), "1");
    assert_eq!(
        value(&get(Set::Interface, Some("testnet0")), "inbound.peak"),
        "200"
    );
    let iotune = get(Set::BlockIoTune, Some("vda"));
    assert_eq!(iotune.len(), 20);
    assert_eq!(iotune[13], ("group_name".to_string(), "g1".to_string()));
    assert_eq!(get(Set::PerfEvents, None).len(), 22);

    let xml = lifecycle::xml(&space, &test, 0).expect("xml");
    for expected in [
        "  <blkiotune>\n    <weight>500</weight>\n    <device>\n      <path>/dev/sda</path>\n      <weight>100</weight>\n      <read_iops_sec>5</read_iops_sec>\n    </device>\n  </blkiotune>\n",
        "  <memtune>\n    <hard_limit unit='KiB'>1000000</hard_limit>\n    <soft_limit unit='KiB'>500000</soft_limit>\n  </memtune>\n",
        "  <cputune>\n    <vcpupin vcpu='0' cpuset='0,2'/>\n  </cputune>\n  <numatune>\n    <memory mode='preferred' nodeset='0'/>\n  </numatune>\n",
        "  <on_reboot>preserve</on_reboot>\n  <on_crash>coredump-destroy</on_crash>\n  <perf>\n    <event name='cmt' enabled='yes'/>\n    <event name='cpu_cycles' enabled='no'/>\n  </perf>\n",
        "      <iotune>\n        <total_bytes_sec>1000</total_bytes_sec>\n        <read_iops_sec>5</read_iops_sec>\n        <total_bytes_sec_max>2000</total_bytes_sec_max>\n        <read_iops_sec_max>7</read_iops_sec_max>\n        <size_iops_sec>3</size_iops_sec>\n        <group_name>g1</group_name>\n      </iotune>\n",
        "      <source network='default'/>\n      <bandwidth>\n        <inbound average='100' peak='200'/>\n        <outbound average='50'/>\n      </bandwidth>\n",
    ] {
        assert!(xml.contains(expected), "{expected}\nnot in\n{xml}");
    }
    // All of it was the live definition: the persistent one is untouched.
    let inactive = lifecycle::xml(&space, &test, domain_xml_flags::INACTIVE).expect("xml");
    assert!(
        !inactive.contains("memtune") && !inactive.contains("iotune"),
        "{inactive}"
    );
}

/// What the guest "agent" of a running test domain answers, as libvirt's test driver does.
#[test]
fn guest_answers() {
    use crate::domain::guest;
    let space = default_space();
    let test = domain::lookup_by_name(&space, "test").expect("test");
    let vcpus = guest::vcpu_info(&space, &test).expect("vcpus");
    assert_eq!(vcpus.len(), 2);
    assert_eq!(
        (vcpus[0].cpu, vcpus[0].cpumap.clone()),
        (15, vec![0xff, 0xff])
    );
    guest::pin_vcpu(&space, &test, 0, &[0b101], 0).expect("pin");
    assert_eq!(guest::vcpu_info(&space, &test).expect("vcpus")[0].cpu, 2);
    let e = guest::pin_vcpu(&space, &test, 5, &[1], 0).expect_err("no vcpu 5");
    assert_eq!(
        e.message(),
        "invalid argument: requested vcpu '5' is not present in the domain"
    );

    let label = guest::security_label(&space, &test).expect("label");
    assert_eq!(
        (label[0].label.as_str(), label[0].enforcing),
        ("libvirt-test", true)
    );
    let info = guest::block_info(&space, &test, "vda", 0).expect("block info");
    assert_eq!(
        (info.capacity, info.allocation, info.physical),
        (1099506450432, 1099511627776, 1099511627776)
    );
    assert_eq!(
        guest::block_info(&space, &test, "vdz", 0)
            .expect_err("no disk")
            .message(),
        "invalid argument: invalid path vdz not assigned to domain"
    );
    let addresses = guest::interface_addresses(&space, &test, 0, 0).expect("addresses");
    assert_eq!(addresses[0].name, "testnet0");
    assert_eq!(addresses[0].hwaddr.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
    assert_eq!(
        (
            addresses[0].addresses[0].address.as_str(),
            addresses[0].addresses[0].prefix
        ),
        ("192.168.122.3", 24)
    );
    assert_eq!(
        guest::interface_addresses(&space, &test, 7, 0)
            .expect_err("source")
            .code(),
        ErrorNumber::ARGUMENT_UNSUPPORTED
    );

    assert_eq!(
        guest::get_time(&space, &test, 0).expect("time"),
        (627319920, 0)
    );
    guest::set_time(&space, &test, 1234, 5, 0).expect("set time");
    assert_eq!(guest::get_time(&space, &test, 0).expect("time"), (1234, 5));
    assert_eq!(
        guest::fs_freeze(&space, &test, &["/".into()], true, 0).expect("freeze"),
        1
    );
    assert_eq!(
        guest::fs_freeze(&space, &test, &[], true, 0).expect("freeze"),
        1
    );
    assert_eq!(
        guest::fs_freeze(&space, &test, &["/x".into()], true, 0)
            .expect_err("bad")
            .message(),
        "Requested operation is not valid: mount point not found: /x"
    );
    assert_eq!(
        guest::fs_freeze(&space, &test, &[], false, 0).expect("thaw"),
        2
    );
    assert_eq!(
        guest::disk_errors(&space, &test, 0).expect("errors"),
        vec![("vda".to_string(), 1)]
    );
    assert_eq!(
        guest::set_lifecycle_action(&space, &test, 0, 4, 0).expect_err("poweroff coredump").message(),
        "unsupported configuration: Lifecycle event 'poweroff' doesn't support 'coredump-destroy' action"
    );

    let dir = std::env::temp_dir().join(format!("rvirt-test-core-{}", std::process::id()));
    let path = dir.to_string_lossy().to_string();
    assert_eq!(
        guest::core_dump(&space, &test, &path, 1, 0)
            .expect_err("kdump")
            .code(),
        ErrorNumber::OPERATION_UNSUPPORTED
    );
    space.take_events();
    guest::core_dump(
        &space,
        &test,
        &path,
        0,
        virt_core::consts::domain_core_dump_flags::CRASH,
    )
    .expect("dump");
    assert_eq!(space.read_file(&path).expect("image"), b"TestGuestMagic\0");
    assert_eq!(
        state_of(&space, &test),
        (domain_state::SHUTOFF, domain_shutoff_reason::CRASHED)
    );
    assert_eq!(
        lifecycle_events(&space),
        vec![(
            "test".to_string(),
            ev::STOPPED,
            virt_core::consts::domain_event_stopped_detail_type::CRASHED
        )]
    );
    let label = guest::security_label(&space, &test).expect("label");
    assert_eq!((label[0].label.as_str(), label[0].enforcing), ("", false));
    assert_eq!(
        guest::vcpu_info(&space, &test)
            .expect_err("inactive")
            .message(),
        "Requested operation is not valid: cannot list vcpus for an inactive domain"
    );
}
