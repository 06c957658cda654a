//! A small client for the admin API, shared by `keygate consumers|keys|apply|export`.
//!
//! Every call blocks on a single-threaded runtime owned by the client, sends the admin
//! token as `X-API-KEY`, and turns the API's `{"error":{"code","message"}}` answers into
//! a [`CliError`] that the command prints as `keygate: 409 conflict: <message>`. An
//! `https://` admin URL is checked against the CA certificates of `--ca-file` (as curl's
//! `--cacert`), or against the system's when none is given.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http::{header, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::output::Format;

/// How long one call to the admin API may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// Base URL of the admin API, `http://` or `https://`.
    #[arg(
        long,
        env = "KEYGATE_ADMIN_URL",
        default_value = "http://127.0.0.1:9180",
        global = true,
        help_heading = "Admin API"
    )]
    pub admin_url: String,
    /// The admin token, sent as `X-API-KEY`.
    #[arg(
        long,
        env = "KEYGATE_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// CA certificates (PEM) an `https://` admin API's certificate must chain to, in
    /// place of the system's.
    #[arg(
        long,
        env = "KEYGATE_CA_FILE",
        global = true,
        help_heading = "Admin API"
    )]
    pub ca_file: Option<PathBuf>,
}

/// The options shared by the commands that call the admin API.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// Where the admin API is.
    #[command(flatten)]
    pub connection: Connection,
    /// Output: aligned tables for people, or JSON for scripts.
    #[arg(
        long,
        value_enum,
        default_value_t = Format::Table,
        global = true,
        help_heading = "Admin API"
    )]
    pub output: Format,
}

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The admin API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code, such as `conflict`.
        code: String,
        /// The API's message.
        message: String,
    },
    /// The admin API could not be reached at all.
    Unreachable {
        /// The base URL tried.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// Anything else: bad input, unreadable file, unexpected answer.
    Failed(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Api {
                status,
                code,
                message,
            } => write!(f, "{status} {code}: {message}"),
            CliError::Unreachable { url, detail } => {
                write!(f, "cannot reach the admin API at {url}: {detail}")
            }
            CliError::Failed(message) => f.write_str(message),
        }
    }
}

impl From<serde_json::Error> for CliError {
    fn from(error: serde_json::Error) -> Self {
        CliError::Failed(format!("unexpected answer from the admin API: {error}"))
    }
}

/// Prints a failure as `keygate: …` on stderr and turns the outcome into an exit code.
pub fn finish(outcome: Result<(), CliError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keygate: {error}");
            ExitCode::FAILURE
        }
    }
}

/// An answer of the admin API: its status and its JSON body (`null` when empty).
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// A connection to one admin API.
pub struct AdminClient {
    base: String,
    token: Option<String>,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: tokio::runtime::Runtime,
}

impl AdminClient {
    /// Checks the URL and prepares a client; nothing is sent yet.
    pub fn new(connection: &Connection) -> Result<AdminClient, CliError> {
        let base = connection.admin_url.trim().trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .map_err(|_| CliError::Failed(format!("`{base}` is not a URL")))?;
        let https = uri.scheme_str() == Some("https");
        if !(https || uri.scheme_str() == Some("http")) || uri.authority().is_none() {
            return Err(CliError::Failed(format!(
                "the admin URL must look like http://HOST:PORT or https://HOST:PORT, found `{base}`"
            )));
        }
        if uri.query().is_some() {
            return Err(CliError::Failed(format!(
                "the admin URL may not have a query, found `{base}`"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| CliError::Failed(format!("cannot start the runtime: {error}")))?;
        // The TLS roots are read only for an `https://` URL.
        let tls = match https {
            true => tls_config(connection.ca_file.as_deref())?,
            false => tls_config_without_roots()?,
        };
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        let token = connection
            .admin_token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(str::to_owned);
        Ok(AdminClient {
            base,
            token,
            http,
            runtime,
        })
    }

    /// Sends one call; `path` starts with `/v1/`. Error statuses become [`CliError::Api`].
    pub fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, CliError> {
        let reply = self.send(method, path, body)?;
        if reply.status >= 400 {
            return Err(self.api_error(reply));
        }
        Ok(reply)
    }

    /// `GET path` → the body.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        Ok(self.call(Method::GET, path, None)?.body)
    }

    /// `GET path` → the body, or `None` on 404.
    pub fn find(&self, path: &str) -> Result<Option<Value>, CliError> {
        let reply = self.send(Method::GET, path, None)?;
        match reply.status {
            404 => Ok(None),
            400.. => Err(self.api_error(reply)),
            _ => Ok(Some(reply.body)),
        }
    }

    /// Follows a listing's `next` cursors and returns every item. `query` is already
    /// encoded, such as `consumer=a` (or empty).
    pub fn list(&self, path: &str, query: &str) -> Result<Vec<Value>, CliError> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            // The server's page size is used: `limit` is not accepted on every listing.
            let mut parameters: Vec<String> = Vec::new();
            if !query.is_empty() {
                parameters.push(query.to_owned());
            }
            if let Some(cursor) = &after {
                parameters.push(format!("after={}", encode(cursor)));
            }
            let url = if parameters.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", parameters.join("&"))
            };
            let mut page = self.get(&url)?;
            match page.get_mut("data").map(Value::take) {
                Some(Value::Array(data)) => items.extend(data),
                _ => return Err(CliError::Failed(format!("{path} answered without `data`"))),
            }
            match page.get("next").and_then(Value::as_str) {
                Some(next) if after.as_deref() != Some(next) => after = Some(next.to_owned()),
                _ => return Ok(items),
            }
        }
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, CliError> {
        let target = format!("{}{path}", self.base);
        let uri: Uri = target
            .parse()
            .map_err(|_| CliError::Failed(format!("cannot build a URL from `{target}`")))?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header("x-api-key", token);
        }
        let payload = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(value)?)
            }
            None => Bytes::new(),
        };
        let request = request
            .body(Full::new(payload))
            .map_err(|error| CliError::Failed(format!("cannot build the request: {error}")))?;
        let unreachable = |detail: String| CliError::Unreachable {
            url: self.base.clone(),
            detail,
        };
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|error| unreachable(innermost(&error)))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|error| unreachable(innermost(&error)))?
                .to_bytes();
            Ok::<_, CliError>((status, bytes))
        };
        let (status, bytes) = self
            .runtime
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, exchange).await })
            .map_err(|_| unreachable(format!("no answer within {}s", CALL_TIMEOUT.as_secs())))??;
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).trim().to_owned())
            })
        };
        Ok(Reply { status, body })
    }

    fn api_error(&self, reply: Reply) -> CliError {
        let error = &reply.body["error"];
        let code = error["code"].as_str().map_or_else(
            || {
                http::StatusCode::from_u16(reply.status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error")
                    .to_ascii_lowercase()
            },
            str::to_owned,
        );
        let mut message = match (&error["message"], &reply.body) {
            (Value::String(message), _) => message.clone(),
            (_, Value::String(text)) => text.clone(),
            _ => "no details given".to_owned(),
        };
        if reply.status == 401 && self.token.is_none() {
            message.push_str(" (give --admin-token or set KEYGATE_ADMIN_TOKEN)");
        }
        CliError::Api {
            status: reply.status,
            code,
            message,
        }
    }
}

/// The TLS client configuration for an `https://` admin URL: trusting the CA
/// certificates of `ca_file`, or the system's.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, CliError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            roots = crate::tls::certificates::load_client_roots(path)
                .map_err(|error| CliError::Failed(format!("--ca-file: {error}")))?;
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(CliError::Failed(
                    "no CA certificates found on this system: give --ca-file".to_owned(),
                ));
            }
        }
    }
    Ok(client_builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A TLS configuration that trusts nothing, for a connector only used over `http://`.
fn tls_config_without_roots() -> Result<rustls::ClientConfig, CliError> {
    Ok(client_builder()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

fn client_builder(
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, CliError> {
    rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| CliError::Failed(format!("cannot set up TLS: {error}")))
}

/// The deepest cause of an error, which is the one that says what happened.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Percent-encodes a path segment or query value: everything but unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: &str) -> Connection {
        Connection {
            admin_url: url.to_owned(),
            admin_token: None,
            ca_file: None,
        }
    }

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(AdminClient::new(&connection("http://127.0.0.1:9180/")).is_ok());
        assert!(AdminClient::new(&connection("ftp://example.com")).is_err());
        assert!(AdminClient::new(&connection("127.0.0.1:9180")).is_err());
        assert!(AdminClient::new(&connection("http://h/?x=1")).is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(encode("a b/c?"), "a%20b%2Fc%3F");
    }
}
