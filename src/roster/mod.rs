//! Roster mode: a keyfile per student, derived from one class secret that only the server holds.
//!
//! This module owns the roster file (who is in the class, with which role and key generation,
//! and who is revoked). Its submodules own the rest of roster mode:
//!
//! - [`keys`]: the roster secret, the construction of each student's key from it, and the
//!   server's lookup of which student's key opened a hello;
//! - [`issue`]: `keygen --roster`, which writes one keyfile per student;
//! - [`reload`]: the roster a running server holds, reloaded on SIGHUP;
//! - [`admit`]: which nick a student's key (or a guest's class key) may use.
//!
//! Like [`crate::keyfile`], nothing here prints: functions return reports and errors for the
//! binaries to show. Nothing here holds or shows a key except through [`crate::crypto`].
//!
//! # Format
//!
//! A plain text file, one student per line, easy to write by hand or to export from a
//! spreadsheet:
//!
//! ```text
//! # fernchat roster for CS 101, autumn term
//! # login     gen  role         display name
//! alice       1    student      Alice Martin
//! bob         2    ta           Bob Okafor        # lost his keyfile on 3 Nov: new key
//! carol       1    instructor   Dr. Carol Ng
//! -dave       1    student      Dave Li           # revoked: left the course
//! erin
//! ```
//!
//! Each line is `LOGIN [GEN [ROLE [DISPLAY NAME]]]`, fields separated by spaces or tabs:
//!
//! - `LOGIN`: the student's nick in the chat. It follows the chat's nick rules (2 to 16 letters,
//!   digits, `_` or `-`, starting with a letter, not a reserved word such as `admin`, not
//!   starting with `guest-`, which marks guests) and is unique in the roster ignoring case
//!   (`Alice` and `alice` are the same student).
//! - `GEN`: the key generation, a whole number from 1 to 9999 (1 if left out). A student's key
//!   depends on the login and this number only, so to replace one lost or leaked keyfile you
//!   add one to that student's number and run `keygen --roster` again: that student gets a new
//!   keyfile, the old one stops working, and nobody else's key changes.
//! - `ROLE`: `student` (if left out), `ta` or `instructor`.
//! - `DISPLAY NAME`: the rest of the line, spaces allowed, at most 64 characters (the login if
//!   left out). To give one, write `GEN` and `ROLE` first: `alice 1 student Alice Martin`.
//! - A `-` just before the login revokes the student (`-dave 1 student Dave Li`): the server
//!   refuses that key, saying it was revoked, and closes the student's connection when it
//!   reloads the roster. Keeping the line (rather than deleting it) keeps the login reserved,
//!   so nobody else can take the nick, and lets the server name the reason.
//! - `#` starts a comment: a whole line, or the end of a line after a space or tab. Blank lines
//!   are ignored. (So a display name cannot contain ` #`.)
//!
//! Errors name the line and say how to fix it; the whole file is checked before anything is
//! written or changed.

pub mod admit;
pub mod issue;
pub mod keys;
pub mod reload;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::protocol::event::{NickError, nick_key, validate_nick};

/// Where `keygen --roster` and `server --roster` look for the roster by default.
pub const DEFAULT_ROSTER_PATH: &str = "roster.txt";

/// The highest key generation: far more replacements than any student needs, and short to type.
pub const MAX_GENERATION: u32 = 9999;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 64;

/// What a guest's nick starts with (ignoring case). Guests join with a class key when the
/// server allows it (`--allow-class-key`); the prefix shows everyone, in every client, that
/// the speaker is not a student on the roster. No roster login may have it.
pub const GUEST_PREFIX: &str = "guest-";

/// Whether `nick` is a guest's nick: it starts with [`GUEST_PREFIX`], ignoring case.
pub fn is_guest_nick(nick: &str) -> bool {
    nick.get(..GUEST_PREFIX.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(GUEST_PREFIX))
}

/// A roster larger than this is not a class list; refusing it bounds what we read.
const MAX_ROSTER_BYTES: u64 = 1024 * 1024;

/// What a person does in the class. Roles are recorded now; commands that need one (an
/// instructor revoking from the chat) come later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// The default.
    #[default]
    Student,
    /// A teaching assistant.
    Ta,
    /// The instructor.
    Instructor,
}

impl Role {
    /// The word used in the roster file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Student => "student",
            Role::Ta => "ta",
            Role::Instructor => "instructor",
        }
    }

    fn parse(word: &str) -> Option<Role> {
        match word {
            "student" => Some(Role::Student),
            "ta" => Some(Role::Ta),
            "instructor" => Some(Role::Instructor),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the roster: one student.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The login as written (its nick in the chat).
    pub login: String,
    /// The display name, if one was given.
    pub display_name: Option<String>,
    /// Student, TA or instructor.
    pub role: Role,
    /// The key generation (1 to [`MAX_GENERATION`]).
    pub generation: u32,
    /// Marked with a leading `-`.
    pub revoked: bool,
    /// 1-based line number in the roster file, for messages.
    pub line: usize,
}

impl Entry {
    /// The login as keys and file names use it: ASCII lower case, like nick uniqueness.
    pub fn login_key(&self) -> String {
        nick_key(&self.login)
    }

    /// The display name, or the login when none was given.
    pub fn shown_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.login)
    }
}

/// A parsed roster: its entries in file order, logins unique ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    entries: Vec<Entry>,
}

/// What is wrong with one line, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// The login breaks the nick rules.
    #[error("{shown} cannot be a login: {reason}. Logins follow the chat's nick rules")]
    BadLogin {
        /// The login as written (shortened if long).
        shown: String,
        /// Which rule it breaks.
        reason: NickError,
    },
    /// A login that looks like a guest's nick.
    #[error(
        "{shown} cannot be a login: nicks starting with {GUEST_PREFIX} are for guests who join \
         with the class key; choose another login"
    )]
    GuestLogin {
        /// The login as written (shortened if long).
        shown: String,
    },
    /// A `-` with nothing after it.
    #[error("a '-' revokes the login right after it, but none follows; write -LOGIN, e.g. -dave")]
    RevokeWithoutLogin,
    /// The second field is not a generation number.
    #[error(
        "the second field is the key generation, a number from 1 to {MAX_GENERATION}, but it is \
         {shown}; to give a display name, write the generation and role first: \
         {login} 1 student {shown} ..."
    )]
    BadGeneration {
        /// The login of the line.
        login: String,
        /// The field as written (shortened if long).
        shown: String,
    },
    /// The third field is not a role.
    #[error(
        "the third field is the role, student, ta or instructor, but it is {shown}; \
         to give a display name, write the role first: {login} {generation} student {shown} ..."
    )]
    BadRole {
        /// The login of the line.
        login: String,
        /// The generation of the line.
        generation: u32,
        /// The field as written (shortened if long).
        shown: String,
    },
    /// The display name is too long.
    #[error("the display name has {len} characters; the limit is {MAX_DISPLAY_NAME}")]
    NameTooLong {
        /// Its length in characters.
        len: usize,
    },
    /// The display name has a control character (a tab inside is fine).
    #[error("the display name contains a control character; retype it as plain text")]
    NameControl,
}

/// Why a roster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Too large to be a roster.
    #[error("{path} is larger than {} MiB, too large to be a roster", MAX_ROSTER_BYTES >> 20)]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// One line is wrong.
    #[error("{path}, line {line}: {problem}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and how to fix it.
        problem: LineProblem,
    },
    /// The same login twice.
    #[error(
        "{path}, line {line}: the login {login} is already on line {first_line} (logins are \
         unique ignoring case); keep one line per student, and raise its generation to give a \
         new key"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The second occurrence.
        line: usize,
        /// The first occurrence.
        first_line: usize,
        /// The login.
        login: String,
    },
    /// No students at all.
    #[error(
        "{path} lists no students; write one login per line (see `keygen --help` for the format)"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

impl Roster {
    /// Reads and parses the roster at `path`.
    pub fn load(path: &Path) -> Result<Roster, RosterError> {
        let io_err = |source| RosterError::Io {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(path)
            .map_err(io_err)?
            // One byte more than allowed tells "too large" apart from "exactly at the limit".
            .take(MAX_ROSTER_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        if bytes.len() as u64 > MAX_ROSTER_BYTES {
            return Err(RosterError::TooLarge {
                path: path.to_owned(),
            });
        }
        // Lossy: a byte that is not UTF-8 then shows up in the error of the line it is on.
        Roster::parse(path, &String::from_utf8_lossy(&bytes))
    }

    /// Parses roster text. `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Roster, RosterError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let entry = parse_line(raw, line).map_err(|problem| RosterError::Line {
                path: path.to_owned(),
                line,
                problem,
            })?;
            let Some(entry) = entry else { continue };
            if let Some(first) = entries
                .iter()
                .find(|e| e.login.eq_ignore_ascii_case(&entry.login))
            {
                return Err(RosterError::Duplicate {
                    path: path.to_owned(),
                    line,
                    first_line: first.line,
                    login: entry.login,
                });
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(RosterError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Roster { entries })
    }

    /// Every entry, in file order (revoked ones included).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry for `login`, ignoring ASCII case.
    pub fn find(&self, login: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.login.eq_ignore_ascii_case(login))
    }

    /// What a reload from `self` to `new` takes away: the logins whose key worked under `self`
    /// and no longer works under `new` (revoked, removed, or given a new generation). The
    /// server closes their connections.
    pub fn withdrawn_by(&self, new: &Roster) -> Vec<Withdrawn> {
        self.entries
            .iter()
            .filter(|old| !old.revoked)
            .filter_map(|old| {
                let why = match new.find(&old.login) {
                    None => Withdrawal::Removed,
                    Some(now) if now.revoked => Withdrawal::Revoked,
                    Some(now) if now.generation != old.generation => Withdrawal::Replaced {
                        generation: now.generation,
                    },
                    Some(_) => return None,
                };
                Some(Withdrawn {
                    login: old.login.clone(),
                    generation: old.generation,
                    why,
                })
            })
            .collect()
    }
}

/// A key that a roster reload stopped accepting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    /// The login it belonged to.
    pub login: String,
    /// Its generation.
    pub generation: u32,
    /// Why it stopped working.
    pub why: Withdrawal,
}

/// Why a key stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The student was marked revoked.
    Revoked,
    /// The student's line was deleted.
    Removed,
    /// The student was issued a key of this newer generation.
    Replaced {
        /// The generation now in force.
        generation: u32,
    },
}

impl fmt::Display for Withdrawal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Withdrawal::Revoked => f.write_str("this key was revoked by the instructor"),
            Withdrawal::Removed => f.write_str("this student was removed from the roster"),
            Withdrawal::Replaced { generation } => write!(
                f,
                "this key was replaced by a new one (generation {generation}); \
                 ask the instructor for the new keyfile"
            ),
        }
    }
}

/// Parses one line: `None` for blank lines and comments.
fn parse_line(raw: &str, line: usize) -> Result<Option<Entry>, LineProblem> {
    // Windows Notepad may start a UTF-8 file with a byte-order mark.
    let raw = if line == 1 {
        raw.trim_start_matches('\u{feff}')
    } else {
        raw
    };
    let text = strip_comment(raw).trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (first, rest) = split_field(text);
    let (revoked, login) = match first.strip_prefix('-') {
        Some("") => return Err(LineProblem::RevokeWithoutLogin),
        Some(login) => (true, login),
        None => (false, first),
    };
    validate_nick(login).map_err(|reason| LineProblem::BadLogin {
        shown: shown(login),
        reason,
    })?;
    if is_guest_nick(login) {
        return Err(LineProblem::GuestLogin {
            shown: shown(login),
        });
    }
    let (gen_field, rest) = split_field(rest);
    let generation = if gen_field.is_empty() {
        1
    } else {
        // Digits only: `parse` would also take "+1", which is not what the format says.
        Some(gen_field)
            .filter(|f| f.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|f| f.parse::<u32>().ok())
            .filter(|g| (1..=MAX_GENERATION).contains(g))
            .ok_or_else(|| LineProblem::BadGeneration {
                login: login.to_owned(),
                shown: shown(gen_field),
            })?
    };
    let (role_field, rest) = split_field(rest);
    let role = if role_field.is_empty() {
        Role::Student
    } else {
        Role::parse(role_field).ok_or_else(|| LineProblem::BadRole {
            login: login.to_owned(),
            generation,
            shown: shown(role_field),
        })?
    };
    let display_name = match rest.trim() {
        "" => None,
        name => {
            let len = name.chars().count();
            if len > MAX_DISPLAY_NAME {
                return Err(LineProblem::NameTooLong { len });
            }
            if name.chars().any(|c| c.is_control() && c != '\t') {
                return Err(LineProblem::NameControl);
            }
            Some(name.to_owned())
        }
    };
    Ok(Some(Entry {
        login: login.to_owned(),
        display_name,
        role,
        generation,
        revoked,
        line,
    }))
}

/// The line without its comment: a `#` at the start, or after a space or tab.
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    let cut = line
        .match_indices('#')
        .find(|(i, _)| line[..*i].ends_with([' ', '\t']))
        .map(|(i, _)| i);
    cut.map_or(line, |i| &line[..i])
}

/// The first whitespace-separated field of `text`, and what follows it (not trimmed).
fn split_field(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find([' ', '\t']) {
        Some(end) => (&text[..end], &text[end..]),
        None => (text, ""),
    }
}

/// A field as an error may show it: quoted, and shortened if long (the roster is not secret,
/// but a pasted paragraph should not fill the screen).
fn shown(field: &str) -> String {
    const MAX: usize = 24;
    if field.chars().count() <= MAX {
        format!("{field:?}")
    } else {
        let short: String = field.chars().take(MAX).collect();
        format!("{short:?}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Roster, RosterError> {
        Roster::parse(Path::new("roster.txt"), text)
    }

    #[test]
    fn the_documented_example_parses() {
        let roster = parse(
            "# fernchat roster for CS 101, autumn term\n\
             # login     gen  role         display name\n\
             alice       1    student      Alice Martin\n\
             bob         2    ta           Bob Okafor        # lost his keyfile on 3 Nov: new key\n\
             carol       1    instructor   Dr. Carol Ng\n\
             -dave       1    student      Dave Li           # revoked: left the course\n\
             erin\n",
        )
        .unwrap();
        let e = roster.entries();
        assert_eq!(e.len(), 5);
        assert_eq!(e[0].display_name.as_deref(), Some("Alice Martin"));
        assert_eq!((e[1].generation, e[1].role), (2, Role::Ta));
        assert_eq!(e[1].display_name.as_deref(), Some("Bob Okafor"));
        assert_eq!(e[2].display_name.as_deref(), Some("Dr. Carol Ng"));
        assert!(e[3].revoked && e[3].login == "dave" && e[3].line == 6);
        assert_eq!(
            (e[4].generation, e[4].role, e[4].shown_name()),
            (1, Role::Student, "erin")
        );
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let err = parse("alice\nbob Bob Okafor\n").unwrap_err().to_string();
        assert!(err.starts_with("roster.txt, line 2:"), "{err}");
        assert!(err.contains("bob 1 student \"Bob\""), "{err}");

        let err = parse("alice 1 Alice Martin\n").unwrap_err().to_string();
        assert!(
            err.contains("line 1") && err.contains("alice 1 student"),
            "{err}"
        );

        let err = parse("alice\n\nALICE 2\n").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("line 1"), "{err}");

        assert!(matches!(
            parse("Guest-Sam\n"),
            Err(RosterError::Line {
                problem: LineProblem::GuestLogin { .. },
                ..
            })
        ));
        assert!(parse("guestsam\n").is_ok());
        for bad in [
            "1alice",
            "a",
            "admin",
            "al.ice",
            "-",
            "alice 0",
            "alice 10000",
            "alice +1",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                matches!(err, RosterError::Line { line: 1, .. }),
                "{bad}: {err}"
            );
        }
        assert!(matches!(
            parse("# only\n\n"),
            Err(RosterError::Empty { .. })
        ));
    }

    #[test]
    fn comments_need_a_space_before_the_hash() {
        let roster = parse("alice 1 student Team#3 # note\n").unwrap();
        assert_eq!(roster.entries()[0].display_name.as_deref(), Some("Team#3"));
    }

    #[test]
    fn a_reload_withdraws_revoked_removed_and_replaced_keys() {
        let old = parse("alice\nbob\ncarol\ndave\n-erin\n").unwrap();
        let new = parse("alice\n-bob\ndave 2\nerin\n").unwrap();
        let withdrawn = old.withdrawn_by(&new);
        let whys: Vec<(&str, Withdrawal)> = withdrawn
            .iter()
            .map(|w| (w.login.as_str(), w.why))
            .collect();
        assert_eq!(
            whys,
            vec![
                ("bob", Withdrawal::Revoked),
                ("carol", Withdrawal::Removed),
                ("dave", Withdrawal::Replaced { generation: 2 }),
            ]
        );
    }
}
