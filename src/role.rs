//! Roles in a class room: who is in charge. Shared by the server (which decides a session's role
//! from the key that opened it, never from anything the client says), the protocol (`welcome`,
//! `users` and `joined` carry roles so every client can mark staff) and the client (which shows
//! `@` for an instructor and `%` for a TA, IRC style).
//!
//! This module owns the names, their order of authority and their marks. What each role may do
//! is the server's policy (`crate::server::policy`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A session's role, from least to most authority (the derived order is that order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A class-key user on a roster server (`--allow-class-key`): may chat, nothing more.
    Guest,
    /// The default: anyone holding the class key (or, on a roster server, their own key).
    /// A role name this program does not know (from a newer server) reads as a student: no
    /// mark, no staff commands in `/help`, never more authority than it can explain.
    #[default]
    Student,
    /// A teaching assistant: may moderate students and guests, not instructors.
    Ta,
    /// An instructor (a `--staff-key` holder, or a roster entry marked `instructor`).
    Instructor,
}

impl Role {
    /// Every role, from least to most authority.
    pub const ALL: [Role; 4] = [Role::Guest, Role::Student, Role::Ta, Role::Instructor];

    /// Whether this role may moderate at all (instructor and TA).
    pub fn is_staff(self) -> bool {
        self >= Role::Ta
    }

    /// The wire and roster name: `guest`, `student`, `ta`, `instructor`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Guest => "guest",
            Role::Student => "student",
            Role::Ta => "ta",
            Role::Instructor => "instructor",
        }
    }

    /// The role with its article, for sentences: "an instructor", "a TA".
    pub fn title(self) -> &'static str {
        match self {
            Role::Guest => "a guest",
            Role::Student => "a student",
            Role::Ta => "a TA",
            Role::Instructor => "an instructor",
        }
    }

    /// The mark before a nick in nick lists (`@` instructor, `%` TA), as IRC clients show
    /// operators and half-operators; students and guests have none.
    pub fn mark(self) -> &'static str {
        match self {
            Role::Instructor => "@",
            Role::Ta => "%",
            Role::Student | Role::Guest => "",
        }
    }
}

impl<'de> Deserialize<'de> for Role {
    /// By name; an unknown name (from a newer peer) is a student, as the variant's comment says.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(name.parse().unwrap_or(Role::Student))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: a role is one of guest, student, ta, instructor")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses a roster's role column (ASCII case ignored).
    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_names_and_marks() {
        assert!(Role::Guest < Role::Student && Role::Student < Role::Ta);
        assert!(Role::Ta < Role::Instructor);
        assert!(Role::Ta.is_staff() && Role::Instructor.is_staff());
        assert!(!Role::Student.is_staff() && !Role::Guest.is_staff());
        assert_eq!(Role::Instructor.mark(), "@");
        assert_eq!(Role::Ta.mark(), "%");
        assert_eq!(Role::Student.mark(), "");
        for role in Role::ALL {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
            let wire = serde_json::to_string(&role).unwrap();
            assert_eq!(wire, format!("\"{}\"", role.name()));
        }
        assert_eq!(" TA ".parse::<Role>(), Ok(Role::Ta));
        assert!("admin".parse::<Role>().is_err());
        let newer: Role = serde_json::from_str("\"moderator\"").unwrap();
        assert_eq!(newer, Role::Student);
    }
}
