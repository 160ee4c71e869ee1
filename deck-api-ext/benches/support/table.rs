//! The results table: medians, ratios against a baseline row, and target verdicts.

use std::fmt::Write as _;
use std::time::Duration;

use super::measure::{Sample, median};

/// A limit a row must meet, relative to the baseline row.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Wall and CPU time at most these multiples of the baseline's.
    AtMost { wall: f64, cpu: f64 },
    /// Wall time strictly below the baseline's.
    FasterWall,
}

/// One row: a case's samples and its target, if any.
pub struct Row {
    pub name: String,
    pub samples: Vec<Sample>,
    pub target: Option<Target>,
}

/// Medians of a row.
pub struct Medians {
    pub wall: Duration,
    pub cpu: Duration,
}

impl Row {
    pub fn medians(&self) -> Medians {
        let wall: Vec<Duration> = self.samples.iter().map(|s| s.wall).collect();
        let cpu: Vec<Duration> = self.samples.iter().map(|s| s.cpu).collect();
        Medians {
            wall: median(&wall),
            cpu: median(&cpu),
        }
    }
}

/// Renders rows against `rows[0]` (the baseline); returns the text and whether every target
/// was met.
pub fn render(title: &str, rows: &[Row]) -> (String, bool) {
    let base = rows[0].medians();
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-12);
    let mut out = String::new();
    let mut all_met = true;
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "| {:<46} | {:>9} | {:>9} | {:>7} | {:>7} | {:<28} |",
        "case", "wall ms", "cpu ms", "wall ×", "cpu ×", "target"
    );
    let _ = writeln!(
        out,
        "|{:-<48}|{:->11}|{:->11}|{:->9}|{:->9}|{:-<30}|",
        "", "", "", "", "", ""
    );
    for (i, row) in rows.iter().enumerate() {
        let m = row.medians();
        let (wall_x, cpu_x) = (ratio(m.wall, base.wall), ratio(m.cpu, base.cpu));
        let verdict = match (i, row.target) {
            (0, _) => "baseline".to_owned(),
            (_, None) => String::new(),
            (_, Some(Target::AtMost { wall, cpu })) => {
                let met = wall_x <= wall && cpu_x <= cpu;
                all_met &= met;
                format!(
                    "wall ≤{wall:.2} cpu ≤{cpu:.2}: {}",
                    if met { "met" } else { "MISSED" }
                )
            }
            (_, Some(Target::FasterWall)) => {
                let met = wall_x < 1.0;
                all_met &= met;
                format!("wall <1.00: {}", if met { "met" } else { "MISSED" })
            }
        };
        let _ = writeln!(
            out,
            "| {:<46} | {:>9.2} | {:>9.2} | {:>7.3} | {:>7.3} | {:<28} |",
            row.name,
            m.wall.as_secs_f64() * 1e3,
            m.cpu.as_secs_f64() * 1e3,
            wall_x,
            cpu_x,
            verdict
        );
    }
    (out, all_met)
}
