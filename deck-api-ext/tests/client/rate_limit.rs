//! The client-side rate limiter against the fake Deck enforcing Deck's organization limit, in
//! paused time: bursts are spread without a single 429, the rate adapts to a smaller shared
//! budget, a deadline shorter than the permit wait sends nothing, downloads are not limited.
#![cfg(feature = "fake")]

use std::time::Duration;

use deck_api_ext::fake::{FakeDeck, Origin, demo};
use deck_api_ext::prelude::*;
use deck_api_ext::{RateLimit, RetryConfig};
use futures_util::future::join_all;
use tokio::time::Instant;

async fn fake_limited(requests: u32, window: Duration) -> FakeDeck {
    FakeDeck::builder()
        .demo_data()
        .rate_limit(requests, window)
        .start()
        .await
        .unwrap()
}

fn client(fake: &FakeDeck, limit: RateLimit) -> Deck {
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(
            RetryConfig::default()
                .with_max_attempts(6)
                .with_jitter(|| 1.0),
        )
        .rate_limit(limit)
        .build()
        .unwrap()
}

fn statuses(fake: &FakeDeck) -> (usize, usize) {
    let api: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api)
        .collect();
    let limited = api.iter().filter(|r| r.status == Some(429)).count();
    (api.len(), limited)
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_500_calls_is_spread_without_a_single_429() {
    let fake = fake_limited(200, Duration::from_secs(10)).await;
    let deck = client(&fake, RateLimit::default());
    let start = Instant::now();
    let calls = (0..500).map(|_| {
        let deck = deck.clone();
        async move {
            deck.api()
                .get_task_run()
                .run_id(demo::STATEMENTS_RUN)
                .call()
                .await
        }
    });
    let results = join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    let (sent, limited) = statuses(&fake);
    assert_eq!((sent, limited), (500, 0));
    // 196 per 10.2 s window (2 % margin), paced every 52 ms after a burst of 19: the 500th
    // permit is due after 481 spacings, about 25 s.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(24) && elapsed < Duration::from_secs(26),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_smaller_shared_budget_lowers_the_rate_after_a_429() {
    // Another service spends half the budget: this client believes it has 200, Deck allows 100.
    let fake = fake_limited(100, Duration::from_secs(10)).await;
    let deck = client(&fake, RateLimit::default());
    let calls = (0..600).map(|_| {
        let deck = deck.clone();
        async move {
            deck.api()
                .get_task_run()
                .run_id(demo::STATEMENTS_RUN)
                .call()
                .await
        }
    });
    let results = join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "every call ends well");
    let (sent, limited) = statuses(&fake);
    assert_eq!(sent - limited, 600);
    // The first window overshoots (the limiter does not know yet); after that the lowered rate
    // keeps the 429s to a handful.
    assert!(limited < 150, "{limited} of {sent} answered 429");
    let first_window_overshoot = 196 - 100;
    assert!(
        limited <= first_window_overshoot + 30,
        "{limited} answered 429 after the first overshoot"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_permit_wait_sends_nothing() {
    let fake = fake_limited(200, Duration::from_secs(10)).await;
    let deck = client(
        &fake,
        RateLimit::per(1, Duration::from_secs(10)).margin(0.0),
    );
    deck.api()
        .get_task_run()
        .run_id(demo::STATEMENTS_RUN)
        .call()
        .await
        .unwrap();
    let start = Instant::now();
    let err = deck
        .api()
        .get_task_run()
        .run_id(demo::STATEMENTS_RUN)
        .call_with(CallOptions::new().timeout(Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("nothing was sent"), "{err}");
    assert_eq!(start.elapsed(), Duration::ZERO, "it fails at once");
    assert_eq!(statuses(&fake).0, 1);

    // Without a deadline of its own the call waits for the permit: the limiter slows, never
    // fails (the client-wide call deadline does not count the wait).
    let deck = Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .call_timeout(Duration::from_secs(5))
        .rate_limit(RateLimit::per(1, Duration::from_secs(60)).margin(0.0))
        .build()
        .unwrap();
    deck.api()
        .get_task()
        .task_id(demo::TASK)
        .call()
        .await
        .unwrap();
    let start = Instant::now();
    deck.api()
        .get_task()
        .task_id(demo::TASK)
        .call()
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn storage_downloads_are_not_limited() {
    let fake = fake_limited(200, Duration::from_secs(10)).await;
    let deck = client(
        &fake,
        RateLimit::per(1, Duration::from_secs(10)).margin(0.0),
    );
    let items = deck
        .list_storage(demo::STATEMENTS_RUN)
        .limit(5)
        .max_items(5)
        .collect_items(5)
        .await
        .unwrap();
    let start = Instant::now();
    for item in &items {
        deck.download(item)
            .to_writer(&mut Vec::new())
            .await
            .unwrap();
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}
