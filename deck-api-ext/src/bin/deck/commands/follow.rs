//! Following a task run to its end: `deck tasks run --wait` and `deck runs wait`.
//!
//! The waiting is the library's [`Deck::wait_for_run`] (polling with backoff, a deadline,
//! retryable failures tolerated); this module reports what it sees: one line on stderr each
//! time the run's status changes (with the result, the first error, or what the run asks for
//! when it stops for a person), then the run as Deck sends it on stdout, and an exit status per
//! ending (see [`Failure::RunEnded`]). A completed run's files can then be pulled.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deck_api_ext::api::types::GetTaskRunResponse;
use deck_api_ext::api::types::GetTaskRunResponseStatusKnown as Known;
use deck_api_ext::run_wait::RunOutcome;
use deck_api_ext::storage::DEFAULT_CONCURRENCY;
use deck_api_ext::{Deck, ErrorKind, RunStatusExt};

use super::{pull, show};
use crate::failure::{Failure, QUOTE_LIMIT, RunEnd, clip, one_line};
use crate::output::JsonLines;

/// How often the demo server is polled (first wait's ceiling, cap): it is in this process, so
/// polling costs nothing, and its demo task runs in about a second.
pub const DEMO_POLL: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_millis(250));

/// How to follow a run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The wait's deadline (the library's default without one).
    pub timeout: Option<Duration>,
    /// Where to pull a completed run's files.
    pub pull: Option<PathBuf>,
    /// Poll every [`DEMO_POLL`] instead of the library's schedule.
    pub demo: bool,
}

/// Waits for run `run_id` to end or stop for a person, reporting status changes on stderr
/// (`reported` is the status already reported, if any), prints the run on `out`, then pulls a
/// completed run's files when asked. Fails with the run's ending when it did not complete.
pub async fn run<W: Write>(
    deck: &Deck,
    run_id: &str,
    reported: Option<String>,
    options: Options,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let lines = StatusLines {
        last: Arc::new(Mutex::new(reported)),
    };
    let mut wait = deck
        .wait_for_run(run_id)
        .on_poll(move |run| lines.seen(run));
    if let Some(timeout) = options.timeout {
        wait = wait.timeout(timeout);
    }
    if options.demo {
        wait = wait.poll_interval(DEMO_POLL.0, DEMO_POLL.1);
    }
    let outcome = match wait.await {
        Ok(outcome) => outcome,
        Err(error) if error.kind() == ErrorKind::Timeout => {
            return Err(Failure::WaitTimedOut(error));
        }
        Err(error) => return Err(error.into()),
    };

    let body = show::fetch(deck.api().get_task_run().run_id(run_id)).await?;
    out.write(&body)?;
    out.flush()?;

    match ending(&outcome) {
        None => match &options.pull {
            Some(dir) => pull::run(deck, run_id, dir, DEFAULT_CONCURRENCY).await,
            None => Ok(()),
        },
        Some(end) => {
            if options.pull.is_some() {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "deck: {}",
                    one_line(&format!(
                        "nothing pulled: {} did not complete",
                        clip(run_id, QUOTE_LIMIT)
                    ))
                );
            }
            Err(Failure::RunEnded(end))
        }
    }
}

/// How a wait's outcome ends the command: `None` for a completed run.
pub fn ending(outcome: &RunOutcome) -> Option<RunEnd> {
    match outcome {
        RunOutcome::NeedsInput(_) => Some(RunEnd::NeedsInput),
        RunOutcome::NeedsReview(_) => Some(RunEnd::NeedsReview),
        RunOutcome::Finished(run) => match run.status.known() {
            Some(Known::Failed) => Some(RunEnd::Failed),
            Some(Known::Canceled) => Some(RunEnd::Canceled),
            _ => None,
        },
    }
}

/// Reports a run's status on stderr when it differs from the last one reported.
#[derive(Clone)]
struct StatusLines {
    last: Arc<Mutex<Option<String>>>,
}

impl StatusLines {
    fn seen(&self, run: &GetTaskRunResponse) {
        let status = run.status.name().into_owned();
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if last.as_deref() == Some(status.as_str()) {
            return;
        }
        // stderr may be closed; the exit status still tells how the run ended.
        let _ = writeln!(std::io::stderr().lock(), "deck: {}", status_line(run));
        *last = Some(status);
    }
}

/// `trun_x running`; `trun_x completed (result success)`; `trun_x failed (result failure):
/// source_unavailable: The source website did not respond.`; `trun_x interaction_required:
/// Enter the code; answer with: deck runs answer trun_x --input JSON`. Every value Deck sent
/// is cut after [`QUOTE_LIMIT`] characters; the line is one line.
pub fn status_line(run: &GetTaskRunResponse) -> String {
    let id = clip(&run.id, QUOTE_LIMIT);
    let mut line = format!("{id} {}", clip(&run.status.name(), QUOTE_LIMIT));
    if let Some(result) = &run.result {
        line.push_str(&format!(" (result {})", clip(result, QUOTE_LIMIT)));
    }
    match run.status.known() {
        Some(Known::Failed) => {
            if let Some(error) = run.errors.iter().flatten().next() {
                line.push_str(&format!(
                    ": {}: {}",
                    clip(&error.code, QUOTE_LIMIT),
                    clip(&error.message, QUOTE_LIMIT)
                ));
            }
        }
        Some(Known::InteractionRequired) => {
            let asks = run
                .interaction
                .as_ref()
                .and_then(|i| i.get("message"))
                .and_then(|m| m.as_str());
            if let Some(message) = asks {
                line.push_str(&format!(": {}", clip(message, QUOTE_LIMIT)));
            }
            line.push_str(&format!(
                "; answer with: deck runs answer {id} --input JSON"
            ));
        }
        Some(Known::ReviewRequired) => {
            line.push_str(&format!(
                "; a person approves it in Deck, then: deck runs wait {id}"
            ));
        }
        _ => {}
    }
    one_line(&line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: serde_json::Value) -> GetTaskRunResponse {
        let mut base = json!({
            "id": "trun_1",
            "object": "task_run",
            "status": "running",
            "created_at": "2025-01-15T09:30:00Z",
            "storage": []
        });
        for (key, value) in body.as_object().unwrap() {
            base[key] = value.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn a_line_per_status_with_what_it_means() {
        assert_eq!(status_line(&run(json!({}))), "trun_1 running");
        assert_eq!(
            status_line(&run(json!({"status": "completed", "result": "success"}))),
            "trun_1 completed (result success)"
        );
        assert_eq!(
            status_line(&run(json!({
                "status": "failed",
                "result": "failure",
                "errors": [{"type": "source", "code": "source_unavailable",
                            "message": "The source website did not respond.\nTry later."}]
            }))),
            "trun_1 failed (result failure): source_unavailable: The source website did not \
             respond. Try later."
        );
        assert_eq!(
            status_line(&run(json!({
                "status": "interaction_required",
                "interaction": {"type": "mfa", "message": "Enter the 6-digit code"}
            }))),
            "trun_1 interaction_required: Enter the 6-digit code; answer with: deck runs \
             answer trun_1 --input JSON"
        );
        assert_eq!(
            status_line(&run(json!({"status": "review_required"}))),
            "trun_1 review_required; a person approves it in Deck, then: deck runs wait trun_1"
        );
        assert_eq!(
            status_line(&run(json!({"status": "cancelling"}))),
            "trun_1 cancelling"
        );
    }

    #[test]
    fn values_from_the_server_are_cut() {
        let long = "x".repeat(5000);
        let line = status_line(&run(json!({
            "id": long,
            "status": long,
            "result": long,
        })));
        assert!(line.chars().count() < 400, "{}", line.len());
    }

    #[test]
    fn endings() {
        let of = |status: &str| {
            let run = run(json!({ "status": status }));
            match run.status.phase() {
                deck_api_ext::RunPhase::NeedsInput => RunOutcome::NeedsInput(run),
                deck_api_ext::RunPhase::NeedsReview => RunOutcome::NeedsReview(run),
                _ => RunOutcome::Finished(run),
            }
        };
        assert_eq!(ending(&of("completed")), None);
        assert_eq!(ending(&of("failed")), Some(RunEnd::Failed));
        assert_eq!(ending(&of("canceled")), Some(RunEnd::Canceled));
        assert_eq!(
            ending(&of("interaction_required")),
            Some(RunEnd::NeedsInput)
        );
        assert_eq!(ending(&of("review_required")), Some(RunEnd::NeedsReview));
    }
}
