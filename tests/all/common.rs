//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The workspace root.
pub use rvirt_tests::workspace_root;

/// Shows the host's and plugins' log lines (warnings by default, `RVIRT_TEST_LOG` to change)
/// in the output of a failing test.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("RVIRT_TEST_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}

/// Where `cargo xtask plugins` installs the driver plugins.
pub fn plugins_dir() -> PathBuf {
    workspace_root().join("target/plugins")
}

/// Where `cargo xtask plugins` installs the misbehaving test plugins.
pub fn test_plugins_dir() -> PathBuf {
    workspace_root().join("target/test-plugins")
}

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A Linux bridge that exists for the test's lifetime.
pub struct Bridge {
    pub name: String,
}

impl Bridge {
    pub fn new() -> Bridge {
        let name = unique("rvbr");
        run("ip", &["link", "add", &name, "type", "bridge"]);
        run("ip", &["link", "set", &name, "up"]);
        Bridge { name }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .status();
    }
}

pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The bridge's member interfaces.
pub fn bridge_members(bridge: &str) -> Vec<String> {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}
