//! What the server does with input a normal client never sends: wrong keys, garbage, over-long
//! lines, bad JSON, replays, skewed clocks, floods and clients that stop reading.

mod common;

use std::time::Duration;

use common::{Got, Peer, TestServer, message_text, quiet_config};
use fernchat::crypto::{RoomKey, unix_now};
use fernchat::kex::Nonce;
use fernchat::protocol::codec::parse_wrong_key_line;
use fernchat::protocol::{ClientEvent, ErrorCode, PROTOCOL_VERSION, ServerEvent, seal, seal_at};
use fernchat::server::FloodLimits;

#[test]
fn a_client_with_the_wrong_key_is_told_the_servers_fingerprint() {
    let server = TestServer::with_defaults();
    let mut stranger = Peer::connect(server.addr, RoomKey::generate());
    stranger.hello("stranger");
    match stranger.next() {
        Got::Raw(line) => {
            let fingerprint = parse_wrong_key_line(&line).expect("the wrong-key line");
            assert_eq!(fingerprint, server.key.fingerprint().to_string());
        }
        other => panic!("expected the plaintext wrong-key line, got {other:?}"),
    }
    assert!(matches!(stranger.next(), Got::Closed));
}

#[test]
fn plaintext_typed_into_netcat_gets_the_wrong_key_line() {
    let server = TestServer::with_defaults();
    let mut typist = server.peer();
    typist.send_raw(b"hello everyone\r\n");
    assert!(matches!(typist.next(), Got::Raw(line) if parse_wrong_key_line(&line).is_some()));
}

#[test]
fn a_rotated_key_ring_answers_each_client_under_the_key_of_its_hello() {
    let old = RoomKey::generate();
    let new = RoomKey::generate();
    let ring = RoomKey::ring(vec![new.clone(), old.clone()]).unwrap();
    let server = TestServer::start(quiet_config(ring));
    // Protocol version 2: a client holding only the old key is answered under it (issue 14).
    let mut on_old = Peer::connect(server.addr, old);
    on_old.hello("oldie");
    assert!(matches!(on_old.recv(), ServerEvent::Welcome { .. }));
    // Told, right after its welcome, that a new key is in use (tests/key_rotation.rs).
    let fingerprint = new.fingerprint().to_string();
    assert!(
        matches!(on_old.recv(), ServerEvent::Notice { text, .. } if text.contains(&fingerprint))
    );
    let mut on_new = Peer::connect(server.addr, new);
    on_new.hello("newbie");
    assert!(matches!(on_new.recv(), ServerEvent::Welcome { .. }));
    assert!(matches!(on_old.recv(), ServerEvent::Joined { nick, .. } if nick == "newbie"));
}

#[test]
fn garbage_and_over_long_lines_get_errors_and_the_connection_goes_on() {
    let mut config = quiet_config(RoomKey::generate());
    config.max_line = 4096;
    let server = TestServer::start(config);
    let mut alice = server.join("alice");

    alice.send_raw(&[0xff, 0x00, 0x13, b'#', 0x80, b'\n']);
    assert!(
        alice
            .expect_error(ErrorCode::Undecryptable)
            .contains("decrypt")
    );

    let mut long = vec![b'A'; 100_000];
    long.push(b'\n');
    alice.send_raw(&long);
    assert!(alice.expect_error(ErrorCode::LineTooLong).contains("4096"));

    // Valid base64 that is not a token, and a token from another key.
    alice.send_raw(b"aGVsbG8gd29ybGQ=\n");
    alice.expect_error(ErrorCode::Undecryptable);
    alice.send_raw(&seal(
        &RoomKey::generate(),
        &ClientEvent::Say {
            room: None,
            text: "x".into(),
        },
    ));
    alice.expect_error(ErrorCode::Undecryptable);

    alice.say("still works");
    assert_eq!(message_text(&alice.recv(), "alice"), "still works");
}

#[test]
fn valid_tokens_with_bad_contents_get_distinct_errors() {
    let mut config = quiet_config(RoomKey::generate());
    // More frames than the default burst allows, sent at once.
    config.flood.burst = 100;
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    for (json, code) in [
        ("not json", ErrorCode::BadJson),
        ("[1,2,3]", ErrorCode::BadJson),
        (r#"{"text":"no type"}"#, ErrorCode::BadField),
        (r#"{"type":"shout","text":"hi"}"#, ErrorCode::UnknownType),
        (r#"{"type":"say","text":42}"#, ErrorCode::BadField),
        (r#"{"type":"say"}"#, ErrorCode::BadField),
        (
            r#"{"type":"msg","to":["bob"],"text":"x"}"#,
            ErrorCode::BadField,
        ),
        (r#"{"type":"say","text":""}"#, ErrorCode::BadText),
        (
            "{\"type\":\"say\",\"text\":\"\\u001b[2J\"}",
            ErrorCode::BadText,
        ),
    ] {
        alice.send_json(json);
        alice.expect_error(code);
    }
    let too_long = "x".repeat(fernchat::protocol::event::DEFAULT_MAX_TEXT + 1);
    alice.say(&too_long);
    assert!(alice.expect_error(ErrorCode::BadText).contains("limit"));
    alice.say("ok");
    assert_eq!(message_text(&alice.recv(), "alice"), "ok");
}

#[test]
fn a_replayed_token_is_refused_on_the_same_and_on_a_new_connection() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let frame = seal(
        &alice.key,
        &ClientEvent::Say {
            room: None,
            text: "once".into(),
        },
    );
    alice.send_raw(&frame);
    assert_eq!(message_text(&alice.recv(), "alice"), "once");
    alice.send_raw(&frame);
    alice.expect_error(ErrorCode::Replayed);

    // A token of alice's session sent on another connection opens under none of its keys:
    // the first frame of a new connection that is not a class-key token gets the wrong-key
    // line (version 2 keeps no memory across connections, and needs none).
    let mut eve = server.peer();
    eve.send_raw(&frame);
    assert!(matches!(eve.next(), Got::Raw(line) if parse_wrong_key_line(&line).is_some()));

    // A captured hello replayed by an eavesdropper on its own connection gets a handshake
    // with a fresh server nonce, which it cannot confirm without the class key: it never
    // joins, and the room sees nothing.
    let nonce = Nonce::generate();
    let hello = seal(
        &server.key,
        &ClientEvent::Hello {
            nonce: Some(nonce.to_wire()),
            since: None,
            kex_public: None,
            nick: "bob".into(),
            version: PROTOCOL_VERSION,
            kex: "psk".into(),
            client: None,
        },
    );
    let mut bob = server.peer();
    bob.nonce = Some(nonce);
    bob.send_raw(&hello);
    assert!(matches!(bob.recv(), ServerEvent::Welcome { .. }));
    drop(bob);
    alice.recv_until(5, |e| matches!(e, ServerEvent::Left { .. }));
    let mut replayer = server.peer();
    replayer.send_raw(&hello);
    assert!(matches!(replayer.recv(), ServerEvent::Handshake { .. }));
    replayer.say("am I bob?");
    // Refused as kex_failed under the session key, which the replayer does not hold.
    assert!(matches!(replayer.next(), Got::Raw(_)));
    assert!(matches!(replayer.next(), Got::Closed));
    alice.say("anyone?");
    assert_eq!(message_text(&alice.recv(), "alice"), "anyone?");
}

#[test]
fn a_skewed_clock_within_ten_minutes_works_and_beyond_is_told_so() {
    let server = TestServer::with_defaults();
    for skew in [-540i64, 540] {
        let mut peer = server.peer();
        let at = unix_now().saturating_add_signed(skew);
        let nick = if skew < 0 { "behind" } else { "ahead" };
        peer.hello_at(nick, at);
        assert!(matches!(
            peer.recv_until(3, |e| matches!(e, ServerEvent::Welcome { .. })),
            ServerEvent::Welcome { .. }
        ));
        // Later tokens on the same skewed clock are judged by it, so they are fresh.
        peer.send_raw(&seal_at(
            &peer.key,
            &ClientEvent::Say {
                room: None,
                text: "tick".into(),
            },
            at + 1,
        ));
        let text = message_text(
            &peer.recv_until(3, |e| matches!(e, ServerEvent::Message { .. })),
            nick,
        );
        assert_eq!(text, "tick");
        // A token that is stale by that clock is refused.
        peer.send_raw(&seal_at(
            &peer.key,
            &ClientEvent::Say {
                room: None,
                text: "old".into(),
            },
            at - 300,
        ));
        peer.expect_error(ErrorCode::Expired);
    }
    for skew in [-900i64, 900] {
        let mut peer = server.peer();
        peer.hello_at("skewed", unix_now().saturating_add_signed(skew));
        let message = peer.expect_error(ErrorCode::ClockSkew);
        assert!(message.contains("clock"), "{message}");
        assert!(
            message.contains(if skew > 0 { "ahead" } else { "behind" }),
            "{message}"
        );
        peer.expect_closed(5);
    }
}

#[test]
fn a_flooding_client_is_throttled_then_disconnected() {
    let mut config = quiet_config(RoomKey::generate());
    config.flood = FloodLimits {
        burst: 5,
        per_second: 1.0,
        strikes: 10,
    };
    let server = TestServer::start(config);
    let mut watcher = server.join("watcher");
    let mut flooder = server.join("flooder");
    watcher.recv();
    let mut frames = Vec::new();
    for i in 0..40 {
        frames.extend(seal(
            &flooder.key,
            &ClientEvent::Say {
                room: None,
                text: format!("spam {i}"),
            },
        ));
    }
    flooder.send_raw(&frames);
    let mut delivered = 0;
    let mut rate_limited = 0;
    let mut kicked = false;
    for _ in 0..60 {
        match flooder.next() {
            Got::Event(ServerEvent::Message { .. }) => delivered += 1,
            Got::Event(ServerEvent::Error {
                code: ErrorCode::RateLimited,
                ..
            }) => rate_limited += 1,
            Got::Event(ServerEvent::Error {
                code: ErrorCode::Flooding,
                ..
            }) => kicked = true,
            Got::Closed => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The burst of 5 includes the hello and the confirm; a second of refill may add one more.
    assert!((3..=5).contains(&delivered), "delivered {delivered}");
    assert_eq!(rate_limited, 1, "one notice per flood episode");
    assert!(kicked, "persistent flooding ends in disconnection");
    let left = watcher.recv_until(10, |e| matches!(e, ServerEvent::Left { .. }));
    assert!(matches!(left, ServerEvent::Left { nick, .. } if nick == "flooder"));
}

#[test]
fn a_client_that_never_reads_is_evicted_without_delaying_the_others() {
    let mut config = quiet_config(RoomKey::generate());
    config.outbound_budget = 64 * 1024;
    config.flood = FloodLimits {
        burst: 100_000,
        per_second: 100_000.0,
        strikes: 10,
    };
    let server = TestServer::start(config);
    let mut talker = server.join("talker");
    let mut reader = server.join("reader");
    let mut stuck = server.join("stuck");
    talker.recv_until(
        3,
        |e| matches!(e, ServerEvent::Joined { nick, .. } if nick == "stuck"),
    );
    reader.recv();

    // Enough text to fill the stuck client's socket buffers and then its queue budget.
    let text = "y".repeat(1900);
    let total = 6000;
    let mut evicted = false;
    let mut received = 0;
    for i in 0..total {
        talker.say(&format!("{i} {text}"));
        // The reader keeps up, message by message, while the stuck client reads nothing.
        loop {
            match reader.recv() {
                ServerEvent::Message { text, .. } => {
                    assert!(
                        text.starts_with(&format!("{i} ")),
                        "message {i} arrived in order"
                    );
                    received += 1;
                    break;
                }
                ServerEvent::Left { nick, reason, .. } => {
                    assert_eq!(nick, "stuck");
                    assert!(reason.contains("too slow"), "{reason}");
                    evicted = true;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        talker.recv_until(3, |e| matches!(e, ServerEvent::Message { .. }));
        if evicted {
            break;
        }
    }
    assert!(
        evicted,
        "the stuck client was not evicted after {total} messages"
    );
    assert!(received > 0);
    // The stuck client, once it reads, finds the reason at the end of what was queued.
    stuck
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let seen = stuck.expect_closed(10_000);
    let last = seen.last().expect("something was delivered");
    assert!(
        matches!(
            last,
            ServerEvent::Bye {
                code: ErrorCode::TooSlow,
                ..
            }
        ),
        "last was {last:?}"
    );
}
