//! Chat state: what this client believes about the room right now.
//!
//! This module owns the user list, our own nick, the server's limits and the last error, the
//! rules for updating them from server events, which room messages are repeats (by their
//! ids, so a reconnect never shows one twice), and what counts as mentioning our nick. It is
//! plain data with pure methods so it can be tested without sockets; it must not do I/O. The
//! session holds the authoritative copy and publishes snapshots for front ends (a TUI draws its
//! user list and status line from one).

use crate::client::update::UpdateKind;
use crate::crypto::Fingerprint;
use crate::protocol::event::nick_key;

/// The most users the client lists. A real class is far smaller (the server's default
/// `--max-clients` is 200); a list this long only comes from a broken or hostile server, and
/// every snapshot a front end draws copies it.
pub const MAX_USERS: usize = 10_000;

/// A snapshot of the room as this client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatState {
    /// Our nick. Changes on `/nick`; reconnects rejoin under it.
    pub nick: String,
    /// Everyone online, sorted without regard to ASCII case, the way the server sorts.
    pub users: Vec<String>,
    /// The longest message text the server accepts, in characters (from `welcome`).
    pub max_text: usize,
    /// The server's software and version (from `welcome`).
    pub server: String,
    /// Whether we are in the room now (false while reconnecting).
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
    /// The id of the last room message shown (live or replayed): a rejoin sends it as
    /// `since`, so the server replays only what came after. Kept across reconnects.
    pub last_message: Option<u64>,
    /// Whether a room message has been shown since the last `welcome` (see [`Self::first_sight`]).
    shown_since_welcome: bool,
}

impl ChatState {
    /// The state before any welcome: our chosen nick and the protocol's default limit.
    pub fn new(nick: &str) -> ChatState {
        ChatState {
            nick: nick.to_owned(),
            users: Vec::new(),
            max_text: crate::protocol::event::DEFAULT_MAX_TEXT,
            server: String::new(),
            connected: false,
            last_error: None,
            target: String::new(),
            fingerprint: None,
            lag_millis: None,
            last_message: None,
            shown_since_welcome: false,
        }
    }

    /// Whether `nick` is ours (nicks compare without regard to ASCII case, as on the server).
    pub fn is_me(&self, nick: &str) -> bool {
        nick_key(nick) == nick_key(&self.nick)
    }

    /// A `welcome` arrived: we are in, under `nick`, with these users and limits.
    pub fn welcomed(&mut self, nick: &str, users: &[String], max_text: usize, server: &str) {
        self.nick = nick.to_owned();
        self.set_users(users);
        self.max_text = max_text;
        self.server = server.to_owned();
        self.connected = true;
        self.shown_since_welcome = false;
    }

    /// Whether the room message `id` (live, or `replayed` from history) is one not shown yet;
    /// if so, it becomes the last one shown. Ids only grow in a room, so one at or below the
    /// last shown is a repeat (a replay of what we saw live, say), with one exception: the
    /// first live message after a welcome is always new. A server restarted without its
    /// history file counts from 1 again, and its messages must not be taken for old ones.
    /// Id 0 is a server that gives no ids: nothing to compare, always shown.
    pub fn first_sight(&mut self, id: u64, replayed: bool) -> bool {
        if id == 0 {
            return true;
        }
        let at_or_below_last = self.last_message.is_some_and(|last| id <= last);
        if at_or_below_last && (replayed || self.shown_since_welcome) {
            return false;
        }
        self.last_message = Some(id);
        self.shown_since_welcome = true;
        true
    }

    /// Replaces the user list (from `welcome` or `users`): the first [`MAX_USERS`] nicks, sorted
    /// once and without duplicates (in any case; the first spelling is kept). Inserting them
    /// one at a time into the sorted list took 6.5 s for a hostile server's 100,000 nicks.
    pub fn set_users(&mut self, users: &[String]) {
        let mut listed: Vec<(String, &String)> = users
            .iter()
            .take(MAX_USERS)
            .map(|nick| (nick_key(nick), nick))
            .collect();
        // Stable: among nicks equal without case, the first given stays first and is kept.
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        listed.dedup_by(|later, first| later.0 == first.0);
        self.users = listed.into_iter().map(|(_, nick)| nick.clone()).collect();
    }

    /// Someone joined. Adding a nick already listed (in any case) changes nothing, so a
    /// server that also announces our own join does not list us twice; nor does a join
    /// past [`MAX_USERS`].
    pub fn add_user(&mut self, nick: &str) {
        if self.users.len() >= MAX_USERS {
            return;
        }
        let key = nick_key(nick);
        match self
            .users
            .binary_search_by(|listed| nick_key(listed).cmp(&key))
        {
            Ok(_) => {}
            Err(at) => self.users.insert(at, nick.to_owned()),
        }
    }

    /// Someone left.
    pub fn remove_user(&mut self, nick: &str) {
        let key = nick_key(nick);
        self.users.retain(|listed| nick_key(listed) != key);
    }

    /// Someone changed nick: returns whether it was us (and then our nick follows).
    pub fn rename(&mut self, from: &str, to: &str) -> bool {
        let own = self.is_me(from);
        self.remove_user(from);
        self.add_user(to);
        if own {
            self.nick = to.to_owned();
        }
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

    /// The connection was lost: nobody is known to be online until the next welcome, and
    /// the lag of a connection that is gone means nothing.
    pub fn disconnected(&mut self) {
        self.connected = false;
        self.users.clear();
        self.lag_millis = None;
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
        state.add_user("Bob");
        state.add_user("bob");
        state.add_user("dave");
        assert_eq!(names(&state), ["alice", "Bob", "carol", "dave"]);
    }

    #[test]
    fn leave_removes_in_any_case() {
        let mut state = welcomed(&["alice", "Bob", "carol"]);
        state.remove_user("BOB");
        assert_eq!(names(&state), ["alice", "carol"]);
        state.remove_user("nobody-here");
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
        state.set_users(&["x1".into(), "alice".into()]);
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
        state.add_user("zzz");
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
        assert!(state.first_sight(1, true));
        assert!(state.first_sight(2, false));
        assert_eq!(state.last_message, Some(2));
        // The same ids again, live or from history, on this connection or the next.
        assert!(!state.first_sight(2, false));
        assert!(!state.first_sight(1, true));
        state.disconnected();
        welcomed_again(&mut state);
        assert!(!state.first_sight(2, true));
        assert!(state.first_sight(3, true));
        assert!(!state.first_sight(3, false));
        assert!(state.first_sight(4, false));
        assert_eq!(state.last_message, Some(4));
        // No id: nothing to compare, so shown and not remembered.
        assert!(state.first_sight(0, false));
        assert!(state.first_sight(0, true));
        assert_eq!(state.last_message, Some(4));
    }

    #[test]
    fn a_server_counting_from_1_again_is_not_taken_for_repeats() {
        let mut state = welcomed(&["alice"]);
        assert!(state.first_sight(40, false));
        // Restarted without its history file: the first live message after the welcome
        // starts the count again; repeats are then judged from there.
        welcomed_again(&mut state);
        assert!(state.first_sight(1, false));
        assert_eq!(state.last_message, Some(1));
        assert!(!state.first_sight(1, false));
        assert!(state.first_sight(2, false));
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
            from: from.into(),
            text: text.into(),
            own,
        };
        assert!(state.mentioned_in(&said("bob", "hi alice", false)));
        assert!(!state.mentioned_in(&said("bob", "hi bob", false)));
        assert!(!state.mentioned_in(&said("alice", "I am alice", true)));
        assert!(state.mentioned_in(&UpdateKind::Action {
            from: "bob".into(),
            text: "hugs alice".into(),
            own: false,
        }));
        assert!(!state.mentioned_in(&UpdateKind::Notice {
            text: "alice".into()
        }));
    }
}
