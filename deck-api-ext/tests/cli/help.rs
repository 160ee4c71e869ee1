//! `deck --help`, subcommand help, `--version`, and usage errors: exact text (snapshots), exit
//! codes, one line per error.

use crate::support::{deck, redact};

#[tokio::test]
async fn help_texts() {
    for (name, args) in [
        ("deck", &["--help"][..]),
        ("deck_storage", &["storage", "--help"]),
        ("deck_storage_list", &["storage", "list", "--help"]),
        ("deck_storage_get", &["storage", "get", "--help"]),
        ("deck_storage_pull", &["storage", "pull", "--help"]),
        ("deck_storage_rm", &["storage", "rm", "--help"]),
        ("deck_tasks", &["tasks", "--help"]),
        ("deck_tasks_list", &["tasks", "list", "--help"]),
        ("deck_tasks_get", &["tasks", "get", "--help"]),
        ("deck_tasks_run", &["tasks", "run", "--help"]),
        ("deck_runs", &["runs", "--help"]),
        ("deck_runs_list", &["runs", "list", "--help"]),
        ("deck_runs_get", &["runs", "get", "--help"]),
        ("deck_runs_wait", &["runs", "wait", "--help"]),
        ("deck_runs_cancel", &["runs", "cancel", "--help"]),
        ("deck_runs_answer", &["runs", "answer", "--help"]),
        ("deck_events", &["events", "--help"]),
        ("deck_events_list", &["events", "list", "--help"]),
        ("deck_events_tail", &["events", "tail", "--help"]),
        ("deck_webhook", &["webhook", "--help"]),
        ("deck_webhook_verify", &["webhook", "verify", "--help"]),
    ] {
        let run = deck(args).run().await;
        assert_eq!(run.code, 0, "{run:#?}");
        assert_eq!(run.stderr, "", "{name}");
        insta::assert_snapshot!(format!("help_{name}"), run.stdout);
    }
}

#[tokio::test]
async fn short_help_is_a_summary_of_the_long_one() {
    let run = deck(&["storage", "pull", "-h"]).run().await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .starts_with("Download every file of a task run into a directory\n")
    );
    assert!(
        !run.stdout.contains("Expired download URLs"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn version() {
    for args in [&["--version"][..], &["-V"]] {
        let run = deck(args).run().await;
        assert_eq!(run.code, 0);
        assert_eq!(
            run.stdout,
            format!("deck {}\n", env!("CARGO_PKG_VERSION")),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn no_command_prints_help_and_exits_2() {
    for args in [&[][..], &["storage"]] {
        let run = deck(args).run().await;
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "");
        assert!(run.stderr.contains("Usage: deck"), "{}", run.stderr);
    }
}

#[tokio::test]
async fn usage_errors_are_one_line_and_exit_2() {
    let mut lines = Vec::new();
    for args in [
        &["storage", "list", "trun_1", "--limit", "0"][..],
        &["storage", "list", "trun_1", "--limit", "101"],
        &["storage", "list", "trun_1", "--limit", "ten"],
        &["storage", "list", "trun_1", "--limit=-1"],
        &["storage", "pull", "trun_1"],
        &[
            "storage",
            "pull",
            "trun_1",
            "--out",
            "d",
            "--concurrency",
            "0",
        ],
        &["storage", "get"],
        &["storage", "get", ""],
        &["storage", "copy", "stor_1"],
        &["storage", "list", "trun_1", "--colour"],
        &["storage", "rm", "stor_1", "stor_2"],
    ] {
        // A key is set, so these fail on the arguments and not for want of configuration.
        let run = deck(args)
            .env("DECK_API_KEY", crate::support::KEY)
            .env("DECK_BASE_URL", "http://127.0.0.1:9/v2")
            .run()
            .await;
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "");
        lines.push(format!("{}\n  {}", args.join(" "), run.one_line()));
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[tokio::test]
async fn usage_errors_of_the_api_commands_are_one_line_and_exit_2() {
    let mut lines = Vec::new();
    for args in [
        &["tasks", "run", "task_1", "--input", "{month: 1}"][..],
        &[
            "tasks",
            "run",
            "task_1",
            "--input",
            "@/nonexistent/input.json",
        ],
        &["tasks", "run", ""],
        &["tasks", "list", "--status"],
        &["runs", "list", "--since", "yesterday"],
        &["runs", "list", "--limit", "0"],
        &["runs", "get", "trun_1", "--include", ""],
        &["runs", "answer", "trun_1"],
        &["runs", "cancel"],
        &["events", "list", "--until", "2025-02-30"],
        &["events", "tail", "-n", "101"],
        &["events", "tail", "--interval", "500ms"],
        &["events", "tail", "--interval", "1h1"],
        &["events", "tail", "--since", "2025-01-15", "-n", "3"],
        &["tasks", "run", "task_1", "--timeout", "0"],
        &["tasks", "run", "task_1", "--timeout", "31d"],
        &["runs", "wait", "trun_1", "--timeout", "soon"],
        &["runs", "wait", "trun_1", "--pull"],
        &[
            "webhook",
            "verify",
            "--secret",
            "whsec_x",
            "--id",
            "msg_1",
            "--timestamp",
            "1",
        ],
        &[
            "webhook",
            "verify",
            "--id",
            "m",
            "--timestamp",
            "1",
            "--signature",
            "v1,x",
            "--secret",
            "whsec_x",
            "--tolerance",
            "0s",
        ],
        &[
            "webhook",
            "verify",
            "--id",
            "m",
            "--timestamp",
            "1",
            "--signature",
            "v1,x",
            "--secret",
            "whsec_x",
            "--now",
            "tomorrow",
        ],
    ] {
        let run = deck(args)
            .env("DECK_API_KEY", crate::support::KEY)
            .env("DECK_BASE_URL", "http://127.0.0.1:9/v2")
            .run()
            .await;
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "");
        lines.push(format!("{}\n  {}", args.join(" "), run.one_line()));
    }
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn redact_replaces_what_varies() {
    assert_eq!(
        redact(
            "x (request_id req_000012) http://127.0.0.1:4123/v2 in 0.35 s; see req_ here in a",
            None
        ),
        "x (request_id req_[id]) http://127.0.0.1:[port]/v2 in [t] s; see req_ here in a"
    );
}
