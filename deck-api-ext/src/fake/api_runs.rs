//! Handlers of tasks, task runs and sessions: creating and updating tasks, running and
//! resetting them, listing, reading, canceling and resuming runs, reading and ending sessions.
//! The lifecycle itself is the store's (`state`, `lifecycle`).

// See `api`.
#![allow(clippy::result_large_err)]

use super::api::{
    Ctx, MaybeFault, PathId, Rid, decode_body, doc_id, empty_field, list_query, list_reply, no_doc,
    not_found, patch_field, path_param, refused,
};
use super::envelope::{self, ApiError, RequestId};
use super::fault_layer::ActiveFault;
use super::faults::Fault;
use super::record::query_pairs;
use super::render::{self, Includes};
use super::seed::{TaskSeed, valid_id};
use super::shared::Shared;
use super::state::{Kind, RUN_FILTERS, Refusal, RunRequest, Store};
use super::table::Order;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;
use deck_api::types;
use serde_json::{Map, Value};

// ---- tasks ---------------------------------------------------------------------------------

/// The `storage` object of a request with every documented key filled (so keys newer than
/// the spec survive), or `null`.
fn storage_of(object: &Map<String, Value>) -> Value {
    object
        .get("storage")
        .filter(|s| !s.is_null())
        .map_or(Value::Null, render::storage_config)
}

pub(crate) async fn create_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    body: Bytes,
) -> Response {
    let (request, object): (types::CreateTaskRequest, _) =
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
    let mut fields = render::task_fields(&seed);
    fields.insert("storage".into(), storage_of(&object));
    if let Some(settings) = object.get("settings").filter(|s| !s.is_null()) {
        fields.insert("settings".into(), settings.clone());
    }

    let task = {
        let mut store = shared.store();
        if let Some(id) = request
            .id
            .as_deref()
            .filter(|id| store.has_doc(Kind::Task, id))
        {
            return ApiError::new(
                "request",
                "task_already_exists",
                format!("A task with ID '{id}' already exists."),
            )
            .field("id")
            .respond(StatusCode::CONFLICT, &rid);
        }
        store.create_task(request.id, fields)
    };
    envelope::json(StatusCode::CREATED, &rid, task)
}

pub(crate) async fn update_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Task) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (request, object): (types::UpdateTaskRequest, _) = match decode_body(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    if matches!(&request.name, deck_api::patch::Patch::Set(name) if name.trim().is_empty()) {
        return empty_field(&rid, "name");
    }
    // PATCH: absent fields keep their value; `null` clears the nullable ones (prompt, schemas,
    // storage, settings) and leaves `name` and `extraction` as they are; `storage` is
    // replaced whole.
    let updated = shared.store().update_doc(Kind::Task, &id, None, |task| {
        patch_field(task, &object, "name", false);
        patch_field(task, &object, "prompt", true);
        patch_field(task, &object, "input_schema", true);
        patch_field(task, &object, "output_schema", true);
        if object.contains_key("storage") {
            task.insert("storage".into(), storage_of(&object));
        }
        patch_field(task, &object, "extraction", false);
        patch_field(task, &object, "settings", true);
    });
    match updated {
        Some(task) => envelope::json(StatusCode::OK, &rid, task),
        None => no_doc(&rid, Kind::Task, &id),
    }
}

/// `POST /v2/tasks/{id}/reset`: back to `learning` (`task.reset`).
pub(crate) async fn reset_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Task) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let reset = shared
        .store()
        .update_doc(Kind::Task, &id, Some("task.reset"), |task| {
            task.insert("status".into(), "learning".into());
        });
    match reset {
        Some(task) => envelope::json(StatusCode::OK, &rid, task),
        None => no_doc(&rid, Kind::Task, &id),
    }
}

/// `POST /v2/tasks/{id}/run`: a new run, `201` with it (`queued`).
pub(crate) async fn run_task(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let id = match doc_id(path, &rid, Kind::Task) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let (request, object): (types::RunTaskRequest, _) = match decode_body(&body, &[], &rid) {
        Ok(decoded) => decoded,
        Err(response) => return response,
    };
    let run = RunRequest {
        credential_id: request.credential_id,
        source_id: request.source_id,
        session_id: request.session_id,
        input: object.get("input").cloned(),
    };
    let mut store = shared.store();
    let now = store.now();
    match store.run_task(&id, run) {
        Ok(run) => {
            let view = render::task_run(run, &Includes::default(), Vec::new(), now);
            drop(store);
            envelope::json(StatusCode::CREATED, &rid, view)
        }
        Err(refusal) => refused(&rid, refusal),
    }
}

// ---- task runs -----------------------------------------------------------------------------

/// `GET /v2/task-runs`: newest first, every filter of the spec.
pub(crate) async fn list_task_runs(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let query = match list_query(&shared, &rid, &uri, query.as_deref(), RUN_FILTERS) {
        Ok(query) => query,
        Err(response) => return response,
    };
    let page = shared.store().list_runs(&query);
    list_reply(&shared, &rid, fault, &query, Order::Newest, page)
}

pub(crate) async fn get_task_run(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    fault: MaybeFault,
    path: PathId,
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
    let (run, items, now) = {
        let store = shared.store();
        let Some(run) = store.run(&run_id).cloned() else {
            return not_found(&rid, "task_run_not_found", "task run", &run_id);
        };
        (run, store.run_items(&run_id), store.now())
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
        render::task_run(&run, &includes, storage, now),
    )
}

/// `POST /v2/task-runs/{id}/cancel`: `canceling`, then `canceled`; `409` once finished.
pub(crate) async fn cancel_task_run(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
) -> Response {
    let run_id = match path_param(path, &rid, "task_run_not_found", "task run") {
        Ok(id) => id,
        Err(response) => return response,
    };
    transition(&shared, &rid, &run_id, Store::cancel_run)
}

/// `POST /v2/task-runs/{id}/interaction` with `{input}`: resumes an `interaction_required`
/// run; `409` otherwise.
pub(crate) async fn submit_interaction(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
    body: Bytes,
) -> Response {
    let run_id = match path_param(path, &rid, "task_run_not_found", "task run") {
        Ok(id) => id,
        Err(response) => return response,
    };
    if let Err(response) = decode_body::<types::SubmitInteractionRequest>(&body, &["input"], &rid) {
        return response;
    }
    transition(&shared, &rid, &run_id, Store::submit_interaction)
}

/// Applies a run transition (`cancel_run`, `submit_interaction`) and answers `200` with the
/// run as it is now, or the store's refusal (`404`, `409`).
fn transition(
    shared: &Shared,
    rid: &str,
    run_id: &str,
    apply: impl FnOnce(&mut Store, &str) -> Result<(), Refusal>,
) -> Response {
    let view = {
        let mut store = shared.store();
        if let Err(refusal) = apply(&mut store, run_id) {
            return refused(rid, refusal);
        }
        store
            .run(run_id)
            .map(|run| render::task_run(run, &Includes::default(), Vec::new(), store.now()))
    };
    match view {
        Some(view) => envelope::json(StatusCode::OK, rid, view),
        None => not_found(rid, "task_run_not_found", "task run", run_id),
    }
}

// ---- sessions ------------------------------------------------------------------------------

pub(crate) async fn get_session(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
) -> Response {
    let id = match path_param(path, &rid, "session_not_found", "session") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let view = shared.store().session_view(&id);
    match view {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => not_found(&rid, "session_not_found", "session", &id),
    }
}

/// `POST /v2/sessions/{id}/end`: ends the session and cancels its unfinished runs.
pub(crate) async fn end_session(
    State(shared): Ctx,
    Extension(RequestId(rid)): Rid,
    path: PathId,
) -> Response {
    let id = match path_param(path, &rid, "session_not_found", "session") {
        Ok(id) => id,
        Err(response) => return response,
    };
    let view = {
        let mut store = shared.store();
        if store.end_session(&id) {
            store.session_view(&id)
        } else {
            None
        }
    };
    match view {
        Some(view) => envelope::json(StatusCode::OK, &rid, view),
        None => not_found(&rid, "session_not_found", "session", &id),
    }
}
