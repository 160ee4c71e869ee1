//! The values of options that are more than a string or a number: durations (`--timeout 10m`),
//! instants (`--since 2025-01-15T09:30:00Z`) and JSON (`--input '{"code":"123456"}'` or
//! `--input @answer.json`). Each parser is a clap value parser: a bad value is a usage error
//! (exit 2) that says what was expected.

use std::io::Read;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The largest JSON input read from a file or stdin (`--input @FILE`, `@-`): a task's input or
/// an interaction's answer is small; this only stops a wrong file from filling memory.
pub const MAX_INPUT_BYTES: u64 = 8 * 1024 * 1024;

/// The longest duration accepted: 30 days (Deck keeps events that long; no run lasts longer).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A duration: `500ms`, `30s`, `10m`, `2h`, `1d`, or several run together (`1h30m`); a bare
/// number is seconds. Zero and anything above [`MAX_DURATION`] are refused.
pub fn duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as 90s, 10m, 1h30m or 500ms";
    let text = text.trim();
    if text.is_empty() {
        return Err(EXPECTED.to_owned());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return within_bounds(number(text)?.checked_mul(1000), EXPECTED);
    }
    let mut total_ms: Option<u64> = Some(0);
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let unit_len = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || unit_len == 0 {
            return Err(EXPECTED.to_owned());
        }
        let value = number(&rest[..digits])?;
        let per_unit: u64 = match &rest[digits..digits + unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(EXPECTED.to_owned()),
        };
        total_ms = total_ms
            .zip(value.checked_mul(per_unit))
            .and_then(|(a, b)| a.checked_add(b));
        rest = &rest[digits + unit_len..];
    }
    within_bounds(total_ms, EXPECTED)
}

fn number(digits: &str) -> Result<u64, String> {
    digits
        .parse::<u64>()
        .map_err(|_| format!("{digits} is too large"))
}

fn within_bounds(ms: Option<u64>, expected: &str) -> Result<Duration, String> {
    let max_ms = u64::try_from(MAX_DURATION.as_millis()).unwrap_or(u64::MAX);
    match ms {
        Some(0) => Err(format!("{expected}, more than zero")),
        Some(ms) if ms <= max_ms => Ok(Duration::from_millis(ms)),
        _ => Err("longer than 30 days".to_owned()),
    }
}

/// An instant: RFC 3339 (`2025-01-15T09:30:00Z`, `2025-01-15T10:30:00+01:00`) or a date
/// (`2025-01-15`, midnight UTC).
pub fn instant(text: &str) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
        .ok_or_else(|| {
            "expected an RFC 3339 time such as 2025-01-15T09:30:00Z, or a date such as 2025-01-15"
                .to_owned()
        })
}

/// A point in time as Unix seconds: an integer (`1614265330`), or an instant [`instant`]
/// accepts.
pub fn unix_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    instant(text)
        .map(|at| at.timestamp())
        .map_err(|_| "expected Unix seconds such as 1614265330, or an RFC 3339 time".to_owned())
}

/// JSON given inline (`{"code":"123456"}`), or read from a file (`@answer.json`) or from stdin
/// (`@-`), at most [`MAX_INPUT_BYTES`].
pub fn json_input(text: &str) -> Result<Value, String> {
    let (source, bytes) = match text.strip_prefix('@') {
        Some("-") => ("stdin".to_owned(), read_capped(std::io::stdin().lock())?),
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            (path.to_owned(), read_capped(file)?)
        }
        None => ("the argument".to_owned(), text.as_bytes().to_vec()),
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("{source} is not JSON: {e}"))
}

fn read_capped(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the input: {e}"))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_INPUT_BYTES {
        return Err(format!(
            "the input is larger than {} MiB",
            MAX_INPUT_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        let ms = |n| Ok(Duration::from_millis(n));
        assert_eq!(duration("90"), ms(90_000));
        assert_eq!(duration("90s"), ms(90_000));
        assert_eq!(duration("500ms"), ms(500));
        assert_eq!(duration("10m"), ms(600_000));
        assert_eq!(duration("1h30m"), ms(5_400_000));
        assert_eq!(duration("1d"), ms(86_400_000));
        assert_eq!(duration(" 2h "), ms(7_200_000));
        assert_eq!(duration("30d"), Ok(MAX_DURATION));
        for bad in ["", "s", "1.5s", "10 m", "-1s", "5y", "m10", "1h30"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
        assert!(duration("0").unwrap_err().contains("more than zero"));
        assert!(duration("0s").unwrap_err().contains("more than zero"));
        assert_eq!(duration("31d").unwrap_err(), "longer than 30 days");
        assert_eq!(
            duration("99999999999999999999s").unwrap_err(),
            "99999999999999999999 is too large"
        );
        assert_eq!(
            duration("18446744073709551615d").unwrap_err(),
            "longer than 30 days"
        );
        assert_eq!(
            duration("18446744073709551615"),
            Err("longer than 30 days".to_owned())
        );
    }

    #[test]
    fn instants() {
        let at = |s: &str| instant(s).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2025-01-15T09:30:00Z"),
            Ok("2025-01-15T09:30:00+00:00".to_owned())
        );
        assert_eq!(
            at("2025-01-15T10:30:00.250+01:00"),
            Ok("2025-01-15T09:30:00.250+00:00".to_owned())
        );
        assert_eq!(at("2025-01-15"), Ok("2025-01-15T00:00:00+00:00".to_owned()));
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-01-15 09:30",
            "1736933400",
        ] {
            assert!(instant(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix_time("1614265330"), Ok(1_614_265_330));
        assert_eq!(unix_time("-5"), Ok(-5));
        assert_eq!(unix_time("2021-02-25T15:02:10Z"), Ok(1_614_265_330));
        assert_eq!(unix_time("2025-01-15"), Ok(1_736_899_200));
        assert!(unix_time("now").is_err());
        assert!(unix_time("99999999999999999999").is_err());
    }

    #[test]
    fn json_inline_and_from_a_file() {
        assert_eq!(
            json_input(r#"{"code":"123456"}"#),
            Ok(json!({"code": "123456"}))
        );
        assert_eq!(json_input("[1, 2]"), Ok(json!([1, 2])));
        let error = json_input("{code: 1}").unwrap_err();
        assert!(error.starts_with("the argument is not JSON: "), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.json");
        std::fs::write(&path, br#"{"month": "2025-01"}"#).unwrap();
        assert_eq!(
            json_input(&format!("@{}", path.display())),
            Ok(json!({"month": "2025-01"}))
        );
        let missing = dir.path().join("missing.json");
        let error = json_input(&format!("@{}", missing.display())).unwrap_err();
        assert!(error.starts_with("cannot read "), "{error}");
        std::fs::write(&path, b"not json").unwrap();
        let error = json_input(&format!("@{}", path.display())).unwrap_err();
        assert!(error.contains("input.json is not JSON: "), "{error}");
    }

    #[test]
    fn large_inputs_are_refused() {
        let size = usize::try_from(MAX_INPUT_BYTES).unwrap() + 1;
        let error =
            read_capped(std::io::repeat(b' ').take(u64::try_from(size).unwrap())).unwrap_err();
        assert_eq!(error, "the input is larger than 8 MiB");
        assert_eq!(read_capped(&b"{}"[..]), Ok(b"{}".to_vec()));
    }
}
