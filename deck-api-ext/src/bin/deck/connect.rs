//! The client `deck` talks to: the Deck API configured from the environment, or, on a machine
//! without an account, the built-in fake Deck server with the demo data.
//!
//! | `DECK_API_KEY` | base URL (`--base-url`, else `DECK_BASE_URL`) | Talks to |
//! |---|---|---|
//! | set | unset | `https://api.deck.co/v2` |
//! | set | set | that URL |
//! | unset | unset | the fake demo server, announced in one line on stderr |
//! | unset | set | nothing: a configuration error (exit 2) |
//! | set but empty | any | nothing: a configuration error (exit 2) |
//!
//! A base URL without a key is an error rather than a reason to start the demo server: it
//! names a particular server, and answering with demo data instead would mislead. An empty key
//! is an error too, so that `DECK_API_KEY="$SECRET" deck ...` with a missing secret fails
//! instead of quietly pulling demo files.

use std::ffi::OsString;
use std::io::Write;

use deck_api_ext::config::{API_KEY_ENV, BASE_URL_ENV};
use deck_api_ext::fake::{FakeDeck, RunSeed, demo};
use deck_api_ext::{Deck, DeckBuilder, RateLimit};

use crate::failure::Failure;

/// Identifies the program in the `User-Agent` after the SDK's own product.
/// The environment variable with the client-side rate limit (`200/10s`, `off`).
pub const RATE_LIMIT_ENV: &str = "DECK_RATE_LIMIT";

const USER_AGENT_SUFFIX: &str = concat!("deck-cli/", env!("CARGO_PKG_VERSION"));

/// A client, and the demo server it talks to when there is one (kept alive with the session).
pub struct Session {
    /// The client for every command.
    pub deck: Deck,
    /// The built-in fake Deck server, in demo mode.
    demo: Option<FakeDeck>,
}

impl Session {
    /// Whether the client talks to the built-in demo server.
    pub fn is_demo(&self) -> bool {
        self.demo.is_some()
    }
}

/// Connects using the process environment; the demo notice goes to stderr.
pub async fn connect(base_url_flag: Option<&str>) -> Result<Session, Failure> {
    connect_with(
        base_url_flag,
        |name| std::env::var_os(name),
        &mut std::io::stderr(),
    )
    .await
}

/// [`connect`] with the environment read through `lookup` and the notice written to `notice`.
pub async fn connect_with(
    base_url_flag: Option<&str>,
    lookup: impl Fn(&str) -> Option<OsString>,
    notice: &mut impl Write,
) -> Result<Session, Failure> {
    let text = |name: &str| -> Result<Option<String>, Failure> {
        lookup(name)
            .map(|value| {
                value
                    .into_string()
                    .map_err(|_| Failure::Config(format!("{name} is not valid UTF-8")))
            })
            .transpose()
    };
    let rate_limit = match text(RATE_LIMIT_ENV)?.filter(|v| !v.trim().is_empty()) {
        Some(value) => RateLimit::parse(&value)
            .map_err(|e| Failure::Config(format!("{RATE_LIMIT_ENV}: {e}")))?,
        None => RateLimit::default(),
    };
    let key = text(API_KEY_ENV)?;
    let env_base = text(BASE_URL_ENV)?.filter(|url| !url.trim().is_empty());

    let Some(key) = key else {
        let source = match (base_url_flag, &env_base) {
            (Some(_), _) => Some("--base-url"),
            (None, Some(_)) => Some(BASE_URL_ENV),
            (None, None) => None,
        };
        if let Some(source) = source {
            return Err(Failure::Config(format!(
                "{source} is set but {API_KEY_ENV} is not: export {API_KEY_ENV} with your key \
                 for that server (the built-in demo server starts only when neither is set)"
            )));
        }
        return start_demo(notice).await;
    };

    crate::failure::hide_in_reports(&key);
    let mut builder = DeckBuilder::from_env_with(|name| match name {
        API_KEY_ENV => Some(key.clone()),
        BASE_URL_ENV => env_base.clone(),
        _ => None,
    })?;
    if let Some(url) = base_url_flag {
        builder = builder.base_url(url);
    }
    let deck = builder
        .user_agent_suffix(USER_AGENT_SUFFIX)
        .rate_limit(rate_limit)
        .build()
        .map_err(|error| name_the_flag(error, base_url_flag.is_some()))?;
    Ok(Session { deck, demo: None })
}

/// The builder calls a base URL given in code "base URL"; here it came from `--base-url`, so
/// a complaint about it says that.
fn name_the_flag(error: deck_api_ext::Error, from_flag: bool) -> Failure {
    let message = error.to_string();
    match message.strip_prefix("base URL ") {
        Some(rest) if from_flag => Failure::Config(format!("--base-url {rest}")),
        _ => Failure::Deck(error),
    }
}

/// Starts the fake Deck server with the demo data and a finished run of the demo task with
/// its events (so `deck events list` has history to show), and announces it in one line.
async fn start_demo(notice: &mut impl Write) -> Result<Session, Failure> {
    let fake = FakeDeck::demo().await.map_err(|e| {
        Failure::Startup(format!("cannot start the built-in fake Deck server: {e}"))
    })?;
    let history = demo::add_history(&fake);
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .user_agent_suffix(USER_AGENT_SUFFIX)
        .build()?;
    // A notice that cannot be written (stderr closed) does not stop the command.
    let _ = writeln!(notice, "deck: {}", demo_notice(history.as_deref()));
    Ok(Session {
        deck,
        demo: Some(fake),
    })
}

/// The one line that says demo data is being used, which runs it has (`history` first: the
/// run with events) and which task can be run.
pub fn demo_notice(history: Option<&str>) -> String {
    let runs: Vec<String> = history
        .map(str::to_owned)
        .into_iter()
        .chain(
            demo::runs()
                .iter()
                .map(|run| RunSeed::run_id(run).to_owned()),
        )
        .collect();
    format!(
        "{API_KEY_ENV} is not set; using the built-in fake Deck server with demo data \
         (run ids: {}; task to run: {})",
        runs.join(", "),
        demo::STATEMENTS_TASK
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    async fn connect_to(
        flag: Option<&str>,
        pairs: &'static [(&'static str, &'static str)],
    ) -> (Result<Session, Failure>, String) {
        let mut notice = Vec::new();
        let result = connect_with(flag, env(pairs), &mut notice).await;
        (result, String::from_utf8(notice).unwrap())
    }

    #[tokio::test]
    async fn a_bad_rate_limit_is_named() {
        let (result, _) = connect_to(
            None,
            &[(API_KEY_ENV, "sk_test_x"), (RATE_LIMIT_ENV, "fast")],
        )
        .await;
        let Err(Failure::Config(message)) = result else {
            panic!("expected a configuration failure");
        };
        assert!(
            message.starts_with("DECK_RATE_LIMIT: expected `off`"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_key_selects_the_api_and_the_flag_beats_the_environment() {
        let (session, notice) = connect_to(None, &[(API_KEY_ENV, "sk_live_x")]).await;
        assert_eq!(session.unwrap().deck.base_url(), "https://api.deck.co/v2");
        assert_eq!(notice, "");
        let pairs = &[
            (API_KEY_ENV, "sk_live_x"),
            (BASE_URL_ENV, "http://127.0.0.1:9/env"),
        ];
        let (session, _) = connect_to(None, pairs).await;
        assert_eq!(session.unwrap().deck.base_url(), "http://127.0.0.1:9/env");
        let (session, _) = connect_to(Some("http://127.0.0.1:9/flag/"), pairs).await;
        assert_eq!(session.unwrap().deck.base_url(), "http://127.0.0.1:9/flag");
    }

    #[tokio::test]
    async fn no_key_and_no_base_url_starts_the_demo_server_and_says_so() {
        let (session, notice) = connect_to(None, &[(BASE_URL_ENV, " ")]).await;
        let session = session.unwrap();
        assert!(session.deck.base_url().starts_with("http://127.0.0.1:"));
        assert_eq!(
            notice,
            format!("deck: {}\n", demo_notice(Some("trun_000001")))
        );
        assert!(notice.contains(demo::STATEMENTS_RUN), "{notice}");
    }

    #[tokio::test]
    async fn a_base_url_without_a_key_is_a_configuration_error() {
        let (result, notice) = connect_to(None, &[(BASE_URL_ENV, "http://127.0.0.1:9")]).await;
        let failure = result.err().unwrap();
        assert_eq!(failure.exit_code(), crate::failure::USAGE);
        assert!(
            failure
                .message()
                .unwrap()
                .starts_with("DECK_BASE_URL is set but DECK_API_KEY is not")
        );
        assert_eq!(notice, "");
        let (result, _) = connect_to(Some("http://127.0.0.1:9"), &[]).await;
        assert!(
            result
                .err()
                .unwrap()
                .message()
                .unwrap()
                .starts_with("--base-url is set")
        );
    }

    #[tokio::test]
    async fn an_empty_key_or_a_bad_base_url_is_a_configuration_error() {
        let (result, _) = connect_to(None, &[(API_KEY_ENV, "")]).await;
        let failure = result.err().unwrap();
        assert_eq!(failure.exit_code(), crate::failure::USAGE);
        assert!(failure.message().unwrap().contains("DECK_API_KEY"));
        let pairs = &[(API_KEY_ENV, "sk_live_secret"), (BASE_URL_ENV, "ftp://x")];
        let (result, _) = connect_to(None, pairs).await;
        let message = result.err().unwrap().message().unwrap();
        assert!(message.starts_with("DECK_BASE_URL"), "{message}");
        assert!(!message.contains("sk_live_secret"), "{message}");
        let (result, _) = connect_to(Some("api.deck.co/v2"), pairs).await;
        let failure = result.err().unwrap();
        assert_eq!(failure.exit_code(), crate::failure::USAGE);
        let message = failure.message().unwrap();
        assert!(
            message.starts_with("--base-url is not a valid URL"),
            "{message}"
        );
    }
}
