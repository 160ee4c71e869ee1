//! The command line: clap definitions, and clap's errors reported as one line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::NonEmptyStringValueParser;
use clap::error::ErrorKind;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, CommandFactory, Parser, Subcommand};
use deck_api_ext::paginate::MAX_LIMIT;
use deck_api_ext::storage::DEFAULT_CONCURRENCY;
use serde_json::Value;

use crate::failure::{self, Failure};
use crate::values;

/// The most files `pull --concurrency` downloads at the same time.
pub const MAX_CONCURRENCY: u16 = 64;

/// Shown after `deck --help`: configuration and exit codes (scripts depend on both).
const AFTER_HELP: &str = "\
Configuration:
  DECK_API_KEY   Your Deck secret key (sk_live_...). It is sent to the Deck API only and never
                 printed. When it is not set and no base URL is given, deck starts a built-in
                 fake Deck server with demo data and says so on stderr, so you can try it
                 without an account: deck tasks run task_demo_statements --wait --pull out
  DECK_BASE_URL  The API base URL (default https://api.deck.co/v2); --base-url overrides it.
                 A base URL without DECK_API_KEY is an error (the demo server is not started).
  DECK_RATE_LIMIT
                 Requests per window this program may send to the Deck API, e.g. 200/10s
                 (Deck's documented organization limit, the default), 100/10s to leave half to
                 other services, or off. The rate also drops after 429 rate_limit_exceeded and
                 recovers; downloads are not limited.

Output:
  Results go to stdout: one JSON object, or for lists one per line (NDJSON), each exactly as
  the API sent it (storage items: file_size as an integer). Notices, run status changes,
  progress (on a terminal only), summaries and errors go to stderr, one line each. An error
  line names the HTTP status, Deck's error code and the request_id to quote to Deck support,
  or for a malformed response the JSON path that failed.

Exit status:
  0    success, also when stdout is closed early (deck events list ... | head -1); for a
       run followed to its end (tasks run --wait, runs wait): it completed (and with --pull,
       every file was downloaded)
  1    the Deck API, the network, a download or a local file operation failed;
       for a pull: at least one file failed (each is reported on its own line)
  2    usage or configuration error: invalid arguments, an empty DECK_API_KEY, an invalid
       base URL, or a base URL without DECK_API_KEY
  3    the run failed
  4    the run was canceled
  5    the run needs input (interaction_required): deck runs answer RUN_ID --input JSON
  6    the run needs a review (review_required): a person approves it in Deck
  7    the wait's --timeout passed while the run was still going
  8    webhook verify: the delivery did not verify (the reason is on stderr)
  101  internal error (a bug in deck; please report it)
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP)";

/// `deck`: the parsed command line.
#[derive(Debug, Parser)]
#[command(
    name = "deck",
    version,
    about = "The Deck API from a terminal: run tasks and follow them, list runs and events, \
             download the files runs capture, verify webhook deliveries.",
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The Deck API base URL (overrides `DECK_BASE_URL`).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        value_parser = NonEmptyStringValueParser::new(),
        help = "Deck API base URL [default: $DECK_BASE_URL, else https://api.deck.co/v2]"
    )]
    pub base_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tasks: list them, show one, run one and follow the run
    #[command(subcommand, arg_required_else_help = true)]
    Tasks(TasksCommand),
    /// Task runs: list, show, wait for, cancel, answer an interaction
    #[command(subcommand, arg_required_else_help = true)]
    Runs(RunsCommand),
    /// Events: list them, or follow new ones
    #[command(subcommand, arg_required_else_help = true)]
    Events(EventsCommand),
    /// Storage items: the files task runs capture
    #[command(subcommand, arg_required_else_help = true)]
    Storage(StorageCommand),
    /// Webhook deliveries: verify one (no API key needed)
    #[command(subcommand, arg_required_else_help = true)]
    Webhook(WebhookCommand),
}

/// A resource ID argument: not empty.
fn id_parser() -> NonEmptyStringValueParser {
    NonEmptyStringValueParser::new()
}

/// `--limit N`: the page size of a list.
#[derive(Debug, Clone, Copy, Args)]
pub struct PageSize {
    /// Page size sent to the API (1-100); every page is printed
    #[arg(
        long,
        value_name = "N",
        default_value_t = MAX_LIMIT,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT))
    )]
    pub limit: u32,
}

/// How a command follows a run to its end.
#[derive(Debug, Clone, Args)]
pub struct Follow {
    /// Give up waiting after this long (e.g. 90s, 10m, 1h30m) [default: 1h]
    #[arg(long, value_name = "DUR", value_parser = values::duration)]
    pub timeout: Option<Duration>,
    /// When the run has completed, download its files into DIR, as deck storage pull does
    #[arg(long, value_name = "DIR")]
    pub pull: Option<PathBuf>,
}

/// `deck tasks ...`.
#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Print every task, one JSON object per line (NDJSON)
    List {
        /// Only the tasks of this agent (agt_...)
        #[arg(long = "agent", value_name = "ID", value_parser = id_parser())]
        agent_id: Option<String>,
        /// Only tasks in this status: learning, test or live
        #[arg(long, value_name = "STATUS", value_parser = id_parser())]
        status: Option<String>,
        #[command(flatten)]
        page: PageSize,
    },

    /// Print one task as a JSON object
    Get {
        /// The task (task_...)
        #[arg(value_name = "TASK_ID", value_parser = id_parser())]
        task_id: String,
    },

    /// Run a task: print the new run, or with --wait follow it to its end
    ///
    /// Without --wait, prints the run Deck created (status queued) and exits 0.
    /// With --wait (implied by --timeout and --pull), prints each status change on stderr,
    /// then the run as it ended on stdout; the exit status says how it ended: 0 completed,
    /// 3 failed, 4 canceled, 5 needs input, 6 needs a review, 7 still going at --timeout.
    /// With --pull, a completed run's files are then downloaded into DIR, as deck storage
    /// pull does (exit 1 if a file failed).
    ///
    /// Starting is idempotent: a retried request never starts a second run. Pass
    /// --idempotency-key to make re-running this command safe too.
    #[command(verbatim_doc_comment)]
    Run {
        /// The task (task_...)
        #[arg(value_name = "TASK_ID", value_parser = id_parser())]
        task_id: String,
        /// The run's input, matching the task's input schema: JSON, or @FILE, or @- for stdin
        #[arg(long, value_name = "JSON|@FILE", value_parser = values::json_input)]
        input: Option<Value>,
        /// The credential to sign in with (cred_...)
        #[arg(long = "credential", value_name = "ID", value_parser = id_parser())]
        credential_id: Option<String>,
        /// The source to connect to (src_...)
        #[arg(long = "source", value_name = "ID", value_parser = id_parser())]
        source_id: Option<String>,
        /// Run in this open session (sess_...) instead of a new one
        #[arg(long = "session", value_name = "ID", value_parser = id_parser())]
        session_id: Option<String>,
        /// Idempotency-Key for the request (1-256 characters): the same key never starts two runs
        #[arg(long, value_name = "KEY", value_parser = id_parser())]
        idempotency_key: Option<String>,
        /// Follow the run to its end (status changes on stderr)
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        follow: Follow,
    },
}

/// The filters of `deck runs list`, sent as `listTaskRuns` query parameters; empty lists and
/// absent options are not sent.
#[derive(Debug, Default, Args)]
pub struct RunFilters {
    /// Only runs in these statuses (queued, running, canceling, interaction_required,
    /// review_required, completed, canceled, failed)
    #[arg(long, value_name = "STATUS", value_delimiter = ',', value_parser = id_parser())]
    pub status: Vec<String>,
    /// Only runs with these results (success, failure, unknown)
    #[arg(long, value_name = "RESULT", value_delimiter = ',', value_parser = id_parser())]
    pub outcome: Vec<String>,
    /// Only runs of this task (task_...)
    #[arg(long = "task", value_name = "ID", value_parser = id_parser())]
    pub task_id: Option<String>,
    /// Only runs of this agent (agt_...)
    #[arg(long = "agent", value_name = "ID", value_parser = id_parser())]
    pub agent_id: Option<String>,
    /// Only runs with this credential (cred_...)
    #[arg(long = "credential", value_name = "ID", value_parser = id_parser())]
    pub credential_id: Option<String>,
    /// Only runs on these sources (src_...)
    #[arg(long = "source", value_name = "ID", value_delimiter = ',', value_parser = id_parser())]
    pub source_id: Vec<String>,
    /// Only runs of this workflow (wflo_...)
    #[arg(long = "workflow", value_name = "ID", value_parser = id_parser())]
    pub workflow_id: Option<String>,
    /// Only runs created after TIME (RFC 3339, or a date: 2025-01-15)
    #[arg(long, value_name = "TIME", value_parser = values::instant)]
    pub since: Option<DateTime<Utc>>,
    /// Only runs created before TIME (RFC 3339, or a date)
    #[arg(long, value_name = "TIME", value_parser = values::instant)]
    pub until: Option<DateTime<Utc>>,
}

/// `deck runs ...`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Print task runs, one JSON object per line (NDJSON), filtered
    ///
    /// Filters that take a list accept the option repeated or comma-separated
    /// (--status running,queued); each value is sent as its own query parameter.
    #[command(verbatim_doc_comment)]
    List {
        #[command(flatten)]
        filters: RunFilters,
        #[command(flatten)]
        page: PageSize,
    },

    /// Print one task run as a JSON object
    Get {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = id_parser())]
        run_id: String,
        /// Sections to add: input, storage, artifacts (repeat or comma-separate)
        #[arg(long, value_name = "SECTION", value_delimiter = ',', value_parser = id_parser())]
        include: Vec<String>,
    },

    /// Follow a task run to its end: status changes on stderr, the run on stdout
    ///
    /// Returns as soon as the run has ended or stops for a person; the exit status says how:
    /// 0 completed, 3 failed, 4 canceled, 5 needs input, 6 needs a review, 7 still going at
    /// --timeout. With --pull, a completed run's files are then downloaded into DIR.
    #[command(verbatim_doc_comment)]
    Wait {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = id_parser())]
        run_id: String,
        #[command(flatten)]
        follow: Follow,
    },

    /// Ask Deck to cancel a task run; prints the run (status canceling, then canceled)
    Cancel {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = id_parser())]
        run_id: String,
    },

    /// Answer a run waiting for input (interaction_required); prints the resumed run
    ///
    /// The input's keys are the field names of the run's interaction, e.g.
    ///   deck runs answer trun_x --input '{"code":"123456"}'
    /// Follow the run afterwards with deck runs wait.
    #[command(verbatim_doc_comment)]
    Answer {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = id_parser())]
        run_id: String,
        /// The answer: JSON, or @FILE, or @- for stdin
        #[arg(long, value_name = "JSON|@FILE", value_parser = values::json_input)]
        input: Value,
    },
}

/// `deck events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print events, one JSON object per line (NDJSON), in the API's order
    List {
        /// Only events of this type (e.g. task_run.completed); repeat or comma-separate
        #[arg(long = "type", value_name = "TYPE", value_delimiter = ',', value_parser = id_parser())]
        types: Vec<String>,
        /// Only events created after TIME (RFC 3339, or a date: 2025-01-15)
        #[arg(long, value_name = "TIME", value_parser = values::instant)]
        since: Option<DateTime<Utc>>,
        /// Only events created before TIME (RFC 3339, or a date)
        #[arg(long, value_name = "TIME", value_parser = values::instant)]
        until: Option<DateTime<Utc>>,
        #[command(flatten)]
        page: PageSize,
    },

    /// Print the latest events, then every new one as it appears, until interrupted
    ///
    /// Like tail -f: first the last N events (-n, default 10), or every event after --since,
    /// oldest first; then it asks Deck for newer events every --interval and prints each
    /// new one once (NDJSON), oldest first. Times are Deck's created_at, never this
    /// machine's clock. Stops on Ctrl-C (exit 130).
    #[command(verbatim_doc_comment)]
    Tail {
        /// Only events of this type (e.g. task_run.completed); repeat or comma-separate
        #[arg(long = "type", value_name = "TYPE", value_delimiter = ',', value_parser = id_parser())]
        types: Vec<String>,
        /// Start with the last N events (0-100)
        #[arg(
            short = 'n',
            long = "lines",
            value_name = "N",
            default_value_t = 10,
            value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_LIMIT)),
            conflicts_with = "since"
        )]
        lines: u32,
        /// Start with every event created after TIME (RFC 3339, or a date) instead
        #[arg(long, value_name = "TIME", value_parser = values::instant)]
        since: Option<DateTime<Utc>>,
        /// How often to ask for new events (at least 1s)
        #[arg(long, value_name = "DUR", default_value = "2s", value_parser = interval)]
        interval: Duration,
    },
}

/// `deck webhook ...`.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Verify a delivery: the body on stdin, the headers as options; print the event's type and id
    ///
    /// Checks the Standard Webhooks signature Deck puts on every delivery: HMAC-SHA256 of
    /// "ID.TIMESTAMP.BODY" with the endpoint's secret, and that TIMESTAMP is within
    /// --tolerance of now. Give the body exactly as received, byte for byte (deck webhook
    /// verify ... < body.json; printf '%s', not echo, which adds a newline).
    ///
    /// On success prints {"type":"...","id":"..."} of the event (a body that is authentic
    /// but not a Deck event, like the Standard Webhooks test vector, verifies with a note on
    /// stderr). Otherwise exits 8 with the reason on stderr: no signature matches (the body,
    /// id or timestamp was altered, or the secret is wrong), the timestamp is outside the
    /// tolerance, or the header holds no v1 signature. Recorded deliveries and published
    /// test vectors are old: check them with --now (the time they were received).
    #[command(verbatim_doc_comment)]
    Verify {
        /// The endpoint's signing secret (whsec_...), never printed; repeat it to accept the
        /// previous secret during a rotation
        #[arg(
            long = "secret",
            value_name = "whsec_...",
            env = "DECK_WEBHOOK_SECRET",
            hide_env_values = true,
            required = true
        )]
        secrets: Vec<String>,
        /// The webhook-id header
        #[arg(long, value_name = "ID", allow_hyphen_values = true)]
        id: String,
        /// The webhook-timestamp header (Unix seconds), as sent
        #[arg(long, value_name = "TS", allow_hyphen_values = true)]
        timestamp: String,
        /// The webhook-signature header: space-separated v1,BASE64 signatures
        #[arg(long, value_name = "SIG", allow_hyphen_values = true)]
        signature: String,
        /// How far the timestamp may be from now, either way
        #[arg(long, value_name = "DUR", default_value = "5m", value_parser = values::duration)]
        tolerance: Duration,
        /// Check the timestamp against TIME instead of this machine's clock (Unix seconds or
        /// RFC 3339)
        #[arg(long, value_name = "TIME", value_parser = values::unix_time)]
        now: Option<i64>,
    },
}

/// `--interval`: a duration of at least a second (each round costs a request).
fn interval(text: &str) -> Result<Duration, String> {
    let duration = values::duration(text)?;
    if duration < Duration::from_secs(1) {
        return Err("at least 1s".to_owned());
    }
    Ok(duration)
}

/// `deck storage ...`.
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Print every storage item of a task run, one JSON object per line (NDJSON)
    ///
    /// Follows every page, in the API's order. Each line is the item as the API sent it
    /// (every field, in the order sent), except `file_size`, which is always a JSON integer.
    #[command(verbatim_doc_comment)]
    List {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = NonEmptyStringValueParser::new())]
        run_id: String,
        /// Page size sent to the API (1-100)
        #[arg(
            long,
            value_name = "N",
            default_value_t = MAX_LIMIT,
            value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LIMIT))
        )]
        limit: u32,
    },

    /// Print one storage item as a JSON object, with a fresh download URL
    ///
    /// The item as the API sent it (every field, in the order sent), except `file_size`,
    /// which is always a JSON integer.
    #[command(verbatim_doc_comment)]
    Get {
        /// The storage item (stor_...)
        #[arg(value_name = "STORAGE_ID", value_parser = NonEmptyStringValueParser::new())]
        storage_id: String,
    },

    /// Download every file of a task run into a directory
    ///
    /// File names are made safe (nothing is written outside DIR) and distinct within the run.
    /// Files already in DIR with the right size are skipped, so a re-run resumes. Each file is
    /// written to a temporary file and renamed when complete. Expired download URLs are
    /// refreshed and dropped connections resumed.
    ///
    /// stderr: a progress bar when it is a terminal, one line per failed file, then a summary:
    ///   pulled trun_x into DIR: 12 downloaded, 3 skipped, 0 failed, 74.2 MiB in 1.3 s
    /// Exits 1 if any file failed.
    #[command(verbatim_doc_comment)]
    Pull {
        /// The task run (trun_...)
        #[arg(value_name = "RUN_ID", value_parser = NonEmptyStringValueParser::new())]
        run_id: String,
        /// Directory to download into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Files downloaded at the same time (1-64)
        #[arg(
            long,
            value_name = "N",
            default_value_t = default_concurrency(),
            value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_CONCURRENCY))
        )]
        concurrency: u16,
    },

    /// Delete a storage item permanently and print Deck's confirmation as JSON
    ///
    /// The file and its extracted data cannot be recovered.
    #[command(verbatim_doc_comment)]
    Rm {
        /// The storage item (stor_...)
        #[arg(value_name = "STORAGE_ID", value_parser = NonEmptyStringValueParser::new())]
        storage_id: String,
    },
}

/// The library's default concurrency, within this program's range.
fn default_concurrency() -> u16 {
    u16::try_from(DEFAULT_CONCURRENCY)
        .unwrap_or(MAX_CONCURRENCY)
        .clamp(1, MAX_CONCURRENCY)
}

/// Parses the process's arguments. `Err` holds the exit code once help or the version was
/// printed (0) or a usage error was reported in one line on stderr (2).
pub fn parse() -> Result<Cli, ExitCode> {
    let args: Vec<OsString> = std::env::args_os().collect();
    Cli::try_parse_from(&args).map_err(|error| match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Printing help can only fail on a closed stdout; there is nothing left to say then.
            let _ = error.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            ExitCode::from(failure::USAGE)
        }
        _ => Failure::Usage(one_line(&error, &args)).report(),
    })
}

/// clap's error text (`error: ...`, tips, usage, a pointer to `--help`) as one line: the
/// message, with the lines that continue it (such as the names of missing arguments), and a
/// pointer to the help of the command `args` name (`see deck storage list --help`).
pub fn one_line(error: &clap::Error, args: &[OsString]) -> String {
    let rendered = error.render().to_string();
    let mut parts = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information")
        {
            break;
        }
        parts.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    let mut message = parts.join(" ");
    if message.is_empty() {
        message.push_str("invalid arguments");
    }
    format!("{message} (see {} --help)", command_path(args))
}

/// The (sub)command `args` invoke, as far as they name known subcommands: `deck storage list`.
fn command_path(args: &[OsString]) -> String {
    let mut command = Cli::command();
    let mut path = vec![command.get_name().to_owned()];
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        let Some(sub) = command.find_subcommand(arg).cloned() else {
            continue;
        };
        path.push(sub.get_name().to_owned());
        command = sub;
    }
    path.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn parse_from(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("deck").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_global_flag() {
        let cli = parse_from(&["storage", "list", "trun_1", "--base-url", "http://x"]).unwrap();
        assert_eq!(cli.base_url.as_deref(), Some("http://x"));
        match cli.command {
            Command::Storage(StorageCommand::List { run_id, limit }) => {
                assert_eq!((run_id.as_str(), limit), ("trun_1", 100));
            }
            other => panic!("{other:?}"),
        }
        let cli = parse_from(&["storage", "pull", "trun_1", "--out", "d"]).unwrap();
        match cli.command {
            Command::Storage(StorageCommand::Pull { concurrency, .. }) => {
                assert_eq!(usize::from(concurrency), DEFAULT_CONCURRENCY);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ranges_are_enforced() {
        for bad in ["0", "101", "ten", ""] {
            let err = parse_from(&["storage", "list", "trun_1", "--limit", bad]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}");
        }
        // A negative number reads as a flag unless attached with `=`.
        assert!(parse_from(&["storage", "list", "trun_1", "--limit", "-1"]).is_err());
        assert!(parse_from(&["storage", "list", "trun_1", "--limit=-1"]).is_err());
        assert!(parse_from(&["storage", "list", "trun_1", "--limit", "1"]).is_ok());
        let err =
            parse_from(&["storage", "pull", "r", "--out", "d", "--concurrency", "65"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        let err = parse_from(&["storage", "get", ""]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn errors_become_one_line() {
        let line = |args: &[&str]| {
            let error = parse_from(args).unwrap_err();
            let argv: Vec<OsString> = std::iter::once("deck")
                .chain(args.iter().copied())
                .map(OsString::from)
                .collect();
            one_line(&error, &argv)
        };
        assert_eq!(
            line(&["storage", "list", "trun_1", "--limit", "0"]),
            "invalid value '0' for '--limit <N>': 0 is not in 1..=100 (see deck storage list --help)"
        );
        assert_eq!(
            line(&["storage", "pull", "trun_1"]),
            "the following required arguments were not provided: --out <DIR> \
             (see deck storage pull --help)"
        );
        assert_eq!(
            line(&["--base-url", "x", "storage", "copy"]),
            "unrecognized subcommand 'copy' (see deck storage --help)"
        );
    }
}
