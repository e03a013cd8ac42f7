//! Lab 6: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! Each function compiles and gives a wrong answer of the right type, so that the grader's
//! assertions tell you what is missing. Run the grader with `cargo test -p lab06`.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey};

use crate::{BadSignature, Pin, PinError};

/// The server's signature over a handshake: Ed25519 with the identity key whose 32-byte
/// secret seed is `seed`, over `SIGNATURE_LABEL || transcript`.
pub fn sign_transcript(seed: &[u8; 32], transcript: &[u8; 32]) -> [u8; 64] {
    // TODO(student): sign what the protocol says, label first. A signature over the bare
    // transcript could be confused with a signature the same key made for another purpose.
    SigningKey::from_bytes(seed).sign(transcript).to_bytes()
}

/// Checks the server's signature over a transcript with its public key. Refuse anything that
/// is not a valid, canonical signature by a sound key over exactly `SIGNATURE_LABEL || transcript`.
pub fn verify_transcript(
    public: &[u8; 32],
    transcript: &[u8; 32],
    signature: &[u8; 64],
) -> Result<(), BadSignature> {
    // TODO(student): `ed25519_dalek::VerifyingKey`; think about which of its verify methods
    // refuses weak keys.
    let _ = (public, transcript, signature);
    Ok(())
}

/// Trust on first use: the identity key each server showed the first time, kept in a file so
/// that it survives the client's restart.
#[derive(Debug)]
pub struct Pins {
    path: PathBuf,
    // TODO(student): whatever you need.
}

impl Pins {
    /// The pins kept in the file `path` (which may not exist yet).
    pub fn open(path: &Path) -> Pins {
        Pins {
            path: path.to_owned(),
        }
    }

    /// Pins `key` for `server` on first use; afterwards accepts that key only.
    pub fn check(&mut self, server: &str, key: &[u8; 32]) -> Result<Pin, PinError> {
        // TODO(student): remember, in the file, and compare. This starter trusts every key
        // every time: each connection is a "first use".
        let _ = (&self.path, server, key);
        Ok(Pin::New)
    }

    // -----------------------------------------------------------------------------------------
    // Stretch part (graded apart, no hints; see the README). TODO(stretch)

    /// Forgets the pin of `server` (its key really changed, and the change was confirmed out
    /// of band), in the file too: the next key it shows is pinned anew. `Ok(false)` if there
    /// was no pin.
    pub fn forget(&mut self, server: &str) -> Result<bool, PinError> {
        // TODO(stretch)
        let _ = server;
        Ok(false)
    }
}
