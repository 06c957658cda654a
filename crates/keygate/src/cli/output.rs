//! How the admin commands print — aligned tables and `name: value` blocks for people,
//! pretty JSON for scripts — and `keygate export`, which prints everything the gateway
//! holds as YAML or JSON, with key hashes and never plaintext.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::Value;

use super::client::{finish, AdminClient, CliError, Connection};

/// Writes command output to standard output. When the reader has gone away (`keygate
/// keys list | head -n 3`), the command ends there, quietly and successfully, as other
/// Unix tools do — `print!` would panic. Any other write error ends it with status 1.
pub fn write_out(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("keygate: cannot write the output: {error}");
        std::process::exit(1);
    }
}

/// `--output` of the admin commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// Pretty-printed JSON.
    Json,
}

/// A table with a header row; columns are as wide as their widest cell.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, ending with a newline.
    pub fn render(&self) -> String {
        let count = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, width) in widths.iter().enumerate() {
                let cell = cells.get(index).map_or("", String::as_str);
                line.push_str(cell);
                if index + 1 < count {
                    let pad = width.saturating_sub(cell.chars().count()) + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table on stdout.
    pub fn print(&self) {
        out!("{}", self.render());
    }
}

/// `name: value` lines with the values aligned, ending with a newline.
pub fn details(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(name, _)| name.len() + 1)
        .max()
        .unwrap_or(0);
    pairs
        .iter()
        .map(|(name, value)| {
            let label = format!("{name}:");
            // A value of several lines (a rejection's reason) stays in its column.
            let value = value.replace('\n', &format!("\n{:width$}  ", ""));
            let line = format!("{label:width$}  {value}");
            line.trim_end().to_owned() + "\n"
        })
        .collect()
}

/// A JSON value as a table cell: `-` for null or empty, lists joined with commas, maps as
/// `k=v` pairs.
pub fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(","),
        Value::Object(fields) => fields
            .iter()
            .map(|(name, value)| format!("{name}={}", cell(value)))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => outln!("{text}"),
        Err(_) => outln!("{value}"),
    }
}

/// `keygate export …`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where the admin API is.
    #[command(flatten)]
    pub connection: Connection,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Yaml)]
    pub output: ExportFormat,
}

/// `--output` of `keygate export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// YAML, ready for `keygate apply`.
    Yaml,
    /// JSON.
    Json,
}

/// The comment `keygate export` puts on top of its YAML: what the file is and what takes
/// it. The same on every gateway, so two exports of the same entities are identical.
const EXPORT_HEADER: &str = "\
# keygate export: consumers, keys (hashes only), services with their plans, subscriptions.
# Check it with `keygate validate FILE`; start a gateway from it with `keygate serve -c FILE`
# (add `proxy:`, `admin:`, `store:` as needed); compare and load it with `keygate diff -f FILE`
# and `keygate apply -f FILE`.
";

/// Runs `keygate export`.
pub fn export(args: ExportArgs) -> ExitCode {
    finish(print_export(&args))
}

fn print_export(args: &ExportArgs) -> Result<(), CliError> {
    let document = AdminClient::new(&args.connection)?.get("/v1/export")?;
    match args.output {
        ExportFormat::Json => print_json(&document),
        ExportFormat::Yaml => {
            let text = serde_saphyr::to_string(&document)
                .map_err(|error| CliError::Failed(format!("cannot write YAML: {error}")))?;
            out!("{EXPORT_HEADER}{text}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut table = Table::new(&["ID", "NAME"]);
        table.row(vec!["a-long-id".into(), "x".into()]);
        table.row(vec!["b".into(), String::new()]);
        assert_eq!(table.render(), "ID         NAME\na-long-id  x\nb\n");
    }

    #[test]
    fn cells_flatten_json() {
        assert_eq!(cell(&Value::Null), "-");
        assert_eq!(cell(&json!(["a", "b"])), "a,b");
        assert_eq!(cell(&json!({"env": "prod"})), "env=prod");
        assert_eq!(cell(&json!(true)), "true");
    }

    #[test]
    fn details_are_aligned() {
        let text = details(&[("name", "a".into()), ("client type", "A".into())]);
        assert_eq!(text, "name:         a\nclient type:  A\n");
        let text = details(&[("status", "rejected".into()), ("reason", "one\ntwo".into())]);
        assert_eq!(text, "status:  rejected\nreason:  one\n         two\n");
    }
}
