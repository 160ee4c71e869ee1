//! `cargo xtask bench [--bench NAME]... [--list] [-- ARGS]`: runs the benchmarks of `deck-api-ext`.
//!
//! Every `[[bench]]` target of `deck-api-ext` (found with `cargo metadata`, so a new benchmark
//! needs no change here) is run as `cargo bench -p deck-api-ext --features fake --bench NAME`,
//! one after the other, with output passed through. Each benchmark starts the fake Deck server
//! itself and prints its own table against its baseline. The exit code is the first failing
//! benchmark's (or 2 when the benchmarks cannot be listed or run).

use std::path::Path;
use std::process::{Command, ExitCode};

use serde_json::Value;

/// The package whose benchmarks are run.
const PACKAGE: &str = "deck-api-ext";

/// The features every benchmark needs (the in-process fake server).
const FEATURES: &str = "fake";

pub const USAGE: &str = "usage: cargo xtask bench [--bench NAME]... [--list] [-- ARGS]

  bench             run every benchmark of deck-api-ext (release build, fake server in-process)
  --bench NAME      run only this benchmark (repeatable)
  --list            print the benchmark names and exit
  -- ARGS           pass ARGS to each benchmark binary (e.g. `-- --reps 5`)";

/// What `cargo xtask bench` was asked to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Benchmarks to run; empty means all.
    pub only: Vec<String>,
    /// Only list the benchmarks.
    pub list: bool,
    /// Arguments for each benchmark binary.
    pub passthrough: Vec<String>,
}

/// Parses the arguments after `bench`.
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--bench" => match it.next() {
                Some(name) => parsed.only.push(name.clone()),
                None => return Err(format!("--bench needs a value\n{USAGE}")),
            },
            "--list" => parsed.list = true,
            "--" => {
                parsed.passthrough = it.cloned().collect();
                break;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(parsed)
}

/// The bench target names of `package` in `cargo metadata --no-deps` output, sorted.
pub fn bench_targets(metadata: &Value, package: &str) -> Result<Vec<String>, String> {
    let packages = metadata
        .get("packages")
        .and_then(Value::as_array)
        .ok_or("cargo metadata: no `packages` array")?;
    let found = packages
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(package))
        .ok_or_else(|| format!("cargo metadata: no package {package:?}"))?;
    let targets = found
        .get("targets")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("cargo metadata: package {package:?} has no `targets` array"))?;
    let mut names: Vec<String> = targets
        .iter()
        .filter(|t| {
            t.get("kind")
                .and_then(Value::as_array)
                .is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some("bench")))
        })
        .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// The benchmarks to run: all of `available`, or the requested ones (each must exist).
pub fn select(available: &[String], only: &[String]) -> Result<Vec<String>, String> {
    if only.is_empty() {
        return Ok(available.to_vec());
    }
    only.iter()
        .map(|name| {
            if available.contains(name) {
                Ok(name.clone())
            } else {
                Err(format!(
                    "no benchmark {name:?} in {PACKAGE} (available: {})",
                    available.join(", ")
                ))
            }
        })
        .collect()
}

/// The `cargo` that runs the xtask (`$CARGO`), else `cargo` from `PATH`.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn list_targets(root: &Path) -> Result<Vec<String>, String> {
    let output = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata printed invalid JSON: {e}"))?;
    bench_targets(&metadata, PACKAGE)
}

/// Runs `cargo xtask bench` from the workspace `root`.
pub fn main(root: &Path, args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let selected = match list_targets(root).and_then(|all| select(&all, &args.only)) {
        Ok(selected) => selected,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for name in &selected {
            println!("{name}");
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        eprintln!("error: {PACKAGE} has no [[bench]] targets");
        return ExitCode::from(2);
    }
    let mut failed: Option<(String, u8)> = None;
    for name in &selected {
        eprintln!("==> cargo bench -p {PACKAGE} --features {FEATURES} --bench {name}");
        let mut command = cargo();
        command.current_dir(root).args([
            "bench",
            "-p",
            PACKAGE,
            "--features",
            FEATURES,
            "--bench",
            name,
        ]);
        if !args.passthrough.is_empty() {
            command.arg("--").args(&args.passthrough);
        }
        let code = match command.status() {
            Ok(status) if status.success() => continue,
            // A signal has no code; report it as a plain failure.
            Ok(status) => status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|&c| c != 0)
                .unwrap_or(1),
            Err(e) => {
                eprintln!("error: cannot run cargo bench: {e}");
                2
            }
        };
        eprintln!("error: benchmark {name} failed (exit code {code})");
        failed.get_or_insert((name.clone(), code));
    }
    match failed {
        None => ExitCode::SUCCESS,
        Some((_, code)) => ExitCode::from(code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_selection_list_and_passthrough() {
        let args = parse_args(&strings(&[
            "--bench", "a", "--list", "--bench", "b", "--", "--reps", "3",
        ]))
        .unwrap();
        assert_eq!(
            args,
            Args {
                only: strings(&["a", "b"]),
                list: true,
                passthrough: strings(&["--reps", "3"]),
            }
        );
        assert_eq!(parse_args(&[]).unwrap(), Args::default());
    }

    #[test]
    fn rejects_bad_arguments_with_usage() {
        assert!(
            parse_args(&strings(&["--bench"]))
                .unwrap_err()
                .contains("--bench needs a value")
        );
        let err = parse_args(&strings(&["--fast"])).unwrap_err();
        assert!(
            err.contains("unknown argument \"--fast\"") && err.contains("usage:"),
            "{err}"
        );
    }

    #[test]
    fn finds_bench_targets_of_the_package_only() {
        let metadata = serde_json::json!({"packages": [
            {"name": "other", "targets": [{"name": "x", "kind": ["bench"]}]},
            {"name": PACKAGE, "targets": [
                {"name": "deck_api_ext", "kind": ["lib"]},
                {"name": "pagination", "kind": ["bench"]},
                {"name": "paginate_happy", "kind": ["test"]},
                {"name": "downloads", "kind": ["bench"]}
            ]}
        ]});
        assert_eq!(
            bench_targets(&metadata, PACKAGE).unwrap(),
            strings(&["downloads", "pagination"])
        );
        assert!(
            bench_targets(&metadata, "missing")
                .unwrap_err()
                .contains("no package")
        );
        assert!(bench_targets(&serde_json::json!({}), PACKAGE).is_err());
    }

    #[test]
    fn selection_must_name_existing_benchmarks() {
        let all = strings(&["downloads", "pagination"]);
        assert_eq!(select(&all, &[]).unwrap(), all);
        assert_eq!(
            select(&all, &strings(&["pagination"])).unwrap(),
            strings(&["pagination"])
        );
        let err = select(&all, &strings(&["nope"])).unwrap_err();
        assert!(
            err.contains("\"nope\"") && err.contains("downloads, pagination"),
            "{err}"
        );
    }
}
