//! The full-screen client's driver against the real server in this process: key events go in
//! as a person would type them, the screen comes out of ratatui's test backend. Everything
//! but the terminal itself is the real thing: the session, the connection, the server.

mod common;

use std::time::{Duration, Instant};

use common::{STEP, TestServer, message_text};
use crossbeam_channel::Sender;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use fernchat::client::error::exit_code;
use fernchat::client::tui::{App, Driver, Finish, Target};
use fernchat::client::{KexSetup, ReconnectPolicy, ServerAddr, Timeouts, UpdateKind};
use fernchat::crypto::RoomKey;
use fernchat::protocol::{ClientEvent, ServerEvent};
use fernchat::server::{FloodLimits, HistoryConfig};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

struct Screen {
    driver: Driver<TestBackend>,
    keys: Sender<Event>,
    _interrupts: Sender<()>,
}

impl Screen {
    /// A 100x24 screen joining `server`.
    fn open(server: &TestServer, nick: Option<&str>, reconnect: ReconnectPolicy) -> Screen {
        Screen::open_at(server.addr.port(), server.key.clone(), nick, reconnect)
    }

    fn open_at(port: u16, key: RoomKey, nick: Option<&str>, reconnect: ReconnectPolicy) -> Screen {
        Screen::open_with(port, key, nick, reconnect, (100, 24), &[])
    }

    /// A `width`x`height` screen whose app starts with `warnings` pinned, as the binary pins
    /// a keyfile's warnings before joining.
    fn open_with(
        port: u16,
        key: RoomKey,
        nick: Option<&str>,
        reconnect: ReconnectPolicy,
        (width, height): (u16, u16),
        warnings: &[&str],
    ) -> Screen {
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let addr = ServerAddr::new("127.0.0.1", port);
        let mut app = App::new(
            &addr.to_string(),
            nick,
            Rect::new(0, 0, width, height),
            true,
        );
        for warning in warnings {
            app.pin_warning((*warning).to_owned());
        }
        let target = Target {
            addr,
            key,
            reconnect,
            timeouts: Timeouts::default(),
            kex: KexSetup::default(),
        };
        let (keys, events) = crossbeam_channel::unbounded();
        let (interrupts, interrupt_rx) = crossbeam_channel::unbounded();
        Screen {
            driver: Driver::new(terminal, app, target, events, interrupt_rx),
            keys,
            _interrupts: interrupts,
        }
    }

    fn rows(&self) -> Vec<String> {
        let buffer = self.driver.terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect()
            })
            .collect()
    }

    /// Turns the driver until the screen shows `needle` (bounded by the step timeout).
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            self.driver.draw().unwrap();
            if self.rows().iter().any(|row| row.contains(needle)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} never showed; the screen:\n{}",
                self.rows().join("\n")
            );
            if let Some(finish) = self.driver.turn(Duration::from_millis(100)).unwrap() {
                panic!("ended with {finish:?} waiting for {needle:?}");
            }
        }
    }

    /// Turns until the driver ends.
    fn finish(&mut self) -> Finish {
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            if let Some(finish) = self.driver.turn(Duration::from_millis(100)).unwrap() {
                return finish;
            }
        }
        panic!("did not end; the screen:\n{}", self.rows().join("\n"));
    }

    fn key(&self, code: KeyCode, modifiers: KeyModifiers) {
        self.keys
            .send(Event::Key(KeyEvent::new(code, modifiers)))
            .unwrap();
    }

    fn type_line(&self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c), KeyModifiers::NONE);
        }
        self.key(KeyCode::Enter, KeyModifiers::NONE);
    }

    /// Handles every event sent so far (events are handled one per turn, in order).
    fn settle(&mut self) {
        while !self.keys.is_empty() {
            assert!(self.driver.turn(STEP).unwrap().is_none());
        }
    }
}

#[test]
fn chatting_on_the_full_screen() {
    let server = TestServer::with_defaults();
    let mut screen = Screen::open(&server, Some("alice"), ReconnectPolicy::default());
    screen.wait_for("[alice] [#class] [connected] [1 online]");
    let mut bob = server.join("bob");
    screen.wait_for("--> bob joined");
    screen.wait_for("│bob");

    screen.type_line("hello bob");
    screen.wait_for("<alice> hello bob");
    let said = bob.recv_until(5, |e| matches!(e, ServerEvent::Message { .. }));
    assert_eq!(message_text(&said, "alice"), "hello bob");

    bob.say("alice: hi!");
    screen.wait_for("<bob> alice: hi!");
    bob.send(&ClientEvent::Msg {
        to: "alice".into(),
        text: "psst".into(),
    });
    screen.wait_for("*bob* psst");
    screen.type_line("/msg bob back at you");
    screen.wait_for("-> *bob* back at you");

    // History brings the last line back.
    screen.key(KeyCode::Up, KeyModifiers::NONE);
    screen.settle();
    assert!(screen.rows()[23].starts_with("[alice] /msg bob back at you"));
    screen.key(KeyCode::Char('u'), KeyModifiers::CONTROL);

    // A narrow terminal hides the nick list; the status line keeps the essentials.
    screen.driver.terminal.backend_mut().resize(40, 12);
    screen.keys.send(Event::Resize(40, 12)).unwrap();
    screen.settle();
    screen.driver.draw().unwrap();
    let rows = screen.rows();
    assert_eq!(rows.len(), 12);
    assert!(!rows.iter().any(|r| r.contains('│')), "{rows:#?}");
    assert!(rows[10].contains("[connected] [2 online]"), "{rows:#?}");

    // Ctrl-C leaves politely: bob sees us go, and the last line is the session's own.
    screen.key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let Finish::Left { last: Some(last) } = screen.finish() else {
        panic!("expected a clean leave");
    };
    assert_eq!(last.kind, UpdateKind::Quit { reason: None });
    bob.recv_until(
        5,
        |e| matches!(e, ServerEvent::Left { nick, .. } if nick == "alice"),
    );
}

#[test]
fn a_taken_nick_asks_for_another_on_the_screen() {
    let server = TestServer::with_defaults();
    let _alice = server.join("alice");
    let mut screen = Screen::open(&server, Some("alice"), ReconnectPolicy::default());
    screen.wait_for("the nick alice is taken");
    screen.wait_for("[choose a nick]");
    screen.type_line("alice2");
    screen.wait_for("[alice2] [#class] [connected] [2 online]");
    screen.type_line("/quit bye now");
    let Finish::Left { last: Some(last) } = screen.finish() else {
        panic!("expected a clean leave");
    };
    assert_eq!(
        last.kind,
        UpdateKind::Quit {
            reason: Some("bye now".into())
        }
    );
}

#[test]
fn a_lost_connection_waits_for_enter_and_ends_like_line_mode() {
    let mut server = TestServer::with_defaults();
    let mut screen = Screen::open(&server, Some("alice"), ReconnectPolicy::off());
    screen.wait_for("[connected]");
    server.shutdown();
    screen.wait_for("the chat has ended: press Enter to exit");
    screen.wait_for("[ended: press Enter]");
    screen.key(KeyCode::Enter, KeyModifiers::NONE);
    match screen.finish() {
        Finish::Failed(e) => {
            assert_eq!(e.exit_code(), exit_code::CONNECT);
            assert!(e.to_string().contains("reconnecting is turned off"), "{e}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn no_server_ends_at_once_with_line_modes_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut screen = Screen::open_at(
        port,
        RoomKey::generate(),
        Some("alice"),
        ReconnectPolicy::default(),
    );
    match screen.finish() {
        Finish::Failed(e) => {
            assert_eq!(e.exit_code(), exit_code::CONNECT);
            assert!(e.to_string().contains("no fernchat server"), "{e}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Issue 18: a startup warning (a keyfile others can read, with its fix) used to be the first
/// line of the pane, pushed off the top by the history replay at 100x30. Now it stays pinned
/// above the messages after a replay of 60 lines, until Esc dismisses it.
#[test]
fn a_startup_warning_stays_visible_after_the_history_replay_until_esc() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::quiet_config(RoomKey::generate());
    config.history = Some(HistoryConfig::at(dir.path().join("room.log")));
    config.flood = FloodLimits {
        burst: 1000,
        per_second: 1000.0,
        strikes: 10,
    };
    let server = TestServer::start(config);
    let mut bob = server.join("bob");
    for n in 0..60 {
        bob.say(&format!("old line {n}"));
    }
    // The server writes a message to the history before it sends it to anyone: once bob
    // has his last one back, all 60 are in the file.
    bob.recv_until(
        200,
        |e| matches!(e, ServerEvent::Message { text, .. } if text == "old line 59"),
    );

    let warning = "warning: keys/class.key can be read by other users of this computer \
                   (mode 644); fix it with: chmod 600 keys/class.key";
    let mut screen = Screen::open_with(
        server.addr.port(),
        server.key.clone(),
        Some("alice"),
        ReconnectPolicy::default(),
        (100, 30),
        &[warning],
    );
    screen.wait_for("[alice] [#class] [connected] [2 online]");
    screen.wait_for("old line 59");
    let rows = screen.rows();
    let shown = rows.join("\n");
    assert!(
        !shown.contains("old line 0 "),
        "the replay is longer than the screen: {shown}"
    );
    // The warning leads the message pane, right of the room list.
    assert!(
        rows[0].contains("│! warning: keys/class.key can be read by other users"),
        "{shown}"
    );
    assert!(shown.contains("chmod 600 keys/class.key"), "{shown}");
    assert!(shown.contains("[Esc: dismiss]"), "{shown}");

    // Chat goes on under it.
    screen.type_line("hello");
    screen.wait_for("<alice> hello");
    assert!(screen.rows()[0].contains("│! warning:"));

    screen.key(KeyCode::Esc, KeyModifiers::NONE);
    screen.settle();
    screen.driver.draw().unwrap();
    let shown = screen.rows().join("\n");
    assert!(!shown.contains("[Esc: dismiss]"), "{shown}");
    assert!(shown.contains("<alice> hello"), "{shown}");
}

/// Issue 18: the lag used to appear in the status line only after the first keepalive ping
/// (30 s); it is measured as soon as the client joins.
#[test]
fn the_lag_shows_in_the_status_line_right_after_joining() {
    let server = TestServer::with_defaults();
    let mut screen = Screen::open(&server, Some("alice"), ReconnectPolicy::default());
    screen.wait_for("[alice] [#class] [connected] [1 online] [lag ");
}

/// Issue 18: each reconnect used to replay the recent history again, so the pane showed what
/// alice had seen live once more after every restart. Now the full screen, back from two
/// restarts, shows each room line once, with the gaps marked, and so does its `/save`.
#[test]
fn back_from_two_restarts_the_pane_shows_each_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let room = dir.path().join("room.log");
    let mut server = common::history_server(&RoomKey::generate(), &room, 50, 0);
    let mut bob = server.join("bob");
    bob.say("before alice came");
    bob.recv();
    let mut screen = Screen::open_with(
        server.addr.port(),
        server.key.clone(),
        Some("alice"),
        ReconnectPolicy::default(),
        (100, 40),
        &[],
    );
    screen.wait_for("[history] <bob> before alice came");
    screen.type_line("seen live");
    screen.wait_for("<alice> seen live");
    for round in 1..=2 {
        drop(bob);
        let said = [format!("away {round}a"), format!("away {round}b")];
        let said: Vec<&str> = said.iter().map(String::as_str).collect();
        common::restart_after(&mut server, &room, 50, &said);
        screen.wait_for(&format!("[history] <bob> away {round}b"));
        bob = server.join("bob");
        screen.type_line(&format!("back {round}"));
        screen.wait_for(&format!("<alice> back {round}"));
    }
    let saved = dir.path().join("saved.txt");
    screen.type_line(&format!("/save {}", saved.display()));
    // Not "saved": the input line shows that while the command is typed.
    screen.wait_for("-!- saved ");
    let rows = screen.rows();
    let shown = rows.join("\n");
    assert_eq!(
        shown
            .matches("-- 2 messages while you were away --")
            .count(),
        2,
        "{shown}"
    );
    let saved = std::fs::read_to_string(&saved).unwrap();
    for line in [
        "[history] <bob> before alice came",
        "<alice> seen live",
        "[history] <bob> away 1a",
        "[history] <bob> away 1b",
        "<alice> back 1",
        "[history] <bob> away 2a",
        "[history] <bob> away 2b",
        "<alice> back 2",
    ] {
        let on_screen = rows.iter().filter(|r| r.contains(line)).count();
        assert_eq!(on_screen, 1, "{line:?} shown {on_screen} times:\n{shown}");
        let in_file = saved.lines().filter(|l| l.ends_with(line)).count();
        assert_eq!(in_file, 1, "{line:?} saved {in_file} times:\n{saved}");
    }
}

/// Issue 16: rooms on the full screen against the real server, at 80x24. `/join` opens the
/// room and shows it once the server lets us in; each room's lines stay in its buffer; a line
/// in a room not shown counts in the room list; Alt-1 and Alt-2 switch, and what is typed goes
/// to the room shown; `/part` closes it.
#[test]
fn rooms_on_the_full_screen() {
    let server = TestServer::with_defaults();
    let mut screen = Screen::open_with(
        server.addr.port(),
        server.key.clone(),
        Some("alice"),
        ReconnectPolicy::default(),
        (80, 24),
        &[],
    );
    screen.wait_for("[alice] [#class] [connected] [1 online]");
    screen.wait_for("1.#class");
    let mut bob = server.join("bob");
    bob.send(&ClientEvent::Join {
        room: "#lab1".into(),
        since: None,
        invite_only: false,
    });
    bob.recv_until(10, |e| matches!(e, ServerEvent::Entered { .. }));

    screen.type_line("/join #lab1");
    screen.wait_for("[alice] [#lab1] [connected]");
    screen.wait_for("2.#lab1");
    screen.wait_for("2 users");

    bob.send(&ClientEvent::Say {
        room: Some("#lab1".into()),
        text: "hi lab".into(),
    });
    screen.wait_for("<bob> hi lab");
    bob.say("hi class");
    screen.wait_for("1.#class  1│");
    assert!(
        !screen.rows().join("\n").contains("hi class"),
        "#class's line is not in #lab1's pane"
    );

    // Typed in #lab1, said in #lab1.
    screen.type_line("ready");
    screen.wait_for("<alice> ready");
    let said = bob.recv_until(
        10,
        |e| matches!(e, ServerEvent::Message { from, .. } if from == "alice"),
    );
    let ServerEvent::Message { room, text, .. } = said else {
        unreachable!()
    };
    assert_eq!((room.as_str(), text.as_str()), ("#lab1", "ready"));

    // Alt-1: #class, its line, its count cleared.
    screen.key(KeyCode::Char('1'), KeyModifiers::ALT);
    screen.wait_for("[alice] [#class] [connected]");
    screen.wait_for("<bob> hi class");
    let rows = screen.rows();
    assert!(rows[0].starts_with("1.#class   │"), "{rows:#?}");
    assert!(!rows.join("\n").contains("hi lab"), "{rows:#?}");

    // Back to #lab1 and out of it.
    screen.key(KeyCode::Char('2'), KeyModifiers::ALT);
    screen.wait_for("[alice] [#lab1] [connected]");
    screen.type_line("/part done");
    screen.wait_for("you left #lab1");
    screen.wait_for("[alice] [#class] [connected]");
    assert!(!screen.rows().join("\n").contains("2.#lab1"));
    screen.key(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(matches!(screen.finish(), Finish::Left { .. }));
}
