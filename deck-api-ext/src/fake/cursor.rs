//! Opaque list cursors: base64url JSON (like Deck's `eyJpZCI6...`) naming the list and the last
//! row returned, with a tag so that an edited or foreign cursor is rejected with `cursor_invalid`.
//!
//! Cursors are keyset cursors (the position is "after the row with key K", a key being
//! `(instant, sequence number)`, see `table::Key`), so deleting a row between pages neither skips
//! nor repeats the rows that follow it. A cursor is bound to its list's *scope* (the path and the
//! filters, as Deck says: "Do not reuse cursors across different endpoints or filter
//! combinations"); only a digest of the scope is carried, so a cursor names no ID.

use super::signing::tag;
use super::table::Key;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Payload {
    /// A digest of the list's scope.
    list: String,
    at: i64,
    after: u64,
    tag: String,
}

/// Why a cursor was rejected. The fake answers every variant with `400 cursor_invalid`; the
/// detail goes into the error message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CursorError {
    /// Not base64url, not JSON, or not the expected fields.
    Malformed,
    /// Well-formed but not made by this server (edited, or tag mismatch).
    Forged,
    /// Made for a different list (another task run, endpoint or filter combination).
    OtherList,
}

impl CursorError {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            Self::Malformed => "The cursor is not a cursor returned by this endpoint.",
            Self::Forged => "The cursor has been modified or was not issued by this server.",
            Self::OtherList => {
                "The cursor belongs to a different list (another resource, endpoint or filter combination)."
            }
        }
    }
}

fn digest(secret: u64, scope: &str) -> String {
    tag(secret, &["list", scope])
}

fn payload_tag(secret: u64, list: &str, (at, after): Key) -> String {
    tag(
        secret,
        &["cursor", list, &at.to_string(), &after.to_string()],
    )
}

/// A cursor for "the rows of the list `scope` after the row with key `key`".
pub(crate) fn encode(secret: u64, scope: &str, key: Key) -> String {
    let list = digest(secret, scope);
    let payload = Payload {
        tag: payload_tag(secret, &list, key),
        list,
        at: key.0,
        after: key.1,
    };
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    base64url_encode(&json)
}

/// The key a cursor resumes after, if the cursor was issued for the list `scope`.
pub(crate) fn decode(secret: u64, scope: &str, cursor: &str) -> Result<Key, CursorError> {
    let json = base64url_decode(cursor).ok_or(CursorError::Malformed)?;
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| CursorError::Malformed)?;
    let key = (payload.at, payload.after);
    if payload.tag != payload_tag(secret, &payload.list, key) {
        return Err(CursorError::Forged);
    }
    if payload.list != digest(secret, scope) {
        return Err(CursorError::OtherList);
    }
    Ok(key)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    if input.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in input.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding, or the text was not produced by an encoder.
    (acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
            let text = base64url_encode(&data);
            assert!(!text.contains('='));
            assert_eq!(base64url_decode(&text), Some(data));
        }
        assert_eq!(
            base64url_encode(b"{\"id\":\"agent_def\"}"),
            "eyJpZCI6ImFnZW50X2RlZiJ9"
        );
    }

    #[test]
    fn cursors_round_trip_and_bind_to_list_and_secret() {
        let c = encode(7, "/v2/task-runs/trun_a/storage", (0, 42));
        assert!(c.starts_with("ey"), "looks like base64 JSON: {c}");
        assert!(!c.contains("trun"), "opaque: {c}");
        assert_eq!(decode(7, "/v2/task-runs/trun_a/storage", &c), Ok((0, 42)));
        assert_eq!(
            decode(7, "/v2/task-runs/trun_b/storage", &c),
            Err(CursorError::OtherList)
        );
        assert_eq!(
            decode(8, "/v2/task-runs/trun_a/storage", &c),
            Err(CursorError::Forged)
        );
        let newest = encode(7, "/v2/events?type=a", (-5, u64::MAX));
        assert_eq!(decode(7, "/v2/events?type=a", &newest), Ok((-5, u64::MAX)));
        assert_eq!(
            decode(7, "/v2/events?type=b", &newest),
            Err(CursorError::OtherList)
        );
    }

    #[test]
    fn edited_and_garbage_cursors_are_rejected() {
        let forged = base64url_encode(
            br#"{"list":"0000000000000000","at":0,"after":2,"tag":"0000000000000000"}"#,
        );
        assert_eq!(decode(7, "trun_a", &forged), Err(CursorError::Forged));
        for bad in ["", "not a cursor", "eyJ", "%%%", "e30", "A"] {
            assert_eq!(
                decode(7, "trun_a", bad),
                Err(CursorError::Malformed),
                "{bad:?}"
            );
        }
    }
}
