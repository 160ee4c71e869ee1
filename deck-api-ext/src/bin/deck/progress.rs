//! The pull's progress bar: bytes and files, on stderr, only when stderr is a terminal (a log
//! file or a pipe gets the summary line alone).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deck_api_ext::storage::{FileOutcome, PullEvent};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};

/// While the run is being listed: no total yet.
const LISTING_TEMPLATE: &str = "{spinner} {msg}";
/// Once the run is listed: bytes against the run's total, and files done in the message.
const BAR_TEMPLATE: &str = "{spinner} {msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} \
                            {binary_bytes_per_sec} eta {eta}";
const TICK: Duration = Duration::from_millis(120);

/// Progress of a pull: the bar's length is the run's bytes, its message the files done.
pub struct PullProgress {
    bar: ProgressBar,
    files_total: AtomicUsize,
    files_done: AtomicUsize,
}

impl PullProgress {
    /// A bar drawn on stderr, or `None` when stderr is not a terminal.
    pub fn on_stderr() -> Option<Self> {
        std::io::stderr().is_terminal().then(|| {
            let progress = PullProgress::new(ProgressBar::with_draw_target(
                None,
                ProgressDrawTarget::stderr(),
            ));
            progress.bar.enable_steady_tick(TICK);
            progress
        })
    }

    /// Progress drawn on `bar`.
    fn new(bar: ProgressBar) -> Self {
        let bar = bar
            .with_style(style(LISTING_TEMPLATE))
            .with_finish(ProgressFinish::AndClear);
        bar.set_message("listing files");
        PullProgress {
            bar,
            files_total: AtomicUsize::new(0),
            files_done: AtomicUsize::new(0),
        }
    }

    /// Updates the bar for one pull event (called from the downloading tasks).
    pub fn on_event(&self, event: PullEvent<'_>) {
        match event {
            PullEvent::Listed { files, bytes } => {
                self.files_total.store(files, Ordering::Relaxed);
                self.bar.set_length(bytes);
                self.bar
                    .set_style(style(BAR_TEMPLATE).progress_chars("=> "));
                self.show_files();
            }
            PullEvent::Progress { progress, .. } => {
                if progress.discarded > 0 {
                    // The file restarted from byte 0: take back what it had counted.
                    self.bar
                        .set_position(self.bar.position().saturating_sub(progress.discarded));
                }
                self.advance(progress.delta);
            }
            PullEvent::Finished { path, outcome, .. } => {
                if outcome == FileOutcome::Skipped {
                    // A skipped file is complete on disk: count its bytes as done.
                    let size = std::fs::symlink_metadata(path).map_or(0, |m| m.len());
                    self.advance(size);
                }
                self.files_done.fetch_add(1, Ordering::Relaxed);
                self.show_files();
            }
            _ => {}
        }
    }

    /// Counts `bytes` more as written, saturating (sizes come from the server, untrusted;
    /// `ProgressBar::inc` would wrap).
    fn advance(&self, bytes: u64) {
        self.bar
            .set_position(self.bar.position().saturating_add(bytes));
    }

    /// Removes the bar, so the summary lines that follow stand alone.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn show_files(&self) {
        let done = self.files_done.load(Ordering::Relaxed);
        let total = self.files_total.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{total} files"));
    }
}

/// The style for `template`, a constant; the fallback only guards against a change in
/// indicatif's template syntax.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_templates_parse() {
        for template in [LISTING_TEMPLATE, BAR_TEMPLATE] {
            assert!(ProgressStyle::with_template(template).is_ok(), "{template}");
        }
    }

    #[test]
    fn counts_files_and_bytes() {
        let progress = PullProgress::new(ProgressBar::hidden());
        assert_eq!(progress.bar.message(), "listing files");
        progress.on_event(PullEvent::Listed {
            files: 2,
            bytes: 10,
        });
        assert_eq!(progress.bar.length(), Some(10));
        assert_eq!(progress.bar.message(), "0/2 files");
        let dir = tempfile::tempdir().unwrap();
        let skipped = dir.path().join("a.txt");
        std::fs::write(&skipped, b"1234").unwrap();
        progress.on_event(PullEvent::Finished {
            storage_id: "stor_a",
            path: &skipped,
            outcome: FileOutcome::Skipped,
        });
        assert_eq!(progress.bar.position(), 4);
        progress.on_event(PullEvent::Finished {
            storage_id: "stor_b",
            path: Path::new("missing"),
            outcome: FileOutcome::Failed,
        });
        assert_eq!(progress.bar.message(), "2/2 files");
        assert_eq!(progress.bar.position(), 4);
        progress.advance(3);
        assert_eq!(progress.bar.position(), 7);
    }

    #[test]
    fn huge_sizes_saturate_instead_of_wrapping() {
        let progress = PullProgress::new(ProgressBar::hidden());
        progress.on_event(PullEvent::Listed {
            files: 2,
            bytes: u64::MAX,
        });
        progress.advance(u64::MAX - 1);
        progress.advance(u64::MAX - 1);
        assert_eq!(progress.bar.position(), u64::MAX);
    }
}
