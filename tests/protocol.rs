//! Every way the protocol layer refuses input, through the public API only: frames that are
//! too long or cut off, and each check `Inbound::accept` makes, with the `ErrorCode` a peer
//! is sent for it.

use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::{
    ClockError, FreshnessError, MAX_CLOCK_OFFSET_SECS, PeerClock, ReplayError, ReplayGuard,
    RoomKey, TimePolicy, TokenError,
};
use fernchat::protocol::codec::{self, DecodeError, Refusal};
use fernchat::protocol::{ClientEvent, ErrorCode, FrameError, FrameReader, Inbound, ServerEvent};

/// A fixed "now" (2025-11-22): tests inject the clock rather than read it.
const NOW: u64 = 1_763_800_000;

fn say(text: &str) -> ClientEvent {
    ClientEvent::Say {
        room: None,
        text: text.to_owned(),
    }
}

/// A frame as `FrameReader` hands it over: the token without its newline.
fn frame<E: serde::Serialize>(key: &RoomKey, event: &E, timestamp: u64) -> Vec<u8> {
    let mut frame = codec::seal_at(key, event, timestamp);
    assert_eq!(
        frame.pop(),
        Some(b'\n'),
        "seal_at ends a frame with a newline"
    );
    frame
}

/// A token around arbitrary plaintext bytes, for plaintexts no event serializes to.
fn raw_frame(key: &RoomKey, plaintext: &[u8], timestamp: u64) -> Vec<u8> {
    key.encrypt_at(plaintext, timestamp).into_bytes()
}

fn connection(key: &RoomKey) -> Inbound {
    let policy = TimePolicy::default();
    Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 1000))
}

/// An inbound whose peer clock is already measured as equal to ours.
fn synced(key: &RoomKey) -> Inbound {
    let mut inbound = connection(key);
    let hello = ClientEvent::Hello {
        nonce: None,
        since: None,
        client: None,
        kex_public: None,
        nick: "alice".to_owned(),
        version: 1,
        kex: "psk".to_owned(),
    };
    assert_eq!(
        inbound.accept::<ClientEvent>(&frame(key, &hello, NOW), NOW),
        Ok(hello)
    );
    assert_eq!(inbound.peer_clock(), Some(PeerClock { offset_secs: 0 }));
    inbound
}

fn refused(inbound: &mut Inbound, frame: &[u8], now: u64) -> Refusal {
    match inbound.accept::<ClientEvent>(frame, now) {
        Ok(event) => panic!("accepted {event:?}"),
        Err(refusal) => refusal,
    }
}

// ---------------------------------------------------------------------------------------
// Frames

#[test]
fn an_over_long_line_is_refused_and_reading_resumes() {
    let mut data = b"first\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 5000));
    data.extend(b"\nafter\n");
    let mut reader = FrameReader::new(Cursor::new(data), 100);
    assert_eq!(reader.read_frame().expect("first"), Some(&b"first"[..]));
    assert!(matches!(
        reader.read_frame(),
        Err(FrameError::LineTooLong { limit: 100 })
    ));
    assert_eq!(reader.read_frame().expect("after"), Some(&b"after"[..]));
    assert_eq!(reader.read_frame().expect("end"), None);
}

#[test]
fn a_line_cut_off_at_eof_is_reported() {
    let mut reader = FrameReader::new(Cursor::new(b"whole\ncut off".to_vec()), 100);
    assert_eq!(reader.read_frame().expect("whole"), Some(&b"whole"[..]));
    let err = reader.read_frame().expect_err("cut off");
    assert!(matches!(err, FrameError::TruncatedAtEof), "{err:?}");
    assert!(!err.is_timeout());
}

/// Hands out `parts` one per read, with a timeout before each.
struct Timeouts {
    parts: Vec<&'static [u8]>,
    timed_out: bool,
}

impl Read for Timeouts {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.timed_out {
            self.timed_out = true;
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "read timeout"));
        }
        self.timed_out = false;
        if self.parts.is_empty() {
            return Ok(0);
        }
        let part = self.parts.remove(0);
        out[..part.len()].copy_from_slice(part);
        Ok(part.len())
    }
}

#[test]
fn a_read_timeout_is_reported_and_the_frame_survives_it() {
    let source = Timeouts {
        parts: vec![b"hel", b"lo\n"],
        timed_out: false,
    };
    let mut reader = FrameReader::new(source, 100);
    let mut timeouts = 0;
    let mut frames = Vec::new();
    for _ in 0..20 {
        match reader.read_frame() {
            Ok(Some(frame)) => frames.push(frame.to_vec()),
            Ok(None) => break,
            Err(e) if e.is_timeout() => timeouts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(frames, vec![b"hello".to_vec()]);
    assert_eq!(timeouts, 3);
}

/// Found by the `frame_reader` fuzz target (input `fe ff ff ff ff ff ff ff ff`: a limit of
/// `usize::MAX`). `max_line + 2` overflowed: a debug build panicked, and a release build made a
/// 1-byte buffer that refused every line (`usize::MAX`) or an empty one whose first read
/// looked like the end of the stream (`usize::MAX - 1`). `--max-line` accepts such values.
#[test]
fn a_limit_near_usize_max_reads_lines_normally() {
    for limit in [usize::MAX, usize::MAX - 1, usize::MAX - 2] {
        let mut data = b"hello\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend(b"\r\nlast");
        let mut reader = FrameReader::new(Cursor::new(data), limit);
        assert_eq!(reader.read_frame().expect("hello"), Some(&b"hello"[..]));
        let long = reader.read_frame().expect("a long line").expect("a frame");
        assert_eq!(long.len(), 5000, "limit {limit}");
        assert!(matches!(
            reader.read_frame(),
            Err(FrameError::TruncatedAtEof)
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Not a token with our key: Undecryptable

#[test]
fn frames_that_are_not_tokens_with_our_key_are_undecryptable() {
    let key = RoomKey::generate();
    let good = frame(&key, &say("hi"), NOW);
    let raw = URL_SAFE.decode(&good).expect("base64");

    let mut not_a_token = raw.clone();
    not_a_token[0] = 0x42;
    let mut tampered = raw.clone();
    tampered[40] ^= 0x01;
    let mut tampered_timestamp = raw.clone();
    tampered_timestamp[8] ^= 0x01;
    let other_key = RoomKey::generate();

    let cases: Vec<(&str, Vec<u8>, TokenError)> = vec![
        (
            "garbage bytes",
            b"\xff\xfe hello \x00 world".to_vec(),
            TokenError::NotBase64,
        ),
        (
            "a line of chat typed into netcat",
            b"hello everyone".to_vec(),
            TokenError::NotBase64,
        ),
        (
            "truncated token",
            good[..good.len() / 2].to_vec(),
            TokenError::BadLength { len: 0 },
        ),
        (
            "base64 of plain text",
            URL_SAFE
                .encode(b"this is valid base64 but it is not a Fernet token at all, friend!")
                .into_bytes(),
            TokenError::BadLength { len: 0 },
        ),
        (
            "a token-shaped thing with the wrong version byte",
            URL_SAFE.encode(&not_a_token).into_bytes(),
            TokenError::BadVersion { version: 0x42 },
        ),
        (
            "made with another key",
            frame(&other_key, &say("hi"), NOW),
            TokenError::WrongKeyOrTampered {
                expected: key.fingerprint(),
            },
        ),
        (
            "one ciphertext bit flipped",
            URL_SAFE.encode(&tampered).into_bytes(),
            TokenError::WrongKeyOrTampered {
                expected: key.fingerprint(),
            },
        ),
        (
            "one timestamp bit flipped",
            URL_SAFE.encode(&tampered_timestamp).into_bytes(),
            TokenError::WrongKeyOrTampered {
                expected: key.fingerprint(),
            },
        ),
    ];
    for (what, bytes, expected) in cases {
        let mut inbound = synced(&key);
        let refusal = refused(&mut inbound, &bytes, NOW);
        assert_eq!(refusal.code(), ErrorCode::Undecryptable, "{what}");
        let Refusal::Decode(DecodeError::Token(got)) = &refusal else {
            panic!("{what}: {refusal:?}");
        };
        match expected {
            // The exact decoded length is incidental; the class is what matters.
            TokenError::BadLength { .. } => {
                assert!(
                    matches!(got, TokenError::BadLength { .. }),
                    "{what}: {got:?}"
                )
            }
            expected => assert_eq!(*got, expected, "{what}"),
        }
        // The refusal names our key's fingerprint at most, never the key.
        assert!(!refusal.to_string().contains(key.expose_secret()));
    }
    // The untouched token is fine, so the refusals above are about the changes.
    assert_eq!(
        synced(&key).accept::<ClientEvent>(&good, NOW),
        Ok(say("hi"))
    );
}

#[test]
fn a_token_from_another_key_on_the_first_frame_does_not_set_the_clock() {
    let key = RoomKey::generate();
    let mut inbound = connection(&key);
    let foreign = frame(&RoomKey::generate(), &say("hi"), NOW + 500);
    assert_eq!(
        refused(&mut inbound, &foreign, NOW).code(),
        ErrorCode::Undecryptable
    );
    assert_eq!(inbound.peer_clock(), None);
}

// ---------------------------------------------------------------------------------------
// Authentic, but not an acceptable event

#[test]
fn each_kind_of_bad_plaintext_has_its_own_refusal_and_code() {
    let key = RoomKey::generate();
    let mut inbound = synced(&key);
    let mut check = |plaintext: &[u8], code: ErrorCode| -> DecodeError {
        let refusal = refused(&mut inbound, &raw_frame(&key, plaintext, NOW), NOW);
        assert_eq!(
            refusal.code(),
            code,
            "{:?}: {refusal:?}",
            String::from_utf8_lossy(plaintext)
        );
        match refusal {
            Refusal::Decode(e) => e,
            other => panic!("not a decode refusal: {other:?}"),
        }
    };

    for bad_json in [
        &b"not json"[..],
        b"{\"type\":\"say\",\"text\":\"unterminated",
        b"",
        b"\xff\xfe{}",
    ] {
        assert!(matches!(
            check(bad_json, ErrorCode::BadJson),
            DecodeError::BadJson { .. }
        ));
    }
    for not_object in [&b"[1,2,3]"[..], b"\"say\"", b"42", b"null"] {
        assert!(matches!(
            check(not_object, ErrorCode::BadJson),
            DecodeError::BadJson { .. }
        ));
    }
    // No `type`, or one that is not a string: the type field itself is bad.
    for missing in [
        &br#"{"text":"hi"}"#[..],
        br#"{"type":5,"text":"hi"}"#,
        b"{}",
    ] {
        assert_eq!(
            check(missing, ErrorCode::BadField),
            DecodeError::MissingType
        );
    }
    match check(br#"{"type":"dance","text":"hi"}"#, ErrorCode::UnknownType) {
        DecodeError::UnknownType { found, known } => {
            assert_eq!(found, "dance");
            assert!(known.contains("say") && known.contains("hello"), "{known}");
        }
        other => panic!("{other:?}"),
    }
    // A server event sent to the server is an unknown type there, not a bad field.
    assert!(matches!(
        check(
            br#"{"type":"welcome","nick":"al","users":[],"version":1,"server":"x","max_text":1,"time":1}"#,
            ErrorCode::UnknownType
        ),
        DecodeError::UnknownType { .. }
    ));
    for (bad_field, kind) in [
        (&br#"{"type":"say","text":5}"#[..], "say"),
        (br#"{"type":"say"}"#, "say"),
        (br#"{"type":"ping","id":"seven"}"#, "ping"),
        (br#"{"type":"ping","id":-1}"#, "ping"),
        (br#"{"type":"hello","nick":"al"}"#, "hello"),
        (br#"{"type":"msg","to":["bob"],"text":"x"}"#, "msg"),
    ] {
        match check(bad_field, ErrorCode::BadField) {
            DecodeError::BadField { kind: got, .. } => assert_eq!(got, kind),
            other => panic!("{other:?}"),
        }
    }
    // The same plaintexts, well-formed, are accepted: the refusals are about the defects.
    assert_eq!(
        inbound.accept::<ClientEvent>(&raw_frame(&key, br#"{"type":"say","text":"5"}"#, NOW), NOW),
        Ok(say("5"))
    );
    assert_eq!(
        inbound.accept::<ClientEvent>(
            &raw_frame(&key, br#"{"type":"ping","id":7,"extra":"ignored"}"#, NOW),
            NOW
        ),
        Ok(ClientEvent::Ping { id: 7 })
    );
}

#[test]
fn the_client_side_decodes_server_events_with_the_same_checks() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let mut inbound = Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 10));
    let notice = ServerEvent::Notice {
        text: "hello".to_owned(),
        time: NOW * 1000,
    };
    assert_eq!(
        inbound.accept::<ServerEvent>(&frame(&key, &notice, NOW), NOW),
        Ok(notice)
    );
    let refusal = inbound
        .accept::<ServerEvent>(&frame(&key, &say("hi"), NOW), NOW)
        .expect_err("a client event is not a server event");
    assert_eq!(refusal.code(), ErrorCode::UnknownType);
}

#[test]
fn refusal_codes_are_distinct_per_class() {
    let codes = [
        ErrorCode::Undecryptable,
        ErrorCode::BadJson,
        ErrorCode::UnknownType,
        ErrorCode::BadField,
        ErrorCode::Replayed,
        ErrorCode::Expired,
        ErrorCode::FromFuture,
        ErrorCode::ClockSkew,
    ];
    let refusals = [
        Refusal::Decode(DecodeError::Token(TokenError::NotBase64)),
        Refusal::Decode(DecodeError::BadJson {
            detail: String::new(),
        }),
        Refusal::Decode(DecodeError::UnknownType {
            found: String::new(),
            known: String::new(),
        }),
        Refusal::Decode(DecodeError::BadField {
            kind: String::new(),
            detail: String::new(),
        }),
        Refusal::Replay(ReplayError::Replayed),
        Refusal::Stale(FreshnessError::Expired {
            age_secs: 61,
            ttl_secs: 60,
        }),
        Refusal::Stale(FreshnessError::FromFuture { ahead_secs: 61 }),
        Refusal::Clock(ClockError { offset_secs: 601 }),
    ];
    for (refusal, code) in refusals.iter().zip(codes) {
        assert_eq!(refusal.code(), code, "{refusal:?}");
    }
    let mut unique = codes.to_vec();
    unique.sort_by_key(|c| format!("{c:?}"));
    unique.dedup();
    assert_eq!(unique.len(), codes.len());
}

// ---------------------------------------------------------------------------------------
// Time and replays

#[test]
fn a_replayed_token_is_refused_even_with_different_padding() {
    let key = RoomKey::generate();
    let mut inbound = synced(&key);
    let token = frame(&key, &say("once"), NOW);
    assert_eq!(inbound.accept::<ClientEvent>(&token, NOW), Ok(say("once")));
    let again = refused(&mut inbound, &token, NOW + 1);
    assert_eq!(again, Refusal::Replay(ReplayError::Replayed));
    assert_eq!(again.code(), ErrorCode::Replayed);
    // Base64 padding is not part of the token's identity: the same bytes are the same token.
    let unpadded = URL_SAFE_NO_PAD
        .encode(URL_SAFE.decode(&token).expect("base64"))
        .into_bytes();
    assert_ne!(unpadded, token);
    assert_eq!(
        refused(&mut inbound, &unpadded, NOW + 2).code(),
        ErrorCode::Replayed
    );
    // The same message sent again is a new token, and welcome.
    assert_eq!(
        inbound.accept::<ClientEvent>(&frame(&key, &say("once"), NOW + 3), NOW + 3),
        Ok(say("once"))
    );
}

#[test]
fn a_token_replayed_on_another_connection_sharing_the_guard_is_refused() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let guard = Inbound::shared_guard(policy, 100);
    let mut first = Inbound::new(key.clone(), policy, Arc::clone(&guard));
    let mut second = Inbound::new(key.clone(), policy, Arc::clone(&guard));
    let mut unrelated = Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 100));
    let token = frame(&key, &say("captured"), NOW);
    assert_eq!(
        first.accept::<ClientEvent>(&token, NOW),
        Ok(say("captured"))
    );
    let refusal = refused(&mut second, &token, NOW + 5);
    assert_eq!(refusal.code(), ErrorCode::Replayed);
    // A refused replay must not let the replayer set the connection's clock.
    assert_eq!(second.peer_clock(), None);
    // Only the shared memory refuses it: a connection with its own guard would accept it.
    assert_eq!(
        unrelated.accept::<ClientEvent>(&token, NOW + 5),
        Ok(say("captured"))
    );
}

#[test]
fn a_full_replay_guard_refuses_rather_than_forgets() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let mut inbound = Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 2));
    for i in 0..2 {
        assert!(
            inbound
                .accept::<ClientEvent>(&frame(&key, &say("x"), NOW + i), NOW + i)
                .is_ok()
        );
    }
    let refusal = refused(&mut inbound, &frame(&key, &say("x"), NOW + 2), NOW + 2);
    assert_eq!(refusal, Refusal::Replay(ReplayError::Full));
    // Its own code, never `replayed`: the token was not a replay (issue 12 item 1).
    assert_eq!(refusal.code(), ErrorCode::ReplayMemoryFull);
    // Once the window has passed, the remembered tokens expire and there is room again.
    let later = NOW + policy.replay_window_secs() + 10;
    let mut fresh = Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 2));
    assert!(
        fresh
            .accept::<ClientEvent>(&frame(&key, &say("x"), later), later)
            .is_ok()
    );
}

#[test]
fn expired_and_from_future_tokens_are_refused_at_the_limits() {
    let key = RoomKey::generate();
    let mut inbound = synced(&key);
    let ttl = TimePolicy::default().ttl_secs;
    let grace = TimePolicy::default().future_grace_secs;
    let at = |ts: u64| frame(&key, &say("t"), ts);

    assert!(inbound.accept::<ClientEvent>(&at(NOW - ttl), NOW).is_ok());
    let old = refused(&mut inbound, &at(NOW - ttl - 1), NOW);
    assert_eq!(
        old,
        Refusal::Stale(FreshnessError::Expired {
            age_secs: ttl + 1,
            ttl_secs: ttl
        })
    );
    assert_eq!(old.code(), ErrorCode::Expired);

    assert!(inbound.accept::<ClientEvent>(&at(NOW + grace), NOW).is_ok());
    let ahead = refused(&mut inbound, &at(NOW + grace + 1), NOW);
    assert_eq!(
        ahead,
        Refusal::Stale(FreshnessError::FromFuture {
            ahead_secs: grace + 1
        })
    );
    assert_eq!(ahead.code(), ErrorCode::FromFuture);

    // A token that was fine when made goes stale if delivered late.
    let token = at(NOW);
    assert_eq!(
        refused(&mut inbound, &token, NOW + ttl + 1).code(),
        ErrorCode::Expired
    );
}

#[test]
fn a_peer_clock_within_ten_minutes_is_tolerated_for_the_whole_connection() {
    let key = RoomKey::generate();
    let skew = 9 * 60;
    let mut inbound = connection(&key);
    // The peer's clock is 9 minutes fast: its hello is stamped 9 minutes ahead of ours.
    assert!(
        inbound
            .accept::<ClientEvent>(&frame(&key, &say("hi"), NOW + skew), NOW)
            .is_ok()
    );
    assert_eq!(
        inbound.peer_clock(),
        Some(PeerClock {
            offset_secs: skew as i64
        })
    );
    // Later frames are judged by its clock: fresh ones pass...
    for step in 1..=5 {
        let now = NOW + step * 20;
        assert!(
            inbound
                .accept::<ClientEvent>(&frame(&key, &say("more"), now + skew), now)
                .is_ok(),
            "step {step}"
        );
    }
    // ...and one stamped by our clock is, by its clock, 9 minutes old.
    assert_eq!(
        refused(&mut inbound, &frame(&key, &say("x"), NOW + 100), NOW + 100).code(),
        ErrorCode::Expired
    );

    // Behind by 9 minutes works the same way.
    let mut behind = connection(&key);
    assert!(
        behind
            .accept::<ClientEvent>(&frame(&key, &say("hi"), NOW - skew), NOW)
            .is_ok()
    );
    assert!(
        behind
            .accept::<ClientEvent>(&frame(&key, &say("x"), NOW + 30 - skew), NOW + 30)
            .is_ok()
    );

    // Exactly the limit is still tolerated.
    let mut edge = connection(&key);
    assert!(
        edge.accept::<ClientEvent>(&frame(&key, &say("hi"), NOW + MAX_CLOCK_OFFSET_SECS), NOW)
            .is_ok()
    );
}

#[test]
fn a_peer_clock_beyond_ten_minutes_is_refused_as_clock_skew() {
    let key = RoomKey::generate();
    for (offset, ahead) in [
        (MAX_CLOCK_OFFSET_SECS + 1, true),
        (MAX_CLOCK_OFFSET_SECS + 1, false),
        (3600, true),
        (86_400 * 365, false),
    ] {
        let mut inbound = connection(&key);
        let stamp = if ahead { NOW + offset } else { NOW - offset };
        let refusal = refused(&mut inbound, &frame(&key, &say("hi"), stamp), NOW);
        assert_eq!(refusal.code(), ErrorCode::ClockSkew, "{offset} {ahead}");
        let expected = if ahead {
            offset as i64
        } else {
            -(offset as i64)
        };
        assert_eq!(
            refusal,
            Refusal::Clock(ClockError {
                offset_secs: expected
            })
        );
        let shown = refusal.to_string();
        assert!(
            shown.contains(if ahead { "ahead of" } else { "behind" }) && shown.contains("clock"),
            "{shown}"
        );
        // The refused token did not set the clock; a correct one is still accepted.
        assert_eq!(inbound.peer_clock(), None);
        assert!(
            inbound
                .accept::<ClientEvent>(&frame(&key, &say("ok"), NOW), NOW)
                .is_ok()
        );
    }
}

/// The replay window must cover every moment at which a token could still pass the time
/// policy on *some* connection. The worst case: a sender whose clock is 10 minutes fast
/// stamps a token a minute further ahead, and an attacker replays it on a connection whose
/// first token measured a clock 10 minutes slow. It passes the policy until exactly
/// `replay_window_secs()` after it was first accepted, so the guard must remember it
/// through that second too.
#[test]
fn a_replay_at_the_very_end_of_the_window_is_refused() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let guard = Inbound::shared_guard(policy, 100);
    let offset = MAX_CLOCK_OFFSET_SECS;

    let mut sender = Inbound::new(key.clone(), policy, Arc::clone(&guard));
    assert!(
        sender
            .accept::<ClientEvent>(&frame(&key, &say("hello"), NOW + offset), NOW)
            .is_ok()
    );
    let captured = frame(
        &key,
        &say("captured"),
        NOW + offset + policy.future_grace_secs,
    );
    assert!(sender.accept::<ClientEvent>(&captured, NOW).is_ok());

    let replay_at = NOW + policy.replay_window_secs();
    let mut attacker = Inbound::new(key.clone(), policy, Arc::clone(&guard));
    // A token of the sender's that was never delivered sets this connection's clock slow.
    assert!(
        attacker
            .accept::<ClientEvent>(&frame(&key, &say("x"), replay_at - offset), replay_at)
            .is_ok()
    );
    // The captured token is still fresh by that clock...
    let opened = key.decrypt(&captured).expect("authentic");
    assert_eq!(
        policy.check(
            opened.timestamp,
            replay_at,
            attacker.peer_clock().expect("measured")
        ),
        Ok(())
    );
    // ...so only the replay guard can stop it.
    assert_eq!(
        refused(&mut attacker, &captured, replay_at).code(),
        ErrorCode::Replayed
    );
}

#[test]
fn the_replay_guard_remembers_through_the_last_second_of_its_window() {
    let mut guard = ReplayGuard::new(100, 10);
    let id = [7u8; 16];
    assert_eq!(guard.check_and_remember(id, NOW), Ok(()));
    assert_eq!(
        guard.check_and_remember(id, NOW + 100),
        Err(ReplayError::Replayed)
    );
    assert_eq!(guard.check_and_remember(id, NOW + 101), Ok(()));
    assert_eq!(guard.len(), 1);
}

/// Found by the `handshake` fuzz target. A token accepted at `NOW`; the clock jumps 65535 s
/// ahead, where another token is accepted (and the guard forgets the first, rightly: at that
/// time it can no longer pass the time policy); the clock goes back to `NOW` (an NTP step),
/// and the first token, replayed on a new connection, passed the policy again and was
/// accepted a second time. Now the guard refuses what it cannot vouch for.
#[test]
fn a_replay_after_the_clock_went_forward_and_back_is_refused() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let guard = Inbound::shared_guard(policy, 100);
    let connect = || Inbound::new(key.clone(), policy, Arc::clone(&guard));

    let captured = frame(&key, &say("hi all"), NOW - 6);
    assert!(connect().accept::<ClientEvent>(&captured, NOW).is_ok());
    let later = NOW + 65_535;
    assert!(
        connect()
            .accept::<ClientEvent>(&frame(&key, &say("later"), later - 1), later)
            .is_ok()
    );
    let mut attacker = connect();
    assert_eq!(
        refused(&mut attacker, &captured, NOW),
        Refusal::Replay(ReplayError::ClockWentBack)
    );
    assert_eq!(
        refused(&mut attacker, &captured, NOW).code(),
        ErrorCode::Replayed
    );
    assert_eq!(attacker.peer_clock(), None, "a refused token set the clock");
}

#[test]
fn the_replay_guard_fails_closed_only_while_the_clock_is_back_in_forgotten_time() {
    let window = 100;
    let mut guard = ReplayGuard::new(window, 10);
    let (first, second, third) = ([1u8; 16], [2u8; 16], [3u8; 16]);
    assert_eq!(guard.check_and_remember(first, NOW), Ok(()));
    // A clock that only moves forward never meets the refusal.
    assert_eq!(guard.check_and_remember(second, NOW + window + 1), Ok(()));
    assert_eq!(guard.len(), 1, "the first entry expired");
    // Back to where `first` was forgotten: nothing unknown is accepted, up to its expiry.
    for now in [NOW, NOW + window] {
        assert_eq!(
            guard.check_and_remember(first, now),
            Err(ReplayError::ClockWentBack)
        );
        assert_eq!(
            guard.check_and_remember(third, now),
            Err(ReplayError::ClockWentBack)
        );
    }
    // What it remembers is still a replay; past the forgotten time, all is normal again.
    assert_eq!(
        guard.check_and_remember(second, NOW),
        Err(ReplayError::Replayed)
    );
    assert_eq!(guard.check_and_remember(third, NOW + window + 1), Ok(()));
}

#[test]
fn a_poisoned_replay_guard_still_refuses_replays() {
    let key = RoomKey::generate();
    let policy = TimePolicy::default();
    let guard: Arc<Mutex<ReplayGuard>> = Inbound::shared_guard(policy, 100);
    let mut inbound = Inbound::new(key.clone(), policy, Arc::clone(&guard));
    let token = frame(&key, &say("x"), NOW);
    assert!(inbound.accept::<ClientEvent>(&token, NOW).is_ok());
    let poisoner = Arc::clone(&guard);
    let joined = std::thread::spawn(move || {
        let _held = poisoner.lock().expect("not yet poisoned");
        panic!("deliberate panic in a test: a connection thread dies holding the lock");
    })
    .join();
    assert!(joined.is_err());
    assert!(guard.is_poisoned());
    assert_eq!(
        refused(&mut inbound, &token, NOW).code(),
        ErrorCode::Replayed
    );
}

// ---------------------------------------------------------------------------------------
// Key rotation

#[test]
fn a_ring_of_new_and_old_keys_opens_both_and_encrypts_with_the_new() {
    let old = RoomKey::generate();
    let new = RoomKey::generate();
    let ring = RoomKey::ring(vec![new.clone(), old.clone()]).expect("two keys");
    assert_eq!(ring.fingerprint(), new.fingerprint());
    assert_eq!(
        ring.fingerprints(),
        vec![new.fingerprint(), old.fingerprint()]
    );

    let from_old = old.encrypt_at(b"old", NOW);
    let from_new = new.encrypt_at(b"new", NOW);
    let opened = ring
        .decrypt(from_old.as_bytes())
        .expect("old key still opens");
    assert_eq!(
        (opened.plaintext.as_slice(), opened.key_index),
        (&b"old"[..], 1)
    );
    let opened = ring.decrypt(from_new.as_bytes()).expect("new key opens");
    assert_eq!(
        (opened.plaintext.as_slice(), opened.key_index),
        (&b"new"[..], 0)
    );
    // What the ring makes, the new key alone opens; the old key alone does not.
    let made = ring.encrypt_at(b"made", NOW);
    assert!(new.decrypt(made.as_bytes()).is_ok());
    assert!(old.decrypt(made.as_bytes()).is_err());

    let mut inbound = connection(&ring);
    assert_eq!(
        inbound.accept::<ClientEvent>(&frame(&old, &say("from old"), NOW), NOW),
        Ok(say("from old"))
    );
    assert_eq!(
        inbound.accept::<ClientEvent>(&frame(&new, &say("from new"), NOW), NOW),
        Ok(say("from new"))
    );
    // Once the old key is dropped from the ring, its tokens are undecryptable.
    let mut new_only = connection(&new);
    assert_eq!(
        refused(&mut new_only, &frame(&old, &say("late"), NOW), NOW).code(),
        ErrorCode::Undecryptable
    );
    assert!(RoomKey::ring(vec![]).is_err());
}

// ---------------------------------------------------------------------------------------
// The wrong-key line

#[test]
fn the_wrong_key_line_round_trips() {
    let key = RoomKey::generate();
    let line = codec::wrong_key_line(key.fingerprint());
    assert!(line.starts_with('!'), "cannot be mistaken for a token");
    assert!(!line.contains('\n'));
    assert!(!line.contains(key.expose_secret()));
    assert_eq!(
        codec::parse_wrong_key_line(line.as_bytes()),
        Some(key.fingerprint().to_string())
    );
    // A token is never taken for the wrong-key line.
    let token = frame(&key, &say("hi"), NOW);
    assert_eq!(codec::parse_wrong_key_line(&token), None);
}

#[test]
fn parse_wrong_key_line_rejects_junk() {
    let prefix = codec::WRONG_KEY_PREFIX;
    let junk: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"hello".to_vec(),
        b"!fernchat".to_vec(),
        prefix.as_bytes().to_vec(),
        format!("{prefix} ").into_bytes(),
        format!("{prefix} fingerprint=3F2A-9C01-77D4-B0E8").into_bytes(),
        format!("{prefix} server-fingerprint=\u{1b}[2J\u{1b}[H").into_bytes(),
        format!("{prefix} server-fingerprint=<script>alert(1)</script>").into_bytes(),
        format!("{prefix} server-fingerprint=3F2A-9C01-77D4-B0EZ").into_bytes(),
        format!("{prefix} server-fingerprint=3F2A-9C01-77D4-B0E8\u{7}").into_bytes(),
        [prefix.as_bytes(), b" server-fingerprint=3F2A\xff"].concat(),
        format!(" {prefix} server-fingerprint=3F2A-9C01-77D4-B0E8").into_bytes(),
    ];
    for line in junk {
        assert_eq!(
            codec::parse_wrong_key_line(&line),
            None,
            "{:?}",
            String::from_utf8_lossy(&line)
        );
    }
    // Whatever is accepted is only hex digits and dashes, and short.
    let long = format!("{prefix} server-fingerprint={}", "AB-".repeat(100));
    let shown = codec::parse_wrong_key_line(long.as_bytes()).expect("well-formed");
    assert!(shown.len() <= 32);
    assert!(shown.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
}

/// A lab or a test may switch expiry off with `ttl_secs: u64::MAX`. The replay window must
/// then be "forever", not an overflow: a panic in debug builds, and in release builds a
/// wrapped-around window of a few minutes after which every old token could be replayed.
#[test]
fn an_unbounded_ttl_gives_an_unbounded_replay_window() {
    let forever = TimePolicy {
        ttl_secs: u64::MAX,
        ..TimePolicy::default()
    };
    assert_eq!(forever.replay_window_secs(), u64::MAX);
    let ahead = TimePolicy {
        future_grace_secs: u64::MAX - 1,
        ..TimePolicy::default()
    };
    assert_eq!(ahead.replay_window_secs(), u64::MAX);

    let key = RoomKey::generate();
    let guard = Inbound::shared_guard(forever, 10);
    let mut first = Inbound::new(key.clone(), forever, Arc::clone(&guard));
    let token = frame(&key, &say("keep"), NOW);
    assert!(first.accept::<ClientEvent>(&token, NOW).is_ok());
    // Years later the token is still within this policy's TTL, so it must still be a replay.
    let later = NOW + 10 * 365 * 86_400;
    let mut second = Inbound::new(key.clone(), forever, Arc::clone(&guard));
    assert!(
        second
            .accept::<ClientEvent>(&frame(&key, &say("x"), later), later)
            .is_ok()
    );
    assert_eq!(
        refused(&mut second, &token, later).code(),
        ErrorCode::Replayed
    );
}

/// Issue 15's additions are optional fields an older reader ignores and a newer one defaults:
/// an announcement from an older server (no `id`, no `history`) and a hello without `client`
/// still decode; a live announcement says no `history`; a `history` of a kind this client does
/// not know is kept (as `Other`) instead of dropping the whole event.
#[test]
fn announcement_history_and_hello_client_fields_are_optional() {
    use fernchat::protocol::event::HistoryKind;
    let old: ServerEvent =
        serde_json::from_str(r#"{"type":"announcement","from":"prof","text":"x","time":1}"#)
            .unwrap();
    assert!(matches!(
        old,
        ServerEvent::Announcement {
            id: None,
            history: false,
            ..
        }
    ));
    let live = ServerEvent::Announcement {
        room: "#class".into(),
        from: "prof".into(),
        text: "x".into(),
        time: 1,
        id: Some(4),
        history: false,
    };
    assert_eq!(
        serde_json::to_string(&live).unwrap(),
        r##"{"type":"announcement","from":"prof","text":"x","time":1,"id":4}"##
    );
    let future: ServerEvent = serde_json::from_str(
        r#"{"type":"history","id":3,"kind":"poll","from":"prof","text":"x","time":1}"#,
    )
    .unwrap();
    assert!(matches!(
        future,
        ServerEvent::History {
            kind: HistoryKind::Other,
            ..
        }
    ));
    let hello: ClientEvent =
        serde_json::from_str(r#"{"type":"hello","nick":"al","version":2}"#).unwrap();
    assert!(matches!(hello, ClientEvent::Hello { client: None, .. }));
}
