//! One module per group of subcommands; [`run`] dispatches. Results go to stdout through
//! [`JsonLines`]; each command returns a [`Failure`] instead of printing errors itself.
//!
//! | Module | Commands |
//! |---|---|
//! | [`tasks`] | `tasks list`, `tasks get`, `tasks run` |
//! | [`runs`] | `runs list`, `runs get`, `runs cancel`, `runs answer` |
//! | [`follow`] | `tasks run --wait`, `runs wait`: a run followed to its end |
//! | [`events`] | `events list`, `events tail` |
//! | [`webhook`] | `webhook verify` (no API request) |
//! | [`list`], [`get`], [`pull`], [`rm`] | `storage list`, `get`, `pull`, `rm` |
//! | [`show`] | printing an API object or a whole list as sent |

mod events;
mod follow;
mod get;
mod list;
mod pull;
mod rm;
mod runs;
mod show;
mod tasks;
mod webhook;

use deck_api_ext::Deck;

use crate::args::{
    Command, EventsCommand, RunsCommand, StorageCommand, TasksCommand, WebhookCommand,
};
use crate::failure::Failure;
use crate::output::JsonLines;

/// Runs a command that needs no API client, key or demo server (`webhook verify`).
pub async fn offline(command: WebhookCommand) -> Result<(), Failure> {
    match command {
        WebhookCommand::Verify {
            secrets,
            id,
            timestamp,
            signature,
            tolerance,
            now,
        } => {
            let delivery = webhook::Delivery {
                secrets,
                id,
                timestamp,
                signature,
                tolerance,
                now,
            };
            webhook::verify(delivery, &mut JsonLines::stdout()).await
        }
    }
}

/// Runs `command` against `deck`; `demo` when that is the built-in demo server.
pub async fn run(deck: &Deck, command: Command, demo: bool) -> Result<(), Failure> {
    let out = &mut JsonLines::stdout();
    match command {
        Command::Tasks(command) => match command {
            TasksCommand::List {
                agent_id,
                status,
                page,
            } => tasks::list(deck, agent_id, status, page.limit, out).await,
            TasksCommand::Get { task_id } => tasks::get(deck, &task_id, out).await,
            TasksCommand::Run {
                task_id,
                input,
                credential_id,
                source_id,
                session_id,
                idempotency_key,
                wait,
                follow,
            } => {
                let request = tasks::RunRequest {
                    input,
                    credential_id,
                    source_id,
                    session_id,
                    idempotency_key,
                };
                let run = tasks::start(deck, &task_id, request).await?;
                if !(wait || follow.timeout.is_some() || follow.pull.is_some()) {
                    out.write(&run)?;
                    return out.flush();
                }
                let (run_id, status) = tasks::started(&run)?;
                let options = follow::Options {
                    timeout: follow.timeout,
                    pull: follow.pull,
                    demo,
                };
                follow::run(deck, &run_id, Some(status), options, out).await
            }
        },
        Command::Runs(command) => match command {
            RunsCommand::List { filters, page } => runs::list(deck, filters, page.limit, out).await,
            RunsCommand::Get { run_id, include } => runs::get(deck, &run_id, &include, out).await,
            RunsCommand::Wait { run_id, follow } => {
                let options = follow::Options {
                    timeout: follow.timeout,
                    pull: follow.pull,
                    demo,
                };
                follow::run(deck, &run_id, None, options, out).await
            }
            RunsCommand::Cancel { run_id } => runs::cancel(deck, &run_id, out).await,
            RunsCommand::Answer { run_id, input } => runs::answer(deck, &run_id, input, out).await,
        },
        Command::Events(command) => match command {
            EventsCommand::List {
                types,
                since,
                until,
                page,
            } => events::list(deck, &types, since, until, page.limit, out).await,
            EventsCommand::Tail {
                types,
                lines,
                since,
                interval,
            } => {
                let start = match since {
                    Some(at) => events::Start::Since(at),
                    None => events::Start::Last(lines),
                };
                events::tail(deck, &types, start, interval, out).await
            }
        },
        Command::Storage(StorageCommand::List { run_id, limit }) => {
            list::run(deck, &run_id, limit, out).await
        }
        Command::Storage(StorageCommand::Get { storage_id }) => {
            get::run(deck, &storage_id, out).await
        }
        Command::Storage(StorageCommand::Pull {
            run_id,
            out: dir,
            concurrency,
        }) => pull::run(deck, &run_id, &dir, usize::from(concurrency)).await,
        Command::Storage(StorageCommand::Rm { storage_id }) => {
            rm::run(deck, &storage_id, out).await
        }
        Command::Webhook(command) => offline(command).await,
    }
}
