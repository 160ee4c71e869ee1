//! `deck` against hostile input and servers (the security review): path parameters that would
//! leave their path segment, control characters in `DECK_BASE_URL`, termination signals during a
//! pull, endless bodies, oversized values and secrets echoed back by a server.

use std::time::{Duration, Instant};

use crate::support::{KEY, deck, dir_names, fake_builder};
use deck_api_ext::fake::{Content, Fault, ItemSeed, Route, RunSeed};

/// Item 1: a dot-segment or empty path parameter is a usage error naming the parameter, and
/// nothing is sent.
#[tokio::test]
async fn dot_segment_ids_are_refused_before_any_request() {
    let fake = fake_builder().start().await.unwrap();
    let cases: [(&[&str], &str); 12] = [
        (&["storage", "rm", ".."], "storage_id"),
        (&["storage", "rm", "%2e%2e"], "storage_id"),
        (&["storage", "get", "."], "storage_id"),
        (&["storage", "list", ".."], "run_id"),
        (&["storage", "list", "%2E%2e"], "run_id"),
        (&["storage", "list", "."], "run_id"),
        (&["tasks", "get", ".."], "task_id"),
        (&["tasks", "run", "."], "task_id"),
        (&["runs", "get", ".."], "run_id"),
        (&["runs", "wait", "%2e%2e"], "run_id"),
        (&["runs", "cancel", "."], "run_id"),
        (&["runs", "answer", "..", "--input", "{}"], "run_id"),
    ];
    for (args, param) in cases {
        let run = deck(args).against(&fake).run().await;
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "", "{args:?}");
        let line = run.one_line();
        assert!(
            line.starts_with("deck: error: ") && line.contains(&format!("`{param}`")),
            "{args:?}: {line}"
        );
        assert!(line.contains("dot segment"), "{args:?}: {line}");
    }
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
}

/// Item 8: control characters in `DECK_BASE_URL` (a header injection attempt) are a
/// configuration error naming the variable.
#[tokio::test]
async fn a_base_url_with_control_characters_exits_2_naming_it() {
    for url in [
        "http://127.0.0.1:9/v2\r\nX-Injected: 1",
        "http://127.0.0.1:9/v2\n/storage",
        "http://127.0.0.1:9/\u{7}v2",
    ] {
        let run = deck(&["storage", "get", "stor_1"])
            .env("DECK_API_KEY", KEY)
            .env("DECK_BASE_URL", url)
            .run()
            .await;
        assert_eq!(run.code, 2, "{url:?}: {run:#?}");
        assert_eq!(run.stdout, "");
        let line = run.one_line();
        assert!(line.contains("DECK_BASE_URL"), "{url:?}: {line}");
        assert!(!line.contains("X-Injected: 1\n"), "{line}");
    }
}

/// Item 12: SIGTERM and SIGHUP stop a pull like Ctrl-C: exit 130, no `.part` file left.
#[cfg(unix)]
async fn a_signal_stops_a_pull_and_leaves_no_partial_file(signal: libc::c_int) {
    let fake = fake_builder().start().await.unwrap();
    fake.add_run(RunSeed::new("trun_slow").item(ItemSeed::new(
        "slow.bin",
        "application/octet-stream",
        Content::generated(1000, 1),
    )))
    .unwrap();
    let stall = fake.inject(
        Route::StorageDownload,
        Fault::Latency(Duration::from_secs(60)),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let child = deck(&["storage", "pull", "trun_slow", "--out"])
        .arg(dir.path())
        .against(&fake)
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while stall.hits() == 0 || dir_names(dir.path()).is_empty() {
        assert!(Instant::now() < deadline, "the download never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(dir_names(dir.path())[0].ends_with(".part"));

    let pid = child.id().expect("deck is running") as libc::pid_t;
    // SAFETY: `kill` only sends a signal to the child this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "signal {signal}: {stderr}");
    assert_eq!(stderr, "deck: error: interrupted\n");
    assert!(
        dir_names(dir.path()).is_empty(),
        "{:?}",
        dir_names(dir.path())
    );
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_a_pull_with_130_and_leaves_no_partial_file() {
    a_signal_stops_a_pull_and_leaves_no_partial_file(libc::SIGTERM).await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_stops_a_pull_with_130_and_leaves_no_partial_file() {
    a_signal_stops_a_pull_and_leaves_no_partial_file(libc::SIGHUP).await;
}

/// A server for the hostile-response tests: each run id or storage id names a misbehaviour.
fn hostile_server() -> axum::Router {
    use axum::extract::Path as UrlPath;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    fn json(status: StatusCode, body: String) -> axum::response::Response {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
    const DUP_ITEM: &str = r#"{"id":"stor_dup","object":"storage","file_name":"a.pdf","file_size":5,"created_at":"2025-01-15T09:30:00Z","file_size":"12kb"}"#;
    let list = |UrlPath(run_id): UrlPath<String>| async move {
        match run_id.as_str() {
            "trun_dup" => json(
                StatusCode::OK,
                format!(r#"{{"data":[{DUP_ITEM}],"has_more":false}}"#),
            ),
            "trun_big" => json(
                StatusCode::OK,
                format!(
                    r#"{{"data":[{{"id":"stor_big","file_size":"{}x"}}],"has_more":false}}"#,
                    "9".repeat(200_000)
                ),
            ),
            "trun_loop" => json(
                StatusCode::OK,
                format!(
                    r#"{{"data":[],"has_more":true,"next_cursor":"{}"}}"#,
                    "c".repeat(60_000)
                ),
            ),
            _ => json(StatusCode::NOT_FOUND, "{}".to_owned()),
        }
    };
    let item = |UrlPath(id): UrlPath<String>, headers: HeaderMap| async move {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        match id.as_str() {
            "stor_dup" => json(StatusCode::OK, DUP_ITEM.to_owned()),
            "stor_echo" => json(
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"{{"errors":[{{"type":"auth","code":"invalid","message":"proxy refused Authorization: {auth}"}}],"request_id":"req_echo"}}"#
                ),
            ),
            _ => json(StatusCode::NOT_FOUND, "{}".to_owned()),
        }
    };
    axum::Router::new()
        .route("/v2/task-runs/{run_id}/storage", get(list))
        .route("/v2/storage/{storage_id}", get(item))
}

async fn start_hostile_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, hostile_server()).await;
    });
    format!("http://{addr}/v2")
}

fn hostile(args: &[&str], base_url: &str) -> crate::support::Deck {
    deck(args)
        .env("DECK_API_KEY", KEY)
        .env("DECK_BASE_URL", base_url)
}

/// Item 6: an item with a duplicate key is refused by `list`, `get` and `pull` alike, with the
/// JSON path of the key.
#[tokio::test]
async fn duplicate_keys_are_refused_by_every_command() {
    let base = start_hostile_server().await;
    let dir = tempfile::tempdir().unwrap();
    let runs = [
        (
            hostile(&["storage", "list", "trun_dup"], &base).run().await,
            "listTaskRunStorage: response body at data[0].file_size",
        ),
        (
            hostile(&["storage", "get", "stor_dup"], &base).run().await,
            "getStorageItem: response body at file_size",
        ),
        (
            hostile(&["storage", "pull", "trun_dup", "--out"], &base)
                .arg(dir.path())
                .run()
                .await,
            "listTaskRunStorage: response body at data[0].file_size",
        ),
    ];
    for (run, expected) in runs {
        assert_eq!(run.code, 1, "{run:#?}");
        assert_eq!(run.stdout, "");
        let line = run.one_line();
        assert!(
            line.starts_with(&format!(
                "deck: error: {expected}: the key \"file_size\" appears twice"
            )),
            "{line}"
        );
    }
    assert!(dir_names(dir.path()).is_empty());
}

/// Item 4: a 200 KB `file_size` and a 60 KB repeated cursor are quoted cut, on one short line.
#[tokio::test]
async fn huge_values_are_cut_in_the_one_line_report() {
    let base = start_hostile_server().await;
    for (run_id, expected) in [
        ("trun_big", "file_size \"9999"),
        ("trun_loop", "next_cursor \"cccc"),
    ] {
        let run = hostile(&["storage", "list", run_id], &base).run().await;
        assert_eq!(run.code, 1, "{run:#?}");
        let line = run.one_line();
        assert!(line.chars().count() < 400, "{} characters", line.len());
        assert!(line.contains(expected) && line.contains("…\""), "{line}");
    }
}

/// Item 5: a proxy echoing the `Authorization` header into its error message: the report shows
/// `[redacted]` (the support's checks assert the key is on neither stream).
#[tokio::test]
async fn a_key_echoed_by_a_proxy_is_not_printed() {
    let base = start_hostile_server().await;
    let run = hostile(&["storage", "get", "stor_echo"], &base).run().await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        run.one_line(),
        "deck: error: getStorageItem: HTTP 401 Unauthorized: invalid: proxy refused Authorization: Bearer [redacted] (request_id req_echo)"
    );
}
