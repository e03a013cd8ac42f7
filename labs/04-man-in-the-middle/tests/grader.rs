//! Lab 4's grader. Do not edit: your work is graded with the original.
//!
//! Honest client and honest server are the reference ones (`labkit`'s client and toy room, both
//! on `fernchat::kex`); the proxy in between is yours. The grader compares what your proxy
//! logged with what was really said. Inputs come from this file's `SEEDS`.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use fernchat::crypto::RoomKey;
use fernchat::kex::{Ephemeral, Nonce, PublicShare, Role, psk_session_keys};
use fernchat::protocol::{ClientEvent, PROTOCOL_VERSION, seal};
use lab04::proxy::{self, Seen};
use lab04::{Direction, Interceptor};
use labkit::client::Client;
use labkit::limit::within;
use labkit::rng::SeededRng;
use labkit::room::Room;
use labkit::wire;
use serde_json::{Value, json};

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x04_5eed, 17, 20_260_404, 0xfeed_face_dead_beef];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

fn open(key: &RoomKey, frame: &[u8]) -> Value {
    let opened = key
        .decrypt(frame)
        .expect("the frame opens under the expected key");
    serde_json::from_slice(&opened.plaintext).unwrap()
}

/// A frame as the proxy gets it: the token without its newline.
fn frame<E: serde::Serialize>(key: &RoomKey, event: &E) -> Vec<u8> {
    let mut line = seal(key, event);
    line.pop();
    line
}

fn seen_json(seen: &Option<String>) -> Option<Value> {
    seen.as_deref()
        .map(|text| serde_json::from_str(text).expect("seen holds the JSON plaintext"))
}

/// The server's answer to `hello` (protocol version 2's `handshake`, which carries the
/// server's public key once `wire::with_public` has added it).
fn welcome_for(hello: &Value) -> Value {
    json!({"type": "handshake", "version": fernchat::protocol::PROTOCOL_VERSION,
           "nonce": hello["nonce"], "server_nonce": "EBESExQVFhcYGRobHB0eHw==", "kex": "x25519"})
}

#[test]
fn the_proxy_answers_each_side_with_its_own_public_key() {
    within(LIMIT, || {
        // Every key the proxies showed, across connections: each must be fresh.
        let mut shown: Vec<String> = Vec::new();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let class_key = RoomKey::generate();
            let nick = rng.nick();
            let client = Ephemeral::from_rng(&mut rng);
            let server = Ephemeral::from_rng(&mut rng);
            let mut proxy = Interceptor::new(class_key.clone());

            // Fields the proxy has no reason to know about (a newer client's): they must pass
            // through untouched, like everything but the key.
            let mut hello = wire::hello(&nick, Some(client.public()));
            hello["client"] = json!(format!("lab-client {}", rng.below(1000)));
            hello["extra"] = json!({"n": rng.below(1_000_000), "line": rng.chat_line()});
            let relayed = proxy.from_client(&frame(&class_key, &hello));
            assert_eq!(
                seen_json(&relayed.seen),
                Some(hello.clone()),
                "seed {seed}: the proxy reads the hello"
            );
            let forwarded = open(&class_key, &relayed.forward);
            let swapped =
                wire::public_of(&forwarded).expect("the forwarded hello keeps a kex_public");
            assert_ne!(
                swapped,
                client.public().to_wire(),
                "seed {seed}: the server must get the proxy's key"
            );
            assert!(
                PublicShare::from_wire(swapped).is_ok(),
                "seed {seed}: a well-formed key"
            );
            let mut rest = forwarded.clone();
            rest["kex_public"] = hello["kex_public"].clone();
            assert_eq!(
                rest, hello,
                "seed {seed}: nothing else in the hello changes"
            );

            shown.push(swapped.to_owned());
            let mut welcome = wire::with_public(
                &serde_json::from_value(welcome_for(&hello)).unwrap(),
                server.public(),
            );
            welcome["motd"] = json!(rng.chat_line());
            welcome["max_text"] = json!(100 + rng.below(5000));
            let relayed = proxy.from_server(&frame(&class_key, &welcome));
            assert_eq!(
                seen_json(&relayed.seen),
                Some(welcome.clone()),
                "seed {seed}: the proxy reads the handshake"
            );
            let forwarded = open(&class_key, &relayed.forward);
            let swapped =
                wire::public_of(&forwarded).expect("the forwarded handshake keeps a kex_public");
            assert_ne!(
                swapped,
                server.public().to_wire(),
                "seed {seed}: the client must get the proxy's key"
            );
            let mut rest = forwarded.clone();
            rest["kex_public"] = welcome["kex_public"].clone();
            assert_eq!(
                rest, welcome,
                "seed {seed}: nothing else in the handshake changes"
            );
            shown.push(swapped.to_owned());
        }
        // Two fresh key pairs per connection: one toward each side, none ever shown twice.
        for (i, key) in shown.iter().enumerate() {
            assert!(
                !shown[..i].contains(key),
                "the proxy showed the public key {key} twice (to both sides of a connection, \
                 or on two connections): draw fresh key pairs for every connection and side"
            );
        }
    });
}

#[test]
fn after_the_handshake_the_proxy_reads_and_relays_both_directions() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let class_key = RoomKey::generate();
            let nick = rng.nick();
            let client = Ephemeral::from_rng(&mut rng);
            let server = Ephemeral::from_rng(&mut rng);
            let (client_public, server_public) = (client.public(), server.public());
            let mut proxy = Interceptor::new(class_key.clone());

            // The handshake, each honest side using the public key it actually received.
            let said_hello = wire::hello(&nick, Some(client_public));
            let hello = proxy.from_client(&frame(&class_key, &said_hello));
            let to_server = PublicShare::from_wire(
                wire::public_of(&open(&class_key, &hello.forward)).unwrap_or(""),
            )
            .unwrap_or(client_public);
            let welcome = wire::with_public(
                &serde_json::from_value(welcome_for(&said_hello)).unwrap(),
                server_public,
            );
            let welcome = proxy.from_server(&frame(&class_key, &welcome));
            let to_client = PublicShare::from_wire(
                wire::public_of(&open(&class_key, &welcome.forward)).unwrap_or(""),
            )
            .unwrap_or(server_public);
            let client_keys = client.finish(Role::Client, &to_client).unwrap();
            let server_keys = server.finish(Role::Server, &to_server).unwrap();

            for _ in 0..5 {
                let said = ClientEvent::Say {
                    room: None,
                    text: rng.chat_line(),
                };
                let relayed = proxy.from_client(&frame(&client_keys.send, &said));
                assert_eq!(
                    seen_json(&relayed.seen),
                    Some(serde_json::to_value(&said).unwrap()),
                    "seed {seed}: read"
                );
                assert_eq!(
                    open(&server_keys.receive, &relayed.forward),
                    serde_json::to_value(&said).unwrap(),
                    "seed {seed}: relayed"
                );

                let reply =
                    json!({"type": "message", "from": nick, "text": rng.chat_line(), "time": 1});
                let relayed = proxy.from_server(&frame(&server_keys.send, &reply));
                assert_eq!(
                    seen_json(&relayed.seen),
                    Some(reply.clone()),
                    "seed {seed}: read"
                );
                assert_eq!(
                    open(&client_keys.receive, &relayed.forward),
                    reply,
                    "seed {seed}: relayed"
                );
            }
            // What the proxy cannot read, it passes on untouched.
            let junk = b"not a token".to_vec();
            assert_eq!(proxy.from_client(&junk).forward, junk, "seed {seed}");
        }
    });
}

/// The proxy between `room` and a fresh listener; returns where clients connect and the log.
fn start_proxy(room: &Room, class_key: &RoomKey) -> (std::net::SocketAddr, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, seen) = mpsc::channel();
    let (server, interceptor) = (room.addr, Interceptor::new(class_key.clone()));
    thread::spawn(move || proxy::serve_one(&listener, server, interceptor, log));
    (addr, seen)
}

/// Receives events, keeping each, until the room's `message` (our echo) arrives. Others may be
/// there too (someone leaving): the proxy must log those as well.
fn receive_until_message(client: &mut Client, received: &mut Vec<Value>) {
    for _ in 0..20 {
        let event = client.recv().expect("the client keeps hearing the room");
        let done = event["type"] == "message";
        received.push(event);
        if done {
            return;
        }
    }
    panic!("no echo of our message among 20 events");
}

/// Everything logged so far, split by direction, as JSON. The proxy logs a frame before it
/// forwards it, so once the client has its answer the log is complete: no waiting needed.
fn drain(seen: &mpsc::Receiver<Seen>) -> (Vec<Value>, Vec<Value>) {
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for Seen {
        direction,
        plaintext,
    } in seen.try_iter()
    {
        let value: Value = serde_json::from_str(&plaintext).expect("the log holds JSON");
        match direction {
            Direction::ClientToServer => up.push(value),
            Direction::ServerToClient => down.push(value),
        }
    }
    (up, down)
}

#[test]
fn a_conversation_through_the_proxy_is_logged_exactly_as_it_was_said() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let room = Room::start(class_key.clone()).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (addr, seen) = start_proxy(&room, &class_key);
            let nick = rng.nick();
            let mut client = Client::join_x25519(addr, &class_key, &nick)
                .expect("the client joins through the proxy");
            let mut received = vec![client.handshake.clone(), client.welcome.clone()];
            for _ in 0..4 {
                client.say(&rng.chat_line()).unwrap();
                receive_until_message(&mut client, &mut received);
            }
            let sent = client.sent.clone();
            let (up, down) = drain(&seen);
            assert_eq!(
                up, sent,
                "seed {seed}: what the client said, as the proxy logged it"
            );
            assert_eq!(
                down.len(),
                received.len(),
                "seed {seed}: what the server said, as logged"
            );
            assert_eq!(
                down[1..],
                received[1..],
                "seed {seed}: every message, as the proxy logged it"
            );
            // The server's real handshake, and the one the client got with the proxy's key in it.
            let (real, given) = (&down[0], &received[0]);
            assert_ne!(
                wire::public_of(real),
                wire::public_of(given),
                "seed {seed}: the client got the proxy's key"
            );
            let mut rest = given.clone();
            rest["kex_public"] = real["kex_public"].clone();
            assert_eq!(
                &rest, real,
                "seed {seed}: the handshake as the server sent it"
            );
            // Nobody noticed: the room heard every line, under a public key that was not the client's.
            let heard: Vec<Value> = room
                .heard()
                .into_iter()
                .filter(|h| h.nick == nick)
                .map(|h| h.event)
                .collect();
            assert_eq!(
                heard[1..],
                sent[1..],
                "seed {seed}: the room heard every line"
            );
            assert_ne!(
                wire::public_of(&heard[0]),
                wire::public_of(&sent[0]),
                "seed {seed}: the room saw another key"
            );
            client.bye();
        }
    });
}

#[test]
fn a_psk_session_is_read_with_the_class_key_alone() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let room = Room::start(class_key.clone()).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (addr, seen) = start_proxy(&room, &class_key);
            let mut client = Client::join_psk(addr, &class_key, &rng.nick())
                .expect("the client joins through the proxy");
            let line = rng.chat_line();
            client.say(&line).unwrap();
            let mut received = vec![client.handshake.clone(), client.welcome.clone()];
            receive_until_message(&mut client, &mut received);
            let (up, down) = drain(&seen);
            assert_eq!(up, client.sent, "seed {seed}");
            assert_eq!(down, received, "seed {seed}");
            client.bye();
        }
    });
}

// Stretch part: words the client never said.

#[test]
fn stretch_the_proxy_makes_the_client_say_what_it_never_said() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let class_key = RoomKey::generate();
            let nick = rng.nick();
            let client = Ephemeral::from_rng(&mut rng);
            let server = Ephemeral::from_rng(&mut rng);
            let (client_public, server_public) = (client.public(), server.public());
            let mut proxy = Interceptor::new(class_key.clone());
            assert_eq!(
                proxy.inject("too early"),
                None,
                "seed {seed}: nothing to inject before the handshake"
            );
            let said_hello = wire::hello(&nick, Some(client_public));
            let hello = proxy.from_client(&frame(&class_key, &said_hello));
            let to_server = PublicShare::from_wire(
                wire::public_of(&open(&class_key, &hello.forward)).unwrap_or(""),
            )
            .unwrap_or(client_public);
            let welcome = wire::with_public(
                &serde_json::from_value(welcome_for(&said_hello)).unwrap(),
                server_public,
            );
            proxy.from_server(&frame(&class_key, &welcome));
            let server_keys = server.finish(Role::Server, &to_server).unwrap();
            let line = rng.chat_line();
            let injected = proxy
                .inject(&line)
                .expect("after the handshake, inject makes a frame");
            assert_eq!(
                open(&server_keys.receive, &injected),
                serde_json::to_value(ClientEvent::Say {
                    room: None,
                    text: line
                })
                .unwrap(),
                "seed {seed}: the server reads the client saying the injected line"
            );

            // A psk session: nothing to swap, but its keys are this session's alone (protocol
            // version 2), derived from the class key and the nonces of hello and handshake.
            let mut proxy = Interceptor::new(class_key.clone());
            let said_hello = wire::hello(&rng.nick(), None);
            proxy.from_client(&frame(&class_key, &said_hello));
            assert_eq!(
                proxy.inject("too early"),
                None,
                "seed {seed}: nothing to inject before the psk handshake"
            );
            let server_nonce = Nonce(rng.bytes());
            let handshake = json!({"type": "handshake", "version": PROTOCOL_VERSION,
                "nonce": said_hello["nonce"], "server_nonce": server_nonce.to_wire(),
                "kex": "psk"});
            proxy.from_server(&frame(&class_key, &handshake));
            let client_nonce = wire::nonce_of(&said_hello).expect("the hello has a nonce");
            let keys = psk_session_keys(&class_key, &client_nonce, &server_nonce);
            let line = rng.chat_line();
            let injected = proxy
                .inject(&line)
                .expect("after the psk handshake, inject makes a frame");
            assert_eq!(
                open(&keys.client_to_server, &injected),
                serde_json::to_value(ClientEvent::Say {
                    room: None,
                    text: line
                })
                .unwrap(),
                "seed {seed}: the server reads the psk client saying the injected line"
            );
        }
    });
}
