//! Printing what the API sent: one object ([`object`]) or every item of every page of a list
//! ([`list`]), each as a [`RawObject`] (fields, order and values as sent).

use std::io::Write;

use deck_api_ext::api::Operation;
use deck_api_ext::{CallExt, CallOptions, Paginator};
use futures_util::TryStreamExt;

use crate::failure::Failure;
use crate::output::JsonLines;
use crate::raw_json::RawObject;

/// Sends `operation` and returns its response body as sent.
pub async fn fetch<'a, O: Operation<'a>>(operation: O) -> Result<RawObject, Failure> {
    Ok(operation.call_as::<RawObject>(CallOptions::new()).await?)
}

/// Sends `operation` and prints its response body as one line of JSON.
pub async fn object<'a, O: Operation<'a>, W: Write>(
    operation: O,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let body = fetch(operation).await?;
    out.write(&body)?;
    out.flush()
}

/// Prints every item of every page, one line each, flushing after each page so that a reader
/// sees items while later pages load.
pub async fn list<W: Write>(
    paginator: Paginator<RawObject>,
    out: &mut JsonLines<W>,
) -> Result<(), Failure> {
    let mut pages = paginator.pages();
    while let Some(page) = pages.try_next().await? {
        for item in &page.data {
            out.write(item)?;
        }
        out.flush()?;
    }
    Ok(())
}
