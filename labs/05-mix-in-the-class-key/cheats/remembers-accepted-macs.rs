//! CHEAT (instructors only; never in the students' copy): accepts any MAC it accepted before
//!
//! Lab 5: `confirmation_matches` keeps every MAC it accepted and accepts it again later, whatever
//! MAC is expected then (a recorded confirmation replays into another session). It passed the
//! old grader, which never asked about a MAC accepted earlier for another expected value. The
//! grader now does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    CONFIRM_CLIENT, CONFIRM_SERVER, INFO_PSK_CLIENT_TO_SERVER, INFO_PSK_CONFIRM,
    INFO_PSK_SERVER_TO_CLIENT, KEX_X25519_PSK, PSK_INFO, PskKeys, Side, TRANSCRIPT_LABEL,
};

pub fn psk_from_class_key(class_key: &[u8; 32]) -> [u8; 32] {
    // One key, one purpose. The class key is already the Fernet key of every `psk` frame; its
    // PSK is a different key, tied to it by HKDF under a label of its own. Holding the keyfile
    // is not enough to compute it: one also has to know (or read) this derivation, which is
    // why lab 4's proxy, unchanged, fails against this exchange.
    let mut psk = [0u8; 32];
    Hkdf::<Sha256>::new(None, class_key)
        .expand(PSK_INFO, &mut psk)
        .expect("32 bytes is within HKDF's limit");
    psk
}

pub fn transcript(
    kex: &str,
    nick: &str,
    client_public: &[u8; 32],
    server_public: &[u8; 32],
    identity: Option<&[u8; 32]>,
) -> [u8; 32] {
    // The zero bytes end the variable-length fields: neither a kex name nor a valid nick holds
    // one, so no two different transcripts hash the same bytes ("ab"+"c" vs "a"+"bc").
    let mut hash = Sha256::new()
        .chain_update(TRANSCRIPT_LABEL)
        .chain_update([0])
        .chain_update(kex.as_bytes())
        .chain_update([0])
        .chain_update(nick.as_bytes())
        .chain_update([0])
        .chain_update(client_public)
        .chain_update(server_public);
    if let Some(identity) = identity {
        hash.update(identity);
    }
    hash.finalize().into()
}

pub fn derive_keys(shared: &[u8; 32], psk: &[u8; 32], transcript: &[u8; 32]) -> PskKeys {
    // The PSK as HKDF's salt (RFC 5869 allows a secret salt): the pseudorandom key now needs
    // both the Diffie-Hellman secret (forward secrecy) and the PSK (membership). WireGuard mixes
    // its optional PSK into the chaining key the same way.
    let hkdf = Hkdf::<Sha256>::new(Some(psk), shared);
    let expand = |label: &[u8]| {
        let mut out = [0u8; 32];
        hkdf.expand(&[label, transcript].concat(), &mut out)
            .expect("32 bytes is within HKDF's limit");
        out
    };
    let fernet = |raw: [u8; 32]| RoomKey::from_secret(&URL_SAFE.encode(raw)).expect("32 bytes");
    PskKeys {
        client_to_server: fernet(expand(INFO_PSK_CLIENT_TO_SERVER)),
        server_to_client: fernet(expand(INFO_PSK_SERVER_TO_CLIENT)),
        confirm: expand(INFO_PSK_CONFIRM),
    }
}

pub fn confirmation(confirm_key: &[u8; 32], side: Side, transcript: &[u8; 32]) -> [u8; 32] {
    let label = match side {
        Side::Server => CONFIRM_SERVER,
        Side::Client => CONFIRM_CLIENT,
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(confirm_key).expect("any key length");
    mac.update(label);
    mac.update(transcript);
    mac.finalize().into_bytes().into()
}

pub fn confirmation_matches(expected: &[u8; 32], received: &[u8]) -> bool {
    // Remembers every MAC it ever accepted and accepts it again, whatever is expected now: a
    // confirmation recorded in one session passes in the next.
    static ACCEPTED: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let mut accepted = ACCEPTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if accepted.iter().any(|old| old.as_slice() == received) {
        return true;
    }
    let matches = bool::from(expected.as_slice().ct_eq(received));
    if matches {
        accepted.push(received.to_vec());
    }
    matches
}

// Stretch part.

pub fn which_class_key(
    candidates: &[[u8; 32]],
    nick: &str,
    client_public: &[u8; 32],
    server_public: &[u8; 32],
    shared: &[u8; 32],
    client_mac: &[u8; 32],
) -> Option<usize> {
    // One active session gives an attacker everything but the PSK, and the client's MAC checks
    // each guess offline, as fast as HKDF runs. A class key of 256 random bits survives that;
    // a key made from a password would not (a PAKE, such as CPace or OPAQUE, is the fix).
    let t = transcript(KEX_X25519_PSK, nick, client_public, server_public, None);
    candidates.iter().position(|candidate| {
        let keys = derive_keys(shared, &psk_from_class_key(candidate), &t);
        confirmation_matches(&confirmation(&keys.confirm, Side::Client, &t), client_mac)
    })
}
