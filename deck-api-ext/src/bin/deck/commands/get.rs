//! `deck storage get <STORAGE_ID>`: one item as a JSON object, fields as the API sent them
//! except `file_size`, a JSON integer.

use std::io::Write;

use crate::raw_json::RawObject;
use deck_api_ext::api::Operation;
use deck_api_ext::{CallExt, CallOptions, Deck};

use crate::failure::Failure;
use crate::file_size;
use crate::output::JsonLines;

const OPERATION: &str =
    <deck_api_ext::api::builder::GetStorageItem<'static> as Operation<'static>>::OPERATION_ID;

/// Prints storage item `storage_id`.
pub async fn run<W: Write>(
    deck: &Deck,
    storage_id: &str,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut item: RawObject = deck
        .api()
        .get_storage_item()
        .storage_id(storage_id)
        .call_as(CallOptions::new())
        .await?;
    file_size::normalize_at(OPERATION, "", &mut item)?;
    out.write(&item)?;
    out.flush()
}
