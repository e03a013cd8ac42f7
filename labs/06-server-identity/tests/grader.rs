//! Lab 6's grader. Do not edit: your work is graded with the original.
//!
//! PROTOCOL.md's known-answer signature, agreement with the product's `fernchat::identity`,
//! every way a signature must be refused (another session, another key, a flipped bit, no
//! label, a small-order key), pins on first use and across restarts, and your client against
//! the real class server, an impostor with the class key, a replayed signature and an insider.
//! Inputs come from this file's `SEEDS`; every "must refuse" is paired with a "must accept".

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::thread;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use fernchat::identity::ServerIdentity;
use fernchat::kex::{Ephemeral, Psk, PublicShare, Role, Transcript};
use fernchat::protocol::{ServerEvent, seal};
use lab06::live::StudentSigned;
use lab06::{
    BadSignature, KEX_X25519_PSK_SIGNED, Pin, PinError, Pins, sign_transcript, verify_transcript,
};
use labkit::class_server::ClassServer;
use labkit::client::{Client, ClientError};
use labkit::conn::Conn;
use labkit::limit::within;
use labkit::mitm::{self, Mode};
use labkit::rng::SeededRng;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x06_5eed, 23, 20_260_606, 0x6666_0000_ffff_1111];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

fn hex<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// A signature made by the product's reference.
fn reference_signature(seed: &[u8; 32], transcript: &[u8; 32]) -> [u8; 64] {
    let text = ServerIdentity::from_seed(seed).sign(&Transcript(*transcript));
    URL_SAFE.decode(text).unwrap().try_into().unwrap()
}

fn public_of(seed: &[u8; 32]) -> [u8; 32] {
    ServerIdentity::from_seed(seed).public().0
}

#[test]
fn signatures_are_the_protocols_known_answer_and_the_references() {
    within(LIMIT, || {
        let seed = hex::<32>("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let transcript =
            hex::<32>("1ba7ce2d4521fea98f6abea182286ce20d910e8281736ff8b29a6c381fed7568");
        assert_eq!(
            URL_SAFE.encode(sign_transcript(&seed, &transcript)),
            "6WKuh_JM8RY6slDVIY0xT3dtttENnolCiQ5UUkvccfmNU3_8sNLZJBB63uhn6NWQtIaGESg_5FtAxcSFiEWLAA==",
            "PROTOCOL.md's known answer"
        );
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (key, t): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
            assert_eq!(
                sign_transcript(&key, &t),
                reference_signature(&key, &t),
                "seed {seed}"
            );
        }
    });
}

#[test]
fn a_signature_verifies_for_its_own_session_and_key_only() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (key, other_key, t, old): ([u8; 32], [u8; 32], [u8; 32], [u8; 32]) =
                (rng.bytes(), rng.bytes(), rng.bytes(), rng.bytes());
            let public = public_of(&key);
            let genuine = reference_signature(&key, &t);
            assert_eq!(
                verify_transcript(&public, &t, &genuine),
                Ok(()),
                "seed {seed}: genuine"
            );
            assert_eq!(
                verify_transcript(&public, &old, &genuine),
                Err(BadSignature),
                "seed {seed}: a signature from another session"
            );
            assert_eq!(
                verify_transcript(&public_of(&other_key), &t, &genuine),
                Err(BadSignature),
                "seed {seed}: another server's key"
            );
            let unlabelled = ed25519_sign_bare(&key, &t);
            assert_eq!(
                verify_transcript(&public, &t, &unlabelled),
                Err(BadSignature),
                "seed {seed}: a signature over the transcript without the label"
            );
            for bit in (0..512).step_by(7) {
                let mut flipped = genuine;
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    verify_transcript(&public, &t, &flipped),
                    Err(BadSignature),
                    "seed {seed}: bit {bit} of the signature flipped"
                );
            }
        }
    });
}

fn ed25519_sign_bare(seed: &[u8; 32], message: &[u8]) -> [u8; 64] {
    use ed25519_dalek::{Signer, SigningKey};
    SigningKey::from_bytes(seed).sign(message).to_bytes()
}

#[test]
fn a_small_order_key_that_would_accept_any_message_is_refused() {
    within(LIMIT, || {
        // The identity point as a public key, and the signature R = identity, S = 0: the plain
        // Ed25519 equation [S]B = R + [k]A holds for every message. A careful verifier refuses it.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        let mut forged = [0u8; 64];
        forged[0] = 1;
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (key, t): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
            assert_eq!(
                verify_transcript(&weak, &t, &forged),
                Err(BadSignature),
                "seed {seed}: a small-order key"
            );
            assert_eq!(
                verify_transcript(&public_of(&key), &t, &reference_signature(&key, &t)),
                Ok(()),
                "seed {seed}: a sound key"
            );
        }
    });
}

#[test]
fn pins_trust_the_first_key_then_refuse_another() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (a, b): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
            let (server, other) = (rng.nick(), format!("{}x", rng.nick()));
            let mut pins = Pins::open(&dir.path().join(format!("pins-{seed}")));
            assert_eq!(
                pins.check(&server, &a),
                Ok(Pin::New),
                "seed {seed}: first use"
            );
            assert_eq!(
                pins.check(&server, &a),
                Ok(Pin::Known),
                "seed {seed}: same key"
            );
            assert_eq!(
                pins.check(&other, &b),
                Ok(Pin::New),
                "seed {seed}: another server"
            );
            assert_eq!(
                pins.check(&server, &b),
                Err(PinError::Changed {
                    pinned: a,
                    presented: b
                }),
                "seed {seed}: a changed key"
            );
            assert_eq!(
                pins.check(&server, &a),
                Ok(Pin::Known),
                "seed {seed}: the pin stays"
            );
            // Keys that differ from the pinned one in a single bit, anywhere: all of it counts.
            for bit in [255, 128, 7, rng.below(256) as usize] {
                let mut close = a;
                close[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    pins.check(&server, &close),
                    Err(PinError::Changed {
                        pinned: a,
                        presented: close
                    }),
                    "seed {seed}: a key that differs from the pinned one in bit {bit} only must \
                     be refused: compare all 32 bytes"
                );
            }
        }
    });
}

#[test]
fn pins_survive_a_restart() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (a, b): ([u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes());
            let path = dir.path().join(format!("pins-{seed}"));
            let server = rng.nick();
            assert_eq!(
                Pins::open(&path).check(&server, &a),
                Ok(Pin::New),
                "seed {seed}"
            );
            // A new `Pins` on the same file: the client restarted.
            let mut again = Pins::open(&path);
            assert_eq!(
                again.check(&server, &a),
                Ok(Pin::Known),
                "seed {seed}: after a restart"
            );
            assert!(
                matches!(again.check(&server, &b), Err(PinError::Changed { .. })),
                "seed {seed}: after a restart, a changed key"
            );
            let mut third = Pins::open(&path);
            assert!(
                matches!(third.check(&server, &b), Err(PinError::Changed { .. })),
                "seed {seed}"
            );
            // The pins live in the file, and only there: a copy of the file elsewhere knows
            // them, and a new file knows nothing.
            let written = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(
                written > 0,
                "seed {seed}: the pin file {} is missing or empty: pins must be written to \
                 the file to survive a restart",
                path.display()
            );
            let copy = dir.path().join(format!("copied-{seed}"));
            std::fs::copy(&path, &copy).unwrap();
            assert_eq!(
                Pins::open(&copy).check(&server, &a),
                Ok(Pin::Known),
                "seed {seed}: a copy of the pin file must know the pin (is it kept in memory \
                 instead of the file?)"
            );
            let fresh = dir.path().join(format!("fresh-{seed}"));
            assert_eq!(
                Pins::open(&fresh).check(&server, &b),
                Ok(Pin::New),
                "seed {seed}: a new pin file knows no server (pins kept outside the file?)"
            );
        }
    });
}

fn join(
    addr: SocketAddr,
    class_key: &RoomKey,
    nick: &str,
    pins: &std::path::Path,
) -> Result<Client, ClientError> {
    Client::join_confirmed(
        addr,
        class_key,
        nick,
        StudentSigned::new(class_key, Pins::open(pins), "class"),
    )
}

fn chat(client: &mut Client, line: &str) {
    client.say(line).unwrap();
    let echo = client.recv_type("message").expect("our echo");
    assert_eq!(echo["text"], line, "the room echoes the line said");
}

#[test]
fn the_real_server_is_pinned_an_impostor_refused_and_a_restart_accepted() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let class_key = RoomKey::generate();
        let identity = ServerIdentity::generate();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let pins = dir.path().join(format!("pins-{seed}"));
            let real = ClassServer::start(&class_key, Some(&identity)).unwrap();
            let mut client = join(real.addr, &class_key, &rng.nick(), &pins)
                .unwrap_or_else(|e| panic!("seed {seed}: the real server: {e}"));
            chat(&mut client, &rng.chat_line());
            client.bye();

            // Someone with the class key, but not the server's identity key, answers instead.
            let impostor =
                ClassServer::start(&class_key, Some(&ServerIdentity::generate())).unwrap();
            let refused = join(impostor.addr, &class_key, &rng.nick(), &pins);
            assert!(
                matches!(refused, Err(ClientError::HandshakeRefused(_))),
                "seed {seed}: the impostor must be refused: {refused:?}"
            );
            let mut watcher = Client::join_psk(impostor.addr, &class_key, "watcher").unwrap();
            watcher
                .send(&fernchat::protocol::ClientEvent::Who { room: None })
                .unwrap();
            assert_eq!(
                watcher.recv_type("users").unwrap()["users"],
                serde_json::json!(["watcher"]),
                "the room's users"
            );

            // The real server restarted on its address (same identity): accepted.
            let addr = real.addr;
            drop(real);
            let restarted = ClassServer::start_on(addr, &class_key, Some(&identity)).unwrap();
            let mut client = join(restarted.addr, &class_key, &rng.nick(), &pins)
                .unwrap_or_else(|e| panic!("seed {seed}: after the restart: {e}"));
            chat(&mut client, &rng.chat_line());
            client.bye();
        }
    });
}

/// An impostor holding the class key and the real server's *public* identity key, answering
/// with a signature the real server made in an earlier session.
fn replaying_impostor(class_key: RoomKey, identity: String, signature: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let Ok(mut conn) = Conn::new(stream, labkit::STEP) else {
            return;
        };
        let Ok(Some(frame)) = conn.recv() else { return };
        let Ok(opened) = class_key.decrypt(&frame) else {
            return;
        };
        let hello: serde_json::Value = serde_json::from_slice(&opened.plaintext).unwrap();
        let client = PublicShare::from_wire(hello["kex_public"].as_str().unwrap_or("")).unwrap();
        let nick = hello["nick"].as_str().unwrap_or("").to_owned();
        let ours = Ephemeral::generate();
        let public = ours.public();
        let identity_key = fernchat::identity::IdentityKey::from_wire(&identity).unwrap();
        let t = Transcript::new(
            KEX_X25519_PSK_SIGNED,
            &nick,
            &client,
            &public,
            Some(&identity_key.0),
        );
        let confirming = ours
            .finish_psk(Role::Server, &client, &Psk::from_class_key(&class_key), &t)
            .unwrap();
        let welcome = ServerEvent::Handshake {
            version: fernchat::protocol::PROTOCOL_VERSION,
            nonce: hello["nonce"].as_str().unwrap_or("").to_owned(),
            server_nonce: fernchat::kex::Nonce::generate().to_wire(),
            kex: KEX_X25519_PSK_SIGNED.into(),
            kex_public: Some(public.to_wire()),
            kex_confirm: Some(confirming.ours_wire()),
            kex_identity: Some(identity),
            kex_signature: Some(signature),
        };
        let _ = conn.send(&seal(&class_key, &welcome));
        // Until the client gives up (or, fooled, sends its confirmation).
        while let Err(e) = conn.recv() {
            if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                break;
            }
        }
    });
    addr
}

#[test]
fn an_old_signature_and_an_insider_with_the_class_key_are_refused() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        let class_key = RoomKey::generate();
        let identity = ServerIdentity::generate();
        let real = ClassServer::start(&class_key, Some(&identity)).unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let pins = dir.path().join(format!("pins-{seed}"));
            let mut client = join(real.addr, &class_key, &rng.nick(), &pins)
                .unwrap_or_else(|e| panic!("seed {seed}: the real server: {e}"));
            let (old_identity, old_signature) = (
                client.handshake["kex_identity"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                client.handshake["kex_signature"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            chat(&mut client, &rng.chat_line());
            client.bye();

            let impostor = replaying_impostor(class_key.clone(), old_identity, old_signature);
            let refused = join(impostor, &class_key, &rng.nick(), &pins);
            assert!(
                matches!(refused, Err(ClientError::HandshakeRefused(_))),
                "seed {seed}: a replayed signature must be refused: {refused:?}"
            );

            let insider = mitm::start(real.addr, class_key.clone(), Mode::Insider).unwrap();
            let refused = join(insider.addr, &class_key, &rng.nick(), &pins);
            assert!(
                matches!(refused, Err(ClientError::HandshakeRefused(_))),
                "seed {seed}: an insider in the middle must be refused: {refused:?}"
            );
        }
    });
}

// Stretch part: a confirmed key change.

#[test]
fn stretch_a_forgotten_pin_is_pinned_anew_and_stays_forgotten_after_a_restart() {
    within(LIMIT, || {
        let dir = tempfile::tempdir().unwrap();
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let (a, b, c): ([u8; 32], [u8; 32], [u8; 32]) = (rng.bytes(), rng.bytes(), rng.bytes());
            let (server, other) = (rng.nick(), format!("{}x", rng.nick()));
            let path = dir.path().join(format!("pins-{seed}"));
            let mut pins = Pins::open(&path);
            assert_eq!(pins.check(&server, &a), Ok(Pin::New), "seed {seed}");
            assert_eq!(pins.check(&other, &c), Ok(Pin::New), "seed {seed}");
            assert_eq!(
                pins.forget(&server),
                Ok(true),
                "seed {seed}: a pin to forget"
            );
            assert_eq!(
                pins.forget(&server),
                Ok(false),
                "seed {seed}: forgotten already"
            );
            assert_eq!(
                pins.check(&server, &b),
                Ok(Pin::New),
                "seed {seed}: pinned anew"
            );
            let mut again = Pins::open(&path);
            assert_eq!(
                again.check(&server, &b),
                Ok(Pin::Known),
                "seed {seed}: after a restart"
            );
            assert!(
                matches!(again.check(&server, &a), Err(PinError::Changed { .. })),
                "seed {seed}: the old key is not pinned any more, after a restart either"
            );
            assert_eq!(
                again.check(&other, &c),
                Ok(Pin::Known),
                "seed {seed}: other pins stay"
            );
        }
    });
}
