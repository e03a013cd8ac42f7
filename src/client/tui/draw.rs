//! Drawing: the screen as a pure function of the [`App`].
//!
//! This module owns the look: the pinned warnings, the message pane with its scroll marker,
//! the nick list with its nick colours, the status line, and the input line with the cursor. It reads the app and
//! writes into a ratatui frame, nothing else, so tests draw into ratatui's `TestBackend` at
//! any size and read the screen back. It must not change the app or touch the terminal.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::client::display;
use crate::client::tui::app::App;
use crate::client::tui::lines::{self, plain_style};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let mut areas = app.areas();
    if let Some(area) = areas.pinned {
        pinned(frame, app, area);
    }
    // The topic, when there is one, takes the top row (as in weechat and irssi).
    if let Some((topic, by)) = &app.state.room.topic
        && areas.messages.height > 2
    {
        let top = areas.messages.y;
        let beside = areas
            .nicks
            .filter(|nicks| nicks.y == top)
            .map_or(0, |n| n.width);
        let bar = Rect::new(areas.messages.x, top, areas.messages.width + beside, 1);
        let text = format!(
            " {} (set by {})",
            display::clean(topic, 200),
            display::clean(by, 32)
        );
        let style = tone(app, Style::new().fg(Color::White).bg(Color::Blue));
        let padded = format!("{text:<width$}", width = usize::from(bar.width));
        frame.render_widget(Paragraph::new(Line::from(Span::styled(padded, style))), bar);
        // The nick list moves down with the messages when it starts on the same row (pinned
        // warnings take rows from the messages alone).
        let nicks = areas.nicks.as_mut().filter(|nicks| nicks.y == top);
        for area in std::iter::once(&mut areas.messages).chain(nicks) {
            area.y += 1;
            area.height = area.height.saturating_sub(1);
        }
    }
    messages(frame, app, areas.messages);
    if let Some(area) = areas.nicks {
        nick_list(frame, app, area);
    }
    status(frame, app, areas.status);
    input(frame, app, areas.input);
}

fn tone(app: &App, style: Style) -> Style {
    if app.colour {
        style
    } else {
        plain_style(style)
    }
}

/// The pinned warnings, black on yellow (reverse video without colour) so they read as
/// something to act on, wrapped like messages; what does not fit the rows they were given is
/// cut, the end of the last row showing how to dismiss them.
fn pinned(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let width = usize::from(area.width);
    let height = usize::from(area.height);
    if width == 0 || height == 0 {
        return;
    }
    let mut rows: Vec<Line<'static>> = app
        .pinned_lines()
        .iter()
        .flat_map(|line| lines::wrap(line, width, app.colour))
        .collect();
    if rows.len() > height {
        rows.truncate(height);
        let hint = format!("… [{}: dismiss]", crate::client::tui::app::DISMISS_KEY);
        if let Some(last) = rows.last_mut() {
            let kept: String = last
                .to_string()
                .chars()
                .take(width.saturating_sub(hint.width()))
                .collect();
            *last = Line::from(format!("{kept}{hint}"));
        }
    }
    let style = tone(
        app,
        Style::new()
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
    );
    frame.render_widget(Paragraph::new(rows).style(style), area);
}

/// The newest rows that fit, scrolled up by `app.scroll` rows, with the marker on the last
/// row when scrolled.
fn messages(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let height = usize::from(area.height);
    let width = usize::from(area.width);
    if height == 0 || width == 0 {
        return;
    }
    // Wrap only the lines needed, newest first.
    let needed = app.scroll.saturating_add(height);
    let mut rows: Vec<Line<'static>> = Vec::new();
    for line in app.lines.iter().rev() {
        let mut wrapped = lines::wrap(line, width, app.colour);
        wrapped.reverse();
        rows.extend(wrapped);
        if rows.len() >= needed {
            break;
        }
    }
    // Scrolled past the oldest line (the scrollback dropped lines, or the screen grew): show
    // the oldest page.
    let skip = app.scroll.min(rows.len().saturating_sub(height));
    let mut visible: Vec<Line<'static>> = rows.into_iter().skip(skip).take(height).collect();
    visible.reverse();
    if let Some(mut marker) = app.more_marker() {
        // How to get back down, where there is room for it.
        let hint = " PgDn or Ctrl-End";
        if marker.width() + hint.width() <= width {
            marker.push_str(hint);
        }
        let style = if app.colour {
            Style::new().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        };
        let marker = Line::from(Span::styled(marker, style));
        if visible.len() == height {
            visible.pop();
        }
        // The marker sits on the pane's bottom row even when the lines do not reach it.
        while visible.len() + 1 < height {
            visible.push(Line::default());
        }
        visible.push(marker);
    } else {
        // New lines come in at the bottom, as in every chat: pad above, not below.
        let mut padded = vec![Line::default(); height.saturating_sub(visible.len())];
        padded.extend(visible);
        visible = padded;
    }
    frame.render_widget(Paragraph::new(visible), area);
}

/// The users online, each in their nick colour, ours in bold, with a count on top.
fn nick_list(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let height = usize::from(area.height);
    if height == 0 {
        return;
    }
    let border = tone(app, Style::new().fg(Color::DarkGray));
    let users = &app.state.users;
    let header = match users.len() {
        0 => "offline".to_owned(),
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    };
    let mut rows = vec![Line::from(vec![
        Span::styled("│", border),
        Span::styled(header, Style::new().add_modifier(Modifier::BOLD)),
    ])];
    let room = height - 1;
    let overflow = users.len() > room;
    let shown = if overflow {
        room.saturating_sub(1)
    } else {
        users.len()
    };
    for nick in users.iter().take(shown) {
        let colour = lines::sgr_colour(display::nick_colour(nick));
        let mut style = Style::new();
        if let Some(colour) = colour {
            style = style.fg(colour);
        }
        if app.state.is_me(nick) {
            style = style.add_modifier(Modifier::BOLD);
        }
        rows.push(Line::from(vec![
            Span::styled("│", border),
            // `@` instructor, `%` TA, as IRC clients mark operators.
            Span::styled(
                app.state.room.role_of(nick).mark(),
                tone(app, Style::new().add_modifier(Modifier::BOLD)),
            ),
            Span::styled(display::clean(nick, 32), tone(app, style)),
        ]));
    }
    if overflow && room > 0 {
        rows.push(Line::from(vec![
            Span::styled("│", border),
            Span::raw(format!("+{} more", users.len() - shown)),
        ]));
    }
    while rows.len() < height {
        rows.push(Line::from(Span::styled("│", border)));
    }
    frame.render_widget(Paragraph::new(rows), area);
}

/// `[12:03] [alice] [connected] [3 online] [lag 12 ms] [127.0.0.1:7474] [key 3F2A-...]`,
/// dropping parts from the right until it fits.
fn status(frame: &mut Frame<'_>, app: &App, area: Rect) {
    if area.height == 0 {
        return;
    }
    let width = usize::from(area.width);
    // (rank, text, whether it is an alert); the alert goes right after the connection state.
    let mut items: Vec<(u8, String, bool)> = Vec::new();
    for (rank, text) in app.status_items() {
        items.push((rank, text, false));
        if rank == 0
            && let Some(alert) = app.status_alert()
        {
            items.push((1, alert, true));
        }
    }
    let shown = |items: &[(u8, String, bool)]| -> usize {
        items
            .iter()
            .map(|(_, text, _)| text.width() + 3)
            .sum::<usize>()
    };
    // Drop the highest ranks until it fits; the connection state (rank 0) stays, cut by the
    // edge if it must.
    while shown(&items) > width + 1 {
        let lowest = items.iter().map(|(rank, ..)| *rank).max().unwrap_or(0);
        if lowest == 0 {
            break;
        }
        items.retain(|(rank, ..)| *rank != lowest);
    }
    // White on blue as in weechat; reverse video without colour (see `plain_style`).
    let bar = tone(app, Style::new().fg(Color::White).bg(Color::Blue));
    let alert = bar.fg(Color::LightYellow).add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    for (i, (_, text, is_alert)) in items.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" ", bar));
        }
        let style = if *is_alert { tone(app, alert) } else { bar };
        spans.push(Span::styled(format!("[{text}]"), style));
    }
    // Padding to the full width, so the bar reads as a bar.
    let used = shown(&items).saturating_sub(1);
    spans.push(Span::styled(" ".repeat(width.saturating_sub(used)), bar));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The prompt and the text, scrolled sideways so the cursor stays in view.
fn input(frame: &mut Frame<'_>, app: &App, area: Rect) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let width = usize::from(area.width);
    let prompt = app.prompt();
    let mut prompt_width = prompt.width();
    let mut spans = Vec::new();
    // A prompt that leaves no room for typing is left out.
    if prompt_width + 8 <= width {
        spans.push(Span::styled(
            prompt,
            tone(
                app,
                Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            ),
        ));
    } else {
        prompt_width = 0;
    }
    let room = width - prompt_width;
    let text: Vec<char> = app.input.text().chars().collect();
    let column = app.input.cursor_column();
    // Characters scrolled off to the left: enough that the cursor is on screen.
    let mut skipped = 0;
    let mut skipped_width = 0;
    while column - skipped_width >= room && skipped < text.len() {
        skipped_width += unicode_width::UnicodeWidthChar::width(text[skipped]).unwrap_or(0);
        skipped += 1;
    }
    let visible: String = text[skipped..].iter().collect();
    spans.push(Span::raw(visible));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    let x = area.x + u16::try_from(prompt_width + column - skipped_width).unwrap_or(area.width - 1);
    frame.set_cursor_position(Position::new(x.min(area.right() - 1), area.y));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::state::ChatState;
    use crate::client::tui::app::Mode;
    use crate::client::update::{Update, UpdateKind};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;

    const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (40, 12)];

    fn app(width: u16, height: u16, colour: bool) -> App {
        let mut app = App::new(
            "127.0.0.1:7474",
            Some("alice"),
            Rect::new(0, 0, width, height),
            colour,
        );
        app.mode = Mode::Chat;
        app.clock = "12:34".into();
        let mut state = ChatState::new("alice");
        state.target = "127.0.0.1:7474".into();
        state.fingerprint = Some(crate::crypto::RoomKey::generate().fingerprint());
        state.lag_millis = Some(7);
        state.welcomed(
            "alice",
            &["alice".into(), "bob".into(), "carol".into()],
            2000,
            "fernchat 0.1.0",
        );
        app.apply(
            &Update::now(UpdateKind::Connected {
                nick: "alice".into(),
                users: state.users.clone(),
                server: "fernchat 0.1.0".into(),
                target: "127.0.0.1:7474".into(),
                reconnected: false,
            }),
            state,
        );
        app
    }

    fn said(app: &mut App, from: &str, text: &str) {
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::Message {
                room: "#class".into(),
                from: from.into(),
                text: text.into(),
                own: app.state.is_me(from),
            }),
            state,
        );
    }

    fn render(app: &App) -> (Buffer, Position) {
        let mut terminal =
            Terminal::new(TestBackend::new(app.screen.width, app.screen.height)).unwrap();
        terminal.draw(|frame| draw(frame, app)).unwrap();
        let cursor = terminal.get_cursor_position().unwrap();
        (terminal.backend().buffer().clone(), cursor)
    }

    fn rows(buffer: &Buffer) -> Vec<String> {
        let area = buffer.area;
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    fn screen_of(app: &App) -> Vec<String> {
        rows(&render(app).0)
    }

    #[test]
    fn every_size_has_status_input_and_messages() {
        for (w, h) in SIZES {
            let mut app = app(w, h, true);
            said(&mut app, "bob", "hi alice");
            let screen = screen_of(&app);
            let status = &screen[usize::from(h) - 2];
            let input = &screen[usize::from(h) - 1];
            assert!(
                status.contains("[alice] [connected] [3 online]"),
                "{w}x{h}: {status:?}"
            );
            assert!(input.starts_with("[alice] "), "{w}x{h}: {input:?}");
            // The newest message sits right above the status line.
            let last = &screen[usize::from(h) - 3];
            assert!(last.contains("<bob> hi alice"), "{w}x{h}: {screen:#?}");
        }
    }

    #[test]
    fn the_status_line_shows_everything_when_wide_and_the_essentials_when_narrow() {
        let app = app(120, 40, true);
        let screen = screen_of(&app);
        let status = &screen[38];
        let fingerprint = app.state.fingerprint.unwrap().to_string();
        for part in [
            "[alice]",
            "[connected]",
            "[3 online]",
            "[lag 7 ms]",
            "[127.0.0.1:7474]",
            &format!("[key {fingerprint}]"),
        ] {
            assert!(status.contains(part), "{part} missing: {status:?}");
        }
        let narrow = screen_of(&app_sized(40, 12));
        let status = &narrow[10];
        assert_eq!(status.trim_end(), "[alice] [connected] [3 online]");
        let middle = screen_of(&app_sized(80, 24));
        let status = &middle[22];
        assert_eq!(
            status.trim_end(),
            "[12:34] [alice] [connected] [3 online] [lag 7 ms] [127.0.0.1:7474]"
        );
    }

    fn app_sized(w: u16, h: u16) -> App {
        app(w, h, true)
    }

    #[test]
    fn the_topic_bar_staff_marks_and_the_latest_announcement() {
        let mut app = app(120, 40, true);
        let mut state = app.state.clone();
        state.room.topic = Some(("Exam until 11:00".into(), "bob".into()));
        state.room.announcement = Some(("bob".into(), "pens down".into()));
        state.room.set_role("bob", crate::role::Role::Instructor);
        state.room.set_role("carol", crate::role::Role::Ta);
        app.apply(
            &Update::now(UpdateKind::Announcement {
                room: "#class".into(),
                from: "bob".into(),
                text: "pens down".into(),
                history: false,
            }),
            state,
        );
        let screen = screen_of(&app);
        assert!(
            screen[0].starts_with(" Exam until 11:00 (set by bob)"),
            "{:?}",
            screen[0]
        );
        assert!(
            screen.iter().any(|row| row.contains("│@bob")),
            "{screen:#?}"
        );
        assert!(
            screen.iter().any(|row| row.contains("│%carol")),
            "{screen:#?}"
        );
        assert!(
            screen.iter().any(|row| row.contains("│alice")),
            "{screen:#?}"
        );
        assert!(
            screen[38].contains("[announced by bob: pens down]"),
            "{:?}",
            screen[38]
        );
        assert!(
            screen[37].contains("*** ANNOUNCEMENT from bob: pens down"),
            "{:?}",
            screen[37]
        );
        // In its own style: bold bright yellow, like no other line.
        let (buffer, _) = render(&app);
        let x = u16::try_from(screen[37].find("***").unwrap()).unwrap();
        assert_eq!(buffer[(x, 37)].fg, Color::LightYellow);
        assert!(buffer[(x, 37)].modifier.contains(Modifier::BOLD));
        assert_eq!(buffer[(0, 0)].bg, Color::Blue, "the topic bar");
    }

    #[test]
    fn errors_show_in_the_status_line_in_their_own_colour() {
        let mut app = app(120, 40, true);
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::Error {
                code: None,
                text: "not sent: too long".into(),
            }),
            state,
        );
        let (buffer, _) = render(&app);
        let status = &rows(&buffer)[38];
        assert!(
            status.starts_with("[12:34] [alice] [connected] [! not sent: too long] [3 online]"),
            "{status:?}"
        );
        let x = u16::try_from(status.find("[!").unwrap()).unwrap();
        assert_eq!(buffer[(x, 38)].fg, Color::LightYellow);
        assert_eq!(buffer[(0, 38)].fg, Color::White);
    }

    #[test]
    fn the_nick_list_shows_on_wide_screens_and_hides_on_narrow_ones() {
        for (w, h) in SIZES {
            let app = app(w, h, true);
            let screen = screen_of(&app);
            let has_list = screen[0].contains("3 users");
            assert_eq!(has_list, w >= 60, "{w}x{h}: {screen:#?}");
            if has_list {
                let right: Vec<&str> = screen[1..4]
                    .iter()
                    .map(|row| row.trim_end().rsplit('│').next().unwrap())
                    .collect();
                assert_eq!(right, ["alice", "bob", "carol"], "{w}x{h}");
            }
        }
        // Toggled on a narrow screen, it shows there too.
        let mut app = app(40, 12, true);
        app.key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE));
        assert!(screen_of(&app)[0].contains("3 users"));
    }

    #[test]
    fn nick_colours_match_line_mode_and_no_color_drops_them() {
        let app_colour = app(80, 24, true);
        let (buffer, _) = render(&app_colour);
        let screen = rows(&buffer);
        let y = screen
            .iter()
            .position(|r| r.ends_with("│bob") || r.trim_end().ends_with("│bob"))
            .unwrap();
        let x = u16::try_from(screen[y].trim_end().chars().count() - 3).unwrap();
        let cell = &buffer[(x, u16::try_from(y).unwrap())];
        assert_eq!(cell.symbol(), "b");
        assert_eq!(
            Some(cell.fg),
            lines::sgr_colour(display::nick_colour("bob"))
        );
        let plain = app(80, 24, false);
        let (buffer, _) = render(&plain);
        for cell in buffer.content() {
            assert_eq!(cell.fg, Color::Reset);
            assert_eq!(cell.bg, Color::Reset);
        }
        // The status line still reads as a bar without colour.
        assert!(buffer[(0, 22)].modifier.contains(Modifier::REVERSED));
    }

    #[test]
    fn scrolled_up_shows_the_marker_and_older_lines() {
        for (w, h) in SIZES {
            let mut app = app(w, h, true);
            for n in 0..200 {
                said(&mut app, "bob", &format!("line {n}"));
            }
            app.key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
            said(&mut app, "carol", "new one");
            let screen = screen_of(&app);
            let marker = &screen[usize::from(h) - 3];
            assert!(
                marker.contains("-- more below: 1 new"),
                "{w}x{h}: {marker:?}"
            );
            assert!(!screen.iter().any(|r| r.contains("new one")), "{w}x{h}");
            assert!(!screen.iter().any(|r| r.contains("line 199")), "{w}x{h}");
            app.key(KeyEvent::new(KeyCode::End, KeyModifiers::CONTROL));
            let screen = screen_of(&app);
            assert!(!screen.iter().any(|r| r.contains("more below")), "{w}x{h}");
            assert!(screen[usize::from(h) - 3].contains("<carol> new one"));
        }
    }

    #[test]
    fn long_lines_wrap_inside_the_pane() {
        for (w, h) in SIZES {
            let mut app = app(w, h, true);
            let words: Vec<String> = (0..40).map(|n| format!("w{n}")).collect();
            said(&mut app, "bob", &words.join(" "));
            let screen = screen_of(&app);
            let pane_width = usize::from(app.areas().messages.width);
            let joined: String = screen
                .iter()
                .map(|r| r.chars().take(pane_width).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ");
            for word in &words {
                assert!(
                    joined.split_whitespace().any(|t| t == word),
                    "{w}x{h}: {word} lost in {screen:#?}"
                );
            }
            // The continuation rows are indented under the text.
            let first = screen.iter().position(|r| r.contains("<bob>")).unwrap();
            assert!(
                screen[first + 1].starts_with("      w"),
                "{w}x{h}: {screen:#?}"
            );
        }
    }

    #[test]
    fn the_input_line_scrolls_to_keep_the_cursor_in_view() {
        let mut app = app(40, 12, true);
        for c in "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ".chars() {
            app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let (buffer, cursor) = render(&app);
        let input = &rows(&buffer)[11];
        assert!(input.starts_with("[alice] "), "{input:?}");
        assert!(input.trim_end().ends_with("ABCDEFGHIJ"), "{input:?}");
        assert_eq!(cursor.y, 11);
        assert_eq!(cursor.x, 39);
        app.key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
        let (buffer, cursor) = render(&app);
        assert!(rows(&buffer)[11].starts_with("[alice] abcdef"));
        assert_eq!(cursor.x, 8);
    }

    #[test]
    fn private_lines_and_mentions_are_marked() {
        let mut app = app(80, 24, true);
        let state = app.state.clone();
        app.apply(
            &Update::now(UpdateKind::Private {
                from: "bob".into(),
                to: "alice".into(),
                text: "psst".into(),
                outgoing: false,
            }),
            state,
        );
        said(&mut app, "carol", "alice: look");
        let (buffer, _) = render(&app);
        let screen = rows(&buffer);
        let private = screen
            .iter()
            .position(|r| r.contains("*bob* psst"))
            .unwrap();
        let mention = screen
            .iter()
            .position(|r| r.contains("<carol> alice: look"))
            .unwrap();
        let stamp = |y: usize| &buffer[(0, u16::try_from(y).unwrap())];
        assert!(stamp(private).modifier.contains(Modifier::REVERSED));
        assert_eq!(stamp(mention).bg, Color::Yellow);
    }

    #[test]
    fn tiny_screens_do_not_break() {
        for (w, h) in [(1, 1), (2, 2), (10, 3), (20, 4), (7, 30)] {
            let mut app = app(w, h, true);
            said(
                &mut app,
                "bob",
                "a fairly long line that cannot fit anywhere here",
            );
            app.scroll_up(5);
            render(&app);
        }
    }

    #[test]
    fn the_nick_prompt_and_the_end_are_clear() {
        let mut app = App::new("127.0.0.1:7474", None, Rect::new(0, 0, 80, 24), true);
        app.ask_nick(None);
        let screen = screen_of(&app);
        assert!(screen[23].starts_with("nick: "));
        assert!(screen[22].contains("[choose a nick]"));
        assert!(screen[22].contains("[127.0.0.1:7474]"));
        let mut app = self::app(80, 24, true);
        app.ended("gave up reconnecting");
        let screen = screen_of(&app);
        assert!(screen[22].contains("[ended: press Enter]"));
        assert!(
            screen
                .iter()
                .any(|r| r.contains("-!- gave up reconnecting"))
        );
        assert!(screen.iter().any(|r| r.contains("press Enter to exit")));
    }

    #[test]
    fn pinned_warnings_stay_above_any_number_of_lines_until_esc() {
        let warning = "warning: keys/class.key can be read by other users of this computer \
                       (mode 644); fix it with: chmod 600 keys/class.key";
        for (w, h) in [(100, 30), (80, 24), (40, 12), (20, 4)] {
            let mut app = app(w, h, true);
            app.pin_warning(warning.to_owned());
            for n in 0..60 {
                said(&mut app, "bob", &format!("history {n}"));
            }
            let (buffer, _) = render(&app);
            let screen = rows(&buffer);
            assert!(screen[0].starts_with("! wa"), "{w}x{h}: {screen:#?}");
            assert_eq!(buffer[(0, 0)].bg, Color::Yellow, "{w}x{h}");
            let joined = screen.join(" ");
            assert!(joined.contains("[Esc: dismiss]"), "{w}x{h}: {screen:#?}");
            if h >= 12 {
                assert!(
                    screen[0].starts_with("! warning: keys/class.key"),
                    "{w}x{h}: {screen:#?}"
                );
                assert!(joined.contains("chmod 600"), "{w}x{h}: {screen:#?}");
            }
            // The newest message still sits right above the status line.
            assert!(
                screen[usize::from(h) - 3].contains("59"),
                "{w}x{h}: {screen:#?}"
            );
            app.key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
            let screen = screen_of(&app);
            assert!(!screen.join(" ").contains("Esc: dismiss"), "{w}x{h}");
            assert!(
                screen[0].contains("history") || h < 12,
                "{w}x{h}: {screen:#?}"
            );
        }
        // Without colour the warning is in reverse video.
        let mut plain = app(100, 30, false);
        plain.pin_warning(warning.to_owned());
        let (buffer, _) = render(&plain);
        assert!(buffer[(0, 0)].modifier.contains(Modifier::REVERSED));
    }
}
