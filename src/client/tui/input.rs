//! The input line: the text being typed, its cursor, the history of sent lines, and nick
//! completion with Tab.
//!
//! This module owns editing, as readline and irssi users know it (Ctrl-A/E/U/K/W, Alt-B/F,
//! Up/Down through history, Tab cycling through the nicks that fit). It is plain data: it
//! knows nothing of keys as the terminal reports them (the app maps keys to these methods),
//! of commands, the terminal or the session.

use unicode_width::UnicodeWidthChar;

/// The most characters the input line holds. Far above any server's message limit (the
/// session explains that limit when sending); it only keeps a runaway paste from filling
/// memory.
pub const MAX_INPUT: usize = 16 * 1024;

/// Lines remembered for Up and Down.
pub const MAX_HISTORY: usize = 500;

/// A Tab completion in progress: pressing Tab again offers the next nick.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Completion {
    /// Where the completed word starts.
    start: usize,
    /// The nicks that fit what was typed, in the nick list's order.
    matches: Vec<String>,
    /// Which one is in the line now.
    index: usize,
    /// How many characters the current completion (with its suffix) takes.
    inserted: usize,
}

/// The input line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    chars: Vec<char>,
    /// Cursor position, in characters (0 ..= len).
    cursor: usize,
    history: Vec<String>,
    /// Which history entry is shown while browsing with Up/Down.
    browsing: Option<usize>,
    /// The line being typed before browsing started, given back by Down at the end.
    draft: Vec<char>,
    completion: Option<Completion>,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

impl Input {
    /// An empty line with no history.
    pub fn new() -> Input {
        Input::default()
    }

    /// The text typed so far.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor position, in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The columns the text before the cursor takes, where the terminal cursor goes.
    pub fn cursor_column(&self) -> usize {
        self.chars[..self.cursor]
            .iter()
            .map(|c| c.width().unwrap_or(0))
            .sum()
    }

    /// Forgets a Tab completion in progress: every key but Tab does this first.
    pub fn end_completion(&mut self) {
        self.completion = None;
    }

    /// Types `c` at the cursor.
    pub fn insert(&mut self, c: char) {
        if self.chars.len() < MAX_INPUT && !c.is_control() {
            self.chars.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    /// Inserts pasted text: line breaks and tabs become spaces (the line is one message,
    /// which the user sees before sending), other control characters are dropped.
    pub fn paste(&mut self, text: &str) {
        let mut last_was_break = false;
        for c in text.chars() {
            let is_break = matches!(c, '\r' | '\n');
            if is_break && last_was_break {
                continue;
            }
            last_was_break = is_break;
            match c {
                '\r' | '\n' | '\t' => self.insert(' '),
                c => self.insert(c),
            }
        }
    }

    /// Deletes the character before the cursor (Backspace).
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor (Delete).
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    /// Moves the cursor to the start of the line.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end of the line.
    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Where the word before the cursor starts (skipping spaces first), as Ctrl-W and
    /// Alt-B see words.
    fn word_start(&self) -> usize {
        let mut at = self.cursor;
        while at > 0 && !is_word_char(self.chars[at - 1]) {
            at -= 1;
        }
        while at > 0 && is_word_char(self.chars[at - 1]) {
            at -= 1;
        }
        at
    }

    /// Moves the cursor to the start of the word before it (Alt-B, Ctrl-Left).
    pub fn word_left(&mut self) {
        self.cursor = self.word_start();
    }

    /// Moves the cursor past the end of the next word (Alt-F, Ctrl-Right).
    pub fn word_right(&mut self) {
        let len = self.chars.len();
        while self.cursor < len && !is_word_char(self.chars[self.cursor]) {
            self.cursor += 1;
        }
        while self.cursor < len && is_word_char(self.chars[self.cursor]) {
            self.cursor += 1;
        }
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let start = self.word_start();
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn delete_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Deletes from the cursor to the end of the line (Ctrl-K).
    pub fn delete_to_end(&mut self) {
        self.chars.truncate(self.cursor);
    }

    /// Takes the line for sending: it is cleared, and remembered in the history unless it
    /// is blank or repeats the last entry.
    pub fn submit(&mut self) -> String {
        let line = self.text();
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        self.completion = None;
        if !line.trim().is_empty() && self.history.last() != Some(&line) {
            if self.history.len() == MAX_HISTORY {
                self.history.remove(0);
            }
            self.history.push(line.clone());
        }
        line
    }

    /// Takes the line without remembering it (a nick typed at the nick prompt).
    pub fn take(&mut self) -> String {
        let line = self.text();
        self.chars.clear();
        self.cursor = 0;
        line
    }

    fn show(&mut self, text: Vec<char>) {
        self.chars = text;
        self.cursor = self.chars.len();
    }

    /// Shows the previous history entry (Up); the line being typed is kept for Down.
    pub fn history_up(&mut self) {
        let at = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = self.chars.clone();
                self.history.len() - 1
            }
            Some(0) => return,
            Some(at) => at - 1,
        };
        self.browsing = Some(at);
        self.show(self.history[at].chars().collect());
    }

    /// Shows the next history entry (Down), and after the last one the line that was being
    /// typed.
    pub fn history_down(&mut self) {
        let Some(at) = self.browsing else {
            return;
        };
        if at + 1 < self.history.len() {
            self.browsing = Some(at + 1);
            self.show(self.history[at + 1].chars().collect());
        } else {
            self.browsing = None;
            let draft = std::mem::take(&mut self.draft);
            self.show(draft);
        }
    }

    /// Completes the nick before the cursor from `nicks` (Tab), or offers the next match
    /// when the last key was Tab too. A nick completed at the start of the line gets `: `,
    /// the IRC way of addressing someone; elsewhere a space.
    pub fn complete(&mut self, nicks: &[String]) {
        if let Some(mut completion) = self.completion.take() {
            if completion.matches.is_empty() {
                return;
            }
            let end = completion.start + completion.inserted;
            self.chars.drain(completion.start..end);
            completion.index = (completion.index + 1) % completion.matches.len();
            self.cursor = completion.start;
            completion.inserted = self.insert_completion(&completion);
            self.completion = Some(completion);
            return;
        }
        let mut start = self.cursor;
        while start > 0 && is_word_char(self.chars[start - 1]) {
            start -= 1;
        }
        if start == self.cursor {
            return;
        }
        let typed: String = self.chars[start..self.cursor].iter().collect();
        let typed = typed.to_lowercase();
        let matches: Vec<String> = nicks
            .iter()
            .filter(|nick| nick.to_lowercase().starts_with(&typed))
            .cloned()
            .collect();
        if matches.is_empty() {
            return;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
        let mut completion = Completion {
            start,
            matches,
            index: 0,
            inserted: 0,
        };
        completion.inserted = self.insert_completion(&completion);
        self.completion = Some(completion);
    }

    /// Inserts the current match with its suffix at the cursor; returns how many characters.
    fn insert_completion(&mut self, completion: &Completion) -> usize {
        let suffix = if completion.start == 0 { ": " } else { " " };
        let text: Vec<char> = completion.matches[completion.index]
            .chars()
            .chain(suffix.chars())
            .collect();
        let room = MAX_INPUT.saturating_sub(self.chars.len());
        let text = &text[..text.len().min(room)];
        for (i, &c) in text.iter().enumerate() {
            self.chars.insert(self.cursor + i, c);
        }
        self.cursor += text.len();
        text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> Input {
        let mut input = Input::new();
        for c in text.chars() {
            input.insert(c);
        }
        input
    }

    fn nicks(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn typing_and_moving() {
        let mut input = typed("helo");
        input.left();
        input.insert('l');
        assert_eq!(input.text(), "hello");
        assert_eq!(input.cursor(), 4);
        input.home();
        input.delete();
        input.insert('H');
        input.end();
        input.backspace();
        assert_eq!(input.text(), "Hell");
        input.right();
        assert_eq!(input.cursor(), 4);
        input.home();
        input.left();
        input.backspace();
        assert_eq!(input.cursor(), 0);
    }

    #[test]
    fn words_and_kills() {
        let mut input = typed("say hello  there");
        input.delete_word();
        assert_eq!(input.text(), "say hello  ");
        input.word_left();
        assert_eq!(input.cursor(), 4);
        input.delete_to_end();
        assert_eq!(input.text(), "say ");
        input.word_left();
        input.word_right();
        assert_eq!(input.cursor(), 3);
        input.delete_to_start();
        assert_eq!(input.text(), " ");
        assert_eq!(input.cursor(), 0);
    }

    #[test]
    fn cursor_column_counts_wide_characters() {
        let input = typed("a漢b");
        assert_eq!(input.cursor_column(), 4);
    }

    #[test]
    fn history_browses_and_keeps_the_draft() {
        let mut input = typed("first");
        assert_eq!(input.submit(), "first");
        for line in ["second", "second", "   "] {
            for c in line.chars() {
                input.insert(c);
            }
            input.submit();
        }
        for c in "draft".chars() {
            input.insert(c);
        }
        input.history_up();
        assert_eq!(input.text(), "second");
        input.history_up();
        assert_eq!(input.text(), "first");
        input.history_up();
        assert_eq!(input.text(), "first", "stays at the oldest");
        input.history_down();
        assert_eq!(input.text(), "second");
        input.history_down();
        assert_eq!(input.text(), "draft");
        input.history_down();
        assert_eq!(input.text(), "draft");
    }

    #[test]
    fn history_is_bounded() {
        let mut input = Input::new();
        for n in 0..MAX_HISTORY + 10 {
            for c in n.to_string().chars() {
                input.insert(c);
            }
            input.submit();
        }
        for _ in 0..MAX_HISTORY + 10 {
            input.history_up();
        }
        assert_eq!(input.text(), "10");
    }

    #[test]
    fn tab_completes_and_cycles_nicks() {
        let list = nicks(&["alice", "Bob", "bobby", "carol"]);
        let mut input = typed("bo");
        input.complete(&list);
        assert_eq!(input.text(), "Bob: ");
        input.complete(&list);
        assert_eq!(input.text(), "bobby: ");
        input.complete(&list);
        assert_eq!(input.text(), "Bob: ");
        input.end_completion();
        for c in "hi ca".chars() {
            input.insert(c);
        }
        input.complete(&list);
        assert_eq!(input.text(), "Bob: hi carol ");
        // Nothing fits: nothing changes.
        let mut input = typed("zz");
        input.complete(&list);
        assert_eq!(input.text(), "zz");
        let mut input = typed("x ");
        input.complete(&list);
        assert_eq!(input.text(), "x ");
    }

    #[test]
    fn pastes_become_one_line() {
        let mut input = typed("a");
        input.paste("b\r\nc\td\u{1b}e\n\nf");
        assert_eq!(input.text(), "ab c de f");
    }

    #[test]
    fn input_is_bounded() {
        let mut input = Input::new();
        input.paste(&"x".repeat(MAX_INPUT + 100));
        assert_eq!(input.text().len(), MAX_INPUT);
        input.insert('y');
        assert_eq!(input.text().len(), MAX_INPUT);
    }
}
