//! Transcripts: what the client has shown, kept as plain text for `--log FILE` (appended as it
//! happens) and `/save FILE` (everything seen so far, on request).
//!
//! This module owns the transcript's line format (each room's line names its room) and its
//! files. A transcript is **plaintext on
//! disk**: whoever can read the file reads the chat, so files are created readable by their
//! owner only. It must not speak the protocol; it records [`Update`]s as the session emits them.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::client::display::render_lines;
use crate::client::update::{Update, UpdateKind};

/// Lines of the session kept in memory for `/save`; older ones are dropped first.
pub const SEEN_LIMIT: usize = 10_000;

/// What went wrong with a transcript file.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The `--log` file could not be opened for appending.
    #[error("cannot write the chat log {}: {source}; choose another file for --log", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// `/save` will not replace a file.
    #[error("{} already exists; /save does not overwrite files, choose another name", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// Writing failed (disk full, folder missing).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// The session's transcript: recent lines in memory, and optionally a log file.
#[derive(Debug, Default)]
pub struct Transcript {
    seen: VecDeque<String>,
    log: Option<(PathBuf, File)>,
    /// Set after a failed log write, so that a full disk is reported once.
    log_failing: bool,
}

impl Transcript {
    /// A transcript in memory only.
    pub fn new() -> Transcript {
        Transcript::default()
    }

    /// A transcript that also appends every line to `path` (created 0600 if new). An existing
    /// file must be ours and private, and a symbolic link is refused: the chat is plaintext
    /// here, and a planted link or file would hand it (or our shell's start-up file) to
    /// someone else (see [`crate::private_file::open_checked`]).
    pub fn with_log(path: &Path) -> Result<Transcript, TranscriptError> {
        use crate::private_file::{Others, open_checked, options};
        let mut append = options();
        append.create(true).append(true);
        let file = open_checked(path, append, Others::NoAccess).map_err(|source| {
            TranscriptError::Open {
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(Transcript {
            log: Some((path.to_owned(), file)),
            ..Transcript::default()
        })
    }

    /// Records one update. Returns an error the first time the log file fails (later failures
    /// are silent until a write succeeds again); the in-memory transcript is kept regardless.
    pub fn record(&mut self, update: &Update) -> Option<TranscriptError> {
        let lines = lines(update);
        if lines.is_empty() {
            return None;
        }
        let mut problem = None;
        if let Some((path, file)) = &mut self.log {
            let mut text = lines.join("\n");
            text.push('\n');
            match file.write_all(text.as_bytes()) {
                Ok(()) => self.log_failing = false,
                Err(source) if !self.log_failing => {
                    self.log_failing = true;
                    problem = Some(TranscriptError::Write {
                        path: path.clone(),
                        source,
                    });
                }
                Err(_) => {}
            }
        }
        for line in lines {
            if self.seen.len() == SEEN_LIMIT {
                self.seen.pop_front();
            }
            self.seen.push_back(line);
        }
        problem
    }

    /// Writes every line seen (up to [`SEEN_LIMIT`]) to a new file `path`, created 0600.
    /// Returns how many lines were written.
    pub fn save(&self, path: &Path) -> Result<usize, TranscriptError> {
        let write_error = |source| TranscriptError::Write {
            path: path.to_owned(),
            source,
        };
        let mut file = crate::private_file::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| match source.kind() {
                io::ErrorKind::AlreadyExists => TranscriptError::Exists {
                    path: path.to_owned(),
                },
                _ => write_error(source),
            })?;
        let mut text = String::new();
        for line in &self.seen {
            text.push_str(line);
            text.push('\n');
        }
        file.write_all(text.as_bytes()).map_err(write_error)?;
        file.sync_all().map_err(write_error)?;
        Ok(self.seen.len())
    }

    /// The lines seen so far, oldest first.
    pub fn seen(&self) -> impl Iterator<Item = &str> {
        self.seen.iter().map(String::as_str)
    }
}

/// An update as transcript lines: the local date and time (transcripts span days), then the
/// same text as on screen, without colour, and each room's line names its room
/// (`[#lab1] <bob> hi`) whether or not the screen did. Help is not part of the conversation.
fn lines(update: &Update) -> Vec<String> {
    if let UpdateKind::Help | UpdateKind::StaffHelp = update.kind {
        return Vec::new();
    }
    let stamp = date_time(update.at);
    render_lines(&update.kind, false, true)
        .into_iter()
        .map(|line| format!("{stamp} {line}"))
        .collect()
}

fn date_time(unix_millis: u64) -> String {
    let millis = i64::try_from(unix_millis).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(utc) => utc
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => "????-??-?? ??:??".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Update {
        Update::now(UpdateKind::Message {
            room: "#class".into(),
            from: "alice".into(),
            text: text.into(),
            own: false,
        })
    }

    #[test]
    fn lines_are_plain_and_dated() {
        let mut transcript = Transcript::new();
        transcript.record(&message("hi \u{1b}[31mred"));
        transcript.record(&Update::now(UpdateKind::Help));
        let seen: Vec<&str> = transcript.seen().collect();
        assert_eq!(seen.len(), 1, "help is not recorded");
        assert!(seen[0].contains(" [#class] <alice> hi"), "{}", seen[0]);
        assert!(
            !seen[0].contains('\u{1b}'),
            "no escape sequences in a transcript"
        );
        assert_eq!(&seen[0][4..5], "-", "starts with the date: {}", seen[0]);
    }

    #[test]
    fn room_lines_name_their_room_and_private_ones_do_not() {
        let mut transcript = Transcript::new();
        transcript.record(&Update::now(UpdateKind::Action {
            room: "#lab1".into(),
            from: "bob".into(),
            text: "waves".into(),
            own: false,
        }));
        transcript.record(&Update::now(UpdateKind::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            outgoing: false,
        }));
        transcript.record(&Update::now(UpdateKind::Entered {
            room: "#lab1".into(),
            users: vec!["alice".into(), "bob".into()],
            topic: None,
            by: None,
        }));
        let seen: Vec<&str> = transcript.seen().collect();
        assert!(seen[0].ends_with(" [#lab1] * bob waves"), "{}", seen[0]);
        assert!(
            seen[1].ends_with(" *bob* psst") && !seen[1].contains('['),
            "{}",
            seen[1]
        );
        assert!(
            seen[2].ends_with(" -!- you joined #lab1; 2 users in #lab1: alice bob"),
            "{}",
            seen[2]
        );
    }

    #[test]
    fn memory_is_bounded() {
        let mut transcript = Transcript::new();
        for i in 0..SEEN_LIMIT + 5 {
            transcript.record(&message(&i.to_string()));
        }
        assert_eq!(transcript.seen().count(), SEEN_LIMIT);
        assert!(transcript.seen().next().unwrap().ends_with("<alice> 5"));
    }

    #[test]
    fn log_appends_and_save_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chat.log");
        std::fs::write(&log, "earlier\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(&log, private).unwrap();
        }
        let mut transcript = Transcript::with_log(&log).unwrap();
        assert!(transcript.record(&message("one")).is_none());
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.starts_with("earlier\n") && text.ends_with("<alice> one\n"),
            "{text}"
        );

        let saved = dir.path().join("saved.txt");
        assert_eq!(transcript.save(&saved).unwrap(), 1);
        assert!(matches!(
            transcript.save(&saved),
            Err(TranscriptError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&saved).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_failing_log_is_reported_once() {
        let mut transcript = Transcript::with_log(Path::new("/dev/full")).unwrap();
        assert!(transcript.record(&message("one")).is_some());
        assert!(transcript.record(&message("two")).is_none());
        assert_eq!(transcript.seen().count(), 2, "kept in memory all the same");
    }
}
