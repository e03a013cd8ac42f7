//! Rooms on the full screen (issue 16), at 80x24 in ratatui's `TestBackend`: the room list,
//! switching with Alt-N and Alt-Left/Right, unread counts and mention marks, the status line,
//! each room's messages, nick list and topic. Pure: the app is driven by updates and keys as
//! the session and the terminal would send them, with the state the session would publish.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};

use crate::client::command::Command;
use crate::client::state::ChatState;
use crate::client::tui::app::{App, Effect, Mode};
use crate::client::tui::draw::draw;
use crate::client::update::{Update, UpdateKind};
use crate::role::Role;

/// Alice at 80x24, in `#class` with bob (instructor) and carol.
fn app() -> App {
    let mut app = App::new(
        "127.0.0.1:7474",
        Some("alice"),
        Rect::new(0, 0, 80, 24),
        true,
    );
    app.mode = Mode::Chat;
    app.clock = "12:34".into();
    let mut state = ChatState::new("alice");
    let users = ["alice".to_owned(), "bob".to_owned(), "carol".to_owned()];
    state.welcomed("alice", &users, 2000, "fernchat");
    state.add_user("#class", "bob", Role::Instructor);
    let connected = UpdateKind::Connected {
        nick: "alice".into(),
        users: users.to_vec(),
        server: "fernchat".into(),
        target: "127.0.0.1:7474".into(),
        reconnected: false,
    };
    app.apply(&Update::now(connected), state);
    app
}

/// Applies `kind` with the state as it is, after `change` (what the session does to its state
/// before publishing the update).
fn apply(app: &mut App, kind: UpdateKind, change: impl FnOnce(&mut ChatState)) {
    let mut state = app.state.clone();
    change(&mut state);
    app.apply(&Update::now(kind), state);
}

/// The server says we are in `room` with `users` (`#lab1` with a topic set by bob), `by` a
/// staff member's move; `current` when the session makes it the current room (our `/join`, a
/// move), which it then says with `Switched`. A reconnect's re-join is not made current.
fn entered(app: &mut App, room: &str, users: &[&str], by: Option<&str>, current: bool) {
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    let topic = (room == "#lab1").then(|| "pendulum lab".to_owned());
    let kind = UpdateKind::Entered {
        room: room.into(),
        users: users.clone(),
        topic: topic.clone(),
        by: by.map(str::to_owned),
    };
    apply(app, kind, |state| {
        state.entered(room, &users, topic.map(|t| (t, "bob".to_owned())));
        if current {
            state.switch(room);
        }
    });
    if current {
        let switched = UpdateKind::Switched { room: room.into() };
        apply(app, switched, |_| {});
    }
}

/// The user types `/join room` and the server lets them in.
fn join(app: &mut App, room: &str, users: &[&str]) {
    let sent = type_line(app, &format!("/join {room}"));
    let asked = Command::Join {
        room: room.to_ascii_lowercase(),
        invite_only: false,
    };
    assert_eq!(sent, Some(Effect::Send(asked)));
    entered(app, &room.to_ascii_lowercase(), users, None, true);
}

/// The user switches with a key, and the session (which owns the current room) follows.
fn key_switch(app: &mut App, key: KeyEvent) -> Option<Effect> {
    let effect = app.key(key);
    if let Some(Effect::Send(Command::Switch(room))) = &effect {
        let switched = UpdateKind::Switched { room: room.clone() };
        let room = room.clone();
        apply(app, switched, |s| assert!(s.switch(&room)));
    }
    effect
}

fn said(app: &mut App, room: &str, from: &str, text: &str) {
    let kind = UpdateKind::Message {
        room: room.into(),
        from: from.into(),
        text: text.into(),
        own: from == "alice",
    };
    apply(app, kind, |_| {});
}

fn type_line(app: &mut App, text: &str) -> Option<Effect> {
    for c in text.chars() {
        app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

fn alt(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::ALT)
}

fn switch(room: &str) -> Option<Effect> {
    Some(Effect::Send(Command::Switch(room.into())))
}

fn render(app: &App) -> Buffer {
    let (w, h) = (app.screen.width, app.screen.height);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    terminal.backend().buffer().clone()
}

fn rows(buffer: &Buffer) -> Vec<String> {
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect()
        })
        .collect()
}

fn screen(app: &App) -> Vec<String> {
    rows(&render(app))
}

/// The room list's rows (left of its border), trimmed.
fn room_list(app: &App) -> Vec<String> {
    let width = usize::from(app.areas().rooms.expect("the room list shows").width) - 1;
    screen(app)[..usize::from(app.areas().rooms.unwrap().height)]
        .iter()
        .map(|row| {
            row.chars()
                .take(width)
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// The nick list's rows (right of its border), trimmed.
fn nick_list(app: &App) -> Vec<String> {
    let area = app.areas().nicks.expect("the nick list shows");
    screen(app)
        .iter()
        .skip(usize::from(area.y))
        .take(usize::from(area.height))
        .map(|row| {
            let cells: String = row.chars().skip(usize::from(area.x) + 1).collect();
            cells.trim_end().to_owned()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// The message pane's text (between the lists), rows joined.
fn pane(app: &App) -> String {
    let area = app.areas().messages;
    screen(app)
        .iter()
        .take(usize::from(area.y + area.height))
        .map(|row| {
            row.chars()
                .skip(usize::from(area.x))
                .take(usize::from(area.width))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn status(app: &App) -> String {
    screen(app)[22].clone()
}

/// Alice in `#class`, `#lab1` (with dave) and `#lab2` (with erin), each joined with `/join`,
/// then back in `#class`.
fn three_rooms() -> App {
    let mut app = app();
    join(&mut app, "#lab1", &["alice", "dave"]);
    join(&mut app, "#lab2", &["alice", "erin", "frank"]);
    assert_eq!(
        key_switch(&mut app, alt(KeyCode::Char('1'))),
        switch("#class")
    );
    app
}

#[test]
fn one_room_looks_like_before_plus_the_room_list() {
    let app = app();
    assert_eq!(room_list(&app), ["1.#class"]);
    assert_eq!(nick_list(&app), ["3 users", "alice", "@bob", "carol"]);
    assert!(
        status(&app).starts_with("[12:34] [alice] [#class] [connected] [3 online]"),
        "{:?}",
        status(&app)
    );
    assert!(pane(&app).contains("connected to 127.0.0.1:7474"));
    // The current room is lit, as weechat lights its buffer.
    assert_eq!(render(&app)[(2, 0)].bg, Color::Blue);
}

#[test]
fn several_rooms_are_listed_in_the_order_entered_class_first() {
    let mut app = three_rooms();
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1", "3.#lab2"]);
    assert_eq!(app.areas().rooms.unwrap().width, 12, "narrow at 80 columns");
    // The messages keep most of the screen, with both lists shown.
    assert!(app.areas().messages.width >= 50);
    // A long name is cut, never widening the list.
    entered(
        &mut app,
        "#a-very-long-room-name-24",
        &["alice"],
        None,
        false,
    );
    let list = room_list(&app);
    assert_eq!(list[3], "4.#a-very-lo…", "{list:?}");
    assert_eq!(app.areas().rooms.unwrap().width, 14);
    assert_eq!(app.view().room, "#class", "a room re-joined is not shown");
}

#[test]
fn alt_numbers_and_alt_arrows_switch_rooms_and_the_status_line_names_it() {
    let mut app = three_rooms();
    assert!(status(&app).contains("[alice] [#class] [connected]"));
    assert_eq!(app.key(alt(KeyCode::Char('2'))), switch("#lab1"));
    assert_eq!(app.view().room, "#lab1");
    assert!(
        status(&app).contains("[alice] [#lab1] [connected]"),
        "{:?}",
        status(&app)
    );
    assert_eq!(app.key(alt(KeyCode::Right)), switch("#lab2"));
    assert!(status(&app).contains("[#lab2]"));
    // Past the last: the first, and back.
    assert_eq!(app.key(alt(KeyCode::Right)), switch("#class"));
    assert_eq!(app.key(alt(KeyCode::Left)), switch("#lab2"));
    assert_eq!(app.key(alt(KeyCode::Left)), switch("#lab1"));
    // No room 9; the room shown already: nothing to do.
    assert_eq!(app.key(alt(KeyCode::Char('9'))), None);
    assert_eq!(app.key(alt(KeyCode::Char('2'))), None);
    assert_eq!(app.view().room, "#lab1");
    // None of it typed anything, and plain arrows still move the cursor.
    assert!(app.input.is_empty());
    app.key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
    app.key(KeyEvent::new(KeyCode::Left, KeyModifiers::NONE));
    assert_eq!(app.view().room, "#lab1");
    assert_eq!(app.input.cursor_column(), 0);
}

#[test]
fn unread_counts_and_the_mention_mark_appear_and_clear() {
    let mut app = three_rooms();
    said(&mut app, "#lab1", "dave", "who has the stopwatch?");
    said(&mut app, "#lab1", "dave", "found it");
    // Joins and leaves are not conversation: they do not count.
    let joined = UpdateKind::Joined {
        room: "#lab1".into(),
        nick: "gus".into(),
    };
    apply(&mut app, joined, |s| {
        s.add_user("#lab1", "gus", Role::Student)
    });
    said(&mut app, "#lab2", "erin", "hi all");
    // Lines in the room shown are read as they come.
    said(&mut app, "#class", "bob", "quiz at noon");
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1   2", "3.#lab2   1"]);

    said(&mut app, "#lab2", "frank", "alice: can you check this?");
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1   2", "3.#lab2  2!"]);
    // The mark is in the mention colour, as a mention's stamp in the pane.
    let buffer = render(&app);
    assert_eq!(buffer[(10, 2)].symbol(), "!");
    assert_eq!(buffer[(10, 2)].bg, Color::Yellow);
    assert_eq!(
        buffer[(10, 1)].fg,
        Color::LightYellow,
        "the count stands out"
    );

    // Shown (Alt-A goes to the mention first): the count and the mark clear, and stay
    // clear when left again.
    assert_eq!(app.key(alt(KeyCode::Char('a'))), switch("#lab2"));
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1   2", "3.#lab2"]);
    assert!(pane(&app).contains("<frank> alice: can you check this?"));
    assert_eq!(app.key(alt(KeyCode::Char('a'))), switch("#lab1"));
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1", "3.#lab2"]);
    assert_eq!(app.key(alt(KeyCode::Char('a'))), None, "all read");
    // Many: the count is bounded in width.
    for n in 0..150 {
        said(&mut app, "#lab2", "erin", &format!("line {n}"));
    }
    assert_eq!(room_list(&app)[2], "3.#lab2 99+");
}

#[test]
fn messages_of_one_room_are_not_shown_in_another() {
    let mut app = three_rooms();
    said(&mut app, "#lab1", "dave", "lab1 only");
    said(&mut app, "#class", "bob", "class only");
    let action = UpdateKind::Action {
        room: "#lab2".into(),
        from: "erin".into(),
        text: "waves from lab2".into(),
        own: false,
    };
    apply(&mut app, action, |_| {});
    let class = pane(&app);
    assert!(class.contains("<bob> class only"), "{class}");
    assert!(!class.contains("lab1 only") && !class.contains("waves from lab2"));
    key_switch(&mut app, alt(KeyCode::Char('2')));
    let lab1 = pane(&app);
    assert!(lab1.contains("<dave> lab1 only"), "{lab1}");
    assert!(!lab1.contains("class only") && !lab1.contains("waves"));
    key_switch(&mut app, alt(KeyCode::Char('3')));
    assert!(pane(&app).contains("* erin waves from lab2"));
    assert!(!pane(&app).contains("only"));
}

#[test]
fn each_room_keeps_its_own_scroll_position() {
    let mut app = three_rooms();
    for n in 0..60 {
        said(&mut app, "#class", "bob", &format!("class line {n}"));
    }
    app.key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE));
    let scrolled = app.view().scroll;
    assert!(scrolled > 0);
    key_switch(&mut app, alt(KeyCode::Char('2')));
    assert_eq!(app.view().scroll, 0);
    assert_eq!(app.more_marker(), None);
    key_switch(&mut app, alt(KeyCode::Char('1')));
    assert_eq!(app.view().scroll, scrolled);
    assert!(pane(&app).contains("-- more below"));
}

#[test]
fn the_nick_list_and_the_topic_follow_the_room_shown() {
    let mut app = three_rooms();
    let topic = UpdateKind::Topic {
        room: "#class".into(),
        text: "exam on friday".into(),
        by: "bob".into(),
    };
    apply(&mut app, topic, |s| {
        s.set_topic("#class", "exam on friday", "bob")
    });
    assert_eq!(nick_list(&app), ["3 users", "alice", "@bob", "carol"]);
    assert!(
        pane(&app).starts_with(" exam on friday (set by bob)"),
        "{}",
        pane(&app)
    );

    key_switch(&mut app, alt(KeyCode::Char('2')));
    assert_eq!(nick_list(&app), ["2 users", "alice", "dave"]);
    assert!(
        pane(&app).starts_with(" pendulum lab (set by bob)"),
        "{}",
        pane(&app)
    );
    // bob is staff everywhere, marked wherever he is listed.
    let joined = UpdateKind::Joined {
        room: "#lab1".into(),
        nick: "bob".into(),
    };
    apply(&mut app, joined, |s| {
        s.add_user("#lab1", "bob", Role::Instructor)
    });
    assert_eq!(nick_list(&app), ["3 users", "alice", "@bob", "dave"]);

    key_switch(&mut app, alt(KeyCode::Char('3')));
    assert_eq!(nick_list(&app), ["3 users", "alice", "erin", "frank"]);
    assert!(!pane(&app).contains("(set by"), "no topic in #lab2");
    // Everyone online is still counted in the status line.
    assert!(status(&app).contains("[3 online]"), "{:?}", status(&app));
    // Tab completes the nicks of the room shown.
    app.key(KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE));
    app.key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.input.text(), "erin: ");
}

#[test]
fn join_shows_the_room_once_the_session_switches_and_a_rejoin_does_not() {
    let mut app = app();
    let sent = type_line(&mut app, "/join #Lab1");
    assert_eq!(
        sent,
        Some(Effect::Send(Command::Join {
            room: "#lab1".into(),
            invite_only: false
        }))
    );
    assert_eq!(
        app.view().room,
        "#class",
        "not before the server lets us in"
    );
    // In: the room's buffer opens with its line, and shows once the session says it is
    // the current room.
    let kind = UpdateKind::Entered {
        room: "#lab1".into(),
        users: vec!["alice".into()],
        topic: None,
        by: None,
    };
    apply(&mut app, kind.clone(), |s| {
        s.entered("#lab1", &["alice".into()], None);
        s.switch("#lab1");
    });
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1"]);
    assert_eq!(app.view().room, "#class");
    let switched = UpdateKind::Switched {
        room: "#lab1".into(),
    };
    apply(&mut app, switched, |_| {});
    assert_eq!(app.view().room, "#lab1");
    assert!(status(&app).contains("[#lab1]"));
    assert!(pane(&app).contains("#lab1"), "its line is in its buffer");
    assert!(!pane(&app).contains("now talking"), "the switch is no line");
    // A reconnect joins again: the screen stays where it is.
    key_switch(&mut app, alt(KeyCode::Char('1')));
    apply(&mut app, kind, |_| {});
    assert_eq!(app.view().room, "#class");
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1"]);
    // Moved by staff: shown.
    entered(&mut app, "#lab3", &["alice", "bob"], Some("bob"), true);
    assert!(status(&app).contains("[#lab3]"));
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1", "3.#lab3"]);
    // `/switch` shows a room at once and tells the session.
    assert_eq!(type_line(&mut app, "/switch #lab1"), switch("#lab1"));
    assert_eq!(app.view().room, "#lab1");
}

#[test]
fn part_closes_the_room_and_shows_the_sessions_current_one() {
    let mut app = three_rooms();
    key_switch(&mut app, alt(KeyCode::Char('3')));
    let sent = type_line(&mut app, "/part bye");
    assert_eq!(
        sent,
        Some(Effect::Send(Command::Part {
            room: None,
            reason: Some("bye".into())
        }))
    );
    // The session makes its first room current (and says so next); the screen shows it,
    // with the line saying we left.
    let parted = UpdateKind::Parted {
        room: "#lab2".into(),
        reason: "bye".into(),
    };
    apply(&mut app, parted, |s| {
        s.parted("#lab2");
    });
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1"]);
    assert_eq!(app.view().room, "#class");
    assert!(
        pane(&app).contains("you left #lab2 (bye)"),
        "{}",
        pane(&app)
    );
    let switched = UpdateKind::Switched {
        room: "#class".into(),
    };
    apply(&mut app, switched, |_| {});
    assert_eq!(app.view().room, "#class");
    // A room not shown closes without moving the screen.
    key_switch(&mut app, alt(KeyCode::Char('2')));
    let parted = UpdateKind::Parted {
        room: "#class".into(),
        reason: String::new(),
    };
    apply(&mut app, parted, |s| {
        s.parted("#class");
    });
    assert_eq!(room_list(&app), ["1.#lab1"]);
    assert!(status(&app).contains("[#lab1]"));
    // A late line for a room we left shows where we are, and opens nothing.
    said(&mut app, "#lab2", "erin", "too late");
    assert_eq!(room_list(&app), ["1.#lab1"]);
    assert!(pane(&app).contains("too late"));
}

#[test]
fn private_messages_notices_and_answers_show_in_the_room_shown() {
    let mut app = three_rooms();
    key_switch(&mut app, alt(KeyCode::Char('2')));
    let private = UpdateKind::Private {
        from: "carol".into(),
        to: "alice".into(),
        text: "psst".into(),
        outgoing: false,
    };
    apply(&mut app, private, |_| {});
    let notice = UpdateKind::Notice {
        text: "server restarts at 18:00".into(),
    };
    apply(&mut app, notice, |_| {});
    // The answer to `/who #lab2`, asked here, is shown here.
    let who = UpdateKind::Users {
        room: "#lab2".into(),
        users: vec!["alice".into(), "erin".into(), "frank".into()],
    };
    apply(&mut app, who, |_| {});
    assert!(pane(&app).contains("*carol* psst"));
    assert!(pane(&app).contains("server restarts at 18:00"));
    assert!(pane(&app).contains("erin"), "{}", pane(&app));
    assert_eq!(room_list(&app), ["1.#class", "2.#lab1", "3.#lab2"]);
    key_switch(&mut app, alt(KeyCode::Char('1')));
    assert!(!pane(&app).contains("psst"));
}

#[test]
fn typing_goes_to_the_room_shown() {
    let mut app = three_rooms();
    // Alt-2 tells the session first; what is typed next follows on the same channel.
    assert_eq!(app.key(alt(KeyCode::Char('2'))), switch("#lab1"));
    assert_eq!(
        type_line(&mut app, "ready"),
        Some(Effect::Send(Command::Say("ready".into())))
    );
    // `#room text` speaks in another room without leaving this one.
    assert_eq!(
        type_line(&mut app, "#lab2 coming"),
        Some(Effect::Send(Command::SayIn {
            room: "#lab2".into(),
            text: "coming".into()
        }))
    );
    assert_eq!(app.view().room, "#lab1");
}

#[test]
fn narrow_screens_hide_the_room_list_and_f3_toggles_it() {
    let mut app = three_rooms();
    app.resize(40, 12);
    assert_eq!(app.areas().rooms, None);
    assert_eq!(app.key(alt(KeyCode::Char('2'))), switch("#lab1"));
    assert!(
        screen(&app)[10].contains("[#lab1]"),
        "{:?}",
        screen(&app)[10]
    );
    // Without the list, the status line tells which rooms have news, as weechat's hotlist.
    said(&mut app, "#lab2", "erin", "alice: here?");
    said(&mut app, "#class", "bob", "break");
    let status = &screen(&app)[10];
    assert!(status.contains("[alice] [#lab1] [act: 1,3!]"), "{status:?}");
    app.key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE));
    assert_eq!(room_list(&app), ["1.#class  1", "2.#lab1", "3.#lab2  1!"]);
    app.resize(80, 24);
    app.key(KeyEvent::new(KeyCode::F(3), KeyModifiers::NONE));
    assert_eq!(
        app.areas().rooms,
        None,
        "hidden by choice at 80 columns too"
    );
    // Tiny screens with rooms do not break.
    for (w, h) in [(1, 1), (10, 3), (20, 4), (30, 30)] {
        app.room_list_choice = Some(true);
        app.resize(w, h);
        render(&app);
    }
}

#[test]
fn a_click_in_the_room_list_shows_that_room() {
    let mut app = three_rooms();
    let click = |column, row| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    assert_eq!(app.mouse(click(3, 2)), switch("#lab2"));
    assert_eq!(app.mouse(click(3, 2)), None, "shown already");
    assert_eq!(app.mouse(click(3, 10)), None, "below the last room");
    assert_eq!(app.mouse(click(40, 0)), None, "in the messages");
    assert_eq!(app.view().room, "#lab2");
    assert_eq!(app.mouse(click(0, 0)), switch("#class"));
}

#[test]
fn a_server_opening_too_many_rooms_cannot_grow_the_list_without_bound() {
    let mut app = app();
    for n in 0..100 {
        entered(&mut app, &format!("#r{n:02}"), &["alice"], None, false);
    }
    assert_eq!(app.buffers.len(), crate::client::tui::buffers::MAX_BUFFERS);
    // The room shown stays in view in a list longer than the screen.
    let last = app.buffers.len() - 1;
    app.show(last);
    let list = room_list(&app);
    assert_eq!(list.len(), 22);
    assert!(list.last().unwrap().starts_with("64.#r62"), "{list:?}");
}

#[test]
fn without_colour_the_room_shown_and_the_mention_mark_still_stand_out() {
    let mut app = three_rooms();
    app.colour = false;
    said(&mut app, "#lab1", "dave", "alice: psst");
    let buffer = render(&app);
    for cell in buffer.content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset));
    }
    let reversed = |x, y| buffer[(x, y)].modifier.contains(Modifier::REVERSED);
    assert!(reversed(2, 0), "the room shown");
    assert!(!reversed(2, 1));
    assert_eq!(buffer[(10, 1)].symbol(), "!");
    assert!(reversed(10, 1), "the mention mark");
}

#[test]
fn alt_0_shows_the_tenth_room() {
    let mut app = app();
    for n in 2..=11 {
        entered(&mut app, &format!("#g{n:02}"), &["alice"], None, false);
    }
    assert_eq!(app.key(alt(KeyCode::Char('0'))), switch("#g10"));
    assert_eq!(app.key(alt(KeyCode::Char('9'))), switch("#g09"));
    let list = room_list(&app);
    assert_eq!(list.len(), 11);
    assert_eq!(list[9], "10.#g10");
    assert_eq!(
        list[10], "11.#g11",
        "listed, reached with Alt-Right or a click"
    );
}
