//! Guest NUMA distances as libvirt understands a domain's `<distances>`: a sibling given
//! for one cell also sets the reverse distance when that one was not given, a cell's own
//! distance is 10, and anything left unset is 10 to itself and 20 to the others.

use virt_xml::domain::Domain;

/// ACPI's distance of a node to itself.
pub const LOCAL_DISTANCE: u32 = 10;
/// ACPI's default distance between two nodes.
pub const REMOTE_DISTANCE: u32 = 20;

/// The distance matrix of a domain's NUMA cells (empty without cells).
pub fn distance_matrix(domain: &Domain) -> Vec<Vec<u32>> {
    let Some(cells) = domain
        .cpu
        .as_ref()
        .and_then(|cpu| cpu.numa.as_ref())
        .map(|numa| &numa.cells)
    else {
        return Vec::new();
    };
    let n_cells = cells.len();
    // `None` until a sibling names the node; then 0 for "not given".
    let mut given: Vec<Option<Vec<u32>>> = vec![None; n_cells];
    for (position, cell) in cells.iter().enumerate() {
        let current = cell.id.map_or(position, |id| id as usize);
        if current >= n_cells {
            continue;
        }
        let siblings = cell.distances.iter().flat_map(|d| &d.siblings);
        for sibling in siblings {
            let (Some(id), Some(value)) = (sibling.id, sibling.value) else {
                continue;
            };
            let id = id as usize;
            if id >= n_cells {
                continue;
            }
            let local = given[current].get_or_insert_with(|| {
                let mut row = vec![0; n_cells];
                row[current] = LOCAL_DISTANCE;
                row
            });
            local[id] = value;
            let remote = given[id].get_or_insert_with(|| {
                let mut row = vec![0; n_cells];
                row[id] = LOCAL_DISTANCE;
                row
            });
            if remote[current] == 0 {
                remote[current] = value;
            }
        }
    }
    (0..n_cells)
        .map(|node| {
            (0..n_cells)
                .map(|other| match given[node].as_ref().map(|row| row[other]) {
                    Some(value) if value != 0 => value,
                    _ if node == other => LOCAL_DISTANCE,
                    _ => REMOTE_DISTANCE,
                })
                .collect()
        })
        .collect()
}
