//! One module per subcommand; [`run`] dispatches. Results go to stdout through
//! [`JsonLines`]; each command returns a [`Failure`] instead of printing errors itself.

mod get;
mod list;
mod pull;
mod rm;

use deck_api_ext::Deck;

use crate::args::{Command, StorageCommand};
use crate::failure::Failure;
use crate::output::JsonLines;

/// Runs `command` against `deck`.
pub async fn run(deck: &Deck, command: Command) -> Result<(), Failure> {
    match command {
        Command::Storage(StorageCommand::List { run_id, limit }) => {
            list::run(deck, &run_id, limit, &mut JsonLines::stdout()).await
        }
        Command::Storage(StorageCommand::Get { storage_id }) => {
            get::run(deck, &storage_id, &mut JsonLines::stdout()).await
        }
        Command::Storage(StorageCommand::Pull {
            run_id,
            out,
            concurrency,
        }) => pull::run(deck, &run_id, &out, usize::from(concurrency)).await,
        Command::Storage(StorageCommand::Rm { storage_id }) => {
            rm::run(deck, &storage_id, &mut JsonLines::stdout()).await
        }
    }
}
