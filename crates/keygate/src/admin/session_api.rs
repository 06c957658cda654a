//! `/v1/session`: signing in to the console with an account's password or a token, and
//! out. The contract the console codes against:
//!
//! - `POST /v1/session` `{"account","password"}` or `{"token"}` → `200
//!   {"account","role","csrf_token"}` and `Set-Cookie: keygate_session=…; HttpOnly;
//!   SameSite=Strict; Path=/` (`; Secure` on a TLS admin listener); `401` for bad
//!   credentials (one message whatever was wrong); `429` with `Retry-After` past the
//!   sign-in limit ([`super::login_limit`]).
//! - `GET /v1/session` → the same body for a live session, `401` otherwise.
//! - `DELETE /v1/session` → `204`, the session ended and the cookie cleared.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keygate_store::Role;
use serde::{Deserialize, Serialize};

use super::auth::{scoped_token_caller, session_caller, session_of};
use super::caller::Caller;
use super::error::{ApiError, Body};
use super::sessions::{Session, COOKIE};
use super::{passwords, AdminState, ClientAddress};

/// A sign-in: an account's name and password, or a token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    account: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

/// What a session shows of itself.
#[derive(Debug, Serialize)]
pub struct SessionView {
    account: Option<String>,
    role: Role,
    csrf_token: String,
}

fn shown(caller: Caller, session: &Session) -> Json<SessionView> {
    Json(SessionView {
        account: caller.account,
        role: caller.role,
        csrf_token: session.csrf.clone(),
    })
}

/// The `Set-Cookie` value of a session id (`None`: the cookie cleared).
fn cookie(state: &AdminState, id: Option<&str>) -> HeaderValue {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    let text = match id {
        Some(id) => format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/{secure}"),
        None => format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The client's address, for the sign-in limit (unknown in tests without a socket).
fn client_address(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<ClientAddress>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0 .0.ip())
}

/// `POST /v1/session`.
pub async fn sign_in(State(state): State<AdminState>, request: Request) -> Response {
    match try_sign_in(&state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn try_sign_in(state: &AdminState, request: Request) -> Result<Response, ApiError> {
    use axum::extract::FromRequest;
    let address = client_address(&request);
    let Body(body) = Body::<SignIn>::from_request(request, &()).await?;
    let caller = match (body.account, body.password, body.token) {
        (Some(account), Some(password), None) => {
            state
                .login_limit
                .attempt(address, Some(&account))
                .map_err(|wait| ApiError::TooManyAttempts(wait.as_secs().max(1)))?;
            let lookup = account.clone();
            let stored = state.read(move |store| store.account(&lookup)).await?;
            let enabled = stored.filter(|a| !a.disabled);
            let hash = enabled.as_ref().and_then(|a| a.password_hash.clone());
            let matched =
                tokio::task::spawn_blocking(move || passwords::verify(&password, hash.as_deref()))
                    .await
                    .map_err(|error| ApiError::Internal(error.to_string()))?;
            match enabled {
                Some(found) if matched => {
                    state.login_limit.succeeded(&account);
                    Caller {
                        account: Some(found.name),
                        role: found.role,
                    }
                }
                _ => {
                    state.login_limit.failed(&account);
                    return Err(ApiError::BadCredentials);
                }
            }
        }
        (None, None, Some(token)) => {
            state
                .login_limit
                .attempt(address, None)
                .map_err(|wait| ApiError::TooManyAttempts(wait.as_secs().max(1)))?;
            if state.token.matches(&token) {
                Caller::admin_token()
            } else {
                scoped_token_caller(state, &token)
                    .await
                    .map_err(|error| match error {
                        ApiError::Unauthorized => ApiError::BadCredentials,
                        other => other,
                    })?
            }
        }
        _ => {
            return Err(ApiError::Invalid(
                "sign in with {\"account\", \"password\"} or with {\"token\"}".into(),
            ))
        }
    };
    let (id, session) = state
        .sessions
        .open(caller.account.clone(), caller.role)
        .map_err(|error| ApiError::Internal(format!("no randomness: {error}")))?;
    let mut response = shown(caller, &session).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(state, Some(&id)));
    Ok(response)
}

/// `GET /v1/session`.
pub async fn current(
    State(state): State<AdminState>,
    headers: HeaderMap,
) -> Result<Json<SessionView>, ApiError> {
    let found = session_of(&state, &headers).ok_or(ApiError::Unauthorized)?;
    let session = found.1.clone();
    let caller = session_caller(&state, found).await?;
    Ok(shown(caller, &session))
}

/// `DELETE /v1/session`: ends the session, if any, and clears the cookie. (Ending a
/// session needs no CSRF token: another site making a browser sign out does no harm.)
pub async fn sign_out(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    if let Some((id, _)) = session_of(&state, &headers) {
        state.sessions.close(&id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&state, None));
    response
}
