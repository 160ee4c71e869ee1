//! `cargo xtask regen [--check] [--spec FILE] [--overlay DIR | --no-overlay] [--out FILE]` and
//! `cargo xtask bench [--bench NAME]... [--list] [-- ARGS]`.
//!
//! regen exit codes: 0 success, 1 `--check` found stale code, 2 bad input (usage, spec,
//! generation). bench exit codes: 0 success, the first failing benchmark's code, 2 bad usage.

mod bench;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xtask::{Paths, RegenError, output};

const USAGE: &str =
    "usage: cargo xtask regen [--check] [--spec FILE] [--overlay DIR | --no-overlay] [--out FILE]

  regen             regenerate deck-api/src/generated.rs from spec/
  --check           do not write; exit 1 with a summary when the committed code is stale
  --spec FILE       read another upstream document (default: spec/deck-api.json)
  --overlay DIR     apply DIR/additions and DIR/fixes (default: spec/)
  --no-overlay      apply no additions or fixes
  --out FILE        write (or check) another file (default: deck-api/src/generated.rs)

   or: cargo xtask bench [--bench NAME]... [--list] [-- ARGS]   (see cargo xtask bench --help)";

struct Args {
    check: bool,
    paths: Paths,
}

fn parse_args(root: &Path, cwd: &Path, args: &[String]) -> Result<Args, String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("regen") => {}
        Some("-h" | "--help") | None => return Err(USAGE.into()),
        Some(other) => return Err(format!("unknown command {other:?}\n{USAGE}")),
    }
    let mut check = false;
    let mut paths = Paths::workspace(root);
    let absolute = |p: PathBuf| cwd.join(p);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--check" => check = true,
            "--spec" => paths.spec = absolute(value("--spec")?),
            "--overlay" => paths.overlay = Some(absolute(value("--overlay")?)),
            "--no-overlay" => paths.overlay = None,
            "--out" => paths.out = absolute(value("--out")?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Args { check, paths })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn run(args: Args) -> Result<ExitCode, RegenError> {
    let started = std::time::Instant::now();
    let regenerated = xtask::regenerate(&args.paths)?;
    for w in &regenerated.warnings {
        eprintln!("warning: {w}");
    }
    let out = args.paths.out.display().to_string();
    if args.check {
        let committed = std::fs::read_to_string(&args.paths.out).unwrap_or_default();
        return Ok(
            match output::diff_summary(&committed, &regenerated.code, &out, 60) {
                None => {
                    eprintln!("{out} is up to date ({} ms)", started.elapsed().as_millis());
                    ExitCode::SUCCESS
                }
                Some(summary) => {
                    eprintln!("{summary}");
                    ExitCode::from(1)
                }
            },
        );
    }
    let changed = output::write_atomic(&args.paths.out, &regenerated.code)?;
    eprintln!(
        "{out} {} ({} lines, {} ms)",
        if changed { "written" } else { "unchanged" },
        regenerated.code.lines().count(),
        started.elapsed().as_millis()
    );
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // Messages name files relative to the workspace root.
    let root = workspace_root();
    let cwd = std::env::current_dir().unwrap_or_else(|_| root.clone());
    if std::env::set_current_dir(&root).is_err() {
        eprintln!("error: cannot enter the workspace root {}", root.display());
        return ExitCode::from(2);
    }
    if argv.first().map(String::as_str) == Some("bench") {
        return bench::main(&root, &argv[1..]);
    }
    let args = match parse_args(Path::new(""), &cwd, &argv) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
