//! The chat client: a core that speaks the protocol, and front ends that never do.
//!
//! ```text
//!   keyboard ──> front end ──Command──> session ──frames──> writer thread ──> server
//!   screen   <── front end <──Update─── session <──events── reader thread <── server
//! ```
//!
//! - [`command`] parses what the user types into a [`Command`];
//! - [`session`] is the core loop: it checks and sends commands, keeps the [`ChatState`],
//!   turns server events into [`Update`]s, and reconnects when the connection drops;
//! - [`connection`] dials, runs the handshake (`hello`, `handshake`, `confirm`, `welcome`),
//!   and owns the reader (which answers pings) and writer threads;
//! - [`display`] renders an update as an irssi-style line, safely;
//! - [`line`](mod@line) is the line-mode front end (rustyline on a terminal, plain lines in a pipe);
//! - [`pins`] remembers each server's identity key (trust on first use, `--kex x25519-psk-signed`);
//! - [`transcript`] keeps what was shown, for `/save` and `--log` (plain text on disk);
//! - [`tui`] is the full-screen front end (ratatui: message pane, nick list, status line);
//! - [`error`] holds every failure, with the message that explains it and its exit code.
//!
//! A front end only sends [`Command`]s and shows [`Update`]s; the two front ends share
//! everything else here. This module must not be used by the server.

pub mod command;
pub mod connection;
pub mod display;
pub mod error;
pub mod line;
pub mod pins;
pub mod session;
pub mod state;
pub mod transcript;
pub mod tui;
pub mod update;

use std::path::Path;

pub use command::{Command, ParseError};
pub use connection::{KexChoice, KexSetup, Security, ServerAddr, Timeouts, Welcome};
pub use error::{ClientError, ConnectError, SessionError};
pub use session::{ClientConfig, ReconnectPolicy, Session, SessionThread, Spawned, StateView};
pub use state::ChatState;
pub use update::{Update, UpdateKind};

use crate::crypto::RoomKey;
use crate::keyfile::{self, KeyfileError, KeyfileWarning};

/// Loads the class key from `path`, asking for the passphrase (three tries on a terminal) or
/// reading `FERNCHAT_PASSPHRASE` if the file is sealed. Warnings (a keyfile other users can
/// read) are returned for the front end to show; they do not stop anything.
pub fn load_key(path: &Path) -> Result<(RoomKey, Vec<KeyfileWarning>), KeyfileError> {
    let loaded = keyfile::load_from_env_or_terminal(path)?;
    Ok((loaded.key, loaded.warnings))
}
