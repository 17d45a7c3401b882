//! The host: finds plugins on the plugin path, loads each the first time one of its URI
//! schemes is opened, and serves connections as a `virt_core::driver::Driver`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use virt_core::driver::{Connection, Driver};
use virt_core::{ConnectUri, Error, Result};

use crate::config::HostConfig;
use crate::connection::PluginConnection;
use crate::error::LoadError;
use crate::manifest::Manifest;
use crate::plugin::Plugin;

/// A plugin found on the plugin path (not loaded yet).
#[derive(Clone, Debug)]
pub struct Discovered {
    pub manifest: Manifest,
    pub wasm_path: PathBuf,
}

/// Plugins by name and scheme, loaded on first use.
pub struct Host {
    config: HostConfig,
    by_scheme: BTreeMap<String, String>,
    discovered: BTreeMap<String, Discovered>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Connections opened by [`Host::open_at_start`], kept for the host's lifetime.
    kept_open: Mutex<Vec<PluginConnection>>,
    /// Manifests that could not be read, kept for diagnostics.
    pub problems: Vec<String>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("plugins", &self.discovered.keys().collect::<Vec<_>>())
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
            by_scheme: BTreeMap::new(),
            discovered: BTreeMap::new(),
            loaded: Mutex::new(HashMap::new()),
            kept_open: Mutex::new(Vec::new()),
            problems: Vec::new(),
            config,
        };
        for dir in host.config.plugin_path.clone() {
            host.discover_dir(&dir);
        }
        host
    }

    fn discover_dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut manifests: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
            .collect();
        manifests.sort();
        for manifest_path in manifests {
            let wasm_path = manifest_path.with_extension("wasm");
            if !wasm_path.exists() {
                continue;
            }
            let manifest = std::fs::read_to_string(&manifest_path)
                .map_err(|source| LoadError::Io {
                    path: manifest_path.clone(),
                    source,
                })
                .and_then(|text| Manifest::parse(&text, &manifest_path));
            match manifest {
                Ok(manifest) => self.add(Discovered {
                    manifest,
                    wasm_path,
                }),
                Err(error) => {
                    tracing::warn!(%error, "skipping plugin");
                    self.problems.push(error.to_string());
                }
            }
        }
    }

    /// Adds a plugin; one found earlier under the same name or scheme keeps precedence.
    pub fn add(&mut self, plugin: Discovered) {
        let name = plugin.manifest.name.clone();
        if self.discovered.contains_key(&name) {
            return;
        }
        for scheme in &plugin.manifest.uri_schemes {
            self.by_scheme
                .entry(scheme.clone())
                .or_insert_with(|| name.clone());
        }
        self.discovered.insert(name, plugin);
    }

    /// The plugins found, by name.
    pub fn discovered(&self) -> impl Iterator<Item = &Discovered> {
        self.discovered.values()
    }

    pub fn config(&self) -> &HostConfig {
        &self.config
    }

    /// The plugin named `name`, loading it on first use.
    pub fn plugin(&self, name: &str) -> Result<Arc<Plugin>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(plugin) = loaded.get(name) {
            return Ok(Arc::clone(plugin));
        }
        let discovered = self.discovered.get(name).ok_or_else(|| {
            Error::new(
                virt_core::ErrorNumber::NO_CONNECT,
                virt_core::ErrorDomain::NONE,
                format!("no driver plugin named '{name}'"),
            )
        })?;
        let started = std::time::Instant::now();
        let plugin = Plugin::load(
            discovered.manifest.clone(),
            &discovered.wasm_path,
            &self.config,
        )?;
        tracing::info!(plugin = name, version = %plugin.manifest.version, elapsed_ms = started.elapsed().as_millis() as u64, "plugin loaded");
        loaded.insert(name.to_string(), Arc::clone(&plugin));
        Ok(plugin)
    }

    /// The plugin serving `scheme`, if any.
    pub fn plugin_for_scheme(&self, scheme: &str) -> Result<Option<Arc<Plugin>>> {
        match self.by_scheme.get(scheme) {
            Some(name) => self.plugin(name).map(Some),
            None => Ok(None),
        }
    }

    /// Opens every `open-at-start` URI of every discovered plugin and keeps the connections,
    /// so drivers reattach to running guests and start autostart ones when a daemon starts.
    /// Returns each URI with the outcome; one failing driver does not stop the others.
    pub fn open_at_start(&self) -> Vec<(String, Result<()>)> {
        let uris: Vec<String> = self
            .discovered
            .values()
            .flat_map(|d| d.manifest.open_at_start.clone())
            .collect();
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
                            virt_core::ErrorNumber::NO_CONNECT,
                            virt_core::ErrorDomain::NONE,
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

    /// Opens `uri` in this process, or `None` if no plugin serves its scheme (or it names a
    /// remote host or transport).
    pub fn open(&self, uri: &ConnectUri, flags: u32) -> Result<Option<PluginConnection>> {
        if uri.is_remote() {
            return Ok(None);
        }
        let Some(plugin) = self.plugin_for_scheme(&uri.driver)? else {
            return Ok(None);
        };
        PluginConnection::open(plugin, uri.as_str(), flags).map(Some)
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
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
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
