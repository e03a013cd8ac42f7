//! Lab 6: server identity. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types here are shared with the grader (`tests/`), and
//! `live` plugs your functions into a real client; read them, do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;
pub mod live;

pub use exercise::{Pins, sign_transcript, verify_transcript};
/// What the identity key signs before the transcript (PROTOCOL.md section 7).
pub use fernchat::kex::{KEX_X25519_PSK_SIGNED, SIGNATURE_LABEL};

/// The signature does not verify (or the key is unusable): refuse the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

/// What a pin check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// First meeting with this server: its key is pinned now.
    New,
    /// The key pinned before.
    Known,
}

/// Why a pin check refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinError {
    /// The server shows another key than the one pinned for it.
    Changed {
        /// The key pinned on first use.
        pinned: [u8; 32],
        /// The key shown now.
        presented: [u8; 32],
    },
    /// The pin file could not be read or written.
    Storage(String),
}
