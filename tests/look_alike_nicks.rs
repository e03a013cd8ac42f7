//! Look-alike nicks (issue 12 item 8): `aIice` (capital i) while `alice` is online reads as
//! alice, so the hub refuses a nick whose look-alike skeleton
//! (`fernchat::protocol::confusable`) is held by someone else online, at hello and at /nick.

mod common;

use common::TestServer;
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent};

/// Failed on the old main: `aIice` was welcomed while `alice` was online, and bob could
/// rename himself `a1ice`.
#[test]
fn a_look_alike_of_an_online_nick_is_refused_at_hello_and_at_nick() {
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");

    let mut impostor = server.peer();
    impostor.hello("aIice");
    let message = impostor.expect_error(ErrorCode::NickTaken);
    assert!(
        message.contains("aIice") && message.contains("looks too much like alice"),
        "{message}"
    );

    let mut bob = server.join("bob");
    alice.recv_until(10, |e| matches!(e, ServerEvent::Joined { .. }));
    for look_alike in ["a1ice", "ALlCE", "a-lice"] {
        bob.send(&ClientEvent::Nick {
            nick: look_alike.into(),
        });
        if look_alike == "a-lice" {
            // Not a look-alike of alice by the table (an extra character): accepted.
            let renamed = bob.recv_until(10, |e| matches!(e, ServerEvent::Renamed { .. }));
            assert!(matches!(renamed, ServerEvent::Renamed { to, .. } if to == "a-lice"));
            continue;
        }
        let message = bob.expect_error(ErrorCode::NickTaken);
        assert!(message.contains("looks too much like alice"), "{message}");
    }
    // "a-lice" and "a_lice" look alike: taken while bob holds the first.
    let mut carol = server.peer();
    carol.hello("a_lice");
    carol.expect_error(ErrorCode::NickTaken);

    // One's own look-alike is fine (alice -> aIice is a change of spelling, not of person).
    alice.send(&ClientEvent::Nick {
        nick: "aIice".into(),
    });
    // (alice first sees bob's rename to a-lice, then her own.)
    alice.recv_until(
        10,
        |e| matches!(e, ServerEvent::Renamed { to, .. } if to == "aIice"),
    );

    // Once the holder leaves, the skeleton is free again.
    alice.send(&ClientEvent::Bye { reason: None });
    bob.recv_until(10, |e| matches!(e, ServerEvent::Left { .. }));
    let mut later = server.peer();
    later.hello("alice");
    assert!(matches!(later.recv(), ServerEvent::Welcome { .. }));
}

/// A deliberate limit, documented in docs/SECURITY.md and PROTOCOL.md: a nick is held only
/// while its user is online. Once alice leaves, anyone may take `alice` (or, now, a look-alike
/// of it), and a private message sent to `alice` reaches whoever holds the nick *now*. The
/// client shows who left and who joined, so a private message to a nick that left and came
/// back should be sent knowingly (the roster mode of issue 14 binds nicks to students).
#[test]
fn a_freed_nick_receives_private_messages_meant_for_its_last_holder() {
    let server = TestServer::with_defaults();
    let mut bob = server.join("bob");
    let mut alice = server.join("alice");
    bob.recv_until(10, |e| matches!(e, ServerEvent::Joined { .. }));
    alice.send(&ClientEvent::Bye { reason: None });
    bob.recv_until(
        10,
        |e| matches!(e, ServerEvent::Left { nick, .. } if nick == "alice"),
    );
    let mut mallory = server.join("alice");
    bob.recv_until(
        10,
        |e| matches!(e, ServerEvent::Joined { nick, .. } if nick == "alice"),
    );
    bob.send(&ClientEvent::Msg {
        to: "alice".into(),
        text: "the answer is 42".into(),
    });
    let got = mallory.recv_until(10, |e| matches!(e, ServerEvent::Private { .. }));
    assert!(matches!(got, ServerEvent::Private { text, .. } if text == "the answer is 42"));
}
