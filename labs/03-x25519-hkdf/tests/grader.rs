//! Lab 3's grader. Do not edit: your work is graded with the original.
//!
//! RFC 7748's vectors, interoperation with the reference handshake (`fernchat::kex`), fresh
//! keys per session, and a chat over the network with the toy room. Generated inputs come from
//! this file's `SEEDS`; every "must refuse" is paired with a "must accept".

use base64::Engine;
use fernchat::crypto::RoomKey;
use fernchat::kex::{self, Ephemeral, PublicShare};
use lab03::live::StudentHandshake;
use lab03::{
    KeyPair, LowOrderPoint, Role, derive_keys, derive_keys_without_transcript, generate,
    other_encoding, public_key, session_keys, shared_secret,
};
use labkit::client::Client;
use labkit::limit::{hex, within};
use labkit::rng::SeededRng;
use labkit::room::Room;
use rand_core::OsRng;
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x03_5eed, 13, 20_260_303, 0x0123_4567_89ab_cdef];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// The same key: compared by value, which `RoomKey` shows only through its secret text.
fn same(a: &RoomKey, b: &RoomKey) -> bool {
    a.expose_secret() == b.expose_secret()
}

/// Points of small order on Curve25519 and non-canonical encodings of them: the usual list,
/// then each again with the top bit set (X25519 ignores bit 255, so it is the same point to
/// the function, but another input to a blacklist).
fn low_order_points() -> Vec<[u8; 32]> {
    let mut one = [0u8; 32];
    one[0] = 1;
    let listed = [
        [0; 32],
        one,
        hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        hex32("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        hex32("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        hex32("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ];
    let top_bit = listed.iter().map(|point| {
        let mut point = *point;
        point[31] |= 0x80;
        point
    });
    listed.iter().copied().chain(top_bit).collect()
}

#[test]
fn rfc7748_section_5_2_scalar_multiplication() {
    within(LIMIT, || {
        let vectors = [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ];
        for (scalar, u, out) in vectors {
            assert_eq!(
                shared_secret(&hex32(scalar), &hex32(u)),
                Ok(hex32(out)),
                "scalar {scalar}"
            );
        }
    });
}

#[test]
fn rfc7748_section_6_1_alice_and_bob() {
    within(LIMIT, || {
        let alice = hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob = hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let alice_public =
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_public = hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(public_key(&alice), alice_public, "Alice's public key");
        assert_eq!(public_key(&bob), bob_public, "Bob's public key");
        assert_eq!(
            shared_secret(&alice, &bob_public),
            Ok(shared),
            "Alice's shared secret"
        );
        assert_eq!(
            shared_secret(&bob, &alice_public),
            Ok(shared),
            "Bob's shared secret"
        );
    });
}

#[test]
fn low_order_points_are_refused_and_ordinary_points_accepted() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let secret: [u8; 32] = rng.bytes();
            for (i, point) in low_order_points().iter().enumerate() {
                assert_eq!(
                    shared_secret(&secret, point),
                    Err(LowOrderPoint),
                    "seed {seed}: the low-order point {i} ({}) must be refused: look at the \
                     result, not at the input",
                    hex(point)
                );
            }
            for _ in 0..8 {
                let theirs = x25519(rng.bytes(), X25519_BASEPOINT_BYTES);
                assert_eq!(
                    shared_secret(&secret, &theirs),
                    Ok(x25519(secret, theirs)),
                    "seed {seed}"
                );
            }
            let mine = KeyPair {
                secret,
                public: x25519(secret, X25519_BASEPOINT_BYTES),
            };
            for (i, point) in low_order_points().iter().enumerate() {
                for role in [Role::Client, Role::Server] {
                    assert!(
                        session_keys(role, &mine, point).is_err(),
                        "seed {seed}: session_keys as {role:?} accepted the low-order point \
                         {i} ({}): every session must refuse what shared_secret refuses",
                        hex(point)
                    );
                }
            }
            let ordinary = x25519(rng.bytes(), X25519_BASEPOINT_BYTES);
            for role in [Role::Client, Role::Server] {
                assert!(
                    session_keys(role, &mine, &ordinary).is_ok(),
                    "seed {seed}: session_keys as {role:?} refused an ordinary point"
                );
            }
        }
    });
}

#[test]
fn generate_draws_its_secret_from_the_generator_it_is_given() {
    within(LIMIT, || {
        for seed in SEEDS {
            // The secret must be the next 32 bytes of the generator it is given: compare with
            // a clone of the same generator.
            let mut rng = SeededRng::new(seed);
            let expected: [u8; 32] = rng.clone().bytes();
            let pair = generate(&mut rng);
            assert!(
                pair.secret == expected,
                "seed {seed}: the secret is {}, but the next 32 bytes of the generator are {}: \
                 draw all 32 bytes from it (fill_bytes)",
                hex(&pair.secret),
                hex(&expected)
            );
            let first = generate(&mut SeededRng::new(seed));
            let again = generate(&mut SeededRng::new(seed));
            let other = generate(&mut SeededRng::new(seed ^ 1));
            assert_eq!(
                first, again,
                "seed {seed}: the same generator state gives the same key pair"
            );
            assert_ne!(
                first.secret, other.secret,
                "seed {seed}: another generator state, another secret"
            );
            assert_eq!(
                first.public,
                x25519(first.secret, X25519_BASEPOINT_BYTES),
                "seed {seed}: the public key"
            );
            assert_eq!(
                public_key(&first.secret),
                first.public,
                "seed {seed}: public_key agrees"
            );
        }
    });
}

#[test]
fn derived_keys_match_the_reference_derivation() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            for _ in 0..8 {
                let (shared, client, server) = (rng.bytes(), rng.bytes(), rng.bytes());
                let ours = derive_keys(&shared, &client, &server);
                let reference = kex::derive(&shared, &PublicShare(client), &PublicShare(server));
                assert!(
                    same(&ours.client_to_server, &reference.client_to_server),
                    "seed {seed}: client->server"
                );
                assert!(
                    same(&ours.server_to_client, &reference.server_to_client),
                    "seed {seed}: server->client"
                );
            }
        }
        // PROTOCOL.md's known answer, computed with Python's `cryptography`.
        let keys = derive_keys(&[3; 32], &[1; 32], &[2; 32]);
        assert_eq!(
            keys.client_to_server.expose_secret(),
            "GY0p5qUhkmeXv_nm4ZMNvrEWTb594sgVQV9WubfCPO0=",
            "PROTOCOL.md's known answer (shared [3; 32], client [1; 32], server [2; 32]): the client->server key"
        );
        assert_eq!(
            keys.server_to_client.expose_secret(),
            "-Nnd-VdJ8ChCSFsA5lBMXObvnfSuBBwzYoxndzSmPDI=",
            "PROTOCOL.md's known answer (shared [3; 32], client [1; 32], server [2; 32]): the server->client key"
        );
    });
}

#[test]
fn the_two_directions_and_the_transcript_order_give_different_keys() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (shared, client, server) = (rng.bytes(), rng.bytes(), rng.bytes());
            let keys = derive_keys(&shared, &client, &server);
            let token = keys.client_to_server.encrypt(b"to the server");
            assert!(
                keys.client_to_server.decrypt(token.as_bytes()).is_ok(),
                "seed {seed}: its own direction"
            );
            assert!(
                keys.server_to_client.decrypt(token.as_bytes()).is_err(),
                "seed {seed}: reflected"
            );
            let swapped = derive_keys(&shared, &server, &client);
            assert!(
                !same(&swapped.client_to_server, &keys.client_to_server),
                "seed {seed}: C and S swapped"
            );
        }
    });
}

#[test]
fn a_handshake_interoperates_with_the_reference_in_both_roles() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            // The student is the client; the reference (`fernchat::kex`) is the server.
            let student = generate(&mut rng);
            let server = Ephemeral::from_rng(&mut rng);
            let server_public = server.public();
            let ours =
                session_keys(Role::Client, &student, &server_public.0).expect("a good point");
            let theirs = server
                .finish(Role::Server, &PublicShare(student.public))
                .unwrap();
            assert!(
                same(&ours.send, &theirs.receive),
                "seed {seed}: client sends what the server opens"
            );
            assert!(
                same(&ours.receive, &theirs.send),
                "seed {seed}: and the other way"
            );
            // The student is the server.
            let student = generate(&mut rng);
            let client = Ephemeral::from_rng(&mut rng);
            let client_public = client.public();
            let ours =
                session_keys(Role::Server, &student, &client_public.0).expect("a good point");
            let theirs = client
                .finish(Role::Client, &PublicShare(student.public))
                .unwrap();
            assert!(
                same(&ours.send, &theirs.receive),
                "seed {seed}: server sends what the client opens"
            );
            assert!(
                same(&ours.receive, &theirs.send),
                "seed {seed}: and the other way"
            );
        }
    });
}

#[test]
fn every_session_gets_fresh_keys() {
    within(LIMIT, || {
        // The server's key pair stays the same here on purpose: the client's fresh key alone must
        // make the session keys new.
        let server = generate(&mut SeededRng::new(SEEDS[0]));
        let sessions: Vec<_> = (0..4)
            .map(|_| {
                let client = generate(&mut OsRng);
                let keys =
                    session_keys(Role::Client, &client, &server.public).expect("a good point");
                (client.public, keys)
            })
            .collect();
        for (i, (public_a, a)) in sessions.iter().enumerate() {
            for (public_b, b) in &sessions[i + 1..] {
                assert_ne!(
                    public_a, public_b,
                    "two sessions with one client public key"
                );
                assert!(!same(&a.send, &b.send), "two sessions with one key");
            }
            assert!(!same(&a.send, &a.receive), "one key for both directions");
        }
    });
}

#[test]
fn a_chat_over_the_network_with_the_toy_room() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let room = Room::start(class_key.clone()).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let nick = rng.nick();
            let mut client =
                Client::join_with(room.addr, &class_key, &nick, StudentHandshake::new())
                    .unwrap_or_else(|e| panic!("seed {seed}: joining with your handshake: {e}"));
            for _ in 0..3 {
                let line = rng.chat_line();
                client.say(&line).unwrap();
                let echo = client
                    .recv_type("message")
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                assert_eq!(echo["text"], line.as_str(), "seed {seed}");
                assert_eq!(echo["from"], nick.as_str(), "seed {seed}");
            }
            client.bye();
        }
        let said = room
            .heard()
            .iter()
            .filter(|h| h.event["type"] == "say")
            .count();
        assert_eq!(said, 3 * SEEDS.len(), "the room heard every line");
    });
}

// Stretch part: a transcript attack with a second encoding of the same key.

#[test]
fn stretch_another_encoding_of_a_key_gives_the_same_secret_and_another_transcript() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            for _ in 0..8 {
                let (ours, theirs): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
                let public = x25519(theirs, X25519_BASEPOINT_BYTES);
                let other = other_encoding(&public);
                assert!(
                    other != public,
                    "seed {seed}: other_encoding({}) returned the same bytes",
                    hex(&public)
                );
                assert!(
                    x25519(ours, other) == x25519(ours, public),
                    "seed {seed}: X25519 with {} is not X25519 with {}: not the same point",
                    hex(&other),
                    hex(&public)
                );
                let shared = x25519(ours, public);
                // Without the transcript, both sessions get one set of keys ...
                let (a, b) = (
                    derive_keys_without_transcript(&shared),
                    derive_keys_without_transcript(&x25519(ours, other)),
                );
                assert!(
                    same(&a.client_to_server, &b.client_to_server),
                    "seed {seed}"
                );
                let hkdf = hkdf::Hkdf::<sha2::Sha256>::new(None, &shared);
                let mut expected = [0u8; 32];
                hkdf.expand(lab03::INFO_CLIENT_TO_SERVER, &mut expected)
                    .unwrap();
                assert_eq!(
                    a.client_to_server.expose_secret(),
                    base64::engine::general_purpose::URL_SAFE.encode(expected),
                    "seed {seed}: HKDF with the label alone as info"
                );
                // ... with it, the two encodings give two sessions.
                let server = x25519(ours, X25519_BASEPOINT_BYTES);
                assert!(
                    !same(
                        &derive_keys(&shared, &public, &server).client_to_server,
                        &derive_keys(&shared, &other, &server).client_to_server
                    ),
                    "seed {seed}: the transcript tells the encodings apart"
                );
            }
        }
    });
}
