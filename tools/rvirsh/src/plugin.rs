//! rvirt's plugin administration commands (no virsh equivalent): `plugin-list` and
//! `plugin-reload`.
//!
//! Both go through the connection, so they reach whichever host serves it: the plugin host
//! embedded in this process for a local URI, rvirtd's over its admin program for a remote
//! one (`test+unix:///default?socket=...`).

use serde::Serialize;
use virt_core::{PluginCapability, PluginInfo};

use crate::command::{CommandDef, Group, OptDef, JSON_OPT};
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Session};
use crate::table::Table;

#[derive(Serialize)]
struct PluginJson {
    name: String,
    version: String,
    wit_version: String,
    uri_schemes: Vec<String>,
    /// Capability kind → patterns, as the manifest asks.
    requested: serde_json::Map<String, serde_json::Value>,
    /// Capability kind → patterns, as the operator's grants allow.
    granted: serde_json::Map<String, serde_json::Value>,
    loaded: bool,
    cached: bool,
    path: String,
    generation: u32,
}

fn capability_map(capabilities: &[PluginCapability]) -> serde_json::Map<String, serde_json::Value> {
    capabilities
        .iter()
        .map(|cap| (cap.kind.clone(), serde_json::json!(cap.patterns)))
        .collect()
}

impl From<&PluginInfo> for PluginJson {
    fn from(info: &PluginInfo) -> PluginJson {
        PluginJson {
            name: info.name.clone(),
            version: info.version.clone(),
            wit_version: info.wit_version.clone(),
            uri_schemes: info.uri_schemes.clone(),
            requested: capability_map(&info.requested),
            granted: capability_map(&info.granted),
            loaded: info.loaded,
            cached: info.cached,
            path: info.path.clone(),
            generation: info.generation,
        }
    }
}

/// "loaded, cached", "cached", "loaded" or "-".
fn state_text(info: &PluginInfo) -> String {
    match (info.loaded, info.cached) {
        (true, true) => "loaded, cached".into(),
        (true, false) => "loaded".into(),
        (false, true) => "cached".into(),
        (false, false) => "-".into(),
    }
}

/// Per kind, patterns granted / requested: "spawn 1/1, unix-connect 1/1".
fn capabilities_text(info: &PluginInfo) -> String {
    let mut kinds: Vec<&str> = info
        .requested
        .iter()
        .chain(&info.granted)
        .map(|cap| cap.kind.as_str())
        .collect();
    kinds.dedup();
    let mut seen = Vec::new();
    kinds.retain(|kind| {
        let new = !seen.contains(kind);
        seen.push(*kind);
        new
    });
    if kinds.is_empty() {
        return "-".into();
    }
    let count = |list: &[PluginCapability], kind: &str| {
        list.iter()
            .find(|cap| cap.kind == kind)
            .map_or(0, |cap| cap.patterns.len())
    };
    kinds
        .iter()
        .map(|kind| {
            format!(
                "{kind} {}/{}",
                count(&info.granted, kind),
                count(&info.requested, kind)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn cmd_plugin_list(session: &mut Session, args: &Args) -> CmdResult {
    let plugins = session
        .connect()?
        .plugin_list(0)
        .context(|| "failed to list driver plugins".to_string())?;
    if args.flag("json") {
        let json: Vec<PluginJson> = plugins.iter().map(PluginJson::from).collect();
        return session.print_json(&json);
    }
    let mut table = Table::new(&[
        "Name",
        "Version",
        "WIT",
        "Schemes",
        "State",
        "Capabilities (granted/requested)",
    ]);
    for info in &plugins {
        table.row(vec![
            info.name.clone(),
            info.version.clone(),
            info.wit_version.clone(),
            info.uri_schemes.join(","),
            state_text(info),
            capabilities_text(info),
        ]);
    }
    let text = table.render(!session.options.quiet);
    session.print(text);
    if !session.options.quiet {
        session.print("\n");
    }
    Ok(())
}

fn cmd_plugin_reload(session: &mut Session, args: &Args) -> CmdResult {
    let name = args.required("plugin")?.to_string();
    let info = session
        .connect()?
        .plugin_reload(&name, 0)
        .context(|| format!("failed to reload driver plugin '{name}'"))?;
    if args.flag("json") {
        return session.print_json(&PluginJson::from(&info));
    }
    session.print(format!(
        "Driver plugin {} reloaded: version {} (WIT {}), generation {}\n",
        info.name, info.version, info.wit_version, info.generation
    ));
    Ok(())
}

/// The plugin commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "plugin-list",
        group: Group::HostAndHypervisor,
        summary: "list driver plugins (rvirt extension)",
        description: "List the driver plugins of the host serving the connection: version, \
                      WIT version, URI schemes, state (loaded: instantiated by that host; \
                      cached: its compiled artifact is in the compile cache) and capabilities \
                      granted/requested.",
        options: &[JSON_OPT],
        needs_connection: true,
        handler: cmd_plugin_list,
    },
    CommandDef {
        name: "plugin-reload",
        group: Group::HostAndHypervisor,
        summary: "swap a driver plugin for its files on disk (rvirt extension)",
        description: "Load the plugin's component and manifest as they are on disk now and \
                      swap it in under the running host: calls in flight finish on the old \
                      version, new calls go to the new one, guests keep running. A component \
                      that cannot be loaded is refused and the old version keeps serving.",
        options: &[OptDef::positional("plugin", "plugin name"), JSON_OPT],
        needs_connection: true,
        handler: cmd_plugin_reload,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            name: "qemu".into(),
            version: "0.1.0".into(),
            wit_version: "0.1.0".into(),
            uri_schemes: vec!["qemu".into()],
            requested: vec![
                PluginCapability {
                    kind: "spawn".into(),
                    patterns: vec!["/usr/bin/qemu-system-*".into()],
                },
                PluginCapability {
                    kind: "net".into(),
                    patterns: vec!["tap".into(), "bridge".into()],
                },
            ],
            granted: vec![PluginCapability {
                kind: "spawn".into(),
                patterns: vec!["/usr/bin/qemu-system-*".into()],
            }],
            loaded: true,
            cached: true,
            path: "/x/qemu.wasm".into(),
            generation: 2,
        }
    }

    #[test]
    fn state_and_capabilities_columns() {
        assert_eq!(state_text(&info()), "loaded, cached");
        assert_eq!(capabilities_text(&info()), "spawn 1/1, net 0/2");
        let json = serde_json::to_value(PluginJson::from(&info())).expect("json");
        assert_eq!(json["granted"]["spawn"][0], "/usr/bin/qemu-system-*");
        assert_eq!(json["requested"]["net"][1], "bridge");
        assert_eq!(json["generation"], 2);
    }
}
