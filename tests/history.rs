//! Room history: what late joiners see, what survives restarts, crashes and key changes, and
//! what happens when the disk is full.

mod common;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;

use common::{TestServer, message_text, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::protocol::ServerEvent;
use fernchat::protocol::event::HistoryKind;
use fernchat::server::{History, HistoryConfig, Server, ServerConfig};

fn config_with_history(key: &RoomKey, path: &Path) -> ServerConfig {
    let mut config = quiet_config(key.clone());
    config.history = Some(HistoryConfig::at(path));
    config.flood.burst = 1000;
    config
}

/// The history a joining user is shown: (kind, from, text), oldest first.
fn catch_up(server: &TestServer, nick: &str) -> Vec<(HistoryKind, String, String)> {
    let mut peer = server.peer();
    peer.hello(nick);
    assert!(matches!(peer.recv(), ServerEvent::Welcome { .. }));
    // A marker after the history: everything before it is the replay.
    peer.say("marker");
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        match peer.recv() {
            ServerEvent::History {
                kind, from, text, ..
            } => seen.push((kind, from, text)),
            ServerEvent::Message { text, .. } if text == "marker" => return seen,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("no marker");
}

#[test]
fn late_joiners_see_recent_room_messages_but_never_private_ones() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let server = TestServer::start(config_with_history(&key, &dir.path().join("room.log")));
    let mut alice = server.join("alice");
    let mut bob = server.join("bob");
    alice.recv();
    alice.say("first");
    alice.send(&fernchat::protocol::ClientEvent::Me {
        room: None,
        text: "waves".into(),
    });
    alice.send(&fernchat::protocol::ClientEvent::Msg {
        to: "bob".into(),
        text: "secret".into(),
    });
    // Bob has seen alice's three before he speaks, so the room's order is fixed.
    for _ in 0..3 {
        bob.recv();
    }
    bob.say("second");
    bob.recv();
    let seen = catch_up(&server, "carol");
    assert_eq!(
        seen,
        [
            (HistoryKind::Message, "alice".into(), "first".into()),
            (HistoryKind::Action, "alice".into(), "waves".into()),
            (HistoryKind::Message, "bob".into(), "second".into()),
        ]
    );
}

#[test]
fn history_survives_a_restart_and_keeps_the_original_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let key = RoomKey::generate();
    let said_at = {
        let server = TestServer::start(config_with_history(&key, &path));
        let mut alice = server.join("alice");
        alice.say("before the restart");
        match alice.recv() {
            ServerEvent::Message { time, .. } => time,
            other => panic!("{other:?}"),
        }
    };
    let server = TestServer::start(config_with_history(&key, &path));
    let mut bob = server.peer();
    bob.hello("bob");
    bob.recv();
    match bob.recv() {
        ServerEvent::History { text, time, .. } => {
            assert_eq!(text, "before the restart");
            assert_eq!(time, said_at, "replayed with the time it was said");
        }
        other => panic!("expected history, got {other:?}"),
    }
}

#[test]
fn the_file_holds_only_tokens_under_the_room_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let key = RoomKey::generate();
    let server = TestServer::start(config_with_history(&key, &path));
    let mut alice = server.join("alice");
    alice.say("nobody can read this on disk");
    alice.recv();
    drop(server);
    let text = fs::read_to_string(&path).unwrap();
    assert!(!text.contains("nobody can read"));
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .contains(&key.fingerprint().to_string())
    );
    let token = lines.next().unwrap();
    let opened = key
        .decrypt(token.as_bytes())
        .expect("a token under the room key");
    assert!(
        String::from_utf8(opened.plaintext)
            .unwrap()
            .contains("nobody can read")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_torn_last_record_is_reported_and_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let key = RoomKey::generate();
    {
        let server = TestServer::start(config_with_history(&key, &path));
        let mut alice = server.join("alice");
        for text in ["one", "two"] {
            alice.say(text);
            alice.recv();
        }
    }
    // What a crash in the middle of a write leaves: part of a token, no newline.
    let whole = fs::read(&path).unwrap();
    let token = fernchat::protocol::seal(
        &key,
        &ServerEvent::Message {
            room: "#class".into(),
            id: 0,
            from: "alice".into(),
            text: "three".into(),
            time: 1,
        },
    );
    fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&token[..token.len() / 2])
        .unwrap();
    let (history, report) = History::open(HistoryConfig::at(&path), &key).unwrap();
    assert_eq!(report.loaded, 2);
    assert_eq!(report.torn_bytes, (token.len() / 2) as u64);
    assert_eq!(history.records(), 2);
    assert_eq!(
        fs::read(&path).unwrap(),
        whole,
        "cut back to the last complete record"
    );
    drop(history);
    // The server goes on from there.
    let server = TestServer::start(config_with_history(&key, &path));
    let texts: Vec<String> = catch_up(&server, "bob").into_iter().map(|e| e.2).collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn rotation_rereads_the_old_key_and_a_foreign_key_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let old = RoomKey::generate();
    {
        let server = TestServer::start(config_with_history(&old, &path));
        let mut alice = server.join("alice");
        alice.say("under the old key");
        alice.recv();
    }
    // Rotation: the new key first, the old one still accepted.
    let new = RoomKey::generate();
    let ring = RoomKey::ring(vec![new.clone(), old.clone()]).unwrap();
    let (_, report) = History::open(HistoryConfig::at(&path), &ring).unwrap();
    assert_eq!(report.migrated_from, Some(old.fingerprint()));
    assert_eq!(report.loaded, 1);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&new.fingerprint().to_string()),
        "one key per file: now the new one"
    );

    // A server that holds neither key: the file is kept untouched aside, history starts anew.
    let before = fs::read(&path).unwrap();
    let stranger = RoomKey::generate();
    let (history, report) = History::open(HistoryConfig::at(&path), &stranger).unwrap();
    let aside = report.moved_aside.expect("moved aside");
    assert!(
        aside
            .to_string_lossy()
            .contains(&new.fingerprint().to_string())
    );
    assert_eq!(fs::read(&aside).unwrap(), before);
    assert_eq!(history.records(), 0);
    assert_eq!(report.loaded, 0);
}

#[test]
fn the_file_is_compacted_and_never_grows_past_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let key = RoomKey::generate();
    let mut config = config_with_history(&key, &path);
    config.history = Some(HistoryConfig {
        path: path.clone(),
        replay: 3,
        max_records: 10,
    });
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    for i in 0..25 {
        alice.say(&format!("m{i}"));
        assert_eq!(message_text(&alice.recv(), "alice"), format!("m{i}"));
        let records = fs::read_to_string(&path).unwrap().lines().count() - 1;
        assert!(records <= 10, "{records} records after message {i}");
    }
    let texts: Vec<String> = catch_up(&server, "bob").into_iter().map(|e| e.2).collect();
    assert_eq!(texts, ["m22", "m23", "m24"]);
    drop(server);
    // A compaction cut short by a crash leaves its copy beside the file: ignored and removed.
    let stale = dir.path().join("room.log.compacting");
    fs::write(&stale, "half a copy").unwrap();
    let (history, _) = History::open(HistoryConfig::at(&path), &key).unwrap();
    assert!(!stale.exists());
    assert!(history.records() <= 10);
}

#[test]
fn an_unusable_history_path_is_a_clear_error_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_folder = dir.path().join("file");
    fs::write(&not_a_folder, "x").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = config_with_history(&RoomKey::generate(), &not_a_folder.join("room.log"));
    let error = Server::new(listener, config).unwrap_err().to_string();
    assert!(error.contains("cannot use the history file"), "{error}");
    assert!(error.contains("--no-history"), "{error}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_announced_and_the_chat_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let (mut history, _) =
        History::open(HistoryConfig::at(dir.path().join("room.log")), &key).unwrap();
    history.write_to_for_tests(
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = TestServer::run(
        Server::with_history(listener, quiet_config(key.clone()), Some(history)),
        key,
    );
    let mut alice = server.join("alice");
    alice.say("still delivered");
    match alice.recv() {
        ServerEvent::Notice { text, .. } => assert!(text.contains("cannot save"), "{text}"),
        other => panic!("expected the notice, got {other:?}"),
    }
    assert_eq!(message_text(&alice.recv(), "alice"), "still delivered");
    // Once, not for every message.
    alice.say("and again");
    assert_eq!(message_text(&alice.recv(), "alice"), "and again");
}

#[test]
fn a_long_history_never_gets_a_newcomer_evicted_as_too_slow() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let mut config = config_with_history(&key, &dir.path().join("room.log"));
    config.outbound_budget = 16 * 1024;
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    for i in 0..40 {
        alice.say(&format!("{i:02} {}", "z".repeat(500)));
        alice.recv();
    }
    // 40 messages of about 800 bytes on the wire do not fit half of a 16 KiB budget.
    let mut bob = server.peer();
    bob.hello("bob");
    assert!(matches!(bob.recv(), ServerEvent::Welcome { .. }));
    let notice = bob.recv();
    assert!(
        matches!(&notice, ServerEvent::Notice { text, .. } if text.contains("older messages")),
        "{notice:?}"
    );
    let mut shown = Vec::new();
    bob.say("marker");
    for _ in 0..100 {
        match bob.recv() {
            ServerEvent::History { text, .. } => shown.push(text[..2].to_owned()),
            ServerEvent::Message { text, .. } if text == "marker" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        !shown.is_empty() && shown.len() < 40,
        "{} shown",
        shown.len()
    );
    assert_eq!(
        shown.last().map(String::as_str),
        Some("39"),
        "the newest are the ones shown"
    );
}

/// Issue 12 item 7: the compaction wrote its copy to the fixed name `room.log.compacting`
/// (create, truncate, following links), so a link planted under that name made the server
/// truncate and fill the file it pointed to. Failed on the old main: the victim file was
/// overwritten with the history. Now the copy is a new file under an unpredictable name.
#[cfg(unix)]
#[test]
fn compaction_never_writes_through_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("room.log");
    let victim = dir.path().join("victim");
    fs::write(&victim, "# victim\n").unwrap();
    let key = RoomKey::generate();
    let mut config = config_with_history(&key, &path);
    config.history = Some(HistoryConfig {
        path: path.clone(),
        replay: 3,
        max_records: 10,
    });
    let server = TestServer::start(config);
    // Planted after the start (which sweeps leftovers), before the first compaction.
    let planted = dir.path().join("room.log.compacting");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let mut alice = server.join("alice");
    for i in 0..25 {
        alice.say(&format!("m{i}"));
        assert_eq!(message_text(&alice.recv(), "alice"), format!("m{i}"));
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "# victim\n");
    assert!(
        !fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let texts: Vec<String> = catch_up(&server, "bob").into_iter().map(|e| e.2).collect();
    assert_eq!(texts, ["m22", "m23", "m24"]);
    drop(server);
    // Nothing but the files we made and the history: no copy left behind. A crashed
    // compaction's copy (random name) is swept at the next start, the planted link too.
    fs::write(
        dir.path().join("room.log.compacting-0123456789abcdef"),
        "half",
    )
    .unwrap();
    History::open(HistoryConfig::at(&path), &key).unwrap();
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["room.log", "victim"]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "# victim\n");
}

/// Protocol version 2: room messages carry ids that increase per room and survive a restart
/// (the history file keeps them); a hello with `since` gets only newer history, and the
/// welcome says how many room messages were newer (`missed`).
#[test]
fn message_ids_survive_a_restart_and_since_replays_only_newer_history() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let path = dir.path().join("room.log");
    let mut ids = Vec::new();
    {
        let server = TestServer::start(config_with_history(&key, &path));
        let mut alice = server.join("alice");
        for text in ["one", "two", "three"] {
            alice.say(text);
            match alice.recv() {
                ServerEvent::Message { id, .. } => ids.push(id),
                other => panic!("expected a message, got {other:?}"),
            }
        }
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let server = TestServer::start(config_with_history(&key, &path));
    let mut bob = server.peer();
    bob.hello_since("bob", ids[0]);
    match bob.recv() {
        ServerEvent::Welcome { missed, .. } => assert_eq!(missed, Some(2)),
        other => panic!("expected the welcome, got {other:?}"),
    }
    bob.say("four");
    let mut replayed = Vec::new();
    for _ in 0..10 {
        match bob.recv() {
            ServerEvent::History { id, text, .. } => replayed.push((id, text)),
            ServerEvent::Message { id, text, .. } => {
                assert_eq!(text, "four");
                assert!(id > ids[2], "ids go on increasing after a restart: {id}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        replayed,
        [(ids[1], "two".to_owned()), (ids[2], "three".to_owned())]
    );
    // Without `since`: the recent history, and no `missed`.
    let mut carol = server.peer();
    carol.hello("carol");
    assert!(matches!(
        carol.recv(),
        ServerEvent::Welcome { missed: None, .. }
    ));
}
