//! What a plugin instance's store carries: the plugin's identity and grants, WASI, limits,
//! and the context of the call in flight (its space, staged writes and events, held jobs).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use virt_core::{Error, Event};
use wasmtime::component::ResourceTable;
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::config::DriverDirs;
use crate::error::denied;
use crate::manifest::{normalize, Capabilities, Operation};
use crate::resources::Dispatch;
use crate::space::{Space, SpaceRegistry, StagedWrites};

/// What every instance of one plugin shares.
pub struct PluginShared {
    pub name: String,
    /// What the manifest asks for.
    pub requested: Capabilities,
    /// What the operator grants.
    pub granted: Capabilities,
    pub dirs: DriverDirs,
    pub spaces: SpaceRegistry,
    pub dispatch: Dispatch,
    pub call_cpu_budget: Duration,
    /// What `$helpers` means, and where bare program names are looked for first.
    pub helper_dirs: Vec<PathBuf>,
    /// The embedder's auth file for `credentials`, if it named one.
    pub auth_file: Option<PathBuf>,
    /// Where the manifest and the grants were read, for denial messages.
    pub manifest_path: PathBuf,
    pub grants_path: Option<PathBuf>,
}

impl PluginShared {
    /// Allows `operation` only if both the manifest asks for it and the operator grants it,
    /// with `$config`... meaning `dirs`; a denial is logged with the plugin's name.
    pub fn check(&self, operation: Operation<'_>, dirs: &DriverDirs) -> Result<(), Error> {
        let expand = |var: &str| -> Vec<PathBuf> {
            if var == "helpers" {
                return self.helper_dirs.clone();
            }
            dirs.expand(var).into_iter().collect()
        };
        let requested = self.requested.allows(operation, &expand);
        if requested && self.granted.allows(operation, &expand) {
            return Ok(());
        }
        // Say which side is missing: the plugin's author fixes a manifest, the operator grants.
        let field = operation.field();
        let why = if requested {
            let grants = match &self.grants_path {
                Some(path) => format!("the operator's grants '{}'", path.display()),
                None => "the operator's grants".to_string(),
            };
            format!(
                "{grants} give `[plugins.{}]` no `{field}` entry covering it",
                self.name
            )
        } else {
            format!(
                "its manifest '{}' does not ask for it in `{field}`",
                self.manifest_path.display()
            )
        };
        tracing::warn!(plugin = %self.name, %operation, reason = %why, "host call denied");
        Err(denied(&self.name, &format!("{operation} ({why})")))
    }

    /// Checks a file access: the driver's own directories (`dirs`) are always allowed.
    pub fn check_file(&self, path: &str, write: bool, dirs: &DriverDirs) -> Result<PathBuf, Error> {
        let normalized = normalize(Path::new(path)).ok_or_else(|| {
            denied(
                &self.name,
                &format!("use the relative or escaping path '{path}'"),
            )
        })?;
        if dirs.contains(&normalized) {
            return Ok(normalized);
        }
        let operation = if write {
            Operation::FileWrite(&normalized)
        } else {
            Operation::FileRead(&normalized)
        };
        self.check(operation, dirs)?;
        Ok(normalized)
    }
}

static NEXT_CALL: AtomicU64 = AtomicU64::new(1);

/// The call in flight on an instance.
pub struct CallContext {
    pub id: u64,
    pub space: Option<Arc<Space>>,
    /// True only during `connect.open`, the one call that may bind a space.
    pub opening: bool,
    /// The space this call creates or reloads: other binders wait until it ends.
    pub initializing: Option<Arc<Space>>,
    pub connection_uri: Option<Arc<str>>,
    pub writes: StagedWrites,
    pub events: Vec<Event>,
    pub jobs: Vec<String>,
    /// Streams whose frames this call has claimed.
    pub claimed: Vec<u64>,
    /// `ssh` sessions this call opened since its last commit: a trap drops the writes that
    /// would have kept their handles, so the sessions are closed with them.
    pub ssh_opened: Vec<u64>,
    pub started: Instant,
    /// Time spent blocked in host calls, not charged to the call's budget.
    pub blocked: Duration,
    /// Times this call has asked to leave the async runtime for computing long.
    pub left_runtime: u8,
    /// A fault the test-only hook armed for this call (debug builds only, see `fault`).
    #[cfg(debug_assertions)]
    pub fault: Option<crate::fault::CallFault>,
}

impl CallContext {
    pub fn new(
        space: Option<Arc<Space>>,
        connection_uri: Option<Arc<str>>,
        opening: bool,
    ) -> CallContext {
        CallContext {
            id: NEXT_CALL.fetch_add(1, Ordering::Relaxed),
            space,
            opening,
            initializing: None,
            connection_uri,
            writes: StagedWrites::new(),
            events: Vec::new(),
            jobs: Vec::new(),
            claimed: Vec::new(),
            ssh_opened: Vec::new(),
            started: Instant::now(),
            blocked: Duration::ZERO,
            left_runtime: 0,
            #[cfg(debug_assertions)]
            fault: None,
        }
    }

    pub fn idle() -> CallContext {
        CallContext::new(None, None, false)
    }

    pub fn weak_space(&self) -> Weak<Space> {
        self.space.as_ref().map(Arc::downgrade).unwrap_or_default()
    }
}

/// The data of a plugin instance's store.
pub struct PluginCtx {
    pub shared: Arc<PluginShared>,
    pub call: CallContext,
    pub limits: StoreLimits,
    /// The instance's `http` sessions: dropped with it, so a trapped instance leaks none.
    pub http_sessions: crate::http_session::Sessions,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl PluginCtx {
    pub fn new(shared: Arc<PluginShared>, memory_limit_bytes: usize) -> PluginCtx {
        let wasi = WasiCtx::builder()
            .inherit_stderr()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(memory_limit_bytes)
            .instances(4)
            .tables(64)
            .memories(4)
            .build();
        PluginCtx {
            shared,
            call: CallContext::idle(),
            limits,
            http_sessions: Default::default(),
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Runs a blocking host operation, keeping its time off the call's budget (and, on a
    /// runtime worker, off the runtime: see [`off_runtime`]).
    pub fn blocking<T>(&mut self, operation: impl FnOnce(&mut Self) -> T) -> T {
        let start = Instant::now();
        let result = off_runtime(|| operation(self));
        self.call.blocked += start.elapsed();
        result
    }

    /// The driver directories of the call's space: its own root's, or the host's layout.
    pub fn space_dirs(&self) -> &DriverDirs {
        self.call
            .space
            .as_ref()
            .and_then(|space| space.dirs.as_ref())
            .unwrap_or(&self.shared.dirs)
    }

    /// [`PluginShared::check`] in the call's space.
    pub fn check(&self, operation: Operation<'_>) -> Result<(), Error> {
        self.shared.check(operation, self.space_dirs())
    }

    /// [`PluginShared::check_file`] in the call's space.
    pub fn check_file(&self, path: &str, write: bool) -> Result<PathBuf, Error> {
        self.shared.check_file(path, write, self.space_dirs())
    }

    /// The space of the call in flight, or an error for calls made outside one.
    pub fn space(&self) -> Result<Arc<Space>, Error> {
        self.call.space.clone().ok_or_else(|| {
            Error::internal(
                virt_core::ErrorDomain::NONE,
                "host call needs a space, but the connection has not bound one",
            )
        })
    }
}

impl WasiView for PluginCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs `operation`, which may block (a job wait, a child, a QMP reply, an fsync), without
/// stalling the async runtime it may be called from.
///
/// rvirtd runs driver calls on its runtime's worker threads, because handing each call to
/// another thread costs more than most calls take. The price is that a call must not block
/// a worker: on a multi-thread runtime worker, `block_in_place` hands the worker's other
/// tasks to a new thread first. Elsewhere (a plain thread, a blocking-pool thread, a
/// current-thread runtime, which `block_in_place` refuses) the operation just runs.
pub(crate) fn off_runtime<T>(operation: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(operation)
        }
        _ => operation(),
    }
}
