//! `deck` on a machine without an account: no `DECK_API_KEY`, so every command runs against the
//! built-in fake Deck server with the demo data (a fresh one per run, inside the `deck`
//! process). An in-test fake with the same demo data gives the expected files and ids.

use crate::support::{Run, content, deck, demo_fake, dir_names, redact};
use deck_api_ext::fake::demo;

/// The demo notice, exactly as the issue asks: one line naming the demo runs.
const NOTICE: &str = "deck: DECK_API_KEY is not set; using the built-in fake Deck server with \
                      demo data (run ids: trun_000001, trun_demo_statements, \
                      trun_demo_edge_cases, trun_demo_large_file, trun_demo_empty, \
                      trun_demo_failed; task to run: task_demo_statements)";

/// `deck storage pull <run> --out <dir>` without a key.
async fn pull(run_id: &str, dir: &std::path::Path) -> Run {
    deck(&["storage", "pull", run_id, "--out"])
        .arg(dir)
        .run()
        .await
}

/// The stderr of a successful demo run: the notice, then `rest`.
fn assert_notice_then(run: &Run, rest: usize) {
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1 + rest, "{run:#?}");
    assert_eq!(lines[0], NOTICE);
}

#[tokio::test]
async fn the_main_job_pulls_every_demo_statement() {
    let reference = demo_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deck-files");
    let run = pull(demo::STATEMENTS_RUN, &out).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_notice_then(&run, 1);
    let summary = redact(run.stderr_lines()[1], Some(&out));
    assert_eq!(
        summary,
        "deck: pulled trun_demo_statements into [dir]: 45 downloaded, 0 skipped, 0 failed, \
         29.6 KiB in [t] s"
    );

    let names = dir_names(&out);
    assert_eq!(names.len(), demo::STATEMENTS_COUNT);
    assert!(names.contains(&"statement_jan_2025.pdf".to_owned()));
    assert!(names.contains(&"statement_may_2021.pdf".to_owned()));
    // The files are the demo's bytes, matched through the listing's names.
    let listing = deck(&["storage", "list", demo::STATEMENTS_RUN]).run().await;
    for item in listing.json_lines() {
        let id = item["id"].as_str().unwrap();
        let name = item["file_name"].as_str().unwrap();
        let on_disk = std::fs::read(out.join(name)).unwrap();
        assert_eq!(on_disk, content(&reference, id), "{name}");
    }
}

#[tokio::test]
async fn a_rerun_skips_complete_files_and_repairs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let first = pull(demo::STATEMENTS_RUN, dir.path()).await;
    assert_eq!(first.code, 0, "{first:#?}");

    let again = pull(demo::STATEMENTS_RUN, dir.path()).await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert_notice_then(&again, 1);
    assert_eq!(
        redact(again.stderr_lines()[1], Some(dir.path())),
        "deck: pulled trun_demo_statements into [dir]: 0 downloaded, 45 skipped, 0 failed, \
         0 B in [t] s"
    );

    // A missing file and a truncated one are downloaded again; the rest is skipped.
    std::fs::remove_file(dir.path().join("statement_jan_2025.pdf")).unwrap();
    let truncated = dir.path().join("statement_dec_2024.pdf");
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let repair = pull(demo::STATEMENTS_RUN, dir.path()).await;
    assert_eq!(repair.code, 0, "{repair:#?}");
    let summary = repair.stderr_lines()[1].to_owned();
    assert!(
        summary.contains(": 2 downloaded, 43 skipped, 0 failed, "),
        "{summary}"
    );
    assert_eq!(std::fs::read(&truncated).unwrap(), bytes);
    assert_eq!(dir_names(dir.path()).len(), demo::STATEMENTS_COUNT);
}

#[tokio::test]
async fn hostile_and_colliding_names_stay_inside_the_directory_and_distinct() {
    let reference = demo_fake().await;
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let run = pull(demo::EDGE_CASES_RUN, &out).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr_lines()[1].contains(": 19 downloaded, 0 skipped, 0 failed, "),
        "{run:#?}"
    );
    // Nothing escaped into the parent directory.
    assert_eq!(dir_names(root.path()), vec!["out".to_owned()]);
    let names = dir_names(&out);
    assert_eq!(names.len(), demo::EDGE_CASES_COUNT);
    insta::assert_snapshot!(names.join("\n"));

    // Every item's bytes are in exactly one of the files.
    let mut files: Vec<Vec<u8>> = names
        .iter()
        .map(|name| std::fs::read(out.join(name)).unwrap())
        .collect();
    for id in reference.item_ids(demo::EDGE_CASES_RUN).unwrap() {
        let expected = content(&reference, &id);
        let at = files
            .iter()
            .position(|f| *f == expected)
            .unwrap_or_else(|| panic!("no file holds {id}"));
        files.swap_remove(at);
    }
}

#[tokio::test]
async fn list_prints_every_page_as_ndjson_with_integer_sizes() {
    let reference = demo_fake().await;
    let run = deck(&["storage", "list", demo::STATEMENTS_RUN, "--limit", "20"])
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, format!("{NOTICE}\n"));
    let items = run.json_lines();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, reference.item_ids(demo::STATEMENTS_RUN).unwrap());
    for item in &items {
        let id = item["id"].as_str().unwrap();
        let size = item["file_size"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id}: file_size is not an integer: {item:?}"));
        assert_eq!(size, reference.content(id).unwrap().len());
    }
    // The item the API sends with a string size.
    let string_size = items
        .iter()
        .find(|i| i["id"] == demo::STRING_SIZE_STATEMENT)
        .unwrap();
    assert!(string_size["file_size"].is_u64());
    // One compact object per line.
    assert!(
        run.stdout
            .lines()
            .all(|l| l.starts_with('{') && l.ends_with('}'))
    );
}

#[tokio::test]
async fn get_prints_one_object() {
    let run = deck(&["storage", "get", demo::STATEMENT_JAN_2025])
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_notice_then(&run, 0);
    let items = run.json_lines();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["id"], demo::STATEMENT_JAN_2025);
    assert_eq!(item["file_name"], "statement_jan_2025.pdf");
    assert_eq!(item["extraction"], demo::utility_bill_extraction());
    assert!(item["file_size"].is_u64());
    assert!(
        item["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let run = deck(&["storage", "get", demo::STRING_SIZE_STATEMENT])
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.json_lines()[0]["file_size"].is_u64());
}

#[tokio::test]
async fn rm_prints_the_confirmation() {
    let run = deck(&["storage", "rm", demo::STATEMENT_DEC_2024])
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let confirmation = &run.json_lines()[0];
    assert_eq!(confirmation["id"], demo::STATEMENT_DEC_2024);
    assert_eq!(confirmation["deleted"], true);
}

#[tokio::test]
async fn an_unknown_run_is_one_line_with_status_code_and_request_id() {
    let run = deck(&["storage", "list", "trun_nope"]).run().await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert_notice_then(&run, 1);
    let pulled = pull("trun_nope", tempfile::tempdir().unwrap().path()).await;
    assert_eq!(pulled.code, 1, "{pulled:#?}");
    assert_notice_then(&pulled, 1);
    insta::assert_snapshot!(format!(
        "{}\n{}",
        redact(run.stderr_lines()[1], None),
        redact(pulled.stderr_lines()[1], None)
    ));
}

#[tokio::test]
async fn an_empty_run_pulls_nothing_successfully() {
    let dir = tempfile::tempdir().unwrap();
    let run = pull(demo::EMPTY_RUN, dir.path()).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr_lines()[1].contains(": 0 downloaded, 0 skipped, 0 failed, 0 B in "));
    assert!(dir_names(dir.path()).is_empty());
    let listed = deck(&["storage", "list", demo::EMPTY_RUN]).run().await;
    assert_eq!((listed.code, listed.stdout.as_str()), (0, ""));
}
