//! `Range: bytes=…` as an object store answers it (RFC 9110 §14): one range is honoured, a
//! malformed or multi-range header is ignored (full `200`), a range that starts past the end is
//! `416`.

use std::ops::Range;

/// What to send for a request's `Range` header on a file of some length.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// `200` with the whole file.
    Full,
    /// `206` with these bytes.
    Partial(Range<u64>),
    /// `416 Range Not Satisfiable`.
    Unsatisfiable,
}

/// Resolves a `Range` header value against a file of `len` bytes.
pub(crate) fn resolve(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), number(first), number(last)) {
        // `bytes=-S`: the last S bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || len == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial(len - suffix.min(len)..len)
            }
        }
        // `bytes=N-`
        (false, Some(start), None) if last.is_empty() => {
            if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial(start..len)
            }
        }
        // `bytes=N-M`
        (false, Some(start), Some(end)) if start <= end => {
            if start >= len {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial(start..end.saturating_add(1).min(len))
            }
        }
        _ => RangeAnswer::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::*;
    use super::*;

    #[test]
    fn resolves_ranges() {
        let cases: &[(Option<&str>, RangeAnswer)] = &[
            (None, Full),
            (Some("bytes=0-"), Partial(0..100)),
            (Some("bytes=40-"), Partial(40..100)),
            (Some("bytes=99-"), Partial(99..100)),
            (Some("bytes=100-"), Unsatisfiable),
            (Some("bytes=10-19"), Partial(10..20)),
            (Some("bytes=10-1000"), Partial(10..100)),
            (Some("bytes=-30"), Partial(70..100)),
            (Some("bytes=-300"), Partial(0..100)),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=20-10"), Full),
            (Some("bytes=0-1,5-6"), Full),
            (Some("items=0-1"), Full),
            (Some("bytes=abc-"), Full),
            (Some("bytes=-"), Full),
            (Some("bytes=+1-"), Full),
        ];
        for (header, want) in cases {
            assert_eq!(&resolve(*header, 100), want, "{header:?}");
        }
        assert_eq!(resolve(Some("bytes=0-"), 0), Unsatisfiable);
    }
}
