//! `keygate services list|get|put|delete`: services with their routes through the admin
//! API, in the configuration file's shape.

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
                Format::Table => table(&services).print(),
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

/// Services as a table: NAME, HOSTS, PREFIX, ROUTES, ORIGIN.
fn table(services: &[Value]) -> Table {
    let mut table = Table::new(&["NAME", "HOSTS", "PREFIX", "ROUTES", "ORIGIN"]);
    for service in services {
        let routes = service["routes"].as_array().map_or(0, Vec::len);
        table.row(vec![
            cell(&service["name"]),
            cell(&service["hosts"]),
            cell(&service["path_prefix"]),
            routes.to_string(),
            cell(&service["origin"]),
        ]);
    }
    table
}
