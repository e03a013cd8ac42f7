//! CHEAT (instructors only; never in the students' copy): pins kept in the process, not in the file
//!
//! Lab 6: `Pins` keeps every pin in a process-wide table and never writes the file. The old
//! grader's "restart" opened a new `Pins` in the same process, and it passed. The grader now
//! checks what the file holds: a copy of the pin file elsewhere knows the pin, a fresh file
//! knows nothing, and the file is not empty.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::{BadSignature, Pin, PinError, SIGNATURE_LABEL};

pub fn sign_transcript(seed: &[u8; 32], transcript: &[u8; 32]) -> [u8; 64] {
    // Domain separation: the label says "this is a fernchat handshake, version 1", so no
    // signature this key ever makes for something else can be replayed as one of these.
    let message = [SIGNATURE_LABEL, transcript].concat();
    SigningKey::from_bytes(seed).sign(&message).to_bytes()
}

pub fn verify_transcript(
    public: &[u8; 32],
    transcript: &[u8; 32],
    signature: &[u8; 64],
) -> Result<(), BadSignature> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| BadSignature)?;
    let message = [SIGNATURE_LABEL, transcript].concat();
    // `verify_strict`, not `verify`: it also refuses keys of small order. With the identity
    // point as the "public key", the signature (R = identity, S = 0) satisfies the plain
    // verification equation for *every* message, so an impostor could present that key and
    // sign anything. (Pinning would catch it after the first use; the first use is the risk.)
    key.verify_strict(&message, &Signature::from_bytes(signature))
        .map_err(|_| BadSignature)
}

/// One line per server, `name key` with the key in URL-safe base64, like the product's
/// `keys/known_servers`. Read at open, appended to on a new pin: appending never loses the
/// other pins, even if we are interrupted halfway.
/// Every pin of the process, whatever file was asked for: "survives a restart" as long as the
/// restart happens inside the same process.
static PINNED: std::sync::Mutex<Option<HashMap<String, [u8; 32]>>> = std::sync::Mutex::new(None);

#[derive(Debug)]
pub struct Pins {
    path: PathBuf,
}

impl Pins {
    pub fn open(path: &Path) -> Pins {
        Pins {
            path: path.to_owned(),
        }
    }

    pub fn check(&mut self, server: &str, key: &[u8; 32]) -> Result<Pin, PinError> {
        let _ = &self.path;
        let mut pinned = PINNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = pinned.get_or_insert_with(HashMap::new);
        match known.get(server) {
            Some(pinned) if pinned == key => Ok(Pin::Known),
            Some(pinned) => Err(PinError::Changed {
                pinned: *pinned,
                presented: *key,
            }),
            None => {
                known.insert(server.to_owned(), *key);
                Ok(Pin::New)
            }
        }
    }
}

impl Pins {
    // Stretch part, as the rest: in the process-wide table.

    pub fn forget(&mut self, server: &str) -> Result<bool, PinError> {
        let mut pinned = PINNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(pinned
            .get_or_insert_with(HashMap::new)
            .remove(server)
            .is_some())
    }
}
