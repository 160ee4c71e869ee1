//! `cargo xtask regen [--check] [--spec FILE] [--overlay DIR | --no-overlay] [--out FILE]
//! [--api-md FILE] [--openapi FILE]`, `cargo xtask bench [--bench NAME]... [--list] [-- ARGS]` and
//! `cargo xtask build-cost [--jobs N]`.
//!
//! regen writes three committed files: `deck-api/src/generated.rs`, `deck-api/API.md` (the public
//! surface, one fact per line) and `deck-api/openapi.json` (the merged 3.1 document). Before
//! rewriting API.md it prints the API delta (`breaking:` / `additive:` lines and a summary);
//! `--check` prints it too when API.md is stale. `--out FILE` without `--api-md` / `--openapi`
//! puts the other two beside FILE, so trying another spec never touches the committed ones.
//!
//! regen exit codes: 0 success, 1 `--check` found stale code, 2 bad input (usage, spec,
//! generation). bench exit codes: 0 success, the first failing benchmark's code, 2 bad usage.

mod bench;
mod build_cost;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xtask::{Paths, RegenError, output};

const USAGE: &str =
    "usage: cargo xtask regen [--check] [--spec FILE] [--overlay DIR | --no-overlay]
                         [--out FILE] [--api-md FILE] [--openapi FILE]

  regen             regenerate deck-api/src/generated.rs, deck-api/API.md (the public surface)
                    and deck-api/openapi.json (the merged 3.1 document) from spec/, printing the
                    API delta (breaking/additive) when API.md changes
  --check           do not write; exit 1 with a summary (and the API delta) when a file is stale
  --spec FILE       read another upstream document (default: spec/deck-api.json)
  --overlay DIR     apply DIR/additions and DIR/fixes (default: spec/)
  --no-overlay      apply no additions or fixes
  --out FILE        write (or check) another code file (default: deck-api/src/generated.rs);
                    API.md and openapi.json then go beside it unless given below
  --api-md FILE     the public-surface report (default: deck-api/API.md)
  --openapi FILE    the merged document (default: deck-api/openapi.json)

   or: cargo xtask bench [--bench NAME]... [--list] [-- ARGS]   (see cargo xtask bench --help)
   or: cargo xtask build-cost [--jobs N]   (see cargo xtask build-cost --help)";

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
    let (mut api_md, mut openapi) = (None, None);
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
            "--out" => {
                paths.out = absolute(value("--out")?);
                let dir = paths.out.parent().unwrap_or(Path::new("")).to_path_buf();
                paths.api_md = dir.join("API.md");
                paths.openapi = dir.join("openapi.json");
            }
            "--api-md" => api_md = Some(absolute(value("--api-md")?)),
            "--openapi" => openapi = Some(absolute(value("--openapi")?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if let Some(p) = api_md {
        paths.api_md = p;
    }
    if let Some(p) = openapi {
        paths.openapi = p;
    }
    Ok(Args { check, paths })
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The API delta from the committed report to `fresh`, or `None` when nothing is committed yet or
/// nothing changed.
fn api_delta(paths: &Paths, fresh: &str) -> Option<String> {
    let committed = std::fs::read_to_string(&paths.api_md).ok()?;
    (committed != fresh).then(|| xtask::api_delta::delta(&committed, fresh).to_string())
}

fn run(args: Args) -> Result<ExitCode, RegenError> {
    let started = std::time::Instant::now();
    let regenerated = xtask::regenerate(&args.paths)?;
    for w in &regenerated.warnings {
        eprintln!("warning: {w}");
    }
    let paths = &args.paths;
    let outputs = [
        (&paths.out, &regenerated.code),
        (&paths.api_md, &regenerated.api_report),
        (&paths.openapi, &regenerated.merged_spec),
    ];
    let delta = api_delta(paths, &regenerated.api_report);
    if args.check {
        let mut stale = false;
        for (path, fresh) in outputs {
            let name = path.display().to_string();
            let committed = std::fs::read_to_string(path).unwrap_or_default();
            match output::diff_summary(&committed, fresh, &name, 60) {
                None => eprintln!("{name} is up to date"),
                Some(summary) => {
                    eprintln!("{summary}");
                    stale = true;
                }
            }
        }
        if let Some(delta) = &delta {
            eprintln!("{delta}");
        }
        eprintln!("checked in {} ms", started.elapsed().as_millis());
        return Ok(if stale {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    if let Some(delta) = &delta {
        eprintln!("{delta}");
    }
    for (path, contents) in outputs {
        let changed = output::write_atomic(path, contents)?;
        eprintln!(
            "{} {} ({} lines)",
            path.display(),
            if changed { "written" } else { "unchanged" },
            contents.lines().count(),
        );
    }
    eprintln!("done in {} ms", started.elapsed().as_millis());
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
    if argv.first().map(String::as_str) == Some("build-cost") {
        return build_cost::main(&root, &argv[1..]);
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
