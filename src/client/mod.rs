//! The chat client: a core that speaks the protocol, and front ends that never do.
//!
//! ```text
//!   keyboard ──> front end ──Command──> session ──frames──> writer thread ──> server
//!   screen   <── front end <──Update─── session <──events── reader thread <── server
//! ```
//!
//! - [`command`] parses what the user types into a [`Command`];
//! - [`session`] is the core loop: it sends commands, keeps the [`ChatState`], turns server
//!   events into [`Update`]s, answers nothing itself but reconnects when the connection drops;
//! - [`connection`] dials, runs the `hello` → `welcome` handshake, and owns the reader
//!   (which answers pings) and writer threads;
//! - [`display`] renders an update as an irssi-style line, safely;
//! - [`line`] is the line-mode front end (rustyline on a terminal, plain lines in a pipe);
//! - [`error`] holds every failure, with the message that explains it and its exit code.
//!
//! A front end only sends [`Command`]s and shows [`Update`]s; the later full-screen front end
//! reuses everything here except [`line`]. This module must not be used by the server.

pub mod command;
pub mod display;
pub mod error;
pub mod state;
pub mod update;

pub use command::{Command, ParseError};
pub use error::{ClientError, ConnectError, SessionError};
pub use state::ChatState;
pub use update::{Update, UpdateKind};
