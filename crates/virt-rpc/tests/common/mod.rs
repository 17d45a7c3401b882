//! Test support: an in-memory driver and a server on a private Unix socket.
//!
//! The driver is deliberately small: it exists to test the protocol layer (both directions,
//! and real libvirt clients against the server) without the wasm plugins. Behaviour the
//! conformance suites check lives in the real test driver plugin.

#![allow(dead_code)]

pub mod mock;

use std::path::PathBuf;
use std::sync::{Arc, Once};

use virt_rpc::server::{ClientInfo, Server, ServerConfig, Transport};

static REGISTER: Once = Once::new();

/// Registers the mock driver (scheme `mock://`) once per test process.
pub fn register_mock() {
    REGISTER.call_once(|| virt_core::registry::register(Arc::new(mock::MockDriver::default())));
}

/// A server listening on `DIR/rvirt-sock` and `DIR/rvirt-sock-ro` in a temporary directory.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: Arc<Server>,
    pub runtime: tokio::runtime::Runtime,
}

impl TestServer {
    pub fn start(config: ServerConfig) -> TestServer {
        register_mock();
        let dir = tempfile::Builder::new()
            .prefix("rpc-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = Server::new(config);
        for (name, read_only) in [("rvirt-sock", false), ("rvirt-sock-ro", true)] {
            let path = dir.path().join(name);
            let listener = {
                let _guard = runtime.enter();
                tokio::net::UnixListener::bind(&path).expect("bind")
            };
            let server = Arc::clone(&server);
            runtime.spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let server = Arc::clone(&server);
                    tokio::spawn(async move {
                        let info = ClientInfo {
                            read_only,
                            transport: Transport::Unix { uid: None },
                            subject: Default::default(),
                        };
                        server.serve_unix(stream, info).await;
                    });
                }
            });
        }
        TestServer {
            dir,
            server,
            runtime,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("rvirt-sock")
    }

    pub fn uri(&self) -> String {
        format!("mock+unix:///default?socket={}", self.socket().display())
    }

    pub fn ro_uri(&self) -> String {
        format!("mock+unix:///default?socket={}-ro", self.socket().display())
    }
}
