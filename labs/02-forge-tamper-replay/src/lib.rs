//! Lab 2: forge, tamper, replay. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types and the helper here are shared with the grader
//! (`tests/`) and the live step (`src/bin/replay.rs`); read them, do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;

pub use exercise::{ReplayGuard, flip_bit, forge_message, forge_private, is_authentic};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How far ahead of our clock a token's timestamp may be (the Fernet specification's allowance).
pub const FUTURE_GRACE_SECS: u64 = 60;

/// What the replay guard remembers of a token: its HMAC tag, the last 32 bytes. Two different
/// tokens never share one (even of the same text: the IV differs), and it costs a fixed 32 bytes
/// however long the message.
pub type TokenId = [u8; 32];

/// The replay guard's answer for one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fresh and never seen: let it through (and remember it).
    Accept,
    /// Seen before, within its lifetime: a replay.
    Replayed,
    /// Older than the TTL: refused by time, no memory needed.
    Expired,
    /// Stamped more than [`FUTURE_GRACE_SECS`] ahead of our clock.
    FromFuture,
    /// Fresh, but the guard holds `capacity` live tokens already. Refusing (fail closed) is
    /// safe; forgetting a live token to make room would let its replay through.
    Full,
}

/// The [`TokenId`] of a token's text, or `None` if it is not base64 of at least 32 bytes.
pub fn token_id(token: &str) -> Option<TokenId> {
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim().trim_end_matches('='))
        .ok()?;
    raw.get(raw.len().checked_sub(32)?..)?.try_into().ok()
}
