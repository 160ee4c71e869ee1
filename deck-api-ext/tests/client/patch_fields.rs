//! Update bodies: a `Patch` field left unchanged is not sent, a cleared one is sent as `null`,
//! a set one as its value, on the wire of a real call.

use crate::support::{Reply, Server, deck_with};
use deck_api_ext::RetryConfig;
use deck_api_ext::api::Patch;
use deck_api_ext::api::types::UpdateCredentialRequest;
use deck_api_ext::prelude::*;
use serde_json::{Value, json};

const CREDENTIAL: &str = r#"{"id":"cred_1","object":"credential","status":"active","created_at":"2026-01-02T03:04:05Z"}"#;

#[tokio::test]
async fn a_credentials_external_id_is_cleared_with_null_and_left_out_when_unchanged() {
    let server = Server::start([
        Reply::json(200, CREDENTIAL),
        Reply::json(200, CREDENTIAL),
        Reply::json(200, CREDENTIAL),
    ])
    .await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    for body in [
        UpdateCredentialRequest::builder().external_id(Patch::Clear),
        UpdateCredentialRequest::builder().external_id("ext_1"),
        UpdateCredentialRequest::builder(),
    ] {
        deck.api()
            .update_credential()
            .credential_id("cred_1")
            .body(body)
            .call()
            .await
            .unwrap();
    }
    let bodies: Vec<Value> = server
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"external_id": null}),
            json!({"external_id": "ext_1"}),
            json!({})
        ]
    );
    // The newtype's check still applies, before anything is sent.
    let err = deck
        .api()
        .update_credential()
        .credential_id("cred_1")
        .body(UpdateCredentialRequest::builder().external_id("x".repeat(256)))
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.to_string().contains("external_id"), "{err}");
    assert_eq!(server.received().len(), 3);
}

/// Through the fake Deck's `PATCH /v2/tasks/{id}`: the recorded bodies, and the fake decodes
/// them.
#[cfg(feature = "fake")]
#[tokio::test]
async fn a_task_prompt_is_cleared_with_null_through_the_fake() {
    use deck_api_ext::api::types::{CreateTaskRequest, UpdateTaskRequest};
    use deck_api_ext::fake::{FakeDeck, Origin};

    let fake = FakeDeck::start().await.unwrap();
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let create: CreateTaskRequest = CreateTaskRequest::builder()
        .name("Fetch invoices")
        .agent_id("agt_1")
        .prompt("Download every invoice".to_string())
        .try_into()
        .unwrap();
    let task = deck.api().create_task().body(create).call().await.unwrap();
    for body in [
        UpdateTaskRequest::builder()
            .name("Renamed")
            .prompt(Patch::Clear),
        UpdateTaskRequest::builder().extraction(true),
    ] {
        deck.api()
            .update_task()
            .task_id(&task.id)
            .body(body)
            .call()
            .await
            .unwrap();
    }
    let sent: Vec<Value> = fake
        .requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api && r.method == "PATCH")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"name": "Renamed", "prompt": null}),
            json!({"extraction": true}),
        ]
    );
}
