//! The wiretap relays a session unchanged and says which frames the class key opens.

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use fernchat::crypto::RoomKey;
use labkit::client::Client;
use labkit::room::Room;
use labkit::{STEP, wiretap};

#[test]
fn psk_frames_open_with_the_class_key_and_x25519_frames_after_the_handshake_do_not() {
    // Version 2's psk frames open with keys from the class key and the nonces the tap saw.
    let key = RoomKey::generate();
    let room = Room::start(key.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, lines) = mpsc::channel();
    let tap_key = key.clone();
    thread::spawn(move || wiretap::serve(&listener, room.addr, &tap_key, &log));

    let mut alice = Client::join_psk(addr, &key, "alice").expect("joins through the wiretap");
    alice.say("psk line").unwrap();
    assert_eq!(alice.recv_type("message").unwrap()["text"], "psk line");
    let mut reports = Vec::new();
    while let Ok(line) = lines.recv_timeout(STEP) {
        let done = line.contains("psk line") && line.contains("server -> client");
        reports.push(line);
        if done {
            break;
        }
    }
    assert!(
        reports
            .iter()
            .all(|r| r.contains("OPENS with the class key")),
        "{reports:#?}"
    );
    assert!(reports.iter().any(|r| r.contains("client -> server")));
    // Protocol version 2: after the handshake, alice's own frames are under her session keys,
    // which the class key and the two nonces give.
    assert!(
        reports.iter().any(|r| r.contains("psk session key")),
        "{reports:#?}"
    );

    let mut bob = Client::join_x25519(addr, &key, "bob").expect("joins through the wiretap");
    bob.say("x25519 line").unwrap();
    assert_eq!(bob.recv_type("message").unwrap()["text"], "x25519 line");
    let mut sealed_otherwise = 0;
    while let Ok(line) = lines.recv_timeout(STEP) {
        // Alice (connection 1, psk) gets her own copy of bob's line, readable with the class
        // key: that is the psk session's weakness, not bob's. Bob's own frames stay closed.
        assert!(
            !(line.starts_with("[2]") && line.contains("x25519 line")),
            "the class key read bob's session: {line}"
        );
        if line.starts_with("[2]") && line.contains("does NOT open") {
            sealed_otherwise += 1;
            if sealed_otherwise >= 2 {
                break;
            }
        }
    }
    assert!(
        sealed_otherwise >= 2,
        "bob's session frames after the handshake"
    );
}

#[test]
fn describe_says_what_the_class_key_makes_of_a_frame() {
    let key = RoomKey::generate();
    let token = key.encrypt(br#"{"type":"say","text":"hi"}"#);
    let learnt = &mut wiretap::Learnt::default();
    let report = wiretap::describe(7, true, token.as_bytes(), &key, learnt);
    assert!(report.starts_with("[7] client -> server"), "{report}");
    assert!(report.contains(r#"OPENS with the class key: {"type":"say","text":"hi"}"#));
    let other = RoomKey::generate();
    assert!(
        wiretap::describe(7, false, token.as_bytes(), &other, learnt).contains("does NOT open")
    );
    assert!(wiretap::describe(7, false, b"not a token", &key, learnt).contains("does NOT open"));
}
