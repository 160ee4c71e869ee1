//! `deck storage get <STORAGE_ID>`: one item as a JSON object, fields as the API sent them
//! except `file_size`, a JSON integer.

use std::io::Write;

use crate::raw_json::RawObject;
use deck_api_ext::Deck;
use reqwest::Method;

use crate::failure::Failure;
use crate::file_size;
use crate::output::JsonLines;

const OPERATION: &str = "getStorageItem";

/// Prints storage item `storage_id`.
pub async fn run<W: Write>(
    deck: &Deck,
    storage_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let request = super::storage_item_request(deck, OPERATION, Method::GET, storage_id)?;
    let mut item: RawObject = deck.execute_json(OPERATION, request).await?;
    file_size::normalize_at(OPERATION, "", &mut item)?;
    out.write(&item)?;
    out.flush()
}
