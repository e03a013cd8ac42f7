//! The lab 3 handshake (`"kex":"x25519"`, PROTOCOL.md section 7) against the real server:
//! session keys per client and per direction, next to class-key clients in the same room.

mod common;

use common::{Got, Peer, TestServer};
use fernchat::kex::{Ephemeral, PublicShare, Role, SessionKeys};
use fernchat::protocol::{ClientEvent, ErrorCode, PROTOCOL_VERSION, ServerEvent};

fn x25519_hello(peer: &mut Peer, nick: &str, kex_public: Option<String>) {
    peer.send(&ClientEvent::Hello {
        nonce: Some(fernchat::kex::Nonce::generate().to_wire()),
        since: None,
        nick: nick.into(),
        version: PROTOCOL_VERSION,
        kex: "x25519".into(),
        kex_public,
        client: None,
    });
}

/// Joins with the x25519 exchange; returns the peer (switched to its session keys), the keys
/// and the server's public key.
fn join_x25519(server: &TestServer, nick: &str) -> (Peer, SessionKeys, String) {
    let mut peer = server.peer();
    let ours = Ephemeral::generate();
    x25519_hello(&mut peer, nick, Some(ours.public().to_wire()));
    // The handshake comes under the class key: we cannot know the session key before it.
    let server_public = match peer.recv() {
        ServerEvent::Handshake {
            kex, kex_public, ..
        } => {
            assert_eq!(kex, "x25519");
            kex_public.expect("the server's public key")
        }
        other => panic!("expected handshake, got {other:?}"),
    };
    let theirs = PublicShare::from_wire(&server_public).unwrap();
    let keys = ours.finish(Role::Client, &theirs).unwrap();
    peer.switch_keys(keys.send.clone(), keys.receive.clone());
    // The confirm (no MAC in plain x25519: opening under the new key is the proof), then
    // the welcome under the session key.
    peer.send(&ClientEvent::Confirm { mac: None });
    assert!(matches!(peer.recv(), ServerEvent::Welcome { nick: n, .. } if n == nick));
    (peer, keys, server_public)
}

#[test]
fn x25519_and_class_key_clients_share_one_room() {
    let server = TestServer::with_defaults();
    let mut plain = server.join("plain");
    let (mut secret, keys, _) = join_x25519(&server, "secret");
    assert!(matches!(plain.recv(), ServerEvent::Joined { nick, .. } if nick == "secret"));

    secret.say("under my session key");
    for peer in [&mut secret, &mut plain] {
        assert!(
            matches!(peer.recv(), ServerEvent::Message { text, .. } if text == "under my session key")
        );
    }
    plain.say("under the class key");
    assert!(matches!(plain.recv(), ServerEvent::Message { .. }));
    // The x25519 peer now opens frames with its session key only: a copy sealed with the
    // class key would come back as a raw, unopenable line.
    assert_ne!(keys.receive.fingerprint(), server.key.fingerprint());
    match secret.next() {
        Got::Event(ServerEvent::Message { text, .. }) => assert_eq!(text, "under the class key"),
        other => panic!("{other:?}"),
    }

    secret.send(&ClientEvent::Msg {
        to: "plain".into(),
        text: "psst".into(),
    });
    assert!(matches!(plain.recv(), ServerEvent::Private { text, .. } if text == "psst"));
    assert!(matches!(secret.recv(), ServerEvent::Private { text, .. } if text == "psst"));
}

#[test]
fn frames_under_the_class_key_are_refused_after_the_exchange() {
    let server = TestServer::with_defaults();
    let (mut secret, keys, _) = join_x25519(&server, "secret");
    // A token under the class key (anyone's) is not this session's.
    let class_key = server.key.clone();
    secret.switch_keys(class_key, keys.receive.clone());
    secret.say("sealed with the wrong key");
    secret.expect_error(ErrorCode::Undecryptable);
    // The connection goes on with the right key.
    secret.switch_keys(keys.send, keys.receive);
    secret.say("right key");
    assert!(matches!(secret.recv(), ServerEvent::Message { text, .. } if text == "right key"));
    // A second hello cannot start another exchange mid-session.
    x25519_hello(
        &mut secret,
        "again",
        Some(Ephemeral::generate().public().to_wire()),
    );
    secret.expect_error(ErrorCode::HelloFirst);
    secret.say("still the same keys");
    assert!(matches!(secret.recv(), ServerEvent::Message { .. }));
}

#[test]
fn every_session_gets_fresh_server_keys() {
    let server = TestServer::with_defaults();
    let (_a, keys_a, public_a) = join_x25519(&server, "first");
    let (_b, keys_b, public_b) = join_x25519(&server, "second");
    assert_ne!(public_a, public_b);
    assert_ne!(keys_a.send.fingerprint(), keys_b.send.fingerprint());
    assert_ne!(
        keys_a.send.fingerprint(),
        keys_a.receive.fingerprint(),
        "one key per direction"
    );
}

#[test]
fn bad_exchanges_are_refused_with_their_codes_under_the_class_key() {
    let server = TestServer::with_defaults();
    let low_order = PublicShare([0u8; 32]).to_wire();
    for (kex_public, code) in [
        (None, ErrorCode::KexFailed),
        (Some("not base64 at all".to_owned()), ErrorCode::KexFailed),
        (Some("AAAA".to_owned()), ErrorCode::KexFailed),
        (Some(low_order), ErrorCode::KexFailed),
    ] {
        let mut peer = server.peer();
        x25519_hello(&mut peer, "eve", kex_public);
        peer.expect_error(code);
        peer.expect_closed(5);
    }
    let mut peer = server.peer();
    peer.send_json(
        r#"{"type":"hello","nick":"eve","version":2,"nonce":"AAECAwQFBgcICQoLDA0ODw==","kex":"rsa-1024"}"#,
    );
    let message = peer.expect_error(ErrorCode::KexUnsupported);
    assert!(
        message.contains("x25519") && message.contains("psk"),
        "{message}"
    );
}
