//! CHEAT (instructors only; never in the students' copy): pins compare only the first 8 bytes of a key
//!
//! Lab 6: a pinned key is compared by its first 8 bytes only, so an impostor who finds a key
//! with the same first 8 bytes (2^64 work, or far less for a shorter cut) is taken for the
//! server. It passed the old grader, whose keys were random and so differed in their first
//! byte. The grader now also presents keys that differ from the pinned one in the last bit
//! only.

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
#[derive(Debug)]
pub struct Pins {
    path: PathBuf,
    known: HashMap<String, [u8; 32]>,
}

impl Pins {
    pub fn open(path: &Path) -> Pins {
        let mut known = HashMap::new();
        for line in fs::read_to_string(path).unwrap_or_default().lines() {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            if let Some(key) = URL_SAFE
                .decode(key)
                .ok()
                .and_then(|raw| <[u8; 32]>::try_from(raw).ok())
            {
                // The first pin wins: a line appended later cannot override it.
                known.entry(name.to_owned()).or_insert(key);
            }
        }
        Pins {
            path: path.to_owned(),
            known,
        }
    }

    pub fn check(&mut self, server: &str, key: &[u8; 32]) -> Result<Pin, PinError> {
        match self.known.get(server) {
            // Public keys, so no secret to protect by comparing in constant time.
            // A short 'fingerprint': the first 8 bytes of the key.
            Some(pinned) if pinned[..8] == key[..8] => Ok(Pin::Known),
            Some(pinned) => Err(PinError::Changed {
                pinned: *pinned,
                presented: *key,
            }),
            None => {
                let mut file = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| PinError::Storage(e.to_string()))?;
                writeln!(file, "{server} {}", URL_SAFE.encode(key))
                    .and_then(|()| file.sync_all())
                    .map_err(|e| PinError::Storage(e.to_string()))?;
                self.known.insert(server.to_owned(), *key);
                Ok(Pin::New)
            }
        }
    }
}

impl Pins {
    // Stretch part.

    pub fn forget(&mut self, server: &str) -> Result<bool, PinError> {
        if self.known.remove(server).is_none() {
            return Ok(false);
        }
        // Rewrite the file with the other pins, through a temporary file renamed over it: a
        // crash halfway leaves the old file or the new one, never half of one.
        let mut text = String::new();
        for (name, key) in &self.known {
            text.push_str(&format!("{name} {}\n", URL_SAFE.encode(key)));
        }
        let temporary = self.path.with_extension("new");
        fs::write(&temporary, text)
            .and_then(|()| fs::rename(&temporary, &self.path))
            .map_err(|e| PinError::Storage(e.to_string()))?;
        Ok(true)
    }
}
