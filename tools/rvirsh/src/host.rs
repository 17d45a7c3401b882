//! Host and hypervisor commands: `version`, `uri`, `hostname`, `capabilities`, `nodeinfo`,
//! `sysinfo`.

use serde::Serialize;

use crate::command::{CommandDef, Group, OptDef, JSON_OPT};
use crate::grammar::Args;
use crate::session::{CmdResult, Context, Session};

/// "9.0.0" from libvirt's packed version number (major * 1,000,000 + minor * 1,000 + micro).
pub fn version_text(packed: u64) -> String {
    format!(
        "{}.{}.{}",
        packed / 1_000_000,
        (packed % 1_000_000) / 1_000,
        packed % 1_000
    )
}

#[derive(Serialize)]
struct VersionJson {
    /// The libvirt API level rvirsh was built against and uses (virt-core's).
    library: String,
    hypervisor_type: String,
    /// Absent when the driver cannot tell.
    hypervisor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon: Option<String>,
}

fn cmd_version(session: &mut Session, args: &Args) -> CmdResult {
    let conn = session.connect()?;
    let hypervisor_type = conn
        .get_type()
        .context(|| "failed to get hypervisor type".to_string())?;
    // rvirsh is built against virt-core and uses it in-process: both are its API level.
    let library = version_text(virt_core::LIBVIRT_API_VERSION);
    let hypervisor = conn
        .get_version()
        .context(|| "failed to get the hypervisor version".to_string())?;
    let daemon = if args.flag("daemon") {
        match conn.get_lib_version() {
            Ok(version) => Some(version_text(version)),
            Err(_) => {
                session.error("failed to get the daemon version");
                None
            }
        }
    } else {
        None
    };
    if args.flag("json") {
        let json = VersionJson {
            library,
            hypervisor_type,
            hypervisor: (hypervisor != 0).then(|| version_text(hypervisor)),
            daemon,
        };
        return session.print_json(&json);
    }
    let mut text = format!("Compiled against library: libvirt {library}\n");
    text += &format!("Using library: libvirt {library}\n");
    text += &format!("Using API: {hypervisor_type} {library}\n");
    if hypervisor == 0 {
        text += &format!("Cannot extract running {hypervisor_type} hypervisor version\n");
    } else {
        text += &format!(
            "Running hypervisor: {hypervisor_type} {}\n",
            version_text(hypervisor)
        );
    }
    if let Some(daemon) = daemon {
        text += &format!("Running against daemon: {daemon}\n");
    }
    session.print(text);
    Ok(())
}

fn cmd_uri(session: &mut Session, _args: &Args) -> CmdResult {
    let uri = session
        .connect()?
        .get_uri()
        .context(|| "failed to get URI".to_string())?;
    session.print(format!("{uri}\n"));
    Ok(())
}

fn cmd_hostname(session: &mut Session, _args: &Args) -> CmdResult {
    let hostname = session
        .connect()?
        .get_hostname()
        .context(|| "failed to get hostname".to_string())?;
    session.print(format!("{hostname}\n"));
    Ok(())
}

fn cmd_capabilities(session: &mut Session, _args: &Args) -> CmdResult {
    let capabilities = session
        .connect()?
        .get_capabilities()
        .context(|| "failed to get capabilities".to_string())?;
    session.print(format!("{capabilities}\n"));
    Ok(())
}

fn cmd_sysinfo(session: &mut Session, _args: &Args) -> CmdResult {
    let sysinfo = session
        .connect()?
        .get_sysinfo(0)
        .context(|| "failed to get sysinfo".to_string())?;
    session.print(sysinfo);
    Ok(())
}

#[derive(Serialize)]
struct NodeInfoJson {
    model: String,
    cpus: u32,
    mhz: u32,
    sockets: u32,
    cores_per_socket: u32,
    threads_per_core: u32,
    numa_cells: u32,
    memory_kib: u64,
}

fn cmd_nodeinfo(session: &mut Session, args: &Args) -> CmdResult {
    let info = session
        .connect()?
        .node_info()
        .context(|| "failed to get node information".to_string())?;
    if args.flag("json") {
        let json = NodeInfoJson {
            model: info.model,
            cpus: info.cpus,
            mhz: info.mhz,
            sockets: info.sockets,
            cores_per_socket: info.cores,
            threads_per_core: info.threads,
            numa_cells: info.nodes,
            memory_kib: info.memory_kib,
        };
        return session.print_json(&json);
    }
    let line = |label: &str, value: String| format!("{label:<20} {value}\n");
    let mut text = line("CPU model:", info.model);
    text += &line("CPU(s):", info.cpus.to_string());
    if info.mhz != 0 {
        text += &line("CPU frequency:", format!("{} MHz", info.mhz));
    }
    text += &line("CPU socket(s):", info.sockets.to_string());
    text += &line("Core(s) per socket:", info.cores.to_string());
    text += &line("Thread(s) per core:", info.threads.to_string());
    text += &line("NUMA cell(s):", info.nodes.to_string());
    text += &line("Memory size:", format!("{} KiB", info.memory_kib));
    session.print(text);
    Ok(())
}

/// The host commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "capabilities",
        group: Group::HostAndHypervisor,
        summary: "capabilities",
        description: "Print the capabilities of the hypervisor driver as XML.",
        options: &[],
        needs_connection: true,
        handler: cmd_capabilities,
    },
    CommandDef {
        name: "hostname",
        group: Group::HostAndHypervisor,
        summary: "print the hypervisor hostname",
        description: "",
        options: &[],
        needs_connection: true,
        handler: cmd_hostname,
    },
    CommandDef {
        name: "nodeinfo",
        group: Group::HostAndHypervisor,
        summary: "node information",
        description: "Print basic information about the host.",
        options: &[JSON_OPT],
        needs_connection: true,
        handler: cmd_nodeinfo,
    },
    CommandDef {
        name: "sysinfo",
        group: Group::HostAndHypervisor,
        summary: "print the hypervisor sysinfo",
        description: "Print the hypervisor's sysinfo XML, if it has one.",
        options: &[],
        needs_connection: true,
        handler: cmd_sysinfo,
    },
    CommandDef {
        name: "uri",
        group: Group::HostAndHypervisor,
        summary: "print the hypervisor canonical URI",
        description: "",
        options: &[],
        needs_connection: true,
        handler: cmd_uri,
    },
    CommandDef {
        name: "version",
        group: Group::HostAndHypervisor,
        summary: "show version",
        description: "Print the library and hypervisor versions.",
        options: &[
            OptDef::flag("daemon", "report daemon version too"),
            JSON_OPT,
        ],
        needs_connection: true,
        handler: cmd_version,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_versions() {
        assert_eq!(version_text(9_000_000), "9.0.0");
        assert_eq!(version_text(2), "0.0.2");
        assert_eq!(version_text(10_002_003), "10.2.3");
    }
}
