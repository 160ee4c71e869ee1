//! `cargo xtask build-cost [--jobs N]`: what the generated client costs to compile.
//!
//! Measures, one after the other on the same machine:
//! 1. a clean `cargo build` of a bare crate that depends only on what any Deck client needs —
//!    reqwest (rustls, json, query, stream) + tokio + serde + serde_json, at the versions of this
//!    workspace's `Cargo.lock` — the baseline;
//! 2. a clean `cargo build -p deck-api-ext` (default features), in its own fresh target directory;
//! 3. `deck-api`'s own compile time: after (2), `deck-api/src/lib.rs` is touched and
//!    `cargo build -p deck-api` rebuilds that crate alone.
//!
//! It prints the wall times, the ratio (2)/(1) against the target (≤ 1.6×), and the size of
//! `deck-api/src/generated.rs`. Builds are offline (`--offline`) and use scratch target
//! directories under the system temp directory, removed afterwards.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The budget: deck-api-ext may cost at most this multiple of the bare crate.
const TARGET_RATIO: f64 = 1.6;

pub const USAGE: &str = "usage: cargo xtask build-cost [--jobs N]

  build-cost        clean-build a bare reqwest+tokio+serde crate and deck-api-ext (default
                    features) one after the other, print both wall times and their ratio, then
                    deck-api's own compile time and the generated file's size
  --jobs N          pass -j N to every cargo build (default: cargo's own)";

const BARE_MANIFEST: &str = r#"[package]
name = "bare-client"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
reqwest = { version = "0.13", default-features = false, features = ["json", "query", "stream", "rustls"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tokio = { version = "1", features = ["rt", "macros", "time", "sync", "fs", "io-util"] }
"#;

const BARE_LIB: &str = r#"//! The baseline: a hand-written call with the same stack as deck-api-ext.
#[derive(serde::Deserialize, serde::Serialize, Debug)]
pub struct Item {
    pub id: String,
    pub file_size: i64,
}

pub async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<Item>, reqwest::Error> {
    let body: serde_json::Value = client.get(url).send().await?.json().await?;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {}).await;
    Ok(serde_json::from_value(body["data"].clone()).unwrap_or_default())
}
"#;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd`, returning its wall time; stderr is passed through only on failure.
fn timed(mut cmd: Command, what: &str) -> Result<Duration, String> {
    let started = Instant::now();
    let output = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run cargo: {e}"))?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(elapsed)
}

fn build(dir: &Path, target: &Path, jobs: Option<u32>, package: Option<&str>) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(dir)
        .args(["build", "--offline", "--target-dir"])
        .arg(target);
    if let Some(p) = package {
        cmd.args(["-p", p]);
    }
    if let Some(j) = jobs {
        cmd.args(["-j", &j.to_string()]);
    }
    cmd
}

fn parse_jobs(args: &[String]) -> Result<Option<u32>, String> {
    match args {
        [] => Ok(None),
        [flag, n] if flag == "--jobs" => n
            .parse()
            .map(Some)
            .map_err(|_| format!("--jobs needs a positive number, got {n:?}\n{USAGE}")),
        _ => Err(USAGE.into()),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn measure(root: &Path, scratch: &Path, jobs: Option<u32>) -> Result<(), String> {
    let bare = scratch.join("bare");
    fs::create_dir_all(bare.join("src")).map_err(|e| format!("{}: {e}", bare.display()))?;
    let write = |path: PathBuf, text: &str| {
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(bare.join("Cargo.toml"), BARE_MANIFEST)?;
    write(bare.join("src/lib.rs"), BARE_LIB)?;
    // The workspace's lockfile pins the same versions of the shared dependencies.
    fs::copy(root.join("Cargo.lock"), bare.join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;

    eprintln!("building the bare reqwest+tokio+serde crate (clean)...");
    let baseline = timed(
        build(&bare, &scratch.join("target-bare"), jobs, None),
        "bare crate build",
    )?;
    eprintln!("building deck-api-ext, default features (clean)...");
    let ext_target = scratch.join("target-ext");
    let full = timed(
        build(root, &ext_target, jobs, Some("deck-api-ext")),
        "deck-api-ext build",
    )?;
    // deck-api alone: touch its root so cargo recompiles just that crate.
    let lib = root.join("deck-api/src/lib.rs");
    let file = fs::File::options()
        .append(true)
        .open(&lib)
        .map_err(|e| format!("{}: {e}", lib.display()))?;
    file.set_modified(std::time::SystemTime::now())
        .map_err(|e| format!("{}: {e}", lib.display()))?;
    let own = timed(
        build(root, &ext_target, jobs, Some("deck-api")),
        "deck-api rebuild",
    )?;
    let generated = fs::read_to_string(root.join("deck-api/src/generated.rs"))
        .map_err(|e| format!("deck-api/src/generated.rs: {e}"))?;

    let ratio = full.as_secs_f64() / baseline.as_secs_f64().max(f64::MIN_POSITIVE);
    println!("| build (clean, dev profile) | wall |");
    println!("|---|---|");
    println!(
        "| bare reqwest+tokio+serde+serde_json crate | {} |",
        secs(baseline)
    );
    println!("| deck-api-ext (default features) | {} |", secs(full));
    println!("| deck-api alone (rebuild of the crate) | {} |", secs(own));
    println!();
    println!(
        "ratio deck-api-ext / bare: {ratio:.2}x (target <= {TARGET_RATIO}x: {})",
        if ratio <= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "deck-api/src/generated.rs: {} bytes, {} lines",
        generated.len(),
        generated.lines().count()
    );
    Ok(())
}

/// Runs `cargo xtask build-cost` from the workspace `root`.
pub fn main(root: &Path, args: &[String]) -> ExitCode {
    let jobs = match parse_jobs(args) {
        Ok(jobs) => jobs,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let scratch = std::env::temp_dir().join(format!("deck-build-cost-{}", std::process::id()));
    let result = measure(root, &scratch, jobs);
    let _ = fs::remove_dir_all(&scratch);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_flag_is_parsed_or_refused() {
        assert_eq!(parse_jobs(&[]), Ok(None));
        assert_eq!(parse_jobs(&["--jobs".into(), "2".into()]), Ok(Some(2)));
        assert!(parse_jobs(&["--jobs".into(), "two".into()]).is_err());
        assert!(parse_jobs(&["--fast".into()]).is_err());
    }
}
