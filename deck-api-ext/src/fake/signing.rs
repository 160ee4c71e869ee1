//! Tokens that bind data to the fake's secret: pre-signed storage URL signatures and the check
//! value inside list cursors.
//!
//! This is a keyed SipHash, not a cryptographic MAC: enough that a test cannot produce a valid
//! URL or cursor by editing one, which is all a fake needs.

use std::hash::{DefaultHasher, Hash, Hasher};

/// A 64-bit tag over `parts`, keyed by `secret`, as 16 lowercase hex digits.
pub(crate) fn tag(secret: u64, parts: &[&str]) -> String {
    // `DefaultHasher::new()` is deterministic within a process, which is all that is needed:
    // tags are only ever checked by the server that made them.
    let mut h = DefaultHasher::new();
    secret.hash(&mut h);
    for part in parts {
        part.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The query string that pre-signs a download of `storage_id` until `expires` (Unix seconds).
pub(crate) fn url_query(secret: u64, storage_id: &str, expires: i64, nonce: u64) -> String {
    let sig = url_signature(secret, storage_id, expires, nonce);
    format!("expires={expires}&nonce={nonce}&sig={sig}")
}

/// The `sig` query parameter of a pre-signed URL.
pub(crate) fn url_signature(secret: u64, storage_id: &str, expires: i64, nonce: u64) -> String {
    tag(
        secret,
        &["url", storage_id, &expires.to_string(), &nonce.to_string()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_depend_on_every_input() {
        let base = url_signature(1, "stor_a", 100, 0);
        assert_eq!(base, url_signature(1, "stor_a", 100, 0));
        assert_ne!(base, url_signature(2, "stor_a", 100, 0));
        assert_ne!(base, url_signature(1, "stor_b", 100, 0));
        assert_ne!(base, url_signature(1, "stor_a", 101, 0));
        assert_ne!(base, url_signature(1, "stor_a", 100, 1));
        assert_eq!(base.len(), 16);
        // Part boundaries matter: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(tag(0, &["ab", "c"]), tag(0, &["a", "bc"]));
    }
}
