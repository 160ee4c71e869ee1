//! The Deck API listener: the router of every operation in `spec/catalogue.json`, and what its
//! handlers share (path parameters, `limit`, cursors and filters, request bodies, errors).
//! Handlers live in `api_resources` (agents, sources, credentials, events, event destinations,
//! session tokens, `/test`), `api_runs` (tasks, task runs, sessions) and here (storage).

// Handlers return early with the finished error `Response`, as axum's own extractors do; boxing
// it would only add noise to a cold path.
#![allow(clippy::result_large_err)]

use super::api_resources as res;
use super::api_runs as runs;
use super::cursor;
use super::envelope::{self, ApiError, RequestId};
use super::fault_layer::{self, ActiveFault, FaultScope};
use super::faults::{Fault, Route};
use super::front;
use super::idempotency;
use super::record::query_pairs;
use super::render;
use super::shared::Shared;
use super::state::{Kind, Refusal};
use super::table::{Filter, Filters, ListQuery, Order, Page};
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::from_fn_with_state;
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, patch, post};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: i32 = 20;
/// Largest page size.
const MAX_LIMIT: i32 = 100;

pub(crate) type Ctx = State<Arc<Shared>>;
pub(crate) type Rid = Extension<RequestId>;
pub(crate) type MaybeFault = Option<Extension<ActiveFault>>;
pub(crate) type PathId = Result<Path<String>, PathRejection>;

/// The API router; paths carry the `/v2` prefix of `https://api.deck.co/v2`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let read = |route: Route, method: MethodRouter<Arc<Shared>>| {
        let scope = FaultScope {
            shared: shared.clone(),
            route,
        };
        method.route_layer(from_fn_with_state(scope, fault_layer::layer))
    };
    // Mutating routes: idempotency keys inside the fault layer.
    let write = |route: Route, method: MethodRouter<Arc<Shared>>| {
        read(
            route,
            method.route_layer(from_fn_with_state(shared.clone(), idempotency::layer)),
        )
    };
    Router::new()
        .route("/v2/test", read(Route::GetTest, get(res::get_test)))
        // Agents
        .route(
            "/v2/agents",
            read(Route::ListAgents, list_docs(Kind::Agent)),
        )
        .route(
            "/v2/agents",
            write(Route::CreateAgent, post(res::create_agent)),
        )
        .route(
            "/v2/agents/{agent_id}",
            read(Route::GetAgent, get_doc(Kind::Agent)),
        )
        .route(
            "/v2/agents/{agent_id}",
            write(Route::UpdateAgent, patch(res::update_agent)),
        )
        .route(
            "/v2/agents/{agent_id}",
            write(Route::DeleteAgent, delete_doc(Kind::Agent)),
        )
        // Sources
        .route(
            "/v2/sources",
            read(Route::ListSources, list_docs(Kind::Source)),
        )
        .route(
            "/v2/sources",
            write(Route::CreateSource, post(res::create_source)),
        )
        .route(
            "/v2/sources/{source_id}",
            read(Route::GetSource, get_doc(Kind::Source)),
        )
        .route(
            "/v2/sources/{source_id}",
            write(Route::UpdateSource, patch(res::update_source)),
        )
        .route(
            "/v2/sources/{source_id}",
            write(Route::DeleteSource, delete_doc(Kind::Source)),
        )
        // Credentials
        .route(
            "/v2/credentials",
            read(Route::ListCredentials, list_docs(Kind::Credential)),
        )
        .route(
            "/v2/credentials",
            write(Route::CreateCredential, post(res::create_credential)),
        )
        .route(
            "/v2/credentials/{credential_id}",
            read(Route::GetCredential, get_doc(Kind::Credential)),
        )
        .route(
            "/v2/credentials/{credential_id}",
            write(Route::UpdateCredential, patch(res::update_credential)),
        )
        .route(
            "/v2/credentials/{credential_id}",
            write(Route::DeleteCredential, delete_doc(Kind::Credential)),
        )
        // Tasks
        .route("/v2/tasks", read(Route::ListTasks, list_docs(Kind::Task)))
        .route(
            "/v2/tasks",
            write(Route::CreateTask, post(runs::create_task)),
        )
        .route(
            "/v2/tasks/{task_id}",
            read(Route::GetTask, get_doc(Kind::Task)),
        )
        .route(
            "/v2/tasks/{task_id}",
            write(Route::UpdateTask, patch(runs::update_task)),
        )
        .route(
            "/v2/tasks/{task_id}",
            write(Route::DeleteTask, delete_doc(Kind::Task)),
        )
        .route(
            "/v2/tasks/{task_id}/run",
            write(Route::RunTask, post(runs::run_task)),
        )
        .route(
            "/v2/tasks/{task_id}/reset",
            write(Route::ResetTask, post(runs::reset_task)),
        )
        // Task runs
        .route(
            "/v2/task-runs",
            read(Route::ListTaskRuns, get(runs::list_task_runs)),
        )
        .route(
            "/v2/task-runs/{run_id}",
            read(Route::GetTaskRun, get(runs::get_task_run)),
        )
        .route(
            "/v2/task-runs/{run_id}/cancel",
            write(Route::CancelTaskRun, post(runs::cancel_task_run)),
        )
        .route(
            "/v2/task-runs/{run_id}/interaction",
            write(
                Route::SubmitTaskRunInteraction,
                post(runs::submit_interaction),
            ),
        )
        // Storage
        .route(
            "/v2/task-runs/{run_id}/storage",
            read(Route::ListStorage, get(list_storage)),
        )
        .route(
            "/v2/storage/{storage_id}",
            read(Route::GetStorageItem, get(get_storage_item)),
        )
        .route(
            "/v2/storage/{storage_id}",
            write(Route::DeleteStorageItem, delete(delete_storage_item)),
        )
        // Sessions
        .route(
            "/v2/sessions/{session_id}",
            read(Route::GetSession, get(runs::get_session)),
        )
        .route(
            "/v2/sessions/{session_id}/end",
            write(Route::EndSession, post(runs::end_session)),
        )
        // Events
        .route(
            "/v2/events",
            read(Route::ListEvents, list_docs(Kind::Event)),
        )
        .route(
            "/v2/events/{event_id}",
            read(Route::GetEvent, get_doc(Kind::Event)),
        )
        // Event destinations
        .route(
            "/v2/event-destinations",
            read(
                Route::ListEventDestinations,
                list_docs(Kind::EventDestination),
            ),
        )
        .route(
            "/v2/event-destinations",
            write(
                Route::CreateEventDestination,
                post(res::create_event_destination),
            ),
        )
        .route(
            "/v2/event-destinations/{destination_id}",
            read(Route::GetEventDestination, get_doc(Kind::EventDestination)),
        )
        .route(
            "/v2/event-destinations/{destination_id}",
            write(
                Route::UpdateEventDestination,
                patch(res::update_event_destination),
            ),
        )
        .route(
            "/v2/event-destinations/{destination_id}",
            write(
                Route::DeleteEventDestination,
                delete_doc(Kind::EventDestination),
            ),
        )
        .route(
            "/v2/event-destinations/{destination_id}/event-deliveries",
            read(Route::ListEventDeliveries, get(res::list_event_deliveries)),
        )
        // Components
        .route(
            "/v2/token",
            write(Route::CreateSessionToken, post(res::create_session_token)),
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

// ---- what handlers share ---------------------------------------------------------------

pub(crate) fn not_found(rid: &str, code: &str, what: &str, id: &str) -> Response {
    ApiError::new("request", code, format!("No {what} with ID '{id}' exists."))
        .respond(StatusCode::NOT_FOUND, rid)
}

/// The 404 for a document of `kind`.
pub(crate) fn no_doc(rid: &str, kind: Kind, id: &str) -> Response {
    not_found(rid, kind.not_found(), kind.noun(), id)
}

/// The response for a refused run request, cancel or interaction.
pub(crate) fn refused(rid: &str, refusal: Refusal) -> Response {
    match refusal {
        Refusal::NotFound(code, what, id) => not_found(rid, code, what, &id),
        Refusal::Conflict(code, message) => {
            ApiError::new("request", code, message).respond(StatusCode::CONFLICT, rid)
        }
    }
}

/// `422 input_invalid` naming `field`.
pub(crate) fn invalid(rid: &str, field: &str, message: impl Into<String>) -> Response {
    ApiError::new("request", "input_invalid", message)
        .field(field)
        .respond(StatusCode::UNPROCESSABLE_ENTITY, rid)
}

/// `400 input_missing` naming `field`.
pub(crate) fn missing(rid: &str, field: &str) -> Response {
    envelope::errors(StatusCode::BAD_REQUEST, rid, vec![missing_entry(field)])
}

fn missing_entry(field: &str) -> ApiError<'_> {
    ApiError::new(
        "request",
        "input_missing",
        format!("`{field}` is required and cannot be empty."),
    )
    .field(field)
}

/// A path parameter, or the 404 a request with an undecodable one deserves.
pub(crate) fn path_param(
    path: PathId,
    rid: &str,
    code: &str,
    what: &str,
) -> Result<String, Response> {
    path.map(|Path(id)| id)
        .map_err(|_| not_found(rid, code, what, "(not valid UTF-8)"))
}

/// [`path_param`] for a document of `kind`.
pub(crate) fn doc_id(path: PathId, rid: &str, kind: Kind) -> Result<String, Response> {
    path_param(path, rid, kind.not_found(), kind.noun())
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

/// Reads a list request: `limit` (1–100, default 20), the declared `filters`, and `cursor`,
/// which must have been issued for the same path and filters (else `400 cursor_invalid`).
pub(crate) fn list_query(
    shared: &Shared,
    rid: &str,
    uri: &Uri,
    query: Option<&str>,
    filters: &[Filter],
) -> Result<ListQuery, Response> {
    let pairs = query_pairs(query.unwrap_or_default());
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = parse_limit(param("limit"), rid)?;
    let filters = Filters::parse(filters, &pairs).map_err(|bad| {
        envelope::invalid_field(
            rid,
            bad.param,
            format!("The value '{}' is not valid for {}.", bad.value, bad.param),
        )
    })?;
    let canonical = filters.canonical();
    let scope = if canonical.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{canonical}", uri.path())
    };
    let cursor = param("cursor").filter(|c| !c.is_empty()).map(str::to_owned);
    let after = match &cursor {
        None => None,
        Some(c) => Some(cursor::decode(shared.secret, &scope, c).map_err(|why| {
            ApiError::new("request", "cursor_invalid", why.message())
                .field("cursor")
                .respond(StatusCode::BAD_REQUEST, rid)
        })?),
    };
    Ok(ListQuery {
        limit,
        after,
        cursor,
        filters,
        scope,
    })
}

/// The list envelope `{data, has_more, next_cursor}` for a page, with the cursor faults
/// applied.
pub(crate) fn list_reply(
    shared: &Shared,
    rid: &str,
    fault: MaybeFault,
    query: &ListQuery,
    order: Order,
    page: Page,
) -> Response {
    let natural = match (page.has_more, page.last) {
        (true, Some(last)) => Some(cursor::encode(shared.secret, &query.scope, last)),
        _ => None,
    };
    let (has_more, next_cursor) = match fault.map(|Extension(ActiveFault(f))| f) {
        Some(Fault::RepeatCursor) => (
            true,
            Some(
                query
                    .cursor
                    .clone()
                    .unwrap_or_else(|| cursor::encode(shared.secret, &query.scope, order.start())),
            ),
        ),
        Some(Fault::HasMoreWithoutCursor) => (true, None),
        _ => (page.has_more, natural),
    };
    envelope::json(
        StatusCode::OK,
        rid,
        json!({ "data": page.data, "has_more": has_more, "next_cursor": next_cursor }),
    )
}

/// Decodes a JSON request body. Syntax and type errors are what ASP.NET model binding reports,
/// a 400 `ValidationErrorResponse` keyed by JSON path; each name in `required` that is absent,
/// `null` or an empty string is Deck's `400 input_missing` (one error entry per field). The
/// typed decode uses the generated request type, so the fake accepts exactly the spec's
/// request shape. Returns the typed value and the raw object (for PATCH: absent vs `null`).
pub(crate) fn decode_body<T: DeserializeOwned>(
    body: &Bytes,
    required: &[&str],
    rid: &str,
) -> Result<(T, Map<String, Value>), Response> {
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
    let absent: Vec<ApiError<'_>> = required
        .iter()
        .filter(|name| match object.get(**name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        })
        .map(|name| missing_entry(name))
        .collect();
    if !absent.is_empty() {
        return Err(envelope::errors(StatusCode::BAD_REQUEST, rid, absent));
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

/// A 400 for a string field sent empty (`name: " "`).
pub(crate) fn empty_field(rid: &str, field: &str) -> Response {
    envelope::validation(
        rid,
        BTreeMap::from([(
            field.to_owned(),
            vec![format!("The {field} field cannot be empty.")],
        )]),
    )
}

/// PATCH semantics for one field: absent leaves `body` unchanged; `null` clears the field when
/// `nullable` (and is ignored otherwise); any other value replaces it.
pub(crate) fn patch_field(
    body: &mut Map<String, Value>,
    request: &Map<String, Value>,
    field: &str,
    nullable: bool,
) {
    match request.get(field) {
        None => {}
        Some(Value::Null) if !nullable => {}
        Some(value) => {
            body.insert(field.to_owned(), value.clone());
        }
    }
}

// ---- generic document routes -------------------------------------------------------------

/// `GET` of a list of documents of `kind`, with its declared filters and order.
fn list_docs(kind: Kind) -> MethodRouter<Arc<Shared>> {
    get(
        move |State(shared): Ctx,
              Extension(RequestId(rid)): Rid,
              fault: MaybeFault,
              uri: Uri,
              RawQuery(query): RawQuery| async move {
            let query = match list_query(&shared, &rid, &uri, query.as_deref(), kind.filters()) {
                Ok(query) => query,
                Err(response) => return response,
            };
            let page = shared.store().list_docs(kind, &query, |_| true);
            list_reply(&shared, &rid, fault, &query, kind.order(), page)
        },
    )
}

/// `GET` of one document of `kind`.
fn get_doc(kind: Kind) -> MethodRouter<Arc<Shared>> {
    get(
        move |State(shared): Ctx, Extension(RequestId(rid)): Rid, path: PathId| async move {
            let id = match doc_id(path, &rid, kind) {
                Ok(id) => id,
                Err(response) => return response,
            };
            let view = shared.store().get_view(kind, &id);
            match view {
                Some(view) => envelope::json(StatusCode::OK, &rid, view),
                None => no_doc(&rid, kind, &id),
            }
        },
    )
}

/// `DELETE` of a document of `kind`: `{id, object, deleted: true}`. Agents, sources, tasks and
/// event destinations are removed (404 afterwards); a credential stays, with status
/// `deleted`, as Deck documents ("still queryable"), and deleting it again changes nothing.
fn delete_doc(kind: Kind) -> MethodRouter<Arc<Shared>> {
    delete(
        move |State(shared): Ctx, Extension(RequestId(rid)): Rid, path: PathId| async move {
            let id = match doc_id(path, &rid, kind) {
                Ok(id) => id,
                Err(response) => return response,
            };
            let found = {
                let mut store = shared.store();
                if kind == Kind::Credential {
                    match store
                        .doc(kind, &id)
                        .map(|d| d.str("status") == Some("deleted"))
                    {
                        None => false,
                        Some(true) => true,
                        Some(false) => store
                            .update_doc(kind, &id, Some("credential.deleted"), |body| {
                                body.insert("status".into(), "deleted".into());
                            })
                            .is_some(),
                    }
                } else {
                    store.delete_doc(kind, &id).is_some()
                }
            };
            if !found {
                return no_doc(&rid, kind, &id);
            }
            envelope::json(
                StatusCode::OK,
                &rid,
                json!({ "id": id, "object": kind.object(), "deleted": true }),
            )
        },
    )
}

// ---- storage -----------------------------------------------------------------------------

async fn list_storage(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: PathId,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let run_id = match path_param(path, &rid, "task_run_not_found", "task run") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let query = match list_query(&shared, &rid, &uri, query.as_deref(), &[]) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let items = {
        let store = shared.store();
        if store.run(&run_id).is_none() {
            return not_found(&rid, "task_run_not_found", "task run", &run_id);
        }
        store.page(&run_id, query.after.map_or(0, |(_, seq)| seq), query.limit)
    };

    let expired = matches!(&fault, Some(Extension(ActiveFault(Fault::ExpiredUrl))));
    let page = Page {
        data: items
            .items
            .iter()
            .map(|item| render::storage_item(item, Some(shared.mint_url(&item.id, expired))))
            .collect(),
        last: items
            .items
            .last()
            .map(|item| Order::Oldest.key(0, item.seq)),
        has_more: items.has_more,
    };
    list_reply(&shared, &rid, fault, &query, Order::Oldest, page)
}

async fn get_storage_item(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: PathId,
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
    path: PathId,
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
