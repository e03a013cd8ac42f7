//! Lab 5: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each function compiles and gives a wrong answer of the right type, so that the grader's
//! assertions tell you what is missing. Run the grader with `cargo test -p lab05`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{
    INFO_PSK_CLIENT_TO_SERVER, INFO_PSK_CONFIRM, INFO_PSK_SERVER_TO_CLIENT, PskKeys, Side,
};

/// The pre-shared key of the exchange, from the class key's 32 raw bytes: HKDF-SHA256 with no
/// salt and `info` = `PSK_INFO`, 32 bytes.
pub fn psk_from_class_key(class_key: &[u8; 32]) -> [u8; 32] {
    // TODO(student): never use the Fernet key itself for a second purpose; derive the PSK from
    // it under its own label (`crate::PSK_INFO`).
    *class_key
}

/// The transcript hash: SHA-256 of `TRANSCRIPT_LABEL || 0 || kex || 0 || nick || 0 || C || S || I`,
/// where `I` is the server's identity key when there is one (lab 6) and nothing otherwise.
pub fn transcript(
    kex: &str,
    nick: &str,
    client_public: &[u8; 32],
    server_public: &[u8; 32],
    identity: Option<&[u8; 32]>,
) -> [u8; 32] {
    // TODO(student): everything both sides must agree on goes in, in this exact order. This
    // starter hashes the two public keys only: a man in the middle could change the kex (a
    // downgrade) or the nick and nobody would notice.
    let _ = (kex, nick, identity);
    Sha256::new()
        .chain_update(client_public)
        .chain_update(server_public)
        .finalize()
        .into()
}

/// The session's three keys: HKDF-SHA256 with the shared secret as input key material, the
/// PSK as **salt**, and `info` = label || transcript, 32 bytes each.
pub fn derive_keys(shared: &[u8; 32], psk: &[u8; 32], transcript: &[u8; 32]) -> PskKeys {
    // TODO(student): mix the PSK in. This starter leaves it out, so the keys depend on the
    // Diffie-Hellman exchange alone, exactly as in lab 3: lab 4's proxy would get them.
    let _ = psk;
    let hkdf = Hkdf::<Sha256>::new(None, shared);
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

/// One side's confirmation MAC: HMAC-SHA256 keyed with `confirm_key` over the side's label
/// (`CONFIRM_SERVER` or `CONFIRM_CLIENT`) followed by the transcript.
pub fn confirmation(confirm_key: &[u8; 32], side: Side, transcript: &[u8; 32]) -> [u8; 32] {
    // TODO(student): each side gets its own label. Without one, both MACs are equal and a
    // client could "confirm" by sending the server's own MAC back.
    let _ = side;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(confirm_key).expect("any key length");
    mac.update(transcript);
    mac.finalize().into_bytes().into()
}

/// Whether the MAC the peer sent (`received`, any length) is the one we expect. Compare in
/// constant time: the time taken must not depend on where the first difference is.
pub fn confirmation_matches(expected: &[u8; 32], received: &[u8]) -> bool {
    // TODO(student): compare every byte, in constant time (`subtle::ConstantTimeEq`).
    let _ = expected;
    !received.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Stretch part (graded apart, no hints; see the README). TODO(stretch)

/// A man in the middle answered a client's `x25519-psk` hello as the server would (so knows
/// the server's public key, the shared secret and the transcript's fields), and received the
/// client's confirmation MAC. Which of `candidates` (raw class keys) is the class key? `None`
/// if none is.
pub fn which_class_key(
    candidates: &[[u8; 32]],
    nick: &str,
    client_public: &[u8; 32],
    server_public: &[u8; 32],
    shared: &[u8; 32],
    client_mac: &[u8; 32],
) -> Option<usize> {
    // TODO(stretch)
    let _ = (
        candidates,
        nick,
        client_public,
        server_public,
        shared,
        client_mac,
    );
    None
}
