//! The rules of authority: "may this user do this (to that user)?". A reader of this module sees
//! every permission rule of the room in one place; the hub asks before it acts.
//!
//! The rules (issue 15):
//! - only staff (TA, instructor) moderate; students and guests are refused every staff action;
//! - an action aimed at a user needs strictly more authority than the target's: an instructor
//!   moderates TAs, students and guests, a TA moderates students and guests, and nobody
//!   moderates their equal (two instructors cannot mute each other) or themselves;
//! - lifting a sanction (`unmute`, `unban`) and `whois` need only staff: the target may be
//!   offline, and lifting never harms anyone;
//! - rooms (issue 16): `move` is aimed at a user like a mute (strictly more authority than the
//!   target), and so is each move of `groups`. Who may *create* rooms (`--rooms open|staff`)
//!   is a room rule, in [`crate::server::rooms`].

use crate::role::Role;

/// What a staff member can do to the room or to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `/announce`.
    Announce,
    /// `/topic`.
    Topic,
    /// `/mute`: aimed at a user.
    Mute,
    /// `/unmute`.
    Unmute,
    /// `/kick`: aimed at a user.
    Kick,
    /// `/ban`: aimed at a user.
    Ban,
    /// `/unban`.
    Unban,
    /// `/quiet on|off`.
    Quiet,
    /// `/slow SECONDS`.
    Slow,
    /// `/whois`.
    Whois,
    /// `/reload` (the roster).
    Reload,
    /// `/move NICK #room`: aimed at a user.
    Move,
    /// `/groups FILE`: moves each listed user.
    Groups,
}

impl Action {
    /// The command's name, for refusals and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Action::Announce => "announce",
            Action::Topic => "topic",
            Action::Mute => "mute",
            Action::Unmute => "unmute",
            Action::Kick => "kick",
            Action::Ban => "ban",
            Action::Unban => "unban",
            Action::Quiet => "quiet",
            Action::Slow => "slow",
            Action::Whois => "whois",
            Action::Reload => "reload",
            Action::Move => "move",
            Action::Groups => "groups",
        }
    }

    /// Whether the action is done to the user it names against their will (so the target's
    /// authority matters).
    fn sanctions(self) -> bool {
        matches!(
            self,
            Action::Mute | Action::Kick | Action::Ban | Action::Move | Action::Groups
        )
    }
}

/// May `actor` do `action` (to a user of role `target`, when the action names an online user
/// whose role is known)? `Err` holds the refusal for the actor to read.
pub fn may(actor: Role, action: Action, target: Option<Role>) -> Result<(), String> {
    if !actor.is_staff() {
        return Err(format!(
            "/{} is for staff (instructors and TAs); you are {}",
            action.name(),
            actor.title()
        ));
    }
    match target {
        Some(target) if action.sanctions() && target >= actor => Err(format!(
            "{} cannot {} {}: only someone with more authority can",
            actor.title(),
            action.name(),
            target.title()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY: [Action; 13] = [
        Action::Move,
        Action::Groups,
        Action::Announce,
        Action::Topic,
        Action::Mute,
        Action::Unmute,
        Action::Kick,
        Action::Ban,
        Action::Unban,
        Action::Quiet,
        Action::Slow,
        Action::Whois,
        Action::Reload,
    ];

    #[test]
    fn students_and_guests_cannot_moderate() {
        for actor in [Role::Student, Role::Guest] {
            for action in EVERY {
                for target in [None, Some(Role::Guest), Some(Role::Student)] {
                    let refusal = may(actor, action, target).unwrap_err();
                    assert!(refusal.contains("is for staff"), "{refusal}");
                }
            }
        }
    }

    #[test]
    fn staff_moderate_only_those_below_them() {
        for action in [Action::Mute, Action::Kick, Action::Ban, Action::Move] {
            assert!(may(Role::Ta, action, Some(Role::Student)).is_ok());
            assert!(may(Role::Ta, action, Some(Role::Guest)).is_ok());
            assert!(may(Role::Ta, action, Some(Role::Ta)).is_err());
            let refusal = may(Role::Ta, action, Some(Role::Instructor)).unwrap_err();
            assert!(
                refusal.contains("a TA cannot kick an instructor") || action != Action::Kick,
                "{refusal}"
            );
            assert!(may(Role::Instructor, action, Some(Role::Ta)).is_ok());
            assert!(may(Role::Instructor, action, Some(Role::Instructor)).is_err());
        }
    }

    #[test]
    fn room_actions_and_lifting_need_only_staff() {
        for actor in [Role::Ta, Role::Instructor] {
            for action in [
                Action::Announce,
                Action::Topic,
                Action::Quiet,
                Action::Slow,
                Action::Unmute,
                Action::Unban,
                Action::Whois,
                Action::Reload,
            ] {
                assert!(may(actor, action, Some(Role::Instructor)).is_ok());
                assert!(may(actor, action, None).is_ok());
            }
        }
    }
}
