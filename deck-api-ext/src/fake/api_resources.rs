//! Handlers of the plain resources: agents, sources, credentials, event destinations and their
//! deliveries, session tokens and `/test`. Reads, lists and deletes are the generic document
//! routes of `api`; what is here validates bodies and applies PATCH semantics.

// See `api`.
#![allow(clippy::result_large_err)]

use super::api::{
    Ctx, MaybeFault, PathId, Rid, decode_body, doc_id, empty_field, invalid, list_query,
    list_reply, missing, no_doc, patch_field,
};
use super::clock::rfc3339_ms;
use super::envelope::{self, RequestId};
use super::signing::tag;
use super::state::Kind;
use crate::webhook::Signer;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use deck_api::types;
use serde_json::{Map, Value, json};

/// The session token lifetime: "30 minutes after created_at".
const TOKEN_TTL_MS: i64 = 30 * 60 * 1000;
/// Deck's limits on `auth_credentials.source_fields`.
const MAX_SOURCE_FIELDS: usize = 10;

/// `GET /v2/test`.
pub(crate) async fn get_test(Extension(RequestId(rid)): Rid) -> Response {
    envelope::json(
        StatusCode::OK,
        &rid,
        json!({ "status": "ready", "environment": "live" }),
    )
}

/// `POST /v2/token`: a session token for the Auth Component, valid 30 minutes.
pub(crate) async fn create_session_token(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
) -> Response {
    let (id, at) = shared.store().token();
    let token = format!("tk_{}", tag(shared.secret, &["token", &id]));
    envelope::json(
        StatusCode::CREATED,
        &rid,
        json!({
            "id": id,
            "object": "token",
            "token": token,
            "expires_at": rfc3339_ms(at.saturating_add(TOKEN_TTL_MS)),
            "created_at": rfc3339_ms(at),
        }),
    )
}

/// A string field sent as `" "`.
fn blank(object: &Map<String, Value>, field: &str) -> bool {
    object
        .get(field)
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().is_empty())
}

// ---- agents --------------------------------------------------------------------------------

pub(crate) async fn create_agent(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    body: Bytes,
) -> Response {
    let (_, object) = match decode_body::<types::CreateAgentRequest>(&body, &["name"], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    let mut fields = Map::new();
    fields.insert(
        "name".into(),
        object.get("name").cloned().unwrap_or_default(),
    );
    fields.insert(
        "description".into(),
        object.get("description").cloned().unwrap_or(Value::Null),
    );
    fields.insert("tasks".into(), json!([]));
    let view = shared.store().create_doc(Kind::Agent, None, fields);
    envelope::json(StatusCode::CREATED, &rid, view)
}

pub(crate) async fn update_agent(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Agent) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (_, object) = match decode_body::<types::UpdateAgentRequest>(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    if blank(&object, "name") {
        return empty_field(&rid, "name");
    }
    let updated = shared.store().update_doc(Kind::Agent, &id, None, |agent| {
        patch_field(agent, &object, "name", false);
        patch_field(agent, &object, "description", true);
    });
    match updated {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => no_doc(&rid, Kind::Agent, &id),
    }
}

// ---- sources -------------------------------------------------------------------------------

pub(crate) async fn create_source(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    body: Bytes,
) -> Response {
    let (request, object) =
        match decode_body::<types::CreateSourceRequest>(&body, &["type", "website"], &rid) {
            Ok(decoded) => decoded,
            Err(response) => return response,
        };
    if request.website.url.trim().is_empty() {
        return missing(&rid, "website.url");
    }
    let mut fields = Map::new();
    fields.insert(
        "name".into(),
        object.get("name").cloned().unwrap_or(Value::Null),
    );
    fields.insert("type".into(), request.type_.into());
    fields.insert("website".into(), json!({ "url": request.website.url }));
    let view = shared.store().create_doc(Kind::Source, None, fields);
    envelope::json(StatusCode::CREATED, &rid, view)
}

pub(crate) async fn update_source(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Source) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (request, object) = match decode_body::<types::UpdateSourceRequest>(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    if request
        .website
        .as_ref()
        .is_some_and(|w| w.url.trim().is_empty())
    {
        return missing(&rid, "website.url");
    }
    let updated = shared
        .store()
        .update_doc(Kind::Source, &id, None, |source| {
            patch_field(source, &object, "name", true);
            if let Some(website) = &request.website {
                source.insert("website".into(), json!({ "url": website.url }));
            }
        });
    match updated {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => no_doc(&rid, Kind::Source, &id),
    }
}

// ---- credentials ---------------------------------------------------------------------------

/// The summary of `auth_credentials` a credential returns: the username and the source
/// fields, never the password (nothing else is even stored).
fn auth_summary(rid: &str, method: &str, given: Option<&Value>) -> Result<Value, Response> {
    let given = given.filter(|v| !v.is_null());
    let Some(given) = given else {
        if method == "username_password" {
            return Err(missing(rid, "auth_credentials"));
        }
        return Ok(json!({}));
    };
    let Some(given) = given.as_object() else {
        return Err(invalid(
            rid,
            "auth_credentials",
            "`auth_credentials` must be an object.",
        ));
    };
    let mut summary = Map::new();
    if method == "username_password" {
        for field in ["username", "password"] {
            let present = given
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !present {
                return Err(missing(rid, &format!("auth_credentials.{field}")));
            }
        }
        summary.insert("username".into(), given["username"].clone());
    }
    if let Some(fields) = given.get("source_fields").filter(|v| !v.is_null()) {
        let field = "auth_credentials.source_fields";
        let Some(fields) = fields.as_object() else {
            return Err(invalid(rid, field, "`source_fields` must be an object."));
        };
        if fields.len() > MAX_SOURCE_FIELDS {
            return Err(invalid(
                rid,
                field,
                format!("At most {MAX_SOURCE_FIELDS} source fields are allowed."),
            ));
        }
        for key in fields.keys() {
            if !valid_source_field(key) || ["username", "password"].contains(&key.as_str()) {
                return Err(invalid(
                    rid,
                    field,
                    format!(
                        "Source field '{key}' must match ^[a-z][a-z0-9_]{{0,63}}$ and must not be a reserved key."
                    ),
                ));
            }
        }
        summary.insert("source_fields".into(), Value::Object(fields.clone()));
    }
    Ok(Value::Object(summary))
}

/// `^[a-z][a-z0-9_]{0,63}$`.
fn valid_source_field(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && key.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn auth_method(rid: &str, given: Option<&str>) -> Result<String, Response> {
    match given.unwrap_or("none") {
        method @ ("none" | "username_password") => Ok(method.to_owned()),
        other => Err(invalid(
            rid,
            "auth_method",
            format!("`auth_method` must be username_password or none (got '{other}')."),
        )),
    }
}

pub(crate) async fn create_credential(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    body: Bytes,
) -> Response {
    let (request, object) =
        match decode_body::<types::CreateCredentialRequest>(&body, &["source_id"], &rid) {
            Ok(decoded) => decoded,
            Err(response) => return response,
        };
    let method = match auth_method(&rid, request.auth_method.as_deref()) {
        Ok(method) => method,
        Err(response) => return response,
    };
    let summary = match auth_summary(&rid, &method, object.get("auth_credentials")) {
        Ok(summary) => summary,
        Err(response) => return response,
    };
    let mut fields = Map::new();
    fields.insert("status".into(), "unverified".into());
    fields.insert(
        "external_id".into(),
        object.get("external_id").cloned().unwrap_or(Value::Null),
    );
    fields.insert("source_id".into(), request.source_id.into());
    fields.insert("auth_method".into(), method.into());
    fields.insert("auth_credentials".into(), summary);
    let view = shared.store().create_doc(Kind::Credential, None, fields);
    envelope::json(StatusCode::CREATED, &rid, view)
}

pub(crate) async fn update_credential(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Credential) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (_, object) = match decode_body::<types::UpdateCredentialRequest>(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    let mut store = shared.store();
    let Some(credential) = store.doc(Kind::Credential, &id) else {
        return no_doc(&rid, Kind::Credential, &id);
    };
    if credential.str("status") == Some("deleted") {
        return envelope::ApiError::new(
            "request",
            "credential_deleted",
            format!("Credential '{id}' has been deleted and can no longer be changed."),
        )
        .respond(StatusCode::CONFLICT, &rid);
    }
    let method = credential.str("auth_method").unwrap_or("none").to_owned();
    let summary = match object.get("auth_credentials").filter(|v| !v.is_null()) {
        None => None,
        Some(given) => match auth_summary(&rid, &method, Some(given)) {
            Ok(summary) => Some(summary),
            Err(response) => return response,
        },
    };
    let updated = store.update_doc(Kind::Credential, &id, None, |credential| {
        patch_field(credential, &object, "external_id", true);
        if let Some(summary) = summary {
            // New secrets have not been tried yet.
            credential.insert("auth_credentials".into(), summary);
            credential.insert("status".into(), "unverified".into());
        }
    });
    drop(store);
    match updated {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => no_doc(&rid, Kind::Credential, &id),
    }
}

// ---- event destinations --------------------------------------------------------------------

/// The destination types and the configuration keys each returns (credential fields sent
/// alongside them are never returned).
const DESTINATION_TYPES: &[(&str, &[&str])] = &[
    ("webhook", &["url", "custom_headers", "secret"]),
    ("aws_sqs", &["queue_url"]),
    ("aws_kinesis", &["stream_name", "region"]),
    ("aws_s3", &["bucket", "region"]),
    ("aws_eventbridge", &["event_bus_name", "region"]),
    ("gcp_pubsub", &["project_id", "topic"]),
    ("rabbitmq", &["exchange", "server_url"]),
    ("azure_servicebus", &["name"]),
    ("hookdeck", &[]),
];

fn returned_keys(destination_type: &str) -> Option<&'static [&'static str]> {
    DESTINATION_TYPES
        .iter()
        .find(|(t, _)| *t == destination_type)
        .map(|(_, keys)| *keys)
}

/// `events`: absent or `null` → `["*"]` on create; an empty list, or `*` with other types,
/// is refused.
fn events_field(rid: &str, given: Option<&Value>) -> Result<Option<Value>, Response> {
    let Some(given) = given.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let names: Vec<&str> = given
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if names.is_empty() {
        return Err(invalid(rid, "events", "`events` must not be empty."));
    }
    if names.len() > 1 && names.contains(&"*") {
        return Err(invalid(
            rid,
            "events",
            "`*` subscribes to every event type and cannot be combined with specific types.",
        ));
    }
    Ok(Some(given.clone()))
}

/// Refuses the configuration object of a type other than `destination_type`.
fn foreign_config(
    rid: &str,
    object: &Map<String, Value>,
    destination_type: &str,
) -> Result<(), Response> {
    for (other, _) in DESTINATION_TYPES {
        let sent = object.get(*other).is_some_and(|v| !v.is_null());
        if *other != destination_type && sent {
            return Err(invalid(
                rid,
                other,
                format!(
                    "A `{destination_type}` destination takes its configuration in `{destination_type}`, not `{other}`."
                ),
            ));
        }
    }
    Ok(())
}

/// A webhook signing secret given in the request must be one the fake can sign with:
/// `whsec_` followed by base64 (Standard Webhooks); a generated one always is.
fn check_secret(
    rid: &str,
    destination_type: &str,
    given: &Map<String, Value>,
) -> Result<(), Response> {
    match given.get("secret") {
        Some(Value::String(secret))
            if destination_type == "webhook" && Signer::new(secret).is_err() =>
        {
            Err(invalid(
                rid,
                "webhook.secret",
                "`webhook.secret` must be `whsec_` followed by base64.",
            ))
        }
        _ => Ok(()),
    }
}

/// The configuration object as returned: the type's documented keys of `merged`; a webhook's
/// `secret` is generated (`whsec_…`) when none was given.
fn config_view(
    secret: u64,
    id: &str,
    destination_type: &str,
    merged: &Map<String, Value>,
) -> Value {
    let keys = returned_keys(destination_type).unwrap_or_default();
    let mut out = Map::new();
    for key in keys {
        out.insert(
            (*key).to_owned(),
            merged.get(*key).cloned().unwrap_or(Value::Null),
        );
    }
    if destination_type == "webhook" && !out.get("secret").is_some_and(Value::is_string) {
        // 32 hex digits are valid base64 (24 bytes), as Standard Webhooks secrets are.
        let generated = format!(
            "whsec_{}{}",
            tag(secret, &["whsec", id, "1"]),
            tag(secret, &["whsec", id, "2"])
        );
        out.insert("secret".into(), generated.into());
    }
    Value::Object(out)
}

pub(crate) async fn create_event_destination(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    body: Bytes,
) -> Response {
    let (_, object) =
        match decode_body::<types::CreateEventDestinationRequest>(&body, &["name"], &rid) {
            Ok(decoded) => decoded,
            Err(response) => return response,
        };
    let destination_type = object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("webhook")
        .to_owned();
    if returned_keys(&destination_type).is_none() {
        return invalid(
            &rid,
            "type",
            format!("Unknown destination type '{destination_type}'."),
        );
    }
    if let Err(response) = foreign_config(&rid, &object, &destination_type) {
        return response;
    }
    let Some(config) = object.get(&destination_type).and_then(Value::as_object) else {
        return missing(&rid, &destination_type);
    };
    let url = config
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if destination_type == "webhook" && url.trim().is_empty() {
        return missing(&rid, "webhook.url");
    }
    if let Err(response) = check_secret(&rid, &destination_type, config) {
        return response;
    }
    let events = match events_field(&rid, object.get("events")) {
        Ok(events) => events.unwrap_or_else(|| json!(["*"])),
        Err(response) => return response,
    };
    let mut store = shared.store();
    let id = store.mint_id(Kind::EventDestination);
    let mut fields = Map::new();
    fields.insert(
        "name".into(),
        object.get("name").cloned().unwrap_or_default(),
    );
    fields.insert("status".into(), "active".into());
    fields.insert("type".into(), destination_type.clone().into());
    fields.insert("events".into(), events);
    fields.insert(
        destination_type.clone(),
        config_view(shared.secret, &id, &destination_type, config),
    );
    let view = store.create_doc(Kind::EventDestination, Some(id), fields);
    drop(store);
    envelope::json(StatusCode::CREATED, &rid, view)
}

pub(crate) async fn update_event_destination(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::EventDestination) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (_, object) = match decode_body::<types::UpdateEventDestinationRequest>(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    if let Some(status) = object.get("status").and_then(Value::as_str)
        && !["active", "inactive"].contains(&status)
    {
        return invalid(
            &rid,
            "status",
            format!("`status` must be active or inactive (got '{status}')."),
        );
    }
    let events = match events_field(&rid, object.get("events")) {
        Ok(events) => events,
        Err(response) => return response,
    };
    let mut store = shared.store();
    let Some(current) = store.doc(Kind::EventDestination, &id) else {
        return no_doc(&rid, Kind::EventDestination, &id);
    };
    let destination_type = current.str("type").unwrap_or("webhook").to_owned();
    if let Err(response) = foreign_config(&rid, &object, &destination_type) {
        return response;
    }
    let config = match object.get(&destination_type).filter(|v| !v.is_null()) {
        None => None,
        Some(Value::Object(given)) => {
            if let Err(response) = check_secret(&rid, &destination_type, given) {
                return response;
            }
            let mut merged = current
                .body
                .get(&destination_type)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            merged.extend(given.clone());
            Some(config_view(shared.secret, &id, &destination_type, &merged))
        }
        Some(_) => {
            return invalid(
                &rid,
                &destination_type,
                format!("`{destination_type}` must be an object."),
            );
        }
    };
    let updated = store.update_doc(Kind::EventDestination, &id, None, |destination| {
        patch_field(destination, &object, "name", true);
        patch_field(destination, &object, "status", false);
        if let Some(events) = events {
            destination.insert("events".into(), events);
        }
        if let Some(config) = config {
            destination.insert(destination_type, config);
        }
    });
    drop(store);
    match updated {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => no_doc(&rid, Kind::EventDestination, &id),
    }
}

/// `GET /v2/event-destinations/{id}/event-deliveries`: the deliveries the fake recorded for the
/// destination, newest first (one per event it was subscribed to while active).
pub(crate) async fn list_event_deliveries(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: PathId,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let id = match doc_id(path, &rid, Kind::EventDestination) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let query = match list_query(
        &shared,
        &rid,
        &uri,
        query.as_deref(),
        Kind::Delivery.filters(),
    ) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let page = {
        let store = shared.store();
        if !store.has_doc(Kind::EventDestination, &id) {
            return no_doc(&rid, Kind::EventDestination, &id);
        }
        store.list_docs(Kind::Delivery, &query, |delivery| {
            delivery.str("event_destination_id") == Some(id.as_str())
        })
    };
    list_reply(&shared, &rid, fault, &query, Kind::Delivery.order(), page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_field_names() {
        for good in ["a", "company_id", "t1", &"a".repeat(64)] {
            assert!(valid_source_field(good), "{good}");
        }
        for bad in ["", "1a", "_a", "Company", "a-b", &"a".repeat(65)] {
            assert!(!valid_source_field(bad), "{bad}");
        }
    }

    #[test]
    fn generated_webhook_secrets_are_base64() {
        let view = config_view(7, "evtd_1", "webhook", &Map::new());
        let secret = view["secret"].as_str().unwrap();
        let body = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(body.len(), 32);
        assert!(body.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(view["url"], Value::Null);
        let given = config_view(
            7,
            "evtd_1",
            "aws_sqs",
            json!({ "queue_url": "q", "secret_access_key": "s" })
                .as_object()
                .unwrap(),
        );
        assert_eq!(given, json!({ "queue_url": "q" }));
    }
}
