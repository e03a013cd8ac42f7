//! The wire protocol, in three layers kept in separate modules:
//!
//! - [`frame`]: bytes to lines, with the length limit enforced while reading;
//! - [`codec`]: lines to events through the crypto module, with every check and its error;
//! - [`event`]: what the events are, and the nick and text rules both sides apply.
//!
//! `PROTOCOL.md` at the repository root documents all of it for programmers in other languages.
//! This module must not hold connection or room state.

pub mod codec;
pub mod confusable;
pub mod event;
pub mod frame;

pub use codec::{DecodeError, Inbound, Refusal, seal, seal_at};
pub use event::{ClientEvent, ErrorCode, PROTOCOL_VERSION, ServerEvent};
pub use frame::{FrameError, FrameReader};

/// The TCP port the server listens on and the client connects to by default.
pub const DEFAULT_PORT: u16 = 7474;

/// The longest line the server accepts by default, in bytes (without `\r\n`). A message of
/// [`event::DEFAULT_MAX_TEXT`] characters of 4-byte UTF-8 fits with room to spare.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// The longest line a client accepts from the server: larger, because `welcome` and `users`
/// carry the whole user list, but still bounded.
pub const CLIENT_MAX_LINE: usize = 1024 * 1024;

/// Milliseconds since the Unix epoch: the unit of `time` fields.
pub fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
