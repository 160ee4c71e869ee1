//! The Deck API listener: routes and handlers for the operations in `spec/`.

// Handlers return early with the finished error `Response`, as axum's own extractors do; boxing
// it would only add noise to a cold path.
#![allow(clippy::result_large_err)]

use super::cursor;
use super::envelope::{self, ApiError, RequestId};
use super::fault_layer::{self, ActiveFault, FaultScope};
use super::faults::{Fault, Route};
use super::front;
use super::idempotency;
use super::record::query_pairs;
use super::render::{self, Includes};
use super::seed::{TaskSeed, valid_id};
use super::shared::Shared;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, patch, post};
use bytes::Bytes;
use deck_api::patch::Patch;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: i32 = 20;
/// Largest page size.
const MAX_LIMIT: i32 = 100;

type Ctx = State<Arc<Shared>>;
type Rid = Extension<RequestId>;
type MaybeFault = Option<Extension<ActiveFault>>;

/// The API router; paths carry the `/v2` prefix of `https://api.deck.co/v2`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let faults = |route: Route, method: MethodRouter<Arc<Shared>>| {
        let scope = FaultScope {
            shared: shared.clone(),
            route,
        };
        method.route_layer(from_fn_with_state(scope, fault_layer::layer))
    };
    let idempotent = |method: MethodRouter<Arc<Shared>>| {
        method.route_layer(from_fn_with_state(shared.clone(), idempotency::layer))
    };
    Router::new()
        .route(
            "/v2/task-runs/{run_id}/storage",
            faults(Route::ListStorage, get(list_storage)),
        )
        .route(
            "/v2/task-runs/{run_id}",
            faults(Route::GetTaskRun, get(get_task_run)),
        )
        .route(
            "/v2/storage/{storage_id}",
            faults(Route::GetStorageItem, get(get_storage_item)),
        )
        .route(
            "/v2/storage/{storage_id}",
            faults(
                Route::DeleteStorageItem,
                idempotent(delete(delete_storage_item)),
            ),
        )
        .route(
            "/v2/tasks",
            faults(Route::CreateTask, idempotent(post(create_task))),
        )
        .route("/v2/tasks/{task_id}", faults(Route::GetTask, get(get_task)))
        .route(
            "/v2/tasks/{task_id}",
            faults(Route::UpdateTask, idempotent(patch(update_task))),
        )
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(shared.clone(), front::api))
        .with_state(shared)
}

async fn route_not_found(Extension(RequestId(rid)): Rid, method: Method, uri: Uri) -> Response {
    ApiError::new(
        "request",
        "route_not_found",
        format!("No route matches {method} {}.", uri.path()),
    )
    .respond(StatusCode::NOT_FOUND, &rid)
}

async fn method_not_allowed(Extension(RequestId(rid)): Rid, method: Method, uri: Uri) -> Response {
    ApiError::new(
        "request",
        "method_not_allowed",
        format!("{method} is not supported on {}.", uri.path()),
    )
    .respond(StatusCode::METHOD_NOT_ALLOWED, &rid)
}

fn not_found(rid: &str, code: &str, what: &str, id: &str) -> Response {
    ApiError::new("request", code, format!("No {what} with ID '{id}' exists."))
        .respond(StatusCode::NOT_FOUND, rid)
}

/// A path parameter, or the 404 a request with an undecodable one deserves.
fn path_param(
    path: Result<Path<String>, PathRejection>,
    rid: &str,
    code: &str,
    what: &str,
) -> Result<String, Response> {
    path.map(|Path(id)| id)
        .map_err(|_| not_found(rid, code, what, "(not valid UTF-8)"))
}

/// Parses `limit` as ASP.NET binds an `int?`: surrounding spaces and a sign are accepted, an
/// empty value means absent.
fn parse_limit(raw: Option<&str>, rid: &str) -> Result<usize, Response> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(DEFAULT_LIMIT as usize);
    };
    let Ok(limit) = raw.trim().parse::<i32>() else {
        return Err(envelope::invalid_field(
            rid,
            "limit",
            format!("The value '{raw}' is not valid for limit."),
        ));
    };
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(envelope::invalid_field(
            rid,
            "limit",
            format!("The field limit must be between 1 and {MAX_LIMIT}."),
        ));
    }
    Ok(limit as usize)
}

async fn list_storage(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let run_id = match path_param(path, &rid, "task_run_not_found", "task run") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match parse_limit(param("limit"), &rid) {
        Ok(limit) => limit,
        Err(response) => return response,
    };
    let cursor = param("cursor").filter(|c| !c.is_empty());

    let page = {
        let store = shared.store();
        if store.run(&run_id).is_none() {
            return not_found(&rid, "task_run_not_found", "task run", &run_id);
        }
        let after = match cursor.map(|c| cursor::decode(shared.secret, &run_id, c)) {
            None => 0,
            Some(Ok(after)) => after,
            Some(Err(why)) => {
                return ApiError::new("request", "cursor_invalid", why.message())
                    .field("cursor")
                    .respond(StatusCode::BAD_REQUEST, &rid);
            }
        };
        store.page(&run_id, after, limit)
    };

    let fault = fault.map(|Extension(ActiveFault(f))| f);
    let expired = fault == Some(Fault::ExpiredUrl);
    let data: Vec<Value> = page
        .items
        .iter()
        .map(|item| render::storage_item(item, Some(shared.mint_url(&item.id, expired))))
        .collect();
    let natural_next = match (page.has_more, page.items.last()) {
        (true, Some(last)) => Some(cursor::encode(shared.secret, &run_id, last.seq)),
        _ => None,
    };
    let (has_more, next_cursor) = match fault {
        Some(Fault::RepeatCursor) => (
            true,
            Some(
                cursor
                    .map(str::to_owned)
                    .unwrap_or_else(|| cursor::encode(shared.secret, &run_id, 0)),
            ),
        ),
        Some(Fault::HasMoreWithoutCursor) => (true, None),
        _ => (page.has_more, natural_next),
    };
    envelope::json(
        StatusCode::OK,
        &rid,
        json!({ "data": data, "has_more": has_more, "next_cursor": next_cursor }),
    )
}

async fn get_storage_item(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path_param(path, &rid, "storage_item_not_found", "storage item") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let Some(item) = shared.store().item(&id).cloned() else {
        return not_found(&rid, "storage_item_not_found", "storage item", &id);
    };
    let expired = matches!(fault, Some(Extension(ActiveFault(Fault::ExpiredUrl))));
    let url = shared.mint_url(&item.id, expired);
    envelope::json(StatusCode::OK, &rid, render::storage_item(&item, Some(url)))
}

async fn delete_storage_item(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path_param(path, &rid, "storage_item_not_found", "storage item") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let Some(item) = shared.store().delete_item(&id) else {
        return not_found(&rid, "storage_item_not_found", "storage item", &id);
    };
    envelope::json(
        StatusCode::OK,
        &rid,
        json!({ "id": item.id, "object": item.seed.object, "deleted": true }),
    )
}

async fn get_task_run(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let run_id = match path_param(path, &rid, "task_run_not_found", "task run") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let params = query_pairs(query.as_deref().unwrap_or_default());
    let include = params
        .iter()
        .find(|(n, _)| n == "include")
        .map(|(_, v)| v.as_str());
    let includes = Includes::parse(include);
    let (run, items) = {
        let store = shared.store();
        let Some(run) = store.run(&run_id).cloned() else {
            return not_found(&rid, "task_run_not_found", "task run", &run_id);
        };
        (run, store.run_items(&run_id))
    };
    let expired = matches!(fault, Some(Extension(ActiveFault(Fault::ExpiredUrl))));
    let storage = if includes.storage {
        items
            .iter()
            .map(|item| render::storage_summary(item, Some(shared.mint_url(&item.id, expired))))
            .collect()
    } else {
        Vec::new()
    };
    envelope::json(
        StatusCode::OK,
        &rid,
        render::task_run(&run, &includes, storage),
    )
}

/// Decodes a JSON request body the way ASP.NET model binding reports problems: syntax and
/// type errors become a 400 `ValidationErrorResponse` keyed by JSON path, and each name in
/// `required` that is absent, `null` or an empty string gets "The X field is required.".
/// The typed decode uses the generated request type, so the fake accepts exactly the spec's
/// request shape. Returns the typed value and the raw object.
fn decode_body<T: DeserializeOwned>(
    body: &Bytes,
    required: &[&str],
    rid: &str,
) -> Result<(T, serde_json::Map<String, Value>), Response> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        envelope::invalid_field(
            rid,
            "$",
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let Value::Object(object) = value else {
        return Err(envelope::invalid_field(
            rid,
            "$",
            "The request body must be a JSON object.",
        ));
    };
    let mut errors = BTreeMap::new();
    for name in required {
        let missing = match object.get(*name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if missing {
            errors.insert(
                (*name).to_owned(),
                vec![format!("The {name} field is required.")],
            );
        }
    }
    if !errors.is_empty() {
        return Err(envelope::validation(rid, errors));
    }
    let typed = serde_path_to_error::deserialize(Value::Object(object.clone())).map_err(|e| {
        let path = e.path().to_string();
        envelope::invalid_field(
            rid,
            &format!("$.{path}"),
            format!("The JSON value could not be converted: {}.", e.inner()),
        )
    })?;
    Ok((typed, object))
}

/// The `storage` object of a request, verbatim (so keys newer than the spec survive), or
/// `None` when absent or `null`.
fn raw_storage(object: &serde_json::Map<String, Value>) -> Option<Value> {
    object.get("storage").filter(|s| !s.is_null()).cloned()
}

async fn create_task(State(shared): Ctx, Extension(RequestId(rid)): Rid, body: Bytes) -> Response {
    let (request, object): (deck_api::types::CreateTaskRequest, _) =
        match decode_body(&body, &["name", "agent_id"], &rid) {
            Ok(decoded) => decoded,
            Err(response) => return response,
        };
    if !request.agent_id.starts_with("agt_") {
        return ApiError::new(
            "request",
            "input_invalid",
            "`agent_id` must be an agent ID (prefixed with `agt_`).",
        )
        .field("agent_id")
        .respond(StatusCode::UNPROCESSABLE_ENTITY, &rid);
    }
    if let Some(id) = request.id.as_deref().filter(|id| !valid_id(id)) {
        return ApiError::new(
            "request",
            "input_invalid",
            format!("`id` must be non-empty and must not contain `/`, `?` or `#` (got '{id}')."),
        )
        .field("id")
        .respond(StatusCode::UNPROCESSABLE_ENTITY, &rid);
    }
    let mut seed = TaskSeed::new(String::new(), request.name)
        .agent_id(request.agent_id)
        .status("learning")
        .input_schema(request.input_schema.unwrap_or(Value::Null))
        .output_schema(request.output_schema.unwrap_or(Value::Null))
        .extraction(request.extraction.unwrap_or(false));
    seed.prompt = request.prompt;
    seed.storage = raw_storage(&object);

    let task = {
        let mut store = shared.store();
        if let Some(id) = request.id.as_deref().filter(|id| store.has_task(id)) {
            return ApiError::new(
                "request",
                "task_already_exists",
                format!("A task with ID '{id}' already exists."),
            )
            .field("id")
            .respond(StatusCode::CONFLICT, &rid);
        }
        store.create_task(request.id, seed)
    };
    envelope::json(StatusCode::CREATED, &rid, render::task(&task))
}

async fn get_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path_param(path, &rid, "task_not_found", "task") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let Some(task) = shared.store().task(&id).cloned() else {
        return not_found(&rid, "task_not_found", "task", &id);
    };
    envelope::json(StatusCode::OK, &rid, render::task(&task))
}

async fn update_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    let id = match path_param(path, &rid, "task_not_found", "task") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (request, object): (deck_api::types::UpdateTaskRequest, _) =
        match decode_body(&body, &[], &rid) {
            Ok(decoded) => decoded,
            Err(response) => return response,
        };
    if matches!(&request.name, Patch::Set(name) if name.trim().is_empty()) {
        return envelope::invalid_field(&rid, "name", "The name field cannot be empty.");
    }
    let storage = raw_storage(&object);
    // PATCH: fields that are absent or `null` keep their value; `storage` is replaced whole.
    let updated = shared.store().update_task(&id, |task| {
        if let Patch::Set(name) = request.name {
            task.name = name;
        }
        if let Patch::Set(prompt) = request.prompt {
            task.prompt = Some(prompt);
        }
        if let Some(schema) = request.input_schema {
            task.input_schema = schema;
        }
        if let Some(schema) = request.output_schema {
            task.output_schema = schema;
        }
        if let Some(storage) = storage {
            task.storage = Some(storage);
        }
        if let Patch::Set(extraction) = request.extraction {
            task.extraction = extraction;
        }
    });
    match updated {
        Some(task) => envelope::json(StatusCode::OK, &rid, render::task(&task)),
        None => not_found(&rid, "task_not_found", "task", &id),
    }
}
