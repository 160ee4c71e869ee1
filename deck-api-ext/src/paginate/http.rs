//! Fetching a page of a generated list operation: its built request (path, filters and every
//! other parameter of the builder) with this page's `limit` and `cursor`.

use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::page::{Page, PageRequest};
use super::stream::Fetch;
use crate::call::{CallOptions, send_request};
use crate::error::{Error, Keys, Result};

/// The query parameter names and page-size bounds of a list operation (from the spec).
#[derive(Debug, Clone, Copy)]
pub struct ListParams {
    /// The page-size parameter (`limit`).
    pub limit: &'static str,
    /// The cursor parameter (`cursor`).
    pub cursor: &'static str,
    /// The bounds of the page size, when the spec gives them.
    pub limit_range: Option<(i64, i64)>,
}

/// A generated list operation's request, without `limit` and `cursor`.
pub(crate) struct RequestList<T> {
    pub(crate) api: deck_api::Client,
    pub(crate) request: reqwest::Request,
    pub(crate) params: ListParams,
    /// Decodes a response body (`decode_json_with::<Page<T>>`); monomorphised where
    /// `T: DeserializeOwned` is known, so the paginator itself needs no such bound (pages can
    /// also come from a closure).
    pub(crate) decode: fn(&str, &[u8], Keys) -> Result<Page<T>>,
    /// Which repeated keys make a page ambiguous to `T`.
    pub(crate) keys: Keys,
}

impl<T> Clone for RequestList<T> {
    fn clone(&self) -> Self {
        RequestList {
            api: self.api.clone(),
            request: self
                .request
                .try_clone()
                .expect("a list request has no streaming body"),
            params: self.params,
            decode: self.decode,
            keys: self.keys,
        }
    }
}

/// Removes every `name=…` pair from `url`'s query, returning the last value removed.
pub(crate) fn take_query(url: &mut reqwest::Url, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if !pairs.iter().any(|(k, _)| k == name) {
        return None;
    }
    let mut taken = None;
    let kept: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, v)| {
            if k == name {
                taken = Some(v.clone());
                false
            } else {
                true
            }
        })
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    taken
}

impl<T: Send + 'static> RequestList<T> {
    /// The fetcher for `operation_id`, shared by the stream and its prefetch task.
    pub(crate) fn into_fetch(self: Box<Self>, operation_id: &'static str) -> Fetch<T> {
        let list: Arc<Self> = Arc::from(self);
        Arc::new(
            move |request: PageRequest| -> BoxFuture<'static, Result<Page<T>>> {
                let list = Arc::clone(&list);
                Box::pin(async move { list.fetch(operation_id, request).await })
            },
        )
    }

    async fn fetch(&self, operation_id: &'static str, page: PageRequest) -> Result<Page<T>> {
        let mut request = self.request.try_clone().ok_or_else(|| {
            Error::invalid_request(operation_id, "the list request has a streaming body")
        })?;
        if page.limit.is_some() || page.cursor.is_some() {
            let mut query = request.url_mut().query_pairs_mut();
            if let Some(limit) = page.limit {
                query.append_pair(self.params.limit, &limit.to_string());
            }
            if let Some(cursor) = &page.cursor {
                query.append_pair(self.params.cursor, cursor);
            }
        }
        let reply = send_request(&self.api, operation_id, request, &CallOptions::new()).await?;
        (self.decode)(operation_id, &reply.body, self.keys).map_err(|e| reply.scrub(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_query_removes_every_pair_of_a_name() {
        let mut url =
            reqwest::Url::parse("http://x/v2/l?status=a&limit=5&status=b&cursor=c1").unwrap();
        assert_eq!(take_query(&mut url, "limit").as_deref(), Some("5"));
        assert_eq!(take_query(&mut url, "cursor").as_deref(), Some("c1"));
        assert_eq!(url.query(), Some("status=a&status=b"));
        assert_eq!(take_query(&mut url, "limit"), None);
        let mut only = reqwest::Url::parse("http://x/v2/l?limit=5").unwrap();
        take_query(&mut only, "limit");
        assert_eq!(only.as_str(), "http://x/v2/l");
    }
}
