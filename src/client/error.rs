//! Client errors: every way connecting or chatting can fail, as enums that carry the facts
//! (addresses, fingerprints, codes) and messages that say what to do about it.
//!
//! This module owns the error types and the exit code of each. It must not print, exit or
//! decide anything: the session returns these, the binaries print them and exit.
//!
//! A student meets these messages on the first day, usually because a server is not running,
//! a keyfile is missing or a clock is wrong, so each one names the likely cause and the fix.

use std::io;

use crate::client::pins::PinError;
use crate::crypto::{ClockError, Fingerprint};
use crate::keyfile::{KeyfileError, PASSPHRASE_ENV};
use crate::protocol::ErrorCode;
use crate::protocol::event::NickError;

/// The process exit codes of the client binaries (documented in `--help`).
pub mod exit_code {
    /// `/quit`, Ctrl-C, Ctrl-D or end of input.
    pub const OK: u8 = 0;
    /// Anything else (a terminal that failed, for instance).
    pub const GENERAL: u8 = 1;
    /// Bad command line or nick (clap also uses 2 for usage errors).
    pub const USAGE: u8 = 2;
    /// No server, unreachable, or the connection was lost for good.
    pub const CONNECT: u8 = 3;
    /// The keyfile is missing or unreadable, or the key differs from the server's.
    pub const KEY: u8 = 4;
    /// The server refused us (nick, full, clock, version) or removed us.
    pub const REFUSED: u8 = 5;
}

/// Why connecting and joining the room (the handshake: `hello` to `welcome`) failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("cannot find the computer called {host}: {source}; check --host")]
    Resolve {
        /// The host as given.
        host: String,
        /// The resolver's complaint.
        source: io::Error,
    },
    /// Nothing accepted the connection: no server runs there.
    #[error(
        "no fernchat server is listening at {target}: start one with `cargo run --bin server`, \
         or check --host/--port"
    )]
    NoServer {
        /// `host:port`.
        target: String,
    },
    /// The connection could not be made for another reason (timeout, no route).
    #[error("could not reach {target}: {source}; check --host/--port and the network")]
    Unreachable {
        /// `host:port`.
        target: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Something accepted the connection but never answered the hello.
    #[error(
        "{target} accepted the connection but did not answer within {secs} s; \
         is it a fernchat server? check --port"
    )]
    HandshakeTimeout {
        /// `host:port`.
        target: String,
        /// The limit.
        secs: u64,
    },
    /// The server closed the connection without a word.
    #[error("{target} closed the connection without answering; is it a fernchat server?")]
    ClosedDuringHandshake {
        /// `host:port`.
        target: String,
    },
    /// The socket failed during the handshake.
    #[error("the connection to {target} failed during the handshake: {source}")]
    Io {
        /// `host:port`.
        target: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Our key and the server's differ. `server` is the server's fingerprint when it told us
    /// (the plaintext wrong-key line); `None` when its reply simply did not open with our key.
    #[error("{}", wrong_key_message(*ours, server.as_deref()))]
    WrongKey {
        /// Our key's fingerprint.
        ours: Fingerprint,
        /// The server's, as it sent it.
        server: Option<String>,
    },
    /// The reply is not a Fernet token: another program listens on that port.
    #[error(
        "the program at {target} does not speak fernchat: its reply is not a Fernet token \
         ({detail}); check --port"
    )]
    NotFernchat {
        /// `host:port`.
        target: String,
        /// Why the reply is not a token.
        detail: String,
    },
    /// The server's first token shows a clock too far from ours.
    #[error("your computer's clock and the server's are too far apart: {0}")]
    ClockSkew(ClockError),
    /// The reply opened with our key but is not a usable answer.
    #[error("the server's answer could not be used: {detail}")]
    BadReply {
        /// What was wrong with it.
        detail: String,
    },
    /// The key exchange asked for with `--kex` did not complete: the server's confirmation or
    /// signature did not check out, or its answer lacked a field. Nothing was sent or shown.
    #[error(
        "the {kex} key exchange with {target} failed, so nothing was sent: {detail}. A wrong \
         class key, a server that is not the one you think, or someone in the middle can each \
         cause this; compare your key's fingerprint with the instructor's"
    )]
    KexFailed {
        /// `host:port`.
        target: String,
        /// The key exchange.
        kex: &'static str,
        /// What did not check out.
        detail: String,
    },
    /// The server's identity key is not the one pinned for it, or the pin file is unusable.
    #[error(transparent)]
    Pin(PinError),
    /// In the signed mode: something arrived during the handshake that only the server's
    /// pinned identity could make trustworthy (a refusal, the plaintext wrong-key line, an
    /// answer under another key) and it is not signed by it. Anyone in the middle can send
    /// such things, so it is treated as a network fault: nothing about the key or mode changes.
    #[error(
        "{target} sent {what}; in the signed mode that counts only when the server's pinned \
         identity signs it, so it is treated as a network fault (someone in the middle may have \
         sent it) and nothing was changed. Try again later; if it persists, compare your class \
         key's fingerprint with your instructor's, and keep --kex x25519-psk-signed"
    )]
    Unverified {
        /// `host:port`.
        target: String,
        /// What arrived.
        what: String,
    },
    /// In the signed mode, with no identity pinned for the server yet: a refusal that cannot
    /// be verified. Shown, but marked as such, and with no advice to weaken anything.
    #[error(
        "the server refused you ({}): {message} (unverified: no identity is pinned for this \
         server yet, so this refusal could also come from someone in the middle; do not switch \
         to a weaker --kex because of it)",
        code_name(*code)
    )]
    RefusedUnverified {
        /// The code given.
        code: ErrorCode,
        /// The text given, made safe for a terminal.
        message: String,
    },
    /// The server is pinned as a server of the signed mode and a weaker `--kex` was asked.
    #[error(
        "{target} is pinned as an x25519-psk-signed server (identity {fingerprint}, in {path}), \
         so the client will not speak the weaker {asked} to it: run with --kex \
         x25519-psk-signed. If the server really changed, remove its line from {path} (ask \
         your instructor first)"
    )]
    WeakerThanPin {
        /// `host:port`.
        target: String,
        /// The `--kex` asked for.
        asked: &'static str,
        /// The pinned identity.
        fingerprint: crate::identity::IdentityFingerprint,
        /// The pin file.
        path: String,
    },
    /// The server no longer accepts our class key: it was replaced in a key rotation and its
    /// deadline (`--key-until`) has passed (`key_retired`). The server's words name its
    /// current key's fingerprint.
    #[error(
        "the server no longer accepts your class key (fingerprint {ours}): {message}. Compare \
         the new keyfile's fingerprint with `cargo run --bin keygen -- --fingerprint PATH`"
    )]
    KeyRetired {
        /// Our key's fingerprint.
        ours: Fingerprint,
        /// The server's explanation, made safe for a terminal.
        message: String,
    },
    /// The server answered `error` (and closed): nick taken, server full, clock, version...
    #[error("the server refused you ({}): {message}{}", code_name(*code), refusal_hint(*code))]
    Refused {
        /// The server's code.
        code: ErrorCode,
        /// The server's explanation, made safe for a terminal.
        message: String,
    },
}

impl ConnectError {
    /// A refusal, with the server's text made safe to print.
    pub fn refused(code: ErrorCode, message: &str) -> ConnectError {
        ConnectError::Refused {
            code,
            message: crate::client::display::clean(message, 500),
        }
    }

    /// A refusal of a client holding the key `ours`: `key_retired` becomes
    /// [`ConnectError::KeyRetired`], which names our key's fingerprint beside the server's.
    pub fn refused_holding(ours: Fingerprint, code: ErrorCode, message: &str) -> ConnectError {
        match code {
            ErrorCode::KeyRetired => ConnectError::KeyRetired {
                ours,
                message: crate::client::display::clean(message, 500),
            },
            _ => ConnectError::refused(code, message),
        }
    }

    /// Whether the server refused the nick (so an interactive front end can ask for another).
    pub fn is_nick_problem(&self) -> bool {
        matches!(
            self,
            ConnectError::Refused {
                code: ErrorCode::NickTaken | ErrorCode::NickInvalid | ErrorCode::NickReserved,
                ..
            }
        )
    }

    /// Whether a reconnect attempt that failed this way is worth repeating.
    ///
    /// The network kinds are: the server may be restarting. `nick_taken` is too, on a
    /// reconnect only: when *we* noticed the drop first, the server may still hold our old
    /// connection (and our nick) until its idle timeout removes it. A wrong key, a full
    /// server, a clock or version problem will not fix itself by waiting.
    pub fn worth_retrying(&self) -> bool {
        match self {
            ConnectError::Resolve { .. }
            | ConnectError::NoServer { .. }
            | ConnectError::Unreachable { .. }
            | ConnectError::HandshakeTimeout { .. }
            | ConnectError::ClosedDuringHandshake { .. }
            | ConnectError::Io { .. }
            | ConnectError::Unverified { .. } => true,
            // A kick's wait ends by itself (a rejoin a moment early is refused with `kicked`).
            ConnectError::Refused { code, .. } => {
                matches!(code, ErrorCode::NickTaken | ErrorCode::Kicked)
            }
            ConnectError::RefusedUnverified { .. } | ConnectError::WeakerThanPin { .. } => false,
            ConnectError::WrongKey { .. }
            | ConnectError::KeyRetired { .. }
            | ConnectError::KexFailed { .. }
            | ConnectError::Pin(_)
            | ConnectError::NotFernchat { .. }
            | ConnectError::ClockSkew(_)
            | ConnectError::BadReply { .. } => false,
        }
    }

    /// The exit code for a front end that stops on this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ConnectError::WrongKey { .. }
            | ConnectError::KeyRetired { .. }
            | ConnectError::KexFailed { .. }
            | ConnectError::Pin(_)
            | ConnectError::WeakerThanPin { .. } => exit_code::KEY,
            ConnectError::Refused { .. }
            | ConnectError::RefusedUnverified { .. }
            | ConnectError::ClockSkew(_) => exit_code::REFUSED,
            _ => exit_code::CONNECT,
        }
    }
}

fn wrong_key_message(ours: Fingerprint, server: Option<&str>) -> String {
    match server {
        Some(server) => format!(
            "the server could not read your hello: your key (fingerprint {ours}) differs from \
             the server's current key ({server}); ask your instructor for the class keyfile"
        ),
        None => format!(
            "the server's answer was not made with your key (fingerprint {ours}): your key \
             differs from the server's; ask your instructor for the class keyfile, and compare \
             fingerprints with `cargo run --bin keygen -- --fingerprint keys/class.key`"
        ),
    }
}

/// What to do about each refusal, beyond the server's own words.
fn refusal_hint(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::NickInvalid => {
            "; a nick has 2 to 16 letters, digits, '_' or '-', starting with a letter"
        }
        ErrorCode::ServerFull => "; try again in a while, or tell your instructor",
        ErrorCode::ClockSkew => {
            "; set your computer's clock (turn on automatic date and time) and try again"
        }
        ErrorCode::VersionUnsupported => {
            "; update your copy of fernchat (git pull) or ask your instructor which version to use"
        }
        // Never "use a weaker --kex": a refusal is exactly what someone in the middle would
        // forge to talk the user into one (issue 12 item 5).
        ErrorCode::KexUnsupported => {
            "; ask your instructor which --kex the server expects (the join command the server \
             prints has it); do not switch to a weaker one because of this message"
        }
        // For a taken or reserved nick the server's own words say it all.
        _ => "",
    }
}

/// The wire name of an error code (`nick_taken`), for messages.
pub fn code_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{code:?}"),
    }
}

/// Why a running session ended other than by the user's choice.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The server said `bye` for a reason that reconnecting would not fix (flooding, a
    /// protocol error).
    #[error("the server disconnected you ({}): {reason}", code_name(*code))]
    Removed {
        /// The server's code.
        code: ErrorCode,
        /// The server's reason, made safe for a terminal.
        reason: String,
    },
    /// The connection dropped and reconnecting is turned off.
    #[error("lost the connection: {reason} (reconnecting is turned off)")]
    Lost {
        /// Why.
        reason: String,
    },
    /// Every reconnect attempt failed.
    #[error("gave up reconnecting after {attempts} attempts; the last one failed: {last}")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last: ConnectError,
    },
    /// A reconnect attempt was refused for a reason waiting will not fix (such as the server
    /// restarting with a new key).
    #[error("could not rejoin: {0}")]
    Rejoin(ConnectError),
}

impl SessionError {
    /// The exit code for a front end that stops on this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            // A key past its rotation deadline: the fix is a keyfile, like a wrong key.
            SessionError::Removed {
                code: ErrorCode::KeyRetired,
                ..
            } => exit_code::KEY,
            SessionError::Removed { .. } => exit_code::REFUSED,
            SessionError::Lost { .. } | SessionError::GaveUp { .. } => exit_code::CONNECT,
            SessionError::Rejoin(e) => e.exit_code(),
        }
    }
}

/// Everything that can stop a client front end, for the binary to print and exit with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The keyfile could not be loaded.
    #[error("{}", keyfile_message(.0))]
    Keyfile(#[from] KeyfileError),
    /// Connecting or joining failed.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The session ended on its own.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No nick was given and none could be asked for.
    #[error(
        "no nick: pass --nick NICK, set FERNCHAT_NICK, or give the nick as the first line of input"
    )]
    NoNick,
    /// The `--log` file cannot be written.
    #[error(transparent)]
    Transcript(#[from] crate::client::transcript::TranscriptError),
    /// The nick breaks the rules (checked before connecting).
    #[error("the nick {nick:?} cannot be used: {source}")]
    BadNick {
        /// The nick as given.
        nick: String,
        /// Which rule it breaks.
        source: NickError,
    },
    /// The terminal or standard input failed.
    #[error("the terminal failed: {0}")]
    Terminal(io::Error),
}

impl ClientError {
    /// The process exit code for this error: see [`exit_code`].
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::Keyfile(_) => exit_code::KEY,
            ClientError::Connect(e) => e.exit_code(),
            ClientError::Session(e) => e.exit_code(),
            ClientError::NoNick | ClientError::BadNick { .. } => exit_code::USAGE,
            ClientError::Terminal(_) | ClientError::Transcript(_) => exit_code::GENERAL,
        }
    }
}

fn keyfile_message(error: &KeyfileError) -> String {
    match error {
        KeyfileError::NotFound { path } => format!(
            "{} not found: ask your instructor for the class keyfile and save it there, \
             or pass --key PATH",
            path.display()
        ),
        KeyfileError::WrongPassphrase { .. } => format!(
            "{error}; type the passphrase your instructor gave with the file \
             (scripts can set {PASSPHRASE_ENV})"
        ),
        KeyfileError::BadKey { .. }
        | KeyfileError::NoKey { .. }
        | KeyfileError::ExtraLine { .. }
        | KeyfileError::BadSealedLine { .. } => {
            format!("{error}; the keyfile looks damaged: ask your instructor for a fresh copy")
        }
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RoomKey;
    use std::path::PathBuf;

    #[test]
    fn wrong_key_names_both_fingerprints() {
        let ours = RoomKey::generate().fingerprint();
        let err = ConnectError::WrongKey {
            ours,
            server: Some("AAAA-BBBB-CCCC-DDDD".into()),
        };
        let text = err.to_string();
        assert!(text.contains(&ours.to_string()), "{text}");
        assert!(text.contains("AAAA-BBBB-CCCC-DDDD"), "{text}");
        assert!(text.contains("instructor"), "{text}");
        assert_eq!(ClientError::from(err).exit_code(), exit_code::KEY);
    }

    #[test]
    fn missing_keyfile_says_where_and_how() {
        let err = ClientError::from(KeyfileError::NotFound {
            path: PathBuf::from("keys/class.key"),
        });
        assert_eq!(
            err.to_string(),
            "keys/class.key not found: ask your instructor for the class keyfile and save it \
             there, or pass --key PATH"
        );
        assert_eq!(err.exit_code(), exit_code::KEY);
    }

    #[test]
    fn no_server_teaches_how_to_start_one() {
        let err = ConnectError::NoServer {
            target: "127.0.0.1:7474".into(),
        };
        assert_eq!(
            err.to_string(),
            "no fernchat server is listening at 127.0.0.1:7474: start one with \
             `cargo run --bin server`, or check --host/--port"
        );
        assert!(err.worth_retrying());
        assert_eq!(err.exit_code(), exit_code::CONNECT);
    }

    #[test]
    fn refusals_name_the_code_and_clean_the_text() {
        let err = ConnectError::refused(ErrorCode::NickTaken, "bob is taken\u{1b}[2J");
        let text = err.to_string();
        assert!(text.contains("(nick_taken)"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(err.is_nick_problem());
        assert!(
            err.worth_retrying(),
            "a ghost of our old connection may hold the nick"
        );
        assert_eq!(err.exit_code(), exit_code::REFUSED);
        let full = ConnectError::refused(ErrorCode::ServerFull, "full");
        assert!(!full.is_nick_problem());
        assert!(!full.worth_retrying());
    }

    #[test]
    fn code_names_are_the_wire_names() {
        assert_eq!(code_name(ErrorCode::ClockSkew), "clock_skew");
        assert_eq!(code_name(ErrorCode::Unknown), "unknown");
    }
}
