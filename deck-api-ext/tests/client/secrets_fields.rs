//! Secret fields (`x-deck-sensitive` in the spec: a credential's `auth_credentials`, a webhook's
//! `secret`, the session `token`) stay out of `Debug`, errors and traces, like the API key, even
//! when a server echoes them back.

use crate::secrets::capture;
use crate::support::{Reply, Server, deck, deck_with};
use deck_api_ext::api::types::{
    self, CreateCredentialRequest, CreateEventDestinationRequest, CreateSessionTokenResponse,
    EventDestinationResponse, UpdateCredentialRequest, WebhookDestinationConfig,
};
use deck_api_ext::prelude::*;
use deck_api_ext::{ErrorKind, RetryConfig};
use futures_util::TryStreamExt;
use serde_json::json;

/// A password with a quote and a backslash, so it is escaped differently in JSON and in `{:?}`.
const PASSWORD: &str = r#"hunter2-"quoted"\PASSWORD-9c1"#;
const PIN: &str = "PIN-SECRET-42";
const TOKEN: &str = "tk_secret_SESSION-4e5";
const WEBHOOK_SECRET: &str = "whsec_WEBHOOK-7a8";

/// Every text must be free of these (any part of a secret that identifies it).
const CORES: [&str; 5] = ["PASSWORD-9c1", "hunter2", PIN, "SESSION-4e5", "WEBHOOK-7a8"];

fn assert_clean(text: &str) {
    for core in CORES {
        assert!(!text.contains(core), "a secret ({core}) leaked: {text}");
    }
}

fn credential() -> types::builder::CreateCredentialRequest {
    CreateCredentialRequest::builder()
        .source_id("src_1")
        .auth_method("username_password".to_string())
        .auth_credentials(json!({
            "username": "ann",
            "password": PASSWORD,
            "source_fields": {"pin": PIN}
        }))
}

fn webhook() -> WebhookDestinationConfig {
    WebhookDestinationConfig::builder()
        .url("https://hooks.example.com/deck".to_string())
        .secret(WEBHOOK_SECRET.to_string())
        .try_into()
        .unwrap()
}

/// Everything an error shows: `Display`, `Debug` and every accessor.
fn shown(err: &Error) -> String {
    format!(
        "{err} | {err:?} | {} | {:?} | {:?} | {} | {}",
        err.message(),
        err.errors(),
        err.validation(),
        err.raw_body().unwrap_or(""),
        err.request_id().unwrap_or(""),
    )
}

#[tokio::test]
async fn debug_of_requests_builders_and_responses_redacts_secrets() {
    let server = Server::start([]).await;
    let deck = deck(server.url());
    let request: CreateCredentialRequest = credential().try_into().unwrap();
    let update_builder = UpdateCredentialRequest::builder()
        .auth_credentials(json!({"password": PASSWORD}))
        .external_id("ext_1");
    let update: UpdateCredentialRequest = update_builder.clone().try_into().unwrap();
    let token: CreateSessionTokenResponse = serde_json::from_value(json!({
        "id": "tok_1", "object": "token", "token": TOKEN,
        "expires_at": "2026-01-02T03:04:05Z", "created_at": "2026-01-02T02:34:05Z"
    }))
    .unwrap();
    let destination: EventDestinationResponse = serde_json::from_value(json!({
        "id": "dest_1", "status": "active", "type": "webhook",
        "created_at": "2026-01-02T03:04:05Z",
        "webhook": {"url": "https://hooks.example.com/deck", "secret": WEBHOOK_SECRET}
    }))
    .unwrap();
    let create_destination = CreateEventDestinationRequest::builder()
        .name("hooks")
        .webhook(webhook());
    // Other destination types carry their credentials in an open, type-keyed object.
    let sqs_destination = CreateEventDestinationRequest::builder()
        .name("queue")
        .aws_sqs(
            json!({"queue_url": "https://sqs.example.com/q", "secret_access_key": PIN})
                .as_object()
                .cloned()
                .unwrap(),
        );
    let shown = [
        format!("{:?}", credential()),
        format!("{request:?}"),
        format!("{:?}", deck.api().create_credential().body(credential())),
        format!("{update_builder:?}"),
        format!("{update:?}"),
        format!(
            "{:?}",
            deck.api()
                .update_credential()
                .credential_id("cred_1")
                .body(update_builder)
        ),
        format!("{token:?}"),
        format!("{:?}", webhook()),
        format!("{destination:?}"),
        format!("{create_destination:?}"),
        format!(
            "{:?}",
            deck.api()
                .create_event_destination()
                .body(create_destination)
        ),
        format!("{sqs_destination:?}"),
    ];
    for text in &shown {
        assert_clean(text);
        assert!(text.contains("<redacted>"), "{text}");
    }
    // Only the secrets: the other fields print as derived.
    assert!(shown[1].contains("source_id: \"src_1\""), "{}", shown[1]);
    assert!(shown[4].contains("ext_1"), "{}", shown[4]);
    assert!(shown[6].contains("tok_1"), "{}", shown[6]);
    assert!(shown[8].contains("hooks.example.com"), "{}", shown[8]);
    // An absent secret still reads as absent.
    let bare: UpdateCredentialRequest = UpdateCredentialRequest::builder().try_into().unwrap();
    assert!(format!("{bare:?}").contains("auth_credentials: None"));
    // The caller still gets the values themselves.
    assert_eq!(token.token, TOKEN);
    assert_eq!(request.auth_credentials.unwrap()["password"], PASSWORD);
}

/// A hostile server echoes the request body (holding the password) in every place an error
/// keeps text: an envelope's message, code and field, a validation map, a raw body, a raw body
/// cut in the middle of the password.
#[tokio::test]
async fn a_request_body_echoed_in_an_error_is_redacted() {
    let sent =
        serde_json::to_string(&CreateCredentialRequest::try_from(credential()).unwrap()).unwrap();
    let escaped = serde_json::to_string(PASSWORD).unwrap();
    let escaped = &escaped[1..escaped.len() - 1];
    let at = sent.find(escaped).expect("the body carries the password");
    // The raw-body snippet keeps 1024 bytes: cut 6 bytes into the password.
    let padding = "x".repeat(1024 - "upstream: ".len() - at - 6);
    let server = Server::start([
        Reply::json(400, r#"{"errors":[{"type":"request","code":"invalid_credentials","message":"cannot log in with {body}","field":"auth_credentials {body}"}],"request_id":"req_{body}"}"#).echoing(),
        Reply::json(400, r#"{"title":"Invalid {body}","errors":{"{body}":["value {body} rejected"]},"traceId":"t"}"#).echoing(),
        Reply::status(502)
            .header("content-type", "text/plain")
            .body(b"upstream rejected {raw}")
            .echoing(),
        Reply::status(502)
            .header("content-type", "text/plain")
            .body(format!("upstream: {padding}{{raw}}").as_bytes())
            .echoing(),
        Reply::json(422, r#"{"errors":[{"type":"request","code":"bad","message":"update {body}"}]}"#)
            .echoing(),
    ])
    .await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let mut errors = Vec::new();
    for _ in 0..4 {
        let err = deck
            .api()
            .create_credential()
            .body(credential())
            .call()
            .await
            .unwrap_err();
        errors.push(err);
    }
    let err = deck
        .api()
        .update_credential()
        .credential_id("cred_1")
        .body(UpdateCredentialRequest::builder().auth_credentials(json!({"password": PASSWORD})))
        .call()
        .await
        .unwrap_err();
    errors.push(err);
    // The server did get the password (and echoed it).
    assert!(String::from_utf8_lossy(&server.received()[0].body).contains("PASSWORD-9c1"));
    for err in &errors {
        assert_eq!(err.kind(), ErrorKind::Api);
        let text = shown(err);
        assert_clean(&text);
        assert!(text.contains("[redacted]"), "{text}");
    }
    // What is not secret survives.
    assert_eq!(errors[0].code(), Some("invalid_credentials"));
    assert!(
        errors[0].message().starts_with("cannot log in with {"),
        "{}",
        errors[0].message()
    );
    assert!(errors[0].message().contains("\"username\":\"[redacted]\""));
    assert!(errors[0].message().contains("src_1"));
    let cut = errors[3].raw_body().unwrap();
    assert!(cut.ends_with("[redacted]…"), "{cut}");
    assert!(!cut.contains("hunte"), "{cut}");
}

/// A malformed session token response: its decode error quotes the body, without the token.
#[tokio::test]
async fn a_malformed_token_response_keeps_the_token_out_of_its_decode_error() {
    let server = Server::start([
        Reply::json(
            201,
            &format!(r#"{{"id":"tok_1","object":"token","token":"{TOKEN}","expires_at":5}}"#),
        ),
        // Not JSON: the token cannot be located, so the body is not kept at all.
        Reply::json(
            201,
            &format!(r#"{{"id":"tok_1","token":"{TOKEN}","expires_at":"2026-01"#),
        ),
        Reply::json(
            201,
            &format!(r#"{{"id":"tok_1","token":"{TOKEN}","expires_at":"2026-01-02T03:04:05Z"}}"#),
        ),
    ])
    .await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let wrong_type = deck.api().create_session_token().call().await.unwrap_err();
    assert_eq!(wrong_type.kind(), ErrorKind::Decode);
    assert_eq!(wrong_type.json_path(), Some("expires_at"));
    let raw = wrong_type.raw_body().unwrap();
    assert!(raw.contains("tok_1") && raw.contains("[redacted]"), "{raw}");
    assert_clean(&shown(&wrong_type));

    let truncated = deck.api().create_session_token().call().await.unwrap_err();
    assert_eq!(truncated.kind(), ErrorKind::Decode);
    assert_eq!(truncated.raw_body(), Some("[redacted]"));
    assert_clean(&shown(&truncated));

    let token = deck.api().create_session_token().call().await.unwrap();
    assert_eq!(token.token, TOKEN);
    assert_clean(&format!("{token:?}"));
}

/// A list whose items carry secrets (`data[].webhook.secret`): a page that fails to decode does
/// not quote them.
#[tokio::test]
async fn a_page_that_fails_to_decode_keeps_its_items_secrets_out() {
    let item = |id: &str, created_at: &str, secret: &str| {
        format!(
            r#"{{"id":"{id}","status":"active","type":"webhook","created_at":{created_at},"webhook":{{"url":"https://hooks.example.com","secret":"{secret}"}}}}"#
        )
    };
    let page = format!(
        r#"{{"data":[{},{}],"has_more":false,"next_cursor":null}}"#,
        item("dest_1", "\"2026-01-02T03:04:05Z\"", WEBHOOK_SECRET),
        item("dest_2", "12", "whsec_OTHER-WEBHOOK-7a8"),
    );
    let server = Server::start([Reply::json(200, &page)]).await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let mut items = deck.api().list_event_destinations().paginate().items();
    let err = items.try_next().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("data[1].created_at"));
    let text = shown(&err);
    assert_clean(&text);
    assert!(text.contains("dest_2"), "{text}");
}

/// Traces (span fields, retry and completion events) of a call whose error responses echo the
/// password in their code and request id, through `.call()` and the raw `.send()`.
#[tokio::test(start_paused = true)]
async fn traces_never_show_a_secret() {
    let (logs, _guard) = capture();
    let echo = r#"{"errors":[{"type":"api","code":"rejected_{body}","message":"m {body}"}],"request_id":"req_{body}"}"#;
    let server = Server::start([
        Reply::json(503, echo).echoing(),
        Reply::json(400, echo).echoing(),
        Reply::json(400, echo).echoing(),
        Reply::json(
            201,
            &format!(r#"{{"id":"tok_1","token":"{TOKEN}","expires_at":5}}"#),
        ),
    ])
    .await;
    let deck = deck(server.url());
    let err = deck
        .api()
        .create_credential()
        .body(credential())
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(server.received().len(), 2, "the 503 was retried");
    let raw = deck
        .api()
        .create_credential()
        .body(credential())
        .send()
        .await;
    assert!(raw.is_err());
    deck.api().create_session_token().call().await.unwrap_err();
    let logs = logs.text();
    assert!(logs.contains("retrying Deck request"), "{logs}");
    assert!(
        logs.contains("rejected_{") && logs.contains("[redacted]"),
        "{logs}"
    );
    assert_clean(&logs);
}

/// A request whose secrets cannot all be located (more values than the client tracks) is
/// refused before anything is sent.
#[tokio::test]
async fn a_request_with_too_many_secret_values_is_refused_unsent() {
    let server = Server::start([]).await;
    let deck = deck_with(server.url(), RetryConfig::disabled());
    let many: Vec<String> = (0..300).map(|i| format!("value-{i}")).collect();
    let err = deck
        .api()
        .create_credential()
        .body(credential().auth_credentials(json!({ "values": many })))
        .call()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.to_string().contains("auth_credentials"), "{err}");
    assert!(server.received().is_empty());
}
