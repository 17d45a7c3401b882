//! Property: for any document the parser accepts, format → parse → format is a fixed point,
//! and parsing never panics.
//!
//! Documents are generated from the domain vocabulary with random subsets, orders, values
//! (including unknown keywords, odd numbers, characters that need escaping, units and
//! whitespace), so both accepted and refused documents are exercised. The `cargo fuzz`
//! target `domain_xml` checks the same property on arbitrary bytes.

use proptest::prelude::*;
use virt_xml::document::Document;
use virt_xml::domain::Domain;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_.-]{0,12}",
        "[ -~]{0,16}",
        Just(String::new()),
        Just("  spaced  ".to_string()),
        Just("é€𝄞 unicode".to_string()),
        Just("line\nbreak".to_string()),
        Just("a\tb".to_string()),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..70000).prop_map(|n| n.to_string()),
        (0u64..256).prop_map(|n| format!("0x{n:x}")),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just(" 42".to_string()),
        Just("abc".to_string()),
    ]
}

fn pick(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(words).prop_map(str::to_string)
}

/// An attribute, present or not, with a value from `value`.
fn attr(name: &'static str, value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop::option::of(value)
        .prop_map(move |value| match value {
            Some(value) => format!(" {name}='{}'", escape(&value)),
            None => String::new(),
        })
        .boxed()
}

fn attrs(list: Vec<BoxedStrategy<String>>) -> BoxedStrategy<String> {
    list.prop_map(|parts| parts.concat()).boxed()
}

fn element(
    name: &'static str,
    attrs: BoxedStrategy<String>,
    children: BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    (attrs, children)
        .prop_map(move |(attrs, children)| {
            if children.is_empty() {
                format!("<{name}{attrs}/>")
            } else {
                format!("<{name}{attrs}>{children}</{name}>")
            }
        })
        .boxed()
}

fn text_element(name: &'static str, value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    value
        .prop_map(move |value| format!("<{name}>{}</{name}>", escape(&value)))
        .boxed()
}

fn any_of(items: Vec<BoxedStrategy<String>>, max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(prop::strategy::Union::new(items), 0..max)
        .prop_map(|parts| parts.join("\n"))
        .boxed()
}

fn address() -> BoxedStrategy<String> {
    prop_oneof![
        attrs(vec![
            attr("domain", number().boxed()),
            attr("bus", number().boxed()),
            attr("slot", number().boxed()),
            attr("function", number().boxed()),
            attr("multifunction", pick(&["on", "off", "maybe"]).boxed()),
        ])
        .prop_map(|a| format!("<address type='pci'{a}/>")),
        attrs(vec![
            attr("controller", number().boxed()),
            attr("bus", number().boxed()),
            attr("unit", number().boxed()),
        ])
        .prop_map(|a| format!("<address type='drive'{a}/>")),
        attr("port", pick(&["1", "1.2", "x"]).boxed())
            .prop_map(|a| format!("<address type='usb' bus='0'{a}/>")),
        pick(&[
            "ccw",
            "isa",
            "virtio-mmio",
            "spapr-vio",
            "dimm",
            "bogus",
            "unassigned"
        ])
        .prop_map(|t| format!("<address type='{t}'/>")),
    ]
    .boxed()
}

fn disk() -> BoxedStrategy<String> {
    let head = attrs(vec![
        attr(
            "type",
            pick(&["file", "block", "network", "volume", "nvme", "dir", "bad"]).boxed(),
        ),
        attr("device", pick(&["disk", "cdrom", "floppy", "lun"]).boxed()),
        attr("snapshot", pick(&["no", "internal", "external"]).boxed()),
    ]);
    let children = any_of(
        vec![
            element(
                "driver",
                attrs(vec![
                    attr("name", pick(&["qemu"]).boxed()),
                    attr("type", pick(&["raw", "qcow2", "vmdk", "nope"]).boxed()),
                    attr("cache", pick(&["none", "writeback", "directsync"]).boxed()),
                    attr("iothread", number().boxed()),
                    attr("iommu", pick(&["on", "off"]).boxed()),
                ]),
                Just(String::new()).boxed(),
            ),
            element(
                "source",
                attrs(vec![
                    attr("file", text_value().boxed()),
                    attr("protocol", pick(&["nbd", "rbd", "iscsi", "http"]).boxed()),
                    attr("name", text_value().boxed()),
                    attr("index", number().boxed()),
                ]),
                any_of(
                    vec![
                        element(
                            "host",
                            attrs(vec![
                                attr("name", text_value().boxed()),
                                attr("port", number().boxed()),
                            ]),
                            Just(String::new()).boxed(),
                        ),
                        element(
                            "seclabel",
                            attrs(vec![
                                attr("model", pick(&["dac", "selinux"]).boxed()),
                                attr("relabel", pick(&["yes", "no"]).boxed()),
                            ]),
                            prop::option::of(text_element("label", text_value().boxed()))
                                .prop_map(Option::unwrap_or_default)
                                .boxed(),
                        ),
                    ],
                    3,
                ),
            ),
            element(
                "target",
                attrs(vec![
                    attr("dev", text_value().boxed()),
                    attr(
                        "bus",
                        pick(&["virtio", "sata", "ide", "scsi", "usb"]).boxed(),
                    ),
                ]),
                Just(String::new()).boxed(),
            ),
            Just("<readonly/>".to_string()).boxed(),
            text_element("serial", text_value().boxed()),
            element(
                "boot",
                attr("order", number().boxed()),
                Just(String::new()).boxed(),
            ),
            address(),
            element(
                "backingStore",
                attr("type", pick(&["file", "block"]).boxed()),
                prop::option::of(Just("<format type='raw'/><source file='/b'/>".to_string()))
                    .prop_map(Option::unwrap_or_default)
                    .boxed(),
            ),
        ],
        7,
    );
    element("disk", head, children)
}

fn interface() -> BoxedStrategy<String> {
    let head = attr(
        "type",
        pick(&[
            "network",
            "bridge",
            "user",
            "direct",
            "hostdev",
            "vhostuser",
            "udp",
            "x",
        ])
        .boxed(),
    );
    let children = any_of(
        vec![
            element(
                "mac",
                attr(
                    "address",
                    pick(&["52:54:00:12:34:56", "zz", "01:00:5e:00:00:01"]).boxed(),
                ),
                Just(String::new()).boxed(),
            ),
            element(
                "source",
                attrs(vec![
                    attr("network", text_value().boxed()),
                    attr("bridge", text_value().boxed()),
                    attr("dev", text_value().boxed()),
                    attr(
                        "mode",
                        pick(&["vepa", "bridge", "server", "client"]).boxed(),
                    ),
                    attr("address", text_value().boxed()),
                    attr("port", number().boxed()),
                ]),
                prop::option::of(address())
                    .prop_map(Option::unwrap_or_default)
                    .boxed(),
            ),
            element(
                "model",
                attr("type", pick(&["virtio", "e1000e", "rtl8139"]).boxed()),
                Just(String::new()).boxed(),
            ),
            element(
                "driver",
                attrs(vec![
                    attr("name", pick(&["vhost", "qemu", "vfio"]).boxed()),
                    attr("queues", number().boxed()),
                ]),
                Just(String::new()).boxed(),
            ),
            element(
                "target",
                attr("dev", text_value().boxed()),
                Just(String::new()).boxed(),
            ),
            element(
                "bandwidth",
                Just(String::new()).boxed(),
                element(
                    "inbound",
                    attrs(vec![
                        attr("average", number().boxed()),
                        attr("peak", number().boxed()),
                    ]),
                    Just(String::new()).boxed(),
                ),
            ),
            Just("<vlan><tag id='3'/></vlan>".to_string()).boxed(),
            address(),
        ],
        6,
    );
    element("interface", head, children)
}

fn chr(name: &'static str) -> BoxedStrategy<String> {
    let head = attr(
        "type",
        pick(&[
            "pty",
            "file",
            "tcp",
            "udp",
            "unix",
            "spicevmc",
            "qemu-vdagent",
            "x",
        ])
        .boxed(),
    );
    let children = any_of(
        vec![
            element(
                "source",
                attrs(vec![
                    attr("mode", pick(&["bind", "connect"]).boxed()),
                    attr("host", text_value().boxed()),
                    attr("service", number().boxed()),
                    attr("path", text_value().boxed()),
                ]),
                Just(String::new()).boxed(),
            ),
            element(
                "target",
                attrs(vec![
                    attr(
                        "type",
                        pick(&["isa-serial", "virtio", "serial", "guestfwd"]).boxed(),
                    ),
                    attr("port", number().boxed()),
                    attr("name", text_value().boxed()),
                ]),
                prop::option::of(Just("<model name='isa-serial'/>".to_string()))
                    .prop_map(Option::unwrap_or_default)
                    .boxed(),
            ),
            Just("<protocol type='raw'/>".to_string()).boxed(),
            address(),
        ],
        4,
    );
    element(name, head, children)
}

fn other_device() -> BoxedStrategy<String> {
    prop_oneof![
        element(
            "controller",
            attrs(vec![
                attr("type", pick(&["pci", "usb", "scsi", "virtio-serial", "ide", "sata", "nope"]).boxed()),
                attr("index", number().boxed()),
                attr("model", text_value().boxed()),
            ]),
            any_of(vec![address(), Just("<target chassis='1' port='0x10'/>".to_string()).boxed(), Just("<model name='pcie-root-port'/>".to_string()).boxed()], 3),
        ),
        element(
            "graphics",
            attrs(vec![
                attr("type", pick(&["vnc", "spice", "sdl", "egl-headless", "dbus"]).boxed()),
                attr("port", number().boxed()),
                attr("autoport", pick(&["yes", "no"]).boxed()),
                attr("passwd", text_value().boxed()),
                attr("listen", text_value().boxed()),
            ]),
            any_of(
                vec![
                    Just("<listen type='address' address='0.0.0.0'/>".to_string()).boxed(),
                    Just("<gl enable='yes'/>".to_string()).boxed(),
                    Just("<audio id='1'/>".to_string()).boxed(),
                    Just("<image compression='off'/>".to_string()).boxed(),
                ],
                3,
            ),
        ),
        element(
            "video",
            Just(String::new()).boxed(),
            any_of(
                vec![
                    element(
                        "model",
                        attrs(vec![attr("type", pick(&["virtio", "qxl", "vga", "none", "weird"]).boxed()), attr("vram", number().boxed()), attr("heads", number().boxed())]),
                        Just(String::new()).boxed(),
                    ),
                    address(),
                ],
                2,
            ),
        ),
        element(
            "input",
            attrs(vec![attr("type", pick(&["tablet", "mouse", "keyboard", "evdev"]).boxed()), attr("bus", pick(&["usb", "ps2", "virtio"]).boxed())]),
            prop::option::of(address()).prop_map(Option::unwrap_or_default).boxed(),
        ),
        element("memballoon", attr("model", pick(&["virtio", "none", "xen"]).boxed()), prop::option::of(address()).prop_map(Option::unwrap_or_default).boxed()),
        element(
            "rng",
            attr("model", pick(&["virtio"]).boxed()),
            prop_oneof![
                Just("<backend model='random'>/dev/urandom</backend>".to_string()),
                Just("<backend model='egd' type='tcp'><source mode='connect' host='h' service='1'/><protocol type='raw'/></backend>".to_string()),
                Just("<backend model='builtin'/>".to_string()),
            ]
            .boxed(),
        ),
        element(
            "hostdev",
            attrs(vec![attr("mode", pick(&["subsystem", "capabilities"]).boxed()), attr("type", pick(&["pci", "usb", "scsi", "mdev"]).boxed()), attr("managed", pick(&["yes", "no"]).boxed())]),
            prop_oneof![
                Just("<source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source>".to_string()),
                Just("<source><vendor id='0x1234'/><product id='0x5678'/></source>".to_string()),
                Just("<source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source>".to_string()),
            ]
            .boxed(),
        ),
        element(
            "filesystem",
            attrs(vec![attr("type", pick(&["mount", "ram", "block", "file"]).boxed()), attr("accessmode", pick(&["passthrough", "mapped"]).boxed())]),
            any_of(vec![Just("<source dir='/s'/>".to_string()).boxed(), Just("<target dir='t'/>".to_string()).boxed(), Just("<readonly/>".to_string()).boxed()], 3),
        ),
        element("watchdog", attrs(vec![attr("model", pick(&["i6300esb", "ib700"]).boxed()), attr("action", pick(&["reset", "none"]).boxed())]), Just(String::new()).boxed()),
        element("tpm", attr("model", pick(&["tpm-tis", "tpm-crb"]).boxed()), Just("<backend type='emulator' version='2.0'/>".to_string()).boxed()),
        element("sound", attr("model", pick(&["ich6", "ich9", "es1370"]).boxed()), Just("<codec type='micro'/>".to_string()).boxed()),
        element("panic", attr("model", pick(&["isa", "pseries", "hyperv"]).boxed()), Just(String::new()).boxed()),
        element("vsock", attr("model", pick(&["virtio"]).boxed()), Just("<cid auto='yes'/>".to_string()).boxed()),
        element(
            "memory",
            attr("model", pick(&["dimm", "nvdimm", "virtio-mem"]).boxed()),
            (number(), pick(&["KiB", "MiB", "G", "bogus"])).prop_map(|(n, u)| format!("<target><size unit='{u}'>{}</size><node>0</node></target>", escape(&n))).boxed(),
        ),
        text_element("emulator", text_value().boxed()),
    ]
    .boxed()
}

fn devices() -> BoxedStrategy<String> {
    prop::collection::vec(
        prop_oneof![
            disk(),
            interface(),
            chr("serial"),
            chr("console"),
            chr("channel"),
            other_device()
        ],
        0..8,
    )
    .prop_map(|items| format!("<devices>\n{}\n</devices>", items.join("\n")))
    .boxed()
}

fn top_level() -> BoxedStrategy<String> {
    prop_oneof![
        text_element("uuid", pick(&["4dea22b3-1d52-d8f3-2516-782e98ab3fa0", "4dea22b31d52d8f32516782e98ab3fa0", "nope"]).boxed()),
        text_element("title", text_value().boxed()),
        text_element("description", text_value().boxed()),
        (number(), pick(&["KiB", "MiB", "GiB", "b", "KB", ""])).prop_map(|(n, u)| format!("<memory unit='{u}'>{}</memory>", escape(&n))).boxed(),
        number().prop_map(|n| format!("<currentMemory>{}</currentMemory>", escape(&n))).boxed(),
        (number(), prop::option::of(number())).prop_map(|(n, c)| match c {
            Some(c) => format!("<vcpu placement='static' current='{}'>{}</vcpu>", escape(&c), escape(&n)),
            None => format!("<vcpu>{}</vcpu>", escape(&n)),
        }).boxed(),
        element(
            "os",
            attr("firmware", pick(&["efi", "bios"]).boxed()),
            any_of(
                vec![
                    element("type", attrs(vec![attr("arch", pick(&["x86_64", "aarch64"]).boxed()), attr("machine", text_value().boxed())]), pick(&["hvm", "exe", "linux", "xen"]).boxed()),
                    element("boot", attr("dev", pick(&["hd", "network", "cdrom", "fd", "usb"]).boxed()), Just(String::new()).boxed()),
                    text_element("kernel", text_value().boxed()),
                    text_element("cmdline", text_value().boxed()),
                    Just("<loader readonly='yes' type='pflash'>/l</loader>".to_string()).boxed(),
                    Just("<bootmenu enable='yes' timeout='3'/>".to_string()).boxed(),
                ],
                5,
            ),
        ),
        any_of(
            vec![
                Just("<acpi/>".to_string()).boxed(),
                Just("<apic eoi='on'/>".to_string()).boxed(),
                Just("<pae/>".to_string()).boxed(),
                Just("<vmport/>".to_string()).boxed(),
                Just("<hyperv mode='custom'><relaxed state='on'/><spinlocks state='on' retries='4096'/></hyperv>".to_string()).boxed(),
                Just("<kvm><hidden state='on'/></kvm>".to_string()).boxed(),
                Just("<smm state='on'><tseg unit='MiB'>48</tseg></smm>".to_string()).boxed(),
                Just("<gic version='3'/>".to_string()).boxed(),
            ],
            5,
        )
        .prop_map(|f| format!("<features>{f}</features>"))
        .boxed(),
        element(
            "cpu",
            attrs(vec![attr("mode", pick(&["host-passthrough", "custom", "host-model"]).boxed()), attr("match", pick(&["exact", "minimum"]).boxed())]),
            any_of(
                vec![
                    Just("<model fallback='allow'>Skylake-Client</model>".to_string()).boxed(),
                    Just("<topology sockets='1' dies='1' cores='2' threads='1'/>".to_string()).boxed(),
                    Just("<feature policy='require' name='vmx'/>".to_string()).boxed(),
                    (number(), pick(&["KiB", "MiB", "weird"])).prop_map(|(n, u)| format!("<numa><cell id='0' cpus='0' memory='{}' unit='{u}'/></numa>", escape(&n))).boxed(),
                ],
                4,
            ),
        ),
        element(
            "clock",
            attrs(vec![attr("offset", pick(&["utc", "localtime", "variable", "timezone"]).boxed()), attr("adjustment", number().boxed())]),
            any_of(vec![Just("<timer name='rtc' tickpolicy='catchup'/>".to_string()).boxed(), Just("<timer name='hpet' present='no'/>".to_string()).boxed()], 2),
        ),
        text_element("on_poweroff", pick(&["destroy", "restart", "preserve", "bogus"]).boxed()),
        text_element("on_crash", pick(&["destroy", "coredump-restart"]).boxed()),
        Just("<pm><suspend-to-mem enabled='no'/></pm>".to_string()).boxed(),
        Just("<memoryBacking><hugepages><page size='2' unit='M'/></hugepages><locked/></memoryBacking>".to_string()).boxed(),
        Just("<memtune><hard_limit unit='G'>1</hard_limit></memtune>".to_string()).boxed(),
        Just("<cputune><shares>10</shares><vcpupin vcpu='0' cpuset='1'/></cputune>".to_string()).boxed(),
        Just("<seclabel type='dynamic' model='selinux' relabel='yes'/>".to_string()).boxed(),
        text_value().prop_map(|v| format!("<metadata><x:a xmlns:x='urn:x' k='{}'>{}</x:a><y:b xmlns:y='urn:y'><y:c/> {} </y:b><plain/></metadata>", escape(&v), escape(&v), escape(&v))).boxed(),
        Just("<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-S'/></qemu:commandline>".to_string()).boxed(),
        Just("<!-- a comment --><?pi data?>".to_string()).boxed(),
        Just("<![CDATA[stray]]>".to_string()).boxed(),
        devices(),
    ]
    .boxed()
}

fn domain_document() -> BoxedStrategy<String> {
    (
        pick(&["kvm", "qemu", "lxc", "xen", "test", "bogus"]),
        prop::option::of(number()),
        text_value(),
        prop::collection::vec(top_level(), 0..12),
        prop::bool::ANY,
    )
        .prop_map(|(virt, id, name, children, indent)| {
            let id = id
                .map(|id| format!(" id='{}'", escape(&id)))
                .unwrap_or_default();
            let sep = if indent { "\n  " } else { "" };
            format!(
                "<domain type='{virt}'{id}>{sep}<name>{}</name>{sep}{}\n</domain>\n",
                escape(&name),
                children.join(sep)
            )
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn domain_format_parse_format_is_a_fixed_point(xml in domain_document()) {
        if let Ok(domain) = Domain::parse(&xml) {
            let first = domain.to_xml();
            let reparsed = Domain::parse(&first);
            prop_assert!(reparsed.is_ok(), "formatted output refused: {:?}\n{}", reparsed.err(), first);
            let second = reparsed.map(|d| d.to_xml()).unwrap_or_default();
            prop_assert_eq!(&first, &second);
            // Define-time steps must not panic, and their result is canonical too.
            let mut defined = domain.clone();
            if defined.post_parse().is_ok() && defined.validate().is_ok() {
                let formatted = defined.to_xml();
                let again = Domain::parse(&formatted).map(|d| d.to_xml());
                prop_assert_eq!(Some(formatted), again.ok());
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[<>/a-z='\" &;!?\\[\\]-]{0,200}") {
        let _ = Document::parse(&text);
        let _ = Domain::parse(&text);
    }
}

/// The generator must mostly produce documents the parser accepts, or the property above
/// would test little.
#[test]
fn generator_mostly_produces_accepted_documents() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = domain_document();
    let total = 400;
    let mut accepted = 0;
    for _ in 0..total {
        let xml = strategy.new_tree(&mut runner).expect("value").current();
        if Domain::parse(&xml).is_ok() {
            accepted += 1;
        }
    }
    eprintln!("{accepted} of {total} generated documents parse");
    assert!(
        accepted * 4 >= total,
        "only {accepted} of {total} generated documents parse"
    );
}
