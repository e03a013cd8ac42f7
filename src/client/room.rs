//! A room as staff run it, seen from the client: our role, everyone's roles (for the `@` and
//! `%` marks in nick lists), the topic and the latest announcement; the staff commands
//! (`/announce`, `/topic`, `/mute`, ...) with their help lines; and `/groups` files
//! ([`parse_groups`]), the staff's list of group rooms.
//!
//! Plain data and parsing, like `state` and `command`: no I/O (the session reads the file).
//! The server decides every permission; a student who types a staff command gets the server's `not_permitted` refusal,
//! which is why parsing does not look at our role. Only `/help` does: it lists staff commands to
//! staff alone.

use std::collections::BTreeMap;

use crate::client::command::ParseError;
use crate::protocol::ClientEvent;
use crate::protocol::event::{
    Group, MAX_GROUP_MEMBERS, MAX_GROUPS, nick_key, validate_nick, validate_room,
};
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
        "an announcement that stands out for everyone in the room",
    ),
    ("/announce --all TEXT", "the same, in every room"),
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
    (
        "/quiet on|off",
        "exam mode in the room: only staff may speak",
    ),
    (
        "/slow SECONDS",
        "each student may send one message per SECONDS (0: off)",
    ),
    ("/whois NICK", "role, address, key and joining time of NICK"),
    (
        "/move NICK #ROOM",
        "put NICK into #ROOM (out of every other room but #class)",
    ),
    (
        "/groups FILE",
        "create group rooms from FILE (#lab1 alice bob, one room a line) and move everyone in",
    ),
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
        "announce" if args.is_empty() || args == "--all" => {
            return missing("/announce", "/announce [--all] TEXT");
        }
        // The session fills in the current room (or none, with `--all`).
        "announce" => match args
            .strip_prefix("--all")
            .filter(|t| t.starts_with(char::is_whitespace))
        {
            Some(text) => ClientEvent::Announce {
                room: None,
                all: true,
                text: text.trim().to_owned(),
            },
            None => ClientEvent::Announce {
                room: None,
                all: false,
                text: args.to_owned(),
            },
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

/// The largest `/groups` file read: 50 rooms of 50 nicks of 16 characters fit many times
/// over; anything larger is the wrong file.
pub const MAX_GROUPS_FILE: u64 = 256 * 1024;

/// Why a `/groups` file cannot be used. Nothing is sent when the file has any mistake: half a
/// class moved is worse than none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupsError {
    /// A line is wrong.
    #[error("line {line}: {problem}")]
    Line {
        /// The line's number, from 1.
        line: usize,
        /// What is wrong with it and how to fix it.
        problem: String,
    },
    /// No room at all.
    #[error(
        "the file lists no rooms: write one line per room, the room then its members, e.g. `#lab1 alice bob`"
    )]
    Empty,
}

/// Reads a `/groups` file: one line per room, the room's name then its members separated by
/// spaces (`#lab1 alice bob carol`); blank lines and lines starting with `//` are skipped. A
/// room may appear once, a nick in one room only (in any case), and a file may list at most
/// [`MAX_GROUPS`] rooms of [`MAX_GROUP_MEMBERS`] members (the server's limits). Rooms come
/// back lower-cased, nicks as written.
pub fn parse_groups(text: &str) -> Result<Vec<Group>, GroupsError> {
    let mut groups: Vec<Group> = Vec::new();
    // Where each room and nick was first listed, for the message about a second listing.
    let mut rooms_at: BTreeMap<String, usize> = BTreeMap::new();
    let mut nicks_at: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let wrong = |problem: String| GroupsError::Line {
            line: number,
            problem,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let mut words = line.split_whitespace();
        let Some(room) = words.next() else { continue };
        let shown = |word: &str| -> String { crate::client::display::clean(word, 32) };
        let Ok(room) = validate_room(room) else {
            return Err(wrong(format!(
                "{} is not a room name: a line starts with the room, # plus 2 to 24 of a-z 0-9 _ -, e.g. #lab1",
                shown(room)
            )));
        };
        if let Some(first) = rooms_at.get(&room) {
            return Err(wrong(format!(
                "{room} is listed again (first on line {first}): put all its members on one line"
            )));
        }
        if groups.len() == MAX_GROUPS {
            return Err(wrong(format!(
                "more than {MAX_GROUPS} rooms: the server creates at most {MAX_GROUPS} at a time; split the file"
            )));
        }
        let mut members = Vec::new();
        for nick in words {
            if let Err(e) = validate_nick(nick) {
                return Err(wrong(format!("{} is not a nick: {e}", shown(nick))));
            }
            if let Some((first, other)) = nicks_at.get(&nick_key(nick)) {
                return Err(wrong(format!(
                    "{nick} is already in {other} (line {first}): a student goes into one room only"
                )));
            }
            if members.len() == MAX_GROUP_MEMBERS {
                return Err(wrong(format!(
                    "{room} lists more than {MAX_GROUP_MEMBERS} members, the most a room of a group file takes"
                )));
            }
            nicks_at.insert(nick_key(nick), (number, room.clone()));
            members.push(nick.to_owned());
        }
        if members.is_empty() {
            return Err(wrong(format!(
                "{room} has no members: list their nicks after the room, e.g. `{room} alice bob`"
            )));
        }
        rooms_at.insert(room.clone(), number);
        groups.push(Group { room, members });
    }
    if groups.is_empty() {
        return Err(GroupsError::Empty);
    }
    Ok(groups)
}

/// The most JSON one `groups` event of [`in_frames`] carries: its token (about 4/3 of it, plus
/// the Fernet overhead) stays well under the server's line limit
/// ([`crate::protocol::DEFAULT_MAX_LINE`], 16 KiB), which would otherwise refuse it.
const GROUPS_PER_FRAME_JSON: usize = 8 * 1024;

/// Splits a parsed groups file into the `groups` events to send: one for a class-sized file,
/// several for a large one (50 rooms of 50 long nicks are about 45 KB of JSON), each room whole
/// and in the file's order.
pub fn in_frames(groups: Vec<Group>) -> Vec<Vec<Group>> {
    let mut frames: Vec<Vec<Group>> = Vec::new();
    let mut size = 0;
    for group in groups {
        let members: usize = group.members.iter().map(|m| m.len() + 3).sum();
        let group_size = group.room.len() + members + 32;
        match frames.last_mut() {
            Some(frame) if size + group_size <= GROUPS_PER_FRAME_JSON => frame.push(group),
            _ => {
                frames.push(vec![group]);
                size = 0;
            }
        }
        size += group_size;
    }
    frames
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
        assert_eq!(
            ok("announce", "--all  break until 11"),
            ClientEvent::Announce {
                room: None,
                all: true,
                text: "break until 11".into()
            }
        );
        assert_eq!(
            ok("announce", "--allowed here"),
            ClientEvent::Announce {
                room: None,
                all: false,
                text: "--allowed here".into()
            }
        );
        assert!(parse("announce", "--all").unwrap().is_err());
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

    fn line_error(text: &str) -> (usize, String) {
        match parse_groups(text) {
            Err(GroupsError::Line { line, problem }) => (line, problem),
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn a_groups_file_lists_rooms_and_members() {
        let text =
            "// lab groups, week 3\n\n#Lab1 alice bob  carol\n  // comment\n#lab2\tdave Erin\r\n";
        assert_eq!(
            parse_groups(text),
            Ok(vec![
                Group {
                    room: "#lab1".into(),
                    members: vec!["alice".into(), "bob".into(), "carol".into()],
                },
                Group {
                    room: "#lab2".into(),
                    members: vec!["dave".into(), "Erin".into()],
                },
            ])
        );
    }

    #[test]
    fn groups_file_mistakes_name_their_line() {
        let (line, problem) = line_error("#lab1 alice\nlab2 bob\n");
        assert_eq!(line, 2);
        assert!(problem.contains("not a room name"), "{problem}");
        let (line, problem) = line_error("#lab1 alice\n\n#lab2 bob ALICE\n");
        assert_eq!(line, 3);
        assert!(problem.contains("already in #lab1 (line 1)"), "{problem}");
        let (line, problem) = line_error("#lab1 alice\n#LAB1 bob\n");
        assert_eq!(line, 2);
        assert!(problem.contains("first on line 1"), "{problem}");
        let (line, problem) = line_error("// x\n#lab1\n");
        assert_eq!(line, 2);
        assert!(problem.contains("no members"), "{problem}");
        let (line, problem) = line_error("#lab1 al!ce\n");
        assert_eq!(line, 1);
        assert!(problem.contains("not a nick"), "{problem}");
        // Control characters in the file do not reach the screen.
        let (_, problem) = line_error("#lab1 a\u{1b}[2J\n");
        assert!(!problem.contains('\u{1b}'), "{problem:?}");
        assert_eq!(
            parse_groups("// only comments\n\n"),
            Err(GroupsError::Empty)
        );
        assert_eq!(parse_groups(""), Err(GroupsError::Empty));
    }

    #[test]
    fn groups_files_are_bounded_like_the_server() {
        let room = |i: usize| format!("#g{i:02} s{i:02}a\n");
        let fifty: String = (0..MAX_GROUPS).map(room).collect();
        assert_eq!(parse_groups(&fifty).map(|g| g.len()), Ok(MAX_GROUPS));
        let (line, problem) = line_error(&format!("{fifty}{}", room(99)));
        assert_eq!(line, MAX_GROUPS + 1);
        assert!(problem.contains("more than 50 rooms"), "{problem}");
        let members: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("s{i:03}")).collect();
        let (line, problem) = line_error(&format!("#big {}", members.join(" ")));
        assert_eq!(line, 1);
        assert!(problem.contains("more than 50 members"), "{problem}");
    }

    /// The largest file the parser takes (50 rooms of 50 nicks of 16 characters) is about
    /// 45 KB of JSON: sent as one event, its frame was over the server's 16 KiB line limit.
    #[test]
    fn a_large_groups_file_goes_out_in_frames_the_server_takes() {
        let file: String = (0..MAX_GROUPS)
            .map(|r| {
                let members: Vec<String> = (0..MAX_GROUP_MEMBERS)
                    .map(|m| format!("student{r:02}x{m:04}ab"))
                    .collect();
                format!("#group{r:02} {}\n", members.join(" "))
            })
            .collect();
        let groups = parse_groups(&file).unwrap();
        let whole = serde_json::to_string(&ClientEvent::Groups {
            groups: groups.clone(),
        })
        .unwrap();
        assert!(
            whole.len() > crate::protocol::DEFAULT_MAX_LINE,
            "{}",
            whole.len()
        );
        let frames = in_frames(groups.clone());
        assert!(frames.len() > 1);
        let key = crate::crypto::RoomKey::generate();
        for frame in &frames {
            let event = ClientEvent::Groups {
                groups: frame.clone(),
            };
            let token = crate::protocol::seal(&key, &event);
            assert!(
                token.len() < crate::protocol::DEFAULT_MAX_LINE,
                "{}",
                token.len()
            );
        }
        assert_eq!(frames.concat(), groups, "every room, whole, in order");
        // A class-sized file is one event.
        let small = parse_groups("#lab1 ann bob\n#lab2 carol\n").unwrap();
        assert_eq!(in_frames(small.clone()), vec![small]);
    }
}
