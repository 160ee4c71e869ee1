//! Storage benchmarks: one large download against `curl`, and bulk-pull concurrency, over the
//! fake Deck server, in the same run.
//!
//! Run with `cargo xtask bench --bench storage` (or `cargo bench -p deck-api-ext --features fake
//! --bench storage -- [--reps N] [--section N]... [--strict]`). Three sections:
//!
//! 1. **Throughput**: a 1 GiB generated file from the fake's storage origin, streamed by
//!    `Deck::download(..).to_writer(sink)` against `curl -s -o /dev/null` on the same URL (a
//!    subprocess, same server, interleaved). Target: ≥ 0.90× curl's throughput. A `to_path` row
//!    (temporary file, fsync, rename) is shown for information.
//! 2. **Memory**: peak RSS (`VmHWM`) of a fresh process that does nothing but download the
//!    1 GiB file, to a sink and to a file. Target: < 64 MiB. The bench re-runs itself as that
//!    child process (`DECK_BENCH_STORAGE_CHILD`), so the server and the harness are not counted.
//! 3. **Pull concurrency**: `Deck::pull_run` of 200 files of 1 MiB from a server that adds 50 ms
//!    to every request (API and storage), with the default concurrency against concurrency 1.
//!    Target: ≥ 4× faster.
//!
//! Each server runs on its own thread with its own runtime; the client runs on this thread (a
//! current-thread tokio runtime).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use deck_api_ext::fake::{Content, ItemSeed, RunSeed};
use deck_api_ext::storage::DEFAULT_CONCURRENCY;
use deck_api_ext::{Deck, RetryConfig};
use support::args::Args;
use support::measure::{Case, Sample, median, run_interleaved};
use support::server::FakeServer;

const GIB: u64 = 1 << 30;
const BIG_RUN: &str = "trun_bench_big";
const BIG_ID: &str = "stor_bench_big";
const PULL_RUN: &str = "trun_bench_pull";
const PULL_FILES: u64 = 200;
const PULL_FILE_SIZE: u64 = 1 << 20;
const LATENCY: Duration = Duration::from_millis(50);
const RSS_LIMIT_MIB: f64 = 64.0;
/// Set (to `sink` or a file path) when this binary runs as the memory-measuring child.
const CHILD_ENV: &str = "DECK_BENCH_STORAGE_CHILD";

fn main() {
    if let Ok(target) = std::env::var(CHILD_ENV) {
        child(&target);
        return;
    }
    let args = Args::from_env(3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let scratch = tempfile::tempdir().expect("a scratch directory");

    let mut all_met = true;
    if args.section(1) || args.section(2) {
        let big = FakeServer::start_with_latency(
            vec![
                RunSeed::new(BIG_RUN).item(
                    ItemSeed::new(
                        "big.bin",
                        "application/octet-stream",
                        Content::generated(GIB, 42),
                    )
                    .id(BIG_ID),
                ),
            ],
            None,
        );
        if args.section(1) {
            all_met &= throughput(&runtime, &big, &args, &scratch.path().join("big.bin"));
        }
        if args.section(2) {
            all_met &= memory(&big, &scratch.path().join("child.bin"));
        }
    }
    if args.section(3) {
        let slow = FakeServer::start_with_latency(
            vec![RunSeed::new(PULL_RUN).items((0..PULL_FILES).map(|i| {
                ItemSeed::new(
                    format!("statement-{i:03}.pdf"),
                    "application/pdf",
                    Content::generated(PULL_FILE_SIZE, i),
                )
            }))],
            Some(LATENCY),
        );
        all_met &= pull(&runtime, &slow, &args, scratch.path());
    }

    if args.strict && !all_met {
        std::process::exit(1);
    }
}

/// Table 1: download throughput against curl.
fn throughput(
    runtime: &tokio::runtime::Runtime,
    server: &FakeServer,
    args: &Args,
    file: &PathBuf,
) -> bool {
    let deck = deck(server);
    let item = runtime
        .block_on(deck.get_storage_item(BIG_ID))
        .expect("the big item");
    let url = item
        .url
        .clone()
        .expect("a download URL")
        .expose()
        .to_owned();
    let curl = curl_version();

    let mut cases = Vec::new();
    if curl.is_some() {
        let url = url.clone();
        cases.push(Case::new("curl -s -o /dev/null (baseline)", move || {
            let url = url.clone();
            async move { curl_download(&url) }
        }));
    }
    {
        let (deck, item) = (deck.clone(), item.clone());
        cases.push(Case::new(
            "deck.download(item).to_writer(sink)",
            move || {
                let (deck, item) = (deck.clone(), item.clone());
                async move {
                    deck.download(&item)
                        .to_writer(&mut tokio::io::sink())
                        .await
                        .expect("download to a sink")
                        .bytes
                }
            },
        ));
    }
    {
        let (deck, item, file) = (deck.clone(), item.clone(), file.clone());
        cases.push(Case::new("deck.download(item).to_path(file)", move || {
            let (deck, item, file) = (deck.clone(), item.clone(), file.clone());
            async move {
                deck.download(&item)
                    .to_path(&file)
                    .await
                    .expect("download to a file")
                    .bytes
            }
        }));
    }
    let samples = run_interleaved(runtime, &cases, args.reps, GIB);
    let _ = std::fs::remove_file(file);

    println!(
        "\nStorage download: 1 GiB from the fake storage origin, median of {} runs",
        args.reps
    );
    println!(
        "| {:<40} | {:>9} | {:>9} | {:>7} | {:<22} |",
        "case", "wall ms", "MiB/s", "× curl", "target"
    );
    println!(
        "|{:-<42}|{:->11}|{:->11}|{:->9}|{:-<24}|",
        "", "", "", "", ""
    );
    let mib_per_s = |s: &[Sample]| {
        let wall = median(&s.iter().map(|s| s.wall).collect::<Vec<_>>());
        (wall, GIB as f64 / (1 << 20) as f64 / wall.as_secs_f64())
    };
    let baseline = curl.as_ref().map(|_| mib_per_s(&samples[0]).1);
    let mut met = true;
    for (case, samples) in cases.iter().zip(&samples) {
        let (wall, rate) = mib_per_s(samples);
        let ratio = baseline.map(|b| rate / b);
        let verdict = match (case.name.as_str(), ratio) {
            (name, _) if name.starts_with("curl") => "baseline".to_owned(),
            (name, Some(r)) if name.ends_with("to_writer(sink)") => {
                let ok = r >= 0.90;
                met &= ok;
                format!("≥0.90× curl: {}", if ok { "met" } else { "MISSED" })
            }
            _ => String::new(),
        };
        println!(
            "| {:<40} | {:>9.1} | {:>9.1} | {:>7} | {:<22} |",
            case.name,
            wall.as_secs_f64() * 1e3,
            rate,
            ratio.map_or("n/a".to_owned(), |r| format!("{r:.3}")),
            verdict
        );
    }
    match curl {
        Some(version) => println!("(baseline: {version})"),
        None => println!("(curl not found on PATH: no baseline, the ≥0.90× target is not checked)"),
    }
    met
}

/// `curl --version`'s first line, or `None` when curl cannot be run.
fn curl_version() -> Option<String> {
    let output = Command::new("curl").arg("--version").output().ok()?;
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// Downloads `url` with curl to /dev/null; returns the bytes curl reports.
fn curl_download(url: &str) -> u64 {
    let output = Command::new("curl")
        .args(["-s", "-f", "-o", "/dev/null", "-w", "%{size_download}", url])
        .output()
        .expect("run curl");
    assert!(output.status.success(), "curl failed: {:?}", output.status);
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("curl's size_download")
}

/// Table 2: peak RSS of a process downloading the 1 GiB file.
fn memory(server: &FakeServer, file: &PathBuf) -> bool {
    println!("\nStorage download memory: peak RSS (VmHWM) of a process downloading 1 GiB");
    println!(
        "| {:<40} | {:>10} | {:>9} | {:<22} |",
        "case", "bytes", "peak MiB", "target"
    );
    println!("|{:-<42}|{:->12}|{:->11}|{:-<24}|", "", "", "", "");
    let mut met = true;
    for (name, target) in [
        ("to_writer(sink)", "sink".to_owned()),
        ("to_path(file)", file.display().to_string()),
    ] {
        let exe = std::env::current_exe().expect("the bench binary's path");
        let output = Command::new(exe)
            .env(CHILD_ENV, &target)
            .env("DECK_API_KEY", &server.api_key)
            .env("DECK_BASE_URL", &server.base_url)
            .output()
            .expect("run the child download");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child download failed: {}\n{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
        let field = |key: &str| -> u64 {
            stdout
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("the child printed no {key}: {stdout}"))
        };
        let (bytes, peak_mib) = (field("bytes"), field("vmhwm_kib") as f64 / 1024.0);
        assert_eq!(bytes, GIB, "the child downloaded {bytes} bytes");
        let ok = peak_mib < RSS_LIMIT_MIB;
        met &= ok;
        println!(
            "| {:<40} | {:>10} | {:>9.1} | {:<22} |",
            name,
            bytes,
            peak_mib,
            format!(
                "<{RSS_LIMIT_MIB:.0} MiB: {}",
                if ok { "met" } else { "MISSED" }
            )
        );
    }
    let _ = std::fs::remove_file(file);
    met
}

/// The child process of table 2: downloads the big item to `target` (`sink` or a path) and
/// prints `bytes=N vmhwm_kib=N`.
fn child(target: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("child runtime");
    let bytes = runtime.block_on(async {
        let deck = Deck::from_env().expect("DECK_API_KEY and DECK_BASE_URL from the parent");
        let item = deck.get_storage_item(BIG_ID).await.expect("the big item");
        let download = deck.download(&item);
        let done = if target == "sink" {
            download.to_writer(&mut tokio::io::sink()).await
        } else {
            download.to_path(target).await
        };
        done.expect("the child download").bytes
    });
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let vmhwm = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/self/status");
    println!("bytes={bytes} vmhwm_kib={vmhwm}");
}

/// Table 3: bulk pull with the default concurrency against one file at a time.
fn pull(
    runtime: &tokio::runtime::Runtime,
    server: &FakeServer,
    args: &Args,
    scratch: &std::path::Path,
) -> bool {
    let deck = deck(server);
    let case = |name: String, concurrency: usize| {
        let (deck, scratch) = (deck.clone(), scratch.to_path_buf());
        Case::new(name, move || {
            let (deck, scratch) = (deck.clone(), scratch.clone());
            async move {
                let dir = tempfile::tempdir_in(&scratch).expect("a pull directory");
                let summary = deck
                    .pull_run(PULL_RUN, dir.path())
                    .concurrency(concurrency)
                    .await
                    .expect("the pull");
                assert!(summary.is_complete(), "{summary}");
                summary.downloaded.len() as u64
            }
        })
    };
    let cases = [
        case("pull_run, concurrency 1 (baseline)".to_owned(), 1),
        case(
            format!("pull_run, default concurrency ({DEFAULT_CONCURRENCY})"),
            DEFAULT_CONCURRENCY,
        ),
    ];
    let samples = run_interleaved(runtime, &cases, args.reps, PULL_FILES);
    let walls: Vec<Duration> = samples
        .iter()
        .map(|s| median(&s.iter().map(|s| s.wall).collect::<Vec<_>>()))
        .collect();
    let speedup = walls[0].as_secs_f64() / walls[1].as_secs_f64();
    let met = speedup >= 4.0;
    println!(
        "\nStorage pull: {PULL_FILES} files of 1 MiB, +{} ms per request (API and storage), median of {} runs",
        LATENCY.as_millis(),
        args.reps
    );
    println!(
        "| {:<40} | {:>9} | {:>9} | {:<22} |",
        "case", "wall ms", "speed-up", "target"
    );
    println!("|{:-<42}|{:->11}|{:->11}|{:-<24}|", "", "", "", "");
    println!(
        "| {:<40} | {:>9.1} | {:>9} | {:<22} |",
        cases[0].name,
        walls[0].as_secs_f64() * 1e3,
        "1.00×",
        "baseline"
    );
    println!(
        "| {:<40} | {:>9.1} | {:>8.2}× | {:<22} |",
        cases[1].name,
        walls[1].as_secs_f64() * 1e3,
        speedup,
        format!("≥4× faster: {}", if met { "met" } else { "MISSED" })
    );
    met
}

/// A client for `server`, with a short backoff.
fn deck(server: &FakeServer) -> Deck {
    Deck::builder()
        .api_key(&server.api_key)
        .base_url(&server.base_url)
        .retry(RetryConfig::default().with_initial_backoff(Duration::from_millis(10)))
        .build()
        .expect("a client for the fake")
}
