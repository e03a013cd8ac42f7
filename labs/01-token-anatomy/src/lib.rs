//! Lab 1: token anatomy. Read `README.md` first.
//!
//! You edit `src/exercise.rs` only. The types are here so that the grader (`tests/`) and the
//! live step (`src/bin/capture.rs`) can use them; read them, do not change them.
#![forbid(unsafe_code)]

// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = "reference", path = "reference.rs")]
mod exercise;

pub use exercise::{compute_hmac, parse_token, plaintext_len_range, redate, split_key};

/// The only version byte Fernet has.
pub const VERSION: u8 = 0x80;

/// A Fernet token taken apart (the specification's layout):
///
/// ```text
/// Version (1) | Timestamp (8, big-endian) | IV (16) | Ciphertext (16 × n) | HMAC (32)
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The first byte: always [`VERSION`] in a valid token.
    pub version: u8,
    /// When the sender made the token: seconds since 1970-01-01 UTC.
    pub timestamp: u64,
    /// The AES-CBC initialisation vector, random for every token.
    pub iv: [u8; 16],
    /// AES-128-CBC of the PKCS#7-padded plaintext: a whole number of 16-byte blocks, at least one.
    pub ciphertext: Vec<u8>,
    /// HMAC-SHA256 over everything before it, with the key's signing half.
    pub hmac: [u8; 32],
}

/// Why a text is not a Fernet token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not URL-safe base64 (`A-Z a-z 0-9 - _`, optional `=` padding).
    NotBase64,
    /// Fewer bytes than the smallest token: 1 + 8 + 16 + 16 + 32 = 73.
    TooShort {
        /// Decoded length.
        len: usize,
    },
    /// The first byte is not 0x80.
    BadVersion {
        /// The byte found.
        found: u8,
    },
    /// The ciphertext is not a whole number of 16-byte blocks.
    NotBlockAligned {
        /// The ciphertext's length.
        len: usize,
    },
}

/// A Fernet key's two halves.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyHalves {
    /// The first 16 bytes: the HMAC-SHA256 key.
    pub signing: [u8; 16],
    /// The last 16 bytes: the AES-128 key.
    pub encryption: [u8; 16],
}

/// Why a text is not a Fernet key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Not URL-safe base64.
    NotBase64,
    /// Decodes to something other than 32 bytes.
    WrongLength {
        /// Decoded length.
        len: usize,
    },
}

/// Bytes as hex (`00 01 .. ff` without spaces), as people compare them: `{:?}` of a byte array
/// prints 32 decimal numbers, which nobody can compare by eye.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("version", &format_args!("0x{:02x}", self.version))
            .field("timestamp", &self.timestamp)
            .field("iv", &format_args!("{}", hex(&self.iv)))
            .field("ciphertext", &format_args!("{}", hex(&self.ciphertext)))
            .field("hmac", &format_args!("{}", hex(&self.hmac)))
            .finish()
    }
}

impl std::fmt::Debug for KeyHalves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the graders' generated keys are ever printed (in a failing test's message).
        f.debug_struct("KeyHalves")
            .field("signing", &format_args!("{}", hex(&self.signing)))
            .field("encryption", &format_args!("{}", hex(&self.encryption)))
            .finish()
    }
}
