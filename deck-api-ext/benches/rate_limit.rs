//! Rate-limit benchmark: the client-side limiter against today's retry-only client, side by side
//! in one run, against the fake Deck enforcing Deck's organization limit (200 requests per
//! window) with the window scaled down from 10 s to `WINDOW`, the same ratio.
//!
//! 1. One process, 16 concurrent listings of 300 pages each (limit=1).
//! 2. Four "processes" sharing the organization: four independent clients (each with its own
//!    limiter, each believing it has the whole budget), each listing 300 pages.
//!
//! For each: useful requests per window as a fraction of the limit (pages delivered / elapsed
//! windows / 200), and the share of all requests answered 429.
//!
//! `cargo xtask bench --bench rate_limit` (= `cargo bench -p deck-api-ext --features fake --bench
//! rate_limit`); `--section N` runs one section, `--strict` exits 1 on a missed target.

mod support;

use std::time::{Duration, Instant};

use deck_api_ext::fake::{Content, FakeDeck, ItemSeed, Origin, RunSeed};
use deck_api_ext::{Deck, ListExt, RateLimit, RetryConfig};
use futures_util::future::join_all;
use support::args::Args;

const BUDGET: u32 = 200;
const WINDOW: Duration = Duration::from_millis(500);
const PAGES: usize = 300;
const RUN: &str = "trun_rate";

#[derive(Clone, Copy)]
enum Mode {
    Limiter,
    RetryOnly,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Limiter => "limiter (default, scaled to the window)",
            Mode::RetryOnly => "retry-only (limiter off, today's client)",
        }
    }
}

fn client(fake: &FakeDeck, mode: Mode) -> Deck {
    let limit = match mode {
        Mode::Limiter => RateLimit::per(BUDGET, WINDOW),
        Mode::RetryOnly => RateLimit::off(),
    };
    // Generous retries so every listing ends: the measure is what it costs.
    let retry = RetryConfig::default()
        .with_max_attempts(100_000)
        .with_initial_backoff(WINDOW / 20)
        .with_max_backoff(WINDOW * 2)
        .with_max_total_delay(Duration::from_secs(600));
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(retry)
        .rate_limit(limit)
        .no_call_timeout()
        .build()
        .expect("client")
}

async fn list_all(deck: Deck) -> usize {
    deck.api()
        .list_task_run_storage()
        .run_id(RUN)
        .limit(1)
        .paginate()
        .try_collect_all()
        .await
        .expect("the listing ends")
        .len()
}

struct Outcome {
    pages: usize,
    requests: usize,
    rejected: usize,
    elapsed: Duration,
}

impl Outcome {
    fn utilisation(&self) -> f64 {
        let windows = self.elapsed.as_secs_f64() / WINDOW.as_secs_f64();
        self.pages as f64 / windows / f64::from(BUDGET)
    }

    fn rejected_share(&self) -> f64 {
        self.rejected as f64 / self.requests.max(1) as f64
    }
}

async fn run_case(fake: &FakeDeck, mode: Mode, clients: usize, listings_each: usize) -> Outcome {
    fake.clear_requests();
    // A quiet window first, so each case starts with the organization's budget unspent.
    tokio::time::sleep(WINDOW * 2).await;
    let started = Instant::now();
    let mut jobs = Vec::new();
    for _ in 0..clients {
        let deck = client(fake, mode);
        for _ in 0..listings_each {
            jobs.push(tokio::spawn(list_all(deck.clone())));
        }
    }
    let pages: usize = join_all(jobs)
        .await
        .into_iter()
        .map(|r| r.expect("listing task"))
        .sum();
    let elapsed = started.elapsed();
    let api: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.origin == Origin::Api)
        .collect();
    Outcome {
        pages,
        requests: api.len(),
        rejected: api.iter().filter(|r| r.status == Some(429)).count(),
        elapsed,
    }
}

fn print_table(title: &str, rows: &[(Mode, Outcome)], target: Option<(f64, f64)>) -> bool {
    println!("## {title}");
    println!(
        "| client                                   | pages | requests | 429s  | 429 share | elapsed s | useful / limit | target                     |"
    );
    println!(
        "|------------------------------------------|-------|----------|-------|-----------|-----------|----------------|----------------------------|"
    );
    let mut met = true;
    for (mode, o) in rows {
        let verdict = match (mode, target) {
            (Mode::Limiter, Some((util, share))) => {
                let ok = o.utilisation() >= util && o.rejected_share() <= share;
                met &= ok;
                format!(
                    "≥{util:.2} with ≤{:.0}%: {}",
                    share * 100.0,
                    if ok { "met" } else { "MISSED" }
                )
            }
            _ => String::new(),
        };
        println!(
            "| {:<40} | {:>5} | {:>8} | {:>5} | {:>8.1}% | {:>9.2} | {:>14.3} | {:<26} |",
            mode.name(),
            o.pages,
            o.requests,
            o.rejected,
            o.rejected_share() * 100.0,
            o.elapsed.as_secs_f64(),
            o.utilisation(),
            verdict
        );
    }
    println!();
    met
}

fn main() {
    let args = Args::from_env(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let all_met = runtime.block_on(async {
        let fake = FakeDeck::builder()
            .rate_limit(BUDGET, WINDOW)
            .start()
            .await
            .expect("the fake starts");
        fake.add_run(RunSeed::new(RUN).items(
            (0..PAGES).map(|i| ItemSeed::new(format!("f{i}.txt"), "text/plain", Content::bytes("x"))),
        ))
        .expect("seed");
        println!(
            "fake Deck enforcing {BUDGET} requests per {WINDOW:?} (Deck: 200 per 10 s); {PAGES} pages per listing\n"
        );
        let mut met = true;
        if args.section(1) {
            let mut rows = Vec::new();
            for mode in [Mode::Limiter, Mode::RetryOnly] {
                rows.push((mode, run_case(&fake, mode, 1, 16).await));
            }
            met &= print_table(
                "1. One process, 16 concurrent listings",
                &rows,
                Some((0.90, 0.02)),
            );
        }
        if args.section(2) {
            let mut rows = Vec::new();
            for mode in [Mode::Limiter, Mode::RetryOnly] {
                rows.push((mode, run_case(&fake, mode, 4, 1).await));
            }
            met &= print_table(
                "2. Four clients sharing the organization, one listing each",
                &rows,
                Some((0.80, 0.05)),
            );
        }
        met
    });
    println!(
        "{}",
        if all_met {
            "all targets met"
        } else {
            "some targets MISSED"
        }
    );
    if args.strict && !all_met {
        std::process::exit(1);
    }
}
