//! `deck storage pull <RUN_ID> --out <DIR> [--concurrency N]`: the library's bulk pull
//! (`Deck::pull_run`: safe names, collisions disambiguated, complete files skipped, atomic and
//! resumable downloads), with a progress bar on a terminal, one line per failed file and a
//! summary line on stderr. Nothing is printed on stdout.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use deck_api_ext::Deck;

use crate::failure::Failure;
use crate::progress::PullProgress;
use crate::summary::{failure_line, summary_line};

/// Pulls every file of `run_id` into `dir`, `concurrency` at a time. Fails with
/// [`Failure::Incomplete`] when a file failed (each is reported first), or with the error that
/// stopped the pull as a whole (the run could not be listed, `dir` not created).
pub async fn run(deck: &Deck, run_id: &str, dir: &Path, concurrency: usize) -> Result<(), Failure> {
    let started = Instant::now();
    let progress = PullProgress::on_stderr().map(Arc::new);
    let mut pull = deck.pull_run(run_id, dir).concurrency(concurrency);
    if let Some(progress) = &progress {
        let progress = Arc::clone(progress);
        pull = pull.on_progress(move |event| progress.on_event(event));
    }
    let result = pull.await;
    if let Some(progress) = &progress {
        progress.finish();
    }
    let summary = result?;

    let mut stderr = std::io::stderr().lock();
    // stderr may be closed; the exit code still tells the outcome.
    for failure in &summary.failed {
        let _ = writeln!(stderr, "deck: {}", failure_line(failure));
    }
    let _ = writeln!(
        stderr,
        "deck: {}",
        summary_line(run_id, dir, &summary, started.elapsed())
    );
    if summary.is_complete() {
        Ok(())
    } else {
        Err(Failure::Incomplete)
    }
}
