//! The client against hostile servers (the security review): unbounded values quoted into
//! errors (item 4), ambiguous JSON with duplicate keys (item 6), and bodies of the wrong shape
//! (item 7).

use crate::support::{Reply, STORAGE_PAGE, Server};
use deck_api_ext::prelude::*;
use deck_api_ext::{ErrorKind, RetryConfig};

fn deck(server: &Server) -> Deck {
    crate::support::deck_with(server.url(), RetryConfig::disabled())
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Probe {
    n: u64,
}

/// The longest `Display` line these tests accept: every server value is cut to about 100
/// characters and at most five entries of a list are shown.
const LINE_MAX: usize = 1500;

fn assert_bounded(err: &Error) -> String {
    let line = err.to_string();
    assert!(
        line.chars().count() < LINE_MAX && !line.contains('\n'),
        "{} characters: {}",
        line.len(),
        &line[..line.len().min(2000)]
    );
    line
}

#[tokio::test]
async fn values_quoted_in_errors_are_cut() {
    let huge = "9".repeat(200_000) + "x";
    // Error bodies are read up to 64 KiB: each body stays below.
    let long = "m".repeat(15_000);
    let many: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"code":"c{i}","message":"m{i}"}}"#))
        .collect();
    let server = Server::start([
        // A 200 KB value in a decode error.
        Reply::json(200, &format!(r#"{{"n":"{huge}"}}"#)),
        // A 15 KB message, code and field; five hundred entries.
        Reply::json(
            404,
            &format!(
                r#"{{"errors":[{{"code":"{long}","field":"{long}","message":"{long}"}},{}],"request_id":"req_1"}}"#,
                many.join(",")
            ),
        ),
        // A validation response with a 15 KB title, field name and messages.
        Reply::json(
            400,
            &format!(r#"{{"title":"{long}","errors":{{"{long}":["{long}"],"b":["{long}"]}}}}"#),
        ),
        // A proxy's bare message and a 15 KB request id header.
        Reply::json(503, &format!(r#"{{"message":"{long}"}}"#)).header("x-request-id", &long),
    ])
    .await;
    let deck = deck(&server);
    let err = deck
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call_as::<Probe>(CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    let line = assert_bounded(&err);
    assert!(
        line.starts_with("getTaskRun: response body at n: invalid type: string \"9999"),
        "{line}"
    );
    assert!(line.contains("9…\", expected u64"), "{line}");
    for _ in 0..3 {
        let err = deck
            .api()
            .get_task_run()
            .run_id("trun_1")
            .call()
            .await
            .unwrap_err();
        let line = assert_bounded(&err);
        assert!(line.contains('…'), "{line}");
        // The accessors keep the whole value.
        assert!(err.message().len() >= 15_000);
    }
}

#[tokio::test]
async fn a_long_repeated_cursor_is_cut_in_the_pagination_error() {
    let cursor = "c".repeat(60_000);
    let page = format!(r#"{{"data":[],"has_more":true,"next_cursor":"{cursor}"}}"#);
    let server = Server::start([Reply::json(200, &page), Reply::json(200, &page)]).await;
    let err = deck(&server)
        .api()
        .list_task_run_storage()
        .run_id("trun_1")
        .paginate()
        .collect_items(1000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Pagination);
    let line = assert_bounded(&err);
    assert!(line.contains("ccc…\" was already used"), "{line}");
}

#[tokio::test]
async fn duplicate_keys_are_a_decode_error_with_the_path_in_lists_and_calls() {
    let duplicated = STORAGE_PAGE.replace(
        r#""file_size":12,"#,
        r#""file_size":5,"file_type":"a","file_size":"12kb","#,
    );
    let unknown_twice = STORAGE_PAGE.replace(r#""data":"#, r#""x":1,"x":2,"data":"#);
    let server = Server::start([
        Reply::json(200, &duplicated),
        Reply::json(200, &unknown_twice),
        Reply::json(200, r#"{"n":1,"m":{"k":1,"k":1}}"#),
        Reply::json(200, STORAGE_PAGE),
    ])
    .await;
    let deck = deck(&server);
    let list = || {
        deck.api()
            .list_task_run_storage()
            .run_id("trun_1")
            .paginate_as::<serde_json::Value>()
            .collect_items(1000)
    };
    let err = list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(err.json_path(), Some("data[0].file_size"));
    assert_eq!(
        err.to_string(),
        "listTaskRunStorage: response body at data[0].file_size: the key \"file_size\" appears twice in one object; the response is ambiguous"
    );
    let err = list().await.unwrap_err();
    assert_eq!(err.json_path(), Some("x"));
    let err = deck
        .api()
        .get_task_run()
        .run_id("trun_1")
        .call_as::<Probe>(CallOptions::new())
        .await
        .unwrap_err();
    assert_eq!(err.json_path(), Some("m.k"), "{err}");
    // Distinct keys still decode.
    assert_eq!(list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn only_objects_are_responses() {
    let positional = r#"[[{"id":"stor_1","object":"storage","file_name":"a.pdf","file_size":12,"file_type":"application/pdf","created_at":"2026-01-02T03:04:05Z"}],false,null]"#;
    let server = Server::start([
        Reply::json(200, "[]"),
        Reply::json(200, positional),
        Reply::json(200, r#"["trun_1","task_run","completed"]"#),
        Reply::json(200, "null"),
    ])
    .await;
    let deck = deck(&server);
    for body in ["[]", "positional"] {
        let err = deck
            .api()
            .list_task_run_storage()
            .run_id("trun_1")
            .paginate()
            .collect_items(1000)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        let line = err.to_string();
        assert!(
            line.starts_with("listTaskRunStorage: response body: ")
                && line.contains("expected a list response: a JSON object with a `data` array"),
            "{body}: {line}"
        );
    }
    for body in ["array", "null"] {
        let err = deck
            .api()
            .get_task_run()
            .run_id("trun_1")
            .call()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}: {err}");
        assert!(
            err.to_string()
                .starts_with("getTaskRun: response body: expected a JSON object, the body is "),
            "{body}: {err}"
        );
    }
}
