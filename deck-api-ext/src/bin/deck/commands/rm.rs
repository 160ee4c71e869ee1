//! `deck storage rm <STORAGE_ID>`: permanent deletion; prints Deck's confirmation
//! (`{"id", "object", "deleted": true, "request_id"}`) as the API sent it.

use std::io::Write;

use crate::raw_json::RawObject;
use deck_api_ext::{CallExt, CallOptions, Deck};

use crate::failure::Failure;
use crate::output::JsonLines;

/// Deletes storage item `storage_id` and prints the confirmation.
pub async fn run<W: Write>(
    deck: &Deck,
    storage_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let confirmation: RawObject = deck
        .api()
        .delete_storage_item()
        .storage_id(storage_id)
        .call_as(CallOptions::new())
        .await?;
    out.write(&confirmation)?;
    out.flush()
}
