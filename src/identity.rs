//! The server's identity: a long-term Ed25519 key pair that signs the `x25519-psk-signed`
//! handshake (lab 6, PROTOCOL.md section 7), and the file that keeps its secret half.
//!
//! The class key is shared by every student, so it can prove that a peer is *in the class*,
//! never *which* peer it is. The identity key is held by the server alone: a signature with it
//! over the handshake transcript (which contains the client's fresh public key) proves that
//! this very handshake was answered by that server, now. Clients pin the public half on first
//! use (`crate::client::pins`).
//!
//! This module owns the key types, their fingerprints and the identity file's format. It must
//! not know about sockets or the handshake's wire fields (`crate::kex` and the server do).
//!
//! The file: `#` comment lines, then the 32-byte Ed25519 secret seed as URL-safe base64 on one
//! line, mode 0600 on Unix (like a keyfile). It is never sealed: the server must start unattended.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::kex::{Nonce, Transcript, refusal_to_be_signed};

/// Where the server keeps its identity by default: next to the default class key.
pub const DEFAULT_IDENTITY_PATH: &str = "keys/server.identity";

/// An identity file is a few comment lines and one key line; anything larger is refused
/// unread (the same bound as a keyfile's).
const MAX_IDENTITY_FILE: u64 = 64 * 1024;

/// The label hashed before an identity key for its fingerprint: not the class key's label, so
/// the two kinds of fingerprint can never be confused for one another.
const FINGERPRINT_LABEL: &[u8] = b"fernchat-identity-v1\0";

/// Why an identity key, signature or file is unusable. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The key or signature is not URL-safe base64 of the right length.
    #[error("the {what} is not {len} bytes of URL-safe base64")]
    Malformed {
        /// `identity key` or `signature`.
        what: &'static str,
        /// The length it should decode to.
        len: usize,
    },
    /// The bytes are not a valid Ed25519 public key (or a weak, small-order one).
    #[error("the identity key is not a valid Ed25519 public key")]
    InvalidKey,
    /// The signature does not verify for this transcript under this key.
    #[error(
        "the server's signature over this handshake does not verify: it was not made for this \
         session by the holder of identity key {0}"
    )]
    BadSignature(IdentityFingerprint),
    /// The identity file does not exist.
    #[error("{}: no such identity file", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The identity file exists but holds no usable key.
    #[error("{}: not a fernchat identity file ({detail})", path.display())]
    BadFile {
        /// The path.
        path: PathBuf,
        /// What is wrong, without the secret.
        detail: String,
    },
    /// The file is not safe to use: a symbolic link, another user's, or open to others.
    #[error(
        "{}: refusing this server identity file: {source}. Whoever can change it can make \
         this server sign as them, and whoever can read it can pose as this server",
        path.display()
    )]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong, and the fix.
        source: io::Error,
    },
    /// Larger than any identity file.
    #[error("{}: {len} bytes is too large for a server identity file", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// How many bytes were read before stopping.
        len: u64,
    },
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// An identity's public key: 32 bytes, URL-safe base64 with `=` on the wire (`kex_identity`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityKey(pub [u8; 32]);

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", self.fingerprint())
    }
}

impl IdentityKey {
    /// The JSON form.
    pub fn to_wire(&self) -> String {
        URL_SAFE.encode(self.0)
    }

    /// Reads the JSON form (padding optional).
    pub fn from_wire(text: &str) -> Result<IdentityKey, IdentityError> {
        decode_fixed::<32>(text, "identity key").map(IdentityKey)
    }

    /// The name people compare: see [`IdentityFingerprint`].
    pub fn fingerprint(&self) -> IdentityFingerprint {
        let digest = Sha256::new()
            .chain_update(FINGERPRINT_LABEL)
            .chain_update(self.0)
            .finalize();
        let mut short = [0u8; 16];
        short.copy_from_slice(&digest[..16]);
        IdentityFingerprint(short)
    }

    /// Checks `signature` (as it travels) over `transcript`. Uses `verify_strict`, which also
    /// refuses small-order keys and non-canonical signatures: a signature must name one
    /// message and one key, with no second valid form an attacker could make from it.
    pub fn verify(&self, transcript: &Transcript, signature: &str) -> Result<(), IdentityError> {
        let raw = decode_fixed::<64>(signature, "signature")?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| IdentityError::InvalidKey)?;
        key.verify_strict(&transcript.to_be_signed(), &Signature::from_bytes(&raw))
            .map_err(|_| IdentityError::BadSignature(self.fingerprint()))
    }

    /// Checks the signature of a refusal (see [`crate::kex::refusal_to_be_signed`]).
    pub fn verify_refusal(
        &self,
        client: &Nonce,
        code: &str,
        message: &str,
        signature: &str,
    ) -> Result<(), IdentityError> {
        let raw = decode_fixed::<64>(signature, "signature")?;
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| IdentityError::InvalidKey)?;
        key.verify_strict(
            &refusal_to_be_signed(client, code, message),
            &Signature::from_bytes(&raw),
        )
        .map_err(|_| IdentityError::BadSignature(self.fingerprint()))
    }
}

/// The first 16 bytes of `SHA-256("fernchat-identity-v1\0" || public key)`, in upper-case hex
/// groups of four: `3F2A-9C01-77D4-B0E8-0A1B-2C3D-4E5F-6071`. Twice as long as a class key's
/// fingerprint: this one is what a student checks against the instructor's to detect an
/// impostor, so finding a second key with the same fingerprint must be out of reach.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdentityFingerprint([u8; 16]);

impl fmt::Display for IdentityFingerprint {
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

impl fmt::Debug for IdentityFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityFingerprint({self})")
    }
}

/// The server's identity key pair. `Debug` shows the fingerprint only; the secret is wiped
/// from memory when dropped (`ed25519-dalek`'s `zeroize` feature).
#[derive(Clone)]
pub struct ServerIdentity {
    signing: SigningKey,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerIdentity({})", self.public().fingerprint())
    }
}

impl ServerIdentity {
    /// A fresh identity from the operating system's generator.
    pub fn generate() -> ServerIdentity {
        ServerIdentity::from_rng(&mut OsRng)
    }

    /// A fresh identity from `rng` (tests inject a seeded one).
    pub fn from_rng<R: RngCore + CryptoRng>(rng: &mut R) -> ServerIdentity {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        ServerIdentity::from_seed(&seed)
    }

    /// The identity whose 32-byte secret seed is `seed` (RFC 8032 test vectors).
    pub fn from_seed(seed: &[u8; 32]) -> ServerIdentity {
        ServerIdentity {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The public half, for the `welcome` and for pinning.
    pub fn public(&self) -> IdentityKey {
        IdentityKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs a handshake transcript: `Ed25519(SIGNATURE_LABEL || T)`, as it travels.
    pub fn sign(&self, transcript: &Transcript) -> String {
        self.sign_bytes(&transcript.to_be_signed())
    }

    /// Signs the refusal of an `x25519-psk-signed` hello (see
    /// [`crate::kex::refusal_to_be_signed`]), as it travels.
    pub fn sign_refusal(&self, client: &Nonce, code: &str, message: &str) -> String {
        self.sign_bytes(&refusal_to_be_signed(client, code, message))
    }

    fn sign_bytes(&self, message: &[u8]) -> String {
        URL_SAFE.encode(self.signing.sign(message).to_bytes())
    }

    /// Reads an identity file, with the rules of a secret key file (issue 12 item 7): not a
    /// symbolic link, ours, readable and writable by us only (on Unix), and small. A planted
    /// `server.identity` in a shared folder would otherwise let its planter sign as the server.
    pub fn load(path: &Path) -> Result<ServerIdentity, IdentityError> {
        use crate::private_file::{Others, is_refusal, open_checked};
        let mut read = fs::OpenOptions::new();
        read.read(true);
        let file = match open_checked(path, read, Others::NoAccess) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IdentityError::NotFound {
                    path: path.to_owned(),
                });
            }
            Err(source) if is_refusal(&source) => {
                return Err(IdentityError::Unsafe {
                    path: path.to_owned(),
                    source,
                });
            }
            Err(source) => {
                return Err(IdentityError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_IDENTITY_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|source| IdentityError::Io {
                path: path.to_owned(),
                source,
            })?;
        if text.len() as u64 > MAX_IDENTITY_FILE {
            return Err(IdentityError::TooLarge {
                path: path.to_owned(),
                len: text.len() as u64,
            });
        }
        let bad = |detail: &str| IdentityError::BadFile {
            path: path.to_owned(),
            detail: detail.to_owned(),
        };
        let mut lines = text
            .lines()
            .map(|l| l.trim_start_matches('\u{feff}').trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let line = lines.next().ok_or_else(|| bad("no key line"))?;
        if lines.next().is_some() {
            return Err(bad("more than one key line"));
        }
        let seed = Zeroizing::new(
            decode_fixed::<32>(line, "identity key")
                .map_err(|_| bad("the key line is not 32 bytes of URL-safe base64"))?,
        );
        Ok(ServerIdentity::from_seed(&seed))
    }

    /// Writes this identity to a new file (mode 0600 on Unix); never replaces an existing one,
    /// because clients have pinned the key it holds.
    pub fn create(&self, path: &Path) -> Result<(), IdentityError> {
        let io_err = |source| IdentityError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        let seed = Zeroizing::new(URL_SAFE.encode(self.signing.to_bytes()));
        let body = Zeroizing::new(format!(
            "# fernchat server identity (Ed25519). Keep it on the server only: whoever holds it\n\
             # can pose as this server. Students never need it; they pin its fingerprint.\n\
             # created {}; fingerprint {}\n{}\n",
            chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            self.public().fingerprint(),
            *seed
        ));
        let mut file = crate::private_file::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err)?;
        file.write_all(body.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)
    }

    /// Loads `path`, or creates a new identity there if there is no file yet. The `bool` says
    /// whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(ServerIdentity, bool), IdentityError> {
        match ServerIdentity::load(path) {
            Ok(identity) => Ok((identity, false)),
            Err(IdentityError::NotFound { .. }) => {
                let identity = ServerIdentity::generate();
                identity.create(path)?;
                Ok((identity, true))
            }
            Err(other) => Err(other),
        }
    }
}

fn decode_fixed<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], IdentityError> {
    let malformed = || IdentityError::Malformed { what, len: N };
    let raw = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|_| malformed())?;
    raw.as_slice().try_into().map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kex::PublicShare;

    fn hex<const N: usize>(text: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// RFC 8032 section 7.1, test 1: the empty message. Checks that the crate is Ed25519
    /// exactly, before we rely on it for anything of ours.
    #[test]
    fn rfc8032_test_1() {
        let identity = ServerIdentity::from_seed(&hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        assert_eq!(
            identity.public().0,
            hex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let signature = identity.signing.sign(b"").to_bytes();
        assert_eq!(
            signature,
            hex::<64>(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
    }

    fn transcript(seed: u8) -> Transcript {
        Transcript::new(
            crate::kex::KEX_X25519_PSK_SIGNED,
            "alice",
            &PublicShare([seed; 32]),
            &PublicShare([2; 32]),
            Some(&[3; 32]),
        )
    }

    #[test]
    fn a_signature_verifies_for_its_transcript_and_key_only() {
        let identity = ServerIdentity::generate();
        let other = ServerIdentity::generate();
        let signature = identity.sign(&transcript(1));
        assert!(identity.public().verify(&transcript(1), &signature).is_ok());
        // Another session (another client public key), or another server's key: refused.
        assert!(matches!(
            identity.public().verify(&transcript(9), &signature),
            Err(IdentityError::BadSignature(_))
        ));
        assert!(matches!(
            other.public().verify(&transcript(1), &signature),
            Err(IdentityError::BadSignature(_))
        ));
        // One flipped bit anywhere in the signature.
        let mut raw = URL_SAFE.decode(&signature).unwrap();
        raw[10] ^= 1;
        assert!(
            identity
                .public()
                .verify(&transcript(1), &URL_SAFE.encode(&raw))
                .is_err()
        );
        assert!(matches!(
            identity.public().verify(&transcript(1), "short"),
            Err(IdentityError::Malformed { .. })
        ));
    }

    #[test]
    fn files_round_trip_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/server.identity");
        let (made, created) = ServerIdentity::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = ServerIdentity::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(made.public(), again.public());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains(&made.public().fingerprint().to_string()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(
            ServerIdentity::generate().create(&path),
            Err(IdentityError::Io { .. })
        ));
        assert!(matches!(
            ServerIdentity::load(&dir.path().join("missing")),
            Err(IdentityError::NotFound { .. })
        ));
        fs::write(dir.path().join("junk"), "# only a comment\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = fs::Permissions::from_mode(0o600);
            fs::set_permissions(dir.path().join("junk"), private).unwrap();
        }
        assert!(matches!(
            ServerIdentity::load(&dir.path().join("junk")),
            Err(IdentityError::BadFile { .. })
        ));
    }

    #[test]
    fn fingerprints_name_keys() {
        let a = ServerIdentity::generate().public();
        let b = ServerIdentity::generate().public();
        assert_ne!(a.fingerprint(), b.fingerprint());
        let shown = a.fingerprint().to_string();
        assert_eq!(shown.len(), 39);
        assert_eq!(IdentityKey::from_wire(&a.to_wire()).unwrap(), a);
        // Debug never shows more than the fingerprint.
        assert!(format!("{:?}", ServerIdentity::generate()).starts_with("ServerIdentity("));
    }
}
