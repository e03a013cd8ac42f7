//! The chat as users see it: joining, talking, private messages, nicks, leaving, shutdown.
//! Real server, real sockets on 127.0.0.1 port 0.

mod common;

use std::time::Duration;

use common::{Got, TestServer, message_text, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent};

#[test]
fn several_clients_chat_and_see_each_other_join() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut bob = server.join("Bob");
    assert!(matches!(alice.recv(), ServerEvent::Joined { nick, .. } if nick == "Bob"));
    let mut carol = server.peer();
    carol.hello("carol");
    match carol.recv() {
        ServerEvent::Welcome {
            users, max_text, ..
        } => {
            // Sorted without regard to case.
            assert_eq!(users, ["alice", "Bob", "carol"]);
            assert_eq!(max_text, fernchat::protocol::event::DEFAULT_MAX_TEXT);
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    assert!(matches!(alice.recv(), ServerEvent::Joined { nick, .. } if nick == "carol"));
    assert!(matches!(bob.recv(), ServerEvent::Joined { nick, .. } if nick == "carol"));

    alice.say("hello, room ✓");
    for peer in [&mut alice, &mut bob, &mut carol] {
        assert_eq!(message_text(&peer.recv(), "alice"), "hello, room ✓");
    }
    bob.send(&ClientEvent::Me {
        room: None,
        text: "waves".into(),
    });
    for peer in [&mut alice, &mut bob, &mut carol] {
        assert!(
            matches!(peer.recv(), ServerEvent::Action { from, text, .. } if from == "Bob" && text == "waves")
        );
    }
}

#[test]
fn private_messages_reach_only_sender_and_target() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut bob = server.join("bob");
    let mut carol = server.join("carol");
    alice.recv_until(
        3,
        |e| matches!(e, ServerEvent::Joined { nick, .. } if nick == "carol"),
    );
    bob.recv();

    // Any case reaches the user; the event names the registered spelling.
    alice.send(&ClientEvent::Msg {
        to: "BOB".into(),
        text: "psst".into(),
    });
    for peer in [&mut bob, &mut alice] {
        match peer.recv() {
            ServerEvent::Private { from, to, text, .. } => {
                assert_eq!(
                    (from.as_str(), to.as_str(), text.as_str()),
                    ("alice", "bob", "psst")
                );
            }
            other => panic!("expected the private message, got {other:?}"),
        }
    }
    // The hub handles events in order, so carol's next event after the private one would be
    // the private one if she had been sent it.
    alice.say("public");
    assert_eq!(message_text(&carol.recv(), "alice"), "public");
    assert_eq!(message_text(&alice.recv(), "alice"), "public");

    alice.send(&ClientEvent::Msg {
        to: "dave".into(),
        text: "hi".into(),
    });
    assert!(alice.expect_error(ErrorCode::NoSuchNick).contains("dave"));
}

#[test]
fn nicks_are_unique_without_regard_to_case() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut bob = server.join("bob");
    alice.recv();

    let mut impostor = server.peer();
    impostor.hello("ALICE");
    assert!(
        impostor
            .expect_error(ErrorCode::NickTaken)
            .contains("taken")
    );
    impostor.expect_closed(5);

    // Taking another user's nick by rename is refused...
    bob.send(&ClientEvent::Nick {
        nick: "Alice".into(),
    });
    bob.expect_error(ErrorCode::NickTaken);
    // ...changing the case of one's own is allowed and announced.
    alice.send(&ClientEvent::Nick {
        nick: "Alice".into(),
    });
    for peer in [&mut alice, &mut bob] {
        assert!(
            matches!(peer.recv(), ServerEvent::Renamed { from, to, .. } if from == "alice" && to == "Alice")
        );
    }
    // The old spelling is free of nobody: "alice" still maps to the same user.
    bob.send(&ClientEvent::Msg {
        to: "alice".into(),
        text: "found you".into(),
    });
    assert!(matches!(alice.recv(), ServerEvent::Private { to, .. } if to == "Alice"));
}

#[test]
fn invalid_and_reserved_nicks_are_refused_with_their_codes() {
    let server = TestServer::with_defaults();
    for (nick, code) in [
        ("x", ErrorCode::NickInvalid),
        ("9lives", ErrorCode::NickInvalid),
        ("has space", ErrorCode::NickInvalid),
        ("Server", ErrorCode::NickReserved),
    ] {
        let mut peer = server.peer();
        peer.hello(nick);
        peer.expect_error(code);
        peer.expect_closed(5);
    }
    let mut alice = server.join("alice");
    alice.send(&ClientEvent::Nick {
        nick: "no way".into(),
    });
    alice.expect_error(ErrorCode::NickInvalid);
    // Still connected and usable.
    alice.say("still here");
    assert_eq!(message_text(&alice.recv(), "alice"), "still here");
}

#[test]
fn a_client_cannot_speak_as_someone_else() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut mallory = server.join("mallory");
    alice.recv();
    // Extra fields are ignored; the server stamps the registered nick and its own time.
    mallory.send_json(r#"{"type":"say","text":"I am alice","from":"alice","time":1}"#);
    match alice.recv() {
        ServerEvent::Message {
            from, text, time, ..
        } => {
            assert_eq!(from, "mallory");
            assert_eq!(text, "I am alice");
            assert!(
                time > 1_700_000_000_000,
                "server time, not the client's: {time}"
            );
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn who_lists_users_and_ping_is_answered() {
    let server = TestServer::with_defaults();
    let mut zed = server.join("zed");
    let _amy = server.join("amy");
    zed.recv();
    zed.send(&ClientEvent::Who { room: None });
    assert!(matches!(zed.recv(), ServerEvent::Users { users, .. } if users == ["amy", "zed"]));
    zed.send(&ClientEvent::Ping { id: 42 });
    assert_eq!(zed.recv(), ServerEvent::Pong { id: 42 });
}

#[test]
fn leaving_is_announced_with_the_reason() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut bob = server.join("bob");
    alice.recv();
    bob.send(&ClientEvent::Bye {
        reason: Some("lunch".into()),
    });
    assert!(
        matches!(alice.recv(), ServerEvent::Left { nick, reason, .. } if nick == "bob" && reason == "lunch")
    );
    bob.expect_closed(5);

    // A client killed mid-message is cleaned up and announced, and its nick is free again.
    let mut carol = server.join("carol");
    alice.recv();
    let frame = fernchat::protocol::seal(
        &carol.key,
        &ClientEvent::Say {
            room: None,
            text: "half".into(),
        },
    );
    carol.send_raw(&frame[..frame.len() / 2]);
    drop(carol);
    assert!(matches!(alice.recv(), ServerEvent::Left { nick, .. } if nick == "carol"));
    let _carol_again = server.join("carol");
}

#[test]
fn shutdown_reaches_every_client_and_is_quick() {
    let mut server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    let mut bob = server.join("bob");
    let mut pending = server.peer();
    alice.recv();
    let took = server.shutdown();
    for peer in [&mut alice, &mut bob] {
        let seen = peer.expect_closed(5);
        assert!(
            seen.iter().any(|e| matches!(
                e,
                ServerEvent::Bye {
                    code: ErrorCode::Shutdown,
                    ..
                }
            )),
            "expected a shutdown bye, saw {seen:?}"
        );
    }
    // A connection that never said hello is closed too (it may not even have reached the
    // hub before the shutdown, so there is no promise of a bye).
    pending.expect_closed(5);
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}

#[test]
fn the_server_refuses_when_full() {
    let mut config = quiet_config(RoomKey::generate());
    config.max_clients = 2;
    let server = TestServer::start(config);
    let _a = server.join("alice");
    let _b = server.join("bob");
    let mut carol = server.peer();
    carol.hello("carol");
    assert!(carol.expect_error(ErrorCode::ServerFull).contains("full"));
    carol.expect_closed(5);
}

#[test]
fn hello_must_come_first_and_speak_our_version() {
    let server = TestServer::with_defaults();
    let mut early = server.peer();
    early.say("hi?");
    early.expect_error(ErrorCode::HelloFirst);
    early.expect_closed(5);

    let mut future = server.peer();
    future.send(&ClientEvent::Hello {
        nonce: None,
        since: None,
        kex_public: None,
        nick: "future".into(),
        version: 99,
        kex: "psk".into(),
        client: None,
    });
    assert!(
        future
            .expect_error(ErrorCode::VersionUnsupported)
            .contains("99")
    );
    future.expect_closed(5);

    let mut labber = server.peer();
    labber.send_json(
        r#"{"type":"hello","nick":"labber","version":2,"nonce":"AAECAwQFBgcICQoLDA0ODw==","kex":"noise-ik"}"#,
    );
    labber.expect_error(ErrorCode::KexUnsupported);
    labber.expect_closed(5);

    // `kex` may be left out: it defaults to the pre-shared key.
    let mut plain = server.peer();
    plain.nonce = fernchat::kex::Nonce::from_wire("AAECAwQFBgcICQoLDA0ODw==");
    plain.send_json(
        r#"{"type":"hello","nick":"plain","version":2,"nonce":"AAECAwQFBgcICQoLDA0ODw=="}"#,
    );
    assert!(matches!(plain.recv(), ServerEvent::Welcome { .. }));
}

#[test]
fn a_silent_connection_is_dropped_after_the_hello_timeout() {
    let mut config = quiet_config(RoomKey::generate());
    config.hello_timeout = Duration::from_millis(500);
    let server = TestServer::start(config);
    let mut silent = server.peer();
    silent.expect_error(ErrorCode::HelloTimeout);
    silent.expect_closed(5);
}

#[test]
fn idle_clients_are_pinged_and_removed_if_silent() {
    let mut config = quiet_config(RoomKey::generate());
    config.ping_interval = Duration::from_millis(300);
    config.idle_timeout = Duration::from_millis(1500);
    let server = TestServer::start(config);
    let mut lively = server.join("lively");
    let mut silent = server.join("silent");
    lively.recv();
    // `recv` answers pings; the silent peer reads them but never answers.
    match silent.next() {
        Got::Event(ServerEvent::Ping { .. }) => {}
        other => panic!("expected a ping, got {other:?}"),
    }
    // The lively peer answers its pings while waiting (`recv` does), so only silence counts.
    let left = lively.recv_until(20, |e| matches!(e, ServerEvent::Left { .. }));
    assert!(
        matches!(left, ServerEvent::Left { nick, reason, .. } if nick == "silent" && reason == "timed out")
    );
    let seen = silent.expect_closed(5);
    assert!(seen.iter().any(|e| matches!(
        e,
        ServerEvent::Bye {
            code: ErrorCode::IdleTimeout,
            ..
        }
    )));
    // The lively one answered its pings and is still in the room.
    lively.send(&ClientEvent::Who { room: None });
    let users = lively.recv_until(5, |e| matches!(e, ServerEvent::Users { .. }));
    assert!(matches!(users, ServerEvent::Users { users, .. } if users == ["lively"]));
}
