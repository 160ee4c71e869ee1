//! Downloads against hostile storage hosts: a scripted HTTP/1.1 server on 127.0.0.1 that
//! trickles bytes, gives one new byte per connection, swaps the file between a cut and its
//! resume, or sends no validator; and download URLs that can never work. Everything that waits
//! runs in paused tokio time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deck_api_ext::storage::{DownloadOptions, PresignedUrl, StorageItem};
use deck_api_ext::{Deck, ErrorKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the scripted server does on one connection, in order.
enum Step {
    /// Writes these bytes.
    Send(Vec<u8>),
    /// Waits (paused time in the tests).
    Sleep(Duration),
}

/// The request heads (lower-cased) the server received, in order.
type Heads = Arc<Mutex<Vec<String>>>;

/// Serves every connection with `script(connection index, request head)`, then closes it.
/// Returns the URL to download from and the recorded request heads.
async fn serve<F>(script: F) -> (String, Heads)
where
    F: Fn(usize, &str) -> Vec<Step> + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/files/stor_h?sig=SECRET_SIGNATURE",
        listener.local_addr().unwrap()
    );
    let heads: Heads = Arc::default();
    let (script, log) = (Arc::new(script), Arc::clone(&heads));
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (script, log) = (Arc::clone(&script), Arc::clone(&log));
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let index = {
                    let mut log = log.lock().unwrap();
                    log.push(head.clone());
                    log.len() - 1
                };
                for step in script(index, &head) {
                    match step {
                        Step::Send(bytes) => {
                            if socket.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Step::Sleep(wait) => tokio::time::sleep(wait).await,
                    }
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, heads)
}

/// A response head: `status` line, `Connection: close`, `Content-Length` and `extra` headers.
fn head(status: &str, len: usize, extra: &[&str]) -> Step {
    let mut text = format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: {len}\r\n");
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    Step::Send(text.into_bytes())
}

/// The `N` of a request's `range: bytes=N-`, if it has one.
fn range_start(head: &str) -> Option<usize> {
    let line = head.lines().find(|l| l.starts_with("range:"))?;
    line.trim_start_matches("range:")
        .trim()
        .strip_prefix("bytes=")?
        .trim_end_matches('-')
        .parse()
        .ok()
}

/// A client whose API is never reached (the items carry their URLs), with a read-idle timeout
/// longer than the hostile gaps.
fn deck() -> Deck {
    Deck::builder()
        .api_key("sk_test_hostile")
        .base_url("http://127.0.0.1:9/v2")
        .read_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn item(url: &str, size: u64) -> StorageItem {
    let mut item = StorageItem::new("stor_h", "report.pdf", size);
    item.url = Some(PresignedUrl::new(url));
    item
}

fn fast() -> DownloadOptions {
    DownloadOptions::default().with_backoff(Duration::from_millis(1), Duration::from_millis(4))
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

// Item 9: a host trickling one byte every 5 s used to hold a download open indefinitely.
#[tokio::test(start_paused = true)]
async fn a_trickling_host_fails_the_low_speed_limit() {
    let (url, heads) = serve(|_, _| {
        let mut steps = vec![head("200 OK", 10_000, &["etag: \"v1\""])];
        for _ in 0..10_000 {
            steps.push(Step::Sleep(Duration::from_secs(5)));
            steps.push(Step::Send(vec![b'x']));
        }
        steps
    })
    .await;
    let started = tokio::time::Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(600),
        deck()
            .download(&item(&url, 10_000))
            .options(fast().with_max_attempts(2))
            .to_writer(&mut tokio::io::sink()),
    )
    .await
    .expect("the low-speed limit ends the download, not the test's timeout");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Download);
    assert!(
        err.to_string()
            .contains("giving up after 2 attempt(s) without progress")
            && err
                .to_string()
                .contains("the transfer was slower than 1024 bytes/s for 30 s"),
        "{err}"
    );
    assert_eq!(heads.lock().unwrap().len(), 2);
    // Two periods of 30 s, and the tiny backoff between them.
    assert!(
        started.elapsed() < Duration::from_secs(61),
        "{:?}",
        started.elapsed()
    );
}

// Item 9: a host giving one new byte per connection used to get a request per byte.
#[tokio::test(start_paused = true)]
async fn one_new_byte_per_connection_hits_the_total_attempt_cap() {
    let (url, heads) = serve(|_, request| match range_start(request) {
        None => vec![
            head("200 OK", 1000, &["etag: \"v1\""]),
            Step::Send(vec![b'x']),
        ],
        Some(start) => vec![
            head(
                "206 Partial Content",
                1000 - start,
                &[
                    "etag: \"v1\"",
                    &format!("content-range: bytes {start}-999/1000"),
                ],
            ),
            Step::Send(vec![b'x']),
        ],
    })
    .await;
    let err = deck()
        .download(&item(&url, 1000))
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("giving up after 30 attempt(s) in all (30 of 1000 bytes written)"),
        "{err}"
    );
    assert_eq!(heads.lock().unwrap().len(), 30);
    assert_eq!(DownloadOptions::default().max_total_attempts(), 30);
    assert_eq!(
        fast().with_max_total_attempts(0).max_total_attempts(),
        1,
        "at least one attempt"
    );
}

// Item 9: the low-speed check can be tuned and turned off.
#[tokio::test(start_paused = true)]
async fn the_speed_limit_is_configurable() {
    let (url, _) = serve(|_, _| {
        let mut steps = vec![head("200 OK", 20, &["etag: \"v1\""])];
        for _ in 0..20 {
            steps.push(Step::Sleep(Duration::from_secs(2)));
            steps.push(Step::Send(vec![b'x']));
        }
        steps
    })
    .await;
    let options = DownloadOptions::default();
    assert_eq!(
        (options.speed_limit(), options.speed_time()),
        (1024, Duration::from_secs(30))
    );
    // Off: 40 s at half a byte per second completes.
    let done = deck()
        .download(&item(&url, 20))
        .options(fast().with_speed_limit(0, Duration::from_secs(30)))
        .to_writer(&mut Vec::new())
        .await
        .unwrap();
    assert_eq!(done.bytes, 20);
    // 1 byte/s over 10 s is more than this host gives.
    let err = deck()
        .download(&item(&url, 20))
        .options(
            fast()
                .with_max_attempts(1)
                .with_speed_limit(1, Duration::from_secs(10)),
        )
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the transfer was slower than 1 bytes/s for 10 s"),
        "{err}"
    );
}

/// Item 10: the first connection sends 400 bytes of `first` (ETag "v1") and is cut; later ones
/// get `second` whole, with ETag "v2" (the object was replaced).
async fn replaced_after_a_cut(first: Vec<u8>, second: Vec<u8>) -> (String, Heads) {
    serve(move |index, _| {
        if index == 0 {
            vec![
                head("200 OK", first.len(), &["etag: \"v1\""]),
                Step::Send(first[..400].to_vec()),
            ]
        } else {
            vec![
                head("200 OK", second.len(), &["etag: \"v2\""]),
                Step::Send(second.clone()),
            ]
        }
    })
    .await
}

// Item 10: a resume answered by another object used to splice half of each into one file.
#[tokio::test(start_paused = true)]
async fn a_file_replaced_between_cut_and_resume_restarts_from_zero() {
    let (a, b) = (bytes(1000, 1), bytes(1000, 2));
    let (url, heads) = replaced_after_a_cut(a, b.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.pdf");
    let done = deck()
        .download(&item(&url, 1000))
        .options(fast())
        .to_path(&target)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b,
        "the new file, whole, not spliced"
    );
    assert_eq!((done.attempts, done.restarted_from_zero), (2, 1));
    assert!(!done.unvalidated);
    let heads = heads.lock().unwrap();
    assert!(heads[1].contains("range: bytes=400-"), "{}", heads[1]);
    assert!(heads[1].contains("if-range: \"v1\""), "{}", heads[1]);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

// Item 10: a writer cannot be rewound, so the same situation is an error there, not a splice.
#[tokio::test(start_paused = true)]
async fn a_replaced_file_is_an_error_for_a_writer() {
    let (url, _) = replaced_after_a_cut(bytes(1000, 1), bytes(1000, 2)).await;
    let err = deck()
        .download(&item(&url, 1000))
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the file changed on the storage host (200 to an If-Range request) after 400 bytes were written"),
        "{err}"
    );
    assert!(!err.to_string().contains("SECRET"), "{err}");
}

// Item 10: a 206 that carries another ETag (the host ignored If-Range) is not appended either.
#[tokio::test(start_paused = true)]
async fn a_partial_answer_of_another_version_restarts_from_zero() {
    let (a, b) = (bytes(1000, 1), bytes(1000, 2));
    let (a2, b2) = (a.clone(), b.clone());
    let (url, heads) = serve(move |index, request| match (index, range_start(request)) {
        (0, _) => vec![
            head("200 OK", 1000, &["etag: \"v1\""]),
            Step::Send(a2[..400].to_vec()),
        ],
        (_, Some(start)) => vec![
            head(
                "206 Partial Content",
                1000 - start,
                &[
                    "etag: \"v2\"",
                    &format!("content-range: bytes {start}-999/1000"),
                ],
            ),
            Step::Send(b2[start..].to_vec()),
        ],
        (_, None) => vec![
            head("200 OK", 1000, &["etag: \"v2\""]),
            Step::Send(b2.clone()),
        ],
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.pdf");
    let done = deck()
        .download(&item(&url, 1000))
        .options(fast())
        .to_path(&target)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b);
    assert_ne!(a, b);
    assert_eq!((done.attempts, done.restarted_from_zero), (3, 1));
    let heads = heads.lock().unwrap();
    assert!(!heads[2].contains("range:"), "{}", heads[2]);
}

// Item 10: without a validator nothing can prove the rest is the same file: restart, say so.
#[tokio::test(start_paused = true)]
async fn a_host_without_validators_is_restarted_never_resumed() {
    let a = bytes(1000, 3);
    let a2 = a.clone();
    let (url, heads) = serve(move |index, _| {
        let body = if index == 0 {
            a2[..400].to_vec()
        } else {
            a2.clone()
        };
        vec![head("200 OK", 1000, &[]), Step::Send(body)]
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.pdf");
    let done = deck()
        .download(&item(&url, 1000))
        .options(fast())
        .to_path(&target)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), a);
    assert!(done.unvalidated);
    assert_eq!(
        (done.attempts, done.restarted_from_zero, done.resumed),
        (2, 1, 0)
    );
    let heads = heads.lock().unwrap();
    assert!(!heads[1].contains("range:"), "{}", heads[1]);
}

// Item 13: a URL that is not http(s) or does not parse used to be retried five times.
#[tokio::test(start_paused = true)]
async fn urls_that_can_never_work_fail_at_once_without_showing_the_url() {
    for (url, why) in [
        (
            "ftp://files.example/report.pdf?sig=SECRET_SIGNATURE",
            "the download URL has scheme \"ftp\"; only http and https are supported",
        ),
        (
            "not a url?sig=SECRET_SIGNATURE",
            "the download URL is not a valid URL (relative URL without a base)",
        ),
    ] {
        let started = tokio::time::Instant::now();
        let err = deck()
            .download(&item(url, 10))
            .to_writer(&mut Vec::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Download);
        assert_eq!(
            err.to_string(),
            format!("downloading storage item stor_h (\"report.pdf\"): {why}")
        );
        assert!(!err.to_string().contains("SECRET"));
        // No retry, so no backoff.
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}

// Item 13: a 4xx other than 403 is final at the first attempt.
#[tokio::test(start_paused = true)]
async fn a_client_error_from_the_storage_host_is_not_retried() {
    let (url, heads) = serve(|_, _| vec![head("410 Gone", 0, &[])]).await;
    let err = deck()
        .download(&item(&url, 10))
        .options(fast())
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("stor_h"), "{err}");
    assert!(err.to_string().contains("HTTP 410 Gone"), "{err}");
    assert!(!err.to_string().contains("SECRET"), "{err}");
    assert_eq!(heads.lock().unwrap().len(), 1);
}
