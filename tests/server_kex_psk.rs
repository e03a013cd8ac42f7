//! The authenticated handshakes (`x25519-psk`, `x25519-psk-signed`; PROTOCOL.md section 7)
//! against the real server on 127.0.0.1, with raw peers and with the client core: key
//! confirmation before any chat message, a wrong class key, lab 4's man in the middle, the
//! server's signature, identity pins across restarts, and an impostor replaying a signature.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::thread;

use common::{Peer, STEP, TestServer, quiet_config};
use fernchat::client::pins::{KnownServers, Pin, PinError};
use fernchat::client::{ClientConfig, ConnectError, KexChoice, KexSetup, ServerAddr, Session};
use fernchat::crypto::RoomKey;
use fernchat::identity::{IdentityKey, ServerIdentity};
use fernchat::kex::{
    Confirming, Ephemeral, KEX_X25519_PSK, KEX_X25519_PSK_SIGNED, Psk, PublicShare, Role,
    Transcript,
};
use fernchat::protocol::{ClientEvent, ErrorCode, FrameReader, PROTOCOL_VERSION, ServerEvent};
use fernchat::server::{Server, ServerConfig};
use labkit::mitm::{self, Mode};

/// A server with an identity key (so that it offers every exchange).
fn signed_server(identity: &ServerIdentity) -> TestServer {
    let mut config = quiet_config(RoomKey::generate());
    config.identity = Some(identity.clone());
    TestServer::start(config)
}

/// A server on a chosen address (a restart on the same port).
fn server_on(addr: SocketAddr, config: ServerConfig) -> TestServer {
    let listener = TcpListener::bind(addr).expect("the port is free again after the shutdown");
    let key = config.key.clone();
    TestServer::run(Server::new(listener, config).unwrap(), key)
}

/// The handshake's kex fields: kex, kex_public, kex_confirm, kex_identity, kex_signature.
type KexFields = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn kex_fields(event: ServerEvent) -> KexFields {
    match event {
        ServerEvent::Handshake {
            kex,
            kex_public,
            kex_confirm,
            kex_identity,
            kex_signature,
            ..
        } => (
            Some(kex),
            kex_public,
            kex_confirm,
            kex_identity,
            kex_signature,
        ),
        other => panic!("expected a handshake, got {other:?}"),
    }
}

/// A raw peer's PSK handshake up to (not including) its confirm: returns the peer, switched
/// to its session keys, the exchange, and the handshake's fields.
fn psk_hello(server: &TestServer, nick: &str, kex: &str) -> (Peer, Confirming, (), KexFields) {
    let mut peer = server.peer();
    let ours = Ephemeral::generate();
    let public = ours.public();
    peer.hello_with(nick, kex, Some(public.to_wire()));
    let fields = kex_fields(peer.recv());
    assert_eq!(fields.0.as_deref(), Some(kex));
    let theirs = PublicShare::from_wire(fields.1.as_deref().unwrap()).unwrap();
    let identity = fields
        .3
        .as_deref()
        .map(|text| IdentityKey::from_wire(text).unwrap());
    let transcript = Transcript::new(kex, nick, &public, &theirs, identity.as_ref().map(|k| &k.0));
    if let Some(identity) = identity {
        identity
            .verify(&transcript, fields.4.as_deref().unwrap())
            .expect("the server's signature verifies");
    }
    let confirming = ours
        .finish_psk(
            Role::Client,
            &theirs,
            &Psk::from_class_key(&server.key),
            &transcript,
        )
        .unwrap();
    confirming
        .check(fields.2.as_deref().expect("kex_confirm"))
        .expect("the server's confirmation checks out");
    peer.switch_keys(
        confirming.keys.send.clone(),
        confirming.keys.receive.clone(),
    );
    (peer, confirming, (), fields)
}

fn who(peer: &mut Peer) -> Vec<String> {
    peer.send(&ClientEvent::Who { room: None });
    match peer.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users { users, .. } => users,
        _ => unreachable!(),
    }
}

#[test]
fn a_psk_session_joins_the_room_only_after_its_confirmation() {
    let identity = ServerIdentity::generate();
    let server = signed_server(&identity);
    for kex in [KEX_X25519_PSK, KEX_X25519_PSK_SIGNED] {
        let mut plain = server.join("plain");
        let (mut secret, confirming, (), fields) = psk_hello(&server, "secret", kex);
        assert_eq!(fields.3.is_some(), kex == KEX_X25519_PSK_SIGNED);
        // Not confirmed yet: not in the room, and nobody can write to it (issue 12 item 8).
        assert_eq!(who(&mut plain), ["plain"]);
        plain.send(&ClientEvent::Msg {
            to: "secret".into(),
            text: "are you there?".into(),
        });
        plain.expect_error(ErrorCode::NoSuchNick);
        plain.say("before the confirmation");
        assert!(matches!(plain.recv(), ServerEvent::Message { .. }));

        secret.send(&ClientEvent::Confirm {
            mac: Some(confirming.ours_wire()),
        });
        // The welcome comes only now, under the session key.
        match secret.recv() {
            ServerEvent::Welcome { users, nick, .. } => {
                assert_eq!(nick, "secret");
                assert_eq!(users, ["plain", "secret"], "the welcome lists the newcomer");
            }
            other => panic!("expected the welcome, got {other:?}"),
        }
        assert!(matches!(plain.recv(), ServerEvent::Joined { nick, .. } if nick == "secret"));
        secret.say("after the confirmation");
        for peer in [&mut secret, &mut plain] {
            let text = common::message_text(&peer.recv(), "secret");
            assert_eq!(text, "after the confirmation");
        }
        // The room message said before the confirmation never reached the newcomer: the first
        // thing it received was its own echo (and this server keeps no history).
        secret.send(&ClientEvent::Bye { reason: None });
        plain.send(&ClientEvent::Bye { reason: None });
        secret.expect_closed(5);
        plain.expect_closed(5);
    }
}

#[test]
fn anything_but_the_right_confirmation_ends_the_connection_before_a_message_is_delivered() {
    let identity = ServerIdentity::generate();
    let server = signed_server(&identity);
    let mut plain = server.join("plain");
    // 1. A chat message instead of the confirmation, under the right key.
    // 2. A confirmation with a wrong MAC.
    // 3. The confirmation sealed with the class key (what someone without the session keys
    //    can make).
    // 4. A second hello instead of the confirmation.
    for attempt in 0..4 {
        let (mut secret, confirming, ..) = psk_hello(&server, "secret", KEX_X25519_PSK);
        match attempt {
            0 => secret.say("sneaking in"),
            1 => secret.send(&ClientEvent::Confirm {
                mac: Some(fernchat::kex::PublicShare([7; 32]).to_wire()),
            }),
            2 => {
                let class = server.key.clone();
                secret.switch_keys(class, confirming.keys.receive.clone());
                secret.send(&ClientEvent::Confirm {
                    mac: Some(confirming.ours_wire()),
                });
            }
            _ => {
                secret.hello_with("secret", "psk", None);
            }
        }
        let message = secret.expect_error(ErrorCode::KexFailed);
        assert!(!message.is_empty(), "attempt {attempt}");
        secret.expect_closed(5);
        // Nobody saw it join, nothing it said was delivered, and its nick is free again.
        assert_eq!(who(&mut plain), ["plain"], "attempt {attempt}");
    }
    let (mut secret, confirming, ..) = psk_hello(&server, "secret", KEX_X25519_PSK);
    secret.send(&ClientEvent::Confirm {
        mac: Some(confirming.ours_wire()),
    });
    assert!(matches!(plain.recv(), ServerEvent::Joined { nick, .. } if nick == "secret"));
}

#[test]
fn a_client_that_never_confirms_is_removed_by_the_hello_timeout() {
    let mut config = quiet_config(RoomKey::generate());
    config.hello_timeout = std::time::Duration::from_secs(1);
    let server = TestServer::start(config);
    let (mut secret, ..) = psk_hello(&server, "silent", KEX_X25519_PSK);
    let message = secret.expect_error(ErrorCode::HelloTimeout);
    assert!(message.contains("hello"), "{message}");
    secret.expect_closed(5);
    // The held nick is free again.
    let mut again = server.join("silent");
    assert_eq!(who(&mut again), ["silent"]);
}

fn client_config(
    addr: SocketAddr,
    key: &RoomKey,
    nick: &str,
    kex: KexChoice,
    pins: &Path,
) -> ClientConfig {
    let mut config =
        ClientConfig::new(ServerAddr::new("127.0.0.1", addr.port()), key.clone(), nick);
    config.timeouts.connect = STEP;
    config.timeouts.handshake = STEP;
    config.kex = KexSetup {
        kex,
        known_servers: KnownServers::new(pins.join("known_servers")),
    };
    config
}

#[test]
fn the_client_core_joins_with_each_exchange_and_a_wrong_class_key_fails_first() {
    let pins = tempfile::tempdir().unwrap();
    let server = signed_server(&ServerIdentity::generate());
    let mut plain = server.join("plain");
    for (i, kex) in KexChoice::ALL.into_iter().enumerate() {
        let nick = format!("user{i}");
        let session = Session::connect(client_config(
            server.addr,
            &server.key,
            &nick,
            kex,
            pins.path(),
        ))
        .unwrap_or_else(|e| panic!("{kex:?}: {e}"));
        assert_eq!(session.welcome().security.kex, kex);
        assert!(
            matches!(plain.recv(), ServerEvent::Joined { nick: joined, .. } if joined == nick),
            "{kex:?}"
        );
        drop(session);
        plain.recv_until(5, |e| matches!(e, ServerEvent::Left { .. }));

        // Another class key: refused before any message, and nobody joined. In the signed
        // mode the plaintext wrong-key line (which anyone can send) is not enough to blame
        // the user's key: it is reported as an unverified network fault.
        let wrong = RoomKey::generate();
        match Session::connect(client_config(
            server.addr,
            &wrong,
            "intruder",
            kex,
            pins.path(),
        )) {
            Err(ConnectError::WrongKey {
                ours,
                server: theirs,
            }) if kex != KexChoice::X25519PskSigned => {
                assert_eq!(ours, wrong.fingerprint());
                assert_eq!(theirs, Some(server.key.fingerprint().to_string()));
            }
            Err(ConnectError::Unverified { what, .. }) if kex == KexChoice::X25519PskSigned => {
                assert!(what.contains("plaintext"), "{what}");
            }
            other => panic!("{kex:?}: expected a wrong-key error, got {other:?}"),
        }
        assert_eq!(who(&mut plain), ["plain"], "{kex:?}");
    }
}

#[test]
fn lab_4s_proxy_reads_an_x25519_session_but_fails_the_psk_confirmation() {
    let pins = tempfile::tempdir().unwrap();
    let server = signed_server(&ServerIdentity::generate());
    let mut plain = server.join("plain");

    // The attack works on plain x25519: the session joins, and the proxy reads it.
    let mitm = mitm::start(server.addr, server.key.clone(), Mode::Lab4).unwrap();
    let session = Session::connect(client_config(
        mitm.addr,
        &server.key,
        "victim",
        KexChoice::X25519,
        pins.path(),
    ))
    .expect("x25519 cannot tell the proxy from the server");
    assert!(matches!(plain.recv(), ServerEvent::Joined { nick, .. } if nick == "victim"));
    plain.say("the proxy reads this");
    plain.recv();
    let read: Vec<String> = (0..8)
        .map_while(|_| mitm.seen.recv_timeout(STEP).ok())
        .take_while(|text| !text.contains("the proxy reads this"))
        .collect();
    assert!(
        read.len() < 8,
        "the proxy read the room's message after the handshake"
    );
    drop(session);
    plain.recv_until(5, |e| matches!(e, ServerEvent::Left { .. }));

    // The same proxy against both PSK exchanges: confirmation fails, nothing is sent.
    for kex in [KexChoice::X25519Psk, KexChoice::X25519PskSigned] {
        let mitm = mitm::start(server.addr, server.key.clone(), Mode::Lab4).unwrap();
        match Session::connect(client_config(
            mitm.addr,
            &server.key,
            "victim",
            kex,
            pins.path(),
        )) {
            Err(err @ ConnectError::KexFailed { .. }) => {
                let text = err.to_string();
                assert!(text.contains("nothing was sent"), "{text}");
            }
            other => panic!("{kex:?}: the proxy must be detected, got {other:?}"),
        }
        // The proxy read the hello and the handshake (sealed with the class key), nothing
        // after.
        let read: Vec<String> = mitm.seen.try_iter().collect();
        assert!(
            read.iter()
                .all(|t| t.contains("\"hello\"") || t.contains("\"handshake\"")),
            "{read:?}"
        );
        assert_eq!(who(&mut plain), ["plain"], "{kex:?}");
    }
}

#[test]
fn identity_pins_survive_restarts_and_a_new_identity_is_refused() {
    let pins = tempfile::tempdir().unwrap();
    let identity = ServerIdentity::generate();
    let class_key = RoomKey::generate();
    let config = |identity: &ServerIdentity| {
        let mut config = quiet_config(class_key.clone());
        config.identity = Some(identity.clone());
        config
    };
    let mut first = TestServer::start(config(&identity));
    let addr = first.addr;
    let connect = |addr| {
        Session::connect(client_config(
            addr,
            &class_key,
            "alice",
            KexChoice::X25519PskSigned,
            pins.path(),
        ))
    };
    let session = connect(addr).expect("first use");
    assert_eq!(
        session.welcome().security.identity,
        Some((identity.public().fingerprint(), Pin::New))
    );
    drop(session);
    first.shutdown();

    // The same server restarted (same identity file, same port): the pin matches.
    let mut second = server_on(addr, config(&identity));
    let session = connect(addr).expect("the pinned identity");
    assert_eq!(
        session.welcome().security.identity,
        Some((identity.public().fingerprint(), Pin::Known))
    );
    drop(session);
    second.shutdown();

    // Another server on that address, with the class key but another identity: refused.
    let impostor = ServerIdentity::generate();
    let third = server_on(addr, config(&impostor));
    match connect(addr) {
        Err(ConnectError::Pin(PinError::Changed {
            pinned, presented, ..
        })) => {
            assert_eq!(pinned, identity.public().fingerprint());
            assert_eq!(presented, impostor.public().fingerprint());
        }
        other => panic!("a changed identity must be refused, got {other:?}"),
    }
    let mut plain = third.join("plain");
    assert_eq!(
        who(&mut plain),
        ["plain"],
        "the refused client never joined"
    );
    // The pin file still names the first identity.
    let pinned = KnownServers::new(pins.path().join("known_servers"))
        .get(&format!("127.0.0.1:{}", addr.port()))
        .unwrap();
    assert_eq!(pinned, Some(identity.public()));
}

/// An impostor that holds the class key (so it can confirm) and the real server's identity
/// *public* key, and replays a signature the real server made in an earlier session.
fn replaying_impostor(class_key: RoomKey, identity: String, signature: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(STEP)).unwrap();
        let mut frames = FrameReader::new(stream.try_clone().unwrap(), 1 << 16);
        let Ok(Some(frame)) = frames.read_frame() else {
            return;
        };
        let hello: serde_json::Value =
            serde_json::from_slice(&class_key.decrypt(frame).unwrap().plaintext).unwrap();
        let client = PublicShare::from_wire(hello["kex_public"].as_str().unwrap()).unwrap();
        let nick = hello["nick"].as_str().unwrap().to_owned();
        let ours = Ephemeral::generate();
        let public = ours.public();
        let identity_key = IdentityKey::from_wire(&identity).unwrap();
        let transcript = Transcript::new(
            KEX_X25519_PSK_SIGNED,
            &nick,
            &client,
            &public,
            Some(&identity_key.0),
        );
        let confirming = ours
            .finish_psk(
                Role::Server,
                &client,
                &Psk::from_class_key(&class_key),
                &transcript,
            )
            .unwrap();
        let welcome = ServerEvent::Handshake {
            version: PROTOCOL_VERSION,
            nonce: hello["nonce"].as_str().unwrap().to_owned(),
            server_nonce: fernchat::kex::Nonce::generate().to_wire(),
            kex: KEX_X25519_PSK_SIGNED.into(),
            kex_public: Some(public.to_wire()),
            kex_confirm: Some(confirming.ours_wire()),
            kex_identity: Some(identity),
            kex_signature: Some(signature),
        };
        use std::io::Write;
        let _ = (&stream).write_all(&fernchat::protocol::seal(&class_key, &welcome));
        // Wait for the client to give up (or, were it fooled, to send its confirmation).
        let _ = frames.read_frame();
    });
    addr
}

#[test]
fn a_signature_from_an_old_session_does_not_verify() {
    let pins = tempfile::tempdir().unwrap();
    let identity = ServerIdentity::generate();
    let server = signed_server(&identity);
    // Record a genuine signed welcome.
    let (_recorded, _, _, fields) = psk_hello(&server, "alice", KEX_X25519_PSK_SIGNED);
    let (recorded_identity, recorded_signature) = (fields.3.unwrap(), fields.4.unwrap());
    assert_eq!(recorded_identity, identity.public().to_wire());

    // The real server, pinned first: accepted.
    let session = Session::connect(client_config(
        server.addr,
        &server.key,
        "bob",
        KexChoice::X25519PskSigned,
        pins.path(),
    ))
    .expect("the real server");
    drop(session);
    // The impostor with the old signature: refused, whether or not the client pinned before
    // (its pin file is keyed by address, and the impostor has another port: first use).
    let impostor = replaying_impostor(server.key.clone(), recorded_identity, recorded_signature);
    match Session::connect(client_config(
        impostor,
        &server.key,
        "bob",
        KexChoice::X25519PskSigned,
        pins.path(),
    )) {
        Err(ConnectError::KexFailed { detail, .. }) => {
            assert!(detail.contains("signature"), "{detail}");
        }
        other => panic!("a replayed signature must be refused, got {other:?}"),
    }
    // Nothing was pinned for the impostor's address.
    assert_eq!(
        KnownServers::new(pins.path().join("known_servers"))
            .get(&format!("127.0.0.1:{}", impostor.port()))
            .unwrap(),
        None
    );
}

#[test]
fn the_server_offers_what_it_is_told_and_signs_only_with_an_identity() {
    // Without an identity key: the signed exchange is not offered.
    let server = TestServer::with_defaults();
    let mut peer = server.peer();
    peer.hello_with(
        "alice",
        KEX_X25519_PSK_SIGNED,
        Some(Ephemeral::generate().public().to_wire()),
    );
    let message = peer.expect_error(ErrorCode::KexUnsupported);
    let offered = message.split(';').next().unwrap();
    assert!(
        offered.contains("\"x25519-psk\"") && !offered.contains(KEX_X25519_PSK_SIGNED),
        "{message}"
    );
    peer.expect_closed(5);
    // The unsigned PSK exchange works without one.
    let (mut secret, confirming, ..) = psk_hello(&server, "secret", KEX_X25519_PSK);
    secret.send(&ClientEvent::Confirm {
        mac: Some(confirming.ours_wire()),
    });
    assert_eq!(who(&mut secret), ["secret"]);

    // A class that requires the signed exchange: psk and x25519 are refused.
    let mut config = quiet_config(RoomKey::generate());
    config.identity = Some(ServerIdentity::generate());
    config.kex = vec![KEX_X25519_PSK_SIGNED];
    let strict = TestServer::start(config);
    let mut peer = strict.peer();
    peer.hello("plain");
    let message = peer.expect_error(ErrorCode::KexUnsupported);
    assert!(message.contains(KEX_X25519_PSK_SIGNED), "{message}");
    peer.expect_closed(5);
    let (mut secret, confirming, ..) = psk_hello(&strict, "secret", KEX_X25519_PSK_SIGNED);
    secret.send(&ClientEvent::Confirm {
        mac: Some(confirming.ours_wire()),
    });
    assert_eq!(who(&mut secret), ["secret"]);
    // A stray confirm on a psk session is refused without closing it.
    let mut plain = server.join("plain");
    plain.send(&ClientEvent::Confirm {
        mac: Some("x".into()),
    });
    plain.expect_error(ErrorCode::KexFailed);
    assert_eq!(who(&mut plain), ["plain", "secret"]);
}
