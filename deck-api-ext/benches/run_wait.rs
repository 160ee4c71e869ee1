//! Run-wait benchmark: awaiting many task runs on one events feed against polling each run, side
//! by side in one run, against the fake Deck's run lifecycle in paused tokio time (so a minute
//! of runs takes well under a second of wall time and the figures are request counts, which do
//! not depend on the machine).
//!
//! 100 runs (one task each, `queued` 1 s, then `running` for a random 0–59 s from a fixed seed)
//! finish at random times over one minute. Each case waits for all of them with the same
//! detection bound, one interval (2 s):
//!
//! * `RunWatch` (events): one `GET /events` round per interval, each finish confirmed by one
//!   `getTaskRun`, a sweep every 30 s (the defaults);
//! * `RunWatch::per_run_polling`: one `getTaskRun` per run per interval (the fallback);
//! * 100 × `wait_for_run` with `poll_interval(2 s, 2 s)`: independent waits, each poll after a
//!   random 1–2 s.
//!
//! Reported: requests by operation, the ratio to per-run polling, the detection latency (from
//! the run's planned finish on the fake's clock to the outcome), and the peak requests in any
//! 10 s (Deck's limit: 200 per 10 s per organization). Targets: the events watch sends at most
//! 1/10 of per-run polling's requests and detects every finish within one interval.
//!
//! `cargo xtask bench --bench run_wait` (= `cargo bench -p deck-api-ext --features fake --bench
//! run_wait`); `--strict` exits 1 on a missed target.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deck_api_ext::api::types::GetTaskRunResponse;
use deck_api_ext::fake::{FakeDeck, Origin, RunPlan, TaskSeed};
use deck_api_ext::prelude::*;
use deck_api_ext::run_wait::RunOutcome;
use deck_api_ext::{RateLimit, RetryConfig};
use futures_util::future::join_all;
use support::args::Args;
use tokio::time::Instant;

mod support;

/// The fake's clock at its start (`clock::BASE_INSTANT`).
const FAKE_BASE: &str = "2025-01-15T09:30:00Z";
const RUNS: usize = 100;
const INTERVAL: Duration = Duration::from_secs(2);
const QUEUED: Duration = Duration::from_secs(1);
const SPREAD_MS: u64 = 59_000;
const SEED: u64 = 0x5eed_2026;
const WINDOW: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Events,
    Polling,
    Waits,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Events => "RunWatch, one events feed (default)",
            Mode::Polling => "RunWatch::per_run_polling (fallback)",
            Mode::Waits => "N × wait_for_run, poll 2 s",
        }
    }
}

struct Outcome {
    runs: usize,
    feed: usize,
    get_run: usize,
    peak_window: usize,
    latencies: Vec<Duration>,
    all_completed: bool,
}

impl Outcome {
    fn requests(&self) -> usize {
        self.feed + self.get_run
    }

    fn max_latency(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }

    fn median_latency(&self) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }
}

fn client(fake: &FakeDeck) -> Deck {
    // No client-side limiter: the cases are compared at the same detection latency, and the
    // limiter would slow per-run polling down (which is the point of the comparison, measured as
    // the peak per 10 s instead).
    Deck::builder()
        .api_key(fake.api_key())
        .base_url(fake.base_url())
        .retry(RetryConfig::default())
        .rate_limit(RateLimit::off())
        .build()
        .expect("client")
}

/// The running time of each run, from a fixed seed.
fn durations(runs: usize) -> Vec<Duration> {
    let mut rng = fastrand::Rng::with_seed(SEED);
    (0..runs)
        .map(|_| Duration::from_millis(rng.u64(0..=SPREAD_MS)))
        .collect()
}

/// `(listEvents, getTaskRun)` requests among `requests`.
fn api_reads(requests: &[deck_api_ext::fake::RecordedRequest]) -> (usize, usize) {
    let api = requests
        .iter()
        .filter(|r| r.origin == Origin::Api && r.method == "GET");
    let (mut feed, mut get_run) = (0, 0);
    for request in api {
        if request.path.ends_with("/events") {
            feed += 1;
        } else if request.path.contains("/task-runs/") {
            get_run += 1;
        }
    }
    (feed, get_run)
}

/// Waits for every run as `mode` does; each outcome with the instant it was known.
async fn wait_all(
    mode: Mode,
    deck: &Deck,
    runs: &[GetTaskRunResponse],
) -> Vec<(Instant, deck_api_ext::Result<RunOutcome>)> {
    match mode {
        Mode::Events | Mode::Polling => {
            let mut watch = deck.watch_runs().interval(INTERVAL).with_runs(runs);
            if mode == Mode::Polling {
                watch = watch.per_run_polling();
            }
            let mut out = Vec::with_capacity(runs.len());
            while let Some(outcome) = watch.next().await {
                out.push((Instant::now(), outcome));
            }
            out
        }
        Mode::Waits => {
            join_all(runs.iter().map(|run| {
                let wait = deck.wait_for_run(&run.id).poll_interval(INTERVAL, INTERVAL);
                async move {
                    let outcome = wait.await;
                    (Instant::now(), outcome)
                }
            }))
            .await
        }
    }
}

async fn run_case(mode: Mode, runs: usize) -> Outcome {
    let fake = FakeDeck::start().await.expect("the fake starts");
    let started = Instant::now();
    let base: DateTime<Utc> = FAKE_BASE.parse().expect("base");
    let running = durations(runs);
    for (i, d) in running.iter().enumerate() {
        fake.add_task(
            TaskSeed::new(format!("task_{i:03}"), format!("Task {i}"))
                .agent_id("agt_bench")
                .run_plan(RunPlan::new().queued_for(QUEUED).running_for(*d)),
        )
        .expect("seed a task");
    }
    let deck = client(&fake);
    let mut started_runs: Vec<GetTaskRunResponse> = Vec::with_capacity(runs);
    for i in 0..runs {
        let run = deck
            .run_task(&format!("task_{i:03}"))
            .call()
            .await
            .expect("runTask");
        started_runs.push(run);
    }
    // When each run finishes on the fake's clock.
    let finish: BTreeMap<String, DateTime<Utc>> = started_runs
        .iter()
        .zip(&running)
        .map(|(run, d)| {
            let at = run.created_at + chrono::TimeDelta::from_std(QUEUED + *d).expect("delta");
            (run.id.clone(), at)
        })
        .collect();
    fake.clear_requests();

    // The request count every second (for the peak per 10 s), beside the wait.
    let mut samples = vec![0usize];
    let sample = async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let (feed, get_run) = api_reads(&fake.requests());
            samples.push(feed + get_run);
        }
    };
    let outcomes = tokio::select! {
        outcomes = wait_all(mode, &deck, &started_runs) => outcomes,
        () = sample => unreachable!("the sampler never ends"),
    };
    let (feed, get_run) = api_reads(&fake.requests());
    samples.push(feed + get_run);

    let mut latencies = Vec::with_capacity(runs);
    let mut all_completed = outcomes.len() == runs;
    for (at, outcome) in outcomes {
        match outcome {
            Ok(outcome) => {
                let seen = base + chrono::TimeDelta::from_std(at - started).expect("delta");
                let planned = finish[outcome.run_id()];
                latencies.push((seen - planned).to_std().unwrap_or(Duration::MAX));
                all_completed &= outcome.is_finished() && outcome.run().status.is_terminal();
            }
            Err(error) => {
                eprintln!("{}: {error}", mode.name());
                all_completed = false;
            }
        }
    }
    let window = WINDOW.as_secs() as usize;
    let peak_window = (0..samples.len())
        .map(|i| samples[i] - samples[i.saturating_sub(window)])
        .max()
        .unwrap_or(0);
    Outcome {
        runs,
        feed,
        get_run,
        peak_window,
        latencies,
        all_completed,
    }
}

fn print_table(rows: &[(Mode, Outcome)]) -> bool {
    let polling = rows
        .iter()
        .find(|(mode, _)| *mode == Mode::Polling)
        .map(|(_, o)| o.requests())
        .unwrap_or(1)
        .max(1);
    println!(
        "## {} runs finishing at random times over one minute (paused time), interval {:?}",
        rows.first().map_or(0, |(_, o)| o.runs),
        INTERVAL
    );
    println!(
        "| case                                   | listEvents | getTaskRun | requests | × polling | peak / 10 s | latency p50 | latency max | target                          |"
    );
    println!(
        "|----------------------------------------|------------|------------|----------|-----------|-------------|-------------|-------------|---------------------------------|"
    );
    let mut met = true;
    for (mode, o) in rows {
        let ratio = o.requests() as f64 / polling as f64;
        let verdict = match mode {
            Mode::Events => {
                let ok = ratio <= 0.10 && o.max_latency() <= INTERVAL && o.all_completed;
                met &= ok;
                format!(
                    "≤ 0.10 and ≤ {:?}: {}",
                    INTERVAL,
                    if ok { "met" } else { "MISSED" }
                )
            }
            _ => {
                met &= o.all_completed;
                if o.all_completed {
                    "baseline".to_owned()
                } else {
                    "INCOMPLETE".to_owned()
                }
            }
        };
        println!(
            "| {:<38} | {:>10} | {:>10} | {:>8} | {:>9.3} | {:>11} | {:>10.2}s | {:>10.2}s | {:<31} |",
            mode.name(),
            o.feed,
            o.get_run,
            o.requests(),
            ratio,
            o.peak_window,
            o.median_latency().as_secs_f64(),
            o.max_latency().as_secs_f64(),
            verdict
        );
    }
    println!();
    met
}

fn main() {
    // `--reps` is accepted (and ignored: request counts in paused time are deterministic),
    // `--strict` exits 1 on a missed target.
    let args = Args::from_env(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let wall = std::time::Instant::now();
    let met = runtime.block_on(async {
        let mut rows = Vec::new();
        for mode in [Mode::Events, Mode::Polling, Mode::Waits] {
            rows.push((mode, run_case(mode, RUNS).await));
        }
        print_table(&rows)
    });
    println!("(wall time {:.2}s)", wall.elapsed().as_secs_f64());
    if args.strict && !met {
        std::process::exit(1);
    }
}
