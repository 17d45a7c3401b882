//! The same scenario against rvirt's daemon side: virt-rpc's server in this process, on a
//! private socket pair (read-write and read-only), serving the test driver plugin.

use std::sync::Arc;

use virt_rpc::server::{ClientInfo, Server, ServerConfig, Transport};

use super::scenario::{run_scenario, Target};

/// A server on `DIR/rvirt-sock` and `DIR/rvirt-sock-ro`, run on its own runtime.
pub struct InProcessDaemon {
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl InProcessDaemon {
    pub fn start() -> InProcessDaemon {
        virt_host::register_default().expect("plugin host");
        let dir = tempfile::Builder::new()
            .prefix("rvt-")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        // Polling for calls as rvirtd does by default, so the tests go through it too.
        let server = Server::new(ServerConfig {
            busy_poll: std::time::Duration::from_micros(50),
            ..ServerConfig::default()
        });
        for (name, read_only) in [("rvirt-sock", false), ("rvirt-sock-ro", true)] {
            let listener = {
                let _context = runtime.enter();
                tokio::net::UnixListener::bind(dir.path().join(name)).expect("bind")
            };
            let server = Arc::clone(&server);
            runtime.spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
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
        InProcessDaemon {
            dir,
            _runtime: runtime,
        }
    }

    pub fn uri(&self) -> String {
        format!(
            "test+unix:///default?socket={}/rvirt-sock",
            self.dir.path().display()
        )
    }

    pub fn ro_uri(&self) -> String {
        format!(
            "test+unix:///default?socket={}/rvirt-sock-ro",
            self.dir.path().display()
        )
    }
}

#[test]
fn rvirt_client_passes_the_scenario_against_rvirt_server() {
    let daemon = InProcessDaemon::start();
    virt_rpc::register();
    let anchor = virt_core::blocking::Connect::open(&daemon.uri())
        .expect("connect to the in-process daemon");
    let target = Target {
        uri: daemon.uri(),
        ro_uri: Some(daemon.ro_uri()),
        daemon: "rvirt's server",
    };
    run_scenario(&target);
    drop(anchor);
}
