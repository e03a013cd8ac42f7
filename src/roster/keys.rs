//! The roster secret, each student's key derived from it, and the server's lookup of which
//! student a hello comes from.
//!
//! # Construction
//!
//! The class has one **roster secret**: 32 random bytes that only the server holds, in a file
//! of the keyfile format (`keys/roster.secret`, mode 0600; it may be sealed under a passphrase
//! like any keyfile). A student's key is
//!
//! ```text
//! okm = HKDF-SHA256(ikm  = roster secret (32 bytes),
//!                   salt = "fernchat roster v1",
//!                   info = lower-case login || 0x00 || generation in decimal ASCII,
//!                   length = 32)
//! key = urlsafe_b64encode(okm)          # an ordinary Fernet key
//! ```
//!
//! so the key of `alice`, generation 2, has `info = b"alice\x002"`. Why this way:
//!
//! - The server needs no table of keys: the roster and the secret give every key again, and
//!   `keygen --roster` can be run again at any time and writes the same files.
//! - A student's keyfile is a normal Fernet key in the normal keyfile format, so a student's own
//!   Python client (PROTOCOL.md) works with it unchanged.
//! - HKDF's outputs for different `info` are independent: holding your own key (or a whole
//!   class's keys) tells nothing about another student's key or about the secret.
//! - The generation is part of `info`, so a lost keyfile is replaced by raising one student's
//!   generation: that student's key changes, nobody else's does. The `0x00` separates login
//!   from number (a login never contains it), so no two (login, generation) pairs share `info`.
//!
//! In Python (`cryptography`), for checking a keyfile by hand:
//!
//! ```python
//! from cryptography.hazmat.primitives.kdf.hkdf import HKDF
//! from cryptography.hazmat.primitives import hashes
//! okm = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fernchat roster v1",
//!            info=b"alice" + b"\x00" + b"2").derive(secret)
//! key = base64.urlsafe_b64encode(okm)
//! ```
//!
//! # Lookup
//!
//! A hello is sealed with the student's key, and nothing in a Fernet token says which key made
//! it, so the server tries each roster key. To make that cheap, [`Keyring`] keeps for each key
//! the HMAC-SHA256 state already keyed with the key's signing half; trying a key is one clone of
//! that state, hashing the token once and a constant-time comparison of the tag. Only the key
//! whose tag matched decrypts. Revoked and replaced keys are tried too (after the live ones), so
//! the server can say "this key was revoked" instead of "wrong key".
//!
//! How long a lookup takes depends on where the matching key is in the roster; that tells the
//! holder of a valid key only where they are in the list, and a token made with no roster key
//! always costs the full list.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{Entry, Roster, Withdrawal};
use crate::crypto::{Fingerprint, Opened, RoomKey, TokenError, TokenHeader};
use crate::keyfile::{self, KeyfileError, KeyfileWarning, Overwrite, write_secret_file};

/// Where `keygen --roster` writes the roster secret and `server --roster` reads it by default.
pub const DEFAULT_SECRET_PATH: &str = "keys/roster.secret";

/// HKDF's salt for student keys: names the construction and its version.
pub const KDF_SALT: &[u8] = b"fernchat roster v1";

/// Bytes of the HMAC-SHA256 tag that ends every Fernet token.
const TAG_LEN: usize = 32;

/// The class's roster secret: every student's key is derived from it. Only the server holds it.
///
/// `Debug` shows the fingerprint only.
pub struct RosterSecret {
    /// The secret as a key, for its fingerprint and for writing its file.
    key: RoomKey,
    raw: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for RosterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RosterSecret({})", self.fingerprint())
    }
}

impl RosterSecret {
    /// A fresh random secret (from the operating system's CSPRNG).
    pub fn generate() -> RosterSecret {
        RosterSecret::from_key(RoomKey::generate())
    }

    /// The secret written as text: URL-safe base64 of 32 bytes (the same text form as a key).
    pub fn from_secret(text: &str) -> Result<RosterSecret, crate::crypto::KeyError> {
        RoomKey::from_secret(text).map(RosterSecret::from_key)
    }

    fn from_key(key: RoomKey) -> RosterSecret {
        let mut raw = Zeroizing::new([0u8; 32]);
        let decoded = Zeroizing::new(
            URL_SAFE
                .decode(key.expose_secret())
                .expect("a RoomKey's text form is base64 of 32 bytes"),
        );
        raw.copy_from_slice(&decoded);
        RosterSecret { key, raw }
    }

    /// Reads the secret from its file (plain or sealed; `passphrase` is asked only if sealed).
    pub fn load(
        path: &Path,
        passphrase: &mut dyn FnMut(&Path) -> Result<Zeroizing<String>, KeyfileError>,
    ) -> Result<(RosterSecret, Vec<KeyfileWarning>), KeyfileError> {
        let loaded = keyfile::load(path, passphrase)?;
        Ok((RosterSecret::from_key(loaded.key), loaded.warnings))
    }

    /// Writes the secret to a new file (never replaces one), mode 0600 on Unix, creating
    /// missing parent folders.
    pub fn create(&self, path: &Path) -> Result<(), KeyfileError> {
        let body = format!(
            "# fernchat roster secret: every student's key is derived from it.\n\
             # Only the server holds it. Never hand it out or put it in the students' folder:\n\
             # whoever holds it can make any student's key.\n\
             {}{}\n",
            created_and_fingerprint(&self.key),
            self.key.expose_secret()
        );
        write_secret_file(path, &body, Overwrite::Never)
    }

    /// The secret's fingerprint (safe to show).
    pub fn fingerprint(&self) -> Fingerprint {
        self.key.fingerprint()
    }

    /// The key of `login` (any case) at `generation`: see the module documentation.
    pub fn student_key(&self, login: &str, generation: u32) -> RoomKey {
        self.key_and_mac(login, generation).0
    }

    /// The server's own key in roster mode: it seals the room's history file (so the history
    /// survives restarts) and is never given to anyone. Derived like a student's key with
    /// `info = 0x00 || "server"`, which no login can produce (logins start with a letter).
    pub fn server_key(&self) -> RoomKey {
        let raw = self.expand(b"\0server");
        let text = Zeroizing::new(URL_SAFE.encode(raw.as_slice()));
        RoomKey::from_secret(&text).expect("32 bytes always make a Fernet key")
    }

    fn derive(&self, login: &str, generation: u32) -> Zeroizing<[u8; 32]> {
        let mut info = login.to_ascii_lowercase().into_bytes();
        info.push(0);
        info.extend_from_slice(generation.to_string().as_bytes());
        self.expand(&info)
    }

    fn expand(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(KDF_SALT), self.raw.as_slice())
            .expand(info, okm.as_mut_slice())
            .expect("32 bytes is far below HKDF-SHA256's limit");
        okm
    }

    /// A student's key, and its HMAC state keyed with the key's signing half (the first 16
    /// bytes), which the lookup clones for each try.
    fn key_and_mac(&self, login: &str, generation: u32) -> (RoomKey, Hmac<Sha256>) {
        let raw = self.derive(login, generation);
        let text = Zeroizing::new(URL_SAFE.encode(raw.as_slice()));
        let key = RoomKey::from_secret(&text).expect("32 bytes always make a Fernet key");
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&raw[..16])
            .expect("HMAC takes a key of any length");
        (key, mac)
    }
}

/// `# created: ...` and `# fingerprint: ...` lines, as keyfiles start.
pub(crate) fn created_and_fingerprint(key: &RoomKey) -> String {
    format!(
        "# created: {}\n# fingerprint: {}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        key.fingerprint()
    )
}

/// One key the lookup tries.
struct Candidate {
    /// HMAC-SHA256 keyed with the key's signing half, cloned for each try. (Like the `fernet`
    /// crate's own state, it is not wiped when dropped.)
    mac: Hmac<Sha256>,
    /// Index of the entry in the roster.
    entry: usize,
    generation: u32,
    /// The key's fingerprint, for messages about a refused key.
    fingerprint: Fingerprint,
    /// A refused key itself: the server seals its refusal with it, so that its holder can
    /// read why. (Live keys are in [`Keyring::keys`].)
    refused_key: Option<RoomKey>,
    /// `None` for a live key; otherwise why it is refused.
    refused: Option<Withdrawal>,
}

/// The server's view of a roster: every student's key, ready to be looked up from a hello.
pub struct Keyring {
    roster: Roster,
    /// Live keys first (one per student), then refused ones (revoked students, and each
    /// student's previous generation), so an accepted hello stops early.
    candidates: Vec<Candidate>,
    /// The live students' keys, by roster index, for decrypting the hello that matched.
    keys: Vec<Option<RoomKey>>,
    /// Class keys accepted alongside the roster (`--allow-class-key`): guests.
    guests: Option<RoomKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("students", &self.roster.entries().len())
            .field("keys_tried", &self.candidates.len())
            .field("guests", &self.guests)
            .finish()
    }
}

/// Who a hello comes from, according to the key that opened it.
#[derive(Debug)]
pub enum Identified<'k> {
    /// A student on the roster, with a live key.
    Student {
        /// The student's roster line.
        entry: &'k Entry,
        /// The student's key (the hello's K).
        key: &'k RoomKey,
        /// The hello, opened.
        opened: Opened,
    },
    /// A class key allowed alongside the roster opened it: a guest.
    Guest {
        /// The hello, opened (`key_index` says which class key).
        opened: Opened,
    },
    /// A roster key that is no longer accepted. The token is not decrypted.
    Refused {
        /// The student it belongs to.
        entry: &'k Entry,
        /// The key's generation.
        generation: u32,
        /// The key's fingerprint (safe to show).
        fingerprint: Fingerprint,
        /// The refused key: the server seals its refusal with it.
        key: &'k RoomKey,
        /// Why it is refused (revoked, or replaced by a newer generation).
        why: Withdrawal,
    },
    /// No roster key and no class key opened it.
    Unknown,
}

impl Keyring {
    /// Derives every key of `roster` from `secret`. `guests`, if given, are class keys accepted
    /// alongside the roster.
    pub fn new(roster: Roster, secret: &RosterSecret, guests: Option<RoomKey>) -> Keyring {
        let mut live = Vec::new();
        let mut refused = Vec::new();
        let mut keys = Vec::with_capacity(roster.entries().len());
        for (index, entry) in roster.entries().iter().enumerate() {
            let (key, mac) = secret.key_and_mac(&entry.login, entry.generation);
            let current = Candidate {
                mac,
                entry: index,
                generation: entry.generation,
                fingerprint: key.fingerprint(),
                refused_key: entry.revoked.then(|| key.clone()),
                refused: entry.revoked.then_some(Withdrawal::Revoked),
            };
            if entry.revoked {
                refused.push(current);
                keys.push(None);
            } else {
                live.push(current);
                keys.push(Some(key));
            }
            // The key this one replaced is the one most likely still in circulation (the
            // lost keyfile); older ones are simply unknown.
            if entry.generation > 1 {
                let (key, mac) = secret.key_and_mac(&entry.login, entry.generation - 1);
                refused.push(Candidate {
                    mac,
                    entry: index,
                    generation: entry.generation - 1,
                    fingerprint: key.fingerprint(),
                    refused_key: Some(key),
                    refused: Some(if entry.revoked {
                        Withdrawal::Revoked
                    } else {
                        Withdrawal::Replaced {
                            generation: entry.generation,
                        }
                    }),
                });
            }
        }
        live.append(&mut refused);
        Keyring {
            roster,
            candidates: live,
            keys,
            guests,
        }
    }

    /// The roster this keyring was made from.
    pub fn roster(&self) -> &Roster {
        &self.roster
    }

    /// How many keys a hello may be tried against (live, refused and class keys).
    pub fn keys_tried(&self) -> usize {
        self.candidates.len() + self.guests.as_ref().map_or(0, |g| g.fingerprints().len())
    }

    /// The class keys allowed for guests, if any.
    pub fn guests(&self) -> Option<&RoomKey> {
        self.guests.as_ref()
    }

    /// Finds which key opens `token` (a hello). Errors only for a frame that is not shaped
    /// like a Fernet token; a token no key opens is [`Identified::Unknown`]. Judges nothing
    /// about time (see [`crate::crypto::TimePolicy`]). Accepts any bytes without panicking.
    pub fn identify(&self, token: &[u8]) -> Result<Identified<'_>, TokenError> {
        TokenHeader::parse(token)?;
        let trimmed = token
            .iter()
            .rposition(|&b| b != b'=')
            .map_or(&token[..0], |last| &token[..=last]);
        let raw = URL_SAFE_NO_PAD
            .decode(trimmed)
            .map_err(|_| TokenError::NotBase64)?;
        // The header parse checked the length: at least a header, a block and the tag.
        let (signed, tag) = raw.split_at(raw.len() - TAG_LEN);
        for candidate in &self.candidates {
            let mut mac = candidate.mac.clone();
            mac.update(signed);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(tag).is_err() {
                continue;
            }
            let entry = &self.roster.entries()[candidate.entry];
            if let (Some(why), Some(key)) = (candidate.refused, &candidate.refused_key) {
                return Ok(Identified::Refused {
                    entry,
                    generation: candidate.generation,
                    fingerprint: candidate.fingerprint,
                    key,
                    why,
                });
            }
            let Some(key) = self.keys[candidate.entry].as_ref() else {
                // Live candidates always have a key; treat a mismatch as not found.
                return Ok(Identified::Unknown);
            };
            let opened = key.decrypt(token)?;
            return Ok(Identified::Student { entry, key, opened });
        }
        if let Some(guests) = &self.guests
            && let Ok(opened) = guests.decrypt(token)
        {
            return Ok(Identified::Guest { opened });
        }
        Ok(Identified::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The secret bytes 0, 1, ..., 31, as Python writes them.
    const TEST_SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// Known answers computed with Python's `cryptography` (HKDF, SHA256, length 32,
    /// salt b"fernchat roster v1", info = login + b"\x00" + str(generation)), urlsafe base64.
    #[test]
    fn student_keys_match_pythons_hkdf() {
        let secret = RosterSecret::from_secret(TEST_SECRET).unwrap();
        let cases = [
            ("alice", 1, "VepT8Ar7dVEzjBpp1wAfHr3cZ3rJZt6X4Nli1w22zTc="),
            ("Alice", 1, "VepT8Ar7dVEzjBpp1wAfHr3cZ3rJZt6X4Nli1w22zTc="),
            ("alice", 2, "4qyI6K9V5EM1gvuaD7MQjceLlCPi534o-tcdtb0NSI4="),
            ("bob_2", 7, "rodXPOTAhtmPuq7-sZ6tClk7VU5dpua1biWd0JG3Fnc="),
        ];
        for (login, generation, expected) in cases {
            let key = secret.student_key(login, generation);
            assert_eq!(key.expose_secret(), expected, "{login} {generation}");
        }
    }

    fn keyring(text: &str, guests: Option<RoomKey>) -> (Keyring, RosterSecret) {
        let secret = RosterSecret::generate();
        let roster = Roster::parse(Path::new("roster.txt"), text).unwrap();
        (Keyring::new(roster, &secret, guests), secret)
    }

    #[test]
    fn the_lookup_names_the_student_and_refuses_revoked_and_replaced_keys() {
        let class = RoomKey::generate();
        let (ring, secret) = keyring("alice\nbob 3 ta\n-carol 2\n", Some(class.clone()));

        let hello = secret.student_key("bob", 3).encrypt(b"hi from bob");
        match ring.identify(hello.as_bytes()).unwrap() {
            Identified::Student { entry, opened, .. } => {
                assert_eq!(entry.login, "bob");
                assert_eq!(opened.plaintext, b"hi from bob");
            }
            other => panic!("{other:?}"),
        }
        let old = secret.student_key("bob", 2).encrypt(b"x");
        assert!(matches!(
            ring.identify(old.as_bytes()).unwrap(),
            Identified::Refused {
                generation: 2,
                why: Withdrawal::Replaced { generation: 3 },
                ..
            }
        ));
        for generation in [1, 2] {
            let revoked = secret.student_key("carol", generation).encrypt(b"x");
            assert!(matches!(
                ring.identify(revoked.as_bytes()).unwrap(),
                Identified::Refused {
                    why: Withdrawal::Revoked,
                    ..
                }
            ));
        }
        let guest = class.encrypt(b"guest");
        assert!(matches!(
            ring.identify(guest.as_bytes()).unwrap(),
            Identified::Guest { .. }
        ));
        let stranger = RoomKey::generate().encrypt(b"x");
        assert!(matches!(
            ring.identify(stranger.as_bytes()).unwrap(),
            Identified::Unknown
        ));
        // Another class's secret gives other keys for the same logins.
        let other = RosterSecret::generate()
            .student_key("alice", 1)
            .encrypt(b"x");
        assert!(matches!(
            ring.identify(other.as_bytes()).unwrap(),
            Identified::Unknown
        ));
        assert!(ring.identify(b"not a token").is_err());
        assert!(ring.identify(b"").is_err());
    }

    #[test]
    fn without_guests_a_class_key_is_unknown() {
        let (ring, _) = keyring("alice\n", None);
        let hello = RoomKey::generate().encrypt(b"x");
        assert!(matches!(
            ring.identify(hello.as_bytes()).unwrap(),
            Identified::Unknown
        ));
    }

    #[test]
    fn a_tampered_student_token_is_unknown() {
        let (ring, secret) = keyring("alice\n", None);
        let mut hello = secret
            .student_key("alice", 1)
            .encrypt(b"hello")
            .into_bytes();
        let i = hello.len() / 2;
        hello[i] = if hello[i] == b'A' { b'B' } else { b'A' };
        assert!(matches!(
            ring.identify(&hello),
            Ok(Identified::Unknown) | Err(_)
        ));
    }
}
