//! Writing the generated file atomically, and comparing it with what is committed.

use crate::error::RegenError;
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` through a temporary file in the same directory and a rename, so a
/// failure never leaves a half-written file. An unchanged file is not touched.
pub fn write_atomic(path: &Path, contents: &str) -> Result<bool, RegenError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == contents) {
        return Ok(false);
    }
    let err = |e: std::io::Error| {
        RegenError::new(path.display().to_string(), format!("cannot write: {e}"))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("generated");
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(true)
}

/// `None` when `committed` equals `fresh`; otherwise a readable summary: counts and the first
/// differing hunks as a unified diff (at most `max_lines` lines).
pub fn diff_summary(committed: &str, fresh: &str, path: &str, max_lines: usize) -> Option<String> {
    if committed == fresh {
        return None;
    }
    let diff = similar::TextDiff::from_lines(committed, fresh);
    let (mut added, mut removed) = (0usize, 0usize);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    let unified = diff
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("{path} (committed)"),
            &format!("{path} (regenerated)"),
        )
        .to_string();
    let mut lines: Vec<&str> = unified.lines().collect();
    let cut = lines.len() > max_lines;
    lines.truncate(max_lines);
    let mut out = format!(
        "{path} is stale: regenerating would add {added} and remove {removed} line(s). Run `cargo xtask regen`.\n{}",
        lines.join("\n")
    );
    if cut {
        out.push_str("\n… (diff cut)");
    }
    Some(out)
}
