//! Bulk pulls against the fake Deck: sanitised names that stay inside the directory,
//! deterministic collision handling, skipping complete files, failure isolation, bounded
//! concurrency, progress events, no temporary leftovers.

#![cfg(feature = "fake")]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::*;
use deck_api_ext::ErrorKind;
use deck_api_ext::fake::{Fault, Route};
use deck_api_ext::storage::{FileOutcome, PullEvent};

#[tokio::test]
async fn hostile_names_stay_inside_the_directory() {
    let names = [
        "../x",
        "/abs",
        "a/b",
        "",
        ".",
        "..",
        "CON",
        "nul.txt",
        "..\\..\\evil.dll",
        "tab\tname",
        "dots...",
        "ok.pdf",
    ];
    let seeds = names
        .iter()
        .enumerate()
        .map(|(i, name)| generated(name, 100 + i as u64, i as u64))
        .collect();
    let (fake, deck) = fake_with(seeds).await;
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");

    let summary = deck.pull_run("trun_s", &out).await.unwrap();
    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.downloaded.len(), names.len());

    // Nothing outside `out`, and exactly one plain file per item inside it.
    assert_eq!(dir_names(root.path()), ["out"]);
    let ids = fake.item_ids("trun_s").unwrap();
    let mut expected = vec![
        ".._x".to_owned(),
        "_abs".to_owned(),
        "a_b".to_owned(),
        ids[3].clone(),
        ids[4].clone(),
        ids[5].clone(),
        "_CON".to_owned(),
        "_nul.txt".to_owned(),
        ".._.._evil.dll".to_owned(),
        "tab_name".to_owned(),
        "dots".to_owned(),
        "ok.pdf".to_owned(),
    ];
    for (file, id) in summary.downloaded.iter().zip(&ids) {
        assert_eq!(&file.storage_id, id);
        assert_eq!(file.path.parent(), Some(out.as_path()));
        assert_eq!(std::fs::read(&file.path).unwrap(), content(&fake, id));
    }
    let actual: Vec<String> = summary
        .downloaded
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(actual, expected);
    expected.sort();
    assert_eq!(dir_names(&out), expected);
    assert!(!fake.storage_saw_authorization());
}

#[tokio::test]
async fn colliding_names_are_disambiguated_deterministically() {
    let (fake, deck) = fake_with(vec![
        generated("statement.pdf", 10, 1),
        generated("statement.pdf", 20, 2),
        generated("Statement.PDF", 30, 3),
        generated("report", 40, 4),
        generated("report", 50, 5),
    ])
    .await;
    let ids = fake.item_ids("trun_s").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = deck
        .pull_run("trun_s", dir.path())
        .concurrency(3)
        .await
        .unwrap();
    let names: Vec<String> = summary
        .downloaded
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "statement.pdf".to_owned(),
            format!("statement ({}).pdf", ids[1]),
            format!("Statement ({}).PDF", ids[2]),
            "report".to_owned(),
            format!("report ({})", ids[4]),
        ]
    );
    for file in &summary.downloaded {
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            content(&fake, &file.storage_id)
        );
    }
}

#[tokio::test]
async fn complete_files_are_skipped_and_incomplete_ones_replaced() {
    let (fake, deck) = fake_with(vec![
        generated("a.bin", 1000, 1),
        generated("b.bin", 2000, 2),
        generated("c.bin", 3000, 3),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let first = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert_eq!(first.downloaded.len(), 3);
    assert_eq!(first.bytes, 6000);

    // b.bin is truncated (an interrupted copy); the others are complete.
    let b = dir.path().join("b.bin");
    std::fs::write(&b, b"partial").unwrap();
    fake.clear_requests();
    let second = deck.pull_run("trun_s", dir.path()).await.unwrap();
    let skipped: Vec<&str> = second
        .skipped
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(skipped, ["a.bin", "c.bin"]);
    assert_eq!(second.downloaded.len(), 1);
    assert_eq!(second.downloaded[0].path, b);
    assert_eq!(second.bytes, 2000);
    assert_eq!(
        std::fs::read(&b).unwrap(),
        content(&fake, &second.downloaded[0].storage_id)
    );
    assert_eq!(storage_requests(&fake).len(), 1);
    assert_eq!(
        second.to_string(),
        "1 downloaded (2000 bytes), 2 skipped, 0 failed"
    );
}

#[tokio::test]
async fn one_failure_does_not_lose_the_others() {
    let (fake, deck) = fake_with(vec![
        generated("a.bin", 1000, 1),
        generated("b.bin", 2000, 2),
        generated("c.bin", 3000, 3),
        generated("d.bin", 4000, 4),
    ])
    .await;
    let ids = fake.item_ids("trun_s").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // With one file at a time, the first download gets the 410 (not retryable).
    fake.inject(Route::StorageDownload, Fault::status(410), 1);
    let summary = deck
        .pull_run("trun_s", dir.path())
        .concurrency(1)
        .options(fast())
        .await
        .unwrap();
    assert!(!summary.is_complete());
    assert_eq!(summary.failed.len(), 1);
    let failure = &summary.failed[0];
    assert_eq!(failure.storage_id, ids[0]);
    assert_eq!(failure.path, dir.path().join("a.bin"));
    assert_eq!(failure.error.kind(), ErrorKind::Download);
    assert!(
        failure.error.to_string().contains("HTTP 410"),
        "{}",
        failure.error
    );
    assert_eq!(summary.downloaded.len(), 3);
    assert_eq!(summary.bytes, 9000);
    // The failed file is absent, and no temporary file is left behind.
    assert_eq!(dir_names(dir.path()), ["b.bin", "c.bin", "d.bin"]);
    let text = summary.to_string();
    assert!(
        text.starts_with("3 downloaded (9000 bytes), 0 skipped, 1 failed\n  "),
        "{text}"
    );
    assert!(text.contains(&ids[0]), "{text}");

    // Pulling again fetches only the missing file.
    let again = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert_eq!((again.downloaded.len(), again.skipped.len()), (1, 3));
}

#[tokio::test]
async fn concurrency_is_bounded_and_progress_reported() {
    let seeds = (0..12)
        .map(|i| generated(&format!("f{i}.bin"), 50_000, i))
        .collect();
    let (fake, deck) = fake_with(seeds).await;
    fake.inject(
        Route::StorageDownload,
        Fault::Latency(Duration::from_millis(30)),
        12,
    );
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let events: Arc<Mutex<Vec<String>>> = Arc::default();
    let bytes: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let (f, p, e, b) = (
        in_flight.clone(),
        peak.clone(),
        events.clone(),
        bytes.clone(),
    );
    let dir = tempfile::tempdir().unwrap();
    let summary = deck
        .pull_run("trun_s", dir.path())
        .concurrency(3)
        .on_progress(move |event| match event {
            PullEvent::Listed { files, bytes } => {
                e.lock().unwrap().push(format!("listed {files} {bytes}"))
            }
            PullEvent::Started { .. } => {
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
            }
            PullEvent::Progress {
                storage_id,
                progress,
            } => {
                *b.lock().unwrap().entry(storage_id.to_owned()).or_default() += progress.delta;
            }
            PullEvent::Finished { outcome, .. } => {
                f.fetch_sub(1, Ordering::SeqCst);
                e.lock().unwrap().push(format!("{outcome:?}"));
            }
            _ => {}
        })
        .await
        .unwrap();
    assert_eq!(summary.downloaded.len(), 12);
    assert_eq!(peak.load(Ordering::SeqCst), 3);
    let events = events.lock().unwrap();
    assert_eq!(events[0], "listed 12 600000");
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == &format!("{:?}", FileOutcome::Downloaded))
            .count(),
        12
    );
    let bytes = bytes.lock().unwrap();
    assert_eq!(bytes.len(), 12);
    assert!(bytes.values().all(|&b| b == 50_000));
}

#[tokio::test]
async fn bad_settings_and_unknown_runs_fail_the_whole_pull() {
    let (_fake, deck) = fake_with(vec![generated("a.bin", 10, 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let err = deck
        .pull_run("trun_s", dir.path())
        .concurrency(0)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(
        err.to_string().contains("concurrency must be at least 1"),
        "{err}"
    );

    let err = deck.pull_run("trun_missing", dir.path()).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(dir_names(dir.path()).is_empty());

    // A file where the directory should be.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = deck.pull_run("trun_s", &file).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
}

#[tokio::test]
async fn a_directory_in_the_way_fails_that_file_only() {
    let (_fake, deck) = fake_with(vec![generated("a.bin", 10, 1), generated("b.bin", 10, 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a.bin")).unwrap();
    let summary = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert_eq!(summary.failed.len(), 1);
    assert!(
        summary.failed[0]
            .error
            .to_string()
            .contains("exists and is not a file"),
        "{}",
        summary.failed[0].error
    );
    let downloaded: Vec<PathBuf> = summary.downloaded.iter().map(|f| f.path.clone()).collect();
    assert_eq!(downloaded, [dir.path().join("b.bin")]);
}

#[tokio::test]
async fn expired_urls_of_a_long_listing_are_refreshed_per_file() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 10, 1), generated("b.bin", 20, 2)]).await;
    // Every URL in the listing is already expired.
    fake.inject(Route::ListStorage, Fault::ExpiredUrl, 1);
    let dir = tempfile::tempdir().unwrap();
    let summary = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert!(summary.is_complete(), "{summary}");
    for id in fake.item_ids("trun_s").unwrap() {
        assert_eq!(
            api_requests(&fake, "GET", &format!("/storage/{id}")).len(),
            1
        );
    }
}

// Item 2: sizes near u64::MAX used to overflow the listed total (a panic in debug builds).
#[tokio::test]
async fn huge_declared_sizes_saturate_instead_of_overflowing() {
    let (_fake, deck) = fake_with(vec![
        generated("a.bin", 10, 1).declared_file_size(i64::MAX),
        generated("b.bin", 10, 2).declared_file_size(i64::MAX),
        generated("c.bin", 10, 3).declared_file_size(i64::MAX),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let listed: Arc<Mutex<Option<u64>>> = Arc::default();
    let seen = Arc::clone(&listed);
    let summary = deck
        .pull_run("trun_s", dir.path())
        .options(fast())
        .on_progress(move |event| {
            if let PullEvent::Listed { bytes, .. } = event {
                *seen.lock().unwrap() = Some(bytes);
            }
        })
        .await
        .unwrap();
    assert_eq!(*listed.lock().unwrap(), Some(u64::MAX));
    assert_eq!(summary.failed.len(), 3);
    assert_eq!(summary.bytes, 0);
    assert!(dir_names(dir.path()).is_empty());
}

// Item 11: a symlink of the right size used to count as a complete file.
#[cfg(unix)]
#[tokio::test]
async fn a_symlink_in_the_directory_is_replaced_never_skipped_or_followed() {
    let (fake, deck) = fake_with(vec![generated("a.bin", 1000, 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, vec![b'v'; 1000]).unwrap();
    let link = dir.path().join("a.bin");
    std::os::unix::fs::symlink(&victim, &link).unwrap();

    let summary = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert!(summary.skipped.is_empty(), "{summary}");
    assert_eq!(summary.downloaded.len(), 1, "{summary}");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link is replaced by a regular file"
    );
    assert_eq!(
        std::fs::read(&link).unwrap(),
        content(&fake, &summary.downloaded[0].storage_id)
    );
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        vec![b'v'; 1000],
        "target untouched"
    );

    // A symlink to a directory is replaced too, and nothing is written into the directory.
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let again = deck.pull_run("trun_s", dir.path()).await.unwrap();
    assert_eq!(again.downloaded.len(), 1, "{again}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(dir_names(outside.path()), ["victim"]);
}
