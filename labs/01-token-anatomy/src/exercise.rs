//! Lab 1: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each function compiles and returns something of the right type but wrong, so that the
//! grader's assertions (not a crash) tell you what is missing. Run the grader with
//! `cargo test -p lab01`.

use crate::{KeyError, KeyHalves, ParseError, Token, VERSION};

/// Takes a token (URL-safe base64 text) apart. Surrounding whitespace is ignored; `=` padding
/// is optional. Checks, in this order: base64, length, version, block alignment.
pub fn parse_token(text: &str) -> Result<Token, ParseError> {
    // TODO(student): decode `text` (HINTS.md, level 2), refuse anything that is not shaped like
    // a token with the right `ParseError`, and cut the bytes into the five fields.
    let _ = text;
    Ok(Token {
        version: VERSION,
        timestamp: 0,
        iv: [0; 16],
        ciphertext: Vec::new(),
        hmac: [0; 32],
    })
}

/// Splits a Fernet key (URL-safe base64 of 32 bytes, padding optional) into its halves.
pub fn split_key(key: &str) -> Result<KeyHalves, KeyError> {
    // TODO(student): decode the key, check it is 32 bytes, and split it: which half signs?
    let _ = key;
    Ok(KeyHalves {
        signing: [0; 16],
        encryption: [0; 16],
    })
}

/// The HMAC-SHA256 the token should carry: over version, timestamp, IV and ciphertext, keyed
/// with the signing half. Equal to `token.hmac` exactly when the token is authentic.
pub fn compute_hmac(signing_key: &[u8; 16], token: &Token) -> [u8; 32] {
    // TODO(student): rebuild the signed bytes from the token's fields (in wire order) and
    // compute HMAC-SHA256 over them with the `hmac` and `sha2` crates.
    let _ = (signing_key, token);
    [0; 32]
}

// ---------------------------------------------------------------------------------------------
// Stretch part (graded apart, no hints; see the README). TODO(stretch)

/// The shortest and the longest plaintext that a token of this size can hold, read without any
/// key. `None` if it is not a token.
pub fn plaintext_len_range(token: &str) -> Option<(usize, usize)> {
    // TODO(stretch)
    let _ = token;
    None
}

/// The same token with its timestamp replaced by `timestamp`, made without the key (the HMAC
/// is left as it was). `None` if it is not a token.
pub fn redate(token: &str, timestamp: u64) -> Option<String> {
    // TODO(stretch)
    let _ = timestamp;
    Some(token.to_owned())
}
