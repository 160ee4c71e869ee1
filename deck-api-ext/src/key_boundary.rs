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
use crate::error::{Error, Result, redact};

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
        let redactor = Redactor::new(key);
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

/// Removes secrets from what a server sends back: the API key (a proxy may echo the
/// `Authorization` header into an error message, a validation message, a raw body or a request
/// id header) and, for an operation whose bodies hold secrets (`deck_api::sensitive`), the
/// values found there (a server may echo a credential's password in a 400, a malformed session
/// token response is quoted by its decode error). Every error built from a response is passed
/// through [`Redactor::scrub`] before it leaves the call path (the executor, and the decoding of
/// a successful body), so neither `Display`, `Debug` nor the accessors of an [`Error`] hold a
/// secret; traces get [`Redactor::text`].
///
/// A secret is matched as sent and in the two escaped forms servers and serde quote it in (JSON
/// string escapes, Rust `{:?}` escapes), so a password holding a `"` is found in an echoed JSON
/// body too.
#[derive(Clone)]
pub(crate) struct Redactor {
    /// Every form of every secret, longest first; the key's first when it is the longest.
    secrets: Arc<[Box<str>]>,
    /// The body may hold secrets that could not be located (not JSON, or over the caps): an
    /// error built from it keeps no copy of the body.
    hide_body: bool,
}

/// At most this many secret values are collected from one body ([`Redactor::with_body`])...
pub(crate) const MAX_SECRET_VALUES: usize = 256;
/// ...holding at most this many bytes together.
pub(crate) const MAX_SECRET_BYTES: usize = 256 * 1024;

/// The string values found under an operation's sensitive paths in one body.
#[derive(Debug, Default)]
pub(crate) struct BodySecrets {
    values: Vec<String>,
    bytes: usize,
    /// Whether every secret of the body was located: it was JSON and within the caps.
    pub(crate) complete: bool,
}

impl BodySecrets {
    /// The strings under `paths` (see `deck_api::sensitive::SensitivePaths`) in the JSON `body`,
    /// at any depth below each path. A body that is not JSON, or that holds more than
    /// [`MAX_SECRET_VALUES`] values or [`MAX_SECRET_BYTES`] bytes there, is not `complete`.
    pub(crate) fn find(body: &[u8], paths: &[&str]) -> BodySecrets {
        let mut found = BodySecrets {
            complete: true,
            ..BodySecrets::default()
        };
        if paths.is_empty() {
            return found;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            found.complete = false;
            return found;
        };
        for path in paths {
            let segments: Vec<&str> = path.split('.').collect();
            found.under_path(&value, &segments);
        }
        found
    }

    fn under_path(&mut self, value: &serde_json::Value, segments: &[&str]) {
        let Some((first, rest)) = segments.split_first() else {
            self.strings(value);
            return;
        };
        let name = first.trim_end_matches("[]");
        let arrays = (first.len() - name.len()) / 2;
        let mut nodes: Vec<&serde_json::Value> = match (name, value) {
            ("", _) => vec![value],
            ("*", serde_json::Value::Object(map)) => map.values().collect(),
            (name, serde_json::Value::Object(map)) => map.get(name).into_iter().collect(),
            _ => Vec::new(),
        };
        for _ in 0..arrays {
            // An element where an array was declared is searched as it is: more is redacted,
            // never less.
            nodes = nodes
                .into_iter()
                .flat_map(|node| match node {
                    serde_json::Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                })
                .collect();
        }
        for node in nodes {
            self.under_path(node, rest);
        }
    }

    /// Every string at any depth of `value`.
    fn strings(&mut self, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) if !s.is_empty() => {
                if self.values.len() >= MAX_SECRET_VALUES
                    || self.bytes.saturating_add(s.len()) > MAX_SECRET_BYTES
                {
                    self.complete = false;
                    return;
                }
                self.bytes += s.len();
                self.values.push(s.clone());
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| self.strings(v)),
            serde_json::Value::Object(map) => map.values().for_each(|v| self.strings(v)),
            _ => {}
        }
    }
}

impl Redactor {
    fn new(key: &str) -> Self {
        Redactor {
            secrets: Arc::from(forms(key)),
            hide_body: false,
        }
    }

    /// This redactor, also removing the secrets of a body (see [`BodySecrets`]); when they
    /// could not all be located, errors from that body keep no copy of it.
    pub(crate) fn with_body(&self, found: BodySecrets) -> Redactor {
        if found.values.is_empty() && found.complete {
            return self.clone();
        }
        let mut secrets: Vec<Box<str>> = self.secrets.iter().cloned().collect();
        for value in &found.values {
            secrets.extend(forms(value));
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Redactor {
            secrets: secrets.into(),
            hide_body: self.hide_body || !found.complete,
        }
    }

    /// `error` with every secret replaced by `[redacted]` everywhere it holds text.
    pub(crate) fn scrub(&self, error: Error) -> Error {
        error.scrub(&self.secrets, self.hide_body)
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        redact(text, &self.secrets)
    }
}

/// `secret` as sent, JSON-escaped and `{:?}`-escaped (without the quotes), distinct and
/// non-empty.
fn forms(secret: &str) -> Vec<Box<str>> {
    let mut out: Vec<Box<str>> = Vec::new();
    if secret.is_empty() {
        return out;
    }
    let json = serde_json::to_string(secret).unwrap_or_default();
    let debug = format!("{secret:?}");
    for form in [
        secret,
        json.get(1..json.len().saturating_sub(1)).unwrap_or(""),
        debug.get(1..debug.len().saturating_sub(1)).unwrap_or(""),
    ] {
        if !form.is_empty() && !out.iter().any(|f| &**f == form) {
            out.push(form.into());
        }
    }
    out
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
    fn body_secrets_follow_paths_arrays_maps_and_every_string_below() {
        let body = br#"{
            "auth": {"user": "ann", "password": "pw-1", "n": 5, "nested": [{"pin": "p-2"}]},
            "data": [{"hook": {"secret": "s-1"}}, {"hook": {"secret": "s-2"}}, {"hook": null}],
            "maps": {"a": {"secret": "m-1"}, "b": {"secret": "m-2"}},
            "one": {"secret": "not-an-array"},
            "other": "visible"
        }"#;
        let found = BodySecrets::find(
            body,
            &[
                "auth",
                "data[].hook.secret",
                "maps.*.secret",
                "one[].secret",
                "absent.x",
            ],
        );
        assert!(found.complete);
        assert_eq!(
            found.values,
            [
                "ann",
                "pw-1",
                "p-2",
                "s-1",
                "s-2",
                "m-1",
                "m-2",
                "not-an-array"
            ]
        );
        let whole = BodySecrets::find(br#"{"a": ["x", {"b": "y"}]}"#, &[""]);
        assert_eq!(whole.values, ["x", "y"]);
        assert!(BodySecrets::find(b"", &[]).complete);
        assert!(!BodySecrets::find(b"{\"token\": \"cut", &["token"]).complete);
    }

    #[test]
    fn body_secrets_are_capped() {
        let many: Vec<String> = (0..=MAX_SECRET_VALUES).map(|i| format!("v{i}")).collect();
        let body = serde_json::to_vec(&serde_json::json!({ "s": many })).unwrap();
        let found = BodySecrets::find(&body, &["s"]);
        assert!(!found.complete);
        assert_eq!(found.values.len(), MAX_SECRET_VALUES);
        let big = "x".repeat(MAX_SECRET_BYTES + 1);
        let body = serde_json::to_vec(&serde_json::json!({ "s": [big] })).unwrap();
        let found = BodySecrets::find(&body, &["s"]);
        assert!(!found.complete && found.values.is_empty());
    }

    #[test]
    fn a_redactor_finds_secrets_as_sent_and_as_escaped() {
        let base = BaseUrl::parse("https://api.deck.co/v2", "base URL").unwrap();
        let boundary = KeyBoundary::new(base, HeaderValue::from_static("Bearer sk_live_unit"));
        let body = br#"{"auth": {"password": "pa\"ss\\word-1"}}"#;
        let redactor = boundary
            .redactor()
            .with_body(BodySecrets::find(body, &["auth"]));
        for text in [
            r#"raw pa"ss\word-1 here"#,
            r#"json "pa\"ss\\word-1" here"#,
            "key sk_live_unit here",
        ] {
            let clean = redactor.text(text);
            assert!(
                clean.contains("[redacted]") && !clean.contains("word-1"),
                "{clean}"
            );
            assert!(!clean.contains("sk_live"), "{clean}");
        }
        assert_eq!(redactor.text("nothing"), "nothing");
        assert!(!redactor.hide_body);
        let unsearchable = redactor.with_body(BodySecrets::find(b"not json", &["auth"]));
        assert!(unsearchable.hide_body);
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
