//! Issue 16, rooms, as a student or an instructor scripting the real `client` binary in line
//! mode (through a pipe) sees them against the real `server` binary: joining and speaking in
//! rooms, lines named by their room once there are several, invite-only rooms, staff moving
//! students and creating group rooms from a file, and transcripts naming the room.

mod common;

use std::path::{Path, PathBuf};

use common::process::{ClientProcess, ServerProcess};
use common::{Peer, TestServer, history_server};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::{ClientEvent, ServerEvent};

/// A folder with `class.key` and `staff.key`.
fn keyfiles() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (class, staff) = (dir.path().join("class.key"), dir.path().join("staff.key"));
    keyfile::write_plain(&class, &RoomKey::generate(), Overwrite::Never).unwrap();
    keyfile::write_plain(&staff, &RoomKey::generate(), Overwrite::Never).unwrap();
    (dir, class, staff)
}

/// The server binary in `dir`, with the class key and a staff key, on a free port.
fn server(dir: &Path) -> (ServerProcess, u16) {
    let server = ServerProcess::start(
        dir,
        &[
            "--port",
            "0",
            "--key",
            "class.key",
            "--staff-key",
            "staff.key",
            "--history",
            "history/room.log",
        ],
    );
    let port = server.address().port();
    (server, port)
}

/// A client in line mode, joined as `nick` (its "connected" line read).
fn join(port: u16, key: &Path, nick: &str, extra: &[&str]) -> ClientProcess {
    let mut args = vec!["--nick", nick];
    args.extend_from_slice(extra);
    let client = ClientProcess::start(port, key, &args);
    client.expect_line("connected to");
    client
}

/// The text of a line after its `HH:MM ` stamp.
fn body(line: &str) -> &str {
    line.get(6..).unwrap_or(line)
}

#[test]
fn line_mode_speaks_in_rooms_and_names_them_once_there_are_several() {
    let (dir, class, _) = keyfiles();
    let (_server, port) = server(dir.path());
    let mut alice = join(port, &class, "alice", &[]);
    let mut bob = join(port, &class, "bob", &[]);
    alice.expect_line("bob joined");

    // In #class alone, lines carry no room.
    bob.type_line("hello class");
    assert_eq!(body(&alice.expect_line("hello class")), "<bob> hello class");

    alice.type_line("/join #Lab1");
    assert_eq!(
        body(&alice.expect_line("you joined")),
        "-!- you joined #lab1; 1 user in #lab1: alice"
    );
    assert_eq!(
        body(&alice.expect_line("now talking")),
        "-!- now talking in #lab1"
    );
    bob.type_line("/join #lab1");
    bob.expect_line("you joined #lab1");
    // Now in two rooms, each room's line is named by its room.
    assert_eq!(
        body(&alice.expect_line("bob joined")),
        "[#lab1] --> bob joined"
    );

    // Plain text goes to the current room (bob's is #lab1 since his /join).
    bob.type_line("hi lab");
    assert_eq!(body(&alice.expect_line("hi lab")), "[#lab1] <bob> hi lab");
    bob.type_line("#class hi everyone");
    assert_eq!(
        body(&alice.expect_line("hi everyone")),
        "[#class] <bob> hi everyone"
    );
    bob.type_line("/me waves");
    assert_eq!(body(&alice.expect_line("waves")), "[#lab1] * bob waves");
    // A room bob is not in: refused locally, nothing sent anywhere.
    bob.type_line("#lab9 the answer is 42");
    bob.expect_line("not sent: you are not in #lab9");

    alice.type_line("/switch #class");
    alice.expect_line("now talking in #class");
    alice.type_line("back in class");
    assert_eq!(
        body(&bob.expect_line("back in class")),
        "[#class] <alice> back in class"
    );

    alice.type_line("/list");
    let list = alice.lines_until("#lab1");
    assert!(
        list.iter()
            .any(|l| l.contains("#class") && l.contains("2 users")),
        "{list:#?}"
    );
    assert!(list.last().unwrap().contains("2 users"), "{list:#?}");
    alice.type_line("/who #lab1");
    assert_eq!(
        body(&alice.expect_line("users in #lab1")),
        "[#lab1] -!- 2 users in #lab1: alice bob"
    );

    alice.type_line("/part #lab1 see you");
    assert_eq!(
        body(&alice.expect_line("you left")),
        "-!- you left #lab1 (see you)"
    );
    assert_eq!(
        body(&bob.expect_line("alice left")),
        "[#lab1] <-- alice left (see you)"
    );
    // One room again: no more room names.
    bob.type_line("#class bye");
    assert_eq!(body(&alice.expect_line("bye")), "<bob> bye");
    assert_eq!(alice.finish().0, Some(0));
    assert_eq!(bob.finish().0, Some(0));
}

#[test]
fn invite_only_rooms_let_in_whom_a_member_invites() {
    let (dir, class, _) = keyfiles();
    let (_server, port) = server(dir.path());
    let mut alice = join(port, &class, "alice", &[]);
    let mut bob = join(port, &class, "bob", &[]);
    alice.type_line("/join -i #secret");
    alice.expect_line("you joined #secret");
    bob.type_line("/join #secret");
    bob.expect_line("/invite");
    alice.type_line("/invite bob #secret");
    assert_eq!(
        body(&bob.expect_line("invited you")),
        "-!- alice invited you to #secret: type /join #secret to go in"
    );
    bob.type_line("/join #secret");
    bob.expect_line("you joined #secret");
    alice.expect_line("[#secret] --> bob joined");
    assert_eq!(alice.finish().0, Some(0));
    assert_eq!(bob.finish().0, Some(0));
}

#[test]
fn staff_move_students_and_make_group_rooms_from_a_file() {
    let (dir, class, staff) = keyfiles();
    let (_server, port) = server(dir.path());
    let mut prof = join(port, &staff, "prof", &[]);
    let mut ann = join(port, &class, "ann", &[]);
    let bob = join(port, &class, "bob", &[]);
    prof.expect_line("bob joined");

    // A file with a mistake is refused before anything is sent, naming the line.
    let bad = dir.path().join("bad-groups.txt");
    std::fs::write(&bad, "// week 3\n#lab1 ann\n#lab2 bob ann\n").unwrap();
    prof.type_line(&format!("/groups {}", bad.display()));
    let refused = prof.expect_line("line 3");
    assert!(
        refused.contains("ann is already in #lab1 (line 2)"),
        "{refused}"
    );

    let groups = dir.path().join("groups.txt");
    std::fs::write(&groups, "// week 3\n#lab1 ann carol\n\n#lab2 bob\n").unwrap();
    prof.type_line(&format!("/groups {}", groups.display()));
    assert_eq!(
        body(&ann.expect_line("moved you")),
        "-!- prof moved you to #lab1; 1 user in #lab1: ann"
    );
    ann.expect_line("now talking in #lab1");
    bob.expect_line("prof moved you to #lab2");
    // The staff hear who was moved and who was not online.
    let notice = prof.expect_line("carol");
    assert!(notice.contains("ann"), "{notice}");

    // A move takes the student out of every room but #class.
    prof.type_line("/move ann #lab2");
    ann.expect_line("you left #lab1");
    ann.expect_line("prof moved you to #lab2");
    ann.type_line("hi bob");
    assert_eq!(body(&bob.expect_line("hi bob")), "[#lab2] <ann> hi bob");
    assert_eq!(prof.finish().0, Some(0));
    assert_eq!(ann.finish().0, Some(0));
    assert_eq!(bob.finish().0, Some(0));
}

#[test]
fn transcripts_name_the_room_on_every_room_line() {
    let (dir, class, _) = keyfiles();
    let (_server, port) = server(dir.path());
    let log = dir.path().join("alice.log");
    let log_arg = log.display().to_string();
    let mut alice = join(port, &class, "alice", &["--log", &log_arg]);
    let mut bob = join(port, &class, "bob", &[]);
    alice.type_line("/join #lab1");
    bob.type_line("/join #lab1");
    alice.expect_line("bob joined");
    bob.type_line("hi lab");
    bob.type_line("/msg alice psst");
    alice.expect_line("psst");
    let saved = dir.path().join("saved.txt");
    alice.type_line(&format!("/save {}", saved.display()));
    alice.expect_line("saved");
    assert_eq!(alice.finish().0, Some(0));
    for file in [&log, &saved] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains(" [#lab1] <bob> hi lab\n"), "{text}");
        assert!(text.contains(" [#class] --> bob joined\n"), "{text}");
        // Private lines have no room.
        assert!(text.contains(" *bob* psst\n"), "{text}");
    }
    assert_eq!(bob.finish().0, Some(0));
}

/// `nick` joined to `server` and to `room`, past the room's `entered` and history.
fn in_room(server: &TestServer, nick: &str, room: &str) -> Peer {
    let mut peer = server.join(nick);
    peer.send(&ClientEvent::Join {
        room: room.into(),
        since: None,
        invite_only: false,
    });
    peer.recv_until(100, |e| matches!(e, ServerEvent::Entered { .. }));
    peer
}

/// `peer` says `text` in `room` and waits for its echo: then it is in the room's history.
fn say_in(peer: &mut Peer, room: &str, text: &str) {
    peer.send(&ClientEvent::Say {
        room: Some(room.into()),
        text: text.into(),
    });
    peer.recv_until(
        100,
        |e| matches!(e, ServerEvent::Message { text: t, .. } if t == text),
    );
}

#[test]
fn after_a_server_restart_the_client_rejoins_its_rooms_and_shows_what_it_missed_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let key_path = dir.path().join("class.key");
    keyfile::write_plain(&key_path, &key, Overwrite::Never).unwrap();
    let history = dir.path().join("history").join("room.log");
    std::fs::create_dir_all(history.parent().unwrap()).unwrap();
    let mut server = history_server(&key, &history, 10, 0);
    let port = server.addr.port();

    let mut alice = join(port, &key_path, "alice", &[]);
    alice.type_line("/join #lab1");
    alice.expect_line("you joined #lab1");
    let mut bob = in_room(&server, "bob", "#lab1");
    say_in(&mut bob, "#lab1", "before the restart");
    let mut shown = alice.lines_until("<bob> before the restart");
    drop(bob);

    // The server stops; while nothing listens on alice's port, bob says two things in #lab1
    // on a server sharing the history files; then the server comes back on her port.
    server.shutdown();
    let meanwhile = history_server(&key, &history, 10, 0);
    let mut bob = in_room(&meanwhile, "bob", "#lab1");
    say_in(&mut bob, "#lab1", "while away 1");
    say_in(&mut bob, "#lab1", "while away 2");
    drop(bob);
    let mut meanwhile = meanwhile;
    meanwhile.shutdown();
    let _server = history_server(&key, &history, 10, port);

    shown.extend(alice.lines_until("reconnected to"));
    shown.extend(alice.lines_until("while you were away"));
    assert!(
        shown
            .last()
            .unwrap()
            .ends_with("[#lab1] -- 2 messages while you were away --"),
        "{shown:#?}"
    );
    shown.extend(alice.lines_until("[history] <bob> while away 2"));
    alice.type_line("still here");
    shown.extend(alice.lines_until("<alice> still here"));
    // Back in #lab1, which is still where plain lines go.
    assert!(
        shown.last().unwrap().contains("[#lab1] <alice> still here"),
        "{shown:#?}"
    );
    let count = |needle: &str| shown.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("before the restart"), 1, "{shown:#?}");
    assert_eq!(count("while away 1"), 1, "{shown:#?}");
    assert_eq!(alice.finish().0, Some(0));
}
