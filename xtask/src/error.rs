//! The one error type of the xtask: a place (file, operation or JSON path) and what is wrong there.

use std::fmt;

/// A failure that stops `regen`: always printed as one line, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegenError {
    /// Where: a file, optionally followed by an operation or a JSON path.
    pub place: String,
    /// What is wrong there.
    pub message: String,
}

impl RegenError {
    /// An error at `place`.
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            place: place.into(),
            message: one_line(&message.into()),
        }
    }
}

impl fmt::Display for RegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

impl std::error::Error for RegenError {}

/// Folds a multi-line message into one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Renders a JSON pointer-ish path from segments: `paths./storage/{id}.get.responses.200`.
pub fn json_path(segments: &[&str]) -> String {
    segments.join(".")
}
