//! Lab 3: ephemeral X25519 and HKDF. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types here are shared with the grader (`tests/`), and
//! `live` plugs your handshake into a real client; read them, do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;
pub mod live;

pub use exercise::{
    derive_keys, derive_keys_without_transcript, generate, other_encoding, public_key,
    session_keys, shared_secret,
};
/// Which end of the exchange: the client sent the `hello`, the server the `welcome`.
pub use fernchat::kex::Role;

use fernchat::crypto::RoomKey;

/// The HKDF `info` label of the client-to-server key (PROTOCOL.md section 7).
pub const INFO_CLIENT_TO_SERVER: &[u8] = b"fernchat x25519 v1 client->server";
/// The HKDF `info` label of the server-to-client key.
pub const INFO_SERVER_TO_CLIENT: &[u8] = b"fernchat x25519 v1 server->client";

/// One side's key pair for one session.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// 32 random bytes. X25519 clamps them itself, so any 32 bytes will do.
    pub secret: [u8; 32],
    /// `X25519(secret, 9)`: the secret times the curve's base point. Sent in the clear.
    pub public: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even in a failing test's output.
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// The peer's public key is a point of small order: the shared secret would be all zeros,
/// which anyone can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowOrderPoint;

/// A session's two keys, named by direction.
#[derive(Debug, Clone)]
pub struct DirectionKeys {
    /// Seals what the client sends.
    pub client_to_server: RoomKey,
    /// Seals what the server sends.
    pub server_to_client: RoomKey,
}

/// A session's two keys from one side's point of view.
#[derive(Debug, Clone)]
pub struct SessionKeys {
    /// Seals what we send.
    pub send: RoomKey,
    /// Opens what we receive.
    pub receive: RoomKey,
}
