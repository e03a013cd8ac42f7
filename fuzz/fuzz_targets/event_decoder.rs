//! The event decoder: a token's plaintext (arbitrary bytes) through
//! `codec::decode_plaintext::<ClientEvent>` and `::<ServerEvent>`.
//!
//! Checks: never a panic; a token error never comes out of a plaintext; an unknown type is
//! really unknown and reported in at most 40 characters; anything that decodes re-encodes
//! and decodes to the same value (what the server relays means what the sender meant); the
//! nick and text rules accept or refuse every decoded string without panicking.
#![no_main]

use fernchat::protocol::codec::{Decodable, DecodeError, decode_plaintext};
use fernchat::protocol::event::{DEFAULT_MAX_TEXT, validate_nick, validate_text};
use fernchat::protocol::{ClientEvent, ServerEvent};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;

fn check<E: Decodable + Serialize + PartialEq + std::fmt::Debug>(plaintext: &[u8]) -> Option<E> {
    match decode_plaintext::<E>(plaintext) {
        Ok(event) => {
            let again = serde_json::to_vec(&event).expect("events serialize");
            assert_eq!(
                decode_plaintext::<E>(&again).as_ref(),
                Ok(&event),
                "re-encoded as {:?}",
                String::from_utf8_lossy(&again)
            );
            // The fast path is what the server uses for good events.
            let direct: E = serde_json::from_slice(&again).expect("re-encoding parses");
            assert_eq!(direct, event);
            Some(event)
        }
        Err(DecodeError::UnknownType { found, known }) => {
            assert!(!E::TYPES.contains(&found.as_str()));
            assert!(found.chars().count() <= 40);
            assert_eq!(known, E::TYPES.join(", "));
            None
        }
        Err(DecodeError::Token(e)) => panic!("a plaintext cannot be a token error: {e}"),
        Err(
            DecodeError::BadJson { .. } | DecodeError::MissingType | DecodeError::BadField { .. },
        ) => None,
    }
}

fn rules(strings: &[&str]) {
    for s in strings {
        let _ = validate_nick(s);
        let _ = validate_text(s, DEFAULT_MAX_TEXT);
        let _ = validate_text(s, 0);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(event) = check::<ClientEvent>(data) {
        match &event {
            ClientEvent::Hello { nick, kex, .. } => rules(&[nick, kex]),
            ClientEvent::Say { text, .. } | ClientEvent::Me { text, .. } => rules(&[text]),
            ClientEvent::Msg { to, text } => rules(&[to, text]),
            ClientEvent::Nick { nick } => rules(&[nick]),
            ClientEvent::Bye { reason: Some(r) } => rules(&[r]),
            _ => {}
        }
    }
    if let Some(event) = check::<ServerEvent>(data) {
        match &event {
            ServerEvent::Message { from, text, .. } | ServerEvent::Action { from, text, .. } => {
                rules(&[from, text])
            }
            ServerEvent::Welcome { users, .. } | ServerEvent::Users { users, .. } => {
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                rules(&users)
            }
            _ => {}
        }
    }
});
