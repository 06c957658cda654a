//! `keygate accounts create|list|update|delete|password`, `keygate tokens
//! create|list|revoke` and `keygate audit`: the people of the admin API, their scoped
//! tokens and the audit log, through the admin API (admins only). Passwords are read
//! from standard input (one line), never from the command line, where other users of the
//! machine could see them.

use std::io::BufRead;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::client::{encode, finish, AdminArgs, AdminClient, CliError};
use super::output::{cell, details, print_json, Format, Table};

/// `keygate accounts …`
#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: AccountsCommand,
}

/// The account subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account; with --password-stdin, its password is the first line of stdin.
    Create {
        /// Account name: letters, digits, `.`, `_` and `-`.
        name: String,
        /// `admin`, `publisher` or `owner`.
        #[arg(long)]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List every account.
    List,
    /// Change an account's role, or disable or enable it (ends its sessions).
    Update {
        /// Account name.
        name: String,
        /// `admin`, `publisher` or `owner`.
        #[arg(long)]
        role: Option<String>,
        /// Disable the account: no sign-in, its tokens and sessions stop working.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable a disabled account.
        #[arg(long)]
        enable: bool,
    },
    /// Delete an account and its tokens (it must own no consumers or services).
    Delete {
        /// Account name.
        name: String,
    },
    /// Set an account's password from the first line of standard input (ends its
    /// sessions).
    Password {
        /// Account name.
        name: String,
    },
}

/// `keygate tokens …`
#[derive(Debug, Args)]
pub struct TokensArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: TokensCommand,
}

/// The token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a scoped token of an account; it is printed once.
    Create {
        /// The account it acts for.
        account: String,
        /// What it is for.
        #[arg(long)]
        description: Option<String>,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List tokens (prefixes only), of one account or all.
    List {
        /// Only this account's tokens.
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a token for good.
    Revoke {
        /// Token id (`tok_…`).
        id: String,
    },
}

/// `keygate audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Admin API and output options.
    #[command(flatten)]
    pub admin: AdminArgs,
    /// Only records of this entity kind (`consumer`, `key`, `service`, `plan`,
    /// `subscription`, `account`, `token`).
    #[arg(long)]
    kind: Option<String>,
    /// Only records of this entity name or id.
    #[arg(long)]
    entity: Option<String>,
    /// Only records at or after this time (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// At most this many records, newest first.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Runs `keygate accounts …`.
pub fn run_accounts(args: AccountsArgs) -> ExitCode {
    finish(accounts(args))
}

/// Runs `keygate tokens …`.
pub fn run_tokens(args: TokensArgs) -> ExitCode {
    finish(tokens(args))
}

/// Runs `keygate audit`.
pub fn run_audit(args: AuditArgs) -> ExitCode {
    finish(audit(args))
}

/// The first line of standard input, without its line end.
fn password_from_stdin() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| {
            CliError::Failed(format!("cannot read the password from stdin: {error}"))
        })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn account_path(name: &str) -> String {
    format!("/v1/accounts/{}", encode(name))
}

fn show(format: Format, value: &Value, headline: &str, fields: &[(&str, &str)]) {
    if format == Format::Json {
        print_json(value);
        return;
    }
    if !headline.is_empty() {
        outln!("{headline}");
    }
    let pairs: Vec<(&str, String)> = fields
        .iter()
        .map(|(label, field)| (*label, cell(&value[*field])))
        .collect();
    out!("{}", details(&pairs));
}

const ACCOUNT_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("role", "role"),
    ("password", "has_password"),
    ("disabled", "disabled"),
    ("created", "created_at"),
    ("updated", "updated_at"),
];

fn listing(format: Format, items: &[Value], headers: &[&'static str], fields: &[&str]) {
    match format {
        Format::Json => print_json(&Value::Array(items.to_vec())),
        Format::Table => {
            let mut table = Table::new(headers);
            for item in items {
                table.row(fields.iter().map(|f| cell(&item[*f])).collect());
            }
            table.print();
        }
    }
}

fn accounts(args: AccountsArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        AccountsCommand::Create {
            name,
            role,
            password_stdin,
        } => {
            let mut body = json!({"name": name, "role": role});
            if password_stdin {
                body["password"] = json!(password_from_stdin()?);
            }
            let reply = client.call(Method::POST, "/v1/accounts", Some(&body))?;
            show(
                format,
                &reply.body,
                &format!("account {name} created"),
                ACCOUNT_FIELDS,
            );
        }
        AccountsCommand::List => {
            let items = client.list("/v1/accounts", "")?;
            let fields = ["name", "role", "has_password", "disabled", "created_at"];
            listing(
                format,
                &items,
                &["NAME", "ROLE", "PASSWORD", "DISABLED", "CREATED"],
                &fields,
            );
        }
        AccountsCommand::Update {
            name,
            role,
            disable,
            enable,
        } => {
            let mut body = json!({});
            if let Some(role) = role {
                body["role"] = json!(role);
            }
            if disable || enable {
                body["disabled"] = json!(disable);
            }
            let reply = client.call(Method::PATCH, &account_path(&name), Some(&body))?;
            show(
                format,
                &reply.body,
                &format!("account {name} updated"),
                ACCOUNT_FIELDS,
            );
        }
        AccountsCommand::Delete { name } => {
            client.call(Method::DELETE, &account_path(&name), None)?;
            match format {
                Format::Json => print_json(&json!({"deleted": name})),
                Format::Table => outln!("account {name} deleted"),
            }
        }
        AccountsCommand::Password { name } => {
            let body = json!({"password": password_from_stdin()?});
            let reply = client.call(Method::PATCH, &account_path(&name), Some(&body))?;
            show(
                format,
                &reply.body,
                &format!("password of {name} set"),
                ACCOUNT_FIELDS,
            );
        }
    }
    Ok(())
}

const TOKEN_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("account", "account"),
    ("prefix", "prefix"),
    ("description", "description"),
    ("created", "created_at"),
    ("expires", "expires_at"),
    ("revoked", "revoked_at"),
];

fn tokens(args: TokensArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let format = args.admin.output;
    match args.command {
        TokensCommand::Create {
            account,
            description,
            expires_at,
        } => {
            let mut body = json!({});
            if let Some(description) = description {
                body["description"] = json!(description);
            }
            if let Some(expires_at) = expires_at {
                body["expires_at"] = json!(expires_at);
            }
            let path = format!("{}/tokens", account_path(&account));
            let reply = client.call(Method::POST, &path, Some(&body))?;
            if format == Format::Json {
                print_json(&reply.body);
            } else {
                outln!(
                    "token {} created for {account}; it is shown this once:",
                    cell(&reply.body["id"])
                );
                outln!();
                outln!("    {}", cell(&reply.body["token"]));
                outln!();
            }
        }
        TokensCommand::List { account } => {
            let query = account
                .map(|a| format!("account={}", encode(&a)))
                .unwrap_or_default();
            let items = client.list("/v1/tokens", &query)?;
            let fields = [
                "id",
                "account",
                "prefix",
                "description",
                "expires_at",
                "revoked_at",
            ];
            listing(
                format,
                &items,
                &[
                    "ID",
                    "ACCOUNT",
                    "PREFIX",
                    "DESCRIPTION",
                    "EXPIRES",
                    "REVOKED",
                ],
                &fields,
            );
        }
        TokensCommand::Revoke { id } => {
            let path = format!("/v1/tokens/{}/revoke", encode(&id));
            let reply = client.call(Method::POST, &path, None)?;
            show(
                format,
                &reply.body,
                &format!("token {id} revoked"),
                TOKEN_FIELDS,
            );
        }
    }
    Ok(())
}

fn audit(args: AuditArgs) -> Result<(), CliError> {
    let client = AdminClient::new(&args.admin.connection)?;
    let mut query = vec![format!("limit={}", args.limit)];
    for (name, value) in [
        ("entity_kind", args.kind),
        ("entity", args.entity),
        ("since", args.since),
    ] {
        if let Some(value) = value {
            query.push(format!("{name}={}", encode(&value)));
        }
    }
    let reply = client.get(&format!("/v1/audit?{}", query.join("&")))?;
    let items = reply["data"].as_array().cloned().unwrap_or_default();
    let fields = ["at", "actor", "action", "entity_kind", "entity"];
    listing(
        args.admin.output,
        &items,
        &["AT", "ACTOR", "ACTION", "KIND", "ENTITY"],
        &fields,
    );
    Ok(())
}
