//! The lines a pull ends with: one per failed file, then one summary line.

use std::path::Path;
use std::time::Duration;

use deck_api_ext::storage::{PullFailure, PullSummary};

use crate::failure::one_line;

/// `pulled trun_x into deck-files: 12 downloaded, 3 skipped, 0 failed, 74.2 MiB in 1.3 s`
/// (the bytes are those downloaded by this pull).
pub fn summary_line(run_id: &str, dir: &Path, summary: &PullSummary, elapsed: Duration) -> String {
    one_line(&format!(
        "pulled {run_id} into {}: {} downloaded, {} skipped, {} failed, {} in {:.1} s",
        dir.display(),
        summary.downloaded.len(),
        summary.skipped.len(),
        summary.failed.len(),
        human_bytes(summary.bytes),
        elapsed.as_secs_f64()
    ))
    .into_owned()
}

/// `failed stor_x -> deck-files/a.pdf: <why>`.
pub fn failure_line(failure: &PullFailure) -> String {
    one_line(&format!(
        "failed {} -> {}: {}",
        failure.storage_id,
        failure.path.display(),
        failure.error
    ))
    .into_owned()
}

/// `512 B`, `1.5 KiB`, `74.2 MiB`, ...: binary units, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_naturally() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(77_804_749), "74.2 MiB");
        assert_eq!(human_bytes(64 * 1024 * 1024), "64.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn the_summary_is_one_line() {
        let line = summary_line(
            "trun_x",
            Path::new("deck-files"),
            &PullSummary::default(),
            Duration::from_millis(1300),
        );
        assert_eq!(
            line,
            "pulled trun_x into deck-files: 0 downloaded, 0 skipped, 0 failed, 0 B in 1.3 s"
        );
    }
}
