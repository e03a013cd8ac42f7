//! The one place in fernchat that knows Fernet: the Rust twin of the Python chats' `crypto.py`.
//!
//! It owns:
//! - [`RoomKey`]: one or more Fernet keys (the first encrypts, every one decrypts, so an
//!   instructor can rotate keys while the old one still works for a while);
//! - [`Fingerprint`]: a one-way name for a key, safe to print, log and put in error messages;
//! - [`TimePolicy`], [`PeerClock`] and [`ReplayGuard`]: when a token is too old, from the
//!   future, from a peer whose clock is too far off, or already seen.
//!
//! It must not touch sockets, files or the chat protocol: it turns bytes into tokens and back,
//! and judges tokens. Nothing a peer sends may make it panic.
//!
//! # Token layout (the Fernet specification)
//!
//! ```text
//! base64url( 0x80 | timestamp: u64 big-endian | IV: 16 bytes | AES-128-CBC ciphertext | HMAC-SHA256: 32 bytes )
//! ```
//!
//! The HMAC covers everything before it. The 32-byte key is `signing key (16) | encryption key (16)`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// How far in the future a token's timestamp may be, after correcting for the peer's clock,
/// before it is rejected. The Fernet specification's own allowance for clock skew.
pub const FUTURE_GRACE_SECS: u64 = 60;

/// How old a token may be, after correcting for the peer's clock, before it is rejected.
/// Chat frames are made the moment they are sent, so a minute is generous.
pub const DEFAULT_TTL_SECS: u64 = 60;

/// The largest clock difference between a peer and us that is tolerated (10 minutes).
/// Lab machines often have wrong clocks; beyond this the peer gets an error naming its clock.
pub const MAX_CLOCK_OFFSET_SECS: u64 = 600;

/// Bytes in a token before the ciphertext: version (1), timestamp (8), IV (16).
const HEADER_LEN: usize = 1 + 8 + 16;
/// Bytes of the HMAC-SHA256 tag that ends every token.
const HMAC_LEN: usize = 32;
/// The only Fernet version byte.
const VERSION: u8 = 0x80;
/// The domain-separation label hashed with a key to make its fingerprint. Changing it changes
/// every fingerprint, so it carries a version.
const FINGERPRINT_LABEL: &[u8] = b"fernchat-fingerprint-v1\0";

/// The current time as whole seconds since the Unix epoch, the unit of Fernet timestamps.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        // A clock set before 1970 is wrong; treat it as the epoch rather than panic.
        .unwrap_or(0)
}

/// Why a key could not be made from its text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not URL-safe base64 (a Fernet key looks like `cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=`).
    #[error("the key is not URL-safe base64 text")]
    NotBase64,
    /// It decoded, but a Fernet key is exactly 32 bytes.
    #[error("the key decodes to {len} bytes, but a Fernet key is 32 bytes")]
    WrongLength {
        /// How many bytes it decoded to.
        len: usize,
    },
    /// A [`RoomKey`] needs at least one key.
    #[error("no key was given")]
    Empty,
}

/// Why a token was refused before or during decryption. Says nothing about the key itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not URL-safe base64 at all: garbage, or a different protocol.
    #[error("the frame is not a Fernet token (not URL-safe base64)")]
    NotBase64,
    /// Base64, but too short or of a length no Fernet token can have.
    #[error("the frame is not a Fernet token ({len} bytes after decoding)")]
    BadLength {
        /// Decoded length.
        len: usize,
    },
    /// The first byte is not Fernet's version byte 0x80.
    #[error("the frame is not a Fernet token (version byte {version:#04x}, expected 0x80)")]
    BadVersion {
        /// The version byte found.
        version: u8,
    },
    /// The HMAC did not verify under any key we hold: the token was made with another key,
    /// or altered on the way.
    #[error("the token was not made with this key (fingerprint {expected}), or was altered")]
    WrongKeyOrTampered {
        /// The fingerprint of the key we tried first, for the error message.
        expected: Fingerprint,
    },
}

/// Why an authentic token is refused because of its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessError {
    /// Older than the TTL, after correcting for the peer's clock.
    #[error("the message is {age_secs} s old, older than the {ttl_secs} s allowed")]
    Expired {
        /// Its age in seconds.
        age_secs: u64,
        /// The limit it broke.
        ttl_secs: u64,
    },
    /// From the future by more than [`FUTURE_GRACE_SECS`], after correcting for the peer's clock.
    #[error("the message is stamped {ahead_secs} s in the future")]
    FromFuture {
        /// How far ahead it is, in seconds.
        ahead_secs: u64,
    },
}

/// The peer's clock differs from ours by more than [`MAX_CLOCK_OFFSET_SECS`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the clocks differ by {}: the sender's clock is {} ours, more than the {} minutes allowed; \
     set the computer's clock (enable automatic time) and try again",
    describe_secs(offset_secs.unsigned_abs()),
    if *offset_secs > 0 { "ahead of" } else { "behind" },
    MAX_CLOCK_OFFSET_SECS / 60
)]
pub struct ClockError {
    /// Peer clock minus ours, in seconds.
    pub offset_secs: i64,
}

/// Why the replay guard refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// This exact token was already accepted inside the replay window.
    #[error("this exact message was already received: a replayed token")]
    Replayed,
    /// The guard is at capacity; accepting would mean forgetting tokens that could still be
    /// replayed, so it refuses instead (fail closed).
    #[error("too many messages to remember for replay protection; try again shortly")]
    Full,
    /// Our clock went back to a time for which the guard has already forgotten tokens (it
    /// forgot them when the clock was later), so it cannot tell a replay from a new token;
    /// it refuses until the clock has passed that time again (fail closed).
    #[error(
        "the receiver's clock went back, and replay protection no longer remembers every \
         message from this time; refused until its clock catches up"
    )]
    ClockWentBack,
}

/// A one-way name for a key: the first 8 bytes of SHA-256 over a label and the raw key,
/// shown as four groups of four hex digits (`3F2A-9C01-77D4-B0E8`).
///
/// It identifies a key without revealing it, so it is what keygen, the server, the client
/// and every key-related error show.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    fn of_raw_key(raw: &[u8; 32]) -> Fingerprint {
        let mut hasher = Sha256::new();
        hasher.update(FINGERPRINT_LABEL);
        hasher.update(raw);
        let digest = hasher.finalize();
        let mut short = [0u8; 8];
        short.copy_from_slice(&digest[..8]);
        Fingerprint(short)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pair) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            write!(f, "{:02X}{:02X}", pair[0], pair[1])?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// One Fernet key with its fingerprint and its text form (kept only to write keyfiles).
#[derive(Clone)]
struct KeyEntry {
    fernet: fernet::Fernet,
    fingerprint: Fingerprint,
    secret: Zeroizing<String>,
}

/// The room's key ring: the first key encrypts, every key decrypts.
///
/// `Debug` shows fingerprints only; the secret never appears in logs or panics.
#[derive(Clone)]
pub struct RoomKey {
    keys: Vec<KeyEntry>,
}

impl fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomKey")
            .field("fingerprints", &self.fingerprints())
            .finish()
    }
}

/// A token that verified: its plaintext, its timestamp, and which key opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The decrypted bytes.
    pub plaintext: Vec<u8>,
    /// The sender's clock when it made the token (seconds since the Unix epoch).
    pub timestamp: u64,
    /// Index in the key ring of the key that verified it (0 = the current key).
    pub key_index: usize,
    /// The first 16 bytes of the token's HMAC: unique per token, so the replay guard's key.
    pub replay_id: ReplayId,
}

/// What the replay guard remembers of a token: the first 16 bytes of its HMAC tag.
pub type ReplayId = [u8; 16];

impl RoomKey {
    /// A fresh random key (from the operating system's CSPRNG).
    pub fn generate() -> RoomKey {
        // `Fernet::generate_key` returns padded URL-safe base64 of 32 random bytes.
        let secret = Zeroizing::new(fernet::Fernet::generate_key());
        Self::from_secret(&secret).expect("a freshly generated Fernet key is valid")
    }

    /// The key written as text: URL-safe base64 of 32 bytes, with or without `=` padding,
    /// surrounding whitespace ignored (as Python's `Fernet.generate_key()` writes it).
    pub fn from_secret(text: &str) -> Result<RoomKey, KeyError> {
        let text = text.trim();
        let raw = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| KeyError::NotBase64)?,
        );
        let raw: &[u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength { len: raw.len() })?;
        let canonical = Zeroizing::new(URL_SAFE.encode(raw));
        let fernet = fernet::Fernet::new(&canonical).ok_or(KeyError::NotBase64)?;
        Ok(RoomKey {
            keys: vec![KeyEntry {
                fernet,
                fingerprint: Fingerprint::of_raw_key(raw),
                secret: canonical,
            }],
        })
    }

    /// Combines keys for rotation: the first of `ring` encrypts, all of them decrypt.
    pub fn ring(ring: Vec<RoomKey>) -> Result<RoomKey, KeyError> {
        let keys: Vec<KeyEntry> = ring.into_iter().flat_map(|k| k.keys).collect();
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(RoomKey { keys })
    }

    /// The fingerprint of the key that encrypts.
    pub fn fingerprint(&self) -> Fingerprint {
        self.keys[0].fingerprint
    }

    /// The fingerprints of every key in the ring, the encrypting one first.
    pub fn fingerprints(&self) -> Vec<Fingerprint> {
        self.keys.iter().map(|k| k.fingerprint).collect()
    }

    /// The encrypting key's text form, for writing a keyfile. Never log or print it.
    pub fn expose_secret(&self) -> &str {
        &self.keys[0].secret
    }

    /// How many keys the ring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always `false`: a ring holds at least one key. (For clippy's `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at `index` of the ring (as [`Opened::key_index`] names it) as a ring of its own:
    /// protocol version 2 answers a client under the one key that opened its hello, so that
    /// during a rotation a client holding only the old key is answered under the old key.
    pub fn nth(&self, index: usize) -> Option<RoomKey> {
        let entry = self.keys.get(index)?;
        RoomKey::from_secret(&entry.secret).ok()
    }

    /// The encrypting key's 32 raw bytes, for key derivation (HKDF input). Never log them.
    pub fn raw_secret(&self) -> Zeroizing<[u8; 32]> {
        let mut raw = Zeroizing::new([0u8; 32]);
        // A RoomKey's text is canonical URL-safe base64 of 32 bytes (checked when it was made).
        if let Ok(bytes) = URL_SAFE.decode(self.keys[0].secret.as_bytes())
            && bytes.len() == 32
        {
            raw.copy_from_slice(&bytes);
        }
        raw
    }

    /// A ring of `first` then `then`'s keys, for a receiver that accepts two keys and must know
    /// which one opened a token (index 0 is `first`).
    pub fn with_fallback(first: &RoomKey, then: &RoomKey) -> RoomKey {
        let keys = first.keys.iter().chain(then.keys.iter()).cloned().collect();
        RoomKey { keys }
    }

    /// Encrypts `plaintext` into a token stamped with the current time.
    pub fn encrypt(&self, plaintext: &[u8]) -> String {
        self.encrypt_at(plaintext, unix_now())
    }

    /// Encrypts `plaintext` into a token stamped `timestamp` (tests use this for skewed clocks).
    pub fn encrypt_at(&self, plaintext: &[u8], timestamp: u64) -> String {
        self.keys[0].fernet.encrypt_at_time(plaintext, timestamp)
    }

    /// Verifies a token's HMAC under each key in turn and decrypts it. Judges nothing about
    /// time: see [`TimePolicy`]. Accepts any bytes without panicking.
    pub fn decrypt(&self, token: &[u8]) -> Result<Opened, TokenError> {
        let header = TokenHeader::parse(token)?;
        // Checked in `TokenHeader::parse`: the token is ASCII.
        let text = std::str::from_utf8(token).map_err(|_| TokenError::NotBase64)?;
        // The `fernet` crate checks its own 60 s future limit against the time we pass and
        // computes `time + 60`, so we pass the token's own timestamp (that check then always
        // passes, and parse() refused timestamps where `+ 60` would overflow). Our
        // TimePolicy judges time afterwards, once we know the token is authentic.
        for (key_index, key) in self.keys.iter().enumerate() {
            if let Ok(plaintext) = key.fernet.decrypt_at_time(text, None, header.timestamp) {
                return Ok(Opened {
                    plaintext,
                    timestamp: header.timestamp,
                    key_index,
                    replay_id: header.replay_id,
                });
            }
        }
        Err(TokenError::WrongKeyOrTampered {
            expected: self.fingerprint(),
        })
    }
}

/// The parts of a token readable without a key. Lab 1 ("token anatomy") builds this by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// The sender's clock at creation, seconds since the Unix epoch.
    pub timestamp: u64,
    /// Length of the decoded token in bytes.
    pub decoded_len: usize,
    /// First 16 bytes of the HMAC tag.
    pub replay_id: ReplayId,
}

impl TokenHeader {
    /// Reads the version, timestamp and layout of a token, refusing anything that is not
    /// shaped like one. Does not verify the HMAC.
    pub fn parse(token: &[u8]) -> Result<TokenHeader, TokenError> {
        let trimmed = trim_padding(token);
        let raw = URL_SAFE_NO_PAD
            .decode(trimmed)
            .map_err(|_| TokenError::NotBase64)?;
        let len = raw.len();
        // Smallest token: header, one AES block (the padding of an empty message), HMAC.
        if len < HEADER_LEN + 16 + HMAC_LEN || !(len - HEADER_LEN - HMAC_LEN).is_multiple_of(16) {
            return Err(TokenError::BadLength { len });
        }
        if raw[0] != VERSION {
            return Err(TokenError::BadVersion { version: raw[0] });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&raw[1..9]);
        let timestamp = u64::from_be_bytes(ts);
        let mut replay_id = [0u8; 16];
        replay_id.copy_from_slice(&raw[len - HMAC_LEN..len - HMAC_LEN + 16]);
        if timestamp > u64::MAX - FUTURE_GRACE_SECS {
            // No clock reaches this; refusing here keeps `fernet`'s `time + 60` from
            // overflowing. Reported as a shape error because no real token looks like this.
            return Err(TokenError::BadLength { len });
        }
        Ok(TokenHeader {
            timestamp,
            decoded_len: len,
            replay_id,
        })
    }
}

fn trim_padding(token: &[u8]) -> &[u8] {
    let mut end = token.len();
    while end > 0 && token[end - 1] == b'=' {
        end -= 1;
    }
    &token[..end]
}

/// A peer's clock compared with ours, measured from the first token it sends (its hello).
///
/// Tokens are then judged by the peer's clock rather than ours, so a lab machine whose clock
/// is a few minutes off still works; a machine too far off is told that its clock is the cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerClock {
    /// Peer clock minus ours, in seconds.
    pub offset_secs: i64,
}

impl PeerClock {
    /// Measures the offset from a token just received. Network delay counts as skew, which is
    /// harmless at the scale of seconds.
    pub fn measure(token_timestamp: u64, now: u64) -> Result<PeerClock, ClockError> {
        let offset = i128::from(token_timestamp) - i128::from(now);
        let offset_secs =
            i64::try_from(offset).unwrap_or(if offset > 0 { i64::MAX } else { i64::MIN });
        if offset_secs.unsigned_abs() > MAX_CLOCK_OFFSET_SECS {
            return Err(ClockError { offset_secs });
        }
        Ok(PeerClock { offset_secs })
    }

    /// The token's timestamp translated to our clock.
    fn to_local(self, token_timestamp: u64) -> i128 {
        i128::from(token_timestamp) - i128::from(self.offset_secs)
    }
}

/// When a token is fresh: not older than `ttl_secs`, not more than `future_grace_secs` ahead,
/// both after translating its timestamp to our clock with the peer's [`PeerClock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimePolicy {
    /// Oldest acceptable age in seconds.
    pub ttl_secs: u64,
    /// How far ahead of our clock a token may be stamped.
    pub future_grace_secs: u64,
}

impl Default for TimePolicy {
    fn default() -> Self {
        TimePolicy {
            ttl_secs: DEFAULT_TTL_SECS,
            future_grace_secs: FUTURE_GRACE_SECS,
        }
    }
}

impl TimePolicy {
    /// A policy with the given TTL and the specification's future grace.
    pub fn with_ttl(ttl_secs: u64) -> TimePolicy {
        TimePolicy {
            ttl_secs,
            ..TimePolicy::default()
        }
    }

    /// Judges a token's timestamp at time `now` (our clock) for a peer whose clock is `peer`.
    pub fn check(
        &self,
        token_timestamp: u64,
        now: u64,
        peer: PeerClock,
    ) -> Result<(), FreshnessError> {
        let age = i128::from(now) - peer.to_local(token_timestamp);
        if age > i128::from(self.ttl_secs) {
            return Err(FreshnessError::Expired {
                age_secs: u64::try_from(age).unwrap_or(u64::MAX),
                ttl_secs: self.ttl_secs,
            });
        }
        if -age > i128::from(self.future_grace_secs) {
            return Err(FreshnessError::FromFuture {
                ahead_secs: u64::try_from(-age).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// How long a per-connection replay memory must remember a token: inside one connection
    /// the peer's clock offset is measured once and kept, so a token can pass the policy only
    /// while it is at most the TTL old and at most the grace ahead.
    pub fn connection_window_secs(&self) -> u64 {
        self.ttl_secs.saturating_add(self.future_grace_secs)
    }

    /// How long a replay guard must remember a token so that no replay of it can pass this
    /// policy: a replayer on a new connection may present any clock offset within the limit,
    /// so the window spans the TTL, the grace and the offset allowed on either side.
    pub fn replay_window_secs(&self) -> u64 {
        // Saturating: a policy without expiry (`ttl_secs: u64::MAX`) needs a window of
        // "forever", and a wrapped-around sum would be a short one.
        self.ttl_secs
            .saturating_add(self.future_grace_secs)
            .saturating_add(2 * MAX_CLOCK_OFFSET_SECS)
    }
}

/// Remembers the tokens accepted recently and refuses any that comes again.
///
/// Memory is bounded twice: entries expire after the replay window, and the guard never holds
/// more than `capacity` entries (when full it refuses new tokens rather than forget old ones).
///
/// A token's entry is forgotten once `now` is past its expiry, because by then the token can
/// no longer pass the time policy. That holds only while the clock does not go back: if it
/// steps back (an NTP correction, an administrator) to a time before an expiry already
/// forgotten, the forgotten tokens could pass the policy again. So the guard remembers the
/// latest expiry it has forgotten, and refuses tokens it does not remember while `now` is at or
/// before it ([`ReplayError::ClockWentBack`]); a clock that only moves forward never meets it.
#[derive(Debug)]
pub struct ReplayGuard {
    expires_at: HashMap<ReplayId, u64>,
    /// Insertion order, which is expiry order while the clock moves forward, so pruning looks
    /// only at the front. (If the clock goes back, some entries are kept longer than needed.)
    order: VecDeque<(u64, ReplayId)>,
    /// The latest expiry of an entry forgotten so far.
    forgotten_through: Option<u64>,
    window_secs: u64,
    capacity: usize,
}

impl ReplayGuard {
    /// A guard that remembers tokens for `window_secs`, at most `capacity` at a time.
    pub fn new(window_secs: u64, capacity: usize) -> ReplayGuard {
        ReplayGuard {
            expires_at: HashMap::new(),
            order: VecDeque::new(),
            forgotten_through: None,
            window_secs,
            capacity,
        }
    }

    /// Refuses `id` if it was remembered inside the window (or if the clock went back past
    /// what was forgotten), without remembering it: a receiver calls this before it has
    /// checked the rest of the frame, and [`ReplayGuard::remember`] once the frame is accepted,
    /// so that nothing refused takes memory.
    pub fn check(&mut self, id: ReplayId, now: u64) -> Result<(), ReplayError> {
        self.prune(now);
        if self.expires_at.contains_key(&id) {
            return Err(ReplayError::Replayed);
        }
        if self.forgotten_through.is_some_and(|through| now <= through) {
            return Err(ReplayError::ClockWentBack);
        }
        Ok(())
    }

    /// Remembers `id` (after [`ReplayGuard::check`] passed and the frame was accepted).
    /// Fails closed with [`ReplayError::Full`] when at capacity.
    pub fn remember(&mut self, id: ReplayId, now: u64) -> Result<(), ReplayError> {
        self.check(id, now)?;
        if self.expires_at.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        let expiry = now.saturating_add(self.window_secs);
        self.expires_at.insert(id, expiry);
        self.order.push_back((expiry, id));
        Ok(())
    }

    /// Accepts `id` once: refuses it if seen inside the window, remembers it otherwise.
    /// If `now` goes back to a time the guard has already forgotten tokens for, it refuses
    /// every token it does not remember until `now` passes that time again.
    pub fn check_and_remember(&mut self, id: ReplayId, now: u64) -> Result<(), ReplayError> {
        // `remember` checks first: one frame's check and its remembering, in one call.
        self.remember(id, now)
    }

    /// How many tokens are remembered now.
    pub fn len(&self) -> usize {
        self.expires_at.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.expires_at.is_empty()
    }

    fn prune(&mut self, now: u64) {
        while let Some(&(expiry, id)) = self.order.front() {
            // Kept through its expiry second: the time policy's limits are inclusive, so a
            // replay exactly `window_secs` later can still pass it.
            if expiry >= now {
                break;
            }
            self.order.pop_front();
            self.expires_at.remove(&id);
            self.forgotten_through = Some(self.forgotten_through.map_or(expiry, |f| f.max(expiry)));
        }
    }
}

/// "3 min 20 s" style durations for error messages.
pub fn describe_secs(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min {} s", secs / 60, secs % 60),
        7200..=172_799 => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_four_groups_of_hex() {
        let key = RoomKey::from_secret("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let shown = key.fingerprint().to_string();
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3);
        assert!(shown.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert!(!format!("{key:?}").contains("cw_0x"));
    }

    #[test]
    fn header_refuses_overflowing_timestamps_without_panicking() {
        let key = RoomKey::generate();
        let token = key.encrypt_at(b"x", u64::MAX);
        assert!(matches!(
            key.decrypt(token.as_bytes()),
            Err(TokenError::BadLength { .. })
        ));
        let token = key.encrypt_at(b"x", u64::MAX - FUTURE_GRACE_SECS);
        assert_eq!(key.decrypt(token.as_bytes()).unwrap().plaintext, b"x");
    }

    #[test]
    fn peer_clock_extremes_do_not_overflow() {
        assert!(PeerClock::measure(u64::MAX, 0).is_err());
        assert!(PeerClock::measure(0, u64::MAX).is_err());
        let policy = TimePolicy::default();
        let far = PeerClock {
            offset_secs: i64::MIN,
        };
        assert!(policy.check(u64::MAX, 0, far).is_err());
    }
}
