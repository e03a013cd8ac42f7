//! CHEAT (instructors only; never in the students' copy): `session_keys` refuses only [0; 32]
//!
//! Lab 3, from issue 13: `shared_secret` is right, but `session_keys` refuses only the literal
//! all-zero key and then computes X25519 without the check, so a session with any other
//! low-order point gets keys everyone can compute (lab 4 counts on lab 3 refusing them). It
//! passed the old grader, which tried only [0; 32] on `session_keys`. The grader now runs
//! `session_keys` in both roles over every low-order point and encoding.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use fernchat::crypto::RoomKey;
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

use crate::{
    DirectionKeys, INFO_CLIENT_TO_SERVER, INFO_SERVER_TO_CLIENT, KeyPair, LowOrderPoint, Role,
    SessionKeys,
};

pub fn public_key(secret: &[u8; 32]) -> [u8; 32] {
    // The base point's u-coordinate is 9. `x25519` clamps the scalar (clears the 3 low bits so
    // the result lies in the prime-order subgroup, sets bit 254 for a constant-time ladder).
    x25519(*secret, X25519_BASEPOINT_BYTES)
}

pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> KeyPair {
    // Every secret comes from the generator we were given, never from a hidden global one:
    // that is what lets a test replay a session, and what keeps the choice of generator (the
    // operating system's, in real use) with the caller.
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    KeyPair {
        secret,
        public: public_key(&secret),
    }
}

pub fn shared_secret(
    secret: &[u8; 32],
    their_public: &[u8; 32],
) -> Result<[u8; 32], LowOrderPoint> {
    let shared = x25519(*secret, *their_public);
    // A point of small order (there are a handful, plus their non-canonical encodings) times a
    // clamped scalar is the point at infinity, which X25519 writes as 32 zero bytes, whatever
    // our secret. A peer or a man in the middle who sends one fixes the "secret" to zero.
    // Fold the bytes with OR rather than `==`: no early exit, so no timing leak on secrets.
    if shared.iter().fold(0u8, |acc, b| acc | b) == 0 {
        return Err(LowOrderPoint);
    }
    Ok(shared)
}

pub fn derive_keys(
    shared: &[u8; 32],
    client_public: &[u8; 32],
    server_public: &[u8; 32],
) -> DirectionKeys {
    // Extract: a curve coordinate is not uniformly random; HKDF-Extract turns it into a
    // pseudorandom key. No salt: both inputs that vary per session are already in the IKM and
    // the info, and "no salt" is what the Python one-liner in PROTOCOL.md does.
    let hkdf = Hkdf::<Sha256>::new(None, shared);
    let key = |label: &[u8]| {
        // The transcript (both public keys, the client's first) binds the keys to this exact
        // exchange; the label separates the directions, so a frame cannot be reflected back.
        let info = [label, client_public, server_public].concat();
        let mut okm = [0u8; 32];
        hkdf.expand(&info, &mut okm)
            .expect("32 bytes is within HKDF's limit");
        RoomKey::from_secret(&URL_SAFE.encode(okm)).expect("32 bytes make a Fernet key")
    };
    DirectionKeys {
        client_to_server: key(INFO_CLIENT_TO_SERVER),
        server_to_client: key(INFO_SERVER_TO_CLIENT),
    }
}

pub fn session_keys(
    role: Role,
    mine: &KeyPair,
    their_public: &[u8; 32],
) -> Result<SessionKeys, LowOrderPoint> {
    // Refuses only the literal zero point, then skips the check `shared_secret` makes.
    if *their_public == [0; 32] {
        return Err(LowOrderPoint);
    }
    let shared = x25519(mine.secret, *their_public);
    match role {
        Role::Client => {
            let keys = derive_keys(&shared, &mine.public, their_public);
            Ok(SessionKeys {
                send: keys.client_to_server,
                receive: keys.server_to_client,
            })
        }
        Role::Server => {
            let keys = derive_keys(&shared, their_public, &mine.public);
            Ok(SessionKeys {
                send: keys.server_to_client,
                receive: keys.client_to_server,
            })
        }
    }
}

// Stretch part.

pub fn other_encoding(public: &[u8; 32]) -> [u8; 32] {
    // X25519 ignores the top bit of the u-coordinate (RFC 7748 section 5: "the most significant
    // bit of the final byte is masked"), so setting or clearing it names the same point. A
    // derivation that hashes the bytes sees two different transcripts; one that does not hash
    // them cannot tell this session from the one the peer really had.
    let mut other = *public;
    other[31] ^= 0x80;
    other
}

pub fn derive_keys_without_transcript(shared: &[u8; 32]) -> DirectionKeys {
    let hkdf = Hkdf::<Sha256>::new(None, shared);
    let key = |label: &[u8]| {
        let mut okm = [0u8; 32];
        hkdf.expand(label, &mut okm)
            .expect("32 bytes is within HKDF's limit");
        RoomKey::from_secret(&URL_SAFE.encode(okm)).expect("32 bytes make a Fernet key")
    };
    DirectionKeys {
        client_to_server: key(INFO_CLIENT_TO_SERVER),
        server_to_client: key(INFO_SERVER_TO_CLIENT),
    }
}
