//! `deck tasks run --wait` and `deck runs wait`: a run followed to its end, with status changes
//! on stderr, the run on stdout, an exit status per ending (listed in `--help`), and the files
//! of a completed run pulled. On the demo server and on fakes whose tasks end every way.

use std::time::Duration;

use crate::support::{KEY, Run, content, deck, demo_fake, dir_names, fake_builder, redact};
use deck_api_ext::Deck;
use deck_api_ext::fake::{FakeDeck, RunPlan, TaskSeed, demo};
use deck_api_ext::prelude::*;
use serde_json::json;

const QUICK: Duration = Duration::from_millis(50);

/// A fake with one task per way a run can end, each quick.
async fn endings_fake() -> FakeDeck {
    let fake = fake_builder().start().await.unwrap();
    let quick = || RunPlan::new().queued_for(QUICK).running_for(QUICK);
    let tasks = [
        TaskSeed::new("task_ok", "Completes").run_plan(quick().output(json!({ "n": 1 }))),
        TaskSeed::new("task_fails", "Fails")
            .run_plan(quick().fails("source_unavailable", "The source website did not respond.")),
        TaskSeed::new("task_asks", "Asks")
            .run_plan(quick().asks(json!({ "type": "mfa", "message": "Enter the 6-digit code" }))),
        TaskSeed::new("task_review", "Review").run_plan(quick().needs_review()),
        TaskSeed::new("task_slow", "Slow").run_plan(
            RunPlan::new()
                .queued_for(Duration::from_secs(3600))
                .canceling_for(QUICK),
        ),
    ];
    for task in tasks {
        fake.add_task(task).unwrap();
    }
    fake
}

fn client(fake: &FakeDeck) -> Deck {
    Deck::builder()
        .api_key(KEY)
        .base_url(fake.base_url())
        .build()
        .unwrap()
}

/// `deck tasks run <task> --wait` against `fake`.
async fn run_and_wait(fake: &FakeDeck, task: &str, more: &[&str]) -> Run {
    let mut args = vec!["tasks", "run", task, "--wait"];
    args.extend_from_slice(more);
    deck(&args).against(fake).run().await
}

/// The stderr lines with the run id replaced by `trun_[id]`.
fn status_lines(run: &Run) -> Vec<String> {
    run.stderr_lines()
        .iter()
        .map(|line| {
            let mut out = String::new();
            let mut rest = *line;
            while let Some(at) = rest.find("trun_") {
                out.push_str(&rest[..at]);
                out.push_str("trun_[id]");
                rest = rest[at + 5..].trim_start_matches(|c: char| c.is_ascii_alphanumeric());
            }
            out.push_str(rest);
            out
        })
        .collect()
}

/// The entry of `deck --help`'s exit status table for `code` (with its continuation lines).
fn help_line_for(help: &str, code: u8) -> String {
    let section = help
        .split("Exit status:")
        .nth(1)
        .expect("an exit status section");
    let mut lines = section
        .lines()
        .skip_while(|line| !line.trim_start().starts_with(&format!("{code} ")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("exit code {code} is not in --help"));
    let continued = lines.take_while(|line| {
        let line = line.trim_start();
        !line.is_empty() && !line.starts_with(|c: char| c.is_ascii_digit())
    });
    std::iter::once(first)
        .chain(continued)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn the_demo_task_runs_and_its_files_are_pulled() {
    let reference = demo_fake().await;
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let run = deck(&["tasks", "run", demo::STATEMENTS_TASK, "--wait", "--pull"])
        .arg(&out)
        .run()
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let lines = status_lines(&run);
    assert!(
        lines[0].starts_with("deck: DECK_API_KEY is not set"),
        "{run:#?}"
    );
    // Each status once, as it changed: queued (from the start), running (seen by a poll
    // unless the machine stalled through it), completed; then the pull's summary.
    let n = lines.len();
    assert!(n == 4 || n == 5, "{run:#?}");
    assert_eq!(lines[1], "deck: trun_[id] queued");
    if n == 5 {
        assert_eq!(lines[2], "deck: trun_[id] running");
    }
    assert_eq!(lines[n - 2], "deck: trun_[id] completed (result success)");
    assert_eq!(
        redact(&lines[n - 1], Some(&out)),
        "deck: pulled trun_[id] into [dir]: 45 downloaded, 0 skipped, 0 failed, 29.6 KiB in [t] s"
    );
    // stdout: the run as it ended.
    let printed = run.json_lines();
    assert_eq!(printed.len(), 1);
    assert_eq!(printed[0]["status"], "completed");
    assert_eq!(printed[0]["task_id"], demo::STATEMENTS_TASK);
    assert_eq!(
        printed[0]["output"],
        json!({ "bill_count": demo::STATEMENTS_COUNT })
    );
    // The run captured the demo statements: same names, same bytes.
    let names = dir_names(&out);
    assert_eq!(names.len(), demo::STATEMENTS_COUNT);
    let api = client(&reference);
    let items: Vec<_> = api
        .list_storage(demo::STATEMENTS_RUN)
        .try_collect_all()
        .await
        .unwrap();
    for item in items {
        let on_disk = std::fs::read(out.join(&item.file_name)).unwrap();
        assert_eq!(on_disk, content(&reference, &item.id), "{}", item.file_name);
    }
}

#[tokio::test]
async fn every_ending_has_its_own_exit_status_listed_in_help() {
    let fake = endings_fake().await;
    let help = deck(&["--help"]).run().await.stdout;
    let api = client(&fake);
    // A run canceled while `deck runs wait` follows it.
    let slow = api.run_task("task_slow").call().await.unwrap();
    api.api()
        .cancel_task_run()
        .run_id(&slow.id)
        .call()
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pull_into = dir.path().join("nothing");
    let pull_args = ["--pull", pull_into.to_str().unwrap()];
    let (completed, failed, asks, review, canceled, timed_out) = tokio::join!(
        run_and_wait(&fake, "task_ok", &[]),
        run_and_wait(&fake, "task_fails", &pull_args),
        run_and_wait(&fake, "task_asks", &[]),
        run_and_wait(&fake, "task_review", &[]),
        deck(&["runs", "wait", &slow.id]).against(&fake).run(),
        deck(&["tasks", "run", "task_slow", "--timeout", "1s"])
            .against(&fake)
            .run(),
    );
    let cases = [
        (&completed, 0, "completed"),
        (&failed, 3, "failed"),
        (&canceled, 4, "canceled"),
        (&asks, 5, "needs input"),
        (&review, 6, "needs a review"),
        (&timed_out, 7, "--timeout"),
    ];
    for (run, code, words) in cases {
        assert_eq!(run.code, code, "{run:#?}");
        assert!(
            help_line_for(&help, u8::try_from(code).unwrap()).contains(words),
            "{code}: {words}"
        );
        // The run is printed as it ended, except when the wait gave up.
        if code != 7 {
            let printed = run.json_lines();
            assert_eq!(printed.len(), 1, "{run:#?}");
            assert!(printed[0]["id"].as_str().unwrap().starts_with("trun_"));
        } else {
            assert_eq!(run.stdout, "");
        }
    }
    assert!(
        help_line_for(&help, 0).contains("completed"),
        "0 is also a completed run"
    );
    assert!(!pull_into.exists(), "a failed run is not pulled");
    let mut report = Vec::new();
    for (name, run) in [
        ("completed", &completed),
        ("failed --pull", &failed),
        ("interaction", &asks),
        ("review", &review),
        ("runs wait (canceled)", &canceled),
        ("--timeout 1s", &timed_out),
    ] {
        report.push(format!("{name} (exit {}):", run.code));
        // Whether a poll lands while a run is `running` or `canceling` depends on timing:
        // those lines may or may not be there.
        let transient = |line: &str| line.ends_with(" running") || line.ends_with(" canceling");
        for line in status_lines(run).iter().filter(|l| !transient(l)) {
            report.push(format!("  {}", redact(line, None)));
        }
    }
    insta::assert_snapshot!(report.join("\n"));
}

#[tokio::test]
async fn a_run_answered_then_followed_completes() {
    let fake = endings_fake().await;
    let asked = run_and_wait(&fake, "task_asks", &[]).await;
    assert_eq!(asked.code, 5, "{asked:#?}");
    let run_id = asked.json_lines()[0]["id"].as_str().unwrap().to_owned();
    let answered = deck(&["runs", "answer", &run_id, "--input", r#"{"code":"123456"}"#])
        .against(&fake)
        .run()
        .await;
    assert_eq!(answered.code, 0, "{answered:#?}");
    let followed = deck(&["runs", "wait", &run_id]).against(&fake).run().await;
    assert_eq!(followed.code, 0, "{followed:#?}");
    let lines = status_lines(&followed);
    assert_eq!(
        lines.last().unwrap(),
        "deck: trun_[id] completed (result success)",
        "{followed:#?}"
    );
    assert_eq!(followed.json_lines()[0]["status"], "completed");
}

#[tokio::test]
async fn waiting_for_an_unknown_run_is_a_404_line() {
    let fake = endings_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let run = deck(&["runs", "wait", "trun_nope", "--pull"])
        .arg(dir.path().join("x"))
        .against(&fake)
        .run()
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stdout, "");
    let line = run.one_line();
    assert!(
        line.starts_with("deck: error: getTaskRun: ")
            && line.contains("HTTP 404 Not Found: task_run_not_found")
            && line.contains("(request_id req_"),
        "{line}"
    );
    assert!(dir_names(dir.path()).is_empty());
}
