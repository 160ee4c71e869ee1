//! `deck storage rm <STORAGE_ID>`: permanent deletion; prints Deck's confirmation
//! (`{"id", "object", "deleted": true, "request_id"}`) as the API sent it.

use std::io::Write;

use crate::raw_json::RawObject;
use deck_api_ext::Deck;
use reqwest::Method;

use crate::failure::Failure;
use crate::output::JsonLines;

const OPERATION: &str = "deleteStorageItem";

/// Deletes storage item `storage_id` and prints the confirmation.
pub async fn run<W: Write>(
    deck: &Deck,
    storage_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let request = super::storage_item_request(deck, OPERATION, Method::DELETE, storage_id)?;
    let confirmation: RawObject = deck.execute_json(OPERATION, request).await?;
    out.write(&confirmation)?;
    out.flush()
}
