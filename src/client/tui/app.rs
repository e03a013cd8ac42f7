//! The full-screen client's view model: everything the screen shows, as plain data.
//!
//! This module owns the scrollback (bounded), the scroll position, the input line, whether
//! the nick list shows, the warnings pinned above the messages until dismissed, the
//! connection status for the status line, and what each key does.
//! [`App::apply`] takes the session's [`Update`]s, [`App::key`] and [`App::mouse`] take the
//! user's, and both only change this struct or return an [`Effect`] for the driver to carry
//! out (send a command, connect, leave). So all of it is tested without a terminal, and
//! [`super::draw`] is a pure function of it.
//!
//! It must not touch the terminal, the network or the protocol: commands are parsed by
//! [`command::parse`] and judged by the session, as in line mode.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;

use crate::client::command::{self, Command};
use crate::client::display;
use crate::client::state::ChatState;
use crate::client::tui::input::Input;
use crate::client::tui::lines::{self, ChatLine};
use crate::client::update::{Update, UpdateKind};
use crate::protocol::event::validate_nick;

/// Lines kept in the scrollback; older ones are dropped. About a day of a busy lab.
pub const MAX_LINES: usize = 5000;

/// How long the last error stays in the status line.
const ALERT_FOR: Duration = Duration::from_secs(10);

/// Rows one turn of the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// Below this many columns the nick list hides by itself, leaving the messages room.
pub const NICKLIST_MIN_WIDTH: u16 = 60;

/// The key that dismisses the pinned warnings, as the pinned rows name it.
pub const DISMISS_KEY: &str = "Esc";

/// Pinned warnings never take more than this share of the message pane (1 in 2 rows), so
/// the chat stays readable however many there are.
const PINNED_SHARE: u16 = 2;

/// The keys, for `/help` (after the commands) and the README.
pub const KEYS: &[(&str, &str)] = &[
    ("PgUp PgDn, wheel", "scroll the messages"),
    (
        "Ctrl-End Alt-End",
        "back to the newest message (Ctrl-Home: the oldest)",
    ),
    ("F2 Alt-N", "show or hide the nick list"),
    ("Up Down", "previous and next line sent"),
    ("Tab", "complete a nick (again: the next one)"),
    (
        "Ctrl-A E U K W",
        "start, end, delete to start/end, delete word",
    ),
    ("Ctrl-L", "redraw the screen"),
    ("Esc", "dismiss the warnings pinned above the messages"),
    ("Ctrl-C", "leave (twice: leave at once)"),
];

/// What the front end is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Asking for a nick (none was given, or the server refused the last one).
    AskNick,
    /// Joining as this nick.
    Connecting(String),
    /// In the room (or reconnecting to it).
    Chat,
    /// `/quit` or Ctrl-C: waiting for the session to say goodbye.
    Quitting,
    /// The session ended on its own (removed, gave up reconnecting): the user reads why
    /// and presses Enter.
    Ended,
}

/// The connection as the status line tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Not connected yet.
    Offline,
    /// Joined.
    Up,
    /// Lost; waiting to reconnect.
    Down,
    /// Waiting for reconnect attempt `attempt` until `at`.
    Retrying {
        /// Which attempt.
        attempt: u32,
        /// The last one, if bounded.
        max_attempts: Option<u32>,
        /// When it starts.
        at: Instant,
    },
}

/// What the driver must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this command to the session.
    Send(Command),
    /// Connect and join as this nick.
    Join(String),
    /// Leave now: nothing to say goodbye to (no session), or the user has read why it ended.
    Exit,
    /// Leave at once without waiting for the server (a second Ctrl-C).
    ForceExit,
    /// Clear the terminal and draw everything again (Ctrl-L).
    Redraw,
}

/// The parts of the screen, from the terminal's size and the nick list setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// Warnings that need action, pinned above the message pane until dismissed.
    pub pinned: Option<Rect>,
    /// The message pane.
    pub messages: Rect,
    /// The nick list, if shown.
    pub nicks: Option<Rect>,
    /// The status line.
    pub status: Rect,
    /// The input line.
    pub input: Rect,
}

impl Areas {
    /// Splits `screen`: messages (and the nick list on their right), then the status line,
    /// then the input line at the bottom, as in weechat. A screen too short for all of them
    /// keeps the input line first, then the status line.
    pub fn of(screen: Rect, nick_list: bool, nick_width: u16) -> Areas {
        let row = |y: u16| Rect::new(screen.x, y, screen.width, 1);
        let empty = Rect::new(screen.x, screen.y, screen.width, 0);
        match screen.height {
            0 => Areas {
                pinned: None,
                messages: empty,
                nicks: None,
                status: empty,
                input: empty,
            },
            1 => Areas {
                pinned: None,
                messages: empty,
                nicks: None,
                status: empty,
                input: row(screen.y),
            },
            h => {
                let pane_height = h - 2;
                let input = row(screen.y + h - 1);
                let status = row(screen.y + h - 2);
                // The list needs room for itself and still leaves the messages most of it.
                let list_width = nick_width.saturating_add(1);
                let show = nick_list && pane_height > 0 && screen.width >= list_width * 2;
                if show {
                    let messages_width = screen.width - list_width;
                    Areas {
                        pinned: None,
                        messages: Rect::new(screen.x, screen.y, messages_width, pane_height),
                        nicks: Some(Rect::new(
                            screen.x + messages_width,
                            screen.y,
                            list_width,
                            pane_height,
                        )),
                        status,
                        input,
                    }
                } else {
                    Areas {
                        pinned: None,
                        messages: Rect::new(screen.x, screen.y, screen.width, pane_height),
                        nicks: None,
                        status,
                        input,
                    }
                }
            }
        }
    }
}

/// The full-screen client's state.
#[derive(Debug, Clone)]
pub struct App {
    /// What the front end is doing.
    pub mode: Mode,
    /// The scrollback, oldest first, at most [`MAX_LINES`].
    pub lines: VecDeque<ChatLine>,
    /// How many rows the pane is scrolled up from the newest; 0 follows new messages.
    pub scroll: usize,
    /// Lines that arrived while scrolled up.
    pub unseen: usize,
    /// Of those, lines that mention us or are private.
    pub unseen_mentions: usize,
    /// The input line.
    pub input: Input,
    /// The user's choice for the nick list; `None` follows the terminal's width.
    pub nick_list_choice: Option<bool>,
    /// The chat state as the session last published it.
    pub state: ChatState,
    /// The connection, as the status line tells it.
    pub link: Link,
    /// The terminal's size.
    pub screen: Rect,
    /// Whether to draw colours (`NO_COLOR` and non-terminals say no).
    pub colour: bool,
    /// The time of the last tick, for countdowns.
    pub now: Instant,
    /// The wall clock, `HH:MM`, for the status line.
    pub clock: String,
    /// The server address, shown before the session knows it.
    pub target: String,
    /// Set by a Ctrl-C while quitting, so a second one leaves at once.
    ctrl_c_pressed: bool,
    /// The last error and when it came, for the status line.
    alert: Option<(String, Instant)>,
    /// Warnings that need the user to act (a keyfile others can read, with its `chmod`
    /// fix): shown above the messages, where no history replay or chat can push them away,
    /// until [`DISMISS_KEY`] is pressed.
    pub pinned: Vec<String>,
}

impl App {
    /// A fresh screen for joining `target` as `nick` (if given), in a `screen`-sized terminal.
    pub fn new(target: &str, nick: Option<&str>, screen: Rect, colour: bool) -> App {
        App {
            mode: Mode::AskNick,
            lines: VecDeque::new(),
            scroll: 0,
            unseen: 0,
            unseen_mentions: 0,
            input: Input::new(),
            nick_list_choice: None,
            state: ChatState::new(nick.unwrap_or("")),
            link: Link::Offline,
            screen,
            colour,
            now: Instant::now(),
            clock: display::hhmm(crate::protocol::unix_millis()),
            target: target.to_owned(),
            ctrl_c_pressed: false,
            alert: None,
            pinned: Vec::new(),
        }
    }

    /// Whether the nick list shows: the user's choice, or else whether the terminal is wide
    /// enough.
    pub fn nick_list_shown(&self) -> bool {
        self.nick_list_choice
            .unwrap_or(self.screen.width >= NICKLIST_MIN_WIDTH)
    }

    /// The nick list's width: the longest nick and a margin, within bounds.
    pub fn nick_list_width(&self) -> u16 {
        let longest = self
            .state
            .users
            .iter()
            .map(|nick| display::clean(nick, 32).chars().count())
            .max()
            .unwrap_or(0);
        // `+1` for the space before the nick; the header "99 users" needs about 9.
        u16::try_from(longest + 1).unwrap_or(u16::MAX).clamp(9, 18)
    }

    /// Where everything goes on the current screen: [`Areas::of`], with the pinned warnings
    /// (if any) taking rows from the top of the message pane.
    pub fn areas(&self) -> Areas {
        let mut areas = Areas::of(self.screen, self.nick_list_shown(), self.nick_list_width());
        let pane = areas.messages;
        if self.pinned.is_empty() || pane.height < 2 || pane.width == 0 {
            return areas;
        }
        let wanted: usize = self
            .pinned_lines()
            .iter()
            .map(|line| lines::row_count(line, usize::from(pane.width)))
            .sum();
        let most = (pane.height / PINNED_SHARE).max(1);
        let rows = u16::try_from(wanted).unwrap_or(u16::MAX).clamp(1, most);
        areas.pinned = Some(Rect::new(pane.x, pane.y, pane.width, rows));
        areas.messages = Rect::new(pane.x, pane.y + rows, pane.width, pane.height - rows);
        areas
    }

    /// The pinned warnings as lines to draw, each saying how to dismiss it.
    pub fn pinned_lines(&self) -> Vec<ChatLine> {
        self.pinned
            .iter()
            .map(|text| ChatLine::pinned(&format!("{text} [{DISMISS_KEY}: dismiss]")))
            .collect()
    }

    /// A warning that needs action: pinned above the messages until dismissed, and a line
    /// in the pane (and the status line) like any error.
    pub fn pin_warning(&mut self, text: String) {
        self.error(text.clone());
        self.pin(text);
    }

    /// Pins `text` above the messages until dismissed (the caller shows it in the pane).
    pub fn pin(&mut self, text: String) {
        self.pinned.push(text);
    }

    /// The user has read the pinned warnings.
    pub fn dismiss_pinned(&mut self) {
        self.pinned.clear();
    }

    /// The terminal changed size.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.screen = Rect::new(0, 0, width, height);
    }

    /// Time passed: countdowns and the clock move on.
    pub fn tick(&mut self, now: Instant, clock: String) {
        self.now = now;
        self.clock = clock;
    }

    /// Adds a line to the scrollback: keeps the view still when scrolled up, and counts it
    /// as unseen there.
    pub fn push(&mut self, line: ChatLine) {
        if self.scroll > 0 {
            self.scroll += lines::row_count(&line, usize::from(self.areas().messages.width));
            self.unseen += 1;
            if line.kind != lines::LineKind::Normal {
                self.unseen_mentions += 1;
            }
        }
        if self.lines.len() == MAX_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// A line from the front end itself (nick prompt, bad command), drawn as a `-!-` line.
    fn say(&mut self, kind: UpdateKind) {
        for line in ChatLine::from_update(&Update::now(kind), false) {
            self.push(line);
        }
    }

    /// A local error, as line mode prints it (and in the status line for a while).
    pub fn error(&mut self, text: String) {
        self.alert = Some((text.clone(), self.now));
        self.say(UpdateKind::Error { code: None, text });
    }

    /// A local notice.
    pub fn notice(&mut self, text: String) {
        self.say(UpdateKind::Notice { text });
    }

    /// Shows an update from the session; `state` is the session's state published with it.
    pub fn apply(&mut self, update: &Update, state: ChatState) {
        self.state = state;
        let mention = self.state.mentioned_in(&update.kind);
        for line in ChatLine::from_update(update, mention) {
            self.push(line);
        }
        match &update.kind {
            UpdateKind::Connected { .. } => {
                self.link = Link::Up;
                self.alert = None;
            }
            UpdateKind::Disconnected { reason } => {
                self.link = Link::Down;
                self.alert = Some((reason.clone(), self.now));
            }
            UpdateKind::Error { text, .. } => self.alert = Some((text.clone(), self.now)),
            UpdateKind::Reconnecting {
                attempt,
                max_attempts,
                delay_secs,
            } => {
                self.link = Link::Retrying {
                    attempt: *attempt,
                    max_attempts: *max_attempts,
                    at: self.now + Duration::from_secs(*delay_secs),
                }
            }
            UpdateKind::ReconnectFailed { attempt, reason } => {
                self.link = Link::Down;
                self.alert = Some((format!("attempt {attempt} failed: {reason}"), self.now));
            }
            UpdateKind::Quit { .. } => self.link = Link::Offline,
            UpdateKind::Help => {
                let width = KEYS.iter().map(|(keys, _)| keys.len()).max().unwrap_or(0);
                self.push(ChatLine::info(update.at, "keys:"));
                for (keys, what) in KEYS {
                    let text = format!("  {keys:<width$}  {what}");
                    self.push(ChatLine::info(update.at, &text));
                }
            }
            // Everything else (messages, history, notices) is just lines in the pane.
            _ => {}
        }
    }

    /// The session has ended on its own, for `reason`: say so and wait for Enter.
    pub fn ended(&mut self, reason: &str) {
        self.mode = Mode::Ended;
        self.link = Link::Offline;
        self.error(reason.to_owned());
        self.notice("the chat has ended: press Enter to exit".to_owned());
        self.scroll_to_bottom();
    }

    /// The nick prompt: why it is shown and what a nick may be.
    pub fn ask_nick(&mut self, why: Option<String>) {
        if let Some(why) = why {
            self.error(why);
        }
        self.notice(
            "type your nick and press Enter: 2 to 16 letters, digits, '_' or '-', starting with \
             a letter (Ctrl-C leaves)"
                .to_owned(),
        );
        self.mode = Mode::AskNick;
    }

    /// Rows in the pane.
    fn page(&self) -> usize {
        usize::from(self.areas().messages.height).max(1)
    }

    /// Scrolls up (towards older lines) by `rows`, no further than the oldest line.
    pub fn scroll_up(&mut self, rows: usize) {
        let width = usize::from(self.areas().messages.width);
        let page = self.page();
        let wanted = self.scroll.saturating_add(rows);
        // Count rows only as far as needed: the newest lines first.
        let mut total = 0;
        for line in self.lines.iter().rev() {
            total += lines::row_count(line, width);
            if total >= wanted + page {
                break;
            }
        }
        self.scroll = wanted.min(total.saturating_sub(page));
    }

    /// Scrolls down (towards newer lines) by `rows`.
    pub fn scroll_down(&mut self, rows: usize) {
        self.scroll = self.scroll.saturating_sub(rows);
        if self.scroll == 0 {
            self.unseen = 0;
            self.unseen_mentions = 0;
        }
    }

    /// Back to the newest line.
    pub fn scroll_to_bottom(&mut self) {
        self.scroll_down(usize::MAX);
    }

    /// A mouse event: the wheel scrolls.
    pub fn mouse(&mut self, event: MouseEvent) {
        match event.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_ROWS),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_ROWS),
            _ => {}
        }
    }

    /// Pasted text goes into the input line.
    pub fn paste(&mut self, text: &str) {
        self.input.end_completion();
        self.input.paste(text);
    }

    /// What a key does. Only presses and repeats count: Windows also reports releases.
    pub fn key(&mut self, key: KeyEvent) -> Option<Effect> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if key.code != KeyCode::Tab {
            self.input.end_completion();
        }
        match key.code {
            KeyCode::Char('c') if ctrl && !alt => return self.interrupt(),
            KeyCode::Char('d') if ctrl && !alt && self.input.is_empty() => {
                return self.interrupt();
            }
            // Windows reports AltGr as Ctrl+Alt: AltGr+Q is how many keyboards type `@`.
            KeyCode::Char(c) if ctrl && alt => self.input.insert(c),
            KeyCode::Enter => return self.enter(),
            KeyCode::Esc if self.mode == Mode::Ended => return Some(Effect::Exit),
            KeyCode::Esc => self.dismiss_pinned(),
            KeyCode::Char('l') if ctrl => return Some(Effect::Redraw),
            KeyCode::F(2) => self.toggle_nick_list(),
            KeyCode::Char('n') if alt => self.toggle_nick_list(),
            KeyCode::PageUp => self.scroll_up(self.page().saturating_sub(1).max(1)),
            KeyCode::PageDown => self.scroll_down(self.page().saturating_sub(1).max(1)),
            KeyCode::End if ctrl || alt => self.scroll_to_bottom(),
            KeyCode::Home if ctrl || alt => self.scroll_up(usize::MAX / 2),
            KeyCode::Up => self.input.history_up(),
            KeyCode::Down => self.input.history_down(),
            KeyCode::Left if ctrl => self.input.word_left(),
            KeyCode::Right if ctrl => self.input.word_right(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Backspace if ctrl || alt => self.input.delete_word(),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Tab => {
                let others: Vec<String> = self
                    .state
                    .users
                    .iter()
                    .filter(|nick| !self.state.is_me(nick))
                    .cloned()
                    .collect();
                self.input.complete(&others);
            }
            KeyCode::Char(c) if ctrl => match c {
                'a' => self.input.home(),
                'e' => self.input.end(),
                'b' => self.input.left(),
                'f' => self.input.right(),
                'd' => self.input.delete(),
                'h' => self.input.backspace(),
                'u' => self.input.delete_to_start(),
                'k' => self.input.delete_to_end(),
                'w' => self.input.delete_word(),
                'p' => self.input.history_up(),
                'n' => self.input.history_down(),
                _ => {}
            },
            KeyCode::Char(c) if alt => match c {
                'b' => self.input.word_left(),
                'f' => self.input.word_right(),
                _ => {}
            },
            KeyCode::Char(c) => self.input.insert(c),
            _ => {}
        }
        None
    }

    fn toggle_nick_list(&mut self) {
        self.nick_list_choice = Some(!self.nick_list_shown());
    }

    /// Ctrl-C (or Ctrl-D on an empty line): leave politely; a second time, at once.
    fn interrupt(&mut self) -> Option<Effect> {
        match self.mode {
            Mode::AskNick | Mode::Connecting(_) | Mode::Ended => Some(Effect::Exit),
            Mode::Chat => {
                self.mode = Mode::Quitting;
                self.ctrl_c_pressed = true;
                Some(Effect::Send(Command::Quit(None)))
            }
            Mode::Quitting if self.ctrl_c_pressed => Some(Effect::ForceExit),
            Mode::Quitting => {
                self.ctrl_c_pressed = true;
                None
            }
        }
    }

    fn enter(&mut self) -> Option<Effect> {
        match self.mode {
            Mode::Ended => Some(Effect::Exit),
            Mode::Connecting(_) | Mode::Quitting => None,
            Mode::AskNick => {
                let nick = self.input.take().trim().to_owned();
                if nick.is_empty() {
                    return None;
                }
                if let Err(e) = validate_nick(&nick) {
                    self.error(format!("the nick {nick:?} cannot be used: {e}"));
                    return None;
                }
                self.connecting(&nick);
                Some(Effect::Join(nick))
            }
            Mode::Chat => {
                let line = self.input.submit();
                self.scroll_to_bottom();
                match command::parse(&line) {
                    Ok(None) => None,
                    Ok(Some(command)) => {
                        if matches!(command, Command::Quit(_)) {
                            self.mode = Mode::Quitting;
                        }
                        Some(Effect::Send(command))
                    }
                    Err(e) => {
                        self.error(e.to_string());
                        None
                    }
                }
            }
        }
    }

    /// Joining as `nick` has started.
    pub fn connecting(&mut self, nick: &str) {
        self.state.nick = nick.to_owned();
        self.mode = Mode::Connecting(nick.to_owned());
        self.notice(format!("connecting to {} as {nick}...", self.target));
    }

    /// The status line's parts in the order shown, each with its rank: when the line does
    /// not fit, the drawing drops the highest ranks first (the key fingerprint, then the
    /// address, the clock, the lag...), so the connection state goes last.
    pub fn status_items(&self) -> Vec<(u8, String)> {
        let mut items = vec![(4, self.clock.clone())];
        if !self.state.nick.is_empty() && self.mode != Mode::AskNick {
            items.push((1, display::clean(&self.state.nick, 32)));
        }
        let state = match (&self.mode, &self.link) {
            (Mode::AskNick, _) => "choose a nick".to_owned(),
            (Mode::Connecting(_), _) => "connecting".to_owned(),
            (Mode::Quitting, _) => "leaving".to_owned(),
            (Mode::Ended, _) => "ended: press Enter".to_owned(),
            (Mode::Chat, Link::Up) => "connected".to_owned(),
            (Mode::Chat, Link::Offline | Link::Down) => "disconnected".to_owned(),
            (
                Mode::Chat,
                Link::Retrying {
                    attempt,
                    max_attempts,
                    at,
                },
            ) => {
                let left = at.saturating_duration_since(self.now);
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                let of = match max_attempts {
                    Some(max) => format!("{attempt}/{max}"),
                    None => attempt.to_string(),
                };
                if secs > 0 {
                    format!("reconnecting {of} in {secs} s")
                } else {
                    format!("reconnecting {of}")
                }
            }
        };
        items.push((0, state));
        // The latest announcement stays in view until the next one (issue 15).
        if let Some((from, text)) = &self.state.room.announcement {
            items.push((
                2,
                format!(
                    "announced by {}: {}",
                    display::clean(from, 16),
                    display::clean(text, 40)
                ),
            ));
        }
        if self.link == Link::Up {
            items.push((2, format!("{} online", self.state.users.len())));
            if let Some(lag) = self.state.lag_millis {
                items.push((3, format!("lag {lag} ms")));
            }
        }
        let target = if self.state.target.is_empty() {
            &self.target
        } else {
            &self.state.target
        };
        items.push((5, display::clean(target, 64)));
        if let Some(fingerprint) = self.state.fingerprint {
            items.push((6, format!("key {fingerprint}")));
        }
        items
    }

    /// The last error, for a while after it came (errors and refusals show in the status
    /// line as well as in the pane, where they may scroll away or be scrolled past).
    pub fn status_alert(&self) -> Option<String> {
        let (text, at) = self.alert.as_ref()?;
        (self.now.saturating_duration_since(*at) < ALERT_FOR)
            .then(|| format!("! {}", display::clean(text, 48)))
    }

    /// The prompt before the input line.
    pub fn prompt(&self) -> String {
        match &self.mode {
            Mode::AskNick => "nick: ".to_owned(),
            Mode::Connecting(_) => "connecting... ".to_owned(),
            Mode::Ended => "press Enter to exit ".to_owned(),
            Mode::Chat | Mode::Quitting => {
                format!("[{}] ", display::clean(&self.state.nick, 32))
            }
        }
    }

    /// The scroll marker's text when scrolled up, for the bottom row of the pane.
    pub fn more_marker(&self) -> Option<String> {
        if self.scroll == 0 {
            return None;
        }
        let mut text = String::from("-- more below");
        if self.unseen > 0 {
            text.push_str(&format!(": {} new", self.unseen));
            if self.unseen_mentions > 0 {
                text.push_str(&format!(", {} for you", self.unseen_mentions));
            }
        }
        text.push_str(" --");
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventState;

    pub(crate) fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn chatting() -> App {
        let mut app = App::new(
            "127.0.0.1:7474",
            Some("alice"),
            Rect::new(0, 0, 80, 24),
            true,
        );
        app.mode = Mode::Chat;
        let mut state = ChatState::new("alice");
        state.welcomed(
            "alice",
            &["alice".into(), "bob".into(), "bobby".into()],
            2000,
            "fernchat",
        );
        app.apply(
            &Update::now(UpdateKind::Connected {
                nick: "alice".into(),
                users: state.users.clone(),
                server: "fernchat".into(),
                target: "127.0.0.1:7474".into(),
                reconnected: false,
            }),
            state,
        );
        app
    }

    fn type_text(app: &mut App, text: &str) {
        for c in text.chars() {
            assert_eq!(app.key(key(KeyCode::Char(c))), None);
        }
    }

    fn message(app: &mut App, from: &str, text: &str) {
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::Message {
                room: "#class".into(),
                from: from.into(),
                text: text.into(),
                own: false,
            }),
            state,
        );
    }

    #[test]
    fn enter_sends_what_was_typed_as_a_command() {
        let mut app = chatting();
        type_text(&mut app, "hello all");
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            Some(Effect::Send(Command::Say("hello all".into())))
        );
        assert!(app.input.is_empty());
        type_text(&mut app, "/msg bob psst");
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            Some(Effect::Send(Command::Msg {
                to: "bob".into(),
                text: "psst".into()
            }))
        );
        // A blank line sends nothing; a typo is explained, not sent.
        assert_eq!(app.key(key(KeyCode::Enter)), None);
        type_text(&mut app, "/nikc x");
        assert_eq!(app.key(key(KeyCode::Enter)), None);
        assert!(
            app.lines
                .back()
                .unwrap()
                .text()
                .contains("unknown command /nikc")
        );
        assert!(
            app.status_alert()
                .unwrap()
                .starts_with("! unknown command /nikc")
        );
    }

    #[test]
    fn quitting_by_command_and_by_ctrl_c() {
        let mut app = chatting();
        type_text(&mut app, "/quit lunch");
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            Some(Effect::Send(Command::Quit(Some("lunch".into()))))
        );
        assert_eq!(app.mode, Mode::Quitting);
        // Ctrl-C while the session says goodbye: noted, then a second one leaves at once.
        assert_eq!(app.key(ctrl('c')), None);
        assert_eq!(app.key(ctrl('c')), Some(Effect::ForceExit));

        let mut app = chatting();
        assert_eq!(app.key(ctrl('c')), Some(Effect::Send(Command::Quit(None))));
        assert_eq!(app.key(ctrl('c')), Some(Effect::ForceExit));

        let mut app = chatting();
        type_text(&mut app, "x");
        assert_eq!(
            app.key(ctrl('d')),
            None,
            "Ctrl-D deletes when there is text"
        );
        app.key(key(KeyCode::Home));
        app.key(ctrl('d'));
        assert_eq!(app.key(ctrl('d')), Some(Effect::Send(Command::Quit(None))));
    }

    #[test]
    fn altgr_characters_are_typed() {
        let mut app = chatting();
        let altgr = KeyModifiers::CONTROL | KeyModifiers::ALT;
        app.key(KeyEvent::new(KeyCode::Char('@'), altgr));
        app.key(KeyEvent::new(KeyCode::Char('€'), altgr));
        assert_eq!(app.input.text(), "@€");
        app.key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::ALT));
        assert_eq!(app.input.text(), "");
    }

    #[test]
    fn releases_are_ignored() {
        let mut app = chatting();
        let mut release = key(KeyCode::Char('x'));
        release.kind = KeyEventKind::Release;
        release.state = KeyEventState::NONE;
        app.key(release);
        assert!(app.input.is_empty());
    }

    #[test]
    fn history_with_up_and_down() {
        let mut app = chatting();
        type_text(&mut app, "one");
        app.key(key(KeyCode::Enter));
        type_text(&mut app, "two");
        app.key(key(KeyCode::Enter));
        app.key(key(KeyCode::Up));
        assert_eq!(app.input.text(), "two");
        app.key(key(KeyCode::Up));
        assert_eq!(app.input.text(), "one");
        app.key(key(KeyCode::Down));
        app.key(key(KeyCode::Down));
        assert_eq!(app.input.text(), "");
    }

    #[test]
    fn tab_completes_other_peoples_nicks() {
        let mut app = chatting();
        type_text(&mut app, "b");
        app.key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "bob: ");
        app.key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "bobby: ");
        let mut app = chatting();
        type_text(&mut app, "al");
        app.key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "al", "our own nick is not offered");
    }

    #[test]
    fn nick_list_follows_the_width_until_toggled() {
        let mut app = chatting();
        assert!(app.nick_list_shown());
        app.resize(40, 12);
        assert!(!app.nick_list_shown());
        app.key(key(KeyCode::F(2)));
        assert!(app.nick_list_shown());
        app.key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::ALT));
        assert!(!app.nick_list_shown());
        assert!(app.input.is_empty(), "Alt-N types nothing");
    }

    #[test]
    fn page_keys_scroll_and_new_lines_keep_the_view_still() {
        let mut app = chatting();
        for n in 0..100 {
            message(&mut app, "bob", &format!("line {n}"));
        }
        assert_eq!(app.more_marker(), None);
        app.key(key(KeyCode::PageUp));
        let page = usize::from(app.areas().messages.height) - 1;
        assert_eq!(app.scroll, page);
        assert!(app.more_marker().unwrap().contains("more below"));
        message(&mut app, "bob", "while away");
        message(&mut app, "bob", "alice: look");
        assert_eq!(app.scroll, page + 2, "the view stays on the same lines");
        let marker = app.more_marker().unwrap();
        assert!(marker.contains("2 new, 1 for you"), "{marker}");
        app.key(key(KeyCode::PageDown));
        app.key(key(KeyCode::PageDown));
        assert_eq!(app.scroll, 0);
        assert_eq!(app.unseen, 0);
        // Scrolling stops at the oldest line.
        app.key(KeyEvent::new(KeyCode::Home, KeyModifiers::CONTROL));
        let top = app.scroll;
        app.key(key(KeyCode::PageUp));
        assert_eq!(app.scroll, top);
        assert!(top > 0);
        app.key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL));
        assert_eq!(app.scroll, 0);
    }

    #[test]
    fn the_wheel_scrolls() {
        let mut app = chatting();
        for n in 0..100 {
            message(&mut app, "bob", &format!("line {n}"));
        }
        let wheel = |kind| MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        app.mouse(wheel(MouseEventKind::ScrollUp));
        assert_eq!(app.scroll, WHEEL_ROWS);
        app.mouse(wheel(MouseEventKind::ScrollDown));
        assert_eq!(app.scroll, 0);
    }

    #[test]
    fn few_lines_do_not_scroll() {
        let mut app = chatting();
        app.key(key(KeyCode::PageUp));
        assert_eq!(app.scroll, 0);
    }

    #[test]
    fn scrollback_is_bounded() {
        let mut app = chatting();
        for n in 0..MAX_LINES + 10 {
            message(&mut app, "bob", &n.to_string());
        }
        assert_eq!(app.lines.len(), MAX_LINES);
        assert!(
            app.lines
                .back()
                .unwrap()
                .text()
                .ends_with(&format!("{}", MAX_LINES + 9))
        );
    }

    fn status(app: &App) -> Vec<String> {
        app.status_items()
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }

    #[test]
    fn status_tells_the_connection() {
        let mut app = chatting();
        let mut state = app.state.clone();
        state.lag_millis = Some(12);
        state.target = "10.0.0.5:7474".into();
        app.apply(&Update::now(UpdateKind::Lag { millis: 12 }), state.clone());
        let items = status(&app);
        assert!(items.contains(&"alice".to_owned()), "{items:?}");
        assert!(items.contains(&"connected".to_owned()), "{items:?}");
        assert!(items.contains(&"3 online".to_owned()), "{items:?}");
        assert!(items.contains(&"lag 12 ms".to_owned()), "{items:?}");
        assert!(items.contains(&"10.0.0.5:7474".to_owned()), "{items:?}");

        state.disconnected();
        app.apply(
            &Update::now(UpdateKind::Disconnected {
                reason: "gone".into(),
            }),
            state.clone(),
        );
        app.apply(
            &Update::now(UpdateKind::Reconnecting {
                attempt: 2,
                max_attempts: Some(10),
                delay_secs: 4,
            }),
            state,
        );
        let items = status(&app);
        assert!(
            items.contains(&"reconnecting 2/10 in 4 s".to_owned()),
            "{items:?}"
        );
        assert!(!items.iter().any(|i| i.contains("online")), "{items:?}");
        let later = app.now + Duration::from_millis(2500);
        app.tick(later, "12:00".into());
        assert!(status(&app).contains(&"reconnecting 2/10 in 2 s".to_owned()));
    }

    #[test]
    fn errors_show_in_the_status_line_for_a_while() {
        let mut app = chatting();
        assert_eq!(app.status_alert(), None);
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::Error {
                code: None,
                text: "not sent: the message is too long".into(),
            }),
            state,
        );
        assert_eq!(
            app.status_alert().as_deref(),
            Some("! not sent: the message is too long")
        );
        let later = app.now + ALERT_FOR;
        app.tick(later, "12:00".into());
        assert_eq!(app.status_alert(), None);
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::ReconnectFailed {
                attempt: 3,
                reason: "no fernchat server is listening at 127.0.0.1:7474: start one".into(),
            }),
            state.clone(),
        );
        let alert = app.status_alert().unwrap();
        assert!(
            alert.starts_with("! attempt 3 failed: no fernchat"),
            "{alert}"
        );
        assert!(alert.ends_with('…'), "long reasons are cut: {alert}");
        app.apply(
            &Update::now(UpdateKind::Connected {
                nick: "alice".into(),
                users: vec![],
                server: String::new(),
                target: String::new(),
                reconnected: true,
            }),
            state,
        );
        assert_eq!(app.status_alert(), None, "a reconnect clears it");
    }

    #[test]
    fn help_lists_the_keys_too() {
        let mut app = chatting();
        let state = app.state.clone();
        app.apply(&Update::now(UpdateKind::Help), state);
        let all: Vec<String> = app.lines.iter().map(ChatLine::text).collect();
        assert!(all.iter().any(|l| l.contains("/msg NICK TEXT")));
        assert!(all.iter().any(|l| l.contains("F2 Alt-N")));
    }

    #[test]
    fn the_nick_prompt_checks_the_nick_before_joining() {
        let mut app = App::new("127.0.0.1:7474", None, Rect::new(0, 0, 80, 24), false);
        app.ask_nick(None);
        assert_eq!(app.prompt(), "nick: ");
        type_text(&mut app, "1bad");
        assert_eq!(app.key(key(KeyCode::Enter)), None);
        assert!(app.lines.back().unwrap().text().contains("cannot be used"));
        type_text(&mut app, " carol ");
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            Some(Effect::Join("carol".into()))
        );
        assert_eq!(app.mode, Mode::Connecting("carol".into()));
        assert_eq!(app.key(ctrl('c')), Some(Effect::Exit));
    }

    #[test]
    fn an_ended_chat_waits_for_enter() {
        let mut app = chatting();
        app.ended("gave up");
        assert_eq!(app.mode, Mode::Ended);
        assert!(status(&app).contains(&"ended: press Enter".to_owned()));
        assert_eq!(app.key(key(KeyCode::Enter)), Some(Effect::Exit));
    }

    #[test]
    fn areas_fit_any_screen() {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (5, 2),
            (10, 3),
            (80, 24),
            (120, 40),
            (40, 12),
        ] {
            for list in [false, true] {
                let screen = Rect::new(0, 0, w, h);
                let areas = Areas::of(screen, list, 12);
                for area in [
                    Some(areas.messages),
                    areas.nicks,
                    Some(areas.status),
                    Some(areas.input),
                ]
                .into_iter()
                .flatten()
                {
                    assert!(
                        screen.contains(area.as_position())
                            || area.area() == 0
                            || screen.area() == 0
                    );
                    assert!(area.right() <= screen.right() && area.bottom() <= screen.bottom());
                }
            }
        }
    }
}
