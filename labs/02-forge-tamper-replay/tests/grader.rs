//! Lab 2's grader. Do not edit: your work is graded with the original.
//!
//! Inputs are made at test time from this file's `SEEDS`. Every "must refuse" is paired with a
//! "must accept"; the replay guard is driven by an explicit clock, never the real one.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::protocol::{Inbound, ServerEvent};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lab02::{
    FUTURE_GRACE_SECS, ReplayGuard, TokenId, Verdict, flip_bit, forge_message, forge_private,
    is_authentic,
};
use labkit::limit::within;
use labkit::rng::SeededRng;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x02_5eed, 11, 20_260_202, 0xc0ff_ee00_1234_5678];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 10;

fn key(rng: &mut SeededRng) -> (RoomKey, String) {
    let text = URL_SAFE.encode(rng.bytes::<32>());
    (RoomKey::from_secret(&text).unwrap(), text)
}

fn decoded(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).unwrap()
}

/// The grader's own bit flip, so the sweep does not depend on yours.
fn flipped(token: &str, bit: usize) -> String {
    let mut raw = decoded(token);
    raw[bit / 8] ^= 0x80 >> (bit % 8);
    URL_SAFE.encode(raw)
}

#[test]
fn a_forged_room_message_is_accepted_by_a_client_as_the_servers() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (class_key, _) = key(&mut rng);
            let texts = [
                rng.chat_line(),
                r#"say "hi" \ bye"#.to_owned(),
                "{\"type\":\"x\"}".to_owned(),
            ];
            for text in texts {
                let from = rng.nick();
                let time = unix_now() * 1000 + rng.below(1000);
                let token = forge_message(&class_key, &from, &text, time);
                // Exactly what a real client does with a frame from the server.
                let policy = TimePolicy::default();
                let mut client =
                    Inbound::new(class_key.clone(), policy, Inbound::shared_guard(policy, 10));
                let event = client.accept::<ServerEvent>(token.as_bytes(), unix_now());
                assert_eq!(
                    event,
                    Ok(ServerEvent::Message {
                        room: "#class".into(),
                        id: 0,
                        from: from.clone(),
                        text: text.clone(),
                        time
                    }),
                    "seed {seed}"
                );
            }
        }
    });
}

#[test]
fn flip_bit_flips_exactly_the_bit_asked_for() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (class_key, _) = key(&mut rng);
            let token = class_key.encrypt(rng.chat_line().as_bytes());
            let raw = decoded(&token);
            let bits = raw.len() * 8;
            let mut positions = vec![0, 1, 7, 8, 9, 71, bits - 1];
            positions.extend((0..40).map(|_| rng.below(bits as u64) as usize));
            for bit in positions {
                let out = flip_bit(&token, bit);
                let got = decoded(&out);
                assert_eq!(
                    got.len(),
                    raw.len(),
                    "seed {seed}, bit {bit}: length changed"
                );
                let differing: Vec<usize> = (0..bits)
                    .filter(|&b| (got[b / 8] ^ raw[b / 8]) & (0x80 >> (b % 8)) != 0)
                    .collect();
                assert_eq!(
                    differing,
                    vec![bit],
                    "seed {seed}: bits that differ after flip_bit({bit})"
                );
                assert_eq!(
                    out,
                    flipped(&token, bit),
                    "seed {seed}: URL-safe base64 with padding"
                );
            }
        }
    });
}

#[test]
fn every_single_bit_flip_is_caught_and_the_original_accepted() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (class_key, text) = key(&mut rng);
            for len in [0, 20, 50] {
                let plaintext = rng.vec(len);
                let token = class_key.encrypt(&plaintext);
                assert!(
                    is_authentic(&text, &token),
                    "seed {seed}: the untouched token"
                );
                // Every bit: the version, the timestamp, the IV, the ciphertext and the HMAC itself.
                for bit in 0..decoded(&token).len() * 8 {
                    assert!(
                        !is_authentic(&text, &flipped(&token, bit)),
                        "seed {seed}: bit {bit} flipped"
                    );
                }
            }
        }
    });
}

#[test]
fn tokens_under_another_key_or_cut_short_are_refused_without_panicking() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (class_key, text) = key(&mut rng);
            let (other_key, _) = key(&mut rng);
            let token = class_key.encrypt(rng.chat_line().as_bytes());
            assert!(
                is_authentic(&text, &token),
                "seed {seed}: made with the key"
            );
            assert!(
                is_authentic(&text, token.trim_end_matches('=')),
                "seed {seed}: without padding"
            );
            assert!(
                !is_authentic(&text, &other_key.encrypt(b"hi")),
                "seed {seed}: another key"
            );
            let raw = decoded(&token);
            for cut in [0, 1, 31, 32, 33, 72, raw.len() - 1] {
                let short = URL_SAFE.encode(&raw[..cut]);
                assert!(
                    !is_authentic(&text, &short),
                    "seed {seed}: cut to {cut} bytes"
                );
            }
            for garbage in ["", "=", "!!!!", "gAAAAA", &token[..token.len() / 2]] {
                assert!(!is_authentic(&text, garbage), "seed {seed}: {garbage:?}");
            }
            assert!(
                !is_authentic("not a key", &token),
                "seed {seed}: a broken key"
            );
        }
    });
}

fn ids(rng: &mut SeededRng, n: usize) -> Vec<TokenId> {
    (0..n).map(|_| rng.bytes()).collect()
}

#[test]
fn a_token_is_accepted_once_and_its_replay_refused() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let now = 1_700_000_000 + rng.below(1_000_000);
            let mut guard = ReplayGuard::new(60, 1000);
            let tokens = ids(&mut rng, 50);
            for id in &tokens {
                assert_eq!(
                    guard.check(*id, now - rng.below(30), now),
                    Verdict::Accept,
                    "seed {seed}"
                );
            }
            for id in &tokens {
                assert_eq!(
                    guard.check(*id, now, now + rng.below(30)),
                    Verdict::Replayed,
                    "seed {seed}"
                );
            }
            // Another token with the same timestamp is a different token.
            assert_eq!(
                guard.check(rng.bytes(), now, now + 30),
                Verdict::Accept,
                "seed {seed}"
            );
            assert_eq!(guard.remembered(), 51, "seed {seed}");
        }
    });
}

#[test]
fn the_edges_of_the_ttl_and_of_the_future_grace() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let ttl = 30 + rng.below(100);
            let now = 1_700_000_000 + rng.below(1_000_000);
            let mut guard = ReplayGuard::new(ttl, 1000);
            assert_eq!(
                guard.check(rng.bytes(), now - ttl, now),
                Verdict::Accept,
                "seed {seed}: exactly ttl old"
            );
            assert_eq!(
                guard.check(rng.bytes(), now - ttl - 1, now),
                Verdict::Expired,
                "seed {seed}: ttl + 1 s old"
            );
            assert_eq!(
                guard.check(rng.bytes(), now + FUTURE_GRACE_SECS, now),
                Verdict::Accept,
                "seed {seed}: at the grace"
            );
            assert_eq!(
                guard.check(rng.bytes(), now + FUTURE_GRACE_SECS + 1, now),
                Verdict::FromFuture,
                "seed {seed}"
            );
            assert_eq!(
                guard.check(rng.bytes(), 0, now),
                Verdict::Expired,
                "seed {seed}: the epoch"
            );
            assert_eq!(
                guard.check(rng.bytes(), u64::MAX, now),
                Verdict::FromFuture,
                "seed {seed}: the far future"
            );
            // Refusals by time are not remembered: only the two accepted tokens are.
            assert_eq!(guard.remembered(), 2, "seed {seed}");
        }
    });
}

#[test]
fn a_long_stream_with_an_advancing_clock_keeps_memory_bounded_by_time() {
    within(LIMIT, || {
        const TTL: u64 = 60;
        const PER_SECOND: u64 = 10;
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let mut guard = ReplayGuard::new(TTL, 100_000);
            let start = 1_700_000_000 + rng.below(1_000_000);
            let mut past: Vec<(TokenId, u64)> = Vec::new();
            let (mut replays, mut refused_by_time) = (0, 0);
            // The grader's own count of the live tokens: the expiry of every accepted token,
            // earliest first. What the guard says of itself (`remembered`) is held to it.
            let mut live: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
            for i in 0..20_000u64 {
                let now = start + i / PER_SECOND;
                // Senders' clocks lag a little; a few run ahead.
                let timestamp = now - rng.below(5) + if rng.below(50) == 0 { 30 } else { 0 };
                let id: TokenId = rng.bytes();
                assert_eq!(
                    guard.check(id, timestamp, now),
                    Verdict::Accept,
                    "seed {seed}, token {i}"
                );
                past.push((id, timestamp));
                live.push(Reverse(timestamp + TTL));
                if i % 7 == 0 {
                    // An attacker replays something captured earlier, recent or old.
                    let back = 1 + rng.below(past.len().min(2000) as u64) as usize;
                    let (old, old_timestamp) = past[past.len() - back];
                    let verdict = guard.check(old, old_timestamp, now);
                    if now > old_timestamp + TTL {
                        assert_eq!(verdict, Verdict::Expired, "seed {seed}, token {i}");
                        refused_by_time += 1;
                    } else {
                        assert_eq!(verdict, Verdict::Replayed, "seed {seed}, token {i}");
                        replays += 1;
                    }
                }
                while live.peek().is_some_and(|Reverse(expiry)| *expiry < now) {
                    live.pop();
                }
                // Exactly the live tokens, with one second of traffic to spare (for a guard that
                // forgets a second late). A queue in arrival order holds tokens that expired
                // behind one stamped ahead, and fails here.
                let bound = live.len() + PER_SECOND as usize;
                assert!(
                    guard.remembered() <= bound,
                    "seed {seed}, token {i}: the guard remembers {} tokens, but only {} of those \
                     it accepted can still be replayed (a replay of any other is refused by \
                     time): forget a token as soon as it expires, whatever order tokens came in",
                    guard.remembered(),
                    live.len()
                );
            }
            assert!(
                replays > 100 && refused_by_time > 100,
                "seed {seed}: the grader's stream is too tame"
            );
        }
    });
}

#[test]
fn a_full_guard_refuses_rather_than_forgets_and_recovers_with_time() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let capacity = 50 + rng.below(100) as usize;
            let now = 1_700_000_000 + rng.below(1_000_000);
            let mut guard = ReplayGuard::new(60, capacity);
            let tokens = ids(&mut rng, capacity);
            for id in &tokens {
                assert_eq!(guard.check(*id, now, now), Verdict::Accept, "seed {seed}");
            }
            assert_eq!(
                guard.check(rng.bytes(), now, now + 1),
                Verdict::Full,
                "seed {seed}: one too many"
            );
            assert_eq!(
                guard.check(tokens[0], now, now + 1),
                Verdict::Replayed,
                "seed {seed}: still remembered"
            );
            assert_eq!(guard.remembered(), capacity, "seed {seed}");
            // Once the tokens have expired they can be forgotten, and there is room again.
            let later = now + 61;
            assert_eq!(
                guard.check(rng.bytes(), later, later),
                Verdict::Accept,
                "seed {seed}: after the ttl"
            );
            assert_eq!(
                guard.remembered(),
                1,
                "seed {seed}: expired tokens forgotten"
            );
            assert_eq!(
                guard.check(tokens[0], now, later),
                Verdict::Expired,
                "seed {seed}: old replay"
            );
        }
    });
}

/// The memory of this process, measured by the grader (Linux), while a guard takes a long
/// stream of tokens: it must stay flat, whatever the guard reports of itself.
#[test]
fn memory_measured_by_the_grader_stays_flat_over_a_long_stream() {
    within(LIMIT * 3, || {
        const TTL: u64 = 60;
        const PER_SECOND: u64 = 20;
        const TOKENS: u64 = 400_000;
        let seed = SEEDS[0];
        let mut rng = SeededRng::new(seed);
        let mut guard = ReplayGuard::new(TTL, 100_000);
        let start = 1_700_000_000 + rng.below(1_000_000);
        let mut recent: Vec<(TokenId, u64)> = Vec::new();
        let mut before = None;
        for i in 0..TOKENS {
            let now = start + i / PER_SECOND;
            let timestamp = now - rng.below(5);
            let id: TokenId = rng.bytes();
            assert_eq!(
                guard.check(id, timestamp, now),
                Verdict::Accept,
                "seed {seed}, token {i}"
            );
            if i % 101 == 0 {
                // A replay of a token still live: a guard that remembers nothing fails here.
                if let Some(&(old, stamped)) = recent.last() {
                    assert_eq!(
                        guard.check(old, stamped, now),
                        Verdict::Replayed,
                        "seed {seed}, token {i}: a replay within the TTL"
                    );
                }
                recent.clear();
            }
            recent.push((id, timestamp));
            if i == 2 * TTL * PER_SECOND {
                // Two TTLs in: the guard holds all it ever should from here on.
                before = labkit::limit::resident_bytes();
            }
        }
        let (Some(before), Some(after)) = (before, labkit::limit::resident_bytes()) else {
            eprintln!("this platform does not report memory use: the time limit still holds");
            return;
        };
        let grown = after.saturating_sub(before);
        assert!(
            grown < 8 << 20,
            "the process grew by {} MiB while the guard took {TOKENS} tokens, of which at most \
             {} were live at once: the guard keeps tokens that expired (measured by the \
             grader, whatever `remembered` says)",
            grown >> 20,
            (TTL + 1) * PER_SECOND
        );
    });
}

// Stretch part: a private message nobody sent.

#[test]
fn stretch_a_forged_private_message_is_accepted_by_its_recipient() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (class_key, _) = key(&mut rng);
            for text in [rng.chat_line(), r#"meet me "here" \ now"#.to_owned()] {
                let (from, to) = (rng.nick(), rng.nick());
                let time = unix_now() * 1000 + rng.below(1000);
                // The recipient's psk session (protocol version 2): its nonces went past under
                // the class key; its client opens a private message only under its own key.
                let (client_nonce, server_nonce) = (Nonce(rng.bytes()), Nonce(rng.bytes()));
                let token = forge_private(
                    &class_key,
                    &client_nonce,
                    &server_nonce,
                    &from,
                    &to,
                    &text,
                    time,
                );
                let own = psk_session_keys(&class_key, &client_nonce, &server_nonce);
                let policy = TimePolicy::default();
                let mut client = Inbound::per_connection(own.server_to_client, policy, 10);
                assert_eq!(
                    client.accept::<ServerEvent>(token.as_bytes(), unix_now()),
                    Ok(ServerEvent::Private {
                        from: from.clone(),
                        to: to.clone(),
                        text: text.clone(),
                        time
                    }),
                    "seed {seed}"
                );
            }
        }
    });
}
