//! Finding an object with the same key twice in a JSON document.
//!
//! JSON allows duplicate keys and parsers disagree on them: serde's derived structs reject a
//! known field twice, maps and `serde_json::Value` keep the last, `RawValue` printers keep both,
//! and unknown fields are skipped whatever they hold. A response that says `"file_size": 5` and
//! `"file_size": "12kb"` therefore meant different things to different commands. Every API
//! response body is checked here after it decoded (`error::decode_json`), so all callers see
//! one answer: a decode error naming the JSON path of the repeated key.
//!
//! The check is a single pass over bytes serde_json has already validated: strings are skipped
//! eight bytes at a time, keys are compared as raw byte slices
//! (unescaped only when they hold a `\`), per object: a 64-bit mask of key fingerprints skips
//! almost every comparison while an object is small, and a hash set takes over beyond
//! [`LINEAR_KEYS`] keys, so an object with many keys stays linear in time. No allocation
//! happens on the happy path beyond the reused stacks.

use std::borrow::Cow;
use std::collections::HashSet;

/// Objects with at most this many keys are checked by comparing each new key with the others
/// (only those with the same 6-bit fingerprint, see [`fingerprint`]); larger ones by hash set.
const LINEAR_KEYS: usize = 32;

/// The first key found twice in one object.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// The JSON path of the repeated key, e.g. `data[3].file_size`.
    pub(crate) path: String,
    /// The key, lossily decoded.
    pub(crate) key: String,
}

enum Frame<'a> {
    Object {
        /// Where this object's keys start in the shared key stack.
        start: usize,
        /// The index of this object's latest key in the key stack (for the path).
        last: usize,
        /// One bit per [`fingerprint`] of the keys seen: a key whose bit is clear is new, with
        /// no comparison.
        seen: u64,
        /// Built once the object has more than [`LINEAR_KEYS`] keys.
        set: Option<HashSet<Cow<'a, [u8]>>>,
    },
    Array {
        index: usize,
    },
}

/// The first duplicate key in `json`, which must be a document serde_json accepted (anything
/// else is scanned without panicking but the answer is meaningless).
pub(crate) fn find(json: &[u8]) -> Option<Duplicate> {
    // No object, no duplicate: most non-list bodies are small, but the test is free.
    memchr::memchr(b'{', json)?;
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut keys: Vec<Cow<'_, [u8]>> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i + 1;
                let (end, escaped) = string_end(json, start);
                i = end + 1;
                if !expect_key {
                    continue;
                }
                expect_key = false;
                let key: Cow<'_, [u8]> = if escaped {
                    match serde_json::from_slice::<String>(
                        &json[start - 1..=end.min(json.len() - 1)],
                    ) {
                        Ok(text) => Cow::Owned(text.into_bytes()),
                        Err(_) => Cow::Borrowed(&json[start..end.min(json.len())]),
                    }
                } else {
                    Cow::Borrowed(&json[start..end.min(json.len())])
                };
                let Some(Frame::Object {
                    start: first,
                    last,
                    seen,
                    set,
                }) = stack.last_mut()
                else {
                    continue;
                };
                let first = *first;
                let bit = 1u64 << fingerprint(&key);
                let repeated = match set {
                    Some(set) => !set.insert(key.clone()),
                    None if *seen & bit == 0 => false,
                    None => keys[first..].contains(&key),
                };
                *seen |= bit;
                if repeated {
                    return Some(Duplicate {
                        path: path(&stack, &keys, &key),
                        key: String::from_utf8_lossy(&key).into_owned(),
                    });
                }
                *last = keys.len();
                keys.push(key);
                if set.is_none() && keys.len() - first > LINEAR_KEYS {
                    *set = Some(keys[first..].iter().cloned().collect());
                }
            }
            b'{' => {
                stack.push(Frame::Object {
                    start: keys.len(),
                    last: usize::MAX,
                    seen: 0,
                    set: None,
                });
                expect_key = true;
                i += 1;
            }
            b'[' => {
                stack.push(Frame::Array { index: 0 });
                expect_key = false;
                i += 1;
            }
            b'}' | b']' => {
                if let Some(Frame::Object { start, .. }) = stack.pop() {
                    keys.truncate(start);
                }
                expect_key = false;
                i += 1;
            }
            b',' => {
                match stack.last_mut() {
                    Some(Frame::Object { .. }) => expect_key = true,
                    Some(Frame::Array { index }) => *index += 1,
                    None => {}
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The index of the quote closing the string whose content starts at `start`, and whether the
/// string holds an escape. Eight bytes at a time (SWAR: most strings are short, where
/// `memchr2`'s setup costs more than it saves; measured, it was slower here), then byte by byte.
fn string_end(json: &[u8], start: usize) -> (usize, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut escaped = false;
    let mut at = start;
    loop {
        while let Some(chunk) = json.get(at..at + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let quote = word ^ (ONES * u64::from(b'"'));
            let backslash = word ^ (ONES * u64::from(b'\\'));
            // The lowest byte equal to either is exact (a borrow only propagates upwards).
            let hit = ((quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash))
                & HIGHS;
            if hit != 0 {
                at += (hit.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        while at < json.len() && json[at] != b'"' && json[at] != b'\\' {
            at += 1;
        }
        if at >= json.len() {
            return (json.len(), escaped);
        }
        if json[at] == b'"' {
            return (at, escaped);
        }
        escaped = true;
        at += 2;
    }
}

/// Six bits of `key` (its length, first and last byte): equal keys have equal fingerprints.
fn fingerprint(key: &[u8]) -> u32 {
    let (first, last) = match key {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    (key.len() as u32)
        .wrapping_mul(31)
        .wrapping_add(u32::from(first).wrapping_mul(7))
        .wrapping_add(u32::from(last))
        & 63
}

/// The JSON path of `key` in the innermost object of `stack`, in `serde_path_to_error`'s
/// notation (`data[3].file_size`).
fn path(stack: &[Frame<'_>], keys: &[Cow<'_, [u8]>], key: &[u8]) -> String {
    let mut out = String::new();
    for (depth, frame) in stack.iter().enumerate() {
        match frame {
            Frame::Array { index } => out.push_str(&format!("[{index}]")),
            Frame::Object { last, .. } => {
                let name: &[u8] = if depth + 1 == stack.len() {
                    key
                } else {
                    keys.get(*last).map_or(&b"?"[..], |k| &k[..])
                };
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&String::from_utf8_lossy(name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(json: &str) -> Option<(String, String)> {
        find(json.as_bytes()).map(|d| (d.path, d.key))
    }

    #[test]
    fn finds_duplicates_with_their_path() {
        assert_eq!(
            dup(r#"{"data":[{"a":1},{"file_size":5,"x":{"y":[1]},"file_size":"12kb"}]}"#),
            Some(("data[1].file_size".into(), "file_size".into()))
        );
        assert_eq!(dup(r#"{"a":1,"a":2}"#), Some(("a".into(), "a".into())));
        assert_eq!(
            dup(r#"{"o":{"p":[[{"k":1}],{"k":2,"k":3}]}}"#),
            Some(("o.p[1].k".into(), "k".into()))
        );
        // The same key in an escaped spelling is the same key.
        assert_eq!(
            dup(r#"{"ab":1,"\u0061b":2}"#),
            Some(("ab".into(), "ab".into()))
        );
    }

    #[test]
    fn distinct_keys_pass() {
        for json in [
            r#"{"data":[{"a":1,"b":"a"},{"a":2}],"has_more":false}"#,
            r#"{"a":{"a":{"a":1}},"b":["a","a"],"c":"\"a\":1,\"a\":2"}"#,
            r#"[1,"x",{"k":"\\"},{"k":"\\\""}]"#,
            r#"{}"#,
            "null",
            r#"{"a\\":1,"a":2}"#,
        ] {
            assert_eq!(dup(json), None, "{json}");
        }
    }

    #[test]
    fn long_strings_and_escapes_at_every_offset() {
        for pad in 0..40 {
            let a = "a".repeat(pad);
            let key = format!(r#"{a}\"{a}"#);
            let json = format!(r#"{{"{key}":"{a}\\","u":"{a}\"","{key}":1}}"#);
            let found = find(json.as_bytes()).expect("a duplicate");
            assert_eq!(found.key, format!("{a}\"{a}"), "{json}");
            let distinct = json
                .replace(r#""u":"#, r#""v":"#)
                .replacen(&key, "other", 1);
            assert_eq!(find(distinct.as_bytes()), None, "{distinct}");
        }
    }

    #[test]
    fn large_objects_use_a_set_and_still_find_duplicates() {
        let mut json = String::from("{");
        for i in 0..1000 {
            json.push_str(&format!("\"k{i}\":{i},"));
        }
        json.push_str("\"k500\":0}");
        assert_eq!(dup(&json), Some(("k500".into(), "k500".into())));
        let distinct = format!("{}\"end\":0}}", &json[..json.len() - "\"k500\":0}".len()]);
        assert_eq!(dup(&distinct), None);
    }

    #[test]
    fn malformed_input_does_not_panic() {
        for json in ["{\"a", "{\"a\\", "]}", "{\"a\":1,\"a", "\"\\"] {
            let _ = find(json.as_bytes());
        }
    }
}
