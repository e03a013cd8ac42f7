//! The toy room and the honest client agree with each other and with PROTOCOL.md section 7.

use fernchat::crypto::RoomKey;
use fernchat::kex::PublicShare;
use fernchat::protocol::seal;
use labkit::client::{Client, ClientError};
use labkit::conn::Conn;
use labkit::room::Room;
use labkit::{STEP, wire};

#[test]
fn psk_and_x25519_members_chat_in_one_room() {
    let key = RoomKey::generate();
    let room = Room::start(key.clone()).unwrap();
    let mut alice = Client::join_psk(room.addr, &key, "alice").unwrap();
    let mut bob = Client::join_x25519(room.addr, &key, "bob").unwrap();
    assert_eq!(wire::kex_of(&bob.handshake), "x25519");
    assert!(wire::public_of(&alice.handshake).is_none());
    assert_eq!(wire::type_of(&alice.recv().unwrap()), "joined");
    bob.say("hi alice").unwrap();
    for peer in [&mut alice, &mut bob] {
        let message = peer.recv_type("message").unwrap();
        assert_eq!(message["text"], "hi alice");
        assert_eq!(message["from"], "bob");
    }
    let heard = room.heard();
    assert_eq!(heard.last().unwrap().event["text"], "hi alice");
}

#[test]
fn low_order_and_malformed_public_keys_are_refused_and_good_ones_accepted() {
    let key = RoomKey::generate();
    let room = Room::start(key.clone()).unwrap();
    for (i, public) in [
        PublicShare([0; 32]).to_wire(),
        "short".to_owned(),
        "not base64 !".to_owned(),
    ]
    .iter()
    .enumerate()
    {
        let mut conn = Conn::connect(room.addr, STEP).unwrap();
        let mut hello = wire::hello(&format!("eve{i}"), None);
        hello["kex"] = "x25519".into();
        hello["kex_public"] = public.as_str().into();
        conn.send(&seal(&key, &hello)).unwrap();
        let frame = conn.recv().unwrap().unwrap();
        let reply = key.decrypt(&frame).unwrap();
        let reply: serde_json::Value = serde_json::from_slice(&reply.plaintext).unwrap();
        assert_eq!(reply["code"], "kex_failed", "{public}");
    }
    assert!(Client::join_x25519(room.addr, &key, "honest").is_ok());
}

#[test]
fn a_client_with_the_wrong_class_key_is_told_so() {
    let room = Room::start(RoomKey::generate()).unwrap();
    match Client::join_x25519(room.addr, &RoomKey::generate(), "alice") {
        Err(ClientError::Refused { code, .. }) => assert_eq!(code, "wrong_key"),
        other => panic!("expected the wrong-key line, got {other:?}"),
    }
}
