//! Who gets the API key: the one place that decides whether a request carries `Authorization`.
//!
//! The key goes only to URLs under the configured base URL: same scheme, host and port, and a
//! path equal to or below the base path, compared segment by segment (`/v2` covers `/v2/tasks`,
//! not `/v2evil`). Everything else — pre-signed storage URLs, redirects, a look-alike host — is
//! sent without it. The header value is marked sensitive, so `Debug` of a request never shows it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue};

use crate::config::DEFAULT_BASE_URL;
use crate::error::{Error, REDACTED, Result};

/// A validated base URL: absolute http(s), no query, fragment, credentials or control
/// characters, no trailing slash.
#[derive(Clone, Debug)]
pub(crate) struct BaseUrl {
    text: String,
    url: Url,
}

impl BaseUrl {
    /// Validates `raw`; `source` names the setting in error messages. The URL itself is not
    /// echoed in errors (a misplaced key would otherwise be printed).
    pub(crate) fn parse(raw: &str, source: &str) -> Result<Self> {
        let text = raw.trim().trim_end_matches('/');
        let expected = format!("expected an absolute http(s) URL like {DEFAULT_BASE_URL}");
        if text.chars().any(char::is_control) {
            // The URL parser would silently drop CR, LF and tabs.
            return Err(Error::config(format!(
                "{source} contains control characters; {expected}"
            )));
        }
        let url = Url::parse(text)
            .map_err(|e| Error::config(format!("{source} is not a valid URL ({e}); {expected}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::config(format!(
                "{source} must use http or https and name a host; {expected}"
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(format!(
                "{source} must not contain credentials; the API key is configured separately"
            )));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(format!(
                "{source} must not have a query string or fragment; {expected}"
            )));
        }
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(BaseUrl { text, url })
    }

    /// The base URL without trailing slash, e.g. `https://api.deck.co/v2`.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `url` is under this base URL (see the module documentation).
    pub(crate) fn contains(&self, url: &Url) -> bool {
        if url.scheme() != self.url.scheme()
            || url.host_str() != self.url.host_str()
            || url.port_or_known_default() != self.url.port_or_known_default()
        {
            return false;
        }
        let base = self.url.path().trim_end_matches('/');
        let path = url.path();
        base.is_empty()
            || path == base
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The API key and the base URL it belongs to.
pub(crate) struct KeyBoundary {
    base: BaseUrl,
    /// `Bearer <key>`, marked sensitive.
    auth: HeaderValue,
    redactor: Redactor,
}

impl KeyBoundary {
    pub(crate) fn new(base: BaseUrl, mut auth: HeaderValue) -> Self {
        auth.set_sensitive(true);
        let key = std::str::from_utf8(auth.as_bytes())
            .ok()
            .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).trim())
            .unwrap_or_default();
        let redactor = Redactor(Arc::from(key));
        KeyBoundary {
            base,
            auth,
            redactor,
        }
    }

    /// What removes the key from text a server sent back (see [`Redactor`]).
    pub(crate) fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The base URL the key belongs to.
    pub(crate) fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// Adds the key to `request` when its URL is under the base URL, and removes any
    /// `Authorization` header otherwise. Returns whether the request goes to Deck.
    pub(crate) fn apply(&self, request: &mut reqwest::Request) -> bool {
        let to_deck = self.base.contains(request.url());
        if to_deck {
            request
                .headers_mut()
                .insert(AUTHORIZATION, self.auth.clone());
        } else {
            request.headers_mut().remove(AUTHORIZATION);
        }
        to_deck
    }
}

/// Removes the API key from what a server sends back: a proxy may echo the `Authorization`
/// header into an error message, a validation message, a raw body or a request id header. Every
/// error built from a response is passed through [`Redactor::scrub`] before it leaves the call
/// path (the executor, and the decoding of a successful body), so neither `Display`, `Debug`
/// nor the accessors of an [`Error`] hold the key; traces get [`Redactor::text`].
#[derive(Clone)]
pub(crate) struct Redactor(Arc<str>);

impl Redactor {
    /// `error` with the key replaced by `[redacted]` everywhere it holds text.
    pub(crate) fn scrub(&self, error: Error) -> Error {
        error.scrub(&self.0)
    }

    /// `text` with the key replaced by `[redacted]`.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.0.is_empty() && text.contains(&*self.0) {
            text.replace(&*self.0, REDACTED).into()
        } else {
            text.into()
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn base_url_trims_and_matches_segment_wise() {
        let base = BaseUrl::parse(" https://api.deck.co/v2/ ", "DECK_BASE_URL").unwrap();
        assert_eq!(base.as_str(), "https://api.deck.co/v2");
        assert!(base.contains(&url("https://api.deck.co/v2")));
        assert!(base.contains(&url("https://api.deck.co/v2/tasks?x=1")));
        assert!(base.contains(&url("https://api.deck.co:443/v2/tasks")));
        assert!(!base.contains(&url("https://api.deck.co/v2evil/tasks")));
        assert!(!base.contains(&url("https://api.deck.co/v1/tasks")));
        assert!(!base.contains(&url("http://api.deck.co/v2/tasks")));
        assert!(!base.contains(&url("https://api.deck.co.evil.com/v2/tasks")));
        assert!(!base.contains(&url("https://storage.deck.co/v2/tasks")));
        let root = BaseUrl::parse("http://127.0.0.1:8080", "base URL").unwrap();
        assert!(root.contains(&url("http://127.0.0.1:8080/anything")));
        assert!(!root.contains(&url("http://127.0.0.1:8081/anything")));
    }

    #[test]
    fn base_url_rejections_name_the_setting_not_the_value() {
        for bad in [
            "api.deck.co/v2",
            "ftp://api.deck.co/v2",
            "https://user:sk_live_secret@api.deck.co/v2",
            "https://api.deck.co/v2?key=sk_live_secret",
            "https://api.deck.co/v2#frag",
            "https://api.deck.co/v2\r\nX-Injected: sk_live_secret",
            "https://api.deck\t.co/v2",
        ] {
            let err = BaseUrl::parse(bad, "DECK_BASE_URL").unwrap_err();
            let text = err.to_string();
            assert!(text.contains("DECK_BASE_URL"), "{text}");
            assert!(!text.contains("sk_live_secret"), "{text}");
        }
    }

    #[test]
    fn the_key_goes_to_base_url_requests_only() {
        let base = BaseUrl::parse("https://api.deck.co/v2", "base URL").unwrap();
        let boundary = KeyBoundary::new(base, HeaderValue::from_static("Bearer sk_live_unit"));
        let client = reqwest::Client::new();
        let mut to_deck = client.get("https://api.deck.co/v2/tasks").build().unwrap();
        assert!(boundary.apply(&mut to_deck));
        assert!(to_deck.headers()[AUTHORIZATION].is_sensitive());
        assert!(!format!("{to_deck:?}").contains("sk_live_unit"));
        let mut elsewhere = client
            .get("https://files.example.com/v2/tasks?sig=1")
            .header(AUTHORIZATION, "Bearer smuggled")
            .build()
            .unwrap();
        assert!(!boundary.apply(&mut elsewhere));
        assert!(!elsewhere.headers().contains_key(AUTHORIZATION));
    }
}
