//! What can make `deck` fail, the one line it prints on stderr, and its exit code.
//!
//! | Code | Meaning |
//! |---|---|
//! | 0 | success, also when stdout was closed early (`deck storage list ... \| head -1`) |
//! | [`FAILED`] (1) | the Deck API, the network, a download or a local file operation failed; a pull with a failed file |
//! | [`USAGE`] (2) | invalid arguments or configuration |
//! | [`RUN_FAILED`] (3) | a followed run ended `failed` |
//! | [`RUN_CANCELED`] (4) | a followed run ended `canceled` |
//! | [`RUN_NEEDS_INPUT`] (5) | a followed run waits for input (`interaction_required`) |
//! | [`RUN_NEEDS_REVIEW`] (6) | a followed run waits for a review (`review_required`) |
//! | [`WAIT_TIMED_OUT`] (7) | `--timeout` passed while the run was still going |
//! | [`NOT_VERIFIED`] (8) | `webhook verify`: the delivery is not authentic or not current |
//! | 101 | a panic (see `panic_hook`) |
//! | [`INTERRUPTED`] (130) | Ctrl-C, SIGTERM or SIGHUP |
//!
//! `deck --help` lists the same codes; scripts depend on them.

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use deck_api_ext::ErrorKind;

/// Exit code: the operation failed (API, network, download, local files).
pub const FAILED: u8 = 1;
/// Exit code: invalid arguments or configuration.
pub const USAGE: u8 = 2;
/// Exit code: the run followed to its end failed.
pub const RUN_FAILED: u8 = 3;
/// Exit code: the run followed to its end was canceled.
pub const RUN_CANCELED: u8 = 4;
/// Exit code: the run followed stopped for input (`interaction_required`).
pub const RUN_NEEDS_INPUT: u8 = 5;
/// Exit code: the run followed stopped for a person's review (`review_required`).
pub const RUN_NEEDS_REVIEW: u8 = 6;
/// Exit code: the wait's `--timeout` passed while the run was still going.
pub const WAIT_TIMED_OUT: u8 = 7;
/// Exit code: `webhook verify` rejected the delivery.
pub const NOT_VERIFIED: u8 = 8;
/// Exit code: interrupted by Ctrl-C, SIGTERM or SIGHUP (128 + SIGINT, as shells report Ctrl-C;
/// the other two end the same way, so scripts need one code).
pub const INTERRUPTED: u8 = 130;

/// A report quotes at most [`QUOTE_LIMIT`] characters of any one value a server sent (an id, a
/// `file_size`), then `…`, with the library's own [`clip`]; [`one_line`] keeps a report on one
/// line.
pub use deck_api_ext::error::{QUOTE_LIMIT, clip, one_line};

/// A report line is cut after this many characters: a backstop, every part is bounded already.
const LINE_LIMIT: usize = 1000;

/// The API key, replaced by `[redacted]` in every report (see [`hide_in_reports`]).
static SECRET: OnceLock<String> = OnceLock::new();

/// Makes every report replace `key` with `[redacted]`. The library already scrubs the key
/// from its errors; this also covers messages `deck` builds itself from values in a response
/// (a server could echo the key into an item).
pub fn hide_in_reports(key: &str) {
    if !key.is_empty() {
        let _ = SECRET.set(key.to_owned());
    }
}

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The command line is invalid; the message is clap's, as one line.
    Usage(String),
    /// The configuration is unusable (names the setting, never the key).
    Config(String),
    /// The client library failed: an API error (status, code, request_id), transport, decode
    /// (with its JSON path), download or local file error.
    Deck(deck_api_ext::Error),
    /// A response decoded but has a value `deck` cannot print as promised (a `file_size` that is
    /// not a size); the message names the operation, the JSON path and the item.
    Malformed(String),
    /// Writing to stdout failed for a reason other than the reader going away.
    Output(io::Error),
    /// The reader of stdout went away (`| head -1`): stop quietly, successfully.
    OutputClosed,
    /// A pull ended with failed files; each was already reported on its own line.
    Incomplete,
    /// A followed run ended otherwise than `completed`, or stopped for a person; its status
    /// line was already printed.
    RunEnded(RunEnd),
    /// The wait's deadline passed while the run was still going (the error names the run and
    /// its last status).
    WaitTimedOut(deck_api_ext::Error),
    /// `webhook verify` rejected the delivery: why.
    NotVerified(String),
    /// Ctrl-C, SIGTERM or SIGHUP.
    Interrupted,
    /// `deck` could not get going: the async runtime or the built-in demo server did not start.
    Startup(String),
}

/// How a followed run ended, when not `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// `failed`.
    Failed,
    /// `canceled`.
    Canceled,
    /// `interaction_required`: paused until `deck runs answer`.
    NeedsInput,
    /// `review_required`: paused until a person approves it in Deck.
    NeedsReview,
}

impl RunEnd {
    /// The process exit code for this ending.
    pub fn exit_code(self) -> u8 {
        match self {
            RunEnd::Failed => RUN_FAILED,
            RunEnd::Canceled => RUN_CANCELED,
            RunEnd::NeedsInput => RUN_NEEDS_INPUT,
            RunEnd::NeedsReview => RUN_NEEDS_REVIEW,
        }
    }
}

impl From<deck_api_ext::Error> for Failure {
    fn from(error: deck_api_ext::Error) -> Self {
        Failure::Deck(error)
    }
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::OutputClosed => 0,
            Failure::Usage(_) | Failure::Config(_) => USAGE,
            Failure::Deck(error)
                if matches!(error.kind(), ErrorKind::Config | ErrorKind::InvalidRequest) =>
            {
                USAGE
            }
            Failure::Interrupted => INTERRUPTED,
            Failure::RunEnded(end) => end.exit_code(),
            Failure::WaitTimedOut(_) => WAIT_TIMED_OUT,
            Failure::NotVerified(_) => NOT_VERIFIED,
            Failure::Deck(_)
            | Failure::Malformed(_)
            | Failure::Output(_)
            | Failure::Incomplete
            | Failure::Startup(_) => FAILED,
        }
    }

    /// The line to print on stderr, without the `deck: ` prefix; `None` when there is nothing
    /// (more) to say.
    pub fn message(&self) -> Option<String> {
        match self {
            Failure::Usage(message)
            | Failure::Config(message)
            | Failure::Malformed(message)
            | Failure::Startup(message) => Some(message.clone()),
            Failure::NotVerified(reason) => Some(format!("not verified: {reason}")),
            Failure::Deck(error) | Failure::WaitTimedOut(error) => Some(error.to_string()),
            Failure::Output(error) => Some(format!("writing to stdout: {error}")),
            Failure::Interrupted => Some("interrupted".to_owned()),
            Failure::OutputClosed | Failure::Incomplete | Failure::RunEnded(_) => None,
        }
    }

    /// Prints the failure's line on stderr (`deck: error: ...`) and returns its exit code.
    pub fn report(self) -> ExitCode {
        if let Some(message) = self.message() {
            // stderr may be closed as well; there is no one left to tell then.
            let message = match SECRET.get() {
                Some(key) => message.replace(key.as_str(), "[redacted]"),
                None => message,
            };
            let _ = writeln!(
                io::stderr().lock(),
                "deck: error: {}",
                clip(&message, LINE_LIMIT)
            );
        }
        ExitCode::from(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_by_cause() {
        assert_eq!(Failure::Usage("x".into()).exit_code(), USAGE);
        assert_eq!(Failure::Config("x".into()).exit_code(), USAGE);
        assert_eq!(Failure::Malformed("x".into()).exit_code(), FAILED);
        assert_eq!(Failure::Incomplete.exit_code(), FAILED);
        assert_eq!(Failure::OutputClosed.exit_code(), 0);
        assert_eq!(Failure::Interrupted.exit_code(), INTERRUPTED);
        assert_eq!(Failure::NotVerified("x".into()).exit_code(), NOT_VERIFIED);
        let ends = [
            RunEnd::Failed,
            RunEnd::Canceled,
            RunEnd::NeedsInput,
            RunEnd::NeedsReview,
        ];
        let mut codes: Vec<u8> = ends
            .iter()
            .map(|end| Failure::RunEnded(*end).exit_code())
            .chain([FAILED, USAGE, WAIT_TIMED_OUT, NOT_VERIFIED, INTERRUPTED])
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 9, "every cause has its own code: {codes:?}");
        let config = deck_api_ext::Deck::builder().build().unwrap_err();
        assert_eq!(Failure::Deck(config).exit_code(), USAGE);
    }

    #[test]
    fn quiet_failures_have_no_message() {
        assert_eq!(Failure::OutputClosed.message(), None);
        assert_eq!(Failure::Incomplete.message(), None);
        assert_eq!(Failure::RunEnded(RunEnd::Failed).message(), None);
        assert_eq!(
            Failure::Interrupted.message().as_deref(),
            Some("interrupted")
        );
    }

    #[test]
    fn messages_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
    }

    #[test]
    fn clips_are_bounded() {
        assert_eq!(clip("abc", 3), "abc");
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("é\né", 2), "é …");
    }
}
