//! Opening connections and the node-level calls: which space a URI binds to, the host's
//! name, the made-up node facts and capabilities of libvirt's test driver.

use virt_core::consts::connect_flags;
use virt_core::{ErrorNumber, Result};
use virt_plugin_sdk::types::{NodeInfo, TypedParam, TypedValue};

use crate::error;
use crate::node;
use crate::space::Space;

/// `virConnectGetVersion` of the test driver: 0.0.2.
pub(crate) const HYPERVISOR_VERSION: u64 = 2;

/// What a `test://` URI asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `test:///default`: the node shared by every connection of the process.
    Default,
    /// `test:///ABSOLUTE/PATH.xml`: a node document, private to the connection.
    File(String),
}

/// `testConnectOpen`: the path of the URI decides.
pub(crate) fn target(uri: &str, flags: u32) -> Result<Target> {
    error::check_flags(flags, connect_flags::RO, "testConnectOpen")?;
    let parsed = virt_core::ConnectUri::parse(uri)?;
    match parsed.path.as_str() {
        "" | "/" => Err(error::invalid_arg(
            "testOpen: supply a path or use test:///default",
        )),
        "/default" => Ok(Target::Default),
        path => Ok(Target::File(path.to_string())),
    }
}

/// Fills a space that was just created for `target`.
pub(crate) fn populate(space: &dyn Space, target: &Target) -> Result<()> {
    match target {
        Target::Default => node::populate_default(space),
        Target::File(path) => node::populate_from_file(space, path),
    }
}

/// `virConnectGetHostname`: the host's name, as `gethostname` gives it.
pub(crate) fn hostname(space: &dyn Space) -> Result<String> {
    let bytes = space
        .read_file("/proc/sys/kernel/hostname")
        .or_else(|_| space.read_file("/etc/hostname"))
        .map_err(|e| {
            error::test(
                ErrorNumber::SYSTEM_ERROR,
                format!("Cannot get hostname: {}", e.message()),
            )
        })?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// `virNodeGetInfo`.
pub(crate) fn node_info(space: &dyn Space) -> Result<NodeInfo> {
    let node = node::get(space)?;
    Ok(NodeInfo {
        model: node.model,
        memory_kib: node.memory_kib,
        cpus: node.cpus,
        mhz: node.mhz,
        nodes: node.nodes,
        sockets: node.sockets,
        cores: node.cores,
        threads: node.threads,
    })
}

/// `virNodeGetFreeMemory`: the cells' free memory, summed (the test driver's numbers).
pub(crate) fn free_memory(space: &dyn Space) -> Result<u64> {
    Ok(node::get(space)?
        .cells
        .iter()
        .map(|cell| cell.free_kib)
        .sum())
}

/// `virNodeGetCellsFreeMemory`: the test driver answers each cell's size.
pub(crate) fn cells_free_memory(
    space: &dyn Space,
    start_cell: i32,
    max_cells: i32,
) -> Result<Vec<u64>> {
    let cells = node::get(space)?.cells;
    if start_cell < 0 || start_cell as usize >= cells.len() {
        return Err(error::invalid_arg("Range exceeds available cells"));
    }
    Ok(cells
        .iter()
        .skip(start_cell as usize)
        .take(max_cells.max(0) as usize)
        .map(|cell| cell.memory_kib)
        .collect())
}

/// `virNodeGetCPUStats`: constant counters.
pub(crate) fn cpu_stats(_space: &dyn Space, _cpu: i32, flags: u32) -> Result<Vec<TypedParam>> {
    error::check_flags(flags, 0, "testNodeGetCPUStats")?;
    let param = |field: &str, value: u64| TypedParam {
        field: field.to_string(),
        value: TypedValue::Ullong(value),
    };
    Ok(vec![
        param("user", 9797400000),
        param("kernel", 34678723400000),
        param("idle", 87264900000),
        param("iowait", 763600000),
    ])
}

/// `virConnectGetSysinfo`.
pub(crate) fn sysinfo(flags: u32) -> Result<String> {
    error::check_flags(flags, 0, "testConnectGetSysinfo")?;
    Ok("<sysinfo type='smbios'>\n  <bios>\n    <entry name='vendor'>LENOVO</entry>\n    \
        <entry name='version'>G4ETA1WW (2.61 )</entry>\n    <entry name='date'>05/07/2014</entry>\n    \
        <entry name='release'>2.61</entry>\n  </bios>\n</sysinfo>\n"
        .to_string())
}

/// `virConnectGetCapabilities`.
pub(crate) fn capabilities(space: &dyn Space) -> Result<String> {
    let node = node::get(space)?;
    crate::capabilities::format(&node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths() {
        assert_eq!(target("test:///default", 0), Ok(Target::Default));
        assert_eq!(
            target("test:///tmp/node.xml", 1),
            Ok(Target::File("/tmp/node.xml".into()))
        );
        let error = target("test:///", 0).expect_err("no path");
        assert_eq!(error.code(), ErrorNumber::INVALID_ARG);
        assert_eq!(
            error.message(),
            "invalid argument: testOpen: supply a path or use test:///default"
        );
        assert_eq!(
            target("test:///default", 2).expect_err("flag").code(),
            ErrorNumber::INVALID_ARG
        );
    }
}
