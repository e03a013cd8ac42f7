//! Issue 15, the instructor runs the room: every staff command through the real server, with a
//! staff client (a `--staff-key` holder, so an instructor) and student clients (the class key).
//! Moderation's clock is injected (`ServerConfig::clock`), so mute expiry, kicks and slow mode
//! are tested without waiting; every read is bounded by the step timeout.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::process::{ClientProcess, ServerProcess};
use common::{Got, Peer, TestServer, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent, unix_millis};
use fernchat::role::Role;
use fernchat::server::moderation::{Clock, KICK_SECS};
use fernchat::server::{FloodLimits, HistoryConfig};

/// A server with one staff key and a clock the test moves.
struct Room {
    server: TestServer,
    staff: RoomKey,
    clock: Arc<AtomicU64>,
}

impl Room {
    fn start(state: Option<PathBuf>) -> Room {
        Room::start_with(state, RoomKey::generate(), RoomKey::generate())
    }

    fn start_with(state: Option<PathBuf>, class: RoomKey, staff: RoomKey) -> Room {
        let clock = Arc::new(AtomicU64::new(unix_millis()));
        let mut config = quiet_config(class);
        // Tests send bursts of staff events; the rate limit is another test's business.
        config.flood = FloodLimits {
            burst: 1000,
            per_second: 1000.0,
            ..FloodLimits::default()
        };
        config.staff_keys = vec![staff.clone()];
        config.moderation_state = state;
        let now = Arc::clone(&clock);
        config.clock = Clock::from_fn(move || now.load(Ordering::SeqCst));
        Room {
            server: TestServer::start(config),
            staff,
            clock,
        }
    }

    /// A room with an instructor (prof) and two students (ann, bob), in that order.
    fn class() -> (Room, Peer, Peer, Peer) {
        let room = Room::start(None);
        let (prof, _) = room.staff_join("prof");
        let ann = room.student("ann");
        let bob = room.student("bob");
        (room, prof, ann, bob)
    }

    /// Moves moderation's clock forward.
    fn advance_secs(&self, secs: u64) {
        self.clock.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    /// Joins with the staff key; returns the peer and the role its welcome gave.
    fn staff_join(&self, nick: &str) -> (Peer, Role) {
        let mut peer = Peer::connect(self.server.addr, self.staff.clone());
        peer.hello(nick);
        match peer.recv() {
            ServerEvent::Welcome { role, .. } => (peer, role),
            other => panic!("{nick}: expected welcome, got {other:?}"),
        }
    }

    /// Joins with the class key.
    fn student(&self, nick: &str) -> Peer {
        self.server.join(nick)
    }
}

/// A `server` binary with a class key and a staff key (written by [`keyfiles`]).
const STAFF_SERVER: [&str; 8] = [
    "--port",
    "0",
    "--key",
    "class.key",
    "--staff-key",
    "staff.key",
    "--history",
    "history/room.log",
];

/// A folder with `class.key` and `staff.key`, and the two keys.
fn keyfiles() -> (tempfile::TempDir, RoomKey, RoomKey) {
    let dir = tempfile::tempdir().unwrap();
    let (class, staff) = (RoomKey::generate(), RoomKey::generate());
    keyfile::write_plain(&dir.path().join("class.key"), &class, Overwrite::Never).unwrap();
    keyfile::write_plain(&dir.path().join("staff.key"), &staff, Overwrite::Never).unwrap();
    (dir, class, staff)
}

/// The next error, skipping other events (joins, lines) on the way.
fn next_error(peer: &mut Peer) -> (ErrorCode, String) {
    match peer.recv_until(30, |e| matches!(e, ServerEvent::Error { .. })) {
        ServerEvent::Error { code, message, .. } => (code, message),
        _ => unreachable!(),
    }
}

/// The next `moderation` line's text.
fn next_moderation(peer: &mut Peer) -> String {
    match peer.recv_until(30, |e| matches!(e, ServerEvent::Moderation { .. })) {
        ServerEvent::Moderation { text, .. } => text,
        _ => unreachable!(),
    }
}

/// The text of the next room message, skipping other events.
fn next_message(peer: &mut Peer) -> String {
    match peer.recv_until(30, |e| matches!(e, ServerEvent::Message { .. })) {
        ServerEvent::Message { text, .. } => text,
        _ => unreachable!(),
    }
}

/// Every staff event, as a hostile student would send it.
fn staff_events(target: &str) -> Vec<ClientEvent> {
    vec![
        ClientEvent::Announce {
            room: None,
            all: false,
            text: "x".into(),
        },
        ClientEvent::Topic {
            room: None,
            text: "x".into(),
        },
        ClientEvent::Mute {
            nick: target.into(),
            minutes: None,
            reason: None,
        },
        ClientEvent::Unmute {
            nick: target.into(),
        },
        ClientEvent::Kick {
            nick: target.into(),
            reason: None,
        },
        ClientEvent::Ban {
            nick: target.into(),
            minutes: None,
            reason: None,
        },
        ClientEvent::Unban {
            nick: target.into(),
        },
        ClientEvent::Quiet {
            room: None,
            on: true,
        },
        ClientEvent::Slow {
            room: None,
            seconds: 30,
        },
        ClientEvent::Whois {
            nick: target.into(),
        },
        ClientEvent::Reload,
        // Rooms (issue 16): putting people into rooms is staff's too.
        ClientEvent::Move {
            nick: target.into(),
            room: "#lab1".into(),
        },
        ClientEvent::Groups {
            groups: vec![fernchat::protocol::event::Group {
                room: "#lab1".into(),
                members: vec![target.into()],
            }],
        },
    ]
}

#[test]
fn a_staff_key_makes_an_instructor_and_everyone_sees_roles() {
    let room = Room::start(None);
    let (mut prof, role) = room.staff_join("prof");
    assert_eq!(role, Role::Instructor);
    let mut ann = room.server.peer();
    ann.hello("ann");
    match ann.recv() {
        ServerEvent::Welcome {
            role, roles, users, ..
        } => {
            assert_eq!(role, Role::Student);
            // Old clients read `users` as before; `roles` names the staff.
            assert_eq!(users, ["ann", "prof"]);
            assert_eq!(roles.get("prof"), Some(&Role::Instructor));
            assert_eq!(roles.get("ann"), None);
        }
        other => panic!("expected welcome, got {other:?}"),
    }
    match prof.recv_until(10, |e| matches!(e, ServerEvent::Joined { .. })) {
        ServerEvent::Joined { nick, role, .. } => {
            assert_eq!((nick.as_str(), role), ("ann", Role::Student));
        }
        _ => unreachable!(),
    }
    ann.send(&ClientEvent::Who { room: None });
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users { roles, .. } => {
            assert_eq!(roles.get("prof"), Some(&Role::Instructor));
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_hostile_student_sending_staff_events_with_the_class_key_is_refused() {
    let room = Room::start(None);
    let (mut prof, _) = room.staff_join("prof");
    let mut bob = room.student("bob");
    let mut mallory = room.student("mallory");
    // Straight onto the wire, as a hand-written client would: no client-side check involved.
    for event in staff_events("bob") {
        mallory.send(&event);
        let (code, message) = next_error(&mut mallory);
        assert_eq!(code, ErrorCode::NotPermitted, "{event:?}: {message}");
        assert!(message.contains("is for staff"), "{message}");
    }
    // Also aimed at the instructor.
    for event in staff_events("prof") {
        mallory.send(&event);
        assert_eq!(next_error(&mut mallory).0, ErrorCode::NotPermitted);
    }
    // Nothing happened: no moderation line, no announcement, bob is connected and may speak.
    bob.say("still here");
    for peer in [&mut prof, &mut mallory] {
        match peer.recv_until(10, |e| {
            matches!(
                e,
                ServerEvent::Message { .. }
                    | ServerEvent::Moderation { .. }
                    | ServerEvent::Announcement { .. }
                    | ServerEvent::Topic { .. }
            )
        }) {
            ServerEvent::Message { text, .. } => assert_eq!(text, "still here"),
            other => panic!("a student's staff event had an effect: {other:?}"),
        }
    }
}

#[test]
fn an_instructor_cannot_moderate_another_instructor() {
    let room = Room::start(None);
    let (mut prof, _) = room.staff_join("prof");
    let (_other, _) = room.staff_join("dean");
    for event in [
        ClientEvent::Mute {
            nick: "dean".into(),
            minutes: None,
            reason: None,
        },
        ClientEvent::Kick {
            nick: "dean".into(),
            reason: None,
        },
        ClientEvent::Ban {
            nick: "DEAN".into(),
            minutes: Some(5),
            reason: None,
        },
        // Nor themselves.
        ClientEvent::Mute {
            nick: "prof".into(),
            minutes: None,
            reason: None,
        },
    ] {
        prof.send(&event);
        let (code, message) = next_error(&mut prof);
        assert_eq!(code, ErrorCode::NotPermitted);
        assert!(
            message.contains("an instructor cannot"),
            "{event:?}: {message}"
        );
    }
}

#[test]
fn announcements_and_the_topic_reach_everyone_and_each_joiner() {
    let (room, mut prof, mut ann, mut bob) = Room::class();
    prof.send(&ClientEvent::Topic {
        room: None,
        text: "Exam until 11:00".into(),
    });
    prof.send(&ClientEvent::Announce {
        room: None,
        all: false,
        text: "The exam starts now".into(),
    });
    for peer in [&mut prof, &mut ann, &mut bob] {
        match peer.recv_until(10, |e| matches!(e, ServerEvent::Topic { .. })) {
            ServerEvent::Topic { text, by, .. } => {
                assert_eq!((text.as_str(), by.as_str()), ("Exam until 11:00", "prof"));
            }
            _ => unreachable!(),
        }
        match peer.recv_until(10, |e| matches!(e, ServerEvent::Announcement { .. })) {
            ServerEvent::Announcement { from, text, .. } => {
                assert_eq!(
                    (from.as_str(), text.as_str()),
                    ("prof", "The exam starts now")
                );
            }
            _ => unreachable!(),
        }
    }
    // A latecomer gets both right after its welcome.
    let mut carol = room.student("carol");
    assert!(matches!(carol.recv(), ServerEvent::Topic { text, .. } if text == "Exam until 11:00"));
    assert!(
        matches!(carol.recv(), ServerEvent::Announcement { text, .. } if text == "The exam starts now")
    );
    // An announcement with control characters is refused like any message.
    prof.send(&ClientEvent::Announce {
        room: None,
        all: false,
        text: "\u{1b}[2Jgone".into(),
    });
    assert_eq!(next_error(&mut prof).0, ErrorCode::BadText);
}

#[test]
fn a_muted_student_is_refused_and_told_until_it_expires_or_is_lifted() {
    let (room, mut prof, mut ann, mut bob) = Room::class();
    prof.send(&ClientEvent::Mute {
        nick: "Ann".into(),
        minutes: Some(5),
        reason: Some("spamming".into()),
    });
    for peer in [&mut prof, &mut ann, &mut bob] {
        let line = next_moderation(peer);
        assert_eq!(line, "prof muted ann for 5 min (spamming)");
    }
    ann.say("let me speak");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::Muted);
    assert!(
        message.contains("muted by prof (spamming) for 5 min"),
        "{message}"
    );
    // Not privately to a student either, but to staff yes.
    ann.send(&ClientEvent::Msg {
        to: "bob".into(),
        text: "psst".into(),
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::Muted);
    ann.send(&ClientEvent::Msg {
        to: "prof".into(),
        text: "why?".into(),
    });
    assert!(matches!(
        prof.recv_until(10, |e| matches!(e, ServerEvent::Private { .. })),
        ServerEvent::Private { text, .. } if text == "why?"
    ));
    // Nor slip out of the mute under another nick.
    ann.send(&ClientEvent::Nick {
        nick: "notann".into(),
    });
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::Muted);
    assert!(message.contains("may not change your nick"), "{message}");
    // The staff's whois shows it.
    prof.send(&ClientEvent::Whois { nick: "ann".into() });
    match prof.recv_until(10, |e| matches!(e, ServerEvent::Whois { .. })) {
        ServerEvent::Whois {
            role,
            muted,
            address,
            ..
        } => {
            assert_eq!((role, muted), (Role::Student, true));
            assert_eq!(address, "127.0.0.1");
        }
        _ => unreachable!(),
    }
    // Five minutes later (moderation's clock), the mute is over.
    room.advance_secs(5 * 60);
    ann.say("back");
    assert_eq!(next_message(&mut bob), "back");
    // Muted again, then lifted by hand.
    prof.send(&ClientEvent::Mute {
        nick: "ann".into(),
        minutes: Some(0),
        reason: None,
    });
    assert_eq!(
        next_moderation(&mut bob),
        "prof muted ann until staff lift it"
    );
    prof.send(&ClientEvent::Unmute { nick: "ann".into() });
    assert_eq!(next_moderation(&mut bob), "prof unmuted ann");
    ann.say("free");
    assert_eq!(next_message(&mut bob), "free");
}

#[test]
fn a_kick_sticks_for_its_time() {
    let (room, mut prof, mut ann, mut bob) = Room::class();
    prof.send(&ClientEvent::Kick {
        nick: "ann".into(),
        reason: Some("posting answers".into()),
    });
    assert_eq!(
        next_moderation(&mut bob),
        "prof kicked ann (posting answers); they may not come back for 2 min"
    );
    match bob.recv_until(10, |e| matches!(e, ServerEvent::Left { .. })) {
        ServerEvent::Left { nick, reason, .. } => {
            assert_eq!((nick.as_str(), reason.as_str()), ("ann", "kicked by prof"));
        }
        _ => unreachable!(),
    }
    let seen = ann.expect_closed(10);
    let bye = seen.iter().find_map(|e| match e {
        ServerEvent::Bye {
            code,
            reason,
            retry_after,
            ..
        } => Some((*code, reason.clone(), *retry_after)),
        _ => None,
    });
    let (code, reason, retry_after) = bye.expect("a bye for the kicked client");
    assert_eq!(code, ErrorCode::Kicked);
    assert_eq!(retry_after, Some(KICK_SECS));
    assert!(reason.contains("posting answers"), "{reason}");
    // Coming straight back (same key, same address, same nick) is refused.
    let mut again = room.server.peer();
    again.hello("ann");
    let (code, message) = next_error(&mut again);
    assert_eq!(code, ErrorCode::Kicked);
    assert!(message.contains("for 2 min more"), "{message}");
    // A classmate behind the same address (same class key) is not kicked with them.
    let _carol = room.student("carol");
    // Once the kick's time is over, they may.
    room.advance_secs(KICK_SECS);
    let _ann = room.student("ann");
}

#[test]
fn a_ban_quiet_mode_and_the_topic_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("moderation.json");
    // Two class keys (a rotation): a class-key ban bars a key at an address, and every test
    // client comes from 127.0.0.1, so ann holds the other key.
    let (old, new, staff) = (
        RoomKey::generate(),
        RoomKey::generate(),
        RoomKey::generate(),
    );
    let class = RoomKey::ring(vec![old.clone(), new.clone()]).unwrap();
    {
        let room = Room::start_with(Some(state.clone()), class.clone(), staff.clone());
        let (mut prof, _) = room.staff_join("prof");
        let _mallory = room.student("mallory");
        prof.send(&ClientEvent::Ban {
            nick: "mallory".into(),
            minutes: None,
            reason: Some("cheating".into()),
        });
        assert_eq!(
            next_moderation(&mut prof),
            "prof banned mallory (cheating); they may not come back until staff lift it"
        );
        prof.send(&ClientEvent::Quiet {
            room: None,
            on: true,
        });
        next_moderation(&mut prof);
        prof.send(&ClientEvent::Topic {
            room: None,
            text: "Exam".into(),
        });
        prof.recv_until(10, |e| matches!(e, ServerEvent::Topic { .. }));
    }
    // The first server has shut down; a new one reads the state file.
    let room = Room::start_with(Some(state), class, staff);
    let mut mallory = room.server.peer();
    mallory.hello("mallory");
    let (code, message) = next_error(&mut mallory);
    assert_eq!(code, ErrorCode::Banned);
    assert!(message.contains("by prof (cheating)"), "{message}");
    // The ban holds for the key at this address, whatever the nick.
    let mut again = room.server.peer();
    again.hello("someone");
    assert_eq!(next_error(&mut again).0, ErrorCode::Banned);
    let mut ann = Peer::connect(room.server.addr, new.clone());
    ann.hello("ann");
    assert!(matches!(ann.recv(), ServerEvent::Welcome { .. }));
    // ann's key is the ring's second: the server first tells her a new class key is in use.
    assert!(
        matches!(ann.recv(), ServerEvent::Notice { text, .. } if text.contains("a new class key is in use"))
    );
    assert!(matches!(ann.recv(), ServerEvent::Topic { text, .. } if text == "Exam"));
    assert!(
        matches!(ann.recv(), ServerEvent::Notice { text, .. } if text.contains("quiet mode is on"))
    );
    ann.say("hello?");
    assert_eq!(next_error(&mut ann).0, ErrorCode::Quiet);
    // Lifting the ban (mallory is offline: by the nick they had) lets them back.
    let (mut prof, _) = room.staff_join("prof");
    prof.send(&ClientEvent::Unban {
        nick: "MALLORY".into(),
    });
    assert_eq!(next_moderation(&mut prof), "prof lifted the ban on MALLORY");
    let _mallory = room.student("mallory");
}

#[test]
fn quiet_mode_lets_only_staff_speak() {
    let (_room, mut prof, mut ann, mut bob) = Room::class();
    prof.send(&ClientEvent::Quiet {
        room: None,
        on: true,
    });
    for peer in [&mut ann, &mut bob] {
        assert_eq!(
            next_moderation(peer),
            "prof turned quiet mode on: only staff may speak until it is off"
        );
    }
    ann.say("what is question 3?");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::Quiet);
    assert!(message.contains("only staff may speak"), "{message}");
    ann.send(&ClientEvent::Me {
        room: None,
        text: "waves".into(),
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::Quiet);
    ann.send(&ClientEvent::Msg {
        to: "bob".into(),
        text: "answer?".into(),
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::Quiet);
    prof.say("20 minutes left");
    assert_eq!(next_message(&mut bob), "20 minutes left");
    prof.send(&ClientEvent::Quiet {
        room: None,
        on: false,
    });
    assert_eq!(
        next_moderation(&mut bob),
        "prof turned quiet mode off: everyone may speak again"
    );
    ann.say("done!");
    assert_eq!(next_message(&mut bob), "done!");
}

#[test]
fn slow_mode_paces_students_by_the_injected_clock() {
    let (room, mut prof, mut ann, mut bob) = Room::class();
    prof.send(&ClientEvent::Slow {
        room: None,
        seconds: 30,
    });
    assert_eq!(
        next_moderation(&mut bob),
        "prof turned slow mode on: one message per 30 s each"
    );
    ann.say("one");
    assert_eq!(next_message(&mut bob), "one");
    ann.say("two");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::SlowMode);
    assert!(message.contains("wait 30 s"), "{message}");
    // Staff are not paced.
    prof.say("a");
    prof.say("b");
    assert_eq!(next_message(&mut bob), "a");
    assert_eq!(next_message(&mut bob), "b");
    room.advance_secs(29);
    ann.say("three");
    assert_eq!(next_error(&mut ann).0, ErrorCode::SlowMode);
    room.advance_secs(1);
    ann.say("four");
    assert_eq!(next_message(&mut bob), "four");
    prof.send(&ClientEvent::Slow {
        room: None,
        seconds: 0,
    });
    assert_eq!(next_moderation(&mut bob), "prof turned slow mode off");
    ann.say("five");
    ann.say("six");
    assert_eq!(next_message(&mut bob), "five");
    assert_eq!(next_message(&mut bob), "six");
}

#[test]
fn the_server_binary_takes_staff_keys_and_writes_audit_lines() {
    let (dir, class, staff) = keyfiles();
    let server = ServerProcess::start(dir.path(), &STAFF_SERVER);
    let addr = server.address();
    server.stderr_until(&format!("staff key fingerprint {}", staff.fingerprint()));
    let mut prof = Peer::connect(addr, staff.clone());
    prof.hello("prof");
    assert!(matches!(
        prof.recv(),
        ServerEvent::Welcome {
            role: Role::Instructor,
            ..
        }
    ));
    let mut ann = Peer::connect(addr, class.clone());
    ann.hello("ann");
    assert!(matches!(
        ann.recv(),
        ServerEvent::Welcome {
            role: Role::Student,
            ..
        }
    ));
    // A refused attempt is audited too.
    ann.send(&ClientEvent::Kick {
        nick: "prof".into(),
        reason: None,
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::NotPermitted);
    let read = server.stderr_until("audit: refused kick from ann (student");
    assert!(
        read.iter()
            .any(|l| l.contains("join #") && l.contains("as prof, instructor"))
    );
    prof.send(&ClientEvent::Announce {
        room: None,
        all: false,
        text: "secret exam answer key location".into(),
    });
    prof.send(&ClientEvent::Mute {
        nick: "ann".into(),
        minutes: Some(3),
        reason: Some("shouting".into()),
    });
    let mut read = server.stderr_until("audit: prof (instructor) announced (31 characters)");
    read.extend(server.stderr_until(&format!(
        "audit: prof muted ann for 3 min (shouting) [by prof, instructor; target at 127.0.0.1, \
         key {}]",
        class.fingerprint()
    )));
    // The announcement's text is a message like any other: never in the log.
    assert!(read.iter().all(|l| !l.contains("secret exam")), "{read:#?}");
    assert_eq!(
        next_moderation(&mut ann),
        "prof muted ann for 3 min (shouting)"
    );
    // The state file is beside the history, owner-only.
    let state = dir.path().join("history/moderation.json");
    let saved = std::fs::read_to_string(&state).unwrap();
    assert!(saved.contains("\"kind\": \"mute\""), "{saved}");
}

#[test]
fn a_staff_key_that_is_the_class_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let class = RoomKey::generate();
    keyfile::write_plain(&dir.path().join("class.key"), &class, Overwrite::Never).unwrap();
    let args = [
        "--port",
        "0",
        "--key",
        "class.key",
        "--staff-key",
        "class.key",
        "--no-history",
    ];
    let server = ServerProcess::start(dir.path(), &args);
    let read = server.stderr_until("--staff-key class.key: this is a class key");
    assert!(read.last().unwrap().contains("keygen"), "{read:?}");
    assert_eq!(server.exit_code(), Some(1));
}

#[test]
fn a_banned_hello_is_closed_after_its_refusal() {
    let room = Room::start(None);
    let (mut prof, _) = room.staff_join("prof");
    let _eve = room.student("eve");
    prof.send(&ClientEvent::Ban {
        nick: "eve".into(),
        minutes: Some(60),
        reason: None,
    });
    next_moderation(&mut prof);
    let mut eve = room.server.peer();
    eve.hello("eve");
    assert_eq!(next_error(&mut eve).0, ErrorCode::Banned);
    assert!(matches!(eve.next(), Got::Closed));
}

/// The closing note of issue 15: an exam run by an instructor, as a student's terminal shows it.
/// All three are the real `client` binary in line mode against the real `server` binary; the
/// instructor's client holds the staff key. The transcript is printed (`--nocapture`).
#[test]
fn an_exam_as_seen_from_a_students_terminal() {
    let (dir, _, _) = keyfiles();
    let (class_path, staff_path) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    let server = ServerProcess::start(dir.path(), &STAFF_SERVER);
    let port = server.address().port();
    let mut prof = ClientProcess::start(port, &staff_path, &["--nick", "prof"]);
    prof.expect_line("connected to");
    let mut ann = ClientProcess::start(port, &class_path, &["--nick", "ann"]);
    let mut seen = ann.lines_until("connected to");
    let mut mallory = ClientProcess::start(port, &class_path, &["--nick", "mallory"]);
    mallory.expect_line("connected to");
    seen.extend(ann.lines_until("mallory joined"));

    // /help lists staff commands to staff only.
    prof.type_line("/help");
    prof.expect_line("staff commands:");
    prof.expect_line("/quiet on|off");
    ann.type_line("/help");
    let help = ann.lines_until("//TEXT");
    assert!(
        help.iter().all(|l| !l.contains("staff commands")),
        "{help:#?}"
    );

    prof.type_line("/topic Exam: questions 1-5, until 11:00");
    seen.extend(ann.lines_until("topic: Exam"));
    prof.type_line("/announce The exam starts now. Good luck!");
    seen.extend(ann.lines_until("ANNOUNCEMENT"));
    prof.type_line("/quiet on");
    seen.extend(ann.lines_until("quiet mode on"));
    ann.type_line("is question 3 about threads?");
    seen.extend(ann.lines_until("quiet mode"));
    mallory.type_line("/msg ann the answer to 3 is b");
    mallory.expect_line("quiet mode");
    // A student trying a staff command.
    mallory.type_line("/mute ann");
    mallory.expect_line("is for staff");
    prof.type_line("/mute mallory 30 trying to pass answers");
    seen.extend(ann.lines_until("prof muted mallory"));
    prof.type_line("/kick mallory still trying to pass answers");
    seen.extend(ann.lines_until("mallory left"));
    // The kicked client is told why and for how long, and that it will rejoin after that.
    mallory.expect_line("the server removed you: you were kicked by prof");
    mallory.expect_line("will reconnect by itself in 121 s");
    prof.type_line("Time is up: pens down.");
    seen.extend(ann.lines_until("<prof> Time is up"));
    prof.type_line("/quiet off");
    seen.extend(ann.lines_until("quiet mode off"));
    ann.type_line("thank you!");
    seen.extend(ann.lines_until("<ann> thank you!"));
    ann.type_line("/who");
    seen.extend(ann.lines_until("users online"));

    println!("--- ann's terminal ---\n{}\n---", seen.join("\n"));
    let all = seen.join("\n");
    for expected in [
        "-!- topic: Exam: questions 1-5, until 11:00 (set by prof)",
        "*** ANNOUNCEMENT from prof: The exam starts now. Good luck!",
        "-!- prof turned quiet mode on: only staff may speak until it is off",
        "-!- the room is in quiet mode (an exam): only staff may speak",
        "-!- prof muted mallory for 30 min (trying to pass answers)",
        "-!- prof kicked mallory (still trying to pass answers); they may not come back for 2 min",
        "<-- mallory left (kicked by prof)",
        "-!- prof turned quiet mode off: everyone may speak again",
        "<ann> thank you!",
        "2 users online: ann @prof",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    // The kicked client, waiting to rejoin, ends when its user leaves (stdin closed).
    let _ = mallory.finish();
    let (code, stderr) = ann.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = prof.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_full_class_does_not_lock_its_instructor_out() {
    let staff = RoomKey::generate();
    let mut config = quiet_config(RoomKey::generate());
    config.max_clients = 2;
    config.staff_keys = vec![staff.clone()];
    let server = TestServer::start(config);
    let _ann = server.join("ann");
    let _bob = server.join("bob");
    let mut carol = server.peer();
    carol.hello("carol");
    assert_eq!(next_error(&mut carol).0, ErrorCode::ServerFull);
    let mut prof = Peer::connect(server.addr, staff);
    prof.hello("prof");
    assert!(matches!(
        prof.recv(),
        ServerEvent::Welcome {
            role: Role::Instructor,
            ..
        }
    ));
}

/// Issue 15, "kept in history", on the wire: an announcement takes the room's next id and is a
/// record of the history file, replayed to a joiner between the messages it came between (as an
/// `announcement` with `history: true`, which older clients still show), and not sent again as
/// "the latest announcement"; a rejoin that saw it (`since`) does not get it again.
#[test]
fn a_joiner_gets_announcements_in_order_with_the_history_and_not_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (class, staff) = (RoomKey::generate(), RoomKey::generate());
    let mut config = quiet_config(class);
    config.staff_keys = vec![staff.clone()];
    config.history = Some(HistoryConfig::at(dir.path().join("room.log")));
    let server = TestServer::start(config);
    let mut prof = Peer::connect(server.addr, staff);
    prof.hello("prof");
    assert!(matches!(prof.recv(), ServerEvent::Welcome { .. }));
    let mut ann = server.join("ann");
    let said = |peer: &mut Peer, wanted: &str| {
        peer.recv_until(
            10,
            |e| matches!(e, ServerEvent::Message { text, .. } if text == wanted),
        );
    };
    ann.say("before");
    said(&mut prof, "before");
    prof.send(&ClientEvent::Announce {
        room: None,
        all: false,
        text: "Pens down".into(),
    });
    let live = prof.recv_until(10, |e| matches!(e, ServerEvent::Announcement { .. }));
    let ServerEvent::Announcement {
        id: Some(announced),
        history: false,
        ..
    } = live
    else {
        panic!("a live announcement has an id and is not history: {live:?}");
    };
    ann.say("after");
    said(&mut prof, "after");

    let mut carol = server.peer();
    carol.hello("carol");
    assert!(matches!(carol.recv(), ServerEvent::Welcome { .. }));
    let replay: Vec<ServerEvent> = (0..3).map(|_| carol.recv()).collect();
    assert!(
        matches!(&replay[0], ServerEvent::History { text, .. } if text == "before"),
        "{replay:?}"
    );
    assert!(
        matches!(&replay[1], ServerEvent::Announcement { text, from, history: true, id, .. }
            if text == "Pens down" && from == "prof" && *id == Some(announced)),
        "{replay:?}"
    );
    assert!(
        matches!(&replay[2], ServerEvent::History { text, .. } if text == "after"),
        "{replay:?}"
    );
    // Nothing more before the next live message: the latest announcement is not sent twice.
    ann.say("live");
    assert!(
        matches!(carol.recv(), ServerEvent::Message { text, .. } if text == "live"),
        "the announcement came twice"
    );

    // A rejoin that saw the announcement gets only what came after it.
    let mut dave = server.peer();
    dave.hello_since("dave", announced);
    assert!(matches!(dave.recv(), ServerEvent::Welcome { .. }));
    assert!(matches!(dave.recv(), ServerEvent::History { text, .. } if text == "after"));
    assert!(matches!(dave.recv(), ServerEvent::History { text, .. } if text == "live"));
    ann.say("live again");
    assert!(
        matches!(dave.recv(), ServerEvent::Message { text, .. } if text == "live again"),
        "an announcement seen before the rejoin came again"
    );
}

/// Issue 15, "kept in history", through the real binaries: a joiner's line-mode client shows
/// the announcement as a history announcement, in its place among the replayed messages, once;
/// and after a server restart it is still there (it is a record of the history file).
#[test]
fn announcements_are_kept_in_the_history_across_a_restart() {
    let (dir, _, _) = keyfiles();
    let (class_path, staff_path) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    let server = ServerProcess::start(dir.path(), &STAFF_SERVER);
    let port = server.address().port();
    let mut prof = ClientProcess::start(port, &staff_path, &["--nick", "prof"]);
    prof.expect_line("connected to");
    let mut ann = ClientProcess::start(port, &class_path, &["--nick", "ann"]);
    ann.expect_line("connected to");
    ann.type_line("before the announcement");
    prof.expect_line("<ann> before the announcement");
    prof.type_line("/announce Read question 2 again");
    ann.expect_line("*** ANNOUNCEMENT from prof: Read question 2 again");
    ann.type_line("after the announcement");
    prof.expect_line("<ann> after the announcement");

    // The replay, in order, the announcement once and labelled as history.
    let in_order = |seen: &[String]| {
        let at = |needle: &str| {
            let found: Vec<usize> = (0..seen.len())
                .filter(|&i| seen[i].contains(needle))
                .collect();
            assert_eq!(found.len(), 1, "{needle:?} once in {seen:#?}");
            found[0]
        };
        let before = at("[history] <ann> before the announcement");
        let announced = at("[history] *** ANNOUNCEMENT from prof: Read question 2 again");
        let after = at("[history] <ann> after the announcement");
        assert!(before < announced && announced < after, "{seen:#?}");
    };
    let mut carol = ClientProcess::start(port, &class_path, &["--nick", "carol"]);
    let mut seen = carol.lines_until("[history] <ann> after the announcement");
    ann.type_line("now live");
    seen.extend(carol.lines_until("<ann> now live"));
    in_order(&seen);
    carol.type_line("/quit");
    let _ = carol.finish();
    let _ = ann.finish();
    let _ = prof.finish();

    drop(server);
    let server = ServerProcess::start(dir.path(), &STAFF_SERVER);
    let port = server.address().port();
    let dave = ClientProcess::start(port, &class_path, &["--nick", "dave"]);
    let seen = dave.lines_until("[history] <ann> now live");
    in_order(&seen);
    let (code, stderr) = dave.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// Issue 15, `/whois` shows the client version: a hello's optional `client` is in the `whois`
/// answer (absent when the hello had none); one that is too long or not printable ASCII is
/// refused with `bad_field`, saying what is allowed, and the connection closed.
#[test]
fn whois_carries_the_client_named_in_the_hello_and_a_bad_name_is_refused() {
    let (room, mut prof, _ann, _bob) = Room::class();
    let mut carol = room.server.peer();
    carol.hello_client("carol", "fernchat 0.1.0");
    assert!(matches!(carol.recv(), ServerEvent::Welcome { .. }));
    let whois = |prof: &mut Peer, nick: &str| {
        prof.send(&ClientEvent::Whois { nick: nick.into() });
        match prof.recv_until(10, |e| matches!(e, ServerEvent::Whois { .. })) {
            ServerEvent::Whois {
                nick: got, client, ..
            } => {
                assert_eq!(got, nick);
                client
            }
            _ => unreachable!(),
        }
    };
    assert_eq!(whois(&mut prof, "carol").as_deref(), Some("fernchat 0.1.0"));
    assert_eq!(whois(&mut prof, "ann"), None);

    let longest = "x".repeat(64);
    let mut dave = room.server.peer();
    dave.hello_client("dave", &longest);
    assert!(matches!(dave.recv(), ServerEvent::Welcome { .. }));
    assert_eq!(whois(&mut prof, "dave"), Some(longest));
    for bad in [
        "x".repeat(65),
        "evil\u{1b}[2J".into(),
        "caf\u{e9}".into(),
        String::new(),
    ] {
        let mut eve = room.server.peer();
        eve.hello_client("eve", &bad);
        let message = eve.expect_error(ErrorCode::BadField);
        assert!(
            message.contains("\"client\"") && message.contains("64 printable ASCII"),
            "{message}"
        );
        eve.expect_closed(5);
    }
}

/// Issue 15 through the real binaries: the Rust client names itself in its hello, so staff's
/// `/whois` in line mode shows its version; a client that sends none is shown as "not sent".
#[test]
fn whois_in_the_client_shows_the_version_or_not_sent() {
    let (dir, class, _) = keyfiles();
    let (class_path, staff_path) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    let server = ServerProcess::start(dir.path(), &STAFF_SERVER);
    let addr = server.address();
    let mut prof = ClientProcess::start(addr.port(), &staff_path, &["--nick", "prof"]);
    prof.expect_line("connected to");
    let mut ann = ClientProcess::start(addr.port(), &class_path, &["--nick", "ann"]);
    ann.expect_line("connected to");
    prof.expect_line("ann joined");
    let mut bare = Peer::connect(addr, class);
    bare.hello("bare");
    assert!(matches!(bare.recv(), ServerEvent::Welcome { .. }));
    prof.expect_line("bare joined");

    prof.type_line("/whois ann");
    let line = prof.expect_line("whois ann:");
    let version = format!("client: fernchat {}", env!("CARGO_PKG_VERSION"));
    assert!(line.contains(&version), "{line}");
    prof.type_line("/whois bare");
    let line = prof.expect_line("whois bare:");
    assert!(line.contains("client: not sent"), "{line}");
    ann.type_line("/quit");
    let _ = ann.finish();
    let (code, stderr) = prof.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// The server's arguments with a short kick wait (`--kick-wait 1`), so that a test sees a
/// kicked client come back.
const QUICK_KICK_SERVER: [&str; 10] = [
    "--port",
    "0",
    "--key",
    "class.key",
    "--staff-key",
    "staff.key",
    "--history",
    "history/room.log",
    "--kick-wait",
    "1",
];

/// Issue 15, "a kick that sticks for a while", as a user expects it: with reconnecting on (the
/// default) the kicked client says it was kicked and when it will be back, waits the server's
/// `retry_after` plus a second, and rejoins by itself; with `--no-reconnect` it ends. Bounded:
/// the server's kick wait is 1 s (`--kick-wait`), every read within the step timeout.
#[test]
fn a_kicked_client_rejoins_by_itself_after_the_wait_unless_told_not_to() {
    let (dir, _, _) = keyfiles();
    let (class_path, staff_path) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    let server = ServerProcess::start(dir.path(), &QUICK_KICK_SERVER);
    let port = server.address().port();
    let mut prof = ClientProcess::start(port, &staff_path, &["--nick", "prof"]);
    prof.expect_line("connected to");
    let mut mallory = ClientProcess::start(port, &class_path, &["--nick", "mallory"]);
    mallory.expect_line("connected to");
    prof.expect_line("mallory joined");

    prof.type_line("/kick mallory spamming");
    prof.expect_line("mallory left");
    mallory.expect_line("the server removed you: you were kicked by prof (spamming)");
    mallory.expect_line("will reconnect by itself in 2 s");
    let back = mallory.lines_until("reconnected to");
    assert!(
        back.iter().all(|l| !l.contains("failed")),
        "it waited for the server's wait to end: {back:#?}"
    );
    prof.expect_line("mallory joined");
    mallory.type_line("sorry");
    prof.expect_line("<mallory> sorry");
    mallory.type_line("/quit");
    let (code, stderr) = mallory.finish();
    assert_eq!(code, Some(0), "{stderr}");

    // --no-reconnect: kicked, it ends, saying why.
    let mallory = ClientProcess::start(port, &class_path, &["--nick", "mallory", "--no-reconnect"]);
    mallory.expect_line("connected to");
    prof.expect_line("mallory joined");
    prof.type_line("/kick mallory again");
    mallory.expect_line("you were kicked by prof (again)");
    let (code, stderr) = mallory.finish_unprompted();
    assert_ne!(code, Some(0), "{stderr}");
    let (code, stderr) = prof.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// A ban is not over by itself: the banned client ends instead of reconnecting, even with
/// reconnecting on (the default).
#[test]
fn a_banned_client_does_not_reconnect() {
    let (dir, _, _) = keyfiles();
    let (class_path, staff_path) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    let server = ServerProcess::start(dir.path(), &QUICK_KICK_SERVER);
    let port = server.address().port();
    let mut prof = ClientProcess::start(port, &staff_path, &["--nick", "prof"]);
    prof.expect_line("connected to");
    let mallory = ClientProcess::start(port, &class_path, &["--nick", "mallory"]);
    mallory.expect_line("connected to");
    prof.expect_line("mallory joined");
    prof.type_line("/ban mallory 1 cheating");
    let told = mallory.lines_until("the server removed you:");
    assert!(told.iter().all(|l| !l.contains("reconnect")), "{told:#?}");
    let (code, stderr) = mallory.finish_unprompted();
    assert_ne!(code, Some(0), "{stderr}");
    let (code, stderr) = prof.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

/// The latest announcement, older than the replay (the server replays only the last message
/// here), still reaches a joiner after the replay, once, for its status bar.
#[test]
fn the_latest_announcement_older_than_the_replay_is_sent_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (class, staff) = (RoomKey::generate(), RoomKey::generate());
    let mut config = quiet_config(class);
    config.staff_keys = vec![staff.clone()];
    config.history = Some(HistoryConfig {
        replay: 1,
        ..HistoryConfig::at(dir.path().join("room.log"))
    });
    let server = TestServer::start(config);
    let mut prof = Peer::connect(server.addr, staff);
    prof.hello("prof");
    assert!(matches!(prof.recv(), ServerEvent::Welcome { .. }));
    prof.send(&ClientEvent::Announce {
        room: None,
        all: false,
        text: "Pens down".into(),
    });
    prof.recv_until(10, |e| matches!(e, ServerEvent::Announcement { .. }));
    prof.say("one");
    prof.say("two");
    prof.recv_until(
        10,
        |e| matches!(e, ServerEvent::Message { text, .. } if text == "two"),
    );
    let mut carol = server.peer();
    carol.hello("carol");
    assert!(matches!(carol.recv(), ServerEvent::Welcome { .. }));
    assert!(matches!(carol.recv(), ServerEvent::History { text, .. } if text == "two"));
    assert!(matches!(
        carol.recv(),
        ServerEvent::Announcement { text, history: true, id: Some(_), .. } if text == "Pens down"
    ));
    prof.say("three");
    assert!(matches!(carol.recv(), ServerEvent::Message { text, .. } if text == "three"));
}
