//! Lab 2, reference solution. Instructors only: the students' copy does not have this file.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::RoomKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{FUTURE_GRACE_SECS, TokenId, Verdict};

fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

pub fn forge_message(class_key: &RoomKey, from: &str, text: &str, time_ms: u64) -> String {
    // Build JSON with a serializer, never with `format!`: a `"` in the text would otherwise
    // end the string early, and the receiver would see different fields (JSON injection).
    let event = serde_json::json!({"type": "message", "from": from, "text": text, "time": time_ms});
    // That is all it takes. The HMAC proves the token was made with the class key, and every
    // student holds it: a client cannot tell the server's relay from a classmate's forgery.
    class_key.encrypt(event.to_string().as_bytes())
}

pub fn flip_bit(token: &str, bit: usize) -> String {
    let Some(mut raw) = decode(token) else {
        return token.to_owned();
    };
    let Some(byte) = raw.get_mut(bit / 8) else {
        return token.to_owned();
    };
    // Most significant bit first, as people write bytes: bit 0 of 0x80 is the 1.
    *byte ^= 0x80 >> (bit % 8);
    URL_SAFE.encode(raw)
}

pub fn is_authentic(class_key: &str, token: &str) -> bool {
    let (Some(key), Some(raw)) = (decode(class_key), decode(token)) else {
        return false;
    };
    // A key must be 32 bytes, and a token at least a header, one block and a tag. Checking
    // lengths first keeps the slicing below from panicking on hostile input.
    if key.len() != 32 || raw.len() < 1 + 8 + 16 + 16 + 32 {
        return false;
    }
    let (signed, tag) = raw.split_at(raw.len() - 32);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key[..16]).expect("HMAC takes any key length");
    mac.update(signed);
    // `verify_slice` compares in constant time. A `==` on the bytes stops at the first
    // difference, and how long it took tells an attacker how many leading bytes of a forged
    // tag were right: a byte at a time, a tag can be guessed in 32 × 256 tries, not 2^256.
    mac.verify_slice(tag).is_ok()
}

#[derive(Debug)]
pub struct ReplayGuard {
    ttl_secs: u64,
    capacity: usize,
    /// Each remembered token with the moment after which a replay of it is expired anyway.
    expires: HashMap<TokenId, u64>,
    /// The same entries ordered by that moment, so forgetting looks only at the front.
    /// (Tokens arrive out of timestamp order, so a queue in arrival order would not do.)
    by_expiry: BTreeSet<(u64, TokenId)>,
}

impl ReplayGuard {
    pub fn new(ttl_secs: u64, capacity: usize) -> ReplayGuard {
        ReplayGuard {
            ttl_secs,
            capacity,
            expires: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    pub fn check(&mut self, id: TokenId, timestamp: u64, now: u64) -> Verdict {
        // Time first: it needs no memory, and it is what makes forgetting safe. A token is
        // only ever accepted while `now <= timestamp + ttl`.
        let expiry = timestamp.saturating_add(self.ttl_secs);
        if now > expiry {
            return Verdict::Expired;
        }
        if timestamp > now.saturating_add(FUTURE_GRACE_SECS) {
            return Verdict::FromFuture;
        }
        self.forget_expired(now);
        if self.expires.contains_key(&id) {
            return Verdict::Replayed;
        }
        if self.expires.len() >= self.capacity {
            // Fail closed: forgetting a live token to make room would let its replay in.
            return Verdict::Full;
        }
        self.expires.insert(id, expiry);
        self.by_expiry.insert((expiry, id));
        Verdict::Accept
    }

    pub fn remembered(&self) -> usize {
        self.expires.len()
    }

    /// Drops every token whose replay the time check would refuse anyway.
    fn forget_expired(&mut self, now: u64) {
        while let Some(&(expiry, id)) = self.by_expiry.first() {
            if expiry >= now {
                break;
            }
            self.by_expiry.pop_first();
            self.expires.remove(&id);
        }
    }
}

// Stretch part.

pub fn forge_private(
    class_key: &RoomKey,
    client_nonce: &fernchat::kex::Nonce,
    server_nonce: &fernchat::kex::Nonce,
    from: &str,
    to: &str,
    text: &str,
    time_ms: u64,
) -> String {
    // "Private" means the server sends it to one client, under that client's own key (protocol
    // version 2). But a psk session's key comes from the class key and two nonces that crossed
    // the wire under the class key: anyone in the class who saw the recipient's hello and
    // handshake can make it, and seal anything "from" anyone.
    let keys = fernchat::kex::psk_session_keys(class_key, client_nonce, server_nonce);
    let event = serde_json::json!({"type": "private", "from": from, "to": to, "text": text, "time": time_ms});
    keys.server_to_client.encrypt(event.to_string().as_bytes())
}
