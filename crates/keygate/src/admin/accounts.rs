//! `/v1/accounts` and `/v1/tokens`: the accounts that sign in to the admin API and the
//! console, and their scoped API tokens — admins only. A token is `kgtok_` and 38
//! random base62 characters, shown once by the call that creates it and stored as its
//! SHA-256; it acts with its account's role, until it expires, is revoked, or its
//! account is disabled or deleted. Passwords are stored as argon2id hashes and never
//! shown.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{AccountRecord, AccountTokenRecord, OwnedKind, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::SCOPED_TOKEN_PREFIX;
use super::error::{ApiError, Body, Params};
use super::keys::present;
use super::{listing, parse_rfc3339, passwords, rfc3339, AdminState, Listing, PageQuery};
use crate::config::is_valid_name;
use crate::state::millis;

/// A new account.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    name: String,
    role: Role,
    password: Option<String>,
    #[serde(default)]
    disabled: bool,
}

/// A change of an account; absent fields stay as they are, `"password": null` removes
/// the password (the account then signs in with tokens only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    role: Option<Role>,
    #[serde(default, deserialize_with = "present")]
    password: Option<Option<String>>,
    disabled: Option<bool>,
}

/// An account as the API shows it: never its password or hash.
#[derive(Debug, Serialize)]
pub struct AccountView {
    name: String,
    role: Role,
    has_password: bool,
    disabled: bool,
    created_at: String,
    updated_at: String,
}

/// How the API shows an account.
pub(super) fn view(record: AccountRecord) -> AccountView {
    AccountView {
        name: record.name,
        role: record.role,
        has_password: record.password_hash.is_some(),
        disabled: record.disabled,
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
    }
}

fn hashed(password: &str) -> Result<String, ApiError> {
    passwords::hash(password).map_err(|error| match error {
        passwords::PasswordError::Length(_) => ApiError::Invalid(error.to_string()),
        passwords::PasswordError::Hashing(_) => ApiError::Internal(error.to_string()),
    })
}

fn missing(name: &str) -> ApiError {
    ApiError::NotFound(format!("account `{name}` not found"))
}

/// `POST /v1/accounts` → 201; `409` when the name is taken.
pub async fn create(
    State(state): State<AdminState>,
    Body(body): Body<NewAccount>,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    if !is_valid_name(&body.name) {
        return Err(ApiError::Invalid(format!(
            "an account name uses letters, digits, `.`, `_` and `-` only, found `{}`",
            body.name
        )));
    }
    let password_hash = match body.password {
        Some(password) => Some(
            tokio::task::spawn_blocking(move || hashed(&password))
                .await
                .map_err(|error| ApiError::Internal(error.to_string()))??,
        ),
        None => None,
    };
    state
        .write(move |store| {
            if store.account(&body.name)?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "account `{}` exists; change it with PATCH (keygate accounts update)",
                    body.name
                )));
            }
            let now = millis(SystemTime::now());
            let record = AccountRecord {
                name: body.name,
                role: body.role,
                password_hash,
                disabled: body.disabled,
                created_at: now,
                updated_at: now,
            };
            store.put_account(&record)?;
            Ok((StatusCode::CREATED, Json(view(record))))
        })
        .await
}

/// `GET /v1/accounts/{name}`.
pub async fn get(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<AccountView>, ApiError> {
    let lookup = name.clone();
    let found = state.read(move |store| store.account(&lookup)).await?;
    found.map(|a| Json(view(a))).ok_or_else(|| missing(&name))
}

/// `PATCH /v1/accounts/{name}`: role, password, disabled. A new password, a new role or
/// disabling ends the account's open sessions.
pub async fn patch(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<AccountPatch>,
) -> Result<Json<AccountView>, ApiError> {
    let password_hash = match body.password {
        Some(Some(password)) => Some(Some(
            tokio::task::spawn_blocking(move || hashed(&password))
                .await
                .map_err(|error| ApiError::Internal(error.to_string()))??,
        )),
        Some(None) => Some(None),
        None => None,
    };
    let sessions = state.sessions.clone();
    state
        .write(move |store| {
            let mut record = store.account(&name)?.ok_or_else(|| missing(&name))?;
            let before = record.clone();
            if let Some(role) = body.role {
                record.role = role;
            }
            if let Some(hash) = password_hash {
                record.password_hash = hash;
            }
            if let Some(disabled) = body.disabled {
                record.disabled = disabled;
            }
            record.updated_at = millis(SystemTime::now());
            store.put_account(&record)?;
            if record.role != before.role
                || record.password_hash != before.password_hash
                || record.disabled
            {
                sessions.close_account(&name);
            }
            Ok(Json(view(record)))
        })
        .await
}

/// `DELETE /v1/accounts/{name}` → 204, with its tokens and sessions; `409` while it
/// owns consumers or services.
pub async fn delete(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let sessions = state.sessions.clone();
    state
        .write(move |store| {
            store.delete_account(&name)?;
            sessions.close_account(&name);
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `GET /v1/accounts?after=&limit=`.
pub async fn list(
    State(state): State<AdminState>,
    Params(query): Params<PageQuery>,
) -> Result<Json<Listing<AccountView>>, ApiError> {
    let page = query.page()?;
    let limit = page.limit;
    let records = state.read(move |store| store.accounts(&page)).await?;
    Ok(Json(listing(records, limit, |a| a.name.clone(), view)))
}

/// A new token of an account.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    description: Option<String>,
    /// RFC 3339; absent: the token does not expire.
    expires_at: Option<String>,
}

/// A token as the API shows it; `token` is its plaintext, in the answer that created it
/// only.
#[derive(Debug, Serialize)]
pub struct TokenView {
    id: String,
    account: String,
    prefix: String,
    description: Option<String>,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// How the API shows a token.
pub(super) fn token_view(record: AccountTokenRecord) -> TokenView {
    TokenView {
        id: record.id,
        account: record.account,
        prefix: record.prefix,
        description: record.description,
        created_at: rfc3339(record.created_at),
        expires_at: record.expires_at.map(rfc3339),
        revoked_at: record.revoked_at.map(rfc3339),
        token: None,
    }
}

/// A new token's plaintext: [`SCOPED_TOKEN_PREFIX`] and the random part of a generated
/// key (with its checksum, so that secret scanners can match it).
fn new_token() -> Result<String, ApiError> {
    let key = crate::key::generate()
        .map_err(|error| ApiError::Internal(format!("no randomness: {error}")))?;
    let random = key
        .strip_prefix(crate::key::GENERATED_PREFIX)
        .unwrap_or(&key);
    Ok(format!("{SCOPED_TOKEN_PREFIX}{random}"))
}

/// `POST /v1/accounts/{name}/tokens` → 201 with the plaintext, shown this once.
pub async fn create_token(
    State(state): State<AdminState>,
    Path(account): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<TokenView>), ApiError> {
    let body: NewToken = if body.trim().is_empty() {
        NewToken::default()
    } else {
        serde_json::from_str(&body).map_err(|error| ApiError::Invalid(error.to_string()))?
    };
    let expires_at = body
        .expires_at
        .map(|t| parse_rfc3339(&t, "expires_at"))
        .transpose()?;
    let plaintext = new_token()?;
    let hash: [u8; 32] = Sha256::digest(plaintext.as_bytes()).into();
    let id: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let record = AccountTokenRecord {
        id: format!("tok_{id}"),
        account,
        hash,
        prefix: plaintext
            .chars()
            .take(SCOPED_TOKEN_PREFIX.len() + 4)
            .collect(),
        description: body.description,
        created_at: millis(SystemTime::now()),
        expires_at,
        revoked_at: None,
    };
    state
        .write(move |store| {
            store
                .account(&record.account)?
                .ok_or_else(|| missing(&record.account))?;
            store.insert_account_token(&record)?;
            let mut shown = token_view(record);
            shown.token = Some(plaintext);
            Ok((StatusCode::CREATED, Json(shown)))
        })
        .await
}

/// `?account=&after=&limit=` of `GET /v1/tokens`.
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    account: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/tokens?account=NAME`: prefixes only.
pub async fn list_tokens(
    State(state): State<AdminState>,
    Params(query): Params<TokenQuery>,
) -> Result<Json<Listing<TokenView>>, ApiError> {
    let page = PageQuery {
        after: query.after,
        limit: query.limit,
    }
    .page()?;
    let limit = page.limit;
    let account = query.account;
    let records = state
        .read(move |store| store.account_tokens(account.as_deref(), &page))
        .await?;
    Ok(Json(listing(records, limit, |t| t.id.clone(), token_view)))
}

/// `POST /v1/tokens/{id}/revoke`: the token stops working for good.
pub async fn revoke_token(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    state
        .write(move |store| {
            store.revoke_account_token(&id, millis(SystemTime::now()))?;
            let record = store
                .account_token(&id)?
                .ok_or_else(|| ApiError::NotFound(format!("token `{id}` not found")))?;
            Ok(Json(token_view(record)))
        })
        .await
}

/// `{"account": "NAME" | null}`: who owns a consumer or a service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ownership {
    account: Option<String>,
}

/// What an ownership call answers.
#[derive(Debug, Serialize)]
pub struct OwnerView {
    kind: &'static str,
    name: String,
    account: Option<String>,
}

async fn set_owner(
    state: AdminState,
    kind: OwnedKind,
    name: String,
    account: Option<String>,
) -> Result<Json<OwnerView>, ApiError> {
    state
        .write(move |store| {
            if let Some(account) = &account {
                let role = store.account(account)?.ok_or_else(|| missing(account))?.role;
                let fits = match kind {
                    OwnedKind::Consumer => role == Role::Owner,
                    OwnedKind::Service => role == Role::Publisher,
                };
                if !fits {
                    return Err(ApiError::Invalid(format!(
                        "account `{account}` is a {}; consumers are owned by owners, services by publishers",
                        role.as_str()
                    )));
                }
            }
            store.set_owner(kind, &name, account.as_deref())?;
            let kind = match kind {
                OwnedKind::Consumer => "consumer",
                OwnedKind::Service => "service",
            };
            Ok(Json(OwnerView { kind, name, account }))
        })
        .await
}

/// `PUT /v1/consumers/{name}/owner` `{"account": "NAME" | null}`.
pub async fn put_consumer_owner(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<Ownership>,
) -> Result<Json<OwnerView>, ApiError> {
    set_owner(state, OwnedKind::Consumer, name, body.account).await
}

/// `PUT /v1/services/{name}/owner` `{"account": "NAME" | null}`.
pub async fn put_service_owner(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<Ownership>,
) -> Result<Json<OwnerView>, ApiError> {
    set_owner(state, OwnedKind::Service, name, body.account).await
}

/// `GET /v1/consumers/{name}/owner` and `GET /v1/services/{name}/owner`.
pub async fn get_owner(
    State(state): State<AdminState>,
    pattern: axum::extract::MatchedPath,
    Path(name): Path<String>,
) -> Result<Json<OwnerView>, ApiError> {
    let (kind, noun) = if pattern.as_str().contains("/services/") {
        (OwnedKind::Service, "service")
    } else {
        (OwnedKind::Consumer, "consumer")
    };
    let lookup = name.clone();
    let account = state.read(move |store| store.owner(kind, &lookup)).await?;
    Ok(Json(OwnerView {
        kind: noun,
        name,
        account,
    }))
}
