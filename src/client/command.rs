//! Commands: what a line typed by the user means.
//!
//! This module owns the command syntax (`/msg NICK TEXT`, `/me`, `/who`, ...) and the help
//! text that lists it. It turns one line into one [`Command`] and nothing more: it does not
//! check nicks or message length (the session does, because only it knows the server's
//! limits), and it must not touch the network or print anything.
//!
//! Keeping parsing separate from the session means every front end (this line client, the
//! later full-screen one, a test) types the same commands and gets the same errors.

use crate::protocol::event::validate_room;

/// One thing the user asked for. Front ends send these to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say `text` to the current room (a line that is not a command).
    Say(String),
    /// `#name text`: say `text` in the room `#name` (which we must be in), whatever the
    /// current room is.
    SayIn {
        /// The room, lower-cased.
        room: String,
        /// The message.
        text: String,
    },
    /// `/me TEXT`: an action in the current room, shown as `* nick TEXT`.
    Me(String),
    /// `/msg NICK TEXT`: a private message.
    Msg {
        /// The recipient.
        to: String,
        /// The message.
        text: String,
    },
    /// `/who [#name]` (also `/users`, `/names`, `!users`): ask who is in a room; `None` is
    /// the current room.
    Who(Option<String>),
    /// `/join [-i] #name`: join a room (creating it if it does not exist and the server lets
    /// us; `-i` makes a room we create invite-only) and make it the current one.
    Join {
        /// The room, lower-cased.
        room: String,
        /// `-i`: only invited users may join (used only if this join creates the room).
        invite_only: bool,
    },
    /// `/part [#name] [reason]`: leave a room; `None` is the current room.
    Part {
        /// The room, lower-cased.
        room: Option<String>,
        /// Why, for the room.
        reason: Option<String>,
    },
    /// `/list`: every room with its member count and topic.
    List,
    /// `/invite NICK #name`: let NICK join an invite-only room.
    Invite {
        /// Who.
        nick: String,
        /// The room, lower-cased.
        room: String,
    },
    /// `/move NICK #name` (staff): put NICK into a room, out of every other except `#class`.
    Move {
        /// Who.
        nick: String,
        /// The room, lower-cased.
        room: String,
    },
    /// `/groups FILE` (staff): create group rooms from FILE and move their members in. The
    /// session reads and checks the file (see [`crate::client::room::parse_groups`]).
    Groups(std::path::PathBuf),
    /// `/switch #name`: make a room we are in the current one. Local: nothing is sent.
    Switch(String),
    /// `/nick NEW`: change nick.
    Nick(String),
    /// `/quit [reason]` (also `/exit`): leave, telling the room why.
    Quit(Option<String>),
    /// `/help`: list the commands. Answered locally, nothing is sent.
    Help,
    /// `/ping`: measure the round trip to the server.
    Ping,
    /// `/save FILE`: write what this session has shown to a new file (plaintext).
    Save(std::path::PathBuf),
    /// A staff command (`/announce`, `/mute`, ...: see [`crate::client::room`]), sent as is;
    /// the server decides whether we may.
    Staff(crate::protocol::ClientEvent),
    /// Measure the lag without showing a line for it, for a status line right after joining.
    /// Sent by a front end, never typed: no line parses to it.
    MeasureLag,
}

/// Why a line is not a valid command. Shown locally; nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A `/word` that is not a command. Sending it as a message would leak a typo such as
    /// `/nick` misspelt as `/nikc` to the whole room, so it is refused instead.
    #[error(
        "unknown command /{name}: type /help for the list, or //text to send a line starting with /"
    )]
    Unknown {
        /// The command name as typed (without the `/`).
        name: String,
    },
    /// A room argument that is not a room name.
    #[error(
        "{given:?} is not a room name: rooms are # plus 2 to 24 of a-z 0-9 _ -, e.g. #lab1 (usage {usage})"
    )]
    BadRoom {
        /// What was typed, bounded and printable.
        given: String,
        /// How to use the command.
        usage: &'static str,
    },
    /// A command without the argument it needs.
    #[error("{command} needs more: usage {usage}")]
    MissingArgument {
        /// The command, with its `/`.
        command: &'static str,
        /// How to use it.
        usage: &'static str,
    },
}

/// Every command with its usage and what it does, for `/help`.
pub const HELP: &[(&str, &str)] = &[
    ("/msg NICK TEXT", "send TEXT privately to NICK"),
    ("/me TEXT", "act: shown as * yournick TEXT"),
    (
        "/who [#ROOM]",
        "list who is in the room (also /users, /names, !users)",
    ),
    (
        "/join [-i] #ROOM",
        "join a room (creating it; -i: by invitation only) and switch to it",
    ),
    ("/part [#ROOM] [REASON]", "leave a room (the current one)"),
    ("/list", "list the rooms with their sizes and topics"),
    ("/switch #ROOM", "make #ROOM the room you type to"),
    ("#ROOM TEXT", "say TEXT in #ROOM, whichever room is current"),
    ("/invite NICK #ROOM", "let NICK join an invite-only room"),
    ("/nick NEW", "change your nick"),
    ("/ping", "measure the lag to the server"),
    (
        "/save FILE",
        "write what you have seen to FILE (plain text, readable by you only)",
    ),
    (
        "/quit [REASON]",
        "leave the chat (also /exit; Ctrl-D or Ctrl-C)",
    ),
    ("/help", "show this list"),
    (
        "//TEXT",
        "send a line that starts with / (for example //shrug)",
    ),
];

/// Parses one line typed by the user.
///
/// Returns `Ok(None)` for a blank line (nothing to do), `Ok(Some(command))` otherwise.
/// A line not starting with `/` is said to the room exactly as typed (apart from a trailing
/// line ending), so leading spaces and ASCII art survive.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(None);
    }
    // The Python chats used `!users`; students type it from habit.
    if line.trim().eq_ignore_ascii_case("!users") {
        return Ok(Some(Command::Who(None)));
    }
    let Some(rest) = line.strip_prefix('/') else {
        // `#lab1 hi`: said in #lab1. Anything else, `#1 wins` or `##x` or a lone `#lab1`
        // included, is said as typed.
        if let Some((room, text)) = line.split_once(char::is_whitespace)
            && is_room_name(room)
            && !text.trim().is_empty()
        {
            return Ok(Some(Command::SayIn {
                room: room.to_ascii_lowercase(),
                text: text.trim_start().to_owned(),
            }));
        }
        return Ok(Some(Command::Say(line.to_owned())));
    };
    if rest.starts_with('/') {
        // `//text` escapes the slash: say `/text`.
        return Ok(Some(Command::Say(rest.to_owned())));
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim()),
        None => (rest, ""),
    };
    // IRC commands ignore case; a stray Caps Lock should not turn /QUIT into a message.
    let command = match name.to_ascii_lowercase().as_str() {
        "msg" | "query" => {
            let (to, text) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let text = text.trim_start();
            if to.is_empty() || text.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/msg",
                    usage: "/msg NICK TEXT",
                });
            }
            Command::Msg {
                to: to.to_owned(),
                text: text.to_owned(),
            }
        }
        "me" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/me",
                    usage: "/me TEXT",
                });
            }
            Command::Me(args.to_owned())
        }
        "who" | "users" | "names" => match args.split_whitespace().next() {
            Some(room) if room.starts_with('#') => {
                Command::Who(Some(room_arg(room, "/who [#ROOM]")?))
            }
            // `/who anything`: the words are ignored, as they always were.
            _ => Command::Who(None),
        },
        "join" | "j" => {
            let (invite_only, room) = match args.split_once(char::is_whitespace) {
                Some(("-i", room)) => (true, room.trim()),
                None if args == "-i" => (true, ""),
                _ => (false, args),
            };
            if room.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/join",
                    usage: "/join [-i] #ROOM",
                });
            }
            Command::Join {
                room: room_arg(room, "/join [-i] #ROOM")?,
                invite_only,
            }
        }
        "part" | "leave" => {
            let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            let (room, reason) = if first.starts_with('#') {
                (
                    Some(room_arg(first, "/part [#ROOM] [REASON]")?),
                    rest.trim(),
                )
            } else {
                (None, args)
            };
            Command::Part {
                room,
                reason: (!reason.is_empty()).then(|| reason.to_owned()),
            }
        }
        "list" | "rooms" => Command::List,
        "switch" | "go" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/switch",
                    usage: "/switch #ROOM",
                });
            }
            Command::Switch(room_arg(args, "/switch #ROOM")?)
        }
        "invite" | "move" => {
            let (command, usage) = if name.eq_ignore_ascii_case("invite") {
                ("/invite", "/invite NICK #ROOM")
            } else {
                ("/move", "/move NICK #ROOM")
            };
            let mut words = args.split_whitespace();
            let (Some(nick), Some(room), None) = (words.next(), words.next(), words.next()) else {
                return Err(ParseError::MissingArgument { command, usage });
            };
            let (nick, room) = (nick.to_owned(), room_arg(room, usage)?);
            if command == "/invite" {
                Command::Invite { nick, room }
            } else {
                Command::Move { nick, room }
            }
        }
        "groups" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/groups",
                    usage: "/groups FILE",
                });
            }
            Command::Groups(args.into())
        }
        "nick" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/nick",
                    usage: "/nick NEW",
                });
            }
            // Passed whole: a nick with a space in it gets the nick rules' own explanation.
            Command::Nick(args.to_owned())
        }
        "quit" | "exit" => Command::Quit((!args.is_empty()).then(|| args.to_owned())),
        "help" | "?" => Command::Help,
        "ping" | "lag" => Command::Ping,
        "save" => {
            if args.is_empty() {
                return Err(ParseError::MissingArgument {
                    command: "/save",
                    usage: "/save FILE",
                });
            }
            Command::Save(args.into())
        }
        other => match crate::client::room::parse(other, args) {
            Some(parsed) => Command::Staff(parsed?),
            None => {
                return Err(ParseError::Unknown {
                    // Bounded and printable: this ends up on the user's screen.
                    name: name.chars().filter(|c| !c.is_control()).take(32).collect(),
                });
            }
        },
    };
    Ok(Some(command))
}

/// Whether `name` is a room name by the protocol's rule (`#` then 2 to 24 of `a-z 0-9 _ -`,
/// in any case: the server folds it to lower case).
pub fn is_room_name(name: &str) -> bool {
    validate_room(name).is_ok()
}

/// A room argument, lower-cased, or the error that shows how to name one.
fn room_arg(given: &str, usage: &'static str) -> Result<String, ParseError> {
    validate_room(given).map_err(|_| ParseError::BadRoom {
        given: given.chars().filter(|c| !c.is_control()).take(32).collect(),
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        match parse(line) {
            Ok(Some(command)) => command,
            other => panic!("{line:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn plain_lines_are_said_as_typed() {
        assert_eq!(ok("hello all"), Command::Say("hello all".into()));
        assert_eq!(ok("  indented"), Command::Say("  indented".into()));
        assert_eq!(ok("hi\r\n"), Command::Say("hi".into()));
        assert_eq!(ok("a/b"), Command::Say("a/b".into()));
    }

    #[test]
    fn blank_lines_are_ignored() {
        for line in ["", "   ", "\t", "\r\n", "\n"] {
            assert_eq!(parse(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn double_slash_sends_a_slash_line() {
        assert_eq!(ok("//shrug"), Command::Say("/shrug".into()));
        assert_eq!(ok("///"), Command::Say("//".into()));
        assert_eq!(ok("// spaced"), Command::Say("/ spaced".into()));
    }

    #[test]
    fn msg_takes_a_nick_and_the_rest() {
        assert_eq!(
            ok("/msg bob  psst,  over here "),
            Command::Msg {
                to: "bob".into(),
                text: "psst,  over here".into()
            }
        );
        assert_eq!(
            ok("/query bob hi"),
            Command::Msg {
                to: "bob".into(),
                text: "hi".into()
            }
        );
        for line in ["/msg", "/msg bob", "/msg bob   ", "/msg   "] {
            assert_eq!(
                parse(line),
                Err(ParseError::MissingArgument {
                    command: "/msg",
                    usage: "/msg NICK TEXT"
                }),
                "{line:?}"
            );
        }
    }

    #[test]
    fn me_needs_text() {
        assert_eq!(ok("/me waves"), Command::Me("waves".into()));
        assert!(matches!(
            parse("/me"),
            Err(ParseError::MissingArgument { command: "/me", .. })
        ));
        assert!(matches!(
            parse("/me  "),
            Err(ParseError::MissingArgument { .. })
        ));
    }

    #[test]
    fn who_and_its_aliases() {
        for line in [
            "/who",
            "/users",
            "/names",
            "!users",
            "  !USERS ",
            "/WHO",
            "/who ignored",
        ] {
            assert_eq!(ok(line), Command::Who(None), "{line:?}");
        }
        // Only the exact Python command: `!users please` is a message.
        assert_eq!(ok("!users please"), Command::Say("!users please".into()));
    }

    #[test]
    fn nick_needs_a_name() {
        assert_eq!(ok("/nick alice2"), Command::Nick("alice2".into()));
        assert_eq!(ok("/NICK  alice2 "), Command::Nick("alice2".into()));
        assert_eq!(ok("/nick a b"), Command::Nick("a b".into()));
        assert!(matches!(
            parse("/nick"),
            Err(ParseError::MissingArgument {
                command: "/nick",
                ..
            })
        ));
    }

    #[test]
    fn quit_and_exit_with_optional_reason() {
        assert_eq!(ok("/quit"), Command::Quit(None));
        assert_eq!(ok("/exit"), Command::Quit(None));
        assert_eq!(
            ok("/quit  off to lunch "),
            Command::Quit(Some("off to lunch".into()))
        );
        assert_eq!(ok("/Exit bye"), Command::Quit(Some("bye".into())));
    }

    #[test]
    fn help_and_ping() {
        assert_eq!(ok("/help"), Command::Help);
        assert_eq!(ok("/?"), Command::Help);
        assert_eq!(ok("/ping"), Command::Ping);
        assert_eq!(ok("/lag"), Command::Ping);
    }

    #[test]
    fn unknown_commands_are_local_errors() {
        assert_eq!(
            parse("/nikc bob"),
            Err(ParseError::Unknown {
                name: "nikc".into()
            })
        );
        assert_eq!(
            parse("/"),
            Err(ParseError::Unknown {
                name: String::new()
            })
        );
        assert_eq!(
            parse("/ x"),
            Err(ParseError::Unknown {
                name: String::new()
            })
        );
        let Err(err) = parse("/x\u{1b}[2J") else {
            panic!("not an error")
        };
        assert!(!err.to_string().contains('\u{1b}'));
        assert!(err.to_string().contains("//text"));
    }

    #[test]
    fn help_lists_every_command() {
        let listed: Vec<&str> = HELP.iter().map(|(usage, _)| *usage).collect();
        for name in [
            "/msg", "/me", "/who", "/nick", "/ping", "/quit", "/help", "//",
        ] {
            assert!(
                listed.iter().any(|u| u.starts_with(name)),
                "{name} missing from /help"
            );
        }
    }

    #[test]
    fn room_commands_parse() {
        assert_eq!(
            ok("/join #Lab1"),
            Command::Join {
                room: "#lab1".into(),
                invite_only: false
            }
        );
        assert_eq!(
            ok("/JOIN -i  #quiet"),
            Command::Join {
                room: "#quiet".into(),
                invite_only: true
            }
        );
        assert_eq!(
            ok("/part"),
            Command::Part {
                room: None,
                reason: None
            }
        );
        assert_eq!(
            ok("/part #lab1 done for today"),
            Command::Part {
                room: Some("#lab1".into()),
                reason: Some("done for today".into())
            }
        );
        assert_eq!(
            ok("/part off to lunch"),
            Command::Part {
                room: None,
                reason: Some("off to lunch".into())
            }
        );
        assert_eq!(ok("/list"), Command::List);
        assert_eq!(ok("/who #LAB1"), Command::Who(Some("#lab1".into())));
        assert_eq!(
            ok("/invite bob #lab1"),
            Command::Invite {
                nick: "bob".into(),
                room: "#lab1".into()
            }
        );
        assert_eq!(
            ok("/move bob #lab2"),
            Command::Move {
                nick: "bob".into(),
                room: "#lab2".into()
            }
        );
        assert_eq!(ok("/groups week3.txt"), Command::Groups("week3.txt".into()));
        assert_eq!(ok("/switch #Lab1"), Command::Switch("#lab1".into()));
    }

    #[test]
    fn room_commands_need_room_names() {
        for (line, command) in [
            ("/join", "/join"),
            ("/join -i", "/join"),
            ("/switch", "/switch"),
            ("/invite bob", "/invite"),
            ("/invite bob #lab1 extra", "/invite"),
            ("/move", "/move"),
            ("/groups", "/groups"),
        ] {
            match parse(line) {
                Err(ParseError::MissingArgument { command: c, .. }) => {
                    assert_eq!(c, command, "{line:?}")
                }
                other => panic!("{line:?} gave {other:?}"),
            }
        }
        for line in [
            "/join lab1",
            "/join #a",
            "/join #this-name-is-far-too-long-for-a-room",
            "/join #lab\u{e9}",
            "/part #! why",
            "/who #x",
            "/switch lab1",
            "/invite bob lab1",
            "/move bob #",
        ] {
            let Err(err @ ParseError::BadRoom { .. }) = parse(line) else {
                panic!("{line:?} is not a bad room");
            };
            assert!(err.to_string().contains("e.g. #lab1"), "{err}");
        }
    }

    #[test]
    fn a_room_name_in_front_says_the_line_there() {
        assert_eq!(
            ok("#Lab1 hi there"),
            Command::SayIn {
                room: "#lab1".into(),
                text: "hi there".into()
            }
        );
        assert_eq!(
            ok("#lab1   spaced  out "),
            Command::SayIn {
                room: "#lab1".into(),
                text: "spaced  out ".into()
            }
        );
        // Anything else that starts with # is said as typed.
        for line in [
            "#1 is the answer",
            "##lab1 hi",
            "#lab1",
            "#lab1   ",
            "#",
            " #lab1 hi",
        ] {
            assert_eq!(ok(line), Command::Say(line.into()), "{line:?}");
        }
    }

    #[test]
    fn help_lists_the_room_commands() {
        let listed: Vec<&str> = HELP.iter().map(|(usage, _)| *usage).collect();
        for name in [
            "/join",
            "/part",
            "/list",
            "/switch",
            "#ROOM",
            "/invite",
            "/who [#ROOM]",
        ] {
            assert!(
                listed.iter().any(|u| u.starts_with(name)),
                "{name} missing from /help"
            );
        }
        // Staff commands are listed to staff only, apart.
        assert!(
            !listed
                .iter()
                .any(|u| u.starts_with("/move") || u.starts_with("/groups"))
        );
        let staff: Vec<&str> = crate::client::room::STAFF_HELP
            .iter()
            .map(|(usage, _)| *usage)
            .collect();
        for name in ["/move NICK #ROOM", "/groups FILE", "/announce --all TEXT"] {
            assert!(staff.contains(&name), "{name} missing from the staff help");
        }
    }
}
