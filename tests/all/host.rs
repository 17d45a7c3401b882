//! The plugin host against a plugin that misbehaves on purpose (`tests/plugins/misbehave`):
//! traps, panics, endless loops, memory hogs, forbidden host calls, a wrong WIT version and
//! corrupt files each fail only what they touch.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt_core::blocking::Connect;
use virt_core::{ConnectUri, ErrorNumber};
use virt_host::{Host, HostConfig};

use crate::common::{host_config, open_in, plugins_dir, test_plugins_dir, with_wit_version};

fn config(extra_path: Option<&Path>, state_root: &Path) -> HostConfig {
    let mut plugin_path: Vec<PathBuf> = extra_path.map(Path::to_path_buf).into_iter().collect();
    plugin_path.push(test_plugins_dir());
    plugin_path.push(plugins_dir());
    host_config(plugin_path, state_root)
}

fn open(host: &Host, uri: &str) -> virt_core::Result<Connect> {
    open_in(host, uri)
}

struct Fixture {
    host: Host,
    _state: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let state = tempfile::tempdir().expect("tempdir");
    Fixture {
        host: Host::new(config(None, state.path())),
        _state: state,
    }
}

fn assert_internal_failure(result: virt_core::Result<virt_core::blocking::Domain>, what: &str) {
    let error = result.expect_err(what);
    assert_eq!(
        error.code(),
        ErrorNumber::INTERNAL_ERROR,
        "{what}: {error:?}"
    );
    assert!(
        error.message().contains("driver plugin 'misbehave' failed"),
        "{what}: {error:?}"
    );
}

/// A domain defined before the failure is still there, and the plugin still answers.
fn assert_state_survives(conn: &Connect) {
    let domain = conn.domain_lookup_by_name("kept").expect("state survives");
    assert_eq!(domain.name(), "kept");
    assert_eq!(conn.list_all_domains(0).expect("list").len(), 1);
}

#[test]
fn trap_fails_only_the_call_and_keeps_state() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///trap").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    assert_internal_failure(conn.domain_lookup_by_name("trap"), "trap");
    assert_state_survives(&conn);
}

#[test]
fn packed_listing_falls_back_and_rejects_garbage() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///listing").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    // The plugin's `list-all-packed` answers NO_SUPPORT: the host asks `list-all`.
    let listed = conn.list_all_domains(0).expect("list falls back");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name(), "kept");
    conn.domain_define_xml("garbled-listing", 0)
        .expect("define");
    let error = conn.list_all_domains(0).expect_err("garbled listing");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR, "{error:?}");
    assert!(
        error
            .message()
            .contains("driver plugin 'misbehave' failed: malformed packed domain listing"),
        "{error:?}"
    );
    // Only that call failed.
    assert_eq!(
        conn.domain_lookup_by_name("kept")
            .expect("still answers")
            .name(),
        "kept"
    );
}

#[test]
fn panic_is_a_trap() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///panic").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    assert_internal_failure(conn.domain_lookup_by_name("panic"), "panic");
    assert_state_survives(&conn);
}

#[test]
fn endless_loop_is_interrupted() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///loop").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    let started = Instant::now();
    let result = conn.domain_lookup_by_name("loop");
    let error = result.expect_err("loop");
    assert!(error.message().contains("CPU time budget"), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "interrupted within its budget"
    );
    assert_state_survives(&conn);
}

#[test]
fn memory_hog_hits_its_limit() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///hog").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    assert_internal_failure(conn.domain_lookup_by_name("hog"), "hog");
    assert_state_survives(&conn);
}

#[test]
fn forbidden_host_call_is_denied() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///forbidden").expect("open");
    let error = conn.domain_lookup_by_name("forbidden").expect_err("denied");
    assert_eq!(error.code(), ErrorNumber::OPERATION_DENIED);
    assert!(
        error.message().starts_with(
            "operation forbidden: plugin 'misbehave' is not granted to spawn '/bin/sh' \
             (the operator's grants"
        ) && error
            .message()
            .ends_with("give `[plugins.misbehave]` no `spawn` entry covering it)"),
        "{}",
        error.message()
    );
}

#[test]
fn trapped_call_writes_nothing() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///rollback").expect("open");
    let error = conn.domain_create_xml("half-made", 0).expect_err("traps");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
    let missing = conn
        .domain_lookup_by_name("half-made")
        .expect_err("rolled back");
    assert_eq!(missing.code(), ErrorNumber::NO_DOMAIN);
}

#[test]
fn slow_call_does_not_block_other_objects() {
    let fixture = Arc::new(fixture());
    let conn = open(&fixture.host, "misbehave:///slow").expect("open");
    conn.domain_define_xml("kept", 0).expect("define");
    let slow_conn = conn.clone();
    let slow = std::thread::spawn(move || {
        slow_conn
            .domain_lookup_by_name("slow-short")
            .map(|d| d.name())
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    for _ in 0..20 {
        conn.domain_lookup_by_name("kept")
            .expect("lookup while the slow call waits");
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert!(!slow.is_finished(), "the slow call is still waiting");
    assert_eq!(
        slow.join().expect("thread").expect("slow call"),
        "slow-short"
    );
}

#[test]
fn other_spaces_and_drivers_are_unaffected() {
    let fixture = fixture();
    let victim = open(&fixture.host, "misbehave:///victim").expect("open");
    let bystander = open(&fixture.host, "misbehave:///bystander").expect("open");
    bystander.domain_define_xml("kept", 0).expect("define");
    assert_internal_failure(victim.domain_lookup_by_name("trap"), "trap");
    assert_state_survives(&bystander);
    let test_driver = open(&fixture.host, "test:///default").expect("the test driver still opens");
    assert_eq!(test_driver.get_type().expect("type"), "TEST");
}

fn install_variant(dir: &Path, name: &str, wasm: &[u8], wit: &str) {
    std::fs::write(dir.join(format!("{name}.wasm")), wasm).expect("write wasm");
    std::fs::write(
        dir.join(format!("{name}.toml")),
        format!("name = '{name}'\nversion = '0.1.0'\nwit = '{wit}'\nuri-schemes = ['{name}']\n"),
    )
    .expect("write manifest");
}

#[test]
fn wrong_wit_major_is_refused_before_instantiation() {
    let state = tempfile::tempdir().expect("tempdir");
    let extra = tempfile::tempdir().expect("tempdir");
    let original =
        std::fs::read(test_plugins_dir().join("misbehave.wasm")).expect("built misbehave plugin");
    install_variant(
        extra.path(),
        "future",
        &with_wit_version(&original, "9.1.0"),
        "9.1.0",
    );
    let host = Host::new(config(Some(extra.path()), state.path()));
    let error = open(&host, "future:///x").expect_err("refused");
    assert_eq!(error.code(), ErrorNumber::CONFIG_UNSUPPORTED);
    assert!(
        error.message().contains("plugin 'future' (")
            && error
                .message()
                .contains("was built for rvirt:driver@9.1.0; this host speaks 0.2.0 and 0.1.0"),
        "{error:?}"
    );
    // The host and its other plugins are fine.
    open(&host, "misbehave:///after").expect("other plugins still load");
}

#[test]
fn corrupt_plugin_is_an_error_naming_the_file() {
    let state = tempfile::tempdir().expect("tempdir");
    let extra = tempfile::tempdir().expect("tempdir");
    install_variant(extra.path(), "broken", b"\0asm\x0d\0\x01\0garbage", "0.1.0");
    let host = Host::new(config(Some(extra.path()), state.path()));
    let error = open(&host, "broken:///x").expect_err("corrupt");
    assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
    assert!(error.message().contains("broken.wasm"), "{error:?}");
    open(&host, "misbehave:///after").expect("other plugins still load");
}

#[test]
fn unknown_scheme_is_declined() {
    let fixture = fixture();
    let uri = ConnectUri::parse("nosuchdriver:///x").expect("uri");
    assert!(fixture.host.open(&uri, 0).expect("no error").is_none());
}

#[test]
fn compiled_plugins_are_cached() {
    let state = tempfile::tempdir().expect("tempdir");
    let host = Host::new(config(None, state.path()));
    host.plugin("misbehave").expect("first load compiles");
    let cached: Vec<_> = std::fs::read_dir(state.path().join("compiled"))
        .expect("cache dir")
        .collect();
    assert_eq!(cached.len(), 1);
    let again = Host::new(config(None, state.path()));
    let started = Instant::now();
    again
        .plugin("misbehave")
        .expect("second load uses the cache");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Waits for a domain lifecycle event about `name`.
fn wait_for_event(events: &mut virt_core::blocking::EventStream, name: &str) -> virt_core::Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match events.try_next() {
            Some(event) if event.domain().is_some_and(|d| d.name == name) => return event,
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("no event about '{name}' within 10 s");
}

#[test]
fn child_exit_reaches_the_plugin_handler() {
    let fixture = fixture();
    let conn = open(&fixture.host, "misbehave:///children").expect("open");
    let mut events = conn.events().expect("events");
    conn.domain_lookup_by_name("exit-watch")
        .expect("spawn a short child");
    let event = wait_for_event(&mut events, "exited");
    assert!(
        matches!(
            event,
            virt_core::Event::DomainLifecycle {
                event: 5,
                detail: 0,
                ..
            }
        ),
        "{event:?}"
    );
    conn.domain_lookup_by_name("exited")
        .expect("the handler's write was committed");
}

#[test]
fn stream_frames_go_to_the_call_then_to_the_handler() {
    use std::io::{BufRead, BufReader, Write};
    let fixture = fixture();
    let dir = tempfile::Builder::new()
        .prefix("rvirt-stream")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let path = dir.path().join("echo.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let server = std::thread::spawn(move || {
        let (socket, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(socket.try_clone().expect("clone"));
        let mut line = String::new();
        reader.read_line(&mut line).expect("read hello");
        let mut socket = socket;
        socket
            .write_all(format!("got-{}", line).as_bytes())
            .expect("reply");
        std::thread::sleep(Duration::from_millis(200));
        socket.write_all(b"later\n").expect("unsolicited line");
        std::thread::sleep(Duration::from_millis(500));
    });
    let conn = open(&fixture.host, "misbehave:///streams").expect("open");
    let mut events = conn.events().expect("events");
    let domain = conn
        .domain_lookup_by_name(&format!("stream:{}", path.display()))
        .expect("request/reply");
    assert_eq!(
        domain.name(),
        "reply:got-hello",
        "the reply went to the call that claimed the stream"
    );
    wait_for_event(&mut events, "frame:later");
    conn.domain_lookup_by_name("frame:later")
        .expect("the unsolicited frame went to the handler");
    server.join().expect("server");
}

#[test]
fn a_shut_down_host_refuses_calls_and_delivers_no_more_events() {
    use std::io::{BufRead, BufReader, Write};
    let fixture = fixture();
    let dir = tempfile::Builder::new()
        .prefix("rvirt-stream")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let path = dir.path().join("peer.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    // The first connection is answered and hung up on; the second is answered and held
    // until the test ends.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let mut held = Vec::new();
        for _ in 0..2 {
            let (mut socket, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(socket.try_clone().expect("clone"))
                .read_line(&mut line)
                .expect("read hello");
            socket.write_all(b"hi\n").expect("reply");
            held.push(socket);
            if held.len() == 1 {
                std::thread::sleep(Duration::from_millis(100));
                held.clear();
            }
        }
        let _ = released.recv();
    });
    let conn = open(&fixture.host, "misbehave:///after-shutdown").expect("open");
    let mut events = conn.events().expect("events");
    let stream = format!("stream:{}", path.display());
    conn.domain_lookup_by_name(&stream).expect("first stream");
    wait_for_event(&mut events, "closed");
    conn.domain_lookup_by_name(&stream).expect("second stream");
    std::thread::sleep(Duration::from_millis(200));
    while events.try_next().is_some() {}

    // Shutting down closes the second stream; that EOF is the host's doing and must not
    // reach the plugin as a handler event.
    fixture.host.shutdown();
    let error = conn
        .domain_lookup_by_name("reply:hi")
        .expect_err("the host is gone");
    assert_eq!(error.code(), ErrorNumber::INVALID_CONN, "{error:?}");
    assert!(error.message().contains("has shut down"), "{error:?}");
    std::thread::sleep(Duration::from_millis(500));
    while let Some(event) = events.try_next() {
        assert!(
            event.domain().is_none_or(|d| d.name != "closed"),
            "a handler ran after shutdown: {event:?}"
        );
    }
    let _ = release.send(());
    server.join().expect("server");
}
