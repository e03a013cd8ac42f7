//! Lab 8: end-to-end group keys. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types here are shared with the grader (`tests/`) and
//! with `wire` (how it all travels through a chat server as ordinary `say` text); read them,
//! do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;
pub mod wire;

pub use exercise::{add, open, rotate, seal, unwrap, wrap};

use rand_core::{CryptoRng, RngCore};

/// HKDF `info` prefix of a key-encryption key (then group, epoch, member, keys: README).
pub const WRAP_INFO: &[u8] = b"fernchat group wrap v1";
/// What a member's identity key signs before an envelope's fields.
pub const SIGN_LABEL: &[u8] = b"fernchat group envelope v1";

/// One member's keys: an X25519 pair to receive group keys, an Ed25519 pair to sign messages.
#[derive(Clone)]
pub struct Member {
    /// The member's nick in the room.
    pub nick: String,
    /// X25519 secret (receives wrapped group keys).
    pub dh_secret: [u8; 32],
    /// Ed25519 secret seed (signs envelopes).
    pub signing_seed: [u8; 32],
    /// What everyone may know.
    pub public: PublicMember,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, even in a failing test's output.
        f.debug_struct("Member")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// A member as the others know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicMember {
    /// The nick.
    pub nick: String,
    /// X25519 public key.
    pub dh_public: [u8; 32],
    /// Ed25519 public key.
    pub verifying: [u8; 32],
}

impl Member {
    /// Fresh keys for `nick`, drawn from `rng`.
    pub fn generate<R: RngCore + CryptoRng>(nick: &str, rng: &mut R) -> Member {
        let (mut dh_secret, mut signing_seed) = ([0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut dh_secret);
        rng.fill_bytes(&mut signing_seed);
        Member {
            nick: nick.to_owned(),
            dh_secret,
            signing_seed,
            public: PublicMember {
                nick: nick.to_owned(),
                dh_public: x25519_dalek::x25519(dh_secret, x25519_dalek::X25519_BASEPOINT_BYTES),
                verifying: ed25519_dalek::SigningKey::from_bytes(&signing_seed)
                    .verifying_key()
                    .to_bytes(),
            },
        }
    }
}

/// A group key wrapped for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The group's name.
    pub group: String,
    /// The key's epoch: it goes up by one at every rotation.
    pub epoch: u64,
    /// The member it is for.
    pub to: String,
    /// The sender's fresh X25519 public key for this wrap.
    pub ephemeral: [u8; 32],
    /// The group key, sealed (a Fernet token) under the key-encryption key.
    pub sealed: String,
}

/// A message to the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The group's name.
    pub group: String,
    /// The epoch of the key it is sealed with.
    pub epoch: u64,
    /// The sender's nick.
    pub from: String,
    /// The text, sealed (a Fernet token) under the group key.
    pub ciphertext: String,
    /// The sender's Ed25519 signature (README).
    pub signature: [u8; 64],
}

/// Why a wrapped key or an envelope is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupError {
    /// Not wrapped for this member (or not for this group and epoch), or tampered with.
    NotForMe,
    /// The sender is not in the roster.
    UnknownSender,
    /// The signature does not verify: someone else made or changed it.
    BadSignature,
    /// Sealed under another epoch's key than the one given.
    WrongEpoch,
    /// The ciphertext does not open under the group key.
    Tampered,
}
