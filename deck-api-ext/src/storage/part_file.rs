//! Atomic file writes: a temporary file beside the target, renamed over it only when complete.

use std::path::{Path, PathBuf};

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::error::{Error, Result};

/// Write buffer in front of the file: coalesces the network's small chunks into few large
/// writes (each tokio file write is a blocking-pool round trip).
const WRITE_BUFFER: usize = 1 << 20;

/// At most this many bytes of the target's name go into the temporary name, which must stay
/// within the usual 255-byte limit.
const MAX_STEM_BYTES: usize = 100;

/// A temporary `.{name}.{random}.part` file in the target's directory (so the final rename is
/// atomic: same file system). Removed when dropped without [`commit`](PartFile::commit), also
/// when the download future is cancelled.
pub(crate) struct PartFile {
    // Field order matters: the file is closed before the guard removes it (Windows cannot
    // remove an open file).
    writer: BufWriter<File>,
    guard: RemoveOnDrop,
    target: PathBuf,
}

/// Removes a path when dropped, unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl PartFile {
    /// Creates the temporary file for `target`.
    pub(crate) async fn create(target: &Path) -> Result<PartFile> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::io(
                    format!("downloading to {}", target.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "the target path has no file name",
                    ),
                )
            })?;
        let mut end = name.len().min(MAX_STEM_BYTES);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut last_error = None;
        for _ in 0..8 {
            let path = dir.join(format!(".{}.{:08x}.part", &name[..end], fastrand::u32(..)));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
            {
                Ok(file) => {
                    return Ok(PartFile {
                        writer: BufWriter::with_capacity(WRITE_BUFFER, file),
                        guard: RemoveOnDrop(Some(path)),
                        target: target.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => {
                    return Err(Error::io(format!("creating {}", path.display()), e));
                }
            }
        }
        Err(Error::io(
            format!("creating a temporary file in {}", dir.display()),
            last_error.unwrap_or_else(|| std::io::Error::other("no free temporary name")),
        ))
    }

    /// The writer to fill.
    pub(crate) fn writer(&mut self) -> &mut BufWriter<File> {
        &mut self.writer
    }

    /// Flushes and syncs the file, checks its length is `expected_len`, and renames it over the
    /// target. On any failure the temporary file is removed and the target left untouched.
    pub(crate) async fn commit(self, expected_len: u64) -> Result<()> {
        let PartFile {
            mut writer,
            mut guard,
            target,
        } = self;
        let path = guard.0.clone().unwrap_or_default();
        let context = |what: &str| format!("{what} {}", path.display());
        writer
            .flush()
            .await
            .map_err(|e| Error::io(context("writing"), e))?;
        let file = writer.into_inner();
        file.sync_all()
            .await
            .map_err(|e| Error::io(context("syncing"), e))?;
        let len = file
            .metadata()
            .await
            .map_err(|e| Error::io(context("reading the size of"), e))?
            .len();
        drop(file);
        if len != expected_len {
            return Err(Error::download(
                format!("writing {}", target.display()),
                format!("the file has {len} bytes on disk, expected {expected_len}"),
            ));
        }
        tokio::fs::rename(&path, &target).await.map_err(|e| {
            Error::io(
                format!("renaming {} to {}", path.display(), target.display()),
                e,
            )
        })?;
        // Renamed: nothing left to remove.
        guard.0 = None;
        Ok(())
    }
}
