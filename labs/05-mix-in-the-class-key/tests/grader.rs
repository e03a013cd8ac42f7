//! Lab 5's grader. Do not edit: your work is graded with the original.
//!
//! PROTOCOL.md's known answers (computed with Python's `cryptography`), agreement with the
//! product's `fernchat::kex` over generated inputs, constant-time-style comparison semantics,
//! and your handshake against the real class server: with the right key, a wrong key, lab 4's
//! proxy and an insider. Inputs come from this file's `SEEDS`; every "must refuse" is paired
//! with a "must accept".

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use fernchat::kex::{self, Psk, PublicShare, Transcript};
use lab05::live::StudentPsk;
use lab05::{
    KEX_X25519_PSK, Side, confirmation, confirmation_matches, derive_keys, psk_from_class_key,
    transcript, which_class_key,
};
use labkit::class_server::ClassServer;
use labkit::client::{Client, ClientError};
use labkit::limit::within;
use labkit::mitm::{self, Mode};
use labkit::rng::SeededRng;
use serde_json::Value;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x05_5eed, 19, 20_260_505, 0x5555_aaaa_5555_aaaa];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

fn hex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn raw(key: &RoomKey) -> [u8; 32] {
    URL_SAFE
        .decode(key.expose_secret())
        .unwrap()
        .try_into()
        .unwrap()
}

const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const ALICE: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
const IDENTITY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

#[test]
fn the_psk_is_derived_from_the_class_key_under_its_own_label() {
    within(LIMIT, || {
        let spec = RoomKey::from_secret(SPEC_KEY).unwrap();
        assert_eq!(
            psk_from_class_key(&raw(&spec)),
            hex::<32>("bbcf5d11c86f95ec1b0a2fa0deca6e2f69091338721d850c96132d892fc8fd85"),
            "PROTOCOL.md's known answer"
        );
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let class_key: [u8; 32] = rng.bytes();
            let psk = psk_from_class_key(&class_key);
            assert_eq!(
                &psk,
                Psk::from_raw_class_key(&class_key).expose(),
                "seed {seed}"
            );
            assert_ne!(
                psk, class_key,
                "seed {seed}: the PSK must not be the Fernet key"
            );
            assert_ne!(psk, psk_from_class_key(&rng.bytes()), "seed {seed}");
        }
    });
}

#[test]
fn the_transcript_hash_covers_every_field_in_order() {
    within(LIMIT, || {
        let (alice, bob, identity) = (hex::<32>(ALICE), hex::<32>(BOB), hex::<32>(IDENTITY));
        assert_eq!(
            transcript(KEX_X25519_PSK, "alice", &alice, &bob, None),
            hex::<32>("a9dde92905ec26aaab8510c757109bfaa5a49c4161a53418cf6ea92b8e6b3aa2"),
            "PROTOCOL.md's known answer: the transcript of x25519-psk, alice, RFC 7748's Alice and Bob"
        );
        assert_eq!(
            transcript("x25519-psk-signed", "alice", &alice, &bob, Some(&identity)),
            hex::<32>("1ba7ce2d4521fea98f6abea182286ce20d910e8281736ff8b29a6c381fed7568"),
            "PROTOCOL.md's known answer: the transcript of x25519-psk-signed with an identity key"
        );
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (nick, c, s, i): (String, [u8; 32], [u8; 32], [u8; 32]) =
                (rng.nick(), rng.bytes(), rng.bytes(), rng.bytes());
            for identity in [None, Some(&i)] {
                let ours = transcript(KEX_X25519_PSK, &nick, &c, &s, identity);
                let reference = Transcript::new(
                    KEX_X25519_PSK,
                    &nick,
                    &PublicShare(c),
                    &PublicShare(s),
                    identity,
                );
                assert_eq!(
                    ours,
                    reference.0,
                    "seed {seed}, identity {}",
                    identity.is_some()
                );
            }
            let base = transcript(KEX_X25519_PSK, &nick, &c, &s, None);
            let changed = [
                transcript("x25519", &nick, &c, &s, None),
                transcript(KEX_X25519_PSK, "mallory", &c, &s, None),
                transcript(KEX_X25519_PSK, &nick, &s, &c, None),
                transcript(KEX_X25519_PSK, &nick, &c, &s, Some(&i)),
            ];
            for (field, other) in changed.iter().enumerate() {
                assert_ne!(
                    base, *other,
                    "seed {seed}: change {field} must change the hash"
                );
            }
            // Nicks of the longest length (16), differing only in their last letter: every
            // byte of the nick is in the transcript.
            let long: String = (0..15)
                .map(|_| char::from(b'a' + rng.below(26) as u8))
                .collect();
            let (one, two) = (format!("{long}x"), format!("{long}y"));
            assert_ne!(
                transcript(KEX_X25519_PSK, &one, &c, &s, None),
                transcript(KEX_X25519_PSK, &two, &c, &s, None),
                "seed {seed}: the nicks {one:?} and {two:?} gave the same transcript: hash the \
                 whole nick"
            );
            assert_eq!(
                transcript(KEX_X25519_PSK, &one, &c, &s, None),
                Transcript::new(KEX_X25519_PSK, &one, &PublicShare(c), &PublicShare(s), None).0,
                "seed {seed}: a 16-letter nick"
            );
        }
    });
}

#[test]
fn session_keys_match_the_reference_and_need_the_psk() {
    within(LIMIT, || {
        let spec = RoomKey::from_secret(SPEC_KEY).unwrap();
        let psk = psk_from_class_key(&raw(&spec));
        let t = transcript(KEX_X25519_PSK, "alice", &hex(ALICE), &hex(BOB), None);
        let keys = derive_keys(&hex(SHARED), &psk, &t);
        assert_eq!(
            keys.client_to_server.expose_secret(),
            "tlhlPwhCgylIMfgQTNRY_C-7uAf13RthD44_MPsYSdY=",
            "PROTOCOL.md's known answer: the client->server key"
        );
        assert_eq!(
            keys.server_to_client.expose_secret(),
            "lh-UVkU8Ns3kJF6qmcxXPyd3aq6VKIMROCmbkTkdlkI=",
            "PROTOCOL.md's known answer: the server->client key"
        );
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (shared, class_key, t): ([u8; 32], [u8; 32], [u8; 32]) =
                (rng.bytes(), rng.bytes(), rng.bytes());
            let psk = Psk::from_raw_class_key(&class_key);
            let ours = derive_keys(&shared, psk.expose(), &t);
            let reference = kex::derive_psk(&shared, &psk, &Transcript(t));
            assert_eq!(
                ours.client_to_server.expose_secret(),
                reference.client_to_server.expose_secret(),
                "seed {seed}"
            );
            assert_eq!(
                ours.server_to_client.expose_secret(),
                reference.server_to_client.expose_secret(),
                "seed {seed}"
            );
            assert_eq!(
                ours.confirm, *reference.confirm,
                "seed {seed}: the confirm key"
            );
            // Without the PSK (lab 3's derivation), or with another, the keys differ.
            let other = derive_keys(&shared, &rng.bytes(), &t);
            assert_ne!(
                ours.client_to_server.expose_secret(),
                other.client_to_server.expose_secret(),
                "seed {seed}"
            );
        }
    });
}

#[test]
fn each_side_has_its_own_confirmation() {
    within(LIMIT, || {
        let spec = RoomKey::from_secret(SPEC_KEY).unwrap();
        let t = transcript(KEX_X25519_PSK, "alice", &hex(ALICE), &hex(BOB), None);
        let keys = derive_keys(&hex(SHARED), &psk_from_class_key(&raw(&spec)), &t);
        assert_eq!(
            URL_SAFE.encode(confirmation(&keys.confirm, Side::Server, &t)),
            "Pm_uk02tqgNkXOWe0lyOm2DcIo34YbpRQvCaYpxpcl0=",
            "PROTOCOL.md's known answer: the server's confirmation MAC"
        );
        assert_eq!(
            URL_SAFE.encode(confirmation(&keys.confirm, Side::Client, &t)),
            "HTXC37jX9GiGJ_HnTJnZfZFdbXOOFCbQSNz77s1zZVs=",
            "PROTOCOL.md's known answer: the client's confirmation MAC"
        );
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (key, t): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
            let server = confirmation(&key, Side::Server, &t);
            let client = confirmation(&key, Side::Client, &t);
            assert_ne!(server, client, "seed {seed}");
            assert_eq!(
                server,
                kex::confirmation_mac(&key, kex::CONFIRM_SERVER, &Transcript(t)),
                "seed {seed}"
            );
            assert_eq!(
                client,
                kex::confirmation_mac(&key, kex::CONFIRM_CLIENT, &Transcript(t)),
                "seed {seed}"
            );
        }
    });
}

#[test]
fn a_confirmation_matches_only_when_every_byte_does() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let expected: [u8; 32] = rng.bytes();
            assert!(
                confirmation_matches(&expected, &expected),
                "seed {seed}: equal"
            );
            // A MAC that matched once matches nothing else: what is expected now decides.
            let now_expected: [u8; 32] = rng.bytes();
            assert!(
                !confirmation_matches(&now_expected, &expected),
                "seed {seed}: a MAC accepted for one session was accepted for another: \
                 compare with the MAC expected now, and remember nothing between calls"
            );
            for bit in 0..256 {
                let mut flipped = expected;
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert!(
                    !confirmation_matches(&expected, &flipped),
                    "seed {seed}: bit {bit} flipped"
                );
            }
            assert!(
                !confirmation_matches(&expected, &expected[..31]),
                "seed {seed}: short"
            );
            assert!(
                !confirmation_matches(&expected, &[expected.as_slice(), &[0]].concat()),
                "seed {seed}: long"
            );
            assert!(!confirmation_matches(&expected, &[]), "seed {seed}: empty");
            assert!(
                !confirmation_matches(&expected, &rng.bytes::<32>()),
                "seed {seed}: other"
            );
        }
    });
}

/// A class-key member of the room who asks who is there.
fn who(watcher: &mut Client) -> Vec<String> {
    watcher
        .send(&fernchat::protocol::ClientEvent::Who { room: None })
        .unwrap();
    let users = watcher.recv_type("users").expect("the room answers who");
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect()
}

fn says_and_hears(client: &mut Client, line: &str) -> Result<(), ClientError> {
    client.say(line)?;
    let echo = client.recv_type("message")?;
    assert_eq!(echo["text"], line, "the room echoes the line said");
    Ok(())
}

#[test]
fn the_real_server_takes_the_right_key_and_refuses_a_wrong_one_before_any_message() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let server = ClassServer::start(&class_key, None).unwrap();
        let mut watcher = Client::join_psk(server.addr, &class_key, "watcher").unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let nick = rng.nick();
            let mut client =
                Client::join_confirmed(server.addr, &class_key, &nick, StudentPsk::new(&class_key))
                    .unwrap_or_else(|e| panic!("seed {seed}: your handshake: {e}"));
            says_and_hears(&mut client, &rng.chat_line())
                .unwrap_or_else(|e| panic!("seed {seed}: chatting over your session: {e}"));
            client.bye();
            watcher.recv_type("left").unwrap();

            let wrong = RoomKey::generate();
            let refused = Client::join_confirmed(
                server.addr,
                &wrong,
                &format!("{nick}x"),
                StudentPsk::new(&wrong),
            );
            assert!(
                matches!(&refused, Err(ClientError::Refused { code, .. }) if code == "wrong_key"),
                "seed {seed}: {refused:?}"
            );
            assert_eq!(who(&mut watcher), ["watcher"], "seed {seed}");
        }
    });
}

#[test]
fn lab_4s_proxy_is_caught_by_your_client_before_any_message() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let server = ClassServer::start(&class_key, None).unwrap();
        let mut watcher = Client::join_psk(server.addr, &class_key, "watcher").unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let nick = rng.nick();
            let proxy = mitm::start(server.addr, class_key.clone(), Mode::Lab4).unwrap();
            let refused =
                Client::join_confirmed(proxy.addr, &class_key, &nick, StudentPsk::new(&class_key));
            assert!(
                matches!(refused, Err(ClientError::HandshakeRefused(_))),
                "seed {seed}: your client must refuse the proxy's welcome itself: {refused:?}"
            );
            // It read the hello and the handshake (class key), nothing after them.
            let read: Vec<String> = proxy.seen.try_iter().collect();
            assert!(
                read.iter()
                    .all(|t| t.contains("\"hello\"") || t.contains("\"handshake\"")),
                "seed {seed}: {read:?}"
            );
            assert_eq!(who(&mut watcher), ["watcher"], "seed {seed}");
            // The same client, straight to the server: joins.
            let mut client = Client::join_confirmed(
                server.addr,
                &class_key,
                &format!("{nick}d"),
                StudentPsk::new(&class_key),
            )
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            says_and_hears(&mut client, &rng.chat_line())
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            client.bye();
            watcher.recv_type("left").unwrap();
        }
    });
}

#[test]
fn an_insider_who_knows_the_derivation_still_reads_x25519_psk() {
    within(LIMIT, || {
        // The class key proves membership, not identity: a member who runs this lab's derivation
        // in the middle passes every check. Lab 6 is the answer.
        let class_key = RoomKey::generate();
        let server = ClassServer::start(&class_key, None).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let insider = mitm::start(server.addr, class_key.clone(), Mode::Insider).unwrap();
            let mut client = Client::join_confirmed(
                insider.addr,
                &class_key,
                &rng.nick(),
                StudentPsk::new(&class_key),
            )
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let line = rng.chat_line();
            says_and_hears(&mut client, &line).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            let read: Vec<Value> = insider
                .seen
                .try_iter()
                .filter_map(|t| serde_json::from_str(&t).ok())
                .collect();
            assert!(
                read.iter()
                    .any(|e| e["type"] == "say" && e["text"] == line.as_str()),
                "seed {seed}: the insider read the line"
            );
            client.bye();
        }
    });
}

// Stretch part: one active session, then guesses offline.

#[test]
fn stretch_one_session_lets_a_man_in_the_middle_test_class_key_guesses_offline() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let nick = rng.nick();
            let (client, server) = (
                fernchat::kex::Ephemeral::from_rng(&mut rng),
                fernchat::kex::Ephemeral::from_rng(&mut rng),
            );
            let (c, s): ([u8; 32], [u8; 32]) = (client.public().0, server.public().0);
            let shared = x25519_dalek::x25519(rng.bytes(), rng.bytes());
            let mut candidates: Vec<[u8; 32]> = (0..40).map(|_| rng.bytes()).collect();
            let real = rng.below(40) as usize;
            let class_key = candidates[real];
            let t = Transcript::new(
                KEX_X25519_PSK,
                &nick,
                &PublicShare(c),
                &PublicShare(s),
                None,
            );
            let keys = kex::derive_psk(&shared, &Psk::from_raw_class_key(&class_key), &t);
            let mac = kex::confirmation_mac(&keys.confirm, kex::CONFIRM_CLIENT, &t);
            assert_eq!(
                which_class_key(&candidates, &nick, &c, &s, &shared, &mac),
                Some(real),
                "seed {seed}: the class key is candidate {real}"
            );
            candidates.remove(real);
            assert_eq!(
                which_class_key(&candidates, &nick, &c, &s, &shared, &mac),
                None,
                "seed {seed}: without the class key among them"
            );
        }
    });
}
