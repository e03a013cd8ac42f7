//! Lab 7: forward secrecy in practice, and a symmetric hash ratchet. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types here are shared with the grader (`tests/`);
//! read them, do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;

pub use exercise::{ReceivingChain, SendingChain, future_key, open_recording};

/// How far ahead of the next expected message a receiver accepts one (and so how many skipped
/// message keys it may hold): out-of-order delivery inside this window works, beyond it the
/// message is refused rather than making the receiver derive and hold unbounded keys.
pub const WINDOW: u64 = 32;

/// `HMAC-SHA256(chain key, MESSAGE_KEY_INPUT)` is the message key of the current step.
pub const MESSAGE_KEY_INPUT: u8 = 0x01;
/// `HMAC-SHA256(chain key, CHAIN_KEY_INPUT)` is the next chain key (Signal's constants).
pub const CHAIN_KEY_INPUT: u8 = 0x02;

/// Why a receiving chain refuses a message index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RatchetError {
    /// Its key was used already (a replay) or deleted as too old: it is gone for good.
    Gone {
        /// The index asked for.
        index: u64,
    },
    /// More than [`WINDOW`] ahead of the next expected index.
    TooFarAhead {
        /// The index asked for.
        index: u64,
        /// The next index the chain expects.
        next: u64,
    },
}
