//! Display: how an [`Update`] looks as a line of text, in the irssi/weechat style.
//!
//! ```text
//! 10:42 <alice> hi all
//! 10:42 * alice waves
//! 10:43 --> carol joined
//! 10:44 <-- bob left (lunch)
//! 10:44 -!- carol is now known as caro
//! 10:45 *bob* psst
//! 10:45 -> *bob* see you
//! 10:46 -!- you joined #lab1; 2 users in #lab1: alice bob
//! 10:46 [#lab1] <bob> in the lab room
//! ```
//!
//! The `[#lab1]` in front is [`render_in_room`]'s: line mode names a line's room when we are
//! in more than one room, transcripts always.
//!
//! This module owns the layout, the nick colours and making server text safe for a terminal.
//! It must not do I/O (beyond asking whether colour is wanted) or hold state, so the line
//! front end and the full-screen one render the same way and tests need no terminal.
//!
//! # Why text is cleaned here
//!
//! Everything shown came from other people through the server. A terminal obeys escape
//! sequences in what it prints: `ESC [2J` clears the screen, others retitle the window or move
//! the cursor to forge lines. The server refuses control characters, but a client must not
//! rely on a server for its own safety, so [`clean`] makes them visible (`^[`). It also shows
//! Unicode bidirectional overrides (the "Trojan Source" trick) as `<U+202E>` instead of letting
//! them reverse the rest of the line.

use std::ffi::OsStr;

use crate::client::command::HELP;
use crate::client::update::{DEFAULT_ROOM, RoomSummary, Update, UpdateKind};

/// The ANSI foreground colours nicks are drawn in (SGR codes): green, yellow, blue, magenta,
/// cyan and their bright forms. Red is kept for errors; black, white and grey vanish on one
/// background or the other.
pub const PALETTE: [u8; 10] = [32, 33, 34, 35, 36, 92, 93, 94, 95, 96];

/// The SGR code for errors and the `-!-` of error lines.
const ERROR_COLOUR: u8 = 31;

/// FNV-1a, 32 bits: a tiny, fixed hash.
///
/// Fixed is the point: `std`'s `DefaultHasher` is randomly seeded per process, so a nick would
/// change colour every time the client starts, and may change between Rust versions. FNV-1a is
/// a published algorithm (two constants and a loop), so every client, in any language, gives
/// `alice` the same colour.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The SGR colour code of `nick`: FNV-1a of the lowercased nick, modulo the palette. Nicks
/// that differ only in case are the same user on the server, so they get the same colour.
pub fn nick_colour(nick: &str) -> u8 {
    let index = fnv1a(nick.to_ascii_lowercase().as_bytes()) as usize % PALETTE.len();
    PALETTE[index]
}

/// Whether to colour output: not when `NO_COLOR` is set to anything non-empty
/// (<https://no-color.org>), and not when standard output is not a terminal (a pipe or a
/// file would fill with escape codes).
pub fn colour_wanted() -> bool {
    use std::io::IsTerminal;
    let no_color = std::env::var_os("NO_COLOR");
    colour_wanted_from(no_color.as_deref(), std::io::stdout().is_terminal()) && console_has_ansi()
}

/// The decision of [`colour_wanted`], from its inputs (for tests).
pub fn colour_wanted_from(no_color: Option<&OsStr>, stdout_is_terminal: bool) -> bool {
    let no_color_set = no_color.is_some_and(|value| !value.is_empty());
    stdout_is_terminal && !no_color_set
}

#[cfg(windows)]
fn console_has_ansi() -> bool {
    // The classic Windows console shows escape codes as garbage unless the program switches on
    // "virtual terminal processing". crossterm does that (it holds the unsafe call this crate
    // forbids itself) and says whether it worked: yes in the console of Windows 10 and later;
    // otherwise it answers whether TERM names a terminal that understands ANSI (Git Bash's
    // mintty, ConEmu). Windows Terminal (WT_SESSION) always does. See docs/PLATFORMS.md.
    std::env::var_os("WT_SESSION").is_some() || crossterm::ansi_support::supports_ansi()
}

#[cfg(not(windows))]
fn console_has_ansi() -> bool {
    true
}

/// Makes server text safe and bounded for a terminal: control characters become caret
/// notation (`ESC` → `^[`), tabs become spaces, C1 controls and bidirectional overrides become
/// `<U+XXXX>`, and text over `max_chars` characters is cut with `…`.
pub fn clean(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for (count, c) in text.chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        match c {
            '\t' => out.push(' '),
            '\u{0}'..='\u{1f}' => {
                out.push('^');
                out.push(char::from(c as u8 + 0x40));
            }
            '\u{7f}' => out.push_str("^?"),
            '\u{80}'..='\u{9f}'
            | '\u{200e}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => out.push_str(&format!("<U+{:04X}>", u32::from(c))),
            _ => out.push(c),
        }
    }
    out
}

/// Longest nick shown; real nicks are 16 characters, so only a misbehaving server hits this.
const MAX_NICK_SHOWN: usize = 32;
/// Longest room name shown; real ones are 25 characters.
const MAX_ROOM_SHOWN: usize = 32;
/// Longest text shown in one line; the server's own limit is far below this.
const MAX_TEXT_SHOWN: usize = 16 * 1024;

fn sgr(code: &str, text: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// A nick, cleaned, in its colour (bold when it is ours).
pub fn paint_nick(nick: &str, own: bool, colour: bool) -> String {
    let shown = clean(nick, MAX_NICK_SHOWN);
    let code = nick_colour(nick);
    if own {
        sgr(&format!("1;{code}"), &shown, colour)
    } else {
        sgr(&code.to_string(), &shown, colour)
    }
}

fn text(text: &str) -> String {
    clean(text, MAX_TEXT_SHOWN)
}

fn nick_list(users: &[String], colour: bool) -> String {
    users
        .iter()
        .map(|nick| paint_nick(nick, false, colour))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `3 users in #lab1: ...`; `#class`, which everyone is in, keeps the words of a server
/// without rooms: `3 users online: ...`.
fn users_in(room: &str, users: &[String], colour: bool) -> String {
    if room == DEFAULT_ROOM {
        return users_online(users, colour);
    }
    match users.len() {
        1 => format!("1 user in {}: {}", text(room), nick_list(users, colour)),
        n => format!("{n} users in {}: {}", text(room), nick_list(users, colour)),
    }
}

/// `/list`'s lines: a title, then one line per room.
fn room_list(info: &str, rooms: &[RoomSummary]) -> Vec<String> {
    if rooms.is_empty() {
        return vec![format!("{info} no rooms")];
    }
    let width = rooms
        .iter()
        .map(|r| clean(&r.room, MAX_ROOM_SHOWN).chars().count())
        .max()
        .unwrap_or(0);
    std::iter::once(format!("{info} rooms:"))
        .chain(rooms.iter().map(|r| {
            let mut line = format!(
                "{info}   {:<width$}  {:>3} {}",
                clean(&r.room, MAX_ROOM_SHOWN),
                r.members,
                if r.members == 1 { "user " } else { "users" }
            );
            if r.invite_only {
                line.push_str("  (invite only)");
            }
            if let Some(topic) = r.topic.as_deref().filter(|t| !t.is_empty()) {
                line.push_str(&format!("  {}", text(topic)));
            }
            line
        }))
        .collect()
}

/// The room a line belongs to, for the lines that do not name it themselves: what line mode
/// puts in front as `[#lab1]` when there is more than one room, and transcripts always.
pub fn room_of(kind: &UpdateKind) -> Option<&str> {
    match kind {
        UpdateKind::Message { room, .. }
        | UpdateKind::Action { room, .. }
        | UpdateKind::History { room, .. }
        | UpdateKind::Away { room, .. }
        | UpdateKind::Joined { room, .. }
        | UpdateKind::Left { room, .. }
        | UpdateKind::Users { room, .. }
        | UpdateKind::Announcement { room, .. }
        | UpdateKind::Topic { room, .. }
        | UpdateKind::Moderation { room, .. } => Some(room),
        _ => None,
    }
}

/// An update as text like [`render_highlighted`], each line of a room's update preceded by its
/// room (`10:42 [#lab1] <bob> hi`) when `with_room`: line mode's rule when we are in more than
/// one room.
pub fn render_in_room(update: &Update, colour: bool, mention: bool, with_room: bool) -> String {
    let stamp = if mention && colour {
        sgr("30;43", &hhmm(update.at), colour)
    } else {
        hhmm(update.at)
    };
    render_lines(&update.kind, colour, with_room)
        .iter()
        .map(|line| format!("{stamp} {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`render_body`], each line preceded by the update's room (`[#lab1] <bob> hi`) when
/// `with_room` and the update belongs to a room (see [`room_of`]).
pub fn render_lines(kind: &UpdateKind, colour: bool, with_room: bool) -> Vec<String> {
    let lines = render_body(kind, colour);
    match room_of(kind).filter(|_| with_room) {
        Some(room) => {
            let tag = sgr("1", &format!("[{}]", clean(room, MAX_ROOM_SHOWN)), colour);
            lines
                .into_iter()
                .map(|line| format!("{tag} {line}"))
                .collect()
        }
        None => lines,
    }
}

fn users_online(users: &[String], colour: bool) -> String {
    match users.len() {
        1 => format!("1 user online: {}", nick_list(users, colour)),
        n => format!("{n} users online: {}", nick_list(users, colour)),
    }
}

/// The local time of day of a Unix time in milliseconds, as `HH:MM`.
pub fn hhmm(at_millis: u64) -> String {
    let millis = i64::try_from(at_millis).unwrap_or(i64::MAX);
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(utc) => utc
            .with_timezone(&chrono::Local)
            .format("%H:%M")
            .to_string(),
        None => "--:--".to_owned(),
    }
}

/// An update as text: one line, or several for `/help`, each starting with the local time.
/// No trailing newline.
pub fn render(update: &Update, colour: bool) -> String {
    let stamp = hhmm(update.at);
    render_body(&update.kind, colour)
        .iter()
        .map(|line| format!("{stamp} {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An update as text like [`render`], with the time stamp in black on yellow when the line
/// mentions our nick (see [`crate::client::ChatState::mentioned_in`]), the way irssi and
/// weechat highlight such lines. Without colour nothing changes, so pipes and scripts see the
/// same text either way.
pub fn render_highlighted(update: &Update, colour: bool, mention: bool) -> String {
    if !mention || !colour {
        return render(update, colour);
    }
    let stamp = sgr("30;43", &hhmm(update.at), colour);
    render_body(&update.kind, colour)
        .iter()
        .map(|line| format!("{stamp} {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `/help`'s lines: a title, then each usage and what it does, in two columns.
fn help_lines(info: &str, title: &str, help: &[(&str, &str)]) -> Vec<String> {
    let width = help.iter().map(|(usage, _)| usage.len()).max().unwrap_or(0);
    std::iter::once(format!("{info} {title}"))
        .chain(
            help.iter()
                .map(|(usage, what)| format!("{info}   {usage:<width$}  {what}")),
        )
        .collect()
}

/// An update as text without the time stamp, one string per line.
pub fn render_body(kind: &UpdateKind, colour: bool) -> Vec<String> {
    let info = sgr("36", "-!-", colour);
    let alert = sgr(&ERROR_COLOUR.to_string(), "-!-", colour);
    let line = match kind {
        UpdateKind::Connected {
            nick,
            users,
            server,
            target,
            reconnected,
        } => {
            let verb = if *reconnected {
                "reconnected"
            } else {
                "connected"
            };
            let mut line = format!(
                "{info} {verb} to {} ({}) as {}; {}",
                text(target),
                text(server),
                paint_nick(nick, true, colour),
                users_online(users, colour)
            );
            if !reconnected {
                line.push_str(". Type /help for commands");
            }
            line
        }
        UpdateKind::Message {
            from,
            text: said,
            own,
            ..
        } => format!("<{}> {}", paint_nick(from, *own, colour), text(said)),
        UpdateKind::Action {
            from,
            text: does,
            own,
            ..
        } => format!("* {} {}", paint_nick(from, *own, colour), text(does)),
        UpdateKind::History {
            from,
            text: said,
            action,
            own,
            ..
        } => {
            // Dim and labelled, so nobody mistakes a replayed message for a live one.
            let label = sgr("2", "[history]", colour);
            if *action {
                format!(
                    "{label} * {} {}",
                    paint_nick(from, *own, colour),
                    text(said)
                )
            } else {
                format!(
                    "{label} <{}> {}",
                    paint_nick(from, *own, colour),
                    text(said)
                )
            }
        }
        // A rule across the pane between what was seen and what was missed.
        UpdateKind::Away { missed, .. } => match missed {
            0 => "-- no messages while you were away --".to_owned(),
            1 => "-- 1 message while you were away --".to_owned(),
            n => format!("-- {n} messages while you were away --"),
        },
        UpdateKind::Private {
            from,
            to,
            text: said,
            outgoing,
        } => {
            if *outgoing {
                format!("-> *{}* {}", paint_nick(to, false, colour), text(said))
            } else {
                format!("*{}* {}", paint_nick(from, false, colour), text(said))
            }
        }
        UpdateKind::Joined { nick, .. } => format!(
            "{} {} joined",
            sgr("32", "-->", colour),
            paint_nick(nick, false, colour)
        ),
        UpdateKind::Left { nick, reason, .. } => {
            let mut line = format!(
                "{} {} left",
                sgr("33", "<--", colour),
                paint_nick(nick, false, colour)
            );
            if !reason.trim().is_empty() {
                line.push_str(&format!(" ({})", text(reason)));
            }
            line
        }
        UpdateKind::Renamed { from, to, own } => {
            if *own {
                format!(
                    "{info} you are now known as {}",
                    paint_nick(to, true, colour)
                )
            } else {
                format!(
                    "{info} {} is now known as {}",
                    paint_nick(from, false, colour),
                    paint_nick(to, false, colour)
                )
            }
        }
        UpdateKind::Notice { text: said } => format!("{info} {}", text(said)),
        UpdateKind::Error { text: said, .. } => format!("{alert} {}", text(said)),
        UpdateKind::Users { room, users } => format!("{info} {}", users_in(room, users, colour)),
        UpdateKind::Entered {
            room,
            users,
            topic,
            by,
        } => {
            let mut line = match by {
                Some(by) => format!(
                    "{info} {} moved you to {}",
                    paint_nick(by, false, colour),
                    text(room)
                ),
                None => format!("{info} you joined {}", text(room)),
            };
            line.push_str(&format!("; {}", users_in(room, users, colour)));
            if let Some(topic) = topic.as_deref().filter(|t| !t.is_empty()) {
                line.push_str(&format!("; topic: {}", text(topic)));
            }
            line
        }
        UpdateKind::Parted { room, reason } => {
            let mut line = format!("{info} you left {}", text(room));
            if !reason.trim().is_empty() {
                line.push_str(&format!(" ({})", text(reason)));
            }
            line
        }
        UpdateKind::RoomList { rooms } => return room_list(&info, rooms),
        UpdateKind::Switched { room } => format!("{info} now talking in {}", text(room)),
        UpdateKind::Invited { room, by } => format!(
            "{info} {} invited you to {}: type /join {} to go in",
            paint_nick(by, false, colour),
            text(room),
            text(room)
        ),
        UpdateKind::Lag { millis } => format!("{info} lag: {millis} ms"),
        UpdateKind::Help => return help_lines(&info, "commands:", HELP),
        UpdateKind::StaffHelp => {
            return help_lines(&info, "staff commands:", crate::client::room::STAFF_HELP);
        }
        // Bold yellow on the whole line: an announcement must not scroll by unnoticed.
        UpdateKind::Announcement {
            from,
            text: said,
            history,
            ..
        } => {
            let line = sgr(
                "1;93",
                &format!("*** ANNOUNCEMENT from {}: {}", text(from), text(said)),
                colour,
            );
            // One from before we joined keeps its style, labelled like the rest of the history.
            if *history {
                format!("{} {line}", sgr("2", "[history]", colour))
            } else {
                line
            }
        }
        UpdateKind::Topic { text: said, by, .. } if said.is_empty() => {
            format!("{info} {} cleared the topic", text(by))
        }
        UpdateKind::Topic { text: said, by, .. } => {
            format!("{info} topic: {} (set by {})", text(said), text(by))
        }
        UpdateKind::Moderation { text: said, .. } => {
            format!("{} {}", sgr("95", "-!-", colour), text(said))
        }
        UpdateKind::Disconnected { reason } => format!("{alert} disconnected: {}", text(reason)),
        UpdateKind::Reconnecting {
            attempt,
            max_attempts,
            delay_secs,
        } => {
            let of = match max_attempts {
                Some(max) => format!("attempt {attempt} of {max}"),
                None => format!("attempt {attempt}"),
            };
            format!("{info} reconnecting in {delay_secs} s ({of}); /quit to give up")
        }
        UpdateKind::ReconnectFailed { attempt, reason } => {
            format!("{alert} attempt {attempt} failed: {}", text(reason))
        }
        UpdateKind::Quit { reason } => match reason {
            Some(reason) => format!("{info} you left ({})", text(reason)),
            None => format!("{info} you left"),
        },
    };
    vec![line]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: UpdateKind) -> Update {
        Update {
            at: 1_763_800_000_000,
            kind,
        }
    }

    fn plain(kind: UpdateKind) -> String {
        let update = at(kind);
        let stamp = hhmm(update.at);
        let shown = render(&update, false);
        shown
            .strip_prefix(&format!("{stamp} "))
            .unwrap_or_else(|| panic!("{shown:?} does not start with the time"))
            .to_owned()
    }

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        assert_eq!(fnv1a(b""), 0x811c_9dc5);
        assert_eq!(fnv1a(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn nick_colours_are_pinned_and_ignore_case() {
        // Pinned: changing the palette or the hash changes every student's colours.
        assert_eq!(fnv1a(b"alice"), 0x8722_13e7);
        assert_eq!(nick_colour("alice"), PALETTE[9]);
        assert_eq!(nick_colour("alice"), 96);
        assert_eq!(nick_colour("bob"), 36);
        assert_eq!(nick_colour("ALICE"), nick_colour("alice"));
        for nick in ["al", "Zed", "x-y_z", "abcdefghijklmnop"] {
            assert!(PALETTE.contains(&nick_colour(nick)));
            assert_eq!(nick_colour(nick), nick_colour(nick));
        }
    }

    #[test]
    fn hhmm_is_hours_and_minutes() {
        let shown = hhmm(1_763_800_000_000);
        assert_eq!(shown.len(), 5);
        assert_eq!(&shown[2..3], ":");
        assert!(
            shown
                .chars()
                .filter(|c| *c != ':')
                .all(|c| c.is_ascii_digit())
        );
        assert_eq!(hhmm(u64::MAX), "--:--");
    }

    #[test]
    fn irssi_style_lines_without_colour() {
        let cases = [
            (
                UpdateKind::Message {
                    room: "#class".into(),
                    from: "alice".into(),
                    text: "hi all".into(),
                    own: false,
                },
                "<alice> hi all",
            ),
            (
                UpdateKind::Message {
                    room: "#class".into(),
                    from: "me1".into(),
                    text: "mine".into(),
                    own: true,
                },
                "<me1> mine",
            ),
            (
                UpdateKind::Action {
                    room: "#class".into(),
                    from: "alice".into(),
                    text: "waves".into(),
                    own: false,
                },
                "* alice waves",
            ),
            (
                UpdateKind::Joined {
                    room: "#class".into(),
                    nick: "carol".into(),
                },
                "--> carol joined",
            ),
            (
                UpdateKind::Left {
                    room: "#class".into(),
                    nick: "bob".into(),
                    reason: "lunch".into(),
                },
                "<-- bob left (lunch)",
            ),
            (
                UpdateKind::Left {
                    room: "#class".into(),
                    nick: "bob".into(),
                    reason: String::new(),
                },
                "<-- bob left",
            ),
            (
                UpdateKind::Renamed {
                    from: "carol".into(),
                    to: "caro".into(),
                    own: false,
                },
                "-!- carol is now known as caro",
            ),
            (
                UpdateKind::Renamed {
                    from: "me1".into(),
                    to: "me2".into(),
                    own: true,
                },
                "-!- you are now known as me2",
            ),
            (
                UpdateKind::Private {
                    from: "bob".into(),
                    to: "me1".into(),
                    text: "psst".into(),
                    outgoing: false,
                },
                "*bob* psst",
            ),
            (
                UpdateKind::Private {
                    from: "me1".into(),
                    to: "bob".into(),
                    text: "see you".into(),
                    outgoing: true,
                },
                "-> *bob* see you",
            ),
            (
                UpdateKind::Notice {
                    text: "server restarting".into(),
                },
                "-!- server restarting",
            ),
            (
                UpdateKind::Error {
                    code: None,
                    text: "too long".into(),
                },
                "-!- too long",
            ),
            (
                UpdateKind::Users {
                    room: "#class".into(),
                    users: vec!["alice".into(), "bob".into()],
                },
                "-!- 2 users online: alice bob",
            ),
            (UpdateKind::Lag { millis: 12 }, "-!- lag: 12 ms"),
            (
                UpdateKind::Away {
                    room: "#class".into(),
                    missed: 3,
                },
                "-- 3 messages while you were away --",
            ),
            (
                UpdateKind::Away {
                    room: "#class".into(),
                    missed: 1,
                },
                "-- 1 message while you were away --",
            ),
            (
                UpdateKind::Away {
                    room: "#class".into(),
                    missed: 0,
                },
                "-- no messages while you were away --",
            ),
            (
                UpdateKind::Reconnecting {
                    attempt: 2,
                    max_attempts: Some(10),
                    delay_secs: 2,
                },
                "-!- reconnecting in 2 s (attempt 2 of 10); /quit to give up",
            ),
            (
                UpdateKind::Quit {
                    reason: Some("lunch".into()),
                },
                "-!- you left (lunch)",
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(plain(kind), expected);
        }
    }

    #[test]
    fn moderation_lines_stand_out() {
        assert_eq!(
            plain(UpdateKind::Announcement {
                room: "#class".into(),
                from: "prof".into(),
                text: "exam starts".into(),
                history: false,
            }),
            "*** ANNOUNCEMENT from prof: exam starts"
        );
        let coloured = render(
            &at(UpdateKind::Announcement {
                room: "#class".into(),
                from: "prof".into(),
                text: "x".into(),
                history: false,
            }),
            true,
        );
        assert!(coloured.contains("\x1b[1;93m"), "{coloured:?}");
        // From the history: labelled as such, in the announcement's own style.
        assert_eq!(
            plain(UpdateKind::Announcement {
                room: "#class".into(),
                from: "prof".into(),
                text: "exam starts".into(),
                history: true,
            }),
            "[history] *** ANNOUNCEMENT from prof: exam starts"
        );
        let coloured = render(
            &at(UpdateKind::Announcement {
                room: "#class".into(),
                from: "prof".into(),
                text: "x".into(),
                history: true,
            }),
            true,
        );
        assert!(coloured.contains("\x1b[1;93m"), "{coloured:?}");
        assert_eq!(
            plain(UpdateKind::Topic {
                room: "#class".into(),
                text: "Exam".into(),
                by: "prof".into()
            }),
            "-!- topic: Exam (set by prof)"
        );
        assert_eq!(
            plain(UpdateKind::Topic {
                room: "#class".into(),
                text: String::new(),
                by: "prof".into()
            }),
            "-!- prof cleared the topic"
        );
        assert_eq!(
            plain(UpdateKind::Moderation {
                room: "#class".into(),
                text: "prof muted ann \u{1b}[2J".into()
            }),
            "-!- prof muted ann ^[[2J"
        );
        let staff = render(&at(UpdateKind::StaffHelp), false);
        assert!(staff.contains("/mute NICK [MIN] [REASON]"), "{staff}");
    }

    #[test]
    fn room_lines() {
        assert_eq!(
            plain(UpdateKind::Entered {
                room: "#lab1".into(),
                users: vec!["alice".into(), "%tom".into()],
                topic: Some("ex. 3".into()),
                by: None,
            }),
            "-!- you joined #lab1; 2 users in #lab1: alice %tom; topic: ex. 3"
        );
        assert_eq!(
            plain(UpdateKind::Entered {
                room: "#lab2".into(),
                users: vec!["alice".into()],
                topic: None,
                by: Some("prof".into()),
            }),
            "-!- prof moved you to #lab2; 1 user in #lab2: alice"
        );
        assert_eq!(
            plain(UpdateKind::Parted {
                room: "#lab1".into(),
                reason: "done".into(),
            }),
            "-!- you left #lab1 (done)"
        );
        assert_eq!(
            plain(UpdateKind::Invited {
                room: "#quiet".into(),
                by: "bob".into(),
            }),
            "-!- bob invited you to #quiet: type /join #quiet to go in"
        );
        assert_eq!(
            plain(UpdateKind::Users {
                room: "#class".into(),
                users: vec!["alice".into()],
            }),
            "-!- 1 user online: alice"
        );
        let list = render_body(
            &UpdateKind::RoomList {
                rooms: vec![
                    RoomSummary {
                        room: "#class".into(),
                        members: 12,
                        topic: Some("Week 3".into()),
                        invite_only: false,
                    },
                    RoomSummary {
                        room: "#lab1".into(),
                        members: 1,
                        topic: None,
                        invite_only: true,
                    },
                ],
            },
            false,
        );
        assert_eq!(
            list,
            [
                "-!- rooms:",
                "-!-   #class   12 users  Week 3",
                "-!-   #lab1     1 user   (invite only)",
            ]
        );
        assert_eq!(
            render_body(&UpdateKind::RoomList { rooms: vec![] }, false),
            ["-!- no rooms"]
        );
    }

    #[test]
    fn a_room_tag_goes_after_the_stamp() {
        let update = at(UpdateKind::Message {
            room: "#lab1".into(),
            from: "bob".into(),
            text: "hi".into(),
            own: false,
        });
        let stamp = hhmm(update.at);
        assert_eq!(
            render_in_room(&update, false, false, true),
            format!("{stamp} [#lab1] <bob> hi")
        );
        assert_eq!(
            render_in_room(&update, false, true, false),
            render(&update, false)
        );
        let notice = at(UpdateKind::Notice { text: "x".into() });
        assert_eq!(
            render_in_room(&notice, false, false, true),
            format!("{stamp} -!- x")
        );
    }

    #[test]
    fn every_help_line_is_stamped() {
        let shown = render(&at(UpdateKind::Help), false);
        let stamp = hhmm(1_763_800_000_000);
        assert_eq!(shown.lines().count(), HELP.len() + 1);
        assert!(shown.lines().all(|line| line.starts_with(&stamp)));
        assert!(shown.contains("/msg NICK TEXT"));
    }

    #[test]
    fn colour_paints_nicks_and_bolds_our_own() {
        let theirs = render_body(
            &UpdateKind::Message {
                room: "#class".into(),
                from: "alice".into(),
                text: "hi".into(),
                own: false,
            },
            true,
        );
        assert_eq!(theirs, ["<\x1b[96malice\x1b[0m> hi"]);
        let ours = render_body(
            &UpdateKind::Message {
                room: "#class".into(),
                from: "alice".into(),
                text: "hi".into(),
                own: true,
            },
            true,
        );
        assert_eq!(ours, ["<\x1b[1;96malice\x1b[0m> hi"]);
    }

    #[test]
    fn no_escape_codes_without_colour() {
        let kinds = [
            UpdateKind::Help,
            UpdateKind::Connected {
                nick: "alice".into(),
                users: vec!["alice".into(), "bob".into()],
                server: "fernchat 0.1.0".into(),
                target: "127.0.0.1:7474".into(),
                reconnected: false,
            },
            UpdateKind::Error {
                code: None,
                text: "x".into(),
            },
            UpdateKind::Joined {
                room: "#class".into(),
                nick: "bob".into(),
            },
        ];
        for kind in kinds {
            let shown = render(&at(kind), false);
            assert!(!shown.contains('\x1b'), "{shown:?}");
        }
    }

    #[test]
    fn mentions_highlight_the_stamp_only_in_colour() {
        let update = at(UpdateKind::Message {
            room: "#class".into(),
            from: "bob".into(),
            text: "hi alice".into(),
            own: false,
        });
        assert_eq!(
            render_highlighted(&update, false, true),
            render(&update, false)
        );
        assert_eq!(
            render_highlighted(&update, true, false),
            render(&update, true)
        );
        let lit = render_highlighted(&update, true, true);
        assert!(
            lit.starts_with(&format!("\x1b[30;43m{}\x1b[0m ", hhmm(update.at))),
            "{lit:?}"
        );
        assert!(
            lit.ends_with(&render_body(&update.kind, true)[0]),
            "{lit:?}"
        );
    }

    #[test]
    fn no_color_and_pipes_turn_colour_off() {
        assert!(colour_wanted_from(None, true));
        assert!(colour_wanted_from(Some(OsStr::new("")), true));
        assert!(!colour_wanted_from(Some(OsStr::new("1")), true));
        assert!(!colour_wanted_from(None, false));
    }

    #[test]
    fn server_text_cannot_drive_the_terminal() {
        assert_eq!(clean("a\u{1b}[2Jb", 100), "a^[[2Jb");
        assert_eq!(clean("bell\u{7}\r\n", 100), "bell^G^M^J");
        assert_eq!(clean("del\u{7f}", 100), "del^?");
        assert_eq!(clean("csi\u{9b}2J", 100), "csi<U+009B>2J");
        assert_eq!(clean("abc\u{202e}fed", 100), "abc<U+202E>fed");
        assert_eq!(clean("tab\there", 100), "tab here");
        assert_eq!(clean("héllo wörld", 100), "héllo wörld");
        assert_eq!(clean("abcdef", 3), "abc…");
        let line = render_body(
            &UpdateKind::Message {
                room: "#class".into(),
                from: "evil\u{1b}]0;pwned\u{7}".into(),
                text: "\u{1b}[1A\u{1b}[2Kforged".into(),
                own: false,
            },
            true,
        );
        // Only our own colour codes remain: each ESC is followed by `[` and an SGR number.
        let escapes = line[0].matches('\x1b').count();
        assert_eq!(escapes, 2, "{line:?}");
        assert!(line[0].contains("^[[1A^[[2Kforged"));
    }
}
