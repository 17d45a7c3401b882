//! Virtual network commands (`net-*`).

use serde::Serialize;
use virt_core::blocking::{Connect, Network};
use virt_core::consts::{connect_list_all_networks_flags as list_flags, network_xml_flags};
use virt_core::ErrorNumber;

use crate::command::{CommandDef, Group, OptDef, JSON_OPT};
use crate::files;
use crate::format::yes_no;
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Failure, Session};
use crate::table::Table;

const NETWORK: OptDef = OptDef::positional("network", "network name or uuid");
const FILE_XML: OptDef = OptDef::positional("file", "file containing an XML network description");

/// Finds the network a user named, by UUID (if it looks like one) then by name. Unlike
/// domains, virsh shows the driver's "not found" under its own line.
fn lookup(conn: &Connect, key: &str, by_uuid: bool, by_name: bool) -> Result<Network, Failure> {
    let mut last_error = None;
    if by_uuid && key.len() == 36 {
        match conn.network_lookup_by_uuid_string(key) {
            Ok(network) => return Ok(network),
            Err(error) => last_error = Some(error),
        }
    }
    if by_name {
        match conn.network_lookup_by_name(key) {
            Ok(network) => return Ok(network),
            Err(error) => last_error = Some(error),
        }
    }
    Err(Failure {
        messages: vec![format!("failed to get network '{key}'")],
        cause: last_error,
    })
}

fn network_option<'a>(
    session: &mut Session,
    args: &'a Args,
) -> Result<(Network, &'a str), Failure> {
    let key = args.required("network")?;
    let conn = session.connect()?;
    Ok((lookup(&conn, key, true, true)?, key))
}

#[derive(Serialize)]
struct NetworkJson {
    name: String,
    uuid: String,
    active: bool,
    persistent: bool,
    autostart: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bridge: Option<String>,
}

fn network_json(network: &Network, with_bridge: bool) -> Result<NetworkJson, Failure> {
    let status = network.status()?;
    Ok(NetworkJson {
        name: network.name().to_string(),
        uuid: network.uuid_string(),
        active: status.active,
        persistent: status.persistent,
        autostart: status.autostart,
        bridge: if with_bridge {
            network.bridge_name().ok()
        } else {
            None
        },
    })
}

fn cmd_net_list(session: &mut Session, args: &Args) -> CmdResult {
    let mut flags = list_flags::ACTIVE;
    if args.flag("inactive") {
        flags = list_flags::INACTIVE;
    }
    if args.flag("all") {
        flags = list_flags::ACTIVE | list_flags::INACTIVE;
    }
    for (name, flag) in [
        ("persistent", list_flags::PERSISTENT),
        ("transient", list_flags::TRANSIENT),
        ("autostart", list_flags::AUTOSTART),
        ("no-autostart", list_flags::NO_AUTOSTART),
    ] {
        if args.flag(name) {
            flags |= flag;
        }
    }
    let (table_mode, name_mode, uuid_mode) =
        (args.flag("table"), args.flag("name"), args.flag("uuid"));
    if usize::from(table_mode) + usize::from(name_mode) + usize::from(uuid_mode) > 1 {
        return Err(Failure::message(
            "Only one argument from --table, --name and --uuid may be specified.",
        ));
    }
    let conn = session.connect()?;
    let mut networks = list_networks(&conn, flags)?;
    networks.sort_by_key(|network| network.name().to_ascii_lowercase());

    if args.flag("json") {
        let entries = networks
            .iter()
            .map(|network| network_json(network, false))
            .collect::<Result<Vec<_>, _>>()?;
        return session.print_json(&entries);
    }
    if uuid_mode || name_mode {
        for network in &networks {
            let line = if uuid_mode {
                network.uuid_string()
            } else {
                network.name().to_string()
            };
            session.print(format!("{line}\n"));
        }
        return Ok(());
    }
    let mut table = Table::new(&["Name", "State", "Autostart", "Persistent"]);
    for network in &networks {
        let status = network.status();
        let autostart = match &status {
            Ok(status) => yes_no(status.autostart),
            Err(_) => "no autostart",
        };
        // virsh treats an unanswered "is active" as true, and so does this.
        let active = status.as_ref().map_or(true, |s| s.active);
        let persistent = status.as_ref().map_or(true, |s| s.persistent);
        table.row(vec![
            network.name().to_string(),
            if active { "active" } else { "inactive" }.to_string(),
            autostart.to_string(),
            yes_no(persistent).to_string(),
        ]);
    }
    let quiet = session.options.quiet;
    session.print(table.render(!quiet));
    Ok(())
}

/// `virConnectListAllNetworks`, falling back to filtering here when the driver rejects the
/// optional filters.
fn list_networks(conn: &Connect, flags: u32) -> Result<Vec<Network>, Failure> {
    let failed = || "Failed to list networks".to_string();
    match conn.list_all_networks(flags) {
        Ok(networks) => Ok(networks),
        Err(error) if error.code() == ErrorNumber::INVALID_ARG => {
            let basic = flags & (list_flags::ACTIVE | list_flags::INACTIVE);
            let mut kept = Vec::new();
            for network in conn.list_all_networks(basic).context(failed)? {
                let status = network.status().context(failed)?;
                let want = |bit: u32| flags & bit != 0;
                let either = |yes: u32, no: u32, value: bool| {
                    !(want(yes) || want(no)) || (want(yes) && value) || (want(no) && !value)
                };
                if either(
                    list_flags::PERSISTENT,
                    list_flags::TRANSIENT,
                    status.persistent,
                ) && either(
                    list_flags::AUTOSTART,
                    list_flags::NO_AUTOSTART,
                    status.autostart,
                ) {
                    kept.push(network);
                }
            }
            Ok(kept)
        }
        Err(error) => Err(error).context(failed),
    }
}

fn cmd_net_info(session: &mut Session, args: &Args) -> CmdResult {
    let (network, _) = network_option(session, args)?;
    if args.flag("json") {
        let json = network_json(&network, true)?;
        return session.print_json(&json);
    }
    let line = |label: &str, value: &str| format!("{label:<15} {value}\n");
    let mut text = line("Name:", network.name());
    text += &line("UUID:", &network.uuid_string());
    match network.status() {
        Ok(status) => {
            text += &line("Active:", yes_no(status.active));
            text += &line("Persistent:", yes_no(status.persistent));
            text += &line("Autostart:", yes_no(status.autostart));
        }
        Err(_) => {
            text += &line("Persistent:", "unknown");
            text += &line("Autostart:", "no autostart");
        }
    }
    if let Ok(bridge) = network.bridge_name() {
        text += &line("Bridge:", &bridge);
    }
    session.print(text);
    Ok(())
}

fn cmd_net_dhcp_leases(session: &mut Session, args: &Args) -> CmdResult {
    let mac = args.string("mac")?;
    let (network, name) = network_option(session, args)?;
    let mut leases = network
        .dhcp_leases(mac, 0)
        .context(|| format!("Failed to get leases info for {name}"))?;
    // As virsh: by MAC address, without regard to case, leases without one last.
    leases.sort_by(|a, b| match (&a.mac, &b.mac) {
        (Some(a), Some(b)) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
        (a, b) => b.is_some().cmp(&a.is_some()),
    });
    let mut table = Table::new(&[
        "Expiry Time",
        "MAC address",
        "Protocol",
        "IP address",
        "Hostname",
        "Client ID or DUID",
    ]);
    let or_minus = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    for lease in &leases {
        let protocol = match lease.kind {
            0 => "ipv4",
            1 => "ipv6",
            _ => "-",
        };
        table.row(vec![
            local_time(lease.expiry_time),
            or_minus(&lease.mac),
            protocol.to_string(),
            format!("{}/{}", lease.address, lease.prefix),
            or_minus(&lease.hostname),
            or_minus(&lease.client_id),
        ]);
    }
    let quiet = session.options.quiet;
    session.print(table.render(!quiet));
    Ok(())
}

/// Seconds since the epoch as virsh prints them: local time, `%Y-%m-%d %H:%M:%S`.
fn local_time(seconds: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(seconds, 0) {
        chrono::LocalResult::Single(time) | chrono::LocalResult::Ambiguous(time, _) => {
            time.format("%Y-%m-%d %H:%M:%S").to_string()
        }
        chrono::LocalResult::None => seconds.to_string(),
    }
}

fn cmd_net_define(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let flags = if args.flag("validate") {
        virt_core::consts::network_define_flags::VALIDATE
    } else {
        0
    };
    let description = files::read_xml(from)?;
    let conn = session.connect()?;
    let network = conn
        .network_define_xml(&description, flags)
        .context(|| format!("Failed to define network from {from}"))?;
    session.print_extra(format!("Network {} defined from {from}\n", network.name()));
    Ok(())
}

fn cmd_net_create(session: &mut Session, args: &Args) -> CmdResult {
    let from = args.required("file")?;
    let flags = if args.flag("validate") {
        virt_core::consts::network_create_flags::VALIDATE
    } else {
        0
    };
    let description = files::read_xml(from)?;
    let conn = session.connect()?;
    let network = conn
        .network_create_xml(&description, flags)
        .context(|| format!("Failed to create network from {from}"))?;
    session.print_extra(format!("Network {} created from {from}\n", network.name()));
    Ok(())
}

fn cmd_net_start(session: &mut Session, args: &Args) -> CmdResult {
    let (network, name) = network_option(session, args)?;
    network
        .create()
        .context(|| format!("Failed to start network {name}"))?;
    session.print_extra(format!("Network {name} started\n"));
    Ok(())
}

fn cmd_net_destroy(session: &mut Session, args: &Args) -> CmdResult {
    let (network, name) = network_option(session, args)?;
    network
        .destroy()
        .context(|| format!("Failed to destroy network {name}"))?;
    session.print_extra(format!("Network {name} destroyed\n"));
    Ok(())
}

fn cmd_net_undefine(session: &mut Session, args: &Args) -> CmdResult {
    let (network, name) = network_option(session, args)?;
    network
        .undefine()
        .context(|| format!("Failed to undefine network {name}"))?;
    session.print_extra(format!("Network {name} has been undefined\n"));
    Ok(())
}

fn cmd_net_dumpxml(session: &mut Session, args: &Args) -> CmdResult {
    let (network, _) = network_option(session, args)?;
    let flags = if args.flag("inactive") {
        network_xml_flags::INACTIVE
    } else {
        0
    };
    let description = network.xml_desc(flags)?;
    session.print(description);
    Ok(())
}

fn cmd_net_autostart(session: &mut Session, args: &Args) -> CmdResult {
    let (network, name) = network_option(session, args)?;
    let enable = !args.flag("disable");
    network.set_autostart(enable).context(|| {
        if enable {
            format!("failed to mark network {name} as autostarted")
        } else {
            format!("failed to unmark network {name} as autostarted")
        }
    })?;
    if enable {
        session.print_extra(format!("Network {name} marked as autostarted\n"));
    } else {
        session.print_extra(format!("Network {name} unmarked as autostarted\n"));
    }
    Ok(())
}

fn cmd_net_name(session: &mut Session, args: &Args) -> CmdResult {
    let key = args.required("network")?;
    let conn = session.connect()?;
    let network = lookup(&conn, key, true, false)?;
    session.print(format!("{}\n", network.name()));
    Ok(())
}

fn cmd_net_uuid(session: &mut Session, args: &Args) -> CmdResult {
    let key = args.required("network")?;
    let conn = session.connect()?;
    let network = lookup(&conn, key, false, true)?;
    session.print(format!("{}\n", network.uuid_string()));
    Ok(())
}

/// The network commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "net-autostart",
        group: Group::Network,
        summary: "autostart a network",
        description: "Configure a network to be started when the host starts.",
        options: &[NETWORK, OptDef::flag("disable", "disable autostarting")],
        needs_connection: true,
        handler: cmd_net_autostart,
    },
    CommandDef {
        name: "net-create",
        group: Group::Network,
        summary: "create a network from an XML file",
        description: "Create and start a transient network.",
        options: &[FILE_XML, OptDef::flag("validate", "validate the XML against the schema")],
        needs_connection: true,
        handler: cmd_net_create,
    },
    CommandDef {
        name: "net-define",
        group: Group::Network,
        summary: "define an inactive persistent virtual network or modify an existing persistent one from an XML file",
        description: "Define or modify a persistent network.",
        options: &[FILE_XML, OptDef::flag("validate", "validate the XML against the schema")],
        needs_connection: true,
        handler: cmd_net_define,
    },
    CommandDef {
        name: "net-destroy",
        group: Group::Network,
        summary: "destroy (stop) a network",
        description: "Stop a network at once.",
        options: &[NETWORK],
        needs_connection: true,
        handler: cmd_net_destroy,
    },
    CommandDef {
        name: "net-dhcp-leases",
        group: Group::Network,
        summary: "print lease info for a given network",
        description: "Print lease info for a given network",
        options: &[NETWORK, OptDef::string("mac", "MAC address")],
        needs_connection: true,
        handler: cmd_net_dhcp_leases,
    },
    CommandDef {
        name: "net-dumpxml",
        group: Group::Network,
        summary: "network information in XML",
        description: "Print the network's XML description.",
        options: &[NETWORK, OptDef::flag("inactive", "show inactive defined XML")],
        needs_connection: true,
        handler: cmd_net_dumpxml,
    },
    CommandDef {
        name: "net-info",
        group: Group::Network,
        summary: "network information",
        description: "Print basic information about the network.",
        options: &[NETWORK, JSON_OPT],
        needs_connection: true,
        handler: cmd_net_info,
    },
    CommandDef {
        name: "net-list",
        group: Group::Network,
        summary: "list networks",
        description: "List networks; active ones only unless asked otherwise.",
        options: &[
            OptDef::flag("inactive", "list inactive networks"),
            OptDef::flag("all", "list inactive & active networks"),
            OptDef::flag("persistent", "list persistent networks"),
            OptDef::flag("transient", "list transient networks"),
            OptDef::flag("autostart", "list networks with autostart enabled"),
            OptDef::flag("no-autostart", "list networks with autostart disabled"),
            OptDef::flag("uuid", "list uuid's only"),
            OptDef::flag("name", "list network names only"),
            OptDef::flag("table", "list table (default)"),
            JSON_OPT,
        ],
        needs_connection: true,
        handler: cmd_net_list,
    },
    CommandDef {
        name: "net-name",
        group: Group::Network,
        summary: "convert a network UUID to network name",
        description: "",
        options: &[OptDef::positional("network", "network uuid")],
        needs_connection: true,
        handler: cmd_net_name,
    },
    CommandDef {
        name: "net-start",
        group: Group::Network,
        summary: "start a (previously defined) inactive network",
        description: "Start a network.",
        options: &[NETWORK],
        needs_connection: true,
        handler: cmd_net_start,
    },
    CommandDef {
        name: "net-undefine",
        group: Group::Network,
        summary: "undefine a persistent network",
        description: "Remove a persistent network's configuration.",
        options: &[NETWORK],
        needs_connection: true,
        handler: cmd_net_undefine,
    },
    CommandDef {
        name: "net-uuid",
        group: Group::Network,
        summary: "convert a network name to network UUID",
        description: "",
        options: &[NETWORK],
        needs_connection: true,
        handler: cmd_net_uuid,
    },
];
