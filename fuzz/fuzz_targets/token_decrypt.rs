//! Tokens: arbitrary bytes through `TokenHeader::parse`, `RoomKey::decrypt` (one key and a
//! rotation ring) and `Inbound::accept`; and real tokens with any timestamp, then damaged,
//! through `Inbound::accept` at any `now` under any `TimePolicy`.
//!
//! Input: `MODE: u8`. Even: the rest is a frame (raw mode). Odd (structured mode):
//! `TIMESTAMP: u64`, `NOW: u64`, `TTL: u64`, `GRACE: u64`, `OFFSET: u64` (as i64),
//! `PLAINTEXT_SEL: u8` (below 16 it picks a real event, otherwise a length byte and that many
//! bytes follow), then up to 8 damages of 4 bytes each: `KIND: u8, AT: u16, VALUE: u8`.
//!
//! Checks, raw mode: nothing panics; a frame that decrypts has a header with the same
//! timestamp and replay id and a length that fits its plaintext, and its canonical
//! re-encoding opens the same; `parse_wrong_key_line` only returns hex digits and dashes.
//! Structured mode: a token opens with its timestamp and plaintext unless the timestamp is
//! beyond `u64::MAX - 60` (refused as malformed); `TimePolicy::check` and `PeerClock::measure`
//! agree with exact integer arithmetic at any values; a damaged token never opens unless its
//! bytes are unchanged; `Inbound::accept` on a new connection gives exactly the refusal the
//! rules say, and a second `accept` of the same token is refused as replayed.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::{
    FreshnessError, MAX_CLOCK_OFFSET_SECS, PeerClock, ReplayError, RoomKey, TimePolicy, TokenError,
    TokenHeader,
};
use fernchat::protocol::codec::{self, DecodeError, Refusal, decode_plaintext};
use fernchat::protocol::{ClientEvent, Inbound, ServerEvent};
use fernchat_fuzz::{Input, NOW, key, other_key, token_bytes};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// Plaintexts of real events (the samples of PROTOCOL.md), picked by the structured mode.
pub const EVENTS: &[&str] = &[
    r#"{"type":"hello","nick":"alice","version":2,"kex":"psk","nonce":"AAECAwQFBgcICQoLDA0ODw=="}"#,
    r#"{"type":"handshake","version":2,"nonce":"AAECAwQFBgcICQoLDA0ODw==","server_nonce":"EBESExQVFhcYGRobHB0eHw==","kex":"psk"}"#,
    r#"{"type":"confirm"}"#,
    r#"{"type":"say","text":"hi all"}"#,
    r#"{"type":"me","text":"waves"}"#,
    r#"{"type":"msg","to":"bob","text":"psst"}"#,
    r#"{"type":"who"}"#,
    r#"{"type":"nick","nick":"alice2"}"#,
    r#"{"type":"ping","id":7}"#,
    r#"{"type":"pong","id":3}"#,
    r#"{"type":"bye","reason":"lunch"}"#,
    r#"{"type":"welcome","nick":"alice","users":["alice","bob"],"version":2,"server":"fernchat 0.1.0","max_text":2000,"time":1763800000000}"#,
    r#"{"type":"error","code":"nick_taken","message":"taken","time":1763800000000}"#,
    r#"{"type":"dance"}"#,
    r#"{"type":"say"}"#,
    r#"[1,2]"#,
    "",
    "not json",
];

struct Keys {
    key: RoomKey,
    other: RoomKey,
    ring: RoomKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        key: key(),
        other: other_key(),
        ring: RoomKey::ring(vec![other_key(), key()]).expect("two keys"),
    })
}

fn connection(key: &RoomKey, policy: TimePolicy) -> Inbound {
    Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 64))
}

fn raw(frame: &[u8]) {
    let keys = keys();
    let header = TokenHeader::parse(frame);
    let opened = keys.key.decrypt(frame);
    if let Ok(opened) = &opened {
        let header = header.as_ref().expect("a token that opens has a header");
        assert_eq!(header.timestamp, opened.timestamp);
        assert_eq!(header.replay_id, opened.replay_id);
        assert_eq!(opened.key_index, 0);
        // version, timestamp, IV, PKCS#7-padded plaintext, HMAC.
        assert_eq!(
            header.decoded_len,
            1 + 8 + 16 + (opened.plaintext.len() / 16 + 1) * 16 + 32
        );
        let canonical = URL_SAFE.encode(token_bytes(frame).expect("base64"));
        assert_eq!(keys.key.decrypt(canonical.as_bytes()).as_ref(), Ok(opened));
    }
    // The ring tries the other key first, then ours: it opens exactly what one of them opens,
    // and says which.
    let by_other = keys.other.decrypt(frame);
    match keys.ring.decrypt(frame) {
        Ok(from_ring) => {
            let (index, single) = if by_other.is_ok() {
                (0, by_other)
            } else {
                (1, opened)
            };
            let single = single.expect("the ring opens only what one of its keys opens");
            assert_eq!(from_ring.key_index, index);
            assert_eq!(from_ring.plaintext, single.plaintext);
            assert_eq!(from_ring.replay_id, single.replay_id);
        }
        Err(_) => assert!(opened.is_err() && by_other.is_err()),
    }
    for now in [0, NOW, u64::MAX] {
        let policy = TimePolicy::default();
        let _ = connection(&keys.key, policy).accept::<ClientEvent>(frame, now);
        let _ = connection(&keys.key, policy).accept::<ServerEvent>(frame, now);
    }
    if let Some(fingerprint) = codec::parse_wrong_key_line(frame) {
        assert!(fingerprint.chars().count() <= 32);
        assert!(
            fingerprint
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == '-')
        );
    }
}

fn damage(token: &[u8], input: &mut Input) -> Vec<u8> {
    let mut text = token.to_vec();
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        let kind = input.u8();
        let at = usize::from(input.u16());
        let value = input.u8();
        let mut bytes = token_bytes(&text);
        match kind % 8 {
            // A bit flipped in the decoded token.
            0 => {
                if let Some(bytes) = bytes.as_mut().filter(|b| !b.is_empty()) {
                    let at = at % bytes.len();
                    bytes[at] ^= 1 << (value % 8);
                    text = URL_SAFE.encode(bytes).into_bytes();
                }
            }
            // The decoded token cut short.
            1 => {
                if let Some(bytes) = bytes.filter(|b| !b.is_empty()) {
                    text = URL_SAFE.encode(&bytes[..at % bytes.len()]).into_bytes();
                }
            }
            // A byte inserted into the decoded token.
            2 => {
                if let Some(mut bytes) = bytes {
                    bytes.insert(at % (bytes.len() + 1), value);
                    text = URL_SAFE.encode(bytes).into_bytes();
                }
            }
            // The text cut short (may only drop padding).
            3 => text.truncate(at % (text.len() + 1)),
            // A character of the text replaced.
            4 => {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = value;
                }
            }
            // A character inserted into the text.
            5 => text.insert(at % (text.len() + 1), value),
            // Padding added or removed.
            6 => {
                if value.is_multiple_of(2) {
                    text.extend(std::iter::repeat_n(b'=', usize::from(value % 5)));
                } else {
                    while text.last() == Some(&b'=') {
                        text.pop();
                    }
                }
            }
            // The decoded token with its timestamp changed (the HMAC then fails).
            _ => {
                if let Some(mut bytes) = bytes.filter(|b| b.len() >= 9) {
                    bytes[1..9].copy_from_slice(&(at as u64 * 0x1_0000_0001).to_be_bytes());
                    text = URL_SAFE.encode(bytes).into_bytes();
                }
            }
        }
    }
    text
}

fn structured(input: &mut Input) {
    let keys = keys();
    let timestamp = input.u64();
    let now = input.u64();
    let policy = TimePolicy {
        ttl_secs: input.u64(),
        future_grace_secs: input.u64(),
    };
    let offset = input.u64() as i64;
    let selector = input.u8();
    let plaintext = if selector < 16 {
        EVENTS[usize::from(selector) % EVENTS.len()]
            .as_bytes()
            .to_vec()
    } else {
        input.short_bytes().to_vec()
    };

    // Time rules at any values, against exact arithmetic.
    let age = i128::from(now) - (i128::from(timestamp) - i128::from(offset));
    let peer = PeerClock {
        offset_secs: offset,
    };
    match policy.check(timestamp, now, peer) {
        Ok(()) => assert!(
            age <= i128::from(policy.ttl_secs) && -age <= i128::from(policy.future_grace_secs)
        ),
        Err(FreshnessError::Expired { age_secs, ttl_secs }) => {
            assert!(age > i128::from(policy.ttl_secs));
            assert_eq!(ttl_secs, policy.ttl_secs);
            assert_eq!(
                u128::from(age_secs),
                (age as u128).min(u128::from(u64::MAX))
            );
        }
        Err(FreshnessError::FromFuture { ahead_secs }) => {
            assert!(age <= i128::from(policy.ttl_secs));
            assert!(-age > i128::from(policy.future_grace_secs));
            assert_eq!(
                u128::from(ahead_secs),
                ((-age) as u128).min(u128::from(u64::MAX))
            );
        }
    }
    let skew = i128::from(timestamp) - i128::from(now);
    match PeerClock::measure(timestamp, now) {
        Ok(clock) => {
            assert!(skew.unsigned_abs() <= u128::from(MAX_CLOCK_OFFSET_SECS));
            assert_eq!(i128::from(clock.offset_secs), skew);
        }
        Err(e) => {
            assert!(skew.unsigned_abs() > u128::from(MAX_CLOCK_OFFSET_SECS));
            assert_eq!(e.offset_secs.signum() as i128, skew.signum());
            let _ = e.to_string();
        }
    }

    let token = keys.key.encrypt_at(&plaintext, timestamp);
    let original = token_bytes(token.as_bytes()).expect("a token is base64");
    let representable = timestamp <= u64::MAX - 60;
    match keys.key.decrypt(token.as_bytes()) {
        Ok(opened) => {
            assert!(representable);
            assert_eq!(opened.timestamp, timestamp);
            assert_eq!(opened.plaintext, plaintext);
        }
        Err(e) => {
            assert!(!representable, "a fresh token did not open: {e}");
            assert!(matches!(e, TokenError::BadLength { .. }));
        }
    }

    let damaged = damage(token.as_bytes(), input);
    let unchanged = token_bytes(&damaged).as_ref() == Some(&original);
    raw(&damaged);
    let opened = keys.key.decrypt(&damaged);
    if unchanged && representable {
        assert_eq!(opened.map(|o| o.plaintext), Ok(plaintext.clone()));
    } else {
        assert!(
            opened.is_err(),
            "a damaged token opened: {:?}",
            String::from_utf8_lossy(&damaged)
        );
    }

    // A new connection whose first frame this is.
    let mut inbound = connection(&keys.key, policy);
    let result = inbound.accept::<ClientEvent>(&damaged, now);
    if !(unchanged && representable) {
        assert!(
            matches!(result, Err(Refusal::Decode(DecodeError::Token(_)))),
            "{result:?}"
        );
        assert_eq!(inbound.peer_clock(), None);
        return;
    }
    if skew.unsigned_abs() > u128::from(MAX_CLOCK_OFFSET_SECS) {
        assert!(matches!(result, Err(Refusal::Clock(_))), "{result:?}");
        assert_eq!(inbound.peer_clock(), None);
        return;
    }
    // The offset is measured from this very token, so it is judged as made just now.
    let expected = decode_plaintext::<ClientEvent>(&plaintext).map_err(Refusal::from);
    assert_eq!(result, expected);
    if expected.is_err() {
        // Refused for its plaintext: neither remembered nor trusted for the clock (protocol
        // version 2 remembers only what it accepted).
        assert_eq!(inbound.peer_clock(), None);
        return;
    }
    assert_eq!(
        inbound.peer_clock(),
        Some(PeerClock {
            offset_secs: skew as i64
        })
    );
    // The same token again, on this connection or a new one sharing the guard: a replay.
    assert_eq!(
        inbound.accept::<ClientEvent>(&damaged, now),
        Err(Refusal::Replay(ReplayError::Replayed))
    );
    assert_eq!(
        inbound.accept::<ClientEvent>(token.as_bytes(), now),
        Err(Refusal::Replay(ReplayError::Replayed))
    );
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    if input.u8().is_multiple_of(2) {
        raw(input.rest());
    } else {
        structured(&mut input);
    }
});
