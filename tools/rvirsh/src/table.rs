//! virsh's tables (`list`, `net-list`, `pool-list`, `vol-list`): a header, a dashed rule,
//! and left-aligned columns.
//!
//! Layout, as virsh prints it: every cell is preceded by one space; every column but the last
//! is padded to its widest cell plus two spaces; the rule has (width + 3) dashes per column.
//! With `--quiet` the header and rule are left out and do not count towards the widths.
//! Control characters are shown as `\xNN` so that they cannot break the columns.

/// A table under construction.
#[derive(Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have as many cells as the header.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// The table as text, with or without its header.
    pub fn render(&self, with_header: bool) -> String {
        let encode = |cells: &[String]| -> Vec<(String, usize)> {
            cells.iter().map(|c| safe_encode(c)).collect()
        };
        let header = encode(&self.header);
        let rows: Vec<Vec<(String, usize)>> = self.rows.iter().map(|row| encode(row)).collect();
        let mut widths = vec![0usize; header.len()];
        let counted = with_header
            .then_some(&header)
            .into_iter()
            .chain(rows.iter());
        for row in counted {
            for (col, (_, width)) in row.iter().enumerate() {
                if let Some(max) = widths.get_mut(col) {
                    *max = (*max).max(*width);
                }
            }
        }
        let mut out = String::new();
        if with_header {
            render_row(&mut out, &header, &widths);
            for width in &widths {
                out.push_str(&"-".repeat(width + 3));
            }
            out.push('\n');
        }
        for row in &rows {
            render_row(&mut out, row, &widths);
        }
        out
    }
}

fn render_row(out: &mut String, cells: &[(String, usize)], widths: &[usize]) {
    for (col, (text, width)) in cells.iter().enumerate() {
        out.push(' ');
        out.push_str(text);
        if col + 1 < cells.len() {
            let pad = widths.get(col).copied().unwrap_or(0).saturating_sub(*width) + 2;
            out.push_str(&" ".repeat(pad));
        }
    }
    out.push('\n');
}

/// The cell as printed and its width in columns: control characters (and a literal `\x`,
/// which would read as one) become `\xNN`.
fn safe_encode(cell: &str) -> (String, usize) {
    let mut text = String::with_capacity(cell.len());
    let mut width = 0;
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_control() || (c == '\\' && chars.peek() == Some(&'x')) {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                text.push_str(&format!("\\x{byte:02x}"));
                width += 4;
            }
        } else {
            text.push(c);
            width += 1;
        }
    }
    (text, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_list_layout() {
        let mut table = Table::new(&["Id", "Name", "State"]);
        table.row(vec!["1".into(), "test".into(), "running".into()]);
        assert_eq!(
            table.render(true),
            " Id   Name   State\n----------------------\n 1    test   running\n"
        );
        assert_eq!(table.render(false), " 1   test   running\n");
    }

    #[test]
    fn empty_table_keeps_its_header() {
        let table = Table::new(&["Name", "Path"]);
        assert_eq!(table.render(true), " Name   Path\n--------------\n");
        assert_eq!(table.render(false), "");
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut table = Table::new(&["Name"]);
        table.row(vec!["a\tb".into()]);
        assert_eq!(table.render(true), " Name\n---------\n a\\x09b\n");
    }
}
