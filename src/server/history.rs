//! Room history that survives a restart: an append-only file of the room's messages, encrypted
//! at rest with the room key, and the last few kept in memory to show people who join.
//!
//! Each room has one (issue 16; [`crate::server::rooms`] says where): `#class`'s at `--history`,
//! another room's in `rooms/` beside it, each with its own message ids.
//!
//! This module owns the history file: its format, reading it back after a crash, moving aside
//! a file made with a key we no longer hold, and compaction. It is used only by the hub thread
//! (one owner, no lock). It must not know about sockets or clients.
//!
//! # Format
//!
//! ```text
//! # fernchat room history; key fingerprint 3F2A-9C01-77D4-B0E8; one Fernet token per line
//! gAAAAABpIXPA...==
//! gAAAAABpIXPB...==
//! ```
//!
//! Each record is exactly the frame the server broadcast: the Fernet token of a `message`,
//! `action` or `announcement` event (an announcement with its room `id`) and its newline.
//! Private messages are never stored. A server older than kept announcements counts an
//! announcement record as unreadable and skips it.
//!
//! # What survives what
//!
//! A record is written (one `write` to the file) *before* the message is broadcast, so a message
//! anyone has seen is in the file even if the server is killed the next instant: the operating
//! system keeps written data when a process dies. There is no `fsync` per message (it would cost
//! milliseconds each), so a power cut may lose the last seconds. A record torn by a crash in the
//! middle of a write has no newline: on start it is reported and cut off, never fatal.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use crate::crypto::{Fingerprint, RoomKey};
use crate::protocol::codec::decode_plaintext;
use crate::protocol::event::HistoryKind;
use crate::protocol::{ServerEvent, seal};

/// Where the history is kept unless `--history` says otherwise (written the platform's way).
#[cfg(not(windows))]
pub const DEFAULT_HISTORY_PATH: &str = "history/room.log";
#[cfg(windows)]
pub const DEFAULT_HISTORY_PATH: &str = r"history\room.log";
/// Messages shown to someone who joins, unless `--history-replay` says otherwise.
pub const DEFAULT_REPLAY: usize = 50;
/// Records the file may hold before it is compacted to half of them.
pub const DEFAULT_MAX_RECORDS: usize = 10_000;

const HEADER_PREFIX: &str = "# fernchat room history; key fingerprint ";

/// Where and how much history to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryConfig {
    /// The history file.
    pub path: PathBuf,
    /// How many recent messages a joining user is shown.
    pub replay: usize,
    /// How many records the file may hold; past that it is compacted to half as many.
    pub max_records: usize,
}

impl HistoryConfig {
    /// The documented defaults, at `path`.
    pub fn at(path: impl Into<PathBuf>) -> HistoryConfig {
        HistoryConfig {
            path: path.into(),
            replay: DEFAULT_REPLAY,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

/// Why the history could not be opened.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot use the history file {}: {source}. Choose another place with --history PATH, \
     or run without history with --no-history",
    path.display()
)]
pub struct HistoryError {
    /// The file or folder that failed.
    pub path: PathBuf,
    /// The operating system's reason.
    pub source: io::Error,
}

/// One remembered room message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The room it was said in (`#class` in files written before rooms).
    pub room: String,
    /// The room message's id (increasing per room; 0 in files written before ids existed).
    pub id: u64,
    /// A message, an action or an announcement.
    pub kind: HistoryKind,
    /// The sender's nick at the time.
    pub from: String,
    /// What was said.
    pub text: String,
    /// The server's time when it was said (ms since the Unix epoch).
    pub time: u64,
}

impl Entry {
    /// The entry of a room event, if it is one that history keeps.
    pub fn of(event: &ServerEvent) -> Option<Entry> {
        let (room, id, kind, from, text, time) = match event {
            ServerEvent::Message {
                room,
                id,
                from,
                text,
                time,
            } => (room, id, HistoryKind::Message, from, text, time),
            ServerEvent::Action {
                room,
                id,
                from,
                text,
                time,
            } => (room, id, HistoryKind::Action, from, text, time),
            // Announcements are kept too (issue 15), under their room id.
            ServerEvent::Announcement {
                room,
                id: Some(id),
                from,
                text,
                time,
                ..
            } => (room, id, HistoryKind::Announcement, from, text, time),
            _ => return None,
        };
        Some(Entry {
            room: room.clone(),
            id: *id,
            kind,
            from: from.clone(),
            text: text.clone(),
            time: *time,
        })
    }

    /// The event that shows this entry to a joining user as history.
    pub fn to_event(&self) -> ServerEvent {
        if self.kind == HistoryKind::Announcement {
            // Replayed as an `announcement` that says it is history, not as a `history` event:
            // an older client would drop a `history` of a kind it does not know.
            return ServerEvent::Announcement {
                room: self.room.clone(),
                from: self.from.clone(),
                text: self.text.clone(),
                time: self.time,
                id: Some(self.id),
                history: true,
            };
        }
        ServerEvent::History {
            room: self.room.clone(),
            id: self.id,
            kind: self.kind,
            from: self.from.clone(),
            text: self.text.clone(),
            time: self.time,
        }
    }

    fn to_live_event(&self) -> ServerEvent {
        let (id, from, text, time) = (self.id, self.from.clone(), self.text.clone(), self.time);
        match self.kind {
            HistoryKind::Announcement => ServerEvent::Announcement {
                room: self.room.clone(),
                from,
                text,
                time,
                id: Some(id),
                history: false,
            },
            // Never read from a file (`Entry::of` makes none): kept as a message.
            HistoryKind::Message | HistoryKind::Other => ServerEvent::Message {
                room: self.room.clone(),
                id,
                from,
                text,
                time,
            },
            HistoryKind::Action => ServerEvent::Action {
                room: self.room.clone(),
                id,
                from,
                text,
                time,
            },
        }
    }
}

/// What opening the history found, for the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Records read back.
    pub loaded: usize,
    /// Bytes of a torn last record that were cut off.
    pub torn_bytes: u64,
    /// Records that did not decrypt or decode (damaged), skipped.
    pub unreadable: usize,
    /// The previous file, made with a key this server does not hold, moved here untouched.
    pub moved_aside: Option<PathBuf>,
    /// Whether the file was re-encrypted from an older key of the ring to the current one.
    pub migrated_from: Option<Fingerprint>,
}

/// The open history file and the last messages, owned by the hub.
#[derive(Debug)]
pub struct History {
    config: HistoryConfig,
    key: RoomKey,
    file: File,
    /// The file's length after the last complete record: a failed write is cut back to it.
    len: u64,
    records: usize,
    recent: VecDeque<Entry>,
    /// The largest message id in the file, so that ids keep increasing after a restart.
    last_id: u64,
}

impl History {
    /// Opens (or creates) the history, reading back what it holds.
    pub fn open(
        config: HistoryConfig,
        key: &RoomKey,
    ) -> Result<(History, OpenReport), HistoryError> {
        let path = config.path.clone();
        let fail = |source| HistoryError {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|source| HistoryError {
                path: parent.to_owned(),
                source,
            })?;
        }
        // A compaction interrupted by a crash leaves its unfinished copy; the original is intact.
        remove_unfinished_copies(&path);
        let mut report = OpenReport::default();
        let mut entries = Vec::new();
        match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                write_new(&path, key, &[]).map_err(fail)?
            }
            Err(e) => return Err(fail(e)),
            Ok(meta) if !meta.is_file() => {
                // A device or a pipe would be read forever.
                return Err(fail(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a regular file",
                )));
            }
            Ok(_) => {
                let scan = scan(&path, key).map_err(fail)?;
                report.torn_bytes = scan.torn_bytes;
                report.unreadable = scan.unreadable;
                let owner = match &scan.header {
                    Some(Header::Ours(fingerprint)) => Ok(Some(*fingerprint)),
                    Some(Header::Foreign(named)) => Err(named.clone()),
                    // No header: a file cut short at creation, or a damaged first line.
                    None if scan.entries.is_empty() && scan.unreadable == 0 => Ok(None),
                    None => scan
                        .opened_with
                        .map(Some)
                        .ok_or_else(|| "unknown-key".to_owned()),
                };
                match owner {
                    Ok(Some(fingerprint)) if fingerprint == key.fingerprint() => {
                        if scan.torn_bytes > 0 {
                            cut(&path, scan.complete_len).map_err(fail)?;
                        }
                        entries = scan.entries;
                    }
                    Ok(Some(fingerprint)) => {
                        // Rotation: an older key of the ring. Re-encrypt under the current key
                        // so that one file never mixes keys.
                        write_new(&path, key, &scan.entries).map_err(fail)?;
                        report.migrated_from = Some(fingerprint);
                        entries = scan.entries;
                    }
                    Ok(None) => write_new(&path, key, &[]).map_err(fail)?,
                    Err(label) => {
                        // Made with a key we do not hold: leave it exactly as it is, under a
                        // name that says whose it is, and start a new history.
                        let aside = path.with_extension(format!("{label}.log"));
                        fs::rename(&path, &aside).map_err(fail)?;
                        report.moved_aside = Some(aside);
                        report.unreadable = 0;
                        write_new(&path, key, &[]).map_err(fail)?;
                    }
                }
            }
        }
        report.loaded = entries.len();
        let last_id = entries.iter().map(|e| e.id).max().unwrap_or(0);
        let file = OpenOptions::new().append(true).open(&path).map_err(fail)?;
        let len = file.metadata().map_err(fail)?.len();
        let mut recent = VecDeque::with_capacity(config.replay.min(entries.len()));
        let skip = entries.len().saturating_sub(config.replay);
        recent.extend(entries.into_iter().skip(skip));
        let history = History {
            config,
            key: key.clone(),
            file,
            len,
            records: report.loaded,
            recent,
            last_id,
        };
        Ok((history, report))
    }

    /// Appends the frame of a room message before it is broadcast. On failure the file is cut
    /// back to its last complete record, so a later success does not glue onto a torn one.
    pub fn record(&mut self, frame: &[u8], entry: Entry) -> io::Result<()> {
        if let Err(e) = self.file.write_all(frame) {
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += frame.len() as u64;
        self.records += 1;
        self.last_id = self.last_id.max(entry.id);
        if self.config.replay > 0 {
            if self.recent.len() == self.config.replay {
                self.recent.pop_front();
            }
            self.recent.push_back(entry);
        }
        if self.records > self.config.max_records {
            self.compact()?;
        }
        Ok(())
    }

    /// The last messages, oldest first, for a joining user.
    pub fn recent(&self) -> impl Iterator<Item = &Entry> {
        self.recent.iter()
    }

    /// The largest message id recorded (0 for an empty history): the room's next id follows.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// Records in the file now.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Sends later writes to `file` instead, so tests can make them fail (`/dev/full` answers
    /// every write with "no space left on device"). Not for anything else.
    #[doc(hidden)]
    pub fn write_to_for_tests(&mut self, file: File) {
        self.file = file;
    }

    /// Keeps the newer half of the records. Crash-safe: the new file is written beside the old
    /// one and renamed over it in one step, so a crash leaves either the old or the new file.
    fn compact(&mut self) -> io::Result<()> {
        let keep = self.config.max_records / 2;
        let scan = scan(&self.config.path, &self.key)?;
        let skip = scan.entries.len().saturating_sub(keep);
        write_new(&self.config.path, &self.key, &scan.entries[skip..])?;
        self.file = OpenOptions::new().append(true).open(&self.config.path)?;
        self.len = self.file.metadata()?.len();
        self.records = scan.entries.len() - skip;
        Ok(())
    }
}

/// What a pass over an existing file found.
struct Scan {
    header: Option<Header>,
    /// The key of the first record that decrypted: names the owner when the header is lost.
    opened_with: Option<Fingerprint>,
    entries: Vec<Entry>,
    unreadable: usize,
    complete_len: u64,
    torn_bytes: u64,
}

fn scan(path: &Path, key: &RoomKey) -> io::Result<Scan> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut scan = Scan {
        header: None,
        opened_with: None,
        entries: Vec::new(),
        unreadable: 0,
        complete_len: 0,
        torn_bytes: 0,
    };
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            scan.torn_bytes = n as u64;
            break;
        }
        scan.complete_len += n as u64;
        let record = line.trim_ascii_end();
        if std::mem::take(&mut first)
            && let Some(header) = parse_header(record, key)
        {
            scan.header = Some(header);
            continue;
        }
        if record.is_empty() || record.starts_with(b"#") {
            continue;
        }
        match key.decrypt(record).ok().and_then(|opened| {
            let event = decode_plaintext::<ServerEvent>(&opened.plaintext).ok()?;
            Some((opened.key_index, Entry::of(&event)?))
        }) {
            Some((key_index, entry)) => {
                scan.opened_with
                    .get_or_insert(key.fingerprints()[key_index]);
                scan.entries.push(entry);
            }
            None => scan.unreadable += 1,
        }
    }
    Ok(scan)
}

/// Whose key a history file's header names.
enum Header {
    /// One of the keys of our ring.
    Ours(Fingerprint),
    /// A key we do not hold, by the fingerprint written in the header.
    Foreign(String),
}

fn parse_header(line: &[u8], key: &RoomKey) -> Option<Header> {
    let text = std::str::from_utf8(line).ok()?;
    let named = text.strip_prefix(HEADER_PREFIX)?.split(';').next()?.trim();
    let ours = key
        .fingerprints()
        .into_iter()
        .find(|f| f.to_string() == named);
    Some(match ours {
        Some(fingerprint) => Header::Ours(fingerprint),
        // Only hex and dashes: it becomes part of a file name.
        None => Header::Foreign(
            named
                .chars()
                .filter(|c| c.is_ascii_hexdigit() || *c == '-')
                .take(32)
                .collect(),
        ),
    })
}

/// Writes a complete history file (header and `entries` re-encrypted under `key`) beside
/// `path`, flushes it to disk, and renames it over `path`.
///
/// The copy is a new file under an unpredictable name (never an existing file or a symbolic
/// link someone planted under a name they guessed, which we would otherwise truncate and fill).
fn write_new(path: &Path, key: &RoomKey, entries: &[Entry]) -> io::Result<()> {
    let (temporary, file) = crate::private_file::create_temporary(path, COMPACTING)?;
    let written = write_entries(file, key, entries).and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written?;
    sync_folder(path);
    Ok(())
}

fn write_entries(file: File, key: &RoomKey, entries: &[Entry]) -> io::Result<()> {
    let mut file = io::BufWriter::new(file);
    writeln!(
        file,
        "{HEADER_PREFIX}{}; one Fernet token per line",
        key.fingerprint()
    )?;
    for entry in entries {
        file.write_all(&seal(key, &entry.to_live_event()))?;
    }
    file.into_inner().map_err(|e| e.into_error())?.sync_all()
}

fn cut(path: &Path, len: u64) -> io::Result<()> {
    OpenOptions::new().write(true).open(path)?.set_len(len)
}

/// The suffix of a compaction's copy: `room.log.compacting-<random>`.
const COMPACTING: &str = "compacting";

/// Removes the copies a crashed compaction left beside `path` (and the fixed-name copy older
/// versions made). Removing a planted symbolic link removes the link, never its target.
fn remove_unfinished_copies(path: &Path) {
    let mut legacy = path.as_os_str().to_owned();
    legacy.push(".compacting");
    let _ = fs::remove_file(PathBuf::from(legacy));
    let prefix = crate::private_file::temporary_prefix(path, COMPACTING);
    let (Some(folder), Some(start)) = (prefix.parent(), prefix.file_name()) else {
        return;
    };
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    let start = start.as_encoded_bytes();
    // Bounded: a folder with more entries than this is not ours to sweep.
    for entry in entries.take(100_000).flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(start) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Makes the rename itself durable (Unix); elsewhere the rename is already as good as we get.
#[cfg(unix)]
fn sync_folder(path: &Path) {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(folder) = File::open(folder)
    {
        let _ = folder.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_folder(_path: &Path) {}
