//! Command-line options every bench binary accepts (after `cargo bench ... --`).

/// Parsed options.
#[derive(Debug, Clone)]
pub struct Args {
    /// Interleaved repetitions per case.
    pub reps: usize,
    /// Exit with status 1 when a target is missed.
    pub strict: bool,
    /// Sections to run (1-based); empty means all.
    pub sections: Vec<usize>,
}

impl Args {
    /// Parses `std::env::args`; `--bench` (added by `cargo bench`) is ignored.
    pub fn from_env(default_reps: usize) -> Args {
        let mut args = Args {
            reps: default_reps,
            strict: false,
            sections: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--bench" => {}
                "--strict" => args.strict = true,
                "--reps" => {
                    args.reps = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n: &usize| n > 0)
                        .unwrap_or_else(|| usage("--reps needs a positive number"))
                }
                "--section" => args.sections.push(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or_else(|| usage("--section needs a section number")),
                ),
                other => usage(&format!("unknown argument {other:?}")),
            }
        }
        args
    }

    /// Whether section `n` (1-based) was selected.
    pub fn section(&self, n: usize) -> bool {
        self.sections.is_empty() || self.sections.contains(&n)
    }
}

fn usage(message: &str) -> ! {
    eprintln!(
        "{message}\nusage: cargo xtask bench [--bench NAME] -- [--reps N] [--section N]... [--strict]"
    );
    std::process::exit(2)
}
