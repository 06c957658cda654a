//! The admin token: where it comes from, and the check every `/v1/` call passes.
//!
//! The token is taken from `admin.token`, else `admin.token_file`, else the
//! `KEYGATE_ADMIN_TOKEN` variable; with none, one is generated on first start, written to
//! a 0600 file beside the database (`keygate.admin-token`) and printed once. It is
//! accepted as `X-API-KEY: <token>` or `Authorization: Bearer <token>` and compared in
//! constant time.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;
use super::AdminState;
use crate::config::Config;

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

/// Finds or makes the admin token.
pub fn resolve_token(
    config: &Config,
    config_dir: &Path,
) -> std::io::Result<(Arc<str>, TokenSource)> {
    if let Some(token) = &config.admin.token {
        return Ok((token.as_str().into(), TokenSource::Config));
    }
    if let Some(path) = &config.admin.token_file {
        let token = std::fs::read_to_string(path)?;
        return Ok((token.trim().into(), TokenSource::File(path.clone())));
    }
    if let Ok(token) = std::env::var("KEYGATE_ADMIN_TOKEN") {
        if !token.trim().is_empty() {
            return Ok((token.trim().into(), TokenSource::Environment));
        }
    }
    let path = default_token_file(&config.store, config_dir);
    if let Ok(token) = std::fs::read_to_string(&path) {
        if !token.trim().is_empty() {
            return Ok((token.trim().into(), TokenSource::File(path)));
        }
    }
    let token = crate::key::generate().map_err(std::io::Error::other)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(file, "{token}")?;
    Ok((token.into(), TokenSource::Generated(path)))
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

/// Refuses calls without the admin token.
pub async fn require_token(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let presented = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
    match presented {
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => {
            Ok(next.run(request).await)
        }
        _ => Err(ApiError::Unauthorized),
    }
}

/// Compares without an early exit, so timing does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
