//! Lab 3: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each function compiles and gives a wrong answer of the right type, so that the grader's
//! assertions tell you what is missing. Run the grader with `cargo test -p lab03`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use rand_core::{CryptoRng, RngCore};

use crate::{DirectionKeys, KeyPair, LowOrderPoint, Role, SessionKeys};

/// The public key of `secret`: X25519 of the secret and the base point (u = 9).
pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    // TODO(student): use `x25519_dalek::x25519` and `x25519_dalek::X25519_BASEPOINT_BYTES`.
    *secret
}

/// A fresh key pair whose secret comes from `rng` (the grader injects a seeded one; real code
/// passes `rand_core::OsRng`).
pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> KeyPair {
    // TODO(student): draw the 32 secret bytes from `rng`.
    let _ = rng;
    let secret = [0u8; 32];
    KeyPair {
        secret,
        public: public_key(&secret),
    }
}

/// The Diffie-Hellman step: X25519 of our secret and their public key. Refuses a result of all
/// zeros (their key was a low-order point).
pub fn shared_secret(
    secret: &[u8; 32],
    their_public: &[u8; 32],
) -> Result<[u8; 32], LowOrderPoint> {
    // TODO(student): compute it, and refuse the all-zero result.
    let _ = secret;
    Ok(*their_public)
}

/// HKDF-SHA256 from the shared secret to the two direction keys (PROTOCOL.md section 7):
/// no salt, `info` = label || client public || server public, 32 bytes per key.
pub fn derive_keys(
    shared: &[u8; 32],
    client_public: &[u8; 32],
    server_public: &[u8; 32],
) -> DirectionKeys {
    // TODO(student): one HKDF-Extract, two HKDF-Expand with the labels in `lib.rs`
    // (`hkdf::Hkdf::<sha2::Sha256>`). Using the shared secret itself as a key is what this
    // starter does, and it is wrong twice over: no KDF, and one key for both directions.
    let _ = (client_public, server_public);
    let key = RoomKey::from_secret(&URL_SAFE.encode(shared)).expect("32 bytes make a Fernet key");
    DirectionKeys {
        client_to_server: key.clone(),
        server_to_client: key,
    }
}

/// Our side of a finished exchange: the shared secret, the keys, and which one we send with.
pub fn session_keys(
    role: Role,
    mine: &KeyPair,
    their_public: &[u8; 32],
) -> Result<SessionKeys, LowOrderPoint> {
    // TODO(student): whose public key goes first in the transcript depends on `role`, and so
    // does which direction key we send with.
    let _ = role;
    let shared = shared_secret(&mine.secret, their_public)?;
    let keys = derive_keys(&shared, &mine.public, their_public);
    Ok(SessionKeys {
        send: keys.client_to_server,
        receive: keys.server_to_client,
    })
}

// ---------------------------------------------------------------------------------------------
// Stretch part (graded apart, no hints; see the README). TODO(stretch)

/// A man in the middle's trick on the transcript: another 32-byte encoding of the same public
/// key, so that X25519 gives every secret the same shared secret with it, while the bytes (and
/// so a transcript of them) differ.
pub fn other_encoding(public: &[u8; 32]) -> [u8; 32] {
    // TODO(stretch)
    *public
}

/// The keys a derivation *without* the transcript would give (HKDF with the labels alone):
/// what the transcript in `derive_keys` protects against.
pub fn derive_keys_without_transcript(shared: &[u8; 32]) -> DirectionKeys {
    // TODO(stretch)
    derive_keys(shared, &[0; 32], &[0; 32])
}
