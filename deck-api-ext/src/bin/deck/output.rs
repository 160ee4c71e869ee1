//! JSON results on stdout: one compact object per line (NDJSON), through a locked, buffered
//! stdout. When the reader goes away (`deck storage list ... | head -1`), writing stops quietly
//! with [`Failure::OutputClosed`] (exit 0) instead of an error or a panic.

use std::io::{self, BufWriter, StdoutLock, Write};

use serde::Serialize;

use crate::failure::Failure;

/// Writes JSON values, one per line.
pub struct JsonLines<W: Write> {
    out: W,
}

impl JsonLines<BufWriter<StdoutLock<'static>>> {
    /// Lines on this process's stdout, locked for the writer's lifetime and buffered; call
    /// [`flush`](Self::flush) to hand what was written to the reader.
    pub fn stdout() -> Self {
        JsonLines::new(BufWriter::new(io::stdout().lock()))
    }
}

impl<W: Write> JsonLines<W> {
    /// Lines on `out`.
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }

    /// Writes `value` as one line of compact JSON.
    pub fn write(&mut self, value: &impl Serialize) -> Result<(), Failure> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| failure(e.into()))?;
        self.out.write_all(b"\n").map_err(failure)
    }

    /// Hands everything written so far to the reader.
    pub fn flush(&mut self) -> Result<(), Failure> {
        self.out.flush().map_err(failure)
    }

    /// The underlying writer.
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        &self.out
    }
}

/// A closed pipe means the reader has all it wants; anything else is a real failure.
fn failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::OutputClosed
    } else {
        Failure::Output(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_compact_object_per_line() {
        let mut lines = JsonLines::new(Vec::new());
        lines.write(&json!({"a": "x\ny", "b": 1})).unwrap();
        lines.write(&json!({"c": null})).unwrap();
        lines.flush().unwrap();
        assert_eq!(
            String::from_utf8(lines.get_ref().clone()).unwrap(),
            "{\"a\":\"x\\ny\",\"b\":1}\n{\"c\":null}\n"
        );
    }

    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    #[test]
    fn a_closed_pipe_is_quiet_other_errors_are_not() {
        let mut closed = JsonLines::new(Failing(io::ErrorKind::BrokenPipe));
        assert!(matches!(
            closed.write(&json!({})),
            Err(Failure::OutputClosed)
        ));
        assert!(matches!(closed.flush(), Err(Failure::OutputClosed)));
        let mut full = JsonLines::new(Failing(io::ErrorKind::StorageFull));
        assert!(matches!(full.write(&json!({})), Err(Failure::Output(_))));
    }
}
