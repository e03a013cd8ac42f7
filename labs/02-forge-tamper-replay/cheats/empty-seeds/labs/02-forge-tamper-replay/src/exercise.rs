//! Lab 2: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each item compiles and gives a wrong answer of the right type, so that the grader's
//! assertions tell you what is missing. Run the grader with `cargo test -p lab02`.

use fernchat::crypto::RoomKey;

use crate::{TokenId, Verdict};

/// Forges a room message "from" `from`: a token that every client holding the class key
/// accepts as the server relaying `{"type":"message","from":...,"text":...,"time":...}`.
pub fn forge_message(class_key: &RoomKey, from: &str, text: &str, time_ms: u64) -> String {
    // TODO(student): build the JSON of a `message` event (PROTOCOL.md section 3) and encrypt
    // it with the class key. Mind quotes and backslashes in `text`.
    let _ = (from, text, time_ms);
    class_key.encrypt(b"{}")
}

/// The token with one bit of its decoded bytes flipped: bit 0 is the most significant bit of
/// byte 0, bit 8 the most significant bit of byte 1, and so on. Returns the token unchanged if
/// it is not base64 or `bit` is past its end. The result is URL-safe base64 with padding.
pub fn flip_bit(token: &str, bit: usize) -> String {
    // TODO(student): decode, flip one bit with XOR, encode again.
    let _ = bit;
    token.to_owned()
}

/// Whether `token` carries a valid HMAC under the Fernet key `class_key` (its text form).
/// Must not panic on any input, and must compare the tags in constant time.
pub fn is_authentic(class_key: &str, token: &str) -> bool {
    // TODO(student): recompute the HMAC of everything before the tag (lab 1) and compare it
    // with the tag, without an early exit on the first differing byte.
    let _ = (class_key, token);
    true
}

/// Remembers accepted tokens for as long as a replay of them could otherwise be accepted, and
/// no longer: memory stays bounded by the traffic of one TTL, and never exceeds `capacity`.
#[derive(Debug)]
pub struct ReplayGuard {
    // TODO(student): what must the guard remember, and how will it find the entries to forget?
    ttl_secs: u64,
    capacity: usize,
}

impl ReplayGuard {
    /// A guard for tokens that live `ttl_secs`, remembering at most `capacity` at once.
    pub fn new(ttl_secs: u64, capacity: usize) -> ReplayGuard {
        ReplayGuard { ttl_secs, capacity }
    }

    /// Judges the token `id` stamped `timestamp`, at time `now` (both in Unix seconds), and
    /// remembers it if accepted. Time first (expired, from the future), then memory
    /// (replayed, full).
    pub fn check(&mut self, id: TokenId, timestamp: u64, now: u64) -> Verdict {
        // TODO(student): the four refusals of `Verdict`, in the order above; forget what can
        // no longer be replayed before deciding that the guard is full.
        let _ = (id, timestamp, now, self.ttl_secs, self.capacity);
        Verdict::Accept
    }

    /// How many tokens the guard remembers now.
    pub fn remembered(&self) -> usize {
        // TODO(student)
        0
    }
}

// ---------------------------------------------------------------------------------------------
// Stretch part (graded apart, no hints; see the README). TODO(stretch)

/// A private message "from" `from` to `to` that `to`'s client accepts as one the server
/// relayed, made with the class key and the nonces of `to`'s hello and handshake (which you
/// recorded: both travel under the class key).
pub fn forge_private(
    class_key: &RoomKey,
    client_nonce: &fernchat::kex::Nonce,
    server_nonce: &fernchat::kex::Nonce,
    from: &str,
    to: &str,
    text: &str,
    time_ms: u64,
) -> String {
    // TODO(stretch)
    let _ = (client_nonce, server_nonce, from, to, text, time_ms);
    class_key.encrypt(b"{}")
}
