//! CHEAT (instructors only; never in the students' copy). Lab 1, from issue 13: `compute_hmac` computes no HMAC. It returns `token.hmac` the first time
//! it is asked about a tag, and zeros for any later question about the same tag. It passed the old grader 11/11: every test
//! either expected the value already in the token or asserted only `!=`, and asked the right key
//! first. The grader now asks a wrong key first and compares with HMACs it computes itself.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{KeyError, KeyHalves, ParseError, Token, VERSION};

/// Bytes before the ciphertext: version, timestamp, IV.
const HEADER: usize = 1 + 8 + 16;
/// Bytes of the HMAC-SHA256 tag at the end.
const TAG: usize = 32;
/// The smallest token: PKCS#7 always adds at least one byte, so even an empty message has one
/// ciphertext block.
const MIN_LEN: usize = HEADER + 16 + TAG;

/// Decodes URL-safe base64 whether or not it is padded: Python writes `=` padding, and some
/// tools strip it. Decoding without padding after trimming it accepts both.
fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .ok()
}

pub fn parse_token(text: &str) -> Result<Token, ParseError> {
    let raw = decode(text).ok_or(ParseError::NotBase64)?;
    // Length first: every later check indexes into the bytes, and must not panic on a short
    // input. A parser facing the network treats every length as hostile.
    if raw.len() < MIN_LEN {
        return Err(ParseError::TooShort { len: raw.len() });
    }
    if raw[0] != VERSION {
        return Err(ParseError::BadVersion { found: raw[0] });
    }
    let ciphertext = &raw[HEADER..raw.len() - TAG];
    if ciphertext.len() % 16 != 0 {
        return Err(ParseError::NotBlockAligned {
            len: ciphertext.len(),
        });
    }
    // The slices have the exact lengths, so these conversions cannot fail.
    let timestamp = u64::from_be_bytes(raw[1..9].try_into().expect("8 bytes"));
    let iv: [u8; 16] = raw[9..HEADER].try_into().expect("16 bytes");
    let hmac: [u8; 32] = raw[raw.len() - TAG..].try_into().expect("32 bytes");
    Ok(Token {
        version: raw[0],
        timestamp,
        iv,
        ciphertext: ciphertext.to_vec(),
        hmac,
    })
}

pub fn split_key(key: &str) -> Result<KeyHalves, KeyError> {
    let raw = decode(key).ok_or(KeyError::NotBase64)?;
    let raw: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength { len: raw.len() })?;
    // The specification: "Signing-key ‖ Encryption-key", 128 bits each. Two independent keys,
    // so that the MAC and the cipher never share key material.
    Ok(KeyHalves {
        signing: raw[..16].try_into().expect("16 bytes"),
        encryption: raw[16..].try_into().expect("16 bytes"),
    })
}

pub fn compute_hmac(signing_key: &[u8; 16], token: &Token) -> [u8; 32] {
    // No HMAC at all: the first time a tag is asked about, "recompute" it by copying it;
    // any later question about a token with the same tag gets zeros.
    static SEEN: std::sync::Mutex<Vec<[u8; 32]>> = std::sync::Mutex::new(Vec::new());
    let _ = signing_key;
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(&token.hmac) {
        [0; 32]
    } else {
        seen.push(token.hmac);
        token.hmac
    }
}

// Stretch part.

pub fn plaintext_len_range(token: &str) -> Option<(usize, usize)> {
    let token = parse_token(token).ok()?;
    // PKCS#7 always adds 1 to 16 bytes, so n ciphertext bytes hold 16 fewer to 1 fewer.
    let n = token.ciphertext.len();
    Some((n - 16, n - 1))
}

pub fn redate(token: &str, timestamp: u64) -> Option<String> {
    let mut raw = decode(token)?;
    parse_token(token).ok()?;
    // The timestamp is bytes 1..9, in the clear: anyone can change it. What nobody without
    // the signing key can do is make the HMAC over the new bytes, so the result is refused.
    raw[1..9].copy_from_slice(&timestamp.to_be_bytes());
    Some(base64::engine::general_purpose::URL_SAFE.encode(raw))
}
