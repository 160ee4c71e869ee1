//! `deck storage list <RUN_ID> [--limit N]`: every item of a run, one JSON object per line.
//!
//! Pages are fetched as raw JSON objects, so every field the API sent, known or not, is printed
//! in the order it was sent; only `file_size` is rewritten, as a JSON integer. Each page is
//! flushed as soon as it is written, so a reader sees items while later pages load.

use std::io::Write;

use crate::raw_json::RawObject;
use deck_api_ext::api::Operation;
use deck_api_ext::{Deck, ListExt};
use futures_util::TryStreamExt;

use crate::failure::Failure;
use crate::file_size;
use crate::output::JsonLines;

const OPERATION: &str =
    <deck_api_ext::api::builder::ListTaskRunStorage<'static> as Operation<'static>>::OPERATION_ID;

/// Prints every storage item of `run_id`, asking for pages of `limit` items.
pub async fn run<W: Write>(
    deck: &Deck,
    run_id: &str,
    limit: u32,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut pages = deck
        .api()
        .list_task_run_storage()
        .run_id(run_id)
        .paginate_as::<RawObject>()
        .limit(limit)
        .pages();
    while let Some(page) = pages.try_next().await? {
        for (index, mut item) in page.data.into_iter().enumerate() {
            file_size::normalize_at(OPERATION, &format!("data[{index}]"), &mut item)?;
            out.write(&item)?;
        }
        out.flush()?;
    }
    Ok(())
}
