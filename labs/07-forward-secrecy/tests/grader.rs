//! Lab 7's grader. Do not edit: your work is graded with the original.
//!
//! Part 1 records real sessions with the class server through a passive wiretap and checks
//! what a leaked keyfile (and a stolen session key) opens. Part 2 checks the hash ratchet
//! against its specification, out-of-order delivery, replays, the window, and that a stolen
//! state opens no message already read. Inputs come from this file's `SEEDS`.

use std::sync::{Arc, Mutex};

use fernchat::crypto::RoomKey;
use fernchat::kex::PublicShare;
use hmac::{Hmac, Mac};
use lab07::{RatchetError, ReceivingChain, SendingChain, WINDOW, future_key, open_recording};
use labkit::class_server::ClassServer;
use labkit::client::{Client, Confirmed, ConfirmedHandshake, ReferencePsk};
use labkit::limit::within;
use labkit::recorder;
use labkit::rng::SeededRng;
use serde_json::Value;
use sha2::Sha256;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x07_5eed, 29, 20_260_707, 0x7777_1234_4321_7777];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

/// The handshake of `fernchat::kex`, keeping a copy of the session keys: what an attacker
/// who reads the client's memory during the session would steal.
struct Leaky(ReferencePsk, Arc<Mutex<Vec<RoomKey>>>);

impl ConfirmedHandshake for Leaky {
    fn kex(&self) -> &'static str {
        self.0.kex()
    }
    fn public(&self) -> PublicShare {
        self.0.public()
    }
    fn finish(self, nick: &str, welcome: &Value) -> Result<Confirmed, String> {
        let confirmed = self.0.finish(nick, welcome)?;
        let mut stolen = self.1.lock().unwrap();
        stolen.push(confirmed.send.clone());
        stolen.push(confirmed.receive.clone());
        Ok(confirmed)
    }
}

/// One session through a fresh wiretap: says `line`, hears it back, says bye. Returns the
/// recorded frames (every frame up to the echo is recorded before the client gets the echo).
fn recorded_session(
    server: &ClassServer,
    class_key: &RoomKey,
    nick: &str,
    line: &str,
    stolen: Option<Arc<Mutex<Vec<RoomKey>>>>,
) -> Vec<Vec<u8>> {
    let tap = recorder::start(server.addr).unwrap();
    let mut client = match stolen {
        None => Client::join_psk(tap.addr, class_key, nick).unwrap(),
        Some(stolen) => Client::join_confirmed(
            tap.addr,
            class_key,
            nick,
            Leaky(ReferencePsk::new(class_key), stolen),
        )
        .unwrap(),
    };
    client.say(line).unwrap();
    assert_eq!(
        client.recv_type("message").unwrap()["text"],
        line,
        "the room echoes the line said"
    );
    let frames: Vec<Vec<u8>> = tap.frames.try_iter().map(|f| f.token).collect();
    client.bye();
    frames
}

fn opened_lines(opened: &[Option<String>]) -> Vec<Value> {
    opened
        .iter()
        .flatten()
        .map(|text| serde_json::from_str(text).expect("a plaintext is a JSON event"))
        .collect()
}

#[test]
fn a_leaked_keyfile_opens_every_psk_recording_and_only_the_handshake_of_x25519_psk() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let server = ClassServer::start(&class_key, None).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let line = rng.chat_line();
            let psk = recorded_session(&server, &class_key, &rng.nick(), &line, None);
            let opened = open_recording(&psk, std::slice::from_ref(&class_key));
            assert_eq!(opened.len(), psk.len(), "seed {seed}: one answer per frame");
            assert!(
                opened.iter().all(Option::is_some),
                "seed {seed}: a psk recording opens whole"
            );
            assert!(
                opened_lines(&opened)
                    .iter()
                    .any(|e| e["type"] == "say" && e["text"] == line.as_str()),
                "seed {seed}: and the line is in it"
            );

            let line = rng.chat_line();
            let stolen = Arc::new(Mutex::new(Vec::new()));
            let fs = recorded_session(&server, &class_key, &rng.nick(), &line, Some(stolen));
            let opened = open_recording(&fs, std::slice::from_ref(&class_key));
            assert_eq!(opened.len(), fs.len(), "seed {seed}");
            let kinds: Vec<Value> = opened_lines(&opened)
                .iter()
                .map(|e| e["type"].clone())
                .collect();
            assert_eq!(
                kinds,
                ["hello", "handshake"],
                "seed {seed}: only the handshake opens"
            );
            assert!(opened[2..].iter().all(Option::is_none), "seed {seed}");
        }
    });
}

#[test]
fn a_stolen_session_key_opens_that_session_and_no_other() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let server = ClassServer::start(&class_key, None).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let stolen = Arc::new(Mutex::new(Vec::new()));
            let line = rng.chat_line();
            let robbed = recorded_session(
                &server,
                &class_key,
                &rng.nick(),
                &line,
                Some(Arc::clone(&stolen)),
            );
            let other = recorded_session(
                &server,
                &class_key,
                &rng.nick(),
                &rng.chat_line(),
                Some(Arc::new(Mutex::new(Vec::new()))),
            );
            let mut keys = vec![class_key.clone()];
            keys.extend(stolen.lock().unwrap().iter().cloned());
            let opened = open_recording(&robbed, &keys);
            assert!(
                opened.iter().all(Option::is_some),
                "seed {seed}: the robbed session opens whole"
            );
            assert!(
                opened_lines(&opened)
                    .iter()
                    .any(|e| e["text"] == line.as_str()),
                "seed {seed}"
            );
            let opened = open_recording(&other, &keys);
            assert_eq!(
                opened.iter().flatten().count(),
                2,
                "seed {seed}: another session: its handshake only"
            );
        }
    });
}

fn hmac(key: &[u8; 32], input: u8) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    mac.update(&[input]);
    mac.finalize().into_bytes().into()
}

/// The specification (README): chain keys and message keys from `root`, `n` steps.
fn spec(root: [u8; 32], n: usize) -> (Vec<[u8; 32]>, Vec<[u8; 32]>) {
    let (mut chains, mut messages) = (vec![root], Vec::new());
    for i in 0..n {
        messages.push(hmac(&chains[i], lab07::MESSAGE_KEY_INPUT));
        chains.push(hmac(&chains[i], lab07::CHAIN_KEY_INPUT));
    }
    (chains, messages)
}

#[test]
fn the_chains_follow_the_specification() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let root: [u8; 32] = rng.bytes();
            let (_, messages) = spec(root, 40);
            let mut sender = SendingChain::new(root);
            let mut receiver = ReceivingChain::new(root);
            for (i, expected) in messages.iter().enumerate() {
                assert_eq!(
                    sender.next_key(),
                    (i as u64, *expected),
                    "seed {seed}: sent {i}"
                );
                assert_eq!(
                    receiver.key_for(i as u64),
                    Ok(*expected),
                    "seed {seed}: received {i}"
                );
            }
            let (_, others) = spec(rng.bytes(), 1);
            assert_ne!(
                SendingChain::new(rng.bytes()).next_key().1,
                others[0],
                "seed {seed}"
            );
        }
    });
}

#[test]
fn messages_out_of_order_inside_the_window_all_open() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let root: [u8; 32] = rng.bytes();
            let (_, messages) = spec(root, 3 * WINDOW as usize);
            let mut receiver = ReceivingChain::new(root);
            // Three rounds, each a shuffle of the next WINDOW indexes.
            for round in 0..3u64 {
                let mut order: Vec<u64> = (round * WINDOW..(round + 1) * WINDOW).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u64 + 1) as usize);
                }
                for index in order {
                    assert_eq!(
                        receiver.key_for(index),
                        Ok(messages[index as usize]),
                        "seed {seed}: message {index}"
                    );
                }
            }
        }
    });
}

#[test]
fn replays_and_indexes_outside_the_window_are_refused() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let root: [u8; 32] = rng.bytes();
            let (_, messages) = spec(root, 200);
            let mut receiver = ReceivingChain::new(root);
            let first = rng.below(WINDOW);
            assert_eq!(
                receiver.key_for(first),
                Ok(messages[first as usize]),
                "seed {seed}"
            );
            assert_eq!(
                receiver.key_for(first),
                Err(RatchetError::Gone { index: first }),
                "seed {seed}: a replay"
            );
            let next = first + 1;
            assert_eq!(
                receiver.key_for(next + WINDOW),
                Err(RatchetError::TooFarAhead {
                    index: next + WINDOW,
                    next
                }),
                "seed {seed}: just past the window"
            );
            let edge = next + WINDOW - 1;
            assert_eq!(
                receiver.key_for(edge),
                Ok(messages[edge as usize]),
                "seed {seed}: the window's edge"
            );
            // A skipped message inside the window still opens, once.
            let late = next + rng.below(WINDOW - 1);
            assert_eq!(
                receiver.key_for(late),
                Ok(messages[late as usize]),
                "seed {seed}: late"
            );
            assert_eq!(
                receiver.key_for(late),
                Err(RatchetError::Gone { index: late }),
                "seed {seed}"
            );
            // Move on by another window: the keys of messages that never came are dropped.
            let far = edge + WINDOW;
            assert_eq!(
                receiver.key_for(far),
                Ok(messages[far as usize]),
                "seed {seed}"
            );
            let dropped = edge - 1;
            if dropped != late && dropped >= next {
                assert_eq!(
                    receiver.key_for(dropped),
                    Err(RatchetError::Gone { index: dropped }),
                    "seed {seed}: too old"
                );
            }
        }
    });
}

#[test]
fn a_stolen_state_opens_no_message_already_read() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let root: [u8; 32] = rng.bytes();
            let (chains, messages) = spec(root, 64);
            let mut receiver = ReceivingChain::new(root);
            let mut sender = SendingChain::new(root);
            let skipped = [3 + rng.below(5), 10 + rng.below(5)];
            let mut used = Vec::new();
            for index in 0..20u64 {
                sender.next_key();
                if !skipped.contains(&index) {
                    used.push(receiver.key_for(index).unwrap());
                }
            }
            for (who, held) in [
                ("receiver", receiver.held_secrets()),
                ("sender", sender.held_secrets()),
            ] {
                // What an attacker who reads memory now can compute: the held secrets, and every
                // key derived forward from them.
                let mut reachable = Vec::new();
                for secret in &held {
                    let (derived_chains, derived) = spec(*secret, 40);
                    reachable.extend(derived_chains);
                    reachable.extend(derived);
                }
                for (i, key) in used.iter().enumerate() {
                    assert!(
                        !reachable.contains(key),
                        "seed {seed}: the {who}'s memory opens a message already read ({i})"
                    );
                }
                for (i, chain) in chains[..20].iter().enumerate() {
                    assert!(
                        !held.contains(chain),
                        "seed {seed}: the {who} still holds chain key {i}"
                    );
                }
            }
            // What the receiver must still hold: the keys of the two messages that have not come.
            let held = receiver.held_secrets();
            for index in skipped {
                assert!(
                    held.contains(&messages[index as usize]),
                    "seed {seed}: skipped {index} is kept"
                );
            }
            assert!(
                held.contains(&chains[20]),
                "seed {seed}: the current chain key"
            );
        }
    });
}

/// What the chains hold, measured by the grader instead of asked (`held_secrets` is the
/// chain's own report): their size in place (a second key kept beside the chain key shows),
/// and the process's memory over a long conversation (Linux; keys kept on the heap show).
#[test]
fn what_the_chains_hold_is_measured_not_asked() {
    within(2 * LIMIT, || {
        // A chain key and a counter: 40 bytes, with room for a small wrapper, not for a
        // second key kept "for later".
        let sending = std::mem::size_of::<SendingChain>();
        assert!(
            sending <= 48,
            "a SendingChain takes {sending} bytes in place: it needs a chain key (32) and a \
             counter (8); a second key kept beside them survives the step that should delete it"
        );
        // The same, plus one map or list for the skipped keys (at most 48 bytes in place).
        let receiving = std::mem::size_of::<ReceivingChain>();
        assert!(
            receiving <= 88,
            "a ReceivingChain takes {receiving} bytes in place: a chain key (32), a counter (8) \
             and one collection of skipped keys (at most 48) are all it needs"
        );
        let seed = SEEDS[0];
        let mut rng = SeededRng::new(seed);
        let root: [u8; 32] = rng.bytes();
        let (_, expected) = spec(root, 40);
        let mut sender = SendingChain::new(root);
        let mut receiver = ReceivingChain::new(root);
        const MESSAGES: u64 = 200_000;
        let mut before = None;
        for index in 0..MESSAGES {
            let (sent_index, key) = sender.next_key();
            assert_eq!(sent_index, index, "seed {seed}: the sender's index");
            let got = receiver.key_for(index);
            if let Some(spec_key) = expected.get(index as usize) {
                assert_eq!(got, Ok(*spec_key), "seed {seed}: message {index}");
            } else {
                assert!(
                    got == Ok(key),
                    "seed {seed}: message {index}: the receiver's key is not the sender's"
                );
            }
            if index == 1000 {
                before = labkit::limit::resident_bytes();
            }
        }
        let (Some(before), Some(after)) = (before, labkit::limit::resident_bytes()) else {
            eprintln!("this platform does not report memory use: the size checks still hold");
            return;
        };
        let grown = after.saturating_sub(before);
        assert!(
            grown < 4 << 20,
            "the process grew by {} MiB over {MESSAGES} messages received in order, when the \
             chains need a chain key each and no skipped keys: something keeps every key it \
             derived (measured by the grader, whatever held_secrets says)",
            grown >> 20
        );
    });
}

// Stretch part: what a stolen chain key still opens.

#[test]
fn stretch_a_stolen_chain_key_opens_every_later_message() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (chains, messages) = spec(rng.bytes(), 60);
            for _ in 0..8 {
                let k = rng.below(30) as usize;
                let steps = rng.below(29);
                assert_eq!(
                    future_key(&chains[k], steps),
                    messages[k + steps as usize],
                    "seed {seed}: the chain key of step {k}, {steps} steps on"
                );
            }
        }
    });
}
