//! The client core against a scripted fake server on real sockets: the handshake and each way
//! it fails, then a running session (updates, commands, pings, reconnects, quitting).

mod client_support;

use std::thread;
use std::time::Duration;

use client_support::{FakeServer, Peer, STEP, now_ms};
use crossbeam_channel::Receiver;
use fernchat::client::{
    ClientConfig, Command, ConnectError, ReconnectPolicy, ServerAddr, Session, SessionError,
    Spawned, Timeouts, Update, UpdateKind,
};
use fernchat::crypto::RoomKey;
use fernchat::protocol::codec::wrong_key_line;
use fernchat::protocol::event::HistoryKind;
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent, seal};

fn config(server: &FakeServer, key: &RoomKey, nick: &str) -> ClientConfig {
    let mut config =
        ClientConfig::new(ServerAddr::new("127.0.0.1", server.port), key.clone(), nick);
    config.timeouts = Timeouts {
        connect: STEP,
        handshake: STEP,
        silence: Duration::from_secs(30),
        write: STEP,
        quit: STEP,
        // Longer than any test, so no unexpected ping reaches the fake server.
        keepalive: Duration::from_secs(60),
    };
    // Fast enough for tests, still exercising the doubling.
    config.reconnect = ReconnectPolicy {
        enabled: true,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_attempts: Some(3),
    };
    config
}

/// Connects `config` while `script` plays the server's side on another thread.
fn connect_with<T: Send + 'static>(
    server: &FakeServer,
    config: ClientConfig,
    script: impl FnOnce(Peer) -> T + Send + 'static,
) -> (Result<Session, ConnectError>, T) {
    let server = server.clone();
    let handle = thread::spawn(move || script(server.accept()));
    let result = Session::connect(config);
    (result, handle.join().expect("server script panicked"))
}

fn next(updates: &Receiver<Update>) -> UpdateKind {
    updates
        .recv_timeout(STEP)
        .expect("no update from the session in time")
        .kind
}

/// Skips updates until one matches, returning it (bounded: at most 50 updates).
fn until(updates: &Receiver<Update>, wanted: impl Fn(&UpdateKind) -> bool) -> UpdateKind {
    for _ in 0..50 {
        let kind = next(updates);
        if wanted(&kind) {
            return kind;
        }
    }
    panic!("the update wanted never came");
}

/// Connects, answers hello with welcome, and starts the session on its own thread.
fn running(
    server: &FakeServer,
    config: ClientConfig,
    others: &'static [&'static str],
    max_text: usize,
) -> (Spawned, Peer) {
    let (session, peer) = connect_with(server, config, move |mut peer| {
        peer.join(others, max_text);
        peer
    });
    let spawned = session.expect("connect").spawn().expect("spawn");
    (spawned, peer)
}

#[test]
fn handshake_sends_hello_and_reads_welcome() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (session, hello_nick) =
        connect_with(&server, config(&server, &key, "alice"), |mut peer| {
            let nick = peer.expect_hello();
            peer.welcome(&nick, &["bob"], 300);
            nick
        });
    assert_eq!(hello_nick, "alice");
    let session = session.expect("joined");
    assert_eq!(session.welcome().nick, "alice");
    assert_eq!(session.welcome().max_text, 300);
    let state = session.state().snapshot();
    assert_eq!(state.users, ["alice", "bob"]);
    assert!(state.connected);
    // What a status line shows besides the room.
    assert_eq!(state.target, format!("127.0.0.1:{}", server.port));
    assert_eq!(state.fingerprint, Some(key.fingerprint()));
    assert_eq!(state.lag_millis, None);
}

#[test]
fn wrong_key_line_names_both_fingerprints() {
    let server_key = RoomKey::generate();
    let client_key = RoomKey::generate();
    let server = FakeServer::start(&server_key, 1);
    let server_fp = server_key.fingerprint();
    let (result, ()) = connect_with(
        &server,
        config(&server, &client_key, "alice"),
        move |mut peer| {
            // The server cannot open the hello, and says so in plaintext.
            let hello = peer.recv_line();
            assert!(server_key.decrypt(&hello).is_err());
            peer.send_raw(format!("{}\n", wrong_key_line(server_fp)).as_bytes());
        },
    );
    match result {
        Err(ConnectError::WrongKey { ours, server }) => {
            assert_eq!(ours, client_key.fingerprint());
            assert_eq!(server.as_deref(), Some(server_fp.to_string().as_str()));
            let text = ConnectError::WrongKey { ours, server }.to_string();
            assert!(
                text.contains(&client_key.fingerprint().to_string()),
                "{text}"
            );
            assert!(text.contains(&server_fp.to_string()), "{text}");
            assert!(
                text.contains("ask your instructor for the class keyfile"),
                "{text}"
            );
        }
        other => panic!("expected WrongKey, got {other:?}"),
    }
}

#[test]
fn reply_under_another_key_is_a_key_mismatch() {
    let key = RoomKey::generate();
    let other = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (result, ()) = connect_with(
        &server,
        config(&server, &other, "alice"),
        move |mut peer| {
            peer.recv_line();
            peer.send(&ServerEvent::Notice {
                text: "hi".into(),
                time: now_ms(),
            });
        },
    );
    match result {
        Err(ConnectError::WrongKey { ours, server: None }) => assert_eq!(ours, other.fingerprint()),
        other => panic!("expected WrongKey without the server's fingerprint, got {other:?}"),
    }
}

#[test]
fn nick_taken_is_a_refusal_about_the_nick() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (result, ()) = connect_with(&server, config(&server, &key, "bob"), |mut peer| {
        peer.expect_hello();
        peer.send(&ServerEvent::Error {
            signature: None,
            code: ErrorCode::NickTaken,
            message: "the nick bob is taken; choose another".into(),
            time: now_ms(),
        });
        peer.send(&ServerEvent::Bye {
            code: ErrorCode::NickTaken,
            reason: "nick taken".into(),
            time: now_ms(),
            retry_after: None,
        });
    });
    let err = result.expect_err("refused");
    assert!(err.is_nick_problem(), "{err:?}");
    assert!(matches!(
        &err,
        ConnectError::Refused {
            code: ErrorCode::NickTaken,
            ..
        }
    ));
    assert!(err.to_string().contains("the nick bob is taken"), "{err}");
}

#[test]
fn server_full_and_clock_skew_refusals_keep_their_codes() {
    for code in [
        ErrorCode::ServerFull,
        ErrorCode::ClockSkew,
        ErrorCode::VersionUnsupported,
    ] {
        let key = RoomKey::generate();
        let server = FakeServer::start(&key, 1);
        let (result, ()) =
            connect_with(&server, config(&server, &key, "alice"), move |mut peer| {
                peer.expect_hello();
                peer.send(&ServerEvent::Error {
                    signature: None,
                    code,
                    message: "no".into(),
                    time: now_ms(),
                });
            });
        match result {
            Err(err @ ConnectError::Refused { .. }) => {
                assert!(!err.is_nick_problem());
                assert!(!err.worth_retrying(), "{code:?}");
            }
            other => panic!("expected Refused for {code:?}, got {other:?}"),
        }
    }
}

#[test]
fn a_server_clock_far_off_is_reported_as_clock_skew() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let ahead = fernchat::crypto::unix_now() + 3600;
    let (result, ()) = connect_with(&server, config(&server, &key, "alice"), move |mut peer| {
        peer.expect_hello();
        // The handshake is the first fresh token (it echoes the client's nonce): the client
        // measures the server's clock from it.
        let handshake = ServerEvent::Handshake {
            version: fernchat::protocol::PROTOCOL_VERSION,
            nonce: peer.nonce.unwrap().to_wire(),
            server_nonce: fernchat::kex::Nonce::generate().to_wire(),
            kex: "psk".into(),
            kex_public: None,
            kex_confirm: None,
            kex_identity: None,
            kex_signature: None,
        };
        peer.send_at(&handshake, ahead);
    });
    match result {
        Err(err @ ConnectError::ClockSkew(_)) => {
            assert!(err.to_string().contains("clock"), "{err}");
        }
        other => panic!("expected ClockSkew, got {other:?}"),
    }
}

#[test]
fn no_server_is_reported_as_such() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let key = RoomKey::generate();
    let config = ClientConfig::new(ServerAddr::new("127.0.0.1", port), key, "alice");
    match Session::connect(config) {
        Err(err @ ConnectError::NoServer { .. }) => {
            assert!(err.to_string().contains("cargo run --bin server"), "{err}");
            assert!(
                err.to_string().contains(&format!("127.0.0.1:{port}")),
                "{err}"
            );
        }
        other => panic!("expected NoServer, got {other:?}"),
    }
}

#[test]
fn a_silent_server_times_out() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let mut config = config(&server, &key, "alice");
    config.timeouts.handshake = Duration::from_millis(200);
    let (result, _peer) = connect_with(&server, config, |mut peer| {
        peer.recv_line();
        // Keep the socket open and say nothing; returned so it is not closed early.
        peer
    });
    assert!(
        matches!(result, Err(ConnectError::HandshakeTimeout { .. })),
        "{result:?}"
    );
}

#[test]
fn another_protocol_is_not_fernchat() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (result, ()) = connect_with(&server, config(&server, &key, "alice"), |mut peer| {
        peer.recv_line();
        peer.send_raw(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    assert!(
        matches!(result, Err(ConnectError::NotFernchat { .. })),
        "{result:?}"
    );
}

#[test]
fn a_server_closing_during_the_handshake_is_explained() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (result, ()) = connect_with(&server, config(&server, &key, "alice"), |mut peer| {
        peer.recv_line();
    });
    assert!(
        matches!(result, Err(ConnectError::ClosedDuringHandshake { .. })),
        "{result:?}"
    );
}

#[test]
fn server_events_become_updates_and_state() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    match next(updates) {
        UpdateKind::Connected {
            nick,
            users,
            reconnected,
            ..
        } => {
            assert_eq!(nick, "alice");
            assert_eq!(users, ["alice", "bob"]);
            assert!(!reconnected);
        }
        other => panic!("expected Connected first, got {other:?}"),
    }
    let t = now_ms();
    let script = [
        ServerEvent::Message {
            room: "#class".into(),
            id: 0,
            from: "bob".into(),
            text: "hi".into(),
            time: t,
        },
        ServerEvent::Message {
            room: "#class".into(),
            id: 0,
            from: "Alice".into(),
            text: "mine".into(),
            time: t,
        },
        ServerEvent::Action {
            room: "#class".into(),
            id: 0,
            from: "bob".into(),
            text: "waves".into(),
            time: t,
        },
        ServerEvent::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            time: t,
        },
        ServerEvent::Private {
            from: "alice".into(),
            to: "bob".into(),
            text: "ok".into(),
            time: t,
        },
        ServerEvent::Joined {
            room: "#class".into(),
            nick: "carol".into(),
            time: t,
            role: Default::default(),
        },
        ServerEvent::Renamed {
            from: "carol".into(),
            to: "caro".into(),
            time: t,
        },
        ServerEvent::Left {
            room: "#class".into(),
            nick: "bob".into(),
            reason: "lunch".into(),
            time: t,
        },
        ServerEvent::Notice {
            text: "restart at noon".into(),
            time: t,
        },
        ServerEvent::Error {
            signature: None,
            code: ErrorCode::RateLimited,
            message: "slow down".into(),
            time: t,
        },
        ServerEvent::Renamed {
            from: "alice".into(),
            to: "alice2".into(),
            time: t,
        },
    ];
    for event in &script {
        peer.send(event);
    }
    let expected = [
        UpdateKind::Message {
            room: "#class".into(),
            from: "bob".into(),
            text: "hi".into(),
            own: false,
        },
        UpdateKind::Message {
            room: "#class".into(),
            from: "Alice".into(),
            text: "mine".into(),
            own: true,
        },
        UpdateKind::Action {
            room: "#class".into(),
            from: "bob".into(),
            text: "waves".into(),
            own: false,
        },
        UpdateKind::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            outgoing: false,
        },
        UpdateKind::Private {
            from: "alice".into(),
            to: "bob".into(),
            text: "ok".into(),
            outgoing: true,
        },
        UpdateKind::Joined {
            room: "#class".into(),
            nick: "carol".into(),
        },
        UpdateKind::Renamed {
            from: "carol".into(),
            to: "caro".into(),
            own: false,
        },
        UpdateKind::Left {
            room: "#class".into(),
            nick: "bob".into(),
            reason: "lunch".into(),
        },
        UpdateKind::Notice {
            text: "restart at noon".into(),
        },
        UpdateKind::Error {
            code: Some(ErrorCode::RateLimited),
            text: "slow down".into(),
        },
        UpdateKind::Renamed {
            from: "alice".into(),
            to: "alice2".into(),
            own: true,
        },
    ];
    for want in expected {
        assert_eq!(next(updates), want);
    }
    let state = spawned.state.snapshot();
    assert_eq!(state.users, ["alice2", "caro"]);
    assert_eq!(state.nick, "alice2");
    assert_eq!(state.last_error.as_deref(), Some("slow down"));
    // Not fatal: the session still answers.
    spawned.commands.send(Command::Who(None)).unwrap();
    assert_eq!(peer.recv(), ClientEvent::Who { room: None });
    peer.send(&ServerEvent::Users {
        room: "#class".into(),
        users: vec!["zed".into(), "alice2".into()],
        time: t,
        roles: Default::default(),
    });
    assert_eq!(
        next(updates),
        UpdateKind::Users {
            room: "#class".into(),
            users: vec!["alice2".into(), "zed".into()]
        }
    );
}

#[test]
fn pings_are_answered_with_the_same_id() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    peer.send(&ServerEvent::Ping { id: 42 });
    assert_eq!(peer.recv(), ClientEvent::Pong { id: 42 });
    peer.send(&ServerEvent::Ping { id: 43 });
    assert_eq!(peer.recv(), ClientEvent::Pong { id: 43 });
    drop(spawned);
}

#[test]
fn ping_command_measures_lag() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    spawned.commands.send(Command::Ping).unwrap();
    let ClientEvent::Ping { id } = peer.recv() else {
        panic!("expected a ping");
    };
    // A pong nobody asked for is ignored; the real one is measured.
    peer.send(&ServerEvent::Pong { id: id + 1000 });
    peer.send(&ServerEvent::Pong { id });
    let UpdateKind::Lag { millis } =
        until(&spawned.updates, |u| matches!(u, UpdateKind::Lag { .. }))
    else {
        unreachable!()
    };
    // The state is published before the update is sent, so it already holds the lag.
    assert_eq!(spawned.state.snapshot().lag_millis, Some(millis));
}

#[test]
fn commands_are_checked_locally_before_sending() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 10);
    let updates = &spawned.updates;
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));
    let send = |command| spawned.commands.send(command).unwrap();

    send(Command::Say("0123456789X".into()));
    match next(updates) {
        UpdateKind::Error { code: None, text } => assert!(text.contains("limit is 10"), "{text}"),
        other => panic!("expected a local error, got {other:?}"),
    }
    send(Command::Msg {
        to: "1bad".into(),
        text: "hi".into(),
    });
    assert!(matches!(
        next(updates),
        UpdateKind::Error { code: None, .. }
    ));
    send(Command::Nick("no spaces".into()));
    assert!(matches!(
        next(updates),
        UpdateKind::Error { code: None, .. }
    ));
    send(Command::Nick("alice".into()));
    assert!(matches!(next(updates), UpdateKind::Notice { .. }));
    send(Command::Help);
    assert_eq!(next(updates), UpdateKind::Help);

    // None of the above reached the server: the next frame it sees is this one.
    send(Command::Say("hi".into()));
    send(Command::Me("waves".into()));
    send(Command::Msg {
        to: "bob".into(),
        text: "psst".into(),
    });
    send(Command::Nick("alice2".into()));
    assert_eq!(
        peer.recv(),
        ClientEvent::Say {
            room: None,
            text: "hi".into()
        }
    );
    assert_eq!(
        peer.recv(),
        ClientEvent::Me {
            room: None,
            text: "waves".into()
        }
    );
    assert_eq!(
        peer.recv(),
        ClientEvent::Msg {
            to: "bob".into(),
            text: "psst".into()
        }
    );
    assert_eq!(
        peer.recv(),
        ClientEvent::Nick {
            nick: "alice2".into()
        }
    );
}

#[test]
fn quit_says_bye_with_the_reason_and_ends_cleanly() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    spawned
        .commands
        .send(Command::Say("last words".into()))
        .unwrap();
    spawned
        .commands
        .send(Command::Quit(Some("lunch".into())))
        .unwrap();
    assert_eq!(
        peer.recv(),
        ClientEvent::Say {
            room: None,
            text: "last words".into()
        }
    );
    assert_eq!(
        peer.recv(),
        ClientEvent::Bye {
            reason: Some("lunch".into())
        }
    );
    // The client half-closes after its bye; the server closes in turn.
    assert!(peer.recv_eof());
    drop(peer);
    until(&spawned.updates, |u| {
        *u == UpdateKind::Quit {
            reason: Some("lunch".into()),
        }
    });
    assert!(
        spawned.updates.recv_timeout(STEP).is_err(),
        "no update after quit"
    );
    spawned.thread.join().expect("a clean end");
}

#[test]
fn a_front_end_that_goes_away_ends_the_session_with_bye() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    let Spawned {
        commands,
        updates,
        thread,
        ..
    } = spawned;
    drop(commands);
    assert_eq!(peer.recv(), ClientEvent::Bye { reason: None });
    drop(peer);
    drop(updates);
    thread.join().expect("a clean end");
}

#[test]
fn a_dropped_connection_reconnects_under_the_current_nick() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 2);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    let updates = &spawned.updates;
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));
    // A /nick accepted by the server, then the server restarts.
    peer.send(&ServerEvent::Renamed {
        from: "alice".into(),
        to: "alice2".into(),
        time: now_ms(),
    });
    peer.send(&ServerEvent::Bye {
        code: ErrorCode::Shutdown,
        reason: "the server is shutting down".into(),
        time: now_ms(),
        retry_after: None,
    });
    drop(peer);
    assert!(matches!(
        next(updates),
        UpdateKind::Renamed { own: true, .. }
    ));
    match next(updates) {
        UpdateKind::Disconnected { reason } => {
            assert!(reason.contains("shutting down"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    assert!(!spawned.state.snapshot().connected);
    assert_eq!(
        next(updates),
        UpdateKind::Reconnecting {
            attempt: 1,
            max_attempts: Some(3),
            delay_secs: 1
        }
    );
    // While disconnected, messages are refused locally rather than lost silently. (Waiting
    // for the error before letting the rejoin finish keeps the order certain.)
    spawned
        .commands
        .send(Command::Say("anyone?".into()))
        .unwrap();
    match until(updates, |u| matches!(u, UpdateKind::Error { .. })) {
        UpdateKind::Error { code: None, text } => assert!(text.contains("not connected"), "{text}"),
        other => panic!("expected a local error, got {other:?}"),
    }

    let mut again = server.accept();
    assert_eq!(again.join(&["bob"], 100), "alice2");
    let connected = until(updates, |u| matches!(u, UpdateKind::Connected { .. }));
    assert_eq!(
        connected,
        UpdateKind::Connected {
            nick: "alice2".into(),
            users: vec!["alice2".into(), "bob".into()],
            server: "fake 0.0.0".into(),
            target: format!("127.0.0.1:{}", server.port),
            reconnected: true,
        }
    );
    spawned.commands.send(Command::Quit(None)).unwrap();
    assert_eq!(again.recv(), ClientEvent::Bye { reason: None });
    drop(again);
    spawned.thread.join().expect("a clean end");
}

/// The room lines among the updates up to (and including) the room message `last`, as text:
/// what a reader of the screen or a transcript would count.
fn room_lines_until(updates: &Receiver<Update>, last: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..50 {
        let line = match next(updates) {
            UpdateKind::History { text, .. } => format!("[history] {text}"),
            UpdateKind::Message { text, .. } => text,
            UpdateKind::Action { text, .. } => format!("* {text}"),
            UpdateKind::Away { missed, .. } => format!("-- {missed} missed --"),
            _ => continue,
        };
        let done = line == last;
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("{last:?} never came; saw {lines:?}");
}

/// The server going away for a restart: the client sees the bye, and dials again.
fn restart(mut peer: Peer) {
    peer.send(&ServerEvent::Bye {
        code: ErrorCode::Shutdown,
        reason: "the server is shutting down".into(),
        time: now_ms(),
        retry_after: None,
    });
}

#[test]
fn a_rejoin_asks_since_the_last_message_shown_and_shows_none_twice() {
    // On the old main every rejoin replayed the whole recent history again (issue 18).
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 3);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    assert_eq!(
        peer.since, None,
        "started afresh: the recent history, as before"
    );
    let history = |id, text: &str| ServerEvent::History {
        room: "#class".into(),
        id,
        kind: HistoryKind::Message,
        from: "bob".into(),
        text: text.into(),
        time: now_ms(),
    };
    let message = |id, text: &str| ServerEvent::Message {
        room: "#class".into(),
        id,
        from: "bob".into(),
        text: text.into(),
        time: now_ms(),
    };
    peer.send(&history(1, "one"));
    peer.send(&message(2, "two"));
    // The same id in a new token: a repeat all the same.
    peer.send(&message(2, "two"));
    peer.send(&ServerEvent::Action {
        room: "#class".into(),
        id: 3,
        from: "bob".into(),
        text: "three".into(),
        time: now_ms(),
    });
    assert_eq!(
        room_lines_until(updates, "* three"),
        ["[history] one", "two", "* three"]
    );
    restart(peer);

    // Back: the hello names the last message shown. This server replays too much (as one
    // that ignored `since` would) and repeats a live one: each is shown once all the same.
    let mut again = server.accept();
    again.expect_hello();
    assert_eq!(again.since, Some(3));
    again.welcome_missed("alice", &["bob"], 100, Some(2));
    for event in [
        history(2, "two"),
        history(3, "three"),
        history(4, "four"),
        history(5, "five"),
        message(5, "five"),
        message(6, "six"),
    ] {
        again.send(&event);
    }
    assert_eq!(
        room_lines_until(updates, "six"),
        ["-- 2 missed --", "[history] four", "[history] five", "six"]
    );
    assert!(
        matches!(again.recv(), ClientEvent::Ping { .. }),
        "the end-of-replay probe"
    );
    restart(again);

    // A server restarted without its history file counts from 1 again: nothing was missed
    // as far as it knows, and its messages are new, not repeats of 1 and 2.
    let mut third = server.accept();
    third.expect_hello();
    assert_eq!(third.since, Some(6));
    third.welcome_missed("alice", &["bob"], 100, Some(0));
    for event in [
        message(1, "counting again"),
        message(1, "counting again"),
        message(2, "on"),
    ] {
        third.send(&event);
    }
    assert_eq!(
        room_lines_until(updates, "on"),
        ["-- 0 missed --", "counting again", "on"]
    );
    assert_eq!(spawned.state.snapshot().last_message("#class"), Some(2));
    spawned.commands.send(Command::Quit(None)).unwrap();
    assert_eq!(third.recv(), ClientEvent::Bye { reason: None });
    drop(third);
    spawned.thread.join().expect("a clean end");
}

#[test]
fn a_rejoin_says_how_many_missed_messages_were_too_many_to_replay() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 3);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    peer.send(&ServerEvent::Message {
        room: "#class".into(),
        id: 10,
        from: "bob".into(),
        text: "ten".into(),
        time: now_ms(),
    });
    assert_eq!(room_lines_until(updates, "ten"), ["ten"]);
    restart(peer);

    let mut again = server.accept();
    again.expect_hello();
    assert_eq!(again.since, Some(10));
    // 5 were said, the server keeps only its last 2 to replay.
    again.welcome_missed("alice", &["bob"], 100, Some(5));
    for (id, text) in [(14, "fourteen"), (15, "fifteen")] {
        again.send(&ServerEvent::History {
            room: "#class".into(),
            id,
            kind: HistoryKind::Message,
            from: "bob".into(),
            text: text.into(),
            time: now_ms(),
        });
    }
    // The pong to the client's probe ends the replay.
    let ClientEvent::Ping { id } = again.recv() else {
        panic!("expected the end-of-replay probe");
    };
    again.send(&ServerEvent::Pong { id });
    assert_eq!(
        room_lines_until(updates, "[history] fifteen"),
        ["-- 5 missed --", "[history] fourteen", "[history] fifteen"]
    );
    match until(updates, |u| matches!(u, UpdateKind::Notice { .. })) {
        UpdateKind::Notice { text } => assert!(
            text.starts_with("3 of the 5 messages said while you were away are not shown"),
            "{text}"
        ),
        other => panic!("expected a notice, got {other:?}"),
    }
    restart(again);

    // A server without history: it knows how many, and can replay none.
    let mut third = server.accept();
    third.expect_hello();
    assert_eq!(third.since, Some(15));
    third.welcome_missed("alice", &["bob"], 100, Some(1));
    let ClientEvent::Ping { id } = third.recv() else {
        panic!("expected the end-of-replay probe");
    };
    third.send(&ServerEvent::Pong { id });
    assert_eq!(
        until(updates, |u| matches!(u, UpdateKind::Away { .. })),
        UpdateKind::Away {
            room: "#class".into(),
            missed: 1
        }
    );
    match until(updates, |u| matches!(u, UpdateKind::Notice { .. })) {
        UpdateKind::Notice { text } => assert!(text.starts_with("none of them"), "{text}"),
        other => panic!("expected a notice, got {other:?}"),
    }
    spawned.commands.send(Command::Quit(None)).unwrap();
    assert_eq!(third.recv(), ClientEvent::Bye { reason: None });
    drop(third);
    spawned.thread.join().expect("a clean end");
}

#[test]
fn reconnecting_gives_up_after_the_last_attempt() {
    let key = RoomKey::generate();
    // One connection only: after it, nothing listens on the port.
    let server = FakeServer::start(&key, 1);
    let (spawned, peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    let updates = &spawned.updates;
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));
    drop(peer); // The server vanishes without a word.
    assert!(matches!(next(updates), UpdateKind::Disconnected { .. }));
    for attempt in 1..=3 {
        match next(updates) {
            UpdateKind::Reconnecting { attempt: a, .. } => assert_eq!(a, attempt),
            other => panic!("expected Reconnecting {attempt}, got {other:?}"),
        }
        match next(updates) {
            UpdateKind::ReconnectFailed { attempt: a, reason } => {
                assert_eq!(a, attempt);
                assert!(
                    reason.contains("no fernchat server is listening"),
                    "{reason}"
                );
            }
            other => panic!("expected ReconnectFailed {attempt}, got {other:?}"),
        }
    }
    assert!(
        updates.recv_timeout(STEP).is_err(),
        "the session should have ended"
    );
    match spawned.thread.join() {
        Err(SessionError::GaveUp {
            attempts: 3,
            last: ConnectError::NoServer { .. },
        }) => {}
        other => panic!("expected GaveUp, got {other:?}"),
    }
}

#[test]
fn removal_for_flooding_is_not_retried() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 2);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    peer.send(&ServerEvent::Bye {
        code: ErrorCode::Flooding,
        reason: "too many messages".into(),
        time: now_ms(),
        retry_after: None,
    });
    until(&spawned.updates, |u| {
        matches!(u, UpdateKind::Disconnected { .. })
    });
    // The session ends right away: no Reconnecting follows, the channel just closes.
    assert!(spawned.updates.recv_timeout(STEP).is_err());
    match spawned.thread.join() {
        Err(
            err @ SessionError::Removed {
                code: ErrorCode::Flooding,
                ..
            },
        ) => {
            assert!(err.to_string().contains("too many messages"), "{err}");
        }
        other => panic!("expected Removed, got {other:?}"),
    }
}

#[test]
fn a_refusal_on_rejoin_ends_the_session() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 2);
    let (spawned, peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    drop(peer);
    let mut again = server.accept();
    again.expect_hello();
    again.send(&ServerEvent::Error {
        signature: None,
        code: ErrorCode::ServerFull,
        message: "the server is full".into(),
        time: now_ms(),
    });
    match spawned.thread.join() {
        Err(SessionError::Rejoin(ConnectError::Refused {
            code: ErrorCode::ServerFull,
            ..
        })) => {}
        other => panic!("expected Rejoin(ServerFull), got {other:?}"),
    }
}

#[test]
fn without_reconnect_a_drop_ends_the_session() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 2);
    let mut config = config(&server, &key, "alice");
    config.reconnect = ReconnectPolicy::off();
    let (spawned, peer) = running(&server, config, &[], 100);
    drop(peer);
    until(&spawned.updates, |u| {
        matches!(u, UpdateKind::Disconnected { .. })
    });
    match spawned.thread.join() {
        Err(SessionError::Lost { reason }) => assert!(reason.contains("closed"), "{reason}"),
        other => panic!("expected Lost, got {other:?}"),
    }
}

#[test]
fn a_silent_connection_counts_as_lost() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let mut config = config(&server, &key, "alice");
    config.reconnect = ReconnectPolicy::off();
    config.timeouts.silence = Duration::from_millis(300);
    let (spawned, _peer) = running(&server, config, &[], 100);
    match until(&spawned.updates, |u| {
        matches!(u, UpdateKind::Disconnected { .. })
    }) {
        UpdateKind::Disconnected { reason } => {
            assert!(reason.contains("heard nothing"), "{reason}")
        }
        _ => unreachable!(),
    }
    assert!(matches!(
        spawned.thread.join(),
        Err(SessionError::Lost { .. })
    ));
}

#[test]
fn frames_failing_checks_are_dropped_not_fatal() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &[], 100);
    assert!(matches!(
        next(&spawned.updates),
        UpdateKind::Connected { .. }
    ));
    // Garbage, a token under another key, and a replay of a real frame.
    peer.send_raw(b"not a token\n");
    peer.send_raw(&seal(&RoomKey::generate(), &ServerEvent::Ping { id: 1 }));
    let frame = seal(
        &key,
        &ServerEvent::Notice {
            text: "once".into(),
            time: now_ms(),
        },
    );
    peer.send_raw(&frame);
    peer.send_raw(&frame);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next(&spawned.updates));
    }
    let errors = seen
        .iter()
        .filter(|u| matches!(u, UpdateKind::Error { code: None, .. }))
        .count();
    assert_eq!(errors, 3, "{seen:?}");
    assert!(seen.contains(&UpdateKind::Notice {
        text: "once".into()
    }));
    peer.send(&ServerEvent::Ping { id: 9 });
    assert_eq!(peer.recv(), ClientEvent::Pong { id: 9 });
}

#[test]
fn a_quiet_connection_is_kept_alive_with_pings() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let mut config = config(&server, &key, "alice");
    config.timeouts.keepalive = Duration::from_millis(50);
    let (spawned, mut peer) = running(&server, config, &[], 100);
    let ClientEvent::Ping { id } = peer.recv() else {
        panic!("expected a keepalive ping");
    };
    peer.send(&ServerEvent::Pong { id });
    // Its pong is not a /ping answer, so no lag is shown: the next update is the notice.
    peer.send(&ServerEvent::Notice {
        text: "after".into(),
        time: now_ms(),
    });
    assert!(matches!(
        next(&spawned.updates),
        UpdateKind::Connected { .. }
    ));
    assert_eq!(
        next(&spawned.updates),
        UpdateKind::Notice {
            text: "after".into()
        }
    );
    // The pong was handled before the notice behind it: its lag is in the state, for a
    // status line.
    assert!(spawned.state.snapshot().lag_millis.is_some());
}

/// The README promises a client gives up after 10 tries, about 3 minutes after a drop: the
/// default policy's waits add up to 181 s.
#[test]
fn the_default_reconnect_gives_up_after_ten_tries_and_181_seconds_of_waiting() {
    let policy = ReconnectPolicy::default();
    assert_eq!(policy.max_attempts, Some(10));
    let waited: Duration = (1..=10).map(|attempt| policy.delay(attempt)).sum();
    assert_eq!(waited, Duration::from_secs(181));
}

/// Protocol version 2, strict acceptance: what is meant for this client alone opens only under
/// its session key; room broadcasts also under the room's key, which is the class key unless
/// the welcome names another (`room_key`).
#[test]
fn broadcasts_open_under_the_room_key_and_nothing_else_does() {
    let key = RoomKey::generate();
    let room_key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let room = room_key.clone();
    let (session, mut peer) =
        connect_with(&server, config(&server, &key, "alice"), move |mut peer| {
            peer.expect_hello();
            peer.handshake();
            peer.send(&ServerEvent::Welcome {
                room: "#class".into(),
                nick: "alice".into(),
                users: vec!["alice".into()],
                version: fernchat::protocol::PROTOCOL_VERSION,
                server: "fake".into(),
                max_text: 100,
                time: now_ms(),
                room_key: Some(room.expose_secret().to_owned()),
                missed: None,
                role: Default::default(),
                roles: Default::default(),
            });
            peer
        });
    let spawned = session.expect("joined").spawn().unwrap();
    let said = |text: &str| ServerEvent::Message {
        room: "#class".into(),
        id: 1,
        from: "bob".into(),
        text: text.into(),
        time: now_ms(),
    };
    // A private message and a room message under the class key: neither is this client's now.
    peer.send_class(&ServerEvent::Private {
        from: "bob".into(),
        to: "alice".into(),
        text: "private under the class key".into(),
        time: now_ms(),
    });
    peer.send_class(&said("room message under the class key"));
    // A private message under the room key: a broadcast key never seals one.
    peer.send_raw(&seal(
        &room_key,
        &ServerEvent::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "private under the room key".into(),
            time: now_ms(),
        },
    ));
    peer.send_raw(&seal(&room_key, &said("room message under the room key")));
    let mut before = Vec::new();
    let shown = loop {
        match next(&spawned.updates) {
            message @ UpdateKind::Message { .. } => break message,
            other => before.push(other),
        }
        assert!(before.len() < 50, "no message shown: {before:?}");
    };
    assert!(
        matches!(&shown, UpdateKind::Message { text, .. } if text == "room message under the room key"),
        "{shown:?}"
    );
    // Everything before it was dropped (and said so), nothing shown as a private message.
    assert!(
        !before
            .iter()
            .any(|u| matches!(u, UpdateKind::Private { .. })),
        "{before:?}"
    );
    let dropped = before
        .iter()
        .filter(|u| matches!(u, UpdateKind::Error { code: None, .. }))
        .count();
    assert_eq!(dropped, 3, "{before:?}");
}

/// Issue 15, announcements kept in the history: a replayed announcement is shown in its place,
/// as a history announcement, and kept in view; one older than the replay (the server sends the
/// latest after it) is shown too, though its id is below the last message; the same one again
/// is not shown twice.
#[test]
fn replayed_announcements_are_shown_once_in_their_place() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 3);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    let announcement = |id, text: &str| ServerEvent::Announcement {
        room: "#class".into(),
        from: "prof".into(),
        text: text.into(),
        time: now_ms(),
        id: Some(id),
        history: true,
    };
    let history = |id, text: &str| ServerEvent::History {
        room: "#class".into(),
        id,
        kind: HistoryKind::Message,
        from: "bob".into(),
        text: text.into(),
        time: now_ms(),
    };
    peer.send(&history(5, "before"));
    peer.send(&announcement(6, "in its place"));
    peer.send(&history(7, "after"));
    // The latest, older than the replay: still shown (and now in view).
    peer.send(&announcement(3, "older than the replay"));
    // The same again: a repeat.
    peer.send(&announcement(3, "older than the replay"));
    peer.send(&ServerEvent::Message {
        room: "#class".into(),
        id: 8,
        from: "bob".into(),
        text: "live".into(),
        time: now_ms(),
    });
    let mut seen = Vec::new();
    for _ in 0..20 {
        let line = match next(updates) {
            UpdateKind::History { text, .. } => format!("[history] {text}"),
            UpdateKind::Message { text, .. } => text,
            UpdateKind::Announcement {
                text,
                history: true,
                ..
            } => format!("[history] ANNOUNCEMENT {text}"),
            _ => continue,
        };
        let done = line == "live";
        seen.push(line);
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "[history] before",
            "[history] ANNOUNCEMENT in its place",
            "[history] after",
            "[history] ANNOUNCEMENT older than the replay",
            "live"
        ]
    );
    peer.send(&ServerEvent::Bye {
        code: ErrorCode::Quit,
        reason: "done".into(),
        time: now_ms(),
        retry_after: None,
    });
    drop(peer);
    let _ = spawned.thread.join();
}

/// `entered` for `room` with `users`, as a rooms server sends it.
fn entered(room: &str, users: &[&str], missed: Option<u64>) -> ServerEvent {
    ServerEvent::Entered {
        room: room.into(),
        users: users.iter().map(|u| u.to_string()).collect(),
        roles: Default::default(),
        topic: None,
        by: None,
        missed,
        time: now_ms(),
    }
}

fn said_in(room: &str, id: u64, text: &str) -> ServerEvent {
    ServerEvent::Message {
        room: room.into(),
        id,
        from: "bob".into(),
        text: text.into(),
        time: now_ms(),
    }
}

fn parsed(line: &str) -> Command {
    fernchat::client::command::parse(line)
        .expect("parses")
        .expect("a command")
}

#[test]
fn rooms_are_joined_and_what_we_type_goes_to_the_current_one() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let (updates, commands) = (&spawned.updates, &spawned.commands);
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));

    commands.send(parsed("/join #Lab1")).unwrap();
    assert_eq!(
        peer.recv(),
        ClientEvent::Join {
            room: "#lab1".into(),
            since: None,
            invite_only: false
        }
    );
    let ClientEvent::Ping { id } = peer.recv() else {
        panic!("expected the ping after the join");
    };
    // Typed before the server answered: meant for the room being joined.
    commands.send(parsed("first in lab")).unwrap();
    assert_eq!(
        peer.recv(),
        ClientEvent::Say {
            room: Some("#lab1".into()),
            text: "first in lab".into()
        }
    );
    peer.send(&entered("#lab1", &["bob", "alice"], None));
    peer.send(&ServerEvent::Pong { id });
    assert_eq!(
        next(updates),
        UpdateKind::Entered {
            room: "#lab1".into(),
            users: vec!["alice".into(), "bob".into()],
            topic: None,
            by: None
        }
    );
    assert_eq!(
        next(updates),
        UpdateKind::Switched {
            room: "#lab1".into()
        }
    );
    let state = spawned.state.snapshot();
    assert_eq!(state.current, "#lab1");
    let rooms: Vec<&str> = state.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rooms, ["#class", "#lab1"]);

    // Plain text, /me, /who and the room's staff commands go to the current room; #class is
    // named by no room at all, as before rooms.
    for (line, sent) in [
        (
            "hi lab",
            ClientEvent::Say {
                room: Some("#lab1".into()),
                text: "hi lab".into(),
            },
        ),
        (
            "#class hi all",
            ClientEvent::Say {
                room: None,
                text: "hi all".into(),
            },
        ),
        (
            "/me waves",
            ClientEvent::Me {
                room: Some("#lab1".into()),
                text: "waves".into(),
            },
        ),
        (
            "/who",
            ClientEvent::Who {
                room: Some("#lab1".into()),
            },
        ),
        (
            "/topic Lab 3",
            ClientEvent::Topic {
                room: Some("#lab1".into()),
                text: "Lab 3".into(),
            },
        ),
        (
            "/announce --all break",
            ClientEvent::Announce {
                room: None,
                all: true,
                text: "break".into(),
            },
        ),
        (
            "/slow 5",
            ClientEvent::Slow {
                room: Some("#lab1".into()),
                seconds: 5,
            },
        ),
        ("/list", ClientEvent::List),
    ] {
        commands.send(parsed(line)).unwrap();
        assert_eq!(peer.recv(), sent, "{line:?}");
    }
    // A room we are not in: nothing is sent (text for a group must not land elsewhere).
    commands.send(parsed("#lab9 secret answer")).unwrap();
    match next(updates) {
        UpdateKind::Error { code: None, text } => {
            assert!(text.contains("not in #lab9"), "{text}")
        }
        other => panic!("expected a local error, got {other:?}"),
    }
    commands.send(parsed("/switch #lab9")).unwrap();
    assert!(matches!(
        next(updates),
        UpdateKind::Error { code: None, .. }
    ));
    // A refused join: once its ping is answered, typing goes to the current room again.
    commands.send(parsed("/join #closed")).unwrap();
    assert!(matches!(peer.recv(), ClientEvent::Join { .. }));
    let ClientEvent::Ping { id } = peer.recv() else {
        panic!("expected the ping after the join");
    };
    peer.send(&ServerEvent::Error {
        signature: None,
        code: ErrorCode::InviteOnly,
        message: "#closed is invite-only".into(),
        time: now_ms(),
    });
    peer.send(&ServerEvent::Pong { id });
    // Network events are handled in order: once this notice is shown, so is the pong.
    peer.send(&ServerEvent::Notice {
        text: "after the pong".into(),
        time: now_ms(),
    });
    assert!(matches!(
        next(updates),
        UpdateKind::Error { code: Some(_), .. }
    ));
    assert!(matches!(next(updates), UpdateKind::Notice { .. }));
    commands.send(parsed("still lab")).unwrap();
    assert_eq!(
        peer.recv(),
        ClientEvent::Say {
            room: Some("#lab1".into()),
            text: "still lab".into()
        }
    );

    // Each room counts its own ids: #class's id 1 is not a repeat of #lab1's.
    peer.send(&said_in("#lab1", 1, "in lab"));
    peer.send(&said_in("#class", 1, "in class"));
    for (room, text) in [("#lab1", "in lab"), ("#class", "in class")] {
        assert_eq!(
            next(updates),
            UpdateKind::Message {
                room: room.into(),
                from: "bob".into(),
                text: text.into(),
                own: false
            }
        );
    }

    commands.send(parsed("/switch #CLASS")).unwrap();
    assert_eq!(
        next(updates),
        UpdateKind::Switched {
            room: "#class".into()
        }
    );
    commands.send(parsed("/part #lab1 done")).unwrap();
    assert_eq!(
        peer.recv(),
        ClientEvent::Part {
            room: "#lab1".into(),
            reason: Some("done".into())
        }
    );
    peer.send(&ServerEvent::Parted {
        room: "#lab1".into(),
        reason: "done".into(),
        time: now_ms(),
    });
    assert_eq!(
        next(updates),
        UpdateKind::Parted {
            room: "#lab1".into(),
            reason: "done".into()
        }
    );
    commands.send(parsed("/part #lab1")).unwrap();
    assert!(matches!(
        next(updates),
        UpdateKind::Error { code: None, .. }
    ));
    let state = spawned.state.snapshot();
    assert_eq!(state.rooms.len(), 1);
    assert_eq!(state.current, "#class");
}

#[test]
fn a_reconnect_rejoins_every_room_since_its_last_message() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 2);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));
    // In #lab1 and #lab2 (moved there by staff: it becomes current), #lab1 at message 4.
    peer.send(&entered("#lab1", &["alice"], None));
    let mut moved = entered("#lab2", &["alice"], None);
    if let ServerEvent::Entered { by, .. } = &mut moved {
        *by = Some("prof".into());
    }
    peer.send(&moved);
    peer.send(&said_in("#lab1", 4, "four"));
    until(updates, |u| matches!(u, UpdateKind::Message { .. }));
    assert_eq!(spawned.state.snapshot().current, "#lab2");
    restart(peer);

    let mut again = server.accept();
    again.expect_hello();
    assert_eq!(again.since, None, "nothing was said in #class");
    again.welcome_missed("alice", &["bob"], 100, None);
    assert_eq!(
        again.recv(),
        ClientEvent::Join {
            room: "#lab1".into(),
            since: Some(4),
            invite_only: false
        }
    );
    assert_eq!(
        again.recv(),
        ClientEvent::Join {
            room: "#lab2".into(),
            since: None,
            invite_only: false
        }
    );
    let ClientEvent::Ping { id } = again.recv() else {
        panic!("expected the probe after the joins");
    };
    // Back into #lab1 with one message missed and replayed; #lab2 refused (say it became
    // invite-only), then the probe's pong.
    again.send(&entered("#lab1", &["alice", "bob"], Some(1)));
    again.send(&ServerEvent::History {
        room: "#lab1".into(),
        id: 5,
        kind: HistoryKind::Message,
        from: "bob".into(),
        text: "five".into(),
        time: now_ms(),
    });
    again.send(&ServerEvent::Error {
        signature: None,
        code: ErrorCode::InviteOnly,
        message: "#lab2 is invite-only: ask a member to /invite you".into(),
        time: now_ms(),
    });
    again.send(&ServerEvent::Pong { id });
    assert!(matches!(
        until(updates, |u| matches!(u, UpdateKind::Connected { .. })),
        UpdateKind::Connected {
            reconnected: true,
            ..
        }
    ));
    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(next(updates));
    }
    assert!(
        matches!(&seen[0], UpdateKind::Entered { room, .. } if room == "#lab1"),
        "{seen:?}"
    );
    assert_eq!(
        seen[1..],
        [
            UpdateKind::Away {
                room: "#lab1".into(),
                missed: 1
            },
            UpdateKind::History {
                room: "#lab1".into(),
                from: "bob".into(),
                text: "five".into(),
                action: false,
                own: false
            },
            UpdateKind::Error {
                code: Some(ErrorCode::InviteOnly),
                text: "#lab2 is invite-only: ask a member to /invite you".into()
            },
            UpdateKind::Parted {
                room: "#lab2".into(),
                reason: "could not rejoin it after the reconnect".into()
            },
            UpdateKind::Switched {
                room: "#class".into()
            },
        ]
    );
    let state = spawned.state.snapshot();
    let rooms: Vec<&str> = state.rooms.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rooms, ["#class", "#lab1"]);
    assert_eq!(state.last_message("#lab1"), Some(5));
}

#[test]
fn a_hostile_server_cannot_plant_rooms_or_drive_the_terminal_with_their_names() {
    let key = RoomKey::generate();
    let server = FakeServer::start(&key, 1);
    let (spawned, mut peer) = running(&server, config(&server, &key, "alice"), &["bob"], 100);
    let updates = &spawned.updates;
    assert!(matches!(next(updates), UpdateKind::Connected { .. }));
    peer.send(&entered("#lab1\u{1b}[2J", &["alice"], None));
    match next(updates) {
        UpdateKind::Error { code: None, text } => {
            assert!(text.contains("not a room name"), "{text}");
            assert!(!text.contains('\u{1b}'), "{text:?}");
        }
        other => panic!("expected a local error, got {other:?}"),
    }
    // Entering more rooms than any server allows: the client keeps a bounded number.
    let limit = fernchat::client::state::MAX_ROOMS;
    for i in 0..limit + 5 {
        peer.send(&entered(&format!("#r{i}"), &["alice"], None));
    }
    // #class and 99 more are taken (each shown, and switched to); the other 6 are refused.
    let shown = 2 * (limit - 1) + 6;
    let errors = (0..shown)
        .map(|_| next(updates))
        .filter(|u| matches!(u, UpdateKind::Error { .. }))
        .count();
    assert_eq!(errors, 6);
    assert_eq!(spawned.state.snapshot().rooms.len(), limit);
}
