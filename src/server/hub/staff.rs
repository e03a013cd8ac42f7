//! The hub's side of moderation: the staff commands (`announce`, `topic`, `mute`, `kick`,
//! `ban`, `quiet`, `slow`, `whois`, ...), the check before anyone speaks (mutes, quiet and slow
//! mode) or joins (bans, kicks), and what a joiner is told (roles, topic, latest announcement).
//!
//! The flow for every staff command: the policy ([`crate::server::policy`]) decides whether
//! this user's role may do it (to that user's role); a refusal is `not_permitted` to them and an
//! audit line. Then [`Moderation`](crate::server::moderation::Moderation) records the decision
//! (saving it), the room gets one `moderation` line saying who did what to whom and why, and
//! the server log gets an `audit:` line with the same facts.
//!
//! The audit line holds the staff member's reason and the topic (staff text that accounts for
//! the action, and the topic is public room state) but never an announcement's text, which is
//! a message like any other and, like every message, stays out of the log.

use std::collections::BTreeMap;

use super::{Departure, Hub};
use crate::protocol::event::{DEFAULT_ROOM, nick_key, validate_text};
use crate::protocol::{ClientEvent, ErrorCode, ServerEvent, unix_millis};
use crate::role::Role;
use crate::roster::admit::Member;
use crate::server::moderation::{DEFAULT_MUTE_MINUTES, lasting};
use crate::server::moderation_state::{Identity, Kind, Sanction, Stamped};
use crate::server::policy::{self, Action};

/// The longest reason staff may give, in characters (it is shown in one line to everyone).
const MAX_REASON: usize = 200;

/// Seats past `max_clients` that only staff may take.
const STAFF_SEATS: usize = 8;

/// The longest slow-mode interval: an hour (longer is quiet mode).
const MAX_SLOW_SECS: u64 = 3600;

/// A user online, found by nick for a staff command.
pub(super) struct Target {
    pub(super) id: u64,
    pub(super) nick: String,
    pub(super) role: Role,
}

impl Hub {
    /// Handles what moderation decides for a client's event: a staff command ends here
    /// (`None`), and so does speech that a mute or a mode refuses; everything else is given
    /// back for the hub's ordinary flow.
    pub(super) fn moderate(
        &mut self,
        id: u64,
        nick: &str,
        event: ClientEvent,
    ) -> Option<ClientEvent> {
        match event {
            // The room first (valid, folded, one of the sender's), so that its modes apply.
            ClientEvent::Say { text, room } => {
                let room = self.speech_room(id, room)?;
                self.may_speak(id, nick, Some(&room))
                    .then_some(ClientEvent::Say {
                        text,
                        room: Some(room),
                    })
            }
            ClientEvent::Me { text, room } => {
                let room = self.speech_room(id, room)?;
                self.may_speak(id, nick, Some(&room))
                    .then_some(ClientEvent::Me {
                        text,
                        room: Some(room),
                    })
            }
            // A mute follows the nick of a class-key user: it may not be changed meanwhile.
            ClientEvent::Nick { .. } if !self.moderation.restricts_speech() => Some(event),
            ClientEvent::Nick { .. } => {
                let muted = self.identity(id).is_some_and(|who| {
                    let now = self.config.clock.now();
                    self.moderation.is_muted(&who, nick, now)
                });
                if muted {
                    self.send_error(
                        id,
                        ErrorCode::Muted,
                        "you may not change your nick while you are muted".into(),
                    );
                }
                (!muted).then_some(event)
            }
            // Anyone may write privately to staff (a muted student asking why, a question
            // during an exam); to anyone else, mutes and quiet mode apply.
            ClientEvent::Msg { .. } if !self.moderation.restricts_speech() => Some(event),
            ClientEvent::Msg { ref to, .. } => {
                let to_staff = self
                    .nicks
                    .get(&nick_key(to))
                    .and_then(|to| self.clients.get(to))
                    .is_some_and(|c| c.role.is_staff());
                (to_staff || self.may_speak(id, nick, None)).then_some(event)
            }
            ClientEvent::Announce { room, all, text } => {
                self.announce(id, nick, text, room, all);
                None
            }
            ClientEvent::Topic { room, text } => {
                self.topic(id, nick, text, room);
                None
            }
            ClientEvent::Mute {
                nick: whom,
                minutes,
                reason,
            } => {
                let minutes = minutes.unwrap_or(DEFAULT_MUTE_MINUTES);
                self.sanction(id, nick, Kind::Mute, &whom, minutes, reason);
                None
            }
            ClientEvent::Kick { nick: whom, reason } => {
                self.sanction(id, nick, Kind::Kick, &whom, 0, reason);
                None
            }
            ClientEvent::Ban {
                nick: whom,
                minutes,
                reason,
            } => {
                self.sanction(id, nick, Kind::Ban, &whom, minutes.unwrap_or(0), reason);
                None
            }
            ClientEvent::Unmute { nick: whom } => {
                self.lift(id, nick, Action::Unmute, &whom);
                None
            }
            ClientEvent::Unban { nick: whom } => {
                self.lift(id, nick, Action::Unban, &whom);
                None
            }
            ClientEvent::Quiet { room, on } => {
                self.quiet(id, nick, on, room);
                None
            }
            ClientEvent::Slow { room, seconds } => {
                self.slow(id, nick, seconds, room);
                None
            }
            ClientEvent::Move { nick: whom, room } => {
                self.move_user(id, nick, &whom, &room);
                None
            }
            ClientEvent::Groups { groups } => {
                self.groups(id, nick, groups);
                None
            }
            ClientEvent::Whois { nick: whom } => {
                self.whois(id, nick, &whom);
                None
            }
            ClientEvent::Reload => {
                self.reload(id, nick);
                None
            }
            other => Some(other),
        }
    }

    /// Who a connection is, as sanctions match it: its roster login, else (a class key, or a
    /// staff key) the fingerprint of the key that opened it and its address.
    fn identity(&self, id: u64) -> Option<Identity> {
        let client = self.clients.get(&id)?;
        // Roster mode: the key found by the roster lookup, else the ring's key of the hello.
        let key = client
            .hello_sealer
            .as_ref()
            .or_else(|| self.ring.get(client.hello_key));
        Some(Identity {
            login: client
                .member
                .as_ref()
                .and_then(Member::login)
                .map(str::to_owned),
            fingerprint: key.map(|k| k.fingerprint().to_string()),
            address: Some(client.peer.ip()),
        })
    }

    /// Whether `id` may say something now (to a room, or privately: `None`); if not, it is
    /// told why.
    fn may_speak(&mut self, id: u64, nick: &str, to_room: Option<&str>) -> bool {
        if !self.moderation.restricts_speech() {
            return true;
        }
        let (Some(who), Some(role)) = (self.identity(id), self.clients.get(&id).map(|c| c.role))
        else {
            return false;
        };
        let now = self.config.clock.now();
        match self
            .moderation
            .may_speak(id, (&who, nick), role, to_room, now)
        {
            Ok(()) => true,
            Err((code, message)) => {
                self.send_error(id, code, message);
                false
            }
        }
    }

    /// Why the connection `id` may not join as `nick` (a ban, or a kick not yet over), if it
    /// may not.
    pub(super) fn barred(&mut self, id: u64, nick: &str) -> Option<(ErrorCode, String)> {
        let who = self.identity(id)?;
        let now = self.config.clock.now();
        let (code, message, _) = self.moderation.barred(&who, nick, now)?;
        Some((code, message))
    }

    /// How many users may be in the room when connection `id` joins: `max_clients`, and for
    /// staff [`STAFF_SEATS`] more, so a full class never locks its instructor out.
    pub(super) fn seats_for(&self, id: u64) -> usize {
        let staff = self.clients.get(&id).is_some_and(|c| c.role.is_staff());
        self.config.max_clients + if staff { STAFF_SEATS } else { 0 }
    }

    /// The role of every member of `room` who is not a student, for `welcome`, `users` and
    /// `entered`.
    pub(super) fn room_roles(&self, room: &str) -> BTreeMap<String, Role> {
        let Some(room) = self.rooms.get(room) else {
            return BTreeMap::new();
        };
        room.members()
            .filter_map(|id| self.clients.get(&id))
            .filter(|c| c.role != Role::Student)
            .filter_map(|c| Some((c.nick.clone()?, c.role)))
            .collect()
    }

    /// Whether the announcement with `#class` id `room_id` reached joiner `id` already: it was
    /// seen before a rejoin (`since`), or it is among the recent history just replayed. An
    /// announcement from before announcements had ids (`None`) was never replayed.
    fn announcement_replayed(&self, id: u64, room_id: Option<u64>) -> bool {
        let Some(room_id) = room_id else {
            return false;
        };
        let since = self.clients.get(&id).and_then(|c| c.since);
        since.is_some_and(|since| since >= room_id)
            || self
                .rooms
                .get(DEFAULT_ROOM)
                .and_then(|r| r.history.as_ref())
                .is_some_and(|h| h.recent().any(|e| e.id == room_id))
    }

    /// What a joiner is told after the welcome and the history: `#class`'s topic and modes,
    /// and the latest announcement (sealed for it alone).
    pub(super) fn greet(&mut self, id: u64) {
        if let Some(topic) = self.moderation.topic(DEFAULT_ROOM) {
            let event = ServerEvent::Topic {
                room: DEFAULT_ROOM.to_owned(),
                text: topic.text.clone(),
                by: topic.by.clone(),
                time: topic.time,
            };
            self.send(id, &event);
        }
        // The latest announcement, for the status bar, unless the joiner has it already: in
        // the history just replayed, or seen before a rejoin (its `since`).
        if let Some(announcement) = self.moderation.announcement()
            && !self.announcement_replayed(id, announcement.id)
        {
            let event = ServerEvent::Announcement {
                room: DEFAULT_ROOM.to_owned(),
                from: announcement.by.clone(),
                text: announcement.text.clone(),
                time: announcement.time,
                id: announcement.id,
                history: true,
            };
            self.send(id, &event);
        }
        self.tell_modes(id, DEFAULT_ROOM);
    }

    /// Tells `id`, who just came into `room`, of its quiet or slow mode (if on).
    pub(super) fn tell_modes(&mut self, id: u64, room: &str) {
        let mut modes = Vec::new();
        // `#class`'s modes are worded as before rooms; another room's are named.
        let in_room = room_words("in", room);
        if self.moderation.quiet(room) {
            modes.push(format!("quiet mode is on{in_room}: only staff may speak"));
        }
        let slow = self.moderation.slow_secs(room);
        if slow > 0 {
            modes.push(format!(
                "slow mode is on{in_room}: one message per {slow} s each"
            ));
        }
        if !modes.is_empty() {
            self.notice_to(id, &modes.join("; "));
        }
    }

    pub(super) fn notice_to(&mut self, id: u64, text: &str) {
        let notice = ServerEvent::Notice {
            text: text.to_owned(),
            time: unix_millis(),
        };
        self.send(id, &notice);
    }

    /// Asks the policy; a refusal is told to the client and written as an audit line.
    pub(super) fn permitted(
        &mut self,
        id: u64,
        nick: &str,
        action: Action,
        target: Option<&Target>,
    ) -> bool {
        let Some(role) = self.clients.get(&id).map(|c| c.role) else {
            return false;
        };
        match policy::may(role, action, target.map(|t| t.role)) {
            Ok(()) => true,
            Err(refusal) => {
                let whom = target.map_or(String::new(), |t| format!(" {}", t.nick));
                self.audit(format_args!(
                    "refused {action}{whom} from {nick} ({role}, #{id}): not permitted",
                    action = action.name()
                ));
                self.send_error(id, ErrorCode::NotPermitted, refusal);
                false
            }
        }
    }

    /// Finds an online user by nick (any case), or tells `id` there is none.
    pub(super) fn target(&mut self, id: u64, whom: &str) -> Option<Target> {
        let found = self.nicks.get(&nick_key(whom)).and_then(|&target| {
            let client = self.clients.get(&target)?;
            Some(Target {
                id: target,
                nick: client.nick.clone()?,
                role: client.role,
            })
        });
        if found.is_none() {
            self.send_error(
                id,
                ErrorCode::NoSuchNick,
                format!("nobody called {whom} is online; /who lists who is"),
            );
        }
        found
    }

    /// Checks staff text (an announcement, a topic, a reason) against the rules of message
    /// text; a refusal is told to `id`.
    fn text_ok(&mut self, id: u64, what: &str, text: &str, limit: usize) -> bool {
        match validate_text(text, limit) {
            Ok(()) => true,
            Err(e) => {
                self.send_error(id, ErrorCode::BadText, format!("{what} not accepted: {e}"));
                false
            }
        }
    }

    /// An `audit:` line in the server log.
    pub(super) fn audit(&self, line: std::fmt::Arguments<'_>) {
        self.config.log.line(format_args!("audit: {line}"));
    }

    /// Logs a state file that could not be saved (the change holds in memory).
    fn saved(&self, result: Result<(), String>) {
        if let Err(e) = result {
            self.config.log.line(format_args!("{e}"));
        }
    }

    /// Tells `room` in one line, and the log in an audit line, what staff did. `whom`: the
    /// target's session, named in the audit line by address and key (the room sees the nick).
    /// Sanctions, which are on the person in every room, are told in `#class`.
    fn announce_action(
        &mut self,
        (by, room): (&str, &str),
        action: Action,
        target: Option<&str>,
        reason: Option<String>,
        (line, whom): (String, Option<&Identity>),
    ) {
        let role = self
            .nicks
            .get(&nick_key(by))
            .and_then(|id| self.clients.get(id))
            .map_or(Role::Student, |c| c.role);
        let session = whom.map_or(String::new(), |who| {
            let address = who.address.map_or("-".to_owned(), |a| a.to_string());
            let key = who.fingerprint.as_deref().unwrap_or("-");
            format!("; target at {address}, key {key}")
        });
        self.audit(format_args!("{line} [by {by}, {role}{session}]"));
        let event = ServerEvent::Moderation {
            room: room.to_owned(),
            by: by.to_owned(),
            action: action.name().to_owned(),
            target: target.map(str::to_owned),
            reason,
            text: line,
            time: unix_millis(),
        };
        self.broadcast_in(room, None, &event);
    }

    /// An announcement to `room` (absent: `#class`) or, `all`, to every room. The latest
    /// one to `#class` (or all) is kept and shown to each joiner.
    fn announce(&mut self, id: u64, nick: &str, text: String, room: Option<String>, all: bool) {
        if !self.permitted(id, nick, Action::Announce, None)
            || !self.text_ok(id, "announcement", &text, self.config.max_text)
        {
            return;
        }
        let rooms = if all {
            let mut names = self.rooms.names();
            names.sort();
            names
        } else {
            let Some(room) = self.existing_room(id, room) else {
                return;
            };
            vec![room]
        };
        let time = unix_millis();
        let role = self.clients.get(&id).map_or(Role::Student, |c| c.role);
        let to = match rooms.as_slice() {
            _ if all => " to every room".to_owned(),
            [room] if room != DEFAULT_ROOM => format!(" to {room}"),
            _ => String::new(),
        };
        self.audit(format_args!(
            "{nick} ({role}) announced{to} ({} characters)",
            text.chars().count()
        ));
        for room in rooms {
            // An announcement is a room record like a message: the next id of its room, and a
            // record of the room's history file (written before anyone sees it), so joiners get
            // it in order with the messages around it. The latest of `#class` is also kept.
            let Some(room_id) = self.rooms.get_mut(&room).map(|r| r.next_id()) else {
                continue;
            };
            if room == DEFAULT_ROOM {
                let saved = self.moderation.set_announcement(Stamped {
                    text: text.clone(),
                    by: nick.to_owned(),
                    time,
                    id: Some(room_id),
                });
                self.saved(saved);
            }
            self.broadcast_room(&ServerEvent::Announcement {
                room,
                from: nick.to_owned(),
                text: text.clone(),
                time,
                id: Some(room_id),
                history: false,
            });
        }
    }

    fn topic(&mut self, id: u64, nick: &str, text: String, room: Option<String>) {
        if !self.permitted(id, nick, Action::Topic, None)
            || (!text.is_empty() && !self.text_ok(id, "topic", &text, MAX_REASON))
        {
            return;
        }
        let Some(room) = self.existing_room(id, room) else {
            return;
        };
        let time = unix_millis();
        let stamped = (!text.is_empty()).then(|| Stamped {
            text: text.clone(),
            by: nick.to_owned(),
            time,
            id: None,
        });
        let saved = self.moderation.set_topic(&room, stamped);
        self.saved(saved);
        let role = self.clients.get(&id).map_or(Role::Student, |c| c.role);
        let of = room_words("of", &room);
        self.audit(format_args!(
            "{nick} ({role}) set the topic{of} to {text:?}"
        ));
        let event = ServerEvent::Topic {
            room: room.clone(),
            text,
            by: nick.to_owned(),
            time,
        };
        self.broadcast_in(&room, None, &event);
    }

    /// Mute, kick or ban `whom` (online) for `minutes` (0: until lifted; kicks last
    /// `kick_secs` of the configuration, `--kick-wait`).
    fn sanction(
        &mut self,
        id: u64,
        nick: &str,
        kind: Kind,
        whom: &str,
        minutes: u64,
        reason: Option<String>,
    ) {
        let action = match kind {
            Kind::Mute => Action::Mute,
            Kind::Kick => Action::Kick,
            Kind::Ban => Action::Ban,
        };
        // Staff only, before anything else: a student learns nothing about who is online.
        if !self.permitted(id, nick, action, None) {
            return;
        }
        let Some(target) = self.target(id, whom) else {
            return;
        };
        if !self.permitted(id, nick, action, Some(&target)) {
            return;
        }
        if let Some(reason) = &reason
            && !self.text_ok(id, "reason", reason, MAX_REASON)
        {
            return;
        }
        let Some(who) = self.identity(target.id) else {
            return;
        };
        let target_who = who.clone();
        let now = self.config.clock.now();
        let until = match kind {
            Kind::Kick => Some(now.saturating_add(self.config.kick_secs.saturating_mul(1000))),
            _ => (minutes > 0).then(|| now.saturating_add(minutes.saturating_mul(60_000))),
        };
        let saved = self.moderation.impose(Sanction {
            kind,
            nick: target.nick.clone(),
            who,
            until,
            reason: reason.clone().unwrap_or_default(),
            by: nick.to_owned(),
            time: now,
        });
        self.saved(saved);
        let why = reason
            .as_deref()
            .map_or(String::new(), |r| format!(" ({r})"));
        let how_long = lasting(until, now);
        let (verb, code) = match kind {
            Kind::Mute => ("muted", None),
            Kind::Kick => ("kicked", Some(ErrorCode::Kicked)),
            Kind::Ban => ("banned", Some(ErrorCode::Banned)),
        };
        let line = match kind {
            Kind::Mute => format!("{nick} muted {} {how_long}{why}", target.nick),
            _ => format!(
                "{nick} {verb} {}{why}; they may not come back {how_long}",
                target.nick
            ),
        };
        self.announce_action(
            (nick, DEFAULT_ROOM),
            action,
            Some(&target.nick),
            reason,
            (line, Some(&target_who)),
        );
        if let Some(code) = code {
            let message =
                format!("you were {verb} by {nick}{why}; you may not come back {how_long}",);
            let retry_after = until.map(|until| until.saturating_sub(now).div_ceil(1000));
            self.remove(
                target.id,
                Departure::Removed {
                    code,
                    message,
                    retry_after,
                },
                &format!("{verb} by {nick}"),
            );
        }
    }

    /// `unmute` or `unban` (which also ends a kick's wait).
    fn lift(&mut self, id: u64, nick: &str, action: Action, whom: &str) {
        if !self.permitted(id, nick, action, None) {
            return;
        }
        let kinds: &[Kind] = match action {
            Action::Unmute => &[Kind::Mute],
            _ => &[Kind::Ban, Kind::Kick],
        };
        let online = self
            .nicks
            .get(&nick_key(whom))
            .copied()
            .and_then(|target| self.identity(target));
        let (lifted, saved) = self.moderation.lift(kinds, whom, online.as_ref());
        self.saved(saved);
        if lifted.is_empty() {
            let what = if action == Action::Unmute {
                "muted"
            } else {
                "banned or kicked"
            };
            return self.send_error(
                id,
                ErrorCode::NoSuchNick,
                format!("{whom} is not {what}; nothing to lift"),
            );
        }
        let verb = if action == Action::Unmute {
            "unmuted"
        } else {
            "lifted the ban on"
        };
        let line = format!("{nick} {verb} {whom}");
        self.announce_action((nick, DEFAULT_ROOM), action, Some(whom), None, (line, None));
    }

    fn quiet(&mut self, id: u64, nick: &str, on: bool, room: Option<String>) {
        if !self.permitted(id, nick, Action::Quiet, None) {
            return;
        }
        let Some(room) = self.existing_room(id, room) else {
            return;
        };
        let in_room = room_words("in", &room);
        match self.moderation.set_quiet(&room, on) {
            Ok(false) => {
                let state = if on { "on" } else { "off" };
                self.notice_to(id, &format!("quiet mode is already {state}{in_room}"));
            }
            changed => {
                self.saved(changed.map(|_| ()));
                let line = if on {
                    format!(
                        "{nick} turned quiet mode on{in_room}: only staff may speak until it is off"
                    )
                } else {
                    format!("{nick} turned quiet mode off{in_room}: everyone may speak again")
                };
                self.announce_action((nick, &room), Action::Quiet, None, None, (line, None));
            }
        }
    }

    fn slow(&mut self, id: u64, nick: &str, seconds: u64, room: Option<String>) {
        if !self.permitted(id, nick, Action::Slow, None) {
            return;
        }
        let Some(room) = self.existing_room(id, room) else {
            return;
        };
        let in_room = room_words("in", &room);
        if seconds > MAX_SLOW_SECS {
            return self.send_error(
                id,
                ErrorCode::BadField,
                format!(
                    "slow mode takes 0 (off) to {MAX_SLOW_SECS} seconds; for silence use /quiet on"
                ),
            );
        }
        let saved = self.moderation.set_slow(&room, seconds);
        self.saved(saved);
        let line = if seconds == 0 {
            format!("{nick} turned slow mode off{in_room}")
        } else {
            format!("{nick} turned slow mode on{in_room}: one message per {seconds} s each")
        };
        self.announce_action((nick, &room), Action::Slow, None, None, (line, None));
    }

    /// `/reload`: re-reads the roster as SIGHUP does; the hub closes withdrawn students'
    /// connections when the result comes back to it (next round).
    fn reload(&mut self, id: u64, nick: &str) {
        if !self.permitted(id, nick, Action::Reload, None) {
            return;
        }
        let Some(roster) = &self.config.roster else {
            return self.notice_to(
                id,
                "this server has no roster to reload (it was started without --roster)",
            );
        };
        let role = self.clients.get(&id).map_or(Role::Student, |c| c.role);
        match roster.reload() {
            Ok(reloaded) => {
                self.audit(format_args!(
                    "{nick} ({role}) reloaded the roster: {} students, {} revoked, {} keys withdrawn",
                    reloaded.students,
                    reloaded.revoked,
                    reloaded.withdrawn.len()
                ));
                self.notice_to(
                    id,
                    &format!(
                        "roster reloaded: {} students, {} revoked, {} keys withdrawn",
                        reloaded.students,
                        reloaded.revoked,
                        reloaded.withdrawn.len()
                    ),
                );
            }
            Err(e) => {
                self.audit(format_args!(
                    "{nick} ({role}) could not reload the roster: {e}"
                ));
                self.send_error(
                    id,
                    ErrorCode::BadField,
                    format!("the roster was not reloaded, the one in force is unchanged: {e}"),
                );
            }
        }
    }

    fn whois(&mut self, id: u64, nick: &str, whom: &str) {
        if !self.permitted(id, nick, Action::Whois, None) {
            return;
        }
        let Some(target) = self.target(id, whom) else {
            return;
        };
        let (Some(client), Some(who)) = (self.clients.get(&target.id), self.identity(target.id))
        else {
            return;
        };
        let now = self.config.clock.now();
        let muted = self.moderation.is_muted(&who, &target.nick, now);
        let answer = ServerEvent::Whois {
            nick: target.nick,
            role: target.role,
            login: who.login.clone(),
            address: client.peer.ip().to_string(),
            key: who.fingerprint.clone().unwrap_or_default(),
            since: client.joined_at,
            muted,
            client: client.program.clone(),
        };
        self.send(id, &answer);
    }
}

/// `" in #lab1"` for a room's lines, and nothing for `#class`'s, which read as before rooms.
fn room_words(preposition: &str, room: &str) -> String {
    if room == DEFAULT_ROOM {
        String::new()
    } else {
        format!(" {preposition} {room}")
    }
}
