//! The room as staff run it, seen from the client: our role, everyone's roles (for the `@` and
//! `%` marks in nick lists), the topic and the latest announcement; and the staff commands
//! (`/announce`, `/topic`, `/mute`, ...) with their help lines.
//!
//! Plain data and parsing, like `state` and `command`: no I/O. The server decides every
//! permission; a student who types a staff command gets the server's `not_permitted` refusal,
//! which is why parsing does not look at our role. Only `/help` does: it lists staff commands to
//! staff alone.

use std::collections::BTreeMap;

use crate::client::command::ParseError;
use crate::protocol::ClientEvent;
use crate::protocol::event::nick_key;
use crate::role::Role;

/// What the client knows of the room's roles and staff messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomInfo {
    /// Our role (from `welcome`).
    pub role: Role,
    /// The role of everyone who is not a student, by [`nick_key`].
    roles: BTreeMap<String, Role>,
    /// The room's topic and who set it.
    pub topic: Option<(String, String)>,
    /// The latest announcement: who made it and what it said.
    pub announcement: Option<(String, String)>,
    /// Its room id (servers that keep announcements in the history), so that a replay of it
    /// is not shown twice.
    pub announcement_id: Option<u64>,
}

impl RoomInfo {
    /// A `welcome` (our role and everyone's) or a `users` list (everyone's): replaces the roles.
    pub fn set_roles(&mut self, roles: &BTreeMap<String, Role>) {
        self.roles = roles.iter().map(|(n, r)| (nick_key(n), *r)).collect();
    }

    /// Someone joined with `role`, or (`Role::Student`) was renamed into a nick.
    pub fn set_role(&mut self, nick: &str, role: Role) {
        if role == Role::Student {
            self.roles.remove(&nick_key(nick));
        } else {
            self.roles.insert(nick_key(nick), role);
        }
    }

    /// Someone changed nick: their role follows them.
    pub fn rename(&mut self, from: &str, to: &str) {
        if let Some(role) = self.roles.remove(&nick_key(from)) {
            self.roles.insert(nick_key(to), role);
        }
    }

    /// The role of `nick`.
    pub fn role_of(&self, nick: &str) -> Role {
        self.roles.get(&nick_key(nick)).copied().unwrap_or_default()
    }

    /// `nick` with its mark: `@prof`, `%tom`, `ann`.
    pub fn marked(&self, nick: &str) -> String {
        format!("{}{nick}", self.role_of(nick).mark())
    }
}

/// The staff commands with their usage, for `/help` (shown to staff only).
pub const STAFF_HELP: &[(&str, &str)] = &[
    (
        "/announce TEXT",
        "an announcement that stands out for everyone",
    ),
    ("/topic [TEXT]", "set the room's topic (no text: clear it)"),
    (
        "/mute NICK [MIN] [REASON]",
        "NICK reads but cannot speak (10 min; 0: until /unmute)",
    ),
    ("/unmute NICK", "lift a mute"),
    (
        "/kick NICK [REASON]",
        "disconnect NICK (they may not come back for 2 min)",
    ),
    (
        "/ban NICK [MIN] [REASON]",
        "disconnect and refuse NICK (no MIN: until /unban)",
    ),
    ("/unban NICK", "lift a ban"),
    ("/quiet on|off", "exam mode: only staff may speak"),
    (
        "/slow SECONDS",
        "each student may send one message per SECONDS (0: off)",
    ),
    ("/whois NICK", "role, address, key and joining time of NICK"),
    ("/reload", "re-read the roster (roster servers)"),
];

/// Parses a staff command (`name` lower-cased, `args` trimmed); `None` if `name` is not one.
pub fn parse(name: &str, args: &str) -> Option<Result<ClientEvent, ParseError>> {
    let missing = |command: &'static str, usage: &'static str| {
        Some(Err(ParseError::MissingArgument { command, usage }))
    };
    let (first, rest) = match args.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (args, ""),
    };
    let nick = first.to_owned();
    let reason = (!rest.is_empty()).then(|| rest.to_owned());
    // `[MIN] [REASON]`: a leading number is the minutes, the rest the reason.
    let (minutes, why) = match rest.split_once(char::is_whitespace) {
        Some((n, why)) => match n.parse::<u64>() {
            Ok(n) => (
                Some(n),
                Some(why.trim().to_owned()).filter(|w| !w.is_empty()),
            ),
            Err(_) => (None, reason.clone()),
        },
        None => match rest.parse::<u64>() {
            Ok(n) => (Some(n), None),
            Err(_) => (None, reason.clone()),
        },
    };
    let event = match name {
        "announce" if args.is_empty() => return missing("/announce", "/announce TEXT"),
        "announce" => ClientEvent::Announce {
            room: None,
            all: false,
            text: args.to_owned(),
        },
        "topic" => ClientEvent::Topic {
            room: None,
            text: args.to_owned(),
        },
        "mute" | "unmute" | "kick" | "ban" | "unban" | "whois" if nick.is_empty() => {
            let usage = STAFF_HELP
                .iter()
                .map(|(usage, _)| *usage)
                .find(|usage| usage[1..].starts_with(name))
                .unwrap_or("/help");
            return Some(Err(ParseError::MissingArgument {
                command: usage.split(' ').next().unwrap_or("/help"),
                usage,
            }));
        }
        "mute" => ClientEvent::Mute {
            nick,
            minutes,
            reason: why,
        },
        "unmute" => ClientEvent::Unmute { nick },
        "kick" => ClientEvent::Kick { nick, reason },
        "ban" => ClientEvent::Ban {
            nick,
            minutes,
            reason: why,
        },
        "unban" => ClientEvent::Unban { nick },
        "whois" => ClientEvent::Whois { nick },
        "quiet" => match args.to_ascii_lowercase().as_str() {
            "on" => ClientEvent::Quiet {
                room: None,
                on: true,
            },
            "off" => ClientEvent::Quiet {
                room: None,
                on: false,
            },
            _ => return missing("/quiet", "/quiet on|off"),
        },
        "slow" => match args.parse::<u64>() {
            Ok(seconds) => ClientEvent::Slow {
                room: None,
                seconds,
            },
            Err(_) => return missing("/slow", "/slow SECONDS (0: off)"),
        },
        "reload" => ClientEvent::Reload,
        _ => return None,
    };
    Some(Ok(event))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, args: &str) -> ClientEvent {
        parse(name, args).unwrap().unwrap()
    }

    #[test]
    fn staff_commands_parse() {
        assert_eq!(
            ok("mute", "ann 15 shouting in caps"),
            ClientEvent::Mute {
                nick: "ann".into(),
                minutes: Some(15),
                reason: Some("shouting in caps".into()),
            }
        );
        assert_eq!(
            ok("mute", "ann spam"),
            ClientEvent::Mute {
                nick: "ann".into(),
                minutes: None,
                reason: Some("spam".into()),
            }
        );
        assert_eq!(
            ok("ban", "ann 60"),
            ClientEvent::Ban {
                nick: "ann".into(),
                minutes: Some(60),
                reason: None,
            }
        );
        assert_eq!(
            ok("kick", "ann 3 answers posted"),
            ClientEvent::Kick {
                nick: "ann".into(),
                reason: Some("3 answers posted".into()),
            }
        );
        assert_eq!(
            ok("quiet", "ON"),
            ClientEvent::Quiet {
                room: None,
                on: true
            }
        );
        assert_eq!(
            ok("slow", "30"),
            ClientEvent::Slow {
                room: None,
                seconds: 30
            }
        );
        assert_eq!(
            ok("topic", ""),
            ClientEvent::Topic {
                room: None,
                text: "".into()
            }
        );
        assert_eq!(ok("reload", ""), ClientEvent::Reload);
        assert!(parse("quiet", "maybe").unwrap().is_err());
        assert!(parse("announce", "").unwrap().is_err());
        let Some(Err(ParseError::MissingArgument { usage, .. })) = parse("ban", "") else {
            panic!("a ban needs a nick");
        };
        assert_eq!(usage, "/ban NICK [MIN] [REASON]");
        assert!(parse("frobnicate", "x").is_none());
    }

    #[test]
    fn roles_mark_nicks_and_follow_renames() {
        let mut room = RoomInfo::default();
        room.set_roles(&BTreeMap::from([("Prof".to_owned(), Role::Instructor)]));
        room.set_role("tom", Role::Ta);
        assert_eq!(room.marked("prof"), "@prof");
        assert_eq!(room.marked("tom"), "%tom");
        assert_eq!(room.marked("ann"), "ann");
        room.rename("tom", "thomas");
        assert_eq!(room.marked("thomas"), "%thomas");
        assert_eq!(room.role_of("tom"), Role::Student);
    }
}
