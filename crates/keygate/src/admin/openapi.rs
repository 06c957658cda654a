//! `GET /v1/openapi.json`: the admin API described in OpenAPI 3.1, for clients and tools.

use axum::Json;
use serde_json::{json, Value};

fn error_responses() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let content = json!({"application/json": {"schema": error}});
    json!({
        "401": {"description": "No or wrong admin token", "content": content},
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

fn with_body(mut op: Value, schema: Value) -> Value {
    op["requestBody"] =
        json!({"required": true, "content": {"application/json": {"schema": schema}}});
    op
}

/// The document.
pub async fn document() -> Json<Value> {
    let consumer = json!({"$ref": "#/components/schemas/Consumer"});
    let key = json!({"$ref": "#/components/schemas/Key"});
    let service = json!({"type": "object", "description": "A service in the configuration file's shape: name, hosts, path_prefix, strip_prefix, preserve_host, upstream, key_sources, routes"});
    let list = |item: &Value| json!({"type": "object", "properties": {"data": {"type": "array", "items": item}, "next": {"type": ["string", "null"]}}});
    let name =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let string = json!({"type": "string"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    Json(json!({
        "openapi": "3.1.0",
        "info": {"title": "keygate admin API", "version": env!("CARGO_PKG_VERSION")},
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": {
            "/v1/consumers": {"get": operation("List consumers", "200", list(&consumer))},
            "/v1/consumers/{name}": {
                "parameters": name,
                "get": operation("Read a consumer", "200", consumer.clone()),
                "put": with_body(operation("Create (201) or replace (200) a consumer", "200", consumer.clone()), json!({"$ref": "#/components/schemas/ConsumerBody"})),
                "patch": with_body(operation("Change some fields of a consumer", "200", consumer.clone()), json!({"$ref": "#/components/schemas/ConsumerBody"})),
                "delete": operation("Delete a consumer (409 while it has keys)", "204", json!({}))
            },
            "/v1/consumers/{name}/keys": {
                "parameters": name,
                "post": with_body(operation("Create a key; the answer holds its plaintext, once", "201", key.clone()), json!({"type": "object", "properties": {"key": string, "id": string, "description": string, "active": {"type": "boolean"}, "expires_at": string, "labels": map}}))
            },
            "/v1/keys": {"get": operation("List keys (prefixes only)", "200", list(&key))},
            "/v1/keys/{id}": {
                "parameters": id,
                "get": operation("Read a key", "200", key.clone()),
                "patch": with_body(operation("Change active, description, expires_at, labels", "200", key.clone()), json!({"type": "object"})),
                "delete": operation("Delete a key", "204", json!({}))
            },
            "/v1/keys/{id}/revoke": {"parameters": id, "post": operation("Revoke a key for good", "200", key.clone())},
            "/v1/keys/{id}/renew": {"parameters": id, "post": with_body(operation("Replace a key; the old one works for the grace period (default 2h)", "201", key.clone()), json!({"type": "object", "properties": {"grace": string, "key": string, "description": string, "expires_at": string}}))},
            "/v1/services": {"get": operation("List services", "200", list(&service))},
            "/v1/services/{name}": {
                "parameters": name,
                "get": operation("Read a service", "200", service.clone()),
                "put": with_body(operation("Create (201) or replace (200) a service", "200", service.clone()), service.clone()),
                "delete": operation("Delete a service", "204", json!({}))
            },
            "/v1/verify": {"post": with_body(operation("Check a key without proxying", "200", json!({"$ref": "#/components/schemas/Verdict"})), json!({"type": "object", "required": ["key"], "properties": {"key": string}}))}
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "bearer": {"type": "http", "scheme": "bearer"}
            },
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": string, "message": string}}}},
                "ConsumerBody": {"type": "object", "properties": {"client_type": string, "groups": strings, "permissions": strings, "description": string, "metadata": map}},
                "Consumer": {"type": "object", "properties": {"name": string, "client_type": string, "groups": strings, "permissions": strings, "description": string, "metadata": map, "origin": {"enum": ["file", "api"]}, "created_at": string, "updated_at": string}},
                "Key": {"type": "object", "properties": {"id": string, "consumer": string, "key": {"type": "string", "description": "Only in the answer that created the key"}, "prefix": string, "status": {"enum": ["active", "disabled", "expired", "revoked"]}, "active": {"type": "boolean"}, "description": string, "labels": map, "origin": {"enum": ["file", "api"]}, "created_at": string, "expires_at": string, "revoked_at": string, "last_used_at": string}},
                "Verdict": {"type": "object", "properties": {"valid": {"type": "boolean"}, "code": {"enum": ["VALID", "NOT_FOUND", "DISABLED", "EXPIRED", "REVOKED"]}, "consumer": string, "client_type": string, "key_id": string, "expires_at": string}}
            }
        }
    }))
}
