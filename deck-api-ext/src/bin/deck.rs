//! `deck`: the Deck API from the command line.
//!
//! ```text
//! deck tasks list [--agent ID] [--status S]                every task, NDJSON
//! deck tasks get <TASK_ID>                                 one task, JSON
//! deck tasks run <TASK_ID> [--input JSON|@FILE] [--credential ID] [--source ID]
//!                [--wait] [--timeout DUR] [--pull DIR]     start a run (and follow it)
//! deck runs list [filters]                                 task runs, NDJSON
//! deck runs get <RUN_ID> [--include SECTION]               one run, JSON
//! deck runs wait <RUN_ID> [--timeout DUR] [--pull DIR]     follow a run to its end
//! deck runs cancel <RUN_ID>                                cancel a run
//! deck runs answer <RUN_ID> --input JSON|@FILE             answer a run's interaction
//! deck events list [--type T]... [--since TIME]            events, NDJSON
//! deck events tail [--type T]... [-n N | --since TIME]     the latest events, then new ones
//! deck storage list <RUN_ID> [--limit N]                   every item of a run, NDJSON
//! deck storage get <STORAGE_ID>                            one item, JSON
//! deck storage pull <RUN_ID> --out <DIR> [--concurrency N] every file of a run into DIR
//! deck storage rm <STORAGE_ID>                             delete one item
//! deck webhook verify --secret S --id ID --timestamp TS --signature SIG [--tolerance DUR]
//!                     [--now TIME] < body                  verify a delivery (no API call)
//! ```
//!
//! Configuration comes from `DECK_API_KEY`, `DECK_BASE_URL` and `--base-url`; without
//! `DECK_API_KEY` the built-in fake Deck server with demo data answers instead (see
//! [`connect`]). Results go to stdout, everything else (notices, progress, summaries, errors)
//! to stderr, one line each. Exit codes are in [`failure::Failure::exit_code`] and `deck --help`.
//!
//! The modules, one concern each:
//!
//! | Module | Does |
//! |---|---|
//! | [`args`] | the command line (clap), usage errors as one line |
//! | [`values`] | option values: durations, instants, JSON input (`@FILE`) |
//! | [`connect`] | the client from the environment, or the fake demo server |
//! | [`commands`] | one module per subcommand |
//! | [`raw_json`] | API objects kept as sent: field order, values verbatim |
//! | [`file_size`] | `file_size` as a JSON integer in printed items |
//! | [`output`] | NDJSON on a locked, buffered stdout; a closed pipe ends quietly |
//! | [`progress`] | the pull's progress bar, on a terminal only |
//! | [`summary`] | the pull's one-line summary |
//! | [`failure`] | what went wrong, its one-line report and its exit code |
//! | [`panic_hook`] | a panic is one line, never a backtrace |

// The modules live in src/bin/deck/ (Cargo.toml names this file as the binary's root).
#[path = "deck/args.rs"]
mod args;
#[path = "deck/commands/mod.rs"]
mod commands;
#[path = "deck/connect.rs"]
mod connect;
#[path = "deck/failure.rs"]
mod failure;
#[path = "deck/file_size.rs"]
mod file_size;
#[path = "deck/output.rs"]
mod output;
#[path = "deck/panic_hook.rs"]
mod panic_hook;
#[path = "deck/progress.rs"]
mod progress;
#[path = "deck/raw_json.rs"]
mod raw_json;
#[path = "deck/summary.rs"]
mod summary;
#[path = "deck/values.rs"]
mod values;

use std::process::ExitCode;
use std::time::Duration;

use args::{Cli, Command};
use failure::Failure;

/// How long shutting down waits for work still running (a file being written) after the
/// command ended, e.g. on Ctrl-C.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    panic_hook::install();
    let cli = match args::parse() {
        Ok(cli) => cli,
        Err(exit) => return exit,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return Failure::Startup(format!("cannot start the async runtime: {e}")).report(),
    };
    let result = runtime.block_on(run(cli));
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

/// Runs the command until it ends or the process is asked to stop (Ctrl-C, SIGTERM, SIGHUP).
/// The command's future is then dropped, which removes partly downloaded temporary files.
async fn run(cli: Cli) -> Result<(), Failure> {
    let work = async move {
        let command = match cli.command {
            // Verifying a webhook talks to no server: no key, no demo server.
            Command::Webhook(command) => return commands::offline(command).await,
            command => command,
        };
        let session = connect::connect(cli.base_url.as_deref()).await?;
        commands::run(&session.deck, command, session.is_demo()).await
    };
    tokio::select! {
        result = work => result,
        () = stop_requested() => Err(Failure::Interrupted),
    }
}

/// Completes on the first Ctrl-C (SIGINT), and on Unix also on SIGTERM (`kill`, systemd,
/// container runtimes) and SIGHUP (the terminal went away): all three stop `deck` the same way.
/// A signal whose handler cannot be installed is simply not waited for.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        async fn on(kind: SignalKind) {
            match signal(kind) {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = on(SignalKind::terminate()) => {}
            () = on(SignalKind::hangup()) => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
