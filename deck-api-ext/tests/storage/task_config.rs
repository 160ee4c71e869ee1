//! Storage configuration on tasks against the fake Deck: create a task with a typed
//! [`StorageConfig`], read it back, update it; errors keep the operation and field.

#![cfg(feature = "fake")]

use crate::support::deck_for;
use deck_api_ext::api::types::{CreateTaskRequest, UpdateTaskRequest};
use deck_api_ext::fake::{FakeDeck, Origin};
use deck_api_ext::task_config::StorageConfig;
use deck_api_ext::{CallExt, ErrorKind};
use serde_json::{Value, json};

fn guide_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "vendor_name": { "type": "string" },
            "total_amount": { "type": "number" },
            "invoice_date": { "type": "string", "format": "date" }
        }
    })
}

#[tokio::test]
async fn create_then_update_a_tasks_storage_config() {
    let fake = FakeDeck::start().await.unwrap();
    let deck = deck_for(&fake);
    let request: CreateTaskRequest = CreateTaskRequest::builder()
        .name("Fetch utility bills")
        .agent_id("agt_a1b2c3d4")
        .storage(
            StorageConfig::enabled()
                .extraction(true)
                .deduplication(true),
        )
        .try_into()
        .unwrap();
    let task = deck.api().create_task().body(request).call().await.unwrap();
    let stored = StorageConfig::from(task.storage.clone().expect("storage is returned"));
    assert_eq!(
        stored,
        StorageConfig::enabled()
            .extraction(true)
            .deduplication(true)
    );

    // The body on the wire is the guide's.
    let sent = fake
        .requests()
        .into_iter()
        .find(|r| r.origin == Origin::Api && r.method == "POST")
        .unwrap();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body["storage"],
        json!({"enabled": true, "extraction": true, "deduplication": true})
    );
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["agent_id", "name", "storage"],
        "fields the caller did not set are not sent (no top-level `extraction: false`)"
    );

    let update: UpdateTaskRequest = UpdateTaskRequest::builder()
        .storage(
            StorageConfig::enabled()
                .extraction(true)
                .extraction_schema(guide_schema()),
        )
        .try_into()
        .unwrap();
    let updated = deck
        .api()
        .update_task()
        .task_id(&task.id)
        .body(update)
        .call()
        .await
        .unwrap();
    assert_eq!(updated.name, "Fetch utility bills");
    let storage = StorageConfig::from(updated.storage.expect("storage is returned"));
    assert_eq!(storage.extraction_schema, Some(guide_schema()));
    assert_eq!(storage.deduplication, Some(false));
}

#[tokio::test]
async fn task_errors_name_the_operation_and_field() {
    let fake = FakeDeck::start().await.unwrap();
    let deck = deck_for(&fake);
    let request: CreateTaskRequest = CreateTaskRequest::builder()
        .name("x")
        .agent_id("not-an-agent")
        .storage(StorageConfig::disabled())
        .try_into()
        .unwrap();
    let err = deck
        .api()
        .create_task()
        .body(request)
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.operation(), Some("createTask"));
    assert_eq!(err.errors()[0].field.as_deref(), Some("agent_id"));

    let update: UpdateTaskRequest = UpdateTaskRequest::builder()
        .storage(StorageConfig::enabled())
        .try_into()
        .unwrap();
    let err = deck
        .api()
        .update_task()
        .task_id("task_missing")
        .body(update)
        .call()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.operation(), Some("updateTask"));
}
