//! Client setup: the environment (through a lookup function, so no test mutates the process
//! environment), builder validation, defaults.

use std::collections::HashMap;

use deck_api_ext::config::{DEFAULT_BASE_URL, DeckBuilder};
use deck_api_ext::{Deck, ErrorKind, RetryConfig};

const KEY: &str = "sk_live_CONFIGKEY_1234";

fn env(pairs: &[(&str, &str)]) -> impl FnMut(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn a_missing_key_names_deck_api_key() {
    let err = DeckBuilder::from_env_with(env(&[])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("DECK_API_KEY is not set"), "{err}");
}

#[test]
fn an_empty_or_blank_key_names_deck_api_key() {
    for blank in ["", "   ", "\n"] {
        let err = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", blank)]))
            .and_then(DeckBuilder::build)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("DECK_API_KEY is empty"), "{err}");
    }
}

#[test]
fn a_key_with_inner_whitespace_is_rejected_without_echoing_it() {
    let err = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", "sk_live_a b")]))
        .and_then(DeckBuilder::build)
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("DECK_API_KEY contains whitespace"), "{text}");
    assert!(!text.contains("sk_live_a"), "{text}");
}

#[test]
fn a_non_ascii_key_is_rejected() {
    let err = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", "sk_live_caf\u{e9}")]))
        .and_then(DeckBuilder::build)
        .unwrap_err();
    assert!(
        err.to_string().contains("DECK_API_KEY contains non-ASCII"),
        "{err}"
    );
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let deck = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", &format!("{KEY}\n"))]))
        .and_then(DeckBuilder::build);
    assert!(deck.is_ok());
}

#[test]
fn the_builder_without_a_key_points_at_deck_api_key() {
    let err = Deck::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("DECK_API_KEY"), "{err}");
}

#[test]
fn the_base_url_defaults_and_comes_from_deck_base_url() {
    let deck = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", KEY)]))
        .and_then(DeckBuilder::build)
        .unwrap();
    assert_eq!(deck.base_url(), DEFAULT_BASE_URL);

    let deck = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", KEY), ("DECK_BASE_URL", "")]))
        .and_then(DeckBuilder::build)
        .unwrap();
    assert_eq!(deck.base_url(), DEFAULT_BASE_URL);

    let deck = DeckBuilder::from_env_with(env(&[
        ("DECK_API_KEY", KEY),
        ("DECK_BASE_URL", "http://127.0.0.1:8080/v2/"),
    ]))
    .and_then(DeckBuilder::build)
    .unwrap();
    assert_eq!(deck.base_url(), "http://127.0.0.1:8080/v2");
}

#[test]
fn a_bad_deck_base_url_is_named() {
    let err = DeckBuilder::from_env_with(env(&[
        ("DECK_API_KEY", KEY),
        ("DECK_BASE_URL", "api.deck.co/v2"),
    ]))
    .and_then(DeckBuilder::build)
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .starts_with("DECK_BASE_URL is not a valid URL"),
        "{err}"
    );

    let err = Deck::builder()
        .api_key(KEY)
        .base_url("ftp://files.example.com")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("base URL must use http or https"),
        "{err}"
    );
}

#[test]
fn settings_after_from_env_override_it() {
    let deck = DeckBuilder::from_env_with(env(&[("DECK_API_KEY", KEY)]))
        .unwrap()
        .base_url("http://localhost:9999")
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    assert_eq!(deck.base_url(), "http://localhost:9999");
    assert_eq!(deck.retry_config().max_attempts(), 1);
}

#[test]
fn an_invalid_user_agent_suffix_is_rejected() {
    let err = Deck::builder()
        .api_key(KEY)
        .user_agent_suffix("app\r\nx-evil: 1")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("user_agent_suffix"), "{err}");
}

#[test]
fn debug_output_is_redacted() {
    let builder = Deck::builder().api_key(KEY);
    let deck = builder.clone().build().unwrap();
    for text in [
        format!("{builder:?}"),
        format!("{deck:?}"),
        format!("{deck:#?}"),
    ] {
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
    insta::assert_snapshot!(format!("{deck:#?}"));
}

#[test]
fn deck_is_a_cheap_shareable_handle() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<Deck>();
    let deck = Deck::builder().api_key(KEY).build().unwrap();
    let copy = deck.clone();
    assert!(std::ptr::eq(deck.api(), copy.api()));
}

#[test]
fn retry_config_defaults() {
    let retry = RetryConfig::default();
    assert_eq!(retry.max_attempts(), 4);
    assert_eq!(
        retry.initial_backoff(),
        std::time::Duration::from_millis(500)
    );
    assert_eq!(retry.max_backoff(), std::time::Duration::from_secs(20));
    assert_eq!(retry.max_total_delay(), std::time::Duration::from_secs(60));
    assert!(retry.auto_idempotency_keys());
    assert!(!RetryConfig::disabled().is_enabled());
    assert_eq!(
        RetryConfig::default().with_max_attempts(0).max_attempts(),
        1
    );
}
