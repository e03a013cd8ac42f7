//! Roster mode's rules for nicks: a student's key speaks only as that student, and guests
//! (class-key holders, when the server allows them) are marked as guests.
//!
//! The server's connection code asks these functions and sends what they return; they hold no
//! state and know nothing of sockets, so the rules can be read (and tested) in one place:
//!
//! - a student's nick is the login on the roster (in any ASCII case), at the hello and forever
//!   after: a `/nick` to anything else is refused, so no key holder can write as another
//!   student, and nobody else can take a student's nick;
//! - a guest's nick starts with [`super::GUEST_PREFIX`] (`guest-sam`), which no login may,
//!   so guests are visibly guests in every client and never collide with a student;
//! - a refused key (revoked, or replaced by a newer generation) gets a message naming the
//!   student, the generation and the key's fingerprint, never the key.

use super::{Entry, GUEST_PREFIX, Withdrawal, is_guest_nick};
use crate::crypto::Fingerprint;

/// Who a connection is, according to the key that opened its hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A student on the roster.
    Student {
        /// The login (the student's nick).
        login: String,
        /// The display name, or the login.
        shown_name: String,
        /// The role word (`student`, `ta`, `instructor`).
        role: &'static str,
        /// The key generation in use.
        generation: u32,
    },
    /// A class-key holder let in by `--allow-class-key`.
    Guest,
}

impl Member {
    /// The member for a roster entry.
    pub fn student(entry: &Entry) -> Member {
        Member::Student {
            login: entry.login.clone(),
            shown_name: entry.shown_name().to_owned(),
            role: entry.role.as_str(),
            generation: entry.generation,
        }
    }

    /// The login, for a student.
    pub fn login(&self) -> Option<&str> {
        match self {
            Member::Student { login, .. } => Some(login),
            Member::Guest => None,
        }
    }

    /// How the server log names this member (never a key): `alice (Alice Martin, ta,
    /// key generation 2)` or `a guest (class key)`.
    pub fn describe(&self) -> String {
        match self {
            Member::Student {
                login,
                shown_name,
                role,
                generation,
            } => {
                format!("roster entry {login} ({shown_name}, {role}, key generation {generation})")
            }
            Member::Guest => "a guest (class key)".to_owned(),
        }
    }

    /// Whether `nick` may be this member's nick, at the hello or in a rename. The error is
    /// the message for the client, with the fix.
    pub fn may_use(&self, nick: &str) -> Result<(), String> {
        match self {
            Member::Student { login, .. } if nick.eq_ignore_ascii_case(login) => Ok(()),
            Member::Student { login, .. } => Err(format!(
                "your key belongs to {login} on the class roster, so your nick is {login}; \
                 join with --nick {login} (a roster key cannot use another nick)"
            )),
            Member::Guest if is_guest_nick(nick) => Ok(()),
            Member::Guest => Err(format!(
                "you joined with the class key, as a guest: a guest's nick starts with \
                 {GUEST_PREFIX} (for example --nick {GUEST_PREFIX}{}); students use their own \
                 keyfile from the instructor",
                suggestion(nick)
            )),
        }
    }
}

/// The message for a hello made with a key the roster no longer accepts.
pub fn refused_key_message(
    login: &str,
    generation: u32,
    fingerprint: Fingerprint,
    why: Withdrawal,
) -> String {
    let key = format!("the key of {login} (generation {generation}, fingerprint {fingerprint})");
    match why {
        Withdrawal::Revoked => {
            format!("{key} was revoked by the instructor; ask them if you think this is a mistake")
        }
        Withdrawal::Removed => {
            format!("{key} is no longer on the class roster; ask the instructor")
        }
        Withdrawal::Replaced { generation: now } => format!(
            "{key} was replaced by generation {now}; use the new keyfile from the instructor"
        ),
    }
}

/// The message for a member whose key a roster reload withdrew, before the connection closes.
pub fn withdrawn_message(why: Withdrawal) -> String {
    format!("{why}; you have been disconnected")
}

/// A guest nick suggestion built from what was asked: the nick, shortened to fit.
fn suggestion(nick: &str) -> String {
    let room = 16 - GUEST_PREFIX.len();
    let kept: String = nick
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(room)
        .collect();
    if kept.is_empty() {
        "sam".to_owned()
    } else {
        kept.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Role, Roster};
    use std::path::Path;

    fn alice() -> Member {
        let roster = Roster::parse(Path::new("r"), "alice 2 ta Alice Martin\n").unwrap();
        Member::student(&roster.entries()[0])
    }

    #[test]
    fn a_student_keeps_the_login_as_nick() {
        let alice = alice();
        assert!(alice.may_use("alice").is_ok());
        assert!(alice.may_use("ALICE").is_ok());
        let err = alice.may_use("bob").unwrap_err();
        assert!(err.contains("--nick alice"), "{err}");
        assert!(alice.may_use("guest-alice").is_err());
        assert_eq!(
            alice.describe(),
            "roster entry alice (Alice Martin, ta, key generation 2)"
        );
        assert_eq!(Role::Ta.as_str(), "ta");
    }

    #[test]
    fn a_guest_is_marked_as_a_guest() {
        assert!(Member::Guest.may_use("guest-sam").is_ok());
        assert!(Member::Guest.may_use("Guest-Sam").is_ok());
        let err = Member::Guest.may_use("alice").unwrap_err();
        assert!(err.contains("--nick guest-alice"), "{err}");
        let err = Member::Guest.may_use("averyveryverylongnick").unwrap_err();
        assert!(err.contains("--nick guest-averyveryv)"), "{err}");
    }
}
