//! Room buffers: one scrollback per room, as weechat keeps one buffer per channel.
//!
//! This module owns the list of open buffers (in the order the rooms were entered, `#class`
//! first), which one is current, and for each its lines, its scroll position and what the
//! room list shows beside its name: how many chat lines came while it was not current, and
//! whether one of them mentioned us. It is plain data: it does not decide which buffer a line
//! belongs to (the [`App`](super::App) does, from the update's room) and knows nothing of the
//! terminal, the session or the protocol.

use std::collections::VecDeque;

use crate::client::state::same_room;
use crate::client::tui::lines::{self, ChatLine, LineKind};

pub use crate::client::update::DEFAULT_ROOM;

/// Lines kept in each buffer's scrollback; older ones are dropped. About a day of a busy lab.
pub const MAX_LINES: usize = 5000;

/// The most buffers kept open. The server lets a user into 10 rooms by default; this only
/// bounds what a broken or hostile server could make us open.
pub const MAX_BUFFERS: usize = 64;

/// One room's scrollback and marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffer {
    /// The room, as the server spells it (folded to lower case).
    pub room: String,
    /// The scrollback, oldest first, at most [`MAX_LINES`].
    pub lines: VecDeque<ChatLine>,
    /// How many rows the pane is scrolled up from the newest; 0 follows new messages.
    pub scroll: usize,
    /// Lines that arrived while scrolled up.
    pub unseen: usize,
    /// Of those, lines that mention us or are private.
    pub unseen_mentions: usize,
    /// Chat lines (messages, actions, announcements, history) that came while another buffer
    /// was current: the count beside the room's name. Cleared when it becomes current.
    pub unread: usize,
    /// Of those, the ones that mention our nick: the room's mention mark.
    pub mentions: usize,
}

impl Buffer {
    /// An empty buffer for `room`.
    pub fn new(room: &str) -> Buffer {
        Buffer {
            room: room.to_owned(),
            lines: VecDeque::new(),
            scroll: 0,
            unseen: 0,
            unseen_mentions: 0,
            unread: 0,
            mentions: 0,
        }
    }

    /// Adds a line. When scrolled up the view stays on the same lines (`width` is the pane's,
    /// to count the rows the new line takes) and the line counts as unseen. `unread` says
    /// whether it counts for the room list (a chat line while this buffer is not current).
    pub fn push(&mut self, line: ChatLine, width: usize, unread: bool) {
        if self.scroll > 0 {
            self.scroll += lines::row_count(&line, width);
            self.unseen += 1;
            if line.kind != LineKind::Normal {
                self.unseen_mentions += 1;
            }
        }
        if unread {
            self.unread += 1;
            if line.kind == LineKind::Mention {
                self.mentions += 1;
            }
        }
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// Shown: nothing is unread any more.
    fn mark_read(&mut self) {
        self.unread = 0;
        self.mentions = 0;
    }

    /// Whether the room list shows the mention mark.
    pub fn mentioned(&self) -> bool {
        self.mentions > 0
    }
}

/// The open buffers and which one is current. There is always at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buffers {
    list: Vec<Buffer>,
    current: usize,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers::new()
    }
}

impl Buffers {
    /// Just `#class`, current.
    pub fn new() -> Buffers {
        Buffers {
            list: vec![Buffer::new(DEFAULT_ROOM)],
            current: 0,
        }
    }

    /// The buffer shown.
    pub fn current(&self) -> &Buffer {
        &self.list[self.current]
    }

    /// The buffer shown, to change.
    pub fn current_mut(&mut self) -> &mut Buffer {
        &mut self.list[self.current]
    }

    /// Where the current buffer is in the list (0 for the first).
    pub fn current_index(&self) -> usize {
        self.current
    }

    /// The buffers in the room list's order.
    pub fn iter(&self) -> impl Iterator<Item = &Buffer> {
        self.list.iter()
    }

    /// How many buffers are open.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Never true: there is always a buffer to show.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The buffer at `index`, to change.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Buffer> {
        self.list.get_mut(index)
    }

    /// Where `room`'s buffer is, if open.
    pub fn find(&self, room: &str) -> Option<usize> {
        self.list.iter().position(|b| same_room(&b.room, room))
    }

    /// `room`'s buffer, opened at the end of the list if it is not open yet; `None` when
    /// [`MAX_BUFFERS`] are open already (the caller shows the line in the current buffer).
    pub fn open(&mut self, room: &str) -> Option<usize> {
        if let Some(at) = self.find(room) {
            return Some(at);
        }
        if self.list.len() >= MAX_BUFFERS {
            return None;
        }
        self.list.push(Buffer::new(room));
        Some(self.list.len() - 1)
    }

    /// Closes `room`'s buffer (we left the room). The last buffer is never closed, so there
    /// is always one to show. Closing the current buffer shows the one before it, as
    /// weechat does. Returns whether the current buffer changed.
    pub fn close(&mut self, room: &str) -> bool {
        let Some(at) = self.find(room) else {
            return false;
        };
        if self.list.len() == 1 {
            return false;
        }
        self.list.remove(at);
        if at < self.current {
            self.current -= 1;
            false
        } else if at == self.current {
            self.current = at.saturating_sub(1);
            self.current_mut().mark_read();
            true
        } else {
            false
        }
    }

    /// Shows the buffer at `index` (0 for the first): its unread count and mention mark
    /// clear. Returns whether the current buffer changed (false for an index past the end).
    pub fn switch_to(&mut self, index: usize) -> bool {
        if index >= self.list.len() || index == self.current {
            return false;
        }
        self.current = index;
        self.current_mut().mark_read();
        true
    }

    /// Where the next buffer with unread lines is (Alt-A, as in weechat): one that mentions
    /// us first, then any, each searched from the current one on; `None` when all are read.
    pub fn with_news(&self) -> Option<usize> {
        let len = self.list.len();
        let order = (1..len).map(|step| (self.current + step) % len);
        let first = |wanted: fn(&Buffer) -> bool| order.clone().find(|&i| wanted(&self.list[i]));
        first(Buffer::mentioned).or_else(|| first(|b| b.unread > 0))
    }

    /// Where the buffer after the current one is; after the last, the first (Alt-Right).
    pub fn after_current(&self) -> usize {
        (self.current + 1) % self.list.len()
    }

    /// Where the buffer before the current one is; before the first, the last (Alt-Left).
    pub fn before_current(&self) -> usize {
        let len = self.list.len();
        (self.current + len - 1) % len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, kind: LineKind) -> ChatLine {
        let mut line = ChatLine::info(0, text);
        line.kind = kind;
        line
    }

    fn rooms(buffers: &Buffers) -> Vec<&str> {
        buffers.iter().map(|b| b.room.as_str()).collect()
    }

    #[test]
    fn class_comes_first_and_rooms_follow_in_the_order_entered() {
        let mut buffers = Buffers::new();
        assert_eq!(buffers.open("#lab2"), Some(1));
        assert_eq!(buffers.open("#lab1"), Some(2));
        assert_eq!(buffers.open("#LAB2"), Some(1), "names ignore case");
        assert_eq!(rooms(&buffers), ["#class", "#lab2", "#lab1"]);
        assert_eq!(buffers.current().room, "#class");
    }

    #[test]
    fn switching_wraps_and_clears_the_marks() {
        let mut buffers = Buffers::new();
        buffers.open("#lab1");
        buffers.open("#lab2");
        let lab2 = buffers.find("#lab2").unwrap();
        let buffer = buffers.get_mut(lab2).unwrap();
        buffer.push(line("hi", LineKind::Normal), 80, true);
        buffer.push(line("alice: hi", LineKind::Mention), 80, true);
        assert_eq!((buffer.unread, buffer.mentions), (2, 1));
        assert!(
            buffers.switch_to(buffers.before_current()),
            "from the first to the last"
        );
        assert_eq!(buffers.current().room, "#lab2");
        assert_eq!(buffers.current().unread, 0);
        assert!(!buffers.current().mentioned());
        assert!(buffers.switch_to(buffers.after_current()));
        assert_eq!(buffers.current().room, "#class");
        assert!(!buffers.switch_to(0), "already there");
        assert!(!buffers.switch_to(3), "no such buffer");
    }

    #[test]
    fn news_are_found_mentions_first() {
        let mut buffers = Buffers::new();
        for room in ["#a1", "#b2", "#c3"] {
            buffers.open(room);
        }
        assert_eq!(buffers.with_news(), None);
        buffers
            .get_mut(1)
            .unwrap()
            .push(line("x", LineKind::Normal), 80, true);
        buffers
            .get_mut(3)
            .unwrap()
            .push(line("x", LineKind::Normal), 80, true);
        assert_eq!(buffers.with_news(), Some(1));
        buffers
            .get_mut(2)
            .unwrap()
            .push(line("alice", LineKind::Mention), 80, true);
        assert_eq!(buffers.with_news(), Some(2));
        buffers.switch_to(2);
        assert_eq!(buffers.with_news(), Some(3), "from the current one on");
        buffers.switch_to(3);
        assert_eq!(buffers.with_news(), Some(1));
        buffers.switch_to(1);
        assert_eq!(buffers.with_news(), None);
    }

    #[test]
    fn closing_the_current_buffer_shows_the_one_before() {
        let mut buffers = Buffers::new();
        buffers.open("#lab1");
        buffers.open("#lab2");
        buffers.switch_to(2);
        assert!(!buffers.close("#lab1"));
        assert_eq!(buffers.current().room, "#lab2", "still shown");
        assert!(buffers.close("#LAB2"));
        assert_eq!(buffers.current().room, "#class");
        assert!(!buffers.close("#class"), "the last buffer stays");
        assert_eq!(buffers.len(), 1);
    }

    #[test]
    fn buffers_and_lines_are_bounded() {
        let mut buffers = Buffers::new();
        for n in 0..MAX_BUFFERS + 5 {
            buffers.open(&format!("#r{n}"));
        }
        assert_eq!(buffers.len(), MAX_BUFFERS);
        assert_eq!(buffers.open("#one-more"), None);
        let buffer = buffers.current_mut();
        for n in 0..MAX_LINES + 3 {
            buffer.push(line(&n.to_string(), LineKind::Normal), 80, false);
        }
        assert_eq!(buffer.lines.len(), MAX_LINES);
    }
}
