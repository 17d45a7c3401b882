//! A daemon serving the in-memory test driver of the protocol tests, for poking at the
//! protocol layer with real libvirt clients:
//! `cargo run -p virt-rpc --example mock_daemon` then
//! `virsh -c 'mock+unix:///default?socket=/tmp/rpc-XXXX/rvirt-sock' list --all`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    tracing_subscriber_init();
    let server = common::TestServer::start(virt_rpc::server::ServerConfig::default());
    println!("{}", server.uri());
    loop {
        std::thread::park();
    }
}

fn tracing_subscriber_init() {}
