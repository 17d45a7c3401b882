//! A loaded plugin: its compiled component, a pool of instances, and the one way into it,
//! [`Plugin::call`], which gives each call its own instance and contains whatever the
//! plugin does wrong.
//!
//! Containment: a trap (including a Rust panic, which aborts), a call running past its CPU
//! budget (epoch interruption) or a memory blow-up (store limits) fails only that call with
//! VIR_ERR_INTERNAL_ERROR; its staged writes and events are dropped, its jobs and stream
//! claims released, and the instance is thrown away. The space's records are untouched.
//!
//! Hot upgrade: a [`PluginSlot`] holds the plugin currently serving a name. A successor
//! ([`Plugin::load_successor`]) takes over its predecessor's home (the same
//! [`PluginShared`]: spaces with their records and live resources, directories, grants, and
//! the handler-event channel), so swapping the slot moves connections and handler events to
//! the new code while calls already running finish on the old instances.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};

use virt_core::Error;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::bindings::optional::{device_changes, domain_listing, migration, network_leases};
use crate::bindings::{Driver, DriverIndices};
use crate::config::HostConfig;
use crate::ctx::{CallContext, PluginCtx, PluginShared};
use crate::error::{plugin_failed, LoadError};
use crate::manifest::Manifest;
use crate::resources::HandlerEvent;
use crate::space::{Space, SpaceRegistry};
use wasmtime::component::InstancePre;

/// How often the epoch ticks; a runaway call is stopped within a tick of its budget.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Wasm time after which a call is no longer a quick one, and leaves the async runtime.
const LONG_CALL: Duration = Duration::from_millis(5);

/// Ticks at which a long call asks to leave (see [`leave_runtime`]).
const LEAVE_ATTEMPTS: u8 = 3;

/// Lets the rest of a long call run off the async runtime it was called on.
///
/// rvirtd runs driver calls on its runtime's threads, so a call that computes for long
/// would hold up the tasks queued behind it on that thread (tokio does not steal every one
/// of them). `block_in_place` hands the thread's runtime work to a new thread; when its
/// closure returns, it takes the work back only if that thread has not started on it yet.
/// Waiting a millisecond inside makes the hand-over all but certain, and the next ticks try
/// again if it did not happen. Off a runtime thread this only costs the millisecond.
fn leave_runtime() {
    crate::ctx::off_runtime(|| std::thread::sleep(Duration::from_millis(1)));
}

/// The engine every plugin shares, with its epoch ticker running.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine =
            Engine::new(&config).expect("the host's fixed wasmtime configuration is valid");
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("the epoch ticker thread starts");
        engine
    })
}

/// Metadata the plugin reports about itself (`connect.metadata`).
#[derive(Clone, Debug)]
pub struct PluginMetadata {
    pub name: String,
    pub version: String,
    pub uri_schemes: Vec<String>,
    pub hypervisor_version: u64,
}

struct Instance {
    store: Store<PluginCtx>,
    bindings: Exports,
}

/// One instance's exports: the required ones (through `Deref`, as `Driver`'s methods) and
/// those a later WIT minor added, present only when the plugin has them.
pub struct Exports {
    required: Driver,
    /// `virNetworkGetDHCPLeases` (0.2.0).
    pub network_leases: Option<network_leases::Guest>,
    /// The kernel's device changes (0.2.0).
    pub device_changes: Option<device_changes::Guest>,
    /// Live migration's phases (0.2.0).
    pub migration: Option<migration::Guest>,
    /// `virConnectListAllDomains` as one packed buffer (0.2.0).
    pub domain_listing: Option<domain_listing::Guest>,
}

impl std::ops::Deref for Exports {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.required
    }
}

/// Where the exports sit in a compiled plugin, found once at load.
struct ExportIndices {
    required: DriverIndices,
    network_leases: Option<network_leases::GuestIndices>,
    device_changes: Option<device_changes::GuestIndices>,
    migration: Option<migration::GuestIndices>,
    domain_listing: Option<domain_listing::GuestIndices>,
}

/// A loaded, ready-to-call plugin.
pub struct Plugin {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub metadata: PluginMetadata,
    shared: Arc<PluginShared>,
    pre: InstancePre<PluginCtx>,
    indices: ExportIndices,
    idle: Mutex<Vec<Instance>>,
    max_idle: usize,
    memory_limit_bytes: usize,
    /// Set by [`Plugin::stop`]: the host that loaded this plugin has shut down.
    stopped: AtomicBool,
    /// The plugin the handler-event dispatcher delivers to: this one, until a successor
    /// takes over (shared by every version of one plugin, like `shared`).
    dispatch_target: Arc<RwLock<Weak<Plugin>>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.manifest.name)
            .field("path", &self.path)
            .finish()
    }
}

/// Compiles `wasm_path`, or loads the compiled artifact cached for exactly these bytes and
/// this engine.
pub fn compile(
    wasm_path: &Path,
    bytes: &[u8],
    cache_dir: Option<&Path>,
) -> Result<Component, LoadError> {
    let engine = engine();
    let corrupt = |reason: String| LoadError::Corrupt {
        path: wasm_path.to_path_buf(),
        reason,
    };
    let cached = cache_dir.map(|dir| cache_path(bytes, dir));
    if let Some(cached) = &cached {
        if cached.exists() {
            // SAFETY: the artifact was produced by `Component::serialize` of this same engine
            // configuration (the file name carries its compatibility hash) into the host's own
            // cache directory, which only the host writes.
            match unsafe { Component::deserialize_file(engine, cached) } {
                Ok(component) => return Ok(component),
                Err(error) => {
                    tracing::warn!(path = %cached.display(), %error, "ignoring unusable compiled cache entry")
                }
            }
        }
    }
    let component = Component::new(engine, bytes).map_err(|e| corrupt(format!("{e:#}")))?;
    if let Some(cached) = &cached {
        let stored = component
            .serialize()
            .map_err(std::io::Error::other)
            .and_then(|artifact| crate::host_calls::write_atomically(cached, &artifact));
        if let Err(error) = stored {
            tracing::warn!(path = %cached.display(), %error, "cannot cache the compiled plugin");
        }
    }
    Ok(component)
}

/// Where the compiled artifact of exactly `bytes`, for this engine, is cached in `cache_dir`.
pub fn cache_path(bytes: &[u8], cache_dir: &Path) -> PathBuf {
    use sha2::Digest;
    use std::hash::{Hash, Hasher};
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine()
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let digest = hex::encode(sha2::Sha256::digest(bytes));
    cache_dir.join(format!("{digest}-{:016x}.cwasm", engine_hash.finish()))
}

/// The plugin currently serving one name. Connections and the handler-event dispatcher call
/// through it, so [`PluginSlot::swap`] moves them to a new version at their next call.
pub struct PluginSlot {
    current: RwLock<Arc<Plugin>>,
    generation: AtomicU32,
}

impl std::fmt::Debug for PluginSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginSlot")
            .field("current", &*self.current())
            .field("generation", &self.generation())
            .finish()
    }
}

impl PluginSlot {
    pub fn new(plugin: Arc<Plugin>) -> Arc<PluginSlot> {
        Arc::new(PluginSlot {
            current: RwLock::new(plugin),
            generation: AtomicU32::new(0),
        })
    }

    /// The plugin serving now. A caller keeps it for the whole call, so a swap never cuts
    /// a call in two.
    pub fn current(&self) -> Arc<Plugin> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// How many times the plugin was swapped.
    pub fn generation(&self) -> u32 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Makes `successor` (from [`Plugin::load_successor`] of the current plugin) serve from
    /// now on; returns the predecessor, which lives until its last running call ends.
    pub fn swap(&self, successor: Arc<Plugin>) -> Arc<Plugin> {
        // Handler events first: from here on they reach the new code, in order.
        *successor
            .dispatch_target
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(&successor);
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|p| p.into_inner()),
            successor,
        );
        self.generation.fetch_add(1, Ordering::SeqCst);
        old
    }
}

impl Plugin {
    /// Loads the plugin at `wasm_path` described by `manifest`: checks its WIT version before
    /// anything else, compiles it (or takes it from the cache), links the host calls and asks
    /// it for its metadata.
    pub fn load(
        manifest: Manifest,
        wasm_path: &Path,
        config: &HostConfig,
    ) -> Result<Arc<Plugin>, LoadError> {
        Self::load_as(manifest, wasm_path, config, None)
    }

    /// Loads a new version of this plugin from `wasm_path`, checked exactly as [`Plugin::load`]
    /// checks, that takes over this one's home (see the module docs) once swapped in with
    /// [`PluginSlot::swap`]. Until then it serves nothing; on error this one is untouched.
    pub fn load_successor(
        &self,
        manifest: Manifest,
        wasm_path: &Path,
        config: &HostConfig,
    ) -> Result<Arc<Plugin>, LoadError> {
        Self::load_as(manifest, wasm_path, config, Some(self))
    }

    fn load_as(
        manifest: Manifest,
        wasm_path: &Path,
        config: &HostConfig,
        predecessor: Option<&Plugin>,
    ) -> Result<Arc<Plugin>, LoadError> {
        let bytes = std::fs::read(wasm_path).map_err(|source| LoadError::Io {
            path: wasm_path.to_path_buf(),
            source,
        })?;
        manifest.verify_component(&bytes, wasm_path)?;
        let wit_version = crate::wit_version::read(&bytes, wasm_path)?;
        crate::wit_version::check(&manifest.name, wasm_path, &wit_version)?;
        if manifest.wit != wit_version {
            return Err(LoadError::Mismatch {
                plugin: manifest.name.clone(),
                what: "WIT version",
                manifest: manifest.wit.clone(),
                component: wit_version,
            });
        }
        let component = compile(wasm_path, &bytes, config.compile_cache.as_deref())?;
        Self::from_component(manifest, wasm_path, component, config, predecessor)
    }

    fn from_component(
        manifest: Manifest,
        wasm_path: &Path,
        component: Component,
        config: &HostConfig,
        predecessor: Option<&Plugin>,
    ) -> Result<Arc<Plugin>, LoadError> {
        let instantiate_error = |e: wasmtime::Error| LoadError::Instantiate {
            plugin: manifest.name.clone(),
            reason: format!("{e:#}"),
        };
        let mut linker: Linker<PluginCtx> = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(instantiate_error)?;
        Driver::add_to_linker::<PluginCtx, HasSelf<PluginCtx>>(&mut linker, |ctx| ctx)
            .map_err(instantiate_error)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(instantiate_error)?;
        let indices = ExportIndices {
            required: DriverIndices::new(&pre).map_err(instantiate_error)?,
            // Absent from a plugin built for 0.1.0: its calls answer VIR_ERR_NO_SUPPORT.
            network_leases: network_leases::GuestIndices::new(&pre).ok(),
            device_changes: device_changes::GuestIndices::new(&pre).ok(),
            migration: migration::GuestIndices::new(&pre).ok(),
            domain_listing: domain_listing::GuestIndices::new(&pre).ok(),
        };

        // A successor moves into its predecessor's home; a first load makes one.
        let (shared, events, dispatch_target) = match predecessor {
            Some(old) => (
                Arc::clone(&old.shared),
                None,
                Arc::clone(&old.dispatch_target),
            ),
            None => {
                let dirs = config.dirs.driver_dirs(&manifest.name);
                crate::host_calls::make_roots_private(&dirs);
                for dir in [&dirs.config, &dirs.state, &dirs.run] {
                    crate::host_calls::remove_stale_temporaries_in(dir);
                }
                let (dispatch, events) = std::sync::mpsc::channel();
                let shared = Arc::new(PluginShared {
                    name: manifest.name.clone(),
                    requested: manifest.capabilities.clone(),
                    granted: config.grants.for_plugin(&manifest.name),
                    spaces: SpaceRegistry::new(dirs.state.clone()),
                    dirs,
                    dispatch,
                    call_cpu_budget: config.call_cpu_budget,
                    helper_dirs: config.helper_dirs.clone(),
                    auth_file: config.auth_file.clone(),
                    manifest_path: wasm_path.with_extension("toml"),
                    grants_path: config.grants_source.clone(),
                });
                (shared, Some(events), Arc::new(RwLock::new(Weak::new())))
            }
        };
        let memory_limit_bytes =
            (manifest.memory_limit_mib.unwrap_or(config.memory_limit_mib) as usize) << 20;
        let mut plugin = Plugin {
            path: wasm_path.to_path_buf(),
            metadata: PluginMetadata {
                name: String::new(),
                version: String::new(),
                uri_schemes: Vec::new(),
                hypervisor_version: 0,
            },
            shared,
            pre,
            indices,
            idle: Mutex::new(Vec::new()),
            max_idle: config.max_idle_instances,
            memory_limit_bytes,
            stopped: AtomicBool::new(false),
            dispatch_target,
            manifest,
        };
        let metadata = plugin
            .call(None, None, false, |driver, store| {
                driver.rvirt_driver0_1_0_connect().call_metadata(store)
            })
            .map_err(|e| LoadError::Instantiate {
                plugin: plugin.manifest.name.clone(),
                reason: e.message().to_string(),
            })?;
        for scheme in &plugin.manifest.uri_schemes {
            if !metadata.uri_schemes.contains(scheme) {
                return Err(LoadError::Mismatch {
                    plugin: plugin.manifest.name.clone(),
                    what: "URI scheme",
                    manifest: scheme.clone(),
                    component: metadata.uri_schemes.join(","),
                });
            }
        }
        // A release's manifest and component are one version: an archive mixing two is refused.
        if metadata.version != plugin.manifest.version {
            return Err(LoadError::Mismatch {
                plugin: plugin.manifest.name.clone(),
                what: "version",
                manifest: plugin.manifest.version.clone(),
                component: metadata.version,
            });
        }
        plugin.metadata = PluginMetadata {
            name: metadata.name,
            version: metadata.version,
            uri_schemes: metadata.uri_schemes,
            hypervisor_version: metadata.hypervisor_version,
        };
        let plugin = Arc::new(plugin);
        if let Some(events) = events {
            *plugin
                .dispatch_target
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Arc::downgrade(&plugin);
            plugin.start_dispatcher(events)?;
        }
        Ok(plugin)
    }

    /// Starts the thread that delivers handler events (child exits, unclaimed stream frames)
    /// to the plugin, one at a time and in order: to whichever version serves when the event
    /// is taken. It holds the plugin weakly and ends with the last version.
    fn start_dispatcher(
        self: &Arc<Self>,
        events: Receiver<(Weak<Space>, HandlerEvent)>,
    ) -> Result<(), LoadError> {
        let target = Arc::clone(&self.dispatch_target);
        std::thread::Builder::new()
            .name(format!("dispatch-{}", self.manifest.name))
            .spawn(move || {
                while let Ok((space, event)) = events.recv() {
                    let plugin = target.read().unwrap_or_else(|p| p.into_inner()).clone();
                    let (Some(plugin), Some(space)) = (plugin.upgrade(), space.upgrade()) else {
                        if plugin.strong_count() == 0 {
                            return;
                        }
                        continue;
                    };
                    plugin.handle(&space, event);
                }
            })
            .map_err(|e| LoadError::Instantiate {
                plugin: self.manifest.name.clone(),
                reason: e.to_string(),
            })?;
        Ok(())
    }

    /// Stops the plugin for good, as its host shuts down: handler events still queued or
    /// still to come (the streams the host is closing report EOF) are dropped, and calls
    /// through connections that outlive the host are refused. Otherwise a stopped host
    /// would go on acting on its stale view of the driver's state, say reconnecting to a
    /// controller that the next host has already taken over.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub fn shared(&self) -> &Arc<PluginShared> {
        &self.shared
    }

    fn instance(&self) -> Result<Instance, Error> {
        if let Some(instance) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(instance);
        }
        let mut store = Store::new(
            engine(),
            PluginCtx::new(Arc::clone(&self.shared), self.memory_limit_bytes),
        );
        store.limiter(|ctx| &mut ctx.limits);
        store.epoch_deadline_callback(|mut ctx| {
            // The test-only fault hook acts here, inside the wasm call (debug builds only).
            #[cfg(debug_assertions)]
            let fault = ctx.data().call.fault;
            #[cfg(debug_assertions)]
            match fault {
                Some(crate::fault::CallFault::Trap) => {
                    ctx.data_mut().call.fault = None;
                    return Err(wasmtime::Trap::UnreachableCodeReached.into());
                }
                Some(crate::fault::CallFault::Spin) => loop {
                    // A loop that never returns: CPU burnt as wasm time until the budget is
                    // spent, leaving the async runtime as the ticks below do for real code.
                    crate::fault::burn(EPOCH_TICK);
                    let call = &ctx.data().call;
                    let in_wasm = call.started.elapsed().saturating_sub(call.blocked);
                    if in_wasm > ctx.data().shared.call_cpu_budget {
                        return Ok(UpdateDeadline::Interrupt);
                    }
                    if call.left_runtime < LEAVE_ATTEMPTS {
                        let start = Instant::now();
                        leave_runtime();
                        let call = &mut ctx.data_mut().call;
                        call.left_runtime += 1;
                        call.blocked += start.elapsed();
                    }
                },
                None => {}
            }
            let call = &ctx.data().call;
            let in_wasm = call.started.elapsed().saturating_sub(call.blocked);
            if in_wasm > ctx.data().shared.call_cpu_budget {
                return Ok(UpdateDeadline::Interrupt);
            }
            if in_wasm >= LONG_CALL && call.left_runtime < LEAVE_ATTEMPTS {
                let start = Instant::now();
                leave_runtime();
                let call = &mut ctx.data_mut().call;
                call.left_runtime += 1;
                call.blocked += start.elapsed();
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store.set_epoch_deadline(1);
        let cannot = |e: wasmtime::Error| {
            plugin_failed(&self.shared.name, &format!("cannot instantiate: {e:#}"))
        };
        let instance = self.pre.instantiate(&mut store).map_err(cannot)?;
        let bindings = Exports {
            required: self
                .indices
                .required
                .load(&mut store, &instance)
                .map_err(cannot)?,
            network_leases: match &self.indices.network_leases {
                Some(indices) => Some(indices.load(&mut store, &instance).map_err(cannot)?),
                None => None,
            },
            device_changes: match &self.indices.device_changes {
                Some(indices) => Some(indices.load(&mut store, &instance).map_err(cannot)?),
                None => None,
            },
            migration: match &self.indices.migration {
                Some(indices) => Some(indices.load(&mut store, &instance).map_err(cannot)?),
                None => None,
            },
            domain_listing: match &self.indices.domain_listing {
                Some(indices) => Some(indices.load(&mut store, &instance).map_err(cannot)?),
                None => None,
            },
        };
        Ok(Instance { store, bindings })
    }

    /// Runs one export call on an instance of its own, in `space` (or in no space yet, for
    /// `connect.open`, which binds one). Commits the call's writes and events when it returns;
    /// on a trap, drops them and the instance.
    pub fn call<R>(
        &self,
        space: Option<&Arc<Space>>,
        connection_uri: Option<&Arc<str>>,
        opening: bool,
        body: impl FnOnce(&Exports, &mut Store<PluginCtx>) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        self.call_with_context(space, connection_uri, opening, body)
            .map(|(result, _)| result)
    }

    /// As [`Plugin::call`], also returning the space the call bound (for `connect.open`).
    pub fn call_with_context<R>(
        &self,
        space: Option<&Arc<Space>>,
        connection_uri: Option<&Arc<str>>,
        opening: bool,
        body: impl FnOnce(&Exports, &mut Store<PluginCtx>) -> wasmtime::Result<R>,
    ) -> Result<(R, Option<Arc<Space>>), Error> {
        if self.is_stopped() {
            return Err(Error::new(
                virt_core::ErrorNumber::INVALID_CONN,
                virt_core::ErrorDomain::NONE,
                format!(
                    "the plugin host serving this connection to driver '{}' has shut down",
                    self.shared.name
                ),
            ));
        }
        let mut instance = self.instance()?;
        instance.store.data_mut().call =
            CallContext::new(space.cloned(), connection_uri.cloned(), opening);
        instance.store.set_epoch_deadline(1);
        #[cfg(debug_assertions)]
        if connection_uri.is_some() {
            if let Some(fault) = crate::fault::take_call_fault(&self.shared.name) {
                // Deadline now: the epoch callback runs at the call's first wasm instruction.
                instance.store.data_mut().call.fault = Some(fault);
                instance.store.set_epoch_deadline(0);
            }
        }
        let outcome = body(&instance.bindings, &mut instance.store);
        let mut call = std::mem::replace(&mut instance.store.data_mut().call, CallContext::idle());
        let writes = std::mem::take(&mut call.writes);
        let events = std::mem::take(&mut call.events);
        let finish = |succeeded: bool| {
            if let Some(space) = &call.space {
                for target in &call.jobs {
                    space.end_job(target, call.id);
                }
                if !call.claimed.is_empty() {
                    let dispatch = Some(self.shared.dispatch.clone());
                    space.resources.release_claims(
                        call.id,
                        &call.claimed,
                        &call.weak_space(),
                        &dispatch,
                    );
                }
            }
            if let Some(initializing) = &call.initializing {
                self.shared.spaces.finish_init(initializing, succeeded);
            }
        };
        match outcome {
            Ok(result) => {
                let committed = match &call.space {
                    Some(space) => space.commit(writes, events),
                    None => Ok(()),
                };
                finish(committed.is_ok());
                self.release_instance(instance);
                committed.map(|()| (result, call.space.clone()))
            }
            Err(trap) => {
                finish(false);
                crate::outbound::close_ssh_sessions_of_trapped_call(&call.ssh_opened);
                if let Some(space) = &call.space {
                    if opening {
                        self.shared.spaces.release(space);
                    }
                }
                let what = describe_trap(&trap);
                tracing::error!(plugin = %self.shared.name, error = %what, "plugin call failed; instance discarded");
                Err(plugin_failed(&self.shared.name, &what))
            }
        }
    }

    fn release_instance(&self, instance: Instance) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(instance);
        }
    }

    /// Delivers one handler event to the plugin in the resource's space.
    pub fn handle(&self, space: &Arc<Space>, event: HandlerEvent) {
        if self.is_stopped() {
            return;
        }
        let result = self.call(Some(space), None, false, |driver, store| {
            let handlers = driver.rvirt_driver0_1_0_handlers();
            match event {
                HandlerEvent::ProcessExited { handle, status } => {
                    let status = crate::bindings::v0_1::process::ProcessStatus {
                        pid: status.pid,
                        running: status.running,
                        exit_code: status.exit_code,
                        signal: status.signal,
                    };
                    handlers.call_process_exited(store, handle, status)
                }
                HandlerEvent::StreamFrame { handle, frame } => {
                    handlers.call_stream_frame(store, handle, &frame)
                }
                HandlerEvent::StreamClosed { handle } => handlers.call_stream_closed(store, handle),
                HandlerEvent::DevicesChanged { pending } => match &driver.device_changes {
                    Some(export) => {
                        let changes: Vec<_> = crate::device_watch::take_pending(&pending)
                            .into_iter()
                            .map(|change| device_changes::DeviceChange {
                                action: change.action,
                                devpath: change.devpath,
                                subsystem: change.subsystem,
                            })
                            .collect();
                        export.call_changed(store, &changes)
                    }
                    None => Ok(()),
                },
            }
        });
        if let Err(error) = result {
            tracing::warn!(plugin = %self.shared.name, %error, "handler call failed");
        }
    }
}

/// A one-line reason for a failed call: the trap code if there is one, and the message.
fn describe_trap(error: &wasmtime::Error) -> String {
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => {
            "call exceeded its CPU time budget and was interrupted".into()
        }
        Some(trap) => format!("trapped: {trap}"),
        None => {
            let text = format!("{error:#}");
            text.lines().next().unwrap_or("unknown failure").to_string()
        }
    }
}
