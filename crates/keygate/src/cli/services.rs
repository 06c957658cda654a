//! `keygate services list|get|put|delete|health`: services with their routes through the
//! admin API, in the configuration file's shape, and the health of their targets.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{cell, print_json, Format, Table};

/// `keygate services …`
#[derive(Debug, Args)]
pub struct ServicesArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: ServicesCommand,
}

/// The service subcommands.
#[derive(Debug, Subcommand)]
pub enum ServicesCommand {
    /// List every service.
    List,
    /// Show one service, in the configuration file's shape (JSON).
    Get {
        /// Service name.
        name: String,
    },
    /// Create or replace a service from a file holding one service in the configuration
    /// file's shape, YAML or JSON (its `name`, when given, must be NAME).
    Put {
        /// Service name.
        name: String,
        /// The file.
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// Delete a service (refused while it has subscriptions).
    Delete {
        /// Service name.
        name: String,
    },
    /// Show the health of a service's targets on the gateway asked: up or down, and
    /// whether active checks or passive failures hold a down one down.
    Health {
        /// Service name.
        name: String,
    },
}

/// Runs `keygate services …`.
pub fn run(args: ServicesArgs) -> ExitCode {
    finish(execute(args))
}

fn execute(args: ServicesArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        ServicesCommand::List => {
            let services = client.list("/v1/services", "")?;
            match format {
                Format::Json => print_json(&Value::Array(services)),
                Format::Table => {
                    let health: Vec<Option<Value>> = services
                        .iter()
                        .map(|service| {
                            let name = service["name"].as_str().unwrap_or_default();
                            client.find(&health_path(name)).ok().flatten()
                        })
                        .collect();
                    table(&services, &health).print();
                }
            }
        }
        ServicesCommand::Health { name } => {
            let health = client.get(&health_path(&name))?;
            match format {
                Format::Json => print_json(&health),
                Format::Table => health_table(&health).print(),
            }
        }
        // A service is a nested document: JSON is how it reads best in either format.
        ServicesCommand::Get { name } => print_json(&client.get(&service_path(&name))?),
        ServicesCommand::Put { name, file } => {
            let document = read_document(&file)?;
            let reply = client.call(Method::PUT, &service_path(&name), Some(&document))?;
            match format {
                Format::Json => print_json(&reply.body),
                Format::Table if reply.status == 201 => outln!("service {name} created"),
                Format::Table => outln!("service {name} replaced"),
            }
        }
        ServicesCommand::Delete { name } => {
            client.call(Method::DELETE, &service_path(&name), None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": name})),
                Format::Table => outln!("service {name} deleted"),
            }
        }
    }
    Ok(())
}

/// `/v1/services/NAME`.
fn service_path(name: &str) -> String {
    format!("/v1/services/{}", encode(name))
}

/// `/v1/services/NAME/health`.
fn health_path(name: &str) -> String {
    format!("/v1/services/{}/health", encode(name))
}

/// One service read from a YAML or JSON file (JSON is YAML too).
fn read_document(file: &PathBuf) -> Result<Value, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| CliError::Failed(format!("cannot read {}: {error}", file.display())))?;
    let document: Value = serde_saphyr::from_str(&text)
        .map_err(|error| CliError::Failed(format!("{}: {error}", file.display())))?;
    if !document.is_object() {
        return Err(CliError::Failed(format!(
            "{}: expected one service (a mapping with upstream and routes)",
            file.display()
        )));
    }
    Ok(document)
}

/// Services as a table: NAME, HOSTS, PREFIX, ROUTES, ORIGIN, and TARGETS UP from each
/// service's `health` (`-` when it could not be read).
fn table(services: &[Value], health: &[Option<Value>]) -> Table {
    let mut table = Table::new(&["NAME", "HOSTS", "PREFIX", "ROUTES", "ORIGIN", "TARGETS UP"]);
    for (service, health) in services.iter().zip(health) {
        let routes = service["routes"].as_array().map_or(0, Vec::len);
        table.row(vec![
            cell(&service["name"]),
            cell(&service["hosts"]),
            cell(&service["path_prefix"]),
            routes.to_string(),
            cell(&service["origin"]),
            health.as_ref().map_or_else(|| "-".to_owned(), targets_up),
        ]);
    }
    table
}

/// `up/all`, with `checked` when the service has active health checks.
fn targets_up(health: &Value) -> String {
    let all = health["targets"].as_array().map_or(0, Vec::len);
    let up = health["healthy_targets"].as_u64().unwrap_or(0);
    match health["health_check"].as_bool() {
        Some(true) => format!("{up}/{all} (checked)"),
        _ => format!("{up}/{all}"),
    }
}

/// A service's targets as a table: TARGET, STATE, DOWN BY, CHECKS, LAST CHECK, IN A ROW,
/// SINCE.
fn health_table(health: &Value) -> Table {
    let mut table = Table::new(&[
        "TARGET",
        "STATE",
        "DOWN BY",
        "LAST CHECK",
        "IN A ROW",
        "SINCE",
    ]);
    let empty = Vec::new();
    for target in health["targets"].as_array().unwrap_or(&empty) {
        let active = &target["active"];
        let last = &active["last_check"];
        let last_check = match (last["result"].as_str(), last["status"].as_u64()) {
            (Some(result), Some(status)) => format!("{result} ({status})"),
            (Some(result), None) => result.to_owned(),
            (None, _) if active.is_null() => "not checked".to_owned(),
            (None, _) => "none yet".to_owned(),
        };
        let in_a_row = if active.is_null() {
            "-".to_owned()
        } else {
            format!(
                "{} ok, {} failed, {} timed out",
                active["consecutive_successes"],
                active["consecutive_failures"],
                active["consecutive_timeouts"]
            )
        };
        table.row(vec![
            cell(&target["target"]),
            cell(&target["state"]),
            cell(&target["source"]),
            last_check,
            in_a_row,
            cell(&active["since"]),
        ]);
    }
    table
}
