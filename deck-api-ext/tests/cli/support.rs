//! Running the built `deck` binary in the CLI tests, and what they check on every run.
#![allow(dead_code)] // each test file uses a different part

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use deck_api_ext::fake::{FakeDeck, FakeDeckBuilder};
use tokio::process::Command;

/// A distinctive API key: every run asserts it appears in neither stdout nor stderr.
pub const KEY: &str = "sk_live_CLIKEY_3f9a1c7e5b2d";

/// The `deck` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_deck");

/// A finished run of `deck`.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The stdout lines, each parsed as a JSON object.
    pub fn json_lines(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.stdout
            .lines()
            .map(|line| match serde_json::from_str(line) {
                Ok(serde_json::Value::Object(map)) => map,
                other => panic!("not a JSON object line: {line:?} ({other:?})"),
            })
            .collect()
    }

    /// The only stderr line, for runs that must report in exactly one line.
    pub fn one_line(&self) -> &str {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        lines[0]
    }
}

/// A `deck` invocation being prepared. The environment is clean: no `DECK_API_KEY` or
/// `DECK_BASE_URL` unless set here.
pub struct Deck {
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
}

/// `deck <args>`.
pub fn deck(args: &[&str]) -> Deck {
    Deck {
        args: args.iter().map(OsString::from).collect(),
        env: Vec::new(),
        stdin: None,
    }
}

impl Deck {
    /// Appends an argument (e.g. a path).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Feeds `bytes` to the run's stdin (otherwise stdin is empty).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Points the run at `fake` with [`KEY`] (the fake must accept it: see [`fake_builder`]).
    pub fn against(self, fake: &FakeDeck) -> Self {
        self.env("DECK_API_KEY", KEY)
            .env("DECK_BASE_URL", &fake.base_url())
    }

    fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(&self.args)
            .env_remove("DECK_API_KEY")
            .env_remove("DECK_BASE_URL")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs to completion and checks what must hold for every run: an exit code (no signal),
    /// no API key and no panic or backtrace in the output.
    pub async fn run(self) -> Run {
        let output = match &self.stdin {
            None => self.command().output().await.expect("the deck binary runs"),
            Some(bytes) => {
                use tokio::io::AsyncWriteExt;
                let mut child = self
                    .command()
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("the deck binary starts");
                let mut stdin = child.stdin.take().expect("a piped stdin");
                // deck may exit before reading (a usage error): a closed pipe is not a failure.
                let _ = stdin.write_all(bytes).await;
                drop(stdin);
                child
                    .wait_with_output()
                    .await
                    .expect("the deck binary runs")
            }
        };
        let run = Run {
            code: output
                .status
                .code()
                .unwrap_or_else(|| panic!("deck was killed by a signal: {:?}", output.status)),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        check_output(&run);
        run
    }

    /// Spawns with stdout piped, for tests that read only part of it.
    pub fn spawn(self) -> tokio::process::Child {
        self.command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the deck binary starts")
    }
}

/// The checks every run passes.
pub fn check_output(run: &Run) {
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(KEY),
            "the API key leaked on {name}: {run:#?}"
        );
        assert!(
            !text.contains("Bearer sk_"),
            "an Authorization value on {name}: {run:#?}"
        );
    }
    for marker in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        "deck: internal error",
    ] {
        assert!(!run.stderr.contains(marker), "{marker} on stderr: {run:#?}");
    }
}

/// A fake accepting [`KEY`].
pub fn fake_builder() -> FakeDeckBuilder {
    FakeDeck::builder().api_key(KEY)
}

/// A fake accepting [`KEY`], with the demo data.
pub async fn demo_fake() -> FakeDeck {
    fake_builder()
        .demo_data()
        .start()
        .await
        .expect("the fake starts")
}

/// The bytes the fake serves for `storage_id`.
pub fn content(fake: &FakeDeck, storage_id: &str) -> Vec<u8> {
    let content = fake.content(storage_id).expect("a seeded item");
    content.slice(0..content.len()).to_vec()
}

/// The names in `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the directory exists")
        .map(|entry| {
            entry
                .expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// `text` with what varies between runs replaced, for snapshots: request ids
/// (`req_000012` → `req_[id]`), local ports (`127.0.0.1:41234` → `127.0.0.1:[port]`), the
/// temporary directory (`[dir]`) and a pull's duration (`in 0.3 s` → `in [t] s`).
pub fn redact(text: &str, dir: Option<&Path>) -> String {
    let mut text = text.to_owned();
    if let Some(dir) = dir {
        text = text.replace(&dir.display().to_string(), "[dir]");
    }
    let text = replace_after(&text, "req_", |c| c.is_ascii_alphanumeric(), "[id]");
    let text = replace_after(&text, "127.0.0.1:", |c| c.is_ascii_digit(), "[port]");
    replace_after(&text, " in ", |c| c.is_ascii_digit() || c == '.', "[t]")
}

/// Replaces the run of characters matching `keep` right after each `marker` with
/// `replacement` (when the run is not empty).
fn replace_after(
    text: &str,
    marker: &str,
    keep: impl Fn(char) -> bool,
    replacement: &str,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let (before, after) = rest.split_at(at + marker.len());
        out.push_str(before);
        let end = after.find(|c: char| !keep(c)).unwrap_or(after.len());
        if end > 0 {
            out.push_str(replacement);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
