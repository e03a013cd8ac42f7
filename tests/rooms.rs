//! Issue 16, rooms: every room command through the real server on 127.0.0.1 (port 0), with raw
//! protocol clients (`tests/common`). Every read is bounded by the step timeout and every wait
//! by a count of events; nothing sleeps to synchronise.
//!
//! "Did not receive" is proven with a marker: the hub sends each client its frames in order,
//! so when a later `#class` marker arrives and the room's message did not come before it, it
//! never will.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use common::process::ServerProcess;
use common::{Peer, STEP, TestServer, python, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::event::{Group, HistoryKind};
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent};
use fernchat::server::rooms::{Creators, RoomLimits};
use fernchat::server::{FloodLimits, HistoryConfig, ServerConfig};

/// A server with a staff key (an instructor's), the rate limit out of the way (tests send
/// bursts; the rate limit is another test's business).
struct Rooms {
    server: TestServer,
    staff: RoomKey,
}

impl Rooms {
    fn start() -> Rooms {
        Rooms::with(|_| {})
    }

    fn with(change: impl FnOnce(&mut ServerConfig)) -> Rooms {
        let staff = RoomKey::generate();
        let mut config = quiet_config(RoomKey::generate());
        config.flood = FloodLimits {
            burst: 1000,
            per_second: 1000.0,
            ..FloodLimits::default()
        };
        config.staff_keys = vec![staff.clone()];
        change(&mut config);
        Rooms {
            server: TestServer::start(config),
            staff,
        }
    }

    fn student(&self, nick: &str) -> Peer {
        self.server.join(nick)
    }

    fn instructor(&self, nick: &str) -> Peer {
        let mut peer = Peer::connect(self.server.addr, self.staff.clone());
        peer.hello(nick);
        assert!(matches!(peer.recv(), ServerEvent::Welcome { .. }));
        peer
    }
}

fn join(peer: &mut Peer, room: &str) {
    peer.send(&ClientEvent::Join {
        room: room.into(),
        since: None,
        invite_only: false,
    });
}

/// Joins `room` and returns the members `entered` names.
fn enter(peer: &mut Peer, room: &str) -> Vec<String> {
    join(peer, room);
    match next_entered(peer) {
        (got, users, _) if got == room.to_ascii_lowercase() => users,
        other => panic!("entered {other:?}, expected {room}"),
    }
}

/// The next `entered` (skipping `joined`s of others that came first): room, users, by.
fn next_entered(peer: &mut Peer) -> (String, Vec<String>, Option<String>) {
    match peer.recv_until(20, |e| matches!(e, ServerEvent::Entered { .. })) {
        ServerEvent::Entered {
            room, users, by, ..
        } => (room, users, by),
        _ => unreachable!(),
    }
}

fn say_in(peer: &mut Peer, room: &str, text: &str) {
    peer.send(&ClientEvent::Say {
        text: text.into(),
        room: Some(room.into()),
    });
}

/// The next error, skipping other events (at most 20).
fn next_error(peer: &mut Peer) -> (ErrorCode, String) {
    match peer.recv_until(20, |e| matches!(e, ServerEvent::Error { .. })) {
        ServerEvent::Error { code, message, .. } => (code, message),
        _ => unreachable!(),
    }
}

/// The room messages `peer` gets until the `#class` message `marker` (at most 50 events), as
/// (room, text).
fn messages_until(peer: &mut Peer, marker: &str) -> Vec<(String, String)> {
    let mut got = Vec::new();
    for _ in 0..50 {
        match peer.recv() {
            ServerEvent::Message { room, text, .. } if text == marker => {
                assert_eq!(room, "#class");
                return got;
            }
            ServerEvent::Message { room, text, .. } => got.push((room, text)),
            _ => {}
        }
    }
    panic!("no marker {marker:?} within 50 events; got {got:?}");
}

/// A `#class` message from `from` that everyone sees, read by every peer in `all` up to it.
fn mark(from: &mut Peer, marker: &str) {
    from.say(marker);
}

#[test]
fn joining_creates_a_room_and_names_are_folded() {
    let rooms = Rooms::start();
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    assert_eq!(enter(&mut ann, "#lab1"), ["ann"]);
    // Any case names the same room; the server sends the folded name.
    assert_eq!(enter(&mut bob, "#LAB1"), ["ann", "bob"]);
    match ann.recv_until(
        5,
        |e| matches!(e, ServerEvent::Joined { room, .. } if room == "#lab1"),
    ) {
        ServerEvent::Joined { nick, .. } => assert_eq!(nick, "bob"),
        _ => unreachable!(),
    }
    // Joining again is answered with `entered` again (a resync), and nobody sees a join.
    assert_eq!(enter(&mut bob, "#lab1"), ["ann", "bob"]);
    for bad in [
        "lab1",
        "#a",
        "#no spaces",
        "#ünï",
        "#abcdefghijklmnopqrstuvwxy",
    ] {
        join(&mut bob, bad);
        let (code, message) = next_error(&mut bob);
        assert_eq!(code, ErrorCode::RoomInvalid, "{bad}");
        assert!(message.contains("# plus 2 to 24"), "{message}");
    }
    // Speaking in a room one is not in is refused.
    let mut cat = rooms.student("cat");
    say_in(&mut cat, "#lab1", "let me in");
    assert_eq!(next_error(&mut cat).0, ErrorCode::NotInRoom);
    say_in(&mut cat, "#nowhere", "hello?");
    assert_eq!(next_error(&mut cat).0, ErrorCode::NotInRoom);
}

#[test]
fn parting_a_room_and_class_stays_unless_allowed() {
    let rooms = Rooms::start();
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    enter(&mut ann, "#lab1");
    enter(&mut bob, "#lab1");
    bob.send(&ClientEvent::Part {
        room: "#lab1".into(),
        reason: Some("done for today".into()),
    });
    match bob.recv_until(5, |e| matches!(e, ServerEvent::Parted { .. })) {
        ServerEvent::Parted { room, reason, .. } => {
            assert_eq!(
                (room.as_str(), reason.as_str()),
                ("#lab1", "done for today")
            );
        }
        _ => unreachable!(),
    }
    match ann.recv_until(5, |e| matches!(e, ServerEvent::Left { .. })) {
        ServerEvent::Left {
            room, nick, reason, ..
        } => assert_eq!(
            (room, nick, reason),
            ("#lab1".into(), "bob".into(), "done for today".into())
        ),
        _ => unreachable!(),
    }
    // Not a member any more, then a room that is gone.
    bob.send(&ClientEvent::Part {
        room: "#lab1".into(),
        reason: None,
    });
    assert_eq!(next_error(&mut bob).0, ErrorCode::NotInRoom);
    bob.send(&ClientEvent::Part {
        room: "#lab9".into(),
        reason: None,
    });
    assert_eq!(next_error(&mut bob).0, ErrorCode::NoSuchRoom);
    // #class: refused, saying why.
    bob.send(&ClientEvent::Part {
        room: "#class".into(),
        reason: None,
    });
    let (code, message) = next_error(&mut bob);
    assert_eq!(code, ErrorCode::NotPermitted);
    assert!(message.contains("--allow-part-class"), "{message}");

    // A server that allows it: bob leaves #class and no longer gets its messages.
    let open = Rooms::with(|c| c.rooms.allow_part_class = true);
    let mut ann = open.student("ann");
    let mut bob = open.student("bob");
    enter(&mut bob, "#lab1");
    bob.send(&ClientEvent::Part {
        room: "#class".into(),
        reason: None,
    });
    assert!(matches!(
        bob.recv_until(5, |e| matches!(e, ServerEvent::Parted { .. })),
        ServerEvent::Parted { room, .. } if room == "#class"
    ));
    ann.say("only for #class");
    enter(&mut ann, "#lab1");
    say_in(&mut ann, "#lab1", "marker in lab1");
    match bob.recv_until(10, |e| matches!(e, ServerEvent::Message { .. })) {
        ServerEvent::Message { room, text, .. } => {
            assert_eq!((room.as_str(), text.as_str()), ("#lab1", "marker in lab1"));
        }
        _ => unreachable!(),
    }
}

#[test]
fn list_and_who_show_rooms_members_and_topics() {
    let rooms = Rooms::start();
    let mut prof = rooms.instructor("prof");
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    enter(&mut ann, "#lab1");
    enter(&mut bob, "#lab1");
    enter(&mut bob, "#lab2");
    prof.send(&ClientEvent::Topic {
        text: "Lab 3: sockets".into(),
        room: Some("#lab1".into()),
    });
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Topic { .. })) {
        ServerEvent::Topic { room, text, .. } => {
            assert_eq!((room.as_str(), text.as_str()), ("#lab1", "Lab 3: sockets"));
        }
        _ => unreachable!(),
    }
    ann.send(&ClientEvent::List);
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Rooms { .. })) {
        ServerEvent::Rooms { rooms, .. } => {
            let summary: Vec<(String, usize, Option<String>)> = rooms
                .into_iter()
                .map(|r| (r.room, r.members, r.topic))
                .collect();
            assert_eq!(
                summary,
                [
                    ("#class".into(), 3, None),
                    ("#lab1".into(), 2, Some("Lab 3: sockets".into())),
                    ("#lab2".into(), 1, None),
                ]
            );
        }
        _ => unreachable!(),
    }
    ann.send(&ClientEvent::Who {
        room: Some("#lab1".into()),
    });
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users { room, users, .. } => {
            assert_eq!(room, "#lab1");
            assert_eq!(users, ["ann", "bob"]);
        }
        _ => unreachable!(),
    }
    // Without a room: #class, everyone, as before rooms.
    ann.send(&ClientEvent::Who { room: None });
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users {
            room, users, roles, ..
        } => {
            assert_eq!(room, "#class");
            assert_eq!(users, ["ann", "bob", "prof"]);
            assert_eq!(roles.len(), 1, "{roles:?}");
        }
        _ => unreachable!(),
    }
    ann.send(&ClientEvent::Who {
        room: Some("#lab7".into()),
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::NoSuchRoom);
}

#[test]
fn invite_only_rooms_need_an_invite() {
    let rooms = Rooms::start();
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    let mut cat = rooms.student("cat");
    ann.send(&ClientEvent::Join {
        room: "#secret".into(),
        since: None,
        invite_only: true,
    });
    next_entered(&mut ann);
    join(&mut bob, "#secret");
    let (code, message) = next_error(&mut bob);
    assert_eq!(code, ErrorCode::InviteOnly);
    assert!(message.contains("/invite"), "{message}");
    // Only a member may invite.
    cat.send(&ClientEvent::Invite {
        nick: "bob".into(),
        room: "#secret".into(),
    });
    assert_eq!(next_error(&mut cat).0, ErrorCode::NotInRoom);
    ann.send(&ClientEvent::Invite {
        nick: "BOB".into(),
        room: "#secret".into(),
    });
    match bob.recv_until(10, |e| matches!(e, ServerEvent::Invited { .. })) {
        ServerEvent::Invited { room, by, .. } => {
            assert_eq!((room, by), ("#secret".into(), "ann".into()))
        }
        _ => unreachable!(),
    }
    assert_eq!(enter(&mut bob, "#secret"), ["ann", "bob"]);
    // The list shows it is invite-only; cat still may not join.
    join(&mut cat, "#secret");
    assert_eq!(next_error(&mut cat).0, ErrorCode::InviteOnly);
    cat.send(&ClientEvent::List);
    match cat.recv_until(10, |e| matches!(e, ServerEvent::Rooms { .. })) {
        ServerEvent::Rooms { rooms, .. } => {
            assert!(rooms.iter().any(|r| r.room == "#secret" && r.invite_only));
        }
        _ => unreachable!(),
    }
}

#[test]
fn move_is_for_staff_and_takes_the_student_out_of_other_rooms() {
    let rooms = Rooms::start();
    let mut prof = rooms.instructor("prof");
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    enter(&mut ann, "#lab1");
    enter(&mut bob, "#lab1");
    // A student may not move anyone.
    ann.send(&ClientEvent::Move {
        nick: "bob".into(),
        room: "#lab2".into(),
    });
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::NotPermitted);
    assert!(message.contains("/move is for staff"), "{message}");
    prof.send(&ClientEvent::Move {
        nick: "bob".into(),
        room: "#lab2".into(),
    });
    match bob.recv_until(10, |e| matches!(e, ServerEvent::Parted { .. })) {
        ServerEvent::Parted { room, reason, .. } => {
            assert_eq!(room, "#lab1");
            assert_eq!(reason, "moved to #lab2 by prof");
        }
        _ => unreachable!(),
    }
    assert_eq!(
        next_entered(&mut bob),
        ("#lab2".into(), vec!["bob".into()], Some("prof".into()))
    );
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Left { .. })) {
        ServerEvent::Left { room, nick, .. } => {
            assert_eq!((room, nick), ("#lab1".into(), "bob".into()))
        }
        _ => unreachable!(),
    }
    // Still in #class: the move never takes anyone out of it.
    prof.send(&ClientEvent::Who { room: None });
    match prof.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users { users, .. } => assert_eq!(users, ["ann", "bob", "prof"]),
        _ => unreachable!(),
    }
}

#[test]
fn groups_move_everyone_listed_and_say_who_was_not_online() {
    let rooms = Rooms::start();
    let mut prof = rooms.instructor("prof");
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    let mut cat = rooms.student("cat");
    enter(&mut cat, "#old");
    let groups = vec![
        Group {
            room: "#g1".into(),
            members: vec!["ann".into(), "Bob".into()],
        },
        Group {
            room: "#g2".into(),
            members: vec!["cat".into(), "zed".into(), "ann".into()],
        },
    ];
    // A student may not.
    ann.send(&ClientEvent::Groups {
        groups: groups.clone(),
    });
    assert_eq!(next_error(&mut ann).0, ErrorCode::NotPermitted);
    // One bad name and nobody moves.
    prof.send(&ClientEvent::Groups {
        groups: vec![Group {
            room: "g3".into(),
            members: vec!["ann".into()],
        }],
    });
    assert_eq!(next_error(&mut prof).0, ErrorCode::RoomInvalid);
    prof.send(&ClientEvent::Groups { groups });
    let report = match prof.recv_until(
        20,
        |e| matches!(e, ServerEvent::Notice { text, .. } if text.starts_with("groups:")),
    ) {
        ServerEvent::Notice { text, .. } => text,
        _ => unreachable!(),
    };
    assert!(
        report.contains("moved ann to #g1, bob to #g1, cat to #g2"),
        "{report}"
    );
    assert!(report.contains("not online: zed"), "{report}");
    assert!(report.contains("ann (listed twice)"), "{report}");
    assert_eq!(next_entered(&mut ann).0, "#g1");
    assert_eq!(next_entered(&mut bob).0, "#g1");
    match cat.recv_until(10, |e| matches!(e, ServerEvent::Parted { .. })) {
        ServerEvent::Parted { room, .. } => assert_eq!(room, "#old"),
        _ => unreachable!(),
    }
    assert_eq!(
        next_entered(&mut cat),
        ("#g2".into(), vec!["cat".into()], Some("prof".into()))
    );
}

#[test]
fn a_room_message_reaches_its_members_only_and_each_room_once() {
    let rooms = Rooms::start();
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    let mut cat = rooms.student("cat");
    for room in ["#ra", "#rb", "#rc"] {
        enter(&mut ann, room);
        enter(&mut bob, room);
    }
    enter(&mut cat, "#other");
    for room in ["#ra", "#rb", "#rc"] {
        say_in(&mut bob, room, &format!("hello {room}"));
    }
    mark(&mut bob, "marker");
    // ann, a member of all three, gets each room's message once, then the marker.
    assert_eq!(
        messages_until(&mut ann, "marker"),
        [
            ("#ra".into(), "hello #ra".into()),
            ("#rb".into(), "hello #rb".into()),
            ("#rc".into(), "hello #rc".into()),
        ]
    );
    // cat, in none of them, gets the marker and nothing before it.
    assert_eq!(messages_until(&mut cat, "marker"), []);
    // A disconnect: one `left` per room, so ann sees bob leave 4 rooms (#class and three).
    drop(bob);
    let mut left = Vec::new();
    for _ in 0..50 {
        if left.len() == 4 {
            break;
        }
        if let ServerEvent::Left { room, nick, .. } = ann.recv() {
            assert_eq!(nick, "bob");
            left.push(room);
        }
    }
    left.sort();
    assert_eq!(left, ["#class", "#ra", "#rb", "#rc"]);
    // Nothing more for ann after those four; cat saw exactly one (#class).
    ann.say("marker 2");
    assert_eq!(
        lefts_until(&mut ann, "bob", "marker 2"),
        Vec::<String>::new()
    );
    assert_eq!(lefts_until(&mut cat, "bob", "marker 2"), ["#class"]);
}

/// The rooms of the `left`s of `nick` that `peer` gets until the message `marker` (at most
/// 50 events), sorted.
fn lefts_until(peer: &mut Peer, nick: &str, marker: &str) -> Vec<String> {
    let mut rooms = Vec::new();
    for _ in 0..50 {
        match peer.recv() {
            ServerEvent::Left {
                room, nick: who, ..
            } => {
                assert_eq!(who, nick);
                rooms.push(room);
            }
            ServerEvent::Message { text, .. } if text == marker => {
                rooms.sort();
                return rooms;
            }
            _ => {}
        }
    }
    panic!("no marker {marker:?} within 50 events; lefts {rooms:?}");
}

#[test]
fn an_old_client_works_in_class_and_never_sees_other_rooms() {
    let rooms = Rooms::start();
    let mut ann = rooms.student("ann");
    let mut bob = rooms.student("bob");
    enter(&mut bob, "#lab1");
    enter(&mut ann, "#lab1");
    // The old client: a hello and events written as before rooms, without any room field.
    let mut old = rooms.server.peer();
    old.hello("oldie");
    assert!(matches!(old.recv(), ServerEvent::Welcome { .. }));
    old.send_json(r#"{"type":"say","text":"hi from the past"}"#);
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Message { .. })) {
        ServerEvent::Message {
            room, from, text, ..
        } => {
            assert_eq!((room.as_str(), from.as_str()), ("#class", "oldie"));
            assert_eq!(text, "hi from the past");
        }
        _ => unreachable!(),
    }
    assert_eq!(messages_until(&mut old, "hi from the past"), []);
    old.send_json(r#"{"type":"who"}"#);
    match old.recv_until(10, |e| matches!(e, ServerEvent::Users { .. })) {
        ServerEvent::Users { users, .. } => assert_eq!(users, ["ann", "bob", "oldie"]),
        _ => unreachable!(),
    }
    say_in(&mut bob, "#lab1", "lab only");
    mark(&mut bob, "class marker");
    assert_eq!(messages_until(&mut old, "class marker"), []);
    assert_eq!(
        messages_until(&mut ann, "class marker"),
        [("#lab1".into(), "lab only".into())]
    );

    // The Python client of tests/interop, written from PROTOCOL.md before rooms existed.
    let Some(python) = python() else {
        eprintln!("python part skipped: no python3 with cryptography (FERNCHAT_PYTHON)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key_path = dir.path().join("class.key");
    keyfile::write_plain(&key_path, &rooms.server.key, Overwrite::Never).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/chat_client.py");
    let child = Command::new(&python)
        .arg(script)
        .args(["--port", &rooms.server.addr.port().to_string()])
        .arg("--key")
        .arg(&key_path)
        .args(["--nick", "pybot", "--say", "hello from python"])
        .args(["--expect", "python marker"])
        .args(["--timeout", &STEP.as_secs().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    // Its message reaches #class; then #lab1 traffic, then the marker it waits for.
    assert_eq!(messages_until(&mut ann, "hello from python"), []);
    say_in(&mut bob, "#lab1", "lab secret");
    bob.say("python marker");
    let output = done_rx
        .recv_timeout(STEP * 2)
        .expect("the Python client ends")
        .expect("the Python client ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("python marker"), "{stdout}");
    assert!(!stdout.contains("lab secret"), "{stdout}");
}

#[test]
fn each_room_keeps_its_history_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let class_log = dir.path().join("history").join("room.log");
    let key = RoomKey::generate();
    let start = |key: &RoomKey, path: &Path| {
        let mut config = quiet_config(key.clone());
        config.history = Some(HistoryConfig::at(path));
        TestServer::start(config)
    };
    let mut server = start(&key, &class_log);
    let mut ann = server.join("ann");
    enter(&mut ann, "#lab1");
    say_in(&mut ann, "#lab1", "said in lab1");
    ann.say("said in class");
    messages_until(&mut ann, "said in class");
    // A room only looked into makes no file; one where something was said does.
    enter(&mut ann, "#peek");
    ann.say("peeked");
    messages_until(&mut ann, "peeked");
    drop(ann);
    server.shutdown();
    assert!(dir.path().join("history/rooms/lab1.log").is_file());
    assert!(!dir.path().join("history/rooms/peek.log").exists());

    let server = start(&key, &class_log);
    let mut bob = server.peer();
    bob.hello("bob");
    assert!(matches!(bob.recv(), ServerEvent::Welcome { .. }));
    // #class's replay: its own message only.
    match bob.recv() {
        ServerEvent::History { room, text, .. } => {
            assert_eq!((room.as_str(), text.as_str()), ("#class", "said in class"));
        }
        other => panic!("expected #class history, got {other:?}"),
    }
    join(&mut bob, "#lab1");
    assert_eq!(next_entered(&mut bob).0, "#lab1");
    match bob.recv() {
        ServerEvent::History {
            room, text, kind, ..
        } => {
            assert_eq!((room.as_str(), text.as_str()), ("#lab1", "said in lab1"));
            assert_eq!(kind, HistoryKind::Message);
        }
        other => panic!("expected #lab1 history, got {other:?}"),
    }
    // `since` on a join: only what is newer (nothing here), and how many were missed.
    bob.send(&ClientEvent::Join {
        room: "#lab1".into(),
        since: Some(1),
        invite_only: false,
    });
    match bob.recv() {
        ServerEvent::Entered { missed, .. } => assert_eq!(missed, Some(0)),
        other => panic!("expected entered, got {other:?}"),
    }
    bob.say("after");
    assert!(matches!(bob.recv(), ServerEvent::Message { text, .. } if text == "after"));
}

#[test]
fn rooms_staff_lets_only_staff_create() {
    let rooms = Rooms::with(|c| c.rooms.creators = Creators::Staff);
    let mut prof = rooms.instructor("prof");
    let mut ann = rooms.student("ann");
    join(&mut ann, "#mine");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::NotPermitted);
    assert!(message.contains("only staff create rooms"), "{message}");
    enter(&mut prof, "#lab1");
    // An existing room: the student may join it.
    assert_eq!(enter(&mut ann, "#lab1"), ["ann", "prof"]);
}

/// A hostile client creates rooms until the limit: it gets `room_limit` (per user first, then
/// the server's limit for several such clients), and classmates can still create, join and
/// chat. The old main had no rooms, so the attack is new with them; this test was seen failing
/// against the rooms code without its limits (the two limit checks of `Rooms::may_join`
/// disabled): the hostile client created all 200 rooms it asked for, and the test stopped at
/// "the hostile client was stopped".
#[test]
fn a_hostile_client_creating_rooms_hits_the_limit_and_others_carry_on() {
    let rooms = Rooms::with(|c| {
        c.rooms = RoomLimits {
            max_rooms: 20,
            ..RoomLimits::default()
        }
    });
    let mut ann = rooms.student("ann");
    let mut hostile = rooms.student("mallory");
    let mut created = 0;
    let mut refusal = None;
    for n in 0..200 {
        join(&mut hostile, &format!("#spam{n}"));
        match hostile.recv_until(5, |e| {
            matches!(e, ServerEvent::Entered { .. } | ServerEvent::Error { .. })
        }) {
            ServerEvent::Entered { .. } => created += 1,
            ServerEvent::Error { code, message, .. } => {
                refusal = Some((code, message));
                break;
            }
            _ => unreachable!(),
        }
    }
    let (code, message) = refusal.expect("the hostile client was stopped");
    assert_eq!(code, ErrorCode::RoomLimit);
    assert!(message.contains("--max-rooms-per-user 10"), "{message}");
    assert_eq!(created, 10);
    // A classmate creates a room and chats in it.
    enter(&mut ann, "#lab1");
    say_in(&mut ann, "#lab1", "still working");
    ann.say("marker");
    assert_eq!(
        messages_until(&mut ann, "marker"),
        [("#lab1".into(), "still working".into())]
    );

    // More hostile connections: the server's limit (20 rooms, #class included) stops them.
    let mut again = rooms.student("mallory2");
    let mut refusal = None;
    for n in 0..200 {
        join(&mut again, &format!("#more{n}"));
        if let ServerEvent::Error { code, message, .. } = again.recv_until(5, |e| {
            matches!(e, ServerEvent::Entered { .. } | ServerEvent::Error { .. })
        }) {
            refusal = Some((code, message));
            break;
        }
    }
    let (code, message) = refusal.expect("the second hostile client was stopped");
    assert_eq!(code, ErrorCode::RoomLimit);
    assert!(message.contains("--max-rooms 20"), "{message}");
    ann.send(&ClientEvent::List);
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Rooms { .. })) {
        ServerEvent::Rooms { rooms, .. } => assert_eq!(rooms.len(), 20),
        _ => unreachable!(),
    }
    // Nobody can create more now (that is the limit), but everyone can still join the rooms
    // there are and chat: the class goes on.
    let mut bob = rooms.student("bob");
    assert_eq!(enter(&mut bob, "#lab1"), ["ann", "bob"]);
    say_in(&mut bob, "#lab1", "we carry on");
    bob.say("marker 2");
    assert_eq!(
        messages_until(&mut ann, "marker 2"),
        [("#lab1".into(), "we carry on".into())]
    );
    // And the rooms a hostile client leaves are gone, so a classmate may create one again
    // (ann sees mallory leave #class once the hub has taken mallory out of every room).
    drop(hostile);
    ann.recv_until(
        20,
        |e| matches!(e, ServerEvent::Left { nick, .. } if nick == "mallory"),
    );
    enter(&mut bob, "#lab2");
}

/// A client that never reads, in three rooms, is evicted once: each room hears one `left`
/// ("too slow"), and nothing more of it afterwards.
#[test]
fn a_slow_client_in_several_rooms_is_evicted_once() {
    let rooms = Rooms::with(|c| {
        c.outbound_budget = 64 * 1024;
        c.flood = FloodLimits {
            burst: 100_000,
            per_second: 100_000.0,
            strikes: 10,
        };
    });
    let mut talker = rooms.student("talker");
    let mut reader = rooms.student("reader");
    let mut stuck = rooms.student("stuck");
    for room in ["#ra", "#rb"] {
        enter(&mut talker, room);
        enter(&mut reader, room);
        enter(&mut stuck, room);
    }
    // From here on, stuck reads nothing.
    let text = "y".repeat(1900);
    let mut lefts = Vec::new();
    for i in 0..6000 {
        let room = if i % 2 == 0 { "#ra" } else { "#rb" };
        say_in(&mut talker, room, &format!("{i} {text}"));
        // The reader keeps up; the talker's own copy comes back too.
        let mut delivered = false;
        for _ in 0..20 {
            match reader.recv() {
                ServerEvent::Message { text, .. } if text.starts_with(&format!("{i} ")) => {
                    delivered = true;
                    break;
                }
                ServerEvent::Left {
                    room, nick, reason, ..
                } => {
                    assert_eq!(nick, "stuck");
                    assert!(reason.contains("too slow"), "{reason}");
                    lefts.push(room);
                }
                _ => {}
            }
        }
        assert!(delivered, "message {i} reached the reader");
        talker.recv_until(
            20,
            |e| matches!(e, ServerEvent::Message { text, .. } if text.starts_with(&format!("{i} "))),
        );
        if !lefts.is_empty() {
            break;
        }
    }
    assert!(!lefts.is_empty(), "the stuck client was not evicted");
    // Everything about the eviction came in one go; a marker shows nothing more follows.
    talker.say("marker");
    lefts.extend(lefts_until(&mut reader, "stuck", "marker"));
    lefts.sort();
    assert_eq!(lefts, ["#class", "#ra", "#rb"]);
    drop(stuck);
}

/// Quiet mode and announcements act on one room; `all` reaches every room; a mute is on the
/// person, in every room (no escape by `/join`).
#[test]
fn staff_commands_act_on_their_room_and_a_mute_follows_the_person() {
    let rooms = Rooms::start();
    let mut prof = rooms.instructor("prof");
    let mut ann = rooms.student("ann");
    enter(&mut ann, "#lab1");
    prof.send(&ClientEvent::Quiet {
        on: true,
        room: Some("#LAB1".into()),
    });
    match ann.recv_until(10, |e| matches!(e, ServerEvent::Moderation { .. })) {
        ServerEvent::Moderation { room, text, .. } => {
            assert_eq!(room, "#lab1");
            assert!(text.contains("quiet mode on in #lab1"), "{text}");
        }
        _ => unreachable!(),
    }
    say_in(&mut ann, "#lab1", "psst");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::Quiet);
    assert!(message.contains("#lab1 is in quiet mode"), "{message}");
    // #class is not quiet.
    ann.say("fine here");
    assert_eq!(
        messages_until(&mut ann, "fine here"),
        Vec::<(String, String)>::new()
    );
    // An announcement to every room: ann gets one per room she is in.
    prof.send(&ClientEvent::Announce {
        text: "Break until 10:30".into(),
        room: None,
        all: true,
    });
    let mut announced = Vec::new();
    for _ in 0..10 {
        if announced.len() == 2 {
            break;
        }
        if let ServerEvent::Announcement { room, text, .. } = ann.recv() {
            assert_eq!(text, "Break until 10:30");
            announced.push(room);
        }
    }
    announced.sort();
    assert_eq!(announced, ["#class", "#lab1"]);
    // A mute holds in every room, a new one included.
    prof.send(&ClientEvent::Mute {
        nick: "ann".into(),
        minutes: Some(5),
        reason: None,
    });
    ann.recv_until(
        10,
        |e| matches!(e, ServerEvent::Moderation { action, .. } if action == "mute"),
    );
    enter(&mut ann, "#escape");
    say_in(&mut ann, "#escape", "can I talk here?");
    assert_eq!(next_error(&mut ann).0, ErrorCode::Muted);
}

/// The `server` binary's room flags reach the rules: `--rooms staff`, `--max-rooms-per-user`,
/// `--allow-part-class`; a wrong `--rooms` is refused at start, saying what it takes.
#[test]
fn the_server_binary_takes_the_room_flags() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    keyfile::write_plain(&dir.path().join("class.key"), &key, Overwrite::Never).unwrap();
    let wrong = ServerProcess::start(
        dir.path(),
        &["--port", "0", "--key", "class.key", "--rooms", "closed"],
    );
    assert_ne!(wrong.exit_code(), Some(0));

    let server = ServerProcess::start(
        dir.path(),
        &[
            "--port",
            "0",
            "--key",
            "class.key",
            "--no-history",
            "--rooms",
            "open",
            "--max-rooms-per-user",
            "1",
            "--allow-part-class",
        ],
    );
    let addr = server.address();
    let mut ann = Peer::connect(addr, key.clone());
    ann.hello("ann");
    assert!(matches!(ann.recv(), ServerEvent::Welcome { .. }));
    enter(&mut ann, "#lab1");
    join(&mut ann, "#lab2");
    let (code, message) = next_error(&mut ann);
    assert_eq!(code, ErrorCode::RoomLimit);
    assert!(message.contains("--max-rooms-per-user 1"), "{message}");
    ann.send(&ClientEvent::Part {
        room: "#class".into(),
        reason: None,
    });
    assert!(matches!(
        ann.recv_until(10, |e| matches!(e, ServerEvent::Parted { .. })),
        ServerEvent::Parted { room, .. } if room == "#class"
    ));

    let staff_only = ServerProcess::start(
        dir.path(),
        &[
            "--port",
            "0",
            "--key",
            "class.key",
            "--no-history",
            "--rooms",
            "staff",
        ],
    );
    let mut bob = Peer::connect(staff_only.address(), key);
    bob.hello("bob");
    assert!(matches!(bob.recv(), ServerEvent::Welcome { .. }));
    join(&mut bob, "#mine");
    assert_eq!(next_error(&mut bob).0, ErrorCode::NotPermitted);
}

/// A room's broadcast is sealed once per key in use: in `psk`, every member gets the very same
/// token (the hub encrypts once and shares the bytes), here with three members.
#[test]
fn a_room_broadcast_is_sealed_once_for_all_its_members() {
    let rooms = Rooms::start();
    let mut members: Vec<Peer> = ["ann", "bob", "cat"]
        .into_iter()
        .map(|nick| rooms.student(nick))
        .collect();
    for peer in &mut members {
        enter(peer, "#lab1");
    }
    say_in(&mut members[0], "#lab1", "one token for all");
    let mut frames = Vec::new();
    for peer in &mut members {
        peer.recv_until(
            20,
            |e| matches!(e, ServerEvent::Message { text, .. } if text == "one token for all"),
        );
        frames.push(peer.received.last().cloned().expect("a frame"));
    }
    assert_eq!(frames[0], frames[1]);
    assert_eq!(frames[1], frames[2]);
}
