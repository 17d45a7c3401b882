//! The host: finds plugins on the plugin path, loads each the first time one of its URI
//! schemes is opened, serves connections as a `virt_core::driver::Driver`, and administers
//! its plugins: lists them and swaps one for a new version under running connections.
//!
//! A reload ([`Host::reload_plugin`], [`Host::reload_changed`]) loads the new files next to
//! the serving version, checked as a first load is (manifest, checksum, WIT version,
//! instantiation, metadata), and only then swaps the name's [`PluginSlot`]. A refused
//! reload leaves the serving version untouched.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Instant, SystemTime};

use virt_core::driver::{Connection, Driver};
use virt_core::{
    ConnectUri, Error, ErrorDomain, ErrorNumber, PluginCapability, PluginInfo, Result,
};

use crate::config::HostConfig;
use crate::connection::PluginConnection;
use crate::error::LoadError;
use crate::manifest::{Capabilities, Manifest, SecondaryKind};
use crate::plugin::{Plugin, PluginSlot};

/// A plugin found on the plugin path (not loaded yet).
#[derive(Clone, Debug)]
pub struct Discovered {
    pub manifest: Manifest,
    pub wasm_path: PathBuf,
}

impl Discovered {
    fn manifest_path(&self) -> PathBuf {
        self.wasm_path.with_extension("toml")
    }
}

/// Plugins by name and scheme, loaded on first use.
pub struct Host {
    plugins: Arc<Plugins>,
    /// Connections opened by [`Host::open_at_start`], kept for the host's lifetime.
    kept_open: Mutex<Vec<PluginConnection>>,
    /// Manifests that could not be read, kept for diagnostics.
    pub problems: Vec<String>,
}

/// What connections reach back to for plugin administration (held weakly by them, so a
/// connection that outlives its host does not keep the host's plugins).
pub(crate) struct Plugins {
    config: HostConfig,
    catalog: RwLock<Catalog>,
    loaded: Mutex<HashMap<String, Arc<Loaded>>>,
}

#[derive(Default)]
struct Catalog {
    by_scheme: BTreeMap<String, String>,
    /// (kind of secondary object, hypervisor scheme) → the plugin serving those objects.
    secondary: BTreeMap<(SecondaryKind, String), String>,
    discovered: BTreeMap<String, Discovered>,
}

/// A loaded plugin: its slot, and what its files looked like when it was loaded.
struct Loaded {
    slot: Arc<PluginSlot>,
    fingerprint: Mutex<Fingerprint>,
    /// One reload of a plugin at a time.
    reloading: Mutex<()>,
}

/// Size, inode and modification time of a plugin's component and manifest: SIGHUP reloads a
/// plugin whose files no longer match.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint(Vec<Option<(u64, u64, SystemTime)>>);

impl Fingerprint {
    fn of(discovered: &Discovered) -> Fingerprint {
        use std::os::unix::fs::MetadataExt;
        let stat = |path: &Path| {
            std::fs::metadata(path).ok().map(|m| {
                (
                    m.len(),
                    m.ino(),
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                )
            })
        };
        Fingerprint(vec![
            stat(&discovered.wasm_path),
            stat(&discovered.manifest_path()),
        ])
    }
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let catalog = self.plugins.catalog();
        f.debug_struct("Host")
            .field("plugins", &catalog.discovered.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Host {
    /// A host configured from the environment (see [`HostConfig::from_environment`]).
    pub fn from_environment() -> Result<Host> {
        Ok(Host::new(HostConfig::from_environment()?))
    }

    /// Discovers the plugins on `config.plugin_path`.
    pub fn new(config: HostConfig) -> Host {
        let mut host = Host {
            plugins: Arc::new(Plugins {
                catalog: RwLock::new(Catalog::default()),
                loaded: Mutex::new(HashMap::new()),
                config,
            }),
            kept_open: Mutex::new(Vec::new()),
            problems: Vec::new(),
        };
        for dir in host.plugins.config.plugin_path.clone() {
            for found in discover_dir(&dir) {
                match found {
                    Ok(discovered) => {
                        if let Err(problem) = host.plugins.catalog_mut().add(discovered) {
                            tracing::warn!(%problem, "skipping plugin");
                            host.problems.push(problem);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "skipping plugin");
                        host.problems.push(error.to_string());
                    }
                }
            }
        }
        host
    }

    /// Adds a plugin; one found earlier under the same name keeps precedence, and one
    /// claiming a scheme another plugin serves is refused (the message says why).
    pub fn add(&mut self, plugin: Discovered) -> Result<()> {
        self.plugins.catalog_mut().add(plugin).map_err(|problem| {
            Error::new(ErrorNumber::CONFIG_UNSUPPORTED, ErrorDomain::NONE, problem)
        })
    }

    /// The plugins found, by name.
    pub fn discovered(&self) -> Vec<Discovered> {
        self.plugins
            .catalog()
            .discovered
            .values()
            .cloned()
            .collect()
    }

    pub fn config(&self) -> &HostConfig {
        &self.plugins.config
    }

    /// The plugin named `name` serving now, loading it on first use.
    pub fn plugin(&self, name: &str) -> Result<Arc<Plugin>> {
        Ok(self.plugins.slot(name)?.current())
    }

    /// The slot of the plugin named `name` (what connections call through), loading it on
    /// first use.
    pub fn plugin_slot(&self, name: &str) -> Result<Arc<PluginSlot>> {
        self.plugins.slot(name)
    }

    /// The plugin serving `scheme`, if any.
    pub fn plugin_for_scheme(&self, scheme: &str) -> Result<Option<Arc<Plugin>>> {
        let name = self.plugins.catalog().by_scheme.get(scheme).cloned();
        match name {
            Some(name) => self.plugin(&name).map(Some),
            None => Ok(None),
        }
    }

    /// Every plugin found on the plugin path, by name: versions, schemes, requested and
    /// granted capabilities, loaded and cached state.
    pub fn list_plugins(&self) -> Vec<PluginInfo> {
        self.plugins.list()
    }

    /// Swaps plugin `name` for its files on disk now (see the module docs). A plugin not
    /// loaded yet is loaded. Returns what serves afterwards.
    pub fn reload_plugin(&self, name: &str) -> Result<PluginInfo> {
        self.plugins.reload(name)
    }

    /// Reloads every loaded plugin whose component or manifest changed on disk since it was
    /// loaded (rvirtd's SIGHUP), re-reads the manifests of the others and discovers plugins
    /// added to the plugin path. Returns each reloaded plugin with the outcome; one refused
    /// plugin does not stop the others.
    pub fn reload_changed(&self) -> Vec<(String, Result<PluginInfo>)> {
        self.plugins.reload_changed()
    }

    /// Opens every `open-at-start` URI of every discovered plugin and keeps the connections,
    /// so drivers reattach to running guests and start autostart ones when a daemon starts.
    /// Returns each URI with the outcome; one failing driver does not stop the others.
    pub fn open_at_start(&self) -> Vec<(String, Result<()>)> {
        // Secondary drivers first, as libvirt autostarts networks and pools before domains:
        // a guest that autostarts finds its network up.
        let mut plugins: Vec<(bool, Vec<String>)> = self
            .plugins
            .catalog()
            .discovered
            .values()
            .map(|d| {
                let secondary = SecondaryKind::ALL
                    .iter()
                    .any(|kind| !d.manifest.secondary.schemes(*kind).is_empty());
                (!secondary, d.manifest.open_at_start.clone())
            })
            .collect();
        plugins.sort_by_key(|(primary, _)| *primary);
        let uris: Vec<String> = plugins.into_iter().flat_map(|(_, uris)| uris).collect();
        uris.into_iter()
            .map(|uri| {
                let outcome =
                    ConnectUri::parse(&uri).and_then(|parsed| match self.open(&parsed, 0)? {
                        Some(connection) => {
                            self.kept_open
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(connection);
                            Ok(())
                        }
                        None => Err(Error::new(
                            ErrorNumber::NO_CONNECT,
                            ErrorDomain::NONE,
                            uri.as_str(),
                        )),
                    });
                if let Err(error) = &outcome {
                    tracing::warn!(uri = %uri, %error, "cannot open driver at start");
                }
                (uri, outcome)
            })
            .collect()
    }

    /// Opens `uri` in this process, or `None` if no plugin serves its scheme, it names a
    /// transport, or it names a host and its plugin's manifest does not say `remote-hosts`
    /// (then the host is a remote daemon's).
    pub fn open(&self, uri: &ConnectUri, flags: u32) -> Result<Option<PluginConnection>> {
        if uri.transport.is_some() {
            return Ok(None);
        }
        let (name, remote_hosts) = {
            let catalog = self.plugins.catalog();
            let Some(name) = catalog.by_scheme.get(&uri.driver).cloned() else {
                return Ok(None);
            };
            let remote_hosts = catalog
                .discovered
                .get(&name)
                .is_some_and(|plugin| plugin.manifest.remote_hosts);
            (name, remote_hosts)
        };
        // A host names a remote daemon, unless the plugin's URIs name its hypervisor's.
        if uri.host.is_some() && !remote_hosts {
            return Ok(None);
        }
        let slot = self.plugins.slot(&name)?;
        let mut connection =
            PluginConnection::open(slot, Arc::downgrade(&self.plugins), uri.as_str(), flags)?;
        for kind in SecondaryKind::ALL {
            if let Some(secondary) = self.open_secondary(kind, &name, uri, flags) {
                connection.attach_secondary(kind, secondary);
            }
        }
        Ok(Some(connection))
    }

    /// The connection of the plugin serving `kind` objects for `uri`'s connections, opened at
    /// the same path under the plugin's own scheme. A secondary plugin that is missing or
    /// fails to open leaves the hypervisor connection working without it (its calls for those
    /// objects then say what the hypervisor plugin says: VIR_ERR_NO_SUPPORT), so a broken
    /// network plugin never takes guests' management down; the failure is logged.
    fn open_secondary(
        &self,
        kind: SecondaryKind,
        primary: &str,
        uri: &ConnectUri,
        flags: u32,
    ) -> Option<PluginConnection> {
        let name = self
            .plugins
            .catalog()
            .secondary
            .get(&(kind, uri.driver.clone()))
            .cloned()
            .filter(|name| name != primary)?;
        let slot = match self.plugins.slot(&name) {
            Ok(slot) => slot,
            Err(error) => {
                tracing::warn!(plugin = %name, %error, "cannot load the {} plugin", kind.field());
                return None;
            }
        };
        let scheme = slot.current().manifest.uri_schemes.first().cloned()?;
        // libvirt's secondary drivers serve the privileged and the per-user daemon; an
        // embedded driver (`qemu:///embed?root=`) keeps its objects to itself.
        let secondary_uri = format!("{scheme}:///{}", uri.instance()?);
        match PluginConnection::open(slot, Arc::downgrade(&self.plugins), &secondary_uri, flags) {
            Ok(connection) => Some(connection),
            Err(error) => {
                tracing::warn!(plugin = %name, uri = %secondary_uri, %error,
                    "cannot open the {} plugin for {uri}", kind.field());
                None
            }
        }
    }
}

impl Host {
    /// Lets go of every live resource: closes the streams and descriptors of every space and
    /// forgets (without killing) the processes, so another host (after an in-process restart,
    /// or the next daemon) can reattach to them. Guests keep running. Called on drop too.
    pub fn shutdown(&self) {
        self.kept_open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let loaded: Vec<Arc<Plugin>> = self
            .plugins
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .map(|loaded| loaded.slot.current())
            .collect();
        for plugin in loaded {
            plugin.stop();
            for space in plugin.shared().spaces.all() {
                space.resources.close_all();
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Reads the manifests in `dir`, in name order, each beside its component.
fn discover_dir(dir: &Path) -> Vec<std::result::Result<Discovered, LoadError>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut manifests: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    manifests.sort();
    manifests
        .into_iter()
        .filter_map(|manifest_path| {
            let wasm_path = manifest_path.with_extension("wasm");
            if !wasm_path.exists() {
                return None;
            }
            Some(read_manifest(&manifest_path).map(|manifest| Discovered {
                manifest,
                wasm_path,
            }))
        })
        .collect()
}

fn read_manifest(path: &Path) -> std::result::Result<Manifest, LoadError> {
    std::fs::read_to_string(path)
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
        .and_then(|text| Manifest::parse(&text, path))
}

impl Catalog {
    /// Adds a plugin. A name found earlier keeps precedence (an earlier directory on the plugin
    /// path overrides a later one); a plugin of another name claiming a scheme already served
    /// is refused whole, with a message naming both files and the field.
    fn add(&mut self, plugin: Discovered) -> std::result::Result<(), String> {
        let name = plugin.manifest.name.clone();
        if self.discovered.contains_key(&name) {
            return Ok(());
        }
        for scheme in &plugin.manifest.uri_schemes {
            if let Some(owner) = self.by_scheme.get(scheme) {
                let owner_path = self
                    .discovered
                    .get(owner)
                    .map(|d| d.wasm_path.with_extension("toml").display().to_string())
                    .unwrap_or_default();
                return Err(format!(
                    "invalid plugin manifest '{}': field `uri-schemes` claims '{scheme}', \
                     which plugin '{owner}' ('{owner_path}') already serves; '{name}' is not used",
                    plugin.wasm_path.with_extension("toml").display()
                ));
            }
        }
        for kind in SecondaryKind::ALL {
            for scheme in plugin.manifest.secondary.schemes(kind) {
                if let Some(owner) = self.secondary.get(&(kind, scheme.clone())) {
                    return Err(format!(
                        "invalid plugin manifest '{}': field `{}` claims '{scheme}', \
                         which plugin '{owner}' already serves; '{name}' is not used",
                        plugin.wasm_path.with_extension("toml").display(),
                        kind.field()
                    ));
                }
            }
        }
        for scheme in &plugin.manifest.uri_schemes {
            self.by_scheme.insert(scheme.clone(), name.clone());
        }
        for kind in SecondaryKind::ALL {
            for scheme in plugin.manifest.secondary.schemes(kind) {
                self.secondary.insert((kind, scheme.clone()), name.clone());
            }
        }
        self.discovered.insert(name, plugin);
        Ok(())
    }
}

fn no_plugin(name: &str) -> Error {
    Error::new(
        ErrorNumber::NO_CONNECT,
        ErrorDomain::NONE,
        format!("no driver plugin named '{name}'"),
    )
}

/// A reload the running host cannot apply: the message names the manifest and its field.
fn refused(manifest_path: &Path, field: &str, why: &str) -> Error {
    LoadError::Manifest {
        path: manifest_path.to_path_buf(),
        reason: format!("field `{field}` {why}"),
    }
    .into()
}

impl Plugins {
    fn catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    fn catalog_mut(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|p| p.into_inner())
    }

    fn loaded(&self, name: &str) -> Option<Arc<Loaded>> {
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The slot of `name`, loading the plugin on first use.
    fn slot(&self, name: &str) -> Result<Arc<PluginSlot>> {
        // Loads are serialized; a loaded plugin is found without waiting for one.
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = loaded.get(name) {
            return Ok(Arc::clone(&entry.slot));
        }
        let discovered = self
            .catalog()
            .discovered
            .get(name)
            .cloned()
            .ok_or_else(|| no_plugin(name))?;
        let fingerprint = Fingerprint::of(&discovered);
        let started = Instant::now();
        let plugin = Plugin::load(
            discovered.manifest.clone(),
            &discovered.wasm_path,
            &self.config,
        )?;
        tracing::info!(plugin = name, version = %plugin.manifest.version, elapsed_ms = started.elapsed().as_millis() as u64, "plugin loaded");
        let slot = PluginSlot::new(plugin);
        loaded.insert(
            name.to_string(),
            Arc::new(Loaded {
                slot: Arc::clone(&slot),
                fingerprint: Mutex::new(fingerprint),
                reloading: Mutex::new(()),
            }),
        );
        Ok(slot)
    }

    fn reload(&self, name: &str) -> Result<PluginInfo> {
        let discovered = self
            .catalog()
            .discovered
            .get(name)
            .cloned()
            .ok_or_else(|| no_plugin(name))?;
        let manifest_path = discovered.manifest_path();
        let Some(entry) = self.loaded(name) else {
            // Not serving yet: what is on disk now is what the first open loads.
            let manifest = read_manifest(&manifest_path)?;
            if manifest.name != name {
                return Err(refused(
                    &manifest_path,
                    "name",
                    &format!("is '{}', not '{name}'", manifest.name),
                ));
            }
            self.catalog_mut().discovered.insert(
                name.to_string(),
                Discovered {
                    manifest,
                    wasm_path: discovered.wasm_path.clone(),
                },
            );
            self.slot(name)?;
            return self.info(name).ok_or_else(|| no_plugin(name));
        };
        let _one_at_a_time = entry.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let fingerprint = Fingerprint::of(&discovered);
        let manifest = read_manifest(&manifest_path)?;
        let old = entry.slot.current();
        // The successor moves into the old version's home (its spaces, resources and grants):
        // what that home was made for must not change under it.
        if manifest.name != old.manifest.name {
            return Err(refused(
                &manifest_path,
                "name",
                &format!("is '{}', not '{}'", manifest.name, old.manifest.name),
            ));
        }
        if manifest.uri_schemes != old.manifest.uri_schemes {
            return Err(refused(
                &manifest_path,
                "uri-schemes",
                &format!(
                    "is {:?} but the running version serves {:?}; restart the daemon to change a plugin's URI schemes",
                    manifest.uri_schemes, old.manifest.uri_schemes
                ),
            ));
        }
        if manifest.capabilities != old.manifest.capabilities {
            return Err(refused(
                &manifest_path,
                "capabilities",
                "differs from the running version's; restart the daemon to change what a plugin may do",
            ));
        }
        let started = Instant::now();
        let successor = old
            .load_successor(manifest.clone(), &discovered.wasm_path, &self.config)
            .map_err(|error| {
                tracing::warn!(plugin = name, %error, "reload refused; the running version keeps serving");
                let error = Error::from(error);
                Error::new(
                    error.code(),
                    error.domain(),
                    format!(
                        "plugin '{name}' not reloaded from '{}' (the running version keeps serving): {}",
                        discovered.wasm_path.display(),
                        error.message()
                    ),
                )
            })?;
        let loaded_in = started.elapsed();
        let previous = entry.slot.swap(successor);
        *entry.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) = fingerprint;
        self.catalog_mut().discovered.insert(
            name.to_string(),
            Discovered {
                manifest,
                wasm_path: discovered.wasm_path,
            },
        );
        tracing::info!(
            plugin = name,
            from = %previous.metadata.version,
            to = %entry.slot.current().metadata.version,
            generation = entry.slot.generation(),
            load_ms = loaded_in.as_millis() as u64,
            "plugin reloaded"
        );
        drop(previous);
        self.info(name).ok_or_else(|| no_plugin(name))
    }

    fn reload_changed(&self) -> Vec<(String, Result<PluginInfo>)> {
        // Plugins added to the plugin path since.
        let mut found = Vec::new();
        for dir in &self.config.plugin_path {
            found.extend(discover_dir(dir));
        }
        let mut outcomes = Vec::new();
        for discovered in found {
            let Ok(discovered) = discovered else {
                continue;
            };
            let name = discovered.manifest.name.clone();
            let known = self.catalog().discovered.get(&name).cloned();
            match known {
                None => {
                    tracing::info!(plugin = %name, path = %discovered.wasm_path.display(), "plugin discovered");
                    if let Err(problem) = self.catalog_mut().add(discovered) {
                        tracing::warn!(%problem, "skipping plugin");
                    }
                }
                // The first directory holding a name serves it; others are shadowed.
                Some(known) if known.wasm_path != discovered.wasm_path => {}
                Some(known) => match self.loaded(&name) {
                    Some(entry) => {
                        let now = Fingerprint::of(&known);
                        let then = entry
                            .fingerprint
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .clone();
                        if now != then {
                            outcomes.push((name.clone(), self.reload(&name)));
                        }
                    }
                    None => {
                        self.catalog_mut().discovered.insert(name, discovered);
                    }
                },
            }
        }
        outcomes
    }

    fn list(&self) -> Vec<PluginInfo> {
        let names: Vec<String> = self.catalog().discovered.keys().cloned().collect();
        names.iter().filter_map(|name| self.info(name)).collect()
    }

    fn info(&self, name: &str) -> Option<PluginInfo> {
        let discovered = self.catalog().discovered.get(name).cloned()?;
        let serving = self.loaded(name).map(|entry| entry.slot.clone());
        let cached = self.config.compile_cache.as_deref().is_some_and(|dir| {
            std::fs::read(&discovered.wasm_path)
                .is_ok_and(|bytes| crate::plugin::cache_path(&bytes, dir).exists())
        });
        let granted = self.config.grants.for_plugin(name);
        let mut info = PluginInfo {
            name: name.to_string(),
            version: discovered.manifest.version.clone(),
            wit_version: discovered.manifest.wit.clone(),
            uri_schemes: discovered.manifest.uri_schemes.clone(),
            requested: capability_list(&discovered.manifest.capabilities),
            granted: capability_list(&granted),
            loaded: serving.is_some(),
            cached,
            path: discovered.wasm_path.display().to_string(),
            generation: 0,
        };
        if let Some(slot) = serving {
            let plugin = slot.current();
            info.version = plugin.metadata.version.clone();
            info.wit_version = plugin.manifest.wit.clone();
            info.uri_schemes = plugin.metadata.uri_schemes.clone();
            info.requested = capability_list(&plugin.shared().requested);
            info.granted = capability_list(&plugin.shared().granted);
            info.path = plugin.path.display().to_string();
            info.generation = slot.generation();
        }
        Some(info)
    }
}

/// A capability set as the admin API lists it: the manifest's keys, empty kinds left out.
fn capability_list(capabilities: &Capabilities) -> Vec<PluginCapability> {
    [
        ("spawn", &capabilities.spawn),
        ("unix-connect", &capabilities.unix_connect),
        ("files-read", &capabilities.files_read),
        ("files-write", &capabilities.files_write),
        ("net", &capabilities.net),
        ("connect", &capabilities.connect),
        ("credentials", &capabilities.credentials),
    ]
    .into_iter()
    .filter(|(_, patterns)| !patterns.is_empty())
    .map(|(kind, patterns)| PluginCapability {
        kind: kind.to_string(),
        patterns: patterns.clone(),
    })
    .collect()
}

/// The admin calls of an in-process connection: they reach the host that opened it.
pub(crate) fn admin_list(host: &Weak<Plugins>) -> Result<Vec<PluginInfo>> {
    Ok(upgrade(host)?.list())
}

pub(crate) fn admin_reload(host: &Weak<Plugins>, name: &str) -> Result<PluginInfo> {
    upgrade(host)?.reload(name)
}

fn upgrade(host: &Weak<Plugins>) -> Result<Arc<Plugins>> {
    host.upgrade().ok_or_else(|| {
        Error::new(
            ErrorNumber::INVALID_CONN,
            ErrorDomain::NONE,
            "the plugin host serving this connection has shut down",
        )
    })
}

/// The host as a `virt-core` driver.
pub struct HostDriver(pub Arc<Host>);

impl Driver for HostDriver {
    fn name(&self) -> &str {
        "plugins"
    }

    fn open(&self, uri: &ConnectUri, flags: u32) -> Result<Option<Arc<dyn Connection>>> {
        Ok(self
            .0
            .open(uri, flags)?
            .map(|c| Arc::new(c) as Arc<dyn Connection>))
    }
}
