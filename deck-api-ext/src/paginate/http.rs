//! Fetching a page of a Deck list endpoint directly: `GET path?filters&limit&cursor`.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use super::page::{Page, PageRequest};
use super::stream::Fetch;
use crate::client::Deck;
use crate::error::{Error, Result, decode_json};

/// A list endpoint and the filters sent with every page.
pub(crate) struct HttpList<T> {
    pub(crate) deck: Deck,
    pub(crate) path: String,
    pub(crate) filters: Vec<(String, String)>,
    /// Decodes a response body; monomorphised where `T: DeserializeOwned` is known, so the
    /// paginator itself needs no such bound (pages can also come from a closure).
    pub(crate) decode: fn(&'static str, &[u8]) -> Result<Page<T>>,
}

impl<T> Clone for HttpList<T> {
    fn clone(&self) -> Self {
        HttpList {
            deck: self.deck.clone(),
            path: self.path.clone(),
            filters: self.filters.clone(),
            decode: self.decode,
        }
    }
}

impl<T: Send + 'static> HttpList<T> {
    /// The fetcher for `operation_id`, shared by the stream and its prefetch task.
    pub(crate) fn into_fetch(self, operation_id: &'static str) -> Fetch<T> {
        let list = Arc::new(self);
        Arc::new(
            move |request: PageRequest| -> BoxFuture<'static, Result<Page<T>>> {
                let list = Arc::clone(&list);
                Box::pin(async move { list.fetch(operation_id, request).await })
            },
        )
    }

    async fn fetch(&self, operation_id: &'static str, page: PageRequest) -> Result<Page<T>> {
        let mut request = self
            .deck
            .request_builder(reqwest::Method::GET, &self.path)
            .build()
            .map_err(|e| {
                Error::invalid_request(operation_id, format!("cannot build the request: {e}"))
            })?;
        if !self.filters.is_empty() || page.limit.is_some() || page.cursor.is_some() {
            // One pass over the query string: filters first, then `limit` and `cursor`.
            let mut query = request.url_mut().query_pairs_mut();
            for (key, value) in &self.filters {
                query.append_pair(key, value);
            }
            if let Some(limit) = page.limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = &page.cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let response = self.deck.execute_raw(operation_id, request).await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport(operation_id, e))?;
        (self.decode)(operation_id, &body)
    }
}

/// Decodes a page body. The fast path is plain `serde_json`; only a body that fails is decoded a
/// second time, tracking the JSON path, so the error can say where (`data[3].file_size`).
pub(crate) fn decode_page<T: DeserializeOwned>(
    operation_id: &'static str,
    body: &[u8],
) -> Result<Page<T>> {
    serde_json::from_slice(body).or_else(|_| decode_json(operation_id, body))
}
