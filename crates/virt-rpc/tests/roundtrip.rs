//! rvirt's client against rvirt's server, over a real Unix socket, with an in-memory driver:
//! every value must arrive as the driver produced it, errors keep their codes, events flow,
//! streams carry bytes both ways.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::TestServer;
use virt_core::blocking::Connect;
use virt_core::{ConsoleEndpoint, ErrorNumber, Event};
use virt_rpc::server::ServerConfig;

fn domain_xml(name: &str, uuid: &str) -> String {
    format!("<domain type='test'><name>{name}</name><uuid>{uuid}</uuid><memory>131072</memory><vcpu>2</vcpu><description>round trip</description></domain>")
}

fn setup() -> (TestServer, Connect) {
    virt_rpc::register();
    let server = TestServer::start(ServerConfig::default());
    let conn = Connect::open(&server.uri()).expect("open through the daemon");
    (server, conn)
}

#[test]
fn host_facts_round_trip() {
    let (_server, conn) = setup();
    assert_eq!(conn.get_type().expect("type"), "TEST");
    assert_eq!(conn.get_version().expect("version"), 2);
    assert_eq!(
        conn.get_lib_version().expect("lib version"),
        virt_core::LIBVIRT_API_VERSION
    );
    assert!(conn
        .get_uri()
        .expect("uri")
        .starts_with("mock+unix:///default?socket="));
    let info = conn.node_info().expect("node info");
    assert_eq!(
        (info.model.as_str(), info.cpus, info.memory_kib),
        ("i686", 16, 3_145_728)
    );
    assert!(conn
        .get_capabilities()
        .expect("caps")
        .contains("<domain type='test'/>"));
    assert!(conn.is_alive());
}

#[test]
fn domain_life_cycle_and_errors() {
    let (_server, conn) = setup();
    let uuid = "7b3c1f43-5d1e-4a0c-9a3e-1d2c3b4a5f60";
    let dom = conn
        .domain_define_xml(&domain_xml("rt-life", uuid), 0)
        .expect("define");
    assert_eq!(
        (dom.name(), dom.uuid_string(), dom.id()),
        ("rt-life".to_string(), uuid.to_string(), -1)
    );
    let status = dom.status().expect("status (five pipelined calls)");
    assert!(!status.active && status.persistent && !status.autostart);
    dom.create(0).expect("start");
    assert!(dom.id() > 0, "the handle learns the new id");
    assert_eq!(dom.state(0).expect("state").state, 1);
    let info = dom.info().expect("info");
    assert_eq!(
        (info.state, info.max_mem_kib, info.nr_virt_cpu),
        (1, 131_072, 2)
    );
    assert!(dom
        .xml_desc(0)
        .expect("xml")
        .contains("<description>round trip</description>"));
    let params = dom.scheduler_params(0).expect("scheduler parameters");
    assert_eq!(
        params.len(),
        2,
        "string parameters arrive when the client accepts them: {params:?}"
    );

    let error = dom.create(0).expect_err("already running");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
    assert_eq!(
        error.message(),
        "internal error: Domain 'rt-life' is already running"
    );

    let error = conn
        .domain_lookup_by_name("rt-nosuch")
        .expect_err("missing");
    assert_eq!(
        (error.code(), error.domain().0),
        (ErrorNumber::NO_DOMAIN, 12)
    );
    assert_eq!(
        error.message(),
        "Domain not found: no domain with matching name 'rt-nosuch'"
    );

    let error = conn.list_all_domains(1 << 30).expect_err("bad flag");
    assert_eq!(error.code(), ErrorNumber::INVALID_ARG);

    let names: Vec<String> = conn
        .list_all_domains(1)
        .expect("active")
        .iter()
        .map(|d| d.name())
        .collect();
    assert!(names.contains(&"rt-life".to_string()));
    dom.destroy(0).expect("destroy");
    dom.undefine(0).expect("undefine");
    assert_eq!(
        conn.domain_lookup_by_name("rt-life")
            .expect_err("gone")
            .code(),
        ErrorNumber::NO_DOMAIN
    );
}

#[test]
fn unsupported_calls_say_no_support_with_the_api_name() {
    let (_server, conn) = setup();
    let error = conn.list_all_secrets(0).expect_err("mock has no secrets");
    assert_eq!(error.code(), ErrorNumber::NO_SUPPORT);
    assert_eq!(
        error.domain().0,
        30,
        "secret APIs report from the secret domain"
    );
    assert!(
        error.message().ends_with("virConnectListAllSecrets"),
        "{}",
        error.message()
    );
    // The connection is still usable.
    assert_eq!(conn.get_type().expect("type"), "TEST");
}

#[test]
fn read_only_socket_denies_writes_on_the_server() {
    virt_rpc::register();
    let server = TestServer::start(ServerConfig::default());
    // Opened read-write on the read-only socket: the client does not refuse, the server must.
    let conn = Connect::open(&server.ro_uri()).expect("open ro socket");
    assert_eq!(conn.get_type().expect("reads work"), "TEST");
    let error = conn
        .domain_define_xml(
            &domain_xml("rt-ro", "8b3c1f43-5d1e-4a0c-9a3e-1d2c3b4a5f60"),
            0,
        )
        .expect_err("denied");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert_eq!(error.domain().0, 20);
    assert_eq!(
        error.message(),
        "operation forbidden: read only access prevents virDomainDefineXML"
    );
}

#[test]
fn events_reach_the_client() {
    let (_server, conn) = setup();
    let mut events = conn.events().expect("events");
    let dom = conn
        .domain_define_xml(
            &domain_xml("rt-events", "9b3c1f43-5d1e-4a0c-9a3e-1d2c3b4a5f60"),
            0,
        )
        .expect("define");
    dom.create(0).expect("start");
    dom.destroy(0).expect("destroy");
    dom.undefine(0).expect("undefine");
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 4 && std::time::Instant::now() < deadline {
        match events.try_next() {
            Some(Event::DomainLifecycle { dom, event, detail }) if dom.name == "rt-events" => {
                seen.push((event, detail))
            }
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    assert_eq!(seen, [(0, 0), (2, 0), (5, 1), (1, 0)]);
}

#[test]
fn console_stream_is_bridged_to_a_local_socket() {
    let (_server, conn) = setup();
    let dom = conn
        .domain_define_xml(
            &domain_xml("rt-console", "ab3c1f43-5d1e-4a0c-9a3e-1d2c3b4a5f60"),
            0,
        )
        .expect("define");
    let ConsoleEndpoint::UnixSocket(path) = dom.open_console(None, 0).expect("console") else {
        panic!("remote consoles are local sockets")
    };
    let mut socket = std::os::unix::net::UnixStream::connect(&path).expect("attach");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("ready\n") {
        let n = socket.read(&mut buf).expect("greeting");
        assert!(n > 0, "console closed early");
        got.extend_from_slice(&buf[..n]);
    }
    socket.write_all(b"hello\n").expect("type");
    let mut echo = Vec::new();
    while !String::from_utf8_lossy(&echo).contains("HELLO\n") {
        let n = socket.read(&mut buf).expect("echo");
        assert!(n > 0, "console closed early");
        echo.extend_from_slice(&buf[..n]);
    }
    // A second session is refused while the first is open.
    let error = dom.open_console(None, 0).expect_err("busy");
    assert_eq!(error.code(), ErrorNumber::OPERATION_FAILED);
}

#[test]
fn volume_upload_then_download() {
    let (_server, conn) = setup();
    let pool = conn.storage_pool_lookup_by_name("mock-pool").expect("pool");
    let vol = pool.volume_lookup_by_name("vol1.img").expect("volume");
    let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let upload = conn
        .connection()
        .vol_data_path(vol.reference(), true)
        .expect("upload pipe");
    std::fs::write(&upload, &data).expect("write into the pipe");
    // The daemon acknowledges asynchronously; read back until it all arrived.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut back = Vec::new();
    while std::time::Instant::now() < deadline {
        let download = conn
            .connection()
            .vol_data_path(vol.reference(), false)
            .expect("download pipe");
        back = std::fs::read(&download).expect("read from the pipe");
        if back == data {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(back.len(), data.len());
    assert!(back == data, "downloaded bytes differ");
}

#[test]
fn console_stream_as_a_descriptor() {
    let (_server, conn) = setup();
    let dom = conn
        .domain_define_xml(
            &domain_xml("rt-console-fd", "bb3c1f43-5d1e-4a0c-9a3e-1d2c3b4a5f60"),
            0,
        )
        .expect("define");
    let fd = conn
        .connection()
        .domain_open_console_stream(&dom.reference(), None, 0)
        .expect("console");
    let mut console = std::os::unix::net::UnixStream::from(fd);
    console
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("ready\n") {
        let n = console.read(&mut buf).expect("greeting");
        assert!(n > 0, "console closed early");
        got.extend_from_slice(&buf[..n]);
    }
    console.write_all(b"over a socket pair\n").expect("type");
    let mut echo = Vec::new();
    while !String::from_utf8_lossy(&echo).contains("OVER A SOCKET PAIR\n") {
        let n = console.read(&mut buf).expect("echo");
        assert!(n > 0, "console closed early");
        echo.extend_from_slice(&buf[..n]);
    }
}
