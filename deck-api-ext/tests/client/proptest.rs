//! Bad input: arbitrary bytes and arbitrary JSON as response bodies (and arbitrary `Retry-After`
//! and request-id headers) for every interesting status. The client returns `Ok` or `Err`, never
//! panics, and an error keeps the status and displays on one line.

use std::sync::OnceLock;

use crate::support::{Reply, Server};
use deck_api_ext::RetryConfig;
use deck_api_ext::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

const STATUSES: [u16; 13] = [
    200, 201, 204, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503,
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    server: Server,
    deck: Deck,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime.block_on(Server::start([]));
        // Retries and the rate limiter off: every scripted reply is answered to exactly one call,
        // without sleeping (thousands of requests in real time).
        let deck = runtime.block_on(async {
            crate::support::builder(server.url())
                .retry(RetryConfig::disabled())
                .rate_limit(deck_api_ext::RateLimit::off())
                .build()
                .unwrap()
        });
        Harness {
            runtime,
            server,
            deck,
        }
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "errors",
            "request_id",
            "code",
            "message",
            "type",
            "field",
            "data",
            "file_size",
            "has_more",
            "next_cursor",
            "title",
            "traceId",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(vec![
                "errors",
                "request_id",
                "code",
                "message",
                "type",
                "field",
                "data",
                "id",
                "object",
                "file_size",
                "has_more",
                "next_cursor",
                "title",
                "traceId",
                "status",
                "created_at",
                "deleted",
            ])
            .prop_map(str::to_owned),
            "[a-z_]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        // Deck-shaped envelopes with arbitrary contents.
        (json_value(), json_value()).prop_map(|(errors, request_id)| {
            serde_json::to_vec(&serde_json::json!({"errors": errors, "request_id": request_id}))
                .unwrap()
        }),
    ]
}

fn header_value() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[ -~]{0,40}",
        any::<u32>().prop_map(|n| n.to_string()),
        Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
    ])
}

async fn call_all(deck: &Deck) -> Vec<deck_api_ext::Result<()>> {
    let api = deck.api();
    vec![
        api.get_task_run().run_id("trun_1").call().await.map(drop),
        api.list_task_run_storage()
            .run_id("trun_1")
            .call()
            .await
            .map(drop),
        api.delete_storage_item()
            .storage_id("stor_1")
            .call()
            .await
            .map(drop),
        api.list_task_run_storage()
            .run_id("trun_1")
            .call_as::<Value>(CallOptions::new())
            .await
            .map(drop),
        api.list_task_run_storage()
            .run_id("trun_1")
            .paginate()
            .collect_items(1_000)
            .await
            .map(drop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_responses_never_panic(
        status in prop::sample::select(STATUSES.to_vec()),
        body in body(),
        retry_after in header_value(),
        request_id in header_value(),
    ) {
        let h = harness();
        let mut reply = Reply::status(status).header("content-type", "application/json").body(&body);
        if let Some(value) = &retry_after {
            reply = reply.header("retry-after", value.trim());
        }
        if let Some(value) = &request_id {
            reply = reply.header("x-request-id", value.trim());
        }
        h.server.script(std::iter::repeat_n(reply, 5));
        let results = h.runtime.block_on(call_all(&h.deck));
        for result in results {
            if let Err(err) = result {
                let text = err.to_string();
                prop_assert!(!text.is_empty());
                prop_assert!(!text.contains('\n'), "multi-line Display: {text}");
                let _ = format!("{err:?}");
                if status >= 400 {
                    prop_assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
                }
                if let Some(raw) = err.raw_body() {
                    prop_assert!(raw.len() <= 1024 + 3);
                }
            } else {
                prop_assert!(status < 300);
            }
        }
    }
}
