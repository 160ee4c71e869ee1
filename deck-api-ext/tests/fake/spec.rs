//! The fake cannot drift from the spec: this walks every API route of the fake, success and
//! error responses, decodes each body with the generated types (`deck_api::types`) through
//! `serde_path_to_error`, and checks that every field the fake sends is declared by the spec's
//! schema for that body (read from `deck-api/openapi.json`, the document `cargo xtask regen`
//! merged from `spec/`, additions and fixes included). Successful calls
//! also go through the generated client itself. Every operation of `spec/catalogue.json` is
//! walked: storage and tasks first, then agents, sources, credentials, event destinations and
//! deliveries, events, task runs, sessions, session tokens and `/test`.

use crate::support::{Harness, Reply};
use deck_api_ext::api::types::{
    DeleteStorageItemResponse, ErrorResponse, GetStorageItemResponse, GetTaskResponse,
    GetTaskRunResponse, PaginatedResponseOfListStorageItemResponse, ValidationErrorResponse,
};
use deck_api_ext::fake::{Fault, Route, RunPlan, TaskSeed, demo};
use reqwest::Method;
use serde::de::DeserializeOwned;
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

impl Spec {
    fn new() -> Self {
        Self {
            props: spec_properties(),
        }
    }

    /// Checks a success: the status, every key declared by `schema`, the `request_id`, and
    /// that the body decodes into the generated type `T`. Returns the JSON and the value.
    fn ok<T: DeserializeOwned>(&self, reply: &Reply, status: u16, schema: &str) -> (Value, T) {
        assert_eq!(reply.status, status, "{schema}: {}", reply.text());
        let body = reply.json();
        self.check(&body, schema, &[]);
        assert_request_id(body["request_id"].as_str().expect("request_id"));
        (body, reply.decode())
    }

    /// Checks a list page: the envelope, then each item against `item`.
    fn page<T: DeserializeOwned>(
        &self,
        reply: &Reply,
        envelope: &str,
        item: &str,
    ) -> (Vec<Value>, T) {
        let (body, page) = self.ok(reply, 200, envelope);
        let items = body["data"].as_array().expect("data").clone();
        for entry in &items {
            self.check(entry, item, &[]);
        }
        (items, page)
    }

    /// Checks an error answer's status and first code.
    fn fails(&self, reply: &Reply, status: u16, code: &str) {
        assert_eq!(reply.status, status, "{}", reply.text());
        assert_eq!(
            self.check_error(reply).errors[0].code,
            code,
            "{}",
            reply.text()
        );
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

    // Missing required fields: Deck's envelope, one `input_missing` per field.
    let missing = h.send(Method::POST, "/tasks", Some(&json!({})), &[]).await;
    assert_eq!(missing.status, 400, "{}", missing.text());
    let error = spec.check_error(&missing);
    let fields: Vec<_> = error
        .errors
        .iter()
        .map(|e| (e.type_.as_str(), e.code.as_str(), e.field.as_deref()))
        .collect();
    assert_eq!(
        fields,
        [
            ("request", "input_missing", Some("name")),
            ("request", "input_missing", Some("agent_id"))
        ]
    );

    let empty_name = h
        .send(
            Method::POST,
            "/tasks",
            Some(&json!({ "name": " ", "agent_id": "agt_1" })),
            &[],
        )
        .await;
    assert_eq!(empty_name.status, 400);
    assert_eq!(
        spec.check_error(&empty_name).errors[0].field.as_deref(),
        Some("name")
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

    let unknown_route = h.get("/agents/agt_1/tasks").await;
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

#[tokio::test]
async fn agents_and_sources_match_the_spec() {
    use deck_api_ext::api::types::{
        DeleteAgentResponse, DeleteSourceResponse, GetAgentResponse, GetSourceResponse,
        PaginatedResponseOfGetAgentResponse, PaginatedResponseOfGetSourceResponse,
    };
    let h = Harness::demo().await;
    let spec = Spec::new();

    let demo_agent = h.get(&format!("/agents/{}", demo::AGENT)).await;
    let (body, agent): (_, GetAgentResponse) = spec.ok(&demo_agent, 200, "GetAgentResponse");
    for task in body["tasks"].as_array().unwrap() {
        spec.check(task, "AgentTaskSummary", &[]);
    }
    assert_eq!(agent.tasks.len(), 2);

    let made = h
        .send(
            Method::POST,
            "/agents",
            Some(&json!({ "name": "Invoices", "description": "d" })),
            &[],
        )
        .await;
    let (_, agent): (_, GetAgentResponse) = spec.ok(&made, 201, "GetAgentResponse");
    assert!(agent.id.starts_with("agt_"));
    let patched = h
        .send(
            Method::PATCH,
            &format!("/agents/{}", agent.id),
            Some(&json!({ "description": null })),
            &[],
        )
        .await;
    let (body, _): (_, GetAgentResponse) = spec.ok(&patched, 200, "GetAgentResponse");
    assert_eq!(body["description"], Value::Null, "null clears");
    assert_eq!(body["name"], "Invoices", "absent keeps");
    let (items, _): (_, PaginatedResponseOfGetAgentResponse) = spec.page(
        &h.get("/agents").await,
        "PaginatedResponseOfGetAgentResponse",
        "GetAgentResponse",
    );
    assert_eq!(items.len(), 2);
    let deleted = h
        .send(Method::DELETE, &format!("/agents/{}", agent.id), None, &[])
        .await;
    let (_, gone): (_, DeleteAgentResponse) = spec.ok(&deleted, 200, "DeleteAgentResponse");
    assert!(gone.deleted && gone.object == "agent");
    spec.fails(
        &h.get(&format!("/agents/{}", agent.id)).await,
        404,
        "agent_not_found",
    );
    spec.fails(
        &h.send(
            Method::POST,
            "/agents",
            Some(&json!({ "description": "x" })),
            &[],
        )
        .await,
        400,
        "input_missing",
    );

    let body = json!({ "name": "Portal", "type": "website", "website": { "url": "https://portal.example" } });
    let made = h.send(Method::POST, "/sources", Some(&body), &[]).await;
    let (body, source): (_, GetSourceResponse) = spec.ok(&made, 201, "GetSourceResponse");
    spec.check(&body["website"], "SourceWebsite", &[]);
    let patched = h
        .send(
            Method::PATCH,
            &format!("/sources/{}", source.id),
            Some(&json!({ "name": null })),
            &[],
        )
        .await;
    let (body, _): (_, GetSourceResponse) = spec.ok(&patched, 200, "GetSourceResponse");
    assert_eq!(body["name"], Value::Null);
    assert_eq!(body["website"]["url"], "https://portal.example");
    spec.ok::<GetSourceResponse>(
        &h.get(&format!("/sources/{}", source.id)).await,
        200,
        "GetSourceResponse",
    );
    spec.page::<PaginatedResponseOfGetSourceResponse>(
        &h.get("/sources").await,
        "PaginatedResponseOfGetSourceResponse",
        "GetSourceResponse",
    );
    let deleted = h
        .send(
            Method::DELETE,
            &format!("/sources/{}", source.id),
            None,
            &[],
        )
        .await;
    spec.ok::<DeleteSourceResponse>(&deleted, 200, "DeleteSourceResponse");
    spec.fails(
        &h.send(
            Method::POST,
            "/sources",
            Some(&json!({ "type": "website" })),
            &[],
        )
        .await,
        400,
        "input_missing",
    );

    // Through the generated client.
    let client = generated_client(&h);
    let made = client
        .create_agent()
        .body(deck_api_ext::api::types::CreateAgentRequest::builder().name("Via client"))
        .send()
        .await
        .expect("createAgent decodes")
        .into_inner();
    client
        .get_agent()
        .agent_id(&made.id)
        .send()
        .await
        .expect("getAgent decodes");
    client
        .update_agent()
        .agent_id(&made.id)
        .body(deck_api_ext::api::types::UpdateAgentRequest::builder().name("Renamed".to_owned()))
        .send()
        .await
        .expect("updateAgent decodes");
    client
        .list_agents()
        .send()
        .await
        .expect("listAgents decodes");
    client
        .delete_agent()
        .agent_id(&made.id)
        .send()
        .await
        .expect("deleteAgent decodes");
    client
        .list_sources()
        .send()
        .await
        .expect("listSources decodes");
}

#[tokio::test]
async fn credentials_match_the_spec_and_never_return_secrets() {
    use deck_api_ext::api::types::{
        DeleteCredentialResponse, GetCredentialResponse, PaginatedResponseOfGetCredentialResponse,
    };
    let h = Harness::start().await;
    let spec = Spec::new();
    let body = json!({
        "source_id": "src_1",
        "auth_method": "username_password",
        "auth_credentials": {
            "username": "ada",
            "password": "hunter2-secret",
            "source_fields": { "company_id": "acme" }
        },
        "external_id": "user_42",
    });
    let made = h.send(Method::POST, "/credentials", Some(&body), &[]).await;
    assert!(!made.text().contains("hunter2"), "{}", made.text());
    let (body, credential): (_, GetCredentialResponse) =
        spec.ok(&made, 201, "GetCredentialResponse");
    spec.check(&body["auth_credentials"], "CredentialAuthSummary", &[]);
    assert_eq!(
        body["auth_credentials"],
        json!({ "username": "ada", "source_fields": { "company_id": "acme" } })
    );
    assert_eq!(body["status"], "unverified");
    let path = format!("/credentials/{}", credential.id);

    // PATCH: an absent field is unchanged, an explicit null clears `external_id`.
    let renamed = h
        .send(
            Method::PATCH,
            &path,
            Some(&json!({ "auth_credentials": { "username": "bob", "password": "p2" } })),
            &[],
        )
        .await;
    let (body, _): (_, GetCredentialResponse) = spec.ok(&renamed, 200, "GetCredentialResponse");
    assert_eq!(body["external_id"], "user_42");
    assert_eq!(body["auth_credentials"], json!({ "username": "bob" }));
    let cleared = h
        .send(
            Method::PATCH,
            &path,
            Some(&json!({ "external_id": null })),
            &[],
        )
        .await;
    let (body, _): (_, GetCredentialResponse) = spec.ok(&cleared, 200, "GetCredentialResponse");
    assert_eq!(body["external_id"], Value::Null);
    assert_eq!(body["auth_credentials"]["username"], "bob");

    // DELETE keeps the credential, with status `deleted`.
    let deleted = h.send(Method::DELETE, &path, None, &[]).await;
    let (_, gone): (_, DeleteCredentialResponse) =
        spec.ok(&deleted, 200, "DeleteCredentialResponse");
    assert!(gone.deleted);
    let (body, _): (_, GetCredentialResponse) =
        spec.ok(&h.get(&path).await, 200, "GetCredentialResponse");
    assert_eq!(body["status"], "deleted");
    spec.fails(
        &h.send(
            Method::PATCH,
            &path,
            Some(&json!({ "external_id": "x" })),
            &[],
        )
        .await,
        409,
        "credential_deleted",
    );
    let (items, _): (_, PaginatedResponseOfGetCredentialResponse) = spec.page(
        &h.get("/credentials?status=deleted").await,
        "PaginatedResponseOfGetCredentialResponse",
        "GetCredentialResponse",
    );
    assert_eq!(items.len(), 1);
    let everything = h.get("/events?limit=100").await.text();
    assert!(
        !everything.contains("hunter2") && !everything.contains("\"p2\""),
        "{everything}"
    );

    spec.fails(
        &h.send(Method::POST, "/credentials", Some(&json!({})), &[])
            .await,
        400,
        "input_missing",
    );
    let no_password = json!({ "source_id": "src_1", "auth_method": "username_password", "auth_credentials": { "username": "a" } });
    let reply = h
        .send(Method::POST, "/credentials", Some(&no_password), &[])
        .await;
    spec.fails(&reply, 400, "input_missing");
    assert_eq!(
        reply.error().errors[0].field.as_deref(),
        Some("auth_credentials.password")
    );
    let bad_field = json!({ "source_id": "src_1", "auth_credentials": { "source_fields": { "Password": "x" } } });
    spec.fails(
        &h.send(Method::POST, "/credentials", Some(&bad_field), &[])
            .await,
        422,
        "input_invalid",
    );
    let long_external = json!({ "source_id": "src_1", "external_id": "x".repeat(256) });
    spec.check_validation(
        &h.send(Method::POST, "/credentials", Some(&long_external), &[])
            .await,
    );
    spec.fails(
        &h.get("/credentials/cred_nope").await,
        404,
        "credential_not_found",
    );

    let client = generated_client(&h);
    client
        .get_credential()
        .credential_id(&credential.id)
        .send()
        .await
        .expect("getCredential decodes");
    client
        .list_credentials()
        .send()
        .await
        .expect("listCredentials decodes");
}

#[tokio::test]
async fn event_destinations_deliveries_and_events_match_the_spec() {
    use deck_api_ext::api::types::{
        DeleteEventDestinationResponse, EventDestinationResponse, GetEventResponse,
        PaginatedResponseOfEventDeliveryResponse, PaginatedResponseOfEventDestinationResponse,
        PaginatedResponseOfGetEventResponse,
    };
    let h = Harness::start().await;
    let spec = Spec::new();
    let body = json!({
        "name": "Runs",
        "type": "webhook",
        "events": ["task.created", "agent.created"],
        "webhook": { "url": "https://hooks.example/deck" },
    });
    let made = h
        .send(Method::POST, "/event-destinations", Some(&body), &[])
        .await;
    let (body, destination): (_, EventDestinationResponse) =
        spec.ok(&made, 201, "EventDestinationResponse");
    spec.check(&body["webhook"], "WebhookDestinationConfig", &[]);
    assert!(
        body["webhook"]["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(body["status"], "active");
    let path = format!("/event-destinations/{}", destination.id);

    let sqs = json!({ "name": "Queue", "type": "aws_sqs", "aws_sqs": { "queue_url": "https://sqs.example/q", "secret_access_key": "AKIA-secret" } });
    let made = h
        .send(Method::POST, "/event-destinations", Some(&sqs), &[])
        .await;
    assert!(!made.text().contains("AKIA-secret"), "{}", made.text());
    let (body, _): (_, EventDestinationResponse) = spec.ok(&made, 201, "EventDestinationResponse");
    assert_eq!(
        body["aws_sqs"],
        json!({ "queue_url": "https://sqs.example/q" })
    );
    assert_eq!(body["events"], json!(["*"]));

    // Two subscribed events, one that is not.
    h.send(Method::POST, "/agents", Some(&json!({ "name": "A" })), &[])
        .await;
    h.send(
        Method::POST,
        "/tasks",
        Some(&json!({ "name": "T", "agent_id": "agt_000001" })),
        &[],
    )
    .await;
    h.send(
        Method::POST,
        "/sources",
        Some(&json!({ "type": "website", "website": { "url": "https://x" } })),
        &[],
    )
    .await;
    let (items, _): (_, PaginatedResponseOfEventDeliveryResponse) = spec.page(
        &h.get(&format!("{path}/event-deliveries")).await,
        "PaginatedResponseOfEventDeliveryResponse",
        "EventDeliveryResponse",
    );
    let types: Vec<&str> = items
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["task.created", "agent.created"]);

    let patched = h
        .send(
            Method::PATCH,
            &path,
            Some(&json!({ "status": "inactive", "webhook": { "custom_headers": "{}" } })),
            &[],
        )
        .await;
    let (body, _): (_, EventDestinationResponse) =
        spec.ok(&patched, 200, "EventDestinationResponse");
    assert_eq!(body["status"], "inactive");
    assert_eq!(
        body["webhook"]["url"], "https://hooks.example/deck",
        "merged, not replaced"
    );
    assert_eq!(body["webhook"]["custom_headers"], "{}");
    spec.fails(
        &h.send(
            Method::PATCH,
            &path,
            Some(&json!({ "aws_s3": { "bucket": "b" } })),
            &[],
        )
        .await,
        422,
        "input_invalid",
    );
    spec.fails(
        &h.send(
            Method::PATCH,
            &path,
            Some(&json!({ "events": ["*", "task.created"] })),
            &[],
        )
        .await,
        422,
        "input_invalid",
    );
    spec.page::<PaginatedResponseOfEventDestinationResponse>(
        &h.get("/event-destinations?status=inactive").await,
        "PaginatedResponseOfEventDestinationResponse",
        "EventDestinationResponse",
    );
    spec.ok::<EventDestinationResponse>(&h.get(&path).await, 200, "EventDestinationResponse");

    // Events: listed and retrieved; the webhook secret never travels in event data.
    let (events, _): (_, PaginatedResponseOfGetEventResponse) = spec.page(
        &h.get("/events").await,
        "PaginatedResponseOfGetEventResponse",
        "GetEventResponse",
    );
    assert!(events.len() >= 6, "{events:?}");
    assert!(!serde_json::to_string(&events).unwrap().contains("whsec_"));
    let id = events[0]["id"].as_str().unwrap();
    spec.ok::<GetEventResponse>(
        &h.get(&format!("/events/{id}")).await,
        200,
        "GetEventResponse",
    );
    spec.fails(&h.get("/events/evt_nope").await, 404, "event_not_found");
    spec.check_validation(&h.get("/events?created_after=yesterday").await);

    let deleted = h.send(Method::DELETE, &path, None, &[]).await;
    spec.ok::<DeleteEventDestinationResponse>(&deleted, 200, "DeleteEventDestinationResponse");
    spec.fails(&h.get(&path).await, 404, "event_destination_not_found");
    spec.fails(
        &h.get(&format!("{path}/event-deliveries")).await,
        404,
        "event_destination_not_found",
    );
    spec.fails(
        &h.send(
            Method::POST,
            "/event-destinations",
            Some(&json!({ "name": "x", "type": "webhook" })),
            &[],
        )
        .await,
        400,
        "input_missing",
    );

    let client = generated_client(&h);
    client
        .list_events()
        .send()
        .await
        .expect("listEvents decodes");
    client
        .get_event()
        .event_id(id)
        .send()
        .await
        .expect("getEvent decodes");
    client
        .list_event_destinations()
        .send()
        .await
        .expect("listEventDestinations decodes");
}

#[tokio::test(start_paused = true)]
async fn task_runs_sessions_tokens_and_test_match_the_spec() {
    use deck_api_ext::api::types::{
        CreateSessionTokenResponse, DeleteTaskResponse, GetSessionResponse, GetTestResponse,
        PaginatedResponseOfGetTaskResponse, PaginatedResponseOfGetTaskRunResponse,
    };
    let h = Harness::start().await;
    let spec = Spec::new();
    let plan = RunPlan::new()
        .asks(json!({ "type": "mfa", "fields": [{ "name": "code", "type": "string" }] }))
        .fails("source_unavailable", "The source did not respond.");
    h.fake
        .add_task(TaskSeed::new("task_x", "X").run_plan(plan))
        .unwrap();

    let ran = h
        .send(
            Method::POST,
            "/tasks/task_x/run",
            Some(&json!({ "input": { "a": 1 } })),
            &[],
        )
        .await;
    let (run, _): (_, GetTaskRunResponse) = spec.ok(&ran, 201, "GetTaskRunResponse");
    let id = run["id"].as_str().unwrap().to_owned();
    tokio::time::advance(std::time::Duration::from_secs(3)).await;
    let waiting = h
        .get(&format!("/task-runs/{id}?include=input,storage,artifacts"))
        .await;
    let (body, _): (_, GetTaskRunResponse) = spec.ok(&waiting, 200, "GetTaskRunResponse");
    spec.check(&body["artifacts"], "TaskRunArtifacts", &[]);
    assert_eq!(body["status"], "interaction_required");
    let answered = h
        .send(
            Method::POST,
            &format!("/task-runs/{id}/interaction"),
            Some(&json!({ "input": { "code": "1" } })),
            &[],
        )
        .await;
    spec.ok::<GetTaskRunResponse>(&answered, 200, "GetTaskRunResponse");
    tokio::time::advance(std::time::Duration::from_secs(2)).await;
    let (body, failed): (_, GetTaskRunResponse) = spec.ok(
        &h.get(&format!("/task-runs/{id}")).await,
        200,
        "GetTaskRunResponse",
    );
    for error in body["errors"].as_array().unwrap() {
        spec.check(error, "TaskRunError", &[]);
    }
    assert_eq!(failed.errors.unwrap()[0].code, "source_unavailable");

    let second = h
        .send(Method::POST, "/tasks/task_x/run", Some(&json!({})), &[])
        .await
        .json();
    let second = second["id"].as_str().unwrap().to_owned();
    let canceled = h
        .send(
            Method::POST,
            &format!("/task-runs/{second}/cancel"),
            None,
            &[],
        )
        .await;
    spec.ok::<GetTaskRunResponse>(&canceled, 200, "GetTaskRunResponse");
    let (runs, _): (_, PaginatedResponseOfGetTaskRunResponse) = spec.page(
        &h.get("/task-runs?status=failed&status=canceling").await,
        "PaginatedResponseOfGetTaskRunResponse",
        "GetTaskRunResponse",
    );
    assert_eq!(runs.len(), 2);

    let session = run["session_id"].as_str().unwrap();
    let (body, _): (_, GetSessionResponse) = spec.ok(
        &h.get(&format!("/sessions/{session}")).await,
        200,
        "GetSessionResponse",
    );
    for entry in body["task_runs"].as_array().unwrap() {
        spec.check(entry, "SessionTaskRun", &[]);
    }
    let ended = h
        .send(Method::POST, &format!("/sessions/{session}/end"), None, &[])
        .await;
    let (body, _): (_, GetSessionResponse) = spec.ok(&ended, 200, "GetSessionResponse");
    assert_eq!(body["status"], "completed");
    spec.fails(
        &h.get("/sessions/sess_nope").await,
        404,
        "session_not_found",
    );

    // Tasks: list, reset, delete.
    let (tasks, _): (_, PaginatedResponseOfGetTaskResponse) = spec.page(
        &h.get("/tasks").await,
        "PaginatedResponseOfGetTaskResponse",
        "GetTaskResponse",
    );
    assert_eq!(tasks.len(), 1);
    let reset = h.send(Method::POST, "/tasks/task_x/reset", None, &[]).await;
    let (body, _): (_, GetTaskResponse) = spec.ok(&reset, 200, "GetTaskResponse");
    assert_eq!(body["status"], "learning");
    let deleted = h.send(Method::DELETE, "/tasks/task_x", None, &[]).await;
    spec.ok::<DeleteTaskResponse>(&deleted, 200, "DeleteTaskResponse");
    spec.fails(
        &h.send(Method::POST, "/tasks/task_x/run", Some(&json!({})), &[])
            .await,
        404,
        "task_not_found",
    );
    spec.fails(
        &h.send(Method::POST, "/tasks/task_x/reset", None, &[]).await,
        404,
        "task_not_found",
    );

    let token = h.send(Method::POST, "/token", None, &[]).await;
    let (body, token): (_, CreateSessionTokenResponse) =
        spec.ok(&token, 201, "CreateSessionTokenResponse");
    assert!(token.id.starts_with("tok_") && body["token"].as_str().unwrap().starts_with("tk_"));
    assert_eq!(
        (token.expires_at - token.created_at.unwrap()).num_minutes(),
        30
    );
    let (body, _): (_, GetTestResponse) = spec.ok(&h.get("/test").await, 200, "GetTestResponse");
    assert_eq!(
        body,
        json!({ "status": "ready", "environment": "live", "request_id": body["request_id"] })
    );

    let client = generated_client(&h);
    client.get_test().send().await.expect("getTest decodes");
    client
        .create_session_token()
        .send()
        .await
        .expect("createSessionToken decodes");
    client
        .list_task_runs()
        .send()
        .await
        .expect("listTaskRuns decodes");
    client
        .get_session()
        .session_id(session)
        .send()
        .await
        .expect("getSession decodes");
    client.list_tasks().send().await.expect("listTasks decodes");
}
