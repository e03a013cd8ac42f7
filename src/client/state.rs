//! Chat state: what this client believes about the server's rooms right now.
//!
//! This module owns the rooms we are in (in the order joined, `#class` first) with each one's
//! users, roles and topic; which room is *current* (where plain text goes); our own nick, the
//! server's limits and the last error; the rules for updating them from server events; which
//! room messages are repeats (by their ids, counted per room, so a reconnect never shows one
//! twice); and what counts as mentioning our nick. It is plain data with pure methods so it
//! can be tested without sockets; it must not do I/O. The session holds the authoritative copy
//! and publishes snapshots for front ends (a TUI draws its room list, user list and status
//! line from one).

use crate::client::room::RoomInfo;
use crate::client::update::{DEFAULT_ROOM, UpdateKind};
use crate::crypto::Fingerprint;
use crate::protocol::event::nick_key;

/// The most users the client lists. A real class is far smaller (the server's default
/// `--max-clients` is 200); a list this long only comes from a broken or hostile server, and
/// every snapshot a front end draws copies it.
pub const MAX_USERS: usize = 10_000;

/// The most rooms the client keeps. The server's own limit per user is far lower (10 by
/// default); only a broken or hostile server sends more `entered` events than this.
pub const MAX_ROOMS: usize = 100;

/// One room we are in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    /// Its name as the server spells it (lower case): `#class`, `#lab1`.
    pub name: String,
    /// Everyone in it, sorted without regard to ASCII case, the way the server sorts.
    pub users: Vec<String>,
    /// Roles, the topic and the latest announcement.
    pub info: RoomInfo,
    /// The id of the last message of this room shown (live or replayed): a rejoin sends it as
    /// `since`, so the server replays only what came after. Kept across reconnects.
    pub last_message: Option<u64>,
    /// Whether a message of this room has been shown since we (re)entered it (see
    /// [`ChatState::first_sight`]).
    shown_since_entered: bool,
    /// Set on a reconnect until the server says we are in it again.
    pub rejoining: bool,
}

impl JoinedRoom {
    fn new(name: &str) -> JoinedRoom {
        JoinedRoom {
            name: name.to_owned(),
            users: Vec::new(),
            info: RoomInfo::default(),
            last_message: None,
            shown_since_entered: false,
            rejoining: false,
        }
    }

    /// The users with their role marks (`@prof`, `%tom`), for lines that list them.
    pub fn marked_users(&self) -> Vec<String> {
        self.users.iter().map(|n| self.info.marked(n)).collect()
    }
}

/// Whether two room names are the same room (names ignore ASCII case).
pub fn same_room(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A snapshot of the chat as this client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatState {
    /// Our nick. Changes on `/nick`; reconnects rejoin under it.
    pub nick: String,
    /// The rooms we are in, in the order joined (`#class` first while we are in it).
    pub rooms: Vec<JoinedRoom>,
    /// The room plain text, `/me`, `/topic` and the like go to. Always one of `rooms` while
    /// we are in any (after a `/part` of it: the first room).
    pub current: String,
    /// The current room's users: a copy of its [`JoinedRoom::users`], kept for front ends that
    /// show one room at a time. Refreshed by every method here; change `rooms`, not this.
    pub users: Vec<String>,
    /// The current room's roles, topic and announcement, and our role: a copy, like `users`.
    pub room: RoomInfo,
    /// The longest message text the server accepts, in characters (from `welcome`).
    pub max_text: usize,
    /// The server's software and version (from `welcome`).
    pub server: String,
    /// Whether we are connected now (false while reconnecting).
    pub connected: bool,
    /// The last error shown, for a status line.
    pub last_error: Option<String>,
    /// `host:port` of the server, for a status line (empty until a session sets it).
    pub target: String,
    /// The fingerprint of the class key in use, for a status line: students compare it with
    /// the one the server printed.
    pub fingerprint: Option<Fingerprint>,
    /// The last measured round trip to the server in milliseconds, from `/ping` or the
    /// keepalive pings; `None` until measured, and again after a disconnect.
    pub lag_millis: Option<u64>,
}

impl ChatState {
    /// The state before any welcome: our chosen nick and the protocol's default limit.
    pub fn new(nick: &str) -> ChatState {
        ChatState {
            nick: nick.to_owned(),
            rooms: Vec::new(),
            current: DEFAULT_ROOM.to_owned(),
            users: Vec::new(),
            room: RoomInfo::default(),
            max_text: crate::protocol::event::DEFAULT_MAX_TEXT,
            server: String::new(),
            connected: false,
            last_error: None,
            target: String::new(),
            fingerprint: None,
            lag_millis: None,
        }
    }

    /// Whether `nick` is ours (nicks compare without regard to ASCII case, as on the server).
    pub fn is_me(&self, nick: &str) -> bool {
        nick_key(nick) == nick_key(&self.nick)
    }

    /// A `welcome` arrived: we are in `#class`, under `nick`, with these users and limits.
    /// The other rooms we were in (before a reconnect) stay listed as
    /// [`JoinedRoom::rejoining`] until the server lets us in again.
    pub fn welcomed(&mut self, nick: &str, users: &[String], max_text: usize, server: &str) {
        self.nick = nick.to_owned();
        self.max_text = max_text;
        self.server = server.to_owned();
        self.connected = true;
        for room in &mut self.rooms {
            room.rejoining = true;
        }
        let class = self.enter(DEFAULT_ROOM);
        class.users = sorted_users(users);
        class.rejoining = false;
        class.shown_since_entered = false;
        self.refresh();
    }

    /// Our role (from `welcome`): it is the same in every room.
    pub fn set_own_role(&mut self, role: crate::role::Role) {
        for room in &mut self.rooms {
            room.info.role = role;
        }
        self.refresh();
    }

    /// We are in `room` (from `entered`): its users and topic replace what we had. Returns
    /// whether it is new to us (not a rejoin after a reconnect, nor a resync); `None` when we
    /// are in [`MAX_ROOMS`] rooms already and it was not taken.
    pub fn entered(
        &mut self,
        room: &str,
        users: &[String],
        topic: Option<(String, String)>,
    ) -> Option<bool> {
        let known = self.joined(room).is_some();
        if !known && self.rooms.len() >= MAX_ROOMS {
            return None;
        }
        let role = self.room.role;
        let entry = self.enter(room);
        entry.users = sorted_users(users);
        entry.info.role = role;
        entry.info.topic = topic;
        entry.rejoining = false;
        // Ids are compared from here on: a server restarted without this room's history
        // counts from 1 again (see `first_sight`).
        entry.shown_since_entered = false;
        self.refresh();
        Some(!known)
    }

    /// The room `name`, added at the end if we were not in it.
    fn enter(&mut self, name: &str) -> &mut JoinedRoom {
        let at = match self.rooms.iter().position(|r| same_room(&r.name, name)) {
            Some(at) => at,
            None => {
                // `#class` first, whenever it is (re)entered.
                let at = if same_room(name, DEFAULT_ROOM) {
                    0
                } else {
                    self.rooms.len()
                };
                self.rooms.insert(at, JoinedRoom::new(name));
                at
            }
        };
        &mut self.rooms[at]
    }

    /// We left `room` (from `parted`, or a rejoin the server refused). Returns whether we were
    /// in it. If it was the current room, the first room we are still in becomes current.
    pub fn parted(&mut self, room: &str) -> bool {
        let before = self.rooms.len();
        self.rooms.retain(|r| !same_room(&r.name, room));
        let was_in = self.rooms.len() != before;
        if same_room(&self.current, room)
            && let Some(first) = self.rooms.first()
        {
            self.current = first.name.clone();
        }
        self.refresh();
        was_in
    }

    /// Makes `room` the current room, if we are in it; returns whether we are.
    pub fn switch(&mut self, room: &str) -> bool {
        let Some(name) = self.joined(room).map(|r| r.name.clone()) else {
            return false;
        };
        self.current = name;
        self.refresh();
        true
    }

    /// The room we are in called `name` (any case).
    pub fn joined(&self, name: &str) -> Option<&JoinedRoom> {
        self.rooms.iter().find(|r| same_room(&r.name, name))
    }

    /// The room we are in called `name`, to change it; call [`Self::refresh`] afterwards.
    fn joined_mut(&mut self, name: &str) -> Option<&mut JoinedRoom> {
        self.rooms.iter_mut().find(|r| same_room(&r.name, name))
    }

    /// The current room, if we are in any.
    pub fn current_room(&self) -> Option<&JoinedRoom> {
        self.joined(&self.current)
    }

    /// Whether we are in more than one room (line mode then names the room on each line).
    pub fn in_several_rooms(&self) -> bool {
        self.rooms.len() > 1
    }

    /// The rooms to join again after a reconnect, other than `#class` (which the welcome
    /// puts us in), each with the id of the last message shown there.
    pub fn rooms_to_rejoin(&self) -> Vec<(String, Option<u64>)> {
        self.rooms
            .iter()
            .filter(|r| r.rejoining && !same_room(&r.name, DEFAULT_ROOM))
            .map(|r| (r.name.clone(), r.last_message))
            .collect()
    }

    /// The id of the last message shown in `room`.
    pub fn last_message(&self, room: &str) -> Option<u64> {
        self.joined(room).and_then(|r| r.last_message)
    }

    /// Brings the copies of the current room (`users`, `room`) up to date, after a change.
    pub fn refresh(&mut self) {
        if self.current_room().is_none()
            && let Some(first) = self.rooms.first()
        {
            self.current = first.name.clone();
        }
        let role = self.room.role;
        match self
            .rooms
            .iter()
            .find(|r| same_room(&r.name, &self.current))
        {
            Some(room) => {
                self.users.clone_from(&room.users);
                self.room.clone_from(&room.info);
            }
            None => {
                self.users.clear();
                self.room = RoomInfo::default();
                self.room.role = role;
            }
        }
    }

    /// Whether the message `id` of `room` (live, or `replayed` from history) is one not shown
    /// yet; if so, it becomes the last one shown there. Ids only grow in a room, so one at or
    /// below the last shown is a repeat (a replay of what we saw live, say), with one
    /// exception: the first live message after (re)entering a room is always new. A server
    /// restarted without its history file counts from 1 again, and its messages must not be
    /// taken for old ones. Id 0 is a server that gives no ids: nothing to compare, always
    /// shown; so is a message for a room we are not in (nothing to compare it with).
    pub fn first_sight(&mut self, room: &str, id: u64, replayed: bool) -> bool {
        if id == 0 {
            return true;
        }
        let Some(room) = self.joined_mut(room) else {
            return true;
        };
        let at_or_below_last = room.last_message.is_some_and(|last| id <= last);
        if at_or_below_last && (replayed || room.shown_since_entered) {
            return false;
        }
        room.last_message = Some(id);
        room.shown_since_entered = true;
        true
    }

    /// Replaces the user list and roles of `room` (from `users`); nothing if we are not in it
    /// (a `/who #other`).
    pub fn set_users(
        &mut self,
        room: &str,
        users: &[String],
        roles: &std::collections::BTreeMap<String, crate::role::Role>,
    ) {
        if let Some(joined) = self.joined_mut(room) {
            joined.users = sorted_users(users);
            joined.info.set_roles(roles);
            self.refresh();
        }
    }

    /// Someone joined `room` with `role`. Adding a nick already listed (in any case) changes
    /// nothing, so a server that also announces our own join does not list us twice; nor
    /// does a join past [`MAX_USERS`].
    pub fn add_user(&mut self, room: &str, nick: &str, role: crate::role::Role) {
        if let Some(joined) = self.joined_mut(room) {
            add_sorted(&mut joined.users, nick);
            joined.info.set_role(nick, role);
            self.refresh();
        }
    }

    /// Someone left `room`.
    pub fn remove_user(&mut self, room: &str, nick: &str) {
        if let Some(joined) = self.joined_mut(room) {
            let key = nick_key(nick);
            joined.users.retain(|listed| nick_key(listed) != key);
            self.refresh();
        }
    }

    /// The topic of `room` changed (empty: cleared).
    pub fn set_topic(&mut self, room: &str, text: &str, by: &str) {
        if let Some(joined) = self.joined_mut(room) {
            joined.info.topic = (!text.is_empty()).then(|| (text.to_owned(), by.to_owned()));
            self.refresh();
        }
    }

    /// An announcement was made in `room`; `id` is its place in the room's ids (servers that
    /// keep announcements in the history), so that a replay of it is not shown twice.
    pub fn announced(&mut self, room: &str, from: &str, text: &str, id: Option<u64>) {
        if let Some(joined) = self.joined_mut(room) {
            joined.info.announcement = Some((from.to_owned(), text.to_owned()));
            joined.info.announcement_id = id;
            self.refresh();
        }
    }

    /// The id of the announcement in view in `room`, if it had one.
    pub fn announcement_id(&self, room: &str) -> Option<u64> {
        self.joined(room)
            .and_then(|joined| joined.info.announcement_id)
    }

    /// Someone changed nick (in every room: nicks are server-wide): returns whether it was us
    /// (and then our nick follows).
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        let own = self.is_me(from);
        let key = nick_key(from);
        for room in &mut self.rooms {
            let before = room.users.len();
            room.users.retain(|listed| nick_key(listed) != key);
            if room.users.len() != before {
                add_sorted(&mut room.users, to);
            }
            room.info.rename(from, to);
        }
        if own {
            self.nick = to.to_owned();
        }
        self.refresh();
        own
    }

    /// Whether `kind` is someone else's room message or action that mentions our nick, so a
    /// front end can make it stand out (both front ends use this one rule). Private messages
    /// are addressed to us anyway and are marked as private instead.
    pub fn mentioned_in(&self, kind: &UpdateKind) -> bool {
        match kind {
            UpdateKind::Message {
                text, own: false, ..
            }
            | UpdateKind::Action {
                text, own: false, ..
            } => mentions(text, &self.nick),
            _ => false,
        }
    }

    /// The connection was lost: nobody is known to be in any room until the next welcome,
    /// and the lag of a connection that is gone means nothing. The rooms stay listed, to be
    /// joined again.
    pub fn disconnected(&mut self) {
        self.connected = false;
        for room in &mut self.rooms {
            room.users.clear();
        }
        self.lag_millis = None;
        self.refresh();
    }
}

/// `users` as a room lists them: the first [`MAX_USERS`] nicks, sorted once and without
/// duplicates (in any case; the first spelling is kept). Inserting them one at a time into
/// the sorted list took 6.5 s for a hostile server's 100,000 nicks.
fn sorted_users(users: &[String]) -> Vec<String> {
    let mut listed: Vec<(String, &String)> = users
        .iter()
        .take(MAX_USERS)
        .map(|nick| (nick_key(nick), nick))
        .collect();
    // Stable: among nicks equal without case, the first given stays first and is kept.
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    listed.dedup_by(|later, first| later.0 == first.0);
    listed.into_iter().map(|(_, nick)| nick.clone()).collect()
}

/// Adds `nick` to a sorted list, unless it is there (in any case) or the list is full.
fn add_sorted(users: &mut Vec<String>, nick: &str) {
    if users.len() >= MAX_USERS {
        return;
    }
    let key = nick_key(nick);
    if let Err(at) = users.binary_search_by(|listed| nick_key(listed).cmp(&key)) {
        users.insert(at, nick.to_owned());
    }
}

/// Whether `text` contains `nick` as a word, ignoring ASCII case as nicks do: `alice: hi`,
/// `@Alice`, `thanks alice!` mention alice; `malice` and `alice_2` do not. A word is bounded by
/// anything that cannot be part of a nick (letters, digits, `_`, `-`), or the ends of the text.
pub fn mentions(text: &str, nick: &str) -> bool {
    if nick.is_empty() {
        return false;
    }
    // ASCII lowercasing keeps every byte where it was, so positions found in the lowered
    // copies are positions in both; non-ASCII bytes are never nick characters.
    let text = text.to_ascii_lowercase();
    let nick = nick_key(nick);
    let bytes = text.as_bytes();
    let is_nick_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    text.match_indices(&nick).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + nick.len()).copied();
        !before.is_some_and(is_nick_byte) && !after.is_some_and(is_nick_byte)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::role::Role;

    const C: &str = DEFAULT_ROOM;

    fn names(state: &ChatState) -> Vec<&str> {
        state.users.iter().map(String::as_str).collect()
    }

    fn welcomed(users: &[&str]) -> ChatState {
        let mut state = ChatState::new("alice");
        let users: Vec<String> = users.iter().map(|s| s.to_string()).collect();
        state.welcomed("alice", &users, 500, "fernchat 0.1.0");
        state
    }

    #[test]
    fn welcome_sets_everything_and_sorts_users() {
        let state = welcomed(&["carol", "Bob", "alice"]);
        assert_eq!(names(&state), ["alice", "Bob", "carol"]);
        assert_eq!(state.max_text, 500);
        assert!(state.connected);
        assert!(state.is_me("ALICE"));
    }

    #[test]
    fn join_adds_once_in_order() {
        let mut state = welcomed(&["alice", "carol"]);
        state.add_user(C, "Bob", Role::Student);
        state.add_user(C, "bob", Role::Student);
        state.add_user(C, "dave", Role::Student);
        assert_eq!(names(&state), ["alice", "Bob", "carol", "dave"]);
    }

    #[test]
    fn leave_removes_in_any_case() {
        let mut state = welcomed(&["alice", "Bob", "carol"]);
        state.remove_user(C, "BOB");
        assert_eq!(names(&state), ["alice", "carol"]);
        state.remove_user(C, "nobody-here");
        assert_eq!(names(&state), ["alice", "carol"]);
    }

    #[test]
    fn rename_moves_the_user_and_follows_our_nick() {
        let mut state = welcomed(&["alice", "bob"]);
        assert!(!state.rename("bob", "zed"));
        assert_eq!(names(&state), ["alice", "zed"]);
        assert!(state.rename("Alice", "yasmin"));
        assert_eq!(state.nick, "yasmin");
        assert_eq!(names(&state), ["yasmin", "zed"]);
        // Case-only change keeps one entry with the new spelling.
        assert!(!state.rename("zed", "ZED"));
        assert_eq!(names(&state), ["yasmin", "ZED"]);
    }

    #[test]
    fn users_list_replaces_and_disconnect_clears() {
        let mut state = welcomed(&["alice", "bob"]);
        state.set_users(C, &["x1".into(), "alice".into()], &Default::default());
        assert_eq!(names(&state), ["alice", "x1"]);
        state.lag_millis = Some(12);
        state.disconnected();
        assert!(!state.connected);
        assert!(state.users.is_empty());
        assert_eq!(state.lag_millis, None);
        assert_eq!(state.nick, "alice");
    }

    /// Issue 12 item 8: a welcome listing 100,000 nicks was inserted one nick at a time into
    /// the sorted list (6.5 s in a release build) and kept whole. Failed on the old main: the
    /// list held all 100,000. Now it is sorted once and capped.
    #[test]
    fn a_huge_user_list_is_sorted_once_and_capped() {
        let users: Vec<String> = (0..100_000).rev().map(|i| format!("u{i:06}")).collect();
        let started = std::time::Instant::now();
        let state = welcomed(&users.iter().map(String::as_str).collect::<Vec<_>>());
        let took = started.elapsed();
        assert_eq!(state.users.len(), MAX_USERS);
        assert!(
            state
                .users
                .windows(2)
                .all(|w| nick_key(&w[0]) < nick_key(&w[1]))
        );
        // The first MAX_USERS given are kept (here the highest numbers, as sent in reverse).
        assert_eq!(state.users[0], format!("u{:06}", 100_000 - MAX_USERS));
        // Generous for a debug build on a busy machine; the old way took seconds.
        assert!(took < std::time::Duration::from_secs(2), "{took:?}");
        let mut state = state;
        state.add_user(C, "zzz", Role::Student);
        assert_eq!(
            state.users.len(),
            MAX_USERS,
            "joins past the cap are not listed"
        );
    }

    #[test]
    fn duplicates_in_a_list_keep_the_first_spelling() {
        let state = welcomed(&["bob", "Carol", "BOB", "carol", "alice"]);
        assert_eq!(names(&state), ["alice", "bob", "Carol"]);
    }

    #[test]
    fn a_room_message_is_shown_once_live_or_replayed() {
        let mut state = welcomed(&["alice"]);
        assert!(state.first_sight(C, 1, true));
        assert!(state.first_sight(C, 2, false));
        assert_eq!(state.last_message(C), Some(2));
        // The same ids again, live or from history, on this connection or the next.
        assert!(!state.first_sight(C, 2, false));
        assert!(!state.first_sight(C, 1, true));
        state.disconnected();
        welcomed_again(&mut state);
        assert!(!state.first_sight(C, 2, true));
        assert!(state.first_sight(C, 3, true));
        assert!(!state.first_sight(C, 3, false));
        assert!(state.first_sight(C, 4, false));
        assert_eq!(state.last_message(C), Some(4));
        // No id: nothing to compare, so shown and not remembered.
        assert!(state.first_sight(C, 0, false));
        assert!(state.first_sight(C, 0, true));
        assert_eq!(state.last_message(C), Some(4));
    }

    #[test]
    fn a_server_counting_from_1_again_is_not_taken_for_repeats() {
        let mut state = welcomed(&["alice"]);
        assert!(state.first_sight(C, 40, false));
        // Restarted without its history file: the first live message after the welcome
        // starts the count again; repeats are then judged from there.
        welcomed_again(&mut state);
        assert!(state.first_sight(C, 1, false));
        assert_eq!(state.last_message(C), Some(1));
        assert!(!state.first_sight(C, 1, false));
        assert!(state.first_sight(C, 2, false));
    }

    fn welcomed_again(state: &mut ChatState) {
        state.welcomed("alice", &["alice".into()], 500, "fernchat 0.1.0");
    }

    #[test]
    fn mentions_are_whole_words_in_any_case() {
        for text in [
            "alice",
            "alice: hi",
            "hi @Alice!",
            "thanks ALICE.",
            "(alice)",
            "alice's turn",
            "ping alice",
            "é alice é",
        ] {
            assert!(mentions(text, "alice"), "{text:?}");
        }
        for text in [
            "malice",
            "alice_2 is here",
            "alice-bob",
            "alic e",
            "",
            "bob",
            "alicealice",
        ] {
            assert!(!mentions(text, "alice"), "{text:?}");
        }
        // A second occurrence counts when the first is inside a word.
        assert!(mentions("malice? no, alice", "alice"));
        assert!(!mentions("anything", ""));
    }

    #[test]
    fn only_other_peoples_room_lines_mention_us() {
        let state = welcomed(&["alice", "bob"]);
        let said = |from: &str, text: &str, own: bool| UpdateKind::Message {
            room: "#class".into(),
            from: from.into(),
            text: text.into(),
            own,
        };
        assert!(state.mentioned_in(&said("bob", "hi alice", false)));
        assert!(!state.mentioned_in(&said("bob", "hi bob", false)));
        assert!(!state.mentioned_in(&said("alice", "I am alice", true)));
        assert!(state.mentioned_in(&UpdateKind::Action {
            room: "#class".into(),
            from: "bob".into(),
            text: "hugs alice".into(),
            own: false,
        }));
        assert!(!state.mentioned_in(&UpdateKind::Notice {
            text: "alice".into()
        }));
    }

    fn users(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rooms_are_kept_in_the_order_joined_with_class_first() {
        let mut state = welcomed(&["alice", "bob"]);
        assert_eq!(state.current, "#class");
        assert!(!state.in_several_rooms());
        assert_eq!(
            state.entered("#lab1", &users(&["alice", "carol"]), None),
            Some(true)
        );
        assert_eq!(state.entered("#lab0", &users(&["alice"]), None), Some(true));
        let order: Vec<&str> = state.rooms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, ["#class", "#lab1", "#lab0"]);
        assert!(state.in_several_rooms());
        // Entering again (a resync) is not new and keeps the order.
        assert_eq!(
            state.entered("#LAB1", &users(&["alice"]), None),
            Some(false)
        );
        assert_eq!(state.rooms.len(), 3);
        // #class parted (a server that allows it) and entered again goes first again.
        assert!(state.parted("#class"));
        assert!(!state.parted("#class"));
        state.entered("#class", &users(&["alice"]), None);
        assert_eq!(state.rooms[0].name, "#class");
    }

    #[test]
    fn the_current_room_is_what_users_and_room_show() {
        let mut state = welcomed(&["alice", "bob"]);
        state.entered(
            "#lab1",
            &users(&["carol", "alice"]),
            Some(("ex. 3".into(), "tom".into())),
        );
        // Entering does not switch: the session decides that.
        assert_eq!(names(&state), ["alice", "bob"]);
        assert!(state.switch("#Lab1"));
        assert_eq!(state.current, "#lab1");
        assert_eq!(names(&state), ["alice", "carol"]);
        assert_eq!(state.room.topic, Some(("ex. 3".into(), "tom".into())));
        assert!(!state.switch("#nowhere"));
        assert_eq!(state.current, "#lab1");
        // Changes to the current room show at once; to another, not.
        state.add_user("#lab1", "dave", Role::Ta);
        assert_eq!(names(&state), ["alice", "carol", "dave"]);
        assert_eq!(state.room.marked("dave"), "%dave");
        state.add_user("#class", "erin", Role::Student);
        assert_eq!(names(&state), ["alice", "carol", "dave"]);
        assert_eq!(
            state.joined("#class").unwrap().users,
            ["alice", "bob", "erin"]
        );
        state.set_topic("#lab1", "", "tom");
        assert_eq!(state.room.topic, None);
        // Leaving the current room goes back to the first.
        state.parted("#lab1");
        assert_eq!(state.current, "#class");
        assert_eq!(names(&state), ["alice", "bob", "erin"]);
        // Events for a room we are not in change nothing.
        state.add_user("#lab1", "zed", Role::Student);
        state.set_users("#lab1", &users(&["zed"]), &Default::default());
        assert!(state.joined("#lab1").is_none());
    }

    #[test]
    fn our_role_holds_in_every_room() {
        let mut state = welcomed(&["alice"]);
        state.set_own_role(Role::Instructor);
        state.entered("#lab1", &users(&["alice"]), None);
        state.switch("#lab1");
        assert!(state.room.role.is_staff());
        assert!(state.joined("#lab1").unwrap().info.role.is_staff());
    }

    #[test]
    fn renames_reach_every_room() {
        let mut state = welcomed(&["alice", "bob"]);
        state.entered("#lab1", &users(&["alice", "bob"]), None);
        state.entered("#lab2", &users(&["alice"]), None);
        assert!(!state.rename("BOB", "robert"));
        assert_eq!(state.joined("#class").unwrap().users, ["alice", "robert"]);
        assert_eq!(state.joined("#lab1").unwrap().users, ["alice", "robert"]);
        assert_eq!(state.joined("#lab2").unwrap().users, ["alice"]);
        assert!(state.rename("alice", "al"));
        assert_eq!(state.joined("#lab2").unwrap().users, ["al"]);
    }

    #[test]
    fn ids_are_counted_per_room() {
        let mut state = welcomed(&["alice"]);
        state.entered("#lab1", &users(&["alice"]), None);
        assert!(state.first_sight("#class", 5, false));
        // #lab1 has its own sequence: its id 1 is new though #class is at 5.
        assert!(state.first_sight("#lab1", 1, true));
        assert!(state.first_sight("#lab1", 2, false));
        assert!(!state.first_sight("#lab1", 2, true));
        assert!(!state.first_sight("#class", 5, true));
        assert_eq!(state.last_message("#class"), Some(5));
        assert_eq!(state.last_message("#lab1"), Some(2));
        // Not a member: nothing to compare with, shown.
        assert!(state.first_sight("#other", 1, false));
        assert!(state.first_sight("#other", 1, false));
    }

    #[test]
    fn a_reconnect_rejoins_every_room_since_its_last_message() {
        let mut state = welcomed(&["alice", "bob"]);
        state.entered("#lab1", &users(&["alice", "bob"]), None);
        state.entered("#lab2", &users(&["alice"]), None);
        state.first_sight("#lab1", 7, false);
        state.switch("#lab2");
        state.disconnected();
        assert!(state.rooms.iter().all(|r| r.users.is_empty()));
        assert_eq!(state.rooms.len(), 3, "the rooms stay listed");
        welcomed_again(&mut state);
        assert_eq!(
            state.rooms_to_rejoin(),
            [("#lab1".to_owned(), Some(7)), ("#lab2".to_owned(), None)]
        );
        assert!(!state.joined("#class").unwrap().rejoining);
        assert_eq!(state.current, "#lab2", "still where we were");
        // The server lets us back into #lab1; #lab2 stays to be rejoined.
        assert_eq!(
            state.entered("#lab1", &users(&["alice"]), None),
            Some(false)
        );
        assert_eq!(state.rooms_to_rejoin(), [("#lab2".to_owned(), None)]);
        // A first live message after the rejoin is new even at a lower id (a restarted
        // server without history), as in #class.
        assert!(state.first_sight("#lab1", 1, false));
    }

    #[test]
    fn a_hostile_server_cannot_fill_memory_with_rooms() {
        let mut state = welcomed(&["alice"]);
        for i in 0..MAX_ROOMS + 10 {
            state.entered(&format!("#r{i}"), &[], None);
        }
        assert_eq!(state.rooms.len(), MAX_ROOMS);
        assert_eq!(state.entered("#r-new", &[], None), None);
        assert_eq!(
            state.entered("#r1", &[], None),
            Some(false),
            "known rooms still resync"
        );
    }
}
