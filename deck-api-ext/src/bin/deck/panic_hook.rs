//! A panic is a bug in `deck`: report it in one line on stderr, never with a backtrace (which
//! could show arguments or environment), and exit 101 as Rust does.

use std::any::Any;
use std::io::Write;
use std::panic::Location;

/// Replaces the default panic hook for the whole process (the runtime's worker threads too).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        let line = describe(info.payload(), info.location());
        let _ = writeln!(std::io::stderr().lock(), "deck: {line}");
    }));
}

/// `internal error: <message> at <file>:<line>; please report this bug`, on one line.
fn describe(payload: &(dyn Any + Send), location: Option<&Location<'_>>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic");
    let location = location
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!(
        "internal error: {}{location}; please report this bug",
        crate::failure::one_line(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_message_and_location() {
        let location = Location::caller();
        let line = describe(&"index out of bounds\nsecond line", Some(location));
        assert_eq!(
            line,
            format!(
                "internal error: index out of bounds second line at {}:{}; please report this bug",
                location.file(),
                location.line()
            )
        );
        let owned: Box<dyn Any + Send> = Box::new(String::from("formatted 42"));
        assert_eq!(
            describe(owned.as_ref(), None),
            "internal error: formatted 42; please report this bug"
        );
        assert_eq!(
            describe(&7u8, None),
            "internal error: panic; please report this bug"
        );
    }
}
