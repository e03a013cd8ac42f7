//! The room's moderation state on disk: mutes, bans (and the short bans that make a kick
//! stick), quiet and slow mode, the topic and the latest announcement, so that all of them
//! survive a server restart. The hub owns the file through [`crate::server::moderation`]; it
//! is small and rewritten whole after each staff action.
//!
//! Written atomically: the new state goes to a fresh file of its own in the same folder
//! (created new, never an existing one, under a random name, readable by its owner only), is
//! flushed to disk, and is renamed over the old file. A crash leaves either the old state or
//! the new one, never half of one. Loaded once at start; a file that cannot be read as this
//! format is reported, renamed aside (`moderation.json.corrupt-<unix seconds>`) for the
//! instructor to inspect, and the room starts unmoderated: a damaged file never stops the
//! server.
//!
//! The file is plain JSON, not encrypted: it holds no message text, only what staff typed
//! (reasons, topic, announcement) and who was sanctioned, and an instructor may want to read
//! it or lift a ban by editing it while the server is stopped. It is created `0600`.
//!
//! # Format
//! ```text
//! {
//!   "version": 1,
//!   "topic": {"text": "Exam until 11:00", "by": "prof", "time": 1763800000000},   (or null)
//!   "announcement": {"text": "...", "by": "prof", "time": 1763800000000, "id": 42},  (or null)
//!   "quiet": false,
//!   "slow_secs": 0,                                  (0: slow mode off)
//!   "rooms": {                                       (rooms other than #class, issue 16; absent: none)
//!     "#lab1": {"topic": {...} or null, "quiet": false, "slow_secs": 0}
//!   },
//!   "sanctions": [
//!     {"kind": "mute" | "ban" | "kick",
//!      "nick": "mallory",                            (their nick when sanctioned)
//!      "login": null,                                (roster login, when the server has one)
//!      "fingerprint": "3f1c...",                     (fingerprint of the key of their session)
//!      "address": "192.0.2.7",                       (their IP address, or null)
//!      "until": 1763800600000,                       (ms since the Unix epoch; null: until lifted)
//!      "reason": "posting answers",
//!      "by": "prof",
//!      "time": 1763800000000}
//!   ]
//! }
//! ```
//! A sanction applies to a session whose roster `login` is the same; without logins (a class
//! key, which names no person) a ban applies to every session of the same key fingerprint and
//! address, and a mute or a kick to the session of the same key, address *and* nick. So a
//! class-key ban bars everyone who shares that address with that key (a lab behind one NAT
//! address: use a roster there), while mutes and kicks, which are for one disruption, do not
//! touch classmates behind the same address (and a muted user cannot change nick). Unknown
//! fields are ignored; missing ones take the defaults above.
//!
//! Rooms (issue 16): `topic`, `quiet` and `slow_secs` at the top are `#class`'s, where they
//! always were, so a file written before rooms loads as `#class`'s state (and an older server
//! reads a newer file's `#class` and ignores `rooms`). Sanctions and the announcement stay
//! server-wide: a sanction is on the person, in every room.

use std::collections::BTreeMap;

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's format version.
pub const FORMAT_VERSION: u32 = 1;

/// The state file's name, beside the room history.
pub const FILE_NAME: &str = "moderation.json";

/// Text staff set for the room (topic, announcement), with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    /// What they wrote.
    pub text: String,
    /// The staff member's nick.
    pub by: String,
    /// When (server time, ms since the Unix epoch).
    pub time: u64,
    /// The announcement's room id (its record in the history file); absent for a topic and in
    /// files written before announcements were kept in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
}

/// What kind of sanction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// May read but not speak.
    Mute,
    /// May not join.
    Ban,
    /// Removed, and may not join again until `until` (a short ban).
    Kick,
}

/// Who a session is, as sanctions match it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Roster login, when the session was opened by a student's own key.
    #[serde(default)]
    pub login: Option<String>,
    /// Fingerprint of the key that opened the session.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The peer's IP address.
    #[serde(default)]
    pub address: Option<IpAddr>,
}

impl Identity {
    /// Whether a sanction on `self` applies to the session `other`: the same roster login, or
    /// (without logins) the same key and the same address.
    pub fn matches(&self, other: &Identity) -> bool {
        match (&self.login, &other.login) {
            (Some(a), Some(b)) => a == b,
            (None, None) => {
                self.fingerprint.is_some()
                    && self.fingerprint == other.fingerprint
                    && self.address == other.address
            }
            _ => false,
        }
    }
}

impl Sanction {
    /// Whether this sanction applies to the session `who`, currently called `nick` (the rule
    /// in the module comment).
    pub fn applies_to(&self, who: &Identity, nick: &str) -> bool {
        let by_nick =
            self.kind == Kind::Ban || who.login.is_some() || self.nick.eq_ignore_ascii_case(nick);
        self.who.matches(who) && by_nick
    }
}

/// One mute, ban or kick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sanction {
    /// Mute, ban or kick.
    pub kind: Kind,
    /// The nick they had (how staff name them to lift it).
    pub nick: String,
    /// Who it applies to.
    #[serde(flatten)]
    pub who: Identity,
    /// When it ends (ms since the Unix epoch); `None`: until lifted.
    #[serde(default)]
    pub until: Option<u64>,
    /// Why, as staff said it.
    #[serde(default)]
    pub reason: String,
    /// The staff member's nick.
    pub by: String,
    /// When it was imposed.
    #[serde(default)]
    pub time: u64,
}

/// What staff set for one room: its topic and modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomModes {
    /// The room's topic.
    #[serde(default)]
    pub topic: Option<Stamped>,
    /// Quiet (exam) mode: only staff may speak.
    #[serde(default)]
    pub quiet: bool,
    /// Slow mode: each student may send one room message per this many seconds (0: off).
    #[serde(default)]
    pub slow_secs: u64,
}

impl RoomModes {
    /// Whether nothing is set (a room in this state need not be saved).
    pub fn is_empty(&self) -> bool {
        *self == RoomModes::default()
    }
}

/// Everything that is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// `#class`'s topic and modes, at the top of the file as before rooms.
    #[serde(flatten)]
    pub class: RoomModes,
    /// The latest announcement (shown to each joiner).
    #[serde(default)]
    pub announcement: Option<Stamped>,
    /// Every other room's topic and modes, by room name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rooms: BTreeMap<String, RoomModes>,
    /// Mutes, bans and kicks in force.
    #[serde(default)]
    pub sanctions: Vec<Sanction>,
}

impl Default for SavedState {
    fn default() -> SavedState {
        SavedState {
            version: FORMAT_VERSION,
            class: RoomModes::default(),
            announcement: None,
            rooms: BTreeMap::new(),
            sanctions: Vec::new(),
        }
    }
}

/// What loading found, for the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    /// No file yet: an unmoderated room.
    Fresh,
    /// The file was read.
    Read,
    /// The file could not be read as the format above; it was renamed to this path and the room
    /// starts unmoderated. The string says what was wrong.
    SetAside(PathBuf, String),
}

/// Reads the state at `path`. A missing file is a fresh state; a damaged one is set aside (see
/// the module comment). Only an I/O error other than "not found" (a folder we may not read,
/// or a damaged file we cannot rename) is an error.
pub fn load(path: &Path) -> io::Result<(SavedState, Loaded)> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok((SavedState::default(), Loaded::Fresh));
        }
        Err(e) => return Err(e),
    };
    let parsed = serde_json::from_slice::<SavedState>(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|state| {
            if state.version == FORMAT_VERSION {
                Ok(state)
            } else {
                Err(format!(
                    "format version {} (this server reads {FORMAT_VERSION})",
                    state.version
                ))
            }
        });
    match parsed {
        Ok(state) => Ok((state, Loaded::Read)),
        Err(why) => {
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".corrupt-{}", crate::crypto::unix_now()));
            let aside = PathBuf::from(aside);
            std::fs::rename(path, &aside)?;
            Ok((SavedState::default(), Loaded::SetAside(aside, why)))
        }
    }
}

/// Writes `state` to `path` atomically (a new private file, flushed, renamed over `path`).
pub fn save(path: &Path, state: &SavedState) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(io::Error::other)?;
    bytes.push(b'\n');
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or(FILE_NAME.as_ref());
    // A random name created new (`create_new`): nobody can have planted a file or link there.
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(io::Error::other)?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut temp_name = name.to_owned();
    temp_name.push(format!(".tmp-{suffix}"));
    let temp = folder.join(temp_name);
    let written = (|| {
        let mut file = crate::private_file::options()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedState {
        SavedState {
            class: RoomModes {
                topic: Some(Stamped {
                    text: "Exam until 11:00".into(),
                    by: "prof".into(),
                    time: 5,
                    id: None,
                }),
                quiet: true,
                slow_secs: 30,
            },
            rooms: BTreeMap::from([(
                "#lab1".to_owned(),
                RoomModes {
                    quiet: true,
                    ..RoomModes::default()
                },
            )]),
            sanctions: vec![Sanction {
                kind: Kind::Ban,
                nick: "mallory".into(),
                who: Identity {
                    login: None,
                    fingerprint: Some("abcd".into()),
                    address: Some("192.0.2.7".parse().unwrap()),
                },
                until: None,
                reason: "posting answers".into(),
                by: "prof".into(),
                time: 5,
            }],
            ..SavedState::default()
        }
    }

    #[test]
    fn saves_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(load(&path).unwrap(), (SavedState::default(), Loaded::Fresh));
        save(&path, &sample()).unwrap();
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap(), (sample(), Loaded::Read));
        // Only the state file is left: no temporaries.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner only: {mode:o}");
        }
    }

    /// A file written before rooms (issue 16) loads as `#class`'s state.
    #[test]
    fn a_file_from_before_rooms_is_class_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            br#"{"version":1,"topic":{"text":"t","by":"prof","time":5},"quiet":true,"slow_secs":7,"sanctions":[]}"#,
        )
        .unwrap();
        let (state, loaded) = load(&path).unwrap();
        assert_eq!(loaded, Loaded::Read);
        assert!(state.class.quiet);
        assert_eq!(state.class.slow_secs, 7);
        assert_eq!(state.class.topic.map(|t| t.text).as_deref(), Some("t"));
        assert!(state.rooms.is_empty());
    }

    #[test]
    fn a_damaged_file_is_set_aside_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        for damaged in [
            &b"{\"version\":1,\"quiet\":tr"[..],
            b"{\"version\":99}",
            b"\xff\xfe",
        ] {
            std::fs::write(&path, damaged).unwrap();
            let (state, loaded) = load(&path).unwrap();
            assert_eq!(state, SavedState::default());
            let Loaded::SetAside(aside, why) = loaded else {
                panic!("not set aside: {loaded:?}");
            };
            assert!(!why.is_empty());
            assert_eq!(std::fs::read(&aside).unwrap(), damaged);
            assert!(!path.exists());
            std::fs::remove_file(aside).unwrap();
        }
    }

    #[test]
    fn sanctions_match_login_or_key_and_address() {
        let class = |fp: &str, ip: &str| Identity {
            login: None,
            fingerprint: Some(fp.into()),
            address: Some(ip.parse().unwrap()),
        };
        let roster = |login: &str| Identity {
            login: Some(login.into()),
            fingerprint: Some("k".into()),
            address: None,
        };
        assert!(class("a", "192.0.2.1").matches(&class("a", "192.0.2.1")));
        assert!(!class("a", "192.0.2.1").matches(&class("a", "192.0.2.2")));
        assert!(!class("a", "192.0.2.1").matches(&class("b", "192.0.2.1")));
        assert!(roster("ann").matches(&roster("ann")));
        assert!(!roster("ann").matches(&roster("bob")));
        assert!(!roster("ann").matches(&class("k", "192.0.2.1")));
    }
}
