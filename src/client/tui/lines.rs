//! Scrollback lines: an [`Update`] turned into styled text, and styled text wrapped to a width.
//!
//! This module owns how a line of the message pane is stored ([`ChatLine`]) and how it breaks
//! into screen rows. The words, the `<nick>` brackets and the nick colours are not decided
//! here: they come from [`display::render_body`], the same function line mode prints, whose
//! few SGR colour codes (`ESC [ 96 m`) are read back into ratatui styles by [`parse_sgr`]. So
//! both front ends show exactly the same lines, and a change to the display conventions
//! reaches both. Server text never carries an escape of its own to this point
//! ([`display::clean`] made every control character visible first).
//!
//! It must not touch the terminal, the session or the protocol.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use crate::client::display;
use crate::client::update::{Update, UpdateKind};

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    /// The text, safe for a terminal.
    pub text: String,
    /// How it looks with colour on; [`plain_style`] takes the colours out for `NO_COLOR`.
    pub style: Style,
}

/// What a line is, for how it stands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Everything that needs no emphasis of its own.
    Normal,
    /// Someone else's room line that mentions our nick: the stamp is lit and the text bold.
    Mention,
    /// A private message, to or from us: the stamp is marked and the text bold.
    Private,
    /// A line from the room's history, sent on joining: dimmed, so the past is never
    /// mistaken for the present.
    History,
}

/// One line of the message pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// `HH:MM`, local time.
    pub stamp: String,
    /// The line after the stamp, as line mode shows it, in styled runs.
    pub body: Vec<Seg>,
    /// How it stands out.
    pub kind: LineKind,
}

impl ChatLine {
    /// The lines an update shows as (several for `/help`). `mention` comes from
    /// [`crate::client::ChatState::mentioned_in`].
    pub fn from_update(update: &Update, mention: bool) -> Vec<ChatLine> {
        let kind = match &update.kind {
            UpdateKind::Private { .. } => LineKind::Private,
            // The past is never mistaken for the present, even when it mentions us.
            UpdateKind::History { .. } => LineKind::History,
            _ if mention => LineKind::Mention,
            _ => LineKind::Normal,
        };
        let stamp = display::hhmm(update.at);
        display::render_body(&update.kind, true)
            .iter()
            .map(|body| ChatLine {
                stamp: stamp.clone(),
                body: parse_sgr(body),
                kind,
            })
            .collect()
    }

    /// A line made here rather than by the session (the key list under `/help`), drawn like
    /// the session's `-!-` information lines.
    pub fn info(at: u64, text: &str) -> ChatLine {
        let line = display::render_body(
            &UpdateKind::Notice {
                text: text.to_owned(),
            },
            true,
        );
        ChatLine {
            stamp: display::hhmm(at),
            body: parse_sgr(&line[0]),
            kind: LineKind::Normal,
        }
    }

    /// A warning pinned above the messages (see [`crate::client::tui::App::pin_warning`]):
    /// `! text`, styled by the drawing as a whole.
    pub fn pinned(text: &str) -> ChatLine {
        ChatLine {
            stamp: "!".to_owned(),
            body: vec![Seg {
                text: display::clean(text, 2000),
                style: Style::new(),
            }],
            kind: LineKind::Normal,
        }
    }

    /// The line as plain text, `HH:MM body`, exactly as line mode prints it without colour.
    pub fn text(&self) -> String {
        let mut text = format!("{} ", self.stamp);
        for seg in &self.body {
            text.push_str(&seg.text);
        }
        text
    }

    /// The stamp and body as styled runs, emphasis included, before wrapping.
    fn segs(&self) -> Vec<Seg> {
        let (stamp_style, body_extra) = match self.kind {
            LineKind::Normal => (Style::new(), Style::new()),
            // Black on yellow, as line mode lights a mention's stamp.
            LineKind::Mention => (
                Style::new().fg(Color::Black).bg(Color::Yellow),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            LineKind::Private => (
                Style::new()
                    .fg(Color::Magenta)
                    .add_modifier(Modifier::REVERSED),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            LineKind::History => (
                Style::new().add_modifier(Modifier::DIM),
                Style::new().add_modifier(Modifier::DIM),
            ),
        };
        let mut segs = Vec::with_capacity(self.body.len() + 2);
        segs.push(Seg {
            text: self.stamp.clone(),
            style: stamp_style,
        });
        segs.push(Seg {
            text: " ".to_owned(),
            style: Style::new(),
        });
        segs.extend(self.body.iter().map(|seg| Seg {
            text: seg.text.clone(),
            style: seg.style.patch(body_extra),
        }));
        segs
    }
}

/// `style` without its colours, for `NO_COLOR`: bold, reverse and dim stay, because they are
/// not colour and a mention must still stand out; a background colour (a highlight) becomes
/// reverse video for the same reason.
pub fn plain_style(style: Style) -> Style {
    let plain = Style {
        fg: None,
        bg: None,
        ..style
    };
    if style.bg.is_some() {
        plain.add_modifier(Modifier::REVERSED)
    } else {
        plain
    }
}

/// The ratatui colour of an SGR foreground or background code (30–37, 40–47, 90–97), the
/// codes [`display`] uses. Ratatui's names map back to exactly these codes on the wire.
pub fn sgr_colour(code: u8) -> Option<Color> {
    let base = match code {
        30..=37 => code - 30,
        40..=47 => code - 40,
        90..=97 => code - 90 + 8,
        _ => return None,
    };
    Some(match base {
        0 => Color::Black,
        1 => Color::Red,
        2 => Color::Green,
        3 => Color::Yellow,
        4 => Color::Blue,
        5 => Color::Magenta,
        6 => Color::Cyan,
        7 => Color::Gray,
        8 => Color::DarkGray,
        9 => Color::LightRed,
        10 => Color::LightGreen,
        11 => Color::LightYellow,
        12 => Color::LightBlue,
        13 => Color::LightMagenta,
        14 => Color::LightCyan,
        _ => Color::White,
    })
}

/// Reads text with SGR sequences (`ESC [ 1;96 m ... ESC [ 0 m`) into styled runs. Other
/// escape sequences cannot occur (see the module documentation); an ESC that does not start
/// an SGR sequence is kept as the visible `^[`, never passed to the terminal.
pub fn parse_sgr(text: &str) -> Vec<Seg> {
    let mut segs: Vec<Seg> = Vec::new();
    let mut style = Style::new();
    let mut rest = text;
    let mut push = |text: &str, style: Style| {
        if text.is_empty() {
            return;
        }
        match segs.last_mut() {
            Some(last) if last.style == style => last.text.push_str(text),
            _ => segs.push(Seg {
                text: text.to_owned(),
                style,
            }),
        }
    };
    while let Some(at) = rest.find('\x1b') {
        push(&rest[..at], style);
        let after = &rest[at + 1..];
        let sequence = after
            .strip_prefix('[')
            .and_then(|params| params.find('m').map(|end| &params[..end]))
            .filter(|params| params.chars().all(|c| c.is_ascii_digit() || c == ';'));
        match sequence {
            Some(params) => {
                for code in params.split(';') {
                    style = apply_sgr(style, code.parse().unwrap_or(0));
                }
                // `[`, the parameters and `m`.
                rest = &after[params.len() + 2..];
            }
            None => {
                push("^[", style);
                rest = after;
            }
        }
    }
    push(rest, style);
    segs
}

fn apply_sgr(style: Style, code: u8) -> Style {
    match code {
        0 => Style::new(),
        1 => style.add_modifier(Modifier::BOLD),
        2 => style.add_modifier(Modifier::DIM),
        7 => style.add_modifier(Modifier::REVERSED),
        30..=37 | 90..=97 => match sgr_colour(code) {
            Some(colour) => style.fg(colour),
            None => style,
        },
        40..=47 => match sgr_colour(code) {
            Some(colour) => style.bg(colour),
            None => style,
        },
        _ => style,
    }
}

/// Continuation rows start under the text after the stamp (`HH:MM `), as in irssi, when the
/// pane is wide enough for that to help.
const CONTINUATION_INDENT: usize = 6;

/// The rows `line` takes in a pane `width` columns wide: words move whole to the next row
/// when they fit there, longer ones break; continuation rows are indented. `colour` false
/// drops the colours (`NO_COLOR`). Every row is at most `width` columns; a width of 0 gives
/// no rows.
pub fn wrap(line: &ChatLine, width: usize, colour: bool) -> Vec<Line<'static>> {
    if width == 0 {
        return Vec::new();
    }
    let indent = if width >= 3 * CONTINUATION_INDENT {
        CONTINUATION_INDENT
    } else {
        0
    };
    // Every character with its style and width; wide characters take two columns.
    let cells: Vec<(char, Style, usize)> = line
        .segs()
        .into_iter()
        .flat_map(|seg| {
            let style = if colour {
                seg.style
            } else {
                plain_style(seg.style)
            };
            seg.text
                .chars()
                .map(move |c| (c, style, c.width().unwrap_or(0)))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut rows = Vec::new();
    let mut start = 0;
    let mut first = true;
    while start < cells.len() {
        let room = if first { width } else { width - indent };
        // The longest run from `start` that fits, at least one character so a character
        // wider than the pane cannot stall the loop.
        let mut used = 0;
        let mut end = start;
        while end < cells.len() && (end == start || used + cells[end].2 <= room) {
            used += cells[end].2;
            end += 1;
        }
        let mut next = end;
        if end < cells.len() {
            // Break at a space: the one right after the row, or the last one in it past its
            // start. The space itself is not carried to the next row.
            if cells[end].0 == ' ' {
                next = end + 1;
            } else if let Some(space) = (start + 1..end).rev().find(|&i| cells[i].0 == ' ') {
                end = space;
                next = space + 1;
            }
        }
        let mut spans: Vec<Span<'static>> = Vec::new();
        if !first && indent > 0 {
            spans.push(Span::raw(" ".repeat(indent)));
        }
        for &(c, style, _) in &cells[start..end] {
            match spans.last_mut() {
                Some(span) if span.style == style => span.content.to_mut().push(c),
                _ => spans.push(Span::styled(c.to_string(), style)),
            }
        }
        rows.push(Line::from(spans));
        start = next;
        first = false;
    }
    if rows.is_empty() {
        rows.push(Line::default());
    }
    rows
}

/// How many rows [`wrap`] gives, without building them.
pub fn row_count(line: &ChatLine, width: usize) -> usize {
    wrap(line, width, false).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: UpdateKind) -> ChatLine {
        let update = Update {
            at: 1_763_800_000_000,
            kind,
        };
        ChatLine::from_update(&update, false).remove(0)
    }

    fn said(from: &str, text: &str) -> UpdateKind {
        UpdateKind::Message {
            room: "#class".into(),
            from: from.into(),
            text: text.into(),
            own: false,
        }
    }

    fn row_text(row: &Line<'_>) -> String {
        row.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn history_lines_are_marked_as_history_even_when_they_mention_us() {
        let update = Update {
            at: 1_763_800_000_000,
            kind: UpdateKind::History {
                room: "#class".into(),
                from: "bob".into(),
                text: "hi alice".into(),
                action: false,
                own: false,
            },
        };
        let past = ChatLine::from_update(&update, true).remove(0);
        assert_eq!(past.kind, LineKind::History);
        let text: String = past.body.iter().map(|seg| seg.text.as_str()).collect();
        assert_eq!(text, "[history] <bob> hi alice");
        assert_eq!(line(said("bob", "hi alice")).kind, LineKind::Normal);
    }

    #[test]
    fn sgr_codes_become_styles_and_vanish_from_the_text() {
        let segs = parse_sgr("<\x1b[96malice\x1b[0m> hi");
        assert_eq!(
            segs,
            [
                Seg {
                    text: "<".into(),
                    style: Style::new()
                },
                Seg {
                    text: "alice".into(),
                    style: Style::new().fg(Color::LightCyan)
                },
                Seg {
                    text: "> hi".into(),
                    style: Style::new()
                },
            ]
        );
        let bold = parse_sgr("\x1b[1;36mme\x1b[0m");
        assert_eq!(
            bold[0].style,
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        );
        // Not SGR: shown, not obeyed.
        assert_eq!(parse_sgr("a\x1b]0;x")[0].text, "a^[]0;x");
        assert_eq!(parse_sgr("\x1b[2J")[0].text, "^[[2J");
    }

    #[test]
    fn lines_read_exactly_as_line_mode_prints_them() {
        let update = Update {
            at: 1_763_800_000_000,
            kind: said("bob", "hi \u{1b}[2J all"),
        };
        let ours = ChatLine::from_update(&update, false);
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].text(), display::render(&update, false));
        let help = ChatLine::from_update(
            &Update {
                at: 0,
                kind: UpdateKind::Help,
            },
            false,
        );
        assert_eq!(help.len(), crate::client::command::HELP.len() + 1);
    }

    #[test]
    fn private_and_mentions_stand_out() {
        let update = Update {
            at: 0,
            kind: UpdateKind::Private {
                from: "bob".into(),
                to: "alice".into(),
                text: "psst".into(),
                outgoing: false,
            },
        };
        assert_eq!(
            ChatLine::from_update(&update, false)[0].kind,
            LineKind::Private
        );
        let update = Update {
            at: 0,
            kind: said("bob", "alice: hi"),
        };
        let lit = ChatLine::from_update(&update, true).remove(0);
        assert_eq!(lit.kind, LineKind::Mention);
        let rows = wrap(&lit, 80, true);
        assert_eq!(rows[0].spans[0].style.bg, Some(Color::Yellow));
        // Without colour the emphasis is still there: the stamp in reverse video, the text
        // bold.
        let rows = wrap(&lit, 80, false);
        assert!(
            rows[0].spans[0]
                .style
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert!(
            rows[0]
                .spans
                .iter()
                .all(|s| s.style.fg.is_none() && s.style.bg.is_none())
        );
        assert!(
            rows[0]
                .spans
                .iter()
                .any(|s| s.style.add_modifier.contains(Modifier::BOLD))
        );
    }

    #[test]
    fn short_lines_take_one_row() {
        let l = line(said("bob", "hi"));
        let rows = wrap(&l, 80, true);
        assert_eq!(rows.len(), 1);
        assert_eq!(row_text(&rows[0]), l.text());
    }

    #[test]
    fn long_lines_wrap_at_spaces_with_an_indent() {
        let l = line(said(
            "bob",
            "one two three four five six seven eight nine ten",
        ));
        let rows = wrap(&l, 24, false);
        let texts: Vec<String> = rows.iter().map(row_text).collect();
        assert!(texts.len() > 1, "{texts:?}");
        for row in &texts {
            assert!(row.chars().count() <= 24, "{row:?}");
        }
        for row in &texts[1..] {
            assert!(
                row.starts_with("      ") && !row.starts_with("       "),
                "{row:?}"
            );
        }
        // Nothing is lost but the spaces the rows broke at.
        let joined: Vec<&str> = texts.iter().flat_map(|r| r.split_whitespace()).collect();
        let original: Vec<String> = l.text().split_whitespace().map(str::to_owned).collect();
        assert_eq!(joined, original);
    }

    #[test]
    fn words_longer_than_the_pane_break_anywhere() {
        let l = line(said("bob", &"x".repeat(50)));
        let rows = wrap(&l, 20, false);
        let total: usize = rows.iter().map(|r| row_text(r).matches('x').count()).sum();
        assert_eq!(total, 50);
        assert!(rows.iter().all(|r| r.width() <= 20));
        assert_eq!(row_count(&l, 20), rows.len());
    }

    #[test]
    fn wide_characters_count_two_columns() {
        let l = line(said("bob", &"漢".repeat(20)));
        for width in [7, 10, 19, 40] {
            let rows = wrap(&l, width, false);
            assert!(rows.iter().all(|r| r.width() <= width), "width {width}");
        }
        // A pane narrower than one wide character still ends.
        assert!(!wrap(&l, 1, false).is_empty());
        assert!(wrap(&l, 0, false).is_empty());
    }
}
