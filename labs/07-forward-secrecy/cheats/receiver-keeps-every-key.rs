//! CHEAT (instructors only; never in the students' copy): the receiver keeps every message key and reports only the live ones
//!
//! Lab 7: the receiving chain keeps every message key it ever derived (marking used ones
//! instead of deleting them) and `held_secrets()` reports only the ones it should still hold:
//! its memory opens every message ever received. It passed the old grader, which asked the
//! chain what it holds. The grader now measures the process's memory over a long conversation
//! (Linux) instead.

use fernchat::crypto::RoomKey;
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::protocol::codec::decode_plaintext;
use fernchat::protocol::{ClientEvent, ServerEvent};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{CHAIN_KEY_INPUT, MESSAGE_KEY_INPUT, RatchetError, WINDOW};

pub fn open_recording(frames: &[Vec<u8>], keys: &[RoomKey]) -> Vec<Option<String>> {
    // With the keyfile alone, a `psk` recording opens completely: the hello and the handshake
    // are sealed with it, and they carry the two nonces that, with the class key, give the
    // session's keys (protocol version 2). An `x25519-psk` recording opens only at the hello
    // and the handshake; every later frame needs the session's keys, which came from two
    // ephemeral secrets that were never on the wire and were deleted when the session ended.
    // That deletion is forward secrecy.
    let mut keys = keys.to_vec();
    let mut client_nonce = None;
    for frame in frames {
        let Some((key, plaintext)) = keys
            .iter()
            .find_map(|key| Some((key.clone(), key.decrypt(frame).ok()?.plaintext)))
        else {
            continue;
        };
        if let Ok(ClientEvent::Hello { nonce, .. }) = decode_plaintext(&plaintext) {
            client_nonce = nonce.as_deref().and_then(Nonce::from_wire);
        } else if let Ok(ServerEvent::Handshake {
            kex, server_nonce, ..
        }) = decode_plaintext(&plaintext)
            && kex == "psk"
            && let (Some(client), Some(server)) = (client_nonce, Nonce::from_wire(&server_nonce))
        {
            let session = psk_session_keys(&key, &client, &server);
            keys.extend([session.client_to_server, session.server_to_client]);
        }
    }
    frames
        .iter()
        .map(|frame| {
            keys.iter().find_map(|key| {
                key.decrypt(frame)
                    .ok()
                    .map(|opened| String::from_utf8_lossy(&opened.plaintext).into_owned())
            })
        })
        .collect()
}

fn hmac(key: &[u8; 32], input: u8) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(&[input]);
    mac.finalize().into_bytes().into()
}

/// One step: this step's message key, and the chain key that replaces the current one. HMAC
/// is one-way, so the new chain key says nothing about the old one or its message key.
fn step(chain: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    (hmac(chain, MESSAGE_KEY_INPUT), hmac(chain, CHAIN_KEY_INPUT))
}

#[derive(Debug)]
pub struct SendingChain {
    chain: Zeroizing<[u8; 32]>,
    next: u64,
}

impl SendingChain {
    pub fn new(root: [u8; 32]) -> SendingChain {
        SendingChain {
            chain: Zeroizing::new(root),
            next: 0,
        }
    }

    pub fn next_key(&mut self) -> (u64, [u8; 32]) {
        let (message, chain) = step(&self.chain);
        // Overwriting the chain key is the deletion: `Zeroizing` wipes what it replaces only
        // on drop, so assign through it rather than build a new one beside it.
        *self.chain = chain;
        let index = self.next;
        self.next += 1;
        (index, message)
    }

    pub fn held_secrets(&self) -> Vec<[u8; 32]> {
        vec![*self.chain]
    }
}

#[derive(Debug)]
pub struct ReceivingChain {
    chain: Zeroizing<[u8; 32]>,
    next: u64,
    /// Every message key ever derived, with whether it was used: nothing is ever deleted.
    derived: std::collections::HashMap<u64, ([u8; 32], bool)>,
}

impl ReceivingChain {
    pub fn new(root: [u8; 32]) -> ReceivingChain {
        ReceivingChain {
            chain: Zeroizing::new(root),
            next: 0,
            derived: std::collections::HashMap::new(),
        }
    }

    pub fn key_for(&mut self, index: u64) -> Result<[u8; 32], RatchetError> {
        if index >= self.next && index - self.next >= WINDOW {
            return Err(RatchetError::TooFarAhead {
                index,
                next: self.next,
            });
        }
        while self.next <= index {
            let (message, chain) = step(&self.chain);
            self.derived.insert(self.next, (message, false));
            *self.chain = chain;
            self.next += 1;
        }
        let oldest = self.next.saturating_sub(WINDOW);
        match self.derived.get_mut(&index) {
            Some((key, used)) if !*used && index >= oldest => {
                *used = true;
                Ok(*key)
            }
            _ => Err(RatchetError::Gone { index }),
        }
    }

    pub fn held_secrets(&self) -> Vec<[u8; 32]> {
        // Reports the chain key and the unused keys inside the window: what it *should* hold.
        let oldest = self.next.saturating_sub(WINDOW);
        let mut held = vec![*self.chain];
        held.extend(
            self.derived
                .iter()
                .filter(|(i, (_, used))| !*used && **i >= oldest)
                .map(|(_, (key, _))| *key),
        );
        held
    }
}

// Stretch part.

pub fn future_key(stolen: &[u8; 32], steps: u64) -> [u8; 32] {
    // The ratchet only turns forward, and anyone can turn it: a stolen chain key opens every
    // later message. Forward secrecy protects the past; healing after a theft needs fresh
    // Diffie-Hellman mixed in (Signal's DH ratchet), which a hash chain alone never gets.
    let mut chain = Zeroizing::new(*stolen);
    for _ in 0..steps {
        let (_, next) = step(&chain);
        *chain = next;
    }
    step(&chain).0
}
