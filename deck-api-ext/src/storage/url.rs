//! [`PresignedUrl`]: a storage item's download URL, whose signature never reaches a log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A pre-signed download URL for a storage item.
///
/// The URL is a bearer credential: anyone holding it can download the file until it expires, and
/// its signature lives in the query string. So `Debug` shows only the scheme, host and path
/// (`https://storage.deck.co/stor_x1y2z3?<redacted>`), and there is no `Display`; read the full
/// URL deliberately with [`PresignedUrl::expose`].
///
/// URLs are time-limited. An expired one makes the storage host answer 403; the download
/// functions of this crate then fetch the item again (`GET /storage/{id}`) for a fresh URL, once.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PresignedUrl(String);

impl PresignedUrl {
    /// Wraps a URL string as received from Deck.
    pub fn new(url: impl Into<String>) -> Self {
        PresignedUrl(url.into())
    }

    /// The full URL, signature included. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL without its query string and fragment: safe to show or log.
    pub fn redacted(&self) -> String {
        match self.0.find(['?', '#']) {
            Some(at) => format!("{}?<redacted>", &self.0[..at]),
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PresignedUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl From<String> for PresignedUrl {
    fn from(url: String) -> Self {
        PresignedUrl(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_signature() {
        let url = PresignedUrl::new(
            "https://storage.deck.co/stor_x1y2z3?X-Amz-Signature=deadbeef&X-Amz-Expires=900",
        );
        let debug = format!("{url:?}");
        assert_eq!(
            debug,
            r#"PresignedUrl("https://storage.deck.co/stor_x1y2z3?<redacted>")"#
        );
        assert!(!debug.contains("deadbeef"));
        assert!(url.expose().contains("deadbeef"));
    }

    #[test]
    fn fragments_are_redacted_and_plain_urls_kept() {
        assert_eq!(
            PresignedUrl::new("https://h/p#sig=1").redacted(),
            "https://h/p?<redacted>"
        );
        assert_eq!(PresignedUrl::new("https://h/p").redacted(), "https://h/p");
    }

    #[test]
    fn serializes_as_the_plain_string() {
        let url = PresignedUrl::new("https://h/p?sig=1");
        assert_eq!(
            serde_json::to_string(&url).unwrap(),
            r#""https://h/p?sig=1""#
        );
        let back: PresignedUrl = serde_json::from_str(r#""https://h/p?sig=1""#).unwrap();
        assert_eq!(back, url);
    }
}
