//! Pagination benchmark: `.paginate()` on the generated list operation against a minimal hand-written reqwest + serde_json
//! loop, over the fake Deck server, in the same run.
//!
//! Run with `cargo xtask bench` (or `cargo bench -p deck-api-ext --features fake --bench
//! pagination -- [--reps N] [--section N]... [--strict]`). Three sections:
//!
//! 1. 20,000 storage items in 200 pages of 100, consumed as fast as possible: client CPU time
//!    and wall time against the raw loop (targets ≤ 1.10× CPU, ≤ 1.05× wall).
//! 2. The same listing with a consumer that spends ~1 ms per page (an async wait, as writing
//!    each page somewhere would): prefetch on must beat the sequential raw loop.
//! 3. Peak client heap while streaming 20,000 and 200,000 items: it must not grow with the
//!    number of items.
//!
//! The client runs on this thread (a current-thread tokio runtime); the server runs on its own
//! thread, so CPU time is the client's alone.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use deck_api_ext::RetryConfig;
use deck_api_ext::api::types::ListStorageItemResponse;
use deck_api_ext::fake::{Content, ItemSeed, RunSeed};
use deck_api_ext::prelude::*;
use futures_util::TryStreamExt;
use serde::Deserialize;
use support::alloc::{self, Counting};
use support::args::Args;
use support::measure::{Case, run_interleaved};
use support::server::FakeServer;
use support::table::{Row, Target, render};

#[global_allocator]
static ALLOC: Counting = Counting;

/// The listing timed in tables 1 and 2.
const RUN: &str = "trun_bench";
const ITEMS: u64 = 20_000;
/// The long listing of table 3.
const BIG_RUN: &str = "trun_benchbig";
const BIG_ITEMS: u64 = 200_000;
const PAGE_SIZE: u32 = 100;
/// What the consumer of table 2 spends on each page.
const WORK_PER_PAGE: Duration = Duration::from_millis(1);

fn seed(run_id: &str, items: u64) -> RunSeed {
    RunSeed::new(run_id).items((0..items).map(|i| {
        ItemSeed::new(
            format!("invoice-{i:06}.pdf"),
            "application/pdf",
            Content::generated(2048 + i % 4096, i),
        )
        .id(format!("stor_{run_id}_{i:06}"))
    }))
}

/// The page shape the raw loop decodes: the minimal equivalent of `Page<T>`.
#[derive(Deserialize)]
struct RawPage {
    data: Vec<ListStorageItemResponse>,
    has_more: bool,
    next_cursor: Option<String>,
}

/// The baseline: the loop a user would write by hand with reqwest and serde_json.
#[derive(Clone)]
struct RawLoop {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    /// A total timeout per request, as the client sets by default.
    timeout: Option<Duration>,
}

impl RawLoop {
    /// The minimal loop: a default reqwest client, no timeouts.
    fn minimal(base_url: &str, api_key: &str) -> RawLoop {
        RawLoop {
            http: reqwest::Client::new(),
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            timeout: None,
        }
    }

    /// The same loop with the HTTP settings `Deck` uses by default (connect, read and total
    /// timeouts), to tell their cost from the paginator's.
    fn with_client_timeouts(base_url: &str, api_key: &str) -> RawLoop {
        RawLoop {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            timeout: Some(Duration::from_secs(60)),
        }
    }
}

impl RawLoop {
    /// Lists every item of `run_id`, waiting `work_per_page` after each page; returns the
    /// number of items.
    async fn run(self, run_id: &str, work_per_page: Option<Duration>) -> u64 {
        let url = format!("{}/task-runs/{run_id}/storage", self.base_url);
        let mut cursor: Option<String> = None;
        let mut count = 0;
        loop {
            let mut request = self
                .http
                .get(&url)
                .bearer_auth(&self.api_key)
                .query(&[("limit", PAGE_SIZE)]);
            if let Some(cursor) = &cursor {
                request = request.query(&[("cursor", cursor)]);
            }
            if let Some(timeout) = self.timeout {
                request = request.timeout(timeout);
            }
            let body = request
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .expect("raw request")
                .bytes()
                .await
                .expect("raw body");
            let page: RawPage = serde_json::from_slice(&body).expect("raw decode");
            for item in page.data {
                black_box(&item);
                count += 1;
            }
            if let Some(work) = work_per_page {
                tokio::time::sleep(work).await;
            }
            if !page.has_more {
                return count;
            }
            cursor = page.next_cursor;
        }
    }
}

/// Consumes `paginate().items()`, waiting `work_per_page` after each page's last item.
async fn sdk_items(deck: Deck, run_id: &str, prefetch: bool, work: Option<Duration>) -> u64 {
    let mut items = deck
        .api()
        .list_task_run_storage()
        .run_id(run_id)
        .limit(PAGE_SIZE)
        .paginate()
        .prefetch(prefetch)
        .items();
    let mut count = 0u64;
    while let Some(item) = items.try_next().await.expect("sdk items") {
        black_box(&item);
        count += 1;
        if let Some(work) = work
            && count.is_multiple_of(u64::from(PAGE_SIZE))
        {
            tokio::time::sleep(work).await;
        }
    }
    count
}

async fn sdk_pages(deck: Deck) -> u64 {
    let mut pages = deck
        .api()
        .list_task_run_storage()
        .run_id(RUN)
        .limit(PAGE_SIZE)
        .paginate()
        .prefetch(false)
        .pages();
    let mut count = 0u64;
    while let Some(page) = pages.try_next().await.expect("sdk pages") {
        for item in page.data {
            black_box(&item);
            count += 1;
        }
    }
    count
}

/// A hand loop of `.cursor(c).call()` on the generated operation (the generated envelope, no
/// paginator).
async fn call_loop(deck: Deck) -> u64 {
    let mut count = 0u64;
    let mut cursor: Option<String> = None;
    loop {
        let mut op = deck
            .api()
            .list_task_run_storage()
            .run_id(RUN)
            .limit(PAGE_SIZE);
        if let Some(c) = cursor.take() {
            op = op.cursor(c);
        }
        let page = op.call().await.expect("call loop");
        for item in page.data {
            black_box(&item);
            count += 1;
        }
        match page.next_cursor {
            Some(c) if page.has_more => cursor = Some(c),
            _ => return count,
        }
    }
}

fn rows(
    cases: &[Case],
    samples: Vec<Vec<support::measure::Sample>>,
    targets: &[Option<Target>],
) -> Vec<Row> {
    cases
        .iter()
        .zip(samples)
        .zip(targets)
        .map(|((case, samples), target)| Row {
            name: case.name.clone(),
            samples,
            target: *target,
        })
        .collect()
}

/// Peak client heap (bytes above the level at the start) while `run` executes.
fn peak_heap(
    runtime: &tokio::runtime::Runtime,
    run: impl std::future::Future<Output = u64>,
    expected: u64,
) -> isize {
    let start = alloc::reset_peak();
    let n = runtime.block_on(run);
    assert_eq!(
        n, expected,
        "memory run consumed {n} items, expected {expected}"
    );
    alloc::peak() - start
}

fn main() {
    let args = Args::from_env(21);
    let started = Instant::now();
    let server = FakeServer::start(vec![seed(RUN, ITEMS), seed(BIG_RUN, BIG_ITEMS)]);
    eprintln!(
        "fake Deck server at {} seeded with {ITEMS} + {BIG_ITEMS} items in {:.1} s",
        server.base_url,
        started.elapsed().as_secs_f64()
    );
    alloc::track_this_thread();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let deck = Deck::builder()
        .api_key(server.api_key.clone())
        .base_url(server.base_url.clone())
        .retry(RetryConfig::default())
        // The limiter is off: it would pace 20,000 requests to Deck's 200 per 10 s; this
        // benchmark measures the client's own cost against the raw loop.
        .rate_limit(deck_api_ext::RateLimit::off())
        .build()
        .expect("client");
    let raw = RawLoop::minimal(&server.base_url, &server.api_key);
    let raw_timeouts = RawLoop::with_client_timeouts(&server.base_url, &server.api_key);
    let mut all_met = true;
    let mut print = |title: &str, rows: &[Row]| {
        let (text, met) = render(title, rows);
        println!("{text}");
        all_met &= met;
    };

    // 1. Throughput.
    let started = Instant::now();
    if args.section(1) {
        let cases = {
            let (r, rt) = (raw.clone(), raw_timeouts.clone());
            let (d0, d1, d2, d4) = (deck.clone(), deck.clone(), deck.clone(), deck.clone());
            vec![
                Case::new("raw reqwest + serde_json loop", move || {
                    r.clone().run(RUN, None)
                }),
                Case::new("raw loop + Deck's default timeouts", move || {
                    rt.clone().run(RUN, None)
                }),
                Case::new("paginate().items() (default)", move || {
                    sdk_items(d1.clone(), RUN, false, None)
                }),
                Case::new("paginate().pages() (default)", move || {
                    sdk_pages(d2.clone())
                }),
                Case::new("paginate().prefetch(true).items()", move || {
                    sdk_items(d0.clone(), RUN, true, None)
                }),
                Case::new("call() per page, hand loop", move || call_loop(d4.clone())),
            ]
        };
        let samples = run_interleaved(&runtime, &cases, args.reps, ITEMS);
        let at_most = Some(Target::AtMost {
            wall: 1.05,
            cpu: 1.10,
        });
        print(
            &format!(
                "## 1. {ITEMS} items in {} pages of {PAGE_SIZE}: client time (rate limiter off), median of {} interleaved runs",
                ITEMS / u64::from(PAGE_SIZE),
                args.reps
            ),
            &rows(&cases, samples, &[None, None, at_most, at_most, None, None]),
        );
        eprintln!("section 1 took {:.1} s", started.elapsed().as_secs_f64());
    }

    // 2. A consumer that spends ~1 ms per page.
    let started = Instant::now();
    if args.section(2) {
        let cases = {
            let (r, d1, d2) = (raw.clone(), deck.clone(), deck.clone());
            vec![
                Case::new("raw loop, consumer 1 ms/page", move || {
                    r.clone().run(RUN, Some(WORK_PER_PAGE))
                }),
                Case::new("items() prefetch on, consumer 1 ms/page", move || {
                    sdk_items(d1.clone(), RUN, true, Some(WORK_PER_PAGE))
                }),
                Case::new("items() prefetch off, consumer 1 ms/page", move || {
                    sdk_items(d2.clone(), RUN, false, Some(WORK_PER_PAGE))
                }),
            ]
        };
        let reps = args.reps.div_ceil(3).max(3);
        let samples = run_interleaved(&runtime, &cases, reps, ITEMS);
        print(
            &format!(
                "## 2. The same listing, consumer waiting {WORK_PER_PAGE:?} per page: median of {reps} interleaved runs"
            ),
            &rows(&cases, samples, &[None, Some(Target::FasterWall), None]),
        );
        eprintln!("section 2 took {:.1} s", started.elapsed().as_secs_f64());
    }

    // 3. Memory: peak client heap for 20k and 200k items.
    let started = Instant::now();
    if args.section(3) {
        // Warm both clients up (connection, pool, first-use allocations), so the peaks below
        // measure the listing alone whichever sections ran before.
        runtime.block_on(sdk_items(deck.clone(), RUN, false, None));
        runtime.block_on(raw.clone().run(RUN, None));
        let small = peak_heap(&runtime, sdk_items(deck.clone(), RUN, false, None), ITEMS);
        let big = peak_heap(
            &runtime,
            sdk_items(deck.clone(), BIG_RUN, false, None),
            BIG_ITEMS,
        );
        let small_pf = peak_heap(&runtime, sdk_items(deck.clone(), RUN, true, None), ITEMS);
        let big_pf = peak_heap(
            &runtime,
            sdk_items(deck.clone(), BIG_RUN, true, None),
            BIG_ITEMS,
        );
        let raw_small = peak_heap(&runtime, raw.clone().run(RUN, None), ITEMS);
        let raw_big = peak_heap(&runtime, raw.clone().run(BIG_RUN, None), BIG_ITEMS);
        let growth = big as f64 / small as f64;
        let growth_pf = big_pf as f64 / small_pf as f64;
        let flat = growth <= 1.10 && growth_pf <= 1.10;
        all_met &= flat;
        let kib = |b: isize| b as f64 / 1024.0;
        println!(
            "## 3. Peak client heap while streaming (bytes above the level before the listing)"
        );
        println!(
            "| {:<36} | {:>13} | {:>13} | {:>7} | {:<20} |",
            "case", "20,000 items", "200,000 items", "growth", "target"
        );
        println!(
            "|{:-<38}|{:->15}|{:->15}|{:->9}|{:-<22}|",
            "", "", "", "", ""
        );
        let verdict = |g: f64| format!("≤1.10: {}", if g <= 1.10 { "met" } else { "MISSED" });
        println!(
            "| {:<36} | {:>9.1} KiB | {:>9.1} KiB | {:>7.3} | {:<20} |",
            "paginate().prefetch(false).items()",
            kib(small),
            kib(big),
            growth,
            verdict(growth)
        );
        println!(
            "| {:<36} | {:>9.1} KiB | {:>9.1} KiB | {:>7.3} | {:<20} |",
            "paginate().prefetch(true).items()",
            kib(small_pf),
            kib(big_pf),
            growth_pf,
            verdict(growth_pf)
        );
        println!(
            "| {:<36} | {:>9.1} KiB | {:>9.1} KiB | {:>7.3} | {:<20} |",
            "raw loop (reference)",
            kib(raw_small),
            kib(raw_big),
            raw_big as f64 / raw_small as f64,
            ""
        );
        println!();
        eprintln!("section 3 took {:.1} s", started.elapsed().as_secs_f64());
    }

    drop(deck);
    drop(raw);
    drop(raw_timeouts);
    drop(server);
    if all_met {
        println!("all targets met");
    } else {
        println!("some targets MISSED");
        if args.strict {
            std::process::exit(1);
        }
    }
}
