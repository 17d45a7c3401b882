//! The three conversions on the crate's own fixtures (`tests/fixtures`: an `xl` file, the
//! domain XML it reads as, the file the XML writes back, and for one the libxl JSON), and
//! the errors bad input gets. libvirt's own golden data is checked by
//! `cargo xtask xl-conformance`.

use virt_core::{ErrorDomain, ErrorNumber};
use virt_xl::{domain_to_libxl_json, domain_to_xl, xl_to_domain, XenHostFacts};
use virt_xml::domain::Domain;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn facts() -> XenHostFacts {
    XenHostFacts::default()
}

#[test]
fn fixtures_convert_both_ways() {
    for name in ["pv-ovs", "hvm-serial"] {
        let domain = xl_to_domain(&fixture(&format!("{name}.cfg")), &facts())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(domain.to_xml(), fixture(&format!("{name}.xml")), "{name}");
        let parsed = Domain::parse(&fixture(&format!("{name}.xml"))).expect("fixture parses");
        let cfg = domain_to_xl(&parsed, &facts()).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(cfg, fixture(&format!("{name}.out.cfg")), "{name}");
        // What is written reads back (with the defaults it spelled out now explicit).
        xl_to_domain(&cfg, &facts()).unwrap_or_else(|error| panic!("{name} again: {error}"));
    }
}

#[test]
fn fixture_builds_libxl_json() {
    let domain = Domain::parse(&fixture("pv-ovs.xml")).expect("fixture parses");
    let json = domain_to_libxl_json(&domain, &facts()).expect("converts");
    let expected: serde_json::Value =
        serde_json::from_str(&fixture("pv-ovs.json")).expect("fixture is JSON");
    assert_eq!(json, expected);
}

/// Asserts that `result` failed with `code` in `domain` and a message ending in `message`.
fn assert_error<T: std::fmt::Debug>(
    result: virt_xl::Result<T>,
    code: ErrorNumber,
    domain: ErrorDomain,
    message: &str,
) {
    let error = result.expect_err(message);
    assert_eq!(error.code(), code, "{error}");
    assert_eq!(error.domain(), domain, "{error}");
    assert!(
        error.message().ends_with(message),
        "`{}` should end with `{message}`",
        error.message()
    );
}

const MINIMAL: &str = "name = \"g\"\nuuid = \"c7a5fdb2-cdaf-9455-926a-d65c16db1809\"\n";

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}\n")
}

#[test]
fn unknown_guest_type_is_refused() {
    assert_error(
        xl_to_domain(&with("type = \"hvmx\""), &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::XEN,
        "type hvmx is not supported",
    );
}

#[test]
fn guest_type_the_host_does_not_run_is_refused() {
    let facts = XenHostFacts {
        hvm: false,
        ..XenHostFacts::default()
    };
    assert_error(
        xl_to_domain(&with("builder = \"hvm\""), &facts),
        ErrorNumber::INVALID_ARG,
        ErrorDomain::CAPABILITIES,
        "could not find capabilities for ostype=hvm domaintype=xen ",
    );
    let domain = xl_to_domain(&with("type = \"hvm\""), &XenHostFacts::default())
        .expect("the test host runs HVM");
    assert_error(
        domain_to_xl(&domain, &facts),
        ErrorNumber::INVALID_ARG,
        ErrorDomain::CAPABILITIES,
        "could not find capabilities for ostype=hvm arch=x86_64 domaintype=xen ",
    );
}

#[test]
fn foreign_domain_types_are_refused() {
    let xml = "<domain type='kvm'><name>k</name><memory>1024</memory>\
               <os><type>hvm</type></os></domain>";
    let domain = Domain::parse(xml).expect("parses");
    assert_error(
        domain_to_libxl_json(&domain, &facts()),
        ErrorNumber::INVALID_ARG,
        ErrorDomain::CAPABILITIES,
        "ostype=hvm arch=x86_64 domaintype=kvm ",
    );
    let xml = "<domain type='xen'><name>e</name><memory>1024</memory>\
               <os><type>exe</type></os></domain>";
    let domain = Domain::parse(xml).expect("parses");
    assert_error(
        domain_to_xl(&domain, &facts()),
        ErrorNumber::INVALID_ARG,
        ErrorDomain::CAPABILITIES,
        "ostype=exe arch=x86_64 domaintype=xen ",
    );
}

#[test]
fn malformed_lines_name_the_line() {
    assert_error(
        xl_to_domain(&with("memory = 512\nvcpus 2"), &facts()),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::CONF,
        "memory conf:4: expecting an assignment",
    );
    assert_error(
        xl_to_domain(&with("disk = [ \"a\", \"b\""), &facts()),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::CONF,
        // The line the reader had reached: the end of the unterminated list.
        "memory conf:4: list is not closed with ]",
    );
}

#[test]
fn missing_or_mistyped_settings_are_named() {
    assert_error(
        xl_to_domain("memory = 512\n", &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "config value name was missing",
    );
    assert_error(
        xl_to_domain("name = \"g\"\nuuid = \"not-a-uuid\"\n", &facts()),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::XEN,
        "not-a-uuid not parseable",
    );
    assert_error(
        xl_to_domain(&with("memory = [ 1 ]"), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "config value memory was malformed",
    );
    assert_error(
        xl_to_domain(&with("on_crash = \"explode\""), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "unexpected value explode for on_crash",
    );
    assert_error(
        xl_to_domain(&with("kernel = 5"), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::CONF,
        "expected a string for 'kernel' parameter",
    );
}

#[test]
fn bad_devices_say_which_entry() {
    assert_error(
        xl_to_domain(&with("disk = [ \"/x,raw,hda,rw,extra\" ]"), &facts()),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::XENXL,
        "too many positional parameters: near `extra' in `/x,raw,hda,rw,extra'",
    );
    assert_error(
        xl_to_domain(&with("vif = [ \"mac=00:16:3e:zz:00:01\" ]"), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "malformed mac address '00:16:3e:zz:00:01'",
    );
    assert_error(
        xl_to_domain(&with("vif = [ \"bridge=br0,rate=fast\" ]"), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "Invalid rate 'fast' specified",
    );
    assert_error(
        xl_to_domain(&with("pci = [ \"0000:01:1a\" ]"), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "Malformed PCI address 1a",
    );
    assert_error(
        xl_to_domain(&with("builder = \"hvm\"\nserial = \"bogus:1\""), &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        "unknown chr device type 'bogus'",
    );
    assert_error(
        xl_to_domain(&with("channel = [ \"connection=udp,name=x\" ]"), &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::XENXL,
        "unsupported channel connection 'udp' in 'connection=udp,name=x'",
    );
    assert_error(
        xl_to_domain(&with("builder = \"hvm\"\ncpuid = \"0x1:eax=xx\""), &facts()),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::XENXL,
        "cpuid starting with 0x1:eax=xx is not supported, only libxl format is",
    );
}

#[test]
fn incomplete_vnuma_is_refused() {
    assert_error(
        xl_to_domain(
            &with("builder = \"hvm\"\nvnuma = [ [ \"pnode=0\", \"size=512\" ] ]"),
            &facts(),
        ),
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::XENXL,
        "Incomplete vnuma configuration for vnode 0",
    );
    assert_error(
        xl_to_domain(
            &with("vcpus = 1\nbuilder = \"hvm\"\nvnuma = [ [ \"pnode=0\", \"size=512\", \"vcpus=0-1\" ] ]"),
            &facts(),
        ),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::XENXL,
        "vnuma configuration contains 2 vcpus, which is greater than 1 maxvcpus",
    );
}

#[test]
fn defaults_of_a_minimal_file() {
    let domain = xl_to_domain(MINIMAL, &facts()).expect("converts");
    let xml = domain.to_xml();
    // 128 MiB, one vCPU, a PV guest with its console, input devices, balloon and xenbus.
    assert!(xml.contains("<memory unit='KiB'>131072</memory>"), "{xml}");
    assert!(xml.contains("<type arch='x86_64' machine='xenpv'>linux</type>"));
    assert!(xml.contains("<target type='xen' port='0'/>"));
    assert!(xml.contains("<memballoon model='xen'/>"));
    assert!(xml.contains("<controller type='xenbus' index='0'/>"));
    assert!(xml.contains("<on_crash>restart</on_crash>"));
}

fn domain(xml_devices: &str, os: &str) -> Domain {
    let xml = format!(
        "<domain type='xen'><name>d</name><uuid>c7a5fdb2-cdaf-9455-926a-d65c16db1809</uuid>\
         <memory>524288</memory><os>{os}</os><devices>{xml_devices}</devices></domain>"
    );
    Domain::parse(&xml).unwrap_or_else(|error| panic!("{xml}: {error}"))
}

const HVM: &str = "<type>hvm</type>";
const PV: &str = "<type>linux</type><kernel>/boot/vmlinuz</kernel>";

#[test]
fn unconvertible_definitions_are_refused() {
    let network = domain(
        "<interface type='network'><source network='default'/></interface>",
        PV,
    );
    assert_error(
        domain_to_xl(&network, &facts()),
        ErrorNumber::NO_SUPPORT,
        ErrorDomain::XEN,
        "virNetworkLookupByName",
    );
    let transient = domain(
        "<disk type='file'><source file='/a'/><target dev='xvda'/><transient/></disk>",
        PV,
    );
    assert_error(
        domain_to_xl(&transient, &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::XENXL,
        "transient disks not supported yet",
    );
    let xml = "<domain type='xen'><name>t</name><memory>524288</memory><os><type>linux</type></os>\
               <clock offset='utc'><timer name='hpet' present='yes'/></clock></domain>";
    assert_error(
        domain_to_xl(&Domain::parse(xml).expect("parses"), &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::XEN,
        "unsupported timer type (name) 'hpet'",
    );
}

#[test]
fn libxl_refuses_what_it_cannot_run() {
    let parallel = domain("<parallel type='pty'/>", HVM);
    assert_error(
        domain_to_libxl_json(&parallel, &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::LIBXL,
        "Parallel devices are not supported by libxl",
    );
    let balloon = domain("<memballoon model='virtio'/>", PV);
    assert_error(
        domain_to_libxl_json(&balloon, &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::LIBXL,
        "unsupported balloon device model 'virtio'",
    );
    let video = domain(
        "<graphics type='vnc'/><video><model type='vga' vram='8192'/></video>",
        HVM,
    );
    assert_error(
        domain_to_libxl_json(&video, &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::LIBXL,
        "videoram must be at least 16MB for VGA",
    );
    let model = domain(
        "<interface type='bridge'><source bridge='br0'/><model type='e1000'/></interface>",
        PV,
    );
    assert_error(
        domain_to_libxl_json(&model, &facts()),
        ErrorNumber::CONFIG_UNSUPPORTED,
        ErrorDomain::LIBXL,
        "only model 'netfront' is supported for Xen PV(H) domains",
    );
    let driver = domain(
        "<disk type='file'><driver name='phy' type='qcow2'/><source file='/a'/><target dev='xvda'/></disk>",
        PV,
    );
    assert_error(
        domain_to_libxl_json(&driver, &facts()),
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::LIBXL,
        "libxenlight does not support disk format qcow2 with disk driver phy",
    );
}

#[test]
fn libxl_json_follows_the_host() {
    let xml = "<domain type='xen'><name>n</name><memory>1048576</memory><vcpu>2</vcpu>\
               <os><type>hvm</type></os><cpu mode='host-passthrough'><numa>\
               <cell id='0' cpus='0' memory='524288'/><cell id='1' cpus='1' memory='524288'/>\
               </numa></cpu></domain>";
    let domain = Domain::parse(xml).expect("parses");
    let two_nodes = domain_to_libxl_json(&domain, &facts()).expect("converts");
    let nodes = &two_nodes["b_info"]["vnuma_nodes"];
    assert_eq!(nodes[1]["pnode"], 1);
    assert_eq!(nodes[0]["distances"], serde_json::json!([10, 20]));
    assert_eq!(two_nodes["b_info"]["nested_hvm"], "True");
    let small_host = XenHostFacts {
        numa_nodes: 1,
        shadow_memkb: None,
        nested_hvm: false,
        ..XenHostFacts::default()
    };
    let one_node = domain_to_libxl_json(&domain, &small_host).expect("converts");
    assert_eq!(one_node["b_info"]["vnuma_nodes"][1].get("pnode"), None);
    assert_eq!(one_node["b_info"]["nested_hvm"], "False");
    // libxl's own estimate: 4 KiB * (256 per vCPU + 2 per MiB of RAM).
    assert_eq!(one_node["b_info"]["shadow_memkb"], 4 * (256 * 2 + 2 * 1024));
}
