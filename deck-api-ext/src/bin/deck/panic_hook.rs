//! A panic is a bug in `deck`: report it in one line on stderr, never with a backtrace (which
//! could show arguments or environment), and exit 101 as Rust does.

use std::io::Write;
use std::panic::PanicHookInfo;

/// Replaces the default panic hook for the whole process (the runtime's worker threads too).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let _ = writeln!(std::io::stderr().lock(), "deck: {}", describe(info));
    }));
}

/// `internal error: <message> at <file>:<line>; please report this bug`.
fn describe(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic");
    let location = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "internal error: {}{location}; please report this bug",
        crate::failure::one_line(message)
    )
}
