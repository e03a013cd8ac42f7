//! labkit: what the labs share and students do not edit.
//!
//! - [`rng`]: a seeded generator, so graders make fresh inputs at test time that are still the
//!   same on every run (a failure can be reproduced);
//! - [`conn`]: a TCP connection that speaks frames, with timeouts everywhere;
//! - [`wire`]: the `kex` fields of `hello` and `welcome` (PROTOCOL.md section 7) as JSON;
//! - [`client`]: an honest client for every session, with the handshake pluggable so that labs
//!   3, 5 and 6 can put the student's in;
//! - [`room`]: a toy chat room that offers `psk` and `x25519`, for labs 3 and 4 to run against
//!   while (or wherever) the class server speaks only `psk`;
//! - [`class_server`]: the real class server in-process, for graders (labs 5, 6);
//! - [`mitm`]: reference men in the middle (lab 4's, and an insider who knows the PSK
//!   derivation), for the graders of labs 5 and 6;
//! - [`recorder`]: a passive wiretap that keeps every frame (lab 7);
//! - [`wiretap`]: a logging relay that says of every frame whether the class key opens it
//!   (lab 3's live step);
//! - [`args`]: the few command-line flags the live steps take;
//! - [`limit`]: time limits on every grader test, and memory the grader measures itself.
#![forbid(unsafe_code)]

pub mod args;
pub mod class_server;
pub mod client;
pub mod conn;
pub mod limit;
pub mod mitm;
pub mod recorder;
pub mod rng;
pub mod room;
pub mod wire;
pub mod wiretap;

use std::time::Duration;

/// The longest any single wait in a grader or live step may take. Every read has a timeout and
/// every loop a bound, so a broken lab fails a test instead of hanging it.
pub const STEP: Duration = Duration::from_secs(5);
