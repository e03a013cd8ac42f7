//! `keygen --roster`: one keyfile per student, ready to hand out, and the roster secret the
//! server needs.
//!
//! Running it again is safe and is how keys are replaced: a student whose file already holds
//! the right key is left alone; a student whose generation was raised in the roster gets the
//! new key in place of the old file (and the report says so); a file that holds a key this
//! roster secret did not make for that student is never touched (it is reported, and keygen
//! fails, so nothing is silently lost). Revoked students get no file.
//!
//! It returns an [`IssueReport`] for keygen to print; it prints nothing itself.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::keys::{RosterSecret, created_and_fingerprint};
use super::{Entry, Roster, RosterError};
use crate::crypto::{Fingerprint, RoomKey};
use crate::keyfile::{self, KeyfileError, KeyfileWarning, Overwrite, write_secret_file};

/// Where `keygen --roster` writes the students' keyfiles by default.
pub const DEFAULT_OUT_DIR: &str = "keys/students";

/// How far above a student's roster generation an existing file is recognised, to explain a
/// generation that was lowered by mistake.
const GENERATIONS_AHEAD: u32 = 10;

/// What `keygen --roster` was asked to do.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    /// The roster file.
    pub roster: PathBuf,
    /// The folder for the students' keyfiles.
    pub out_dir: PathBuf,
    /// The roster secret's file (created if missing).
    pub secret: PathBuf,
}

/// Why nothing could be issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The roster does not parse.
    #[error(transparent)]
    Roster(#[from] RosterError),
    /// The roster secret could not be read or created.
    #[error("the roster secret: {0}")]
    Secret(#[source] KeyfileError),
    /// The secret would be handed out with the students' files.
    #[error(
        "the roster secret {secret} is inside the students' folder {out_dir}, which is meant to be \
         handed out; keep the secret elsewhere (the default is keys/roster.secret) or choose \
         another --out"
    )]
    SecretInOutDir {
        /// The secret's path.
        secret: PathBuf,
        /// The students' folder.
        out_dir: PathBuf,
    },
    /// The students' folder could not be made.
    #[error("{path}: {source}; check that you may write there")]
    OutDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
}

/// What happened to one student's keyfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new file was written.
    Written,
    /// The file already held this key; left as it was.
    Unchanged,
    /// The file held the key of an earlier generation and now holds the new one.
    Replaced {
        /// The generation the old file held.
        from: u32,
    },
    /// Revoked: no file written. `file_left` says an older file is still in the folder.
    Revoked {
        /// Whether a keyfile for this student is still in the folder.
        file_left: bool,
    },
    /// An existing file was left untouched because it is not this student's key from this
    /// secret; the reason says what to do.
    Refused(String),
}

/// One student's line in the report.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The login.
    pub login: String,
    /// The roster generation.
    pub generation: u32,
    /// The keyfile's path.
    pub path: PathBuf,
    /// The fingerprint of the student's key (none for revoked students).
    pub fingerprint: Option<Fingerprint>,
    /// What was done.
    pub outcome: Outcome,
}

/// Everything `keygen --roster` did, for keygen to print.
#[derive(Debug)]
pub struct IssueReport {
    /// What was asked.
    pub options: IssueOptions,
    /// Whether the roster secret was created by this run.
    pub secret_created: bool,
    /// The roster secret's fingerprint.
    pub secret_fingerprint: Fingerprint,
    /// Warnings about the secret's file (loose permissions).
    pub secret_warnings: Vec<KeyfileWarning>,
    /// One line per roster entry, in roster order.
    pub students: Vec<Issued>,
}

impl IssueReport {
    /// Whether every student got the file they should have (no [`Outcome::Refused`]).
    pub fn all_issued(&self) -> bool {
        !self
            .students
            .iter()
            .any(|s| matches!(s.outcome, Outcome::Refused(_)))
    }

    /// One line per student: login, generation, fingerprint, file, what was done. For stdout.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for s in &self.students {
            let fingerprint = s
                .fingerprint
                .map_or_else(|| "-".repeat(19), |f| f.to_string());
            let what = match &s.outcome {
                Outcome::Written => "written".to_owned(),
                Outcome::Unchanged => "unchanged".to_owned(),
                Outcome::Replaced { from } => {
                    format!(
                        "REPLACED generation {from} by {}: hand out the new file",
                        s.generation
                    )
                }
                Outcome::Revoked { file_left: false } => "revoked: no keyfile".to_owned(),
                Outcome::Revoked { file_left: true } => {
                    "revoked: no keyfile; delete the old file so it is not handed out".to_owned()
                }
                Outcome::Refused(why) => format!("NOT WRITTEN: {why}"),
            };
            let _ = writeln!(
                out,
                "{:<16} gen {:<4} {fingerprint}  {}  {what}",
                s.login,
                s.generation,
                s.path.display()
            );
        }
        out
    }

    /// The summary and the next steps, with the exact server command. For stderr.
    pub fn next_steps(&self) -> String {
        let o = &self.options;
        let count =
            |f: fn(&Outcome) -> bool| self.students.iter().filter(|s| f(&s.outcome)).count();
        let mut out = String::new();
        for warning in &self.secret_warnings {
            let _ = writeln!(out, "keygen: warning: {warning}");
        }
        let mode = if cfg!(unix) { " (mode 0600)" } else { "" };
        let secret_verb = if self.secret_created {
            "Wrote a new"
        } else {
            "Used the"
        };
        let _ = writeln!(
            out,
            "{secret_verb} roster secret {}{mode}, fingerprint {}. Only the server holds it: \
             never hand it out.",
            o.secret.display(),
            self.secret_fingerprint
        );
        let _ = writeln!(
            out,
            "Students' keyfiles in {}{mode}: {} written, {} replaced, {} unchanged, {} revoked, {} not written.",
            o.out_dir.display(),
            count(|o| *o == Outcome::Written),
            count(|o| matches!(o, Outcome::Replaced { .. })),
            count(|o| *o == Outcome::Unchanged),
            count(|o| matches!(o, Outcome::Revoked { .. })),
            count(|o| matches!(o, Outcome::Refused(_))),
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "Next:");
        let _ = writeln!(
            out,
            "  1. Give each student their own file (LOGIN.key) privately; they save it as {} \
             (or pass --key PATH to the client) and join with their login as nick.",
            keyfile::DEFAULT_KEY_PATH
        );
        let _ = writeln!(
            out,
            "  2. Start the server with:\n     cargo run --bin server -- --roster {} --roster-secret {}",
            o.roster.display(),
            o.secret.display()
        );
        let _ = writeln!(
            out,
            "     (add --allow-class-key --key keys/class.key to let guests in with the class key)"
        );
        let _ = writeln!(
            out,
            "  3. To replace a lost keyfile, raise that student's generation in {} and run this \
             again; to revoke, put a '-' before the login; then reload the server (SIGHUP).",
            o.roster.display()
        );
        out
    }
}

/// Writes a keyfile per student of the roster into the folder, creating the roster secret if it
/// is missing. `passphrase` is asked only if the secret's file is sealed.
pub fn issue(
    options: &IssueOptions,
    passphrase: &mut dyn FnMut(&Path) -> Result<Zeroizing<String>, KeyfileError>,
) -> Result<IssueReport, IssueError> {
    // The whole roster is checked before anything is written.
    let roster = Roster::load(&options.roster)?;
    if secret_is_inside(&options.secret, &options.out_dir) {
        return Err(IssueError::SecretInOutDir {
            secret: options.secret.clone(),
            out_dir: options.out_dir.clone(),
        });
    }
    let (secret, secret_created, secret_warnings) =
        match RosterSecret::load(&options.secret, passphrase) {
            Ok((secret, warnings)) => (secret, false, warnings),
            Err(KeyfileError::NotFound { .. }) => {
                let secret = RosterSecret::generate();
                secret.create(&options.secret).map_err(IssueError::Secret)?;
                (secret, true, Vec::new())
            }
            Err(e) => return Err(IssueError::Secret(e)),
        };
    create_private_dir(&options.out_dir).map_err(|source| IssueError::OutDir {
        path: options.out_dir.clone(),
        source,
    })?;
    let students = roster
        .entries()
        .iter()
        .map(|entry| issue_one(entry, &secret, &options.out_dir))
        .collect();
    Ok(IssueReport {
        options: options.clone(),
        secret_created,
        secret_fingerprint: secret.fingerprint(),
        secret_warnings,
        students,
    })
}

fn issue_one(entry: &Entry, secret: &RosterSecret, out_dir: &Path) -> Issued {
    let path = out_dir.join(format!("{}.key", entry.login_key()));
    let mut issued = Issued {
        login: entry.login.clone(),
        generation: entry.generation,
        path: path.clone(),
        fingerprint: None,
        outcome: Outcome::Written,
    };
    if entry.revoked {
        issued.outcome = Outcome::Revoked {
            file_left: path.exists(),
        };
        return issued;
    }
    let key = secret.student_key(&entry.login, entry.generation);
    issued.fingerprint = Some(key.fingerprint());
    let body = student_keyfile(entry, &key);
    issued.outcome = match write_secret_file(&path, &body, Overwrite::Never) {
        Ok(()) => Outcome::Written,
        Err(KeyfileError::AlreadyExists { .. }) => {
            match existing_generation(&path, entry, secret) {
                Ok(Some(held)) if held == entry.generation => Outcome::Unchanged,
                Ok(Some(held)) if held < entry.generation => {
                    match write_secret_file(&path, &body, Overwrite::Replace) {
                        Ok(()) => Outcome::Replaced { from: held },
                        Err(e) => Outcome::Refused(e.to_string()),
                    }
                }
                Ok(Some(held)) => Outcome::Refused(format!(
                    "the file holds generation {held}, newer than the roster's {}; generations only \
                 go up: write {} {} in the roster",
                    entry.generation,
                    entry.login,
                    held + 1
                )),
                Ok(None) => Outcome::Refused(format!(
                    "the file holds a key that the roster secret did not make for {} (another \
                 class's folder, or a replaced secret?); move the file away and run again",
                    entry.login
                )),
                Err(e) => Outcome::Refused(format!("{e}; move the file away and run again")),
            }
        }
        Err(e) => Outcome::Refused(e.to_string()),
    };
    issued
}

/// Which generation of `entry`'s key the existing file at `path` holds, if any this secret
/// makes (up to a few above the roster's).
fn existing_generation(
    path: &Path,
    entry: &Entry,
    secret: &RosterSecret,
) -> Result<Option<u32>, KeyfileError> {
    // keygen --roster writes plain files; a sealed one here is someone else's.
    let held = keyfile::load(path, &mut |p: &Path| {
        Err(KeyfileError::NoPassphrase { path: p.to_owned() })
    })?
    .key
    .fingerprint();
    Ok((1..=entry.generation.saturating_add(GENERATIONS_AHEAD))
        .find(|&g| secret.student_key(&entry.login, g).fingerprint() == held))
}

/// A student's keyfile: the keyfile format, with comments saying whose key it is.
fn student_keyfile(entry: &Entry, key: &RoomKey) -> String {
    let name = match &entry.display_name {
        Some(name) => format!("{} ({name})", entry.login),
        None => entry.login.clone(),
    };
    format!(
        "# fernchat key of {name}, {}, key generation {}\n\
         # Yours alone: whoever holds it can chat as {}. Keep it private; never share it.\n\
         # Save it as {} in your fernchat folder (or pass --key PATH to the client).\n\
         {}{}\n",
        entry.role,
        entry.generation,
        entry.login,
        keyfile::DEFAULT_KEY_PATH,
        created_and_fingerprint(key),
        key.expose_secret()
    )
}

/// Whether `secret` lies inside `dir`, compared as absolute paths (without following links).
fn secret_is_inside(secret: &Path, dir: &Path) -> bool {
    match (std::path::absolute(secret), std::path::absolute(dir)) {
        (Ok(secret), Ok(dir)) => secret.starts_with(dir),
        _ => false,
    }
}

/// Makes the students' folder (and its parents); on Unix a folder it creates is mode 0700.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}
