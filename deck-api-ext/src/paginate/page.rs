//! One page of a Deck list response, and what the paginator asks for the next one.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};

/// One page of a Deck list response: `{"data": [...], "has_more", "next_cursor", "request_id"}`.
///
/// Decoding ignores unknown fields. When a response omits `has_more`, the page is taken to have
/// more results exactly when `next_cursor` is a non-empty string (the loop Deck's own
/// documentation shows), so a missing flag neither ends a listing early nor loops.
///
/// Only a JSON object decodes: serde's derived deserialisers would also take an array as the
/// fields in order (`[[...], true, "c"]`), and an empty array used to pass for an empty page.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page, in the order Deck returned them.
    pub data: Vec<T>,
    /// Whether Deck has more results after this page.
    pub has_more: bool,
    /// The cursor for the next page; `None` (or empty) on the last page.
    pub next_cursor: Option<String>,
    /// Deck's identifier of the request that returned this page, if it sent one.
    pub request_id: Option<String>,
}

impl<T> Page<T> {
    /// A page holding `data`; `has_more` and `next_cursor` say whether and where the listing goes
    /// on. For [`Paginator::from_fn`](super::Paginator::from_fn) fetchers that build pages by hand.
    pub fn new(data: Vec<T>, has_more: bool, next_cursor: Option<String>) -> Self {
        Page {
            data,
            has_more,
            next_cursor,
            request_id: None,
        }
    }

    /// This page with Deck's `request_id` set.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// This page with every item converted by `f`; the cursor fields are kept.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
            next_cursor: self.next_cursor,
            request_id: self.request_id,
        }
    }

    /// The cursor for the next page: `next_cursor` unless it is empty.
    pub fn cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref().filter(|c| !c.is_empty())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PageVisitor(PhantomData))
    }
}

/// Accepts a map only, then lets the derived `RawPage` read its fields.
struct PageVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list response: a JSON object with a `data` array")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Page<T>, A::Error> {
        RawPage::deserialize(MapAccessDeserializer::new(map)).map(Page::from)
    }
}

/// The wire shape: `data` is required (a body without it is a decode error naming the operation,
/// never an empty last page); `has_more` may be missing (see [`Page`]).
#[derive(Deserialize)]
struct RawPage<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: Option<bool>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

impl<T> From<RawPage<T>> for Page<T> {
    fn from(raw: RawPage<T>) -> Self {
        Page::from_parts(raw.data, raw.has_more, raw.next_cursor, raw.request_id)
    }
}

impl<T> Page<T> {
    /// A page from the fields of a wire response; see the type docs for a missing `has_more`.
    fn from_parts(
        data: Vec<T>,
        has_more: Option<bool>,
        next_cursor: Option<String>,
        request_id: Option<String>,
    ) -> Self {
        let has_more =
            has_more.unwrap_or_else(|| next_cursor.as_deref().is_some_and(|c| !c.is_empty()));
        Page {
            data,
            has_more,
            next_cursor,
            request_id,
        }
    }
}

/// What the paginator asks a fetcher for: one page after `cursor`, of at most `limit` items.
///
/// [`Paginator::from_fn`](super::Paginator::from_fn) fetchers receive one per page and must pass
/// both on (a fetcher that ignores `limit` still works, but `max_items` then has to truncate).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageRequest {
    /// The cursor of the page to fetch; `None` for the first page.
    pub cursor: Option<String>,
    /// The page size to ask for (1–100); `None` leaves Deck's default (20).
    pub limit: Option<u32>,
}

impl PageRequest {
    /// A request for the page after `cursor`, of at most `limit` items.
    pub fn new(cursor: Option<String>, limit: Option<u32>) -> Self {
        PageRequest { cursor, limit }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        id: String,
    }

    #[test]
    fn decodes_the_envelope_and_ignores_unknown_fields() {
        let body = br#"{"object":"list","data":[{"id":"a","new":1}],"has_more":true,
            "next_cursor":"c1","request_id":"req_1","total":9}"#;
        let page: Page<Item> = serde_json::from_slice(body).unwrap();
        assert_eq!(page.data, vec![Item { id: "a".into() }]);
        assert!(page.has_more);
        assert_eq!(page.cursor(), Some("c1"));
        assert_eq!(page.request_id.as_deref(), Some("req_1"));
    }

    #[test]
    fn missing_has_more_follows_the_cursor() {
        let more: Page<Item> = serde_json::from_slice(br#"{"data":[],"next_cursor":"c"}"#).unwrap();
        assert!(more.has_more);
        let last: Page<Item> = serde_json::from_slice(br#"{"data":[],"next_cursor":""}"#).unwrap();
        assert!(!last.has_more);
        assert_eq!(last.cursor(), None);
    }

    #[test]
    fn a_body_without_data_is_not_an_empty_page() {
        for body in [
            &br#"{}"#[..],
            br#"[]"#,
            br#"{"has_more":false}"#,
            br#"{"data":null}"#,
            br#"[[], false, null]"#,
            br#"[[{"id":"a"}], true, "c"]"#,
        ] {
            assert!(serde_json::from_slice::<Page<Item>>(body).is_err());
        }
    }

    #[test]
    fn explicit_has_more_wins() {
        let page: Page<Item> =
            serde_json::from_slice(br#"{"data":[],"has_more":false,"next_cursor":"c"}"#).unwrap();
        assert!(!page.has_more);
    }

    #[test]
    fn map_keeps_the_cursor_fields() {
        let page = Page::new(vec![1, 2], true, Some("c".into())).with_request_id("r");
        let mapped = page.map(|n| n * 10);
        assert_eq!(mapped.data, vec![10, 20]);
        assert_eq!(mapped.cursor(), Some("c"));
        assert_eq!(mapped.request_id.as_deref(), Some("r"));
    }
}
