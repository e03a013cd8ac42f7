//! The reference men in the middle against the real class server: lab 4's proxy reads
//! `x25519` and is caught by `x25519-psk`; the insider reads `x25519-psk` and is caught by the
//! signature of `x25519-psk-signed`.

use fernchat::client::pins::KnownServers;
use fernchat::crypto::RoomKey;
use fernchat::identity::ServerIdentity;
use labkit::class_server::ClassServer;
use labkit::client::{Client, ClientError, ReferencePsk};
use labkit::mitm::{self, Mode};

fn said_through(mitm: &mitm::Mitm, client: &mut Client, text: &str) -> bool {
    client.say(text).unwrap();
    client.recv_type("message").unwrap();
    mitm.seen.try_iter().any(|seen| seen.contains(text))
}

#[test]
fn who_reads_what() {
    let class_key = RoomKey::generate();
    let identity = ServerIdentity::generate();
    let server = ClassServer::start(&class_key, Some(&identity)).unwrap();
    let pins = tempfile::tempdir().unwrap();

    let lab4 = mitm::start(server.addr, class_key.clone(), Mode::Lab4).unwrap();
    let mut client = Client::join_x25519(lab4.addr, &class_key, "alice").unwrap();
    assert!(said_through(&lab4, &mut client, "x25519 is read"));
    client.bye();

    let lab4 = mitm::start(server.addr, class_key.clone(), Mode::Lab4).unwrap();
    let refused = Client::join_confirmed(
        lab4.addr,
        &class_key,
        "alice",
        ReferencePsk::new(&class_key),
    );
    assert!(
        matches!(refused, Err(ClientError::HandshakeRefused(_))),
        "{refused:?}"
    );

    let insider = mitm::start(server.addr, class_key.clone(), Mode::Insider).unwrap();
    let mut client = Client::join_confirmed(
        insider.addr,
        &class_key,
        "bob",
        ReferencePsk::new(&class_key),
    )
    .unwrap();
    assert!(said_through(
        &insider,
        &mut client,
        "x25519-psk is read by an insider"
    ));
    client.bye();

    let insider = mitm::start(server.addr, class_key.clone(), Mode::Insider).unwrap();
    let signed = ReferencePsk::signed(
        &class_key,
        KnownServers::new(pins.path().join("pins")),
        "class",
    );
    let refused = Client::join_confirmed(insider.addr, &class_key, "carol", signed);
    assert!(
        matches!(refused, Err(ClientError::HandshakeRefused(_))),
        "{refused:?}"
    );

    let signed = ReferencePsk::signed(
        &class_key,
        KnownServers::new(pins.path().join("pins")),
        "class",
    );
    let mut client = Client::join_confirmed(server.addr, &class_key, "dave", signed).unwrap();
    client.say("direct").unwrap();
    assert_eq!(client.recv_type("message").unwrap()["text"], "direct");
}
