//! `/v1/subscriptions`: a consumer's subscriptions to the plans of services (Gravitee's
//! subscriptions of applications to API key plans), with their legal transitions only.
//!
//! A subscription is created with its own key (generated, or the custom `key` given) or
//! with the consumer's shared key (`key_mode: shared`), which is created with the first
//! shared-key subscription and used by all of them. A consumer may share its key across
//! services, never across two plans of one service: the gateway could not tell which plan
//! a call is for. Accepting may give an own-key subscription a custom key in place of the
//! one made when it was requested; rejecting may say why (`reason`, for the application's
//! owner). Pause, resume and close take no message, as in Gravitee.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::error::{OptionalBody, Params};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{KeyMode, KeyRecord, Store, SubscriptionRecord, SubscriptionStatus};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, Body};
use super::keys::{new_plaintext, new_record, view as key_view, KeyView};
use super::{every_page, listing, parse_rfc3339, rfc3339, AdminState, Listing, PageQuery};
use crate::config::is_valid_name;
use crate::key::{display_prefix, KeyHash};
use crate::state::millis;

/// `POST /v1/subscriptions` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    consumer: String,
    service: String,
    plan: String,
    /// `own` (default) or `shared`.
    key_mode: Option<KeyMode>,
    /// A custom key for the new own (or first shared) key; generated when absent.
    key: Option<String>,
    /// An id; generated when absent.
    id: Option<String>,
    /// When the subscription ends; its own key expires then too.
    ends_at: Option<String>,
}

/// A subscription as the API shows it; `key` is the plaintext of a key created with it,
/// in the answer that created it only.
#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    id: String,
    consumer: String,
    service: String,
    plan: String,
    status: SubscriptionStatus,
    key_mode: KeyMode,
    ends_at: Option<String>,
    created_at: String,
    updated_at: String,
    /// Why it was rejected, when the publisher said.
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<KeyView>,
}

pub(super) fn view(record: SubscriptionRecord) -> SubscriptionView {
    SubscriptionView {
        id: record.id,
        consumer: record.consumer,
        service: record.service,
        plan: record.plan,
        status: record.status,
        key_mode: record.key_mode,
        ends_at: record.ends_at.map(rfc3339),
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
        reason: record.reason,
        key: None,
    }
}

/// `POST /v1/subscriptions/{id}/{action}` body: optional, and each field for one action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `accept`: a custom key for an own-key subscription, in place of the one made when
    /// it was requested.
    key: Option<String>,
    /// `reject`: why, for the application's owner ([`crate::subscription_reason`]).
    reason: Option<String>,
}

impl Decision {
    /// Refuses a field that `action` does not take, and a reason that breaks the rule.
    fn check(&self, action: Action) -> Result<(), ApiError> {
        if self.key.is_some() && action != Action::Accept {
            return Err(ApiError::Invalid(format!(
                "`key` is given to accept only (a custom key for the subscription's own \
                 key), not to {}",
                action.verb()
            )));
        }
        match &self.reason {
            Some(_) if action != Action::Reject => Err(ApiError::Invalid(format!(
                "`reason` is given to reject only (why, for the application's owner); {} \
                 takes none, as in Gravitee",
                action.verb()
            ))),
            Some(reason) => crate::subscription_reason::check(reason).map_err(ApiError::Invalid),
            None => Ok(()),
        }
    }
}

/// A transition asked for with `POST /v1/subscriptions/{id}/<action>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// pending → accepted
    Accept,
    /// pending → rejected
    Reject,
    /// accepted → paused
    Pause,
    /// paused → accepted
    Resume,
    /// pending, accepted or paused → closed
    Close,
}

impl Action {
    /// Parses the action of the path.
    fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "accept" => Action::Accept,
            "reject" => Action::Reject,
            "pause" => Action::Pause,
            "resume" => Action::Resume,
            "close" => Action::Close,
            _ => return None,
        })
    }

    /// The status after this action from `from`, or `None` when the transition is not
    /// legal.
    pub fn apply(self, from: SubscriptionStatus) -> Option<SubscriptionStatus> {
        use SubscriptionStatus as S;
        match (self, from) {
            (Action::Accept, S::Pending) | (Action::Resume, S::Paused) => Some(S::Accepted),
            (Action::Reject, S::Pending) => Some(S::Rejected),
            (Action::Pause, S::Accepted) => Some(S::Paused),
            (Action::Close, S::Pending | S::Accepted | S::Paused) => Some(S::Closed),
            _ => None,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Close => "close",
        }
    }
}

/// Held, on this node, around every check-then-write on subscriptions and their keys
/// (the one-plan-per-service rule, the shared key, reactivation), so two admin calls on
/// one node cannot both pass a check that only one of them should. Status transitions
/// are also checked by the store itself, across nodes.
static SUBSCRIPTION_WRITES: Mutex<()> = Mutex::new(());

/// Takes [`SUBSCRIPTION_WRITES`]; a panic while it was held left nothing half-done
/// (every write is one transaction), so a poisoned lock is still usable.
pub(super) fn subscription_writes() -> MutexGuard<'static, ()> {
    SUBSCRIPTION_WRITES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Whether a subscription still counts: not rejected or closed.
pub fn is_live(status: SubscriptionStatus) -> bool {
    !matches!(
        status,
        SubscriptionStatus::Rejected | SubscriptionStatus::Closed
    )
}

/// A new subscription id: `sub-` and 16 random hex digits.
fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|error| ApiError::Internal(format!("no randomness: {error}")))?;
    Ok(format!(
        "sub-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Every subscription of a consumer.
pub(super) fn all_of(
    store: &dyn Store,
    consumer: &str,
) -> keygate_store::Result<Vec<SubscriptionRecord>> {
    every_page(
        |page| store.subscriptions(Some(consumer), None, page),
        |s| s.id.clone(),
    )
}

/// Every key of a consumer.
pub(super) fn keys_of(store: &dyn Store, consumer: &str) -> keygate_store::Result<Vec<KeyRecord>> {
    every_page(|page| store.keys(Some(consumer), page), |k| k.id.clone())
}

/// `POST /v1/subscriptions` → 201, with the plaintext of the key created with it, if any.
pub async fn create(
    State(state): State<AdminState>,
    Body(body): Body<NewSubscription>,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    let key_mode = body.key_mode.unwrap_or(KeyMode::Own);
    let snapshot = state.sync.state().load();
    let service = snapshot
        .services
        .iter()
        .find(|s| *s.name == *body.service)
        .ok_or_else(|| ApiError::Invalid(format!("service `{}` not found", body.service)))?;
    let plan = service
        .plans
        .iter()
        .find(|p| *p.name == *body.plan)
        .ok_or_else(|| {
            ApiError::Invalid(format!(
                "service `{}` has no plan `{}`",
                body.service, body.plan
            ))
        })?;
    let status = if plan.auto_approve {
        SubscriptionStatus::Accepted
    } else {
        SubscriptionStatus::Pending
    };
    let id = match body.id {
        Some(id) if is_valid_name(&id) => id,
        Some(id) => {
            return Err(ApiError::Invalid(format!(
                "a subscription id uses letters, digits, `.`, `_` and `-` only, found `{id}`"
            )))
        }
        None => new_id()?,
    };
    let ends_at = body
        .ends_at
        .map(|t| parse_rfc3339(&t, "ends_at"))
        .transpose()?;
    let now = millis(SystemTime::now());
    if ends_at.is_some_and(|at| at <= now) {
        return Err(ApiError::Invalid(
            "ends_at is in the past: a subscription must end later than now".into(),
        ));
    }
    let record = SubscriptionRecord {
        id,
        consumer: body.consumer,
        service: body.service,
        plan: body.plan,
        status,
        key_mode,
        ends_at,
        created_at: now,
        updated_at: now,
        reason: None,
    };
    let custom = body.key.is_some();
    let plaintext = new_plaintext(body.key)?;
    state
        .write(move |store| {
            let _serialised = subscription_writes();
            if store.consumer(&record.consumer)?.is_none() {
                return Err(ApiError::Invalid(format!(
                    "consumer `{}` not found",
                    record.consumer
                )));
            }
            let needs_key = match key_mode {
                KeyMode::Own => true,
                KeyMode::Shared => {
                    check_shared(store, &record)?;
                    let has_shared = usable_shared_key(store, &record.consumer)?;
                    if has_shared && custom {
                        return Err(ApiError::Invalid(format!(
                            "consumer `{}` already has a shared key; `key` applies only to \
                             the first shared-key subscription",
                            record.consumer
                        )));
                    }
                    !has_shared
                }
            };
            let created = if needs_key {
                let hash = KeyHash::of(plaintext.as_bytes());
                let prefix = Some(display_prefix(&plaintext));
                let mut key = new_record(record.consumer.clone(), hash, prefix, None, now)?;
                match key_mode {
                    KeyMode::Own => {
                        key.subscription = Some(record.id.clone());
                        key.expires_at = record.ends_at;
                    }
                    KeyMode::Shared => key.shared = true,
                }
                Some((plaintext, key))
            } else {
                None
            };
            store.insert_subscription(&record, created.as_ref().map(|(_, key)| key))?;
            let mut shown = view(record);
            shown.key = created.map(|(plaintext, key)| {
                let mut shown = key_view(key);
                shown.key = Some(plaintext);
                shown
            });
            Ok((StatusCode::CREATED, Json(shown)))
        })
        .await
}

/// Whether the consumer has a shared key that is not revoked. When all its shared keys
/// are revoked, a new one may be made only if no live shared-key subscription would
/// take it: the new key must not bring back access that a revocation ended.
fn usable_shared_key(store: &dyn Store, consumer: &str) -> Result<bool, ApiError> {
    let shared: Vec<KeyRecord> = keys_of(store, consumer)?
        .into_iter()
        .filter(|k| k.shared)
        .collect();
    if shared.iter().any(|k| k.revoked_at.is_none()) {
        return Ok(true);
    }
    let Some(revoked) = shared.first() else {
        return Ok(false);
    };
    let live = all_of(store, consumer)?
        .into_iter()
        .find(|s| s.key_mode == KeyMode::Shared && is_live(s.status));
    match live {
        None => Ok(false),
        Some(live) => Err(ApiError::Invalid(format!(
            "consumer `{consumer}`'s shared key `{}` is revoked while its shared-key \
             subscription `{}` is {}; reactivate the key or close those subscriptions first",
            revoked.id,
            live.id,
            live.status.as_str()
        ))),
    }
}

/// A shared-key subscription is refused when the consumer already has a live one on the
/// same service.
fn check_shared(store: &dyn Store, new: &SubscriptionRecord) -> Result<(), ApiError> {
    let clash = all_of(store, &new.consumer)?
        .into_iter()
        .find(|s| s.key_mode == KeyMode::Shared && s.service == new.service && is_live(s.status));
    match clash {
        Some(other) => Err(ApiError::Invalid(format!(
            "consumer `{}` already uses its shared key on service `{}` (subscription `{}` to \
             plan `{}`); a shared key serves one plan per service, so subscribe with \
             key_mode `own`",
            new.consumer, new.service, other.id, other.plan
        ))),
        None => Ok(()),
    }
}

/// `GET /v1/subscriptions/{id}`.
pub async fn get(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let lookup = id.clone();
    match state.read(move |store| store.subscription(&lookup)).await? {
        Some(record) => Ok(Json(view(record))),
        None => Err(ApiError::NotFound(format!("subscription `{id}` not found"))),
    }
}

/// `?consumer=&service=&after=&limit=` of `GET /v1/subscriptions`.
#[derive(Debug, Deserialize)]
pub struct SubscriptionQuery {
    consumer: Option<String>,
    service: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/subscriptions?consumer=&service=`.
pub async fn list(
    State(state): State<AdminState>,
    Params(query): Params<SubscriptionQuery>,
) -> Result<Json<Listing<SubscriptionView>>, ApiError> {
    let page = PageQuery {
        after: query.after,
        limit: query.limit,
    }
    .page()?;
    let limit = page.limit;
    let records = state
        .read(move |store| {
            store.subscriptions(query.consumer.as_deref(), query.service.as_deref(), &page)
        })
        .await?;
    Ok(Json(listing(records, limit, |s| s.id.clone(), view)))
}

/// `POST /v1/subscriptions/{id}/{action}`: accept (with an optional custom `key`),
/// reject (with an optional `reason`), pause, resume or close; any other transition is
/// `409`.
pub async fn transition(
    State(state): State<AdminState>,
    Path((id, action)): Path<(String, String)>,
    OptionalBody(decision): OptionalBody<Decision>,
) -> Result<Json<SubscriptionView>, ApiError> {
    let action = Action::parse(&action).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no subscription action `{action}`; use accept, reject, pause, resume or close"
        ))
    })?;
    decision.check(action)?;
    let custom = decision
        .key
        .map(|key| new_plaintext(Some(key)))
        .transpose()?;
    state
        .write(move |store| {
            let _serialised = subscription_writes();
            let mut record = store
                .subscription(&id)?
                .ok_or_else(|| ApiError::NotFound(format!("subscription `{id}` not found")))?;
            let next = action.apply(record.status).ok_or_else(|| {
                ApiError::Conflict(format!(
                    "cannot {} subscription `{id}`: it is {}",
                    action.verb(),
                    record.status.as_str()
                ))
            })?;
            let expected = record.status;
            let now = millis(SystemTime::now());
            record.status = next;
            record.updated_at = now;
            if action == Action::Reject {
                record.reason = decision.reason;
            }
            if let Some(plaintext) = custom {
                return accept_with_key(store, record, expected, plaintext, now);
            }
            // The store writes only if the status is still the one checked here.
            store.update_subscription(&record, expected)?;
            Ok(Json(view(record)))
        })
        .await
}

/// Accepts an own-key subscription with a custom key, in one write: its keys still in
/// use (the one made when it was requested, or a renewal of it) end now, and the custom
/// key takes their place, with their description and labels (as a renewal with no grace
/// would). The answer holds the key's plaintext, once. The shared key is not set here:
/// it serves the consumer's other shared-key subscriptions too, so only its renewal by
/// the application's owner changes it.
fn accept_with_key(
    store: &dyn Store,
    record: SubscriptionRecord,
    expected: SubscriptionStatus,
    plaintext: String,
    now: keygate_store::Millis,
) -> Result<Json<SubscriptionView>, ApiError> {
    if record.key_mode == KeyMode::Shared {
        return Err(ApiError::Invalid(format!(
            "subscription `{}` uses consumer `{}`'s shared key, which serves its other \
             shared-key subscriptions too: `key` at accept is for own-key subscriptions; \
             the application's owner renews the shared key, with a custom key if wished \
             (POST /v1/keys/{{id}}/renew)",
            record.id, record.consumer
        )));
    }
    let replaced: Vec<KeyRecord> = keys_of(store, &record.consumer)?
        .into_iter()
        .filter(|k| {
            k.subscription.as_deref() == Some(record.id.as_str())
                && k.revoked_at.is_none()
                && k.expires_at.is_none_or(|at| at > now)
        })
        .collect();
    let hash = KeyHash::of(plaintext.as_bytes());
    let prefix = Some(display_prefix(&plaintext));
    let mut key = new_record(record.consumer.clone(), hash, prefix, None, now)?;
    key.subscription = Some(record.id.clone());
    key.expires_at = record.ends_at;
    if let Some(newest) = replaced.iter().max_by_key(|k| k.created_at) {
        key.description.clone_from(&newest.description);
        key.labels.clone_from(&newest.labels);
    }
    let ended: Vec<String> = replaced.into_iter().map(|k| k.id).collect();
    store.update_subscription_with_key(&record, expected, &ended, now, &key)?;
    let mut shown = view(record);
    let mut key = key_view(key);
    key.key = Some(plaintext);
    shown.key = Some(key);
    Ok(Json(shown))
}

/// `DELETE /v1/subscriptions/{id}` → 204: the subscription and its own keys go; the
/// consumer's shared key stays for its other subscriptions.
pub async fn delete(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |store| {
            let _serialised = subscription_writes();
            let record = store
                .subscription(&id)?
                .ok_or_else(|| ApiError::NotFound(format!("subscription `{id}` not found")))?;
            for key in keys_of(store, &record.consumer)? {
                if key.subscription.as_deref() == Some(&*id) {
                    store.delete_key(&key.id)?;
                }
            }
            store.delete_subscription(&id)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_legal_transitions() {
        use SubscriptionStatus as S;
        let all = [S::Pending, S::Accepted, S::Paused, S::Rejected, S::Closed];
        let legal = |action: Action| -> Vec<(S, S)> {
            all.iter()
                .filter_map(|&from| Some((from, action.apply(from)?)))
                .collect()
        };
        assert_eq!(legal(Action::Accept), [(S::Pending, S::Accepted)]);
        assert_eq!(legal(Action::Reject), [(S::Pending, S::Rejected)]);
        assert_eq!(legal(Action::Pause), [(S::Accepted, S::Paused)]);
        assert_eq!(legal(Action::Resume), [(S::Paused, S::Accepted)]);
        assert_eq!(
            legal(Action::Close),
            [
                (S::Pending, S::Closed),
                (S::Accepted, S::Closed),
                (S::Paused, S::Closed)
            ]
        );
    }
}
