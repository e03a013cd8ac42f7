//! The codec: events to frames and frames to events, with every check an incoming frame must
//! pass (authentic token, fresh, not replayed, valid JSON, known type, well-typed fields).
//!
//! It owns the order of those checks and the distinct error for each. It must not know about
//! sockets, threads or room state; the server and the client both use it the same way.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{
    ClockError, Fingerprint, FreshnessError, PeerClock, ReplayError, ReplayGuard, RoomKey,
    TimePolicy, TokenError,
};
use crate::protocol::event::{ClientEvent, ErrorCode, ServerEvent};

/// An event type that can be decoded from a frame: knows its own `type` names, so that an
/// unknown type can be told apart from a known type with bad fields.
pub trait Decodable: DeserializeOwned {
    /// Every valid `type` value.
    const TYPES: &'static [&'static str];
}

impl Decodable for ClientEvent {
    const TYPES: &'static [&'static str] = ClientEvent::TYPES;
}

impl Decodable for ServerEvent {
    const TYPES: &'static [&'static str] = ServerEvent::TYPES;
}

/// Encrypts an event into a frame: the token and its `\n`.
pub fn seal<E: Serialize>(key: &RoomKey, event: &E) -> Vec<u8> {
    seal_at(key, event, crate::crypto::unix_now())
}

/// Like [`seal`] with a chosen token timestamp (tests of skewed clocks use it).
pub fn seal_at<E: Serialize>(key: &RoomKey, event: &E, timestamp: u64) -> Vec<u8> {
    // Serializing our own enums to a Vec cannot fail: no maps with non-string keys, no I/O.
    let json = serde_json::to_vec(event).expect("events always serialize");
    let mut frame = key.encrypt_at(&json, timestamp).into_bytes();
    frame.push(b'\n');
    frame
}

/// Why a frame's plaintext is not an acceptable event. One variant per distinct failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a token, or not made with our key.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The plaintext is not UTF-8 JSON, or not an object.
    #[error("the message is not a JSON object: {detail}")]
    BadJson {
        /// The parser's complaint.
        detail: String,
    },
    /// An object without a string `type`.
    #[error("the message has no \"type\" field")]
    MissingType,
    /// An object whose `type` is not one we know.
    #[error("unknown message type {found:?} (known: {known})")]
    UnknownType {
        /// The type given (truncated to 40 characters).
        found: String,
        /// The known types, comma-separated.
        known: String,
    },
    /// A known type whose fields are missing or of the wrong JSON type.
    #[error("bad \"{kind}\" message: {detail}")]
    BadField {
        /// The event type.
        kind: String,
        /// The parser's complaint.
        detail: String,
    },
}

impl DecodeError {
    /// The error code to send back for this failure.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::Token(_) => ErrorCode::Undecryptable,
            DecodeError::BadJson { .. } => ErrorCode::BadJson,
            DecodeError::MissingType | DecodeError::BadField { .. } => ErrorCode::BadField,
            DecodeError::UnknownType { .. } => ErrorCode::UnknownType,
        }
    }
}

/// Parses a plaintext into an event, telling bad JSON, unknown types and bad fields apart.
pub fn decode_plaintext<E: Decodable>(plaintext: &[u8]) -> Result<E, DecodeError> {
    // Fast path: a well-formed event parses directly.
    if let Ok(event) = serde_json::from_slice::<E>(plaintext) {
        return Ok(event);
    }
    // Slow path, only for refusals: find out which rule was broken.
    let value: serde_json::Value =
        serde_json::from_slice(plaintext).map_err(|e| DecodeError::BadJson {
            detail: e.to_string(),
        })?;
    let object = value.as_object().ok_or_else(|| DecodeError::BadJson {
        detail: "expected an object {...}".to_owned(),
    })?;
    let kind = object
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or(DecodeError::MissingType)?;
    if !E::TYPES.contains(&kind) {
        return Err(DecodeError::UnknownType {
            found: kind.chars().take(40).collect(),
            known: E::TYPES.join(", "),
        });
    }
    match serde_json::from_value::<E>(value.clone()) {
        Ok(event) => Ok(event),
        Err(e) => Err(DecodeError::BadField {
            kind: kind.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Why an incoming frame was refused. Each variant has an [`ErrorCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a token with our key, or not an event.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The first token showed a clock too far from ours.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// Too old or from the future.
    #[error(transparent)]
    Stale(#[from] FreshnessError),
    /// Already seen, or the replay memory is full.
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

impl Refusal {
    /// The error code to send back.
    pub fn code(&self) -> ErrorCode {
        match self {
            Refusal::Decode(e) => e.code(),
            Refusal::Clock(_) => ErrorCode::ClockSkew,
            Refusal::Stale(FreshnessError::Expired { .. }) => ErrorCode::Expired,
            Refusal::Stale(FreshnessError::FromFuture { .. }) => ErrorCode::FromFuture,
            Refusal::Replay(ReplayError::Full) => ErrorCode::ReplayMemoryFull,
            Refusal::Replay(_) => ErrorCode::Replayed,
        }
    }
}

/// Where an [`Inbound`] remembers the tokens it accepted.
///
/// Protocol version 2 gives every connection its own session keys, so a token can only ever be
/// replayed on the connection it was made for: the server and the client keep an `Own` memory
/// per connection, bounded and dropped with it, so no connection can fill anybody else's.
/// `Shared` remains for the labs, which study replay across connections with one class key.
#[derive(Debug)]
pub enum ReplayMemory {
    /// This connection's own memory.
    Own(ReplayGuard),
    /// A memory shared with other receivers (labs and tests).
    Shared(Arc<Mutex<ReplayGuard>>),
}

impl From<ReplayGuard> for ReplayMemory {
    fn from(guard: ReplayGuard) -> ReplayMemory {
        ReplayMemory::Own(guard)
    }
}

impl From<Arc<Mutex<ReplayGuard>>> for ReplayMemory {
    fn from(guard: Arc<Mutex<ReplayGuard>>) -> ReplayMemory {
        ReplayMemory::Shared(guard)
    }
}

impl ReplayMemory {
    fn with<T>(&mut self, f: impl FnOnce(&mut ReplayGuard) -> T) -> T {
        match self {
            ReplayMemory::Own(guard) => f(guard),
            // A panic elsewhere while holding the lock leaves a usable guard: the map is
            // never half-updated across an await or callback.
            ReplayMemory::Shared(guard) => f(&mut guard
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())),
        }
    }
}

/// The incoming side of one connection: decrypts, judges time and replays, decodes.
///
/// The peer's clock offset is measured from the first authentic token and used for the rest of
/// the connection. A token is remembered (for replay protection) only once it passed every
/// check, so frames that are refused cost no memory.
#[derive(Debug)]
pub struct Inbound {
    key: RoomKey,
    policy: TimePolicy,
    peer: Option<PeerClock>,
    replay: ReplayMemory,
}

impl Inbound {
    /// The incoming side of a new connection.
    pub fn new(key: RoomKey, policy: TimePolicy, replay: impl Into<ReplayMemory>) -> Inbound {
        Inbound {
            key,
            policy,
            peer: None,
            replay: replay.into(),
        }
    }

    /// The incoming side of a new connection with its own replay memory of at most
    /// `capacity` tokens, each kept for the connection's window (TTL plus grace).
    pub fn per_connection(key: RoomKey, policy: TimePolicy, capacity: usize) -> Inbound {
        let guard = ReplayGuard::new(policy.connection_window_secs(), capacity);
        Inbound::new(key, policy, guard)
    }

    /// A replay guard sized for `policy`'s window across connections, for [`Inbound::new`]
    /// (the labs; the server and client keep one per connection).
    pub fn shared_guard(policy: TimePolicy, capacity: usize) -> Arc<Mutex<ReplayGuard>> {
        Arc::new(Mutex::new(ReplayGuard::new(
            policy.replay_window_secs(),
            capacity,
        )))
    }

    /// The fingerprint of our encrypting key, for error messages.
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }

    /// The peer's measured clock, once a first token has been accepted.
    pub fn peer_clock(&self) -> Option<PeerClock> {
        self.peer
    }

    /// How many tokens the replay memory holds now (for tests and figures).
    pub fn remembered(&mut self) -> usize {
        self.replay.with(|guard| guard.len())
    }

    /// Opens later frames with `key` instead: the session key a key exchange agreed on (a
    /// ring, when a receiver accepts two keys; see [`Inbound::accept_opened`]). The peer's
    /// clock, measured from its first token, and the replay memory stay.
    pub fn rekey(&mut self, key: RoomKey) {
        self.key = key;
    }

    /// Runs every check on one frame at time `now` (our clock, Unix seconds).
    pub fn accept<E: Decodable>(&mut self, frame: &[u8], now: u64) -> Result<E, Refusal> {
        self.accept_opened(frame, now).map(|(event, _)| event)
    }

    /// [`Inbound::accept`], also saying which key of the ring opened the frame (0 = the
    /// first), so a receiver can hold a key to the kind of event it may seal.
    pub fn accept_opened<E: Decodable>(
        &mut self,
        frame: &[u8],
        now: u64,
    ) -> Result<(E, usize), Refusal> {
        let opened = self.key.decrypt(frame).map_err(DecodeError::from)?;
        let peer = match self.peer {
            Some(peer) => peer,
            None => PeerClock::measure(opened.timestamp, now)?,
        };
        self.policy.check(opened.timestamp, now, peer)?;
        self.replay.with(|g| g.check(opened.replay_id, now))?;
        let event = decode_plaintext(&opened.plaintext)?;
        // Only now is the token accepted: remembered, and (if first) its clock trusted. A
        // replayed, stale or malformed first token must not set the clock or take memory.
        self.replay.with(|g| g.remember(opened.replay_id, now))?;
        self.peer = Some(peer);
        Ok((event, opened.key_index))
    }
}

/// Starts the one plaintext line the server may send: to a connection whose first frame it
/// could not decrypt, so that the client can tell its user the key is wrong.
pub const WRONG_KEY_PREFIX: &str = "!fernchat wrong-key";

/// The plaintext wrong-key line (without newline). `!` cannot start a token, so a client
/// tells it apart at once. `server` is the fingerprint of the server's current key (the first
/// of its ring during a rotation): the key a student should get.
///
/// # Format
/// `!fernchat wrong-key server-fingerprint=3F2A-9C01-77D4-B0E8 the server could not decrypt your first message; use the class keyfile`
pub fn wrong_key_line(server: Fingerprint) -> String {
    format!(
        "{WRONG_KEY_PREFIX} server-fingerprint={server} the server could not decrypt your first message; use the class keyfile"
    )
}

/// If `line` is the wrong-key line, the server's fingerprint as it wrote it.
pub fn parse_wrong_key_line(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix(WRONG_KEY_PREFIX)?;
    let field = rest.split_whitespace().next()?;
    let fingerprint = field.strip_prefix("server-fingerprint=")?;
    // Only hex digits and dashes: this text will be shown to the user.
    fingerprint
        .chars()
        .all(|c| c.is_ascii_hexdigit() || c == '-')
        .then(|| fingerprint.chars().take(32).collect())
}
