//! Lab 4: the man in the middle. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only: the [`Interceptor`] that decides what to do with each frame.
//! [`proxy`] is the plumbing (sockets, threads) that feeds it; read it, do not change it.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;
pub mod proxy;

pub use exercise::Interceptor;

/// Which way a frame was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client, to the server.
    ClientToServer,
    /// From the server, to the client.
    ServerToClient,
}

/// What the interceptor does with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The frame to pass on (without its newline): the original, or one the proxy made.
    pub forward: Vec<u8>,
    /// The frame's plaintext (a JSON event), if the proxy could read it.
    pub seen: Option<String>,
}

impl Relayed {
    /// Passes `frame` on unchanged, having read nothing.
    pub fn unchanged(frame: &[u8]) -> Relayed {
        Relayed {
            forward: frame.to_vec(),
            seen: None,
        }
    }
}
