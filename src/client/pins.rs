//! Known servers: the identity key each server showed the first time we met it (trust on first
//! use, as SSH's `known_hosts`), so that a different key later is refused loudly.
//!
//! The file (`keys/known_servers` by default) has one line per server, `host:port KEY`, with
//! the key as URL-safe base64 and a `#` comment after it naming the fingerprint and the date.
//! Lines starting with `#` are comments. Deleting a server's line forgets it: the next
//! connection pins whatever key the server shows then.
//!
//! # Names and aliases
//!
//! A pin is keyed by the server's name as the user typed it, `host:port`, compared without
//! regard to ASCII case (`LocalHost:7474` is `localhost:7474`, as in DNS). Different names are
//! different entries, even when they reach the same server: `localhost:7474`,
//! `127.0.0.1:7474` and the lab machine's DNS name are pinned separately, each on its first
//! signed connection. This is deliberate: telling that two names are one server would mean
//! trusting DNS or the network, which is exactly what the pin is there to distrust. A student
//! who connects under a new name is told that a key was pinned for the first time, and should
//! compare its fingerprint with the one the instructor published, as on the very first
//! connection. [`KnownServers::names_for`] lists the names a key is already pinned under, so a
//! front end can say "this is the key you pinned for 127.0.0.1:7474".
//!
//! The file decides whom the client trusts, so it is opened without following a symbolic link
//! and refused if another user owns it or may write to it
//! ([`crate::private_file::open_checked`]).
//!
//! This module owns the file's format and the pin-or-compare decision. It must not verify
//! signatures (`crate::identity` does) or talk to the network.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::identity::{IdentityFingerprint, IdentityKey};

/// Where the client keeps its pins by default (beside the class keyfile; `keys/` is not in git).
pub const DEFAULT_KNOWN_SERVERS: &str = "keys/known_servers";

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// The server showed the key we pinned before.
    Known,
    /// We had never met this server: its key is pinned now.
    New,
}

/// Why a server's key was not accepted, or the file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// The server shows another identity key than the one pinned for it.
    #[error(
        "the server at {target} presents the identity key {presented}, but you pinned \
         {pinned} for it on first use (in {}). Either someone is between you and the server, \
         or your instructor replaced the server's identity key. Ask your instructor which \
         fingerprint is right; only if it is the new one, delete the line starting with \
         {target} from {} and connect again",
        path.display(),
        path.display()
    )]
    Changed {
        /// `host:port`.
        target: String,
        /// The fingerprint we pinned.
        pinned: IdentityFingerprint,
        /// The fingerprint the server showed now.
        presented: IdentityFingerprint,
        /// The pin file.
        path: PathBuf,
    },
    /// A line of the file is not `host:port KEY`.
    #[error(
        "{} line {line} is not `host:port identity-key`; fix or delete that line",
        path.display()
    )]
    BadLine {
        /// The pin file.
        path: PathBuf,
        /// 1-based.
        line: usize,
    },
    /// The file could not be read or written.
    #[error("cannot use the known-servers file {}: {source}", path.display())]
    Io {
        /// The pin file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// The pin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownServers {
    path: PathBuf,
}

impl KnownServers {
    /// The pins kept in `path` (created on the first pin).
    pub fn new(path: impl Into<PathBuf>) -> KnownServers {
        KnownServers { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key pinned for `target` (`host:port`, ASCII case ignored), if any.
    pub fn get(&self, target: &str) -> Result<Option<IdentityKey>, PinError> {
        Ok(self
            .pins()?
            .into_iter()
            .find(|(host, _)| host.eq_ignore_ascii_case(target))
            .map(|(_, key)| key))
    }

    /// Every name `key` is pinned under, in file order (aliases of one server).
    pub fn names_for(&self, key: &IdentityKey) -> Result<Vec<String>, PinError> {
        Ok(self
            .pins()?
            .into_iter()
            .filter(|(_, pinned)| pinned == key)
            .map(|(host, _)| host)
            .collect())
    }

    /// Reads the file (bounded: a pin line is under 200 bytes), checking owner and mode.
    fn read(&self) -> Result<String, PinError> {
        const MAX_FILE: u64 = 4 * 1024 * 1024;
        let io_err = |source| PinError::Io {
            path: self.path.clone(),
            source,
        };
        let mut read = fs::OpenOptions::new();
        read.read(true);
        let file = crate::private_file::open_checked(
            &self.path,
            read,
            crate::private_file::Others::MayRead,
        )
        .map_err(io_err)?;
        let mut text = String::new();
        file.take(MAX_FILE)
            .read_to_string(&mut text)
            .map_err(io_err)?;
        Ok(text)
    }

    /// The pins in file order, `(host:port, key)`.
    fn pins(&self) -> Result<Vec<(String, IdentityKey)>, PinError> {
        let text = match self.read() {
            Ok(text) => text,
            Err(PinError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                return Ok(Vec::new());
            }
            Err(other) => return Err(other),
        };
        let mut pins = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || PinError::BadLine {
                path: self.path.clone(),
                line: index + 1,
            };
            let mut fields = line.split_whitespace();
            let (Some(host), Some(key)) = (fields.next(), fields.next()) else {
                return Err(bad());
            };
            let key = IdentityKey::from_wire(key).map_err(|_| bad())?;
            pins.push((host.to_owned(), key));
        }
        Ok(pins)
    }

    /// Trust on first use: pins `key` for `target` if it has no pin yet, accepts it if it is
    /// the pinned key, and refuses it otherwise.
    pub fn check(&self, target: &str, key: &IdentityKey) -> Result<Pin, PinError> {
        match self.get(target)? {
            Some(pinned) if pinned == *key => Ok(Pin::Known),
            Some(pinned) => Err(PinError::Changed {
                target: target.to_owned(),
                pinned: pinned.fingerprint(),
                presented: key.fingerprint(),
                path: self.path.clone(),
            }),
            None => {
                self.add(target, key)?;
                Ok(Pin::New)
            }
        }
    }

    /// Appends a pin. Appending (never rewriting) keeps every other pin intact even if we are
    /// interrupted; the file is created readable by its owner only, like a keyfile.
    fn add(&self, target: &str, key: &IdentityKey) -> Result<(), PinError> {
        let io_err = |source| PinError::Io {
            path: self.path.clone(),
            source,
        };
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        let mut append = crate::private_file::options();
        append.create(true).append(true);
        let mut file = crate::private_file::open_checked(
            &self.path,
            append,
            crate::private_file::Others::MayRead,
        )
        .map_err(io_err)?;
        let line = format!(
            "{target} {} # fingerprint {}, pinned {}\n",
            key.to_wire(),
            key.fingerprint(),
            chrono::Local::now().format("%Y-%m-%d %H:%M")
        );
        file.write_all(line.as_bytes()).map_err(io_err)?;
        file.sync_all().map_err(io_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ServerIdentity;

    #[test]
    fn first_use_pins_then_the_same_key_passes_and_another_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let pins = KnownServers::new(dir.path().join("keys/known_servers"));
        let (real, impostor) = (
            ServerIdentity::generate().public(),
            ServerIdentity::generate().public(),
        );
        assert_eq!(pins.check("127.0.0.1:7474", &real).unwrap(), Pin::New);
        assert_eq!(pins.check("127.0.0.1:7474", &real).unwrap(), Pin::Known);
        // Pins are per server: another port is another server.
        assert_eq!(pins.check("127.0.0.1:7475", &impostor).unwrap(), Pin::New);
        match pins.check("127.0.0.1:7474", &impostor) {
            Err(PinError::Changed {
                pinned, presented, ..
            }) => {
                assert_eq!(pinned, real.fingerprint());
                assert_eq!(presented, impostor.fingerprint());
            }
            other => panic!("{other:?}"),
        }
        // A new KnownServers on the same file (a restart) remembers.
        let again = KnownServers::new(pins.path());
        assert_eq!(again.get("127.0.0.1:7474").unwrap(), Some(real));
        let message = again.check("127.0.0.1:7474", &impostor).unwrap_err();
        let message = message.to_string();
        assert!(
            message.contains(&real.fingerprint().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&impostor.fingerprint().to_string()),
            "{message}"
        );
        assert!(message.contains("delete the line"), "{message}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(pins.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// Issue 12 item 8: pins are keyed by the name typed. Aliases of one server are separate
    /// entries, each pinned on first use; only ASCII case is ignored. `names_for` tells a
    /// front end under which names a key is already known.
    #[test]
    fn aliases_are_pinned_separately_and_case_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let pins = KnownServers::new(dir.path().join("known_servers"));
        let (real, other) = (
            ServerIdentity::generate().public(),
            ServerIdentity::generate().public(),
        );
        assert_eq!(pins.check("127.0.0.1:7474", &real).unwrap(), Pin::New);
        // Another name for the same machine is another entry: the first use pins it...
        assert_eq!(pins.check("localhost:7474", &real).unwrap(), Pin::New);
        assert_eq!(
            pins.names_for(&real).unwrap(),
            ["127.0.0.1:7474", "localhost:7474"]
        );
        // ...and case does not make a new name.
        assert_eq!(pins.check("LocalHost:7474", &real).unwrap(), Pin::Known);
        assert!(matches!(
            pins.check("LOCALHOST:7474", &other),
            Err(PinError::Changed { .. })
        ));
        // A new alias could be pinned to another key: that is trust on first use, and why a
        // new pin's fingerprint must be compared with the published one.
        assert_eq!(pins.check("lab-pc:7474", &other).unwrap(), Pin::New);
        assert_eq!(pins.names_for(&other).unwrap(), ["lab-pc:7474"]);
    }

    #[test]
    fn a_damaged_line_is_reported_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_servers");
        fs::write(&path, "# comment\n\nhost:1 not-a-key\n").unwrap();
        match KnownServers::new(&path).get("host:1") {
            Err(PinError::BadLine { line: 3, .. }) => {}
            other => panic!("{other:?}"),
        }
    }
}
