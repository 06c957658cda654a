//! `GET /v1/openapi.json`: the admin API described in OpenAPI 3.1, for clients and tools.

use axum::Json;
use serde_json::{json, Value};

fn error_responses() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let content = json!({"application/json": {"schema": error}});
    json!({
        "401": {"description": "No or wrong admin token, scoped token or session", "content": content},
        "403": {"description": "The caller's role may not do this (or a cookie-authenticated write without X-CSRF-Token)", "content": content},
        "404": {"description": "Not found", "content": content},
        "409": {"description": "Conflict, or still referenced, or owned by the configuration file", "content": content},
        "422": {"description": "Invalid body or field", "content": content},
        "503": {"description": "Store unavailable; nothing was written", "content": content}
    })
}

fn operation(summary: &str, ok: &str, schema: Value) -> Value {
    let mut responses = error_responses();
    responses[ok] =
        json!({"description": summary, "content": {"application/json": {"schema": schema}}});
    json!({"summary": summary, "responses": responses})
}

/// An operation that needs no admin token.
fn open(summary: &str, schema: Value) -> Value {
    json!({"summary": summary, "security": [], "responses": {"200": {"description": summary, "content": {"application/json": {"schema": schema}}}}})
}

/// A page or file of the console, served without a token.
fn page(summary: &str) -> Value {
    json!({"summary": summary, "security": [], "responses": {"200": {"description": summary}}})
}

fn with_body(mut op: Value, schema: Value) -> Value {
    op["requestBody"] =
        json!({"required": true, "content": {"application/json": {"schema": schema}}});
    op
}

/// An operation whose JSON body may be left out.
fn optional_body(op: Value, schema: Value) -> Value {
    let mut op = with_body(op, schema);
    op["requestBody"]["required"] = json!(false);
    op
}

/// The answer of `GET /v1/services/{name}/health`.
fn service_health_schema() -> Value {
    let string = json!({"type": "string"});
    let count = json!({"type": "integer", "minimum": 0});
    let state = json!({"enum": ["up", "down"]});
    let last_check = json!({"type": ["object", "null"], "properties": {
        "result": {"enum": ["healthy", "unhealthy_status", "connect_failure", "timeout"]},
        "status": {"type": ["integer", "null"]},
        "at": string
    }});
    let active = json!({"type": ["object", "null"], "properties": {
        "state": state, "since": string, "checks": count,
        "consecutive_successes": count, "consecutive_failures": count,
        "consecutive_timeouts": count, "last_check": last_check
    }});
    let target = json!({"type": "object", "properties": {
        "target": string, "address": string, "state": state,
        "source": {"enum": ["active", "passive", null]},
        "active": active,
        "passive": {"type": "object", "properties": {"state": state}}
    }});
    json!({"type": "object", "properties": {
        "service": string, "health_check": {"type": "boolean"},
        "healthy_targets": count,
        "targets": {"type": "array", "items": target}
    }})
}

/// `GET /v1/usage`: its query parameters and its answer.
fn usage_operation() -> Value {
    let string = json!({"type": "string"});
    let count = json!({"type": "integer", "minimum": 0});
    let param = |name: &str, schema: Value, about: &str| json!({"name": name, "in": "query", "required": false, "schema": schema, "description": about});
    let bucket = json!({"type": "object", "properties": {
        "start": string, "consumer": string, "key_id": string, "service": string,
        "requests": count, "allowed": count,
        "refused": {"type": "object", "additionalProperties": count, "description": "Calls refused, by reason (missing_key, key_not_found, forbidden, rate_limited, ...)"}
    }});
    let mut op = operation(
        "Calls per hour or day, per key or consumer: allowed, and refused by reason",
        "200",
        json!({"type": "object", "properties": {
            "granularity": {"enum": ["hour", "day"]}, "since": string, "until": string,
            "data": {"type": "array", "items": bucket}
        }}),
    );
    op["parameters"] = json!([
        param("consumer", string.clone(), "Only this consumer's calls"),
        param("key_id", string.clone(), "Only this key's calls"),
        param(
            "service",
            string.clone(),
            "Only calls to this service (buckets then name it)"
        ),
        param(
            "since",
            string.clone(),
            "RFC 3339; default until minus a day (hours) or 30 days (days)"
        ),
        param("until", string.clone(), "RFC 3339; default now"),
        param(
            "granularity",
            json!({"enum": ["hour", "day"]}),
            "Bucket width (default hour)"
        ),
        param(
            "group",
            json!({"enum": ["key", "consumer"]}),
            "One bucket per key (default) or per consumer"
        )
    ]);
    op
}

/// `GET /v1/services/{name}/routes/{route}/callers`.
fn callers_operation() -> Value {
    let string = json!({"type": "string"});
    let strings = json!({"type": "array", "items": string});
    let verdict = json!({"type": "object", "properties": {
        "verdict": {"enum": ["yes", "no", "depends"]},
        "on": {"type": "array", "items": string, "description": "The request facts the rest reads"},
        "parts": {"type": "array", "items": string, "description": "The undecided parts of the expressions"},
        "rest": {"type": "string", "description": "What is left to decide"}
    }});
    let key = json!({"allOf": [verdict, {"type": "object", "properties": {"id": string, "plans": strings}}]});
    let mut op = operation(
        "Who can call a route: consumers, keys and client types its auth, allow expression, plans and subscriptions let through, from the proxy's state",
        "200",
        json!({"type": "object", "properties": {
            "service": string, "route": string, "auth": {"enum": ["required", "optional", "none"]},
            "allow": {"type": ["string", "null"]}, "plans": strings,
            "anonymous": {"allOf": [verdict, {"type": "object", "properties": {"consumer": {"type": "string", "description": "The service's anonymous consumer, which calls without a key go on as"}}}]},
            "client_types": {"type": "array", "items": {"type": "object", "properties": {"client_type": string, "verdict": {"enum": ["yes", "depends"]}}}},
            "consumers": {"type": "array", "items": {"type": "object", "properties": {"name": string, "client_type": string, "verdict": {"enum": ["yes", "depends"]}, "keys": {"type": "array", "items": key}}}},
            "keys_checked": {"type": "integer"}, "truncated": {"type": "boolean"}
        }}),
    );
    op["parameters"] = json!([{"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 10000}, "description": "Consumers listed at most (default 1000)"}]);
    op
}

/// The paths of sessions, accounts, tokens, owners and the audit log (docs/console.md).
fn account_paths() -> Value {
    let string = json!({"type": "string"});
    let name =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let list = |item: &Value| json!({"type": "object", "properties": {"data": {"type": "array", "items": item}, "next": {"type": ["string", "null"]}}});
    let role = json!({"enum": ["admin", "publisher", "owner"]});
    let account = json!({"type": "object", "properties": {"name": string, "role": role, "has_password": {"type": "boolean"}, "disabled": {"type": "boolean"}, "created_at": string, "updated_at": string}});
    let token = json!({"type": "object", "properties": {"id": string, "account": string, "prefix": string, "description": string, "created_at": string, "expires_at": string, "revoked_at": string, "token": {"type": "string", "description": "kgtok_…; only in the answer that created the token"}}});
    let session = json!({"type": "object", "properties": {"account": {"type": ["string", "null"]}, "role": role, "csrf_token": string}});
    let owner = json!({"type": "object", "properties": {"kind": {"enum": ["consumer", "service"]}, "name": string, "account": {"type": ["string", "null"]}}});
    let owner_body = json!({"type": "object", "required": ["account"], "properties": {"account": {"type": ["string", "null"]}}});
    let audit = json!({"type": "object", "properties": {"id": string, "at": string, "actor": string, "action": string, "entity_kind": string, "entity": string, "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]}}});
    let mut sign_in = open("Sign in with an account's password or a token: sets the keygate_session cookie (HttpOnly, SameSite=Strict, Secure over TLS); 401 for bad credentials, 429 with Retry-After past the sign-in limit", session.clone());
    sign_in["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"account": string, "password": string, "token": string}}}}});
    json!({
        "/v1/session": {
            "get": open("The session of the keygate_session cookie (401 without one)", session),
            "post": sign_in,
            "delete": {"summary": "Sign out: ends the session and clears the cookie", "security": [], "responses": {"204": {"description": "Signed out"}}}
        },
        "/v1/accounts": {
            "get": operation("List accounts (admin)", "200", list(&account)),
            "post": with_body(operation("Create an account (admin); 409 when the name is taken", "201", account.clone()), json!({"type": "object", "required": ["name", "role"], "properties": {"name": string, "role": role, "password": string, "disabled": {"type": "boolean"}}}))
        },
        "/v1/accounts/{name}": {
            "parameters": name,
            "get": operation("Read an account (admin)", "200", account.clone()),
            "patch": with_body(operation("Change role, password (null removes it) or disabled (admin); ends the account's sessions", "200", account.clone()), json!({"type": "object", "properties": {"role": role, "password": {"type": ["string", "null"]}, "disabled": {"type": "boolean"}}})),
            "delete": operation("Delete an account and its tokens (admin); 409 while it owns consumers or services", "204", json!({}))
        },
        "/v1/accounts/{name}/tokens": {"parameters": name, "post": with_body(operation("Create a scoped token of the account (admin); the answer holds it, once", "201", token.clone()), json!({"type": "object", "properties": {"description": string, "expires_at": string}}))},
        "/v1/tokens": {"get": operation("List scoped tokens (?account=) (admin)", "200", list(&token))},
        "/v1/tokens/{id}/revoke": {"parameters": id, "post": operation("Revoke a scoped token for good (admin)", "200", token)},
        "/v1/consumers/{name}/owner": {
            "parameters": name,
            "get": operation("The account owning a consumer (admin)", "200", owner.clone()),
            "put": with_body(operation("Give a consumer to an owner account, or to none (admin)", "200", owner.clone()), owner_body.clone())
        },
        "/v1/services/{name}/owner": {
            "parameters": name,
            "get": operation("The account owning a service (admin)", "200", owner.clone()),
            "put": with_body(operation("Give a service to a publisher account, or to none (admin)", "200", owner), owner_body)
        },
        "/v1/audit": {"get": operation("The audit log, newest first (?entity_kind=&entity=&since=&before=&limit=) (admin)", "200", list(&audit))}
    })
}

/// The document.
pub async fn document() -> Json<Value> {
    let consumer = json!({"$ref": "#/components/schemas/Consumer"});
    let key = json!({"$ref": "#/components/schemas/Key"});
    let key_limits = json!({"type": ["array", "null"], "items": {"type": "object", "properties": {"count": {"type": "integer"}, "per": {"type": "string"}, "by": {"type": "string"}, "name": {"type": "string"}, "kind": {"enum": ["rate", "quota"]}}, "required": ["count", "per"]}});
    let refill = json!({"type": ["object", "null"], "properties": {"amount": {"type": "integer", "minimum": 1}, "per": {"enum": ["day", "month"]}}, "required": ["amount", "per"]});
    let plan = json!({"$ref": "#/components/schemas/Plan"});
    let subscription = json!({"$ref": "#/components/schemas/Subscription"});
    let plan_path = json!([
        {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "plan", "in": "path", "required": true, "schema": {"type": "string"}}
    ]);
    let action = json!([
        {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "action", "in": "path", "required": true, "schema": {"enum": ["accept", "reject", "pause", "resume", "close"]}}
    ]);
    let service = json!({"type": "object", "description": "A service in the configuration file's shape: name, hosts, path_prefix, strip_prefix, preserve_host, upstream, key_sources, routes"});
    let list = |item: &Value| json!({"type": "object", "properties": {"data": {"type": "array", "items": item}, "next": {"type": ["string", "null"]}}});
    let name =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let string = json!({"type": "string"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {"title": "keygate admin API", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            "/v1/consumers": {
                "get": operation("List consumers", "200", list(&consumer)),
                "post": with_body(operation("Create a consumer (201); 409 when one of that name exists", "201", consumer.clone()), json!({"allOf": [{"$ref": "#/components/schemas/ConsumerBody"}, {"type": "object", "required": ["name"], "properties": {"name": string}}]}))
            },
            "/v1/consumers/{name}": {
                "parameters": name,
                "get": operation("Read a consumer", "200", consumer.clone()),
                "put": with_body(operation("Create (201) or replace (200) a consumer", "200", consumer.clone()), json!({"$ref": "#/components/schemas/ConsumerBody"})),
                "patch": with_body(operation("Change some fields of a consumer", "200", consumer.clone()), json!({"$ref": "#/components/schemas/ConsumerBody"})),
                "delete": operation("Delete a consumer (409 while it has keys or subscriptions; ?cascade=true deletes them first)", "204", json!({}))
            },
            "/v1/consumers/{name}/keys": {
                "parameters": name,
                "post": with_body(operation("Create a key; the answer holds its plaintext, once", "201", key.clone()), json!({"type": "object", "properties": {"key": string, "id": string, "description": string, "active": {"type": "boolean"}, "expires_at": string, "labels": map, "limits": key_limits, "credits": {"type": ["integer", "null"], "minimum": 0}, "refill": refill}}))
            },
            "/v1/keys": {"get": operation("List keys (prefixes only)", "200", list(&key))},
            "/v1/keys/{id}": {
                "parameters": id,
                "get": operation("Read a key", "200", key.clone()),
                "patch": with_body(operation("Change active, description, expires_at, labels, limits, credits, refill", "200", key.clone()), json!({"type": "object", "properties": {"active": {"type": "boolean"}, "description": string, "expires_at": string, "labels": map, "limits": key_limits, "credits": {"type": ["integer", "null"], "minimum": 0}, "refill": refill}})),
                "delete": operation("Delete a key", "204", json!({}))
            },
            "/v1/keys/{id}/revoke": {"parameters": id, "post": operation("Revoke a key for good", "200", key.clone())},
            "/v1/keys/{id}/renew": {"parameters": id, "post": with_body(operation("Replace a key; the old one works for the grace period (default 2h)", "201", key.clone()), json!({"type": "object", "properties": {"grace": string, "key": string, "description": string, "expires_at": string}}))},
            "/v1/keys/{id}/reactivate": {"parameters": id, "post": operation("Undo the revocation of a subscription's key while its subscription is accepted or paused", "200", key.clone())},
            "/v1/services/{name}/plans": {"parameters": name, "get": operation("A service's plans, in the order they are tried", "200", json!({"type": "object", "properties": {"data": {"type": "array", "items": plan}}}))},
            "/v1/services/{name}/plans/{plan}": {
                "parameters": plan_path,
                "get": operation("Read a plan", "200", plan.clone()),
                "put": with_body(operation("Create (201, tried last) or replace (200) a plan", "200", plan.clone()), plan.clone()),
                "delete": operation("Delete a plan (409 while it has pending, accepted or paused subscriptions)", "204", json!({}))
            },
            "/v1/subscriptions": {
                "get": operation("List subscriptions (?consumer=&service=)", "200", list(&subscription)),
                "post": with_body(operation("Subscribe a consumer to a plan; the answer holds the key made with it, once", "201", subscription.clone()), json!({"type": "object", "required": ["consumer", "service", "plan"], "properties": {"consumer": string, "service": string, "plan": string, "key_mode": {"enum": ["own", "shared"]}, "key": string, "ends_at": string, "id": string}}))
            },
            "/v1/subscriptions/{id}": {
                "parameters": id,
                "get": operation("Read a subscription", "200", subscription.clone()),
                "delete": operation("Delete a subscription and its own key", "204", json!({}))
            },
            "/v1/subscriptions/{id}/{action}": {"parameters": action, "post": optional_body(operation("A legal transition (else 409): accept, with an optional custom key for an own-key subscription (the answer holds it, once); reject, with an optional reason for the application's owner; pause, resume, close", "200", subscription.clone()), json!({"type": "object", "properties": {"key": {"type": "string", "description": "accept only: a custom key, in place of the one made with the subscription"}, "reason": {"type": "string", "minLength": 1, "maxLength": crate::subscription_reason::MOST_CHARACTERS, "description": "reject only: why, shown to the application's owner"}}}))},
            "/v1/services": {"get": operation("List services", "200", list(&service))},
            "/v1/services/{name}": {
                "parameters": name,
                "get": operation("Read a service", "200", service.clone()),
                "put": with_body(operation("Create (201) or replace (200) a service", "200", service.clone()), service.clone()),
                "delete": operation("Delete a service", "204", json!({}))
            },
            "/v1/services/{name}/health": {"parameters": name, "get": operation("The health of a service's targets on this node: state, and whether active checks or passive failures hold a down one down", "200", json!({"$ref": "#/components/schemas/ServiceHealth"}))},
            "/v1/services/{name}/routes/{route}/callers": {"parameters": [
                {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "route", "in": "path", "required": true, "schema": {"type": "string"}}
            ], "get": callers_operation()},
            "/v1/verify": {"post": with_body(operation("Check a key without proxying", "200", json!({"$ref": "#/components/schemas/Verdict"})), json!({"type": "object", "required": ["key"], "properties": {"key": string, "service": string}}))},
            "/v1/export": {"get": operation("Everything the store holds, as a valid configuration file (key hashes, never keys); revision in X-Keygate-Revision; ?origin=true adds each entity's origin", "200", json!({"type": "object"}))},
            "/v1/usage": {"get": usage_operation()},
            "/v1/openapi.json": {"get": open("This document", json!({"type": "object"}))},
            "/healthz": {"get": open("The process is up", json!({"type": "object"}))},
            "/readyz": {"get": open("200 once the state is loaded, 503 before (and, with admin.readyz_requires_healthy_targets, while a health-checked service has no healthy target)", json!({"type": "object"}))},
            "/metrics": {"get": open("Prometheus text exposition", json!({"type": "string"}))},
            "/ui": {"get": page("308 to /ui/")},
            "/ui/": {"get": page("The console and developer portal (HTML; docs/console.md)")},
            "/ui/{file}": {"parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string"}}], "get": page("A file of the console: a script, the style sheet, an image")}
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "bearer": {"type": "http", "scheme": "bearer"}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": string, "message": string}}}},
                "ConsumerBody": {"type": "object", "properties": {"client_type": string, "groups": strings, "permissions": strings, "description": string, "metadata": map, "limits": key_limits}},
                "Consumer": {"type": "object", "properties": {"name": string, "client_type": string, "groups": strings, "permissions": strings, "description": string, "metadata": map, "limits": key_limits, "origin": {"enum": ["file", "api"]}, "created_at": string, "updated_at": string}},
                "Key": {"type": "object", "properties": {"id": string, "consumer": string, "key": {"type": "string", "description": "Only in the answer that created the key"}, "prefix": string, "status": {"enum": ["active", "disabled", "expired", "revoked"]}, "active": {"type": "boolean"}, "description": string, "labels": map, "origin": {"enum": ["file", "api"]}, "created_at": string, "expires_at": string, "revoked_at": string, "last_used_at": string, "subscription": string, "shared": {"type": "boolean"}, "limits": key_limits, "credits": {"type": "object", "properties": {"amount": {"type": "integer"}, "set_at": {"type": "integer", "description": "ms since the epoch"}, "refill": refill}}}},
                "Plan": {"type": "object", "properties": {"name": string, "selection_rule": string, "forward_key": {"type": "boolean"}, "auto_approve": {"type": "boolean"}, "description": string}},
                "Subscription": {"type": "object", "properties": {"id": string, "consumer": string, "service": string, "plan": string, "status": {"enum": ["pending", "accepted", "paused", "rejected", "closed"]}, "key_mode": {"enum": ["own", "shared"]}, "ends_at": string, "created_at": string, "updated_at": string, "reason": {"type": ["string", "null"], "description": "Why it was rejected, when the publisher said"}, "key": key}},
                "ServiceHealth": service_health_schema(),
                "Verdict": {"type": "object", "properties": {"valid": {"type": "boolean"}, "code": {"enum": ["VALID", "NOT_FOUND", "DISABLED", "EXPIRED", "REVOKED", "RATE_LIMITED"]}, "consumer": string, "client_type": string, "key_id": string, "expires_at": string, "limits": {"type": "array", "items": {"type": "object", "properties": {"name": string, "service": string, "plan": string, "limit": {"type": "integer"}, "window": {"type": "integer"}, "remaining": {"type": "integer"}, "reset": {"type": "integer"}}}}}}
            }
        }
    });
    if let (Some(paths), Value::Object(more)) = (document["paths"].as_object_mut(), account_paths())
    {
        paths.extend(more);
    }
    Json(document)
}
