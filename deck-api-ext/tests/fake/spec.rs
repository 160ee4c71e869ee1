//! The fake cannot drift from the spec: this walks every API route of the fake, success and
//! error responses, decodes each body with the generated types (`deck_api::types`) through
//! `serde_path_to_error`, and checks that every field the fake sends is declared by the spec's
//! schema for that body (read from `deck-api/openapi.json`, the document `cargo xtask regen`
//! merged from `spec/`, additions and fixes included). Successful calls
//! also go through the generated client itself.

use crate::support::{Harness, Reply};
use deck_api_ext::api::types::{
    DeleteStorageItemResponse, ErrorResponse, GetStorageItemResponse, GetTaskResponse,
    GetTaskRunResponse, PaginatedResponseOfListStorageItemResponse, ValidationErrorResponse,
};
use deck_api_ext::fake::{Fault, Route, demo};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Property names of every schema of the merged document `deck-api/openapi.json` (upstream,
/// additions and fixes, exactly as `cargo xtask regen` merged them; `--check` keeps it fresh).
fn spec_properties() -> BTreeMap<String, BTreeSet<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deck-api/openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let schemas = doc["components"]["schemas"]
        .as_object()
        .unwrap_or_else(|| panic!("{path:?}: no components.schemas"));
    schemas
        .iter()
        .map(|(name, schema)| {
            let props = schema["properties"].as_object().into_iter().flatten();
            (name.clone(), props.map(|(k, _)| k.clone()).collect())
        })
        .collect()
}

struct Spec {
    props: BTreeMap<String, BTreeSet<String>>,
}

impl Spec {
    /// Every key of `value` (an object) is a property of `schema`, or listed in `extra`.
    fn check(&self, value: &Value, schema: &str, extra: &[&str]) {
        let declared = self
            .props
            .get(schema)
            .unwrap_or_else(|| panic!("spec has no schema {schema}"));
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{schema}: not an object: {value}"));
        for key in object.keys() {
            assert!(
                declared.contains(key) || extra.contains(&key.as_str()),
                "the fake sends `{key}`, which {schema} does not declare: {value}"
            );
        }
    }

    /// Checks an error envelope and its entries.
    fn check_error(&self, reply: &Reply) -> ErrorResponse {
        let body = reply.json();
        self.check(&body, "ErrorResponse", &[]);
        for entry in body["errors"].as_array().expect("errors is an array") {
            self.check(entry, "TaskRunError", &[]);
        }
        let error: ErrorResponse = reply.decode();
        assert_request_id(&error.request_id);
        error
    }

    /// Checks a 400 validation body; the fake adds Deck's `request_id`.
    fn check_validation(&self, reply: &Reply) -> ValidationErrorResponse {
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json; charset=utf-8")
        );
        let body = reply.json();
        self.check(&body, "ValidationErrorResponse", &["request_id"]);
        assert_request_id(body["request_id"].as_str().expect("request_id"));
        let validation: ValidationErrorResponse = reply.decode();
        assert_eq!(validation.status, Some(400));
        assert!(validation.trace_id.is_some());
        validation
    }
}

fn assert_request_id(id: &str) {
    let digits = id.strip_prefix("req_").unwrap_or_default();
    assert!(
        digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()),
        "request_id {id:?}"
    );
}

fn generated_client(h: &Harness) -> deck_api_ext::api::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {}", h.fake.api_key());
    headers.insert("authorization", value.parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    deck_api_ext::api::Client::new_with_client(
        &h.fake.base_url(),
        http,
        deck_api_ext::api::ClientState::default(),
    )
}

#[tokio::test]
async fn list_storage_matches_the_spec() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    for run in [
        demo::STATEMENTS_RUN,
        demo::EDGE_CASES_RUN,
        demo::LARGE_FILE_RUN,
        demo::EMPTY_RUN,
    ] {
        let reply = h.get(&format!("/task-runs/{run}/storage")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        spec.check(&body, "PaginatedResponseOfListStorageItemResponse", &[]);
        for item in body["data"].as_array().unwrap() {
            spec.check(item, "ListStorageItemResponse", &[]);
        }
        let page: PaginatedResponseOfListStorageItemResponse = reply.decode();
        assert_request_id(page.request_id.as_deref().unwrap());
        assert_eq!(page.has_more, run == demo::STATEMENTS_RUN);
    }

    // Through the generated client too, following the cursor.
    let client = generated_client(&h);
    let first = client
        .list_task_run_storage()
        .run_id(demo::STATEMENTS_RUN)
        .send()
        .await
        .expect("generated client decodes page 1")
        .into_inner();
    assert_eq!(first.data.len(), 20);
    let second = client
        .list_task_run_storage()
        .run_id(demo::STATEMENTS_RUN)
        .cursor(first.next_cursor.unwrap())
        .limit(50)
        .send()
        .await
        .expect("generated client decodes page 2")
        .into_inner();
    assert_eq!(second.data.len(), 25);
    assert!(!second.has_more);
    assert_eq!(second.next_cursor, None);
}

#[tokio::test]
async fn list_storage_errors_match_the_spec() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    let base = format!("/task-runs/{}/storage", demo::STATEMENTS_RUN);

    let bad_cursor = h.get(&format!("{base}?cursor=nope")).await;
    assert_eq!(bad_cursor.status, 400);
    let error = spec.check_error(&bad_cursor);
    assert_eq!(error.errors[0].code, "cursor_invalid");
    assert_eq!(error.errors[0].type_, "request");
    assert_eq!(error.errors[0].field.as_deref(), Some("cursor"));

    for limit in ["0", "101", "-5", "abc", "2.5", "99999999999"] {
        let reply = h.get(&format!("{base}?limit={limit}")).await;
        let validation = spec.check_validation(&reply);
        assert_eq!(
            validation.errors.keys().collect::<Vec<_>>(),
            ["limit"],
            "limit={limit}"
        );
    }

    let unknown = h.get("/task-runs/trun_nope/storage").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        spec.check_error(&unknown).errors[0].code,
        "task_run_not_found"
    );
}

#[tokio::test]
async fn storage_items_match_the_spec() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    let client = generated_client(&h);
    for id in h.fake.item_ids(demo::EDGE_CASES_RUN).unwrap() {
        let reply = h.get(&format!("/storage/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        spec.check(&reply.json(), "GetStorageItemResponse", &[]);
        let item: GetStorageItemResponse = reply.decode();
        assert_eq!(item.id, id);
        assert_request_id(item.request_id.as_deref().unwrap());
        client
            .get_storage_item()
            .storage_id(&id)
            .send()
            .await
            .expect("generated client decodes the item");
    }
    let missing = h.get("/storage/stor_nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        spec.check_error(&missing).errors[0].code,
        "storage_item_not_found"
    );

    let deleted = h
        .send(
            Method::DELETE,
            &format!("/storage/{}", demo::STATEMENT_DEC_2024),
            None,
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    spec.check(&deleted.json(), "DeleteStorageItemResponse", &[]);
    let confirmation: DeleteStorageItemResponse = deleted.decode();
    assert_eq!(confirmation.id, demo::STATEMENT_DEC_2024);
    assert!(confirmation.deleted);
    assert_eq!(confirmation.object, "storage_item");
    assert_request_id(confirmation.request_id.as_deref().unwrap());

    let again = h
        .send(
            Method::DELETE,
            &format!("/storage/{}", demo::STATEMENT_DEC_2024),
            None,
            &[],
        )
        .await;
    assert_eq!(again.status, 404);
    spec.check_error(&again);

    client
        .delete_storage_item()
        .storage_id(demo::STATEMENT_JAN_2025)
        .send()
        .await
        .expect("generated client decodes the deletion");
}

#[tokio::test]
async fn tasks_match_the_spec() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    let check_task = |reply: &Reply| -> GetTaskResponse {
        let body = reply.json();
        spec.check(&body, "GetTaskResponse", &[]);
        if body["storage"].is_object() {
            spec.check(&body["storage"], "StorageConfig", &[]);
        }
        let task: GetTaskResponse = reply.decode();
        assert_request_id(task.request_id.as_deref().unwrap());
        task
    };

    let seeded = h.get(&format!("/tasks/{}", demo::TASK)).await;
    assert_eq!(seeded.status, 200, "{}", seeded.text());
    let task = check_task(&seeded);
    assert_eq!(task.storage.as_ref().and_then(|s| s.enabled), Some(true));

    let created = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({
                "name": "Fetch invoices",
                "agent_id": "agt_1",
                "storage": { "enabled": true, "extraction": true, "extraction_schema": demo::extraction_schema() }
            })),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let task = check_task(&created);
    let storage = task.storage.expect("storage round-trips");
    assert_eq!(storage.enabled, Some(true));
    assert_eq!(storage.extraction, Some(true));
    assert_eq!(storage.deduplication, Some(false));
    assert_eq!(
        storage.extraction_schema.unwrap().0,
        demo::extraction_schema()
    );

    let fetched = h.get(&format!("/tasks/{}", task.id)).await;
    assert_eq!(check_task(&fetched).id, task.id);

    let patched = h
        .send(
            Method::PATCH,
            &format!("/tasks/{}", task.id),
            Some(&json!({ "storage": { "enabled": true, "deduplication": true } })),
            &[],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text());
    let patched = check_task(&patched);
    assert_eq!(patched.storage.as_ref().unwrap().deduplication, Some(true));
    assert_eq!(patched.name, "Fetch invoices");
    assert!(patched.updated_at > patched.created_at);

    // Through the generated client.
    let client = generated_client(&h);
    let body = deck_api_ext::api::types::CreateTaskRequest::builder()
        .name("Via generated client")
        .agent_id("agt_2");
    let made = client
        .create_task()
        .body(body)
        .send()
        .await
        .expect("generated client decodes the created task")
        .into_inner();
    client
        .update_task()
        .task_id(&made.id)
        .body(deck_api_ext::api::types::UpdateTaskRequest::builder().prompt("Go"))
        .send()
        .await
        .expect("generated client decodes the updated task");
    client
        .get_task()
        .task_id(&made.id)
        .send()
        .await
        .expect("generated client decodes the task");
}

#[tokio::test]
async fn task_errors_match_the_spec() {
    let h = Harness::start().await;
    let spec = Spec {
        props: spec_properties(),
    };

    let missing = h.send(Method::POST, "/tasks", Some(&json!({})), &[]).await;
    let validation = spec.check_validation(&missing);
    assert_eq!(
        validation.errors.keys().collect::<Vec<_>>(),
        ["agent_id", "name"]
    );

    let empty_name = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({ "name": " ", "agent_id": "agt_1" })),
            &[],
        )
        .await;
    assert!(
        spec.check_validation(&empty_name)
            .errors
            .contains_key("name")
    );

    let wrong_type = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({ "name": "n", "agent_id": "agt_1", "storage": { "enabled": "yes" } })),
            &[],
        )
        .await;
    assert!(
        spec.check_validation(&wrong_type)
            .errors
            .contains_key("$.storage.enabled"),
        "{}",
        wrong_type.text()
    );

    let not_json = h.send_raw(Method::POST, "/tasks", "{\"name\": ").await;
    assert!(spec.check_validation(&not_json).errors.contains_key("$"));

    let bad_agent = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({ "name": "n", "agent_id": "bot_1" })),
            &[],
        )
        .await;
    assert_eq!(bad_agent.status, 422);
    let error = spec.check_error(&bad_agent);
    assert_eq!(error.errors[0].field.as_deref(), Some("agent_id"));

    let body = json!({ "id": "task_mine", "name": "n", "agent_id": "agt_1" });
    assert_eq!(
        h.send(Method::POST, "/tasks", Some(&body), &[])
            .await
            .status,
        201
    );
    let duplicate = h.send(Method::POST, "/tasks", Some(&body), &[]).await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(
        spec.check_error(&duplicate).errors[0].code,
        "task_already_exists"
    );

    let unknown = h.get("/tasks/task_nope").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(spec.check_error(&unknown).errors[0].code, "task_not_found");

    let patch_unknown = h
        .send(
            Method::PATCH,
            "/tasks/task_nope",
            Some(&json!({ "name": "x" })),
            &[],
        )
        .await;
    assert_eq!(patch_unknown.status, 404);
    spec.check_error(&patch_unknown);

    let patch_bad = h
        .send(
            Method::PATCH,
            "/tasks/task_mine",
            Some(&json!({ "extraction": "no" })),
            &[],
        )
        .await;
    assert!(
        spec.check_validation(&patch_bad)
            .errors
            .contains_key("$.extraction")
    );
}

#[tokio::test]
async fn task_runs_match_the_spec() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    for (run, include) in [
        (demo::STATEMENTS_RUN, "storage,input"),
        (demo::EDGE_CASES_RUN, "storage"),
        (demo::FAILED_RUN, ""),
        (demo::EMPTY_RUN, "input"),
    ] {
        let reply = h.get(&format!("/task-runs/{run}?include={include}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let body = reply.json();
        spec.check(&body, "GetTaskRunResponse", &[]);
        for summary in body["storage"].as_array().into_iter().flatten() {
            spec.check(summary, "TaskRunStorageSummary", &[]);
        }
        for error in body["errors"].as_array().into_iter().flatten() {
            spec.check(error, "TaskRunError", &[]);
        }
        assert_eq!(body.get("storage").is_some(), include.contains("storage"));
        assert_eq!(body.get("input").is_some(), include.contains("input"));
        let decoded: GetTaskRunResponse = reply.decode();
        assert_eq!(decoded.id, run);
        assert_request_id(decoded.request_id.as_deref().unwrap());
    }
    let with_storage: GetTaskRunResponse = h
        .get(&format!(
            "/task-runs/{}?include=storage",
            demo::STATEMENTS_RUN
        ))
        .await
        .decode();
    assert_eq!(with_storage.storage.len(), demo::STATEMENTS_COUNT);
    assert!(with_storage.storage.iter().all(|s| s.url.is_some()));

    let failed: GetTaskRunResponse = h
        .get(&format!("/task-runs/{}", demo::FAILED_RUN))
        .await
        .decode();
    assert_eq!(failed.errors.unwrap()[0].code, "source_unavailable");

    generated_client(&h)
        .get_task_run()
        .run_id(demo::STATEMENTS_RUN)
        .include("storage")
        .send()
        .await
        .expect("generated client decodes the run");

    let unknown = h.get("/task-runs/trun_nope").await;
    assert_eq!(unknown.status, 404);
    assert_eq!(
        spec.check_error(&unknown).errors[0].code,
        "task_run_not_found"
    );
}

#[tokio::test]
async fn cross_cutting_errors_use_the_envelope() {
    let h = Harness::demo().await;
    let spec = Spec {
        props: spec_properties(),
    };
    let path = format!("/task-runs/{}/storage", demo::STATEMENTS_RUN);

    let unauthenticated = h.http.get(h.url(&path)).send().await.unwrap();
    let reply = Reply::read(unauthenticated).await;
    assert_eq!(reply.status, 401);
    let error = spec.check_error(&reply);
    assert_eq!(
        (
            error.errors[0].type_.as_str(),
            error.errors[0].code.as_str()
        ),
        ("auth", "api_key_invalid")
    );

    let unknown_route = h.get("/agents").await;
    assert_eq!(unknown_route.status, 404);
    assert_eq!(
        spec.check_error(&unknown_route).errors[0].code,
        "route_not_found"
    );

    let wrong_method = h.send(Method::PUT, "/tasks/task_x", None, &[]).await;
    assert_eq!(wrong_method.status, 405);
    spec.check_error(&wrong_method);

    let long_key = "k".repeat(257);
    let too_long = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({"name": "n", "agent_id": "agt_1"})),
            &[("Idempotency-Key", &long_key)],
        )
        .await;
    assert_eq!(too_long.status, 400);
    assert_eq!(
        spec.check_error(&too_long).errors[0].code,
        "idempotency_key_error"
    );

    for status in [429, 500, 503] {
        h.fake.inject(Route::GetTaskRun, Fault::status(status), 1);
        let reply = h.get(&format!("/task-runs/{}", demo::EMPTY_RUN)).await;
        assert_eq!(reply.status, status);
        spec.check_error(&reply);
    }
}
