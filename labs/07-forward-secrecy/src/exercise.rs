//! Lab 7: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each function compiles and gives a wrong answer of the right type, so that the grader's
//! assertions tell you what is missing. Run the grader with `cargo test -p lab07`.

use std::collections::BTreeMap;

use fernchat::crypto::RoomKey;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::RatchetError;

/// Part 1. The attacker's side: a recording of frames (tokens, in order) and the keys an
/// attacker holds (a leaked class key; perhaps a session key stolen from memory). Returns, for
/// each frame, its plaintext if one of `keys` opens it.
pub fn open_recording(frames: &[Vec<u8>], keys: &[RoomKey]) -> Vec<Option<String>> {
    // TODO(student): try every key on every frame. (That is all the attack there is: which
    // frames open is the point of the exercise. Read the grader's first two tests.) One step
    // more for `psk` (protocol version 2): its session keys come from the class key and the
    // two nonces in the hello and the handshake, which the class key opens
    // (`fernchat::kex::psk_session_keys`, PROTOCOL.md section 2): add them to the keys.
    let _ = keys;
    vec![None; frames.len()]
}

fn hmac(key: &[u8; 32], input: u8) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(&[input]);
    mac.finalize().into_bytes().into()
}

/// Part 2. The sender's half of a symmetric hash ratchet.
#[derive(Debug)]
pub struct SendingChain {
    // TODO(student): what must the sender keep, and what must it forget?
    root: [u8; 32],
    next: u64,
}

impl SendingChain {
    /// A chain starting from the chain key `root` (both sides derive it from the session).
    pub fn new(root: [u8; 32]) -> SendingChain {
        SendingChain { root, next: 0 }
    }

    /// The index and key of the next message; the chain moves on and forgets this step.
    pub fn next_key(&mut self) -> (u64, [u8; 32]) {
        // TODO(student): message key = HMAC(chain key, MESSAGE_KEY_INPUT), next chain key =
        // HMAC(chain key, CHAIN_KEY_INPUT). This starter keys every message from the root
        // with a counter: nothing is ever forgotten, so stealing `root` opens every message.
        let index = self.next;
        self.next += 1;
        let mut key = self.root;
        key[0] ^= index as u8;
        (index, hmac(&key, crate::MESSAGE_KEY_INPUT))
    }

    /// Every secret this chain holds right now (what memory would reveal if stolen).
    pub fn held_secrets(&self) -> Vec<[u8; 32]> {
        vec![self.root]
    }
}

/// Part 2. The receiver's half: accepts messages out of order inside the window, each once.
#[derive(Debug)]
pub struct ReceivingChain {
    // TODO(student): the chain key, the next expected index, and the keys of skipped messages.
    root: [u8; 32],
    skipped: BTreeMap<u64, [u8; 32]>,
}

impl ReceivingChain {
    /// A chain starting from the chain key `root`.
    pub fn new(root: [u8; 32]) -> ReceivingChain {
        ReceivingChain {
            root,
            skipped: BTreeMap::new(),
        }
    }

    /// The key of message `index`, which is then deleted: a second call for it is
    /// `RatchetError::Gone`. Keys of messages skipped on the way are kept, inside the window.
    pub fn key_for(&mut self, index: u64) -> Result<[u8; 32], RatchetError> {
        // TODO(student): advance the chain to `index`, keeping skipped keys; refuse indexes
        // that are gone or too far ahead.
        let _ = &self.skipped;
        let mut key = self.root;
        key[0] ^= index as u8;
        Ok(hmac(&key, crate::MESSAGE_KEY_INPUT))
    }

    /// Every secret this chain holds right now: the chain key and the skipped message keys.
    pub fn held_secrets(&self) -> Vec<[u8; 32]> {
        vec![self.root]
    }
}

// ---------------------------------------------------------------------------------------------
// Stretch part (graded apart, no hints; see the README). TODO(stretch)

/// What a thief who stole the chain key `stolen` (the chain key of step k) computes: the
/// message key of step k + `steps`.
pub fn future_key(stolen: &[u8; 32], steps: u64) -> [u8; 32] {
    // TODO(stretch)
    let _ = steps;
    *stolen
}
