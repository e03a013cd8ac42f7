//! The session state machine of the pre-shared-key protocol as a receiver runs it per
//! connection: `Inbound` measures the peer's clock offset from the first accepted token and
//! judges every later token by it, and remembers a token only once it is accepted. Here one
//! replay guard is shared by every connection (`Inbound::shared_guard`, as the labs use it):
//! the strictest case. (Protocol version 2's server and client keep one guard per connection,
//! `Inbound::per_connection`, which is this with a single connection.)
//!
//! A sequence of steps drives up to four connections sharing one guard while the clock moves:
//! real tokens with chosen timestamps and events, replays of earlier tokens (also with other
//! padding), damaged tokens, garbage, tokens made with another key, and new connections.
//!
//! Input: `POLICY: u8` (bits 0-2 the TTL, 3-4 the future grace, 5-7 the guard's capacity,
//! each from a table), then steps of `OP: u8` (low nibble % 11: what happens, high nibble % 4:
//! on which connection) and its fields (see `step`), at most 64.
//!
//! Checks, at every step: an accepted token is one we made, and never the same token twice, on
//! any connection; it is within the policy relative to the connection's measured clock offset,
//! which is within ten minutes; a connection's clock, once set, never changes, is set only by
//! an accepted token, and then to that token's offset; a refused frame (for its plaintext
//! too) changes nothing and is not remembered; and a new authentic token with a valid event
//! that the time rules allow is not refused (unless the guard is full).
#![no_main]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use fernchat::crypto::{MAX_CLOCK_OFFSET_SECS, ReplayError, ReplayGuard, RoomKey, TimePolicy};
use fernchat::protocol::codec::{DecodeError, Refusal};
use fernchat::protocol::{ClientEvent, Inbound};
use fernchat_fuzz::{Input, NOW, key, other_key, token_bytes};
use libfuzzer_sys::fuzz_target;

const TTLS: [u64; 8] = [60, 0, 1, 30, 300, 3600, u64::MAX, u64::MAX / 2];
const GRACES: [u64; 4] = [60, 0, 600, u64::MAX];
const CAPACITIES: [usize; 8] = [1024, 1, 2, 3, 8, 1024, 1024, 1024];
const CONNECTIONS: usize = 4;
const MAX_STEPS: usize = 64;

/// What clients say: hellos first, then the rest.
const EVENTS: &[&str] = &[
    r#"{"type":"hello","nick":"alice","version":2,"kex":"psk","nonce":"AAECAwQFBgcICQoLDA0ODw=="}"#,
    r#"{"type":"hello","nick":"bob","version":1}"#,
    r#"{"type":"hello","nick":"x","version":2,"kex":"dh"}"#,
    r#"{"type":"say","text":"hi all"}"#,
    r#"{"type":"me","text":"waves"}"#,
    r#"{"type":"msg","to":"bob","text":"psst"}"#,
    r#"{"type":"who"}"#,
    r#"{"type":"nick","nick":"alice2"}"#,
    r#"{"type":"ping","id":7}"#,
    r#"{"type":"pong","id":3}"#,
    r#"{"type":"bye","reason":"lunch"}"#,
    r#"{"type":"dance"}"#,
    r#"{"type":"say"}"#,
    "not json",
];

struct Keys {
    key: RoomKey,
    other: RoomKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        key: key(),
        other: other_key(),
    })
}

struct Session {
    policy: TimePolicy,
    capacity: usize,
    guard: Arc<Mutex<ReplayGuard>>,
    connections: Vec<Inbound>,
    now: u64,
    /// The latest `now` so far: when `now` is below it, the clock went back.
    latest: u64,
    /// Every token made with the class key: its text and timestamp.
    sent: Vec<(Vec<u8>, u64)>,
    /// Decoded bytes of our tokens, to their timestamp.
    ours: HashMap<Vec<u8>, u64>,
    /// Decoded bytes of every token that got past the replay guard.
    accepted: HashSet<Vec<u8>>,
}

impl Session {
    fn new(policy: TimePolicy, capacity: usize) -> Session {
        let guard = Inbound::shared_guard(policy, capacity);
        let connections = (0..CONNECTIONS)
            .map(|_| Inbound::new(keys().key.clone(), policy, Arc::clone(&guard)))
            .collect();
        Session {
            policy,
            capacity,
            guard,
            connections,
            now: NOW,
            latest: NOW,
            sent: Vec::new(),
            ours: HashMap::new(),
            accepted: HashSet::new(),
        }
    }

    fn timestamp(&self, input: &mut Input) -> u64 {
        let delta = input.u16() as i16;
        if delta == i16::MIN {
            input.u64()
        } else {
            self.now.saturating_add_signed(i64::from(delta))
        }
    }

    fn make(&mut self, input: &mut Input) -> Vec<u8> {
        let timestamp = self.timestamp(input);
        let event = EVENTS[usize::from(input.u8()) % EVENTS.len()];
        let token = keys().key.encrypt_at(event.as_bytes(), timestamp);
        let bytes = token_bytes(token.as_bytes()).expect("base64");
        self.ours.insert(bytes, timestamp);
        if self.sent.len() < 256 {
            self.sent.push((token.clone().into_bytes(), timestamp));
        }
        token.into_bytes()
    }

    fn earlier(&self, input: &mut Input) -> Option<Vec<u8>> {
        let index = usize::from(input.u8());
        (!self.sent.is_empty()).then(|| self.sent[index % self.sent.len()].0.clone())
    }

    /// One frame on connection `c`, with every check.
    fn deliver(&mut self, c: usize, frame: &[u8]) {
        let now = self.now;
        let before = self.connections[c].peer_clock();
        let bytes = token_bytes(frame);
        let authentic_ts = bytes.as_ref().and_then(|b| self.ours.get(b)).copied();
        let new = bytes.as_ref().is_some_and(|b| !self.accepted.contains(b));
        let result = self.connections[c].accept::<ClientEvent>(frame, now);
        if std::env::var_os("FUZZ_TRACE").is_some() {
            eprintln!("now {now} connection {c} ts {authentic_ts:?} clock {before:?}: {result:?}");
        }
        let after = self.connections[c].peer_clock();
        // Accepted: remembered, and (if first) its clock trusted. A token refused for its
        // plaintext is neither (protocol version 2 remembers only what it accepted).
        let past_guard = result.is_ok();
        let plaintext_refused = matches!(
            &result,
            Err(Refusal::Decode(e)) if !matches!(e, DecodeError::Token(_))
        );
        if !past_guard {
            assert_eq!(
                after, before,
                "a refused frame changed the clock: {result:?}"
            );
        }
        // Would the time rules let this token through?
        let allowed =
            authentic_ts
                .filter(|&ts| ts <= u64::MAX - 60)
                .is_some_and(|ts| match before {
                    Some(peer) => self.policy.check(ts, now, peer).is_ok(),
                    None => ts.abs_diff(now) <= MAX_CLOCK_OFFSET_SECS,
                });
        if past_guard {
            let ts = authentic_ts.expect("only our own tokens get past the guard");
            let bytes = bytes.expect("base64");
            assert!(
                self.accepted.insert(bytes),
                "a replayed token was accepted again (ts {ts}, now {now}, connection {c})"
            );
            let peer = after.expect("a token past the guard sets the clock");
            match before {
                Some(earlier) => assert_eq!(peer, earlier, "the clock changed"),
                None => assert_eq!(
                    i128::from(peer.offset_secs),
                    i128::from(ts) - i128::from(now)
                ),
            }
            assert!(peer.offset_secs.unsigned_abs() <= MAX_CLOCK_OFFSET_SECS);
            assert!(
                self.policy.check(ts, now, peer).is_ok(),
                "accepted outside the policy"
            );
            assert!(allowed);
        } else if allowed && new && !plaintext_refused {
            // A new, timely token of ours: refused only when the guard is full, or after the
            // clock went back (the guard then fails closed).
            let full = matches!(result, Err(Refusal::Replay(ReplayError::Full)))
                && self.guard.lock().unwrap().len() >= self.capacity;
            let went_back = matches!(result, Err(Refusal::Replay(ReplayError::ClockWentBack)))
                && now < self.latest;
            assert!(
                full || went_back,
                "a new token within the rules was refused: {result:?}"
            );
        }
    }

    fn step(&mut self, input: &mut Input) {
        self.latest = self.latest.max(self.now);
        let op = input.u8();
        let c = usize::from(op >> 4) % CONNECTIONS;
        match (op & 0x0f) % 11 {
            // The clock moves: a little, a lot, or back.
            0 => self.now = self.now.saturating_add(u64::from(input.u16())),
            1 => self.now = self.now.saturating_add(u64::from(input.u32())),
            2 => self.now = self.now.saturating_sub(u64::from(input.u16())),
            // A new token.
            3 | 4 => {
                let frame = self.make(input);
                self.deliver(c, &frame);
            }
            // A replay, as it was or with other padding.
            5 => {
                if let Some(frame) = self.earlier(input) {
                    self.deliver(c, &frame);
                }
            }
            6 => {
                if let Some(mut frame) = self.earlier(input) {
                    if frame.last() == Some(&b'=') {
                        while frame.last() == Some(&b'=') {
                            frame.pop();
                        }
                    } else {
                        frame.extend_from_slice(b"==");
                    }
                    self.deliver(c, &frame);
                }
            }
            // A damaged token.
            7 => {
                if let Some(mut frame) = self.earlier(input) {
                    let at = usize::from(input.u16()) % frame.len();
                    frame[at] ^= input.u8().max(1);
                    self.deliver(c, &frame);
                }
            }
            // Garbage.
            8 => {
                let frame = input.short_bytes().to_vec();
                self.deliver(c, &frame);
            }
            // A token made with another key.
            9 => {
                let timestamp = self.timestamp(input);
                let frame = keys().other.encrypt_at(br#"{"type":"who"}"#, timestamp);
                self.deliver(c, frame.as_bytes());
            }
            // The connection closes and a new one takes its place.
            _ => {
                self.connections[c] =
                    Inbound::new(keys().key.clone(), self.policy, Arc::clone(&self.guard))
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let selector = input.u8();
    let policy = TimePolicy {
        ttl_secs: TTLS[usize::from(selector & 7)],
        future_grace_secs: GRACES[usize::from((selector >> 3) & 3)],
    };
    let capacity = CAPACITIES[usize::from(selector >> 5)];
    let mut session = Session::new(policy, capacity);
    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        session.step(&mut input);
    }
});
