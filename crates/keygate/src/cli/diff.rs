//! `keygate diff -f FILE [--prune] [--exit-code]`: what `keygate apply` would change on
//! the gateway, entity by entity, as decK's `diff` shows it — and nothing is changed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::apply::{plan_against, plan_json, read_file, Document, Plan};
use super::client::{finish, AdminArgs, AdminClient, CliError};
use super::output::{print_json, Format};

/// Exit status of `--exit-code` when the gateway differs from the file (1 is an error).
const DIFFERS: u8 = 2;

/// `keygate diff …`
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// The YAML file, as for `keygate apply`.
    #[arg(short = 'f', long = "file")]
    pub file: PathBuf,
    /// Show the deletions `keygate apply --prune` would make too.
    #[arg(long)]
    pub prune: bool,
    /// Exit with status 2 when there are changes (as `git diff --exit-code`), 0 when none.
    #[arg(long)]
    pub exit_code: bool,
}

/// Runs `keygate diff`.
pub fn run(args: DiffArgs) -> ExitCode {
    let desired = match read_file(&args.file, "diff") {
        Ok(desired) => desired,
        Err(code) => return code,
    };
    let mut differs = false;
    let outcome = show(&args, &desired).map(|changes| differs = changes > 0);
    if outcome.is_ok() && differs && args.exit_code {
        return ExitCode::from(DIFFERS);
    }
    finish(outcome)
}

/// Prints the plan; returns how many changes it has.
fn show(args: &DiffArgs, desired: &Document) -> Result<usize, CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let plan = plan_against(&client, desired, args.prune)?;
    match args.admin.output {
        Format::Json => print_json(&plan_json(&plan)),
        Format::Table => out!("{}", render(&plan)),
    }
    Ok(plan.changes.len())
}

/// decK's layout: `creating KIND NAME`, `updating KIND NAME (fields)` with a `- field:
/// on the gateway` and a `+ field: in the file` line (compact JSON) per field, `deleting
/// KIND NAME`, then a summary.
fn render(plan: &Plan) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let verb = match change.action {
            "create" => "creating",
            "update" => "updating",
            _ => "deleting",
        };
        out.push_str(&format!("{verb} {} {}", change.kind, change.name));
        if !change.fields.is_empty() {
            out.push_str(&format!(" ({})", change.fields.join(", ")));
        }
        out.push('\n');
        for difference in &change.differences {
            let field = &difference.field;
            out.push_str(&format!("  - {field}: {}\n", difference.from));
            out.push_str(&format!("  + {field}: {}\n", difference.to));
        }
    }
    let [created, updated, deleted] = ["create", "update", "delete"].map(|a| plan.count(a));
    out.push_str(&format!(
        "Summary:\n  Created: {created}\n  Updated: {updated}\n  Deleted: {deleted}\n  Unchanged: {}\n",
        plan.unchanged
    ));
    out
}
