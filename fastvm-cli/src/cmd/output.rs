//! Printing results: the wire JSON (`--json`) or plain aligned tables.

use std::io::Write as _;

use serde::Serialize;

use super::{CliError, Result};

/// Prints `value` as pretty JSON on stdout (its wire form: the generated types serialize with
/// the API's field names).
pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Other(format!("encoding JSON: {e}")))?;
    print_out(&text);
    Ok(())
}

/// Writes a line to stdout, ignoring a closed pipe (`fastvm vm ls | head -1` is not an error).
pub fn print_out(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// A table printed as left-aligned columns separated by two spaces, headers in capitals, no
/// borders (as the Python CLI's `tabulate` "plain" format), laid out by `comfy-table`.
pub struct Table {
    table: comfy_table::Table,
    columns: usize,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Self {
        let mut table = comfy_table::Table::new();
        table
            .load_style(comfy_table::presets::NOTHING)
            // Never wrapped to a terminal's width: a line per row, for `grep` and `awk`.
            .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
            .set_header(headers.iter().copied());
        // Two spaces between columns (one each side), none before the first or after the last.
        let last = headers.len().saturating_sub(1);
        for (i, column) in table.column_iter_mut().enumerate() {
            column.set_padding((u16::from(i > 0), u16::from(i < last)));
        }
        Table {
            table,
            columns: headers.len(),
        }
    }

    /// Adds a row (one cell per header).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns);
        self.table.add_row(cells.iter().map(|c| display_cell(c).into_owned()));
    }

    /// The table as text, one line per row, no trailing spaces.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for line in self.table.lines() {
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }

    /// Prints the table on stdout.
    pub fn print(&self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(self.render().as_bytes());
    }
}

/// `text` with its control characters replaced by `?`: server text (a VM name) inside a
/// message or a question must not move the terminal's cursor either.
pub fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Control characters from the server (a VM name, say) must not move the terminal's cursor.
fn display_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.is_empty() {
        return "-".into();
    }
    if cell.chars().any(char::is_control) {
        return cell
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into();
    }
    cell.into()
}

/// Prints `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$}  {}", display_cell(v));
    }
}

/// A timestamp in the compact, sortable form used in tables.
/// A time as `YYYY-MM-DD HH:MM:SSZ`, or `-` when the answer left it out.
pub fn time(t: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    match t {
        Some(t) => t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_marks_empty_cells() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["a".into(), "first".into()]);
        t.row(vec!["long-id".into(), "".into()]);
        assert_eq!(t.render(), "ID       NAME\na        first\nlong-id  -\n");
    }

    #[test]
    fn wide_characters_and_long_cells_keep_columns_aligned() {
        let mut t = Table::new(&["NAME", "STATUS"]);
        t.row(vec!["日本語".into(), "running".into()]);
        t.row(vec!["x".repeat(150), "paused".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "never wrapped:\n{text}");
        // 日本語 is six columns wide: STATUS starts after the widest NAME plus two spaces.
        assert_eq!(lines[1], format!("日本語{}running", " ".repeat(150 - 6 + 2)));
    }

    #[test]
    fn table_neutralizes_control_characters() {
        let mut t = Table::new(&["NAME"]);
        t.row(vec!["evil\x1b[2Jname".into()]);
        assert!(!t.render().contains('\x1b'));
    }
}
