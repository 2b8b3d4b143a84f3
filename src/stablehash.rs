//! Hashes whose values are persisted or compared across runs: output object names (the
//! Lambda's per-source stems, which the state also records) and the pipeline's eventID
//! digests. They must not change with the Rust toolchain, so they do not use
//! `std::collections::hash_map::DefaultHasher` (whose algorithm std may change in any
//! release) but SipHash-1-3 with keys (0, 0) from the pinned `siphasher` crate: the
//! algorithm and keys `DefaultHasher::new()` used when these names were first written, so
//! existing deployments keep their object names. Values are fed through `Hash`, exactly as
//! before (a `u8` salt, then the value); the golden tests pin them.

use siphasher::sip::SipHasher13;
use std::hash::{Hash, Hasher};

/// SipHash-1-3, keys (0, 0), of `value` as `Hash` feeds it.
pub fn sip13<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = SipHasher13::new_with_keys(0, 0);
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and digests as keytrail wrote them before this module (computed then with
    /// `DefaultHasher` on Rust 1.95): they must never change.
    #[test]
    fn golden_values_are_the_names_deployments_already_have() {
        let stem = |id: &str| format!("src-{:016x}{:016x}", sip13(&(1u8, id)), sip13(&(2u8, id)));
        assert_eq!(
            stem(
                "s3://trail/AWSLogs/111122223333/CloudTrail/us-east-1/2025/02/12/f.json.gz#3Lg.v1"
            ),
            "src-cd96bd0ac24ee42d664dfa0c890ec553"
        );
        assert_eq!(stem(""), "src-c9fb653299124bdc6e83bf60b0f1de8a");
        assert_eq!(stem("é#ü"), "src-3d65edfca4dfff5b920d6e98d5fe459e");
        let digest = |ns: &[u8], b: &[u8]| {
            (u128::from(sip13(&(1u8, ns, b))) << 64) | u128::from(sip13(&(2u8, ns, b)))
        };
        assert_eq!(
            digest(b"id", b"01000017-b092-51cc-9d8d-a4228c4cb832"),
            0xf3c95de0b6214fa86883b7b13c1ee408
        );
        assert_eq!(digest(b"content", b""), 0x016cc82e68964a68041e623fe7f1a4cf);
    }
}
