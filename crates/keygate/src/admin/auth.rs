//! The admin token: where it comes from, how a reload replaces it; and the check every
//! `/v1/` call passes, which finds its caller (admin token, scoped token or session).
//!
//! The token is taken from `admin.token`, else `admin.token_file`, else the
//! `KEYGATE_ADMIN_TOKEN` variable; with none, one is generated on first start, written to
//! a 0600 file beside the database (`keygate.admin-token`) and printed once. Whatever its
//! source, a token has at least [`MIN_TOKEN_LEN`] characters. Generated tokens start with
//! [`ADMIN_TOKEN_PREFIX`], so that a secret scanner tells them from API keys (`kg_…`). It
//! is accepted as `X-API-KEY: <token>` or `Authorization: Bearer <token>` and compared in
//! constant time. A reload that names another token (in the file, or a token file with
//! new contents) puts it in force at once ([`AdminToken::replace`]).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;

use sha2::{Digest, Sha256};

use super::caller::Caller;
use super::error::ApiError;
use super::sessions::{self, Session};
use super::AdminState;
use crate::config::Config;

/// The fewest characters an admin token may have, from any source.
pub const MIN_TOKEN_LEN: usize = 16;

/// What generated admin tokens start with; API keys start with `kg_`.
pub const ADMIN_TOKEN_PREFIX: &str = "kgadmin_";

/// Where the token came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `admin.token` in the configuration.
    Config,
    /// A token file.
    File(PathBuf),
    /// The `KEYGATE_ADMIN_TOKEN` variable.
    Environment,
    /// Generated now and written to this file.
    Generated(PathBuf),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Config => f.write_str("admin.token"),
            TokenSource::File(path) => write!(f, "token file {}", path.display()),
            TokenSource::Environment => f.write_str("KEYGATE_ADMIN_TOKEN"),
            TokenSource::Generated(path) => write!(f, "generated token file {}", path.display()),
        }
    }
}

/// Why no admin token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A token shorter than [`MIN_TOKEN_LEN`].
    #[error("the admin token from {origin} has {length} characters; an admin token needs at least {MIN_TOKEN_LEN}")]
    TooShort {
        /// Where it came from.
        origin: TokenSource,
        /// How many characters it has.
        length: usize,
    },
    /// `admin.token_file` (or the default token file) could not be read.
    #[error("cannot read the admin token file {}: {source} (check admin.token_file)", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A generated token could not be written.
    #[error("cannot write the generated admin token to {}: {source}; make its directory writable, or set admin.token, admin.token_file or KEYGATE_ADMIN_TOKEN", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No random bytes for a new token.
    #[error("cannot generate an admin token: {0}")]
    Random(getrandom::Error),
}

/// The admin token in force, shared by the admin listener and reloads.
#[derive(Debug, Clone)]
pub struct AdminToken(Arc<ArcSwap<String>>);

impl AdminToken {
    /// A cell holding `token`.
    pub fn new(token: &str) -> AdminToken {
        AdminToken(Arc::new(ArcSwap::from_pointee(token.to_owned())))
    }

    /// Whether `presented` is the token in force (constant time).
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.0.load().as_bytes())
    }

    /// Puts the token `config` names in force, if it names one other than the current
    /// token: `admin.token`, the contents of `admin.token_file`, or `KEYGATE_ADMIN_TOKEN`.
    /// A generated token stays until the configuration names one. `Ok(Some(source))` when
    /// the token was replaced.
    pub fn replace(&self, config: &Config) -> Result<Option<TokenSource>, TokenError> {
        let Some((token, source)) = configured_token(config)? else {
            return Ok(None);
        };
        if constant_time_eq(token.as_bytes(), self.0.load().as_bytes()) {
            return Ok(None);
        }
        self.0.store(Arc::new(token));
        Ok(Some(source))
    }
}

/// The token the configuration or the environment names, checked; `None` when neither
/// names one.
fn configured_token(config: &Config) -> Result<Option<(String, TokenSource)>, TokenError> {
    let found = if let Some(token) = &config.admin.token {
        Some((token.clone(), TokenSource::Config))
    } else if let Some(path) = &config.admin.token_file {
        let token = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.clone(),
            source,
        })?;
        Some((token.trim().to_owned(), TokenSource::File(path.clone())))
    } else {
        std::env::var("KEYGATE_ADMIN_TOKEN")
            .ok()
            .filter(|token| !token.trim().is_empty())
            .map(|token| (token.trim().to_owned(), TokenSource::Environment))
    };
    match found {
        Some((token, source)) => long_enough(token, source).map(Some),
        None => Ok(None),
    }
}

/// `token` when it has at least [`MIN_TOKEN_LEN`] characters.
fn long_enough(token: String, origin: TokenSource) -> Result<(String, TokenSource), TokenError> {
    let length = token.chars().count();
    if length < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort { origin, length });
    }
    Ok((token, origin))
}

/// Finds or makes the admin token.
pub fn resolve_token(
    config: &Config,
    config_dir: &Path,
) -> Result<(String, TokenSource), TokenError> {
    if let Some(found) = configured_token(config)? {
        return Ok(found);
    }
    let path = default_token_file(&config.store, config_dir);
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => {
            return long_enough(token.trim().to_owned(), TokenSource::File(path));
        }
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(TokenError::Read { path, source }),
    }
    let token = generate_token().map_err(TokenError::Random)?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{token}"));
    written.map_err(|source| TokenError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((token, TokenSource::Generated(path)))
}

/// A new admin token: [`ADMIN_TOKEN_PREFIX`] and the random part of a generated key.
fn generate_token() -> Result<String, getrandom::Error> {
    let key = crate::key::generate()?;
    let random = key
        .strip_prefix(crate::key::GENERATED_PREFIX)
        .unwrap_or(&key);
    Ok(format!("{ADMIN_TOKEN_PREFIX}{random}"))
}

/// `keygate.admin-token` beside an SQLite database file, else beside the configuration.
fn default_token_file(store: &str, config_dir: &Path) -> PathBuf {
    let database = store
        .strip_prefix("sqlite://")
        .filter(|path| !path.is_empty() && !path.starts_with(':'))
        .map(Path::new);
    let dir = match database {
        Some(database) => match database.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        },
        None => config_dir.to_path_buf(),
    };
    dir.join("keygate.admin-token")
}

/// Resolves the caller of a `/v1/` call once — the admin token, an account's scoped token
/// (`X-API-KEY` or `Authorization: Bearer`), or the session cookie — and hands it to the
/// handler as a [`Caller`] extension; `401` without one. A call authenticated by the
/// cookie whose method can change something must repeat the session's CSRF token in
/// `X-CSRF-Token` (`403` otherwise): a cookie is sent by the browser on its own, a header
/// is not.
pub async fn require_caller(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = match presented_token(request.headers()) {
        Some(token) if state.token.matches(token) => Caller::admin_token(),
        Some(token) => scoped_token_caller(&state, token).await?,
        None => {
            let session = session_of(&state, request.headers()).ok_or(ApiError::Unauthorized)?;
            if !is_safe(request.method()) {
                let sent = request
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if !constant_time_eq(sent.as_bytes(), session.1.csrf.as_bytes()) {
                    return Err(ApiError::Forbidden(
                        "this call needs the session's CSRF token in the X-CSRF-Token header"
                            .into(),
                    ));
                }
            }
            session_caller(&state, session).await?
        }
    };
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// The header a cookie-authenticated write repeats the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Methods that change nothing, which need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller of an account's scoped token: live, of an enabled account.
pub(super) async fn scoped_token_caller(
    state: &AdminState,
    token: &str,
) -> Result<Caller, ApiError> {
    if !token.starts_with(SCOPED_TOKEN_PREFIX) {
        return Err(ApiError::Unauthorized);
    }
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let now = crate::state::millis(std::time::SystemTime::now());
    let found = state
        .read(move |store| {
            let Some(token) = store.account_token_by_hash(&hash)? else {
                return Ok(None);
            };
            let live = token.revoked_at.is_none() && token.expires_at.is_none_or(|at| at > now);
            if !live {
                return Ok(None);
            }
            store.account(&token.account)
        })
        .await?;
    match found {
        Some(account) if !account.disabled => Ok(Caller {
            account: Some(account.name),
            role: account.role,
        }),
        _ => Err(ApiError::Unauthorized),
    }
}

/// The open session the request's cookie names, if any.
pub(super) fn session_of(state: &AdminState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(headers, sessions::COOKIE)?;
    state.sessions.find(id).map(|s| (id.to_owned(), s))
}

/// The caller of a session: the admin token's, or its account's as stored now (a
/// disabled or deleted account ends its sessions).
pub(super) async fn session_caller(
    state: &AdminState,
    (id, session): (String, Session),
) -> Result<Caller, ApiError> {
    let Some(name) = session.account else {
        return Ok(Caller::admin_token());
    };
    let lookup = name.clone();
    match state.read(move |store| store.account(&lookup)).await? {
        Some(account) if !account.disabled => Ok(Caller {
            account: Some(account.name),
            role: account.role,
        }),
        _ => {
            state.sessions.close(&id);
            Err(ApiError::Unauthorized)
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` fields.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// What scoped tokens of accounts start with.
pub const SCOPED_TOKEN_PREFIX: &str = "kgtok_";

/// Refuses `/metrics` calls without the admin token when `admin.metrics_auth` is on (read
/// at each call, so a reload turns it on or off); lets every call through otherwise.
pub async fn guard_metrics(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !state.sync.config().admin.metrics_auth || carries_token(&state, &request) {
        Ok(next.run(request).await)
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Whether `request` presents the admin token, as `X-API-Key` or a `Bearer` token.
fn carries_token(state: &AdminState, request: &Request) -> bool {
    presented_token(request.headers()).is_some_and(|token| state.token.matches(token))
}

/// The token a request presents, as `X-API-Key` or a `Bearer` token.
pub(super) fn presented_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        })
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for (i, byte) in a.iter().enumerate() {
        difference |= usize::from(byte ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_comparison_is_still_a_comparison() {
        assert!(constant_time_eq(b"secret-token", b"secret-token"));
        assert!(!constant_time_eq(b"secret-tokeN", b"secret-token"));
        assert!(!constant_time_eq(b"secret", b"secret-token"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn the_token_file_sits_beside_the_database() {
        let dir = Path::new("/etc/keygate");
        assert_eq!(
            default_token_file("sqlite:///var/lib/kg/k.db", dir),
            PathBuf::from("/var/lib/kg/keygate.admin-token")
        );
        assert_eq!(
            default_token_file("sqlite://keygate.db", dir),
            Path::new(".").join("keygate.admin-token")
        );
        assert_eq!(
            default_token_file("sqlite::memory:", dir),
            dir.join("keygate.admin-token")
        );
    }
}
