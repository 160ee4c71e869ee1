//! `deck webhook verify`: the Standard Webhooks test vector, deliveries signed here and one
//! delivered by the fake Deck to a receiver in the test; every rejection is exit 8 with its own
//! reason, the secret never appears, and no API key or demo server is involved.

use std::time::Duration;

use crate::support::{KEY, Run, deck, fake_builder};
use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use deck_api_ext::api::types::{
    CreateEventDestinationRequest, RunTaskRequest, WebhookDestinationConfig,
};
use deck_api_ext::fake::{RunPlan, TaskSeed};
use deck_api_ext::prelude::*;
use deck_api_ext::webhook::Signer;
use tokio::sync::mpsc;

/// The Standard Webhooks specification's published example.
const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const VECTOR_TS: &str = "1614265330";
const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// Another valid secret.
const OTHER_SECRET: &str = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";

/// A Deck event as Deck delivers it.
const EVENT: &[u8] = br#"{"id":"evt_1","object":"event","type":"task_run.completed","data":{"id":"trun_1","object":"task_run","status":"completed","result":"success","created_at":"2025-01-15T09:30:00Z","updated_at":"2025-01-15T09:31:15Z"},"created_at":"2025-01-15T09:31:15Z"}"#;
const EVENT_TS: i64 = 1_736_933_475;

/// `deck webhook verify` with these header values, `extra` options and `body` on stdin.
async fn verify(secret: &str, id: &str, ts: &str, sig: &str, body: &[u8], extra: &[&str]) -> Run {
    let mut args = vec![
        "webhook",
        "verify",
        "--secret",
        secret,
        "--id",
        id,
        "--timestamp",
        ts,
        "--signature",
        sig,
    ];
    args.extend_from_slice(extra);
    let run = deck(&args).stdin(body).run().await;
    for secret in [VECTOR_SECRET, OTHER_SECRET, secret] {
        let key = secret.trim_start_matches("whsec_");
        assert!(
            !run.stdout.contains(key) && !run.stderr.contains(key),
            "the secret was printed: {run:#?}"
        );
    }
    assert!(
        !run.stderr.contains("DECK_API_KEY"),
        "no demo server: {run:#?}"
    );
    run
}

#[tokio::test]
async fn the_standard_webhooks_vector_verifies_at_its_time() {
    for now in ["--now=1614265330", "--now=2021-02-25T15:02:10Z"] {
        let run = verify(
            VECTOR_SECRET,
            VECTOR_ID,
            VECTOR_TS,
            VECTOR_SIGNATURE,
            VECTOR_BODY,
            &[now],
        )
        .await;
        assert_eq!(run.code, 0, "{run:#?}");
        assert_eq!(run.stdout, "", "not a Deck event: no type or id to print");
        assert_eq!(
            run.one_line(),
            "deck: the signature is valid, but the body is not a Deck event: missing field \
             `created_at`"
        );
    }
    // Five minutes later it is still within the default tolerance; a second more is not.
    let at_edge = verify(
        VECTOR_SECRET,
        VECTOR_ID,
        VECTOR_TS,
        VECTOR_SIGNATURE,
        VECTOR_BODY,
        &["--now", "1614265630"],
    )
    .await;
    assert_eq!(at_edge.code, 0, "{at_edge:#?}");
    let late = verify(
        VECTOR_SECRET,
        VECTOR_ID,
        VECTOR_TS,
        VECTOR_SIGNATURE,
        VECTOR_BODY,
        &["--now", "1614265631"],
    )
    .await;
    assert_eq!(late.code, 8, "{late:#?}");
    let wider = verify(
        VECTOR_SECRET,
        VECTOR_ID,
        VECTOR_TS,
        VECTOR_SIGNATURE,
        VECTOR_BODY,
        &["--now", "1614265631", "--tolerance", "10m"],
    )
    .await;
    assert_eq!(wider.code, 0, "{wider:#?}");
}

#[tokio::test]
async fn a_deck_event_prints_its_type_and_id() {
    let signature = Signer::new(VECTOR_SECRET)
        .unwrap()
        .sign("msg_1", EVENT_TS, EVENT);
    let ts = EVENT_TS.to_string();
    let now = format!("--now={ts}");
    let run = verify(VECTOR_SECRET, "msg_1", &ts, &signature, EVENT, &[&now]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        "{\"type\":\"task_run.completed\",\"id\":\"evt_1\"}\n"
    );
    assert_eq!(run.stderr, "");

    // During a rotation: the old and the new secret; the signature may be by either.
    let by_new = Signer::new(OTHER_SECRET)
        .unwrap()
        .sign("msg_1", EVENT_TS, EVENT);
    let both = deck(&[
        "webhook",
        "verify",
        "--secret",
        VECTOR_SECRET,
        "--secret",
        OTHER_SECRET,
        "--id",
        "msg_1",
        "--timestamp",
        &ts,
        "--signature",
        &format!("v1,bm90IGl0 {by_new}"),
        &now,
    ])
    .stdin(EVENT)
    .run()
    .await;
    assert_eq!(both.code, 0, "{both:#?}");
    // The secret from the environment.
    let from_env = deck(&[
        "webhook",
        "verify",
        "--id",
        "msg_1",
        "--timestamp",
        &ts,
        "--signature",
        &signature,
        &now,
    ])
    .env("DECK_WEBHOOK_SECRET", VECTOR_SECRET)
    .stdin(EVENT)
    .run()
    .await;
    assert_eq!(from_env.code, 0, "{from_env:#?}");
    assert_eq!(from_env.stdout, run.stdout);
}

#[tokio::test]
async fn every_rejection_exits_8_with_its_own_reason() {
    let mut tampered = VECTOR_BODY.to_vec();
    tampered[10] = b'3';
    let now = "--now=1614265330";
    let cases: [(&str, Run); 7] = [
        (
            "tampered body",
            verify(
                VECTOR_SECRET,
                VECTOR_ID,
                VECTOR_TS,
                VECTOR_SIGNATURE,
                &tampered,
                &[now],
            )
            .await,
        ),
        (
            "body with a trailing newline (echo)",
            verify(
                VECTOR_SECRET,
                VECTOR_ID,
                VECTOR_TS,
                VECTOR_SIGNATURE,
                b"{\"test\": 2432232314}\n",
                &[now],
            )
            .await,
        ),
        (
            "wrong secret",
            verify(
                OTHER_SECRET,
                VECTOR_ID,
                VECTOR_TS,
                VECTOR_SIGNATURE,
                VECTOR_BODY,
                &[now],
            )
            .await,
        ),
        (
            "stale timestamp (this machine's clock)",
            verify(
                VECTOR_SECRET,
                VECTOR_ID,
                VECTOR_TS,
                VECTOR_SIGNATURE,
                VECTOR_BODY,
                &[],
            )
            .await,
        ),
        (
            "empty signature",
            verify(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, "", VECTOR_BODY, &[now]).await,
        ),
        (
            "v1, without a signature",
            verify(
                VECTOR_SECRET,
                VECTOR_ID,
                VECTOR_TS,
                "v1, v2,abc",
                VECTOR_BODY,
                &[now],
            )
            .await,
        ),
        (
            "timestamp not a number",
            verify(
                VECTOR_SECRET,
                VECTOR_ID,
                "yesterday",
                VECTOR_SIGNATURE,
                VECTOR_BODY,
                &[now],
            )
            .await,
        ),
    ];
    let mut report = Vec::new();
    for (name, run) in &cases {
        assert_eq!(run.code, 8, "{name}: {run:#?}");
        assert_eq!(run.stdout, "", "{name}");
        let line = run.one_line();
        assert!(
            line.starts_with("deck: error: not verified: "),
            "{name}: {line}"
        );
        // The stale case quotes how far this machine's clock is from 2021: it varies.
        let line = match line.split_once(" s away") {
            Some((head, tail)) => format!(
                "{}[n] s away{tail}",
                head.trim_end_matches(|c: char| c.is_ascii_digit())
            ),
            None => line.to_owned(),
        };
        report.push(format!("{name}:\n  {line}"));
    }
    insta::assert_snapshot!(report.join("\n"));
}

#[tokio::test]
async fn a_malformed_secret_is_a_usage_error_that_does_not_quote_it() {
    for (secrets, which) in [
        (&["whsec_not base64!"][..], "#1"),
        (&["sk_live_abc"][..], "#1"),
        (&[VECTOR_SECRET, "whsec_"][..], "#2"),
    ] {
        let mut args = vec!["webhook", "verify"];
        for secret in secrets {
            args.extend(["--secret", secret]);
        }
        args.extend([
            "--id",
            VECTOR_ID,
            "--timestamp",
            VECTOR_TS,
            "--signature",
            VECTOR_SIGNATURE,
        ]);
        let run = deck(&args).stdin(VECTOR_BODY).run().await;
        assert_eq!(run.code, 2, "{run:#?}");
        assert_eq!(
            run.one_line(),
            format!("deck: error: --secret {which} is not `whsec_` followed by base64")
        );
        for secret in secrets.iter().filter(|s| s.len() > "whsec_".len()) {
            assert!(!run.stderr.contains(secret), "{run:#?}");
        }
    }
    // The environment's secret is not shown by --help either.
    let help = deck(&["webhook", "verify", "--help"])
        .env("DECK_WEBHOOK_SECRET", OTHER_SECRET)
        .run()
        .await;
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.contains("[env: DECK_WEBHOOK_SECRET]"),
        "{}",
        help.stdout
    );
    assert!(!help.stdout.contains(OTHER_SECRET));
    let missing = deck(&[
        "webhook",
        "verify",
        "--id",
        "x",
        "--timestamp",
        "1",
        "--signature",
        "",
    ])
    .run()
    .await;
    assert_eq!(missing.code, 2, "{missing:#?}");
}

#[tokio::test]
async fn a_delivery_from_the_fake_verifies() {
    // A receiver that hands each delivery's headers and body to the test.
    let (sender, mut received) = mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sender = sender.clone();
            async move {
                let _ = sender.send((headers, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let fake = fake_builder().start().await.unwrap();
    let quick = Duration::from_millis(50);
    fake.add_task(
        TaskSeed::new("task_quick", "Quick")
            .run_plan(RunPlan::new().queued_for(quick).running_for(quick)),
    )
    .unwrap();
    let api = Deck::builder()
        .api_key(KEY)
        .base_url(fake.base_url())
        .build()
        .unwrap();
    let config =
        WebhookDestinationConfig::try_from(WebhookDestinationConfig::builder().url(Some(url)))
            .unwrap();
    let destination = api
        .api()
        .create_event_destination()
        .body(
            CreateEventDestinationRequest::builder()
                .name("deck verify")
                .events(Some(vec!["task_run.completed".to_owned()]))
                .webhook(Some(config)),
        )
        .call()
        .await
        .unwrap();
    let secret = destination.webhook.and_then(|w| w.secret).unwrap();
    let run = api
        .api()
        .run_task()
        .task_id("task_quick")
        .body(RunTaskRequest::builder())
        .call()
        .await
        .unwrap();

    let (headers, body) = tokio::time::timeout(Duration::from_secs(20), received.recv())
        .await
        .expect("a delivery within 20 s")
        .unwrap();
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    let verified = verify(
        &secret,
        &header("webhook-id"),
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
        &[],
    )
    .await;
    assert_eq!(verified.code, 0, "{verified:#?}");
    let printed = &verified.json_lines()[0];
    assert_eq!(printed["type"], "task_run.completed");
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(printed["id"], event["id"]);
    assert_eq!(event["data"]["id"], run.id.as_str());
}
